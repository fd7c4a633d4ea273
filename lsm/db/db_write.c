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
    int rc = type == ENTRY_RANGE_DEL
                 ? memtable_delete_range(a->mem, key, nkey, value, nvalue, seq)
                 : memtable_put(a->mem, key, nkey, seq, type, value, nvalue);
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
/* What a write does first under write_mu: refuse after a latched error,
 * flush what open left owed, and (threads mode) wait out a stall. */
static int db_write_admit_locked(lsm_db *db)
{
    int rc = db_check_bg_error(db);
    if (rc != LSM_OK)
        return rc;
    /* Inline: recovered memtables over the limit go to disk before the
     * first write adds to memory (see flush_owed). */
    rc = db_flush_owed_locked(db);
    if (rc != LSM_OK)
        return rc;
    /* A stall may end because background work failed: look again. */
    if (db_stall_if_needed(db))
        return db_check_bg_error(db);
    return LSM_OK;
}

/* Makes the next count sequence numbers written (count entries in records
 * WAL records, in the log and the memtable): readers see them at once, or
 * with the sync option once an fsync covers them (db_wait_durable).
 * Caller holds write_mu. */
static void db_write_publish_locked(lsm_db *db, uint64_t count,
                                    uint64_t records, uint64_t user_bytes)
{
    db->last_seq += count;
    atomic_store_explicit(&db->appended_seq, db->last_seq,
                          memory_order_release);
    atomic_fetch_add_explicit(&db->appended_records, records,
                              memory_order_release);
    /* With the sync option the write becomes visible once it is durable
     * (db_wait_durable), so no reader sees a write a power loss can undo. */
    if (!db_group_commits(db))
        atomic_store_explicit(&db->visible_seq, db->last_seq,
                              memory_order_release);
    COUNTER_ADD(&db->ctrs, user_bytes_written, user_bytes);
}

/* After a write that filled the memtable: freezes it (a failure is
 * latched for the next write; this one is done) and, inline, flushes. */
static void db_freeze_after_write(lsm_db *db)
{
    int rc = db_freeze_locked(db);
    if (rc != LSM_OK)
        db_latch_error(db, rc);
    else
        db_after_freeze(db);
}

static int db_write_locked(lsm_db *db, lsm_batch *b)
{
    if (b->count == 0)
        return db_check_bg_error(db);
    int rc = db_write_admit_locked(db);
    if (rc != LSM_OK)
        return rc;
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
    db_write_publish_locked(db, b->count, 1, b->user_bytes);
    if (full)
        db_freeze_after_write(db);
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
    if (w->type == ENTRY_RANGE_DEL) {
        int rc = range_check(w->key, w->nkey, w->value, w->nvalue);
        if (rc != LSM_OK)
            return rc;
    }
    return batch_add(&db->one, w->type, w->key, w->nkey, w->value, w->nvalue);
}

/* lsm_put and lsm_delete (call names it): a one-entry batch in the db's
 * scratch batch. */
static int db_write_one(lsm_db *db, const char *call, uint8_t type,
                        const void *key, size_t nkey, const void *value,
                        size_t nvalue)
{
    lsm_error_clear();
    if (!db)
        return lsm_error(LSM_EINVAL, "database handle is NULL");
    int rc = db_refuse_read_only(db, call);
    if (rc != LSM_OK)
        return rc;
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
    return db_write_one(db, "lsm_put", ENTRY_VALUE, key, nkey, value, nvalue);
}

int lsm_delete(lsm_db *db, const void *key, size_t nkey)
{
    return db_write_one(db, "lsm_delete", ENTRY_TOMBSTONE, key, nkey, NULL, 0);
}

int lsm_delete_range(lsm_db *db, const void *lo, size_t nlo, const void *hi,
                     size_t nhi)
{
    return db_write_one(db, "lsm_delete_range", ENTRY_RANGE_DEL, lo, nlo, hi,
                        nhi);
}

