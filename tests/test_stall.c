/*
 * test_stall.c: write stalls in threads mode always end.
 *
 * A writer that finds too many memtables or L0 SSTs waits for the flush
 * and compaction threads (db.c, db_stall_if_needed). Such a wait must end
 * whenever background work can make progress, and must return the latched
 * error when background work failed. Three kinds of test:
 *
 *   - the compaction thread's wakeup: it is held (by the engine's test
 *     hook) at the moment it found nothing to do, while the tree changes so
 *     that the new current version may take the freed address of the one
 *     it examined; it must still see the change and compact;
 *   - the shapes in which writers were seen waiting forever (issue 9),
 *     built deterministically by holding the compaction thread at its
 *     COMPACTION_BEGIN event until a writer is stalled, then letting go;
 *   - a stress run per strategy: several writers and a reader in threads
 *     mode with tiny SSTs and low stall limits, every key checked at the
 *     end and again after a reopen.
 *
 * Every test runs under a watchdog: when the operation in progress has not
 * finished after LSM_TEST_WATCHDOG seconds (default 10; six times that
 * while the stress runs see a flush or compaction running, which may be
 * slow under TSan on a loaded machine), it prints the test, the step, the
 * operation and the engine's state, and the process exits with status 1.
 * A hang therefore fails with a diagnosis instead of running into meson's
 * timeout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "db/db_int.h"
#include "fault_env.h"
#include "testutil.h"

#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

/* --- the watchdog ------------------------------------------------------- */

/* One watchdog per test. Workers call watchdog_begin before each engine
 * call and watchdog_end after it; the watchdog thread fails the process
 * when any call has been running longer than the limit. */
#define WATCHDOG_SLOTS 8

typedef struct watchdog {
    const char *test;
    lsm_db *_Atomic db; /* whose state to print; may change on reopen */
    unsigned limit_seconds;
    atomic_int stop;
    /* Per worker: the start of the call in progress (monotonic ms, 0 when
     * idle), its step and a static name of the operation. */
    _Atomic uint64_t started_ms[WATCHDOG_SLOTS];
    _Atomic uint64_t step[WATCHDOG_SLOTS];
    const char *_Atomic op[WATCHDOG_SLOTS];
    /* Background work, from the engine's events (watchdog_event_cb): how
     * many flushes and compactions have begun and not ended, and when the
     * last one began. A slow compaction (TSan on a loaded machine) is not
     * a hang; a writer waiting while nothing runs is. */
    atomic_int in_progress;
    _Atomic uint64_t work_began_ms;
    pthread_t thread;
} watchdog;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void watchdog_begin(watchdog *w, int slot, uint64_t step, const char *op)
{
    atomic_store(&w->step[slot], step);
    atomic_store(&w->op[slot], op);
    atomic_store(&w->started_ms[slot], now_ms());
}

static void watchdog_end(watchdog *w, int slot)
{
    atomic_store(&w->started_ms[slot], 0);
}

static void print_ids_sst(const char *name, const lsm_sst_info *ssts, size_t n)
{
    fprintf(stderr, "  %s (%zu):", name, n);
    for (size_t i = 0; i < n && i < 16; i++)
        fprintf(stderr, " %" PRIu64, ssts[i].sst_id);
    fprintf(stderr, n > 16 ? " ...\n" : "\n");
}

/* Prints the shape and the counters that say why a stall might not end. */
static void print_state(lsm_db *db)
{
    lsm_state *st;
    if (!db || lsm_state_get(db, &st) != LSM_OK) {
        fprintf(stderr, "  (no state available)\n");
        return;
    }
    fprintf(stderr,
            "  strategy %s, memtable %" PRIu64 " (%" PRIu64
            " B), %zu immutable, %zu pending flushes\n",
            lsm_compaction_name(st->compaction), st->memtable.memtable_id,
            st->memtable.size_bytes, st->n_immutables, st->pending_flushes);
    print_ids_sst("L0", st->l0, st->n_l0);
    for (size_t i = 0; i < st->n_levels; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s%d",
                 st->compaction == LSM_COMPACTION_TIERED ? "tier " : "L",
                 st->levels[i].level);
        print_ids_sst(name, st->levels[i].ssts, st->levels[i].n_ssts);
    }
    const lsm_counters *c = &st->counters;
    fprintf(stderr,
            "  counters: %" PRIu64 " puts, %" PRIu64 " deletes, %" PRIu64
            " frozen, %" PRIu64 " flushes, %" PRIu64 " compactions, %" PRIu64
            " write stalls (%" PRIu64 " us)\n",
            c->puts, c->deletes, c->memtables_frozen, c->flushes,
            c->compactions, c->write_stalls, c->stall_micros);
    lsm_state_free(st);
}

