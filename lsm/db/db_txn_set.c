/*
 * db_txn_set.c: a transaction's write set and read set (db_txn_int.h).
 *
 * Both are private memtables: a skiplist gives the key order the commit's
 * batch, the scans and the validation want, in O(log n) per write. The
 * write set numbers its versions itself (1, 2, ...), so the newest version
 * of a key is its latest write; every reader here looks only at that one
 * (latest_iter), and a scan's view also stops at the number current when
 * the scan opened, so writes buffered afterwards stay out of it.
 */
#include "db/db_txn_int.h"

#include "util/coding_int.h"
#include "util/status_int.h"

#include <stdlib.h>
#include <string.h>

/* --- an iterator over the latest version of each key ---------------------- */

/* Wraps a memtable iterator: lands only on the newest version of each key
 * numbered at most shown_max, and with restamp hands it out with seq stamp
 * instead of its own number. */
typedef struct latest_iter {
    iter base;
    iter *inner;
    uint64_t shown_max;
    bool restamp;
    uint64_t stamp;
} latest_iter;

static bool latest_valid(const iter *it)
{
    return iter_valid(((const latest_iter *)it)->inner);
}

static void latest_current(const iter *it, entry *out)
{
    const latest_iter *li = (const latest_iter *)it;
    iter_entry(li->inner, out);
    if (li->restamp)
        out->seq = li->stamp;
}

/* Skips versions numbered above shown_max: the first one left is the key's
 * latest shown write (versions of a key come newest first). */
static int latest_settle(latest_iter *li)
{
    int rc = LSM_OK;
    while (rc == LSM_OK && iter_valid(li->inner)) {
        entry e;
        iter_entry(li->inner, &e);
        if (e.seq <= li->shown_max)
            break;
        rc = iter_next(li->inner);
    }
    return rc;
}

static int latest_next(iter *it)
{
    latest_iter *li = (latest_iter *)it;
    entry cur;
    iter_entry(li->inner, &cur);
    /* cur.key lives in the memtable's arena, which never moves. */
    int rc = iter_next(li->inner);
    while (rc == LSM_OK && iter_valid(li->inner)) {
        entry e;
        iter_entry(li->inner, &e);
        if (user_key_cmp(e.key, e.nkey, cur.key, cur.nkey) != 0)
            break;
        rc = iter_next(li->inner);
    }
    return rc == LSM_OK ? latest_settle(li) : rc;
}

static int latest_seek(iter *it, const uint8_t *key, size_t nkey)
{
    latest_iter *li = (latest_iter *)it;
    int rc = iter_seek(li->inner, key, nkey);
    return rc == LSM_OK ? latest_settle(li) : rc;
}

static size_t latest_num_active(const iter *it)
{
    return iter_num_active(((const latest_iter *)it)->inner);
}

static void latest_destroy(iter *it)
{
    latest_iter *li = (latest_iter *)it;
    iter_destroy(li->inner);
    free(li);
}

static const iter_ops latest_ops = {
    .valid = latest_valid,
    .current = latest_current,
    .next = latest_next,
    .seek = latest_seek,
    .num_active = latest_num_active,
    .destroy = latest_destroy,
};

static iter *latest_iter_new(memtable *mt, uint64_t shown_max, bool restamp,
                             uint64_t stamp)
{
    latest_iter *li = calloc(1, sizeof *li);
    if (!li)
        return NULL;
    li->inner = memtable_iter_new(mt);
    if (!li->inner) {
        free(li);
        return NULL;
    }
    li->base.ops = &latest_ops;
    li->shown_max = shown_max;
    li->restamp = restamp;
    li->stamp = stamp;
    return &li->base;
}

/* --- the write set ---------------------------------------------------------
 */

int txn_writes_init(txn_write_set *ws)
{
    memset(ws, 0, sizeof *ws);
    int rc = memtable_create(0, &ws->mt);
    if (rc != LSM_OK)
        return lsm_error(LSM_ENOMEM, "out of memory starting a transaction");
    return LSM_OK;
}

void txn_writes_free(txn_write_set *ws)
{
    memtable_unref(ws->mt);
    ws->mt = NULL;
}

/* The bytes one entry takes in a batch (log/batch.c's encoding). */
static uint64_t batch_entry_bytes(size_t nkey, size_t nvalue)
{
    return 1 + varint64_length(nkey) + nkey + varint64_length(nvalue) + nvalue;
}

/* batch_add refuses an entry when the entries before it plus its own
 * worst-case size (both lengths as 10-byte varints) would pass
 * LOG_MAX_PAYLOAD - 12. The commit adds the entries in key order, so any
 * of them may come last: keeping the total this far below the limit
 * guarantees the commit's batch is never refused. */
#define TXN_BATCH_SLACK (2 * VARINT64_MAX_BYTES - 2)
#define TXN_BATCH_LIMIT ((uint64_t)LOG_MAX_PAYLOAD - 12 - TXN_BATCH_SLACK)

