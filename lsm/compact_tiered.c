/*
 * compact_tiered.c: tiered (universal) compaction (mini-lsm week 2 day 3),
 * behind compact_pick.
 *
 * Tiers are newest first; sizes are SST counts, as in mini-lsm. Nothing
 * happens below num_tiers tiers, nor below 2 (merging one tier never
 * reduces anything, so a task must always shrink the tier count, which is
 * what makes picking and applying converge). Then, in this order:
 *   1. space amplification: (SSTs in every tier but the last) * 100 /
 *      (SSTs in the last) >= max_size_amplification_percent: merge all the
 *      tiers. An empty last tier counts as infinite amplification.
 *   2. size ratio: for the smallest i such that (SSTs in tiers 0..i) /
 *      |tier i+1| >= (100 + size_ratio) / 100 and i + 2 >= min_merge_width:
 *      merge tiers 0..i+1, or the newest max_merge_width of them when that
 *      is smaller (0: no limit).
 *   3. reduce sorted runs: merge the newest n - num_tiers + 2 tiers (at
 *      least 2, at most all, and at most max_merge_width), which leaves
 *      num_tiers - 1 tiers when the width allows.
 * Ratios are compared by cross-multiplying in integers.
 *
 * The output is one tier where the merged ones were; it is the bottom when
 * the oldest tier is among them.
 *
 * Thread safety: pure; see compact_int.h.
 */
#include "compact_policy_int.h"

#include <inttypes.h>
#include <math.h>

/* SSTs in tiers [from, to). */
static uint64_t tiered_ssts(const shape *s, size_t from, size_t to)
{
    uint64_t n = 0;
    for (size_t i = from; i < to; i++)
        n += s->runs[i].n_ssts;
    return n;
}

/* How many of the newest tiers to merge, after the max_merge_width cap. */
static size_t tiered_cap(const lsm_options *o, size_t width)
{
    if (o->max_merge_width != 0 && width > o->max_merge_width)
        return o->max_merge_width;
    return width;
}

/* Rule 1: all tiers when it holds, else 0. */
static size_t tiered_space_amp(const lsm_options *o, const shape *s,
                               compaction_task *t)
{
    uint64_t upper = tiered_ssts(s, 0, s->n_runs - 1);
    uint64_t last = s->runs[s->n_runs - 1].n_ssts;
    uint64_t limit = o->max_size_amplification_percent;
    if (upper * 100 < limit * last)
        return 0;
    if (last == 0)
        compact_task_reason(t,
                            "space amplification infinite (empty last "
                            "tier) >= %u%%",
                            o->max_size_amplification_percent);
    else
        compact_task_reason(t, "space amplification %" PRIu64 "%% >= %u%%",
                            upper * 100 / last,
                            o->max_size_amplification_percent);
    return s->n_runs;
}

/* Rule 2: the number of tiers to merge, or 0. */
static size_t tiered_size_ratio(const lsm_options *o, const shape *s,
                                compaction_task *t)
{
    uint64_t want = 100 + (uint64_t)o->size_ratio;
    uint64_t sum = 0;
    for (size_t i = 0; i + 1 < s->n_runs; i++) {
        sum += s->runs[i].n_ssts;
        uint64_t next = s->runs[i + 1].n_ssts;
        if (sum * 100 < want * next || i + 2 < o->min_merge_width)
            continue;
        double ratio = next ? (double)sum / (double)next : INFINITY;
        compact_task_reason(t,
                            "size ratio of tiers 0..%zu to tier %zu is %.2f "
                            ">= %.2f",
                            i, i + 1, ratio, (double)want / 100.0);
        return tiered_cap(o, i + 2);
    }
    return 0;
}

/* Rule 3: always a width of at least 2, as the caller made sure that
 * num_tiers <= n and 2 <= n. */
static size_t tiered_reduce_runs(const lsm_options *o, const shape *s,
                                 compaction_task *t)
{
    size_t n = s->n_runs;
    size_t width = n + 2 - o->num_tiers;
    if (width > n) /* num_tiers 0 or 1 */
        width = n;
    width = tiered_cap(o, width);
    compact_task_reason(t,
                        "reduce sorted runs: %zu tiers >= %u, merging the "
                        "newest %zu",
                        n, o->num_tiers, width);
    return width;
}

int compact_tiered_pick(const lsm_options *o, const shape *s,
                        compaction_task *task, bool *found)
{
    if (s->n_runs < 2 || s->n_runs < o->num_tiers)
        return LSM_OK;
    task->trigger = TRIGGER_SPACE_AMP;
    size_t width = tiered_space_amp(o, s, task);
    if (width == 0) {
        task->trigger = TRIGGER_SIZE_RATIO;
        width = tiered_size_ratio(o, s, task);
    }
    if (width == 0) {
        task->trigger = TRIGGER_REDUCE_RUNS;
        width = tiered_reduce_runs(o, s, task);
    }
    task->output_is_bottom = width == s->n_runs;
    *found = true;
    return compact_task_take_tiers(task, s, width);
}