/* The event callback of the stress runs: keeps track of background work
 * for the watchdog. */
static void watchdog_event_cb(void *ctx, const lsm_event *e)
{
    watchdog *w = ctx;
    if (e->type == LSM_EVENT_FLUSH_BEGIN ||
        e->type == LSM_EVENT_COMPACTION_BEGIN) {
        atomic_store(&w->work_began_ms, now_ms());
        atomic_fetch_add(&w->in_progress, 1);
    } else if (e->type == LSM_EVENT_FLUSH_END ||
               e->type == LSM_EVENT_COMPACTION_END) {
        atomic_fetch_sub(&w->in_progress, 1);
    }
}

static void watchdog_fire(watchdog *w, int slot, uint64_t ms)
{
    fprintf(stderr,
            "WATCHDOG: %s: worker %d, step %" PRIu64 ", %s has run for %.1f s "
            "(limit %u s); %d flushes or compactions running, the last "
            "begun %.1f s ago; state:\n",
            w->test, slot, atomic_load(&w->step[slot]),
            atomic_load(&w->op[slot]), (double)ms / 1000.0, w->limit_seconds,
            atomic_load(&w->in_progress),
            (double)(now_ms() - atomic_load(&w->work_began_ms)) / 1000.0);
    print_state(atomic_load(&w->db));
    fflush(stderr);
    _exit(1); /* the stuck threads would keep exit() from finishing */
}

static void *watchdog_main(void *arg)
{
    watchdog *w = arg;
    const struct timespec tick = {0, 50 * 1000 * 1000};
    while (!atomic_load(&w->stop)) {
        uint64_t now = now_ms();
        uint64_t limit = w->limit_seconds * 1000u;
        /* While a flush or compaction runs, the call may be waiting for
         * it: give it up to six limits in all. */
        bool working = atomic_load(&w->in_progress) > 0;
        for (int i = 0; i < WATCHDOG_SLOTS; i++) {
            uint64_t t0 = atomic_load(&w->started_ms[i]);
            if (t0 && now > t0 && now - t0 > limit &&
                (!working || now - t0 > 6 * limit))
                watchdog_fire(w, i, now - t0);
        }
        nanosleep(&tick, NULL);
    }
    return NULL;
}

static void watchdog_start(watchdog *w, const char *test)
{
    memset(w, 0, sizeof *w);
    w->test = test;
    const char *limit = getenv("LSM_TEST_WATCHDOG");
    w->limit_seconds = limit && atoi(limit) > 0 ? (unsigned)atoi(limit) : 10;
    assert_int_equal(pthread_create(&w->thread, NULL, watchdog_main, w), 0);
}

static void watchdog_stop(watchdog *w)
{
    atomic_store(&w->stop, 1);
    assert_int_equal(pthread_join(w->thread, NULL), 0);
}

/* Waits (under the watchdog, slot 0) until cond(db) holds. */
static void wait_until(watchdog *w, lsm_db *db, bool (*cond)(lsm_db *, void *),
                       void *arg, const char *what)
{
    watchdog_begin(w, 0, 0, what);
    while (!cond(db, arg))
        sched_yield();
    watchdog_end(w, 0);
}

/* --- a gate for events ------------------------------------------------------
 */

/* Holds whichever thread emits event `hold` until the test opens the gate,
 * and counts how many are waiting. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int waiting;
    lsm_event_type hold;
} gate;

static void gate_init(gate *g, lsm_event_type hold, bool open)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->open = open;
    g->waiting = 0;
    g->hold = hold;
}

static void gate_cb(void *ctx, const lsm_event *e)
{
    gate *g = ctx;
    if (e->type != g->hold)
        return;
    pthread_mutex_lock(&g->mu);
    g->waiting++;
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    g->waiting--;
    pthread_mutex_unlock(&g->mu);
}

static void gate_set(gate *g, bool open)
{
    pthread_mutex_lock(&g->mu);
    g->open = open;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* --- keys, values and a per-writer model ------------------------------------
 */

static size_t key_of(int writer, unsigned k, char *buf, size_t n)
{
    return (size_t)snprintf(buf, n, "w%d-k%05u", writer, k);
}

