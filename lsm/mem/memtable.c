/*
 * memtable.c: the memtable of memtable_int.h, a skiplist of version chains.
 *
 * Every distinct user key is one skiplist node; its payload is the newest
 * `memtable_version`, which points at the next older one. A version is
 * written completely (value bytes included) before it is published, either
 * as the initial payload of a new node or by a release store into an
 * existing node, and is never modified afterwards. Readers therefore walk a
 * chain without locks, and a chain is always in strictly descending seq
 * order (memtable_put refuses a seq that is not newer than the key's newest
 * version).
 *
 * The counters (num_keys, size_bytes, max_seq) are atomics written by the
 * single writer and read with relaxed loads by anyone: they are statistics
 * and freeze triggers, not a way to synchronise with the data.
 *
 * The filter (memtable_int.h, "Filter") is an array of 64-bit words: the
 * writer sets a new key's bits with a relaxed load and store of its word
 * (it is the only writer, so no read-modify-write instruction is needed),
 * readers test them with relaxed loads. Relaxed is enough: a reader whose
 * read sequence number covers a write synchronised with the write's
 * publication (the db's visible seq, release/acquire), which comes after
 * memtable_put returned and so after the bits were set; a reader that
 * misses bits still being set cannot see that write anyway.
 */
#include "mem/memtable_int.h"

#include "util/arena_int.h"
#include "lsm.h"
#include "mem/skiplist_int.h"
#include "util/checksum_int.h"
#include "util/status_int.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* 21 bytes of header before the value (values are at most
 * LSM_MAX_VALUE_BYTES, so 32 bits hold their length). */
typedef struct memtable_version {
    uint64_t seq;
    const struct memtable_version *older; /* NULL for the oldest */
    uint32_t nvalue;
    uint8_t type;
    uint8_t value[]; /* nvalue bytes */
} memtable_version;

/* A range tombstone: lo then hi in keys[]. Written whole before it is
 * published at the head of the memtable's list (release store), never
 * changed afterwards, so readers walk the list without locks. */
typedef struct memtable_range {
    uint64_t seq;
    const struct memtable_range *older; /* NULL for the oldest */
    uint32_t nlo, nhi;
    uint8_t keys[];
} memtable_range;

/* Fragments of the range tombstones up to `upto` (the list's head when
 * they were built): a reader searches them, then walks only the
 * tombstones added since. Built by the writer, never changed once
 * published; every one built stays until the memtable is freed (readers
 * may hold an older one), linked through `older`. */
typedef struct memtable_range_index {
    range_frags *frags;
    const memtable_range *upto;
    size_t n_upto; /* tombstones it covers */
    struct memtable_range_index *older;
} memtable_range_index;

/* The tombstones a get walks one by one past the last index before the
 * writer builds a new one: at least this many, and at least an eighth of
 * those indexed, so rebuilds cost O(n log n) in all and a walk stays
 * short. */
#define MEMTABLE_RANGE_TAIL_MIN 32

struct memtable {
    uint64_t memtable_id;
    arena *arena;
    skiplist *list;
    atomic_size_t refs;
    atomic_size_t num_keys;
    atomic_size_t size_bytes;
    atomic_uint_least64_t max_seq;
    /* Range tombstones, newest first; n_ranges counts them. */
    _Atomic(const memtable_range *) ranges;
    atomic_size_t n_ranges;
    /* The newest index of the tombstones (NULL: none yet), published with
     * a release store; index_bytes its and older ones' malloc'd bytes,
     * counted in memtable_memory_bytes. Writer only, but for the load. */
    _Atomic(memtable_range_index *) range_index;
    atomic_size_t index_bytes;
    /* The filter: NULL for none, else filter_word_mask + 1 words of 64
     * bits (a power of two, so the word is picked with a mask, not a
     * division); filter_bytes their size. Set at creation, freed with the
     * memtable. */
    _Atomic uint64_t *filter;
    uint64_t filter_word_mask;
    size_t filter_bytes;
};

/* Filter bits: one per MEMTABLE_FILTER_BYTES_PER_BIT bytes of the memtable's
 * memory limit, rounded down to a power of two (memtable_int.h). */
#define MEMTABLE_FILTER_BYTES_PER_BIT 16
/* The largest filter: 2^26 words (512 MiB), so a word's index (the hash's
 * low 26 bits at most) never overlaps the bit positions (its top 24). */
