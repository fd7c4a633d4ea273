/*
 * db_state.c: lsm_state_get, the plain owned snapshot behind dump, stats and
 * the tests; and lsm_manifest_read, the manifest's records in public form.
 *
 * It references the current version and lists the open iterators under
 * state_mu, then copies everything else without the lock. Memtable sizes are
 * read atomically, so the mutable memtable's figures are a consistent
 * instant of each counter, not of the whole memtable.
 */
#include "db/db_int.h"

#include "log/log_int.h"
#include "util/status_int.h"

#include <stdlib.h>
#include <string.h>

static void *copy_bytes(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    if (c && n)
        memcpy(c, p, n);
    return c;
}

/* Copies a key range into *first and *last (malloc'd, owned by the
 * lsm_state). */
static int copy_key_range(const uint8_t *first, size_t nfirst,
                          const uint8_t *last, size_t nlast, void **out_first,
                          size_t *out_nfirst, void **out_last,
                          size_t *out_nlast)
{
    *out_first = copy_bytes(first, nfirst);
    *out_nfirst = nfirst;
    *out_last = copy_bytes(last, nlast);
    *out_nlast = nlast;
    if (!*out_first || !*out_last)
        return lsm_error(LSM_ENOMEM, "out of memory taking the state");
    return LSM_OK;
}

/* Copies n tombstones into *out: one allocation holding the array and
 * then the keys (lsm_state_free frees it whole). */
int db_copy_range_tombs(const range_tomb *t, size_t n,
                        lsm_range_tombstone **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return LSM_OK;
    size_t bytes = n * sizeof **out;
    for (size_t i = 0; i < n; i++)
        bytes += t[i].nlo + t[i].nhi;
    lsm_range_tombstone *a = malloc(bytes);
    if (!a)
        return lsm_error(LSM_ENOMEM, "out of memory taking the state");
    uint8_t *p = (uint8_t *)(a + n);
    for (size_t i = 0; i < n; i++) {
        memcpy(p, t[i].lo, t[i].nlo);
        memcpy(p + t[i].nlo, t[i].hi, t[i].nhi);
        a[i] = (lsm_range_tombstone){p, t[i].nlo, p + t[i].nlo, t[i].nhi,
                                     t[i].seq};
        p += t[i].nlo + t[i].nhi;
    }
    *out = a;
    *nout = n;
    return LSM_OK;
}

/* The memtable's range tombstones, sorted, into *out. */
static int db_state_memtable_ranges(const memtable *mt, lsm_memtable_info *out)
{
    range_tomb_list l = {0};
    int rc = memtable_collect_ranges(mt, UINT64_MAX, &l);
    range_tomb_list_sort(&l);
    if (rc == LSM_OK)
        rc = db_copy_range_tombs(l.v, l.n, &out->range_tombstones,
                                 &out->n_range_tombstones);
    range_tomb_list_free(&l);
    return rc;
}

/* Fills *out, copying the memtable's key range (none when empty). */
static int db_state_memtable_info_fill(const memtable *mt,
                                       lsm_memtable_info *out)
{
    const uint8_t *first, *last;
    size_t nfirst, nlast;
    out->memtable_id = memtable_id(mt);
    out->num_keys = memtable_num_keys(mt);
    out->size_bytes = memtable_size_bytes(mt);
    int rc = db_state_memtable_ranges(mt, out);
    if (rc != LSM_OK)
        return rc;
    if (!memtable_first_key(mt, &first, &nfirst) ||
        !memtable_last_key(mt, &last, &nlast))
        return LSM_OK;
    return copy_key_range(first, nfirst, last, nlast, &out->first_key,
                          &out->nfirst_key, &out->last_key, &out->nlast_key);
}

static void db_state_memtable_info_free(lsm_memtable_info *m)
{
    free(m->first_key);
    free(m->last_key);
    free(m->range_tombstones);
}

