/*
 * test_block_codec.c: compressing data blocks (block_codec_int.h): round
 * trips for LZ4 and Zstandard, the 1/8 rule (a block that does not shrink
 * enough is stored raw), the ratio bound (a block Zstandard shrinks too far
 * is stored LZ4), and corruption: a flipped byte, a lying raw size, a
 * hostile size and a payload that decompresses to the wrong length are all
 * LSM_ECORRUPT naming the file and offset, never an over-read (ASan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "table/block_codec_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "util/status_int.h"
#include "testutil.h"

#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A real encoded block of n_entries entries whose values are `fill`
 * repeated (compressible) or random bytes (not). *n gets its size; the
 * caller frees the result. */
static uint8_t *make_block(size_t n_entries, size_t value_bytes, bool random,
                           size_t *n)
{
    block_builder bb;
    block_builder_init(&bb);
    uint64_t rng = 42;
    uint8_t *value = malloc(value_bytes + 1);
    assert_non_null(value);
    for (size_t i = 0; i < n_entries; i++) {
        char key[32];
        int nkey = snprintf(key, sizeof key, "key%08zu", i);
        for (size_t j = 0; j < value_bytes; j++)
            value[j] = random ? (uint8_t)test_rng_next(&rng) : (uint8_t)'v';
        entry e = {(const uint8_t *)key, (size_t)nkey, value,
                   value_bytes,          1000 - i,     ENTRY_VALUE};
        assert_int_equal(block_builder_add(&bb, &e), LSM_OK);
    }
    const uint8_t *data;
    assert_int_equal(block_builder_finish(&bb, &data, n), LSM_OK);
    uint8_t *copy = malloc(*n);
    assert_non_null(copy);
    memcpy(copy, data, *n);
    block_builder_free(&bb);
    free(value);
    return copy;
}

/* Compresses raw with kind and checks the stored form; returns a copy of
 * the stored bytes (*n_stored) and the kind chosen. */
static uint8_t *compress_copy(block_kind want, int level, const uint8_t *raw,
                              size_t n, block_kind *kind, size_t *n_stored)
{
    block_compressor c;
    block_compressor_init(&c, want, level);
    const uint8_t *stored;
    assert_int_equal(block_compress(&c, raw, n, kind, &stored, n_stored),
                     LSM_OK);
    uint8_t *copy = malloc(*n_stored);
    assert_non_null(copy);
    memcpy(copy, stored, *n_stored);
    block_compressor_free(&c);
    return copy;
}

static void round_trip(block_kind kind, int level)
{
    size_t n;
    uint8_t *raw = make_block(40, 100, false, &n);
    block_kind got;
    size_t n_stored;
    uint8_t *stored = compress_copy(kind, level, raw, n, &got, &n_stored);
    assert_int_equal(got, kind);
    /* Saves at least an eighth, and keeps the ratio bound. */
    assert_true(n_stored <= n - n / 8);
    assert_true(block_stored_sizes_ok(got, n_stored, n));
    uint8_t *back = malloc(n);
    assert_non_null(back);
    assert_int_equal(
        block_decompress(got, stored, n_stored, back, n, "t.sst", 0), LSM_OK);
    assert_memory_equal(back, raw, n);
    block b;
    assert_int_equal(block_decode(back, n, "t.sst", 0, &b), LSM_OK);
    assert_int_equal(b.n_entries, 40);
    free(back);
    free(stored);
    free(raw);
}

static void test_lz4_round_trip(void **state)
{
    (void)state;
    round_trip(BLOCK_KIND_LZ4, 0);
}

static void test_zstd_round_trip(void **state)
{
    (void)state;
    round_trip(BLOCK_KIND_ZSTD, 0);
    round_trip(BLOCK_KIND_ZSTD, 19);
    round_trip(BLOCK_KIND_ZSTD, -5);
}

