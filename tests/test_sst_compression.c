/*
 * test_sst_compression.c: SSTs with compressed data blocks (sst_int.h,
 * block_codec_int.h, FORMAT.md "Compressed data blocks"): round trips with
 * LZ4 and Zstandard, with and without a cache, with pread and with a
 * mapping; the totals a file reports without reading a block; the cache
 * charged for decompressed blocks; and damage: every flipped byte of a
 * compressed file is LSM_ECORRUPT naming the file and an offset, and an
 * index record whose raw size lies (with every checksum made right again)
 * is refused before anything is allocated for it, or when the block is
 * read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "table/block_cache_int.h"
#include "table/block_codec_int.h"
#include "table/sst_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "util/env_int.h"
#include "util/status_int.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    test_tmp_template(tmpdir, sizeof tmpdir, "lsm-sstc");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return test_rmtree(tmpdir);
}

static void path_of(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

/* The test's entries: key i is "key%06zu", one version each, seq
 * 10000 - i, value i's letter repeated (compressible) with its number. */
#define N_KEYS 600

static size_t key_of(char *buf, size_t i)
{
    return (size_t)snprintf(buf, 16, "key%06zu", i);
}

static size_t value_of(char *buf, size_t i)
{
    size_t n = 40 + i % 50;
    memset(buf, 'a' + (int)(i % 26), n);
    snprintf(buf, 12, "%zu", i); /* overwrites the start; NUL inside */
    return n;
}

static void write_sst(const char *path, unsigned kind, size_t block_size)
{
    sst_builder_options opt = {.block_size = block_size,
                               .bloom_bits_per_key = 10,
                               .compression = kind,
                               .compression_level = 0};
    sst_builder *b;
    assert_int_equal(sst_builder_open(env_posix(), path, &opt, &b), LSM_OK);
    for (size_t i = 0; i < N_KEYS; i++) {
        char key[16], value[128];
        size_t nkey = key_of(key, i), nvalue = value_of(value, i);
        entry e = {(const uint8_t *)key,
                   nkey,
                   (const uint8_t *)value,
                   nvalue,
                   10000 - i,
                   ENTRY_VALUE};
        assert_int_equal(sst_builder_add(b, &e), LSM_OK);
    }
    assert_int_equal(sst_builder_finish(b, NULL), LSM_OK);
}

/* Whether e is entry i of the test's entries. */
static bool entry_is(const entry *e, size_t i)
{
    char key[16], value[128];
    size_t nkey = key_of(key, i), nvalue = value_of(value, i);
    return e->nkey == nkey && memcmp(e->key, key, nkey) == 0 &&
           e->nvalue == nvalue && memcmp(e->value, value, nvalue) == 0 &&
           e->seq == 10000 - i && e->type == ENTRY_VALUE;
}

/* Reads everything back: a full scan, then a get of every key and of a
 * key between each two. Returns LSM_OK or the first error (for damaged
 * files); any entry that differs from what was written fails the test. */
static int read_all(sst *t)
{
    iter *it = sst_iter_new(t);
    assert_non_null(it);
    size_t n = 0;
    int rc = iter_seek(it, NULL, 0);
    while (rc == LSM_OK && iter_valid(it)) {
        entry e;
        iter_entry(it, &e);
        assert_true(n < N_KEYS && entry_is(&e, n));
        n++;
        rc = iter_next(it);
    }
    iter_destroy(it);
    if (rc != LSM_OK)
        return rc;
    assert_int_equal(n, N_KEYS);
    for (size_t i = 0; i < N_KEYS; i++) {
        char key[16];
        size_t nkey = key_of(key, i);
        bool found = false;
        entry e;
        void *owned = NULL;
        rc = sst_get(t, (const uint8_t *)key, nkey, UINT64_MAX, &found, &e,
                     &owned);
        if (rc != LSM_OK)
            return rc;
        assert_true(found && entry_is(&e, i));
        free(owned);
        key[nkey] = '.'; /* between key i and key i + 1: absent */
        rc = sst_get(t, (const uint8_t *)key, nkey + 1, UINT64_MAX, &found, &e,
                     &owned);
        if (rc != LSM_OK)
            return rc;
        assert_false(found);
    }
    return LSM_OK;
}

static sst *open_ok(const char *path, uint64_t id, block_cache *bc,
                    bool map_file)
{
    sst *t = NULL;
    int rc = sst_open(env_posix(), path, id, bc, NULL, map_file, &t);
    if (rc != LSM_OK)
        fail_msg("sst_open: %s", lsm_errmsg());
    return t;
}

/* Every block of the test's entries shrinks, with either codec; the
 * totals say so without reading a block; and everything reads back with
 * pread and through a mapping, without a cache and through one that is
 * then charged for decompressed blocks. */
