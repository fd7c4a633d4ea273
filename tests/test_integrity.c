/*
 * test_integrity.c: a database whose files were changed from outside
 * (issue 13) is refused with LSM_ECORRUPT naming the file, never opened
 * into wrong answers or cleaned of files it still needs; and the MANIFEST
 * is rewritten from a snapshot, so it does not grow forever. Public API
 * only (lsm.h), plus POSIX calls that play the outsider.
 *
 *   1. an emptied MANIFEST (`: > MANIFEST` under a running process, which
 *      then appends more records) is corruption, and open deletes nothing;
 *   3. an SST copied over another of the same level, two SSTs swapped, or
 *      an SST of another database with the same id, is corruption naming
 *      the file;
 *   4. a WAL deleted, copied over another, or cut at a record boundary is
 *      corruption naming the WAL, not writes that vanish and overwritten
 *      values that come back;
 *   - a thousand reopens leave the MANIFEST as small as one does; past
 *     manifest_rewrite_bytes it is rewritten while writing; a MANIFEST.new
 *     left by a crash is deleted at open.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lsm.h"
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_KEYS 2000

/* Small SSTs, so a few thousand keys make many; compaction only when
 * asked, so each test decides the tree's shape. */
static void small_options(lsm_options *opt)
{
    lsm_options_init(opt);
    opt->target_sst_size = 4096;
    opt->block_size = 512;
    opt->compaction = LSM_COMPACTION_NONE;
}

static void key_of(int i, char *buf, size_t n)
{
    snprintf(buf, n, "key%05d", i);
}

static void value_of(int i, char *buf, size_t n)
{
    snprintf(buf, n, "value-%d-of-the-test", i);
}

static void put_range(lsm_db *db, int from, int to)
{
    char k[32], v[64];
    for (int i = from; i < to; i++) {
        key_of(i, k, sizeof k);
        value_of(i, v, sizeof v);
        test_put_str(db, k, v);
    }
}

static void expect_range(lsm_db *db, int from, int to)
{
    char k[32], v[64];
    for (int i = from; i < to; i++) {
        key_of(i, k, sizeof k);
        value_of(i, v, sizeof v);
        test_expect_get(db, k, v);
    }
}

/* Writes N_KEYS keys and compacts them into L1 (several SSTs). */
static void make_l1_db(const char *dir)
{
    lsm_options opt;
    small_options(&opt);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    put_range(db, 0, N_KEYS);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* The ids of L1's SSTs, in key order, into ids (at most cap). */
static size_t l1_ids(const char *dir, uint64_t *ids, size_t cap)
{
    lsm_options opt;
    small_options(&opt);
    lsm_db *db = NULL;
    lsm_state *st = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_true(st->n_levels >= 1);
    size_t n = st->levels[0].n_ssts;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++)
        ids[i] = st->levels[0].ssts[i].sst_id;
    lsm_state_free(st);
    assert_int_equal(lsm_close(db), LSM_OK);
    return n;
}

static char *sst_path(const char *dir, uint64_t id)
{
    char name[32];
    snprintf(name, sizeof name, "%" PRIu64 ".sst", id);
    return test_path(dir, name);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    assert_int_equal(fclose(in), 0);
    assert_int_equal(fclose(out), 0);
}

static off_t file_size_of(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* How many <id>.sst files dir holds. */
static size_t count_ssts(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len > 4 && strcmp(e->d_name + len - 4, ".sst") == 0;
    }
    closedir(d);
    return n;
}

/* lsm_open must refuse dir with LSM_ECORRUPT, naming `names`. */
static void expect_corrupt_open(const char *dir, const char *names)
{
    lsm_options opt;
    small_options(&opt);
    lsm_db *db = NULL;
    int rc = lsm_open(dir, &opt, &db);
    if (rc == LSM_OK)
        lsm_close(db);
    assert_int_equal(rc, LSM_ECORRUPT);
    assert_null(db);
    if (!strstr(lsm_errmsg(), names))
        fail_msg("the message does not name %s: %s", names, lsm_errmsg());
}

/* The message of the refused open (after expect_corrupt_open) says why. */
static void expect_reason(const char *why)
{
    if (!strstr(lsm_errmsg(), why))
        fail_msg("the message does not say \"%s\": %s", why, lsm_errmsg());
}

/* --- case 1: an emptied MANIFEST ----------------------------------------- */

