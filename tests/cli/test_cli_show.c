/*
 * test_cli_show.c: unit tests of the text lsm-cli prints for the engine's
 * reports (cli/show.c): event lines, dump, stats and manifest records,
 * rendered from hand-made events and states, so every line is checked
 * without a database and every field is checked to land on its own line.
 *
 * Random events (fixed seed) check the shape of the compaction lines for
 * any id lists, levels and reasons, and that nothing reads out of bounds
 * (run under ASan to see that).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "format.h"
#include "show.h"

#include "lsm.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Compares what b holds with want, showing both on a mismatch. */
static void assert_buf(const cli_buf *b, const char *want)
{
    assert_false(cli_buf_failed(b));
    if (strcmp(cli_buf_str(b), want) != 0)
        fail_msg("got:\n%s\nwanted:\n%s", cli_buf_str(b), want);
}

/* Renders one event into a fresh buffer and compares it with want. */
static void assert_event(const lsm_event *ev, int wal_enabled, const char *want)
{
    cli_buf b;

    cli_buf_init(&b);
    cli_show_event(&b, ev, wal_enabled);
    assert_buf(&b, want);
    cli_buf_free(&b);
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == c;
    return n;
}

static void test_ids(void **state)
{
    static const uint64_t ids[] = {7, 0, UINT64_MAX};
    cli_buf b;

    (void)state;
    cli_buf_init(&b);
    cli_show_ids(&b, NULL, 0);
    assert_buf(&b, "[]");
    cli_buf_reset(&b);
    cli_show_ids(&b, ids, 1);
    assert_buf(&b, "[7]");
    cli_buf_reset(&b);
    cli_show_ids(&b, ids, 3);
    assert_buf(&b, "[7, 0, 18446744073709551615]");
    cli_buf_free(&b);
}

static void test_compaction_begin_into_a_level(void **state)
{
    static const uint64_t in[] = {3, 1, 0};
    static const lsm_input_run runs[] = {{0, 0, 2}, {1, 0, 1}};
    lsm_event ev;

    (void)state;
    memset(&ev, 0, sizeof ev);
    ev.type = LSM_EVENT_COMPACTION_BEGIN;
    ev.inputs = in;
    ev.n_inputs = 3;
    ev.level = 4;
    ev.reason = "flush L0 SST to base level 4";
    assert_event(&ev, 1,
                 "flush L0 SST to base level 4\n"
                 "compacting [3, 1, 0] into L4\n");
    ev.level = 1;
    ev.reason = "compaction triggered at level 0 because L0 has 2 SSTs >= 2";
    ev.input_runs = runs;
    ev.n_input_runs = 2;
    assert_event(&ev, 0,
                 "compaction triggered at level 0 because L0 has 2 SSTs >= 2\n"
                 "compacting L0 [3, 1] + L1 [0] into L1\n");
}

static void test_compaction_begin_into_a_new_tier(void **state)
{
    static const uint64_t in[] = {9, 5, 4};
    static const lsm_input_run runs[] = {{-1, 9, 1}, {-1, 4, 2}};
    lsm_event ev;

    (void)state;
    memset(&ev, 0, sizeof ev);
    ev.type = LSM_EVENT_COMPACTION_BEGIN;
    ev.inputs = in;
    ev.n_inputs = 3;
    ev.input_runs = runs;
    ev.n_input_runs = 2;
    ev.level = 0;
    ev.reason = "compaction triggered by space amplification ratio: 300";
    assert_event(&ev, 1,
                 "compaction triggered by space amplification ratio: 300\n"
                 "compacting tier 9 [9] + tier 4 [5, 4] into a new tier\n");
    /* Runs that claim more SSTs than there are inputs show what is there. */
    static const lsm_input_run too_many[] = {{-1, 9, 5}};
    ev.input_runs = too_many;
    ev.n_input_runs = 1;
    assert_event(&ev, 1,
                 "compaction triggered by space amplification ratio: 300\n"
                 "compacting tier 9 [9, 5, 4] into a new tier\n");
}

