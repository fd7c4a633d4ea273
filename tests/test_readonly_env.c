/*
 * test_readonly_env.c: the read-only open (lsm_options.read_only) seen
 * from below the public API, through envs that watch every file call.
 *
 *   - No mutating call at all: through the fault env with every mutating
 *     kind (append, sync, directory sync, create, rename, unlink,
 *     truncate) armed to fail from its first call, a read-only open of a
 *     crash-left database (torn tails, leftovers), reads and close all
 *     succeed, and the env counted zero calls of each kind.
 *   - The MANIFEST read-only (log layer): a torn tail is reported and left
 *     in the file; appends and rewrites are LSM_EREADONLY;
 *     manifest_changed_on_disk tells an appended or rewritten file from
 *     the one replayed.
 *   - Another writer changing the files during the open: an env that runs
 *     a hook when the open lists the directory lets a writer handle (in
 *     this process: the read-only open takes no lock) flush and compact
 *     right between the open's reading of the MANIFEST and its opening of
 *     the SSTs. The open starts over and sees the writer's result; a
 *     writer that changes things at every attempt makes it give up after
 *     8, saying so; an SST really missing (the MANIFEST unchanged) fails
 *     at once.
 * LSM_TEST_FILTER=<pattern> runs only the matching tests (cmocka's filter).
 *
 * Thread safety: single-threaded (inline mode; the writer's work runs on
 * this thread, inside the hook).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include "db/db_int.h"
#include "fault_env.h"
#include "log/manifest_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void small_options(lsm_options *opt)
{
    lsm_options_init(opt);
    opt->target_sst_size = 512;
    opt->num_memtable_limit = 2;
    opt->compaction = LSM_COMPACTION_LEVELED;
    opt->level0_file_num_compaction_trigger = 2;
    opt->base_level_size_mb = 1;
}

static void append_bytes(const char *path, size_t n)
{
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc(0x5A, f);
    assert_int_equal(fclose(f), 0);
}

static uint64_t file_size_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* --- no mutating call ------------------------------------------------------
 */

/* A child writes, flushes, compacts and dies without closing; then the
 * newest WAL and the MANIFEST get torn tails and a MANIFEST.new is left
 * beside them. Returns the newest WAL's id. */
static uint64_t make_crashed_database(const char *dir)
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
        for (int i = 0; i < 200; i++) {
            snprintf(key, sizeof key, "k%04d", i);
            if (lsm_put(db, key, 5, "old", 3) != LSM_OK)
                _exit(3);
        }
        if (lsm_flush(db) != LSM_OK || lsm_compact_full(db) != LSM_OK)
            _exit(4);
        if (lsm_put(db, "k0000", 5, "new", 3) != LSM_OK)
            _exit(5);
        lsm_state *st = NULL;
        if (lsm_state_get(db, &st) != LSM_OK)
            _exit(6);
        uint64_t mem = st->memtable.memtable_id;
        lsm_state_free(st);
        ssize_t w = write(fds[1], &mem, sizeof mem);
        _exit(w == (ssize_t)sizeof mem ? 0 : 7); /* no lsm_close */
    }
    close(fds[1]);
    uint64_t mem = 0;
    assert_int_equal(read(fds[0], &mem, sizeof mem), (ssize_t)sizeof mem);
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char name[32];
    snprintf(name, sizeof name, "%llu.wal", (unsigned long long)mem);
    char *wal_path = test_path(dir, name);
    char *manifest_path = test_path(dir, "MANIFEST");
    char *left_path = test_path(dir, "MANIFEST.new");
    append_bytes(wal_path, 7);
    append_bytes(manifest_path, 3);
    append_bytes(left_path, 40);
    free(wal_path);
    free(manifest_path);
    free(left_path);
    return mem;
}

static void count_warning(void *ctx, const lsm_event *ev)
{
    if (ev->type == LSM_EVENT_WARNING)
        (*(int *)ctx)++;
}

