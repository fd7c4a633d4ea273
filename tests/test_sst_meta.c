/*
 * test_sst_meta.c: the meta section of format 3 SSTs (sst_meta_int.h,
 * FORMAT.md "Meta section"): records set on the builder come back from
 * sst_meta_record; a file without records has no section and is as large
 * as a format 2 file; format 2 files still read; and every damage to the
 * section or to the footer's account of it is LSM_ECORRUPT at open, even
 * when the checksums are made to match (an unknown tag, tags out of
 * order, a record running past the section).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "table/block_int.h"
#include "table/sst_int.h"
#include "table/sst_meta_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "util/status_int.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[128];

static int setup(void **state)
{
    (void)state;
    test_tmp_template(tmpdir, sizeof tmpdir, "test_sst_meta");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

#define N_KEYS 50

/* Opens a builder for path writing format (0: the current one). */
static sst_builder *open_builder(const char *path, uint32_t format)
{
    sst_builder_options opt = {
        .block_size = 256, .bloom_bits_per_key = 10, .format_version = format};
    sst_builder *b = NULL;
    assert_int_equal(sst_builder_open(env_posix(), path, &opt, &b), LSM_OK);
    return b;
}

/* Adds keys k000 .. k049, values v<i>, seq i + 1. */
static void add_keys(sst_builder *b)
{
    for (unsigned i = 0; i < N_KEYS; i++) {
        char key[8], value[8];
        snprintf(key, sizeof key, "k%03u", i);
        snprintf(value, sizeof value, "v%u", i);
        entry e = {.key = (const uint8_t *)key,
                   .nkey = strlen(key),
                   .value = (const uint8_t *)value,
                   .nvalue = strlen(value),
                   .seq = i + 1,
                   .type = ENTRY_VALUE};
        assert_int_equal(sst_builder_add(b, &e), LSM_OK);
    }
}

static sst *open_sst(const char *path)
{
    sst *t = NULL;
    int rc = sst_open(env_posix(), path, 1, NULL, NULL, false, &t);
    if (rc != LSM_OK)
        fail_msg("sst_open %s: %s", path, lsm_errmsg());
    return t;
}

/* Every key reads back with its value. */
static void assert_keys_read_back(sst *t)
{
    for (unsigned i = 0; i < N_KEYS; i++) {
        char key[8], value[8];
        snprintf(key, sizeof key, "k%03u", i);
        snprintf(value, sizeof value, "v%u", i);
        bool found = false;
        entry e;
        void *owned = NULL;
        assert_int_equal(sst_get(t, (const uint8_t *)key, strlen(key),
                                 UINT64_MAX, &found, &e, &owned),
                         LSM_OK);
        assert_true(found);
        assert_int_equal(e.nvalue, strlen(value));
        assert_memory_equal(e.value, value, e.nvalue);
        free(owned);
    }
}

/* Valid SST_META_RANGE_DELS records: count, then lo, hi, seq. */
#define RANGE_OLD                                                              \
    "\x01\x01"                                                                 \
    "a\x01"                                                                    \
    "b\x01"
#define RANGE_NEWER                                                            \
    "\x01\x01"                                                                 \
    "a\x01"                                                                    \
    "c\x02"

static void assert_record(const sst *t, unsigned tag, const char *want)
{
    size_t n = 99;
    const uint8_t *got = sst_meta_record(t, tag, &n);
    if (!want) {
        assert_null(got);
        assert_int_equal(n, 0);
        return;
    }
    assert_non_null(got);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(got, want, n);
}

static uint64_t file_bytes(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return (uint64_t)n;
}

/* Records set (one replaced, one empty) come back as set, the others are
 * absent, and the section lies between the index and the footer. */
