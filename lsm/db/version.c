/*
 * version.c: building and releasing versions (see version_int.h).
 *
 * Arrays are small (tens of entries), so edits copy and shift; clarity wins
 * over cleverness here. Nothing in this file takes a lock: versions being
 * edited are private to one thread, published ones are read-only.
 */
#include "db/version_int.h"
#include "util/status_int.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

version *version_new(size_t n_levels, bool tiered)
{
    version *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    atomic_init(&v->refs, 1);
    v->tiered = tiered;
    if (n_levels > 0) {
        v->levels = calloc(n_levels, sizeof *v->levels);
        if (!v->levels) {
            free(v);
            return NULL;
        }
    }
    v->n_levels = n_levels;
    for (size_t i = 0; i < n_levels; i++)
        v->levels[i].run_id = i + 1;
    return v;
}

/* Copies an array of n pointers; NULL when n is 0 or out of memory. */
static void **copy_ptrs(void *const *src, size_t n, int *rc)
{
    if (n == 0)
        return NULL;
    void **dst = malloc(n * sizeof *dst);
    if (!dst) {
        *rc = LSM_ENOMEM;
        return NULL;
    }
    memcpy(dst, src, n * sizeof *dst);
    return dst;
}

version *version_copy(const version *v)
{
    int rc = LSM_OK;
    version *c = version_new(v->n_levels, v->tiered);
    if (!c)
        return NULL;
    c->imm = (memtable **)copy_ptrs((void *const *)v->imm, v->n_imm, &rc);
    c->l0 = (sst **)copy_ptrs((void *const *)v->l0, v->n_l0, &rc);
    for (size_t i = 0; i < v->n_levels; i++) {
        c->levels[i].run_id = v->levels[i].run_id;
        c->levels[i].ssts = (sst **)copy_ptrs((void *const *)v->levels[i].ssts,
                                              v->levels[i].n_ssts, &rc);
    }
    if (rc != LSM_OK) {
        /* Counts are still zero: unref frees the arrays and nothing else. */
        version_unref(c);
        return NULL;
    }
    c->mem = v->mem;
    if (c->mem)
        memtable_ref(c->mem);
    c->n_imm = v->n_imm;
    for (size_t i = 0; i < c->n_imm; i++)
        memtable_ref(c->imm[i]);
    c->n_l0 = v->n_l0;
    for (size_t i = 0; i < c->n_l0; i++)
        sst_ref(c->l0[i]);
    for (size_t l = 0; l < c->n_levels; l++) {
        c->levels[l].n_ssts = v->levels[l].n_ssts;
        for (size_t i = 0; i < c->levels[l].n_ssts; i++)
            sst_ref(c->levels[l].ssts[i]);
    }
    c->sst_bytes = v->sst_bytes;
    return c;
}

