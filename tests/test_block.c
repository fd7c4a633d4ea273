/*
 * test_block.c: data blocks (block_int.h): encode/decode round trips,
 * prefix compression, seeks, versions, tombstones, a huge entry, and
 * corruption: every truncation and every byte flip of an encoded block must
 * be rejected by block_decode (the checksum lives in the block), and blocks
 * altered and then re-sealed with a valid checksum must either be rejected
 * or decode into something that can be walked safely.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "table/block_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "util/status_int.h"
#include "testutil.h"

#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* One entry of a test model, with its own key and value storage. */
typedef struct model_entry {
    uint8_t *key;
    size_t nkey;
    uint8_t *value;
    size_t nvalue;
    uint64_t seq;
    uint8_t type;
} model_entry;

static uint64_t rng_state;

/* The suite's stream (testutil.h's generator), reseeded per case. */
static uint64_t rng_next(void)
{
    return test_rng_next(&rng_state);
}

static entry model_view(const model_entry *m)
{
    entry e = {m->key, m->nkey, m->value, m->nvalue, m->seq, m->type};
    return e;
}

static int model_cmp(const void *a, const void *b)
{
    entry ea = model_view(a), eb = model_view(b);
    return entry_cmp(&ea, &eb);
}

static void model_free(model_entry *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].key);
        free(m[i].value);
    }
    free(m);
}

static model_entry model_make(const char *key, uint64_t seq, uint8_t type,
                              const char *value)
{
    model_entry m = {0};
    m.nkey = strlen(key);
    m.key = malloc(m.nkey);
    memcpy(m.key, key, m.nkey);
    m.seq = seq;
    m.type = type;
    if (type == ENTRY_VALUE && value) {
        m.nvalue = strlen(value);
        m.value = malloc(m.nvalue + 1);
        memcpy(m.value, value, m.nvalue + 1);
    }
    return m;
}

/* n random entries in internal-key order: keys from a small alphabet so
 * that they share prefixes and repeat (several versions), some tombstones,
 * some empty values. Distinct (key, seq) pairs. */
static model_entry *model_random(size_t n, uint64_t seed)
{
    rng_state = seed;
    model_entry *m = calloc(n, sizeof *m);
    for (size_t i = 0; i < n; i++) {
        size_t nkey = 1 + rng_next() % 12;
        m[i].key = malloc(nkey);
        for (size_t j = 0; j < nkey; j++)
            m[i].key[j] = (uint8_t)("abc\xff"[rng_next() % 4]);
        m[i].nkey = nkey;
        m[i].seq = i + 1; /* distinct, so (key, seq) pairs are distinct */
        m[i].type = rng_next() % 5 == 0 ? ENTRY_TOMBSTONE : ENTRY_VALUE;
        if (m[i].type == ENTRY_VALUE) {
            m[i].nvalue = rng_next() % 4 == 0 ? 0 : rng_next() % 40;
            m[i].value = malloc(m[i].nvalue + 1);
            for (size_t j = 0; j < m[i].nvalue; j++)
                m[i].value[j] = (uint8_t)rng_next();
        }
    }
    qsort(m, n, sizeof *m, model_cmp);
    return m;
}

/* Encodes the entries into one block; returns a malloc'd copy. */
static uint8_t *encode(const model_entry *m, size_t n, size_t *n_bytes)
{
    block_builder b;
    block_builder_init(&b);
    for (size_t i = 0; i < n; i++) {
        entry e = model_view(&m[i]);
        size_t before = block_builder_size_bytes(&b);
        size_t predicted = block_builder_entry_bytes(&b, &e);
        assert_int_equal(block_builder_add(&b, &e), LSM_OK);
        assert_int_equal(block_builder_size_bytes(&b), before + predicted);
    }
    size_t predicted_total = block_builder_size_bytes(&b);
    const uint8_t *data;
    assert_int_equal(block_builder_finish(&b, &data, n_bytes), LSM_OK);
    assert_int_equal(*n_bytes, predicted_total);
    uint8_t *copy = malloc(*n_bytes);
    memcpy(copy, data, *n_bytes);
    block_builder_free(&b);
    return copy;
}

