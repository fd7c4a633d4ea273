/*
 * test_compact.c: the compaction controllers and shapes (compact_int.h).
 *
 * Shapes are built by hand (no files): keys are short strings, sizes are
 * whatever a case needs. For each strategy: no task below its triggers,
 * each trigger's exact task (ids, levels or tiers, bottom flag, reason),
 * the order the triggers are checked in, and mini-lsm's known pitfalls
 * (simple: an L0 below its trigger is skipped and an empty upper level
 * never triggers; tiered: empty tiers; leveled: the base level of an empty
 * tree, the oldest SST of the chosen level, overlap that is empty when
 * nothing overlaps, L0 never passing a level that still holds data). Then
 * shape_apply / shape_add_flush / compact_pick_full, bad arguments, and a
 * simulator like mini-lsm's compaction simulator: hundreds of flushes,
 * each followed by pick-and-apply until no task, with the shape's
 * invariants checked after every step and the settled shape checked
 * against the strategy's rules; its keyed runs also model the data, with
 * overwrites and deletions, and check that every key still reads its
 * newest version (see "the simulator" below).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "compact/compact_int.h"
#include "iter/iter_int.h"
#include "lsm.h"
#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1024ull * 1024ull)

/* --- building shapes ------------------------------------------------------ */

/* An SST with string keys (literals: they outlive every shape). */
static shape_sst T(uint64_t id, uint64_t size_bytes, const char *first,
                   const char *last)
{
    return (shape_sst){.sst_id = id,
                       .size_bytes = size_bytes,
                       .first_key = (const uint8_t *)first,
                       .nfirst_key = strlen(first),
                       .last_key = (const uint8_t *)last,
                       .nlast_key = strlen(last)};
}

/* Keys "k0000", "k0001", ... for SSTs whose ranges do not matter. */
static const char *key_at(size_t i)
{
    static char keys[1000][8];
    assert_true(i < 1000);
    snprintf(keys[i], sizeof keys[i], "k%04zu", i);
    return keys[i];
}

static void push_sst(shape_sst **ssts, size_t *n, shape_sst x)
{
    shape_sst *grown = realloc(*ssts, (*n + 1) * sizeof *grown);
    assert_non_null(grown);
    grown[(*n)++] = x;
    *ssts = grown;
}

static void levels_init(shape *s, size_t n_levels)
{
    memset(s, 0, sizeof *s);
    s->runs = calloc(n_levels ? n_levels : 1, sizeof *s->runs);
    assert_non_null(s->runs);
    for (size_t i = 0; i < n_levels; i++)
        s->runs[i].run_id = i + 1;
    s->n_runs = n_levels;
}

static void tiers_init(shape *s)
{
    memset(s, 0, sizeof *s);
    s->tiered = true;
}

/* Appends x to L0 as its oldest SST (L0 is listed newest first). */
static void add_l0(shape *s, shape_sst x)
{
    push_sst(&s->l0, &s->n_l0, x);
}

/* Appends x to level `level` (1-based); callers add in key order. */
static void add_level(shape *s, size_t level, shape_sst x)
{
    push_sst(&s->runs[level - 1].ssts, &s->runs[level - 1].n_ssts, x);
}

/* Adds n SSTs of `each` bytes, ids first_id.., keys in order. */
static void fill_level(shape *s, size_t level, size_t n, uint64_t first_id,
                       uint64_t each)
{
    for (size_t i = 0; i < n; i++)
        add_level(s, level, T(first_id + i, each, key_at(i), key_at(i)));
}

/* Appends a tier of n SSTs (ids run_id, run_id + 1, ...) as the oldest. */
static void add_tier(shape *s, uint64_t run_id, size_t n)
{
    shape_run *runs = realloc(s->runs, (s->n_runs + 1) * sizeof *runs);
    assert_non_null(runs);
    s->runs = runs;
    shape_run *r = &runs[s->n_runs++];
    memset(r, 0, sizeof *r);
    r->run_id = run_id;
    for (size_t i = 0; i < n; i++)
        push_sst(&r->ssts, &r->n_ssts, T(run_id + i, 1, key_at(i), key_at(i)));
}

/* "L0[3 2] L1[] L2[1 10]" or "T10[10 11] T1[1]": ids in order, for exact
 * comparisons of whole shapes. */
static const char *shape_str(const shape *s)
{
    static char buf[4096];
    size_t n = 0;
    buf[0] = '\0';
#define PUT(...) n += (size_t)snprintf(buf + n, sizeof buf - n, __VA_ARGS__)
    if (!s->tiered) {
        PUT("L0[");
        for (size_t i = 0; i < s->n_l0; i++)
            PUT("%s%llu", i ? " " : "", (unsigned long long)s->l0[i].sst_id);
        PUT("]");
    }
    for (size_t r = 0; r < s->n_runs; r++) {
        PUT("%s%s%llu[", n ? " " : "", s->tiered ? "T" : "L",
            (unsigned long long)s->runs[r].run_id);
        for (size_t i = 0; i < s->runs[r].n_ssts; i++)
            PUT("%s%llu", i ? " " : "",
                (unsigned long long)s->runs[r].ssts[i].sst_id);
        PUT("]");
    }
#undef PUT
    assert_true(n < sizeof buf);
    return buf;
}

static lsm_options opts(lsm_compaction c)
{
    lsm_options o;
    lsm_options_init(&o);
    o.compaction = c;
    return o;
}

/* compact_pick, which must succeed; returns found. */
static bool pick(const lsm_options *o, const shape *s, compaction_task *t)
{
    bool found = true;
    assert_int_equal(compact_pick(o, s, t, &found), LSM_OK);
    return found;
}

static void assert_ids(const uint64_t *got, size_t n_got, const uint64_t *want,
                       size_t n_want)
{
    assert_int_equal(n_got, n_want);
    for (size_t i = 0; i < n_want; i++)
        assert_int_equal(got[i], want[i]);
}

#define IDS(...)                                                               \
    (const uint64_t[])                                                         \
    {                                                                          \
        __VA_ARGS__                                                            \
    }
#define N_IDS(...) (sizeof(IDS(__VA_ARGS__)) / sizeof(uint64_t))
#define ASSERT_IDS(got, n_got, ...)                                            \
    assert_ids(got, n_got, IDS(__VA_ARGS__), N_IDS(__VA_ARGS__))

static void assert_reason(const compaction_task *t, const char *part)
{
    if (!strstr(t->reason, part))
        fail_msg("reason \"%s\" lacks \"%s\"", t->reason, part);
}

/* Asserts a levels task: its trigger, levels, ids are checked by the
 * caller with ASSERT_IDS. */
static void assert_levels_task(const compaction_task *t,
                               compaction_trigger trigger, size_t upper_level,
                               size_t lower_level, bool bottom)
{
    assert_int_equal(t->trigger, trigger);
    assert_int_equal(t->upper_level, upper_level);
    assert_int_equal(t->lower_level, lower_level);
    assert_int_equal(t->output_is_bottom, bottom);
    assert_int_equal(t->n_tiers, 0);
}

/* --- simple --------------------------------------------------------------- */

static void test_simple_below_triggers(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_SIMPLE);
    compaction_task t;
    shape s;
    levels_init(&s, 4);
    assert_false(pick(&o, &s, &t)); /* empty tree */
    add_l0(&s, T(1, 1, "a", "b"));
    assert_false(pick(&o, &s, &t)); /* L0 below its trigger of 2 */
    assert_int_equal(t.n_upper, 0);
    assert_null(t.upper);
    /* Levels that keep the ratio: 2 -> 4 -> 8 (4/2 = 2.00 is not < 2). */
    fill_level(&s, 1, 2, 10, 1);
    fill_level(&s, 2, 4, 20, 1);
    fill_level(&s, 3, 8, 30, 1);
    fill_level(&s, 4, 16, 40, 1);
    assert_false(pick(&o, &s, &t));
    shape_free(&s);
}

static void test_simple_l0_task(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_SIMPLE);
    compaction_task t;
    shape s;
    levels_init(&s, 4);
    add_l0(&s, T(2, 1, "c", "d"));
    add_l0(&s, T(1, 1, "a", "b"));
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_L0_FILES, 0, 1, false);
    ASSERT_IDS(t.upper, t.n_upper, 2, 1);
    assert_int_equal(t.n_lower, 0);
    assert_string_equal(t.reason, "compaction triggered at level 0 "
                                  "because L0 has 2 SSTs >= 2");
    compaction_task_free(&t);

    /* L1 with 3 SSTs: all of L1 is the lower. */
    fill_level(&s, 1, 3, 10, 1);
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_L0_FILES, 0, 1, false);
    ASSERT_IDS(t.upper, t.n_upper, 2, 1);
    ASSERT_IDS(t.lower, t.n_lower, 10, 11, 12);
    assert_string_equal(t.reason, "compaction triggered at level 0 "
                                  "because L0 has 2 SSTs >= 2");
    char first[sizeof t.reason];
    strcpy(first, t.reason);
    compaction_task_free(&t);
    assert_true(pick(&o, &s, &t)); /* deterministic */
    assert_string_equal(t.reason, first);
    compaction_task_free(&t);

    /* One level only: L0 into L1 is into the bottom. */
    shape one;
    levels_init(&one, 1);
    add_l0(&one, T(2, 1, "c", "d"));
    add_l0(&one, T(1, 1, "a", "b"));
    assert_true(pick(&o, &one, &t));
    assert_levels_task(&t, LSM_TRIGGER_L0_FILES, 0, 1, true);
    compaction_task_free(&t);
    shape_free(&one);
    shape_free(&s);
}

static void test_simple_level_ratio(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_SIMPLE);
    compaction_task t;
    shape s;
    levels_init(&s, 4);
    fill_level(&s, 1, 2, 3, 1);
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_SIZE_RATIO, 1, 2, false);
    ASSERT_IDS(t.upper, t.n_upper, 3, 4);
    assert_int_equal(t.n_lower, 0);
    assert_string_equal(
        t.reason, "compaction triggered at level 1 and 2 with size ratio 0");
    compaction_task_free(&t);
    shape_free(&s);

    /* The book's L3/L2 = 1 < 2 with three levels: into the bottom. */
    levels_init(&s, 3);
    fill_level(&s, 2, 2, 13, 1);
    fill_level(&s, 3, 2, 7, 1);
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_SIZE_RATIO, 2, 3, true);
    ASSERT_IDS(t.upper, t.n_upper, 13, 14);
    ASSERT_IDS(t.lower, t.n_lower, 7, 8);
    assert_string_equal(
        t.reason, "compaction triggered at level 2 and 3 with size ratio 1");
    compaction_task_free(&t);
    shape_free(&s);

    /* Exactly at the ratio is fine: L3/L2 = 4/2. */
    levels_init(&s, 3);
    fill_level(&s, 2, 2, 13, 1);
    fill_level(&s, 3, 4, 7, 1);
    assert_false(pick(&o, &s, &t));
    /* size_ratio_percent 300 makes the same shape due. */
    o.size_ratio_percent = 300;
    assert_true(pick(&o, &s, &t));
    assert_reason(&t, "at level 2 and 3 with size ratio 2");
    compaction_task_free(&t);
    shape_free(&s);
}

/* L0 is checked before the levels. */
static void test_simple_l0_first(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_SIMPLE);
    compaction_task t;
    shape s;
    levels_init(&s, 4);
    add_l0(&s, T(21, 1, "a", "z"));
    add_l0(&s, T(20, 1, "a", "z"));
    fill_level(&s, 1, 2, 10, 1); /* L2/L1 = 0 is due as well */
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_L0_FILES, 0, 1, false);
    ASSERT_IDS(t.upper, t.n_upper, 21, 20);
    ASSERT_IDS(t.lower, t.n_lower, 10, 11);
    compaction_task_free(&t);
    shape_free(&s);
}

/* An L0 below its trigger is skipped (its ratio L1/L0 = 0 does not
 * matter), then the levels are checked. */
