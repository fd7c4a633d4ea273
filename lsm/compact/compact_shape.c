/*
 * compact_shape.c: compaction tasks and shapes (compact_int.h). Dispatches
 * compact_pick to the strategy's controller, builds full compaction's
 * task, and defines what a flush (shape_add_flush) and a finished
 * compaction (shape_apply) do to the tree: the engine, recovery and the
 * tests all go through these two functions.
 *
 * Invariants of a shape (checked wherever a change could break them):
 *   1. Every SST's first key is at most its last key.
 *   2. Every run's SSTs are sorted by first key and do not overlap: each
 *      SST's last key is at most the next one's first key. Equal is
 *      allowed, as in concat_iter.c: a user key's versions may straddle
 *      two adjacent SSTs of a run.
 *   3. A tiered shape has no L0 SST; its tiers are newest first, and none
 *      is empty (an empty compaction output removes the tier).
 *   4. An SST id appears at most once in the shape.
 *
 * shape_apply never modifies its input: it builds the result in a copy,
 * so a failed apply leaves the caller's shape as it was.
 *
 * Thread safety: pure functions over caller-owned data.
 */
#include "compact/compact_int.h"
#include "compact/compact_policy_int.h"
#include "iter/iter_int.h"
#include "util/status_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- SST order ------------------------------------------------------------ */

static int sst_first_cmp(const shape_sst *a, const shape_sst *b)
{
    return user_key_cmp(a->first_key, a->nfirst_key, b->first_key,
                        b->nfirst_key);
}

/* Invariant 1. */
static bool sst_range_valid(const shape_sst *x)
{
    return user_key_cmp(x->first_key, x->nfirst_key, x->last_key,
                        x->nlast_key) <= 0;
}

/* Invariant 2 for two neighbours: a ends at or before b starts. */
static bool ssts_in_order(const shape_sst *a, const shape_sst *b)
{
    return user_key_cmp(a->last_key, a->nlast_key, b->first_key,
                        b->nfirst_key) <= 0;
}

/* Checks invariants 1 and 2 over one run's SSTs; `what` names the run in
 * the message ("L2", "the compaction outputs"). */
static int ssts_check_sorted(const shape_sst *ssts, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (!sst_range_valid(&ssts[i]))
            return lsm_error(LSM_EINVAL,
                             "SST %" PRIu64 " in %s has its first key after "
                             "its last key",
                             ssts[i].sst_id, what);
        if (i > 0 && !ssts_in_order(&ssts[i - 1], &ssts[i]))
            return lsm_error(LSM_EINVAL,
                             "SSTs %" PRIu64 " and %" PRIu64 " in %s overlap "
                             "or are out of key order",
                             ssts[i - 1].sst_id, ssts[i].sst_id, what);
    }
    return LSM_OK;
}

/* --- tasks ---------------------------------------------------------------- */

void compaction_task_free(compaction_task *t)
{
    if (!t)
        return;
    free(t->upper);
    free(t->lower);
    free(t->tier_ids);
    memset(t, 0, sizeof *t);
}

/* Grows *ids (of n_ids elements) to hold `more` more. */
static int ids_reserve(uint64_t **ids, size_t n_ids, size_t more)
{
    if (more > SIZE_MAX / sizeof **ids - n_ids)
        return lsm_error(LSM_ENOMEM, "too many SST ids in one compaction");
    size_t cap = n_ids + more;
    uint64_t *grown = realloc(*ids, (cap ? cap : 1) * sizeof *grown);
    if (!grown)
        return lsm_error(LSM_ENOMEM, "out of memory for %zu compaction ids",
                         cap);
    *ids = grown;
    return LSM_OK;
}

int compact_ids_append(uint64_t **ids, size_t *n_ids, const shape_sst *ssts,
                       size_t n)
{
    int rc = ids_reserve(ids, *n_ids, n);
    if (rc != LSM_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        (*ids)[(*n_ids)++] = ssts[i].sst_id;
    return LSM_OK;
}

static int ids_append_raw(uint64_t **ids, size_t *n_ids, const uint64_t *src,
                          size_t n)
{
    int rc = ids_reserve(ids, *n_ids, n);
    if (rc != LSM_OK)
        return rc;
    if (n > 0)
        memcpy(*ids + *n_ids, src, n * sizeof *src);
    *n_ids += n;
    return LSM_OK;
}

int compact_task_take_tiers(compaction_task *t, const shape *s, size_t n)
{
    int rc = ids_reserve(&t->tier_ids, t->n_tiers, n);
    if (rc != LSM_OK)
        return rc;
    for (size_t i = 0; i < n && i < s->n_runs; i++)
        t->tier_ids[t->n_tiers++] = s->runs[i].run_id;
    return LSM_OK;
}

void compact_task_reason(compaction_task *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->reason, sizeof t->reason, fmt, ap);
    va_end(ap);
}