/* Random values do not shrink by an eighth: stored raw, as they are. */
static void test_incompressible_stays_raw(void **state)
{
    (void)state;
    size_t n;
    uint8_t *raw = make_block(20, 200, true, &n);
    for (int k = BLOCK_KIND_LZ4; k <= BLOCK_KIND_ZSTD; k++) {
        block_kind got;
        size_t n_stored;
        uint8_t *stored =
            compress_copy((block_kind)k, 0, raw, n, &got, &n_stored);
        assert_int_equal(got, BLOCK_KIND_RAW);
        assert_int_equal(n_stored, n);
        assert_memory_equal(stored, raw, n);
        free(stored);
    }
    free(raw);
}

/* A block of n_entries entries whose values are `random_percent` random
 * bytes and the rest one repeated byte. */
static uint8_t *make_mixed_block(unsigned random_percent, size_t *n)
{
    block_builder bb;
    block_builder_init(&bb);
    uint64_t rng = 7 + random_percent;
    uint8_t value[200];
    for (size_t i = 0; i < 30; i++) {
        char key[32];
        int nkey = snprintf(key, sizeof key, "key%08zu", i);
        for (size_t j = 0; j < sizeof value; j++)
            value[j] = j * 100 < random_percent * sizeof value
                           ? (uint8_t)test_rng_next(&rng)
                           : (uint8_t)'v';
        entry e = {(const uint8_t *)key, (size_t)nkey, value,
                   sizeof value,         1000 - i,     ENTRY_VALUE};
        assert_int_equal(block_builder_add(&bb, &e), LSM_OK);
    }
    const uint8_t *data;
    assert_int_equal(block_builder_finish(&bb, &data, n), LSM_OK);
    uint8_t *copy = malloc(*n);
    assert_non_null(copy);
    memcpy(copy, data, *n);
    block_builder_free(&bb);
    return copy;
}

/* LevelDB's rule: a block is stored LZ4-compressed exactly when LZ4's
 * output and its checksum take at most 7/8 of the raw bytes. Blocks from
 * all compressible to nearly all random cross the line, and some land
 * between 7/8 and the whole: shrunk, but not enough, so stored raw. */
static void test_one_eighth_rule(void **state)
{
    (void)state;
    int shrunk_too_little = 0, compressed = 0;
    for (unsigned pct = 0; pct <= 100; pct += 2) {
        size_t n;
        uint8_t *raw = make_mixed_block(pct, &n);
        int cap = LZ4_compressBound((int)n);
        char *lz = malloc((size_t)cap);
        assert_non_null(lz);
        int got = LZ4_compress_default((const char *)raw, lz, (int)n, cap);
        assert_true(got > 0);
        bool pays = (size_t)got + SST_CHECKSUM_BYTES <= n - n / 8;
        block_kind kind;
        size_t n_stored;
        uint8_t *stored =
            compress_copy(BLOCK_KIND_LZ4, 0, raw, n, &kind, &n_stored);
        assert_int_equal(kind, pays ? BLOCK_KIND_LZ4 : BLOCK_KIND_RAW);
        if (pays) {
            assert_int_equal(n_stored, (size_t)got + SST_CHECKSUM_BYTES);
            compressed++;
        } else if ((size_t)got < n) {
            shrunk_too_little++;
        }
        free(stored);
        free(lz);
        free(raw);
    }
    assert_true(compressed > 0);
    assert_true(shrunk_too_little > 0);
}

/* none never compresses, however compressible. */
static void test_raw_kind_never_compresses(void **state)
{
    (void)state;
    size_t n;
    uint8_t *raw = make_block(40, 100, false, &n);
    block_kind got;
    size_t n_stored;
    uint8_t *stored = compress_copy(BLOCK_KIND_RAW, 0, raw, n, &got, &n_stored);
    assert_int_equal(got, BLOCK_KIND_RAW);
    assert_int_equal(n_stored, n);
    free(stored);
    free(raw);
}

/* A block of one huge run of one byte: Zstandard shrinks it far past the
 * ratio bound, so it is stored LZ4, which keeps it. */
