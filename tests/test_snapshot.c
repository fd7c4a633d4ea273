/*
 * test_snapshot.c: reads at a snapshot across flushes and compactions, and
 * garbage collection of versions by the watermark (lsm.h, "Snapshots").
 *
 *   - random writes (overwrites and deletes), snapshots taken and released
 *     at random, flushes and full compactions, with every strategy and both
 *     scheduling modes: every live snapshot's gets and scan must give
 *     exactly the model's state when it was taken, and the SSTs of each
 *     level (or tier) never overlap;
 *   - one key with hundreds of versions, tiny blocks and tiny SSTs, so its
 *     versions span blocks and would span outputs: every snapshot reads its
 *     own version, all of them stay in one SST of a level, levels stay
 *     disjoint;
 *   - GC: what the flush and compactions keep and drop at a watermark
 *     (lsm_key_history), the counters versions_dropped / versions_kept,
 *     tombstones at and above the watermark at the bottom;
 *   - with no snapshot live, the SSTs are those of a run where no snapshot
 *     ever existed (sizes and entry counts);
 *   - threads mode: a reader takes snapshots and re-reads them against what
 *     a writer had done, while flushes and compactions run behind them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

static const lsm_compaction strategies[] = {
    LSM_COMPACTION_NONE, LSM_COMPACTION_SIMPLE, LSM_COMPACTION_LEVELED,
    LSM_COMPACTION_TIERED};

static lsm_db *open_db(const char *dir, lsm_compaction c, lsm_sched sched,
                       size_t target_sst_size, size_t block_size)
{
    lsm_options opt;
    lsm_options_init(&opt);
    opt.compaction = c;
    opt.sched = sched;
    opt.target_sst_size = target_sst_size;
    opt.block_size = block_size;
    opt.num_memtable_limit = 2;
    opt.level0_file_num_compaction_trigger = 2;
    opt.base_level_size_mb = 1;
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    return db;
}

/* A fresh subdirectory of the test's directory for one run. */
static char *run_dir(const char *root, const char *name)
{
    char *dir = test_path(root, name);
    test_rmtree(dir);
    return dir;
}

/* --- the model ------------------------------------------------------------ */

#define N_KEYS 24
#define MAX_SNAPS 6

typedef struct kv_state {
    bool present[N_KEYS];
    char value[N_KEYS][40];
} kv_state;

typedef struct live_snap {
    lsm_snapshot *s;
    kv_state at; /* the model when it was taken */
} live_snap;

static void key_name(int k, char *out, size_t n)
{
    snprintf(out, n, "key%02d", k);
}

/* Asserts that the database read at snap (NULL: now) is exactly st: gets
 * of every key, then a full scan. */
static void assert_reads(lsm_db *db, const lsm_snapshot *snap,
                         const kv_state *st)
{
    char k[16];
    for (int i = 0; i < N_KEYS; i++) {
        key_name(i, k, sizeof k);
        void *v = NULL;
        size_t nv = 0;
        int rc = lsm_get_at(db, snap, k, strlen(k), &v, &nv);
        if (!st->present[i]) {
            if (rc != LSM_NOTFOUND)
                fail_msg("%s at snapshot %llu: found \"%s\", want nothing", k,
                         (unsigned long long)lsm_snapshot_seq(snap),
                         rc == LSM_OK ? (char *)v : "(error)");
            continue;
        }
        if (rc != LSM_OK || nv != strlen(st->value[i]) ||
            memcmp(v, st->value[i], nv) != 0)
            fail_msg("%s at snapshot %llu: rc %d \"%s\", want \"%s\"", k,
                     (unsigned long long)lsm_snapshot_seq(snap), rc,
                     rc == LSM_OK ? (char *)v : "", st->value[i]);
        free(v);
    }
    lsm_bound all = {LSM_BOUND_UNBOUNDED, NULL, 0};
    lsm_iter *it = NULL;
    assert_int_equal(lsm_scan_at(db, snap, &all, &all, &it), LSM_OK);
    for (int i = 0; i < N_KEYS; i++) {
        if (!st->present[i])
            continue;
        key_name(i, k, sizeof k);
        assert_true(lsm_iter_valid(it));
        size_t nk, nv;
        const void *key = lsm_iter_key(it, &nk);
        const void *val = lsm_iter_value(it, &nv);
        assert_int_equal(nk, strlen(k));
        assert_memory_equal(key, k, nk);
        assert_int_equal(nv, strlen(st->value[i]));
        assert_memory_equal(val, st->value[i], nv);
        assert_int_equal(lsm_iter_next(it), LSM_OK);
    }
    assert_false(lsm_iter_valid(it));
    lsm_iter_close(it);
}