static int db_state_sst_info_fill(const sst *t, lsm_sst_info *out)
{
    size_t nfirst, nlast;
    const uint8_t *first = sst_first_key(t, &nfirst);
    const uint8_t *last = sst_last_key(t, &nlast);
    out->sst_id = sst_id(t);
    out->file_size = sst_file_size(t);
    out->num_entries = sst_num_entries(t);
    out->num_blocks = sst_num_blocks(t);
    out->max_seq = sst_max_seq(t);
    sst_compression c;
    sst_compression_totals(t, &c);
    out->data_bytes = sst_compression_stored_bytes(t);
    out->raw_data_bytes = c.raw_bytes;
    out->lz4_blocks = c.blocks_of_kind[1];
    out->zstd_blocks = c.blocks_of_kind[2];
    size_t n;
    const range_tomb *r = sst_range_tombs(t, &n);
    int rc = db_copy_range_tombs(r, n, &out->range_tombstones,
                                 &out->n_range_tombstones);
    if (rc != LSM_OK)
        return rc;
    return copy_key_range(first, nfirst, last, nlast, &out->first_key,
                          &out->nfirst_key, &out->last_key, &out->nlast_key);
}

/* Fills a calloc'd array of n SST infos from ssts. */
static int db_state_sst_infos_fill(sst *const *ssts, size_t n,
                                   lsm_sst_info **out)
{
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out)
        return lsm_error(LSM_ENOMEM, "out of memory taking the state");
    int rc = LSM_OK;
    for (size_t i = 0; i < n && rc == LSM_OK; i++)
        rc = db_state_sst_info_fill(ssts[i], &(*out)[i]);
    return rc;
}

static void db_state_counters_copy(counters *c, lsm_counters *out)
{
#define COPY(field)                                                            \
    out->field = atomic_load_explicit(&c->field, memory_order_relaxed)
    COPY(puts);
    COPY(deletes);
    COPY(gets);
    COPY(scans);
    COPY(user_bytes_written);
    COPY(wal_bytes_written);
    COPY(wal_syncs);
    COPY(flush_bytes_written);
    COPY(compaction_bytes_written);
    COPY(memtables_frozen);
    COPY(flushes);
    COPY(compactions);
    COPY(block_reads);
    COPY(block_cache_hits);
    COPY(bloom_checks);
    COPY(bloom_negatives);
    COPY(sst_probes);
    COPY(write_stalls);
    COPY(stall_micros);
    COPY(txn_commits);
    COPY(txn_aborts);
    COPY(txn_conflicts_write);
    COPY(txn_conflicts_read);
    COPY(txn_conflicts_range);
    COPY(versions_dropped);
    COPY(versions_kept);
    COPY(memtable_bloom_negatives);
    COPY(prefix_checks);
    COPY(prefix_skips);
#undef COPY
}

/* The amplification figures (lsm.h) from the version's running byte total
 * and the counters: nothing is scanned. The bottom run is the last run
 * holding SSTs (the oldest tier), or, when no run does, the oldest L0 SST:
 * every L0 SST is a sorted run of its own. */
static void amplification_fill(const version *v, const lsm_counters *c,
                               lsm_amplification *a)
{
    memset(a, 0, sizeof *a);
    uint64_t sst_writes = c->flush_bytes_written + c->compaction_bytes_written;
    if (c->user_bytes_written > 0)
        a->write = (double)sst_writes / (double)c->user_bytes_written;
    a->live_sst_bytes = v->sst_bytes;
    a->read = v->n_l0;
    const sorted_run *bottom = NULL;
    for (size_t l = 0; l < v->n_levels; l++) {
        if (v->levels[l].n_ssts == 0)
            continue;
        a->read++;
        bottom = &v->levels[l];
    }
    if (bottom) {
        for (size_t i = 0; i < bottom->n_ssts; i++)
            a->bottom_sst_bytes += sst_file_size(bottom->ssts[i]);
    } else if (v->n_l0 > 0) {
        a->bottom_sst_bytes = sst_file_size(v->l0[v->n_l0 - 1]);
    }
    if (a->bottom_sst_bytes > 0)
        a->space = (double)a->live_sst_bytes / (double)a->bottom_sst_bytes;
}

