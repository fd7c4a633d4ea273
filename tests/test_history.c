/*
 * test_history.c: lsm_key_history against a model of the versions written,
 * and the per-level stats of lsm_state (lsm_level_stats) against what a
 * test computes on its own from the events and the state's SSTs.
 *
 * History: random puts, deletes, flushes and full compactions with each
 * strategy; every listed version must be one the model wrote for that key
 * (same seq, same value or tombstone), newest first; the first must be the
 * model's newest write and what lsm_get answers (an empty list: the newest
 * write was a deletion that a bottom compaction dropped); while no freeze
 * happened since the last flush, the mutable memtable must hold exactly
 * the writes since that flush; an SST holds at most one version of a key
 * and is where the state says, with the key in its range.
 *
 * Level stats: the event callback keeps its own rows (L0 from FLUSH_END;
 * a level from COMPACTION_BEGIN's inputs, measured in an lsm_state taken
 * right then, COMPACTION_END's bytes and BEGIN's reason; a tier's row from
 * the flush or compaction that made it); the state's rows must equal them,
 * written bytes must sum to the counters, and leveled targets and scores
 * must follow the controller's rule, with nothing due after an inline
 * operation settles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include <inttypes.h>
#include <math.h>

#define N_KEYS 40
#define MAX_WRITES 4096

/* --- the model of writes ------------------------------------------------ */

typedef struct write_rec {
    int key;
    int tombstone;
    char value[32];
} write_rec;

typedef struct model {
    write_rec writes[MAX_WRITES]; /* writes[i] has seq first_seq + i */
    size_t n;
    uint64_t first_seq;       /* found from the first history: 0 unknown */
    size_t n_at_last_flush;   /* writes before the last lsm_flush */
    uint64_t frozen_at_flush; /* memtables_frozen right after it */
} model;

static void key_name(int key, char *out, size_t n)
{
    snprintf(out, n, "k%02d", key);
}

static const write_rec *model_latest(const model *m, int key)
{
    for (size_t i = m->n; i-- > 0;)
        if (m->writes[i].key == key)
            return &m->writes[i];
    return NULL;
}

static const write_rec *model_find(const model *m, uint64_t seq)
{
    if (seq < m->first_seq || seq - m->first_seq >= m->n)
        return NULL;
    return &m->writes[seq - m->first_seq];
}

static void model_write(lsm_db *db, model *m, uint64_t *rng)
{
    write_rec *w = &m->writes[m->n];
    char k[16];
    w->key = (int)test_rng_below(rng, N_KEYS);
    w->tombstone = test_rng_below(rng, 100) < 20;
    key_name(w->key, k, sizeof k);
    if (w->tombstone) {
        assert_int_equal(lsm_delete(db, k, strlen(k)), LSM_OK);
    } else {
        snprintf(w->value, sizeof w->value, "v%d-%zu", w->key, m->n);
        assert_int_equal(lsm_put(db, k, strlen(k), w->value, strlen(w->value)),
                         LSM_OK);
    }
    m->n++;
}

/* The first write's seq, from its history (it is the newest of its key). */
static void model_learn_first_seq(lsm_db *db, model *m)
{
    char k[16];
    lsm_key_version *v = NULL;
    size_t n = 0;
    key_name(m->writes[0].key, k, sizeof k);
    assert_int_equal(lsm_key_history(db, k, strlen(k), &v, &n), LSM_OK);
    assert_int_equal(n, 1);
    m->first_seq = v[0].seq;
    lsm_key_history_free(v, n);
}

/* The SST with this id at the place v says, or NULL. */
static const lsm_sst_info *state_find_sst(const lsm_state *st,
                                          const lsm_key_version *v)
{
    if (v->level == 0) {
        for (size_t i = 0; i < st->n_l0; i++)
            if (st->l0[i].sst_id == v->id)
                return &st->l0[i];
        return NULL;
    }
    for (size_t l = 0; l < st->n_levels; l++) {
        const lsm_level_info *lv = &st->levels[l];
        int here = v->level < 0 ? (uint64_t)lv->level == v->tier_id
                                : lv->level == v->level;
        for (size_t i = 0; here && i < lv->n_ssts; i++)
            if (lv->ssts[i].sst_id == v->id)
                return &lv->ssts[i];
    }
    return NULL;
}

static int bytes_cmp(const void *a, size_t na, const void *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (na > nb) - (na < nb);
}

