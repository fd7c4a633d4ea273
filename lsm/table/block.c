/*
 * block.c: SST data blocks: the builder, the validating decoder, the cursor
 * and the block iterator. The byte layout is in FORMAT.md ("Data block").
 *
 * Invariants:
 *   1. A block_builder's buf holds well-formed entries; the restart key of
 *      the current run is stored whole at buf[restart_key_off].
 *   2. block_decode checks everything once, so the cursor and block_seek
 *      move through a decoded block without failure paths: a parse that
 *      could fail on a decoded block would be a bug (asserted).
 *
 * Thread safety: see block_int.h.
 */
#include "table/block_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "util/status_int.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest header an entry can have: four varints and the type byte. */
#define BLOCK_ENTRY_MAX_HEADER_BYTES (4 * VARINT64_MAX_BYTES + 1)

/* --- Growable byte buffer ------------------------------------------------- */

int byte_buf_reserve(byte_buf *buf, size_t n_more)
{
    if (n_more <= buf->cap_bytes - buf->n_bytes)
        return LSM_OK;
    if (n_more > SIZE_MAX / 2 - buf->n_bytes)
        return lsm_error(LSM_ENOMEM, "buffer of %zu bytes is too large",
                         buf->n_bytes + n_more);
    size_t need = buf->n_bytes + n_more;
    size_t cap = buf->cap_bytes ? buf->cap_bytes : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *grown = realloc(buf->data, cap);
    if (!grown)
        return lsm_error(LSM_ENOMEM, "out of memory for %zu bytes", cap);
    buf->data = grown;
    buf->cap_bytes = cap;
    return LSM_OK;
}

int byte_buf_append(byte_buf *buf, const void *data, size_t n)
{
    int rc = byte_buf_reserve(buf, n);
    if (rc != LSM_OK)
        return rc;
    if (n)
        memcpy(buf->data + buf->n_bytes, data, n);
    buf->n_bytes += n;
    return LSM_OK;
}

void byte_buf_free(byte_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->n_bytes = buf->cap_bytes = 0;
}

/* --- Builder -------------------------------------------------------------- */

void block_builder_init(block_builder *b)
{
    memset(b, 0, sizeof *b);
}

void block_builder_free(block_builder *b)
{
    if (!b)
        return;
    byte_buf_free(&b->buf);
    byte_buf_free(&b->restarts);
    block_builder_init(b);
}

void block_builder_reset(block_builder *b)
{
    b->buf.n_bytes = 0;
    b->restarts.n_bytes = 0;
    b->n_entries = 0;
    b->n_in_run = 0;
    b->restart_key_off = 0;
    b->n_restart_key = 0;
    b->first_key_off = 0;
    b->n_first_key = 0;
    b->finished = false;
}

size_t block_builder_size_bytes(const block_builder *b)
{
    return b->buf.n_bytes + b->restarts.n_bytes + BLOCK_TRAILER_BYTES;
}

/* Whether the next entry starts a new restart run. */
static bool block_builder_next_is_restart(const block_builder *b)
{
    return b->n_entries == 0 || b->n_in_run >= BLOCK_RESTART_INTERVAL;
}

/* Bytes e shares with the current restart key (0 when e starts a run). */
static size_t block_builder_shared(const block_builder *b, const entry *e)
{
    if (block_builder_next_is_restart(b))
        return 0;
    const uint8_t *rk = b->buf.data + b->restart_key_off;
    size_t max = e->nkey < b->n_restart_key ? e->nkey : b->n_restart_key;
    size_t n = 0;
    while (n < max && rk[n] == e->key[n])
        n++;
    return n;
}

static size_t block_builder_stored_value_bytes(const entry *e)
{
    return e->type == ENTRY_TOMBSTONE ? 0 : e->nvalue;
}

size_t block_builder_entry_bytes(const block_builder *b, const entry *e)
{
    size_t shared = block_builder_shared(b, e);
    size_t nvalue = block_builder_stored_value_bytes(e);
    size_t n = varint64_length(shared) + varint64_length(e->nkey - shared) +
               varint64_length(nvalue) + varint64_length(e->seq) + 1 +
               (e->nkey - shared) + nvalue;
    if (block_builder_next_is_restart(b))
        n += 4;
    return n;
}

