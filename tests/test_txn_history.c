/*
 * test_txn_history.c: a serializability history checker for transactions
 * (public API only).
 *
 * Each case runs 3 or 4 transactions over 2 or 3 keys, interleaved at
 * random (seeded, so every case replays): each begins, gets keys, scans a
 * key range, puts and deletes, and commits, one step at a time, with a
 * flush now and then so reads cross memtables and SSTs. The test records
 * what every read saw. Then the checker searches the orders of the
 * committed transactions for a serial one: replaying them one after the
 * other from the initial state, every read must see what it saw, and the
 * database must end as the engine's did. Values written are constants, so
 * equal reads and an equal end state make the history equivalent to that
 * order.
 *
 * Under SERIALIZABLE every history must pass. Under SNAPSHOT the checker
 * must reject write skew (so it can fail), both in a fixed construction
 * and among the random cases.
 *
 * A failure prints the seed and the whole history; LSM_TEST_SEED=<n>
 * replays one case.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H_KEYS_MAX 3
#define H_TXNS_MAX 4
#define H_OPS_MAX 5
#define H_ABSENT (-1)
#define H_CASES 400

typedef enum hop_kind { H_GET, H_SCAN, H_PUT, H_DEL } hop_kind;

/* One operation of a transaction's program, and what a read saw: for a
 * get, seen[0]; for a scan of keys [lo, hi], seen[lo..hi]. Values are
 * small integers (the key's value id), H_ABSENT for no value. */
typedef struct hop {
    hop_kind kind;
    int key;    /* get, put, delete */
    int lo, hi; /* scan: key indices, both included */
    int value;  /* put: the value id written */
    int seen[H_KEYS_MAX];
} hop;

typedef struct htxn {
    lsm_isolation iso;
    int n_ops;
    hop ops[H_OPS_MAX];
    lsm_txn *t;
    int next;      /* the next step: 0 begin, 1..n_ops an op, n_ops+1 end */
    int committed; /* 1 committed, 0 conflict (or not ended yet) */
} htxn;

typedef struct hcase {
    uint64_t seed;
    int n_keys, n_txns;
    int initial[H_KEYS_MAX];
    htxn txns[H_TXNS_MAX];
    int final[H_KEYS_MAX]; /* the engine's, after every transaction */
    char log[2048];        /* the interleaving, for a failure message */
    size_t log_len;
} hcase;

