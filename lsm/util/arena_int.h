/*
 * arena_int.h: a bump allocator for memtable nodes and values.
 *
 * A memtable never frees single entries: everything it allocates dies with
 * it. An arena hands out memory from large blocks and frees them all at once,
 * which is faster than malloc per entry and keeps entries close together.
 *
 * Thread safety: arena_alloc is called by the single memtable writer only.
 * arena_bytes_used may be read from any thread (it is atomic).
 */
#ifndef LSM_ARENA_INT_H
#define LSM_ARENA_INT_H

#include <stddef.h>

typedef struct arena arena;

/* Creates an empty arena; NULL when out of memory. Freed with arena_destroy. */
arena *arena_create(void);

/* Frees every block of the arena. NULL-safe. */
void arena_destroy(arena *a);

/* Returns n bytes aligned for any object (16 bytes), valid until
 * arena_destroy; NULL when out of memory. n may be 0. */
void *arena_alloc(arena *a, size_t n);

/* Bytes requested from malloc so far (blocks, not what was handed out). */
size_t arena_bytes_used(const arena *a);

#endif
