/*
 * db.c: opening and closing a database, the write path, freezing memtables,
 * flushing them to L0, full compaction, and the background flush thread.
 *
 * Write path: a put takes write_mu, gives the entry the next sequence number
 * and adds it to the mutable memtable. When the memtable reaches
 * target_sst_size it is frozen: a new memtable takes its place and it joins
 * the immutable list. When more than num_memtable_limit memtables are in
 * memory, the oldest immutable one is flushed to a new L0 SST with the same
 * id: synchronously in inline mode (inside the put that crossed the limit),
 * by the flush thread in threads mode.
 *
 * A flush or compaction writes and fsyncs its SSTs, fsyncs the directory,
 * appends its manifest record, and only then publishes a new version. Files
 * it made obsolete are deleted when the last reader lets go of them.
 *
 * Errors of work done on behalf of a write (a flush it triggered, the flush
 * thread) are latched in bg_error: the write that triggered them already
 * succeeded, and every later write returns the error instead.
 */
#include "db_int.h"

#include "status_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_PATH_BYTES 4096

/* --- small helpers -------------------------------------------------------- */

void lsm_options_init(lsm_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->target_sst_size = 2u * 1024u * 1024u;
    opt->block_size = 4096;
    opt->num_memtable_limit = 3;
    opt->block_cache_bytes = 8u * 1024u * 1024u;
    opt->bloom_bits_per_key = 10;
    opt->sched = LSM_SCHED_INLINE;
    opt->compaction = LSM_COMPACTION_LEVELED;
    opt->max_levels = 4;
}

void lsm_free(void *p)
{
    free(p);
}

/* Writes "<dir>/<name>" into buf. */
static int db_path(const lsm_db *db, const char *name, char *buf)
{
    int n = snprintf(buf, DB_PATH_BYTES, "%s/%s", db->dir, name);
    if (n < 0 || n >= DB_PATH_BYTES)
        return lsm_error(LSM_EINVAL, "path too long: %s/%s", db->dir, name);
    return LSM_OK;
}

static int db_sst_path(const lsm_db *db, uint64_t sst_id, char *buf)
{
    char name[32];
    snprintf(name, sizeof name, "%" PRIu64 ".sst", sst_id);
    return db_path(db, name, buf);
}

/* How many levels below L0 a strategy has (mini-lsm's layout). Tiered will
 * keep its tiers there once tiered compaction exists; until then it uses one
 * level like NONE so that full compaction has somewhere to put its output. */
static size_t levels_for(const lsm_options *opt)
{
    switch (opt->compaction) {
    case LSM_COMPACTION_SIMPLE:
    case LSM_COMPACTION_LEVELED:
        return opt->max_levels;
    default:
        return 1;
    }
}

static void db_emit(lsm_db *db, const lsm_event *ev)
{
    if (db->opt.event_cb)
        db->opt.event_cb(db->opt.event_ctx, ev);
}

version *db_ref_current(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    version *v = db->current;
    version_ref(v);
    pthread_mutex_unlock(&db->state_mu);
    return v;
}

/* Publishes nv as the current version, taking over the caller's reference.
 * Caller holds state_mu, and must have built nv from db->current under that
 * same hold: otherwise a change published in between (a freeze racing a
 * flush in threads mode) would be lost. Returns the old version, which the
 * caller unrefs after unlocking. */
static version *db_swap_locked(lsm_db *db, version *nv)
{
    version *old = db->current;
    db->current = nv;
    pthread_cond_broadcast(&db->state_cv);
    return old;
}

static uint64_t db_take_id(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    uint64_t id = db->next_id++;
    pthread_mutex_unlock(&db->state_mu);
    return id;
}

int db_check_bg_error(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    int rc = db->bg_error;
    if (rc != LSM_OK)
        lsm_error_set_message(db->bg_message);
    pthread_mutex_unlock(&db->state_mu);
    return rc;
}

/* Latches rc (the first error wins) and tells the event callback. */
static void db_latch_error(lsm_db *db, int rc)
{
    char message[DB_BG_MESSAGE_BYTES];
    snprintf(message, sizeof message, "%s", lsm_errmsg());
    pthread_mutex_lock(&db->state_mu);
    bool first = db->bg_error == LSM_OK;
    if (first) {
        db->bg_error = rc;
        memcpy(db->bg_message, message, sizeof message);
    }
    pthread_mutex_unlock(&db->state_mu);
    if (first) {
        lsm_event ev = {
            .type = LSM_EVENT_BACKGROUND_ERROR, .rc = rc, .message = message};
        db_emit(db, &ev);
    }
}

static int db_manifest_append(lsm_db *db, const manifest_record *rec)
{
    pthread_mutex_lock(&db->manifest_mu);
    int rc = manifest_append(db->manifest, rec);
    pthread_mutex_unlock(&db->manifest_mu);
    return rc;
}

/* --- freezing ------------------------------------------------------------- */

/* Makes the mutable memtable the newest immutable one and installs a fresh
 * memtable. Caller holds write_mu. An empty memtable is left alone. */
