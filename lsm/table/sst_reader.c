/*
 * sst_reader.c: opening, probing and iterating SSTs (sst_int.h, FORMAT.md
 * "SST files").
 *
 * sst_open reads the footer, then the filter and index sections in one read,
 * verifies them and keeps them in memory as read (sst_index_keys say where
 * each block's keys lie in that buffer). Data blocks are read on demand:
 * through the block cache when there is one (key: sst_id, block index),
 * else into a private buffer freed after use. A block read from disk is
 * verified (block_decode) and checked against its index record before
 * anyone sees it. Its memo then remembers the checksum of those bytes
 * (block_memo): a later read of the same block whose bytes have that
 * checksum checks the checksum and the trailer only, not every entry
 * again. Reading with pread decodes a block anew on every cache miss, and
 * the walk over its entries was most of a miss's instructions (callgrind:
 * 53% of readrandom's at 300,000 keys).
 *
 * By default blocks are read with read_at (pread) into an allocation of
 * their own, which the cache then holds and is charged for in full. A read
 * past the end of a file cut while open is then an error naming the file
 * (env_posix: "short read ... truncated?"), and a disk error is LSM_EIO:
 * the process never dies of a damaged file.
 *
 * A compressed block (FORMAT.md, "Compressed data blocks": the file has
 * a compression meta record, and its index records say each block's kind
 * and raw size) is read as stored, its checksum checked and decompressed
 * into an allocation of its raw size (sst_block_read_compressed), then
 * verified as any block; the cache holds and is charged for the
 * decompressed bytes, also with a mapping. The sizes were checked at
 * open (block_stored_sizes_ok), so no allocation is sized by a hostile
 * record.
 *
 * With map_file (lsm_options.mmap_reads, opt-in), and when the env can map
 * files (env_posix can), the whole file is mapped at open and a block is
 * decoded where it lies in the mapping: no system call, no copy. The cache
 * then holds only the decoded block header (the bytes are the OS's page
 * cache) and is charged for that, so it remembers many more verified
 * blocks. The price: touching a mapped page the file no longer has (it was
 * truncated) or that the disk cannot read raises SIGBUS, which kills the
 * process; a library cannot catch it without a process-wide handler.
 *
 * Invariants:
 *   1. After sst_open, the index is consistent with the footer: num_blocks
 *      records, contiguous blocks from offset 0 up to filter_offset, keys
 *      ordered; so parsing a record again (sst_block_extent) cannot fail.
 *      Nothing in the in-memory index changes afterwards but the memos,
 *      each written once, atomically (block_int.h).
 *   2. A cached value (sst_block, or sst_meta with cache_meta) never
 *      points at the sst, so it may outlive it in the cache: it holds its
 *      bytes itself, or a reference to the file's mapping (sst_mapping),
 *      which stays mapped until the sst and every block decoded from it
 *      have let go.
 *   3. refs counts sst_open's reference, sst_ref calls and live iterators;
 *      the sst is freed when it drops to 0 (and the file removed if
 *      obsolete was set).
 *
 * Thread safety: after sst_open the sst is read-only apart from refs and
 * obsolete (atomics), so gets and iterators may run on many threads at once;
 * file reads are positional. The block cache has its own lock; two threads
 * missing the same evicted meta may both read it, and the cache keeps the
 * later insert (each reader uses the copy it holds).
 */
#include "table/block_codec_int.h"
#include "table/block_int.h"
#include "table/bloom_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "table/sst_int.h"
#include "table/sst_meta_int.h"
#include "util/status_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where one data block's index record lies in the index section (kept
 * as read, in sst_meta), so its keys are found without parsing: the last
 * key (what the index search compares) at last_key; the first key ends
 * last_key_gap bytes before it; the record starts first_key_at bytes
 * before the first key. 12 bytes a block, where a decoded record with
 * pointers took 32: an open SST's index costs the section's own bytes
 * plus these and the memos (about 70 bytes a block with 16-byte keys).
 * The block's offset and size are parsed from the record when a block is
 * read (sst_block_extent). */
_Static_assert(BLOCK_KIND_COUNT == 3, "sst_compression counts every kind");
_Static_assert(LSM_MAX_KEY_BYTES <= UINT16_MAX, "key lengths fit 16 bits");
typedef struct sst_index_keys {
    uint32_t last_key; /* from the index section's first byte */
    uint16_t n_first_key, n_last_key;
    uint8_t first_key_at; /* <= 50: five varints */
    uint8_t last_key_gap; /* <= 10: one varint */
} sst_index_keys;

/* One data block's offset and size, as its index record says, and how it
 * is stored (block_codec_int.h): kind, and its size once decompressed
 * (raw_bytes == size_bytes for a raw block). */
typedef struct sst_extent {
    uint64_t offset;
    uint32_t size_bytes;
    uint32_t raw_bytes;
    uint8_t kind;
} sst_extent;

/* The footer's fields (FORMAT.md, "Footer"). */
typedef struct sst_footer {
    uint64_t filter_offset, filter_size;
    uint64_t index_offset, index_size;
    uint64_t num_entries, num_blocks, max_seq;
    uint64_t sst_id;                         /* the id it was written as */
    uint8_t db_identity[SST_IDENTITY_BYTES]; /* its database's */
    uint32_t format_version;                 /* 2 or 3 */
    uint32_t meta_size; /* format 3: the meta section's bytes; 2: 0 */
} sst_footer;

/* A read-only mapping of a whole SST file, shared by the sst and every
 * cached block decoded from it; unmapped when the last of them lets go. */
typedef struct sst_mapping {
    atomic_size_t refs;
    env *env;
    const uint8_t *base;
    uint64_t n_bytes;
} sst_mapping;