/* The SSTs of every level (or tier) are sorted and disjoint by user key. */
static void assert_levels_disjoint(lsm_db *db)
{
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    for (size_t l = 0; l < st->n_levels; l++) {
        const lsm_level_info *lv = &st->levels[l];
        for (size_t i = 0; i + 1 < lv->n_ssts; i++) {
            const lsm_sst_info *a = &lv->ssts[i], *b = &lv->ssts[i + 1];
            size_t n =
                a->nlast_key < b->nfirst_key ? a->nlast_key : b->nfirst_key;
            int c = memcmp(a->last_key, b->first_key, n);
            if (c > 0 || (c == 0 && a->nlast_key >= b->nfirst_key))
                fail_msg("level %d: SST %llu ends at or after SST %llu "
                         "starts",
                         lv->level, (unsigned long long)a->sst_id,
                         (unsigned long long)b->sst_id);
        }
    }
    lsm_state_free(st);
}

static void model_write(lsm_db *db, kv_state *st, uint64_t *rng, int n)
{
    char k[16];
    int i = (int)test_rng_below(rng, N_KEYS);
    key_name(i, k, sizeof k);
    if (test_rng_below(rng, 100) < 20) {
        assert_int_equal(lsm_delete(db, k, strlen(k)), LSM_OK);
        st->present[i] = false;
        return;
    }
    snprintf(st->value[i], sizeof st->value[i], "v%d-%d-padding", i, n);
    assert_int_equal(
        lsm_put(db, k, strlen(k), st->value[i], strlen(st->value[i])), LSM_OK);
    st->present[i] = true;
}

static void run_random_snapshots(const char *dir, lsm_compaction c,
                                 lsm_sched sched, uint64_t seed)
{
    lsm_db *db = open_db(dir, c, sched, 512, 64);
    kv_state now = {0};
    live_snap snaps[MAX_SNAPS];
    size_t n_snaps = 0;
    uint64_t rng = seed;
    for (int n = 0; n < 1500; n++) {
        model_write(db, &now, &rng, n);
        uint64_t dice = test_rng_below(&rng, 100);
        if (dice < 4 && n_snaps < MAX_SNAPS) {
            assert_int_equal(lsm_snapshot_take(db, &snaps[n_snaps].s), LSM_OK);
            snaps[n_snaps++].at = now;
        } else if (dice < 6 && n_snaps > 0) {
            size_t j = test_rng_below(&rng, n_snaps);
            lsm_snapshot_release(snaps[j].s);
            snaps[j] = snaps[--n_snaps];
        } else if (dice < 8) {
            assert_int_equal(lsm_flush(db), LSM_OK);
        } else if (dice < 9 && c != LSM_COMPACTION_NONE) {
            assert_int_equal(lsm_compact_full(db), LSM_OK);
        }
        if (n % 100 == 99 || dice < 9) {
            for (size_t j = 0; j < n_snaps; j++)
                assert_reads(db, snaps[j].s, &snaps[j].at);
            assert_reads(db, NULL, &now);
            assert_levels_disjoint(db);
        }
    }
    for (size_t j = 0; j < n_snaps; j++) {
        lsm_snapshot_release(snaps[j].s);
    }
    assert_int_equal(lsm_close(db), LSM_OK);
}

static void test_snapshot_reads_every_strategy(void **state)
{
    const char *root = *state;
    for (int sched = 0; sched < 2; sched++)
        for (size_t c = 0; c < 4; c++) {
            char name[32];
            snprintf(name, sizeof name, "db-%d-%zu", sched, c);
            char *dir = run_dir(root, name);
            run_random_snapshots(dir, strategies[c],
                                 sched ? LSM_SCHED_THREADS : LSM_SCHED_INLINE,
                                 1000 + c);
            free(dir);
        }
}

