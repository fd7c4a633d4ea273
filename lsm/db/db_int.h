/*
 * db_int.h: the database handle and what the engine's files share: db.c
 * (shared helpers), db_write.c (writes), db_flush.c (freeze, flush),
 * db_open.c (open, recovery, close), db_compact.c (compaction runner),
 * db_iter.c (gets, scans), db_state.c (state snapshot, manifest reading),
 * db_level_stats.c (per-level stats), db_history.c (lsm_key_history) and
 * db_sync.c (group commit). Each declaration below names its file.
 *
 * Locks, always taken in this order (never the reverse):
 *
 *   write_mu    serializes writers: only its holder adds to the mutable
 *               memtable or freezes it. Held across an inline flush, which
 *               is what makes inline mode deterministic.
 *   work_mu     serializes flushes, so the oldest immutable memtable is
 *               flushed first. Held during SST I/O.
 *   compact_mu  serializes compactions (never held with work_mu, so a
 *               flush can run during a long compaction). A compaction
 *               publishes its result by applying its task to the CURRENT
 *               tree, which flushes may have grown since (new L0 SSTs or
 *               tiers), so the two never lose each other's work. Held
 *               during SST I/O.
 *   sync_mu     group commit (sync option): serializes fsyncs of the WAL
 *               made for writers, so one fsync acknowledges every write
 *               appended before it. Taken after write_mu (a freeze retires
 *               the log under both), never while waiting for write_mu.
 *   manifest_mu serializes manifest appends (freeze appends under write_mu,
 *               flush under work_mu, compaction under compact_mu).
 *   state_mu    guards the fields marked [state] below. Held only to read or
 *               swap them, never during I/O, so readers never wait for a
 *               flush or a compaction.
 *   snap_mu     guards the list of live read points (snapshots and
 *               transactions; db_snap.c). A leaf: nothing is taken while
 *               it is held, and it may be taken under any of the above.
 *
 * Readers (get, scan, state) take state_mu just long enough to reference the
 * current version, then read without any lock.
 *
 * The life of an SST file (db_pins.c has the details): written by a flush
 * or compaction, named by the manifest, published in a version; referenced
 * by every version naming it and every source a reader opened on it (an
 * lsm_iter holds only its sources, never a version). A compaction that
 * removes it keeps a reference until its own readers are done, then
 * retires it: deleted at once if no one else holds it ("compacted away"),
 * else kept in db->kept until the last reader lets go ("last reader
 * closed"). Each deletion is one LSM_EVENT_SST_DELETED.
 */
#ifndef LSM_DB_INT_H
#define LSM_DB_INT_H

#include "lsm.h"

#include "table/block_cache_int.h"
#include "util/counters_int.h"
#include "util/env_int.h"
#include "log/batch_int.h"
#include "log/manifest_int.h"
#include "db/version_int.h"
#include "log/wal_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define DB_BG_MESSAGE_BYTES 512
#define DB_PATH_BYTES 4096

/* What flushes and compactions wrote into one level or tier since open
 * (db_level_stats.c; lsm_level_stats in lsm.h says what each field means).
 * For L0 the writes are flushes: compactions counts them. */
typedef struct db_level_counts {
    uint64_t compactions;
    uint64_t bytes_read_upper, bytes_read_lower, bytes_written;
    char *last_reason; /* malloc'd copy of the task's reason; NULL: none */
} db_level_counts;

/* Tiered compaction: the counts of one tier that exists, which are those
 * of the flush or compaction that made it (tiers are never added to).
 * A tier made before the database was opened has none. */
typedef struct db_tier_counts {
    uint64_t tier_id;
    db_level_counts counts;
    struct db_tier_counts *next;
} db_tier_counts;

