/*
 * test_wal.c: the write-ahead log through the public API: atomic batches,
 * recovery of writes a dead process never flushed, the life of WAL files,
 * torn tails, and the manifest reader.
 *
 * A "crash" here is a forked child that writes and then _exit()s without
 * closing: its WAL appends reached the kernel, its memtables died with it.
 * (tests/test_crash.c kills writers at random moments.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <sys/wait.h>

/* Counts files in dir whose name ends with suffix. */
static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    size_t ns = strlen(suffix);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len > ns && strcmp(e->d_name + len - ns, suffix) == 0;
    }
    closedir(d);
    return n;
}

/* Runs fn(db) in a child process that then dies without closing. */
static void crash_after(const char *dir, const lsm_options *opt,
                        void (*fn)(lsm_db *db))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        lsm_db *db;
        if (lsm_open(dir, opt, &db) != LSM_OK)
            _exit(2);
        fn(db);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void write_abc(lsm_db *db)
{
    test_put_str(db, "a", "1");
    test_put_str(db, "b", "2");
    lsm_delete(db, "a", 1);
    test_put_str(db, "c", "3");
}

/* A batch: counted, checked entry by entry, reusable, and its later
 * operations on a key win over earlier ones. */
static void test_batch_api(void **state)
{
    char *dir = *state;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    lsm_batch *b;
    assert_int_equal(lsm_batch_new(&b), LSM_OK);
    assert_int_equal(lsm_batch_count(b), 0);
    assert_int_equal(lsm_write(db, b), LSM_OK); /* empty: nothing */

    assert_int_equal(lsm_batch_put(b, "k", 1, "first", 5), LSM_OK);
    assert_int_equal(lsm_batch_put(b, "k", 1, "second", 6), LSM_OK);
    assert_int_equal(lsm_batch_put(b, "gone", 4, "x", 1), LSM_OK);
    assert_int_equal(lsm_batch_delete(b, "gone", 4), LSM_OK);
    assert_int_equal(lsm_batch_put(b, "", 0, "x", 1), LSM_EINVAL);
    assert_int_equal(lsm_batch_count(b), 4);
    assert_int_equal(lsm_write(db, b), LSM_OK);
    test_expect_get(db, "k", "second");
    test_expect_get(db, "gone", NULL);

    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->counters.puts, 3);
    assert_int_equal(st->counters.deletes, 1);
    assert_true(st->counters.wal_bytes_written > 0);
    lsm_state_free(st);

    lsm_batch_clear(b);
    assert_int_equal(lsm_batch_count(b), 0);
    assert_int_equal(lsm_batch_put(b, "k", 1, "third", 5), LSM_OK);
    assert_int_equal(lsm_write(db, b), LSM_OK);
    assert_int_equal(lsm_write(db, b), LSM_OK); /* again: same result */
    test_expect_get(db, "k", "third");
    lsm_batch_free(b);
    lsm_batch_free(NULL);
    assert_int_equal(lsm_write(db, NULL), LSM_EINVAL);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Writes only in memtables when the process died come back from the WAL,
 * and open says so through LSM_EVENT_RECOVERED. */
static void test_recovery_replays_wal(void **state)
{
    char *dir = *state;
    test_events ev;
    test_events_init(&ev);
    lsm_options opt;
    lsm_options_init(&opt);
    crash_after(dir, &opt, write_abc);
    assert_int_equal(count_files(dir, ".wal"), 1);

    opt.event_cb = test_events_cb;
    opt.event_ctx = &ev;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_int_equal(test_events_count(&ev, LSM_EVENT_RECOVERED), 1);
    assert_int_equal(test_events_count(&ev, LSM_EVENT_WARNING), 0);
    test_expect_get(db, "a", NULL);
    test_expect_get(db, "b", "2");
    test_expect_get(db, "c", "3");
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_immutables, 1); /* the recovered memtable */
    assert_int_equal(st->immutables[0].num_keys, 3);
    assert_true(st->memtable.memtable_id > st->immutables[0].memtable_id);
    lsm_state_free(st);

    /* New writes win over recovered ones: sequence numbers went on. */
    test_put_str(db, "b", "new");
    test_expect_get(db, "b", "new");
    /* A clean close leaves both memtables to their logs (as mini-lsm's
     * close does); the next open replays them again. */
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_int_equal(count_files(dir, ".wal"), 2);
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    test_expect_get(db, "b", "new");
    test_expect_get(db, "c", "3");
    assert_int_equal(lsm_close(db), LSM_OK);
}