#define MEMTABLE_FILTER_MAX_WORDS ((uint64_t)1 << 26)

/* The filter words for a memtable frozen at freeze_limit
 * (memtable_is_full): a power of two. */
static uint64_t memtable_filter_words(size_t freeze_limit)
{
    uint64_t memory = freeze_limit > MEMTABLE_MIN_MEMORY_LIMIT
                          ? freeze_limit
                          : MEMTABLE_MIN_MEMORY_LIMIT;
    uint64_t want = memory / MEMTABLE_FILTER_BYTES_PER_BIT / 64;
    uint64_t words = 1;
    while (words * 2 <= want && words < MEMTABLE_FILTER_MAX_WORDS)
        words *= 2;
    return words;
}

/* A blocked bloom filter with one-word blocks: all the bits of a key lie
 * in one 64-bit word, so a put sets them with one store and a probe tests
 * them with one load (one cache line). The word comes from the hash's low
 * bits; the bits, 4 of them, from four 6-bit fields of its top 24 bits (two
 * may coincide). 4 is near the best for 4 to 11 bits per key, the range of
 * entries of 64 to 180 bytes (memtable_int.h), where a word-blocked filter
 * gives about 1.5x the false positives of a classic one: 1.5% against
 * 0.95% at 10.7 bits per key, 15% against 14% at 4.2. */
static inline uint64_t memtable_filter_bits(uint64_t h)
{
    return (uint64_t)1 << (h >> 58) | (uint64_t)1 << (h >> 52 & 63) |
           (uint64_t)1 << (h >> 46 & 63) | (uint64_t)1 << (h >> 40 & 63);
}

/* Writer only: sets key's bits (see the top of the file). */
static void memtable_filter_add(memtable *mt, const uint8_t *key, size_t nkey)
{
    uint64_t h = memtable_key_hash(key, nkey);
    _Atomic uint64_t *w = &mt->filter[h & mt->filter_word_mask];
    uint64_t old = atomic_load_explicit(w, memory_order_relaxed);
    atomic_store_explicit(w, old | memtable_filter_bits(h),
                          memory_order_relaxed);
}

uint64_t memtable_key_hash(const uint8_t *key, size_t nkey)
{
    return hash64(key, nkey);
}

bool memtable_has_filter(const memtable *mt)
{
    return mt->filter != NULL;
}

bool memtable_may_contain(const memtable *mt, uint64_t key_hash)
{
    if (!mt->filter)
        return true;
    uint64_t want = memtable_filter_bits(key_hash);
    uint64_t w = atomic_load_explicit(
        &mt->filter[key_hash & mt->filter_word_mask], memory_order_relaxed);
    return (w & want) == want;
}

int memtable_create(uint64_t memtable_id, memtable **out)
{
    return memtable_create_filtered(memtable_id, 0, out);
}

int memtable_create_filtered(uint64_t memtable_id, size_t freeze_limit,
                             memtable **out)
{
    int rc = LSM_OK;
    *out = NULL;
    memtable *mt = calloc(1, sizeof(*mt));
    if (!mt) {
        rc = lsm_error(LSM_ENOMEM, "memtable %llu: out of memory",
                       (unsigned long long)memtable_id);
        goto out;
    }
    mt->memtable_id = memtable_id;
    mt->arena = arena_create();
    if (!mt->arena) {
        rc = lsm_error(LSM_ENOMEM, "memtable %llu: out of memory",
                       (unsigned long long)memtable_id);
        goto out;
    }
    rc = skiplist_create(mt->arena, &mt->list);
    if (rc != LSM_OK)
        goto out;
    if (freeze_limit) {
        uint64_t words = memtable_filter_words(freeze_limit);
        mt->filter = calloc((size_t)words, sizeof *mt->filter);
        if (!mt->filter) {
            rc = lsm_error(LSM_ENOMEM,
                           "memtable %llu: out of memory for its filter",
                           (unsigned long long)memtable_id);
            goto out;
        }
        mt->filter_word_mask = words - 1;
        mt->filter_bytes = (size_t)words * sizeof *mt->filter;
    }
    atomic_init(&mt->refs, 1);
    atomic_init(&mt->num_keys, 0);
    atomic_init(&mt->size_bytes, 0);
    atomic_init(&mt->max_seq, 0);
    atomic_init(&mt->ranges, NULL);
    atomic_init(&mt->n_ranges, 0);
    atomic_init(&mt->range_index, NULL);
    atomic_init(&mt->index_bytes, 0);
    *out = mt;
out:
    if (rc != LSM_OK && mt) {
        arena_destroy(mt->arena);
        free((void *)mt->filter);
        free(mt);
    }
    return rc;
}

