/*
 * test_truncated_sst.c: an SST cut short while the database is open (issue
 * 13, case 5). Reads of the lost part must fail with an error naming the
 * file, never kill the process (as a SIGBUS on a mapped page would), and
 * the rest of the database must stay usable.
 *
 * Each scenario runs in a forked child, so that a process killed by a
 * signal is seen by the parent and reported as a failure instead of taking
 * the test runner down. The child checks with CHILD_CHECK, which exits
 * with status 1 and says what failed; the parent asserts that the child
 * exited normally with status 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

/* Entries per SST: 1000 keys of 100-byte values fill about 27 blocks of
 * 4 KiB, so cutting a file at CUT_BYTES keeps its first block or two and
 * loses the rest. */
#define N_KEYS 1000
#define VALUE_BYTES 100
#define CUT_BYTES 8192

#define CHILD_CHECK(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr,                                                    \
                    "%s:%d: child check failed: %s (last error: %s)\n",        \
                    __FILE__, __LINE__, #cond, lsm_errmsg());                  \
            _exit(1);                                                          \
        }                                                                      \
    } while (0)

/* The database the child works on: SST a holds keys a0000..a0999, SST b
 * keys b0000..b0999, both in L0 (no compaction runs by itself). */
typedef struct scenario {
    const char *dir;
    lsm_db *db;
    uint64_t sst_a, sst_b;
    char sst_a_name[32]; /* "N.sst" */
} scenario;

/* Records the SST id of every flush, in order. */
typedef struct flush_ids {
    uint64_t ids[8];
    size_t n;
} flush_ids;

static void record_flush(void *ctx, const lsm_event *ev)
{
    flush_ids *f = ctx;
    if (ev->type == LSM_EVENT_FLUSH_END && f->n < 8)
        f->ids[f->n++] = ev->sst_id;
}

static void key_of(char prefix, int i, char *out)
{
    snprintf(out, 16, "%c%04d", prefix, i);
}

/* The value of key i: VALUE_BYTES bytes that differ from key to key. */
static void value_of(char prefix, int i, char *out)
{
    for (int j = 0; j < VALUE_BYTES; j++)
        out[j] = (char)('a' + (prefix + i * 7 + j) % 26);
    out[VALUE_BYTES] = '\0';
}

static void child_put_run(lsm_db *db, char prefix)
{
    char k[16], v[VALUE_BYTES + 1];
    for (int i = 0; i < N_KEYS; i++) {
        key_of(prefix, i, k);
        value_of(prefix, i, v);
        CHILD_CHECK(lsm_put(db, k, strlen(k), v, VALUE_BYTES) == LSM_OK);
    }
    CHILD_CHECK(lsm_flush(db) == LSM_OK);
}

/* Opens dir with the given scheduling and read mode (lsm_options'
 * mmap_reads) and writes the two SSTs. */
static void child_build_with(scenario *s, const char *dir, lsm_sched sched,
                             int mmap_reads)
{
    static flush_ids flushed;
    lsm_options opt;
    lsm_options_init(&opt);
    opt.sched = sched;
    opt.compaction = LSM_COMPACTION_NONE;
    opt.target_sst_size = 64u << 20; /* only lsm_flush makes SSTs */
    opt.event_cb = record_flush;
    opt.event_ctx = &flushed;
    opt.mmap_reads = mmap_reads;
    s->dir = dir;
    CHILD_CHECK(lsm_open(dir, &opt, &s->db) == LSM_OK);
    child_put_run(s->db, 'a');
    child_put_run(s->db, 'b');
    CHILD_CHECK(flushed.n == 2);
    s->sst_a = flushed.ids[0];
    s->sst_b = flushed.ids[1];
    snprintf(s->sst_a_name, sizeof s->sst_a_name, "%llu.sst",
             (unsigned long long)s->sst_a);
}

/* The default: blocks read with pread. */
static void child_build(scenario *s, const char *dir, lsm_sched sched)
{
    child_build_with(s, dir, sched, 0);
}

/* Cuts SST a to CUT_BYTES bytes behind the open database's back. */
static void child_truncate_a(const scenario *s)
{
    char *path = test_path(s->dir, s->sst_a_name);
    struct stat st;
    CHILD_CHECK(stat(path, &st) == 0 && st.st_size > 4 * CUT_BYTES);
    CHILD_CHECK(truncate(path, CUT_BYTES) == 0);
    free(path);
}

