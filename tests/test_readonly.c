/*
 * test_readonly.c: opening a database read-only (lsm_options.read_only),
 * through the public API.
 *
 *   - Nothing on disk changes: every file's name, size, contents, inode,
 *     mtime and ctime, and the directory's own listing and mtime, are the
 *     same after a read-only open, reads and close as before; also for a
 *     database a crash left with torn tails on its newest WAL and on its
 *     MANIFEST and with leftover files the MANIFEST does not name (which
 *     a normal open then does repair: the setup is not a no-op).
 *   - Writes only in WALs (never flushed) read back.
 *   - A read-only open works while another process (a forked child) has
 *     the database open and locked, and sees what the MANIFEST and the
 *     WALs held at open: not the child's later writes, while the SSTs the
 *     child's compaction deletes afterwards still read.
 *   - Every call that would change the database returns LSM_EREADONLY,
 *     naming the call, and changes nothing; reads, snapshots and
 *     transactions that only read work; lsm_close returns LSM_OK.
 *   - No directory or no MANIFEST: an error, and nothing is created.
 *   - An SST deleted under the handle still reads; one cut short is
 *     LSM_ECORRUPT naming the file, never a crash.
 *   - No thread is started, even with LSM_SCHED_THREADS (checked last:
 *     a normal threads-mode open shows that the count sees threads).
 * LSM_TEST_FILTER=<pattern> runs only the matching tests (cmocka's filter).
 *
 * Thread safety: single-threaded until the last test, whose normal
 * threads-mode open starts the engine's threads (so scripts/test runs
 * this suite under TSan too); the forked children, forked before it, run
 * their own engines and talk to the parent over pipes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- what a directory looks like ----------------------------------------- */

#define MAX_FILES 1024

/* One entry of a database directory, as much of it as a writer could
 * change. */
typedef struct file_facts {
    char name[64];
    off_t size;
    uint64_t hash; /* FNV-1a of the contents */
    ino_t ino;
    struct timespec mtime, ctime;
} file_facts;

typedef struct dir_facts {
    size_t n;
    file_facts files[MAX_FILES]; /* sorted by name */
    struct timespec dir_mtime;
} dir_facts;

static uint64_t hash_file(const char *path)
{
    uint64_t h = 0xcbf29ce484222325ull;
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    int c;
    while ((c = fgetc(f)) != EOF)
        h = (h ^ (uint64_t)(unsigned char)c) * 0x100000001b3ull;
    fclose(f);
    return h;
}

static int facts_cmp(const void *a, const void *b)
{
    return strcmp(((const file_facts *)a)->name, ((const file_facts *)b)->name);
}

static void dir_facts_take(const char *dir, dir_facts *out)
{
    struct stat st;
    memset(out, 0, sizeof *out);
    assert_int_equal(stat(dir, &st), 0);
    out->dir_mtime = st.st_mtim;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        assert_true(out->n < MAX_FILES);
        file_facts *f = &out->files[out->n++];
        assert_true(strlen(e->d_name) < sizeof f->name);
        strcpy(f->name, e->d_name);
        char *p = test_path(dir, e->d_name);
        assert_int_equal(lstat(p, &st), 0);
        f->size = st.st_size;
        f->ino = st.st_ino;
        f->mtime = st.st_mtim;
        f->ctime = st.st_ctim;
        f->hash = S_ISREG(st.st_mode) ? hash_file(p) : 0;
        free(p);
    }
    closedir(d);
    qsort(out->files, out->n, sizeof out->files[0], facts_cmp);
}

static bool same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Whether two looks at a directory agree; the first difference goes to
 * *why (for a failure message). */
static bool dir_facts_equal(const dir_facts *a, const dir_facts *b, char *why,
                            size_t n_why)
{
    if (a->n != b->n) {
        snprintf(why, n_why, "%zu entries before, %zu after", a->n, b->n);
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        const file_facts *x = &a->files[i], *y = &b->files[i];
        const char *what = strcmp(x->name, y->name) != 0    ? "name"
                           : x->size != y->size             ? "size"
                           : x->hash != y->hash             ? "contents"
                           : x->ino != y->ino               ? "inode"
                           : !same_time(x->mtime, y->mtime) ? "mtime"
                           : !same_time(x->ctime, y->ctime) ? "ctime"
                                                            : NULL;
        if (what) {
            snprintf(why, n_why, "%s: %s changed (now %s)", x->name, what,
                     y->name);
            return false;
        }
    }
    if (!same_time(a->dir_mtime, b->dir_mtime)) {
        snprintf(why, n_why, "the directory's mtime changed");
        return false;
    }
    return true;
}

