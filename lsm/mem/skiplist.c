/*
 * skiplist.c: the arena skiplist of skiplist_int.h.
 *
 * A node is one arena allocation: the header, its `height` next pointers,
 * then the key bytes. The head node has SKIPLIST_MAX_HEIGHT next pointers and
 * no key. max_height only grows; a reader that loads a stale (smaller) value
 * merely starts lower, and one that loads a newer value finds either NULL or
 * a fully published node at the new levels of the head, so relaxed order is
 * enough for it (as in LevelDB).
 */
#include "mem/skiplist_int.h"

#include "lsm.h"
#include "util/status_int.h"

#include <stdatomic.h>
#include <string.h>

/* Any odd 64-bit constant works; the point is that it never changes. */
#define SKIPLIST_SEED UINT64_C(0x2545F4914F6CDD1D)
#define SKIPLIST_BRANCHING 4

/* 16 bytes of header: the key needs no pointer of its own, as it starts
 * right after the height next pointers (skiplist_node_key_bytes). */
struct skiplist_node {
    _Atomic(void *) payload;
    uint32_t nkey;
    uint32_t height;
    _Atomic(skiplist_node *) next[]; /* height entries, then the key bytes */
};

static inline const uint8_t *skiplist_node_key_bytes(const skiplist_node *n)
{
    return (const uint8_t *)&n->next[n->height];
}

/* The 8 bytes at p as a big-endian number, so that comparing two such
 * numbers orders the bytes as memcmp does. */
static inline uint64_t skiplist_load_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#elif !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
    v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
#endif
    return v;
}

/* user_key_cmp's order (memcmp, then the shorter first), computed inline
 * eight bytes at a time: the search compares a key with every node it
 * passes, and for short keys a call to memcmp cost more than the bytes. */
static inline int skiplist_key_cmp(const uint8_t *a, size_t na,
                                   const uint8_t *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = skiplist_load_be64(a + i), y = skiplist_load_be64(b + i);
        if (x != y)
            return x < y ? -1 : 1;
    }
    for (; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return na < nb ? -1 : na > nb ? 1 : 0;
}

/* How node n's key compares with key (negative: n's is smaller). */
static inline int skiplist_node_cmp(const skiplist_node *n, const uint8_t *key,
                                    size_t nkey)
{
    return skiplist_key_cmp(skiplist_node_key_bytes(n), n->nkey, key, nkey);
}

struct skiplist {
    arena *arena;
    skiplist_node *head;
    atomic_int max_height;
    atomic_size_t count;
    uint64_t rng; /* writer only */
    /* Writer only: the last node of each level (head while it has none).
     * A key above every key in the list, as each key of a sequential fill
     * is, is linked after them with no search (skiplist_find_or_insert). */
    skiplist_node *tail[SKIPLIST_MAX_HEIGHT];
};

/* Allocates a node of the given height with room for nkey key bytes; the
 * next pointers start NULL. The memory belongs to the arena. */
static skiplist_node *skiplist_node_alloc(arena *a, int height, size_t nkey)
{
    size_t links = sizeof(_Atomic(skiplist_node *)) * (size_t)height;
    size_t header = sizeof(skiplist_node) + links;
    if (nkey > UINT32_MAX)
        return NULL;
    skiplist_node *n = arena_alloc(a, header + nkey);
    if (!n)
        return NULL;
    atomic_init(&n->payload, NULL);
    n->nkey = (uint32_t)nkey;
    n->height = (uint32_t)height;
    for (int i = 0; i < height; i++)
        atomic_init(&n->next[i], NULL);
    return n;
}

static inline skiplist_node *skiplist_node_next(const skiplist_node *n,
                                                int level)
{
    /* The cast drops const: atomic_load takes a non-const pointer in C11. */
    return atomic_load_explicit((_Atomic(skiplist_node *) *)&n->next[level],
                                memory_order_acquire);
}

int skiplist_create(arena *a, skiplist **out)
{
    *out = NULL;
    skiplist *sl = arena_alloc(a, sizeof(skiplist));
    skiplist_node *head =
        sl ? skiplist_node_alloc(a, SKIPLIST_MAX_HEIGHT, 0) : NULL;
    if (!head)
        return lsm_error(LSM_ENOMEM, "skiplist: out of memory creating list");
    sl->arena = a;
    sl->head = head;
    atomic_init(&sl->max_height, 1);
    atomic_init(&sl->count, 0);
    sl->rng = SKIPLIST_SEED;
    for (int i = 0; i < SKIPLIST_MAX_HEIGHT; i++)
        sl->tail[i] = head;
    *out = sl;
    return LSM_OK;
}

