/*
 * db_int.h: the database handle, shared by db.c (open, close, writes,
 * flush, compaction), db_iter.c (reads, scans) and db_state.c (snapshots).
 *
 * Locks, always taken in this order (never the reverse):
 *
 *   write_mu    serializes writers: only its holder adds to the mutable
 *               memtable or freezes it. Held across an inline flush, which
 *               is what makes inline mode deterministic.
 *   work_mu     serializes structural jobs: one flush or compaction at a
 *               time, so the oldest immutable memtable is flushed first and
 *               a compaction sees an L0 that only it changes. Held during
 *               SST I/O.
 *   manifest_mu serializes manifest appends (freeze appends under write_mu,
 *               flush and compaction under work_mu).
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

#include "block_cache_int.h"
#include "counters_int.h"
#include "env_int.h"
#include "manifest_int.h"
#include "version_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define DB_BG_MESSAGE_BYTES 512

struct lsm_db {
    /* Set by open, read-only afterwards. */
    char *dir;
    env *env;
    lsm_options opt;
    size_t n_levels;
    block_cache *cache;
    env_file *lock_file;
    counters ctrs; /* atomic */

    pthread_mutex_t write_mu;
    uint64_t last_seq; /* [write_mu] newest sequence number handed out */
    /* Newest sequence number whose write is complete; a scan reads it
     * before taking its version and ignores anything newer. Stored by the
     * writer (release) after memtable_put, loaded by readers (acquire). */
    _Atomic uint64_t visible_seq;

    pthread_mutex_t work_mu;

    pthread_mutex_t manifest_mu;
    manifest *manifest; /* [manifest_mu] */

    pthread_mutex_t state_mu;
    pthread_cond_t state_cv; /* signalled on freeze, flush, stop */
    version *current;        /* [state] the published version */
    uint64_t next_id;        /* [state] next memtable or SST id */
    int bg_error;            /* [state] latched failure of background work */
    char bg_message[DB_BG_MESSAGE_BYTES]; /* [state] its lsm_errmsg() */
    lsm_iter *iters;                      /* [state] open iterators */
    size_t n_iters;                       /* [state] */
    uint64_t next_iter_id;                /* [state] */
    bool stopping;                        /* [state] close has begun */
    bool flush_thread_started;            /* set by open, read by close */
    pthread_t flush_thread;
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
};

/* Takes a reference to the current version (db_iter.c, db_state.c). */
version *db_ref_current(lsm_db *db);

/* LSM_OK for a key of 1 to LSM_MAX_KEY_BYTES bytes; otherwise LSM_EINVAL
 * with a message saying what keys may be. */
int db_check_key(const void *key, size_t nkey);

/* Returns the latched background error (recording its message on this
 * thread), or LSM_OK. */
int db_check_bg_error(lsm_db *db);

#endif