struct lsm_db {
    /* Set by open, read-only afterwards. */
    char *dir;
    /* The caller's env until db_dir_open, then dir_env, the env bound to
     * the directory (db_dir.c), which owns the directory descriptor. */
    env *env;
    env *dir_env;
    lsm_options opt;
    prefix_extractor prefix; /* opt's prefix_len / prefix_delim */
    size_t n_levels;
    bool current_is_tiered; /* compaction TIERED: flushes make tiers */
    block_cache *cache;
    env_file *lock_file;
    /* The database identity (the manifest's snapshot has it; every SST
     * this database writes records it). */
    uint8_t identity[MANIFEST_IDENTITY_BYTES];
    counters ctrs; /* atomic */
    /* LSM_EVENT_IO is sent while set (lsm_trace_io; db_trace.c). Any
     * thread may store it; every traced step loads it relaxed, so with it
     * off a step costs one predictable branch (see DB_TRACE_IO). */
    atomic_bool trace_io;

    pthread_mutex_t write_mu;
    /* The mutable memtable's log; NULL if off. Appended to under write_mu,
     * synced for writers under sync_mu, replaced only under both. */
    wal *wal;
    lsm_batch one;     /* [write_mu] scratch for lsm_put / lsm_delete */
    record_run run;    /* [write_mu] scratch for lsm_put_many's records */
    uint64_t last_seq; /* [write_mu] newest sequence number handed out */
    /* [write_mu] Inline mode: open left more memtables in memory than
     * num_memtable_limit (recovered from their WALs, which stay); the next
     * write flushes them first (db_flush_owed_locked). Open does not, so
     * that opening never needs free space. */
    bool flush_owed;
    /* Newest sequence number whose write is complete; a scan reads it
     * before taking its version and ignores anything newer. Stored by the
     * writer (release) after memtable_put, loaded by readers (acquire). */
    _Atomic uint64_t visible_seq;
    /* Newest sequence number whose record is in the WAL and the memtable.
     * Stored under write_mu (release); the group-commit syncer loads it
     * (acquire) before an fsync to know what the fsync will cover. */
    _Atomic uint64_t appended_seq;

    /* Records appended so far (one per put, delete or batch); stored
     * under write_mu, read by group commit to size its groups. */
    _Atomic uint64_t appended_records;

    /* Group commit (sync option on; db_sync.c). A writer appends its record
     * and applies it under write_mu, lets write_mu go, then waits under
     * sync_mu until an fsync covers its sequence number. One writer at a
     * time fsyncs (syncing), for every record appended so far; writers
     * that queued meanwhile find their seq covered and need no fsync of
     * their own. With the sync option, visible_seq only moves here (and at
     * a freeze, which syncs the whole log): readers never see a write that
     * is not durable yet. */
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cv;     /* signalled when an fsync ends or a writer
                                   arrives to wait */
    atomic_uint active_writers; /* sync option: writers inside lsm_put,
                                   lsm_delete or lsm_write */
    bool syncing;               /* [sync_mu] the fsync turn is taken: a
                                   writer gathering its group or in fsync
                                   (without sync_mu), or a freeze's fsync */
    uint64_t synced_seq;        /* [sync_mu] newest seq known durable */
    uint64_t synced_records;    /* [sync_mu] appended_records it covers */
    uint64_t sync_micros;       /* [sync_mu] recent fsync time, averaged */
    int sync_error;             /* [sync_mu] a failed fsync: waits fail */
    char sync_message[DB_BG_MESSAGE_BYTES]; /* [sync_mu] its lsm_errmsg() */

    pthread_mutex_t work_mu;
    pthread_mutex_t compact_mu;
    /* [compact_mu] ids below this are covered by the manifest (a new-memtable
     * or next-id record), so an unnamed SST at or above it after a crash
     * means the manifest lost records. Compaction outputs reserve ids
     * before they are used. */
    uint64_t reserved_ids;

    pthread_mutex_t manifest_mu;
    manifest *manifest; /* [manifest_mu] */
    /* [manifest_mu] The manifest is rewritten once this many bytes of
     * records follow its snapshot: manifest_rewrite_bytes, and another
     * manifest_rewrite_bytes more after a rewrite failed. */
    uint64_t manifest_rewrite_at;

