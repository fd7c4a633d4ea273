/*
 * test_pins.c: live iterators and the SST files they keep (public API only).
 *
 * Iterators held across puts, deletes, flushes, each strategy's
 * compactions and full compactions must return exactly what a model of the
 * database held when they opened. After every step the SST files on disk
 * must be exactly the tree's plus those lsm_state lists as pinned only,
 * each of those must be pinned (not in the tree) by some open iterator,
 * and closing an iterator must delete exactly the files only it still
 * held, reported by LSM_EVENT_SST_DELETED ("last reader closed"). Also:
 * lsm_close with iterators open refuses with LSM_EBUSY naming their ids,
 * files a crash leaves behind are deleted at the next open, and threads
 * mode keeps the same promises.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lsm.h"
#include "testutil.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_KEYS 160
#define MAX_OPEN 4
#define MAX_DELETED 4096

/* --- recording SST deletions ---------------------------------------------- */

typedef struct deletions {
    pthread_mutex_t mu;
    size_t n;
    uint64_t id[MAX_DELETED];
    char reason[MAX_DELETED][48];
} deletions;

static void deletions_cb(void *ctx, const lsm_event *e)
{
    deletions *d = ctx;
    if (e->type != LSM_EVENT_SST_DELETED)
        return;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < e->n_deleted; i++) {
        if (i > 0)
            assert_true(e->deleted[i - 1] < e->deleted[i]); /* ascending */
        if (d->n < MAX_DELETED) {
            d->id[d->n] = e->deleted[i];
            snprintf(d->reason[d->n], sizeof d->reason[0], "%s", e->reason);
            d->n++;
        }
    }
    pthread_mutex_unlock(&d->mu);
}

/* A fresh recorder (freed by the caller) and options, with defaults but
 * for strategy c, that report deletions into it. */
static deletions *deletions_options(lsm_options *opt, lsm_compaction c)
{
    deletions *d = calloc(1, sizeof *d);
    assert_non_null(d);
    pthread_mutex_init(&d->mu, NULL);
    lsm_options_init(opt);
    opt->compaction = c;
    opt->event_cb = deletions_cb;
    opt->event_ctx = d;
    return d;
}

/* --- files on disk -------------------------------------------------------- */

/* Whether dir holds <id>.sst. */
static int sst_file_exists(const char *dir, uint64_t id)
{
    char name[64];
    snprintf(name, sizeof name, "%" PRIu64 ".sst", id);
    char *p = test_path(dir, name);
    int exists = access(p, F_OK) == 0;
    free(p);
    return exists;
}

/* The ids of the *.sst files in dir, ascending, into ids (room for max). */
static size_t sst_files(const char *dir, uint64_t *ids, size_t max)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        uint64_t id;
        char tail[8];
        if (sscanf(e->d_name, "%" SCNu64 ".%7s", &id, tail) == 2 &&
            strcmp(tail, "sst") == 0) {
            assert_true(n < max);
            ids[n++] = id;
        }
    }
    closedir(d);
    for (size_t i = 1; i < n; i++) /* insertion sort: a few dozen ids */
        for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            uint64_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    return n;
}