static void test_simple_l0_skipped_below_trigger(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_SIMPLE);
    o.level0_file_num_compaction_trigger = 3;
    compaction_task t;
    shape s;
    levels_init(&s, 4);
    add_l0(&s, T(31, 1, "a", "z"));
    add_l0(&s, T(30, 1, "a", "z"));
    assert_false(pick(&o, &s, &t));
    fill_level(&s, 1, 2, 10, 1);
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_SIZE_RATIO, 1, 2, false);
    ASSERT_IDS(t.upper, t.n_upper, 10, 11);
    compaction_task_free(&t);
    shape_free(&s);
}

/* An L0 at its trigger goes into L1 however large L1 is (mini-lsm's rule
 * today). The older rule also asked for |L1| / |L0| < size_ratio_percent,
 * which a large L1 never meets: L0 then grew without bound, and a writer
 * stalled on it in threads mode waited forever (issue 9). */
static void test_simple_l0_ignores_l1_size(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_SIMPLE);
    compaction_task t;
    shape s;
    levels_init(&s, 4);
    add_l0(&s, T(51, 1, "a", "z"));
    add_l0(&s, T(50, 1, "a", "z"));
    fill_level(&s, 1, 40, 10, 1);
    fill_level(&s, 2, 8, 60, 1);
    assert_true(pick(&o, &s, &t)); /* L1/L0 = 20, yet L0 is due */
    assert_levels_task(&t, LSM_TRIGGER_L0_FILES, 0, 1, false);
    ASSERT_IDS(t.upper, t.n_upper, 51, 50);
    assert_int_equal(t.n_lower, 40);
    assert_int_equal(t.lower[0], 10);
    assert_int_equal(t.lower[39], 49);
    assert_reason(&t, "because L0 has 2 SSTs >= 2");
    compaction_task_free(&t);
    shape_free(&s);
}

/* An empty upper level never triggers: its ratio would divide by zero. */
static void test_simple_empty_upper_never_triggers(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_SIMPLE);
    compaction_task t;
    shape s;
    levels_init(&s, 4);
    fill_level(&s, 4, 5, 1, 1);
    assert_false(pick(&o, &s, &t));
    o.level0_file_num_compaction_trigger = 0; /* an empty L0 "at" it */
    assert_false(pick(&o, &s, &t));
    fill_level(&s, 3, 3, 10, 1); /* L1, L2 empty above: skipped */
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_SIZE_RATIO, 3, 4, true);
    ASSERT_IDS(t.upper, t.n_upper, 10, 11, 12);
    ASSERT_IDS(t.lower, t.n_lower, 1, 2, 3, 4, 5);
    /* 5/3 printed as Rust prints the f64 */
    assert_reason(&t, "at level 3 and 4 with size ratio 1.6666666666666667");
    compaction_task_free(&t);
    shape_free(&s);
}

static void test_none_never_picks(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_NONE);
    compaction_task t;
    shape s;
    levels_init(&s, 1);
    for (uint64_t id = 10; id > 0; id--)
        add_l0(&s, T(id, 1, "a", "z"));
    assert_false(pick(&o, &s, &t));
    assert_int_equal(t.n_upper, 0);
    shape_free(&s);
}

/* --- tiered --------------------------------------------------------------- */

static void assert_tiers_task(const compaction_task *t,
                              compaction_trigger trigger, bool bottom)
{
    assert_int_equal(t->trigger, trigger);
    assert_int_equal(t->output_is_bottom, bottom);
    assert_int_equal(t->n_upper, 0);
    assert_int_equal(t->n_lower, 0);
}

static void test_tiered_below_num_tiers(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_TIERED);
    compaction_task t;
    shape s;
    tiers_init(&s);
    assert_false(pick(&o, &s, &t));
    add_tier(&s, 10, 5);
    add_tier(&s, 1, 1); /* 500% amplification, but only 2 tiers */
    assert_false(pick(&o, &s, &t));
    shape_free(&s);
}

static void test_tiered_space_amp(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_TIERED);
    compaction_task t;
    shape s;
    tiers_init(&s);
    add_tier(&s, 3, 1);
    add_tier(&s, 2, 1);
    add_tier(&s, 1, 1);
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_SPACE_AMP, true);
    ASSERT_IDS(t.tier_ids, t.n_tiers, 3, 2, 1);
    assert_string_equal(t.reason, "compaction triggered by space "
                                  "amplification ratio: 200");
    compaction_task_free(&t);
    shape_free(&s);

    /* Just below the limit: 199 SSTs over 100 is 199%; no size ratio
     * holds (99/100, 100/199), so the runs are reduced: all of them. */
    tiers_init(&s);
    add_tier(&s, 1000, 100);
    add_tier(&s, 500, 99);
    add_tier(&s, 100, 100);
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_REDUCE_RUNS, true);
    ASSERT_IDS(t.tier_ids, t.n_tiers, 1000, 500, 100);
    compaction_task_free(&t);
    o.max_size_amplification_percent = 199;
    assert_true(pick(&o, &s, &t));
    assert_int_equal(t.trigger, LSM_TRIGGER_SPACE_AMP);
    assert_reason(&t, "amplification ratio: 199");
    compaction_task_free(&t);
    shape_free(&s);

    /* 7 over 3, computed as the reference does: 7/3 * 100. */
    tiers_init(&s);
    add_tier(&s, 30, 4);
    add_tier(&s, 20, 3);
    add_tier(&s, 10, 3);
    assert_true(pick(&o, &s, &t));
    assert_reason(&t, "amplification ratio: 233.33333333333334");
    compaction_task_free(&t);
    shape_free(&s);
}

/* The reference's size ratio: |tier i+1| / sum(tiers 0..i) must exceed
 * (100 + size_ratio) / 100, and tiers 0..i (not i+1) are merged. */
static void test_tiered_size_ratio(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_TIERED);
    compaction_task t;
    shape s;
    tiers_init(&s);
    add_tier(&s, 30, 2);
    add_tier(&s, 20, 1);
    add_tier(&s, 10, 8); /* amplification 3/8 = 37.5% */
    /* 1/2 at i = 0 is too small; 8/3 at i = 1 merges tiers 0..1. */
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_SIZE_RATIO, false);
    ASSERT_IDS(t.tier_ids, t.n_tiers, 30, 20);
    assert_string_equal(t.reason, "compaction triggered by size ratio: "
                                  "266.66666666666663 > 101");
    compaction_task_free(&t);
    shape_free(&s);

    /* The ratio must exceed the trigger: 1/1 at i = 0 is not above 1.00
     * with size_ratio 0, and merging one tier is not allowed anyway
     * (min_merge_width 2); 4/2 at i = 1 is. */
    tiers_init(&s);
    add_tier(&s, 30, 1);
    add_tier(&s, 20, 1);
    add_tier(&s, 10, 4);
    o.size_ratio = 0;
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_SIZE_RATIO, false);
    ASSERT_IDS(t.tier_ids, t.n_tiers, 30, 20);
    assert_reason(&t, "size ratio: 200 > 100");
    compaction_task_free(&t);
    /* 2/2 = 1.00 is not above 1.00: the runs are reduced instead. */
    shape_free(&s);
    tiers_init(&s);
    add_tier(&s, 30, 1);
    add_tier(&s, 20, 1);
    add_tier(&s, 10, 2);
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_REDUCE_RUNS, true);
    compaction_task_free(&t);
    shape_free(&s);
}

static void test_tiered_merge_widths(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_TIERED);
    o.min_merge_width = 3;
    compaction_task t;
    shape s;
    tiers_init(&s);
    add_tier(&s, 40, 1);
    add_tier(&s, 30, 1);
    add_tier(&s, 20, 3);
    add_tier(&s, 10, 12); /* amplification 5/12 */
    /* 3/2 holds at i = 1, but merging 2 < min_merge_width: the next
     * candidate, 12/5 at i = 2, merges 3. */
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_SIZE_RATIO, false);
    ASSERT_IDS(t.tier_ids, t.n_tiers, 40, 30, 20);
    assert_reason(&t, "size ratio: 240 > 101");
    compaction_task_free(&t);
    /* max_merge_width caps only the reduction of runs (as in the
     * reference), which is what remains with min_merge_width 4. */
    o.max_merge_width = 2;
    assert_true(pick(&o, &s, &t));
    ASSERT_IDS(t.tier_ids, t.n_tiers, 40, 30, 20);
    compaction_task_free(&t);
    o.min_merge_width = 4;
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_REDUCE_RUNS, false);
    ASSERT_IDS(t.tier_ids, t.n_tiers, 40, 30);
    compaction_task_free(&t);
    /* Widths that let a task merge one tier could never shrink the tree:
     * the reference's simulator panics ("does not converge"); here they
     * are refused. */
    bool found = true;
    o.max_merge_width = 1;
    assert_int_equal(compact_pick(&o, &s, &t, &found), LSM_EINVAL);
    assert_false(found);
    assert_non_null(strstr(lsm_errmsg(), "max_merge_width"));
    o.max_merge_width = 0;
    o.min_merge_width = 1;
    assert_int_equal(compact_pick(&o, &s, &t, &found), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "min_merge_width"));
    shape_free(&s);
}

static void test_tiered_reduce_runs(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_TIERED);
    compaction_task t;
    shape s;
    tiers_init(&s);
    /* Sizes 1, 1, 2, 4, 8: no ratio exceeds 1.01, amplification 100%. */
    add_tier(&s, 500, 1);
    add_tier(&s, 400, 1);
    add_tier(&s, 300, 2);
    add_tier(&s, 200, 4);
    add_tier(&s, 100, 8);
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_REDUCE_RUNS, true);
    ASSERT_IDS(t.tier_ids, t.n_tiers, 500, 400, 300, 200, 100);
    assert_string_equal(t.reason,
                        "compaction triggered by reducing sorted runs");
    compaction_task_free(&t);
    o.max_merge_width = 3;
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_REDUCE_RUNS, false);
    ASSERT_IDS(t.tier_ids, t.n_tiers, 500, 400, 300);
    compaction_task_free(&t);
    o.num_tiers = 5;
    assert_true(pick(&o, &s, &t));
    compaction_task_free(&t);
    o.num_tiers = 6;
    assert_false(pick(&o, &s, &t));
    shape_free(&s);
}

/* Space amplification, then size ratio, then reduce runs. */
static void test_tiered_order_of_checks(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_TIERED);
    compaction_task t;
    shape s;
    tiers_init(&s);
    add_tier(&s, 3, 2);
    add_tier(&s, 2, 1);
    add_tier(&s, 1, 3);
    /* Amplification (2 + 1) / 3 = 100%; no size ratio exceeds 1.01 (1/2,
     * then 3/3): space amplification when its limit allows, else the
     * reduction of runs. */
    o.max_size_amplification_percent = 100;
    assert_true(pick(&o, &s, &t));
    assert_int_equal(t.trigger, LSM_TRIGGER_SPACE_AMP);
    compaction_task_free(&t);
    o.max_size_amplification_percent = 200;
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_REDUCE_RUNS, true);
    compaction_task_free(&t);
    shape_free(&s);

    tiers_init(&s);
    add_tier(&s, 3, 1);
    add_tier(&s, 2, 1);
    add_tier(&s, 1, 3);
    /* 2/3 = 67% amplification; 3/2 at i = 1 exceeds 1.01. */
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_SIZE_RATIO, false);
    ASSERT_IDS(t.tier_ids, t.n_tiers, 3, 2);
    compaction_task_free(&t);
    o.max_size_amplification_percent = 50;
    assert_true(pick(&o, &s, &t));
    assert_int_equal(t.trigger, LSM_TRIGGER_SPACE_AMP);
    compaction_task_free(&t);
    o.max_size_amplification_percent = 200;
    o.size_ratio = 1000;
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_REDUCE_RUNS, true);
    ASSERT_IDS(t.tier_ids, t.n_tiers, 3, 2, 1);
    compaction_task_free(&t);
    shape_free(&s);
}

