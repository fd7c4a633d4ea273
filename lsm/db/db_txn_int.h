/*
 * db_txn_int.h: the inside of an optimistic transaction (lsm.h,
 * "Transactions"): its read point, its write set, what it read, and the
 * commit-time validation. db_txn.c has the public calls, db_txn_set.c the
 * write set and the read set, db_txn_check.c the validation.
 *
 * Ownership: an lsm_txn owns everything below; lsm_txn_commit and
 * lsm_txn_abort free it. An iterator lsm_txn_scan opened holds its own
 * reference on the write set's memtable, so it may outlive the
 * transaction.
 *
 * Locking: a transaction is used by one thread at a time, so its fields
 * need no lock of their own. Its read point is linked in the db's list
 * under snap_mu (db_snap.c). The write set's memtable has one writer (the
 * transaction's thread) and lock-free readers (the iterators of its
 * scans), as any memtable. Validation and the commit's write run under one
 * hold of the db's write_mu, so no write lands between them.
 */
#ifndef LSM_DB_TXN_INT_H
#define LSM_DB_TXN_INT_H

#include "db/db_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The transaction's buffered writes: a private memtable keyed as any
 * other, whose versions are numbered 1, 2, ... in the order written (not
 * database seqs). The newest version of a key is its latest write, value
 * or tombstone; older ones stay (an arena never shrinks) but are never
 * read, written or counted. */
typedef struct txn_write_set {
    memtable *mt;
    uint64_t n_writes; /* the number the latest write got */
    /* Bytes the entries of the commit's batch take, latest write of each
     * key only (as the WAL record encodes them): the size check. */
    uint64_t batch_bytes;
} txn_write_set;

/* A key range lsm_txn_scan was asked for; the keys are owned copies. */
typedef struct txn_range {
    lsm_bound lo, hi;
} txn_range;

/* SERIALIZABLE only: what the transaction read from the database. */
typedef struct txn_read_set {
    /* Keys lsm_txn_get looked up in the database, found or not, as a set:
     * a memtable holding one empty value per key (NULL until the first). */
    memtable *keys;
    uint64_t n_keys;
    txn_range *ranges; /* in the order the scans were opened */
    size_t n_ranges, ranges_cap;
} txn_read_set;

struct lsm_txn {
    /* Registered with db_snap_register (is_txn, isolation): holds the
     * watermark down; snap.id is lsm_txn_id, snap.seq its read point. */
    lsm_snapshot snap;
    txn_write_set writes;
    txn_read_set reads;
};

/* --- the write set (db_txn_set.c) --- */

int txn_writes_init(txn_write_set *ws);
void txn_writes_free(txn_write_set *ws);
/* Buffers a put (ENTRY_VALUE) or a delete (ENTRY_TOMBSTONE), replacing an
 * earlier write of key. Checks key and value as lsm_put does, and refuses
 * (LSM_EINVAL) a write that would make the commit's batch outgrow one WAL
 * record. LSM_ENOMEM. On error the set is unchanged. */
int txn_writes_add(txn_write_set *ws, uint8_t type, const void *key,
                   size_t nkey, const void *value, size_t nvalue);
/* The latest write of key, if any (pointers into the set, valid while it
 * lives). */
bool txn_writes_get(txn_write_set *ws, const uint8_t *key, size_t nkey,
                    entry *out);
bool txn_writes_empty(const txn_write_set *ws);
/* The set as it is now, for a scan: an iterator over the latest write of
 * each key, in key order, every entry given seq read_seq so the scan's
 * read point shows it and the merge puts it before the database's
 * versions. Writes buffered later are hidden. Holds its own memtable
 * reference. NULL when out of memory. */
iter *txn_writes_view(txn_write_set *ws, uint64_t read_seq);
/* The latest write of each key, in key order, appended to b. */
int txn_writes_to_batch(txn_write_set *ws, lsm_batch *b);
/* An iterator over the latest write of each key, in key order (entries
 * carry the set's own numbers). NULL when out of memory. */
iter *txn_writes_iter(txn_write_set *ws);

/* --- the read set (db_txn_set.c) --- */

void txn_reads_free(txn_read_set *rs);
/* Records key as read (once, however often it is read). LSM_ENOMEM. */
int txn_reads_add_key(txn_read_set *rs, const uint8_t *key, size_t nkey);
/* Records the range [lo, hi] (NULL: unbounded), copying its keys; the
 * bounds were checked by the scan. LSM_ENOMEM. */
int txn_reads_add_range(txn_read_set *rs, const lsm_bound *lo,
                        const lsm_bound *hi);
/* An iterator over the keys read, in key order, one entry each; NULL when
 * none were read or out of memory (*oom then says which). */
iter *txn_reads_keys_iter(txn_read_set *rs, bool *oom);

/* --- validation (db_txn_check.c) --- */

/* Checks t against every write committed after its read point, in this
 * order, and reports the first conflict found: each key t wrote, in key
 * order (LSM_CONFLICT_WRITE); under SERIALIZABLE then each key it read,
 * in key order (LSM_CONFLICT_READ), then each range it scanned, in the
 * order scanned, at the range's smallest key written (LSM_CONFLICT_RANGE).
 * "Written after" is a version with seq above t's read point: the check
 * reads only the memtables and SSTs whose newest seq is above it.
 * Caller holds write_mu. Returns LSM_OK (no conflict), LSM_ECONFLICT
 * (info filled: kind, a malloc'd copy of the key, the newest version's
 * seq), or LSM_EIO, LSM_ECORRUPT, LSM_ENOMEM (reading failed). */
int txn_validate_locked(lsm_db *db, lsm_txn *t, lsm_commit_info *info);

#endif
