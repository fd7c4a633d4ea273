/*
 * manifest.c: encoding, appending, replaying and rewriting manifest
 * records. Framing, checksums and the torn-tail rule are the log's
 * (log_int.h); a payload is a u8 kind followed by its fields (FORMAT.md).
 * The tree the records describe is manifest_tree.c's.
 *
 * After a failed append the manifest refuses further appends: the failed
 * record may sit half-written at the end of the file, and appending after it
 * would turn a harmless torn tail into corruption in the middle.
 *
 * A rewrite never touches the file in use until the new one is complete
 * and durable: MANIFEST.new is written and fsynced (and the directory, so
 * its name is durable too), then renamed over
 * MANIFEST (so a crash leaves either the old file or the new one, each
 * naming every live file), then the directory is fsynced. Until that fsync
 * succeeds (it is retried before the next append), no record goes to the
 * new file: a power cut could otherwise bring back the old file without
 * the records appended since.
 *
 * Read only (manifest_open_read_only): the file is read and replayed, a
 * torn tail left in place, and nothing is ever written: appends and
 * rewrites are refused. The manifest remembers the size and checksum of
 * the bytes it replayed, so a read-only opener can tell whether another
 * process changed the file since (manifest_changed_on_disk).
 */
#include "log/manifest_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "log/log_int.h"
#include "util/status_int.h"

#include "lsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ASCII bytes "lsmmnfst" read as a little-endian u64: the start of a
 * snapshot's payload, after its kind. */
#define MANIFEST_SNAPSHOT_MAGIC 0x7473666e6d6d736cULL
#define MANIFEST_SNAPSHOT_VERSION 1u

/* The flags of a memtable, in a new-memtable record and in a snapshot:
 * it logs to a WAL; a memtable's WAL length and last sequence number
 * follow (in a snapshot: its own; in a record: those of the memtable it
 * froze, whose id comes first). */
#define MEM_FLAG_WAL 1u
#define MEM_FLAG_FROZEN 2u

struct manifest {
    env *env;
    char *path;
    env_file *file;
    int failed;                 /* the error of a failed append, or LSM_OK */
    bool was_empty;             /* no whole record when opened */
    bool dir_sync_pending;      /* a rewrite's switch is not durable yet */
    char *dir;                  /* ... the directory to fsync for it */
    uint64_t last_append_bytes; /* framed size of the last record appended */
    uint64_t size;              /* bytes in the file */
    uint64_t snapshot_bytes;    /* of them, the snapshot record's */
    manifest_tree tree;
    /* Opened read-only: no file is open for appending (file is NULL). */
    bool read_only;
    /* The bytes replayed (a torn tail included): their number and their
     * checksum, which manifest_changed_on_disk compares. */
    uint64_t read_bytes;
    uint64_t read_checksum;
};

/* --- encoding ---------------------------------------------------------------
 */

static size_t sst_encoded_bound(const manifest_sst *s)
{
    return 4 * VARINT64_MAX_BYTES + s->nfirst_key + s->nlast_key;
}

static uint8_t *encode_sst(uint8_t *p, const manifest_sst *s)
{
    p += put_varint64(p, s->id);
    p += put_varint64(p, s->file_size);
    p += put_varint64(p, s->nfirst_key);
    memcpy(p, s->first_key, s->nfirst_key);
    p += s->nfirst_key;
    p += put_varint64(p, s->nlast_key);
    memcpy(p, s->last_key, s->nlast_key);
    return p + s->nlast_key;
}

static size_t run_encoded_bound(const manifest_run *r)
{
    size_t n = 2 * VARINT64_MAX_BYTES;
    for (size_t i = 0; i < r->n; i++)
        n += sst_encoded_bound(&r->ssts[i]);
    return n;
}

static size_t snapshot_encoded_bound(const manifest_tree *t)
{
    size_t n = 1 + 8 + 4 + MANIFEST_IDENTITY_BYTES + 5 * VARINT64_MAX_BYTES;
    n += run_encoded_bound(&t->l0);
    for (size_t i = 0; i < t->n_runs; i++)
        n += run_encoded_bound(&t->runs[i]);
    return n + t->n_mems * 4 * VARINT64_MAX_BYTES;
}

