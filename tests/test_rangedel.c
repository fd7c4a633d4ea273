/*
 * test_rangedel.c: range tombstones below the public API
 * (iter/rangedel_int.h, the version filter's use of them, the WAL entry).
 *
 * Fragments against a brute force: random overlapping tombstones, then
 * for every key near a boundary and every read seq, range_frags_covering
 * and a cursor walked in key order must give the newest covering seq at
 * or below the read seq that a scan of every tombstone gives. The SST
 * record: encode/decode round trips, and every way a record can be
 * damaged (cut at each length, a bad count, lo >= hi, seq 0, out of
 * order, stray bytes) is LSM_ECORRUPT. A WAL record with a range delete
 * whose end is not above its start is LSM_ECORRUPT and applies nothing.
 * The version filter drops a version under a tombstone at or below the
 * watermark, and keeps one under a tombstone above it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "compact/version_filter_int.h"
#include "iter/key_int.h"
#include "iter/rangedel_int.h"
#include "log/wal_int.h"
#include "mem/memtable_int.h"
#include "table/sst_int.h"
#include "lsm.h"
#include "testutil.h"
#include "util/coding_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Keys are one or two bytes from a small alphabet, so ranges overlap a lot
 * and boundaries often coincide. */
static size_t random_key(uint64_t *rng, uint8_t *out)
{
    size_t n = 1 + test_rng_below(rng, 2);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)('a' + test_rng_below(rng, 6));
    return n;
}

/* The newest seq <= read_seq of a tombstone of l covering key: every one
 * of them tested. */
static uint64_t brute_covering(const range_tomb_list *l, const uint8_t *key,
                               size_t nkey, uint64_t read_seq)
{
    uint64_t best = 0;
    for (size_t i = 0; i < l->n; i++) {
        const range_tomb *t = &l->v[i];
        if (t->seq <= read_seq && t->seq > best &&
            user_key_cmp(t->lo, t->nlo, key, nkey) <= 0 &&
            user_key_cmp(key, nkey, t->hi, t->nhi) < 0)
            best = t->seq;
    }
    return best;
}

/* Every key of one or two letters 'a'..'g' (and the one-byte key "a\0"
 * style gaps come from the two-letter ones), in order. */
static size_t all_probe_keys(uint8_t keys[][2], size_t *lens)
{
    size_t n = 0;
    for (int a = 'a'; a <= 'g'; a++) {
        keys[n][0] = (uint8_t)a;
        lens[n++] = 1;
        for (int b = 'a'; b <= 'g'; b++) {
            keys[n][0] = (uint8_t)a;
            keys[n][1] = (uint8_t)b;
            lens[n++] = 2;
        }
    }
    return n;
}

static void test_fragments_match_brute_force(void **state)
{
    (void)state;
    uint8_t keys[64][2];
    size_t lens[64];
    size_t nkeys = all_probe_keys(keys, lens);
    for (uint64_t seed = 1; seed <= 200; seed++) {
        uint64_t rng = seed;
        range_tomb_list l = {0};
        size_t n = test_rng_below(&rng, 12);
        for (size_t i = 0; i < n; i++) {
            uint8_t lo[2], hi[2];
            size_t nlo = random_key(&rng, lo), nhi = random_key(&rng, hi);
            if (user_key_cmp(lo, nlo, hi, nhi) >= 0)
                continue;
            assert_int_equal(range_tomb_list_add(&l, lo, nlo, hi, nhi,
                                                 1 + test_rng_below(&rng, 20)),
                             LSM_OK);
        }
        uint64_t max_seq = test_rng_below(&rng, 3) ? UINT64_MAX : 10;
        range_frags *f = NULL;
        assert_int_equal(range_frags_build(l.v, l.n, max_seq, &f), LSM_OK);
        /* Fragments are sorted, non-empty and disjoint. */
        for (size_t i = 0; i < f->n; i++) {
            const range_frag *fr = &f->frags[i];
            assert_true(user_key_cmp(fr->lo, fr->nlo, fr->hi, fr->nhi) < 0);
            assert_true(fr->nseqs >= 1);
            if (i > 0)
                assert_true(user_key_cmp(f->frags[i - 1].hi,
                                         f->frags[i - 1].nhi, fr->lo,
                                         fr->nlo) <= 0);
        }
        for (uint64_t read_seq = 0; read_seq <= 21; read_seq++) {
            range_cursor c;
            range_cursor_init(&c, f);
            for (size_t k = 0; k < nkeys; k++) {
                uint64_t cap = read_seq < max_seq ? read_seq : max_seq;
                uint64_t want = brute_covering(&l, keys[k], lens[k], cap);
                assert_int_equal(
                    range_frags_covering(f, keys[k], lens[k], read_seq), want);
                assert_int_equal(
                    range_cursor_covering(&c, keys[k], lens[k], read_seq),
                    want);
            }
        }
        range_frags_free(f);
        range_tomb_list_free(&l);
    }
}

