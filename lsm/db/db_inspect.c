/*
 * db_inspect.c: reading one file on its own, for inspectors (lsm.h,
 * "Inspecting files"): a WAL's records here; a MANIFEST's is
 * lsm_manifest_read_file (db_state.c), next to lsm_manifest_read.
 *
 * Nothing here needs or touches an open database, and nothing writes.
 */
#include "lsm.h"

#include "db/db_int.h"
#include "log/log_int.h"
#include "log/wal_int.h"
#include "table/sst_int.h"
#include "util/env_int.h"
#include "util/status_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- WAL ------------------------------------------------------------------ */

/* The records read so far. */
typedef struct wal_list {
    const char *path; /* for messages */
    lsm_wal_record *recs;
    size_t n, cap;
} wal_list;

/* What one record holds, counted before anything is copied. */
typedef struct wal_count {
    size_t n_entries;
    size_t key_bytes;
} wal_count;

static int wal_count_entry(void *ctx, uint64_t seq, uint8_t type,
                           const uint8_t *key, size_t nkey,
                           const uint8_t *value, size_t nvalue)
{
    (void)seq, (void)key, (void)value;
    wal_count *c = ctx;
    c->n_entries++;
    c->key_bytes += nkey + (type == ENTRY_RANGE_DEL ? nvalue : 0);
    return LSM_OK;
}

/* Copies entries into a record whose entries array is followed, in the
 * same allocation, by room for their keys (at keys). */
typedef struct wal_fill {
    lsm_wal_record *rec;
    uint8_t *keys;
} wal_fill;

static int wal_fill_entry(void *ctx, uint64_t seq, uint8_t type,
                          const uint8_t *key, size_t nkey, const uint8_t *value,
                          size_t nvalue)
{
    wal_fill *f = ctx;
    lsm_wal_entry *e = &f->rec->entries[f->rec->n_entries++];
    memcpy(f->keys, key, nkey);
    *e = (lsm_wal_entry){.seq = seq,
                         .tombstone = type == ENTRY_TOMBSTONE,
                         .key = f->keys,
                         .nkey = nkey,
                         .value_bytes = nvalue};
    f->keys += nkey;
    if (type == ENTRY_RANGE_DEL) { /* the value is the range's end */
        memcpy(f->keys, value, nvalue);
        e->range_delete = 1;
        e->end = f->keys;
        e->nend = nvalue;
        f->keys += nvalue;
    }
    return LSM_OK;
}

static int wal_list_grow(wal_list *l)
{
    if (l->n < l->cap)
        return LSM_OK;
    size_t cap = l->cap ? 2 * l->cap : 32;
    lsm_wal_record *grown = realloc(l->recs, cap * sizeof *grown);
    if (!grown)
        return lsm_error(LSM_ENOMEM, "out of memory reading a WAL");
    l->recs = grown;
    l->cap = cap;
    return LSM_OK;
}

/* log_scan's callback: one record, checked whole by wal_decode_record
 * (counting), then copied. */
static int wal_list_add(void *ctx, uint64_t offset, const uint8_t *payload,
                        size_t n)
{
    wal_list *l = ctx;
    wal_count count = {0};
    int rc = wal_decode_record(payload, n, wal_count_entry, &count);
    if (rc == LSM_ECORRUPT) { /* name the file and the record */
        char why[256];
        snprintf(why, sizeof why, "%s", lsm_errmsg());
        return lsm_corrupt("%s: record at offset %llu: %s", l->path,
                           (unsigned long long)offset, why);
    }
    if (rc == LSM_OK)
        rc = wal_list_grow(l);
    if (rc != LSM_OK)
        return rc;
    lsm_wal_record *rec = &l->recs[l->n];
    *rec = (lsm_wal_record){.offset = offset, .bytes = LOG_HEADER_BYTES + n};
    rec->entries =
        malloc(count.n_entries * sizeof *rec->entries + count.key_bytes);
    if (!rec->entries)
        return lsm_error(LSM_ENOMEM, "out of memory reading a WAL");
    wal_fill fill = {rec, (uint8_t *)(rec->entries + count.n_entries)};
    rc = wal_decode_record(payload, n, wal_fill_entry, &fill);
    if (rc != LSM_OK) {
        free(rec->entries);
        return rc;
    }
    l->n++;
    return LSM_OK;
}

