/*
 * test_version_filter.c: the version filter (compact/version_filter_int.h),
 * which keeps or drops each version of a merge by the watermark.
 *
 * Hand-made cases for each rule (above the watermark, the newest at or
 * below it, older ones, tombstones with and without drop_tombstones), the
 * counts, the verdict's first_kept_of_key, no watermark = newest only; then
 * random histories checked against a model that asks the question the rule
 * answers: every read point at or above the watermark must read the same
 * through the kept versions as through all of them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "compact/version_filter_int.h"
#include "lsm.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static entry ent(const char *key, uint64_t seq, uint8_t type)
{
    entry e = {(const uint8_t *)key,        strlen(key), (const uint8_t *)"v",
               type == ENTRY_VALUE ? 1 : 0, seq,         type};
    return e;
}

/* Feeds n entries and stores each verdict's keep (and first_kept) flags. */
static void feed(version_filter *f, const entry *es, size_t n, bool *keep,
                 bool *first)
{
    for (size_t i = 0; i < n; i++) {
        version_verdict v;
        assert_int_equal(version_filter_decide(f, &es[i], &v), LSM_OK);
        keep[i] = v.keep;
        if (first)
            first[i] = v.first_kept_of_key;
    }
}

static void test_rules_at_a_watermark(void **state)
{
    (void)state;
    const entry es[] = {
        ent("a", 30, ENTRY_VALUE),     /* above W: kept */
        ent("a", 25, ENTRY_VALUE),     /* above W: kept, shadowed (kept) */
        ent("a", 20, ENTRY_VALUE),     /* the newest <= W: kept */
        ent("a", 15, ENTRY_VALUE),     /* older: dropped */
        ent("a", 10, ENTRY_TOMBSTONE), /* older: dropped */
        ent("b", 5, ENTRY_VALUE),      /* alone, <= W: kept */
        ent("c", 21, ENTRY_TOMBSTONE), /* above W: kept */
        ent("c", 19, ENTRY_TOMBSTONE), /* newest <= W: kept (no drop) */
        ent("c", 3, ENTRY_VALUE),      /* older: dropped */
    };
    const bool want[] = {1, 1, 1, 0, 0, 1, 1, 1, 0};
    const bool want_first[] = {1, 0, 0, 0, 0, 1, 1, 0, 0};
    bool keep[9], first[9];
    version_filter f;
    version_filter_init(&f, 20, false);
    feed(&f, es, 9, keep, first);
    for (size_t i = 0; i < 9; i++) {
        assert_int_equal(keep[i], want[i]);
        assert_int_equal(first[i], want_first[i]);
    }
    assert_int_equal(f.dropped, 3);
    assert_int_equal(f.kept, 1); /* a@25 (c@21 is its key's newest) */
    version_filter_free(&f);
}

static void test_tombstones_at_the_bottom(void **state)
{
    (void)state;
    const entry es[] = {
        ent("a", 30, ENTRY_VALUE),     /* above W: kept */
        ent("a", 20, ENTRY_TOMBSTONE), /* newest <= W, bottom: dropped */
        ent("a", 10, ENTRY_VALUE),     /* shadowed by it: dropped */
        ent("b", 22, ENTRY_TOMBSTONE), /* above W: kept even at the bottom */
        ent("b", 8, ENTRY_VALUE),      /* newest <= W: kept */
        ent("c", 9, ENTRY_TOMBSTONE),  /* alone, bottom: dropped */
    };
    const bool want[] = {1, 0, 0, 1, 1, 0};
    const bool want_first[] = {1, 0, 0, 1, 0, 0};
    bool keep[6], first[6];
    version_filter f;
    version_filter_init(&f, 20, true);
    feed(&f, es, 6, keep, first);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(keep[i], want[i]);
        assert_int_equal(first[i], want_first[i]);
    }
    assert_int_equal(f.dropped, 1); /* a@10; the tombstones shadow */
    assert_int_equal(f.kept, 0);
    version_filter_free(&f);
}

/* No watermark: the newest version of each key only, as before snapshots;
 * every older one counts as dropped. */
static void test_no_watermark_keeps_newest_only(void **state)
{
    (void)state;
    const entry es[] = {
        ent("a", 9, ENTRY_VALUE),     ent("a", 8, ENTRY_VALUE),
        ent("a", 7, ENTRY_TOMBSTONE), ent("b", 6, ENTRY_TOMBSTONE),
        ent("b", 5, ENTRY_VALUE),     ent("c", 4, ENTRY_VALUE),
    };
    const bool flush[] = {1, 0, 0, 1, 0, 1};
    const bool bottom[] = {1, 0, 0, 0, 0, 1};
    bool keep[6];
    for (int drop = 0; drop < 2; drop++) {
        version_filter f;
        version_filter_init(&f, VERSION_FILTER_NO_WATERMARK, drop);
        feed(&f, es, 6, keep, NULL);
        for (size_t i = 0; i < 6; i++)
            assert_int_equal(keep[i], drop ? bottom[i] : flush[i]);
        assert_int_equal(f.dropped, 3);
        assert_int_equal(f.kept, 0);
        version_filter_free(&f);
    }
}