static int db_freeze_locked(lsm_db *db)
{
    version *v = db_ref_current(db);
    memtable *old = v->mem;
    lsm_event ev = {.type = LSM_EVENT_MEMTABLE_FROZEN,
                    .memtable_id = memtable_id(old),
                    .num_entries = memtable_num_keys(old),
                    .size_bytes = memtable_size_bytes(old)};
    bool empty = memtable_num_keys(old) == 0;
    version_unref(v);
    if (empty)
        return LSM_OK;

    memtable *fresh = NULL;
    version *nv = NULL;
    uint64_t id = db_take_id(db);
    int rc = memtable_create(id, &fresh);
    if (rc != LSM_OK)
        goto out;
    manifest_record rec = {.kind = MANIFEST_NEW_MEMTABLE, .id = id};
    rc = db_manifest_append(db, &rec);
    if (rc != LSM_OK)
        goto out;

    pthread_mutex_lock(&db->state_mu);
    nv = version_copy(db->current);
    if (!nv || version_push_imm(nv, nv->mem) != LSM_OK) {
        pthread_mutex_unlock(&db->state_mu);
        rc = lsm_error(LSM_ENOMEM, "out of memory freezing a memtable");
        goto out;
    }
    nv->mem = fresh; /* the copy's reference on old moved into imm */
    fresh = NULL;
    version *prev = db_swap_locked(db, nv);
    nv = NULL;
    pthread_mutex_unlock(&db->state_mu);
    version_unref(prev);

    COUNTER_ADD(&db->ctrs, memtables_frozen, 1);
    ev.new_memtable_id = id;
    db_emit(db, &ev);
out:
    memtable_unref(fresh);
    version_unref(nv);
    return rc;
}

/* --- flushing ------------------------------------------------------------- */

/* Writes the newest version of every key of mt into a new SST named after
 * the memtable and opens it. Older versions are dropped: nothing reads them
 * until snapshots exist. Tombstones are kept: they hide older SSTs' data.
 * *out is NULL for an empty memtable. */
static int db_write_l0_sst(lsm_db *db, memtable *mt, sst **out,
                           sst_summary *summary)
{
    char path[DB_PATH_BYTES];
    sst_builder *b = NULL;
    uint64_t id = memtable_id(mt);
    *out = NULL;
    if (memtable_num_keys(mt) == 0)
        return LSM_OK;
    int rc = db_sst_path(db, id, path);
    if (rc != LSM_OK)
        return rc;
    sst_builder_options bopt = {.block_size = db->opt.block_size,
                                .bloom_bits_per_key =
                                    db->opt.bloom_bits_per_key};
    rc = sst_builder_open(db->env, path, &bopt, &b);
    if (rc != LSM_OK)
        return rc;
    iter *it = memtable_iter_new(mt);
    if (!it) {
        sst_builder_abandon(b);
        return lsm_error(LSM_ENOMEM, "out of memory flushing memtable %" PRIu64,
                         id);
    }
    entry prev = {0};
    bool have_prev = false;
    for (rc = iter_seek(it, NULL, 0); rc == LSM_OK && iter_valid(it);
         rc = iter_next(it)) {
        entry e;
        iter_entry(it, &e);
        /* Memtable entries live in its arena, so prev stays valid. */
        if (have_prev && user_key_cmp(prev.key, prev.nkey, e.key, e.nkey) == 0)
            continue;
        rc = sst_builder_add(b, &e);
        if (rc != LSM_OK)
            break;
        prev = e;
        have_prev = true;
    }
    iter_destroy(it);
    if (rc != LSM_OK) {
        sst_builder_abandon(b);
        return rc;
    }
    rc = sst_builder_finish(b, summary);
    if (rc != LSM_OK)
        return rc;
    rc = sst_open(db->env, path, id, db->cache, &db->ctrs, out);
    if (rc != LSM_OK)
        db->env->unlink(db->env, path);
    return rc;
}

/* Publishes a flush: the oldest immutable memtable leaves, t (NULL for an
 * empty memtable) becomes the newest L0 SST, taking the caller's reference.
 * Caller holds work_mu, so nobody else removed an immutable memtable since
 * the flush chose it: the oldest one is still the one flushed. */
static int db_install_flush(lsm_db *db, sst *t)
{
    pthread_mutex_lock(&db->state_mu);
    version *nv = version_copy(db->current);
    if (!nv || (t && version_push_l0(nv, t) != LSM_OK)) {
        pthread_mutex_unlock(&db->state_mu);
        version_unref(nv);
        return lsm_error(LSM_ENOMEM, "out of memory installing a flush");
    }
    memtable_unref(version_pop_oldest_imm(nv));
    version *old = db_swap_locked(db, nv);
    pthread_mutex_unlock(&db->state_mu);
    version_unref(old);
    return LSM_OK;
}

/* Flushes the oldest immutable memtable, if any, to a new L0 SST. Takes
 * work_mu. *flushed says whether there was one. */
