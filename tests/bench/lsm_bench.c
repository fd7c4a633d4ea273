/*
 * lsm_bench.c: lsm-bench, a db_bench-style benchmark of the lsm engine and,
 * for comparison on the same machine, of LevelDB and RocksDB.
 *
 * It runs the workloads named by --benchmarks, in order, against one database
 * directory of the engine chosen by --engine (lsm, leveldb or rocksdb), and
 * prints one line per workload: "name : X micros/op; Y ops/sec; Z MB/s". At
 * the end it prints the peak RSS (and the RSS before the first open), the
 * size of the database on disk, lsm's own write amplification and the bytes
 * the process passed to write(2) over the bytes the workloads wrote.
 *
 * The workloads here are engine-neutral: they call the engine only through
 * the bench_engine table (bench_engine.h). Each engine file translates the
 * settings (target_sst_size, block_size, block_cache_bytes, ...) into its
 * own options, so all three run with the same sizes, a 10-bit bloom filter,
 * no compression unless --compression names one, and the WAL on; sync only
 * for fillsync. Values are half compressible, as db_bench's are
 * (bench_make_value), so compression has something to do.
 *
 * Invariants:
 *   - Keys are the zero-padded decimal form of an index in [0, num), exactly
 *     key_size bytes. Missing keys are a present-form key plus a trailing '.',
 *     so they are key_size + 1 bytes long and can never have been written.
 *   - bench.present holds, for every index, whether its key has a live value.
 *     Every write workload keeps it up to date; it is rebuilt from a full scan
 *     when the program starts on an existing database. The read workloads
 *     check the engine against it, and any mismatch exits with status 1.
 *   - A fill workload first removes the database (only a directory that is
 *     empty or holds the engine's marker file, MANIFEST for lsm and CURRENT
 *     for leveldb/rocksdb, and only regular files) and reopens it.
 *
 * The transaction workloads (txnrmw: serializable, txnrmw_si: snapshot
 * isolation) run on one thread on a database reopened for transactions
 * (untimed, and reopened plain after them); an engine without
 * transactions prints "n/a" for them.
 *
 * Thread safety: with --threads N, the workloads fillsync, fillrandom,
 * overwrite, readrandom, readmissing, seekrandom and readwhilewriting run on
 * N threads at once on the one open database, each doing its share of the
 * operations. Writer thread t writes only key indices i with i % N == t, so
 * no two threads ever touch the same byte of bench.present; each counts the
 * keys it made live or dead in its own bench_thread, summed after the join.
 * Readers only read bench.present. readwhilewriting adds one background
 * writer to its N readers: it writes any key but never writes
 * bench.present while the readers run (they read it); it notes the keys it
 * made live in a bitmap of its own, merged into bench.present after the
 * join. Every thread has its own RNG, value buffer and bench_err.
 * Everything else (opens, closes, resets, the other workloads, the report)
 * runs on the main thread alone.
 */
#include "bench_engine.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BENCH_BATCH_OPS 1000
#define BENCH_SEEK_NEXTS 10
#define BENCH_TXN_DIVISOR 10 /* transaction workloads: --num / this */
/* fillprefix: keys per prefix (the last group may have more); the write
 * order steps through the key indices by this prime, modulo --num. */
#define BENCH_PREFIX_KEYS 10
#define BENCH_PREFIX_STEP 2654435761ull
/* fillsync: --num / BENCH_SYNC_DIVISOR synced puts, at most
 * BENCH_SYNC_MAX_OPS. It starts from an empty database, so what it measures
 * (one fsync per put, or per group) does not grow with --num, while its
 * time does: an fsync took 0.15 to 2.9 ms on this project's VM disk, and
 * 100,000 of them at --num 10000000 would take minutes per run. The cap is the
 * count at --num 1000000, so runs up to that size are unchanged. */
#define BENCH_SYNC_DIVISOR 100
#define BENCH_SYNC_MAX_OPS 10000
#define BENCH_RANDOM_POOL_BYTES (1u << 20)
#define BENCH_MAX_KEY_BYTES 1024
#define BENCH_MAX_THREADS 1024
#define BENCH_DEFAULT_BENCHMARKS                                               \
    "fillseq,fillsync,fillrandom,overwrite,fillbatch,readrandom,readmissing,"  \
    "readseq,seekrandom,readwhilewriting,deleterandom,txnrmw,txnrmw_si"

/* Command-line settings. */
typedef struct bench_config {
    uint64_t num;
    uint64_t reads;
    int reads_set;
    size_t key_size;
    size_t value_size;
    uint64_t seed;
    unsigned n_threads;
    const char *engine_name;
    const char *benchmarks;
    bench_settings settings; /* what every engine is opened with */
    char default_db_path[PATH_MAX];
} bench_config;

/* Samples RssAnon (this process's anonymous memory: heap and stacks, not
 * file pages) every BENCH_ANON_SAMPLE_MICROS and keeps the largest value:
 * Linux keeps no peak of it, and the peak RSS (ru_maxrss) also counts the
 * pages of files an engine maps (LevelDB maps its tables, lsm with
 * --mmap_reads on), which
 * are the OS's page cache, not memory the engine allocated. */
#define BENCH_ANON_SAMPLE_MICROS 5000

typedef struct bench_anon_sampler {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;           /* [mu] */
    uint64_t peak_kb;   /* [mu] */
    int known, started; /* set before the thread starts */
} bench_anon_sampler;

/* The run's state: the engine, the open database, the key presence map,
 * value data and the totals of the end-of-run report. */
typedef struct bench {
    bench_config cfg;
    const bench_engine *engine;
    bench_db *db;
    unsigned char *present; /* one byte per key index */
    uint64_t n_present;
    unsigned char *random_pool; /* BENCH_RANDOM_POOL_BYTES seeded bytes */
    uint64_t user_bytes; /* key + value bytes of puts, key bytes of deletes */
    int have_counters;   /* the engine has write_counters */
    bench_write_counters counters; /* summed over every open of the run */
    uint64_t rss_start_kb;         /* VmRSS before the first open */
    int rss_start_known;
    uint64_t anon_start_kb; /* RssAnon before the first open */
    bench_anon_sampler anon;
    uint64_t wchar_start; /* /proc/self/io wchar before the first open */
    int wchar_start_known;
    uint64_t txn_conflicts; /* the current workload's refused commits */
    uint64_t bg_writes;     /* the current workload's background writes */
    double bg_write_micros; /* ... and the time the writer ran */
} bench;

/* One timed workload's result. */
typedef struct bench_result {
    uint64_t n_ops;
    uint64_t n_bytes; /* 0: MB/s does not apply */
} bench_result;

typedef struct bench_rng {
    uint64_t state;
} bench_rng;

/* One thread of a workload (the main thread's own when it runs alone). */
typedef struct bench_thread {
    bench *b;
    const struct bench_workload *w;
    unsigned t;         /* 0 .. n_threads - 1 */
    unsigned n_threads; /* threads running this workload */
    uint64_t n_ops;     /* this thread's share of the workload's ops */
    bench_rng rng;
    size_t pool_pos;
    unsigned char *value; /* value_size bytes, rebuilt per write */
    char key[BENCH_MAX_KEY_BYTES + 1];
    uint64_t batch_first; /* fillbatch: key index of the batch's put 0 */
    int64_t live_delta;   /* keys this thread made live minus made dead */
    uint64_t user_bytes;  /* key + value bytes this thread wrote */
    uint64_t n_conflicts; /* transactions refused at commit */
    /* The background writer of readwhilewriting only: */
    atomic_int *stop;    /* set by the main thread once the readers end */
    unsigned char *born; /* bit i: this writer made key i live */
    double write_micros; /* how long the writer ran */
    bench_result r;
    bench_err err;
    pthread_t tid;
    pthread_barrier_t *start;
} bench_thread;

/* How many operations a workload runs in total. */
typedef enum bench_ops {
    BENCH_OPS_NUM,   /* --num */
    BENCH_OPS_SYNC,  /* --num / 100, at least 1, at most 10000 */
    BENCH_OPS_READS, /* --reads */
    BENCH_OPS_SCAN,  /* one scan of the whole database */
    BENCH_OPS_TXN,   /* --num / BENCH_TXN_DIVISOR, at least 1 */
    BENCH_OPS_RANGE  /* --num / BENCH_RANGE_KEYS, at least 1 */
} bench_ops;

typedef struct bench_workload {
    const char *name;
    bench_result (*run)(bench_thread *th);
    int fills;     /* starts from an empty database */
    int sync;      /* opened with sync writes */
    int threaded;  /* runs on --threads threads */
    int writer;    /* one more thread writes until the others end */
    bench_ops ops; /* BENCH_OPS_TXN: a transaction workload */
} bench_workload;

