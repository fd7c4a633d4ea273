/*
 * test_flush.c: when memtables freeze and flush, in both scheduling modes;
 * what survives close and reopen; and the errors of open and of writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

/* 100 bytes per put: a 4-byte key and a 96-byte value. */
#define ENTRY_BYTES 100

static void put_numbered(lsm_db *db, int i)
{
    char key[16], value[96];
    snprintf(key, sizeof key, "%04d", i);
    memset(value, 'a' + i % 26, sizeof value);
    assert_int_equal(lsm_put(db, key, 4, value, sizeof value), LSM_OK);
}

static void expect_numbered(lsm_db *db, int i)
{
    char key[16];
    snprintf(key, sizeof key, "%04d", i);
    void *v;
    size_t n;
    assert_int_equal(lsm_get(db, key, 4, &v, &n), LSM_OK);
    assert_int_equal(n, 96);
    assert_int_equal(((char *)v)[0], 'a' + i % 26);
    lsm_free(v);
}

static lsm_state *state_of(lsm_db *db)
{
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    return st;
}

static void tiny_options(lsm_options *opt, test_events *ev)
{
    lsm_options_init(opt);
    opt->compaction = LSM_COMPACTION_NONE;
    opt->target_sst_size = 10 * ENTRY_BYTES; /* freeze every 10 puts */
    opt->num_memtable_limit = 2;
    opt->block_size = 256;
    opt->event_cb = test_events_cb;
    opt->event_ctx = ev;
}

/* Inline mode: the memtable freezes exactly when it reaches the target
 * size, the oldest immutable one is flushed exactly when more than
 * num_memtable_limit memtables are in memory, and the events say so in a
 * fixed order. */
static void test_inline_freeze_and_flush_triggers(void **state)
{
    char *dir = *state;
    test_events ev;
    test_events_init(&ev);
    lsm_options opt;
    tiny_options(&opt, &ev);
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);

    for (int i = 0; i < 9; i++)
        put_numbered(db, i);
    lsm_state *st = state_of(db);
    assert_int_equal(st->memtable.memtable_id, 0);
    assert_int_equal(st->memtable.num_keys, 9);
    assert_int_equal(st->memtable.size_bytes, 9 * ENTRY_BYTES);
    assert_int_equal(st->memtable.nfirst_key, 4); /* its key range */
    assert_memory_equal(st->memtable.first_key, "0000", 4);
    assert_int_equal(st->memtable.nlast_key, 4);
    assert_memory_equal(st->memtable.last_key, "0008", 4);
    assert_int_equal(st->n_immutables, 0);
    lsm_state_free(st);
    assert_int_equal(ev.n, 0);

    put_numbered(db, 9); /* reaches 1000 bytes: freeze */
    st = state_of(db);
    assert_int_equal(st->memtable.memtable_id, 1);
    assert_int_equal(st->memtable.num_keys, 0);
    assert_null(st->memtable.first_key); /* empty: no range */
    assert_null(st->memtable.last_key);
    assert_int_equal(st->n_immutables, 1);
    assert_int_equal(st->immutables[0].memtable_id, 0);
    assert_memory_equal(st->immutables[0].first_key, "0000", 4);
    assert_memory_equal(st->immutables[0].last_key, "0009", 4);
    assert_int_equal(st->n_l0, 0);
    lsm_state_free(st);

    for (int i = 10; i < 20; i++) /* second freeze: 3 memtables > 2 */
        put_numbered(db, i);
    st = state_of(db);
    assert_int_equal(st->memtable.memtable_id, 2);
    assert_int_equal(st->n_immutables, 1);
    assert_int_equal(st->immutables[0].memtable_id, 1);
    assert_int_equal(st->n_l0, 1);
    assert_int_equal(st->l0[0].sst_id, 0);
    assert_int_equal(st->l0[0].num_entries, 10);
    assert_int_equal(st->counters.flushes, 1);
    assert_int_equal(st->counters.flush_bytes_written, st->l0[0].file_size);
    lsm_state_free(st);

    lsm_event_type want[] = {LSM_EVENT_MEMTABLE_FROZEN,
                             LSM_EVENT_MEMTABLE_FROZEN, LSM_EVENT_FLUSH_BEGIN,
                             LSM_EVENT_FLUSH_END};
    uint64_t want_id[] = {0, 1, 0, 0};
    assert_int_equal(ev.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ev.type[i], want[i]);
        assert_int_equal(ev.id[i], want_id[i]);
    }
    for (int i = 0; i < 20; i++)
        expect_numbered(db, i);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* lsm_flush freezes the mutable memtable and flushes every immutable one,
 * oldest first; with nothing in memory it does nothing. */