static void write_many(lsm_db *db)
{
    char key[16];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "key%03d", i);
        test_put_str(db, key, "value-value-value-value");
    }
}

/* With tiny memtables: WALs of flushed memtables are deleted, the live ones
 * recover in order, and recovered memtables over the limit stay in memory
 * (open writes nothing, so it needs no free space) until the first write
 * flushes them. */
static void test_recovery_with_flushes(void **state)
{
    char *dir = *state;
    lsm_options opt;
    lsm_options_init(&opt);
    opt.compaction = LSM_COMPACTION_NONE;
    opt.target_sst_size = 1024;
    opt.num_memtable_limit = 3;
    crash_after(dir, &opt, write_many);
    /* At most 3 memtables were in memory: at most 3 WALs are left. */
    int wals = count_files(dir, ".wal");
    assert_true(wals >= 1 && wals <= 3);
    assert_true(count_files(dir, ".sst") > 0);

    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    char key[16];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "key%03d", i);
        test_expect_get(db, key, "value-value-value-value");
    }
    int ssts = count_files(dir, ".sst");
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_immutables, wals);
    lsm_state_free(st);
    assert_int_equal(count_files(dir, ".sst"), ssts);
    test_put_str(db, "after", "open");
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_true(1 + st->n_immutables <= opt.num_memtable_limit);
    lsm_state_free(st);
    assert_true(count_files(dir, ".sst") > ssts);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Without the WAL, writes in memtables die with the process; what was
 * flushed stays. */
static void test_disabled_wal_loses_memtables(void **state)
{
    char *dir = *state;
    lsm_options opt;
    lsm_options_init(&opt);
    opt.enable_wal = 0;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    test_put_str(db, "flushed", "yes");
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
    crash_after(dir, &opt, write_abc);
    assert_int_equal(count_files(dir, ".wal"), 0);
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    test_expect_get(db, "flushed", "yes");
    test_expect_get(db, "b", NULL);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Finds the one .wal file of dir. */
static char *only_wal(const char *dir)
{
    DIR *d = opendir(dir);
    char *path = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".wal") == 0) {
            assert_null(path);
            path = test_path(dir, e->d_name);
        }
    }
    closedir(d);
    assert_non_null(path);
    return path;
}

/* A record cut short at the end of a WAL is dropped with a warning; the
 * records before it are recovered. */
static void test_torn_wal_tail_is_cut_with_warning(void **state)
{
    char *dir = *state;
    lsm_options opt;
    lsm_options_init(&opt);
    crash_after(dir, &opt, write_abc);
    char *wal = only_wal(dir);
    struct stat st;
    assert_int_equal(stat(wal, &st), 0);
    /* Cut the last record (put c=3) in half. */
    assert_int_equal(truncate(wal, st.st_size - 5), 0);

    test_events ev;
    test_events_init(&ev);
    opt.event_cb = test_events_cb;
    opt.event_ctx = &ev;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_int_equal(test_events_count(&ev, LSM_EVENT_WARNING), 1);
    test_expect_get(db, "a", NULL);
    test_expect_get(db, "b", "2");
    test_expect_get(db, "c", NULL);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(wal);
}

/* A damaged record in the middle of a WAL is corruption, named. */
static void test_corrupt_wal_middle_is_an_error(void **state)
{
    char *dir = *state;
    lsm_options opt;
    lsm_options_init(&opt);
    crash_after(dir, &opt, write_abc);
    char *wal = only_wal(dir);
    int fd = open(wal, O_RDWR);
    unsigned char byte;
    assert_int_equal(pread(fd, &byte, 1, 20), 1); /* in the first record */
    byte ^= 0x40;
    assert_int_equal(pwrite(fd, &byte, 1, 20), 1);
    close(fd);
    lsm_db *db = (lsm_db *)1;
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_ECORRUPT);
    assert_null(db);
    assert_non_null(strstr(lsm_errmsg(), ".wal"));
    assert_non_null(strstr(lsm_errmsg(), "offset 0"));
    free(wal);
}

/* A WAL whose memtable was flushed (a crash between the flush record and
 * the unlink) is removed on open; a WAL with an id the manifest cannot
 * account for means lost records: open refuses and deletes nothing. */