/* The value written at a step: its length varies with the step (empty
 * values included: they are values, not deletes). */
static size_t value_of(uint64_t step, char *buf, size_t n)
{
    int len = snprintf(buf, n, "%" PRIu64, step);
    size_t pad = (size_t)(step % 41);
    if (step % 17 == 0)
        return 0;
    for (size_t i = 0; i < pad && (size_t)len + i + 1 < n; i++)
        buf[(size_t)len + i] = (char)('a' + (step + i) % 26);
    return (size_t)len + pad;
}

#define MODEL_KEYS 2000
#define MODEL_DELETED UINT64_MAX
#define MODEL_ABSENT 0

/* Each writer owns its keys; model[k] is the step of the newest write of
 * key k (MODEL_ABSENT for never written, MODEL_DELETED for deleted). Steps
 * start at 1. */
typedef struct writer {
    lsm_db *db;
    watchdog *w;
    int id;
    uint64_t seed;
    uint64_t n_ops;
    uint64_t model[MODEL_KEYS];
    int rc; /* the first failure, LSM_OK if none */
    uint64_t failed_step;
} writer;

static int writer_put(writer *wr, unsigned k, uint64_t step)
{
    char key[32], value[64];
    size_t nkey = key_of(wr->id, k, key, sizeof key);
    size_t nvalue = value_of(step, value, sizeof value);
    watchdog_begin(wr->w, wr->id, step, "put");
    int rc = lsm_put(wr->db, key, nkey, value, nvalue);
    watchdog_end(wr->w, wr->id);
    if (rc == LSM_OK)
        wr->model[k] = step;
    return rc;
}

static int writer_delete(writer *wr, unsigned k, uint64_t step)
{
    char key[32];
    size_t nkey = key_of(wr->id, k, key, sizeof key);
    watchdog_begin(wr->w, wr->id, step, "delete");
    int rc = lsm_delete(wr->db, key, nkey);
    watchdog_end(wr->w, wr->id);
    if (rc == LSM_OK)
        wr->model[k] = MODEL_DELETED;
    return rc;
}

/* A batch of 1 to 15 puts and deletes; the model changes only if it was
 * written (atomically, all or nothing). */
static int writer_batch(writer *wr, uint64_t *rng, uint64_t step)
{
    lsm_batch *b;
    int rc = lsm_batch_new(&b);
    if (rc != LSM_OK)
        return rc;
    unsigned n = 1 + (unsigned)(test_rng_next(rng) % 15);
    unsigned keys[15];
    bool is_delete[15];
    for (unsigned i = 0; i < n && rc == LSM_OK; i++) {
        char key[32], value[64];
        keys[i] = (unsigned)(test_rng_next(rng) % MODEL_KEYS);
        is_delete[i] = test_rng_next(rng) % 4 == 0;
        size_t nkey = key_of(wr->id, keys[i], key, sizeof key);
        if (is_delete[i]) {
            rc = lsm_batch_delete(b, key, nkey);
        } else {
            size_t nvalue = value_of(step, value, sizeof value);
            rc = lsm_batch_put(b, key, nkey, value, nvalue);
        }
    }
    if (rc == LSM_OK) {
        watchdog_begin(wr->w, wr->id, step, "batch");
        rc = lsm_write(wr->db, b);
        watchdog_end(wr->w, wr->id);
    }
    for (unsigned i = 0; i < n && rc == LSM_OK; i++)
        wr->model[keys[i]] = is_delete[i] ? MODEL_DELETED : step;
    lsm_batch_free(b);
    return rc;
}

static void *writer_main(void *arg)
{
    writer *wr = arg;
    uint64_t rng = wr->seed;
    for (uint64_t i = 0; i < wr->n_ops && wr->rc == LSM_OK; i++) {
        /* Steps are unique across writers, so a value names its write. */
        uint64_t step = (i + 1) * WATCHDOG_SLOTS + (uint64_t)wr->id;
        uint64_t dice = test_rng_next(&rng) % 10;
        unsigned k = (unsigned)(test_rng_next(&rng) % MODEL_KEYS);
        if (dice < 6)
            wr->rc = writer_put(wr, k, step);
        else if (dice < 8)
            wr->rc = writer_delete(wr, k, step);
        else
            wr->rc = writer_batch(wr, &rng, step);
        if (wr->rc != LSM_OK)
            wr->failed_step = step;
    }
    return NULL;
}

