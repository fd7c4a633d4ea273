/*
 * merge_iter.c: a k-way merge of child iterators with a binary min-heap.
 *
 * Invariants (whenever no error is latched):
 *   1. The heap holds exactly the indices of the VALID children; an
 *      exhausted child leaves it and only a seek brings it back.
 *   2. heap_entry[i] is the current entry of child i for every i in the
 *      heap, refreshed after every seek/next of that child (an entry view
 *      stays valid until the child moves, so caching it is safe).
 *   3. The heap is ordered by entry_cmp, then by child index: on an exact
 *      tie (same user key, same seq) the lower index, the newer source,
 *      comes first. The root is the current entry of the merge.
 * Every entry of every child is yielded, duplicates included; hiding old
 * versions is the job of the user-facing iterator.
 *
 * Errors: a child error from seek/next is returned and latched: the merge is
 * then invalid until the next successful seek.
 *
 * Thread safety: one thread at a time, as every iter.
 */
#include "iter/iter_int.h"

#include "lsm.h"
#include "util/status_int.h"

#include <stdint.h>
#include <stdlib.h>

typedef struct merge_iter {
    iter base;
    size_t n_children;
    /* The three arrays lie in the merge's own allocation (merge_iter_new). */
    iter **children;   /* owned; entries may be NULL (an empty source) */
    entry *heap_entry; /* by child index, see invariant 2 */
    size_t *heap;      /* child indices, min-heap */
    size_t n_heap;
    int err; /* latched child error, LSM_OK when none */
} merge_iter;

/* True when child a must come before child b. */
static bool merge_iter_less(const merge_iter *mi, size_t a, size_t b)
{
    int c = entry_cmp(&mi->heap_entry[a], &mi->heap_entry[b]);
    return c < 0 || (c == 0 && a < b);
}

static void merge_iter_swap(merge_iter *mi, size_t i, size_t j)
{
    size_t t = mi->heap[i];
    mi->heap[i] = mi->heap[j];
    mi->heap[j] = t;
}

/* Restores the heap order below position i. */
static void merge_iter_sift_down(merge_iter *mi, size_t i)
{
    for (;;) {
        size_t left = 2 * i + 1, right = left + 1, least = i;
        if (left < mi->n_heap &&
            merge_iter_less(mi, mi->heap[left], mi->heap[least]))
            least = left;
        if (right < mi->n_heap &&
            merge_iter_less(mi, mi->heap[right], mi->heap[least]))
            least = right;
        if (least == i)
            return;
        merge_iter_swap(mi, i, least);
        i = least;
    }
}

/* Drops the root (its child is exhausted) and restores the order. */
static void merge_iter_pop(merge_iter *mi)
{
    mi->heap[0] = mi->heap[--mi->n_heap];
    if (mi->n_heap > 0)
        merge_iter_sift_down(mi, 0);
}

/* Latches rc and empties the heap, making the merge invalid. */
static int merge_iter_fail(merge_iter *mi, int rc)
{
    mi->err = rc;
    mi->n_heap = 0;
    return rc;
}

static bool merge_iter_valid(const iter *it)
{
    const merge_iter *mi = (const merge_iter *)it;
    return mi->err == LSM_OK && mi->n_heap > 0;
}

static void merge_iter_current(const iter *it, entry *out)
{
    const merge_iter *mi = (const merge_iter *)it;
    *out = mi->heap_entry[mi->heap[0]];
}

/* Advances the child at the root only: every other child is already at an
 * entry that is >= the root's, so one sift-down restores the order. */
static int merge_iter_next(iter *it)
{
    merge_iter *mi = (merge_iter *)it;
    if (!merge_iter_valid(it))
        return mi->err;
    size_t top = mi->heap[0];
    iter *child = mi->children[top];
    int rc = iter_next(child);
    if (rc != LSM_OK)
        return merge_iter_fail(mi, rc);
    if (iter_valid(child)) {
        iter_entry(child, &mi->heap_entry[top]);
        merge_iter_sift_down(mi, 0);
    } else {
        merge_iter_pop(mi);
    }
    return LSM_OK;
}

/* Re-seeks every child, then heapifies the valid ones bottom-up. */
static int merge_iter_seek(iter *it, const uint8_t *key, size_t nkey)
{
    merge_iter *mi = (merge_iter *)it;
    mi->err = LSM_OK;
    mi->n_heap = 0;
    for (size_t i = 0; i < mi->n_children; i++) {
        iter *child = mi->children[i];
        if (!child)
            continue;
        int rc = iter_seek(child, key, nkey);
        if (rc != LSM_OK)
            return merge_iter_fail(mi, rc);
        if (iter_valid(child)) {
            iter_entry(child, &mi->heap_entry[i]);
            mi->heap[mi->n_heap++] = i;
        }
    }
    for (size_t i = mi->n_heap / 2; i-- > 0;)
        merge_iter_sift_down(mi, i);
    return LSM_OK;
}

/* mini-lsm's num_active_iterators: what the children still being merged
 * report, so nested merges count their leaves. */
static size_t merge_iter_num_active(const iter *it)
{
    const merge_iter *mi = (const merge_iter *)it;
    size_t n = 0;
    if (mi->err != LSM_OK)
        return 0;
    for (size_t i = 0; i < mi->n_heap; i++)
        n += iter_num_active(mi->children[mi->heap[i]]);
    return n;
}

static void merge_iter_destroy(iter *it)
{
    merge_iter *mi = (merge_iter *)it;
    for (size_t i = 0; i < mi->n_children; i++)
        iter_destroy(mi->children[i]);
    free(mi); /* the arrays share its allocation */
}

static const iter_ops merge_iter_ops = {
    .valid = merge_iter_valid,
    .current = merge_iter_current,
    .next = merge_iter_next,
    .seek = merge_iter_seek,
    .num_active = merge_iter_num_active,
    .destroy = merge_iter_destroy,
};

/* What each child adds to the merge's one allocation (a scan builds
 * merges by the thousand: one malloc, not four): its slot in each of the
 * three arrays. */
#define MERGE_ITER_CHILD_BYTES (sizeof(iter *) + sizeof(entry) + sizeof(size_t))

/* The merge owns the children from here on, also on failure; it is freed
 * with iter_destroy, which destroys them. */
iter *merge_iter_new(iter **children, size_t n)
{
    merge_iter *mi = NULL;
    if (n <= (SIZE_MAX - sizeof *mi) / MERGE_ITER_CHILD_BYTES)
        mi = calloc(1, sizeof *mi + n * MERGE_ITER_CHILD_BYTES);
    if (!mi) {
        for (size_t i = 0; i < n; i++)
            iter_destroy(children[i]);
        lsm_error(LSM_ENOMEM, "merge iterator: out of memory for %zu children",
                  n);
        return NULL;
    }
    /* Laid out as the struct, then the entries, then the child and heap
     * arrays, so each is aligned for its type. */
    mi->base.ops = &merge_iter_ops;
    mi->n_children = n;
    mi->heap_entry = (entry *)(mi + 1);
    mi->children = (iter **)(mi->heap_entry + n);
    mi->heap = (size_t *)(mi->children + n);
    for (size_t i = 0; i < n; i++)
        mi->children[i] = children[i];
    return &mi->base;
}
