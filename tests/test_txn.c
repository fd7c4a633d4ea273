/*
 * test_txn.c: optimistic transactions through the public API (lsm.h,
 * "Transactions"): every call's behaviour and errors, read-your-writes in
 * gets and scans, commit validation (each conflict kind, with what
 * lsm_commit_info reports, and the order conflicts are reported in), the
 * classic anomalies and which isolation level allows each, atomicity seen
 * by concurrent readers (threads mode; run under TSan too), and recovery.
 *
 * Most tests run twice, once per scheduling mode (inline, threads), each
 * in its own subdirectory of the fixture's directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lsm.h"
#include "testutil.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

static const lsm_sched modes[] = {LSM_SCHED_INLINE, LSM_SCHED_THREADS};
#define N_MODES 2

/* --- helpers ---------------------------------------------------------------
 */

static char *mode_dir(const char *dir, lsm_sched s)
{
    return test_path(dir, s == LSM_SCHED_INLINE ? "inline" : "threads");
}

static lsm_db *open_db(const char *dir, lsm_sched s)
{
    lsm_options opt;
    lsm_options_init(&opt);
    opt.sched = s;
    lsm_db *db = NULL;
    int rc = lsm_open(dir, &opt, &db);
    if (rc != LSM_OK)
        fail_msg("lsm_open %s: %s (%s)", dir, lsm_strerror(rc), lsm_errmsg());
    return db;
}

static void put_s(lsm_db *db, const char *k, const char *v)
{
    assert_int_equal(lsm_put(db, k, strlen(k), v, strlen(v)), LSM_OK);
}

static void del_s(lsm_db *db, const char *k)
{
    assert_int_equal(lsm_delete(db, k, strlen(k)), LSM_OK);
}

static void txn_put_s(lsm_txn *t, const char *k, const char *v)
{
    assert_int_equal(lsm_txn_put(t, k, strlen(k), v, strlen(v)), LSM_OK);
}

static void txn_del_s(lsm_txn *t, const char *k)
{
    assert_int_equal(lsm_txn_delete(t, k, strlen(k)), LSM_OK);
}

static lsm_txn *begin(lsm_db *db, lsm_isolation iso)
{
    lsm_txn *t = NULL;
    assert_int_equal(lsm_txn_begin(db, iso, &t), LSM_OK);
    assert_non_null(t);
    return t;
}

/* The database's value of k, NULL when absent. Caller frees. */
static char *get_s(lsm_db *db, const char *k)
{
    void *v = NULL;
    size_t n = 0;
    int rc = lsm_get(db, k, strlen(k), &v, &n);
    if (rc == LSM_NOTFOUND)
        return NULL;
    assert_int_equal(rc, LSM_OK);
    return v;
}

static void assert_db_value(lsm_db *db, const char *k, const char *want)
{
    char *v = get_s(db, k);
    if (!want)
        assert_null(v);
    else {
        assert_non_null(v);
        assert_string_equal(v, want);
    }
    lsm_free(v);
}

static void assert_txn_value(lsm_txn *t, const char *k, const char *want)
{
    void *v = NULL;
    size_t n = 0;
    int rc = lsm_txn_get(t, k, strlen(k), &v, &n);
    if (!want) {
        assert_int_equal(rc, LSM_NOTFOUND);
        assert_null(v);
        return;
    }
    assert_int_equal(rc, LSM_OK);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(v, want, n);
    lsm_free(v);
}

/* The seq of the newest visible write (a snapshot's read point). */
static uint64_t visible_seq(lsm_db *db)
{
    lsm_snapshot *s = NULL;
    assert_int_equal(lsm_snapshot_take(db, &s), LSM_OK);
    uint64_t seq = lsm_snapshot_seq(s);
    lsm_snapshot_release(s);
    return seq;
}

static lsm_counters counters(lsm_db *db)
{
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    lsm_counters c = st->counters;
    lsm_state_free(st);
    return c;
}

/* "k1=v1 k2=v2 " for every entry of it, then closes it. */
static void iter_string(lsm_iter *it, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    while (lsm_iter_valid(it)) {
        size_t nk, nv;
        const char *k = lsm_iter_key(it, &nk);
        const char *v = lsm_iter_value(it, &nv);
        int n =
            snprintf(buf + o, cap - o, "%.*s=%.*s ", (int)nk, k, (int)nv, v);
        assert_true(n > 0 && (size_t)n < cap - o);
        o += (size_t)n;
        assert_int_equal(lsm_iter_next(it), LSM_OK);
    }
}

static void assert_txn_scan(lsm_txn *t, const lsm_bound *lo,
                            const lsm_bound *hi, const char *want)
{
    lsm_iter *it = NULL;
    assert_int_equal(lsm_txn_scan(t, lo, hi, &it), LSM_OK);
    char buf[1024];
    iter_string(it, buf, sizeof buf);
    lsm_iter_close(it);
    assert_string_equal(buf, want);
}

static lsm_bound incl(const char *k)
{
    return (lsm_bound){LSM_BOUND_INCLUDED, k, strlen(k)};
}

static lsm_bound excl(const char *k)
{
    return (lsm_bound){LSM_BOUND_EXCLUDED, k, strlen(k)};
}

/* Commits t expecting a conflict of kind on key at conflict_seq. */
static void commit_expect_conflict(lsm_txn *t, lsm_conflict_kind kind,
                                   const char *key, uint64_t conflict_seq)
{
    lsm_commit_info info;
    int rc = lsm_txn_commit(t, &info);
    assert_int_equal(rc, LSM_ECONFLICT);
    assert_int_equal(info.conflict, kind);
    assert_non_null(info.key);
    assert_int_equal(info.nkey, strlen(key));
    assert_memory_equal(info.key, key, info.nkey);
    assert_int_equal(info.conflict_seq, conflict_seq);
    lsm_free(info.key);
}

static uint64_t commit_ok(lsm_txn *t)
{
    lsm_commit_info info;
    int rc = lsm_txn_commit(t, &info);
    if (rc != LSM_OK)
        fail_msg("commit: %s (%s)", lsm_strerror(rc), lsm_errmsg());
    assert_int_equal(info.conflict, LSM_CONFLICT_NONE);
    assert_null(info.key);
    return info.commit_seq;
}

/* Runs body once per scheduling mode, each on a fresh database. */
static void in_each_mode(const char *dir, void (*body)(lsm_db *db))
{
    for (int mi = 0; mi < N_MODES; mi++) {
        char *md = mode_dir(dir, modes[mi]);
        lsm_db *db = open_db(md, modes[mi]);
        body(db);
        assert_int_equal(lsm_close(db), LSM_OK);
        free(md);
    }
}

