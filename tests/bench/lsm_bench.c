/*
 * lsm_bench.c: lsm-bench, a db_bench-style benchmark of the lsm engine.
 *
 * It runs the workloads named by --benchmarks, in order, against one database
 * directory through the public API (lsm.h) only, and prints one line per
 * workload: "name : X micros/op; Y ops/sec; Z MB/s". At the end it prints the
 * peak RSS, the size of the database on disk and the write amplification.
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
 *     empty or holds a MANIFEST, and only its regular files) and reopens it.
 *
 * Thread safety: single-threaded; the engine may run its own background
 * threads (--threads_mode on).
 */
#include "lsm.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BENCH_BATCH_OPS 1000
#define BENCH_SEEK_NEXTS 10
#define BENCH_RANDOM_POOL_BYTES (1u << 20)
#define BENCH_MAX_KEY_BYTES 1024
#define BENCH_DEFAULT_BENCHMARKS                                               \
    "fillseq,fillsync,fillrandom,overwrite,fillbatch,readrandom,readmissing,"  \
    "readseq,seekrandom,deleterandom"

/* Command-line settings. */
typedef struct bench_config {
    uint64_t num;
    uint64_t reads;
    int reads_set;
    size_t key_size;
    size_t value_size;
    uint64_t seed;
    const char *db_path;
    const char *benchmarks;
    lsm_options opt;
} bench_config;

/* The run's state: the open database, the key presence map, value data. */
typedef struct bench {
    bench_config cfg;
    lsm_db *db;
    unsigned char *present; /* one byte per key index */
    uint64_t n_present;
    unsigned char *random_pool; /* BENCH_RANDOM_POOL_BYTES seeded bytes */
    size_t pool_pos;
    unsigned char *value; /* value_size bytes, rebuilt per write */
    uint64_t rng;
    uint64_t user_bytes; /* key + value bytes written, over all opens */
    uint64_t sst_bytes;  /* SST bytes written by flushes and compactions */
} bench;

/* One timed workload's result. */
typedef struct bench_result {
    uint64_t n_ops;
    uint64_t n_bytes; /* 0: MB/s does not apply */
} bench_result;

/* Prints a formatted message to stderr and exits 1: the benchmark cannot
 * give meaningful numbers after an error or a correctness mismatch. */
static void bench_die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "lsm-bench: error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* Exits with the engine's detailed message when rc is an error. */
static void bench_check(int rc, const char *what)
{
    if (rc != LSM_OK)
        bench_die("%s: %s (%s)", what, lsm_strerror(rc), lsm_errmsg());
}

/* xorshift64*: fast, seedable, good enough for picking keys. */
static uint64_t bench_rand(bench *b)
{
    b->rng ^= b->rng >> 12;
    b->rng ^= b->rng << 25;
    b->rng ^= b->rng >> 27;
    return b->rng * 2685821657736338717ull;
}

/* Seeds the generator so each workload's key sequence depends only on
 * --seed and the workload's position, never on what ran before it. */
