/*
 * test_model.c: a model-based randomized test of the public API (lsm.h only).
 *
 * A plain in-memory model (a fixed, sorted universe of keys with a
 * present/value slot per key) receives the same operations as the engine:
 * put (overwrites, empty values, keys up to a few KB, binary keys with 0x00
 * and 0xff bytes, keys that are prefixes of other keys), delete (of present,
 * absent and never-written keys), get (value and presence), scans with every
 * kind of bound (included, excluded, unbounded, lo > hi, lo == hi), flush,
 * full compaction and clean close + reopen. Engine options are tiny so that
 * freezes, flushes and multi-SST compactions happen all the time.
 *
 * Iterators are also held open across many later operations (writes,
 * flushes, compactions, a refused close) and must keep returning the
 * database exactly as it was when they were opened.
 *
 * Snapshots and transactions (lsm.h, "Snapshots" and "Transactions") are
 * checked against a versioned model: every write takes the next seq, and
 * each universe key keeps its committed versions (seq, value or tombstone)
 * that a live read point may still see. A read at a snapshot must equal
 * the model at its seq; a transaction's reads the model at its read seq
 * overlaid with its own buffered writes (gets, and scans merged in key
 * order, held open past its end). Up to three snapshots and three
 * transactions (both isolation levels, mostly on a few hot keys) live
 * across writes, batches, flushes and compactions; every commit must
 * succeed or conflict exactly as the model predicts (SNAPSHOT: a key it
 * wrote has a version above its read seq; SERIALIZABLE: also a key it got,
 * or any key, written keys outside the universe included, inside a range
 * it scanned), naming a key and seq that explain the conflict, and a
 * committed one's writes take the seqs up to commit_seq. The state's
 * visible_seq, read points, watermark and transaction counters follow the
 * model, and after a flush and full compaction the bottom run holds
 * exactly the versions the watermark keeps. Reopens first check that close
 * refuses live snapshots and transactions, then end them.
 *
 * After each phase the state snapshot (lsm_state_get) is checked against the
 * invariants the header documents: memtables and L0 newest first (strictly
 * decreasing ids), every SST non-empty with first_key <= last_key, levels
 * sorted and non-overlapping, ids unique, the open iterators exactly those
 * the test holds, a scan's active sub-iterators no more than the sources
 * overlapping its range, the counters since open, and in inline mode the
 * events (counts, byte sums, flush and compaction ids and sizes) against the
 * counters and the SSTs. Reopens sometimes change the sizes, cache and
 * filter settings: old files must still read back.
 *
 * Every run is one (seed, scheduling mode, compaction strategy). A failure
 * prints the seed, the configuration, the operation number and the last
 * operations; LSM_TEST_SEED=<n> replays one seed, LSM_TEST_OPS=<n> changes
 * the number of operations per run, LSM_TEST_VERBOSE=1 prints what each run
 * exercised, LSM_MODEL_FILTER=glob runs only the tests whose names match
 * (scripts/test runs only *threads* under TSan: inline mode has no
 * threads for it to watch). Two deterministic tests cover the edges of the API:
 * open errors and the lock, key and value size limits, empty values.
 *
 * Thread safety: the test itself is single-threaded; in LSM_SCHED_THREADS
 * mode only the event callback runs on the engine's background thread, and
 * there it touches only atomics (the plain fields are inline-mode only).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODEL_DEFAULT_OPS 2500
#define MODEL_HELD_MAX 3
#define MODEL_LOG_RING 48
#define MODEL_LOG_LINE 200

static const uint64_t model_seeds[] = {1, 2, 3, 0x5eed2024u};
#define N_MODEL_SEEDS (sizeof(model_seeds) / sizeof(model_seeds[0]))

/* --- small helpers ------------------------------------------------------- */

/* memcmp order with the shorter key first on a common prefix: the order the
 * header promises for keys. */
static int key_cmp(const void *a, size_t na, const void *b, size_t nb)
{
    size_t m = na < nb ? na : nb;
    int c = m ? memcmp(a, b, m) : 0;
    if (c != 0)
        return c;
    return na < nb ? -1 : na > nb ? 1 : 0;
}

/* A printable rendering of a key for failure messages. Returns one of four
 * rotating static buffers, so up to four may appear in one printf. */
static const char *fmt_key(const void *p, size_t n)
{
    static char bufs[4][128];
    static unsigned which;
    char *out = bufs[which++ & 3];
    const uint8_t *b = p;
    size_t o = 0, i;
    for (i = 0; i < n && o < 64; i++) {
        if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\')
            out[o++] = (char)b[i];
        else
            o +=
                (size_t)snprintf(out + o, sizeof(bufs[0]) - o, "\\x%02x", b[i]);
    }
    out[o] = '\0';
    if (i < n)
        snprintf(out + o, sizeof(bufs[0]) - o, "...(%zu bytes)", n);
    return out;
}

static const char *sched_name(lsm_sched s)
{
    return s == LSM_SCHED_INLINE ? "inline" : "threads";
}

/* --- events -------------------------------------------------------------- */

#define EV_TYPES 16
#define EV_SLOTS 256
#define EV_IDS 4096

/* Counts of each event type since the last open, plus the first event whose
 * shape broke the header's description. Written by whichever thread the
 * engine calls back on, hence atomics. */
/* What a FLUSH_END said about one SST. */
typedef struct ev_flush {
    int used;
    uint64_t sst_id, size_bytes, num_entries;
} ev_flush;

typedef struct ev_counts {
    _Atomic uint64_t n[EV_TYPES]; /* by type; later types are counted too */
    _Atomic uint64_t n_bad;
    _Atomic uint64_t last_flush_begin_id;
    _Atomic uint64_t wals_recovered; /* the last RECOVERED event's count */
    int inline_mode;      /* the callback runs on the caller's thread */
    int tiered;           /* tiered compaction: level 0 names a new tier */
    _Atomic(lsm_db *) db; /* set while open, for lsm_state_get in callbacks */
    _Atomic uint64_t n_cb_state_calls;
    char first_bad[160];
    atomic_flag bad_recorded;
    /* Inline mode only, so plain fields: byte sums, the last flush of each
     * sst_id % EV_SLOTS, and the last compaction's inputs and outputs. */
    uint64_t flush_bytes, compaction_bytes;
    ev_flush flushed[EV_SLOTS];
    uint64_t c_in[EV_IDS], c_out[EV_IDS];
    size_t n_c_in, n_c_out;
    int c_overflow, c_level;
    uint64_t c_size_bytes;
} ev_counts;

static void ev_reset(ev_counts *ev, int inline_mode)
{
    for (size_t i = 0; i < EV_TYPES; i++)
        atomic_store(&ev->n[i], 0);
    atomic_store(&ev->n_bad, 0);
    atomic_store(&ev->last_flush_begin_id, 0);
    ev->inline_mode = inline_mode;
    atomic_store(&ev->db, NULL);
    atomic_store(&ev->n_cb_state_calls, 0);
    ev->flush_bytes = ev->compaction_bytes = 0;
    memset(ev->flushed, 0, sizeof(ev->flushed));
    ev->n_c_in = ev->n_c_out = 0;
    ev->c_overflow = ev->c_level = 0;
    ev->c_size_bytes = 0;
    ev->first_bad[0] = '\0';
    atomic_flag_clear(&ev->bad_recorded);
}

static void ev_bad(ev_counts *ev, const char *what, uint64_t a, uint64_t b)
{
    if (!atomic_flag_test_and_set(&ev->bad_recorded))
        snprintf(ev->first_bad, sizeof(ev->first_bad),
                 "%s (%" PRIu64 ", %" PRIu64 ")", what, a, b);
    atomic_fetch_add(&ev->n_bad, 1);
}

static int ids_contain(const lsm_sst_info *ssts, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ssts[i].sst_id == id)
            return 1;
    return 0;
}

/* At COMPACTION_END "inputs were removed, outputs added at level": checked
 * through lsm_state_get, which the header allows inside the callback. */
static void ev_check_compaction_done(ev_counts *ev, const lsm_event *e)
{
    lsm_db *db = atomic_load(&ev->db);
    if (db == NULL)
        return;
    lsm_state *st = NULL;
    atomic_fetch_add(&ev->n_cb_state_calls, 1);
    if (lsm_state_get(db, &st) != LSM_OK || st == NULL) {
        ev_bad(ev, "lsm_state_get failed inside the event callback", 0, 0);
        return;
    }
    /* A trivial move's inputs are its outputs, now in the output level
     * (checked with the outputs below) and nowhere else. */
    if (e->trivial_move && e->n_outputs != e->n_inputs)
        ev_bad(ev, "COMPACTION_END: a move's outputs are not its inputs",
               e->n_inputs, e->n_outputs);
    for (size_t i = 0; i < e->n_inputs; i++) {
        int found = ids_contain(st->l0, st->n_l0, e->inputs[i]);
        for (size_t k = 0; k < st->n_levels; k++)
            if (!e->trivial_move || st->levels[k].level != e->level)
                found |= ids_contain(st->levels[k].ssts, st->levels[k].n_ssts,
                                     e->inputs[i]);
        if (found)
            ev_bad(ev,
                   e->trivial_move
                       ? "COMPACTION_END: a moved SST is still above"
                       : "COMPACTION_END: an input is still in the tree",
                   e->inputs[i], (uint64_t)e->level);
    }
    /* Outputs are in the level the event names, or (level 0, tiered) in
     * the one new tier, whose id is the first output's. */
    const lsm_level_info *lv = NULL;
    uint64_t want_run = e->level > 0   ? (uint64_t)e->level
                        : e->n_outputs ? e->outputs[0]
                                       : 0;
    for (size_t k = 0; k < st->n_levels; k++)
        if ((uint64_t)st->levels[k].level == want_run)
            lv = &st->levels[k];
    if (e->n_outputs > 0 && lv == NULL) {
        ev_bad(ev, "COMPACTION_END: its level or tier is not in the tree",
               want_run, st->n_levels);
    } else {
        for (size_t i = 0; lv && i < e->n_outputs; i++)
            if (!ids_contain(lv->ssts, lv->n_ssts, e->outputs[i]))
                ev_bad(ev, "COMPACTION_END: an output is not in its run",
                       e->outputs[i], (uint64_t)e->level);
    }
    lsm_state_free(st);
}

/* The event callback: counts, and checks each event's documented fields. */
static void model_event_cb(void *ctx, const lsm_event *e)
{
    ev_counts *ev = ctx;
    /* Types this test does not know (added to lsm.h after it was written)
     * are counted but not judged. */
    if ((int)e->type < 1 || (int)e->type >= EV_TYPES) {
        ev_bad(ev, "event type out of range", (uint64_t)e->type, 0);
        return;
    }
    atomic_fetch_add(&ev->n[e->type], 1);
    switch (e->type) {
    case LSM_EVENT_MEMTABLE_FROZEN:
        if (e->new_memtable_id <= e->memtable_id)
            ev_bad(ev, "FROZEN: new_memtable_id not above memtable_id",
                   e->memtable_id, e->new_memtable_id);
        if (e->num_entries == 0 && e->num_range_tombstones == 0)
            ev_bad(ev, "FROZEN: an empty memtable was frozen", e->memtable_id,
                   0);
        break;
    case LSM_EVENT_FLUSH_BEGIN:
        atomic_store(&ev->last_flush_begin_id, e->memtable_id);
        break;
    case LSM_EVENT_FLUSH_END:
        if ((e->num_entries == 0 && e->num_range_tombstones == 0) ||
            e->size_bytes == 0)
            ev_bad(ev, "FLUSH_END: empty SST", e->sst_id, e->num_entries);
        if (!ev->inline_mode)
            break;
        if (atomic_load(&ev->last_flush_begin_id) != e->sst_id)
            ev_bad(ev, "FLUSH_END: sst_id differs from FLUSH_BEGIN memtable",
                   e->sst_id, atomic_load(&ev->last_flush_begin_id));
        ev->flush_bytes += e->size_bytes;
        ev->flushed[e->sst_id % EV_SLOTS].used = 1;
        ev->flushed[e->sst_id % EV_SLOTS].sst_id = e->sst_id;
        ev->flushed[e->sst_id % EV_SLOTS].size_bytes = e->size_bytes;
        ev->flushed[e->sst_id % EV_SLOTS].num_entries = e->num_entries;
        break;
    case LSM_EVENT_COMPACTION_BEGIN:
        if (!ev->inline_mode)
            break;
        ev->n_c_in = e->n_inputs;
        if (e->n_inputs > EV_IDS || (e->n_inputs && e->inputs == NULL))
            ev->c_overflow = 1;
        else if (e->n_inputs)
            memcpy(ev->c_in, e->inputs, e->n_inputs * sizeof(uint64_t));
        break;
    case LSM_EVENT_COMPACTION_END:
        /* Level 0 means a new tier, and only tiered compaction makes one. */
        if ((e->level == 0) != ev->tiered)
            ev_bad(ev, "COMPACTION_END: level 0 is for tiers only",
                   (uint64_t)e->level, (uint64_t)ev->tiered);
        ev_check_compaction_done(ev, e);
        if (!ev->inline_mode)
            break;
        ev->compaction_bytes += e->size_bytes;
        ev->c_level = e->level;
        ev->c_size_bytes = e->size_bytes;
        ev->n_c_out = e->n_outputs;
        if (e->n_outputs > EV_IDS || (e->n_outputs && e->outputs == NULL))
            ev->c_overflow = 1;
        else if (e->n_outputs)
            memcpy(ev->c_out, e->outputs, e->n_outputs * sizeof(uint64_t));
        break;
    case LSM_EVENT_BACKGROUND_ERROR:
        ev_bad(ev, "BACKGROUND_ERROR", (uint64_t)e->rc, 0);
        break;
    case LSM_EVENT_RECOVERED:
        atomic_store(&ev->wals_recovered, e->n_wals_recovered);
        break;
    default:
        break;
    }
}

/* --- the model ----------------------------------------------------------- */

typedef struct ukey {
    uint8_t *b;
    size_t n;
} ukey;

/* The expected database: one slot per universe key. */
typedef struct mstate {
    uint8_t *present;
    uint8_t **val; /* malloc'd, owned by the mstate; may be NULL if nval 0 */
    size_t *nval;
    size_t n_live;
} mstate;

/* An iterator held open, with what it must return: the model's content in
 * its range at the moment it was opened. */
typedef struct held_iter {
    lsm_iter *it;
    size_t n, pos;
    size_t *idx; /* universe indices, ascending */
    uint8_t **val;
    size_t *nval;
    uint64_t opened_at_op;
    char bounds[MODEL_LOG_LINE];
} held_iter;

/* One generated bound; key is heap memory the caller frees right after
 * lsm_scan, so an engine that kept pointing at it would be caught by ASan. */
typedef struct gbound {
    lsm_bound_kind kind;
    uint8_t *key;
    size_t n;
    int pass_null; /* UNBOUNDED given as a NULL pointer */
    /* On a lower bound: [key, hi) are the bounds of the keys starting with
     * key, and the scan is lsm_scan_prefix of key (prefix_bounds). */
    int prefix_scan;
} gbound;

/* One committed version of a universe key, in the versioned model. unit_lo
 * and unit_hi are the seqs of the whole write call it came from (a batch or
 * a commit): within one call the engine may order the keys differently. */
typedef struct mversion {
    uint64_t seq, unit_lo, unit_hi;
    int tomb;
    int range;    /* the tombstone is a range delete's: no entry of its own */
    uint8_t *val; /* malloc'd copy, NULL for a tombstone */
    size_t nval;
} mversion;

/* Every version of one key a read point may still see, oldest first: the
 * ones above the watermark plus the newest at or below it (what the
 * engine keeps; with no watermark, only the newest). */
typedef struct mhist {
    mversion *v;
    size_t n, cap;
} mhist;

/* A delete of a key outside the universe ("probe" keys), kept while a read
 * point may see it: a transaction's scanned range may hold one. */
typedef struct mprobe {
    uint8_t key[16];
    size_t n;
    uint64_t seq;
} mprobe;

/* A range delete [lo, hi), kept while a read point may see it (as probes
 * are): a transaction's scanned range may meet it between universe keys. */
typedef struct mrdel {
    uint8_t *lo, *hi;
    size_t nlo, nhi;
    uint64_t seq;
} mrdel;

/* A bound with its own copy of the key (a transaction's scanned range). */
typedef struct mrange {
    gbound lo, hi;
} mrange;

#define MODEL_SNAPS_MAX 3
#define MODEL_TXNS_MAX 3
#define MODEL_HOT_KEYS 8

/* A live snapshot and what the model says about it. */
typedef struct msnap {
    lsm_snapshot *s;
    uint64_t id, seq, taken_at_op;
} msnap;

/* An open transaction: its buffered writes (per universe key: 0 none,
 * 1 put of wval, 2 delete), the keys it read and the ranges it scanned. */
typedef struct mtxn {
    lsm_txn *t;
    lsm_isolation iso;
    uint64_t id, read_seq, began_at_op;
    uint8_t *wkind;
    uint8_t **wval;
    size_t *nwval;
    size_t n_writes;
    uint8_t *rset;
    mrange *ranges;
    size_t n_ranges, cap_ranges;
} mtxn;

/* What a read is made against: the database now (NULL view), a snapshot,
 * or a transaction (its read point overlaid with its own writes). */
typedef struct mview {
    const msnap *snap;
    const mtxn *txn;
} mview;