/* The versions of one SST: where the state says, key in range, once. */
static void check_sst_version(const lsm_state *st, const lsm_key_version *v,
                              size_t i, const char *k)
{
    const lsm_sst_info *t = state_find_sst(st, v + i);
    if (!t)
        fail_msg("%s: version seq %" PRIu64 " in %" PRIu64
                 ".sst, level %d, tier %" PRIu64 ": no such SST there",
                 k, v[i].seq, v[i].id, v[i].level, v[i].tier_id);
    assert_true(bytes_cmp(t->first_key, t->nfirst_key, k, strlen(k)) <= 0);
    assert_true(bytes_cmp(t->last_key, t->nlast_key, k, strlen(k)) >= 0);
    for (size_t j = 0; j < i; j++)
        if (v[j].source == LSM_SOURCE_SST && v[j].id == v[i].id)
            fail_msg("%s: two versions in %" PRIu64 ".sst", k, v[i].id);
    if (st->compaction == LSM_COMPACTION_TIERED)
        assert_int_equal(v[i].level, -1);
    else
        assert_true(v[i].level >= 0 && v[i].tier_id == 0);
}

/* While nothing froze since the last flush, the mutable memtable holds
 * exactly the key's writes since that flush. */
static void check_memtable_versions(const model *m, const lsm_state *st,
                                    int key, const lsm_key_version *v, size_t n)
{
    if (st->counters.memtables_frozen != m->frozen_at_flush)
        return;
    size_t in_mem = 0, want = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(v[i].source, LSM_SOURCE_IMMUTABLE);
        if (v[i].source != LSM_SOURCE_MEMTABLE)
            continue;
        assert_int_equal(v[i].id, st->memtable.memtable_id);
        assert_true(v[i].seq - m->first_seq >= m->n_at_last_flush);
        in_mem++;
    }
    for (size_t i = m->n_at_last_flush; i < m->n; i++)
        want += m->writes[i].key == key;
    assert_int_equal(in_mem, want);
}

static void check_key(lsm_db *db, const model *m, const lsm_state *st, int key)
{
    char k[16];
    lsm_key_version *v = NULL;
    size_t n = 0;
    key_name(key, k, sizeof k);
    assert_int_equal(lsm_key_history(db, k, strlen(k), &v, &n), LSM_OK);
    for (size_t i = 0; i < n; i++) {
        const write_rec *w = model_find(m, v[i].seq);
        if (!w || w->key != key)
            fail_msg("%s: version seq %" PRIu64 " was never written to it", k,
                     v[i].seq);
        assert_int_equal(v[i].tombstone, w->tombstone);
        if (w->tombstone) {
            assert_null(v[i].value);
        } else {
            assert_int_equal(v[i].nvalue, strlen(w->value));
            assert_memory_equal(v[i].value, w->value, v[i].nvalue);
        }
        if (i > 0)
            assert_true(v[i].seq < v[i - 1].seq);
        if (v[i].source == LSM_SOURCE_SST)
            check_sst_version(st, v, i, k);
    }
    check_memtable_versions(m, st, key, v, n);
    const write_rec *latest = model_latest(m, key);
    void *value = NULL;
    size_t nvalue = 0;
    int rc = lsm_get(db, k, strlen(k), &value, &nvalue);
    if (n == 0) {
        /* nothing stored: never written, or a deletion compacted away */
        assert_true(!latest || latest->tombstone);
        assert_int_equal(rc, LSM_NOTFOUND);
    } else {
        assert_non_null(latest);
        assert_int_equal(v[0].seq,
                         m->first_seq + (uint64_t)(latest - m->writes));
        assert_int_equal(rc, v[0].tombstone ? LSM_NOTFOUND : LSM_OK);
        if (rc == LSM_OK) {
            assert_int_equal(nvalue, v[0].nvalue);
            assert_memory_equal(value, v[0].value, nvalue);
        }
    }
    lsm_free(value);
    lsm_key_history_free(v, n);
}

static void check_all_keys(lsm_db *db, const model *m)
{
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    for (int key = 0; key < N_KEYS; key++)
        check_key(db, m, st, key);
    lsm_state_free(st);
}

static void opts_small(lsm_options *o, lsm_compaction c)
{
    lsm_options_init(o);
    o->compaction = c;
    o->target_sst_size = 256;
    o->num_memtable_limit = 2;
    o->block_size = 128;
    o->base_level_size_mb = 0; /* every leveled level gets a target */
    o->num_tiers = 3;
}