static void assert_dir_unchanged(const dir_facts *before, const char *dir)
{
    static dir_facts after; /* large: not on the stack */
    char why[256];
    dir_facts_take(dir, &after);
    if (!dir_facts_equal(before, &after, why, sizeof why))
        fail_msg("%s changed: %s", dir, why);
}

/* --- databases to look at ------------------------------------------------- */

/* Small SSTs and memtables, leveled, inline: a short test makes many
 * files. */
static void small_options(lsm_options *opt)
{
    lsm_options_init(opt);
    opt->target_sst_size = 512;
    opt->num_memtable_limit = 2;
    opt->compaction = LSM_COMPACTION_LEVELED;
    opt->level0_file_num_compaction_trigger = 2;
    opt->base_level_size_mb = 1;
}

static void read_only_options(lsm_options *opt)
{
    small_options(opt);
    opt->read_only = 1;
}

/* Counts the live keys a full scan returns. */
static size_t scan_count(lsm_db *db)
{
    lsm_iter *it = NULL;
    assert_int_equal(lsm_scan(db, NULL, NULL, &it), LSM_OK);
    size_t n = 0;
    while (lsm_iter_valid(it)) {
        n++;
        assert_int_equal(lsm_iter_next(it), LSM_OK);
    }
    lsm_iter_close(it);
    return n;
}

/* Writes, flushes and compacts: "a" keys in SSTs of L0 and the levels,
 * "w" keys only in the WALs (never flushed), then closes. */
