/*
 * sst_int.h: sorted string tables, the immutable files of the tree.
 *
 * The byte layout is in FORMAT.md. An SST holds entries in internal-key order
 * (iter_int.h): one or more versions of each key, newest first (flush and
 * compaction keep the versions snapshots may read; compact/version_filter),
 * split into data blocks of about block_size bytes (a key's versions may
 * span blocks), followed by a bloom filter over the user keys, an index
 * with each block's first and last user key and location, and a
 * fixed-size footer. Everything is checksummed; a reader rejects a
 * truncated or altered file with LSM_ECORRUPT (naming the file and
 * offset), never a crash.
 *
 * Writing (sst_builder.c): sst_builder_open, sst_builder_add in order,
 * sst_builder_finish (which fsyncs the file) or sst_builder_abandon (which
 * removes it).
 *
 * Reading (sst_reader.c): an `sst` is an open file plus its index and
 * filter in memory; data blocks are read on demand through the block cache,
 * with positional reads into buffers of their own (or, when the opener asks
 * and the env can map files, decoded in place in a read-only mapping of the
 * file: faster, but a truncated file or a disk error then kills the process
 * with SIGBUS; see sst_open). It is refcounted: sst_open returns
 * one reference, every iterator holds one; the last sst_unref closes the
 * file, and deletes it if sst_mark_obsolete was called. concat_iter_new is
 * concat_iter.c's.
 *
 * Thread safety: a builder is used by one thread. An sst may be read by many
 * threads at once (positional reads or the shared mapping; the cache has its
 * own lock).
 */
#ifndef LSM_SST_INT_H
#define LSM_SST_INT_H

#include "table/block_cache_int.h"
#include "table/block_int.h"
#include "table/prefix_int.h"
#include "util/counters_int.h"
#include "util/env_int.h"
#include "iter/iter_int.h"
#include "iter/rangedel_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sst_builder sst_builder;

typedef struct sst_builder_options {
    size_t block_size;           /* target data block size in bytes, >= 1 */
    unsigned bloom_bits_per_key; /* 0: write an empty filter */
    /* PREFIX_NONE (zero, the default): no SST_META_PREFIX record. Else
     * the record is written, with a filter of bloom_bits_per_key bits per
     * distinct prefix (prefix_int.h). */
    prefix_extractor prefix;
    /* Recorded in the footer, so that open can tell a file copied or
     * renamed over another: the SST's own id, and the identity of its
     * database (SST_IDENTITY_BYTES, borrowed for the builder's life; NULL
     * records zeros). */
    uint64_t sst_id;
    const uint8_t *db_identity;
    /* How data blocks are stored (block_codec_int.h): BLOCK_KIND_RAW (0,
     * the default) writes format-2 index records and no compression meta
     * record, so the file is what it was before compression existed; LZ4
     * or ZSTD compress each block that shrinks by an eighth, and every
     * index record then also says the block's kind and raw size. */
    unsigned compression;
    int compression_level; /* Zstandard's; 0: its default */
    /* 0: the current format (SST_FORMAT_VERSION, block_int.h). 2: the
     * format before the meta section, which tests write to check that
     * older files still read; sst_builder_set_meta then fails. */
    uint32_t format_version;
} sst_builder_options;

/* What a finished SST looks like. */
typedef struct sst_summary {
    uint64_t file_size;
    uint64_t num_entries;
    uint64_t num_blocks;
    uint64_t max_seq;
} sst_summary;

/* Creates the file at path (truncating it). *out is freed by finish/abandon. */
int sst_builder_open(env *e, const char *path, const sst_builder_options *opt,
                     sst_builder **out);
/* Appends one entry. Entries must come in strictly increasing internal-key
 * order (LSM_EINVAL otherwise). Key and value are copied. */
int sst_builder_add(sst_builder *b, const entry *e);
/* Gives the SST the range tombstones l (sorted: range_tomb_list_sort),
 * stored in its SST_META_RANGE_DELS record (copied; replaces an earlier
 * call's). The SST's key range then covers them too, and an SST with
 * range tombstones may have no entry. Before sst_builder_finish. */