static void run_history_model(void **state, lsm_compaction c, uint64_t seed)
{
    const char *dir = *state;
    lsm_options o;
    lsm_db *db = NULL;
    model *m = calloc(1, sizeof *m);
    uint64_t rng = seed;
    assert_non_null(m);
    opts_small(&o, c);
    assert_int_equal(lsm_open(dir, &o, &db), LSM_OK);
    for (int op = 0; op < 1500; op++) {
        uint64_t r = test_rng_below(&rng, 100);
        if (r < 88 || m->n == 0) {
            model_write(db, m, &rng);
            if (m->first_seq == 0)
                model_learn_first_seq(db, m);
        } else if (r < 97) {
            assert_int_equal(lsm_flush(db), LSM_OK);
            lsm_state *st = NULL;
            assert_int_equal(lsm_state_get(db, &st), LSM_OK);
            m->n_at_last_flush = m->n;
            m->frozen_at_flush = st->counters.memtables_frozen;
            lsm_state_free(st);
        } else {
            assert_int_equal(lsm_compact_full(db), LSM_OK);
        }
        if (op % 25 == 0)
            check_all_keys(db, m);
    }
    check_all_keys(db, m);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(m);
}

static void test_history_none(void **state)
{
    run_history_model(state, LSM_COMPACTION_NONE, 1);
}
static void test_history_simple(void **state)
{
    run_history_model(state, LSM_COMPACTION_SIMPLE, 2);
}
static void test_history_tiered(void **state)
{
    run_history_model(state, LSM_COMPACTION_TIERED, 3);
}
static void test_history_leveled(void **state)
{
    run_history_model(state, LSM_COMPACTION_LEVELED, 4);
}

static void test_history_bad_arguments(void **state)
{
    const char *dir = *state;
    lsm_options o;
    lsm_db *db = NULL;
    lsm_key_version *v = (lsm_key_version *)&o; /* must be reset */
    size_t n = 7;
    lsm_options_init(&o);
    assert_int_equal(lsm_open(dir, &o, &db), LSM_OK);
    assert_int_equal(lsm_key_history(NULL, "a", 1, &v, &n), LSM_EINVAL);
    assert_int_equal(lsm_key_history(db, "a", 1, NULL, &n), LSM_EINVAL);
    assert_int_equal(lsm_key_history(db, "a", 1, &v, NULL), LSM_EINVAL);
    assert_int_equal(lsm_key_history(db, "", 0, &v, &n), LSM_EINVAL);
    assert_int_equal(lsm_key_history(db, "a", 1, &v, &n), LSM_OK);
    assert_null(v);
    assert_int_equal(n, 0);
    /* an empty value is a value, not a tombstone, and not NULL */
    assert_int_equal(lsm_put(db, "a", 1, "", 0), LSM_OK);
    assert_int_equal(lsm_key_history(db, "a", 1, &v, &n), LSM_OK);
    assert_int_equal(n, 1);
    assert_false(v[0].tombstone);
    assert_non_null(v[0].value);
    assert_int_equal(v[0].nvalue, 0);
    assert_int_equal(v[0].source, LSM_SOURCE_MEMTABLE);
    lsm_key_history_free(v, n);
    lsm_key_history_free(NULL, 0);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* --- level stats ---------------------------------------------------------- */

typedef struct want_row {
    uint64_t tier_id; /* tiers only */
    uint64_t compactions, read_upper, read_lower, written;
    char reason[1024];
} want_row;

#define MAX_TIER_ROWS 256

/* What the events say the rows must be. Inline mode: the callback runs on
 * the test's thread, so no lock is needed. */
typedef struct oracle {
    lsm_db *db;
    want_row levels[LSM_MAX_LEVELS + 1]; /* [0]: L0's flushes */
    want_row tiers[MAX_TIER_ROWS];
    size_t n_tiers;
    /* the compaction running: from its BEGIN */
    want_row pending;
    uint64_t pending_tiers[64];
    size_t n_pending_tiers;
} oracle;

static uint64_t state_sst_size(const lsm_state *st, uint64_t id)
{
    for (size_t i = 0; i < st->n_l0; i++)
        if (st->l0[i].sst_id == id)
            return st->l0[i].file_size;
    for (size_t l = 0; l < st->n_levels; l++)
        for (size_t i = 0; i < st->levels[l].n_ssts; i++)
            if (st->levels[l].ssts[i].sst_id == id)
                return st->levels[l].ssts[i].file_size;
    fail_msg("input %" PRIu64 " is not in the state", id);
    return 0;
}

/* BEGIN: the inputs' bytes by run, measured in the tree right now. */
static void oracle_begin(oracle *o, const lsm_event *ev)
{
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(o->db, &st), LSM_OK);
    memset(&o->pending, 0, sizeof o->pending);
    o->n_pending_tiers = 0;
    snprintf(o->pending.reason, sizeof o->pending.reason, "%s", ev->reason);
    size_t at = 0;
    for (size_t r = 0; r < ev->n_input_runs; r++) {
        const lsm_input_run *run = &ev->input_runs[r];
        uint64_t bytes = 0;
        for (size_t i = 0; i < run->n_ssts; i++)
            bytes += state_sst_size(st, ev->inputs[at + i]);
        at += run->n_ssts;
        int lower = run->level < 0 ? r + 1 == ev->n_input_runs
                                   : run->level == ev->level;
        if (ev->trivial_move) /* a move reads nothing */
            continue;
        if (lower)
            o->pending.read_lower += bytes;
        else
            o->pending.read_upper += bytes;
        if (run->level < 0)
            o->pending_tiers[o->n_pending_tiers++] = run->tier_id;
    }
    assert_int_equal(at, ev->n_inputs);
    lsm_state_free(st);
}