/* --- the calls and their errors -------------------------------------------
 */

static void test_null_and_bad_arguments(void **state)
{
    char *dir = mode_dir(*state, LSM_SCHED_INLINE);
    lsm_db *db = open_db(dir, LSM_SCHED_INLINE);
    lsm_txn *t = (lsm_txn *)1;
    assert_int_equal(lsm_txn_begin(NULL, LSM_ISOLATION_SNAPSHOT, &t),
                     LSM_EINVAL);
    assert_null(t);
    assert_int_equal(lsm_txn_begin(db, LSM_ISOLATION_SNAPSHOT, NULL),
                     LSM_EINVAL);
    assert_int_equal(lsm_txn_begin(db, (lsm_isolation)7, &t), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "isolation"));
    assert_null(t);

    assert_int_equal(lsm_txn_id(NULL), 0);
    assert_int_equal(lsm_txn_read_seq(NULL), 0);
    lsm_txn_abort(NULL);
    assert_int_equal(lsm_txn_commit(NULL, NULL), LSM_EINVAL);
    lsm_commit_info info;
    assert_int_equal(lsm_txn_commit(NULL, &info), LSM_EINVAL);
    assert_null(info.key);

    void *v = (void *)1;
    size_t n = 1;
    assert_int_equal(lsm_txn_get(NULL, "a", 1, &v, &n), LSM_EINVAL);
    assert_int_equal(lsm_txn_put(NULL, "a", 1, "v", 1), LSM_EINVAL);
    assert_int_equal(lsm_txn_delete(NULL, "a", 1), LSM_EINVAL);
    lsm_iter *it = (lsm_iter *)1;
    assert_int_equal(lsm_txn_scan(NULL, NULL, NULL, &it), LSM_EINVAL);
    assert_null(it);

    t = begin(db, LSM_ISOLATION_SERIALIZABLE);
    assert_int_equal(lsm_txn_isolation(t), LSM_ISOLATION_SERIALIZABLE);
    assert_int_equal(lsm_txn_get(t, "a", 1, NULL, &n), LSM_EINVAL);
    assert_int_equal(lsm_txn_get(t, "a", 1, &v, NULL), LSM_EINVAL);
    assert_int_equal(lsm_txn_get(t, NULL, 1, &v, &n), LSM_EINVAL);
    assert_null(v);
    assert_int_equal(lsm_txn_get(t, "a", 0, &v, &n), LSM_EINVAL);
    assert_int_equal(lsm_txn_scan(t, NULL, NULL, NULL), LSM_EINVAL);
    lsm_bound bad = {(lsm_bound_kind)9, "a", 1};
    assert_int_equal(lsm_txn_scan(t, &bad, NULL, &it), LSM_EINVAL);
    assert_null(it);
    lsm_bound empty = {LSM_BOUND_INCLUDED, "", 0};
    assert_int_equal(lsm_txn_scan(t, NULL, &empty, &it), LSM_EINVAL);

    static char big_key[LSM_MAX_KEY_BYTES + 1];
    memset(big_key, 'k', sizeof big_key);
    assert_int_equal(lsm_txn_put(t, NULL, 1, "v", 1), LSM_EINVAL);
    assert_int_equal(lsm_txn_put(t, "a", 0, "v", 1), LSM_EINVAL);
    assert_int_equal(lsm_txn_put(t, big_key, sizeof big_key, "v", 1),
                     LSM_EINVAL);
    assert_int_equal(lsm_txn_put(t, "a", 1, NULL, 3), LSM_EINVAL);
    assert_int_equal(
        lsm_txn_put(t, "a", 1, big_key, (size_t)LSM_MAX_VALUE_BYTES + 1),
        LSM_EINVAL);
    assert_int_equal(lsm_txn_delete(t, big_key, sizeof big_key), LSM_EINVAL);
    assert_int_equal(lsm_txn_delete(t, "", 0), LSM_EINVAL);
    /* None of that was buffered: the commit writes nothing. */
    uint64_t before = visible_seq(db);
    assert_int_equal(lsm_txn_commit(t, NULL), LSM_OK);
    assert_int_equal(visible_seq(db), before);
    assert_db_value(db, "a", NULL);
    /* A NULL value of length 0 is the empty value. */
    t = begin(db, LSM_ISOLATION_SNAPSHOT);
    assert_int_equal(lsm_txn_put(t, "e", 1, NULL, 0), LSM_OK);
    commit_ok(t);
    assert_db_value(db, "e", "");
    assert_int_equal(lsm_close(db), LSM_OK);
    free(dir);
}

/* Ids count with snapshots; read points are visible_seq at begin; close
 * refuses an open transaction and names it; abort is counted. */
static void ids_read_points_and_close_in(lsm_db *db)
{
    put_s(db, "a", "1");
    lsm_snapshot *s = NULL;
    assert_int_equal(lsm_snapshot_take(db, &s), LSM_OK);
    lsm_txn *t = begin(db, LSM_ISOLATION_SNAPSHOT);
    assert_int_equal(lsm_txn_id(t), lsm_snapshot_id(s) + 1);
    assert_int_equal(lsm_txn_read_seq(t), lsm_snapshot_seq(s));
    assert_int_equal(lsm_txn_isolation(t), LSM_ISOLATION_SNAPSHOT);
    lsm_snapshot_release(s);

    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_read_points, 1);
    assert_int_equal(st->read_points[0].id, lsm_txn_id(t));
    assert_true(st->read_points[0].is_txn);
    assert_int_equal(st->watermark, lsm_txn_read_seq(t));
    lsm_state_free(st);

    assert_int_equal(lsm_close(db), LSM_EBUSY);
    char want[64];
    snprintf(want, sizeof want, "1 transaction(s) still open (ids %" PRIu64 ")",
             lsm_txn_id(t));
    assert_non_null(strstr(lsm_errmsg(), want));
    lsm_counters c0 = counters(db);
    lsm_txn_abort(t);
    lsm_counters c1 = counters(db);
    assert_int_equal(c1.txn_aborts, c0.txn_aborts + 1);
    assert_int_equal(c1.txn_commits, c0.txn_commits);
}

static void test_ids_read_points_and_close(void **state)
{
    in_each_mode(*state, ids_read_points_and_close_in);
}

/* --- read-your-writes -----------------------------------------------------
 */

