/*
 * test_fault.c: durability under injected I/O errors and power cuts, through
 * the fault env (fault_env.h).
 *
 * Three families of tests:
 *
 *   1. Fault sweeps. For a kind K (append, sync, sync_dir, create, and
 *      unlink, whose failures the engine may ignore as harmless) and
 *      N = 1, 2, 3, ... the N-th call of K fails (once, or from then on for
 *      the sticky sweeps) while a fixed workload runs: puts, deletes,
 *      batches, lsm_flush, lsm_compact_full, close. The workload stops at
 *      the first error; close is always called. A sweep ends with the first
 *      N whose run fired no fault. After each run the database is reopened
 *      with the real env and must hold exactly the acknowledged writes, or
 *      those plus the one write that failed (it may have reached the log
 *      before the error), whole: a failed batch is all there or absent. An
 *      injected failure that no call reported is a failure of the test (a
 *      swallowed fsync error loses data silently). The rewrite sweeps run
 *      the workload with the MANIFEST rewritten after every record
 *      and fail, in turn, each creation of, append to, fsync and rename of
 *      MANIFEST.new, each reopening of MANIFEST after the switch, and each
 *      directory fsync: a failed rewrite may be reported by a warning
 *      alone (the old manifest stays in use), and the database must then
 *      reopen with every acknowledged write.
 *
 *   2. Latched errors. A failed SST sync in a flush (triggered by a put, or
 *      by lsm_flush) and a failed WAL append or WAL sync make every later
 *      write return the error; what was acknowledged survives a reopen. A
 *      crash right after a half-written WAL append leaves a torn tail that
 *      reopening cuts with a warning; a damaged earlier record is
 *      LSM_ECORRUPT.
 *
 *   3. Power cuts. A forked child runs a random workload through the fault
 *      env and loses power (fault_env_power_cut) either between two calls
 *      or in place of a chosen I/O call, then _exit()s without closing; it
 *      tells the parent, through a pipe, which operations were
 *      acknowledged. The parent recovers a copy of the directory with
 *      lsm_open and checks it against a model: with sync on, every
 *      acknowledged write is there; with sync off, what is there is the
 *      state after some prefix of the operations that includes everything
 *      before the last acknowledged lsm_flush. A process crash (no power
 *      cut) keeps every acknowledged write even with sync off. The next
 *      round's child recovers the cut directory itself and goes on, so
 *      recovery of recovered databases and cuts during recovery are
 *      covered too.
 *
 * Values are unique per write, so "no value that was never written" is
 * checked by comparing whole database contents with model states.
 * LSM_TEST_VERBOSE=1 prints what each sweep and power-cut run exercised;
 * LSM_TEST_FILTER=<pattern> runs only the matching tests (cmocka's
 * filter, "*" wildcards); LSM_TEST_SWEEP_N=<n> runs only N = n of a sweep (with
 * LSM_FAULT_TRACE=1 to see each I/O call, fault_env.h).
 *
 * Thread safety: the test is single-threaded (the engine's flush thread
 * runs in LSM_SCHED_THREADS mode); children are forked only while the
 * parent holds no open database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include "db/db_int.h"
#include "fault_env.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>

/* --- the model ------------------------------------------------------------ */

#define N_KEYS 40
#define VALUE_MAX_BYTES 64
#define BATCH_MAX_ENTRIES 6

typedef enum op_kind {
    OP_PUT,
    OP_DELETE,
    OP_BATCH,
    OP_FLUSH,
    OP_COMPACT
} op_kind;

typedef struct op_entry {
    int key;
    bool is_put;
    size_t nvalue;
    char value[VALUE_MAX_BYTES];
} op_entry;

typedef struct op {
    op_kind kind;
    int n_entries; /* 1 for a put or delete, 0 for flush and compact */
    op_entry e[BATCH_MAX_ENTRIES];
} op;

/* The live contents of the database: one slot per key. */
typedef struct model {
    bool present[N_KEYS];
    size_t nvalue[N_KEYS];
    char value[N_KEYS][VALUE_MAX_BYTES];
} model;