/* The shortest "%.*e" form of x that strtod reads back as x: at most 17
 * significant digits always suffice for a double. */
static void fmt_shortest_e(double x, char *buf, size_t n)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, n, "%.*e", digits - 1, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

void compact_fmt_f64(double x, char out[COMPACT_F64_CHARS])
{
    if (isnan(x)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(x)) {
        strcpy(out, x > 0 ? "inf" : "-inf");
        return;
    }
    /* "-d.ddde+XX": the significant digits, then the decimal exponent of
     * the first one; written out again without the exponent. */
    char e_form[40], digits[24];
    fmt_shortest_e(x, e_form, sizeof e_form);
    const char *p = e_form;
    char *o = out;
    if (*p == '-')
        *o++ = *p++;
    size_t n_digits = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[n_digits++] = *p;
    int exp10 = atoi(p + 1);
    if (exp10 < 0) { /* 0.000ddd */
        *o++ = '0';
        *o++ = '.';
        for (int i = -1; i > exp10; i--)
            *o++ = '0';
        memcpy(o, digits, n_digits);
        o += n_digits;
    } else {
        size_t n_int = (size_t)exp10 + 1; /* digits before the point */
        for (size_t i = 0; i < n_int; i++)
            *o++ = i < n_digits ? digits[i] : '0';
        if (n_digits > n_int) {
            *o++ = '.';
            memcpy(o, digits + n_int, n_digits - n_int);
            o += n_digits - n_int;
        }
    }
    *o = '\0';
}

uint64_t shape_run_bytes(const shape_run *r)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < r->n_ssts; i++)
        bytes += r->ssts[i].size_bytes;
    return bytes;
}

/* The index of the tier with this run_id, or s->n_runs when there is none. */
static size_t shape_find_tier(const shape *s, uint64_t run_id)
{
    size_t i = 0;
    while (i < s->n_runs && s->runs[i].run_id != run_id)
        i++;
    return i;
}

/* Hands out a malloc'd array the caller frees with free(). A task with no
 * inputs does not exist (compact_pick never makes one), so 0 with *ids
 * NULL after a non-empty task means out of memory (recorded by
 * lsm_error). Tiers named by the task but missing from s contribute
 * nothing. */
size_t compaction_task_inputs(const compaction_task *t, const shape *s,
                              uint64_t **ids)
{
    size_t n = 0;
    if (!ids)
        return 0;
    *ids = NULL;
    if (!t)
        return 0;
    int rc = ids_append_raw(ids, &n, t->upper, t->n_upper);
    if (rc == LSM_OK)
        rc = ids_append_raw(ids, &n, t->lower, t->n_lower);
    for (size_t i = 0; rc == LSM_OK && s && i < t->n_tiers; i++) {
        size_t k = shape_find_tier(s, t->tier_ids[i]);
        if (k < s->n_runs)
            rc =
                compact_ids_append(ids, &n, s->runs[k].ssts, s->runs[k].n_ssts);
    }
    if (rc != LSM_OK) {
        free(*ids);
        *ids = NULL;
        return 0;
    }
    return n;
}

/* The run holding SST id, as an lsm_input_run with n_ssts 0; false when
 * no run of s holds it. */
static bool shape_locate(const shape *s, uint64_t id, lsm_input_run *where)
{
    for (size_t i = 0; i < s->n_l0; i++)
        if (s->l0[i].sst_id == id) {
            *where = (lsm_input_run){.level = 0};
            return true;
        }
    for (size_t r = 0; r < s->n_runs; r++)
        for (size_t i = 0; i < s->runs[r].n_ssts; i++)
            if (s->runs[r].ssts[i].sst_id == id) {
                *where = s->tiered
                             ? (lsm_input_run){.level = -1,
                                               .tier_id = s->runs[r].run_id}
                             : (lsm_input_run){.level = (int)r + 1};
                return true;
            }
    return false;
}

