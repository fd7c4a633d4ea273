/*
 * compact_leveled.c: leveled compaction with dynamic level sizes (mini-lsm
 * week 2 day 4, after RocksDB's), behind compact_pick.
 *
 * Target sizes, in bytes, with base = base_level_size_mb MiB. Static
 * (lsm_options.level_sizes, LevelDB's): target(1) = base, target(i+1) =
 * target(i) * level_size_multiplier, and L1 is the base level. Dynamic
 * (the default, the book's), from the last level up:
 *     target(last) = max(real(last), base)
 *     target(i)    = target(i+1) / level_size_multiplier
 *                    when target(i+1) > base, else 0
 * so at most one level has a positive target below base. The base level is
 * the highest (smallest number) with a positive target; when none has one
 * (base 0 and an empty last level), and so in particular when every level
 * is empty, it is the last level: L0 then goes straight to the bottom.
 *
 * Rules, in this order:
 *   1. L0 has at least level0_file_num_compaction_trigger SSTs: all of L0
 *      into the base level, with that level's SSTs that overlap L0's key
 *      range (none when nothing overlaps). If a level above the base level
 *      still holds data (the base level moves down when the bottom
 *      shrinks, as overwrites and deletions are compacted away), L0 goes
 *      into the first such level instead: L0's data is newer and must not
 *      pass it. Rule 2 then drains that level, as its target is 0.
 *      Exception (LevelDB's and RocksDB's comparison of scores): when the
 *      level rule 2 would take is further over its finite target than L0
 *      is over its trigger (n_l0 / level0_file_num_compaction_trigger),
 *      rule 2 goes first. After every flush the inline mode compacts until
 *      nothing is over, so when L0 reaches its trigger no level is over and
 *      this never changes the book's order there. In threads mode, flushes
 *      go on while compactions run, L0 is due at every pick, and without it
 *      L1 would grow without bound while every L0 compaction rewrote all
 *      of it: 3M random puts and an overwrite wrote 10,316 MB into an L1 of
 *      288 MB (target 10 MB) that way, where inline wrote 3,747 MB of SSTs.
 *   2. Among L1..L(n-1), the level whose real / target is largest and
 *      above 1 (a level holding data while its target is 0, above the base
 *      level, is infinitely over; ties go to the deeper level, as in the
 *      reference): one
 *      SST into the level below, with that level's SSTs that overlap the
 *      SST's key range. Which SST, lsm_options.leveled_pick says: the
 *      oldest (smallest id, the reference's choice), or the one whose
 *      overlapping bytes below are the fewest for its size (RocksDB's
 *      kMinOverlappingRatio). The last level is never over, since its
 *      target is at least its size.
 * Key ranges are inclusive user-key ranges: an SST overlaps when its first
 * key <= the range's last and its last key >= the range's first.
 *
 * Clean cut: when the chosen SST shares a boundary user key with a
 * neighbour in its level (a key's versions split across the two), the
 * neighbour comes too, transitively; moving only one of them would leave
 * older versions of that key above newer ones. Compactions that keep one
 * version per key never produce such neighbours.
 *
 * A task's output is the bottom when its lower level is the last one.
 *
 * Thread safety: pure; see compact_int.h.
 */
#include "compact/compact_policy_int.h"
#include "iter/iter_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An inclusive range of user keys, borrowed from the shape. */
typedef struct key_range {
    const uint8_t *first;
    size_t nfirst;
    const uint8_t *last;
    size_t nlast;
} key_range;

static uint64_t leveled_base_bytes(const lsm_options *o)
{
    return (uint64_t)o->base_level_size_mb * 1024 * 1024;
}

/* LSM_LEVEL_SIZES_STATIC's targets: L1 the base size, each level below
 * the multiplier times the one above (saturating). */
static void leveled_static_targets(const lsm_options *o, size_t n_runs,
                                   uint64_t *target)
{
    uint64_t t = leveled_base_bytes(o);
    for (size_t i = 0; i < n_runs; i++) {
        target[i] = t;
        t = t > UINT64_MAX / o->level_size_multiplier
                ? UINT64_MAX
                : t * o->level_size_multiplier;
    }
}

