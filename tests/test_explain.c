/*
 * test_explain.c: read traces (lsm_get_explain, lsm_scan_explain,
 * lsm_iter_trace) checked against facts the test knows independently:
 * which keys it wrote into which SST (a model of every source), the key
 * ranges lsm_state_get reports, and the counters before and after each
 * read. Public API only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#define NKEYS 4200 /* keys k00000..k04199; the model covers them all */
#define MAX_SOURCES 16

/* What one source (memtable or SST) holds of each key: 0 nothing, 'v' a
 * value (written in batch `batch`), 't' a tombstone. */
typedef struct source_model {
    uint64_t id;
    unsigned char has[NKEYS];
    int batch;
} source_model;

typedef struct fixture {
    char *dir;
    lsm_db *db;
    lsm_options opt;
    /* Newest first: the mutable memtable, then the L0 SSTs. */
    size_t n_sources;
    source_model src[MAX_SOURCES];
} fixture;

static void key_of(unsigned i, char *buf)
{
    snprintf(buf, 16, "k%05u", i);
}

static void value_of(int batch, unsigned i, char *buf)
{
    snprintf(buf, 32, "v%d-%u", batch, i);
}

static lsm_counters counters_now(lsm_db *db)
{
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    lsm_counters c = st->counters;
    lsm_state_free(st);
    return c;
}

static int open_db(fixture *f)
{
    assert_int_equal(lsm_open(f->dir, &f->opt, &f->db), LSM_OK);
    return 0;
}

static int setup_none(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_mkdtemp();
    lsm_options_init(&f->opt);
    f->opt.compaction = LSM_COMPACTION_NONE;
    f->opt.target_sst_size = 64u << 20; /* only lsm_flush makes SSTs */
    f->opt.block_size = 512;            /* many blocks per SST */
    *state = f;
    return open_db(f);
}

