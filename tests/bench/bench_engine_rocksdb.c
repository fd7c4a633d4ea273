/*
 * bench_engine_rocksdb.c: lsm-bench's adapter for RocksDB, through its C API
 * (rocksdb/c.h, Debian's librocksdb-dev). Built only when meson finds the
 * library (BENCH_HAVE_ROCKSDB).
 *
 * The bench's settings become RocksDB options (tests/bench/README.md has
 * the table): write_buffer_size and target_file_size_base =
 * target_sst_size, max_write_buffer_number = num_memtable_limit, and
 * block-based table options with block_size, an LRU block cache of
 * block_cache_bytes (0: no block cache) and a 10-bit bloom filter; no
 * compression; everything else RocksDB's defaults. RocksDB always writes its
 * WAL; sync is a write option, set only for the opens that ask for it.
 *
 * The C API has no version call: the version printed is the one pkg-config
 * reported when the build was configured (BENCH_ROCKSDB_VERSION), if any.
 * Its byte counters need statistics turned on, which costs time on every
 * operation, so write_counters is NULL and the bench's /proc figure serves.
 *
 * Transactions are RocksDB's optimistic ones: with s->transactions the
 * database opens as an OptimisticTransactionDB and the plain calls go to
 * its base database. A transaction takes its snapshot at begin
 * (set_snapshot), so its commit validates its writes against it (snapshot
 * isolation); a serializable one reads with GetForUpdate, which adds the
 * keys read to the validated set. A conflict is Status::Busy (or TryAgain
 * when the memtables no longer reach back to the snapshot), which the C API
 * reports only as its message.
 *
 * Ownership: RocksDB copies the options at open and takes the filter policy
 * (the table options own it); a bench_db keeps the cache handle, table
 * options and read/write/flush options until its close.
 *
 * Thread safety: a rocksdb_t may be used from many threads at once; the
 * read and write options are only read after open, so threads share them.
 */
#include "bench_engine.h"

#include <rocksdb/c.h>
#include <stdlib.h>
#include <string.h>

struct bench_db {
    rocksdb_t *db; /* the base database when otxn is set */
    rocksdb_optimistictransactiondb_t *otxn; /* NULL: opened plain */
    rocksdb_optimistictransaction_options_t *otxn_options;
    rocksdb_options_t *options;
    rocksdb_block_based_table_options_t *table;
    rocksdb_cache_t *cache; /* NULL: no block cache */
    rocksdb_readoptions_t *read;
    rocksdb_readoptions_t *read_prefix; /* prefix_same_as_start */
    rocksdb_writeoptions_t *write;
    rocksdb_flushoptions_t *flush;
};

struct bench_iter {
    bench_db *db;
    rocksdb_iterator_t *it;
};

struct bench_txn {
    bench_db *db;
    rocksdb_transaction_t *t;
    int serializable;
};

/* Moves RocksDB's malloc'd message into err and frees it. */
static int bench_rocksdb_fail(bench_err *err, char *msg, const char *what)
{
    bench_err_set(err, "%s: %s", what, msg ? msg : "unknown error");
    rocksdb_free(msg);
    return BENCH_ERROR;
}

static void bench_rocksdb_version(char *buf, size_t n)
{
#ifdef BENCH_ROCKSDB_VERSION
    snprintf(buf, n, "rocksdb %s (pkg-config at build time)",
             BENCH_ROCKSDB_VERSION);
#else
    snprintf(buf, n, "rocksdb");
#endif
}

static void bench_rocksdb_describe(const bench_settings *s, char *buf, size_t n)
{
    snprintf(buf, n,
             "write_buffer_size %zu, target_file_size_base %zu, "
             "max_write_buffer_number %zu, block_size %zu, LRU block cache "
             "%zu, bloom %u bits/key, cache_index_and_filter_blocks %s, "
             "fixed prefix extractor %u (0: none), %s compression, WAL always "
             "on, leveled compaction (RocksDB's own)",
             s->target_sst_size, s->target_sst_size, s->num_memtable_limit,
             s->block_size, s->block_cache_bytes, s->bloom_bits_per_key,
             s->cache_index_and_filter_blocks ? "on" : "off", s->prefix_len,
             s->compression && strcmp(s->compression, "none") != 0
                 ? s->compression
                 : "no");
}