static void test_zstd_past_ratio_falls_back_to_lz4(void **state)
{
    (void)state;
    size_t n;
    uint8_t *raw = make_block(1, (size_t)1 << 20, false, &n);
    block_kind got;
    size_t n_stored;
    uint8_t *stored =
        compress_copy(BLOCK_KIND_ZSTD, 0, raw, n, &got, &n_stored);
    assert_int_equal(got, BLOCK_KIND_LZ4);
    assert_true(block_stored_sizes_ok(got, n_stored, n));
    assert_true(n_stored < n / 100);
    uint8_t *back = malloc(n);
    assert_non_null(back);
    assert_int_equal(
        block_decompress(got, stored, n_stored, back, n, "t.sst", 0), LSM_OK);
    assert_memory_equal(back, raw, n);
    free(back);
    free(stored);
    free(raw);
}

/* The sizes a reader accepts before it allocates anything. */
static void test_stored_sizes_ok(void **state)
{
    (void)state;
    assert_true(block_stored_sizes_ok(BLOCK_KIND_RAW, 100, 100));
    assert_false(block_stored_sizes_ok(BLOCK_KIND_RAW, 100, 101));
    assert_true(block_stored_sizes_ok(BLOCK_KIND_LZ4, 100, 25600));
    assert_false(block_stored_sizes_ok(BLOCK_KIND_LZ4, 100, 25601));
    assert_false(block_stored_sizes_ok(BLOCK_KIND_ZSTD, 20, UINT32_MAX));
    assert_false(
        block_stored_sizes_ok(BLOCK_KIND_ZSTD, SST_CHECKSUM_BYTES, 12));
    assert_false(block_stored_sizes_ok(BLOCK_KIND_ZSTD, 20, 11));
    assert_false(block_stored_sizes_ok(3, 100, 200));
    assert_false(
        block_stored_sizes_ok(BLOCK_KIND_LZ4, UINT64_MAX / 2, UINT64_MAX));
}

/* A compressed block, for the corruption cases. */
typedef struct stored_block {
    uint8_t *raw, *stored;
    size_t n_raw, n_stored;
    block_kind kind;
} stored_block;

static stored_block stored_of(block_kind kind)
{
    stored_block s;
    s.raw = make_block(40, 100, false, &s.n_raw);
    s.stored = compress_copy(kind, 0, s.raw, s.n_raw, &s.kind, &s.n_stored);
    assert_int_equal(s.kind, kind);
    return s;
}

static void stored_free(stored_block *s)
{
    free(s->raw);
    free(s->stored);
}

/* Decompresses s (as kind, claiming n_raw) into a buffer of exactly n_raw
 * bytes, so ASan sees any write past it; returns the result. */
static int decompress_exact(const stored_block *s, block_kind kind,
                            size_t n_raw)
{
    uint8_t *dst = malloc(n_raw ? n_raw : 1);
    assert_non_null(dst);
    int rc = block_decompress(kind, s->stored, s->n_stored, dst, n_raw,
                              "bad.sst", 4096);
    free(dst);
    return rc;
}

static void expect_corrupt(int rc)
{
    assert_int_equal(rc, LSM_ECORRUPT);
    assert_non_null(strstr(lsm_errmsg(), "bad.sst"));
    assert_non_null(strstr(lsm_errmsg(), "offset 4096"));
}

/* Every flipped byte is caught by the checksum of the compressed bytes. */
static void test_flipped_byte_is_corrupt(void **state)
{
    (void)state;
    for (int k = BLOCK_KIND_LZ4; k <= BLOCK_KIND_ZSTD; k++) {
        stored_block s = stored_of((block_kind)k);
        for (size_t i = 0; i < s.n_stored; i++) {
            s.stored[i] ^= 0x20;
            expect_corrupt(decompress_exact(&s, s.kind, s.n_raw));
            s.stored[i] ^= 0x20;
        }
        assert_int_equal(decompress_exact(&s, s.kind, s.n_raw), LSM_OK);
        stored_free(&s);
    }
}

/* Re-seals the checksum after the payload was altered, so the
 * decompressor itself meets the damage. */
static void reseal(stored_block *s)
{
    size_t n = s->n_stored - SST_CHECKSUM_BYTES;
    put_fixed64(s->stored + n, checksum64(s->stored, n));
}

/* A payload altered and re-sealed: the decompressor refuses it, or it
 * decompresses to other bytes of exactly the right size (then the inner
 * block checksum catches it); never a crash or an over-read. */