int lsm_write(lsm_db *db, lsm_batch *b)
{
    lsm_error_clear();
    if (!db || !b)
        return lsm_error(LSM_EINVAL, "lsm_write needs a handle and a batch");
    int rc = db_refuse_read_only(db, "lsm_write");
    return rc == LSM_OK ? db_write_guarded(db, NULL, NULL, b, NULL) : rc;
}

/* --- lsm_put_many ----------------------------------------------------------
 *
 * Consecutive puts share a write() but nothing else: each keeps its own
 * sequence number and its own WAL record (the bytes lsm_put would append),
 * so recovery, snapshots, transactions and the freeze points are those of
 * single puts. The one thing that moves is the order inside a group: its
 * puts reach the memtable before their records reach the log, because
 * only the memtable can tell which put fills it, and the records up to
 * that put must go to the old log, the rest to the new one. That is safe
 * because nothing past last_seq is visible (readers stop at visible_seq,
 * which moves only after the write) and only a freeze, which comes after
 * the write, lets a mutable memtable reach an SST; a failed write halts
 * the database, so the unlogged entries never do. */

/* The bytes of records a group collects before they are written: enough
 * that the write's cost is spread over hundreds of small puts. */
#define PUT_GROUP_MAX_BYTES ((size_t)64 * 1024)
/* A run buffer grown past this (by a put of a large value) is freed after
 * the call rather than kept for the life of the handle. */
#define PUT_RUN_KEEP_BYTES ((size_t)1024 * 1024)

/* One group of lsm_put_many's puts. */
typedef struct put_group {
    const lsm_kv *puts; /* the puts left */
    size_t n;           /* how many */
    size_t done;        /* out: puts written (applied, logged, visible) */
} put_group;

/* Checks a put as lsm_put does (batch_add), with the same messages. */
static int put_check(const lsm_kv *p)
{
    int rc = key_check(p->key, p->nkey);
    return rc == LSM_OK ? batch_value_check(p->value, p->nvalue) : rc;
}

/* Applies g's puts to the mutable memtable, building their records in
 * db->run when the WAL is on, until one fills the memtable, the run is
 * PUT_GROUP_MAX_BYTES, a put is refused, or (with the I/O trace on, if
 * another thread turned it on during the call) after one put, so that
 * the trace shows one append per put as lsm_put's does.
 * *applied: the puts applied, to be written; *full: whether the last one
 * filled the memtable; *payload: the last record's payload, for the
 * trace. Returns the refused put's error (the ones before it are still to
 * be written), or a failed memtable_put's, which halts the database (and
 * *applied is 0: nothing of the group may be written after a halt). */
static int put_group_apply(lsm_db *db, const put_group *g, size_t *applied,
                           bool *full, uint64_t *user_bytes,
                           const uint8_t **payload)
{
    size_t limit = db_tracing_io(db) ? 1 : g->n;
    version *v = db_ref_current(db); /* mem stays put: write_mu is held */
    int rc = LSM_OK;
    size_t k = 0;
    *full = false;
    *user_bytes = 0;
    record_run_clear(&db->run);
    while (k < limit && !*full && db->run.len < PUT_GROUP_MAX_BYTES) {
        const lsm_kv *p = &g->puts[k];
        uint64_t seq = db->last_seq + 1 + k;
        const void *key = p->key, *value = p->value;
        rc = put_check(p);
        if (rc == LSM_OK && db->wal) {
            record_run_entry at;
            rc = record_run_add(&db->run, seq, ENTRY_VALUE, key, p->nkey, value,
                                p->nvalue, &at);
            /* The memtable gets the record's own bytes, as a batch's. */
            key = at.key;
            value = at.value;
            *payload = at.payload;
        }
        if (rc != LSM_OK)
            break;
        rc = memtable_put(v->mem, key, p->nkey, seq, ENTRY_VALUE, value,
                          p->nvalue);
        if (rc != LSM_OK) {
            db_halt(db, rc); /* entries without records: never to an SST */
            k = 0;           /* and none of the group is written */
            break;
        }
        k++;
        *user_bytes += p->nkey + p->nvalue;
        *full = memtable_is_full(v->mem, db->opt.target_sst_size);
    }
    db_pins_release_version(db, v);
    *applied = k;
    return rc;
}