/* RocksDB's compaction and background threads are its own; its memtable
 * count maps onto max_write_buffer_number, which RocksDB raises to 2. */
/* --compression by name as RocksDB's type; -1 for a name it has not. */
static int bench_rocksdb_compression(const bench_settings *s)
{
    static const struct {
        const char *name;
        int type;
    } kinds[] = {{"none", rocksdb_no_compression},
                 {"snappy", rocksdb_snappy_compression},
                 {"lz4", rocksdb_lz4_compression},
                 {"zstd", rocksdb_zstd_compression}};
    if (s->compression == NULL)
        return rocksdb_no_compression;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(s->compression, kinds[i].name) == 0)
            return kinds[i].type;
    return -1;
}

static int bench_rocksdb_check_settings(const bench_settings *s, bench_err *err)
{
    if (bench_rocksdb_compression(s) < 0)
        return bench_err_set(err,
                             "--compression: none, snappy, lz4 or "
                             "zstd: %s",
                             s->compression);
    if (s->compaction_given)
        return bench_err_set(err, "--compaction applies to --engine lsm "
                                  "only (rocksdb has its own leveled "
                                  "compaction)");
    if (s->threads_mode_given)
        return bench_err_set(err, "--threads_mode applies to --engine lsm "
                                  "only (rocksdb always flushes and compacts "
                                  "in background threads)");
    if (s->mmap_reads_given)
        return bench_err_set(err, "--mmap_reads applies to --engine lsm "
                                  "only (rocksdb reads its tables with "
                                  "pread by default)");
    if (s->leveled_pick_given)
        return bench_err_set(err, "--leveled_pick applies to --engine lsm "
                                  "only (rocksdb picks by min overlapping "
                                  "ratio by default)");
    if (s->level_sizes_given)
        return bench_err_set(err, "--level_sizes applies to --engine lsm "
                                  "only");
    if (s->memtable_bloom_given)
        return bench_err_set(err, "--memtable_bloom applies to --engine lsm "
                                  "only (rocksdb's memtable filter, "
                                  "memtable_prefix_bloom_size_ratio, stays "
                                  "off, its default)");
    if (s->num_memtable_limit < 2 || s->num_memtable_limit > 1000)
        return bench_err_set(err,
                             "--num_memtable_limit %zu: rocksdb's "
                             "max_write_buffer_number must be 2 to 1000",
                             s->num_memtable_limit);
    return BENCH_OK;
}

/* Frees everything of db but the rocksdb_t, which the caller has closed. */
static void bench_rocksdb_free(bench_db *db)
{
    if (db->otxn_options != NULL)
        rocksdb_optimistictransaction_options_destroy(db->otxn_options);
    if (db->flush != NULL)
        rocksdb_flushoptions_destroy(db->flush);
    if (db->write != NULL)
        rocksdb_writeoptions_destroy(db->write);
    if (db->read != NULL)
        rocksdb_readoptions_destroy(db->read);
    if (db->read_prefix != NULL)
        rocksdb_readoptions_destroy(db->read_prefix);
    if (db->options != NULL)
        rocksdb_options_destroy(db->options);
    if (db->table != NULL)
        rocksdb_block_based_options_destroy(db->table);
    if (db->cache != NULL)
        rocksdb_cache_destroy(db->cache);
    free(db);
}

/* The block-based table options: block size, cache, bloom filter. */
static void bench_rocksdb_table_options(bench_db *db, const bench_settings *s)
{
    db->table = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_size(db->table, s->block_size);
    if (s->block_cache_bytes > 0) {
        db->cache = rocksdb_cache_create_lru(s->block_cache_bytes);
        rocksdb_block_based_options_set_block_cache(db->table, db->cache);
    } else {
        rocksdb_block_based_options_set_no_block_cache(db->table, 1);
    }
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(
        db->table, (unsigned char)s->cache_index_and_filter_blocks);
    if (s->bloom_bits_per_key > 0) /* the table options own the policy */
        rocksdb_block_based_options_set_filter_policy(
            db->table,
            rocksdb_filterpolicy_create_bloom((double)s->bloom_bits_per_key));
}