static void test_resealed_damage_is_safe(void **state)
{
    (void)state;
    for (int k = BLOCK_KIND_LZ4; k <= BLOCK_KIND_ZSTD; k++) {
        stored_block s = stored_of((block_kind)k);
        size_t n_payload = s.n_stored - SST_CHECKSUM_BYTES;
        for (size_t i = 0; i < n_payload; i++) {
            for (int bit = 0; bit < 8; bit += 3) {
                s.stored[i] ^= (uint8_t)(1u << bit);
                reseal(&s);
                uint8_t *dst = malloc(s.n_raw);
                assert_non_null(dst);
                int rc = block_decompress(s.kind, s.stored, s.n_stored, dst,
                                          s.n_raw, "bad.sst", 4096);
                if (rc == LSM_OK) {
                    block b;
                    rc = block_decode(dst, s.n_raw, "bad.sst", 4096, &b);
                    if (memcmp(dst, s.raw, s.n_raw) == 0)
                        rc = LSM_ECORRUPT; /* a flip zstd ignores */
                }
                free(dst);
                expect_corrupt(rc);
                s.stored[i] ^= (uint8_t)(1u << bit);
            }
        }
        reseal(&s);
        stored_free(&s);
    }
}

/* A raw size that is not the truth, smaller or larger, is corrupt: the
 * decompressor must fill exactly the recorded size. */
static void test_lying_raw_size_is_corrupt(void **state)
{
    (void)state;
    for (int k = BLOCK_KIND_LZ4; k <= BLOCK_KIND_ZSTD; k++) {
        stored_block s = stored_of((block_kind)k);
        expect_corrupt(decompress_exact(&s, s.kind, s.n_raw - 1));
        expect_corrupt(decompress_exact(&s, s.kind, s.n_raw + 1));
        expect_corrupt(decompress_exact(&s, s.kind, s.n_raw / 2));
        expect_corrupt(decompress_exact(&s, s.kind, 12));
        /* Past the ratio bound: refused before decompressing. */
        expect_corrupt(decompress_exact(
            &s, s.kind, s.n_stored * BLOCK_CODEC_MAX_RATIO + 1));
        stored_free(&s);
    }
}

/* A block stored with one codec and recorded as the other is corrupt. */
static void test_wrong_kind_is_corrupt(void **state)
{
    (void)state;
    stored_block s = stored_of(BLOCK_KIND_LZ4);
    expect_corrupt(decompress_exact(&s, BLOCK_KIND_ZSTD, s.n_raw));
    stored_free(&s);
    s = stored_of(BLOCK_KIND_ZSTD);
    expect_corrupt(decompress_exact(&s, BLOCK_KIND_LZ4, s.n_raw));
    expect_corrupt(decompress_exact(&s, BLOCK_KIND_RAW, s.n_raw));
    stored_free(&s);
}

/* Truncated stored bytes (checksum re-sealed) are corrupt. */
static void test_truncated_payload_is_corrupt(void **state)
{
    (void)state;
    for (int k = BLOCK_KIND_LZ4; k <= BLOCK_KIND_ZSTD; k++) {
        stored_block s = stored_of((block_kind)k);
        size_t full = s.n_stored;
        for (size_t cut = 1; cut + SST_CHECKSUM_BYTES < full; cut++) {
            s.n_stored = full - cut;
            reseal(&s);
            expect_corrupt(decompress_exact(&s, s.kind, s.n_raw));
        }
        stored_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lz4_round_trip),
        cmocka_unit_test(test_zstd_round_trip),
        cmocka_unit_test(test_incompressible_stays_raw),
        cmocka_unit_test(test_raw_kind_never_compresses),
        cmocka_unit_test(test_one_eighth_rule),
        cmocka_unit_test(test_zstd_past_ratio_falls_back_to_lz4),
        cmocka_unit_test(test_stored_sizes_ok),
        cmocka_unit_test(test_flipped_byte_is_corrupt),
        cmocka_unit_test(test_resealed_damage_is_safe),
        cmocka_unit_test(test_lying_raw_size_is_corrupt),
        cmocka_unit_test(test_wrong_kind_is_corrupt),
        cmocka_unit_test(test_truncated_payload_is_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