void version_ref(version *v)
{
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

bool version_unref(version *v)
{
    if (!v || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
        return false;
    memtable_unref(v->mem);
    for (size_t i = 0; i < v->n_imm; i++)
        memtable_unref(v->imm[i]);
    for (size_t i = 0; i < v->n_l0; i++)
        sst_unref(v->l0[i]);
    for (size_t l = 0; l < v->n_levels; l++) {
        for (size_t i = 0; i < v->levels[l].n_ssts; i++)
            sst_unref(v->levels[l].ssts[i]);
        free(v->levels[l].ssts);
    }
    free(v->levels);
    free(v->imm);
    free(v->l0);
    free(v);
    return true;
}

void version_set_mem(version *v, memtable *mt)
{
    memtable_unref(v->mem);
    v->mem = mt;
}

/* Inserts p at index pos of the array *arr of *n pointers. */
static int insert_ptr(void ***arr, size_t *n, size_t pos, void *p)
{
    void **grown = realloc(*arr, (*n + 1) * sizeof *grown);
    if (!grown)
        return LSM_ENOMEM;
    memmove(grown + pos + 1, grown + pos, (*n - pos) * sizeof *grown);
    grown[pos] = p;
    *arr = grown;
    (*n)++;
    return LSM_OK;
}

int version_push_imm(version *v, memtable *mt)
{
    return insert_ptr((void ***)&v->imm, &v->n_imm, 0, mt);
}

memtable *version_pop_oldest_imm(version *v)
{
    if (v->n_imm == 0)
        return NULL;
    return v->imm[--v->n_imm];
}

int version_push_l0(version *v, sst *t)
{
    int rc = insert_ptr((void ***)&v->l0, &v->n_l0, 0, t);
    if (rc == LSM_OK)
        v->sst_bytes += sst_file_size(t);
    return rc;
}

int version_insert_run(version *v, size_t index, uint64_t run_id)
{
    if (index > v->n_levels)
        return lsm_error(LSM_EINTERNAL, "no run position %zu", index);
    sorted_run *grown = realloc(v->levels, (v->n_levels + 1) * sizeof *grown);
    if (!grown)
        return lsm_error(LSM_ENOMEM, "out of memory adding a tier");
    memmove(grown + index + 1, grown + index,
            (v->n_levels - index) * sizeof *grown);
    grown[index] = (sorted_run){.run_id = run_id};
    v->levels = grown;
    v->n_levels++;
    return LSM_OK;
}

void version_clear_tree(version *v)
{
    for (size_t i = 0; i < v->n_l0; i++)
        sst_unref(v->l0[i]);
    v->n_l0 = 0;
    for (size_t l = 0; l < v->n_levels; l++) {
        for (size_t i = 0; i < v->levels[l].n_ssts; i++)
            sst_unref(v->levels[l].ssts[i]);
        free(v->levels[l].ssts);
    }
    v->n_levels = 0;
    v->sst_bytes = 0;
}

int version_add_to_run(version *v, size_t run_index, sst *t)
{
    if (run_index >= v->n_levels)
        return lsm_error(LSM_EINTERNAL, "no run %zu", run_index);
    sorted_run *lv = &v->levels[run_index];
    size_t nfirst;
    const uint8_t *first = sst_first_key(t, &nfirst);
    size_t pos = 0;
    while (pos < lv->n_ssts) {
        size_t n;
        const uint8_t *k = sst_first_key(lv->ssts[pos], &n);
        if (user_key_cmp(first, nfirst, k, n) < 0)
            break;
        pos++;
    }
    int rc = insert_ptr((void ***)&lv->ssts, &lv->n_ssts, pos, t);
    if (rc == LSM_OK)
        v->sst_bytes += sst_file_size(t);
    return rc;
}

/* --- version_check: the invariants of version_int.h, debug builds only ---- */

#ifndef NDEBUG

/* Reports invariant n broken and fails the assert. The one place in lsm/
 * that prints: only a debug build reaches it, and only for a bug. */
static void invariant_broken(int n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "version invariant %d broken: ", n);
    vfprintf(stderr, fmt, ap);
    fputs(" (see db/version_int.h)\n", stderr);
    va_end(ap);
    assert(!"version invariant broken");
}

static int id_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Invariant 2: memtable ids, then L0 ids, strictly decrease. */
static void check_newest_first(const version *v)
{
    uint64_t newer = memtable_id(v->mem);
    for (size_t i = 0; i < v->n_imm; i++) {
        uint64_t id = memtable_id(v->imm[i]);
        if (id >= newer)
            invariant_broken(2,
                             "immutable memtable %" PRIu64 " (imm[%zu]) is "
                             "not older than memtable %" PRIu64,
                             id, i, newer);
        newer = id;
    }
    for (size_t i = 0; i < v->n_l0; i++) {
        uint64_t id = sst_id(v->l0[i]);
        if (id >= newer)
            invariant_broken(2,
                             "L0 SST %" PRIu64 " (l0[%zu]) is not older than "
                             "%s %" PRIu64,
                             id, i, i == 0 ? "memtable" : "L0 SST", newer);
        newer = id;
    }
}

/* Invariant 3 for one run; what is "L2" or "tier 7". */
static void check_run(const sorted_run *run, const char *what)
{
    for (size_t i = 0; i < run->n_ssts; i++) {
        const sst *t = run->ssts[i];
        size_t nf, nl;
        const uint8_t *f = sst_first_key(t, &nf);
        const uint8_t *l = sst_last_key(t, &nl);
        if (user_key_cmp(f, nf, l, nl) > 0)
            invariant_broken(3,
                             "%s SST %" PRIu64 " has its first key after its "
                             "last key",
                             what, sst_id(t));
        if (i + 1 < run->n_ssts) {
            const sst *next = run->ssts[i + 1];
            size_t nn;
            const uint8_t *nf2 = sst_first_key(next, &nn);
            if (user_key_cmp(l, nl, nf2, nn) >= 0)
                invariant_broken(3,
                                 "%s SSTs %" PRIu64 " and %" PRIu64
                                 " overlap, share a key or are out of key "
                                 "order",
                                 what, sst_id(t), sst_id(next));
        }
    }
}

/* Invariant 5 over the n ids gathered from v (sorted here). */
static void check_ids_unique(uint64_t *ids, size_t n)
{
    qsort(ids, n, sizeof *ids, id_cmp);
    for (size_t i = 1; i < n; i++)
        if (ids[i] == ids[i - 1])
            invariant_broken(5, "id %" PRIu64 " names two memtables or SSTs",
                             ids[i]);
}

void version_check(const version *v)
{
    if (!v->mem) {
        invariant_broken(1, "the version has no mutable memtable");
        return;
    }
    check_newest_first(v);

    uint64_t bytes = 0;
    size_t n_ids = 1 + v->n_imm + v->n_l0;
    for (size_t i = 0; i < v->n_l0; i++)
        bytes += sst_file_size(v->l0[i]);
    for (size_t r = 0; r < v->n_levels; r++) {
        char what[48];
        if (v->tiered)
            snprintf(what, sizeof what, "tier %" PRIu64, v->levels[r].run_id);
        else
            snprintf(what, sizeof what, "L%zu", r + 1);
        check_run(&v->levels[r], what);
        n_ids += v->levels[r].n_ssts;
        for (size_t i = 0; i < v->levels[r].n_ssts; i++)
            bytes += sst_file_size(v->levels[r].ssts[i]);
    }
    if (bytes != v->sst_bytes)
        invariant_broken(
            4, "sst_bytes is %" PRIu64 " but the SSTs hold %" PRIu64 " bytes",
            v->sst_bytes, bytes);

    /* Out of memory in a debug check: skip it rather than fail the engine. */
    uint64_t *ids = malloc(n_ids * sizeof *ids);
    if (ids) {
        size_t k = 0;
        ids[k++] = memtable_id(v->mem);
        for (size_t i = 0; i < v->n_imm; i++)
            ids[k++] = memtable_id(v->imm[i]);
        for (size_t i = 0; i < v->n_l0; i++)
            ids[k++] = sst_id(v->l0[i]);
        for (size_t r = 0; r < v->n_levels; r++)
            for (size_t i = 0; i < v->levels[r].n_ssts; i++)
                ids[k++] = sst_id(v->levels[r].ssts[i]);
        check_ids_unique(ids, k);
        free(ids);
    }

    if (v->tiered && v->n_l0 > 0)
        invariant_broken(
            6, "the tiered version has %zu L0 SSTs (newest %" PRIu64 ")",
            v->n_l0, sst_id(v->l0[0]));
}

#endif /* NDEBUG */
