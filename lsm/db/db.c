/*
 * db.c: opening and closing a database, the write path, freezing memtables,
 * flushing them to L0, full compaction, and the background flush thread.
 *
 * Write path: a put takes write_mu, gives the entry the next sequence number
 * and adds it to the mutable memtable. When the memtable reaches
 * target_sst_size it is frozen: a new memtable takes its place and it joins
 * the immutable list. When more than num_memtable_limit memtables are in
 * memory, the oldest immutable one is flushed to a new L0 SST with the same
 * id: synchronously in inline mode (inside the put that crossed the limit),
 * by the flush thread in threads mode.
 *
 * A flush or compaction writes and fsyncs its SSTs, fsyncs the directory,
 * appends its manifest record, and only then publishes a new version. Files
 * it made obsolete are deleted when the last reader lets go of them.
 *
 * With the sync option, a writer lets write_mu go before its fsync and
 * waits for a group commit (db_sync.c) instead.
 *
 * Errors of work done on behalf of a write (a flush it triggered, the flush
 * thread) are latched in bg_error: the write that triggered them already
 * succeeded, and every later write returns the error instead.
 */
#include "db/db_int.h"

#include "util/status_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- small helpers -------------------------------------------------------- */

void lsm_options_init(lsm_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->enable_wal = 1;
    opt->sync = 0;
    opt->target_sst_size = 2u * 1024u * 1024u;
    opt->block_size = 4096;
    opt->num_memtable_limit = 3;
    opt->block_cache_bytes = 8u * 1024u * 1024u;
    opt->bloom_bits_per_key = 10;
    opt->sched = LSM_SCHED_INLINE;
    opt->compaction = LSM_COMPACTION_LEVELED;
    /* Strategy defaults: mini-lsm's (and its CLI's). */
    opt->max_levels = 4;
    opt->level0_file_num_compaction_trigger = 2;
    opt->size_ratio_percent = 200;
    opt->base_level_size_mb = 128;
    opt->level_size_multiplier = 2;
    opt->num_tiers = 3;
    opt->max_size_amplification_percent = 200;
    opt->size_ratio = 1;
    opt->min_merge_width = 2;
    opt->max_merge_width = 0;
    opt->stall_memtables = 8;
    opt->stall_l0_files = 12;
}

const char *lsm_compaction_name(lsm_compaction c)
{
    switch (c) {
    case LSM_COMPACTION_NONE:
        return "none";
    case LSM_COMPACTION_SIMPLE:
        return "simple";
    case LSM_COMPACTION_TIERED:
        return "tiered";
    case LSM_COMPACTION_LEVELED:
        return "leveled";
    }
    return "unknown";
}

void lsm_free(void *p)
{
    free(p);
}

/* Writes "<dir>/<name>" into buf. */
int db_path(const lsm_db *db, const char *name, char *buf)
{
    int n = snprintf(buf, DB_PATH_BYTES, "%s/%s", db->dir, name);
    if (n < 0 || n >= DB_PATH_BYTES)
        return lsm_error(LSM_EINVAL, "path too long: %s/%s", db->dir, name);
    return LSM_OK;
}

int db_wal_path(const lsm_db *db, uint64_t memtable_id, char *buf)
{
    char name[32];
    snprintf(name, sizeof name, "%" PRIu64 ".wal", memtable_id);
    return db_path(db, name, buf);
}

int db_sst_path(const lsm_db *db, uint64_t sst_id, char *buf)
{
    char name[32];
    snprintf(name, sizeof name, "%" PRIu64 ".sst", sst_id);
    return db_path(db, name, buf);
}

/* How many levels below L0 a strategy has (mini-lsm's layout). Tiered will
 * keep its tiers there once tiered compaction exists; until then it uses one
 * level like NONE so that full compaction has somewhere to put its output. */
size_t levels_for(const lsm_options *opt)
{
    switch (opt->compaction) {
    case LSM_COMPACTION_SIMPLE:
    case LSM_COMPACTION_LEVELED:
        return opt->max_levels;
    case LSM_COMPACTION_TIERED:
        return 0; /* tiers come and go */
    default:
        return 1;
    }
}

