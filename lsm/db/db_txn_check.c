/*
 * db_txn_check.c: commit-time validation of an optimistic transaction
 * (db_txn_int.h, txn_validate_locked).
 *
 * The question for every key (or range) checked: is there a version of it
 * with a seq above the transaction's read point? The check reads the tree
 * itself, at no read point, so it sees writes of other transactions and of
 * plain lsm_put, lsm_delete and lsm_write alike. With the sync option a
 * write may be in the memtable before an fsync makes it visible; it counts
 * as committed here (it will be acknowledged unless the fsync fails, and a
 * failed fsync is latched).
 *
 * Only sources that can hold such a version are read: a memtable or SST
 * whose newest seq is at or below the read point is skipped without I/O,
 * so a transaction that began recently reads little more than the
 * memtables. For one key, the sources are searched newest first (as a get
 * searches them: a key's versions are newer in a newer source), and the
 * first source that holds the key decides, its newest version being the
 * key's newest. For a range, every source left is merged and walked from
 * the range's start to its end: the first entry above the read point is
 * the smallest key written in the range, and (versions of a key come
 * newest first) its newest version.
 *
 * Range tombstones (lsm_delete_range) count as writes of every key they
 * cover: a key is written after the read point when a version of it or a
 * range tombstone over it is newer than the read point (the conflict's
 * seq is the newer of the two), and a scanned range is written when such a
 * tombstone overlaps it (the conflict then names the first key of the
 * overlap).
 *
 * The caller holds write_mu, so the mutable memtable takes no write while
 * it is read and nothing can commit between this check and the commit's
 * own write.
 */
#include "db/db_txn_int.h"

#include "util/status_int.h"

#include <stdlib.h>
#include <string.h>

/* A conflict found: the kind, the key (copied into the info) and the seq. */
static int txn_conflict(lsm_commit_info *info, lsm_conflict_kind kind,
                        const entry *newest)
{
    void *key = malloc(newest->nkey);
    if (!key)
        return lsm_error(LSM_ENOMEM, "out of memory reporting a conflict");
    memcpy(key, newest->key, newest->nkey);
    info->conflict = kind;
    info->key = key;
    info->nkey = newest->nkey;
    info->conflict_seq = newest->seq;
    return LSM_ECONFLICT;
}

/* --- one key ------------------------------------------------------------- */

/* What the search of one key found so far. */
typedef struct key_probe {
    uint64_t read_seq;
    bool decided;  /* a source held the key: stop */
    bool conflict; /* ... and its newest version is above read_seq */
    uint64_t seq;  /* that version's seq */
} key_probe;

static void probe_memtable(memtable *mt, const uint8_t *key, size_t nkey,
                           key_probe *p)
{
    entry e;
    if (p->decided || memtable_max_seq(mt) <= p->read_seq ||
        !memtable_get(mt, key, nkey, &e))
        return;
    p->decided = true;
    p->conflict = e.seq > p->read_seq;
    p->seq = e.seq;
}

static int probe_sst(sst *t, const uint8_t *key, size_t nkey, key_probe *p)
{
    if (p->decided || sst_max_seq(t) <= p->read_seq ||
        !sst_key_in_range(t, key, nkey))
        return LSM_OK;
    bool found = false;
    entry e;
    void *owned = NULL;
    int rc = sst_get(t, key, nkey, UINT64_MAX, &found, &e, &owned);
    if (rc != LSM_OK || !found)
        return rc;
    p->decided = true;
    p->conflict = e.seq > p->read_seq;
    p->seq = e.seq;
    free(owned);
    return LSM_OK;
}

/* The newest range tombstone of v over key that is above read_seq, 0 for
 * none: only sources with something newer than read_seq can hold one. */