/* Prints a formatted message to stderr and ends the process with status 1:
 * the benchmark cannot give meaningful numbers after an error or a
 * correctness mismatch. _exit, not exit: other threads may still be inside
 * the engine, and running the C++ engines' static destructors under them
 * could crash instead of reporting. */
static _Noreturn BENCH_PRINTF(1, 2) void bench_die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "lsm-bench: error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

/* Dies with the engine's message when rc is an error. */
static void bench_check(int rc, const bench_err *err, const char *what)
{
    if (rc == BENCH_ERROR)
        bench_die("%s: %s", what, err->msg);
}

/* xorshift64*: fast, seedable, good enough for picking keys. */
static uint64_t bench_rng_next(bench_rng *g)
{
    g->state ^= g->state >> 12;
    g->state ^= g->state << 25;
    g->state ^= g->state >> 27;
    return g->state * 2685821657736338717ull;
}

/* Seeds g so a thread's key sequence depends only on --seed, the
 * workload's position in the list (salt) and the thread number, never on
 * what ran before it. Thread 0 gets the sequence a single thread has. */
static void bench_rng_seed(bench_rng *g, uint64_t seed, uint64_t salt,
                           unsigned thread)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ull * (salt + 1) +
                 0xd1b54a32d192ed03ull * thread;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    g->state = z ? z : 1;
}

/* Any index in [0, num): for reads, which may touch every key. */
static uint64_t bench_rand_index(bench_thread *th)
{
    return bench_rng_next(&th->rng) % th->b->cfg.num;
}

/* A random index of this thread's partition (i % n_threads == t), for
 * writes, so no two writer threads share a key. The caller guarantees
 * n_threads <= num, so every partition is non-empty. */
static uint64_t bench_rand_own_index(bench_thread *th)
{
    uint64_t num = th->b->cfg.num;
    uint64_t n_own = (num - th->t + th->n_threads - 1) / th->n_threads;
    return th->t + th->n_threads * (bench_rng_next(&th->rng) % n_own);
}

static double bench_now_micros(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Writes the key of index i into buf (key_size bytes, no terminator). */
static void bench_make_key(const bench *b, uint64_t i, char *buf)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, i);
    size_t pad = b->cfg.key_size - (size_t)n;
    memset(buf, '0', pad);
    memcpy(buf + pad, tmp, (size_t)n);
}

/* Parses a key of this run's form back to its index; -1 if it is not one. */
static int bench_parse_key(const bench *b, const void *key, size_t nkey,
                           uint64_t *index)
{
    const unsigned char *p = key;
    uint64_t v = 0;
    if (nkey != b->cfg.key_size)
        return -1;
    for (size_t i = 0; i < nkey; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (v >= b->cfg.num)
        return -1;
    *index = v;
    return 0;
}

/* Fills th->value: the first half repeats a short pattern (compressible),
 * the second half is taken from the seeded random pool (incompressible). */
static void bench_make_value(bench_thread *th)
{
    static const char pattern[] = "lsm-bench!";
    size_t n_half = th->b->cfg.value_size / 2;
    size_t n_rand = th->b->cfg.value_size - n_half;
    for (size_t i = 0; i < n_half; i++)
        th->value[i] = (unsigned char)pattern[i % (sizeof pattern - 1)];
    if (th->pool_pos + n_rand > BENCH_RANDOM_POOL_BYTES)
        th->pool_pos = 0;
    memcpy(th->value + n_half, th->b->random_pool + th->pool_pos, n_rand);
    th->pool_pos += 1 + bench_rng_next(&th->rng) % 64;
}

/* Records that key i is now live or not. Only the thread whose partition
 * holds i calls it during a threaded workload. */
static void bench_mark(bench_thread *th, uint64_t i, int live)
{
    unsigned char *p = &th->b->present[i];
    if (*p && !live)
        th->live_delta--;
    else if (!*p && live)
        th->live_delta++;
    *p = (unsigned char)(live ? 1 : 0);
}

/* --- /proc figures -------------------------------------------------------- */

/* Reads the number after "field" (e.g. "VmRSS:") in a /proc file of this
 * process. Returns 0, or -1 when the file or field is not there (not Linux,
 * or /proc/self/io not readable). */
static int bench_proc_field(const char *path, const char *field, uint64_t *out)
{
    char line[256];
    size_t n_field = strlen(field);
    int rc = -1;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, n_field) == 0) {
            *out = strtoull(line + n_field, NULL, 10);
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

static void bench_anon_sample(bench_anon_sampler *s)
{
    uint64_t kb;
    if (bench_proc_field("/proc/self/status", "RssAnon:", &kb) != 0)
        return;
    if (kb > s->peak_kb)
        s->peak_kb = kb;
}

static void *bench_anon_sampler_main(void *arg)
{
    bench_anon_sampler *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        struct timespec ts;
        bench_anon_sample(s);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += BENCH_ANON_SAMPLE_MICROS * 1000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    bench_anon_sample(s);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void bench_anon_sampler_start(bench_anon_sampler *s)
{
    uint64_t kb;
    memset(s, 0, sizeof *s);
    s->known = bench_proc_field("/proc/self/status", "RssAnon:", &kb) == 0;
    if (!s->known)
        return;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->started =
        pthread_create(&s->thread, NULL, bench_anon_sampler_main, s) == 0;
}

/* Stops the sampler; returns the peak in KiB (0 if unknown). */
static uint64_t bench_anon_sampler_stop(bench_anon_sampler *s)
{
    if (!s->started)
        return 0;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    return s->peak_kb;
}

/* --- The database directory ----------------------------------------------- */

/* Sum of the sizes of the regular files in dir (and its subdirectories). */
static uint64_t bench_dir_bytes(const char *dir)
{
    uint64_t total = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
        else if (S_ISDIR(st.st_mode))
            total += bench_dir_bytes(path);
    }
    closedir(d);
    return total;
}

/* Whether dir holds the engine's marker file as a regular file. */
static int bench_has_marker(const bench *b)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", b->cfg.settings.db_path,
             b->engine->db_marker);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Counts dir's entries, dying if one is not a regular file: a database
 * directory of any of the engines holds only regular files. */
static int bench_count_db_entries(const bench *b, DIR *d)
{
    const char *dir = b->cfg.settings.db_path;
    struct dirent *de;
    int n_entries = 0;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            bench_die(
                "%s: not a database of engine %s (%s is not a regular file); "
                "refusing to delete it",
                dir, b->engine->name, de->d_name);
        n_entries++;
    }
    return n_entries;
}

/* Deletes the regular files the engine's destroy left in dir (stray files
 * of a directory already checked to be a database: the engine's info logs,
 * a file someone dropped in), then dir itself. */
static void bench_sweep_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (d == NULL) {
        if (errno == ENOENT)
            return;
        bench_die("%s: cannot open: %s", dir, strerror(errno));
    }
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || unlink(path) != 0)
            bench_die("%s: cannot delete what the engine left: %s", path,
                      strerror(errno ? errno : EISDIR));
    }
    closedir(d);
    if (rmdir(dir) != 0 && errno != ENOENT)
        bench_die("%s: cannot remove: %s", dir, strerror(errno));
}

/* Removes the database directory. To avoid destroying something that is not
 * a database (a mistyped --db), it refuses a directory that is not empty and
 * has no marker file of the engine, or that has anything but regular files
 * in it. The engine deletes its own files (its destroy call); whatever is
 * left is then swept, so the directory is surely gone. */
static void bench_destroy_db(bench *b)
{
    const char *dir = b->cfg.settings.db_path;
    DIR *d = opendir(dir);
    bench_err err;
    int n_entries;
    if (d == NULL) {
        if (errno == ENOENT)
            return;
        bench_die("%s: cannot open: %s", dir, strerror(errno));
    }
    n_entries = bench_count_db_entries(b, d);
    closedir(d);
    if (n_entries > 0 && !bench_has_marker(b))
        bench_die(
            "%s: not a database of engine %s (no %s); refusing to delete it",
            dir, b->engine->name, b->engine->db_marker);
    if (n_entries > 0)
        bench_check(b->engine->destroy(&b->cfg.settings, &err), &err,
                    "destroy");
    bench_sweep_dir(dir);
}

/* Opens the database with the run's settings, sync as given. */
static void bench_open(bench *b, int sync)
{
    bench_err err;
    bench_check(b->engine->open(&b->cfg.settings, sync, &b->db, &err), &err,
                "open");
}

/* Flushes the memtables (untimed) where the engine can, adds this open's
 * write counters to the run's totals, then closes: write amplification is
 * reported over the whole run, across the reopens that fills and fillsync
 * make. */
