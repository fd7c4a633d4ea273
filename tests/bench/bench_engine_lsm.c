/*
 * bench_engine_lsm.c: lsm-bench's adapter for this project's engine, through
 * the public API (lsm.h) only.
 *
 * The bench's settings map one to one onto lsm_options (target_sst_size is
 * both the memtable size and the SST size in lsm); the WAL is always on and
 * sync is set only for the opens that ask for it. lsm also supplies the
 * reference settings every other engine is configured to match
 * (bench_settings_defaults).
 *
 * lsm has no destroy call: bench_lsm_destroy deletes the files lsm makes
 * (MANIFEST, LOCK, <id>.sst, <id>.wal) and then the directory if empty.
 *
 * Thread safety: an lsm_db may be used from many threads at once (lsm.h);
 * error messages come from lsm_errmsg(), which is per thread, so each
 * thread's bench_err gets its own call's message.
 */
#include "bench_engine.h"
#include "lsm.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct bench_db {
    lsm_db *db;
};

/* lsm opens its iterator with the start key (lsm_scan), so a seek closes
 * the current scan and opens a new one; until the first seek there is
 * none. */
struct bench_iter {
    lsm_db *db;
    lsm_iter *it;
};

/* Records lsm's code and this thread's detailed message. */
static int bench_lsm_fail(bench_err *err, int rc, const char *what)
{
    return bench_err_set(err, "%s: %s (%s)", what, lsm_strerror(rc),
                         lsm_errmsg());
}

/* The index of name in names (an lsm enum's value), or -1. */
static int bench_lsm_choose(const char *name, const char *const *names,
                            size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

static int bench_lsm_parse_compaction(const char *name, lsm_compaction *out)
{
    const char *const names[] = {lsm_compaction_name(LSM_COMPACTION_NONE),
                                 lsm_compaction_name(LSM_COMPACTION_SIMPLE),
                                 lsm_compaction_name(LSM_COMPACTION_TIERED),
                                 lsm_compaction_name(LSM_COMPACTION_LEVELED)};
    int i = bench_lsm_choose(name, names, 4);
    if (i >= 0)
        *out = (lsm_compaction)i;
    return i < 0 ? -1 : 0;
}

static int bench_lsm_parse_leveled_pick(const char *name, lsm_leveled_pick *out)
{
    const char *const names[] = {
        lsm_leveled_pick_name(LSM_LEVELED_PICK_OLDEST),
        lsm_leveled_pick_name(LSM_LEVELED_PICK_MIN_OVERLAP)};
    int i = bench_lsm_choose(name, names, 2);
    if (i >= 0)
        *out = (lsm_leveled_pick)i;
    return i < 0 ? -1 : 0;
}

static int bench_lsm_parse_level_sizes(const char *name, lsm_level_sizes *out)
{
    const char *const names[] = {lsm_level_sizes_name(LSM_LEVEL_SIZES_DYNAMIC),
                                 lsm_level_sizes_name(LSM_LEVEL_SIZES_STATIC)};
    int i = bench_lsm_choose(name, names, 2);
    if (i >= 0)
        *out = (lsm_level_sizes)i;
    return i < 0 ? -1 : 0;
}

/* The shape of the leveled tree, as LevelDB fixes it: compact L0 at 4
 * files, L1 10 MiB, each level 10 times the one above, static sizes.
 * lsm's defaults are the mini-lsm book's (2 files, multiplier 2, dynamic
 * sizes from a 128 MiB base), which the shell follows; at a million keys
 * they write 17.4x the user bytes against 9.1x with LevelDB's trigger and
 * multiplier (inline mode, fillrandom). --level_sizes dynamic keeps the
 * book's dynamic sizes with a 64 MiB base (the base level's target then
 * lies between 6.4 and 64 MiB); at 10M random keys (inline, min-overlap)
 * flushes and compactions wrote 14.0x the user bytes that way, 11.4x
 * static. */
static void bench_lsm_leveled_shape(const bench_settings *s, lsm_options *opt)
{
    opt->level0_file_num_compaction_trigger = 4;
    opt->level_size_multiplier = 10;
    opt->level_sizes = LSM_LEVEL_SIZES_STATIC;
    if (s->level_sizes != NULL)
        bench_lsm_parse_level_sizes(s->level_sizes, &opt->level_sizes);
    opt->base_level_size_mb =
        opt->level_sizes == LSM_LEVEL_SIZES_STATIC ? 10 : 64;
}

/* Which SST a level pushes down: the bench's choice is min-overlap, as
 * RocksDB picks by default. The book's oldest-SST rule pushes, once the
 * base level is rewritten by every L0 compaction, its lowest key range
 * again and again: at 3M random keys (inline) the last level took 6,184
 * MB of compaction writes with oldest and 2,032 MB with min-overlap. */
static void bench_lsm_leveled_pick(const bench_settings *s, lsm_options *opt)
{
    opt->leveled_pick = LSM_LEVELED_PICK_MIN_OVERLAP;
    if (s->leveled_pick != NULL)
        bench_lsm_parse_leveled_pick(s->leveled_pick, &opt->leveled_pick);
}

/* --compression by name (NULL: none); -1 for a name lsm has not. */
static int bench_lsm_parse_compression(const char *name, lsm_compression *out)
{
    static const lsm_compression kinds[] = {
        LSM_COMPRESSION_NONE, LSM_COMPRESSION_LZ4, LSM_COMPRESSION_ZSTD};
    *out = LSM_COMPRESSION_NONE;
    for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(name, lsm_compression_name(kinds[i])) == 0) {
            *out = kinds[i];
            return 0;
        }
    return name ? -1 : 0;
}

