/*
 * testutil.h: helpers shared by the engine's test suites: a seeded random
 * generator (test_rng_*), temporary directories and the cmocka fixture that
 * owns one (test_dir_setup / test_dir_teardown), reading whole files, and an
 * event recorder.
 *
 * Everything is static inline so each test executable stays one file.
 */
#ifndef LSM_TESTUTIL_H
#define LSM_TESTUTIL_H

#include "lsm.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- whole files ---------------------------------------------------------- */

/* The bytes of the file at path, malloc'd (*n of them; the caller frees).
 * Aborts the test program, naming path, when it cannot be read. */
static inline uint8_t *test_read_whole(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    long size = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    uint8_t *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (!buf || fseek(f, 0, SEEK_SET) != 0 ||
        fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "test_read_whole: cannot read %s\n", path);
        abort();
    }
    fclose(f);
    *n = (size_t)size;
    return buf;
}

/* Writes n bytes of data as the whole file at path (created or cut).
 * Aborts the test program, naming path, when it cannot. */
static inline void test_write_whole(const char *path, const void *data,
                                    size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "test_write_whole: cannot write %s\n", path);
        abort();
    }
}

/* --- seeded random numbers ------------------------------------------------ */

/* splitmix64's finalizer: a good 64-bit hash of z. */
static inline uint64_t test_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* splitmix64: the next number of the stream whose state is *s. Any state
 * is a good seed, 0 included, and a seed always gives the same stream, so
 * a test that prints its seed can be replayed. Every suite uses this one
 * generator (the exact algorithm the old private copies had, so their
 * seeds still reproduce). */
static inline uint64_t test_rng_next(uint64_t *s)
{
    return test_mix64(*s += 0x9E3779B97F4A7C15ull);
}

/* Uniform enough in [0, n); 0 when n is 0. */
static inline uint64_t test_rng_below(uint64_t *s, uint64_t n)
{
    return n ? test_rng_next(s) % n : 0;
}

/* [lo, hi], both included. */
static inline uint64_t test_rng_range(uint64_t *s, uint64_t lo, uint64_t hi)
{
    return lo + test_rng_below(s, hi - lo + 1);
}

/* --- temporary directories ------------------------------------------------ */

/* Removes a directory tree (no symlinks are followed); a missing path is
 * fine. Returns 0, or -1 if anything could not be removed. */
static inline int test_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    int rc = 0;
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t n = strlen(path) + strlen(e->d_name) + 2;
        char *child = malloc(n);
        if (!child) {
            rc = -1;
            continue;
        }
        snprintf(child, n, "%s/%s", path, e->d_name);
        if (test_rmtree(child) != 0)
            rc = -1;
        free(child);
    }
    closedir(d);
    if (rmdir(path) != 0)
        rc = -1;
    return rc;
}

/* Fills buf (cap bytes) with the mkdtemp template "<dir>/<name>-XXXXXX",
 * dir being $TMPDIR, or /tmp when it is unset, empty or too long to fit.
 * scripts/test points TMPDIR at a tmpfs when there is one: the tests
 * fsync constantly, and on a slow disk the waits would double the run. */
static inline void test_tmp_template(char *buf, size_t cap, const char *name)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base ||
        (size_t)snprintf(buf, cap, "%s/%s-XXXXXX", base, name) >= cap)
        snprintf(buf, cap, "/tmp/%s-XXXXXX", name);
}

/* Makes a fresh directory under $TMPDIR (or /tmp); the caller frees the
 * string and removes the tree with test_rmtree. */
static inline char *test_mkdtemp(void)
{
    char *dir = malloc(256);
    if (dir)
        test_tmp_template(dir, 256, "lsm-test");
    if (!dir || !mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    return dir;
}

/* The fixture of a test that needs a fresh directory: register the test
 * with cmocka_unit_test_setup_teardown(test, test_dir_setup,
 * test_dir_teardown) and take the path from *state (char *, owned by the
 * fixture). Teardown removes the tree even when the test failed an
 * assertion, so a failing run leaves nothing behind. */
static inline int test_dir_setup(void **state)
{
    char *dir = malloc(256);
    if (dir)
        test_tmp_template(dir, 256, "lsm-test");
    if (!dir || !mkdtemp(dir)) {
        perror("mkdtemp");
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static inline int test_dir_teardown(void **state)
{
    char *dir = *state;
    int rc = dir ? test_rmtree(dir) : 0;
    free(dir);
    *state = NULL;
    return rc;
}

/* "<dir>/<name>" in a malloc'd string. */
static inline char *test_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) {
        perror("malloc");
        exit(1);
    }
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Records events in order (thread-safe; threads mode calls from the flush
 * thread). */
#define TEST_MAX_EVENTS 4096
typedef struct test_events {
    pthread_mutex_t mu;
    size_t n;
    lsm_event_type type[TEST_MAX_EVENTS];
    uint64_t id[TEST_MAX_EVENTS]; /* memtable id, or sst id for FLUSH_END */
} test_events;

static inline void test_events_init(test_events *ev)
{
    memset(ev, 0, sizeof *ev);
    pthread_mutex_init(&ev->mu, NULL);
}

static inline void test_events_cb(void *ctx, const lsm_event *e)
{
    test_events *ev = ctx;
    pthread_mutex_lock(&ev->mu);
    if (ev->n < TEST_MAX_EVENTS) {
        ev->type[ev->n] = e->type;
        ev->id[ev->n] =
            e->type == LSM_EVENT_FLUSH_END ? e->sst_id : e->memtable_id;
        ev->n++;
    }
    pthread_mutex_unlock(&ev->mu);
}

static inline size_t test_events_count(test_events *ev, lsm_event_type t)
{
    pthread_mutex_lock(&ev->mu);
    size_t n = 0;
    for (size_t i = 0; i < ev->n; i++)
        n += ev->type[i] == t;
    pthread_mutex_unlock(&ev->mu);
    return n;
}

#ifdef cmocka_unit_test
/* Puts a NUL-terminated key and value, asserting success. */
static inline void test_put_str(lsm_db *db, const char *k, const char *v)
{
    assert_int_equal(lsm_put(db, k, strlen(k), v, strlen(v)), LSM_OK);
}

/* Asserts get(k) == v, or absence when v is NULL. */
static inline void test_expect_get(lsm_db *db, const char *k, const char *v)
{
    void *got = NULL;
    size_t n = 0;
    int rc = lsm_get(db, k, strlen(k), &got, &n);
    if (!v) {
        assert_int_equal(rc, LSM_NOTFOUND);
        assert_null(got);
        return;
    }
    assert_int_equal(rc, LSM_OK);
    assert_int_equal(n, strlen(v));
    assert_memory_equal(got, v, n);
    assert_int_equal(((char *)got)[n], '\0');
    lsm_free(got);
}

/* Puts PREFIX0000 .. PREFIX(to-1) (four digits) = value, for i in
 * [from, to). */
static inline void test_put_range(lsm_db *db, const char *prefix, int from,
                                  int to, const char *value)
{
    char key[32];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "%s%04d", prefix, i);
        test_put_str(db, key, value);
    }
}

/* Asserts those keys hold value (or are absent, value NULL). */
static inline void test_expect_range(lsm_db *db, const char *prefix, int from,
                                     int to, const char *value)
{
    char key[32];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "%s%04d", prefix, i);
        test_expect_get(db, key, value);
    }
}
#endif

#endif