static void oracle_tier_drop(oracle *o, uint64_t tier_id)
{
    for (size_t i = 0; i < o->n_tiers; i++)
        if (o->tiers[i].tier_id == tier_id)
            o->tiers[i] = o->tiers[--o->n_tiers];
}

static void oracle_end(oracle *o, const lsm_event *ev)
{
    o->pending.written = ev->size_bytes;
    o->pending.compactions = 1;
    if (o->n_pending_tiers == 0) {
        want_row *w = &o->levels[ev->level];
        w->compactions++;
        w->read_upper += o->pending.read_upper;
        w->read_lower += o->pending.read_lower;
        w->written += o->pending.written;
        memcpy(w->reason, o->pending.reason, sizeof w->reason);
        return;
    }
    for (size_t i = 0; i < o->n_pending_tiers; i++)
        oracle_tier_drop(o, o->pending_tiers[i]);
    if (ev->n_outputs > 0) {
        assert_true(o->n_tiers < MAX_TIER_ROWS);
        o->pending.tier_id = ev->outputs[0];
        o->tiers[o->n_tiers++] = o->pending;
    }
}

static void oracle_flush(oracle *o, const lsm_event *ev, int tiered)
{
    if (!tiered) {
        o->levels[0].compactions++; /* L0 counts flushes */
        o->levels[0].written += ev->size_bytes;
        return;
    }
    assert_true(o->n_tiers < MAX_TIER_ROWS);
    want_row *w = &o->tiers[o->n_tiers++];
    memset(w, 0, sizeof *w);
    w->tier_id = ev->sst_id;
    w->written = ev->size_bytes;
}

typedef struct oracle_ctx {
    oracle *o;
    int tiered;
} oracle_ctx;

static void oracle_cb(void *ctx, const lsm_event *ev)
{
    oracle_ctx *c = ctx;
    if (ev->type == LSM_EVENT_COMPACTION_BEGIN)
        oracle_begin(c->o, ev);
    else if (ev->type == LSM_EVENT_COMPACTION_END)
        oracle_end(c->o, ev);
    else if (ev->type == LSM_EVENT_FLUSH_END)
        oracle_flush(c->o, ev, c->tiered);
}

static void assert_row(const lsm_level_stats *got, const want_row *want,
                       const char *what, uint64_t amp_from)
{
    if (got->compactions != want->compactions ||
        got->bytes_read_upper != want->read_upper ||
        got->bytes_read_lower != want->read_lower ||
        got->bytes_written != want->written ||
        strcmp(got->last_reason, want->reason) != 0)
        fail_msg("%s: got %" PRIu64 " comp, %" PRIu64 " up, %" PRIu64
                 " low, %" PRIu64 " written, reason [%s]; wanted %" PRIu64
                 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 ", [%s]",
                 what, got->compactions, got->bytes_read_upper,
                 got->bytes_read_lower, got->bytes_written, got->last_reason,
                 want->compactions, want->read_upper, want->read_lower,
                 want->written, want->reason);
    double amp = amp_from ? (double)want->written / (double)amp_from : 0;
    assert_true(fabs(got->write_amplification - amp) < 1e-9);
}