/* Writes one group under write_mu: the puts from g->puts up to the first
 * that fills the memtable (put_group_apply), their records with one
 * write, then visible; then the freeze a full memtable needs, with its
 * flushes in inline mode. Sets g->done; returns the first error. */
static int put_group_write_locked(lsm_db *db, put_group *g)
{
    size_t k = 0;
    bool full = false;
    uint64_t user_bytes = 0;
    const uint8_t *payload = NULL;
    g->done = 0;
    int rc = db_write_admit_locked(db);
    if (rc == LSM_OK)
        rc = put_group_apply(db, g, &k, &full, &user_bytes, &payload);
    if (k == 0)
        return rc;
    if (db->wal) {
        int wrc = wal_append_framed(db->wal, db->run.buf, db->run.len);
        if (wrc != LSM_OK) {
            /* The memtable holds the group without its records. */
            db_halt(db, wrc);
            return wrc;
        }
        COUNTER_ADD(&db->ctrs, wal_bytes_written, db->run.len);
        if (db_tracing_io(db)) /* one put: put_group_apply's limit */
            db_trace_wal_append(db, wal_path(db->wal), db->run.len, payload, 1,
                                db->last_seq + 1);
    }
    COUNTER_ADD(&db->ctrs, puts, k);
    db_write_publish_locked(db, k, k, user_bytes);
    g->done = k;
    if (full)
        db_freeze_after_write(db);
    return rc;
}

/* Sets *n_written to the puts of this call (from first_seq on, done of
 * them written) an fsync covers, after a failed group commit. */
static size_t put_many_durable(lsm_db *db, uint64_t first_seq, size_t done)
{
    uint64_t durable = db_durable_seq(db);
    if (durable < first_seq)
        return 0;
    return durable - first_seq + 1 < done ? (size_t)(durable - first_seq + 1)
                                          : done;
}

/* lsm_put_many with the I/O trace on: n lsm_put calls, so that the trace
 * shows each put's append and, with the sync option, its own fsync. */
static int put_many_one_by_one(lsm_db *db, const lsm_kv *puts, size_t n,
                               size_t *n_written)
{
    int rc = LSM_OK;
    size_t done = 0;
    while (rc == LSM_OK && done < n) {
        const lsm_kv *p = &puts[done];
        rc = db_write_one(db, "lsm_put_many", ENTRY_VALUE, p->key, p->nkey,
                          p->value, p->nvalue);
        if (rc == LSM_OK)
            done++;
    }
    if (n_written)
        *n_written = done;
    return rc;
}

int lsm_put_many(lsm_db *db, const lsm_kv *puts, size_t n, size_t *n_written)
{
    lsm_error_clear();
    if (n_written)
        *n_written = 0;
    if (!db || (!puts && n > 0))
        return lsm_error(LSM_EINVAL, "lsm_put_many needs a handle and "
                                     "its puts");
    int refused = db_refuse_read_only(db, "lsm_put_many");
    if (refused != LSM_OK)
        return refused;
    if (db_tracing_io(db))
        return put_many_one_by_one(db, puts, n, n_written);
    size_t done = 0;
    int rc = LSM_OK;
    db_writer_enter(db);
    pthread_mutex_lock(&db->write_mu);
    uint64_t first_seq = db->last_seq + 1;
    while (rc == LSM_OK && done < n) {
        put_group g = {.puts = puts + done, .n = n - done};
        rc = put_group_write_locked(db, &g);
        done += g.done;
    }
    uint64_t last_seq = db->last_seq;
    if (db->run.cap > PUT_RUN_KEEP_BYTES)
        record_run_release(&db->run);
    pthread_mutex_unlock(&db->write_mu);
    if (done > 0 && db_group_commits(db)) {
        int wrc = db_wait_durable(db, last_seq);
        if (wrc != LSM_OK) {
            rc = wrc;
            done = put_many_durable(db, first_seq, done);
        }
    }
    db_writer_leave(db);
    if (n_written)
        *n_written = done;
    return rc;
}