/* Copies the open iterators (oldest first), what they pin and the SSTs
 * kept only for them, under state_mu. */
static int iters_fill(lsm_db *db, lsm_state *st)
{
    size_t n = db->n_iters;
    st->iters = calloc(n ? n : 1, sizeof *st->iters);
    if (!st->iters)
        return lsm_error(LSM_ENOMEM, "out of memory taking the state");
    st->n_iters = n;
    /* db->iters is newest first; the state lists them oldest first. */
    size_t i = n;
    int rc = LSM_OK;
    for (lsm_iter *it = db->iters; it && i > 0 && rc == LSM_OK;
         it = it->next_open) {
        i--;
        st->iters[i].iter_id = it->iter_id;
        st->iters[i].num_active =
            atomic_load_explicit(&it->num_active, memory_order_relaxed);
        rc = db_pins_fill_iter_locked(it, &st->iters[i]);
    }
    if (rc == LSM_OK)
        rc = db_pins_fill_kept_locked(db, st);
    return rc;
}

static int state_fill_from_version(const version *v, lsm_state *st)
{
    int rc = db_state_memtable_info_fill(v->mem, &st->memtable);
    if (rc != LSM_OK)
        return rc;
    st->immutables = calloc(v->n_imm ? v->n_imm : 1, sizeof *st->immutables);
    if (!st->immutables)
        return lsm_error(LSM_ENOMEM, "out of memory taking the state");
    st->n_immutables = v->n_imm;
    for (size_t i = 0; i < v->n_imm && rc == LSM_OK; i++)
        rc = db_state_memtable_info_fill(v->imm[i], &st->immutables[i]);
    st->pending_flushes = v->n_imm;

    st->n_l0 = v->n_l0;
    if (rc == LSM_OK)
        rc = db_state_sst_infos_fill(v->l0, v->n_l0, &st->l0);
    if (rc != LSM_OK)
        return rc;
    st->levels = calloc(v->n_levels ? v->n_levels : 1, sizeof *st->levels);
    if (!st->levels)
        return lsm_error(LSM_ENOMEM, "out of memory taking the state");
    st->n_levels = v->n_levels;
    for (size_t l = 0; l < v->n_levels && rc == LSM_OK; l++) {
        st->levels[l].level = (int)v->levels[l].run_id;
        st->levels[l].n_ssts = v->levels[l].n_ssts;
        rc = db_state_sst_infos_fill(v->levels[l].ssts, v->levels[l].n_ssts,
                                     &st->levels[l].ssts);
    }
    return rc;
}

int lsm_state_get(lsm_db *db, lsm_state **out)
{
    lsm_error_clear();
    if (!db || !out)
        return lsm_error(LSM_EINVAL, "lsm_state_get needs a handle and "
                                     "somewhere to put the state");
    *out = NULL;
    lsm_state *st = calloc(1, sizeof *st);
    if (!st)
        return lsm_error(LSM_ENOMEM, "out of memory taking the state");
    db_state_counters_copy(&db->ctrs, &st->counters);
    db_stats_snapshot level_stats;
    pthread_mutex_lock(&db->state_mu);
    version *v = db->current;
    version_ref(v);
    int rc = db_level_stats_take_locked(db, &level_stats);
    if (rc == LSM_OK)
        rc = iters_fill(db, st);
    pthread_mutex_unlock(&db->state_mu);
    if (rc == LSM_OK)
        rc = state_fill_from_version(v, st);
    if (rc == LSM_OK)
        rc = db_level_stats_fill(db, &level_stats, v, st);
    else
        db_stats_snapshot_free(&level_stats);
    if (rc == LSM_OK)
        rc = db_pins_mark_in_tree(v, st);
    if (rc == LSM_OK)
        amplification_fill(v, &st->counters, &st->amplification);
    if (rc == LSM_OK)
        rc = db_snap_fill_state(db, st);
    /* Never sweeps (db_pins_release_version): this may run inside an event
     * callback, which a deletion event must not re-enter. */
    version_unref(v);
    st->sched = db->opt.sched;
    st->compaction = db->opt.compaction;
    if (rc != LSM_OK) {
        lsm_state_free(st);
        return rc;
    }
    *out = st;
    return LSM_OK;
}