static int bench_rocksdb_open(const bench_settings *s, int sync, bench_db **out,
                              bench_err *err)
{
    bench_db *db = calloc(1, sizeof *db);
    char *msg = NULL;
    *out = NULL;
    if (db == NULL)
        return bench_err_set(err, "out of memory");
    bench_rocksdb_table_options(db, s);
    db->options = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(db->options, 1);
    rocksdb_options_set_compression(db->options, bench_rocksdb_compression(s));
    /* window_bits and strategy: RocksDB's defaults (-14, 0); max_dict_bytes
     * 0: no dictionary. Only the level is the bench's. */
    if (s->compression_level != 0)
        rocksdb_options_set_compression_options(db->options, -14,
                                                s->compression_level, 0, 0);
    rocksdb_options_set_write_buffer_size(db->options, s->target_sst_size);
    rocksdb_options_set_target_file_size_base(db->options, s->target_sst_size);
    rocksdb_options_set_max_write_buffer_number(db->options,
                                                (int)s->num_memtable_limit);
    rocksdb_options_set_block_based_table_factory(db->options, db->table);
    if (s->prefix_len > 0) /* the options own the transform */
        rocksdb_options_set_prefix_extractor(
            db->options,
            rocksdb_slicetransform_create_fixed_prefix((size_t)s->prefix_len));
    db->read = rocksdb_readoptions_create();
    db->read_prefix = rocksdb_readoptions_create();
    rocksdb_readoptions_set_prefix_same_as_start(db->read_prefix, 1);
    db->write = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(db->write, (unsigned char)(sync ? 1 : 0));
    db->flush = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(db->flush, 1);
    if (s->transactions) {
        db->otxn_options = rocksdb_optimistictransaction_options_create();
        rocksdb_optimistictransaction_options_set_set_snapshot(db->otxn_options,
                                                               1);
        db->otxn =
            rocksdb_optimistictransactiondb_open(db->options, s->db_path, &msg);
        if (msg == NULL)
            db->db = rocksdb_optimistictransactiondb_get_base_db(db->otxn);
    } else {
        db->db = rocksdb_open(db->options, s->db_path, &msg);
    }
    if (msg != NULL) {
        bench_rocksdb_free(db);
        return bench_rocksdb_fail(err, msg, s->db_path);
    }
    *out = db;
    return BENCH_OK;
}

static int bench_rocksdb_flush(bench_db *db, bench_err *err)
{
    char *msg = NULL;
    rocksdb_flush(db->db, db->flush, &msg);
    return msg == NULL ? BENCH_OK
                       : bench_rocksdb_fail(err, msg, "rocksdb_flush");
}

static int bench_rocksdb_close(bench_db *db, bench_err *err)
{
    if (db->otxn != NULL) {
        rocksdb_optimistictransactiondb_close_base_db(db->db);
        rocksdb_optimistictransactiondb_close(db->otxn);
    } else {
        rocksdb_close(db->db);
    }
    bench_rocksdb_free(db);
    return BENCH_OK;
}

static int bench_rocksdb_destroy(const bench_settings *s, bench_err *err)
{
    rocksdb_options_t *options = rocksdb_options_create();
    char *msg = NULL;
    rocksdb_destroy_db(options, s->db_path, &msg);
    rocksdb_options_destroy(options);
    return msg == NULL ? BENCH_OK
                       : bench_rocksdb_fail(err, msg, "rocksdb_destroy_db");
}

static int bench_rocksdb_put(bench_db *db, const void *key, size_t nkey,
                             const void *value, size_t nvalue, bench_err *err)
{
    char *msg = NULL;
    rocksdb_put(db->db, db->write, key, nkey, value, nvalue, &msg);
    return msg == NULL ? BENCH_OK : bench_rocksdb_fail(err, msg, "rocksdb_put");
}

static int bench_rocksdb_del(bench_db *db, const void *key, size_t nkey,
                             bench_err *err)
{
    char *msg = NULL;
    rocksdb_delete(db->db, db->write, key, nkey, &msg);
    return msg == NULL ? BENCH_OK
                       : bench_rocksdb_fail(err, msg, "rocksdb_delete");
}

/* RocksDB's DeleteRange through a one-entry write batch (the C API's
 * rocksdb_delete_range_cf wants a column family handle; this is the same
 * write). */