/* xorshift64: cheap, and the same seed gives the same heights everywhere. */
static uint64_t skiplist_rand(skiplist *sl)
{
    uint64_t x = sl->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sl->rng = x;
    return x;
}

/* Each level is kept with probability 1/SKIPLIST_BRANCHING; using the high
 * bits, which are the best mixed ones of xorshift64. */
static int skiplist_random_height(skiplist *sl)
{
    int height = 1;
    while (height < SKIPLIST_MAX_HEIGHT &&
           (skiplist_rand(sl) >> 32) % SKIPLIST_BRANCHING == 0)
        height++;
    return height;
}

/* Returns the first node with key >= key (NULL if none) and, when prev is
 * not NULL, the last node before it at every level below max_height. When
 * n_compared is not NULL, adds to it the key comparisons made (an explained
 * get reports them); every other caller passes NULL. */
static inline skiplist_node *skiplist_find_ge(const skiplist *sl,
                                              const uint8_t *key, size_t nkey,
                                              skiplist_node **prev,
                                              uint64_t *n_compared)
{
    skiplist_node *x = sl->head;
    int level = atomic_load_explicit(&sl->max_height, memory_order_relaxed) - 1;
    for (;;) {
        skiplist_node *next = skiplist_node_next(x, level);
        if (next && n_compared)
            (*n_compared)++;
        if (next && skiplist_node_cmp(next, key, nkey) < 0) {
            x = next;
            continue;
        }
        if (prev)
            prev[level] = x;
        if (level == 0)
            return next;
        level--;
    }
}

/* Whether level's nodes are in strictly ascending order and, above level
 * 0, each lies on the level below (found by walking both in step). */
static bool skiplist_check_level(const skiplist *sl, int level)
{
    const skiplist_node *below =
        level > 0 ? skiplist_node_next(sl->head, level - 1) : NULL;
    const skiplist_node *prev = NULL;
    for (const skiplist_node *n = skiplist_node_next(sl->head, level); n;
         prev = n, n = skiplist_node_next(n, level)) {
        if (prev && skiplist_key_cmp(skiplist_node_key_bytes(prev), prev->nkey,
                                     skiplist_node_key_bytes(n), n->nkey) >= 0)
            return false;
        if (level == 0)
            continue;
        while (below && below != n)
            below = skiplist_node_next(below, level - 1);
        if (!below)
            return false;
    }
    return true;
}

bool skiplist_check(const skiplist *sl)
{
    int max_height =
        atomic_load_explicit(&sl->max_height, memory_order_relaxed);
    for (int level = 0; level < SKIPLIST_MAX_HEIGHT; level++) {
        bool ok = level < max_height
                      ? skiplist_check_level(sl, level)
                      : skiplist_node_next(sl->head, level) == NULL;
        if (!ok)
            return false;
    }
    return true;
}

/* Writer only: whether key is above every key in the list. Then the last
 * node of each level is where a search would stop, so it need not run. */
static bool skiplist_after_last(const skiplist *sl, const uint8_t *key,
                                size_t nkey)
{
    const skiplist_node *last = sl->tail[0];
    return last != sl->head && skiplist_node_cmp(last, key, nkey) < 0;
}