static void test_tiered_odd_options_and_shapes(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_TIERED);
    compaction_task t;
    shape s;
    tiers_init(&s);
    add_tier(&s, 1, 1);
    o.num_tiers = 1;
    o.max_size_amplification_percent = 0;
    assert_false(pick(&o, &s, &t)); /* one tier: nothing to merge */
    add_tier(&s, 1000, 100);        /* an older, much larger tier */
    o.max_size_amplification_percent = 200;
    o.num_tiers = 0;
    /* 100/1 at i = 0 would merge one tier: below min_merge_width. */
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_REDUCE_RUNS, true);
    ASSERT_IDS(t.tier_ids, t.n_tiers, 1, 1000);
    compaction_task_free(&t);
    shape_free(&s);

    /* An empty last tier: infinite amplification, as the reference's
     * division gives. */
    tiers_init(&s);
    add_tier(&s, 3, 1);
    add_tier(&s, 2, 1);
    add_tier(&s, 1, 0);
    o = opts(LSM_COMPACTION_TIERED);
    assert_true(pick(&o, &s, &t));
    assert_tiers_task(&t, LSM_TRIGGER_SPACE_AMP, true);
    assert_reason(&t, "amplification ratio: inf");
    compaction_task_free(&t);
    shape_free(&s);
}

/* --- leveled -------------------------------------------------------------- */

/* Leveled options with four levels and a 128 MiB base (mini-lsm's). */
static lsm_options leveled_opts(void)
{
    return opts(LSM_COMPACTION_LEVELED);
}

/* Every level empty: the base level is the last, so L0 goes straight to
 * the bottom (also with a base size of 0, when no target is positive). */
static void test_leveled_empty_tree(void **state)
{
    (void)state;
    lsm_options o = leveled_opts();
    compaction_task t;
    shape s;
    levels_init(&s, 4);
    assert_false(pick(&o, &s, &t));
    add_l0(&s, T(2, MiB, "c", "d"));
    assert_false(pick(&o, &s, &t));
    add_l0(&s, T(1, MiB, "a", "b"));
    for (unsigned base = 0; base <= 128; base += 128) {
        o.base_level_size_mb = base;
        assert_true(pick(&o, &s, &t));
        assert_levels_task(&t, LSM_TRIGGER_L0_FILES, 0, 4, true);
        ASSERT_IDS(t.upper, t.n_upper, 2, 1);
        assert_int_equal(t.n_lower, 0);
        assert_string_equal(t.reason, "flush L0 SST to base level 4");
        compaction_task_free(&t);
    }
    shape_free(&s);
}

/* The base level L0 compacts into, for a bottom level of `bottom_bytes`. */
static size_t base_level_for(const lsm_options *o, size_t n_levels,
                             uint64_t bottom_bytes)
{
    compaction_task t;
    shape s;
    levels_init(&s, n_levels);
    add_level(&s, n_levels, T(100, bottom_bytes, "a", "z"));
    add_l0(&s, T(201, 1, "a", "b"));
    add_l0(&s, T(200, 1, "a", "b"));
    assert_true(pick(o, &s, &t));
    assert_int_equal(t.trigger, LSM_TRIGGER_L0_FILES);
    size_t level = t.lower_level;
    assert_int_equal(t.output_is_bottom, level == n_levels);
    if (level == n_levels)
        ASSERT_IDS(t.lower, t.n_lower, 100);
    else
        assert_int_equal(t.n_lower, 0);
    compaction_task_free(&t);
    shape_free(&s);
    return level;
}

static void test_leveled_base_level(void **state)
{
    (void)state;
    lsm_options o = leveled_opts();
    /* targets: 128 alone while the bottom is at most the base */
    assert_int_equal(base_level_for(&o, 4, 100 * MiB), 4);
    assert_int_equal(base_level_for(&o, 4, 128 * MiB), 4);
    /* 129 -> L3 64.5 (the one positive target below the base) */
    assert_int_equal(base_level_for(&o, 4, 129 * MiB), 3);
    /* 300 -> 150 -> 75 -> 0 */
    assert_int_equal(base_level_for(&o, 4, 300 * MiB), 2);
    /* 600 -> 300 -> 150 -> 75 */
    assert_int_equal(base_level_for(&o, 4, 600 * MiB), 1);
    /* The book's example: 6 levels, 200 MiB, x10, 30 GiB at the bottom:
     * targets 0 0 30 300 3G 30G. */
    o.max_levels = 6;
    o.base_level_size_mb = 200;
    o.level_size_multiplier = 10;
    assert_int_equal(base_level_for(&o, 6, 30 * 1024 * MiB), 3);
    /* A multiplier of 1 keeps every target at the bottom's size. */
    o.level_size_multiplier = 1;
    assert_int_equal(base_level_for(&o, 6, 300 * MiB), 1);
    o.level_size_multiplier = 0;
    compaction_task t;
    bool found = true;
    shape s;
    levels_init(&s, 6);
    assert_int_equal(compact_pick(&o, &s, &t, &found), LSM_EINVAL);
    assert_false(found);
    shape_free(&s);
}

/* The L0 task's lower SSTs: those of the base level overlapping L0's whole
 * key range, inclusive, and none when nothing overlaps. */
static void check_l0_overlap(const char *first, const char *last,
                             const uint64_t *want, size_t n_want)
{
    lsm_options o = leveled_opts();
    compaction_task t;
    shape s;
    levels_init(&s, 4); /* a small tree: base level L4 */
    add_level(&s, 4, T(10, MiB, "b", "c"));
    add_level(&s, 4, T(11, MiB, "e", "f"));
    add_level(&s, 4, T(12, MiB, "h", "i"));
    add_l0(&s, T(21, 1, first, first));
    add_l0(&s, T(20, 1, last, last));
    assert_true(pick(&o, &s, &t));
    assert_int_equal(t.lower_level, 4);
    assert_ids(t.lower, t.n_lower, want, n_want);
    compaction_task_free(&t);
    shape_free(&s);
}

static void test_leveled_l0_overlap(void **state)
{
    (void)state;
    check_l0_overlap("a", "e", IDS(10, 11), 2);
    check_l0_overlap("c", "h", IDS(10, 11, 12), 3);
    check_l0_overlap("f", "f", IDS(11), 1); /* touching a last key */
    check_l0_overlap("d", "e", IDS(11), 1); /* touching a first key */
    /* Nothing overlaps: before all (mini-lsm would take SST 10), in a gap,
     * after all. */
    check_l0_overlap("0", "1", NULL, 0);
    check_l0_overlap("d", "d", NULL, 0);
    check_l0_overlap("g", "g", NULL, 0);
    check_l0_overlap("x", "z", NULL, 0);
}

/* A tree with targets L1 0, L2 75, L3 150, L4 300 MiB (4 levels). */
static void priority_tree(shape *s, uint64_t l2_each, uint64_t l3_each)
{
    levels_init(s, 4);
    add_level(s, 4, T(40, 300 * MiB, "a", "z"));
    add_level(s, 2, T(22, l2_each, "a", "c"));
    add_level(s, 2, T(21, l2_each, "d", "f"));
    add_level(s, 2, T(23, l2_each, "g", "i"));
    add_level(s, 3, T(31, 2 * l3_each, "a", "c"));
    add_level(s, 3, T(32, l3_each, "e", "e"));
    add_level(s, 3, T(33, l3_each, "f", "h"));
}

static void test_leveled_priority(void **state)
{
    (void)state;
    lsm_options o = leveled_opts();
    compaction_task t;
    shape s;
    /* L2 150/75 = 2.00 beats L3 200/150 = 1.33; its oldest SST is 21 (not
     * the first by key), overlapping 32 and 33 below. */
    priority_tree(&s, 50 * MiB, 50 * MiB);
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_LEVEL_PRIORITY, 2, 3, false);
    ASSERT_IDS(t.upper, t.n_upper, 21);
    ASSERT_IDS(t.lower, t.n_lower, 32, 33);
    assert_string_equal(t.reason,
                        "target level sizes: [\"0.000MB\", \"75.000MB\", "
                        "\"150.000MB\", \"300.000MB\"], real level sizes: "
                        "[\"0.000MB\", \"150.000MB\", \"200.000MB\", "
                        "\"300.000MB\"], base_level: 2\n"
                        "compaction triggered by priority: 2 out of [(2.0, 2), "
                        "(1.3333333333333333, 3)], select 21 for compaction");
    compaction_task_free(&t);
    shape_free(&s);

    /* L2 exactly at its target: L3 (1.33) goes, into the bottom. */
    priority_tree(&s, 25 * MiB, 50 * MiB);
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_LEVEL_PRIORITY, 3, 4, true);
    ASSERT_IDS(t.upper, t.n_upper, 31);
    ASSERT_IDS(t.lower, t.n_lower, 40);
    assert_reason(&t, "priority: 3 out of [(1.3333333333333333, 3)], "
                      "select 31 for compaction");
    compaction_task_free(&t);
    shape_free(&s);

    /* Every level at its target: nothing to do. */
    priority_tree(&s, 25 * MiB, 37 * MiB + MiB / 2);
    assert_false(pick(&o, &s, &t));
    /* L0 comes first, into the base level L2, whatever the priorities. */
    add_l0(&s, T(51, 1, "h", "h"));
    add_l0(&s, T(50, 1, "b", "b"));
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_L0_FILES, 0, 2, false);
    ASSERT_IDS(t.upper, t.n_upper, 51, 50);
    ASSERT_IDS(t.lower, t.n_lower, 22, 21, 23);
    compaction_task_free(&t);
    shape_free(&s);
}

/* Data above the base level (a target of 0) is infinitely over; of two
 * such levels the deeper goes first, as the reference sorts them. */
static void test_leveled_above_base_level(void **state)
{
    (void)state;
    lsm_options o = leveled_opts();
    compaction_task t;
    shape s;
    levels_init(&s, 4);
    add_level(&s, 4, T(40, 100 * MiB, "a", "z")); /* base level L4 */
    add_level(&s, 1, T(10, MiB + MiB / 2, "m", "n"));
    add_level(&s, 2, T(20, 1, "a", "b"));
    add_level(&s, 2, T(21, 1, "n", "p"));
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_LEVEL_PRIORITY, 2, 3, false);
    ASSERT_IDS(t.upper, t.n_upper, 20);
    assert_int_equal(t.n_lower, 0);
    assert_reason(&t, "base_level: 4\ncompaction triggered by priority: 2 out "
                      "of [(inf, 2), (inf, 1)], select 20 for compaction");
    compaction_task_free(&t);
    /* With L2 empty, L1 goes next, into L2. */
    shape_free(&s);
    levels_init(&s, 4);
    add_level(&s, 4, T(40, 100 * MiB, "a", "z"));
    add_level(&s, 1, T(10, MiB + MiB / 2, "m", "n"));
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_LEVEL_PRIORITY, 1, 2, false);
    ASSERT_IDS(t.upper, t.n_upper, 10);
    assert_reason(&t, "\"1.500MB\", \"0.000MB\", \"0.000MB\", "
                      "\"100.000MB\"], base_level: 4");
    compaction_task_free(&t);
    shape_free(&s);
}

/* A level above the base level that still holds data (the bottom shrank)
 * stops L0: L0's newer data goes into it, not past it to the base level. */
static void test_leveled_l0_stops_above_base(void **state)
{
    (void)state;
    lsm_options o = leveled_opts();
    compaction_task t;
    shape s;
    levels_init(&s, 4);
    add_level(&s, 4, T(40, 100 * MiB, "a", "z")); /* base level L4 */
    add_level(&s, 2, T(20, MiB, "a", "b"));
    add_level(&s, 2, T(21, MiB, "x", "y"));
    add_l0(&s, T(51, 1, "c", "d"));
    add_l0(&s, T(50, 1, "w", "x"));
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_L0_FILES, 0, 2, false);
    ASSERT_IDS(t.upper, t.n_upper, 51, 50);
    ASSERT_IDS(t.lower, t.n_lower, 21);
    assert_string_equal(t.reason, "flush L0 SST to L2, above base level 4, "
                                  "as L2 holds data");
    compaction_task_free(&t);
    /* Without L0 due, L2 drains towards the base level. */
    s.n_l0 = 0;
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_LEVEL_PRIORITY, 2, 3, false);
    ASSERT_IDS(t.upper, t.n_upper, 20);
    compaction_task_free(&t);
    s.n_l0 = 2;
    shape_free(&s);
}