void db_emit(lsm_db *db, const lsm_event *ev)
{
    if (db->opt.event_cb)
        db->opt.event_cb(db->opt.event_ctx, ev);
}

version *db_ref_current(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    version *v = db->current;
    version_ref(v);
    pthread_mutex_unlock(&db->state_mu);
    return v;
}

/* Publishes nv as the current version, taking over the caller's reference.
 * Caller holds state_mu, and must have built nv from db->current under that
 * same hold: otherwise a change published in between (a freeze racing a
 * flush in threads mode) would be lost. Returns the old version, which the
 * caller unrefs after unlocking. */
version *db_swap_locked(lsm_db *db, version *nv)
{
    version *old = db->current;
    db->current = nv;
    db->version_number++;
    pthread_cond_broadcast(&db->state_cv);
    return old;
}

uint64_t db_take_id(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    uint64_t id = db->next_id++;
    pthread_mutex_unlock(&db->state_mu);
    return id;
}

/* Latches rc and forbids any further change to the tree (see halted). */
static void db_halt(lsm_db *db, int rc)
{
    db_latch_error(db, rc);
    pthread_mutex_lock(&db->state_mu);
    db->halted = true;
    pthread_mutex_unlock(&db->state_mu);
}

int db_check_bg_error(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    int rc = db->bg_error;
    if (rc != LSM_OK)
        lsm_error_set_message(db->bg_message);
    pthread_mutex_unlock(&db->state_mu);
    return rc;
}

/* Latches rc (the first error wins) and tells the event callback. */
void db_latch_error(lsm_db *db, int rc)
{
    char message[DB_BG_MESSAGE_BYTES];
    snprintf(message, sizeof message, "%s", lsm_errmsg());
    pthread_mutex_lock(&db->state_mu);
    bool first = db->bg_error == LSM_OK;
    if (first) {
        db->bg_error = rc;
        memcpy(db->bg_message, message, sizeof message);
        /* Wake stalled writers and idle threads: they wait for progress
         * that will not come now. */
        pthread_cond_broadcast(&db->state_cv);
    }
    pthread_mutex_unlock(&db->state_mu);
    if (first) {
        lsm_event ev = {
            .type = LSM_EVENT_BACKGROUND_ERROR, .rc = rc, .message = message};
        db_emit(db, &ev);
    }
}

int db_manifest_append(lsm_db *db, const manifest_record *rec)
{
    pthread_mutex_lock(&db->manifest_mu);
    int rc = manifest_append(db->manifest, rec);
    pthread_mutex_unlock(&db->manifest_mu);
    return rc;
}

int db_may_change_tree(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    int rc = db->halted ? db->bg_error : LSM_OK;
    if (rc != LSM_OK)
        lsm_error_set_message(db->bg_message);
    pthread_mutex_unlock(&db->state_mu);
    if (rc != LSM_OK)
        return rc;
    /* A flush or compaction after a failed manifest append could rewrite
     * or delete a file that the half-recorded change names. */
    pthread_mutex_lock(&db->manifest_mu);
    rc = manifest_status(db->manifest);
    pthread_mutex_unlock(&db->manifest_mu);
    if (rc != LSM_OK)
        return lsm_error(rc, "the manifest lost an append; reopen the "
                             "database to repair it");
    return LSM_OK;
}

/* --- freezing ------------------------------------------------------------- */

/* Creates the WAL of a new memtable and makes its directory entry durable,
 * so that writes acknowledged into it can be found after a power loss.
 * *out stays NULL when the WAL is off. */
int db_create_wal(lsm_db *db, uint64_t memtable_id, wal **out)
{
    char path[DB_PATH_BYTES];
    *out = NULL;
    if (!db->opt.enable_wal)
        return LSM_OK;
    int rc = db_wal_path(db, memtable_id, path);
    if (rc == LSM_OK)
        rc = wal_create(db->env, path, out);
    if (rc == LSM_OK)
        rc = db->env->sync_dir(db->env, db->dir);
    if (rc != LSM_OK && *out) {
        wal_close(*out);
        *out = NULL;
        db->env->unlink(db->env, path);
    }
    return rc;
}