static int teardown(void **state)
{
    fixture *f = *state;
    assert_int_equal(lsm_close(f->db), LSM_OK);
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* The model of the mutable memtable is always src[0]; flushing it turns it
 * into the newest L0 SST, whose id the state tells. */
static source_model *model_memtable(fixture *f)
{
    if (f->n_sources == 0) {
        memset(&f->src[0], 0, sizeof f->src[0]);
        f->n_sources = 1;
    }
    return &f->src[0];
}

static void model_put(fixture *f, int batch, unsigned i)
{
    char k[16], v[32];
    key_of(i, k);
    value_of(batch, i, v);
    test_put_str(f->db, k, v);
    source_model *m = model_memtable(f);
    m->has[i] = 'v';
    m->batch = batch; /* one batch per memtable in these tests */
}

static void model_del(fixture *f, unsigned i)
{
    char k[16];
    key_of(i, k);
    assert_int_equal(lsm_delete(f->db, k, strlen(k)), LSM_OK);
    model_memtable(f)->has[i] = 't';
}

/* Flushes the memtable: its model becomes the newest SST's, and an empty
 * memtable model takes its place. */
static void model_flush(fixture *f)
{
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    lsm_state *st;
    assert_int_equal(lsm_state_get(f->db, &st), LSM_OK);
    assert_true(f->n_sources < MAX_SOURCES);
    memmove(&f->src[1], &f->src[0], f->n_sources * sizeof f->src[0]);
    f->n_sources++;
    f->src[1].id = st->l0[0].sst_id;
    memset(&f->src[0], 0, sizeof f->src[0]);
    f->src[0].id = st->memtable.memtable_id;
    lsm_state_free(st);
}

/* Four L0 SSTs and a memtable, with overwrites, tombstones, gaps between
 * key ranges and holes inside them (for bloom filters to rule out). */
static void build_l0_tree(fixture *f)
{
    for (unsigned i = 0; i < 2000; i++)
        model_put(f, 0, i);
    model_flush(f);
    for (unsigned i = 1000; i < 3000; i += 2)
        model_put(f, 1, i);
    model_flush(f);
    for (unsigned i = 3500; i < 4000; i++)
        model_put(f, 2, i);
    model_flush(f);
    for (unsigned i = 500; i < 600; i++)
        model_put(f, 3, i);
    for (unsigned i = 1500; i < 1600; i++)
        model_del(f, i);
    model_flush(f);
    for (unsigned i = 0; i < 100; i += 3)
        model_put(f, 4, i);
    for (unsigned i = 3500; i < 3510; i++)
        model_del(f, i);
}

/* The index in f->src of the newest source holding key i, or -1. */
static int model_newest(const fixture *f, unsigned i)
{
    for (size_t s = 0; s < f->n_sources; s++)
        if (f->src[s].has[i])
            return (int)s;
    return -1;
}

static const source_model *model_find(const fixture *f, uint64_t id,
                                      lsm_read_source source)
{
    /* src[0] is the memtable; the rest are SSTs. */
    size_t from = source == LSM_SOURCE_SST ? 1 : 0;
    size_t to = source == LSM_SOURCE_SST ? f->n_sources : 1;
    for (size_t s = from; s < to; s++)
        if (f->src[s].id == id)
            return &f->src[s];
    fail_msg("step names %s %llu, which the model does not know",
             source == LSM_SOURCE_SST ? "SST" : "memtable",
             (unsigned long long)id);
    return NULL;
}

static bool key_in(const char *k, const void *first, size_t nfirst,
                   const void *last, size_t nlast)
{
    size_t nk = strlen(k);
    size_t n1 = nk < nfirst ? nk : nfirst, n2 = nk < nlast ? nk : nlast;
    int c1 = memcmp(k, first, n1), c2 = memcmp(k, last, n2);
    bool ge_first = c1 > 0 || (c1 == 0 && nk >= nfirst);
    bool le_last = c2 < 0 || (c2 == 0 && nk <= nlast);
    return ge_first && le_last;
}

/* Asserts that the counters moved by exactly the trace's totals. */
static void assert_totals_are_deltas(const lsm_read_trace *t,
                                     const lsm_counters *before,
                                     const lsm_counters *after)
{
    assert_int_equal(t->bloom_checks,
                     after->bloom_checks - before->bloom_checks);
    assert_int_equal(t->bloom_negatives,
                     after->bloom_negatives - before->bloom_negatives);
    assert_int_equal(t->sst_probes, after->sst_probes - before->sst_probes);
    assert_int_equal(t->block_reads, after->block_reads - before->block_reads);
    assert_int_equal(t->block_cache_hits,
                     after->block_cache_hits - before->block_cache_hits);
    assert_int_equal(t->memtable_bloom_negatives,
                     after->memtable_bloom_negatives -
                         before->memtable_bloom_negatives);
}

/* Tallies over many explained gets, so a test can insist that each kind of
 * step really happened. */
typedef struct get_tally {
    unsigned hits, tombstones, not_found, bloom_negatives, range_skips,
        false_positives, cached_blocks, read_blocks, memtable_skips,
        memtable_searches;
} get_tally;

/* Checks one SST step of a get before the deciding one against the model
 * and the state's L0 list. */
static void check_l0_step(const fixture *f, const lsm_state *st, size_t i_l0,
                          const lsm_read_step *s, unsigned i, get_tally *tally)
{
    char k[16];
    key_of(i, k);
    assert_int_equal(s->source, LSM_SOURCE_SST);
    assert_int_equal(s->level, 0);
    assert_int_equal(s->tier_id, 0);
    assert_true(i_l0 < st->n_l0);
    const lsm_sst_info *info = &st->l0[i_l0];
    assert_int_equal(s->id, info->sst_id); /* L0 newest first */
    const source_model *m = model_find(f, s->id, LSM_SOURCE_SST);
    bool in_range = key_in(k, info->first_key, info->nfirst_key, info->last_key,
                           info->nlast_key);
    switch (s->outcome) {
    case LSM_READ_SKIPPED_RANGE:
        assert_false(in_range);
        tally->range_skips++;
        break;
    case LSM_READ_SKIPPED_BLOOM:
        /* A bloom filter never says "absent" of a key the SST holds. */
        assert_true(in_range);
        assert_int_equal(m->has[i], 0);
        assert_true(s->bloom_checked);
        tally->bloom_negatives++;
        break;
    case LSM_READ_MISS:
        assert_true(in_range);
        assert_int_equal(m->has[i], 0);
        assert_true(s->bloom_checked); /* a false positive */
        tally->false_positives++;
        break;
    default:
        fail_msg("key %u: SST %llu decided the get, but the model says "
                 "a newer source holds it",
                 i, (unsigned long long)s->id);
    }
}

/* Checks the memtable step of a get of a key the memtable lacks: skipped
 * by its filter or searched in vain (a false positive). */
static void check_memtable_miss(const lsm_read_step *s, get_tally *tally)
{
    assert_int_equal(s->source, LSM_SOURCE_MEMTABLE);
    if (s->outcome == LSM_READ_SKIPPED_BLOOM) {
        assert_int_equal(s->entries_examined, 0);
        tally->memtable_skips++;
        return;
    }
    assert_int_equal(s->outcome, LSM_READ_MISS);
    assert_true(s->entries_examined > 0);
    tally->memtable_searches++;
}

/* Checks the step that decided a get (or the last step of a miss). */
static void check_deciding_step(const fixture *f, const lsm_read_step *s,
                                unsigned i, int rc, const void *value,
                                size_t nvalue, get_tally *tally)
{
    int newest = model_newest(f, i);
    const source_model *m = &f->src[newest];
    assert_int_equal(s->id, m->id);
    assert_int_equal(s->source,
                     newest == 0 ? LSM_SOURCE_MEMTABLE : LSM_SOURCE_SST);
    if (m->has[i] == 't') {
        assert_int_equal(rc, LSM_NOTFOUND);
        assert_int_equal(s->outcome, LSM_READ_TOMBSTONE);
        tally->tombstones++;
    } else {
        char v[32];
        value_of(m->batch, i, v);
        assert_int_equal(rc, LSM_OK);
        assert_int_equal(s->outcome, LSM_READ_HIT);
        assert_int_equal(nvalue, strlen(v));
        assert_memory_equal(value, v, nvalue);
        tally->hits++;
    }
    assert_true(s->seq > 0);
    assert_true(s->entries_examined > 0);
    if (s->source == LSM_SOURCE_SST) {
        assert_true(s->block_searched);
        if (s->block_cached)
            tally->cached_blocks++;
        else
            tally->read_blocks++;
    }
}

/* One explained get of key i in a tree of a memtable and L0 SSTs, checked
 * step by step. */
static void check_l0_get(fixture *f, unsigned i, get_tally *tally)
{
    char k[16];
    key_of(i, k);
    lsm_state *st;
    assert_int_equal(lsm_state_get(f->db, &st), LSM_OK);
    lsm_counters before = st->counters;

    lsm_read_trace *t = NULL;
    void *value = NULL;
    size_t nvalue = 0;
    int rc = lsm_get_explain(f->db, k, strlen(k), &value, &nvalue, &t);
    assert_true(rc == LSM_OK || rc == LSM_NOTFOUND);
    assert_non_null(t);
    lsm_counters after = counters_now(f->db);
    assert_totals_are_deltas(t, &before, &after);

    /* The memtable is always searched first. */
    assert_true(t->n_steps >= 1);
    assert_int_equal(t->steps[0].source, LSM_SOURCE_MEMTABLE);
    assert_int_equal(t->steps[0].id, st->memtable.memtable_id);

    int newest = model_newest(f, i);
    size_t n_decided = newest < 0 ? 0 : 1;
    size_t last_checked = t->n_steps - n_decided;
    /* The memtable's filter was asked first; it may skip only a key the
     * memtable lacks, and a key it lets through it lacks is a false
     * positive. */
    assert_true(t->steps[0].bloom_checked);
    if (newest != 0)
        check_memtable_miss(&t->steps[0], tally);
    uint64_t memtable_searched =
        t->steps[0].outcome == LSM_READ_SKIPPED_BLOOM ? 0 : 1;
    assert_int_equal(t->memtable_bloom_negatives, 1 - memtable_searched);
    for (size_t s = 1; s < last_checked; s++)
        check_l0_step(f, st, s - 1, &t->steps[s], i, tally);
    if (newest >= 0) {
        check_deciding_step(f, &t->steps[t->n_steps - 1], i, rc, value, nvalue,
                            tally);
    } else {
        /* Not found anywhere: every L0 SST was considered. */
        assert_int_equal(rc, LSM_NOTFOUND);
        assert_int_equal(t->n_steps, 1 + st->n_l0);
        tally->not_found++;
    }
    /* Memtables plus the SSTs searched after range and filter. */
    assert_int_equal(t->structures_visited, memtable_searched + t->sst_probes);
    lsm_free(value);
    lsm_read_trace_free(t);
    lsm_state_free(st);
}

/* Every key, present, overwritten, deleted or never written, in a tree of
 * L0 SSTs: the trace names the source the model says holds the newest
 * version, bloom negatives fall only on SSTs without the key, and the
 * totals are the counters' change. */
static void test_get_trace_matches_model(void **state)
{
    fixture *f = *state;
    build_l0_tree(f);
    get_tally tally = {0};
    for (unsigned i = 0; i < NKEYS; i++)
        check_l0_get(f, i, &tally);
    for (unsigned i = 0; i < NKEYS; i += 7) /* again: blocks now cached */
        check_l0_get(f, i, &tally);
    assert_true(tally.hits > 0);
    assert_true(tally.tombstones > 0);
    assert_true(tally.not_found > 0);
    assert_true(tally.bloom_negatives > 0);
    assert_true(tally.range_skips > 0);
    assert_true(tally.read_blocks > 0);
    assert_true(tally.cached_blocks > 0);
    /* The memtable holds 44 keys in a filter of 65536 bits: every key it
     * lacks should be skipped (4 probes: about 7e-12 false positives). */
    assert_true(tally.memtable_skips > 0);
    assert_int_equal(tally.memtable_searches, 0);
}

/* The SST of a sorted run a get must consider for key k: the first whose
 * last key is >= k, or the last one. */
static size_t run_candidate(const lsm_level_info *lv, const char *k)
{
    size_t nk = strlen(k);
    for (size_t j = 0; j < lv->n_ssts; j++) {
        const lsm_sst_info *s = &lv->ssts[j];
        size_t n = nk < s->nlast_key ? nk : s->nlast_key;
        int c = memcmp(s->last_key, k, n);
        if (c > 0 || (c == 0 && s->nlast_key >= nk))
            return j;
    }
    return lv->n_ssts - 1;
}

/* After a full compaction into many L1 SSTs, each get considers exactly the
 * one SST whose range may hold the key: a hit there, or a range skip for a
 * key between two SSTs or past them all. */
static void test_get_trace_in_a_level(void **state)
{
    fixture *f = *state;
    f->opt.target_sst_size = 2048;
    assert_int_equal(lsm_close(f->db), LSM_OK);
    open_db(f);
    char k[16], v[32];
    for (unsigned i = 0; i < 2000; i += 2) {
        key_of(i, k);
        value_of(0, i, v);
        test_put_str(f->db, k, v);
    }
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    assert_int_equal(lsm_compact_full(f->db), LSM_OK);
    lsm_state *st;
    assert_int_equal(lsm_state_get(f->db, &st), LSM_OK);
    assert_int_equal(st->n_l0, 0);
    const lsm_level_info *lv = &st->levels[st->n_levels - 1];
    assert_true(lv->n_ssts > 3);
    unsigned skipped = 0;
    for (unsigned i = 0; i < 2100; i++) {
        key_of(i, k);
        lsm_counters before = counters_now(f->db);
        lsm_read_trace *t = NULL;
        void *value = NULL;
        size_t nvalue = 0;
        int rc = lsm_get_explain(f->db, k, strlen(k), &value, &nvalue, &t);
        lsm_counters after = counters_now(f->db);
        assert_totals_are_deltas(t, &before, &after);
        assert_int_equal(t->n_steps, 2); /* memtable, one SST of L1 */
        const lsm_read_step *s = &t->steps[1];
        const lsm_sst_info *want = &lv->ssts[run_candidate(lv, k)];
        assert_int_equal(s->id, want->sst_id);
        assert_int_equal(s->level, lv->level);
        assert_int_equal(s->tier_id, 0);
        bool held = i % 2 == 0 && i < 2000;
        if (held) {
            assert_int_equal(rc, LSM_OK);
            assert_int_equal(s->outcome, LSM_READ_HIT);
        } else {
            assert_int_equal(rc, LSM_NOTFOUND);
            if (!key_in(k, want->first_key, want->nfirst_key, want->last_key,
                        want->nlast_key)) {
                assert_int_equal(s->outcome, LSM_READ_SKIPPED_RANGE);
                skipped++;
            } else {
                assert_true(s->outcome == LSM_READ_SKIPPED_BLOOM ||
                            s->outcome == LSM_READ_MISS);
            }
        }
        lsm_free(value);
        lsm_read_trace_free(t);
    }
    assert_true(skipped > 0); /* keys between SSTs and past the last one */
    lsm_state_free(st);
}

/* With tiered compaction each SST step names its tier. */
static void test_get_trace_names_tiers(void **state)
{
    fixture *f = *state;
    assert_int_equal(lsm_close(f->db), LSM_OK);
    f->opt.compaction = LSM_COMPACTION_TIERED;
    open_db(f);
    test_put_str(f->db, "a", "old");
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    test_put_str(f->db, "b", "new");
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    lsm_state *st;
    assert_int_equal(lsm_state_get(f->db, &st), LSM_OK);
    assert_int_equal(st->n_levels, 2);
    lsm_read_trace *t = NULL;
    void *value = NULL;
    size_t nvalue = 0;
    assert_int_equal(lsm_get_explain(f->db, "a", 1, &value, &nvalue, &t),
                     LSM_OK);
    assert_int_equal(t->n_steps, 3);
    for (size_t i = 0; i < 2; i++) {
        const lsm_read_step *s = &t->steps[1 + i];
        assert_int_equal(s->level, -1);
        assert_int_equal(s->tier_id, (uint64_t)st->levels[i].level);
        assert_int_equal(s->id, st->levels[i].ssts[0].sst_id);
    }
    assert_int_equal(t->steps[1].outcome, LSM_READ_SKIPPED_RANGE);
    assert_int_equal(t->steps[2].outcome, LSM_READ_HIT);
    lsm_free(value);
    lsm_read_trace_free(t);
    lsm_state_free(st);
}

/* What the model expects of a scan of [lo, hi] (key indexes, included). */
typedef struct scan_expect {
    uint64_t returned, versions_skipped, tombstones_skipped;
    uint64_t entries[MAX_SOURCES]; /* per model source */
} scan_expect;

static scan_expect model_scan(const fixture *f, unsigned lo, unsigned hi)
{
    scan_expect e = {0};
    for (unsigned i = lo; i <= hi; i++) {
        uint64_t versions = 0;
        for (size_t s = 0; s < f->n_sources; s++)
            if (f->src[s].has[i]) {
                versions++;
                e.entries[s]++;
            }
        int newest = model_newest(f, i);
        if (newest < 0)
            continue;
        if (f->src[newest].has[i] == 't')
            e.tombstones_skipped++;
        else
            e.returned++;
        e.versions_skipped += versions - 1;
    }
    /* Each source also hands on its first entry past hi, if it has one:
     * the one the scan stops at, or one it never gets to consume. */
    for (size_t s = 0; s < f->n_sources; s++)
        for (unsigned i = hi + 1; i < NKEYS; i++)
            if (f->src[s].has[i]) {
                e.entries[s]++;
                break;
            }
    return e;
}

static bool range_overlaps(const char *lo, const char *hi, const void *first,
                           size_t nfirst, const void *last, size_t nlast)
{
    /* [first, last] meets [lo, hi] unless last < lo or first > hi. */
    size_t nlo = strlen(lo), nhi = strlen(hi);
    size_t n1 = nlast < nlo ? nlast : nlo, n2 = nfirst < nhi ? nfirst : nhi;
    int c1 = memcmp(last, lo, n1), c2 = memcmp(first, hi, n2);
    bool last_lt_lo = c1 < 0 || (c1 == 0 && nlast < nlo);
    bool first_gt_hi = c2 > 0 || (c2 == 0 && nfirst > nhi);
    return !last_lt_lo && !first_gt_hi;
}

/* Whether the keys a source holds span part of [lo, hi] (indexes). */
static bool model_overlaps(const source_model *m, unsigned lo, unsigned hi)
{
    int first = -1, last = -1;
    for (unsigned i = 0; i < NKEYS; i++)
        if (m->has[i]) {
            if (first < 0)
                first = (int)i;
            last = (int)i;
        }
    return first >= 0 && (unsigned)first <= hi && (unsigned)last >= lo;
}

/* One explained scan of [lo, hi], read to the end, checked against the
 * model: every source listed, skipped exactly when its range misses the
 * scan, each one's entries as the model counts them, the user-facing
 * counts, and totals equal to the counters' change. */
static void check_scan(fixture *f, unsigned lo_i, unsigned hi_i)
{
    char lo[16], hi[16];
    key_of(lo_i, lo);
    key_of(hi_i, hi);
    lsm_bound blo = {LSM_BOUND_INCLUDED, lo, strlen(lo)};
    lsm_bound bhi = {LSM_BOUND_INCLUDED, hi, strlen(hi)};
    lsm_state *st;
    assert_int_equal(lsm_state_get(f->db, &st), LSM_OK);
    lsm_counters before = st->counters;

    lsm_iter *it = NULL;
    assert_int_equal(lsm_scan_explain(f->db, &blo, &bhi, &it), LSM_OK);
    uint64_t n = 0;
    while (lsm_iter_valid(it)) {
        n++;
        assert_int_equal(lsm_iter_next(it), LSM_OK);
    }
    lsm_read_trace *t = NULL;
    assert_int_equal(lsm_iter_trace(it, &t), LSM_OK);
    lsm_iter_close(it);
    lsm_counters after = counters_now(f->db);

    scan_expect e = model_scan(f, lo_i, hi_i);
    assert_int_equal(t->entries_returned, n);
    assert_int_equal(t->entries_returned, e.returned);
    assert_int_equal(t->versions_skipped, e.versions_skipped);
    assert_int_equal(t->tombstones_skipped, e.tombstones_skipped);
    assert_int_equal(t->newer_skipped, 0);
    assert_int_equal(t->n_steps, f->n_sources);
    assert_totals_are_deltas(t, &before, &after);
    assert_int_equal(t->bloom_checks, 0);
    assert_int_equal(t->sst_probes, 0);

    uint64_t visited = 0, blocks = 0, hits = 0;
    for (size_t s = 0; s < t->n_steps; s++) {
        const lsm_read_step *step = &t->steps[s];
        assert_int_equal(step->id, f->src[s].id); /* newest first */
        bool overlaps;
        if (s == 0) {
            assert_int_equal(step->source, LSM_SOURCE_MEMTABLE);
            overlaps = model_overlaps(&f->src[0], lo_i, hi_i);
        } else {
            const lsm_sst_info *info = &st->l0[s - 1];
            assert_int_equal(step->source, LSM_SOURCE_SST);
            overlaps = range_overlaps(lo, hi, info->first_key, info->nfirst_key,
                                      info->last_key, info->nlast_key);
        }
        assert_int_equal(step->outcome,
                         overlaps ? LSM_READ_OPENED : LSM_READ_SKIPPED_RANGE);
        assert_int_equal(step->entries_examined, overlaps ? e.entries[s] : 0);
        if (step->source == LSM_SOURCE_SST && step->entries_examined > 0)
            assert_true(step->blocks_read + step->cache_hits > 0);
        visited += step->entries_examined > 0;
        blocks += step->blocks_read;
        hits += step->cache_hits;
    }
    assert_int_equal(t->structures_visited, visited);
    assert_int_equal(t->block_reads, blocks);
    assert_int_equal(t->block_cache_hits, hits);
    lsm_read_trace_free(t);
    lsm_state_free(st);
}

static void test_scan_trace_matches_model(void **state)
{
    fixture *f = *state;
    build_l0_tree(f);
    check_scan(f, 0, NKEYS - 1); /* everything */
    check_scan(f, 1400, 1700);   /* overwrites and tombstones */
    check_scan(f, 2000, 2999);   /* one SST alone has these */
    check_scan(f, 3000, 3400);   /* a gap: nothing returned */
    check_scan(f, 1400, 1700);   /* again: blocks from the cache */
}

/* Entries written after the scan began are counted as newer, and the
 * memtable's entries include them. */
static void test_scan_trace_counts_newer_entries(void **state)
{
    fixture *f = *state;
    test_put_str(f->db, "a", "1");
    test_put_str(f->db, "c", "1");
    test_put_str(f->db, "e", "1");
    lsm_iter *it = NULL;
    assert_int_equal(lsm_scan_explain(f->db, NULL, NULL, &it), LSM_OK);
    test_put_str(f->db, "b", "2"); /* after the scan began */
    test_put_str(f->db, "c", "2");
    test_put_str(f->db, "d", "2");
    uint64_t n = 0;
    while (lsm_iter_valid(it)) {
        n++;
        assert_int_equal(lsm_iter_next(it), LSM_OK);
    }
    lsm_read_trace *t = NULL;
    assert_int_equal(lsm_iter_trace(it, &t), LSM_OK);
    lsm_iter_close(it);
    assert_int_equal(n, 3);
    assert_int_equal(t->entries_returned, 3);
    assert_int_equal(t->newer_skipped, 3);
    assert_int_equal(t->versions_skipped, 0);
    assert_int_equal(t->n_steps, 1);
    assert_int_equal(t->steps[0].entries_examined, 6);
    lsm_read_trace_free(t);
}

/* A level's SSTs are opened as the scan reaches them: after one key only
 * the first SST has handed anything on; at the end all of them have. */
static void test_scan_trace_level_not_reached(void **state)
{
    fixture *f = *state;
    f->opt.target_sst_size = 2048;
    assert_int_equal(lsm_close(f->db), LSM_OK);
    open_db(f);
    char k[16], v[32];
    for (unsigned i = 0; i < 2000; i++) {
        key_of(i, k);
        value_of(0, i, v);
        test_put_str(f->db, k, v);
    }
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    assert_int_equal(lsm_compact_full(f->db), LSM_OK);
    lsm_state *st;
    assert_int_equal(lsm_state_get(f->db, &st), LSM_OK);
    const lsm_level_info *lv = &st->levels[st->n_levels - 1];
    assert_true(lv->n_ssts > 4);
    /* From the first key of SST 1 to the last of SST 3. */
    const lsm_sst_info *s1 = &lv->ssts[1], *s3 = &lv->ssts[3];
    lsm_bound lo = {LSM_BOUND_INCLUDED, s1->first_key, s1->nfirst_key};
    lsm_bound hi = {LSM_BOUND_INCLUDED, s3->last_key, s3->nlast_key};
    lsm_iter *it = NULL;
    assert_int_equal(lsm_scan_explain(f->db, &lo, &hi, &it), LSM_OK);
    lsm_read_trace *t = NULL;
    assert_int_equal(lsm_iter_trace(it, &t), LSM_OK);
    assert_int_equal(t->n_steps, 1 + lv->n_ssts);
    assert_int_equal(t->steps[0].outcome, LSM_READ_SKIPPED_RANGE);
    for (size_t j = 0; j < lv->n_ssts; j++) {
        const lsm_read_step *s = &t->steps[1 + j];
        assert_int_equal(s->id, lv->ssts[j].sst_id);
        assert_int_equal(s->level, lv->level);
        bool in = j >= 1 && j <= 3;
        assert_int_equal(s->outcome,
                         in ? LSM_READ_OPENED : LSM_READ_SKIPPED_RANGE);
        assert_int_equal(s->entries_examined > 0, j == 1);
    }
    assert_int_equal(t->structures_visited, 1);
    lsm_read_trace_free(t);
    uint64_t n = 0;
    while (lsm_iter_valid(it)) {
        n++;
        assert_int_equal(lsm_iter_next(it), LSM_OK);
    }
    assert_int_equal(lsm_iter_trace(it, &t), LSM_OK);
    lsm_iter_close(it);
    uint64_t entries = 0;
    for (size_t j = 1; j <= 3; j++) {
        assert_int_equal(t->steps[1 + j].entries_examined,
                         lv->ssts[j].num_entries);
        entries += lv->ssts[j].num_entries;
    }
    assert_int_equal(n, entries);
    assert_int_equal(t->entries_returned, n);
    assert_int_equal(t->structures_visited, 3);
    lsm_read_trace_free(t);
    lsm_state_free(st);
}

static void test_explain_refuses_bad_arguments(void **state)
{
    fixture *f = *state;
    void *value = NULL;
    size_t nvalue = 0;
    lsm_read_trace *t = (lsm_read_trace *)&t; /* must be reset to NULL */
    assert_int_equal(lsm_get_explain(f->db, "a", 1, &value, &nvalue, NULL),
                     LSM_EINVAL);
    assert_int_equal(lsm_get_explain(f->db, "", 0, &value, &nvalue, &t),
                     LSM_EINVAL);
    assert_null(t);
    lsm_iter *it = NULL;
    assert_int_equal(lsm_scan(f->db, NULL, NULL, &it), LSM_OK);
    t = (lsm_read_trace *)&t;
    assert_int_equal(lsm_iter_trace(it, &t), LSM_EINVAL); /* plain scan */
    assert_null(t);
    assert_int_equal(lsm_iter_trace(NULL, &t), LSM_EINVAL);
    assert_int_equal(lsm_iter_trace(it, NULL), LSM_EINVAL);
    lsm_iter_close(it);
    lsm_read_trace_free(NULL);
}

/* Threads mode: explained gets and scans run while a writer fills and
 * flushes; every trace still ends at the step that found the key, and a
 * scan's per-source block counts add up to its totals. */
typedef struct writer_arg {
    lsm_db *db;
    int stop;
} writer_arg;

static void *writer_main(void *p)
{
    writer_arg *w = p;
    char k[16];
    for (unsigned i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "w%05u", i);
        if (lsm_put(w->db, k, strlen(k), "x", 1) != LSM_OK)
            return (void *)1;
        if (i % 500 == 0 && lsm_flush(w->db) != LSM_OK)
            return (void *)1;
    }
    return NULL;
}