typedef struct run {
    uint64_t seed;
    lsm_options opt;
    char tmp[64];
    char dir[128];
    lsm_db *db;
    uint64_t rng;
    size_t n_keys;
    ukey *keys; /* sorted, distinct */
    mstate m;
    /* The versioned model: r->seq is the engine's newest seq (every write
     * takes one), hist[] the versions per universe key, probes[] the
     * deletes of other keys a read point may see. */
    uint64_t seq;
    mhist *hist;
    mprobe *probes;
    size_t n_probes, cap_probes;
    mrdel *rdels;
    size_t n_rdels, cap_rdels;
    size_t hot_base; /* keys [hot_base, +MODEL_HOT_KEYS): contended */
    msnap snaps[MODEL_SNAPS_MAX];
    size_t n_snaps;
    mtxn txns[MODEL_TXNS_MAX];
    size_t n_txns;
    uint64_t next_read_id; /* lsm_snapshot_id of the next one taken */
    held_iter held[MODEL_HELD_MAX];
    size_t n_held;
    size_t n_open_iters; /* held + transient */
    uint64_t op, n_ops, version;
    char log[MODEL_LOG_RING][MODEL_LOG_LINE];
    struct {
        uint64_t puts, deletes, gets, scans, user_bytes;
        uint64_t commits, aborts, conflicts[4]; /* by lsm_conflict_kind */
    } cnt;                                      /* since open */
    ev_counts ev;
    struct {
        uint64_t flushes, compactions, reopens, scans, empty_scans;
        uint64_t frozen, sst_flushes;
        size_t max_l0, max_l1, max_imm, max_held;
        uint64_t snaps, snap_reads, txns, txn_reads, txn_scans, commits;
        uint64_t conflicts[4], max_versions, range_deletes;
        uint64_t prefix_scans, prefix_checks, prefix_skips;
    } stats; /* coverage, printed with LSM_TEST_VERBOSE=1 */
} run;

/* Prints everything needed to reproduce a failure, then fails the test. */
static void run_fail(run *r, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "\n=== MODEL FAILURE (test_model.c:%d): %s\n", line, cond);
    fprintf(stderr,
            "  seed=%" PRIu64 " (replay: LSM_TEST_SEED=%" PRIu64
            ") sched=%s compaction=%s op=%" PRIu64 "/%" PRIu64 "\n",
            r->seed, r->seed, sched_name(r->opt.sched),
            lsm_compaction_name(r->opt.compaction), r->op, r->n_ops);
    fprintf(stderr,
            "  options: target_sst_size=%zu block_size=%zu "
            "num_memtable_limit=%zu block_cache_bytes=%zu bloom=%u "
            "max_levels=%u cache_index_and_filter_blocks=%d "
            "compression=%s\n",
            r->opt.target_sst_size, r->opt.block_size,
            r->opt.num_memtable_limit, r->opt.block_cache_bytes,
            r->opt.bloom_bits_per_key, r->opt.max_levels,
            r->opt.cache_index_and_filter_blocks,
            lsm_compression_name(r->opt.compression));
    fprintf(stderr, "  ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  last engine message: %s\n  last operations:\n",
            lsm_errmsg());
    uint64_t first = r->op >= MODEL_LOG_RING ? r->op - MODEL_LOG_RING + 1 : 0;
    for (uint64_t i = first; i <= r->op; i++)
        if (r->log[i % MODEL_LOG_RING][0])
            fprintf(stderr, "    #%" PRIu64 " %s\n", i,
                    r->log[i % MODEL_LOG_RING]);
    test_rmtree(r->tmp);
    fail();
}

#define CHECK(r, cond, ...)                                                    \
    do {                                                                       \
        if (!(cond))                                                           \
            run_fail((r), __LINE__, #cond, __VA_ARGS__);                       \
    } while (0)

/* Records a description of operation r->op (appending to it if the same
 * operation logs twice). */
static void run_log(run *r, const char *fmt, ...)
{
    char *line = r->log[r->op % MODEL_LOG_RING];
    size_t used = strlen(line);
    if (used >= MODEL_LOG_LINE - 4)
        return;
    if (used)
        line[used++] = ';', line[used++] = ' ', line[used] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + used, MODEL_LOG_LINE - used, fmt, ap);
    va_end(ap);
}

static void run_next_op(run *r)
{
    r->op++;
    r->log[r->op % MODEL_LOG_RING][0] = '\0';
}

static int ukey_qsort_cmp(const void *a, const void *b)
{
    const ukey *x = a, *y = b;
    return key_cmp(x->b, x->n, y->b, y->n);
}

static void universe_add(run *r, size_t cap, const uint8_t *b, size_t n)
{
    if (r->n_keys >= cap)
        return;
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, b, n);
    r->keys[r->n_keys].b = copy;
    r->keys[r->n_keys].n = n;
    r->n_keys++;
}

/* The key universe of one seed: mostly short text keys, some binary keys
 * with 0x00/0xff bytes, keys extending other keys (prefix pairs), and a few
 * long keys of 0.5 to 4 KB. Sorted and deduplicated. */
static void universe_build(run *r)
{
    static const uint8_t edgy[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
    size_t target = 160 + test_rng_below(&r->rng, 80);
    size_t cap = target + 4;
    uint8_t buf[4200];
    r->keys = calloc(cap, sizeof(ukey));
    assert_non_null(r->keys);
    r->n_keys = 0;
    universe_add(r, cap, (const uint8_t *)"\x00", 1);
    universe_add(r, cap, (const uint8_t *)"\xff", 1);
    universe_add(r, cap, (const uint8_t *)"\xff\xff", 2);
    universe_add(r, cap, (const uint8_t *)"a", 1);
    while (r->n_keys < cap) {
        size_t kind = test_rng_below(&r->rng, 100), n;
        if (kind < 65) {
            n = (size_t)snprintf((char *)buf, sizeof(buf), "key%05u",
                                 (unsigned)test_rng_below(&r->rng, 100000));
        } else if (kind < 80) {
            n = 1 + test_rng_below(&r->rng, 6);
            for (size_t i = 0; i < n; i++)
                buf[i] = test_rng_below(&r->rng, 2)
                             ? edgy[test_rng_below(&r->rng, sizeof(edgy))]
                             : (uint8_t)test_rng_next(&r->rng);
        } else if (kind < 96) {
            const ukey *base = &r->keys[test_rng_below(&r->rng, r->n_keys)];
            if (base->n > 4096)
                continue;
            memcpy(buf, base->b, base->n);
            n = base->n;
            size_t extra = 1 + test_rng_below(&r->rng, 3);
            for (size_t i = 0; i < extra; i++)
                buf[n++] = edgy[test_rng_below(&r->rng, sizeof(edgy))];
        } else {
            n = (size_t)snprintf((char *)buf, sizeof(buf), "long%04u",
                                 (unsigned)test_rng_below(&r->rng, 10000));
            size_t len = 500 + test_rng_below(&r->rng, 3600);
            for (; n < len; n++)
                buf[n] = (uint8_t)('a' + test_rng_below(&r->rng, 26));
        }
        universe_add(r, cap, buf, n);
    }
    qsort(r->keys, r->n_keys, sizeof(ukey), ukey_qsort_cmp);
    size_t out = 0;
    for (size_t i = 0; i < r->n_keys; i++) {
        if (out > 0 && key_cmp(r->keys[out - 1].b, r->keys[out - 1].n,
                               r->keys[i].b, r->keys[i].n) == 0) {
            free(r->keys[i].b);
            continue;
        }
        r->keys[out++] = r->keys[i];
    }
    r->n_keys = out;
}

/* Index of key in the universe, or -1. */
static long universe_find(const run *r, const void *k, size_t n)
{
    size_t lo = 0, hi = r->n_keys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(r->keys[mid].b, r->keys[mid].n, k, n);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void mstate_init(mstate *m, size_t n)
{
    m->present = calloc(n, 1);
    m->val = calloc(n, sizeof(uint8_t *));
    m->nval = calloc(n, sizeof(size_t));
    assert_true(m->present && m->val && m->nval);
    m->n_live = 0;
}

static void mstate_free(mstate *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m->val[i]);
    free(m->present);
    free(m->val);
    free(m->nval);
}

/* Sets slot idx to value v (ownership of v passes to the model). */
static void mstate_set(mstate *m, size_t idx, uint8_t *v, size_t nv)
{
    if (!m->present[idx])
        m->n_live++;
    free(m->val[idx]);
    m->present[idx] = 1;
    m->val[idx] = v;
    m->nval[idx] = nv;
}

static void mstate_clear(mstate *m, size_t idx)
{
    if (m->present[idx])
        m->n_live--;
    free(m->val[idx]);
    m->present[idx] = 0;
    m->val[idx] = NULL;
    m->nval[idx] = 0;
}

/* --- the versioned model ------------------------------------------------- */

#define MODEL_NO_WATERMARK UINT64_MAX

/* The oldest read point of a live snapshot or open transaction, or
 * MODEL_NO_WATERMARK when there is none (the engine's watermark). */
static uint64_t model_watermark(const run *r)
{
    uint64_t w = MODEL_NO_WATERMARK;
    for (size_t i = 0; i < r->n_snaps; i++)
        if (r->snaps[i].seq < w)
            w = r->snaps[i].seq;
    for (size_t i = 0; i < r->n_txns; i++)
        if (r->txns[i].read_seq < w)
            w = r->txns[i].read_seq;
    return w;
}

/* Drops the versions of h nobody can read any more: all but the newest at
 * or below the watermark w (all but the newest when there is none). */
static void hist_prune(mhist *h, uint64_t w)
{
    size_t keep_from = 0;
    for (size_t i = 0; i < h->n; i++)
        if (w == MODEL_NO_WATERMARK || h->v[i].seq <= w)
            keep_from = i;
    if (keep_from == 0)
        return;
    for (size_t i = 0; i < keep_from; i++)
        free(h->v[i].val);
    memmove(h->v, h->v + keep_from, (h->n - keep_from) * sizeof(mversion));
    h->n -= keep_from;
}

/* Drops the probe deletes at or below the watermark (all of them when
 * there is none): no read point can tell them from no write at all. */
static void probes_prune(run *r, uint64_t w)
{
    size_t out = 0;
    for (size_t i = 0; i < r->n_probes; i++)
        if (w != MODEL_NO_WATERMARK && r->probes[i].seq > w)
            r->probes[out++] = r->probes[i];
    r->n_probes = out;
}

/* Drops the range deletes at or below the watermark, as probes_prune. */
static void rdels_prune(run *r, uint64_t w)
{
    size_t out = 0;
    for (size_t i = 0; i < r->n_rdels; i++) {
        if (w != MODEL_NO_WATERMARK && r->rdels[i].seq > w) {
            r->rdels[out++] = r->rdels[i];
        } else {
            free(r->rdels[i].lo);
            free(r->rdels[i].hi);
        }
    }
    r->n_rdels = out;
}

/* Prunes the whole model after the watermark moved up (a read point ended). */
static void model_gc(run *r)
{
    uint64_t w = model_watermark(r);
    for (size_t i = 0; i < r->n_keys; i++)
        hist_prune(&r->hist[i], w);
    probes_prune(r, w);
    rdels_prune(r, w);
}

/* Records the next committed write: of universe key idx (v a value to copy,
 * or tomb), or of another key kb (always a delete). The write takes seq
 * r->seq + 1, inside the write call whose seqs are [unit_lo, unit_hi]. */
static void model_commit_write(run *r, long idx, const void *kb, size_t kn,
                               const uint8_t *v, size_t nv, int tomb,
                               uint64_t unit_lo, uint64_t unit_hi)
{
    uint64_t seq = ++r->seq;
    uint64_t w = model_watermark(r);
    if (idx < 0) {
        if (w == MODEL_NO_WATERMARK || kn > sizeof(r->probes[0].key))
            return;
        if (r->n_probes == r->cap_probes) {
            r->cap_probes = r->cap_probes ? 2 * r->cap_probes : 16;
            r->probes = realloc(r->probes, r->cap_probes * sizeof(mprobe));
            assert_non_null(r->probes);
        }
        mprobe *p = &r->probes[r->n_probes++];
        memcpy(p->key, kb, kn);
        p->n = kn;
        p->seq = seq;
        return;
    }
    mhist *h = &r->hist[idx];
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 4;
        h->v = realloc(h->v, h->cap * sizeof(mversion));
        assert_non_null(h->v);
    }
    mversion *mv = &h->v[h->n++];
    mv->seq = seq;
    mv->unit_lo = unit_lo;
    mv->unit_hi = unit_hi;
    mv->tomb = tomb;
    mv->range = 0;
    mv->nval = tomb ? 0 : nv;
    mv->val = NULL;
    if (!tomb) {
        mv->val = malloc(nv ? nv : 1);
        assert_non_null(mv->val);
        if (nv)
            memcpy(mv->val, v, nv);
    }
    hist_prune(h, w);
    if (h->n > r->stats.max_versions)
        r->stats.max_versions = h->n;
}

/* Records a range delete of [lo, hi) committed inside the write call
 * whose seqs are [unit_lo, unit_hi]: one seq, and a tombstone version of
 * every universe key it covers (what reads at and above it see). */
static void model_commit_range(run *r, const uint8_t *lo, size_t nlo,
                               const uint8_t *hi, size_t nhi, uint64_t unit_lo,
                               uint64_t unit_hi)
{
    uint64_t seq = r->seq + 1;
    for (size_t i = 0; i < r->n_keys; i++) {
        const ukey *k = &r->keys[i];
        if (key_cmp(k->b, k->n, lo, nlo) < 0 ||
            key_cmp(k->b, k->n, hi, nhi) >= 0)
            continue;
        r->seq = seq - 1; /* every covered key takes the same seq */
        model_commit_write(r, (long)i, NULL, 0, NULL, 0, 1, unit_lo, unit_hi);
        r->hist[i].v[r->hist[i].n - 1].range = 1;
        mstate_clear(&r->m, i);
    }
    r->seq = seq;
    if (model_watermark(r) == MODEL_NO_WATERMARK)
        return;
    if (r->n_rdels == r->cap_rdels) {
        r->cap_rdels = r->cap_rdels ? 2 * r->cap_rdels : 8;
        r->rdels = realloc(r->rdels, r->cap_rdels * sizeof(mrdel));
        assert_non_null(r->rdels);
    }
    mrdel *d = &r->rdels[r->n_rdels++];
    d->lo = malloc(nlo);
    d->hi = malloc(nhi);
    assert_true(d->lo && d->hi);
    memcpy(d->lo, lo, nlo);
    memcpy(d->hi, hi, nhi);
    d->nlo = nlo;
    d->nhi = nhi;
    d->seq = seq;
}

/* One plain write (lsm_put, lsm_delete): a call of its own. */
static void model_write_one(run *r, long idx, const void *kb, size_t kn,
                            const uint8_t *v, size_t nv, int tomb)
{
    model_commit_write(r, idx, kb, kn, v, nv, tomb, r->seq + 1, r->seq + 1);
}

/* The newest version of key idx with seq <= seq, or NULL. */
static const mversion *hist_at(const run *r, size_t idx, uint64_t seq)
{
    const mhist *h = &r->hist[idx];
    for (size_t i = h->n; i > 0; i--)
        if (h->v[i - 1].seq <= seq)
            return &h->v[i - 1];
    return NULL;
}

/* The newest version of key idx, or NULL. */
static const mversion *hist_newest(const run *r, size_t idx)
{
    const mhist *h = &r->hist[idx];
    return h->n ? &h->v[h->n - 1] : NULL;
}

/* What a read of key idx through view v must see: 1 and the value, or 0.
 * A NULL view is the database now. */
static int view_lookup(const run *r, const mview *v, size_t idx,
                       const uint8_t **val, size_t *nval)
{
    *val = NULL;
    *nval = 0;
    if (v == NULL) {
        if (!r->m.present[idx])
            return 0;
        *val = r->m.val[idx];
        *nval = r->m.nval[idx];
        return 1;
    }
    if (v->txn && v->txn->wkind[idx]) {
        if (v->txn->wkind[idx] == 2)
            return 0;
        *val = v->txn->wval[idx];
        *nval = v->txn->nwval[idx];
        return 1;
    }
    uint64_t seq = v->txn ? v->txn->read_seq : v->snap->seq;
    const mversion *mv = hist_at(r, idx, seq);
    if (mv == NULL || mv->tomb)
        return 0;
    *val = mv->val;
    *nval = mv->nval;
    return 1;
}

/* The entries a flush and a full compaction leave in the bottom run: per
 * key every version above the watermark plus the newest at or below it
 * unless that is a tombstone (nothing lies below the bottom), and every
 * probe delete above the watermark. */
static uint64_t model_bottom_entries(const run *r)
{
    uint64_t w = model_watermark(r), n = 0;
    for (size_t i = 0; i < r->n_keys; i++) {
        const mhist *h = &r->hist[i];
        for (size_t k = 0; k < h->n; k++) {
            const mversion *mv = &h->v[k];
            int newest_below = (w == MODEL_NO_WATERMARK || mv->seq <= w) &&
                               (k + 1 == h->n || (w != MODEL_NO_WATERMARK &&
                                                  h->v[k + 1].seq > w));
            /* A range delete's tombstone is no entry (the SST keeps the
             * range apart), and it drops what it covers at or below w. */
            if (w != MODEL_NO_WATERMARK && mv->seq > w)
                n += !mv->range;
            else if (newest_below && !mv->tomb)
                n++;
        }
    }
    return n + r->n_probes;
}

/* A fresh value for universe key idx: the version and key index first (so a
 * mismatch is readable), random bytes after. Sizes: 10% empty, mostly small,
 * some larger than a block, a few larger than the tiny SST target. */