int skiplist_find_or_insert(skiplist *sl, const uint8_t *key, size_t nkey,
                            void *payload, skiplist_node **node, bool *inserted)
{
    skiplist_node *prev[SKIPLIST_MAX_HEIGHT];
    *node = NULL;
    *inserted = false;
    if (!key || nkey == 0)
        return lsm_error(LSM_EINVAL, "skiplist: empty key");

    skiplist_node *found = NULL;
    if (skiplist_after_last(sl, key, nkey))
        memcpy(prev, sl->tail, sizeof prev); /* each level's last node */
    else
        found = skiplist_find_ge(sl, key, nkey, prev, NULL);
    if (found && skiplist_node_cmp(found, key, nkey) == 0) {
        *node = found;
        return LSM_OK;
    }

    /* Allocate before touching any shared state, so a failure changes
     * nothing (the generator state included: a retry draws the same
     * height). */
    uint64_t rng_before = sl->rng;
    int height = skiplist_random_height(sl);
    skiplist_node *n = skiplist_node_alloc(sl->arena, height, nkey);
    if (!n) {
        sl->rng = rng_before;
        return lsm_error(LSM_ENOMEM,
                         "skiplist: out of memory for a %zu-byte key", nkey);
    }
    memcpy((uint8_t *)skiplist_node_key_bytes(n), key, nkey);
    atomic_store_explicit(&n->payload, payload, memory_order_relaxed);

    int max_height =
        atomic_load_explicit(&sl->max_height, memory_order_relaxed);
    if (height > max_height) {
        for (int i = max_height; i < height; i++)
            prev[i] = sl->head;
        atomic_store_explicit(&sl->max_height, height, memory_order_relaxed);
    }

    /* Link bottom-up: once level 0 is published the node is in the set; the
     * upper levels only speed searches up. The node's own next pointers are
     * not yet visible to anyone, so a relaxed store suffices for them; the
     * release store into prev publishes the node with everything above. */
    for (int i = 0; i < height; i++) {
        skiplist_node *succ =
            atomic_load_explicit(&prev[i]->next[i], memory_order_relaxed);
        atomic_store_explicit(&n->next[i], succ, memory_order_relaxed);
        atomic_store_explicit(&prev[i]->next[i], n, memory_order_release);
        if (!succ)
            sl->tail[i] = n;
    }
    atomic_fetch_add_explicit(&sl->count, 1, memory_order_release);
    *node = n;
    *inserted = true;
    return LSM_OK;
}

skiplist_node *skiplist_seek(const skiplist *sl, const uint8_t *key,
                             size_t nkey)
{
    return skiplist_find_ge(sl, key, nkey, NULL, NULL);
}

/* skiplist_find and skiplist_find_counted: inlined into each (with
 * skiplist_find_ge), so the plain one's tests of n_compared fold away. */
static inline skiplist_node *skiplist_find_with(const skiplist *sl,
                                                const uint8_t *key, size_t nkey,
                                                uint64_t *n_compared)
{
    skiplist_node *n = skiplist_find_ge(sl, key, nkey, NULL, n_compared);
    if (n && skiplist_node_cmp(n, key, nkey) == 0)
        return n;
    return NULL;
}

skiplist_node *skiplist_find(const skiplist *sl, const uint8_t *key,
                             size_t nkey)
{
    return skiplist_find_with(sl, key, nkey, NULL);
}

skiplist_node *skiplist_find_counted(const skiplist *sl, const uint8_t *key,
                                     size_t nkey, uint64_t *n_compared)
{
    return skiplist_find_with(sl, key, nkey, n_compared);
}

skiplist_node *skiplist_first(const skiplist *sl)
{
    return skiplist_node_next(sl->head, 0);
}

/* Walks right as far as possible on each level, then drops a level. */
skiplist_node *skiplist_last(const skiplist *sl)
{
    skiplist_node *x = sl->head;
    int level = atomic_load_explicit(&sl->max_height, memory_order_relaxed) - 1;
    for (;;) {
        skiplist_node *next = skiplist_node_next(x, level);
        if (next) {
            x = next;
        } else if (level == 0) {
            return x == sl->head ? NULL : x;
        } else {
            level--;
        }
    }
}

skiplist_node *skiplist_next(const skiplist_node *n)
{
    return skiplist_node_next(n, 0);
}

size_t skiplist_count(const skiplist *sl)
{
    return atomic_load_explicit((atomic_size_t *)&sl->count,
                                memory_order_acquire);
}

const uint8_t *skiplist_node_key(const skiplist_node *n, size_t *nkey)
{
    *nkey = n->nkey;
    return skiplist_node_key_bytes(n);
}

void *skiplist_node_payload(const skiplist_node *n)
{
    return atomic_load_explicit((_Atomic(void *) *)&n->payload,
                                memory_order_acquire);
}

void skiplist_node_set_payload(skiplist_node *n, void *payload)
{
    atomic_store_explicit(&n->payload, payload, memory_order_release);
}

int skiplist_node_height(const skiplist_node *n)
{
    return (int)n->height;
}
