/*
 * compact_int.h: compaction strategies as pure functions over a "shape".
 *
 * A shape is the tree as a compaction controller sees it: for L0 and every
 * sorted run below it (a level, or a tier in tiered compaction), the SSTs'
 * ids, sizes and key ranges, and nothing else. The engine's compaction
 * runner (db/db_compact.c) builds a shape from the current version
 * (db_compact_shape_from_version), asks the strategy's controller for a
 * task (compact_pick), runs the merge, and publishes the result with
 * shape_apply, the same function the tests and lsm-cli's simulator use
 * (through lsm_shape_apply), so they share one definition of what a
 * compaction does to the tree. Recovery does not use it: it replays the
 * manifest's records into lists of its own (db/db_open.c).
 * Tests build shapes by hand and need no files.
 *
 * Files: compact_pick.c (compact_options_check, compact_pick,
 * compact_pick_full), compact_shape.c (shape_apply, shape_add_flush,
 * shape_free), compact_task.c (compaction_task_*, compaction_input_runs,
 * shape_find_tier); the controllers are compact_policy_int.h's.
 *
 * The strategies follow mini-lsm (its book is what students read):
 *   simple   (mini-lsm week 2 day 2): compare file counts of adjacent
 *            levels; L0 is compacted into L1 when it has at least
 *            level0_file_num_compaction_trigger SSTs (whatever the size
 *            of L1, as mini-lsm has it today); level i into i+1 when
 *            |L(i+1)| / |L(i)| < size_ratio_percent / 100. The whole upper
 *            and lower levels are merged; the result replaces the lower.
 *   tiered   (universal compaction, week 2 day 3): no L0; every flush adds
 *            a tier at the front (newest). With at least num_tiers tiers,
 *            checked in this order: space amplification (all tiers but the
 *            last, in SSTs, over the last tier, in percent) >=
 *            max_size_amplification_percent: merge all tiers; size ratio:
 *            for the newest tiers 0..i, (sum of their SSTs) / |tier i+1|
 *            >= (100 + size_ratio) / 100 with i + 2 >= min_merge_width:
 *            merge tiers 0..i+1 (at most max_merge_width); otherwise
 *            reduce sorted runs: merge the newest
 *            (n_tiers - num_tiers + 2) tiers (at most max_merge_width).
 *   leveled  (dynamic level sizes, week 2 day 4): target sizes computed
 *            from the last level up (the last level's target is its real
 *            size, at least base_level_size; each level above is the one
 *            below divided by level_size_multiplier while the one below is
 *            larger than base_level_size; the base level is the highest
 *            with a non-zero target). L0 with at least
 *            level0_file_num_compaction_trigger SSTs goes to the base level
 *            first; otherwise the level with the highest real/target ratio
 *            above 1 compacts its oldest SST (smallest id) with the
 *            overlapping SSTs of the level below.
 *            Two refinements (compact_leveled.c): L0 goes into the first
 *            level above the base level that still holds data, if any
 *            (the base level moves down when the bottom shrinks, and
 *            L0's newer data must not pass older data); and the chosen
 *            SST takes the neighbours that share a boundary user key
 *            with it, so a key's versions never end up split across
 *            levels in the wrong order.
 *
 * The options are lsm_options' strategy fields (lsm.h), whose defaults are
 * mini-lsm's.
 * Options a controller cannot work with (level_size_multiplier 0,
 * max_merge_width 1) make compact_pick return LSM_EINVAL.
 *
 * Thread safety: everything here is pure; shapes are owned by the caller.
 */
#ifndef LSM_COMPACT_INT_H
#define LSM_COMPACT_INT_H

#include "lsm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The shape and the task are the public lsm_shape and lsm_compaction_task
 * (lsm.h: the controllers are part of the API, for simulators); these are
 * their names inside the engine. */
typedef lsm_shape_sst shape_sst;
typedef lsm_shape_run shape_run;
typedef lsm_shape shape;
typedef lsm_compaction_trigger compaction_trigger;
typedef lsm_compaction_task compaction_task;

void compaction_task_free(compaction_task *t); /* NULL-safe; zeroes it */

/* Every SST id the task reads, upper first (newest data first). */
/* Tiers are looked up in s, their SSTs in run order; a tier missing from s
 * adds nothing. *ids is malloc'd (caller frees with free()); 0 with *ids
 * NULL means out of memory, as no picked task reads nothing. */
size_t compaction_task_inputs(const compaction_task *t, const shape *s,
                              uint64_t **ids);

/* Groups inputs[0..n) (ids found in s) by the run each comes from, for
 * the compaction events: consecutive ids of one run form one entry. *runs
 * is malloc'd (caller frees); 0 with *runs NULL when n is 0 or out of
 * memory. An id found nowhere in s ends the grouping there. */
