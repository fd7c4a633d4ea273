/*
 * db_compact.c: the compaction runner. It takes the shape of the current
 * version, asks the strategy's controller for a task (compact_pick, or
 * compact_pick_full for lsm_compact_full; compact/), merges the task's
 * inputs into new SSTs of about target_sst_size (keeping the versions the
 * watermark asks for, compact/version_filter_int.h; a user key's versions
 * never straddle two outputs), records the change in the
 * manifest and installs it (shape_apply on the CURRENT tree). Inline mode
 * runs it until nothing is due (db_compact_until_settled, after every flush
 * and full compaction); threads mode runs it on the compaction thread
 * (db_compaction_thread_main).
 *
 * A compaction holds compact_mu (one at a time), reads its inputs from a
 * referenced version without any lock, writes and fsyncs its
 * outputs, fsyncs the directory, appends its manifest record, and only then
 * publishes the new version.
 *
 * Its inputs then leave the tree, but not necessarily the disk: publishing
 * takes one reference on each (db_compact_install), and once the
 * compaction's own readers let go (its input iterator, the version it
 * picked from) db_compact_step hands them to db_pins_retire, which deletes
 * those no one else reads ("compacted away", after COMPACTION_END) and
 * keeps the rest for the iterators and gets still reading them, until the
 * last one closes (db_pins.c has the whole lifecycle). Outputs of a failed
 * compaction that the manifest cannot name are deleted and reported
 * ("compaction failed").
 *
 * A task that reads nothing from its lower level, with upper inputs that
 * may share a run there (compaction_task_is_move), runs as a trivial move:
 * no merge and no SST written; the manifest record removes the inputs and
 * adds the same SSTs (ids, sizes, keys) at the lower level, which replay
 * applies like any compaction, and nothing is retired, as every input
 * stays in the tree. Its events carry trivial_move.
 *
 * A LEVELED task's outputs also end where one would overlap more than
 * COMPACT_GRANDPARENT_SSTS target-size SSTs of the level below the
 * output level (LevelDB's grandparent limit), so pushing any output down
 * later rewrites a bounded part of that level.
 */
#include "db/db_int.h"

#include "compact/compact_int.h"
#include "compact/version_filter_int.h"
#include "util/status_int.h"

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
    /* The current output reached target_sst_size: it ends before the next
     * user key, so a key's versions never straddle two outputs (the SSTs
     * of a level or tier stay disjoint by user key). */
    bool full;
    bool keep_files; /* on failure, leave the outputs on disk */
    /* A trivial move: ssts are the moved inputs (a reference each), which
     * stay in the tree whatever happens. */
    bool move;
    id_list ids;
    id_list deleted; /* outputs whose files a failure removed */
    sst **ssts;
    size_t n_ssts;
    uint64_t bytes_written;
    /* The level below the output level (NULL when not cutting by it):
     * an output ends before the key where its overlap with this level
     * passes COMPACT_GRANDPARENT_SSTS SSTs' worth, so pushing it down
     * later rewrites a bounded part of that level. Borrowed from the
     * task's version. */
    const sorted_run *grandparent;
    size_t gp_next;      /* grandparent SSTs before it end below the key */
    uint64_t gp_overlap; /* bytes of them the current output overlaps */
    char why[48];        /* for the trace: "compaction into L1" */
    /* Range tombstones the outputs carry (the inputs' less those the
     * bottom drops), sorted. Each output takes the part of them from
     * range_from (NULL: unbounded) to just above its last key (the last
     * output: to no bound), so outputs stay disjoint and each one's key
     * range covers its tombstones. */
    range_tomb_list ranges;
    byte_buf range_from;
    bool range_from_set;
    byte_buf last_key; /* user key of the last entry added */
} compaction_out;

/* Gives the current output its part of the range tombstones: from
 * range_from up to just above its last key (final: to no bound), and
 * moves range_from there. */