static void bench_close(bench *b)
{
    bench_err err;
    int rc;
    if (b->engine->flush != NULL)
        bench_check(b->engine->flush(b->db, &err), &err, "flush");
    if (b->engine->write_counters != NULL) {
        bench_write_counters c;
        bench_check(b->engine->write_counters(b->db, &c, &err), &err,
                    "write counters");
        b->counters.user_bytes += c.user_bytes;
        b->counters.table_bytes += c.table_bytes;
    }
    rc = b->engine->close(b->db, &err);
    b->db = NULL;
    bench_check(rc, &err, "close");
}

/* Starts a fill from an empty database, as db_bench does. */
static void bench_reset(bench *b, int sync)
{
    if (b->db != NULL)
        bench_close(b);
    bench_destroy_db(b);
    memset(b->present, 0, b->cfg.num);
    b->n_present = 0;
    bench_open(b, sync);
}

/* Learns which keys an existing database holds (untimed), so reads run
 * without a fill in this process can still be checked. */
static void bench_load_presence(bench *b)
{
    const bench_engine *e = b->engine;
    bench_iter *it = NULL;
    bench_err err;
    bench_check(e->iter_new(b->db, &it, &err), &err, "iterator");
    bench_check(e->iter_seek_to_first(it, &err), &err, "seek to first");
    while (e->iter_valid(it)) {
        size_t nkey;
        const void *key = e->iter_key(it, &nkey);
        uint64_t i;
        if (bench_parse_key(b, key, nkey, &i) == 0 && !b->present[i]) {
            b->present[i] = 1;
            b->n_present++;
        }
        bench_check(e->iter_next(it, &err), &err, "next");
    }
    e->iter_close(it);
}

/* Opens the database before the first workload unless that workload is a
 * fill (which starts from scratch anyway). A non-fill start needs an
 * existing database: opening any other directory would write engine files
 * into it. */
static void bench_open_existing(bench *b, const bench_workload *first)
{
    if (first->fills)
        return;
    if (!bench_has_marker(b))
        bench_die(
            "%s: no database of engine %s there (no %s); start --benchmarks "
            "with a fill",
            b->cfg.settings.db_path, b->engine->name, b->engine->db_marker);
    bench_open(b, 0);
    bench_load_presence(b);
}

/* --- Workloads ------------------------------------------------------------ */

static void bench_thread_check(bench_thread *th, int rc)
{
    bench_check(rc, &th->err, th->w->name);
}

/* Puts key i with a fresh value, leaving bench.present alone. */
static void bench_put_value(bench_thread *th, uint64_t i)
{
    const bench *b = th->b;
    bench_make_key(b, i, th->key);
    bench_make_value(th);
    bench_thread_check(th,
                       b->engine->put(b->db, th->key, b->cfg.key_size,
                                      th->value, b->cfg.value_size, &th->err));
    th->user_bytes += b->cfg.key_size + b->cfg.value_size;
}

/* Puts key i with a fresh value and marks it live. */
static void bench_put_one(bench_thread *th, uint64_t i)
{
    bench_put_value(th, i);
    bench_mark(th, i, 1);
}

/* fillseq: puts keys 0..n-1 in order (single-threaded). */
static bench_result bench_fillseq(bench_thread *th)
{
    for (uint64_t k = 0; k < th->n_ops; k++)
        bench_put_one(th, k);
    return (bench_result){th->n_ops, th->user_bytes};
}

/* fillrandom, overwrite, fillsync: puts random keys of the thread's own
 * partition, with replacement. */
static bench_result bench_write_random(bench_thread *th)
{
    for (uint64_t k = 0; k < th->n_ops; k++)
        bench_put_one(th, bench_rand_own_index(th));
    return (bench_result){th->n_ops, th->user_bytes};
}

/* Hands the engine the i-th put of the current batch of fillbatch. */
static void bench_batch_fill(void *ctx, size_t i, const void **key,
                             size_t *nkey, const void **value, size_t *nvalue)
{
    bench_thread *th = ctx;
    bench_make_key(th->b, th->batch_first + i, th->key);
    bench_make_value(th);
    *key = th->key;
    *nkey = th->b->cfg.key_size;
    *value = th->value;
    *nvalue = th->b->cfg.value_size;
}

/* Writes keys 0..num-1 in order through atomic batches of BENCH_BATCH_OPS. */
static bench_result bench_fillbatch(bench_thread *th)
{
    const bench *b = th->b;
    uint64_t n = th->n_ops;
    for (uint64_t first = 0; first < n; first += BENCH_BATCH_OPS) {
        size_t n_batch =
            (size_t)(n - first < BENCH_BATCH_OPS ? n - first : BENCH_BATCH_OPS);
        th->batch_first = first;
        bench_thread_check(th, b->engine->write_batch(b->db, n_batch,
                                                      bench_batch_fill, th,
                                                      &th->err));
        for (size_t i = 0; i < n_batch; i++)
            bench_mark(th, first + i, 1);
    }
    th->user_bytes = n * (b->cfg.key_size + b->cfg.value_size);
    return (bench_result){n, th->user_bytes};
}

/* Picks a random index whose key is live; the caller checks n_present > 0.
 * Rejection sampling keeps the distribution uniform over live keys. */
static uint64_t bench_rand_present(bench_thread *th)
{
    for (;;) {
        uint64_t i = bench_rand_index(th);
        if (th->b->present[i])
            return i;
    }
}

/* Gets random live keys; every one must be found with the right size.
 * Also the readers of readwhilewriting: there the background writer only
 * puts (a put never makes a live key dead) and leaves bench.present alone
 * until the join, so a key live when the workload began stays live while
 * they read, and the same check holds. Keys the writer makes live are never
 * picked (bench.present does not have them yet): whether a read finds such
 * a key depends on the race with the writer, so there is nothing to check.
 * Every value written has value_size bytes, so a value overwritten during
 * the read still has the size expected. */
static bench_result bench_readrandom(bench_thread *th)
{
    const bench *b = th->b;
    bench_result r = {0, 0};
    for (uint64_t k = 0; k < th->n_ops; k++) {
        uint64_t i = bench_rand_present(th);
        size_t nvalue = 0;
        int rc;
        bench_make_key(b, i, th->key);
        rc = b->engine->get(b->db, th->key, b->cfg.key_size, &nvalue, &th->err);
        if (rc == BENCH_NOTFOUND)
            bench_die("%s: key %.*s was written but not found", th->w->name,
                      (int)b->cfg.key_size, th->key);
        bench_thread_check(th, rc);
        if (nvalue != b->cfg.value_size)
            bench_die("%s: key %.*s has a %zu-byte value, expected %zu",
                      th->w->name, (int)b->cfg.key_size, th->key, nvalue,
                      b->cfg.value_size);
        r.n_ops++;
        r.n_bytes += b->cfg.key_size + nvalue;
    }
    return r;
}

/* Gets keys that were never written; none may be found. */
static bench_result bench_readmissing(bench_thread *th)
{
    const bench *b = th->b;
    for (uint64_t k = 0; k < th->n_ops; k++) {
        size_t nvalue = 0;
        int rc;
        bench_make_key(b, bench_rand_index(th), th->key);
        th->key[b->cfg.key_size] = '.';
        rc = b->engine->get(b->db, th->key, b->cfg.key_size + 1, &nvalue,
                            &th->err);
        if (rc == BENCH_OK)
            bench_die("readmissing: never-written key %.*s was found",
                      (int)b->cfg.key_size + 1, th->key);
        if (rc != BENCH_NOTFOUND)
            bench_thread_check(th, rc);
    }
    return (bench_result){th->n_ops, 0};
}

/* Scans the whole database; it must hold exactly the live keys, in order. */
static bench_result bench_readseq(bench_thread *th)
{
    const bench *b = th->b;
    const bench_engine *e = b->engine;
    bench_iter *it = NULL;
    bench_result r = {0, 0};
    uint64_t prev = 0;
    bench_thread_check(th, e->iter_new(b->db, &it, &th->err));
    bench_thread_check(th, e->iter_seek_to_first(it, &th->err));
    while (e->iter_valid(it)) {
        size_t nkey, nvalue;
        const void *key = e->iter_key(it, &nkey);
        uint64_t i;
        e->iter_value(it, &nvalue);
        if (bench_parse_key(b, key, nkey, &i) != 0 || !b->present[i] ||
            (r.n_ops > 0 && i <= prev))
            bench_die("readseq: unexpected key %.*s", (int)nkey,
                      (const char *)key);
        prev = i;
        r.n_ops++;
        r.n_bytes += nkey + nvalue;
        bench_thread_check(th, e->iter_next(it, &th->err));
    }
    e->iter_close(it);
    if (r.n_ops != b->n_present)
        bench_die("readseq: saw %" PRIu64 " keys, expected %" PRIu64, r.n_ops,
                  b->n_present);
    return r;
}