static void test_flush_flushes_everything(void **state)
{
    char *dir = *state;
    test_events ev;
    test_events_init(&ev);
    lsm_options opt;
    tiny_options(&opt, &ev);
    opt.num_memtable_limit = 5;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    for (int i = 0; i < 35; i++) /* 3 frozen + 5 entries in memtable 3 */
        put_numbered(db, i);
    assert_int_equal(lsm_flush(db), LSM_OK);
    lsm_state *st = state_of(db);
    assert_int_equal(st->n_immutables, 0);
    assert_int_equal(st->memtable.num_keys, 0);
    assert_int_equal(st->n_l0, 4);
    for (size_t i = 0; i < 4; i++) /* newest first */
        assert_int_equal(st->l0[i].sst_id, 3 - i);
    lsm_state_free(st);

    size_t flushes = test_events_count(&ev, LSM_EVENT_FLUSH_END);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(test_events_count(&ev, LSM_EVENT_FLUSH_END), flushes);
    for (int i = 0; i < 35; i++)
        expect_numbered(db, i);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Threads mode: the flush thread keeps memory within the limit eventually,
 * lsm_flush still returns with everything on disk, and every event reached
 * the callback. */
static void test_threads_mode_flushes_in_background(void **state)
{
    char *dir = *state;
    test_events ev;
    test_events_init(&ev);
    lsm_options opt;
    tiny_options(&opt, &ev);
    opt.sched = LSM_SCHED_THREADS;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    for (int i = 0; i < 2000; i++)
        put_numbered(db, i % 1000);
    assert_int_equal(lsm_flush(db), LSM_OK);
    lsm_state *st = state_of(db);
    assert_int_equal(st->n_immutables, 0);
    assert_int_equal(st->n_l0, 200);
    assert_int_equal(st->counters.memtables_frozen, 200);
    assert_int_equal(st->counters.flushes, 200);
    lsm_state_free(st);
    assert_int_equal(test_events_count(&ev, LSM_EVENT_FLUSH_END), 200);
    for (int i = 0; i < 1000; i++)
        expect_numbered(db, i);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* A clean close flushes memory; reopening finds the same SSTs in the same
 * levels, continues ids after the largest one, and keeps sequence numbers
 * increasing (a new write still beats an old one). */
static void test_reopen_keeps_shape_and_data(void **state)
{
    char *dir = *state;
    test_events ev;
    test_events_init(&ev);
    lsm_options opt;
    tiny_options(&opt, &ev);
    opt.num_memtable_limit = 3;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    for (int i = 0; i < 25; i++)
        put_numbered(db, i);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    for (int i = 25; i < 30; i++)
        put_numbered(db, i);
    assert_int_equal(lsm_delete(db, "0000", 4), LSM_OK);
    lsm_state *before = state_of(db);
    assert_int_equal(lsm_close(db), LSM_OK);

    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    lsm_state *after = state_of(db);
    assert_int_equal(after->n_levels, 1);
    assert_int_equal(after->levels[0].n_ssts, before->levels[0].n_ssts);
    for (size_t i = 0; i < after->levels[0].n_ssts; i++)
        assert_int_equal(after->levels[0].ssts[i].sst_id,
                         before->levels[0].ssts[i].sst_id);
    /* Close left the memtable to its log; open replayed it. */
    assert_int_equal(after->n_l0, 0);
    assert_int_equal(after->n_immutables, 1);
    assert_int_equal(after->immutables[0].memtable_id,
                     before->memtable.memtable_id);
    assert_int_equal(after->immutables[0].num_keys, before->memtable.num_keys);
    assert_true(after->memtable.memtable_id > before->memtable.memtable_id);
    lsm_state_free(before);
    lsm_state_free(after);

    void *v;
    size_t n;
    assert_int_equal(lsm_get(db, "0000", 4, &v, &n), LSM_NOTFOUND);
    for (int i = 1; i < 30; i++)
        expect_numbered(db, i);
    assert_int_equal(lsm_put(db, "0001", 4, "fresh", 5), LSM_OK);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_get(db, "0001", 4, &v, &n), LSM_OK);
    assert_memory_equal(v, "fresh", 5);
    lsm_free(v);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Files a crash can leave behind are removed on open: an SST whose id the
 * manifest reserved but never recorded (a compaction that died before its
 * record). A file with an id the manifest cannot account for means the
 * manifest lost records: open refuses and deletes nothing. */
static void test_open_removes_orphan_ssts(void **state)
{
    char *dir = *state;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    put_numbered(db, 1);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_compact_full(db), LSM_OK); /* reserves ids */
    lsm_state *st = state_of(db);
    uint64_t output = st->levels[0].ssts[0].sst_id;
    lsm_state_free(st);
    assert_int_equal(lsm_close(db), LSM_OK);

    char name[32];
    snprintf(name, sizeof name, "%" PRIu64 ".sst", output + 3);
    char *orphan = test_path(dir, name); /* reserved, never recorded */
    int fd = open(orphan, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "junk", 4), 4);
    close(fd);
    char *other = test_path(dir, "notes.txt");
    fd = open(other, O_CREAT | O_WRONLY, 0644);
    close(fd);
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    assert_int_equal(access(orphan, F_OK), -1);
    assert_int_equal(access(other, F_OK), 0);
    expect_numbered(db, 1);
    assert_int_equal(lsm_close(db), LSM_OK);

    char *unexplained = test_path(dir, "999.sst");
    fd = open(unexplained, O_CREAT | O_WRONLY, 0644);
    close(fd);
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_ECORRUPT);
    assert_non_null(strstr(lsm_errmsg(), "999.sst"));
    assert_non_null(strstr(lsm_errmsg(), "lost records"));
    assert_int_equal(access(unexplained, F_OK), 0); /* nothing deleted */
    unlink(unexplained);
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    expect_numbered(db, 1);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(unexplained);
    free(orphan);
    free(other);
}

