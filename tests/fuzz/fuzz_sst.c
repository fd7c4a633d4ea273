/*
 * fuzz_sst.c: libFuzzer target for the SST reader (sst_int.h).
 *
 * Each input is written to this process's scratch file and opened as an SST,
 * once without a block cache and once with a tiny one (4 KiB, so blocks are
 * evicted while in use). Errors are expected for almost every input; what
 * must hold is what the reader promises about a file it accepts:
 *   - every entry it yields is well formed (type 0 or 1, key 1..65535 bytes,
 *     value at most 16 MiB, a tombstone's value empty) and lies between the
 *     SST's first and last keys;
 *   - entries come in strictly increasing internal-key order;
 *   - when a full iteration succeeded, every seek lands on the first entry
 *     whose user key is >= the target, and a get that finds a key returns
 *     that key's newest version (a get may miss: a filter cannot be checked
 *     against the keys without reading every block);
 *   - a prefix record it decoded (SST_META_PREFIX) is well formed, and
 *     its filter answers exactly for prefixes in its extractor's domain,
 *     never for another extractor (sst_prefix_may_match);
 *   - the sst inspector (lsm_sst_inspect, lsm_sst_block_entries,
 *     lsm_sst_measure_filter) reports what it read and marks the damage,
 *     its counts agree with each other, and it changes nothing;
 *   - nothing crashes, leaks or reads out of bounds (ASan, UBSan).
 * Seek and get targets are the SST's own first and last keys and slices of
 * the input, so mutations of the keys inside a block steer them. Each input
 * runs twice: as it is, and with every checksum the footer and index locate
 * made right, so that mutations reach the block, filter and index decoders
 * (and, for compressed blocks, the LZ4 and Zstandard decompressors, whose
 * output must fill exactly the raw size the index claims) instead of dying
 * at the first checksum.
 *
 * Single-threaded: libFuzzer runs one input at a time.
 */
#include "table/block_cache_int.h"
#include "table/block_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "iter/iter_int.h"
#include "lsm.h"
#include "table/sst_int.h"

#include "fuzz_util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An owned copy of one entry yielded by the iterator. */
typedef struct seen_entry {
    uint8_t *key;
    size_t nkey;
    uint8_t *value;
    size_t nvalue;
    uint64_t seq;
    uint8_t type;
} seen_entry;

typedef struct seen {
    seen_entry *e;
    size_t n, cap;
    bool complete; /* the iteration reached the end without an error */
} seen;

static void seen_free(seen *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->e[i].key);
        free(s->e[i].value);
    }
    free(s->e);
    memset(s, 0, sizeof *s);
}

static void seen_push(seen *s, const entry *e)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->e = realloc(s->e, s->cap * sizeof *s->e);
        FUZZ_CHECK(s->e != NULL);
    }
    seen_entry *c = &s->e[s->n++];
    c->nkey = e->nkey;
    c->key = malloc(e->nkey);
    FUZZ_CHECK(c->key != NULL);
    memcpy(c->key, e->key, e->nkey);
    c->nvalue = e->nvalue;
    c->value = malloc(e->nvalue + 1);
    FUZZ_CHECK(c->value != NULL);
    if (e->nvalue)
        memcpy(c->value, e->value, e->nvalue);
    c->seq = e->seq;
    c->type = e->type;
}

/* The checks every yielded entry must pass, whatever the file held. */
static void check_entry_shape(sst *t, const entry *e)
{
    FUZZ_CHECK(e->type == ENTRY_VALUE || e->type == ENTRY_TOMBSTONE);
    FUZZ_CHECK(e->nkey >= 1 && e->nkey <= LSM_MAX_KEY_BYTES);
    FUZZ_CHECK(e->key != NULL);
    FUZZ_CHECK(e->nvalue <= LSM_MAX_VALUE_BYTES);
    FUZZ_CHECK(e->type == ENTRY_VALUE || e->nvalue == 0);
    FUZZ_CHECK(sst_key_in_range(t, e->key, e->nkey));
    /* Touch every byte so ASan sees an out-of-bounds view. */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < e->nkey; i++)
        sink ^= e->key[i];
    for (size_t i = 0; i < e->nvalue; i++)
        sink ^= e->value[i];
    (void)sink;
}

static int seen_entry_cmp(const seen_entry *s, const entry *e)
{
    entry v = {s->key, s->nkey, s->value, s->nvalue, s->seq, s->type};
    return entry_cmp(&v, e);
}