int txn_writes_add(txn_write_set *ws, uint8_t type, const void *key,
                   size_t nkey, const void *value, size_t nvalue)
{
    int rc = key_check(key, nkey);
    if (rc == LSM_OK && type == ENTRY_VALUE)
        rc = batch_value_check(value, nvalue);
    if (rc != LSM_OK)
        return rc;
    if (type == ENTRY_TOMBSTONE)
        value = NULL, nvalue = 0;
    entry old;
    uint64_t replaced = txn_writes_get(ws, key, nkey, &old)
                            ? batch_entry_bytes(old.nkey, old.nvalue)
                            : 0;
    uint64_t total =
        ws->batch_bytes - replaced + batch_entry_bytes(nkey, nvalue);
    if (total > TXN_BATCH_LIMIT)
        return lsm_error(LSM_EINVAL,
                         "a transaction's writes are limited to one log "
                         "record of %u bytes; this write would make them "
                         "%llu bytes",
                         LOG_MAX_PAYLOAD, (unsigned long long)total);
    rc = memtable_put(ws->mt, key, nkey, ws->n_writes + 1, type, value, nvalue);
    if (rc != LSM_OK)
        return rc;
    ws->n_writes++;
    ws->batch_bytes = total;
    return LSM_OK;
}

bool txn_writes_get(txn_write_set *ws, const uint8_t *key, size_t nkey,
                    entry *out)
{
    return memtable_get(ws->mt, key, nkey, out);
}

bool txn_writes_empty(const txn_write_set *ws)
{
    return ws->n_writes == 0;
}

iter *txn_writes_view(txn_write_set *ws, uint64_t read_seq)
{
    return latest_iter_new(ws->mt, ws->n_writes, true, read_seq);
}

iter *txn_writes_iter(txn_write_set *ws)
{
    return latest_iter_new(ws->mt, UINT64_MAX, false, 0);
}

int txn_writes_to_batch(txn_write_set *ws, lsm_batch *b)
{
    iter *it = txn_writes_iter(ws);
    if (!it)
        return lsm_error(LSM_ENOMEM, "out of memory building a commit");
    int rc = iter_seek(it, NULL, 0);
    while (rc == LSM_OK && iter_valid(it)) {
        entry e;
        iter_entry(it, &e);
        rc = batch_add(b, e.type, e.key, e.nkey, e.value, e.nvalue);
        if (rc == LSM_OK)
            rc = iter_next(it);
    }
    iter_destroy(it);
    return rc;
}

/* --- the read set ----------------------------------------------------------
 */

void txn_reads_free(txn_read_set *rs)
{
    memtable_unref(rs->keys);
    for (size_t i = 0; i < rs->n_ranges; i++) {
        free((void *)rs->ranges[i].lo.key);
        free((void *)rs->ranges[i].hi.key);
    }
    free(rs->ranges);
    memset(rs, 0, sizeof *rs);
}

int txn_reads_add_key(txn_read_set *rs, const uint8_t *key, size_t nkey)
{
    if (!rs->keys && memtable_create(0, &rs->keys) != LSM_OK)
        return lsm_error(LSM_ENOMEM, "out of memory recording a read");
    entry seen;
    if (memtable_get(rs->keys, key, nkey, &seen))
        return LSM_OK;
    int rc =
        memtable_put(rs->keys, key, nkey, rs->n_keys + 1, ENTRY_VALUE, NULL, 0);
    if (rc != LSM_OK)
        return lsm_error(LSM_ENOMEM, "out of memory recording a read");
    rs->n_keys++;
    return LSM_OK;
}

/* An owned copy of bound b (NULL: unbounded) into *out. */
static int txn_copy_bound(const lsm_bound *b, lsm_bound *out)
{
    memset(out, 0, sizeof *out);
    if (!b || b->kind == LSM_BOUND_UNBOUNDED)
        return LSM_OK;
    void *copy = malloc(b->nkey);
    if (!copy)
        return LSM_ENOMEM;
    memcpy(copy, b->key, b->nkey);
    out->kind = b->kind;
    out->key = copy;
    out->nkey = b->nkey;
    return LSM_OK;
}

int txn_reads_add_range(txn_read_set *rs, const lsm_bound *lo,
                        const lsm_bound *hi)
{
    if (rs->n_ranges == rs->ranges_cap) {
        size_t cap = rs->ranges_cap ? 2 * rs->ranges_cap : 4;
        txn_range *grown = realloc(rs->ranges, cap * sizeof *grown);
        if (!grown)
            return lsm_error(LSM_ENOMEM, "out of memory recording a scan");
        rs->ranges = grown;
        rs->ranges_cap = cap;
    }
    txn_range r;
    if (txn_copy_bound(lo, &r.lo) != LSM_OK) {
        return lsm_error(LSM_ENOMEM, "out of memory recording a scan");
    }
    if (txn_copy_bound(hi, &r.hi) != LSM_OK) {
        free((void *)r.lo.key);
        return lsm_error(LSM_ENOMEM, "out of memory recording a scan");
    }
    rs->ranges[rs->n_ranges++] = r;
    return LSM_OK;
}

iter *txn_reads_keys_iter(txn_read_set *rs, bool *oom)
{
    *oom = false;
    if (!rs->keys)
        return NULL;
    iter *it = memtable_iter_new(rs->keys);
    *oom = it == NULL;
    return it;
}