/* --- one key, many versions ---------------------------------------------- */

#define HOT_VERSIONS 300
#define HOT_SNAP_EVERY 10

/* lsm_key_history of key: the number of versions, and (in *sst_ids, up to
 * cap) the SSTs holding them. */
static size_t history_of(lsm_db *db, const char *key, uint64_t *sst_ids,
                         size_t cap, lsm_key_version **out)
{
    lsm_key_version *v = NULL;
    size_t n = 0;
    assert_int_equal(lsm_key_history(db, key, strlen(key), &v, &n), LSM_OK);
    for (size_t i = 0; i < n && i < cap; i++)
        sst_ids[i] = v[i].source == LSM_SOURCE_SST ? v[i].id : 0;
    if (out)
        *out = v;
    else
        lsm_key_history_free(v, n);
    return n;
}

static void run_hot_key(const char *dir, lsm_compaction c, lsm_sched sched)
{
    lsm_db *db = open_db(dir, c, sched, 400, 64);
    lsm_snapshot *snaps[HOT_VERSIONS / HOT_SNAP_EVERY];
    size_t n_snaps = 0;
    char v[48], k[16];
    for (int i = 0; i < HOT_VERSIONS; i++) {
        snprintf(v, sizeof v, "hot-version-%04d", i);
        test_put_str(db, "hot", v);
        /* Neighbours on both sides, so outputs hold other keys too. */
        snprintf(k, sizeof k, "a%04d", i);
        test_put_str(db, k, v);
        snprintf(k, sizeof k, "z%04d", i);
        test_put_str(db, k, v);
        if (i % HOT_SNAP_EVERY == 0)
            assert_int_equal(lsm_snapshot_take(db, &snaps[n_snaps++]), LSM_OK);
    }
    assert_int_equal(lsm_flush(db), LSM_OK);
    if (c != LSM_COMPACTION_NONE)
        assert_int_equal(lsm_compact_full(db), LSM_OK);
    for (size_t s = 0; s < n_snaps; s++) {
        void *got = NULL;
        size_t n = 0;
        snprintf(v, sizeof v, "hot-version-%04zu", s * HOT_SNAP_EVERY);
        assert_int_equal(lsm_get_at(db, snaps[s], "hot", 3, &got, &n), LSM_OK);
        assert_int_equal(n, strlen(v));
        assert_memory_equal(got, v, n);
        free(got);
    }
    test_expect_get(db, "hot", "hot-version-0299");
    assert_levels_disjoint(db);
    if (c != LSM_COMPACTION_NONE && sched == LSM_SCHED_INLINE) {
        /* After a full compaction: every version a snapshot needs (and
         * those above the oldest one), all in one SST. */
        uint64_t ids[HOT_VERSIONS];
        size_t n = history_of(db, "hot", ids, HOT_VERSIONS, NULL);
        assert_int_equal(n, HOT_VERSIONS);
        for (size_t i = 1; i < n; i++)
            assert_int_equal(ids[i], ids[0]);
        lsm_state *st = NULL;
        assert_int_equal(lsm_state_get(db, &st), LSM_OK);
        size_t n_ssts = 0;
        for (size_t l = 0; l < st->n_levels; l++)
            n_ssts += st->levels[l].n_ssts;
        assert_true(n_ssts > 2); /* small outputs: the key could straddle */
        lsm_state_free(st);
    }
    for (size_t s = 0; s < n_snaps; s++)
        lsm_snapshot_release(snaps[s]);
    assert_int_equal(lsm_close(db), LSM_OK);
}

static void test_many_versions_of_one_key(void **state)
{
    const char *root = *state;
    for (int sched = 0; sched < 2; sched++)
        for (size_t c = 0; c < 4; c++) {
            char name[32];
            snprintf(name, sizeof name, "hot-%d-%zu", sched, c);
            char *dir = run_dir(root, name);
            run_hot_key(dir, strategies[c],
                        sched ? LSM_SCHED_THREADS : LSM_SCHED_INLINE);
            free(dir);
        }
}

/* --- the API's errors ------------------------------------------------- */

/* Bad arguments are LSM_EINVAL, a snapshot works only on its own handle,
 * and lsm_close refuses while snapshots and transactions are live, naming
 * both, then closes once they end. */