/* Checks every key of the writer's model against the database. */
static void writer_check(const writer *wr, lsm_db *db)
{
    for (unsigned k = 0; k < MODEL_KEYS; k++) {
        char key[32], want[64];
        size_t nkey = key_of(wr->id, k, key, sizeof key);
        void *got = NULL;
        size_t ngot = 0;
        int rc = lsm_get(db, key, nkey, &got, &ngot);
        uint64_t step = wr->model[k];
        if (step == MODEL_ABSENT || step == MODEL_DELETED) {
            if (rc != LSM_NOTFOUND)
                fail_msg("%s: expected absent, got rc %d", key, rc);
            continue;
        }
        if (rc != LSM_OK)
            fail_msg("%s: expected the value of step %" PRIu64 ", got rc %d",
                     key, step, rc);
        size_t nwant = value_of(step, want, sizeof want);
        if (ngot != nwant || memcmp(got, want, nwant) != 0)
            fail_msg("%s: wrong value (step %" PRIu64 ")", key, step);
        lsm_free(got);
    }
}

/* --- the compaction thread sees every change --------------------------------
 */

/* The compaction thread is held in its idle hook once it found nothing to
 * do on the version with one L0 SST; meanwhile the test publishes new
 * versions until one reuses the address of the held version. */
typedef struct idle_hold {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool armed;    /* hold at the next idle moment with one L0 SST */
    bool held;     /* the thread is in the hook now */
    bool release;  /* the test lets it go */
    version *seen; /* current when it was held */
} idle_hold;

static void idle_hook(lsm_db *db, void *ctx)
{
    idle_hold *h = ctx;
    pthread_mutex_lock(&db->state_mu);
    version *cur = db->current;
    bool one_l0 = cur->n_l0 == 1 && cur->n_imm == 0;
    pthread_mutex_unlock(&db->state_mu);
    pthread_mutex_lock(&h->mu);
    if (h->armed && one_l0) {
        h->armed = false;
        h->held = true;
        h->seen = cur;
        pthread_cond_broadcast(&h->cv);
        while (!h->release)
            pthread_cond_wait(&h->cv, &h->mu);
        h->held = false;
    }
    pthread_mutex_unlock(&h->mu);
}

static bool l0_below(lsm_db *db, void *arg)
{
    size_t limit = *(size_t *)arg;
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    bool below = st->n_l0 < limit;
    lsm_state_free(st);
    return below;
}

static version *current_version(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    version *v = db->current;
    pthread_mutex_unlock(&db->state_mu);
    return v;
}

static void test_compaction_thread_sees_reused_version_address(void **state)
{
    char *dir = *state;
    watchdog w;
    watchdog_start(&w, "compaction thread wakeup");
    idle_hold h = {PTHREAD_MUTEX_INITIALIZER,
                   PTHREAD_COND_INITIALIZER,
                   true,
                   false,
                   false,
                   NULL};
    lsm_options opt;
    lsm_options_init(&opt);
    opt.sched = LSM_SCHED_THREADS;
    opt.compaction = LSM_COMPACTION_LEVELED;
    opt.level0_file_num_compaction_trigger = 2;
    opt.stall_l0_files = 0;
    opt.stall_memtables = 0;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    atomic_store(&w.db, db);
    pthread_mutex_lock(&db->state_mu);
    db->compaction_idle_hook = idle_hook;
    db->compaction_idle_ctx = &h;
    pthread_mutex_unlock(&db->state_mu);

    /* One L0 SST: below the trigger, so the thread goes idle and is held. */
    test_put_str(db, "a", "1");
    assert_int_equal(lsm_flush(db), LSM_OK);
    pthread_mutex_lock(&h.mu);
    watchdog_begin(&w, 0, 0, "wait for the idle compaction thread");
    while (!h.held)
        pthread_cond_wait(&h.cv, &h.mu);
    watchdog_end(&w, 0);
    version *seen = h.seen;
    pthread_mutex_unlock(&h.mu);

    /* More flushes make L0 due while the thread is held. Each publishes
     * new versions and frees old ones: the held version's address may go to
     * a newer version (the hang of issue 9, seen after thousands of flushes
     * in stress runs; no allocator does it on demand), and changes made
     * between the thread's look at the tree and its sleep must not be
     * missed either way. */
    int flushes = 0;
    bool reused = false;
    while (flushes < 8) {
        char key[16];
        snprintf(key, sizeof key, "k%d", flushes);
        test_put_str(db, key, "v");
        assert_int_equal(lsm_flush(db), LSM_OK);
        flushes++;
        reused = reused || current_version(db) == seen;
    }
    if (reused)
        printf("note: a newer version took the held version's address\n");

    pthread_mutex_lock(&h.mu);
    h.release = true;
    pthread_cond_broadcast(&h.cv);
    pthread_mutex_unlock(&h.mu);
    /* L0 is at or over the trigger: the thread must compact it away. */
    size_t trigger = opt.level0_file_num_compaction_trigger;
    wait_until(&w, db, l0_below, &trigger, "wait for the L0 compaction");
    test_expect_get(db, "a", "1");
    test_expect_get(db, "k0", "v");
    assert_int_equal(lsm_close(db), LSM_OK);
    watchdog_stop(&w);
}

