/*
 * bench_engine_leveldb.c: lsm-bench's adapter for LevelDB, through its C API
 * (leveldb/c.h, Debian's libleveldb-dev). Built only when meson finds the
 * library and header (BENCH_HAVE_LEVELDB).
 *
 * The bench's settings become LevelDB options (tests/bench/README.md has
 * the table): write_buffer_size and max_file_size = target_sst_size,
 * block_size, an LRU block cache of block_cache_bytes (capacity 0 turns
 * LevelDB's caching off), a 10-bit bloom filter, no compression; everything
 * else LevelDB's defaults. LevelDB always writes its log (the WAL); sync is a
 * write option, set only for the opens that ask for it. It has no flush call
 * and no byte counters in its C API, so those entries are NULL.
 *
 * Ownership: the options only point at the cache and the filter policy, so
 * a bench_db keeps both (and its read/write options) until its close.
 *
 * Thread safety: a leveldb_t may be used from many threads at once; the
 * read and write options are only read after open, so threads share them.
 */
#include "bench_engine.h"

#include <leveldb/c.h>
#include <stdlib.h>

struct bench_db {
    leveldb_t *db;
    leveldb_options_t *options;
    leveldb_cache_t *cache;
    leveldb_filterpolicy_t *filter; /* NULL: no filter */
    leveldb_readoptions_t *read;
    leveldb_writeoptions_t *write;
};

struct bench_iter {
    leveldb_iterator_t *it;
};

/* Moves LevelDB's malloc'd message into err and frees it. */
static int bench_leveldb_fail(bench_err *err, char *msg, const char *what)
{
    bench_err_set(err, "%s: %s", what, msg ? msg : "unknown error");
    leveldb_free(msg);
    return BENCH_ERROR;
}

static void bench_leveldb_version(char *buf, size_t n)
{
    snprintf(buf, n, "leveldb %d.%d", leveldb_major_version(),
             leveldb_minor_version());
}

static void bench_leveldb_describe(const bench_settings *s, char *buf, size_t n)
{
    snprintf(buf, n,
             "write_buffer_size %zu, max_file_size %zu, block_size %zu, LRU "
             "block cache %zu, bloom %u bits/key, no compression, log always "
             "on, leveled compaction (LevelDB's own), no prefix extractor "
             "(prefix scans are range scans)",
             s->target_sst_size, s->target_sst_size, s->block_size,
             s->block_cache_bytes, s->bloom_bits_per_key);
}

/* LevelDB has one compaction scheme, one background thread and one
 * memtable plus one immutable: the flags for those are lsm's. */
static int bench_leveldb_check_settings(const bench_settings *s, bench_err *err)
{
    if (s->compaction_given)
        return bench_err_set(err, "--compaction applies to --engine lsm "
                                  "only (leveldb has its own leveled "
                                  "compaction)");
    if (s->threads_mode_given)
        return bench_err_set(err, "--threads_mode applies to --engine lsm "
                                  "only (leveldb always compacts in a "
                                  "background thread)");
    if (s->num_memtable_limit_given)
        return bench_err_set(err, "--num_memtable_limit applies to --engine "
                                  "lsm and rocksdb only (leveldb keeps one "
                                  "memtable and one immutable)");
    if (s->mmap_reads_given)
        return bench_err_set(err, "--mmap_reads applies to --engine lsm "
                                  "only (leveldb maps its tables itself)");
    if (s->leveled_pick_given)
        return bench_err_set(err, "--leveled_pick applies to --engine lsm "
                                  "only (leveldb pushes files round robin "
                                  "through the key space)");
    if (s->level_sizes_given)
        return bench_err_set(err, "--level_sizes applies to --engine lsm "
                                  "only (leveldb's level sizes are static)");
    if (s->memtable_bloom_given)
        return bench_err_set(err, "--memtable_bloom applies to --engine lsm "
                                  "only (leveldb's memtables have no filter)");
    if (s->cache_index_and_filter_blocks_given)
        return bench_err_set(err, "--cache_index_and_filter_blocks applies "
                                  "to --engine lsm and rocksdb only "
                                  "(leveldb keeps them outside its cache)");
    return BENCH_OK;
}