static void get_reads_own_writes_then_snapshot_in(lsm_db *db)
{
    put_s(db, "a", "db-a");
    put_s(db, "b", "db-b");
    put_s(db, "c", "db-c");
    lsm_txn *t = begin(db, LSM_ISOLATION_SNAPSHOT);
    put_s(db, "a", "later"); /* after begin: invisible to t */
    put_s(db, "d", "later");
    assert_txn_value(t, "a", "db-a");
    assert_txn_value(t, "d", NULL);
    txn_put_s(t, "b", "t-b1");
    txn_put_s(t, "b", "t-b2"); /* a later write replaces */
    txn_del_s(t, "c");
    txn_put_s(t, "x", "t-x");
    txn_del_s(t, "x");
    txn_put_s(t, "x", "t-x2");
    assert_txn_value(t, "b", "t-b2");
    assert_txn_value(t, "c", NULL); /* its delete hides the db's c */
    assert_txn_value(t, "x", "t-x2");
    /* Nothing reached the database. */
    assert_db_value(db, "b", "db-b");
    assert_db_value(db, "c", "db-c");
    assert_db_value(db, "x", NULL);
    commit_ok(t);
    assert_db_value(db, "a", "later");
    assert_db_value(db, "b", "t-b2");
    assert_db_value(db, "c", NULL);
    assert_db_value(db, "x", "t-x2");
}

static void test_get_reads_own_writes_then_snapshot(void **state)
{
    in_each_mode(*state, get_reads_own_writes_then_snapshot_in);
}

static void scan_merges_own_writes_in(lsm_db *db)
{
    put_s(db, "a", "1");
    put_s(db, "c", "1");
    put_s(db, "e", "1");
    assert_int_equal(lsm_flush(db), LSM_OK); /* some in an SST */
    put_s(db, "g", "1");
    lsm_txn *t = begin(db, LSM_ISOLATION_SNAPSHOT);
    put_s(db, "d", "late"); /* after begin: not in t's scans */
    del_s(db, "g");
    txn_put_s(t, "b", "t");
    txn_put_s(t, "c", "t");
    txn_del_s(t, "e");
    txn_put_s(t, "h", "t");
    txn_del_s(t, "zz"); /* deleting an absent key hides nothing */
    assert_txn_scan(t, NULL, NULL, "a=1 b=t c=t g=1 h=t ");
    lsm_bound lo = incl("b"), hi = excl("g");
    assert_txn_scan(t, &lo, &hi, "b=t c=t ");
    lo = excl("b"), hi = incl("h");
    assert_txn_scan(t, &lo, &hi, "c=t g=1 h=t ");
    lo = incl("e"), hi = incl("e");
    assert_txn_scan(t, &lo, &hi, "");

    /* An open scan keeps the writes as they were when it opened. */
    lsm_iter *it = NULL;
    assert_int_equal(lsm_txn_scan(t, NULL, NULL, &it), LSM_OK);
    txn_put_s(t, "bb", "new");
    txn_del_s(t, "b");
    txn_put_s(t, "a", "new");
    assert_txn_scan(t, NULL, NULL, "a=new bb=new c=t g=1 h=t ");
    /* ... and outlives the transaction. */
    commit_ok(t);
    char buf[256];
    iter_string(it, buf, sizeof buf);
    lsm_iter_close(it);
    assert_string_equal(buf, "a=1 b=t c=t g=1 h=t ");
}

/* The transaction's snapshot holds across a flush and a full compaction
 * (the watermark keeps the versions it reads), in gets and scans. */
static void reads_across_compaction_in(lsm_db *db)
{
    put_s(db, "a", "db-a");
    put_s(db, "b", "db-b");
    lsm_txn *t = begin(db, LSM_ISOLATION_SNAPSHOT);
    put_s(db, "a", "later");
    del_s(db, "b");
    put_s(db, "d", "later");
    txn_put_s(t, "c", "t");
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    assert_txn_value(t, "a", "db-a");
    assert_txn_value(t, "b", "db-b");
    assert_txn_value(t, "d", NULL);
    assert_txn_scan(t, NULL, NULL, "a=db-a b=db-b c=t ");
    commit_ok(t); /* c was written by nobody else */
    assert_db_value(db, "a", "later");
    assert_db_value(db, "b", NULL);
    assert_db_value(db, "c", "t");
}

static void test_reads_across_compaction(void **state)
{
    in_each_mode(*state, reads_across_compaction_in);
}

static void test_scan_merges_own_writes(void **state)
{
    in_each_mode(*state, scan_merges_own_writes_in);
}

/* A scan of a transaction with no writes is a plain scan at its snapshot;
 * with writes the own-writes source counts as one more active source. */
static void scan_without_writes_is_a_snapshot_scan_in(lsm_db *db)
{
    put_s(db, "a", "1");
    lsm_txn *t = begin(db, LSM_ISOLATION_SNAPSHOT);
    put_s(db, "b", "1");
    lsm_iter *it = NULL;
    assert_int_equal(lsm_txn_scan(t, NULL, NULL, &it), LSM_OK);
    assert_int_equal(lsm_iter_num_active(it), 1);
    lsm_iter_close(it);
    txn_put_s(t, "c", "t");
    assert_int_equal(lsm_txn_scan(t, NULL, NULL, &it), LSM_OK);
    assert_int_equal(lsm_iter_num_active(it), 2);
    char buf[64];
    iter_string(it, buf, sizeof buf);
    lsm_iter_close(it);
    assert_string_equal(buf, "a=1 c=t ");
    lsm_txn_abort(t);
    assert_db_value(db, "c", NULL);
}

static void test_scan_without_writes_is_a_snapshot_scan(void **state)
{
    in_each_mode(*state, scan_without_writes_is_a_snapshot_scan_in);
}

/* --- commits --------------------------------------------------------------
 */

static void read_only_commit_in(lsm_db *db)
{
    put_s(db, "a", "1");
    lsm_txn *t = begin(db, LSM_ISOLATION_SERIALIZABLE);
    uint64_t read_seq = lsm_txn_read_seq(t);
    assert_txn_value(t, "a", "1");
    assert_txn_scan(t, NULL, NULL, "a=1 ");
    put_s(db, "a", "2"); /* would conflict, but t writes nothing */
    uint64_t before = visible_seq(db);
    lsm_counters c0 = counters(db);
    assert_int_equal(commit_ok(t), read_seq);
    lsm_counters c1 = counters(db);
    assert_int_equal(c1.txn_commits, c0.txn_commits + 1);
    assert_int_equal(c1.txn_conflicts_read, c0.txn_conflicts_read);
    assert_int_equal(c1.puts, c0.puts);
    assert_int_equal(visible_seq(db), before);
}