static bool verbose(void)
{
    const char *v = getenv("LSM_TEST_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

static size_t key_name(int key, char *buf)
{
    return (size_t)snprintf(buf, 16, "key%03d", key);
}

/* The key index of an engine key, or -1 if it is not one of ours. */
static int key_index(const void *key, size_t nkey)
{
    char buf[16];
    for (int k = 0; k < N_KEYS; k++)
        if (key_name(k, buf) == nkey && memcmp(buf, key, nkey) == 0)
            return k;
    return -1;
}

/* A value no other write of any run uses: "<tag>.<op>.<entry>|" padded
 * with random letters to a random length. */
static void value_make(uint64_t *rng, uint64_t tag, int op_index,
                       int entry_index, op_entry *e)
{
    int n = snprintf(e->value, sizeof e->value, "%" PRIx64 ".%d.%d|", tag,
                     op_index, entry_index);
    size_t len =
        (size_t)n + test_rng_next(rng) % (VALUE_MAX_BYTES - (size_t)n + 1);
    for (size_t i = (size_t)n; i < len; i++)
        e->value[i] = (char)('a' + test_rng_next(rng) % 26);
    e->nvalue = len;
}

static void entry_make(uint64_t *rng, uint64_t tag, int op_index,
                       int entry_index, int put_percent, op_entry *e)
{
    e->key = (int)(test_rng_next(rng) % N_KEYS);
    e->is_put = (int)(test_rng_next(rng) % 100) < put_percent;
    e->nvalue = 0;
    if (e->is_put)
        value_make(rng, tag, op_index, entry_index, e);
}

static void op_make_write(uint64_t *rng, uint64_t tag, int op_index, op_kind k,
                          op *o)
{
    o->kind = k;
    if (k == OP_PUT || k == OP_DELETE) {
        o->n_entries = 1;
        entry_make(rng, tag, op_index, 0, k == OP_PUT ? 100 : 0, &o->e[0]);
        return;
    }
    o->n_entries = 2 + (int)(test_rng_next(rng) % (BATCH_MAX_ENTRIES - 1));
    for (int j = 0; j < o->n_entries; j++)
        entry_make(rng, tag, op_index, j, 70, &o->e[j]);
}

static bool op_is_write(const op *o)
{
    return o->kind == OP_PUT || o->kind == OP_DELETE || o->kind == OP_BATCH;
}

static void model_apply(model *m, const op *o)
{
    for (int j = 0; j < o->n_entries; j++) {
        const op_entry *e = &o->e[j];
        m->present[e->key] = e->is_put;
        m->nvalue[e->key] = e->nvalue;
        memcpy(m->value[e->key], e->value, e->nvalue);
    }
}

static bool model_slot_equal(const model *a, const model *b, int k)
{
    if (a->present[k] != b->present[k])
        return false;
    return !a->present[k] ||
           (a->nvalue[k] == b->nvalue[k] &&
            memcmp(a->value[k], b->value[k], a->nvalue[k]) == 0);
}

static bool model_equal(const model *a, const model *b)
{
    for (int k = 0; k < N_KEYS; k++)
        if (!model_slot_equal(a, b, k))
            return false;
    return true;
}

/* Prints every key on which the database differs from the model. */
static void model_print_diff(const model *want, const model *got)
{
    for (int k = 0; k < N_KEYS; k++) {
        if (model_slot_equal(want, got, k))
            continue;
        print_message("    key%03d: expected %s%.*s%s, found %s%.*s%s\n", k,
                      want->present[k] ? "\"" : "(absent)",
                      want->present[k] ? (int)want->nvalue[k] : 0,
                      want->value[k], want->present[k] ? "\"" : "",
                      got->present[k] ? "\"" : "(absent)",
                      got->present[k] ? (int)got->nvalue[k] : 0, got->value[k],
                      got->present[k] ? "\"" : "");
    }
}

/* --- the engine side ------------------------------------------------------ */

static int batch_apply(lsm_db *db, const op *o)
{
    lsm_batch *b = NULL;
    int rc = lsm_batch_new(&b);
    for (int j = 0; rc == LSM_OK && j < o->n_entries; j++) {
        char key[16];
        size_t nkey = key_name(o->e[j].key, key);
        rc = o->e[j].is_put
                 ? lsm_batch_put(b, key, nkey, o->e[j].value, o->e[j].nvalue)
                 : lsm_batch_delete(b, key, nkey);
    }
    if (rc == LSM_OK)
        rc = lsm_write(db, b);
    lsm_batch_free(b);
    return rc;
}

/* Runs one operation against the engine; returns its rc. */
static int op_apply_db(lsm_db *db, const op *o)
{
    char key[16];
    size_t nkey;
    switch (o->kind) {
    case OP_PUT:
        nkey = key_name(o->e[0].key, key);
        return lsm_put(db, key, nkey, o->e[0].value, o->e[0].nvalue);
    case OP_DELETE:
        nkey = key_name(o->e[0].key, key);
        return lsm_delete(db, key, nkey);
    case OP_BATCH:
        return batch_apply(db, o);
    case OP_FLUSH:
        return lsm_flush(db);
    case OP_COMPACT:
        return lsm_compact_full(db);
    }
    return LSM_EINTERNAL;
}

/* Reads the whole database with a scan into *out, and checks that a point
 * read of every key agrees with the scan. Any key that is not one of the
 * model's fails the test. */
static void db_read_all(lsm_db *db, model *out)
{
    memset(out, 0, sizeof *out);
    lsm_iter *it;
    assert_int_equal(lsm_scan(db, NULL, NULL, &it), LSM_OK);
    while (lsm_iter_valid(it)) {
        size_t nkey, nvalue;
        const void *key = lsm_iter_key(it, &nkey);
        const void *value = lsm_iter_value(it, &nvalue);
        int k = key_index(key, nkey);
        if (k < 0)
            fail_msg("scan returned a key that was never written: %.*s",
                     (int)nkey, (const char *)key);
        assert_false(out->present[k]);
        assert_true(nvalue <= VALUE_MAX_BYTES);
        out->present[k] = true;
        out->nvalue[k] = nvalue;
        memcpy(out->value[k], value, nvalue);
        assert_int_equal(lsm_iter_next(it), LSM_OK);
    }
    lsm_iter_close(it);
    for (int k = 0; k < N_KEYS; k++) {
        char key[16];
        size_t nkey = key_name(k, key);
        void *v = NULL;
        size_t nv = 0;
        int rc = lsm_get(db, key, nkey, &v, &nv);
        assert_int_equal(rc, out->present[k] ? LSM_OK : LSM_NOTFOUND);
        if (rc == LSM_OK) {
            assert_int_equal(nv, out->nvalue[k]);
            assert_memory_equal(v, out->value[k], nv);
        }
        lsm_free(v);
    }
}

/* Tiny sizes so that a few dozen writes freeze, flush and compact. */
static void tiny_options(lsm_options *opt, lsm_sched sched, int sync)
{
    lsm_options_init(opt);
    opt->target_sst_size = 1024;
    opt->num_memtable_limit = 2;
    opt->block_size = 128;
    opt->block_cache_bytes = 64 * 1024;
    opt->enable_wal = 1;
    opt->sync = sync;
    opt->sched = sched;
    /* No automatic compaction: the sweeps fail every I/O call in turn, and
     * automatic compactions would multiply the calls. The workload's
     * lsm_compact_full still runs the compaction path under every fault. */
    opt->compaction = LSM_COMPACTION_NONE;
}

/* Opens dir with the real env and reads it whole into *got. The recovered
 * database is closed cleanly and opened once more: a second recovery must
 * see the same contents. */
static void recover_with_posix(const char *dir, const char *what, model *got)
{
    lsm_options opt;
    tiny_options(&opt, LSM_SCHED_INLINE, 0);
    lsm_db *db = NULL;
    int rc = lsm_open(dir, &opt, &db);
    if (rc != LSM_OK)
        fail_msg("%s: healthy reopen failed: %s (%s)", what, lsm_strerror(rc),
                 lsm_errmsg());
    db_read_all(db, got);
    rc = lsm_close(db);
    if (rc != LSM_OK)
        fail_msg("%s: close after recovery failed: %s", what, lsm_errmsg());
    model again;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    db_read_all(db, &again);
    assert_int_equal(lsm_close(db), LSM_OK);
    if (!model_equal(got, &again)) {
        print_message("%s: a second reopen changed the contents\n", what);
        model_print_diff(got, &again);
        fail();
    }
}

/* The reopened database must equal the acknowledged state, or that state
 * plus the one write that failed (NULL if none), applied whole. */
static void check_acked_or_pending(const char *what, const model *got,
                                   const model *acked, const op *pending)
{
    if (model_equal(got, acked))
        return;
    model with_pending = *acked;
    if (pending) {
        model_apply(&with_pending, pending);
        if (model_equal(got, &with_pending))
            return;
    }
    print_message("%s: recovered contents are not the acknowledged writes%s\n",
                  what, pending ? " (with or without the failed one)" : "");
    model_print_diff(acked, got);
    if (pending) {
        print_message("  against acknowledged + failed write:\n");
        model_print_diff(&with_pending, got);
    }
    fail();
}

/* --- 1. fault sweeps ------------------------------------------------------ */

#define SWEEP_OPS 90
#define SWEEP_SEED 0x5eedf00dull
#define SWEEP_MAX_N 5000

/* The fixed workload: puts and deletes, two batches, one explicit flush
 * and one full compaction at fixed places. */
static void sweep_op(uint64_t *rng, int i, op *o)
{
    if (i == 30 || i == 70) {
        op_make_write(rng, SWEEP_SEED, i, OP_BATCH, o);
    } else if (i == 45) {
        *o = (op){.kind = OP_FLUSH};
    } else if (i == 60) {
        *o = (op){.kind = OP_COMPACT};
    } else {
        op_kind k = test_rng_next(rng) % 100 < 80 ? OP_PUT : OP_DELETE;
        op_make_write(rng, SWEEP_SEED, i, k, o);
    }
}

typedef struct sweep_config {
    fault_kind kind;
    lsm_sched sched;
    int sync;
    bool sticky;
    /* Only calls on paths ending in suffix count (NULL: every call). */
    const char *suffix;
    /* manifest_rewrite_bytes of the workload (0: the default, which it
     * never reaches): small, the manifest is rewritten every few records
     * and the sweep reaches every call of a rewrite. */
    uint64_t rewrite_bytes;
} sweep_config;

/* Counts LSM_EVENT_WARNING: how a failed manifest rewrite is reported (it
 * fails no call; the old manifest stays in use). */
static void warning_counter_cb(void *ctx, const lsm_event *ev)
{
    if (ev->type == LSM_EVENT_WARNING)
        ++*(size_t *)ctx;
}

/* Deleting a flushed WAL or an obsolete SST is cleanup that open redoes,
 * so the engine may ignore its failure; a failure of every other kind
 * loses durability if no call reports it. */
static bool kind_must_be_reported(fault_kind kind)
{
    return kind != FAULT_UNLINK;
}

static const char *sched_name(lsm_sched s)
{
    return s == LSM_SCHED_INLINE ? "inline" : "threads";
}

/* Runs the workload with the nth call of the sweep's kind failing and
 * checks the recovered database. Returns whether the fault fired. */
static bool sweep_run(const sweep_config *cfg, uint64_t nth,
                      uint64_t *calls_seen)
{
    char what[160];
    snprintf(what, sizeof what, "%s%s%s N=%" PRIu64 " %s sync=%d",
             fault_kind_name(cfg->kind), cfg->suffix ? " of *" : "",
             cfg->suffix ? cfg->suffix : "", nth, sched_name(cfg->sched),
             cfg->sync);
    char *dir = test_mkdtemp();
    fault_env *fe;
    assert_int_equal(fault_env_new(env_posix(), &fe), LSM_OK);
    if (cfg->suffix)
        fault_env_fail_nth_path(fe, cfg->kind, nth, cfg->suffix);
    else if (cfg->sticky)
        fault_env_fail_from_nth(fe, cfg->kind, nth);
    else
        fault_env_fail_nth(fe, cfg->kind, nth);

    lsm_options opt;
    size_t warnings = 0;
    tiny_options(&opt, cfg->sched, cfg->sync);
    if (cfg->rewrite_bytes)
        opt.manifest_rewrite_bytes = cfg->rewrite_bytes;
    opt.event_cb = warning_counter_cb;
    opt.event_ctx = &warnings;
    model acked = {0};
    op pending;
    bool have_pending = false, any_error = false;
    lsm_db *db = NULL;
    int rc = db_open_env(dir, &opt, fault_env_env(fe), &db);
    if (rc != LSM_OK) {
        any_error = true;
        if (rc != LSM_EIO)
            fail_msg("%s: open failed with %s (%s), not LSM_EIO", what,
                     lsm_strerror(rc), lsm_errmsg());
    } else {
        uint64_t rng = SWEEP_SEED;
        for (int i = 0; i < SWEEP_OPS; i++) {
            op o;
            sweep_op(&rng, i, &o);
            rc = op_apply_db(db, &o);
            if (rc == LSM_OK) {
                model_apply(&acked, &o);
                continue;
            }
            if (rc != LSM_EIO)
                fail_msg("%s: op %d failed with %s (%s), not LSM_EIO", what, i,
                         lsm_strerror(rc), lsm_errmsg());
            any_error = true;
            if (op_is_write(&o)) {
                pending = o;
                have_pending = true;
            }
            break;
        }
        rc = lsm_close(db);
        if (rc != LSM_OK && rc != LSM_EIO)
            fail_msg("%s: close failed with %s (%s)", what, lsm_strerror(rc),
                     lsm_errmsg());
        any_error |= rc != LSM_OK;
    }
    bool fired = fault_env_fired(fe) > 0;
    *calls_seen = fault_env_count(fe, cfg->kind);
    fault_env_free(fe);
    if (fired && !any_error && warnings == 0 &&
        kind_must_be_reported(cfg->kind))
        fail_msg("%s: the injected failure was reported by no call and no "
                 "warning",
                 what);
    if (!fired && any_error)
        fail_msg("%s: a call failed but no fault fired", what);

    model got;
    recover_with_posix(dir, what, &got);
    check_acked_or_pending(what, &got, &acked, have_pending ? &pending : NULL);
    assert_int_equal(test_rmtree(dir), 0);
    free(dir);
    return fired;
}

/* N = 1, 2, ... until a run fires no fault. */
static void test_fault_sweep(void **state)
{
    const sweep_config *cfg = *state;
    uint64_t nth, calls = 0, max_calls = 0;
    const char *only = getenv("LSM_TEST_SWEEP_N");
    if (only && *only) {
        sweep_run(cfg, strtoull(only, NULL, 10), &calls);
        return;
    }
    for (nth = 1; nth < SWEEP_MAX_N; nth++) {
        bool fired = sweep_run(cfg, nth, &calls);
        if (calls > max_calls)
            max_calls = calls;
        if (!fired)
            break;
    }
    assert_true(nth < SWEEP_MAX_N);
    /* The workload must have reached the kind at all. */
    assert_true(nth > 1);
    if (verbose())
        print_message("sweep %s%s %s sync=%d: N=1..%" PRIu64
                      " faulted, N=%" PRIu64 " ran clean (%" PRIu64 " calls)\n",
                      fault_kind_name(cfg->kind), cfg->sticky ? " sticky" : "",
                      sched_name(cfg->sched), cfg->sync, nth - 1, nth,
                      max_calls);
}

/* --- 2. latched errors ---------------------------------------------------- */

/* The put numbered i of the latched-error tests: a pure function of i. */
static void op_numbered(int i, op *o)
{
    uint64_t rng = (uint64_t)i;
    *o = (op){.kind = OP_PUT, .n_entries = 1};
    o->e[0].key = i % N_KEYS;
    o->e[0].is_put = true;
    value_make(&rng, 0x1a7c4ed, i, 0, &o->e[0]);
}

static int put_numbered(lsm_db *db, int i, model *m)
{
    op o;
    op_numbered(i, &o);
    int rc = op_apply_db(db, &o);
    if (rc == LSM_OK)
        model_apply(m, &o);
    return rc;
}

static void expect_rc(const char *what, const char *call, int rc, int want)
{
    if (rc != want)
        fail_msg("%s: %s returned %s, expected %s", what, call,
                 lsm_strerror(rc), lsm_strerror(want));
}

/* Every way to change the tree must now report the latched error, with
 * the message of the failure that latched it; reads still work. */
static void expect_latched(lsm_db *db, const char *what, const char *suffix,
                           const model *m)
{
    char key[16];
    size_t nkey = key_name(0, key);
    expect_rc(what, "lsm_put", lsm_put(db, key, nkey, "x", 1), LSM_EIO);
    if (!strstr(lsm_errmsg(), suffix))
        fail_msg("%s: the latched message \"%s\" does not name the %s file",
                 what, lsm_errmsg(), suffix);
    expect_rc(what, "lsm_delete", lsm_delete(db, key, nkey), LSM_EIO);
    lsm_batch *b;
    assert_int_equal(lsm_batch_new(&b), LSM_OK);
    assert_int_equal(lsm_batch_put(b, key, nkey, "y", 1), LSM_OK);
    expect_rc(what, "lsm_write", lsm_write(db, b), LSM_EIO);
    lsm_batch_free(b);
    expect_rc(what, "lsm_flush", lsm_flush(db), LSM_EIO);
    model now;
    db_read_all(db, &now);
    if (!model_equal(&now, m)) {
        model_print_diff(m, &now);
        fail_msg("%s: reads after a latched error disagree with the writes",
                 what);
    }
}

static void reopen_and_check(const char *dir, const char *what,
                             const model *acked)
{
    model got;
    recover_with_posix(dir, what, &got);
    check_acked_or_pending(what, &got, acked, NULL);
}

/* Notes LSM_EVENT_BACKGROUND_ERROR (from the flush thread in threads mode),
 * which the engine sends after latching the error. */
typedef struct bg_error_seen {
    atomic_int rc; /* 0 until the event came */
} bg_error_seen;

static void bg_error_cb(void *ctx, const lsm_event *ev)
{
    bg_error_seen *seen = ctx;
    if (ev->type == LSM_EVENT_BACKGROUND_ERROR)
        atomic_store(&seen->rc, ev->rc);
}

/* A put crosses the flush trigger; the flush's SST sync fails. The put
 * itself succeeded; every later write returns the error. */
static void test_latched_flush_sync_after_put(void **state)
{
    lsm_sched sched = *(const lsm_sched *)*state;
    char what[96];
    snprintf(what, sizeof what, "%s (%s)", __func__, sched_name(sched));
    char *dir = test_mkdtemp();
    fault_env *fe;
    assert_int_equal(fault_env_new(env_posix(), &fe), LSM_OK);
    fault_env_fail_nth_path(fe, FAULT_SYNC, 1, ".sst");
    lsm_options opt;
    tiny_options(&opt, sched, 0);
    bg_error_seen seen = {0};
    opt.event_cb = bg_error_cb;
    opt.event_ctx = &seen;
    lsm_db *db;
    assert_int_equal(db_open_env(dir, &opt, fault_env_env(fe), &db), LSM_OK);

    model acked = {0};
    int i;
    for (i = 0; i < 400 && fault_env_fired(fe) == 0; i++) {
        int rc = put_numbered(db, i, &acked);
        /* Inline: nothing failed before this put, so it succeeds, even
         * the put whose flush fails. Threads: the flush thread may have
         * latched the failure just before this put. */
        if (sched == LSM_SCHED_INLINE || rc != LSM_OK)
            assert_int_equal(rc, sched == LSM_SCHED_INLINE ? LSM_OK : LSM_EIO);
    }
    /* 400 puts froze many memtables, so the flush thread must reach the
     * fault: wait for it to latch (no timing, only yielding). Inline, the
     * put that crossed the trigger latched it already. */
    while (atomic_load(&seen.rc) == 0) {
        assert_int_equal(sched, LSM_SCHED_THREADS);
        sched_yield();
    }
    assert_int_equal(atomic_load(&seen.rc), LSM_EIO);
    assert_int_equal(fault_env_fired(fe), 1);
    expect_latched(db, what, ".sst", &acked);
    expect_rc(what, "lsm_close", lsm_close(db), LSM_EIO);
    fault_env_free(fe);
    reopen_and_check(dir, what, &acked);
    assert_int_equal(test_rmtree(dir), 0);
    free(dir);
}

/* Opens a database in dir through a new fault env (*fe, freed by the
 * caller) with one memtable that only an explicit flush or close ends
 * (target_sst_size 1 MiB), and puts op_numbered(0..n_puts-1), recording
 * them in *acked. */
static lsm_db *open_one_memtable(const char *dir, lsm_sched sched, int sync,
                                 int n_puts, fault_env **fe, model *acked)
{
    assert_int_equal(fault_env_new(env_posix(), fe), LSM_OK);
    lsm_options opt;
    tiny_options(&opt, sched, sync);
    opt.target_sst_size = 1u << 20;
    lsm_db *db;
    assert_int_equal(db_open_env(dir, &opt, fault_env_env(*fe), &db), LSM_OK);
    memset(acked, 0, sizeof *acked);
    for (int i = 0; i < n_puts; i++)
        assert_int_equal(put_numbered(db, i, acked), LSM_OK);
    return db;
}

/* lsm_flush's own SST sync fails: it reports the error and latches it. */
static void test_latched_explicit_flush(void **state)
{
    lsm_sched sched = *(const lsm_sched *)*state;
    char what[96];
    snprintf(what, sizeof what, "%s (%s)", __func__, sched_name(sched));
    char *dir = test_mkdtemp();
    fault_env *fe;
    model acked;
    lsm_db *db = open_one_memtable(dir, sched, 0, 30, &fe, &acked);
    fault_env_fail_nth_path(fe, FAULT_SYNC, 1, ".sst");
    expect_rc(what, "the failing lsm_flush", lsm_flush(db), LSM_EIO);
    assert_int_equal(fault_env_fired(fe), 1);
    expect_latched(db, what, ".sst", &acked);
    expect_rc(what, "lsm_close", lsm_close(db), LSM_EIO);
    fault_env_free(fe);
    reopen_and_check(dir, what, &acked);
    assert_int_equal(test_rmtree(dir), 0);
    free(dir);
}

/* Counts the files of dir whose names end in suffix. */
static int count_files_ending(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    size_t n_suffix = strlen(suffix);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n_name = strlen(e->d_name);
        n += n_name > n_suffix &&
             strcmp(e->d_name + n_name - n_suffix, suffix) == 0;
    }
    closedir(d);
    return n;
}

/* Reads dir through db and fails unless it holds exactly m. */
static void expect_contents(lsm_db *db, const char *what, const model *m)
{
    model now;
    db_read_all(db, &now);
    if (!model_equal(&now, m)) {
        model_print_diff(m, &now);
        fail_msg("%s: reads disagree with the acknowledged writes", what);
    }
}

/* Issue 13, case 8: a database whose memtables are in their WALs (closed
 * with the WAL on, as after a crash) opens on a full disk: open writes
 * nothing it cannot do without (no flush, no manifest record or WAL it
 * cannot make), every acknowledged write reads back, and writes fail with
 * a message saying the disk is full. Once there is space again, the
 * database reopens, takes writes, and flushes the recovered memtables by
 * the normal path: the first write (inline) or the flush thread. */
static void test_open_on_full_disk(void **state)
{
    lsm_sched sched = *(const lsm_sched *)*state;
    char what[96];
    snprintf(what, sizeof what, "%s (%s)", __func__, sched_name(sched));
    char *dir = test_mkdtemp();
    fault_env *fe;
    assert_int_equal(fault_env_new(env_posix(), &fe), LSM_OK);
    lsm_options opt;
    tiny_options(&opt, sched, 0);
    lsm_db *db;
    assert_int_equal(db_open_env(dir, &opt, fault_env_env(fe), &db), LSM_OK);
    model acked = {0};
    for (int i = 0; i < 120; i++)
        assert_int_equal(put_numbered(db, i, &acked), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
    int wals = count_files_ending(dir, ".wal");
    assert_true(wals >= 2); /* over the limit once a new memtable starts */

    fault_env_disk_full(fe);
    int rc = db_open_env(dir, &opt, fault_env_env(fe), &db);
    if (rc != LSM_OK)
        fail_msg("%s: open on a full disk failed: %s (%s)", what,
                 lsm_strerror(rc), lsm_errmsg());
    expect_contents(db, what, &acked);
    char key[16];
    size_t nkey = key_name(0, key);
    expect_rc(what, "lsm_put on a full disk", lsm_put(db, key, nkey, "x", 1),
              LSM_EIO);
    if (!strstr(lsm_errmsg(), "No space left on device (the disk is full)"))
        fail_msg("%s: the put's message \"%s\" does not say the disk is "
                 "full",
                 what, lsm_errmsg());
    expect_contents(db, what, &acked);
    assert_int_equal(count_files_ending(dir, ".wal"), wals);
    /* Close reports that writes were refused; the memtables stay in their
     * WALs. */
    expect_rc(what, "lsm_close on a full disk", lsm_close(db), LSM_EIO);
    assert_int_equal(count_files_ending(dir, ".wal"), wals);

    fault_env_clear_faults(fe);
    int ssts = count_files_ending(dir, ".sst");
    assert_int_equal(db_open_env(dir, &opt, fault_env_env(fe), &db), LSM_OK);
    expect_contents(db, what, &acked);
    assert_int_equal(put_numbered(db, 1000, &acked), LSM_OK);
    if (sched == LSM_SCHED_THREADS)
        assert_int_equal(lsm_flush(db), LSM_OK);
    assert_true(count_files_ending(dir, ".sst") > ssts);
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_true(1 + st->n_immutables <= opt.num_memtable_limit);
    lsm_state_free(st);
    expect_contents(db, what, &acked);
    assert_int_equal(lsm_close(db), LSM_OK);
    fault_env_free(fe);
    reopen_and_check(dir, what, &acked);
    assert_int_equal(test_rmtree(dir), 0);
    free(dir);
}

/* Issue 13, case 10: a failed flush or compaction says which one failed
 * and why, in the event and in every later write's error, whether it ran
 * inside a write (inline) or on a background thread. */
static void test_failure_messages_name_the_work(void **state)
{
    lsm_sched sched = *(const lsm_sched *)*state;
    char what[96];
    snprintf(what, sizeof what, "%s (%s)", __func__, sched_name(sched));
    char *dir = test_mkdtemp();
    fault_env *fe;
    assert_int_equal(fault_env_new(env_posix(), &fe), LSM_OK);
    lsm_options opt;
    tiny_options(&opt, sched, 0);
    opt.target_sst_size = 1u << 20; /* flushes only when asked */
    lsm_db *db;
    assert_int_equal(db_open_env(dir, &opt, fault_env_env(fe), &db), LSM_OK);
    model acked = {0};
    for (int i = 0; i < 30; i++)
        assert_int_equal(put_numbered(db, i, &acked), LSM_OK);
    /* The flush of the memtable holding them cannot write its SST. */
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    uint64_t mem_id = st->memtable.memtable_id;
    lsm_state_free(st);
    fault_env_fail_nth_path(fe, FAULT_APPEND, 1, ".sst");
    expect_rc(what, "lsm_flush", lsm_flush(db), LSM_EIO);
    char want[64];
    snprintf(want, sizeof want,
             "flush of memtable %" PRIu64 " to %" PRIu64 ".sst failed: ",
             mem_id, mem_id);
    if (!strstr(lsm_errmsg(), want) || !strstr(lsm_errmsg(), ".sst: injected"))
        fail_msg("%s: \"%s\" does not say \"%s\" and name the file", what,
                 lsm_errmsg(), want);
    char key[16];
    size_t nkey = key_name(0, key);
    expect_rc(what, "lsm_put", lsm_put(db, key, nkey, "x", 1), LSM_EIO);
    if (!strstr(lsm_errmsg(), want))
        fail_msg("%s: the latched \"%s\" does not say \"%s\"", what,
                 lsm_errmsg(), want);
    expect_rc(what, "lsm_close", lsm_close(db), LSM_EIO);

    /* Space again: reopen, then a full compaction's output cannot be
     * written. */
    fault_env_clear_faults(fe);
    assert_int_equal(db_open_env(dir, &opt, fault_env_env(fe), &db), LSM_OK);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(put_numbered(db, 31, &acked), LSM_OK);
    assert_int_equal(lsm_flush(db), LSM_OK);
    fault_env_fail_nth_path(fe, FAULT_APPEND, 1, ".sst");
    expect_rc(what, "lsm_compact_full", lsm_compact_full(db), LSM_EIO);
    if (!strstr(lsm_errmsg(), "compaction into L1 failed: ") ||
        !strstr(lsm_errmsg(), ".sst"))
        fail_msg("%s: \"%s\" does not name the compaction and its file", what,
                 lsm_errmsg());
    lsm_close(db);
    fault_env_free(fe);
    reopen_and_check(dir, what, &acked);
    assert_int_equal(test_rmtree(dir), 0);
    free(dir);
}

/* lsm_close syncs the mutable memtable's WAL (the memtables stay in their
 * logs); when that fsync fails, close reports LSM_EIO naming the log, still
 * frees the handle, and a reopen recovers every acknowledged write from the
 * bytes the log holds. */
static void test_close_wal_sync_fails(void **state)
{
    lsm_sched sched = *(const lsm_sched *)*state;
    char what[96];
    snprintf(what, sizeof what, "%s (%s)", __func__, sched_name(sched));
    char *dir = test_mkdtemp();
    fault_env *fe;
    model acked;
    lsm_db *db = open_one_memtable(dir, sched, 0, 30, &fe, &acked);
    fault_env_fail_nth_path(fe, FAULT_SYNC, 1, ".wal");
    expect_rc(what, "lsm_close", lsm_close(db), LSM_EIO);
    assert_non_null(strstr(lsm_errmsg(), ".wal"));
    assert_int_equal(fault_env_fired(fe), 1);
    fault_env_free(fe);
    reopen_and_check(dir, what, &acked);
    assert_int_equal(test_rmtree(dir), 0);
    free(dir);
}

/* lsm_flush's freeze syncs the mutable memtable's WAL and records in the
 * MANIFEST how long it is, then fails to create the next WAL. The memtable
 * stays mutable, so a write acknowledged after that would go to the old
 * WAL past the recorded length, where a reopen does not read. Every write
 * acknowledged after the failure must survive a reopen (the engine may
 * refuse them instead). */
static void test_freeze_fails_after_its_record(void **state)
{
    lsm_sched sched = *(const lsm_sched *)*state;
    char what[96];
    snprintf(what, sizeof what, "%s (%s)", __func__, sched_name(sched));
    char *dir = test_mkdtemp();
    fault_env *fe;
    model acked;
    lsm_db *db = open_one_memtable(dir, sched, 0, 20, &fe, &acked);
    fault_env_fail_nth_path(fe, FAULT_CREATE, 1, ".wal");
    expect_rc(what, "the failing lsm_flush", lsm_flush(db), LSM_EIO);
    assert_int_equal(fault_env_fired(fe), 1);
    for (int i = 20; i < 30; i++)
        (void)put_numbered(db, i, &acked); /* acked only if it succeeds */
    (void)lsm_close(db);
    fault_env_free(fe);
    reopen_and_check(dir, what, &acked);
    assert_int_equal(test_rmtree(dir), 0);
    free(dir);
}

typedef struct wal_fault {
    fault_kind kind; /* FAULT_APPEND or FAULT_SYNC, on a .wal */
    int sync;
    lsm_sched sched;
} wal_fault;

/* A WAL append (which writes half its record) or a WAL sync fails: that
 * write fails, every later one too, and a reopen holds the acknowledged
 * writes (the failed one whole or not at all). */
static void test_latched_wal_failure(void **state)
{
    const wal_fault *wf = *state;
    char what[96];
    snprintf(what, sizeof what, "WAL %s failure (%s, sync=%d)",
             fault_kind_name(wf->kind), sched_name(wf->sched), wf->sync);
    char *dir = test_mkdtemp();
    fault_env *fe;
    model acked;
    lsm_db *db = open_one_memtable(dir, wf->sched, wf->sync, 20, &fe, &acked);
    fault_env_fail_nth_path(fe, wf->kind, 3, ".wal");
    assert_int_equal(put_numbered(db, 20, &acked), LSM_OK);
    assert_int_equal(put_numbered(db, 21, &acked), LSM_OK);
    model before_failure = acked;
    assert_int_equal(put_numbered(db, 22, &acked), LSM_EIO);
    assert_non_null(strstr(lsm_errmsg(), ".wal"));
    assert_int_equal(fault_env_fired(fe), 1);
    assert_true(model_equal(&acked, &before_failure));
    expect_latched(db, what, ".wal", &acked);
    int rc = lsm_close(db);
    assert_true(rc == LSM_OK || rc == LSM_EIO);
    fault_env_free(fe);

    model got;
    op failed;
    op_numbered(22, &failed);
    recover_with_posix(dir, what, &got);
    check_acked_or_pending(what, &got, &acked, &failed);
    assert_int_equal(test_rmtree(dir), 0);
    free(dir);
}

/* A child crashes right after a WAL append failed half-way (sync on, so
 * every earlier record is durable): the log ends in a torn record. Returns
 * after the child is gone. The puts are op_numbered(0..n_ok-1). */
static void crash_after_torn_wal_append(const char *dir, int n_ok)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fault_env *fe;
        lsm_options opt;
        lsm_db *db;
        model m = {0};
        if (fault_env_new(env_posix(), &fe) != LSM_OK)
            _exit(10);
        tiny_options(&opt, LSM_SCHED_INLINE, 1);
        opt.target_sst_size = 1u << 20; /* one memtable, one WAL */
        if (db_open_env(dir, &opt, fault_env_env(fe), &db) != LSM_OK)
            _exit(11);
        for (int i = 0; i < n_ok; i++)
            if (put_numbered(db, i, &m) != LSM_OK)
                _exit(12);
        fault_env_fail_nth_path(fe, FAULT_APPEND, 1, ".wal");
        if (put_numbered(db, n_ok, &m) != LSM_EIO)
            _exit(13);
        _exit(0); /* no close: the torn record stays */
    }
    int wstatus;
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), 0);
}