static void test_records_round_trip(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "1.sst");
    sst_builder *b = open_builder(path, 0);
    add_keys(b);
    /* Range tombstone records are checked at open (iter/rangedel_int.h):
     * one tombstone, [a, b) at seq 1, then [a, c) at seq 2. */
    assert_int_equal(sst_builder_set_meta(b, SST_META_RANGE_DELS, RANGE_OLD,
                                          strlen(RANGE_OLD)),
                     LSM_OK);
    assert_int_equal(sst_builder_set_meta(b, SST_META_RANGE_DELS, RANGE_NEWER,
                                          strlen(RANGE_NEWER)),
                     LSM_OK);
    assert_int_equal(sst_builder_set_meta(b, SST_META_COMPRESSION, NULL, 0),
                     LSM_OK);
    uint64_t estimate = sst_builder_estimated_size(b);
    sst_summary sum;
    assert_int_equal(sst_builder_finish(b, &sum), LSM_OK);
    /* The estimate leaves out only the last block's index record. */
    assert_true(estimate <= sum.file_size);
    assert_true(sum.file_size - estimate < 32);

    sst *t = open_sst(path);
    assert_record(t, SST_META_RANGE_DELS, RANGE_NEWER);
    assert_record(t, SST_META_COMPRESSION, "");
    assert_record(t, SST_META_PREFIX, NULL);
    assert_record(t, 0, NULL);
    assert_record(t, SST_META_TAG_END, NULL);
    sst_layout l;
    sst_inspect_layout(t, &l);
    assert_int_equal(l.format_version, SST_FORMAT_VERSION);
    assert_int_equal(l.meta_offset, l.index_offset + l.index_bytes);
    /* 01 00 (empty compression record), 03 06 RANGE_NEWER, the checksum. */
    assert_int_equal(l.meta_bytes,
                     2 + 2 + strlen(RANGE_NEWER) + SST_CHECKSUM_BYTES);
    assert_int_equal(l.meta_offset + l.meta_bytes + SST_FOOTER_BYTES,
                     file_bytes(path));
    assert_keys_read_back(t);
    sst_unref(t);
}

/* Without records a format 3 file has no meta section: it is byte for byte
 * the format 2 file but for the footer's version and checksum. Format 2
 * files still read. */
static void test_no_records_and_format_2(void **state)
{
    (void)state;
    char p3[256], p2[256];
    path_of(p3, sizeof p3, "3.sst");
    path_of(p2, sizeof p2, "2.sst");
    sst_builder *b = open_builder(p3, 0);
    add_keys(b);
    assert_int_equal(sst_builder_finish(b, NULL), LSM_OK);
    b = open_builder(p2, SST_FORMAT_VERSION_OLDEST);
    add_keys(b);
    assert_int_equal(sst_builder_set_meta(b, SST_META_PREFIX, "x", 1),
                     LSM_EINVAL);
    assert_int_equal(sst_builder_finish(b, NULL), LSM_OK);
    assert_int_equal(file_bytes(p2), file_bytes(p3));

    sst *t3 = open_sst(p3), *t2 = open_sst(p2);
    sst_layout l3, l2;
    sst_inspect_layout(t3, &l3);
    sst_inspect_layout(t2, &l2);
    assert_int_equal(l3.format_version, 3);
    assert_int_equal(l2.format_version, 2);
    assert_int_equal(l3.meta_bytes, 0);
    assert_int_equal(l2.meta_bytes, 0);
    for (unsigned tag = 0; tag <= SST_META_TAG_END; tag++) {
        assert_record(t3, tag, NULL);
        assert_record(t2, tag, NULL);
    }
    assert_keys_read_back(t3);
    assert_keys_read_back(t2);
    sst_unref(t3);
    sst_unref(t2);
}

/* What the builder refuses: a tag that is not one, a format it cannot
 * write. */
static void test_builder_refusals(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "4.sst");
    sst_builder *b = open_builder(path, 0);
    assert_int_equal(sst_builder_set_meta(b, 0, "x", 1), LSM_EINVAL);
    assert_int_equal(sst_builder_set_meta(b, SST_META_TAG_END, "x", 1),
                     LSM_EINVAL);
    assert_int_equal(sst_builder_set_meta(b, SST_META_PREFIX, NULL, 3),
                     LSM_EINVAL);
    /* A refused record is not a failure of the builder. */
    add_keys(b);
    assert_int_equal(sst_builder_finish(b, NULL), LSM_OK);
    sst *t = open_sst(path);
    assert_record(t, SST_META_PREFIX, NULL);
    sst_unref(t);

    sst_builder_options opt = {.block_size = 256, .format_version = 1};
    assert_int_equal(sst_builder_open(env_posix(), path, &opt, &b), LSM_EINVAL);
    assert_null(b);
    opt.format_version = SST_FORMAT_VERSION + 1;
    assert_int_equal(sst_builder_open(env_posix(), path, &opt, &b), LSM_EINVAL);
}