/* Opens an iterator at a random key and reads BENCH_SEEK_NEXTS entries.
 * When the key is live, the iterator must start on it. */
static bench_result bench_seekrandom(bench_thread *th)
{
    const bench *b = th->b;
    const bench_engine *e = b->engine;
    bench_result r = {0, 0};
    for (uint64_t k = 0; k < th->n_ops; k++) {
        uint64_t i = bench_rand_index(th);
        bench_iter *it = NULL;
        bench_make_key(b, i, th->key);
        bench_thread_check(th, e->iter_new(b->db, &it, &th->err));
        bench_thread_check(
            th, e->iter_seek(it, th->key, b->cfg.key_size, &th->err));
        if (b->present[i]) {
            size_t nkey = 0;
            const void *got = e->iter_valid(it) ? e->iter_key(it, &nkey) : NULL;
            if (got == NULL || nkey != b->cfg.key_size ||
                memcmp(got, th->key, nkey) != 0)
                bench_die("seekrandom: seek to live key %.*s did not land on "
                          "it",
                          (int)b->cfg.key_size, th->key);
        }
        for (int n = 0; n < BENCH_SEEK_NEXTS && e->iter_valid(it); n++) {
            size_t nkey, nvalue;
            e->iter_key(it, &nkey);
            e->iter_value(it, &nvalue);
            r.n_bytes += nkey + nvalue;
            bench_thread_check(th, e->iter_next(it, &th->err));
        }
        e->iter_close(it);
        r.n_ops++;
    }
    return r;
}

/* --- Prefix scans ---------------------------------------------------------
 *
 * fillprefix writes --num keys of the form GROUP/NNN (GROUP: key_size - 4
 * decimal digits, NNN three), so every prefix "GROUP/" (key_size - 3
 * bytes: give the engines --prefix_len that) holds about
 * BENCH_PREFIX_KEYS keys. Key index i is group i % G, number i / G (G =
 * num / BENCH_PREFIX_KEYS groups), and the k-th put writes index
 * k * BENCH_PREFIX_STEP mod num: every index once, in an order that
 * scatters each group's keys over the whole fill, so they end up in
 * different SSTs and levels, and most SSTs whose key range covers a group
 * hold none of its keys. That is the case a prefix filter is for.
 * scanprefix then reads --reads random groups, each with one prefix scan,
 * and checks it returns exactly the group's keys. They use keys of their
 * own: bench.present does not describe them, so run them on their own
 * (--benchmarks fillprefix,scanprefix). */

/* The number of prefix groups of the run. */
static uint64_t bench_prefix_groups(const bench *b)
{
    uint64_t g = b->cfg.num / BENCH_PREFIX_KEYS;
    return g ? g : 1;
}

/* Writes the prefix of group g ("GROUP/", key_size - 3 bytes) into buf. */
static size_t bench_make_prefix(const bench *b, uint64_t g, char *buf)
{
    size_t width = b->cfg.key_size - 4;
    snprintf(buf, width + 2, "%0*" PRIu64 "/", (int)width, g);
    return width + 1;
}

/* fillprefix: every key GROUP/NNN once, in the scattered order above. */
static bench_result bench_fillprefix(bench_thread *th)
{
    const bench *b = th->b;
    uint64_t num = b->cfg.num, groups = bench_prefix_groups(b);
    uint64_t step = BENCH_PREFIX_STEP % num ? BENCH_PREFIX_STEP % num : 1;
    for (uint64_t k = 0; k < th->n_ops; k++) {
        uint64_t i = (uint64_t)(((unsigned __int128)k * step) % num);
        size_t n = bench_make_prefix(b, i % groups, th->key);
        snprintf(th->key + n, 4, "%03" PRIu64, (i / groups) % 1000);
        bench_make_value(th);
        bench_thread_check(th, b->engine->put(b->db, th->key, b->cfg.key_size,
                                              th->value, b->cfg.value_size,
                                              &th->err));
        th->user_bytes += b->cfg.key_size + b->cfg.value_size;
    }
    return (bench_result){th->n_ops, th->user_bytes};
}

/* scanprefix: prefix scans of random groups, each checked to return
 * exactly the group's keys. */
static bench_result bench_scanprefix(bench_thread *th)
{
    const bench *b = th->b;
    const bench_engine *e = b->engine;
    uint64_t num = b->cfg.num, groups = bench_prefix_groups(b);
    bench_result r = {0, 0};
    char prefix[BENCH_MAX_KEY_BYTES + 1];
    for (uint64_t k = 0; k < th->n_ops; k++) {
        uint64_t g = bench_rng_next(&th->rng) % groups;
        uint64_t want = num / groups + (g < num % groups ? 1 : 0), got = 0;
        size_t np = bench_make_prefix(b, g, prefix);
        bench_iter *it = NULL;
        bench_thread_check(th, e->iter_new(b->db, &it, &th->err));
        bench_thread_check(th,
                           e->iter_seek_prefix
                               ? e->iter_seek_prefix(it, prefix, np, &th->err)
                               : e->iter_seek(it, prefix, np, &th->err));
        while (e->iter_valid(it)) {
            size_t nkey, nvalue;
            const void *key = e->iter_key(it, &nkey);
            if (nkey < np || memcmp(key, prefix, np) != 0)
                break; /* past the prefix */
            e->iter_value(it, &nvalue);
            r.n_bytes += nkey + nvalue;
            got++;
            bench_thread_check(th, e->iter_next(it, &th->err));
        }
        e->iter_close(it);
        if (got != want)
            bench_die("scanprefix: prefix %.*s has %" PRIu64
                      " keys, expected %" PRIu64 " (run fillprefix first)",
                      (int)np, prefix, got, want);
        r.n_ops++;
    }
    return r;
}

/* The background writer of readwhilewriting: puts random keys of the
 * whole key set (db_bench's writer does the same) until the main thread
 * says the readers have ended, at least once so its rate is never empty.
 * The readers read bench.present, so the writer only reads it too: the keys
 * it makes live go into its own born bitmap, merged after the join
 * (bench_merge_born). Returns the number of puts. */
static bench_result bench_write_until_stopped(bench_thread *th)
{
    const bench *b = th->b;
    double t0 = bench_now_micros();
    uint64_t n = 0;
    do {
        uint64_t i = bench_rand_index(th);
        bench_put_value(th, i);
        if (!b->present[i])
            th->born[i / 8] |= (unsigned char)(1u << (i % 8));
        n++;
    } while (!atomic_load(th->stop));
    th->write_micros = bench_now_micros() - t0;
    return (bench_result){n, th->user_bytes};
}

/* Deletes num random keys (with replacement; single-threaded). */
static bench_result bench_deleterandom(bench_thread *th)
{
    const bench *b = th->b;
    for (uint64_t k = 0; k < th->n_ops; k++) {
        uint64_t i = bench_rand_own_index(th);
        bench_make_key(b, i, th->key);
        bench_thread_check(
            th, b->engine->del(b->db, th->key, b->cfg.key_size, &th->err));
        bench_mark(th, i, 0);
        th->user_bytes += b->cfg.key_size;
    }
    return (bench_result){th->n_ops, 0};
}

/* Keys one range delete of deleterange covers, and the gets after it. */
#define BENCH_RANGE_KEYS 100
#define BENCH_RANGE_GETS 10

/* Deletes keys [i, i + n) one by one, as an application must on an engine
 * without range deletes: an iterator finds the live ones (LevelDB).
 * Returns how many it deleted. */
static uint64_t bench_delete_keys_between(bench_thread *th, uint64_t i,
                                          uint64_t n)
{
    const bench *b = th->b;
    const bench_engine *e = b->engine;
    bench_iter *it = NULL;
    uint64_t deleted = 0;
    char *hi = malloc(b->cfg.key_size + 1);
    if (!hi)
        bench_die("deleterange: out of memory");
    bench_make_key(b, i + n, hi);
    bench_make_key(b, i, th->key);
    bench_thread_check(th, e->iter_new(b->db, &it, &th->err));
    bench_thread_check(th,
                       e->iter_seek(it, th->key, b->cfg.key_size, &th->err));
    /* Keys have one length: memcmp orders them as the engines do. */
    while (e->iter_valid(it)) {
        size_t nkey;
        const void *key = e->iter_key(it, &nkey);
        if (nkey != b->cfg.key_size || memcmp(key, hi, nkey) >= 0)
            break;
        memcpy(th->key, key, nkey);
        bench_thread_check(th, e->del(b->db, th->key, nkey, &th->err));
        deleted++;
        bench_thread_check(th, e->iter_next(it, &th->err));
    }
    e->iter_close(it);
    free(hi);
    return deleted;
}