static void db_state_sst_infos_free(lsm_sst_info *infos, size_t n)
{
    if (!infos)
        return;
    for (size_t i = 0; i < n; i++) {
        free(infos[i].first_key);
        free(infos[i].last_key);
        free(infos[i].range_tombstones);
    }
    free(infos);
}

void lsm_state_free(lsm_state *st)
{
    if (!st)
        return;
    db_state_memtable_info_free(&st->memtable);
    for (size_t i = 0; st->immutables && i < st->n_immutables; i++)
        db_state_memtable_info_free(&st->immutables[i]);
    free(st->immutables);
    db_level_stats_state_free(st);
    db_state_sst_infos_free(st->l0, st->n_l0);
    if (st->levels)
        for (size_t l = 0; l < st->n_levels; l++)
            db_state_sst_infos_free(st->levels[l].ssts, st->levels[l].n_ssts);
    free(st->levels);
    if (st->iters)
        for (size_t i = 0; i < st->n_iters; i++) {
            free(st->iters[i].memtable_ids);
            free(st->iters[i].ssts);
        }
    free(st->iters);
    free(st->pinned_only);
    free(st->read_points);
    free(st);
}

/* --- reading the manifest ------------------------------------------------- */

typedef struct manifest_list {
    lsm_manifest_record *recs;
    size_t n, cap;
} manifest_list;

/* Where a public record's arrays go: one allocation, carved in order
 * (ids, SSTs, memtables, key bytes), so lsm_manifest_free frees one
 * pointer per record. */
typedef struct record_arena {
    uint8_t *base, *next;
} record_arena;

static void *arena_take(record_arena *a, size_t n)
{
    void *p = a->next;
    a->next += n;
    return p;
}

static size_t run_key_bytes(const manifest_sst *ssts, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += ssts[i].nfirst_key + ssts[i].nlast_key;
    return bytes;
}

/* The SSTs and key bytes a record names. */
static void record_size(const manifest_record *rec, size_t *n_ssts,
                        size_t *key_bytes)
{
    const manifest_tree *t = rec->snapshot;
    *n_ssts = 0;
    *key_bytes = 0;
    if (rec->kind == MANIFEST_FLUSH || rec->kind == MANIFEST_COMPACTION) {
        *n_ssts = rec->kind == MANIFEST_FLUSH ? 1 : rec->n_added;
        *key_bytes = run_key_bytes(rec->ssts, *n_ssts);
    } else if (rec->kind == MANIFEST_SNAPSHOT) {
        *n_ssts = t->l0.n;
        *key_bytes = run_key_bytes(t->l0.ssts, t->l0.n);
        for (size_t i = 0; i < t->n_runs; i++) {
            *n_ssts += t->runs[i].n;
            *key_bytes += run_key_bytes(t->runs[i].ssts, t->runs[i].n);
        }
    }
}

static void copy_sst(record_arena *a, const manifest_sst *m, int level,
                     uint64_t tier_id, lsm_manifest_sst *out)
{
    void *first = arena_take(a, m->nfirst_key);
    void *last = arena_take(a, m->nlast_key);
    memcpy(first, m->first_key, m->nfirst_key);
    memcpy(last, m->last_key, m->nlast_key);
    *out = (lsm_manifest_sst){.sst_id = m->id,
                              .level = level,
                              .tier_id = tier_id,
                              .file_size = m->file_size,
                              .first_key = first,
                              .nfirst_key = m->nfirst_key,
                              .last_key = last,
                              .nlast_key = m->nlast_key};
}

