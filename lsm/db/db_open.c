/*
 * db_open.c: opening a database (recovery) and closing it.
 *
 * Opening: bind to the directory and lock it (db_dir.c), replay the
 * MANIFEST (its snapshot, then its records: log/manifest_int.h) to learn
 * which SSTs are live in which level and which memtables were never
 * flushed, check the directory against it (a file is deleted only when the
 * manifest proves it a crash leftover), open those SSTs and check each
 * against what the manifest records of it (id, database identity, size,
 * key range, the order of its level), replay the WAL of each unflushed
 * memtable into an immutable memtable, delete the leftovers, rewrite the
 * MANIFEST as one snapshot, and start a fresh mutable memtable with its
 * own WAL.
 *
 * Opening read-only (lsm_options.read_only) does the same reading and
 * checking and none of the writing: no lock, no directory fsync, no torn
 * tail cut (it is left out in memory, with a warning), no leftover
 * deleted, no rewrite, and the fresh mutable memtable has no WAL and no
 * manifest record. Another process may be writing the database
 * meanwhile: a file it removes between our reading the MANIFEST and our
 * opening the file fails the attempt, and the open starts over as long as
 * the MANIFEST on disk is no longer the one the attempt read
 * (db_recover_read_only).
 */
#include "db/db_int.h"

#include "compact/compact_int.h"
#include "table/block_codec_int.h"
#include "util/status_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool id_list_has(const id_list *l, uint64_t id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->ids[i] == id)
            return true;
    return false;
}

/* The unflushed memtable id of the manifest's tree, or NULL. */
static const manifest_mem *tree_find_mem(const manifest_tree *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_mems; i++)
        if (t->mems[i].id == id)
            return &t->mems[i];
    return NULL;
}

static int recovery_strategy_mismatch(const manifest_tree *t)
{
    return lsm_error(LSM_EINVAL,
                     "the database was written with %s compaction (its "
                     "manifest records %s); open it with that strategy",
                     t->tiered ? "tiered" : "levelled or no",
                     t->tiered ? "tiers" : "L0 and levels");
}

/* The files of the directory the engine knows by name. */
typedef struct dir_files {
    id_list ssts;      /* <id>.sst */
    id_list wals;      /* <id>.wal */
    bool manifest_new; /* MANIFEST.new, left by a rewrite a crash cut */
    bool manifest;     /* MANIFEST */
    int rc;
} dir_files;

/* Parses "<digits><suffix>"; false for any other name. */
static bool parse_numbered_name(const char *name, const char *suffix,
                                uint64_t *id)
{
    const char *p = name;
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    if (strcmp(p, suffix) != 0)
        return false;
    *id = v;
    return true;
}

static void dir_files_visit(const char *name, void *ctx)
{
    dir_files *d = ctx;
    uint64_t id;
    if (d->rc != LSM_OK)
        return;
    if (parse_numbered_name(name, ".sst", &id))
        d->rc = id_list_push(&d->ssts, id);
    else if (parse_numbered_name(name, ".wal", &id))
        d->rc = id_list_push(&d->wals, id);
    else if (strcmp(name, "MANIFEST.new") == 0)
        d->manifest_new = true;
    else if (strcmp(name, "MANIFEST") == 0)
        d->manifest = true;
}

/* Every SST of run (named by the manifest) must have a file. */
static int recovery_check_named(lsm_db *db, const char *manifest_path,
                                const manifest_run *run, const dir_files *files)
{
    for (size_t i = 0; i < run->n; i++)
        if (!id_list_has(&files->ssts, run->ssts[i].id))
            return lsm_corrupt("%s names %" PRIu64 ".sst, which is missing "
                               "from %s",
                               manifest_path, run->ssts[i].id, db->dir);
    return LSM_OK;
}

/* Checks the directory against the manifest before anything is opened or
 * deleted, so that a manifest which lost records (damaged or replaced from
 * outside: a crash only ever cuts a record short) is refused instead of
 * deleting the files it forgot as orphans:
 *   - every SST the manifest names must exist;
 *   - an empty manifest must not sit beside SSTs or WALs;
 *   - every other SST or WAL must have an id the manifest accounts for
 *     (below its next id), and an SST flushed from a memtable that logged
 *     to a WAL must still have that WAL. */
static int db_check_files(lsm_db *db, const char *manifest_path,
                          const dir_files *files)
{
    const manifest_tree *t = manifest_tree_of(db->manifest);
    if (manifest_was_empty(db->manifest) &&
        (files->ssts.n > 0 || files->wals.n > 0))
        return lsm_corrupt("%s is empty but %s holds %zu SST(s) and %zu "
                           "WAL(s); refusing to open it (nothing was "
                           "deleted)",
                           manifest_path, db->dir, files->ssts.n,
                           files->wals.n);
    int rc = recovery_check_named(db, manifest_path, &t->l0, files);
    for (size_t i = 0; i < t->n_runs && rc == LSM_OK; i++)
        rc = recovery_check_named(db, manifest_path, &t->runs[i], files);
    if (rc != LSM_OK)
        return rc;
    for (size_t i = 0; i < files->wals.n; i++)
        if (files->wals.ids[i] >= t->next_id)
            return lsm_corrupt("%s holds %" PRIu64 ".wal, but %s accounts "
                               "for no id above %" PRIu64
                               ": the manifest lost records; refusing to "
                               "open (nothing was deleted)",
                               db->dir, files->wals.ids[i], manifest_path,
                               t->next_id - 1);
    for (size_t i = 0; i < files->ssts.n; i++) {
        uint64_t id = files->ssts.ids[i];
        if (manifest_tree_find(t, id))
            continue;
        /* An SST the manifest does not name is a crash leftover only if
         * the manifest accounts for its id... */
        if (id >= t->next_id)
            return lsm_corrupt("%s holds %" PRIu64 ".sst, but %s accounts "
                               "for no id above %" PRIu64
                               ": the manifest lost records; refusing to "
                               "open (nothing was deleted)",
                               db->dir, id, manifest_path, t->next_id - 1);
        /* ... and, if it is a flush output, only while the WAL it was
         * flushed from still holds the same data. */
        const manifest_mem *mem = tree_find_mem(t, id);
        if (mem && mem->has_wal && !id_list_has(&files->wals, id))
            return lsm_corrupt("%s holds %" PRIu64 ".sst, flushed from "
                               "memtable %" PRIu64 " whose WAL is gone, but "
                               "%s does not record the flush: the manifest "
                               "lost records; refusing to open (nothing was "
                               "deleted)",
                               db->dir, id, id, manifest_path);
    }
    return LSM_OK;
}

