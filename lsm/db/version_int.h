/*
 * version_int.h: which memtables and SSTs make up the tree at one instant.
 *
 * A version is immutable once published: every structural change (freeze,
 * flush, compaction) builds a new version from the current one with
 * version_copy, edits the copy, and swaps it in under the db's state lock.
 * A reader takes a reference to the current version under that lock and then
 * reads without any lock; the memtables and SSTs it names stay alive (they
 * are refcounted too) until the reader drops the version.
 *
 * Invariants of a published version (version_check asserts them in debug
 * builds after every publish, and names a broken one by its number):
 *   1. mem is the only memtable that receives writes; it is never NULL.
 *   2. imm is newest first; every immutable memtable's entries are older than
 *      mem's: memtable ids strictly decrease from mem through imm[]. l0 is
 *      newest first; its SSTs are older than every memtable: l0 ids strictly
 *      decrease, and are below every memtable id (an L0 SST takes the id of
 *      the memtable it was flushed from).
 *   3. levels[i] is sorted by first key and its SSTs never overlap: each
 *      SST's first key is at most its last key, which is below the next
 *      SST's first key. Strictly: a key's versions are never split
 *      between two SSTs of a run (compaction ends an output only at a
 *      user-key change), so a get at a snapshot asks one SST per level.
 *      Its data is older than L0's and than
 *      levels[j]'s for j < i (for levels, levels[i] is L(i+1); for tiers,
 *      levels[0] is the newest tier).
 *   4. sst_bytes is the sum of sst_file_size over every SST named.
 *   5. An id names at most one memtable or SST of the version.
 *   6. A tiered version has an empty L0: every flush makes a new tier.
 *
 * Ownership: a version holds one reference on each memtable and SST it names.
 */
#ifndef LSM_VERSION_INT_H
#define LSM_VERSION_INT_H

#include "mem/memtable_int.h"
#include "table/sst_int.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define VERSION_MAX_LEVELS LSM_MAX_LEVELS

/* A sorted run below L0: its SSTs are sorted by first key and never
 * overlap. A level's run_id is its number (1 = L1); a tier's is the id of
 * the SST it was created with. */
typedef struct sorted_run {
    uint64_t run_id;
    size_t n_ssts;
    sst **ssts;
} sorted_run;

typedef struct version {
    atomic_int refs;
    memtable *mem;
    size_t n_imm;
    memtable **imm; /* newest first */
    size_t n_l0;
    sst **l0; /* newest first */
    size_t n_levels;
    sorted_run *levels; /* levels: levels[0] is L1; tiers: newest first */
    bool tiered;        /* levels[] are tiers, and L0 stays empty */
    uint64_t sst_bytes; /* file bytes of every SST named, kept as it changes */
} version;

/* A version with no memtable (mem NULL) and n_levels empty levels (none,
 * for tiered); one reference. NULL when out of memory. */
version *version_new(size_t n_levels, bool tiered);

/* A copy naming the same memtables and SSTs (each gets one more reference).
 * The copy is unpublished, so the caller may edit it. NULL on OOM. */
version *version_copy(const version *v);

void version_ref(version *v);
/* Drops a reference; the last one releases every memtable and SST. Returns
 * true when it was the last (v is freed). NULL-safe (false). */
bool version_unref(version *v);

/* Edits for unpublished versions. Each returns LSM_OK or LSM_ENOMEM. The
 * version takes over the caller's reference on the memtable / SST passed. */
void version_set_mem(version *v, memtable *mt);
int version_push_imm(version *v, memtable *mt); /* becomes the newest */
memtable *version_pop_oldest_imm(version *v);   /* caller gets the ref */
int version_push_l0(version *v, sst *t);        /* becomes the newest */
/* Adds t to run levels[run_index], keeping it sorted by first key. */
int version_add_to_run(version *v, size_t run_index, sst *t);
/* Inserts an empty run (a tier) at index with the given id. */
int version_insert_run(version *v, size_t index, uint64_t run_id);
/* Drops every SST reference and run of an unpublished version, keeping its
 * memtables: the tree is then rebuilt (compaction install). */
void version_clear_tree(version *v);

/* Asserts every invariant above on a version about to be published; a
 * broken one prints "version invariant N broken: ..." to stderr and fails
 * an assert. Debug builds only: with NDEBUG it compiles to nothing. Costs
 * O(n log n) in the memtables and SSTs named. */
#ifdef NDEBUG
#define version_check(v) ((void)(v))
#else
void version_check(const version *v);
#endif

#endif
