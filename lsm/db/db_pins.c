/*
 * db_pins.c: what open iterators pin, and the SSTs kept only for readers.
 *
 * An iterator holds no version, only the sources lsm_scan opened for it
 * (memtable_iter, sst_iter and concat_iter each take their own reference),
 * and records what they are (iter_pins, db_int.h) for lsm_state.
 *
 * The life of an SST file:
 *   1. A flush or a compaction writes it; the manifest names it; a new
 *      version publishes it. Every version naming it holds a reference,
 *      and so does every source a reader opened on it.
 *   2. A compaction removes it from the tree: the version it publishes no
 *      longer names it. The compaction took a reference of its own while
 *      publishing (db_compact_install); once its own readers (its input
 *      iterator, the version it picked its task from) let go, it hands
 *      that reference to db_pins_retire. If it is the only one left, the
 *      file is deleted at once: one LSM_EVENT_SST_DELETED, "compacted
 *      away", after the compaction's COMPACTION_END. Else the SST joins
 *      db->kept, the SSTs kept only for readers (lsm_state.pinned_only).
 *   3. db_pins_sweep deletes every kept SST whose only reference is the
 *      list's ("last reader closed"). It runs when an iterator closes,
 *      when a get, a scan or a freeze drops the last reference to a version
 *      while the list is not empty (one atomic load otherwise), after each
 *      compaction's retire, and at close, which releases everything.
 *      lsm_state_get never sweeps, as it may run inside an event callback:
 *      an SST whose last reader was a state snapshot waits for the next of
 *      those.
 *   A crash in 2 or 3 leaves the file on disk, named by no manifest
 *   record: the next open deletes it ("not in the manifest (left by a
 *   crash)", db_open.c).
 *
 * Why a count of 1 is final: a reference is only ever taken from a holder
 * (a version naming the SST, or a source already on it). Once no version
 * names the SST and no source is on it, nothing can reach it but the list,
 * so its count never rises again.
 *
 * Why no kept SST is forgotten: a reader drops its reference (an atomic
 * read-modify-write), then loads n_kept; db_pins_retire stores n_kept,
 * then sweeps, which loads the counts. Both sides are sequentially
 * consistent, so either the sweep sees the dropped count or the reader
 * sees n_kept > 0 and sweeps itself.
 *
 * Locks: db->kept and n_kept are [state]. Files are deleted and events sent
 * with no lock held but those the caller came with (write_mu in a freeze,
 * compact_mu in a compaction), as every other event.
 */
#include "db/db_int.h"

#include "util/status_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- what an iterator pins ------------------------------------------------ */

void db_pins_add_memtable(iter_pins *p, uint64_t memtable_id)
{
    if (p->n_memtables == p->memtables_cap) {
        size_t cap = p->memtables_cap ? 2 * p->memtables_cap : 4;
        uint64_t *grown = realloc(p->memtable_ids, cap * sizeof *grown);
        if (!grown) {
            p->oom = true;
            return;
        }
        p->memtable_ids = grown;
        p->memtables_cap = cap;
    }
    p->memtable_ids[p->n_memtables++] = memtable_id;
}

void db_pins_add_sst(iter_pins *p, uint64_t sst_id, int level, uint64_t tier_id)
{
    if (p->n_ssts == p->ssts_cap) {
        size_t cap = p->ssts_cap ? 2 * p->ssts_cap : 8;
        iter_pin_sst *grown = realloc(p->ssts, cap * sizeof *grown);
        if (!grown) {
            p->oom = true;
            return;
        }
        p->ssts = grown;
        p->ssts_cap = cap;
    }
    p->ssts[p->n_ssts++] =
        (iter_pin_sst){.sst_id = sst_id, .level = level, .tier_id = tier_id};
}

void db_pins_free(iter_pins *p)
{
    free(p->memtable_ids);
    free(p->ssts);
    memset(p, 0, sizeof *p);
}

/* --- deleting files ------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void db_report_sst_deleted(lsm_db *db, uint64_t *ids, size_t n,
                           const char *reason)
{
    if (n == 0)
        return;
    qsort(ids, n, sizeof *ids, cmp_u64);
    lsm_event ev = {.type = LSM_EVENT_SST_DELETED,
                    .n_deleted = n,
                    .deleted = ids,
                    .reason = reason};
    db_emit(db, &ev);
}

/* Deletes the n SSTs (the caller's references are the last ones: marking
 * them obsolete makes sst_unref remove the files) and reports them. */
