/*
 * db_int.h: the database handle and what the engine's files share: db.c
 * (shared helpers), db_write.c (writes), db_flush.c (freeze, flush),
 * db_open.c (open, recovery, close), db_compact.c (compaction runner),
 * db_iter.c (gets, scans), db_state.c (state snapshot, manifest reading) and
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
 *
 * Readers (get, scan, state) take state_mu just long enough to reference the
 * current version, then read without any lock.
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

struct lsm_db {
    /* Set by open, read-only afterwards. */
    char *dir;
    env *env;
    lsm_options opt;
    size_t n_levels;
    bool current_is_tiered; /* compaction TIERED: flushes make tiers */
    block_cache *cache;
    env_file *lock_file;
    counters ctrs; /* atomic */

    pthread_mutex_t write_mu;
    /* The mutable memtable's log; NULL if off. Appended to under write_mu,
     * synced for writers under sync_mu, replaced only under both. */
    wal *wal;
    lsm_batch one;     /* [write_mu] scratch for lsm_put / lsm_delete */
    uint64_t last_seq; /* [write_mu] newest sequence number handed out */
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
    lsm_iter *iters;                      /* [state] open iterators */
    size_t n_iters;                       /* [state] */
    uint64_t next_iter_id;                /* [state] */
    bool stopping;                        /* [state] close has begun */
    bool flush_thread_started;            /* set by open, read by close */
    pthread_t flush_thread;
    bool compaction_thread_started;
    pthread_t compaction_thread;
    /* [state] Tests only (NULL otherwise): called by the compaction thread,
     * with no lock held, each time it found nothing to do and is about to
     * sleep, so a test can change the tree at exactly that moment. */
    void (*compaction_idle_hook)(lsm_db *db, void *ctx);
    void *compaction_idle_ctx; /* [state] */
};

/* The user-facing iterator (db_iter.c). Linked into db->iters. */
struct lsm_iter {
    lsm_db *db;
    version *v;               /* referenced for the iterator's life */
    uint64_t read_seq;        /* entries newer than this are invisible */
    iter *inner;              /* merged sources, all versions */
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
int db_wal_path(const lsm_db *db, uint64_t memtable_id, char *buf);
/* Deletes a flushed (or empty) memtable's WAL; failures are ignored
 * (db_flush.c). */
void db_remove_wal(lsm_db *db, uint64_t memtable_id);
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
/* Appends and fsyncs a manifest record under manifest_mu. */
int db_manifest_append(lsm_db *db, const manifest_record *rec);
/* Freezes the mutable memtable and flushes every immutable one
 * (db_flush.c). */
int db_flush_all(lsm_db *db);
/* Makes the mutable memtable the newest immutable one (an empty one is
 * left alone); caller holds write_mu (db_flush.c). */
int db_freeze_locked(lsm_db *db);
/* Work owed after a freeze: inline mode flushes now (db_flush.c). */
void db_after_freeze(lsm_db *db);
/* Latches rc and forbids any further change to the tree (halted). */
void db_halt(lsm_db *db, int rc);
/* Inline mode: flush until the memtable limit holds. Caller holds
 * write_mu (db_flush.c). */
int db_flush_while_over_limit(lsm_db *db);
/* The first checks of a public call that changes the tree. */
int db_begin_change(lsm_db *db);
/* The flush thread of threads mode (db_flush.c). */
void *db_flush_thread_main(void *arg);
/* Inline mode: runs the strategy's compactions until none is due
 * (db_compact.c). */
int db_compact_until_settled(lsm_db *db);
/* The compaction thread of threads mode (db_compact.c). */
void *db_compaction_thread_main(void *arg);

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

/* lsm_open with a chosen env: tests pass one that injects faults or
 * simulates a power cut. lsm_open is db_open_env(dir, opt, env_posix(), out).
 * The env must outlive the handle (db_open.c). */
int db_open_env(const char *dir, const lsm_options *opt, env *e, lsm_db **out);

/* Returns the latched background error (recording its message on this
 * thread), or LSM_OK (db.c). */
int db_check_bg_error(lsm_db *db);

#endif
