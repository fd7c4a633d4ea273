/*
 * test_crash.c: crash tests of the durability contract (DESIGN.md, 3),
 * through the public API (lsm.h) only.
 *
 * The contract under test: a write is appended to the WAL before it is
 * acknowledged, so with sync off it survives kill -9 of the process; a batch
 * (lsm_write) is atomic, all of it or none of it after any crash; recovery
 * yields a prefix of the acknowledged writes that includes every synced one.
 *
 * How: one database directory per scheduling mode lives through many rounds. In
 * each round a forked writer child opens the database (recovering what the
 * previous round left) with tiny options, so memtables freeze and flush every
 * few writes, and runs a deterministic sequence of operations derived from
 * (seed, operation index) alone: puts, deletes, batches of several keys (some
 * repeated, some deletes, some empty values), empty batches, flushes and full
 * compactions. A batch is written with lsm_write, or (CRASH_TXN_PERCENT of
 * them) as a transaction that also reads its own writes and scans, then
 * commits: a commit is one WAL record, so the checks below hold it to the same
 * contract (all of it or none, never lost once acknowledged). Every value names
 * the operation and batch position that wrote it. After each operation returns
 * LSM_OK the child writes the operation's index to a pipe (one write(2) of 8
 * bytes). The parent kills the child with SIGKILL after a number of
 * acknowledgements chosen per round (0, a few, hundreds), or as soon as the
 * child reports a chosen event (memtable frozen, flush begin/end, compaction
 * begin/end, recovered, or, through the I/O trace, one of the six steps of a
 * MANIFEST rewrite, which the options make happen every few flushes), sometimes
 * with the child blocked inside that event callback so the kill lands exactly
 * there.
 *
 * Checking: the child acknowledges op j before it starts op j+1, so after the
 * kill (and draining the pipe) A acknowledged ops mean ops k0..k0+A-1 are
 * done, op k0+A may or may not have landed, and nothing later started. The
 * parent replays the same sequence into an in-memory model and requires the
 * recovered database to equal the model after exactly A or A+1 of this
 * round's ops (full scan and a get of every key, value bytes exact). That
 * check rejects lost acknowledged writes, writes from nowhere, resurrected
 * deletes and a partly applied in-flight batch. The check runs in a forked
 * checker process that, like a crash, usually exits without lsm_close, so the
 * next writer recovers a recovery. The next round continues from op
 * k0 + (A or A+1), whichever the database showed. Some runs of consecutive
 * puts are written with one lsm_put_many call (put_group_len) and
 * acknowledged together when it returns; when the in-flight op is in such
 * a group, any prefix of the group's puts from it on may have landed, and
 * the candidates run from A to the group's end. Some rounds run with sync
 * on. While a writer is blocked in a callback the parent also checks the
 * LOCK: a second lsm_open must be LSM_EBUSY. After the last round the parent
 * itself recovers, checks, closes cleanly, reopens and checks again, and the
 * state must show every memtable flushed by that close.
 *
 * Environment: LSM_TEST_SEED=<n> (printed on failure with mode and round),
 * LSM_TEST_ROUNDS=<n> kills per mode, LSM_TEST_VERBOSE=1 prints every round
 * and a summary, LSM_TEST_KEEP=1 keeps the directory of a failed run.
 *
 * Thread safety: the test is single-threaded in each process; in threads mode
 * the writer's event callback also runs on the engine's flush thread and
 * touches only atomics and write(2). The region shared between the parent
 * and its children (mmap MAP_SHARED) is written by a child and read by the
 * parent only after that child has died.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define CRASH_DEFAULT_SEED 0x5eedc4a5ull
#define CRASH_DEFAULT_ROUNDS 60 /* kills per scheduling mode */
#define CRASH_SYNC_EVERY 8      /* rounds r with r % 8 == 5 run with sync on */
#define CRASH_SYNC_MAX_ACKS 150 /* sync rounds stay short: fsync per write */
#define CRASH_EVENT_FALLBACK 3000 /* kill anyway if the event never comes */
#define CRASH_CHILD_MAX_OPS 1000000ull
#define CRASH_STALL_MS 120000 /* no acknowledgement for this long: a hang */

#define CRASH_N_KEYS 160u
#define CRASH_HOT_KEYS 20u
#define CRASH_MAX_BATCH 12
#define CRASH_TXN_PERCENT 40 /* batches written as transactions */
#define CRASH_KEY_MAX 64
#define CRASH_VALUE_MAX 2048
#define CRASH_MSG_BYTES 8192
#define CRASH_EV_TYPES 16
#define CRASH_PUT_GROUP_MAX 8 /* puts one lsm_put_many call writes */

/* Pipe messages: an op index, or one of these tagged words. */
#define CRASH_MSG_EVENT                                                        \
    (1ull << 63)                    /* | event type: the planned event came    \
                                     */
#define CRASH_MSG_FAIL (1ull << 62) /* | rc: an operation failed */
#define CRASH_MSG_TAGS (CRASH_MSG_EVENT | CRASH_MSG_FAIL)

/* --- deterministic randomness ------------------------------------------- */

/* The state of an independent stream for (seed, a, b): operation a of the
 * sequence is a function of (seed, a) only, so a child can start anywhere. */
static uint64_t rng_stream(uint64_t seed, uint64_t a, uint64_t b)
{
    return test_mix64(seed ^ test_mix64(a * 0x9E3779B97F4A7C15ull + b + 1));
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return dflt;
    return strtoull(s, NULL, 0);
}

static const char *sched_name(lsm_sched s)
{
    return s == LSM_SCHED_INLINE ? "inline" : "threads";
}

static const char *event_name(int type)
{
    switch (type) {
    case 0:
        return "none";
    case LSM_EVENT_MEMTABLE_FROZEN:
        return "memtable-frozen";
    case LSM_EVENT_FLUSH_BEGIN:
        return "flush-begin";
    case LSM_EVENT_FLUSH_END:
        return "flush-end";
    case LSM_EVENT_COMPACTION_BEGIN:
        return "compaction-begin";
    case LSM_EVENT_COMPACTION_END:
        return "compaction-end";
    case LSM_EVENT_BACKGROUND_ERROR:
        return "background-error";
    case LSM_EVENT_RECOVERED:
        return "recovered";
    case LSM_EVENT_WARNING:
        return "warning";
    case LSM_EVENT_IO:
        return "manifest-rewrite-step";
    }
    return "?";
}

/* The steps of a MANIFEST rewrite, as the trace reports them (lsm.h,
 * LSM_EVENT_IO), numbered in order: 1 MANIFEST.new created, 2 the snapshot
 * appended to it, 3 fsynced, 4 the directory fsynced, 5 MANIFEST.new
 * renamed over MANIFEST, 6 the directory fsynced; 0 for any other step. */
#define CRASH_REWRITE_STEPS 6
static int rewrite_step_of(const lsm_event *ev)
{
    int on_new = ev->file && strcmp(ev->file, "MANIFEST.new") == 0;
    const char *why = ev->reason ? ev->reason : "";
    switch (ev->io_op) {
    case LSM_IO_FILE_CREATE:
        return on_new ? 1 : 0;
    case LSM_IO_MANIFEST_APPEND:
        return on_new ? 2 : 0;
    case LSM_IO_MANIFEST_SYNC:
        return on_new ? 3 : 0;
    case LSM_IO_DIR_SYNC:
        if (strcmp(why, "MANIFEST.new created") == 0)
            return 4;
        return strcmp(why, "MANIFEST replaced") == 0 ? 6 : 0;
    case LSM_IO_FILE_RENAME:
        return 5;
    default:
        return 0;
    }
}

/* --- keys, values and the operation sequence ----------------------------- */

/* Key idx of the universe: "k%04u", and for every fifth key a suffix of
 * 8..36 letters, so key sizes vary. Keys sort in index order. Returns the
 * length; out is not NUL-terminated. */
static size_t crash_key(uint32_t idx, char out[CRASH_KEY_MAX])
{
    char head[8];
    snprintf(head, sizeof(head), "k%04u", idx % 10000u);
    size_t n = strlen(head);
    memcpy(out, head, n);
    if (idx % 5 == 0) {
        size_t extra = 8 + idx % 29;
        for (size_t i = 0; i < extra; i++)
            out[n++] = (char)('a' + (idx + i) % 26);
    }
    return n;
}

/* The universe index of key, or -1 if it is not exactly one of our keys. */
static long crash_key_index(const void *key, size_t nkey)
{
    const char *k = key;
    if (nkey < 5 || k[0] != 'k')
        return -1;
    uint32_t idx = 0;
    for (int i = 1; i < 5; i++) {
        if (k[i] < '0' || k[i] > '9')
            return -1;
        idx = idx * 10 + (uint32_t)(k[i] - '0');
    }
    if (idx >= CRASH_N_KEYS)
        return -1;
    char want[CRASH_KEY_MAX];
    size_t nwant = crash_key(idx, want);
    if (nwant != nkey || memcmp(want, key, nkey) != 0)
        return -1;
    return (long)idx;
}