static void test_last_key_of_a_tombstone(void **state)
{
    (void)state;
    range_tomb t = {(const uint8_t *)"a", (const uint8_t *)"k\0", 1, 2, 5};
    size_t n;
    const uint8_t *k = range_tomb_last_key(&t, &n);
    assert_int_equal(n, 1); /* "k\0" - 1 is exactly "k" */
    assert_memory_equal(k, "k", 1);
    t.hi = (const uint8_t *)"k";
    t.nhi = 1;
    k = range_tomb_last_key(&t, &n);
    assert_int_equal(n, 1); /* no predecessor: "k" stands for it */
    assert_memory_equal(k, "k", 1);
}

static void test_clipping(void **state)
{
    (void)state;
    range_tomb t = {(const uint8_t *)"c", (const uint8_t *)"p", 1, 1, 9};
    range_tomb_list l = {0};
    assert_int_equal(range_tomb_list_add_clipped(&l, &t, (const uint8_t *)"a",
                                                 1, (const uint8_t *)"f", 1),
                     LSM_OK);
    assert_int_equal(
        range_tomb_list_add_clipped(&l, &t, (const uint8_t *)"f", 1, NULL, 0),
        LSM_OK);
    /* Outside it: nothing. */
    assert_int_equal(
        range_tomb_list_add_clipped(&l, &t, (const uint8_t *)"p", 1, NULL, 0),
        LSM_OK);
    assert_int_equal(l.n, 2);
    assert_memory_equal(l.v[0].lo, "c", 1);
    assert_memory_equal(l.v[0].hi, "f", 1);
    assert_memory_equal(l.v[1].lo, "f", 1);
    assert_memory_equal(l.v[1].hi, "p", 1);
    assert_int_equal(l.v[1].seq, 9);
    range_tomb_list_free(&l);
}

/* A sorted list of three tombstones, encoded. */
static void encoded_three(range_tomb_list *l, uint8_t **buf, size_t *n)
{
    memset(l, 0, sizeof *l);
    assert_int_equal(range_tomb_list_add(l, (const uint8_t *)"b", 1,
                                         (const uint8_t *)"d", 1, 7),
                     LSM_OK);
    assert_int_equal(range_tomb_list_add(l, (const uint8_t *)"a", 1,
                                         (const uint8_t *)"zz", 2, 3),
                     LSM_OK);
    assert_int_equal(range_tomb_list_add(l, (const uint8_t *)"b", 1,
                                         (const uint8_t *)"c", 1, 9),
                     LSM_OK);
    range_tomb_list_sort(l);
    assert_int_equal(range_encode(l, buf, n), LSM_OK);
}

static void test_record_round_trip(void **state)
{
    (void)state;
    range_tomb_list l, back;
    uint8_t *buf;
    size_t n;
    encoded_three(&l, &buf, &n);
    assert_int_equal(range_decode(buf, n, "test", &back), LSM_OK);
    assert_int_equal(back.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(back.v[i].seq, l.v[i].seq);
        assert_int_equal(
            user_key_cmp(back.v[i].lo, back.v[i].nlo, l.v[i].lo, l.v[i].nlo),
            0);
        assert_int_equal(
            user_key_cmp(back.v[i].hi, back.v[i].nhi, l.v[i].hi, l.v[i].nhi),
            0);
    }
    /* Sorted by lo, then newest first. */
    assert_int_equal(back.v[0].seq, 3);
    assert_int_equal(back.v[1].seq, 9);
    assert_int_equal(back.v[2].seq, 7);
    range_tomb_list_free(&back);
    range_tomb_list_free(&l);
    free(buf);
}

static void expect_corrupt(const uint8_t *p, size_t n, const char *what)
{
    range_tomb_list back;
    int rc = range_decode(p, n, "test.sst", &back);
    if (rc != LSM_ECORRUPT)
        fail_msg("%s: decode returned %d, not LSM_ECORRUPT", what, rc);
    assert_non_null(strstr(lsm_errmsg(), "test.sst"));
}