int lsm_wal_read_file(const char *path, lsm_wal_record **out, size_t *n,
                      lsm_log_extent *extent)
{
    uint8_t *data = NULL;
    uint64_t size = 0, valid_end = 0;
    wal_list l = {.path = path};
    lsm_error_clear();
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!path || !out || !n)
        return lsm_error(LSM_EINVAL, "lsm_wal_read_file needs a path and "
                                     "somewhere to put the records");
    int rc = log_read_file(env_posix(), path, &data, &size);
    if (rc == LSM_OK)
        rc = log_scan(path, data, size, wal_list_add, &l, &valid_end);
    free(data);
    if (extent)
        *extent =
            (lsm_log_extent){.file_bytes = size, .valid_bytes = valid_end};
    /* Damage keeps what came before it: the inspector shows it. */
    if (rc != LSM_OK && rc != LSM_ECORRUPT) {
        lsm_wal_free(l.recs, l.n);
        return rc;
    }
    *out = l.recs;
    *n = l.n;
    return rc;
}

void lsm_wal_free(lsm_wal_record *records, size_t n)
{
    if (!records)
        return;
    for (size_t i = 0; i < n; i++)
        free(records[i].entries);
    free(records);
}

/* --- SST ------------------------------------------------------------------ */

/* A report and the one allocation its keys live in. */
typedef struct sst_report_alloc {
    lsm_sst_report pub; /* first: lsm_sst_report_free casts back */
    uint8_t *keys;
} sst_report_alloc;

void lsm_sst_report_free(lsm_sst_report *r)
{
    if (!r)
        return;
    sst_report_alloc *a = (sst_report_alloc *)r;
    free(a->keys);
    free(r->blocks);
    free(r->range_tombstones);
    free(a);
}

/* The file's range tombstones, as sst_open read and checked them. */
static int report_range_tombstones(const sst *t, lsm_sst_report *r)
{
    size_t n;
    const range_tomb *v = sst_range_tombs(t, &n);
    return db_copy_range_tombs(v, n, &r->range_tombstones,
                               &r->n_range_tombstones);
}

/* Copies n bytes to *at and advances it; returns where they went. */
static const void *take_key(uint8_t **at, const uint8_t *key, size_t n)
{
    const void *copy = *at;
    memcpy(*at, key, n);
    *at += n;
    return copy;
}

/* The footer's and index's facts, and room for their keys. */
static int report_layout(sst *t, sst_report_alloc *a)
{
    lsm_sst_report *r = &a->pub;
    sst_layout l;
    sst_inspect_layout(t, &l);
    r->file_bytes = sst_file_size(t);
    r->format_version = l.format_version;
    r->sst_id = sst_recorded_id(t);
    memcpy(r->db_identity, sst_db_identity(t), LSM_IDENTITY_BYTES);
    r->num_entries = sst_num_entries(t);
    r->num_blocks = sst_num_blocks(t);
    r->max_seq = sst_max_seq(t);
    r->filter_offset = l.filter_offset;
    r->filter_bytes = l.filter_bytes;
    r->index_offset = l.index_offset;
    r->index_bytes = l.index_bytes;
    r->meta_offset = l.meta_offset;
    r->meta_bytes = l.meta_bytes;
    size_t key_bytes = 0, nfirst, nlast;
    const uint8_t *first = sst_first_key(t, &nfirst);
    const uint8_t *last = sst_last_key(t, &nlast);
    key_bytes = nfirst + nlast;
    sst_block_record br;
    for (uint64_t i = 0; i < r->num_blocks; i++) {
        sst_inspect_block_record(t, i, &br);
        key_bytes += br.n_first_key + br.n_last_key;
    }
    /* An SST of range tombstones alone has no block: one element at least,
     * since calloc(0) and malloc(0) may return NULL, which is not out of
     * memory. */
    r->blocks = calloc(r->num_blocks ? r->num_blocks : 1, sizeof *r->blocks);
    a->keys = malloc(key_bytes ? key_bytes : 1);
    if (!r->blocks || !a->keys)
        return lsm_error(LSM_ENOMEM, "out of memory inspecting an SST");
    uint8_t *at = a->keys;
    r->first_key = take_key(&at, first, nfirst);
    r->nfirst_key = nfirst;
    r->last_key = take_key(&at, last, nlast);
    r->nlast_key = nlast;
    for (uint64_t i = 0; i < r->num_blocks; i++) {
        lsm_sst_block_info *b = &r->blocks[i];
        sst_inspect_block_record(t, i, &br);
        b->offset = br.offset;
        b->bytes = br.bytes;
        b->compression = (lsm_compression)br.kind; /* the same numbers */
        b->raw_bytes = br.raw_bytes;
        b->first_key = take_key(&at, br.first_key, br.n_first_key);
        b->nfirst_key = br.n_first_key;
        b->last_key = take_key(&at, br.last_key, br.n_last_key);
        b->nlast_key = br.n_last_key;
    }
    return LSM_OK;
}