typedef enum crash_op_type {
    OP_PUT = 0,
    OP_DELETE,
    OP_BATCH,
    OP_FLUSH,
    OP_COMPACT
} crash_op_type;

/* One put or delete; a batch has several. */
typedef struct crash_entry {
    uint32_t key;  /* index into the key universe */
    uint8_t del;   /* 1: delete, 0: put */
    uint8_t empty; /* a put of the empty value */
    uint32_t npad; /* filler bytes after the value's header */
} crash_entry;

typedef struct crash_op {
    crash_op_type type;
    size_t n; /* entries: 1 for a put or delete, 0..12 for a batch */
    crash_entry e[CRASH_MAX_BATCH];
    /* A batch written as a transaction (lsm_txn_commit) instead of
     * lsm_write, at this isolation level; the model is the same. */
    uint8_t as_txn;
    lsm_isolation iso;
    /* A delete with range_end > 0 is lsm_delete_range of keys e[0].key ..
     * range_end - 1 (key indexes sort as the keys do). */
    uint32_t range_end;
} crash_op;

static uint32_t gen_key(uint64_t *s)
{
    if (test_rng_below(s, 2) == 0)
        return (uint32_t)(test_rng_below(s, CRASH_HOT_KEYS) * 7 % CRASH_N_KEYS);
    return (uint32_t)test_rng_below(s, CRASH_N_KEYS);
}

static void gen_put(uint64_t *s, crash_entry *e, int big)
{
    e->del = 0;
    e->empty = !big && test_rng_below(s, 100) < 3;
    uint64_t r = test_rng_below(s, 100);
    if (e->empty)
        e->npad = 0;
    else if (big)
        e->npad = (uint32_t)test_rng_range(s, 800, 1500);
    else if (r < 20)
        e->npad = (uint32_t)test_rng_below(s, 8);
    else if (r < 75)
        e->npad = (uint32_t)test_rng_range(s, 8, 48);
    else if (r < 95)
        e->npad = (uint32_t)test_rng_range(s, 48, 200);
    else
        e->npad = (uint32_t)test_rng_range(s, 200, 700);
}

/* Operation i of the sequence for seed: the same in the child that runs it
 * and in the parent that replays it. */
static void gen_op(uint64_t seed, uint64_t i, crash_op *op)
{
    uint64_t s = rng_stream(seed, i, 0);
    uint64_t r = test_rng_below(&s, 1000);
    memset(op, 0, sizeof(*op));
    if (r < 460) {
        op->type = OP_PUT;
        op->n = 1;
        op->e[0].key = gen_key(&s);
        gen_put(&s, &op->e[0], r >= 440);
    } else if (r < 610) {
        op->type = OP_DELETE;
        op->n = 1;
        op->e[0].key = gen_key(&s);
        op->e[0].del = 1;
        /* From a stream of its own, so the other choices stay what they
         * were before range deletes: a quarter of the deletes cover 1 to
         * 24 keys. */
        uint64_t rs = rng_stream(seed, i, 13);
        if (test_rng_below(&rs, 4) == 0)
            op->range_end =
                op->e[0].key + 1 + (uint32_t)test_rng_below(&rs, 24);
    } else if (r < 980) {
        op->type = OP_BATCH;
        op->n = r < 970 ? (size_t)test_rng_range(&s, 1, CRASH_MAX_BATCH) : 0;
        for (size_t j = 0; j < op->n; j++) {
            crash_entry *e = &op->e[j];
            if (j > 0 && test_rng_below(&s, 100) < 15)
                e->key = op->e[test_rng_below(&s, j)].key; /* same key again */
            else
                e->key = gen_key(&s);
            if (test_rng_below(&s, 100) < 25)
                e->del = 1;
            else
                gen_put(&s, e, 0);
        }
        /* From a stream of its own, so every other choice (and so every
         * seed's sequence of writes) is what it was before transactions. */
        uint64_t ts = rng_stream(seed, i, 7);
        op->as_txn = test_rng_below(&ts, 100) < CRASH_TXN_PERCENT;
        op->iso = (lsm_isolation)test_rng_below(&ts, 2);
    } else if (r < 993) {
        op->type = OP_FLUSH;
    } else {
        op->type = OP_COMPACT;
    }
}

/* How many operations from i on the writer runs with one lsm_put_many
 * call: a run of consecutive puts (up to a length chosen per i), for about
 * half of the puts that start one; 1 for everything else. The parent walks
 * the same groups from the round's first op to know which puts may have
 * landed together. From a stream of its own, so the sequence of writes is
 * what it was before lsm_put_many. */
static size_t put_group_len(uint64_t seed, uint64_t i)
{
    crash_op op;
    gen_op(seed, i, &op);
    uint64_t s = rng_stream(seed, i, 11);
    if (op.type != OP_PUT || test_rng_below(&s, 100) < 50)
        return 1;
    size_t max = (size_t)test_rng_range(&s, 2, CRASH_PUT_GROUP_MAX), g = 1;
    while (g < max) {
        gen_op(seed, i + g, &op);
        if (op.type != OP_PUT)
            break;
        g++;
    }
    return g;
}

/* The value that entry pos of operation op writes to key: a readable header
 * naming the write, then npad deterministic binary bytes. Returns the length
 * (0 for an empty value). */
static size_t crash_value(uint64_t seed, uint64_t op, uint32_t pos,
                          uint32_t key, const crash_entry *e,
                          uint8_t out[CRASH_VALUE_MAX])
{
    if (e->empty)
        return 0;
    int n = snprintf((char *)out, CRASH_VALUE_MAX, "o%" PRIu64 ".p%u.k%u;", op,
                     pos, key);
    size_t len = (size_t)n;
    uint64_t s = rng_stream(seed, op, 1000 + pos);
    for (uint32_t i = 0; i < e->npad && len < CRASH_VALUE_MAX; i++)
        out[len++] = (uint8_t)test_rng_next(&s);
    return len;
}

/* Appends to buf (capacity cap, used *o) without ever running past it. */
static void buf_add(char *buf, size_t cap, size_t *o, const char *fmt, ...)
{
    if (*o + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *o, cap - *o, fmt, ap);
    va_end(ap);
    if (n > 0)
        *o = *o + (size_t)n < cap ? *o + (size_t)n : cap - 1;
}

static void describe_op(const crash_op *op, char *buf, size_t cap)
{
    static const char *names[] = {"put", "delete", "batch", "flush",
                                  "compact_full"};
    size_t o = 0;
    buf[0] = '\0';
    buf_add(buf, cap, &o, "%s", names[op->type]);
    if (op->type == OP_BATCH)
        buf_add(buf, cap, &o, "%s of %zu [",
                !op->as_txn                         ? ""
                : op->iso == LSM_ISOLATION_SNAPSHOT ? " (txn, si)"
                                                    : " (txn, serializable)",
                op->n);
    for (size_t j = 0; j < op->n; j++) {
        const crash_entry *e = &op->e[j];
        const char *kind = op->type != OP_BATCH ? "" : e->del ? "del " : "put ";
        const char *sep = j ? ", " : op->type == OP_BATCH ? "" : " ";
        buf_add(buf, cap, &o, "%s%sk%04u%s", sep, kind, e->key,
                !e->del && e->empty ? " (empty)" : "");
    }
    if (op->range_end)
        buf_add(buf, cap, &o, " .. k%04u (range)", op->range_end);
    if (op->type == OP_BATCH)
        buf_add(buf, cap, &o, "]");
}

/* --- the model ----------------------------------------------------------- */

/* What the database must hold for one key: absent, or the value written by
 * entry pos of operation op. */
typedef struct crash_slot {
    uint8_t present;
    uint32_t pos;
    uint64_t op;
    crash_entry e;
} crash_slot;

typedef struct crash_model {
    crash_slot s[CRASH_N_KEYS];
} crash_model;

static void model_apply(crash_model *m, uint64_t i, const crash_op *op)
{
    for (uint32_t k = op->n ? op->e[0].key : 0; k < op->range_end; k++)
        if (k < CRASH_N_KEYS)
            memset(&m->s[k], 0, sizeof(m->s[k]));
    for (size_t j = 0; j < op->n; j++) {
        const crash_entry *e = &op->e[j];
        crash_slot *sl = &m->s[e->key];
        if (e->del) {
            memset(sl, 0, sizeof(*sl));
        } else {
            sl->present = 1;
            sl->op = i;
            sl->pos = (uint32_t)j;
            sl->e = *e;
        }
    }
}

static int slot_equal(const crash_slot *a, const crash_slot *b)
{
    if (a->present != b->present)
        return 0;
    return !a->present || (a->op == b->op && a->pos == b->pos);
}

