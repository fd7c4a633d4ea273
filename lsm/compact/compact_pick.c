/*
 * compact_pick.c: which task is due. Checks the strategy's options,
 * dispatches compact_pick to the strategy's controller (compact_simple.c,
 * compact_tiered.c, compact_leveled.c) and builds full compaction's task.
 * The public lsm_compaction_pick is the same call.
 *
 * Thread safety: pure functions over caller-owned data.
 */
#include "compact/compact_int.h"
#include "compact/compact_policy_int.h"
#include "iter/key_int.h"
#include "util/status_int.h"

#include <string.h>

/* --- picking -------------------------------------------------------------- */

int compact_options_check(const lsm_options *o)
{
    if ((o->compaction == LSM_COMPACTION_SIMPLE ||
         o->compaction == LSM_COMPACTION_LEVELED) &&
        (o->max_levels < 1 || o->max_levels > LSM_MAX_LEVELS))
        return lsm_error(LSM_EINVAL, "max_levels must be 1 to %d",
                         LSM_MAX_LEVELS);
    switch (o->compaction) {
    case LSM_COMPACTION_NONE:
    case LSM_COMPACTION_SIMPLE:
        return LSM_OK;
    case LSM_COMPACTION_TIERED:
        /* Merging one tier at a time never reduces the tier count, so the
         * reduce-runs trigger would fire forever. */
        if (o->max_merge_width == 1)
            return lsm_error(LSM_EINVAL, "max_merge_width must be 0 "
                                         "(unlimited) or at least 2");
        /* The size-ratio trigger merges tiers 0..i once i + 1 reaches
         * min_merge_width: below 2 it could merge a lone tier, forever. */
        if (o->min_merge_width < 2)
            return lsm_error(LSM_EINVAL, "min_merge_width must be at least "
                                         "2 (merging one tier never "
                                         "reduces the tree)");
        return LSM_OK;
    case LSM_COMPACTION_LEVELED:
        if (o->level_size_multiplier < 1)
            return lsm_error(LSM_EINVAL,
                             "level_size_multiplier must be at least 1");
        if (o->leveled_pick != LSM_LEVELED_PICK_OLDEST &&
            o->leveled_pick != LSM_LEVELED_PICK_MIN_OVERLAP)
            return lsm_error(LSM_EINVAL, "unknown leveled_pick %d",
                             (int)o->leveled_pick);
        if (o->level_sizes != LSM_LEVEL_SIZES_DYNAMIC &&
            o->level_sizes != LSM_LEVEL_SIZES_STATIC)
            return lsm_error(LSM_EINVAL, "unknown level_sizes %d",
                             (int)o->level_sizes);
        return LSM_OK;
    }
    return lsm_error(LSM_EINVAL, "unknown compaction strategy %d",
                     (int)o->compaction);
}

/* The checks compact_pick and compact_pick_full share; on return the task
 * is zeroed and *found false whenever the pointers allow it. */
static int compact_check_args(const lsm_options *o, const shape *s,
                              compaction_task *task, bool *found)
{
    if (found)
        *found = false;
    if (task)
        memset(task, 0, sizeof *task);
    if (!o || !s || !task || !found)
        return lsm_error(LSM_EINVAL, "compaction pick: NULL argument");
    int rc = compact_options_check(o);
    if (rc != LSM_OK)
        return rc;
    if ((o->compaction == LSM_COMPACTION_TIERED) != s->tiered)
        return lsm_error(
            LSM_EINVAL, "the tree has %s but the strategy expects %s",
            s->tiered ? "tiers" : "levels", s->tiered ? "levels" : "tiers");
    if (s->tiered && s->n_l0 > 0)
        return lsm_error(LSM_EINVAL, "a tiered tree has %zu SSTs in L0",
                         s->n_l0);
    return LSM_OK;
}

int compact_pick(const lsm_options *o, const shape *s, compaction_task *task,
                 bool *found)
{
    int rc = compact_check_args(o, s, task, found);
    if (rc != LSM_OK)
        return rc;
    switch (o->compaction) {
    case LSM_COMPACTION_SIMPLE:
        rc = compact_simple_pick(o, s, task, found);
        break;
    case LSM_COMPACTION_TIERED:
        rc = compact_tiered_pick(o, s, task, found);
        break;
    case LSM_COMPACTION_LEVELED:
        rc = compact_leveled_pick(o, s, task, found);
        break;
    default: /* NONE: flushes stay in L0 until a full compaction */
        break;
    }
    if (rc != LSM_OK) {
        compaction_task_free(task);
        *found = false;
    }
    return rc;
}

static size_t compact_pick_n_ssts(const shape *s)
{
    size_t n = s->n_l0;
    for (size_t i = 0; i < s->n_runs; i++)
        n += s->runs[i].n_ssts;
    return n;
}

/* Everything into the bottom level: upper is L0 then L1..L(n-1), newest
 * data first; lower is the bottom level. */
static int compact_full_levels(const shape *s, compaction_task *t)
{
    if (s->n_runs == 0)
        return lsm_error(LSM_EINVAL, "a full compaction needs a level to "
                                     "write to, and the tree has none");
    int rc = compact_ids_append(&t->upper, &t->n_upper, s->l0, s->n_l0);
    for (size_t i = 0; rc == LSM_OK && i + 1 < s->n_runs; i++)
        rc = compact_ids_append(&t->upper, &t->n_upper, s->runs[i].ssts,
                                s->runs[i].n_ssts);
    if (rc == LSM_OK)
        rc = compact_ids_append(&t->lower, &t->n_lower,
                                s->runs[s->n_runs - 1].ssts,
                                s->runs[s->n_runs - 1].n_ssts);
    t->upper_level = 0;
    t->lower_level = s->n_runs;
    compact_task_reason(t, "full compaction: %zu SSTs into L%zu",
                        t->n_upper + t->n_lower, s->n_runs);
    return rc;
}

static int compact_full_tiers(const shape *s, compaction_task *t)
{
    compact_task_reason(t, "full compaction: %zu tiers into one", s->n_runs);
    return compact_task_take_tiers(t, s, s->n_runs);
}

int compact_pick_full(const lsm_options *o, const shape *s,
                      compaction_task *task, bool *found)
{
    int rc = compact_check_args(o, s, task, found);
    if (rc != LSM_OK || compact_pick_n_ssts(s) == 0)
        return rc;
    task->trigger = LSM_TRIGGER_FULL;
    task->output_is_bottom = true;
    rc = s->tiered ? compact_full_tiers(s, task) : compact_full_levels(s, task);
    if (rc != LSM_OK) {
        compaction_task_free(task);
        return rc;
    }
    *found = true;
    return LSM_OK;
}

int lsm_compaction_pick(const lsm_options *opt, const lsm_shape *s,
                        lsm_compaction_task *task, int *found)
{
    lsm_error_clear();
    bool any = false;
    int rc = compact_pick(opt, s, task, &any);
    if (found)
        *found = any;
    return rc;
}