static void make_database(const char *dir)
{
    lsm_options opt;
    small_options(&opt);
    opt.num_memtable_limit = 4; /* the "w" keys stay in memtables */
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    test_put_range(db, "a", 0, 300, "flushed");
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    test_put_range(db, "a", 0, 40, "newer");
    assert_int_equal(lsm_flush(db), LSM_OK);
    test_put_range(db, "w", 0, 60, "in-wal");
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Events a read-only open sent. */
typedef struct seen {
    size_t warnings, recovered, deleted, io;
    size_t wals_recovered;
    char last_warning[512];
} seen;

static void seen_cb(void *ctx, const lsm_event *ev)
{
    seen *s = ctx;
    switch (ev->type) {
    case LSM_EVENT_WARNING:
        s->warnings++;
        snprintf(s->last_warning, sizeof s->last_warning, "%s", ev->message);
        break;
    case LSM_EVENT_RECOVERED:
        s->recovered++;
        s->wals_recovered = ev->n_wals_recovered;
        break;
    case LSM_EVENT_SST_DELETED:
        s->deleted++;
        break;
    case LSM_EVENT_IO:
        s->io++;
        break;
    default:
        break;
    }
}

/* --- tests ------------------------------------------------------------------
 */

/* Writes that only a WAL holds read back, and the read-only open, reads,
 * a snapshot, an iterator and close leave every file as it was; a normal
 * open afterwards still finds everything. */
static void test_wal_only_data_is_visible(void **state)
{
    char *dir = test_path(*state, "db");
    static dir_facts before;
    make_database(dir);
    dir_facts_take(dir, &before);

    lsm_options opt;
    read_only_options(&opt);
    seen s = {0};
    opt.event_cb = seen_cb;
    opt.event_ctx = &s;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_int_equal(lsm_trace_io(db, 1), LSM_OK); /* no step will come */
    assert_int_equal(s.recovered, 1);
    assert_true(s.wals_recovered >= 1);
    test_expect_range(db, "w", 0, 60, "in-wal");
    test_expect_range(db, "a", 0, 40, "newer");
    test_expect_range(db, "a", 40, 300, "flushed");
    assert_int_equal(scan_count(db), 360);

    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_true(st->n_immutables >= 1); /* the WALs' memtables */
    assert_int_equal(st->memtable.num_keys, 0);
    assert_true(st->visible_seq >= 400);
    lsm_state_free(st);

    lsm_snapshot *snap = NULL;
    assert_int_equal(lsm_snapshot_take(db, &snap), LSM_OK);
    void *v = NULL;
    size_t nv = 0;
    assert_int_equal(lsm_get_at(db, snap, "w0007", 5, &v, &nv), LSM_OK);
    assert_memory_equal(v, "in-wal", 6);
    lsm_free(v);
    lsm_key_version *versions = NULL;
    size_t n_versions = 0;
    assert_int_equal(lsm_key_history(db, "a0001", 5, &versions, &n_versions),
                     LSM_OK);
    assert_int_equal(n_versions, 2); /* "newer" in L0 over "flushed" */
    lsm_key_history_free(versions, n_versions);
    lsm_manifest_record *recs = NULL;
    size_t n_recs = 0;
    assert_int_equal(lsm_manifest_read(db, &recs, &n_recs), LSM_OK);
    assert_true(n_recs >= 1);
    assert_int_equal(recs[0].kind, LSM_MANIFEST_SNAPSHOT);
    lsm_manifest_free(recs, n_recs);
    lsm_snapshot_release(snap);
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_int_equal(s.warnings, 0);
    assert_int_equal(s.deleted, 0);
    assert_int_equal(s.io, 0);
    assert_dir_unchanged(&before, dir);

    /* The WALs were only read: a normal open replays them all. */
    small_options(&opt);
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    test_expect_range(db, "w", 0, 60, "in-wal");
    assert_int_equal(lsm_close(db), LSM_OK);
    free(dir);
}

/* Appends n bytes of garbage to the file at path: fewer than a record's
 * 16-byte header, so a torn tail (FORMAT.md, the log rules). */
static void append_bytes(const char *path, size_t n)
{
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc(0xA5, f);
    assert_int_equal(fclose(f), 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* The largest id among dir's "<id>.wal" files (the mutable memtable's
 * log when the writer died); -1 when there is none. */
static long newest_wal(const char *dir)
{
    long newest = -1;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end = NULL;
        long id = strtol(e->d_name, &end, 10);
        if (end != e->d_name && strcmp(end, ".wal") == 0 && id > newest)
            newest = id;
    }
    closedir(d);
    return newest;
}

/* In a child that dies without closing (as kill -9 would): flushed and
 * compacted data and unflushed writes. Writes to *free_id an id below
 * the next one that no live SST or memtable uses (a compacted-away
 * input's), for leftovers the MANIFEST accounts for. */
static void make_crashed_database(const char *dir, uint64_t *free_id)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        lsm_options opt;
        small_options(&opt);
        lsm_db *db;
        if (lsm_open(dir, &opt, &db) != LSM_OK)
            _exit(2);
        char key[16];
        for (int i = 0; i < 300; i++) {
            snprintf(key, sizeof key, "c%04d", i);
            if (lsm_put(db, key, 5, "old", 3) != LSM_OK)
                _exit(3);
        }
        if (lsm_flush(db) != LSM_OK || lsm_compact_full(db) != LSM_OK)
            _exit(4);
        for (int i = 0; i < 20; i++) {
            snprintf(key, sizeof key, "c%04d", i);
            if (lsm_put(db, key, 5, "new", 3) != LSM_OK)
                _exit(5);
        }
        /* The smallest id no SST or memtable holds now. */
        lsm_state *st = NULL;
        if (lsm_state_get(db, &st) != LSM_OK)
            _exit(6);
        uint64_t id = 0;
        for (bool used = true; used; id += used) {
            used = st->memtable.memtable_id == id;
            for (size_t i = 0; i < st->n_immutables; i++)
                used |= st->immutables[i].memtable_id == id;
            for (size_t i = 0; i < st->n_l0; i++)
                used |= st->l0[i].sst_id == id;
            for (size_t l = 0; l < st->n_levels; l++)
                for (size_t i = 0; i < st->levels[l].n_ssts; i++)
                    used |= st->levels[l].ssts[i].sst_id == id;
        }
        lsm_state_free(st);
        ssize_t w = write(fds[1], &id, sizeof id);
        _exit(w == (ssize_t)sizeof id ? 0 : 7); /* no lsm_close */
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], free_id, sizeof *free_id),
                     (ssize_t)sizeof *free_id);
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A crash left torn tails (the newest WAL, the MANIFEST) and leftovers (an
 * SST and a WAL of an id no longer live, a MANIFEST.new). Read-only, all
 * of it stays as it is, the torn tails are warned about and left out,
 * and every acknowledged write reads back. A normal open then repairs
 * it: the files do change, so the comparison above was not vacuous. */