static void test_no_mutating_call(void **state)
{
    char *dir = test_path(*state, "db");
    make_crashed_database(dir);
    fault_env *fe = NULL;
    assert_int_equal(fault_env_new(env_posix(), &fe), LSM_OK);
    for (int k = 0; k < FAULT_N_KINDS; k++)
        fault_env_fail_from_nth(fe, (fault_kind)k, 1);

    lsm_options opt;
    small_options(&opt);
    opt.read_only = 1;
    int warnings = 0;
    opt.event_cb = count_warning;
    opt.event_ctx = &warnings;
    lsm_db *db;
    assert_int_equal(db_open_env(dir, &opt, fault_env_env(fe), &db), LSM_OK);
    assert_int_equal(warnings, 2);
    test_expect_get(db, "k0000", "new");
    test_expect_range(db, "k", 1, 200, "old");
    lsm_iter *it = NULL;
    assert_int_equal(lsm_scan(db, NULL, NULL, &it), LSM_OK);
    size_t n = 0;
    for (; lsm_iter_valid(it); n++)
        assert_int_equal(lsm_iter_next(it), LSM_OK);
    lsm_iter_close(it);
    assert_int_equal(n, 200);
    assert_int_equal(lsm_put(db, "x", 1, "y", 1), LSM_EREADONLY);
    assert_int_equal(lsm_flush(db), LSM_EREADONLY);
    assert_int_equal(lsm_compact_full(db), LSM_EREADONLY);
    assert_int_equal(lsm_close(db), LSM_OK);
    for (int k = 0; k < FAULT_N_KINDS; k++)
        if (fault_env_count(fe, (fault_kind)k) != 0)
            fail_msg("%llu %s call(s) from a read-only handle",
                     (unsigned long long)fault_env_count(fe, (fault_kind)k),
                     fault_kind_name((fault_kind)k));
    assert_int_equal(fault_env_fired(fe), 0);
    fault_env_free(fe);
    free(dir);
}

/* --- the MANIFEST, read-only -------------------------------------------------
 */

static void test_manifest_read_only(void **state)
{
    char *path = test_path(*state, "MANIFEST");
    manifest *m = NULL;
    uint64_t torn = 0;
    /* Missing: an error, and nothing created. */
    assert_int_equal(manifest_open_read_only(env_posix(), path, &torn, &m),
                     LSM_EIO);
    assert_null(m);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);

    /* A real manifest with two records, then a torn tail. */
    assert_int_equal(manifest_open(env_posix(), path, NULL, NULL, NULL, &m),
                     LSM_OK);
    assert_int_equal(manifest_rewrite(m, *state, NULL, NULL), LSM_OK);
    manifest_record rec = {
        .kind = MANIFEST_NEW_MEMTABLE, .id = 0, .has_wal = 1};
    assert_int_equal(manifest_append(m, &rec), LSM_OK);
    assert_int_equal(manifest_close(m), LSM_OK);
    append_bytes(path, 11);
    uint64_t size = file_size_of(path);

    assert_int_equal(manifest_open_read_only(env_posix(), path, &torn, &m),
                     LSM_OK);
    assert_int_equal(torn, 11);
    assert_int_equal(file_size_of(path), size); /* left in place */
    assert_int_equal(manifest_tree_of(m)->n_mems, 1);
    bool changed = true;
    assert_int_equal(manifest_changed_on_disk(m, &changed), LSM_OK);
    assert_false(changed);
    rec.id = 1;
    assert_int_equal(manifest_append(m, &rec), LSM_EREADONLY);
    assert_int_equal(manifest_rewrite(m, *state, NULL, NULL), LSM_EREADONLY);
    assert_int_equal(file_size_of(path), size);
    append_bytes(path, 1); /* another process appending */
    assert_int_equal(manifest_changed_on_disk(m, &changed), LSM_OK);
    assert_true(changed);
    assert_int_equal(manifest_close(m), LSM_OK);
    free(path);
}

/* --- a writer changing the files during the open
 * ------------------------------ */

/* What the hook env shares between its views. */
typedef struct hook_state {
    int lists;             /* list_dir calls so far */
    int fire_every;        /* run the hook at every list_dir, not only the
                              first */
    void (*fn)(void *ctx); /* the hook */
    void *ctx;
} hook_state;

