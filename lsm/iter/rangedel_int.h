/*
 * rangedel_int.h: range tombstones (lsm_delete_range) and the fragmented
 * view every reader and compaction consults.
 *
 * A range tombstone [lo, hi) with sequence number s hides every version of
 * a key k with lo <= k < hi whose seq is below s; a reader at read seq r
 * ignores tombstones with s > r. Tombstones live beside the point entries:
 * in a memtable's list (mem/memtable.c), in an SST's SST_META_RANGE_DELS
 * record (FORMAT.md, "Meta section"), in a WAL as entries of type 2.
 *
 * Tombstones may overlap. A `range_frags` cuts them at every boundary into
 * sorted, non-overlapping fragments, each with the seqs of the tombstones
 * that cover it (newest first), so "which tombstone covers k at read seq r"
 * is a binary search (range_frags_covering) and a scan walking keys in
 * order advances a cursor instead of testing every tombstone per entry
 * (range_cursor).
 *
 * Thread safety: a range_tomb_list is used by one thread; a range_frags is
 * immutable once built and may be read by any number of threads.
 */
#ifndef LSM_RANGEDEL_INT_H
#define LSM_RANGEDEL_INT_H

#include "lsm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One tombstone; the keys belong to whoever holds it. */
typedef struct range_tomb {
    const uint8_t *lo, *hi;
    size_t nlo, nhi;
    uint64_t seq;
} range_tomb;

/* A growable list of tombstones whose keys it owns (copies). */
typedef struct range_tomb_list {
    range_tomb *v;
    size_t n, cap;
} range_tomb_list;

/* LSM_OK when [lo, hi) is a range lsm_delete_range accepts: both keys pass
 * key_check and lo < hi; else LSM_EINVAL saying why. */
int range_check(const uint8_t *lo, size_t nlo, const uint8_t *hi, size_t nhi);

/* Appends a copy of [lo, hi) at seq. LSM_ENOMEM leaves l unchanged. */
int range_tomb_list_add(range_tomb_list *l, const uint8_t *lo, size_t nlo,
                        const uint8_t *hi, size_t nhi, uint64_t seq);
/* Appends the part of t inside [from, to) (NULL bound: unbounded), if any. */
int range_tomb_list_add_clipped(range_tomb_list *l, const range_tomb *t,
                                const uint8_t *from, size_t nfrom,
                                const uint8_t *to, size_t nto);
/* Sorts by lo, then seq descending (the order SSTs store them in). */
void range_tomb_list_sort(range_tomb_list *l);
/* Frees the keys and the array; l is then empty. */
void range_tomb_list_free(range_tomb_list *l);

/* The smallest key a tombstone covers is lo; the largest it may cover is
 * the predecessor of hi, which exists only when hi ends in a zero byte (hi
 * without it). Otherwise hi itself stands for it: an SST's key range
 * (its last key) is then slightly wider than what it holds, never
 * narrower. *n receives the length; the pointer is into t->hi. */
const uint8_t *range_tomb_last_key(const range_tomb *t, size_t *n);

/* A compaction cuts tombstones where one output ends and the next
 * begins, at the key just above the first output's last key (that key
 * plus a zero byte), which may be one byte longer than any user key. */
#define RANGE_MAX_END_BYTES (LSM_MAX_KEY_BYTES + 1)

/* SST_META_RANGE_DELS: count varint, then per tombstone lo_len varint, lo,
 * hi_len varint, hi, seq varint (keys of 1 to LSM_MAX_KEY_BYTES bytes, hi
 * up to RANGE_MAX_END_BYTES), sorted as range_tomb_list_sort sorts.
 * range_encode returns a malloc'd buffer in *out (NULL for none: n == 0)
 * and its size in *nout. */
int range_encode(const range_tomb_list *l, uint8_t **out, size_t *nout);
/* Parses and validates a record (every rule above, lo < hi, seq >= 1, the
 * order, nothing left over): LSM_ECORRUPT naming `what` (the file) and the
 * fault. The list's keys are copies. */
int range_decode(const uint8_t *p, size_t n, const char *what,
                 range_tomb_list *out);

/* One fragment: keys in [lo, hi) are covered by the tombstones whose seqs
 * are seqs[0..nseqs), newest first. */
typedef struct range_frag {
    const uint8_t *lo, *hi;
    size_t nlo, nhi;
    const uint64_t *seqs;
    size_t nseqs;
} range_frag;

typedef struct range_frags {
    range_frag *frags; /* sorted, non-overlapping, non-empty */
    size_t n;
    size_t n_tombs; /* tombstones it was built from */
    uint64_t *seq_pool;
    uint8_t *key_pool;
} range_frags;

/* Fragments t[0..n) keeping only tombstones with seq <= max_seq
 * (UINT64_MAX: all). *out is freed by range_frags_free; with no tombstone
 * left it is still a valid, empty set. LSM_ENOMEM on failure. */
int range_frags_build(const range_tomb *t, size_t n, uint64_t max_seq,
                      range_frags **out);
void range_frags_free(range_frags *f); /* NULL-safe */

/* The index of the first fragment whose hi is above key (f->n if none). */
size_t range_frags_find(const range_frags *f, const uint8_t *key, size_t nkey);
/* The newest seq <= read_seq of a tombstone covering key, 0 for none. */
uint64_t range_frags_covering(const range_frags *f, const uint8_t *key,
                              size_t nkey, uint64_t read_seq);
/* The newest seq <= read_seq in fragment i, 0 for none. */
uint64_t range_frag_seq_at(const range_frag *fr, uint64_t read_seq);

/* A cursor for keys visited in ascending order (a scan, a compaction):
 * each call moves forward past fragments that end at or before key, so a
 * pass over m keys and n fragments costs O(m + n). A seek back resets it. */
typedef struct range_cursor {
    const range_frags *f; /* NULL: no tombstones */
    size_t i;
} range_cursor;

void range_cursor_init(range_cursor *c, const range_frags *f);
/* Positions at key by binary search (any direction). */
void range_cursor_seek(range_cursor *c, const uint8_t *key, size_t nkey);
/* As range_frags_covering, for a key not below the previous one. */
uint64_t range_cursor_covering(range_cursor *c, const uint8_t *key, size_t nkey,
                               uint64_t read_seq);

#endif
