/*
 * read_trace_int.h: building the trace of an explained read
 * (lsm_get_explain, lsm_scan_explain; lsm.h, "Explaining a read").
 *
 * A read_trace is made when the read has its version, with room for one
 * step per source the version names, so recording a step never allocates
 * and never moves one: a scan's source iterators keep pointers to their
 * step's iter_stats. A get records steps as it goes (read_trace_*_get,
 * read_trace_sst_skipped) and hands the result out with
 * read_trace_finish_get; a scan records every source when it opens the
 * iterator, its iterators count into read_trace_stats, the user-facing
 * iterator counts into the totals (versions_skipped, ...) and
 * lsm_iter_trace copies it all with read_trace_export_scan.
 *
 * Plain gets and scans never make one: every hook in the read path tests a
 * NULL pointer and does nothing else.
 *
 * Thread safety: a trace belongs to the one thread doing the read (for a
 * scan, the thread using the iterator), like the iterator itself.
 */
#ifndef LSM_READ_TRACE_INT_H
#define LSM_READ_TRACE_INT_H

#include "db/version_int.h"
#include "lsm.h"

typedef struct read_trace {
    lsm_read_trace *pub; /* steps recorded so far; totals (see below) */
    size_t cap;          /* room in pub->steps and stats */
    iter_stats *stats;   /* scans: what step i's iterator counted */
} read_trace;

/* A trace with room for every source of v. NULL when out of memory. */
read_trace *read_trace_new(const version *v);
/* Frees the trace and what it holds (pub included). NULL-safe. */
void read_trace_free(read_trace *rt);

/* The level and tier id a step names for run run_index of v: L<n> and 0,
 * or -1 and the tier's id. */
void read_trace_place(const version *v, size_t run_index, int *level,
                      uint64_t *tier_id);

/* Appends a step and returns it: source, id, level, tier_id and outcome
 * set, every count 0. There is always room (read_trace_new's bound). */
lsm_read_step *read_trace_add(read_trace *rt, lsm_read_source source,
                              uint64_t id, int level, uint64_t tier_id,
                              lsm_read_outcome outcome);

/* get: memtable or immutable memtable memtable_id was searched; found says
 * whether it holds a version e of the key (hit or tombstone); n_compared
 * keys were compared; bloom_checked, whether its filter said "maybe"
 * first. (A memtable its filter skipped is a read_trace_add of
 * LSM_READ_SKIPPED_BLOOM.) */
void read_trace_memtable_get(read_trace *rt, lsm_read_source source,
                             uint64_t memtable_id, bool found, const entry *e,
                             uint64_t n_compared, bool bloom_checked);
/* get: sst_get_traced ran on SST sst_id (at level / tier_id) and did what
 * g says; found and e as for a memtable. */
void read_trace_sst_get(read_trace *rt, uint64_t sst_id, int level,
                        uint64_t tier_id, const sst_get_trace *g, bool found,
                        const entry *e);

/* get: a range tombstone with sequence number seq hides the key: the
 * get's answer is LSM_NOTFOUND. */
void read_trace_range_deleted(read_trace *rt, uint64_t seq);

/* get: computes the totals from the steps and hands the public trace out
 * (the caller frees it with lsm_read_trace_free); rt is freed. */
lsm_read_trace *read_trace_finish_get(read_trace *rt);

/* scan: the stats step's source iterator counts into. */
iter_stats *read_trace_stats(read_trace *rt, const lsm_read_step *step);

/* scan: a copy of the trace so far in *out, each step's counts taken from
 * its stats and the totals summed (lsm_iter_trace). LSM_OK or
 * LSM_ENOMEM. */
int read_trace_export_scan(const read_trace *rt, lsm_read_trace **out);

#endif