static void bench_seed(bench *b, uint64_t salt)
{
    uint64_t z = b->cfg.seed + 0x9e3779b97f4a7c15ull * (salt + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    b->rng = z ? z : 1;
}

static uint64_t bench_rand_index(bench *b)
{
    return bench_rand(b) % b->cfg.num;
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

/* Fills b->value: the first half repeats a short pattern (compressible),
 * the second half is taken from the seeded random pool (incompressible). */
static void bench_make_value(bench *b)
{
    static const char pattern[] = "lsm-bench!";
    size_t n_half = b->cfg.value_size / 2;
    size_t n_rand = b->cfg.value_size - n_half;
    for (size_t i = 0; i < n_half; i++)
        b->value[i] = (unsigned char)pattern[i % (sizeof pattern - 1)];
    if (b->pool_pos + n_rand > BENCH_RANDOM_POOL_BYTES)
        b->pool_pos = 0;
    memcpy(b->value + n_half, b->random_pool + b->pool_pos, n_rand);
    b->pool_pos += 1 + bench_rand(b) % 64;
}

static void bench_mark(bench *b, uint64_t i, int live)
{
    if (b->present[i] && !live)
        b->n_present--;
    else if (!b->present[i] && live)
        b->n_present++;
    b->present[i] = (unsigned char)(live ? 1 : 0);
}

/* --- The database directory --------------------------------------------- */

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

/* Removes the database directory. To avoid destroying something that is not
 * a database (a mistyped --db), it refuses a directory that is not empty and
 * has no MANIFEST, or that has anything but regular files in it. */
static void bench_destroy_db(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    DIR *d = opendir(dir);
    struct dirent *de;
    int has_manifest, n_entries = 0;
    if (d == NULL) {
        if (errno == ENOENT)
            return;
        bench_die("%s: cannot open: %s", dir, strerror(errno));
    }
    snprintf(path, sizeof path, "%s/MANIFEST", dir);
    has_manifest = stat(path, &st) == 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            bench_die("%s: not an lsm database (%s is not a regular file); "
                      "refusing to delete it",
                      dir, de->d_name);
        n_entries++;
    }
    if (n_entries > 0 && !has_manifest)
        bench_die("%s: not an lsm database (no MANIFEST); refusing to delete "
                  "it",
                  dir);
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path) != 0)
            bench_die("%s: cannot delete: %s", path, strerror(errno));
    }
    closedir(d);
    if (rmdir(dir) != 0)
        bench_die("%s: cannot remove: %s", dir, strerror(errno));
}

/* Opens the database with the configured options, sync as given. */
static void bench_open(bench *b, int sync)
{
    lsm_options opt = b->cfg.opt;
    opt.sync = sync;
    bench_check(lsm_open(b->cfg.db_path, &opt, &b->db), b->cfg.db_path);
}

/* Flushes the memtables (untimed), adds this open's write counters to the
 * run's totals, then closes: write amplification is reported over the whole
 * run, across the reopens that fills and fillsync make. */
static void bench_close(bench *b)
{
    lsm_state *st = NULL;
    int rc;
    bench_check(lsm_flush(b->db), "lsm_flush");
    bench_check(lsm_state_get(b->db, &st), "lsm_state_get");
    b->user_bytes += st->counters.user_bytes_written;
    b->sst_bytes += st->counters.flush_bytes_written +
                    st->counters.compaction_bytes_written;
    lsm_state_free(st);
    rc = lsm_close(b->db);
    b->db = NULL;
    bench_check(rc, "lsm_close");
}

/* Starts a fill from an empty database, as db_bench does. */
static void bench_reset(bench *b, int sync)
{
    if (b->db != NULL)
        bench_close(b);
    bench_destroy_db(b->cfg.db_path);
    memset(b->present, 0, b->cfg.num);
    b->n_present = 0;
    bench_open(b, sync);
}

/* Learns which keys an existing database holds (untimed), so reads run
 * without a fill in this process can still be checked. */
static void bench_load_presence(bench *b)
{
    lsm_iter *it = NULL;
    bench_check(lsm_scan(b->db, NULL, NULL, &it), "lsm_scan");
    while (lsm_iter_valid(it)) {
        size_t nkey;
        const void *key = lsm_iter_key(it, &nkey);
        uint64_t i;
        if (bench_parse_key(b, key, nkey, &i) == 0)
            bench_mark(b, i, 1);
        bench_check(lsm_iter_next(it), "lsm_iter_next");
    }
    lsm_iter_close(it);
}

/* Opens the database before the first workload unless that workload is a
 * fill (which starts from scratch anyway). A non-fill start needs an
 * existing database: opening any other directory would write engine files
 * into it. */
static void bench_open_existing(bench *b, const char *list)
{
    char path[PATH_MAX];
    struct stat st;
    if (strncmp(list, "fill", 4) == 0)
        return;
    snprintf(path, sizeof path, "%s/MANIFEST", b->cfg.db_path);
    if (stat(path, &st) != 0)
        bench_die("%s: no database there; start --benchmarks with a fill",
                  b->cfg.db_path);
    bench_open(b, 0);
    bench_load_presence(b);
}

/* --- Workloads ------------------------------------------------------------ */