static void test_read_only_commit(void **state)
{
    in_each_mode(*state, read_only_commit_in);
}

static void commit_is_one_batch_with_one_commit_point_in(lsm_db *db)
{
    put_s(db, "z", "0");
    lsm_txn *t = begin(db, LSM_ISOLATION_SNAPSHOT);
    txn_put_s(t, "c", "1");
    txn_put_s(t, "a", "1");
    txn_put_s(t, "b", "1");
    txn_put_s(t, "a", "2");
    txn_del_s(t, "z");
    uint64_t before = visible_seq(db);
    lsm_counters c0 = counters(db);
    uint64_t seq = commit_ok(t);
    /* Four keys: four seqs, the last one the commit point. */
    assert_int_equal(seq, before + 4);
    assert_int_equal(visible_seq(db), seq);
    lsm_counters c1 = counters(db);
    assert_int_equal(c1.txn_commits, c0.txn_commits + 1);
    assert_int_equal(c1.puts, c0.puts + 3);
    assert_int_equal(c1.deletes, c0.deletes + 1);
    assert_db_value(db, "a", "2");
    assert_db_value(db, "z", NULL);
}

static void test_commit_is_one_batch_with_one_commit_point(void **state)
{
    in_each_mode(*state, commit_is_one_batch_with_one_commit_point_in);
}

/* The write set is limited to one WAL record (64 MiB), checked when a
 * write is buffered; a set just under it commits. */
static void test_write_set_limited_to_one_record(void **state)
{
    char *dir = mode_dir(*state, LSM_SCHED_INLINE);
    lsm_db *db = open_db(dir, LSM_SCHED_INLINE);
    size_t big = LSM_MAX_VALUE_BYTES;
    char *value = malloc(big);
    assert_non_null(value);
    memset(value, 'v', big);
    lsm_txn *t = begin(db, LSM_ISOLATION_SNAPSHOT);
    assert_int_equal(lsm_txn_put(t, "k1", 2, value, big), LSM_OK);
    assert_int_equal(lsm_txn_put(t, "k2", 2, value, big), LSM_OK);
    assert_int_equal(lsm_txn_put(t, "k3", 2, value, big), LSM_OK);
    /* Replacing a key does not grow the set. */
    assert_int_equal(lsm_txn_put(t, "k3", 2, value, big), LSM_OK);
    assert_int_equal(lsm_txn_put(t, "k4", 2, value, big), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "one log record"));
    assert_txn_value(t, "k4", NULL); /* refused: not buffered */
    assert_int_equal(lsm_txn_put(t, "k4", 2, value, big - 1000), LSM_OK);
    commit_ok(t);
    void *v = NULL;
    size_t n = 0;
    assert_int_equal(lsm_get(db, "k4", 2, &v, &n), LSM_OK);
    assert_int_equal(n, big - 1000);
    lsm_free(v);
    free(value);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(dir);
}

/* --- conflicts ------------------------------------------------------------
 */

/* Writes after begin conflict with a written key, wherever they are: the
 * mutable memtable, an SST, a level after compaction; plain writes and
 * deletes too. Nothing of the refused transaction is written. */
static void write_conflict_in(lsm_db *db)
{
    for (int where = 0; where < 3; where++) {
        put_s(db, "k", "0");
        lsm_txn *t = begin(db, LSM_ISOLATION_SNAPSHOT);
        txn_put_s(t, "a-mine", "t");
        txn_put_s(t, "k", "t");
        if (where == 1)
            del_s(db, "k"); /* a delete is a write too */
        else
            put_s(db, "k", "other");
        uint64_t seq = visible_seq(db);
        put_s(db, "unrelated", "x"); /* newer, other key */
        if (where >= 1)
            assert_int_equal(lsm_flush(db), LSM_OK);
        if (where == 2)
            assert_int_equal(lsm_compact_full(db), LSM_OK);
        lsm_counters c0 = counters(db);
        uint64_t before = visible_seq(db);
        commit_expect_conflict(t, LSM_CONFLICT_WRITE, "k", seq);
        assert_non_null(strstr(lsm_errmsg(), "a key it writes"));
        lsm_counters c1 = counters(db);
        assert_int_equal(c1.txn_conflicts_write, c0.txn_conflicts_write + 1);
        assert_int_equal(c1.txn_commits, c0.txn_commits);
        assert_int_equal(c1.puts, c0.puts);
        assert_int_equal(visible_seq(db), before);
        assert_db_value(db, "a-mine", NULL);
        assert_db_value(db, "k", where == 1 ? NULL : "other");
    }
}

static void test_write_conflict(void **state)
{
    in_each_mode(*state, write_conflict_in);
}

/* Writes before begin, and writes of other keys, are no conflict. */
static void no_false_conflicts_in(lsm_db *db)
{
    put_s(db, "k", "0");
    assert_int_equal(lsm_flush(db), LSM_OK);
    put_s(db, "k", "1"); /* before begin, in the memtable */
    lsm_txn *t = begin(db, LSM_ISOLATION_SERIALIZABLE);
    assert_txn_value(t, "k", "1");
    lsm_bound lo = incl("k"), hi = incl("m");
    assert_txn_scan(t, &lo, &hi, "k=1 ");
    put_s(db, "j", "x");  /* outside the range, just below */
    put_s(db, "ma", "x"); /* just above */
    lsm_bound lo2 = excl("p"), hi2 = excl("r");
    assert_txn_scan(t, &lo2, &hi2, "");
    put_s(db, "p", "x"); /* the excluded ends */
    put_s(db, "r", "x");
    assert_int_equal(lsm_flush(db), LSM_OK);
    put_s(db, "q0", "x"); /* inside: kept for the range test */
    del_s(db, "q0");
    txn_put_s(t, "k", "2");
    lsm_txn *t2 = begin(db, LSM_ISOLATION_SERIALIZABLE);
    commit_ok(t2); /* read-only, in between */
    /* q0 is in (p, r): a conflict. */
    lsm_counters c0 = counters(db);
    uint64_t seq = visible_seq(db);
    commit_expect_conflict(t, LSM_CONFLICT_RANGE, "q0", seq);
    assert_int_equal(counters(db).txn_conflicts_range,
                     c0.txn_conflicts_range + 1);

    /* Without q0, the same history commits. */
    t = begin(db, LSM_ISOLATION_SERIALIZABLE);
    assert_txn_value(t, "k", "1");
    assert_txn_scan(t, &lo, &hi, "k=1 ");
    assert_txn_scan(t, &lo2, &hi2, "");
    put_s(db, "j", "y");
    put_s(db, "ma", "y");
    put_s(db, "p", "y");
    put_s(db, "r", "y");
    txn_put_s(t, "k", "2");
    commit_ok(t);
    assert_db_value(db, "k", "2");
}

