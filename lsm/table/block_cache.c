/*
 * block_cache.c: the shared LRU cache of decoded SST blocks
 * (block_cache_int.h).
 *
 * A chained hash table finds entries by (sst_id, block_idx); a circular
 * doubly-linked list through a sentinel orders the cached entries from least
 * (lru.next) to most (lru.prev) recently used. The handle given to callers
 * is the entry itself.
 *
 * Invariants (all guarded by mu):
 *   1. An entry is in the table iff it is in the LRU list iff in_cache.
 *   2. usage_bytes is the sum of the charges of the in_cache entries, and
 *      after every insert usage_bytes <= capacity_bytes.
 *   3. refs counts the handles given out plus one while in_cache; an entry
 *      is freed (free_fn called) exactly when refs drops to 0, which
 *      happens only once it has left the cache.
 *   4. An entry whose charge exceeds the capacity is never cached: it is
 *      handed back with refs 1 and freed at release. With capacity 0 no
 *      entry is cached, not even one of charge 0.
 * free_fn runs after mu is released, so it may take other locks.
 *
 * Thread safety: every function may be called from any thread.
 */
#include "table/block_cache_int.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define BLOCK_CACHE_MIN_BUCKETS 64

struct cache_handle {
    uint64_t sst_id;
    uint64_t block_idx;
    void *value;
    size_t charge_bytes;
    void (*free_fn)(void *value);
    size_t refs;
    bool in_cache;
    struct cache_handle *hash_next; /* chain in a bucket, or a free list */
    struct cache_handle *lru_prev;
    struct cache_handle *lru_next;
};

struct block_cache {
    pthread_mutex_t mu;
    size_t capacity_bytes;
    size_t usage_bytes;
    cache_handle **buckets; /* n_buckets chains, a power of two */
    size_t n_buckets;
    size_t n_entries;
    cache_handle lru; /* sentinel: next = least recently used */
};

