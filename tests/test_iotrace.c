/*
 * test_iotrace.c: the write-path trace (LSM_EVENT_IO, lsm_trace_io)
 * checked against independent witnesses:
 *
 *   - the record env (record_env.h), which sees every file operation the
 *     engine really performs: in inline mode every create, append, fsync,
 *     directory fsync and unlink it saw while the trace was on is one
 *     event, in the same order, with the same sizes (an SST's appends are
 *     one SST_WRITE step with their total); SST unlinks are left out, as
 *     they are LSM_EVENT_SST_DELETED's to report. With the trace off there
 *     is no event at all, though the env sees the same work.
 *   - the MANIFEST itself, read back after the run (lsm_manifest_read):
 *     the k-th traced manifest append is the k-th record appended, which
 *     says what it recorded, so the durability order can be checked: an
 *     SST is fsynced, then the directory, before the manifest record that
 *     names it is appended; a WAL is created (and its name made durable)
 *     only after the record of its memtable, and deleted only after the
 *     record of its memtable's flush (or, for a memtable that stayed empty,
 *     with no append ever made to it).
 *   - in threads mode, where steps of different threads interleave, each
 *     file's own steps still match the env's operations on that file, in
 *     order.
 *
 * Thread safety: the collector locks (threads mode reports from the flush
 * and compaction threads).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include "db/db_int.h"
#include "record_env.h"

#include <inttypes.h>
#include <stdbool.h>

/* --- collecting the trace ------------------------------------------------- */

#define IO_MAX_IDS 32

typedef struct io_event {
    lsm_io_op op;
    char file[RECORD_NAME_BYTES];
    uint64_t size_bytes;
    char reason[512];
    /* manifest steps: what the record says */
    uint64_t memtable_id, new_memtable_id, sst_id;
    size_t n_outputs;
    uint64_t outputs[IO_MAX_IDS];
} io_event;

typedef struct io_log {
    pthread_mutex_t mu;
    io_event *ev;
    size_t n, cap;
    bool bad_event; /* an IO event without a file or a reason */
} io_log;

static void io_log_init(io_log *log)
{
    memset(log, 0, sizeof *log);
    pthread_mutex_init(&log->mu, NULL);
}

static void io_log_free(io_log *log)
{
    free(log->ev);
    pthread_mutex_destroy(&log->mu);
}

static void io_log_cb(void *ctx, const lsm_event *e)
{
    io_log *log = ctx;
    if (e->type != LSM_EVENT_IO)
        return;
    pthread_mutex_lock(&log->mu);
    if (!e->file || !e->reason || !e->reason[0])
        log->bad_event = true;
    if (log->n == log->cap) {
        log->cap = log->cap ? 2 * log->cap : 256;
        log->ev = realloc(log->ev, log->cap * sizeof *log->ev);
        if (!log->ev) {
            perror("realloc");
            exit(1);
        }
    }
    io_event *ev = &log->ev[log->n++];
    memset(ev, 0, sizeof *ev);
    ev->op = e->io_op;
    snprintf(ev->file, sizeof ev->file, "%s", e->file ? e->file : "");
    ev->size_bytes = e->size_bytes;
    snprintf(ev->reason, sizeof ev->reason, "%s", e->reason ? e->reason : "");
    ev->memtable_id = e->memtable_id;
    ev->new_memtable_id = e->new_memtable_id;
    ev->sst_id = e->sst_id;
    ev->n_outputs = e->n_outputs;
    for (size_t i = 0; i < e->n_outputs && i < IO_MAX_IDS; i++)
        ev->outputs[i] = e->outputs[i];
    pthread_mutex_unlock(&log->mu);
}

static const char *op_name(lsm_io_op op)
{
    static const char *const names[] = {
        "?",           "wal_append",      "wal_sync",
        "file_create", "sst_write",       "sst_sync",
        "dir_sync",    "manifest_append", "manifest_sync",
        "file_delete", "file_rename"};
    return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "?";
}

/* --- matching the trace with the env's operations --------------------------
 */