/* An SST is what the manifest says it is: written as this id, by this
 * database, of the recorded size and key range. A file copied or renamed
 * over another, or taken from another database, fails one of these. */
static int db_check_sst(lsm_db *db, const char *path, const sst *t,
                        const manifest_sst *want)
{
    size_t nfirst, nlast;
    const uint8_t *first = sst_first_key(t, &nfirst);
    const uint8_t *last = sst_last_key(t, &nlast);
    if (sst_recorded_id(t) != want->id)
        return lsm_corrupt("%s was written as %" PRIu64 ".sst (copied or "
                           "renamed over it?)",
                           path, sst_recorded_id(t));
    if (memcmp(sst_db_identity(t), db->identity, MANIFEST_IDENTITY_BYTES) != 0)
        return lsm_corrupt("%s belongs to another database (its identity "
                           "is not this database's)",
                           path);
    if (sst_file_size(t) != want->file_size)
        return lsm_corrupt("%s is %" PRIu64 " bytes, but the manifest "
                           "records %" PRIu64,
                           path, sst_file_size(t), want->file_size);
    if (user_key_cmp(first, nfirst, want->first_key, want->nfirst_key) != 0 ||
        user_key_cmp(last, nlast, want->last_key, want->nlast_key) != 0)
        return lsm_corrupt("%s holds another key range than the manifest "
                           "records",
                           path);
    return LSM_OK;
}

/* Opens one SST the manifest names, checks it against the record and
 * notes its newest sequence number. */
static int db_open_named_sst(lsm_db *db, const manifest_sst *want, sst **out)
{
    char path[DB_PATH_BYTES];
    int rc = db_sst_path(db, want->id, path);
    if (rc == LSM_OK)
        rc = db_sst_open(db, path, want->id, out);
    if (rc == LSM_OK)
        rc = db_check_sst(db, path, *out, want);
    if (rc != LSM_OK) {
        sst_unref(*out);
        *out = NULL;
        return rc;
    }
    if (sst_max_seq(*out) > db->last_seq)
        db->last_seq = sst_max_seq(*out);
    return LSM_OK;
}

/* The SSTs of a level or tier (sorted by first key) must not overlap:
 * each one's first key is after the previous one's last key. A key in two
 * of them would be split, and a get asks only one SST per run. */
static int db_check_run_order(lsm_db *db, const sorted_run *run, bool tiered)
{
    for (size_t i = 1; i < run->n_ssts; i++) {
        size_t nlast, nfirst;
        const uint8_t *last = sst_last_key(run->ssts[i - 1], &nlast);
        const uint8_t *first = sst_first_key(run->ssts[i], &nfirst);
        if (user_key_cmp(first, nfirst, last, nlast) <= 0) {
            char path[DB_PATH_BYTES];
            int rc = db_sst_path(db, sst_id(run->ssts[i]), path);
            if (rc != LSM_OK)
                return rc;
            return lsm_corrupt("%s overlaps %" PRIu64 ".sst in %s %" PRIu64,
                               path, sst_id(run->ssts[i - 1]),
                               tiered ? "tier" : "level", run->run_id);
        }
    }
    return LSM_OK;
}

/* Opens the SSTs of the manifest's run r_index into v: into its level, or
 * into a new tier appended after the ones before it (tiers come newest
 * first); then checks the run's order. */
static int db_open_run(lsm_db *db, const manifest_tree *t, size_t r_index,
                       version *v)
{
    const manifest_run *run = &t->runs[r_index];
    size_t index = r_index;
    int rc = LSM_OK;
    if (v->tiered) {
        index = v->n_levels;
        rc = version_insert_run(v, index, run->run_id);
    } else if (r_index >= v->n_levels && run->n > 0) {
        return lsm_error(LSM_EINVAL,
                         "%s holds SSTs in L%zu but this compaction "
                         "strategy has %zu level(s); open it with the "
                         "strategy it was created with",
                         db->dir, r_index + 1, v->n_levels);
    }
    for (size_t i = 0; i < run->n && rc == LSM_OK; i++) {
        sst *sst_opened = NULL;
        rc = db_open_named_sst(db, &run->ssts[i], &sst_opened);
        if (rc == LSM_OK)
            rc = version_add_to_run(v, index, sst_opened);
        if (rc != LSM_OK)
            sst_unref(sst_opened);
    }
    if (rc == LSM_OK && index < v->n_levels)
        rc = db_check_run_order(db, &v->levels[index], v->tiered);
    return rc;
}

/* Opens every SST the manifest names into v. */
static int db_open_ssts(lsm_db *db, const manifest_tree *t, version *v)
{
    int rc = LSM_OK;
    /* ids are in creation order, so pushing makes L0 newest first. */
    for (size_t i = 0; i < t->l0.n && rc == LSM_OK; i++) {
        sst *sst_opened = NULL;
        rc = db_open_named_sst(db, &t->l0.ssts[i], &sst_opened);
        if (rc == LSM_OK)
            rc = version_push_l0(v, sst_opened);
        if (rc != LSM_OK)
            sst_unref(sst_opened);
    }
    for (size_t i = 0; i < t->n_runs && rc == LSM_OK; i++)
        rc = db_open_run(db, t, i, v);
    return rc;
}