static void test_compaction_begin_without_a_reason(void **state)
{
    static const uint64_t in[] = {2};
    lsm_event ev;

    (void)state;
    memset(&ev, 0, sizeof ev);
    ev.type = LSM_EVENT_COMPACTION_BEGIN;
    ev.inputs = in;
    ev.n_inputs = 1;
    ev.level = 2;
    ev.reason = NULL;
    assert_event(&ev, 1,
                 "compaction triggered\n"
                 "compacting [2] into L2\n");
    ev.reason = "";
    assert_event(&ev, 1,
                 "compaction triggered\n"
                 "compacting [2] into L2\n");
}

static void test_compaction_end(void **state)
{
    static const uint64_t in[] = {4, 3, 2}, out[] = {7, 8};
    lsm_event ev;

    (void)state;
    memset(&ev, 0, sizeof ev);
    ev.type = LSM_EVENT_COMPACTION_END;
    ev.inputs = in;
    ev.n_inputs = 3;
    ev.outputs = out;
    ev.n_outputs = 2;
    ev.level = 3;
    ev.reason = "ignored at the end";
    assert_event(&ev, 1,
                 "compaction finished: 3 files removed, 2 files added, "
                 "output=[7, 8]\n");
    /* Every key deleted: nothing comes out. */
    ev.n_outputs = 0;
    ev.outputs = NULL;
    assert_event(&ev, 1,
                 "compaction finished: 3 files removed, 0 files added, "
                 "output=[]\n");
}

static void test_flush_and_recovery_events(void **state)
{
    lsm_event ev;

    (void)state;
    memset(&ev, 0, sizeof ev);
    ev.type = LSM_EVENT_MEMTABLE_FROZEN;
    ev.memtable_id = 4;
    ev.num_entries = 100;
    ev.size_bytes = 1084;
    ev.new_memtable_id = 5;
    assert_event(&ev, 1,
                 "froze memtable 4 (100 keys, 1084 B); new memtable 5\n");

    memset(&ev, 0, sizeof ev);
    ev.type = LSM_EVENT_FLUSH_BEGIN;
    ev.memtable_id = 4;
    assert_event(&ev, 1, "");
    ev.type = LSM_EVENT_FLUSH_END;
    ev.sst_id = 4;
    ev.size_bytes = 1816;
    assert_event(&ev, 1, "flushed 4.sst with size=1816\n");

    memset(&ev, 0, sizeof ev);
    ev.type = LSM_EVENT_RECOVERED;
    ev.n_ssts_opened = 1;
    ev.n_wals_recovered = 2;
    assert_event(&ev, 1, "1 SSTs opened\n2 WALs recovered\n");
    assert_event(&ev, 0, "1 SSTs opened\n");

    uint64_t deleted[] = {3, 4};
    memset(&ev, 0, sizeof ev);
    ev.type = LSM_EVENT_SST_DELETED;
    ev.n_deleted = 2;
    ev.deleted = deleted;
    ev.reason = "last reader closed";
    assert_event(&ev, 1, "deleted 3.sst, 4.sst (last reader closed)\n");
    ev.n_deleted = 1;
    ev.reason = "compacted away";
    assert_event(&ev, 1, "deleted 3.sst (compacted away)\n");
}

/* Warnings and background errors go to stderr through the session; the
 * stdout text has nothing for them, nor for a type it does not know. */
static void test_events_without_stdout_lines(void **state)
{
    lsm_event ev;

    (void)state;
    memset(&ev, 0, sizeof ev);
    ev.type = LSM_EVENT_WARNING;
    ev.message = "torn tail cut off";
    assert_event(&ev, 1, "");
    ev.type = LSM_EVENT_BACKGROUND_ERROR;
    ev.rc = LSM_EIO;
    assert_event(&ev, 1, "");
    ev.type = (lsm_event_type)99;
    assert_event(&ev, 1, "");
}