/* Puts n keys, in order (seq) or random with replacement. */
static bench_result bench_write(bench *b, uint64_t n, int seq)
{
    char key[BENCH_MAX_KEY_BYTES];
    for (uint64_t k = 0; k < n; k++) {
        uint64_t i = seq ? k : bench_rand_index(b);
        bench_make_key(b, i, key);
        bench_make_value(b);
        bench_check(
            lsm_put(b->db, key, b->cfg.key_size, b->value, b->cfg.value_size),
            "lsm_put");
        bench_mark(b, i, 1);
    }
    return (bench_result){n, n * (b->cfg.key_size + b->cfg.value_size)};
}

/* Writes keys 0..num-1 in order through atomic batches of BENCH_BATCH_OPS. */
static bench_result bench_fillbatch(bench *b)
{
    char key[BENCH_MAX_KEY_BYTES];
    lsm_batch *batch = NULL;
    uint64_t n = b->cfg.num;
    bench_check(lsm_batch_new(&batch), "lsm_batch_new");
    for (uint64_t k = 0; k < n; k++) {
        bench_make_key(b, k, key);
        bench_make_value(b);
        bench_check(lsm_batch_put(batch, key, b->cfg.key_size, b->value,
                                  b->cfg.value_size),
                    "lsm_batch_put");
        bench_mark(b, k, 1);
        if (lsm_batch_count(batch) == BENCH_BATCH_OPS || k + 1 == n) {
            bench_check(lsm_write(b->db, batch), "lsm_write");
            lsm_batch_clear(batch);
        }
    }
    lsm_batch_free(batch);
    return (bench_result){n, n * (b->cfg.key_size + b->cfg.value_size)};
}

/* Picks a random index whose key is live; the caller checks n_present > 0.
 * Rejection sampling keeps the distribution uniform over live keys. */
static uint64_t bench_rand_present(bench *b)
{
    for (;;) {
        uint64_t i = bench_rand_index(b);
        if (b->present[i])
            return i;
    }
}

/* Gets random live keys; every one must be found with the right size. */
static bench_result bench_readrandom(bench *b)
{
    char key[BENCH_MAX_KEY_BYTES];
    bench_result r = {0, 0};
    if (b->n_present == 0)
        bench_die("readrandom: the database holds no keys (run a fill first)");
    for (uint64_t k = 0; k < b->cfg.reads; k++) {
        uint64_t i = bench_rand_present(b);
        void *value = NULL;
        size_t nvalue = 0;
        int rc;
        bench_make_key(b, i, key);
        rc = lsm_get(b->db, key, b->cfg.key_size, &value, &nvalue);
        if (rc == LSM_NOTFOUND)
            bench_die("readrandom: key %.*s was written but not found",
                      (int)b->cfg.key_size, key);
        bench_check(rc, "lsm_get");
        if (nvalue != b->cfg.value_size)
            bench_die("readrandom: key %.*s has a %zu-byte value, expected "
                      "%zu",
                      (int)b->cfg.key_size, key, nvalue, b->cfg.value_size);
        lsm_free(value);
        r.n_ops++;
        r.n_bytes += b->cfg.key_size + nvalue;
    }
    return r;
}

/* Gets keys that were never written; none may be found. */
static bench_result bench_readmissing(bench *b)
{
    char key[BENCH_MAX_KEY_BYTES + 1];
    for (uint64_t k = 0; k < b->cfg.reads; k++) {
        void *value = NULL;
        size_t nvalue = 0;
        int rc;
        bench_make_key(b, bench_rand_index(b), key);
        key[b->cfg.key_size] = '.';
        rc = lsm_get(b->db, key, b->cfg.key_size + 1, &value, &nvalue);
        if (rc == LSM_OK)
            bench_die("readmissing: never-written key %.*s was found",
                      (int)b->cfg.key_size + 1, key);
        if (rc != LSM_NOTFOUND)
            bench_check(rc, "lsm_get");
    }
    return (bench_result){b->cfg.reads, 0};
}