void compact_leveled_targets(const lsm_options *o, const uint64_t *run_bytes,
                             size_t n_runs, uint64_t *target)
{
    if (n_runs == 0)
        return;
    if (o->level_sizes == LSM_LEVEL_SIZES_STATIC) {
        leveled_static_targets(o, n_runs, target);
        return;
    }
    uint64_t base = leveled_base_bytes(o);
    size_t last = n_runs - 1;
    target[last] = run_bytes[last] > base ? run_bytes[last] : base;
    for (size_t i = last; i-- > 0;)
        target[i] =
            target[i + 1] > base ? target[i + 1] / o->level_size_multiplier : 0;
}

/* The level number L0 compacts into. */
static size_t leveled_base_level(const shape *s, const uint64_t *target)
{
    for (size_t i = 0; i < s->n_runs; i++)
        if (target[i] > 0)
            return i + 1;
    return s->n_runs;
}

/* The union of ssts[0..n)'s key ranges; n > 0. */
static key_range ssts_key_range(const shape_sst *ssts, size_t n)
{
    key_range r = {ssts[0].first_key, ssts[0].nfirst_key, ssts[0].last_key,
                   ssts[0].nlast_key};
    for (size_t i = 1; i < n; i++) {
        const shape_sst *x = &ssts[i];
        if (user_key_cmp(x->first_key, x->nfirst_key, r.first, r.nfirst) < 0) {
            r.first = x->first_key;
            r.nfirst = x->nfirst_key;
        }
        if (user_key_cmp(x->last_key, x->nlast_key, r.last, r.nlast) > 0) {
            r.last = x->last_key;
            r.nlast = x->nlast_key;
        }
    }
    return r;
}

static bool leveled_sst_overlaps(const shape_sst *x, const key_range *r)
{
    return user_key_cmp(x->first_key, x->nfirst_key, r->last, r->nlast) <= 0 &&
           user_key_cmp(x->last_key, x->nlast_key, r->first, r->nfirst) >= 0;
}

/* Appends to the task's lower inputs every SST of run r overlapping the
 * range, in the run's (key) order. */
static int leveled_add_overlapping(const shape_run *r, const key_range *range,
                                   compaction_task *t)
{
    for (size_t i = 0; i < r->n_ssts; i++) {
        if (!leveled_sst_overlaps(&r->ssts[i], range))
            continue;
        int rc = compact_ids_append(&t->lower, &t->n_lower, &r->ssts[i], 1);
        if (rc != LSM_OK)
            return rc;
    }
    return LSM_OK;
}

/* The level L0 compacts into: the base level, or the first level above
 * it that holds data (rule 1). */
static size_t leveled_l0_output_level(const shape *s, size_t base_level)
{
    for (size_t i = 0; i + 1 < base_level; i++)
        if (s->runs[i].n_ssts > 0)
            return i + 1;
    return base_level;
}

/* Rule 1's task: all of L0 into the base level (or above it). */
static int leveled_l0_task(const lsm_options *o, const shape *s,
                           size_t base_level, compaction_task *t)
{
    key_range range = ssts_key_range(s->l0, s->n_l0);
    size_t level = leveled_l0_output_level(s, base_level);
    t->trigger = LSM_TRIGGER_L0_FILES;
    t->upper_level = 0;
    t->lower_level = level;
    t->output_is_bottom = level == s->n_runs;
    if (level == base_level)
        compact_task_reason(t, "flush L0 SST to base level %zu", base_level);
    else
        compact_task_reason(t,
                            "flush L0 SST to L%zu, above base level %zu, as "
                            "L%zu holds data",
                            level, base_level, level);
    int rc = compact_ids_append(&t->upper, &t->n_upper, s->l0, s->n_l0);
    if (rc == LSM_OK)
        rc = leveled_add_overlapping(&s->runs[level - 1], &range, t);
    return rc;
}

double compact_leveled_score(uint64_t real, uint64_t target)
{
    if (target == 0)
        return real ? INFINITY : 0;
    return (double)real / (double)target;
}

/* The score when the level is over its target, else 0. */
static double leveled_priority(uint64_t real, uint64_t target)
{
    return real <= target ? 0 : compact_leveled_score(real, target);
}