static int db_flush_oldest(lsm_db *db, bool *flushed)
{
    *flushed = false;
    pthread_mutex_lock(&db->work_mu);
    pthread_mutex_lock(&db->state_mu);
    version *cur = db->current;
    memtable *mt = cur->n_imm ? cur->imm[cur->n_imm - 1] : NULL;
    if (mt)
        memtable_ref(mt);
    pthread_mutex_unlock(&db->state_mu);
    if (!mt) {
        pthread_mutex_unlock(&db->work_mu);
        return LSM_OK;
    }

    uint64_t id = memtable_id(mt);
    lsm_event begin = {.type = LSM_EVENT_FLUSH_BEGIN, .memtable_id = id};
    db_emit(db, &begin);

    sst *t = NULL;
    sst_summary summary = {0};
    int rc = db_write_l0_sst(db, mt, &t, &summary);
    if (rc == LSM_OK && t)
        rc = db->env->sync_dir(db->env, db->dir);
    if (rc == LSM_OK) {
        manifest_record rec = {.kind = MANIFEST_FLUSH, .id = id};
        rc = db_manifest_append(db, &rec);
    }
    if (rc == LSM_OK)
        rc = db_install_flush(db, t);
    if (rc == LSM_OK) {
        t = NULL; /* the version owns our reference now */
        COUNTER_ADD(&db->ctrs, flushes, 1);
        COUNTER_ADD(&db->ctrs, flush_bytes_written, summary.file_size);
        lsm_event end = {.type = LSM_EVENT_FLUSH_END,
                         .memtable_id = id,
                         .sst_id = id,
                         .num_entries = summary.num_entries,
                         .size_bytes = summary.file_size};
        db_emit(db, &end);
        *flushed = true;
    }
    if (t) {
        /* Written but not installed: the manifest may not name it. */
        sst_mark_obsolete(t);
        sst_unref(t);
    }
    memtable_unref(mt);
    pthread_mutex_unlock(&db->work_mu);
    return rc;
}

/* True when more memtables are in memory than num_memtable_limit. */
static bool db_needs_flush(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    bool needed = 1 + db->current->n_imm > db->opt.num_memtable_limit;
    pthread_mutex_unlock(&db->state_mu);
    return needed;
}

/* Inline mode: flush until the memtable limit holds again. Caller holds
 * write_mu, which keeps the sequence of events deterministic. */
static int db_flush_while_over_limit(lsm_db *db)
{
    int rc = LSM_OK;
    bool flushed = true;
    while (rc == LSM_OK && flushed && db_needs_flush(db))
        rc = db_flush_oldest(db, &flushed);
    return rc;
}

/* Work owed after a freeze: inline mode flushes now, threads mode wakes the
 * flush thread (db_freeze_locked already signalled state_cv). A failure is
 * latched: the write that got us here succeeded. */
static void db_after_freeze(lsm_db *db)
{
    if (db->opt.sched != LSM_SCHED_INLINE)
        return;
    int rc = db_flush_while_over_limit(db);
    if (rc != LSM_OK)
        db_latch_error(db, rc);
}

static void *db_flush_thread_main(void *arg)
{
    lsm_db *db = arg;
    pthread_mutex_lock(&db->state_mu);
    for (;;) {
        while (!db->stopping && db->bg_error == LSM_OK &&
               1 + db->current->n_imm <= db->opt.num_memtable_limit)
            pthread_cond_wait(&db->state_cv, &db->state_mu);
        if (db->stopping || db->bg_error != LSM_OK)
            break;
        pthread_mutex_unlock(&db->state_mu);
        bool flushed;
        int rc = db_flush_oldest(db, &flushed);
        if (rc != LSM_OK)
            db_latch_error(db, rc);
        pthread_mutex_lock(&db->state_mu);
    }
    pthread_mutex_unlock(&db->state_mu);
    return NULL;
}

/* --- writes --------------------------------------------------------------- */

int db_check_key(const void *key, size_t nkey)
{
    if (!key || nkey == 0)
        return lsm_error(LSM_EINVAL, "key is empty; keys are 1 to %u bytes",
                         LSM_MAX_KEY_BYTES);
    if (nkey > LSM_MAX_KEY_BYTES)
        return lsm_error(LSM_EINVAL, "key is %zu bytes; keys are 1 to %u bytes",
                         nkey, LSM_MAX_KEY_BYTES);
    return LSM_OK;
}