/* Makes the mutable memtable the newest immutable one and installs a fresh
 * memtable with its own WAL. Caller holds write_mu. An empty memtable is
 * left alone.
 *
 * Order: the manifest records the new memtable, then its WAL is created
 * (durably), then writes go to it. A crash in between leaves a recorded
 * memtable without a WAL, which recovery skips; a WAL never exists without
 * a record naming it. */
static int db_freeze_locked(lsm_db *db)
{
    version *v = db_ref_current(db);
    memtable *old = v->mem;
    lsm_event ev = {.type = LSM_EVENT_MEMTABLE_FROZEN,
                    .memtable_id = memtable_id(old),
                    .num_entries = memtable_num_keys(old),
                    .size_bytes = memtable_size_bytes(old)};
    bool empty = memtable_num_keys(old) == 0;
    version_unref(v);
    if (empty)
        return LSM_OK;

    memtable *fresh = NULL;
    version *nv = NULL;
    wal *fresh_wal = NULL;
    uint64_t id = db_take_id(db);
    /* Without the sync option, writes reach the disk when the OS decides.
     * Syncing the finished log here (once per memtable) means a power loss
     * can only lose writes of the newest memtable: what survives is still
     * a prefix of what was written. */
    int rc = db_sync_wal_for_freeze(db);
    if (rc == LSM_OK) {
        manifest_record rec = {.kind = MANIFEST_NEW_MEMTABLE,
                               .id = id,
                               .has_wal = db->opt.enable_wal};
        rc = db_manifest_append(db, &rec);
    }
    if (rc == LSM_OK)
        rc = db_create_wal(db, id, &fresh_wal);
    if (rc == LSM_OK)
        rc = memtable_create(id, &fresh);
    if (rc != LSM_OK)
        goto out;

    pthread_mutex_lock(&db->state_mu);
    nv = version_copy(db->current);
    if (!nv || version_push_imm(nv, nv->mem) != LSM_OK) {
        pthread_mutex_unlock(&db->state_mu);
        rc = lsm_error(LSM_ENOMEM, "out of memory freezing a memtable");
        goto out;
    }
    nv->mem = fresh; /* the copy's reference on old moved into imm */
    fresh = NULL;
    version *prev = db_swap_locked(db, nv);
    nv = NULL;
    pthread_mutex_unlock(&db->state_mu);
    version_unref(prev);

    db_retire_wal(db, fresh_wal);
    fresh_wal = NULL;
    COUNTER_ADD(&db->ctrs, memtables_frozen, 1);
    ev.new_memtable_id = id;
    db_emit(db, &ev);
out:
    if (fresh_wal) {
        char path[DB_PATH_BYTES];
        wal_close(fresh_wal);
        if (db_wal_path(db, id, path) == LSM_OK)
            db->env->unlink(db->env, path);
    }
    memtable_unref(fresh);
    version_unref(nv);
    return rc;
}

/* --- flushing ------------------------------------------------------------- */

/* Writes the newest version of every key of mt into a new SST named after
 * the memtable and opens it. Older versions are dropped: nothing reads them
 * until snapshots exist. Tombstones are kept: they hide older SSTs' data.
 * *out is NULL for an empty memtable. */
static int db_write_l0_sst(lsm_db *db, memtable *mt, sst **out,
                           sst_summary *summary)
{
    char path[DB_PATH_BYTES];
    sst_builder *b = NULL;
    uint64_t id = memtable_id(mt);
    *out = NULL;
    if (memtable_num_keys(mt) == 0)
        return LSM_OK;
    int rc = db_sst_path(db, id, path);
    if (rc != LSM_OK)
        return rc;
    sst_builder_options bopt = {.block_size = db->opt.block_size,
                                .bloom_bits_per_key =
                                    db->opt.bloom_bits_per_key};
    rc = sst_builder_open(db->env, path, &bopt, &b);
    if (rc != LSM_OK)
        return rc;
    iter *it = memtable_iter_new(mt);
    if (!it) {
        sst_builder_abandon(b);
        return lsm_error(LSM_ENOMEM, "out of memory flushing memtable %" PRIu64,
                         id);
    }
    entry prev = {0};
    bool have_prev = false;
    for (rc = iter_seek(it, NULL, 0); rc == LSM_OK && iter_valid(it);
         rc = iter_next(it)) {
        entry e;
        iter_entry(it, &e);
        /* Memtable entries live in its arena, so prev stays valid. */
        if (have_prev && user_key_cmp(prev.key, prev.nkey, e.key, e.nkey) == 0)
            continue;
        rc = sst_builder_add(b, &e);
        if (rc != LSM_OK)
            break;
        prev = e;
        have_prev = true;
    }
    iter_destroy(it);
    if (rc != LSM_OK) {
        sst_builder_abandon(b);
        return rc;
    }
    rc = sst_builder_finish(b, summary);
    if (rc != LSM_OK)
        return rc;
    rc = sst_open(db->env, path, id, db->cache, &db->ctrs, out);
    if (rc != LSM_OK)
        db->env->unlink(db->env, path);
    return rc;
}

