/*
 * iter_int.h: the internal iterator interface, and the two merging
 * iterators of this layer (merge_iter.c, two_merge_iter.c).
 *
 * Every source of sorted entries is an `iter`: a table of operations plus
 * the source's own state. The sources live in their own layers: a memtable
 * (memtable_iter_new, mem/memtable.c), a block (block_iter_new,
 * table/block.c), an SST (sst_iter_new, table/sst_reader.c) and a level or
 * tier (concat_iter_new, table/concat_iter.c). Entries (key_int.h) come in
 * internal-key order (entry_cmp): user key ascending (memcmp, shorter first
 * on a tie), then sequence number DESCENDING, so the newest version of a key
 * comes first.
 * A source may hold several versions of one key (merged sources do); hiding
 * old versions and tombstones is the job of the user-facing iterator
 * (db/db_iter.c).
 *
 * Life cycle: a constructor returns an iterator that is NOT yet positioned;
 * call iter_seek (NULL key = first entry) before anything else. An entry view
 * (iter_entry) points into the source and is valid until the next seek, next
 * or destroy on that iterator. Errors (a corrupt block) are returned by
 * seek/next, after which the iterator is invalid.
 *
 * Thread safety: an iterator is used by one thread at a time.
 */
#ifndef LSM_ITER_INT_H
#define LSM_ITER_INT_H

#include "iter/key_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct iter iter;

typedef struct iter_ops {
    bool (*valid)(const iter *it);
    /* Fills *out with the current entry; only when valid. */
    void (*current)(const iter *it, entry *out);
    /* Moves to the next entry. */
    int (*next)(iter *it);
    /* Positions on the first entry whose user key >= key (key NULL: the very
     * first entry). */
    int (*seek)(iter *it, const uint8_t *key, size_t nkey);
    /* 1 for a leaf that is valid, 0 for one that is exhausted; a merging
     * iterator sums over its valid children. */
    size_t (*num_active)(const iter *it);
    /* Frees the iterator and releases what it holds. NULL-safe via
     * iter_destroy. */
    void (*destroy)(iter *it);
} iter_ops;

/* Implementations embed this as their first member. */
struct iter {
    const iter_ops *ops;
};

static inline bool iter_valid(const iter *it)
{
    return it->ops->valid(it);
}
static inline void iter_entry(const iter *it, entry *out)
{
    it->ops->current(it, out);
}
static inline int iter_next(iter *it)
{
    return it->ops->next(it);
}
static inline int iter_seek(iter *it, const uint8_t *key, size_t nkey)
{
    return it->ops->seek(it, key, nkey);
}
static inline size_t iter_num_active(const iter *it)
{
    return it->ops->num_active(it);
}
static inline void iter_destroy(iter *it)
{
    if (it)
        it->ops->destroy(it);
}

/* What one source of an explained scan (lsm_scan_explain) did, counted by
 * the source's own iterator when its constructor is given a pointer to one
 * (memtable_iter_new_counted, sst_iter_new_counted,
 * concat_iter_new_counted); plain iterators get NULL and count nothing.
 * Written only by the thread using the iterator. */
typedef struct iter_stats {
    uint64_t entries;          /* entries it was positioned on (handed on) */
    uint64_t blocks_read;      /* SST: data blocks read from the file */
    uint64_t block_cache_hits; /* SST: data blocks served by the cache */
} iter_stats;

/* A heap-based merge of n children. children[0] is the NEWEST source: when
 * two children hold an entry with the same user key and the same sequence
 * number, the lower index comes first. Takes ownership of the children (and
 * of the array's contents; the array itself is copied). n may be 0, and a
 * NULL child is an empty source.
 * Returns NULL when out of memory, after destroying the children. */
iter *merge_iter_new(iter **children, size_t n);

/* Merges two children, `a` preferred on an exact tie (a is the newer source).
 * Takes ownership of both; either may be NULL (an empty source). NULL when
 * out of memory, after destroying both. */
iter *two_merge_iter_new(iter *a, iter *b);

#endif