static void assert_entry_is(const entry *got, const model_entry *want)
{
    assert_int_equal(got->nkey, want->nkey);
    assert_memory_equal(got->key, want->key, want->nkey);
    assert_int_equal(got->seq, want->seq);
    assert_int_equal(got->type, want->type);
    assert_int_equal(got->nvalue, want->nvalue);
    if (want->nvalue)
        assert_memory_equal(got->value, want->value, want->nvalue);
}

/* Iterates the whole block and compares with the model. */
static void assert_block_holds(const block *b, const model_entry *m, size_t n)
{
    assert_int_equal(b->n_entries, n);
    iter *it = block_iter_new(b);
    assert_non_null(it);
    assert_false(iter_valid(it));
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    for (size_t i = 0; i < n; i++) {
        assert_true(iter_valid(it));
        assert_int_equal(iter_num_active(it), 1);
        entry e;
        iter_entry(it, &e);
        assert_entry_is(&e, &m[i]);
        assert_int_equal(iter_next(it), LSM_OK);
    }
    assert_false(iter_valid(it));
    assert_int_equal(iter_num_active(it), 0);
    iter_destroy(it);
}

/* Index of the first model entry whose user key >= key (n if none). */
static size_t model_lower_bound(const model_entry *m, size_t n,
                                const uint8_t *key, size_t nkey)
{
    size_t i = 0;
    while (i < n && user_key_cmp(m[i].key, m[i].nkey, key, nkey) < 0)
        i++;
    return i;
}

/* Seeks it to key and checks it lands where the model says. */
static void assert_seek(iter *it, const block *b, const model_entry *m,
                        size_t n, const uint8_t *key, size_t nkey)
{
    size_t want = model_lower_bound(m, n, key, nkey);
    assert_int_equal(iter_seek(it, key, nkey), LSM_OK);
    block_entry be;
    bool found = block_seek(b, key, nkey, UINT64_MAX, &be);
    if (want == n) {
        assert_false(iter_valid(it));
        assert_false(found);
        return;
    }
    assert_true(iter_valid(it));
    entry e;
    iter_entry(it, &e);
    assert_entry_is(&e, &m[want]);
    assert_true(found);
    assert_int_equal(be.seq, m[want].seq);
    assert_int_equal(block_entry_key_cmp(&be, m[want].key, m[want].nkey), 0);
}

static void test_round_trip_random(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        size_t n = 1 + (size_t)(seed * 37 % 300);
        model_entry *m = model_random(n, seed);
        size_t nb;
        uint8_t *data = encode(m, n, &nb);
        block b;
        assert_int_equal(block_decode(data, nb, "t.sst", 0, &b), LSM_OK);
        assert_block_holds(&b, m, n);
        size_t max_key = 0;
        for (size_t i = 0; i < n; i++)
            max_key = m[i].nkey > max_key ? m[i].nkey : max_key;
        assert_int_equal(b.max_key_bytes, max_key);
        assert_int_equal(b.n_restarts, (n + BLOCK_RESTART_INTERVAL - 1) /
                                           BLOCK_RESTART_INTERVAL);
        block_entry first, last;
        block_first_entry(&b, &first);
        block_last_entry(&b, &last);
        assert_int_equal(first.seq, m[0].seq);
        assert_int_equal(last.seq, m[n - 1].seq);
        assert_int_equal(
            block_entry_key_cmp(&last, m[n - 1].key, m[n - 1].nkey), 0);
        free(data);
        model_free(m, n);
    }
}