/* The chosen SST takes its neighbours that share a boundary user key. */
static void test_leveled_clean_cut(void **state)
{
    (void)state;
    lsm_options o = leveled_opts();
    compaction_task t;
    shape s;
    levels_init(&s, 4);
    add_level(&s, 4, T(90, 300 * MiB, "a", "z")); /* L2 target 75 MiB */
    add_level(&s, 2, T(42, 50 * MiB, "a", "c"));
    add_level(&s, 2, T(40, 50 * MiB, "c", "e"));
    add_level(&s, 2, T(41, 50 * MiB, "e", "f"));
    add_level(&s, 2, T(43, 50 * MiB, "g", "h"));
    add_level(&s, 3, T(50, 1, "a", "a"));
    add_level(&s, 3, T(51, 1, "g", "g"));
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_LEVEL_PRIORITY, 2, 3, false);
    ASSERT_IDS(t.upper, t.n_upper, 42, 40, 41);
    ASSERT_IDS(t.lower, t.n_lower, 50);
    compaction_task_free(&t);
    shape_free(&s);
}

/* Under MIN_OVERLAP the level pushes the SST that rewrites the fewest
 * bytes below per byte pushed, ties to the smaller id; OLDEST pushes the
 * smallest id whatever lies below it. */
static void test_leveled_min_overlap(void **state)
{
    (void)state;
    lsm_options o = leveled_opts();
    compaction_task t;
    shape s;
    levels_init(&s, 4);
    add_level(&s, 4, T(90, 300 * MiB, "a", "z")); /* L2 target 75 MiB */
    add_level(&s, 2, T(20, 50 * MiB, "a", "c"));  /* 80 MiB below: 1.6 */
    add_level(&s, 2, T(24, 50 * MiB, "d", "f"));  /* 10 MiB: 0.2 */
    add_level(&s, 2, T(22, 50 * MiB, "g", "i"));  /* 10 MiB: 0.2 */
    add_level(&s, 2, T(23, 50 * MiB, "j", "l"));  /* 20 MiB: 0.4 */
    add_level(&s, 3, T(30, 40 * MiB, "a", "b"));
    add_level(&s, 3, T(31, 40 * MiB, "c", "c"));
    add_level(&s, 3, T(32, 10 * MiB, "e", "e"));
    add_level(&s, 3, T(33, 5 * MiB, "g", "h"));
    add_level(&s, 3, T(34, 5 * MiB, "i", "i"));
    add_level(&s, 3, T(35, 20 * MiB, "k", "k"));

    assert_true(pick(&o, &s, &t)); /* the default: oldest */
    assert_levels_task(&t, LSM_TRIGGER_LEVEL_PRIORITY, 2, 3, false);
    ASSERT_IDS(t.upper, t.n_upper, 20);
    ASSERT_IDS(t.lower, t.n_lower, 30, 31);
    assert_null(strstr(t.reason, "min-overlap"));
    compaction_task_free(&t);

    o.leveled_pick = LSM_LEVELED_PICK_MIN_OVERLAP;
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_LEVEL_PRIORITY, 2, 3, false);
    ASSERT_IDS(t.upper, t.n_upper, 22); /* ties 24, the smaller id */
    ASSERT_IDS(t.lower, t.n_lower, 33, 34);
    assert_reason(&t, "select 22 for compaction (min-overlap: it rewrites "
                      "0.20 bytes of L3 per byte, the fewest in L2)");
    compaction_task_free(&t);

    /* An SST over nothing below rewrites nothing: it goes first. */
    s.runs[2].ssts[5].first_key = (const uint8_t *)"m";
    s.runs[2].ssts[5].last_key = (const uint8_t *)"m";
    assert_true(pick(&o, &s, &t));
    ASSERT_IDS(t.upper, t.n_upper, 23);
    assert_int_equal(t.n_lower, 0);
    assert_reason(&t, "rewrites 0.00 bytes of L3 per byte");
    compaction_task_free(&t);

    o.leveled_pick = (lsm_leveled_pick)2;
    bool found = true;
    assert_int_equal(compact_pick(&o, &s, &t, &found), LSM_EINVAL);
    assert_false(found);
    assert_non_null(strstr(lsm_errmsg(), "leveled_pick"));
    shape_free(&s);
}

/* Static level sizes (LevelDB's): L1 is the base level whatever lies
 * below, each level's target the multiplier times the one above. */
static void test_leveled_static_sizes(void **state)
{
    (void)state;
    lsm_options o = leveled_opts();
    o.level_sizes = LSM_LEVEL_SIZES_STATIC;
    o.base_level_size_mb = 10;
    o.level_size_multiplier = 10;
    uint64_t real[4] = {0, 0, 0, 5000 * MiB}, target[4];
    compact_leveled_targets(&o, real, 4, target);
    assert_int_equal(target[0], 10 * MiB);
    assert_int_equal(target[1], 100 * MiB);
    assert_int_equal(target[2], 1000 * MiB);
    assert_int_equal(target[3], 10000 * MiB);
    o.level_size_multiplier = UINT_MAX; /* saturates, never wraps */
    compact_leveled_targets(&o, real, 4, target);
    assert_int_equal(target[2], UINT64_MAX);
    assert_int_equal(target[3], UINT64_MAX);
    o.level_size_multiplier = 10;

    compaction_task t;
    shape s;
    levels_init(&s, 4);
    add_level(&s, 4, T(40, 500 * MiB, "a", "z"));
    add_l0(&s, T(51, MiB, "c", "d"));
    add_l0(&s, T(50, MiB, "b", "e"));
    assert_true(pick(&o, &s, &t)); /* dynamic would go to L4 */
    assert_levels_task(&t, LSM_TRIGGER_L0_FILES, 0, 1, false);
    assert_string_equal(t.reason, "flush L0 SST to base level 1");
    compaction_task_free(&t);
    s.n_l0 = 0;
    assert_false(pick(&o, &s, &t)); /* L4 under its 10,000 MiB */

    add_level(&s, 1, T(10, 6 * MiB, "a", "b"));
    add_level(&s, 1, T(11, 6 * MiB, "c", "d"));
    assert_true(pick(&o, &s, &t)); /* L1 12/10 MiB */
    assert_levels_task(&t, LSM_TRIGGER_LEVEL_PRIORITY, 1, 2, false);
    ASSERT_IDS(t.upper, t.n_upper, 10);
    assert_reason(&t, "base_level: 1\ncompaction triggered by priority: 1 "
                      "out of [(1.2, 1)]");
    compaction_task_free(&t);
    s.n_l0 = 2;
    shape_free(&s);

    o.level_sizes = (lsm_level_sizes)2;
    bool found = true;
    levels_init(&s, 4);
    assert_int_equal(compact_pick(&o, &s, &t, &found), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "level_sizes"));
    shape_free(&s);
}

/* A due L0 waits while a level is further over its target than L0 is
 * over its trigger (threads mode, where flushes go on during compactions);
 * at equal scores, and whenever the level is within its target, L0 goes
 * first, as the book has it. */
static void test_leveled_level_before_l0(void **state)
{
    (void)state;
    lsm_options o = leveled_opts();
    o.level_sizes = LSM_LEVEL_SIZES_STATIC;
    o.base_level_size_mb = 10;
    o.level_size_multiplier = 10;
    o.level0_file_num_compaction_trigger = 4;
    compaction_task t;
    shape s;
    levels_init(&s, 3);
    add_level(&s, 1, T(10, 10 * MiB, "a", "c"));
    add_level(&s, 1, T(11, 10 * MiB, "d", "f"));
    add_level(&s, 1, T(12, 10 * MiB, "g", "i")); /* L1 30/10 MiB: 3.0 */
    for (size_t i = 0; i < 4; i++)
        add_l0(&s, T(60 - i, MiB, "b", "h"));
    assert_true(pick(&o, &s, &t)); /* L0 4/4 = 1.0 */
    assert_levels_task(&t, LSM_TRIGGER_LEVEL_PRIORITY, 1, 2, false);
    ASSERT_IDS(t.upper, t.n_upper, 10);
    assert_reason(&t, "out of [(3.0, 1)], select 10 for compaction (ahead of "
                      "L0: its 4 SSTs are only 1.00x the trigger of 4)");
    compaction_task_free(&t);

    for (size_t i = 4; i < 12; i++)
        add_l0(&s, T(60 - i, MiB, "b", "h"));
    assert_true(pick(&o, &s, &t)); /* 12/4 = 3.0: a tie goes to L0 */
    assert_levels_task(&t, LSM_TRIGGER_L0_FILES, 0, 1, false);
    assert_int_equal(t.n_upper, 12);
    ASSERT_IDS(t.lower, t.n_lower, 10, 11, 12);
    assert_string_equal(t.reason, "flush L0 SST to base level 1");
    compaction_task_free(&t);

    s.n_l0 = 4; /* L1 within its target: L0 goes at its trigger */
    s.runs[0].n_ssts = 1;
    assert_true(pick(&o, &s, &t));
    assert_levels_task(&t, LSM_TRIGGER_L0_FILES, 0, 1, false);
    compaction_task_free(&t);
    s.runs[0].n_ssts = 3;
    s.n_l0 = 12;
    shape_free(&s);
}

/* --- shape_apply and friends ---------------------------------------------- */

static void apply_ok(const shape *in, const compaction_task *t,
                     const shape_sst *outputs, size_t n_outputs,
                     const char *want)
{
    shape out;
    char before[4096];
    strcpy(before, shape_str(in));
    assert_int_equal(shape_apply(in, t, outputs, n_outputs, &out), LSM_OK);
    assert_string_equal(shape_str(&out), want);
    assert_string_equal(shape_str(in), before);
    shape_free(&out);
}

static void apply_fails(const shape *in, const compaction_task *t,
                        const shape_sst *outputs, size_t n_outputs)
{
    shape out;
    char before[4096];
    strcpy(before, shape_str(in));
    memset(&out, 0xab, sizeof out);
    assert_int_equal(shape_apply(in, t, outputs, n_outputs, &out), LSM_EINVAL);
    assert_int_equal(out.n_runs, 0);
    assert_int_equal(out.n_l0, 0);
    assert_null(out.runs);
    assert_string_equal(shape_str(in), before);
}

/* A levels task over caller-owned id arrays (not freed). */
static compaction_task level_task(size_t upper_level, const uint64_t *upper,
                                  size_t n_upper, size_t lower_level,
                                  const uint64_t *lower, size_t n_lower)
{
    return (compaction_task){.upper_level = upper_level,
                             .upper = (uint64_t *)upper,
                             .n_upper = n_upper,
                             .lower_level = lower_level,
                             .lower = (uint64_t *)lower,
                             .n_lower = n_lower};
}

static compaction_task tier_task(const uint64_t *ids, size_t n)
{
    return (compaction_task){.tier_ids = (uint64_t *)ids, .n_tiers = n};
}

static void partial_tree(shape *s)
{
    levels_init(s, 2);
    add_level(s, 1, T(5, 1, "a", "b"));
    add_level(s, 1, T(6, 1, "c", "d"));
    add_level(s, 1, T(7, 1, "e", "f"));
    add_level(s, 2, T(1, 1, "a", "a"));
    add_level(s, 2, T(2, 1, "c", "c"));
    add_level(s, 2, T(3, 1, "e", "e"));
    add_level(s, 2, T(4, 1, "g", "h"));
}