static int model_equal(const crash_model *a, const crash_model *b)
{
    for (uint32_t k = 0; k < CRASH_N_KEYS; k++)
        if (!slot_equal(&a->s[k], &b->s[k]))
            return 0;
    return 1;
}

static void describe_slot(const crash_slot *sl, char *buf, size_t cap)
{
    if (!sl->present)
        snprintf(buf, cap, "absent");
    else
        snprintf(buf, cap, "op#%" PRIu64 ".p%u%s", sl->op, sl->pos,
                 sl->e.empty ? "(empty)" : "");
}

/* --- memory shared with the children -------------------------------------- */

/* What the checker found; written by the checker process (or the parent for
 * the in-process checks). */
typedef struct crash_check {
    int done;    /* the check ran to its end */
    int ok;      /* no failure recorded */
    int matched; /* index of the candidate the database equals, or -1 */
    _Atomic uint64_t n_recovered, n_wals_recovered, n_ssts_opened;
    _Atomic uint64_t n_warnings, n_bg_errors;
    atomic_flag warning_taken;
    char warning[160]; /* the first WARNING message */
    size_t msg_len;
    char msg[CRASH_MSG_BYTES];
} crash_check;

typedef struct crash_shared {
    /* Written by the writer child. */
    int child_failed, child_rc;
    uint64_t child_op;
    char child_msg[512];
    _Atomic int held; /* blocked in its event callback, waiting for the kill */
    _Atomic uint64_t child_events[CRASH_EV_TYPES];
    crash_check check;
} crash_shared;

static void check_reset(crash_check *c)
{
    c->done = 0;
    c->ok = 1;
    c->matched = -1;
    atomic_store(&c->n_recovered, 0);
    atomic_store(&c->n_wals_recovered, 0);
    atomic_store(&c->n_ssts_opened, 0);
    atomic_store(&c->n_warnings, 0);
    atomic_store(&c->n_bg_errors, 0);
    atomic_flag_clear(&c->warning_taken);
    c->warning[0] = '\0';
    c->msg_len = 0;
    c->msg[0] = '\0';
}

