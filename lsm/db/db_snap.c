/*
 * db_snap.c: read points (snapshots, and the snapshot inside every
 * transaction) and the watermark they make: the oldest live read point's
 * seq, below which flushes and compactions keep only the newest version of
 * each key (compact/version_filter).
 *
 * The list is ordered by seq without any sorting: a read point takes
 * visible_seq and joins the newest end of the list in one snap_mu hold,
 * and visible_seq never goes down. So the oldest is always at the head,
 * and db_watermark is one lock and one load. Taking the seq and joining in
 * one hold also closes the race the book asks about: a read point that
 * took its seq and was not yet in the list would be invisible to a
 * compaction computing the watermark at that moment, which could drop
 * the versions it is about to read.
 */
#include "db/db_int.h"

#include "util/status_int.h"

#include <stdio.h>
#include <stdlib.h>

void db_snap_register(lsm_db *db, lsm_snapshot *s)
{
    s->db = db;
    pthread_mutex_lock(&db->snap_mu);
    s->seq = atomic_load_explicit(&db->visible_seq, memory_order_acquire);
    s->id = ++db->next_snap_id;
    s->older = db->newest_snap;
    s->newer = NULL;
    if (db->newest_snap)
        db->newest_snap->newer = s;
    else
        db->oldest_snap = s;
    db->newest_snap = s;
    if (s->is_txn)
        db->n_txns++;
    else
        db->n_snaps++;
    pthread_mutex_unlock(&db->snap_mu);
}

void db_snap_unregister(lsm_snapshot *s)
{
    lsm_db *db = s->db;
    pthread_mutex_lock(&db->snap_mu);
    if (s->older)
        s->older->newer = s->newer;
    else
        db->oldest_snap = s->newer;
    if (s->newer)
        s->newer->older = s->older;
    else
        db->newest_snap = s->older;
    if (s->is_txn)
        db->n_txns--;
    else
        db->n_snaps--;
    pthread_mutex_unlock(&db->snap_mu);
    s->older = s->newer = NULL;
}

uint64_t db_watermark(lsm_db *db)
{
    pthread_mutex_lock(&db->snap_mu);
    /* A read point taken after this returns reads at visible_seq or above,
     * so the watermark must not pass it, live read points or not. Usually every
     * seq a flush or compaction reads is at or below visible_seq anyway, and
     * this changes nothing; but with group commit a freeze publishes the frozen
     * memtable (waking the flush thread) before it moves visible_seq past the
     * memtable's last writes, and without this bound a flush in that
     * window dropped k@old behind a k@new no reader could see yet: a
     * snapshot taken then, and plain gets until the freeze finished, read
     * k as missing. */
    uint64_t w = atomic_load_explicit(&db->visible_seq, memory_order_acquire);
    if (db->oldest_snap && db->oldest_snap->seq < w)
        w = db->oldest_snap->seq;
    pthread_mutex_unlock(&db->snap_mu);
    return w;
}

int db_snap_fill_state(lsm_db *db, lsm_state *st)
{
    pthread_mutex_lock(&db->snap_mu);
    st->visible_seq =
        atomic_load_explicit(&db->visible_seq, memory_order_acquire);
    size_t n = db->n_snaps + db->n_txns;
    lsm_read_point *points = n ? calloc(n, sizeof *points) : NULL;
    if (n && !points) {
        pthread_mutex_unlock(&db->snap_mu);
        return lsm_error(LSM_ENOMEM, "out of memory listing snapshots");
    }
    size_t i = 0;
    for (const lsm_snapshot *s = db->oldest_snap; s && i < n; s = s->newer) {
        points[i].id = s->id;
        points[i].seq = s->seq;
        points[i].is_txn = s->is_txn;
        points[i].isolation = s->isolation;
        i++;
    }
    st->read_points = points;
    st->n_read_points = i;
    st->has_watermark = db->oldest_snap != NULL;
    st->watermark = db->oldest_snap ? db->oldest_snap->seq : 0;
    pthread_mutex_unlock(&db->snap_mu);
    return LSM_OK;
}

/* "2 snapshot(s) still live (ids 1, 4)" and the like into buf; caller
 * holds snap_mu. */
static void db_snap_describe_locked(lsm_db *db, bool txns, char *buf,
                                    size_t cap)
{
    size_t n = txns ? db->n_txns : db->n_snaps;
    int used = snprintf(buf, cap, "%zu %s still %s (ids", n,
                        txns ? "transaction(s)" : "snapshot(s)",
                        txns ? "open" : "live");
    const char *sep = " ";
    for (const lsm_snapshot *s = db->oldest_snap; s; s = s->newer) {
        if (s->is_txn != txns)
            continue;
        if (used < 0 || (size_t)used >= cap)
            return;
        used += snprintf(buf + used, cap - (size_t)used, "%s%llu", sep,
                         (unsigned long long)s->id);
        sep = ", ";
    }
    if (used >= 0 && (size_t)used < cap)
        snprintf(buf + used, cap - (size_t)used, ")");
}

int db_snap_check_none_open(lsm_db *db)
{
    char snaps[160] = "", txns[160] = "";
    pthread_mutex_lock(&db->snap_mu);
    bool any_snaps = db->n_snaps > 0, any_txns = db->n_txns > 0;
    if (any_snaps)
        db_snap_describe_locked(db, false, snaps, sizeof snaps);
    if (any_txns)
        db_snap_describe_locked(db, true, txns, sizeof txns);
    pthread_mutex_unlock(&db->snap_mu);
    if (!any_snaps && !any_txns)
        return LSM_OK;
    return lsm_error(LSM_EBUSY, "%s%s%s; end them before closing the database",
                     snaps, any_snaps && any_txns ? ", " : "", txns);
}

int db_read_begin(lsm_db *db, const lsm_snapshot *snap, uint64_t *seq,
                  version **v)
{
    *v = NULL;
    if (!snap) {
        *v = db_ref_current_and_seq(db, seq);
        return LSM_OK;
    }
    if (snap->db != db)
        return lsm_error(LSM_EINVAL,
                         "snapshot %llu belongs to another "
                         "database handle",
                         (unsigned long long)snap->id);
    *seq = snap->seq;
    *v = db_ref_current(db);
    return LSM_OK;
}

/* --- the public snapshot calls ------------------------------------------ */

int lsm_snapshot_take(lsm_db *db, lsm_snapshot **out)
{
    lsm_error_clear();
    if (!db || !out)
        return lsm_error(LSM_EINVAL, "lsm_snapshot_take needs a handle and "
                                     "somewhere to put the snapshot");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return lsm_error(LSM_ENOMEM, "out of memory taking a snapshot");
    db_snap_register(db, *out);
    return LSM_OK;
}

void lsm_snapshot_release(lsm_snapshot *s)
{
    if (!s)
        return;
    db_snap_unregister(s);
    free(s);
}

uint64_t lsm_snapshot_seq(const lsm_snapshot *s)
{
    return s ? s->seq : 0;
}

uint64_t lsm_snapshot_id(const lsm_snapshot *s)
{
    return s ? s->id : 0;
}