/* Records what recovery reported. */
typedef struct recovery_seen {
    int n_warnings;
    char warning[256];
    size_t n_wals_recovered;
    int n_recovered_events;
} recovery_seen;

static void recovery_seen_cb(void *ctx, const lsm_event *ev)
{
    recovery_seen *seen = ctx;
    if (ev->type == LSM_EVENT_WARNING) {
        seen->n_warnings++;
        snprintf(seen->warning, sizeof seen->warning, "%s",
                 ev->message ? ev->message : "");
    } else if (ev->type == LSM_EVENT_RECOVERED) {
        seen->n_recovered_events++;
        seen->n_wals_recovered = ev->n_wals_recovered;
    }
}

static void largest_wal_path(const char *dir, char *out, size_t n_out)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    off_t best = -1;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        size_t len = strlen(ent->d_name);
        if (len < 5 || strcmp(ent->d_name + len - 4, ".wal") != 0)
            continue;
        char *path = test_path(dir, ent->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && st.st_size > best) {
            best = st.st_size;
            snprintf(out, n_out, "%s", path);
        }
        free(path);
    }
    closedir(d);
    assert_true(best > 0);
}

/* Creating a database fsyncs the parent directory once the database
 * directory exists, so the new directory's entry (and with it every file
 * synced in it later) survives a power cut (issue 13, case 9). A failure of
 * that fsync fails the open, naming the parent; opening an existing
 * database does not sync the parent at all. */