static void test_emptied_manifest_under_a_running_db(void **state)
{
    const char *dir = *state;
    lsm_options opt;
    small_options(&opt);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    put_range(db, 0, N_KEYS);
    assert_int_equal(lsm_flush(db), LSM_OK);
    size_t before = count_ssts(dir);
    assert_true(before > 2);
    /* `: > MANIFEST` while the database is open, then more records. */
    char *manifest = test_path(dir, "MANIFEST");
    assert_int_equal(truncate(manifest, 0), 0);
    test_put_str(db, "new", "1");
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
    size_t after_close = count_ssts(dir);
    assert_int_equal(after_close, before + 1);

    expect_corrupt_open(dir, "MANIFEST");
    /* Nothing was deleted: every SST is still there. */
    assert_int_equal(count_ssts(dir), after_close);
    free(manifest);
}

/* A MANIFEST cut from the front (its first bytes gone) is refused too. */
static void test_manifest_without_its_snapshot(void **state)
{
    const char *dir = *state;
    lsm_options opt;
    small_options(&opt);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    put_range(db, 0, N_KEYS);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
    size_t before = count_ssts(dir);

    /* Keep only the records after the first one (its length is in the
     * first 4 bytes of the log framing: FORMAT.md). */
    char *manifest = test_path(dir, "MANIFEST");
    FILE *f = fopen(manifest, "rb");
    assert_non_null(f);
    static uint8_t data[1 << 20];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    assert_true(n > 16);
    size_t first = 16 + ((size_t)data[0] | (size_t)data[1] << 8 |
                         (size_t)data[2] << 16 | (size_t)data[3] << 24);
    assert_true(first < n);
    f = fopen(manifest, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data + first, 1, n - first, f), n - first);
    fclose(f);

    expect_corrupt_open(dir, "MANIFEST");
    assert_int_equal(count_ssts(dir), before);
    free(manifest);
}

/* --- case 3: SSTs copied over, swapped, or from another database --------- */

static void test_sst_copied_over_another(void **state)
{
    const char *dir = *state;
    make_l1_db(dir);
    uint64_t ids[256];
    size_t n = l1_ids(dir, ids, 256);
    assert_true(n >= 3);
    /* `cp 78.sst 82.sst`: two SSTs of one level. */
    char *from = sst_path(dir, ids[0]);
    char *to = sst_path(dir, ids[n - 1]);
    copy_file(from, to);
    char name[32];
    snprintf(name, sizeof name, "%" PRIu64 ".sst", ids[n - 1]);
    expect_corrupt_open(dir, name);
    free(from);
    free(to);
}

/* Swaps the SSTs of ids a and b (through a name no SST has). */
static void swap_ssts(const char *dir, uint64_t a, uint64_t b)
{
    char pa[4096], pb[4096], tmp[4096];
    snprintf(pa, sizeof pa, "%s/%" PRIu64 ".sst", dir, a);
    snprintf(pb, sizeof pb, "%s/%" PRIu64 ".sst", dir, b);
    snprintf(tmp, sizeof tmp, "%s/swap.tmp", dir);
    assert_int_equal(rename(pa, tmp), 0);
    assert_int_equal(rename(pb, pa), 0);
    assert_int_equal(rename(tmp, pb), 0);
}

static void test_ssts_swapped(void **state)
{
    const char *dir = *state;
    make_l1_db(dir);
    uint64_t ids[256];
    size_t n = l1_ids(dir, ids, 256);
    assert_true(n >= 3);
    swap_ssts(dir, ids[0], ids[1]);
    expect_corrupt_open(dir, ".sst");
}

/* Two databases written alike have SSTs of the same ids, sizes and keys:
 * only the database identity tells them apart. */
static void test_sst_of_another_database(void **state)
{
    const char *dir = *state;
    char *other = test_mkdtemp();
    make_l1_db(dir);
    make_l1_db(other);
    uint64_t ids[256], other_ids[256];
    size_t n = l1_ids(dir, ids, 256);
    assert_int_equal(l1_ids(other, other_ids, 256), n);
    assert_memory_equal(ids, other_ids, n * sizeof *ids);
    char *from = sst_path(other, ids[1]);
    char *to = sst_path(dir, ids[1]);
    assert_int_equal(file_size_of(from), file_size_of(to));
    copy_file(from, to);
    char name[32];
    snprintf(name, sizeof name, "%" PRIu64 ".sst", ids[1]);
    expect_corrupt_open(dir, name);
    /* The other database is untouched and opens. */
    lsm_options opt;
    small_options(&opt);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(other, &opt, &db), LSM_OK);
    expect_range(db, 0, N_KEYS);
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_int_equal(test_rmtree(other), 0);
    free(other);
    free(from);
    free(to);
}