static void round_trip(unsigned kind)
{
    char path[256];
    path_of(path, sizeof path, "1.sst");
    write_sst(path, kind, 1024);
    for (int map = 0; map < 2; map++) {
        for (int cached = 0; cached < 2; cached++) {
            block_cache *bc = cached ? block_cache_create(8 << 20) : NULL;
            sst *t = open_ok(path, 1, bc, map != 0);
            sst_compression c;
            sst_compression_totals(t, &c);
            assert_true(sst_num_blocks(t) > 10);
            assert_int_equal(c.blocks_of_kind[kind], sst_num_blocks(t));
            assert_true(c.raw_bytes > sst_compression_stored_bytes(t) * 2);
            assert_int_equal(read_all(t), LSM_OK);
            assert_int_equal(read_all(t), LSM_OK); /* from the cache */
            if (bc) {
                /* The cache holds decompressed blocks, charged in full,
                 * even with a mapping (nothing is decoded in place). */
                assert_true(block_cache_bytes_used(bc) >= c.raw_bytes);
            }
            sst_unref(t);
            block_cache_destroy(bc);
        }
    }
}

static void test_lz4_round_trip(void **state)
{
    (void)state;
    round_trip(BLOCK_KIND_LZ4);
}

static void test_zstd_round_trip(void **state)
{
    (void)state;
    round_trip(BLOCK_KIND_ZSTD);
}

/* Without compression the file is as before: every block raw, its raw
 * bytes its stored bytes, and a cache charged the same. */
static void test_none_stores_raw(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "2.sst");
    write_sst(path, BLOCK_KIND_RAW, 1024);
    sst *t = open_ok(path, 2, NULL, false);
    sst_compression c;
    sst_compression_totals(t, &c);
    assert_int_equal(c.blocks_of_kind[BLOCK_KIND_RAW], sst_num_blocks(t));
    assert_int_equal(c.raw_bytes, sst_compression_stored_bytes(t));
    assert_int_equal(read_all(t), LSM_OK);
    sst_unref(t);
}

static void assert_corrupt_message(int rc, const char *path)
{
    assert_int_equal(rc, LSM_ECORRUPT);
    if (!strstr(lsm_errmsg(), path) ||
        (!strstr(lsm_errmsg(), "offset") && !strstr(lsm_errmsg(), "meta")))
        fail_msg("vague corruption message: %s", lsm_errmsg());
}

/* Opens the file and reads all of it: true when open or a read reported
 * corruption (naming the file), false when everything read back right. */
static bool damage_noticed(const char *path, uint64_t id, block_cache *bc)
{
    sst *t = NULL;
    int rc = sst_open(env_posix(), path, id, bc, NULL, false, &t);
    if (rc == LSM_OK) {
        rc = read_all(t);
        sst_unref(t);
    }
    if (rc == LSM_OK)
        return false;
    assert_corrupt_message(rc, path);
    return true;
}

/* Every flipped byte of a compressed SST (blocks, filter, index, meta
 * section, footer) is noticed: LSM_ECORRUPT naming the file, never wrong
 * data, a crash or an over-read (ASan). */
static void corruption_sweep(unsigned kind)
{
    char path[256], bad[256];
    path_of(path, sizeof path, "3.sst");
    path_of(bad, sizeof bad, "4.sst");
    write_sst(path, kind, 4096);
    size_t n;
    uint8_t *orig = test_read_whole(path, &n);
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    block_cache *bc = block_cache_create(64 << 10);
    uint64_t id = 100;
    for (size_t off = 0; off < n; off++) {
        memcpy(copy, orig, n);
        copy[off] ^= off % 2 ? 0x01 : 0x40;
        test_write_whole(bad, copy, n);
        if (!damage_noticed(bad, id, off % 3 == 0 ? bc : NULL))
            fail_msg("flip at offset %zu of %zu went unnoticed", off, n);
        id++;
    }
    test_write_whole(bad, orig, n);
    assert_false(damage_noticed(bad, id, NULL));
    block_cache_destroy(bc);
    free(copy);
    free(orig);
}

static void test_lz4_corruption_sweep(void **state)
{
    (void)state;
    corruption_sweep(BLOCK_KIND_LZ4);
}

static void test_zstd_corruption_sweep(void **state)
{
    (void)state;
    corruption_sweep(BLOCK_KIND_ZSTD);
}

/* --- Lying index records -------------------------------------------------- */

/* Where block 0's index record keeps its raw size in a compressed SST
 * (offset and size, then kind, then raw size: FORMAT.md), and the index
 * section's bounds. */
typedef struct record_at {
    size_t index_off, index_size;
    size_t raw_at, raw_len; /* the raw size varint */
    uint64_t raw, stored, kind;
} record_at;

static record_at first_record(const uint8_t *buf, size_t n)
{
    record_at r;
    const uint8_t *footer = buf + n - SST_FOOTER_BYTES;
    r.index_off = (size_t)get_fixed64(footer + SST_FOOTER_INDEX_OFFSET);
    r.index_size = (size_t)get_fixed64(footer + SST_FOOTER_INDEX_SIZE);
    const uint8_t *p = buf + r.index_off, *end = p + r.index_size;
    uint64_t offset;
    p = get_varint64(p, end, &offset);
    p = get_varint64(p, end, &r.stored);
    p = get_varint64(p, end, &r.kind);
    assert_non_null(p);
    r.raw_at = (size_t)(p - buf);
    p = get_varint64(p, end, &r.raw);
    assert_non_null(p);
    r.raw_len = (size_t)(p - buf) - r.raw_at;
    return r;
}

