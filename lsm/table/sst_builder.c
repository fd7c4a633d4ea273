/*
 * sst_builder.c: writing an SST front to back (sst_int.h, FORMAT.md "SST
 * files").
 *
 * Entries go into the current data block; when the next entry would take
 * the block past block_size, the block is finished, queued for the file,
 * and its index record (offset, size, first and last user key) is kept in
 * memory. Finished bytes collect in a write buffer of SST_WRITE_BUFFER_BYTES
 * so that small blocks cost one system call per buffer, not per block (the
 * file is fsynced at finish anyway, so nothing is lost by holding them).
 * finish appends the filter, the index, the meta section (format 3: the
 * records features set with sst_builder_set_meta) and the footer, fsyncs
 * and closes.
 *
 * Invariants:
 *   1. Every entry added is strictly greater (internal-key order) than the
 *      one before; last_key / last_seq hold the previous entry.
 *   2. offset is the number of bytes written so far (to the file or to
 *      pending), so it is where the next block starts.
 *   3. pending holds less than SST_WRITE_BUFFER_BYTES between calls.
 *   4. The first I/O or memory failure is latched in rc: the file is then
 *      of no use, every later call reports it, and finish removes the file.
 *      A rejected entry (LSM_EINVAL) is not a failure of the builder.
 *
 * Thread safety: a builder is used by one thread.
 */
#include "table/block_codec_int.h"
#include "table/block_int.h"
#include "table/bloom_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "table/sst_int.h"
#include "table/sst_meta_int.h"
#include "util/status_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finished bytes are written in batches of about this size. */
#define SST_WRITE_BUFFER_BYTES ((size_t)64 << 10)

struct sst_builder {
    env *env;
    char *path;
    env_file *file;
    size_t block_size; /* clamped to 1..BLOCK_MAX_ENTRIES_BYTES */
    block_builder block;
    bloom_builder bloom;
    prefix_extractor prefix;    /* PREFIX_NONE: no prefix record */
    bloom_builder prefix_bloom; /* over the distinct in-domain prefixes */
    byte_buf last_prefix;       /* the last prefix added to it */
    uint64_t n_prefixes;        /* prefixes added */
    byte_buf index;             /* index records of the finished blocks */
    byte_buf last_key;          /* user key of the last entry added */
    byte_buf pending; /* finished bytes not yet appended to the file */
    uint64_t last_seq;
    uint64_t offset;
    uint64_t n_entries;
    uint64_t n_blocks;
    uint64_t max_seq;
    uint64_t sst_id;                         /* for the footer */
    uint8_t db_identity[SST_IDENTITY_BYTES]; /* for the footer */
    block_compressor codec; /* kind BLOCK_KIND_RAW: format-2 records */
    uint64_t raw_bytes;     /* blocks' bytes before compression */
    uint64_t blocks_of_kind[BLOCK_KIND_COUNT];
    uint32_t format_version; /* SST_FORMAT_VERSION or 2 */
    sst_meta_records meta;   /* format 3's meta section */
    bool has_ranges;         /* range tombstones set: may have no entry */
    uint64_t range_max_seq;  /* their newest seq, in the footer's too */
    int rc;
};

/* Frees the builder's memory (the file must already be closed). */
static void sst_builder_free(sst_builder *b)
{
    block_builder_free(&b->block);
    bloom_builder_free(&b->bloom);
    bloom_builder_free(&b->prefix_bloom);
    byte_buf_free(&b->last_prefix);
    block_compressor_free(&b->codec);
    byte_buf_free(&b->index);
    byte_buf_free(&b->last_key);
    byte_buf_free(&b->pending);
    sst_meta_records_free(&b->meta);
    free(b->path);
    free(b);
}