/* Rule 2's level (1-based), or 0 when every level is within its target.
 * Ties go to the deeper level, as the reference sorts (priority, level)
 * pairs in descending order. */
static size_t leveled_most_over(const shape *s, const uint64_t *target)
{
    size_t best = 0;
    double best_priority = 0;
    for (size_t i = 0; i + 1 < s->n_runs; i++) {
        double p = leveled_priority(shape_run_bytes(&s->runs[i]), target[i]);
        if (p > 1.0 && (best == 0 || p >= best_priority)) {
            best = i + 1;
            best_priority = p;
        }
    }
    return best;
}

/* The index of the run's oldest SST (smallest id); the run is not empty. */
static size_t run_oldest(const shape_run *r)
{
    size_t oldest = 0;
    for (size_t i = 1; i < r->n_ssts; i++)
        if (r->ssts[i].sst_id < r->ssts[oldest].sst_id)
            oldest = i;
    return oldest;
}

static bool ssts_share_key(const shape_sst *a, const shape_sst *b)
{
    return user_key_cmp(a->last_key, a->nlast_key, b->first_key,
                        b->nfirst_key) == 0;
}

/* Widens [*from, *to] over neighbours that share a boundary user key. */
static void run_clean_cut(const shape_run *r, size_t *from, size_t *to)
{
    while (*from > 0 && ssts_share_key(&r->ssts[*from - 1], &r->ssts[*from]))
        (*from)--;
    while (*to + 1 < r->n_ssts &&
           ssts_share_key(&r->ssts[*to], &r->ssts[*to + 1]))
        (*to)++;
}

/* Appends to buf (of n bytes, at offset *at) as snprintf would, keeping
 * the result NUL-terminated and truncated when full. */
static void reason_append(char *buf, size_t n, size_t *at, const char *fmt, ...)
    LSM_PRINTF(4, 5);
static void reason_append(char *buf, size_t n, size_t *at, const char *fmt, ...)
{
    if (*at >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *at, n - *at, fmt, ap);
    va_end(ap);
    if (k > 0)
        *at += (size_t)k;
}

/* ["0.000MB", "128.000MB"]: the sizes as the reference's {:?} of its
 * formatted strings prints them. */
static void reason_mb_list(char *buf, size_t n, size_t *at,
                           const uint64_t *bytes, size_t count)
{
    reason_append(buf, n, at, "[");
    for (size_t i = 0; i < count; i++)
        reason_append(buf, n, at, "%s\"%.3fMB\"", i ? ", " : "",
                      (double)bytes[i] / 1024.0 / 1024.0);
    reason_append(buf, n, at, "]");
}

/* An f64 as Rust's {:?} prints it: like {}, with ".0" on whole numbers. */
static void reason_f64_debug(char *buf, size_t n, size_t *at, double x)
{
    char f[COMPACT_F64_CHARS];
    compact_fmt_f64(x, f);
    bool whole = isfinite(x) && !strchr(f, '.');
    reason_append(buf, n, at, "%s%s", f, whole ? ".0" : "");
}

/* [(inf, 1), (1.5, 3)]: every level over its target, highest priority
 * first (ties: deeper level first), as the reference lists them. */
static void reason_priorities(char *buf, size_t n, size_t *at, const shape *s,
                              const uint64_t *target)
{
    bool listed[LSM_MAX_LEVELS + 1] = {false};
    reason_append(buf, n, at, "[");
    for (size_t k = 0; k < s->n_runs && k <= LSM_MAX_LEVELS; k++) {
        size_t best = 0;
        double best_p = 0;
        for (size_t i = 0; i < s->n_runs && i < LSM_MAX_LEVELS; i++) {
            double p =
                leveled_priority(shape_run_bytes(&s->runs[i]), target[i]);
            if (p > 1.0 && !listed[i] && (best == 0 || p >= best_p)) {
                best = i + 1;
                best_p = p;
            }
        }
        if (best == 0)
            break;
        listed[best - 1] = true;
        reason_append(buf, n, at, "%s(", k ? ", " : "");
        reason_f64_debug(buf, n, at, best_p);
        reason_append(buf, n, at, ", %zu)", best);
    }
    reason_append(buf, n, at, "]");
}