/* get(key) must find the key's value. */
static void child_expect_value(lsm_db *db, char prefix, int i)
{
    char k[16], v[VALUE_BYTES + 1];
    key_of(prefix, i, k);
    value_of(prefix, i, v);
    void *got = NULL;
    size_t n = 0;
    CHILD_CHECK(lsm_get(db, k, strlen(k), &got, &n) == LSM_OK);
    CHILD_CHECK(n == VALUE_BYTES && memcmp(got, v, n) == 0);
    lsm_free(got);
}

/* The error of a read in the lost part: damaged data (or the OS refused the
 * read), with a message naming the file and saying it is short. */
static void child_expect_truncation_error(const scenario *s, int rc)
{
    CHILD_CHECK(rc == LSM_ECORRUPT || rc == LSM_EIO);
    CHILD_CHECK(strstr(lsm_errmsg(), s->sst_a_name) != NULL);
    CHILD_CHECK(strstr(lsm_errmsg(), "truncated") != NULL);
}

/* After the damage: the other SST, the memtable and writes still work, and
 * nothing was latched (a put succeeds), and the database closes cleanly. */
static void child_expect_usable(scenario *s)
{
    child_expect_value(s->db, 'b', 0);
    child_expect_value(s->db, 'b', N_KEYS - 1);
    CHILD_CHECK(lsm_put(s->db, "c", 1, "new", 3) == LSM_OK);
    void *got = NULL;
    size_t n = 0;
    CHILD_CHECK(lsm_get(s->db, "c", 1, &got, &n) == LSM_OK && n == 3);
    lsm_free(got);
    CHILD_CHECK(lsm_close(s->db) == LSM_OK);
}

/* Runs fn(dir) in a child; fails the test if it died of a signal or
 * reported a failed check. */