/* An SST with the given id and keys first..last (C strings). */
static lsm_sst_info sst_make(uint64_t id, const char *first, const char *last)
{
    lsm_sst_info t;

    memset(&t, 0, sizeof t);
    t.sst_id = id;
    t.file_size = 1000 + id;
    t.num_entries = 10 * id;
    t.num_blocks = id + 1;
    t.max_seq = 100 + id;
    t.first_key = (void *)first;
    t.nfirst_key = strlen(first);
    t.last_key = (void *)last;
    t.nlast_key = strlen(last);
    return t;
}

static void test_dump_levels(void **state)
{
    lsm_sst_info l0[2], l2[2];
    lsm_memtable_info imm[2];
    lsm_level_info levels[3];
    uint64_t it_mems[] = {9};
    lsm_pinned_sst it_ssts[] = {
        {.sst_id = 6, .level = 0, .in_tree = 1},
        {.sst_id = 1, .level = 2, .in_tree = 1},
        {.sst_id = 2, .level = 2, .in_tree = 1},
    };
    lsm_iter_info it = {.iter_id = 3,
                        .num_active = 2,
                        .n_memtables = 1,
                        .memtable_ids = it_mems,
                        .n_ssts = 3,
                        .ssts = it_ssts};
    lsm_state st;
    cli_buf b;

    (void)state;
    memset(&st, 0, sizeof st);
    memset(imm, 0, sizeof imm); /* fields not named below are 0 */
    st.memtable.memtable_id = 9;
    st.memtable.num_keys = 12;
    st.memtable.size_bytes = 216;
    imm[0].memtable_id = 8;
    imm[0].num_keys = 5;
    imm[0].size_bytes = 50;
    imm[1].memtable_id = 7;
    imm[1].num_keys = 6;
    imm[1].size_bytes = 60;
    st.immutables = imm;
    st.n_immutables = 2;
    l0[0] = sst_make(6, "a", "z");
    l0[1] = sst_make(5, "b", "y");
    st.l0 = l0;
    st.n_l0 = 2;
    l2[0] = sst_make(1, "a", "m");
    l2[1] = sst_make(2, "n", "z");
    levels[0].level = 1;
    levels[0].n_ssts = 0;
    levels[0].ssts = NULL;
    levels[1].level = 2;
    levels[1].n_ssts = 2;
    levels[1].ssts = l2;
    levels[2].level = 3;
    levels[2].n_ssts = 0;
    levels[2].ssts = NULL;
    st.levels = levels;
    st.n_levels = 3;
    st.iters = &it;
    st.n_iters = 1;

    cli_buf_init(&b);
    cli_show_dump(&b, &st, 0, NULL, 0);
    assert_buf(&b,
               "Memtable (id 9): 12 keys, 216 B\n"
               "Immutable memtables (2): [8, 7]\n"
               "L0 (2): [6, 5]\n"
               "L1 (0): []\n"
               "L2 (2): [1, 2]\n"
               "L3 (0): []\n"
               "Open iterators: 1\n"
               "iterator 3: 2 active; pins memtable 9, L0 [6], L2 [1, 2]\n");
    cli_buf_reset(&b);
    cli_show_dump(&b, &st, 1, NULL, 0);
    assert_buf(&b,
               "Memtable (id 9): 12 keys, 216 B\n"
               "Immutable memtables (2): [8, 7]\n"
               "  memtable 8: 5 keys, 50 B\n"
               "  memtable 7: 6 keys, 60 B\n"
               "L0 (2): [6, 5]\n"
               "  6.sst: 1006 B, 60 entries, 7 blocks, keys b\"a\"..b\"z\", "
               "newest seq 106\n"
               "  5.sst: 1005 B, 50 entries, 6 blocks, keys b\"b\"..b\"y\", "
               "newest seq 105\n"
               "L1 (0): []\n"
               "L2 (2): [1, 2]\n"
               "  1.sst: 1001 B, 10 entries, 2 blocks, keys b\"a\"..b\"m\", "
               "newest seq 101\n"
               "  2.sst: 1002 B, 20 entries, 3 blocks, keys b\"n\"..b\"z\", "
               "newest seq 102\n"
               "L3 (0): []\n"
               "Open iterators: 1\n"
               "iterator 3: 2 active; pins memtable 9, L0 [6], L2 [1, 2]\n");
    cli_buf_free(&b);
}