/* Walking the blocks: the last user key seen (to count distinct keys,
 * whose versions may run on into the next block) and the block counted. */
typedef struct block_walk {
    lsm_sst_block_info *info;
    uint8_t prev[LSM_MAX_KEY_BYTES];
    size_t nprev;      /* 0: no key yet */
    uint64_t prev_seq; /* the last entry's seq */
    bool block_start;  /* the next entry is its block's first */
    bool stale_start;  /* ... and it was not older than the versions of
                        * its key the previous block ended with */
    uint64_t distinct;
    uint64_t newest; /* the largest seq seen */
} block_walk;

static int walk_entry(void *ctx, const block_entry *e)
{
    block_walk *w = ctx;
    uint8_t key[LSM_MAX_KEY_BYTES];
    size_t nkey = block_entry_nkey(e);
    block_entry_copy_key(e, key);
    bool same_key = w->nprev == nkey && memcmp(w->prev, key, nkey) == 0;
    /* FORMAT.md: versions of a key running on into the next block stay
     * newest first (block_decode checks inside a block; a read checks
     * across the boundary, and so does this). */
    if (w->block_start && same_key && e->seq >= w->prev_seq)
        w->stale_start = true;
    w->block_start = false;
    w->info->entries++;
    w->info->whole_keys += e->n_prefix == 0;
    w->info->key_bytes += nkey;
    w->info->shared_bytes += e->n_prefix;
    if (!same_key) {
        w->distinct++;
        memcpy(w->prev, key, nkey);
        w->nprev = nkey;
    }
    w->prev_seq = e->seq;
    w->newest = e->seq > w->newest ? e->seq : w->newest;
    return LSM_OK;
}

/* Reads block i; a block whose first entry breaks the order across the
 * boundary is damaged too, as a read finds it. */
static int walk_block(sst *t, const char *path, uint64_t i, block_walk *w)
{
    w->block_start = true;
    w->stale_start = false;
    int rc = sst_inspect_block(t, i, walk_entry, w);
    if (rc == LSM_OK && w->stale_start)
        rc = lsm_corrupt("%s: data block %llu at offset %llu: its first "
                         "entry is not older than the previous block's "
                         "last version of the same key",
                         path, (unsigned long long)i,
                         (unsigned long long)w->info->offset);
    return rc;
}

/* What the footer promises against what the blocks hold: its entry count
 * and its newest seq. */
static int check_footer_counts(const char *path, const lsm_sst_report *r,
                               const block_walk *w)
{
    uint64_t entries = 0;
    for (uint64_t i = 0; i < r->num_blocks; i++)
        entries += r->blocks[i].entries;
    if (entries != r->num_entries)
        return lsm_corrupt("%s: the footer says %llu entries, the blocks "
                           "hold %llu",
                           path, (unsigned long long)r->num_entries,
                           (unsigned long long)entries);
    if (w->newest > r->max_seq)
        return lsm_corrupt("%s: an entry has seq %llu, newer than the "
                           "footer's newest seq %llu",
                           path, (unsigned long long)w->newest,
                           (unsigned long long)r->max_seq);
    return LSM_OK;
}

/* Reads every data block; the first damaged one's error is returned
 * (and its message kept), the others marked. With no damaged block, the
 * footer's counts are checked against the blocks. */