static void test_seek_everywhere(void **state)
{
    (void)state;
    size_t n = 200;
    model_entry *m = model_random(n, 99);
    size_t nb;
    uint8_t *data = encode(m, n, &nb);
    block b;
    assert_int_equal(block_decode(data, nb, "t.sst", 0, &b), LSM_OK);
    iter *it = block_iter_new(&b);
    assert_non_null(it);
    for (size_t i = 0; i < n; i++) {
        /* The key itself (present), and the key with a byte appended or
         * its last byte lowered (mostly absent, between keys). */
        uint8_t k[16];
        memcpy(k, m[i].key, m[i].nkey);
        assert_seek(it, &b, m, n, k, m[i].nkey);
        k[m[i].nkey] = 0;
        assert_seek(it, &b, m, n, k, m[i].nkey + 1);
        k[m[i].nkey - 1]--;
        assert_seek(it, &b, m, n, k, m[i].nkey);
    }
    /* Before the first key and after the last. */
    const uint8_t before[1] = {0x00};
    uint8_t after[13];
    memset(after, 0xff, sizeof after);
    assert_seek(it, &b, m, n, before, 1);
    assert_seek(it, &b, m, n, after, 3);
    assert_seek(it, &b, m, n, after, sizeof after);
    /* Seek, then walk to the end: next works after any seek. */
    assert_int_equal(iter_seek(it, m[n / 2].key, m[n / 2].nkey), LSM_OK);
    size_t i = model_lower_bound(m, n, m[n / 2].key, m[n / 2].nkey);
    for (; iter_valid(it); i++) {
        entry e;
        iter_entry(it, &e);
        assert_entry_is(&e, &m[i]);
        assert_int_equal(iter_next(it), LSM_OK);
    }
    assert_int_equal(i, n);
    iter_destroy(it);
    free(data);
    model_free(m, n);
}

static void test_prefix_compression_shrinks(void **state)
{
    (void)state;
    size_t n = 160;
    model_entry *m = calloc(n, sizeof *m);
    char key[64];
    size_t raw_key_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "users/profile/settings/%06zu", i);
        m[i] = model_make(key, 7, ENTRY_VALUE, "v");
        raw_key_bytes += m[i].nkey;
    }
    size_t nb;
    uint8_t *data = encode(m, n, &nb);
    /* 29-byte keys sharing 25+ bytes with their run's restart key: every
     * non-restart entry stores a few suffix bytes, so the whole block is
     * far smaller than its keys alone. */
    assert_true(nb < raw_key_bytes / 2);
    /* Exact size: restart entries store 29 key bytes, others store the
     * suffix after the prefix shared with the restart key. */
    size_t want = BLOCK_TRAILER_BYTES;
    for (size_t i = 0; i < n; i++) {
        size_t r = i - i % BLOCK_RESTART_INTERVAL;
        size_t shared = 0;
        while (i != r && shared < m[i].nkey &&
               m[i].key[shared] == m[r].key[shared])
            shared++;
        want += 5 + (m[i].nkey - shared) + 1;
        if (i == r)
            want += 4;
    }
    assert_int_equal(nb, want);
    block b;
    assert_int_equal(block_decode(data, nb, "t.sst", 0, &b), LSM_OK);
    assert_block_holds(&b, m, n);
    free(data);
    model_free(m, n);
}