/* An env forwarding to inner (env_posix(), or the env it bound to the
 * database directory), running the hook before the listing it forwards. */
typedef struct hook_env {
    env base; /* first: the env * handed out points here */
    env *inner;
    hook_state *hs;
} hook_env;

static env *inner_of(env *e)
{
    return ((hook_env *)e)->inner;
}

static int hook_open_read(env *e, const char *path, env_file **out)
{
    return inner_of(e)->open_read(inner_of(e), path, out);
}

static int hook_open_write(env *e, const char *path, env_file **out)
{
    return inner_of(e)->open_write(inner_of(e), path, out);
}

static int hook_open_append(env *e, const char *path, env_file **out)
{
    return inner_of(e)->open_append(inner_of(e), path, out);
}

static int hook_truncate(env *e, const char *path, uint64_t n)
{
    return inner_of(e)->truncate(inner_of(e), path, n);
}

static int hook_unlink(env *e, const char *path)
{
    return inner_of(e)->unlink(inner_of(e), path);
}

static int hook_rename(env *e, const char *from, const char *to)
{
    return inner_of(e)->rename(inner_of(e), from, to);
}

static int hook_sync_dir(env *e, const char *path)
{
    return inner_of(e)->sync_dir(inner_of(e), path);
}

static int hook_lock(env *e, const char *path, env_file **out)
{
    return inner_of(e)->lock(inner_of(e), path, out);
}

static int hook_list_dir(env *e, const char *path,
                         void (*fn)(const char *name, void *ctx), void *ctx)
{
    hook_state *hs = ((hook_env *)e)->hs;
    if (hs->fn && (hs->lists == 0 || hs->fire_every))
        hs->fn(hs->ctx);
    hs->lists++;
    return inner_of(e)->list_dir(inner_of(e), path, fn, ctx);
}

static void hook_close_dir(env *bound)
{
    hook_env *h = (hook_env *)bound;
    h->inner->close_dir(h->inner);
    free(h);
}

static hook_env *hook_env_new(env *inner, hook_state *hs);

static int hook_open_dir(env *e, const char *path, env **out)
{
    env *bound = NULL;
    int rc = inner_of(e)->open_dir(inner_of(e), path, &bound);
    if (rc != LSM_OK)
        return rc;
    hook_env *h = hook_env_new(bound, ((hook_env *)e)->hs);
    h->base.mkdir = NULL;
    h->base.open_dir = NULL;
    h->base.close_dir = hook_close_dir;
    *out = &h->base;
    return LSM_OK;
}

static int hook_mkdir(env *e, const char *path, bool *created)
{
    return inner_of(e)->mkdir(inner_of(e), path, created);
}

/* A view over inner: its file functions (read_at ... map, unmap) are
 * inner's own, the ones that take a path forward through the view. */
static hook_env *hook_env_new(env *inner, hook_state *hs)
{
    hook_env *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->base = *inner;
    h->inner = inner;
    h->hs = hs;
    h->base.open_read = hook_open_read;
    h->base.open_write = hook_open_write;
    h->base.open_append = hook_open_append;
    h->base.truncate = hook_truncate;
    h->base.unlink = hook_unlink;
    h->base.rename = hook_rename;
    h->base.sync_dir = hook_sync_dir;
    h->base.list_dir = hook_list_dir;
    h->base.lock = hook_lock;
    h->base.mkdir = hook_mkdir;
    h->base.open_dir = hook_open_dir;
    return h;
}

/* The writer's work, run inside the read-only open's listing: new keys,
 * flushed, and a full compaction, which deletes every SST the MANIFEST
 * the open just read names. */
typedef struct writer {
    lsm_db *db;
    int runs;
} writer;

static void writer_work(void *ctx)
{
    writer *w = ctx;
    char key[16];
    snprintf(key, sizeof key, "run%02d", w->runs++);
    test_put_str(w->db, key, "done");
    assert_int_equal(lsm_flush(w->db), LSM_OK);
    assert_int_equal(lsm_compact_full(w->db), LSM_OK);
}