static void test_crash_leftovers_and_torn_tails_stay(void **state)
{
    char *dir = test_path(*state, "db");
    static dir_facts before;
    uint64_t free_id = 0;
    make_crashed_database(dir, &free_id);
    long wal_id = newest_wal(dir);
    assert_true(wal_id >= 0);
    char name[64];
    snprintf(name, sizeof name, "%ld.wal", wal_id);
    char *wal = test_path(dir, name);
    char *manifest = test_path(dir, "MANIFEST");
    append_bytes(wal, 9);
    append_bytes(manifest, 5);
    snprintf(name, sizeof name, "%llu.sst", (unsigned long long)free_id);
    char *left_sst = test_path(dir, name);
    snprintf(name, sizeof name, "%llu.wal", (unsigned long long)free_id);
    char *left_wal = test_path(dir, name);
    char *left_new = test_path(dir, "MANIFEST.new");
    write_file(left_sst, "not an SST: a compaction output the crash cut");
    write_file(left_wal, "");
    write_file(left_new, "half a rewrite");
    dir_facts_take(dir, &before);

    lsm_options opt;
    read_only_options(&opt);
    seen s = {0};
    opt.event_cb = seen_cb;
    opt.event_ctx = &s;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_int_equal(s.warnings, 2); /* MANIFEST, then the WAL */
    assert_non_null(strstr(s.last_warning, "torn record of 9 byte(s)"));
    assert_non_null(strstr(s.last_warning, "not repaired"));
    test_expect_range(db, "c", 0, 20, "new");
    test_expect_range(db, "c", 20, 300, "old");
    assert_int_equal(scan_count(db), 300);
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_int_equal(s.deleted, 0);
    assert_dir_unchanged(&before, dir);

    /* Twice in a row: the same warnings, the same answers. */
    memset(&s, 0, sizeof s);
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_int_equal(s.warnings, 2);
    test_expect_range(db, "c", 0, 20, "new");
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_dir_unchanged(&before, dir);

    /* A normal open repairs what read-only left alone. */
    small_options(&opt);
    memset(&s, 0, sizeof s);
    opt.event_cb = seen_cb;
    opt.event_ctx = &s;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_true(s.deleted >= 1); /* the leftover SST */
    test_expect_range(db, "c", 0, 20, "new");
    assert_int_equal(lsm_close(db), LSM_OK);
    struct stat st;
    assert_int_not_equal(stat(left_sst, &st), 0);
    assert_int_not_equal(stat(left_new, &st), 0);
    free(wal);
    free(manifest);
    free(left_sst);
    free(left_wal);
    free(left_new);
    free(dir);
}

/* --- another process holding the database ----------------------------------
 */

/* The child writer: opens dir, writes "a" keys (flushed and compacted,
 * some left in memtables), says 'A' on to_parent, waits for a byte on
 * from_parent, writes "b" keys and compacts everything (deleting the SSTs
 * it had), says 'B', waits again, closes. Exits 0 when all went well. */
