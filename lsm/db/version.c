/*
 * version.c: building and releasing versions (see version_int.h).
 *
 * Arrays are small (tens of entries), so edits copy and shift; clarity wins
 * over cleverness here. Nothing in this file takes a lock: versions being
 * edited are private to one thread, published ones are read-only.
 */
#include "db/version_int.h"
#include "util/status_int.h"

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

void version_unref(version *v)
{
    if (!v || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
        return;
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
