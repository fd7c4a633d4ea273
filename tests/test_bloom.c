/*
 * test_bloom.c: bloom filters (bloom_int.h): no false negatives, a measured
 * false-positive rate in the expected band, the probe count formula, empty
 * filters, the encoded size, and rejection of corrupt or truncated filters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "table/bloom_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "util/status_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_KEYS 100000

static size_t key_of(char *buf, const char *prefix, uint64_t i)
{
    return (size_t)sprintf(buf, "%s%llu", prefix, (unsigned long long)i);
}

/* Builds a filter over N keys "key<i>" and decodes it. *section is
 * malloc'd; the caller frees it (f points into it). */
static void build(unsigned bits_per_key, size_t n, uint8_t **section,
                  size_t *n_bytes, bloom *f)
{
    bloom_builder b;
    bloom_builder_init(&b, bits_per_key);
    char key[32];
    for (size_t i = 0; i < n; i++) {
        size_t nk = key_of(key, "key", i);
        assert_int_equal(bloom_builder_add(&b, (uint8_t *)key, nk), LSM_OK);
    }
    size_t predicted = bloom_builder_size_bytes(&b);
    assert_int_equal(bloom_builder_finish(&b, section, n_bytes), LSM_OK);
    assert_int_equal(*n_bytes, predicted);
    bloom_builder_free(&b);
    assert_int_equal(bloom_decode(*section, *n_bytes, "t.sst", 0, f), LSM_OK);
}

/* Fraction of N absent keys (random, fixed seed) the filter lets through. */
static double false_positive_rate(const bloom *f)
{
    uint64_t s = 0x1234567;
    size_t positives = 0;
    char key[32];
    for (size_t i = 0; i < N_KEYS; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        /* "absent" keys never collide with "key<i>". */
        size_t nk = key_of(key, "absent", s >> 16);
        positives += bloom_may_contain(f, (uint8_t *)key, nk);
    }
    return (double)positives / N_KEYS;
}

static void test_no_false_negatives(void **state)
{
    (void)state;
    unsigned bits[] = {1, 4, 10, 20};
    for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
        uint8_t *section;
        size_t n;
        bloom f;
        build(bits[b], N_KEYS, &section, &n, &f);
        char key[32];
        for (size_t i = 0; i < N_KEYS; i++) {
            size_t nk = key_of(key, "key", i);
            assert_true(bloom_may_contain(&f, (uint8_t *)key, nk));
        }
        free(section);
    }
}

static void test_false_positive_rate_at_10_bits(void **state)
{
    (void)state;
    uint8_t *section;
    size_t n;
    bloom f;
    build(10, N_KEYS, &section, &n, &f);
    double rate = false_positive_rate(&f);
    print_message("false positives at 10 bits/key: %.3f%%\n", rate * 100);
    assert_true(rate >= 0.002);
    assert_true(rate <= 0.025);
    assert_int_equal(f.k, 7);
    /* 100000 keys * 10 bits = 125000 bytes, plus k and the checksum. */
    assert_int_equal(n, 125000 + BLOOM_TRAILER_BYTES);
    free(section);
}

static void test_more_bits_fewer_false_positives(void **state)
{
    (void)state;
    double prev = 1.0;
    unsigned bits[] = {2, 6, 10, 16};
    for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
        uint8_t *section;
        size_t n;
        bloom f;
        build(bits[b], N_KEYS, &section, &n, &f);
        double rate = false_positive_rate(&f);
        assert_true(rate < prev);
        prev = rate;
        free(section);
    }
    assert_true(prev < 0.002); /* 16 bits/key: about 0.05% */
}

static void test_num_probes(void **state)
{
    (void)state;
    assert_int_equal(bloom_num_probes(0), 0);
    assert_int_equal(bloom_num_probes(1), 1);  /* round(0.69) */
    assert_int_equal(bloom_num_probes(2), 1);  /* round(1.39) */
    assert_int_equal(bloom_num_probes(3), 2);  /* round(2.08) */
    assert_int_equal(bloom_num_probes(10), 7); /* round(6.93) */
    assert_int_equal(bloom_num_probes(43), 30);
    assert_int_equal(bloom_num_probes(44), 30); /* clamped */
    assert_int_equal(bloom_num_probes(1000000), 30);
}

static void test_empty_filters(void **state)
{
    (void)state;
    /* 0 bits per key: keys are ignored, the filter is empty, and an empty
     * filter rules nothing out. */
    uint8_t *section;
    size_t n;
    bloom f;
    build(0, 1000, &section, &n, &f);
    assert_int_equal(n, BLOOM_TRAILER_BYTES);
    assert_true(bloom_is_empty(&f));
    assert_int_equal(f.k, 0);
    assert_true(bloom_may_contain(&f, (const uint8_t *)"anything", 8));
    free(section);
    /* Bits per key but no keys: also empty. */
    build(10, 0, &section, &n, &f);
    assert_int_equal(n, BLOOM_TRAILER_BYTES);
    assert_true(bloom_is_empty(&f));
    assert_true(bloom_may_contain(&f, (const uint8_t *)"x", 1));
    free(section);
}