/* Iterator lines: the shell's names, several memtables, tiers by their
 * ids, an iterator that pins nothing, and the SSTs kept only for
 * iterators. */
static void test_dump_iterators(void **state)
{
    uint64_t mems[] = {12, 11};
    lsm_pinned_sst pins[] = {
        {.sst_id = 10, .level = -1, .tier_id = 9, .in_tree = 1},
        {.sst_id = 11, .level = -1, .tier_id = 9, .in_tree = 1},
        {.sst_id = 3, .level = -1, .tier_id = 2, .in_tree = 0},
    };
    lsm_iter_info iters[] = {
        {.iter_id = 4,
         .num_active = 3,
         .n_memtables = 2,
         .memtable_ids = mems,
         .n_ssts = 3,
         .ssts = pins},
        {.iter_id = 7, .num_active = 0},
        {.iter_id = 8, .num_active = 1, .n_ssts = 1, .ssts = pins + 2},
    };
    uint64_t pinned_only[] = {3};
    cli_iter_name names[] = {{8, "b"}, {4, "a-1"}};
    lsm_state st;
    cli_buf b;

    (void)state;
    memset(&st, 0, sizeof st);
    st.memtable.memtable_id = 12;
    st.iters = iters;
    st.n_iters = 3;
    st.pinned_only = pinned_only;
    st.n_pinned_only = 1;
    cli_buf_init(&b);
    cli_show_dump(&b, &st, 0, names, 2);
    assert_buf(&b, "Memtable (id 12): 0 keys, 0 B\n"
                   "Immutable memtables (0): []\n"
                   "Open iterators: 3\n"
                   "a-1: 3 active; pins memtables 12, 11, L9 [10, 11], "
                   "L2 [3]\n"
                   "iterator 7: 0 active; pins nothing\n"
                   "b: 1 active; pins L2 [3]\n"
                   "Pinned by iterators, no longer in the tree: [3]\n");
    cli_buf_free(&b);
}

/* Tiers print as mini-lsm prints them: L<tier id>, newest first, and no
 * L0 line (a tiered tree's L0 is empty). */
static void test_dump_tiers(void **state)
{
    lsm_sst_info t9[2], t5[1], t2[3];
    lsm_level_info tiers[3];
    lsm_state st;
    cli_buf b;

    (void)state;
    memset(&st, 0, sizeof st);
    st.memtable.memtable_id = 12;
    st.compaction = LSM_COMPACTION_TIERED;
    t9[0] = sst_make(10, "a", "k");
    t9[1] = sst_make(11, "l", "z");
    t5[0] = sst_make(5, "c", "x");
    t2[0] = sst_make(2, "a", "f");
    t2[1] = sst_make(3, "g", "p");
    t2[2] = sst_make(4, "q", "z");
    tiers[0].level = 9;
    tiers[0].n_ssts = 2;
    tiers[0].ssts = t9;
    tiers[1].level = 5;
    tiers[1].n_ssts = 1;
    tiers[1].ssts = t5;
    tiers[2].level = 2;
    tiers[2].n_ssts = 3;
    tiers[2].ssts = t2;
    st.levels = tiers;
    st.n_levels = 3;

    cli_buf_init(&b);
    cli_show_dump(&b, &st, 0, NULL, 0);
    assert_buf(&b, "Memtable (id 12): 0 keys, 0 B\n"
                   "Immutable memtables (0): []\n"
                   "L9 (2): [10, 11]\n"
                   "L5 (1): [5]\n"
                   "L2 (3): [2, 3, 4]\n"
                   "Open iterators: 0\n");
    /* No tiers at all: nothing between the memtables and the iterators. */
    st.n_levels = 0;
    cli_buf_reset(&b);
    cli_show_dump(&b, &st, 1, NULL, 0);
    assert_buf(&b, "Memtable (id 12): 0 keys, 0 B\n"
                   "Immutable memtables (0): []\n"
                   "Open iterators: 0\n");
    cli_buf_free(&b);
}

