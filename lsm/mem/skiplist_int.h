/*
 * skiplist_int.h: a sorted set of byte-string keys on an arena, LevelDB style.
 *
 * Each node holds one key (copied into the arena, compared with
 * user_key_cmp: memcmp order, a prefix first) and one opaque payload pointer
 * that its owner (the memtable) may replace at any time. Nodes are never
 * removed; the whole list dies with its arena.
 *
 * Invariants:
 *   1. Level 0 links every node in strictly ascending key order; level i > 0
 *      links a subsequence of level i - 1. No two nodes share a key.
 *   2. A node's height (1..SKIPLIST_MAX_HEIGHT), key and initial payload are
 *      written before the node becomes reachable and never change after,
 *      except the payload, which is only replaced through
 *      skiplist_node_set_payload.
 *   3. Heights come from a xorshift64 generator seeded with a fixed
 *      constant in every skiplist (branching 1/4), and one number is drawn
 *      per inserted node only. The same sequence of inserts therefore builds
 *      the same structure on every run and machine.
 *
 * Thread safety: ONE writer at a time (skiplist_find_or_insert and
 * skiplist_node_set_payload; callers serialize them), any number of readers
 * concurrently with it and without locks. A new node is fully initialised
 * and then published with release stores of the next pointers, bottom level
 * first; readers follow next pointers with acquire loads, so a reader that
 * reaches a node sees its key, height and payload. A payload replaced with
 * skiplist_node_set_payload (release) is read with skiplist_node_payload
 * (acquire), so whatever the payload points to is visible too. A reader may
 * or may not see nodes inserted while it runs, but it never sees a broken
 * order.
 */
#ifndef LSM_SKIPLIST_INT_H
#define LSM_SKIPLIST_INT_H

#include "util/arena_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKIPLIST_MAX_HEIGHT 12

typedef struct skiplist skiplist;
typedef struct skiplist_node skiplist_node;

/* Creates an empty skiplist whose memory (the list itself, every node and
 * key) comes from arena a; it is freed by arena_destroy(a), never on its own.
 * LSM_ENOMEM when the arena is out of memory. */
int skiplist_create(arena *a, skiplist **out);

/* Writer only. Finds the node holding key or inserts one. On LSM_OK, *node
 * is that node and *inserted says whether it is new; a new node copies the
 * key and starts with `payload`, an existing one keeps its payload (payload
 * is ignored). LSM_EINVAL for an empty key, LSM_ENOMEM when the arena is
 * exhausted (nothing inserted). */
int skiplist_find_or_insert(skiplist *sl, const uint8_t *key, size_t nkey,
                            void *payload, skiplist_node **node,
                            bool *inserted);

/* The first node whose key is >= key, or NULL when there is none. */
skiplist_node *skiplist_seek(const skiplist *sl, const uint8_t *key,
                             size_t nkey);
/* The node holding exactly key, or NULL. */
skiplist_node *skiplist_find(const skiplist *sl, const uint8_t *key,
                             size_t nkey);
/* As skiplist_find, adding to *n_compared the node keys it compared with
 * key on the way down (a node met on two levels counts twice): an
 * explained get's "entries examined". n_compared may be NULL. */
skiplist_node *skiplist_find_counted(const skiplist *sl, const uint8_t *key,
                                     size_t nkey, uint64_t *n_compared);
/* Whether invariant 1 holds: every level in strictly ascending key order
 * and a subsequence of the level below. Walks every level (for tests;
 * not concurrently with the writer). */
bool skiplist_check(const skiplist *sl);

/* The smallest / largest node, or NULL when the list is empty. */
skiplist_node *skiplist_first(const skiplist *sl);
skiplist_node *skiplist_last(const skiplist *sl);
/* The node after n in key order, or NULL at the end. */
skiplist_node *skiplist_next(const skiplist_node *n);

/* Number of nodes published so far. The count is raised (release) after a
 * node is linked and read with acquire, so a reader that loads count c and
 * then walks the list from the start sees at least c nodes. */
size_t skiplist_count(const skiplist *sl);

/* The node's key, valid as long as the arena lives. */
const uint8_t *skiplist_node_key(const skiplist_node *n, size_t *nkey);
/* The node's payload (acquire load). */
void *skiplist_node_payload(const skiplist_node *n);
/* Writer only: replaces the payload (release store), so a reader that loads
 * the new payload also sees everything written before this call. */
void skiplist_node_set_payload(skiplist_node *n, void *payload);
/* The node's height, 1..SKIPLIST_MAX_HEIGHT (tests check determinism). */
int skiplist_node_height(const skiplist_node *n);

#endif