/* --- case 4: WALs deleted, copied over, or cut short ---------------------- */

/* Options that keep memtables in their WALs: a memtable freezes once it
 * holds 1 KiB, and up to 8 stay in memory unflushed. */
static void wal_options(lsm_options *opt)
{
    small_options(opt);
    opt->target_sst_size = 1024;
    opt->num_memtable_limit = 8;
}

/* A value big enough to freeze the memtable it goes into. */
static void put_big(lsm_db *db, const char *k, char fill)
{
    char v[1100];
    memset(v, fill, sizeof v - 1);
    v[sizeof v - 1] = '\0';
    test_put_str(db, k, v);
}

static void expect_big(lsm_db *db, const char *k, char fill)
{
    char v[1100];
    memset(v, fill, sizeof v - 1);
    v[sizeof v - 1] = '\0';
    test_expect_get(db, k, v);
}

/* Parses "<digits>.wal". */
static bool wal_id_of(const char *name, uint64_t *id)
{
    char *end = NULL;
    if (name[0] < '0' || name[0] > '9')
        return false;
    *id = strtoull(name, &end, 10);
    return strcmp(end, ".wal") == 0;
}

static int cmp_ids(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The ids of dir's WALs, oldest first. */
static size_t wal_ids(const char *dir, uint64_t *ids, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t id;
        if (wal_id_of(e->d_name, &id)) {
            assert_true(n < cap);
            ids[n++] = id;
        }
    }
    closedir(d);
    qsort(ids, n, sizeof *ids, cmp_ids);
    return n;
}

static char *wal_file(const char *dir, uint64_t id, char *name, size_t n)
{
    snprintf(name, n, "%" PRIu64 ".wal", id);
    return test_path(dir, name);
}

/* Leaves a database whose SST holds k = "old", then two frozen memtables
 * and a mutable one, all in their WALs (ids[0..2]):
 *   ids[0]: k = "mid", then k = big 'a' (which froze it)
 *   ids[1]: k2 = "v2", then k = big 'b' (which froze it)
 *   ids[2]: z = "1" (mutable at close)
 * so that losing ids[1] brings back k = big 'a'. */
static void make_wal_db(const char *dir, uint64_t ids[3])
{
    lsm_options opt;
    wal_options(&opt);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    test_put_str(db, "k", "old");
    assert_int_equal(lsm_flush(db), LSM_OK);
    test_put_str(db, "k", "mid");
    put_big(db, "k", 'a');
    test_put_str(db, "k2", "v2");
    put_big(db, "k", 'b');
    test_put_str(db, "z", "1");
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_int_equal(wal_ids(dir, ids, 3), 3);
}

/* The database of make_wal_db, whole. */
static void expect_wal_db(const char *dir)
{
    lsm_options opt;
    wal_options(&opt);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    expect_big(db, "k", 'b');
    test_expect_get(db, "k2", "v2");
    test_expect_get(db, "z", "1");
    assert_int_equal(lsm_close(db), LSM_OK);
}

static void test_untouched_wals_recover(void **state)
{
    const char *dir = *state;
    uint64_t ids[3];
    make_wal_db(dir, ids);
    expect_wal_db(dir);
    /* Recovered at that open, they are still checked at the next. */
    expect_wal_db(dir);
}

/* Builds make_wal_db's database, deletes the WAL of memtable ids[which]
 * (a frozen one), and expects open to refuse, saying it is missing. */
static void delete_wal_expect_missing(const char *dir, size_t which)
{
    uint64_t ids[3];
    char name[32];
    make_wal_db(dir, ids);
    char *path = wal_file(dir, ids[which], name, sizeof name);
    assert_int_equal(unlink(path), 0);
    expect_corrupt_open(dir, name);
    expect_reason("is missing");
    free(path);
}

static void test_frozen_wal_deleted(void **state)
{
    delete_wal_expect_missing(*state, 1);
}

static void test_oldest_frozen_wal_deleted(void **state)
{
    delete_wal_expect_missing(*state, 0);
}

/* Builds make_wal_db's database, copies the WAL of memtable ids[from]
 * over that of ids[to], and expects open to refuse, naming the target. */
static void copy_wal_expect_corrupt(const char *dir, size_t from, size_t to)
{
    uint64_t ids[3];
    char name[32], other[32];
    make_wal_db(dir, ids);
    char *src = wal_file(dir, ids[from], other, sizeof other);
    char *dst = wal_file(dir, ids[to], name, sizeof name);
    copy_file(src, dst);
    expect_corrupt_open(dir, name);
    free(src);
    free(dst);
}

