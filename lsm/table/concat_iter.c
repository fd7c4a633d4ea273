/*
 * concat_iter.c: one iterator over the SSTs of a level or tier, one after
 * the other.
 *
 * The SSTs of a level (or of one tier) are sorted by first key and do not
 * overlap, so their entries in internal-key order are simply the entries of
 * the first SST, then those of the second, and so on. Only the SST being
 * read needs an open iterator: this one keeps at most one, opens the next
 * SST's iterator only when the current one is exhausted, and destroys the
 * old one first. A whole level therefore pins at most one data block and
 * counts 1 in num_active while it has entries, as mini-lsm's
 * SstConcatIterator does. (The db never lets adjacent SSTs share a user
 * key: db/version_int.h, invariant 3. The concatenation would stay ordered
 * if they did, as long as the versions were.)
 *
 * Invariants (whenever no error is latched):
 *   1. cur is NULL or the iterator of ssts[cur_idx], and it is VALID: an
 *      exhausted SST iterator is destroyed at once and replaced by the next
 *      SST's, positioned at its first entry, until one has an entry or the
 *      SSTs run out. So valid == (cur != NULL).
 *   2. cur is NULL until the first seek (not positioned).
 *   3. Every ssts[i] holds one reference taken by concat_iter_new and
 *      dropped by destroy, so the SSTs outlive their creator's references.
 *
 * Errors: an error from the SST iterator's seek/next (a corrupt block, an
 * I/O error) or an out-of-memory while opening one is returned and latched:
 * the current SST iterator is destroyed and the concatenation is invalid,
 * next returns the error again, until the next seek.
 *
 * Thread safety: one thread at a time, as every iter. The SSTs themselves
 * may be shared with other readers (sst_int.h).
 */
#include "iter/iter_int.h"

#include "lsm.h"
#include "table/sst_int.h"
#include "util/status_int.h"

#include <stdlib.h>

typedef struct concat_iter {
    iter base;
    size_t n_ssts;
    sst **ssts;         /* one reference each (invariant 3) */
    iter *cur;          /* the one open SST iterator, or NULL (invariant 1) */
    size_t cur_idx;     /* which SST cur reads, when cur != NULL */
    int err;            /* latched error, LSM_OK when none */
    iter_stats **stats; /* explained scans: per SST, passed to its iterator;
                           NULL otherwise */
    bool uncached;      /* open SST iterators that do not fill the cache */
} concat_iter;

/* Destroys the open SST iterator, if any, releasing its block. */
static void concat_iter_close(concat_iter *ci)
{
    iter_destroy(ci->cur);
    ci->cur = NULL;
}

/* Latches rc and closes the SST iterator, making the concatenation invalid
 * until the next seek. Returns rc. */
static int concat_iter_fail(concat_iter *ci, int rc)
{
    concat_iter_close(ci);
    ci->err = rc;
    return rc;
}

/* Replaces the open SST iterator with a fresh, unpositioned one on SST idx.
 * The old one is destroyed before the new one is made, so there is never
 * more than one. */
static int concat_iter_open(concat_iter *ci, size_t idx)
{
    concat_iter_close(ci);
    ci->cur = ci->uncached
                  ? sst_iter_new_uncached(ci->ssts[idx])
                  : sst_iter_new_counted(ci->ssts[idx],
                                         ci->stats ? ci->stats[idx] : NULL);
    if (!ci->cur)
        return lsm_error(LSM_ENOMEM,
                         "concat iterator: out of memory opening an iterator "
                         "on SST %llu",
                         (unsigned long long)sst_id(ci->ssts[idx]));
    ci->cur_idx = idx;
    return LSM_OK;
}

/* Restores invariant 1 after a seek or next of cur: while cur is
 * exhausted, moves on to the next SST's first entry; closes cur after the
 * last SST. An SST is never empty (the builder refuses), but the loop does
 * not rely on it. */
static int concat_iter_skip_exhausted(concat_iter *ci)
{
    while (ci->cur && !iter_valid(ci->cur)) {
        size_t next = ci->cur_idx + 1;
        if (next >= ci->n_ssts) {
            concat_iter_close(ci);
            return LSM_OK;
        }
        int rc = concat_iter_open(ci, next);
        if (rc == LSM_OK)
            rc = iter_seek(ci->cur, NULL, 0);
        if (rc != LSM_OK)
            return rc;
    }
    return LSM_OK;
}

/* The first SST whose last user key is >= key: the only one that can hold
 * the first entry at or after key (every earlier SST ends before it).
 * n_ssts when key is past every SST. */
static size_t concat_iter_find(const concat_iter *ci, const uint8_t *key,
                               size_t nkey)
{
    return sst_find_by_last_key(ci->ssts, ci->n_ssts, key, nkey);
}