/* Frees everything of db but the leveldb_t, which the caller has closed. */
static void bench_leveldb_free(bench_db *db)
{
    if (db->write != NULL)
        leveldb_writeoptions_destroy(db->write);
    if (db->read != NULL)
        leveldb_readoptions_destroy(db->read);
    if (db->options != NULL)
        leveldb_options_destroy(db->options);
    if (db->filter != NULL)
        leveldb_filterpolicy_destroy(db->filter);
    if (db->cache != NULL)
        leveldb_cache_destroy(db->cache);
    free(db);
}

static int bench_leveldb_open(const bench_settings *s, int sync, bench_db **out,
                              bench_err *err)
{
    bench_db *db = calloc(1, sizeof *db);
    char *msg = NULL;
    *out = NULL;
    if (db == NULL)
        return bench_err_set(err, "out of memory");
    db->options = leveldb_options_create();
    db->cache = leveldb_cache_create_lru(s->block_cache_bytes);
    if (s->bloom_bits_per_key > 0)
        db->filter =
            leveldb_filterpolicy_create_bloom((int)s->bloom_bits_per_key);
    db->read = leveldb_readoptions_create();
    db->write = leveldb_writeoptions_create();
    leveldb_options_set_create_if_missing(db->options, 1);
    leveldb_options_set_compression(db->options, leveldb_no_compression);
    leveldb_options_set_write_buffer_size(db->options, s->target_sst_size);
    leveldb_options_set_max_file_size(db->options, s->target_sst_size);
    leveldb_options_set_block_size(db->options, s->block_size);
    leveldb_options_set_cache(db->options, db->cache);
    if (db->filter != NULL)
        leveldb_options_set_filter_policy(db->options, db->filter);
    leveldb_writeoptions_set_sync(db->write, (uint8_t)(sync ? 1 : 0));
    db->db = leveldb_open(db->options, s->db_path, &msg);
    if (msg != NULL) {
        bench_leveldb_free(db);
        return bench_leveldb_fail(err, msg, s->db_path);
    }
    *out = db;
    return BENCH_OK;
}

static int bench_leveldb_close(bench_db *db, bench_err *err)
{
    leveldb_close(db->db);
    bench_leveldb_free(db);
    return BENCH_OK;
}

static int bench_leveldb_destroy(const bench_settings *s, bench_err *err)
{
    leveldb_options_t *options = leveldb_options_create();
    char *msg = NULL;
    leveldb_destroy_db(options, s->db_path, &msg);
    leveldb_options_destroy(options);
    return msg == NULL ? BENCH_OK
                       : bench_leveldb_fail(err, msg, "leveldb_destroy_db");
}

static int bench_leveldb_put(bench_db *db, const void *key, size_t nkey,
                             const void *value, size_t nvalue, bench_err *err)
{
    char *msg = NULL;
    leveldb_put(db->db, db->write, key, nkey, value, nvalue, &msg);
    return msg == NULL ? BENCH_OK : bench_leveldb_fail(err, msg, "leveldb_put");
}

static int bench_leveldb_del(bench_db *db, const void *key, size_t nkey,
                             bench_err *err)
{
    char *msg = NULL;
    leveldb_delete(db->db, db->write, key, nkey, &msg);
    return msg == NULL ? BENCH_OK
                       : bench_leveldb_fail(err, msg, "leveldb_delete");
}

static int bench_leveldb_get(bench_db *db, const void *key, size_t nkey,
                             size_t *nvalue, bench_err *err)
{
    char *msg = NULL;
    char *value = leveldb_get(db->db, db->read, key, nkey, nvalue, &msg);
    if (msg != NULL)
        return bench_leveldb_fail(err, msg, "leveldb_get");
    if (value == NULL)
        return BENCH_NOTFOUND;
    leveldb_free(value);
    return BENCH_OK;
}

