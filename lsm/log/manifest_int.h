/*
 * manifest_int.h: the append-only log of changes to the tree's shape.
 *
 * Every structural change (a new memtable, a flush, a compaction) is one
 * checksummed record appended and fsynced before the change is published.
 * Opening a database replays the records in order to rebuild exactly which
 * SSTs are live in which level. The byte layout is in FORMAT.md.
 *
 * Torn tails: a record cut short at the end of the file (a crash in the
 * middle of an append) is cut off and replay succeeds. A record that fails
 * its checksum anywhere before the last one is LSM_ECORRUPT.
 *
 * Thread safety: none; the db serializes appends with its manifest_mu
 * (db_manifest_append, db/db.c); at open, before any thread starts, the
 * recovery appends directly.
 */
#ifndef LSM_MANIFEST_INT_H
#define LSM_MANIFEST_INT_H

#include "util/env_int.h"

#include <stddef.h>
#include <stdint.h>

typedef enum manifest_kind {
    MANIFEST_NEW_MEMTABLE = 1, /* id: the new mutable memtable; has_wal */
    MANIFEST_FLUSH = 2,        /* id: memtable flushed to L0 SST of same id */
    MANIFEST_COMPACTION = 3,   /* removed -> added at level (0: new tier) */
    MANIFEST_NEXT_ID = 4       /* id: every id in use is below it */
} manifest_kind;

typedef struct manifest_record {
    manifest_kind kind;
    uint64_t id;
    int has_wal;    /* NEW_MEMTABLE: the memtable logs to <id>.wal */
    int to_tier;    /* FLUSH: the SST is a new tier, not an L0 SST */
    uint32_t level; /* COMPACTION: output level, 1-based */
    size_t n_removed;
    const uint64_t *removed;
    size_t n_added;
    const uint64_t *added;
} manifest_record;

typedef struct manifest manifest;

/* Called once per record during replay; the record's arrays are valid only
 * during the call. A non-OK return stops the replay and is returned. */
typedef int (*manifest_replay_fn)(void *ctx, const manifest_record *rec);

/* Opens the manifest at path (creating it when missing), replays every
 * record through fn, cuts off a torn tail (*torn_bytes says how many bytes,
 * may be NULL), and leaves it open for appending. *out is freed by
 * manifest_close. */
int manifest_open(env *e, const char *path, manifest_replay_fn fn, void *ctx,
                  uint64_t *torn_bytes, manifest **out);

/* LSM_OK, or the error of a failed append, after which the manifest takes
 * no more records until the database is reopened. */
int manifest_status(const manifest *m);

/* Appends one record and fsyncs it. */
int manifest_append(manifest *m, const manifest_record *rec);

/* Bytes the last successful manifest_append added to the file (its record
 * with the log header), for the write-path trace; 0 before any. */
uint64_t manifest_last_append_bytes(const manifest *m);

/* Decodes one record payload (exposed for tests and fuzzing). Arrays in
 * *rec are malloc'd into *owned, which the caller frees. */
int manifest_decode(const uint8_t *payload, size_t n, manifest_record *rec,
                    void **owned);

/* Closes the file and frees m. NULL-safe. */
int manifest_close(manifest *m);

#endif