static void run_in_child(const char *dir, void (*fn)(const char *dir))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka catches these signals to report a failed test and go on
         * with the next one: the child must die of them instead, so the
         * parent sees how it ended. */
        int fatal[] = {SIGBUS, SIGSEGV, SIGILL, SIGFPE, SIGABRT};
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
            signal(fatal[i], SIG_DFL);
        fn(dir);
        _exit(0);
    }
    int status;
    pid_t got;
    do {
        got = waitpid(pid, &status, 0);
    } while (got < 0 && errno == EINTR);
    assert_int_equal(got, pid);
    if (WIFSIGNALED(status))
        fail_msg("the child was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* --- scenarios (each runs in the child) ------------------------------------
 */

static void get_in_lost_part(const char *dir)
{
    scenario s;
    child_build(&s, dir, LSM_SCHED_INLINE);
    child_truncate_a(&s);
    void *got = NULL;
    size_t n = 0;
    int rc = lsm_get(s.db, "a0999", 5, &got, &n);
    CHILD_CHECK(got == NULL);
    child_expect_truncation_error(&s, rc);
    /* The first block is still in the file: its keys still read. */
    child_expect_value(s.db, 'a', 0);
    /* Asking again gives the same error: nothing bad was cached. */
    rc = lsm_get(s.db, "a0999", 5, &got, &n);
    child_expect_truncation_error(&s, rc);
    child_expect_usable(&s);
}

/* A full scan reads the first blocks of SST a, then fails where the file
 * ends; it never reaches b's keys as if a's had simply ended. */
static void scan_through_lost_part(const char *dir)
{
    scenario s;
    child_build(&s, dir, LSM_SCHED_INLINE);
    child_truncate_a(&s);
    lsm_iter *it = NULL;
    int rc = lsm_scan(s.db, NULL, NULL, &it);
    CHILD_CHECK(rc == LSM_OK);
    int seen = 0;
    while (lsm_iter_valid(it)) {
        size_t nk;
        const char *k = lsm_iter_key(it, &nk);
        char want[16];
        key_of('a', seen, want);
        CHILD_CHECK(nk == strlen(want) && memcmp(k, want, nk) == 0);
        seen++;
        rc = lsm_iter_next(it);
        if (rc != LSM_OK)
            break;
    }
    CHILD_CHECK(seen > 0 && seen < N_KEYS);
    child_expect_truncation_error(&s, rc);
    CHILD_CHECK(!lsm_iter_valid(it));
    lsm_iter_close(it);
    /* A scan that starts in the lost part fails at once. */
    lsm_bound lo = {.kind = LSM_BOUND_INCLUDED, .key = "a0990", .nkey = 5};
    rc = lsm_scan(s.db, &lo, NULL, &it);
    CHILD_CHECK(it == NULL);
    child_expect_truncation_error(&s, rc);
    child_expect_usable(&s);
}

/* A block read before the cut was verified and cached: it keeps serving
 * its keys (the cache holds its own copy), the cut part fails. */
static void cached_block_after_cut(const char *dir)
{
    scenario s;
    child_build(&s, dir, LSM_SCHED_INLINE);
    child_expect_value(s.db, 'a', N_KEYS - 1); /* caches the last block */
    child_truncate_a(&s);
    child_expect_value(s.db, 'a', N_KEYS - 1);
    void *got = NULL;
    size_t n = 0;
    int rc = lsm_get(s.db, "a0500", 5, &got, &n);
    child_expect_truncation_error(&s, rc);
    child_expect_usable(&s);
}

/* A full compaction reading the cut SST fails with its error; both inputs
 * stay in place (nothing deleted, nothing latched: it ran in the caller's
 * call, which reports it). */
static void compaction_over_lost_part(const char *dir)
{
    scenario s;
    child_build(&s, dir, LSM_SCHED_INLINE);
    child_truncate_a(&s);
    int rc = lsm_compact_full(s.db);
    child_expect_truncation_error(&s, rc);
    char *path = test_path(dir, s.sst_a_name);
    struct stat st;
    CHILD_CHECK(stat(path, &st) == 0 && st.st_size == CUT_BYTES);
    free(path);
    child_expect_value(s.db, 'a', 0);
    child_expect_usable(&s);
}

/* mmap_reads (opt-in) reads the same data as the default: every key by
 * get, then in a full scan, twice (the second time from the cache). */
static void mmap_reads_read_the_same(const char *dir)
{
    scenario s;
    child_build_with(&s, dir, LSM_SCHED_INLINE, 1);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N_KEYS; i++) {
            child_expect_value(s.db, 'a', i);
            child_expect_value(s.db, 'b', i);
        }
        lsm_iter *it = NULL;
        CHILD_CHECK(lsm_scan(s.db, NULL, NULL, &it) == LSM_OK);
        int seen = 0;
        for (; lsm_iter_valid(it); seen++) {
            size_t nk, nv;
            const char *k = lsm_iter_key(it, &nk);
            const char *v = lsm_iter_value(it, &nv);
            char want_k[16], want_v[VALUE_BYTES + 1];
            key_of(seen < N_KEYS ? 'a' : 'b', seen % N_KEYS, want_k);
            value_of(seen < N_KEYS ? 'a' : 'b', seen % N_KEYS, want_v);
            CHILD_CHECK(nk == strlen(want_k) && memcmp(k, want_k, nk) == 0);
            CHILD_CHECK(nv == VALUE_BYTES && memcmp(v, want_v, nv) == 0);
            CHILD_CHECK(lsm_iter_next(it) == LSM_OK);
        }
        CHILD_CHECK(seen == 2 * N_KEYS);
        lsm_iter_close(it);
    }
    child_expect_usable(&s);
}

static void test_get_in_lost_part(void **state)
{
    run_in_child(*state, get_in_lost_part);
}

static void test_scan_through_lost_part(void **state)
{
    run_in_child(*state, scan_through_lost_part);
}

static void test_cached_block_after_cut(void **state)
{
    run_in_child(*state, cached_block_after_cut);
}

static void test_compaction_over_lost_part(void **state)
{
    run_in_child(*state, compaction_over_lost_part);
}

static void test_mmap_reads_read_the_same(void **state)
{
    run_in_child(*state, mmap_reads_read_the_same);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_in_lost_part, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_scan_through_lost_part,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_cached_block_after_cut,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_compaction_over_lost_part,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_mmap_reads_read_the_same,
                                        test_dir_setup, test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
