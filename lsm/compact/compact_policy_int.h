/*
 * compact_policy_int.h: the controllers behind compact_pick, one per
 * strategy (compact_simple.c, compact_tiered.c, compact_leveled.c), and the
 * small task-building helpers they share (compact_task.c).
 *
 * Every controller has the contract of compact_pick (compact_int.h): it is
 * called with a shape whose layout matches the strategy (s->tiered for
 * TIERED only), options already checked by compact_options_check, a zeroed
 * task and *found false. It returns LSM_OK with *found false and the task
 * untouched when no trigger holds; LSM_OK with *found true and a complete
 * task (trigger, ids, levels or tiers, output_is_bottom, reason) when one
 * does; or an error code, after which the caller frees the task.
 *
 * Thread safety: pure functions over caller-owned data.
 */
#ifndef LSM_COMPACT_POLICY_INT_H
#define LSM_COMPACT_POLICY_INT_H

#include "compact/compact_int.h"
#include "util/status_int.h"

int compact_simple_pick(const lsm_options *o, const shape *s,
                        compaction_task *task, bool *found);
int compact_tiered_pick(const lsm_options *o, const shape *s,
                        compaction_task *task, bool *found);
int compact_leveled_pick(const lsm_options *o, const shape *s,
                         compaction_task *task, bool *found);

/* Appends the ids of ssts[0..n) to the malloc'd array *ids of *n_ids
 * elements (the task's, freed by compaction_task_free). */
int compact_ids_append(uint64_t **ids, size_t *n_ids, const shape_sst *ssts,
                       size_t n);

/* Sets the task's tier_ids to the ids of the newest n tiers of s. */
int compact_task_take_tiers(compaction_task *t, const shape *s, size_t n);

/* Formats the task's reason (truncated to fit). */
void compact_task_reason(compaction_task *t, const char *fmt, ...)
    LSM_PRINTF(2, 3);

/* Writes x as Rust's {} writes an f64, as the reference controllers print
 * their numbers: the shortest decimal that reads back as x, never with an
 * exponent ("200", "0.5", "233.33333333333334", "inf", "NaN"). */
#define COMPACT_F64_CHARS 352
void compact_fmt_f64(double x, char out[COMPACT_F64_CHARS]);

/* The sum of size_bytes over a run's SSTs. */
uint64_t shape_run_bytes(const shape_run *r);

#endif