int block_builder_add(block_builder *b, const entry *e)
{
    assert(!b->finished);
    assert(e->nkey >= 1 && e->nkey <= 65535);
    bool restart = block_builder_next_is_restart(b);
    size_t shared = block_builder_shared(b, e);
    size_t unshared = e->nkey - shared;
    size_t nvalue = block_builder_stored_value_bytes(e);

    int rc = byte_buf_reserve(&b->buf,
                              BLOCK_ENTRY_MAX_HEADER_BYTES + unshared + nvalue);
    if (rc == LSM_OK && restart)
        rc = byte_buf_reserve(&b->restarts, 4);
    if (rc != LSM_OK)
        return rc;

    size_t off = b->buf.n_bytes;
    uint8_t *p = b->buf.data + off;
    p += put_varint64(p, shared);
    p += put_varint64(p, unshared);
    p += put_varint64(p, nvalue);
    p += put_varint64(p, e->seq);
    *p++ = e->type;
    if (restart) {
        b->restart_key_off = (size_t)(p - b->buf.data);
        b->n_restart_key = e->nkey;
    }
    if (b->n_entries == 0) {
        b->first_key_off = b->restart_key_off;
        b->n_first_key = e->nkey;
    }
    memcpy(p, e->key + shared, unshared);
    p += unshared;
    if (nvalue)
        memcpy(p, e->value, nvalue);
    p += nvalue;
    b->buf.n_bytes = (size_t)(p - b->buf.data);

    if (restart) {
        put_fixed32(b->restarts.data + b->restarts.n_bytes, (uint32_t)off);
        b->restarts.n_bytes += 4;
        b->n_in_run = 0;
    }
    b->n_in_run++;
    b->n_entries++;
    return LSM_OK;
}

const uint8_t *block_builder_first_key(const block_builder *b, size_t *nkey)
{
    assert(b->n_entries > 0);
    *nkey = b->n_first_key;
    return b->buf.data + b->first_key_off;
}

int block_builder_finish(block_builder *b, const uint8_t **data,
                         size_t *n_bytes)
{
    assert(b->n_entries > 0 && !b->finished);
    int rc =
        byte_buf_reserve(&b->buf, b->restarts.n_bytes + BLOCK_TRAILER_BYTES);
    if (rc != LSM_OK)
        return rc;
    size_t n_restarts = b->restarts.n_bytes / 4;
    byte_buf_append(&b->buf, b->restarts.data, b->restarts.n_bytes);
    uint8_t *p = b->buf.data + b->buf.n_bytes;
    put_fixed32(p, (uint32_t)n_restarts);
    b->buf.n_bytes += 4;
    put_fixed64(b->buf.data + b->buf.n_bytes,
                checksum64(b->buf.data, b->buf.n_bytes));
    b->buf.n_bytes += SST_CHECKSUM_BYTES;
    b->finished = true;
    *data = b->buf.data;
    *n_bytes = b->buf.n_bytes;
    return LSM_OK;
}

/* --- Entry parsing and key comparison ------------------------------------- */

/* Parses the entry at off of b's entries region, whose run's restart key is
 * (rk, n_rk); (NULL, 0) for a restart entry. Checks only that the entry lies
 * inside the region and that its shared prefix exists; false otherwise. */
static bool block_parse_entry(const block *b, size_t off, const uint8_t *rk,
                              size_t n_rk, block_entry *out)
{
    const uint8_t *p = b->data + off;
    const uint8_t *end = b->data + b->n_entries_bytes;
    uint64_t shared, unshared, nvalue, seq;
    if (!(p = get_varint64(p, end, &shared)) ||
        !(p = get_varint64(p, end, &unshared)) ||
        !(p = get_varint64(p, end, &nvalue)) ||
        !(p = get_varint64(p, end, &seq)) || p >= end)
        return false;
    out->type = *p++;
    size_t rest = (size_t)(end - p);
    if (shared > n_rk || unshared > rest || nvalue > rest - unshared)
        return false;
    out->prefix = rk;
    out->n_prefix = (size_t)shared;
    out->suffix = p;
    out->n_suffix = (size_t)unshared;
    out->value = p + unshared;
    out->nvalue = (size_t)nvalue;
    out->seq = seq;
    out->offset = off;
    out->next_offset = (size_t)(out->value + nvalue - b->data);
    return true;
}

