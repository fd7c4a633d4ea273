/*
 * manifest.c: encoding, appending and replaying manifest records. Framing,
 * checksums and the torn-tail rule are the log's (log_int.h); a payload is a
 * u8 kind followed by varints (FORMAT.md).
 *
 * After a failed append the manifest refuses further appends: the failed
 * record may sit half-written at the end of the file, and appending after it
 * would turn a harmless torn tail into corruption in the middle.
 */
#include "log/manifest_int.h"
#include "util/coding_int.h"
#include "log/log_int.h"
#include "util/status_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct manifest {
    env *env;
    env_file *file;
    int failed;                 /* the error of a failed append, or LSM_OK */
    uint64_t last_append_bytes; /* framed size of the last record appended */
};

/* Bytes needed to encode rec's payload (upper bound). */
static size_t manifest_payload_bound(const manifest_record *rec)
{
    return 1 + 4 * VARINT64_MAX_BYTES +
           (rec->n_removed + rec->n_added) * VARINT64_MAX_BYTES;
}

static size_t manifest_encode_payload(const manifest_record *rec, uint8_t *p)
{
    uint8_t *start = p;
    *p++ = (uint8_t)rec->kind;
    switch (rec->kind) {
    case MANIFEST_NEW_MEMTABLE:
        p += put_varint64(p, rec->id);
        p += put_varint64(p, rec->has_wal ? 1 : 0);
        break;
    case MANIFEST_FLUSH:
        p += put_varint64(p, rec->id);
        p += put_varint64(p, rec->to_tier ? 1 : 0);
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
            p += put_varint64(p, rec->added[i]);
        break;
    }
    return (size_t)(p - start);
}

int manifest_status(const manifest *m)
{
    return m->failed;
}