static int ids_have(const uint64_t *ids, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

/* Whether st's tree (L0 and every level or tier) names id. */
static int tree_has(const lsm_state *st, uint64_t id)
{
    for (size_t i = 0; i < st->n_l0; i++)
        if (st->l0[i].sst_id == id)
            return 1;
    for (size_t l = 0; l < st->n_levels; l++)
        for (size_t i = 0; i < st->levels[l].n_ssts; i++)
            if (st->levels[l].ssts[i].sst_id == id)
                return 1;
    return 0;
}

/* The files on disk are the tree's plus the pinned-only ones; each
 * pinned-only SST is pinned, out of the tree, by an open iterator; and
 * every pin says truly whether it is in the tree. */
static void check_files_match_state(lsm_db *db, const char *dir)
{
    uint64_t files[512];
    size_t n_files = sst_files(dir, files, 512);
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    for (size_t i = 0; i < n_files; i++)
        assert_true(tree_has(st, files[i]) ||
                    ids_have(st->pinned_only, st->n_pinned_only, files[i]));
    for (size_t i = 0; i < st->n_pinned_only; i++) {
        uint64_t id = st->pinned_only[i];
        assert_true(ids_have(files, n_files, id));
        assert_false(tree_has(st, id));
        if (i > 0)
            assert_true(st->pinned_only[i - 1] < id);
        int pinned = 0;
        for (size_t k = 0; k < st->n_iters; k++)
            for (size_t j = 0; j < st->iters[k].n_ssts; j++)
                pinned |= st->iters[k].ssts[j].sst_id == id;
        assert_true(pinned);
    }
    for (size_t k = 0; k < st->n_iters; k++)
        for (size_t j = 0; j < st->iters[k].n_ssts; j++) {
            const lsm_pinned_sst *p = &st->iters[k].ssts[j];
            assert_int_equal(p->in_tree, tree_has(st, p->sst_id));
            assert_true(ids_have(files, n_files, p->sst_id));
        }
    lsm_state_free(st);
}

/* --- the model -------------------------------------------------------------
 */

typedef struct model {
    int present[N_KEYS];
    unsigned version[N_KEYS];
} model;

static void key_of(int k, char *buf)
{
    snprintf(buf, 16, "k%03d", k);
}

static void value_of(int k, unsigned version, char *buf)
{
    snprintf(buf, 32, "v%03d.%u", k, version);
}

/* An open iterator and the model as it was when it opened: the keys it
 * must still return are those of [next, hi] present in snap. */
typedef struct held {
    lsm_iter *it;
    model snap;
    int next, hi;
} held;

/* Checks that it stands on the first key >= h->next present in the
 * snapshot (or is done), with its value; advances h->next past it. */
static void held_check_current(held *h)
{
    int k = h->next;
    while (k <= h->hi && !h->snap.present[k])
        k++;
    if (k > h->hi) {
        assert_false(lsm_iter_valid(h->it));
        h->next = h->hi + 1;
        return;
    }
    char key[16], value[32];
    size_t nk, nv;
    key_of(k, key);
    value_of(k, h->snap.version[k], value);
    assert_true(lsm_iter_valid(h->it));
    const void *got_k = lsm_iter_key(h->it, &nk);
    const void *got_v = lsm_iter_value(h->it, &nv);
    assert_int_equal(nk, strlen(key));
    assert_memory_equal(got_k, key, nk);
    assert_int_equal(nv, strlen(value));
    assert_memory_equal(got_v, value, nv);
    h->next = k + 1;
}

static void held_step(held *h, int steps)
{
    for (int i = 0; i < steps && lsm_iter_valid(h->it); i++) {
        held_check_current(h);
        assert_int_equal(lsm_iter_next(h->it), LSM_OK);
    }
}

/* Closes h after reading it to the end, and checks that exactly the files
 * only it held were deleted, with the reason "last reader closed". */
static void held_close(lsm_db *db, const char *dir, held *h, deletions *d)
{
    held_step(h, N_KEYS + 1);
    held_check_current(h); /* at the end */
    uint64_t id = lsm_iter_id(h->it);
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    uint64_t only_mine[256];
    size_t n_only = 0;
    for (size_t i = 0; i < st->n_pinned_only; i++) {
        uint64_t sst = st->pinned_only[i];
        int mine = 0, others = 0;
        for (size_t k = 0; k < st->n_iters; k++)
            for (size_t j = 0; j < st->iters[k].n_ssts; j++)
                if (st->iters[k].ssts[j].sst_id == sst) {
                    if (st->iters[k].iter_id == id)
                        mine = 1;
                    else
                        others = 1;
                }
        if (mine && !others)
            only_mine[n_only++] = sst;
    }
    lsm_state_free(st);
    size_t before = d->n;
    lsm_iter_close(h->it);
    h->it = NULL;
    assert_int_equal(d->n - before, n_only);
    for (size_t i = 0; i < n_only; i++) {
        assert_int_equal(d->id[before + i], only_mine[i]);
        assert_string_equal(d->reason[before + i], "last reader closed");
        assert_false(sst_file_exists(dir, only_mine[i]));
    }
}

/* One random run on a fresh database with compaction c (inline mode):
 * puts, deletes, flushes and full compactions while up to MAX_OPEN
 * iterators stay open, opened, stepped and closed at random. */
static void run_model(const char *dir, lsm_compaction c, uint64_t seed)
{
    lsm_options opt;
    deletions *d = deletions_options(&opt, c);
    opt.target_sst_size = 512;
    opt.num_memtable_limit = 2;
    opt.num_tiers = 3;
    opt.base_level_size_mb = 1;
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);

    model m;
    memset(&m, 0, sizeof m);
    held open[MAX_OPEN];
    memset(open, 0, sizeof open);
    size_t compacted_away = 0, last_reader = 0;
    for (int step = 0; step < 1500; step++) {
        uint64_t r = test_rng_below(&seed, 100);
        int k = (int)test_rng_below(&seed, N_KEYS);
        char key[16], value[32];
        key_of(k, key);
        if (r < 55) {
            m.version[k]++;
            m.present[k] = 1;
            value_of(k, m.version[k], value);
            test_put_str(db, key, value);
        } else if (r < 65) {
            m.present[k] = 0;
            assert_int_equal(lsm_delete(db, key, strlen(key)), LSM_OK);
        } else if (r < 70) {
            assert_int_equal(lsm_flush(db), LSM_OK);
        } else if (r < 72) {
            assert_int_equal(lsm_compact_full(db), LSM_OK);
        } else if (r < 82) {
            held *h = &open[test_rng_below(&seed, MAX_OPEN)];
            if (!h->it) {
                int lo = k,
                    hi = (int)test_rng_range(&seed, (uint64_t)k, N_KEYS - 1);
                char lo_key[16], hi_key[16];
                key_of(lo, lo_key);
                key_of(hi, hi_key);
                lsm_bound b_lo = {LSM_BOUND_INCLUDED, lo_key, strlen(lo_key)};
                lsm_bound b_hi = {LSM_BOUND_INCLUDED, hi_key, strlen(hi_key)};
                assert_int_equal(lsm_scan(db, &b_lo, &b_hi, &h->it), LSM_OK);
                h->snap = m;
                h->next = lo;
                h->hi = hi;
            }
        } else if (r < 95) {
            held *h = &open[test_rng_below(&seed, MAX_OPEN)];
            if (h->it)
                held_step(h, (int)test_rng_range(&seed, 1, 8));
        } else {
            held *h = &open[test_rng_below(&seed, MAX_OPEN)];
            if (h->it)
                held_close(db, dir, h, d);
        }
        if (step % 10 == 0)
            check_files_match_state(db, dir);
    }
    for (int i = 0; i < MAX_OPEN; i++)
        if (open[i].it)
            held_close(db, dir, &open[i], d);
    check_files_match_state(db, dir);
    for (size_t i = 0; i < d->n; i++) {
        compacted_away += strcmp(d->reason[i], "compacted away") == 0;
        last_reader += strcmp(d->reason[i], "last reader closed") == 0;
        assert_false(sst_file_exists(dir, d->id[i]));
        for (size_t j = 0; j < i; j++) /* each file is deleted once */
            assert_true(d->id[j] != d->id[i]);
    }
    /* The run must have exercised both paths. */
    assert_true(compacted_away > 0);
    assert_true(last_reader > 0);
    /* No iterator is open, so nothing may be pinned only. */
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_iters, 0);
    assert_int_equal(st->n_pinned_only, 0);
    lsm_state_free(st);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(d);
}