static void sst_mapping_ref(sst_mapping *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

static void sst_mapping_unref(sst_mapping *m)
{
    if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    m->env->unmap(m->env, m->base, m->n_bytes);
    free(m);
}

/* What an SST keeps of its filter and index sections: the bytes as read
 * (filter then index), where each data block's keys lie, and the memos.
 * One allocation, laid out as this header, the memos, the keys, then the
 * bytes, so its size is what it costs (charge). Kept by the sst from open
 * to free, or, with cache_meta (lsm_options.cache_index_and_filter_blocks),
 * held by the block cache under (sst_id, SST_META_KEY) like a data block:
 * evicted under pressure and read and verified again when next needed,
 * losing its memos (the blocks are then walked once more when read).
 * Never points at the sst: it may outlive it in the cache (invariant 2). */
typedef struct sst_meta {
    bloom filter;           /* points into bytes */
    bool codec_records;     /* index records say each block's kind and raw
                             * size (the file has a compression record) */
    sst_compression totals; /* summed over the index records */
    const uint8_t *index;   /* the index section, in bytes */
    sst_index_keys *keys;   /* footer.num_blocks, one per data block */
    block_memo *memos;      /* footer.num_blocks: what verifying each data
                             * block found (block_int.h); the one part
                             * written after it is built (invariant 1) */
    size_t charge;          /* bytes of the whole allocation */
    uint8_t *bytes;         /* filter section then index section */
} sst_meta;

/* The cache key of an SST's meta: no data block has this index. */
#define SST_META_KEY UINT64_MAX

struct sst {
    atomic_size_t refs;
    atomic_bool obsolete;
    env *env;
    env_file *file;
    char *path;
    uint64_t sst_id;
    uint64_t file_size;
    block_cache *cache; /* may be NULL */
    counters *ctrs;     /* may be NULL */
    sst_footer footer;
    sst_meta *meta;  /* kept from open to free; NULL: in the cache */
    uint8_t *bounds; /* first then last user key of the file */
    size_t n_first_key, n_last_key;
    sst_mapping *map; /* the whole file, or NULL: use read_at */
    /* Whether the file's meta section has a compression record, whose
     * totals (checked against the index at open) are kept here. */
    bool codec_records;
    sst_compression totals;
    /* Range tombstones (SST_META_RANGE_DELS), read at open, kept to the
     * end: the list as stored, and its fragments (NULL when none). */
    range_tomb_list ranges;
    range_frags *range_frags;
    /* The meta section (format 3) as read, and where its records lie in
     * it; kept from open to free whatever cache_meta says, since the
     * features reading it (range tombstones, say) need it on every read. */
    uint8_t *meta_section_bytes;
    sst_meta_section meta_section;
    /* The SST_META_PREFIX record, decoded at open (a view into
     * meta_section_bytes); has_prefix false without one. */
    bool has_prefix;
    prefix_record prefix;
};

/* Where the meta of an operation comes from: the sst's own (handle NULL)
 * or a cache handle holding it. */
typedef struct sst_meta_ref {
    cache_handle *handle;
    const sst_meta *m; /* NULL when nothing is held */
} sst_meta_ref;

/* A decoded data block and what keeps its bytes alive: the bytes follow it
 * in the same allocation, or map is the mapping they lie in. What the block
 * cache holds (invariant 2). Freed with sst_block_free. */
typedef struct sst_block {
    block blk;
    sst_mapping *map; /* NULL: the bytes are in bytes[] */
    uint8_t bytes[];
} sst_block;

/* A block in use: held through a cache handle, or owned when there is no
 * cache. */
typedef struct sst_block_ref {
    cache_handle *handle;
    sst_block *owned;
    const block *blk; /* NULL when nothing is held */
    bool cached;      /* served by the cache rather than read (traces) */
} sst_block_ref;

/* --- Opening -------------------------------------------------------------- */

/* Reads and checks the footer (FORMAT.md rules) into *f. */
static int sst_read_footer(sst *t, sst_footer *f)
{
    if (t->file_size < SST_FOOTER_BYTES)
        return lsm_corrupt("%s: file ends at offset %llu, before the end "
                           "of an SST footer (%d bytes)",
                           t->path, (unsigned long long)t->file_size,
                           SST_FOOTER_BYTES);
    uint64_t at = t->file_size - SST_FOOTER_BYTES;
    uint8_t b[SST_FOOTER_BYTES];
    int rc = file_read_at(t->file, at, b, sizeof b);
    if (rc != LSM_OK)
        return rc;
    unsigned long long off = (unsigned long long)at;
    if (get_fixed64(b + SST_FOOTER_MAGIC) != SST_MAGIC)
        return lsm_corrupt("%s: footer at offset %llu: bad magic number (not "
                           "an SST, or truncated)",
                           t->path, off);
    if (get_fixed64(b + SST_FOOTER_CHECKSUM) !=
        checksum64(b, SST_FOOTER_CHECKSUM))
        return lsm_corrupt("%s: footer at offset %llu: checksum mismatch",
                           t->path, off);
    f->format_version = get_fixed32(b + SST_FOOTER_VERSION);
    f->meta_size = get_fixed32(b + SST_FOOTER_META_BYTES);
    if (f->format_version < SST_FORMAT_VERSION_OLDEST ||
        f->format_version > SST_FORMAT_VERSION)
        return lsm_corrupt("%s: footer at offset %llu: unknown format "
                           "version %u (this reader reads %u to %u)",
                           t->path, off, (unsigned)f->format_version,
                           SST_FORMAT_VERSION_OLDEST, SST_FORMAT_VERSION);
    /* Format 3 without a meta section has 0 there; with one, at least its
     * checksum. */
    if (f->format_version < 3
            ? f->meta_size != 0
            : (f->meta_size != 0 && f->meta_size < SST_CHECKSUM_BYTES) ||
                  f->meta_size > at)
        return lsm_corrupt("%s: footer at offset %llu: a meta section of "
                           "%u bytes in format %u",
                           t->path, off, (unsigned)f->meta_size,
                           (unsigned)f->format_version);
    /* The index ends where the meta section (if any) starts. */
    at -= f->meta_size;
    f->filter_offset = get_fixed64(b + SST_FOOTER_FILTER_OFFSET);
    f->filter_size = get_fixed64(b + SST_FOOTER_FILTER_SIZE);
    f->index_offset = get_fixed64(b + SST_FOOTER_INDEX_OFFSET);
    f->index_size = get_fixed64(b + SST_FOOTER_INDEX_SIZE);
    f->num_entries = get_fixed64(b + SST_FOOTER_NUM_ENTRIES);
    f->num_blocks = get_fixed64(b + SST_FOOTER_NUM_BLOCKS);
    f->max_seq = get_fixed64(b + SST_FOOTER_MAX_SEQ);
    f->sst_id = get_fixed64(b + SST_FOOTER_SST_ID);
    memcpy(f->db_identity, b + SST_FOOTER_IDENTITY, SST_IDENTITY_BYTES);
    /* Each size is bounded by `at` before any sum is formed: no overflow. */
    if (f->filter_size < BLOOM_TRAILER_BYTES ||
        f->index_size < SST_CHECKSUM_BYTES || f->filter_offset > at ||
        f->filter_size > at || f->index_size > at ||
        f->filter_offset + f->filter_size != f->index_offset ||
        f->index_offset > at || f->index_offset + f->index_size != at)
        return lsm_corrupt("%s: footer at offset %llu: filter (%llu, %llu "
                           "bytes) and index (%llu, %llu bytes) do not tile "
                           "the file",
                           t->path, off, (unsigned long long)f->filter_offset,
                           (unsigned long long)f->filter_size,
                           (unsigned long long)f->index_offset,
                           (unsigned long long)f->index_size);
    /* Blocks tile [0, filter_offset) and each is at least a trailer: a
     * footer claiming more (a sparse file, say) is refused before any
     * per-block array is sized by the claim. */
    /* No block at all only for range tombstones alone (format 3, in the
     * meta section: sst_open_ranges checks the record is there). */
    bool may_be_empty = f->format_version >= 3 && f->meta_size > 0 &&
                        f->num_entries == 0 && f->filter_offset == 0;
    if ((f->num_blocks == 0 && !may_be_empty) ||
        f->num_entries < f->num_blocks || f->num_blocks > f->index_size / 4 ||
        f->num_blocks > f->filter_offset / BLOCK_TRAILER_BYTES)
        return lsm_corrupt("%s: footer at offset %llu: %llu entries in "
                           "%llu blocks",
                           t->path, off, (unsigned long long)f->num_entries,
                           (unsigned long long)f->num_blocks);
    return LSM_OK;
}

/* One index record, decoded while the index is verified at open. */
typedef struct sst_index_record {
    sst_extent extent;
    const uint8_t *first_key, *last_key;
    size_t n_first_key, n_last_key;
} sst_index_record;

/* Decodes a record's kind and raw size (codec records only) at q, which
 * must be plausible for its stored size (block_stored_sizes_ok), so that
 * no later read allocates what a hostile record claims. */
static const uint8_t *sst_index_parse_codec(const uint8_t *q,
                                            const uint8_t *end, sst_extent *e)
{
    uint64_t kind, raw_bytes;
    if (!(q = get_varint64(q, end, &kind)) || kind >= BLOCK_KIND_COUNT ||
        !(q = get_varint64(q, end, &raw_bytes)) ||
        !block_stored_sizes_ok((unsigned)kind, e->size_bytes, raw_bytes))
        return NULL;
    e->kind = (uint8_t)kind;
    e->raw_bytes = (uint32_t)raw_bytes;
    return q;
}

/* Decodes one index record at *p (advanced past it) into *r; codec says
 * whether records carry a kind and raw size. */
static bool sst_index_parse_record(const uint8_t **p, const uint8_t *end,
                                   bool codec, sst_index_record *r)
{
    uint64_t n, size_bytes;
    const uint8_t *q = *p;
    if (!(q = get_varint64(q, end, &r->extent.offset)) ||
        !(q = get_varint64(q, end, &size_bytes)) || size_bytes > UINT32_MAX)
        return false;
    r->extent.size_bytes = (uint32_t)size_bytes;
    r->extent.raw_bytes = (uint32_t)size_bytes;
    r->extent.kind = BLOCK_KIND_RAW;
    if (codec && !(q = sst_index_parse_codec(q, end, &r->extent)))
        return false;
    if (!(q = get_varint64(q, end, &n)) || n == 0 || n > LSM_MAX_KEY_BYTES ||
        n > (uint64_t)(end - q))
        return false;
    r->first_key = q;
    r->n_first_key = (size_t)n;
    q += n;
    if (!(q = get_varint64(q, end, &n)) || n == 0 || n > LSM_MAX_KEY_BYTES ||
        n > (uint64_t)(end - q))
        return false;
    r->last_key = q;
    r->n_last_key = (size_t)n;
    *p = q + n;
    return true;
}

/* Checks record r against its predecessor prev (NULL for the first block)
 * and the file layout. */
static bool sst_index_record_fits(const sst *t, const sst_index_record *r,
                                  const sst_index_record *prev)
{
    uint64_t expected_offset =
        prev ? prev->extent.offset + prev->extent.size_bytes : 0;
    if (r->extent.offset != expected_offset ||
        r->extent.size_bytes < BLOCK_TRAILER_BYTES ||
        r->extent.size_bytes > t->footer.filter_offset - r->extent.offset)
        return false;
    if (user_key_cmp(r->first_key, r->n_first_key, r->last_key, r->n_last_key) >
        0)
        return false;
    /* A user key's versions may continue into the next block (FORMAT.md),
     * so equal keys may meet at a boundary; their seqs are checked there
     * when the blocks are read (sst_check_boundary). */
    return !prev || user_key_cmp(prev->last_key, prev->n_last_key, r->first_key,
                                 r->n_first_key) <= 0;
}

/* Where record r (at rec in the index section) keeps its keys. */
static sst_index_keys sst_index_keys_of(const uint8_t *index,
                                        const uint8_t *rec,
                                        const sst_index_record *r)
{
    sst_index_keys k;
    k.last_key = (uint32_t)(r->last_key - index);
    k.n_first_key = (uint16_t)r->n_first_key;
    k.n_last_key = (uint16_t)r->n_last_key;
    k.first_key_at = (uint8_t)(r->first_key - rec);
    k.last_key_gap = (uint8_t)(r->last_key - (r->first_key + r->n_first_key));
    return k;
}

/* Block idx's first / last user key, in the index section. */
static const uint8_t *sst_block_first_key(const sst_meta *m, uint64_t idx,
                                          size_t *n)
{
    const sst_index_keys *k = &m->keys[idx];
    *n = k->n_first_key;
    return m->index + k->last_key - k->last_key_gap - k->n_first_key;
}

static const uint8_t *sst_block_last_key(const sst_meta *m, uint64_t idx,
                                         size_t *n)
{
    *n = m->keys[idx].n_last_key;
    return m->index + m->keys[idx].last_key;
}

/* Block idx's offset and size, parsed from its record (verified at open,
 * so the parse cannot fail). */
static sst_extent sst_block_extent(const sst_meta *m, uint64_t idx)
{
    size_t n_first;
    const uint8_t *end = sst_block_first_key(m, idx, &n_first);
    const uint8_t *rec = end - m->keys[idx].first_key_at;
    uint64_t size_bytes = 0, kind = BLOCK_KIND_RAW, raw_bytes = 0;
    sst_extent e = {0, 0, 0, BLOCK_KIND_RAW};
    rec = get_varint64(rec, end, &e.offset);
    if (rec)
        rec = get_varint64(rec, end, &size_bytes);
    raw_bytes = size_bytes;
    if (rec && m->codec_records && (rec = get_varint64(rec, end, &kind)))
        get_varint64(rec, end, &raw_bytes);
    e.size_bytes = (uint32_t)size_bytes;
    e.raw_bytes = (uint32_t)raw_bytes;
    e.kind = (uint8_t)kind;
    return e;
}

/* Whether block idx starts with the user key block idx - 1 ends with: the
 * versions of that key continue across the boundary. */
static bool sst_block_continues_key(const sst_meta *m, uint64_t idx)
{
    size_t n_last, n_first;
    const uint8_t *last = sst_block_last_key(m, idx - 1, &n_last);
    const uint8_t *first = sst_block_first_key(m, idx, &n_first);
    return user_key_cmp(last, n_last, first, n_first) == 0;
}

/* Verifies the index section (data, n bytes, in m->bytes) and fills
 * m->keys. */
static int sst_decode_index(const sst *t, sst_meta *m, const uint8_t *data,
                            size_t n)
{
    unsigned long long off = (unsigned long long)t->footer.index_offset;
    size_t body = n - SST_CHECKSUM_BYTES;
    if (checksum64(data, body) != get_fixed64(data + body))
        return lsm_corrupt("%s: index at offset %llu: checksum mismatch",
                           t->path, off);
    /* sst_index_keys holds 32-bit positions. */
    if (body > UINT32_MAX)
        return lsm_corrupt("%s: index at offset %llu: %zu bytes, more than "
                           "this reader takes (4 GiB)",
                           t->path, off, body);
    size_t n_blocks = (size_t)t->footer.num_blocks;
    m->index = data;
    const uint8_t *p = data, *end = data + body;
    sst_index_record r, prev;
    for (size_t i = 0; i < n_blocks; i++) {
        const uint8_t *rec = p;
        if (!sst_index_parse_record(&p, end, m->codec_records, &r) ||
            !sst_index_record_fits(t, &r, i == 0 ? NULL : &prev))
            return lsm_corrupt("%s: index at offset %llu: record %zu (at "
                               "byte %zu) is malformed or out of place",
                               t->path, off, i, (size_t)(p - data));
        m->keys[i] = sst_index_keys_of(data, rec, &r);
        m->totals.raw_bytes += r.extent.raw_bytes;
        m->totals.blocks_of_kind[r.extent.kind]++;
        prev = r;
    }
    if (p != end ||
        (n_blocks > 0 && prev.extent.offset + prev.extent.size_bytes !=
                             t->footer.filter_offset))
        return lsm_corrupt("%s: index at offset %llu: %zu records do not "
                           "cover the data blocks exactly",
                           t->path, off, n_blocks);
    return LSM_OK;
}

/* Allocates an sst_meta for t's footer in one piece (see sst_meta), memos
 * zeroed (nothing known). NULL when out of memory. */
static sst_meta *sst_meta_alloc(const sst *t)
{
    _Static_assert(sizeof(sst_meta) % _Alignof(block_memo) == 0 &&
                       sizeof(block_memo) % _Alignof(sst_index_keys) == 0,
                   "the memos and keys stay aligned in one allocation");
    const sst_footer *f = &t->footer;
    /* Each bounded by the file's size (sst_read_footer): no overflow. */
    size_t n_blocks = (size_t)f->num_blocks;
    size_t keys_at = sizeof(sst_meta) + n_blocks * sizeof(block_memo);
    size_t bytes_at = keys_at + n_blocks * sizeof(sst_index_keys);
    size_t total = bytes_at + (size_t)(f->filter_size + f->index_size);
    uint8_t *base = malloc(total);
    if (!base)
        return NULL;
    sst_meta *m = (sst_meta *)base;
    memset(m, 0, sizeof *m);
    m->memos = (block_memo *)(base + sizeof(sst_meta));
    for (size_t i = 0; i < n_blocks; i++) {
        atomic_init(&m->memos[i].checksum, 0);
        atomic_init(&m->memos[i].shape, 0);
    }
    m->keys = (sst_index_keys *)(base + keys_at);
    m->bytes = base + bytes_at;
    m->charge = total;
    return m;
}

/* Reads the filter and index sections with one read, verifies both and
 * builds *out (freed with sst_meta_free). */
static int sst_meta_load(const sst *t, sst_meta **out)
{
    const sst_footer *f = &t->footer;
    *out = NULL;
    sst_meta *m = sst_meta_alloc(t);
    if (!m)
        return lsm_error(LSM_ENOMEM,
                         "%s: out of memory for its index and filter "
                         "(%llu blocks)",
                         t->path, (unsigned long long)f->num_blocks);
    size_t n = (size_t)(f->filter_size + f->index_size);
    m->codec_records = t->codec_records;
    int rc = file_read_at(t->file, f->filter_offset, m->bytes, n);
    if (rc == LSM_OK)
        rc = bloom_decode(m->bytes, (size_t)f->filter_size, t->path,
                          f->filter_offset, &m->filter);
    if (rc == LSM_OK)
        rc = sst_decode_index(t, m, m->bytes + f->filter_size,
                              (size_t)f->index_size);
    if (rc != LSM_OK) {
        free(m);
        return rc;
    }
    *out = m;
    return LSM_OK;
}

static void sst_meta_free(void *value)
{
    free(value);
}

/* Keeps a copy of the file's first and last user keys in the sst, so
 * level searches and range checks need no meta (sst_first_key). */
static int sst_keep_bounds(sst *t, const sst_meta *m)
{
    size_t nfirst, nlast;
    if (t->footer.num_blocks == 0)
        return LSM_OK; /* range tombstones alone: sst_open_ranges */
    const uint8_t *first = sst_block_first_key(m, 0, &nfirst);
    const uint8_t *last =
        sst_block_last_key(m, t->footer.num_blocks - 1, &nlast);
    t->bounds = malloc(nfirst + nlast);
    if (!t->bounds)
        return lsm_error(LSM_ENOMEM, "%s: out of memory", t->path);
    memcpy(t->bounds, first, nfirst);
    memcpy(t->bounds + nfirst, last, nlast);
    t->n_first_key = nfirst;
    t->n_last_key = nlast;
    return LSM_OK;
}

bool sst_compression_record_decode(const uint8_t *p, size_t n,
                                   sst_compression *out)
{
    const uint8_t *end = p + n;
    memset(out, 0, sizeof *out);
    if (!(p = get_varint64(p, end, &out->raw_bytes)) ||
        !(p = get_varint64(p, end, &out->blocks_of_kind[BLOCK_KIND_LZ4])) ||
        !(p = get_varint64(p, end, &out->blocks_of_kind[BLOCK_KIND_ZSTD])))
        return false;
    return p == end;
}

/* Reads the compression record, if the file has one, into t: its index
 * records then carry each block's kind and raw size. The raw-block count
 * is what is left of the footer's block count. */
static int sst_read_compression_record(sst *t)
{
    size_t n = 0;
    const uint8_t *rec = sst_meta_record(t, SST_META_COMPRESSION, &n);
    if (!rec)
        return LSM_OK;
    sst_compression *c = &t->totals;
    uint64_t blocks = t->footer.num_blocks;
    if (!sst_compression_record_decode(rec, n, c) ||
        c->blocks_of_kind[BLOCK_KIND_LZ4] > blocks ||
        c->blocks_of_kind[BLOCK_KIND_ZSTD] >
            blocks - c->blocks_of_kind[BLOCK_KIND_LZ4])
        return lsm_corrupt("%s: meta section: malformed compression record",
                           t->path);
    c->blocks_of_kind[BLOCK_KIND_RAW] = blocks -
                                        c->blocks_of_kind[BLOCK_KIND_LZ4] -
                                        c->blocks_of_kind[BLOCK_KIND_ZSTD];
    t->codec_records = true;
    return LSM_OK;
}

/* The compression record's totals must be the index's: a record that
 * lies would make dump and stats report what the blocks are not. Without
 * a record every block is raw, and the totals are the index's. */
static int sst_check_compression_totals(sst *t, const sst_meta *m)
{
    if (!t->codec_records) {
        t->totals = m->totals;
        return LSM_OK;
    }
    if (memcmp(&t->totals, &m->totals, sizeof t->totals) == 0)
        return LSM_OK;
    return lsm_corrupt(
        "%s: meta section: compression record says %llu raw bytes in %llu "
        "lz4 and %llu zstd blocks, the index %llu in %llu "
        "and %llu",
        t->path, (unsigned long long)t->totals.raw_bytes,
        (unsigned long long)t->totals.blocks_of_kind[BLOCK_KIND_LZ4],
        (unsigned long long)t->totals.blocks_of_kind[BLOCK_KIND_ZSTD],
        (unsigned long long)m->totals.raw_bytes,
        (unsigned long long)m->totals.blocks_of_kind[BLOCK_KIND_LZ4],
        (unsigned long long)m->totals.blocks_of_kind[BLOCK_KIND_ZSTD]);
}

/* Reads and verifies the meta section (format 3), kept from open to
 * free. */
static int sst_open_meta_section(sst *t)
{
    size_t n = t->footer.meta_size;
    if (n == 0)
        return LSM_OK;
    uint64_t at = t->footer.index_offset + t->footer.index_size;
    t->meta_section_bytes = malloc(n);
    if (!t->meta_section_bytes)
        return lsm_error(LSM_ENOMEM,
                         "%s: out of memory for its meta section "
                         "(%zu bytes)",
                         t->path, n);
    int rc = file_read_at(t->file, at, t->meta_section_bytes, n);
    if (rc == LSM_OK)
        rc = sst_meta_section_decode(t->meta_section_bytes, n, t->path, at,
                                     &t->meta_section);
    return rc;
}

const uint8_t *sst_meta_record(const sst *t, unsigned tag, size_t *n)
{
    if (tag >= SST_META_TAG_END || !t->meta_section.record[tag]) {
        *n = 0;
        return NULL;
    }
    *n = t->meta_section.n_record[tag];
    return t->meta_section.record[tag];
}

/* Loads the meta at open: verified now, so a damaged file fails to open
 * whatever the option; then kept by the sst, or handed to the cache. */
static int sst_open_meta(sst *t, bool cache_meta)
{
    sst_meta *m = NULL;
    int rc = sst_meta_load(t, &m);
    if (rc == LSM_OK)
        rc = sst_keep_bounds(t, m);
    if (rc == LSM_OK)
        rc = sst_check_compression_totals(t, m);
    if (rc != LSM_OK) {
        sst_meta_free(m);
        return rc;
    }
    if (!cache_meta || !t->cache) {
        t->meta = m;
        return LSM_OK;
    }
    cache_handle *h = block_cache_insert(t->cache, t->sst_id, SST_META_KEY, m,
                                         m->charge, sst_meta_free);
    if (!h)
        return lsm_error(LSM_ENOMEM, "%s: out of memory caching its index",
                         t->path);
    block_cache_release(t->cache, h);
    return LSM_OK;
}

/* The cached half of sst_meta_acquire: the cache's copy, else read and
 * verified again (then cached). */
static int sst_meta_acquire_cached(sst *t, sst_meta_ref *ref)
{
    ref->handle = block_cache_lookup(t->cache, t->sst_id, SST_META_KEY);
    if (ref->handle) {
        ref->m = cache_handle_value(ref->handle);
        return LSM_OK;
    }
    sst_meta *m = NULL;
    int rc = sst_meta_load(t, &m);
    if (rc != LSM_OK)
        return rc;
    COUNTER_ADD(t->ctrs, meta_reads, 1);
    ref->handle = block_cache_insert(t->cache, t->sst_id, SST_META_KEY, m,
                                     m->charge, sst_meta_free);
    if (!ref->handle)
        return lsm_error(LSM_ENOMEM, "%s: out of memory caching its index",
                         t->path);
    ref->m = m;
    return LSM_OK;
}

/* Gets t's meta into *ref: the sst's own, else the cache's. Release with
 * sst_meta_release. Inline: a get on an sst that keeps its meta pays one
 * test. */
static inline int sst_meta_acquire(sst *t, sst_meta_ref *ref)
{
    ref->handle = NULL;
    ref->m = t->meta;
    return ref->m ? LSM_OK : sst_meta_acquire_cached(t, ref);
}

static void sst_meta_release(sst *t, sst_meta_ref *ref)
{
    if (ref->handle)
        block_cache_release(t->cache, ref->handle);
    ref->handle = NULL;
    ref->m = NULL;
}

/* Frees an sst whose references are gone (or that never opened). */
static void sst_free(sst *t)
{
    sst_mapping_unref(t->map);
    file_close(t->file);
    sst_meta_free(t->meta);
    range_tomb_list_free(&t->ranges);
    range_frags_free(t->range_frags);
    free(t->meta_section_bytes);
    free(t->bounds);
    free(t->path);
    free(t);
}

/* Maps the file when asked to and the env offers it. Not mapping is never
 * an error: blocks are then read with read_at. */
static void sst_try_map(sst *t, bool map_file)
{
    const void *base = NULL;
    if (!map_file || !t->env->map || !t->env->unmap || t->file_size == 0)
        return;
    sst_mapping *m = malloc(sizeof *m);
    if (!m)
        return;
    char saved[512]; /* a refused map must not replace the thread's message */
    snprintf(saved, sizeof saved, "%s", lsm_errmsg());
    if (t->env->map(t->file, t->file_size, &base) != LSM_OK) {
        lsm_error_set_message(saved);
        free(m);
        return;
    }
    atomic_init(&m->refs, 1);
    m->env = t->env;
    m->base = base;
    m->n_bytes = t->file_size;
    t->map = m;
}

/* Decodes the SST_META_PREFIX record, if the file has one. */
static int sst_open_prefix(sst *t)
{
    size_t n;
    const uint8_t *rec = sst_meta_record(t, SST_META_PREFIX, &n);
    if (!rec)
        return LSM_OK;
    int rc = prefix_record_decode(rec, n, t->path, &t->prefix);
    t->has_prefix = rc == LSM_OK;
    return rc;
}

int sst_open(env *e, const char *path, uint64_t sst_id, block_cache *cache,
             counters *ctrs, bool map_file, sst **out)
{
    sst_open_options o = {.map_file = map_file, .cache_meta = false};
    return sst_open_with(e, path, sst_id, cache, ctrs, &o, out);
}

/* Range tombstones at open (below, beside their accessors). */
static int sst_open_ranges(sst *t);

int sst_open_with(env *e, const char *path, uint64_t sst_id, block_cache *cache,
                  counters *ctrs, const sst_open_options *o, sst **out)
{
    *out = NULL;
    sst *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return lsm_error(LSM_ENOMEM, "out of memory opening %s", path);
    }
    atomic_init(&t->refs, 1);
    atomic_init(&t->obsolete, false);
    t->env = e;
    t->sst_id = sst_id;
    t->cache = cache;
    t->ctrs = ctrs;
    int rc = e->open_read(e, path, &t->file);
    if (rc == LSM_OK)
        rc = file_size(t->file, &t->file_size);
    if (rc == LSM_OK)
        rc = sst_read_footer(t, &t->footer);
    if (rc == LSM_OK)
        rc = sst_open_meta_section(t);
    if (rc == LSM_OK)
        rc = sst_read_compression_record(t);
    if (rc == LSM_OK)
        rc = sst_open_meta(t, o->cache_meta);
    if (rc == LSM_OK)
        rc = sst_open_ranges(t);
    if (rc == LSM_OK)
        rc = sst_open_prefix(t);
    if (rc != LSM_OK) {
        sst_free(t);
        return rc;
    }
    sst_try_map(t, o->map_file);
    *out = t;
    return LSM_OK;
}

