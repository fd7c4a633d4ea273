/*
 * db_level_stats.c: what flushes and compactions did to each level or tier
 * since open (lsm_level_stats, the rows of lsm-cli's levels command).
 *
 * A flush or compaction prepares its update before it publishes (the only
 * step that allocates, and so the only one that can fail), then applies it
 * under the state_mu hold that swaps in its version: the counts always
 * describe the published tree. lsm_state_get copies them under state_mu and
 * turns them into rows after, adding what the tree itself says: leveled
 * targets and scores (compact_leveled_targets, the controller's own rule)
 * and write amplification.
 *
 * What a row counts:
 *   L0      flushes: compactions counts them, bytes_written their SST bytes;
 *           write amplification is bytes_written / user bytes written;
 *   Ln      every compaction whose output went to Ln: bytes read from the
 *           levels above (upper) and from Ln itself (lower), bytes written;
 *   a tier  the flush or compaction that made it (a tier never grows): for
 *           a compaction, upper is the bytes of the newer merged tiers and
 *           lower those of the oldest, the one the newer data merged into.
 *           Tiers made before open, and merged tiers, have no row of
 *           counts (zeros).
 * The last reason of a level is a copy of the reason of the last task that
 * wrote into it.
 */
#include "db/db_int.h"

#include "compact/compact_int.h"
#include "util/status_int.h"

#include <stdlib.h>
#include <string.h>

static char *reason_copy(const char *reason)
{
    size_t n = strlen(reason);
    char *c = malloc(n + 1);
    if (c)
        memcpy(c, reason, n + 1);
    return c;
}

int db_stats_for_flush(lsm_db *db, uint64_t tier_id, uint64_t bytes,
                       db_stats_update *u)
{
    memset(u, 0, sizeof *u);
    u->bytes_written = bytes;
    if (!db->current_is_tiered)
        return LSM_OK;
    u->level = -1;
    u->tier_id = tier_id;
    u->node = calloc(1, sizeof *u->node);
    if (!u->node)
        return lsm_error(LSM_ENOMEM, "out of memory counting a flush");
    return LSM_OK;
}

static uint64_t ssts_bytes(sst *const *ssts, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += sst_file_size(ssts[i]);
    return sum;
}

/* The file size of the SST with this id in v (0 if v has none). */
static uint64_t version_sst_bytes(const version *v, uint64_t id)
{
    for (size_t i = 0; i < v->n_l0; i++)
        if (sst_id(v->l0[i]) == id)
            return sst_file_size(v->l0[i]);
    for (size_t r = 0; r < v->n_levels; r++)
        for (size_t i = 0; i < v->levels[r].n_ssts; i++)
            if (sst_id(v->levels[r].ssts[i]) == id)
                return sst_file_size(v->levels[r].ssts[i]);
    return 0;
}

static uint64_t version_tier_bytes(const version *v, uint64_t tier_id)
{
    for (size_t r = 0; r < v->n_levels; r++)
        if (v->levels[r].run_id == tier_id)
            return ssts_bytes(v->levels[r].ssts, v->levels[r].n_ssts);
    return 0;
}

/* Tiers: the newer merged tiers are upper, the oldest (last) is lower. */
static void stats_read_tiers(const version *v, const lsm_compaction_task *t,
                             db_stats_update *u)
{
    for (size_t i = 0; i < t->n_tiers; i++) {
        uint64_t bytes = version_tier_bytes(v, t->tier_ids[i]);
        if (i + 1 == t->n_tiers)
            u->bytes_read_lower += bytes;
        else
            u->bytes_read_upper += bytes;
    }
    u->gone = t->tier_ids;
    u->n_gone = t->n_tiers;
}

