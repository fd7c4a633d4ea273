/*
 * key_int.h: the internal-key vocabulary every layer shares (LevelDB's
 * dbformat.h): what a key may be, the entry types, the entry view and the
 * two orders, on user keys and on internal keys (user key, then sequence
 * number, newest first).
 *
 * An internal key is a user key, a 64-bit sequence number and a type: a
 * tombstone is a type, not an empty value (an empty value is a value).
 *
 * Thread safety: pure functions and plain types.
 */
#ifndef LSM_KEY_INT_H
#define LSM_KEY_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Entry types, as stored in memtables and SSTs. ENTRY_RANGE_DEL appears
 * only in WAL records and batches (key: the range's start, value: its
 * end, excluded); memtables and SSTs keep range tombstones apart from the
 * point entries (iter/rangedel_int.h). */
enum { ENTRY_TOMBSTONE = 0, ENTRY_VALUE = 1, ENTRY_RANGE_DEL = 2 };

/* A view of one entry; the pointers belong to the iterator or source. */
typedef struct entry {
    const uint8_t *key;
    size_t nkey;
    const uint8_t *value; /* NULL or empty for a tombstone */
    size_t nvalue;
    uint64_t seq;
    uint8_t type; /* ENTRY_VALUE or ENTRY_TOMBSTONE */
} entry;

/* memcmp order on user keys; a prefix sorts first. */
static inline int user_key_cmp(const uint8_t *a, size_t na, const uint8_t *b,
                               size_t nb)
{
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return na < nb ? -1 : na > nb ? 1 : 0;
}

/* Internal-key order: user key ascending, then sequence number descending. */
static inline int entry_cmp(const entry *a, const entry *b)
{
    int c = user_key_cmp(a->key, a->nkey, b->key, b->nkey);
    if (c != 0)
        return c;
    return a->seq > b->seq ? -1 : a->seq < b->seq ? 1 : 0;
}

/* LSM_OK for a key of 1 to LSM_MAX_KEY_BYTES bytes; otherwise LSM_EINVAL
 * with a message saying what keys may be. Every public call that takes a
 * key checks it here (writes, batches, gets, scan bounds). */
int key_check(const void *key, size_t nkey);

/* Turns key[0..n), in place, into the smallest key above every key that
 * starts with it: its trailing 0xff bytes dropped and the last byte left
 * raised by one. Returns the new length, or 0 when key is all 0xff bytes
 * (nothing is above every key starting with it). A prefix scan's upper
 * bound, and where a compaction output's range tombstones may start. */
size_t key_prefix_successor(uint8_t *key, size_t n);

#endif