static bool concat_iter_valid(const iter *it)
{
    return ((const concat_iter *)it)->cur != NULL;
}

static void concat_iter_current(const iter *it, entry *out)
{
    iter_entry(((const concat_iter *)it)->cur, out);
}

static int concat_iter_next(iter *it)
{
    concat_iter *ci = (concat_iter *)it;
    if (!ci->cur)
        return ci->err;
    int rc = iter_next(ci->cur);
    if (rc == LSM_OK)
        rc = concat_iter_skip_exhausted(ci);
    if (rc != LSM_OK)
        return concat_iter_fail(ci, rc);
    return LSM_OK;
}

/* Opens (or reuses, when it is already open) the iterator of the one SST
 * that can hold key and seeks in it; if that SST has nothing at or after
 * key, the next SST's first entry is the answer. */
static int concat_iter_seek(iter *it, const uint8_t *key, size_t nkey)
{
    concat_iter *ci = (concat_iter *)it;
    ci->err = LSM_OK;
    size_t idx = key ? concat_iter_find(ci, key, nkey) : 0;
    if (idx >= ci->n_ssts) {
        concat_iter_close(ci);
        return LSM_OK;
    }
    int rc = LSM_OK;
    if (!ci->cur || ci->cur_idx != idx)
        rc = concat_iter_open(ci, idx);
    if (rc == LSM_OK)
        rc = iter_seek(ci->cur, key, nkey);
    if (rc == LSM_OK)
        rc = concat_iter_skip_exhausted(ci);
    if (rc != LSM_OK)
        return concat_iter_fail(ci, rc);
    return LSM_OK;
}

/* One SST is read at a time, so the level counts as one leaf. */
static size_t concat_iter_num_active(const iter *it)
{
    return concat_iter_valid(it) ? 1 : 0;
}

static void concat_iter_destroy(iter *it)
{
    concat_iter *ci = (concat_iter *)it;
    concat_iter_close(ci);
    for (size_t i = 0; i < ci->n_ssts; i++)
        sst_unref(ci->ssts[i]);
    free(ci->ssts);
    free(ci->stats);
    free(ci);
}

static const iter_ops concat_iter_ops = {
    .valid = concat_iter_valid,
    .current = concat_iter_current,
    .next = concat_iter_next,
    .seek = concat_iter_seek,
    .num_active = concat_iter_num_active,
    .destroy = concat_iter_destroy,
};

/* Copies the array and takes a reference on each SST, so the caller keeps
 * its own references and may drop them at any time. The iterator is freed
 * with iter_destroy, which drops those references. ssts may be NULL when n
 * is 0 (an always-invalid iterator). NULL when out of memory, with no
 * reference taken. */
iter *concat_iter_new(sst *const *ssts, size_t n)
{
    return concat_iter_new_counted(ssts, n, NULL);
}

/* Copies the per-SST stats pointers of an explained scan. */
static int concat_iter_copy_stats(concat_iter *ci, iter_stats *const *stats)
{
    if (!stats || ci->n_ssts == 0)
        return LSM_OK;
    ci->stats = calloc(ci->n_ssts, sizeof(*ci->stats));
    if (!ci->stats)
        return LSM_ENOMEM;
    for (size_t i = 0; i < ci->n_ssts; i++)
        ci->stats[i] = stats[i];
    return LSM_OK;
}

iter *concat_iter_new_counted(sst *const *ssts, size_t n,
                              iter_stats *const *stats)
{
    int rc = LSM_OK;
    concat_iter *ci = calloc(1, sizeof(*ci));
    if (!ci) {
        rc = LSM_ENOMEM;
        goto out;
    }
    ci->base.ops = &concat_iter_ops;
    ci->n_ssts = n;
    if (n > 0) {
        ci->ssts = calloc(n, sizeof(*ci->ssts));
        if (!ci->ssts) {
            rc = LSM_ENOMEM;
            goto out;
        }
    }
    rc = concat_iter_copy_stats(ci, stats);
    if (rc != LSM_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        sst_ref(ssts[i]);
        ci->ssts[i] = ssts[i];
    }
out:
    if (rc != LSM_OK) {
        if (ci)
            free(ci->ssts);
        free(ci);
        lsm_error(rc, "concat iterator: out of memory for %zu SSTs", n);
        return NULL;
    }
    return &ci->base;
}

iter *concat_iter_new_uncached(sst *const *ssts, size_t n)
{
    iter *it = concat_iter_new_counted(ssts, n, NULL);
    if (it)
        ((concat_iter *)it)->uncached = true;
    return it;
}