static int bench_rocksdb_del_range(bench_db *db, const void *lo, size_t nlo,
                                   const void *hi, size_t nhi, bench_err *err)
{
    char *msg = NULL;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    rocksdb_writebatch_delete_range(b, lo, nlo, hi, nhi);
    rocksdb_write(db->db, db->write, b, &msg);
    rocksdb_writebatch_destroy(b);
    return msg == NULL ? BENCH_OK
                       : bench_rocksdb_fail(err, msg, "rocksdb_delete_range");
}

static int bench_rocksdb_get(bench_db *db, const void *key, size_t nkey,
                             size_t *nvalue, bench_err *err)
{
    char *msg = NULL;
    char *value = rocksdb_get(db->db, db->read, key, nkey, nvalue, &msg);
    if (msg != NULL)
        return bench_rocksdb_fail(err, msg, "rocksdb_get");
    if (value == NULL)
        return BENCH_NOTFOUND;
    rocksdb_free(value);
    return BENCH_OK;
}

static int bench_rocksdb_write_batch(bench_db *db, size_t n_puts,
                                     bench_batch_fill_fn fill, void *ctx,
                                     bench_err *err)
{
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create();
    char *msg = NULL;
    for (size_t i = 0; i < n_puts; i++) {
        const void *key, *value;
        size_t nkey, nvalue;
        fill(ctx, i, &key, &nkey, &value, &nvalue);
        rocksdb_writebatch_put(batch, key, nkey, value, nvalue);
    }
    rocksdb_write(db->db, db->write, batch, &msg);
    rocksdb_writebatch_destroy(batch);
    return msg == NULL ? BENCH_OK
                       : bench_rocksdb_fail(err, msg, "rocksdb_write");
}

static int bench_rocksdb_iter_new(bench_db *db, bench_iter **out,
                                  bench_err *err)
{
    bench_iter *it = malloc(sizeof *it);
    *out = NULL;
    if (it == NULL)
        return bench_err_set(err, "out of memory");
    it->db = db;
    it->it = rocksdb_create_iterator(db->db, db->read);
    *out = it;
    return BENCH_OK;
}

/* An iterator that stops being valid may have stopped on an error. */
static int bench_rocksdb_iter_status(bench_iter *it, const char *what,
                                     bench_err *err)
{
    char *msg = NULL;
    if (rocksdb_iter_valid(it->it))
        return BENCH_OK;
    rocksdb_iter_get_error(it->it, &msg);
    return msg == NULL ? BENCH_OK : bench_rocksdb_fail(err, msg, what);
}

static int bench_rocksdb_iter_seek_to_first(bench_iter *it, bench_err *err)
{
    rocksdb_iter_seek_to_first(it->it);
    return bench_rocksdb_iter_status(it, "rocksdb_iter_seek_to_first", err);
}

static int bench_rocksdb_iter_seek(bench_iter *it, const void *key, size_t nkey,
                                   bench_err *err)
{
    rocksdb_iter_seek(it->it, key, nkey);
    return bench_rocksdb_iter_status(it, "rocksdb_iter_seek", err);
}

/* A new iterator reading with prefix_same_as_start (so RocksDB consults
 * its prefix filters, with an extractor), sought to prefix. */
static int bench_rocksdb_iter_seek_prefix(bench_iter *it, const void *prefix,
                                          size_t n, bench_err *err)
{
    rocksdb_iter_destroy(it->it);
    it->it = rocksdb_create_iterator(it->db->db, it->db->read_prefix);
    rocksdb_iter_seek(it->it, prefix, n);
    return bench_rocksdb_iter_status(it, "rocksdb_iter_seek (prefix)", err);
}

static int bench_rocksdb_iter_valid(const bench_iter *it)
{
    return rocksdb_iter_valid(it->it);
}

static int bench_rocksdb_iter_next(bench_iter *it, bench_err *err)
{
    rocksdb_iter_next(it->it);
    return bench_rocksdb_iter_status(it, "rocksdb_iter_next", err);
}

static const void *bench_rocksdb_iter_key(const bench_iter *it, size_t *nkey)
{
    return rocksdb_iter_key(it->it, nkey);
}

static const void *bench_rocksdb_iter_value(const bench_iter *it,
                                            size_t *nvalue)
{
    return rocksdb_iter_value(it->it, nvalue);
}