/* Scans the whole database; it must hold exactly the live keys, in order. */
static bench_result bench_readseq(bench *b)
{
    lsm_iter *it = NULL;
    bench_result r = {0, 0};
    uint64_t prev = 0;
    bench_check(lsm_scan(b->db, NULL, NULL, &it), "lsm_scan");
    while (lsm_iter_valid(it)) {
        size_t nkey, nvalue;
        const void *key = lsm_iter_key(it, &nkey);
        uint64_t i;
        lsm_iter_value(it, &nvalue);
        if (bench_parse_key(b, key, nkey, &i) != 0 || !b->present[i] ||
            (r.n_ops > 0 && i <= prev))
            bench_die("readseq: unexpected key %.*s", (int)nkey,
                      (const char *)key);
        prev = i;
        r.n_ops++;
        r.n_bytes += nkey + nvalue;
        bench_check(lsm_iter_next(it), "lsm_iter_next");
    }
    lsm_iter_close(it);
    if (r.n_ops != b->n_present)
        bench_die("readseq: saw %" PRIu64 " keys, expected %" PRIu64, r.n_ops,
                  b->n_present);
    return r;
}

/* Opens a scan at a random key and reads BENCH_SEEK_NEXTS entries. When the
 * key is live, the scan must start on it. */
static bench_result bench_seekrandom(bench *b)
{
    char key[BENCH_MAX_KEY_BYTES];
    bench_result r = {0, 0};
    for (uint64_t k = 0; k < b->cfg.reads; k++) {
        uint64_t i = bench_rand_index(b);
        lsm_bound lo = {LSM_BOUND_INCLUDED, key, b->cfg.key_size};
        lsm_iter *it = NULL;
        bench_make_key(b, i, key);
        bench_check(lsm_scan(b->db, &lo, NULL, &it), "lsm_scan");
        if (b->present[i]) {
            size_t nkey = 0;
            const void *got =
                lsm_iter_valid(it) ? lsm_iter_key(it, &nkey) : NULL;
            if (got == NULL || nkey != b->cfg.key_size ||
                memcmp(got, key, nkey) != 0)
                bench_die("seekrandom: scan from live key %.*s did not start "
                          "on it",
                          (int)b->cfg.key_size, key);
        }
        for (int n = 0; n < BENCH_SEEK_NEXTS && lsm_iter_valid(it); n++) {
            size_t nkey, nvalue;
            lsm_iter_key(it, &nkey);
            lsm_iter_value(it, &nvalue);
            r.n_bytes += nkey + nvalue;
            bench_check(lsm_iter_next(it), "lsm_iter_next");
        }
        lsm_iter_close(it);
        r.n_ops++;
    }
    return r;
}

/* Deletes num random keys (with replacement). */
static bench_result bench_deleterandom(bench *b)
{
    char key[BENCH_MAX_KEY_BYTES];
    for (uint64_t k = 0; k < b->cfg.num; k++) {
        uint64_t i = bench_rand_index(b);
        bench_make_key(b, i, key);
        bench_check(lsm_delete(b->db, key, b->cfg.key_size), "lsm_delete");
        bench_mark(b, i, 0);
    }
    return (bench_result){b->cfg.num, 0};
}

static const char *const bench_names[] = {
    "fillseq",    "fillrandom",  "overwrite", "fillbatch",  "fillsync",
    "readrandom", "readmissing", "readseq",   "seekrandom", "deleterandom"};

/* Checks every name of the list before anything runs, so a typo never
 * costs a reset database or a half-finished run. */
static void bench_check_names(const char *list)
{
    char *copy = strdup(list), *name, *save = NULL;
    if (copy == NULL)
        bench_die("out of memory");
    for (name = strtok_r(copy, ",", &save); name != NULL;
         name = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < sizeof bench_names / sizeof bench_names[0] &&
               strcmp(name, bench_names[i]) != 0)
            i++;
        if (i == sizeof bench_names / sizeof bench_names[0])
            bench_die("unknown benchmark %s", name);
    }
    free(copy);
}

/* Runs one named workload, timed, and prints its line. Returns -1 for an
 * unknown name. salt seeds the workload's random sequence. */
