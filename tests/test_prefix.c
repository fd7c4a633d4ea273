/*
 * test_prefix.c: prefix extractors and the SST_META_PREFIX record
 * (table/prefix_int.h), and prefix scans through the public API
 * (lsm_scan_prefix and its variants): exact results in every case, SSTs
 * skipped only when the filter may be trusted (same extractor, prefix in
 * its domain), the counters and the trace, and the options' validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lsm.h"
#include "table/prefix_int.h"
#include "util/status_int.h"

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const prefix_extractor fixed4 = {.kind = PREFIX_FIXED, .len = 4};
static const prefix_extractor slash = {.kind = PREFIX_DELIM, .delim = '/'};

/* extract(key) as a string, or "-" when key is out of the domain. */
static const char *extract_str(const prefix_extractor *x, const char *key,
                               char *buf)
{
    size_t n;
    if (!prefix_extract(x, (const uint8_t *)key, strlen(key), &n))
        return "-";
    memcpy(buf, key, n);
    buf[n] = '\0';
    return buf;
}

static void test_extract(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(extract_str(&fixed4, "abcdef", buf), "abcd");
    assert_string_equal(extract_str(&fixed4, "abcd", buf), "abcd");
    assert_string_equal(extract_str(&fixed4, "abc", buf), "-");
    assert_string_equal(extract_str(&slash, "user/42", buf), "user/");
    assert_string_equal(extract_str(&slash, "a/b/c", buf), "a/");
    assert_string_equal(extract_str(&slash, "/x", buf), "/");
    assert_string_equal(extract_str(&slash, "nodelim", buf), "-");
    prefix_extractor none = {.kind = PREFIX_NONE};
    assert_string_equal(extract_str(&none, "abcdef", buf), "-");
    /* Options map to extractors; delim -1 and len 0 are "none". */
    prefix_extractor x = prefix_extractor_from(0, -1);
    assert_int_equal(x.kind, PREFIX_NONE);
    x = prefix_extractor_from(4, -1);
    assert_true(prefix_extractor_equal(&x, &fixed4));
    x = prefix_extractor_from(0, '/');
    assert_true(prefix_extractor_equal(&x, &slash));
    assert_false(prefix_extractor_equal(&fixed4, &slash));
    prefix_extractor fixed3 = {.kind = PREFIX_FIXED, .len = 3};
    assert_false(prefix_extractor_equal(&fixed4, &fixed3));
    prefix_extractor_describe(&slash, buf, sizeof buf);
    assert_string_equal(buf, "delim:'/'");
    prefix_extractor_describe(&fixed4, buf, sizeof buf);
    assert_string_equal(buf, "fixed:4");
}

/* A record for x over the prefixes of keys[0..n), in *bytes (malloc'd). */
static void build_record(const prefix_extractor *x, const char *const *keys,
                         size_t n, unsigned bits, uint8_t **bytes,
                         size_t *nbytes)
{
    bloom_builder b;
    bloom_builder_init(&b, bits);
    uint64_t n_prefixes = 0;
    for (size_t i = 0; i < n; i++) {
        size_t np;
        if (!prefix_extract(x, (const uint8_t *)keys[i], strlen(keys[i]), &np))
            continue;
        assert_int_equal(bloom_builder_add(&b, (const uint8_t *)keys[i], np),
                         LSM_OK);
        n_prefixes++;
    }
    uint8_t *filter;
    size_t nfilter;
    assert_int_equal(bloom_builder_finish(&b, &filter, &nfilter), LSM_OK);
    assert_int_equal(
        prefix_record_encode(x, n_prefixes, filter, nfilter, bytes, nbytes),
        LSM_OK);
    free(filter);
    bloom_builder_free(&b);
}

static bool may_match(const prefix_record *r, const prefix_extractor *x,
                      const char *p, bool *usable)
{
    return prefix_record_may_match(r, x, (const uint8_t *)p, strlen(p), usable);
}