int sst_builder_open(env *e, const char *path, const sst_builder_options *opt,
                     sst_builder **out)
{
    *out = NULL;
    if (!opt || opt->block_size == 0)
        return lsm_error(LSM_EINVAL, "%s: SST block size must be >= 1 byte",
                         path);
    if (opt->compression >= BLOCK_KIND_COUNT)
        return lsm_error(LSM_EINVAL, "%s: unknown block compression %u", path,
                         opt->compression);
    /* Compressed blocks are announced by a meta record (format 3). */
    if (opt->compression != BLOCK_KIND_RAW &&
        opt->format_version == SST_FORMAT_VERSION_OLDEST)
        return lsm_error(LSM_EINVAL,
                         "%s: SST format %u cannot hold compressed blocks",
                         path, opt->format_version);
    if (opt->format_version != 0 &&
        opt->format_version != SST_FORMAT_VERSION_OLDEST &&
        opt->format_version != SST_FORMAT_VERSION)
        return lsm_error(LSM_EINVAL, "%s: SST format %u cannot be written",
                         path, opt->format_version);
    sst_builder *b = calloc(1, sizeof *b);
    if (!b || !(b->path = strdup(path))) {
        free(b);
        return lsm_error(LSM_ENOMEM, "out of memory creating %s", path);
    }
    b->env = e;
    b->sst_id = opt->sst_id;
    b->format_version =
        opt->format_version ? opt->format_version : SST_FORMAT_VERSION;
    if (opt->db_identity)
        memcpy(b->db_identity, opt->db_identity, SST_IDENTITY_BYTES);
    b->block_size = opt->block_size < BLOCK_MAX_ENTRIES_BYTES
                        ? opt->block_size
                        : BLOCK_MAX_ENTRIES_BYTES;
    block_builder_init(&b->block);
    bloom_builder_init(&b->bloom, opt->bloom_bits_per_key);
    /* Format 2 has no meta section to record an extractor in. */
    if (b->format_version >= 3)
        b->prefix = opt->prefix;
    bloom_builder_init(&b->prefix_bloom, opt->bloom_bits_per_key);
    block_compressor_init(&b->codec, (block_kind)opt->compression,
                          opt->compression_level);
    int rc = e->open_write(e, path, &b->file);
    if (rc != LSM_OK) {
        sst_builder_free(b);
        return rc;
    }
    *out = b;
    return LSM_OK;
}

/* LSM_EINVAL unless e is a well-formed entry that sorts after the previous
 * one (invariant 1). */
static int sst_builder_check_entry(const sst_builder *b, const entry *e)
{
    if (!e->key || e->nkey == 0 || e->nkey > LSM_MAX_KEY_BYTES)
        return lsm_error(LSM_EINVAL, "%s: key of %zu bytes (1 to %u allowed)",
                         b->path, e->nkey, LSM_MAX_KEY_BYTES);
    if (e->type != ENTRY_VALUE && e->type != ENTRY_TOMBSTONE)
        return lsm_error(LSM_EINVAL, "%s: bad entry type %u", b->path,
                         (unsigned)e->type);
    if (e->type == ENTRY_VALUE &&
        (e->nvalue > LSM_MAX_VALUE_BYTES || (e->nvalue && !e->value)))
        return lsm_error(LSM_EINVAL, "%s: value of %zu bytes (max %u)", b->path,
                         e->nvalue, LSM_MAX_VALUE_BYTES);
    if (b->n_entries > 0) {
        int c = user_key_cmp(e->key, e->nkey, b->last_key.data,
                             b->last_key.n_bytes);
        if (c < 0 || (c == 0 && e->seq >= b->last_seq))
            return lsm_error(LSM_EINVAL,
                             "%s: entry %llu is out of order (keys must "
                             "increase, versions of a key newest first)",
                             b->path, (unsigned long long)b->n_entries);
    }
    return LSM_OK;
}

/* Appends pending bytes to the file. */
static int sst_builder_drain(sst_builder *b)
{
    int rc = LSM_OK;
    if (b->pending.n_bytes)
        rc = file_append(b->file, b->pending.data, b->pending.n_bytes);
    b->pending.n_bytes = 0;
    return rc;
}

/* Queues n finished bytes for the file; large pieces go straight through.
 * Advances offset. */
static int sst_builder_write(sst_builder *b, const void *data, size_t n)
{
    int rc = LSM_OK;
    if (b->pending.n_bytes + n > SST_WRITE_BUFFER_BYTES)
        rc = sst_builder_drain(b);
    if (rc == LSM_OK && n >= SST_WRITE_BUFFER_BYTES)
        rc = file_append(b->file, data, n);
    else if (rc == LSM_OK)
        rc = byte_buf_append(&b->pending, data, n);
    if (rc == LSM_OK)
        b->offset += n;
    return rc;
}

