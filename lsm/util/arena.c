/*
 * arena.c: blocks of ARENA_BLOCK_BYTES, chained so destroy can free them.
 * A request larger than a quarter block gets a block of its own, so a 16 MiB
 * value wastes nothing and the current block keeps serving small requests.
 */
#include "util/arena_int.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define ARENA_BLOCK_BYTES (64 * 1024)

typedef struct arena_block {
    struct arena_block *next;
    alignas(ARENA_ALIGN) unsigned char data[];
} arena_block;

struct arena {
    arena_block *blocks; /* newest first */
    unsigned char *cursor;
    size_t remaining;
    atomic_size_t bytes_used;
    atomic_size_t bytes_allocated;
};

arena *arena_create(void)
{
    return calloc(1, sizeof(arena));
}

void arena_destroy(arena *a)
{
    if (!a)
        return;
    arena_block *b = a->blocks;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

/* Allocates a block with room for n bytes and links it into the chain. */
static unsigned char *arena_new_block(arena *a, size_t n)
{
    if (n > SIZE_MAX - sizeof(arena_block))
        return NULL;
    arena_block *b = malloc(sizeof(arena_block) + n);
    if (!b)
        return NULL;
    b->next = a->blocks;
    a->blocks = b;
    atomic_fetch_add_explicit(&a->bytes_used, sizeof(arena_block) + n,
                              memory_order_relaxed);
    return b->data;
}

/* Serves a request already rounded to ARENA_ALIGN. */
static void *arena_alloc_rounded(arena *a, size_t rounded)
{
    if (rounded <= a->remaining) {
        unsigned char *p = a->cursor;
        a->cursor += rounded;
        a->remaining -= rounded;
        return p;
    }
    if (rounded > ARENA_BLOCK_BYTES / 4)
        return arena_new_block(a, rounded);
    unsigned char *p = arena_new_block(a, ARENA_BLOCK_BYTES);
    if (!p)
        return NULL;
    a->cursor = p + rounded;
    a->remaining = ARENA_BLOCK_BYTES - rounded;
    return p;
}

void *arena_alloc(arena *a, size_t n)
{
    size_t rounded = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (rounded < n)
        return NULL; /* overflow */
    void *p = arena_alloc_rounded(a, rounded);
    if (p) /* one writer: a plain add, no locked instruction per entry */
        atomic_store_explicit(
            &a->bytes_allocated,
            atomic_load_explicit(&a->bytes_allocated, memory_order_relaxed) +
                rounded,
            memory_order_relaxed);
    return p;
}

size_t arena_bytes_used(const arena *a)
{
    return atomic_load_explicit(&a->bytes_used, memory_order_relaxed);
}

size_t arena_bytes_allocated(const arena *a)
{
    return atomic_load_explicit((atomic_size_t *)&a->bytes_allocated,
                                memory_order_relaxed);
}