static int bench_run_one(bench *b, const char *name, uint64_t salt)
{
    bench_result r;
    double start;
    int resets = strncmp(name, "fill", 4) == 0;
    int sync = strcmp(name, "fillsync") == 0;
    if (resets)
        bench_reset(b, sync);
    bench_seed(b, salt);
    start = bench_now_micros();
    if (strcmp(name, "fillseq") == 0)
        r = bench_write(b, b->cfg.num, 1);
    else if (strcmp(name, "fillrandom") == 0)
        r = bench_write(b, b->cfg.num, 0);
    else if (strcmp(name, "overwrite") == 0)
        r = bench_write(b, b->cfg.num, 0);
    else if (strcmp(name, "fillbatch") == 0)
        r = bench_fillbatch(b);
    else if (sync)
        r = bench_write(b, b->cfg.num / 100 ? b->cfg.num / 100 : 1, 0);
    else if (strcmp(name, "readrandom") == 0)
        r = bench_readrandom(b);
    else if (strcmp(name, "readmissing") == 0)
        r = bench_readmissing(b);
    else if (strcmp(name, "readseq") == 0)
        r = bench_readseq(b);
    else if (strcmp(name, "seekrandom") == 0)
        r = bench_seekrandom(b);
    else if (strcmp(name, "deleterandom") == 0)
        r = bench_deleterandom(b);
    else
        return -1;
    double elapsed = bench_now_micros() - start;
    double micros_per_op = r.n_ops ? elapsed / (double)r.n_ops : 0.0;
    double ops_per_sec = elapsed > 0 ? (double)r.n_ops * 1e6 / elapsed : 0.0;
    printf("%-12s : %11.3f micros/op; %.0f ops/sec", name, micros_per_op,
           ops_per_sec);
    if (r.n_bytes > 0 && elapsed > 0)
        printf("; %.1f MB/s", (double)r.n_bytes / 1048576.0 / (elapsed / 1e6));
    printf("\n");
    fflush(stdout);
    if (sync) { /* later workloads run without per-write fsync */
        bench_close(b);
        bench_open(b, 0);
    }
    return 0;
}

/* --- Options -------------------------------------------------------------- */

