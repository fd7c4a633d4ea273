/*
 * test_read_path.c: get and scan across memtables, L0 SSTs and L1, through
 * the public API, with the counters and num_active as witnesses of which
 * sources a read touched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

typedef struct fixture {
    char *dir;
    lsm_db *db;
    lsm_options opt;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_mkdtemp();
    lsm_options_init(&f->opt);
    f->opt.compaction = LSM_COMPACTION_NONE;
    /* Large memtables: only explicit lsm_flush calls make SSTs. */
    f->opt.target_sst_size = 64u << 20;
    assert_int_equal(lsm_open(f->dir, &f->opt, &f->db), LSM_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    assert_int_equal(lsm_close(f->db), LSM_OK);
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static lsm_counters counters_now(lsm_db *db)
{
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    lsm_counters c = st->counters;
    lsm_state_free(st);
    return c;
}

static size_t active_for(lsm_db *db, lsm_bound lo, lsm_bound hi)
{
    lsm_iter *it;
    assert_int_equal(lsm_scan(db, &lo, &hi, &it), LSM_OK);
    size_t n = lsm_iter_num_active(it);
    lsm_iter_close(it);
    return n;
}

static lsm_bound inc(const char *k)
{
    return (lsm_bound){LSM_BOUND_INCLUDED, k, strlen(k)};
}
static lsm_bound exc(const char *k)
{
    return (lsm_bound){LSM_BOUND_EXCLUDED, k, strlen(k)};
}
static const lsm_bound unb = {LSM_BOUND_UNBOUNDED, NULL, 0};

/* mini-lsm week 1 day 6, task 3: a scan opens only the SSTs whose key range
 * overlaps it. Ten SSTs of 1000 keys each plus one key in the memtable. */
static void test_scan_filters_ssts_by_range(void **state)
{
    fixture *f = *state;
    char key[16];
    for (int i = 1; i <= 10000; i++) {
        if (i % 1000 == 0)
            assert_int_equal(lsm_flush(f->db), LSM_OK);
        snprintf(key, sizeof key, "%05d", i);
        test_put_str(f->db, key, "2333333");
    }
    size_t max_num = active_for(f->db, unb, unb);
    assert_int_equal(max_num, 11); /* 10 SSTs + the memtable */
    /* Nothing sorts after "10000" but "10000" itself. */
    assert_int_equal(active_for(f->db, exc("10000"), unb), 0);
    assert_int_equal(active_for(f->db, unb, exc("00001")), 0);
    assert_int_equal(active_for(f->db, unb, inc("00000")), 0);
    assert_int_equal(active_for(f->db, inc("10001"), unb), 0);
    /* [05000, 06000) lies in the SST holding 05000..05999 alone. */
    assert_int_equal(active_for(f->db, inc("05000"), exc("06000")), 1);
    /* Including 06000 brings in the next SST too. */
    assert_int_equal(active_for(f->db, inc("05000"), inc("06000")), 2);
}

/* A scan's num_active drops as sources run out (mini-lsm's definition). */
static void test_num_active_decreases_as_sources_finish(void **state)
{
    fixture *f = *state;
    test_put_str(f->db, "a", "1");
    test_put_str(f->db, "b", "1");
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    test_put_str(f->db, "c", "2");
    lsm_iter *it;
    assert_int_equal(lsm_scan(f->db, NULL, NULL, &it), LSM_OK);
    assert_int_equal(lsm_iter_num_active(it), 2);
    assert_int_equal(lsm_iter_next(it), LSM_OK); /* on b */
    assert_int_equal(lsm_iter_next(it), LSM_OK); /* on c: the SST is done */
    assert_true(lsm_iter_valid(it));
    assert_int_equal(lsm_iter_num_active(it), 1);
    assert_int_equal(lsm_iter_next(it), LSM_OK);
    assert_false(lsm_iter_valid(it));
    assert_int_equal(lsm_iter_num_active(it), 0);
    lsm_iter_close(it);
}

/* get finds the newest version wherever it lives, and a tombstone in a
 * newer source hides an older value. */
static void test_get_newest_source_wins(void **state)
{
    fixture *f = *state;
    test_put_str(f->db, "k1", "sst-old");
    test_put_str(f->db, "k2", "sst-old");
    test_put_str(f->db, "k3", "sst-old");
    test_put_str(f->db, "empty", "");
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    test_put_str(f->db, "k1", "sst-new");
    assert_int_equal(lsm_delete(f->db, "k2", 2), LSM_OK);
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    test_put_str(f->db, "k3", "memtable");

    test_expect_get(f->db, "k1", "sst-new");
    test_expect_get(f->db, "k2", NULL);
    test_expect_get(f->db, "k3", "memtable");
    test_expect_get(f->db, "empty", ""); /* an empty value is a value */
    test_expect_get(f->db, "k4", NULL);

    /* Deleting in the memtable hides the SST's value; putting again
     * revives the key. */
    assert_int_equal(lsm_delete(f->db, "k1", 2), LSM_OK);
    test_expect_get(f->db, "k1", NULL);
    test_put_str(f->db, "k1", "again");
    test_expect_get(f->db, "k1", "again");
}

/* A key outside every SST's range costs no filter check and no probe; an
 * absent key inside the range is mostly answered by the bloom filter. */
static void test_get_skips_ssts_by_range_and_bloom(void **state)
{
    fixture *f = *state;
    char key[16];
    for (int i = 0; i < 1000; i += 2) {
        snprintf(key, sizeof key, "key%04d", i);
        test_put_str(f->db, key, "v");
    }
    assert_int_equal(lsm_flush(f->db), LSM_OK);

    lsm_counters before = counters_now(f->db);
    test_expect_get(f->db, "zzz", NULL);
    test_expect_get(f->db, "a", NULL);
    lsm_counters after = counters_now(f->db);
    assert_int_equal(after.bloom_checks, before.bloom_checks);
    assert_int_equal(after.sst_probes, before.sst_probes);

    before = after;
    for (int i = 1; i < 1000; i += 2) {
        snprintf(key, sizeof key, "key%04d", i);
        test_expect_get(f->db, key, NULL);
    }
    after = counters_now(f->db);
    /* key0999 sorts after the SST's last key (key0998): the range check
     * answers it, so 499 of the 500 reach the filter. */
    assert_int_equal(after.bloom_checks - before.bloom_checks, 499);
    /* About 1% false positives: allow up to 5%. */
    assert_true(after.bloom_negatives - before.bloom_negatives >= 474);
    assert_true(after.sst_probes - before.sst_probes <= 25);

    before = after;
    test_expect_get(f->db, "key0000", "v");
    after = counters_now(f->db);
    assert_int_equal(after.sst_probes - before.sst_probes, 1);
}

/* Collects a scan into "k=v;" text for easy comparison. */
static char *scan_text(lsm_db *db, const lsm_bound *lo, const lsm_bound *hi)
{
    lsm_iter *it;
    assert_int_equal(lsm_scan(db, lo, hi, &it), LSM_OK);
    size_t cap = 4096, len = 0;
    char *out = calloc(1, cap);
    for (; lsm_iter_valid(it); assert_int_equal(lsm_iter_next(it), LSM_OK)) {
        size_t nk, nv;
        const char *k = lsm_iter_key(it, &nk);
        const char *v = lsm_iter_value(it, &nv);
        assert_true(len + nk + nv + 3 < cap);
        memcpy(out + len, k, nk);
        len += nk;
        out[len++] = '=';
        memcpy(out + len, v, nv);
        len += nv;
        out[len++] = ';';
    }
    lsm_iter_close(it);
    return out;
}

static void expect_scan(lsm_db *db, lsm_bound lo, lsm_bound hi,
                        const char *want)
{
    char *got = scan_text(db, &lo, &hi);
    assert_string_equal(got, want);
    free(got);
}

/* Bounds of every kind over data spread across SSTs and the memtable, with
 * overwrites and deletions in newer sources. */
static void test_scan_bounds_and_shadowing(void **state)
{
    fixture *f = *state;
    test_put_str(f->db, "a", "1");
    test_put_str(f->db, "b", "1");
    test_put_str(f->db, "c", "1");
    test_put_str(f->db, "d", "1");
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    test_put_str(f->db, "b", "2");
    assert_int_equal(lsm_delete(f->db, "c", 1), LSM_OK);
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    test_put_str(f->db, "e", "3");
    assert_int_equal(lsm_delete(f->db, "a", 1), LSM_OK);

    expect_scan(f->db, unb, unb, "b=2;d=1;e=3;");
    expect_scan(f->db, inc("b"), inc("d"), "b=2;d=1;");
    expect_scan(f->db, exc("b"), exc("e"), "d=1;");
    expect_scan(f->db, inc("c"), unb, "d=1;e=3;");
    expect_scan(f->db, unb, exc("b"), "");
    expect_scan(f->db, inc("bb"), inc("dd"), "d=1;");
    expect_scan(f->db, inc("e"), inc("b"), ""); /* lo > hi */
    expect_scan(f->db, exc("d"), exc("d"), "");
    expect_scan(f->db, inc("d"), inc("d"), "d=1;");
}

/* An iterator sees the database as it was when opened, even across a
 * flush and a full compaction, and keeps its files alive. */
static void test_iterator_is_a_snapshot(void **state)
{
    fixture *f = *state;
    test_put_str(f->db, "a", "old");
    test_put_str(f->db, "b", "old");
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    test_put_str(f->db, "c", "old");

    lsm_iter *it;
    assert_int_equal(lsm_scan(f->db, NULL, NULL, &it), LSM_OK);
    test_put_str(f->db, "a", "new");
    assert_int_equal(lsm_delete(f->db, "b", 1), LSM_OK);
    test_put_str(f->db, "d", "new");
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    assert_int_equal(lsm_compact_full(f->db), LSM_OK);

    lsm_state *st;
    assert_int_equal(lsm_state_get(f->db, &st), LSM_OK);
    assert_int_equal(st->n_iters, 1);
    assert_int_equal(st->n_l0, 0);
    lsm_state_free(st);
    assert_int_equal(lsm_close(f->db), LSM_EBUSY);

    const char *want[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        size_t nk, nv;
        assert_true(lsm_iter_valid(it));
        const char *k = lsm_iter_key(it, &nk);
        const char *v = lsm_iter_value(it, &nv);
        assert_int_equal(nk, 1);
        assert_memory_equal(k, want[i], 1);
        assert_int_equal(nv, 3);
        assert_memory_equal(v, "old", 3);
        assert_int_equal(lsm_iter_next(it), LSM_OK);
    }
    assert_false(lsm_iter_valid(it));
    lsm_iter_close(it);
    expect_scan(f->db, unb, unb, "a=new;c=old;d=new;");
}

/* Full compaction moves everything to L1, keeps reads identical and drops
 * tombstones and overwritten versions. */
static void test_full_compaction_merges_into_l1(void **state)
{
    fixture *f = *state;
    char key[16];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 300; i++) {
            snprintf(key, sizeof key, "k%03d", i);
            char val[16];
            snprintf(val, sizeof val, "r%d", round);
            test_put_str(f->db, key, val);
        }
        assert_int_equal(lsm_flush(f->db), LSM_OK);
    }
    for (int i = 0; i < 300; i += 3) {
        snprintf(key, sizeof key, "k%03d", i);
        assert_int_equal(lsm_delete(f->db, key, strlen(key)), LSM_OK);
    }
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    assert_int_equal(lsm_compact_full(f->db), LSM_OK);

    lsm_state *st;
    assert_int_equal(lsm_state_get(f->db, &st), LSM_OK);
    assert_int_equal(st->n_l0, 0);
    assert_int_equal(st->n_levels, 1);
    uint64_t entries = 0;
    for (size_t i = 0; i < st->levels[0].n_ssts; i++)
        entries += st->levels[0].ssts[i].num_entries;
    assert_int_equal(entries, 200); /* 300 keys, 100 deleted */
    assert_int_equal(st->counters.compactions, 1);
    assert_true(st->counters.compaction_bytes_written > 0);
    lsm_state_free(st);
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        test_expect_get(f->db, key, i % 3 == 0 ? NULL : "r2");
    }
}

