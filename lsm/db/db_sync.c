/*
 * db_sync.c: group commit, how writers with the sync option share fsyncs.
 *
 * With the sync option a write is acknowledged only once its WAL record is
 * on stable storage. An fsync costs far more than the append (a hundred
 * microseconds or more, against one), so one fsync per write would cap a
 * database at a few thousand writes a second however many threads write.
 * But an fsync makes durable everything appended to the file before it
 * started, so one fsync can acknowledge many writers at once:
 *
 *   1. A writer appends its record and applies it to the memtable under
 *      write_mu, as every writer does, then lets write_mu go: the next
 *      writer can append while this one waits for the disk.
 *   2. It waits under sync_mu until synced_seq reaches its sequence number.
 *      If nobody is syncing, it becomes the syncer: it reads appended_seq
 *      (the newest record in the log), fsyncs without holding sync_mu, and
 *      sets synced_seq, which acknowledges every writer whose record was
 *      appended before the fsync began.
 *   3. Before its fsync the syncer may wait a little for its group to fill
 *      up: the writers it just released come straight back with their next
 *      write, and without the wait each fsync would alternate between
 *      covering one of them and the rest. It waits while fewer records are
 *      pending than writers were active, for at most half of a recent
 *      fsync's duration, and not at all when it is the only writer, so a
 *      single writer pays nothing for it.
 *
 * Durability before visibility: with the sync option visible_seq moves
 * only when an fsync ends (or at a freeze, which syncs the whole log), so a
 * reader never sees a write that a power loss could still undo.
 *
 * The log cannot be replaced under a syncer: a freeze syncs the old log
 * itself (under write_mu, so nothing more is appended), taking its turn
 * like any syncer, then retires it in db_retire_wal under sync_mu, waiting
 * until no fsync is in flight.
 *
 * A failed fsync is final (sync_error): no later fsync of the log may
 * acknowledge anything, since after a failure Linux can report the next
 * fsync as clean although the lost pages never reached the disk. Every
 * writer still waiting gets the error, with its message.
 *
 * Locks: write_mu before sync_mu (a freeze holds both); a syncer holds
 * sync_mu only, and state_mu only inside db_latch_error.
 */
#include "db/db_int.h"

#include "util/status_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

/* The longest a syncer waits for its group, whatever fsync costs. */
#define SYNC_GATHER_MAX_MICROS 1000

bool db_group_commits(const lsm_db *db)
{
    return db->opt.sync && db->opt.enable_wal;
}

void db_writer_enter(lsm_db *db)
{
    if (db_group_commits(db))
        atomic_fetch_add_explicit(&db->active_writers, 1, memory_order_relaxed);
}

void db_writer_leave(lsm_db *db)
{
    if (db_group_commits(db))
        atomic_fetch_sub_explicit(&db->active_writers, 1, memory_order_relaxed);
}

static uint64_t sync_now_micros(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Records appended and not yet covered by an fsync. Caller holds sync_mu. */
static uint64_t sync_pending_records(const lsm_db *db)
{
    return atomic_load_explicit(&db->appended_records, memory_order_acquire) -
           db->synced_records;
}

/* Step 3: waits, releasing sync_mu, until as many records are pending as
 * writers were active when the wait began, or the deadline passes. Caller
 * holds sync_mu and has set syncing. */
static void sync_gather_group(lsm_db *db)
{
    unsigned expected =
        atomic_load_explicit(&db->active_writers, memory_order_relaxed);
    uint64_t wait_micros = db->sync_micros / 2;
    if (expected <= 1 || wait_micros == 0)
        return;
    if (wait_micros > SYNC_GATHER_MAX_MICROS)
        wait_micros = SYNC_GATHER_MAX_MICROS;
    uint64_t deadline = sync_now_micros() + wait_micros;
    struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000u),
                          .tv_nsec = (long)(deadline % 1000000u) * 1000};
    while (sync_pending_records(db) < expected && sync_now_micros() < deadline)
        pthread_cond_timedwait(&db->sync_cv, &db->sync_mu, &ts);
}

/* Folds one fsync's duration into the running average (7/8 old, 1/8 new),
 * which sizes the gathering wait. */
static void sync_note_duration(lsm_db *db, uint64_t micros)
{
    db->sync_micros =
        db->sync_micros ? (7 * db->sync_micros + micros) / 8 : micros;
}

/* Records a failed WAL fsync. From then on no fsync of the log may
 * acknowledge anything: after a failed fsync, Linux can report the next one
 * as clean although the lost pages never reached the disk. Caller holds
 * sync_mu, and latches the error (db_latch_error) once it has let go. */
static void sync_record_failure(lsm_db *db, int rc)
{
    if (db->sync_error != LSM_OK)
        return;
    db->sync_error = rc;
    snprintf(db->sync_message, sizeof db->sync_message, "%s", lsm_errmsg());
}

/* Waits until nobody is syncing and takes the turn, unless an fsync has
 * failed: returns that error then. Caller holds sync_mu. */
static int sync_take_turn(lsm_db *db)
{
    while (db->syncing)
        pthread_cond_wait(&db->sync_cv, &db->sync_mu);
    if (db->sync_error != LSM_OK)
        return db->sync_error;
    db->syncing = true;
    return LSM_OK;
}