static void test_versions_newest_first(void **state)
{
    (void)state;
    /* 40 versions of "k" span several restart runs; seek must still land on
     * the newest one. */
    size_t n = 42;
    model_entry *m = calloc(n, sizeof *m);
    m[0] = model_make("j", 1000, ENTRY_VALUE, "j");
    for (size_t i = 1; i <= 40; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%zu", 100 - i);
        m[i] =
            model_make("k", 100 - i, i % 3 ? ENTRY_VALUE : ENTRY_TOMBSTONE, v);
    }
    m[41] = model_make("ka", 5, ENTRY_VALUE, "z");
    size_t nb;
    uint8_t *data = encode(m, n, &nb);
    block b;
    assert_int_equal(block_decode(data, nb, "t.sst", 0, &b), LSM_OK);
    assert_block_holds(&b, m, n);
    block_entry be;
    assert_true(block_seek(&b, (const uint8_t *)"k", 1, UINT64_MAX, &be));
    assert_int_equal(be.seq, 99);
    assert_true(block_seek(&b, (const uint8_t *)"ja", 2, UINT64_MAX, &be));
    assert_int_equal(be.seq, 99);
    assert_true(block_seek(&b, (const uint8_t *)"k\x01", 2, UINT64_MAX, &be));
    assert_int_equal(be.seq, 5);
    assert_false(block_seek(&b, (const uint8_t *)"kb", 2, UINT64_MAX, &be));
    /* At a seq: the newest version at or below it, across restart runs;
     * past the oldest version, the next key; past the block, nothing. */
    assert_true(block_seek(&b, (const uint8_t *)"k", 1, 75, &be));
    assert_int_equal(be.seq, 75);
    assert_int_equal(block_entry_key_cmp(&be, (const uint8_t *)"k", 1), 0);
    assert_true(block_seek(&b, (const uint8_t *)"k", 1, 60, &be));
    assert_int_equal(be.seq, 60);
    assert_true(block_seek(&b, (const uint8_t *)"k", 1, 59, &be));
    assert_int_equal(block_entry_key_cmp(&be, (const uint8_t *)"ka", 2), 0);
    assert_false(block_seek(&b, (const uint8_t *)"ka", 2, 4, &be));
    uint64_t n_compared = 0;
    assert_true(
        block_seek_counted(&b, (const uint8_t *)"k", 1, 90, &be, &n_compared));
    assert_int_equal(be.seq, 90);
    assert_true(n_compared >= 10); /* stepped over 99 .. 91 */
    free(data);
    model_free(m, n);
}

static void test_tombstones_and_empty_values(void **state)
{
    (void)state;
    model_entry m[4];
    m[0] = model_make("a", 9, ENTRY_TOMBSTONE, NULL);
    m[1] = model_make("b", 8, ENTRY_VALUE, "");
    m[2] = model_make("c", 7, ENTRY_TOMBSTONE, NULL);
    m[3] = model_make("d", 6, ENTRY_VALUE, "x");
    /* A tombstone's value is never stored, even if the caller passes one. */
    block_builder bb;
    block_builder_init(&bb);
    for (int i = 0; i < 4; i++) {
        entry e = model_view(&m[i]);
        if (e.type == ENTRY_TOMBSTONE) {
            e.value = (const uint8_t *)"junk";
            e.nvalue = 4;
        }
        assert_int_equal(block_builder_add(&bb, &e), LSM_OK);
    }
    const uint8_t *data;
    size_t nb;
    assert_int_equal(block_builder_finish(&bb, &data, &nb), LSM_OK);
    block b;
    assert_int_equal(block_decode(data, nb, "t.sst", 0, &b), LSM_OK);
    assert_block_holds(&b, m, 4);
    block_builder_free(&bb);
    for (int i = 0; i < 4; i++) {
        free(m[i].key);
        free(m[i].value);
    }
}

static void test_worked_example_of_format_md(void **state)
{
    (void)state;
    model_entry m[3];
    m[0] = model_make("a", 5, ENTRY_VALUE, "1");
    m[1] = model_make("a", 3, ENTRY_TOMBSTONE, NULL);
    m[2] = model_make("ab", 4, ENTRY_VALUE, "");
    size_t nb;
    uint8_t *data = encode(m, 3, &nb);
    static const uint8_t want[26] = {
        0x00, 0x01, 0x01, 0x05, 0x01, 'a',  '1',  0x01, 0x00,
        0x00, 0x03, 0x00, 0x01, 0x01, 0x00, 0x04, 0x01, 'b',
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    };
    assert_int_equal(nb, 34);
    assert_memory_equal(data, want, sizeof want);
    assert_int_equal(get_fixed64(data + 26), checksum64(data, 26));
    free(data);
    for (int i = 0; i < 3; i++) {
        free(m[i].key);
        free(m[i].value);
    }
}

