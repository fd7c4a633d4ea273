/*
 * bench_engine.h: the storage-engine interface lsm-bench drives.
 *
 * lsm-bench's workloads (lsm_bench.c) are written against this table of
 * function pointers only, so the same workloads, keys, values and checks run
 * on every engine. One file per engine fills a bench_engine:
 *   bench_engine_lsm.c      this project's engine (always built)
 *   bench_engine_leveldb.c  LevelDB's C API   (built with BENCH_HAVE_LEVELDB)
 *   bench_engine_rocksdb.c  RocksDB's C API   (built with BENCH_HAVE_ROCKSDB)
 * Each translates the engine-neutral bench_settings into its own options,
 * so the comparison is made with identical settings (tests/bench/README.md
 * has the table).
 *
 * Conventions:
 *   - Every call that can fail returns BENCH_OK, BENCH_ERROR (and get may
 *     return BENCH_NOTFOUND, txn_commit BENCH_CONFLICT). On BENCH_ERROR the
 * engine has written a message into the caller's bench_err; the bench dies with
 * it.
 *   - Keys and values are byte strings passed by pointer and length; the
 *     engine copies what it keeps.
 *   - Pointers marked optional may be NULL: the engine has no such call.
 *
 * Thread safety: open, close, destroy and check_settings are called by one
 * thread with no other call in flight. Once open, put, del, get, write_batch
 * and iter_new may be called from many threads at once on the same bench_db
 * (all three engines allow it); one bench_iter (and one bench_txn) is used
 * by one thread. Each thread passes its own bench_err.
 */
#ifndef BENCH_ENGINE_H
#define BENCH_ENGINE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { BENCH_OK = 0, BENCH_NOTFOUND = 1, BENCH_CONFLICT = 2, BENCH_ERROR = -1 };

/* The message of a failed call. Owned by the caller (usually on its stack),
 * so threads never share one. */
typedef struct bench_err {
    char msg[512];
} bench_err;

#if defined(__GNUC__)
#define BENCH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define BENCH_PRINTF(f, a)
#endif

/* Records a formatted message in err and returns BENCH_ERROR, so an engine
 * can write `return bench_err_set(err, "...", ...);`. */
static inline BENCH_PRINTF(2, 3) int bench_err_set(bench_err *err,
                                                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return BENCH_ERROR;
}

/* The settings every engine is opened with. The numeric ones hold lsm's
 * defaults unless a flag changed them (bench_settings_defaults), and each
 * engine maps them onto its nearest options. The *_given fields say which
 * engine-specific flags the user gave, so an engine that cannot honour one
 * refuses it (check_settings) instead of silently ignoring it. */
typedef struct bench_settings {
    const char *db_path;
    size_t target_sst_size;   /* memtable / write buffer and SST size */
    size_t block_size;        /* data block size */
    size_t block_cache_bytes; /* LRU block cache capacity; 0: none */
    size_t num_memtable_limit;
    unsigned bloom_bits_per_key;
    /* lsm only: compaction strategy name (none|simple|tiered|leveled) or
     * NULL for lsm's default, and background threads on (1) or off (0). */
    const char *compaction;
    int threads_mode;
    /* lsm only: read SSTs through mmap (lsm_options.mmap_reads), 1 or 0. */
    int mmap_reads;
    /* lsm only: lsm_options.leveled_pick by its name (oldest|min-overlap),
     * or NULL for the bench's choice, min-overlap (RocksDB's default
     * picking; bench_engine_lsm.c says why). */
    const char *leveled_pick;
    /* lsm only: lsm_options.level_sizes by its name (dynamic|static), or
     * NULL for the bench's choice, static (LevelDB's). */
    const char *level_sizes;
    /* lsm only: memtable bloom filters (lsm_options.memtable_bloom), 1 or
     * 0. */
    int memtable_bloom;
    /* lsm and rocksdb: keep SST index and filter blocks in the block cache
     * (lsm_options.cache_index_and_filter_blocks, RocksDB's option of the
     * same name), 1 or 0. */
    int cache_index_and_filter_blocks;
    /* lsm and rocksdb: a fixed-length prefix extractor of this many bytes
     * (lsm_options.prefix_len; RocksDB's fixed prefix slice transform),
     * so SSTs keep prefix filters for the prefix scans (scanprefix); 0:
     * none. leveldb has no extractor: its prefix scans are range scans. */
    unsigned prefix_len;
    /* Open for the txn_* calls: set by lsm-bench around its transaction
     * workloads only (rocksdb then opens an OptimisticTransactionDB, whose
     * base database serves the plain calls; lsm needs nothing). */
    int transactions;
    /* Block compression by name: none, lz4, zstd (lsm and rocksdb) or
     * snappy (leveldb and rocksdb); NULL: none. compression_level is
     * zstd's (lsm and rocksdb; 0: the library's default). An engine
     * refuses a name it has not. */
    const char *compression;
    int compression_level;
    int num_memtable_limit_given;
    int compaction_given;
    int threads_mode_given;
    int mmap_reads_given;
    int leveled_pick_given;
    int level_sizes_given;
    int memtable_bloom_given;
    int cache_index_and_filter_blocks_given;
} bench_settings;

/* Bytes an engine counts itself (optional): key + value bytes written by the
 * user, and table (SST) bytes written by flushes and compactions. */
typedef struct bench_write_counters {
    uint64_t user_bytes;
    uint64_t table_bytes;
} bench_write_counters;

typedef struct bench_db bench_db;     /* an open database, per engine */
typedef struct bench_iter bench_iter; /* an iterator over one bench_db */
typedef struct bench_txn bench_txn;   /* a transaction of one bench_db */