/* `cp 5.wal 6.wal`: the older memtable's writes twice, the newer's gone. */
static void test_wal_copied_over_a_newer_one(void **state)
{
    copy_wal_expect_corrupt(*state, 0, 1);
}

/* `cp 6.wal 5.wal`: newer writes where older ones belong. */
static void test_wal_copied_over_an_older_one(void **state)
{
    copy_wal_expect_corrupt(*state, 1, 0);
}

/* The newest WAL (the mutable memtable's, which may legitimately end
 * early) replaced by an older one: its first record does not follow the
 * frozen WAL before it. */
static void test_newest_wal_replaced_by_an_older_one(void **state)
{
    copy_wal_expect_corrupt(*state, 0, 2);
}

/* A frozen WAL cut at the end of its first record: whole records, no torn
 * tail, but its last write (k = big 'b') is gone. */
static void test_frozen_wal_cut_at_a_record_boundary(void **state)
{
    const char *dir = *state;
    uint64_t ids[3];
    char name[32];
    make_wal_db(dir, ids);
    char *path = wal_file(dir, ids[1], name, sizeof name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t head[4];
    assert_int_equal(fread(head, 1, 4, f), 4);
    fclose(f);
    /* The log framing: a 16-byte header whose first u32 is the payload's
     * length (FORMAT.md). */
    off_t first_end = 16 + (off_t)(head[0] | head[1] << 8 | head[2] << 16 |
                                   (uint32_t)head[3] << 24);
    assert_true(first_end < file_size_of(path));
    assert_int_equal(truncate(path, first_end), 0);
    expect_corrupt_open(dir, name);
    expect_reason("(cut short?)");
    free(path);
}

/* The memtables an open recovered are frozen by that open: deleting one
 * of their WALs before the next open is caught too. */
static void test_wal_recovered_then_deleted(void **state)
{
    const char *dir = *state;
    uint64_t ids[3];
    char name[32];
    make_wal_db(dir, ids);
    expect_wal_db(dir);
    char *path = wal_file(dir, ids[2], name, sizeof name);
    assert_int_equal(unlink(path), 0);
    expect_corrupt_open(dir, name);
    expect_reason("is missing");
    free(path);
}

/* --- the manifest rewrite ------------------------------------------------- */

static void test_thousand_reopens_keep_the_manifest_small(void **state)
{
    const char *dir = *state;
    make_l1_db(dir);
    char *manifest = test_path(dir, "MANIFEST");
    lsm_options opt;
    small_options(&opt);
    lsm_db *db = NULL;
    /* The first reopen flushes what the last session left over the
     * memtable limit (a flush record); from the second on, an open adds
     * only its new memtable's record to the snapshot. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
        assert_int_equal(lsm_close(db), LSM_OK);
    }
    off_t after_one = file_size_of(manifest);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
        assert_int_equal(lsm_close(db), LSM_OK);
    }
    /* Ids grew by 1000: the next id in the snapshot and the memtable id in
     * its record may each take one more varint byte. Without the rewrite
     * every open appends a record (about 19 bytes). */
    off_t after_thousand = file_size_of(manifest);
    assert_true(after_thousand <= after_one + 2);
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    expect_range(db, 0, N_KEYS);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(manifest);
}

typedef struct rewrite_seen {
    size_t n_rewrites; /* MANIFEST.new renamed over MANIFEST */
} rewrite_seen;

static void rewrite_cb(void *ctx, const lsm_event *ev)
{
    rewrite_seen *s = ctx;
    if (ev->type == LSM_EVENT_IO && ev->io_op == LSM_IO_FILE_RENAME &&
        strcmp(ev->file, "MANIFEST.new") == 0)
        s->n_rewrites++;
}

/* Writes past manifest_rewrite_bytes many times: the MANIFEST is rewritten
 * while writing (the trace's renames), stays small, and the database
 * reopens whole. In threads mode the flush and compaction threads append
 * (and so rewrite) concurrently. */
static void rewrite_while_writing(const char *dir, lsm_sched sched)
{
    char *manifest = test_path(dir, "MANIFEST");
    rewrite_seen seen = {0};
    lsm_options opt;
    small_options(&opt);
    opt.compaction = LSM_COMPACTION_LEVELED;
    opt.target_sst_size = 1024;
    opt.manifest_rewrite_bytes = 2048;
    opt.event_cb = rewrite_cb;
    opt.event_ctx = &seen;
    opt.sched = sched;
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_int_equal(lsm_trace_io(db, 1), LSM_OK);
    off_t largest = 0;
    for (int round = 0; round < 20; round++) {
        put_range(db, round * 100, round * 100 + 400);
        off_t size = file_size_of(manifest);
        if (size > largest)
            largest = size;
    }
    /* Read once close joined the threads that counted. */
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_true(seen.n_rewrites >= 2);
    /* At most the threshold plus the records of one write's flushes and
     * compactions (while the threads rewrite, a snapshot of a busier
     * tree). */
    assert_true(largest < 2048 + 4096);
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    expect_range(db, 0, 19 * 100 + 400);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(manifest);
}

static void test_rewrite_past_the_threshold(void **state)
{
    rewrite_while_writing(*state, LSM_SCHED_INLINE);
}

static void test_rewrite_past_the_threshold_threads(void **state)
{
    rewrite_while_writing(*state, LSM_SCHED_THREADS);
}

/* A MANIFEST.new a crash left mid-rewrite is never read: open uses
 * MANIFEST and leaves no MANIFEST.new behind (deleted as a leftover, and
 * replaced by the open's own rewrite). */
static void test_leftover_manifest_new_is_deleted(void **state)
{
    const char *dir = *state;
    make_l1_db(dir);
    char *leftover = test_path(dir, "MANIFEST.new");
    FILE *f = fopen(leftover, "wb");
    assert_non_null(f);
    fputs("half a snapshot", f);
    fclose(f);
    lsm_options opt;
    small_options(&opt);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_false(file_exists(leftover));
    expect_range(db, 0, N_KEYS);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(leftover);
}

/* The manifest command's view: the first record is the snapshot, naming
 * every live SST with its level, size and keys. */
static void test_snapshot_record_names_the_tree(void **state)
{
    const char *dir = *state;
    make_l1_db(dir);
    lsm_options opt;
    small_options(&opt);
    lsm_db *db = NULL;
    lsm_state *st = NULL;
    lsm_manifest_record *recs = NULL;
    size_t n = 0;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(lsm_manifest_read(db, &recs, &n), LSM_OK);
    assert_true(n >= 1);
    assert_int_equal(recs[0].kind, LSM_MANIFEST_SNAPSHOT);
    assert_int_equal(recs[0].offset, 0);
    const lsm_level_info *l1 = &st->levels[0];
    assert_int_equal(recs[0].n_ssts, l1->n_ssts);
    for (size_t i = 0; i < l1->n_ssts; i++) {
        const lsm_manifest_sst *m = &recs[0].ssts[i];
        const lsm_sst_info *s = &l1->ssts[i];
        assert_int_equal(m->sst_id, s->sst_id);
        assert_int_equal(m->level, 1);
        assert_int_equal(m->file_size, s->file_size);
        assert_int_equal(m->nfirst_key, s->nfirst_key);
        assert_memory_equal(m->first_key, s->first_key, s->nfirst_key);
        assert_int_equal(m->nlast_key, s->nlast_key);
        assert_memory_equal(m->last_key, s->last_key, s->nlast_key);
    }
    /* The identity is not all zeros. */
    uint8_t zero[LSM_IDENTITY_BYTES] = {0};
    assert_memory_not_equal(recs[0].identity, zero, sizeof zero);
    lsm_manifest_free(recs, n);
    lsm_state_free(st);
    assert_int_equal(lsm_close(db), LSM_OK);
}

int main(void)
{
#define T(f)                                                                   \
    cmocka_unit_test_setup_teardown(f, test_dir_setup, test_dir_teardown)
    const struct CMUnitTest tests[] = {
        T(test_emptied_manifest_under_a_running_db),
        T(test_manifest_without_its_snapshot),
        T(test_sst_copied_over_another),
        T(test_ssts_swapped),
        T(test_sst_of_another_database),
        T(test_untouched_wals_recover),
        T(test_frozen_wal_deleted),
        T(test_oldest_frozen_wal_deleted),
        T(test_wal_copied_over_a_newer_one),
        T(test_wal_copied_over_an_older_one),
        T(test_newest_wal_replaced_by_an_older_one),
        T(test_frozen_wal_cut_at_a_record_boundary),
        T(test_wal_recovered_then_deleted),
        T(test_thousand_reopens_keep_the_manifest_small),
        T(test_rewrite_past_the_threshold),
        T(test_rewrite_past_the_threshold_threads),
        T(test_leftover_manifest_new_is_deleted),
        T(test_snapshot_record_names_the_tree),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