/* Moves the compression record's raw_bytes total by delta (a varint of
 * the same length) and makes the meta section's checksum right again, so
 * the record agrees with an index that was made to lie. */
static void shift_record_total(uint8_t *copy, size_t n, int64_t delta)
{
    const uint8_t *footer = copy + n - SST_FOOTER_BYTES;
    size_t meta_n = get_fixed32(footer + SST_FOOTER_META_BYTES);
    size_t meta_at = n - SST_FOOTER_BYTES - meta_n;
    assert_int_equal(copy[meta_at], SST_META_COMPRESSION); /* the first tag */
    uint8_t *total_at = copy + meta_at + 2;                /* after length */
    uint64_t total = 0;
    const uint8_t *after = get_varint64(total_at, copy + n, &total);
    assert_non_null(after);
    uint8_t v[VARINT64_MAX_BYTES];
    size_t len = put_varint64(v, (uint64_t)((int64_t)total + delta));
    assert_int_equal(len, (size_t)(after - total_at));
    memcpy(total_at, v, len);
    size_t body = meta_n - SST_CHECKSUM_BYTES;
    put_fixed64(copy + meta_at + body, checksum64(copy + meta_at, body));
}

/* Writes a copy of the SST at path whose block 0 claims raw_size raw
 * bytes (a varint of the same length, so nothing moves), with the index
 * checksum made right again; with agree, the compression record's total
 * is moved to match (and its checksum made right), so only reading the
 * block can tell. */
static void write_lying_copy(const uint8_t *orig, size_t n, const char *bad,
                             uint64_t raw_size, bool agree)
{
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, orig, n);
    record_at r = first_record(copy, n);
    uint8_t v[VARINT64_MAX_BYTES];
    size_t len = put_varint64(v, raw_size);
    assert_int_equal(len, r.raw_len);
    memcpy(copy + r.raw_at, v, len);
    size_t body = r.index_size - SST_CHECKSUM_BYTES;
    put_fixed64(copy + r.index_off + body,
                checksum64(copy + r.index_off, body));
    if (agree)
        shift_record_total(copy, n, (int64_t)raw_size - (int64_t)r.raw);
    test_write_whole(bad, copy, n);
    free(copy);
}

/* A raw size that no stored size allows (past the 256:1 bound, or a
 * hostile 4 GiB) is refused at open: no allocation is ever sized by it.
 * One the bound allows but that is not the truth is refused by the
 * totals check at open (the record and the index disagree). */
static void test_lying_raw_size_is_refused(void **state)
{
    (void)state;
    char path[256], bad[256];
    path_of(path, sizeof path, "5.sst");
    path_of(bad, sizeof bad, "6.sst");
    write_sst(path, BLOCK_KIND_ZSTD, 4096);
    size_t n;
    uint8_t *orig = test_read_whole(path, &n);
    record_at r = first_record(orig, n);
    assert_int_equal(r.kind, BLOCK_KIND_ZSTD);
    /* Same varint length as the truth (the raw size is 2 bytes long). */
    assert_int_equal(r.raw_len, 2);
    uint64_t lies[] = {r.raw - 1, r.raw + 1, 128, 16383};
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        write_lying_copy(orig, n, bad, lies[i], false);
        sst *t = NULL;
        int rc = sst_open(env_posix(), bad, 7, NULL, NULL, false, &t);
        assert_corrupt_message(rc, bad);
    }
    /* A lie the record agrees with passes open; the read of block 0 then
     * fails, naming the file and the block's offset (0), because the
     * payload does not decompress to exactly the size claimed. Both
     * with pread and through a mapping, with and without a cache. */
    uint64_t agreed[] = {r.raw - 1, r.raw + 1};
    for (size_t i = 0; i < 2; i++) {
        write_lying_copy(orig, n, bad, agreed[i], true);
        for (int map = 0; map < 2; map++) {
            block_cache *bc = map ? block_cache_create(1 << 20) : NULL;
            sst *t = open_ok(bad, 8 + i, bc, map != 0);
            assert_corrupt_message(read_all(t), bad);
            assert_non_null(strstr(lsm_errmsg(), "offset 0:"));
            sst_unref(t);
            block_cache_destroy(bc);
        }
    }
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lz4_round_trip),
        cmocka_unit_test(test_zstd_round_trip),
        cmocka_unit_test(test_none_stores_raw),
        cmocka_unit_test(test_lz4_corruption_sweep),
        cmocka_unit_test(test_zstd_corruption_sweep),
        cmocka_unit_test(test_lying_raw_size_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