/* Deletes files the manifest does not account for: SSTs it does not name
 * (outputs of a flush or compaction that crashed before its record, and
 * compaction inputs iterators still read when the process died) and WALs
 * of memtables that were flushed or never recorded, and a MANIFEST.new
 * a crash left in the middle of a rewrite (the MANIFEST in place is
 * whole: the new one replaces it only once complete). */
static int db_remove_orphans(lsm_db *db, const dir_files *files)
{
    const manifest_tree *t = manifest_tree_of(db->manifest);
    char path[DB_PATH_BYTES];
    int rc = LSM_OK;
    id_list deleted = {0}; /* reported in one event */
    for (size_t i = 0; i < files->ssts.n && rc == LSM_OK; i++) {
        uint64_t id = files->ssts.ids[i];
        if (manifest_tree_find(t, id))
            continue;
        rc = db_sst_path(db, id, path);
        if (rc == LSM_OK)
            rc = db->env->unlink(db->env, path);
        if (rc == LSM_OK)
            rc = id_list_push(&deleted, id);
    }
    db_report_sst_deleted(db, deleted.ids, deleted.n,
                          "not in the manifest (left by a crash)");
    free(deleted.ids);
    for (size_t i = 0; i < files->wals.n; i++)
        if (!tree_find_mem(t, files->wals.ids[i]))
            db_remove_wal(db, files->wals.ids[i],
                          "is not live in the manifest");
    if (rc == LSM_OK && files->manifest_new)
        rc = db_path(db, "MANIFEST.new", path);
    if (rc == LSM_OK && files->manifest_new)
        rc = db->env->unlink(db->env, path);
    return rc;
}

/* Tells the event callback that a log was repaired, or, read-only, that
 * its torn tail was left out in memory and left on disk as it is. */
static void db_warn_torn(lsm_db *db, const char *path, uint64_t torn_bytes)
{
    char message[DB_PATH_BYTES + 192];
    if (db->opt.read_only)
        snprintf(message, sizeof message,
                 "%s: left out a torn record of %" PRIu64
                 " byte(s) at the end (left by a crash, or being appended "
                 "by another process); read-only, so not repaired",
                 path, torn_bytes);
    else
        snprintf(message, sizeof message,
                 "%s: cut off a torn record of %" PRIu64
                 " byte(s) at the end (left by a crash)",
                 path, torn_bytes);
    lsm_event ev = {.type = LSM_EVENT_WARNING, .message = message};
    db_emit(db, &ev);
}

/* Where the sequence numbers recovered so far end: the next WAL must go
 * on from there without a gap (writes take consecutive numbers, and each
 * memtable starts where the one before it stopped). */
typedef struct seq_chain {
    bool known;     /* false after a memtable whose writes are unknown */
    uint64_t last;  /* the newest sequence number before the next WAL */
    char where[64]; /* what holds it, for messages: "in the SSTs", ... */
} seq_chain;

/* One WAL being recovered: its entries go into a memtable, each checked
 * to follow the one before. */
typedef struct wal_recovery {
    apply_ctx a;
    uint64_t n, first_seq, last_seq; /* entries, and their range */
    uint64_t size, valid_end;        /* wal_read's */
} wal_recovery;

static int db_recover_entry(void *ctx, uint64_t seq, uint8_t type,
                            const uint8_t *key, size_t nkey,
                            const uint8_t *value, size_t nvalue)
{
    wal_recovery *r = ctx;
    if (r->n > 0 && seq != r->last_seq + 1)
        return lsm_corrupt("sequence number %" PRIu64 " follows %" PRIu64
                           " (a record removed, or put in from elsewhere?)",
                           seq, r->last_seq);
    if (r->n++ == 0)
        r->first_seq = seq;
    r->last_seq = seq;
    return db_apply_entry(&r->a, seq, type, key, nkey, value, nvalue);
}

/* "records up to seq N" or "no whole record", for messages. */
static void describe_held(const wal_recovery *r, char *buf, size_t n)
{
    if (r->n == 0)
        snprintf(buf, n, "no whole record");
    else
        snprintf(buf, n, "records up to seq %" PRIu64, r->last_seq);
}

/* A frozen memtable's WAL is what the manifest recorded at the freeze:
 * at least as long (bytes past it are a torn tail whose cut a power loss
 * undid; they are not read), its whole records filling exactly those
 * bytes, up to the recorded sequence number. */
static int db_check_frozen_wal(const char *path, const manifest_mem *m,
                               const wal_recovery *r)
{
    char held[64];
    describe_held(r, held, sizeof held);
    if (r->size < m->wal_bytes)
        return lsm_corrupt("%s holds %s in %" PRIu64 " bytes, but the "
                           "manifest says it was frozen at seq %" PRIu64
                           " with %" PRIu64 " bytes (cut short?)",
                           path, held, r->size, m->last_seq, m->wal_bytes);
    if (r->valid_end != m->wal_bytes || r->n == 0 || r->last_seq != m->last_seq)
        return lsm_corrupt("%s holds %s in its first %" PRIu64 " bytes, but "
                           "the manifest says it was frozen at seq %" PRIu64
                           " (damaged, or another WAL copied over it?)",
                           path, held, m->wal_bytes, m->last_seq);
    return LSM_OK;
}