/* Appends a line to the check's report and marks it failed. */
static void check_note(crash_check *c, int failed, const char *fmt, ...)
{
    if (failed)
        c->ok = 0;
    if (c->msg_len + 2 >= sizeof(c->msg))
        return;
    va_list ap;
    va_start(ap, fmt);
    int n =
        vsnprintf(c->msg + c->msg_len, sizeof(c->msg) - c->msg_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        c->msg_len += (size_t)n;
    if (c->msg_len >= sizeof(c->msg) - 1)
        c->msg_len = sizeof(c->msg) - 1;
    else
        c->msg[c->msg_len++] = '\n', c->msg[c->msg_len] = '\0';
}

/* Clears what a writer child reports, before the next one starts. */
static void shared_reset_writer(crash_shared *sh)
{
    sh->child_failed = 0;
    sh->child_rc = 0;
    sh->child_op = 0;
    sh->child_msg[0] = '\0';
    atomic_store(&sh->held, 0);
    for (int t = 0; t < CRASH_EV_TYPES; t++)
        atomic_store(&sh->child_events[t], 0);
}

/* --- the writer child -------------------------------------------------- */

/* One round's plan, fixed by the parent before the fork. */
typedef struct crash_plan {
    uint64_t k0;         /* the first operation this child runs */
    uint64_t ack_target; /* kill after this many acknowledgements */
    int ev_type;         /* 0, or kill at the ev_nth event of this type */
    int rewrite_step;    /* ev_type LSM_EVENT_IO: the step of a manifest
                            rewrite (rewrite_step_of) that counts */
    uint64_t ev_nth;
    int ev_hold; /* block in that callback until killed */
    int sync;
    lsm_options opt;
    int check_closes; /* the checker closes cleanly instead of vanishing */
    lsm_options check_opt;
} crash_plan;

typedef struct child_ctx {
    const crash_plan *plan;
    crash_shared *sh;
    int ack_fd, hold_fd;
    _Atomic uint64_t n_target_events;
} child_ctx;

/* One 8-byte message; a write of 8 bytes to a pipe is atomic, so the flush
 * thread and the writer never interleave. The parent gone: nothing to do. */
static void child_send(int fd, uint64_t msg)
{
    for (;;) {
        ssize_t n = write(fd, &msg, sizeof(msg));
        if (n == (ssize_t)sizeof(msg))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        _exit(6);
    }
}

/* Waits for the SIGKILL: the parent never writes to the hold pipe, so read
 * returns only at end of file, when the parent itself is gone. */
_Noreturn static void child_wait_for_kill(int hold_fd)
{
    char b;
    while (read(hold_fd, &b, 1) < 0 && errno == EINTR)
        ;
    _exit(5);
}

_Noreturn static void child_fail(child_ctx *c, int rc, uint64_t op,
                                 const char *what)
{
    c->sh->child_failed = 1;
    c->sh->child_rc = rc;
    c->sh->child_op = op;
    snprintf(c->sh->child_msg, sizeof(c->sh->child_msg), "%s: %s (%s)", what,
             lsm_strerror(rc), lsm_errmsg());
    child_send(c->ack_fd, CRASH_MSG_FAIL | (uint64_t)rc);
    _exit(3);
}

/* Counts every event; at the planned one tells the parent (which kills at
 * once) and, if the plan says so, stays here until the kill lands. */
static void child_event_cb(void *ctx, const lsm_event *ev)
{
    child_ctx *c = ctx;
    if ((unsigned)ev->type < CRASH_EV_TYPES)
        atomic_fetch_add(&c->sh->child_events[ev->type], 1);
    if ((int)ev->type != c->plan->ev_type)
        return;
    if (ev->type == LSM_EVENT_IO &&
        rewrite_step_of(ev) != c->plan->rewrite_step)
        return;
    if (atomic_fetch_add(&c->n_target_events, 1) + 1 != c->plan->ev_nth)
        return;
    if (c->plan->ev_hold)
        atomic_store(&c->sh->held, 1);
    child_send(c->ack_fd, CRASH_MSG_EVENT | (uint64_t)ev->type);
    if (c->plan->ev_hold)
        child_wait_for_kill(c->hold_fd);
}

/* A batch as a transaction: its writes, a read of its last key (its own
 * write must answer) and a scan of every key (recorded as read under
 * SERIALIZABLE), then the commit. The child is the only writer, so the
 * commit never conflicts; one that wrote nothing (an empty batch)
 * commits without writing. */
static int child_apply_txn(lsm_db *db, uint64_t seed, uint64_t i,
                           const crash_op *op)
{
    char key[CRASH_KEY_MAX];
    uint8_t val[CRASH_VALUE_MAX];
    size_t nk = 0, nv = 0;
    lsm_txn *t = NULL;
    int rc = lsm_txn_begin(db, op->iso, &t);
    for (size_t j = 0; j < op->n && rc == LSM_OK; j++) {
        const crash_entry *e = &op->e[j];
        nk = crash_key(e->key, key);
        if (e->del) {
            rc = lsm_txn_delete(t, key, nk);
        } else {
            nv = crash_value(seed, i, (uint32_t)j, e->key, e, val);
            rc = lsm_txn_put(t, key, nk, val, nv);
        }
    }
    if (rc == LSM_OK && op->n > 0) {
        void *got = NULL;
        size_t ngot = 0;
        rc = lsm_txn_get(t, key, nk, &got, &ngot);
        int del = op->e[op->n - 1].del;
        if ((del && rc == LSM_NOTFOUND) ||
            (!del && rc == LSM_OK && ngot == nv &&
             (nv == 0 || memcmp(got, val, nv) == 0)))
            rc = LSM_OK;
        else if (rc == LSM_OK || rc == LSM_NOTFOUND)
            rc = LSM_EINTERNAL; /* it did not read its own write */
        lsm_free(got);
    }
    lsm_iter *it = NULL;
    if (rc == LSM_OK)
        rc = lsm_txn_scan(t, NULL, NULL, &it);
    lsm_iter_close(it);
    if (rc != LSM_OK) {
        lsm_txn_abort(t);
        return rc;
    }
    return lsm_txn_commit(t, NULL);
}

/* Runs operation i on db. */
static int child_apply(lsm_db *db, lsm_batch *b, uint64_t seed, uint64_t i,
                       const crash_op *op)
{
    char key[CRASH_KEY_MAX];
    uint8_t val[CRASH_VALUE_MAX];
    size_t nk, nv;
    int rc;
    switch (op->type) {
    case OP_PUT:
        nk = crash_key(op->e[0].key, key);
        nv = crash_value(seed, i, 0, op->e[0].key, &op->e[0], val);
        return lsm_put(db, key, nk, val, nv);
    case OP_DELETE:
        nk = crash_key(op->e[0].key, key);
        if (op->range_end) {
            char end[CRASH_KEY_MAX];
            size_t nend = crash_key(op->range_end, end);
            return lsm_delete_range(db, key, nk, end, nend);
        }
        return lsm_delete(db, key, nk);
    case OP_BATCH:
        if (op->as_txn)
            return child_apply_txn(db, seed, i, op);
        lsm_batch_clear(b);
        for (size_t j = 0; j < op->n; j++) {
            const crash_entry *e = &op->e[j];
            nk = crash_key(e->key, key);
            if (e->del) {
                rc = lsm_batch_delete(b, key, nk);
            } else {
                nv = crash_value(seed, i, (uint32_t)j, e->key, e, val);
                rc = lsm_batch_put(b, key, nk, val, nv);
            }
            if (rc != LSM_OK)
                return rc;
        }
        if (lsm_batch_count(b) != op->n)
            return LSM_EINTERNAL;
        return lsm_write(db, b);
    case OP_FLUSH:
        return lsm_flush(db);
    case OP_COMPACT:
        return lsm_compact_full(db);
    }
    return LSM_EINTERNAL;
}

/* Runs operations i .. i + g - 1, all puts, with one lsm_put_many. */
static int child_apply_put_group(lsm_db *db, uint64_t seed, uint64_t i,
                                 size_t g)
{
    static char keys[CRASH_PUT_GROUP_MAX][CRASH_KEY_MAX];
    static uint8_t vals[CRASH_PUT_GROUP_MAX][CRASH_VALUE_MAX];
    lsm_kv kv[CRASH_PUT_GROUP_MAX];
    for (size_t j = 0; j < g; j++) {
        crash_op op;
        gen_op(seed, i + j, &op);
        kv[j].key = keys[j];
        kv[j].nkey = crash_key(op.e[0].key, keys[j]);
        kv[j].value = vals[j];
        kv[j].nvalue =
            crash_value(seed, i + j, 0, op.e[0].key, &op.e[0], vals[j]);
    }
    size_t written = 0;
    int rc = lsm_put_many(db, kv, g, &written);
    return rc == LSM_OK && written != g ? LSM_EINTERNAL : rc;
}

/* The writer: recovers the database, then runs operations from k0 on,
 * acknowledging each, until the parent kills it. Never returns. */
_Noreturn static void child_main(const char *dir, uint64_t seed,
                                 const crash_plan *p, crash_shared *sh,
                                 int ack_fd, int hold_fd)
{
    child_ctx c;
    memset(&c, 0, sizeof(c));
    c.plan = p;
    c.sh = sh;
    c.ack_fd = ack_fd;
    c.hold_fd = hold_fd;
    atomic_store(&c.n_target_events, 0);
    lsm_options opt = p->opt;
    opt.event_cb = child_event_cb;
    opt.event_ctx = &c;
    lsm_db *db = NULL;
    int rc = lsm_open(dir, &opt, &db);
    if (rc != LSM_OK)
        child_fail(&c, rc, p->k0, "lsm_open");
    /* The steps of a rewrite are seen through the trace. */
    if (p->rewrite_step && (rc = lsm_trace_io(db, 1)) != LSM_OK)
        child_fail(&c, rc, p->k0, "lsm_trace_io");
    lsm_batch *b = NULL;
    rc = lsm_batch_new(&b);
    if (rc != LSM_OK)
        child_fail(&c, rc, p->k0, "lsm_batch_new");
    for (uint64_t i = p->k0; i < p->k0 + CRASH_CHILD_MAX_OPS;) {
        size_t g = put_group_len(seed, i);
        crash_op op;
        gen_op(seed, i, &op);
        rc = g > 1 ? child_apply_put_group(db, seed, i, g)
                   : child_apply(db, b, seed, i, &op);
        if (rc != LSM_OK) {
            char what[256];
            describe_op(&op, what, sizeof(what));
            child_fail(&c, rc, i, g > 1 ? "lsm_put_many" : what);
        }
        /* A group's puts are acknowledged together, when the call
         * returns. */
        for (size_t j = 0; j < g; j++)
            child_send(ack_fd, i + j);
        i += g;
    }
    child_wait_for_kill(hold_fd);
}

/* --- checking a recovered database --------------------------------------- */

/* What a check compares against: the database must equal one candidate. */
typedef struct check_args {
    const char *dir;
    const lsm_options *opt;
    uint64_t seed;
    /* After A ops, A+1, ..., to the end of the in-flight op or put group
     * (lsm_put_many leaves a prefix of its puts). */
    const crash_model *cand[CRASH_PUT_GROUP_MAX + 1];
    size_t n_cand;
    const crash_op *inflight; /* the op that may have landed, or NULL */
    uint64_t inflight_index;
    int clean_reopen; /* opened after a clean close: memtables are empty
                         when that close had the WAL off */
} check_args;

static void check_event_cb(void *ctx, const lsm_event *ev)
{
    crash_check *c = ctx;
    switch (ev->type) {
    case LSM_EVENT_RECOVERED:
        atomic_fetch_add(&c->n_recovered, 1);
        atomic_fetch_add(&c->n_wals_recovered, ev->n_wals_recovered);
        atomic_fetch_add(&c->n_ssts_opened, ev->n_ssts_opened);
        break;
    case LSM_EVENT_WARNING:
        atomic_fetch_add(&c->n_warnings, 1);
        if (!atomic_flag_test_and_set(&c->warning_taken))
            snprintf(c->warning, sizeof(c->warning), "%s",
                     ev->message ? ev->message : "(no message)");
        break;
    case LSM_EVENT_BACKGROUND_ERROR:
        atomic_fetch_add(&c->n_bg_errors, 1);
        break;
    default:
        break;
    }
}

/* The database's contents: per key, absent or a malloc'd value. */
typedef struct db_view {
    uint8_t present[CRASH_N_KEYS];
    size_t nvalue[CRASH_N_KEYS];
    uint8_t *value[CRASH_N_KEYS];
} db_view;

static void db_view_free(db_view *v)
{
    for (uint32_t k = 0; k < CRASH_N_KEYS; k++)
        free(v->value[k]);
    memset(v, 0, sizeof(*v));
}

/* Reads the whole database with one full scan into v. Keys must be ours
 * and strictly increasing. Returns 0 after recording a failure. */
static int view_scan(lsm_db *db, db_view *v, crash_check *c)
{
    lsm_iter *it = NULL;
    int rc = lsm_scan(db, NULL, NULL, &it);
    if (rc != LSM_OK) {
        check_note(c, 1, "full scan: lsm_scan returned %s (%s)",
                   lsm_strerror(rc), lsm_errmsg());
        return 0;
    }
    long prev = -1;
    int ok = 1;
    while (ok && lsm_iter_valid(it)) {
        size_t nk = 0, nv = 0;
        const void *k = lsm_iter_key(it, &nk);
        const void *val = lsm_iter_value(it, &nv);
        long idx = crash_key_index(k, nk);
        if (idx < 0) {
            check_note(c, 1, "full scan: a key no write made (%zu bytes)", nk);
            ok = 0;
        } else if (idx <= prev) {
            check_note(c, 1, "full scan: k%04ld after k%04ld (not increasing)",
                       idx, prev);
            ok = 0;
        } else {
            prev = idx;
            v->present[idx] = 1;
            v->nvalue[idx] = nv;
            v->value[idx] = malloc(nv ? nv : 1);
            if (nv)
                memcpy(v->value[idx], val, nv);
            rc = lsm_iter_next(it);
            if (rc != LSM_OK) {
                check_note(c, 1, "full scan: lsm_iter_next returned %s (%s)",
                           lsm_strerror(rc), lsm_errmsg());
                ok = 0;
            }
        }
    }
    lsm_iter_close(it);
    return ok;
}

/* 1 if the database's value for key k is exactly what slot sl says. */
static int view_matches_slot(const db_view *v, uint32_t k, const crash_slot *sl,
                             uint64_t seed)
{
    if (v->present[k] != sl->present)
        return 0;
    if (!sl->present)
        return 1;
    uint8_t want[CRASH_VALUE_MAX];
    size_t nwant = crash_value(seed, sl->op, sl->pos, k, &sl->e, want);
    return v->nvalue[k] == nwant &&
           (nwant == 0 || memcmp(v->value[k], want, nwant) == 0);
}

/* Names the write a database value came from, for failure reports. */
static void describe_db_value(const db_view *v, uint32_t k, uint64_t seed,
                              char *buf, size_t cap)
{
    if (!v->present[k]) {
        snprintf(buf, cap, "absent");
        return;
    }
    if (v->nvalue[k] == 0) {
        snprintf(buf, cap, "empty value");
        return;
    }
    char head[48];
    size_t n =
        v->nvalue[k] < sizeof(head) - 1 ? v->nvalue[k] : sizeof(head) - 1;
    memcpy(head, v->value[k], n);
    head[n] = '\0';
    uint64_t op = 0;
    unsigned pos = 0, key = 0;
    if (sscanf(head, "o%" SCNu64 ".p%u.k%u;", &op, &pos, &key) != 3) {
        snprintf(buf, cap, "garbage (%zu bytes)", v->nvalue[k]);
        return;
    }
    crash_op wop;
    gen_op(seed, op, &wop);
    int exact = 0;
    if (key == k && pos < wop.n && wop.e[pos].key == k && !wop.e[pos].del) {
        crash_slot sl = {.present = 1, .pos = pos, .op = op, .e = wop.e[pos]};
        exact = view_matches_slot(v, k, &sl, seed);
    }
    snprintf(buf, cap, "op#%" PRIu64 ".p%u%s", op, pos,
             exact ? "" : " (bytes differ from that write)");
}

/* The report when the database equals no candidate: the in-flight op, how
 * much of it the database holds, and every differing key. */
static void check_report_mismatch(const check_args *a, const db_view *v,
                                  crash_check *c)
{
    char d[3][96];
    if (a->inflight) {
        char what[512];
        describe_op(a->inflight, what, sizeof(what));
        check_note(c, 1, "in-flight op #%" PRIu64 ": %s", a->inflight_index,
                   what);
        size_t landed = 0, missing = 0, neither = 0;
        for (uint32_t k = 0; k < CRASH_N_KEYS; k++) {
            const crash_slot *before = &a->cand[0]->s[k];
            const crash_slot *after = &a->cand[a->n_cand - 1]->s[k];
            if (slot_equal(before, after))
                continue;
            if (view_matches_slot(v, k, after, a->seed))
                landed++;
            else if (view_matches_slot(v, k, before, a->seed))
                missing++;
            else
                neither++;
        }
        check_note(c, 1,
                   "keys the in-flight op changes: %zu hold its result, "
                   "%zu the result before it, %zu neither%s",
                   landed, missing, neither,
                   landed && missing ? "  <-- PARTIAL (not atomic)" : "");
    }
    check_note(c, 1, "differing keys (database | after A ops%s):",
               a->n_cand > 1 ? " | after the in-flight op or group" : "");
    size_t shown = 0;
    for (uint32_t k = 0; k < CRASH_N_KEYS; k++) {
        int differs = 1;
        for (size_t i = 0; i < a->n_cand; i++)
            if (view_matches_slot(v, k, &a->cand[i]->s[k], a->seed))
                differs = 0;
        if (!differs)
            continue;
        if (++shown > 40) {
            check_note(c, 1, "  ...");
            break;
        }
        describe_db_value(v, k, a->seed, d[0], sizeof(d[0]));
        describe_slot(&a->cand[0]->s[k], d[1], sizeof(d[1]));
        if (a->n_cand > 1)
            describe_slot(&a->cand[a->n_cand - 1]->s[k], d[2], sizeof(d[2]));
        check_note(c, 1, "  k%04u: %s | %s%s%s", k, d[0], d[1],
                   a->n_cand > 1 ? " | " : "", a->n_cand > 1 ? d[2] : "");
    }
}

/* Every key read with lsm_get must agree with the scan. */
static void check_gets(lsm_db *db, const db_view *v, crash_check *c)
{
    char key[CRASH_KEY_MAX];
    for (uint32_t k = 0; k < CRASH_N_KEYS; k++) {
        size_t nk = crash_key(k, key);
        void *val = NULL;
        size_t nv = 0;
        int rc = lsm_get(db, key, nk, &val, &nv);
        if (rc == LSM_OK) {
            if (!v->present[k])
                check_note(c, 1,
                           "get k%04u: found, but the scan has no such "
                           "key",
                           k);
            else if (nv != v->nvalue[k] ||
                     (nv && memcmp(val, v->value[k], nv) != 0))
                check_note(c, 1,
                           "get k%04u: %zu bytes that differ from the "
                           "scan's %zu",
                           k, nv, v->nvalue[k]);
            lsm_free(val);
        } else if (rc == LSM_NOTFOUND) {
            if (v->present[k])
                check_note(c, 1, "get k%04u: not found, but the scan has it",
                           k);
        } else {
            check_note(c, 1, "get k%04u: %s (%s)", k, lsm_strerror(rc),
                       lsm_errmsg());
        }
    }
}

/* Every group of ten keys k<NNN>0..k<NNN>9 through one prefix scan of
 * "k<NNN>" (the writers' extractor, prefix_len 4, so its filters are
 * used): exactly the group's keys the full scan found, with its values. */
static void check_prefix_scans(lsm_db *db, const db_view *v, crash_check *c)
{
    for (uint32_t g = 0; g < CRASH_N_KEYS / 10; g++) {
        char prefix[8];
        snprintf(prefix, sizeof prefix, "k%03u", g);
        lsm_iter *it = NULL;
        int rc = lsm_scan_prefix(db, prefix, 4, &it);
        if (rc != LSM_OK) {
            check_note(c, 1, "prefix scan %s: %s (%s)", prefix,
                       lsm_strerror(rc), lsm_errmsg());
            return;
        }
        uint32_t k = g * 10;
        for (; lsm_iter_valid(it) && rc == LSM_OK; k++) {
            while (k < g * 10 + 10 && !v->present[k])
                k++;
            size_t nk = 0, nv = 0;
            const void *key = lsm_iter_key(it, &nk);
            const void *val = lsm_iter_value(it, &nv);
            if (k == g * 10 + 10 || crash_key_index(key, nk) != (long)k ||
                nv != v->nvalue[k] ||
                (nv && memcmp(val, v->value[k], nv) != 0)) {
                check_note(c, 1,
                           "prefix scan %s: a key or value the full scan "
                           "does not have there",
                           prefix);
                break;
            }
            rc = lsm_iter_next(it);
        }
        while (k < g * 10 + 10 && !v->present[k])
            k++;
        if (rc == LSM_OK && !lsm_iter_valid(it) && k < g * 10 + 10)
            check_note(c, 1, "prefix scan %s: ended before k%04u", prefix, k);
        if (rc != LSM_OK)
            check_note(c, 1, "prefix scan %s: %s (%s)", prefix,
                       lsm_strerror(rc), lsm_errmsg());
        lsm_iter_close(it);
    }
}

static int ids_has(const uint64_t *ids, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

/* What the state snapshot must show after recovery. A memtable's SST gets
 * the memtable's id, and memtables and L0 are listed newest first, so the
 * mutable memtable, the immutables and L0 have strictly decreasing ids (a
 * recovered id counter that went backwards would break this), and no two
 * memtables or SSTs share an id. After a clean close without the WAL every
 * memtable was flushed: nothing is left to replay (with the WAL, close
 * leaves them to their logs). The manifest must read back. */
static void check_state(lsm_db *db, const check_args *a, crash_check *c)
{
    lsm_state *st = NULL;
    int rc = lsm_state_get(db, &st);
    if (rc != LSM_OK) {
        check_note(c, 1, "lsm_state_get: %s (%s)", lsm_strerror(rc),
                   lsm_errmsg());
        return;
    }
    size_t n_ids = 1 + st->n_immutables + st->n_l0;
    for (size_t l = 0; l < st->n_levels; l++)
        n_ids += st->levels[l].n_ssts;
    uint64_t *ids = calloc(n_ids, sizeof(uint64_t));
    size_t n = 0;
    ids[n++] = st->memtable.memtable_id;
    for (size_t i = 0; i < st->n_immutables; i++)
        ids[n++] = st->immutables[i].memtable_id;
    for (size_t i = 0; i < st->n_l0; i++)
        ids[n++] = st->l0[i].sst_id;
    for (size_t i = 1; i < n; i++)
        if (ids[i] >= ids[i - 1])
            check_note(c, 1,
                       "state: memtables then L0 are not in strictly "
                       "decreasing id order: %" PRIu64 " then %" PRIu64
                       " (position %zu of %zu; %zu immutables)",
                       ids[i - 1], ids[i], i, n, st->n_immutables);
    for (size_t l = 0; l < st->n_levels; l++)
        for (size_t i = 0; i < st->levels[l].n_ssts; i++) {
            uint64_t id = st->levels[l].ssts[i].sst_id;
            if (ids_has(ids, n, id))
                check_note(c, 1, "state: id %" PRIu64 " used twice (L%d)", id,
                           st->levels[l].level);
            ids[n++] = id;
        }
    free(ids);
    if (a->clean_reopen && !a->opt->enable_wal) {
        if (st->n_immutables != 0 || st->memtable.num_keys != 0 ||
            st->pending_flushes != 0)
            check_note(c, 1,
                       "state after a clean close and reopen: %zu immutable "
                       "memtables, %" PRIu64 " keys in the mutable one, %zu "
                       "pending flushes; close flushes every memtable",
                       st->n_immutables, st->memtable.num_keys,
                       st->pending_flushes);
    }
    lsm_state_free(st);

    lsm_manifest_record *recs = NULL;
    size_t n_recs = 0;
    rc = lsm_manifest_read(db, &recs, &n_recs);
    if (rc != LSM_OK)
        check_note(c, 1, "lsm_manifest_read after recovery: %s (%s)",
                   lsm_strerror(rc), lsm_errmsg());
    lsm_manifest_free(recs, n_recs);
}

/* Opens (recovers) the database, compares it with the candidates and the
 * state rules, and hands the open handle back in *out (NULL if the open
 * failed) for the caller to close or abandon. Results go to c. */
static void check_db(const check_args *a, crash_check *c, lsm_db **out)
{
    lsm_options opt = *a->opt;
    opt.event_cb = check_event_cb;
    opt.event_ctx = c;
    lsm_db *db = NULL;
    *out = NULL;
    int rc = lsm_open(a->dir, &opt, &db);
    if (rc != LSM_OK) {
        check_note(c, 1, "lsm_open (recovery) returned %s: %s",
                   lsm_strerror(rc), lsm_errmsg());
        return;
    }
    *out = db;
    db_view v;
    memset(&v, 0, sizeof(v));
    if (view_scan(db, &v, c)) {
        for (size_t i = a->n_cand; i-- > 0;) {
            int all = 1;
            for (uint32_t k = 0; k < CRASH_N_KEYS && all; k++)
                all = view_matches_slot(&v, k, &a->cand[i]->s[k], a->seed);
            if (all) {
                c->matched = (int)i;
                break;
            }
        }
        if (c->matched < 0) {
            check_note(c, 1,
                       "the database equals the model after neither A nor "
                       "A+1 operations of this round (nor a prefix of the "
                       "in-flight put group)");
            check_report_mismatch(a, &v, c);
        }
        check_gets(db, &v, c);
        check_prefix_scans(db, &v, c);
    }
    db_view_free(&v);
    check_state(db, a, c);
    if (atomic_load(&c->n_bg_errors) != 0)
        check_note(c, 1, "%" PRIu64 " background errors during recovery",
                   atomic_load(&c->n_bg_errors));
}

/* --- a run: one directory, one scheduling mode, many kills --------------- */

typedef struct crash_stats {
    uint64_t acked, landed, killed_before_ack, checker_closes;
    uint64_t event_kills[CRASH_EV_TYPES], held_kills[CRASH_EV_TYPES];
    uint64_t child_events[CRASH_EV_TYPES];
    uint64_t recovered, wals_recovered, warnings, sync_rounds, busy_checks;
} crash_stats;

typedef struct crash_run {
    uint64_t seed;
    lsm_sched sched;
    lsm_compaction compaction; /* fixed for the run: a database keeps it */
    uint64_t rng; /* plans and options; the op sequence uses seed alone */
    uint64_t n_rounds, round;
    char *tmp; /* mkdtemp directory, removed at the end */
    char *dir; /* the database: tmp/db */
    crash_shared *sh;
    crash_model model; /* the database after k0 operations */
    uint64_t k0;
    crash_plan plan;
    uint64_t acks;    /* A: acknowledgements in this round */
    pid_t writer_pid; /* a live writer child, or 0 */
    int writer_status;
    int verbose;
    crash_stats st;
} crash_run;

static void describe_options(const lsm_options *o, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "sched=%s target_sst_size=%zu block_size=%zu "
             "num_memtable_limit=%zu block_cache_bytes=%zu bloom=%u wal=%d "
             "sync=%d",
             sched_name(o->sched), o->target_sst_size, o->block_size,
             o->num_memtable_limit, o->block_cache_bytes, o->bloom_bits_per_key,
             o->enable_wal, o->sync);
}

/* Prints everything needed to reproduce a failure, then fails the test. */
static void run_fail(crash_run *r, int line, const char *fmt, ...)
{
    char o1[256], o2[256];
    if (r->writer_pid > 0) {
        kill(r->writer_pid, SIGKILL);
        waitpid(r->writer_pid, NULL, 0);
        r->writer_pid = 0;
    }
    describe_options(&r->plan.opt, o1, sizeof(o1));
    describe_options(&r->plan.check_opt, o2, sizeof(o2));
    fprintf(stderr,
            "\n=== CRASH FAILURE (test_crash.c:%d)\n"
            "  seed=%" PRIu64 " (replay: LSM_TEST_SEED=%" PRIu64 ") mode=%s "
            "round=%" PRIu64 "/%" PRIu64 "\n"
            "  round started at op k0=%" PRIu64 ", A=%" PRIu64
            " acknowledged (ops %" PRIu64 "..%" PRIu64
            "), in flight: op %" PRIu64 "\n"
            "  kill plan: after %" PRIu64 " acks, or at %s #%" PRIu64 "%s\n"
            "  writer options: %s\n  checker options: %s (%s)\n  ",
            line, r->seed, r->seed, sched_name(r->sched), r->round, r->n_rounds,
            r->k0, r->acks, r->k0, r->k0 + r->acks - (r->acks ? 1 : 0),
            r->k0 + r->acks, r->plan.ack_target, event_name(r->plan.ev_type),
            r->plan.ev_nth, r->plan.ev_hold ? " (held in the callback)" : "",
            o1, o2, r->plan.check_closes ? "closes" : "vanishes");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    if (env_u64("LSM_TEST_KEEP", 0))
        fprintf(stderr, "  database kept in %s\n", r->tmp);
    else
        test_rmtree(r->tmp);
    fail();
}

#define RUN_CHECK(r, cond, ...)                                                \
    do {                                                                       \
        if (!(cond))                                                           \
            run_fail((r), __LINE__, __VA_ARGS__);                              \
    } while (0)

/* Tiny options: memtables freeze every few writes, SSTs hold a few blocks. */
static void crash_options(lsm_options *o, uint64_t *rng, lsm_sched sched,
                          lsm_compaction compaction, int sync)
{
    static const size_t caches[] = {0, 4096, 1u << 20};
    lsm_options_init(o);
    o->target_sst_size = (size_t)test_rng_range(rng, 512, 4096);
    o->block_size = 128;
    o->num_memtable_limit = (size_t)test_rng_range(rng, 1, 3);
    o->block_cache_bytes = caches[test_rng_below(rng, 3)];
    o->bloom_bits_per_key = test_rng_below(rng, 4) == 0 ? 0 : 10;
    o->sched = sched;
    o->compaction = compaction;
    o->enable_wal = 1;
    o->sync = sync;
    /* The MANIFEST is rewritten every few flushes, not only at open. */
    o->manifest_rewrite_bytes = test_rng_range(rng, 128, 2048);
    /* SSTs carry prefix filters ("k012" for k0123...), which the checker's
     * prefix scans use (check_prefix_scans); set without the rng, so the
     * rounds' draws stay what they were. */
    o->prefix_len = 4;
}

/* Block compression for a round's opener: none, lz4 and zstd in turn
 * (from the round, not the generator, so the rounds' draws stay what they
 * were). The writer and the checker of a round differ, so the database
 * always mixes blocks of several kinds, and a recovery's flush writes
 * them another way than the writes before the crash did. */
static void crash_compression(lsm_options *o, uint64_t turn)
{
    static const lsm_compression kinds[] = {
        LSM_COMPRESSION_NONE, LSM_COMPRESSION_LZ4, LSM_COMPRESSION_ZSTD};
    o->compression = kinds[turn % 3];
    /* zstd's frame costs about 20 bytes a block: blocks of 128 bytes
     * never shrink by the eighth that storing them compressed needs. */
    if (o->compression == LSM_COMPRESSION_ZSTD)
        o->block_size = 1024;
}

/* Chooses how this round's writer dies. The kinds cycle with the round so
 * that every kind happens in every run; their parameters are random. */
static void plan_round(crash_run *r, crash_plan *p)
{
    static const int compaction_events[] = {LSM_EVENT_COMPACTION_BEGIN,
                                            LSM_EVENT_COMPACTION_END};
    static const int misc_events[] = {LSM_EVENT_MEMTABLE_FROZEN,
                                      LSM_EVENT_RECOVERED};
    memset(p, 0, sizeof(*p));
    p->k0 = r->k0;
    p->sync = r->round % CRASH_SYNC_EVERY == 5;
    uint64_t *g = &r->rng;
    switch (r->round % 10) {
    case 0:
        p->ack_target = 0;
        break;
    case 1:
        p->ack_target = test_rng_range(g, 1, 4);
        break;
    case 2:
        p->ack_target = test_rng_range(g, 5, 60);
        break;
    case 8:
        p->ev_type = LSM_EVENT_IO;
        p->rewrite_step = 1 + (int)test_rng_below(g, CRASH_REWRITE_STEPS);
        break;
    case 3:
        p->ev_type = LSM_EVENT_FLUSH_BEGIN;
        break;
    case 4:
        p->ack_target = test_rng_range(g, 60, 400);
        break;
    case 5:
        p->ev_type = misc_events[test_rng_below(g, 2)];
        break;
    case 6:
        p->ack_target = test_rng_range(g, 400, 1200);
        break;
    case 7:
        p->ev_type = LSM_EVENT_FLUSH_END;
        break;
    default:
        p->ev_type = compaction_events[test_rng_below(g, 2)];
        break;
    }
    if (p->ev_type) {
        p->ack_target = CRASH_EVENT_FALLBACK;
        p->ev_nth =
            p->ev_type == LSM_EVENT_RECOVERED ? 1 : test_rng_range(g, 1, 3);
        /* Flush begin is always held: the kill must land before the SST. */
        p->ev_hold =
            p->ev_type == LSM_EVENT_FLUSH_BEGIN || test_rng_below(g, 2);
    }
    if (p->sync && p->ack_target > CRASH_SYNC_MAX_ACKS)
        p->ack_target = CRASH_SYNC_MAX_ACKS;
    crash_options(&p->opt, g, r->sched, r->compaction, p->sync);
    crash_options(&p->check_opt, g, r->sched, r->compaction, 0);
    crash_compression(&p->opt, r->round);
    crash_compression(&p->check_opt, r->round + 1);
    p->check_closes = test_rng_below(g, 100) < 30;
}

/* Reads one message; 1 on success, 0 at end of file (the child is gone),
 * -1 on a read error or a torn message. */
static int msg_read(int fd, uint64_t *msg)
{
    uint8_t buf[8];
    size_t got = 0;
    while (got < sizeof(buf)) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return got ? -1 : 0;
        got += (size_t)n;
    }
    memcpy(msg, buf, sizeof(buf));
    return 1;
}