int sst_builder_set_ranges(sst_builder *b, const range_tomb_list *l);
/* Sets meta record tag (enum sst_meta_tag, block_int.h) to n bytes,
 * copied; an earlier set of the same tag is replaced. Written at finish in
 * the meta section (FORMAT.md, "Meta section"), and read back with
 * sst_meta_record. LSM_EINVAL for an unknown tag or a format 2 builder;
 * LSM_ENOMEM. Not a failure of the builder (invariant 4 of
 * sst_builder.c). */
int sst_builder_set_meta(sst_builder *b, unsigned tag, const void *bytes,
                         size_t n);
/* Bytes the file would have if finished now, but for the index record of
 * the block being built. The engine does not call it: compaction splits
 * its outputs on key + value bytes (target_sst_size, counted as mini-lsm
 * counts a memtable), not on file size; test_sst checks the estimate. */
uint64_t sst_builder_estimated_size(const sst_builder *b);
uint64_t sst_builder_num_entries(const sst_builder *b);
/* Writes the last block, filter, index and footer, fsyncs and closes the
 * file, frees b, and fills *summary (may be NULL). On error the file is
 * removed and b is freed all the same. An SST with no entries is LSM_EINVAL. */
int sst_builder_finish(sst_builder *b, sst_summary *summary);
/* Closes and removes the file, frees b. NULL-safe. */
void sst_builder_abandon(sst_builder *b);

typedef struct sst sst;

/* Opens the SST at path: reads and verifies footer, index and filter.
 * cache may be NULL (no caching); ctrs may be NULL (no counting).
 * map_file false (the safe default): data blocks are read with read_at
 * into buffers of their own, so a file cut short or a disk error is an
 * error of the read. map_file true: where the env can map files, blocks
 * are decoded in a read-only mapping of the whole file; reading a page the
 * file lost (truncated while open) or the disk cannot read raises SIGBUS
 * (lsm_options.mmap_reads). *out holds one reference. */
int sst_open(env *e, const char *path, uint64_t sst_id, block_cache *cache,
             counters *ctrs, bool map_file, sst **out);
/* How sst_open_with opens an SST. */
typedef struct sst_open_options {
    bool map_file; /* as sst_open's */
    /* Keep the filter and index sections (with each block's memo) in the
     * block cache, charged to it, under the key (sst_id, UINT64_MAX):
     * evicted like data blocks and read and verified again when a get or
     * an iterator next needs them (lsm_options.cache_index_and_filter_
     * blocks). false, or no cache: the sst keeps them from open to close.
     * Either way they are read and verified at open. */
    bool cache_meta;
} sst_open_options;

/* As sst_open, with the options in *o. */
int sst_open_with(env *e, const char *path, uint64_t sst_id, block_cache *cache,
                  counters *ctrs, const sst_open_options *o, sst **out);
void sst_ref(sst *t);
/* Drops a reference; the last one closes the file (and removes it and its
 * cached blocks if the SST was marked obsolete). NULL-safe. */
void sst_unref(sst *t);
/* Marks the file for deletion when the last reference is dropped. */
void sst_mark_obsolete(sst *t);
/* References held right now (a snapshot: other threads may add or drop
 * some). The db layer uses it on SSTs no version names any more, whose
 * count can only fall: 1 then means the caller's is the last. */
size_t sst_refs(const sst *t);

uint64_t sst_id(const sst *t);
uint64_t sst_file_size(const sst *t);
uint64_t sst_num_entries(const sst *t);
uint64_t sst_num_blocks(const sst *t);
uint64_t sst_max_seq(const sst *t);
/* What the footer records: the id the SST was written as, and its
 * database's identity (SST_IDENTITY_BYTES, owned by the sst). sst_open
 * does not compare them with anything; the db does (db_open.c). */
uint64_t sst_recorded_id(const sst *t);
const uint8_t *sst_db_identity(const sst *t);
/* How an SST's data blocks are stored, over all of them: their bytes
 * before compression, and how many are of each kind (block_codec_int.h's
 * numbers: [0] raw, [1] lz4, [2] zstd). Their bytes on disk are the
 * filter's offset (sst_compression_stored_bytes). */