static void test_record_round_trip(void **state)
{
    (void)state;
    const char *keys[] = {"aaaa1", "aaaa2", "cccc1", "zz"};
    uint8_t *bytes;
    size_t n;
    build_record(&fixed4, keys, 4, 10, &bytes, &n);
    prefix_record r;
    assert_int_equal(prefix_record_decode(bytes, n, "t.sst", &r), LSM_OK);
    assert_true(prefix_extractor_equal(&r.extractor, &fixed4));
    assert_int_equal(r.n_prefixes, 3); /* "zz" is out of the domain */
    bool usable;
    /* Every prefix added may match (no false negatives)... */
    assert_true(may_match(&r, &fixed4, "aaaa", &usable));
    assert_true(usable);
    assert_true(may_match(&r, &fixed4, "cccc1", &usable)); /* longer P */
    assert_true(usable);
    /* ... and one absent is ruled out (10 bits per key: no collision for
     * these few prefixes, checked here once and for all). */
    assert_false(may_match(&r, &fixed4, "bbbb", &usable));
    assert_true(usable);
    assert_false(may_match(&r, &fixed4, "bbbbzz", &usable));
    assert_true(usable);
    /* Out of the domain: the filter cannot answer. */
    assert_true(may_match(&r, &fixed4, "bbb", &usable));
    assert_false(usable);
    /* Another extractor: the filter cannot answer. */
    prefix_extractor fixed3 = {.kind = PREFIX_FIXED, .len = 3};
    assert_true(may_match(&r, &fixed3, "bbb", &usable));
    assert_false(usable);
    assert_true(may_match(&r, &slash, "b/", &usable));
    assert_false(usable);
    free(bytes);
}

/* An SST none of whose keys is in the domain is ruled out for every
 * in-domain prefix, even without filter bits. */
static void test_record_no_prefixes(void **state)
{
    (void)state;
    const char *keys[] = {"a", "b"};
    for (unsigned bits = 0; bits <= 10; bits += 10) {
        uint8_t *bytes;
        size_t n;
        build_record(&slash, keys, 2, bits, &bytes, &n);
        prefix_record r;
        assert_int_equal(prefix_record_decode(bytes, n, "t.sst", &r), LSM_OK);
        assert_int_equal(r.n_prefixes, 0);
        bool usable;
        assert_false(may_match(&r, &slash, "a/", &usable));
        assert_true(usable);
        assert_true(may_match(&r, &slash, "a", &usable));
        assert_false(usable);
        free(bytes);
    }
}

/* No filter bits (bloom_bits_per_key 0): every in-domain prefix may match
 * an SST that holds some in-domain key. */
static void test_record_empty_filter(void **state)
{
    (void)state;
    const char *keys[] = {"a/1"};
    uint8_t *bytes;
    size_t n;
    build_record(&slash, keys, 1, 0, &bytes, &n);
    prefix_record r;
    assert_int_equal(prefix_record_decode(bytes, n, "t.sst", &r), LSM_OK);
    bool usable;
    assert_true(may_match(&r, &slash, "zzz/", &usable));
    assert_true(usable);
    free(bytes);
}

static void expect_corrupt(const uint8_t *bytes, size_t n, const char *what)
{
    prefix_record r;
    assert_int_equal(prefix_record_decode(bytes, n, "t.sst", &r), LSM_ECORRUPT);
    if (what && !strstr(lsm_errmsg(), what)) {
        fprintf(stderr, "message '%s' lacks '%s'\n", lsm_errmsg(), what);
        fail();
    }
    assert_non_null(strstr(lsm_errmsg(), "t.sst"));
}

static void test_record_corrupt(void **state)
{
    (void)state;
    const char *keys[] = {"aaaa1", "bbbb2"};
    uint8_t *bytes;
    size_t n;
    build_record(&fixed4, keys, 2, 10, &bytes, &n);
    /* Every truncation. */
    for (size_t cut = 0; cut < n; cut++)
        expect_corrupt(bytes, cut, "prefix record");
    /* Every single flipped bit of the kind and of the filter is caught
     * (the filter by its checksum). The length (byte 1) and the count
     * (byte 2) may flip to other valid values: the meta section's
     * checksum covers them in a file. */
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            bytes[i] ^= (uint8_t)(1u << bit);
            prefix_record r;
            int rc = prefix_record_decode(bytes, n, "t.sst", &r);
            if (i != 1 && i != 2)
                assert_int_equal(rc, LSM_ECORRUPT);
            bytes[i] ^= (uint8_t)(1u << bit);
        }
    }
    uint8_t bad[64];
    memcpy(bad, bytes, n);
    bad[0] = 3;
    expect_corrupt(bad, n, "unknown extractor kind 3");
    memcpy(bad, bytes, n);
    bad[1] = 0; /* length 0 */
    expect_corrupt(bad, n, "length 0 out of range");
    /* A count of 0 with filter bits. */
    memcpy(bad, bytes, n);
    bad[2] = 0;
    expect_corrupt(bad, n, "over no prefixes");
    free(bytes);
    /* A delimiter above 255. */
    uint8_t big[] = {PREFIX_DELIM, 0x80, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    expect_corrupt(big, sizeof big, "delimiter 256 out of range");
}

