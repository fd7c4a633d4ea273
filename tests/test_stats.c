/*
 * test_stats.c: the amplification figures and counters in lsm_state agree
 * with what a test computes on its own from the state's SST list and from
 * the events; and a write stall in threads mode is waited out and counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct sums {
    pthread_mutex_t mu;
    uint64_t flush_bytes, compaction_bytes;
    uint64_t flushes, compactions;
} sums;

static void sums_cb(void *ctx, const lsm_event *e)
{
    sums *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (e->type == LSM_EVENT_FLUSH_END) {
        s->flush_bytes += e->size_bytes;
        s->flushes++;
    } else if (e->type == LSM_EVENT_COMPACTION_END) {
        s->compaction_bytes += e->size_bytes;
        s->compactions++;
    }
    pthread_mutex_unlock(&s->mu);
}

/* Checks every figure of st against a computation from its own parts. */
static void check_figures(const lsm_state *st, const sums *s,
                          uint64_t user_bytes)
{
    const lsm_counters *c = &st->counters;
    assert_int_equal(c->user_bytes_written, user_bytes);
    assert_int_equal(c->flush_bytes_written, s->flush_bytes);
    assert_int_equal(c->compaction_bytes_written, s->compaction_bytes);
    assert_int_equal(c->flushes, s->flushes);
    assert_int_equal(c->compactions, s->compactions);

    uint64_t live = 0, bottom = 0, read = st->n_l0;
    for (size_t i = 0; i < st->n_l0; i++)
        live += st->l0[i].file_size;
    const lsm_level_info *last = NULL;
    for (size_t k = 0; k < st->n_levels; k++) {
        for (size_t i = 0; i < st->levels[k].n_ssts; i++)
            live += st->levels[k].ssts[i].file_size;
        if (st->levels[k].n_ssts > 0) {
            read++;
            last = &st->levels[k];
        }
    }
    for (size_t i = 0; last && i < last->n_ssts; i++)
        bottom += last->ssts[i].file_size;
    if (!last && st->n_l0 > 0)
        bottom = st->l0[st->n_l0 - 1].file_size; /* the oldest L0 run */

    const lsm_amplification *a = &st->amplification;
    assert_int_equal(a->live_sst_bytes, live);
    assert_int_equal(a->bottom_sst_bytes, bottom);
    assert_int_equal(a->read, read);
    double write =
        (double)(s->flush_bytes + s->compaction_bytes) / (double)user_bytes;
    assert_true(fabs(a->write - write) < 1e-9);
    assert_true(bottom > 0);
    assert_true(fabs(a->space - (double)live / (double)bottom) < 1e-9);
    assert_true(a->space >= 1.0);
}

/* A workload with overwrites and deletes, checked after each phase, for
 * one strategy. */
static void run_strategy(lsm_compaction strategy)
{
    char *dir = test_mkdtemp();
    sums s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    lsm_options opt;
    lsm_options_init(&opt);
    opt.compaction = strategy;
    opt.target_sst_size = 2048;
    opt.block_size = 256;
    opt.num_memtable_limit = 2;
    opt.event_cb = sums_cb;
    opt.event_ctx = &s;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    uint64_t user_bytes = 0;
    char key[16], value[64];
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 400; i++) {
            int k = (i * 7 + round * 13) % 500;
            snprintf(key, sizeof key, "key%04d", k);
            if (i % 9 == 0) {
                assert_int_equal(lsm_delete(db, key, strlen(key)), LSM_OK);
                user_bytes += strlen(key);
                continue;
            }
            int n =
                snprintf(value, sizeof value, "round %d value %d", round, i);
            assert_int_equal(lsm_put(db, key, strlen(key), value, (size_t)n),
                             LSM_OK);
            user_bytes += strlen(key) + (size_t)n;
        }
        assert_int_equal(lsm_flush(db), LSM_OK);
        lsm_state *st;
        assert_int_equal(lsm_state_get(db, &st), LSM_OK);
        check_figures(st, &s, user_bytes);
        lsm_state_free(st);
    }
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    check_figures(st, &s, user_bytes);
    /* Fully compacted: one run holds everything. */
    assert_true(fabs(st->amplification.space - 1.0) < 1e-9);
    assert_int_equal(st->amplification.read, 1);
    if (strategy != LSM_COMPACTION_NONE)
        assert_true(s.compactions > 1); /* the strategy compacted too */
    lsm_state_free(st);
    assert_int_equal(lsm_close(db), LSM_OK);
    test_rmtree(dir);
    free(dir);
}