static uint64_t newest_range_after(version *v, uint64_t read_seq,
                                   const uint8_t *key, size_t nkey)
{
    uint64_t best = 0, s;
    for (size_t i = 0; i <= v->n_imm; i++) {
        memtable *mt = i == 0 ? v->mem : v->imm[i - 1];
        if (memtable_max_seq(mt) > read_seq && memtable_num_ranges(mt) &&
            (s = memtable_range_covering(mt, key, nkey, UINT64_MAX)) > best)
            best = s;
    }
    /* L0 SSTs may overlap; in a level or tier only the one SST whose
     * range may hold key can hold a tombstone over it (SST key ranges
     * cover their tombstones). */
    for (size_t i = 0; i < v->n_l0 + v->n_levels; i++) {
        sst *t;
        if (i < v->n_l0) {
            t = v->l0[i];
        } else {
            const sorted_run *run = &v->levels[i - v->n_l0];
            size_t j = sst_find_by_last_key(run->ssts, run->n_ssts, key, nkey);
            if (j == run->n_ssts)
                continue;
            t = run->ssts[j];
        }
        if (sst_max_seq(t) > read_seq && sst_key_in_range(t, key, nkey) &&
            (s = sst_range_covering(t, key, nkey, UINT64_MAX)) > best)
            best = s;
    }
    return best > read_seq ? best : 0;
}

/* Whether v holds a version of key above read_seq, or a range tombstone
 * over it: *seq is then the newest one's. */
static int newest_after(version *v, uint64_t read_seq, const uint8_t *key,
                        size_t nkey, bool *conflict, uint64_t *seq)
{
    uint64_t range_seq = newest_range_after(v, read_seq, key, nkey);
    key_probe p = {.read_seq = read_seq};
    probe_memtable(v->mem, key, nkey, &p);
    for (size_t i = 0; i < v->n_imm; i++)
        probe_memtable(v->imm[i], key, nkey, &p);
    int rc = LSM_OK;
    for (size_t i = 0; i < v->n_l0 && rc == LSM_OK; i++)
        rc = probe_sst(v->l0[i], key, nkey, &p);
    for (size_t l = 0; l < v->n_levels && rc == LSM_OK; l++) {
        const sorted_run *run = &v->levels[l];
        size_t i = sst_find_by_last_key(run->ssts, run->n_ssts, key, nkey);
        if (i < run->n_ssts)
            rc = probe_sst(run->ssts[i], key, nkey, &p);
    }
    *conflict = p.conflict || range_seq;
    *seq = p.seq > range_seq ? p.seq : range_seq;
    return rc;
}

/* Checks every key keys hands out (one entry per key, in key order),
 * reporting the first written after read_seq as a conflict of kind. keys
 * is destroyed. */
static int check_keys(version *v, uint64_t read_seq, iter *keys,
                      lsm_conflict_kind kind, lsm_commit_info *info)
{
    int rc = iter_seek(keys, NULL, 0);
    while (rc == LSM_OK && iter_valid(keys)) {
        entry e;
        iter_entry(keys, &e);
        bool conflict = false;
        uint64_t seq = 0;
        rc = newest_after(v, read_seq, e.key, e.nkey, &conflict, &seq);
        if (rc == LSM_OK && conflict) {
            e.seq = seq;
            rc = txn_conflict(info, kind, &e);
        } else if (rc == LSM_OK) {
            rc = iter_next(keys);
        }
    }
    iter_destroy(keys);
    return rc;
}

/* --- ranges -------------------------------------------------------------- */

/* Whether key lies below r's lower bound / above its upper bound. */
static bool below_range(const txn_range *r, const uint8_t *key, size_t nkey)
{
    if (r->lo.kind == LSM_BOUND_UNBOUNDED)
        return false;
    int c = user_key_cmp(key, nkey, r->lo.key, r->lo.nkey);
    return c < 0 || (c == 0 && r->lo.kind == LSM_BOUND_EXCLUDED);
}

static bool above_range(const txn_range *r, const uint8_t *key, size_t nkey)
{
    if (r->hi.kind == LSM_BOUND_UNBOUNDED)
        return false;
    int c = user_key_cmp(key, nkey, r->hi.key, r->hi.nkey);
    return c > 0 || (c == 0 && r->hi.kind == LSM_BOUND_EXCLUDED);
}

/* Whether a source whose keys span [first, last] can hold keys of r. */
static bool span_meets_range(const txn_range *r, const uint8_t *first,
                             size_t nfirst, const uint8_t *last, size_t nlast)
{
    return !below_range(r, last, nlast) && !above_range(r, first, nfirst);
}