/* The lsm_options a run opens with: lsm's defaults, then the settings and
 * the leveled shape. */
static void bench_lsm_options(const bench_settings *s, int sync,
                              lsm_options *opt)
{
    lsm_options_init(opt);
    opt->target_sst_size = s->target_sst_size;
    opt->block_size = s->block_size;
    opt->block_cache_bytes = s->block_cache_bytes;
    opt->num_memtable_limit = s->num_memtable_limit;
    opt->bloom_bits_per_key = s->bloom_bits_per_key;
    opt->sched = s->threads_mode ? LSM_SCHED_THREADS : LSM_SCHED_INLINE;
    if (s->compaction != NULL)
        bench_lsm_parse_compaction(s->compaction, &opt->compaction);
    opt->mmap_reads = s->mmap_reads;
    opt->memtable_bloom = s->memtable_bloom;
    bench_lsm_leveled_shape(s, opt);
    bench_lsm_leveled_pick(s, opt);
    opt->cache_index_and_filter_blocks = s->cache_index_and_filter_blocks;
    opt->prefix_len = s->prefix_len;
    /* A name lsm has not is refused by check_settings before any open. */
    bench_lsm_parse_compression(s->compression, &opt->compression);
    opt->compression_level = s->compression_level;
    opt->enable_wal = 1;
    opt->sync = sync;
}

void bench_settings_defaults(bench_settings *s)
{
    lsm_options opt;
    lsm_options_init(&opt);
    memset(s, 0, sizeof *s);
    s->target_sst_size = opt.target_sst_size;
    s->block_size = opt.block_size;
    s->block_cache_bytes = opt.block_cache_bytes;
    s->num_memtable_limit = opt.num_memtable_limit;
    s->bloom_bits_per_key = opt.bloom_bits_per_key;
    s->compaction = NULL;
    s->threads_mode = 1; /* a benchmark measures the background mode */
    s->mmap_reads = opt.mmap_reads;
    s->memtable_bloom = opt.memtable_bloom;
    s->cache_index_and_filter_blocks = opt.cache_index_and_filter_blocks;
}

static void bench_lsm_version(char *buf, size_t n)
{
    snprintf(buf, n, "lsm %s", LSM_VERSION_STRING);
}

static void bench_lsm_describe(const bench_settings *s, char *buf, size_t n)
{
    lsm_options opt;
    bench_lsm_options(s, 0, &opt);
    snprintf(buf, n,
             "target_sst_size %zu (memtable and SST), block_size %zu, "
             "block_cache_bytes %zu, num_memtable_limit %zu, bloom %u "
             "bits/key, compaction %s (L0 trigger %u, multiplier %u, base "
             "level %u MiB, %s sizes, pick %s), threads_mode %s, mmap_reads "
             "%s, memtable_bloom %s, cache_index_and_filter_blocks %s, "
             "prefix_len %u, WAL on, %s compression (level %d)",
             opt.target_sst_size, opt.block_size, opt.block_cache_bytes,
             opt.num_memtable_limit, opt.bloom_bits_per_key,
             lsm_compaction_name(opt.compaction),
             opt.level0_file_num_compaction_trigger, opt.level_size_multiplier,
             opt.base_level_size_mb, lsm_level_sizes_name(opt.level_sizes),
             lsm_leveled_pick_name(opt.leveled_pick),
             opt.sched == LSM_SCHED_THREADS ? "on" : "off",
             opt.mmap_reads ? "on" : "off", opt.memtable_bloom ? "on" : "off",
             opt.cache_index_and_filter_blocks ? "on" : "off", opt.prefix_len,
             opt.compression == LSM_COMPRESSION_NONE
                 ? "no"
                 : lsm_compression_name(opt.compression),
             opt.compression_level);
}