static int bench_leveldb_write_batch(bench_db *db, size_t n_puts,
                                     bench_batch_fill_fn fill, void *ctx,
                                     bench_err *err)
{
    leveldb_writebatch_t *batch = leveldb_writebatch_create();
    char *msg = NULL;
    for (size_t i = 0; i < n_puts; i++) {
        const void *key, *value;
        size_t nkey, nvalue;
        fill(ctx, i, &key, &nkey, &value, &nvalue);
        leveldb_writebatch_put(batch, key, nkey, value, nvalue);
    }
    leveldb_write(db->db, db->write, batch, &msg);
    leveldb_writebatch_destroy(batch);
    return msg == NULL ? BENCH_OK
                       : bench_leveldb_fail(err, msg, "leveldb_write");
}

static int bench_leveldb_iter_new(bench_db *db, bench_iter **out,
                                  bench_err *err)
{
    bench_iter *it = malloc(sizeof *it);
    *out = NULL;
    if (it == NULL)
        return bench_err_set(err, "out of memory");
    it->it = leveldb_create_iterator(db->db, db->read);
    *out = it;
    return BENCH_OK;
}

/* An iterator that stops being valid may have stopped on an error. */
static int bench_leveldb_iter_status(bench_iter *it, const char *what,
                                     bench_err *err)
{
    char *msg = NULL;
    if (leveldb_iter_valid(it->it))
        return BENCH_OK;
    leveldb_iter_get_error(it->it, &msg);
    return msg == NULL ? BENCH_OK : bench_leveldb_fail(err, msg, what);
}

static int bench_leveldb_iter_seek_to_first(bench_iter *it, bench_err *err)
{
    leveldb_iter_seek_to_first(it->it);
    return bench_leveldb_iter_status(it, "leveldb_iter_seek_to_first", err);
}

static int bench_leveldb_iter_seek(bench_iter *it, const void *key, size_t nkey,
                                   bench_err *err)
{
    leveldb_iter_seek(it->it, key, nkey);
    return bench_leveldb_iter_status(it, "leveldb_iter_seek", err);
}

static int bench_leveldb_iter_valid(const bench_iter *it)
{
    return leveldb_iter_valid(it->it);
}

static int bench_leveldb_iter_next(bench_iter *it, bench_err *err)
{
    leveldb_iter_next(it->it);
    return bench_leveldb_iter_status(it, "leveldb_iter_next", err);
}

static const void *bench_leveldb_iter_key(const bench_iter *it, size_t *nkey)
{
    return leveldb_iter_key(it->it, nkey);
}

static const void *bench_leveldb_iter_value(const bench_iter *it,
                                            size_t *nvalue)
{
    return leveldb_iter_value(it->it, nvalue);
}

static void bench_leveldb_iter_close(bench_iter *it)
{
    if (it == NULL)
        return;
    leveldb_iter_destroy(it->it);
    free(it);
}

const bench_engine bench_engine_leveldb = {
    .name = "leveldb",
    .db_marker = "CURRENT",
    .version = bench_leveldb_version,
    .describe = bench_leveldb_describe,
    .check_settings = bench_leveldb_check_settings,
    .open = bench_leveldb_open,
    .flush = NULL,          /* no flush in LevelDB's C API */
    .write_counters = NULL, /* no byte counters in LevelDB's C API */
    .close = bench_leveldb_close,
    .destroy = bench_leveldb_destroy,
    .put = bench_leveldb_put,
    .del = bench_leveldb_del,
    .get = bench_leveldb_get,
    .write_batch = bench_leveldb_write_batch,
    .iter_new = bench_leveldb_iter_new,
    .iter_seek_to_first = bench_leveldb_iter_seek_to_first,
    .iter_seek = bench_leveldb_iter_seek,
    .iter_valid = bench_leveldb_iter_valid,
    .iter_next = bench_leveldb_iter_next,
    .iter_key = bench_leveldb_iter_key,
    .iter_value = bench_leveldb_iter_value,
    .iter_close = bench_leveldb_iter_close,
    .txn_begin = NULL, /* LevelDB has no transactions */
    .txn_get = NULL,
    .txn_put = NULL,
    .txn_commit = NULL,
};