/* Keys in dump -v print in the b"..." form, whatever bytes they hold. */
static void test_dump_verbose_escapes_keys(void **state)
{
    static const char first[] = {'k', '\0', '\n'};
    static const char last[] = {'\xff', '"'};
    lsm_sst_info t;
    lsm_level_info lv;
    lsm_state st;
    cli_buf b;

    (void)state;
    memset(&st, 0, sizeof st);
    t = sst_make(3, "", "");
    t.first_key = (void *)first;
    t.nfirst_key = sizeof first;
    t.last_key = (void *)last;
    t.nlast_key = sizeof last;
    lv.level = 1;
    lv.n_ssts = 1;
    lv.ssts = &t;
    st.levels = &lv;
    st.n_levels = 1;
    cli_buf_init(&b);
    cli_show_dump(&b, &st, 1, NULL, 0);
    assert_non_null(strstr(cli_buf_str(&b),
                           "  3.sst: 1003 B, 30 entries, 4 "
                           "blocks, keys b\"k\\0\\n\".."
                           "b\"\\xff\\\"\", newest seq 103\n"));
    cli_buf_free(&b);
}

/* Gives every counter a different value and checks that each line shows
 * its own field, then the amplification block. */
static void test_stats_every_line(void **state)
{
    lsm_state st;
    lsm_counters *c = &st.counters, base;
    cli_buf b;

    (void)state;
    memset(&st, 0, sizeof st);
    c->puts = 1;
    c->deletes = 2;
    c->gets = 3;
    c->scans = 4;
    c->user_bytes_written = 5;
    c->wal_bytes_written = 6;
    c->wal_syncs = 19;
    c->flush_bytes_written = 7;
    c->compaction_bytes_written = 8;
    c->memtables_frozen = 9;
    c->flushes = 10;
    c->compactions = 11;
    c->block_reads = 12;
    c->block_cache_hits = 13;
    c->bloom_checks = 14;
    c->bloom_negatives = 15;
    c->sst_probes = 16;
    c->write_stalls = 17;
    c->stall_micros = 18;
    c->txn_commits = 20;
    c->txn_aborts = 21;
    c->txn_conflicts_write = 22;
    c->txn_conflicts_read = 23;
    c->txn_conflicts_range = 24;
    c->versions_dropped = 25;
    c->versions_kept = 26;
    c->memtable_bloom_negatives = 27;
    st.amplification.write = 2.35;
    st.amplification.space = 1.2;
    st.amplification.read = 3;
    st.amplification.live_sst_bytes = 123456;
    st.amplification.bottom_sst_bytes = UINT64_MAX;
    /* The counters at the previous stats: every change differs. */
    base = *c;
    base.puts = 0;
    base.deletes = 1;
    base.scans = 4;
    base.stall_micros = 8;
    base.compactions = 12; /* a counter that went down: shown, not hidden */
    base.txn_conflicts_read = 3;
    base.versions_dropped = 5;
    base.memtable_bloom_negatives = 7;
    cli_buf_init(&b);
    cli_show_stats(&b, &st, &base);
    assert_buf(&b, "puts: 1 (+1)\n"
                   "deletes: 2 (+1)\n"
                   "gets: 3 (+0)\n"
                   "scans: 4 (+0)\n"
                   "user bytes written: 5 (+0)\n"
                   "wal bytes written: 6 (+0)\n"
                   "wal syncs: 19 (+0)\n"
                   "flush bytes written: 7 (+0)\n"
                   "compaction bytes written: 8 (+0)\n"
                   "memtables frozen: 9 (+0)\n"
                   "flushes: 10 (+0)\n"
                   "compactions: 11 (-1)\n"
                   "block reads: 12 (+0)\n"
                   "block cache hits: 13 (+0)\n"
                   "bloom checks: 14 (+0)\n"
                   "bloom negatives: 15 (+0)\n"
                   "memtable bloom negatives: 27 (+20)\n"
                   "sst probes: 16 (+0)\n"
                   "write stalls: 17 (+0)\n"
                   "stall time: 18 us (+10 us)\n"
                   "txn commits: 20 (+0)\n"
                   "txn aborts: 21 (+0)\n"
                   "txn conflicts write: 22 (+0)\n"
                   "txn conflicts read: 23 (+20)\n"
                   "txn conflicts range: 24 (+0)\n"
                   "versions dropped: 25 (+20)\n"
                   "versions kept: 26 (+0)\n"
                   "write amplification: 2.35\n"
                   "space amplification: 1.20\n"
                   "read amplification: 3\n"
                   "live SST bytes: 123456\n"
                   "bottom run bytes: 18446744073709551615\n");
    /* Without a base (none taken yet) the change is the total; each
     * counter lands on its own line. */
    cli_buf_reset(&b);
    cli_show_stats(&b, &st, NULL);
    assert_non_null(strstr(cli_buf_str(&b), "puts: 1 (+1)\ndeletes: 2 (+2)\n"
                                            "gets: 3 (+3)\nscans: 4 (+4)\n"));
    assert_non_null(strstr(cli_buf_str(&b), "\nwal syncs: 19 (+19)\n"));
    assert_non_null(strstr(cli_buf_str(&b), "\nsst probes: 16 (+16)\n"
                                            "write stalls: 17 (+17)\n"
                                            "stall time: 18 us (+18 us)\n"));
    cli_buf_free(&b);
}