/* Waits up to CRASH_STALL_MS for the writer to say something; 0 on a stall.
 * Not a timing assumption: a correct writer never stalls that long. */
static int wait_readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    for (;;) {
        int n = poll(&pfd, 1, CRASH_STALL_MS);
        if (n < 0 && errno == EINTR)
            continue;
        return n != 0;
    }
}

/* Kills the writer if it is still running and waits for it; *status (if
 * not NULL) gets its wait status. Safe to call twice. */
static void writer_reap_status(crash_run *r, int *status)
{
    int st = 0;
    if (r->writer_pid > 0) {
        kill(r->writer_pid, SIGKILL);
        while (waitpid(r->writer_pid, &st, 0) < 0 && errno == EINTR)
            ;
        r->writer_pid = 0;
        r->writer_status = st;
    }
    if (status)
        *status = r->writer_status;
}

static void writer_reap(crash_run *r)
{
    writer_reap_status(r, NULL);
}

/* Counts an acknowledgement, which must name the next op in order. */
static void note_ack(crash_run *r, uint64_t msg)
{
    RUN_CHECK(r, msg == r->k0 + r->acks,
              "acknowledgement out of order: got op %" PRIu64
              ", expected %" PRIu64,
              msg, r->k0 + r->acks);
    r->acks++;
}

