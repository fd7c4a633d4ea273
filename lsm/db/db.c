/*
 * db.c: what the engine's files share: option defaults and names, file
 * paths, events, the published version (db_ref_current, db_swap_locked),
 * ids, latched background errors and the checks before a change, and id
 * lists. The write path is db_write.c, freezing and flushing db_flush.c,
 * compaction db_compact.c, open and close db_open.c, reads db_iter.c,
 * snapshots of the state db_state.c, group commit db_sync.c.
 *
 * Errors of work done on behalf of a write (a flush it triggered, the flush
 * thread) are latched in bg_error: the write that triggered them already
 * succeeded, and every later write returns the error instead.
 */
#include "db/db_int.h"

#include "util/status_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- small helpers -------------------------------------------------------- */

void lsm_options_init(lsm_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->enable_wal = 1;
    opt->sync = 0;
    opt->target_sst_size = 2u * 1024u * 1024u;
    opt->block_size = 4096;
    opt->num_memtable_limit = 3;
    opt->block_cache_bytes = 8u * 1024u * 1024u;
    opt->bloom_bits_per_key = 10;
    opt->sched = LSM_SCHED_INLINE;
    opt->compaction = LSM_COMPACTION_LEVELED;
    /* Strategy defaults: mini-lsm's (and its CLI's). */
    opt->max_levels = 4;
    opt->level0_file_num_compaction_trigger = 2;
    opt->size_ratio_percent = 200;
    opt->base_level_size_mb = 128;
    opt->level_size_multiplier = 2;
    opt->num_tiers = 3;
    opt->max_size_amplification_percent = 200;
    opt->size_ratio = 1;
    opt->min_merge_width = 2;
    opt->max_merge_width = 0;
    opt->stall_memtables = 8;
    opt->stall_l0_files = 12;
    opt->manifest_rewrite_bytes = 1024 * 1024;
    opt->memtable_bloom = 1;
    opt->prefix_delim = -1;
}

const char *lsm_compaction_name(lsm_compaction c)
{
    switch (c) {
    case LSM_COMPACTION_NONE:
        return "none";
    case LSM_COMPACTION_SIMPLE:
        return "simple";
    case LSM_COMPACTION_TIERED:
        return "tiered";
    case LSM_COMPACTION_LEVELED:
        return "leveled";
    }
    return "unknown";
}

const char *lsm_leveled_pick_name(lsm_leveled_pick p)
{
    switch (p) {
    case LSM_LEVELED_PICK_OLDEST:
        return "oldest";
    case LSM_LEVELED_PICK_MIN_OVERLAP:
        return "min-overlap";
    }
    return "unknown";
}

const char *lsm_level_sizes_name(lsm_level_sizes s)
{
    switch (s) {
    case LSM_LEVEL_SIZES_DYNAMIC:
        return "dynamic";
    case LSM_LEVEL_SIZES_STATIC:
        return "static";
    }
    return "unknown";
}

void lsm_free(void *p)
{
    free(p);
}

/* LSM_VERSION_STRING as this library was compiled: a program built against
 * another version's lsm.h sees its own macro differ from this. */
const char *lsm_version(void)
{
    return LSM_VERSION_STRING;
}

/* Writes "<dir>/<name>" into buf. */
int db_path(const lsm_db *db, const char *name, char *buf)
{
    int n = snprintf(buf, DB_PATH_BYTES, "%s/%s", db->dir, name);
    if (n < 0 || n >= DB_PATH_BYTES)
        return lsm_error(LSM_EINVAL, "path too long: %s/%s", db->dir, name);
    return LSM_OK;
}

int db_wal_path(const lsm_db *db, uint64_t memtable_id, char *buf)
{
    char name[32];
    snprintf(name, sizeof name, "%" PRIu64 ".wal", memtable_id);
    return db_path(db, name, buf);
}

int db_sst_path(const lsm_db *db, uint64_t sst_id, char *buf)
{
    char name[32];
    snprintf(name, sizeof name, "%" PRIu64 ".sst", sst_id);
    return db_path(db, name, buf);
}

int db_sst_open(lsm_db *db, const char *path, uint64_t sst_id, sst **out)
{
    sst_open_options o = {
        .map_file = db->opt.mmap_reads != 0,
        .cache_meta = db->opt.cache_index_and_filter_blocks != 0,
    };
    return sst_open_with(db->env, path, sst_id, db->cache, &db->ctrs, &o, out);
}