/* Keys are copied: the entries fed may change under the filter. */
static void test_key_is_copied(void **state)
{
    (void)state;
    char buf[8];
    version_filter f;
    version_filter_init(&f, 5, false);
    version_verdict v;
    strcpy(buf, "k");
    entry e = {(const uint8_t *)buf, 1, NULL, 0, 9, ENTRY_TOMBSTONE};
    assert_int_equal(version_filter_decide(&f, &e, &v), LSM_OK);
    assert_true(v.keep);
    strcpy(buf, "z"); /* the caller's buffer is reused for the next key */
    e.seq = 3;
    assert_int_equal(version_filter_decide(&f, &e, &v), LSM_OK);
    assert_true(v.keep && v.first_kept_of_key); /* a new key: its newest */
    version_filter_free(&f);
    version_filter_free(NULL);
}

/* --- random histories against the rule's purpose ---------------------------
 */

#define MAX_VERSIONS 12

/* What a read at seq r sees of one key's versions (newest first): the
 * value of the newest with seq <= r, -1 for a tombstone, -2 for nothing. */
static int read_at(const entry *vs, const bool *present, size_t n, uint64_t r)
{
    for (size_t i = 0; i < n; i++)
        if (present[i] && vs[i].seq <= r)
            return vs[i].type == ENTRY_TOMBSTONE ? -1 : (int)vs[i].seq;
    return -2;
}

static void test_random_histories(void **state)
{
    (void)state;
    uint64_t rng = 99;
    for (int round = 0; round < 3000; round++) {
        size_t n = 1 + test_rng_below(&rng, MAX_VERSIONS);
        entry vs[MAX_VERSIONS];
        bool all[MAX_VERSIONS], keep[MAX_VERSIONS];
        uint64_t seq = 10 + test_rng_below(&rng, 40) + 3 * n;
        for (size_t i = 0; i < n; i++) {
            vs[i] =
                ent("key", seq,
                    test_rng_below(&rng, 4) ? ENTRY_VALUE : ENTRY_TOMBSTONE);
            all[i] = true;
            seq -= 1 + test_rng_below(&rng, 3);
        }
        uint64_t w = test_rng_below(&rng, 5)
                         ? test_rng_below(&rng, vs[0].seq + 5)
                         : VERSION_FILTER_NO_WATERMARK;
        bool bottom = test_rng_below(&rng, 2);
        version_filter f;
        version_filter_init(&f, w, bottom);
        feed(&f, vs, n, keep, NULL);
        /* Every read point at or above the watermark (and "now") reads
         * the same; at the bottom a tombstone may turn into nothing. */
        uint64_t lo = w == VERSION_FILTER_NO_WATERMARK ? vs[0].seq : w;
        for (uint64_t r = lo; r <= vs[0].seq + 1; r++) {
            int want = read_at(vs, all, n, r);
            int got = read_at(vs, keep, n, r);
            if (bottom && want == -1)
                want = -2;
            if (bottom && got == -1)
                got = -2;
            assert_int_equal(got, want);
        }
        /* Nothing is kept that no read point can see. */
        size_t n_kept = 0, n_above = 0, n_shadowed_above = 0;
        bool tombstone_gone = false; /* the newest <= W, dropped */
        for (size_t i = 0; i < n; i++) {
            n_kept += keep[i];
            n_above += vs[i].seq > w;
            n_shadowed_above += i > 0 && vs[i].seq > w;
            if (vs[i].seq <= w && (i == 0 || vs[i - 1].seq > w))
                tombstone_gone = !keep[i];
        }
        assert_true(n_kept <= n_above + 1);
        /* The counts: every version left out is a shadowed one dropped,
         * but for a bottom tombstone; every shadowed one above W kept. */
        assert_int_equal(n - n_kept, f.dropped + (tombstone_gone ? 1 : 0));
        assert_int_equal(f.kept, n_shadowed_above);
        version_filter_free(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_at_a_watermark),
        cmocka_unit_test(test_tombstones_at_the_bottom),
        cmocka_unit_test(test_no_watermark_keeps_newest_only),
        cmocka_unit_test(test_key_is_copied),
        cmocka_unit_test(test_random_histories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
