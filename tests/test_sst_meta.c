/*
 * test_sst_meta.c: the meta section of format 3 SSTs (sst_meta_int.h,
 * FORMAT.md "Meta section"): records set on the builder come back from
 * sst_meta_record; a file without records has no section and is as large
 * as a format 2 file; format 2 files still read; and every damage to the
 * section or to the footer's account of it is LSM_ECORRUPT at open. The
 * frame's own rules (an unknown tag, tags out of order or twice, a record
 * running past the section), which a checksum made to match leaves to
 * them, are checked on the decoder directly: at open each feature also
 * checks its own record's bytes (test_prefix, test_sst_compression,
 * test_rangedel cover those), so a forged SST would fail there first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "iter/rangedel_int.h"
#include "table/block_codec_int.h"
#include "table/block_int.h"
#include "table/prefix_int.h"
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

/* Records set (one replaced, one empty) are framed in tag order, and
 * the decoder finds each where it lies; absent tags stay absent. */
static void test_records_round_trip(void **state)
{
    (void)state;
    sst_meta_records m = {0};
    assert_int_equal(sst_meta_records_set(&m, SST_META_RANGE_DELS, "old", 3),
                     LSM_OK);
    assert_int_equal(sst_meta_records_set(&m, SST_META_RANGE_DELS, "newer", 5),
                     LSM_OK);
    assert_int_equal(sst_meta_records_set(&m, SST_META_COMPRESSION, NULL, 0),
                     LSM_OK);
    assert_true(sst_meta_records_any(&m));
    byte_buf out = {0};
    assert_int_equal(sst_meta_records_encode(&m, &out), LSM_OK);
    /* 01 00 (the empty record), 03 05 "newer", the checksum. */
    static const uint8_t want[] = {1, 0, 3, 5, 'n', 'e', 'w', 'e', 'r'};
    assert_int_equal(out.n_bytes, sizeof want + SST_CHECKSUM_BYTES);
    assert_int_equal(sst_meta_records_encoded_bytes(&m), out.n_bytes);
    assert_memory_equal(out.data, want, sizeof want);
    assert_int_equal(get_fixed64(out.data + sizeof want),
                     checksum64(want, sizeof want));

    sst_meta_section sec;
    assert_int_equal(
        sst_meta_section_decode(out.data, out.n_bytes, "x.sst", 7, &sec),
        LSM_OK);
    assert_ptr_equal(sec.record[SST_META_COMPRESSION], out.data + 2);
    assert_int_equal(sec.n_record[SST_META_COMPRESSION], 0);
    assert_ptr_equal(sec.record[SST_META_RANGE_DELS], out.data + 4);
    assert_int_equal(sec.n_record[SST_META_RANGE_DELS], 5);
    assert_null(sec.record[SST_META_PREFIX]);
    assert_null(sec.record[0]);
    byte_buf_free(&out);
    sst_meta_records_free(&m);
    assert_false(sst_meta_records_any(&m));
}

/* Decoding records (n_rec bytes) sealed with a matching checksum fails
 * with LSM_ECORRUPT and a message naming the file, the section's offset
 * and want. */
static void assert_section_refused(const uint8_t *records, size_t n_rec,
                                   const char *want)
{
    uint8_t buf[64];
    assert_true(n_rec + SST_CHECKSUM_BYTES <= sizeof buf);
    memcpy(buf, records, n_rec);
    put_fixed64(buf + n_rec, checksum64(records, n_rec));
    sst_meta_section sec;
    int rc = sst_meta_section_decode(buf, n_rec + SST_CHECKSUM_BYTES,
                                     "forged.sst", 4242, &sec);
    assert_int_equal(rc, LSM_ECORRUPT);
    if (!strstr(lsm_errmsg(), "forged.sst") ||
        !strstr(lsm_errmsg(), "offset 4242") || !strstr(lsm_errmsg(), want))
        fail_msg("message lacks '%s': %s", want, lsm_errmsg());
}