static int db_write(lsm_db *db, const void *key, size_t nkey, uint8_t type,
                    const void *value, size_t nvalue)
{
    lsm_error_clear();
    if (!db)
        return lsm_error(LSM_EINVAL, "database handle is NULL");
    int rc = db_check_key(key, nkey);
    if (rc != LSM_OK)
        return rc;
    if (nvalue > LSM_MAX_VALUE_BYTES)
        return lsm_error(LSM_EINVAL,
                         "value is %zu bytes; values are 0 to %u bytes", nvalue,
                         LSM_MAX_VALUE_BYTES);
    if (nvalue > 0 && !value)
        return lsm_error(LSM_EINVAL, "value is NULL but %zu bytes long",
                         nvalue);

    pthread_mutex_lock(&db->write_mu);
    rc = db_check_bg_error(db);
    if (rc != LSM_OK)
        goto out;
    /* Only writers replace mem, and write_mu is held: mem stays put. */
    version *v = db_ref_current(db);
    memtable *mem = v->mem;
    rc = memtable_put(mem, key, nkey, db->last_seq + 1, type, value, nvalue);
    bool full = memtable_size_bytes(mem) >= db->opt.target_sst_size;
    version_unref(v);
    if (rc != LSM_OK)
        goto out;
    db->last_seq++;
    atomic_store_explicit(&db->visible_seq, db->last_seq, memory_order_release);
    COUNTER_ADD(&db->ctrs, user_bytes_written, nkey + nvalue);
    if (type == ENTRY_VALUE)
        COUNTER_ADD(&db->ctrs, puts, 1);
    else
        COUNTER_ADD(&db->ctrs, deletes, 1);
    if (full) {
        int frc = db_freeze_locked(db);
        if (frc != LSM_OK)
            db_latch_error(db, frc);
        else
            db_after_freeze(db);
    }
out:
    pthread_mutex_unlock(&db->write_mu);
    return rc;
}

int lsm_put(lsm_db *db, const void *key, size_t nkey, const void *value,
            size_t nvalue)
{
    return db_write(db, key, nkey, ENTRY_VALUE, value, nvalue);
}

int lsm_delete(lsm_db *db, const void *key, size_t nkey)
{
    return db_write(db, key, nkey, ENTRY_TOMBSTONE, NULL, 0);
}

/* Freezes the mutable memtable and flushes every immutable one. */
static int db_flush_all(lsm_db *db)
{
    pthread_mutex_lock(&db->write_mu);
    int rc = db_freeze_locked(db);
    bool flushed = true;
    while (rc == LSM_OK && flushed)
        rc = db_flush_oldest(db, &flushed);
    pthread_mutex_unlock(&db->write_mu);
    return rc;
}

/* The checks every public call that changes the tree starts with: a
 * handle, and no latched background error. */
static int db_begin_change(lsm_db *db)
{
    lsm_error_clear();
    if (!db)
        return lsm_error(LSM_EINVAL, "database handle is NULL");
    return db_check_bg_error(db);
}

int lsm_flush(lsm_db *db)
{
    int rc = db_begin_change(db);
    return rc == LSM_OK ? db_flush_all(db) : rc;
}

/* --- full compaction ------------------------------------------------------ */

typedef struct id_list {
    size_t n, cap;
    uint64_t *ids;
} id_list;

static int id_list_push(id_list *l, uint64_t id)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        uint64_t *grown = realloc(l->ids, cap * sizeof *grown);
        if (!grown)
            return lsm_error(LSM_ENOMEM, "out of memory");
        l->ids = grown;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return LSM_OK;
}

/* The output side of a compaction: SSTs of about target_sst_size. */
typedef struct compaction_out {
    lsm_db *db;
    sst_builder *builder;
    uint64_t builder_id;
    /* Key + value bytes in the current output: measured like a memtable,
     * so a compacted SST holds as much data as a flushed one. */
    uint64_t builder_bytes;
    id_list ids;
    sst **ssts;
    size_t n_ssts;
    uint64_t bytes_written;
} compaction_out;

static int compaction_out_finish_current(compaction_out *co)
{
    if (!co->builder)
        return LSM_OK;
    sst_summary summary;
    char path[DB_PATH_BYTES];
    int rc = sst_builder_finish(co->builder, &summary);
    co->builder = NULL;
    co->builder_bytes = 0;
    if (rc == LSM_OK)
        rc = db_sst_path(co->db, co->builder_id, path);
    sst *t = NULL;
    if (rc == LSM_OK)
        rc = sst_open(co->db->env, path, co->builder_id, co->db->cache,
                      &co->db->ctrs, &t);
    if (rc != LSM_OK) {
        if (db_sst_path(co->db, co->builder_id, path) == LSM_OK)
            co->db->env->unlink(co->db->env, path);
        return rc;
    }
    sst **grown = realloc(co->ssts, (co->n_ssts + 1) * sizeof *grown);
    if (!grown || id_list_push(&co->ids, co->builder_id) != LSM_OK) {
        if (grown)
            co->ssts = grown;
        sst_mark_obsolete(t);
        sst_unref(t);
        return lsm_error(LSM_ENOMEM, "out of memory in compaction");
    }
    co->ssts = grown;
    co->ssts[co->n_ssts++] = t;
    co->bytes_written += summary.file_size;
    return LSM_OK;
}

