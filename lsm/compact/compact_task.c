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