static int db_compact_out_ranges(compaction_out *co, bool final)
{
    if (co->ranges.n == 0)
        return LSM_OK;
    const uint8_t *from = co->range_from_set ? co->range_from.data : NULL;
    size_t nfrom = co->range_from.n_bytes;
    byte_buf to = {0};
    int rc = LSM_OK;
    if (!final) {
        /* The smallest key above the last one: it plus a zero byte. */
        rc = byte_buf_append(&to, co->last_key.data, co->last_key.n_bytes);
        if (rc == LSM_OK)
            rc = byte_buf_append(&to, (const uint8_t *)"", 1);
    }
    range_tomb_list mine = {0};
    for (size_t i = 0; i < co->ranges.n && rc == LSM_OK; i++)
        rc = range_tomb_list_add_clipped(&mine, &co->ranges.v[i], from, nfrom,
                                         final ? NULL : to.data, to.n_bytes);
    if (rc == LSM_OK && mine.n) {
        range_tomb_list_sort(&mine);
        rc = sst_builder_set_ranges(co->builder, &mine);
    }
    range_tomb_list_free(&mine);
    if (rc == LSM_OK && !final) {
        /* The next output's tombstones start there, and a start is a key:
         * after a key of the largest size the cut is one byte too long
         * for one (the reader rejects the file). No key lies between the
         * cut and that key's successor, so they start there instead. */
        if (to.n_bytes > LSM_MAX_KEY_BYTES) {
            /* An output is cut before a larger key, so the last key is
             * not all 0xff bytes and has a successor. */
            size_t n = key_prefix_successor(to.data, co->last_key.n_bytes);
            if (n > 0)
                to.n_bytes = n;
        }
        byte_buf_free(&co->range_from);
        co->range_from = to;
        co->range_from_set = true;
    } else {
        byte_buf_free(&to);
    }
    return rc;
}