static uint8_t *encode_ssts(uint8_t *p, const manifest_run *r)
{
    p += put_varint64(p, r->n);
    for (size_t i = 0; i < r->n; i++)
        p = encode_sst(p, &r->ssts[i]);
    return p;
}

static uint8_t *encode_snapshot(uint8_t *p, const manifest_tree *t)
{
    put_fixed64(p, MANIFEST_SNAPSHOT_MAGIC);
    put_fixed32(p + 8, MANIFEST_SNAPSHOT_VERSION);
    memcpy(p + 12, t->identity, MANIFEST_IDENTITY_BYTES);
    p += 12 + MANIFEST_IDENTITY_BYTES;
    p += put_varint64(p, t->next_id);
    p += put_varint64(p, t->tiered ? 1 : 0);
    p += put_varint64(p, t->flushed_seq);
    p = encode_ssts(p, &t->l0);
    p += put_varint64(p, t->n_runs);
    for (size_t i = 0; i < t->n_runs; i++) {
        p += put_varint64(p, t->runs[i].run_id);
        p = encode_ssts(p, &t->runs[i]);
    }
    p += put_varint64(p, t->n_mems);
    for (size_t i = 0; i < t->n_mems; i++) {
        const manifest_mem *m = &t->mems[i];
        p += put_varint64(p, m->id);
        p += put_varint64(p, (m->has_wal ? MEM_FLAG_WAL : 0) |
                                 (m->frozen ? MEM_FLAG_FROZEN : 0));
        if (m->frozen) {
            p += put_varint64(p, m->wal_bytes);
            p += put_varint64(p, m->last_seq);
        }
    }
    return p;
}

/* Bytes needed to encode rec's payload (upper bound). */
static size_t manifest_payload_bound(const manifest_record *rec)
{
    size_t n = 1 + 6 * VARINT64_MAX_BYTES +
               (rec->n_removed + rec->n_added) * VARINT64_MAX_BYTES;
    if (rec->kind == MANIFEST_FLUSH)
        n += sst_encoded_bound(rec->ssts);
    if (rec->kind == MANIFEST_COMPACTION)
        for (size_t i = 0; i < rec->n_added; i++)
            n += sst_encoded_bound(&rec->ssts[i]);
    if (rec->kind == MANIFEST_SNAPSHOT)
        n += snapshot_encoded_bound(rec->snapshot);
    return n;
}

/* A flush's SST follows its id and flag: size and keys (its id is the
 * record's). A compaction's added SSTs are whole. */
static size_t manifest_encode_payload(const manifest_record *rec, uint8_t *p)
{
    uint8_t *start = p;
    *p++ = (uint8_t)rec->kind;
    switch (rec->kind) {
    case MANIFEST_NEW_MEMTABLE:
        p += put_varint64(p, rec->id);
        p += put_varint64(p, (rec->has_wal ? MEM_FLAG_WAL : 0) |
                                 (rec->froze ? MEM_FLAG_FROZEN : 0));
        if (rec->froze) {
            p += put_varint64(p, rec->frozen_id);
            p += put_varint64(p, rec->wal_bytes);
            p += put_varint64(p, rec->last_seq);
        }
        break;
    case MANIFEST_FLUSH:
        p = encode_sst(p, rec->ssts);
        p += put_varint64(p, rec->to_tier ? 1 : 0);
        p += put_varint64(p, rec->last_seq);
        break;
    case MANIFEST_NEXT_ID:
        p += put_varint64(p, rec->id);
        break;
    case MANIFEST_COMPACTION:
        p += put_varint64(p, rec->level);
        p += put_varint64(p, rec->n_removed);
        for (size_t i = 0; i < rec->n_removed; i++)
            p += put_varint64(p, rec->removed[i]);
        p += put_varint64(p, rec->n_added);
        for (size_t i = 0; i < rec->n_added; i++)
            p = encode_sst(p, &rec->ssts[i]);
        break;
    case MANIFEST_SNAPSHOT:
        p = encode_snapshot(p, rec->snapshot);
        break;
    }
    return (size_t)(p - start);
}

