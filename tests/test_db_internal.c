/*
 * test_db_internal.c: promises of the db layer that the public API cannot
 * reach on its own, so these tests use db_int.h.
 *
 * 1. An SST kept for a reader that no sweep saw let go is deleted, and
 * reported, when the database closes (db_pins_close). Every public reader
 * sweeps when it lets go (iterator close, get, scan), so this needs the
 * internal API: the test holds a version the way lsm_state_get does
 * (db_ref_current) and drops it with plain version_unref, which never sweeps.
 * The compacted-away SST then stays kept until lsm_close, which must delete its
 * file and send LSM_EVENT_SST_DELETED.
 *
 * 2. lsm_key_history leaves out versions newer than visible_seq, as
 * lsm_get does: a write that is in the memtable but not yet complete (a
 * batch being applied, or a write waiting for its group commit) must not
 * show. The test moves visible_seq back to stand for such a write.
 *
 * 3. A flush never drops a version a read point taken afterwards needs,
 * even in group commit's window: a freeze publishes the frozen memtable
 * (waking the flush thread) and only then moves visible_seq past its last
 * write, after any fsync in flight. The test stands in for such an fsync
 * (db->syncing, set from the freeze's own fsync event), takes a snapshot
 * once the flush is writing, and reads the old version at it and with a
 * plain get. Before db_watermark was bounded by visible_seq, both read
 * the key as missing (found by a review of issue 14).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "db/db_int.h"
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* The SST deletions the engine reported, in order. */
typedef struct deleted_log {
    size_t n;
    uint64_t ids[64];
    char reasons[64][64];
} deleted_log;

static void deleted_log_cb(void *ctx, const lsm_event *e)
{
    deleted_log *log = ctx;
    if (e->type != LSM_EVENT_SST_DELETED)
        return;
    for (size_t i = 0; i < e->n_deleted && log->n < 64; i++) {
        log->ids[log->n] = e->deleted[i];
        snprintf(log->reasons[log->n], sizeof log->reasons[0], "%s", e->reason);
        log->n++;
    }
}

static bool sst_file_exists(const char *dir, uint64_t id)
{
    char name[32];
    snprintf(name, sizeof name, "%llu.sst", (unsigned long long)id);
    char *path = test_path(dir, name);
    struct stat sb;
    bool exists = stat(path, &sb) == 0;
    free(path);
    return exists;
}

/* The id of the only L0 SST (asserting there is exactly one). */
static uint64_t only_l0_sst(lsm_db *db)
{
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_l0, 1);
    uint64_t id = st->l0[0].sst_id;
    lsm_state_free(st);
    return id;
}

static void assert_pinned_only(lsm_db *db, uint64_t id)
{
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_pinned_only, 1);
    assert_int_equal(st->pinned_only[0], id);
    lsm_state_free(st);
}

static void test_kept_sst_deleted_at_close(void **state)
{
    const char *dir = *state;
    deleted_log log = {0};
    lsm_options opt;
    lsm_options_init(&opt);
    opt.compaction = LSM_COMPACTION_NONE;
    opt.event_cb = deleted_log_cb;
    opt.event_ctx = &log;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    test_put_str(db, "a", "1");
    test_put_str(db, "b", "2");
    assert_int_equal(lsm_flush(db), LSM_OK);
    uint64_t old_id = only_l0_sst(db);

    version *held = db_ref_current(db); /* a reader no sweep will see */
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    assert_int_equal(log.n, 0); /* the reader still holds it */
    assert_pinned_only(db, old_id);
    version_unref(held); /* lets go without sweeping, as a state does */
    assert_true(sst_file_exists(dir, old_id));
    assert_pinned_only(db, old_id);

    assert_int_equal(lsm_close(db), LSM_OK);
    assert_false(sst_file_exists(dir, old_id));
    assert_int_equal(log.n, 1);
    assert_int_equal(log.ids[0], old_id);
    assert_string_equal(log.reasons[0], "last reader closed");
}

/* Stands in for a write still being applied: the memtable has it, but
 * visible_seq does not cover it yet. */
static void hide_newest_write(lsm_db *db)
{
    uint64_t newest = atomic_load(&db->visible_seq);
    atomic_store(&db->visible_seq, newest - 1);
}