static void bench_rocksdb_iter_close(bench_iter *it)
{
    if (it == NULL)
        return;
    rocksdb_iter_destroy(it->it);
    free(it);
}

static int bench_rocksdb_txn_begin(bench_db *db, int serializable,
                                   bench_txn **out, bench_err *err)
{
    *out = NULL;
    if (db->otxn == NULL)
        return bench_err_set(err, "rocksdb: a transaction on a database not "
                                  "opened for transactions");
    bench_txn *t = malloc(sizeof *t);
    if (t == NULL)
        return bench_err_set(err, "out of memory");
    t->db = db;
    t->serializable = serializable;
    t->t = rocksdb_optimistictransaction_begin(db->otxn, db->write,
                                               db->otxn_options, NULL);
    *out = t;
    return BENCH_OK;
}

static int bench_rocksdb_txn_get(bench_txn *t, const void *key, size_t nkey,
                                 size_t *nvalue, bench_err *err)
{
    char *msg = NULL;
    char *value = t->serializable
                      ? rocksdb_transaction_get_for_update(
                            t->t, t->db->read, key, nkey, nvalue, 1, &msg)
                      : rocksdb_transaction_get(t->t, t->db->read, key, nkey,
                                                nvalue, &msg);
    if (msg != NULL)
        return bench_rocksdb_fail(err, msg, "rocksdb_transaction_get");
    if (value == NULL)
        return BENCH_NOTFOUND;
    rocksdb_free(value);
    return BENCH_OK;
}

static int bench_rocksdb_txn_put(bench_txn *t, const void *key, size_t nkey,
                                 const void *value, size_t nvalue,
                                 bench_err *err)
{
    char *msg = NULL;
    rocksdb_transaction_put(t->t, key, nkey, value, nvalue, &msg);
    return msg == NULL
               ? BENCH_OK
               : bench_rocksdb_fail(err, msg, "rocksdb_transaction_put");
}

/* Status::Busy and Status::TryAgain, as the C API words them. */
static int bench_rocksdb_is_conflict(const char *msg)
{
    return strncmp(msg, "Resource busy", 13) == 0 ||
           strncmp(msg, "Operation failed. Try again", 27) == 0;
}

static int bench_rocksdb_txn_commit(bench_txn *t, bench_err *err)
{
    char *msg = NULL;
    int rc = BENCH_OK;
    rocksdb_transaction_commit(t->t, &msg);
    if (msg != NULL && bench_rocksdb_is_conflict(msg)) {
        rocksdb_free(msg);
        rc = BENCH_CONFLICT;
    } else if (msg != NULL) {
        rc = bench_rocksdb_fail(err, msg, "rocksdb_transaction_commit");
    }
    rocksdb_transaction_destroy(t->t);
    free(t);
    return rc;
}

const bench_engine bench_engine_rocksdb = {
    .name = "rocksdb",
    .db_marker = "CURRENT",
    .version = bench_rocksdb_version,
    .describe = bench_rocksdb_describe,
    .check_settings = bench_rocksdb_check_settings,
    .open = bench_rocksdb_open,
    .flush = bench_rocksdb_flush,
    .write_counters = NULL, /* only with statistics on; see the top */
    .close = bench_rocksdb_close,
    .destroy = bench_rocksdb_destroy,
    .put = bench_rocksdb_put,
    .del = bench_rocksdb_del,
    .del_range = bench_rocksdb_del_range,
    .get = bench_rocksdb_get,
    .write_batch = bench_rocksdb_write_batch,
    .iter_new = bench_rocksdb_iter_new,
    .iter_seek_to_first = bench_rocksdb_iter_seek_to_first,
    .iter_seek = bench_rocksdb_iter_seek,
    .iter_valid = bench_rocksdb_iter_valid,
    .iter_next = bench_rocksdb_iter_next,
    .iter_key = bench_rocksdb_iter_key,
    .iter_value = bench_rocksdb_iter_value,
    .iter_close = bench_rocksdb_iter_close,
    .iter_seek_prefix = bench_rocksdb_iter_seek_prefix,
    .txn_begin = bench_rocksdb_txn_begin,
    .txn_get = bench_rocksdb_txn_get,
    .txn_put = bench_rocksdb_txn_put,
    .txn_commit = bench_rocksdb_txn_commit,
};