/* A framed record in a malloc'd buffer: *n bytes from its start. */
static int manifest_frame(const manifest_record *rec, uint8_t **buf,
                          size_t *payload_n)
{
    *buf = malloc(LOG_HEADER_BYTES + manifest_payload_bound(rec));
    if (!*buf)
        return lsm_error(LSM_ENOMEM, "out of memory writing the manifest");
    *payload_n = manifest_encode_payload(rec, *buf + LOG_HEADER_BYTES);
    return LSM_OK;
}

/* --- decoding ---------------------------------------------------------------
 */

/* What a decoded record owns (rec->owned). */
typedef struct decoded_arrays {
    uint64_t *ids; /* removed, then added */
    manifest_sst *ssts;
    manifest_tree *tree;
} decoded_arrays;

void manifest_record_release(manifest_record *rec)
{
    decoded_arrays *d = rec->owned;
    if (!d)
        return;
    free(d->ids);
    free(d->ssts);
    manifest_tree_free(d->tree);
    free(d->tree);
    free(d);
    rec->owned = NULL;
}

/* A count of items that take at least min_bytes each: more than the bytes
 * left is corrupt. NULL when malformed. */
static const uint8_t *decode_count(const uint8_t *p, const uint8_t *end,
                                   size_t min_bytes, size_t *n)
{
    uint64_t count;
    p = get_varint64(p, end, &count);
    if (!p || count > (uint64_t)(end - p) / min_bytes)
        return NULL;
    *n = (size_t)count;
    return p;
}

/* A key: varint length 1..LSM_MAX_KEY_BYTES, then the bytes (borrowed). */
static const uint8_t *decode_key(const uint8_t *p, const uint8_t *end,
                                 const uint8_t **key, size_t *n)
{
    uint64_t len;
    p = get_varint64(p, end, &len);
    if (!p || len == 0 || len > LSM_MAX_KEY_BYTES || len > (uint64_t)(end - p))
        return NULL;
    *key = p;
    *n = (size_t)len;
    return p + len;
}

/* SST meta: id, file size, first key, last key (first <= last). */
static const uint8_t *decode_sst(const uint8_t *p, const uint8_t *end,
                                 manifest_sst *s)
{
    if (p)
        p = get_varint64(p, end, &s->id);
    if (p)
        p = get_varint64(p, end, &s->file_size);
    if (p)
        p = decode_key(p, end, &s->first_key, &s->nfirst_key);
    if (p)
        p = decode_key(p, end, &s->last_key, &s->nlast_key);
    if (!p)
        return NULL;
    size_t n = s->nfirst_key < s->nlast_key ? s->nfirst_key : s->nlast_key;
    int c = memcmp(s->first_key, s->last_key, n);
    if (c > 0 || (c == 0 && s->nfirst_key > s->nlast_key))
        return NULL;
    return p;
}

/* Reads a varint flag that must be 0 or 1; NULL when malformed (an unknown
 * flag bit included). */
static const uint8_t *decode_flag(const uint8_t *p, const uint8_t *end,
                                  int *flag)
{
    uint64_t v = 0;
    p = get_varint64(p, end, &v);
    if (!p || v > 1)
        return NULL;
    *flag = (int)v;
    return p;
}

/* A memtable's flags (MEM_FLAG_*); NULL when malformed (an unknown bit). */
static const uint8_t *decode_mem_flags(const uint8_t *p, const uint8_t *end,
                                       int *has_wal, int *frozen)
{
    uint64_t v = 0;
    p = get_varint64(p, end, &v);
    if (!p || (v & ~(uint64_t)(MEM_FLAG_WAL | MEM_FLAG_FROZEN)) != 0)
        return NULL;
    *has_wal = (v & MEM_FLAG_WAL) != 0;
    *frozen = (v & MEM_FLAG_FROZEN) != 0;
    return p;
}