/* Deletes the WAL of a memtable whose data is now in the manifest's SSTs
 * (or that was empty). A failure is harmless: open removes WALs of flushed
 * memtables. */
void db_remove_wal(lsm_db *db, uint64_t memtable_id)
{
    char path[DB_PATH_BYTES];
    if (db_wal_path(db, memtable_id, path) == LSM_OK)
        db->env->unlink(db->env, path);
}

/* Adds a flushed SST to an unpublished version: the newest L0 SST, or (in
 * tiered compaction) a new tier of its own at the front. */
static int version_add_flushed(version *v, sst *t)
{
    if (!v->tiered)
        return version_push_l0(v, t);
    int rc = version_insert_run(v, 0, sst_id(t));
    if (rc == LSM_OK)
        rc = version_add_to_run(v, 0, t);
    return rc;
}

/* Publishes a flush: the oldest immutable memtable leaves, t (NULL for an
 * empty memtable) joins the tree, taking the caller's reference. Caller
 * holds work_mu, so nobody else removed an immutable memtable since the
 * flush chose it: the oldest one is still the one flushed. */
static int db_install_flush(lsm_db *db, sst *t)
{
    pthread_mutex_lock(&db->state_mu);
    version *nv = version_copy(db->current);
    if (!nv || (t && version_add_flushed(nv, t) != LSM_OK)) {
        pthread_mutex_unlock(&db->state_mu);
        version_unref(nv);
        return lsm_error(LSM_ENOMEM, "out of memory installing a flush");
    }
    memtable_unref(version_pop_oldest_imm(nv));
    version *old = db_swap_locked(db, nv);
    pthread_mutex_unlock(&db->state_mu);
    version_unref(old);
    return LSM_OK;
}

/* Flushes the oldest immutable memtable, if any, to a new L0 SST. Takes
 * work_mu. *flushed says whether there was one. */
static int db_flush_oldest(lsm_db *db, bool *flushed)
{
    *flushed = false;
    pthread_mutex_lock(&db->work_mu);
    pthread_mutex_lock(&db->state_mu);
    version *cur = db->current;
    memtable *mt = cur->n_imm ? cur->imm[cur->n_imm - 1] : NULL;
    if (mt)
        memtable_ref(mt);
    pthread_mutex_unlock(&db->state_mu);
    if (!mt) {
        pthread_mutex_unlock(&db->work_mu);
        return LSM_OK;
    }

    uint64_t id = memtable_id(mt);
    int rc = db_may_change_tree(db);
    if (rc != LSM_OK) {
        memtable_unref(mt);
        pthread_mutex_unlock(&db->work_mu);
        return rc;
    }
    lsm_event begin = {.type = LSM_EVENT_FLUSH_BEGIN, .memtable_id = id};
    db_emit(db, &begin);

    sst *t = NULL;
    sst_summary summary = {0};
    bool maybe_recorded = false;
    rc = db_write_l0_sst(db, mt, &t, &summary);
    if (rc == LSM_OK && t)
        rc = db->env->sync_dir(db->env, db->dir);
    if (rc == LSM_OK && t) {
        /* An empty memtable leaves no SST and needs no record: recovery
         * skips a memtable whose WAL is gone. */
        manifest_record rec = {
            .kind = MANIFEST_FLUSH, .id = id, .to_tier = db->current_is_tiered};
        maybe_recorded = true;
        rc = db_manifest_append(db, &rec);
    }
    if (rc == LSM_OK)
        rc = db_install_flush(db, t);
    if (rc == LSM_OK) {
        t = NULL; /* the version owns our reference now */
        db_remove_wal(db, id);
        COUNTER_ADD(&db->ctrs, flushes, 1);
        COUNTER_ADD(&db->ctrs, flush_bytes_written, summary.file_size);
        lsm_event end = {.type = LSM_EVENT_FLUSH_END,
                         .memtable_id = id,
                         .sst_id = id,
                         .num_entries = summary.num_entries,
                         .size_bytes = summary.file_size};
        db_emit(db, &end);
        *flushed = true;
    }
    if (t) {
        /* Written but not installed. Delete it only if the manifest cannot
         * name it: a failed append may still have reached the disk whole,
         * and then the next open needs the file. (If it is not named, open
         * removes it as an orphan.) */
        if (!maybe_recorded)
            sst_mark_obsolete(t);
        sst_unref(t);
    }
    memtable_unref(mt);
    pthread_mutex_unlock(&db->work_mu);
    /* Whoever asked for the flush, its failure is latched: the writes that
     * filled the memtable were acknowledged, and later writes must learn
     * that the tree cannot take them in. */
    if (rc != LSM_OK)
        db_latch_error(db, rc);
    return rc;
}

