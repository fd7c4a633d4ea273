/*
 * test_group_commit.c: group commit with the sync option (lsm/db_sync.c).
 *
 * A "gate" env wraps the POSIX env and can hold the next fsync of a WAL
 * until the test opens the gate, or make it fail. With one writer held
 * inside its fsync, the test can look at the engine from outside:
 *   - a write whose fsync has not finished is invisible to readers, and
 *     stays invisible to the writers queued behind it;
 *   - writers that appended while the fsync was held are acknowledged by
 *     ONE later fsync between them (counted in wal_syncs), not one each;
 *   - when that shared fsync fails, every writer of the group gets the
 *     error, later writes get the latched error, and nothing acknowledged
 *     is lost on reopen.
 * The test never sleeps to make something happen: it waits (polling the
 * public counters) until the writers have appended, which they do whatever
 * the timing; the engine's gathering wait is bounded, so it only delays.
 *
 * Thread safety: writer threads never call cmocka; they store their return
 * code and the main thread asserts after joining them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include "db/db_int.h"
#include "util/status_int.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#define N_QUEUED 3

/* --- the gate env ------------------------------------------------------- */

typedef struct gate {
    env base; /* first: the env handed to the engine */
    const env *inner;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool hold_next; /* the next WAL fsync waits for gate_open */
    bool held;      /* a WAL fsync is waiting now */
    bool fail_next; /* the next WAL fsync fails with LSM_EIO */
    int n_wal_syncs;
} gate;

static gate the_gate;

static bool is_wal(const env_file *f)
{
    size_t n = strlen(f->path);
    return n > 4 && strcmp(f->path + n - 4, ".wal") == 0;
}

static int gate_sync(env_file *f)
{
    gate *g = &the_gate;
    bool fail = false;
    if (is_wal(f)) {
        pthread_mutex_lock(&g->mu);
        g->n_wal_syncs++;
        /* Decided on arrival: a held fsync is not the one fail_next, armed
         * while it waits, is meant for. */
        fail = g->fail_next;
        g->fail_next = false;
        if (g->hold_next) {
            g->hold_next = false;
            g->held = true;
            pthread_cond_broadcast(&g->cv);
            while (g->held)
                pthread_cond_wait(&g->cv, &g->mu);
        }
        pthread_mutex_unlock(&g->mu);
    }
    if (fail)
        return lsm_error(LSM_EIO, "%s: injected fsync failure", f->path);
    return g->inner->sync(f);
}

/* Files opened through the gate name it as their env, so their fsyncs
 * come to gate_sync; every other call is the POSIX one. */
static int gate_adopt(int rc, env_file **out)
{
    if (rc == LSM_OK)
        (*out)->env = &the_gate.base;
    return rc;
}

static int gate_open_read(env *e, const char *path, env_file **out)
{
    (void)e;
    return gate_adopt(the_gate.inner->open_read(NULL, path, out), out);
}

static int gate_open_write(env *e, const char *path, env_file **out)
{
    (void)e;
    return gate_adopt(the_gate.inner->open_write(NULL, path, out), out);
}

static int gate_open_append(env *e, const char *path, env_file **out)
{
    (void)e;
    return gate_adopt(the_gate.inner->open_append(NULL, path, out), out);
}

/* The gate resolves paths as they are (the POSIX env's path functions):
 * binding to the directory would hand the engine the POSIX bound env and
 * route its files around the gate. */
static int gate_open_dir(env *e, const char *path, env **out)
{
    (void)path;
    *out = e;
    return LSM_OK;
}

static void gate_close_dir(env *bound)
{
    (void)bound; /* the gate itself: nothing to free */
}

