/*
 * db_write.c: the write path: lsm_put, lsm_delete and lsm_write, and the
 * write stalls of threads mode.
 *
 * A write takes write_mu, gives its entries the next sequence numbers,
 * appends them to the WAL as one record, applies them to the mutable
 * memtable and makes them visible in one step; a memtable it fills is
 * frozen (db_flush.c). In threads mode a writer first waits while memory or
 * L0 is over its stall limit. With the sync option, a writer lets write_mu
 * go before its fsync and waits for a group commit (db_sync.c) instead.
 */
#include "db/db_int.h"

#include "util/status_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    /* Counted as the wait begins, so a stall in progress shows in the
     * state (a test waits for it before it lets background work go). */
    COUNTER_ADD(&db->ctrs, write_stalls, 1);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (db_must_stall(db) && !db->stopping && db->bg_error == LSM_OK)
        pthread_cond_wait(&db->state_cv, &db->state_mu);
    pthread_mutex_unlock(&db->state_mu);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t micros = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000u +
                      (uint64_t)((t1.tv_nsec - t0.tv_nsec) / 1000);
    COUNTER_ADD(&db->ctrs, stall_micros, micros);
    return true;
}

/* Writes batch b: sequence numbers, WAL, memtable, then makes it visible,
 * all under write_mu (which the caller holds). The batch becomes visible to
 * readers in one step (visible_seq), so no reader sees half of it.
 *
 * A failure after the WAL append began is latched: the log may now end in
 * a partial record, and the memtable may hold part of the batch; only a
 * reopen (which cuts the torn tail and replays) puts that right. */
static int db_write_locked(lsm_db *db, lsm_batch *b)
{
    int rc = db_check_bg_error(db);
    if (rc != LSM_OK || b->count == 0)
        return rc;
    /* Inline: recovered memtables over the limit go to disk before the
     * first write adds to memory (see flush_owed). */
    rc = db_flush_owed_locked(db);
    if (rc != LSM_OK)
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
        if (db_tracing_io(db))
            db_trace_wal_append(db, wal_path(db->wal), LOG_HEADER_BYTES + n,
                                payload, b->count, first_seq);
    }
    /* Only writers replace mem, and write_mu is held: mem stays put. */
    version *v = db_ref_current(db);
    apply_ctx a = {.db = db, .mem = v->mem};
    rc = wal_decode_record(payload, n, db_apply_entry, &a);
    bool full = memtable_is_full(v->mem, db->opt.target_sst_size);
    db_pins_release_version(db, v); /* may be a kept SST's last reader */
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

int db_write_guarded(lsm_db *db, db_write_prepare_fn prepare, void *ctx,
                     lsm_batch *b, uint64_t *last_seq)
{
    db_writer_enter(db);
    pthread_mutex_lock(&db->write_mu);
    int rc = prepare ? prepare(db, ctx) : LSM_OK;
    if (rc == LSM_OK)
        rc = db_write_locked(db, b);
    uint64_t seq = db->last_seq;
    /* Read under the lock: b may be the scratch batch, which the next
     * writer refills as soon as write_mu is free. */
    bool wrote = b->count > 0;
    pthread_mutex_unlock(&db->write_mu);
    if (rc == LSM_OK && wrote && db_group_commits(db))
        rc = db_wait_durable(db, seq);
    db_writer_leave(db);
    if (last_seq)
        *last_seq = seq;
    return rc;
}

/* One put or delete for db_write_one. */
typedef struct write_one {
    uint8_t type;
    const void *key, *value;
    size_t nkey, nvalue;
} write_one;

/* Fills the db's scratch batch, which only write_mu's holder may use. */
static int db_write_one_prepare(lsm_db *db, void *ctx)
{
    const write_one *w = ctx;
    lsm_batch_clear(&db->one);
    return batch_add(&db->one, w->type, w->key, w->nkey, w->value, w->nvalue);
}

/* lsm_put and lsm_delete: a one-entry batch in the db's scratch batch. */
static int db_write_one(lsm_db *db, uint8_t type, const void *key, size_t nkey,
                        const void *value, size_t nvalue)
{
    lsm_error_clear();
    if (!db)
        return lsm_error(LSM_EINVAL, "database handle is NULL");
    write_one w = {.type = type,
                   .key = key,
                   .nkey = nkey,
                   .value = value,
                   .nvalue = nvalue};
    return db_write_guarded(db, db_write_one_prepare, &w, &db->one, NULL);
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
    return db_write_guarded(db, NULL, NULL, b, NULL);
}