static void hlog(hcase *c, const char *fmt, ...)
{
    if (c->log_len >= sizeof(c->log) - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n =
        vsnprintf(c->log + c->log_len, sizeof(c->log) - c->log_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        c->log_len += (size_t)n;
    if (c->log_len > sizeof(c->log) - 1)
        c->log_len = sizeof(c->log) - 1;
}

static void key_name(int k, char out[4])
{
    out[0] = 'h';
    out[1] = (char)('0' + k);
    out[2] = '\0';
}

/* A value id as stored: "v<id>". */
static size_t value_bytes(int id, char out[16])
{
    return (size_t)snprintf(out, 16, "v%d", id);
}

/* The value id of a stored value, or -2 for something this test never
 * wrote. */
static int value_id(const void *v, size_t nv)
{
    char buf[16];
    if (nv < 2 || nv >= sizeof(buf) || ((const char *)v)[0] != 'v')
        return -2;
    memcpy(buf, (const char *)v + 1, nv - 1);
    buf[nv - 1] = '\0';
    return atoi(buf);
}

/* --- generating a case ---------------------------------------------------- */

/* A random program: 2 to 5 operations, at least one read and one write,
 * value ids unique in the case (txn * 10 + op). */
static void gen_program(uint64_t *rng, hcase *c, int ti)
{
    htxn *t = &c->txns[ti];
    t->n_ops = 2 + (int)test_rng_below(rng, H_OPS_MAX - 1);
    int reads = 0, writes = 0;
    for (int i = 0; i < t->n_ops; i++) {
        hop *o = &t->ops[i];
        memset(o, 0, sizeof(*o));
        unsigned pick = (unsigned)test_rng_below(rng, 10);
        if (i == t->n_ops - 1 && writes == 0)
            pick = 9;
        if (i == t->n_ops - 1 && reads == 0)
            pick = 0;
        o->key = (int)test_rng_below(rng, (uint64_t)c->n_keys);
        if (pick < 4) {
            o->kind = H_GET;
            reads++;
        } else if (pick < 6) {
            o->kind = H_SCAN;
            o->lo = (int)test_rng_below(rng, (uint64_t)c->n_keys);
            o->hi =
                o->lo + (int)test_rng_below(rng, (uint64_t)(c->n_keys - o->lo));
            reads++;
        } else if (pick < 8 || pick == 9) {
            o->kind = H_PUT;
            o->value = ti * 10 + i + 1;
            writes++;
        } else {
            o->kind = H_DEL;
            writes++;
        }
    }
}

static void gen_case(hcase *c, uint64_t seed, lsm_isolation iso)
{
    uint64_t rng = seed;
    memset(c, 0, sizeof(*c));
    c->seed = seed;
    c->n_keys = 2 + (int)test_rng_below(&rng, 2);
    c->n_txns = 3 + (int)test_rng_below(&rng, 2);
    for (int k = 0; k < c->n_keys; k++)
        c->initial[k] = test_rng_below(&rng, 4) == 0 ? H_ABSENT : 100 + k;
    for (int i = 0; i < c->n_txns; i++) {
        c->txns[i].iso = iso;
        gen_program(&rng, c, i);
    }
}

/* --- running a case ------------------------------------------------------- */

/* Writes the initial state in one batch (absent keys deleted). */
static void write_initial(lsm_db *db, const hcase *c)
{
    lsm_batch *b = NULL;
    assert_int_equal(lsm_batch_new(&b), LSM_OK);
    for (int k = 0; k < H_KEYS_MAX; k++) {
        char kn[4], v[16];
        key_name(k, kn);
        if (k < c->n_keys && c->initial[k] != H_ABSENT)
            assert_int_equal(
                lsm_batch_put(b, kn, 2, v, value_bytes(c->initial[k], v)),
                LSM_OK);
        else
            assert_int_equal(lsm_batch_delete(b, kn, 2), LSM_OK);
    }
    assert_int_equal(lsm_write(db, b), LSM_OK);
    lsm_batch_free(b);
}

static int txn_read_key(lsm_txn *t, int k)
{
    char kn[4];
    key_name(k, kn);
    void *v = NULL;
    size_t nv = 0;
    int rc = lsm_txn_get(t, kn, 2, &v, &nv);
    if (rc == LSM_NOTFOUND)
        return H_ABSENT;
    assert_int_equal(rc, LSM_OK);
    int id = value_id(v, nv);
    lsm_free(v);
    assert_true(id >= 0);
    return id;
}

/* A scan of [lo, hi] inside t: fills seen[lo..hi]. */
static void txn_scan_keys(lsm_txn *t, int lo, int hi, int seen[H_KEYS_MAX])
{
    char klo[4], khi[4];
    key_name(lo, klo);
    key_name(hi, khi);
    lsm_bound blo = {LSM_BOUND_INCLUDED, klo, 2};
    lsm_bound bhi = {LSM_BOUND_INCLUDED, khi, 2};
    for (int k = lo; k <= hi; k++)
        seen[k] = H_ABSENT;
    lsm_iter *it = NULL;
    assert_int_equal(lsm_txn_scan(t, &blo, &bhi, &it), LSM_OK);
    while (lsm_iter_valid(it)) {
        size_t nk = 0, nv = 0;
        const char *k = lsm_iter_key(it, &nk);
        const void *v = lsm_iter_value(it, &nv);
        assert_int_equal(nk, 2);
        int idx = k[1] - '0';
        assert_true(idx >= lo && idx <= hi);
        seen[idx] = value_id(v, nv);
        assert_true(seen[idx] >= 0);
        assert_int_equal(lsm_iter_next(it), LSM_OK);
    }
    lsm_iter_close(it);
}

static void run_op(hcase *c, htxn *t, int ti, hop *o)
{
    char kn[4], v[16];
    key_name(o->key, kn);
    switch (o->kind) {
    case H_GET:
        o->seen[0] = txn_read_key(t->t, o->key);
        hlog(c, " T%d:get(h%d)=%d", ti, o->key, o->seen[0]);
        break;
    case H_SCAN:
        txn_scan_keys(t->t, o->lo, o->hi, o->seen);
        hlog(c, " T%d:scan(h%d..h%d)=", ti, o->lo, o->hi);
        for (int k = o->lo; k <= o->hi; k++)
            hlog(c, "%s%d", k > o->lo ? "," : "", o->seen[k]);
        break;
    case H_PUT:
        assert_int_equal(lsm_txn_put(t->t, kn, 2, v, value_bytes(o->value, v)),
                         LSM_OK);
        hlog(c, " T%d:put(h%d,%d)", ti, o->key, o->value);
        break;
    case H_DEL:
        assert_int_equal(lsm_txn_delete(t->t, kn, 2), LSM_OK);
        hlog(c, " T%d:del(h%d)", ti, o->key);
        break;
    }
}

/* One step of transaction ti: begin, its next operation, or commit. */
static void run_step(lsm_db *db, hcase *c, int ti)
{
    htxn *t = &c->txns[ti];
    if (t->next == 0) {
        assert_int_equal(lsm_txn_begin(db, t->iso, &t->t), LSM_OK);
        hlog(c, " T%d:begin@%" PRIu64, ti, lsm_txn_read_seq(t->t));
    } else if (t->next <= t->n_ops) {
        run_op(c, t, ti, &t->ops[t->next - 1]);
    } else {
        lsm_commit_info info;
        memset(&info, 0, sizeof(info));
        int rc = lsm_txn_commit(t->t, &info);
        t->t = NULL;
        assert_true(rc == LSM_OK || rc == LSM_ECONFLICT);
        t->committed = rc == LSM_OK;
        if (rc == LSM_OK)
            hlog(c, " T%d:commit@%" PRIu64, ti, info.commit_seq);
        else
            hlog(c, " T%d:conflict(%d)", ti, (int)info.conflict);
        lsm_free(info.key);
    }
    t->next++;
}

/* Runs the case's transactions interleaved at random, flushing now and
 * then, and reads the end state. */
static void run_case(lsm_db *db, hcase *c)
{
    uint64_t rng = c->seed ^ 0x5ca1ab1eu;
    write_initial(db, c);
    if (test_rng_below(&rng, 2))
        assert_int_equal(lsm_flush(db), LSM_OK);
    for (;;) {
        int live[H_TXNS_MAX], n = 0;
        for (int i = 0; i < c->n_txns; i++)
            if (c->txns[i].next <= c->txns[i].n_ops + 1)
                live[n++] = i;
        if (n == 0)
            break;
        run_step(db, c, live[test_rng_below(&rng, (uint64_t)n)]);
        if (test_rng_below(&rng, 12) == 0)
            assert_int_equal(lsm_flush(db), LSM_OK);
    }
    for (int k = 0; k < c->n_keys; k++) {
        char kn[4];
        key_name(k, kn);
        void *v = NULL;
        size_t nv = 0;
        int rc = lsm_get(db, kn, 2, &v, &nv);
        c->final[k] = rc == LSM_NOTFOUND ? H_ABSENT : value_id(v, nv);
        assert_true(rc == LSM_OK || rc == LSM_NOTFOUND);
        lsm_free(v);
    }
}

/* --- the checker ---------------------------------------------------------- */

/* Replays transaction t alone on state st (updated): 1 when every read
 * sees what it saw in the history. */
static int replay_txn(const hcase *c, const htxn *t, int st[H_KEYS_MAX])
{
    for (int i = 0; i < t->n_ops; i++) {
        const hop *o = &t->ops[i];
        switch (o->kind) {
        case H_GET:
            if (st[o->key] != o->seen[0])
                return 0;
            break;
        case H_SCAN:
            for (int k = o->lo; k <= o->hi; k++)
                if (st[k] != o->seen[k])
                    return 0;
            break;
        case H_PUT:
            st[o->key] = o->value;
            break;
        case H_DEL:
            st[o->key] = H_ABSENT;
            break;
        }
    }
    (void)c;
    return 1;
}

/* Depth-first search over the orders of the committed transactions not in
 * used: 1 when some order from state st replays every read and ends in the
 * engine's end state. order[] receives it. */
static int search_order(const hcase *c, const int st[H_KEYS_MAX], int used,
                        int depth, int n_committed, int order[H_TXNS_MAX])
{
    if (depth == n_committed)
        return memcmp(st, c->final, sizeof(int) * (size_t)c->n_keys) == 0;
    for (int i = 0; i < c->n_txns; i++) {
        if (!c->txns[i].committed || (used & (1 << i)))
            continue;
        int next[H_KEYS_MAX];
        memcpy(next, st, sizeof(next));
        if (!replay_txn(c, &c->txns[i], next))
            continue;
        order[depth] = i;
        if (search_order(c, next, used | (1 << i), depth + 1, n_committed,
                         order))
            return 1;
    }
    return 0;
}

/* 1 when the committed transactions of c are equivalent to a serial order. */
static int history_serializable(const hcase *c, int order[H_TXNS_MAX])
{
    int n_committed = 0;
    for (int i = 0; i < c->n_txns; i++)
        n_committed += c->txns[i].committed;
    int st[H_KEYS_MAX];
    memcpy(st, c->initial, sizeof(st));
    return search_order(c, st, 0, 0, n_committed, order);
}

static void print_case(const hcase *c)
{
    fprintf(stderr,
            "  seed=%" PRIu64 " (replay: LSM_TEST_SEED=%" PRIu64
            ") keys=%d initial:",
            c->seed, c->seed, c->n_keys);
    for (int k = 0; k < c->n_keys; k++)
        fprintf(stderr, " h%d=%d", k, c->initial[k]);
    fprintf(stderr, "\n  history:%s\n  end:", c->log);
    for (int k = 0; k < c->n_keys; k++)
        fprintf(stderr, " h%d=%d", k, c->final[k]);
    fprintf(stderr, "\n");
}

/* --- the tests ------------------------------------------------------------ */

typedef struct htally {
    int cases, serializable, committed, conflicts, concurrent_commits;
} htally;

static lsm_db *open_db(const char *dir, lsm_sched sched)
{
    lsm_options opt;
    lsm_options_init(&opt);
    opt.sched = sched;
    opt.target_sst_size = 4096;
    opt.compaction = LSM_COMPACTION_LEVELED;
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    return db;
}

/* Runs one case and checks it; under SERIALIZABLE it must pass. */
static void one_case(lsm_db *db, uint64_t seed, lsm_isolation iso,
                     htally *tally)
{
    hcase c;
    gen_case(&c, seed, iso);
    run_case(db, &c);
    int order[H_TXNS_MAX];
    int ok = history_serializable(&c, order);
    int committed = 0;
    for (int i = 0; i < c.n_txns; i++)
        committed += c.txns[i].committed;
    tally->cases++;
    tally->serializable += ok;
    tally->committed += committed;
    tally->conflicts += c.n_txns - committed;
    tally->concurrent_commits += committed > 1;
    if (!ok && iso == LSM_ISOLATION_SERIALIZABLE) {
        fprintf(stderr, "\n=== NOT SERIALIZABLE under SERIALIZABLE\n");
        print_case(&c);
        fail();
    }
    if (getenv("LSM_TEST_VERBOSE")) {
        print_case(&c);
        fprintf(stderr, "  serializable: %s\n", ok ? "yes" : "no");
    }
}

static uint64_t env_seed(void)
{
    const char *s = getenv("LSM_TEST_SEED");
    return s && *s ? strtoull(s, NULL, 0) : 0;
}

static void run_cases(const char *dir, lsm_sched sched, lsm_isolation iso,
                      htally *tally)
{
    lsm_db *db = open_db(dir, sched);
    uint64_t one = env_seed();
    if (one)
        one_case(db, one, iso, tally);
    for (uint64_t s = 1; !one && s <= H_CASES; s++)
        one_case(db, s, iso, tally);
    assert_int_equal(lsm_close(db), LSM_OK);
}

static void check_serializable_level(void **state, lsm_sched sched)
{
    htally t = {0};
    run_cases(*state, sched, LSM_ISOLATION_SERIALIZABLE, &t);
    assert_int_equal(t.serializable, t.cases);
    /* The cases must be contended enough to mean something: conflicts
     * happen, and still often more than one transaction commits. */
    if (!env_seed()) {
        assert_true(t.conflicts > t.cases / 4);
        assert_true(t.concurrent_commits > t.cases / 4);
    }
}

static void test_serializable_inline(void **state)
{
    check_serializable_level(state, LSM_SCHED_INLINE);
}

static void test_serializable_threads(void **state)
{
    check_serializable_level(state, LSM_SCHED_THREADS);
}

/* Random snapshot-isolation histories: the checker finds some that no
 * serial order explains (write skew and its relatives), so it can fail. */
static void test_snapshot_isolation_random(void **state)
{
    if (env_seed())
        skip();
    htally t = {0};
    run_cases(*state, LSM_SCHED_INLINE, LSM_ISOLATION_SNAPSHOT, &t);
    assert_true(t.serializable < t.cases);
    assert_true(t.serializable > 0);
}

/* The write skew construction: T0 and T1 both read h0 and h1, then T0
 * writes h0 and T1 writes h1. Under SNAPSHOT both commit and no serial
 * order explains what they read; under SERIALIZABLE the second to commit
 * is refused and the history is serial. */
static void write_skew(const char *dir, lsm_isolation iso, int *n_committed,
                       int *serializable)
{
    lsm_db *db = open_db(dir, LSM_SCHED_INLINE);
    hcase c;
    memset(&c, 0, sizeof(c));
    c.seed = 0;
    c.n_keys = 2;
    c.n_txns = 2;
    c.initial[0] = 100;
    c.initial[1] = 101;
    for (int i = 0; i < 2; i++) {
        htxn *t = &c.txns[i];
        t->iso = iso;
        t->n_ops = 3;
        t->ops[0] = (hop){.kind = H_GET, .key = 0};
        t->ops[1] = (hop){.kind = H_GET, .key = 1};
        t->ops[2] = (hop){.kind = H_PUT, .key = i, .value = 10 * i + 3};
    }
    write_initial(db, &c);
    static const int steps[] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        run_step(db, &c, steps[i]);
    for (int k = 0; k < 2; k++) {
        char kn[4];
        key_name(k, kn);
        void *v = NULL;
        size_t nv = 0;
        assert_int_equal(lsm_get(db, kn, 2, &v, &nv), LSM_OK);
        c.final[k] = value_id(v, nv);
        lsm_free(v);
    }
    assert_int_equal(lsm_close(db), LSM_OK);
    int order[H_TXNS_MAX];
    *n_committed = c.txns[0].committed + c.txns[1].committed;
    *serializable = history_serializable(&c, order);
}

static void test_write_skew(void **state)
{
    int committed, serializable;
    write_skew(*state, LSM_ISOLATION_SNAPSHOT, &committed, &serializable);
    assert_int_equal(committed, 2);
    assert_false(serializable);
    write_skew(*state, LSM_ISOLATION_SERIALIZABLE, &committed, &serializable);
    assert_int_equal(committed, 1);
    assert_true(serializable);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_skew, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_serializable_inline,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_serializable_threads,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_isolation_random,
                                        test_dir_setup, test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