static void test_history_leaves_out_unfinished_writes(void **state)
{
    const char *dir = *state;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    test_put_str(db, "k", "old");
    test_put_str(db, "k", "new");
    hide_newest_write(db);

    lsm_key_version *v;
    size_t n;
    assert_int_equal(lsm_key_history(db, "k", 1, &v, &n), LSM_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].nvalue, 3);
    assert_memory_equal(v[0].value, "old", 3);
    test_expect_get(db, "k", "old"); /* and get agrees */
    lsm_key_history_free(v, n);

    atomic_store(&db->visible_seq, db->last_seq); /* the write completes */
    assert_int_equal(lsm_key_history(db, "k", 1, &v, &n), LSM_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(v[0].value, "new", 3);
    lsm_key_history_free(v, n);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Test 3's choreography, driven by the engine's events. */
typedef struct freeze_window {
    lsm_db *db;
    pthread_t writer;
    atomic_bool armed;      /* the writer's next fsync is its freeze's */
    atomic_bool snap_armed; /* take the snapshot once the flush writes */
    lsm_snapshot *snap;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool flushed;
} freeze_window;

/* Set on the writer thread only: its fsync events are the freeze's. */
static _Thread_local bool on_writer_thread;

static void freeze_window_cb(void *ctx, const lsm_event *e)
{
    freeze_window *w = ctx;
    if (e->type == LSM_EVENT_IO && e->io_op == LSM_IO_WAL_SYNC &&
        on_writer_thread && atomic_exchange(&w->armed, false)) {
        /* Another writer's group-commit fsync is in flight: the freeze
         * must wait for it before it moves visible_seq. */
        pthread_mutex_lock(&w->db->sync_mu);
        w->db->syncing = true;
        pthread_mutex_unlock(&w->db->sync_mu);
        atomic_store(&w->snap_armed, true);
    } else if (e->type == LSM_EVENT_IO && e->io_op == LSM_IO_SST_WRITE &&
               atomic_exchange(&w->snap_armed, false)) {
        /* The flush has read its watermark. */
        assert_int_equal(lsm_snapshot_take(w->db, &w->snap), LSM_OK);
    } else if (e->type == LSM_EVENT_FLUSH_END) {
        pthread_mutex_lock(&w->mu);
        w->flushed = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

static void *freeze_window_writer(void *arg)
{
    freeze_window *w = arg;
    on_writer_thread = true;
    char big[200];
    memset(big, 'b', sizeof big);
    /* Fills the memtable: the put freezes it. */
    assert_int_equal(lsm_put(w->db, "k", 1, big, sizeof big), LSM_OK);
    return NULL;
}

static void freeze_window_wait_flush(freeze_window *w)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 20;
    pthread_mutex_lock(&w->mu);
    while (!w->flushed)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &deadline) != 0)
            break;
    bool flushed = w->flushed;
    pthread_mutex_unlock(&w->mu);
    assert_true(flushed);
}

static void test_flush_keeps_versions_in_group_commit_window(void **state)
{
    const char *dir = *state;
    freeze_window w = {0};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    lsm_options opt;
    lsm_options_init(&opt);
    opt.sched = LSM_SCHED_THREADS;
    opt.sync = 1;
    opt.compaction = LSM_COMPACTION_NONE;
    opt.num_memtable_limit = 1;
    opt.target_sst_size = 128;
    opt.event_cb = freeze_window_cb;
    opt.event_ctx = &w;
    assert_int_equal(lsm_open(dir, &opt, &w.db), LSM_OK);
    test_put_str(w.db, "k", "v1");
    assert_int_equal(lsm_trace_io(w.db, 1), LSM_OK);
    atomic_store(&w.armed, true);
    assert_int_equal(pthread_create(&w.writer, NULL, freeze_window_writer, &w),
                     0);
    freeze_window_wait_flush(&w);

    /* The freeze still waits: v1 is what everyone reads. */
    assert_non_null(w.snap);
    assert_int_equal(lsm_snapshot_seq(w.snap), 1);
    test_expect_get(w.db, "k", "v1");
    void *value = NULL;
    size_t n = 0;
    assert_int_equal(lsm_get_at(w.db, w.snap, "k", 1, &value, &n), LSM_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(value, "v1", 2);
    lsm_free(value);

    pthread_mutex_lock(&w.db->sync_mu); /* the other fsync ends */
    w.db->syncing = false;
    pthread_cond_broadcast(&w.db->sync_cv);
    pthread_mutex_unlock(&w.db->sync_mu);
    assert_int_equal(pthread_join(w.writer, NULL), 0);
    assert_int_equal(lsm_get_at(w.db, w.snap, "k", 1, &value, &n), LSM_OK);
    assert_memory_equal(value, "v1", 2);
    lsm_free(value);
    assert_int_equal(lsm_get(w.db, "k", 1, &value, &n), LSM_OK);
    assert_int_equal(n, 200); /* and the new write, once visible */
    lsm_free(value);
    lsm_snapshot_release(w.snap);
    assert_int_equal(lsm_close(w.db), LSM_OK);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kept_sst_deleted_at_close,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(
            test_history_leaves_out_unfinished_writes, test_dir_setup,
            test_dir_teardown),
        cmocka_unit_test_setup_teardown(
            test_flush_keeps_versions_in_group_commit_window, test_dir_setup,
            test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