/* --- Damage ----------------------------------------------------------------
 */

static uint8_t *read_whole(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, *n, f), *n);
    fclose(f);
    return buf;
}

static void write_whole(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Opening path fails with LSM_ECORRUPT, with a message naming the file and
 * containing want. */
static void assert_open_corrupt(const char *path, const char *want)
{
    sst *t = (sst *)1;
    int rc = sst_open(env_posix(), path, 1, NULL, NULL, false, &t);
    if (rc != LSM_ECORRUPT)
        fail_msg("open of %s gave %d, not LSM_ECORRUPT (%s)", path, rc,
                 lsm_errmsg());
    assert_null(t);
    if (!strstr(lsm_errmsg(), path) || !strstr(lsm_errmsg(), want))
        fail_msg("message lacks '%s': %s", want, lsm_errmsg());
}

/* The prefix record two_record_file writes. The reader decodes tag 2
 * (table/prefix.c), so it must be a valid one: delimiter 'p', no
 * prefixes, an empty filter (k = 0, then the checksum of that byte). */
#define PREFIX_RECORD_BYTES 12
static void prefix_record_p(uint8_t out[PREFIX_RECORD_BYTES])
{
    out[0] = 2; /* PREFIX_DELIM */
    out[1] = 'p';
    out[2] = 0; /* n_prefixes */
    out[3] = 0; /* k */
    put_fixed64(out + 4, checksum64(out + 3, 1));
}

/* Writes an SST with a one-byte compression record and a prefix record
 * (prefix_record_p); returns its bytes and where its meta section lies. */
static uint8_t *two_record_file(const char *path, size_t *n, size_t *meta_at,
                                size_t *meta_n)
{
    sst_builder *b = open_builder(path, 0);
    add_keys(b);
    uint8_t prefix[PREFIX_RECORD_BYTES];
    prefix_record_p(prefix);
    assert_int_equal(
        sst_builder_set_meta(b, SST_META_PREFIX, prefix, sizeof prefix),
        LSM_OK);
    assert_int_equal(sst_builder_set_meta(b, SST_META_COMPRESSION, "c", 1),
                     LSM_OK);
    assert_int_equal(sst_builder_finish(b, NULL), LSM_OK);
    uint8_t *buf = read_whole(path, n);
    const uint8_t *footer = buf + *n - SST_FOOTER_BYTES;
    *meta_n = get_fixed32(footer + SST_FOOTER_META_BYTES);
    *meta_at = *n - SST_FOOTER_BYTES - *meta_n;
    /* As FORMAT.md spells it: 01 01 'c' 02 0c <the prefix record>, then
     * the checksum. */
    static const uint8_t want[] = {1, 1, 'c', 2, PREFIX_RECORD_BYTES};
    assert_int_equal(*meta_n, sizeof want + sizeof prefix + SST_CHECKSUM_BYTES);
    assert_memory_equal(buf + *meta_at, want, sizeof want);
    assert_memory_equal(buf + *meta_at + sizeof want, prefix, sizeof prefix);
    return buf;
}

/* Writes records (n_rec bytes) over the section's records, with a checksum
 * that matches them: only the frame's rules can catch what is wrong. */
static void forge_section(const char *path, const uint8_t *orig, size_t n,
                          size_t meta_at, const uint8_t *records, size_t n_rec)
{
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, orig, n);
    memcpy(copy + meta_at, records, n_rec);
    put_fixed64(copy + meta_at + n_rec, checksum64(records, n_rec));
    write_whole(path, copy, n);
    free(copy);
}

/* A flip of any bit pattern at any byte of the meta section or the footer
 * fails the open; so do forged sections with matching checksums. */