/* A database with SSTs, and its writer left open (holding the lock). */
static lsm_db *open_writer(const char *dir)
{
    lsm_options opt;
    small_options(&opt);
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    test_put_range(db, "a", 0, 200, "one");
    assert_int_equal(lsm_flush(db), LSM_OK);
    return db;
}

static int open_read_only_hooked(const char *dir, hook_state *hs, lsm_db **out)
{
    hook_env *top = hook_env_new(env_posix(), hs);
    lsm_options opt;
    small_options(&opt);
    opt.read_only = 1;
    int rc = db_open_env(dir, &opt, &top->base, out);
    /* The handle keeps only the env it bound to the directory, which
     * lives until lsm_close; the top view is not referenced after open. */
    free(top);
    return rc;
}

static void test_open_starts_over_when_a_writer_moves(void **state)
{
    char *dir = test_path(*state, "db");
    writer w = {.db = open_writer(dir)};
    hook_state hs = {.fn = writer_work, .ctx = &w};
    lsm_db *db;
    assert_int_equal(open_read_only_hooked(dir, &hs, &db), LSM_OK);
    assert_int_equal(w.runs, 1);
    assert_int_equal(hs.lists, 2); /* the first attempt failed */
    test_expect_range(db, "a", 0, 200, "one");
    test_expect_get(db, "run00", "done"); /* the writer's, before attempt 2 */
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_int_equal(lsm_close(w.db), LSM_OK);
    free(dir);
}

static void test_open_gives_up_on_a_writer_that_never_stops(void **state)
{
    char *dir = test_path(*state, "db");
    writer w = {.db = open_writer(dir)};
    hook_state hs = {.fn = writer_work, .ctx = &w, .fire_every = 1};
    lsm_db *db = NULL;
    int rc = open_read_only_hooked(dir, &hs, &db);
    assert_true(rc == LSM_ECORRUPT || rc == LSM_EIO);
    assert_null(db);
    assert_int_equal(hs.lists, 8);
    assert_non_null(strstr(lsm_errmsg(), "during each of 8 attempts"));
    /* The writer is unharmed. */
    test_expect_range(w.db, "a", 0, 200, "one");
    assert_int_equal(lsm_close(w.db), LSM_OK);
    free(dir);
}

/* An SST the MANIFEST names is really gone, and nothing else moves: the
 * first attempt's error stands, without a second attempt. */
static void test_missing_sst_fails_at_once(void **state)
{
    char *dir = test_path(*state, "db");
    lsm_db *wdb = open_writer(dir);
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(wdb, &st), LSM_OK);
    uint64_t id = UINT64_MAX;
    if (st->n_l0 > 0)
        id = st->l0[0].sst_id;
    for (size_t l = 0; l < st->n_levels && id == UINT64_MAX; l++)
        if (st->levels[l].n_ssts > 0)
            id = st->levels[l].ssts[0].sst_id;
    lsm_state_free(st);
    assert_true(id != UINT64_MAX);
    assert_int_equal(lsm_close(wdb), LSM_OK);
    char name[32];
    snprintf(name, sizeof name, "%llu.sst", (unsigned long long)id);
    char *sst_path = test_path(dir, name);
    assert_int_equal(unlink(sst_path), 0);

    hook_state hs = {0};
    lsm_db *db = NULL;
    assert_int_equal(open_read_only_hooked(dir, &hs, &db), LSM_ECORRUPT);
    assert_int_equal(hs.lists, 1);
    assert_non_null(strstr(lsm_errmsg(), name));
    assert_non_null(strstr(lsm_errmsg(), "missing"));
    free(sst_path);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_mutating_call, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_manifest_read_only, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(
            test_open_starts_over_when_a_writer_moves, test_dir_setup,
            test_dir_teardown),
        cmocka_unit_test_setup_teardown(
            test_open_gives_up_on_a_writer_that_never_stops, test_dir_setup,
            test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_missing_sst_fails_at_once,
                                        test_dir_setup, test_dir_teardown),
    };
    const char *filter = getenv("LSM_TEST_FILTER");
    if (filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