size_t compaction_input_runs(const shape *s, const uint64_t *inputs, size_t n,
                             lsm_input_run **runs)
{
    *runs = n ? malloc(n * sizeof **runs) : NULL;
    if (!*runs)
        return 0;
    size_t n_runs = 0;
    for (size_t i = 0; i < n; i++) {
        lsm_input_run where;
        if (!shape_locate(s, inputs[i], &where))
            break;
        lsm_input_run *last = n_runs ? &(*runs)[n_runs - 1] : NULL;
        if (!last || last->level != where.level ||
            last->tier_id != where.tier_id)
            (*runs)[n_runs++] = where;
        (*runs)[n_runs - 1].n_ssts++;
    }
    return n_runs;
}

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

static size_t shape_n_ssts(const shape *s)
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
    if (rc != LSM_OK || shape_n_ssts(s) == 0)
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

/* --- shapes --------------------------------------------------------------- */

/* A malloc'd copy of ssts[0..n) (keys stay borrowed). */
static int ssts_dup(const shape_sst *src, size_t n, shape_sst **dst)
{
    *dst = malloc((n ? n : 1) * sizeof **dst);
    if (!*dst)
        return lsm_error(LSM_ENOMEM, "out of memory copying %zu SSTs", n);
    if (n > 0)
        memcpy(*dst, src, n * sizeof **dst);
    return LSM_OK;
}

/* A deep copy of in's arrays; keys stay borrowed from in's owner. */
static int shape_copy(const shape *in, shape *out)
{
    memset(out, 0, sizeof *out);
    out->tiered = in->tiered;
    int rc = ssts_dup(in->l0, in->n_l0, &out->l0);
    if (rc != LSM_OK)
        return rc;
    out->n_l0 = in->n_l0;
    out->runs = calloc(in->n_runs ? in->n_runs : 1, sizeof *out->runs);
    if (!out->runs)
        return lsm_error(LSM_ENOMEM, "out of memory copying %zu runs",
                         in->n_runs);
    for (size_t i = 0; i < in->n_runs; i++) {
        rc = ssts_dup(in->runs[i].ssts, in->runs[i].n_ssts, &out->runs[i].ssts);
        if (rc != LSM_OK)
            return rc;
        out->runs[i].run_id = in->runs[i].run_id;
        out->runs[i].n_ssts = in->runs[i].n_ssts;
        out->n_runs = i + 1;
    }
    return LSM_OK;
}

/* Removes the SST with this id from ssts[0..*n), keeping the order.
 * Returns whether it was there. */
static bool ssts_remove_id(shape_sst *ssts, size_t *n, uint64_t id)
{
    for (size_t i = 0; i < *n; i++) {
        if (ssts[i].sst_id == id) {
            memmove(&ssts[i], &ssts[i + 1], (*n - i - 1) * sizeof *ssts);
            (*n)--;
            return true;
        }
    }
    return false;
}

/* Removes an upper input: it may be in L0 or in any level above the
 * output level (a full compaction's upper spans several levels). */
static int shape_remove_upper(shape *s, uint64_t id, size_t lower_level)
{
    if (ssts_remove_id(s->l0, &s->n_l0, id))
        return LSM_OK;
    for (size_t i = 0; i + 1 < lower_level; i++)
        if (ssts_remove_id(s->runs[i].ssts, &s->runs[i].n_ssts, id))
            return LSM_OK;
    return lsm_error(LSM_EINVAL,
                     "compaction input SST %" PRIu64 " is not in L0..L%zu", id,
                     lower_level - 1);
}

/* Puts the outputs (sorted, checked) among the run's remaining SSTs in
 * first-key order, and checks that nothing overlaps. */
static int run_insert_outputs(shape_run *r, const shape_sst *outputs,
                              size_t n_outputs, size_t level)
{
    size_t n = r->n_ssts + n_outputs;
    shape_sst *merged = malloc((n ? n : 1) * sizeof *merged);
    if (!merged)
        return lsm_error(LSM_ENOMEM, "out of memory for %zu SSTs in L%zu", n,
                         level);
    size_t i = 0, j = 0, k = 0;
    while (i < r->n_ssts || j < n_outputs) {
        bool take_old =
            j == n_outputs ||
            (i < r->n_ssts && sst_first_cmp(&r->ssts[i], &outputs[j]) <= 0);
        merged[k++] = take_old ? r->ssts[i++] : outputs[j++];
    }
    char what[32];
    snprintf(what, sizeof what, "L%zu", level);
    int rc = ssts_check_sorted(merged, n, what);
    if (rc != LSM_OK) {
        free(merged);
        return rc;
    }
    free(r->ssts);
    r->ssts = merged;
    r->n_ssts = n;
    return LSM_OK;
}

