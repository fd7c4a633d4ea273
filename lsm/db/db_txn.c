/*
 * db_txn.c: optimistic transactions, the public calls (lsm.h,
 * "Transactions"; db_txn_int.h has the structure).
 *
 * begin registers the transaction's read point (its snapshot, which holds
 * the watermark down); gets and scans read the database there, with the
 * transaction's own buffered writes in front (db_txn_set.c); under
 * SERIALIZABLE they also record what they read. commit, for a transaction
 * that wrote anything, takes write_mu, validates (db_txn_check.c) and, if
 * nothing conflicts, writes the buffered writes as one batch through the
 * normal write path, all in that one hold; with the sync option it then
 * waits for group commit outside write_mu, as lsm_write does. Either way
 * the transaction is freed.
 */
#include "db/db_txn_int.h"

#include "util/status_int.h"

#include <stdlib.h>
#include <string.h>

/* --- begin, end ----------------------------------------------------------- */

int lsm_txn_begin(lsm_db *db, lsm_isolation iso, lsm_txn **out)
{
    lsm_error_clear();
    if (out)
        *out = NULL;
    if (!db || !out)
        return lsm_error(LSM_EINVAL, "lsm_txn_begin needs a handle and "
                                     "somewhere to put the transaction");
    if (iso != LSM_ISOLATION_SNAPSHOT && iso != LSM_ISOLATION_SERIALIZABLE)
        return lsm_error(LSM_EINVAL, "unknown isolation level %d", (int)iso);
    lsm_txn *t = calloc(1, sizeof *t);
    if (!t)
        return lsm_error(LSM_ENOMEM, "out of memory starting a transaction");
    int rc = txn_writes_init(&t->writes);
    if (rc != LSM_OK) {
        free(t);
        return rc;
    }
    t->snap.is_txn = true;
    t->snap.isolation = iso;
    db_snap_register(db, &t->snap);
    *out = t;
    return LSM_OK;
}

/* Ends t: its read point leaves the list (the watermark may rise). */
static void txn_free(lsm_txn *t)
{
    db_snap_unregister(&t->snap);
    txn_writes_free(&t->writes);
    txn_reads_free(&t->reads);
    free(t);
}

void lsm_txn_abort(lsm_txn *t)
{
    if (!t)
        return;
    COUNTER_ADD(&t->snap.db->ctrs, txn_aborts, 1);
    txn_free(t);
}

uint64_t lsm_txn_id(const lsm_txn *t)
{
    return t ? t->snap.id : 0;
}

uint64_t lsm_txn_read_seq(const lsm_txn *t)
{
    return t ? t->snap.seq : 0;
}

lsm_isolation lsm_txn_isolation(const lsm_txn *t)
{
    return t ? t->snap.isolation : LSM_ISOLATION_SNAPSHOT;
}

static bool txn_serializable(const lsm_txn *t)
{
    return t->snap.isolation == LSM_ISOLATION_SERIALIZABLE;
}

/* --- reads ---------------------------------------------------------------- */

int lsm_txn_get(lsm_txn *t, const void *key, size_t nkey, void **value,
                size_t *nvalue)
{
    lsm_error_clear();
    if (!t || !value || !nvalue)
        return lsm_error(LSM_EINVAL, "lsm_txn_get needs a transaction and "
                                     "somewhere to put the value");
    *value = NULL;
    *nvalue = 0;
    int rc = key_check(key, nkey);
    if (rc != LSM_OK)
        return rc;
    entry own;
    if (txn_writes_get(&t->writes, key, nkey, &own))
        return db_get_result(&own, value, nvalue);
    rc = lsm_get_at(t->snap.db, &t->snap, key, nkey, value, nvalue);
    if ((rc == LSM_OK || rc == LSM_NOTFOUND) && txn_serializable(t)) {
        int rrc = txn_reads_add_key(&t->reads, key, nkey);
        if (rrc != LSM_OK) {
            lsm_free(*value);
            *value = NULL;
            *nvalue = 0;
            return rrc;
        }
    }
    return rc;
}

int lsm_txn_scan(lsm_txn *t, const lsm_bound *lo, const lsm_bound *hi,
                 lsm_iter **out)
{
    lsm_error_clear();
    if (out)
        *out = NULL;
    if (!t || !out)
        return lsm_error(LSM_EINVAL, "lsm_txn_scan needs a transaction and "
                                     "somewhere to put the iterator");
    /* The writes as they are now; with none, a plain scan at the
     * snapshot (no extra source in lsm_iter_num_active). */
    iter *own = NULL;
    if (!txn_writes_empty(&t->writes) &&
        !(own = txn_writes_view(&t->writes, t->snap.seq)))
        return lsm_error(LSM_ENOMEM, "out of memory starting a scan");
    int rc = db_iter_scan_with(t->snap.db, &t->snap, lo, hi, own, out);
    if (rc != LSM_OK || !txn_serializable(t))
        return rc;
    rc = txn_reads_add_range(&t->reads, lo, hi);
    if (rc != LSM_OK) {
        lsm_iter_close(*out);
        *out = NULL;
    }
    return rc;
}