/* A database whose L0 is already due when it opens in threads mode is
 * compacted at once, before any write: the compaction thread looks at the
 * tree when it starts. */
static void test_open_compacts_a_due_l0(void **state)
{
    char *dir = *state;
    watchdog w;
    watchdog_start(&w, "compaction at open");
    lsm_options opt;
    lsm_options_init(&opt);
    opt.level0_file_num_compaction_trigger = 5;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    for (int i = 0; i < 3; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i);
        test_put_str(db, key, "v");
        assert_int_equal(lsm_flush(db), LSM_OK);
    }
    assert_int_equal(lsm_close(db), LSM_OK);
    opt.sched = LSM_SCHED_THREADS;
    opt.level0_file_num_compaction_trigger = 2;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    atomic_store(&w.db, db);
    size_t trigger = 2;
    wait_until(&w, db, l0_below, &trigger, "wait for the L0 compaction");
    test_expect_get(db, "k2", "v");
    assert_int_equal(lsm_close(db), LSM_OK);
    watchdog_stop(&w);
}

/* --- the shapes that hung ------------------------------------------------ */

typedef struct stall_shape {
    const char *name;
    lsm_compaction compaction;
    size_t target_sst_size;
    size_t block_size;
    size_t num_memtable_limit;
    size_t block_cache_bytes;
    unsigned bloom_bits_per_key;
    unsigned max_levels;
    unsigned trigger;
    unsigned base_level_size_mb;
    unsigned level_size_multiplier;
    unsigned stall_memtables;
    unsigned stall_l0_files;
    unsigned preload_ops; /* writes compacted into the bottom level first */
} stall_shape;

static void shape_options(const stall_shape *s, lsm_options *opt)
{
    lsm_options_init(opt);
    opt->sched = LSM_SCHED_THREADS;
    opt->compaction = s->compaction;
    opt->target_sst_size = s->target_sst_size;
    opt->block_size = s->block_size;
    opt->num_memtable_limit = s->num_memtable_limit;
    opt->block_cache_bytes = s->block_cache_bytes;
    opt->bloom_bits_per_key = s->bloom_bits_per_key;
    opt->max_levels = s->max_levels;
    opt->level0_file_num_compaction_trigger = s->trigger;
    opt->base_level_size_mb = s->base_level_size_mb;
    opt->level_size_multiplier = s->level_size_multiplier;
    opt->stall_memtables = s->stall_memtables;
    opt->stall_l0_files = s->stall_l0_files;
}

static bool l0_over(lsm_db *db, void *arg)
{
    size_t limit = *(size_t *)arg;
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    bool over = st->n_l0 > limit;
    lsm_state_free(st);
    return over;
}

static size_t bottom_ssts(lsm_db *db)
{
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    size_t n = st->n_levels ? st->levels[st->n_levels - 1].n_ssts : 0;
    lsm_state_free(st);
    return n;
}

static void run_writer_to_end(writer *wr)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, wr), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    if (wr->rc != LSM_OK)
        fail_msg("writer %d failed at step %" PRIu64 ": %s", wr->id,
                 wr->failed_step, lsm_strerror(wr->rc));
}

static bool stalled(lsm_db *db, void *arg)
{
    (void)arg;
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    bool any = st->counters.write_stalls >= 1;
    lsm_state_free(st);
    return any;
}

/* One put of a key no writer uses: run while L0 is over the stall limit
 * and the compaction thread is held, it must stall. */
static void *probe_put_main(void *arg)
{
    lsm_db *db = arg;
    int *rc = malloc(sizeof *rc);
    if (rc)
        *rc = lsm_put(db, "stall-probe", 11, "v", 1);
    return rc;
}

/* Builds a large bottom level, then holds the compaction thread at its
 * next COMPACTION_BEGIN while a writer fills L0 past the stall limit, and
 * lets go: the writer must come out of its stall and finish. */