static uint64_t level_bytes(const lsm_level_info *lv)
{
    uint64_t b = 0;
    for (size_t i = 0; i < lv->n_ssts; i++)
        b += lv->ssts[i].file_size;
    return b;
}

/* The controller's rule (compact_leveled.c), worked out here on its own:
 * the last level's target is max(its bytes, base); each level above gets
 * the one below's over the multiplier while that one is above base. After
 * an inline operation nothing is due: L0 is under its trigger and no
 * level but the last is over its target. */
static void check_leveled_targets(const lsm_state *st, const lsm_options *opt)
{
    uint64_t base = (uint64_t)opt->base_level_size_mb << 20;
    uint64_t target[LSM_MAX_LEVELS];
    size_t n = st->n_levels;
    uint64_t last = level_bytes(&st->levels[n - 1]);
    target[n - 1] = last > base ? last : base;
    for (size_t i = n - 1; i-- > 0;)
        target[i] = target[i + 1] > base
                        ? target[i + 1] / opt->level_size_multiplier
                        : 0;
    for (size_t i = 0; i < n; i++) {
        const lsm_level_stats *s = &st->levels[i].stats;
        uint64_t real = level_bytes(&st->levels[i]);
        assert_int_equal(s->target_bytes, target[i]);
        if (target[i] == 0)
            assert_true(real ? isinf(s->score) : s->score == 0);
        else
            assert_true(fabs(s->score - (double)real / (double)target[i]) <
                        1e-12);
        assert_true(s->score <= 1.0);
    }
    assert_true(fabs(st->l0_stats.score -
                     (double)st->n_l0 /
                         opt->level0_file_num_compaction_trigger) < 1e-12);
    assert_true(st->l0_stats.score < 1.0);
    assert_int_equal(st->l0_stats.target_bytes, 0);
}

static void check_level_stats(lsm_db *db, const oracle *o,
                              const lsm_options *opt)
{
    lsm_state *st = NULL;
    char what[64];
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    const lsm_counters *c = &st->counters;
    if (opt->compaction == LSM_COMPACTION_TIERED) {
        /* one row per tier that exists: the operation that made it */
        assert_int_equal(st->n_levels, o->n_tiers);
        for (size_t i = 0; i < st->n_levels; i++) {
            const want_row *w = NULL;
            for (size_t j = 0; j < o->n_tiers; j++)
                if (o->tiers[j].tier_id == (uint64_t)st->levels[i].level)
                    w = &o->tiers[j];
            assert_non_null(w);
            snprintf(what, sizeof what, "tier %d", st->levels[i].level);
            assert_row(&st->levels[i].stats, w, what, w->read_upper);
            assert_true(st->levels[i].stats.target_bytes == 0 &&
                        st->levels[i].stats.score == 0);
        }
        assert_int_equal(st->l0_stats.bytes_written, 0);
        lsm_state_free(st);
        return;
    }
    assert_row(&st->l0_stats, &o->levels[0], "L0", c->user_bytes_written);
    assert_int_equal(st->l0_stats.bytes_written, c->flush_bytes_written);
    assert_int_equal(st->l0_stats.compactions, c->flushes);
    uint64_t written = 0, compactions = 0;
    for (size_t i = 0; i < st->n_levels; i++) {
        const lsm_level_stats *s = &st->levels[i].stats;
        snprintf(what, sizeof what, "L%d", st->levels[i].level);
        assert_row(s, &o->levels[i + 1], what, o->levels[i + 1].read_upper);
        written += s->bytes_written;
        compactions += s->compactions;
    }
    assert_int_equal(written, c->compaction_bytes_written);
    assert_int_equal(compactions, c->compactions);
    if (opt->compaction == LSM_COMPACTION_LEVELED)
        check_leveled_targets(st, opt);
    else
        for (size_t i = 0; i < st->n_levels; i++)
            assert_true(st->levels[i].stats.target_bytes == 0 &&
                        st->levels[i].stats.score == 0);
    lsm_state_free(st);
}