    pthread_mutex_t state_mu;
    pthread_cond_t state_cv; /* signalled on freeze, flush, stop */
    version *current;        /* [state] the published version */
    /* [state] Counts publishes: db_swap_locked adds one. Background threads
     * remember which version they found nothing to do on by this number,
     * never by its address: a version freed after it stopped being current
     * may leave its address to a newer one, which would look unchanged. */
    uint64_t version_number;
    uint64_t next_id; /* [state] next memtable or SST id */
    int bg_error;     /* [state] latched failure of background work */
    /* [state] set with bg_error when changing the tree any further could
     * do harm (a memtable holding part of a batch): no flush or compaction
     * runs, not even at close; reopening replays the WAL instead. */
    bool halted;
    char bg_message[DB_BG_MESSAGE_BYTES]; /* [state] its lsm_errmsg() */
    /* [state] Per-level stats: level_counts[0] is L0, [n] is Ln; with
     * tiered compaction tier_counts lists the tiers' instead. Updated under
     * the same state_mu hold that publishes the flush or compaction they
     * count, so a state snapshot sees the tree and its stats agree. */
    db_level_counts level_counts[LSM_MAX_LEVELS + 1];
    db_tier_counts *tier_counts;
    lsm_iter *iters;       /* [state] open iterators */
    size_t n_iters;        /* [state] */
    uint64_t next_iter_id; /* [state] */
    /* [state] SSTs a compaction removed from the tree while readers still
     * held them (db_pins.c has their lifecycle): the list holds one
     * reference on each; db_pins_sweep deletes those whose only reference
     * is the list's. n_kept is stored under state_mu and may be loaded
     * without it, so a reader pays one atomic load to learn that there is
     * nothing to sweep. */
    sst **kept;
    size_t kept_cap;
    _Atomic size_t n_kept;
    bool stopping;             /* [state] close has begun */
    bool flush_thread_started; /* set by open, read by close */
    pthread_t flush_thread;
    bool compaction_thread_started;
    pthread_t compaction_thread;
    /* [state] Tests only (NULL otherwise): called by the compaction thread,
     * with no lock held, each time it found nothing to do and is about to
     * sleep, so a test can change the tree at exactly that moment. */
    void (*compaction_idle_hook)(lsm_db *db, void *ctx);
    void *compaction_idle_ctx; /* [state] */

    /* Live read points (db_snap.c): snapshots and transactions, in a list
     * ordered by seq, oldest first. A read point takes visible_seq and
     * joins the list in one snap_mu hold, and visible_seq only grows, so
     * appending keeps the order and a flush or compaction that reads the
     * watermark (db_watermark) under snap_mu can never miss a read point
     * older than the one it saw. */
    pthread_mutex_t snap_mu;
    lsm_snapshot *oldest_snap; /* [snap] */
    lsm_snapshot *newest_snap; /* [snap] */
    size_t n_snaps;            /* [snap] snapshots, transactions excluded */
    size_t n_txns;             /* [snap] open transactions */
    uint64_t next_snap_id;     /* [snap] */
};

/* A read point (db_snap.c): a snapshot, or the snapshot inside a
 * transaction (lsm_txn embeds one). Linked into db's list while live. */
struct lsm_snapshot {
    lsm_db *db;
    uint64_t id;             /* lsm_snapshot_id / lsm_txn_id */
    uint64_t seq;            /* reads see writes with seq <= this */
    bool is_txn;             /* embedded in an lsm_txn */
    lsm_isolation isolation; /* is_txn only */
    lsm_snapshot *older;     /* [snap] */
    lsm_snapshot *newer;     /* [snap] */
};

/* An SST an iterator opened, and where it was then (lsm_pinned_sst). */
typedef struct iter_pin_sst {
    uint64_t sst_id;
    int level;        /* 0 = L0, n = Ln, -1 in a tier */
    uint64_t tier_id; /* in a tier: its id; else 0 */
} iter_pin_sst;