void memtable_ref(memtable *mt)
{
    atomic_fetch_add_explicit(&mt->refs, 1, memory_order_relaxed);
}

/* The acq_rel decrement orders every use of the memtable by other holders
 * before the free done by whoever drops the last reference. */
void memtable_unref(memtable *mt)
{
    if (!mt)
        return;
    if (atomic_fetch_sub_explicit(&mt->refs, 1, memory_order_acq_rel) != 1)
        return;
    memtable_range_index *ix =
        atomic_load_explicit(&mt->range_index, memory_order_relaxed);
    while (ix) {
        memtable_range_index *older = ix->older;
        range_frags_free(ix->frags);
        free(ix);
        ix = older;
    }
    arena_destroy(mt->arena);
    free((void *)mt->filter);
    free(mt);
}

/* Allocates and fills a version in the arena (not yet published). */
static memtable_version *memtable_version_new(memtable *mt, uint64_t seq,
                                              uint8_t type,
                                              const uint8_t *value,
                                              size_t nvalue)
{
    if (nvalue > UINT32_MAX)
        return NULL;
    memtable_version *v =
        arena_alloc(mt->arena, offsetof(memtable_version, value) + nvalue);
    if (!v)
        return NULL;
    v->seq = seq;
    v->older = NULL;
    v->nvalue = (uint32_t)nvalue;
    v->type = type;
    if (nvalue)
        memcpy(v->value, value, nvalue);
    return v;
}

/* Adds after the value is allocated, so that a failure adds nothing. One
 * skiplist search serves both cases: a new key publishes the version as the
 * node's initial payload, an existing key chains it in front of the old
 * newest version and publishes it with a release store. */