static void gen_value(run *r, size_t idx, uint8_t **out, size_t *nout)
{
    size_t cls = test_rng_below(&r->rng, 100), n;
    if (cls < 10)
        n = 0;
    else if (cls < 70)
        n = 1 + test_rng_below(&r->rng, 64);
    else if (cls < 96)
        n = 65 + test_rng_below(&r->rng, 540);
    else
        n = 600 + test_rng_below(&r->rng, 4400);
    uint8_t *v = malloc(n ? n : 1);
    assert_non_null(v);
    char head[48];
    int nh =
        snprintf(head, sizeof(head), "v%" PRIu64 "k%zu:", ++r->version, idx);
    size_t i = 0;
    for (; i < n && i < (size_t)nh; i++)
        v[i] = (uint8_t)head[i];
    for (; i < n; i++)
        v[i] = (uint8_t)test_rng_next(&r->rng);
    *out = v;
    *nout = n;
}

/* A key that is certainly not in the universe (so never holds a value). */
static void gen_probe_key(run *r, uint8_t *buf, size_t *n)
{
    do {
        *n = 7 + test_rng_below(&r->rng, 6);
        for (size_t i = 0; i < *n; i++)
            buf[i] = (uint8_t)test_rng_next(&r->rng);
    } while (universe_find(r, buf, *n) >= 0);
}

/* --- scans --------------------------------------------------------------- */

static void gen_bound_key(run *r, gbound *g)
{
    size_t c = test_rng_below(&r->rng, 100);
    const ukey *u = &r->keys[test_rng_below(&r->rng, r->n_keys)];
    g->key = malloc(u->n + 8);
    assert_non_null(g->key);
    if (c < 60) {
        memcpy(g->key, u->b, u->n);
        g->n = u->n;
    } else if (c < 78) { /* just above u: u + 0x00 */
        memcpy(g->key, u->b, u->n);
        g->key[u->n] = 0x00;
        g->n = u->n + 1;
    } else if (c < 90 && u->n > 1) { /* a prefix of u, just below it */
        memcpy(g->key, u->b, u->n - 1);
        g->n = u->n - 1;
    } else {
        g->n = 1 + test_rng_below(&r->rng, 4);
        for (size_t i = 0; i < g->n; i++)
            g->key[i] = (uint8_t)test_rng_next(&r->rng);
    }
}

static lsm_bound_kind gen_kind(run *r)
{
    static const lsm_bound_kind kinds[] = {
        LSM_BOUND_UNBOUNDED, LSM_BOUND_INCLUDED, LSM_BOUND_EXCLUDED};
    return kinds[test_rng_below(&r->rng, 3)];
}

/* Random bounds of every kind, including the empty cases: lo == hi with at
 * least one end excluded, and lo > hi. */
static void gen_bounds(run *r, gbound *lo, gbound *hi)
{
    size_t special = test_rng_below(&r->rng, 100);
    memset(lo, 0, sizeof(*lo));
    memset(hi, 0, sizeof(*hi));
    lo->kind = gen_kind(r);
    hi->kind = gen_kind(r);
    gen_bound_key(r, lo);
    if (special < 14) { /* lo == hi */
        hi->key = malloc(lo->n);
        assert_non_null(hi->key);
        memcpy(hi->key, lo->key, lo->n);
        hi->n = lo->n;
        if (test_rng_below(&r->rng, 2))
            lo->kind = hi->kind = LSM_BOUND_EXCLUDED;
        else if (test_rng_below(&r->rng, 2))
            lo->kind = hi->kind = LSM_BOUND_INCLUDED;
    } else {
        gen_bound_key(r, hi);
        int c = key_cmp(lo->key, lo->n, hi->key, hi->n);
        int want_inverted = special < 26;
        if ((want_inverted && c < 0) ||
            (!want_inverted && c > 0 && test_rng_below(&r->rng, 10) < 7)) {
            gbound t = *lo;
            *lo = *hi;
            *hi = t;
        }
        if (want_inverted) {
            if (lo->kind == LSM_BOUND_UNBOUNDED)
                lo->kind = LSM_BOUND_INCLUDED;
            if (hi->kind == LSM_BOUND_UNBOUNDED)
                hi->kind = LSM_BOUND_INCLUDED;
        }
    }
    lo->pass_null =
        lo->kind == LSM_BOUND_UNBOUNDED && test_rng_below(&r->rng, 2);
    hi->pass_null =
        hi->kind == LSM_BOUND_UNBOUNDED && test_rng_below(&r->rng, 2);
}

static void fmt_bounds(const gbound *lo, const gbound *hi, char *out,
                       size_t cap)
{
    snprintf(out, cap, "%s%s, %s%s",
             lo->kind == LSM_BOUND_UNBOUNDED  ? "(-inf"
             : lo->kind == LSM_BOUND_INCLUDED ? "["
                                              : "(",
             lo->kind == LSM_BOUND_UNBOUNDED ? "" : fmt_key(lo->key, lo->n),
             hi->kind == LSM_BOUND_UNBOUNDED ? "" : fmt_key(hi->key, hi->n),
             hi->kind == LSM_BOUND_UNBOUNDED  ? "+inf)"
             : hi->kind == LSM_BOUND_INCLUDED ? "]"
                                              : ")");
}

static int in_bounds(const ukey *k, const gbound *lo, const gbound *hi)
{
    if (lo->kind != LSM_BOUND_UNBOUNDED) {
        int c = key_cmp(k->b, k->n, lo->key, lo->n);
        if (c < 0 || (c == 0 && lo->kind == LSM_BOUND_EXCLUDED))
            return 0;
    }
    if (hi->kind != LSM_BOUND_UNBOUNDED) {
        int c = key_cmp(k->b, k->n, hi->key, hi->n);
        if (c > 0 || (c == 0 && hi->kind == LSM_BOUND_EXCLUDED))
            return 0;
    }
    return 1;
}

/* Opens an engine iterator over [lo, hi] through view (NULL: lsm_scan of
 * the database now; a snapshot: lsm_scan_at; a transaction: lsm_txn_scan)
 * and records, from the model as it is now, the exact sequence it must
 * produce. Frees the bound keys. */
static void held_open(run *r, held_iter *h, gbound *lo, gbound *hi,
                      const mview *view)
{
    memset(h, 0, sizeof(*h));
    fmt_bounds(lo, hi, h->bounds, sizeof(h->bounds));
    if (view) {
        size_t used = strlen(h->bounds);
        snprintf(h->bounds + used, sizeof(h->bounds) - used, " %s %" PRIu64,
                 view->txn ? "in txn" : "@snapshot",
                 view->txn ? view->txn->id : view->snap->id);
    }
    h->idx = malloc(sizeof(size_t) * (r->n_keys + 1));
    h->val = malloc(sizeof(uint8_t *) * (r->n_keys + 1));
    h->nval = malloc(sizeof(size_t) * (r->n_keys + 1));
    assert_true(h->idx && h->val && h->nval);
    for (size_t i = 0; i < r->n_keys; i++) {
        const uint8_t *v;
        size_t nv;
        if (!in_bounds(&r->keys[i], lo, hi) ||
            !view_lookup(r, view, i, &v, &nv))
            continue;
        h->idx[h->n] = i;
        h->nval[h->n] = nv;
        h->val[h->n] = malloc(nv ? nv : 1);
        assert_non_null(h->val[h->n]);
        if (nv)
            memcpy(h->val[h->n], v, nv);
        h->n++;
    }
    lsm_bound blo = {lo->kind, lo->key, lo->n};
    lsm_bound bhi = {hi->kind, hi->key, hi->n};
    if (lo->kind == LSM_BOUND_UNBOUNDED)
        blo.key = "ignored", blo.nkey = 7;
    if (hi->kind == LSM_BOUND_UNBOUNDED)
        bhi.key = "ignored", bhi.nkey = 7;
    h->opened_at_op = r->op;
    const lsm_bound *plo = lo->pass_null ? NULL : &blo;
    const lsm_bound *phi = hi->pass_null ? NULL : &bhi;
    int rc;
    if (lo->prefix_scan && view == NULL)
        rc = lsm_scan_prefix(r->db, lo->key, lo->n, &h->it);
    else if (lo->prefix_scan && view->txn)
        rc = lsm_txn_scan_prefix(view->txn->t, lo->key, lo->n, &h->it);
    else if (lo->prefix_scan)
        rc = lsm_scan_prefix_at(r->db, view->snap->s, lo->key, lo->n, &h->it);
    else if (view == NULL)
        rc = lsm_scan(r->db, plo, phi, &h->it);
    else if (view->txn)
        rc = lsm_txn_scan(view->txn->t, plo, phi, &h->it);
    else
        rc = lsm_scan_at(r->db, view->snap->s, plo, phi, &h->it);
    free(lo->key);
    free(hi->key);
    lo->key = hi->key = NULL;
    r->cnt.scans++;
    r->stats.scans++;
    if (h->n == 0)
        r->stats.empty_scans++;
    CHECK(r, rc == LSM_OK && h->it != NULL, "scan %s: rc=%d (%s)", h->bounds,
          rc, lsm_strerror(rc));
    r->n_open_iters++;
}

/* Checks up to max_steps more entries of a held iterator. Returns 1 once the
 * iterator has been checked to be past its end. */
static int held_step(run *r, held_iter *h, size_t max_steps)
{
    for (size_t s = 0; s < max_steps; s++) {
        if (h->pos == h->n) {
            size_t nk = 0;
            const void *k =
                lsm_iter_valid(h->it) ? lsm_iter_key(h->it, &nk) : NULL;
            CHECK(r, k == NULL,
                  "scan %s opened at op %" PRIu64
                  ": extra entry %s after the %zu expected",
                  h->bounds, h->opened_at_op, k ? fmt_key(k, nk) : "", h->n);
            return 1;
        }
        const ukey *want = &r->keys[h->idx[h->pos]];
        CHECK(r, lsm_iter_valid(h->it),
              "scan %s opened at op %" PRIu64
              ": ended after %zu of %zu entries, missing %s",
              h->bounds, h->opened_at_op, h->pos, h->n,
              fmt_key(want->b, want->n));
        size_t nk = 0, nv = 0;
        const void *k = lsm_iter_key(h->it, &nk);
        const void *v = lsm_iter_value(h->it, &nv);
        CHECK(r, k != NULL && key_cmp(k, nk, want->b, want->n) == 0,
              "scan %s opened at op %" PRIu64 ": entry %zu is %s, expected %s",
              h->bounds, h->opened_at_op, h->pos, k ? fmt_key(k, nk) : "(null)",
              fmt_key(want->b, want->n));
        CHECK(
            r,
            nv == h->nval[h->pos] &&
                (nv == 0 || (v != NULL && memcmp(v, h->val[h->pos], nv) == 0)),
            "scan %s opened at op %" PRIu64
            ": key %s has value %s (%zu bytes), expected %s (%zu bytes)",
            h->bounds, h->opened_at_op, fmt_key(want->b, want->n),
            v ? fmt_key(v, nv < 24 ? nv : 24) : "(null)", nv,
            fmt_key(h->val[h->pos],
                    h->nval[h->pos] < 24 ? h->nval[h->pos] : 24),
            h->nval[h->pos]);
        CHECK(r, lsm_iter_num_active(h->it) >= 1,
              "scan %s: valid iterator with no active sub-iterator", h->bounds);
        int rc = lsm_iter_next(h->it);
        CHECK(r, rc == LSM_OK, "lsm_iter_next in scan %s: rc=%d (%s)",
              h->bounds, rc, lsm_strerror(rc));
        h->pos++;
    }
    return 0;
}

static void held_close(run *r, held_iter *h)
{
    lsm_iter_close(h->it);
    h->it = NULL;
    r->n_open_iters--;
    for (size_t i = 0; i < h->n; i++)
        free(h->val[i]);
    free(h->idx);
    free(h->val);
    free(h->nval);
}

/* Runs a held iterator to its end, checks it, closes it and drops it from
 * the held list. */
static void held_finish(run *r, size_t which)
{
    held_iter *h = &r->held[which];
    while (!held_step(r, h, 64))
        ;
    held_close(r, h);
    r->held[which] = r->held[--r->n_held];
}

/* --- state invariants ---------------------------------------------------- */