static void test_apply_levels(void **state)
{
    (void)state;
    shape s;
    partial_tree(&s);
    compaction_task t = level_task(1, IDS(6), 1, 2, IDS(2), 1);
    shape_sst one[] = {T(10, 2, "c", "d")};
    apply_ok(&s, &t, one, 1, "L0[] L1[5 7] L2[1 10 3 4]");
    shape_sst two[] = {T(10, 1, "c", "c"), T(11, 1, "d", "d")};
    apply_ok(&s, &t, two, 2, "L0[] L1[5 7] L2[1 10 11 3 4]");
    /* Outputs before and after every remaining SST. */
    t = level_task(1, IDS(5, 7), 2, 2, IDS(1, 3, 4), 3);
    shape_sst ends[] = {T(12, 1, "a", "b"), T(13, 1, "e", "h")};
    apply_ok(&s, &t, ends, 2, "L0[] L1[6] L2[12 2 13]");
    /* Empty outputs: the inputs just leave. */
    apply_ok(&s, &t, NULL, 0, "L0[] L1[6] L2[2]");
    shape_free(&s);

    /* L0 into L1 while a newer flush (3) arrived: it stays. */
    levels_init(&s, 1);
    add_l0(&s, T(3, 1, "a", "z"));
    add_l0(&s, T(2, 1, "a", "z"));
    add_l0(&s, T(1, 1, "a", "z"));
    t = level_task(0, IDS(2, 1), 2, 1, NULL, 0);
    shape_sst wide[] = {T(20, 1, "a", "m"), T(21, 1, "n", "z")};
    apply_ok(&s, &t, wide, 2, "L0[3] L1[20 21]");
    shape_free(&s);
}

/* Trivial moves: which picked leveled tasks may move, and the outputs a
 * move installs. */
static void test_move_predicate(void **state)
{
    (void)state;
    lsm_options o = leveled_opts();
    compaction_task t;
    shape s;
    levels_init(&s, 4);
    add_l0(&s, T(2, 1, "m", "p"));
    add_l0(&s, T(1, 1, "a", "c"));
    add_level(&s, 4, T(40, 1, "d", "f"));
    add_level(&s, 4, T(41, 1, "q", "z"));
    /* L0's range a..p overlaps 40, so the pick merges: no move. */
    assert_true(pick(&o, &s, &t));
    ASSERT_IDS(t.lower, t.n_lower, 40);
    assert_false(compaction_task_is_move(&o, &t, &s));
    compaction_task_free(&t);
    shape_free(&s);

    /* The same L0 over a gap of L4 (d..f gone): a move, outputs in key
     * order (1 before 2), installed between 41's neighbours. */
    levels_init(&s, 4);
    add_l0(&s, T(2, 1, "m", "p"));
    add_l0(&s, T(1, 1, "a", "c"));
    add_level(&s, 4, T(41, 1, "q", "z"));
    assert_true(pick(&o, &s, &t));
    assert_int_equal(t.n_lower, 0);
    assert_true(compaction_task_is_move(&o, &t, &s));
    shape_sst *outs = NULL;
    assert_int_equal(compaction_move_outputs(&t, &s, &outs), LSM_OK);
    assert_int_equal(outs[0].sst_id, 1);
    assert_int_equal(outs[1].sst_id, 2);
    apply_ok(&s, &t, outs, 2, "L0[] L1[] L2[] L3[] L4[1 2 41]");
    free(outs);
    /* Not for simple or tiered options, nor for a full compaction. */
    lsm_options simple = opts(LSM_COMPACTION_SIMPLE);
    assert_false(compaction_task_is_move(&simple, &t, &s));
    t.trigger = LSM_TRIGGER_FULL;
    assert_false(compaction_task_is_move(&o, &t, &s));
    compaction_task_free(&t);
    shape_free(&s);

    /* L0 SSTs sharing a key (touching at "c") never move: in a run a key
     * lives in one SST. */
    levels_init(&s, 4);
    add_l0(&s, T(2, 1, "c", "e"));
    add_l0(&s, T(1, 1, "a", "c"));
    assert_true(pick(&o, &s, &t));
    assert_int_equal(t.n_lower, 0);
    assert_false(compaction_task_is_move(&o, &t, &s));
    compaction_task_free(&t);
    shape_free(&s);
}

/* A level's SST moves when nothing below overlaps it; a level in between
 * holding an overlapping SST (older data) forbids it. */
static void test_move_level(void **state)
{
    (void)state;
    lsm_options o = leveled_opts();
    shape s;
    levels_init(&s, 4);
    add_level(&s, 2, T(20, 1, "a", "c"));
    add_level(&s, 2, T(21, 1, "d", "f"));
    add_level(&s, 3, T(30, 1, "e", "e"));
    add_level(&s, 4, T(40, 1, "x", "z"));
    compaction_task t = level_task(2, IDS(20), 1, 3, NULL, 0);
    assert_true(compaction_task_is_move(&o, &t, &s));
    shape_sst *outs = NULL;
    assert_int_equal(compaction_move_outputs(&t, &s, &outs), LSM_OK);
    apply_ok(&s, &t, outs, 1, "L0[] L1[] L2[21] L3[20 30] L4[40]");
    free(outs);
    /* 21 (d..f) into L4 would pass 30 (e) in L3. */
    t = level_task(2, IDS(21), 1, 4, NULL, 0);
    assert_false(compaction_task_is_move(&o, &t, &s));
    /* A task naming lower SSTs reads them: a merge. */
    t = level_task(2, IDS(21), 1, 3, IDS(30), 1);
    assert_false(compaction_task_is_move(&o, &t, &s));
    /* Inputs from two levels, or missing from the tree: no move. */
    t = level_task(2, IDS(21, 30), 2, 4, NULL, 0);
    assert_false(compaction_task_is_move(&o, &t, &s));
    t = level_task(2, IDS(99), 1, 3, NULL, 0);
    assert_false(compaction_task_is_move(&o, &t, &s));
    assert_int_equal(compaction_move_outputs(&t, &s, &outs), LSM_EINVAL);
    assert_null(outs);
    shape_free(&s);
}

static void test_apply_full_levels(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_LEVELED);
    o.max_levels = 3;
    shape s;
    levels_init(&s, 3);
    add_l0(&s, T(9, 1, "m", "n"));
    add_l0(&s, T(8, 1, "a", "z"));
    add_level(&s, 1, T(5, 1, "a", "c"));
    add_level(&s, 1, T(6, 1, "x", "y"));
    add_level(&s, 2, T(4, 1, "d", "e"));
    add_level(&s, 3, T(1, 1, "a", "b"));
    add_level(&s, 3, T(2, 1, "c", "d"));
    compaction_task t;
    bool found = false;
    assert_int_equal(compact_pick_full(&o, &s, &t, &found), LSM_OK);
    assert_true(found);
    assert_levels_task(&t, LSM_TRIGGER_FULL, 0, 3, true);
    ASSERT_IDS(t.upper, t.n_upper, 9, 8, 5, 6, 4);
    ASSERT_IDS(t.lower, t.n_lower, 1, 2);
    assert_reason(&t, "full compaction: 7 SSTs into L3");
    uint64_t *ids = NULL;
    size_t n = compaction_task_inputs(&t, &s, &ids);
    ASSERT_IDS(ids, n, 9, 8, 5, 6, 4, 1, 2);
    free(ids);
    shape_sst outs[] = {T(30, 1, "a", "m"), T(31, 1, "n", "z")};
    apply_ok(&s, &t, outs, 2, "L0[] L1[] L2[] L3[30 31]");
    compaction_task_free(&t);

    /* NONE: everything into its one level. */
    o = opts(LSM_COMPACTION_NONE);
    shape one;
    levels_init(&one, 1);
    add_l0(&one, T(2, 1, "a", "b"));
    add_l0(&one, T(1, 1, "c", "d"));
    assert_int_equal(compact_pick_full(&o, &one, &t, &found), LSM_OK);
    assert_true(found);
    assert_levels_task(&t, LSM_TRIGGER_FULL, 0, 1, true);
    ASSERT_IDS(t.upper, t.n_upper, 2, 1);
    assert_int_equal(t.n_lower, 0);
    compaction_task_free(&t);
    shape_free(&one);

    /* Nothing to compact. */
    levels_init(&one, 3);
    assert_int_equal(compact_pick_full(&o, &one, &t, &found), LSM_OK);
    assert_false(found);
    assert_int_equal(t.n_upper + t.n_lower, 0);
    shape_free(&one);

    /* No level to write to. */
    levels_init(&one, 0);
    add_l0(&one, T(1, 1, "a", "b"));
    assert_int_equal(compact_pick_full(&o, &one, &t, &found), LSM_EINVAL);
    assert_false(found);
    shape_free(&one);
    shape_free(&s);
}

static void test_apply_tiers(void **state)
{
    (void)state;
    shape s;
    tiers_init(&s);
    add_tier(&s, 12, 1);
    add_tier(&s, 10, 1);
    add_tier(&s, 8, 2);
    add_tier(&s, 5, 2);
    add_tier(&s, 1, 2);
    shape_sst outs[] = {T(20, 1, "a", "b"), T(21, 1, "c", "d")};
    compaction_task t = tier_task(IDS(8, 5), 2);
    apply_ok(&s, &t, outs, 2, "T12[12] T10[10] T20[20 21] T1[1 2]");
    /* The tier list's order does not matter: the newest position does. */
    t = tier_task(IDS(5, 8), 2);
    apply_ok(&s, &t, outs, 2, "T12[12] T10[10] T20[20 21] T1[1 2]");
    /* Older tiers stay behind the new one. */
    t = tier_task(IDS(10, 8), 2);
    apply_ok(&s, &t, outs, 2, "T12[12] T20[20 21] T5[5 6] T1[1 2]");
    /* A tier flushed during the compaction (12) stays in front. */
    t = tier_task(IDS(10, 8, 5, 1), 4);
    apply_ok(&s, &t, outs, 2, "T12[12] T20[20 21]");
    /* Empty outputs: the tiers go, nothing replaces them. */
    apply_ok(&s, &t, NULL, 0, "T12[12]");
    t = tier_task(IDS(12, 10, 8, 5, 1), 5);
    apply_ok(&s, &t, NULL, 0, "");

    lsm_options o = opts(LSM_COMPACTION_TIERED);
    bool found = false;
    assert_int_equal(compact_pick_full(&o, &s, &t, &found), LSM_OK);
    assert_true(found);
    assert_tiers_task(&t, LSM_TRIGGER_FULL, true);
    ASSERT_IDS(t.tier_ids, t.n_tiers, 12, 10, 8, 5, 1);
    assert_reason(&t, "full compaction: 5 tiers into one");
    uint64_t *ids = NULL;
    size_t n = compaction_task_inputs(&t, &s, &ids);
    ASSERT_IDS(ids, n, 12, 10, 8, 9, 5, 6, 1, 2);
    free(ids);
    apply_ok(&s, &t, outs, 2, "T20[20 21]");
    compaction_task_free(&t);
    shape_free(&s);

    tiers_init(&s);
    assert_int_equal(compact_pick_full(&o, &s, &t, &found), LSM_OK);
    assert_false(found);
    shape_free(&s);
}