/* Adds an iterator over mt when it may hold versions of r above read_seq. */
static void add_memtable_source(iter ***its, size_t *n, memtable *mt,
                                const txn_range *r, uint64_t read_seq,
                                bool *oom)
{
    const uint8_t *first, *last;
    size_t nfirst, nlast;
    if (memtable_max_seq(mt) <= read_seq ||
        !memtable_first_key(mt, &first, &nfirst) ||
        !memtable_last_key(mt, &last, &nlast) ||
        !span_meets_range(r, first, nfirst, last, nlast))
        return;
    iter *it = memtable_iter_new(mt);
    if (!it)
        *oom = true;
    else
        (*its)[(*n)++] = it;
}

static void add_sst_source(iter ***its, size_t *n, sst *t, const txn_range *r,
                           uint64_t read_seq, bool *oom)
{
    size_t nfirst, nlast;
    const uint8_t *first = sst_first_key(t, &nfirst);
    const uint8_t *last = sst_last_key(t, &nlast);
    if (sst_max_seq(t) <= read_seq ||
        !span_meets_range(r, first, nfirst, last, nlast))
        return;
    iter *it = sst_iter_new(t);
    if (!it)
        *oom = true;
    else
        (*its)[(*n)++] = it;
}

/* Every source of v that may hold a version of r above read_seq, merged.
 * *out is NULL when there is none. */
static int range_sources(version *v, const txn_range *r, uint64_t read_seq,
                         iter **out)
{
    *out = NULL;
    size_t cap = 1 + v->n_imm + v->n_l0;
    for (size_t l = 0; l < v->n_levels; l++)
        cap += v->levels[l].n_ssts;
    iter **its = calloc(cap, sizeof *its);
    if (!its)
        return lsm_error(LSM_ENOMEM, "out of memory validating a commit");
    size_t n = 0;
    bool oom = false;
    add_memtable_source(&its, &n, v->mem, r, read_seq, &oom);
    for (size_t i = 0; i < v->n_imm; i++)
        add_memtable_source(&its, &n, v->imm[i], r, read_seq, &oom);
    for (size_t i = 0; i < v->n_l0; i++)
        add_sst_source(&its, &n, v->l0[i], r, read_seq, &oom);
    for (size_t l = 0; l < v->n_levels; l++)
        for (size_t i = 0; i < v->levels[l].n_ssts; i++)
            add_sst_source(&its, &n, v->levels[l].ssts[i], r, read_seq, &oom);
    iter *merged = NULL;
    if (!oom && n > 0 && !(merged = merge_iter_new(its, n)))
        oom = true;
    else if (oom)
        for (size_t i = 0; i < n; i++)
            iter_destroy(its[i]);
    free(its);
    if (oom)
        return lsm_error(LSM_ENOMEM, "out of memory validating a commit");
    *out = merged;
    return LSM_OK;
}

/* The smallest key of r with a version above read_seq, as a conflict. */
static int check_range(version *v, uint64_t read_seq, const txn_range *r,
                       lsm_commit_info *info)
{
    iter *it;
    int rc = range_sources(v, r, read_seq, &it);
    if (rc != LSM_OK || !it)
        return rc;
    rc = iter_seek(it, r->lo.kind == LSM_BOUND_UNBOUNDED ? NULL : r->lo.key,
                   r->lo.nkey);
    while (rc == LSM_OK && iter_valid(it)) {
        entry e;
        iter_entry(it, &e);
        if (above_range(r, e.key, e.nkey))
            break;
        if (e.seq > read_seq && !below_range(r, e.key, e.nkey)) {
            rc = txn_conflict(info, LSM_CONFLICT_RANGE, &e);
            break;
        }
        rc = iter_next(it);
    }
    iter_destroy(it);
    return rc;
}

/* The first key both in r and in the tombstone t, into *out (a copy);
 * false when they do not meet. */
static bool range_meets_tomb(const txn_range *r, const range_tomb *t,
                             byte_buf *out)
{
    out->n_bytes = 0;
    if (!below_range(r, t->lo, t->nlo)) {
        if (byte_buf_append(out, t->lo, t->nlo) != LSM_OK)
            return false;
    } else {
        if (byte_buf_append(out, r->lo.key, r->lo.nkey) != LSM_OK)
            return false;
        /* Above an excluded bound, the first key is the bound plus 0x00. */
        if (r->lo.kind == LSM_BOUND_EXCLUDED &&
            byte_buf_append(out, (const uint8_t *)"", 1) != LSM_OK)
            return false;
    }
    return user_key_cmp(out->data, out->n_bytes, t->hi, t->nhi) < 0 &&
           !above_range(r, out->data, out->n_bytes);
}