static int compaction_out_add(compaction_out *co, const entry *e)
{
    int rc;
    if (!co->builder) {
        char path[DB_PATH_BYTES];
        co->builder_id = db_take_id(co->db);
        rc = db_sst_path(co->db, co->builder_id, path);
        if (rc != LSM_OK)
            return rc;
        sst_builder_options bopt = {.block_size = co->db->opt.block_size,
                                    .bloom_bits_per_key =
                                        co->db->opt.bloom_bits_per_key};
        rc = sst_builder_open(co->db->env, path, &bopt, &co->builder);
        if (rc != LSM_OK)
            return rc;
    }
    rc = sst_builder_add(co->builder, e);
    co->builder_bytes += e->nkey + e->nvalue;
    if (rc == LSM_OK && co->builder_bytes >= co->db->opt.target_sst_size)
        rc = compaction_out_finish_current(co);
    return rc;
}

/* Throws away every output: used when the compaction fails. */
static void compaction_out_discard(compaction_out *co)
{
    sst_builder_abandon(co->builder);
    for (size_t i = 0; i < co->n_ssts; i++) {
        sst_mark_obsolete(co->ssts[i]);
        sst_unref(co->ssts[i]);
    }
    free(co->ssts);
    free(co->ids.ids);
}

/* Merges the entries of it (newest first within a key) into co, keeping
 * only the newest version of each key and dropping tombstones when
 * drop_tombstones (nothing older lies below the output). */
static int compaction_merge(iter *it, compaction_out *co, bool drop_tombstones)
{
    uint8_t *prev = NULL;
    size_t nprev = 0, prev_cap = 0;
    bool have_prev = false;
    int rc;
    for (rc = iter_seek(it, NULL, 0); rc == LSM_OK && iter_valid(it);
         rc = iter_next(it)) {
        entry e;
        iter_entry(it, &e);
        if (have_prev && user_key_cmp(prev, nprev, e.key, e.nkey) == 0)
            continue;
        /* Remember the key: the iterator's view dies at the next move. */
        if (e.nkey > prev_cap) {
            uint8_t *grown = realloc(prev, e.nkey);
            if (!grown) {
                rc = lsm_error(LSM_ENOMEM, "out of memory in compaction");
                break;
            }
            prev = grown;
            prev_cap = e.nkey;
        }
        memcpy(prev, e.key, e.nkey);
        nprev = e.nkey;
        have_prev = true;
        if (e.type == ENTRY_TOMBSTONE && drop_tombstones)
            continue;
        rc = compaction_out_add(co, &e);
        if (rc != LSM_OK)
            break;
    }
    free(prev);
    if (rc == LSM_OK)
        rc = compaction_out_finish_current(co);
    return rc;
}

/* Collects the inputs of a full compaction from v: L0 newest first, then
 * L1. Returns an iterator merging them (NULL on OOM) and fills ids. */
static iter *full_compaction_inputs(version *v, id_list *ids, int *rc)
{
    size_t n = v->n_l0 + v->levels[0].n_ssts;
    iter **children = calloc(n ? n : 1, sizeof *children);
    if (!children) {
        *rc = lsm_error(LSM_ENOMEM, "out of memory in compaction");
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < v->n_l0; i++)
        children[k++] = sst_iter_new(v->l0[i]);
    for (size_t i = 0; i < v->levels[0].n_ssts; i++)
        children[k++] = sst_iter_new(v->levels[0].ssts[i]);
    for (size_t i = 0; i < v->n_l0 && *rc == LSM_OK; i++)
        *rc = id_list_push(ids, sst_id(v->l0[i]));
    for (size_t i = 0; i < v->levels[0].n_ssts && *rc == LSM_OK; i++)
        *rc = id_list_push(ids, sst_id(v->levels[0].ssts[i]));
    bool oom = false;
    for (size_t i = 0; i < n; i++)
        oom |= children[i] == NULL;
    if (oom || *rc != LSM_OK) {
        for (size_t i = 0; i < n; i++)
            iter_destroy(children[i]);
        free(children);
        if (*rc == LSM_OK)
            *rc = lsm_error(LSM_ENOMEM, "out of memory in compaction");
        return NULL;
    }
    iter *merged = merge_iter_new(children, n);
    free(children);
    if (!merged)
        *rc = lsm_error(LSM_ENOMEM, "out of memory in compaction");
    return merged;
}

/* Publishes a compaction's result: inputs leave the tree (and are deleted
 * once unreferenced), outputs join level_no. */
static int compaction_install(lsm_db *db, const id_list *inputs,
                              compaction_out *co, size_t level_no)
{
    pthread_mutex_lock(&db->state_mu);
    version *nv = version_copy(db->current);
    int rc = nv ? LSM_OK
                : lsm_error(LSM_ENOMEM, "out of memory installing compaction");
    for (size_t i = 0; i < co->n_ssts && rc == LSM_OK; i++) {
        sst_ref(co->ssts[i]);
        rc = version_add_to_level(nv, level_no, co->ssts[i]);
        if (rc != LSM_OK)
            sst_unref(co->ssts[i]);
    }
    if (rc != LSM_OK) {
        pthread_mutex_unlock(&db->state_mu);
        version_unref(nv);
        return rc;
    }
    for (size_t i = 0; i < inputs->n; i++) {
        sst *t = version_remove_sst(nv, inputs->ids[i]);
        if (t) {
            sst_mark_obsolete(t);
            sst_unref(t);
        }
    }
    version *old = db_swap_locked(db, nv);
    pthread_mutex_unlock(&db->state_mu);
    version_unref(old);
    return LSM_OK;
}