static int bench_lsm_check_settings(const bench_settings *s, bench_err *err)
{
    lsm_compression kind;
    if (bench_lsm_parse_compression(s->compression, &kind))
        return bench_err_set(err, "--compression: none, lz4 or zstd: %s",
                             s->compression);
    lsm_compaction c;
    if (s->compaction != NULL && bench_lsm_parse_compaction(s->compaction, &c))
        return bench_err_set(err,
                             "--compaction: none, simple, tiered or "
                             "leveled: %s",
                             s->compaction);
    lsm_leveled_pick pick;
    if (s->leveled_pick != NULL &&
        bench_lsm_parse_leveled_pick(s->leveled_pick, &pick))
        return bench_err_set(err, "--leveled_pick: oldest or min-overlap: %s",
                             s->leveled_pick);
    lsm_level_sizes sizes;
    if (s->level_sizes != NULL &&
        bench_lsm_parse_level_sizes(s->level_sizes, &sizes))
        return bench_err_set(err, "--level_sizes: dynamic or static: %s",
                             s->level_sizes);
    return BENCH_OK;
}

static int bench_lsm_open(const bench_settings *s, int sync, bench_db **out,
                          bench_err *err)
{
    lsm_options opt;
    bench_db *db = malloc(sizeof *db);
    int rc;
    *out = NULL;
    if (db == NULL)
        return bench_err_set(err, "out of memory");
    bench_lsm_options(s, sync, &opt);
    rc = lsm_open(s->db_path, &opt, &db->db);
    if (rc != LSM_OK) {
        free(db);
        return bench_lsm_fail(err, rc, s->db_path);
    }
    *out = db;
    return BENCH_OK;
}

static int bench_lsm_flush(bench_db *db, bench_err *err)
{
    int rc = lsm_flush(db->db);
    return rc == LSM_OK ? BENCH_OK : bench_lsm_fail(err, rc, "lsm_flush");
}

static int bench_lsm_write_counters(bench_db *db, bench_write_counters *out,
                                    bench_err *err)
{
    lsm_state *st = NULL;
    int rc = lsm_state_get(db->db, &st);
    if (rc != LSM_OK)
        return bench_lsm_fail(err, rc, "lsm_state_get");
    out->user_bytes = st->counters.user_bytes_written;
    out->table_bytes = st->counters.flush_bytes_written +
                       st->counters.compaction_bytes_written;
    lsm_state_free(st);
    return BENCH_OK;
}

static int bench_lsm_close(bench_db *db, bench_err *err)
{
    int rc = lsm_close(db->db);
    free(db);
    return rc == LSM_OK ? BENCH_OK : bench_lsm_fail(err, rc, "lsm_close");
}

/* Whether name is "<decimal id><suffix>", the form of lsm's SSTs and WALs. */
static int bench_lsm_is_numbered(const char *name, const char *suffix)
{
    size_t n = strlen(name), n_suffix = strlen(suffix);
    if (n <= n_suffix || strcmp(name + n - n_suffix, suffix) != 0)
        return 0;
    for (size_t i = 0; i < n - n_suffix; i++)
        if (name[i] < '0' || name[i] > '9')
            return 0;
    return 1;
}

/* Deletes only the files lsm makes, as leveldb_destroy_db does for LevelDB,
 * so anything else in the directory survives (and keeps it from being
 * removed; the bench then reports it). */
