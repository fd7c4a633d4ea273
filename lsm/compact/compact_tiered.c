/*
 * compact_tiered.c: tiered (universal) compaction (mini-lsm week 2 day 3),
 * behind compact_pick, with the reference controller's rules at mini-lsm
 * commit c78835c (mini-lsm/src/compact/tiered.rs).
 *
 * Tiers are newest first; sizes are SST counts, as in mini-lsm. Nothing
 * happens below num_tiers tiers, nor below 2 (merging one tier never
 * reduces anything: with num_tiers 0 or 1 the reference would merge a
 * lone tier into itself forever). Then, in this order:
 *   1. space amplification: (SSTs in every tier but the last) / (SSTs in
 *      the last) * 100 >= max_size_amplification_percent: merge all the
 *      tiers.
 *   2. size ratio: with a running sum of SST counts from the newest tier,
 *      the first i such that |tier i+1| / sum(tiers 0..i) >
 *      (100 + size_ratio) / 100 and i + 1 >= min_merge_width: merge tiers
 *      0..i (tier i+1, which is much larger, stays). Never the bottom.
 *   3. reduce sorted runs: merge the newest min(n, max_merge_width) tiers
 *      (all of them when max_merge_width is 0, unlimited).
 * The ratios are computed in doubles, in the reference's order of
 * operations, so that the same shapes trigger and the reasons print the
 * same numbers (formatted as Rust's {} formats an f64).
 *
 * The output is one tier where the merged ones were; it is the bottom when
 * the oldest tier is among them.
 *
 * Thread safety: pure; see compact_int.h.
 */
#include "compact/compact_policy_int.h"

/* SSTs in tiers [from, to). */
static uint64_t tiered_ssts(const shape *s, size_t from, size_t to)
{
    uint64_t n = 0;
    for (size_t i = from; i < to; i++)
        n += s->runs[i].n_ssts;
    return n;
}

/* Rule 1: all tiers when it holds, else 0. */
static size_t tiered_space_amp(const lsm_options *o, const shape *s,
                               compaction_task *t)
{
    double upper = (double)tiered_ssts(s, 0, s->n_runs - 1);
    double last = (double)s->runs[s->n_runs - 1].n_ssts;
    double ratio = upper / last * 100.0;
    if (!(ratio >= (double)o->max_size_amplification_percent))
        return 0;
    char r[COMPACT_F64_CHARS];
    compact_fmt_f64(ratio, r);
    compact_task_reason(
        t, "compaction triggered by space amplification ratio: %s", r);
    return s->n_runs;
}

/* Rule 2: the number of tiers to merge, or 0. */
static size_t tiered_size_ratio(const lsm_options *o, const shape *s,
                                compaction_task *t)
{
    double trigger = (100.0 + (double)o->size_ratio) / 100.0;
    uint64_t sum = 0;
    for (size_t i = 0; i + 1 < s->n_runs; i++) {
        sum += s->runs[i].n_ssts;
        double ratio = (double)s->runs[i + 1].n_ssts / (double)sum;
        if (!(ratio > trigger) || i + 1 < o->min_merge_width)
            continue;
        char r[COMPACT_F64_CHARS], want[COMPACT_F64_CHARS];
        compact_fmt_f64(ratio * 100.0, r);
        compact_fmt_f64(trigger * 100.0, want);
        compact_task_reason(t, "compaction triggered by size ratio: %s > %s", r,
                            want);
        return i + 1;
    }
    return 0;
}

/* Rule 3: the newest tiers, up to max_merge_width; at least 2, since the
 * caller made sure there are 2 tiers and the width is never 1. */
static size_t tiered_reduce_runs(const lsm_options *o, const shape *s,
                                 compaction_task *t)
{
    size_t width = s->n_runs;
    if (o->max_merge_width != 0 && width > o->max_merge_width)
        width = o->max_merge_width;
    compact_task_reason(t, "compaction triggered by reducing sorted runs");
    return width;
}

int compact_tiered_pick(const lsm_options *o, const shape *s,
                        compaction_task *task, bool *found)
{
    if (s->n_runs < 2 || s->n_runs < o->num_tiers)
        return LSM_OK;
    task->trigger = LSM_TRIGGER_SPACE_AMP;
    size_t width = tiered_space_amp(o, s, task);
    if (width == 0) {
        task->trigger = LSM_TRIGGER_SIZE_RATIO;
        width = tiered_size_ratio(o, s, task);
    }
    if (width == 0) {
        task->trigger = LSM_TRIGGER_REDUCE_RUNS;
        width = tiered_reduce_runs(o, s, task);
    }
    task->output_is_bottom = width == s->n_runs;
    *found = true;
    return compact_task_take_tiers(task, s, width);
}