/* A key made of up to two pieces, compared as their concatenation. */
typedef struct key_parts {
    const uint8_t *p[2];
    size_t n[2];
} key_parts;

static key_parts key_parts_of_entry(const block_entry *e)
{
    key_parts k = {{e->prefix, e->suffix}, {e->n_prefix, e->n_suffix}};
    return k;
}

/* memcmp order on the concatenations, a prefix first (as user_key_cmp). */
static int key_parts_cmp(const key_parts *a, const key_parts *b)
{
    size_t ia = 0, oa = 0, ib = 0, ob = 0;
    for (;;) {
        while (ia < 2 && oa == a->n[ia]) {
            ia++;
            oa = 0;
        }
        while (ib < 2 && ob == b->n[ib]) {
            ib++;
            ob = 0;
        }
        if (ia == 2 || ib == 2)
            return ia == 2 ? (ib == 2 ? 0 : -1) : 1;
        size_t na = a->n[ia] - oa, nb = b->n[ib] - ob;
        size_t take = na < nb ? na : nb;
        int c = memcmp(a->p[ia] + oa, b->p[ib] + ob, take);
        if (c != 0)
            return c;
        oa += take;
        ob += take;
    }
}

int block_entry_key_cmp(const block_entry *e, const uint8_t *key, size_t nkey)
{
    /* Against one contiguous key, the entry's two pieces compare in turn:
     * the prefix against key's head, then the suffix against the rest. */
    size_t n_head = e->n_prefix < nkey ? e->n_prefix : nkey;
    int c = n_head ? memcmp(e->prefix, key, n_head) : 0;
    if (c != 0)
        return c;
    if (n_head < e->n_prefix)
        return 1; /* key is a proper prefix of the entry's key */
    return user_key_cmp(e->suffix, e->n_suffix, key + n_head, nkey - n_head);
}

void block_entry_copy_key(const block_entry *e, uint8_t *dst)
{
    if (e->n_prefix)
        memcpy(dst, e->prefix, e->n_prefix);
    if (e->n_suffix)
        memcpy(dst + e->n_prefix, e->suffix, e->n_suffix);
}

/* Internal-key order of two stored entries. */
static int block_entry_cmp(const block_entry *a, const block_entry *b)
{
    int c;
    if (a->prefix == b->prefix && a->n_prefix == b->n_prefix) {
        /* The same run's restart key supplies both prefixes (the common
         * case of the decoder's walk): only the suffixes can differ. */
        c = user_key_cmp(a->suffix, a->n_suffix, b->suffix, b->n_suffix);
    } else {
        key_parts ka = key_parts_of_entry(a), kb = key_parts_of_entry(b);
        c = key_parts_cmp(&ka, &kb);
    }
    if (c != 0)
        return c;
    return a->seq > b->seq ? -1 : a->seq < b->seq ? 1 : 0;
}

static size_t block_restart_offset(const block *b, size_t run)
{
    return get_fixed32(b->restarts + 4 * run);
}

/* --- Decoder -------------------------------------------------------------- */

/* Where a block being decoded came from, for messages. */
typedef struct block_origin {
    const char *path;
    uint64_t file_offset;
} block_origin;

#define BLOCK_CORRUPT(o, ...) block_corrupt_at(__LINE__, (o), __VA_ARGS__)

/* Records "PATH: data block at offset N: WHAT" with the detecting line. */
LSM_PRINTF(3, 4)
static int block_corrupt_at(int line, const block_origin *o, const char *fmt,
                            ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return lsm_corrupt_at(__FILE__, line, "%s: data block at offset %llu: %s",
                          o->path, (unsigned long long)o->file_offset, what);
}

