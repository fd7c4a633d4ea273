/*
 * manifest_int.h: the MANIFEST, the log of changes to the tree's shape, and
 * the tree it describes.
 *
 * The file starts with a snapshot record (the database identity, the next
 * id and the whole tree: every live SST with its level or tier, file size
 * and key range, every unflushed memtable), followed by one checksummed
 * record per structural change (a new memtable, a flush, a compaction, a
 * reservation of ids), each appended and fsynced before the change is
 * published. The manifest keeps, in memory, the tree its records describe
 * (manifest_tree): replaying the file at open builds it, every append
 * updates it, and a rewrite writes it as the snapshot of a new file that
 * replaces the old one atomically (MANIFEST.new, fsync, rename, fsync of
 * the directory). The byte layout is in FORMAT.md.
 *
 * Torn tails: a record cut short at the end of the file (a crash in the
 * middle of an append) is cut off and replay succeeds. A record that fails
 * its checksum anywhere before the last one is LSM_ECORRUPT, and so is a
 * file whose first record is not a snapshot (written by an older version,
 * or emptied or cut from the front while a process appended to it).
 *
 * Read only: manifest_open_read_only replays the file without changing
 * it (a torn tail is left in place) and refuses appends and rewrites.
 *
 * Thread safety: none; the db serializes appends and rewrites with its
 * manifest_mu (db_manifest_append, db/db.c); at open, before any thread
 * starts, the recovery calls them directly.
 */
#ifndef LSM_MANIFEST_INT_H
#define LSM_MANIFEST_INT_H

#include "util/env_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The database identity: random bytes made when a database is created,
 * kept in the snapshot and in every SST's footer. */
#define MANIFEST_IDENTITY_BYTES 16

typedef enum manifest_kind {
    MANIFEST_NEW_MEMTABLE = 1, /* id: the new mutable memtable; has_wal */
    MANIFEST_FLUSH = 2,        /* id: memtable flushed to L0 SST ssts[0] */
    MANIFEST_COMPACTION = 3,   /* removed -> added at level (0: new tier) */
    MANIFEST_NEXT_ID = 4,      /* id: every id in use is below it */
    MANIFEST_SNAPSHOT = 5      /* snapshot: the whole tree; first record */
} manifest_kind;

/* An SST as the manifest records it. In a record the keys are borrowed
 * (from the caller, or from the payload being decoded); in a tree they
 * point into one allocation the tree owns (first key, then last key). */
typedef struct manifest_sst {
    uint64_t id;
    uint64_t file_size;
    const uint8_t *first_key;
    size_t nfirst_key;
    const uint8_t *last_key;
    size_t nlast_key;
} manifest_sst;

/* A sorted run below L0: a level (run_id is its number, 1-based) or a tier
 * (run_id is its id). SSTs in the order they were added. */
typedef struct manifest_run {
    uint64_t run_id;
    size_t n, cap;
    manifest_sst *ssts;
} manifest_run;

/* A memtable created and not flushed. Once it is frozen (a newer memtable
 * takes the writes, or an open recovered it), the manifest knows what its
 * WAL holds, so recovery can tell a WAL deleted, replaced or cut short
 * from one a crash left: only an unfrozen WAL may end early. */
typedef struct manifest_mem {
    uint64_t id;
    bool has_wal;       /* it logs to <id>.wal */
    bool frozen;        /* the two fields below are known */
    uint64_t wal_bytes; /* frozen: bytes of its WAL (0 without one) */
    uint64_t last_seq;  /* frozen: the newest sequence number it holds */
} manifest_mem;

/* The tree the records describe. Owns its arrays and keys. */
typedef struct manifest_tree {
    uint8_t identity[MANIFEST_IDENTITY_BYTES];
    bool tiered;        /* flushes make tiers; compactions at level 0 */
    manifest_run l0;    /* oldest first (run_id unused) */
    size_t n_runs;      /* levels: runs[i] is L(i+1); tiers: newest first */
    manifest_run *runs; /* (a level may be empty) */
    size_t n_mems, mems_cap;
    manifest_mem *mems;   /* unflushed memtables, oldest first */
    uint64_t next_id;     /* every id any record names is below it */
    uint64_t flushed_seq; /* the newest sequence number flushed to an SST */
} manifest_tree;

