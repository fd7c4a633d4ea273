/*
 * compact_task.c: what every controller and the engine need of a task:
 * building its id lists and its reason (numbers as the mini-lsm reference
 * prints them), listing its inputs and the runs they come from, and
 * freeing it; and two lookups in a shape (shape_run_bytes for the leveled
 * controller, shape_find_tier for shape_apply). The controllers
 * (compact_simple.c, compact_tiered.c, compact_leveled.c) call these;
 * nothing here calls a controller.
 *
 * Thread safety: pure functions over caller-owned data.
 */
#include "compact/compact_int.h"
#include "compact/compact_policy_int.h"
#include "iter/key_int.h"
#include "util/status_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
size_t shape_find_tier(const shape *s, uint64_t run_id)
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
static bool compaction_input_locate(const shape *s, uint64_t id,
                                    lsm_input_run *where)
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
        if (!compaction_input_locate(s, inputs[i], &where))
            break;
        lsm_input_run *last = n_runs ? &(*runs)[n_runs - 1] : NULL;
        if (!last || last->level != where.level ||
            last->tier_id != where.tier_id)
            (*runs)[n_runs++] = where;
        (*runs)[n_runs - 1].n_ssts++;
    }
    return n_runs;
}

/* --- trivial moves -------------------------------------------------------- */

/* The SST with this id in s and the level it is in (0 for L0), or NULL. */
static const shape_sst *shape_find_sst(const shape *s, uint64_t id,
                                       size_t *level)
{
    for (size_t i = 0; i < s->n_l0; i++)
        if (s->l0[i].sst_id == id) {
            *level = 0;
            return &s->l0[i];
        }
    for (size_t r = 0; r < s->n_runs; r++)
        for (size_t i = 0; i < s->runs[r].n_ssts; i++)
            if (s->runs[r].ssts[i].sst_id == id) {
                *level = r + 1;
                return &s->runs[r].ssts[i];
            }
    return NULL;
}

/* Whether a and b share a user key (inclusive ranges). */
static bool shape_ssts_overlap(const shape_sst *a, const shape_sst *b)
{
    return user_key_cmp(a->first_key, a->nfirst_key, b->last_key,
                        b->nlast_key) <= 0 &&
           user_key_cmp(a->last_key, a->nlast_key, b->first_key,
                        b->nfirst_key) >= 0;
}

/* Whether any SST of levels from..to (1-based, inclusive) shares a user
 * key with one of the n moved SSTs. */
static bool levels_overlap_any(const shape *s, size_t from, size_t to,
                               const shape_sst *const *moved, size_t n)
{
    for (size_t r = from; r <= to; r++)
        for (size_t i = 0; i < s->runs[r - 1].n_ssts; i++)
            for (size_t k = 0; k < n; k++)
                if (shape_ssts_overlap(&s->runs[r - 1].ssts[i], moved[k]))
                    return true;
    return false;
}

/* L0 SSTs may hold versions of one key in any order; moved into a run,
 * where a key lives in one SST, they must share none. */
static bool l0_ssts_disjoint(const shape_sst *const *moved, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            if (shape_ssts_overlap(moved[i], moved[k]))
                return false;
    return true;
}

/* The task's upper SSTs in s, all from one level (*level); false when one
 * is missing or they come from several. moved has t->n_upper slots. */
static bool move_inputs_locate(const compaction_task *t, const shape *s,
                               const shape_sst **moved, size_t *level)
{
    for (size_t i = 0; i < t->n_upper; i++) {
        size_t at;
        moved[i] = shape_find_sst(s, t->upper[i], &at);
        if (!moved[i] || (i > 0 && at != *level))
            return false;
        *level = at;
    }
    return true;
}

bool compaction_task_is_move(const lsm_options *o, const compaction_task *t,
                             const shape *s)
{
    if (!o || o->compaction != LSM_COMPACTION_LEVELED || !t || !s ||
        s->tiered || t->n_tiers > 0 || t->trigger == LSM_TRIGGER_FULL ||
        t->n_lower > 0 || t->n_upper == 0 || t->lower_level < 1 ||
        t->lower_level > s->n_runs)
        return false;
    const shape_sst **moved = malloc(t->n_upper * sizeof *moved);
    if (!moved)
        return false; /* a merge is always right */
    size_t level = 0;
    bool ok =
        move_inputs_locate(t, s, moved, &level) && level < t->lower_level &&
        (level > 0 || l0_ssts_disjoint(moved, t->n_upper)) &&
        !levels_overlap_any(s, level + 1, t->lower_level, moved, t->n_upper);
    free(moved);
    return ok;
}

static int shape_sst_first_key_order(const void *a, const void *b)
{
    const shape_sst *x = a, *y = b;
    return user_key_cmp(x->first_key, x->nfirst_key, y->first_key,
                        y->nfirst_key);
}

static bool task_upper_has(const compaction_task *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_upper; i++)
        if (t->upper[i] == id)
            return true;
    return false;
}

/* A level's SSTs keep the run's order: neighbours there may share a
 * boundary key, whose newer versions are in the left one. L0's moved
 * SSTs share no key, so their first keys order them. */
int compaction_move_outputs(const compaction_task *t, const shape *s,
                            shape_sst **outs)
{
    size_t level = 0, n = 0;
    *outs = malloc((t->n_upper ? t->n_upper : 1) * sizeof **outs);
    if (!*outs)
        return lsm_error(LSM_ENOMEM, "out of memory for %zu moved SSTs",
                         t->n_upper);
    const shape_sst *first =
        t->n_upper ? shape_find_sst(s, t->upper[0], &level) : NULL;
    if (first && level > 0) {
        const shape_run *r = &s->runs[level - 1];
        for (size_t i = 0; i < r->n_ssts && n < t->n_upper; i++)
            if (task_upper_has(t, r->ssts[i].sst_id))
                (*outs)[n++] = r->ssts[i];
    } else if (first) {
        for (size_t i = 0; i < s->n_l0 && n < t->n_upper; i++)
            if (task_upper_has(t, s->l0[i].sst_id))
                (*outs)[n++] = s->l0[i];
        qsort(*outs, n, sizeof **outs, shape_sst_first_key_order);
    }
    if (n < t->n_upper) {
        free(*outs);
        *outs = NULL;
        return lsm_error(LSM_EINVAL,
                         "a moved SST is not in L%zu with the others", level);
    }
    return LSM_OK;
}