static void run_shape(const char *dir, const stall_shape *s)
{
    watchdog w;
    watchdog_start(&w, s->name);
    gate g;
    gate_init(&g, LSM_EVENT_COMPACTION_BEGIN, true);
    lsm_options opt;
    shape_options(s, &opt);
    opt.event_cb = gate_cb;
    opt.event_ctx = &g;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    atomic_store(&w.db, db);

    static writer wr; /* large: keep it off the stack */
    memset(&wr, 0, sizeof wr);
    wr = (writer){
        .db = db, .w = &w, .id = 1, .seed = 42, .n_ops = s->preload_ops};
    run_writer_to_end(&wr);
    watchdog_begin(&w, 0, 0, "full compaction");
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    watchdog_end(&w, 0);
    size_t n_bottom = bottom_ssts(db);
    printf("%s: %zu SSTs in the bottom level\n", s->name, n_bottom);
    assert_true(n_bottom >= 4 * (size_t)s->trigger);

    gate_set(&g, false);
    wr.seed = 43;
    wr.n_ops = s->preload_ops;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &wr), 0);
    size_t limit =
        s->stall_l0_files > s->trigger ? s->stall_l0_files : s->trigger;
    wait_until(&w, db, l0_over, &limit, "wait for L0 over the stall limit");
    /* The writer may have written its last key before the flushes that
     * took L0 over the limit (a loaded machine flushes late): a put made
     * now, with the compaction thread still held, stalls for sure. The
     * gate opens only once a stall began. */
    pthread_t probe;
    assert_int_equal(pthread_create(&probe, NULL, probe_put_main, db), 0);
    wait_until(&w, db, stalled, NULL, "wait for a write stall");
    gate_set(&g, true);
    assert_int_equal(pthread_join(t, NULL), 0);
    if (wr.rc != LSM_OK)
        fail_msg("%s: writer failed at step %" PRIu64 ": %s", s->name,
                 wr.failed_step, lsm_strerror(wr.rc));
    void *probe_rc = NULL;
    assert_int_equal(pthread_join(probe, &probe_rc), 0);
    assert_non_null(probe_rc);
    assert_int_equal(*(int *)probe_rc, LSM_OK);
    free(probe_rc);

    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_true(st->counters.write_stalls >= 1);
    lsm_state_free(st);
    writer_check(&wr, db);
    assert_int_equal(lsm_close(db), LSM_OK);
    watchdog_stop(&w);
}

/* The three states recorded in issue 9 (leveled), and simple with an L1
 * much larger than L0, which its old L0 rule never compacted. */
static const stall_shape hung_shapes[] = {
    {"leveled, one level, trigger 2", LSM_COMPACTION_LEVELED, 1024, 64, 1,
     8u << 20, 10, 1, 2, 1, 4, 0, 4, 2000},
    {"leveled, two levels, trigger 1, no cache", LSM_COMPACTION_LEVELED, 2048,
     1024, 4, 0, 20, 2, 1, 2, 2, 8, 4, 2000},
    {"leveled, five levels, trigger 3", LSM_COMPACTION_LEVELED, 2048, 128, 4,
     64u << 10, 10, 5, 3, 2, 5, 0, 4, 2000},
    {"simple, large L1", LSM_COMPACTION_SIMPLE, 1024, 256, 1, 8u << 20, 10, 1,
     2, 1, 2, 0, 4, 2000},
    {"simple, four levels", LSM_COMPACTION_SIMPLE, 1024, 256, 2, 8u << 20, 10,
     4, 2, 1, 2, 2, 3, 2000},
};

static void test_hung_shapes_end_their_stall(void **state)
{
    for (size_t i = 0; i < sizeof hung_shapes / sizeof *hung_shapes; i++) {
        char name[32];
        snprintf(name, sizeof name, "shape%zu", i);
        char *dir = test_path(*state, name);
        run_shape(dir, &hung_shapes[i]);
        test_rmtree(dir);
        free(dir);
    }
}

/* --- a stall that cannot end returns the error ------------------------------
 */