static void test_apply_errors(void **state)
{
    (void)state;
    shape s;
    partial_tree(&s);
    shape_sst out = T(10, 1, "c", "d");
    compaction_task t = level_task(1, IDS(99), 1, 2, IDS(2), 1);
    apply_fails(&s, &t, &out, 1); /* unknown upper */
    t = level_task(1, IDS(3), 1, 2, IDS(2), 1);
    apply_fails(&s, &t, &out, 1); /* upper in the output level */
    t = level_task(1, IDS(6), 1, 2, IDS(5), 1);
    apply_fails(&s, &t, &out, 1); /* lower not in the output level */
    t = level_task(1, IDS(6, 6), 2, 2, IDS(2), 1);
    apply_fails(&s, &t, &out, 1); /* the same input twice */
    t = level_task(1, IDS(6), 1, 0, IDS(2), 1);
    apply_fails(&s, &t, &out, 1); /* output level L0 */
    t = level_task(1, IDS(6), 1, 3, IDS(2), 1);
    apply_fails(&s, &t, &out, 1); /* output level below the last */
    t = level_task(1, IDS(6), 1, 2, IDS(2), 1);
    shape_sst wide = T(10, 1, "c", "f");
    apply_fails(&s, &t, &wide, 1); /* overlaps SST 3 left in L2 */
    shape_sst backwards = T(10, 1, "d", "c");
    apply_fails(&s, &t, &backwards, 1);
    shape_sst unsorted[] = {T(11, 1, "d", "d"), T(10, 1, "c", "c")};
    apply_fails(&s, &t, unsorted, 2);
    shape_sst overlapping[] = {T(10, 1, "c", "d"), T(11, 1, "c", "d")};
    apply_fails(&s, &t, overlapping, 2);
    apply_fails(&s, &t, NULL, 1);
    compaction_task tt = tier_task(IDS(1), 1);
    apply_fails(&s, &tt, &out, 1); /* a tiered task on levels */
    shape dummy;
    assert_int_equal(shape_apply(NULL, &t, &out, 1, &dummy), LSM_EINVAL);
    assert_int_equal(shape_apply(&s, NULL, &out, 1, &dummy), LSM_EINVAL);
    assert_int_equal(shape_apply(&s, &t, &out, 1, NULL), LSM_EINVAL);
    shape_free(&s);

    tiers_init(&s);
    add_tier(&s, 10, 1);
    add_tier(&s, 5, 1);
    tt = tier_task(IDS(10, 6), 2);
    apply_fails(&s, &tt, &out, 1); /* 6 is an SST, not a tier */
    tt = tier_task(IDS(10, 10), 2);
    apply_fails(&s, &tt, &out, 1);
    tt = tier_task(NULL, 0);
    apply_fails(&s, &tt, &out, 1);
    t = level_task(0, NULL, 0, 1, IDS(10), 1);
    apply_fails(&s, &t, &out, 1); /* a levels task on tiers */
    shape_free(&s);
}

static void test_add_flush(void **state)
{
    (void)state;
    shape s;
    levels_init(&s, 2);
    shape_sst a = T(1, 1, "a", "b"), b = T(2, 1, "c", "d");
    assert_int_equal(shape_add_flush(&s, &a), LSM_OK);
    assert_int_equal(shape_add_flush(&s, &b), LSM_OK);
    assert_string_equal(shape_str(&s), "L0[2 1] L1[] L2[]");
    shape_sst bad = T(3, 1, "z", "a");
    assert_int_equal(shape_add_flush(&s, &bad), LSM_EINVAL);
    assert_int_equal(shape_add_flush(&s, NULL), LSM_EINVAL);
    assert_int_equal(shape_add_flush(NULL, &a), LSM_EINVAL);
    assert_string_equal(shape_str(&s), "L0[2 1] L1[] L2[]");
    shape_free(&s);

    tiers_init(&s);
    assert_int_equal(shape_add_flush(&s, &a), LSM_OK);
    assert_int_equal(shape_add_flush(&s, &b), LSM_OK);
    assert_string_equal(shape_str(&s), "T2[2] T1[1]");
    assert_int_equal(s.n_l0, 0);
    shape_free(&s);
}

static void test_task_inputs(void **state)
{
    (void)state;
    shape s;
    tiers_init(&s);
    add_tier(&s, 10, 2);
    add_tier(&s, 5, 1);
    compaction_task t = level_task(1, IDS(3, 2), 2, 2, IDS(7), 1);
    uint64_t *ids = NULL;
    size_t n = compaction_task_inputs(&t, NULL, &ids);
    ASSERT_IDS(ids, n, 3, 2, 7);
    free(ids);
    t = tier_task(IDS(10, 5), 2);
    n = compaction_task_inputs(&t, &s, &ids);
    ASSERT_IDS(ids, n, 10, 11, 5);
    free(ids);
    t = tier_task(IDS(99, 5), 2); /* a missing tier adds nothing */
    n = compaction_task_inputs(&t, &s, &ids);
    ASSERT_IDS(ids, n, 5);
    free(ids);
    assert_int_equal(compaction_task_inputs(NULL, &s, &ids), 0);
    assert_null(ids);
    shape_free(&s);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_LEVELED);
    compaction_task t;
    bool found = true;
    shape levels, tiers;
    levels_init(&levels, 4);
    tiers_init(&tiers);
    assert_int_equal(compact_pick(NULL, &levels, &t, &found), LSM_EINVAL);
    assert_false(found);
    assert_int_equal(compact_pick(&o, NULL, &t, &found), LSM_EINVAL);
    assert_int_equal(compact_pick(&o, &levels, NULL, &found), LSM_EINVAL);
    assert_int_equal(compact_pick(&o, &levels, &t, NULL), LSM_EINVAL);
    assert_int_equal(compact_pick_full(&o, &levels, &t, NULL), LSM_EINVAL);
    /* The layout must match the strategy. */
    assert_int_equal(compact_pick(&o, &tiers, &t, &found), LSM_EINVAL);
    o.compaction = LSM_COMPACTION_TIERED;
    assert_int_equal(compact_pick(&o, &levels, &t, &found), LSM_EINVAL);
    assert_int_equal(compact_pick_full(&o, &levels, &t, &found), LSM_EINVAL);
    add_l0(&tiers, T(1, 1, "a", "b")); /* tiers keep L0 empty */
    assert_int_equal(compact_pick(&o, &tiers, &t, &found), LSM_EINVAL);
    o.compaction = (lsm_compaction)99;
    assert_int_equal(compact_pick(&o, &levels, &t, &found), LSM_EINVAL);
    /* A task full of garbage comes back zeroed when nothing is due. */
    o.compaction = LSM_COMPACTION_SIMPLE;
    memset(&t, 0x5a, sizeof t);
    found = true;
    assert_int_equal(compact_pick(&o, &levels, &t, &found), LSM_OK);
    assert_false(found);
    assert_null(t.upper);
    assert_null(t.lower);
    assert_null(t.tier_ids);
    assert_int_equal(t.reason[0], '\0');
    compaction_task_free(NULL);
    compaction_task_free(&t);
    shape_free(NULL);
    shape_free(&tiers);
    shape_free(&levels);
}

/* --- the simulator -------------------------------------------------------- */

/* Keys are 8-byte big-endian numbers, so byte order is numeric order.
 *
 * Unkeyed runs are like mini-lsm's simulator: a flush is one SST
 * over a random key range, and a compaction makes one output per
 * per_output inputs over the inputs' whole key range, keeping their bytes.
 * Keyed runs model the data too: SIM_KEYS keys, each flush writes or
 * deletes some of them with its flush number as the version (more deletes
 * in the second half, so the bottom shrinks and the leveled base level
 * moves down), a compaction keeps each key's newest version and drops
 * tombstones when its output is the bottom, and after every step a read of
 * every key, in the engine's read order (L0 newest first, then each run),
 * must find the key's newest version, or nothing for a deleted key. So a
 * task that lets newer data pass older data, or claims the bottom while
 * something lies below, fails the run. */
#define SIM_KEYS 128
#define SIM_TOMBSTONE 0x80000000u /* flag on a version: a deletion */

static uint32_t sim_version(uint32_t v)
{
    return v & ~SIM_TOMBSTONE;
}

typedef struct sim_config {
    size_t per_output;    /* one output SST per this many inputs */
    uint64_t flush_bytes; /* unkeyed: a flush's size, +-50%; keyed: a key's */
    bool keyed;
    bool lagging; /* at most 2 compactions after a flush */
    size_t n_flushes;
    uint64_t seed;
} sim_config;

typedef struct sim {
    lsm_options o;
    sim_config c;
    shape s;
    size_t n_levels;     /* levels strategies: the shape's run count */
    uint64_t live_bytes; /* what the shape must hold */
    uint64_t next_id;    /* SST ids, as the engine hands them out */
    uint64_t rng;        /* test_rng_next state */
    uint64_t *oldest;    /* per SST id: the oldest flush in it */
    uint64_t *newest;    /* per SST id: the newest flush in it */
    uint32_t **versions; /* keyed, per SST id: each key's version, 0 absent */
    size_t cap_ids;
    uint32_t latest[SIM_KEYS]; /* keyed: each key's newest version */
    uint8_t **keys; /* every key handed to the shape, freed at the end */
    size_t n_keys, cap_keys;
} sim;

static uint64_t sim_rand(sim *m)
{
    return test_rng_next(&m->rng);
}

static const uint8_t *sim_key(sim *m, uint64_t v)
{
    if (m->n_keys == m->cap_keys) {
        m->cap_keys = m->cap_keys ? 2 * m->cap_keys : 256;
        m->keys = realloc(m->keys, m->cap_keys * sizeof *m->keys);
        assert_non_null(m->keys);
    }
    uint8_t *k = malloc(8);
    assert_non_null(k);
    for (int i = 0; i < 8; i++)
        k[i] = (uint8_t)(v >> (56 - 8 * i));
    m->keys[m->n_keys++] = k;
    return k;
}

static uint64_t key_value(const uint8_t *k, size_t n)
{
    assert_int_equal(n, 8);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | k[i];
    return v;
}

static void sim_grow_ids(sim *m, uint64_t id)
{
    if (id < m->cap_ids)
        return;
    size_t cap = 2 * id + 64;
    m->oldest = realloc(m->oldest, cap * sizeof *m->oldest);
    m->newest = realloc(m->newest, cap * sizeof *m->newest);
    m->versions = realloc(m->versions, cap * sizeof *m->versions);
    assert_non_null(m->oldest);
    assert_non_null(m->newest);
    assert_non_null(m->versions);
    for (size_t i = m->cap_ids; i < cap; i++)
        m->versions[i] = NULL;
    m->cap_ids = cap;
}

/* A fresh SST over [lo, hi] holding data from flushes [old, new]; takes
 * the keyed version array (or NULL). */
static shape_sst sim_new_sst(sim *m, uint64_t lo, uint64_t hi, uint64_t bytes,
                             uint64_t old, uint64_t new, uint32_t *versions)
{
    uint64_t id = m->next_id++;
    sim_grow_ids(m, id);
    m->oldest[id] = old;
    m->newest[id] = new;
    m->versions[id] = versions;
    return (shape_sst){.sst_id = id,
                       .size_bytes = bytes,
                       .first_key = sim_key(m, lo),
                       .nfirst_key = 8,
                       .last_key = sim_key(m, hi),
                       .nlast_key = 8};
}

static void sim_init(sim *m, lsm_options o, sim_config c)
{
    memset(m, 0, sizeof *m);
    m->o = o;
    m->c = c;
    m->next_id = 1;
    m->rng = c.seed;
    if (o.compaction == LSM_COMPACTION_TIERED) {
        tiers_init(&m->s);
    } else {
        m->n_levels = o.max_levels;
        levels_init(&m->s, m->n_levels);
    }
}

static void sim_free(sim *m)
{
    shape_free(&m->s);
    for (size_t i = 0; i < m->n_keys; i++)
        free(m->keys[i]);
    for (size_t i = 0; i < m->cap_ids; i++)
        free(m->versions[i]);
    free(m->keys);
    free(m->oldest);
    free(m->newest);
    free(m->versions);
}

static const shape_sst *sim_find(const shape *s, uint64_t id)
{
    for (size_t i = 0; i < s->n_l0; i++)
        if (s->l0[i].sst_id == id)
            return &s->l0[i];
    for (size_t r = 0; r < s->n_runs; r++)
        for (size_t i = 0; i < s->runs[r].n_ssts; i++)
            if (s->runs[r].ssts[i].sst_id == id)
                return &s->runs[r].ssts[i];
    fail_msg("task input %llu is not in the shape", (unsigned long long)id);
    return NULL;
}

/* Keyed: writes or deletes up to 48 neighbouring keys, always the first
 * and last. */