static void check_sst(run *r, const lsm_sst_info *s, const char *where)
{
    /* Range tombstones alone make an SST too. */
    CHECK(r, s->num_entries > 0 || s->n_range_tombstones > 0,
          "%s: SST %" PRIu64 " has no entries", where, s->sst_id);
    CHECK(r, s->file_size > 0 && (s->num_blocks >= 1 || s->num_entries == 0),
          "%s: SST %" PRIu64 " file_size=%" PRIu64 " num_blocks=%" PRIu64,
          where, s->sst_id, s->file_size, s->num_blocks);
    CHECK(r,
          s->nfirst_key >= 1 && s->nlast_key >= 1 && s->first_key &&
              s->last_key,
          "%s: SST %" PRIu64 " has an empty first/last key", where, s->sst_id);
    CHECK(r,
          key_cmp(s->first_key, s->nfirst_key, s->last_key, s->nlast_key) <= 0,
          "%s: SST %" PRIu64 " first_key %s > last_key %s", where, s->sst_id,
          fmt_key(s->first_key, s->nfirst_key),
          fmt_key(s->last_key, s->nlast_key));
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The versioned part of a state: the newest visible seq is the model's,
 * the read points are exactly the live snapshots and open transactions
 * (oldest first, with their ids, seqs and isolation), the watermark is the
 * oldest of them, and the transaction counters match the calls made. */
static void check_read_points(run *r, const lsm_state *st, const char *when)
{
    CHECK(r, st->visible_seq == r->seq,
          "%s: visible_seq=%" PRIu64
          ", the model's newest write has seq %" PRIu64,
          when, st->visible_seq, r->seq);
    CHECK(r, st->n_read_points == r->n_snaps + r->n_txns,
          "%s: %zu read points, the test holds %zu snapshots and %zu "
          "transactions",
          when, st->n_read_points, r->n_snaps, r->n_txns);
    for (size_t i = 0; i < st->n_read_points; i++) {
        const lsm_read_point *p = &st->read_points[i];
        if (i > 0)
            CHECK(r,
                  p->seq >= st->read_points[i - 1].seq &&
                      p->id > st->read_points[i - 1].id,
                  "%s: read points not oldest first: id %" PRIu64
                  " seq %" PRIu64 " after id %" PRIu64 " seq %" PRIu64,
                  when, p->id, p->seq, st->read_points[i - 1].id,
                  st->read_points[i - 1].seq);
        int found = 0;
        for (size_t k = 0; k < r->n_snaps; k++)
            if (r->snaps[k].id == p->id)
                found = !p->is_txn && p->seq == r->snaps[k].seq;
        for (size_t k = 0; k < r->n_txns; k++)
            if (r->txns[k].id == p->id)
                found = p->is_txn && p->seq == r->txns[k].read_seq &&
                        p->isolation == r->txns[k].iso;
        CHECK(r, found,
              "%s: read point id %" PRIu64 " seq %" PRIu64
              " is_txn %d iso %d matches no snapshot or transaction the test "
              "holds",
              when, p->id, p->seq, p->is_txn, (int)p->isolation);
    }
    uint64_t w = model_watermark(r);
    CHECK(r,
          st->has_watermark == (w != MODEL_NO_WATERMARK) &&
              (w == MODEL_NO_WATERMARK || st->watermark == w),
          "%s: has_watermark=%d watermark=%" PRIu64 ", expected %s%" PRIu64,
          when, st->has_watermark, st->watermark,
          w == MODEL_NO_WATERMARK ? "none " : "", w);
    const lsm_counters *c = &st->counters;
    CHECK(r,
          c->txn_commits == r->cnt.commits && c->txn_aborts == r->cnt.aborts &&
              c->txn_conflicts_write == r->cnt.conflicts[LSM_CONFLICT_WRITE] &&
              c->txn_conflicts_read == r->cnt.conflicts[LSM_CONFLICT_READ] &&
              c->txn_conflicts_range == r->cnt.conflicts[LSM_CONFLICT_RANGE],
          "%s: txn counters commits/aborts/write/read/range = %" PRIu64
          "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64
          ", the test saw %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64
          "/%" PRIu64,
          when, c->txn_commits, c->txn_aborts, c->txn_conflicts_write,
          c->txn_conflicts_read, c->txn_conflicts_range, r->cnt.commits,
          r->cnt.aborts, r->cnt.conflicts[LSM_CONFLICT_WRITE],
          r->cnt.conflicts[LSM_CONFLICT_READ],
          r->cnt.conflicts[LSM_CONFLICT_RANGE]);
}

/* Takes a state snapshot and checks the invariants lsm.h documents. Returns
 * it for extra checks; the caller frees it with lsm_state_free. */
static lsm_state *check_state(run *r, const char *when)
{
    lsm_state *st = NULL;
    int rc = lsm_state_get(r->db, &st);
    CHECK(r, rc == LSM_OK && st != NULL, "%s: lsm_state_get rc=%d", when, rc);
    CHECK(r, st->sched == r->opt.sched && st->compaction == r->opt.compaction,
          "%s: state reports sched=%d compaction=%d", when, (int)st->sched,
          (int)st->compaction);

    /* Memtables: newest first, ids above every L0 id (flushes take the
     * oldest), a mutable memtable below its freeze threshold. */
    CHECK(r, st->memtable.size_bytes < r->opt.target_sst_size,
          "%s: mutable memtable %" PRIu64 " holds %" PRIu64
          " bytes, not frozen at target_sst_size %zu",
          when, st->memtable.memtable_id, st->memtable.size_bytes,
          r->opt.target_sst_size);
    CHECK(r,
          st->memtable.num_keys > 0 || st->memtable.n_range_tombstones > 0 ||
              st->memtable.size_bytes == 0,
          "%s: mutable memtable has 0 keys but %" PRIu64 " bytes", when,
          st->memtable.size_bytes);
    uint64_t newer = st->memtable.memtable_id;
    for (size_t i = 0; i < st->n_immutables; i++) {
        CHECK(r, st->immutables[i].memtable_id < newer,
              "%s: immutable[%zu] id %" PRIu64 " not below %" PRIu64, when, i,
              st->immutables[i].memtable_id, newer);
        CHECK(r,
              st->immutables[i].num_keys > 0 ||
                  st->immutables[i].n_range_tombstones > 0,
              "%s: immutable memtable %" PRIu64 " is empty", when,
              st->immutables[i].memtable_id);
        newer = st->immutables[i].memtable_id;
    }
    /* Open leaves recovered memtables in memory, over the limit or not,
     * until the first write flushes them. */
    if (r->opt.sched == LSM_SCHED_INLINE && r->cnt.puts + r->cnt.deletes > 0)
        CHECK(r, 1 + st->n_immutables <= r->opt.num_memtable_limit,
              "%s: inline mode keeps %zu immutables with "
              "num_memtable_limit=%zu",
              when, st->n_immutables, r->opt.num_memtable_limit);

    /* L0: newest first means strictly decreasing ids, all older than any
     * memtable still in memory. */
    for (size_t i = 0; i < st->n_l0; i++) {
        check_sst(r, &st->l0[i], when);
        CHECK(r, st->l0[i].sst_id < newer,
              "%s: L0[%zu] id %" PRIu64 " not below %" PRIu64
              " (newer memtable or L0 SST)",
              when, i, st->l0[i].sst_id, newer);
        newer = st->l0[i].sst_id;
    }

    /* Levels: NONE has L1 only, LEVELED has max_levels; each sorted by first
     * key with disjoint key ranges. */
    size_t want_levels = r->opt.compaction == LSM_COMPACTION_NONE
                             ? 1
                             : (size_t)r->opt.max_levels;
    int tiered = r->opt.compaction == LSM_COMPACTION_TIERED;
    CHECK(r, (st->compaction == LSM_COMPACTION_TIERED) == tiered,
          "%s: compaction is %s", when, lsm_compaction_name(st->compaction));
    if (tiered)
        CHECK(r, st->n_l0 == 0, "%s: tiered with %zu L0 SSTs", when, st->n_l0);
    else
        CHECK(r, st->n_levels == want_levels, "%s: %zu levels, expected %zu",
              when, st->n_levels, want_levels);
    size_t n_ids = st->n_l0;
    for (size_t k = 0; k < st->n_levels; k++) {
        const lsm_level_info *lv = &st->levels[k];
        if (!tiered)
            CHECK(r, lv->level == (int)k + 1, "%s: levels[%zu].level = %d",
                  when, k, lv->level);
        else
            CHECK(r, lv->n_ssts > 0, "%s: tier %d is empty", when, lv->level);
        for (size_t i = 0; i < lv->n_ssts; i++) {
            check_sst(r, &lv->ssts[i], when);
            if (i == 0)
                continue;
            const lsm_sst_info *a = &lv->ssts[i - 1], *b = &lv->ssts[i];
            CHECK(r,
                  key_cmp(a->last_key, a->nlast_key, b->first_key,
                          b->nfirst_key) < 0,
                  "%s: L%d SSTs %" PRIu64 " [%s..%s] and %" PRIu64
                  " [%s..%s] overlap or are unsorted",
                  when, lv->level, a->sst_id,
                  fmt_key(a->first_key, a->nfirst_key),
                  fmt_key(a->last_key, a->nlast_key), b->sst_id,
                  fmt_key(b->first_key, b->nfirst_key),
                  fmt_key(b->last_key, b->nlast_key));
        }
        n_ids += lv->n_ssts;
    }

    /* SST ids are unique across the tree. */
    uint64_t *ids = malloc(sizeof(uint64_t) * (n_ids + 1));
    assert_non_null(ids);
    size_t n = 0;
    for (size_t i = 0; i < st->n_l0; i++)
        ids[n++] = st->l0[i].sst_id;
    for (size_t k = 0; k < st->n_levels; k++)
        for (size_t i = 0; i < st->levels[k].n_ssts; i++)
            ids[n++] = st->levels[k].ssts[i].sst_id;
    qsort(ids, n, sizeof(uint64_t), u64_cmp);
    for (size_t i = 1; i < n; i++)
        if (ids[i] == ids[i - 1]) {
            uint64_t dup = ids[i];
            free(ids);
            CHECK(r, 0, "%s: SST id %" PRIu64 " appears twice", when, dup);
        }
    free(ids);

    /* Open iterators: exactly the ones this test holds, distinct ids. */
    CHECK(r, st->n_iters == r->n_open_iters,
          "%s: state lists %zu iterators, the test holds %zu open", when,
          st->n_iters, r->n_open_iters);
    for (size_t i = 0; i < st->n_iters; i++)
        for (size_t j = i + 1; j < st->n_iters; j++)
            CHECK(r, st->iters[i].iter_id != st->iters[j].iter_id,
                  "%s: two open iterators share id %" PRIu64, when,
                  st->iters[i].iter_id);

    /* Counters since open. */
    const lsm_counters *c = &st->counters;
    CHECK(r,
          c->puts == r->cnt.puts && c->deletes == r->cnt.deletes &&
              c->gets == r->cnt.gets && c->scans == r->cnt.scans,
          "%s: counters puts/deletes/gets/scans = %" PRIu64 "/%" PRIu64
          "/%" PRIu64 "/%" PRIu64 ", calls made %" PRIu64 "/%" PRIu64
          "/%" PRIu64 "/%" PRIu64,
          when, c->puts, c->deletes, c->gets, c->scans, r->cnt.puts,
          r->cnt.deletes, r->cnt.gets, r->cnt.scans);
    CHECK(r, c->user_bytes_written == r->cnt.user_bytes,
          "%s: user_bytes_written=%" PRIu64
          ", key+value bytes written %" PRIu64,
          when, c->user_bytes_written, r->cnt.user_bytes);

    check_read_points(r, st, when);

    if (st->n_l0 > r->stats.max_l0)
        r->stats.max_l0 = st->n_l0;
    if (st->n_levels && st->levels[0].n_ssts > r->stats.max_l1)
        r->stats.max_l1 = st->levels[0].n_ssts;
    if (st->n_immutables > r->stats.max_imm)
        r->stats.max_imm = st->n_immutables;
    if (r->n_held > r->stats.max_held)
        r->stats.max_held = r->n_held;

    /* Events: inline mode calls back before the call returns, so the counts
     * match the counters exactly. */
    CHECK(r, atomic_load(&r->ev.n_bad) == 0, "%s: bad event: %s", when,
          r->ev.first_bad);
    if (r->opt.sched == LSM_SCHED_INLINE) {
        uint64_t fr = atomic_load(&r->ev.n[LSM_EVENT_MEMTABLE_FROZEN]);
        uint64_t fb = atomic_load(&r->ev.n[LSM_EVENT_FLUSH_BEGIN]);
        uint64_t fe = atomic_load(&r->ev.n[LSM_EVENT_FLUSH_END]);
        uint64_t cb = atomic_load(&r->ev.n[LSM_EVENT_COMPACTION_BEGIN]);
        uint64_t ce = atomic_load(&r->ev.n[LSM_EVENT_COMPACTION_END]);
        CHECK(r,
              fr == c->memtables_frozen && fe == c->flushes && fb == fe &&
                  ce == c->compactions && cb == ce,
              "%s: events frozen/flush_begin/flush_end/compaction_begin/"
              "compaction_end = %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64
              "/%" PRIu64 ", counters memtables_frozen/flushes/compactions = "
              "%" PRIu64 "/%" PRIu64 "/%" PRIu64,
              when, fr, fb, fe, cb, ce, c->memtables_frozen, c->flushes,
              c->compactions);
        CHECK(r,
              c->flush_bytes_written == r->ev.flush_bytes &&
                  c->compaction_bytes_written == r->ev.compaction_bytes,
              "%s: flush/compaction_bytes_written = %" PRIu64 "/%" PRIu64
              ", FLUSH_END/COMPACTION_END size_bytes sum to %" PRIu64
              "/%" PRIu64,
              when, c->flush_bytes_written, c->compaction_bytes_written,
              r->ev.flush_bytes, r->ev.compaction_bytes);
        for (size_t i = 0; i < st->n_l0; i++) {
            const lsm_sst_info *s = &st->l0[i];
            const ev_flush *f = &r->ev.flushed[s->sst_id % EV_SLOTS];
            if (!f->used || f->sst_id != s->sst_id)
                continue;
            CHECK(r,
                  f->size_bytes == s->file_size &&
                      f->num_entries == s->num_entries,
                  "%s: L0 SST %" PRIu64 " has file_size=%" PRIu64
                  " num_entries=%" PRIu64 ", its FLUSH_END said %" PRIu64
                  " and %" PRIu64,
                  when, s->sst_id, s->file_size, s->num_entries, f->size_bytes,
                  f->num_entries);
        }
    }
    return st;
}

static void check_state_free(run *r, const char *when)
{
    lsm_state_free(check_state(r, when));
}

/* --- operations ---------------------------------------------------------- */

static void pick_sizes(run *r);
static void check_get(run *r, const void *kb, size_t kn, long idx);
static void end_read_points(run *r);

static size_t pick_key(run *r)
{
    /* Now and then one of the hot keys transactions mostly use, so that
     * plain writes conflict with them. */
    if (test_rng_below(&r->rng, 100) < 15)
        return r->hot_base + test_rng_below(&r->rng, MODEL_HOT_KEYS);
    return test_rng_below(&r->rng, r->n_keys);
}

static void op_put(run *r)
{
    size_t idx = pick_key(r);
    const ukey *k = &r->keys[idx];
    uint8_t *v;
    size_t nv;
    gen_value(r, idx, &v, &nv);
    /* An empty value may come as NULL: the length is what counts. */
    const void *pass = (nv == 0 && test_rng_below(&r->rng, 2)) ? NULL : v;
    run_log(r, "put %s = %zu bytes%s", fmt_key(k->b, k->n), nv,
            pass ? "" : " (NULL)");
    int rc = lsm_put(r->db, k->b, k->n, pass, nv);
    CHECK(r, rc == LSM_OK, "lsm_put %s: rc=%d (%s)", fmt_key(k->b, k->n), rc,
          lsm_strerror(rc));
    model_write_one(r, (long)idx, NULL, 0, v, nv, 0);
    mstate_set(&r->m, idx, v, nv);
    r->cnt.puts++;
    r->cnt.user_bytes += k->n + nv;
}

static void op_delete(run *r)
{
    uint8_t probe[16];
    const void *kb;
    size_t kn;
    long idx = -1;
    if (test_rng_below(&r->rng, 4) > 0) {
        idx = (long)pick_key(r);
        kb = r->keys[idx].b;
        kn = r->keys[idx].n;
    } else {
        gen_probe_key(r, probe, &kn);
        kb = probe;
    }
    run_log(r, "delete %s (%s)", fmt_key(kb, kn),
            idx < 0             ? "never written"
            : r->m.present[idx] ? "present"
                                : "absent");
    int rc = lsm_delete(r->db, kb, kn);
    CHECK(r, rc == LSM_OK, "lsm_delete %s: rc=%d (%s)", fmt_key(kb, kn), rc,
          lsm_strerror(rc));
    model_write_one(r, idx, kb, kn, NULL, 0, 1);
    if (idx >= 0)
        mstate_clear(&r->m, (size_t)idx);
    r->cnt.deletes++;
    r->cnt.user_bytes += kn;
}

/* Picks a range to delete: mostly from one universe key to another a few
 * keys on (so it covers 1 to 12 of them), sometimes from or to a probe key
 * or a key just above a universe key (bounds between universe keys). The
 * keys are malloc'd. Returns 0 when the draw gave no range (lo >= hi). */
static int gen_delete_range(run *r, uint8_t **lo, size_t *nlo, uint8_t **hi,
                            size_t *nhi)
{
    size_t i = test_rng_below(&r->rng, r->n_keys);
    size_t j = i + 1 + test_rng_below(&r->rng, 12);
    const ukey *a = &r->keys[i];
    *lo = malloc(a->n + 1);
    *hi = malloc(64 + (j < r->n_keys ? r->keys[j].n : 0));
    assert_true(*lo && *hi);
    memcpy(*lo, a->b, a->n);
    *nlo = a->n;
    if (test_rng_below(&r->rng, 5) == 0) /* just above a universe key */
        (*lo)[(*nlo)++] = 0x00;
    if (j < r->n_keys && test_rng_below(&r->rng, 5) > 0) {
        memcpy(*hi, r->keys[j].b, r->keys[j].n);
        *nhi = r->keys[j].n;
    } else {
        gen_probe_key(r, *hi, nhi);
    }
    return key_cmp(*lo, *nlo, *hi, *nhi) < 0;
}

/* lsm_delete_range of a range of universe keys (and the keys between
 * them); the model gives each key it covers a tombstone at one seq. */
static void op_delete_range(run *r)
{
    uint8_t *lo, *hi;
    size_t nlo, nhi;
    if (!gen_delete_range(r, &lo, &nlo, &hi, &nhi)) {
        int rc = lsm_delete_range(r->db, lo, nlo, hi, nhi);
        CHECK(r, rc == LSM_EINVAL,
              "lsm_delete_range [%s, ...) with lo >= hi: rc=%d, expected "
              "LSM_EINVAL",
              fmt_key(lo, nlo), rc);
        free(lo);
        free(hi);
        return;
    }
    run_log(r, "delete range [%s, ...) of %zu-byte end", fmt_key(lo, nlo), nhi);
    int rc = lsm_delete_range(r->db, lo, nlo, hi, nhi);
    CHECK(r, rc == LSM_OK, "lsm_delete_range [%s, ...): rc=%d (%s)",
          fmt_key(lo, nlo), rc, lsm_strerror(rc));
    model_commit_range(r, lo, nlo, hi, nhi, r->seq + 1, r->seq + 1);
    r->cnt.deletes++;
    r->cnt.user_bytes += nlo + nhi;
    r->stats.range_deletes++;
    long idx = universe_find(r, lo, nlo);
    if (idx >= 0)
        check_get(r, lo, nlo, idx);
    free(lo);
    free(hi);
}

/* Deletes every live key (tombstone-only memtables and SSTs; a following
 * full compaction must leave no SST at all). */
static void op_delete_all(run *r)
{
    run_log(r, "delete all %zu live keys", r->m.n_live);
    for (size_t i = 0; i < r->n_keys; i++) {
        if (!r->m.present[i])
            continue;
        int rc = lsm_delete(r->db, r->keys[i].b, r->keys[i].n);
        CHECK(r, rc == LSM_OK, "lsm_delete %s: rc=%d (%s)",
              fmt_key(r->keys[i].b, r->keys[i].n), rc, lsm_strerror(rc));
        model_write_one(r, (long)i, NULL, 0, NULL, 0, 1);
        mstate_clear(&r->m, i);
        r->cnt.deletes++;
        r->cnt.user_bytes += r->keys[i].n;
    }
}

/* Many versions of one key in a row, across freezes and flushes, with a
 * delete now and then. */
/* A batch of 2..8 puts and deletes, keys picked freely (so one key may
 * appear twice): the engine applies it atomically and in order, and so does
 * the model. */
static void op_batch(run *r)
{
    enum { MAX_OPS = 8 };
    size_t idx[MAX_OPS], nv[MAX_OPS], nlo[MAX_OPS], nhi[MAX_OPS];
    uint8_t *v[MAX_OPS], *lo[MAX_OPS] = {0}, *hi[MAX_OPS] = {0};
    lsm_batch *b = NULL;
    CHECK(r, lsm_batch_new(&b) == LSM_OK, "lsm_batch_new failed");
    size_t n = 2 + test_rng_below(&r->rng, MAX_OPS - 1);
    for (size_t i = 0; i < n; i++) {
        idx[i] = pick_key(r);
        const ukey *k = &r->keys[idx[i]];
        int rc;
        if (test_rng_below(&r->rng, 8) == 0 &&
            gen_delete_range(r, &lo[i], &nlo[i], &hi[i], &nhi[i])) {
            v[i] = NULL; /* a range delete */
            nv[i] = 0;
            rc = lsm_batch_delete_range(b, lo[i], nlo[i], hi[i], nhi[i]);
        } else if (test_rng_below(&r->rng, 4) == 0) {
            free(lo[i]);
            free(hi[i]);
            lo[i] = hi[i] = NULL;
            v[i] = NULL; /* a delete */
            nv[i] = 0;
            rc = lsm_batch_delete(b, k->b, k->n);
        } else {
            free(lo[i]);
            free(hi[i]);
            lo[i] = hi[i] = NULL;
            gen_value(r, idx[i], &v[i], &nv[i]);
            rc = lsm_batch_put(b, k->b, k->n, v[i], nv[i]);
        }
        CHECK(r, rc == LSM_OK, "batch op %zu on %s: rc=%d (%s)", i,
              fmt_key(k->b, k->n), rc, lsm_strerror(rc));
    }
    CHECK(r, lsm_batch_count(b) == n, "batch count %zu, expected %zu",
          lsm_batch_count(b), n);
    run_log(r, "batch of %zu writes", n);
    int rc = lsm_write(r->db, b);
    CHECK(r, rc == LSM_OK, "lsm_write: rc=%d (%s)", rc, lsm_strerror(rc));
    lsm_batch_free(b);
    uint64_t unit_lo = r->seq + 1, unit_hi = r->seq + n;
    for (size_t i = 0; i < n; i++) {
        const ukey *k = &r->keys[idx[i]];
        if (lo[i]) {
            model_commit_range(r, lo[i], nlo[i], hi[i], nhi[i], unit_lo,
                               unit_hi);
            r->cnt.deletes++;
            r->cnt.user_bytes += nlo[i] + nhi[i];
            r->stats.range_deletes++;
            free(lo[i]);
            free(hi[i]);
            continue;
        }
        model_commit_write(r, (long)idx[i], NULL, 0, v[i], nv[i], v[i] == NULL,
                           unit_lo, unit_hi);
        if (v[i]) {
            mstate_set(&r->m, idx[i], v[i], nv[i]);
            r->cnt.puts++;
            r->cnt.user_bytes += k->n + nv[i];
        } else {
            mstate_clear(&r->m, idx[i]);
            r->cnt.deletes++;
            r->cnt.user_bytes += k->n;
        }
    }
    check_get(r, r->keys[idx[n - 1]].b, r->keys[idx[n - 1]].n,
              (long)idx[n - 1]);
}

static void op_burst(run *r)
{
    size_t idx = pick_key(r);
    const ukey *k = &r->keys[idx];
    size_t n = 5 + test_rng_below(&r->rng, 26);
    run_log(r, "burst of %zu writes to %s", n, fmt_key(k->b, k->n));
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (test_rng_below(&r->rng, 8) == 0) {
            rc = lsm_delete(r->db, k->b, k->n);
            model_write_one(r, (long)idx, NULL, 0, NULL, 0, 1);
            mstate_clear(&r->m, idx);
            r->cnt.deletes++;
            r->cnt.user_bytes += k->n;
        } else {
            uint8_t *v;
            size_t nv;
            gen_value(r, idx, &v, &nv);
            rc = lsm_put(r->db, k->b, k->n, v, nv);
            model_write_one(r, (long)idx, NULL, 0, v, nv, 0);
            mstate_set(&r->m, idx, v, nv);
            r->cnt.puts++;
            r->cnt.user_bytes += k->n + nv;
        }
        CHECK(r, rc == LSM_OK, "burst write %zu to %s: rc=%d (%s)", i,
              fmt_key(k->b, k->n), rc, lsm_strerror(rc));
    }
    check_get(r, k->b, k->n, (long)idx);
}