/* The frame's rules, with checksums that match: only they can refuse. */
static void test_frame_rules(void **state)
{
    (void)state;
    static const uint8_t fine[] = {1, 1, 'c', 2, 1, 'p'};
    uint8_t buf[32];
    memcpy(buf, fine, sizeof fine);
    put_fixed64(buf + sizeof fine, checksum64(fine, sizeof fine));
    sst_meta_section sec;
    assert_int_equal(
        sst_meta_section_decode(buf, sizeof fine + 8, "f.sst", 0, &sec),
        LSM_OK);
    /* The checksum itself. */
    buf[0] ^= 1;
    assert_int_equal(
        sst_meta_section_decode(buf, sizeof fine + 8, "f.sst", 0, &sec),
        LSM_ECORRUPT);
    assert_int_equal(sst_meta_section_decode(buf, 7, "f.sst", 0, &sec),
                     LSM_ECORRUPT);
    /* No records at all is a valid (empty) section. */
    put_fixed64(buf, checksum64(buf, 0));
    assert_int_equal(sst_meta_section_decode(buf, 8, "f.sst", 0, &sec), LSM_OK);
    assert_null(sec.record[SST_META_COMPRESSION]);

    static const uint8_t unknown_tag[] = {1, 1, 'c', 4, 1, 'p'};
    assert_section_refused(unknown_tag, sizeof unknown_tag, "tag 4");
    static const uint8_t tag_zero[] = {0, 1, 'c', 2, 1, 'p'};
    assert_section_refused(tag_zero, sizeof tag_zero, "tag 0");
    static const uint8_t out_of_order[] = {2, 1, 'p', 1, 1, 'c'};
    assert_section_refused(out_of_order, sizeof out_of_order, "tag 1");
    static const uint8_t twice[] = {2, 1, 'p', 2, 1, 'c'};
    assert_section_refused(twice, sizeof twice, "tag 2");
    static const uint8_t past_end[] = {1, 1, 'c', 2, 2, 'p'};
    assert_section_refused(past_end, sizeof past_end, "runs past");
    static const uint8_t cut_varint[] = {1, 0x80};
    assert_section_refused(cut_varint, sizeof cut_varint, "runs past");
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

/* Writes an SST whose builder keeps all three real records: LZ4 blocks
 * (values that shrink), a prefix extractor (first two bytes) and a range
 * tombstone [k010, k020) at seq 5 (hiding k010..k019's older versions,
 * none here). Returns its bytes and where its meta section lies. */
static uint8_t *records_file(const char *path, size_t *n, size_t *meta_at,
                             size_t *meta_n)
{
    sst_builder_options opt = {.block_size = 512,
                               .bloom_bits_per_key = 10,
                               .prefix = {.kind = PREFIX_FIXED, .len = 2},
                               .compression = BLOCK_KIND_LZ4};
    sst_builder *b = NULL;
    assert_int_equal(sst_builder_open(env_posix(), path, &opt, &b), LSM_OK);
    for (unsigned i = 0; i < N_KEYS; i++) {
        char key[8], value[64];
        snprintf(key, sizeof key, "k%03u", i);
        memset(value, 'a' + (int)(i % 3), sizeof value);
        entry e = {.key = (const uint8_t *)key,
                   .nkey = strlen(key),
                   .value = (const uint8_t *)value,
                   .nvalue = sizeof value,
                   .seq = i + 1,
                   .type = ENTRY_VALUE};
        assert_int_equal(sst_builder_add(b, &e), LSM_OK);
    }
    range_tomb_list l = {0};
    assert_int_equal(range_tomb_list_add(&l, (const uint8_t *)"k010", 4,
                                         (const uint8_t *)"k020", 4, 5),
                     LSM_OK);
    assert_int_equal(sst_builder_set_ranges(b, &l), LSM_OK);
    range_tomb_list_free(&l);
    assert_int_equal(sst_builder_finish(b, NULL), LSM_OK);
    uint8_t *buf = test_read_whole(path, n);
    const uint8_t *footer = buf + *n - SST_FOOTER_BYTES;
    *meta_n = get_fixed32(footer + SST_FOOTER_META_BYTES);
    *meta_at = *n - SST_FOOTER_BYTES - *meta_n;
    /* The three records, in tag order: 01 <len> ... 02 ... 03 ... */
    assert_true(*meta_n > 3 * 2 + SST_CHECKSUM_BYTES);
    assert_int_equal(buf[*meta_at], SST_META_COMPRESSION);
    return buf;
}

/* The real records come back through sst_meta_record; a flip of any bit of
 * the meta section or the footer fails the open, as do footers whose
 * account of the section is wrong (their checksum made to match). */
static void test_damage_is_corruption(void **state)
{
    (void)state;
    char path[256], bad[256];
    path_of(path, sizeof path, "5.sst");
    path_of(bad, sizeof bad, "6.sst");
    size_t n, meta_at, meta_n;
    uint8_t *orig = records_file(path, &n, &meta_at, &meta_n);
    sst *t = open_sst(path);
    size_t n_comp = 0, n_prefix = 0, n_ranges = 0;
    const uint8_t *comp = sst_meta_record(t, SST_META_COMPRESSION, &n_comp);
    const uint8_t *prefix = sst_meta_record(t, SST_META_PREFIX, &n_prefix);
    const uint8_t *ranges = sst_meta_record(t, SST_META_RANGE_DELS, &n_ranges);
    assert_non_null(comp);
    assert_non_null(prefix);
    assert_non_null(ranges);
    /* They lie in the section as framed (each record under 128 bytes:
     * one byte of tag, one of length). */
    assert_true(n_comp < 128 && n_prefix < 128 && n_ranges < 128);
    assert_memory_equal(comp, orig + meta_at + 2, n_comp);
    assert_memory_equal(prefix, orig + meta_at + 2 + n_comp + 2, n_prefix);
    assert_memory_equal(ranges, orig + meta_at + 6 + n_comp + n_prefix,
                        n_ranges);
    assert_int_equal(meta_n, 6 + n_comp + n_prefix + n_ranges + 8);
    /* The range record reads back as the tombstone it holds: seq 5 over
     * k015, nothing over k025, and nothing for a reader at seq 4. */
    assert_int_equal(sst_range_covering(t, (const uint8_t *)"k015", 4, 100), 5);
    assert_int_equal(sst_range_covering(t, (const uint8_t *)"k025", 4, 100), 0);
    assert_int_equal(sst_range_covering(t, (const uint8_t *)"k015", 4, 4), 0);
    sst_layout l;
    sst_inspect_layout(t, &l);
    assert_int_equal(l.meta_offset, meta_at);
    assert_int_equal(l.meta_bytes, meta_n);
    sst_unref(t);

    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    for (size_t off = meta_at; off < n; off++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            memcpy(copy, orig, n);
            copy[off] ^= (uint8_t)(1u << bit);
            test_write_whole(bad, copy, n);
            t = NULL;
            int rc = sst_open(env_posix(), bad, 1, NULL, NULL, false, &t);
            if (rc != LSM_ECORRUPT)
                fail_msg("bit %u of byte %zu (meta at %zu) went unnoticed", bit,
                         off, meta_at);
            assert_null(t);
        }
    }

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
        test_write_whole(bad, copy, n);
        assert_open_corrupt(bad, "offset");
    }
    memcpy(copy, orig, n);
    uint8_t *footer = copy + n - SST_FOOTER_BYTES;
    put_fixed32(footer + SST_FOOTER_VERSION, 2);
    put_fixed64(footer + SST_FOOTER_CHECKSUM,
                checksum64(footer, SST_FOOTER_CHECKSUM));
    test_write_whole(bad, copy, n);
    assert_open_corrupt(bad, "in format 2");
    put_fixed32(footer + SST_FOOTER_VERSION, SST_FORMAT_VERSION + 1);
    put_fixed64(footer + SST_FOOTER_CHECKSUM,
                checksum64(footer, SST_FOOTER_CHECKSUM));
    test_write_whole(bad, copy, n);
    assert_open_corrupt(bad, "unknown format version");
    free(copy);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records_round_trip, setup,
                                        teardown),
        cmocka_unit_test(test_frame_rules),
        cmocka_unit_test_setup_teardown(test_no_records_and_format_2, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_builder_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_is_corruption, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