static void run_level_stats(void **state, lsm_compaction c, uint64_t seed)
{
    const char *dir = *state;
    lsm_options o;
    lsm_db *db = NULL;
    oracle *orc = calloc(1, sizeof *orc);
    oracle_ctx ctx = {orc, c == LSM_COMPACTION_TIERED};
    model *m = calloc(1, sizeof *m);
    uint64_t rng = seed;
    assert_non_null(orc);
    assert_non_null(m);
    opts_small(&o, c);
    o.event_cb = oracle_cb;
    o.event_ctx = &ctx;
    assert_int_equal(lsm_open(dir, &o, &db), LSM_OK);
    orc->db = db;
    size_t compactions_seen = 0;
    for (int op = 0; op < 2500 && m->n < MAX_WRITES; op++) {
        uint64_t r = test_rng_below(&rng, 100);
        if (r < 95)
            model_write(db, m, &rng);
        else if (r < 99)
            assert_int_equal(lsm_flush(db), LSM_OK);
        else
            assert_int_equal(lsm_compact_full(db), LSM_OK);
        if (op % 50 == 0)
            check_level_stats(db, orc, &o);
    }
    check_level_stats(db, orc, &o);
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    compactions_seen = st->counters.compactions;
    lsm_state_free(st);
    assert_true(compactions_seen > 3); /* the run exercised something */
    assert_int_equal(lsm_close(db), LSM_OK);
    free(m);
    free(orc);
}

static void test_level_stats_simple(void **state)
{
    run_level_stats(state, LSM_COMPACTION_SIMPLE, 11);
}
static void test_level_stats_tiered(void **state)
{
    run_level_stats(state, LSM_COMPACTION_TIERED, 12);
}
static void test_level_stats_leveled(void **state)
{
    run_level_stats(state, LSM_COMPACTION_LEVELED, 13);
}
static void test_level_stats_none(void **state)
{
    run_level_stats(state, LSM_COMPACTION_NONE, 14);
}

/* --- threads mode ----------------------------------------------------------
 */

typedef struct writer_arg {
    lsm_db *db;
    int stop;
    pthread_mutex_t mu;
} writer_arg;

static void *writer_main(void *p)
{
    writer_arg *w = p;
    char k[16], v[32];
    for (unsigned i = 0;; i++) {
        pthread_mutex_lock(&w->mu);
        int stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        if (stop || i > 4000)
            break;
        key_name((int)(i % N_KEYS), k, sizeof k);
        snprintf(v, sizeof v, "v%u", i);
        if (lsm_put(w->db, k, strlen(k), v, strlen(v)) != LSM_OK)
            break;
    }
    return NULL;
}

/* While a writer fills memtables and the background threads flush and
 * compact, history stays well formed (newest first, values as written)
 * and the level rows stay within the counters. Run under TSan too. */
static void test_history_threads(void **state)
{
    const char *dir = *state;
    lsm_options o;
    lsm_db *db = NULL;
    writer_arg w = {0};
    pthread_t th;
    char k[16];
    opts_small(&o, LSM_COMPACTION_LEVELED);
    o.sched = LSM_SCHED_THREADS;
    o.target_sst_size = 1024;
    assert_int_equal(lsm_open(dir, &o, &db), LSM_OK);
    w.db = db;
    pthread_mutex_init(&w.mu, NULL);
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    for (int round = 0; round < 300; round++) {
        lsm_key_version *v = NULL;
        size_t n = 0;
        key_name(round % N_KEYS, k, sizeof k);
        assert_int_equal(lsm_key_history(db, k, strlen(k), &v, &n), LSM_OK);
        for (size_t i = 0; i < n; i++) {
            assert_false(v[i].tombstone);
            assert_true(v[i].nvalue > 1 && ((char *)v[i].value)[0] == 'v');
            if (i > 0)
                assert_true(v[i].seq < v[i - 1].seq);
        }
        lsm_key_history_free(v, n);
        lsm_state *st = NULL;
        assert_int_equal(lsm_state_get(db, &st), LSM_OK);
        uint64_t written = 0;
        for (size_t l = 0; l < st->n_levels; l++)
            written += st->levels[l].stats.bytes_written;
        /* The counters are copied first, the rows after; a flush or
         * compaction counts in its rows when it publishes, before it
         * counts in the counters: rows may be ahead, never behind. */
        assert_non_null(st->l0_stats.last_reason);
        assert_true(written >= st->counters.compaction_bytes_written);
        assert_true(st->l0_stats.bytes_written >=
                    st->counters.flush_bytes_written);
        lsm_state_free(st);
    }
    pthread_mutex_lock(&w.mu);
    w.stop = 1;
    pthread_mutex_unlock(&w.mu);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_mutex_destroy(&w.mu);
    assert_int_equal(lsm_close(db), LSM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_history_bad_arguments,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_history_none, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_history_simple, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_history_tiered, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_history_leveled, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_level_stats_simple, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_level_stats_tiered, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_level_stats_leveled,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_level_stats_none, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_history_threads, test_dir_setup,
                                        test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