/* Whether index records carry each block's kind and raw size: only
 * when blocks may be compressed (FORMAT.md, "Compressed data blocks"). */
static bool sst_builder_codec_records(const sst_builder *b)
{
    return b->codec.kind != BLOCK_KIND_RAW;
}

/* Appends the index record of a finished block: stored in n_stored bytes
 * as kind, n_raw bytes before compression. */
static int sst_builder_index_add(sst_builder *b, uint64_t n_stored,
                                 block_kind kind, uint64_t n_raw,
                                 const uint8_t *first, size_t nfirst)
{
    const byte_buf *last = &b->last_key;
    int rc = byte_buf_reserve(&b->index,
                              6 * VARINT64_MAX_BYTES + nfirst + last->n_bytes);
    if (rc != LSM_OK)
        return rc;
    uint8_t *p = b->index.data + b->index.n_bytes;
    p += put_varint64(p, b->offset);
    p += put_varint64(p, n_stored);
    if (sst_builder_codec_records(b)) {
        p += put_varint64(p, kind);
        p += put_varint64(p, n_raw);
    }
    p += put_varint64(p, nfirst);
    memcpy(p, first, nfirst);
    p += nfirst;
    p += put_varint64(p, last->n_bytes);
    memcpy(p, last->data, last->n_bytes);
    p += last->n_bytes;
    b->index.n_bytes = (size_t)(p - b->index.data);
    return LSM_OK;
}

/* Finishes the current block, stores it (compressed when that pays),
 * indexes it and queues it for the file. The index record goes before the
 * write, which advances offset; the first key is taken after finish,
 * which may move the builder's buffer. */
static int sst_builder_flush_block(sst_builder *b)
{
    const uint8_t *raw, *stored;
    size_t n_raw, n_stored, nfirst;
    block_kind kind = BLOCK_KIND_RAW;
    int rc = block_builder_finish(&b->block, &raw, &n_raw);
    if (rc == LSM_OK)
        rc = block_compress(&b->codec, raw, n_raw, &kind, &stored, &n_stored);
    if (rc != LSM_OK)
        return rc;
    const uint8_t *first = block_builder_first_key(&b->block, &nfirst);
    rc = sst_builder_index_add(b, n_stored, kind, n_raw, first, nfirst);
    if (rc == LSM_OK)
        rc = sst_builder_write(b, stored, n_stored);
    if (rc != LSM_OK)
        return rc;
    b->n_blocks++;
    b->raw_bytes += n_raw;
    b->blocks_of_kind[kind]++;
    block_builder_reset(&b->block);
    return LSM_OK;
}

/* Adds the prefix of a new user key to the prefix filter, unless the key
 * is out of the extractor's domain or its prefix is the last one added
 * (keys sharing a prefix are adjacent in key order, so each distinct
 * prefix is added once). */
static int sst_builder_add_prefix(sst_builder *b, const uint8_t *key,
                                  size_t nkey)
{
    size_t np;
    if (!prefix_extract(&b->prefix, key, nkey, &np))
        return LSM_OK;
    if (b->n_prefixes > 0 && b->last_prefix.n_bytes == np &&
        memcmp(b->last_prefix.data, key, np) == 0)
        return LSM_OK;
    int rc = bloom_builder_add(&b->prefix_bloom, key, np);
    if (rc != LSM_OK)
        return rc;
    b->last_prefix.n_bytes = 0;
    rc = byte_buf_append(&b->last_prefix, key, np);
    if (rc == LSM_OK)
        b->n_prefixes++;
    return rc;
}

