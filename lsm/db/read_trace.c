/*
 * read_trace.c: the traces of explained reads (read_trace_int.h) and the
 * public lsm_read_trace_free.
 *
 * The totals are computed from the steps, never read from the database's
 * counters: another thread's reads move those counters too, while a trace
 * must say what this read did. Each step records exactly the events the
 * SST reader counts (sst_get_traced mirrors every COUNTER_ADD of sst_get),
 * so for a read alone the totals equal the counters' change, which the
 * tests check.
 */
#include "db/read_trace_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Every source a read of v can consider: the memtables, the L0 SSTs and
 * every SST of every level or tier (a scan lists each; a get at most one
 * per run). */
static size_t read_trace_bound(const version *v)
{
    size_t n = 1 + v->n_imm + v->n_l0;
    for (size_t l = 0; l < v->n_levels; l++)
        n += v->levels[l].n_ssts;
    return n;
}

read_trace *read_trace_new(const version *v)
{
    size_t cap = read_trace_bound(v);
    read_trace *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->cap = cap;
    rt->pub = calloc(1, sizeof *rt->pub);
    rt->stats = calloc(cap, sizeof *rt->stats);
    if (rt->pub)
        rt->pub->steps = calloc(cap, sizeof *rt->pub->steps);
    if (!rt->pub || !rt->stats || !rt->pub->steps) {
        read_trace_free(rt);
        return NULL;
    }
    return rt;
}

void read_trace_free(read_trace *rt)
{
    if (!rt)
        return;
    lsm_read_trace_free(rt->pub);
    free(rt->stats);
    free(rt);
}

void lsm_read_trace_free(lsm_read_trace *t)
{
    if (!t)
        return;
    free(t->steps);
    free(t);
}

void read_trace_place(const version *v, size_t run_index, int *level,
                      uint64_t *tier_id)
{
    if (v->tiered) {
        *level = -1;
        *tier_id = v->levels[run_index].run_id;
    } else {
        *level = (int)run_index + 1;
        *tier_id = 0;
    }
}

lsm_read_step *read_trace_add(read_trace *rt, lsm_read_source source,
                              uint64_t id, int level, uint64_t tier_id,
                              lsm_read_outcome outcome)
{
    assert(rt->pub->n_steps < rt->cap);
    lsm_read_step *s = &rt->pub->steps[rt->pub->n_steps++];
    memset(s, 0, sizeof *s);
    s->source = source;
    s->id = id;
    s->level = level;
    s->tier_id = tier_id;
    s->outcome = outcome;
    return s;
}

/* HIT or TOMBSTONE for a version found, MISS for none. */
static lsm_read_outcome read_trace_found(lsm_read_step *s, bool found,
                                         const entry *e)
{
    if (!found)
        return LSM_READ_MISS;
    s->seq = e->seq;
    return e->type == ENTRY_TOMBSTONE ? LSM_READ_TOMBSTONE : LSM_READ_HIT;
}

void read_trace_memtable_get(read_trace *rt, lsm_read_source source,
                             uint64_t memtable_id, bool found, const entry *e,
                             uint64_t n_compared, bool bloom_checked)
{
    lsm_read_step *s =
        read_trace_add(rt, source, memtable_id, 0, 0, LSM_READ_MISS);
    s->outcome = read_trace_found(s, found, e);
    s->entries_examined = n_compared;
    s->bloom_checked = bloom_checked;
}

void read_trace_sst_get(read_trace *rt, uint64_t sst_id, int level,
                        uint64_t tier_id, const sst_get_trace *g, bool found,
                        const entry *e)
{
    lsm_read_step *s = read_trace_add(rt, LSM_SOURCE_SST, sst_id, level,
                                      tier_id, LSM_READ_MISS);
    s->bloom_checked = g->bloom_checked;
    if (g->bloom_negative) {
        s->outcome = LSM_READ_SKIPPED_BLOOM;
        return;
    }
    s->outcome = read_trace_found(s, found, e);
    s->block_searched = g->block_searched;
    s->block_index = g->block_index;
    s->block_cached = g->block_cached;
    s->entries_examined = g->n_compared;
}

/* Whether a get searched the step's source (rather than skipping it). */
static bool read_step_searched(const lsm_read_step *s)
{
    return s->outcome == LSM_READ_MISS || s->outcome == LSM_READ_HIT ||
           s->outcome == LSM_READ_TOMBSTONE;
}

/* The get totals, counted as the SST reader counts them (sst_get). */
static void read_trace_sum_get(lsm_read_trace *t)
{
    for (size_t i = 0; i < t->n_steps; i++) {
        const lsm_read_step *s = &t->steps[i];
        if (read_step_searched(s))
            t->structures_visited++;
        if (s->source != LSM_SOURCE_SST) {
            t->memtable_bloom_negatives +=
                s->outcome == LSM_READ_SKIPPED_BLOOM ? 1 : 0;
            continue;
        }
        t->bloom_checks += s->bloom_checked ? 1 : 0;
        t->bloom_negatives += s->outcome == LSM_READ_SKIPPED_BLOOM ? 1 : 0;
        t->sst_probes += read_step_searched(s) ? 1 : 0;
        if (s->block_searched && s->block_cached)
            t->block_cache_hits++;
        else if (s->block_searched)
            t->block_reads++;
    }
}

void read_trace_range_deleted(read_trace *rt, uint64_t seq)
{
    rt->pub->range_tombstone_seq = seq;
}

lsm_read_trace *read_trace_finish_get(read_trace *rt)
{
    lsm_read_trace *t = rt->pub;
    rt->pub = NULL;
    read_trace_free(rt);
    read_trace_sum_get(t);
    return t;
}

iter_stats *read_trace_stats(read_trace *rt, const lsm_read_step *step)
{
    return &rt->stats[step - rt->pub->steps];
}

int read_trace_export_scan(const read_trace *rt, lsm_read_trace **out)
{
    const lsm_read_trace *src = rt->pub;
    *out = NULL;
    lsm_read_trace *t = malloc(sizeof *t);
    if (!t)
        return LSM_ENOMEM;
    *t = *src;
    t->steps = calloc(src->n_steps ? src->n_steps : 1, sizeof *t->steps);
    if (!t->steps) {
        free(t);
        return LSM_ENOMEM;
    }
    for (size_t i = 0; i < src->n_steps; i++) {
        lsm_read_step *s = &t->steps[i];
        const iter_stats *st = &rt->stats[i];
        *s = src->steps[i];
        s->entries_examined = st->entries;
        s->blocks_read = st->blocks_read;
        s->cache_hits = st->block_cache_hits;
        /* A level's SSTs are opened one at a time: one the scan has not
         * reached has handed nothing on, and was not visited. */
        t->structures_visited += st->entries > 0 ? 1 : 0;
        t->block_reads += st->blocks_read;
        t->block_cache_hits += st->block_cache_hits;
    }
    *out = t;
    return LSM_OK;
}