static void test_no_false_conflicts(void **state)
{
    in_each_mode(*state, no_false_conflicts_in);
}

static void read_conflict_only_serializable_in(lsm_db *db)
{
    for (int iso = 0; iso < 2; iso++) {
        lsm_txn *t = begin(db, (lsm_isolation)iso);
        char absent[16];
        snprintf(absent, sizeof absent, "absent%d", iso);
        assert_txn_value(t, absent, NULL); /* a miss is a read too */
        txn_put_s(t, "out", "t");
        put_s(db, absent, "now-present");
        uint64_t seq = visible_seq(db);
        if (iso == LSM_ISOLATION_SNAPSHOT) {
            commit_ok(t);
            continue;
        }
        lsm_counters c0 = counters(db);
        commit_expect_conflict(t, LSM_CONFLICT_READ, absent, seq);
        assert_non_null(strstr(lsm_errmsg(), "a key it read"));
        assert_int_equal(counters(db).txn_conflicts_read,
                         c0.txn_conflicts_read + 1);
    }
    /* A key served from its own writes is not a read of the db. */
    lsm_txn *t = begin(db, LSM_ISOLATION_SERIALIZABLE);
    txn_put_s(t, "own", "t");
    assert_txn_value(t, "own", "t");
    txn_put_s(t, "other", "t");
    put_s(db, "own2", "x");
    commit_ok(t);
}

static void test_read_conflict_only_serializable(void **state)
{
    in_each_mode(*state, read_conflict_only_serializable_in);
}

/* The first conflict in the documented order: written keys in key order,
 * then read keys in key order, then ranges in the order scanned, at the
 * range's smallest written key (its newest version's seq). */
static void conflict_report_order_in(lsm_db *db)
{
    lsm_txn *t = begin(db, LSM_ISOLATION_SERIALIZABLE);
    lsm_bound lo = incl("r"), hi = incl("s");
    assert_txn_scan(t, &lo, &hi, "");
    assert_txn_value(t, "m", NULL);
    assert_txn_value(t, "b", NULL);
    txn_put_s(t, "z", "t");
    txn_put_s(t, "y", "t");
    put_s(db, "r5", "x");
    put_s(db, "r1", "x");
    put_s(db, "r1", "x2");
    put_s(db, "m", "x");
    put_s(db, "b", "x");
    uint64_t b = visible_seq(db);
    put_s(db, "z", "x");
    put_s(db, "y", "x");
    uint64_t y = visible_seq(db);
    put_s(db, "y", "x2"); /* y's newest version is this one */
    uint64_t y2 = visible_seq(db);
    assert_true(y2 > y);

    /* Every kind conflicts: the written keys come first. */
    commit_expect_conflict(t, LSM_CONFLICT_WRITE, "y", y2);

    /* Reads next: a transaction that writes an untouched key. */
    t = begin(db, LSM_ISOLATION_SERIALIZABLE);
    uint64_t rs = lsm_txn_read_seq(t);
    assert_txn_scan(t, &lo, &hi, "r1=x2 r5=x ");
    assert_txn_value(t, "m", "x");
    assert_txn_value(t, "b", "x");
    txn_put_s(t, "w", "t");
    put_s(db, "r3", "x");
    put_s(db, "m", "again");
    put_s(db, "b", "again");
    b = visible_seq(db);
    assert_true(b > rs);
    commit_expect_conflict(t, LSM_CONFLICT_READ, "b", b);

    /* Ranges last, the smallest key of the first range scanned. */
    t = begin(db, LSM_ISOLATION_SERIALIZABLE);
    lsm_bound lo2 = incl("a"), hi2 = incl("c");
    assert_txn_scan(t, &lo, &hi, "r1=x2 r3=x r5=x ");
    assert_txn_scan(t, &lo2, &hi2, "b=again ");
    txn_put_s(t, "w", "t");
    put_s(db, "a0", "x"); /* in the second range */
    put_s(db, "r4", "x");
    put_s(db, "r2", "x");
    uint64_t r2 = visible_seq(db);
    commit_expect_conflict(t, LSM_CONFLICT_RANGE, "r2", r2);
}

static void test_conflict_report_order(void **state)
{
    in_each_mode(*state, conflict_report_order_in);
}

/* A range is the whole range asked for, even if the scan stopped early
 * or returned nothing; a delete in it is a write too. */
static void range_conflict_whole_range_in(lsm_db *db)
{
    put_s(db, "b", "1");
    put_s(db, "c", "1");
    put_s(db, "d", "1");
    lsm_txn *t = begin(db, LSM_ISOLATION_SERIALIZABLE);
    lsm_iter *it = NULL;
    assert_int_equal(lsm_txn_scan(t, NULL, NULL, &it), LSM_OK);
    lsm_iter_close(it); /* never moved */
    txn_put_s(t, "x", "t");
    del_s(db, "d");
    uint64_t seq = visible_seq(db);
    assert_int_equal(lsm_flush(db), LSM_OK); /* the delete in an SST */
    commit_expect_conflict(t, LSM_CONFLICT_RANGE, "d", seq);
    assert_db_value(db, "x", NULL);
}

static void test_range_conflict_whole_range(void **state)
{
    in_each_mode(*state, range_conflict_whole_range_in);
}

/* A delete after begin, compacted with the older version below it into
 * the bottom level: the tombstone lies above the watermark (the
 * transaction's read point), so it stays, and the range conflicts. */
static void range_conflict_after_compaction_in(lsm_db *db)
{
    put_s(db, "b", "1");
    put_s(db, "d", "1");
    assert_int_equal(lsm_flush(db), LSM_OK);
    lsm_txn *t = begin(db, LSM_ISOLATION_SERIALIZABLE);
    lsm_bound lo = incl("c"), hi = incl("e");
    assert_txn_scan(t, &lo, &hi, "d=1 ");
    txn_put_s(t, "x", "t");
    del_s(db, "d");
    uint64_t seq = visible_seq(db);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    commit_expect_conflict(t, LSM_CONFLICT_RANGE, "d", seq);
    assert_db_value(db, "x", NULL);
}

static void test_range_conflict_after_compaction(void **state)
{
    in_each_mode(*state, range_conflict_after_compaction_in);
}

/* --- the anomalies --------------------------------------------------------
 */