static void test_figures_none(void **state)
{
    (void)state;
    run_strategy(LSM_COMPACTION_NONE);
}

static void test_figures_simple(void **state)
{
    (void)state;
    run_strategy(LSM_COMPACTION_SIMPLE);
}

static void test_figures_tiered(void **state)
{
    (void)state;
    run_strategy(LSM_COMPACTION_TIERED);
}

static void test_figures_leveled(void **state)
{
    (void)state;
    run_strategy(LSM_COMPACTION_LEVELED);
}

/* Trivial moves (leveled): keys written in ascending order flush into
 * SSTs that share no key and overlap nothing below, so every compaction is
 * a move: no SST byte is written by compaction, and every key (deletes
 * too: a moved SST keeps its tombstones) reads as the model says, before
 * and after a reopen, which replays the moves from the MANIFEST. */
typedef struct move_counts {
    pthread_mutex_t mu;
    uint64_t moves, merges;
} move_counts;

static void move_counts_cb(void *ctx, const lsm_event *e)
{
    move_counts *m = ctx;
    if (e->type != LSM_EVENT_COMPACTION_END)
        return;
    pthread_mutex_lock(&m->mu);
    if (e->trivial_move) {
        m->moves++;
        assert_int_equal(e->size_bytes, 0);
        assert_int_equal(e->n_outputs, e->n_inputs);
    } else {
        m->merges++;
    }
    pthread_mutex_unlock(&m->mu);
}

#define MOVE_KEYS 12000

static void move_key(char *buf, size_t n, int i)
{
    snprintf(buf, n, "k%06d", i);
}

/* live[i]: key i holds "v<i>"; else it was deleted. */
static void check_move_model(lsm_db *db, const bool *live)
{
    for (int i = 0; i < MOVE_KEYS; i++) {
        char key[16], val[16];
        move_key(key, sizeof key, i);
        snprintf(val, sizeof val, "v%d", i);
        test_expect_get(db, key, live[i] ? val : NULL);
    }
}

static void test_trivial_move(void **state)
{
    (void)state;
    char *dir = test_mkdtemp();
    move_counts m = {.mu = PTHREAD_MUTEX_INITIALIZER};
    static bool live[MOVE_KEYS];
    lsm_options opt;
    lsm_options_init(&opt);
    opt.compaction = LSM_COMPACTION_LEVELED;
    opt.target_sst_size = 8192;
    opt.event_cb = move_counts_cb;
    opt.event_ctx = &m;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    for (int i = 0; i < MOVE_KEYS; i++) {
        char key[16], val[16];
        move_key(key, sizeof key, i);
        snprintf(val, sizeof val, "v%d", i);
        /* Every op in key order, deletes too (their tombstones move with
         * their SSTs): a delete of an older key could straddle a flush. */
        live[i] = i % 7 != 6;
        if (live[i])
            test_put_str(db, key, val);
        else
            assert_int_equal(lsm_delete(db, key, strlen(key)), LSM_OK);
    }
    assert_int_equal(lsm_flush(db), LSM_OK);
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_true(m.moves > 4);
    assert_int_equal(m.merges, 0);
    assert_int_equal(st->counters.compaction_bytes_written, 0);
    assert_int_equal(st->counters.compactions, m.moves);
    uint64_t flushes = st->counters.flushes;
    lsm_state_free(st);
    check_move_model(db, live);
    /* The MANIFEST (before the reopen rewrites it as a snapshot) names each
     * move as one: its records add the SSTs they remove, and say so. */
    lsm_manifest_record *recs;
    size_t n_recs, n_moves = 0;
    assert_int_equal(lsm_manifest_read(db, &recs, &n_recs), LSM_OK);
    for (size_t i = 0; i < n_recs; i++) {
        if (recs[i].kind != LSM_MANIFEST_COMPACTION) {
            assert_int_equal(recs[i].trivial_move, 0);
            continue;
        }
        assert_int_equal(recs[i].trivial_move, 1);
        assert_int_equal(recs[i].n_added, recs[i].n_removed);
        n_moves++;
    }
    assert_int_equal(n_moves, m.moves);
    lsm_manifest_free(recs, n_recs);
    assert_int_equal(lsm_close(db), LSM_OK);

    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    check_move_model(db, live);
    /* Every flushed SST is still there, unchanged, in the bottom level
     * (but the odd one out L0 still holds, below the trigger). */
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    size_t n = st->n_l0;
    for (size_t k = 0; k < st->n_levels; k++) {
        if (st->levels[k].level != (int)opt.max_levels)
            assert_int_equal(st->levels[k].n_ssts, 0);
        n += st->levels[k].n_ssts;
    }
    assert_int_equal(n, flushes);
    lsm_state_free(st);
    assert_int_equal(lsm_close(db), LSM_OK);
    test_rmtree(dir);
    free(dir);
}