/* Two decimals, rounded; ratios that are not finite print as n/a. */
static void test_stats_ratios(void **state)
{
    static const struct {
        double value;
        const char *shown;
    } cases[] = {
        {0.0, "0.00"},   {1.0, "1.00"},     {1.004, "1.00"},
        {1.006, "1.01"}, {12.5, "12.50"},   {1e9, "1000000000.00"},
        {NAN, "n/a"},    {INFINITY, "n/a"}, {-INFINITY, "n/a"},
    };
    char want[64];
    lsm_state st;
    cli_buf b;
    size_t i;

    (void)state;
    cli_buf_init(&b);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&st, 0, sizeof st);
        st.counters.user_bytes_written = 1;
        st.amplification.bottom_sst_bytes = 1;
        st.amplification.write = cases[i].value;
        st.amplification.space = cases[i].value;
        cli_buf_reset(&b);
        cli_show_stats(&b, &st, NULL);
        snprintf(want, sizeof want, "\nwrite amplification: %s\n",
                 cases[i].shown);
        if (!strstr(cli_buf_str(&b), want))
            fail_msg("case %zu: no [%s] in\n%s", i, want, cli_buf_str(&b));
        snprintf(want, sizeof want, "\nspace amplification: %s\n",
                 cases[i].shown);
        assert_non_null(strstr(cli_buf_str(&b), want));
    }
    cli_buf_free(&b);
}

/* A ratio over nothing has no value: the engine reports 0 then, which
 * stats shows as n/a rather than as a perfect 0.00; each ratio depends on
 * its own denominator only. */
static void test_stats_ratios_without_a_denominator(void **state)
{
    lsm_state st;
    cli_buf b;

    (void)state;
    cli_buf_init(&b);
    memset(&st, 0, sizeof st);
    cli_show_stats(&b, &st, NULL);
    assert_non_null(strstr(cli_buf_str(&b), "\nwrite amplification: n/a\n"
                                            "space amplification: n/a\n"
                                            "read amplification: 0\n"));
    /* Users wrote, nothing reached an SST yet: write is a real 0. */
    st.counters.user_bytes_written = 100;
    cli_buf_reset(&b);
    cli_show_stats(&b, &st, NULL);
    assert_non_null(strstr(cli_buf_str(&b), "\nwrite amplification: 0.00\n"
                                            "space amplification: n/a\n"));
    /* SSTs but no user bytes since open (a reopened database). */
    memset(&st, 0, sizeof st);
    st.amplification.space = 1.5;
    st.amplification.live_sst_bytes = 300;
    st.amplification.bottom_sst_bytes = 200;
    cli_buf_reset(&b);
    cli_show_stats(&b, &st, NULL);
    assert_non_null(strstr(cli_buf_str(&b), "\nwrite amplification: n/a\n"
                                            "space amplification: 1.50\n"));
    cli_buf_free(&b);
}