static int read_int(lsm_txn *t, const char *k)
{
    void *v = NULL;
    size_t n = 0;
    int rc = lsm_txn_get(t, k, strlen(k), &v, &n);
    if (rc == LSM_NOTFOUND)
        return 0;
    assert_int_equal(rc, LSM_OK);
    int x = atoi(v);
    lsm_free(v);
    return x;
}

static void write_int(lsm_txn *t, const char *k, int x)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%d", x);
    txn_put_s(t, k, buf);
}

/* Lost update: two read-modify-writes of one counter. Both levels refuse
 * the second (first committer wins). */
static void anomaly_lost_update_prevented_in(lsm_db *db)
{
    for (int iso = 0; iso < 2; iso++) {
        put_s(db, "counter", "10");
        lsm_txn *t1 = begin(db, (lsm_isolation)iso);
        lsm_txn *t2 = begin(db, (lsm_isolation)iso);
        write_int(t1, "counter", read_int(t1, "counter") + 1);
        write_int(t2, "counter", read_int(t2, "counter") + 1);
        uint64_t seq = commit_ok(t1);
        commit_expect_conflict(t2, LSM_CONFLICT_WRITE, "counter", seq);
        assert_db_value(db, "counter", "11");
    }
}

static void test_anomaly_lost_update_prevented(void **state)
{
    in_each_mode(*state, anomaly_lost_update_prevented_in);
}

/* Write skew: two doctors on call, each goes off call if the other is on.
 * Snapshot isolation lets both commit (nobody on call); serializable
 * refuses the second (it read the key the first wrote). */
static void anomaly_write_skew_in(lsm_db *db)
{
    for (int iso = 0; iso < 2; iso++) {
        put_s(db, "alice", "1");
        put_s(db, "bob", "1");
        lsm_txn *t1 = begin(db, (lsm_isolation)iso);
        lsm_txn *t2 = begin(db, (lsm_isolation)iso);
        if (read_int(t1, "alice") + read_int(t1, "bob") >= 2)
            write_int(t1, "alice", 0);
        if (read_int(t2, "alice") + read_int(t2, "bob") >= 2)
            write_int(t2, "bob", 0);
        uint64_t seq = commit_ok(t1);
        if (iso == LSM_ISOLATION_SNAPSHOT) {
            commit_ok(t2); /* allowed: the anomaly */
            assert_db_value(db, "alice", "0");
            assert_db_value(db, "bob", "0");
        } else {
            commit_expect_conflict(t2, LSM_CONFLICT_READ, "alice", seq);
            assert_db_value(db, "alice", "0");
            assert_db_value(db, "bob", "1");
        }
    }
}

static void test_anomaly_write_skew(void **state)
{
    in_each_mode(*state, anomaly_write_skew_in);
}

/* Read skew: a transfer commits between a transaction's two reads. Both
 * levels read one snapshot, so the sum stays whole, and a read-only
 * transaction commits. */
static void read_skew(lsm_db *db, bool flush)
{
    for (int iso = 0; iso < 2; iso++) {
        put_s(db, "x", "50");
        put_s(db, "y", "50");
        lsm_txn *reader = begin(db, (lsm_isolation)iso);
        int x = read_int(reader, "x");
        lsm_txn *transfer = begin(db, (lsm_isolation)iso);
        write_int(transfer, "x", read_int(transfer, "x") - 30);
        write_int(transfer, "y", read_int(transfer, "y") + 30);
        commit_ok(transfer);
        if (flush) /* the snapshot's versions now in an SST */
            assert_int_equal(lsm_flush(db), LSM_OK);
        int y = read_int(reader, "y");
        assert_int_equal(x + y, 100);
        assert_int_equal(y, 50);
        assert_txn_scan(reader, NULL, NULL, "x=50 y=50 ");
        commit_ok(reader);
        assert_db_value(db, "x", "20");
    }
}

static void anomaly_read_skew_prevented_in(lsm_db *db)
{
    read_skew(db, false);
}

static void test_anomaly_read_skew_prevented(void **state)
{
    in_each_mode(*state, anomaly_read_skew_prevented_in);
}

static void read_skew_across_flush_in(lsm_db *db)
{
    read_skew(db, true);
}

static void test_anomaly_read_skew_prevented_across_flush(void **state)
{
    in_each_mode(*state, read_skew_across_flush_in);
}

/* Phantom: a transaction counts the rows of a range and writes the count;
 * another inserts a row into the range meanwhile. Snapshot isolation
 * commits both (the count is stale); serializable refuses the first,
 * because the range it scanned was written (the mini-lsm book's check,
 * which records only keys a scan returned, lets this through). */
static void anomaly_phantom_in(lsm_db *db)
{
    for (int iso = 0; iso < 2; iso++) {
        const char *pfx = iso ? "s" : "i";
        char r1[8], r2[8], r9[8], lo_k[8], hi_k[8], count[16];
        snprintf(r1, sizeof r1, "%s/r1", pfx);
        snprintf(r2, sizeof r2, "%s/r2", pfx);
        snprintf(r9, sizeof r9, "%s/r9", pfx);
        snprintf(lo_k, sizeof lo_k, "%s/r", pfx);
        snprintf(hi_k, sizeof hi_k, "%s/s", pfx);
        snprintf(count, sizeof count, "%s/count", pfx);
        put_s(db, r1, "x");
        put_s(db, r9, "x");
        lsm_txn *counter = begin(db, (lsm_isolation)iso);
        lsm_bound lo = incl(lo_k), hi = excl(hi_k);
        lsm_iter *it = NULL;
        assert_int_equal(lsm_txn_scan(counter, &lo, &hi, &it), LSM_OK);
        int rows = 0;
        while (lsm_iter_valid(it)) {
            rows++;
            assert_int_equal(lsm_iter_next(it), LSM_OK);
        }
        lsm_iter_close(it);
        assert_int_equal(rows, 2);
        lsm_txn *inserter = begin(db, (lsm_isolation)iso);
        txn_put_s(inserter, r2, "x"); /* not a key the scan returned */
        uint64_t seq = commit_ok(inserter);
        write_int(counter, count, rows);
        if (iso == LSM_ISOLATION_SNAPSHOT)
            commit_ok(counter); /* allowed: the count is stale */
        else
            commit_expect_conflict(counter, LSM_CONFLICT_RANGE, r2, seq);
    }
}

static void test_anomaly_phantom(void **state)
{
    in_each_mode(*state, anomaly_phantom_in);
}

/* --- concurrency (threads mode; also run under TSan) -----------------------
 */