/* While the writer sits in its callback it still holds the database: a
 * second opener must be refused with LSM_EBUSY and get no handle. */
static void check_lock_refused(crash_run *r)
{
    lsm_options o = r->plan.check_opt;
    o.sched = LSM_SCHED_INLINE; /* no thread for an open that must fail */
    lsm_db *db = NULL;
    int rc = lsm_open(r->dir, &o, &db);
    r->st.busy_checks++;
    if (rc != LSM_EBUSY) {
        writer_reap(r);
        lsm_close(db); /* NULL-safe; a handle here is the bug reported */
        RUN_CHECK(r, 0,
                  "a second lsm_open while the writer (alive, held in its %s "
                  "callback) holds the database returned %s (%s), expected "
                  "LSM_EBUSY",
                  event_name(r->plan.ev_type), lsm_strerror(rc), lsm_errmsg());
    }
}

/* Starts the writer and kills it as planned. Leaves r->acks = A. */
static void round_write_and_kill(crash_run *r)
{
    int ack[2], hold[2];
    RUN_CHECK(r, pipe(ack) == 0 && pipe(hold) == 0, "pipe: %s",
              strerror(errno));
    shared_reset_writer(r->sh);
    fflush(NULL);
    pid_t pid = fork();
    RUN_CHECK(r, pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(ack[0]);
        close(hold[1]);
        child_main(r->dir, r->seed, &r->plan, r->sh, ack[1], hold[0]);
    }
    r->writer_pid = pid;
    close(ack[1]);
    close(hold[0]);
    r->acks = 0;
    int event_seen = 0, failed_msg = 0;
    if (r->plan.ack_target > 0 || r->plan.ev_type != 0) {
        for (;;) {
            uint64_t msg = 0;
            if (!wait_readable(ack[0])) {
                writer_reap(r);
                RUN_CHECK(r, 0,
                          "the writer made no progress for %d ms after %" PRIu64
                          " acknowledgements (hang or deadlock in op %" PRIu64
                          ")",
                          CRASH_STALL_MS, r->acks, r->k0 + r->acks);
            }
            int got = msg_read(ack[0], &msg);
            if (got <= 0)
                break; /* the writer died by itself: reported below */
            if (msg & CRASH_MSG_FAIL) {
                failed_msg = 1;
                break;
            }
            if (msg & CRASH_MSG_EVENT) {
                event_seen = (int)(msg & ~CRASH_MSG_TAGS);
                if (atomic_load(&r->sh->held))
                    check_lock_refused(r);
                break;
            }
            note_ack(r, msg);
            if (r->acks >= r->plan.ack_target)
                break;
        }
    }
    int status = 0;
    writer_reap_status(r, &status);
    /* Everything the writer acknowledged before it died is still queued. */
    for (;;) {
        uint64_t msg = 0;
        int got = msg_read(ack[0], &msg);
        RUN_CHECK(r, got >= 0, "reading acknowledgements: torn message");
        if (got == 0)
            break;
        if (msg & CRASH_MSG_FAIL)
            failed_msg = 1;
        else if (!(msg & CRASH_MSG_EVENT))
            note_ack(r, msg);
    }
    close(ack[0]);
    close(hold[1]);
    RUN_CHECK(r, !failed_msg && !r->sh->child_failed,
              "the writer failed at op %" PRIu64 ": rc %d, %s", r->sh->child_op,
              r->sh->child_rc, r->sh->child_msg);
    RUN_CHECK(
        r, WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
        "the writer died on its own (%s %d) after %" PRIu64 " acknowledgements",
        WIFSIGNALED(status) ? "signal" : "exit status",
        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), r->acks);
    for (int t = 0; t < CRASH_EV_TYPES; t++)
        r->st.child_events[t] += atomic_load(&r->sh->child_events[t]);
    if (event_seen > 0 && event_seen < CRASH_EV_TYPES) {
        r->st.event_kills[event_seen]++;
        if (atomic_load(&r->sh->held))
            r->st.held_kills[event_seen]++;
    }
    r->st.acked += r->acks;
    r->st.killed_before_ack += r->acks == 0;
}

