/*
 * test_dir.c: the database directory changed under the engine (issue 13,
 * cases 2 and 6), through the public API.
 *
 *   - A database whose directory is renamed while it is open keeps working
 *     where it now is, and a new database made at the old path is never
 *     touched by the old handle (the engine works relative to the
 *     directory it opened, not by path name).
 *   - The process lock cannot be undone by deleting a file: after the
 *     first process opened the database and every file that is not the
 *     database's own is removed, a second process still gets LSM_EBUSY.
 *   - Only regular files are opened: a FIFO in place of the MANIFEST, an
 *     SST or a WAL, or a directory in place of an SST, is LSM_ECORRUPT
 *     naming the file, at once (a watchdog alarm fails a test that hangs);
 *     a MANIFEST that is a dangling symlink is refused and creates nothing
 *     where it points.
 * LSM_TEST_FILTER=<pattern> runs only the matching tests (cmocka's filter).
 *
 * Thread safety: single-threaded; children are forked only while the test
 * holds no open database, except in the lock test, where the child only
 * tries to open and exits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Seconds any one test may take before the watchdog declares it hung. */
#define WATCHDOG_SECONDS 20

static void watchdog_fired(int sig)
{
    (void)sig;
    static const char msg[] = "test_dir: a test hung (the watchdog alarm "
                              "fired): an open blocked on a special file\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(1);
}

/* Arms the watchdog for one test; disarmed by watchdog_stop. */
static void watchdog_start(void)
{
    signal(SIGALRM, watchdog_fired);
    alarm(WATCHDOG_SECONDS);
}

static void watchdog_stop(void)
{
    alarm(0);
}

/* Options that flush and compact small amounts, inline, so a short test
 * creates, renames and deletes many files. */
static void small_options(lsm_options *opt)
{
    lsm_options_init(opt);
    opt->target_sst_size = 512;
    opt->num_memtable_limit = 2;
    opt->compaction = LSM_COMPACTION_LEVELED;
    opt->level0_file_num_compaction_trigger = 2;
    opt->level_size_multiplier = 2;
    opt->base_level_size_mb = 1;
}

/* --- case 2: a renamed directory, a new database at the old path --------- */

/* The first handle goes on (writes, flushes, a full compaction, close)
 * after its directory was renamed and a second database was made at the
 * old path. The second database must hold exactly its own data; the first
 * must hold all of its data in its new place. */
static void test_renamed_directory_keeps_working(void **state)
{
    char *root = *state;
    char *old_path = test_path(root, "db");
    char *new_path = test_path(root, "moved");
    lsm_options opt;
    small_options(&opt);

    lsm_db *first, *second;
    assert_int_equal(lsm_open(old_path, &opt, &first), LSM_OK);
    test_put_range(first, "a", 0, 200, "first-before");
    assert_int_equal(lsm_flush(first), LSM_OK);

    assert_int_equal(rename(old_path, new_path), 0);
    assert_int_equal(lsm_open(old_path, &opt, &second), LSM_OK);
    test_put_range(second, "b", 0, 200, "second");
    assert_int_equal(lsm_flush(second), LSM_OK);
    assert_int_equal(lsm_close(second), LSM_OK);

    /* The old handle makes new SSTs and WALs (whose ids collide with the
     * second database's), rewrites levels and deletes its old files. */
    test_put_range(first, "a", 100, 300, "first-after");
    assert_int_equal(lsm_flush(first), LSM_OK);
    assert_int_equal(lsm_compact_full(first), LSM_OK);
    test_put_range(first, "c", 0, 50, "first-unflushed");
    assert_int_equal(lsm_close(first), LSM_OK);

    assert_int_equal(lsm_open(old_path, &opt, &second), LSM_OK);
    test_expect_range(second, "b", 0, 200, "second");
    test_expect_range(second, "a", 0, 300, NULL);
    test_expect_range(second, "c", 0, 50, NULL);
    assert_int_equal(lsm_close(second), LSM_OK);

    assert_int_equal(lsm_open(new_path, &opt, &first), LSM_OK);
    test_expect_range(first, "a", 0, 100, "first-before");
    test_expect_range(first, "a", 100, 300, "first-after");
    test_expect_range(first, "c", 0, 50, "first-unflushed");
    test_expect_range(first, "b", 0, 200, NULL);
    assert_int_equal(lsm_close(first), LSM_OK);
    free(old_path);
    free(new_path);
}

/* --- case 2: a lock that deleting files cannot undo ---------------------- */

/* Removes every entry of dir that is not a database file (.sst, .wal,
 * MANIFEST): LOCK today, whatever a lock file is ever called. */
static void remove_non_database_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        bool ours = strcmp(n, "MANIFEST") == 0 ||
                    (len > 4 && (strcmp(n + len - 4, ".sst") == 0 ||
                                 strcmp(n + len - 4, ".wal") == 0));
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || ours)
            continue;
        char *p = test_path(dir, n);
        assert_int_equal(unlink(p), 0);
        free(p);
    }
    closedir(d);
}

/* In a child process: tries to open dir and exits 0 when that is
 * LSM_EBUSY with a message saying the database is in use, 1 otherwise. */