static void child_writer(const char *dir, int to_parent, int from_parent)
{
    lsm_options opt;
    small_options(&opt);
    lsm_db *db;
    char c;
    if (lsm_open(dir, &opt, &db) != LSM_OK)
        _exit(2);
    char key[16];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "a%04d", i);
        if (lsm_put(db, key, 5, "first", 5) != LSM_OK)
            _exit(3);
    }
    if (write(to_parent, "A", 1) != 1 || read(from_parent, &c, 1) != 1)
        _exit(4);
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "b%04d", i);
        if (lsm_put(db, key, 5, "second", 6) != LSM_OK)
            _exit(5);
    }
    if (lsm_flush(db) != LSM_OK || lsm_compact_full(db) != LSM_OK)
        _exit(6);
    if (write(to_parent, "B", 1) != 1 || read(from_parent, &c, 1) != 1)
        _exit(7);
    _exit(lsm_close(db) == LSM_OK ? 0 : 8);
}

static void expect_byte(int fd, char want)
{
    char c = 0;
    assert_int_equal(read(fd, &c, 1), 1);
    assert_int_equal(c, want);
}

/* A forked child holds the database open (and locked) and writes; the
 * parent opens it read-only twice, at two moments, and each handle sees
 * exactly what was there when it opened, while the first one's SSTs are
 * compacted away under it. */
static void test_open_while_another_process_holds_it(void **state)
{
    char *dir = test_path(*state, "db");
    static dir_facts before;
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        child_writer(dir, up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    expect_byte(up[0], 'A');

    lsm_db *busy = NULL;
    assert_int_equal(lsm_open(dir, NULL, &busy), LSM_EBUSY);
    assert_null(busy);
    dir_facts_take(dir, &before);
    lsm_options opt;
    read_only_options(&opt);
    lsm_db *first;
    assert_int_equal(lsm_open(dir, &opt, &first), LSM_OK);
    test_expect_range(first, "a", 0, 300, "first");
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(first, &st), LSM_OK);
    size_t ssts_seen = st->n_l0;
    for (size_t l = 0; l < st->n_levels; l++)
        ssts_seen += st->levels[l].n_ssts;
    assert_true(ssts_seen > 0);
    assert_true(st->n_immutables > 0); /* the child's memtables, from WALs */
    lsm_state_free(st);
    assert_dir_unchanged(&before, dir); /* the child is waiting */

    /* The child writes more and compacts: its old SSTs are deleted. */
    assert_int_equal(write(down[1], "x", 1), 1);
    expect_byte(up[0], 'B');
    test_expect_range(first, "a", 0, 300, "first");
    test_expect_range(first, "b", 0, 300, NULL); /* after the open */
    assert_int_equal(scan_count(first), 300);

    lsm_db *second;
    assert_int_equal(lsm_open(dir, &opt, &second), LSM_OK);
    test_expect_range(second, "a", 0, 300, "first");
    test_expect_range(second, "b", 0, 300, "second");
    assert_int_equal(scan_count(second), 600);
    assert_int_equal(lsm_put(second, "k", 1, "v", 1), LSM_EREADONLY);
    assert_int_equal(lsm_close(second), LSM_OK);
    assert_int_equal(lsm_close(first), LSM_OK);

    assert_int_equal(write(down[1], "x", 1), 1);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(up[0]);
    close(down[1]);
    free(dir);
}

/* --- refused writes --------------------------------------------------------
 */

/* rc is LSM_EREADONLY and the message names call and read-only. */
static void expect_refused(int rc, const char *call)
{
    assert_int_equal(rc, LSM_EREADONLY);
    const char *msg = lsm_errmsg();
    if (!strstr(msg, call) || !strstr(msg, "read-only"))
        fail_msg("%s: message \"%s\"", call, msg);
    assert_non_null(strstr(msg, "nothing was written"));
}