/* The WAL's first write follows the chain's last one. */
static int db_check_wal_follows(const char *path, const seq_chain *c,
                                const wal_recovery *r)
{
    if (!c->known || r->n == 0 || r->first_seq == c->last + 1)
        return LSM_OK;
    if (r->first_seq > c->last + 1)
        return lsm_corrupt("%s starts at seq %" PRIu64 ", but the writes "
                           "before it end at seq %" PRIu64 " (%s): seqs "
                           "%" PRIu64 " to %" PRIu64 " are missing (a WAL "
                           "deleted or replaced?)",
                           path, r->first_seq, c->last, c->where, c->last + 1,
                           r->first_seq - 1);
    return lsm_corrupt("%s starts at seq %" PRIu64 ", but seqs up to "
                       "%" PRIu64 " are already written (%s): another WAL "
                       "copied over it?",
                       path, r->first_seq, c->last, c->where);
}

/* Cuts the torn tail off a recovered log that was never frozen, and makes
 * it durable as it now is (when it holds records) before the manifest
 * records its length: a log written without the sync option may still be
 * only in the page cache. */
static int db_settle_recovered_wal(lsm_db *db, const char *path,
                                   const wal_recovery *r)
{
    int rc = LSM_OK;
    if (db->opt.read_only) { /* the tail was not replayed; it stays */
        if (r->valid_end < r->size)
            db_warn_torn(db, path, r->size - r->valid_end);
        return LSM_OK;
    }
    if (r->valid_end < r->size) {
        rc = db->env->truncate(db->env, path, r->valid_end);
        if (rc == LSM_OK)
            db_warn_torn(db, path, r->size - r->valid_end);
    }
    env_file *f = NULL;
    if (rc == LSM_OK && r->n > 0)
        rc = db->env->open_append(db->env, path, &f);
    if (rc == LSM_OK && f) {
        rc = file_sync(f);
        int crc = file_close(f);
        if (rc == LSM_OK)
            rc = crc;
    }
    return rc;
}

/* Replays the existing WAL of memtable m into r->a.mem and checks it
 * against the manifest and the chain. A frozen WAL must be whole; the one
 * memtable that was never frozen (the mutable one when the process
 * stopped) may end in a torn tail, which is cut off. */
static int db_replay_one_wal(lsm_db *db, manifest_mem *m, const seq_chain *c,
                             wal_recovery *r)
{
    char path[DB_PATH_BYTES];
    int rc = db_wal_path(db, m->id, path);
    if (rc == LSM_OK)
        rc = wal_read(db->env, path, m->frozen ? m->wal_bytes : UINT64_MAX,
                      db_recover_entry, r, &r->size, &r->valid_end);
    if (rc == LSM_OK)
        rc = db_check_wal_follows(path, c, r);
    if (rc == LSM_OK && m->frozen)
        rc = db_check_frozen_wal(path, m, r);
    if (rc == LSM_OK && !m->frozen)
        rc = db_settle_recovered_wal(db, path, r);
    return rc;
}

/* A memtable the manifest records but whose WAL is not there (or that had
 * none): only a memtable never frozen may have lost its WAL (a crash
 * before the WAL was created, or a close that found it empty); a frozen
 * one held writes the manifest counted. The chain goes on past it. */
static int db_skip_memtable(lsm_db *db, const manifest_mem *m, seq_chain *c)
{
    char path[DB_PATH_BYTES];
    if (m->has_wal && m->frozen && m->wal_bytes > 0) {
        int rc = db_wal_path(db, m->id, path);
        return rc != LSM_OK
                   ? rc
                   : lsm_corrupt("%s is missing, but the manifest says "
                                 "memtable %" PRIu64 " was frozen with %" PRIu64
                                 " bytes in it, up to seq %" PRIu64
                                 " (deleted?)",
                                 path, m->id, m->wal_bytes, m->last_seq);
    }
    if (m->frozen) { /* without a WAL: its writes are lost, not its seqs */
        c->known = true;
        c->last = m->last_seq;
        snprintf(c->where, sizeof c->where,
                 "in memtable %" PRIu64 ", which had no WAL", m->id);
    } else if (!m->has_wal) {
        c->known = false; /* how far its lost writes went is unknown */
    }
    return LSM_OK;
}

/* Recovers memtable m (recording it as frozen, if the manifest did not
 * yet, so that the next open checks its WAL whole) or tells the caller to
 * drop it (*keep false): no WAL, or an empty one. */
static int db_recover_memtable(lsm_db *db, manifest_mem *m, seq_chain *c,
                               const dir_files *files, version *v, bool *keep)
{
    *keep = false;
    if (!m->has_wal || !id_list_has(&files->wals, m->id))
        return db_skip_memtable(db, m, c);
    wal_recovery r = {0};
    int rc = db_memtable_create(db, m->id, &r.a.mem);
    if (rc == LSM_OK)
        rc = db_replay_one_wal(db, m, c, &r);
    if (rc == LSM_OK && r.n == 0) {
        memtable_unref(r.a.mem);
        if (!db->opt.read_only)
            db_remove_wal(db, m->id, "was empty at open");
        return LSM_OK;
    }
    if (rc == LSM_OK)
        rc = version_push_imm(v, r.a.mem);
    if (rc != LSM_OK) {
        memtable_unref(r.a.mem);
        return rc;
    }
    if (!m->frozen) {
        m->frozen = true;
        m->wal_bytes = r.valid_end;
        m->last_seq = r.last_seq;
    }
    c->known = true;
    c->last = r.last_seq;
    snprintf(c->where, sizeof c->where, "in %" PRIu64 ".wal", m->id);
    *keep = true;
    return LSM_OK;
}

/* Replays the WAL of every unflushed memtable that has one into a memtable,
 * oldest first, and adds the non-empty ones to v as immutable memtables,
 * checking that their sequence numbers go on without a gap from the last
 * flushed one, and that every frozen WAL is whole (see FORMAT.md, "WAL
 * files"). The manifest's tree forgets every memtable not recovered (no
 * WAL, or an empty one), so that the snapshot names only what the next
 * open must replay. */
