/*
 * two_merge_iter.c: the merge of exactly two children, `a` the newer one.
 *
 * Cheaper than a heap for the common memtables + SSTs split. The current
 * entry is the smaller of the two children's current entries by entry_cmp;
 * on an exact tie (same user key, same seq) `a` goes first and `b`'s entry
 * follows, so, like merge_iter, every entry of both children is yielded.
 *
 * Invariants: `use_a` names the child whose entry is current, recomputed
 * after every seek/next; children are only looked at once `positioned`
 * (after the first successful seek); a NULL child is an empty source. A child
 * error from seek/next is returned and latched (the merge is invalid) until the
 * next successful seek.
 *
 * Thread safety: one thread at a time, as every iter.
 */
#include "iter/iter_int.h"

#include "lsm.h"
#include "util/status_int.h"

#include <stdlib.h>

typedef struct two_merge_iter {
    iter base;
    iter *a; /* owned, may be NULL */
    iter *b; /* owned, may be NULL */
    bool use_a;
    bool positioned; /* false until the first successful seek */
    int err;         /* latched child error, LSM_OK when none */
} two_merge_iter;

static bool two_merge_child_valid(const iter *child)
{
    return child && iter_valid(child);
}

/* Picks the child whose entry comes first; `a` on a tie. */
static void two_merge_iter_choose(two_merge_iter *ti)
{
    bool a_valid = two_merge_child_valid(ti->a);
    bool b_valid = two_merge_child_valid(ti->b);
    if (a_valid && b_valid) {
        entry ea, eb;
        iter_entry(ti->a, &ea);
        iter_entry(ti->b, &eb);
        ti->use_a = entry_cmp(&ea, &eb) <= 0;
    } else {
        ti->use_a = a_valid;
    }
}

static bool two_merge_iter_valid(const iter *it)
{
    const two_merge_iter *ti = (const two_merge_iter *)it;
    if (!ti->positioned || ti->err != LSM_OK)
        return false;
    return two_merge_child_valid(ti->a) || two_merge_child_valid(ti->b);
}

static void two_merge_iter_current(const iter *it, entry *out)
{
    const two_merge_iter *ti = (const two_merge_iter *)it;
    iter_entry(ti->use_a ? ti->a : ti->b, out);
}

static int two_merge_iter_next(iter *it)
{
    two_merge_iter *ti = (two_merge_iter *)it;
    if (!two_merge_iter_valid(it))
        return ti->err;
    int rc = iter_next(ti->use_a ? ti->a : ti->b);
    if (rc != LSM_OK) {
        ti->err = rc;
        return rc;
    }
    two_merge_iter_choose(ti);
    return LSM_OK;
}

static int two_merge_iter_seek(iter *it, const uint8_t *key, size_t nkey)
{
    two_merge_iter *ti = (two_merge_iter *)it;
    ti->err = LSM_OK;
    ti->positioned = false;
    int rc = LSM_OK;
    if (ti->a)
        rc = iter_seek(ti->a, key, nkey);
    if (rc == LSM_OK && ti->b)
        rc = iter_seek(ti->b, key, nkey);
    if (rc != LSM_OK) {
        ti->err = rc;
        return rc;
    }
    ti->positioned = true;
    two_merge_iter_choose(ti);
    return LSM_OK;
}

static size_t two_merge_iter_num_active(const iter *it)
{
    const two_merge_iter *ti = (const two_merge_iter *)it;
    size_t n = 0;
    if (!two_merge_iter_valid(it))
        return 0;
    if (two_merge_child_valid(ti->a))
        n += iter_num_active(ti->a);
    if (two_merge_child_valid(ti->b))
        n += iter_num_active(ti->b);
    return n;
}

static void two_merge_iter_destroy(iter *it)
{
    two_merge_iter *ti = (two_merge_iter *)it;
    iter_destroy(ti->a);
    iter_destroy(ti->b);
    free(ti);
}

static const iter_ops two_merge_iter_ops = {
    .valid = two_merge_iter_valid,
    .current = two_merge_iter_current,
    .next = two_merge_iter_next,
    .seek = two_merge_iter_seek,
    .num_active = two_merge_iter_num_active,
    .destroy = two_merge_iter_destroy,
};

/* The merge owns a and b from here on, also on failure; it is freed with
 * iter_destroy, which destroys them. Not positioned until the first seek. */
iter *two_merge_iter_new(iter *a, iter *b)
{
    two_merge_iter *ti = calloc(1, sizeof(*ti));
    if (!ti) {
        iter_destroy(a);
        iter_destroy(b);
        lsm_error(LSM_ENOMEM, "two-merge iterator: out of memory");
        return NULL;
    }
    ti->base.ops = &two_merge_iter_ops;
    ti->a = a;
    ti->b = b;
    return &ti->base;
}