/* A new-memtable record after its kind: id, flags, and the facts of the
 * memtable it froze. */
static const uint8_t *decode_new_memtable(const uint8_t *p, const uint8_t *end,
                                          manifest_record *rec)
{
    p = get_varint64(p, end, &rec->id);
    if (p)
        p = decode_mem_flags(p, end, &rec->has_wal, &rec->froze);
    if (p && rec->froze)
        p = get_varint64(p, end, &rec->frozen_id);
    if (p && rec->froze)
        p = get_varint64(p, end, &rec->wal_bytes);
    if (p && rec->froze)
        p = get_varint64(p, end, &rec->last_seq);
    return p;
}

/* A snapshot's memtable: id, flags, and its own facts when frozen. */
static const uint8_t *decode_snapshot_mem(const uint8_t *p, const uint8_t *end,
                                          manifest_tree *t, int *rc)
{
    manifest_record rec = {.kind = MANIFEST_NEW_MEMTABLE};
    int frozen = 0;
    uint64_t wal_bytes = 0, last_seq = 0;
    p = get_varint64(p, end, &rec.id);
    if (p)
        p = decode_mem_flags(p, end, &rec.has_wal, &frozen);
    if (p && frozen)
        p = get_varint64(p, end, &wal_bytes);
    if (p && frozen)
        p = get_varint64(p, end, &last_seq);
    if (p && (*rc = manifest_tree_apply(t, &rec)) != LSM_OK)
        return NULL;
    if (p && frozen)
        manifest_tree_freeze_memtable(t, rec.id, wal_bytes, last_seq);
    return p;
}

/* The smallest encoded SST: four one-byte varints and two one-byte keys. */
#define SST_MIN_BYTES 6

/* A count, then that many SSTs, copied into r (the tree owns its keys). */
static const uint8_t *decode_run_ssts(const uint8_t *p, const uint8_t *end,
                                      manifest_run *r, int *rc)
{
    size_t n = 0;
    p = decode_count(p, end, SST_MIN_BYTES, &n);
    for (size_t i = 0; p && i < n; i++) {
        manifest_sst s;
        p = decode_sst(p, end, &s);
        if (p && (*rc = manifest_run_push(r, &s)) != LSM_OK)
            return NULL;
    }
    return p;
}

static const uint8_t *decode_snapshot(const uint8_t *p, const uint8_t *end,
                                      manifest_tree *t, int *rc)
{
    if (end - p < 12 + MANIFEST_IDENTITY_BYTES ||
        get_fixed64(p) != MANIFEST_SNAPSHOT_MAGIC ||
        get_fixed32(p + 8) != MANIFEST_SNAPSHOT_VERSION)
        return NULL;
    memcpy(t->identity, p + 12, MANIFEST_IDENTITY_BYTES);
    p += 12 + MANIFEST_IDENTITY_BYTES;
    int tiered = 0;
    size_t n_runs = 0, n_mems = 0;
    p = get_varint64(p, end, &t->next_id);
    if (p)
        p = decode_flag(p, end, &tiered);
    t->tiered = tiered;
    if (p)
        p = get_varint64(p, end, &t->flushed_seq);
    if (p)
        p = decode_run_ssts(p, end, &t->l0, rc);
    if (p && tiered && t->l0.n > 0)
        return NULL; /* tiers leave L0 empty */
    if (p)
        p = decode_count(p, end, 2, &n_runs);
    if (p && n_runs > LSM_MAX_LEVELS && !tiered)
        return NULL;
    if (p && n_runs) {
        t->runs = calloc(n_runs, sizeof *t->runs);
        if (!t->runs) {
            *rc = lsm_error(LSM_ENOMEM, "out of memory reading the manifest");
            return NULL;
        }
    }
    for (size_t i = 0; p && i < n_runs; i++) {
        p = get_varint64(p, end, &t->runs[i].run_id);
        t->n_runs = i + 1;
        if (p && !tiered && t->runs[i].run_id != i + 1)
            return NULL; /* levels come in order, L1 first */
        if (p)
            p = decode_run_ssts(p, end, &t->runs[i], rc);
    }
    if (p)
        p = decode_count(p, end, 2, &n_mems);
    for (size_t i = 0; p && i < n_mems; i++)
        p = decode_snapshot_mem(p, end, t, rc);
    return p;
}