static int db_replay_wals(lsm_db *db, const dir_files *files, version *v,
                          size_t *n_recovered)
{
    manifest_tree *t = manifest_tree_for_open(db->manifest);
    seq_chain c = {.known = true, .last = t->flushed_seq};
    snprintf(c.where, sizeof c.where, "in the SSTs");
    id_list dropped = {0};
    int rc = LSM_OK;
    *n_recovered = 0;
    if (t->flushed_seq > db->last_seq)
        db->last_seq = t->flushed_seq;
    for (size_t i = 0; i < t->n_mems && rc == LSM_OK; i++) {
        manifest_mem *m = &t->mems[i];
        bool keep = false;
        rc = db_recover_memtable(db, m, &c, files, v, &keep);
        if (rc == LSM_OK && !keep)
            rc = id_list_push(&dropped, m->id);
        if (rc == LSM_OK && keep)
            (*n_recovered)++;
        /* Sequence numbers never go back, even past lost writes. */
        if (rc == LSM_OK && m->frozen && m->last_seq > db->last_seq)
            db->last_seq = m->last_seq;
    }
    for (size_t i = 0; i < dropped.n; i++)
        manifest_tree_drop_memtable(t, dropped.ids[i]);
    free(dropped.ids);
    return rc;
}

/* prefix_len and prefix_delim: each in range, at most one set. */
static int db_check_prefix_options(const lsm_options *o)
{
    if (o->prefix_len > LSM_MAX_KEY_BYTES)
        return lsm_error(LSM_EINVAL, "prefix_len must be 0 (off) to %u",
                         LSM_MAX_KEY_BYTES);
    if (o->prefix_delim < -1 || o->prefix_delim > 255)
        return lsm_error(LSM_EINVAL,
                         "prefix_delim must be -1 (off) or a byte, 0 to 255 "
                         "(got %d)",
                         o->prefix_delim);
    if (o->prefix_len > 0 && o->prefix_delim >= 0)
        return lsm_error(LSM_EINVAL,
                         "prefix_len and prefix_delim are two prefix "
                         "extractors: set at most one");
    return LSM_OK;
}

_Static_assert((int)LSM_COMPRESSION_NONE == BLOCK_KIND_RAW &&
                   (int)LSM_COMPRESSION_LZ4 == BLOCK_KIND_LZ4 &&
                   (int)LSM_COMPRESSION_ZSTD == BLOCK_KIND_ZSTD,
               "sst_builder_options.compression takes lsm_compression as is");

/* compression must be a known choice, compression_level one libzstd
 * takes (checked whatever the choice, so a typo never waits for a later
 * reopen with zstd to show). */
static int db_check_compression(const lsm_options *o)
{
    if (o->compression != LSM_COMPRESSION_NONE &&
        o->compression != LSM_COMPRESSION_LZ4 &&
        o->compression != LSM_COMPRESSION_ZSTD)
        return lsm_error(LSM_EINVAL,
                         "compression must be none, lz4 or zstd (got %d)",
                         (int)o->compression);
    if (o->compression_level < block_codec_min_level() ||
        o->compression_level > block_codec_max_level())
        return lsm_error(LSM_EINVAL, "compression_level must be %d to %d",
                         block_codec_min_level(), block_codec_max_level());
    return LSM_OK;
}

static int db_check_options(const lsm_options *o)
{
    if (o->target_sst_size < 1)
        return lsm_error(LSM_EINVAL, "target_sst_size must be at least 1");
    if (o->block_size < 1)
        return lsm_error(LSM_EINVAL, "block_size must be at least 1");
    if (o->num_memtable_limit < 1)
        return lsm_error(LSM_EINVAL, "num_memtable_limit must be at least 1");
    if (o->bloom_bits_per_key > 64)
        return lsm_error(LSM_EINVAL, "bloom_bits_per_key must be 0 to 64");
    if (o->sched != LSM_SCHED_INLINE && o->sched != LSM_SCHED_THREADS)
        return lsm_error(LSM_EINVAL, "unknown scheduling mode %d",
                         (int)o->sched);
    if (o->max_levels < 1 || o->max_levels > LSM_MAX_LEVELS)
        return lsm_error(LSM_EINVAL, "max_levels must be 1 to %d",
                         LSM_MAX_LEVELS);
    int rc = db_check_prefix_options(o);
    if (rc == LSM_OK)
        rc = db_check_compression(o);
    return rc != LSM_OK ? rc : compact_options_check(o);
}

/* Allocates the handle and its locks; no I/O. */
static int db_alloc(const char *dir, const lsm_options *opt, env *e,
                    lsm_db **out)
{
    lsm_db *db = calloc(1, sizeof *db);
    if (!db || !(db->dir = strdup(dir))) {
        free(db);
        return lsm_error(LSM_ENOMEM, "out of memory opening %s", dir);
    }
    db->env = e;
    batch_init(&db->one);
    db->opt = *opt;
    db->prefix = prefix_extractor_from(opt->prefix_len, opt->prefix_delim);
    db->n_levels = levels_for(opt);
    db->current_is_tiered = opt->compaction == LSM_COMPACTION_TIERED;
    pthread_mutex_init(&db->write_mu, NULL);
    pthread_mutex_init(&db->work_mu, NULL);
    pthread_mutex_init(&db->compact_mu, NULL);
    pthread_mutex_init(&db->manifest_mu, NULL);
    pthread_mutex_init(&db->sync_mu, NULL);
    pthread_condattr_t cv_attr; /* sync_cv waits with CLOCK_MONOTONIC */
    pthread_condattr_init(&cv_attr);
    pthread_condattr_setclock(&cv_attr, CLOCK_MONOTONIC);
    pthread_cond_init(&db->sync_cv, &cv_attr);
    pthread_condattr_destroy(&cv_attr);
    pthread_mutex_init(&db->state_mu, NULL);
    pthread_cond_init(&db->state_cv, NULL);
    pthread_mutex_init(&db->snap_mu, NULL);
    db->next_iter_id = 1;
    atomic_init(&db->n_kept, 0);
    *out = db;
    return LSM_OK;
}