/* Gets BENCH_RANGE_GETS random keys; each must be found exactly when
 * bench.present says it is live. */
static void bench_check_gets(bench_thread *th, bench_result *r)
{
    const bench *b = th->b;
    for (int g = 0; g < BENCH_RANGE_GETS; g++) {
        uint64_t i = bench_rand_index(th);
        size_t nvalue = 0;
        bench_make_key(b, i, th->key);
        int rc =
            b->engine->get(b->db, th->key, b->cfg.key_size, &nvalue, &th->err);
        if ((rc == BENCH_NOTFOUND) == (b->present[i] != 0))
            bench_die("deleterange: key %.*s is %s, expected %s",
                      (int)b->cfg.key_size, th->key,
                      rc == BENCH_NOTFOUND ? "missing" : "there",
                      b->present[i] ? "there" : "missing");
        if (rc != BENCH_NOTFOUND)
            bench_thread_check(th, rc);
        r->n_bytes += b->cfg.key_size + nvalue;
    }
}

/* deleterange: each op deletes BENCH_RANGE_KEYS consecutive keys from a
 * random one (the engine's range delete, or key by key without one), then
 * gets BENCH_RANGE_GETS random keys, which must agree with what was
 * deleted. Single-threaded; --num / BENCH_RANGE_KEYS ops. */
static bench_result bench_deleterange(bench_thread *th)
{
    const bench *b = th->b;
    bench_result r = {0, 0};
    char *hi = malloc(b->cfg.key_size + 1);
    if (!hi)
        bench_die("deleterange: out of memory");
    for (uint64_t k = 0; k < th->n_ops; k++) {
        uint64_t n = BENCH_RANGE_KEYS, i = bench_rand_own_index(th);
        if (i + n > b->cfg.num)
            n = b->cfg.num - i;
        if (b->engine->del_range) {
            bench_make_key(b, i, th->key);
            bench_make_key(b, i + n, hi);
            bench_thread_check(
                th, b->engine->del_range(b->db, th->key, b->cfg.key_size, hi,
                                         b->cfg.key_size, &th->err));
        } else {
            bench_delete_keys_between(th, i, n);
        }
        for (uint64_t j = i; j < i + n; j++)
            bench_mark(th, j, 0);
        bench_check_gets(th, &r);
        r.n_ops++;
    }
    free(hi);
    return r;
}

/* One read-modify-write transaction: gets two distinct random keys (found
 * or not), puts both with fresh values, commits. A conflict (impossible on
 * one thread) writes nothing and is counted. */
static void bench_txn_rmw_one(bench_thread *th, int serializable,
                              bench_result *r)
{
    const bench *b = th->b;
    const bench_engine *e = b->engine;
    uint64_t idx[2];
    bench_txn *t = NULL;
    idx[0] = bench_rand_index(th);
    do
        idx[1] = bench_rand_index(th);
    while (idx[1] == idx[0] && b->cfg.num > 1);
    int n_keys = idx[1] == idx[0] ? 1 : 2;
    bench_thread_check(th, e->txn_begin(b->db, serializable, &t, &th->err));
    for (int k = 0; k < n_keys; k++) {
        size_t nvalue = 0;
        bench_make_key(b, idx[k], th->key);
        int rc = e->txn_get(t, th->key, b->cfg.key_size, &nvalue, &th->err);
        if (rc == BENCH_NOTFOUND ? b->present[idx[k]] : !b->present[idx[k]])
            bench_die("%s: key %.*s is %s, expected %s", th->w->name,
                      (int)b->cfg.key_size, th->key,
                      rc == BENCH_NOTFOUND ? "missing" : "there",
                      b->present[idx[k]] ? "there" : "missing");
        if (rc != BENCH_NOTFOUND)
            bench_thread_check(th, rc);
    }
    for (int k = 0; k < n_keys; k++) {
        bench_make_key(b, idx[k], th->key);
        bench_make_value(th);
        bench_thread_check(th,
                           e->txn_put(t, th->key, b->cfg.key_size, th->value,
                                      b->cfg.value_size, &th->err));
    }
    int rc = e->txn_commit(t, &th->err);
    r->n_ops++;
    if (rc == BENCH_CONFLICT) {
        th->n_conflicts++;
        return;
    }
    bench_thread_check(th, rc);
    for (int k = 0; k < n_keys; k++) {
        bench_mark(th, idx[k], 1);
        th->user_bytes += b->cfg.key_size + b->cfg.value_size;
        r->n_bytes += b->cfg.key_size + b->cfg.value_size;
    }
}

/* txnrmw: serializable read-modify-write transactions of 2 keys. */
static bench_result bench_txnrmw(bench_thread *th)
{
    bench_result r = {0, 0};
    for (uint64_t k = 0; k < th->n_ops; k++)
        bench_txn_rmw_one(th, 1, &r);
    return r;
}

/* txnrmw_si: the same under snapshot isolation. */
static bench_result bench_txnrmw_si(bench_thread *th)
{
    bench_result r = {0, 0};
    for (uint64_t k = 0; k < th->n_ops; k++)
        bench_txn_rmw_one(th, 0, &r);
    return r;
}

static const bench_workload bench_workloads[] = {
    /* name, run, fills, sync, threaded, writer, ops */
    {"fillseq", bench_fillseq, 1, 0, 0, 0, BENCH_OPS_NUM},
    {"fillrandom", bench_write_random, 1, 0, 1, 0, BENCH_OPS_NUM},
    {"overwrite", bench_write_random, 0, 0, 1, 0, BENCH_OPS_NUM},
    {"fillbatch", bench_fillbatch, 1, 0, 0, 0, BENCH_OPS_NUM},
    {"fillsync", bench_write_random, 1, 1, 1, 0, BENCH_OPS_SYNC},
    {"readrandom", bench_readrandom, 0, 0, 1, 0, BENCH_OPS_READS},
    {"readmissing", bench_readmissing, 0, 0, 1, 0, BENCH_OPS_READS},
    {"readseq", bench_readseq, 0, 0, 0, 0, BENCH_OPS_SCAN},
    {"seekrandom", bench_seekrandom, 0, 0, 1, 0, BENCH_OPS_READS},
    {"readwhilewriting", bench_readrandom, 0, 0, 1, 1, BENCH_OPS_READS},
    {"deleterandom", bench_deleterandom, 0, 0, 0, 0, BENCH_OPS_NUM},
    {"deleterange", bench_deleterange, 0, 0, 0, 0, BENCH_OPS_RANGE},
    {"txnrmw", bench_txnrmw, 0, 0, 0, 0, BENCH_OPS_TXN},
    {"txnrmw_si", bench_txnrmw_si, 0, 0, 0, 0, BENCH_OPS_TXN},
    {"fillprefix", bench_fillprefix, 1, 0, 0, 0, BENCH_OPS_NUM},
    {"scanprefix", bench_scanprefix, 0, 0, 1, 0, BENCH_OPS_READS},
};

/* The workload named name, or NULL. */
static const bench_workload *bench_find_workload(const char *name)
{
    for (size_t i = 0; i < sizeof bench_workloads / sizeof bench_workloads[0];
         i++)
        if (strcmp(name, bench_workloads[i].name) == 0)
            return &bench_workloads[i];
    return NULL;
}

/* Checks every name of the list before anything runs, so a typo never
 * costs a reset database or a half-finished run. Returns the first
 * workload. */
static const bench_workload *bench_check_names(const char *list)
{
    char *copy = strdup(list), *name, *save = NULL;
    const bench_workload *first = NULL;
    if (copy == NULL)
        bench_die("out of memory");
    for (name = strtok_r(copy, ",", &save); name != NULL;
         name = strtok_r(NULL, ",", &save)) {
        const bench_workload *w = bench_find_workload(name);
        if (w == NULL)
            bench_die("unknown benchmark %s", name);
        if (first == NULL)
            first = w;
    }
    free(copy);
    if (first == NULL)
        bench_die("--benchmarks: the list is empty");
    return first;
}