static void test_snapshot_api_errors(void **state)
{
    const char *root = *state;
    char *dir_a = run_dir(root, "a"), *dir_b = run_dir(root, "b");
    lsm_db *a = NULL, *b = NULL;
    assert_int_equal(lsm_open(dir_a, NULL, &a), LSM_OK);
    assert_int_equal(lsm_open(dir_b, NULL, &b), LSM_OK);
    test_put_str(a, "k", "a1");
    test_put_str(b, "k", "b1");

    lsm_snapshot *snap = NULL;
    assert_int_equal(lsm_snapshot_take(NULL, &snap), LSM_EINVAL);
    assert_int_equal(lsm_snapshot_take(a, NULL), LSM_EINVAL);
    lsm_snapshot_release(NULL); /* NULL-safe */
    assert_int_equal(lsm_snapshot_seq(NULL), 0);
    assert_int_equal(lsm_snapshot_id(NULL), 0);
    assert_int_equal(lsm_snapshot_take(a, &snap), LSM_OK);
    assert_int_equal(lsm_snapshot_seq(snap), 1);
    assert_int_equal(lsm_snapshot_id(snap), 1);

    void *v = NULL;
    size_t n = 0;
    assert_int_equal(lsm_get_at(b, snap, "k", 1, &v, &n), LSM_EINVAL);
    assert_null(v);
    assert_non_null(strstr(lsm_errmsg(), "another"));
    lsm_iter *it = NULL;
    assert_int_equal(lsm_scan_at(b, snap, NULL, NULL, &it), LSM_EINVAL);
    assert_null(it);
    assert_int_equal(lsm_get_at(a, snap, "", 0, &v, &n), LSM_EINVAL);
    test_put_str(a, "k", "a2");
    assert_int_equal(lsm_get_at(a, snap, "k", 1, &v, &n), LSM_OK);
    assert_memory_equal(v, "a1", 2);
    lsm_free(v);
    assert_int_equal(lsm_get_at(a, NULL, "k", 1, &v, &n), LSM_OK);
    assert_memory_equal(v, "a2", 2); /* NULL: now */
    lsm_free(v);

    lsm_txn *t = NULL;
    assert_int_equal(lsm_txn_begin(a, LSM_ISOLATION_SNAPSHOT, &t), LSM_OK);
    assert_int_equal(lsm_close(a), LSM_EBUSY);
    assert_non_null(strstr(lsm_errmsg(), "1 snapshot(s) still live (ids 1)"));
    assert_non_null(
        strstr(lsm_errmsg(), "1 transaction(s) still open (ids 2)"));
    lsm_txn_abort(t);
    assert_int_equal(lsm_close(a), LSM_EBUSY);
    assert_null(strstr(lsm_errmsg(), "transaction"));
    lsm_snapshot_release(snap);
    assert_int_equal(lsm_close(a), LSM_OK);
    assert_int_equal(lsm_close(b), LSM_OK);
    free(dir_a);
    free(dir_b);
}

/* --- GC by watermark ------------------------------------------------------ */

static lsm_counters counters_of(lsm_db *db)
{
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    lsm_counters c = st->counters;
    lsm_state_free(st);
    return c;
}

/* The seqs of key's stored versions, newest first, into seqs (n returned);
 * tombstones are negative. */
static size_t versions_of(lsm_db *db, const char *key, int64_t *seqs,
                          size_t cap)
{
    lsm_key_version *v = NULL;
    size_t n = 0;
    assert_int_equal(lsm_key_history(db, key, strlen(key), &v, &n), LSM_OK);
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++)
        seqs[i] = v[i].tombstone ? -(int64_t)v[i].seq : (int64_t)v[i].seq;
    lsm_key_history_free(v, n);
    return n;
}