static int report_blocks(sst *t, const char *path, lsm_sst_report *r)
{
    block_walk *w = calloc(1, sizeof *w);
    if (!w)
        return lsm_error(LSM_ENOMEM, "out of memory inspecting an SST");
    int first_rc = LSM_OK;
    char first_msg[512] = "";
    for (uint64_t i = 0; i < r->num_blocks; i++) {
        w->info = &r->blocks[i];
        int rc = walk_block(t, path, i, w);
        if (rc == LSM_OK)
            continue;
        if (rc == LSM_ENOMEM || rc == LSM_EIO) {
            free(w);
            return rc;
        }
        *w->info = (lsm_sst_block_info){.offset = w->info->offset,
                                        .bytes = w->info->bytes,
                                        .first_key = w->info->first_key,
                                        .nfirst_key = w->info->nfirst_key,
                                        .last_key = w->info->last_key,
                                        .nlast_key = w->info->nlast_key,
                                        .damaged = 1};
        r->damaged_blocks++;
        w->nprev = 0; /* a key may not continue across the damage */
        if (first_rc == LSM_OK) {
            first_rc = rc;
            snprintf(first_msg, sizeof first_msg, "%s", lsm_errmsg());
        }
    }
    r->distinct_keys = w->distinct;
    if (first_rc == LSM_OK && check_footer_counts(path, r, w) != LSM_OK) {
        first_rc = LSM_ECORRUPT;
        snprintf(first_msg, sizeof first_msg, "%s", lsm_errmsg());
    }
    free(w);
    if (first_rc != LSM_OK)
        return lsm_error(first_rc, "%s", first_msg);
    return LSM_OK;
}

static void report_filter(sst *t, lsm_sst_report *r)
{
    sst_inspect_filter(t, &r->filter_bits, &r->filter_probes,
                       &r->filter_bits_set);
    if (r->distinct_keys)
        r->bits_per_key = (double)r->filter_bits / (double)r->distinct_keys;
    if (r->filter_bits) {
        double fill = (double)r->filter_bits_set / (double)r->filter_bits;
        r->estimated_fp_rate = 1.0;
        for (unsigned i = 0; i < r->filter_probes; i++)
            r->estimated_fp_rate *= fill;
    }
}

/* The prefix record, if the file has one (decoded and checked at open). */
static void report_prefix(sst *t, lsm_sst_report *r)
{
    const prefix_record *p = sst_prefix(t);
    r->prefix_delim = -1;
    if (!p)
        return;
    r->has_prefix = 1;
    if (p->extractor.kind == PREFIX_FIXED)
        r->prefix_len = p->extractor.len;
    else
        r->prefix_delim = p->extractor.delim;
    r->prefix_count = p->n_prefixes;
    r->prefix_filter_bits = (uint64_t)p->filter.n_bytes * 8;
    r->prefix_filter_probes = p->filter.k;
}

/* Opens the file at path as an SST, without a cache (its index and
 * filter are then kept while it is open) and without mapping it. */
static int inspect_open(const char *path, sst **out)
{
    if (!path)
        return lsm_error(LSM_EINVAL, "no SST path to inspect");
    return sst_open(env_posix(), path, 0, NULL, NULL, false, out);
}

int lsm_sst_inspect(const char *path, lsm_sst_report **out)
{
    lsm_error_clear();
    if (!out)
        return lsm_error(LSM_EINVAL, "lsm_sst_inspect needs somewhere to "
                                     "put the report");
    *out = NULL;
    sst *t = NULL;
    int rc = inspect_open(path, &t);
    if (rc != LSM_OK)
        return rc;
    sst_report_alloc *a = calloc(1, sizeof *a);
    if (!a) {
        sst_unref(t);
        return lsm_error(LSM_ENOMEM, "out of memory inspecting %s", path);
    }
    rc = report_layout(t, a);
    if (rc == LSM_OK)
        rc = report_range_tombstones(t, &a->pub);
    if (rc == LSM_OK)
        rc = report_blocks(t, path, &a->pub);
    if (rc == LSM_OK || rc == LSM_ECORRUPT)
        report_filter(t, &a->pub);
    report_prefix(t, &a->pub);
    sst_unref(t);
    if (rc != LSM_OK && rc != LSM_ECORRUPT) {
        lsm_sst_report_free(&a->pub);
        return rc;
    }
    *out = &a->pub; /* with damaged blocks marked, on LSM_ECORRUPT */
    return rc;
}