static void test_damaged_records_are_corrupt(void **state)
{
    (void)state;
    range_tomb_list l;
    uint8_t *buf;
    size_t n;
    encoded_three(&l, &buf, &n);
    /* Every cut short. */
    for (size_t cut = 0; cut < n; cut++)
        expect_corrupt(buf, cut, "cut short");
    /* Stray bytes. */
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, buf, n);
    longer[n] = 0;
    expect_corrupt(longer, n + 1, "stray byte");
    free(longer);
    /* Count 0, and a count above what follows. */
    uint8_t saved = buf[0];
    buf[0] = 0;
    expect_corrupt(buf, n, "count 0");
    buf[0] = 4;
    expect_corrupt(buf, n, "count too large");
    buf[0] = saved;
    /* Layout: 03 | 01 'a' 02 'z' 'z' 03 | 01 'b' 01 'c' 09 | 01 'b' 01 'd'
     * 07. */
    assert_int_equal(n, 1 + 6 + 5 + 5);
    buf[6] = 0;
    expect_corrupt(buf, n, "seq 0");
    buf[6] = 3;
    buf[2] = 'z';
    buf[4] = 'a'; /* [z, az): its start is not below its end */
    expect_corrupt(buf, n, "lo >= hi");
    buf[2] = 'a';
    buf[4] = 'z';
    buf[11] = 5; /* b@5 before b@7: not newest first */
    expect_corrupt(buf, n, "out of order");
    buf[11] = 9;
    range_tomb_list back;
    assert_int_equal(range_decode(buf, n, "test.sst", &back), LSM_OK);
    range_tomb_list_free(&back);
    range_tomb_list_free(&l);
    free(buf);
}

static int count_entry(void *ctx, uint64_t seq, uint8_t type,
                       const uint8_t *key, size_t nkey, const uint8_t *value,
                       size_t nvalue)
{
    (void)seq, (void)key, (void)nkey, (void)value, (void)nvalue;
    int *n = ctx;
    if (type == ENTRY_RANGE_DEL)
        (*n)++;
    return LSM_OK;
}

/* A WAL payload with one range delete [lo, hi). */
static size_t wal_payload(uint8_t *p, const char *lo, const char *hi)
{
    size_t n = 0;
    put_fixed64(p, 5);
    put_fixed32(p + 8, 1);
    n = 12;
    p[n++] = ENTRY_RANGE_DEL;
    p[n++] = (uint8_t)strlen(lo);
    memcpy(p + n, lo, strlen(lo));
    n += strlen(lo);
    p[n++] = (uint8_t)strlen(hi);
    memcpy(p + n, hi, strlen(hi));
    return n + strlen(hi);
}

static void test_wal_range_entry(void **state)
{
    (void)state;
    uint8_t p[64];
    int n_ranges = 0;
    size_t n = wal_payload(p, "a", "m");
    assert_int_equal(wal_decode_record(p, n, count_entry, &n_ranges), LSM_OK);
    assert_int_equal(n_ranges, 1);
    n_ranges = 0;
    n = wal_payload(p, "m", "a");
    assert_int_equal(wal_decode_record(p, n, count_entry, &n_ranges),
                     LSM_ECORRUPT);
    n = wal_payload(p, "m", "m");
    assert_int_equal(wal_decode_record(p, n, count_entry, &n_ranges),
                     LSM_ECORRUPT);
    n = wal_payload(p, "a", "");
    assert_int_equal(wal_decode_record(p, n, count_entry, &n_ranges),
                     LSM_ECORRUPT);
    assert_int_equal(n_ranges, 0);
}

static entry ent(const char *key, uint64_t seq, uint8_t type)
{
    entry e = {(const uint8_t *)key,        strlen(key), (const uint8_t *)"v",
               type == ENTRY_VALUE ? 1 : 0, seq,         type};
    return e;
}