static void test_every_write_is_refused(void **state)
{
    char *dir = test_path(*state, "db");
    static dir_facts before;
    make_database(dir);
    dir_facts_take(dir, &before);
    lsm_options opt;
    read_only_options(&opt);
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    uint64_t seq = st->visible_seq;
    lsm_state_free(st);

    expect_refused(lsm_put(db, "a0001", 5, "x", 1), "lsm_put");
    expect_refused(lsm_put(db, "", 0, "x", 1), "lsm_put"); /* before the key */
    expect_refused(lsm_delete(db, "a0001", 5), "lsm_delete");
    expect_refused(lsm_delete_range(db, "a0001", 5, "a0009", 5),
                   "lsm_delete_range");
    /* Refused before the range is checked, as lsm_put before its key. */
    expect_refused(lsm_delete_range(db, "b", 1, "a", 1), "lsm_delete_range");
    lsm_kv kv = {"a0002", 5, "x", 1};
    size_t written = 99;
    expect_refused(lsm_put_many(db, &kv, 1, &written), "lsm_put_many");
    assert_int_equal(written, 0);
    written = 99;
    expect_refused(lsm_put_many(db, NULL, 0, &written), "lsm_put_many");
    assert_int_equal(written, 0);
    lsm_batch *b = NULL;
    assert_int_equal(lsm_batch_new(&b), LSM_OK);
    expect_refused(lsm_write(db, b), "lsm_write"); /* empty too */
    assert_int_equal(lsm_batch_put(b, "a0003", 5, "x", 1), LSM_OK);
    assert_int_equal(lsm_batch_delete(b, "a0004", 5), LSM_OK);
    assert_int_equal(lsm_batch_delete_range(b, "a0007", 5, "a0008", 5), LSM_OK);
    expect_refused(lsm_write(db, b), "lsm_write");
    lsm_batch_free(b);
    expect_refused(lsm_flush(db), "lsm_flush");
    expect_refused(lsm_compact_full(db), "lsm_compact_full");

    /* A transaction buffers writes and reads them, but cannot commit. */
    lsm_txn *t = NULL;
    assert_int_equal(lsm_txn_begin(db, LSM_ISOLATION_SERIALIZABLE, &t), LSM_OK);
    assert_int_equal(lsm_txn_put(t, "a0005", 5, "mine", 4), LSM_OK);
    assert_int_equal(lsm_txn_delete(t, "a0006", 5), LSM_OK);
    void *v = NULL;
    size_t nv = 0;
    assert_int_equal(lsm_txn_get(t, "a0005", 5, &v, &nv), LSM_OK);
    assert_memory_equal(v, "mine", 4);
    lsm_free(v);
    lsm_commit_info info;
    expect_refused(lsm_txn_commit(t, &info), "lsm_txn_commit");
    assert_null(info.key);
    /* One that only read commits. */
    assert_int_equal(lsm_txn_begin(db, LSM_ISOLATION_SNAPSHOT, &t), LSM_OK);
    assert_int_equal(lsm_txn_get(t, "a0005", 5, &v, &nv), LSM_OK);
    lsm_free(v);
    assert_int_equal(lsm_txn_commit(t, &info), LSM_OK);
    assert_int_equal(info.commit_seq, seq);

    /* Nothing moved. */
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->visible_seq, seq);
    assert_int_equal(st->counters.puts, 0);
    assert_int_equal(st->counters.deletes, 0);
    assert_int_equal(st->counters.flushes, 0);
    assert_int_equal(st->counters.compactions, 0);
    assert_int_equal(st->counters.txn_commits, 1);
    assert_int_equal(st->counters.memtables_frozen, 0);
    lsm_state_free(st);
    test_expect_range(db, "a", 0, 40, "newer");
    test_expect_range(db, "a", 40, 300, "flushed");
    assert_int_equal(lsm_put(NULL, "k", 1, "v", 1), LSM_EINVAL);
    assert_string_equal(lsm_strerror(LSM_EREADONLY),
                        "database is open read-only");
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_dir_unchanged(&before, dir);
    free(dir);
}

/* --- nothing to open ---------------------------------------------------------
 */

static void test_nothing_is_created(void **state)
{
    char *missing = test_path(*state, "missing");
    char *empty = test_path(*state, "empty");
    lsm_options opt;
    read_only_options(&opt);
    static char sentinel;
    lsm_db *db = (lsm_db *)(void *)&sentinel; /* lsm_open sets it NULL */
    assert_int_equal(lsm_open(missing, &opt, &db), LSM_EIO);
    assert_null(db);
    assert_non_null(strstr(lsm_errmsg(), "read-only open"));
    struct stat st;
    assert_int_not_equal(stat(missing, &st), 0);

    assert_int_equal(mkdir(empty, 0755), 0);
    static dir_facts before;
    dir_facts_take(empty, &before);
    assert_int_equal(lsm_open(empty, &opt, &db), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "no MANIFEST"));
    assert_dir_unchanged(&before, empty);
    assert_int_equal(before.n, 0);
    free(missing);
    free(empty);
}