int db_stats_for_compaction(const version *v, const lsm_compaction_task *task,
                            size_t n_outputs, uint64_t output0,
                            uint64_t written, db_stats_update *u)
{
    memset(u, 0, sizeof *u);
    u->is_compaction = true;
    u->bytes_written = written;
    if (task->n_tiers > 0) {
        u->level = -1;
        u->tier_id = output0;
        stats_read_tiers(v, task, u);
    } else {
        u->level = (int)task->lower_level;
        for (size_t i = 0; i < task->n_upper; i++)
            u->bytes_read_upper += version_sst_bytes(v, task->upper[i]);
        for (size_t i = 0; i < task->n_lower; i++)
            u->bytes_read_lower += version_sst_bytes(v, task->lower[i]);
    }
    u->reason = reason_copy(task->reason);
    /* An empty output makes no tier, and so needs no entry. */
    if (u->reason && u->level < 0 && n_outputs > 0)
        u->node = calloc(1, sizeof *u->node);
    if (!u->reason || (u->level < 0 && n_outputs > 0 && !u->node)) {
        db_stats_update_free(u);
        return lsm_error(LSM_ENOMEM, "out of memory counting a compaction");
    }
    return LSM_OK;
}

/* Adds u's figures to c; c takes u's reason (if any). */
static void counts_add(db_level_counts *c, db_stats_update *u)
{
    c->compactions++;
    c->bytes_read_upper += u->bytes_read_upper;
    c->bytes_read_lower += u->bytes_read_lower;
    c->bytes_written += u->bytes_written;
    if (u->reason) {
        free(c->last_reason);
        c->last_reason = u->reason;
        u->reason = NULL;
    }
}

/* Drops the entries of tiers that were merged away. */
static void tiers_drop(lsm_db *db, const uint64_t *gone, size_t n_gone)
{
    db_tier_counts **at = &db->tier_counts;
    while (*at) {
        db_tier_counts *t = *at;
        bool merged = false;
        for (size_t i = 0; i < n_gone && !merged; i++)
            merged = gone[i] == t->tier_id;
        if (!merged) {
            at = &t->next;
            continue;
        }
        *at = t->next;
        free(t->counts.last_reason);
        free(t);
    }
}

void db_stats_apply_locked(lsm_db *db, db_stats_update *u)
{
    if (u->level >= 0) {
        if ((size_t)u->level <= LSM_MAX_LEVELS)
            counts_add(&db->level_counts[u->level], u);
        return;
    }
    tiers_drop(db, u->gone, u->n_gone);
    if (u->node) {
        u->node->tier_id = u->tier_id;
        counts_add(&u->node->counts, u);
        /* A flushed tier is no compaction's output. */
        if (!u->is_compaction)
            u->node->counts.compactions = 0;
        u->node->next = db->tier_counts;
        db->tier_counts = u->node;
        u->node = NULL;
    }
}

void db_stats_update_free(db_stats_update *u)
{
    if (!u)
        return;
    free(u->reason);
    free(u->node);
    u->reason = NULL;
    u->node = NULL;
}

void db_level_stats_free(lsm_db *db)
{
    for (size_t i = 0; i <= LSM_MAX_LEVELS; i++) {
        free(db->level_counts[i].last_reason);
        db->level_counts[i].last_reason = NULL;
    }
    while (db->tier_counts) {
        db_tier_counts *t = db->tier_counts;
        db->tier_counts = t->next;
        free(t->counts.last_reason);
        free(t);
    }
}

/* --- the rows of lsm_state ------------------------------------------------ */

void db_stats_snapshot_free(db_stats_snapshot *snap)
{
    for (size_t i = 0; i <= LSM_MAX_LEVELS; i++)
        free(snap->levels[i].last_reason);
    for (size_t i = 0; i < snap->n_tiers; i++)
        free(snap->tiers[i].counts.last_reason);
    free(snap->tiers);
    memset(snap, 0, sizeof *snap);
}

/* A copy of c (its reason too) into *out. false when out of memory. */
static bool counts_copy(const db_level_counts *c, db_level_counts *out)
{
    *out = *c;
    out->last_reason = NULL;
    if (c->last_reason && !(out->last_reason = reason_copy(c->last_reason)))
        return false;
    return true;
}