/* Added SSTs of a compaction: their ids go after the removed ones. */
static const uint8_t *decode_added(const uint8_t *p, const uint8_t *end,
                                   manifest_record *rec, decoded_arrays *d)
{
    p = decode_count(p, end, SST_MIN_BYTES, &rec->n_added);
    if (!p)
        return NULL;
    uint64_t *ids =
        realloc(d->ids, (rec->n_removed + rec->n_added + 1) * sizeof *ids);
    if (!ids)
        return NULL;
    d->ids = ids;
    d->ssts = calloc(rec->n_added + 1, sizeof *d->ssts);
    if (!d->ssts)
        return NULL;
    for (size_t i = 0; p && i < rec->n_added; i++) {
        p = decode_sst(p, end, &d->ssts[i]);
        if (p)
            d->ids[rec->n_removed + i] = d->ssts[i].id;
    }
    return p;
}

static const uint8_t *decode_compaction(const uint8_t *p, const uint8_t *end,
                                        manifest_record *rec, decoded_arrays *d)
{
    uint64_t level = 0;
    p = get_varint64(p, end, &level);
    if (!p || level > LSM_MAX_LEVELS) /* 0: a new tier */
        return NULL;
    rec->level = (uint32_t)level;
    p = decode_count(p, end, 1, &rec->n_removed);
    if (!p)
        return NULL;
    d->ids = malloc((rec->n_removed + 1) * sizeof *d->ids);
    if (!d->ids)
        return NULL;
    for (size_t i = 0; p && i < rec->n_removed; i++)
        p = get_varint64(p, end, &d->ids[i]);
    if (p)
        p = decode_added(p, end, rec, d);
    rec->removed = d->ids;
    rec->added = d->ids + rec->n_removed;
    rec->ssts = d->ssts;
    return p;
}

int manifest_decode(const uint8_t *payload, size_t n, manifest_record *rec)
{
    const uint8_t *p = payload, *end = payload + n;
    int rc = LSM_OK;
    memset(rec, 0, sizeof *rec);
    if (n < 1)
        return lsm_corrupt("manifest record is empty");
    decoded_arrays *d = calloc(1, sizeof *d);
    if (!d)
        return lsm_error(LSM_ENOMEM, "out of memory reading the manifest");
    rec->owned = d;
    rec->kind = (manifest_kind)*p++;
    switch (rec->kind) {
    case MANIFEST_NEW_MEMTABLE:
        p = decode_new_memtable(p, end, rec);
        break;
    case MANIFEST_FLUSH:
        d->ssts = calloc(1, sizeof *d->ssts);
        p = d->ssts ? decode_sst(p, end, d->ssts) : NULL;
        if (p)
            p = decode_flag(p, end, &rec->to_tier);
        if (p)
            p = get_varint64(p, end, &rec->last_seq);
        if (p)
            rec->id = d->ssts->id;
        rec->ssts = d->ssts;
        break;
    case MANIFEST_NEXT_ID:
        p = get_varint64(p, end, &rec->id);
        break;
    case MANIFEST_COMPACTION:
        p = decode_compaction(p, end, rec, d);
        break;
    case MANIFEST_SNAPSHOT:
        d->tree = calloc(1, sizeof *d->tree);
        p = d->tree ? decode_snapshot(p, end, d->tree, &rc) : NULL;
        rec->snapshot = d->tree;
        if (p)
            rec->id = d->tree->next_id;
        break;
    default:
        return lsm_corrupt("manifest record has unknown kind %u",
                           (unsigned)rec->kind);
    }
    if (rc != LSM_OK)
        return rc;
    if (!p || p != end)
        return lsm_corrupt("manifest record of kind %u is malformed",
                           (unsigned)rec->kind);
    return LSM_OK;
}