/* Checks the trailer: size, checksum, restart array. Fills the layout
 * fields of *b. */
static int block_decode_trailer(const uint8_t *data, size_t n,
                                const block_origin *o, block *b)
{
    if (n < BLOCK_TRAILER_BYTES)
        return BLOCK_CORRUPT(o, "%zu bytes is shorter than a block trailer", n);
    size_t body = n - SST_CHECKSUM_BYTES;
    uint64_t stored = get_fixed64(data + body);
    if (checksum64(data, body) != stored)
        return BLOCK_CORRUPT(o, "checksum mismatch (%zu bytes)", n);
    size_t n_restarts = get_fixed32(data + body - 4);
    size_t room = n - BLOCK_TRAILER_BYTES;
    if (n_restarts == 0 || n_restarts > room / 4 || n_restarts * 4 == room)
        return BLOCK_CORRUPT(o, "bad restart count %zu for %zu bytes",
                             n_restarts, n);
    b->data = data;
    b->n_bytes = n;
    b->n_entries_bytes = room - 4 * n_restarts;
    b->restarts = data + b->n_entries_bytes;
    b->n_restarts = n_restarts;

    size_t prev = 0;
    for (size_t r = 0; r < n_restarts; r++) {
        size_t off = block_restart_offset(b, r);
        if ((r == 0 && off != 0) || (r > 0 && off <= prev) ||
            off >= b->n_entries_bytes)
            return BLOCK_CORRUPT(o, "restart %zu has bad offset %zu", r, off);
        prev = off;
    }
    return LSM_OK;
}

/* Checks the rules of one entry that parsing does not: lengths and type. */
static int block_check_entry(const block_entry *e, const block_origin *o)
{
    size_t nkey = block_entry_nkey(e);
    if (nkey == 0 || nkey > LSM_MAX_KEY_BYTES)
        return BLOCK_CORRUPT(o, "entry at byte %zu has a %zu-byte key",
                             e->offset, nkey);
    if (e->nvalue > LSM_MAX_VALUE_BYTES)
        return BLOCK_CORRUPT(o, "entry at byte %zu has a %zu-byte value",
                             e->offset, e->nvalue);
    if (e->type != ENTRY_VALUE && e->type != ENTRY_TOMBSTONE)
        return BLOCK_CORRUPT(o, "entry at byte %zu has bad type %u", e->offset,
                             (unsigned)e->type);
    if (e->type == ENTRY_TOMBSTONE && e->nvalue != 0)
        return BLOCK_CORRUPT(o, "tombstone at byte %zu has a value", e->offset);
    return LSM_OK;
}

/* Walks every entry once, checking the rules of FORMAT.md, and fills the
 * summary fields of *b (entry count, last entry, longest key). */
static int block_decode_entries(block *b, const block_origin *o)
{
    size_t off = 0, next_run = 0;
    const uint8_t *rk = NULL;
    size_t n_rk = 0;
    block_entry prev = {0}, e;
    b->n_entries = 0;
    b->max_key_bytes = 0;
    while (off < b->n_entries_bytes) {
        bool restart = next_run < b->n_restarts &&
                       block_restart_offset(b, next_run) == off;
        if (restart) {
            next_run++;
            rk = NULL;
            n_rk = 0;
        }
        if (!block_parse_entry(b, off, rk, n_rk, &e))
            return BLOCK_CORRUPT(o, "entry at byte %zu is malformed", off);
        if (restart) {
            rk = e.suffix;
            n_rk = e.n_suffix;
        }
        int rc = block_check_entry(&e, o);
        if (rc != LSM_OK)
            return rc;
        if (next_run < b->n_restarts &&
            block_restart_offset(b, next_run) < e.next_offset)
            return BLOCK_CORRUPT(o, "restart %zu inside entry at byte %zu",
                                 next_run, off);
        if (b->n_entries > 0 && block_entry_cmp(&prev, &e) >= 0)
            return BLOCK_CORRUPT(o, "entry at byte %zu is out of order", off);
        if (block_entry_nkey(&e) > b->max_key_bytes)
            b->max_key_bytes = block_entry_nkey(&e);
        b->last_entry_offset = off;
        b->n_entries++;
        prev = e;
        off = e.next_offset;
    }
    /* Every restart lies inside the region and none fell inside an entry,
     * so the walk met them all. */
    assert(next_run == b->n_restarts);
    return LSM_OK;
}