static void test_stall_returns_background_error(void **state)
{
    char *dir = *state;
    watchdog w;
    watchdog_start(&w, "stall ends in an error");
    fault_env *fe;
    assert_int_equal(fault_env_new(env_posix(), &fe), LSM_OK);
    gate g;
    gate_init(&g, LSM_EVENT_COMPACTION_BEGIN, false);
    lsm_options opt;
    lsm_options_init(&opt);
    opt.sched = LSM_SCHED_THREADS;
    opt.compaction = LSM_COMPACTION_LEVELED;
    opt.target_sst_size = 512;
    opt.num_memtable_limit = 1;
    opt.level0_file_num_compaction_trigger = 2;
    opt.stall_l0_files = 3;
    opt.stall_memtables = 0;
    opt.event_cb = gate_cb;
    opt.event_ctx = &g;
    lsm_db *db;
    assert_int_equal(db_open_env(dir, &opt, fault_env_env(fe), &db), LSM_OK);
    atomic_store(&w.db, db);
    static writer wr;
    memset(&wr, 0, sizeof wr);
    wr = (writer){.db = db, .w = &w, .id = 1, .seed = 7, .n_ops = 1000000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &wr), 0);
    size_t limit = opt.stall_l0_files;
    wait_until(&w, db, l0_over, &limit, "wait for L0 over the stall limit");
    /* Every new SST fails from now on: the held compaction cannot write
     * its output, so L0 can never shrink. */
    fault_env_fail_from_nth(fe, FAULT_CREATE, 1);
    gate_set(&g, true);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(wr.rc, LSM_EIO);
    assert_true(wr.failed_step < 1000000 * WATCHDOG_SLOTS);
    assert_int_equal(lsm_close(db), LSM_EIO);
    fault_env_free(fe);
    watchdog_stop(&w);
}

/* --- stress -----------------------------------------------------------------
 */

#define STRESS_WRITERS 3

typedef struct reader {
    lsm_db *db;
    watchdog *w;
    atomic_int *done;
    uint64_t reads;
    int rc;
} reader;

/* Gets and short scans while the writers run: they must not fail or hang
 * (their answers race with the writers; the final check is the oracle). */
static void *reader_main(void *arg)
{
    reader *r = arg;
    uint64_t rng = 99;
    int slot = STRESS_WRITERS + 1;
    while (!atomic_load(r->done) && r->rc == LSM_OK) {
        char key[32];
        int writer_id = 1 + (int)(test_rng_next(&rng) % STRESS_WRITERS);
        size_t nkey =
            key_of(writer_id, (unsigned)(test_rng_next(&rng) % MODEL_KEYS), key,
                   sizeof key);
        void *v = NULL;
        size_t nv;
        watchdog_begin(r->w, slot, r->reads, "get");
        int rc = lsm_get(r->db, key, nkey, &v, &nv);
        watchdog_end(r->w, slot);
        lsm_free(v);
        if (rc != LSM_OK && rc != LSM_NOTFOUND)
            r->rc = rc;
        lsm_bound lo = {.kind = LSM_BOUND_INCLUDED, .key = key, .nkey = nkey};
        lsm_iter *it = NULL;
        watchdog_begin(r->w, slot, r->reads, "scan");
        rc = lsm_scan(r->db, &lo, NULL, &it);
        for (int i = 0; rc == LSM_OK && i < 20 && lsm_iter_valid(it); i++)
            rc = lsm_iter_next(it);
        lsm_iter_close(it);
        watchdog_end(r->w, slot);
        if (rc != LSM_OK)
            r->rc = rc;
        r->reads++;
    }
    return NULL;
}

typedef struct stress_config {
    const char *name;
    lsm_compaction compaction;
    size_t target_sst_size;
    size_t num_memtable_limit;
    unsigned max_levels;
    unsigned trigger;
    unsigned stall_memtables;
    unsigned stall_l0_files;
} stress_config;

static const stress_config stress_configs[] = {
    {"stress none", LSM_COMPACTION_NONE, 512, 1, 1, 2, 1, 0},
    {"stress simple", LSM_COMPACTION_SIMPLE, 512, 1, 3, 2, 2, 2},
    {"stress simple, one level", LSM_COMPACTION_SIMPLE, 1024, 2, 1, 1, 0, 1},
    {"stress tiered", LSM_COMPACTION_TIERED, 512, 2, 0, 0, 2, 0},
    {"stress leveled", LSM_COMPACTION_LEVELED, 512, 1, 4, 2, 2, 2},
    {"stress leveled, one level", LSM_COMPACTION_LEVELED, 1024, 1, 1, 2, 0, 4},
    {"stress leveled, deep", LSM_COMPACTION_LEVELED, 2048, 4, 5, 3, 0, 4},
};

