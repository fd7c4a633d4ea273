/*
 * test_pins_close.c: an SST kept for a reader that no sweep saw let go is
 * deleted, and reported, when the database closes (db_pins_close).
 *
 * Every public reader sweeps when it lets go (iterator close, get, scan),
 * so this needs the internal API: the test holds a version the way
 * lsm_state_get does (db_ref_current) and drops it with plain
 * version_unref, which never sweeps. The compacted-away SST then stays
 * kept until lsm_close, which must delete its file and send
 * LSM_EVENT_SST_DELETED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "db/db_int.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The SST deletions the engine reported, in order. */
typedef struct deleted_log {
    size_t n;
    uint64_t ids[64];
    char reasons[64][64];
} deleted_log;

static void deleted_log_cb(void *ctx, const lsm_event *e)
{
    deleted_log *log = ctx;
    if (e->type != LSM_EVENT_SST_DELETED)
        return;
    for (size_t i = 0; i < e->n_deleted && log->n < 64; i++) {
        log->ids[log->n] = e->deleted[i];
        snprintf(log->reasons[log->n], sizeof log->reasons[0], "%s",
                 e->reason);
        log->n++;
    }
}

static bool sst_file_exists(const char *dir, uint64_t id)
{
    char name[32];
    snprintf(name, sizeof name, "%llu.sst", (unsigned long long)id);
    char *path = test_path(dir, name);
    struct stat sb;
    bool exists = stat(path, &sb) == 0;
    free(path);
    return exists;
}

/* The id of the only L0 SST (asserting there is exactly one). */
static uint64_t only_l0_sst(lsm_db *db)
{
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_l0, 1);
    uint64_t id = st->l0[0].sst_id;
    lsm_state_free(st);
    return id;
}

static void assert_pinned_only(lsm_db *db, uint64_t id)
{
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_pinned_only, 1);
    assert_int_equal(st->pinned_only[0], id);
    lsm_state_free(st);
}

static void test_kept_sst_deleted_at_close(void **state)
{
    const char *dir = *state;
    deleted_log log = {0};
    lsm_options opt;
    lsm_options_init(&opt);
    opt.compaction = LSM_COMPACTION_NONE;
    opt.event_cb = deleted_log_cb;
    opt.event_ctx = &log;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    test_put_str(db, "a", "1");
    test_put_str(db, "b", "2");
    assert_int_equal(lsm_flush(db), LSM_OK);
    uint64_t old_id = only_l0_sst(db);

    version *held = db_ref_current(db); /* a reader no sweep will see */
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    assert_int_equal(log.n, 0); /* the reader still holds it */
    assert_pinned_only(db, old_id);
    version_unref(held); /* lets go without sweeping, as a state does */
    assert_true(sst_file_exists(dir, old_id));
    assert_pinned_only(db, old_id);

    assert_int_equal(lsm_close(db), LSM_OK);
    assert_false(sst_file_exists(dir, old_id));
    assert_int_equal(log.n, 1);
    assert_int_equal(log.ids[0], old_id);
    assert_string_equal(log.reasons[0], "last reader closed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kept_sst_deleted_at_close,
                                        test_dir_setup, test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