static int bench_lsm_destroy(const bench_settings *s, bench_err *err)
{
    DIR *d = opendir(s->db_path);
    struct dirent *de;
    int rc = BENCH_OK;
    if (d == NULL) {
        if (errno == ENOENT)
            return BENCH_OK;
        return bench_err_set(err, "%s: cannot open: %s", s->db_path,
                             strerror(errno));
    }
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX];
        if (strcmp(de->d_name, "MANIFEST") != 0 &&
            strcmp(de->d_name, "LOCK") != 0 &&
            !bench_lsm_is_numbered(de->d_name, ".sst") &&
            !bench_lsm_is_numbered(de->d_name, ".wal"))
            continue;
        snprintf(path, sizeof path, "%s/%s", s->db_path, de->d_name);
        if (unlink(path) != 0) {
            rc = bench_err_set(err, "%s: cannot delete: %s", path,
                               strerror(errno));
            goto out;
        }
    }
    if (rmdir(s->db_path) != 0 && errno != ENOTEMPTY && errno != EEXIST)
        rc = bench_err_set(err, "%s: cannot remove: %s", s->db_path,
                           strerror(errno));
out:
    closedir(d);
    return rc;
}

static int bench_lsm_put(bench_db *db, const void *key, size_t nkey,
                         const void *value, size_t nvalue, bench_err *err)
{
    int rc = lsm_put(db->db, key, nkey, value, nvalue);
    return rc == LSM_OK ? BENCH_OK : bench_lsm_fail(err, rc, "lsm_put");
}

static int bench_lsm_del(bench_db *db, const void *key, size_t nkey,
                         bench_err *err)
{
    int rc = lsm_delete(db->db, key, nkey);
    return rc == LSM_OK ? BENCH_OK : bench_lsm_fail(err, rc, "lsm_delete");
}

static int bench_lsm_del_range(bench_db *db, const void *lo, size_t nlo,
                               const void *hi, size_t nhi, bench_err *err)
{
    int rc = lsm_delete_range(db->db, lo, nlo, hi, nhi);
    return rc == LSM_OK ? BENCH_OK
                        : bench_lsm_fail(err, rc, "lsm_delete_range");
}

static int bench_lsm_get(bench_db *db, const void *key, size_t nkey,
                         size_t *nvalue, bench_err *err)
{
    void *value = NULL;
    int rc = lsm_get(db->db, key, nkey, &value, nvalue);
    if (rc == LSM_NOTFOUND)
        return BENCH_NOTFOUND;
    if (rc != LSM_OK)
        return bench_lsm_fail(err, rc, "lsm_get");
    lsm_free(value);
    return BENCH_OK;
}

static int bench_lsm_write_batch(bench_db *db, size_t n_puts,
                                 bench_batch_fill_fn fill, void *ctx,
                                 bench_err *err)
{
    lsm_batch *batch = NULL;
    int rc = lsm_batch_new(&batch);
    const char *what = "lsm_batch_new";
    for (size_t i = 0; rc == LSM_OK && i < n_puts; i++) {
        const void *key, *value;
        size_t nkey, nvalue;
        fill(ctx, i, &key, &nkey, &value, &nvalue);
        rc = lsm_batch_put(batch, key, nkey, value, nvalue);
        what = "lsm_batch_put";
    }
    if (rc == LSM_OK) {
        rc = lsm_write(db->db, batch);
        what = "lsm_write";
    }
    lsm_batch_free(batch);
    return rc == LSM_OK ? BENCH_OK : bench_lsm_fail(err, rc, what);
}

static int bench_lsm_iter_new(bench_db *db, bench_iter **out, bench_err *err)
{
    bench_iter *it = malloc(sizeof *it);
    *out = NULL;
    if (it == NULL)
        return bench_err_set(err, "out of memory");
    it->db = db->db;
    it->it = NULL;
    *out = it;
    return BENCH_OK;
}

/* Replaces the scan by one from lo (NULL: from the first key). */
static int bench_lsm_iter_rescan(bench_iter *it, const lsm_bound *lo,
                                 bench_err *err)
{
    int rc;
    lsm_iter_close(it->it);
    it->it = NULL;
    rc = lsm_scan(it->db, lo, NULL, &it->it);
    return rc == LSM_OK ? BENCH_OK : bench_lsm_fail(err, rc, "lsm_scan");
}

/* Replaces the scan by lsm_scan_prefix of prefix. */
static int bench_lsm_iter_seek_prefix(bench_iter *it, const void *prefix,
                                      size_t n, bench_err *err)
{
    lsm_iter_close(it->it);
    it->it = NULL;
    int rc = lsm_scan_prefix(it->db, prefix, n, &it->it);
    return rc == LSM_OK ? BENCH_OK : bench_lsm_fail(err, rc, "lsm_scan_prefix");
}

static int bench_lsm_iter_seek_to_first(bench_iter *it, bench_err *err)
{
    return bench_lsm_iter_rescan(it, NULL, err);
}

