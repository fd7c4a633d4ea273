/*
 * db_flush.c: freezing the mutable memtable and flushing immutable ones to
 * L0 (or to new tiers), inline or on the flush thread.
 *
 * When the mutable memtable is full (memtable_is_full: its key + value
 * bytes or its memory reached target_sst_size), the write that filled it
 * freezes it: a new memtable (with its own WAL) takes its place and it
 * becomes the newest immutable one. When more than num_memtable_limit
 * memtables are in memory, the oldest immutable one is flushed to a new L0
 * SST with the same id: synchronously in inline mode (inside the write that
 * crossed the limit, followed by the compactions it made due), by the flush
 * thread in threads mode.
 *
 * A flush keeps every version of a key above the watermark plus the newest
 * at or below it (compact/version_filter_int.h), so snapshots read the
 * flushed SST as they read the memtable.
 *
 * A flush writes and fsyncs its SST, fsyncs the directory, appends its
 * manifest record, and only then publishes a new version and deletes the
 * memtable's WAL.
 */
#include "db/db_int.h"

#include "compact/version_filter_int.h"
#include "util/status_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- freezing ------------------------------------------------------------- */

int db_memtable_create(const lsm_db *db, uint64_t memtable_id, memtable **out)
{
    return memtable_create_filtered(
        memtable_id, db->opt.memtable_bloom ? db->opt.target_sst_size : 0, out);
}

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
    if (rc == LSM_OK) {
        DB_TRACE_IO(db, LSM_IO_FILE_CREATE, path, 0, "new memtable %" PRIu64,
                    memtable_id);
        rc = db->env->sync_dir(db->env, db->dir);
    }
    if (rc == LSM_OK)
        DB_TRACE_IO(db, LSM_IO_DIR_SYNC, NULL, 0, "%" PRIu64 ".wal created",
                    memtable_id);
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
int db_freeze_locked(lsm_db *db)
{
    version *v = db_ref_current(db);
    memtable *old = v->mem;
    lsm_event ev = {.type = LSM_EVENT_MEMTABLE_FROZEN,
                    .memtable_id = memtable_id(old),
                    .num_entries = memtable_num_keys(old),
                    .size_bytes = memtable_size_bytes(old),
                    .num_range_tombstones = memtable_num_ranges(old)};
    bool empty = memtable_num_keys(old) == 0 && memtable_num_ranges(old) == 0;
    db_pins_release_version(db, v);
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
    /* Set once the record saying how long the old WAL is may be on disk. */
    bool recorded = false;
    if (rc == LSM_OK && db->wal)
        DB_TRACE_IO(db, LSM_IO_WAL_SYNC, wal_path(db->wal), 0,
                    "memtable %" PRIu64 " frozen", ev.memtable_id);
    if (rc == LSM_OK) {
        recorded = true;
        /* It also records what the frozen memtable's WAL holds (synced
         * just above), so that recovery can tell it whole. */
        manifest_record rec = {.kind = MANIFEST_NEW_MEMTABLE,
                               .id = id,
                               .has_wal = db->opt.enable_wal,
                               .froze = 1,
                               .frozen_id = ev.memtable_id,
                               .wal_bytes = db->wal ? wal_size(db->wal) : 0,
                               .last_seq = db->last_seq};
        rc = db_manifest_append(db, &rec);
    }
    if (rc == LSM_OK)
        rc = db_create_wal(db, id, &fresh_wal);
    if (rc == LSM_OK)
        rc = db_memtable_create(db, id, &fresh);
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
    if (rc != LSM_OK)
        lsm_error_wrap(rc, "freezing memtable %" PRIu64 " failed",
                       ev.memtable_id);
    /* The manifest may already say the old WAL ends here, and recovery
     * reads no further: a write appended to it now would be acknowledged
     * and then lost. So no write may follow until the database is
     * reopened (the first latched error wins; a writer may latch it too). */
    if (rc != LSM_OK && recorded)
        db_latch_error(db, rc);
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

/* Reports the file of a flush's SST, removed because the flush failed. */
static void db_flush_report_deleted(lsm_db *db, uint64_t sst_id)
{
    db_report_sst_deleted(db, &sst_id, 1, "flush failed");
}

/* Writes the versions of mt that vf keeps into a new SST named after the
 * memtable and opens it: every version above the watermark and the newest
 * at or below it (with no watermark, the newest version of each key only);
 * the rest no read point can see. Tombstones are kept (vf does not drop
 * them): they hide older SSTs' data. *out is NULL for an empty memtable. */
/* The range tombstones SST t holds. */
static uint64_t db_flush_ranges_in(const sst *t)
{
    size_t n;
    sst_range_tombs(t, &n);
    return n;
}

/* The memtable's range tombstones: all go to the SST (a flush's output is
 * never the bottom: vf keeps every point tombstone too), and, fragmented
 * at the watermark in *frags, they let vf drop the versions they hide. */
static int db_flush_ranges(memtable *mt, sst_builder *b, version_filter *vf,
                           range_frags **frags)
{
    range_tomb_list l = {0};
    *frags = NULL;
    if (memtable_num_ranges(mt) == 0)
        return LSM_OK;
    int rc = memtable_collect_ranges(mt, UINT64_MAX, &l);
    if (rc == LSM_OK)
        rc = range_frags_build(l.v, l.n, vf->watermark, frags);
    if (rc == LSM_OK) {
        range_tomb_list_sort(&l);
        rc = sst_builder_set_ranges(b, &l);
    }
    if (rc == LSM_OK)
        version_filter_set_ranges(vf, *frags);
    range_tomb_list_free(&l);
    return rc;
}

static int db_flush_write_sst(lsm_db *db, memtable *mt, version_filter *vf,
                              sst **out, sst_summary *summary)
{
    char path[DB_PATH_BYTES];
    sst_builder *b = NULL;
    uint64_t id = memtable_id(mt);
    *out = NULL;
    if (memtable_num_keys(mt) == 0 && memtable_num_ranges(mt) == 0)
        return LSM_OK;
    int rc = db_sst_path(db, id, path);
    if (rc != LSM_OK)
        return rc;
    sst_builder_options bopt = {.block_size = db->opt.block_size,
                                .bloom_bits_per_key =
                                    db->opt.bloom_bits_per_key,
                                .prefix = db->prefix,
                                .sst_id = id,
                                .db_identity = db->identity,
                                .compression = db->opt.compression,
                                .compression_level = db->opt.compression_level};
    rc = sst_builder_open(db->env, path, &bopt, &b);
    if (rc != LSM_OK)
        return rc;
    DB_TRACE_IO(db, LSM_IO_FILE_CREATE, path, 0, "flush of memtable %" PRIu64,
                id);
    range_frags *frags = NULL;
    rc = db_flush_ranges(mt, b, vf, &frags);
    iter *it = rc == LSM_OK ? memtable_iter_new(mt) : NULL;
    if (!it) {
        sst_builder_abandon(b);
        range_frags_free(frags);
        db_flush_report_deleted(db, id);
        return rc != LSM_OK
                   ? rc
                   : lsm_error(LSM_ENOMEM,
                               "out of memory flushing memtable %" PRIu64, id);
    }
    for (rc = iter_seek(it, NULL, 0); rc == LSM_OK && iter_valid(it);
         rc = iter_next(it)) {
        entry e;
        version_verdict verdict;
        iter_entry(it, &e);
        rc = version_filter_decide(vf, &e, &verdict);
        if (rc == LSM_OK && verdict.keep)
            rc = sst_builder_add(b, &e);
        if (rc != LSM_OK)
            break;
    }
    iter_destroy(it);
    range_frags_free(frags);
    if (rc != LSM_OK) {
        sst_builder_abandon(b); /* removes the file */
        db_flush_report_deleted(db, id);
        return rc;
    }
    rc = sst_builder_finish(b, summary); /* on error, removes the file */
    if (rc == LSM_OK) {
        /* finish wrote what add had not yet, then fsynced. */
        DB_TRACE_IO(db, LSM_IO_SST_WRITE, path, summary->file_size,
                    "flush of memtable %" PRIu64, id);
        DB_TRACE_IO(db, LSM_IO_SST_SYNC, path, 0, "flush of memtable %" PRIu64,
                    id);
        rc = db_sst_open(db, path, id, out);
        if (rc != LSM_OK)
            db->env->unlink(db->env, path);
    }
    if (rc != LSM_OK)
        db_flush_report_deleted(db, id);
    return rc;
}

/* Deletes the WAL of a memtable whose data is now in the manifest's SSTs
 * (or that was empty). A failure is harmless: open removes WALs of flushed
 * memtables. */
void db_remove_wal(lsm_db *db, uint64_t memtable_id, const char *why)
{
    char path[DB_PATH_BYTES];
    if (db_wal_path(db, memtable_id, path) == LSM_OK &&
        db->env->unlink(db->env, path) == LSM_OK)
        DB_TRACE_IO(db, LSM_IO_FILE_DELETE, path, 0, "memtable %" PRIu64 " %s",
                    memtable_id, why);
}

/* Adds a flushed SST to an unpublished version: the newest L0 SST, or (in
 * tiered compaction) a new tier of its own at the front. */
static int db_flush_add_to_version(version *v, sst *t)
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
static int db_install_flush(lsm_db *db, sst *t, db_stats_update *stats)
{
    pthread_mutex_lock(&db->state_mu);
    version *nv = version_copy(db->current);
    if (!nv || (t && db_flush_add_to_version(nv, t) != LSM_OK)) {
        pthread_mutex_unlock(&db->state_mu);
        version_unref(nv);
        return lsm_error(LSM_ENOMEM, "out of memory installing a flush");
    }
    memtable_unref(version_pop_oldest_imm(nv));
    if (t)
        db_stats_apply_locked(db, stats);
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
    db_stats_update stats = {0};
    bool maybe_recorded = false;
    /* Read once, before the memtable is: read points taken later are at
     * or above it, so they find what they need among the versions kept. */
    version_filter vf;
    version_filter_init(&vf, db_watermark(db), false);
    rc = db_flush_write_sst(db, mt, &vf, &t, &summary);
    version_filter_free(&vf);
    if (rc == LSM_OK && t)
        rc = db_stats_for_flush(db, id, summary.file_size, &stats);
    if (rc == LSM_OK && t) {
        rc = db->env->sync_dir(db->env, db->dir);
        if (rc == LSM_OK && db_tracing_io(db))
            db_trace_ssts_named(db, &id, 1);
    }
    if (rc == LSM_OK && t) {
        /* An empty memtable leaves no SST and needs no record: recovery
         * skips a memtable whose WAL is gone. */
        manifest_sst meta;
        db_manifest_sst_of(t, &meta);
        manifest_record rec = {.kind = MANIFEST_FLUSH,
                               .id = id,
                               .to_tier = db->current_is_tiered,
                               .last_seq =
                                   summary.max_seq > memtable_max_seq(mt)
                                       ? summary.max_seq
                                       : memtable_max_seq(mt),
                               .ssts = &meta};
        maybe_recorded = true;
        rc = db_manifest_append(db, &rec);
    }
    /* Read before the install: from then on a compaction may retire t. */
    uint64_t n_ranges = t ? db_flush_ranges_in(t) : 0;
    if (rc == LSM_OK)
        rc = db_install_flush(db, t, &stats);
    db_stats_update_free(&stats);
    if (rc == LSM_OK) {
        db_remove_wal(db, id, t ? "was flushed" : "was empty");
        t = NULL; /* the version owns our reference now */
        COUNTER_ADD(&db->ctrs, flushes, 1);
        COUNTER_ADD(&db->ctrs, flush_bytes_written, summary.file_size);
        COUNTER_ADD(&db->ctrs, versions_dropped, vf.dropped);
        COUNTER_ADD(&db->ctrs, versions_kept, vf.kept);
        lsm_event end = {.type = LSM_EVENT_FLUSH_END,
                         .memtable_id = id,
                         .sst_id = id,
                         .num_entries = summary.num_entries,
                         .size_bytes = summary.file_size,
                         .num_range_tombstones = n_ranges};
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
        sst_unref(t); /* ours is the only reference: the file goes now */
        if (!maybe_recorded)
            db_flush_report_deleted(db, id);
    }
    memtable_unref(mt);
    pthread_mutex_unlock(&db->work_mu);
    /* Whoever asked for the flush, its failure is latched: the writes that
     * filled the memtable were acknowledged, and later writes must learn
     * that the tree cannot take them in. The message says which flush, as
     * the writes that meet it later did not run it. */
    if (rc != LSM_OK) {
        lsm_error_wrap(
            rc, "flush of memtable %" PRIu64 " to %" PRIu64 ".sst failed", id,
            id);
        db_latch_error(db, rc);
    }
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

/* Inline mode: flush until the memtable limit holds again. Caller holds
 * write_mu, which keeps the sequence of events deterministic. */
int db_flush_while_over_limit(lsm_db *db)
{
    int rc = LSM_OK;
    bool flushed = true;
    while (rc == LSM_OK && flushed && db_needs_flush(db))
        rc = db_flush_oldest_inline(db, &flushed);
    return rc;
}

int db_flush_owed_locked(lsm_db *db)
{
    if (!db->flush_owed)
        return LSM_OK;
    int rc = db_flush_while_over_limit(db);
    if (rc == LSM_OK)
        db->flush_owed = false;
    return rc;
}

/* Work owed after a freeze: inline mode flushes now, threads mode wakes the
 * flush thread (db_freeze_locked already signalled state_cv). */
void db_after_freeze(lsm_db *db)
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

int lsm_flush(lsm_db *db)
{
    int rc = db_begin_change(db, "lsm_flush");
    return rc == LSM_OK ? db_flush_all(db) : rc;
}
