/*
 * test_cli_history.c: unit tests of the text of history and levels
 * (cli/show_history.c) on hand-made versions, manifest records and states:
 * the provenance replay (L0 and levels, tiers, an SST no record made), the
 * byte units, and the levels table's cells and reason lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "format.h"
#include "show_history.h"

#include "lsm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void assert_buf(const cli_buf *b, const char *want)
{
    assert_false(cli_buf_failed(b));
    if (strcmp(cli_buf_str(b), want) != 0)
        fail_msg("got:\n%s\nwanted:\n%s", cli_buf_str(b), want);
}

static lsm_manifest_record flush_rec(uint64_t id)
{
    lsm_manifest_record r;
    memset(&r, 0, sizeof r);
    r.kind = LSM_MANIFEST_FLUSH;
    r.id = id;
    return r;
}

static lsm_manifest_record compaction_rec(int level, uint64_t *removed,
                                          size_t n_removed, uint64_t *added,
                                          size_t n_added)
{
    lsm_manifest_record r;
    memset(&r, 0, sizeof r);
    r.kind = LSM_MANIFEST_COMPACTION;
    r.level = level;
    r.removed = removed;
    r.n_removed = n_removed;
    r.added = added;
    r.n_added = n_added;
    return r;
}

static lsm_key_version sst_version(uint64_t id, int level)
{
    lsm_key_version v;
    memset(&v, 0, sizeof v);
    v.source = LSM_SOURCE_SST;
    v.id = id;
    v.level = level;
    v.tombstone = 1;
    return v;
}

/* Inputs are named by where each was just before its compaction. */
static void test_provenance_levels(void **state)
{
    uint64_t r1[] = {1, 0}, a1[] = {4, 5}, r2[] = {3, 2, 5}, a2[] = {7};
    lsm_manifest_record recs[] = {
        flush_rec(0), flush_rec(1), compaction_rec(1, r1, 2, a1, 2),
        flush_rec(2), flush_rec(3), compaction_rec(1, r2, 3, a2, 1)};
    lsm_key_version v[] = {sst_version(3, 0), sst_version(7, 1),
                           sst_version(7, 1), sst_version(4, 1),
                           sst_version(99, 2)};
    cli_buf b;

    (void)state;
    cli_buf_init(&b);
    assert_int_equal(cli_show_provenance(&b, v, 5, recs, 6, 0), 0);
    assert_buf(&b, "  3.sst: flushed from memtable 3\n"
                   "  7.sst: compacted from L0 [3, 2] + L1 [5]\n"
                   "  4.sst: compacted from L0 [1, 0]\n"
                   "  99.sst: not in the manifest\n");
    cli_buf_free(&b);
}

/* Tiered: flushes make tiers named by their SST, a compaction (level 0)
 * makes one named by its first output. */
static void test_provenance_tiers(void **state)
{
    uint64_t r1[] = {1, 0}, a1[] = {4, 5}, r2[] = {2, 4, 5}, a2[] = {8, 9};
    lsm_manifest_record recs[] = {flush_rec(0), flush_rec(1),
                                  compaction_rec(0, r1, 2, a1, 2), flush_rec(2),
                                  compaction_rec(0, r2, 3, a2, 2)};
    lsm_key_version v[] = {sst_version(9, -1), sst_version(5, -1)};
    cli_buf b;

    (void)state;
    cli_buf_init(&b);
    assert_int_equal(cli_show_provenance(&b, v, 2, recs, 5, 1), 0);
    assert_buf(&b, "  9.sst: compacted from tier 2 [2] + tier 4 [4, 5]\n"
                   "  5.sst: compacted from tier 1 [1] + tier 0 [0]\n");
    cli_buf_free(&b);
}

static void test_fmt_bytes(void **state)
{
    char out[CLI_BYTES_CHARS];

    (void)state;
    cli_fmt_bytes(0, out);
    assert_string_equal(out, "0 B");
    cli_fmt_bytes(1023, out);
    assert_string_equal(out, "1023 B");
    cli_fmt_bytes(1024, out);
    assert_string_equal(out, "1.0 KiB");
    cli_fmt_bytes(1536, out);
    assert_string_equal(out, "1.5 KiB");
    cli_fmt_bytes(3u << 20, out);
    assert_string_equal(out, "3.0 MiB");
    cli_fmt_bytes(UINT64_MAX, out);
    assert_string_equal(out, "16777216.0 TiB");
}

/* Files and bytes come from the level's SSTs; target and score only for
 * leveled (and "-" for a zero target); w-amp "-" with nothing read; a
 * two-line reason continues indented. */
static void test_levels_table(void **state)
{
    lsm_sst_info l0[1], l1[2];
    lsm_level_info levels[2];
    lsm_state st;
    cli_buf b;

    (void)state;
    memset(&st, 0, sizeof st);
    memset(l0, 0, sizeof l0);
    memset(l1, 0, sizeof l1);
    memset(levels, 0, sizeof levels);
    l0[0].file_size = 100;
    l1[0].file_size = 1000;
    l1[1].file_size = 1048;
    st.compaction = LSM_COMPACTION_LEVELED;
    st.counters.user_bytes_written = 50;
    st.n_l0 = 1;
    st.l0 = l0;
    st.l0_stats.score = 0.5;
    st.l0_stats.compactions = 3;
    st.l0_stats.bytes_written = 100;
    st.l0_stats.write_amplification = 2;
    st.l0_stats.last_reason = "";
    st.n_levels = 2;
    st.levels = levels;
    levels[0].level = 1;
    levels[0].stats.score = INFINITY;
    levels[0].stats.last_reason = "";
    levels[1].level = 2;
    levels[1].n_ssts = 2;
    levels[1].ssts = l1;
    levels[1].stats.target_bytes = 4096;
    levels[1].stats.score = 0.5;
    levels[1].stats.compactions = 1;
    levels[1].stats.bytes_read_upper = 2048;
    levels[1].stats.bytes_read_lower = 10;
    levels[1].stats.bytes_written = 3072;
    levels[1].stats.write_amplification = 1.5;
    levels[1].stats.last_reason = "first line\nsecond line";
    cli_buf_init(&b);
    assert_int_equal(cli_show_levels(&b, &st), 0);
    assert_buf(&b, "level  files    bytes   target  score  comp  read up  "
                   "read low  written  w-amp\n"
                   "L0         1    100 B        -   0.50     3      0 B       "
                   "0 B    100 B   2.00\n"
                   "L1         0      0 B        -    inf     0      0 B       "
                   "0 B      0 B      -\n"
                   "L2         2  2.0 KiB  4.0 KiB   0.50     1  2.0 KiB      "
                   "10 B  3.0 KiB   1.50\n"
                   "L2 last compaction: first line\n"
                   "    second line\n");
    /* other strategies: no targets, no scores */
    st.compaction = LSM_COMPACTION_SIMPLE;
    cli_buf_reset(&b);
    assert_int_equal(cli_show_levels(&b, &st), 0);
    assert_non_null(strstr(cli_buf_str(&b), "\nL2         2  2.0 KiB       -  "
                                            "    -     1"));
    cli_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_provenance_levels),
        cmocka_unit_test(test_provenance_tiers),
        cmocka_unit_test(test_fmt_bytes),
        cmocka_unit_test(test_levels_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