/* A second handle on the same directory is refused while the first lives. */
static void test_second_open_is_busy(void **state)
{
    char *dir = *state;
    lsm_db *a, *b = (lsm_db *)1;
    assert_int_equal(lsm_open(dir, NULL, &a), LSM_OK);
    assert_int_equal(lsm_open(dir, NULL, &b), LSM_EBUSY);
    assert_null(b);
    assert_non_null(strstr(lsm_errmsg(), "in use"));
    assert_int_equal(lsm_close(a), LSM_OK);
    assert_int_equal(lsm_open(dir, NULL, &b), LSM_OK);
    assert_int_equal(lsm_close(b), LSM_OK);
}

/* Paths that cannot hold a database, and invalid options. */
static void test_open_errors(void **state)
{
    char *dir = *state;
    char *file = test_path(dir, "plainfile");
    int fd = open(file, O_CREAT | O_WRONLY, 0644);
    close(fd);
    lsm_db *db;
    assert_int_equal(lsm_open(file, NULL, &db), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "not a directory"));
    char *under_file = test_path(file, "db");
    assert_int_equal(lsm_open(under_file, NULL, &db), LSM_EIO);
    assert_non_null(strstr(lsm_errmsg(), under_file));
    assert_int_equal(lsm_open("", NULL, &db), LSM_EINVAL);

    lsm_options opt;
    lsm_options_init(&opt);
    opt.num_memtable_limit = 0;
    char *fresh = test_path(dir, "fresh");
    assert_int_equal(lsm_open(fresh, &opt, &db), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "num_memtable_limit"));
    lsm_options_init(&opt);
    opt.max_levels = 0;
    assert_int_equal(lsm_open(fresh, &opt, &db), LSM_EINVAL);

    /* A database fully compacted under leveled has its SSTs in L4, the
     * bottom level: opening it with none (L1 only) is refused, naming the
     * level, and nothing is lost: leveled opens it again. Tiered cannot
     * open it either (its manifest records levels, not tiers). */
    lsm_options_init(&opt);
    assert_int_equal(lsm_open(fresh, &opt, &db), LSM_OK);
    put_numbered(db, 1);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
    opt.compaction = LSM_COMPACTION_NONE;
    assert_int_equal(lsm_open(fresh, &opt, &db), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "L4"));
    opt.compaction = LSM_COMPACTION_TIERED;
    assert_int_equal(lsm_open(fresh, &opt, &db), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "strategy"));
    opt.compaction = LSM_COMPACTION_LEVELED;
    assert_int_equal(lsm_open(fresh, &opt, &db), LSM_OK);
    expect_numbered(db, 1);
    assert_int_equal(lsm_close(db), LSM_OK);

    if (geteuid() != 0) { /* root may write anywhere */
        char *ro = test_path(dir, "readonly");
        mkdir(ro, 0500);
        assert_int_not_equal(lsm_open(ro, NULL, &db), LSM_OK);
        free(ro);
    }
    assert_int_equal(lsm_close(NULL), LSM_OK);
    free(fresh);
    free(under_file);
    free(file);
}