static int shape_apply_levels(shape *s, const compaction_task *t,
                              const shape_sst *outputs, size_t n_outputs)
{
    if (t->n_tiers > 0)
        return lsm_error(LSM_EINVAL, "a tiered task cannot apply to levels");
    if (t->lower_level < 1 || t->lower_level > s->n_runs)
        return lsm_error(LSM_EINVAL,
                         "compaction output level L%zu is not in L1..L%zu",
                         t->lower_level, s->n_runs);
    for (size_t i = 0; i < t->n_upper; i++) {
        int rc = shape_remove_upper(s, t->upper[i], t->lower_level);
        if (rc != LSM_OK)
            return rc;
    }
    shape_run *lower = &s->runs[t->lower_level - 1];
    for (size_t i = 0; i < t->n_lower; i++)
        if (!ssts_remove_id(lower->ssts, &lower->n_ssts, t->lower[i]))
            return lsm_error(LSM_EINVAL,
                             "compaction input SST %" PRIu64 " is not in L%zu",
                             t->lower[i], t->lower_level);
    return run_insert_outputs(lower, outputs, n_outputs, t->lower_level);
}

/* Marks the task's tiers in drop[] (s->n_runs flags) and returns the index
 * of the newest one in *newest. */
static int tiers_mark(const shape *s, const compaction_task *t, bool *drop,
                      size_t *newest)
{
    *newest = s->n_runs;
    for (size_t i = 0; i < t->n_tiers; i++) {
        size_t k = shape_find_tier(s, t->tier_ids[i]);
        if (k == s->n_runs || drop[k])
            return lsm_error(LSM_EINVAL,
                             "compaction tier %" PRIu64
                             " is not in the tree (or named twice)",
                             t->tier_ids[i]);
        drop[k] = true;
        if (k < *newest)
            *newest = k;
    }
    return LSM_OK;
}

/* Replaces the task's tiers by one tier made of the outputs, at the index
 * of the newest merged tier (so any tier flushed meanwhile stays in
 * front), or by nothing when there are no outputs. */
static int shape_apply_tiers(shape *s, const compaction_task *t,
                             const shape_sst *outputs, size_t n_outputs)
{
    int rc = LSM_OK;
    bool *drop = NULL;
    shape_run *runs = NULL;
    shape_run fresh = {0};
    size_t newest, n, k = 0;
    if (t->n_tiers == 0) {
        rc = lsm_error(LSM_EINVAL, "a task without tiers cannot apply to "
                                   "a tiered tree");
        goto out;
    }
    drop = calloc(s->n_runs ? s->n_runs : 1, sizeof *drop);
    if (!drop) {
        rc = lsm_error(LSM_ENOMEM, "out of memory applying a compaction");
        goto out;
    }
    rc = tiers_mark(s, t, drop, &newest);
    if (rc != LSM_OK)
        goto out;
    n = s->n_runs - t->n_tiers + (n_outputs > 0);
    runs = calloc(n ? n : 1, sizeof *runs);
    if (!runs) {
        rc = lsm_error(LSM_ENOMEM, "out of memory applying a compaction");
        goto out;
    }
    if (n_outputs > 0) {
        rc = ssts_dup(outputs, n_outputs, &fresh.ssts);
        if (rc != LSM_OK)
            goto out;
        fresh.run_id = outputs[0].sst_id;
        fresh.n_ssts = n_outputs;
    }
    for (size_t i = 0; i < s->n_runs; i++) {
        if (i == newest && n_outputs > 0)
            runs[k++] = fresh;
        if (drop[i])
            free(s->runs[i].ssts);
        else
            runs[k++] = s->runs[i];
    }
    free(s->runs);
    s->runs = runs;
    s->n_runs = n;
    runs = NULL;
    fresh.ssts = NULL;
out:
    free(fresh.ssts);
    free(runs);
    free(drop);
    return rc;
}

/* Builds the result in a copy of `in`; on error *out is an empty shape
 * (shape_free on it is harmless) and `in` is untouched. The new shape owns
 * its arrays (shape_free) and borrows keys from `in` and `outputs`. */