/* Collecting one block's entries: counted first, then copied. */
typedef struct entry_list {
    lsm_sst_entry *entries;
    size_t n;
    size_t key_bytes; /* counting: the keys' bytes */
    uint8_t *keys;    /* copying: where the next key goes */
} entry_list;

static int count_entry(void *ctx, const block_entry *e)
{
    entry_list *l = ctx;
    l->n++;
    l->key_bytes += block_entry_nkey(e);
    return LSM_OK;
}

static int copy_entry(void *ctx, const block_entry *e)
{
    entry_list *l = ctx;
    size_t nkey = block_entry_nkey(e);
    block_entry_copy_key(e, l->keys);
    l->entries[l->n++] = (lsm_sst_entry){.key = l->keys,
                                         .nkey = nkey,
                                         .seq = e->seq,
                                         .tombstone = e->type == 0,
                                         .value_bytes = e->nvalue,
                                         .shared_bytes = e->n_prefix,
                                         .unshared_bytes = e->n_suffix};
    l->keys += nkey;
    return LSM_OK;
}

int lsm_sst_block_entries(const char *path, uint64_t block_index,
                          lsm_sst_entry **out, size_t *n)
{
    lsm_error_clear();
    if (!out || !n)
        return lsm_error(LSM_EINVAL, "lsm_sst_block_entries needs somewhere "
                                     "to put the entries");
    *out = NULL;
    *n = 0;
    sst *t = NULL;
    int rc = inspect_open(path, &t);
    if (rc != LSM_OK)
        return rc;
    entry_list l = {0};
    if (block_index >= sst_num_blocks(t))
        rc = lsm_error(LSM_EINVAL, "%s has %llu data blocks: no block %llu",
                       path, (unsigned long long)sst_num_blocks(t),
                       (unsigned long long)block_index);
    if (rc == LSM_OK)
        rc = sst_inspect_block(t, block_index, count_entry, &l);
    if (rc == LSM_OK) {
        /* The entries, then their keys, in one allocation. */
        l.entries = malloc(l.n * sizeof *l.entries + l.key_bytes);
        if (!l.entries)
            rc = lsm_error(LSM_ENOMEM, "out of memory reading %s", path);
        l.keys = (uint8_t *)(l.entries + l.n);
        l.n = 0;
    }
    if (rc == LSM_OK)
        rc = sst_inspect_block(t, block_index, copy_entry, &l);
    sst_unref(t);
    if (rc != LSM_OK) {
        free(l.entries);
        return rc;
    }
    *out = l.entries;
    *n = l.n;
    return LSM_OK;
}

void lsm_sst_entries_free(lsm_sst_entry *entries, size_t n)
{
    (void)n; /* one allocation */
    free(entries);
}

int lsm_sst_measure_filter(const char *path, uint64_t n_probes,
                           uint64_t *probes, uint64_t *false_positives)
{
    lsm_error_clear();
    if (!probes || !false_positives)
        return lsm_error(LSM_EINVAL, "lsm_sst_measure_filter needs somewhere "
                                     "to put the counts");
    *probes = *false_positives = 0;
    sst *t = NULL;
    int rc = inspect_open(path, &t);
    for (uint64_t i = 0; rc == LSM_OK && i < n_probes; i++) {
        char key[32];
        int nkey =
            snprintf(key, sizeof key, "lsm-probe-%llu", (unsigned long long)i);
        if (!sst_inspect_filter_may_contain(t, (const uint8_t *)key,
                                            (size_t)nkey)) {
            ++*probes; /* a true negative */
            continue;
        }
        bool found = false;
        entry e;
        void *owned = NULL;
        rc = sst_get(t, (const uint8_t *)key, (size_t)nkey, UINT64_MAX, &found,
                     &e, &owned);
        free(owned);
        if (rc == LSM_OK && !found) {
            ++*probes;
            ++*false_positives;
        }
    }
    sst_unref(t);
    return rc;
}