/* What an iterator's sources hold alive: recorded when lsm_scan opens
 * them, never changed afterwards (so lsm_state_get may read it under
 * state_mu while the iterator moves). The references themselves are the
 * sources' (memtable_iter, sst_iter, concat_iter each take their own). */
typedef struct iter_pins {
    size_t n_memtables, memtables_cap;
    uint64_t *memtable_ids; /* newest first */
    size_t n_ssts, ssts_cap;
    iter_pin_sst *ssts; /* L0 newest first, then by level or tier, key */
    bool oom;           /* a record was lost: the scan fails */
} iter_pins;

/* The user-facing iterator (db_iter.c). Linked into db->iters. It holds no
 * version: only the sources it opened (inner), so a compaction may delete
 * every SST it does not read (db_pins.c). */
struct lsm_iter {
    lsm_db *db;
    uint64_t read_seq;        /* entries newer than this are invisible */
    iter *inner;              /* merged sources, all versions */
    iter_pins pins;           /* what inner holds; read-only once linked */
    uint64_t iter_id;         /* [state] */
    lsm_iter *prev_open;      /* [state] links of db->iters */
    lsm_iter *next_open;      /* [state] */
    atomic_size_t num_active; /* refreshed after every move, for dump */
    /* Upper bound, owned copy. */
    lsm_bound_kind hi_kind;
    uint8_t *hi_key;
    size_t hi_nkey;
    /* Current key (an owned copy, so older versions can be skipped after
     * the inner iterator moves on) and a view of its value. */
    uint8_t *key;
    size_t nkey, key_cap;
    const uint8_t *value;
    size_t nvalue;
    bool valid;
    /* lsm_scan_explain only, else NULL: the scan's trace, owned; its
     * sources' iterators count into it (read_trace_int.h). */
    struct read_trace *trace;
    /* Range tombstones of every source at or below read_seq, fragmented
     * when the scan opened (NULL: none), and the cursor settle advances
     * through them as keys go up. Owned. */
    range_frags *ranges;
    range_cursor range_at;
};

/* --- shared by the engine files (defined in db.c unless marked) -------- */

/* A growable list of ids. */
typedef struct id_list {
    size_t n, cap;
    uint64_t *ids;
} id_list;
int id_list_push(id_list *l, uint64_t id);

/* "<dir>/<name>" and "<dir>/<id>.sst" into buf (DB_PATH_BYTES). */
int db_path(const lsm_db *db, const char *name, char *buf);
int db_sst_path(const lsm_db *db, uint64_t sst_id, char *buf);
/* Opens SST sst_id at path with the database's cache, counters and read
 * options (mmap_reads, cache_index_and_filter_blocks). */
int db_sst_open(lsm_db *db, const char *path, uint64_t sst_id, sst **out);
int db_wal_path(const lsm_db *db, uint64_t memtable_id, char *buf);
/* Deletes a flushed (or empty) memtable's WAL; failures are ignored. why
 * completes "memtable <id> ..." in the trace, e.g. "was flushed"
 * (db_flush.c). */
void db_remove_wal(lsm_db *db, uint64_t memtable_id, const char *why);
/* Creates the WAL of memtable memtable_id, durably (NULL when the WAL is
 * off) (db_flush.c). */
int db_create_wal(lsm_db *db, uint64_t memtable_id, wal **out);
/* Applying WAL entries to a memtable: wal_decode_record / wal_replay's
 * callback, used by writes (db counts them) and by recovery (db NULL)
 * (db_write.c). */
typedef struct apply_ctx {
    lsm_db *db;
    memtable *mem;
    uint64_t max_seq; /* newest seq applied */
} apply_ctx;
int db_apply_entry(void *ctx, uint64_t seq, uint8_t type, const uint8_t *key,
                   size_t nkey, const uint8_t *value, size_t nvalue);
