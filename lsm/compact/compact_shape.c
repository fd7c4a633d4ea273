/*
 * compact_shape.c: shapes (compact_int.h): what a flush (shape_add_flush)
 * and a finished compaction (shape_apply) do to the tree. The public
 * lsm_shape_* calls are the same functions, which lsm-cli's simulate and
 * the tests use; the engine's compaction runner installs every compaction
 * with shape_apply (db/db_compact.c). A flush in the engine edits its
 * version directly (db/db_flush.c), and recovery replays the manifest into
 * lists of its own (db/db_open.c).
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
#include "iter/key_int.h"
#include "util/status_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- SST order ------------------------------------------------------------ */

static int shape_sst_first_cmp(const shape_sst *a, const shape_sst *b)
{
    return user_key_cmp(a->first_key, a->nfirst_key, b->first_key,
                        b->nfirst_key);
}

/* Invariant 1. */
static bool shape_sst_range_valid(const shape_sst *x)
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
        if (!shape_sst_range_valid(&ssts[i]))
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
        bool take_old = j == n_outputs ||
                        (i < r->n_ssts &&
                         shape_sst_first_cmp(&r->ssts[i], &outputs[j]) <= 0);
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
    if (!shape_sst_range_valid(sst))
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

/* --- the public policy API (lsm.h) ------------------------------------------
 */

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