/* A snapshot's tree into out's arrays. */
static void copy_snapshot(record_arena *a, const manifest_tree *t,
                          lsm_manifest_record *out)
{
    for (size_t i = 0; i < t->l0.n; i++)
        copy_sst(a, &t->l0.ssts[i], 0, 0, &out->ssts[out->n_ssts++]);
    for (size_t r = 0; r < t->n_runs; r++)
        for (size_t i = 0; i < t->runs[r].n; i++)
            copy_sst(a, &t->runs[r].ssts[i], t->tiered ? -1 : (int)(r + 1),
                     t->tiered ? t->runs[r].run_id : 0,
                     &out->ssts[out->n_ssts++]);
    for (size_t i = 0; i < t->n_mems; i++)
        out->memtables[i] =
            (lsm_manifest_memtable){.memtable_id = t->mems[i].id,
                                    .has_wal = t->mems[i].has_wal,
                                    .frozen = t->mems[i].frozen,
                                    .wal_bytes = t->mems[i].wal_bytes,
                                    .last_seq = t->mems[i].last_seq};
    out->n_memtables = t->n_mems;
}

/* The arrays of one public record; LSM_ENOMEM. */
static int copy_arrays(const manifest_record *rec, lsm_manifest_record *out)
{
    size_t n_ssts, key_bytes;
    size_t n_mems = rec->kind == MANIFEST_SNAPSHOT ? rec->snapshot->n_mems : 0;
    record_size(rec, &n_ssts, &key_bytes);
    size_t n_ids = rec->n_removed + rec->n_added;
    if (rec->kind == MANIFEST_SNAPSHOT) { /* an empty tree's too */
        memcpy(out->identity, rec->snapshot->identity, LSM_IDENTITY_BYTES);
        out->tiered = rec->snapshot->tiered;
    }
    if (n_ids + n_ssts + n_mems == 0)
        return LSM_OK;
    record_arena a;
    a.base =
        malloc(n_ids * sizeof(uint64_t) + n_ssts * sizeof(lsm_manifest_sst) +
               n_mems * sizeof(lsm_manifest_memtable) + key_bytes);
    if (!a.base)
        return lsm_error(LSM_ENOMEM, "out of memory reading the manifest");
    a.next = a.base;
    out->removed = arena_take(&a, n_ids * sizeof(uint64_t));
    out->added = out->removed + rec->n_removed;
    if (rec->n_removed)
        memcpy(out->removed, rec->removed, rec->n_removed * sizeof(uint64_t));
    if (rec->n_added)
        memcpy(out->added, rec->added, rec->n_added * sizeof(uint64_t));
    out->ssts = arena_take(&a, n_ssts * sizeof(lsm_manifest_sst));
    out->memtables = arena_take(&a, n_mems * sizeof(lsm_manifest_memtable));
    if (rec->kind == MANIFEST_SNAPSHOT) {
        copy_snapshot(&a, rec->snapshot, out);
        return LSM_OK;
    }
    bool tiered = rec->kind == MANIFEST_FLUSH ? rec->to_tier : rec->level == 0;
    int level = rec->kind == MANIFEST_FLUSH ? 0 : (int)rec->level;
    uint64_t tier_id = rec->kind == MANIFEST_FLUSH
                           ? rec->id
                           : (rec->n_added ? rec->added[0] : 0);
    for (size_t i = 0; i < n_ssts; i++)
        copy_sst(&a, &rec->ssts[i], tiered ? -1 : level, tiered ? tier_id : 0,
                 &out->ssts[i]);
    out->n_ssts = n_ssts;
    return LSM_OK;
}