/* Adds a checked entry: closes the block first if e would overfill it. */
static int sst_builder_add_checked(sst_builder *b, const entry *e)
{
    int rc = byte_buf_reserve(&b->last_key, e->nkey);
    if (rc != LSM_OK)
        return rc;
    bool new_key =
        b->n_entries == 0 || user_key_cmp(e->key, e->nkey, b->last_key.data,
                                          b->last_key.n_bytes) != 0;
    /* A block closes before any entry that would overfill it, even between
     * two versions of one key: a key with many versions (kept for
     * snapshots) then spans blocks of the usual size rather than making
     * one huge block. Adjacent blocks may so share a user key; the reader
     * checks the versions' order where they meet (FORMAT.md). */
    size_t grown = block_builder_size_bytes(&b->block) +
                   block_builder_entry_bytes(&b->block, e);
    if (b->block.n_entries > 0 && grown > b->block_size) {
        rc = sst_builder_flush_block(b);
        if (rc != LSM_OK)
            return rc;
    }
    if (new_key)
        rc = bloom_builder_add(&b->bloom, e->key, e->nkey);
    if (rc == LSM_OK && new_key)
        rc = sst_builder_add_prefix(b, e->key, e->nkey);
    if (rc == LSM_OK)
        rc = block_builder_add(&b->block, e);
    if (rc != LSM_OK)
        return rc;
    b->last_key.n_bytes = 0;
    byte_buf_append(&b->last_key, e->key, e->nkey); /* reserved above */
    b->last_seq = e->seq;
    if (b->n_entries == 0 || e->seq > b->max_seq)
        b->max_seq = e->seq;
    b->n_entries++;
    return LSM_OK;
}

int sst_builder_add(sst_builder *b, const entry *e)
{
    if (b->rc != LSM_OK)
        return lsm_error(b->rc, "%s: an earlier write to this SST failed",
                         b->path);
    int rc = sst_builder_check_entry(b, e);
    if (rc != LSM_OK)
        return rc;
    rc = sst_builder_add_checked(b, e);
    b->rc = rc;
    return rc;
}

int sst_builder_set_meta(sst_builder *b, unsigned tag, const void *bytes,
                         size_t n)
{
    if (b->format_version < 3)
        return lsm_error(LSM_EINVAL, "%s: SST format %u has no meta section",
                         b->path, b->format_version);
    return sst_meta_records_set(&b->meta, tag, bytes, n);
}

/* Whether the file gets a meta section: format 3 with a record set. With
 * none, the file has no section at all (meta_bytes 0), so an SST without
 * the features that need one is as large as in format 2. */
static bool sst_builder_has_meta(const sst_builder *b)
{
    return b->format_version >= 3 && sst_meta_records_any(&b->meta);
}

/* Bytes of the meta section. */
static uint64_t sst_builder_meta_bytes(const sst_builder *b)
{
    return sst_builder_has_meta(b) ? sst_meta_records_encoded_bytes(&b->meta)
                                   : 0;
}

/* The meta section's bytes once finish has set the prefix record (which
 * it sets only then, when the filter is complete). */
static uint64_t sst_builder_meta_bytes_at_finish(const sst_builder *b)
{
    uint64_t n = sst_builder_meta_bytes(b);
    if (b->prefix.kind == PREFIX_NONE)
        return n;
    size_t len = prefix_record_bytes(
        &b->prefix, b->n_prefixes, bloom_builder_size_bytes(&b->prefix_bloom));
    return n + (n ? 0 : SST_CHECKSUM_BYTES) + varint64_length(SST_META_PREFIX) +
           varint64_length(len) + len;
}

uint64_t sst_builder_estimated_size(const sst_builder *b)
{
    uint64_t n = b->offset + bloom_builder_size_bytes(&b->bloom) +
                 b->index.n_bytes + SST_CHECKSUM_BYTES +
                 sst_builder_meta_bytes_at_finish(b) + SST_FOOTER_BYTES;
    if (b->block.n_entries > 0)
        n += block_builder_size_bytes(&b->block);
    return n;
}

uint64_t sst_builder_num_entries(const sst_builder *b)
{
    return b->n_entries;
}

/* Appends the filter section; *size_bytes gets its size. */
static int sst_builder_write_filter(sst_builder *b, uint64_t *size_bytes)
{
    uint8_t *data;
    size_t n;
    int rc = bloom_builder_finish(&b->bloom, &data, &n);
    if (rc != LSM_OK)
        return rc;
    rc = sst_builder_write(b, data, n);
    free(data);
    *size_bytes = n;
    return rc;
}