int block_decode(const uint8_t *data, size_t n_bytes, const char *path,
                 uint64_t file_offset, block *out)
{
    block_origin o = {path, file_offset};
    block b;
    int rc = block_decode_trailer(data, n_bytes, &o, &b);
    if (rc == LSM_OK)
        rc = block_decode_entries(&b, &o);
    if (rc == LSM_OK)
        *out = b;
    return rc;
}

/* --- Remembering verified blocks ------------------------------------------ */

/* The shape word of a block_memo: bit 63 marks a recorded shape (so it is
 * never 0), then the entry count (15 bits), the longest key (16 bits:
 * keys are at most LSM_MAX_KEY_BYTES) and the last entry's offset (32
 * bits: the entries region is below BLOCK_MAX_ENTRIES_BYTES). */
#define BLOCK_SHAPE_MARK (UINT64_C(1) << 63)
#define BLOCK_SHAPE_MAX_ENTRIES 0x7fffu

static uint64_t block_shape_pack(const block *b)
{
    return BLOCK_SHAPE_MARK | (uint64_t)b->n_entries << 48 |
           (uint64_t)b->max_key_bytes << 32 | (uint64_t)b->last_entry_offset;
}

static void block_shape_unpack(uint64_t shape, block *b)
{
    b->n_entries = (size_t)(shape >> 48 & BLOCK_SHAPE_MAX_ENTRIES);
    b->max_key_bytes = (size_t)(shape >> 32 & 0xffffu);
    b->last_entry_offset = (size_t)(shape & 0xffffffffu);
}

/* The checksum a block's trailer stores (verified by
 * block_decode_trailer). */
static uint64_t block_stored_checksum(const uint8_t *data, size_t n_bytes)
{
    return get_fixed64(data + n_bytes - SST_CHECKSUM_BYTES);
}

/* Whether memo vouches for the bytes whose trailer (already verified)
 * stores checksum: the acquire load pairs with block_memo_record's
 * release store, so the shape read after it is the one recorded with it. */
static bool block_memo_vouches(const block_memo *memo, uint64_t checksum,
                               uint64_t *shape)
{
    if (checksum == 0 ||
        atomic_load_explicit(&memo->checksum, memory_order_acquire) != checksum)
        return false;
    *shape = atomic_load_explicit(&memo->shape, memory_order_relaxed);
    return true;
}

int block_decode_memo(const uint8_t *data, size_t n_bytes, const char *path,
                      uint64_t file_offset, const block_memo *memo, block *out,
                      bool *known)
{
    block_origin o = {path, file_offset};
    block b;
    uint64_t shape = 0;
    *known = false;
    int rc = block_decode_trailer(data, n_bytes, &o, &b);
    if (rc != LSM_OK)
        return rc;
    if (block_memo_vouches(memo, block_stored_checksum(data, n_bytes),
                           &shape)) {
        block_shape_unpack(shape, &b);
        /* The same checksum means the same bytes, hence the same entries
         * region; a shape that disagrees is not trusted but walked. */
        *known = b.last_entry_offset < b.n_entries_bytes;
    }
    if (!*known)
        rc = block_decode_entries(&b, &o);
    if (rc == LSM_OK)
        *out = b;
    return rc;
}

void block_memo_record(block_memo *memo, const block *b)
{
    if (b->n_entries > BLOCK_SHAPE_MAX_ENTRIES)
        return;
    /* Claiming the shape word first makes the memo write-once: a losing
     * recorder (other bytes, read while the file changed) touches
     * nothing, so the checksum is never paired with another's shape. */
    uint64_t empty = 0;
    if (!atomic_compare_exchange_strong_explicit(
            &memo->shape, &empty, block_shape_pack(b), memory_order_relaxed,
            memory_order_relaxed))
        return;
    atomic_store_explicit(&memo->checksum,
                          block_stored_checksum(b->data, b->n_bytes),
                          memory_order_release);
}