static void test_damage_is_corruption(void **state)
{
    (void)state;
    char path[256], bad[256];
    path_of(path, sizeof path, "5.sst");
    path_of(bad, sizeof bad, "6.sst");
    size_t n, meta_at, meta_n;
    uint8_t *orig = two_record_file(path, &n, &meta_at, &meta_n);
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    for (size_t off = meta_at; off < n; off++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            memcpy(copy, orig, n);
            copy[off] ^= (uint8_t)(1u << bit);
            write_whole(bad, copy, n);
            sst *t = NULL;
            int rc = sst_open(env_posix(), bad, 1, NULL, NULL, false, &t);
            if (rc != LSM_ECORRUPT)
                fail_msg("bit %u of byte %zu (meta at %zu) went unnoticed", bit,
                         off, meta_at);
        }
    }

    /* Forged records fill the section exactly (5 bytes of framing and
     * 'c', and 12 bytes standing for the prefix record, P12). */
#define P12 'p', 'p', 'p', 'p', 'p', 'p', 'p', 'p', 'p', 'p', 'p', 'p'
    static const uint8_t unknown_tag[] = {1, 1, 'c', 4, 12, P12};
    forge_section(bad, orig, n, meta_at, unknown_tag, sizeof unknown_tag);
    assert_open_corrupt(bad, "tag 4");
    static const uint8_t tag_zero[] = {0, 1, 'c', 2, 12, P12};
    forge_section(bad, orig, n, meta_at, tag_zero, sizeof tag_zero);
    assert_open_corrupt(bad, "tag 0");
    static const uint8_t out_of_order[] = {2, 12, P12, 1, 1, 'c'};
    forge_section(bad, orig, n, meta_at, out_of_order, sizeof out_of_order);
    assert_open_corrupt(bad, "tag 1");
    static const uint8_t twice[] = {2, 12, P12, 2, 1, 'c'};
    forge_section(bad, orig, n, meta_at, twice, sizeof twice);
    assert_open_corrupt(bad, "tag 2");
    static const uint8_t past_end[] = {1, 1, 'c', 2, 13, P12};
    forge_section(bad, orig, n, meta_at, past_end, sizeof past_end);
    assert_open_corrupt(bad, "runs past");
    /* Framed right, but not a prefix record (table/prefix.c reads it). */
    static const uint8_t bad_prefix[] = {1, 1, 'c', 2, 12, P12};
    forge_section(bad, orig, n, meta_at, bad_prefix, sizeof bad_prefix);
    assert_open_corrupt(bad, "prefix record: unknown extractor kind 112");
#undef P12

    /* The footer's account of the section, with the footer's checksum
     * made right: too large, too small, and in a format 2 footer. */
    uint32_t sizes[] = {(uint32_t)meta_n + 1, (uint32_t)meta_n - 1, 7,
                        UINT32_MAX};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        memcpy(copy, orig, n);
        uint8_t *footer = copy + n - SST_FOOTER_BYTES;
        put_fixed32(footer + SST_FOOTER_META_BYTES, sizes[i]);
        put_fixed64(footer + SST_FOOTER_CHECKSUM,
                    checksum64(footer, SST_FOOTER_CHECKSUM));
        write_whole(bad, copy, n);
        assert_open_corrupt(bad, "offset");
    }
    memcpy(copy, orig, n);
    uint8_t *footer = copy + n - SST_FOOTER_BYTES;
    put_fixed32(footer + SST_FOOTER_VERSION, 2);
    put_fixed64(footer + SST_FOOTER_CHECKSUM,
                checksum64(footer, SST_FOOTER_CHECKSUM));
    write_whole(bad, copy, n);
    assert_open_corrupt(bad, "in format 2");
    put_fixed32(footer + SST_FOOTER_VERSION, SST_FORMAT_VERSION + 1);
    put_fixed64(footer + SST_FOOTER_CHECKSUM,
                checksum64(footer, SST_FOOTER_CHECKSUM));
    write_whole(bad, copy, n);
    assert_open_corrupt(bad, "unknown format version");

    /* The undamaged file reads. */
    sst *t = open_sst(path);
    uint8_t prefix[PREFIX_RECORD_BYTES];
    prefix_record_p(prefix);
    size_t n_prefix = 0;
    const uint8_t *got = sst_meta_record(t, SST_META_PREFIX, &n_prefix);
    assert_int_equal(n_prefix, sizeof prefix);
    assert_memory_equal(got, prefix, sizeof prefix);
    assert_record(t, SST_META_COMPRESSION, "c");
    assert_keys_read_back(t);
    sst_unref(t);
    free(copy);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records_round_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_records_and_format_2, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_builder_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_is_corruption, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