/* Runs check_db in a forked process that then closes the database or just
 * exits as a crash would, leaving recovery's own files for the next round.
 * The result is in r->sh->check. */
static void round_check_forked(crash_run *r, const check_args *a)
{
    check_reset(&r->sh->check);
    fflush(NULL);
    pid_t pid = fork();
    RUN_CHECK(r, pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        crash_check *c = &r->sh->check;
        lsm_db *db = NULL;
        check_db(a, c, &db);
        if (db && r->plan.check_closes) {
            int rc = lsm_close(db);
            if (rc != LSM_OK)
                check_note(c, 1, "lsm_close after the check: %s (%s)",
                           lsm_strerror(rc), lsm_errmsg());
        }
        c->done = 1;
        _exit(0);
    }
    int status = 0;
    RUN_CHECK(r, waitpid(pid, &status, 0) == pid, "waitpid: %s",
              strerror(errno));
    RUN_CHECK(
        r, WIFEXITED(status) && WEXITSTATUS(status) == 0 && r->sh->check.done,
        "the checker process died (%s %d) during recovery or the check"
        "; its notes so far:\n%s",
        WIFSIGNALED(status) ? "signal" : "exit status",
        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
        r->sh->check.msg);
}

static void stats_add_check(crash_run *r, const crash_check *c)
{
    r->st.recovered += atomic_load(&c->n_recovered);
    r->st.wals_recovered += atomic_load(&c->n_wals_recovered);
    r->st.warnings += atomic_load(&c->n_warnings);
}

/* One round: write, kill, recover, check, and move the model forward to
 * what the database showed. */