static int bench_lsm_iter_seek(bench_iter *it, const void *key, size_t nkey,
                               bench_err *err)
{
    lsm_bound lo = {LSM_BOUND_INCLUDED, key, nkey};
    return bench_lsm_iter_rescan(it, &lo, err);
}

static int bench_lsm_iter_valid(const bench_iter *it)
{
    return it->it != NULL && lsm_iter_valid(it->it);
}

static int bench_lsm_iter_next(bench_iter *it, bench_err *err)
{
    int rc = lsm_iter_next(it->it);
    return rc == LSM_OK ? BENCH_OK : bench_lsm_fail(err, rc, "lsm_iter_next");
}

static const void *bench_lsm_iter_key(const bench_iter *it, size_t *nkey)
{
    return lsm_iter_key(it->it, nkey);
}

static const void *bench_lsm_iter_value(const bench_iter *it, size_t *nvalue)
{
    return lsm_iter_value(it->it, nvalue);
}

static void bench_lsm_iter_close(bench_iter *it)
{
    if (it == NULL)
        return;
    lsm_iter_close(it->it);
    free(it);
}

/* lsm's transactions need nothing at open (s->transactions is ignored). */
struct bench_txn {
    lsm_txn *t;
};

static int bench_lsm_txn_begin(bench_db *db, int serializable, bench_txn **out,
                               bench_err *err)
{
    bench_txn *t = malloc(sizeof *t);
    *out = NULL;
    if (t == NULL)
        return bench_err_set(err, "out of memory");
    int rc = lsm_txn_begin(db->db,
                           serializable ? LSM_ISOLATION_SERIALIZABLE
                                        : LSM_ISOLATION_SNAPSHOT,
                           &t->t);
    if (rc != LSM_OK) {
        free(t);
        return bench_lsm_fail(err, rc, "lsm_txn_begin");
    }
    *out = t;
    return BENCH_OK;
}

static int bench_lsm_txn_get(bench_txn *t, const void *key, size_t nkey,
                             size_t *nvalue, bench_err *err)
{
    void *value = NULL;
    int rc = lsm_txn_get(t->t, key, nkey, &value, nvalue);
    if (rc == LSM_NOTFOUND)
        return BENCH_NOTFOUND;
    if (rc != LSM_OK)
        return bench_lsm_fail(err, rc, "lsm_txn_get");
    lsm_free(value);
    return BENCH_OK;
}

static int bench_lsm_txn_put(bench_txn *t, const void *key, size_t nkey,
                             const void *value, size_t nvalue, bench_err *err)
{
    int rc = lsm_txn_put(t->t, key, nkey, value, nvalue);
    return rc == LSM_OK ? BENCH_OK : bench_lsm_fail(err, rc, "lsm_txn_put");
}

static int bench_lsm_txn_commit(bench_txn *t, bench_err *err)
{
    int rc = lsm_txn_commit(t->t, NULL);
    free(t);
    if (rc == LSM_ECONFLICT)
        return BENCH_CONFLICT;
    return rc == LSM_OK ? BENCH_OK : bench_lsm_fail(err, rc, "lsm_txn_commit");
}

const bench_engine bench_engine_lsm = {
    .name = "lsm",
    .db_marker = "MANIFEST",
    .version = bench_lsm_version,
    .describe = bench_lsm_describe,
    .check_settings = bench_lsm_check_settings,
    .open = bench_lsm_open,
    .flush = bench_lsm_flush,
    .write_counters = bench_lsm_write_counters,
    .close = bench_lsm_close,
    .destroy = bench_lsm_destroy,
    .put = bench_lsm_put,
    .del = bench_lsm_del,
    .del_range = bench_lsm_del_range,
    .get = bench_lsm_get,
    .write_batch = bench_lsm_write_batch,
    .iter_new = bench_lsm_iter_new,
    .iter_seek_to_first = bench_lsm_iter_seek_to_first,
    .iter_seek = bench_lsm_iter_seek,
    .iter_valid = bench_lsm_iter_valid,
    .iter_next = bench_lsm_iter_next,
    .iter_key = bench_lsm_iter_key,
    .iter_value = bench_lsm_iter_value,
    .iter_close = bench_lsm_iter_close,
    .iter_seek_prefix = bench_lsm_iter_seek_prefix,
    .txn_begin = bench_lsm_txn_begin,
    .txn_get = bench_lsm_txn_get,
    .txn_put = bench_lsm_txn_put,
    .txn_commit = bench_lsm_txn_commit,
};
