/*
 * test_sim_engine.c: the engine's trees match the compaction simulator's.
 *
 * The engine (inline mode) and a simulated shape driven by the same
 * controllers through lsm.h's policy API (what lsm-cli's simulate does)
 * take the same steps: each step flushes exactly one SST, then compacts
 * until nothing is due. Every SST holds exactly target_sst_size bytes of
 * new keys (no overwrites), so an engine compaction writes one output per
 * input, as the simulator assumes, and after every step the SST count of
 * L0 and of every level or tier must be the same in both.
 *
 * Simple and tiered compaction decide by SST counts only, so the match is
 * exact for any options. (Leveled compaction decides by bytes and key
 * ranges, which a simulator can only approximate; test_compact.c checks
 * its rules on hand-built shapes.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lsm.h"
#include "testutil.h"

#include <inttypes.h>

#define ENTRY_BYTES 100 /* 9-byte key + 91-byte value */
#define ENTRIES_PER_SST 10

/* The simulated side: a shape and storage for its SSTs' keys (one-key
 * ranges [id, id], 8 bytes big-endian; records never move). */
typedef struct simulated {
    lsm_options opt;
    lsm_shape shape;
    uint64_t next_id;
    uint8_t (*keys)[8]; /* keys[id] */
    size_t cap;
} simulated;

static lsm_shape_sst sim_sst(simulated *m)
{
    uint64_t id = m->next_id++;
    assert_true(id < m->cap);
    for (int i = 7, v = 0; i >= 0; i--, v++)
        m->keys[id][i] = (uint8_t)(id >> (8 * v));
    return (lsm_shape_sst){.sst_id = id,
                           .size_bytes = 1,
                           .first_key = m->keys[id],
                           .nfirst_key = 8,
                           .last_key = m->keys[id],
                           .nlast_key = 8};
}

/* One step of the simulator: a flush, then every task due, each writing
 * one output per input. Returns the number of tasks. */
static size_t sim_step(simulated *m)
{
    lsm_shape_sst flushed = sim_sst(m);
    assert_int_equal(lsm_shape_add_flush(&m->shape, &flushed), LSM_OK);
    size_t n_tasks = 0;
    for (;;) {
        lsm_compaction_task t;
        int found = 0;
        assert_int_equal(lsm_compaction_pick(&m->opt, &m->shape, &t, &found),
                         LSM_OK);
        if (!found)
            return n_tasks;
        uint64_t *ids = NULL;
        size_t n = lsm_compaction_task_inputs(&t, &m->shape, &ids);
        assert_true(n > 0);
        lsm_shape_sst *outs = calloc(n, sizeof *outs);
        assert_non_null(outs);
        for (size_t i = 0; i < n; i++)
            outs[i] = sim_sst(m);
        assert_int_equal(lsm_shape_apply(&m->shape, &t, outs, n), LSM_OK);
        free(outs);
        free(ids);
        lsm_compaction_task_free(&t);
        n_tasks++;
    }
}

/* Writes one SST's worth of new keys; with num_memtable_limit 1 the last
 * put freezes the memtable and flushes it, and compactions follow. */
static void engine_step(lsm_db *db, unsigned step)
{
    char key[16], value[ENTRY_BYTES];
    memset(value, 'v', sizeof value);
    for (unsigned i = 0; i < ENTRIES_PER_SST; i++) {
        snprintf(key, sizeof key, "k%08u", step * ENTRIES_PER_SST + i);
        assert_int_equal(lsm_put(db, key, 9, value, ENTRY_BYTES - 9), LSM_OK);
    }
}

/* Fails, naming the step and both trees, unless the counts agree. */
static void compare(lsm_db *db, const simulated *m, unsigned step)
{
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    char engine[512] = "", sim[512] = "";
    size_t at = 0;
    at += (size_t)snprintf(engine + at, sizeof engine - at, "%zu", st->n_l0);
    for (size_t i = 0; i < st->n_levels && at < sizeof engine; i++)
        at += (size_t)snprintf(engine + at, sizeof engine - at, " %zu",
                               st->levels[i].n_ssts);
    at = 0;
    at += (size_t)snprintf(sim + at, sizeof sim - at, "%zu", m->shape.n_l0);
    for (size_t i = 0; i < m->shape.n_runs && at < sizeof sim; i++)
        at += (size_t)snprintf(sim + at, sizeof sim - at, " %zu",
                               m->shape.runs[i].n_ssts);
    assert_int_equal(st->n_immutables, 0);
    lsm_state_free(st);
    if (strcmp(engine, sim) != 0)
        fail_msg("%s, step %u: engine has %s SSTs per level, the simulator "
                 "%s",
                 lsm_compaction_name(m->opt.compaction), step, engine, sim);
}

static void run(lsm_options opt, unsigned steps)
{
    char *dir = test_mkdtemp();
    opt.sched = LSM_SCHED_INLINE;
    opt.target_sst_size = ENTRY_BYTES * ENTRIES_PER_SST;
    opt.num_memtable_limit = 1;
    simulated m = {.opt = opt, .next_id = 1};
    m.cap = 64 + (size_t)steps * 64;
    m.keys = calloc(m.cap, sizeof *m.keys);
    assert_non_null(m.keys);
    assert_int_equal(lsm_shape_init(&m.shape, &opt), LSM_OK);
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    size_t tasks = 0;
    for (unsigned step = 0; step < steps; step++) {
        engine_step(db, step);
        tasks += sim_step(&m);
        compare(db, &m, step);
    }
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->counters.compactions, tasks);
    assert_true(tasks >= 5); /* the run did compact */
    lsm_state_free(st);
    assert_int_equal(lsm_close(db), LSM_OK);
    lsm_shape_free(&m.shape);
    free(m.keys);
    test_rmtree(dir);
    free(dir);
}

static lsm_options strategy(lsm_compaction c)
{
    lsm_options o;
    lsm_options_init(&o);
    o.compaction = c;
    return o;
}

static void test_simple_matches_the_simulator(void **state)
{
    (void)state;
    lsm_options o = strategy(LSM_COMPACTION_SIMPLE);
    o.max_levels = 3; /* the simulator's default */
    run(o, 60);
    o.max_levels = 4;
    o.level0_file_num_compaction_trigger = 3;
    o.size_ratio_percent = 300;
    run(o, 60);
}

static void test_tiered_matches_the_simulator(void **state)
{
    (void)state;
    lsm_options o = strategy(LSM_COMPACTION_TIERED);
    run(o, 80);
    o.num_tiers = 8; /* the simulator's default */
    run(o, 80);
    o.num_tiers = 5;
    o.max_merge_width = 3;
    o.size_ratio = 20;
    run(o, 80);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_matches_the_simulator),
        cmocka_unit_test(test_tiered_matches_the_simulator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