/* Checks, at the end of each compaction into `level`, that none of its
 * outputs overlaps more of the level below than the grandparent limit
 * allows: ten target-size SSTs' worth, plus the two SSTs that can lie
 * across its ends. */
typedef struct gp_check {
    lsm_db *db;
    int level;
    uint64_t limit;
    size_t checked;      /* outputs checked */
    uint64_t most_below; /* the largest overlap seen */
} gp_check;

/* Compares keys as the engine orders them: bytewise, shorter first. */
static int key_cmp(const void *a, size_t na, const void *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : (na > nb) - (na < nb);
}

static bool sst_info_overlaps(const lsm_sst_info *a, const lsm_sst_info *b)
{
    return key_cmp(a->first_key, a->nfirst_key, b->last_key, b->nlast_key) <=
               0 &&
           key_cmp(a->last_key, a->nlast_key, b->first_key, b->nfirst_key) >= 0;
}

/* The bytes of `below` that SST x overlaps. */
static uint64_t bytes_overlapped(const lsm_sst_info *x,
                                 const lsm_level_info *below)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < below->n_ssts; i++)
        if (sst_info_overlaps(x, &below->ssts[i]))
            bytes += below->ssts[i].file_size;
    return bytes;
}

static void gp_check_outputs(gp_check *g, const lsm_event *e)
{
    lsm_state *st;
    assert_int_equal(lsm_state_get(g->db, &st), LSM_OK);
    const lsm_level_info *out = &st->levels[g->level - 1];
    const lsm_level_info *below = &st->levels[g->level];
    uint64_t biggest = 0;
    for (size_t i = 0; i < below->n_ssts; i++)
        if (below->ssts[i].file_size > biggest)
            biggest = below->ssts[i].file_size;
    for (size_t k = 0; k < e->n_outputs; k++) {
        for (size_t i = 0; i < out->n_ssts; i++) {
            if (out->ssts[i].sst_id != e->outputs[k])
                continue;
            uint64_t b = bytes_overlapped(&out->ssts[i], below);
            assert_true(b <= g->limit + 2 * biggest);
            g->most_below = b > g->most_below ? b : g->most_below;
            g->checked++;
        }
    }
    lsm_state_free(st);
}

static void gp_check_cb(void *ctx, const lsm_event *e)
{
    gp_check *g = ctx;
    if (g->db && e->type == LSM_EVENT_COMPACTION_END && e->level == g->level &&
        !e->trivial_move)
        gp_check_outputs(g, e);
}

/* A leveled compaction ends an output before it would overlap more than
 * ten target-size SSTs of the level below its output level (the
 * grandparent limit), however sparse its own keys are. Dense keys fill
 * the last level, then sparse keys across the whole range, in an order
 * that makes every L0 SST span it, are compacted into the base level
 * above it: without the cut, each output would overlap all of the last
 * level. */