/* How many levels below L0 a strategy starts with (mini-lsm's layout):
 * max_levels for SIMPLE and LEVELED, one (L1, where full compaction puts
 * its output) for NONE, and none for TIERED, whose runs are tiers that
 * flushes add and compactions merge. */
size_t levels_for(const lsm_options *opt)
{
    switch (opt->compaction) {
    case LSM_COMPACTION_SIMPLE:
    case LSM_COMPACTION_LEVELED:
        return opt->max_levels;
    case LSM_COMPACTION_TIERED:
        return 0; /* tiers come and go */
    default:
        return 1;
    }
}

void db_emit(lsm_db *db, const lsm_event *ev)
{
    if (db->opt.event_cb)
        db->opt.event_cb(db->opt.event_ctx, ev);
}

version *db_ref_current_and_seq(lsm_db *db, uint64_t *visible)
{
    pthread_mutex_lock(&db->state_mu);
    *visible = atomic_load_explicit(&db->visible_seq, memory_order_acquire);
    version *v = db->current;
    version_ref(v);
    pthread_mutex_unlock(&db->state_mu);
    return v;
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
 * flush in threads mode) would be lost. Every publish goes through here,
 * so debug builds check nv's invariants here (version_check). Returns the
 * old version, which the caller unrefs after unlocking. */
version *db_swap_locked(lsm_db *db, version *nv)
{
    version_check(nv);
    version *old = db->current;
    db->current = nv;
    db->version_number++;
    pthread_cond_broadcast(&db->state_cv);
    return old;
}

uint64_t db_take_id(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    uint64_t id = db->next_id++;
    pthread_mutex_unlock(&db->state_mu);
    return id;
}

