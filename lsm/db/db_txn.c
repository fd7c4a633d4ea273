/*
 * db_txn.c: optimistic transactions (lsm.h, "Transactions").
 *
 * PLACEHOLDER while issue 14 is built in parallel: every call fails with
 * LSM_EINTERNAL so that the shell and the tests link. The transactions
 * helper replaces this whole file.
 */
#include "db/db_int.h"

#include "util/status_int.h"

static int db_txn_missing(void)
{
    return lsm_error(LSM_EINTERNAL, "transactions are not built yet");
}

int lsm_txn_begin(lsm_db *db, lsm_isolation iso, lsm_txn **out)
{
    (void)db;
    (void)iso;
    if (out)
        *out = NULL;
    return db_txn_missing();
}

uint64_t lsm_txn_id(const lsm_txn *t)
{
    (void)t;
    return 0;
}

uint64_t lsm_txn_read_seq(const lsm_txn *t)
{
    (void)t;
    return 0;
}

lsm_isolation lsm_txn_isolation(const lsm_txn *t)
{
    (void)t;
    return LSM_ISOLATION_SNAPSHOT;
}

int lsm_txn_get(lsm_txn *t, const void *key, size_t nkey, void **value,
                size_t *nvalue)
{
    (void)t, (void)key, (void)nkey, (void)value, (void)nvalue;
    return db_txn_missing();
}

int lsm_txn_put(lsm_txn *t, const void *key, size_t nkey, const void *value,
                size_t nvalue)
{
    (void)t, (void)key, (void)nkey, (void)value, (void)nvalue;
    return db_txn_missing();
}

int lsm_txn_delete(lsm_txn *t, const void *key, size_t nkey)
{
    (void)t, (void)key, (void)nkey;
    return db_txn_missing();
}

int lsm_txn_scan(lsm_txn *t, const lsm_bound *lo, const lsm_bound *hi,
                 lsm_iter **out)
{
    (void)t, (void)lo, (void)hi;
    if (out)
        *out = NULL;
    return db_txn_missing();
}

int lsm_txn_commit(lsm_txn *t, lsm_commit_info *info)
{
    (void)t;
    (void)info;
    return db_txn_missing();
}

void lsm_txn_abort(lsm_txn *t)
{
    (void)t;
}
