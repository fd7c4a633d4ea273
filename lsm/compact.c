/*
 * compact.c: compaction. For now one kind, full compaction: every L0 and L1
 * SST merged into new L1 SSTs. The compaction issue adds the strategies
 * (compact_simple.c, compact_tiered.c, compact_leveled.c) beside it.
 *
 * A compaction holds work_mu (one structural job at a time), reads its
 * inputs from a referenced version without any lock, writes and fsyncs its
 * outputs, fsyncs the directory, appends its manifest record, and only then
 * publishes the new version. Inputs are deleted when the last reader lets go
 * of them.
 */
#include "db_int.h"

#include "status_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The output side of a compaction: SSTs of about target_sst_size. */
typedef struct compaction_out {
    lsm_db *db;
    sst_builder *builder;
    uint64_t builder_id;
    /* Key + value bytes in the current output: measured like a memtable,
     * so a compacted SST holds as much data as a flushed one. */
    uint64_t builder_bytes;
    bool keep_files; /* on failure, leave the outputs on disk */
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

/* Ids are reserved in the manifest this many at a time. */
#define COMPACTION_ID_CHUNK 16

/* Takes an id for a new output SST. The manifest must cover it before the
 * file exists (see reserved_ids in db_int.h), so ids are reserved in
 * chunks, one fsynced record per chunk. Caller holds work_mu. */
static int compaction_take_id(lsm_db *db, uint64_t *id)
{
    *id = db_take_id(db);
    if (*id < db->reserved_ids)
        return LSM_OK;
    manifest_record rec = {.kind = MANIFEST_NEXT_ID,
                           .id = *id + COMPACTION_ID_CHUNK};
    int rc = db_manifest_append(db, &rec);
    if (rc == LSM_OK)
        db->reserved_ids = rec.id;
    return rc;
}

static int compaction_out_add(compaction_out *co, const entry *e)
{
    int rc;
    if (!co->builder) {
        char path[DB_PATH_BYTES];
        rc = compaction_take_id(co->db, &co->builder_id);
        if (rc != LSM_OK)
            return rc;
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

/* Throws away every output when the compaction fails: the files too,
 * unless the manifest may name them (keep_files). */
static void compaction_out_discard(compaction_out *co)
{
    sst_builder_abandon(co->builder);
    for (size_t i = 0; i < co->n_ssts; i++) {
        if (!co->keep_files)
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
    rc = db_may_change_tree(db);
    if (rc != LSM_OK) {
        pthread_mutex_unlock(&db->work_mu);
        return rc;
    }
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
    bool maybe_recorded = false;
    if (rc == LSM_OK) {
        maybe_recorded = true;
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
    if (rc != LSM_OK && maybe_recorded) {
        /* The manifest may now say this compaction happened while the tree
         * in memory says it did not: stop changing the tree until a reopen
         * settles which is true. The outputs stay on disk for that. */
        db_latch_error(db, rc);
        co.keep_files = true;
    }
out:
    iter_destroy(it);
    compaction_out_discard(&co);
    free(inputs.ids);
    version_unref(v);
    pthread_mutex_unlock(&db->work_mu);
    return rc;
}