/* Frees what db_alloc and a partial open made. */
static void db_free(lsm_db *db)
{
    version_unref(db->current);
    wal_close(db->wal);
    batch_release(&db->one);
    record_run_release(&db->run);
    manifest_close(db->manifest);
    block_cache_destroy(db->cache);
    db_level_stats_free(db);
    db_dir_close(db); /* last: the files above were the directory's */
    pthread_mutex_destroy(&db->write_mu);
    pthread_mutex_destroy(&db->work_mu);
    pthread_mutex_destroy(&db->compact_mu);
    pthread_mutex_destroy(&db->manifest_mu);
    pthread_mutex_destroy(&db->sync_mu);
    pthread_cond_destroy(&db->sync_cv);
    pthread_mutex_destroy(&db->state_mu);
    pthread_cond_destroy(&db->state_cv);
    pthread_mutex_destroy(&db->snap_mu);
    free(db->dir);
    free(db);
}

/* Starts the mutable memtable of a freshly opened database: its manifest
 * record, then its WAL, then the memtable itself (as a freeze does). When
 * the disk refuses the record or the WAL (full, or failing: LSM_EIO, in
 * *write_rc with its message in write_msg), the memtable still starts, in
 * memory only, so the database opens for reading; the caller latches
 * *write_rc, so writes fail with it. */
static int db_start_memtable(lsm_db *db, version *v, int *write_rc,
                             char write_msg[DB_BG_MESSAGE_BYTES])
{
    memtable *mem = NULL;
    uint64_t mem_id = db->next_id++;
    *write_rc = LSM_OK;
    if (db->opt.read_only) { /* in memory only: it never takes a write */
        int rc = db_memtable_create(db, mem_id, &mem);
        if (rc == LSM_OK)
            version_set_mem(v, mem);
        return rc;
    }
    manifest_record rec = {.kind = MANIFEST_NEW_MEMTABLE,
                           .id = mem_id,
                           .has_wal = db->opt.enable_wal};
    /* The newest recovered memtable is frozen now: say so here too, in
     * case the rewrite at open (whose snapshot says it) failed. */
    const manifest_tree *t = manifest_tree_of(db->manifest);
    if (t->n_mems > 0 && t->mems[t->n_mems - 1].frozen) {
        const manifest_mem *newest = &t->mems[t->n_mems - 1];
        rec.froze = 1;
        rec.frozen_id = newest->id;
        rec.wal_bytes = newest->wal_bytes;
        rec.last_seq = newest->last_seq;
    }
    int rc = manifest_append(db->manifest, &rec);
    if (rc == LSM_OK)
        rc = db_create_wal(db, mem_id, &db->wal);
    *write_rc = rc == LSM_EIO ? rc : LSM_OK;
    if (rc == LSM_EIO) {
        lsm_error_wrap(
            rc, "open for reading only: memtable %" PRIu64 " cannot be started",
            mem_id);
        snprintf(write_msg, DB_BG_MESSAGE_BYTES, "%s", lsm_errmsg());
        rc = LSM_OK;
    }
    if (rc == LSM_OK)
        rc = db_memtable_create(db, mem_id, &mem);
    if (rc == LSM_OK)
        version_set_mem(v, mem);
    return rc;
}

/* Opens the manifest and settles what it says before anything else reads
 * it: a database without SSTs takes the options' strategy; one with SSTs
 * must have been written with it. */
static int db_open_manifest(lsm_db *db, const char *path)
{
    uint64_t torn = 0;
    int rc =
        db->opt.read_only
            ? manifest_open_read_only(db->env, path, &torn, &db->manifest)
            : manifest_open(db->env, path, NULL, NULL, &torn, &db->manifest);
    if (rc != LSM_OK)
        return rc;
    if (torn > 0)
        db_warn_torn(db, path, torn);
    manifest_tree *t = manifest_tree_for_open(db->manifest);
    /* With no SST yet, nothing was written the strategy's way. */
    if (manifest_tree_n_ssts(t) == 0)
        t->tiered = db->current_is_tiered;
    else if (t->tiered != db->current_is_tiered)
        return recovery_strategy_mismatch(t);
    memcpy(db->identity, t->identity, MANIFEST_IDENTITY_BYTES);
    return LSM_OK;
}

/* The rewrite every open does (LevelDB's too): the manifest becomes one
 * snapshot of the recovered tree. A new database has no manifest to fall
 * back on; an existing one keeps its old file if the rewrite fails. */
static int db_rewrite_manifest_at_open(lsm_db *db)
{
    int rc = db_manifest_rewrite(db, "manifest rewrite at open");
    if (rc == LSM_OK || manifest_was_empty(db->manifest))
        return rc;
    if (manifest_status(db->manifest) != LSM_OK)
        return rc; /* switched, but the new file cannot take records */
    char message[DB_BG_MESSAGE_BYTES];
    snprintf(message, sizeof message,
             "MANIFEST: rewrite at open failed, appending to the old one: %s",
             lsm_errmsg());
    lsm_event ev = {.type = LSM_EVENT_WARNING, .message = message};
    db_emit(db, &ev);
    return LSM_OK;
}

/* Read only: the MANIFEST must be there (nothing creates it). When it
 * cannot be read, the directory says whether it is missing: then dir is
 * no database, which deserves its own words. */