/* Gives the turn back after an fsync that returned rc. Caller holds
 * sync_mu. */
static void sync_end_turn(lsm_db *db, int rc)
{
    db->syncing = false;
    if (rc == LSM_OK)
        COUNTER_ADD(&db->ctrs, wal_syncs, 1);
    else
        sync_record_failure(db, rc);
    pthread_cond_broadcast(&db->sync_cv);
}

/* Step 2 as the syncer: gathers a group, fsyncs the log without holding
 * sync_mu, and publishes what the fsync covered. Caller holds sync_mu and
 * has the turn (syncing). Returns the fsync's result. */
static int sync_for_group(lsm_db *db)
{
    sync_gather_group(db);
    uint64_t records =
        atomic_load_explicit(&db->appended_records, memory_order_acquire);
    uint64_t target =
        atomic_load_explicit(&db->appended_seq, memory_order_acquire);
    uint64_t group = records - db->synced_records;
    wal *log = db->wal;
    pthread_mutex_unlock(&db->sync_mu);

    uint64_t start = sync_now_micros();
    int rc = wal_sync(log);
    uint64_t took = sync_now_micros() - start;
    /* Reported before sync_mu is taken again; the turn (syncing) keeps
     * the log open meanwhile (db_retire_wal waits for it). */
    if (rc == LSM_OK)
        DB_TRACE_IO(db, LSM_IO_WAL_SYNC, wal_path(log), 0,
                    "group commit of %" PRIu64 " write%s up to seq %" PRIu64,
                    group, group == 1 ? "" : "s", target);

    pthread_mutex_lock(&db->sync_mu);
    if (rc == LSM_OK) {
        sync_note_duration(db, took);
        if (target > db->synced_seq) {
            db->synced_seq = target;
            db->synced_records = records;
            atomic_store_explicit(&db->visible_seq, target,
                                  memory_order_release);
        }
    }
    sync_end_turn(db, rc);
    return rc;
}

int db_wait_durable(lsm_db *db, uint64_t seq)
{
    int failed = LSM_OK; /* this writer's own fsync failed */
    char message[DB_BG_MESSAGE_BYTES];
    pthread_mutex_lock(&db->sync_mu);
    if (db->syncing) /* a gathering syncer counts this writer in */
        pthread_cond_broadcast(&db->sync_cv);
    while (db->synced_seq < seq && db->sync_error == LSM_OK) {
        if (db->syncing)
            pthread_cond_wait(&db->sync_cv, &db->sync_mu);
        else if (sync_take_turn(db) == LSM_OK && sync_for_group(db) != LSM_OK)
            failed = db->sync_error;
    }
    int rc = db->synced_seq >= seq ? LSM_OK : db->sync_error;
    snprintf(message, sizeof message, "%s", db->sync_message);
    pthread_mutex_unlock(&db->sync_mu);
    /* Outside sync_mu: latching takes state_mu and sends an event. */
    if (failed != LSM_OK)
        db_latch_error(db, failed);
    else if (rc != LSM_OK) /* another writer's fsync failed: say why */
        lsm_error(rc, "%s", message);
    return rc;
}

uint64_t db_durable_seq(lsm_db *db)
{
    pthread_mutex_lock(&db->sync_mu);
    uint64_t seq = db->synced_seq;
    pthread_mutex_unlock(&db->sync_mu);
    return seq;
}

int db_sync_wal_for_freeze(lsm_db *db)
{
    char message[DB_BG_MESSAGE_BYTES];
    if (!db->wal)
        return LSM_OK;
    pthread_mutex_lock(&db->sync_mu);
    int rc = sync_take_turn(db);
    if (rc != LSM_OK) {
        snprintf(message, sizeof message, "%s", db->sync_message);
        pthread_mutex_unlock(&db->sync_mu);
        return lsm_error(rc, "%s", message);
    }
    pthread_mutex_unlock(&db->sync_mu);
    /* db->wal is stable: the caller holds write_mu. */
    rc = wal_sync(db->wal);
    pthread_mutex_lock(&db->sync_mu);
    sync_end_turn(db, rc);
    pthread_mutex_unlock(&db->sync_mu);
    return rc;
}

void db_retire_wal(lsm_db *db, wal *fresh)
{
    pthread_mutex_lock(&db->sync_mu);
    while (db->syncing)
        pthread_cond_wait(&db->sync_cv, &db->sync_mu);
    wal_close(db->wal);
    db->wal = fresh;
    /* The caller synced the old log with nothing appended since: every
     * write so far is durable, unless an fsync failed meanwhile (then
     * nothing more is acknowledged; see sync_record_failure). */
    if (db->sync_error == LSM_OK) {
        db->synced_seq = db->last_seq;
        db->synced_records =
            atomic_load_explicit(&db->appended_records, memory_order_acquire);
        atomic_store_explicit(&db->visible_seq, db->last_seq,
                              memory_order_release);
    }
    pthread_cond_broadcast(&db->sync_cv);
    pthread_mutex_unlock(&db->sync_mu);
}