static uint64_t stress_ops(void)
{
    const char *s = getenv("LSM_STALL_STRESS_OPS");
    return s && atoll(s) > 0 ? (uint64_t)atoll(s) : 1000;
}

static void run_stress(const char *dir, const stress_config *c, uint64_t seed)
{
    watchdog w;
    watchdog_start(&w, c->name);
    lsm_options opt;
    lsm_options_init(&opt);
    opt.sched = LSM_SCHED_THREADS;
    opt.compaction = c->compaction;
    opt.target_sst_size = c->target_sst_size;
    opt.block_size = 128;
    opt.num_memtable_limit = c->num_memtable_limit;
    opt.block_cache_bytes = 64u << 10;
    opt.level0_file_num_compaction_trigger = c->trigger ? c->trigger : 2;
    if (c->max_levels)
        opt.max_levels = c->max_levels;
    opt.base_level_size_mb = 1;
    opt.stall_memtables = c->stall_memtables;
    opt.stall_l0_files = c->stall_l0_files;
    opt.event_cb = watchdog_event_cb;
    opt.event_ctx = &w;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    atomic_store(&w.db, db);

    static writer writers[STRESS_WRITERS];
    pthread_t threads[STRESS_WRITERS + 1];
    atomic_int done = 0;
    reader rd = {.db = db, .w = &w, .done = &done};
    for (int i = 0; i < STRESS_WRITERS; i++) {
        memset(&writers[i], 0, sizeof writers[i]);
        writers[i] = (writer){.db = db,
                              .w = &w,
                              .id = i + 1,
                              .seed = seed * 31 + (uint64_t)i,
                              .n_ops = stress_ops()};
        assert_int_equal(
            pthread_create(&threads[i], NULL, writer_main, &writers[i]), 0);
    }
    assert_int_equal(
        pthread_create(&threads[STRESS_WRITERS], NULL, reader_main, &rd), 0);
    for (int i = 0; i < STRESS_WRITERS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    atomic_store(&done, 1);
    assert_int_equal(pthread_join(threads[STRESS_WRITERS], NULL), 0);
    for (int i = 0; i < STRESS_WRITERS; i++)
        if (writers[i].rc != LSM_OK)
            fail_msg("%s: writer %d failed at step %" PRIu64 ": %s", c->name,
                     writers[i].id, writers[i].failed_step,
                     lsm_strerror(writers[i].rc));
    assert_int_equal(rd.rc, LSM_OK);

    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    printf("%s: %" PRIu64 " writes, %" PRIu64 " reads, %" PRIu64
           " flushes, %" PRIu64 " compactions, %" PRIu64 " stalls\n",
           c->name, st->counters.puts + st->counters.deletes, rd.reads,
           st->counters.flushes, st->counters.compactions,
           st->counters.write_stalls);
    lsm_state_free(st);
    for (int i = 0; i < STRESS_WRITERS; i++)
        writer_check(&writers[i], db);
    watchdog_begin(&w, 0, 0, "close and reopen");
    assert_int_equal(lsm_close(db), LSM_OK);
    atomic_store(&w.db, NULL);
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    watchdog_end(&w, 0);
    for (int i = 0; i < STRESS_WRITERS; i++)
        writer_check(&writers[i], db);
    assert_int_equal(lsm_close(db), LSM_OK);
    watchdog_stop(&w);
}

/* LSM_STALL_SEED picks other random operations (default 1000), for a
 * longer campaign: see README, Tests. */
static void test_stress_every_strategy(void **state)
{
    const char *seed_text = getenv("LSM_STALL_SEED");
    uint64_t seed =
        seed_text && *seed_text ? strtoull(seed_text, NULL, 10) : 1000;
    printf("stress seed %" PRIu64 "\n", seed);
    for (size_t i = 0; i < sizeof stress_configs / sizeof *stress_configs;
         i++) {
        char name[32];
        snprintf(name, sizeof name, "stress%zu", i);
        char *dir = test_path(*state, name);
        run_stress(dir, &stress_configs[i], seed + i);
        test_rmtree(dir);
        free(dir);
    }
}

int main(void)
{
    /* LSM_TEST_FILTER=glob runs only the tests whose names match. */
    if (getenv("LSM_TEST_FILTER"))
        cmocka_set_test_filter(getenv("LSM_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_compaction_thread_sees_reused_version_address, test_dir_setup,
            test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_compacts_a_due_l0,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_hung_shapes_end_their_stall,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_stall_returns_background_error,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_stress_every_strategy,
                                        test_dir_setup, test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