#define ATOM_KEYS 8
#define ATOM_COMMITS 300
#define ATOM_READERS 2
#define COUNTER_THREADS 3
#define COUNTER_INCREMENTS 60

typedef struct atom_ctx {
    lsm_db *db;
    atomic_int done;
    atomic_int failures;
    atomic_long reads;
} atom_ctx;

static void atom_key(int i, char out[8])
{
    snprintf(out, 8, "key%d", i);
}

/* Readers must finish a read every ATOM_COMMITS_PER_READ commits, so reads
 * interleave with commits however the threads are scheduled (under TSan on
 * a loaded machine the writer once finished before any read). */
#define ATOM_COMMITS_PER_READ 10

/* Waits until the readers have kept pace with round r, or one has failed
 * (a failed reader stops reading, so waiting on would never end). */
static void atom_wait_for_readers(atom_ctx *c, int r)
{
    while (atomic_load(&c->reads) < r / ATOM_COMMITS_PER_READ &&
           atomic_load(&c->failures) == 0)
        sched_yield();
}

/* Commits rounds 1..ATOM_COMMITS, each writing "round" to every key. */
static void *atom_writer(void *arg)
{
    atom_ctx *c = arg;
    for (int r = 1; r <= ATOM_COMMITS; r++) {
        atom_wait_for_readers(c, r);
        lsm_txn *t = NULL;
        if (lsm_txn_begin(c->db, LSM_ISOLATION_SNAPSHOT, &t) != LSM_OK) {
            atomic_fetch_add(&c->failures, 1);
            break;
        }
        char v[16], k[8];
        snprintf(v, sizeof v, "%06d", r);
        for (int i = 0; i < ATOM_KEYS; i++) {
            atom_key(i, k);
            lsm_txn_put(t, k, strlen(k), v, strlen(v));
        }
        if (lsm_txn_commit(t, NULL) != LSM_OK)
            atomic_fetch_add(&c->failures, 1);
    }
    atomic_store(&c->done, 1);
    return NULL;
}

/* Scans (one read point each) and reads at snapshots, never seeing keys
 * from two different commits. */
static void *atom_reader(void *arg)
{
    atom_ctx *c = arg;
    while (!atomic_load(&c->done)) {
        lsm_iter *it = NULL;
        if (lsm_scan(c->db, NULL, NULL, &it) != LSM_OK) {
            atomic_fetch_add(&c->failures, 1);
            return NULL;
        }
        char first[16] = "";
        int n = 0;
        while (lsm_iter_valid(it)) {
            size_t nv;
            const char *v = lsm_iter_value(it, &nv);
            if (n == 0)
                snprintf(first, sizeof first, "%.*s", (int)nv, v);
            else if (nv != strlen(first) || memcmp(v, first, nv) != 0)
                atomic_fetch_add(&c->failures, 1);
            n++;
            lsm_iter_next(it);
        }
        lsm_iter_close(it);
        if (n != 0 && n != ATOM_KEYS)
            atomic_fetch_add(&c->failures, 1);
        /* The same through a transaction's gets. */
        lsm_txn *t = NULL;
        if (lsm_txn_begin(c->db, LSM_ISOLATION_SERIALIZABLE, &t) != LSM_OK) {
            atomic_fetch_add(&c->failures, 1);
            return NULL;
        }
        char seen[16] = "";
        for (int i = 0; i < ATOM_KEYS; i++) {
            char k[8];
            atom_key(i, k);
            void *v = NULL;
            size_t nv = 0;
            int rc = lsm_txn_get(t, k, strlen(k), &v, &nv);
            char now[16] = "";
            if (rc == LSM_OK)
                snprintf(now, sizeof now, "%.*s", (int)nv, (char *)v);
            lsm_free(v);
            if (i > 0 && strcmp(now, seen) != 0)
                atomic_fetch_add(&c->failures, 1);
            snprintf(seen, sizeof seen, "%s", now);
        }
        if (lsm_txn_commit(t, NULL) != LSM_OK) /* read-only: always */
            atomic_fetch_add(&c->failures, 1);
        atomic_fetch_add(&c->reads, 1);
    }
    return NULL;
}

static lsm_db *open_small(const char *dir, lsm_sched s)
{
    lsm_options opt;
    lsm_options_init(&opt);
    opt.sched = s;
    opt.target_sst_size = 2048; /* freezes and flushes during the test */
    opt.num_memtable_limit = 2;
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    return db;
}

static void test_readers_never_see_part_of_a_commit(void **state)
{
    char *dir = mode_dir(*state, LSM_SCHED_THREADS);
    atom_ctx c = {.db = open_small(dir, LSM_SCHED_THREADS)};
    pthread_t w, r[ATOM_READERS];
    assert_int_equal(pthread_create(&w, NULL, atom_writer, &c), 0);
    for (int i = 0; i < ATOM_READERS; i++)
        assert_int_equal(pthread_create(&r[i], NULL, atom_reader, &c), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < ATOM_READERS; i++)
        pthread_join(r[i], NULL);
    assert_int_equal(atomic_load(&c.failures), 0);
    assert_true(atomic_load(&c.reads) >= ATOM_COMMITS / ATOM_COMMITS_PER_READ);
    assert_db_value(c.db, "key0", "000300");
    assert_db_value(c.db, "key7", "000300");
    assert_int_equal(lsm_close(c.db), LSM_OK);
    free(dir);
}

typedef struct counter_ctx {
    lsm_db *db;
    lsm_isolation iso;
    atomic_int failures;
    atomic_int conflicts;
} counter_ctx;

/* Increments "n" COUNTER_INCREMENTS times, retrying on conflict. */
static void *counter_thread(void *arg)
{
    counter_ctx *c = arg;
    for (int i = 0; i < COUNTER_INCREMENTS;) {
        lsm_txn *t = NULL;
        if (lsm_txn_begin(c->db, c->iso, &t) != LSM_OK) {
            atomic_fetch_add(&c->failures, 1);
            return NULL;
        }
        void *v = NULL;
        size_t nv = 0;
        int rc = lsm_txn_get(t, "n", 1, &v, &nv);
        int x = rc == LSM_OK ? atoi(v) : 0;
        lsm_free(v);
        sched_yield(); /* let another thread read the same value */
        char buf[16];
        snprintf(buf, sizeof buf, "%d", x + 1);
        lsm_txn_put(t, "n", 1, buf, strlen(buf));
        rc = lsm_txn_commit(t, NULL);
        if (rc == LSM_OK)
            i++;
        else if (rc == LSM_ECONFLICT)
            atomic_fetch_add(&c->conflicts, 1);
        else
            atomic_fetch_add(&c->failures, 1);
    }
    return NULL;
}