static void test_new_database_syncs_parent(void **state)
{
    (void)state;
    char *parent = test_mkdtemp();
    char *dir = test_path(parent, "db");
    const char *parent_name = strrchr(parent, '/') + 1;
    fault_env *fe;
    assert_int_equal(fault_env_new(env_posix(), &fe), LSM_OK);
    lsm_db *db = NULL;

    /* The parent's only fsync is that of the creation: fail it. */
    fault_env_fail_nth_path(fe, FAULT_SYNC_DIR, 1, parent_name);
    assert_int_equal(db_open_env(dir, NULL, fault_env_env(fe), &db), LSM_EIO);
    assert_int_equal(fault_env_fired(fe), 1);
    assert_non_null(strstr(lsm_errmsg(), parent));
    assert_null(db);

    /* The directory is there now: opening it is no creation, and the
     * parent is left alone (the armed rule never fires). */
    fault_env_fail_nth_path(fe, FAULT_SYNC_DIR, 1, parent_name);
    assert_int_equal(db_open_env(dir, NULL, fault_env_env(fe), &db), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_int_equal(fault_env_fired(fe), 1);

    /* Another creation syncs the parent once, not twice (a rule on the
     * second parent sync never fires). */
    char *other = test_path(parent, "other");
    fault_env_fail_nth_path(fe, FAULT_SYNC_DIR, 2, parent_name);
    assert_int_equal(db_open_env(other, NULL, fault_env_env(fe), &db), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_int_equal(fault_env_fired(fe), 1);
    fault_env_free(fe);
    assert_int_equal(test_rmtree(parent), 0);
    free(other);
    free(dir);
    free(parent);
}

/* The half-written record of a failed append is a torn tail: reopening
 * cuts it with a warning naming the log, replays everything before it and
 * not the failed write. */
static void test_torn_wal_tail_after_failed_append(void **state)
{
    (void)state;
    char *dir = test_mkdtemp();
    crash_after_torn_wal_append(dir, 12);
    model acked = {0};
    for (int i = 0; i < 12; i++) {
        op o;
        op_numbered(i, &o);
        model_apply(&acked, &o);
    }
    recovery_seen seen = {0};
    lsm_options opt;
    tiny_options(&opt, LSM_SCHED_INLINE, 0);
    opt.event_cb = recovery_seen_cb;
    opt.event_ctx = &seen;
    lsm_db *db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_int_equal(seen.n_recovered_events, 1);
    assert_true(seen.n_wals_recovered >= 1);
    assert_int_equal(seen.n_warnings, 1);
    if (!strstr(seen.warning, ".wal"))
        fail_msg("the torn-tail warning does not name the log: %s",
                 seen.warning);
    model got;
    db_read_all(db, &got);
    assert_int_equal(lsm_close(db), LSM_OK);
    check_acked_or_pending("torn WAL tail", &got, &acked, NULL);
    assert_int_equal(test_rmtree(dir), 0);
    free(dir);
}

/* A bad byte in the first record, with whole records after it, is not a
 * torn tail: opening fails with LSM_ECORRUPT naming the log, and changes
 * nothing (a second attempt fails the same way). */
static void test_wal_corruption_before_tail(void **state)
{
    (void)state;
    char *dir = test_mkdtemp();
    crash_after_torn_wal_append(dir, 12);
    char wal_path[512];
    largest_wal_path(dir, wal_path, sizeof wal_path);
    int fd = open(wal_path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char byte;
    const off_t offset = 12 + 10; /* inside the first record's payload */
    assert_int_equal(pread(fd, &byte, 1, offset), 1);
    byte ^= 0x40;
    assert_int_equal(pwrite(fd, &byte, 1, offset), 1);
    close(fd);
    for (int attempt = 0; attempt < 2; attempt++) {
        lsm_db *db = NULL;
        assert_int_equal(lsm_open(dir, NULL, &db), LSM_ECORRUPT);
        assert_null(db);
        if (!strstr(lsm_errmsg(), ".wal"))
            fail_msg("the corruption message does not name the log: %s",
                     lsm_errmsg());
    }
    assert_int_equal(test_rmtree(dir), 0);
    free(dir);
}

/* --- 3. power cuts -------------------------------------------------------- */

#define CUT_OPS_PER_ROUND 160
#define CUT_ROUNDS 8
#define CUT_SEEDS 3

typedef enum cut_type {
    CUT_BETWEEN_OPS, /* fault_env_power_cut after op at_op - 1 */
    CUT_AT_IO,       /* in place of the nth call of kind */
    CUT_PROCESS_ONLY /* no power cut: _exit only, as kill -9 */
} cut_type;

typedef struct cut_plan {
    cut_type type;
    int at_op;
    fault_kind kind;
    uint64_t nth;
    fault_cut_mode mode;
    uint64_t cut_seed;
} cut_plan;

typedef struct cut_config {
    int sync;
    lsm_sched sched;
    bool torn; /* power cuts keep random prefixes of unsynced bytes */
} cut_config;

static uint64_t round_tag(uint64_t seed, int round)
{
    return seed * 1000 + (uint64_t)round;
}

/* The operations of one round: a pure function of (seed, round). */
static void cut_round_op(uint64_t *rng, uint64_t tag, int i, op *o)
{
    uint64_t r = test_rng_next(rng) % 100;
    if (r < 68)
        op_make_write(rng, tag, i, OP_PUT, o);
    else if (r < 84)
        op_make_write(rng, tag, i, OP_DELETE, o);
    else if (r < 94)
        op_make_write(rng, tag, i, OP_BATCH, o);
    else if (r < 98)
        *o = (op){.kind = OP_FLUSH};
    else
        *o = (op){.kind = OP_COMPACT};
}

static void cut_plan_make(uint64_t *rng, const cut_config *cfg, cut_plan *p)
{
    static const fault_kind io_kinds[] = {FAULT_APPEND, FAULT_SYNC,
                                          FAULT_CREATE, FAULT_SYNC_DIR};
    static const uint64_t io_spread[] = {300, 120, 12, 12};
    uint64_t r = test_rng_next(rng) % 100;
    *p = (cut_plan){.mode = cfg->torn ? FAULT_CUT_KEEP_TORN
                                      : FAULT_CUT_DROP_UNSYNCED,
                    .cut_seed = test_rng_next(rng)};
    if (r < 45) {
        p->type = CUT_BETWEEN_OPS;
        p->at_op = (int)(test_rng_next(rng) % (CUT_OPS_PER_ROUND + 1));
    } else if (r < 90) {
        size_t k = test_rng_next(rng) % 4;
        p->type = CUT_AT_IO;
        p->kind = io_kinds[k];
        p->nth = 1 + test_rng_next(rng) % io_spread[k];
    } else {
        p->type = CUT_PROCESS_ONLY;
        p->at_op = (int)(test_rng_next(rng) % (CUT_OPS_PER_ROUND + 1));
    }
}

static void child_report(int fd, char c)
{
    ssize_t n;
    do {
        n = write(fd, &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1)
        _exit(20);
}

/* The child: recovers dir through a fault env, runs the round and loses
 * power (or just dies) without closing. Reports 'A' (acknowledged) or 'F'
 * (failed) per operation on fd. Exit status 0, or a code saying what went
 * wrong that should not have. Never returns. */
static void cut_child(const char *dir, const cut_config *cfg,
                      const cut_plan *plan, uint64_t tag, int fd)
{
    fault_env *fe;
    if (fault_env_new(env_posix(), &fe) != LSM_OK)
        _exit(10);
    if (plan->type == CUT_AT_IO)
        fault_env_cut_nth(fe, plan->kind, plan->nth, plan->mode,
                          plan->cut_seed);
    lsm_options opt;
    tiny_options(&opt, cfg->sched, cfg->sync);
    /* Rewrites while writing too (not only at open), so that cuts land in
     * every phase of one. */
    opt.manifest_rewrite_bytes = 256;
    lsm_db *db;
    if (db_open_env(dir, &opt, fault_env_env(fe), &db) != LSM_OK)
        _exit(fault_env_is_cut(fe) ? 0 : 11);
    uint64_t rng = tag;
    for (int i = 0; i < CUT_OPS_PER_ROUND; i++) {
        if (plan->type != CUT_AT_IO && i == plan->at_op)
            break;
        op o;
        cut_round_op(&rng, tag, i, &o);
        int rc = op_apply_db(db, &o);
        child_report(fd, rc == LSM_OK ? 'A' : 'F');
        if (rc != LSM_OK) {
            if (!fault_env_is_cut(fe))
                _exit(12);
            break;
        }
    }
    if (plan->type != CUT_PROCESS_ONLY &&
        fault_env_power_cut_mode(fe, plan->mode, plan->cut_seed) != LSM_OK)
        _exit(13);
    _exit(0);
}

/* Copies the regular files of directory from into the new directory to. */
static void copy_dir(const char *from, const char *to)
{
    assert_int_equal(mkdir(to, 0755), 0);
    DIR *d = opendir(from);
    assert_non_null(d);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        char *src = test_path(from, ent->d_name);
        struct stat st;
        if (stat(src, &st) == 0 && S_ISREG(st.st_mode)) {
            char *dst = test_path(to, ent->d_name);
            int in = open(src, O_RDONLY),
                out = open(dst, O_WRONLY | O_CREAT, 0644);
            assert_true(in >= 0 && out >= 0);
            char buf[8192];
            ssize_t n;
            while ((n = read(in, buf, sizeof buf)) > 0)
                assert_int_equal(write(out, buf, (size_t)n), n);
            assert_int_equal(n, 0);
            close(in);
            close(out);
            free(dst);
        }
        free(src);
    }
    closedir(d);
}

/* Runs one round in a child and returns, in status[], one byte per
 * operation it ran ('A' or 'F'); *n_status is their number. */
static void cut_round_run(const char *dir, const cut_config *cfg,
                          const cut_plan *plan, uint64_t tag, char *status,
                          int *n_status)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        cut_child(dir, cfg, plan, tag, fds[1]);
    }
    close(fds[1]);
    *n_status = 0;
    ssize_t n;
    while ((n = read(fds[0], status + *n_status,
                     (size_t)(CUT_OPS_PER_ROUND - *n_status))) > 0)
        *n_status += (int)n;
    close(fds[0]);
    int wstatus;
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
        fail_msg("power-cut child (tag %" PRIx64 ") ended with status %d "
                 "(10: env, 11: open failed, 12: an op failed before the "
                 "cut, 13: the cut itself failed, 20: pipe)",
                 tag, WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
}

/* Checks the recovered contents against the model states after each
 * prefix of the round's operations; returns the longest matching prefix
 * length, or -1. */
static int cut_match_prefix(const model *base, const op *ops, int n_ops,
                            const model *got)
{
    model m = *base;
    int best = model_equal(&m, got) ? 0 : -1;
    for (int i = 0; i < n_ops; i++) {
        model_apply(&m, &ops[i]);
        if (model_equal(&m, got))
            best = i + 1;
    }
    return best;
}

static void cut_one_seed(const cut_config *cfg, uint64_t seed)
{
    char *dir = test_mkdtemp();
    char *scratch = test_path(dir, "recovered");
    char *db_dir = test_path(dir, "db");
    assert_int_equal(mkdir(db_dir, 0755), 0);
    model base = {0};
    uint64_t plan_rng = seed ^ 0xc0ffee ^ (uint64_t)cfg->sync << 32 ^
                        (uint64_t)cfg->sched << 33 ^ (uint64_t)cfg->torn << 34;
    for (int round = 0; round < CUT_ROUNDS; round++) {
        cut_plan plan;
        cut_plan_make(&plan_rng, cfg, &plan);
        uint64_t tag = round_tag(seed, round);
        char status[CUT_OPS_PER_ROUND];
        int n_status;
        cut_round_run(db_dir, cfg, &plan, tag, status, &n_status);

        /* The round's operations, and how many were acknowledged. */
        op ops[CUT_OPS_PER_ROUND];
        uint64_t rng = tag;
        int n_acked = 0, must_keep = 0, n_ops = n_status;
        for (int i = 0; i < n_status; i++) {
            cut_round_op(&rng, tag, i, &ops[i]);
            if (status[i] == 'A') {
                assert_int_equal(n_acked, i); /* nothing after a failure */
                n_acked++;
                if (ops[i].kind == OP_FLUSH)
                    must_keep = i + 1;
            }
        }
        if (cfg->sync || plan.type == CUT_PROCESS_ONLY)
            must_keep = n_acked;

        char where[64], what[200];
        if (plan.type == CUT_AT_IO)
            snprintf(where, sizeof where, "cut in place of %s call #%" PRIu64,
                     fault_kind_name(plan.kind), plan.nth);
        else
            snprintf(where, sizeof where, "%s after %d ops",
                     plan.type == CUT_BETWEEN_OPS ? "cut" : "process crash",
                     plan.at_op);
        snprintf(what, sizeof what,
                 "power cut seed %" PRIu64 " round %d (%s sync=%d %s, %s, "
                 "%d acked)",
                 seed, round, sched_name(cfg->sched), cfg->sync,
                 cfg->torn ? "torn" : "drop", where, n_acked);
        copy_dir(db_dir, scratch);
        model got;
        recover_with_posix(scratch, what, &got);
        assert_int_equal(test_rmtree(scratch), 0);

        int p = cut_match_prefix(&base, ops, n_ops, &got);
        if (p < must_keep) {
            print_message("%s: recovered state %s (need a prefix of at "
                          "least %d ops)\n",
                          what,
                          p < 0 ? "matches no prefix of the operations"
                                : "lost acknowledged writes",
                          must_keep);
            model want = base;
            for (int i = 0; i < must_keep; i++)
                model_apply(&want, &ops[i]);
            model_print_diff(&want, &got);
            fail();
        }
        if (verbose())
            print_message("  %s: recovered prefix %d\n", what, p);
        base = got;
    }
    assert_int_equal(test_rmtree(dir), 0);
    free(db_dir);
    free(scratch);
    free(dir);
}

static void test_power_cut(void **state)
{
    const cut_config *cfg = *state;
    for (uint64_t seed = 1; seed <= CUT_SEEDS; seed++)
        cut_one_seed(cfg, seed);
}

/* --- the fault env itself ------------------------------------------------- */

/* The env's own bookkeeping, checked on plain files: counts, one-shot and
 * sticky rules, and what a power cut keeps. */
static void test_fault_env_basics(void **state)
{
    (void)state;
    char *dir = test_mkdtemp();
    char *a = test_path(dir, "a.wal"), *b = test_path(dir, "b.sst");
    fault_env *fe;
    assert_int_equal(fault_env_new(env_posix(), &fe), LSM_OK);
    env *e = fault_env_env(fe);

    env_file *fa, *fb;
    assert_int_equal(e->open_write(e, a, &fa), LSM_OK);
    assert_int_equal(e->sync_dir(e, dir), LSM_OK); /* a's creation durable */
    assert_int_equal(e->open_write(e, b, &fb), LSM_OK);
    assert_int_equal(fault_env_count(fe, FAULT_CREATE), 2);

    assert_int_equal(file_append(fa, "0123456789", 10), LSM_OK);
    assert_int_equal(file_sync(fa), LSM_OK);
    assert_int_equal(file_append(fa, "abcdef", 6), LSM_OK);
    assert_int_equal(file_append(fb, "xyz", 3), LSM_OK);
    assert_int_equal(file_sync(fb), LSM_OK); /* synced, never sync_dir'd */

    /* One-shot: the 2nd append fails (writing half), the 3rd succeeds. */
    fault_env_fail_nth(fe, FAULT_APPEND, 2);
    assert_int_equal(file_append(fa, "AA", 2), LSM_OK);
    assert_int_equal(file_append(fa, "BBBB", 4), LSM_EIO);
    assert_non_null(strstr(lsm_errmsg(), "a.wal"));
    assert_int_equal(file_append(fa, "CC", 2), LSM_OK);
    assert_int_equal(fault_env_fired(fe), 1);
    uint64_t size;
    assert_int_equal(file_size(fa, &size), LSM_OK);
    assert_int_equal(size, 10 + 6 + 2 + 2 + 2);

    /* Sticky, path-filtered rules. */
    fault_env_fail_from_nth(fe, FAULT_SYNC, 2);
    assert_int_equal(file_sync(fb), LSM_OK);
    assert_int_equal(file_sync(fb), LSM_EIO);
    assert_int_equal(file_sync(fa), LSM_EIO);
    fault_env_clear_faults(fe);
    fault_env_fail_nth_path(fe, FAULT_SYNC, 1, ".sst");
    assert_int_equal(file_sync(fa), LSM_OK); /* not an .sst: not counted */
    assert_int_equal(file_sync(fb), LSM_EIO);
    assert_int_equal(fault_env_fired(fe), 4);
    assert_int_equal(file_append(fa, "tail", 4), LSM_OK); /* unsynced */

    /* The cut keeps a's synced 22 bytes and removes b. */
    assert_int_equal(fault_env_power_cut(fe), LSM_OK);
    assert_true(fault_env_is_cut(fe));
    assert_int_equal(file_append(fa, "x", 1), LSM_EIO);
    assert_int_equal(file_sync(fa), LSM_EIO);
    file_close(fa);
    file_close(fb);
    struct stat st;
    assert_int_equal(stat(a, &st), 0);
    assert_int_equal(st.st_size, 22);
    assert_int_not_equal(stat(b, &st), 0);
    fault_env_free(fe);

    /* A pre-existing file counts as durable; a torn cut keeps at least its
     * synced bytes and at most what was written. */
    assert_int_equal(fault_env_new(env_posix(), &fe), LSM_OK);
    e = fault_env_env(fe);
    assert_int_equal(e->open_append(e, a, &fa), LSM_OK);
    assert_int_equal(file_append(fa, "0123456789", 10), LSM_OK);
    fault_env_cut_nth(fe, FAULT_SYNC, 1, FAULT_CUT_KEEP_TORN, 7);
    assert_int_equal(file_sync(fa), LSM_EIO);
    assert_true(fault_env_is_cut(fe));
    file_close(fa);
    assert_int_equal(stat(a, &st), 0);
    assert_true(st.st_size >= 22 && st.st_size <= 32);
    fault_env_free(fe);

    free(a);
    free(b);
    assert_int_equal(test_rmtree(dir), 0);
    free(dir);
}

/* --- the list ------------------------------------------------------------- */

#define SWEEP(kind_, sched_, sync_, sticky_)                                   \
    static const sweep_config sweep_##kind_##_##sched_##_##sync_##_##sticky_ = \
        {.kind = FAULT_##kind_,                                                \
         .sched = LSM_SCHED_##sched_,                                          \
         .sync = sync_,                                                        \
         .sticky = sticky_}

/* The manifest rewritten after every record; the calls on paths
 * ending in suffix fail, one in each run. */
#define REWRITE_SWEEP(name_, kind_, sched_, suffix_)                           \
    static const sweep_config rewrite_##name_##_##sched_ = {                   \
        .kind = FAULT_##kind_,                                                 \
        .sched = LSM_SCHED_##sched_,                                           \
        .suffix = suffix_,                                                     \
        .rewrite_bytes = 1}

SWEEP(APPEND, INLINE, 0, false);
SWEEP(APPEND, THREADS, 0, false);
SWEEP(SYNC, INLINE, 0, false);
SWEEP(SYNC, THREADS, 0, false);
SWEEP(SYNC_DIR, INLINE, 0, false);
SWEEP(SYNC_DIR, THREADS, 0, false);
SWEEP(CREATE, INLINE, 0, false);
SWEEP(CREATE, THREADS, 0, false);
SWEEP(UNLINK, INLINE, 0, false);
SWEEP(UNLINK, THREADS, 0, false);
SWEEP(SYNC, INLINE, 1, false);
SWEEP(APPEND, INLINE, 0, true);
SWEEP(SYNC, INLINE, 1, true);
SWEEP(SYNC, THREADS, 1, true);
REWRITE_SWEEP(create_new, CREATE, INLINE, "/MANIFEST.new");
REWRITE_SWEEP(append_new, APPEND, INLINE, "/MANIFEST.new");
REWRITE_SWEEP(sync_new, SYNC, INLINE, "/MANIFEST.new");
REWRITE_SWEEP(rename_new, RENAME, INLINE, "/MANIFEST.new");
REWRITE_SWEEP(reopen, CREATE, INLINE, "/MANIFEST");
REWRITE_SWEEP(sync_dir, SYNC_DIR, INLINE, NULL);
REWRITE_SWEEP(append_new, APPEND, THREADS, "/MANIFEST.new");
REWRITE_SWEEP(rename_new, RENAME, THREADS, "/MANIFEST.new");
REWRITE_SWEEP(sync_dir, SYNC_DIR, THREADS, NULL);

static const lsm_sched sched_inline = LSM_SCHED_INLINE;
static const lsm_sched sched_threads = LSM_SCHED_THREADS;
static const wal_fault wal_append_fault = {FAULT_APPEND, 0, LSM_SCHED_INLINE};
static const wal_fault wal_sync_fault = {FAULT_SYNC, 1, LSM_SCHED_THREADS};
static const cut_config cut_sync_inline = {1, LSM_SCHED_INLINE, false};
static const cut_config cut_sync_threads = {1, LSM_SCHED_THREADS, true};
static const cut_config cut_nosync_inline = {0, LSM_SCHED_INLINE, false};
static const cut_config cut_nosync_threads = {0, LSM_SCHED_THREADS, false};
static const cut_config cut_sync_inline_torn = {1, LSM_SCHED_INLINE, true};
static const cut_config cut_nosync_inline_torn = {0, LSM_SCHED_INLINE, true};

#define TEST_WITH(name, fn, state)                                             \
    {                                                                          \
        name, fn, NULL, NULL, (void *)(state)                                  \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_env_basics),
        TEST_WITH("sweep append inline", test_fault_sweep,
                  &sweep_APPEND_INLINE_0_false),
        TEST_WITH("sweep append threads", test_fault_sweep,
                  &sweep_APPEND_THREADS_0_false),
        TEST_WITH("sweep sync inline", test_fault_sweep,
                  &sweep_SYNC_INLINE_0_false),
        TEST_WITH("sweep sync threads", test_fault_sweep,
                  &sweep_SYNC_THREADS_0_false),
        TEST_WITH("sweep sync_dir inline", test_fault_sweep,
                  &sweep_SYNC_DIR_INLINE_0_false),
        TEST_WITH("sweep sync_dir threads", test_fault_sweep,
                  &sweep_SYNC_DIR_THREADS_0_false),
        TEST_WITH("sweep create inline", test_fault_sweep,
                  &sweep_CREATE_INLINE_0_false),
        TEST_WITH("sweep create threads", test_fault_sweep,
                  &sweep_CREATE_THREADS_0_false),
        TEST_WITH("sweep unlink inline", test_fault_sweep,
                  &sweep_UNLINK_INLINE_0_false),
        TEST_WITH("sweep unlink threads", test_fault_sweep,
                  &sweep_UNLINK_THREADS_0_false),
        TEST_WITH("sweep sync inline, WAL synced", test_fault_sweep,
                  &sweep_SYNC_INLINE_1_false),
        TEST_WITH("sweep append inline, sticky", test_fault_sweep,
                  &sweep_APPEND_INLINE_0_true),
        TEST_WITH("sweep sync inline, WAL synced, sticky", test_fault_sweep,
                  &sweep_SYNC_INLINE_1_true),
        TEST_WITH("sweep sync threads, WAL synced, sticky", test_fault_sweep,
                  &sweep_SYNC_THREADS_1_true),
        TEST_WITH("rewrite sweep: create MANIFEST.new, inline",
                  test_fault_sweep, &rewrite_create_new_INLINE),
        TEST_WITH("rewrite sweep: append to MANIFEST.new, inline",
                  test_fault_sweep, &rewrite_append_new_INLINE),
        TEST_WITH("rewrite sweep: fsync MANIFEST.new, inline", test_fault_sweep,
                  &rewrite_sync_new_INLINE),
        TEST_WITH("rewrite sweep: rename MANIFEST.new, inline",
                  test_fault_sweep, &rewrite_rename_new_INLINE),
        TEST_WITH("rewrite sweep: open MANIFEST, inline", test_fault_sweep,
                  &rewrite_reopen_INLINE),
        TEST_WITH("rewrite sweep: every sync_dir, inline", test_fault_sweep,
                  &rewrite_sync_dir_INLINE),
        TEST_WITH("rewrite sweep: append to MANIFEST.new, threads",
                  test_fault_sweep, &rewrite_append_new_THREADS),
        TEST_WITH("rewrite sweep: rename MANIFEST.new, threads",
                  test_fault_sweep, &rewrite_rename_new_THREADS),
        TEST_WITH("rewrite sweep: every sync_dir, threads", test_fault_sweep,
                  &rewrite_sync_dir_THREADS),
        TEST_WITH("latched flush sync after put, inline",
                  test_latched_flush_sync_after_put, &sched_inline),
        TEST_WITH("latched flush sync after put, threads",
                  test_latched_flush_sync_after_put, &sched_threads),
        TEST_WITH("latched explicit flush, inline", test_latched_explicit_flush,
                  &sched_inline),
        TEST_WITH("latched explicit flush, threads",
                  test_latched_explicit_flush, &sched_threads),
        TEST_WITH("freeze fails after its record, inline",
                  test_freeze_fails_after_its_record, &sched_inline),
        TEST_WITH("freeze fails after its record, threads",
                  test_freeze_fails_after_its_record, &sched_threads),
        TEST_WITH("close: WAL sync fails, inline", test_close_wal_sync_fails,
                  &sched_inline),
        TEST_WITH("close: WAL sync fails, threads", test_close_wal_sync_fails,
                  &sched_threads),
        TEST_WITH("latched WAL append", test_latched_wal_failure,
                  &wal_append_fault),
        TEST_WITH("latched WAL sync", test_latched_wal_failure,
                  &wal_sync_fault),
        TEST_WITH("open on a full disk, inline", test_open_on_full_disk,
                  &sched_inline),
        TEST_WITH("open on a full disk, threads", test_open_on_full_disk,
                  &sched_threads),
        TEST_WITH("failure messages name the work, inline",
                  test_failure_messages_name_the_work, &sched_inline),
        TEST_WITH("failure messages name the work, threads",
                  test_failure_messages_name_the_work, &sched_threads),
        cmocka_unit_test(test_torn_wal_tail_after_failed_append),
        cmocka_unit_test(test_wal_corruption_before_tail),
        cmocka_unit_test(test_new_database_syncs_parent),
        TEST_WITH("power cut, sync, inline", test_power_cut, &cut_sync_inline),
        TEST_WITH("power cut, sync, inline, torn", test_power_cut,
                  &cut_sync_inline_torn),
        TEST_WITH("power cut, sync, threads, torn", test_power_cut,
                  &cut_sync_threads),
        TEST_WITH("power cut, no sync, inline", test_power_cut,
                  &cut_nosync_inline),
        TEST_WITH("power cut, no sync, inline, torn", test_power_cut,
                  &cut_nosync_inline_torn),
        TEST_WITH("power cut, no sync, threads", test_power_cut,
                  &cut_nosync_threads),
    };
    const char *filter = getenv("LSM_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