static int db_check_manifest_exists(lsm_db *db, int rc)
{
    dir_files files = {0};
    char message[DB_BG_MESSAGE_BYTES];
    snprintf(message, sizeof message, "%s", lsm_errmsg());
    int list_rc = db->env->list_dir(db->env, db->dir, dir_files_visit, &files);
    free(files.ssts.ids);
    free(files.wals.ids);
    if (list_rc == LSM_OK && files.rc == LSM_OK && !files.manifest)
        return lsm_error(LSM_EINVAL,
                         "%s holds no database (there is no MANIFEST in it); "
                         "a read-only open creates nothing",
                         db->dir);
    lsm_error_set_message(message);
    return rc;
}

/* Rebuilds the tree from the manifest, the SSTs and the WALs (see the top
 * of this file), rewrites the manifest, and starts a fresh mutable
 * memtable. Read only: the same, writing nothing. */
static int db_recover(lsm_db *db)
{
    char path[DB_PATH_BYTES];
    dir_files files = {0};
    size_t n_wals = 0;
    bool read_only = db->opt.read_only != 0;
    version *v = version_new(db->n_levels, db->current_is_tiered);
    int rc = v ? LSM_OK : lsm_error(LSM_ENOMEM, "out of memory");
    if (rc == LSM_OK)
        rc = db_path(db, "MANIFEST", path);
    if (rc == LSM_OK)
        rc = db_open_manifest(db, path);
    if (rc == LSM_EIO && read_only && !db->manifest)
        rc = db_check_manifest_exists(db, rc);
    /* A new MANIFEST's directory entry must be durable before it records
     * anything that matters. */
    if (rc == LSM_OK && !read_only)
        rc = db->env->sync_dir(db->env, db->dir);
    if (rc == LSM_OK)
        rc = db->env->list_dir(db->env, db->dir, dir_files_visit, &files);
    if (rc == LSM_OK)
        rc = files.rc;
    if (rc == LSM_OK)
        rc = db_check_files(db, path, &files);
    if (rc == LSM_OK)
        rc = db_open_ssts(db, manifest_tree_of(db->manifest), v);
    if (rc == LSM_OK)
        rc = db_replay_wals(db, &files, v, &n_wals);
    if (rc == LSM_OK && !read_only)
        rc = db_remove_orphans(db, &files);
    if (rc == LSM_OK && !read_only)
        rc = db_rewrite_manifest_at_open(db);
    if (rc != LSM_OK)
        goto out;
    atomic_store(&db->visible_seq, db->last_seq);
    atomic_store(&db->appended_seq, db->last_seq);
    db->synced_seq = db->last_seq;
    db->next_id = manifest_tree_of(db->manifest)->next_id;
    db->reserved_ids = db->next_id;
    db->manifest_rewrite_at = db->opt.manifest_rewrite_bytes;
    int write_rc;
    char write_msg[DB_BG_MESSAGE_BYTES];
    rc = db_start_memtable(db, v, &write_rc, write_msg);
    if (rc != LSM_OK)
        goto out;
    version_check(v);
    db->current = v;
    v = NULL;
    if (!manifest_was_empty(db->manifest)) {
        lsm_event ev = {.type = LSM_EVENT_RECOVERED,
                        .n_ssts_opened = manifest_tree_n_ssts(
                            manifest_tree_of(db->manifest)),
                        .n_wals_recovered = n_wals};
        db_emit(db, &ev);
    }
    if (write_rc != LSM_OK) {
        lsm_error_set_message(write_msg);
        db_latch_error(db, write_rc);
    }
out:
    version_unref(v);
    free(files.ssts.ids);
    free(files.wals.ids);
    return rc;
}

/* Attempts of a read-only open: each one that failed because another
 * process changed the files while it read them is followed by another. */
#define DB_READ_ONLY_ATTEMPTS 8

/* Undoes what a failed db_recover left in the handle, so that the next
 * attempt starts as the first one did. */
static void db_recover_reset(lsm_db *db)
{
    manifest_close(db->manifest);
    db->manifest = NULL;
    db->last_seq = 0;
    memset(db->identity, 0, sizeof db->identity);
}

/* db_recover for a read-only handle, which holds no lock: another process
 * may flush, compact or rewrite the MANIFEST while we read. Every such
 * change appends to the MANIFEST (or replaces it) before it creates or
 * deletes a file, so when an attempt fails on a file (missing, or not
 * what the MANIFEST we read says: LSM_EIO, LSM_ECORRUPT) and the MANIFEST
 * on disk is no longer the one it read, the failure may be the writer's
 * doing, and the open starts over. A MANIFEST still unchanged means the
 * directory really is damaged: that error stands. */
static int db_recover_read_only(lsm_db *db)
{
    char message[DB_BG_MESSAGE_BYTES];
    for (int attempt = 1;; attempt++) {
        int rc = db_recover(db);
        if (rc == LSM_OK || (rc != LSM_EIO && rc != LSM_ECORRUPT) ||
            !db->manifest)
            return rc;
        snprintf(message, sizeof message, "%s", lsm_errmsg());
        bool changed = false;
        if (manifest_changed_on_disk(db->manifest, &changed) != LSM_OK ||
            !changed) {
            lsm_error_set_message(message);
            return rc;
        }
        if (attempt == DB_READ_ONLY_ATTEMPTS)
            return lsm_error(rc,
                             "%s (another process changed the MANIFEST "
                             "during each of %d attempts to open it "
                             "read-only)",
                             message, attempt);
        db_recover_reset(db);
    }
}

static void db_stop_threads(lsm_db *db);

int lsm_open(const char *dir, const lsm_options *opt, lsm_db **out)
{
    return db_open_env(dir, opt, env_posix(), out);
}