/* --- opening and replay ------------------------------------------------------
 */

typedef struct replay_ctx {
    manifest *m;
    manifest_replay_fn fn;
    void *ctx;
    uint64_t n_records;
    uint64_t end_of_first;
} replay_ctx;

/* The first record must be the snapshot: its tree becomes the manifest's;
 * every later record changes it. */
static int replay_one(replay_ctx *r, uint64_t offset, manifest_record *rec,
                      size_t n)
{
    manifest *m = r->m;
    if (r->n_records++ > 0)
        return manifest_tree_apply(&m->tree, rec);
    if (rec->kind != MANIFEST_SNAPSHOT)
        return lsm_corrupt("the first record is not a snapshot (the file was "
                           "written by an older version, or emptied or cut "
                           "from the front)");
    decoded_arrays *d = rec->owned;
    m->tree = *d->tree; /* the tree moves; the record points at it */
    memset(d->tree, 0, sizeof *d->tree);
    rec->snapshot = &m->tree;
    r->end_of_first = offset + LOG_HEADER_BYTES + n;
    return LSM_OK;
}

static int replay_record(void *ctx, uint64_t offset, const uint8_t *payload,
                         size_t n)
{
    replay_ctx *r = ctx;
    manifest_record rec;
    int rc = manifest_decode(payload, n, &rec);
    if (rc == LSM_OK)
        rc = replay_one(r, offset, &rec, n);
    if (rc == LSM_OK && r->fn)
        rc = r->fn(r->ctx, &rec);
    manifest_record_release(&rec);
    if (rc == LSM_ECORRUPT) {
        char why[256];
        snprintf(why, sizeof why, "%s", lsm_errmsg());
        return lsm_error(LSM_ECORRUPT,
                         "%s: bad record at offset %llu: %s; refusing to "
                         "open (nothing was deleted)",
                         r->m->path, (unsigned long long)offset, why);
    }
    return rc;
}

/* Reads and replays the file into m->tree; cuts a torn tail off, unless
 * the manifest is read-only (the tail is then only left out). */
static int manifest_replay(manifest *m, manifest_replay_fn fn, void *ctx,
                           uint64_t *torn_bytes)
{
    uint8_t *data = NULL;
    uint64_t size = 0, valid_end = 0;
    replay_ctx r = {.m = m, .fn = fn, .ctx = ctx};
    int rc = log_read_file(m->env, m->path, &data, &size);
    if (rc == LSM_OK) {
        m->read_bytes = size;
        m->read_checksum = checksum64(data, (size_t)size);
        rc = log_scan(m->path, data, size, replay_record, &r, &valid_end);
    }
    free(data);
    if (rc == LSM_OK && valid_end < size) {
        if (!m->read_only)
            rc = m->env->truncate(m->env, m->path, valid_end);
        if (torn_bytes)
            *torn_bytes = size - valid_end;
    }
    m->was_empty = r.n_records == 0;
    m->size = valid_end;
    m->snapshot_bytes = r.end_of_first;
    return rc;
}

/* A manifest for path, not yet read: clears *out and *torn_bytes (may be
 * NULL) for the opens below. LSM_ENOMEM. */
static int manifest_alloc(env *e, const char *path, uint64_t *torn_bytes,
                          manifest **out, manifest **m)
{
    *out = NULL;
    if (torn_bytes)
        *torn_bytes = 0;
    *m = calloc(1, sizeof **m);
    if (!*m || !((*m)->path = strdup(path))) {
        free(*m);
        *m = NULL;
        return lsm_error(LSM_ENOMEM, "out of memory opening %s", path);
    }
    (*m)->env = e;
    return LSM_OK;
}