static void test_huge_entry(void **state)
{
    (void)state;
    model_entry m[2];
    m[0].nkey = LSM_MAX_KEY_BYTES;
    m[0].key = malloc(m[0].nkey);
    memset(m[0].key, 'k', m[0].nkey);
    m[0].nvalue = LSM_MAX_VALUE_BYTES;
    m[0].value = malloc(m[0].nvalue);
    for (size_t i = 0; i < m[0].nvalue; i++)
        m[0].value[i] = (uint8_t)(i * 7);
    m[0].seq = UINT64_MAX;
    m[0].type = ENTRY_VALUE;
    m[1] = model_make("l", 0, ENTRY_VALUE, "small");
    size_t nb;
    uint8_t *data = encode(m, 2, &nb);
    assert_true(nb > LSM_MAX_VALUE_BYTES + LSM_MAX_KEY_BYTES);
    block b;
    assert_int_equal(block_decode(data, nb, "t.sst", 0, &b), LSM_OK);
    assert_block_holds(&b, m, 2);
    assert_int_equal(b.max_key_bytes, LSM_MAX_KEY_BYTES);
    /* One flipped bit inside the value is caught by the checksum. */
    data[nb / 2] ^= 0x10;
    assert_int_equal(block_decode(data, nb, "t.sst", 0, &b), LSM_ECORRUPT);
    free(data);
    for (int i = 0; i < 2; i++) {
        free(m[i].key);
        free(m[i].value);
    }
}

static void test_builder_reset_reuses(void **state)
{
    (void)state;
    model_entry *m = model_random(50, 5);
    block_builder bb;
    block_builder_init(&bb);
    for (int round = 0; round < 3; round++) {
        block_builder_reset(&bb);
        assert_int_equal(block_builder_size_bytes(&bb), BLOCK_TRAILER_BYTES);
        for (size_t i = 0; i < 50; i++) {
            entry e = model_view(&m[i]);
            assert_int_equal(block_builder_add(&bb, &e), LSM_OK);
        }
        size_t nfirst;
        const uint8_t *first = block_builder_first_key(&bb, &nfirst);
        assert_int_equal(nfirst, m[0].nkey);
        assert_memory_equal(first, m[0].key, nfirst);
        const uint8_t *data;
        size_t nb;
        assert_int_equal(block_builder_finish(&bb, &data, &nb), LSM_OK);
        block b;
        assert_int_equal(block_decode(data, nb, "t.sst", 0, &b), LSM_OK);
        assert_block_holds(&b, m, 50);
    }
    block_builder_free(&bb);
    model_free(m, 50);
}

static void test_every_truncation_and_flip_rejected(void **state)
{
    (void)state;
    size_t n = 60;
    model_entry *m = model_random(n, 7);
    size_t nb;
    uint8_t *data = encode(m, n, &nb);
    block b;
    for (size_t len = 0; len < nb; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, data, len);
        assert_int_equal(block_decode(copy, len, "t.sst", 4096, &b),
                         LSM_ECORRUPT);
        free(copy);
    }
    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    for (size_t off = 0; off < nb; off++) {
        for (size_t f = 0; f < sizeof flips; f++) {
            data[off] ^= flips[f];
            assert_int_equal(block_decode(data, nb, "t.sst", 4096, &b),
                             LSM_ECORRUPT);
            data[off] ^= flips[f];
        }
    }
    /* The message names the file and the block's offset. */
    data[3] ^= 1;
    assert_int_equal(block_decode(data, nb, "dir/12.sst", 8192, &b),
                     LSM_ECORRUPT);
    assert_non_null(strstr(lsm_errmsg(), "dir/12.sst"));
    assert_non_null(strstr(lsm_errmsg(), "offset 8192"));
    data[3] ^= 1;
    assert_int_equal(block_decode(data, nb, "t.sst", 0, &b), LSM_OK);
    free(data);
    model_free(m, n);
}