/* Gets one key and compares presence and value with the model. */
static void check_get(run *r, const void *kb, size_t kn, long idx)
{
    void *v = NULL;
    size_t nv = 12345;
    int rc = lsm_get(r->db, kb, kn, &v, &nv);
    r->cnt.gets++;
    if (idx >= 0 && r->m.present[idx]) {
        size_t want = r->m.nval[idx];
        CHECK(r, rc == LSM_OK,
              "lsm_get %s: rc=%d (%s), expected a %zu-byte "
              "value",
              fmt_key(kb, kn), rc, lsm_strerror(rc), want);
        CHECK(r, v != NULL, "lsm_get %s: LSM_OK with a NULL value",
              fmt_key(kb, kn));
        CHECK(r,
              nv == want && (want == 0 || memcmp(v, r->m.val[idx], want) == 0),
              "lsm_get %s: got %zu bytes %s, expected %zu bytes %s",
              fmt_key(kb, kn), nv, fmt_key(v, nv < 24 ? nv : 24), want,
              fmt_key(r->m.val[idx], want < 24 ? want : 24));
        CHECK(r, ((const uint8_t *)v)[nv] == 0,
              "lsm_get %s: value not NUL-terminated", fmt_key(kb, kn));
        lsm_free(v);
    } else {
        CHECK(r, rc == LSM_NOTFOUND,
              "lsm_get %s (%s): rc=%d (%s), expected LSM_NOTFOUND%s%s",
              fmt_key(kb, kn), idx < 0 ? "never written" : "deleted/absent", rc,
              lsm_strerror(rc), rc == LSM_OK ? "; got value " : "",
              rc == LSM_OK && v ? fmt_key(v, nv < 24 ? nv : 24) : "");
    }
}

static void op_get(run *r)
{
    if (test_rng_below(&r->rng, 100) < 85) {
        size_t idx = pick_key(r);
        run_log(r, "get %s", fmt_key(r->keys[idx].b, r->keys[idx].n));
        check_get(r, r->keys[idx].b, r->keys[idx].n, (long)idx);
    } else {
        uint8_t probe[16];
        size_t n;
        gen_probe_key(r, probe, &n);
        run_log(r, "get %s (never written)", fmt_key(probe, n));
        check_get(r, probe, n, -1);
    }
}

/* Can an SST hold keys inside [lo, hi]? Judged by its key range only, so
 * it errs towards yes (an inverted range is not treated as empty). */
static int sst_may_overlap(const lsm_sst_info *s, const gbound *lo,
                           const gbound *hi)
{
    if (lo->kind != LSM_BOUND_UNBOUNDED) {
        int c = key_cmp(s->last_key, s->nlast_key, lo->key, lo->n);
        if (c < 0 || (c == 0 && lo->kind == LSM_BOUND_EXCLUDED))
            return 0;
    }
    if (hi->kind != LSM_BOUND_UNBOUNDED) {
        int c = key_cmp(s->first_key, s->nfirst_key, hi->key, hi->n);
        if (c > 0 || (c == 0 && hi->kind == LSM_BOUND_EXCLUDED))
            return 0;
    }
    return 1;
}

/* The most sub-iterators a scan over [lo, hi] may have active, from a
 * state: every memtable, plus the SSTs whose key range overlaps the range
 * (lsm_scan opens only those). A background flush between the state and the
 * scan turns an immutable memtable into an L0 SST, which cannot raise it. */
static size_t max_active_sources(const lsm_state *st, const gbound *lo,
                                 const gbound *hi)
{
    size_t n = 1 + st->n_immutables;
    for (size_t i = 0; i < st->n_l0; i++)
        n += (size_t)sst_may_overlap(&st->l0[i], lo, hi);
    for (size_t k = 0; k < st->n_levels; k++)
        for (size_t i = 0; i < st->levels[k].n_ssts; i++)
            n += (size_t)sst_may_overlap(&st->levels[k].ssts[i], lo, hi);
    return n;
}

/* The prefix extractors runs use: none, fixed lengths (keys are mostly
 * "key%05u": 4 bytes make ten groups, 5 a hundred) and delimiters (the
 * first '1', or the first 0x00 byte of the binary keys). */
static const struct {
    unsigned len;
    int delim;
} model_extractors[] = {{0, -1}, {4, -1},   {5, -1}, {0, '1'},
                        {1, -1}, {0, 0x00}, {7, -1}};
#define N_MODEL_EXTRACTORS                                                     \
    (sizeof model_extractors / sizeof model_extractors[0])

/* Sets the extractor number i (mod their count) in r->opt. Chosen from
 * the seed, the configuration and the reopen count, never from r->rng, so
 * every seed's draws stay what they were. */
static void pick_extractor(run *r, uint64_t i)
{
    i %= N_MODEL_EXTRACTORS;
    r->opt.prefix_len = model_extractors[i].len;
    r->opt.prefix_delim = model_extractors[i].delim;
}

/* The bounds of a prefix scan: a prefix of a universe key (1 to 8 bytes,
 * so it is often in the extractor's domain and often not), both picked
 * from the op number, not from r->rng. lo owns a copy of the prefix, hi
 * its successor (or is unbounded for 0xff bytes alone). */
static void prefix_bounds(run *r, gbound *lo, gbound *hi)
{
    uint64_t mix = test_mix64(r->op ^ r->seed);
    const ukey *k = &r->keys[mix % r->n_keys];
    size_t n = 1 + (size_t)((mix >> 32) % (k->n < 8 ? k->n : 8));
    *lo = (gbound){LSM_BOUND_INCLUDED, malloc(n), n, 0, 1};
    assert_non_null(lo->key);
    memcpy(lo->key, k->b, n);
    while (n > 0 && lo->key[n - 1] == 0xff)
        n--;
    if (n == 0) {
        *hi = (gbound){LSM_BOUND_UNBOUNDED, NULL, 0, 0, 0};
        return;
    }
    *hi = (gbound){LSM_BOUND_EXCLUDED, malloc(n), n, 0, 0};
    assert_non_null(hi->key);
    memcpy(hi->key, lo->key, n);
    hi->key[n - 1]++;
}

/* A prefix scan of the database now, checked against the model, and the
 * counters of its filters. */
static void op_prefix_scan(run *r)
{
    gbound lo, hi;
    held_iter h;
    prefix_bounds(r, &lo, &hi);
    char desc[MODEL_LOG_LINE];
    fmt_bounds(&lo, &hi, desc, sizeof(desc));
    run_log(r, "scan --prefix %s (%s)", fmt_key(lo.key, lo.n), desc);
    lsm_state *st = check_state(r, "before a prefix scan");
    lsm_counters before = st->counters;
    lsm_state_free(st);
    held_open(r, &h, &lo, &hi, NULL);
    while (!held_step(r, &h, 1 << 20))
        ;
    held_close(r, &h);
    st = check_state(r, "after a prefix scan");
    uint64_t checks = st->counters.prefix_checks - before.prefix_checks;
    uint64_t skips = st->counters.prefix_skips - before.prefix_skips;
    lsm_state_free(st);
    CHECK(r, skips <= checks,
          "a prefix scan skipped %" PRIu64 " SSTs but checked %" PRIu64, skips,
          checks);
    CHECK(r, r->opt.prefix_len > 0 || r->opt.prefix_delim >= 0 || checks == 0,
          "a prefix scan without an extractor checked %" PRIu64 " filters",
          checks);
    r->stats.prefix_scans++;
    r->stats.prefix_checks += checks;
    r->stats.prefix_skips += skips;
}

static void op_scan(run *r)
{
    gbound lo, hi;
    held_iter h;
    gen_bounds(r, &lo, &hi);
    char desc[MODEL_LOG_LINE];
    fmt_bounds(&lo, &hi, desc, sizeof(desc));
    run_log(r, "scan %s", desc);
    lsm_state *st = check_state(r, "before a scan");
    size_t max_active = max_active_sources(st, &lo, &hi);
    lsm_state_free(st);
    held_open(r, &h, &lo, &hi, NULL);
    size_t active = lsm_iter_num_active(h.it);
    CHECK(r, active <= max_active,
          "scan %s: %zu active sub-iterators, but only %zu memtables and "
          "SSTs overlapping the range exist",
          desc, active, max_active);
    if (test_rng_below(&r->rng, 10) == 0)
        check_state_free(r, "during a scan");
    while (!held_step(r, &h, 1 << 20))
        ;
    held_close(r, &h);
    op_prefix_scan(r);
}

/* After lsm_flush nothing may remain in memory: it froze the mutable
 * memtable and wrote every immutable one before returning (both modes). */
static void op_flush(run *r)
{
    run_log(r, "flush");
    r->stats.flushes++;
    int rc = lsm_flush(r->db);
    CHECK(r, rc == LSM_OK, "lsm_flush: rc=%d (%s)", rc, lsm_strerror(rc));
    lsm_state *st = check_state(r, "after flush");
    CHECK(r,
          st->n_immutables == 0 && st->memtable.num_keys == 0 &&
              st->pending_flushes == 0,
          "after flush: %zu immutables, %" PRIu64
          " keys in the mutable memtable, %zu pending flushes",
          st->n_immutables, st->memtable.num_keys, st->pending_flushes);
    lsm_state_free(st);
}

/* Full compaction merges everything on disk into the bottom run. With
 * nothing in memory first (and no iterator pinning old versions), the bottom
 * run holds exactly one entry per live key, plus the versions above the
 * watermark that live snapshots and transactions may read: every other
 * tombstone and overwritten version is gone. */
/* The sorted ids of every SST on disk (with a sentinel slot). The caller
 * frees. */
static uint64_t *all_sst_ids(const lsm_state *st, size_t *n)
{
    size_t total = st->n_l0;
    for (size_t k = 0; k < st->n_levels; k++)
        total += st->levels[k].n_ssts;
    uint64_t *ids = malloc(sizeof(uint64_t) * (total + 1));
    assert_non_null(ids);
    *n = 0;
    for (size_t i = 0; i < st->n_l0; i++)
        ids[(*n)++] = st->l0[i].sst_id;
    for (size_t k = 0; k < st->n_levels; k++)
        for (size_t i = 0; i < st->levels[k].n_ssts; i++)
            ids[(*n)++] = st->levels[k].ssts[i].sst_id;
    qsort(ids, *n, sizeof(uint64_t), u64_cmp);
    return ids;
}

/* The bottom run after a full compaction: the last level, or the one tier
 * (NULL when the tree is empty). */
static const lsm_level_info *bottom_run(const lsm_state *st)
{
    if (st->n_levels == 0)
        return NULL;
    return st->compaction == LSM_COMPACTION_TIERED
               ? &st->levels[0]
               : &st->levels[st->n_levels - 1];
}

static int ids_equal(const uint64_t *a, size_t na, uint64_t *b, size_t nb)
{
    qsort(b, nb, sizeof(uint64_t), u64_cmp);
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof(uint64_t)) == 0);
}

/* lsm_compact_full plus, in inline mode, its events: one compaction whose
 * inputs are exactly the L0 and L1 SSTs before it, whose outputs are exactly
 * L1 after it, at level 1, with size_bytes the outputs' total size. Returns
 * the state after it; the caller frees it with lsm_state_free. */
static lsm_state *do_compact_full(run *r)
{
    lsm_state *st = check_state(r, "before compact_full");
    size_t n_in;
    uint64_t *in = all_sst_ids(st, &n_in);
    lsm_state_free(st);
    uint64_t begins = atomic_load(&r->ev.n[LSM_EVENT_COMPACTION_BEGIN]);
    run_log(r, "compact_full (%zu SSTs)", n_in);
    r->stats.compactions++;
    int rc = lsm_compact_full(r->db);
    CHECK(r, rc == LSM_OK, "lsm_compact_full: rc=%d (%s)", rc,
          lsm_strerror(rc));
    st = check_state(r, "after compact_full");
    uint64_t n_new = atomic_load(&r->ev.n[LSM_EVENT_COMPACTION_BEGIN]) - begins;
    if (r->opt.sched == LSM_SCHED_INLINE && n_in > 0)
        CHECK(r, n_new >= 1,
              "compact_full of %zu SSTs reported no COMPACTION_BEGIN", n_in);
    if (r->opt.sched == LSM_SCHED_INLINE && n_new == 1 && !r->ev.c_overflow) {
        size_t n_out;
        uint64_t *out = all_sst_ids(st, &n_out);
        const lsm_level_info *bottom = bottom_run(st);
        uint64_t out_bytes = 0;
        for (size_t i = 0; bottom && i < bottom->n_ssts; i++)
            out_bytes += bottom->ssts[i].file_size;
        int want_level =
            st->compaction == LSM_COMPACTION_TIERED ? 0 : (int)st->n_levels;
        CHECK(r, ids_equal(in, n_in, r->ev.c_in, r->ev.n_c_in),
              "COMPACTION_BEGIN listed %zu inputs, the tree held %zu SSTs "
              "(first %" PRIu64 ")",
              r->ev.n_c_in, n_in, n_in ? in[0] : 0);
        CHECK(r, ids_equal(out, n_out, r->ev.c_out, r->ev.n_c_out),
              "COMPACTION_END listed %zu outputs, the tree now holds %zu SSTs",
              r->ev.n_c_out, n_out);
        CHECK(r, r->ev.c_level == want_level && r->ev.c_size_bytes == out_bytes,
              "COMPACTION_END level=%d size_bytes=%" PRIu64
              ", expected level %d and %" PRIu64 " bytes in the bottom run",
              r->ev.c_level, r->ev.c_size_bytes, want_level, out_bytes);
        free(out);
    }
    free(in);
    return st;
}

static void op_compact(run *r)
{
    int flushed = test_rng_below(&r->rng, 2);
    if (flushed)
        op_flush(r);
    lsm_state *st = do_compact_full(r);
    /* In threads mode an immutable memtable may still be flushing to L0. */
    if (flushed || r->opt.sched == LSM_SCHED_INLINE)
        CHECK(r, st->n_l0 == 0, "after compact_full: %zu L0 SSTs remain",
              st->n_l0);
    /* Everything on disk is in the bottom run now (inline, or threads
     * with nothing left in memory): every other run is empty. */
    const lsm_level_info *bottom = bottom_run(st);
    size_t others = 0;
    for (size_t k = 0; k < st->n_levels; k++)
        if (&st->levels[k] != bottom)
            others += st->levels[k].n_ssts;
    if (flushed || r->opt.sched == LSM_SCHED_INLINE)
        CHECK(r, others == 0,
              "after compact_full: %zu SSTs outside the bottom run", others);
    if (flushed && r->n_open_iters == 0 && others == 0) {
        uint64_t total = 0;
        for (size_t i = 0; bottom && i < bottom->n_ssts; i++)
            total += bottom->ssts[i].num_entries;
        uint64_t want = model_bottom_entries(r);
        CHECK(r, total == want,
              "after flush + compact_full: the bottom run holds %" PRIu64
              " entries, the model keeps %" PRIu64
              " versions (%zu live keys, watermark %" PRIu64 ")",
              total, want, r->m.n_live, model_watermark(r));
    }
    lsm_state_free(st);
}

/* The whole database against the model: a full scan and a get per key. */
static void verify_all(run *r, const char *when)
{
    gbound lo = {LSM_BOUND_UNBOUNDED, NULL, 0, 1, 0};
    gbound hi = {LSM_BOUND_UNBOUNDED, NULL, 0, 1, 0};
    held_iter h;
    run_log(r, "verify all (%s)", when);
    held_open(r, &h, &lo, &hi, NULL);
    while (!held_step(r, &h, 1 << 20))
        ;
    held_close(r, &h);
    for (size_t i = 0; i < r->n_keys; i++)
        check_get(r, r->keys[i].b, r->keys[i].n, (long)i);
}