int lsm_txn_scan_prefix(lsm_txn *t, const void *prefix, size_t nprefix,
                        lsm_iter **out)
{
    lsm_error_clear();
    if (out)
        *out = NULL;
    if (!t || !out)
        return lsm_error(LSM_EINVAL, "lsm_txn_scan_prefix needs a transaction "
                                     "and somewhere to put the iterator");
    lsm_bound lo, hi;
    uint8_t *owned;
    int rc = db_prefix_bounds(prefix, nprefix, &lo, &hi, &owned);
    if (rc != LSM_OK)
        return rc;
    iter *own = NULL;
    if (!txn_writes_empty(&t->writes) &&
        !(own = txn_writes_view(&t->writes, t->snap.seq)))
        rc = lsm_error(LSM_ENOMEM, "out of memory starting a scan");
    if (rc == LSM_OK)
        rc = db_iter_scan_prefix_with(t->snap.db, &t->snap, prefix, nprefix,
                                      own, out);
    /* The range read is the prefix's: a key written with the prefix after
     * t began is a phantom, as for lsm_txn_scan. */
    if (rc == LSM_OK && txn_serializable(t))
        rc = txn_reads_add_range(&t->reads, &lo, &hi);
    if (rc != LSM_OK && *out) {
        lsm_iter_close(*out);
        *out = NULL;
    }
    free(owned);
    return rc;
}

/* --- writes --------------------------------------------------------------- */

int lsm_txn_put(lsm_txn *t, const void *key, size_t nkey, const void *value,
                size_t nvalue)
{
    lsm_error_clear();
    if (!t)
        return lsm_error(LSM_EINVAL, "transaction is NULL");
    return txn_writes_add(&t->writes, ENTRY_VALUE, key, nkey, value, nvalue);
}

int lsm_txn_delete(lsm_txn *t, const void *key, size_t nkey)
{
    lsm_error_clear();
    if (!t)
        return lsm_error(LSM_EINVAL, "transaction is NULL");
    return txn_writes_add(&t->writes, ENTRY_TOMBSTONE, key, nkey, NULL, 0);
}

/* --- commit --------------------------------------------------------------- */

static void txn_count_conflict(lsm_db *db, lsm_conflict_kind kind)
{
    if (kind == LSM_CONFLICT_WRITE)
        COUNTER_ADD(&db->ctrs, txn_conflicts_write, 1);
    else if (kind == LSM_CONFLICT_READ)
        COUNTER_ADD(&db->ctrs, txn_conflicts_read, 1);
    else
        COUNTER_ADD(&db->ctrs, txn_conflicts_range, 1);
}

static const char *txn_conflict_what(lsm_conflict_kind kind)
{
    switch (kind) {
    case LSM_CONFLICT_WRITE:
        return "a key it writes";
    case LSM_CONFLICT_READ:
        return "a key it read";
    default:
        return "a key in a range it scanned";
    }
}

/* Validates and writes b under one hold of write_mu; with group commit,
 * waits for the fsync after letting it go. *commit_seq: the batch's last
 * seq. */
typedef struct txn_validation {
    lsm_txn *t;
    lsm_commit_info *info;
} txn_validation;

static int txn_validate_prepare(lsm_db *db, void *ctx)
{
    txn_validation *v = ctx;
    return txn_validate_locked(db, v->t, v->info);
}

static int txn_write_validated(lsm_db *db, lsm_txn *t, lsm_batch *b,
                               lsm_commit_info *info, uint64_t *commit_seq)
{
    txn_validation v = {.t = t, .info = info};
    return db_write_guarded(db, txn_validate_prepare, &v, b, commit_seq);
}

/* Commits t's writes (there are some); fills info. */
static int txn_commit_writes(lsm_txn *t, lsm_commit_info *info)
{
    lsm_db *db = t->snap.db;
    /* Built before write_mu is taken: the lock is held for validation and
     * the write alone. */
    lsm_batch b;
    batch_init(&b);
    int rc = txn_writes_to_batch(&t->writes, &b);
    uint64_t commit_seq = 0;
    if (rc == LSM_OK)
        rc = txn_write_validated(db, t, &b, info, &commit_seq);
    batch_release(&b);
    if (rc == LSM_OK) {
        info->commit_seq = commit_seq;
        COUNTER_ADD(&db->ctrs, txn_commits, 1);
    } else if (rc == LSM_ECONFLICT) {
        txn_count_conflict(db, info->conflict);
        lsm_error(LSM_ECONFLICT,
                  "transaction %llu: %s was written at seq %llu, after it "
                  "began at seq %llu",
                  (unsigned long long)t->snap.id,
                  txn_conflict_what(info->conflict),
                  (unsigned long long)info->conflict_seq,
                  (unsigned long long)t->snap.seq);
    }
    return rc;
}

int lsm_txn_commit(lsm_txn *t, lsm_commit_info *info)
{
    lsm_error_clear();
    lsm_commit_info scratch;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof *info);
    if (!t)
        return lsm_error(LSM_EINVAL, "transaction is NULL");
    int rc = LSM_OK;
    if (txn_writes_empty(&t->writes)) {
        /* Its reads were one consistent snapshot: nothing to check. */
        info->commit_seq = t->snap.seq;
        COUNTER_ADD(&t->snap.db->ctrs, txn_commits, 1);
    } else {
        rc = db_refuse_read_only(t->snap.db, "lsm_txn_commit");
        if (rc == LSM_OK)
            rc = txn_commit_writes(t, info);
    }
    if (info == &scratch)
        lsm_free(scratch.key);
    txn_free(t);
    return rc;
}