/* --- Positions in a decoded block ----------------------------------------- */

/* Parses the restart entry of run r into *e. */
static void block_restart_entry(const block *b, size_t run, block_entry *e)
{
    bool ok = block_parse_entry(b, block_restart_offset(b, run), NULL, 0, e);
    assert(ok);
    (void)ok;
}

/* Puts c (not materialized) on the first entry of run. */
static void block_pos_run_start(block_cursor *c, size_t run)
{
    block_restart_entry(c->blk, run, &c->raw);
    c->run = run;
    c->restart_key = c->raw.suffix;
    c->n_restart_key = c->raw.n_suffix;
    c->valid = true;
}

/* Moves c (not materialized) to the following entry; invalid at the end. */
static void block_pos_step(block_cursor *c)
{
    const block *b = c->blk;
    size_t off = c->raw.next_offset;
    if (off >= b->n_entries_bytes) {
        c->valid = false;
        return;
    }
    if (c->run + 1 < b->n_restarts &&
        block_restart_offset(b, c->run + 1) == off) {
        block_pos_run_start(c, c->run + 1);
        return;
    }
    bool ok =
        block_parse_entry(b, off, c->restart_key, c->n_restart_key, &c->raw);
    assert(ok);
    (void)ok;
}

/* The last run whose restart key is < key (run 0 if none): the first entry
 * >= key lies in it or at the start of the next run. Adds the restart keys
 * compared to *n_compared unless it is NULL (only explained gets count). */