/* True when more memtables are in memory than num_memtable_limit. */
static bool db_needs_flush(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    bool needed = 1 + db->current->n_imm > db->opt.num_memtable_limit;
    pthread_mutex_unlock(&db->state_mu);
    return needed;
}

/* Inline mode: flush until the memtable limit holds again. Caller holds
 * write_mu, which keeps the sequence of events deterministic. */
/* Inline mode: after a flush the strategy compacts until nothing is due,
 * inside the same call, so a script always sees the same tree. A failure
 * is latched: the write that led here succeeded. */
static int db_flush_oldest_inline(lsm_db *db, bool *flushed)
{
    int rc = db_flush_oldest(db, flushed);
    if (rc == LSM_OK && *flushed && db->opt.sched == LSM_SCHED_INLINE) {
        rc = db_compact_until_settled(db);
        if (rc != LSM_OK)
            db_latch_error(db, rc);
    }
    return rc;
}

int db_flush_while_over_limit(lsm_db *db)
{
    int rc = LSM_OK;
    bool flushed = true;
    while (rc == LSM_OK && flushed && db_needs_flush(db))
        rc = db_flush_oldest_inline(db, &flushed);
    return rc;
}

/* Work owed after a freeze: inline mode flushes now, threads mode wakes the
 * flush thread (db_freeze_locked already signalled state_cv). */
static void db_after_freeze(lsm_db *db)
{
    if (db->opt.sched != LSM_SCHED_INLINE)
        return;
    /* A failure is latched by the flush itself; this write succeeded. */
    (void)db_flush_while_over_limit(db);
}

void *db_flush_thread_main(void *arg)
{
    lsm_db *db = arg;
    pthread_mutex_lock(&db->state_mu);
    for (;;) {
        while (!db->stopping && db->bg_error == LSM_OK &&
               1 + db->current->n_imm <= db->opt.num_memtable_limit)
            pthread_cond_wait(&db->state_cv, &db->state_mu);
        if (db->stopping || db->bg_error != LSM_OK)
            break;
        pthread_mutex_unlock(&db->state_mu);
        bool flushed;
        (void)db_flush_oldest(db, &flushed); /* latches its own failure */
        pthread_mutex_lock(&db->state_mu);
    }
    pthread_mutex_unlock(&db->state_mu);
    return NULL;
}

/* --- writes --------------------------------------------------------------- */

/* wal_decode_record's callback: applies one entry to the memtable, counting
 * it (db may be NULL during recovery) and noting the newest seq. */
int db_apply_entry(void *ctx, uint64_t seq, uint8_t type, const uint8_t *key,
                   size_t nkey, const uint8_t *value, size_t nvalue)
{
    apply_ctx *a = ctx;
    int rc = memtable_put(a->mem, key, nkey, seq, type, value, nvalue);
    if (rc != LSM_OK)
        return rc;
    if (seq > a->max_seq)
        a->max_seq = seq;
    if (a->db && type == ENTRY_VALUE)
        COUNTER_ADD(&a->db->ctrs, puts, 1);
    else if (a->db)
        COUNTER_ADD(&a->db->ctrs, deletes, 1);
    return LSM_OK;
}