typedef struct manifest_record {
    manifest_kind kind;
    uint64_t id;
    int has_wal; /* NEW_MEMTABLE: the memtable logs to <id>.wal */
    /* NEW_MEMTABLE: when `froze`, memtable frozen_id (the one the new
     * memtable replaces as the mutable one, or the newest an open
     * recovered) was frozen with wal_bytes in its WAL, up to last_seq. */
    int froze;
    uint64_t frozen_id;
    uint64_t wal_bytes;
    /* NEW_MEMTABLE (froze): see above; FLUSH: the newest sequence number
     * of the flushed memtable; SNAPSHOT: unused (the tree's flushed_seq). */
    uint64_t last_seq;
    int to_tier;    /* FLUSH: the SST is a new tier, not an L0 SST */
    uint32_t level; /* COMPACTION: output level, 1-based; 0: a new tier */
    size_t n_removed;
    const uint64_t *removed;
    size_t n_added;
    const uint64_t *added;
    /* FLUSH: one SST, the flush's (its id is id); COMPACTION: n_added,
     * the added SSTs in the order of added. */
    const manifest_sst *ssts;
    /* SNAPSHOT: the tree (identity, tiered, next id, SSTs, memtables). */
    const manifest_tree *snapshot;
    void *owned; /* what manifest_decode allocated; manifest_record_release */
} manifest_record;

/* --- the tree --------------------------------------------------------------
 */

/* Frees what t owns and leaves it empty. NULL-safe. */
void manifest_tree_free(manifest_tree *t);
/* Whether a compaction record is a trivial move: it adds exactly the SSTs
 * it removes (same ids), so they changed level without a rewrite. Replay
 * needs no special case (remove, then add at the level); the traces and
 * the shell name it. */
bool manifest_record_is_move(const manifest_record *rec);

/* Applies one change record (not a snapshot) to t. LSM_ECORRUPT when the
 * record contradicts the tree (a flush or compaction of the other
 * strategy), LSM_ENOMEM. */
int manifest_tree_apply(manifest_tree *t, const manifest_record *rec);
/* Appends a copy of s (its keys included) to r. LSM_ENOMEM. */
int manifest_run_push(manifest_run *r, const manifest_sst *s);
/* Records that memtable id was frozen with wal_bytes in its WAL, up to
 * last_seq; nothing when t does not hold it (it was dropped). */
void manifest_tree_freeze_memtable(manifest_tree *t, uint64_t id,
                                   uint64_t wal_bytes, uint64_t last_seq);
/* Forgets an unflushed memtable (one open dropped: no WAL, or empty). */
void manifest_tree_drop_memtable(manifest_tree *t, uint64_t id);
/* The SST id in L0 or any run; NULL when not live. */
const manifest_sst *manifest_tree_find(const manifest_tree *t, uint64_t id);
/* SSTs in L0 and every run. */
size_t manifest_tree_n_ssts(const manifest_tree *t);

/* Fills id with random bytes (getrandom(2), else /dev/urandom). */
int manifest_new_identity(uint8_t id[MANIFEST_IDENTITY_BYTES]);

/* --- the file --------------------------------------------------------------
 */

typedef struct manifest manifest;

/* Called once per record during replay, after the record changed the
 * tree; the record's arrays are valid only during the call. A non-OK
 * return stops the replay and is returned. */
typedef int (*manifest_replay_fn)(void *ctx, const manifest_record *rec);

/* Opens the manifest at path (creating it empty when missing), replays
 * every record into the manifest's tree (telling fn, which may be NULL),
 * cuts off a torn tail (*torn_bytes says how many bytes, may be NULL), and
 * leaves it open for appending. A file with no record (a new database)
 * gives an empty tree with a fresh identity. *out is freed by
 * manifest_close. */
