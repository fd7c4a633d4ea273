/*
 * version_filter_int.h: which versions of a key a flush or a compaction
 * keeps, given the watermark (no files, no locks).
 *
 * Snapshots and transactions read the database at a sequence number (a
 * read point); the watermark W is the oldest live one, bounded by the
 * newest visible seq (db_watermark, db/db_snap.c). A merge
 * feeds the filter its entries in internal-key order (user key ascending,
 * seq descending), and for each key the filter
 *   - keeps every version with seq > W: a read point at or above W may
 *     see any of them;
 *   - keeps the newest version with seq <= W: every read point sees it or
 *     something newer; except a tombstone when drop_tombstones (nothing
 *     older lies below the output), which then hides nothing and is
 *     dropped too;
 *   - drops every older version: no read point can see it.
 * Range tombstones (iter/rangedel_int.h) given by version_filter_set_ranges
 * drop more: a version below a range tombstone over its key whose seq is
 * at or below W is invisible to every read point (all are at or above W,
 * so all see the tombstone), and so is every older version of the key:
 * they are dropped and counted in versions_dropped. A tombstone above W
 * drops nothing: a read point below it may read what it covers.
 * With no watermark every seq is <= W, so only the newest version of each
 * key is kept (and a tombstone dropped at the bottom): exactly what the
 * engine did before snapshots.
 *
 * It counts (dropped, kept) the versions it dropped because a
 * newer one at or below W shadows them (versions_dropped), and the
 * shadowed ones it kept because they lie above W (versions_kept): the
 * meaning of lsm_counters' fields of the same names. A bottom tombstone
 * dropped is neither: it shadows, it is not shadowed.
 *
 * Ownership: the filter copies the current user key (the entries fed to it
 * may die at the next move of the caller's iterator); version_filter_free
 * releases the copy. Used by one thread.
 */
#ifndef LSM_VERSION_FILTER_INT_H
#define LSM_VERSION_FILTER_INT_H

#include "iter/key_int.h"
#include "iter/rangedel_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* No watermark at all: only the newest version of each key is kept. (The
 * engine never passes it: db_watermark is at most visible_seq, which keeps
 * the same versions of anything a flush or compaction reads.) */
#define VERSION_FILTER_NO_WATERMARK UINT64_MAX

typedef struct version_filter {
    uint64_t watermark;
    bool drop_tombstones;
    /* The user key of the last entry fed (a copy), and what is known of
     * its versions so far. */
    uint8_t *key;
    size_t nkey, key_cap;
    bool have_key;
    bool settled;        /* its newest version <= watermark was seen */
    bool kept_any;       /* some version of it was kept */
    uint64_t covered;    /* newest range tombstone <= W over it, 0: none */
    range_cursor ranges; /* borrowed fragments, NULL: none */
    uint64_t dropped;    /* versions_dropped so far */
    uint64_t kept;       /* versions_kept so far */
} version_filter;

/* What the filter says of one entry. */
typedef struct version_verdict {
    bool keep;
    /* keep, and no earlier version of this user key was kept: where an
     * output file may end before this entry (a user key's versions never
     * straddle two outputs). */
    bool first_kept_of_key;
} version_verdict;

void version_filter_init(version_filter *f, uint64_t watermark,
                         bool drop_tombstones);
/* Range tombstones the entries must be filtered by (built at the
 * watermark or above; borrowed until the last decide). Before the first
 * decide. */
void version_filter_set_ranges(version_filter *f, const range_frags *ranges);
/* Decides e, which must follow the previous entry fed in internal-key
 * order. LSM_ENOMEM (copying the key) leaves the filter unchanged. */
int version_filter_decide(version_filter *f, const entry *e,
                          version_verdict *out);
/* Frees the key copy; the counts stay readable. NULL-safe. */
void version_filter_free(version_filter *f);

#endif