typedef struct sst_compression {
    uint64_t raw_bytes;
    uint64_t blocks_of_kind[3];
} sst_compression;
/* Known from open on (the compression record, checked against the
 * index; or the index alone): no block is read. */
void sst_compression_totals(const sst *t, sst_compression *out);
uint64_t sst_compression_stored_bytes(const sst *t);

/* The compression meta record (FORMAT.md, "Meta section"): encoded into
 * out (room for SST_COMPRESSION_RECORD_MAX bytes), returning its size;
 * decoded, false when malformed (bytes left over, a varint cut short, a
 * count that cannot be). */
#define SST_COMPRESSION_RECORD_MAX 30
size_t sst_compression_record_encode(const sst_compression *c, uint8_t *out);
bool sst_compression_record_decode(const uint8_t *p, size_t n,
                                   sst_compression *out);
/* The bytes of meta record tag (enum sst_meta_tag), owned by the sst and
 * kept from open to close, verified only as far as the section's framing
 * and checksum go: the feature that owns the tag checks its contents.
 * NULL, with *n = 0, when the file has no such record (every format 2
 * file). */
const uint8_t *sst_meta_record(const sst *t, unsigned tag, size_t *n);

/* Smallest / largest user key (owned by the sst). */
const uint8_t *sst_first_key(const sst *t, size_t *n);
const uint8_t *sst_last_key(const sst *t, size_t *n);

/* The SST's range tombstones (SST_META_RANGE_DELS), sorted by start then
 * seq descending; owned by the sst. *n = 0 (and NULL) when it has none.
 * The SST's key range (sst_first_key, sst_last_key) covers them. */
const range_tomb *sst_range_tombs(const sst *t, size_t *n);
/* The newest seq <= read_seq of a range tombstone of the SST covering
 * key, 0 for none: a binary search of its fragments (no I/O). */
uint64_t sst_range_covering(const sst *t, const uint8_t *key, size_t nkey,
                            uint64_t read_seq);

/* In ssts[0..n), sorted by first key and non-overlapping (one level or
 * tier), the index of the first SST whose last key is >= key: the only one
 * that may hold key. n when key is past them all. Binary search, no I/O. */
size_t sst_find_by_last_key(sst *const *ssts, size_t n, const uint8_t *key,
                            size_t nkey);

/* true when key lies in [first key, last key] (no I/O). */
bool sst_key_in_range(const sst *t, const uint8_t *key, size_t nkey);

/* Point lookup of the newest version of key with seq <= max_seq
 * (UINT64_MAX: the newest version). Consults the bloom filter first
 * (counting bloom_checks / bloom_negatives), then reads the block whose
 * range may hold the key's newest version and, while every version found
 * is newer than max_seq, the following blocks that continue the key (a
 * key's versions may span blocks). When the SST holds versions of key but
 * all newer than max_seq, *found is false: the SST does not decide the
 * key, and a get goes on to older sources. On a hit, *found = true and
 * *out is filled with a malloc'd copy: out->key and out->value point into
 * one allocation returned in *owned, which the caller frees. */
int sst_get(sst *t, const uint8_t *key, size_t nkey, uint64_t max_seq,
            bool *found, entry *out, void **owned);

/* What one sst_get did, for an explained get (lsm_get_explain). */
typedef struct sst_get_trace {
    bool bloom_checked;   /* the filter was consulted (bloom_checks) */
    bool bloom_negative;  /* ... and ruled the key out (bloom_negatives) */
    bool probed;          /* range and filter let it through (sst_probes) */
    bool block_searched;  /* a data block was searched: block_index ... */
    uint64_t block_index; /* (the last one, when versions span blocks) */
    bool block_cached;    /* ... served by the cache (else read) */
    uint64_t n_compared;  /* keys compared in the blocks (block_seek_counted) */
} sst_get_trace;

/* sst_get, also filling *tr (when not NULL) with what it did. sst_get is
 * this with tr NULL, so a plain get only tests tr at each step. */
int sst_get_traced(sst *t, const uint8_t *key, size_t nkey, uint64_t max_seq,
                   bool *found, entry *out, void **owned, sst_get_trace *tr);