int manifest_append(manifest *m, const manifest_record *rec)
{
    if (m->failed != LSM_OK)
        return lsm_error(m->failed,
                         "%s: an earlier append failed; reopen the database "
                         "to repair the manifest",
                         m->file->path);
    size_t bound = LOG_HEADER_BYTES + manifest_payload_bound(rec);
    uint8_t *buf = malloc(bound);
    if (!buf)
        return lsm_error(LSM_ENOMEM, "out of memory writing the manifest");
    size_t n = manifest_encode_payload(rec, buf + LOG_HEADER_BYTES);
    int rc = log_append_framed(m->file, buf, n);
    if (rc == LSM_OK)
        rc = file_sync(m->file);
    free(buf);
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

/* Reads a list of ids: varint count, then that many varints. */
static const uint8_t *decode_ids(const uint8_t *p, const uint8_t *end,
                                 size_t *n, uint64_t **ids)
{
    uint64_t count;
    p = get_varint64(p, end, &count);
    /* Each id takes at least one byte: a count beyond that is corrupt. */
    if (!p || count > (uint64_t)(end - p))
        return NULL;
    *ids = count ? malloc(count * sizeof **ids) : NULL;
    if (count && !*ids)
        return NULL;
    for (uint64_t i = 0; i < count; i++) {
        p = get_varint64(p, end, &(*ids)[i]);
        if (!p) {
            free(*ids);
            *ids = NULL;
            return NULL;
        }
    }
    *n = (size_t)count;
    return p;
}

/* Reads a varint id and a varint flag that must be 0 or 1; NULL when
 * malformed (an unknown flag bit included). */
static const uint8_t *decode_id_and_flag(const uint8_t *p, const uint8_t *end,
                                         uint64_t *id, int *flag)
{
    uint64_t v = 0;
    p = get_varint64(p, end, id);
    if (p)
        p = get_varint64(p, end, &v);
    if (!p || v > 1)
        return NULL;
    *flag = (int)v;
    return p;
}

int manifest_decode(const uint8_t *payload, size_t n, manifest_record *rec,
                    void **owned)
{
    const uint8_t *p = payload, *end = payload + n;
    uint64_t *removed = NULL, *added = NULL;
    memset(rec, 0, sizeof *rec);
    *owned = NULL;
    if (n < 1)
        return lsm_corrupt("manifest record is empty");
    rec->kind = (manifest_kind)*p++;
    switch (rec->kind) {
    case MANIFEST_NEW_MEMTABLE:
        p = decode_id_and_flag(p, end, &rec->id, &rec->has_wal);
        break;
    case MANIFEST_FLUSH:
        p = decode_id_and_flag(p, end, &rec->id, &rec->to_tier);
        break;
    case MANIFEST_NEXT_ID:
        p = get_varint64(p, end, &rec->id);
        break;
    case MANIFEST_COMPACTION: {
        uint64_t level = 0;
        p = get_varint64(p, end, &level);
        if (p && level > 64) /* 0: a new tier */
            p = NULL;
        rec->level = (uint32_t)level;
        if (p)
            p = decode_ids(p, end, &rec->n_removed, &removed);
        if (p)
            p = decode_ids(p, end, &rec->n_added, &added);
        break;
    }
    default:
        return lsm_corrupt("manifest record has unknown kind %u",
                           (unsigned)rec->kind);
    }
    if (!p || p != end) {
        free(removed);
        free(added);
        return lsm_corrupt("manifest record of kind %u is malformed",
                           (unsigned)rec->kind);
    }
    /* One allocation for the caller to free: added follows removed. */
    if (removed || added) {
        uint64_t *both =
            malloc((rec->n_removed + rec->n_added + 1) * sizeof *both);
        if (!both) {
            free(removed);
            free(added);
            return lsm_error(LSM_ENOMEM, "out of memory reading the manifest");
        }
        if (rec->n_removed)
            memcpy(both, removed, rec->n_removed * sizeof *both);
        if (rec->n_added)
            memcpy(both + rec->n_removed, added, rec->n_added * sizeof *both);
        rec->removed = both;
        rec->added = both + rec->n_removed;
        *owned = both;
    }
    free(removed);
    free(added);
    return LSM_OK;
}

typedef struct manifest_replay_ctx {
    const char *path;
    manifest_replay_fn fn;
    void *ctx;
} manifest_replay_ctx;

static int manifest_replay_record(void *ctx, uint64_t offset,
                                  const uint8_t *payload, size_t n)
{
    manifest_replay_ctx *r = ctx;
    manifest_record rec;
    void *owned;
    int rc = manifest_decode(payload, n, &rec, &owned);
    if (rc == LSM_ECORRUPT) {
        char why[256];
        snprintf(why, sizeof why, "%s", lsm_errmsg());
        return lsm_error(LSM_ECORRUPT, "%s: bad record at offset %llu: %s",
                         r->path, (unsigned long long)offset, why);
    }
    if (rc == LSM_OK)
        rc = r->fn(r->ctx, &rec);
    free(owned);
    return rc;
}

int manifest_open(env *e, const char *path, manifest_replay_fn fn, void *ctx,
                  uint64_t *torn_bytes, manifest **out)
{
    uint8_t *data = NULL;
    uint64_t size = 0, valid_end = 0;
    manifest *m = NULL;
    env_file *f = NULL;
    *out = NULL;
    if (torn_bytes)
        *torn_bytes = 0;
    /* Create the file when missing, then read what it holds. */
    int rc = e->open_append(e, path, &f);
    if (rc == LSM_OK)
        rc = file_close(f);
    if (rc == LSM_OK)
        rc = log_read_file(e, path, &data, &size);
    manifest_replay_ctx r = {.path = path, .fn = fn, .ctx = ctx};
    if (rc == LSM_OK)
        rc = log_scan(path, data, size, manifest_replay_record, &r, &valid_end);
    if (rc == LSM_OK && valid_end < size) {
        rc = e->truncate(e, path, valid_end);
        if (torn_bytes)
            *torn_bytes = size - valid_end;
    }
    if (rc != LSM_OK)
        goto out;
    m = calloc(1, sizeof *m);
    if (!m) {
        rc = lsm_error(LSM_ENOMEM, "out of memory opening %s", path);
        goto out;
    }
    m->env = e;
    rc = e->open_append(e, path, &m->file);
    if (rc != LSM_OK) {
        free(m);
        goto out;
    }
    *out = m;
out:
    free(data);
    return rc;
}

int manifest_close(manifest *m)
{
    if (!m)
        return LSM_OK;
    int rc = file_close(m->file);
    free(m);
    return rc;
}
