/*
 * test_cli_txn.c: unit tests of the week 3 text of lsm-cli (cli/show_txn.c
 * and history's version fates in cli/show_history.c): the read points in
 * dump, what compaction may do with each shadowed version as the read
 * points and the watermark vary, and the three conflict wordings, all
 * rendered from hand-made states without a database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "format.h"
#include "show_history.h"
#include "show_txn.h"

#include "lsm.h"

#include <string.h>

/* Compares what b holds with want, showing both on a mismatch. */
static void assert_buf(const cli_buf *b, const char *want)
{
    assert_false(cli_buf_failed(b));
    if (strcmp(cli_buf_str(b), want) != 0)
        fail_msg("got:\n%s\nwanted:\n%s", cli_buf_str(b), want);
}

static const lsm_read_point two_points[] = {
    {.id = 1, .seq = 12, .is_txn = 0},
    {.id = 2, .seq = 20, .is_txn = 1, .isolation = LSM_ISOLATION_SERIALIZABLE},
};

static void test_dump_read_points(void **state)
{
    static const cli_read_point_name names[] = {{2, "t1"}, {1, "s1"}};
    lsm_state st;
    cli_buf b;

    (void)state;
    memset(&st, 0, sizeof st);
    st.visible_seq = 30;
    cli_buf_init(&b);
    /* Nothing live: dump prints as before issue 14. */
    cli_show_read_points(&b, &st, names, 2);
    assert_buf(&b, "");
    st.read_points = (lsm_read_point *)two_points;
    st.n_read_points = 2;
    st.has_watermark = 1;
    st.watermark = 12;
    cli_show_read_points(&b, &st, names, 2);
    assert_buf(&b, "Read points: 2 (watermark seq 12; newest seq 30)\n"
                   "  s1: snapshot at seq 12\n"
                   "  t1: transaction (serializable) at seq 20\n");
    /* Read points the shell did not name show their ids. */
    cli_buf_reset(&b);
    cli_show_read_points(&b, &st, NULL, 0);
    assert_buf(&b, "Read points: 2 (watermark seq 12; newest seq 30)\n"
                   "  snapshot 1: snapshot at seq 12\n"
                   "  transaction 2: transaction (serializable) at seq 20\n");
    cli_buf_free(&b);
}

/* fate(seq, newer) under rv, as history prints it. */
static void assert_fate_of(const cli_read_view *rv, uint64_t seq,
                           uint64_t newer, int tombstone, const char *want)
{
    cli_buf b;

    cli_buf_init(&b);
    cli_show_version_fate(&b, rv, seq, newer, tombstone);
    assert_buf(&b, want);
    cli_buf_free(&b);
}

static void assert_fate(const cli_read_view *rv, uint64_t seq, uint64_t newer,
                        const char *want)
{
    assert_fate_of(rv, seq, newer, 0, want);
}

static void test_version_fates(void **state)
{
    static const cli_read_point_name names[] = {{1, "s1"}, {2, "t1"}};
    cli_read_view rv = {two_points, 2, 1, 12, names, 2};
    static const cli_read_view none = {NULL, 0, 0, 0, NULL, 0};

    (void)state;
    /* s1 (seq 12) reads the newest version at or below 12. */
    assert_fate(&rv, 10, 15, "kept: s1 reads it");
    assert_fate(&rv, 12, 15, "kept: s1 reads it");
    /* t1 (20) reads 15 when the next is 25; s1 does not. */
    assert_fate(&rv, 15, 25, "kept: t1 reads it");
    /* Both read one version from below 12 to above 20. */
    assert_fate(&rv, 5, 30, "kept: s1, t1 read it");
    /* Above the watermark, between read points: nobody reads it, yet
     * compaction keeps it (the rule is the watermark's, not per point). */
    assert_fate(&rv, 14, 16, "kept: above the watermark");
    /* At or below the watermark and shadowed at or below it too. */
    assert_fate(&rv, 9, 10, "may be dropped");
    assert_fate(&rv, 9, 12, "may be dropped");
    /* A newer version exactly at the read point shadows it for s1. */
    assert_fate(&rv, 12, 13, "kept: s1 reads it");
    /* No read point: every shadowed version may go. */
    assert_fate(&none, 9, 10, "may be dropped");
    assert_fate(&none, 900, 1000, "may be dropped");
    /* A tombstone s1 reads at or below the watermark goes at the bottom
     * (with everything older); one above it stays while t1 reads it. */
    assert_fate_of(&rv, 11, 15, 1,
                   "kept: s1 reads it until a compaction into the bottom "
                   "level");
    assert_fate_of(&rv, 15, 25, 1, "kept: t1 reads it");
    assert_fate_of(&none, 9, 10, 1, "may be dropped");
}

