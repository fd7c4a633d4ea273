/*
 * compact_simple.c: simple leveled compaction (mini-lsm week 2 day 2),
 * behind compact_pick.
 *
 * Rules, checked in this order; the first that holds is the task:
 *   1. L0 into L1: L0 has at least level0_file_num_compaction_trigger
 *      SSTs, whatever the L1/L0 ratio (mini-lsm's rule since 2025; the
 *      older rule also asked for |L1| / |L0| < size_ratio_percent / 100,
 *      which never holds once L1 is large, so L0 grew without bound and a
 *      writer stalled on it waited forever). An L0 below the trigger is
 *      skipped: the levels are checked next.
 *   2. Li into L(i+1), for i = 1 .. n-1 from the top: |L(i+1)| / |Li| <
 *      size_ratio_percent / 100.
 * Sizes are SST counts, as in mini-lsm. An empty upper level never
 * triggers: its ratio is inf or NaN (the reference divides by zero there),
 * and there would be nothing to move. Ratios are computed in doubles in the
 * reference's order of operations (mini-lsm/src/compact/simple_leveled.rs
 * at commit c78835c), and the reasons are its lines, numbers formatted as
 * Rust formats them.
 *
 * A task takes all of the upper level and all of the lower one; the output
 * replaces the lower level. It is the bottom when the lower level is the
 * last one.
 *
 * Thread safety: pure; see compact_int.h.
 */
#include "compact/compact_policy_int.h"

/* |lower| / |upper| as the reference computes it: an empty upper level
 * gives inf or NaN, which never compare below the limit. */
static double simple_ratio(size_t n_upper, size_t n_lower)
{
    return (double)n_lower / (double)n_upper;
}

/* Fills the task that merges all of upper_level (0 = L0) into the level
 * below it. */
static int simple_make_task(const shape *s, size_t upper_level,
                            compaction_trigger trigger, compaction_task *t)
{
    const shape_run *lower = &s->runs[upper_level];
    int rc;
    if (upper_level == 0)
        rc = compact_ids_append(&t->upper, &t->n_upper, s->l0, s->n_l0);
    else
        rc = compact_ids_append(&t->upper, &t->n_upper,
                                s->runs[upper_level - 1].ssts,
                                s->runs[upper_level - 1].n_ssts);
    if (rc == LSM_OK)
        rc = compact_ids_append(&t->lower, &t->n_lower, lower->ssts,
                                lower->n_ssts);
    t->trigger = trigger;
    t->upper_level = upper_level;
    t->lower_level = upper_level + 1;
    t->output_is_bottom = t->lower_level == s->n_runs;
    return rc;
}

/* Rule 1. An empty L0 is never due, even with a trigger of 0. */
static bool simple_l0_due(const lsm_options *o, const shape *s)
{
    return s->n_l0 > 0 && s->n_l0 >= o->level0_file_num_compaction_trigger;
}

int compact_simple_pick(const lsm_options *o, const shape *s,
                        compaction_task *task, bool *found)
{
    double want = (double)o->size_ratio_percent / 100.0;
    if (s->n_runs == 0)
        return LSM_OK;
    if (simple_l0_due(o, s)) {
        compact_task_reason(task,
                            "compaction triggered at level 0 because L0 has "
                            "%zu SSTs >= %u",
                            s->n_l0, o->level0_file_num_compaction_trigger);
        *found = true;
        return simple_make_task(s, 0, LSM_TRIGGER_L0_FILES, task);
    }
    for (size_t level = 1; level < s->n_runs; level++) {
        double ratio =
            simple_ratio(s->runs[level - 1].n_ssts, s->runs[level].n_ssts);
        if (!(ratio < want))
            continue;
        char r[COMPACT_F64_CHARS];
        compact_fmt_f64(ratio, r);
        compact_task_reason(task,
                            "compaction triggered at level %zu and %zu with "
                            "size ratio %s",
                            level, level + 1, r);
        *found = true;
        return simple_make_task(s, level, LSM_TRIGGER_SIZE_RATIO, task);
    }
    return LSM_OK;
}