static void test_manifest_records(void **state)
{
    uint64_t removed[] = {2, 1, 0}, added[] = {5, 6};
    lsm_manifest_record r;
    cli_buf b;

    (void)state;
    cli_buf_init(&b);
    memset(&r, 0, sizeof r);
    r.offset = 0;
    r.kind = LSM_MANIFEST_NEW_MEMTABLE;
    r.id = 4;
    r.has_wal = 1;
    cli_show_manifest_record(&b, &r, 0);
    r.has_wal = 0;
    r.offset = 17;
    cli_show_manifest_record(&b, &r, 1);
    r.has_wal = 1;
    r.froze = 1;
    r.frozen_id = 3;
    r.last_seq = 99;
    r.wal_bytes = 1234;
    r.offset = 20;
    cli_show_manifest_record(&b, &r, 0);
    r.froze = 0;
    r.kind = LSM_MANIFEST_NEXT_ID;
    r.id = 21;
    r.offset = 30;
    cli_show_manifest_record(&b, &r, 0);
    r.kind = LSM_MANIFEST_FLUSH;
    r.id = 2;
    r.last_seq = 77;
    r.offset = 40;
    cli_show_manifest_record(&b, &r, 0);
    cli_show_manifest_record(&b, &r, 1);
    r.kind = LSM_MANIFEST_COMPACTION;
    r.offset = 50;
    r.level = 4;
    r.removed = removed;
    r.n_removed = 3;
    r.added = added;
    r.n_added = 2;
    cli_show_manifest_record(&b, &r, 0);
    r.level = 0;
    cli_show_manifest_record(&b, &r, 1);
    r.n_added = 0;
    cli_show_manifest_record(&b, &r, 1);
    r.kind = (lsm_manifest_kind)42;
    cli_show_manifest_record(&b, &r, 0);
    assert_buf(&b, "@0 new memtable 4\n"
                   "@17 new memtable 4 (no WAL)\n"
                   "@20 new memtable 4; 3 frozen at seq 99 (1234 B of WAL)\n"
                   "@30 next id 21\n"
                   "@40 flush 2 -> L0 2.sst, up to seq 77\n"
                   "@40 flush 2 -> new tier 2.sst, up to seq 77\n"
                   "@50 compaction L4: removed [2, 1, 0] added [5, 6]\n"
                   "@50 compaction into a new tier: removed [2, 1, 0] added "
                   "[5, 6]\n"
                   "@50 compaction into a new tier: removed [2, 1, 0] added "
                   "[]\n"
                   "@50 record of unknown kind 42\n");
    cli_buf_free(&b);
}

/* A snapshot's line lists each run's SSTs, comma-separated (L0 newest
 * first), then one line per SST. */
static void test_manifest_snapshot(void **state)
{
    lsm_manifest_sst ssts[] = {{.sst_id = 2,
                                .level = 0,
                                .first_key = "a",
                                .nfirst_key = 1,
                                .last_key = "b",
                                .nlast_key = 1},
                               {.sst_id = 3,
                                .level = 0,
                                .first_key = "a",
                                .nfirst_key = 1,
                                .last_key = "b",
                                .nlast_key = 1},
                               {.sst_id = 0,
                                .level = 1,
                                .first_key = "a",
                                .nfirst_key = 1,
                                .last_key = "b",
                                .nlast_key = 1},
                               {.sst_id = 1,
                                .level = 1,
                                .first_key = "c",
                                .nfirst_key = 1,
                                .last_key = "d",
                                .nlast_key = 1},
                               {.sst_id = 4,
                                .level = 1,
                                .first_key = "e",
                                .nfirst_key = 1,
                                .last_key = "f",
                                .nlast_key = 1}};
    lsm_manifest_record r = {.kind = LSM_MANIFEST_SNAPSHOT,
                             .id = 9,
                             .last_seq = 5,
                             .ssts = ssts,
                             .n_ssts = 5};
    cli_buf b;

    (void)state;
    cli_buf_init(&b);
    cli_show_manifest_record(&b, &r, 0);
    const char *want = "@0 snapshot: next id 9, flushed to seq 5, L0 [3, 2], "
                       "L1 [0, 1, 4], memtables []\n";
    if (strncmp(cli_buf_str(&b), want, strlen(want)) != 0)
        fail_msg("got %s", cli_buf_str(&b));
    cli_buf_free(&b);
}