static int db_compact_out_finish_current(compaction_out *co, bool final)
{
    if (!co->builder)
        return LSM_OK;
    sst_summary summary;
    char path[DB_PATH_BYTES];
    int rc = db_compact_out_ranges(co, final);
    if (rc != LSM_OK) {
        sst_builder_abandon(co->builder); /* removes the file */
        co->builder = NULL;
        id_list_push(&co->deleted, co->builder_id);
        return rc;
    }
    rc = sst_builder_finish(co->builder, &summary);
    co->builder = NULL;
    co->builder_bytes = 0;
    co->gp_overlap = 0;
    co->full = false;
    if (rc == LSM_OK)
        rc = db_sst_path(co->db, co->builder_id, path);
    if (rc == LSM_OK) {
        /* finish wrote what add had not yet, then fsynced. */
        DB_TRACE_IO(co->db, LSM_IO_SST_WRITE, path, summary.file_size, "%s",
                    co->why);
        DB_TRACE_IO(co->db, LSM_IO_SST_SYNC, path, 0, "%s", co->why);
    }
    sst *t = NULL;
    if (rc == LSM_OK)
        rc = db_sst_open(co->db, path, co->builder_id, &t);
    if (rc != LSM_OK) {
        /* A failed finish removed the file already; a failed open did not. */
        if (db_sst_path(co->db, co->builder_id, path) == LSM_OK)
            co->db->env->unlink(co->db->env, path);
        id_list_push(&co->deleted, co->builder_id);
        return rc;
    }
    sst **grown = realloc(co->ssts, (co->n_ssts + 1) * sizeof *grown);
    if (!grown || id_list_push(&co->ids, co->builder_id) != LSM_OK) {
        if (grown)
            co->ssts = grown;
        sst_mark_obsolete(t);
        sst_unref(t);
        id_list_push(&co->deleted, co->builder_id);
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
 * chunks, one fsynced record per chunk. Caller holds compact_mu. */
static int db_compact_take_id(lsm_db *db, uint64_t *id)
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

/* An output may overlap this many target_sst_size of the level below the
 * output level (LevelDB's limit: ten files). At 3M random puts with
 * min-overlap picking, the cut took the last level's compaction writes
 * from 2,032 to 1,935 MB. */
#define COMPACT_GRANDPARENT_SSTS 10

/* Whether the current output should end before user key e->key because
 * it already overlaps too much of the grandparent level: counts the
 * grandparent SSTs that end below the key while the output is open. */
static bool db_compact_out_past_grandparents(compaction_out *co, const entry *e)
{
    const sorted_run *gp = co->grandparent;
    if (!gp)
        return false;
    while (co->gp_next < gp->n_ssts) {
        size_t n;
        const uint8_t *last = sst_last_key(gp->ssts[co->gp_next], &n);
        if (user_key_cmp(e->key, e->nkey, last, n) <= 0)
            break;
        if (co->builder)
            co->gp_overlap += sst_file_size(gp->ssts[co->gp_next]);
        co->gp_next++;
    }
    /* Finishing the output (db_compact_out_finish_current) resets the
     * count. */
    return co->builder && co->gp_overlap > COMPACT_GRANDPARENT_SSTS *
                                               co->db->opt.target_sst_size;
}

/* Adds e to the current output, first finishing it when it is full and e
 * starts a new user key (starts_key: no version of e's key went to the
 * outputs yet). Without several versions per key every entry starts its
 * key, and outputs end where they always did: after the entry that
 * reached target_sst_size. */
/* Starts the next output file. */
static int db_compact_out_open(compaction_out *co)
{
    char path[DB_PATH_BYTES];
    int rc = db_compact_take_id(co->db, &co->builder_id);
    if (rc != LSM_OK)
        return rc;
    rc = db_sst_path(co->db, co->builder_id, path);
    if (rc != LSM_OK)
        return rc;
    sst_builder_options bopt = {
        .block_size = co->db->opt.block_size,
        .bloom_bits_per_key = co->db->opt.bloom_bits_per_key,
        .prefix = co->db->prefix,
        .sst_id = co->builder_id,
        .db_identity = co->db->identity,
        .compression = co->db->opt.compression,
        .compression_level = co->db->opt.compression_level};
    rc = sst_builder_open(co->db->env, path, &bopt, &co->builder);
    if (rc != LSM_OK)
        return rc;
    DB_TRACE_IO(co->db, LSM_IO_FILE_CREATE, path, 0, "%s", co->why);
    return LSM_OK;
}

static int db_compact_out_add(compaction_out *co, const entry *e,
                              bool starts_key)
{
    int rc;
    if (starts_key && db_compact_out_past_grandparents(co, e))
        co->full = true;
    if (co->full && starts_key) {
        rc = db_compact_out_finish_current(co, false);
        if (rc != LSM_OK)
            return rc;
    }
    if (!co->builder) {
        rc = db_compact_out_open(co);
        if (rc != LSM_OK)
            return rc;
    }
    if (starts_key) {
        co->last_key.n_bytes = 0;
        rc = byte_buf_append(&co->last_key, e->key, e->nkey);
        if (rc != LSM_OK)
            return rc;
    }
    rc = sst_builder_add(co->builder, e);
    co->builder_bytes += e->nkey + e->nvalue;
    if (rc == LSM_OK && co->builder_bytes >= co->db->opt.target_sst_size)
        co->full = true;
    return rc;
}

/* Throws away every output when the compaction fails: the files too,
 * unless the manifest may name them (keep_files), reporting the files
 * deleted. (After a success it only frees.) */
static void db_compact_out_discard(compaction_out *co)
{
    if (co->builder) {
        sst_builder_abandon(co->builder); /* removes the file */
        id_list_push(&co->deleted, co->builder_id);
    }
    for (size_t i = 0; i < co->n_ssts; i++) {
        if (!co->keep_files) {
            sst_mark_obsolete(co->ssts[i]);
            id_list_push(&co->deleted, sst_id(co->ssts[i]));
        }
        sst_unref(co->ssts[i]);
    }
    db_report_sst_deleted(co->db, co->deleted.ids, co->deleted.n,
                          "compaction failed");
    free(co->ssts);
    free(co->ids.ids);
    free(co->deleted.ids);
    range_tomb_list_free(&co->ranges);
    byte_buf_free(&co->range_from);
    byte_buf_free(&co->last_key);
}

/* Merges the entries of it (newest first within a key) into co, keeping
 * the versions vf keeps (every version above the watermark, the newest at
 * or below it, tombstones dropped at the bottom: version_filter_int.h). */
static int db_compact_merge(iter *it, compaction_out *co, version_filter *vf)
{
    int rc;
    for (rc = iter_seek(it, NULL, 0); rc == LSM_OK && iter_valid(it);
         rc = iter_next(it)) {
        entry e;
        version_verdict verdict;
        iter_entry(it, &e);
        rc = version_filter_decide(vf, &e, &verdict);
        if (rc == LSM_OK && verdict.keep)
            rc = db_compact_out_add(co, &e, verdict.first_kept_of_key);
        if (rc != LSM_OK)
            break;
    }
    /* Range tombstones with no entry left to carry them still need a
     * file: they hide data below the output. */
    if (rc == LSM_OK && !co->builder && co->n_ssts == 0 && co->ranges.n)
        rc = db_compact_out_open(co);
    if (rc == LSM_OK)
        rc = db_compact_out_finish_current(co, true);
    return rc;
}

/* --- shapes of versions -------------------------------------------------- */

static void db_compact_shape_sst_of(sst *t, shape_sst *out)
{
    out->sst_id = sst_id(t);
    out->size_bytes = sst_file_size(t);
    out->first_key = sst_first_key(t, &out->nfirst_key);
    out->last_key = sst_last_key(t, &out->nlast_key);
}

/* The shape of v's tree. Keys are borrowed from v's SSTs: v must stay
 * referenced while the shape is used. */
static int db_compact_shape_from_version(const version *v, shape *s)
{
    memset(s, 0, sizeof *s);
    s->tiered = v->tiered;
    s->l0 = calloc(v->n_l0 ? v->n_l0 : 1, sizeof *s->l0);
    s->runs = calloc(v->n_levels ? v->n_levels : 1, sizeof *s->runs);
    if (!s->l0 || !s->runs)
        goto oom;
    s->n_l0 = v->n_l0;
    for (size_t i = 0; i < v->n_l0; i++)
        db_compact_shape_sst_of(v->l0[i], &s->l0[i]);
    for (size_t r = 0; r < v->n_levels; r++) {
        const sorted_run *run = &v->levels[r];
        shape_run *out = &s->runs[s->n_runs++];
        out->run_id = run->run_id;
        out->ssts = calloc(run->n_ssts ? run->n_ssts : 1, sizeof *out->ssts);
        if (!out->ssts)
            goto oom;
        out->n_ssts = run->n_ssts;
        for (size_t i = 0; i < run->n_ssts; i++)
            db_compact_shape_sst_of(run->ssts[i], &out->ssts[i]);
    }
    return LSM_OK;
oom:
    shape_free(s);
    return lsm_error(LSM_ENOMEM, "out of memory planning a compaction");
}

/* The SST with this id among v's and the new outputs, or NULL. */
static sst *find_sst(const version *v, sst *const *outs, size_t n_outs,
                     uint64_t id)
{
    for (size_t i = 0; i < n_outs; i++)
        if (sst_id(outs[i]) == id)
            return outs[i];
    for (size_t i = 0; i < v->n_l0; i++)
        if (sst_id(v->l0[i]) == id)
            return v->l0[i];
    for (size_t r = 0; r < v->n_levels; r++)
        for (size_t i = 0; i < v->levels[r].n_ssts; i++)
            if (sst_id(v->levels[r].ssts[i]) == id)
                return v->levels[r].ssts[i];
    return NULL;
}

/* Rebuilds the tree of nv (a copy of cur) as shape ns says, taking new
 * references on SSTs of cur and of the outputs. */
static int db_compact_set_tree(version *nv, const version *cur, const shape *ns,
                               sst *const *outs, size_t n_outs)
{
    version_clear_tree(nv);
    int rc = LSM_OK;
    /* push_l0 inserts at the front: walk the shape's L0 oldest first. */
    for (size_t i = ns->n_l0; i-- > 0 && rc == LSM_OK;) {
        sst *t = find_sst(cur, outs, n_outs, ns->l0[i].sst_id);
        if (!t)
            return lsm_error(LSM_EINTERNAL, "compaction lost SST %" PRIu64,
                             ns->l0[i].sst_id);
        sst_ref(t);
        rc = version_push_l0(nv, t);
        if (rc != LSM_OK)
            sst_unref(t);
    }
    for (size_t r = 0; r < ns->n_runs && rc == LSM_OK; r++) {
        rc = version_insert_run(nv, r, ns->runs[r].run_id);
        for (size_t i = 0; i < ns->runs[r].n_ssts && rc == LSM_OK; i++) {
            uint64_t id = ns->runs[r].ssts[i].sst_id;
            sst *t = find_sst(cur, outs, n_outs, id);
            if (!t)
                return lsm_error(LSM_EINTERNAL, "compaction lost SST %" PRIu64,
                                 id);
            sst_ref(t);
            rc = version_add_to_run(nv, r, t);
            if (rc != LSM_OK)
                sst_unref(t);
        }
    }
    return rc;
}

/* --- running a task ------------------------------------------------------ */

/* Whether id is one of the n ids. */
static bool ids_have(const uint64_t *ids, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* A merge of the task's inputs as they are in v, newest data first: one
 * SST iterator per L0 input, one concat iterator per run, none of which
 * fills the block cache (the inputs are read once, then deleted). NULL on
 * OOM. */
static iter *db_compact_inputs_iter(const version *v, const uint64_t *ids,
                                    size_t n_ids)
{
    size_t n = v->n_l0 + v->n_levels, k = 0;
    iter **children = calloc(n ? n : 1, sizeof *children);
    sst **picked = calloc(n_ids ? n_ids : 1, sizeof *picked);
    bool oom = !children || !picked;
    for (size_t i = 0; !oom && i < v->n_l0; i++)
        if (ids_have(ids, n_ids, sst_id(v->l0[i])))
            oom = !(children[k++] = sst_iter_new_uncached(v->l0[i]));
    for (size_t r = 0; !oom && r < v->n_levels; r++) {
        size_t m = 0;
        for (size_t i = 0; i < v->levels[r].n_ssts; i++)
            if (ids_have(ids, n_ids, sst_id(v->levels[r].ssts[i])))
                picked[m++] = v->levels[r].ssts[i];
        if (m > 0)
            oom = !(children[k++] = concat_iter_new_uncached(picked, m));
    }
    iter *merged = NULL;
    if (!oom)
        merged = merge_iter_new(children, k);
    else
        for (size_t i = 0; children && i < k; i++)
            iter_destroy(children[i]);
    free(children);
    free(picked);
    return merged;
}

/* Collects the range tombstones of the task's inputs: those the outputs
 * carry into co->ranges (all, less those at or below the watermark when
 * the output is the bottom: nothing older lies below for them to hide),
 * and, fragmented at the watermark in *frags, those vf drops covered
 * versions by. */
static int db_compact_ranges(const version *v, const uint64_t *ids,
                             size_t n_ids, compaction_out *co,
                             version_filter *vf, range_frags **frags)
{
    range_tomb_list all = {0};
    int rc = LSM_OK;
    *frags = NULL;
    for (size_t i = 0; i < v->n_l0 + v->n_levels && rc == LSM_OK; i++) {
        const sorted_run *run = i < v->n_l0 ? NULL : &v->levels[i - v->n_l0];
        size_t n_ssts = run ? run->n_ssts : 1;
        for (size_t j = 0; j < n_ssts && rc == LSM_OK; j++) {
            const sst *t = run ? run->ssts[j] : v->l0[i];
            if (!ids_have(ids, n_ids, sst_id(t)))
                continue;
            size_t n;
            const range_tomb *r = sst_range_tombs(t, &n);
            for (size_t k = 0; k < n && rc == LSM_OK; k++) {
                rc = range_tomb_list_add(&all, r[k].lo, r[k].nlo, r[k].hi,
                                         r[k].nhi, r[k].seq);
                if (rc == LSM_OK &&
                    !(vf->drop_tombstones && r[k].seq <= vf->watermark))
                    rc = range_tomb_list_add(&co->ranges, r[k].lo, r[k].nlo,
                                             r[k].hi, r[k].nhi, r[k].seq);
            }
        }
    }
    if (rc == LSM_OK && all.n)
        rc = range_frags_build(all.v, all.n, vf->watermark, frags);
    range_tomb_list_free(&all);
    if (rc == LSM_OK) {
        range_tomb_list_sort(&co->ranges);
        version_filter_set_ranges(vf, *frags);
    }
    return rc;
}

/* A trivial move's outputs: the task's inputs as they are in v, in the
 * order they take in the lower level, one reference each. */
static int db_compact_move_outputs(const version *v, const compaction_task *t,
                                   compaction_out *co)
{
    shape s;
    shape_sst *outs = NULL;
    int rc = db_compact_shape_from_version(v, &s);
    if (rc != LSM_OK)
        return rc;
    rc = compaction_move_outputs(t, &s, &outs);
    co->ssts = calloc(t->n_upper ? t->n_upper : 1, sizeof *co->ssts);
    if (rc == LSM_OK && !co->ssts)
        rc = lsm_error(LSM_ENOMEM, "out of memory moving SSTs");
    for (size_t i = 0; rc == LSM_OK && i < t->n_upper; i++) {
        sst *x = find_sst(v, NULL, 0, outs[i].sst_id);
        if (!x) {
            rc = lsm_error(LSM_EINTERNAL, "moved SST %" PRIu64 " is gone",
                           outs[i].sst_id);
            break;
        }
        sst_ref(x);
        co->ssts[co->n_ssts++] = x;
        rc = id_list_push(&co->ids, outs[i].sst_id);
    }
    free(outs);
    shape_free(&s);
    return rc;
}

/* Publishes a finished task on the CURRENT version (flushes may have added
 * L0 SSTs or tiers since the task was picked): the task applied to the
 * current shape gives the new tree. On success *removed (malloc'd, one
 * reference each) holds the inputs that left the tree, for
 * db_pins_retire. */
static int db_compact_install(lsm_db *db, const compaction_task *task,
                              const uint64_t *inputs, size_t n_inputs,
                              compaction_out *co, db_stats_update *stats,
                              sst ***removed, size_t *n_removed)
{
    shape cur_shape, new_shape = {0};
    shape_sst *outs = calloc(co->n_ssts ? co->n_ssts : 1, sizeof *outs);
    sst **gone = calloc(n_inputs ? n_inputs : 1, sizeof *gone);
    size_t n_gone = 0;
    if (!outs || !gone) {
        free(outs);
        free(gone);
        return lsm_error(LSM_ENOMEM, "out of memory installing compaction");
    }
    for (size_t i = 0; i < co->n_ssts; i++)
        db_compact_shape_sst_of(co->ssts[i], &outs[i]);
    pthread_mutex_lock(&db->state_mu);
    version *cur = db->current;
    version *nv = NULL;
    int rc = db_compact_shape_from_version(cur, &cur_shape);
    if (rc == LSM_OK) {
        rc = shape_apply(&cur_shape, task, outs, co->n_ssts, &new_shape);
        shape_free(&cur_shape);
    }
    if (rc == LSM_OK && !(nv = version_copy(cur)))
        rc = lsm_error(LSM_ENOMEM, "out of memory installing compaction");
    if (rc == LSM_OK)
        rc = db_compact_set_tree(nv, cur, &new_shape, co->ssts, co->n_ssts);
    if (rc == LSM_OK) {
        /* A move's inputs stay in the tree: nothing to retire. */
        for (size_t i = 0; !co->move && i < n_inputs; i++) {
            sst *t = find_sst(cur, NULL, 0, inputs[i]);
            if (t) {
                sst_ref(t); /* kept past the old version, for retire */
                gone[n_gone++] = t;
            }
        }
        db_stats_apply_locked(db, stats);
        cur = db_swap_locked(db, nv);
        nv = NULL;
    } else {
        cur = NULL;
    }
    pthread_mutex_unlock(&db->state_mu);
    version_unref(cur);
    version_unref(nv);
    shape_free(&new_shape);
    free(outs);
    *removed = gone;
    *n_removed = n_gone;
    if (rc != LSM_OK) {
        free(gone);
        *removed = NULL;
        *n_removed = 0;
    }
    return rc;
}

/* A task's input SSTs, newest data first, and the runs they come from. */
typedef struct compaction_inputs {
    size_t n_ids;
    uint64_t *ids;
    size_t n_runs;
    lsm_input_run *runs;
    bool move; /* the task runs as a trivial move */
} compaction_inputs;

static void db_compact_inputs_free(compaction_inputs *in)
{
    free(in->ids);
    free(in->runs);
    memset(in, 0, sizeof *in);
}

/* Lists the task's inputs as they are in version v, and whether the
 * task runs as a trivial move. */
static int db_compact_inputs_get(const lsm_db *db, version *v,
                                 const compaction_task *task,
                                 compaction_inputs *in)
{
    shape s;
    memset(in, 0, sizeof *in);
    int rc = db_compact_shape_from_version(v, &s);
    if (rc != LSM_OK)
        return rc;
    in->n_ids = compaction_task_inputs(task, &s, &in->ids);
    in->move = compaction_task_is_move(&db->opt, task, &s);
    if (in->n_ids > 0)
        in->n_runs = compaction_input_runs(&s, in->ids, in->n_ids, &in->runs);
    shape_free(&s);
    if (in->n_ids > 0 && (!in->ids || !in->runs)) {
        db_compact_inputs_free(in);
        return lsm_error(LSM_ENOMEM, "out of memory in compaction");
    }
    return LSM_OK;
}

static void db_compact_emit(lsm_db *db, lsm_event_type type,
                            const compaction_task *task,
                            const compaction_inputs *in,
                            const compaction_out *co)
{
    lsm_event ev = {.type = type,
                    .level = task->n_tiers ? 0 : (int)task->lower_level,
                    .n_inputs = in->n_ids,
                    .inputs = in->ids,
                    .n_input_runs = in->n_runs,
                    .input_runs = in->runs,
                    .reason = task->reason,
                    .trivial_move = in->move};
    if (co) {
        ev.n_outputs = co->ids.n;
        ev.outputs = co->ids.ids;
        ev.size_bytes = co->bytes_written;
    }
    db_emit(db, &ev);
}

/* Appends the compaction's record: its inputs leave, its outputs (with
 * their sizes and key ranges) join the output level or a new tier. */
static int db_compact_record(lsm_db *db, const lsm_compaction_task *task,
                             const compaction_inputs *in,
                             const compaction_out *co)
{
    manifest_sst *added = calloc(co->n_ssts + 1, sizeof *added);
    if (!added)
        return lsm_error(LSM_ENOMEM, "out of memory in compaction");
    for (size_t i = 0; i < co->n_ssts; i++)
        db_manifest_sst_of(co->ssts[i], &added[i]);
    manifest_record rec = {.kind = MANIFEST_COMPACTION,
                           .level =
                               task->n_tiers ? 0 : (uint32_t)task->lower_level,
                           .n_removed = in->n_ids,
                           .removed = in->ids,
                           .n_added = co->ids.n,
                           .added = co->ids.ids,
                           .ssts = added};
    int rc = db_manifest_append(db, &rec);
    free(added);
    return rc;
}

/* The level below a LEVELED task's output level, which its outputs are
 * cut by (compaction_out.grandparent), or NULL: the output level is the
 * last, or the strategy merges whole levels or tiers anyway. */
static const sorted_run *db_compact_grandparent(const lsm_db *db,
                                                const version *v,
                                                const compaction_task *task)
{
    if (db->opt.compaction != LSM_COMPACTION_LEVELED || task->n_tiers ||
        task->lower_level == 0 || task->lower_level >= v->n_levels)
        return NULL;
    return &v->levels[task->lower_level]; /* levels[i] is L(i+1) */
}

/* Writes the task's outputs into co: a merge of its inputs (it is the
 * merge's input, created here, for the caller to destroy), or, for a
 * trivial move, the inputs themselves. Emits COMPACTION_BEGIN first. */
static int db_compact_outputs(lsm_db *db, version *v,
                              const compaction_task *task,
                              const compaction_inputs *in, compaction_out *co,
                              version_filter *vf, iter **it)
{
    if (in->move) {
        db_compact_emit(db, LSM_EVENT_COMPACTION_BEGIN, task, in, NULL);
        return db_compact_move_outputs(v, task, co);
    }
    co->grandparent = db_compact_grandparent(db, v, task);
    *it = db_compact_inputs_iter(v, in->ids, in->n_ids);
    if (!*it)
        return lsm_error(LSM_ENOMEM, "out of memory in compaction");
    range_frags *frags = NULL;
    int rc = db_compact_ranges(v, in->ids, in->n_ids, co, vf, &frags);
    if (rc != LSM_OK)
        return rc;
    db_compact_emit(db, LSM_EVENT_COMPACTION_BEGIN, task, in, NULL);
    rc = db_compact_merge(*it, co, vf);
    range_frags_free(frags);
    if (rc == LSM_OK && co->n_ssts) {
        rc = db->env->sync_dir(db->env, db->dir);
        if (rc == LSM_OK && db_tracing_io(db))
            db_trace_ssts_named(db, co->ids.ids, co->ids.n);
    }
    return rc;
}

/* The level stats of the task; a move reads nothing. */
static int db_compact_stats(const version *v, const compaction_task *task,
                            const compaction_out *co, db_stats_update *stats)
{
    int rc = db_stats_for_compaction(v, task, co->ids.n,
                                     co->ids.n ? co->ids.ids[0] : 0,
                                     co->bytes_written, stats);
    if (rc == LSM_OK && co->move)
        stats->bytes_read_upper = stats->bytes_read_lower = 0;
    return rc;
}

/* Runs one task on version v (referenced by the caller). Caller holds
 * compact_mu. On success *removed and *n_removed are the inputs that left
 * the tree (see db_compact_install; none for a move), for the caller to
 * retire once it has let go of v. */
static int db_compact_run(lsm_db *db, version *v, const compaction_task *task,
                          sst ***removed, size_t *n_removed)
{
    compaction_inputs in;
    compaction_out co = {.db = db};
    db_stats_update stats = {0};
    iter *it = NULL;
    /* Read once, before any input is: read points taken later are at or
     * above it, so they find what they need among the versions kept. */
    version_filter vf;
    version_filter_init(&vf, db_watermark(db), task->output_is_bottom);
    int rc = db_compact_inputs_get(db, v, task, &in);
    if (rc != LSM_OK) {
        version_filter_free(&vf);
        return rc;
    }
    /* A move's SSTs are live inputs: a failure must never delete them. */
    co.move = co.keep_files = in.move;
    if (task->n_tiers)
        snprintf(co.why, sizeof co.why, "compaction into a new tier");
    else
        snprintf(co.why, sizeof co.why, "%s into L%zu",
                 in.move ? "move" : "compaction", task->lower_level);
    rc = db_compact_outputs(db, v, task, &in, &co, &vf, &it);
    version_filter_free(&vf);
    if (rc == LSM_OK)
        rc = db_compact_stats(v, task, &co, &stats);
    bool maybe_recorded = false;
    if (rc == LSM_OK) {
        maybe_recorded = true;
        rc = db_compact_record(db, task, &in, &co);
    }
    if (rc == LSM_OK)
        rc = db_compact_install(db, task, in.ids, in.n_ids, &co, &stats,
                                removed, n_removed);
    if (rc == LSM_OK) {
        COUNTER_ADD(&db->ctrs, compactions, 1);
        COUNTER_ADD(&db->ctrs, compaction_bytes_written, co.bytes_written);
        COUNTER_ADD(&db->ctrs, versions_dropped, vf.dropped);
        COUNTER_ADD(&db->ctrs, versions_kept, vf.kept);
        db_compact_emit(db, LSM_EVENT_COMPACTION_END, task, &in, &co);
        /* The installed version holds the outputs now; drop ours. */
        for (size_t i = 0; i < co.n_ssts; i++)
            sst_unref(co.ssts[i]);
        co.n_ssts = 0;
    } else {
        lsm_error_wrap(rc, "%s failed", co.why);
    }
    if (rc != LSM_OK && maybe_recorded) {
        /* The manifest may now say this compaction happened while the tree
         * in memory says it did not: stop changing the tree until a reopen
         * settles which is true. The outputs stay on disk for that. */
        db_latch_error(db, rc);
        co.keep_files = true;
    }
    db_stats_update_free(&stats);
    iter_destroy(it);
    db_compact_out_discard(&co);
    db_compact_inputs_free(&in);
    return rc;
}

/* Picks and runs one task (full, or what the strategy asks for) on the
 * current version. *ran says whether there was one. Takes compact_mu. */
static int db_compact_step(lsm_db *db, bool full, bool *ran)
{
    compaction_task task = {0};
    shape s;
    sst **removed = NULL;
    size_t n_removed = 0;
    *ran = false;
    pthread_mutex_lock(&db->compact_mu);
    int rc = db_may_change_tree(db);
    version *v = rc == LSM_OK ? db_ref_current(db) : NULL;
    if (v)
        rc = db_compact_shape_from_version(v, &s);
    if (v && rc == LSM_OK) {
        rc = full ? compact_pick_full(&db->opt, &s, &task, ran)
                  : compact_pick(&db->opt, &s, &task, ran);
        shape_free(&s);
    }
    if (rc == LSM_OK && *ran)
        rc = db_compact_run(db, v, &task, &removed, &n_removed);
    compaction_task_free(&task);
    version_unref(v);
    /* The compaction's readers are gone: its inputs may go too. */
    db_pins_retire(db, removed, n_removed);
    free(removed);
    pthread_mutex_unlock(&db->compact_mu);
    return rc;
}

int db_compact_until_settled(lsm_db *db)
{
    bool ran = true;
    int rc = LSM_OK;
    while (rc == LSM_OK && ran)
        rc = db_compact_step(db, false, &ran);
    return rc;
}

int lsm_compact_full(lsm_db *db)
{
    int rc = db_begin_change(db, "lsm_compact_full");
    if (rc != LSM_OK)
        return rc;
    bool ran;
    rc = db_compact_step(db, true, &ran);
    /* In inline mode the strategy gets its say afterwards, as after a
     * flush, so the tree is always in the shape its rules give. */
    if (rc == LSM_OK && db->opt.sched == LSM_SCHED_INLINE)
        rc = db_compact_until_settled(db);
    return rc;
}

/* Tests only: runs the idle hook, if one is set, with no lock held. */
static void db_compact_thread_idle(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    void (*hook)(lsm_db *, void *) = db->compaction_idle_hook;
    void *ctx = db->compaction_idle_ctx;
    pthread_mutex_unlock(&db->state_mu);
    if (hook)
        hook(db, ctx);
}

/* The compaction thread of threads mode: asks the strategy for a task
 * whenever the tree changed since it last found nothing to do, and runs it.
 * Every publish (db_swap_locked) bumps version_number and broadcasts
 * state_cv, so no change goes unseen. Compactions run back to back while
 * tasks are due: a writer stalled on L0 waits for exactly this. */
void *db_compaction_thread_main(void *arg)
{
    lsm_db *db = arg;
    bool idle = false; /* nothing was due on version idle_number */
    uint64_t idle_number = 0;
    pthread_mutex_lock(&db->state_mu);
    for (;;) {
        while (!db->stopping && db->bg_error == LSM_OK && idle &&
               db->version_number == idle_number)
            pthread_cond_wait(&db->state_cv, &db->state_mu);
        if (db->stopping || db->bg_error != LSM_OK)
            break;
        /* The step looks at this version or a newer one: if it finds
         * nothing, nothing is due on this one. */
        uint64_t examined = db->version_number;
        pthread_mutex_unlock(&db->state_mu);
        bool ran;
        int rc = db_compact_step(db, false, &ran);
        if (rc != LSM_OK)
            db_latch_error(db, rc);
        else if (!ran)
            db_compact_thread_idle(db);
        pthread_mutex_lock(&db->state_mu);
        idle = !ran;
        idle_number = examined;
    }
    pthread_mutex_unlock(&db->state_mu);
    return NULL;
}