int db_open_env(const char *dir, const lsm_options *opt, env *e, lsm_db **out)
{
    lsm_options defaults;
    lsm_db *db = NULL;
    lsm_error_clear();
    if (!out)
        return lsm_error(LSM_EINVAL, "lsm_open needs somewhere to put the "
                                     "handle");
    *out = NULL;
    if (!dir || !*dir)
        return lsm_error(LSM_EINVAL, "database path is empty");
    if (!opt) {
        lsm_options_init(&defaults);
        opt = &defaults;
    }
    int rc = db_check_options(opt);
    if (rc == LSM_OK)
        rc = db_alloc(dir, opt, e, &db);
    if (rc != LSM_OK)
        return rc;
    rc = db_dir_open(db);
    if (rc == LSM_OK && opt->block_cache_bytes > 0) {
        db->cache = block_cache_create(opt->block_cache_bytes);
        if (!db->cache)
            rc = lsm_error(LSM_ENOMEM, "out of memory for the block cache");
    }
    bool read_only = opt->read_only != 0;
    if (rc == LSM_OK)
        rc = read_only ? db_recover_read_only(db) : db_recover(db);
    /* Recovered memtables may be more than the limit allows: they stay in
     * memory, their WALs kept, until the next write (inline) or the flush
     * thread flushes them, so that opening needs no free space. A
     * read-only handle never flushes, and starts no thread. */
    if (rc == LSM_OK && opt->sched == LSM_SCHED_INLINE && !read_only)
        db->flush_owed = true;
    if (rc == LSM_OK && opt->sched == LSM_SCHED_THREADS && !read_only) {
        if (pthread_create(&db->flush_thread, NULL, db_flush_thread_main, db) !=
            0)
            rc = lsm_error(LSM_ENOMEM, "cannot start the flush thread");
        else
            db->flush_thread_started = true;
    }
    if (rc == LSM_OK && opt->sched == LSM_SCHED_THREADS && !read_only &&
        opt->compaction != LSM_COMPACTION_NONE) {
        if (pthread_create(&db->compaction_thread, NULL,
                           db_compaction_thread_main, db) != 0)
            rc = lsm_error(LSM_ENOMEM, "cannot start the compaction thread");
        else
            db->compaction_thread_started = true;
    }
    if (rc != LSM_OK) {
        db_stop_threads(db); /* those that started before the failure */
        db_free(db);
        return rc;
    }
    *out = db;
    return LSM_OK;
}

/* --- close ---------------------------------------------------------------- */

static void db_stop_threads(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    db->stopping = true;
    pthread_cond_broadcast(&db->state_cv);
    pthread_mutex_unlock(&db->state_mu);
    if (db->flush_thread_started)
        pthread_join(db->flush_thread, NULL);
    db->flush_thread_started = false;
    if (db->compaction_thread_started)
        pthread_join(db->compaction_thread, NULL);
    db->compaction_thread_started = false;
}

/* What close does with the memtables. With the WAL on it leaves them to
 * their logs, as mini-lsm's close does (and LevelDB's): the mutable
 * memtable's log is synced (the immutable ones' were at their freeze), and
 * the next open replays them all, which a class can watch. Without the WAL
 * nothing else keeps them, so they are flushed. Threads are stopped. */
static int db_close_memtables(lsm_db *db)
{
    if (!db->opt.enable_wal)
        return db_flush_all(db);
    pthread_mutex_lock(&db->write_mu);
    int rc = db->wal ? db_sync_wal_for_freeze(db) : LSM_OK;
    if (rc == LSM_OK && db->wal)
        DB_TRACE_IO(db, LSM_IO_WAL_SYNC, wal_path(db->wal), 0, "close");
    pthread_mutex_unlock(&db->write_mu);
    return rc;
}

/* Closes the mutable memtable's WAL at close, and deletes it when the
 * memtable is empty, so a database closed with nothing in memory leaves no
 * log behind. */
static void db_close_wal(lsm_db *db)
{
    version *v = db_ref_current(db);
    bool empty =
        memtable_num_keys(v->mem) == 0 && memtable_num_ranges(v->mem) == 0;
    uint64_t id = memtable_id(v->mem);
    version_unref(v);
    wal_close(db->wal);
    db->wal = NULL;
    if (empty)
        db_remove_wal(db, id, "was empty at close");
}

int lsm_close(lsm_db *db)
{
    lsm_error_clear();
    if (!db)
        return LSM_OK;
    char open_iters[256];
    pthread_mutex_lock(&db->state_mu);
    size_t n_iters = db->n_iters;
    if (n_iters > 0)
        db_pins_describe_open_locked(db, open_iters, sizeof open_iters);
    pthread_mutex_unlock(&db->state_mu);
    if (n_iters > 0)
        return lsm_error(LSM_EBUSY,
                         "%s; close them before closing the database",
                         open_iters);
    int busy = db_snap_check_none_open(db);
    if (busy != LSM_OK)
        return busy;
    if (db->opt.read_only) { /* nothing to keep, sync or delete */
        db_free(db);
        return LSM_OK;
    }
    db_stop_threads(db);
    /* A latched error means the tree may be behind the memtables; still
     * try to keep them (in their logs, or by a flush without the WAL), so
     * that nothing acknowledged is left only in memory. */
    int rc = db_close_memtables(db);
    int bg = db_check_bg_error(db);
    if (rc == LSM_OK)
        rc = bg;
    db_close_wal(db);
    db_pins_close(db); /* no reader is left: kept SSTs go */
    char message[DB_BG_MESSAGE_BYTES];
    snprintf(message, sizeof message, "%s", lsm_errmsg());
    db_free(db);
    if (rc != LSM_OK)
        lsm_error_set_message(message);
    return rc;
}