static bool seen_entry_equals(const seen_entry *s, const entry *e)
{
    return seen_entry_cmp(s, e) == 0 && s->type == e->type &&
           s->nvalue == e->nvalue &&
           (e->nvalue == 0 || memcmp(s->value, e->value, e->nvalue) == 0);
}

/* Iterates the whole SST, checking each entry and the order, into *out. */
static void iterate_all(sst *t, seen *out)
{
    iter *it = sst_iter_new(t);
    if (!it)
        return; /* out of memory: nothing to check */
    int rc = iter_seek(it, NULL, 0);
    while (rc == LSM_OK && iter_valid(it)) {
        entry e;
        iter_entry(it, &e);
        check_entry_shape(t, &e);
        if (out->n > 0)
            FUZZ_CHECK(seen_entry_cmp(&out->e[out->n - 1], &e) < 0);
        seen_push(out, &e);
        rc = iter_next(it);
    }
    if (rc != LSM_OK)
        FUZZ_CHECK(!iter_valid(it));
    out->complete = rc == LSM_OK;
    iter_destroy(it);
}

/* Index of the first entry with user key >= key (all->n if none). */
static size_t seen_lower_bound(const seen *all, const uint8_t *key, size_t nkey)
{
    size_t lo = 0, hi = all->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (user_key_cmp(all->e[mid].key, all->e[mid].nkey, key, nkey) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Seeks to key; when the full iteration succeeded, the position must be the
 * lower bound it implies. */
static void check_seek(sst *t, const seen *all, const uint8_t *key, size_t nkey)
{
    iter *it = sst_iter_new(t);
    if (!it)
        return;
    int rc = iter_seek(it, key, nkey);
    if (rc != LSM_OK) {
        FUZZ_CHECK(!all->complete); /* every block decoded a moment ago */
        FUZZ_CHECK(!iter_valid(it));
    } else if (all->complete) {
        size_t want = seen_lower_bound(all, key, nkey);
        FUZZ_CHECK(iter_valid(it) == (want < all->n));
        if (want < all->n) {
            entry e;
            iter_entry(it, &e);
            FUZZ_CHECK(seen_entry_equals(&all->e[want], &e));
        }
    } else if (iter_valid(it)) {
        entry e;
        iter_entry(it, &e);
        check_entry_shape(t, &e);
        FUZZ_CHECK(user_key_cmp(e.key, e.nkey, key, nkey) >= 0);
    }
    iter_destroy(it);
}

/* Gets key; a hit must be that key's newest version. */
static void check_get(sst *t, const seen *all, const uint8_t *key, size_t nkey)
{
    bool found = false;
    entry e;
    void *owned = NULL;
    int rc = sst_get(t, key, nkey, UINT64_MAX, &found, &e, &owned);
    if (rc != LSM_OK || !found) {
        FUZZ_CHECK(rc != LSM_OK || owned == NULL);
        if (rc != LSM_OK)
            FUZZ_CHECK(!all->complete);
        free(owned);
        return;
    }
    check_entry_shape(t, &e);
    FUZZ_CHECK(user_key_cmp(e.key, e.nkey, key, nkey) == 0);
    if (all->complete) {
        size_t want = seen_lower_bound(all, key, nkey);
        FUZZ_CHECK(want < all->n);
        FUZZ_CHECK(seen_entry_equals(&all->e[want], &e));
    }
    free(owned);
}

/* A prefix scan's question, for prefix p: with the record's own
 * extractor, the answer is usable exactly when p is in its domain; with
 * another extractor, never. A decoded record is well formed (prefix.c). */
static void check_prefix(sst *t, const uint8_t *p, size_t np)
{
    const prefix_record *r = sst_prefix(t);
    bool usable;
    size_t nprefix;
    if (!r) {
        prefix_extractor x = {.kind = PREFIX_FIXED, .len = 1};
        FUZZ_CHECK(sst_prefix_may_match(t, &x, p, np, &usable));
        FUZZ_CHECK(!usable);
        return;
    }
    FUZZ_CHECK(r->extractor.kind == PREFIX_FIXED ||
               r->extractor.kind == PREFIX_DELIM);
    FUZZ_CHECK(r->n_prefixes > 0 || bloom_is_empty(&r->filter));
    bool may = sst_prefix_may_match(t, &r->extractor, p, np, &usable);
    FUZZ_CHECK(usable == prefix_extract(&r->extractor, p, np, &nprefix));
    FUZZ_CHECK(may || usable);
    prefix_extractor other = r->extractor;
    other.len++;
    other.delim++;
    FUZZ_CHECK(sst_prefix_may_match(t, &other, p, np, &usable));
    FUZZ_CHECK(!usable);
}

/* Probes the SST with its own boundary keys and slices of the input. */
static void probe(sst *t, const seen *all, const uint8_t *data, size_t size)
{
    const uint8_t *keys[6];
    size_t nkeys[6], n = 0;
    keys[n] = sst_first_key(t, &nkeys[n]);
    n++;
    keys[n] = sst_last_key(t, &nkeys[n]);
    n++;
    if (size > 0) {
        size_t len = size < 8 ? size : 8;
        keys[n] = data, nkeys[n] = len, n++;
        keys[n] = data + size - len, nkeys[n] = len, n++;
        size_t start = data[0] % size;
        size_t mid_len = 1 + data[size - 1] % 24;
        if (mid_len > size - start)
            mid_len = size - start;
        keys[n] = data + start, nkeys[n] = mid_len, n++;
    }
    for (size_t i = 0; i < n; i++) {
        if (nkeys[i] < 1 || nkeys[i] > LSM_MAX_KEY_BYTES)
            continue;
        check_seek(t, all, keys[i], nkeys[i]);
        check_get(t, all, keys[i], nkeys[i]);
        check_prefix(t, keys[i], nkeys[i]);
    }
    /* Each key the iteration saw (a sample of them) must be found again by
     * a seek; gets may miss only through the filter. */
    for (size_t i = 0; all->complete && i < all->n; i += 1 + all->n / 8) {
        check_seek(t, all, all->e[i].key, all->e[i].nkey);
        check_get(t, all, all->e[i].key, all->e[i].nkey);
    }
}

/* The range tombstones an open accepted: well formed, inside the file's
 * key range, and what sst_range_covering says at each start agrees with
 * a look at every one of them. */
static void check_ranges(sst *t)
{
    size_t n, nfirst, nlast;
    const range_tomb *r = sst_range_tombs(t, &n);
    const uint8_t *first = sst_first_key(t, &nfirst);
    const uint8_t *last = sst_last_key(t, &nlast);
    for (size_t i = 0; i < n; i++) {
        size_t nl;
        const uint8_t *l = range_tomb_last_key(&r[i], &nl);
        FUZZ_CHECK(r[i].seq >= 1);
        FUZZ_CHECK(user_key_cmp(r[i].lo, r[i].nlo, r[i].hi, r[i].nhi) < 0);
        FUZZ_CHECK(user_key_cmp(first, nfirst, r[i].lo, r[i].nlo) <= 0);
        FUZZ_CHECK(user_key_cmp(l, nl, last, nlast) <= 0);
        uint64_t want = 0;
        for (size_t j = 0; j < n; j++)
            if (r[j].seq > want &&
                user_key_cmp(r[j].lo, r[j].nlo, r[i].lo, r[i].nlo) <= 0 &&
                user_key_cmp(r[i].lo, r[i].nlo, r[j].hi, r[j].nhi) < 0)
                want = r[j].seq;
        FUZZ_CHECK(sst_range_covering(t, r[i].lo, r[i].nlo, UINT64_MAX) ==
                   want);
    }
}

/* Opens path with the given cache and exercises everything. */
static void exercise(const char *path, block_cache *cache, counters *ctrs,
                     const uint8_t *data, size_t size)
{
    sst *t = NULL;
    if (sst_open(env_posix(), path, 7, cache, ctrs, false, &t) != LSM_OK)
        return;
    FUZZ_CHECK(t != NULL);
    size_t n_ranges;
    sst_range_tombs(t, &n_ranges);
    /* Range tombstones alone make an SST with no block. */
    FUZZ_CHECK(sst_num_blocks(t) >= 1 || n_ranges >= 1);
    FUZZ_CHECK(sst_num_entries(t) >= sst_num_blocks(t));
    FUZZ_CHECK(sst_file_size(t) == size);
    size_t nfirst, nlast;
    const uint8_t *first = sst_first_key(t, &nfirst);
    const uint8_t *last = sst_last_key(t, &nlast);
    FUZZ_CHECK(user_key_cmp(first, nfirst, last, nlast) <= 0);
    check_ranges(t);
    seen all = {0};
    iterate_all(t, &all);
    if (all.complete && n_ranges == 0)
        FUZZ_CHECK(all.n >= 1); /* an SST always holds something */
    probe(t, &all, data, size);
    seen_free(&all);
    sst_unref(t);
}

/* Stores the checksum of section[0..n-8) in its last 8 bytes, as every SST
 * section ends. Returns true if that changed a byte. */
static bool fix_section(uint8_t *section, uint64_t n)
{
    if (n < 8)
        return false;
    uint8_t sum[8];
    put_fixed64(sum, checksum64(section, (size_t)(n - 8)));
    if (memcmp(section + n - 8, sum, 8) == 0)
        return false;
    memcpy(section + n - 8, sum, 8);
    return true;
}

/* Makes the checksums of a mutated SST right again wherever its footer and
 * index locate a section inside the file (FORMAT.md): each data block, the
 * filter, the index, then the footer. A fuzzer cannot forge a 64-bit hash
 * by mutation, so without this almost no input would get past sst_open.
 * Returns true if any byte changed. */
/* Whether the meta section (after the index; its size at footer offset
 * 84) starts with the compression record, tag 1: its index records then
 * carry each block's kind and raw size. Tags ascend, so tag 1 is first. */
static bool has_compression_record(const uint8_t *buf, uint64_t body,
                                   uint64_t index_off, uint64_t index_size)
{
    uint64_t meta_size = get_fixed32(buf + body + SST_FOOTER_META_BYTES);
    return index_off <= body && index_size <= body - index_off &&
           meta_size > 8 && meta_size <= body - index_off - index_size &&
           buf[index_off + index_size] == SST_META_COMPRESSION;
}

static bool fix_sst_checksums(uint8_t *buf, size_t size)
{
    if (size < SST_FOOTER_BYTES)
        return false;
    uint64_t body = size - SST_FOOTER_BYTES;
    uint8_t *footer = buf + body;
    uint64_t filter_off = get_fixed64(footer);
    uint64_t filter_size = get_fixed64(footer + 8);
    uint64_t index_off = get_fixed64(footer + 16);
    uint64_t index_size = get_fixed64(footer + 24);
    bool changed = false;
    bool codec = has_compression_record(buf, body, index_off, index_size);
    if (index_off <= body && index_size >= 8 &&
        index_size <= body - index_off) {
        const uint8_t *p = buf + index_off;
        const uint8_t *end = p + index_size - 8;
        while (p && p < end) {
            uint64_t off, n, nkey, skip;
            p = get_varint64(p, end, &off);
            p = p ? get_varint64(p, end, &n) : NULL;
            /* Kind and raw size; a compressed block, too, ends with the
             * checksum of the bytes before it (FORMAT.md). */
            for (int k = 0; k < 2 && p && codec; k++)
                p = get_varint64(p, end, &skip);
            for (int k = 0; k < 2 && p; k++) {
                p = get_varint64(p, end, &nkey);
                p = p && nkey <= (uint64_t)(end - p) ? p + nkey : NULL;
            }
            if (p && off <= index_off && n <= index_off - off)
                changed |= fix_section(buf + off, n);
        }
        changed |= fix_section(buf + index_off, index_size);
    }
    if (filter_off <= body && filter_size <= body - filter_off)
        changed |= fix_section(buf + filter_off, filter_size);
    /* Format 3: the meta section follows the index; its size is the u32
     * at 84 (0 there: no section). */
    uint64_t meta_size = get_fixed32(footer + SST_FOOTER_META_BYTES);
    if (index_off <= body && index_size <= body - index_off && meta_size >= 8 &&
        meta_size <= body - index_off - index_size)
        changed |= fix_section(buf + index_off + index_size, meta_size);
    /* Formats 2 and 3: the checksum covers bytes 0..87 and sits at 88 (it sat
     * at 64 in format 1, and this repair still used that layout, so no
     * repaired input got past the footer). */
    uint8_t sum[8];
    put_fixed64(sum, checksum64(footer, SST_FOOTER_CHECKSUM));
    if (memcmp(footer + SST_FOOTER_CHECKSUM, sum, 8) != 0) {
        memcpy(footer + SST_FOOTER_CHECKSUM, sum, 8);
        changed = true;
    }
    return changed;
}

/* Block i of report r, as lsm_sst_block_entries lists it, agrees with
 * what the report counted. */
static void check_block_entries(const char *path, const lsm_sst_report *r,
                                uint64_t i)
{
    lsm_sst_entry *e = NULL;
    size_t n = 0;
    int rc = lsm_sst_block_entries(path, i, &e, &n);
    FUZZ_CHECK(rc == LSM_OK); /* the report read this very block whole */
    FUZZ_CHECK(n == r->blocks[i].entries);
    uint64_t shared = 0;
    for (size_t k = 0; k < n; k++) {
        FUZZ_CHECK(e[k].nkey == e[k].shared_bytes + e[k].unshared_bytes);
        FUZZ_CHECK(e[k].nkey >= 1 && e[k].nkey <= LSM_MAX_KEY_BYTES);
        FUZZ_CHECK(k == 0 || user_key_cmp(e[k - 1].key, e[k - 1].nkey, e[k].key,
                                          e[k].nkey) <= 0);
        shared += e[k].shared_bytes;
    }
    FUZZ_CHECK(shared == r->blocks[i].shared_bytes);
    lsm_sst_entries_free(e, n);
}

/* The sst inspector on the file: a report exactly when the reader opens
 * it, damaged blocks marked exactly when it says LSM_ECORRUPT, counts that
 * fit, entries that agree, a bounded filter measurement, and the file left
 * as it was. */
static void inspect(const char *path, size_t size)
{
    lsm_sst_report *r = NULL;
    int rc = lsm_sst_inspect(path, &r);
    FUZZ_CHECK(rc == LSM_OK || rc == LSM_ECORRUPT);
    if (!r) {
        FUZZ_CHECK(rc == LSM_ECORRUPT && strstr(lsm_errmsg(), path));
        return;
    }
    /* No block only for range tombstones alone (which the reader checked
     * are there). */
    FUZZ_CHECK(r->file_bytes == size &&
               (r->num_blocks >= 1 || r->num_entries == 0));
    /* Damaged blocks make it LSM_ECORRUPT; so does a footer whose counts
     * the blocks contradict, with no block damaged. */
    FUZZ_CHECK(rc == LSM_ECORRUPT || r->damaged_blocks == 0);
    FUZZ_CHECK(r->damaged_blocks == 0 || rc == LSM_ECORRUPT);
    FUZZ_CHECK(r->filter_bits_set <= r->filter_bits);
    FUZZ_CHECK(r->estimated_fp_rate >= 0.0 && r->estimated_fp_rate <= 1.0);
    for (uint64_t i = 0; i < r->num_blocks; i++) {
        const lsm_sst_block_info *b = &r->blocks[i];
        FUZZ_CHECK(b->offset + b->bytes <= r->filter_offset);
        if (b->damaged)
            continue;
        FUZZ_CHECK(b->entries >= 1 && b->whole_keys >= 1);
        FUZZ_CHECK(b->shared_bytes < b->key_bytes);
        check_block_entries(path, r, i);
    }
    lsm_sst_report_free(r);
    uint64_t probes = 0, fp = 0;
    rc = lsm_sst_measure_filter(path, 50, &probes, &fp);
    FUZZ_CHECK(rc == LSM_OK || rc == LSM_ECORRUPT);
    FUZZ_CHECK(fp <= probes && probes <= 50);
    FUZZ_CHECK(fuzz_file_size(path) == size); /* it changed nothing */
}

/* Runs every check on the SST bytes data[0..size), stored at path. */
static void fuzz_one(const char *path, const uint8_t *data, size_t size)
{
    fuzz_write_file(path, data, size);
    inspect(path, size);
    exercise(path, NULL, NULL, data, size);
    /* A fresh cache per input: blocks cached for an earlier input under the
     * same SST id must not be served for this one. */
    block_cache *cache = block_cache_create(4096);
    FUZZ_CHECK(cache != NULL);
    counters ctrs = {0};
    exercise(path, cache, &ctrs, data, size);
    block_cache_destroy(cache);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_path("7.sst");
    fuzz_one(path, data, size);
    /* Again with the checksums made right, to reach the decoders. */
    uint8_t *fixed = malloc(size + 1);
    FUZZ_CHECK(fixed != NULL);
    if (size)
        memcpy(fixed, data, size);
    if (fix_sst_checksums(fixed, size))
        fuzz_one(path, fixed, size);
    free(fixed);
    return 0;
}