static void test_history_with_fates(void **state)
{
    static const cli_read_point_name names[] = {{1, "s1"}, {2, "t1"}};
    cli_read_view rv = {two_points, 2, 1, 12, names, 2};
    lsm_key_version v[4];
    cli_buf b;

    (void)state;
    memset(v, 0, sizeof v);
    v[0] = (lsm_key_version){
        LSM_SOURCE_MEMTABLE, 3, 0, 0, 33, 0, "d", 1, 0, NULL, 0, NULL, 0};
    v[1] = (lsm_key_version){LSM_SOURCE_SST, 2, 0,    0, 18, 1, NULL, 0, 0,
                             NULL,           0, NULL, 0};
    v[2] = (lsm_key_version){LSM_SOURCE_SST, 5, 1,    0, 11, 0, "b", 1, 0,
                             NULL,           0, NULL, 0};
    v[3] = (lsm_key_version){LSM_SOURCE_SST, 5, 1,    0, 7, 0, "a", 1, 0,
                             NULL,           0, NULL, 0};
    cli_buf_init(&b);
    cli_show_history(&b, "k", 1, v, 4, &rv);
    assert_buf(&b,
               "history of k: 4 versions, newest first (watermark seq 12)\n"
               "  seq 33  memtable 3  value b\"d\"  <- get returns this\n"
               "  seq 18  L0 2.sst    tombstone (shadowed; kept: t1 reads "
               "it)\n"
               "  seq 11  L1 5.sst    value b\"b\" (shadowed; kept: s1 reads "
               "it)\n"
               "  seq 7   L1 5.sst    value b\"a\" (shadowed; may be "
               "dropped)\n");
    /* Without read points: no watermark in the header, all may go. */
    cli_buf_reset(&b);
    cli_show_history(&b, "k", 1, v, 2, NULL);
    assert_buf(&b, "history of k: 2 versions, newest first\n"
                   "  seq 33  memtable 3  value b\"d\"  <- get returns this\n"
                   "  seq 18  L0 2.sst    tombstone (shadowed; may be "
                   "dropped)\n");
    cli_buf_free(&b);
}

static void assert_conflict(lsm_conflict_kind kind, const char *key,
                            const char *want)
{
    lsm_commit_info info;
    cli_buf b;

    memset(&info, 0, sizeof info);
    info.conflict = kind;
    info.key = (void *)key;
    info.nkey = strlen(key);
    info.conflict_seq = 41;
    cli_buf_init(&b);
    cli_show_conflict(&b, &info);
    assert_buf(&b, want);
    cli_buf_free(&b);
}

static void test_conflicts(void **state)
{
    (void)state;
    assert_conflict(LSM_CONFLICT_WRITE, "x",
                    "wrote x, also written by a transaction committed at seq "
                    "41 (first committer wins)");
    assert_conflict(LSM_CONFLICT_READ, "y",
                    "read y written by a transaction committed at seq 41");
    assert_conflict(LSM_CONFLICT_RANGE, "k5",
                    "scanned a range where k5 was written by a transaction "
                    "committed at seq 41 (a phantom)");
    /* A key that is not plain prints as b"...", as replies print it. */
    assert_conflict(LSM_CONFLICT_READ, "a b",
                    "read b\"a b\" written by a transaction committed at "
                    "seq 41");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_read_points),
        cmocka_unit_test(test_version_fates),
        cmocka_unit_test(test_history_with_fates),
        cmocka_unit_test(test_conflicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