static int open_in_child(const char *dir)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        lsm_db *db = NULL;
        int rc = lsm_open(dir, NULL, &db);
        bool busy = rc == LSM_EBUSY && strstr(lsm_errmsg(), "in use") != NULL;
        if (!busy)
            fprintf(stderr, "test_dir: second process: lsm_open -> %d: %s\n",
                    rc, lsm_errmsg());
        _exit(busy ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_lock_survives_removed_files(void **state)
{
    char *dir = test_path(*state, "db");
    lsm_db *db;
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    test_put_str(db, "k", "v");
    remove_non_database_files(dir);
    assert_int_equal(open_in_child(dir), 0);
    assert_int_equal(lsm_close(db), LSM_OK);
    /* Closed: the lock is released and the next process gets in. */
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    test_expect_get(db, "k", "v");
    assert_int_equal(lsm_close(db), LSM_OK);
    free(dir);
}

/* --- case 6: only regular files ------------------------------------------ */

/* The name of the one file of dir ending in suffix, malloc'd "dir/name". */
static char *only_file_with_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *found = NULL;
    struct dirent *e;
    size_t n_suffix = strlen(suffix);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > n_suffix && strcmp(e->d_name + len - n_suffix, suffix) == 0) {
            assert_null(found);
            found = test_path(dir, e->d_name);
        }
    }
    closedir(d);
    assert_non_null(found);
    return found;
}

/* A database at dir/db holding key "k": flushed to one SST when flushed is
 * set, otherwise left in the WAL by close. Returns the malloc'd path. */
static char *make_database(const char *root, bool flushed)
{
    char *dir = test_path(root, "db");
    lsm_db *db;
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    test_put_str(db, "k", "v");
    if (flushed)
        assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
    return dir;
}

/* lsm_open(dir) must fail at once with LSM_ECORRUPT, naming path and
 * saying what it is (kind: "FIFO", "directory", "symbolic link"). */
static void expect_open_refuses(const char *dir, const char *path,
                                const char *kind)
{
    lsm_db *db = (lsm_db *)1;
    watchdog_start();
    int rc = lsm_open(dir, NULL, &db);
    watchdog_stop();
    if (rc != LSM_ECORRUPT || !strstr(lsm_errmsg(), path) ||
        !strstr(lsm_errmsg(), kind))
        fail_msg("lsm_open(%s) -> %d: %s; want LSM_ECORRUPT naming %s as a %s",
                 dir, rc, lsm_errmsg(), path, kind);
    assert_null(db);
}

/* Replaces the file at path by a FIFO. */
static void swap_in_fifo(const char *path)
{
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkfifo(path, 0644), 0);
}

static void test_fifo_as_manifest(void **state)
{
    char *dir = test_path(*state, "db");
    assert_int_equal(mkdir(dir, 0755), 0);
    char *manifest = test_path(dir, "MANIFEST");
    assert_int_equal(mkfifo(manifest, 0644), 0);
    expect_open_refuses(dir, manifest, "FIFO");
    free(manifest);
    free(dir);
}

static void test_fifo_as_sst(void **state)
{
    char *dir = make_database(*state, true);
    char *sst = only_file_with_suffix(dir, ".sst");
    swap_in_fifo(sst);
    expect_open_refuses(dir, sst, "FIFO");
    free(sst);
    free(dir);
}

static void test_fifo_as_wal(void **state)
{
    char *dir = make_database(*state, false);
    char *wal = only_file_with_suffix(dir, ".wal");
    swap_in_fifo(wal);
    expect_open_refuses(dir, wal, "FIFO");
    free(wal);
    free(dir);
}

static void test_directory_as_sst(void **state)
{
    char *dir = make_database(*state, true);
    char *sst = only_file_with_suffix(dir, ".sst");
    assert_int_equal(unlink(sst), 0);
    assert_int_equal(mkdir(sst, 0755), 0);
    expect_open_refuses(dir, sst, "directory");
    free(sst);
    free(dir);
}

/* A MANIFEST that is a symlink to a missing file outside the database:
 * following it would create that file. */
static void test_dangling_manifest_symlink(void **state)
{
    char *dir = test_path(*state, "db");
    char *outside = test_path(*state, "outside");
    char *manifest = test_path(dir, "MANIFEST");
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(symlink(outside, manifest), 0);
    expect_open_refuses(dir, manifest, "symbolic link");
    struct stat st;
    assert_int_equal(lstat(outside, &st), -1); /* nothing created there */
    free(manifest);
    free(outside);
    free(dir);
}

#define DIR_TEST(fn)                                                           \
    cmocka_unit_test_setup_teardown(fn, test_dir_setup, test_dir_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        DIR_TEST(test_renamed_directory_keeps_working),
        DIR_TEST(test_lock_survives_removed_files),
        DIR_TEST(test_fifo_as_manifest),
        DIR_TEST(test_fifo_as_sst),
        DIR_TEST(test_fifo_as_wal),
        DIR_TEST(test_directory_as_sst),
        DIR_TEST(test_dangling_manifest_symlink),
    };
    const char *filter = getenv("LSM_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