int lsm_compact_full(lsm_db *db)
{
    int rc = db_begin_change(db);
    if (rc != LSM_OK)
        return rc;

    pthread_mutex_lock(&db->work_mu);
    version *v = db_ref_current(db);
    id_list inputs = {0};
    compaction_out co = {.db = db};
    iter *it = NULL;
    if (v->n_l0 + v->levels[0].n_ssts == 0)
        goto out; /* nothing on disk to compact */
    it = full_compaction_inputs(v, &inputs, &rc);
    if (!it)
        goto out;

    lsm_event begin = {.type = LSM_EVENT_COMPACTION_BEGIN,
                       .level = 1,
                       .n_inputs = inputs.n,
                       .inputs = inputs.ids};
    db_emit(db, &begin);
    /* Tombstones may go only if no older data lies below L1. */
    bool bottom = version_num_ssts(v) == inputs.n;
    rc = compaction_merge(it, &co, bottom);
    if (rc == LSM_OK && co.n_ssts)
        rc = db->env->sync_dir(db->env, db->dir);
    if (rc == LSM_OK) {
        manifest_record rec = {.kind = MANIFEST_COMPACTION,
                               .level = 1,
                               .n_removed = inputs.n,
                               .removed = inputs.ids,
                               .n_added = co.ids.n,
                               .added = co.ids.ids};
        rc = db_manifest_append(db, &rec);
    }
    if (rc == LSM_OK)
        rc = compaction_install(db, &inputs, &co, 1);
    if (rc == LSM_OK) {
        COUNTER_ADD(&db->ctrs, compactions, 1);
        COUNTER_ADD(&db->ctrs, compaction_bytes_written, co.bytes_written);
        lsm_event end = {.type = LSM_EVENT_COMPACTION_END,
                         .level = 1,
                         .n_inputs = inputs.n,
                         .inputs = inputs.ids,
                         .n_outputs = co.ids.n,
                         .outputs = co.ids.ids,
                         .size_bytes = co.bytes_written};
        db_emit(db, &end);
        /* The installed version holds the outputs now; drop ours. */
        for (size_t i = 0; i < co.n_ssts; i++)
            sst_unref(co.ssts[i]);
        co.n_ssts = 0;
    }
out:
    iter_destroy(it);
    compaction_out_discard(&co);
    free(inputs.ids);
    version_unref(v);
    pthread_mutex_unlock(&db->work_mu);
    return rc;
}

/* --- open ----------------------------------------------------------------- */

/* What manifest replay reconstructs: the live SST ids in order of their
 * creation, each with its level (0 = L0). */
typedef struct recovery {
    size_t n, cap;
    uint64_t *ids;
    uint32_t *levels;
    uint64_t max_id;
    bool any_id;
} recovery;

static int recovery_add(recovery *r, uint64_t id, uint32_t level)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        uint64_t *ids = realloc(r->ids, cap * sizeof *ids);
        if (!ids)
            return lsm_error(LSM_ENOMEM, "out of memory replaying manifest");
        r->ids = ids;
        uint32_t *levels = realloc(r->levels, cap * sizeof *levels);
        if (!levels)
            return lsm_error(LSM_ENOMEM, "out of memory replaying manifest");
        r->levels = levels;
        r->cap = cap;
    }
    r->ids[r->n] = id;
    r->levels[r->n] = level;
    r->n++;
    return LSM_OK;
}

static void recovery_remove(recovery *r, uint64_t id)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->ids[i] == id) {
            memmove(r->ids + i, r->ids + i + 1,
                    (r->n - i - 1) * sizeof *r->ids);
            memmove(r->levels + i, r->levels + i + 1,
                    (r->n - i - 1) * sizeof *r->levels);
            r->n--;
            return;
        }
    }
}

static void recovery_note_id(recovery *r, uint64_t id)
{
    if (!r->any_id || id > r->max_id)
        r->max_id = id;
    r->any_id = true;
}

static int recovery_apply(void *ctx, const manifest_record *rec)
{
    recovery *r = ctx;
    int rc = LSM_OK;
    switch (rec->kind) {
    case MANIFEST_NEW_MEMTABLE:
        recovery_note_id(r, rec->id);
        break;
    case MANIFEST_FLUSH:
        recovery_note_id(r, rec->id);
        rc = recovery_add(r, rec->id, 0);
        break;
    case MANIFEST_COMPACTION:
        for (size_t i = 0; i < rec->n_removed; i++)
            recovery_remove(r, rec->removed[i]);
        for (size_t i = 0; i < rec->n_added && rc == LSM_OK; i++) {
            recovery_note_id(r, rec->added[i]);
            rc = recovery_add(r, rec->added[i], rec->level);
        }
        break;
    }
    return rc;
}