static shape_sst sim_flush_keyed(sim *m, uint64_t flush_no)
{
    uint32_t *v = calloc(SIM_KEYS, sizeof *v);
    assert_non_null(v);
    size_t lo = sim_rand(m) % SIM_KEYS;
    size_t hi = lo + sim_rand(m) % 48;
    hi = hi < SIM_KEYS ? hi : SIM_KEYS - 1;
    uint64_t delete_in_8 = 2 * flush_no > m->c.n_flushes ? 7 : 1;
    size_t n = 0;
    for (size_t k = lo; k <= hi; k++) {
        if (k == lo || k == hi || sim_rand(m) % 4 != 0) {
            bool del = sim_rand(m) % 8 < delete_in_8;
            v[k] = (uint32_t)flush_no | (del ? SIM_TOMBSTONE : 0);
            m->latest[k] = v[k];
            n++;
        }
    }
    return sim_new_sst(m, lo, hi, n * m->c.flush_bytes, flush_no, flush_no, v);
}

static void sim_flush(sim *m, uint64_t flush_no)
{
    shape_sst x;
    if (m->c.keyed) {
        x = sim_flush_keyed(m, flush_no);
    } else {
        uint64_t lo = sim_rand(m) % 1000000;
        uint64_t hi = lo + sim_rand(m) % 50000;
        uint64_t half = m->c.flush_bytes / 2;
        uint64_t bytes = half + sim_rand(m) % (m->c.flush_bytes + 1);
        x = sim_new_sst(m, lo, hi, bytes, flush_no, flush_no, NULL);
    }
    assert_int_equal(shape_add_flush(&m->s, &x), LSM_OK);
    m->live_bytes += x.size_bytes;
}

/* Checks that the task is well formed for the shape it came from. */
static void sim_check_task(const sim *m, const compaction_task *t,
                           size_t n_inputs)
{
    const shape *s = &m->s;
    assert_true(n_inputs > 0);
    assert_true(t->reason[0] != '\0');
    if (s->tiered) {
        /* A strategy's task always shrinks the tier count; a full
         * compaction may rewrite a lone tier. */
        assert_true(t->n_tiers >= (t->trigger == LSM_TRIGGER_FULL ? 1u : 2u));
        assert_int_equal(t->n_upper + t->n_lower, 0);
        bool has_last = false;
        for (size_t i = 0; i < t->n_tiers; i++) {
            /* the newest tiers, in order */
            assert_int_equal(t->tier_ids[i], s->runs[i].run_id);
            has_last |= i + 1 == s->n_runs;
        }
        assert_int_equal(t->output_is_bottom, has_last);
        return;
    }
    assert_int_equal(t->n_tiers, 0);
    assert_true(t->upper_level < t->lower_level);
    assert_true(t->lower_level <= s->n_runs);
    assert_int_equal(t->output_is_bottom, t->lower_level == s->n_runs);
    if (t->trigger == LSM_TRIGGER_FULL)
        assert_int_equal(t->lower_level, s->n_runs);
    else if (m->o.compaction == LSM_COMPACTION_SIMPLE || t->upper_level > 0)
        assert_int_equal(t->lower_level, t->upper_level + 1);
}

/* What a task reads: its key range, bytes, flush ages and (keyed) each
 * key's newest version among the inputs. */
typedef struct sim_input {
    size_t n;
    uint64_t lo, hi, bytes, old, new;
    uint32_t merged[SIM_KEYS];
} sim_input;

static void sim_gather(const sim *m, const uint64_t *ids, size_t n,
                       sim_input *in)
{
    memset(in, 0, sizeof *in);
    in->n = n;
    in->lo = in->old = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        const shape_sst *x = sim_find(&m->s, ids[i]);
        uint64_t f = key_value(x->first_key, x->nfirst_key);
        uint64_t l = key_value(x->last_key, x->nlast_key);
        uint64_t id = x->sst_id;
        in->lo = f < in->lo ? f : in->lo;
        in->hi = l > in->hi ? l : in->hi;
        in->bytes += x->size_bytes;
        in->old = m->oldest[id] < in->old ? m->oldest[id] : in->old;
        in->new = m->newest[id] > in->new ? m->newest[id] : in->new;
        for (size_t k = 0; m->c.keyed && k < SIM_KEYS; k++)
            if (sim_version(m->versions[id][k]) > sim_version(in->merged[k]))
                in->merged[k] = m->versions[id][k];
    }
}

/* Unkeyed outputs: the inputs' range and bytes split evenly. */
static size_t sim_outputs_split(sim *m, const sim_input *in, shape_sst *outs)
{
    uint64_t span = in->hi - in->lo + 1;
    size_t k = (in->n + m->c.per_output - 1) / m->c.per_output;
    k = k < span ? k : (size_t)span;
    for (size_t j = 0; j < k; j++) {
        uint64_t from = in->lo + span * j / k;
        uint64_t to = in->lo + span * (j + 1) / k - 1;
        uint64_t b = in->bytes / k + (j + 1 == k ? in->bytes % k : 0);
        outs[j] = sim_new_sst(m, from, to, b, in->old, in->new, NULL);
    }
    return k;
}

/* Keyed outputs: the surviving keys (tombstones die at the bottom) split
 * evenly, each output spanning exactly its first to last key. */
static size_t sim_outputs_keyed(sim *m, const sim_input *in, bool bottom,
                                shape_sst *outs)
{
    size_t present[SIM_KEYS], n_present = 0;
    for (size_t k = 0; k < SIM_KEYS; k++)
        if (in->merged[k] && !(bottom && (in->merged[k] & SIM_TOMBSTONE)))
            present[n_present++] = k;
    size_t k = (in->n + m->c.per_output - 1) / m->c.per_output;
    k = k < n_present ? k : n_present;
    for (size_t j = 0; j < k; j++) {
        size_t from = n_present * j / k, to = n_present * (j + 1) / k;
        uint32_t *v = calloc(SIM_KEYS, sizeof *v);
        assert_non_null(v);
        for (size_t i = from; i < to; i++)
            v[present[i]] = in->merged[present[i]];
        outs[j] =
            sim_new_sst(m, present[from], present[to - 1],
                        (to - from) * m->c.flush_bytes, in->old, in->new, v);
    }
    return k;
}

/* Runs the task and applies it. */
static void sim_compact(sim *m, const compaction_task *t)
{
    uint64_t *ids = NULL;
    size_t n = compaction_task_inputs(t, &m->s, &ids);
    sim_check_task(m, t, n);
    sim_input in;
    sim_gather(m, ids, n, &in);
    free(ids);
    shape_sst *outs = calloc(n, sizeof *outs);
    assert_non_null(outs);
    size_t k = m->c.keyed ? sim_outputs_keyed(m, &in, t->output_is_bottom, outs)
                          : sim_outputs_split(m, &in, outs);
    shape next;
    assert_int_equal(shape_apply(&m->s, t, outs, k, &next), LSM_OK);
    m->live_bytes -= in.bytes;
    for (size_t j = 0; j < k; j++)
        m->live_bytes += outs[j].size_bytes;
    free(outs);
    shape_free(&m->s);
    m->s = next;
}

/* Keyed: the version a read of `key` finds, in the engine's order. */
static uint32_t sim_read(const sim *m, uint64_t key)
{
    const shape *s = &m->s;
    for (size_t i = 0; i < s->n_l0; i++) {
        uint32_t v = m->versions[s->l0[i].sst_id][key];
        if (v)
            return v;
    }
    for (size_t r = 0; r < s->n_runs; r++) {
        const shape_run *run = &s->runs[r];
        for (size_t i = 0; i < run->n_ssts; i++) {
            const shape_sst *x = &run->ssts[i];
            if (key >= key_value(x->first_key, x->nfirst_key) &&
                key <= key_value(x->last_key, x->nlast_key)) {
                uint32_t v = m->versions[x->sst_id][key];
                if (v)
                    return v;
                break; /* one SST of a run can hold the key */
            }
        }
    }
    return 0;
}

/* Every key reads its latest version; a deleted key may also read
 * nothing, once its tombstone reached the bottom. */
static void sim_check_reads(const sim *m)
{
    for (uint64_t key = 0; m->c.keyed && key < SIM_KEYS; key++) {
        uint32_t got = sim_read(m, key), want = m->latest[key];
        if (got != want && !(got == 0 && (want & SIM_TOMBSTONE)))
            fail_msg("key %llu reads version %#x, not %#x",
                     (unsigned long long)key, got, want);
    }
}

/* The oldest and newest flush in a run of SSTs; false when empty. */
static bool sim_ages(const sim *m, const shape_sst *ssts, size_t n,
                     uint64_t *old, uint64_t *new)
{
    *old = UINT64_MAX;
    *new = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = ssts[i].sst_id;
        *old = m->oldest[id] < *old ? m->oldest[id] : *old;
        *new = m->newest[id] > *new ? m->newest[id] : *new;
    }
    return n > 0;
}

static int id_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Invariants that hold after every step, whatever the strategy. */
static void sim_check_invariants(const sim *m)
{
    const shape *s = &m->s;
    size_t n_ids = 0, cap = 16;
    uint64_t *ids = malloc(cap * sizeof *ids);
    assert_non_null(ids);
    uint64_t bytes = 0;
    for (size_t r = 0; r <= s->n_runs; r++) {
        const shape_sst *x = r == 0 ? s->l0 : s->runs[r - 1].ssts;
        size_t n = r == 0 ? s->n_l0 : s->runs[r - 1].n_ssts;
        for (size_t i = 0; i < n; i++) {
            assert_true(user_key_cmp(x[i].first_key, x[i].nfirst_key,
                                     x[i].last_key, x[i].nlast_key) <= 0);
            if (r > 0 && i > 0) /* runs: sorted, never overlapping */
                assert_true(user_key_cmp(x[i - 1].last_key, x[i - 1].nlast_key,
                                         x[i].first_key, x[i].nfirst_key) < 0);
            if (r == 0 && i > 0) /* L0: newest first */
                assert_true(x[i - 1].sst_id > x[i].sst_id);
            if (n_ids == cap) {
                cap *= 2;
                ids = realloc(ids, cap * sizeof *ids);
                assert_non_null(ids);
            }
            ids[n_ids++] = x[i].sst_id;
            bytes += x[i].size_bytes;
        }
    }
    assert_int_equal(bytes, m->live_bytes); /* nothing lost or doubled */
    qsort(ids, n_ids, sizeof *ids, id_cmp);
    for (size_t i = 1; i < n_ids; i++)
        assert_true(ids[i - 1] < ids[i]);
    free(ids);
}

/* Newer data sits above older: L0 above the levels; for simple and tiered
 * (which merge whole runs) each run above the next. */
static void sim_check_ages(const sim *m)
{
    const shape *s = &m->s;
    uint64_t old, new, prev_old = UINT64_MAX;
    bool whole_runs = m->o.compaction != LSM_COMPACTION_LEVELED;
    if (sim_ages(m, s->l0, s->n_l0, &old, &new))
        prev_old = old;
    for (size_t r = 0; r < s->n_runs; r++) {
        if (!sim_ages(m, s->runs[r].ssts, s->runs[r].n_ssts, &old, &new))
            continue;
        if (prev_old != UINT64_MAX)
            assert_true(new < prev_old);
        if (whole_runs)
            prev_old = old;
    }
}

static void sim_check_shape(const sim *m)
{
    const shape *s = &m->s;
    sim_check_invariants(m);
    sim_check_ages(m);
    sim_check_reads(m);
    if (!s->tiered) {
        assert_int_equal(s->n_runs, m->n_levels);
        for (size_t r = 0; r < s->n_runs; r++)
            assert_int_equal(s->runs[r].run_id, r + 1);
        return;
    }
    assert_int_equal(s->n_l0, 0);
    for (size_t r = 0; r < s->n_runs; r++) {
        const shape_run *run = &s->runs[r];
        assert_true(run->n_ssts > 0);
        bool named = false; /* a tier is named by one of its SSTs */
        for (size_t i = 0; i < run->n_ssts; i++)
            named |= run->ssts[i].sst_id == run->run_id;
        assert_true(named);
    }
}