static uint64_t bench_total_ops(const bench *b, const bench_workload *w)
{
    switch (w->ops) {
    case BENCH_OPS_NUM:
        return b->cfg.num;
    case BENCH_OPS_SYNC: {
        uint64_t n = b->cfg.num / BENCH_SYNC_DIVISOR;
        return n < 1 ? 1 : n > BENCH_SYNC_MAX_OPS ? BENCH_SYNC_MAX_OPS : n;
    }
    case BENCH_OPS_READS:
        return b->cfg.reads;
    case BENCH_OPS_TXN:
        return b->cfg.num / BENCH_TXN_DIVISOR ? b->cfg.num / BENCH_TXN_DIVISOR
                                              : 1;
    case BENCH_OPS_RANGE:
        return b->cfg.num / BENCH_RANGE_KEYS ? b->cfg.num / BENCH_RANGE_KEYS
                                             : 1;
    case BENCH_OPS_SCAN:
        break;
    }
    return 0;
}

/* A worker thread: waits until every worker exists, so thread creation is
 * not timed, then runs its share. */
static void *bench_thread_main(void *arg)
{
    bench_thread *th = arg;
    pthread_barrier_wait(th->start);
    th->r = th->w->run(th);
    return NULL;
}

/* The background writer's thread: starts with the others, then writes
 * until stopped. */
static void *bench_writer_main(void *arg)
{
    bench_thread *th = arg;
    pthread_barrier_wait(th->start);
    th->r = bench_write_until_stopped(th);
    return NULL;
}

/* Sets up thread t of a workload's n threads, with n_ops operations. */
static void bench_thread_init(bench_thread *th, bench *b,
                              const bench_workload *w, unsigned t, unsigned n,
                              uint64_t n_ops, uint64_t salt)
{
    th->b = b;
    th->w = w;
    th->t = t;
    th->n_threads = n;
    th->n_ops = n_ops;
    bench_rng_seed(&th->rng, b->cfg.seed, salt, t);
    th->value = malloc(b->cfg.value_size ? b->cfg.value_size : 1);
    if (th->value == NULL)
        bench_die("out of memory");
}

/* Marks live the keys the background writer made live (after the join,
 * when no other thread runs), counting them in its live_delta. */
static void bench_merge_born(bench_thread *th)
{
    uint64_t num = th->b->cfg.num;
    for (uint64_t i = 0; i < num; i++)
        if (th->born[i / 8] != 0 && (th->born[i / 8] >> (i % 8) & 1u))
            bench_mark(th, i, 1);
}

/* Runs w's ops on n_threads threads (inline when there is one and no
 * background writer) and returns the summed result and, in
 * *elapsed_micros, the time from the common start to the last thread's
 * end. A workload with a writer gets one more thread, which writes until
 * the others have ended: it counts in neither the result nor the time, and
 * its puts and time go to b->bg_writes and b->bg_write_micros. Folds the
 * threads' live-key counts and user bytes into b. */
static bench_result bench_run_threads(bench *b, const bench_workload *w,
                                      uint64_t salt, double *elapsed_micros)
{
    unsigned n = w->threaded ? b->cfg.n_threads : 1;
    unsigned n_all = n + (w->writer ? 1 : 0);
    uint64_t total = bench_total_ops(b, w);
    bench_thread *ths = calloc(n_all, sizeof *ths);
    pthread_barrier_t start;
    atomic_int stop;
    bench_result r = {0, 0};
    double t0;
    if (ths == NULL)
        bench_die("out of memory");
    atomic_init(&stop, 0);
    for (unsigned t = 0; t < n; t++)
        bench_thread_init(&ths[t], b, w, t, n,
                          total / n + (t < total % n ? 1 : 0), salt);
    if (w->writer) {
        bench_thread_init(&ths[n], b, w, n, n_all, 0, salt);
        ths[n].stop = &stop;
        /* calloc'd pages stay untouched (and out of the RSS) until a key
         * is born in them. */
        ths[n].born = calloc(b->cfg.num / 8 + 1, 1);
        if (ths[n].born == NULL)
            bench_die("out of memory");
    }
    for (unsigned t = 0; t < n_all; t++)
        ths[t].start = &start;
    if (n_all == 1) {
        t0 = bench_now_micros();
        ths[0].r = w->run(&ths[0]);
    } else {
        int rc = pthread_barrier_init(&start, NULL, n_all + 1);
        if (rc != 0)
            bench_die("pthread_barrier_init: %s", strerror(rc));
        for (unsigned t = 0; t < n_all; t++) {
            rc = pthread_create(&ths[t].tid, NULL,
                                t < n ? bench_thread_main : bench_writer_main,
                                &ths[t]);
            if (rc != 0)
                bench_die("pthread_create: %s", strerror(rc));
        }
        pthread_barrier_wait(&start);
        t0 = bench_now_micros();
        for (unsigned t = 0; t < n; t++)
            pthread_join(ths[t].tid, NULL);
    }
    *elapsed_micros = bench_now_micros() - t0;
    if (w->writer) {
        atomic_store(&stop, 1);
        pthread_join(ths[n].tid, NULL);
        b->bg_writes = ths[n].r.n_ops;
        b->bg_write_micros = ths[n].write_micros;
        bench_merge_born(&ths[n]);
        free(ths[n].born);
    }
    if (n_all > 1)
        pthread_barrier_destroy(&start);
    for (unsigned t = 0; t < n_all; t++) {
        if (t < n) {
            r.n_ops += ths[t].r.n_ops;
            r.n_bytes += ths[t].r.n_bytes;
        }
        b->txn_conflicts += ths[t].n_conflicts;
        b->n_present = (uint64_t)((int64_t)b->n_present + ths[t].live_delta);
        b->user_bytes += ths[t].user_bytes;
        free(ths[t].value);
    }
    free(ths);
    return r;
}

/* Closes and reopens the database (untimed) with transactions on or off. */
static void bench_reopen_transactions(bench *b, int on)
{
    bench_close(b);
    b->cfg.settings.transactions = on;
    bench_open(b, 0);
}

/* Runs one workload, timed, and prints its line. salt seeds the workload's
 * random sequences. */
static void bench_run_one(bench *b, const bench_workload *w, uint64_t salt)
{
    bench_result r;
    double elapsed;
    int txn = w->ops == BENCH_OPS_TXN;
    if (txn && b->engine->txn_begin == NULL) {
        printf("%-12s : n/a (%s has no transactions)\n", w->name,
               b->engine->name);
        fflush(stdout);
        return;
    }
    if (w->fills)
        bench_reset(b, w->sync);
    if (txn)
        bench_reopen_transactions(b, 1);
    b->txn_conflicts = 0;
    b->bg_writes = 0;
    b->bg_write_micros = 0;
    if (w->run == bench_readrandom && b->n_present == 0)
        bench_die("%s: the database holds no keys (run a fill first)", w->name);
    r = bench_run_threads(b, w, salt, &elapsed);
    double micros_per_op = r.n_ops ? elapsed / (double)r.n_ops : 0.0;
    double ops_per_sec = elapsed > 0 ? (double)r.n_ops * 1e6 / elapsed : 0.0;
    printf("%-12s : %11.3f micros/op; %.0f ops/sec", w->name, micros_per_op,
           ops_per_sec);
    if (r.n_bytes > 0 && elapsed > 0)
        printf("; %.1f MB/s", (double)r.n_bytes / 1048576.0 / (elapsed / 1e6));
    if (txn)
        printf("; %" PRIu64 " conflicts", b->txn_conflicts);
    if (w->writer)
        printf("; writer %.0f ops/sec",
               b->bg_write_micros > 0
                   ? (double)b->bg_writes * 1e6 / b->bg_write_micros
                   : 0.0);
    printf("\n");
    fflush(stdout);
    if (txn)
        bench_reopen_transactions(b, 0);
    if (w->sync) { /* later workloads run without per-write sync */
        bench_close(b);
        bench_open(b, 0);
    }
}

/* --- Engines and options -------------------------------------------------- */

/* Every engine lsm-bench knows, built or not, with the Debian package that
 * provides it (NULL for lsm, which is always built). */
static const struct {
    const char *name;
    const bench_engine *engine; /* NULL: not built into this binary */
    const char *package;
} bench_engines[] = {
    {"lsm", &bench_engine_lsm, NULL},
#ifdef BENCH_HAVE_LEVELDB
    {"leveldb", &bench_engine_leveldb, "libleveldb-dev"},
#else
    {"leveldb", NULL, "libleveldb-dev"},
#endif
#ifdef BENCH_HAVE_ROCKSDB
    {"rocksdb", &bench_engine_rocksdb, "librocksdb-dev"},
#else
    {"rocksdb", NULL, "librocksdb-dev"},
#endif
};

/* The engine named name; dies naming the package to install when it was
 * not built in. */
