/*
 * memtable_int.h: the in-memory sorted table of recent writes.
 *
 * A memtable is a skiplist (skiplist_int.h) on an arena. Each distinct user
 * key has one skiplist node holding a chain of versions, newest first; a
 * version is (sequence number, type, value). Keeping every version (rather
 * than overwriting) lets a reader see the database as of its sequence
 * number (memtable_get_at; a scan skips newer entries) while writes go on.
 * A flush writes the versions the watermark keeps (every version above it,
 * the newest at or below it: compact/version_filter_int.h), so snapshots
 * read the SST as they read the memtable.
 *
 * Size: memtable_size_bytes is the sum of key bytes + value bytes of every
 * write, as mini-lsm counts it (overwrites count again), and what the shell
 * shows. memtable_memory_bytes is what the arena handed out for it: keys,
 * values, and per entry a skiplist node and a version record (about 55
 * bytes with alignment, more than the key and value of a small entry: a
 * 16-byte key with a 100-byte value takes about 171 bytes, a delete of a
 * 16-byte key about 67, a shell fill's 15-byte entry about 67).
 * memtable_is_full counts both against the freeze limit, so the
 * memory of a memtable stays bounded whatever its entries look like. Both
 * depend only on the writes (not on timing or malloc), so freezes happen at
 * the same writes on every run. The filter (below) counts in
 * memtable_memory_bytes from the start.
 *
 * Filter: a memtable made with memtable_create_filtered has a bloom filter
 * of its distinct user keys, so a get can skip the skiplist search of a
 * memtable that certainly lacks the key (memtable_may_contain). It never
 * grows: its size comes from the freeze limit, one bit per 16 bytes of the
 * memory the memtable may hold (the limit, or MEMTABLE_MIN_MEMORY_LIMIT if
 * larger), rounded down to a power of two: 16 KiB for 2 MiB memtables (0.8%
 * of their memory), 8 KiB at the 1 MiB floor. A key sets 4 bits, all in
 * one 64-bit word (a blocked filter: one load per probe), chosen by its
 * XXH3-64 hash, so the false-positive rate depends on how many keys the
 * memtable holds when it freezes, i.e. on the entries' size: about 1.5% at
 * 171 bytes of memory per entry (a 16-byte key with a 100-byte value: 10.7
 * bits per key), about 15% at 67 bytes (a delete of a 16-byte key, or a
 * shell fill's entry: 4.2 bits per key), far less while the memtable fills
 * or when its freeze limit is its key + value bytes (small shell limits).
 * A filter never gives a false negative.
 *
 * Thread safety: ONE writer at a time (the db's write lock serializes them),
 * any number of concurrent readers without locks. Readers see a version once
 * it is fully written (release/acquire publication).
 *
 * Life: refcounted. memtable_create returns one reference; iterators take
 * their own; the last memtable_unref frees the arena.
 */
#ifndef LSM_MEMTABLE_INT_H
#define LSM_MEMTABLE_INT_H

#include "iter/iter_int.h"
#include "iter/rangedel_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct memtable memtable;

/* Creates an empty memtable with the given id, without a filter; *out
 * holds one reference. */
int memtable_create(uint64_t memtable_id, memtable **out);
/* As memtable_create, with a filter sized for a memtable frozen at
 * freeze_limit (memtable_is_full's limit); 0 for no filter. */
int memtable_create_filtered(uint64_t memtable_id, size_t freeze_limit,
                             memtable **out);
void memtable_ref(memtable *mt);
void memtable_unref(memtable *mt); /* NULL-safe */

/* Adds a version of key. type is ENTRY_VALUE or ENTRY_TOMBSTONE (value then
 * ignored). seq must be greater than the newest seq of the same key
 * (LSM_EINVAL otherwise); the db hands out increasing seqs, so it is.
 * Copies key and value. LSM_ENOMEM on allocation failure (nothing added). */
int memtable_put(memtable *mt, const uint8_t *key, size_t nkey, uint64_t seq,
                 uint8_t type, const uint8_t *value, size_t nvalue);

/* Range tombstones (iter/rangedel_int.h) are kept in a list of their own
 * beside the skiplist: iterators and memtable_get* never show them; a
 * reader asks memtable_range_covering or collects them. */