static void db_pins_delete(lsm_db *db, sst **ssts, size_t n, const char *reason)
{
    if (n == 0)
        return;
    uint64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        if (ids)
            ids[i] = sst_id(ssts[i]);
        sst_mark_obsolete(ssts[i]);
        sst_unref(ssts[i]);
    }
    if (ids) {
        db_report_sst_deleted(db, ids, n, reason);
    } else {
        /* Out of memory for the list: report them one by one. */
        for (size_t i = 0; i < n; i++) {
            uint64_t id = sst_id(ssts[i]);
            db_report_sst_deleted(db, &id, 1, reason);
        }
    }
    free(ids);
}

/* Adds t (with the caller's reference) to db->kept. Caller holds state_mu.
 * false when out of memory. */
static bool db_pins_keep_locked(lsm_db *db, sst *t)
{
    size_t n = atomic_load(&db->n_kept);
    if (n == db->kept_cap) {
        size_t cap = db->kept_cap ? 2 * db->kept_cap : 8;
        sst **grown = realloc(db->kept, cap * sizeof *grown);
        if (!grown)
            return false;
        db->kept = grown;
        db->kept_cap = cap;
    }
    db->kept[n] = t;
    atomic_store(&db->n_kept, n + 1);
    return true;
}

void db_pins_retire(lsm_db *db, sst **ssts, size_t n)
{
    if (n == 0)
        return;
    size_t n_free = 0;
    pthread_mutex_lock(&db->state_mu);
    for (size_t i = 0; i < n; i++) {
        /* Kept SSTs are moved to the end, free ones gathered at the front
         * (for deletion after the lock). If the list cannot grow, the SST
         * is deleted when its last reader lets go, unreported: the one
         * deletion an out-of-memory may hide. */
        if (sst_refs(ssts[i]) == 1) {
            ssts[n_free++] = ssts[i];
        } else if (!db_pins_keep_locked(db, ssts[i])) {
            sst_mark_obsolete(ssts[i]);
            sst_unref(ssts[i]);
        }
    }
    pthread_mutex_unlock(&db->state_mu);
    db_pins_delete(db, ssts, n_free, "compacted away");
    /* A reader may have let go between the count above and its own look
     * at n_kept (see the top of this file). */
    db_pins_sweep(db);
}

/* Moves the kept SSTs nobody else holds into free[] (room for every kept
 * one), closing the gaps. Caller holds state_mu. */
static size_t db_pins_take_free_locked(lsm_db *db, sst **free_ssts)
{
    size_t n = atomic_load(&db->n_kept);
    size_t n_free = 0, n_left = 0;
    for (size_t i = 0; i < n; i++) {
        if (sst_refs(db->kept[i]) == 1)
            free_ssts[n_free++] = db->kept[i];
        else
            db->kept[n_left++] = db->kept[i];
    }
    atomic_store(&db->n_kept, n_left);
    return n_free;
}

void db_pins_sweep(lsm_db *db)
{
    if (atomic_load(&db->n_kept) == 0)
        return;
    pthread_mutex_lock(&db->state_mu);
    size_t n = atomic_load(&db->n_kept);
    sst **free_ssts = malloc((n ? n : 1) * sizeof *free_ssts);
    size_t n_free = free_ssts ? db_pins_take_free_locked(db, free_ssts) : 0;
    pthread_mutex_unlock(&db->state_mu);
    /* Out of memory: the SSTs stay kept until the next sweep. */
    db_pins_delete(db, free_ssts, n_free, "last reader closed");
    free(free_ssts);
}

void db_pins_release_version(lsm_db *db, version *v)
{
    if (version_unref(v) && atomic_load(&db->n_kept) > 0)
        db_pins_sweep(db);
}

void db_pins_close(lsm_db *db)
{
    db_pins_sweep(db);
    /* With no reader left every kept SST was free; anything still here
     * is held by a leaked reference and goes when that one does. */
    size_t n = atomic_load(&db->n_kept);
    for (size_t i = 0; i < n; i++) {
        sst_mark_obsolete(db->kept[i]);
        sst_unref(db->kept[i]);
    }
    atomic_store(&db->n_kept, 0);
    free(db->kept);
    db->kept = NULL;
    db->kept_cap = 0;
}