/* Seals the index records with their checksum and appends them. */
static int sst_builder_write_index(sst_builder *b, uint64_t *size_bytes)
{
    uint8_t sum[SST_CHECKSUM_BYTES];
    put_fixed64(sum, checksum64(b->index.data, b->index.n_bytes));
    int rc = byte_buf_append(&b->index, sum, sizeof sum);
    if (rc == LSM_OK)
        rc = sst_builder_write(b, b->index.data, b->index.n_bytes);
    *size_bytes = b->index.n_bytes;
    return rc;
}

/* Appends the meta section, if any; *size_bytes gets its size. A
 * section over 4 GiB cannot be described by the footer's u32. */
static int sst_builder_write_meta(sst_builder *b, uint32_t *size_bytes)
{
    *size_bytes = 0;
    if (!sst_builder_has_meta(b))
        return LSM_OK;
    byte_buf section = {0};
    int rc = sst_meta_records_encode(&b->meta, &section);
    if (rc == LSM_OK && section.n_bytes > UINT32_MAX)
        rc = lsm_error(LSM_EINVAL,
                       "%s: SST meta section of %zu bytes (at "
                       "most 4 GiB)",
                       b->path, section.n_bytes);
    if (rc == LSM_OK)
        rc = sst_builder_write(b, section.data, section.n_bytes);
    if (rc == LSM_OK)
        *size_bytes = (uint32_t)section.n_bytes;
    byte_buf_free(&section);
    return rc;
}

static int sst_builder_write_footer(sst_builder *b, uint64_t filter_offset,
                                    uint64_t filter_size, uint64_t index_offset,
                                    uint64_t index_size, uint32_t meta_size)
{
    uint8_t f[SST_FOOTER_BYTES];
    put_fixed64(f + SST_FOOTER_FILTER_OFFSET, filter_offset);
    put_fixed64(f + SST_FOOTER_FILTER_SIZE, filter_size);
    put_fixed64(f + SST_FOOTER_INDEX_OFFSET, index_offset);
    put_fixed64(f + SST_FOOTER_INDEX_SIZE, index_size);
    put_fixed64(f + SST_FOOTER_NUM_ENTRIES, b->n_entries);
    put_fixed64(f + SST_FOOTER_NUM_BLOCKS, b->n_blocks);
    put_fixed64(f + SST_FOOTER_MAX_SEQ, b->max_seq);
    put_fixed64(f + SST_FOOTER_SST_ID, b->sst_id);
    memcpy(f + SST_FOOTER_IDENTITY, b->db_identity, SST_IDENTITY_BYTES);
    put_fixed32(f + SST_FOOTER_VERSION, b->format_version);
    put_fixed32(f + SST_FOOTER_META_BYTES, meta_size);
    put_fixed64(f + SST_FOOTER_CHECKSUM, checksum64(f, SST_FOOTER_CHECKSUM));
    put_fixed64(f + SST_FOOTER_MAGIC, SST_MAGIC);
    return sst_builder_write(b, f, sizeof f);
}

size_t sst_compression_record_encode(const sst_compression *c, uint8_t *out)
{
    uint8_t *p = out;
    p += put_varint64(p, c->raw_bytes);
    p += put_varint64(p, c->blocks_of_kind[BLOCK_KIND_LZ4]);
    p += put_varint64(p, c->blocks_of_kind[BLOCK_KIND_ZSTD]);
    return (size_t)(p - out);
}

/* Records the blocks' totals in the meta section when its index records
 * carry kinds (the record's presence is what tells a reader so). */
static int sst_builder_set_compression_record(sst_builder *b)
{
    if (!sst_builder_codec_records(b))
        return LSM_OK;
    sst_compression c = {.raw_bytes = b->raw_bytes};
    memcpy(c.blocks_of_kind, b->blocks_of_kind, sizeof c.blocks_of_kind);
    uint8_t rec[SST_COMPRESSION_RECORD_MAX];
    size_t n = sst_compression_record_encode(&c, rec);
    return sst_builder_set_meta(b, SST_META_COMPRESSION, rec, n);
}