/* The rules' fixed point, restated from the documentation. */
static void sim_check_settled_simple(const sim *m)
{
    const shape *s = &m->s;
    uint64_t pct = m->o.size_ratio_percent;
    if (s->n_l0 >= m->o.level0_file_num_compaction_trigger)
        assert_true(s->n_l0 == 0 || s->runs[0].n_ssts * 100 >= pct * s->n_l0);
    for (size_t i = 0; i + 1 < s->n_runs; i++)
        assert_true(s->runs[i].n_ssts == 0 ||
                    s->runs[i + 1].n_ssts * 100 >= pct * s->runs[i].n_ssts);
}

static void sim_check_settled_tiered(const sim *m)
{
    size_t min_tiers = m->o.num_tiers > 2 ? m->o.num_tiers : 2;
    assert_true(m->s.n_runs < min_tiers);
}

/* Static sizes: L1 holds at most the base size, each level below the
 * multiplier times more; the last level has nowhere to go. */
static void sim_check_settled_static(const sim *m)
{
    const shape *s = &m->s;
    uint64_t target = (uint64_t)m->o.base_level_size_mb * MiB;
    for (size_t r = 0; r + 1 < s->n_runs; r++) {
        uint64_t real = 0;
        for (size_t i = 0; i < s->runs[r].n_ssts; i++)
            real += s->runs[r].ssts[i].size_bytes;
        if (real > target)
            fail_msg("L%zu holds %llu bytes over its static target %llu", r + 1,
                     (unsigned long long)real, (unsigned long long)target);
        target *= m->o.level_size_multiplier;
    }
}

static void sim_check_settled_leveled(const sim *m)
{
    const shape *s = &m->s;
    assert_true(s->n_l0 < m->o.level0_file_num_compaction_trigger ||
                s->n_l0 == 0);
    if (m->o.level_sizes == LSM_LEVEL_SIZES_STATIC) {
        sim_check_settled_static(m);
        return;
    }
    uint64_t base = (uint64_t)m->o.base_level_size_mb * MiB;
    uint64_t below = 0; /* the target of the level below */
    for (size_t r = s->n_runs; r-- > 0;) {
        uint64_t real = 0;
        for (size_t i = 0; i < s->runs[r].n_ssts; i++)
            real += s->runs[r].ssts[i].size_bytes;
        uint64_t target;
        if (r + 1 == s->n_runs)
            target = real > base ? real : base;
        else
            target = below > base ? below / m->o.level_size_multiplier : 0;
        if (real > target)
            fail_msg("L%zu holds %llu bytes over its target %llu", r + 1,
                     (unsigned long long)real, (unsigned long long)target);
        below = target;
    }
}

static void sim_check_settled(const sim *m)
{
    switch (m->o.compaction) {
    case LSM_COMPACTION_SIMPLE:
        sim_check_settled_simple(m);
        break;
    case LSM_COMPACTION_TIERED:
        sim_check_settled_tiered(m);
        break;
    default:
        sim_check_settled_leveled(m);
        break;
    }
}

/* A full compaction leaves one run holding everything. */
static void sim_full(sim *m)
{
    compaction_task t;
    bool found = false;
    assert_int_equal(compact_pick_full(&m->o, &m->s, &t, &found), LSM_OK);
    assert_true(found);
    assert_true(t.output_is_bottom);
    sim_compact(m, &t);
    compaction_task_free(&t);
    sim_check_shape(m);
    if (m->s.tiered) {
        assert_true(m->s.n_runs <= 1); /* 0 when everything was deleted */
        return;
    }
    assert_int_equal(m->s.n_l0, 0);
    for (size_t r = 0; r + 1 < m->s.n_runs; r++)
        assert_int_equal(m->s.runs[r].n_ssts, 0);
}

/* Picks and applies up to `budget` tasks, checking the shape after each;
 * returns whether the tree settled (nothing due), and then checks the
 * fixed point. */
static bool sim_drain(sim *m, size_t budget, size_t *n_tasks)
{
    for (size_t steps = 0; steps < budget; steps++) {
        assert_true(steps < 100000); /* the rules converge */
        compaction_task t;
        if (!pick(&m->o, &m->s, &t)) {
            sim_check_settled(m);
            return true;
        }
        assert_int_not_equal(t.trigger, LSM_TRIGGER_FULL);
        sim_compact(m, &t);
        compaction_task_free(&t);
        sim_check_shape(m);
        (*n_tasks)++;
    }
    return false;
}

/* Flushes n times; after each flush, picks and applies until nothing is
 * due, or (lagging) only 0 to 2 times, as when flushes outpace the
 * compaction thread. Settles at the end, then runs a full compaction.
 * Returns how many compactions ran before it. */
static size_t sim_run(lsm_options o, sim_config c)
{
    sim m;
    size_t n_tasks = 0;
    sim_init(&m, o, c);
    for (uint64_t f = 1; f <= c.n_flushes; f++) {
        sim_flush(&m, f);
        sim_check_shape(&m);
        sim_drain(&m, c.lagging ? sim_rand(&m) % 3 : SIZE_MAX, &n_tasks);
    }
    assert_true(sim_drain(&m, SIZE_MAX, &n_tasks));
    sim_full(&m);
    sim_free(&m);
    return n_tasks;
}

/* An unkeyed run of n flushes of about flush_bytes. */
static sim_config sim_sizes(size_t per_output, uint64_t flush_bytes, size_t n,
                            uint64_t seed)
{
    return (sim_config){.per_output = per_output,
                        .flush_bytes = flush_bytes,
                        .n_flushes = n,
                        .seed = seed};
}

/* A keyed run of n flushes, key_bytes per key; lagging when `lag`. */
static sim_config sim_keyed(size_t per_output, uint64_t key_bytes, size_t n,
                            bool lag, uint64_t seed)
{
    sim_config c = sim_sizes(per_output, key_bytes, n, seed);
    c.keyed = true;
    c.lagging = lag;
    return c;
}

static void test_sim_simple(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_SIMPLE);
    assert_true(sim_run(o, sim_sizes(1, MiB, 300, 1)) > 100);
    assert_true(sim_run(o, sim_sizes(2, MiB, 300, 2)) > 100);
    assert_true(sim_run(o, sim_keyed(1, 1, 300, false, 3)) > 100);
    o.max_levels = 3;
    o.level0_file_num_compaction_trigger = 4;
    o.size_ratio_percent = 300;
    assert_true(sim_run(o, sim_sizes(1, MiB, 300, 4)) > 50);
    assert_true(sim_run(o, sim_keyed(2, 1, 300, true, 5)) > 50);
    o.max_levels = 1;
    assert_true(sim_run(o, sim_sizes(3, MiB, 200, 6)) > 20);
}

static void test_sim_tiered(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_TIERED);
    assert_true(sim_run(o, sim_sizes(1, MiB, 300, 7)) > 100);
    assert_true(sim_run(o, sim_sizes(2, MiB, 300, 8)) > 100);
    assert_true(sim_run(o, sim_keyed(2, 1, 300, false, 9)) > 100);
    o.num_tiers = 5;
    o.min_merge_width = 3;
    o.max_merge_width = 3;
    assert_true(sim_run(o, sim_sizes(1, MiB, 300, 10)) > 50);
    assert_true(sim_run(o, sim_keyed(1, 1, 300, true, 11)) > 50);
    o.num_tiers = 8;
    o.size_ratio = 50;
    o.max_size_amplification_percent = 400;
    o.max_merge_width = 0;
    assert_true(sim_run(o, sim_sizes(2, MiB, 400, 12)) > 50);
}

static void test_sim_leveled(void **state)
{
    (void)state;
    lsm_options o = opts(LSM_COMPACTION_LEVELED);
    /* 300 flushes of ~2 MiB: ~600 MiB, past every level's target. */
    assert_true(sim_run(o, sim_sizes(1, 2 * MiB, 300, 13)) > 100);
    o.base_level_size_mb = 1;
    assert_true(sim_run(o, sim_sizes(2, 256 * 1024, 300, 14)) > 100);
    /* Up to 128 keys of 64 KiB: at most 8 MiB over four levels, and
     * overwrites make the bottom shrink, so the base level moves. */
    assert_true(sim_run(o, sim_keyed(2, 64 * 1024, 400, false, 15)) > 100);
    assert_true(sim_run(o, sim_keyed(2, 64 * 1024, 400, true, 19)) > 100);
    o.max_levels = 6;
    o.level_size_multiplier = 4;
    o.level0_file_num_compaction_trigger = 4;
    assert_true(sim_run(o, sim_sizes(3, 512 * 1024, 400, 16)) > 100);
    assert_true(sim_run(o, sim_keyed(1, 32 * 1024, 400, true, 17)) > 100);
    o.base_level_size_mb = 0;
    o.level_size_multiplier = 10;
    assert_true(sim_run(o, sim_sizes(2, MiB, 200, 18)) > 50);
    /* The same checks with the bench's picking rule and sizes. */
    o.leveled_pick = LSM_LEVELED_PICK_MIN_OVERLAP;
    assert_true(sim_run(o, sim_sizes(2, MiB, 200, 20)) > 50);
    assert_true(sim_run(o, sim_keyed(1, 32 * 1024, 400, true, 21)) > 100);
    o.base_level_size_mb = 1;
    o.level_size_multiplier = 2;
    assert_true(sim_run(o, sim_keyed(2, 64 * 1024, 400, false, 22)) > 100);
    o.level_sizes = LSM_LEVEL_SIZES_STATIC;
    assert_true(sim_run(o, sim_keyed(2, 64 * 1024, 400, true, 24)) > 100);
    o.base_level_size_mb = 8;
    o.level_size_multiplier = 10;
    assert_true(sim_run(o, sim_sizes(2, MiB, 300, 23)) > 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_below_triggers),
        cmocka_unit_test(test_simple_l0_task),
        cmocka_unit_test(test_simple_level_ratio),
        cmocka_unit_test(test_simple_l0_first),
        cmocka_unit_test(test_simple_l0_skipped_below_trigger),
        cmocka_unit_test(test_simple_l0_ignores_l1_size),
        cmocka_unit_test(test_simple_empty_upper_never_triggers),
        cmocka_unit_test(test_none_never_picks),
        cmocka_unit_test(test_tiered_below_num_tiers),
        cmocka_unit_test(test_tiered_space_amp),
        cmocka_unit_test(test_tiered_size_ratio),
        cmocka_unit_test(test_tiered_merge_widths),
        cmocka_unit_test(test_tiered_reduce_runs),
        cmocka_unit_test(test_tiered_order_of_checks),
        cmocka_unit_test(test_tiered_odd_options_and_shapes),
        cmocka_unit_test(test_leveled_empty_tree),
        cmocka_unit_test(test_leveled_base_level),
        cmocka_unit_test(test_leveled_l0_overlap),
        cmocka_unit_test(test_leveled_priority),
        cmocka_unit_test(test_leveled_above_base_level),
        cmocka_unit_test(test_leveled_l0_stops_above_base),
        cmocka_unit_test(test_leveled_clean_cut),
        cmocka_unit_test(test_leveled_min_overlap),
        cmocka_unit_test(test_leveled_static_sizes),
        cmocka_unit_test(test_leveled_level_before_l0),
        cmocka_unit_test(test_apply_levels),
        cmocka_unit_test(test_move_predicate),
        cmocka_unit_test(test_move_level),
        cmocka_unit_test(test_apply_full_levels),
        cmocka_unit_test(test_apply_tiers),
        cmocka_unit_test(test_apply_errors),
        cmocka_unit_test(test_add_flush),
        cmocka_unit_test(test_task_inputs),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_sim_simple),
        cmocka_unit_test(test_sim_tiered),
        cmocka_unit_test(test_sim_leveled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