static void gate_init(void)
{
    gate *g = &the_gate;
    memset(g, 0, sizeof *g);
    g->inner = env_posix();
    g->base = *g->inner;
    g->base.open_read = gate_open_read;
    g->base.open_write = gate_open_write;
    g->base.open_append = gate_open_append;
    g->base.sync = gate_sync;
    g->base.open_dir = gate_open_dir;
    g->base.close_dir = gate_close_dir;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void gate_destroy(void)
{
    pthread_mutex_destroy(&the_gate.mu);
    pthread_cond_destroy(&the_gate.cv);
}

static void gate_hold_next(void)
{
    pthread_mutex_lock(&the_gate.mu);
    the_gate.hold_next = true;
    pthread_mutex_unlock(&the_gate.mu);
}

static void gate_fail_next(void)
{
    pthread_mutex_lock(&the_gate.mu);
    the_gate.fail_next = true;
    pthread_mutex_unlock(&the_gate.mu);
}

/* Waits until a WAL fsync is held at the gate. */
static void gate_wait_held(void)
{
    pthread_mutex_lock(&the_gate.mu);
    while (!the_gate.held)
        pthread_cond_wait(&the_gate.cv, &the_gate.mu);
    pthread_mutex_unlock(&the_gate.mu);
}

static void gate_open(void)
{
    pthread_mutex_lock(&the_gate.mu);
    the_gate.held = false;
    pthread_cond_broadcast(&the_gate.cv);
    pthread_mutex_unlock(&the_gate.mu);
}

static int gate_wal_syncs(void)
{
    pthread_mutex_lock(&the_gate.mu);
    int n = the_gate.n_wal_syncs;
    pthread_mutex_unlock(&the_gate.mu);
    return n;
}

/* --- writers ------------------------------------------------------------ */

typedef struct writer {
    pthread_t thread;
    lsm_db *db;
    char key[8];
    int rc;
    char message[256]; /* lsm_errmsg() after the put */
} writer;

static void *writer_main(void *arg)
{
    writer *w = arg;
    w->rc = lsm_put(w->db, w->key, strlen(w->key), "v", 1);
    snprintf(w->message, sizeof w->message, "%s", lsm_errmsg());
    return NULL;
}

static void writer_start(writer *w, lsm_db *db, const char *key)
{
    w->db = db;
    snprintf(w->key, sizeof w->key, "%s", key);
    w->rc = -1;
    assert_int_equal(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

static uint64_t puts_applied(lsm_db *db)
{
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    uint64_t n = st->counters.puts;
    lsm_state_free(st);
    return n;
}

static uint64_t wal_syncs(lsm_db *db)
{
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    uint64_t n = st->counters.wal_syncs;
    lsm_state_free(st);
    return n;
}

/* Waits until n puts are in the memtable: their writers have appended and
 * now wait for an fsync. */
static void wait_for_puts(lsm_db *db, uint64_t n)
{
    while (puts_applied(db) < n)
        sched_yield();
}

static void expect_absent(lsm_db *db, const char *key)
{
    void *v = NULL;
    size_t nv = 0;
    assert_int_equal(lsm_get(db, key, strlen(key), &v, &nv), LSM_NOTFOUND);
}

static lsm_db *open_synced(const char *dir)
{
    lsm_options opt;
    lsm_db *db = NULL;
    lsm_options_init(&opt);
    opt.sync = 1;
    assert_int_equal(db_open_env(dir, &opt, &the_gate.base, &db), LSM_OK);
    return db;
}

/* Holds writer "a" inside its fsync while three more writers append, then
 * lets it go: the three share one fsync. */
static void start_held_group(lsm_db *db, writer *first, writer *queued)
{
    static const char *const keys[N_QUEUED] = {"b", "c", "d"};
    gate_hold_next();
    writer_start(first, db, "a");
    gate_wait_held();
    /* Appended and applied, but not durable: nobody may see it. */
    wait_for_puts(db, 1);
    expect_absent(db, "a");
    for (int i = 0; i < N_QUEUED; i++)
        writer_start(&queued[i], db, keys[i]);
    wait_for_puts(db, 1 + N_QUEUED);
    for (int i = 0; i < N_QUEUED; i++)
        expect_absent(db, keys[i]);
}

/* Opens the gate and waits for every writer of start_held_group; the first
 * one's fsync was held, not failed, so it must have succeeded. */
static void release_held_group(writer *first, writer *queued)
{
    gate_open();
    assert_int_equal(pthread_join(first->thread, NULL), 0);
    for (int i = 0; i < N_QUEUED; i++)
        assert_int_equal(pthread_join(queued[i].thread, NULL), 0);
    assert_int_equal(first->rc, LSM_OK);
}

static void test_queued_writers_share_one_fsync(void **state)
{
    (void)state;
    char *dir = test_mkdtemp();
    writer first, queued[N_QUEUED];
    gate_init();
    lsm_db *db = open_synced(dir);
    uint64_t syncs_before = wal_syncs(db);

    start_held_group(db, &first, queued);
    release_held_group(&first, queued);
    for (int i = 0; i < N_QUEUED; i++) {
        assert_int_equal(queued[i].rc, LSM_OK);
        test_expect_get(db, queued[i].key, "v");
    }
    test_expect_get(db, "a", "v");
    /* One fsync for "a", one for the three that queued behind it. */
    assert_int_equal(wal_syncs(db) - syncs_before, 2);
    assert_int_equal(gate_wal_syncs(), 2);

    /* A lone writer still gets its own fsync. */
    test_put_str(db, "e", "v");
    assert_int_equal(wal_syncs(db) - syncs_before, 3);
    assert_int_equal(lsm_close(db), LSM_OK);
    gate_destroy();
    test_rmtree(dir);
    free(dir);
}

static void test_failed_group_fsync_fails_every_member(void **state)
{
    (void)state;
    char *dir = test_mkdtemp();
    writer first, queued[N_QUEUED];
    gate_init();
    lsm_db *db = open_synced(dir);

    start_held_group(db, &first, queued);
    gate_fail_next(); /* "a"'s fsync is held already; the group's fails */
    release_held_group(&first, queued);
    for (int i = 0; i < N_QUEUED; i++) {
        assert_int_equal(queued[i].rc, LSM_EIO);
        /* Each member learns why, not only the one that ran the fsync. */
        assert_non_null(strstr(queued[i].message, "injected fsync failure"));
        expect_absent(db, queued[i].key);
    }
    test_expect_get(db, "a", "v");
    /* The failure is latched: later writes are refused. */
    assert_int_equal(lsm_put(db, "f", 1, "v", 1), LSM_EIO);
    lsm_close(db);

    /* The acknowledged write survives; the failed ones may or may not
     * (their records reached the log, only the fsync failed). */
    gate_init();
    db = open_synced(dir);
    test_expect_get(db, "a", "v");
    assert_int_equal(lsm_close(db), LSM_OK);
    gate_destroy();
    test_rmtree(dir);
    free(dir);
}

/* The fsync a freeze makes is a WAL fsync like any other: when it fails,
 * the write that froze the memtable is not acknowledged, and no later fsync
 * (which the OS may report as clean after a failure) acknowledges it. */
static void test_failed_freeze_fsync_is_not_acknowledged(void **state)
{
    (void)state;
    char *dir = test_mkdtemp();
    lsm_options opt;
    lsm_db *db = NULL;
    gate_init();
    lsm_options_init(&opt);
    opt.sync = 1;
    opt.target_sst_size = 64; /* the first put fills the memtable */
    assert_int_equal(db_open_env(dir, &opt, &the_gate.base, &db), LSM_OK);
    char value[100];
    memset(value, 'v', sizeof value);

    gate_fail_next(); /* the freeze's fsync, inside this put */
    assert_int_equal(lsm_put(db, "a", 1, value, sizeof value), LSM_EIO);
    assert_non_null(strstr(lsm_errmsg(), "injected fsync failure"));
    expect_absent(db, "a");
    assert_int_equal(gate_wal_syncs(), 1); /* no second, "clean" fsync */
    assert_int_equal(lsm_put(db, "b", 1, "v", 1), LSM_EIO);
    lsm_close(db);
    gate_destroy();
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queued_writers_share_one_fsync),
        cmocka_unit_test(test_failed_group_fsync_fails_every_member),
        cmocka_unit_test(test_failed_freeze_fsync_is_not_acknowledged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