static void test_tiny_filter_has_minimum_size(void **state)
{
    (void)state;
    uint8_t *section;
    size_t n;
    bloom f;
    build(10, 1, &section, &n, &f);
    assert_int_equal(f.n_bytes, 8);
    assert_false(bloom_is_empty(&f));
    assert_true(bloom_may_contain(&f, (const uint8_t *)"key0", 4));
    /* 64 bits, 7 of them set: most other keys are rejected. */
    size_t positives = 0;
    char key[32];
    for (int i = 1; i < 1000; i++) {
        size_t nk = key_of(key, "key", (uint64_t)i);
        positives += bloom_may_contain(&f, (uint8_t *)key, nk);
    }
    assert_true(positives < 100);
    free(section);
}

static void reseal(uint8_t *s, size_t n)
{
    put_fixed64(s + n - 8, checksum64(s, n - 8));
}

/* The bits are part of the SST format (FORMAT.md: bit i of a key is
 * (h1 + i * h2) % m): a faster way to compute them must set exactly the
 * same ones, or filters written before it would answer wrong. The filters
 * of a few sizes, checked against the direct formula bit by bit. */
static void test_bits_follow_the_format(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 7, 100, 5000};
    static const unsigned bits[] = {1, 10, 23};
    for (size_t si = 0; si < 4; si++) {
        for (size_t bi = 0; bi < 3; bi++) {
            uint8_t *section;
            size_t n_bytes;
            bloom f;
            build(bits[bi], sizes[si], &section, &n_bytes, &f);
            uint8_t *want = calloc(1, f.n_bytes);
            assert_non_null(want);
            uint64_t m = (uint64_t)f.n_bytes * 8;
            char key[32];
            for (size_t i = 0; i < sizes[si]; i++) {
                size_t nk = key_of(key, "key", i);
                uint64_t h = hash64(key, nk);
                uint64_t h1 = h & 0xffffffffu, h2 = h >> 32;
                for (unsigned p = 0; p < f.k; p++) {
                    uint64_t bit = (h1 + (uint64_t)p * h2) % m;
                    want[bit / 8] |= (uint8_t)(1u << (bit % 8));
                }
            }
            assert_memory_equal(f.bits, want, f.n_bytes);
            free(want);
            free(section);
        }
    }
}

static void test_corrupt_filter_rejected(void **state)
{
    (void)state;
    uint8_t *section;
    size_t n;
    bloom f;
    build(10, 50, &section, &n, &f);
    /* Every truncation. */
    for (size_t len = 0; len < n; len++)
        assert_int_equal(bloom_decode(section, len, "t.sst", 77, &f),
                         LSM_ECORRUPT);
    /* Every single-byte flip. */
    for (size_t off = 0; off < n; off++) {
        section[off] ^= 0x20;
        assert_int_equal(bloom_decode(section, n, "t.sst", 77, &f),
                         LSM_ECORRUPT);
        section[off] ^= 0x20;
    }
    /* The message names the file and offset. */
    section[0] ^= 1;
    assert_int_equal(bloom_decode(section, n, "dir/5.sst", 77, &f),
                     LSM_ECORRUPT);
    assert_non_null(strstr(lsm_errmsg(), "dir/5.sst"));
    assert_non_null(strstr(lsm_errmsg(), "offset 77"));
    section[0] ^= 1;
    /* Re-sealed, but with a bad probe count. */
    uint8_t k = section[n - 9];
    section[n - 9] = 31;
    reseal(section, n);
    assert_int_equal(bloom_decode(section, n, "t.sst", 0, &f), LSM_ECORRUPT);
    section[n - 9] = 0; /* k 0 with bits present */
    reseal(section, n);
    assert_int_equal(bloom_decode(section, n, "t.sst", 0, &f), LSM_ECORRUPT);
    section[n - 9] = k;
    reseal(section, n);
    assert_int_equal(bloom_decode(section, n, "t.sst", 0, &f), LSM_OK);
    free(section);
    /* An empty filter with a nonzero k. */
    uint8_t empty[BLOOM_TRAILER_BYTES] = {3};
    reseal(empty, sizeof empty);
    assert_int_equal(bloom_decode(empty, sizeof empty, "t.sst", 0, &f),
                     LSM_ECORRUPT);
    empty[0] = 0;
    reseal(empty, sizeof empty);
    assert_int_equal(bloom_decode(empty, sizeof empty, "t.sst", 0, &f), LSM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_false_negatives),
        cmocka_unit_test(test_bits_follow_the_format),
        cmocka_unit_test(test_false_positive_rate_at_10_bits),
        cmocka_unit_test(test_more_bits_fewer_false_positives),
        cmocka_unit_test(test_num_probes),
        cmocka_unit_test(test_empty_filters),
        cmocka_unit_test(test_tiny_filter_has_minimum_size),
        cmocka_unit_test(test_corrupt_filter_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