static void test_version_filter_drops_covered(void **state)
{
    (void)state;
    range_tomb_list l = {0};
    /* [b, d) at 10 (at or below W = 20); [f, h) at 30 (above it). */
    assert_int_equal(range_tomb_list_add(&l, (const uint8_t *)"b", 1,
                                         (const uint8_t *)"d", 1, 10),
                     LSM_OK);
    assert_int_equal(range_tomb_list_add(&l, (const uint8_t *)"f", 1,
                                         (const uint8_t *)"h", 1, 30),
                     LSM_OK);
    range_frags *f;
    assert_int_equal(range_frags_build(l.v, l.n, 20, &f), LSM_OK);
    version_filter vf;
    version_filter_init(&vf, 20, false);
    version_filter_set_ranges(&vf, f);
    const entry es[] = {
        ent("a", 5, ENTRY_VALUE),  /* not covered: kept */
        ent("b", 12, ENTRY_VALUE), /* newer than the tombstone: kept */
        ent("b", 8, ENTRY_VALUE),  /* shadowed anyway: dropped */
        ent("c", 9, ENTRY_VALUE),  /* under [b, d)@10 <= W: dropped */
        ent("d", 1, ENTRY_VALUE),  /* d is past the end: kept */
        ent("g", 7, ENTRY_VALUE),  /* under [f, h)@30 > W: kept */
    };
    const bool want[] = {1, 1, 0, 0, 1, 1};
    for (size_t i = 0; i < sizeof es / sizeof es[0]; i++) {
        version_verdict v;
        assert_int_equal(version_filter_decide(&vf, &es[i], &v), LSM_OK);
        if (v.keep != want[i])
            fail_msg("entry %zu (%s@%llu): keep %d, want %d", i,
                     (const char *)es[i].key, (unsigned long long)es[i].seq,
                     v.keep, want[i]);
    }
    assert_int_equal(vf.dropped, 2);
    version_filter_free(&vf);
    range_frags_free(f);
    range_tomb_list_free(&l);
}

/* An SST written with the record bytes given (through the meta section,
 * whose own checksum is then right) opens only when the record is valid:
 * a damaged one is LSM_ECORRUPT naming the file. */
static int open_with_record(const uint8_t *rec, size_t n, bool with_entry)
{
    char dir[] = "/tmp/lsm-rangedel-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/1.sst", dir);
    sst_builder_options opt = {.block_size = 256, .bloom_bits_per_key = 10};
    sst_builder *b = NULL;
    assert_int_equal(sst_builder_open(env_posix(), path, &opt, &b), LSM_OK);
    if (with_entry) {
        entry e = {(const uint8_t *)"k", 1, (const uint8_t *)"v", 1, 1,
                   ENTRY_VALUE};
        assert_int_equal(sst_builder_add(b, &e), LSM_OK);
    } else {
        /* Tombstones alone: the builder takes no entry only from
         * set_ranges; the record's bytes are then replaced. */
        range_tomb_list l = {0};
        assert_int_equal(range_tomb_list_add(&l, (const uint8_t *)"a", 1,
                                             (const uint8_t *)"c", 1, 2),
                         LSM_OK);
        assert_int_equal(sst_builder_set_ranges(b, &l), LSM_OK);
        range_tomb_list_free(&l);
    }
    assert_int_equal(sst_builder_set_meta(b, SST_META_RANGE_DELS, rec, n),
                     LSM_OK);
    int rc = sst_builder_finish(b, NULL);
    sst *t = NULL;
    if (rc == LSM_OK)
        rc = sst_open(env_posix(), path, 1, NULL, NULL, false, &t);
    if (rc == LSM_ECORRUPT)
        assert_non_null(strstr(lsm_errmsg(), "1.sst"));
    sst_unref(t);
    unlink(path);
    rmdir(dir);
    return rc;
}

static void test_sst_with_damaged_record(void **state)
{
    (void)state;
    static const uint8_t good[] = {1, 1, 'a', 1, 'c', 2};
    static const uint8_t reversed[] = {1, 1, 'c', 1, 'a', 2};
    static const uint8_t seq0[] = {1, 1, 'a', 1, 'c', 0};
    static const uint8_t cut[] = {2, 1, 'a', 1, 'c', 2};
    int ok_rc = open_with_record(good, sizeof good, true);
    if (ok_rc != LSM_OK)
        fail_msg("good record: rc %d: %s", ok_rc, lsm_errmsg());
    assert_int_equal(open_with_record(reversed, sizeof reversed, true),
                     LSM_ECORRUPT);
    assert_int_equal(open_with_record(seq0, sizeof seq0, true), LSM_ECORRUPT);
    assert_int_equal(open_with_record(cut, sizeof cut, true), LSM_ECORRUPT);
    /* An SST of range tombstones alone opens; one whose only record is
     * damaged does not. */
    assert_int_equal(open_with_record(good, sizeof good, false), LSM_OK);
    assert_int_equal(open_with_record(cut, sizeof cut, false), LSM_ECORRUPT);
}

/* An SST of range tombstones alone: no block, its key range is theirs,
 * its newest seq theirs, and a get finds nothing but the tombstone. */