/* --- the state's view ------------------------------------------------------
 */

int db_pins_fill_iter_locked(const lsm_iter *it, lsm_iter_info *out)
{
    const iter_pins *p = &it->pins;
    out->memtable_ids =
        calloc(p->n_memtables ? p->n_memtables : 1, sizeof *out->memtable_ids);
    out->ssts = calloc(p->n_ssts ? p->n_ssts : 1, sizeof *out->ssts);
    if (!out->memtable_ids || !out->ssts)
        return lsm_error(LSM_ENOMEM, "out of memory taking the state");
    if (p->n_memtables)
        memcpy(out->memtable_ids, p->memtable_ids,
               p->n_memtables * sizeof *out->memtable_ids);
    out->n_memtables = p->n_memtables;
    for (size_t i = 0; i < p->n_ssts; i++)
        out->ssts[i] = (lsm_pinned_sst){.sst_id = p->ssts[i].sst_id,
                                        .level = p->ssts[i].level,
                                        .tier_id = p->ssts[i].tier_id,
                                        .in_tree = 1};
    out->n_ssts = p->n_ssts;
    return LSM_OK;
}

int db_pins_fill_kept_locked(lsm_db *db, lsm_state *st)
{
    size_t n = atomic_load(&db->n_kept);
    st->pinned_only = calloc(n ? n : 1, sizeof *st->pinned_only);
    if (!st->pinned_only)
        return lsm_error(LSM_ENOMEM, "out of memory taking the state");
    for (size_t i = 0; i < n; i++)
        st->pinned_only[i] = sst_id(db->kept[i]);
    qsort(st->pinned_only, n, sizeof *st->pinned_only, cmp_u64);
    st->n_pinned_only = n;
    return LSM_OK;
}

/* Every SST id v names, ascending, in *out (malloc'd); returns how many,
 * or SIZE_MAX when out of memory. */
static size_t db_pins_version_ids(const version *v, uint64_t **out)
{
    size_t n = v->n_l0, k = 0;
    for (size_t l = 0; l < v->n_levels; l++)
        n += v->levels[l].n_ssts;
    uint64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return SIZE_MAX;
    for (size_t i = 0; i < v->n_l0; i++)
        ids[k++] = sst_id(v->l0[i]);
    for (size_t l = 0; l < v->n_levels; l++)
        for (size_t i = 0; i < v->levels[l].n_ssts; i++)
            ids[k++] = sst_id(v->levels[l].ssts[i]);
    qsort(ids, n, sizeof *ids, cmp_u64);
    *out = ids;
    return n;
}

int db_pins_mark_in_tree(const version *v, lsm_state *st)
{
    uint64_t *ids = NULL;
    size_t n = db_pins_version_ids(v, &ids);
    if (n == SIZE_MAX)
        return lsm_error(LSM_ENOMEM, "out of memory taking the state");
    for (size_t i = 0; i < st->n_iters; i++) {
        lsm_iter_info *info = &st->iters[i];
        for (size_t j = 0; j < info->n_ssts; j++)
            info->ssts[j].in_tree = bsearch(&info->ssts[j].sst_id, ids, n,
                                            sizeof *ids, cmp_u64) != NULL;
    }
    free(ids);
    return LSM_OK;
}

void db_pins_describe_open_locked(lsm_db *db, char *buf, size_t n)
{
    enum { SHOWN_MAX = 8 };
    uint64_t shown[SHOWN_MAX];
    size_t n_shown = db->n_iters < SHOWN_MAX ? db->n_iters : SHOWN_MAX;
    /* db->iters is newest first; name the oldest ones, oldest first. */
    size_t k = db->n_iters;
    for (const lsm_iter *it = db->iters; it; it = it->next_open) {
        k--;
        if (k < n_shown)
            shown[k] = it->iter_id;
    }
    size_t at = (size_t)snprintf(buf, n, "%zu iterator(s) still open (id%s",
                                 db->n_iters, db->n_iters == 1 ? "" : "s");
    for (size_t i = 0; i < n_shown && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, "%s %" PRIu64, i ? "," : "",
                               shown[i]);
    if (at < n)
        snprintf(buf + at, n - at, "%s)",
                 db->n_iters > SHOWN_MAX ? ", ..." : "");
}