/* Writes batch b: sequence numbers, WAL, memtable, then makes it visible,
 * all under write_mu (which the caller holds). The batch becomes visible to
 * readers in one step (visible_seq), so no reader sees half of it.
 *
 * A failure after the WAL append began is latched: the log may now end in
 * a partial record, and the memtable may hold part of the batch; only a
 * reopen (which cuts the torn tail and replays) puts that right. */
/* The L0 size that stalls writers, or 0 for never: only strategies that
 * compact L0 can bring it back down (NONE never does, TIERED has no L0),
 * and never below their own L0 trigger, or writers would wait forever. */
static unsigned db_l0_stall_limit(const lsm_db *db)
{
    const lsm_options *o = &db->opt;
    if (o->stall_l0_files == 0 || (o->compaction != LSM_COMPACTION_SIMPLE &&
                                   o->compaction != LSM_COMPACTION_LEVELED))
        return 0;
    return o->stall_l0_files > o->level0_file_num_compaction_trigger
               ? o->stall_l0_files
               : o->level0_file_num_compaction_trigger;
}

/* Whether writers must wait for background work (threads mode). Caller
 * holds state_mu. */
static bool db_must_stall(const lsm_db *db)
{
    const version *v = db->current;
    /* Never below num_memtable_limit: the flush thread only flushes above
     * it, so a lower limit would wait forever. */
    size_t mem_limit = db->opt.stall_memtables;
    if (mem_limit && mem_limit < db->opt.num_memtable_limit)
        mem_limit = db->opt.num_memtable_limit;
    unsigned l0_limit = db_l0_stall_limit(db);
    return (mem_limit && 1 + v->n_imm > mem_limit) ||
           (l0_limit && v->n_l0 > l0_limit);
}

/* Threads mode: while memory or L0 is over its stall limit, the writer
 * (holding write_mu) waits for the flush and compaction threads, which
 * need only work_mu, compact_mu and state_mu, instead of letting the tree
 * grow without bound. The wait is counted. Returns whether it waited. */