static void test_sst_of_tombstones_alone(void **state)
{
    (void)state;
    char dir[] = "/tmp/lsm-rangedel-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/1.sst", dir);
    sst_builder_options opt = {.block_size = 256, .bloom_bits_per_key = 10};
    sst_builder *b = NULL;
    assert_int_equal(sst_builder_open(env_posix(), path, &opt, &b), LSM_OK);
    range_tomb_list l = {0};
    assert_int_equal(range_tomb_list_add(&l, (const uint8_t *)"b", 1,
                                         (const uint8_t *)"d\0", 2, 7),
                     LSM_OK);
    assert_int_equal(range_tomb_list_add(&l, (const uint8_t *)"c", 1,
                                         (const uint8_t *)"x", 1, 4),
                     LSM_OK);
    range_tomb_list_sort(&l);
    assert_int_equal(sst_builder_set_ranges(b, &l), LSM_OK);
    range_tomb_list_free(&l);
    sst_summary sum;
    assert_int_equal(sst_builder_finish(b, &sum), LSM_OK);
    assert_int_equal(sum.num_entries, 0);
    assert_int_equal(sum.max_seq, 7);
    sst *t = NULL;
    assert_int_equal(sst_open(env_posix(), path, 1, NULL, NULL, false, &t),
                     LSM_OK);
    size_t n;
    const uint8_t *k = sst_first_key(t, &n);
    assert_int_equal(n, 1);
    assert_memory_equal(k, "b", 1);
    k = sst_last_key(t, &n); /* "x": no key below it can be named */
    assert_int_equal(n, 1);
    assert_memory_equal(k, "x", 1);
    assert_int_equal(sst_max_seq(t), 7);
    assert_int_equal(sst_range_covering(t, (const uint8_t *)"c", 1, 100), 7);
    assert_int_equal(sst_range_covering(t, (const uint8_t *)"e", 1, 100), 4);
    assert_int_equal(sst_range_covering(t, (const uint8_t *)"c", 1, 5), 4);
    bool found = true;
    entry e;
    void *owned = NULL;
    assert_int_equal(
        sst_get(t, (const uint8_t *)"c", 1, 100, &found, &e, &owned), LSM_OK);
    assert_false(found);
    iter *it = sst_iter_new(t);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    assert_false(iter_valid(it));
    iter_destroy(it);
    sst_unref(t);
    unlink(path);
    rmdir(dir);
}

/* A memtable's covering query (an index of fragments, rebuilt now and
 * then, plus a walk of the tombstones added since) against a look at
 * every tombstone, after each of hundreds of range deletes. */
static void test_memtable_covering(void **state)
{
    (void)state;
    uint8_t keys[64][2];
    size_t lens[64];
    size_t nkeys = all_probe_keys(keys, lens);
    memtable *mt = NULL;
    assert_int_equal(memtable_create(1, &mt), LSM_OK);
    range_tomb_list l = {0};
    uint64_t rng = 42, seq = 0;
    while (l.n < 600) {
        uint8_t lo[2], hi[2];
        size_t nlo = random_key(&rng, lo), nhi = random_key(&rng, hi);
        if (user_key_cmp(lo, nlo, hi, nhi) >= 0)
            continue;
        seq++;
        assert_int_equal(memtable_delete_range(mt, lo, nlo, hi, nhi, seq),
                         LSM_OK);
        assert_int_equal(range_tomb_list_add(&l, lo, nlo, hi, nhi, seq),
                         LSM_OK);
        if (l.n % 7 != 0 && l.n < 590)
            continue;
        for (size_t k = 0; k < nkeys; k++) {
            uint64_t read_seq = test_rng_below(&rng, seq + 2);
            uint64_t want = brute_covering(&l, keys[k], lens[k], read_seq);
            if (memtable_range_covering(mt, keys[k], lens[k], read_seq) != want)
                fail_msg("after %zu tombstones: key %.*s at %llu: %llu, "
                         "want %llu",
                         l.n, (int)lens[k], (const char *)keys[k],
                         (unsigned long long)read_seq,
                         (unsigned long long)memtable_range_covering(
                             mt, keys[k], lens[k], read_seq),
                         (unsigned long long)want);
        }
    }
    assert_int_equal(memtable_num_ranges(mt), 600);
    range_tomb_list_free(&l);
    memtable_unref(mt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fragments_match_brute_force),
        cmocka_unit_test(test_last_key_of_a_tombstone),
        cmocka_unit_test(test_clipping),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_damaged_records_are_corrupt),
        cmocka_unit_test(test_wal_range_entry),
        cmocka_unit_test(test_version_filter_drops_covered),
        cmocka_unit_test(test_sst_with_damaged_record),
        cmocka_unit_test(test_sst_of_tombstones_alone),
        cmocka_unit_test(test_memtable_covering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