static void run_round(crash_run *r)
{
    plan_round(r, &r->plan);
    round_write_and_kill(r);

    crash_model cand[CRASH_PUT_GROUP_MAX + 1];
    crash_op op;
    cand[0] = r->model;
    for (uint64_t i = r->k0; i < r->k0 + r->acks; i++) {
        gen_op(r->seed, i, &op);
        model_apply(&cand[0], i, &op);
    }
    /* The op after the acknowledged ones may have landed; if it is in a
     * put group (which may have begun before it), so may any prefix of
     * the group's puts after it. */
    uint64_t in_flight = r->k0 + r->acks, group_end = r->k0;
    while (group_end <= in_flight)
        group_end += put_group_len(r->seed, group_end);
    size_t n_cand = (size_t)(group_end - in_flight) + 1;
    for (size_t j = 1; j < n_cand; j++) {
        cand[j] = cand[j - 1];
        gen_op(r->seed, in_flight + j - 1, &op);
        model_apply(&cand[j], in_flight + j - 1, &op);
    }
    gen_op(r->seed, in_flight, &op);

    check_args a = {
        .dir = r->dir,
        .opt = &r->plan.check_opt,
        .seed = r->seed,
        .n_cand = n_cand,
        .inflight = &op,
        .inflight_index = in_flight,
    };
    for (size_t j = 0; j < n_cand; j++)
        a.cand[j] = &cand[j];
    round_check_forked(r, &a);
    crash_check *c = &r->sh->check;
    RUN_CHECK(r, c->ok && c->matched >= 0, "%s", c->msg);
    stats_add_check(r, c);
    r->st.checker_closes += r->plan.check_closes;
    r->st.sync_rounds += r->plan.sync;
    int landed = c->matched >= 1 && !model_equal(&cand[0], &cand[c->matched]);
    r->st.landed += landed;
    if (r->verbose) {
        char what[256];
        describe_op(&op, what, sizeof(what));
        fprintf(stderr,
                "[%s round %" PRIu64 "] k0=%" PRIu64 " A=%" PRIu64
                " in-flight %s: %s; plan %s #%" PRIu64 "%s acks<=%" PRIu64
                "%s; recovered %" PRIu64 " wals, %" PRIu64 " warnings%s%s\n",
                sched_name(r->sched), r->round, r->k0, r->acks, what,
                landed ? "landed" : "not landed", event_name(r->plan.ev_type),
                r->plan.ev_nth, atomic_load(&r->sh->held) ? " held" : "",
                r->plan.ack_target, r->plan.sync ? " sync" : "",
                atomic_load(&c->n_wals_recovered), atomic_load(&c->n_warnings),
                c->warning[0] ? ": " : "", c->warning);
    }
    r->model = cand[c->matched];
    r->k0 += (uint64_t)c->matched + r->acks;
}

/* After the last kill: recover in this process, check, close cleanly,
 * reopen, and the same contents must be there (with every memtable flushed
 * when the WAL is off). */
static void run_final(crash_run *r)
{
    r->acks = 0;
    memset(&r->plan, 0, sizeof(r->plan));
    crash_options(&r->plan.opt, &r->rng, r->sched, r->compaction, 0);
    crash_compression(&r->plan.opt, r->round);
    r->plan.check_opt = r->plan.opt;
    check_args a = {
        .dir = r->dir,
        .opt = &r->plan.check_opt,
        .seed = r->seed,
        .cand = {&r->model},
        .n_cand = 1,
    };
    for (int pass = 0; pass < 2; pass++) {
        crash_check *c = &r->sh->check;
        check_reset(c);
        a.clean_reopen = pass == 1;
        lsm_db *db = NULL;
        check_db(&a, c, &db);
        int rc = lsm_close(db);
        RUN_CHECK(r, c->ok && c->matched == 0, "final %s:\n%s",
                  pass ? "reopen after a clean close"
                       : "recovery in the test process",
                  c->msg);
        RUN_CHECK(r, rc == LSM_OK, "final lsm_close: %s (%s)", lsm_strerror(rc),
                  lsm_errmsg());
        RUN_CHECK(r, atomic_load(&c->n_recovered) == 1 || r->n_rounds == 0,
                  "opening an existing database sent %" PRIu64
                  " RECOVERED events, expected 1",
                  atomic_load(&c->n_recovered));
        stats_add_check(r, c);
    }
}

static void print_summary(const crash_run *r)
{
    const crash_stats *s = &r->st;
    fprintf(stderr,
            "crash %s seed=%" PRIu64 ": %" PRIu64 " rounds (%" PRIu64
            " sync), %" PRIu64 " ops acknowledged, final op %" PRIu64
            ", %" PRIu64 " in-flight ops landed, %" PRIu64
            " kills before any ack, %" PRIu64 " checker closes, %" PRIu64
            " lock refusals\n",
            sched_name(r->sched), r->seed, r->n_rounds, s->sync_rounds,
            s->acked, r->k0, s->landed, s->killed_before_ack, s->checker_closes,
            s->busy_checks);
    fprintf(stderr, "  kills at events (held):");
    for (int t = 1; t < CRASH_EV_TYPES; t++)
        if (s->event_kills[t])
            fprintf(stderr, " %s %" PRIu64 " (%" PRIu64 ")", event_name(t),
                    s->event_kills[t], s->held_kills[t]);
    fprintf(stderr,
            "\n  writer events: frozen %" PRIu64 ", flushes %" PRIu64
            ", compactions %" PRIu64 ", recovered %" PRIu64
            ", warnings %" PRIu64 "\n"
            "  checker: %" PRIu64 " recoveries, %" PRIu64
            " WALs replayed, %" PRIu64 " warnings\n",
            s->child_events[LSM_EVENT_MEMTABLE_FROZEN],
            s->child_events[LSM_EVENT_FLUSH_END],
            s->child_events[LSM_EVENT_COMPACTION_END],
            s->child_events[LSM_EVENT_RECOVERED],
            s->child_events[LSM_EVENT_WARNING], s->recovered, s->wals_recovered,
            s->warnings);
}

static void run_crash_test(lsm_sched sched, lsm_compaction compaction)
{
    crash_run *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->seed = env_u64("LSM_TEST_SEED", CRASH_DEFAULT_SEED);
    r->sched = sched;
    r->compaction = compaction;
    r->rng = rng_stream(r->seed, 0xc4a5u,
                        (uint64_t)sched | (uint64_t)compaction << 8);
    r->n_rounds = env_u64("LSM_TEST_ROUNDS", CRASH_DEFAULT_ROUNDS);
    r->verbose = (int)env_u64("LSM_TEST_VERBOSE", 0);
    r->tmp = test_mkdtemp();
    r->dir = test_path(r->tmp, "db");
    void *mem = mmap(NULL, sizeof(crash_shared), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    r->sh = mem;

    for (r->round = 0; r->round < r->n_rounds; r->round++)
        run_round(r);
    run_final(r);
    if (r->verbose)
        print_summary(r);

    /* The run must have crashed where it meant to: with tiny memtables the
     * writers freeze and flush all the time, and the planned kills inside a
     * flush (held at its start, raced at its end) did happen. */
    if (r->n_rounds >= 20) {
        RUN_CHECK(r, r->st.child_events[LSM_EVENT_FLUSH_END] > 0,
                  "no writer ever flushed: the test exercised nothing");
        RUN_CHECK(r, r->st.held_kills[LSM_EVENT_FLUSH_BEGIN] > 0,
                  "no kill landed inside a flush");
        RUN_CHECK(r, r->st.event_kills[LSM_EVENT_FLUSH_END] > 0,
                  "no kill landed at the end of a flush");
        RUN_CHECK(r, r->st.acked > 0, "no write was ever acknowledged");
        RUN_CHECK(r, r->st.busy_checks > 0, "the lock was never probed");
        /* Writers compacted on their own, so kills landed around
         * compactions too (the plan also kills at their begin and end). */
        RUN_CHECK(r, r->st.child_events[LSM_EVENT_COMPACTION_END] > 0,
                  "no writer ever compacted: the strategy never ran");
    }
    munmap(mem, sizeof(crash_shared));
    test_rmtree(r->tmp);
    free(r->dir);
    free(r->tmp);
    free(r);
}

static void test_crash_inline(void **state)
{
    (void)state;
    run_crash_test(LSM_SCHED_INLINE, LSM_COMPACTION_LEVELED);
}

static void test_crash_threads(void **state)
{
    (void)state;
    run_crash_test(LSM_SCHED_THREADS, LSM_COMPACTION_LEVELED);
}

static void test_crash_inline_tiered(void **state)
{
    (void)state;
    run_crash_test(LSM_SCHED_INLINE, LSM_COMPACTION_TIERED);
}

static void test_crash_threads_tiered(void **state)
{
    (void)state;
    run_crash_test(LSM_SCHED_THREADS, LSM_COMPACTION_TIERED);
}

static void test_crash_inline_simple(void **state)
{
    (void)state;
    run_crash_test(LSM_SCHED_INLINE, LSM_COMPACTION_SIMPLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_inline),
        cmocka_unit_test(test_crash_threads),
        cmocka_unit_test(test_crash_inline_tiered),
        cmocka_unit_test(test_crash_threads_tiered),
        cmocka_unit_test(test_crash_inline_simple),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