static void test_grandparent_cut(void **state)
{
    (void)state;
    char *dir = test_mkdtemp();
    gp_check g = {.level = 3};
    lsm_options opt;
    lsm_options_init(&opt);
    opt.compaction = LSM_COMPACTION_LEVELED;
    opt.target_sst_size = 8192;
    opt.base_level_size_mb = 1;
    opt.level_size_multiplier = 10;
    opt.event_cb = gp_check_cb;
    opt.event_ctx = &g;
    g.limit = 10 * opt.target_sst_size;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    char key[16], value[101];
    memset(value, 'v', 100);
    value[100] = '\0';
    for (int i = 0; i < 30000; i++) {
        snprintf(key, sizeof key, "key%06d", i);
        test_put_str(db, key, value);
    }
    assert_int_equal(lsm_compact_full(db), LSM_OK); /* all in L4, 3.5 MB */
    g.db = db;
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "key%06d", (i * 37 % 300) * 100 + 50);
        test_put_str(db, key, "sparse");
    }
    assert_int_equal(lsm_flush(db), LSM_OK);
    /* The sparse keys went into L3 (the base level), cut many times. */
    assert_true(g.checked >= 4);
    assert_true(g.most_below > g.limit / 2);
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_l0 + st->levels[0].n_ssts + st->levels[1].n_ssts, 0);
    assert_true(st->levels[2].n_ssts >= 4);
    lsm_state_free(st);
    g.db = NULL;
    test_expect_get(db, "key000050", "sparse");
    test_expect_get(db, "key000051", value);
    assert_int_equal(lsm_close(db), LSM_OK);
    test_rmtree(dir);
    free(dir);
}

/* A background thread is held inside the event `hold` (FLUSH_BEGIN or
 * COMPACTION_BEGIN) until the test lets go, so memtables or L0 SSTs pile
 * up and a writer must stall; no sleeping or timing. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    lsm_event_type hold;
} gate;

static void gate_cb(void *ctx, const lsm_event *e)
{
    gate *g = ctx;
    if (e->type != g->hold)
        return;
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Writes k00000, k00001, ... until told to stop (or max puts): it must
 * keep writing until it stalls, however fast the background threads are
 * next to it, so the test never depends on timing. */
typedef struct writer {
    lsm_db *db;
    int max;
    atomic_int stop;
    atomic_int done; /* the writer returned */
    int written;     /* read after the join */
} writer;

static void *writer_main(void *arg)
{
    writer *w = arg;
    char key[16];
    for (w->written = 0; w->written < w->max && !atomic_load(&w->stop);
         w->written++) {
        snprintf(key, sizeof key, "k%05d", w->written);
        if (lsm_put(w->db, key, strlen(key), "0123456789", 10) != LSM_OK) {
            atomic_store(&w->done, 1);
            return (void *)1;
        }
    }
    atomic_store(&w->done, 1);
    return NULL;
}

/* Returns once w is waiting for background work; fails if w ended
 * without ever stalling. */
static void wait_for_stall(lsm_db *db, writer *w)
{
    for (;;) {
        lsm_state *st;
        assert_int_equal(lsm_state_get(db, &st), LSM_OK);
        uint64_t stalls = st->counters.write_stalls;
        lsm_state_free(st);
        if (stalls >= 1)
            return;
        assert_false(atomic_load(&w->done));
        sched_yield();
    }
}