static bool db_stall_if_needed(lsm_db *db)
{
    if (db->opt.sched != LSM_SCHED_THREADS)
        return false;
    pthread_mutex_lock(&db->state_mu);
    if (!db_must_stall(db)) {
        pthread_mutex_unlock(&db->state_mu);
        return false;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (db_must_stall(db) && !db->stopping && db->bg_error == LSM_OK)
        pthread_cond_wait(&db->state_cv, &db->state_mu);
    pthread_mutex_unlock(&db->state_mu);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t micros = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000u +
                      (uint64_t)((t1.tv_nsec - t0.tv_nsec) / 1000);
    COUNTER_ADD(&db->ctrs, write_stalls, 1);
    COUNTER_ADD(&db->ctrs, stall_micros, micros);
    return true;
}

static int db_write_locked(lsm_db *db, lsm_batch *b)
{
    int rc = db_check_bg_error(db);
    if (rc != LSM_OK || b->count == 0)
        return rc;
    /* A stall may end because background work failed: look again. */
    if (db_stall_if_needed(db)) {
        rc = db_check_bg_error(db);
        if (rc != LSM_OK)
            return rc;
    }
    size_t n;
    uint64_t first_seq = db->last_seq + 1;
    batch_set_first_seq(b, first_seq);
    const uint8_t *payload = batch_payload(b, &n);
    if (db->wal) {
        rc = wal_append(db->wal, b->rep, n, false);
        if (rc != LSM_OK) {
            db_latch_error(db, rc);
            return rc;
        }
        COUNTER_ADD(&db->ctrs, wal_bytes_written, LOG_HEADER_BYTES + n);
    }
    /* Only writers replace mem, and write_mu is held: mem stays put. */
    version *v = db_ref_current(db);
    apply_ctx a = {.db = db, .mem = v->mem};
    rc = wal_decode_record(payload, n, db_apply_entry, &a);
    bool full = memtable_size_bytes(v->mem) >= db->opt.target_sst_size;
    version_unref(v);
    if (rc != LSM_OK) {
        /* The memtable may hold part of the batch: it must never reach an
         * SST. Reopening replays the whole record from the WAL. */
        db_halt(db, rc);
        return rc;
    }
    db->last_seq += b->count;
    atomic_store_explicit(&db->appended_seq, db->last_seq,
                          memory_order_release);
    atomic_fetch_add_explicit(&db->appended_records, 1, memory_order_release);
    /* With the sync option the write becomes visible once it is durable
     * (db_wait_durable), so no reader sees a write a power loss can undo. */
    if (!db_group_commits(db))
        atomic_store_explicit(&db->visible_seq, db->last_seq,
                              memory_order_release);
    COUNTER_ADD(&db->ctrs, user_bytes_written, b->user_bytes);
    if (full) {
        int frc = db_freeze_locked(db);
        if (frc != LSM_OK)
            db_latch_error(db, frc);
        else
            db_after_freeze(db);
    }
    return LSM_OK;
}

/* lsm_put and lsm_delete: a one-entry batch in the db's scratch batch. */
static int db_write_one(lsm_db *db, uint8_t type, const void *key, size_t nkey,
                        const void *value, size_t nvalue)
{
    lsm_error_clear();
    if (!db)
        return lsm_error(LSM_EINVAL, "database handle is NULL");
    db_writer_enter(db);
    pthread_mutex_lock(&db->write_mu);
    lsm_batch_clear(&db->one);
    int rc = batch_add(&db->one, type, key, nkey, value, nvalue);
    if (rc == LSM_OK)
        rc = db_write_locked(db, &db->one);
    uint64_t seq = db->last_seq;
    pthread_mutex_unlock(&db->write_mu);
    if (rc == LSM_OK && db_group_commits(db))
        rc = db_wait_durable(db, seq);
    db_writer_leave(db);
    return rc;
}

int lsm_put(lsm_db *db, const void *key, size_t nkey, const void *value,
            size_t nvalue)
{
    return db_write_one(db, ENTRY_VALUE, key, nkey, value, nvalue);
}

int lsm_delete(lsm_db *db, const void *key, size_t nkey)
{
    return db_write_one(db, ENTRY_TOMBSTONE, key, nkey, NULL, 0);
}

int lsm_write(lsm_db *db, lsm_batch *b)
{
    lsm_error_clear();
    if (!db || !b)
        return lsm_error(LSM_EINVAL, "lsm_write needs a handle and a batch");
    db_writer_enter(db);
    pthread_mutex_lock(&db->write_mu);
    int rc = db_write_locked(db, b);
    uint64_t seq = db->last_seq;
    pthread_mutex_unlock(&db->write_mu);
    if (rc == LSM_OK && b->count > 0 && db_group_commits(db))
        rc = db_wait_durable(db, seq);
    db_writer_leave(db);
    return rc;
}

/* Freezes the mutable memtable and flushes every immutable one. */
int db_flush_all(lsm_db *db)
{
    pthread_mutex_lock(&db->write_mu);
    int rc = db_freeze_locked(db);
    bool flushed = true;
    while (rc == LSM_OK && flushed)
        rc = db_flush_oldest_inline(db, &flushed);
    pthread_mutex_unlock(&db->write_mu);
    return rc;
}

/* The checks every public call that changes the tree starts with: a
 * handle, and no latched background error. */
int db_begin_change(lsm_db *db)
{
    lsm_error_clear();
    if (!db)
        return lsm_error(LSM_EINVAL, "database handle is NULL");
    return db_check_bg_error(db);
}

int lsm_flush(lsm_db *db)
{
    int rc = db_begin_change(db);
    return rc == LSM_OK ? db_flush_all(db) : rc;
}

/* --- id lists ------------------------------------------------------------- */

int id_list_push(id_list *l, uint64_t id)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        uint64_t *grown = realloc(l->ids, cap * sizeof *grown);
        if (!grown)
            return lsm_error(LSM_ENOMEM, "out of memory");
        l->ids = grown;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return LSM_OK;
}