int manifest_open(env *e, const char *path, manifest_replay_fn fn, void *ctx,
                  uint64_t *torn_bytes, manifest **out)
{
    env_file *f = NULL;
    manifest *m = NULL;
    int rc = manifest_alloc(e, path, torn_bytes, out, &m);
    if (rc != LSM_OK)
        return rc;
    /* Create the file when missing, then read what it holds. */
    rc = e->open_append(e, path, &f);
    if (rc == LSM_OK)
        rc = file_close(f);
    if (rc == LSM_OK)
        rc = manifest_replay(m, fn, ctx, torn_bytes);
    if (rc == LSM_OK && m->was_empty)
        rc = manifest_new_identity(m->tree.identity);
    if (rc == LSM_OK)
        rc = e->open_append(e, path, &m->file);
    if (rc != LSM_OK) {
        manifest_close(m);
        return rc;
    }
    *out = m;
    return LSM_OK;
}

int manifest_open_read_only(env *e, const char *path, uint64_t *torn_bytes,
                            manifest **out)
{
    manifest *m = NULL;
    int rc = manifest_alloc(e, path, torn_bytes, out, &m);
    if (rc != LSM_OK)
        return rc;
    m->read_only = true; /* appends and rewrites are refused */
    rc = manifest_replay(m, NULL, NULL, torn_bytes);
    if (rc == LSM_OK && m->was_empty)
        rc = manifest_new_identity(m->tree.identity);
    if (rc != LSM_OK) {
        manifest_close(m);
        return rc;
    }
    *out = m;
    return LSM_OK;
}

int manifest_changed_on_disk(const manifest *m, bool *changed)
{
    uint8_t *data = NULL;
    uint64_t size = 0;
    int rc = log_read_file(m->env, m->path, &data, &size);
    if (rc == LSM_OK)
        *changed = size != m->read_bytes ||
                   checksum64(data, (size_t)size) != m->read_checksum;
    free(data);
    return rc;
}

bool manifest_was_empty(const manifest *m)
{
    return m->was_empty;
}

const manifest_tree *manifest_tree_of(const manifest *m)
{
    return &m->tree;
}

manifest_tree *manifest_tree_for_open(manifest *m)
{
    return &m->tree;
}

uint64_t manifest_size(const manifest *m)
{
    return m->size;
}

uint64_t manifest_bytes_since_snapshot(const manifest *m)
{
    return m->size - m->snapshot_bytes;
}

/* --- appending
 * ---------------------------------------------------------------- */

int manifest_status(const manifest *m)
{
    return m->failed;
}

/* Makes a rewrite's rename durable before anything is appended after it. */
static int manifest_finish_switch(manifest *m)
{
    if (!m->dir_sync_pending)
        return LSM_OK;
    int rc = m->env->sync_dir(m->env, m->dir);
    if (rc == LSM_OK) {
        m->dir_sync_pending = false;
        free(m->dir);
        m->dir = NULL;
    }
    return rc;
}

int manifest_append(manifest *m, const manifest_record *rec)
{
    if (m->read_only)
        return lsm_error(LSM_EREADONLY, "%s is open read-only", m->path);
    if (m->failed != LSM_OK)
        return lsm_error(m->failed,
                         "%s: an earlier append failed; reopen the database "
                         "to repair the manifest",
                         m->path);
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = manifest_finish_switch(m);
    if (rc == LSM_OK)
        rc = manifest_frame(rec, &buf, &n);
    if (rc == LSM_OK)
        rc = log_append_framed(m->file, buf, n);
    if (rc == LSM_OK)
        rc = file_sync(m->file);
    free(buf);
    /* The record is in the file: the tree must follow it, or the next
     * snapshot would lose it. */
    if (rc == LSM_OK) {
        m->size += LOG_HEADER_BYTES + n;
        rc = manifest_tree_apply(&m->tree, rec);
    }
    if (rc != LSM_OK)
        m->failed = rc;
    else
        m->last_append_bytes = LOG_HEADER_BYTES + n;
    return rc;
}

uint64_t manifest_last_append_bytes(const manifest *m)
{
    return m->last_append_bytes;
}

/* --- rewriting
 * ------------------------------------------------------------------ */

/* Removes a new file that will not be used, keeping the thread's message
 * (the cause of the failure). */