/* For a prefix scan with extractor x: false when t certainly holds no key
 * that starts with p (its prefix filter rules p out). *usable says whether
 * the filter could answer: false (and the answer true) when t has no
 * prefix record, was written with another extractor, or p is out of x's
 * domain (prefix_int.h). No I/O: the record is read at open. */
bool sst_prefix_may_match(const sst *t, const prefix_extractor *x,
                          const uint8_t *p, size_t np, bool *usable);
/* t's prefix record (owned by t), NULL when it has none. */
const prefix_record *sst_prefix(const sst *t);

/* An iterator over every entry (internal-key order: every version the SST
 * holds, newest first within a key). Holds a reference on the SST. Not
 * positioned until iter_seek. NULL when out of memory. */
iter *sst_iter_new(sst *t);
/* As sst_iter_new; with stats not NULL the iterator counts there every
 * entry it lands on and every block it loads (read or from the cache), for
 * an explained scan. stats must outlive the iterator. */
iter *sst_iter_new_counted(sst *t, iter_stats *stats);

/* As sst_iter_new, for reading a file once through, as a compaction reads
 * its inputs: blocks the cache lacks are read (ahead) but not cached, so
 * reading inputs that the compaction then deletes does not evict the
 * blocks readers use (LevelDB's fill_cache = false). */
iter *sst_iter_new_uncached(sst *t);

/* Concatenates SSTs that are sorted by first key and never overlap (one
 * level or tier): only one SST iterator is open at a time, so a whole level
 * counts 1 in num_active while it has entries (0 once done). Seek binary-
 * searches the SSTs' last keys. Takes a reference on each SST (the array is
 * copied). NULL when out of memory. */
iter *concat_iter_new(sst *const *ssts, size_t n);
/* As concat_iter_new; stats (NULL, or n pointers, each NULL or outliving
 * the iterator; the array is copied) gives each SST's counts: the SST
 * iterator opened on ssts[i] counts into stats[i] (sst_iter_new_counted). */
iter *concat_iter_new_counted(sst *const *ssts, size_t n,
                              iter_stats *const *stats);
/* As concat_iter_new, over SST iterators that do not fill the cache
 * (sst_iter_new_uncached). */
iter *concat_iter_new_uncached(sst *const *ssts, size_t n);

/* --- Inspection: the parts of a file, for lsm_sst_inspect ---------------- *
 * On an sst opened without a cache (its index and filter are then kept
 * from open to close). */

/* Sections and counts, as the footer records them. */
typedef struct sst_layout {
    uint64_t filter_offset, filter_bytes;
    uint64_t index_offset, index_bytes;
    uint64_t meta_offset, meta_bytes; /* 0 bytes: format 2 */
    uint32_t format_version;
} sst_layout;
void sst_inspect_layout(const sst *t, sst_layout *out);

/* Data block idx (< sst_num_blocks) as its index record says: offset,
 * size, first and last user key (owned by the sst). */
typedef struct sst_block_record {
    uint64_t offset;
    uint64_t bytes;     /* on disk */
    uint64_t raw_bytes; /* decompressed (bytes for a raw block) */
    unsigned kind;      /* block_codec_int.h: 0 raw, 1 lz4, 2 zstd */
    const uint8_t *first_key, *last_key;
    size_t n_first_key, n_last_key;
} sst_block_record;
void sst_inspect_block_record(const sst *t, uint64_t idx,
                              sst_block_record *out);

/* The filter: its bits (0 for none), probes per key, and bits set. */
void sst_inspect_filter(const sst *t, uint64_t *bits, unsigned *probes,
                        uint64_t *bits_set);
/* Whether the filter lets key through (true for no filter). */
bool sst_inspect_filter_may_contain(const sst *t, const uint8_t *key,
                                    size_t nkey);

/* Reads and verifies data block idx, as any read does (checksum, every
 * rule of FORMAT.md, the keys its index record promises), then calls fn
 * for each entry, in order, as stored (block_entry: the shared prefix and
 * the rest). A failed check is LSM_ECORRUPT naming the file and offset;
 * fn's error stops the walk and is returned. */
typedef int (*sst_entry_fn)(void *ctx, const block_entry *e);
int sst_inspect_block(sst *t, uint64_t idx, sst_entry_fn fn, void *ctx);

#endif