/* Recomputes the checksum of an altered block, so the structural checks
 * behind it are what must catch the alteration. */
static void reseal(uint8_t *data, size_t nb)
{
    put_fixed64(data + nb - 8, checksum64(data, nb - 8));
}

/* Walks whatever a re-sealed block decoded to: every access must stay in
 * bounds (ASan watches) and the order must hold. */
static void walk_decoded(const block *b)
{
    iter *it = block_iter_new(b);
    assert_non_null(it);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    size_t count = 0;
    uint8_t *prev_key = malloc(b->max_key_bytes);
    entry prev = {0};
    while (iter_valid(it)) {
        entry e;
        iter_entry(it, &e);
        assert_true(e.nkey >= 1 && e.nkey <= b->max_key_bytes);
        if (count > 0)
            assert_true(entry_cmp(&prev, &e) < 0);
        memcpy(prev_key, e.key, e.nkey);
        prev = e;
        prev.key = prev_key;
        count++;
        assert_int_equal(iter_next(it), LSM_OK);
    }
    assert_int_equal(count, b->n_entries);
    assert_int_equal(iter_seek(it, (const uint8_t *)"b", 1), LSM_OK);
    free(prev_key);
    iter_destroy(it);
}

static void test_resealed_alterations_are_safe(void **state)
{
    (void)state;
    size_t n = 40;
    model_entry *m = model_random(n, 11);
    size_t nb;
    uint8_t *data = encode(m, n, &nb);
    uint8_t *copy = malloc(nb);
    size_t accepted = 0, rejected = 0;
    for (size_t off = 0; off < nb - 8; off++) {
        for (unsigned v = 1; v < 256; v += 17) {
            memcpy(copy, data, nb);
            copy[off] ^= (uint8_t)v;
            reseal(copy, nb);
            block b;
            int rc = block_decode(copy, nb, "t.sst", 0, &b);
            if (rc == LSM_OK) {
                accepted++;
                walk_decoded(&b);
            } else {
                assert_int_equal(rc, LSM_ECORRUPT);
                rejected++;
            }
        }
    }
    /* Values can change freely (accepted); headers mostly cannot. */
    assert_true(accepted > 0);
    assert_true(rejected > 0);
    free(copy);
    free(data);
    model_free(m, n);
}

/* Two decoded views of the same bytes agree on everything a reader uses. */
static void assert_same_decoding(const block *a, const block *b)
{
    assert_ptr_equal(a->data, b->data);
    assert_int_equal(a->n_bytes, b->n_bytes);
    assert_int_equal(a->n_entries_bytes, b->n_entries_bytes);
    assert_ptr_equal(a->restarts, b->restarts);
    assert_int_equal(a->n_restarts, b->n_restarts);
    assert_int_equal(a->n_entries, b->n_entries);
    assert_int_equal(a->last_entry_offset, b->last_entry_offset);
    assert_int_equal(a->max_key_bytes, b->max_key_bytes);
}

/* A memo recorded from a verified block lets the same bytes decode without
 * the walk, to the very same block; until then, and for other bytes, the
 * walk runs. */