static const bench_engine *bench_find_engine(const char *name)
{
    for (size_t i = 0; i < sizeof bench_engines / sizeof bench_engines[0];
         i++) {
        if (strcmp(name, bench_engines[i].name) != 0)
            continue;
        if (bench_engines[i].engine == NULL)
            bench_die("--engine %s: this lsm-bench was built without %s (meson "
                      "did not find it). Install Debian's %s, then "
                      "reconfigure the build directory (meson setup "
                      "--reconfigure BUILDDIR) and rebuild",
                      name, name, bench_engines[i].package);
        return bench_engines[i].engine;
    }
    bench_die("--engine: lsm, leveldb or rocksdb: %s", name);
}

static void bench_usage(FILE *f)
{
    fprintf(
        f,
        "usage: lsm-bench [--flag value | --flag=value]...\n"
        "  --engine NAME         lsm, leveldb or rocksdb (default lsm; built "
        "in: lsm"
#ifdef BENCH_HAVE_LEVELDB
        " leveldb"
#endif
#ifdef BENCH_HAVE_ROCKSDB
        " rocksdb"
#endif
        ")\n"
        "  --benchmarks LIST     comma list (default " BENCH_DEFAULT_BENCHMARKS
        ")\n"
        "                        (also deleterange: num/100 range deletes of\n"
        "                        100 keys, each followed by 10 gets)\n"
        "  --num N               keys (default 1000000)\n"
        "  --reads N             reads for read workloads and "
        "readwhilewriting\n"
        "                        (default num)\n"
        "                        (txnrmw, txnrmw_si: num/10 transactions;\n"
        "                        n/a on engines without transactions)\n"
        "  --threads N           threads for fillsync, fillrandom, overwrite,\n"
        "                        readrandom, readmissing, seekrandom (default "
        "1;\n"
        "                        the other workloads run on one thread);\n"
        "                        readwhilewriting: N readers and one writer\n"
        "  --key_size N          key bytes (default 16)\n"
        "  --value_size N        value bytes (default 100)\n"
        "  --seed N              random seed (default 301)\n"
        "  --db DIR              database directory (default "
        "/tmp/lsm-bench-ENGINE)\n"
        "  --target_sst_size N   --block_size N  --block_cache_bytes N\n"
        "                        (every engine; defaults: lsm's)\n"
        "  --num_memtable_limit N  (lsm and rocksdb)\n"
        "  --compaction none|simple|tiered|leveled  (lsm only)\n"
        "  --threads_mode on|off background flush/compaction (lsm only; "
        "default on)\n"
        "  --mmap_reads on|off   read SSTs through mmap (lsm only; default "
        "off,\n"
        "                        as lsm_options.mmap_reads)\n"
        "  --leveled_pick oldest|min-overlap  SST a level pushes down (lsm "
        "only;\n"
        "                        default min-overlap, as RocksDB)\n"
        "  --level_sizes dynamic|static  leveled target sizes (lsm only; "
        "default\n"
        "                        static, L1 10 MiB, as LevelDB)\n"
        "  --memtable_bloom on|off  bloom filters in memtables (lsm only; "
        "default on,\n"
        "                        as lsm_options.memtable_bloom)\n"
        "  --cache_index_and_filter_blocks on|off  SST index and filter in\n"
        "                        the block cache (lsm and rocksdb; default\n"
        "                        off, as both engines)\n"
        "  --prefix_len N        fixed-length prefix extractor (lsm and "
        "rocksdb;\n"
        "                        default 0, none); fillprefix and "
        "scanprefix\n"
        "                        (not in the default list) write keys\n"
        "                        GROUP/NNN and scan one GROUP/ each: give\n"
        "                        --prefix_len key_size-3 for prefix "
        "filters\n"
        "  --compression none|lz4|zstd|snappy  block compression (default "
        "none;\n"
        "                        lz4, zstd: lsm and rocksdb; snappy: leveldb "
        "and\n"
        "                        rocksdb)\n"
        "  --compression_level N zstd's level (lsm and rocksdb; default 0: "
        "zstd's)\n");
}

static uint64_t bench_parse_u64(const char *flag, const char *s)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
        bench_die("%s: not a non-negative integer: %s", flag, s);
    return (uint64_t)v;
}

static size_t bench_parse_size(const char *flag, const char *s)
{
    uint64_t v = bench_parse_u64(flag, s);
    if (v > SIZE_MAX)
        bench_die("%s: too large: %s", flag, s);
    return (size_t)v;
}

/* "on" or "1": 1; "off" or "0": 0; else dies naming the flag. */
static int bench_parse_on_off(const char *flag, const char *v)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "1") == 0)
        return 1;
    if (strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
        return 0;
    bench_die("%s: on or off: %s", flag, v);
}

/* Parses a compression level: a whole number, negative allowed (zstd's
 * fast levels); the engine checks its range. */
static int bench_parse_level(const char *flag, const char *v)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < INT_MIN || n > INT_MAX)
        bench_die("%s: a whole number: %s", flag, v);
    return (int)n;
}

/* Applies one engine setting flag; returns -1 if flag is not one. */
static int bench_apply_setting(bench_settings *s, const char *flag,
                               const char *v)
{
    if (strcmp(flag, "--db") == 0)
        s->db_path = v;
    else if (strcmp(flag, "--target_sst_size") == 0)
        s->target_sst_size = bench_parse_size(flag, v);
    else if (strcmp(flag, "--block_size") == 0)
        s->block_size = bench_parse_size(flag, v);
    else if (strcmp(flag, "--block_cache_bytes") == 0)
        s->block_cache_bytes = bench_parse_size(flag, v);
    else if (strcmp(flag, "--num_memtable_limit") == 0) {
        s->num_memtable_limit = bench_parse_size(flag, v);
        s->num_memtable_limit_given = 1;
    } else if (strcmp(flag, "--compaction") == 0) {
        s->compaction = v; /* checked by the engine */
        s->compaction_given = 1;
    } else if (strcmp(flag, "--threads_mode") == 0) {
        s->threads_mode = bench_parse_on_off(flag, v);
        s->threads_mode_given = 1;
    } else if (strcmp(flag, "--mmap_reads") == 0) {
        s->mmap_reads = bench_parse_on_off(flag, v);
        s->mmap_reads_given = 1;
    } else if (strcmp(flag, "--leveled_pick") == 0) {
        s->leveled_pick = v; /* checked by the engine */
        s->leveled_pick_given = 1;
    } else if (strcmp(flag, "--level_sizes") == 0) {
        s->level_sizes = v; /* checked by the engine */
        s->level_sizes_given = 1;
    } else if (strcmp(flag, "--memtable_bloom") == 0) {
        s->memtable_bloom = bench_parse_on_off(flag, v);
        s->memtable_bloom_given = 1;
    } else if (strcmp(flag, "--prefix_len") == 0) {
        uint64_t n = bench_parse_u64(flag, v);
        if (n > BENCH_MAX_KEY_BYTES)
            bench_die("--prefix_len must be 0 to %d", BENCH_MAX_KEY_BYTES);
        s->prefix_len = (unsigned)n;
    } else if (strcmp(flag, "--cache_index_and_filter_blocks") == 0) {
        s->cache_index_and_filter_blocks = bench_parse_on_off(flag, v);
        s->cache_index_and_filter_blocks_given = 1;
    } else if (strcmp(flag, "--compression") == 0) {
        s->compression = v; /* checked by the engine */
    } else if (strcmp(flag, "--compression_level") == 0) {
        s->compression_level = bench_parse_level(flag, v);
    } else
        return -1;
    return 0;
}

/* Applies one flag with its value; returns -1 for an unknown flag. */
static int bench_apply_flag(bench_config *c, const char *flag, const char *v)
{
    if (strcmp(flag, "--num") == 0)
        c->num = bench_parse_u64(flag, v);
    else if (strcmp(flag, "--reads") == 0) {
        c->reads = bench_parse_u64(flag, v);
        c->reads_set = 1;
    } else if (strcmp(flag, "--key_size") == 0)
        c->key_size = bench_parse_size(flag, v);
    else if (strcmp(flag, "--value_size") == 0)
        c->value_size = bench_parse_size(flag, v);
    else if (strcmp(flag, "--seed") == 0)
        c->seed = bench_parse_u64(flag, v);
    else if (strcmp(flag, "--threads") == 0) {
        uint64_t n = bench_parse_u64(flag, v);
        if (n < 1 || n > BENCH_MAX_THREADS)
            bench_die("--threads must be 1 to %d", BENCH_MAX_THREADS);
        c->n_threads = (unsigned)n;
    } else if (strcmp(flag, "--engine") == 0)
        c->engine_name = v;
    else if (strcmp(flag, "--benchmarks") == 0)
        c->benchmarks = v;
    else
        return bench_apply_setting(&c->settings, flag, v);
    return 0;
}