/* Latches rc and forbids any further change to the tree (see halted). */
void db_halt(lsm_db *db, int rc)
{
    db_latch_error(db, rc);
    pthread_mutex_lock(&db->state_mu);
    db->halted = true;
    pthread_mutex_unlock(&db->state_mu);
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
void db_latch_error(lsm_db *db, int rc)
{
    char message[DB_BG_MESSAGE_BYTES];
    snprintf(message, sizeof message, "%s", lsm_errmsg());
    pthread_mutex_lock(&db->state_mu);
    bool first = db->bg_error == LSM_OK;
    if (first) {
        db->bg_error = rc;
        memcpy(db->bg_message, message, sizeof message);
        /* Wake stalled writers and idle threads: they wait for progress
         * that will not come now. */
        pthread_cond_broadcast(&db->state_cv);
    }
    pthread_mutex_unlock(&db->state_mu);
    if (first) {
        lsm_event ev = {
            .type = LSM_EVENT_BACKGROUND_ERROR, .rc = rc, .message = message};
        db_emit(db, &ev);
    }
}

void db_manifest_sst_of(const sst *t, manifest_sst *out)
{
    out->id = sst_id(t);
    out->file_size = sst_file_size(t);
    out->first_key = sst_first_key(t, &out->nfirst_key);
    out->last_key = sst_last_key(t, &out->nlast_key);
}

/* A rewrite's steps, as LSM_EVENT_IO (db_manifest_rewrite). */
typedef struct rewrite_trace {
    lsm_db *db;
    const char *why;
} rewrite_trace;

static void db_manifest_rewrite_step(void *ctx, manifest_rewrite_step step,
                                     const char *path, uint64_t bytes)
{
    rewrite_trace *rt = ctx;
    lsm_db *db = rt->db;
    const manifest_tree *t = manifest_tree_of(db->manifest);
    switch (step) {
    case MANIFEST_REWRITE_CREATED:
        DB_TRACE_IO(db, LSM_IO_FILE_CREATE, path, 0, "%s", rt->why);
        break;
    case MANIFEST_REWRITE_WRITTEN:
        DB_TRACE_IO(db, LSM_IO_MANIFEST_APPEND, path, bytes,
                    "snapshot: %zu SST(s), %zu memtable(s), next id %" PRIu64,
                    manifest_tree_n_ssts(t), t->n_mems, t->next_id);
        break;
    case MANIFEST_REWRITE_SYNCED:
        DB_TRACE_IO(db, LSM_IO_MANIFEST_SYNC, path, 0, "snapshot");
        break;
    case MANIFEST_REWRITE_NAMED:
        DB_TRACE_IO(db, LSM_IO_DIR_SYNC, NULL, 0, "MANIFEST.new created");
        break;
    case MANIFEST_REWRITE_RENAMED:
        DB_TRACE_IO(db, LSM_IO_FILE_RENAME, path, 0, "replaces MANIFEST");
        break;
    case MANIFEST_REWRITE_DIR_SYNCED:
        DB_TRACE_IO(db, LSM_IO_DIR_SYNC, NULL, 0, "MANIFEST replaced");
        break;
    }
}

int db_manifest_rewrite(lsm_db *db, const char *why)
{
    rewrite_trace rt = {.db = db, .why = why};
    return manifest_rewrite(db->manifest, db->dir, db_manifest_rewrite_step,
                            &rt);
}

/* Past the threshold: rewrite. A failure is not the append's (its record
 * is safely in the old file, which stays in use): it is reported, and
 * tried again after another threshold's worth of records. */
static void db_manifest_rewrite_if_due(lsm_db *db)
{
    uint64_t threshold = db->opt.manifest_rewrite_bytes;
    uint64_t since = manifest_bytes_since_snapshot(db->manifest);
    if (threshold == 0 || since < db->manifest_rewrite_at)
        return;
    char why[96];
    snprintf(why, sizeof why,
             "manifest rewrite: %" PRIu64 " bytes of records since the "
             "snapshot",
             since);
    if (db_manifest_rewrite(db, why) == LSM_OK) {
        db->manifest_rewrite_at = threshold;
        return;
    }
    db->manifest_rewrite_at = since + threshold;
    char message[DB_BG_MESSAGE_BYTES];
    snprintf(message, sizeof message,
             "MANIFEST: rewrite failed, appending to the old one: %s",
             lsm_errmsg());
    lsm_event ev = {.type = LSM_EVENT_WARNING, .message = message};
    db_emit(db, &ev);
}

/* The trace's steps are sent under manifest_mu, so that they come in the
 * order the records are in the file, whichever threads appended them. */
int db_manifest_append(lsm_db *db, const manifest_record *rec)
{
    pthread_mutex_lock(&db->manifest_mu);
    int rc = manifest_append(db->manifest, rec);
    if (rc == LSM_OK && db_tracing_io(db))
        db_trace_manifest(db, rec, manifest_last_append_bytes(db->manifest));
    if (rc == LSM_OK)
        db_manifest_rewrite_if_due(db);
    pthread_mutex_unlock(&db->manifest_mu);
    return rc;
}

int db_may_change_tree(lsm_db *db)
{
    pthread_mutex_lock(&db->state_mu);
    int rc = db->halted ? db->bg_error : LSM_OK;
    if (rc != LSM_OK)
        lsm_error_set_message(db->bg_message);
    pthread_mutex_unlock(&db->state_mu);
    if (rc != LSM_OK)
        return rc;
    /* A flush or compaction after a failed manifest append could rewrite
     * or delete a file that the half-recorded change names. */
    pthread_mutex_lock(&db->manifest_mu);
    rc = manifest_status(db->manifest);
    pthread_mutex_unlock(&db->manifest_mu);
    if (rc != LSM_OK)
        return lsm_error(rc, "the manifest lost an append; reopen the "
                             "database to repair it");
    return LSM_OK;
}

int db_refuse_read_only(const lsm_db *db, const char *call)
{
    if (!db->opt.read_only)
        return LSM_OK;
    return lsm_error(LSM_EREADONLY,
                     "%s: %s is open read-only (lsm_options.read_only): "
                     "nothing was written",
                     call, db->dir);
}

/* The checks every public call that changes the tree starts with: a
 * handle, not read-only, and no latched background error. */
int db_begin_change(lsm_db *db, const char *call)
{
    lsm_error_clear();
    if (!db)
        return lsm_error(LSM_EINVAL, "database handle is NULL");
    int rc = db_refuse_read_only(db, call);
    return rc == LSM_OK ? db_check_bg_error(db) : rc;
}

/* --- id lists ------------------------------------------------------------- */

int id_list_push(id_list *l, uint64_t id)
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