static void test_model_none(void **state)
{
    run_model(*state, LSM_COMPACTION_NONE, 1);
}

static void test_model_simple(void **state)
{
    run_model(*state, LSM_COMPACTION_SIMPLE, 2);
}

static void test_model_tiered(void **state)
{
    run_model(*state, LSM_COMPACTION_TIERED, 3);
}

static void test_model_leveled(void **state)
{
    run_model(*state, LSM_COMPACTION_LEVELED, 4);
}

/* --- lsm_state's view of one iterator ---------------------------------------
 */

/* What an iterator pins, where, and whether it is still in the tree; a
 * file compacted away while pinned goes exactly at the close. */
static void test_pins_reported(void **state)
{
    const char *dir = *state;
    lsm_options opt;
    deletions *d = deletions_options(&opt, LSM_COMPACTION_NONE);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    test_put_str(db, "a", "1");
    assert_int_equal(lsm_flush(db), LSM_OK); /* 0.sst */
    test_put_str(db, "m", "2");
    assert_int_equal(lsm_flush(db), LSM_OK); /* 1.sst */
    test_put_str(db, "z", "3");              /* memtable 2 */

    lsm_iter *all = NULL, *low = NULL;
    lsm_bound lo = {LSM_BOUND_INCLUDED, "a", 1},
              hi = {LSM_BOUND_INCLUDED, "b", 1};
    assert_int_equal(lsm_scan(db, NULL, NULL, &all), LSM_OK);
    assert_int_equal(lsm_scan(db, &lo, &hi, &low), LSM_OK);
    assert_int_equal(lsm_iter_id(all), 1);
    assert_int_equal(lsm_iter_id(low), 2);
    assert_int_equal(lsm_iter_id(NULL), 0);

    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_iters, 2);
    const lsm_iter_info *ia = &st->iters[0], *il = &st->iters[1];
    assert_int_equal(ia->iter_id, 1);
    assert_int_equal(ia->num_active, 3);
    assert_int_equal(ia->n_memtables, 1);
    assert_int_equal(ia->memtable_ids[0], 2);
    assert_int_equal(ia->n_ssts, 2);
    assert_int_equal(ia->ssts[0].sst_id, 1); /* L0 newest first */
    assert_int_equal(ia->ssts[1].sst_id, 0);
    assert_int_equal(ia->ssts[0].level, 0);
    assert_true(ia->ssts[0].in_tree);
    /* low's range [a, b] overlaps only 0.sst */
    assert_int_equal(il->n_memtables, 0);
    assert_int_equal(il->n_ssts, 1);
    assert_int_equal(il->ssts[0].sst_id, 0);
    assert_int_equal(st->n_pinned_only, 0);
    lsm_state_free(st);

    assert_int_equal(lsm_compact_full(db), LSM_OK); /* into L1 */
    assert_int_equal(d->n, 0); /* both inputs are pinned by all */
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_pinned_only, 2);
    assert_int_equal(st->pinned_only[0], 0);
    assert_int_equal(st->pinned_only[1], 1);
    assert_false(st->iters[0].ssts[0].in_tree);
    assert_int_equal(st->iters[0].ssts[0].level, 0); /* where it was */
    lsm_state_free(st);

    lsm_iter_close(all); /* 1.sst was all's alone */
    assert_int_equal(d->n, 1);
    assert_int_equal(d->id[0], 1);
    assert_string_equal(d->reason[0], "last reader closed");
    assert_false(sst_file_exists(dir, 1));
    assert_true(sst_file_exists(dir, 0));
    lsm_iter_close(low);
    assert_int_equal(d->n, 2);
    assert_int_equal(d->id[1], 0);
    assert_false(sst_file_exists(dir, 0));
    assert_int_equal(lsm_close(db), LSM_OK);
    free(d);
}