static void db_open(run *r)
{
    ev_reset(&r->ev, r->opt.sched == LSM_SCHED_INLINE);
    r->ev.tiered = r->opt.compaction == LSM_COMPACTION_TIERED;
    memset(&r->cnt, 0, sizeof(r->cnt));
    r->next_read_id = 1; /* snapshot ids count from 1 on each handle */
    r->db = NULL;
    int rc = lsm_open(r->dir, &r->opt, &r->db);
    CHECK(r, rc == LSM_OK && r->db != NULL, "lsm_open %s: rc=%d (%s)", r->dir,
          rc, lsm_strerror(rc));
    atomic_store(&r->ev.db, r->db);
}

/* Close (refused while iterators, snapshots or transactions are held,
 * which must leave the handle working; they are then ended), then reopen
 * and check everything survived (the seqs too: check_state compares
 * visible_seq with the model's). With the WAL off,
 * close flushed every memtable, so memory is empty; with it on, close left
 * every non-empty memtable to its log, and open replayed each one. */
static void pick_compression(run *r, uint64_t turn);

static void op_reopen(run *r)
{
    run_log(r, "reopen (%zu iterators, %zu snapshots, %zu txns held)",
            r->n_held, r->n_snaps, r->n_txns);
    if (r->n_held > 0 || r->n_snaps > 0 || r->n_txns > 0) {
        int rc = lsm_close(r->db);
        CHECK(r, rc == LSM_EBUSY,
              "lsm_close with %zu open iterators, %zu snapshots and %zu "
              "transactions: rc=%d (%s), expected LSM_EBUSY",
              r->n_held, r->n_snaps, r->n_txns, rc, lsm_strerror(rc));
        check_state_free(r, "after a refused close");
        op_get(r);
        while (r->n_held > 0)
            held_finish(r, r->n_held - 1);
        end_read_points(r);
    }
    lsm_state *before = check_state(r, "before close");
    r->stats.frozen += before->counters.memtables_frozen;
    r->stats.sst_flushes += before->counters.flushes;
    uint64_t in_memory = before->n_immutables + (before->memtable.num_keys > 0);
    int kept_in_logs = r->opt.enable_wal;
    lsm_state_free(before);
    atomic_store(&r->ev.db, NULL);
    int rc = lsm_close(r->db);
    r->db = NULL;
    CHECK(r, rc == LSM_OK, "lsm_close: rc=%d (%s)", rc, lsm_strerror(rc));
    r->stats.reopens++;
    if (test_rng_below(&r->rng, 2)) {
        /* Sizes, cache, filters and compression are per-open settings;
         * files written under the old ones must still read back. */
        pick_sizes(r);
        pick_compression(r, r->stats.reopens);
        run_log(r,
                "new options: target_sst_size=%zu block_size=%zu "
                "num_memtable_limit=%zu block_cache_bytes=%zu bloom=%u "
                "compression=%s",
                r->opt.target_sst_size, r->opt.block_size,
                r->opt.num_memtable_limit, r->opt.block_cache_bytes,
                r->opt.bloom_bits_per_key,
                lsm_compression_name(r->opt.compression));
    }
    if (r->stats.reopens % 3 == 0) {
        /* Another extractor: SSTs written under the old one are read by
         * range alone, and new ones get the new one's filter. */
        pick_extractor(r, r->stats.reopens + r->seed);
        run_log(r, "new prefix extractor: prefix_len=%u prefix_delim=%d",
                r->opt.prefix_len, r->opt.prefix_delim);
    }
    atomic_store(&r->ev.wals_recovered, UINT64_MAX);
    db_open(r);
    lsm_state *st = check_state(r, "after reopen");
    /* (In threads mode the flush thread may still flush some before close
     * stops it.) */
    uint64_t recovered = atomic_load(&r->ev.wals_recovered);
    if (kept_in_logs)
        CHECK(r,
              r->opt.sched == LSM_SCHED_INLINE ? recovered == in_memory
                                               : recovered <= in_memory,
              "after reopen: %" PRIu64
              " WALs recovered, but close left %" PRIu64
              " memtables to their logs",
              recovered, in_memory);
    if (kept_in_logs && r->opt.sched == LSM_SCHED_INLINE)
        CHECK(r, st->n_immutables == recovered,
              "after reopen: %zu immutables, but %" PRIu64
              " WALs were recovered: open flushed some (it must need no "
              "free space)",
              st->n_immutables, recovered);
    if (!kept_in_logs)
        CHECK(r, st->n_immutables == 0 && st->memtable.num_keys == 0,
              "after reopen: %zu immutables and %" PRIu64
              " keys in memory, but close without the WAL flushes everything",
              st->n_immutables, st->memtable.num_keys);
    lsm_state_free(st);
    verify_all(r, "after reopen");
}

static void op_held_open(run *r)
{
    if (r->n_held >= MODEL_HELD_MAX)
        return;
    gbound lo, hi;
    gen_bounds(r, &lo, &hi);
    held_iter *h = &r->held[r->n_held];
    char desc[MODEL_LOG_LINE];
    fmt_bounds(&lo, &hi, desc, sizeof(desc));
    run_log(r, "hold scan %s", desc);
    held_open(r, h, &lo, &hi, NULL);
    r->n_held++;
    held_step(r, h, test_rng_below(&r->rng, 4));
}

static void op_held_step(run *r)
{
    if (r->n_held == 0)
        return;
    size_t which = test_rng_below(&r->rng, r->n_held);
    held_iter *h = &r->held[which];
    run_log(r, "step held scan %s (opened at op %" PRIu64 ", at %zu/%zu)",
            h->bounds, h->opened_at_op, h->pos, h->n);
    if (held_step(r, h, 1 + test_rng_below(&r->rng, 24))) {
        held_close(r, h);
        r->held[which] = r->held[--r->n_held];
    }
}

/* --- snapshots and transactions ------------------------------------------ */

/* Compares what a read returned (rc, v, nv) with what the model expects
 * (present, want, nwant). what names the read for the failure message. */
static void check_read(run *r, const char *what, const void *kb, size_t kn,
                       int rc, const void *v, size_t nv, int present,
                       const uint8_t *want, size_t nwant)
{
    if (present) {
        CHECK(r, rc == LSM_OK && v != NULL,
              "%s %s: rc=%d (%s), expected a %zu-byte value", what,
              fmt_key(kb, kn), rc, lsm_strerror(rc), nwant);
        CHECK(r, nv == nwant && (nwant == 0 || memcmp(v, want, nwant) == 0),
              "%s %s: got %zu bytes %s, expected %zu bytes %s", what,
              fmt_key(kb, kn), nv, fmt_key(v, nv < 24 ? nv : 24), nwant,
              fmt_key(want, nwant < 24 ? nwant : 24));
        CHECK(r, ((const uint8_t *)v)[nv] == 0,
              "%s %s: value not NUL-terminated", what, fmt_key(kb, kn));
    } else {
        CHECK(r, rc == LSM_NOTFOUND,
              "%s %s: rc=%d (%s), expected LSM_NOTFOUND%s%s", what,
              fmt_key(kb, kn), rc, lsm_strerror(rc),
              rc == LSM_OK ? "; got value " : "",
              rc == LSM_OK && v ? fmt_key(v, nv < 24 ? nv : 24) : "");
    }
}

/* A universe key for a transaction: mostly a hot one. */
static size_t pick_txn_key(run *r)
{
    if (test_rng_below(&r->rng, 100) < 70)
        return r->hot_base + test_rng_below(&r->rng, MODEL_HOT_KEYS);
    return test_rng_below(&r->rng, r->n_keys);
}

/* Bounds over the hot keys (each end included, excluded or, now and then,
 * unbounded), or anywhere (gen_bounds). */
static void gen_txn_bounds(run *r, gbound *lo, gbound *hi)
{
    if (test_rng_below(&r->rng, 2)) {
        gen_bounds(r, lo, hi);
        return;
    }
    size_t a = test_rng_below(&r->rng, MODEL_HOT_KEYS);
    size_t b = a + test_rng_below(&r->rng, MODEL_HOT_KEYS - a);
    gbound *ends[2] = {lo, hi};
    size_t at[2] = {r->hot_base + a, r->hot_base + b};
    for (int i = 0; i < 2; i++) {
        const ukey *u = &r->keys[at[i]];
        memset(ends[i], 0, sizeof(gbound));
        size_t c = test_rng_below(&r->rng, 10);
        ends[i]->kind = c == 0  ? LSM_BOUND_UNBOUNDED
                        : c < 6 ? LSM_BOUND_INCLUDED
                                : LSM_BOUND_EXCLUDED;
        ends[i]->key = malloc(u->n);
        assert_non_null(ends[i]->key);
        memcpy(ends[i]->key, u->b, u->n);
        ends[i]->n = u->n;
    }
}

static gbound gbound_copy(const gbound *g)
{
    gbound c = *g;
    c.key = NULL;
    if (g->key) {
        c.key = malloc(g->n ? g->n : 1);
        assert_non_null(c.key);
        memcpy(c.key, g->key, g->n);
    }
    return c;
}

/* Reads one key through view (the database now when NULL) with lsm_get_at
 * or lsm_txn_get and checks it against the model; idx -1 is a key outside
 * the universe. */
static void view_get(run *r, const mview *view, const void *kb, size_t kn,
                     long idx)
{
    void *v = NULL;
    size_t nv = 12345;
    int rc;
    char what[64];
    if (view && view->txn) {
        rc = lsm_txn_get(view->txn->t, kb, kn, &v, &nv);
        snprintf(what, sizeof(what), "lsm_txn_get in txn %" PRIu64,
                 view->txn->id);
        if (idx >= 0 && view->txn->iso == LSM_ISOLATION_SERIALIZABLE)
            view->txn->rset[idx] = 1;
        r->stats.txn_reads++;
    } else {
        rc = lsm_get_at(r->db, view ? view->snap->s : NULL, kb, kn, &v, &nv);
        snprintf(what, sizeof(what), "lsm_get_at snapshot %" PRIu64,
                 view ? view->snap->id : 0);
        r->stats.snap_reads++;
    }
    /* A transaction's get of a key it wrote answers from its writes and
     * reads no database: lsm_counters.gets counts database reads. */
    if (!(view && view->txn && idx >= 0 && view->txn->wkind[idx]))
        r->cnt.gets++;
    const uint8_t *want = NULL;
    size_t nwant = 0;
    int present = idx >= 0 && view_lookup(r, view, (size_t)idx, &want, &nwant);
    check_read(r, what, kb, kn, rc, v, nv, present, want, nwant);
    lsm_free(v);
}

/* Scans [lo, hi] through view: held open for later steps when there is
 * room and hold says so, else read to its end now. Frees the bound keys. */
static void view_scan(run *r, const mview *view, gbound *lo, gbound *hi,
                      int hold)
{
    if (hold && r->n_held < MODEL_HELD_MAX) {
        held_iter *h = &r->held[r->n_held++];
        held_open(r, h, lo, hi, view);
        held_step(r, h, test_rng_below(&r->rng, 4));
        return;
    }
    held_iter h;
    held_open(r, &h, lo, hi, view);
    while (!held_step(r, &h, 1 << 20))
        ;
    held_close(r, &h);
}

/* Every key through view, by a full scan and a get each. */
static void verify_view(run *r, const mview *view)
{
    gbound lo = {LSM_BOUND_UNBOUNDED, NULL, 0, 1, 0};
    gbound hi = {LSM_BOUND_UNBOUNDED, NULL, 0, 1, 0};
    view_scan(r, view, &lo, &hi, 0);
    for (size_t i = 0; i < r->n_keys; i++)
        view_get(r, view, r->keys[i].b, r->keys[i].n, (long)i);
}

static void op_snap_take(run *r)
{
    if (r->n_snaps >= MODEL_SNAPS_MAX)
        return;
    msnap *m = &r->snaps[r->n_snaps];
    int rc = lsm_snapshot_take(r->db, &m->s);
    CHECK(r, rc == LSM_OK && m->s != NULL, "lsm_snapshot_take: rc=%d (%s)", rc,
          lsm_strerror(rc));
    m->id = lsm_snapshot_id(m->s);
    m->seq = lsm_snapshot_seq(m->s);
    m->taken_at_op = r->op;
    run_log(r, "snapshot %" PRIu64 " at seq %" PRIu64, m->id, m->seq);
    CHECK(r, m->seq == r->seq && m->id == r->next_read_id,
          "snapshot id %" PRIu64 " seq %" PRIu64 ", expected id %" PRIu64
          " at seq %" PRIu64,
          m->id, m->seq, r->next_read_id, r->seq);
    r->next_read_id++;
    r->n_snaps++;
    r->stats.snaps++;
}

static void snap_release(run *r, size_t which)
{
    run_log(r, "release snapshot %" PRIu64, r->snaps[which].id);
    lsm_snapshot_release(r->snaps[which].s);
    r->snaps[which] = r->snaps[--r->n_snaps];
    model_gc(r);
}

static void op_snap_release(run *r)
{
    if (r->n_snaps > 0)
        snap_release(r, test_rng_below(&r->rng, r->n_snaps));
}

/* A get at a live snapshot (or, now and then, at NULL: now). */
static void op_snap_get(run *r)
{
    mview view = {NULL, NULL};
    if (r->n_snaps > 0 && test_rng_below(&r->rng, 8) > 0)
        view.snap = &r->snaps[test_rng_below(&r->rng, r->n_snaps)];
    uint8_t probe[16];
    size_t kn;
    const void *kb = probe;
    long idx = -1;
    if (test_rng_below(&r->rng, 10) > 0) {
        idx = (long)pick_txn_key(r);
        kb = r->keys[idx].b;
        kn = r->keys[idx].n;
    } else {
        gen_probe_key(r, probe, &kn);
    }
    run_log(r, "get %s @snapshot %" PRIu64, fmt_key(kb, kn),
            view.snap ? view.snap->id : 0);
    view_get(r, view.snap ? &view : NULL, kb, kn, idx);
}

/* A scan at a live snapshot: held (it may outlive the snapshot), read at
 * once, or, now and then, the whole snapshot checked key by key. */
static void op_snap_scan(run *r)
{
    if (r->n_snaps == 0)
        return;
    mview view = {&r->snaps[test_rng_below(&r->rng, r->n_snaps)], NULL};
    if (test_rng_below(&r->rng, 8) == 0) {
        run_log(r, "verify snapshot %" PRIu64, view.snap->id);
        verify_view(r, &view);
        return;
    }
    gbound lo, hi;
    gen_txn_bounds(r, &lo, &hi);
    char desc[MODEL_LOG_LINE];
    fmt_bounds(&lo, &hi, desc, sizeof(desc));
    run_log(r, "scan %s @snapshot %" PRIu64, desc, view.snap->id);
    view_scan(r, &view, &lo, &hi, test_rng_below(&r->rng, 3) == 0);
    prefix_bounds(r, &lo, &hi);
    run_log(r, "scan --prefix %s @snapshot %" PRIu64, fmt_key(lo.key, lo.n),
            view.snap->id);
    view_scan(r, &view, &lo, &hi, 0);
}

static void op_txn_begin(run *r)
{
    if (r->n_txns >= MODEL_TXNS_MAX)
        return;
    mtxn *t = &r->txns[r->n_txns];
    memset(t, 0, sizeof(*t));
    t->iso = test_rng_below(&r->rng, 2) ? LSM_ISOLATION_SERIALIZABLE
                                        : LSM_ISOLATION_SNAPSHOT;
    int rc = lsm_txn_begin(r->db, t->iso, &t->t);
    CHECK(r, rc == LSM_OK && t->t != NULL, "lsm_txn_begin: rc=%d (%s)", rc,
          lsm_strerror(rc));
    t->id = lsm_txn_id(t->t);
    t->read_seq = lsm_txn_read_seq(t->t);
    t->began_at_op = r->op;
    run_log(r, "begin txn %" PRIu64 " %s at seq %" PRIu64, t->id,
            t->iso == LSM_ISOLATION_SERIALIZABLE ? "serializable" : "si",
            t->read_seq);
    CHECK(r,
          t->id == r->next_read_id && t->read_seq == r->seq &&
              lsm_txn_isolation(t->t) == t->iso,
          "txn id %" PRIu64 " read_seq %" PRIu64 " isolation %d, expected id "
          "%" PRIu64 " at seq %" PRIu64 " isolation %d",
          t->id, t->read_seq, (int)lsm_txn_isolation(t->t), r->next_read_id,
          r->seq, (int)t->iso);
    t->wkind = calloc(r->n_keys, 1);
    t->wval = calloc(r->n_keys, sizeof(uint8_t *));
    t->nwval = calloc(r->n_keys, sizeof(size_t));
    t->rset = calloc(r->n_keys, 1);
    assert_true(t->wkind && t->wval && t->nwval && t->rset);
    r->next_read_id++;
    r->n_txns++;
    r->stats.txns++;
}

static void mtxn_free(run *r, mtxn *t)
{
    for (size_t i = 0; i < r->n_keys; i++)
        free(t->wval[i]);
    for (size_t i = 0; i < t->n_ranges; i++) {
        free(t->ranges[i].lo.key);
        free(t->ranges[i].hi.key);
    }
    free(t->ranges);
    free(t->wkind);
    free(t->wval);
    free(t->nwval);
    free(t->rset);
}

/* Forgets transaction which (the engine freed it), and prunes the model. */
static void txn_forget(run *r, size_t which)
{
    mtxn_free(r, &r->txns[which]);
    r->txns[which] = r->txns[--r->n_txns];
    model_gc(r);
}