/* splitmix64's finalizer over both key halves. */
static uint64_t block_cache_hash(uint64_t sst_id, uint64_t block_idx)
{
    uint64_t h = sst_id * 0x9e3779b97f4a7c15ULL ^ block_idx;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

static cache_handle **block_cache_slot(block_cache *bc, uint64_t sst_id,
                                       uint64_t block_idx)
{
    uint64_t h = block_cache_hash(sst_id, block_idx);
    cache_handle **slot = &bc->buckets[h & (bc->n_buckets - 1)];
    while (*slot &&
           ((*slot)->sst_id != sst_id || (*slot)->block_idx != block_idx))
        slot = &(*slot)->hash_next;
    return slot;
}

/* Doubles the table when it is fuller than one entry per bucket. A failed
 * allocation only leaves the chains longer. */
static void block_cache_maybe_grow(block_cache *bc)
{
    if (bc->n_entries <= bc->n_buckets)
        return;
    size_t n = bc->n_buckets * 2;
    cache_handle **grown = calloc(n, sizeof *grown);
    if (!grown)
        return;
    for (size_t i = 0; i < bc->n_buckets; i++) {
        cache_handle *h = bc->buckets[i];
        while (h) {
            cache_handle *next = h->hash_next;
            uint64_t b = block_cache_hash(h->sst_id, h->block_idx) & (n - 1);
            h->hash_next = grown[b];
            grown[b] = h;
            h = next;
        }
    }
    free(bc->buckets);
    bc->buckets = grown;
    bc->n_buckets = n;
}

static void block_cache_lru_unlink(cache_handle *h)
{
    h->lru_prev->lru_next = h->lru_next;
    h->lru_next->lru_prev = h->lru_prev;
    h->lru_prev = h->lru_next = NULL;
}

/* Makes h the most recently used entry. */
static void block_cache_lru_push(block_cache *bc, cache_handle *h)
{
    h->lru_next = &bc->lru;
    h->lru_prev = bc->lru.lru_prev;
    h->lru_prev->lru_next = h;
    bc->lru.lru_prev = h;
}

/* Drops one reference; when it was the last, chains h on *dead so the
 * caller frees it after unlocking. */
static void block_cache_unref_locked(cache_handle *h, cache_handle **dead)
{
    if (--h->refs == 0) {
        h->hash_next = *dead;
        *dead = h;
    }
}

/* Takes h (which is in the cache) out of table and list and drops the
 * cache's reference. */
static void block_cache_remove_locked(block_cache *bc, cache_handle *h,
                                      cache_handle **dead)
{
    cache_handle **slot = block_cache_slot(bc, h->sst_id, h->block_idx);
    *slot = h->hash_next;
    block_cache_lru_unlink(h);
    h->in_cache = false;
    bc->usage_bytes -= h->charge_bytes;
    bc->n_entries--;
    block_cache_unref_locked(h, dead);
}

/* Frees every entry chained by block_cache_unref_locked, in the order they
 * died (the chain is newest first); no lock held. */
static void block_cache_free_dead(cache_handle *dead)
{
    cache_handle *oldest_first = NULL;
    while (dead) {
        cache_handle *next = dead->hash_next;
        dead->hash_next = oldest_first;
        oldest_first = dead;
        dead = next;
    }
    while (oldest_first) {
        cache_handle *next = oldest_first->hash_next;
        if (oldest_first->free_fn)
            oldest_first->free_fn(oldest_first->value);
        free(oldest_first);
        oldest_first = next;
    }
}

block_cache *block_cache_create(size_t capacity_bytes)
{
    block_cache *bc = calloc(1, sizeof *bc);
    if (!bc)
        return NULL;
    bc->buckets = calloc(BLOCK_CACHE_MIN_BUCKETS, sizeof *bc->buckets);
    if (!bc->buckets || pthread_mutex_init(&bc->mu, NULL) != 0) {
        free(bc->buckets);
        free(bc);
        return NULL;
    }
    bc->n_buckets = BLOCK_CACHE_MIN_BUCKETS;
    bc->capacity_bytes = capacity_bytes;
    bc->lru.lru_next = bc->lru.lru_prev = &bc->lru;
    return bc;
}

void block_cache_destroy(block_cache *bc)
{
    if (!bc)
        return;
    cache_handle *dead = NULL;
    while (bc->lru.lru_next != &bc->lru)
        block_cache_remove_locked(bc, bc->lru.lru_next, &dead);
    block_cache_free_dead(dead);
    pthread_mutex_destroy(&bc->mu);
    free(bc->buckets);
    free(bc);
}

cache_handle *block_cache_lookup(block_cache *bc, uint64_t sst_id,
                                 uint64_t block_idx)
{
    pthread_mutex_lock(&bc->mu);
    cache_handle *h = *block_cache_slot(bc, sst_id, block_idx);
    if (h) {
        h->refs++;
        block_cache_lru_unlink(h);
        block_cache_lru_push(bc, h);
    }
    pthread_mutex_unlock(&bc->mu);
    return h;
}

cache_handle *block_cache_insert(block_cache *bc, uint64_t sst_id,
                                 uint64_t block_idx, void *value,
                                 size_t charge_bytes,
                                 void (*free_fn)(void *value))
{
    cache_handle *h = calloc(1, sizeof *h);
    if (!h) {
        if (free_fn)
            free_fn(value);
        return NULL;
    }
    h->sst_id = sst_id;
    h->block_idx = block_idx;
    h->value = value;
    h->charge_bytes = charge_bytes;
    h->free_fn = free_fn;
    h->refs = 1; /* the caller's handle */

    cache_handle *dead = NULL;
    pthread_mutex_lock(&bc->mu);
    cache_handle *old = *block_cache_slot(bc, sst_id, block_idx);
    if (old)
        block_cache_remove_locked(bc, old, &dead);
    if (bc->capacity_bytes == 0 || charge_bytes > bc->capacity_bytes) {
        /* Never cached (invariant 4); the old value is gone all the same,
         * so no lookup returns what this insert replaced. */
        pthread_mutex_unlock(&bc->mu);
        block_cache_free_dead(dead);
        return h;
    }
    cache_handle **slot = block_cache_slot(bc, sst_id, block_idx);
    h->hash_next = NULL;
    *slot = h;
    block_cache_lru_push(bc, h);
    h->in_cache = true;
    h->refs++;
    bc->usage_bytes += charge_bytes;
    bc->n_entries++;
    while (bc->usage_bytes > bc->capacity_bytes)
        block_cache_remove_locked(bc, bc->lru.lru_next, &dead);
    block_cache_maybe_grow(bc);
    pthread_mutex_unlock(&bc->mu);
    block_cache_free_dead(dead);
    return h;
}

void *cache_handle_value(const cache_handle *h)
{
    return h->value;
}

void block_cache_release(block_cache *bc, cache_handle *h)
{
    if (!h)
        return;
    cache_handle *dead = NULL;
    pthread_mutex_lock(&bc->mu);
    block_cache_unref_locked(h, &dead);
    pthread_mutex_unlock(&bc->mu);
    block_cache_free_dead(dead);
}

void block_cache_erase_sst(block_cache *bc, uint64_t sst_id)
{
    if (!bc)
        return;
    cache_handle *dead = NULL;
    pthread_mutex_lock(&bc->mu);
    cache_handle *h = bc->lru.lru_next;
    while (h != &bc->lru) {
        cache_handle *next = h->lru_next;
        if (h->sst_id == sst_id)
            block_cache_remove_locked(bc, h, &dead);
        h = next;
    }
    pthread_mutex_unlock(&bc->mu);
    block_cache_free_dead(dead);
}

size_t block_cache_bytes_used(block_cache *bc)
{
    pthread_mutex_lock(&bc->mu);
    size_t n = bc->usage_bytes;
    pthread_mutex_unlock(&bc->mu);
    return n;
}