static inline size_t block_find_run(const block *b, const uint8_t *key,
                                    size_t nkey, uint64_t *n_compared)
{
    size_t lo = 0, hi = b->n_restarts; /* answer in [lo, hi) */
    block_entry e;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (n_compared)
            (*n_compared)++;
        block_restart_entry(b, mid, &e);
        if (user_key_cmp(e.suffix, e.n_suffix, key, nkey) < 0)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Positions c (not materialized) on the first entry >= key, adding the
 * keys compared to *n_compared unless it is NULL. */
static inline void block_pos_seek(block_cursor *c, const uint8_t *key,
                                  size_t nkey, uint64_t *n_compared)
{
    block_pos_run_start(c, block_find_run(c->blk, key, nkey, n_compared));
    while (c->valid && block_entry_key_cmp(&c->raw, key, nkey) < 0) {
        if (n_compared)
            (*n_compared)++;
        block_pos_step(c);
    }
    if (c->valid && n_compared)
        (*n_compared)++; /* the comparison that ended the walk */
}

void block_first_entry(const block *b, block_entry *out)
{
    block_restart_entry(b, 0, out);
}

void block_last_entry(const block *b, block_entry *out)
{
    /* The run holding the last entry is the last run. */
    block_entry r;
    block_restart_entry(b, b->n_restarts - 1, &r);
    bool ok =
        block_parse_entry(b, b->last_entry_offset, r.suffix, r.n_suffix, out);
    assert(ok);
    (void)ok;
}

/* block_seek and block_seek_counted: inlined into each (with block_pos_seek
 * and block_find_run), so the plain one's tests of n_compared fold away. */
static inline bool block_seek_with(const block *b, const uint8_t *key,
                                   size_t nkey, uint64_t max_seq,
                                   block_entry *out, uint64_t *n_compared)
{
    block_cursor c;
    block_cursor_init(&c);
    c.blk = b;
    block_pos_seek(&c, key, nkey, n_compared);
    /* Versions of key come newest first: step over those a read at
     * max_seq must not see. */
    while (c.valid && c.raw.seq > max_seq &&
           block_entry_key_cmp(&c.raw, key, nkey) == 0) {
        if (n_compared)
            (*n_compared)++;
        block_pos_step(&c);
    }
    if (c.valid)
        *out = c.raw;
    return c.valid;
}

bool block_seek(const block *b, const uint8_t *key, size_t nkey,
                uint64_t max_seq, block_entry *out)
{
    return block_seek_with(b, key, nkey, max_seq, out, NULL);
}

bool block_seek_counted(const block *b, const uint8_t *key, size_t nkey,
                        uint64_t max_seq, block_entry *out,
                        uint64_t *n_compared)
{
    return block_seek_with(b, key, nkey, max_seq, out, n_compared);
}

/* --- Cursor --------------------------------------------------------------- */

void block_cursor_init(block_cursor *c)
{
    memset(c, 0, sizeof *c);
}

void block_cursor_free(block_cursor *c)
{
    if (!c)
        return;
    free(c->keybuf);
    block_cursor_init(c);
}

int block_cursor_attach(block_cursor *c, const block *b)
{
    block_cursor_detach(c);
    if (b->max_key_bytes > c->keybuf_bytes) {
        uint8_t *grown = realloc(c->keybuf, b->max_key_bytes);
        if (!grown)
            return lsm_error(LSM_ENOMEM, "out of memory for a %zu-byte key",
                             b->max_key_bytes);
        c->keybuf = grown;
        c->keybuf_bytes = b->max_key_bytes;
    }
    c->blk = b;
    return LSM_OK;
}

void block_cursor_detach(block_cursor *c)
{
    c->blk = NULL;
    c->valid = false;
}

/* Fills c->cur from c->raw, assembling the key when it is split. */
static void block_cursor_materialize(block_cursor *c)
{
    if (!c->valid)
        return;
    const block_entry *e = &c->raw;
    if (e->n_prefix == 0) {
        c->cur.key = e->suffix;
    } else {
        block_entry_copy_key(e, c->keybuf);
        c->cur.key = c->keybuf;
    }
    c->cur.nkey = block_entry_nkey(e);
    c->cur.value = e->value;
    c->cur.nvalue = e->nvalue;
    c->cur.seq = e->seq;
    c->cur.type = e->type;
}

void block_cursor_seek_first(block_cursor *c)
{
    block_pos_run_start(c, 0);
    block_cursor_materialize(c);
}

void block_cursor_seek(block_cursor *c, const uint8_t *key, size_t nkey)
{
    block_pos_seek(c, key, nkey, NULL);
    block_cursor_materialize(c);
}

void block_cursor_next(block_cursor *c)
{
    assert(c->valid);
    block_pos_step(c);
    block_cursor_materialize(c);
}

/* --- Iterator ------------------------------------------------------------- */

typedef struct block_iter {
    iter base;
    block_cursor cur;
} block_iter;

static bool block_iter_valid(const iter *it)
{
    return ((const block_iter *)it)->cur.valid;
}

static void block_iter_current(const iter *it, entry *out)
{
    *out = ((const block_iter *)it)->cur.cur;
}

static int block_iter_next(iter *it)
{
    block_iter *bi = (block_iter *)it;
    if (bi->cur.valid)
        block_cursor_next(&bi->cur);
    return LSM_OK;
}

static int block_iter_seek(iter *it, const uint8_t *key, size_t nkey)
{
    block_iter *bi = (block_iter *)it;
    if (key)
        block_cursor_seek(&bi->cur, key, nkey);
    else
        block_cursor_seek_first(&bi->cur);
    return LSM_OK;
}

static size_t block_iter_num_active(const iter *it)
{
    return block_iter_valid(it) ? 1 : 0;
}

static void block_iter_destroy(iter *it)
{
    block_iter *bi = (block_iter *)it;
    block_cursor_free(&bi->cur);
    free(bi);
}

static const iter_ops block_iter_ops = {
    block_iter_valid, block_iter_current,    block_iter_next,
    block_iter_seek,  block_iter_num_active, block_iter_destroy,
};

iter *block_iter_new(const block *b)
{
    block_iter *bi = malloc(sizeof *bi);
    if (!bi)
        return NULL;
    bi->base.ops = &block_iter_ops;
    block_cursor_init(&bi->cur);
    if (block_cursor_attach(&bi->cur, b) != LSM_OK) {
        free(bi);
        return NULL;
    }
    return &bi->base;
}