/* lsm_close refuses while iterators are open and names them. */
static void test_close_busy_names_iterators(void **state)
{
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(*state, NULL, &db), LSM_OK);
    test_put_str(db, "k", "v");
    lsm_iter *it[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(lsm_scan(db, NULL, NULL, &it[i]), LSM_OK);
    lsm_iter_close(it[1]);
    assert_int_equal(lsm_close(db), LSM_EBUSY);
    assert_non_null(
        strstr(lsm_errmsg(), "2 iterator(s) still open (ids 1, 3)"));
    lsm_iter_close(it[0]);
    assert_int_equal(lsm_close(db), LSM_EBUSY);
    assert_non_null(strstr(lsm_errmsg(), "(id 3)"));
    test_expect_get(db, "k", "v"); /* the handle stayed open */
    lsm_iter_close(it[2]);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* A process that dies with an iterator pinning compacted-away SSTs leaves
 * their files; the next open deletes exactly those and says why. */
static void test_crash_leaves_pinned_files(void **state)
{
    const char *dir = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        lsm_options opt;
        lsm_options_init(&opt);
        opt.compaction = LSM_COMPACTION_NONE;
        lsm_db *db = NULL;
        lsm_iter *it = NULL;
        int ok = lsm_open(dir, &opt, &db) == LSM_OK &&
                 lsm_put(db, "a", 1, "1", 1) == LSM_OK &&
                 lsm_flush(db) == LSM_OK && /* 0.sst */
                 lsm_put(db, "b", 1, "2", 1) == LSM_OK &&
                 lsm_flush(db) == LSM_OK && /* 1.sst */
                 lsm_scan(db, NULL, NULL, &it) == LSM_OK &&
                 lsm_compact_full(db) == LSM_OK;
        _exit(ok ? 0 : 1); /* no close: as kill -9 */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(sst_file_exists(dir, 0));
    assert_true(sst_file_exists(dir, 1));

    lsm_options opt;
    deletions *d = deletions_options(&opt, LSM_COMPACTION_NONE);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_int_equal(d->n, 2);
    assert_int_equal(d->id[0], 0);
    assert_int_equal(d->id[1], 1);
    assert_string_equal(d->reason[0], "not in the manifest (left by a crash)");
    assert_false(sst_file_exists(dir, 0));
    assert_false(sst_file_exists(dir, 1));
    test_expect_get(db, "a", "1");
    test_expect_get(db, "b", "2");
    check_files_match_state(db, dir);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(d);
}

/* --- threads mode -----------------------------------------------------------
 */

/* Background flushes and compactions run while iterators stay open and
 * writes go on; every iterator still sees its snapshot, and once all are
 * closed and the database closed, no file is left that the tree does not
 * name (the next open finds no orphan). */
static void test_threads_mode(void **state)
{
    const char *dir = *state;
    lsm_options opt;
    deletions *d = deletions_options(&opt, LSM_COMPACTION_SIMPLE);
    opt.sched = LSM_SCHED_THREADS;
    opt.target_sst_size = 512;
    opt.num_memtable_limit = 2;
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    model m;
    memset(&m, 0, sizeof m);
    held open[MAX_OPEN];
    memset(open, 0, sizeof open);
    uint64_t seed = 7;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 60; i++) {
            int k = (int)test_rng_below(&seed, N_KEYS);
            char key[16], value[32];
            key_of(k, key);
            m.version[k]++;
            m.present[k] = 1;
            value_of(k, m.version[k], value);
            test_put_str(db, key, value);
        }
        held *h = &open[round % MAX_OPEN];
        if (h->it)
            held_step(h, N_KEYS + 1);
        if (h->it) {
            lsm_iter_close(h->it);
            h->it = NULL;
        }
        assert_int_equal(lsm_scan(db, NULL, NULL, &h->it), LSM_OK);
        h->snap = m;
        h->next = 0;
        h->hi = N_KEYS - 1;
        for (int i = 0; i < MAX_OPEN; i++)
            if (open[i].it)
                held_step(&open[i], 5);
        if (round % 8 == 7)
            assert_int_equal(lsm_compact_full(db), LSM_OK);
    }
    assert_int_equal(lsm_flush(db), LSM_OK);
    for (int i = 0; i < MAX_OPEN; i++) {
        held_step(&open[i], N_KEYS + 1);
        lsm_iter_close(open[i].it);
    }
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_true(d->n > 0);
    for (size_t i = 0; i < d->n; i++)
        assert_false(sst_file_exists(dir, d->id[i]));

    size_t before = d->n;
    /* Reopened inline: in threads mode the flush thread may already be
     * writing a recovered memtable's SST, a file on disk that no state
     * names yet (seen once the tests ran on a tmpfs). */
    opt.sched = LSM_SCHED_INLINE;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_int_equal(d->n, before); /* nothing was left behind */
    check_files_match_state(db, dir);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model_none, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_model_simple, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_model_tiered, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_model_leveled, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_pins_reported, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_close_busy_names_iterators,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_crash_leaves_pinned_files,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_threads_mode, test_dir_setup,
                                        test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