/* The reference's two lines: the target and real sizes of every level and
 * the base level, then the priorities and the SST chosen. */
static void leveled_level_reason(const shape *s, size_t level,
                                 const uint64_t *target, uint64_t chosen,
                                 compaction_task *t)
{
    uint64_t real[LSM_MAX_LEVELS];
    size_t n_levels = s->n_runs < LSM_MAX_LEVELS ? s->n_runs : LSM_MAX_LEVELS;
    for (size_t i = 0; i < n_levels; i++)
        real[i] = shape_run_bytes(&s->runs[i]);
    char *buf = t->reason;
    size_t n = sizeof t->reason, at = 0;
    reason_append(buf, n, &at, "target level sizes: ");
    reason_mb_list(buf, n, &at, target, n_levels);
    reason_append(buf, n, &at, ", real level sizes: ");
    reason_mb_list(buf, n, &at, real, n_levels);
    reason_append(buf, n, &at,
                  ", base_level: %zu\ncompaction triggered by priority: %zu "
                  "out of ",
                  leveled_base_level(s, target), level);
    reason_priorities(buf, n, &at, s, target);
    reason_append(buf, n, &at, ", select %" PRIu64 " for compaction", chosen);
}

/* The index of the first SST of run r whose last key is at or after key
 * (r->n_ssts if none): the run is sorted and its SSTs disjoint, so their
 * last keys ascend. */