/* Number of levels below L0 for the options' compaction strategy. */
size_t levels_for(const lsm_options *opt);
/* Sends an event to the callback, if there is one. */
void db_emit(lsm_db *db, const lsm_event *ev);
/* Publishes nv (see db.c); caller holds state_mu; returns the old one. */
version *db_swap_locked(lsm_db *db, version *nv);
/* The next memtable or SST id. */
uint64_t db_take_id(lsm_db *db);
/* Latches a background error (the first wins) and reports it. */
void db_latch_error(lsm_db *db, int rc);
/* Whether a flush or compaction may change files now: LSM_OK, or the error
 * that forbids it (a halted db, a manifest that lost an append). */
int db_may_change_tree(lsm_db *db);
/* Appends and fsyncs a manifest record under manifest_mu; then, past
 * manifest_rewrite_bytes, rewrites the manifest (a failed rewrite is an
 * LSM_EVENT_WARNING, not an error of the append). */
int db_manifest_append(lsm_db *db, const manifest_record *rec);
/* Rewrites the manifest from its tree (manifest_rewrite), tracing each
 * step with why as the reason. Caller holds manifest_mu, or is open. */
int db_manifest_rewrite(lsm_db *db, const char *why);
/* What the manifest records of an SST: its id, size and key range (the
 * keys are t's). */
void db_manifest_sst_of(const sst *t, manifest_sst *out);
/* Freezes the mutable memtable and flushes every immutable one
 * (db_flush.c). */
int db_flush_all(lsm_db *db);
/* A new empty memtable as the options make them (with a filter when
 * memtable_bloom is on); *out holds one reference (db_flush.c). */
int db_memtable_create(const lsm_db *db, uint64_t memtable_id, memtable **out);
/* Makes the mutable memtable the newest immutable one (an empty one is
 * left alone); caller holds write_mu (db_flush.c). */
int db_freeze_locked(lsm_db *db);
/* Work owed after a freeze: inline mode flushes now (db_flush.c). */
void db_after_freeze(lsm_db *db);
/* Under one hold of write_mu: prepare(db, ctx) (may be NULL: a
 * transaction's validation, or filling the scratch batch), then, if it
 * returned LSM_OK, batch b as one WAL record (sequence numbers, WAL,
 * memtable, then visible in one step; an empty batch writes nothing).
 * With group commit it then waits, without write_mu, until the write is
 * durable. *last_seq (may be NULL): the newest seq when the lock was let
 * go, the batch's last one if it was written. Returns prepare's error, or
 * the write's (db_write.c). */
typedef int (*db_write_prepare_fn)(lsm_db *db, void *ctx);
int db_write_guarded(lsm_db *db, db_write_prepare_fn prepare, void *ctx,
                     lsm_batch *b, uint64_t *last_seq);
/* Latches rc and forbids any further change to the tree (halted). */
void db_halt(lsm_db *db, int rc);
/* Inline mode: flush until the memtable limit holds. Caller holds
 * write_mu (db_flush.c). */
int db_flush_while_over_limit(lsm_db *db);
/* Inline mode: the flush open left to the first write (flush_owed), if it
 * is still owed. Caller holds write_mu (db_flush.c). */
int db_flush_owed_locked(lsm_db *db);
/* LSM_OK, or on a handle opened read-only LSM_EREADONLY with a message
 * naming call ("lsm_put") and saying that nothing was written. */
int db_refuse_read_only(const lsm_db *db, const char *call);
/* The first checks of a public call that changes the tree (call names it
 * in messages): a handle, not read-only, no latched error. */
int db_begin_change(lsm_db *db, const char *call);
/* The flush thread of threads mode (db_flush.c). */
void *db_flush_thread_main(void *arg);
/* Inline mode: runs the strategy's compactions until none is due
 * (db_compact.c). */
int db_compact_until_settled(lsm_db *db);
/* The compaction thread of threads mode (db_compact.c). */
void *db_compaction_thread_main(void *arg);

/* --- the write-path trace (db_trace.c) --- */

/* Whether LSM_EVENT_IO is on: one relaxed load. */
static inline bool db_tracing_io(lsm_db *db)
{
    return atomic_load_explicit(&db->trace_io, memory_order_relaxed);
}