int memtable_put(memtable *mt, const uint8_t *key, size_t nkey, uint64_t seq,
                 uint8_t type, const uint8_t *value, size_t nvalue)
{
    if (!key || nkey == 0)
        return lsm_error(LSM_EINVAL, "memtable %llu: empty key",
                         (unsigned long long)mt->memtable_id);
    if (type != ENTRY_VALUE && type != ENTRY_TOMBSTONE)
        return lsm_error(LSM_EINVAL, "memtable %llu: bad entry type %u",
                         (unsigned long long)mt->memtable_id, type);
    if (type == ENTRY_TOMBSTONE)
        nvalue = 0;
    if (!value && nvalue > 0)
        return lsm_error(LSM_EINVAL, "memtable %llu: NULL value of %zu bytes",
                         (unsigned long long)mt->memtable_id, nvalue);

    memtable_version *v = memtable_version_new(mt, seq, type, value, nvalue);
    if (!v)
        return lsm_error(LSM_ENOMEM,
                         "memtable %llu: out of memory for a %zu-byte value",
                         (unsigned long long)mt->memtable_id, nvalue);

    skiplist_node *node;
    bool inserted;
    int rc = skiplist_find_or_insert(mt->list, key, nkey, v, &node, &inserted);
    if (rc != LSM_OK)
        return rc;
    if (!inserted) {
        const memtable_version *newest = skiplist_node_payload(node);
        if (seq <= newest->seq)
            return lsm_error(LSM_EINVAL,
                             "memtable %llu: seq %llu is not newer than %llu "
                             "for the same key",
                             (unsigned long long)mt->memtable_id,
                             (unsigned long long)seq,
                             (unsigned long long)newest->seq);
        v->older = newest;
        skiplist_node_set_payload(node, v);
    } else {
        /* A key already in the list is in the filter already. */
        if (mt->filter)
            memtable_filter_add(mt, key, nkey);
        atomic_fetch_add_explicit(&mt->num_keys, 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&mt->size_bytes, nkey + nvalue,
                              memory_order_relaxed);
    if (seq > atomic_load_explicit(&mt->max_seq, memory_order_relaxed))
        atomic_store_explicit(&mt->max_seq, seq, memory_order_relaxed);
    return LSM_OK;
}

/* Writer only: when the tombstones past the newest index have grown too
 * many, fragments all of them into a new index and publishes it. Failing
 * to (out of memory) changes nothing: gets walk a longer tail. */
static void memtable_range_index_maybe(memtable *mt)
{
    memtable_range_index *cur =
        atomic_load_explicit(&mt->range_index, memory_order_relaxed);
    size_t n = atomic_load_explicit(&mt->n_ranges, memory_order_relaxed);
    size_t indexed = cur ? cur->n_upto : 0, tail = n - indexed;
    if (tail < MEMTABLE_RANGE_TAIL_MIN || tail < indexed / 8)
        return;
    range_tomb *all = malloc(n * sizeof *all);
    memtable_range_index *ix = calloc(1, sizeof *ix);
    const memtable_range *head =
        atomic_load_explicit(&mt->ranges, memory_order_relaxed);
    size_t k = 0;
    for (const memtable_range *r = head; all && r; r = r->older)
        all[k++] =
            (range_tomb){r->keys, r->keys + r->nlo, r->nlo, r->nhi, r->seq};
    if (!all || !ix || range_frags_build(all, k, UINT64_MAX, &ix->frags)) {
        free(all);
        free(ix);
        return;
    }
    free(all);
    ix->upto = head;
    ix->n_upto = k;
    ix->older = cur;
    size_t bytes = sizeof *ix + ix->frags->n * sizeof(range_frag);
    for (size_t i = 0; i < ix->frags->n; i++)
        bytes += ix->frags->frags[i].nseqs * sizeof(uint64_t) +
                 ix->frags->frags[i].nlo;
    atomic_fetch_add_explicit(&mt->index_bytes, bytes, memory_order_relaxed);
    atomic_store_explicit(&mt->range_index, ix, memory_order_release);
}

int memtable_delete_range(memtable *mt, const uint8_t *lo, size_t nlo,
                          const uint8_t *hi, size_t nhi, uint64_t seq)
{
    if (!lo || !hi || nlo == 0 || nhi == 0 ||
        user_key_cmp(lo, nlo, hi, nhi) >= 0)
        return lsm_error(LSM_EINVAL, "memtable %llu: empty or reversed range",
                         (unsigned long long)mt->memtable_id);
    memtable_range *r =
        arena_alloc(mt->arena, offsetof(memtable_range, keys) + nlo + nhi);
    if (!r)
        return lsm_error(LSM_ENOMEM,
                         "memtable %llu: out of memory for a range tombstone",
                         (unsigned long long)mt->memtable_id);
    r->seq = seq;
    r->nlo = (uint32_t)nlo;
    r->nhi = (uint32_t)nhi;
    memcpy(r->keys, lo, nlo);
    memcpy(r->keys + nlo, hi, nhi);
    r->older = atomic_load_explicit(&mt->ranges, memory_order_relaxed);
    atomic_store_explicit(&mt->ranges, r, memory_order_release);
    atomic_fetch_add_explicit(&mt->n_ranges, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&mt->size_bytes, nlo + nhi, memory_order_relaxed);
    if (seq > atomic_load_explicit(&mt->max_seq, memory_order_relaxed))
        atomic_store_explicit(&mt->max_seq, seq, memory_order_relaxed);
    memtable_range_index_maybe(mt);
    return LSM_OK;
}

size_t memtable_num_ranges(const memtable *mt)
{
    return atomic_load_explicit((atomic_size_t *)&mt->n_ranges,
                                memory_order_relaxed);
}

static const memtable_range *memtable_ranges_head(const memtable *mt)
{
    return atomic_load_explicit((_Atomic(const memtable_range *) *)&mt->ranges,
                                memory_order_acquire);
}

static void memtable_range_view(const memtable_range *r, range_tomb *t)
{
    *t = (range_tomb){r->keys, r->keys + r->nlo, r->nlo, r->nhi, r->seq};
}

uint64_t memtable_range_covering(const memtable *mt, const uint8_t *key,
                                 size_t nkey, uint64_t read_seq)
{
    uint64_t best = 0;
    /* The index first (loaded before the head: every tombstone it holds
     * is at or below the head read next), then the ones added since. */
    const memtable_range_index *ix = atomic_load_explicit(
        (_Atomic(memtable_range_index *) *)&mt->range_index,
        memory_order_acquire);
    const memtable_range *upto = NULL;
    if (ix) {
        best = range_frags_covering(ix->frags, key, nkey, read_seq);
        upto = ix->upto;
    }
    for (const memtable_range *r = memtable_ranges_head(mt); r && r != upto;
         r = r->older)
        if (r->seq <= read_seq && r->seq > best &&
            user_key_cmp(r->keys, r->nlo, key, nkey) <= 0 &&
            user_key_cmp(key, nkey, r->keys + r->nlo, r->nhi) < 0)
            best = r->seq;
    return best;
}

int memtable_collect_ranges(const memtable *mt, uint64_t max_seq,
                            range_tomb_list *out)
{
    for (const memtable_range *r = memtable_ranges_head(mt); r; r = r->older) {
        if (r->seq > max_seq)
            continue;
        range_tomb t;
        memtable_range_view(r, &t);
        int rc = range_tomb_list_add(out, t.lo, t.nlo, t.hi, t.nhi, t.seq);
        if (rc != LSM_OK)
            return rc;
    }
    return LSM_OK;
}

/* Fills *out from one version of the key held by node. */
static void memtable_fill_entry(const skiplist_node *node,
                                const memtable_version *v, entry *out)
{
    out->key = skiplist_node_key(node, &out->nkey);
    out->seq = v->seq;
    out->type = v->type;
    if (v->type == ENTRY_TOMBSTONE) {
        out->value = NULL;
        out->nvalue = 0;
    } else {
        out->value = v->value;
        out->nvalue = v->nvalue;
    }
}

/* memtable_get_at and memtable_get_counted: inlined into each, so the
 * plain one calls the plain skiplist_find. */
static inline bool memtable_get_with(memtable *mt, const uint8_t *key,
                                     size_t nkey, uint64_t max_seq, entry *out,
                                     uint64_t *n_compared)
{
    if (!key || nkey == 0)
        return false;
    const skiplist_node *node =
        n_compared ? skiplist_find_counted(mt->list, key, nkey, n_compared)
                   : skiplist_find(mt->list, key, nkey);
    if (!node)
        return false;
    const memtable_version *v = skiplist_node_payload(node);
    while (v && v->seq > max_seq)
        v = v->older;
    if (!v)
        return false;
    memtable_fill_entry(node, v, out);
    return true;
}

bool memtable_get_at(memtable *mt, const uint8_t *key, size_t nkey,
                     uint64_t max_seq, entry *out)
{
    return memtable_get_with(mt, key, nkey, max_seq, out, NULL);
}

bool memtable_get_counted(memtable *mt, const uint8_t *key, size_t nkey,
                          uint64_t max_seq, entry *out, uint64_t *n_compared)
{
    return memtable_get_with(mt, key, nkey, max_seq, out, n_compared);
}

bool memtable_get(memtable *mt, const uint8_t *key, size_t nkey, entry *out)
{
    return memtable_get_at(mt, key, nkey, UINT64_MAX, out);
}

uint64_t memtable_id(const memtable *mt)
{
    return mt->memtable_id;
}

size_t memtable_num_keys(const memtable *mt)
{
    return atomic_load_explicit((atomic_size_t *)&mt->num_keys,
                                memory_order_relaxed);
}

size_t memtable_size_bytes(const memtable *mt)
{
    return atomic_load_explicit((atomic_size_t *)&mt->size_bytes,
                                memory_order_relaxed);
}

size_t memtable_memory_bytes(const memtable *mt)
{
    return arena_bytes_allocated(mt->arena) + mt->filter_bytes +
           atomic_load_explicit((atomic_size_t *)&mt->index_bytes,
                                memory_order_relaxed);
}

bool memtable_is_full(const memtable *mt, size_t limit)
{
    size_t memory_limit =
        limit > MEMTABLE_MIN_MEMORY_LIMIT ? limit : MEMTABLE_MIN_MEMORY_LIMIT;
    return memtable_size_bytes(mt) >= limit ||
           memtable_memory_bytes(mt) >= memory_limit;
}

uint64_t memtable_max_seq(const memtable *mt)
{
    return atomic_load_explicit((atomic_uint_least64_t *)&mt->max_seq,
                                memory_order_relaxed);
}

bool memtable_first_key(const memtable *mt, const uint8_t **key, size_t *n)
{
    const skiplist_node *node = skiplist_first(mt->list);
    if (!node)
        return false;
    *key = skiplist_node_key(node, n);
    return true;
}

bool memtable_last_key(const memtable *mt, const uint8_t **key, size_t *n)
{
    const skiplist_node *node = skiplist_last(mt->list);
    if (!node)
        return false;
    *key = skiplist_node_key(node, n);
    return true;
}

/* --- Iterator ------------------------------------------------------------- */

/* Positioned on (node, version); node == NULL means exhausted or not yet
 * positioned. Holds one memtable reference for its whole life. */
typedef struct memtable_iter {
    iter base;
    memtable *mt;
    const skiplist_node *node;
    const memtable_version *version;
    iter_stats *stats; /* explained scans only; NULL: count nothing */
} memtable_iter;

/* Counts the entry a counting iterator just landed on, if any. */
static void memtable_iter_count(memtable_iter *mi)
{
    if (mi->node)
        mi->stats->entries++;
}

static bool memtable_iter_valid(const iter *it)
{
    return ((const memtable_iter *)it)->node != NULL;
}

static void memtable_iter_current(const iter *it, entry *out)
{
    const memtable_iter *mi = (const memtable_iter *)it;
    memtable_fill_entry(mi->node, mi->version, out);
}

/* Enters node at its newest version (as published right now). */
static void memtable_iter_enter(memtable_iter *mi, const skiplist_node *node)
{
    mi->node = node;
    mi->version = node ? skiplist_node_payload(node) : NULL;
}

/* Older versions of the same key come next (seq descending), then the next
 * key's newest version. */
static int memtable_iter_next(iter *it)
{
    memtable_iter *mi = (memtable_iter *)it;
    if (!mi->node)
        return LSM_OK;
    if (mi->version->older) {
        mi->version = mi->version->older;
        return LSM_OK;
    }
    memtable_iter_enter(mi, skiplist_next(mi->node));
    return LSM_OK;
}

static int memtable_iter_seek(iter *it, const uint8_t *key, size_t nkey)
{
    memtable_iter *mi = (memtable_iter *)it;
    const skiplist *list = mi->mt->list;
    memtable_iter_enter(mi, key ? skiplist_seek(list, key, nkey)
                                : skiplist_first(list));
    return LSM_OK;
}

static size_t memtable_iter_num_active(const iter *it)
{
    return memtable_iter_valid(it) ? 1 : 0;
}

static void memtable_iter_destroy(iter *it)
{
    memtable_iter *mi = (memtable_iter *)it;
    memtable_unref(mi->mt);
    free(mi);
}

static const iter_ops memtable_iter_ops = {
    .valid = memtable_iter_valid,
    .current = memtable_iter_current,
    .next = memtable_iter_next,
    .seek = memtable_iter_seek,
    .num_active = memtable_iter_num_active,
    .destroy = memtable_iter_destroy,
};

/* An explained scan's memtable iterator: next and seek count the entry
 * they land on. A table of its own, so plain iterators test nothing per
 * entry. */
static int memtable_iter_next_counted(iter *it)
{
    int rc = memtable_iter_next(it);
    memtable_iter_count((memtable_iter *)it);
    return rc;
}

static int memtable_iter_seek_counted(iter *it, const uint8_t *key, size_t nkey)
{
    int rc = memtable_iter_seek(it, key, nkey);
    memtable_iter_count((memtable_iter *)it);
    return rc;
}

static const iter_ops memtable_iter_counted_ops = {
    .valid = memtable_iter_valid,
    .current = memtable_iter_current,
    .next = memtable_iter_next_counted,
    .seek = memtable_iter_seek_counted,
    .num_active = memtable_iter_num_active,
    .destroy = memtable_iter_destroy,
};

/* The iterator is freed with iter_destroy, which drops its reference; until
 * then the memtable (and every entry view it hands out) stays alive even if
 * every other holder unrefs it. NULL when out of memory. */
iter *memtable_iter_new(memtable *mt)
{
    return memtable_iter_new_counted(mt, NULL);
}

iter *memtable_iter_new_counted(memtable *mt, iter_stats *stats)
{
    memtable_iter *mi = calloc(1, sizeof(*mi));
    if (!mi) {
        lsm_error(LSM_ENOMEM, "memtable %llu: out of memory for an iterator",
                  (unsigned long long)mt->memtable_id);
        return NULL;
    }
    mi->base.ops = stats ? &memtable_iter_counted_ops : &memtable_iter_ops;
    memtable_ref(mt);
    mi->mt = mt;
    mi->stats = stats;
    return &mi->base;
}