static size_t run_first_ending_from(const shape_run *r, const uint8_t *key,
                                    size_t nkey)
{
    size_t lo = 0, hi = r->n_ssts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const shape_sst *x = &r->ssts[mid];
        if (user_key_cmp(x->last_key, x->nlast_key, key, nkey) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Bytes of run r's SSTs that overlap the range. */
static uint64_t run_overlap_bytes(const shape_run *r, const key_range *range)
{
    uint64_t bytes = 0;
    for (size_t i = run_first_ending_from(r, range->first, range->nfirst);
         i < r->n_ssts && leveled_sst_overlaps(&r->ssts[i], range); i++)
        bytes += r->ssts[i].size_bytes;
    return bytes;
}

/* What pushing upper->ssts[i] (with its clean-cut neighbours) down would
 * rewrite below, per byte pushed. */
static double run_overlap_ratio(const shape_run *upper, const shape_run *lower,
                                size_t i)
{
    size_t from = i, to = i;
    run_clean_cut(upper, &from, &to);
    uint64_t pushed = 0;
    for (size_t k = from; k <= to; k++)
        pushed += upper->ssts[k].size_bytes;
    key_range range = ssts_key_range(&upper->ssts[from], to - from + 1);
    uint64_t below = run_overlap_bytes(lower, &range);
    return (double)below / (double)(pushed ? pushed : 1);
}

/* The index of upper's SST whose push into lower rewrites the fewest bytes
 * below per byte pushed (ties: the smallest id). Each
 * push then merges with as little of the level below as the level's key
 * ranges allow, instead of with whatever lies under the oldest SST (a base
 * level that every L0 compaction rewrites has its oldest SST at its lowest
 * keys, where the level below is often densest). */
static size_t run_min_overlap(const shape_run *upper, const shape_run *lower)
{
    size_t best = 0;
    double best_ratio = run_overlap_ratio(upper, lower, 0);
    for (size_t i = 1; i < upper->n_ssts; i++) {
        double r = run_overlap_ratio(upper, lower, i);
        if (r < best_ratio ||
            (r == best_ratio &&
             upper->ssts[i].sst_id < upper->ssts[best].sst_id)) {
            best = i;
            best_ratio = r;
        }
    }
    return best;
}

/* Rule 2's SST of `level`, by the options' leveled_pick; the reason,
 * already written, gains why under MIN_OVERLAP. */
static size_t leveled_choose(const lsm_options *o, const shape *s, size_t level)
{
    return o->leveled_pick == LSM_LEVELED_PICK_MIN_OVERLAP
               ? run_min_overlap(&s->runs[level - 1], &s->runs[level])
               : run_oldest(&s->runs[level - 1]);
}

/* Appends MIN_OVERLAP's figure to the reason: what the chosen push
 * rewrites below per byte it pushes, the least in its level. */
static void leveled_min_overlap_reason(const shape *s, size_t level,
                                       size_t chosen, compaction_task *t)
{
    double ratio =
        run_overlap_ratio(&s->runs[level - 1], &s->runs[level], chosen);
    size_t at = strlen(t->reason);
    reason_append(t->reason, sizeof t->reason, &at,
                  " (min-overlap: it rewrites %.2f bytes of L%zu per byte, "
                  "the fewest in L%zu)",
                  ratio, level + 1, level);
}

/* Rule 2's task: the SST leveled_pick chooses from `level` (and its
 * clean-cut neighbours) into the level below. */
static int leveled_level_task(const lsm_options *o, const shape *s,
                              size_t level, const uint64_t *target,
                              compaction_task *t)
{
    const shape_run *upper = &s->runs[level - 1];
    size_t from = leveled_choose(o, s, level), to = from;
    uint64_t chosen = upper->ssts[from].sst_id;
    size_t chosen_index = from;
    run_clean_cut(upper, &from, &to);
    key_range range = ssts_key_range(&upper->ssts[from], to - from + 1);
    t->trigger = LSM_TRIGGER_LEVEL_PRIORITY;
    t->upper_level = level;
    t->lower_level = level + 1;
    t->output_is_bottom = level + 1 == s->n_runs;
    leveled_level_reason(s, level, target, chosen, t);
    if (o->leveled_pick == LSM_LEVELED_PICK_MIN_OVERLAP)
        leveled_min_overlap_reason(s, level, chosen_index, t);
    int rc = compact_ids_append(&t->upper, &t->n_upper, &upper->ssts[from],
                                to - from + 1);
    if (rc == LSM_OK)
        rc = leveled_add_overlapping(&s->runs[level], &range, t);
    return rc;
}

/* How far L0 is over its trigger: 1.0 when it just reached it. */
static double leveled_l0_score(const lsm_options *o, const shape *s)
{
    return (double)s->n_l0 / (double)o->level0_file_num_compaction_trigger;
}

/* Whether rule 2's level goes ahead of a due L0 (the exception to rule
 * 1): its priority is finite (a level above the base level takes L0 by
 * rule 1 instead) and higher than L0's score. */
static bool leveled_level_before_l0(const lsm_options *o, const shape *s,
                                    size_t level, const uint64_t *target)
{
    double p = leveled_priority(shape_run_bytes(&s->runs[level - 1]),
                                target[level - 1]);
    return isfinite(p) && p > leveled_l0_score(o, s);
}

/* Appends why a level went ahead of a due L0 to the reason. */
static void leveled_before_l0_reason(const lsm_options *o, const shape *s,
                                     compaction_task *t)
{
    size_t at = strlen(t->reason);
    reason_append(t->reason, sizeof t->reason, &at,
                  " (ahead of L0: its %zu SSTs are only %.2fx the trigger "
                  "of %u)",
                  s->n_l0, leveled_l0_score(o, s),
                  o->level0_file_num_compaction_trigger);
}

int compact_leveled_pick(const lsm_options *o, const shape *s,
                         compaction_task *task, bool *found)
{
    if (s->n_runs == 0)
        return LSM_OK;
    uint64_t *target = malloc(s->n_runs * sizeof *target);
    if (!target)
        return lsm_error(LSM_ENOMEM, "out of memory for %zu level targets",
                         s->n_runs);
    for (size_t i = 0; i < s->n_runs; i++)
        target[i] = shape_run_bytes(&s->runs[i]);
    compact_leveled_targets(o, target, s->n_runs, target);
    int rc = LSM_OK;
    bool l0_due =
        s->n_l0 > 0 && s->n_l0 >= o->level0_file_num_compaction_trigger;
    size_t level = leveled_most_over(s, target);
    if (level > 0 &&
        (!l0_due || leveled_level_before_l0(o, s, level, target))) {
        *found = true;
        rc = leveled_level_task(o, s, level, target, task);
        if (rc == LSM_OK && l0_due)
            leveled_before_l0_reason(o, s, task);
    } else if (l0_due) {
        *found = true;
        rc = leveled_l0_task(o, s, leveled_base_level(s, target), task);
    }
    free(target);
    return rc;
}