/* Checks the parsed configuration as a whole. */
static void bench_check_config(const bench_config *c)
{
    char digits[32];
    int n_digits;
    if (c->num == 0)
        bench_die("--num must be at least 1");
    if (c->n_threads > c->num)
        bench_die("--threads %u is more than --num %" PRIu64, c->n_threads,
                  c->num);
    if (c->key_size == 0 || c->key_size > BENCH_MAX_KEY_BYTES)
        bench_die("--key_size must be 1 to %d", BENCH_MAX_KEY_BYTES);
    if (c->value_size / 2 + 1 > BENCH_RANDOM_POOL_BYTES / 2)
        bench_die("--value_size must be below %u", BENCH_RANDOM_POOL_BYTES);
    /* The largest index, num - 1, must fit in key_size digits. */
    n_digits = snprintf(digits, sizeof digits, "%" PRIu64, c->num - 1);
    if ((size_t)n_digits > c->key_size)
        bench_die("--key_size %zu is too short for --num %" PRIu64, c->key_size,
                  c->num);
    /* fillprefix's keys: GROUP/NNN, the groups in key_size - 4 digits. */
    if (strstr(c->benchmarks, "prefix") &&
        (c->key_size < 5 || (size_t)n_digits > c->key_size - 4))
        bench_die("--key_size %zu is too short for the prefix workloads at "
                  "--num %" PRIu64 " (groups take key_size - 4 digits)",
                  c->key_size, c->num);
}

/* Parses argv into *c, with db_bench's defaults and lsm's engine settings,
 * and checks the result. */
static void bench_parse_args(bench_config *c, int argc, char **argv)
{
    bench_settings_defaults(&c->settings);
    c->num = 1000000;
    c->key_size = 16;
    c->value_size = 100;
    c->seed = 301;
    c->n_threads = 1;
    c->engine_name = "lsm";
    c->benchmarks = BENCH_DEFAULT_BENCHMARKS;
    for (int i = 1; i < argc; i++) {
        char flag[64];
        const char *eq = strchr(argv[i], '=');
        const char *value;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            bench_usage(stdout);
            exit(0);
        }
        if (eq != NULL && (size_t)(eq - argv[i]) < sizeof flag) {
            memcpy(flag, argv[i], (size_t)(eq - argv[i]));
            flag[eq - argv[i]] = '\0';
            value = eq + 1;
        } else {
            if (i + 1 >= argc || strlen(argv[i]) >= sizeof flag) {
                bench_usage(stderr);
                bench_die("%s: missing value or unknown flag", argv[i]);
            }
            snprintf(flag, sizeof flag, "%s", argv[i]);
            value = argv[++i];
        }
        if (bench_apply_flag(c, flag, value) != 0) {
            bench_usage(stderr);
            bench_die("unknown flag %s", flag);
        }
    }
    if (!c->reads_set)
        c->reads = c->num;
    if (c->settings.db_path == NULL) {
        snprintf(c->default_db_path, sizeof c->default_db_path,
                 "/tmp/lsm-bench-%s", c->engine_name);
        c->settings.db_path = c->default_db_path;
    }
    bench_check_config(c);
}

/* --- Main ----------------------------------------------------------------- */

/* Records the RSS and the bytes written so far, before the first open, so
 * the report can tell the engine's share from the bench's own. */
static void bench_note_start(bench *b)
{
    b->rss_start_known =
        bench_proc_field("/proc/self/status", "VmRSS:", &b->rss_start_kb) == 0;
    if (bench_proc_field("/proc/self/status", "RssAnon:", &b->anon_start_kb) !=
        0)
        b->anon_start_kb = 0;
    bench_anon_sampler_start(&b->anon);
    b->wchar_start_known =
        bench_proc_field("/proc/self/io", "wchar:", &b->wchar_start) == 0;
}

/* Prints the write amplification lines: the engine's own table bytes over
 * user bytes (lsm), and, for every engine, the bytes the whole process
 * passed to write(2) since the start (WAL, tables, manifest, info logs)
 * over the key + value bytes the workloads wrote. */
static void bench_report_writes(const bench *b)
{
    uint64_t wchar;
    if (!b->have_counters)
        printf("write amp    : n/a (%s has no table byte counters; see io "
               "written)\n",
               b->engine->name);
    else if (b->counters.user_bytes > 0)
        printf("write amp    : %.2f (%" PRIu64 " SST bytes / %" PRIu64
               " user bytes)\n",
               (double)b->counters.table_bytes / (double)b->counters.user_bytes,
               b->counters.table_bytes, b->counters.user_bytes);
    else
        printf("write amp    : n/a (nothing written)\n");
    if (!b->wchar_start_known ||
        bench_proc_field("/proc/self/io", "wchar:", &wchar) != 0)
        printf("io written   : n/a (/proc/self/io not readable)\n");
    else if (b->user_bytes > 0)
        printf("io written   : %.1f MB, %.2fx user bytes\n",
               (double)(wchar - b->wchar_start) / 1048576.0,
               (double)(wchar - b->wchar_start) / (double)b->user_bytes);
    else
        printf("io written   : %.1f MB (nothing written by the workloads)\n",
               (double)(wchar - b->wchar_start) / 1048576.0);
}

/* Closes the database and prints the end-of-run figures: peak RSS (and the
 * RSS before the first open), size on disk, and write amplification. */
static void bench_report_totals(bench *b)
{
    struct rusage ru;
    uint64_t db_bytes;
    if (b->db != NULL)
        bench_close(b);
    getrusage(RUSAGE_SELF, &ru);
    db_bytes = bench_dir_bytes(b->cfg.settings.db_path);
    if (b->rss_start_known)
        printf("peak RSS     : %.1f MB (%.1f MB before the first open)\n",
               (double)ru.ru_maxrss / 1024.0, (double)b->rss_start_kb / 1024.0);
    else
        printf("peak RSS     : %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    uint64_t anon_kb = bench_anon_sampler_stop(&b->anon);
    if (anon_kb > 0)
        printf("peak anon    : %.1f MB (%.1f MB before the first open; heap "
               "and stacks, sampled every %d ms)\n",
               (double)anon_kb / 1024.0, (double)b->anon_start_kb / 1024.0,
               BENCH_ANON_SAMPLE_MICROS / 1000);
    printf("db size      : %.1f MB (%" PRIu64 " bytes in %s)\n",
           (double)db_bytes / 1048576.0, db_bytes, b->cfg.settings.db_path);
    bench_report_writes(b);
}

/* Prints the header: engine and version, the run's shape, and the engine's
 * own options derived from the settings. */
static void bench_print_header(const bench *b)
{
    char version[128], options[1024];
    b->engine->version(version, sizeof version);
    b->engine->describe(&b->cfg.settings, options, sizeof options);
    printf("lsm-bench: %s, keys %zu bytes, values %zu bytes, num %" PRIu64
           ", reads %" PRIu64 ", threads %u, db %s\n",
           version, b->cfg.key_size, b->cfg.value_size, b->cfg.num,
           b->cfg.reads, b->cfg.n_threads, b->cfg.settings.db_path);
    printf("settings     : %s\n", options);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    bench b;
    bench_err err;
    bench_rng pool_rng;
    const bench_workload *first;
    char *list, *name, *save = NULL;
    uint64_t salt = 0;
    memset(&b, 0, sizeof b);
    bench_parse_args(&b.cfg, argc, argv);
    b.engine = bench_find_engine(b.cfg.engine_name);
    bench_check(b.engine->check_settings(&b.cfg.settings, &err), &err,
                b.engine->name);
    b.have_counters = b.engine->write_counters != NULL;
    first = bench_check_names(b.cfg.benchmarks);
    /* malloc + memset, not calloc: the pages are touched now, so the RSS
     * before the first open counts the bench's own memory. */
    b.present = malloc(b.cfg.num);
    b.random_pool = malloc(BENCH_RANDOM_POOL_BYTES);
    list = strdup(b.cfg.benchmarks);
    if (!b.present || !b.random_pool || !list)
        bench_die("out of memory");
    memset(b.present, 0, b.cfg.num);
    bench_rng_seed(&pool_rng, b.cfg.seed, UINT64_MAX - 1, 0);
    for (size_t i = 0; i < BENCH_RANDOM_POOL_BYTES; i++)
        b.random_pool[i] = (unsigned char)(bench_rng_next(&pool_rng) >> 56);

    bench_print_header(&b);
    bench_note_start(&b);
    bench_open_existing(&b, first);
    for (name = strtok_r(list, ",", &save); name != NULL;
         name = strtok_r(NULL, ",", &save))
        bench_run_one(&b, bench_find_workload(name), salt++);
    bench_report_totals(&b);
    free(list);
    free(b.random_pool);
    free(b.present);
    return 0;
}
