/*
 * arena_int.h: a bump allocator for memtable nodes and values.
 *
 * A memtable never frees single entries: everything it allocates dies with
 * it. An arena hands out memory from large blocks and frees them all at once,
 * which is faster than malloc per entry and keeps entries close together.
 *
 * Thread safety: arena_alloc is called by the single memtable writer only.
 * arena_bytes_used and arena_bytes_allocated may be read from any thread
 * (they are atomics; a reader may see a slightly stale value).
 */
#ifndef LSM_ARENA_INT_H
#define LSM_ARENA_INT_H

#include <stddef.h>

typedef struct arena arena;

/* Creates an empty arena; NULL when out of memory. Freed with arena_destroy. */
arena *arena_create(void);

/* Frees every block of the arena. NULL-safe. */
void arena_destroy(arena *a);

/* Returns n bytes aligned to ARENA_ALIGN, valid until arena_destroy; NULL
 * when out of memory. n may be 0. */
void *arena_alloc(arena *a, size_t n);

/* Every allocation is aligned to 8 bytes: enough for the integers and
 * pointers memtables store (nothing in an arena needs more), and half the
 * padding 16 would cost per skiplist node and per version. */
#define ARENA_ALIGN 8

/* Bytes requested from malloc so far (blocks, not what was handed out). */
size_t arena_bytes_used(const arena *a);

/* Bytes handed out so far: every request rounded up to ARENA_ALIGN. Unlike
 * arena_bytes_used it grows with each allocation, not in block steps, and
 * depends only on the sequence of requests, so a memtable can use it as a
 * deterministic measure of its memory (memtable_int.h). */
size_t arena_bytes_allocated(const arena *a);

#endif