/* log_scan's callback: decodes one record into the public form. */
static int db_state_manifest_list_add(void *ctx, uint64_t offset,
                                      const uint8_t *payload, size_t n)
{
    manifest_list *l = ctx;
    manifest_record rec;
    int rc = manifest_decode(payload, n, &rec);
    if (rc == LSM_OK && l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        lsm_manifest_record *grown = realloc(l->recs, cap * sizeof *grown);
        if (grown) {
            l->recs = grown;
            l->cap = cap;
        } else {
            rc = lsm_error(LSM_ENOMEM, "out of memory reading the manifest");
        }
    }
    if (rc == LSM_OK) {
        lsm_manifest_record *out = &l->recs[l->n];
        memset(out, 0, sizeof *out);
        out->offset = offset;
        out->kind = (lsm_manifest_kind)rec.kind;
        out->id = rec.id;
        out->has_wal = rec.has_wal;
        out->froze = rec.froze;
        out->frozen_id = rec.frozen_id;
        out->wal_bytes = rec.wal_bytes;
        out->last_seq = rec.kind == MANIFEST_SNAPSHOT
                            ? rec.snapshot->flushed_seq
                            : rec.last_seq;
        out->level = (int)rec.level;
        out->n_removed = rec.n_removed;
        out->n_added = rec.n_added;
        out->trivial_move = manifest_record_is_move(&rec);
        rc = copy_arrays(&rec, out);
        if (rc == LSM_OK)
            l->n++;
    }
    manifest_record_release(&rec);
    return rc;
}

/* Scans a MANIFEST's bytes (data, size) into *out and *n. On damage
 * (LSM_ECORRUPT) with keep_damaged, the records before it are kept;
 * otherwise an error leaves nothing. *valid_end: where whole records end
 * (or the damage starts). */
static int manifest_list_scan(const char *path, const uint8_t *data,
                              uint64_t size, bool keep_damaged,
                              lsm_manifest_record **out, size_t *n,
                              uint64_t *valid_end)
{
    manifest_list l = {0};
    int rc =
        log_scan(path, data, size, db_state_manifest_list_add, &l, valid_end);
    if (rc != LSM_OK && !(keep_damaged && rc == LSM_ECORRUPT)) {
        lsm_manifest_free(l.recs, l.n);
        return rc;
    }
    *out = l.recs;
    *n = l.n;
    return rc;
}

int lsm_manifest_read(lsm_db *db, lsm_manifest_record **out, size_t *n)
{
    char path[DB_PATH_BYTES];
    uint8_t *data = NULL;
    uint64_t size = 0, valid_end = 0;
    lsm_error_clear();
    if (!db || !out || !n)
        return lsm_error(LSM_EINVAL, "lsm_manifest_read needs a handle and "
                                     "somewhere to put the records");
    *out = NULL;
    *n = 0;
    int rc = db_path(db, "MANIFEST", path);
    if (rc != LSM_OK)
        return rc;
    /* Under manifest_mu no append is half-way through. */
    pthread_mutex_lock(&db->manifest_mu);
    rc = log_read_file(db->env, path, &data, &size);
    pthread_mutex_unlock(&db->manifest_mu);
    if (rc == LSM_OK)
        rc = manifest_list_scan(path, data, size, false, out, n, &valid_end);
    free(data);
    return rc;
}

int lsm_manifest_read_file(const char *path, lsm_manifest_record **out,
                           size_t *n, lsm_log_extent *extent)
{
    uint8_t *data = NULL;
    uint64_t size = 0, valid_end = 0;
    lsm_error_clear();
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!path || !out || !n)
        return lsm_error(LSM_EINVAL, "lsm_manifest_read_file needs a path "
                                     "and somewhere to put the records");
    int rc = log_read_file(env_posix(), path, &data, &size);
    /* Damage keeps what came before it: the inspector shows it. */
    if (rc == LSM_OK)
        rc = manifest_list_scan(path, data, size, true, out, n, &valid_end);
    free(data);
    if (extent)
        *extent =
            (lsm_log_extent){.file_bytes = size, .valid_bytes = valid_end};
    return rc;
}

void lsm_manifest_free(lsm_manifest_record *records, size_t n)
{
    if (!records)
        return;
    for (size_t i = 0; i < n; i++)
        free(records[i].removed);
    free(records);
}
