/*
 * block_cache_int.h: a shared LRU cache of decoded SST blocks.
 *
 * Keyed by (sst_id, block index); the charge of an entry is the memory it
 * holds, in bytes, as its inserter says. sst_reader.c caches verified
 * blocks: by default a copy of the block's bytes read with pread plus its
 * decoded header, charged both (about block_size + 72 bytes); with
 * lsm_options.mmap_reads, only the decoded header (72 bytes), the bytes
 * staying in the file's mapping. Lookups return a referenced
 * handle; an entry is freed only when it has been evicted (or erased) AND
 * every handle to it has been released, so a reader can keep using a block
 * while the cache throws it out.
 *
 * Thread safety: every function may be called from any thread; one mutex
 * guards the table and the LRU list.
 */
#ifndef LSM_BLOCK_CACHE_INT_H
#define LSM_BLOCK_CACHE_INT_H

#include <stddef.h>
#include <stdint.h>

typedef struct block_cache block_cache;
typedef struct cache_handle cache_handle;

/* capacity_bytes 0 makes a cache that stores nothing (every insert is handed
 * back referenced and freed at release). NULL when out of memory. */
block_cache *block_cache_create(size_t capacity_bytes);
/* Frees every entry; no handle may be outstanding. NULL-safe. */
void block_cache_destroy(block_cache *bc);

/* A referenced handle to the entry, or NULL on a miss. */
cache_handle *block_cache_lookup(block_cache *bc, uint64_t sst_id,
                                 uint64_t block_idx);
/* Inserts value (freed later with free_fn(value)) and returns a referenced
 * handle to it. If the key is already present, the new value replaces it for
 * later lookups. NULL when out of memory (value is then freed). */
cache_handle *block_cache_insert(block_cache *bc, uint64_t sst_id,
                                 uint64_t block_idx, void *value,
                                 size_t charge_bytes,
                                 void (*free_fn)(void *value));
void *cache_handle_value(const cache_handle *h);
void block_cache_release(block_cache *bc, cache_handle *h); /* NULL-safe */
/* Drops every entry of one SST (when the SST is deleted). */
void block_cache_erase_sst(block_cache *bc, uint64_t sst_id);
size_t block_cache_bytes_used(block_cache *bc);

#endif