/* Hands write_batch the i-th put of a batch (0 <= i < n_puts, called in
 * order). *key and *value stay valid until the next call. */
typedef void (*bench_batch_fill_fn)(void *ctx, size_t i, const void **key,
                                    size_t *nkey, const void **value,
                                    size_t *nvalue);

typedef struct bench_engine {
    const char *name; /* "lsm", "leveldb", "rocksdb": the --engine value */
    /* The file every database directory of this engine holds, checked
     * before a directory is deleted or opened without a fill. */
    const char *db_marker;

    /* Writes "name version" into buf (n bytes, always terminated). */
    void (*version)(char *buf, size_t n);
    /* Writes the engine's own options derived from s into buf, for the
     * header of a run. */
    void (*describe)(const bench_settings *s, char *buf, size_t n);
    /* Refuses settings this engine cannot honour, before anything runs. */
    int (*check_settings)(const bench_settings *s, bench_err *err);

    /* Opens (creating it if missing) the database in s->db_path; sync makes
     * every write wait for its log to reach stable storage. The caller
     * closes *out with close. */
    int (*open)(const bench_settings *s, int sync, bench_db **out,
                bench_err *err);
    /* Optional: writes the memtables to tables before a close, so table
     * bytes and the size on disk cover everything written. */
    int (*flush)(bench_db *db, bench_err *err);
    /* Optional: the engine's counters since this open. */
    int (*write_counters)(bench_db *db, bench_write_counters *out,
                          bench_err *err);
    /* Closes and frees db (always freed, even on error). */
    int (*close)(bench_db *db, bench_err *err);
    /* Deletes the engine's files in s->db_path and the directory if that
     * leaves it empty. Called only on a directory the bench has checked
     * holds db_marker, with no database open. */
    int (*destroy)(const bench_settings *s, bench_err *err);

    int (*put)(bench_db *db, const void *key, size_t nkey, const void *value,
               size_t nvalue, bench_err *err);
    int (*del)(bench_db *db, const void *key, size_t nkey, bench_err *err);
    /* Optional: deletes every key k with lo <= k < hi with the engine's own
     * range delete (NULL: the engine has none, and lsm-bench deletes the
     * keys one by one, as an application would: LevelDB). */
    int (*del_range)(bench_db *db, const void *lo, size_t nlo, const void *hi,
                     size_t nhi, bench_err *err);
    /* BENCH_OK with the value's length in *nvalue, or BENCH_NOTFOUND. The
     * value is read (copied out, as each engine's get does) and dropped. */
    int (*get)(bench_db *db, const void *key, size_t nkey, size_t *nvalue,
               bench_err *err);
    /* Writes n_puts puts, asked one by one from fill, as one atomic batch. */
    int (*write_batch)(bench_db *db, size_t n_puts, bench_batch_fill_fn fill,
                       void *ctx, bench_err *err);

    /* A new iterator, not yet positioned (valid is 0 until a seek); the
     * caller frees it with iter_close before closing db. */
    int (*iter_new)(bench_db *db, bench_iter **out, bench_err *err);
    int (*iter_seek_to_first)(bench_iter *it, bench_err *err);
    /* Positions on the first key >= key. */
    int (*iter_seek)(bench_iter *it, const void *key, size_t nkey,
                     bench_err *err);
    int (*iter_valid)(const bench_iter *it);
    int (*iter_next)(bench_iter *it, bench_err *err);
    /* The current entry, while valid: pointers valid until the next seek,
     * next or close of it. */
    const void *(*iter_key)(const bench_iter *it, size_t *nkey);
    const void *(*iter_value)(const bench_iter *it, size_t *nvalue);
    void (*iter_close)(bench_iter *it); /* NULL-safe */
    /* Optional: positions it on the first key that starts with prefix, for
     * an iteration over the keys with that prefix (lsm: lsm_scan_prefix;
     * rocksdb: a seek with prefix_same_as_start, which uses its prefix
     * filters). Keys past the prefix may still follow: the caller stops
     * at the first one. NULL: the bench seeks to prefix with iter_seek. */
    int (*iter_seek_prefix)(bench_iter *it, const void *prefix, size_t n,
                            bench_err *err);

    /* Optional, all four or none: optimistic transactions, on a database
     * opened with s->transactions set (NULL: the engine has none, and the
     * transaction workloads print n/a). txn_begin starts one reading a
     * snapshot taken then; at commit it conflicts if a key it wrote was
     * written since, and with serializable also a key it read (snapshot
     * isolation otherwise). txn_get and txn_put work as get and put inside
     * it (the value read is dropped; writes are buffered until commit).
     * txn_commit commits and frees t: BENCH_OK, BENCH_CONFLICT (nothing
     * was written) or BENCH_ERROR. */
    int (*txn_begin)(bench_db *db, int serializable, bench_txn **out,
                     bench_err *err);
    int (*txn_get)(bench_txn *t, const void *key, size_t nkey, size_t *nvalue,
                   bench_err *err);
    int (*txn_put)(bench_txn *t, const void *key, size_t nkey,
                   const void *value, size_t nvalue, bench_err *err);
    int (*txn_commit)(bench_txn *t, bench_err *err);
} bench_engine;

/* Fills s with the reference settings: lsm's defaults (lsm_options_init),
 * which every engine is configured to match. Defined in
 * bench_engine_lsm.c. */
void bench_settings_defaults(bench_settings *s);

extern const bench_engine bench_engine_lsm;
#ifdef BENCH_HAVE_LEVELDB
extern const bench_engine bench_engine_leveldb;
#endif
#ifdef BENCH_HAVE_ROCKSDB
extern const bench_engine bench_engine_rocksdb;
#endif

#endif /* BENCH_ENGINE_H */