size_t compaction_input_runs(const shape *s, const uint64_t *inputs, size_t n,
                             lsm_input_run **runs);

/* Trivial moves. A task of levels (not a full compaction) that reads
 * nothing from its lower level (no SST there overlaps its inputs' key
 * range) and whose upper inputs are all in one run, sharing no user key
 * with each other when they come from L0, can run without a merge: its
 * inputs move to the lower level as they are, by a manifest edit, and no
 * byte is rewritten (LevelDB's "trivial move"). The result is the tree a
 * merge would give, except that shadowed versions and bottom-level
 * tombstones are kept (a later compaction drops them): every user key
 * still lies in one SST of the run it moves to, and the moved data stays
 * newer than everything below it.
 * Only leveled tasks move: the engine checks it, not the controller,
 * whose tasks and reasons stay the reference's; simple (mini-lsm week 2
 * day 2) keeps the book's merges, which its shell sessions show line for
 * line, and tiered tasks merge whole tiers. */
bool compaction_task_is_move(const lsm_options *o, const compaction_task *t,
                             const shape *s);

/* A move's outputs: the task's upper SSTs as s has them, sorted by first
 * key, for shape_apply. *outs is malloc'd (caller frees); LSM_EINVAL when
 * an input is not in s. */
int compaction_move_outputs(const compaction_task *t, const shape *s,
                            shape_sst **outs);

/* The index of the tier with this id in s, or s->n_runs when none has
 * it. */
size_t shape_find_tier(const shape *s, uint64_t run_id);

/* Rejects strategy options a controller cannot work with (a division by
 * zero, or a task that could never shrink the tree); LSM_EINVAL with a
 * message naming the option. Options that are merely unusual are
 * accepted. lsm_open calls it too, so bad options fail at open. */
int compact_options_check(const lsm_options *o);

/* Asks the strategy's controller for a task. Returns LSM_OK with *found
 * false when no trigger holds. */
int compact_pick(const lsm_options *o, const shape *s, compaction_task *task,
                 bool *found);

/* The task of a full compaction: everything into the bottom run (for
 * tiered, all tiers into one). *found false when the tree is empty.
 * Levels (NONE, SIMPLE, LEVELED): upper_level 0, upper = every L0 SST
 * (newest first) then every SST of L1 .. L(n_runs - 1) in level order
 * (newest data first), lower_level = n_runs (the bottom), lower = its
 * SSTs; LSM_EINVAL when the shape has no level. Tiered: tier_ids = every
 * tier, newest first. output_is_bottom is true; trigger LSM_TRIGGER_FULL. */
int compact_pick_full(const lsm_options *o, const shape *s,
                      compaction_task *task, bool *found);

/* Applies a finished task: its inputs leave the shape, and the outputs
 * (ids, sizes and key ranges in `outputs`, sorted by first key) take their
 * place: into the lower level, or as one new tier (id outputs[0].sst_id)
 * where the merged tiers were. An empty output removes the run's SSTs (and
 * the tier). The result is a new shape in *out (caller frees it).
 * Precisely: upper ids may be in L0 or any level above lower_level (a full
 * compaction's upper spans several); lower ids must be in lower_level; the
 * outputs join the lower level's remaining SSTs in first-key order. The
 * new tier takes the index of the newest merged tier, so tiers flushed
 * meanwhile stay in front. Errors (LSM_EINVAL, message recorded): an id or
 * tier not where the task says, a level out of range, a task of the other
 * layout, outputs unsorted or overlapping each other or the SSTs left in
 * the level. On error *out is empty and `in` is unchanged; *out borrows
 * keys from `in` and `outputs`. */
int shape_apply(const shape *in, const compaction_task *task,
                const shape_sst *outputs, size_t n_outputs, shape *out);

/* A flush: adds one SST as the newest in L0, or as a new tier.
 * The tier's run_id is the SST's id. LSM_EINVAL if its first key is after
 * its last. */
int shape_add_flush(shape *s, const shape_sst *sst);

void shape_free(shape *s); /* NULL-safe; frees what the shape owns */

/* Leveled compaction's target sizes (compact_leveled.c has the rule):
 * target[i] for L(i+1) from run_bytes[i], the bytes in L(i+1), for n_runs
 * levels. run_bytes and target may be the same array. The controller and
 * lsm_state_get's level stats both call it, so they never disagree. */
void compact_leveled_targets(const lsm_options *o, const uint64_t *run_bytes,
                             size_t n_runs, uint64_t *target);

/* A level's score: real / target; infinite for a level holding data with
 * target 0, 0 for an empty one. The leveled controller compacts the level
 * with the highest score above 1 (L0 goes by its file count instead). */
double compact_leveled_score(uint64_t real, uint64_t target);

#endif