static void manifest_discard_new(manifest *m, const char *new_path)
{
    char saved[512];
    snprintf(saved, sizeof saved, "%s", lsm_errmsg());
    m->env->unlink(m->env, new_path);
    lsm_error_set_message(saved);
}

/* Writes the snapshot to new_path, fsyncs it and then the directory (so
 * that the name the rename moves is durable first, as LevelDB does for a
 * new manifest); *bytes its size. */
static int manifest_write_new(manifest *m, const char *new_path,
                              const char *dir, manifest_step_fn step, void *ctx,
                              uint64_t *bytes)
{
    manifest_record rec = {.kind = MANIFEST_SNAPSHOT, .snapshot = &m->tree};
    uint8_t *buf = NULL;
    size_t n = 0;
    env_file *f = NULL;
    int rc = manifest_frame(&rec, &buf, &n);
    if (rc == LSM_OK)
        rc = m->env->open_write(m->env, new_path, &f);
    if (rc == LSM_OK && step)
        step(ctx, MANIFEST_REWRITE_CREATED, new_path, 0);
    if (rc == LSM_OK)
        rc = log_append_framed(f, buf, n);
    *bytes = LOG_HEADER_BYTES + n;
    if (rc == LSM_OK && step)
        step(ctx, MANIFEST_REWRITE_WRITTEN, new_path, *bytes);
    if (rc == LSM_OK)
        rc = file_sync(f);
    if (rc == LSM_OK && step)
        step(ctx, MANIFEST_REWRITE_SYNCED, new_path, 0);
    int close_rc = file_close(f);
    if (rc == LSM_OK)
        rc = close_rc;
    free(buf);
    if (rc == LSM_OK)
        rc = m->env->sync_dir(m->env, dir);
    if (rc == LSM_OK && step)
        step(ctx, MANIFEST_REWRITE_NAMED, dir, 0);
    return rc;
}

int manifest_rewrite(manifest *m, const char *dir, manifest_step_fn step,
                     void *ctx)
{
    if (m->read_only)
        return lsm_error(LSM_EREADONLY, "%s is open read-only", m->path);
    if (m->failed != LSM_OK)
        return lsm_error(m->failed,
                         "%s: an earlier append failed; not rewriting it",
                         m->path);
    size_t n_path = strlen(m->path) + sizeof ".new";
    char *new_path = malloc(n_path);
    char *dir_copy = strdup(dir);
    uint64_t bytes = 0;
    int rc = new_path && dir_copy
                 ? LSM_OK
                 : lsm_error(LSM_ENOMEM, "out of memory rewriting %s", m->path);
    if (rc == LSM_OK) {
        snprintf(new_path, n_path, "%s.new", m->path);
        rc = manifest_write_new(m, new_path, dir, step, ctx, &bytes);
    }
    if (rc == LSM_OK)
        rc = m->env->rename(m->env, new_path, m->path);
    if (rc != LSM_OK) {
        if (new_path)
            manifest_discard_new(m, new_path);
        free(new_path);
        free(dir_copy);
        return rc;
    }
    if (step)
        step(ctx, MANIFEST_REWRITE_RENAMED, new_path, 0);
    free(new_path);
    /* The old file is gone from the directory: from now on only the new
     * one may take records. */
    env_file *f = NULL;
    rc = m->env->open_append(m->env, m->path, &f);
    if (rc != LSM_OK) {
        m->failed = rc;
        free(dir_copy);
        return rc;
    }
    file_close(m->file);
    m->file = f;
    m->size = bytes;
    m->snapshot_bytes = bytes;
    free(m->dir);
    m->dir = dir_copy;
    m->dir_sync_pending = true;
    rc = manifest_finish_switch(m);
    if (rc == LSM_OK && step)
        step(ctx, MANIFEST_REWRITE_DIR_SYNCED, dir, 0);
    return rc;
}

int manifest_close(manifest *m)
{
    if (!m)
        return LSM_OK;
    int rc = file_close(m->file);
    manifest_tree_free(&m->tree);
    free(m->dir);
    free(m->path);
    free(m);
    return rc;
}