static bool recovery_has(const recovery *r, uint64_t id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ids[i] == id)
            return true;
    return false;
}

/* Opens every SST the manifest names into a new version. */
static int db_open_ssts(lsm_db *db, const recovery *r, version *v)
{
    char path[DB_PATH_BYTES];
    int rc = LSM_OK;
    for (size_t i = 0; i < r->n && rc == LSM_OK; i++) {
        if (r->levels[i] > db->n_levels)
            return lsm_error(LSM_EINVAL,
                             "%s holds SSTs in L%u but this compaction "
                             "strategy has %zu level(s); open it with the "
                             "strategy it was created with",
                             db->dir, (unsigned)r->levels[i], db->n_levels);
        sst *t = NULL;
        rc = db_sst_path(db, r->ids[i], path);
        if (rc == LSM_OK)
            rc = sst_open(db->env, path, r->ids[i], db->cache, &db->ctrs, &t);
        if (rc != LSM_OK)
            break;
        if (sst_max_seq(t) > db->last_seq)
            db->last_seq = sst_max_seq(t);
        /* ids are in creation order, so pushing makes L0 newest first. */
        rc = r->levels[i] == 0 ? version_push_l0(v, t)
                               : version_add_to_level(v, r->levels[i], t);
        if (rc != LSM_OK)
            sst_unref(t);
    }
    return rc;
}

typedef struct orphan_scan {
    const recovery *r;
    id_list orphans;
    int rc;
} orphan_scan;

/* Parses "<digits>.sst"; false for any other name. */
static bool parse_sst_name(const char *name, uint64_t *id)
{
    const char *p = name;
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    if (strcmp(p, ".sst") != 0)
        return false;
    *id = v;
    return true;
}

static void orphan_visit(const char *name, void *ctx)
{
    orphan_scan *s = ctx;
    uint64_t id;
    if (s->rc == LSM_OK && parse_sst_name(name, &id) && !recovery_has(s->r, id))
        s->rc = id_list_push(&s->orphans, id);
}

/* Deletes SST files the manifest does not name: outputs of a flush or
 * compaction that crashed before its manifest record. */
static int db_remove_orphans(lsm_db *db, const recovery *r)
{
    orphan_scan s = {.r = r};
    char path[DB_PATH_BYTES];
    int rc = db->env->list_dir(db->env, db->dir, orphan_visit, &s);
    if (rc == LSM_OK)
        rc = s.rc;
    for (size_t i = 0; i < s.orphans.n && rc == LSM_OK; i++) {
        rc = db_sst_path(db, s.orphans.ids[i], path);
        if (rc == LSM_OK)
            rc = db->env->unlink(db->env, path);
    }
    free(s.orphans.ids);
    return rc;
}

static int db_check_options(const lsm_options *o)
{
    if (o->target_sst_size < 1)
        return lsm_error(LSM_EINVAL, "target_sst_size must be at least 1");
    if (o->block_size < 1)
        return lsm_error(LSM_EINVAL, "block_size must be at least 1");
    if (o->num_memtable_limit < 1)
        return lsm_error(LSM_EINVAL, "num_memtable_limit must be at least 1");
    if (o->bloom_bits_per_key > 64)
        return lsm_error(LSM_EINVAL, "bloom_bits_per_key must be 0 to 64");
    if (o->sched != LSM_SCHED_INLINE && o->sched != LSM_SCHED_THREADS)
        return lsm_error(LSM_EINVAL, "unknown scheduling mode %d",
                         (int)o->sched);
    if (o->compaction < LSM_COMPACTION_NONE ||
        o->compaction > LSM_COMPACTION_LEVELED)
        return lsm_error(LSM_EINVAL, "unknown compaction strategy %d",
                         (int)o->compaction);
    if (o->max_levels < 1 || o->max_levels > VERSION_MAX_LEVELS)
        return lsm_error(LSM_EINVAL, "max_levels must be 1 to %d",
                         VERSION_MAX_LEVELS);
    return LSM_OK;
}

/* Allocates the handle and its locks; no I/O. */
static int db_alloc(const char *dir, const lsm_options *opt, lsm_db **out)
{
    lsm_db *db = calloc(1, sizeof *db);
    if (!db || !(db->dir = strdup(dir))) {
        free(db);
        return lsm_error(LSM_ENOMEM, "out of memory opening %s", dir);
    }
    db->env = env_posix();
    db->opt = *opt;
    db->n_levels = levels_for(opt);
    pthread_mutex_init(&db->write_mu, NULL);
    pthread_mutex_init(&db->work_mu, NULL);
    pthread_mutex_init(&db->manifest_mu, NULL);
    pthread_mutex_init(&db->state_mu, NULL);
    pthread_cond_init(&db->state_cv, NULL);
    db->next_iter_id = 1;
    *out = db;
    return LSM_OK;
}