static void test_explain_in_threads_mode(void **state)
{
    fixture *f = *state;
    assert_int_equal(lsm_close(f->db), LSM_OK);
    f->opt.sched = LSM_SCHED_THREADS;
    f->opt.compaction = LSM_COMPACTION_LEVELED;
    f->opt.target_sst_size = 8192;
    open_db(f);
    char k[16];
    for (unsigned i = 0; i < 500; i++) {
        key_of(i, k);
        test_put_str(f->db, k, "v");
    }
    assert_int_equal(lsm_flush(f->db), LSM_OK);
    writer_arg w = {f->db, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    for (unsigned round = 0; round < 20; round++) {
        for (unsigned i = 0; i < 500; i += 37) {
            key_of(i, k);
            lsm_read_trace *t = NULL;
            void *value = NULL;
            size_t nvalue = 0;
            assert_int_equal(
                lsm_get_explain(f->db, k, strlen(k), &value, &nvalue, &t),
                LSM_OK);
            assert_int_equal(t->steps[t->n_steps - 1].outcome, LSM_READ_HIT);
            lsm_free(value);
            lsm_read_trace_free(t);
        }
        lsm_iter *it = NULL;
        assert_int_equal(lsm_scan_explain(f->db, NULL, NULL, &it), LSM_OK);
        while (lsm_iter_valid(it))
            assert_int_equal(lsm_iter_next(it), LSM_OK);
        lsm_read_trace *t = NULL;
        assert_int_equal(lsm_iter_trace(it, &t), LSM_OK);
        lsm_iter_close(it);
        uint64_t blocks = 0;
        for (size_t s = 0; s < t->n_steps; s++)
            blocks += t->steps[s].blocks_read + t->steps[s].cache_hits;
        assert_int_equal(blocks, t->block_reads + t->block_cache_hits);
        assert_true(t->entries_returned >= 500);
        lsm_read_trace_free(t);
    }
    void *ret;
    assert_int_equal(pthread_join(th, &ret), 0);
    assert_null(ret);
}

/* What the explained gets of test_memtable_filters saw. */
typedef struct filter_tally {
    unsigned imm_hits;     /* present keys found in an immutable memtable */
    unsigned skips;        /* memtables a filter skipped */
    unsigned searches;     /* memtables searched without the key */
    unsigned plain_misses; /* ... without a filter */
} filter_tally;

/* Explains a get of key i (held, with value batch 0, when held) and checks
 * every memtable step: a filter skips only memtables without the key. */
static void check_filtered_get(fixture *f, unsigned i, bool held,
                               filter_tally *ft)
{
    char k[16], v[32];
    key_of(i, k);
    value_of(0, i, v);
    lsm_counters before = counters_now(f->db);
    lsm_read_trace *t = NULL;
    void *value = NULL;
    size_t nvalue = 0;
    int rc = lsm_get_explain(f->db, k, strlen(k), &value, &nvalue, &t);
    lsm_counters after = counters_now(f->db);
    assert_totals_are_deltas(t, &before, &after);
    assert_int_equal(rc, held ? LSM_OK : LSM_NOTFOUND);
    if (held) {
        assert_int_equal(nvalue, strlen(v));
        assert_memory_equal(value, v, nvalue);
    }
    for (size_t s = 0; s < t->n_steps; s++) {
        const lsm_read_step *st = &t->steps[s];
        if (st->source == LSM_SOURCE_SST)
            break;
        if (st->outcome == LSM_READ_HIT) {
            assert_true(held);
            ft->imm_hits += st->source == LSM_SOURCE_IMMUTABLE ? 1 : 0;
        } else if (st->outcome == LSM_READ_SKIPPED_BLOOM) {
            assert_true(st->bloom_checked);
            ft->skips++;
        } else {
            assert_int_equal(st->outcome, LSM_READ_MISS);
            if (st->bloom_checked)
                ft->searches++;
            else
                ft->plain_misses++;
        }
    }
    lsm_free(value);
    lsm_read_trace_free(t);
}

/* Memtables frozen and not yet flushed keep their filters: every key in
 * one is found (the mutable memtable's filter skips it first), keys in
 * none are skipped by every filter, the counters count the skips; with
 * memtable_bloom off (after a reopen, the WALs replayed into memtables
 * without filters) every memtable is searched. */
static void test_memtable_filters(void **state)
{
    fixture *f = *state;
    assert_int_equal(lsm_close(f->db), LSM_OK);
    f->opt.target_sst_size = 4096; /* about 300 keys per memtable */
    open_db(f);
    for (unsigned i = 0; i < 1000; i++)
        model_put(f, 0, i);
    lsm_state *st;
    assert_int_equal(lsm_state_get(f->db, &st), LSM_OK);
    assert_int_equal(st->n_immutables, 2);
    lsm_state_free(st);

    filter_tally ft = {0};
    for (unsigned i = 0; i < 1000; i++)
        check_filtered_get(f, i, true, &ft);
    for (unsigned i = 1000; i < 2000; i++)
        check_filtered_get(f, i, false, &ft);
    assert_true(ft.imm_hits > 300);
    /* Each key of the 2 x 1000 gets skips about 2 of the 3 memtables;
     * filters of 65536 bits holding about 300 keys let few through. */
    assert_true(ft.skips > 3000);
    assert_true(ft.searches < 20);
    assert_int_equal(ft.plain_misses, 0);

    assert_int_equal(lsm_close(f->db), LSM_OK);
    f->opt.memtable_bloom = 0;
    open_db(f);
    lsm_counters before = counters_now(f->db);
    filter_tally off = {0};
    for (unsigned i = 0; i < 1000; i++)
        check_filtered_get(f, i, true, &off);
    assert_true(off.imm_hits > 300);
    assert_int_equal(off.skips + off.searches, 0);
    assert_true(off.plain_misses > 1000);
    lsm_counters after = counters_now(f->db);
    assert_int_equal(after.memtable_bloom_negatives,
                     before.memtable_bloom_negatives);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_trace_matches_model,
                                        setup_none, teardown),
        cmocka_unit_test_setup_teardown(test_get_trace_in_a_level, setup_none,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_get_trace_names_tiers, setup_none,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scan_trace_matches_model,
                                        setup_none, teardown),
        cmocka_unit_test_setup_teardown(test_scan_trace_counts_newer_entries,
                                        setup_none, teardown),
        cmocka_unit_test_setup_teardown(test_scan_trace_level_not_reached,
                                        setup_none, teardown),
        cmocka_unit_test_setup_teardown(test_explain_refuses_bad_arguments,
                                        setup_none, teardown),
        cmocka_unit_test_setup_teardown(test_explain_in_threads_mode,
                                        setup_none, teardown),
        cmocka_unit_test_setup_teardown(test_memtable_filters, setup_none,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