/* Sends one LSM_EVENT_IO step when the trace is on. The arguments are
 * evaluated only then, so a traced step costs nothing else when it is off:
 * DB_TRACE_IO(db, op, path, size_bytes, reason format, ...). */
#define DB_TRACE_IO(db, ...)                                                   \
    do {                                                                       \
        if (db_tracing_io(db))                                                 \
            db_trace_io((db), __VA_ARGS__);                                    \
    } while (0)

/* Sends LSM_EVENT_IO: op on the file at path (a path in db->dir, reported
 * by its name; NULL for the directory itself), size_bytes, and the reason
 * formatted from fmt. Call it through DB_TRACE_IO. */
void db_trace_io(lsm_db *db, lsm_io_op op, const char *path,
                 uint64_t size_bytes, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* The WAL append of a write: bytes framed bytes of the record payload
 * (count entries from first_seq) appended to the log at path. Reason:
 * "put, seq 8", "delete, seq 9" or "batch of 3, seq 10..12". */
void db_trace_wal_append(lsm_db *db, const char *path, uint64_t bytes,
                         const uint8_t *payload, uint32_t count,
                         uint64_t first_seq);
/* The append and the fsync of one manifest record of bytes bytes, with
 * the record described in the events' fields and reason. */
void db_trace_manifest(lsm_db *db, const manifest_record *rec, uint64_t bytes);
/* The directory fsync that makes the names of n new SSTs durable. */
void db_trace_ssts_named(lsm_db *db, const uint64_t *ids, size_t n);

/* --- group commit (db_sync.c) --- */

/* Whether writes wait for an fsync of the WAL before they are acknowledged
 * (the sync option with the WAL on): those go through group commit. */
bool db_group_commits(const lsm_db *db);
/* Brackets a write in sync mode, so group commit knows how many writers
 * may join a group. No-ops without the sync option. */
void db_writer_enter(lsm_db *db);
void db_writer_leave(lsm_db *db);
/* Returns once the write with sequence number seq is durable, or the error
 * of the fsync that should have made it so. Caller holds no lock. */
int db_wait_durable(lsm_db *db, uint64_t seq);
/* The newest sequence number known durable (group commit). */
uint64_t db_durable_seq(lsm_db *db);
/* fsyncs the mutable memtable's log before a freeze, taking its turn with
 * group commit's syncers; fails at once if a WAL fsync failed before.
 * Caller holds write_mu. */
int db_sync_wal_for_freeze(lsm_db *db);
/* Replaces the mutable memtable's log with fresh (NULL when the WAL is off)
 * after the caller synced the old one; caller holds write_mu. */
void db_retire_wal(lsm_db *db, wal *fresh);

/* Takes a reference to the current version, holding state_mu only for
 * that (db.c). */
version *db_ref_current(lsm_db *db);
/* The read point and version of a read at "now": visible_seq and the
 * current version, taken in one state_mu hold. Taking them apart would let
 * a flush published in between drop a version the read point needs (a
 * memtable holding k@old and k@new, with new > the read point, flushed as
 * k@new alone): a version published before the hold holds only seqs at
 * or below visible_seq (a frozen memtable's writes are all visible), one
 * published after is not ours (db.c). */
version *db_ref_current_and_seq(lsm_db *db, uint64_t *visible);

/* --- iterator pins and SSTs kept for readers (db_pins.c) --- */

/* Records a source scan_sources opened (sets pins->oom on failure). */
void db_pins_add_memtable(iter_pins *p, uint64_t memtable_id);
void db_pins_add_sst(iter_pins *p, uint64_t sst_id, int level,
                     uint64_t tier_id);
void db_pins_free(iter_pins *p);
/* Sends LSM_EVENT_SST_DELETED for n ids (sorted here, ascending); nothing
 * for n == 0. */
void db_report_sst_deleted(lsm_db *db, uint64_t *ids, size_t n,
                           const char *reason);
/* A compaction's inputs, no longer in the tree, after the compaction's own
 * readers let go: takes over one reference on each of the n SSTs; deletes
 * those nobody else holds ("compacted away") and keeps the rest for their
 * readers. Caller holds no lock but compact_mu. */
void db_pins_retire(lsm_db *db, sst **ssts, size_t n);
/* Deletes the kept SSTs whose last reader let go ("last reader closed").
 * Caller holds no lock (or only write_mu / compact_mu). */
void db_pins_sweep(lsm_db *db);
/* version_unref for a reader (get, scan): if that was the last reference
 * and SSTs are kept, they may now be free: sweep. */
void db_pins_release_version(lsm_db *db, version *v);
/* lsm_state_get's part: each open iterator's pins and the kept SSTs, under
 * state_mu; then, without it, which pins v (the state's version) still
 * names. */
int db_pins_fill_iter_locked(const lsm_iter *it, lsm_iter_info *out);
int db_pins_fill_kept_locked(lsm_db *db, lsm_state *st);
int db_pins_mark_in_tree(const version *v, lsm_state *st);
/* At close, with no iterator open and no thread left: every kept SST goes. */
void db_pins_close(lsm_db *db);
/* "3 iterator(s) still open (ids 1, 4, 5)" into buf, under state_mu. */
void db_pins_describe_open_locked(lsm_db *db, char *buf, size_t n);

/* Creates the directory if missing (fsyncing its parent), binds db->env
 * to it and locks it; read only, only binds to the existing directory
 * (db_dir.c). */
int db_dir_open(lsm_db *db);
/* Releases the lock and the bound env; NULL-safe fields (db_dir.c). */
void db_dir_close(lsm_db *db);

/* lsm_open with a chosen env: tests pass one that injects faults or
 * simulates a power cut. lsm_open is db_open_env(dir, opt, env_posix(), out).
 * The env must outlive the handle (db_open.c). */
int db_open_env(const char *dir, const lsm_options *opt, env *e, lsm_db **out);

/* Returns the latched background error (recording its message on this
 * thread), or LSM_OK (db.c). */
int db_check_bg_error(lsm_db *db);

/* --- read points and the watermark (db_snap.c) --- */

/* Gives s (zeroed by the caller but for is_txn and isolation) its id and
 * the read point visible now, and links it in db's list. Never fails. */
void db_snap_register(lsm_db *db, lsm_snapshot *s);
/* Unlinks s from its db's list. */
void db_snap_unregister(lsm_snapshot *s);
/* The oldest live read point's seq, or visible_seq when that is lower
 * (with no read point: visible_seq, so a read point taken later is never
 * below it). A flush or compaction reads it once, before it reads its
 * inputs: read points taken later are at or above it. */
uint64_t db_watermark(lsm_db *db);
/* lsm_state_get's part: visible_seq, the read points and the watermark. */
int db_snap_fill_state(lsm_db *db, lsm_state *st);
/* Copies n range tombstones into one allocation *out (keys after the
 * array; NULL when n is 0) for lsm_state and lsm_sst_report, which free
 * it with one free. LSM_ENOMEM. */
int db_copy_range_tombs(const range_tomb *t, size_t n,
                        lsm_range_tombstone **out, size_t *nout);
/* At close: LSM_OK when no snapshot or transaction is live, else
 * LSM_EBUSY with a message naming them. */
int db_snap_check_none_open(lsm_db *db);

/* lsm_scan_at with one more source, newest, merged in: newest (NULL for
 * none; taken over, destroyed on failure) must hand out entries with seqs
 * at most the read point, or the scan hides them (db_iter.c). */
int db_iter_scan_with(lsm_db *db, const lsm_snapshot *snap, const lsm_bound *lo,
                      const lsm_bound *hi, iter *newest, lsm_iter **out);
/* The bounds of the keys starting with prefix: [prefix, successor), or
 * [prefix, unbounded) for a prefix of 0xff bytes alone. hi's key is
 * malloc'd in *owned (NULL when none), which the caller frees. LSM_EINVAL
 * (an empty, NULL or over-long prefix), LSM_ENOMEM. */
int db_prefix_bounds(const void *prefix, size_t nprefix, lsm_bound *lo,
                     lsm_bound *hi, uint8_t **owned);
/* As db_iter_scan_with, for the keys starting with prefix (lsm_scan_prefix,
 * with its prefix filters). newest is taken over. */
int db_iter_scan_prefix_with(lsm_db *db, const lsm_snapshot *snap,
                             const void *prefix, size_t nprefix, iter *newest,
                             lsm_iter **out);

/* A found entry as a get's answer: LSM_NOTFOUND for a tombstone, else a
 * malloc'd, NUL-terminated copy of the value in *value (db_iter.c). */
int db_get_result(const entry *e, void **value, size_t *nvalue);

/* The read point and version of a public read: snap's seq (LSM_EINVAL
 * when snap belongs to another handle; *v is then NULL) and the current
 * version, or for snap NULL db_ref_current_and_seq's pair. The caller
 * releases *v (db_pins_release_version). A snapshot's versions are kept
 * by the watermark, so any version taken after it serves it. */
int db_read_begin(lsm_db *db, const lsm_snapshot *snap, uint64_t *seq,
                  version **v);

/* --- per-level stats (db_level_stats.c) --- */

/* One flush's or compaction's change to the per-level stats, prepared
 * (allocating) before it publishes, then applied under state_mu without
 * any allocation, so counting can never fail a publish half-way. */
typedef struct db_stats_update {
    int level;        /* the level written, 0 = L0; -1: a new tier */
    uint64_t tier_id; /* the new tier's id (level -1) */
    bool is_compaction;
    uint64_t bytes_read_upper, bytes_read_lower, bytes_written;
    char *reason;         /* compaction: malloc'd copy of its reason */
    db_tier_counts *node; /* a new tier's entry, allocated */
    const uint64_t *gone; /* tiers merged away (borrowed from the task) */
    size_t n_gone;
} db_stats_update;

/* A flush of bytes into L0, or into the new tier tier_id. LSM_ENOMEM. */
int db_stats_for_flush(lsm_db *db, uint64_t tier_id, uint64_t bytes,
                       db_stats_update *u);
/* A compaction of task, which read its inputs from v and wrote `written`
 * bytes into n_outputs SSTs, the first of them output0 (the new tier's id).
 * LSM_ENOMEM. */
int db_stats_for_compaction(const version *v, const lsm_compaction_task *task,
                            size_t n_outputs, uint64_t output0,
                            uint64_t written, db_stats_update *u);
/* Applies u; caller holds state_mu. Takes what u owns. */
void db_stats_apply_locked(lsm_db *db, db_stats_update *u);
/* Frees what u still owns (an update never applied). NULL-safe. */
void db_stats_update_free(db_stats_update *u);
/* Frees every count; at close. */
void db_level_stats_free(lsm_db *db);

/* The counts copied under state_mu (db_level_stats_take_locked), for
 * lsm_state_get to fill its rows from once the lock is released. */
typedef struct db_stats_snapshot {
    db_level_counts levels[LSM_MAX_LEVELS + 1];
    size_t n_tiers;
    db_tier_counts *tiers; /* array (next unused) */
} db_stats_snapshot;
/* Caller holds state_mu. LSM_ENOMEM (snap is then empty). */
int db_level_stats_take_locked(lsm_db *db, db_stats_snapshot *snap);
void db_stats_snapshot_free(db_stats_snapshot *snap); /* empty one too */
/* Fills st's l0_stats and every level's stats from snap and v (the
 * version st was filled from): targets and scores, then the counts, whose
 * reasons move into st. Frees snap. LSM_ENOMEM. */
int db_level_stats_fill(lsm_db *db, db_stats_snapshot *snap, const version *v,
                        lsm_state *st);
/* Frees the reasons lsm_state_get put into st. */
void db_level_stats_state_free(lsm_state *st);

#endif