int manifest_open(env *e, const char *path, manifest_replay_fn fn, void *ctx,
                  uint64_t *torn_bytes, manifest **out);

/* manifest_open for a reader that must change nothing: the file at path
 * must exist (a missing one is LSM_EIO); it is replayed as manifest_open
 * replays it, but a torn tail is only left out (*torn_bytes, may be NULL,
 * says how many bytes), no file is kept open, and manifest_append and
 * manifest_rewrite return LSM_EREADONLY. A file with no record gives an
 * empty tree with a fresh identity, in memory only. */
int manifest_open_read_only(env *e, const char *path, uint64_t *torn_bytes,
                            manifest **out);

/* Reads the file at the manifest's path again and sets *changed when its
 * bytes differ from those the read-only open replayed (another process
 * appended a record or rewrote the file since). Returns LSM_OK, LSM_EIO
 * (the file cannot be read: *changed is left alone) or LSM_ENOMEM. */
int manifest_changed_on_disk(const manifest *m, bool *changed);

/* Whether the file held no whole record when opened. */
bool manifest_was_empty(const manifest *m);

/* The tree the file describes now; valid until the next append, rewrite or
 * close. The mutable one is for open, before the first rewrite (to set up
 * a new database and drop memtables it does not recover). */
const manifest_tree *manifest_tree_of(const manifest *m);
manifest_tree *manifest_tree_for_open(manifest *m);

/* LSM_OK, or the error of a failed append, after which the manifest takes
 * no more records until the database is reopened. */
int manifest_status(const manifest *m);

/* Appends one record, fsyncs it, and applies it to the tree. */
int manifest_append(manifest *m, const manifest_record *rec);

/* Bytes the last successful manifest_append added to the file (its record
 * with the log header), for the write-path trace; 0 before any. */
uint64_t manifest_last_append_bytes(const manifest *m);

/* Bytes of the file, and how many of them came after its snapshot record
 * (what a rewrite would save). */
uint64_t manifest_size(const manifest *m);
uint64_t manifest_bytes_since_snapshot(const manifest *m);

/* The steps of a rewrite, reported as each one succeeds (for the trace). */
typedef enum manifest_rewrite_step {
    MANIFEST_REWRITE_CREATED = 1, /* MANIFEST.new created (empty) */
    MANIFEST_REWRITE_WRITTEN,     /* the snapshot appended (bytes) */
    MANIFEST_REWRITE_SYNCED,      /* ... and fsynced */
    MANIFEST_REWRITE_NAMED,       /* the directory fsynced: its name durable */
    MANIFEST_REWRITE_RENAMED,     /* MANIFEST.new renamed over MANIFEST */
    MANIFEST_REWRITE_DIR_SYNCED   /* the directory fsynced: switch durable */
} manifest_rewrite_step;
typedef void (*manifest_step_fn)(void *ctx, manifest_rewrite_step step,
                                 const char *path, uint64_t bytes);

/* Replaces the file with one holding only the snapshot of the tree: writes
 * <path>.new, fsyncs it and the directory dir, renames it over <path>,
 * fsyncs dir again,
 * and appends to the new file from then on. step (may be NULL) hears each
 * step. On failure before the rename, the new file is removed and the old
 * one stays in use, unchanged (the caller may go on). A failure after the
 * rename leaves the new file in place, complete; if the manifest cannot
 * then reopen it for appending, it takes no more records (manifest_status)
 * until the database is reopened. Refused (with the error) after a failed
 * append. */
int manifest_rewrite(manifest *m, const char *dir, manifest_step_fn step,
                     void *ctx);

/* Decodes one record payload (exposed for tests, fuzzing and
 * lsm_manifest_read). The record's keys point into payload; its arrays
 * (and a snapshot's tree) are allocated: release them with
 * manifest_record_release, on success or failure alike. */
int manifest_decode(const uint8_t *payload, size_t n, manifest_record *rec);
void manifest_record_release(manifest_record *rec);

/* Closes the file and frees m. NULL-safe. */
int manifest_close(manifest *m);

#endif