static void test_memo_skips_walk_for_same_bytes(void **state)
{
    (void)state;
    size_t n = 60;
    model_entry *m = model_random(n, 23);
    size_t nb;
    uint8_t *data = encode(m, n, &nb);
    block_memo memo = {0};
    block walked, known_blk;
    bool known = true;
    assert_int_equal(
        block_decode_memo(data, nb, "t.sst", 0, &memo, &walked, &known),
        LSM_OK);
    assert_false(known); /* nothing recorded yet */
    block_memo_record(&memo, &walked);
    assert_int_equal(
        block_decode_memo(data, nb, "t.sst", 0, &memo, &known_blk, &known),
        LSM_OK);
    assert_true(known);
    assert_same_decoding(&walked, &known_blk);
    assert_block_holds(&known_blk, m, n);

    /* A copy elsewhere in memory is the same bytes: still known. */
    uint8_t *copy = malloc(nb);
    memcpy(copy, data, nb);
    assert_int_equal(
        block_decode_memo(copy, nb, "t.sst", 0, &memo, &known_blk, &known),
        LSM_OK);
    assert_true(known);
    assert_int_equal(known_blk.last_entry_offset, walked.last_entry_offset);
    free(copy);
    free(data);
    model_free(m, n);
}

/* Bytes changed but resealed (valid checksum) are not the remembered ones:
 * they are walked in full, so a structural fault is still LSM_ECORRUPT,
 * and a flipped byte without resealing fails the checksum as ever. The
 * memo keeps the first block recorded (write-once). */
static void test_memo_does_not_vouch_for_other_bytes(void **state)
{
    (void)state;
    size_t n = 40;
    model_entry *m = model_random(n, 29);
    size_t nb;
    uint8_t *data = encode(m, n, &nb);
    block_memo memo = {0};
    block b;
    bool known;
    assert_int_equal(block_decode_memo(data, nb, "t.sst", 0, &memo, &b, &known),
                     LSM_OK);
    block_memo_record(&memo, &b);
    uint64_t recorded = atomic_load(&memo.checksum);
    assert_true(recorded != 0);

    uint8_t *copy = malloc(nb);
    size_t walked = 0, rejected = 0, sum_failures = 0;
    for (size_t off = 0; off < nb - 8; off++) {
        memcpy(copy, data, nb);
        copy[off] ^= 0x41;
        assert_int_equal(
            block_decode_memo(copy, nb, "t.sst", 0, &memo, &b, &known),
            LSM_ECORRUPT);
        sum_failures++;
        reseal(copy, nb);
        block plain;
        int want = block_decode(copy, nb, "t.sst", 0, &plain);
        int rc = block_decode_memo(copy, nb, "t.sst", 0, &memo, &b, &known);
        assert_int_equal(rc, want); /* exactly the full decoder's verdict */
        assert_false(known);
        if (rc == LSM_OK) {
            assert_same_decoding(&plain, &b);
            walked++;
            block_memo_record(&memo, &b); /* loses: the memo is taken */
        } else {
            rejected++;
        }
        assert_int_equal(atomic_load(&memo.checksum), recorded);
    }
    assert_true(walked > 0 && rejected > 0 && sum_failures > 0);
    free(copy);
    free(data);
    model_free(m, n);
}

/* Builds a block by hand from raw entry bytes and restart offsets. */
static size_t handmade(uint8_t *out, const uint8_t *entries, size_t n_entries,
                       const uint32_t *restarts, size_t n_restarts)
{
    memcpy(out, entries, n_entries);
    size_t n = n_entries;
    for (size_t i = 0; i < n_restarts; i++, n += 4)
        put_fixed32(out + n, restarts[i]);
    put_fixed32(out + n, (uint32_t)n_restarts);
    n += 4;
    n += 8;
    reseal(out, n);
    return n;
}