/* Whether a tombstone of t[0..n) above read_seq meets r: its first key
 * in r goes to *key. */
static bool tombs_meet_range(const range_tomb *t, size_t n, uint64_t read_seq,
                             const txn_range *r, byte_buf *key)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].seq > read_seq && range_meets_tomb(r, &t[i], key))
            return true;
    return false;
}

/* A range tombstone above read_seq that meets r, as a conflict on the
 * first key they share (its seq: the newest write of that key). */
static int check_range_tombs(version *v, uint64_t read_seq, const txn_range *r,
                             lsm_commit_info *info)
{
    byte_buf key = {0};
    bool met = false;
    int rc = LSM_OK;
    for (size_t i = 0; i <= v->n_imm && !met && rc == LSM_OK; i++) {
        memtable *mt = i == 0 ? v->mem : v->imm[i - 1];
        if (memtable_max_seq(mt) <= read_seq || !memtable_num_ranges(mt))
            continue;
        range_tomb_list l = {0};
        rc = memtable_collect_ranges(mt, UINT64_MAX, &l);
        met = rc == LSM_OK && tombs_meet_range(l.v, l.n, read_seq, r, &key);
        range_tomb_list_free(&l);
    }
    for (size_t i = 0; i < v->n_l0 + v->n_levels && !met && rc == LSM_OK; i++) {
        const sorted_run *run = i < v->n_l0 ? NULL : &v->levels[i - v->n_l0];
        size_t n = run ? run->n_ssts : 1;
        for (size_t j = 0; j < n && !met; j++) {
            sst *t = run ? run->ssts[j] : v->l0[i];
            size_t nt;
            const range_tomb *tombs = sst_range_tombs(t, &nt);
            met = sst_max_seq(t) > read_seq &&
                  tombs_meet_range(tombs, nt, read_seq, r, &key);
        }
    }
    if (met && rc == LSM_OK) {
        bool conflict = false;
        entry e = {.key = key.data, .nkey = key.n_bytes};
        rc =
            newest_after(v, read_seq, key.data, key.n_bytes, &conflict, &e.seq);
        if (rc == LSM_OK)
            rc = txn_conflict(info, LSM_CONFLICT_RANGE, &e);
    }
    byte_buf_free(&key);
    return rc;
}

/* --- the whole check ------------------------------------------------------ */

static int check_all(version *v, lsm_txn *t, lsm_commit_info *info)
{
    uint64_t read_seq = t->snap.seq;
    iter *written = txn_writes_iter(&t->writes);
    if (!written)
        return lsm_error(LSM_ENOMEM, "out of memory validating a commit");
    int rc = check_keys(v, read_seq, written, LSM_CONFLICT_WRITE, info);
    if (rc != LSM_OK || t->snap.isolation != LSM_ISOLATION_SERIALIZABLE)
        return rc;
    bool oom;
    iter *read = txn_reads_keys_iter(&t->reads, &oom);
    if (oom)
        return lsm_error(LSM_ENOMEM, "out of memory validating a commit");
    if (read)
        rc = check_keys(v, read_seq, read, LSM_CONFLICT_READ, info);
    for (size_t i = 0; i < t->reads.n_ranges && rc == LSM_OK; i++)
        rc = check_range(v, read_seq, &t->reads.ranges[i], info);
    for (size_t i = 0; i < t->reads.n_ranges && rc == LSM_OK; i++)
        rc = check_range_tombs(v, read_seq, &t->reads.ranges[i], info);
    return rc;
}

int txn_validate_locked(lsm_db *db, lsm_txn *t, lsm_commit_info *info)
{
    /* write_mu is held: only flushes and compactions change the version
     * meanwhile, and they move versions, never add or drop one above the
     * read point (the transaction's snapshot holds the watermark). */
    version *v = db_ref_current(db);
    int rc = check_all(v, t, info);
    db_pins_release_version(db, v);
    return rc;
}