static void test_write_stall_is_waited_out_and_counted(void **state)
{
    (void)state;
    char *dir = test_mkdtemp();
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
              LSM_EVENT_FLUSH_BEGIN};
    lsm_options opt;
    lsm_options_init(&opt);
    opt.sched = LSM_SCHED_THREADS;
    opt.compaction = LSM_COMPACTION_NONE;
    opt.target_sst_size = 160; /* a freeze every 10 puts */
    opt.num_memtable_limit = 1;
    opt.stall_memtables = 3;
    opt.event_cb = gate_cb;
    opt.event_ctx = &g;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    writer w = {.db = db, .max = 100000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    /* The flush thread is held, so memory cannot shrink and the writer
     * must stall; let go only once it waits (write_stalls is counted as
     * the wait begins), or it could slip past the limit unstalled. */
    wait_for_stall(db, &w);
    gate_open(&g);
    atomic_store(&w.stop, 1);
    void *result;
    assert_int_equal(pthread_join(t, &result), 0);
    assert_null(result);
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_true(st->counters.write_stalls >= 1);
    assert_true(st->counters.puts == (uint64_t)w.written);
    lsm_state_free(st);
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_int_equal(lsm_open(dir, NULL, &db), LSM_OK);
    void *v;
    size_t n;
    char last[16];
    snprintf(last, sizeof last, "k%05d", w.written - 1);
    assert_int_equal(lsm_get(db, last, strlen(last), &v, &n), LSM_OK);
    lsm_free(v);
    assert_int_equal(lsm_close(db), LSM_OK);
    test_rmtree(dir);
    free(dir);
}

/* The L0 stall: the compaction thread is held at its first compaction, so
 * flushes keep adding L0 SSTs; once L0 is over stall_l0_files the writer's
 * next write must wait until the compaction is let go and L0 shrinks. */
static void test_l0_stall_is_waited_out_and_counted(void **state)
{
    (void)state;
    char *dir = test_mkdtemp();
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
              LSM_EVENT_COMPACTION_BEGIN};
    lsm_options opt;
    lsm_options_init(&opt);
    opt.sched = LSM_SCHED_THREADS;
    opt.compaction = LSM_COMPACTION_LEVELED;
    opt.target_sst_size = 160; /* a freeze every 10 puts */
    opt.num_memtable_limit = 1;
    opt.level0_file_num_compaction_trigger = 2;
    opt.stall_l0_files = 3;
    opt.stall_memtables = 0; /* only the L0 limit may stall */
    opt.event_cb = gate_cb;
    opt.event_ctx = &g;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    writer w = {.db = db, .max = 100000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    wait_for_stall(db, &w); /* L0 grows past the limit until the writer waits */
    gate_open(&g);
    atomic_store(&w.stop, 1);
    void *result;
    assert_int_equal(pthread_join(t, &result), 0);
    assert_null(result);
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_true(st->counters.write_stalls >= 1);
    assert_int_equal(st->counters.puts, w.written);
    lsm_state_free(st);
    assert_int_equal(lsm_close(db), LSM_OK);
    test_rmtree(dir);
    free(dir);
}

/* A memtable stall limit below num_memtable_limit would wait for a flush
 * that never comes (the flush thread only flushes above the memtable
 * limit): it is raised to that limit, and writes go through. (A regression
 * here hangs, and meson's timeout fails the test.) */
static void test_low_stall_limit_does_not_deadlock(void **state)
{
    (void)state;
    char *dir = test_mkdtemp();
    lsm_options opt;
    lsm_options_init(&opt);
    opt.sched = LSM_SCHED_THREADS;
    opt.compaction = LSM_COMPACTION_NONE;
    opt.target_sst_size = 1024;
    opt.num_memtable_limit = 3;
    opt.stall_memtables = 1;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    writer w = {.db = db, .max = 2000};
    assert_null(writer_main(&w));
    assert_int_equal(lsm_close(db), LSM_OK);
    test_rmtree(dir);
    free(dir);
}

/* The version macros come from meson's project version (lsm_version.h),
 * agree with each other, and the library reports the same version. */
static void test_version(void **state)
{
    (void)state;
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", LSM_VERSION_MAJOR,
             LSM_VERSION_MINOR, LSM_VERSION_PATCH);
    assert_string_equal(LSM_VERSION_STRING, want);
    assert_string_equal(lsm_version(), LSM_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_figures_none),
        cmocka_unit_test(test_figures_simple),
        cmocka_unit_test(test_figures_tiered),
        cmocka_unit_test(test_figures_leveled),
        cmocka_unit_test(test_trivial_move),
        cmocka_unit_test(test_grandparent_cut),
        cmocka_unit_test(test_write_stall_is_waited_out_and_counted),
        cmocka_unit_test(test_l0_stall_is_waited_out_and_counted),
        cmocka_unit_test(test_low_stall_limit_does_not_deadlock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