static void test_gc_by_watermark(void **state)
{
    const char *root = *state;
    lsm_db *db =
        open_db(root, LSM_COMPACTION_LEVELED, LSM_SCHED_INLINE, 1 << 20, 4096);
    char v[16];
    lsm_snapshot *s = NULL;
    for (int i = 1; i <= 5; i++) {
        snprintf(v, sizeof v, "v%d", i);
        test_put_str(db, "k", v);
        if (i == 2)
            assert_int_equal(lsm_snapshot_take(db, &s), LSM_OK);
    }
    uint64_t w = lsm_snapshot_seq(s); /* v2's seq; v1 is w - 1 */
    int64_t seqs[8];

    /* Flush at W: v5, v4, v3 above it (v4, v3 shadowed: kept), v2 the
     * newest at or below it, v1 dropped. */
    lsm_counters before = counters_of(db);
    assert_int_equal(lsm_flush(db), LSM_OK);
    lsm_counters after = counters_of(db);
    assert_int_equal(after.versions_dropped - before.versions_dropped, 1);
    assert_int_equal(after.versions_kept - before.versions_kept, 2);
    assert_int_equal(versions_of(db, "k", seqs, 8), 4);
    assert_int_equal(seqs[3], (int64_t)w);

    /* A full compaction keeps the same versions; the snapshot reads v2. */
    before = after;
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    after = counters_of(db);
    assert_int_equal(after.versions_dropped - before.versions_dropped, 0);
    assert_int_equal(after.versions_kept - before.versions_kept, 2);
    assert_int_equal(versions_of(db, "k", seqs, 8), 4);
    void *got = NULL;
    size_t n = 0;
    assert_int_equal(lsm_get_at(db, s, "k", 1, &got, &n), LSM_OK);
    assert_memory_equal(got, "v2", 2);
    free(got);

    /* Released: the next full compaction drops all but the newest. */
    lsm_snapshot_release(s);
    before = after;
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    after = counters_of(db);
    assert_int_equal(after.versions_dropped - before.versions_dropped, 3);
    assert_int_equal(after.versions_kept - before.versions_kept, 0);
    assert_int_equal(versions_of(db, "k", seqs, 8), 1);
    assert_int_equal(seqs[0], (int64_t)w + 3);
    test_expect_get(db, "k", "v5");

    /* A tombstone at or below the watermark (t): the flush keeps it (it
     * hides older data below), the bottom compaction drops it and what it
     * hid. A tombstone above the watermark (u): kept even at the bottom,
     * with the version below it that s2 reads. */
    lsm_snapshot *s2 = NULL;
    test_put_str(db, "t", "old");
    assert_int_equal(lsm_delete(db, "t", 1), LSM_OK);
    test_put_str(db, "u", "before");
    assert_int_equal(lsm_snapshot_take(db, &s2), LSM_OK);
    assert_int_equal(lsm_delete(db, "u", 1), LSM_OK);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(versions_of(db, "t", seqs, 8), 1);
    assert_true(seqs[0] < 0);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    assert_int_equal(versions_of(db, "t", seqs, 8), 0);
    assert_int_equal(versions_of(db, "u", seqs, 8), 2);
    assert_true(seqs[0] < 0 && seqs[1] > 0);
    assert_int_equal(lsm_get_at(db, s2, "t", 1, &got, &n), LSM_NOTFOUND);
    assert_int_equal(lsm_get_at(db, s2, "u", 1, &got, &n), LSM_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(got, "before", 6);
    free(got);
    test_expect_get(db, "u", NULL);
    test_expect_get(db, "k", "v5");
    lsm_snapshot_release(s2);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    assert_int_equal(versions_of(db, "u", seqs, 8), 0);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* --- no snapshot: the same files as ever --------------------------------- */

/* SST sizes and entry counts of every level, L0 first, in a fixed order. */
typedef struct tree_sizes {
    size_t n;
    uint64_t size[512], entries[512];
} tree_sizes;

static void tree_sizes_of(lsm_db *db, tree_sizes *t)
{
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    t->n = 0;
    for (size_t i = 0; i < st->n_l0 && t->n < 512; i++, t->n++) {
        t->size[t->n] = st->l0[i].file_size;
        t->entries[t->n] = st->l0[i].num_entries;
    }
    for (size_t l = 0; l < st->n_levels; l++)
        for (size_t i = 0; i < st->levels[l].n_ssts && t->n < 512;
             i++, t->n++) {
            t->size[t->n] = st->levels[l].ssts[i].file_size;
            t->entries[t->n] = st->levels[l].ssts[i].num_entries;
        }
    lsm_state_free(st);
}

static void overwrite_workload(lsm_db *db, bool with_released_snapshot)
{
    uint64_t rng = 77;
    char k[16], v[40];
    if (with_released_snapshot) {
        lsm_snapshot *s = NULL;
        test_put_str(db, "key00", "first");
        assert_int_equal(lsm_snapshot_take(db, &s), LSM_OK);
        lsm_snapshot_release(s);
    } else {
        test_put_str(db, "key00", "first");
    }
    for (int n = 0; n < 3000; n++) {
        int i = (int)test_rng_below(&rng, 60);
        snprintf(k, sizeof k, "key%02d", i);
        snprintf(v, sizeof v, "value-%d-of-%d", n, i);
        if (test_rng_below(&rng, 10) == 0)
            assert_int_equal(lsm_delete(db, k, strlen(k)), LSM_OK);
        else
            test_put_str(db, k, v);
    }
    assert_int_equal(lsm_flush(db), LSM_OK);
}

static void test_no_snapshot_same_files(void **state)
{
    const char *root = *state;
    for (size_t c = 0; c < 4; c++) {
        tree_sizes a, b;
        char *d1 = run_dir(root, "plain"), *d2 = run_dir(root, "released");
        lsm_db *db = open_db(d1, strategies[c], LSM_SCHED_INLINE, 700, 128);
        overwrite_workload(db, false);
        tree_sizes_of(db, &a);
        lsm_counters ca = counters_of(db);
        assert_int_equal(lsm_close(db), LSM_OK);
        db = open_db(d2, strategies[c], LSM_SCHED_INLINE, 700, 128);
        overwrite_workload(db, true);
        tree_sizes_of(db, &b);
        lsm_counters cb = counters_of(db);
        assert_int_equal(lsm_close(db), LSM_OK);
        assert_true(a.n > 1);
        assert_int_equal(a.n, b.n);
        for (size_t i = 0; i < a.n; i++) {
            assert_int_equal(a.size[i], b.size[i]);
            assert_int_equal(a.entries[i], b.entries[i]);
        }
        assert_int_equal(ca.versions_kept, 0);
        assert_int_equal(cb.versions_kept, 0);
        assert_int_equal(ca.versions_dropped, cb.versions_dropped);
        assert_true(ca.versions_dropped > 0);
        test_rmtree(d1);
        test_rmtree(d2);
        free(d1);
        free(d2);
    }
}

/* --- threads: a reader re-reads snapshots while the tree changes --------- */

#define T_KEYS 40
#define T_WRITES 6000

typedef struct shared {
    lsm_db *db;
    atomic_int started; /* writes begun: none at or past it is visible */
    atomic_int done;    /* writes returned: all below it are visible */
    atomic_bool stop;
    atomic_int rounds;       /* the reader's rounds so far */
    atomic_bool reader_done; /* it stopped (a failure): wait no more */
} shared;

/* The writer and the reader take turns: the reader takes a snapshot and
 * re-reads the four it holds, then waits for this many writes, while the
 * writer waits for the reader's next round. So each snapshot lives across
 * four turns of writes (and the flushes and compactions they cause, which
 * run on their threads during the reads too). */
#define T_WRITES_PER_ROUND 100

static void *writer_main(void *arg)
{
    shared *sh = arg;
    char k[16], v[16];
    for (int n = 0; n < T_WRITES; n++) {
        /* Turn j (writes from j * T_WRITES_PER_ROUND on) follows the
         * reader's round j + 1. */
        int turn = n / T_WRITES_PER_ROUND;
        while (atomic_load(&sh->rounds) <= turn &&
               !atomic_load(&sh->reader_done))
            sched_yield();
        snprintf(k, sizeof k, "t%02d", n % T_KEYS);
        snprintf(v, sizeof v, "%08d", n);
        atomic_store(&sh->started, n + 1);
        if (lsm_put(sh->db, k, strlen(k), v, strlen(v)) != LSM_OK)
            break;
        atomic_store(&sh->done, n + 1);
    }
    atomic_store(&sh->stop, true);
    return NULL;
}

/* A snapshot the reader holds and what it may show: a prefix of the
 * writes between lo and hi. Its first read fixes the prefix. */
typedef struct held {
    lsm_snapshot *s;
    int lo, hi;
    int seen[T_KEYS]; /* -1: absent */
    bool read_once;
} held;

/* Reads every key at h's snapshot and checks it is the prefix of writes
 * it saw the first time, and that prefix lies in [lo, hi]. */
static bool reread(lsm_db *db, held *h, char *why, size_t nwhy)
{
    int now[T_KEYS];
    char k[16];
    int p = h->lo; /* the prefix length the reads imply */
    for (int i = 0; i < T_KEYS; i++) {
        snprintf(k, sizeof k, "t%02d", i);
        void *v = NULL;
        size_t n = 0;
        int rc = lsm_get_at(db, h->s, k, strlen(k), &v, &n);
        if (rc == LSM_NOTFOUND) {
            now[i] = -1;
            continue;
        }
        if (rc != LSM_OK) {
            snprintf(why, nwhy, "get %s: rc %d", k, rc);
            return false;
        }
        now[i] = atoi(v);
        free(v);
        if (now[i] + 1 > p)
            p = now[i] + 1;
    }
    if (p > h->hi) {
        snprintf(why, nwhy, "sees write %d, begun after the snapshot (%d)",
                 p - 1, h->hi);
        return false;
    }
    for (int i = 0; i < T_KEYS; i++) {
        /* The last write to key i below p. */
        int last = p - 1 - ((p - 1 - i) % T_KEYS + T_KEYS) % T_KEYS;
        int want = last >= 0 && last < p ? last : -1;
        if (now[i] != want) {
            snprintf(why, nwhy, "t%02d is %d, the prefix %d says %d", i, now[i],
                     p, want);
            return false;
        }
        if (h->read_once && now[i] != h->seen[i]) {
            snprintf(why, nwhy, "t%02d changed from %d to %d", i, h->seen[i],
                     now[i]);
            return false;
        }
    }
    memcpy(h->seen, now, sizeof now);
    h->read_once = true;
    return true;
}

static void test_threads_reader_rereads_snapshots(void **state)
{
    const char *root = *state;
    for (size_t c = 1; c < 4; c++) {
        char name[32];
        snprintf(name, sizeof name, "threads-%zu", c);
        char *dir = run_dir(root, name);
        shared sh = {
            .db = open_db(dir, strategies[c], LSM_SCHED_THREADS, 600, 64)};
        pthread_t w;
        assert_int_equal(pthread_create(&w, NULL, writer_main, &sh), 0);
        held hs[4] = {0};
        size_t rounds = 0;
        char why[160] = "";
        bool ok = true;
        while (ok && (!atomic_load(&sh.stop) || rounds < 8)) {
            held *h = &hs[rounds % 4];
            lsm_snapshot_release(h->s);
            memset(h, 0, sizeof *h);
            h->lo = atomic_load(&sh.done);
            assert_int_equal(lsm_snapshot_take(sh.db, &h->s), LSM_OK);
            h->hi = atomic_load(&sh.started);
            for (size_t j = 0; ok && j < 4; j++)
                if (hs[j].s)
                    ok = reread(sh.db, &hs[j], why, sizeof why);
            rounds++;
            atomic_store(&sh.rounds, (int)rounds);
            /* Let the writer do its next writes under these snapshots. */
            while (atomic_load(&sh.done) < h->lo + T_WRITES_PER_ROUND &&
                   !atomic_load(&sh.stop))
                sched_yield();
        }
        atomic_store(&sh.reader_done, true);
        pthread_join(w, NULL);
        for (size_t j = 0; ok && j < 4; j++)
            if (hs[j].s)
                ok = reread(sh.db, &hs[j], why, sizeof why);
        for (size_t j = 0; j < 4; j++)
            lsm_snapshot_release(hs[j].s);
        if (!ok)
            fail_msg("strategy %zu: %s", c, why);
        assert_true(rounds >= 8);
        assert_levels_disjoint(sh.db);
        assert_int_equal(lsm_close(sh.db), LSM_OK);
        free(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshot_reads_every_strategy,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_many_versions_of_one_key,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_api_errors,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_gc_by_watermark, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_no_snapshot_same_files,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_threads_reader_rereads_snapshots,
                                        test_dir_setup, test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