/* Random compaction events: BEGIN is always the reason's lines and one
 * line naming every input (grouped by run when the runs are given), END
 * one line with every output. */
static void test_random_compaction_events(void **state)
{
    uint64_t ids[64];
    lsm_input_run runs[64];
    char reason[40];
    lsm_event ev;
    cli_buf b;
    size_t round, i, n, n_runs;

    (void)state;
    srand(20240601);
    cli_buf_init(&b);
    for (round = 0; round < 2000; round++) {
        n = (size_t)rand() % 64;
        for (i = 0; i < n; i++)
            ids[i] = ((uint64_t)rand() << 32) ^ (uint64_t)rand();
        /* Runs of 1 to 4 inputs each, levels or tiers. */
        n_runs = 0;
        for (i = 0; i < n; i += runs[n_runs++].n_ssts) {
            runs[n_runs].level = rand() % 2 ? rand() % 8 : -1;
            runs[n_runs].tier_id = (uint64_t)rand();
            runs[n_runs].n_ssts = 1 + (size_t)rand() % 4;
            if (runs[n_runs].n_ssts > n - i)
                runs[n_runs].n_ssts = n - i;
        }
        snprintf(reason, sizeof reason, "compaction triggered %d", rand());
        memset(&ev, 0, sizeof ev);
        ev.type = LSM_EVENT_COMPACTION_BEGIN;
        ev.inputs = n ? ids : NULL;
        ev.n_inputs = n;
        if (rand() % 2) {
            ev.input_runs = runs;
            ev.n_input_runs = n_runs;
        }
        ev.level = rand() % 17;
        ev.reason = rand() % 4 ? reason : NULL;
        cli_buf_reset(&b);
        cli_show_event(&b, &ev, 1);
        assert_false(cli_buf_failed(&b));
        assert_int_equal(count_char(cli_buf_str(&b), '\n'), 2);
        /* One list per run: its SSTs less one commas each. */
        assert_int_equal(count_char(cli_buf_str(&b), ','),
                         n ? n - (ev.n_input_runs ? ev.n_input_runs : 1) : 0);
        assert_int_equal(count_char(cli_buf_str(&b), '+'),
                         ev.n_input_runs ? ev.n_input_runs - 1 : 0);
        assert_true(strncmp(cli_buf_str(&b), "compaction triggered", 20) == 0);
        assert_non_null(strstr(cli_buf_str(&b),
                               ev.level ? "] into L" : "] into a new tier\n"));

        ev.type = LSM_EVENT_COMPACTION_END;
        ev.outputs = ev.inputs;
        ev.n_outputs = n;
        cli_buf_reset(&b);
        cli_show_event(&b, &ev, 1);
        assert_int_equal(count_char(cli_buf_str(&b), '\n'), 1);
        assert_int_equal(count_char(cli_buf_str(&b), ','), 2 + (n ? n - 1 : 0));
    }
    cli_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_compaction_begin_into_a_level),
        cmocka_unit_test(test_compaction_begin_into_a_new_tier),
        cmocka_unit_test(test_compaction_begin_without_a_reason),
        cmocka_unit_test(test_compaction_end),
        cmocka_unit_test(test_flush_and_recovery_events),
        cmocka_unit_test(test_events_without_stdout_lines),
        cmocka_unit_test(test_dump_levels),
        cmocka_unit_test(test_dump_iterators),
        cmocka_unit_test(test_dump_tiers),
        cmocka_unit_test(test_dump_verbose_escapes_keys),
        cmocka_unit_test(test_stats_every_line),
        cmocka_unit_test(test_stats_ratios),
        cmocka_unit_test(test_stats_ratios_without_a_denominator),
        cmocka_unit_test(test_manifest_records),
        cmocka_unit_test(test_manifest_snapshot),
        cmocka_unit_test(test_random_compaction_events),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