/* --- prefix scans through the public API ----------------------------------
 */

static void open_db(const char *dir, unsigned len, int delim, lsm_db **db)
{
    lsm_options o;
    lsm_options_init(&o);
    o.compaction = LSM_COMPACTION_NONE;
    o.prefix_len = len;
    o.prefix_delim = delim;
    assert_int_equal(lsm_open(dir, &o, db), LSM_OK);
}

static lsm_counters counters_of(lsm_db *db)
{
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    lsm_counters c = st->counters;
    lsm_state_free(st);
    return c;
}

/* The keys an iterator returns, joined by spaces; closes it. */
static void drain(lsm_iter *it, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = '\0';
    while (lsm_iter_valid(it)) {
        size_t nk;
        const char *k = lsm_iter_key(it, &nk);
        at += (size_t)snprintf(out + at, cap - at, "%s%.*s", at ? " " : "",
                               (int)nk, k);
        assert_true(at < cap);
        assert_int_equal(lsm_iter_next(it), LSM_OK);
    }
    lsm_iter_close(it);
}

/* Scans prefix p; asserts the keys and the change in prefix_checks and
 * prefix_skips. */
static void expect_scan(lsm_db *db, const char *p, const char *keys,
                        uint64_t checks, uint64_t skips)
{
    lsm_counters before = counters_of(db);
    lsm_iter *it;
    assert_int_equal(lsm_scan_prefix(db, p, strlen(p), &it), LSM_OK);
    char got[512];
    drain(it, got, sizeof got);
    assert_string_equal(got, keys);
    lsm_counters after = counters_of(db);
    assert_int_equal(after.prefix_checks - before.prefix_checks, checks);
    assert_int_equal(after.prefix_skips - before.prefix_skips, skips);
}

/* Two SSTs: 0.sst holds aaaa* and cccc* (its range covers bbbb), 1.sst
 * bbbb*. A prefix scan of bbbb needs 0.sst only by range: its filter
 * rules bbbb out. */
static void write_fixed_db(lsm_db *db)
{
    test_put_str(db, "aaaa1", "v");
    test_put_str(db, "aaaa2", "v");
    test_put_str(db, "cccc1", "v");
    test_put_str(db, "cc", "v"); /* out of the domain */
    assert_int_equal(lsm_flush(db), LSM_OK);
    test_put_str(db, "bbbb1", "v");
    test_put_str(db, "bbbb2", "v");
    assert_int_equal(lsm_flush(db), LSM_OK);
    test_put_str(db, "bbbb3", "mem"); /* the memtable: range only */
}