static void test_structural_violations_rejected(void **state)
{
    (void)state;
    uint8_t buf[128];
    block b;
    static const uint32_t r0[] = {0};
    /* A well-formed baseline: "a"=1 seq 5, "ab" seq 4. */
    static const uint8_t ok[] = {0, 1, 1, 5, 1, 'a', '1', 1, 1, 0, 4, 1, 'b'};
    size_t n = handmade(buf, ok, sizeof ok, r0, 1);
    assert_int_equal(block_decode(buf, n, "t", 0, &b), LSM_OK);
    assert_int_equal(b.n_entries, 2);

    struct {
        const char *what;
        uint8_t entries[16];
        size_t n;
        uint32_t restarts[3];
        size_t n_restarts;
    } bad[] = {
        {"no restarts", {0, 1, 0, 1, 1, 'a'}, 6, {0}, 0},
        {"first restart not 0", {0, 1, 0, 1, 1, 'a'}, 6, {1}, 1},
        {"restart past entries", {0, 1, 0, 1, 1, 'a'}, 6, {0, 6}, 2},
        {"restarts not ascending",
         {0, 1, 0, 2, 1, 'a', 0, 1, 0, 1, 1, 'b'},
         12,
         {0, 6, 6},
         3},
        {"restart inside an entry",
         {0, 1, 0, 2, 1, 'a', 0, 1, 0, 1, 1, 'b'},
         12,
         {0, 3},
         2},
        {"shared on a restart entry", {1, 1, 0, 1, 1, 'a'}, 6, {0}, 1},
        {"shared beyond restart key",
         {0, 1, 0, 2, 1, 'a', 2, 0, 0, 1, 1},
         11,
         {0},
         1},
        {"empty key", {0, 0, 0, 1, 1}, 5, {0}, 1},
        {"bad type", {0, 1, 0, 1, 2, 'a'}, 6, {0}, 1},
        {"tombstone with a value", {0, 1, 1, 1, 0, 'a', 'x'}, 7, {0}, 1},
        {"value past the end", {0, 1, 9, 1, 1, 'a', 'x'}, 7, {0}, 1},
        {"key past the end", {0, 9, 0, 1, 1, 'a'}, 6, {0}, 1},
        {"truncated varint", {0, 1, 0, 0x80}, 4, {0}, 1},
        {"keys out of order",
         {0, 1, 0, 1, 1, 'b', 0, 1, 0, 1, 1, 'a'},
         12,
         {0, 6},
         2},
        {"same key, seq ascending",
         {0, 1, 0, 1, 1, 'a', 1, 0, 0, 2, 1},
         11,
         {0},
         1},
        {"same key, same seq", {0, 1, 0, 1, 1, 'a', 1, 0, 0, 1, 1}, 11, {0}, 1},
        {"trailing garbage", {0, 1, 0, 1, 1, 'a', 0}, 7, {0}, 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = handmade(buf, bad[i].entries, bad[i].n, bad[i].restarts,
                     bad[i].n_restarts);
        int rc = block_decode(buf, n, "t", 0, &b);
        if (rc != LSM_ECORRUPT)
            fail_msg("accepted a block with %s", bad[i].what);
    }
    /* A restart count larger than the block. */
    n = handmade(buf, ok, sizeof ok, r0, 1);
    put_fixed32(buf + n - 12, 1000);
    reseal(buf, n);
    assert_int_equal(block_decode(buf, n, "t", 0, &b), LSM_ECORRUPT);
    /* A restart count that leaves no entries. */
    n = handmade(buf, ok, sizeof ok, r0, 1);
    put_fixed32(buf + n - 12, (uint32_t)((n - 12) / 4));
    reseal(buf, n);
    assert_int_equal(block_decode(buf, n, "t", 0, &b), LSM_ECORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_seek_everywhere),
        cmocka_unit_test(test_prefix_compression_shrinks),
        cmocka_unit_test(test_versions_newest_first),
        cmocka_unit_test(test_tombstones_and_empty_values),
        cmocka_unit_test(test_worked_example_of_format_md),
        cmocka_unit_test(test_huge_entry),
        cmocka_unit_test(test_builder_reset_reuses),
        cmocka_unit_test(test_every_truncation_and_flip_rejected),
        cmocka_unit_test(test_resealed_alterations_are_safe),
        cmocka_unit_test(test_structural_violations_rejected),
        cmocka_unit_test(test_memo_skips_walk_for_same_bytes),
        cmocka_unit_test(test_memo_does_not_vouch_for_other_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