/* Adds the range tombstone [lo, hi) at seq (lo < hi, else LSM_EINVAL);
 * copies the keys; counts nlo + nhi in memtable_size_bytes. LSM_ENOMEM
 * adds nothing. The single writer only, as memtable_put. */
int memtable_delete_range(memtable *mt, const uint8_t *lo, size_t nlo,
                          const uint8_t *hi, size_t nhi, uint64_t seq);
/* Range tombstones held. */
size_t memtable_num_ranges(const memtable *mt);
/* The newest seq <= read_seq of a range tombstone covering key, 0 for
 * none: a binary search of the fragments the writer built of them
 * (rebuilt once the tombstones added since are at least 32 and an eighth
 * of those it holds), then a walk of the ones added since. */
uint64_t memtable_range_covering(const memtable *mt, const uint8_t *key,
                                 size_t nkey, uint64_t read_seq);
/* Appends copies of the range tombstones with seq <= max_seq to *out,
 * newest first. */
int memtable_collect_ranges(const memtable *mt, uint64_t max_seq,
                            range_tomb_list *out);

/* Finds the newest version of key. Returns true and fills *out (pointers into
 * the arena, valid while the caller holds a reference) when present, a
 * tombstone included; false when the memtable has no version of key. */
bool memtable_get(memtable *mt, const uint8_t *key, size_t nkey, entry *out);

/* As memtable_get, but the newest version with seq <= max_seq: versions
 * written after a reader's snapshot are invisible to it. */
bool memtable_get_at(memtable *mt, const uint8_t *key, size_t nkey,
                     uint64_t max_seq, entry *out);
/* As memtable_get_at, adding to *n_compared (may be NULL) the keys the
 * search compared with key (skiplist_find_counted): an explained get. */
bool memtable_get_counted(memtable *mt, const uint8_t *key, size_t nkey,
                          uint64_t max_seq, entry *out, uint64_t *n_compared);

/* The hash of key the filters take (XXH3-64, as SST filters hash keys): a
 * get computes it once for every memtable it asks. */
uint64_t memtable_key_hash(const uint8_t *key, size_t nkey);
/* false when the memtable certainly holds no version of the key whose
 * memtable_key_hash is key_hash; true when it may (always, without a
 * filter). memtable_get* never consult the filter: a caller asks first.
 * A reader may race with the writer: a key whose memtable_put has
 * returned is seen by a reader that synchronised with that return (as a
 * get does through the db's visible seq). */
bool memtable_may_contain(const memtable *mt, uint64_t key_hash);
bool memtable_has_filter(const memtable *mt);

/* An iterator over every version in internal-key order; holds a reference
 * on the memtable until destroyed. Sees entries added after it was created
 * (the db only ever iterates frozen memtables or tolerates that). */
iter *memtable_iter_new(memtable *mt);
/* As memtable_iter_new; with stats not NULL, the iterator counts in
 * stats->entries every entry it lands on (an explained scan). stats must
 * outlive the iterator. */
iter *memtable_iter_new_counted(memtable *mt, iter_stats *stats);

uint64_t memtable_id(const memtable *mt);
size_t memtable_num_keys(const memtable *mt);     /* distinct user keys */
size_t memtable_size_bytes(const memtable *mt);   /* see above */
size_t memtable_memory_bytes(const memtable *mt); /* see above */

/* Below this many bytes of arena memory a memtable is never full by memory
 * alone, so the small freeze limits of teaching sessions (a few hundred
 * bytes to a few hundred KiB, where a shell's 15-byte entries cost 4 to 5
 * times their size) keep mini-lsm's count of key + value bytes and the
 * book's SST shapes; memory is bounded where it matters, at real sizes. */
#define MEMTABLE_MIN_MEMORY_LIMIT ((size_t)1 << 20)

/* Whether the memtable should be frozen under the freeze limit `limit`
 * (target_sst_size): its key + value bytes reached limit (mini-lsm's rule),
 * or its arena memory reached limit, or MEMTABLE_MIN_MEMORY_LIMIT when that
 * is larger. */
bool memtable_is_full(const memtable *mt, size_t limit);
uint64_t memtable_max_seq(const memtable *mt); /* 0 when empty */
/* Smallest / largest user key; false when empty. Pointers into the arena. */
bool memtable_first_key(const memtable *mt, const uint8_t **key, size_t *n);
bool memtable_last_key(const memtable *mt, const uint8_t **key, size_t *n);

#endif