/* Frees what db_alloc and a partial open made. */
static void db_free(lsm_db *db)
{
    version_unref(db->current);
    manifest_close(db->manifest);
    block_cache_destroy(db->cache);
    file_close(db->lock_file);
    pthread_mutex_destroy(&db->write_mu);
    pthread_mutex_destroy(&db->work_mu);
    pthread_mutex_destroy(&db->manifest_mu);
    pthread_mutex_destroy(&db->state_mu);
    pthread_cond_destroy(&db->state_cv);
    free(db->dir);
    free(db);
}

/* Replays the manifest, opens the live SSTs, removes orphans and starts a
 * fresh mutable memtable. */
static int db_recover(lsm_db *db)
{
    char path[DB_PATH_BYTES];
    recovery r = {0};
    memtable *mem = NULL;
    version *v = version_new(db->n_levels);
    int rc = v ? LSM_OK : lsm_error(LSM_ENOMEM, "out of memory");
    if (rc == LSM_OK)
        rc = db_path(db, "MANIFEST", path);
    if (rc == LSM_OK)
        rc = manifest_open(db->env, path, recovery_apply, &r, NULL,
                           &db->manifest);
    if (rc == LSM_OK)
        rc = db_open_ssts(db, &r, v);
    if (rc == LSM_OK)
        rc = db_remove_orphans(db, &r);
    if (rc != LSM_OK)
        goto out;
    atomic_store(&db->visible_seq, db->last_seq);
    db->next_id = r.any_id ? r.max_id + 1 : 0;
    uint64_t mem_id = db->next_id++;
    rc = memtable_create(mem_id, &mem);
    if (rc != LSM_OK)
        goto out;
    manifest_record rec = {.kind = MANIFEST_NEW_MEMTABLE, .id = mem_id};
    rc = manifest_append(db->manifest, &rec);
    if (rc != LSM_OK)
        goto out;
    version_set_mem(v, mem);
    mem = NULL;
    db->current = v;
    v = NULL;
out:
    memtable_unref(mem);
    version_unref(v);
    free(r.ids);
    free(r.levels);
    return rc;
}

int lsm_open(const char *dir, const lsm_options *opt, lsm_db **out)
{
    lsm_options defaults;
    lsm_db *db = NULL;
    char path[DB_PATH_BYTES];
    lsm_error_clear();
    if (!out)
        return lsm_error(LSM_EINVAL, "lsm_open needs somewhere to put the "
                                     "handle");
    *out = NULL;
    if (!dir || !*dir)
        return lsm_error(LSM_EINVAL, "database path is empty");
    if (!opt) {
        lsm_options_init(&defaults);
        opt = &defaults;
    }
    int rc = db_check_options(opt);
    if (rc == LSM_OK)
        rc = db_alloc(dir, opt, &db);
    if (rc != LSM_OK)
        return rc;
    rc = db->env->mkdir(db->env, dir);
    if (rc == LSM_OK)
        rc = db_path(db, "LOCK", path);
    if (rc == LSM_OK)
        rc = db->env->lock(db->env, path, &db->lock_file);
    if (rc == LSM_OK && opt->block_cache_bytes > 0) {
        db->cache = block_cache_create(opt->block_cache_bytes);
        if (!db->cache)
            rc = lsm_error(LSM_ENOMEM, "out of memory for the block cache");
    }
    if (rc == LSM_OK)
        rc = db_recover(db);
    if (rc == LSM_OK && opt->sched == LSM_SCHED_THREADS) {
        if (pthread_create(&db->flush_thread, NULL, db_flush_thread_main, db) !=
            0)
            rc = lsm_error(LSM_ENOMEM, "cannot start the flush thread");
        else
            db->flush_thread_started = true;
    }
    if (rc != LSM_OK) {
        db_free(db);
        return rc;
    }
    *out = db;
    return LSM_OK;
}

/* --- close ---------------------------------------------------------------- */

static void db_stop_flush_thread(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    db->stopping = true;
    pthread_cond_broadcast(&db->state_cv);
    pthread_mutex_unlock(&db->state_mu);
    if (db->flush_thread_started)
        pthread_join(db->flush_thread, NULL);
    db->flush_thread_started = false;
}

int lsm_close(lsm_db *db)
{
    lsm_error_clear();
    if (!db)
        return LSM_OK;
    pthread_mutex_lock(&db->state_mu);
    size_t n_iters = db->n_iters;
    pthread_mutex_unlock(&db->state_mu);
    if (n_iters > 0)
        return lsm_error(LSM_EBUSY,
                         "%zu iterator(s) still open; close them before "
                         "closing the database",
                         n_iters);
    db_stop_flush_thread(db);
    /* A latched error means the tree may be behind the memtables; still
     * try to flush, so that nothing acknowledged is left only in memory. */
    int rc = db_flush_all(db);
    int bg = db_check_bg_error(db);
    if (rc == LSM_OK)
        rc = bg;
    char message[DB_BG_MESSAGE_BYTES];
    snprintf(message, sizeof message, "%s", lsm_errmsg());
    db_free(db);
    if (rc != LSM_OK)
        lsm_error_set_message(message);
    return rc;
}