static void op_txn_get(run *r)
{
    if (r->n_txns == 0)
        return;
    mview view = {NULL, &r->txns[test_rng_below(&r->rng, r->n_txns)]};
    size_t idx = pick_txn_key(r);
    run_log(r, "txn %" PRIu64 " get %s", view.txn->id,
            fmt_key(r->keys[idx].b, r->keys[idx].n));
    view_get(r, &view, r->keys[idx].b, r->keys[idx].n, (long)idx);
}

/* A buffered put or delete: nothing reaches the database (the model's
 * seq does not move; check_state's visible_seq check sees to it). */
static void op_txn_write(run *r)
{
    if (r->n_txns == 0)
        return;
    mtxn *t = &r->txns[test_rng_below(&r->rng, r->n_txns)];
    size_t idx = pick_txn_key(r);
    const ukey *k = &r->keys[idx];
    int rc;
    if (test_rng_below(&r->rng, 4) == 0) {
        run_log(r, "txn %" PRIu64 " delete %s", t->id, fmt_key(k->b, k->n));
        rc = lsm_txn_delete(t->t, k->b, k->n);
        free(t->wval[idx]);
        t->wval[idx] = NULL;
        t->nwval[idx] = 0;
        if (!t->wkind[idx])
            t->n_writes++;
        t->wkind[idx] = 2;
    } else {
        uint8_t *v;
        size_t nv;
        gen_value(r, idx, &v, &nv);
        run_log(r, "txn %" PRIu64 " put %s = %zu bytes", t->id,
                fmt_key(k->b, k->n), nv);
        rc = lsm_txn_put(t->t, k->b, k->n, v, nv);
        free(t->wval[idx]);
        t->wval[idx] = v;
        t->nwval[idx] = nv;
        if (!t->wkind[idx])
            t->n_writes++;
        t->wkind[idx] = 1;
    }
    CHECK(r, rc == LSM_OK, "txn %" PRIu64 " write of %s: rc=%d (%s)", t->id,
          fmt_key(k->b, k->n), rc, lsm_strerror(rc));
}

/* Records [lo, hi] as a range t scanned (SERIALIZABLE), for the model's
 * conflict prediction. */
static void txn_add_range(mtxn *t, const gbound *lo, const gbound *hi)
{
    if (t->iso != LSM_ISOLATION_SERIALIZABLE)
        return;
    if (t->n_ranges == t->cap_ranges) {
        t->cap_ranges = t->cap_ranges ? 2 * t->cap_ranges : 4;
        t->ranges = realloc(t->ranges, t->cap_ranges * sizeof(mrange));
        assert_non_null(t->ranges);
    }
    t->ranges[t->n_ranges].lo = gbound_copy(lo);
    t->ranges[t->n_ranges].hi = gbound_copy(hi);
    t->n_ranges++;
}

/* A prefix scan in the transaction of view: its snapshot and its own
 * writes, and (SERIALIZABLE) the prefix's range recorded as read. */
static void op_txn_scan_prefix(run *r, const mview *view)
{
    mtxn *t = (mtxn *)view->txn;
    gbound lo, hi;
    prefix_bounds(r, &lo, &hi);
    run_log(r, "txn %" PRIu64 " scan --prefix %s", t->id,
            fmt_key(lo.key, lo.n));
    txn_add_range(t, &lo, &hi);
    view_scan(r, view, &lo, &hi, 0);
}

static void op_txn_scan(run *r)
{
    if (r->n_txns == 0)
        return;
    mview view = {NULL, &r->txns[test_rng_below(&r->rng, r->n_txns)]};
    mtxn *t = (mtxn *)view.txn;
    gbound lo, hi;
    gen_txn_bounds(r, &lo, &hi);
    char desc[MODEL_LOG_LINE];
    fmt_bounds(&lo, &hi, desc, sizeof(desc));
    run_log(r, "txn %" PRIu64 " scan %s", t->id, desc);
    txn_add_range(t, &lo, &hi);
    r->stats.txn_scans++;
    view_scan(r, &view, &lo, &hi, test_rng_below(&r->rng, 3) == 0);
    op_txn_scan_prefix(r, &view);
}

/* Whether a write of key k committed after t began conflicts with t, by
 * kind (the index is an lsm_conflict_kind): written by t (WRITE), read by
 * t (READ) or in a range t scanned (RANGE); the last two under
 * SERIALIZABLE only. idx is k's universe index or -1. */
static void conflict_kinds(const run *r, const mtxn *t, const ukey *k, long idx,
                           int kinds[4])
{
    memset(kinds, 0, 4 * sizeof(int));
    kinds[LSM_CONFLICT_WRITE] = idx >= 0 && t->wkind[idx];
    if (t->iso != LSM_ISOLATION_SERIALIZABLE)
        return;
    kinds[LSM_CONFLICT_READ] = idx >= 0 && t->rset[idx];
    for (size_t i = 0; i < t->n_ranges; i++)
        if (in_bounds(k, &t->ranges[i].lo, &t->ranges[i].hi))
            kinds[LSM_CONFLICT_RANGE] = 1;
    (void)r;
}

/* Whether range delete d and scanned range m share a key: the first key
 * of m at or above d->lo is below d->hi and inside m. */
static int rdel_meets_range(const mrdel *d, const mrange *m)
{
    static const gbound unbounded = {.kind = LSM_BOUND_UNBOUNDED};
    uint8_t *buf = NULL;
    ukey first = {d->lo, d->nlo};
    if (!in_bounds(&first, &m->lo, &unbounded)) {
        buf = malloc(m->lo.n + 1);
        assert_non_null(buf);
        memcpy(buf, m->lo.key, m->lo.n);
        first.b = buf;
        first.n = m->lo.n;
        if (m->lo.kind == LSM_BOUND_EXCLUDED)
            buf[first.n++] = 0x00;
    }
    int meets = key_cmp(first.b, first.n, d->hi, d->nhi) < 0 &&
                in_bounds(&first, &m->lo, &m->hi);
    free(buf);
    return meets;
}

/* The commit of t the model predicts: 1 when some write committed after
 * t began conflicts with it (kinds[] then says which kinds occur). */
static int predict_conflict(const run *r, const mtxn *t, int kinds[4])
{
    int any = 0, k[4];
    memset(kinds, 0, 4 * sizeof(int));
    if (t->n_writes == 0)
        return 0; /* no checks for a transaction that wrote nothing */
    for (size_t i = 0; i < r->n_keys; i++) {
        const mversion *mv = hist_newest(r, i);
        if (mv == NULL || mv->seq <= t->read_seq)
            continue;
        conflict_kinds(r, t, &r->keys[i], (long)i, k);
        for (int j = 1; j < 4; j++)
            if (k[j])
                kinds[j] = any = 1;
    }
    for (size_t i = 0; i < r->n_probes; i++) {
        if (r->probes[i].seq <= t->read_seq)
            continue;
        ukey u = {(uint8_t *)r->probes[i].key, r->probes[i].n};
        conflict_kinds(r, t, &u, -1, k);
        for (int j = 1; j < 4; j++)
            if (k[j])
                kinds[j] = any = 1;
    }
    /* A range delete writes every key of its range, universe or not: it
     * meets a scanned range when they share a key. */
    for (size_t i = 0; i < r->n_rdels && t->iso == LSM_ISOLATION_SERIALIZABLE;
         i++)
        for (size_t j = 0; r->rdels[i].seq > t->read_seq && j < t->n_ranges;
             j++)
            if (rdel_meets_range(&r->rdels[i], &t->ranges[j]))
                kinds[LSM_CONFLICT_RANGE] = any = 1;
    return any;
}

/* A refused commit: its kind is one the model predicts, its key was written
 * after t began with that kind of conflict, and conflict_seq is that key's
 * newest write (within the write call that made it). */
static void check_conflict_info(run *r, const mtxn *t, const int kinds[4],
                                const lsm_commit_info *info)
{
    int kind = (int)info->conflict;
    CHECK(r, kind >= 1 && kind <= 3 && kinds[kind],
          "commit of txn %" PRIu64 ": conflict kind %d, the model expects "
          "write %d read %d range %d",
          t->id, kind, kinds[1], kinds[2], kinds[3]);
    CHECK(r, info->key != NULL && info->nkey > 0,
          "commit of txn %" PRIu64 ": a conflict names no key", t->id);
    ukey u = {info->key, info->nkey};
    long idx = universe_find(r, info->key, info->nkey);
    uint64_t lo = 0, hi = 0;
    if (idx >= 0) {
        const mversion *mv = hist_newest(r, (size_t)idx);
        if (mv)
            lo = mv->unit_lo, hi = mv->unit_hi;
    } else {
        for (size_t i = 0; i < r->n_probes; i++)
            if (key_cmp(r->probes[i].key, r->probes[i].n, info->key,
                        info->nkey) == 0)
                lo = hi = r->probes[i].seq;
        for (size_t i = 0; i < r->n_rdels; i++)
            if (key_cmp(r->rdels[i].lo, r->rdels[i].nlo, info->key,
                        info->nkey) <= 0 &&
                key_cmp(info->key, info->nkey, r->rdels[i].hi,
                        r->rdels[i].nhi) < 0 &&
                r->rdels[i].seq > hi)
                lo = hi = r->rdels[i].seq;
    }
    int k[4];
    conflict_kinds(r, t, &u, idx, k);
    CHECK(r, hi > t->read_seq && k[kind],
          "commit of txn %" PRIu64 " (read seq %" PRIu64
          "): conflict kind %d on %s, which %s",
          t->id, t->read_seq, kind, fmt_key(info->key, info->nkey),
          hi <= t->read_seq ? "nobody wrote after it began"
                            : "is no such conflict");
    CHECK(r, info->conflict_seq >= lo && info->conflict_seq <= hi,
          "commit of txn %" PRIu64 ": conflict on %s at seq %" PRIu64
          ", its newest write has seq in [%" PRIu64 ", %" PRIu64 "]",
          t->id, fmt_key(info->key, info->nkey), info->conflict_seq, lo, hi);
}

/* A successful commit: its writes take the seqs after the model's newest,
 * ending at commit_seq (in key order in the model: any order inside one
 * call reads the same, since no read point lies inside it). */
static void apply_commit(run *r, mtxn *t, const lsm_commit_info *info)
{
    uint64_t want = t->n_writes ? r->seq + t->n_writes : t->read_seq;
    CHECK(r, info->commit_seq == want && info->conflict == LSM_CONFLICT_NONE,
          "commit of txn %" PRIu64 " with %zu writes: commit_seq %" PRIu64
          " conflict %d, expected commit_seq %" PRIu64,
          t->id, t->n_writes, info->commit_seq, (int)info->conflict, want);
    uint64_t unit_lo = r->seq + 1, unit_hi = r->seq + t->n_writes;
    for (size_t i = 0; i < r->n_keys; i++) {
        if (!t->wkind[i])
            continue;
        const ukey *k = &r->keys[i];
        if (t->wkind[i] == 1) {
            model_commit_write(r, (long)i, NULL, 0, t->wval[i], t->nwval[i], 0,
                               unit_lo, unit_hi);
            mstate_set(&r->m, i, t->wval[i], t->nwval[i]);
            t->wval[i] = NULL; /* now the mstate's */
            r->cnt.puts++;
            r->cnt.user_bytes += k->n + t->nwval[i];
        } else {
            model_commit_write(r, (long)i, NULL, 0, NULL, 0, 1, unit_lo,
                               unit_hi);
            mstate_clear(&r->m, i);
            r->cnt.deletes++;
            r->cnt.user_bytes += k->n;
        }
    }
}

/* Commits transaction which, checking the outcome against the model's
 * prediction for its isolation level. */
static void txn_commit(run *r, size_t which)
{
    mtxn *t = &r->txns[which];
    int kinds[4];
    int conflict = predict_conflict(r, t, kinds);
    run_log(r, "commit txn %" PRIu64 " (%zu writes, %zu ranges; model: %s)",
            t->id, t->n_writes, t->n_ranges, conflict ? "conflict" : "ok");
    lsm_commit_info info;
    memset(&info, 0, sizeof(info));
    info.commit_seq = 0xdead;
    int rc = lsm_txn_commit(t->t, &info);
    t->t = NULL;
    if (conflict) {
        CHECK(r, rc == LSM_ECONFLICT,
              "commit of txn %" PRIu64 " (read seq %" PRIu64
              "): rc=%d (%s), the model expects a conflict (write %d read %d "
              "range %d)",
              t->id, t->read_seq, rc, lsm_strerror(rc), kinds[1], kinds[2],
              kinds[3]);
        check_conflict_info(r, t, kinds, &info);
        r->cnt.conflicts[info.conflict]++;
        r->stats.conflicts[info.conflict]++;
    } else {
        CHECK(r, rc == LSM_OK,
              "commit of txn %" PRIu64 " (read seq %" PRIu64
              ", %s): rc=%d (%s), conflict %d on %s at seq %" PRIu64
              "; the model expects it to commit",
              t->id, t->read_seq,
              t->iso == LSM_ISOLATION_SERIALIZABLE ? "serializable" : "si", rc,
              lsm_strerror(rc), (int)info.conflict,
              info.key ? fmt_key(info.key, info.nkey) : "-", info.conflict_seq);
        CHECK(r, info.key == NULL, "a commit that succeeded names a key");
        apply_commit(r, t, &info);
        r->cnt.commits++;
        r->stats.commits++;
    }
    lsm_free(info.key);
    txn_forget(r, which);
}

static void txn_abort(run *r, size_t which)
{
    run_log(r, "abort txn %" PRIu64, r->txns[which].id);
    lsm_txn_abort(r->txns[which].t);
    r->cnt.aborts++;
    txn_forget(r, which);
}

static void op_txn_end(run *r, int commit)
{
    if (r->n_txns == 0)
        return;
    size_t which = test_rng_below(&r->rng, r->n_txns);
    if (commit)
        txn_commit(r, which);
    else
        txn_abort(r, which);
}

/* Ends every snapshot and transaction (lsm_close refuses while any is
 * live): releases, commits and aborts. */
static void end_read_points(run *r)
{
    while (r->n_snaps > 0)
        snap_release(r, r->n_snaps - 1);
    while (r->n_txns > 0)
        op_txn_end(r, test_rng_below(&r->rng, 4) > 0);
}

/* One snapshot or transaction operation; w in [0, 300). Transactions
 * mostly read and write before they end, so they live across flushes,
 * compactions and other commits. */
static void op_versions(run *r, size_t w)
{
    if (w < 20)
        op_snap_take(r);
    else if (w < 35)
        op_snap_release(r);
    else if (w < 65)
        op_snap_get(r);
    else if (w < 80)
        op_snap_scan(r);
    else if (w < 100)
        op_txn_begin(r);
    else if (w < 170)
        op_txn_get(r);
    else if (w < 220)
        op_txn_write(r);
    else if (w < 255)
        op_txn_scan(r);
    else if (w < 290)
        op_txn_end(r, 1);
    else
        op_txn_end(r, 0);
}

/* A guaranteed versions phase: a snapshot and two transactions (one per
 * isolation level) live across contended writes, a flush and a full
 * compaction; every snapshot is then read whole, and everything ends. */
static void phase_versions(run *r)
{
    run_log(r, "versions phase");
    op_snap_take(r);
    while (r->n_txns < 2 && r->n_txns < MODEL_TXNS_MAX)
        op_txn_begin(r);
    for (int i = 0; i < 60; i++) {
        run_next_op(r);
        size_t w = test_rng_below(&r->rng, 100);
        if (w < 20)
            op_put(r);
        else if (w < 25)
            op_delete(r);
        else if (w < 29)
            op_delete_range(r);
        else if (w < 95)
            op_versions(r, 35 + test_rng_below(&r->rng, 265));
        else
            op_batch(r);
        if (i == 30) {
            run_next_op(r);
            op_flush(r);
            run_next_op(r);
            lsm_state_free(do_compact_full(r));
        }
    }
    run_next_op(r);
    for (size_t i = 0; i < r->n_snaps; i++) {
        mview view = {&r->snaps[i], NULL};
        run_log(r, "versions phase: verify snapshot %" PRIu64, view.snap->id);
        verify_view(r, &view);
    }
    check_state_free(r, "versions phase");
    end_read_points(r);
    check_state_free(r, "after versions phase");
}

/* A guaranteed snapshot phase: an iterator opened before writes, a flush and
 * a full compaction must still return what the database held at its open. */
static void phase_snapshot(run *r)
{
    while (r->n_held >= MODEL_HELD_MAX)
        held_finish(r, 0);
    gbound lo = {LSM_BOUND_UNBOUNDED, NULL, 0, 1, 0};
    gbound hi = {LSM_BOUND_UNBOUNDED, NULL, 0, 1, 0};
    if (test_rng_below(&r->rng, 2))
        gen_bounds(r, &lo, &hi);
    char desc[MODEL_LOG_LINE];
    fmt_bounds(&lo, &hi, desc, sizeof(desc));
    run_log(r, "snapshot phase: hold scan %s", desc);
    size_t which = r->n_held++;
    held_open(r, &r->held[which], &lo, &hi, NULL);
    held_step(r, &r->held[which], 2);
    for (int i = 0; i < 40; i++) {
        run_next_op(r);
        if (test_rng_below(&r->rng, 3))
            op_put(r);
        else
            op_delete(r);
    }
    run_next_op(r);
    op_flush(r);
    run_next_op(r);
    lsm_state_free(do_compact_full(r));
    for (int i = 0; i < 20; i++) {
        run_next_op(r);
        op_put(r);
    }
    run_next_op(r);
    run_log(r, "snapshot phase: finish the held scan");
    check_state_free(r, "snapshot phase");
    held_finish(r, which);
    check_state_free(r, "after snapshot phase");
}

/* --- one run ------------------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return dflt;
    return strtoull(s, NULL, 0);
}

/* Tiny sizes drawn from the run's generator: at first open and, half the
 * time, at a reopen. */