/* Keys and values out of range are refused and write nothing. */
static void test_write_argument_errors(void **state)
{
    char *dir = *state;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    size_t big = LSM_MAX_KEY_BYTES + 1;
    char *key = malloc(big);
    memset(key, 'k', big);
    assert_int_equal(lsm_put(db, key, big, "v", 1), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "65536 bytes"));
    assert_int_equal(lsm_put(db, "", 0, "v", 1), LSM_EINVAL);
    assert_int_equal(lsm_delete(db, NULL, 0), LSM_EINVAL);
    assert_int_equal(lsm_put(db, "k", 1, key, LSM_MAX_VALUE_BYTES + 1),
                     LSM_EINVAL);
    /* The largest key is fine. */
    assert_int_equal(lsm_put(db, key, LSM_MAX_KEY_BYTES, "v", 1), LSM_OK);
    lsm_state *st = state_of(db);
    assert_int_equal(st->counters.puts, 1);
    assert_int_equal(st->memtable.num_keys, 1);
    lsm_state_free(st);
    void *v;
    size_t n;
    assert_int_equal(lsm_get(db, "k", 1, &v, &n), LSM_NOTFOUND);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_get(db, key, LSM_MAX_KEY_BYTES, &v, &n), LSM_OK);
    lsm_free(v);
    free(key);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Appends raw bytes to a file. */
static void append_bytes(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static off_t file_size_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* A manifest cut mid-record is repaired on open; a damaged record before
 * the end is corruption, reported with the file and offset. */
static void test_manifest_torn_tail_and_corruption(void **state)
{
    char *dir = *state;
    char *manifest = test_path(dir, "MANIFEST");
    lsm_db *db;
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    put_numbered(db, 7);
    assert_int_equal(lsm_close(db), LSM_OK);
    off_t good = file_size_of(manifest);

    append_bytes(manifest, "\x05\x00\x00", 3); /* half a header */
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    expect_numbered(db, 7);
    assert_int_equal(lsm_close(db), LSM_OK);
    off_t repaired = file_size_of(manifest);
    assert_true(repaired > good); /* the reopen appended a record */

    /* Flip a byte in the first record: it is followed by others. */
    int fd = open(manifest, O_RDWR);
    unsigned char byte;
    assert_int_equal(pread(fd, &byte, 1, 12), 1);
    byte ^= 0xff;
    assert_int_equal(pwrite(fd, &byte, 1, 12), 1);
    close(fd);
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_ECORRUPT);
    assert_non_null(strstr(lsm_errmsg(), "MANIFEST"));
    assert_non_null(strstr(lsm_errmsg(), "offset 0"));
    free(manifest);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inline_freeze_and_flush_triggers,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_flush_flushes_everything,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_threads_mode_flushes_in_background,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_shape_and_data,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_removes_orphan_ssts,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_second_open_is_busy,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_write_argument_errors,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_manifest_torn_tail_and_corruption,
                                        test_dir_setup, test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