/* Concurrent read-modify-writes lose no update, at both levels, in both
 * modes. */
static void test_concurrent_increments_lose_nothing(void **state)
{
    for (int mi = 0; mi < N_MODES; mi++) {
        char *dir = mode_dir(*state, modes[mi]);
        for (int iso = 0; iso < 2; iso++) {
            counter_ctx c = {.db = open_small(dir, modes[mi]),
                             .iso = (lsm_isolation)iso};
            lsm_counters c0 = counters(c.db);
            pthread_t th[COUNTER_THREADS];
            for (int i = 0; i < COUNTER_THREADS; i++)
                assert_int_equal(
                    pthread_create(&th[i], NULL, counter_thread, &c), 0);
            for (int i = 0; i < COUNTER_THREADS; i++)
                pthread_join(th[i], NULL);
            assert_int_equal(atomic_load(&c.failures), 0);
            char want[16];
            snprintf(want, sizeof want, "%d",
                     (iso + 1) * COUNTER_THREADS * COUNTER_INCREMENTS);
            assert_db_value(c.db, "n", want);
            lsm_counters c1 = counters(c.db);
            assert_int_equal(c1.txn_commits - c0.txn_commits,
                             COUNTER_THREADS * COUNTER_INCREMENTS);
            assert_int_equal(c1.txn_conflicts_write - c0.txn_conflicts_write,
                             (uint64_t)atomic_load(&c.conflicts));
            assert_int_equal(lsm_close(c.db), LSM_OK);
        }
        free(dir);
    }
}

/* --- durability and recovery ----------------------------------------------
 */

/* With the sync option a commit goes through group commit and is visible
 * once acknowledged. */
static void test_commit_with_sync(void **state)
{
    for (int mi = 0; mi < N_MODES; mi++) {
        char *dir = mode_dir(*state, modes[mi]);
        lsm_options opt;
        lsm_options_init(&opt);
        opt.sched = modes[mi];
        opt.sync = 1;
        lsm_db *db = NULL;
        assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
        lsm_txn *t = begin(db, LSM_ISOLATION_SERIALIZABLE);
        txn_put_s(t, "a", "1");
        txn_put_s(t, "b", "1");
        uint64_t seq = commit_ok(t);
        assert_int_equal(visible_seq(db), seq);
        assert_db_value(db, "b", "1");
        lsm_state *st = NULL;
        assert_int_equal(lsm_state_get(db, &st), LSM_OK);
        assert_true(st->counters.wal_syncs >= 1);
        lsm_state_free(st);
        assert_int_equal(lsm_close(db), LSM_OK);
        free(dir);
    }
}

#define RECOVERY_TXNS 40

/* A child commits transactions and dies without closing; reopening finds
 * every one of them whole, and seqs go on from the highest recovered. */
static void test_recovery_after_crash(void **state)
{
    for (int mi = 0; mi < N_MODES; mi++) {
        char *dir = mode_dir(*state, modes[mi]);
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            lsm_db *db = NULL;
            lsm_options opt;
            lsm_options_init(&opt);
            opt.sched = modes[mi];
            opt.target_sst_size = 4096;
            if (lsm_open(dir, &opt, &db) != LSM_OK)
                _exit(2);
            uint64_t last = 0;
            for (int i = 0; i < RECOVERY_TXNS; i++) {
                lsm_txn *t = NULL;
                if (lsm_txn_begin(db, LSM_ISOLATION_SERIALIZABLE, &t))
                    _exit(3);
                char k[16], v[64];
                for (int j = 0; j < 5; j++) {
                    snprintf(k, sizeof k, "t%02d-%d", i, j);
                    snprintf(v, sizeof v, "value of %d.%d", i, j);
                    lsm_txn_put(t, k, strlen(k), v, strlen(v));
                }
                snprintf(k, sizeof k, "t%02d-%d", i - 1, 0);
                if (i > 0)
                    lsm_txn_delete(t, k, strlen(k));
                lsm_commit_info info;
                if (lsm_txn_commit(t, &info) != LSM_OK)
                    _exit(4);
                last = info.commit_seq;
            }
            if (write(fds[1], &last, sizeof last) != sizeof last)
                _exit(5);
            _exit(0); /* no lsm_close: a crash */
        }
        close(fds[1]);
        uint64_t last = 0;
        assert_int_equal(read(fds[0], &last, sizeof last), sizeof last);
        close(fds[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        lsm_db *db = open_db(dir, modes[mi]);
        assert_int_equal(visible_seq(db), last);
        for (int i = 0; i < RECOVERY_TXNS; i++)
            for (int j = 0; j < 5; j++) {
                char k[16], v[64];
                snprintf(k, sizeof k, "t%02d-%d", i, j);
                snprintf(v, sizeof v, "value of %d.%d", i, j);
                bool deleted = j == 0 && i < RECOVERY_TXNS - 1;
                assert_db_value(db, k, deleted ? NULL : v);
            }
        lsm_txn *t = begin(db, LSM_ISOLATION_SNAPSHOT);
        assert_int_equal(lsm_txn_read_seq(t), last);
        txn_put_s(t, "after", "1");
        assert_int_equal(commit_ok(t), last + 1);
        assert_int_equal(lsm_close(db), LSM_OK);
        free(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f)                                                                   \
    cmocka_unit_test_setup_teardown(f, test_dir_setup, test_dir_teardown)
        T(test_null_and_bad_arguments),
        T(test_ids_read_points_and_close),
        T(test_get_reads_own_writes_then_snapshot),
        T(test_reads_across_compaction),
        T(test_scan_merges_own_writes),
        T(test_scan_without_writes_is_a_snapshot_scan),
        T(test_read_only_commit),
        T(test_commit_is_one_batch_with_one_commit_point),
        T(test_write_set_limited_to_one_record),
        T(test_write_conflict),
        T(test_no_false_conflicts),
        T(test_read_conflict_only_serializable),
        T(test_conflict_report_order),
        T(test_range_conflict_whole_range),
        T(test_range_conflict_after_compaction),
        T(test_anomaly_lost_update_prevented),
        T(test_anomaly_write_skew),
        T(test_anomaly_read_skew_prevented),
        T(test_anomaly_read_skew_prevented_across_flush),
        T(test_anomaly_phantom),
        T(test_readers_never_see_part_of_a_commit),
        T(test_concurrent_increments_lose_nothing),
        T(test_commit_with_sync),
        T(test_recovery_after_crash),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