static void pick_sizes(run *r)
{
    static const size_t caches[] = {0, 4096, 65536, 1u << 20};
    static const unsigned blooms[] = {0, 1, 10};
    r->opt.target_sst_size = 512 + test_rng_below(&r->rng, 3585);
    r->opt.block_size = 64 + test_rng_below(&r->rng, 193);
    r->opt.num_memtable_limit = 1 + test_rng_below(&r->rng, 3);
    r->opt.block_cache_bytes = caches[test_rng_below(&r->rng, 4)];
    r->opt.bloom_bits_per_key = blooms[test_rng_below(&r->rng, 3)];
    /* Mostly with the WAL, which a reopen may switch off and on again;
     * rarely with fsync per write (slow, and the same code path). */
    r->opt.enable_wal = test_rng_below(&r->rng, 4) != 0;
    r->opt.sync = r->opt.enable_wal && test_rng_below(&r->rng, 16) == 0;
}

/* Block compression: none, lz4 or zstd in turn, from the seed and the
 * number of reopens so far (not from the generator, so every seed's draws
 * stay what they were): each configuration runs seeds with each kind,
 * and a reopen with new options leaves a database of mixed blocks. */
static void pick_compression(run *r, uint64_t turn)
{
    static const lsm_compression kinds[] = {
        LSM_COMPRESSION_NONE, LSM_COMPRESSION_LZ4, LSM_COMPRESSION_ZSTD};
    r->opt.compression = kinds[(r->seed + turn) % 3];
    r->opt.compression_level = (int)((r->seed + turn) % 5) - 1; /* -1..3 */
}

/* The options of a run. The first seed of a run list starts with the block
 * cache disabled. */
static void pick_options(run *r, lsm_sched sched, lsm_compaction comp,
                         size_t seed_pos)
{
    lsm_options_init(&r->opt);
    pick_sizes(r);
    if (seed_pos == 0)
        r->opt.block_cache_bytes = 0;
    r->opt.sched = sched;
    r->opt.compaction = comp;
    /* Half the seeds keep SST indexes and filters in the cache; chosen by
     * a bit of the seed, so every seed's draws stay what they were. */
    r->opt.cache_index_and_filter_blocks = (int)((r->seed >> 1) & 1);
    r->opt.max_levels = (unsigned)(1 + test_rng_below(&r->rng, 5));
    pick_extractor(r, seed_pos + (uint64_t)sched + (uint64_t)comp);
    pick_compression(r, 0);
    r->opt.event_cb = model_event_cb;
    r->opt.event_ctx = &r->ev;
}

static void run_one(uint64_t seed, size_t seed_pos, lsm_sched sched,
                    lsm_compaction comp)
{
    run *r = calloc(1, sizeof(run));
    assert_non_null(r);
    r->seed = seed;
    r->rng = seed ^ ((uint64_t)sched << 40) ^ ((uint64_t)comp << 48);
    r->n_ops = env_u64("LSM_TEST_OPS", MODEL_DEFAULT_OPS);
    pick_options(r, sched, comp, seed_pos);
    universe_build(r);
    mstate_init(&r->m, r->n_keys);
    r->hist = calloc(r->n_keys, sizeof(mhist));
    assert_non_null(r->hist);
    r->hot_base = test_rng_below(&r->rng, r->n_keys - MODEL_HOT_KEYS + 1);
    test_tmp_template(r->tmp, sizeof r->tmp, "lsm-model");
    assert_non_null(mkdtemp(r->tmp));
    snprintf(r->dir, sizeof(r->dir), "%s/db", r->tmp);
    db_open(r);
    check_state_free(r, "after first open");

    for (r->op = 1; r->op <= r->n_ops; run_next_op(r)) {
        if (r->op % 500 == 250) {
            phase_snapshot(r);
            continue;
        }
        if (r->op % 500 == 0) {
            phase_versions(r);
            continue;
        }
        size_t w = test_rng_below(&r->rng, 1300);
        if (w < 330)
            op_put(r);
        else if (w < 460)
            op_delete(r);
        else if (w < 680)
            op_get(r);
        else if (w < 760)
            op_scan(r);
        else if (w < 790)
            op_flush(r);
        else if (w < 805)
            op_compact(r);
        else if (w < 812)
            op_reopen(r);
        else if (w < 835)
            op_held_open(r);
        else if (w < 925)
            op_held_step(r);
        else if (w < 929)
            op_delete_all(r);
        else if (w < 936)
            op_burst(r);
        else if (w < 976)
            op_batch(r);
        else if (w < 990)
            op_delete_range(r);
        else if (w >= 1000)
            op_versions(r, w - 1000);
        else {
            run_log(r, "state check");
            check_state_free(r, "periodic");
        }
    }
    run_next_op(r);
    verify_all(r, "end of run");
    while (r->n_held > 0)
        held_finish(r, 0);
    check_state_free(r, "end of run");
    op_reopen(r);
    atomic_store(&r->ev.db, NULL);
    int rc = lsm_close(r->db);
    CHECK(r, rc == LSM_OK, "final lsm_close: rc=%d (%s)", rc, lsm_strerror(rc));
    CHECK(r, atomic_load(&r->ev.n_bad) == 0, "bad event: %s", r->ev.first_bad);
    if (env_u64("LSM_TEST_VERBOSE", 0))
        fprintf(stderr,
                "seed=%" PRIu64 " %s/%s keys=%zu ops=%" PRIu64
                " sst=%zu blk=%zu lim=%zu cache=%zu bloom=%u lv=%u | "
                "lsm_flush=%" PRIu64 " compact=%" PRIu64 " reopen=%" PRIu64
                " scans=%" PRIu64 " (empty %" PRIu64 ") frozen=%" PRIu64
                " sst_flushes=%" PRIu64 " max_l0=%zu max_l1=%zu max_imm=%zu "
                "max_held=%zu\n",
                r->seed, sched_name(sched), lsm_compaction_name(comp),
                r->n_keys, r->n_ops, r->opt.target_sst_size, r->opt.block_size,
                r->opt.num_memtable_limit, r->opt.block_cache_bytes,
                r->opt.bloom_bits_per_key, r->opt.max_levels, r->stats.flushes,
                r->stats.compactions, r->stats.reopens, r->stats.scans,
                r->stats.empty_scans, r->stats.frozen, r->stats.sst_flushes,
                r->stats.max_l0, r->stats.max_l1, r->stats.max_imm,
                r->stats.max_held);
    if (env_u64("LSM_TEST_VERBOSE", 0))
        fprintf(stderr,
                "  snapshots=%" PRIu64 " (reads %" PRIu64 ") txns=%" PRIu64
                " (reads %" PRIu64 ", scans %" PRIu64 ") commits=%" PRIu64
                " conflicts write/read/range=%" PRIu64 "/%" PRIu64 "/%" PRIu64
                " max_versions_per_key=%" PRIu64 " prefix scans=%" PRIu64
                " (filters checked %" PRIu64 ", skipped %" PRIu64 ")\n",
                r->stats.snaps, r->stats.snap_reads, r->stats.txns,
                r->stats.txn_reads, r->stats.txn_scans, r->stats.commits,
                r->stats.conflicts[1], r->stats.conflicts[2],
                r->stats.conflicts[3], r->stats.max_versions,
                r->stats.prefix_scans, r->stats.prefix_checks,
                r->stats.prefix_skips);
    assert_int_equal(test_rmtree(r->tmp), 0);
    mstate_free(&r->m, r->n_keys);
    for (size_t i = 0; i < r->n_keys; i++) {
        for (size_t k = 0; k < r->hist[i].n; k++)
            free(r->hist[i].v[k].val);
        free(r->hist[i].v);
        free(r->keys[i].b);
    }
    free(r->hist);
    free(r->probes);
    rdels_prune(r, MODEL_NO_WATERMARK);
    free(r->rdels);
    free(r->keys);
    free(r);
}

static void run_all_seeds(lsm_sched sched, lsm_compaction comp)
{
    const char *one = getenv("LSM_TEST_SEED");
    if (one != NULL && *one != '\0') {
        run_one(strtoull(one, NULL, 0), 0, sched, comp);
        return;
    }
    for (size_t i = 0; i < N_MODEL_SEEDS; i++)
        run_one(model_seeds[i], i, sched, comp);
}

static void test_model_inline_none(void **state)
{
    (void)state;
    run_all_seeds(LSM_SCHED_INLINE, LSM_COMPACTION_NONE);
}

static void test_model_inline_leveled(void **state)
{
    (void)state;
    run_all_seeds(LSM_SCHED_INLINE, LSM_COMPACTION_LEVELED);
}

static void test_model_threads_none(void **state)
{
    (void)state;
    run_all_seeds(LSM_SCHED_THREADS, LSM_COMPACTION_NONE);
}

static void test_model_threads_leveled(void **state)
{
    (void)state;
    run_all_seeds(LSM_SCHED_THREADS, LSM_COMPACTION_LEVELED);
}

static void test_model_inline_simple(void **state)
{
    (void)state;
    run_all_seeds(LSM_SCHED_INLINE, LSM_COMPACTION_SIMPLE);
}

static void test_model_threads_simple(void **state)
{
    (void)state;
    run_all_seeds(LSM_SCHED_THREADS, LSM_COMPACTION_SIMPLE);
}

static void test_model_inline_tiered(void **state)
{
    (void)state;
    run_all_seeds(LSM_SCHED_INLINE, LSM_COMPACTION_TIERED);
}

static void test_model_threads_tiered(void **state)
{
    (void)state;
    run_all_seeds(LSM_SCHED_THREADS, LSM_COMPACTION_TIERED);
}

/* --- deterministic edges of the API -------------------------------------- */

static void make_tmp(char *tmp, size_t cap, char *dir, size_t dcap)
{
    test_tmp_template(tmp, cap, "lsm-model");
    assert_non_null(mkdtemp(tmp));
    snprintf(dir, dcap, "%s/db", tmp);
}

static void db_expect_value(lsm_db *db, const void *k, size_t nk, const void *v,
                            size_t nv)
{
    void *got = NULL;
    size_t ngot = 0;
    assert_int_equal(lsm_get(db, k, nk, &got, &ngot), LSM_OK);
    assert_non_null(got);
    assert_int_equal(ngot, nv);
    if (nv)
        assert_memory_equal(got, v, nv);
    assert_int_equal(((uint8_t *)got)[nv], 0);
    lsm_free(got);
}

/* Opening a file, bad options, and a second opener of a locked directory
 * fail with *out set to NULL. */
static void test_open_errors(void **state)
{
    (void)state;
    char tmp[64], dir[128], file[160];
    make_tmp(tmp, sizeof(tmp), dir, sizeof(dir));
    snprintf(file, sizeof(file), "%s/plainfile", tmp);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("not a database\n", f);
    fclose(f);

    lsm_db *db = (lsm_db *)&db;
    assert_int_not_equal(lsm_open(file, NULL, &db), LSM_OK);
    assert_null(db);

    lsm_options opt;
    lsm_options_init(&opt);
    opt.num_memtable_limit = 0;
    db = (lsm_db *)&db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_EINVAL);
    assert_null(db);

    lsm_options_init(&opt);
    opt.compaction = LSM_COMPACTION_LEVELED;
    opt.max_levels = 0;
    db = (lsm_db *)&db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_EINVAL);
    assert_null(db);
    opt.max_levels = 17;
    db = (lsm_db *)&db;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_EINVAL);
    assert_null(db);

    lsm_options_init(&opt);
    db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_non_null(db);
    lsm_db *second = (lsm_db *)&second;
    assert_int_equal(lsm_open(dir, &opt, &second), LSM_EBUSY);
    assert_null(second);
    assert_int_equal(lsm_close(db), LSM_OK);
    /* Once closed, the lock is released. */
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);

    for (int rc = LSM_OK; rc <= LSM_EINTERNAL; rc++) {
        const char *s = lsm_strerror(rc);
        assert_non_null(s);
        assert_true(s[0] != '\0');
    }
    /* NULL-safe functions. */
    lsm_iter_close(NULL);
    lsm_free(NULL);
    lsm_state_free(NULL);
    lsm_close(NULL);
    assert_int_equal(test_rmtree(tmp), 0);
}

/* Key and value size limits: exactly the maximum works (through a flush and
 * a reopen), one more is LSM_EINVAL, an empty key is LSM_EINVAL everywhere,
 * and an empty value is a value while a delete is not. */
static void test_size_limits_and_empty_values(void **state)
{
    (void)state;
    char tmp[64], dir[128];
    make_tmp(tmp, sizeof(tmp), dir, sizeof(dir));
    lsm_options opt;
    lsm_options_init(&opt);
    opt.target_sst_size = 4096;
    opt.block_size = 128;
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);

    size_t nbig_key = LSM_MAX_KEY_BYTES;
    uint8_t *big_key = malloc(nbig_key + 1);
    assert_non_null(big_key);
    for (size_t i = 0; i <= nbig_key; i++)
        big_key[i] = (uint8_t)('A' + i % 23);
    size_t nbig_val = LSM_MAX_VALUE_BYTES;
    uint8_t *big_val = malloc(nbig_val + 1);
    assert_non_null(big_val);
    for (size_t i = 0; i <= nbig_val; i++)
        big_val[i] = (uint8_t)(i * 7 + (i >> 13));

    uint8_t *v = NULL;
    size_t nv = 0;
    assert_int_equal(lsm_put(db, "", 0, "x", 1), LSM_EINVAL);
    assert_int_equal(lsm_put(db, NULL, 0, "x", 1), LSM_EINVAL);
    assert_int_equal(lsm_delete(db, "", 0), LSM_EINVAL);
    assert_int_equal(lsm_get(db, "", 0, (void **)&v, &nv), LSM_EINVAL);
    assert_int_equal(lsm_put(db, big_key, nbig_key + 1, "x", 1), LSM_EINVAL);
    assert_int_equal(lsm_delete(db, big_key, nbig_key + 1), LSM_EINVAL);
    assert_int_equal(lsm_put(db, "k", 1, big_val, nbig_val + 1), LSM_EINVAL);

    assert_int_equal(lsm_put(db, big_key, nbig_key, "big key", 7), LSM_OK);
    assert_int_equal(lsm_put(db, "bigval", 6, big_val, nbig_val), LSM_OK);
    assert_int_equal(lsm_put(db, "empty", 5, "", 0), LSM_OK);
    assert_int_equal(lsm_put(db, "gone", 4, "soon", 4), LSM_OK);
    assert_int_equal(lsm_delete(db, "gone", 4), LSM_OK);
    assert_int_equal(lsm_delete(db, "never", 5), LSM_OK);

    for (int round = 0; round < 3; round++) {
        db_expect_value(db, big_key, nbig_key, "big key", 7);
        db_expect_value(db, "bigval", 6, big_val, nbig_val);
        db_expect_value(db, "empty", 5, "", 0);
        assert_int_equal(lsm_get(db, "gone", 4, (void **)&v, &nv),
                         LSM_NOTFOUND);
        assert_int_equal(lsm_get(db, "never", 5, (void **)&v, &nv),
                         LSM_NOTFOUND);

        /* The huge key alone, as an included lo == hi range. */
        lsm_bound b = {LSM_BOUND_INCLUDED, big_key, nbig_key};
        lsm_iter *it = NULL;
        assert_int_equal(lsm_scan(db, &b, &b, &it), LSM_OK);
        assert_true(lsm_iter_valid(it));
        size_t nk = 0;
        const void *k = lsm_iter_key(it, &nk);
        assert_int_equal(nk, nbig_key);
        assert_memory_equal(k, big_key, nk);
        assert_int_equal(lsm_iter_next(it), LSM_OK);
        assert_false(lsm_iter_valid(it));
        lsm_iter_close(it);

        /* Full scan: "bigval", "empty" (empty value), the big key ("A..."
         * sorts first); no "gone", no "never". */
        assert_int_equal(lsm_scan(db, NULL, NULL, &it), LSM_OK);
        const char *order[] = {NULL, "bigval", "empty"};
        for (int i = 0; i < 3; i++) {
            assert_true(lsm_iter_valid(it));
            k = lsm_iter_key(it, &nk);
            if (order[i] == NULL) {
                assert_int_equal(nk, nbig_key);
            } else {
                assert_int_equal(nk, strlen(order[i]));
                assert_memory_equal(k, order[i], nk);
            }
            if (i == 2) {
                lsm_iter_value(it, &nv);
                assert_int_equal(nv, 0);
            }
            assert_int_equal(lsm_iter_next(it), LSM_OK);
        }
        assert_false(lsm_iter_valid(it));
        lsm_iter_close(it);

        if (round == 0) {
            assert_int_equal(lsm_flush(db), LSM_OK);
        } else if (round == 1) {
            assert_int_equal(lsm_close(db), LSM_OK);
            db = NULL;
            assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
            assert_int_equal(lsm_compact_full(db), LSM_OK);
        }
    }
    assert_int_equal(lsm_close(db), LSM_OK);
    free(big_key);
    free(big_val);
    assert_int_equal(test_rmtree(tmp), 0);
}

int main(void)
{
    if (getenv("LSM_MODEL_FILTER"))
        cmocka_set_test_filter(getenv("LSM_MODEL_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_size_limits_and_empty_values),
        cmocka_unit_test(test_model_inline_none),
        cmocka_unit_test(test_model_inline_leveled),
        cmocka_unit_test(test_model_threads_none),
        cmocka_unit_test(test_model_threads_leveled),
        cmocka_unit_test(test_model_inline_simple),
        cmocka_unit_test(test_model_threads_simple),
        cmocka_unit_test(test_model_inline_tiered),
        cmocka_unit_test(test_model_threads_tiered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