int shape_apply(const shape *in, const compaction_task *task,
                const shape_sst *outputs, size_t n_outputs, shape *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!in || !task || !out || (n_outputs > 0 && !outputs))
        return lsm_error(LSM_EINVAL, "shape_apply: NULL argument");
    int rc = ssts_check_sorted(outputs, n_outputs, "the compaction outputs");
    if (rc == LSM_OK)
        rc = shape_copy(in, out);
    if (rc == LSM_OK)
        rc = in->tiered ? shape_apply_tiers(out, task, outputs, n_outputs)
                        : shape_apply_levels(out, task, outputs, n_outputs);
    if (rc != LSM_OK)
        shape_free(out);
    return rc;
}

/* The flushed SST becomes the newest: L0's front, or a tier of its own at
 * the front (named by the SST's id). */
int shape_add_flush(shape *s, const shape_sst *sst)
{
    if (!s || !sst)
        return lsm_error(LSM_EINVAL, "shape_add_flush: NULL argument");
    if (!sst_range_valid(sst))
        return lsm_error(LSM_EINVAL,
                         "flushed SST %" PRIu64
                         " has its first key after its last key",
                         sst->sst_id);
    if (!s->tiered) {
        shape_sst *l0 = realloc(s->l0, (s->n_l0 + 1) * sizeof *l0);
        if (!l0)
            return lsm_error(LSM_ENOMEM, "out of memory adding to L0");
        memmove(&l0[1], &l0[0], s->n_l0 * sizeof *l0);
        l0[0] = *sst;
        s->l0 = l0;
        s->n_l0++;
        return LSM_OK;
    }
    shape_sst *one = NULL;
    int rc = ssts_dup(sst, 1, &one);
    if (rc != LSM_OK)
        return rc;
    shape_run *runs = realloc(s->runs, (s->n_runs + 1) * sizeof *runs);
    if (!runs) {
        free(one);
        return lsm_error(LSM_ENOMEM, "out of memory adding a tier");
    }
    memmove(&runs[1], &runs[0], s->n_runs * sizeof *runs);
    runs[0] = (shape_run){.run_id = sst->sst_id, .n_ssts = 1, .ssts = one};
    s->runs = runs;
    s->n_runs++;
    return LSM_OK;
}

void shape_free(shape *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_runs; i++)
        free(s->runs[i].ssts);
    free(s->runs);
    free(s->l0);
    memset(s, 0, sizeof *s);
}

/* --- the public policy API (lsm.h) ------------------------------------------ */

int lsm_shape_init(lsm_shape *s, const lsm_options *opt)
{
    lsm_error_clear();
    if (!s || !opt)
        return lsm_error(LSM_EINVAL, "lsm_shape_init: NULL argument");
    memset(s, 0, sizeof *s);
    int rc = compact_options_check(opt);
    if (rc != LSM_OK)
        return rc;
    s->tiered = opt->compaction == LSM_COMPACTION_TIERED;
    size_t n_levels = opt->compaction == LSM_COMPACTION_SIMPLE ||
                              opt->compaction == LSM_COMPACTION_LEVELED
                          ? opt->max_levels
                          : 1;
    if (s->tiered)
        return LSM_OK;
    s->runs = calloc(n_levels, sizeof *s->runs);
    if (!s->runs)
        return lsm_error(LSM_ENOMEM, "out of memory for %zu levels", n_levels);
    s->n_runs = n_levels;
    for (size_t i = 0; i < n_levels; i++)
        s->runs[i].run_id = i + 1;
    return LSM_OK;
}

int lsm_shape_add_flush(lsm_shape *s, const lsm_shape_sst *sst)
{
    lsm_error_clear();
    return shape_add_flush(s, sst);
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

size_t lsm_compaction_task_inputs(const lsm_compaction_task *task,
                                  const lsm_shape *s, uint64_t **ids)
{
    return compaction_task_inputs(task, s, ids);
}

int lsm_shape_apply(lsm_shape *s, const lsm_compaction_task *task,
                    const lsm_shape_sst *outputs, size_t n_outputs)
{
    lsm_error_clear();
    if (!s || !task)
        return lsm_error(LSM_EINVAL, "lsm_shape_apply: NULL argument");
    shape next;
    int rc = shape_apply(s, task, outputs, n_outputs, &next);
    if (rc != LSM_OK)
        return rc;
    shape_free(s);
    *s = next;
    return LSM_OK;
}

void lsm_compaction_task_free(lsm_compaction_task *task)
{
    compaction_task_free(task);
}

void lsm_shape_free(lsm_shape *s)
{
    shape_free(s);
}