static void bench_usage(FILE *f)
{
    fprintf(
        f,
        "usage: lsm-bench [--flag value | --flag=value]...\n"
        "  --benchmarks LIST     comma list (default " BENCH_DEFAULT_BENCHMARKS
        ")\n"
        "  --num N               keys (default 1000000)\n"
        "  --reads N             reads for read workloads (default num)\n"
        "  --key_size N          key bytes (default 16)\n"
        "  --value_size N        value bytes (default 100)\n"
        "  --seed N              random seed (default 301)\n"
        "  --db DIR              database directory (default "
        "/tmp/lsm-bench)\n"
        "  --target_sst_size N   --block_size N  --block_cache_bytes N\n"
        "  --num_memtable_limit N\n"
        "  --compaction none|simple|tiered|leveled\n"
        "  --threads_mode on|off background flush/compaction (default "
        "on)\n");
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
    else if (strcmp(flag, "--db") == 0)
        c->db_path = v;
    else if (strcmp(flag, "--benchmarks") == 0)
        c->benchmarks = v;
    else if (strcmp(flag, "--target_sst_size") == 0)
        c->opt.target_sst_size = bench_parse_size(flag, v);
    else if (strcmp(flag, "--block_size") == 0)
        c->opt.block_size = bench_parse_size(flag, v);
    else if (strcmp(flag, "--block_cache_bytes") == 0)
        c->opt.block_cache_bytes = bench_parse_size(flag, v);
    else if (strcmp(flag, "--num_memtable_limit") == 0)
        c->opt.num_memtable_limit = bench_parse_size(flag, v);
    else if (strcmp(flag, "--compaction") == 0) {
        if (strcmp(v, "none") == 0)
            c->opt.compaction = LSM_COMPACTION_NONE;
        else if (strcmp(v, "simple") == 0)
            c->opt.compaction = LSM_COMPACTION_SIMPLE;
        else if (strcmp(v, "tiered") == 0)
            c->opt.compaction = LSM_COMPACTION_TIERED;
        else if (strcmp(v, "leveled") == 0)
            c->opt.compaction = LSM_COMPACTION_LEVELED;
        else
            bench_die("--compaction: none, simple, tiered or leveled: %s", v);
    } else if (strcmp(flag, "--threads_mode") == 0) {
        if (strcmp(v, "on") == 0 || strcmp(v, "1") == 0)
            c->opt.sched = LSM_SCHED_THREADS;
        else if (strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
            c->opt.sched = LSM_SCHED_INLINE;
        else
            bench_die("--threads_mode: on or off: %s", v);
    } else
        return -1;
    return 0;
}

/* Parses argv into *c, with db_bench's defaults, and checks the result. */
static void bench_parse_args(bench_config *c, int argc, char **argv)
{
    lsm_options_init(&c->opt);
    c->opt.sched = LSM_SCHED_THREADS;
    c->num = 1000000;
    c->key_size = 16;
    c->value_size = 100;
    c->seed = 301;
    c->db_path = "/tmp/lsm-bench";
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
    if (c->num == 0)
        bench_die("--num must be at least 1");
    if (c->key_size == 0 || c->key_size > BENCH_MAX_KEY_BYTES)
        bench_die("--key_size must be 1 to %d", BENCH_MAX_KEY_BYTES);
    if (c->value_size > LSM_MAX_VALUE_BYTES)
        bench_die("--value_size must be at most %u", LSM_MAX_VALUE_BYTES);
    if (c->value_size / 2 + 1 > BENCH_RANDOM_POOL_BYTES / 2)
        bench_die("--value_size must be below %u", BENCH_RANDOM_POOL_BYTES);
    /* The largest index, num - 1, must fit in key_size digits. */
    char digits[32];
    int n_digits = snprintf(digits, sizeof digits, "%" PRIu64, c->num - 1);
    if ((size_t)n_digits > c->key_size)
        bench_die("--key_size %zu is too short for --num %" PRIu64, c->key_size,
                  c->num);
}

/* --- Main ----------------------------------------------------------------- */

/* Closes the database and prints the end-of-run figures: peak RSS, size on
 * disk, and write amplification (SST bytes written by flushes and
 * compactions over key + value bytes written by the benchmark, summed over
 * every open of the run; the lsm_state_get counters of each open). */
static void bench_report_totals(bench *b)
{
    struct rusage ru;
    uint64_t db_bytes;
    if (b->db != NULL)
        bench_close(b);
    getrusage(RUSAGE_SELF, &ru);
    db_bytes = bench_dir_bytes(b->cfg.db_path);
    printf("peak RSS     : %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    printf("db size      : %.1f MB (%" PRIu64 " bytes in %s)\n",
           (double)db_bytes / 1048576.0, db_bytes, b->cfg.db_path);
    if (b->user_bytes > 0)
        printf("write amp    : %.2f (%" PRIu64 " SST bytes / %" PRIu64
               " user bytes)\n",
               (double)b->sst_bytes / (double)b->user_bytes, b->sst_bytes,
               b->user_bytes);
    else
        printf("write amp    : n/a (nothing written)\n");
}

int main(int argc, char **argv)
{
    bench b;
    char *list, *name, *save = NULL;
    uint64_t salt = 0;
    memset(&b, 0, sizeof b);
    bench_parse_args(&b.cfg, argc, argv);
    bench_check_names(b.cfg.benchmarks);
    b.present = calloc(b.cfg.num, 1);
    b.random_pool = malloc(BENCH_RANDOM_POOL_BYTES);
    b.value = malloc(b.cfg.value_size ? b.cfg.value_size : 1);
    list = strdup(b.cfg.benchmarks);
    if (!b.present || !b.random_pool || !b.value || !list)
        bench_die("out of memory");
    bench_seed(&b, UINT64_MAX - 1);
    for (size_t i = 0; i < BENCH_RANDOM_POOL_BYTES; i++)
        b.random_pool[i] = (unsigned char)(bench_rand(&b) >> 56);

    printf("lsm-bench: lsm %s, keys %zu bytes, values %zu bytes, num %" PRIu64
           ", reads %" PRIu64 ", db %s, threads_mode %s\n",
           LSM_VERSION_STRING, b.cfg.key_size, b.cfg.value_size, b.cfg.num,
           b.cfg.reads, b.cfg.db_path,
           b.cfg.opt.sched == LSM_SCHED_THREADS ? "on" : "off");
    bench_open_existing(&b, b.cfg.benchmarks);
    for (name = strtok_r(list, ",", &save); name != NULL;
         name = strtok_r(NULL, ",", &save)) {
        if (bench_run_one(&b, name, salt++) != 0)
            bench_die("unknown benchmark %s", name);
    }
    bench_report_totals(&b);
    free(list);
    free(b.value);
    free(b.random_pool);
    free(b.present);
    return 0;
}