/* --- files changed under the handle -----------------------------------------
 */

/* The SST ids of the state's tree, into ids (at most cap); returns how
 * many. */
static size_t tree_ssts(lsm_db *db, uint64_t *ids, size_t cap)
{
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    size_t n = 0;
    for (size_t i = 0; i < st->n_l0 && n < cap; i++)
        ids[n++] = st->l0[i].sst_id;
    for (size_t l = 0; l < st->n_levels; l++)
        for (size_t i = 0; i < st->levels[l].n_ssts && n < cap; i++)
            ids[n++] = st->levels[l].ssts[i].sst_id;
    lsm_state_free(st);
    return n;
}

/* Another process's compaction deletes every SST: this handle opened
 * them, so they still read. One cut short (no tool of ours does that) is
 * an error naming it. */
static void test_ssts_changed_underneath(void **state)
{
    char *dir = test_path(*state, "db");
    make_database(dir);
    lsm_options opt;
    read_only_options(&opt);
    opt.block_cache_bytes = 0; /* every read reaches the file */
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    uint64_t ids[256];
    size_t n = tree_ssts(db, ids, 256);
    assert_true(n > 1);
    char name[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%llu.sst", (unsigned long long)ids[i]);
        char *p = test_path(dir, name);
        assert_int_equal(unlink(p), 0);
        free(p);
    }
    test_expect_range(db, "a", 0, 40, "newer");
    test_expect_range(db, "a", 40, 300, "flushed");
    assert_int_equal(scan_count(db), 360);
    assert_int_equal(lsm_close(db), LSM_OK);

    /* A fresh database; one SST cut to nothing while a handle holds it. */
    char *dir2 = test_path(*state, "db2");
    make_database(dir2);
    assert_int_equal(lsm_open(dir2, &opt, &db), LSM_OK);
    n = tree_ssts(db, ids, 256);
    snprintf(name, sizeof name, "%llu.sst", (unsigned long long)ids[n - 1]);
    char *cut = test_path(dir2, name);
    assert_int_equal(truncate(cut, 0), 0);
    int failed = 0;
    char key[16];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "a%04d", i);
        void *v = NULL;
        size_t nv = 0;
        int rc = lsm_get(db, key, strlen(key), &v, &nv);
        lsm_free(v);
        if (rc == LSM_OK)
            continue;
        assert_int_equal(rc, LSM_ECORRUPT);
        assert_non_null(strstr(lsm_errmsg(), name));
        failed++;
    }
    assert_true(failed > 0);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(cut);
    free(dir2);
    free(dir);
}

/* --- no threads --------------------------------------------------------------
 */

/* Threads of this process, from /proc/self/task. */
static size_t count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_threads_mode_starts_no_thread(void **state)
{
    char *dir = test_path(*state, "db");
    make_database(dir);
    size_t alone = count_threads();
    if (alone == 0)
        skip(); /* no /proc */
    lsm_options opt;
    read_only_options(&opt);
    opt.sched = LSM_SCHED_THREADS;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_int_equal(count_threads(), alone);
    test_expect_range(db, "w", 0, 60, "in-wal");
    assert_int_equal(lsm_flush(db), LSM_EREADONLY);
    assert_int_equal(lsm_close(db), LSM_OK);
    /* The count does see threads: a normal threads-mode open adds two
     * (under TSan, its runtime's own thread too, started with them). */
    opt.read_only = 0;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    size_t writing = count_threads();
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_true(writing >= alone + 2);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wal_only_data_is_visible,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(
            test_crash_leftovers_and_torn_tails_stay, test_dir_setup,
            test_dir_teardown),
        cmocka_unit_test_setup_teardown(
            test_open_while_another_process_holds_it, test_dir_setup,
            test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_every_write_is_refused,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_nothing_is_created, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_ssts_changed_underneath,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_threads_mode_starts_no_thread,
                                        test_dir_setup, test_dir_teardown),
    };
    const char *filter = getenv("LSM_TEST_FILTER");
    if (filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