/* The env operation a step is, and whether its file fits the step. */
static record_kind op_kind(lsm_io_op op)
{
    switch (op) {
    case LSM_IO_WAL_APPEND:
    case LSM_IO_SST_WRITE:
    case LSM_IO_MANIFEST_APPEND:
        return RECORD_APPEND;
    case LSM_IO_WAL_SYNC:
    case LSM_IO_SST_SYNC:
    case LSM_IO_MANIFEST_SYNC:
        return RECORD_SYNC;
    case LSM_IO_FILE_CREATE:
        return RECORD_CREATE;
    case LSM_IO_DIR_SYNC:
        return RECORD_SYNC_DIR;
    case LSM_IO_FILE_DELETE:
        return RECORD_UNLINK;
    case LSM_IO_FILE_RENAME:
        return RECORD_RENAME;
    }
    return RECORD_N_KINDS;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool file_fits_op(const io_event *ev)
{
    switch (ev->op) {
    case LSM_IO_WAL_APPEND:
    case LSM_IO_WAL_SYNC:
        return ends_with(ev->file, ".wal");
    case LSM_IO_SST_WRITE:
    case LSM_IO_SST_SYNC:
        return ends_with(ev->file, ".sst");
    case LSM_IO_MANIFEST_APPEND:
    case LSM_IO_MANIFEST_SYNC:
        return strcmp(ev->file, "MANIFEST") == 0 ||
               strcmp(ev->file, "MANIFEST.new") == 0;
    case LSM_IO_DIR_SYNC:
        return ev->file[0] == '\0';
    case LSM_IO_FILE_CREATE:
        return ends_with(ev->file, ".wal") || ends_with(ev->file, ".sst") ||
               strcmp(ev->file, "MANIFEST.new") == 0;
    case LSM_IO_FILE_DELETE:
        return ends_with(ev->file, ".wal") || ends_with(ev->file, ".sst");
    case LSM_IO_FILE_RENAME:
        return strcmp(ev->file, "MANIFEST.new") == 0;
    }
    return false;
}

/* SST deletions are LSM_EVENT_SST_DELETED's, not the trace's. */
static bool op_is_sst_delete(const record_op *op)
{
    return op->kind == RECORD_UNLINK && ends_with(op->name, ".sst");
}

/* Whether the step or operation concerns file (NULL: any). */
static bool event_on(const io_event *ev, const char *file)
{
    return !file || strcmp(ev->file, file) == 0;
}

static bool op_on(const record_op *op, const char *file)
{
    return !file || strcmp(op->name, file) == 0;
}

/* Next operation at or after j on file that the trace must show. */
/* A rewrite reopens the MANIFEST it renamed into place, to append to it:
 * an open, not a creation, which the trace does not report. */
static bool op_is_manifest_reopen(const record_op *op)
{
    return op->kind == RECORD_CREATE && strcmp(op->name, "MANIFEST") == 0;
}

static size_t next_op(const record_op *ops, size_t n_ops, size_t j,
                      const char *file)
{
    while (j < n_ops && (!op_on(&ops[j], file) || op_is_sst_delete(&ops[j]) ||
                         op_is_manifest_reopen(&ops[j])))
        j++;
    return j;
}

/* Compares the steps and the operations on file (NULL: all of them), in
 * order; prints the first difference. Returns whether they match. */
static bool trace_matches(const io_log *log, const record_op *ops, size_t n_ops,
                          const char *file)
{
    size_t j = next_op(ops, n_ops, 0, file);
    for (size_t i = 0; i < log->n; i++) {
        const io_event *ev = &log->ev[i];
        if (!event_on(ev, file))
            continue;
        if (!file_fits_op(ev)) {
            print_message("step %zu: %s of '%s' names the wrong kind of file\n",
                          i, op_name(ev->op), ev->file);
            return false;
        }
        if (j == n_ops || ops[j].kind != op_kind(ev->op) ||
            strcmp(ops[j].name, ev->file) != 0) {
            print_message("step %zu: %s %s (%s), but the env %s%s%s\n", i,
                          op_name(ev->op), ev->file, ev->reason,
                          j == n_ops ? "did nothing more" : "did ",
                          j == n_ops ? "" : record_kind_name(ops[j].kind),
                          j == n_ops ? "" : ops[j].name);
            return false;
        }
        uint64_t bytes = ops[j].size_bytes;
        j = next_op(ops, n_ops, j + 1, file);
        /* An SST's blocks go out in several appends: one step. */
        while (ev->op == LSM_IO_SST_WRITE && j < n_ops &&
               ops[j].kind == RECORD_APPEND &&
               strcmp(ops[j].name, ev->file) == 0) {
            bytes += ops[j].size_bytes;
            j = next_op(ops, n_ops, j + 1, file);
        }
        if (op_kind(ev->op) == RECORD_APPEND && bytes != ev->size_bytes) {
            print_message("step %zu: %s %s of %" PRIu64 " B, but the env "
                          "appended %" PRIu64 " B\n",
                          i, op_name(ev->op), ev->file, ev->size_bytes, bytes);
            return false;
        }
    }
    if (j != n_ops) {
        print_message("the env did %s %s after the last step\n",
                      record_kind_name(ops[j].kind), ops[j].name);
        return false;
    }
    return true;
}

/* --- the workload ------------------------------------------------------------
 */

static void put_key(lsm_db *db, unsigned i, unsigned round)
{
    char key[32], value[64];
    snprintf(key, sizeof key, "key%05u", i);
    snprintf(value, sizeof value, "value-%u-of-round-%u", i, round);
    test_put_str(db, key, value);
}

/* Puts, deletes, a batch, flushes and compactions (inline mode runs them
 * inside these calls; threads mode in the background). */
static void run_workload(lsm_db *db)
{
    for (unsigned round = 0; round < 3; round++)
        for (unsigned i = 0; i < 120; i++)
            put_key(db, (i * 7919u) % 120u, round);
    for (unsigned i = 0; i < 10; i++) {
        char key[32];
        snprintf(key, sizeof key, "key%05u", i);
        assert_int_equal(lsm_delete(db, key, strlen(key)), LSM_OK);
    }
    lsm_batch *b = NULL;
    assert_int_equal(lsm_batch_new(&b), LSM_OK);
    assert_int_equal(lsm_batch_put(b, "b1", 2, "x", 1), LSM_OK);
    assert_int_equal(lsm_batch_put(b, "b2", 2, "y", 1), LSM_OK);
    assert_int_equal(lsm_batch_delete(b, "b3", 2), LSM_OK);
    assert_int_equal(lsm_write(db, b), LSM_OK);
    lsm_batch_free(b);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    put_key(db, 1, 9); /* left in the memtable's WAL at close */
}

static void workload_options(lsm_options *opt, io_log *log)
{
    lsm_options_init(opt);
    opt->target_sst_size = 512;
    opt->num_memtable_limit = 2;
    opt->block_size = 256;
    opt->compaction = LSM_COMPACTION_SIMPLE;
    opt->event_cb = io_log_cb;
    opt->event_ctx = log;
}

/* Counts the steps of one kind. */
static size_t count_steps(const io_log *log, lsm_io_op op)
{
    size_t n = 0;
    for (size_t i = 0; i < log->n; i++)
        n += log->ev[i].op == op;
    return n;
}

/* --- inline mode: the trace is the env's operations ------------------------
 */

/* What one traced run leaves for the checks. */
typedef struct traced_run {
    io_log log;
    size_t manifest_records_before; /* records before the trace began */
    lsm_manifest_record *records;   /* the whole MANIFEST after the run */
    size_t n_records;
} traced_run;

/* Opens dir through a record env, runs the workload with the trace on
 * (close included), checks the trace against the env's operations, and
 * reads the MANIFEST back. */
static void traced_run_inline(const char *dir, int sync, traced_run *run)
{
    record_env *re = NULL;
    lsm_options opt;
    lsm_db *db = NULL;
    memset(run, 0, sizeof *run);
    io_log_init(&run->log);
    workload_options(&opt, &run->log);
    opt.sync = sync;
    assert_int_equal(record_env_new(env_posix(), &re), LSM_OK);
    assert_int_equal(db_open_env(dir, &opt, record_env_env(re), &db), LSM_OK);

    lsm_manifest_record *before = NULL;
    assert_int_equal(
        lsm_manifest_read(db, &before, &run->manifest_records_before), LSM_OK);
    lsm_manifest_free(before, run->manifest_records_before);

    record_env_set_recording(re, true);
    assert_int_equal(lsm_trace_io(db, 1), LSM_OK);
    run_workload(db);
    /* Read now: a reopen would rewrite the MANIFEST to one snapshot. The
     * close (WAL on) appends no record. */
    assert_int_equal(lsm_manifest_read(db, &run->records, &run->n_records),
                     LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
    record_env_set_recording(re, false);

    size_t n_ops;
    const record_op *ops = record_env_ops(re, &n_ops);
    assert_false(run->log.bad_event);
    assert_true(n_ops > 100);
    assert_true(trace_matches(&run->log, ops, n_ops, NULL));
    record_env_free(re);
}

static void traced_run_free(traced_run *run)
{
    lsm_manifest_free(run->records, run->n_records);
    io_log_free(&run->log);
}

static void test_trace_is_what_the_env_saw(void **state)
{
    traced_run run;
    traced_run_inline(*state, 0, &run);
    /* Every kind of step happened. */
    for (lsm_io_op op = LSM_IO_WAL_APPEND; op <= LSM_IO_FILE_DELETE; op++)
        assert_true(count_steps(&run.log, op) > 0);
    traced_run_free(&run);
}

/* With the sync option every write is fsynced before it is acknowledged:
 * by a group commit (one per write here, with a single writer), or by the
 * freeze the write set off. Those fsyncs are steps too. */
static void test_trace_with_sync_option(void **state)
{
    static const char one_write[] = "group commit of 1 write up to seq ";
    traced_run run;
    traced_run_inline(*state, 1, &run);
    const io_log *log = &run.log;
    size_t group_commits = 0;
    for (size_t i = 0; i < log->n; i++) {
        if (log->ev[i].op == LSM_IO_WAL_SYNC &&
            strncmp(log->ev[i].reason, one_write, strlen(one_write)) == 0)
            group_commits++;
        if (log->ev[i].op != LSM_IO_WAL_APPEND)
            continue;
        size_t j = i + 1;
        while (j < log->n && log->ev[j].op != LSM_IO_WAL_APPEND &&
               !(log->ev[j].op == LSM_IO_WAL_SYNC &&
                 strcmp(log->ev[j].file, log->ev[i].file) == 0))
            j++;
        if (j == log->n || log->ev[j].op != LSM_IO_WAL_SYNC)
            fail_msg("step %zu: %s (%s) was never fsynced", i, log->ev[i].file,
                     log->ev[i].reason);
    }
    assert_true(group_commits > count_steps(log, LSM_IO_WAL_APPEND) / 2);
    traced_run_free(&run);
}

/* --- the durability order, against the MANIFEST's own records --------------
 */

/* Index of the last step before `before` with op on file, or SIZE_MAX. */
static size_t last_step(const io_log *log, size_t before, lsm_io_op op,
                        const char *file)
{
    for (size_t i = before; i-- > 0;)
        if (log->ev[i].op == op && strcmp(log->ev[i].file, file) == 0)
            return i;
    return SIZE_MAX;
}

/* Whether a directory fsync lies strictly between steps a and b. */
static bool dir_synced_between(const io_log *log, size_t a, size_t b)
{
    for (size_t i = a + 1; i < b; i++)
        if (log->ev[i].op == LSM_IO_DIR_SYNC)
            return true;
    return false;
}

/* SST id is fsynced, then the directory, before step at. */
static void assert_sst_durable_before(const io_log *log, uint64_t id, size_t at)
{
    char name[32];
    snprintf(name, sizeof name, "%" PRIu64 ".sst", id);
    size_t synced = last_step(log, at, LSM_IO_SST_SYNC, name);
    assert_true(synced != SIZE_MAX);
    assert_true(dir_synced_between(log, synced, at));
}

/* The manifest record of the k-th traced MANIFEST_APPEND, checked against
 * the step's own description of it. */
static const lsm_manifest_record *record_of_step(const traced_run *run,
                                                 size_t k, const io_event *ev)
{
    size_t r = run->manifest_records_before + k;
    assert_true(r < run->n_records);
    const lsm_manifest_record *rec = &run->records[r];
    /* The step's size is the record's size in the file. */
    if (r + 1 < run->n_records)
        assert_int_equal(run->records[r + 1].offset - rec->offset,
                         ev->size_bytes);
    switch (rec->kind) {
    case LSM_MANIFEST_NEW_MEMTABLE:
        assert_int_equal(ev->new_memtable_id, rec->id);
        break;
    case LSM_MANIFEST_FLUSH:
        assert_int_equal(ev->sst_id, rec->id);
        assert_int_equal(ev->memtable_id, rec->id);
        break;
    case LSM_MANIFEST_COMPACTION:
        assert_int_equal(ev->n_outputs, rec->n_added);
        for (size_t i = 0; i < rec->n_added && i < IO_MAX_IDS; i++)
            assert_int_equal(ev->outputs[i], rec->added[i]);
        break;
    case LSM_MANIFEST_NEXT_ID:
    case LSM_MANIFEST_SNAPSHOT: /* written by a rewrite, never appended */
        break;
    }
    return rec;
}

/* A memtable's WAL: created after the record of the memtable (a WAL never
 * exists without a record naming it), its name durable before the first
 * append to it. */
static void assert_wal_created_in_order(const io_log *log, size_t record_sync,
                                        uint64_t memtable_id)
{
    char name[32];
    snprintf(name, sizeof name, "%" PRIu64 ".wal", memtable_id);
    size_t created = SIZE_MAX, first_append = SIZE_MAX;
    for (size_t i = 0; i < log->n; i++) {
        if (strcmp(log->ev[i].file, name) != 0)
            continue;
        if (log->ev[i].op == LSM_IO_FILE_CREATE && created == SIZE_MAX)
            created = i;
        if (log->ev[i].op == LSM_IO_WAL_APPEND && first_append == SIZE_MAX)
            first_append = i;
    }
    assert_true(created != SIZE_MAX);
    assert_true(created > record_sync);
    if (first_append != SIZE_MAX)
        assert_true(dir_synced_between(log, created, first_append));
}

static void test_trace_keeps_durability_order(void **state)
{
    traced_run run;
    traced_run_inline(*state, 0, &run);
    const io_log *log = &run.log;
    size_t k = 0, flushes = 0, compactions = 0;
    for (size_t i = 0; i < log->n; i++) {
        if (log->ev[i].op != LSM_IO_MANIFEST_APPEND)
            continue;
        const lsm_manifest_record *rec = record_of_step(&run, k++, &log->ev[i]);
        /* The append is made durable right away. */
        assert_true(i + 1 < log->n);
        assert_int_equal(log->ev[i + 1].op, LSM_IO_MANIFEST_SYNC);
        if (rec->kind == LSM_MANIFEST_FLUSH) {
            assert_sst_durable_before(log, rec->id, i);
            flushes++;
        } else if (rec->kind == LSM_MANIFEST_COMPACTION) {
            for (size_t a = 0; a < rec->n_added; a++)
                assert_sst_durable_before(log, rec->added[a], i);
            compactions++;
        } else if (rec->kind == LSM_MANIFEST_NEW_MEMTABLE && rec->has_wal) {
            assert_wal_created_in_order(log, i + 1, rec->id);
        }
    }
    assert_true(flushes > 2);
    assert_true(compactions > 1);

    /* A WAL goes only once the manifest says its memtable was flushed, or
     * when nothing was ever written to it. */
    size_t deleted = 0;
    for (size_t i = 0; i < log->n; i++) {
        const io_event *ev = &log->ev[i];
        if (ev->op != LSM_IO_FILE_DELETE || !ends_with(ev->file, ".wal"))
            continue;
        uint64_t id = strtoull(ev->file, NULL, 10);
        bool flushed = false;
        size_t m = 0;
        for (size_t j = 0; j < i; j++) {
            if (log->ev[j].op != LSM_IO_MANIFEST_SYNC)
                continue;
            const lsm_manifest_record *rec =
                &run.records[run.manifest_records_before + m++];
            flushed |= rec->kind == LSM_MANIFEST_FLUSH && rec->id == id;
        }
        if (!flushed)
            assert_int_equal(last_step(log, i, LSM_IO_WAL_APPEND, ev->file),
                             SIZE_MAX);
        deleted++;
    }
    assert_true(deleted > 2);
    traced_run_free(&run);
}

/* --- off means off
 * ------------------------------------------------------------ */

static void test_trace_off_reports_nothing(void **state)
{
    record_env *re = NULL;
    io_log log;
    lsm_options opt;
    lsm_db *db = NULL;
    io_log_init(&log);
    workload_options(&opt, &log);
    assert_int_equal(record_env_new(env_posix(), &re), LSM_OK);
    assert_int_equal(db_open_env(*state, &opt, record_env_env(re), &db),
                     LSM_OK);
    record_env_set_recording(re, true);
    run_workload(db);

    /* On for one put, then off again: exactly that put's append. */
    assert_int_equal(lsm_trace_io(db, 1), LSM_OK);
    put_key(db, 5, 5);
    assert_int_equal(lsm_trace_io(db, 0), LSM_OK);
    put_key(db, 6, 5);
    assert_int_equal(lsm_close(db), LSM_OK);

    size_t n_ops;
    record_env_ops(re, &n_ops);
    assert_true(n_ops > 100);   /* the work was done ... */
    assert_int_equal(log.n, 1); /* ... and only the traced put told */
    assert_int_equal(log.ev[0].op, LSM_IO_WAL_APPEND);
    assert_int_equal(lsm_trace_io(NULL, 1), LSM_EINVAL);
    record_env_free(re);
    io_log_free(&log);
}

/* --- threads mode: each file's steps in its order ------------------------- */

/* The distinct file names the env touched (directory included as ""). */
static size_t distinct_files(const record_op *ops, size_t n_ops,
                             char (*names)[RECORD_NAME_BYTES], size_t cap)
{
    size_t n = 0;
    for (size_t j = 0; j < n_ops; j++) {
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = strcmp(names[i], ops[j].name) == 0;
        if (!seen && n < cap)
            snprintf(names[n++], RECORD_NAME_BYTES, "%s", ops[j].name);
    }
    return n;
}

static void test_trace_in_threads_mode(void **state)
{
    record_env *re = NULL;
    io_log log;
    lsm_options opt;
    lsm_db *db = NULL;
    io_log_init(&log);
    workload_options(&opt, &log);
    opt.sched = LSM_SCHED_THREADS;
    assert_int_equal(record_env_new(env_posix(), &re), LSM_OK);
    assert_int_equal(db_open_env(*state, &opt, record_env_env(re), &db),
                     LSM_OK);
    record_env_set_recording(re, true);
    assert_int_equal(lsm_trace_io(db, 1), LSM_OK);
    run_workload(db);
    assert_int_equal(lsm_close(db), LSM_OK); /* joins the threads */
    record_env_set_recording(re, false);

    size_t n_ops;
    const record_op *ops = record_env_ops(re, &n_ops);
    assert_true(n_ops > 100);
    assert_false(log.bad_event);
    static char names[1024][RECORD_NAME_BYTES];
    size_t n_names = distinct_files(ops, n_ops, names, 1024);
    assert_true(n_names < 1024);
    for (size_t i = 0; i < n_names; i++) {
        if (!trace_matches(&log, ops, n_ops, names[i]))
            fail_msg("the steps on '%s' differ from the env's", names[i]);
    }
    /* And no step names a file the env never touched. */
    for (size_t i = 0; i < log.n; i++) {
        bool known = false;
        for (size_t f = 0; f < n_names && !known; f++)
            known = strcmp(names[f], log.ev[i].file) == 0;
        assert_true(known);
    }
    record_env_free(re);
    io_log_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trace_is_what_the_env_saw,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_trace_with_sync_option,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_trace_keeps_durability_order,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_trace_off_reports_nothing,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_trace_in_threads_mode,
                                        test_dir_setup, test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