static void test_orphan_wal_removed(void **state)
{
    char *dir = *state;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    test_put_str(db, "k", "v");
    assert_int_equal(lsm_flush(db), LSM_OK); /* flushed memtable 0 */
    assert_int_equal(lsm_close(db), LSM_OK);
    char *flushed = test_path(dir, "0.wal");
    int fd = open(flushed, O_CREAT | O_WRONLY, 0644);
    assert_int_equal(write(fd, "garbage", 7), 7);
    close(fd);
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    assert_int_equal(access(flushed, F_OK), -1);
    test_expect_get(db, "k", "v");
    assert_int_equal(lsm_close(db), LSM_OK);

    char *unexplained = test_path(dir, "777.wal");
    fd = open(unexplained, O_CREAT | O_WRONLY, 0644);
    close(fd);
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_ECORRUPT);
    assert_non_null(strstr(lsm_errmsg(), "777.wal"));
    assert_int_equal(access(unexplained, F_OK), 0);
    free(unexplained);
    free(flushed);
}

/* The manifest reader lists what happened, in order. */
static void test_manifest_read(void **state)
{
    char *dir = *state;
    lsm_options opt;
    lsm_options_init(&opt);
    opt.compaction = LSM_COMPACTION_NONE;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    test_put_str(db, "a", "1");
    assert_int_equal(lsm_flush(db), LSM_OK);
    test_put_str(db, "b", "2");
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    lsm_manifest_record *recs;
    size_t n;
    assert_int_equal(lsm_manifest_read(db, &recs, &n), LSM_OK);
    /* the snapshot of the new database (next id 0, nothing in it), new 0,
     * new 1, flush 0, new 2, flush 1, next id 19 (ids reserved for the
     * compaction's outputs), compaction [1, 0] -> [3] */
    assert_int_equal(n, 8);
    lsm_manifest_kind kinds[] = {
        LSM_MANIFEST_SNAPSHOT,     LSM_MANIFEST_NEW_MEMTABLE,
        LSM_MANIFEST_NEW_MEMTABLE, LSM_MANIFEST_FLUSH,
        LSM_MANIFEST_NEW_MEMTABLE, LSM_MANIFEST_FLUSH,
        LSM_MANIFEST_NEXT_ID,      LSM_MANIFEST_COMPACTION};
    uint64_t ids[] = {0, 0, 1, 0, 2, 1, 19};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(recs[i].kind, kinds[i]);
        if (i < 7)
            assert_int_equal(recs[i].id, ids[i]);
        if (recs[i].kind == LSM_MANIFEST_NEW_MEMTABLE)
            assert_true(recs[i].has_wal);
        if (i > 0)
            assert_true(recs[i].offset > recs[i - 1].offset);
    }
    assert_int_equal(recs[0].offset, 0);
    assert_int_equal(recs[0].n_ssts, 0);
    assert_int_equal(recs[0].n_memtables, 0);
    /* A flush records its SST's size and keys: 0.sst holds "a" only. */
    assert_int_equal(recs[3].n_ssts, 1);
    assert_int_equal(recs[3].ssts[0].sst_id, 0);
    assert_int_equal(recs[3].ssts[0].level, 0);
    assert_true(recs[3].ssts[0].file_size > 0);
    assert_int_equal(recs[3].ssts[0].nfirst_key, 1);
    assert_memory_equal(recs[3].ssts[0].first_key, "a", 1);
    assert_memory_equal(recs[3].ssts[0].last_key, "a", 1);
    assert_int_equal(recs[7].level, 1);
    assert_int_equal(recs[7].n_removed, 2);
    assert_int_equal(recs[7].removed[0], 1);
    assert_int_equal(recs[7].removed[1], 0);
    assert_int_equal(recs[7].n_added, 1);
    assert_int_equal(recs[7].added[0], 3);
    /* ... and a compaction its outputs': 3.sst holds "a" and "b", in L1. */
    assert_int_equal(recs[7].n_ssts, 1);
    assert_int_equal(recs[7].ssts[0].sst_id, 3);
    assert_int_equal(recs[7].ssts[0].level, 1);
    assert_memory_equal(recs[7].ssts[0].first_key, "a", 1);
    assert_memory_equal(recs[7].ssts[0].last_key, "b", 1);
    lsm_manifest_free(recs, n);
    assert_int_equal(lsm_close(db), LSM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_api, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_replays_wal,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_with_flushes,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_disabled_wal_loses_memtables,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_torn_wal_tail_is_cut_with_warning,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_wal_middle_is_an_error,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_orphan_wal_removed, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_manifest_read, test_dir_setup,
                                        test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