int db_level_stats_take_locked(lsm_db *db, db_stats_snapshot *snap)
{
    memset(snap, 0, sizeof *snap);
    bool ok = true;
    for (size_t i = 0; i <= LSM_MAX_LEVELS && ok; i++)
        ok = counts_copy(&db->level_counts[i], &snap->levels[i]);
    size_t n = 0;
    for (const db_tier_counts *t = db->tier_counts; t; t = t->next)
        n++;
    if (ok && n > 0)
        ok = (snap->tiers = calloc(n, sizeof *snap->tiers)) != NULL;
    for (const db_tier_counts *t = db->tier_counts; ok && t; t = t->next) {
        db_tier_counts *out = &snap->tiers[snap->n_tiers++];
        out->tier_id = t->tier_id;
        ok = counts_copy(&t->counts, &out->counts);
    }
    if (!ok) {
        db_stats_snapshot_free(snap);
        return lsm_error(LSM_ENOMEM, "out of memory taking the state");
    }
    return LSM_OK;
}

/* bytes_written / what the row's writes came from; 0 when nothing. */
static double write_amp(uint64_t written, uint64_t from)
{
    return from ? (double)written / (double)from : 0;
}

/* Moves counts c into row out (its reason, or "" when none). */
static int row_fill(db_level_counts *c, uint64_t amp_from, lsm_level_stats *out)
{
    out->compactions = c->compactions;
    out->bytes_read_upper = c->bytes_read_upper;
    out->bytes_read_lower = c->bytes_read_lower;
    out->bytes_written = c->bytes_written;
    out->write_amplification = write_amp(c->bytes_written, amp_from);
    out->last_reason = c->last_reason ? c->last_reason : reason_copy("");
    c->last_reason = NULL;
    return out->last_reason ? LSM_OK
                            : lsm_error(LSM_ENOMEM, "out of memory taking "
                                                    "the state");
}

/* Leveled: every level's target and score, and L0's score (files over
 * the trigger), from the tree st was filled from. */
static void rows_leveled_targets(const lsm_db *db, const version *v,
                                 lsm_state *st)
{
    uint64_t target[LSM_MAX_LEVELS] = {0};
    size_t n = st->n_levels < LSM_MAX_LEVELS ? st->n_levels : LSM_MAX_LEVELS;
    for (size_t i = 0; i < n; i++)
        target[i] = ssts_bytes(v->levels[i].ssts, v->levels[i].n_ssts);
    compact_leveled_targets(&db->opt, target, n, target);
    for (size_t i = 0; i < n; i++) {
        lsm_level_stats *row = &st->levels[i].stats;
        row->target_bytes = target[i];
        row->score = compact_leveled_score(
            ssts_bytes(v->levels[i].ssts, v->levels[i].n_ssts), target[i]);
    }
    st->l0_stats.score = compact_leveled_score(
        v->n_l0, db->opt.level0_file_num_compaction_trigger);
}

static db_level_counts *snapshot_tier(db_stats_snapshot *snap, uint64_t id)
{
    for (size_t i = 0; i < snap->n_tiers; i++)
        if (snap->tiers[i].tier_id == id)
            return &snap->tiers[i].counts;
    return NULL;
}

int db_level_stats_fill(lsm_db *db, db_stats_snapshot *snap, const version *v,
                        lsm_state *st)
{
    int rc = LSM_OK;
    if (db->opt.compaction == LSM_COMPACTION_LEVELED && !v->tiered)
        rows_leveled_targets(db, v, st);
    if (!v->tiered)
        rc = row_fill(&snap->levels[0], st->counters.user_bytes_written,
                      &st->l0_stats);
    for (size_t i = 0; i < st->n_levels && rc == LSM_OK; i++) {
        db_level_counts none = {0}; /* a row with nothing counted */
        db_level_counts *c = NULL;
        if (v->tiered)
            c = snapshot_tier(snap, v->levels[i].run_id);
        else if (i + 1 <= LSM_MAX_LEVELS)
            c = &snap->levels[i + 1];
        if (!c)
            c = &none;
        rc = row_fill(c, c->bytes_read_upper, &st->levels[i].stats);
    }
    db_stats_snapshot_free(snap);
    return rc;
}

void db_level_stats_state_free(lsm_state *st)
{
    free(st->l0_stats.last_reason);
    for (size_t i = 0; st->levels && i < st->n_levels; i++)
        free(st->levels[i].stats.last_reason);
}