static void test_scan_fixed(void **state)
{
    const char *dir = *state;
    lsm_db *db;
    open_db(dir, 4, -1, &db);
    write_fixed_db(db);
    /* In the domain: both L0 SSTs overlap [bbbb, bbbc); 0.sst skipped. */
    expect_scan(db, "bbbb", "bbbb1 bbbb2 bbbb3", 2, 1);
    /* Longer than N: the filter is probed with "bbbb". */
    expect_scan(db, "bbbb2", "bbbb2", 2, 1);
    expect_scan(db, "aaaa", "aaaa1 aaaa2", 1, 0);
    /* Shorter than N: range only, no check; "cc" is found all the same. */
    expect_scan(db, "cc", "cc cccc1", 0, 0);
    expect_scan(db, "b", "bbbb1 bbbb2 bbbb3", 0, 0);
    /* A prefix no SST range holds. */
    expect_scan(db, "dddd", "", 0, 0);
    /* The trace names the skipped SST. */
    lsm_iter *it;
    assert_int_equal(lsm_scan_prefix_explain(db, "bbbb", 4, &it), LSM_OK);
    lsm_read_trace *t;
    assert_int_equal(lsm_iter_trace(it, &t), LSM_OK);
    assert_int_equal(t->prefix_checks, 2);
    assert_int_equal(t->prefix_skips, 1);
    size_t n_skipped = 0;
    for (size_t i = 0; i < t->n_steps; i++) {
        if (t->steps[i].outcome != LSM_READ_SKIPPED_PREFIX)
            continue;
        n_skipped++;
        assert_int_equal(t->steps[i].id, 0);
        assert_true(t->steps[i].prefix_checked);
    }
    assert_int_equal(n_skipped, 1);
    lsm_read_trace_free(t);
    lsm_iter_close(it);
    /* The inspector reads the record back: 0.sst has aaaa and cccc. */
    char *path = test_path(dir, "0.sst");
    lsm_sst_report *rep;
    assert_int_equal(lsm_sst_inspect(path, &rep), LSM_OK);
    assert_true(rep->has_prefix);
    assert_int_equal(rep->prefix_len, 4);
    assert_int_equal(rep->prefix_delim, -1);
    assert_int_equal(rep->prefix_count, 2);
    assert_true(rep->prefix_filter_bits >= 64);
    assert_int_equal(rep->prefix_filter_probes, 7);
    lsm_sst_report_free(rep);
    free(path);
    /* After a full compaction the one SST holds every prefix. */
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    expect_scan(db, "bbbb", "bbbb1 bbbb2 bbbb3", 1, 0);
    expect_scan(db, "0000", "", 0, 0); /* below the SST's range */
    expect_scan(db, "abcd", "", 1, 1); /* in it, ruled out by the filter */
    expect_scan(db, "bzzz", "", 1, 1);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Reopened with another extractor, or none, the SSTs are read by range:
 * same keys, no checks. */
static void test_scan_other_extractor(void **state)
{
    const char *dir = *state;
    lsm_db *db;
    open_db(dir, 4, -1, &db);
    write_fixed_db(db);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
    open_db(dir, 3, -1, &db);
    expect_scan(db, "bbbb", "bbbb1 bbbb2 bbbb3", 0, 0);
    assert_int_equal(lsm_close(db), LSM_OK);
    open_db(dir, 0, 'b', &db);
    expect_scan(db, "bbbb", "bbbb1 bbbb2 bbbb3", 0, 0);
    assert_int_equal(lsm_close(db), LSM_OK);
    open_db(dir, 0, -1, &db);
    expect_scan(db, "bbbb", "bbbb1 bbbb2 bbbb3", 0, 0);
    assert_int_equal(lsm_close(db), LSM_OK);
    /* Back to the extractor that wrote them: skipped again. */
    open_db(dir, 4, -1, &db);
    expect_scan(db, "bbbb", "bbbb1 bbbb2 bbbb3", 3, 1);
    assert_int_equal(lsm_close(db), LSM_OK);
}

static void test_scan_delim(void **state)
{
    const char *dir = *state;
    lsm_db *db;
    open_db(dir, 0, '/', &db);
    test_put_str(db, "a/1", "v");
    test_put_str(db, "bx", "v"); /* no '/': out of the domain */
    test_put_str(db, "c/1", "v");
    assert_int_equal(lsm_flush(db), LSM_OK);
    test_put_str(db, "b/1", "v");
    test_put_str(db, "b/2/x", "v");
    assert_int_equal(lsm_flush(db), LSM_OK);
    expect_scan(db, "b/", "b/1 b/2/x", 2, 1);
    expect_scan(db, "b/2", "b/2/x", 2, 1);
    /* Without the delimiter: range only, and bx is there. */
    expect_scan(db, "b", "b/1 b/2/x bx", 0, 0);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Snapshots and transactions see exactly what their plain scans see. */
static void test_scan_snapshot_txn(void **state)
{
    const char *dir = *state;
    lsm_db *db;
    open_db(dir, 4, -1, &db);
    write_fixed_db(db);
    lsm_snapshot *snap;
    assert_int_equal(lsm_snapshot_take(db, &snap), LSM_OK);
    assert_int_equal(lsm_delete(db, "bbbb1", 5), LSM_OK);
    test_put_str(db, "bbbb4", "v");
    assert_int_equal(lsm_flush(db), LSM_OK);
    lsm_iter *it;
    char got[256];
    assert_int_equal(lsm_scan_prefix_at(db, snap, "bbbb", 4, &it), LSM_OK);
    drain(it, got, sizeof got);
    assert_string_equal(got, "bbbb1 bbbb2 bbbb3");
    expect_scan(db, "bbbb", "bbbb2 bbbb3 bbbb4", 3, 1);
    lsm_txn *t;
    assert_int_equal(lsm_txn_begin(db, LSM_ISOLATION_SERIALIZABLE, &t), LSM_OK);
    assert_int_equal(lsm_txn_put(t, "bbbb0", 5, "t", 1), LSM_OK);
    assert_int_equal(lsm_txn_scan_prefix(t, "bbbb", 4, &it), LSM_OK);
    drain(it, got, sizeof got);
    assert_string_equal(got, "bbbb0 bbbb2 bbbb3 bbbb4");
    /* The prefix's range was read: a write into it is a phantom. */
    test_put_str(db, "bbbb9", "v");
    assert_int_equal(lsm_txn_commit(t, NULL), LSM_ECONFLICT);
    lsm_snapshot_release(snap);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* A prefix of 0xff bytes alone has no successor: the scan runs to the end
 * of the keys. */
static void test_scan_ff_prefix(void **state)
{
    const char *dir = *state;
    lsm_db *db;
    open_db(dir, 0, -1, &db);
    test_put_str(db, "\xfe", "v");
    test_put_str(db, "\xff", "v");
    test_put_str(db, "\xff\xff", "v");
    test_put_str(db, "\xff\xff\x01", "v");
    lsm_iter *it;
    char got[64];
    assert_int_equal(lsm_scan_prefix(db, "\xff\xff", 2, &it), LSM_OK);
    drain(it, got, sizeof got);
    assert_string_equal(got, "\xff\xff \xff\xff\x01");
    assert_int_equal(lsm_scan_prefix(db, "\xfe", 1, &it), LSM_OK);
    drain(it, got, sizeof got);
    assert_string_equal(got, "\xfe");
    assert_int_equal(lsm_close(db), LSM_OK);
}

static void test_bad_arguments(void **state)
{
    const char *dir = *state;
    lsm_options o;
    lsm_db *db;
    lsm_options_init(&o);
    assert_int_equal(o.prefix_len, 0);
    assert_int_equal(o.prefix_delim, -1);
    o.prefix_len = LSM_MAX_KEY_BYTES + 1;
    assert_int_equal(lsm_open(dir, &o, &db), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "prefix_len"));
    lsm_options_init(&o);
    o.prefix_delim = 256;
    assert_int_equal(lsm_open(dir, &o, &db), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "prefix_delim"));
    o.prefix_delim = -2;
    assert_int_equal(lsm_open(dir, &o, &db), LSM_EINVAL);
    lsm_options_init(&o);
    o.prefix_len = 2;
    o.prefix_delim = '/';
    assert_int_equal(lsm_open(dir, &o, &db), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "at most one"));
    open_db(dir, 2, -1, &db);
    lsm_iter *it = (lsm_iter *)&o; /* must be cleared */
    assert_int_equal(lsm_scan_prefix(db, "", 0, &it), LSM_EINVAL);
    assert_null(it);
    assert_int_equal(lsm_scan_prefix(db, NULL, 3, &it), LSM_EINVAL);
    assert_int_equal(lsm_scan_prefix(NULL, "a", 1, &it), LSM_EINVAL);
    assert_int_equal(lsm_scan_prefix(db, "a", 1, NULL), LSM_EINVAL);
    assert_int_equal(lsm_close(db), LSM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extract),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_record_no_prefixes),
        cmocka_unit_test(test_record_empty_filter),
        cmocka_unit_test(test_record_corrupt),
        cmocka_unit_test_setup_teardown(test_scan_fixed, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_scan_other_extractor,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_scan_delim, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_scan_snapshot_txn, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_scan_ff_prefix, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, test_dir_setup,
                                        test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