/* --- References ----------------------------------------------------------- */

void sst_ref(sst *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

/* The last reference closes the file; an obsolete file is then removed, and
 * its blocks leave the cache (nobody can ask for them again). */
void sst_unref(sst *t)
{
    if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    bool obsolete = atomic_load_explicit(&t->obsolete, memory_order_acquire);
    file_close(t->file);
    t->file = NULL;
    if (obsolete) {
        /* This may run on any thread: a failed unlink must not replace the
         * message of whatever that thread is reporting. */
        char saved[512];
        snprintf(saved, sizeof saved, "%s", lsm_errmsg());
        t->env->unlink(t->env, t->path);
        lsm_error_set_message(saved);
        block_cache_erase_sst(t->cache, t->sst_id);
    }
    sst_free(t);
}

void sst_mark_obsolete(sst *t)
{
    atomic_store_explicit(&t->obsolete, true, memory_order_release);
}

size_t sst_refs(const sst *t)
{
    /* Sequentially consistent: the db layer orders it against its own
     * flag (db/db_pins.c), and it acquires what the reader that dropped
     * the count did before. */
    return atomic_load(&t->refs);
}

/* --- Accessors ------------------------------------------------------------ */

uint64_t sst_id(const sst *t)
{
    return t->sst_id;
}

uint64_t sst_file_size(const sst *t)
{
    return t->file_size;
}

uint64_t sst_num_entries(const sst *t)
{
    return t->footer.num_entries;
}

uint64_t sst_num_blocks(const sst *t)
{
    return t->footer.num_blocks;
}

uint64_t sst_max_seq(const sst *t)
{
    return t->footer.max_seq;
}

uint64_t sst_recorded_id(const sst *t)
{
    return t->footer.sst_id;
}

const uint8_t *sst_db_identity(const sst *t)
{
    return t->footer.db_identity;
}

void sst_compression_totals(const sst *t, sst_compression *out)
{
    *out = t->totals;
}

uint64_t sst_compression_stored_bytes(const sst *t)
{
    return t->footer.filter_offset;
}

/* The smallest and largest keys t's range tombstones may cover. */
static void sst_ranges_span(const sst *t, const uint8_t **lo, size_t *nlo,
                            const uint8_t **hi, size_t *nhi)
{
    *lo = t->ranges.v[0].lo; /* sorted by lo */
    *nlo = t->ranges.v[0].nlo;
    *hi = NULL;
    *nhi = 0;
    for (size_t i = 0; i < t->ranges.n; i++) {
        size_t n;
        const uint8_t *last = range_tomb_last_key(&t->ranges.v[i], &n);
        if (!*hi || user_key_cmp(last, n, *hi, *nhi) > 0) {
            *hi = last;
            *nhi = n;
        }
    }
}

/* Widens the file's key range (t->bounds, from its blocks, none without)
 * to cover its range tombstones. */
static int sst_widen_bounds(sst *t)
{
    const uint8_t *lo, *hi;
    size_t nlo, nhi;
    sst_ranges_span(t, &lo, &nlo, &hi, &nhi);
    if (t->bounds) {
        const uint8_t *first = t->bounds, *last = t->bounds + t->n_first_key;
        if (user_key_cmp(first, t->n_first_key, lo, nlo) < 0) {
            lo = first;
            nlo = t->n_first_key;
        }
        if (user_key_cmp(last, t->n_last_key, hi, nhi) > 0) {
            hi = last;
            nhi = t->n_last_key;
        }
    }
    uint8_t *bounds = malloc(nlo + nhi);
    if (!bounds)
        return lsm_error(LSM_ENOMEM, "%s: out of memory", t->path);
    memcpy(bounds, lo, nlo);
    memcpy(bounds + nlo, hi, nhi);
    free(t->bounds);
    t->bounds = bounds;
    t->n_first_key = nlo;
    t->n_last_key = nhi;
    return LSM_OK;
}

/* Reads the range tombstones (SST_META_RANGE_DELS), checks them
 * (range_decode: LSM_ECORRUPT naming the file), fragments them and widens
 * the key range over them. A file without blocks must have some. */
static int sst_open_ranges(sst *t)
{
    size_t n;
    const uint8_t *rec = sst_meta_record(t, SST_META_RANGE_DELS, &n);
    if (!rec)
        return t->footer.num_blocks > 0
                   ? LSM_OK
                   : lsm_corrupt("%s: no data blocks and no range tombstones",
                                 t->path);
    int rc = range_decode(rec, n, t->path, &t->ranges);
    if (rc == LSM_OK)
        rc = range_frags_build(t->ranges.v, t->ranges.n, UINT64_MAX,
                               &t->range_frags);
    if (rc == LSM_OK)
        rc = sst_widen_bounds(t);
    return rc;
}

const range_tomb *sst_range_tombs(const sst *t, size_t *n)
{
    *n = t->ranges.n;
    return t->ranges.n ? t->ranges.v : NULL;
}

uint64_t sst_range_covering(const sst *t, const uint8_t *key, size_t nkey,
                            uint64_t read_seq)
{
    return range_frags_covering(t->range_frags, key, nkey, read_seq);
}

const uint8_t *sst_first_key(const sst *t, size_t *n)
{
    *n = t->n_first_key;
    return t->bounds;
}

const uint8_t *sst_last_key(const sst *t, size_t *n)
{
    *n = t->n_last_key;
    return t->bounds + t->n_first_key;
}

size_t sst_find_by_last_key(sst *const *ssts, size_t n, const uint8_t *key,
                            size_t nkey)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t nlast;
        const uint8_t *last = sst_last_key(ssts[mid], &nlast);
        if (user_key_cmp(last, nlast, key, nkey) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool sst_key_in_range(const sst *t, const uint8_t *key, size_t nkey)
{
    size_t nfirst, nlast;
    const uint8_t *first = sst_first_key(t, &nfirst);
    const uint8_t *last = sst_last_key(t, &nlast);
    return user_key_cmp(key, nkey, first, nfirst) >= 0 &&
           user_key_cmp(key, nkey, last, nlast) <= 0;
}

/* --- Blocks --------------------------------------------------------------- */

/* The first block whose last key >= key: the only block that can hold the
 * newest version of key (older ones may continue in the blocks after it).
 * num_blocks when every block is smaller. */
static uint64_t sst_index_find(const sst *t, const sst_meta *m,
                               const uint8_t *key, size_t nkey)
{
    uint64_t lo = 0, hi = t->footer.num_blocks;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        size_t nlast;
        const uint8_t *last = sst_block_last_key(m, mid, &nlast);
        if (user_key_cmp(last, nlast, key, nkey) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Checks that a decoded block's first and last user keys are those its
 * index record promises, so lookups guided by the index find what they
 * should. */
static int sst_block_matches_index(const sst *t, const sst_meta *m,
                                   uint64_t idx, const block *b)
{
    size_t nfirst, nlast;
    const uint8_t *first_key = sst_block_first_key(m, idx, &nfirst);
    const uint8_t *last_key = sst_block_last_key(m, idx, &nlast);
    block_entry first, last;
    block_first_entry(b, &first);
    block_last_entry(b, &last);
    if (block_entry_key_cmp(&first, first_key, nfirst) != 0 ||
        block_entry_key_cmp(&last, last_key, nlast) != 0)
        return lsm_corrupt("%s: data block %llu at offset %llu: keys differ "
                           "from its index record",
                           t->path, (unsigned long long)idx,
                           (unsigned long long)sst_block_extent(m, idx).offset);
    return LSM_OK;
}

/* Decodes and verifies block idx, whose bytes lie at bytes: the whole
 * walk and the index check the first time these bytes are seen, the
 * checksum and trailer only when the block's memo knows them. Counts a
 * block read. */
static int sst_block_verify(sst *t, const sst_meta *m, uint64_t idx,
                            sst_extent r, const uint8_t *bytes, block *out)
{
    block_memo *memo = &m->memos[idx];
    bool known = false;
    int rc = block_decode_memo(bytes, r.size_bytes, t->path, r.offset, memo,
                               out, &known);
    if (rc == LSM_OK && !known) {
        rc = sst_block_matches_index(t, m, idx, out);
        if (rc == LSM_OK)
            block_memo_record(memo, out);
    }
    if (rc == LSM_OK)
        COUNTER_ADD(t->ctrs, block_reads, 1);
    return rc;
}

/* The compressed half of sst_block_read: the stored bytes (in the
 * mapping, read ahead, or read now into a buffer freed here) are
 * verified and decompressed into an allocation of the raw size the index
 * record gives (checked at open against the stored size, so a hostile
 * record cannot make it huge), which is then verified as any block. The
 * block never points into the mapping. */
static int sst_block_read_compressed(sst *t, const sst_meta *m, uint64_t idx,
                                     sst_extent r, const uint8_t *ahead,
                                     sst_block **out)
{
    sst_block *sb = malloc(sizeof(sst_block) + r.raw_bytes);
    uint8_t *read_buf = NULL;
    const uint8_t *stored = t->map ? t->map->base + r.offset : ahead;
    int rc = LSM_OK;
    if (sb && !stored && (read_buf = malloc(r.size_bytes)))
        stored = read_buf;
    if (!sb || !stored) {
        free(sb);
        return lsm_error(LSM_ENOMEM, "%s: out of memory for a %u-byte block",
                         t->path, (unsigned)r.raw_bytes);
    }
    sb->map = NULL;
    if (read_buf)
        rc = file_read_at(t->file, r.offset, read_buf, r.size_bytes);
    if (rc == LSM_OK)
        rc = block_decompress((block_kind)r.kind, stored, r.size_bytes,
                              sb->bytes, r.raw_bytes, t->path, r.offset);
    free(read_buf);
    sst_extent raw = r;
    raw.size_bytes = r.raw_bytes;
    if (rc == LSM_OK)
        rc = sst_block_verify(t, m, idx, raw, sb->bytes, &sb->blk);
    if (rc != LSM_OK) {
        free(sb);
        return rc;
    }
    *out = sb;
    return LSM_OK;
}

/* Reads block idx and verifies it: read into the allocation with read_at
 * (the default), or copied there from ahead (its bytes, read ahead by an
 * iterator) when not NULL, or decoded in place in the mapping when there
 * is one. *out is malloc'd; the caller frees it with sst_block_free (or
 * hands it to the cache). */
static int sst_block_read(sst *t, const sst_meta *m, uint64_t idx,
                          const uint8_t *ahead, sst_block **out)
{
    sst_extent r = sst_block_extent(m, idx);
    if (r.kind != BLOCK_KIND_RAW)
        return sst_block_read_compressed(t, m, idx, r, ahead, out);
    size_t n = r.size_bytes;
    size_t n_alloc = sizeof(sst_block) + (t->map ? 0 : n);
    sst_block *sb = malloc(n_alloc);
    if (!sb)
        return lsm_error(LSM_ENOMEM, "%s: out of memory for a %zu-byte block",
                         t->path, n);
    const uint8_t *bytes = sb->bytes;
    int rc = LSM_OK;
    sb->map = NULL;
    /* Invariant 1: every block lies inside the file, hence the mapping. */
    if (t->map)
        bytes = t->map->base + r.offset;
    else if (ahead)
        memcpy(sb->bytes, ahead, n);
    else
        rc = file_read_at(t->file, r.offset, sb->bytes, n);
    if (rc == LSM_OK)
        rc = sst_block_verify(t, m, idx, r, bytes, &sb->blk);
    if (rc != LSM_OK) {
        free(sb);
        return rc;
    }
    if (t->map) {
        sst_mapping_ref(t->map);
        sb->map = t->map;
    }
    *out = sb;
    return LSM_OK;
}

/* Where block idx continues the versions of the key block idx - 1 ended
 * with, checks that they stay newest first across the boundary: the first
 * version here must be older than prev_last_seq, the seq of the previous
 * block's last entry. (Within a block, block_decode checked the order.) */
static int sst_check_boundary(const sst *t, const sst_meta *m, uint64_t idx,
                              uint64_t prev_last_seq, const block *b)
{
    if (idx == 0 || !sst_block_continues_key(m, idx))
        return LSM_OK;
    block_entry first;
    block_first_entry(b, &first);
    if (first.seq < prev_last_seq)
        return LSM_OK;
    return lsm_corrupt("%s: data block %llu at offset %llu: its first entry "
                       "is not older than the previous block's last version "
                       "of the same key",
                       t->path, (unsigned long long)idx,
                       (unsigned long long)sst_block_extent(m, idx).offset);
}

/* The seq of block b's last entry. */
static uint64_t sst_block_last_seq(const block *b)
{
    block_entry last;
    block_last_entry(b, &last);
    return last.seq;
}

/* What a block costs the cache: the memory it holds, header and copied
 * bytes (a mapped block's bytes are the OS's page cache, not ours). */
static size_t sst_block_charge(const sst_block *sb)
{
    return sizeof *sb + (sb->map ? 0 : sb->blk.n_bytes);
}

static void sst_block_free(void *value)
{
    sst_block *sb = value;
    if (sb)
        sst_mapping_unref(sb->map);
    free(sb);
}

/* The miss half of sst_block_acquire: reads block idx (from ahead when not
 * NULL, see sst_block_read) into *ref, emptied by sst_block_from_cache
 * below, and caches it when fill_cache (else *ref owns it). */
static int sst_block_hold_read(sst *t, const sst_meta *m, uint64_t idx,
                               const uint8_t *ahead, bool fill_cache,
                               sst_block_ref *ref)
{
    sst_block *sb = NULL;
    int rc = sst_block_read(t, m, idx, ahead, &sb);
    if (rc != LSM_OK)
        return rc;
    if (!t->cache || !fill_cache) {
        ref->owned = sb;
        ref->blk = &sb->blk;
        return LSM_OK;
    }
    ref->handle = block_cache_insert(t->cache, t->sst_id, idx, sb,
                                     sst_block_charge(sb), sst_block_free);
    if (!ref->handle)
        return lsm_error(LSM_ENOMEM, "%s: out of memory caching a block",
                         t->path);
    ref->blk = &sb->blk;
    return LSM_OK;
}

/* Empties *ref, then fills it from the cache when the cache holds block
 * idx (counting the hit). false on a miss (or no cache). */
static bool sst_block_from_cache(sst *t, uint64_t idx, sst_block_ref *ref)
{
    ref->handle = NULL;
    ref->owned = NULL;
    ref->blk = NULL;
    ref->cached = false;
    if (!t->cache)
        return false;
    ref->handle = block_cache_lookup(t->cache, t->sst_id, idx);
    if (!ref->handle)
        return false;
    ref->cached = true;
    COUNTER_ADD(t->ctrs, block_cache_hits, 1);
    ref->blk = &((sst_block *)cache_handle_value(ref->handle))->blk;
    return true;
}

/* Gets block idx into *ref: from the cache on a hit, else from the file
 * (then cached). Release with sst_block_release. */
static int sst_block_acquire(sst *t, const sst_meta *m, uint64_t idx,
                             sst_block_ref *ref)
{
    if (sst_block_from_cache(t, idx, ref))
        return LSM_OK;
    return sst_block_hold_read(t, m, idx, NULL, true, ref);
}

static void sst_block_release(sst *t, sst_block_ref *ref)
{
    if (ref->handle)
        block_cache_release(t->cache, ref->handle);
    sst_block_free(ref->owned);
    ref->handle = NULL;
    ref->owned = NULL;
    ref->blk = NULL;
}

/* --- Point lookups -------------------------------------------------------- */

/* Copies e into one allocation laid out as value, a NUL byte, then the key
 * (so *owned is also the value, NUL-terminated). */
static int sst_get_copy(const sst *t, const block_entry *e, entry *out,
                        void **owned)
{
    size_t nkey = block_entry_nkey(e);
    uint8_t *p = malloc(e->nvalue + 1 + nkey);
    if (!p)
        return lsm_error(LSM_ENOMEM, "%s: out of memory for a %zu-byte value",
                         t->path, e->nvalue);
    if (e->nvalue)
        memcpy(p, e->value, e->nvalue);
    p[e->nvalue] = '\0';
    block_entry_copy_key(e, p + e->nvalue + 1);
    out->value = p;
    out->nvalue = e->nvalue;
    out->key = p + e->nvalue + 1;
    out->nkey = nkey;
    out->seq = e->seq;
    out->type = e->type;
    *owned = p;
    return LSM_OK;
}

/* Whether the filter rules key out, counting the check (in tr too, when
 * not NULL). */
static bool sst_filter_excludes(sst *t, const sst_meta *m, const uint8_t *key,
                                size_t nkey, sst_get_trace *tr)
{
    if (bloom_is_empty(&m->filter))
        return false;
    COUNTER_ADD(t->ctrs, bloom_checks, 1);
    if (tr)
        tr->bloom_checked = true;
    if (bloom_may_contain(&m->filter, key, nkey))
        return false;
    COUNTER_ADD(t->ctrs, bloom_negatives, 1);
    if (tr)
        tr->bloom_negative = true;
    return true;
}

/* Records in tr (when not NULL) which block the lookup searched and how. */
static void sst_get_trace_block(sst_get_trace *tr, uint64_t idx,
                                const sst_block_ref *ref)
{
    if (!tr)
        return;
    tr->block_searched = true;
    tr->block_index = idx;
    tr->block_cached = ref->cached;
}

/* Searches block idx for the newest version of key with seq <= max_seq.
 * *out_of_block is set when the block holds no such version and ends
 * before anything larger: the versions may go on in the next block.
 * Fills *out / *owned on a hit (*found). */
static int sst_get_in_block(sst *t, const sst_meta *m, uint64_t idx,
                            const uint8_t *key, size_t nkey, uint64_t max_seq,
                            uint64_t *prev_last_seq, bool *found,
                            bool *out_of_block, entry *out, void **owned,
                            sst_get_trace *tr)
{
    sst_block_ref ref;
    int rc = sst_block_acquire(t, m, idx, &ref);
    if (rc != LSM_OK)
        return rc;
    sst_get_trace_block(tr, idx, &ref);
    rc = sst_check_boundary(t, m, idx, *prev_last_seq, ref.blk);
    block_entry e;
    bool at_or_after = rc != LSM_OK ? false
                       : tr ? block_seek_counted(ref.blk, key, nkey, max_seq,
                                                 &e, &tr->n_compared)
                            : block_seek(ref.blk, key, nkey, max_seq, &e);
    *out_of_block = rc == LSM_OK && !at_or_after;
    if (*out_of_block)
        *prev_last_seq = sst_block_last_seq(ref.blk);
    if (at_or_after && block_entry_key_cmp(&e, key, nkey) == 0) {
        rc = sst_get_copy(t, &e, out, owned);
        *found = rc == LSM_OK;
    }
    sst_block_release(t, &ref);
    return rc;
}

/* sst_get and sst_get_traced: inlined into each, so the plain one's tests
 * of tr fold away (the read path's cost stays that of before traces).
 *
 * The first block whose last key >= key holds the newest version of key,
 * if the file has it; when every version there is newer than max_seq, the
 * older ones may continue in the following blocks, as long as they start
 * with key (FORMAT.md, "Index").
 *
 * The copy in *owned (see sst_int.h) is laid out as: value bytes, one NUL
 * byte (not counted in nvalue), key bytes; so *owned == out->value, a
 * NUL-terminated copy of the value that lsm_get can hand out as is. The
 * caller frees *owned. On a miss or an error *owned is NULL. */
static inline int sst_get_in_meta(sst *t, const sst_meta *m, const uint8_t *key,
                                  size_t nkey, uint64_t max_seq, bool *found,
                                  entry *out, void **owned, sst_get_trace *tr)
{
    if (sst_filter_excludes(t, m, key, nkey, tr))
        return LSM_OK;
    COUNTER_ADD(t->ctrs, sst_probes, 1);
    if (tr)
        tr->probed = true;
    uint64_t idx = sst_index_find(t, m, key, nkey);
    /* The file's key range covers its range tombstones too: a key in it
     * may lie past the last block. */
    if (idx >= t->footer.num_blocks)
        return LSM_OK;
    size_t nfirst;
    const uint8_t *first = sst_block_first_key(m, idx, &nfirst);
    if (user_key_cmp(first, nfirst, key, nkey) > 0)
        return LSM_OK; /* between two blocks: no block can hold it */
    /* Block idx - 1 ends before key, so the first block searched starts
     * no versions of key: no seq to check its boundary against. */
    uint64_t prev_last_seq = UINT64_MAX;
    bool out_of_block = false;
    int rc = sst_get_in_block(t, m, idx, key, nkey, max_seq, &prev_last_seq,
                              found, &out_of_block, out, owned, tr);
    while (rc == LSM_OK && out_of_block && ++idx < t->footer.num_blocks &&
           (first = sst_block_first_key(m, idx, &nfirst),
            user_key_cmp(first, nfirst, key, nkey) == 0))
        rc = sst_get_in_block(t, m, idx, key, nkey, max_seq, &prev_last_seq,
                              found, &out_of_block, out, owned, tr);
    return rc;
}

static inline int sst_get_with(sst *t, const uint8_t *key, size_t nkey,
                               uint64_t max_seq, bool *found, entry *out,
                               void **owned, sst_get_trace *tr)
{
    *found = false;
    *owned = NULL;
    if (tr)
        memset(tr, 0, sizeof *tr);
    if (!sst_key_in_range(t, key, nkey))
        return LSM_OK;
    sst_meta_ref meta;
    int rc = sst_meta_acquire(t, &meta);
    if (rc != LSM_OK)
        return rc;
    rc = sst_get_in_meta(t, meta.m, key, nkey, max_seq, found, out, owned, tr);
    sst_meta_release(t, &meta);
    return rc;
}

int sst_get(sst *t, const uint8_t *key, size_t nkey, uint64_t max_seq,
            bool *found, entry *out, void **owned)
{
    return sst_get_with(t, key, nkey, max_seq, found, out, owned, NULL);
}

int sst_get_traced(sst *t, const uint8_t *key, size_t nkey, uint64_t max_seq,
                   bool *found, entry *out, void **owned, sst_get_trace *tr)
{
    return sst_get_with(t, key, nkey, max_seq, found, out, owned, tr);
}

/* --- Iterator ------------------------------------------------------------- */

/* Sequential readahead, for an iterator reading with pread. Once it has
 * stepped from one block to the next SST_READAHEAD_AFTER times in a row
 * (a scan, a compaction; not the few steps after a random seek), a block
 * the cache lacks is read together with the blocks after it, up to
 * SST_READAHEAD_BYTES, in one read_at into the iterator's buffer: one
 * system call instead of one per block (on the VM measured, a pread of 4
 * KiB from the page cache cost 2.2 us, most of it the call itself). Each
 * block read ahead is then verified, copied and cached when the iterator
 * reaches it, exactly as if it had been read alone: only the number of
 * system calls changes. */
#define SST_READAHEAD_AFTER 2
#define SST_READAHEAD_BYTES ((size_t)64 << 10)

typedef struct sst_readahead {
    uint8_t *buf; /* malloc'd on first use, cap bytes */
    size_t cap;
    uint64_t first, end;     /* blocks [first, end) lie in buf */
    unsigned steps_in_a_row; /* block-to-next-block steps since a seek */
} sst_readahead;

typedef struct sst_iter {
    iter base;
    sst *t;
    sst_meta_ref meta;  /* from the first seek to destroy */
    uint64_t block_idx; /* of ref, when ref.blk != NULL */
    sst_block_ref ref;
    block_cursor cur;
    sst_readahead ra;
    bool fill_cache;   /* false: blocks read are not cached (compaction) */
    iter_stats *stats; /* explained scans only; NULL: count nothing */
} sst_iter;

/* Reads blocks first.. into the readahead buffer, as many as fit in
 * SST_READAHEAD_BYTES (at least block first, whatever its size). */
static int sst_readahead_fill(sst_iter *si, uint64_t first)
{
    const sst *t = si->t;
    const sst_meta *m = si->meta.m;
    uint64_t end = first;
    size_t n = 0;
    do {
        n += sst_block_extent(m, end).size_bytes;
        end++;
    } while (end < t->footer.num_blocks &&
             n + sst_block_extent(m, end).size_bytes <= SST_READAHEAD_BYTES);
    if (n > si->ra.cap) {
        uint8_t *grown = realloc(si->ra.buf, n);
        if (!grown)
            return lsm_error(LSM_ENOMEM, "%s: out of memory for %zu bytes",
                             t->path, n);
        si->ra.buf = grown;
        si->ra.cap = n;
    }
    si->ra.first = si->ra.end = 0; /* empty until the read succeeds */
    int rc =
        file_read_at(t->file, sst_block_extent(m, first).offset, si->ra.buf, n);
    if (rc == LSM_OK) {
        si->ra.first = first;
        si->ra.end = end;
    }
    return rc;
}

/* The bytes of block idx in the readahead buffer, reading ahead from idx
 * first when they are not there. */
static int sst_readahead_bytes(sst_iter *si, uint64_t idx,
                               const uint8_t **bytes)
{
    sst_readahead *ra = &si->ra;
    const sst_meta *m = si->meta.m;
    if (idx < ra->first || idx >= ra->end) {
        int rc = sst_readahead_fill(si, idx);
        if (rc != LSM_OK)
            return rc;
    }
    *bytes = ra->buf + (sst_block_extent(m, idx).offset -
                        sst_block_extent(m, ra->first).offset);
    return LSM_OK;
}

/* Gets block idx into si->ref: from the cache when it has it; else from
 * the readahead buffer when the iterator is reading sequentially (or the
 * block is already there), else with a read of its own; cached unless the
 * iterator does not fill the cache. */
static int sst_iter_acquire(sst_iter *si, uint64_t idx)
{
    sst *t = si->t;
    const sst_meta *m = si->meta.m;
    sst_block_ref *ref = &si->ref;
    if (sst_block_from_cache(t, idx, ref))
        return LSM_OK;
    bool in_buffer = idx >= si->ra.first && idx < si->ra.end;
    bool sequential = si->ra.steps_in_a_row >= SST_READAHEAD_AFTER;
    const uint8_t *bytes = NULL;
    /* A span that cannot be read (a file cut short inside it, no memory)
     * says nothing of this block: it is then read alone, so an error names
     * the block that is damaged and every block before it is served. */
    if (!t->map && (in_buffer || sequential) &&
        sst_readahead_bytes(si, idx, &bytes) != LSM_OK)
        bytes = NULL;
    return sst_block_hold_read(t, m, idx, bytes, si->fill_cache, ref);
}

/* Counts the entry a counting iterator just landed on, if any. */
static void sst_iter_count_entry(sst_iter *si)
{
    if (si->cur.valid)
        si->stats->entries++;
}

/* Drops the current block; the iterator is then exhausted. */
static void sst_iter_drop_block(sst_iter *si)
{
    block_cursor_detach(&si->cur);
    sst_block_release(si->t, &si->ref);
}

/* Makes block idx the current one, cursor unpositioned; stepping says the
 * iterator moved on from the block before idx (else it seeked). On error
 * the iterator holds no block (invalid). */
static int sst_iter_load_block(sst_iter *si, uint64_t idx, bool stepping)
{
    sst_iter_drop_block(si);
    si->ra.steps_in_a_row = stepping ? si->ra.steps_in_a_row + 1 : 0;
    int rc = sst_iter_acquire(si, idx);
    if (rc == LSM_OK && si->stats) {
        if (si->ref.cached)
            si->stats->block_cache_hits++;
        else
            si->stats->blocks_read++;
    }
    if (rc == LSM_OK) {
        rc = block_cursor_attach(&si->cur, si->ref.blk);
        if (rc != LSM_OK)
            sst_block_release(si->t, &si->ref);
    }
    si->block_idx = idx;
    return rc;
}

/* While the cursor is past its block's end, moves to the next block's first
 * entry; drops the block at the end of the file. */
static int sst_iter_skip_exhausted(sst_iter *si)
{
    while (si->ref.blk && !si->cur.valid) {
        uint64_t next = si->block_idx + 1;
        if (next >= si->t->footer.num_blocks) {
            sst_iter_drop_block(si);
            return LSM_OK;
        }
        uint64_t last_seq = sst_block_last_seq(si->ref.blk);
        int rc = sst_iter_load_block(si, next, true);
        if (rc == LSM_OK)
            rc = sst_check_boundary(si->t, si->meta.m, next, last_seq,
                                    si->ref.blk);
        if (rc != LSM_OK) {
            sst_iter_drop_block(si);
            return rc;
        }
        block_cursor_seek_first(&si->cur);
    }
    return LSM_OK;
}

static bool sst_iter_valid(const iter *it)
{
    return ((const sst_iter *)it)->cur.valid;
}

static void sst_iter_current(const iter *it, entry *out)
{
    *out = ((const sst_iter *)it)->cur.cur;
}

static int sst_iter_next(iter *it)
{
    sst_iter *si = (sst_iter *)it;
    if (!si->cur.valid)
        return LSM_OK;
    block_cursor_next(&si->cur);
    return sst_iter_skip_exhausted(si);
}

static int sst_iter_seek(iter *it, const uint8_t *key, size_t nkey)
{
    sst_iter *si = (sst_iter *)it;
    if (!si->meta.m) {
        int rc = sst_meta_acquire(si->t, &si->meta);
        if (rc != LSM_OK) {
            sst_iter_drop_block(si);
            return rc;
        }
    }
    uint64_t idx = key ? sst_index_find(si->t, si->meta.m, key, nkey) : 0;
    if (idx >= si->t->footer.num_blocks) {
        sst_iter_drop_block(si);
        return LSM_OK;
    }
    int rc = sst_iter_load_block(si, idx, false);
    if (rc != LSM_OK)
        return rc;
    if (key)
        block_cursor_seek(&si->cur, key, nkey);
    else
        block_cursor_seek_first(&si->cur);
    return sst_iter_skip_exhausted(si);
}

static size_t sst_iter_num_active(const iter *it)
{
    return sst_iter_valid(it) ? 1 : 0;
}

static void sst_iter_destroy(iter *it)
{
    sst_iter *si = (sst_iter *)it;
    sst_iter_drop_block(si);
    sst_meta_release(si->t, &si->meta);
    block_cursor_free(&si->cur);
    free(si->ra.buf);
    sst_unref(si->t);
    free(si);
}

static const iter_ops sst_iter_ops = {
    sst_iter_valid, sst_iter_current,    sst_iter_next,
    sst_iter_seek,  sst_iter_num_active, sst_iter_destroy,
};

/* An explained scan's SST iterator: next and seek count the entry they
 * land on. A table of its own, so plain iterators test nothing per entry. */
static int sst_iter_next_counted(iter *it)
{
    int rc = sst_iter_next(it);
    sst_iter_count_entry((sst_iter *)it);
    return rc;
}

static int sst_iter_seek_counted(iter *it, const uint8_t *key, size_t nkey)
{
    int rc = sst_iter_seek(it, key, nkey);
    sst_iter_count_entry((sst_iter *)it);
    return rc;
}

static const iter_ops sst_iter_counted_ops = {
    sst_iter_valid,        sst_iter_current,    sst_iter_next_counted,
    sst_iter_seek_counted, sst_iter_num_active, sst_iter_destroy,
};

/* An iterator over t: counting into stats (NULL: no counting), filling the
 * cache or not. */
static iter *sst_iter_create(sst *t, iter_stats *stats, bool fill_cache)
{
    sst_iter *si = calloc(1, sizeof *si);
    if (!si)
        return NULL;
    si->base.ops = stats ? &sst_iter_counted_ops : &sst_iter_ops;
    si->t = t;
    si->stats = stats;
    si->fill_cache = fill_cache;
    block_cursor_init(&si->cur);
    sst_ref(t);
    return &si->base;
}

iter *sst_iter_new(sst *t)
{
    return sst_iter_create(t, NULL, true);
}

iter *sst_iter_new_counted(sst *t, iter_stats *stats)
{
    return sst_iter_create(t, stats, true);
}

iter *sst_iter_new_uncached(sst *t)
{
    return sst_iter_create(t, NULL, false);
}

/* --- Inspection ----------------------------------------------------------- */

/* What inspection reads: the sst's own meta (opened without a cache, it
 * keeps one from open to close). */
static const sst_meta *sst_inspect_meta(const sst *t)
{
    return t->meta;
}

void sst_inspect_layout(const sst *t, sst_layout *out)
{
    *out = (sst_layout){.filter_offset = t->footer.filter_offset,
                        .filter_bytes = t->footer.filter_size,
                        .index_offset = t->footer.index_offset,
                        .index_bytes = t->footer.index_size,
                        .meta_offset =
                            t->footer.index_offset + t->footer.index_size,
                        .meta_bytes = t->footer.meta_size,
                        .format_version = t->footer.format_version};
}

void sst_inspect_block_record(const sst *t, uint64_t idx, sst_block_record *out)
{
    const sst_meta *m = sst_inspect_meta(t);
    sst_extent e = sst_block_extent(m, idx);
    out->offset = e.offset;
    out->bytes = e.size_bytes;
    out->raw_bytes = e.raw_bytes;
    out->kind = e.kind;
    out->first_key = sst_block_first_key(m, idx, &out->n_first_key);
    out->last_key = sst_block_last_key(m, idx, &out->n_last_key);
}

void sst_inspect_filter(const sst *t, uint64_t *bits, unsigned *probes,
                        uint64_t *bits_set)
{
    const bloom *f = &sst_inspect_meta(t)->filter;
    uint64_t set = 0;
    for (size_t i = 0; i < f->n_bytes; i++)
        for (uint8_t b = f->bits[i]; b; b &= (uint8_t)(b - 1))
            set++;
    *bits = 8 * (uint64_t)f->n_bytes;
    *probes = f->k;
    *bits_set = set;
}

bool sst_inspect_filter_may_contain(const sst *t, const uint8_t *key,
                                    size_t nkey)
{
    return bloom_may_contain(&sst_inspect_meta(t)->filter, key, nkey);
}

int sst_inspect_block(sst *t, uint64_t idx, sst_entry_fn fn, void *ctx)
{
    sst_block *sb = NULL;
    int rc = sst_block_read(t, sst_inspect_meta(t), idx, NULL, &sb);
    if (rc != LSM_OK)
        return rc;
    block_cursor c;
    block_cursor_init(&c);
    rc = block_cursor_attach(&c, &sb->blk);
    if (rc == LSM_OK)
        block_cursor_seek_first(&c);
    while (rc == LSM_OK && c.valid) {
        rc = fn(ctx, &c.raw);
        block_cursor_next(&c);
    }
    block_cursor_free(&c);
    sst_block_free(sb);
    return rc;
}

/* --- Prefix filters ----------------------------------------------------- */

bool sst_prefix_may_match(const sst *t, const prefix_extractor *x,
                          const uint8_t *p, size_t np, bool *usable)
{
    *usable = false;
    if (!t->has_prefix)
        return true;
    return prefix_record_may_match(&t->prefix, x, p, np, usable);
}

const prefix_record *sst_prefix(const sst *t)
{
    return t->has_prefix ? &t->prefix : NULL;
}