/* Writes everything after the data blocks, then fsyncs. */
static int sst_builder_write_tail(sst_builder *b)
{
    int rc = LSM_OK;
    if (b->block.n_entries > 0)
        rc = sst_builder_flush_block(b);
    if (rc == LSM_OK)
        rc = sst_builder_set_compression_record(b);
    uint64_t filter_offset = b->offset, filter_size = 0;
    if (rc == LSM_OK)
        rc = sst_builder_write_filter(b, &filter_size);
    uint64_t index_offset = filter_offset + filter_size, index_size = 0;
    if (rc == LSM_OK)
        rc = sst_builder_write_index(b, &index_size);
    uint32_t meta_size = 0;
    if (rc == LSM_OK)
        rc = sst_builder_write_meta(b, &meta_size);
    if (rc == LSM_OK)
        rc = sst_builder_write_footer(b, filter_offset, filter_size,
                                      index_offset, index_size, meta_size);
    if (rc == LSM_OK)
        rc = sst_builder_drain(b);
    if (rc == LSM_OK)
        rc = file_sync(b->file);
    return rc;
}

/* Closes and unlinks the file, keeping this thread's error message (the
 * cause) rather than any message the cleanup records. */
static void sst_builder_remove_file(sst_builder *b)
{
    char saved[512];
    snprintf(saved, sizeof saved, "%s", lsm_errmsg());
    file_close(b->file);
    b->file = NULL;
    b->env->unlink(b->env, b->path);
    lsm_error_set_message(saved);
}

/* Sets the SST_META_PREFIX record (prefix_int.h): the extractor, the
 * count of prefixes and their filter, now complete. */
static int sst_builder_set_prefix_meta(sst_builder *b)
{
    if (b->prefix.kind == PREFIX_NONE)
        return LSM_OK;
    uint8_t *filter = NULL, *record = NULL;
    size_t nfilter = 0, nrecord = 0;
    int rc = bloom_builder_finish(&b->prefix_bloom, &filter, &nfilter);
    if (rc == LSM_OK)
        rc = prefix_record_encode(&b->prefix, b->n_prefixes, filter, nfilter,
                                  &record, &nrecord);
    if (rc == LSM_OK)
        rc = sst_builder_set_meta(b, SST_META_PREFIX, record, nrecord);
    free(filter);
    free(record);
    return rc;
}

int sst_builder_finish(sst_builder *b, sst_summary *summary)
{
    int rc = b->rc;
    if (rc != LSM_OK)
        lsm_error(rc, "%s: an earlier write to this SST failed", b->path);
    else if (b->n_entries == 0 && !b->has_ranges)
        rc = lsm_error(LSM_EINVAL,
                       "%s: an SST needs at least one entry or range "
                       "tombstone",
                       b->path);
    /* The footer's newest seq covers the tombstones: recovery and the
     * transaction check read it as the newest write the file holds. */
    if (b->range_max_seq > b->max_seq)
        b->max_seq = b->range_max_seq;
    if (rc == LSM_OK)
        rc = sst_builder_set_prefix_meta(b);
    if (rc == LSM_OK)
        rc = sst_builder_write_tail(b);
    if (rc == LSM_OK) {
        rc = file_close(b->file);
        b->file = NULL;
    }
    if (rc != LSM_OK) {
        sst_builder_remove_file(b);
    } else if (summary) {
        summary->file_size = b->offset;
        summary->num_entries = b->n_entries;
        summary->num_blocks = b->n_blocks;
        summary->max_seq = b->max_seq;
    }
    sst_builder_free(b);
    return rc;
}

void sst_builder_abandon(sst_builder *b)
{
    if (!b)
        return;
    sst_builder_remove_file(b);
    sst_builder_free(b);
}

int sst_builder_set_ranges(sst_builder *b, const range_tomb_list *l)
{
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (l->n == 0)
        return LSM_OK;
    int rc = range_encode(l, &bytes, &n);
    if (rc == LSM_OK)
        rc = sst_builder_set_meta(b, SST_META_RANGE_DELS, bytes, n);
    free(bytes);
    if (rc != LSM_OK)
        return rc;
    b->has_ranges = true;
    b->range_max_seq = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].seq > b->range_max_seq)
            b->range_max_seq = l->v[i].seq;
    return LSM_OK;
}