/* A full compaction whose result is nothing but tombstones (every key was
 * deleted) writes no SST at all: the bottom level ends up empty. */
static void test_all_tombstone_compaction_writes_nothing(void **state)
{
    fixture *f = *state;
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        test_put_str(f->db, key, "value");
    }
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        assert_int_equal(lsm_delete(f->db, key, strlen(key)), LSM_OK);
    }
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    assert_int_equal(lsm_compact_full(f->db), LSM_OK);
    lsm_state *st;
    assert_int_equal(lsm_state_get(f->db, &st), LSM_OK);
    assert_int_equal(st->n_l0, 0);
    assert_int_equal(st->levels[0].n_ssts, 0);
    assert_int_equal(st->counters.compactions, 1);
    assert_int_equal(st->counters.compaction_bytes_written, 0);
    assert_int_equal(st->amplification.live_sst_bytes, 0);
    lsm_state_free(st);
    test_expect_get(f->db, "k050", NULL);
    lsm_iter *it;
    assert_int_equal(lsm_scan(f->db, NULL, NULL, &it), LSM_OK);
    assert_false(lsm_iter_valid(it));
    lsm_iter_close(it);
}

/* Bad arguments to reads are errors that name the problem. */
static void test_read_argument_errors(void **state)
{
    fixture *f = *state;
    void *v;
    size_t n;
    assert_int_equal(lsm_get(f->db, "", 0, &v, &n), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "keys are 1 to 65535 bytes"));
    lsm_bound bad = {LSM_BOUND_INCLUDED, "", 0};
    lsm_iter *it;
    assert_int_equal(lsm_scan(f->db, &bad, NULL, &it), LSM_EINVAL);
    assert_null(it);
    assert_int_equal(lsm_iter_valid(NULL), 0);
    lsm_iter_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scan_filters_ssts_by_range, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_num_active_decreases_as_sources_finish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_newest_source_wins, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_get_skips_ssts_by_range_and_bloom,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_bounds_and_shadowing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_iterator_is_a_snapshot, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_compaction_merges_into_l1,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_all_tombstone_compaction_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_argument_errors, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
