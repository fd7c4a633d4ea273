/*
 * test_memtable.c: the memtable (memtable_int.h).
 *
 * Versions, tombstones versus empty values, the exact counters, first/last
 * key, the iterator (order, seek, num_active, lifetime after the creator's
 * unref), extreme key and value sizes, bad arguments, a randomized run
 * checked against a model made by sorting every written version, and the
 * freeze rule (memtable_is_full): key + value bytes or arena memory,
 * whichever reaches the limit first, memory never below
 * MEMTABLE_MIN_MEMORY_LIMIT; the filter (memtable_may_contain): no false
 * negatives, a false-positive rate in the range its design predicts, its
 * size counted in the memtable's memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "iter/iter_int.h"
#include "lsm.h"
#include "mem/memtable_int.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int put_str(memtable *mt, const char *k, uint64_t seq, const char *v)
{
    return memtable_put(mt, (const uint8_t *)k, strlen(k), seq, ENTRY_VALUE,
                        (const uint8_t *)v, strlen(v));
}

static int del_str(memtable *mt, const char *k, uint64_t seq)
{
    return memtable_put(mt, (const uint8_t *)k, strlen(k), seq, ENTRY_TOMBSTONE,
                        NULL, 0);
}

static void assert_entry(const entry *e, const char *k, uint64_t seq,
                         uint8_t type, const char *v)
{
    assert_int_equal(e->nkey, strlen(k));
    assert_memory_equal(e->key, k, e->nkey);
    assert_int_equal(e->seq, seq);
    assert_int_equal(e->type, type);
    if (type == ENTRY_TOMBSTONE) {
        assert_int_equal(e->nvalue, 0);
    } else {
        assert_int_equal(e->nvalue, strlen(v));
        if (e->nvalue)
            assert_memory_equal(e->value, v, e->nvalue);
    }
}

static void assert_iter_at(iter *it, const char *k, uint64_t seq, uint8_t type,
                           const char *v)
{
    assert_true(iter_valid(it));
    assert_int_equal(iter_num_active(it), 1);
    entry e;
    iter_entry(it, &e);
    assert_entry(&e, k, seq, type, v);
}

static void test_empty_memtable(void **state)
{
    (void)state;
    memtable *mt;
    assert_int_equal(memtable_create(7, &mt), LSM_OK);
    assert_int_equal(memtable_id(mt), 7);
    assert_int_equal(memtable_num_keys(mt), 0);
    assert_int_equal(memtable_size_bytes(mt), 0);
    assert_int_equal(memtable_max_seq(mt), 0);
    const uint8_t *k;
    size_t n;
    assert_false(memtable_first_key(mt, &k, &n));
    assert_false(memtable_last_key(mt, &k, &n));
    entry e;
    assert_false(memtable_get(mt, (const uint8_t *)"a", 1, &e));

    iter *it = memtable_iter_new(mt);
    assert_non_null(it);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    assert_false(iter_valid(it));
    assert_int_equal(iter_num_active(it), 0);
    assert_int_equal(iter_next(it), LSM_OK);
    assert_false(iter_valid(it));
    iter_destroy(it);
    memtable_unref(mt);
    memtable_unref(NULL);
}

static void test_put_get_versions_and_counters(void **state)
{
    (void)state;
    memtable *mt;
    assert_int_equal(memtable_create(1, &mt), LSM_OK);
    assert_int_equal(put_str(mt, "b", 1, "one"), LSM_OK);
    assert_int_equal(put_str(mt, "a", 2, "xx"), LSM_OK);
    assert_int_equal(put_str(mt, "b", 3, "three"), LSM_OK); /* overwrite */
    assert_int_equal(del_str(mt, "a", 4), LSM_OK);          /* tombstone */
    assert_int_equal(put_str(mt, "c", 5, ""), LSM_OK);      /* empty value */
    assert_int_equal(del_str(mt, "zz", 6), LSM_OK); /* delete of absent key */

    /* 1+3, 1+2, 1+5, 1+0, 1+0, 2+0: every write counts, overwrites too. */
    assert_int_equal(memtable_size_bytes(mt), 4 + 3 + 6 + 1 + 1 + 2);
    assert_int_equal(memtable_num_keys(mt), 4);
    assert_int_equal(memtable_max_seq(mt), 6);

    entry e;
    assert_true(memtable_get(mt, (const uint8_t *)"b", 1, &e));
    assert_entry(&e, "b", 3, ENTRY_VALUE, "three");
    assert_true(memtable_get(mt, (const uint8_t *)"a", 1, &e));
    assert_entry(&e, "a", 4, ENTRY_TOMBSTONE, NULL);
    assert_true(memtable_get(mt, (const uint8_t *)"c", 1, &e));
    assert_entry(&e, "c", 5, ENTRY_VALUE, "");
    assert_non_null(e.value); /* a real, empty value */
    assert_true(memtable_get(mt, (const uint8_t *)"zz", 2, &e));
    assert_entry(&e, "zz", 6, ENTRY_TOMBSTONE, NULL);
    /* Prefixes and extensions of present keys are absent. */
    assert_false(memtable_get(mt, (const uint8_t *)"z", 1, &e));
    assert_false(memtable_get(mt, (const uint8_t *)"bb", 2, &e));
    assert_false(memtable_get(mt, (const uint8_t *)"", 0, &e));

    const uint8_t *k;
    size_t n;
    assert_true(memtable_first_key(mt, &k, &n));
    assert_int_equal(n, 1);
    assert_memory_equal(k, "a", 1);
    assert_true(memtable_last_key(mt, &k, &n));
    assert_int_equal(n, 2);
    assert_memory_equal(k, "zz", 2);

    /* Every version, newest first within a key. */
    iter *it = memtable_iter_new(mt);
    assert_non_null(it);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    assert_iter_at(it, "a", 4, ENTRY_TOMBSTONE, NULL);
    assert_int_equal(iter_next(it), LSM_OK);
    assert_iter_at(it, "a", 2, ENTRY_VALUE, "xx");
    assert_int_equal(iter_next(it), LSM_OK);
    assert_iter_at(it, "b", 3, ENTRY_VALUE, "three");
    assert_int_equal(iter_next(it), LSM_OK);
    assert_iter_at(it, "b", 1, ENTRY_VALUE, "one");
    assert_int_equal(iter_next(it), LSM_OK);
    assert_iter_at(it, "c", 5, ENTRY_VALUE, "");
    assert_int_equal(iter_next(it), LSM_OK);
    assert_iter_at(it, "zz", 6, ENTRY_TOMBSTONE, NULL);
    assert_int_equal(iter_next(it), LSM_OK);
    assert_false(iter_valid(it));
    assert_int_equal(iter_num_active(it), 0);
    iter_destroy(it);
    memtable_unref(mt);
}

static void test_bad_arguments_change_nothing(void **state)
{
    (void)state;
    memtable *mt;
    assert_int_equal(memtable_create(2, &mt), LSM_OK);
    assert_int_equal(put_str(mt, "k", 10, "v"), LSM_OK);

    assert_int_equal(put_str(mt, "", 11, "v"), LSM_EINVAL);
    assert_int_equal(
        memtable_put(mt, NULL, 3, 11, ENTRY_VALUE, (const uint8_t *)"v", 1),
        LSM_EINVAL);
    assert_int_equal(memtable_put(mt, (const uint8_t *)"k", 1, 11, 7,
                                  (const uint8_t *)"v", 1),
                     LSM_EINVAL);
    assert_int_equal(
        memtable_put(mt, (const uint8_t *)"k", 1, 11, ENTRY_VALUE, NULL, 3),
        LSM_EINVAL);
    /* A version not newer than the key's newest would break the order. */
    assert_int_equal(put_str(mt, "k", 10, "same"), LSM_EINVAL);
    assert_int_equal(put_str(mt, "k", 9, "older"), LSM_EINVAL);
    assert_true(strlen(lsm_errmsg()) > 0);

    assert_int_equal(memtable_num_keys(mt), 1);
    assert_int_equal(memtable_size_bytes(mt), 2);
    assert_int_equal(memtable_max_seq(mt), 10);
    entry e;
    assert_true(memtable_get(mt, (const uint8_t *)"k", 1, &e));
    assert_entry(&e, "k", 10, ENTRY_VALUE, "v");
    iter *it = memtable_iter_new(mt);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    assert_int_equal(iter_next(it), LSM_OK);
    assert_false(iter_valid(it)); /* exactly one version */
    iter_destroy(it);

    /* A tombstone ignores the value it is given. */
    assert_int_equal(memtable_put(mt, (const uint8_t *)"k", 1, 12,
                                  ENTRY_TOMBSTONE, (const uint8_t *)"junk", 4),
                     LSM_OK);
    assert_int_equal(memtable_size_bytes(mt), 3);
    assert_true(memtable_get(mt, (const uint8_t *)"k", 1, &e));
    assert_entry(&e, "k", 12, ENTRY_TOMBSTONE, NULL);
    memtable_unref(mt);
}

static void test_iter_seek(void **state)
{
    (void)state;
    memtable *mt;
    assert_int_equal(memtable_create(3, &mt), LSM_OK);
    assert_int_equal(put_str(mt, "b", 1, "b1"), LSM_OK);
    assert_int_equal(put_str(mt, "d", 2, "d2"), LSM_OK);
    assert_int_equal(put_str(mt, "d", 3, "d3"), LSM_OK);
    assert_int_equal(put_str(mt, "f", 4, "f4"), LSM_OK);

    iter *it = memtable_iter_new(mt);
    assert_non_null(it);
    /* Not positioned until the first seek. */
    assert_false(iter_valid(it));
    assert_int_equal(iter_num_active(it), 0);

    assert_int_equal(iter_seek(it, (const uint8_t *)"d", 1), LSM_OK);
    assert_iter_at(it, "d", 3, ENTRY_VALUE, "d3"); /* the newest version */
    assert_int_equal(iter_seek(it, (const uint8_t *)"c", 1), LSM_OK);
    assert_iter_at(it, "d", 3, ENTRY_VALUE, "d3");
    assert_int_equal(iter_seek(it, (const uint8_t *)"a", 1), LSM_OK);
    assert_iter_at(it, "b", 1, ENTRY_VALUE, "b1");
    assert_int_equal(iter_seek(it, (const uint8_t *)"d\0", 2), LSM_OK);
    assert_iter_at(it, "f", 4, ENTRY_VALUE, "f4");
    assert_int_equal(iter_seek(it, (const uint8_t *)"f", 1), LSM_OK);
    assert_iter_at(it, "f", 4, ENTRY_VALUE, "f4");
    assert_int_equal(iter_seek(it, (const uint8_t *)"g", 1), LSM_OK);
    assert_false(iter_valid(it));
    assert_int_equal(iter_num_active(it), 0);
    /* Seeking back after the end works. */
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    assert_iter_at(it, "b", 1, ENTRY_VALUE, "b1");

    /* Entries written after the iterator was made are seen. */
    assert_int_equal(put_str(mt, "c", 5, "c5"), LSM_OK);
    assert_int_equal(iter_next(it), LSM_OK);
    assert_iter_at(it, "c", 5, ENTRY_VALUE, "c5");
    iter_destroy(it);
    memtable_unref(mt);
}

/* The iterator's reference keeps the arena alive: under ASan, a use after
 * free here would be reported. */
static void test_iter_outlives_creator_reference(void **state)
{
    (void)state;
    memtable *mt;
    assert_int_equal(memtable_create(4, &mt), LSM_OK);
    for (int i = 0; i < 1000; i++) {
        char k[16], v[32];
        snprintf(k, sizeof k, "key%04d", i);
        snprintf(v, sizeof v, "value-%d", i);
        assert_int_equal(put_str(mt, k, (uint64_t)i + 1, v), LSM_OK);
    }
    iter *it = memtable_iter_new(mt);
    assert_non_null(it);
    entry held;
    assert_true(memtable_get(mt, (const uint8_t *)"key0500", 7, &held));
    memtable_ref(mt); /* a second holder, dropped below */
    memtable_unref(mt);
    memtable_unref(mt); /* the creator's reference: the iterator remains */

    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    int count = 0;
    while (iter_valid(it)) {
        entry e;
        iter_entry(it, &e);
        char k[16], v[32];
        snprintf(k, sizeof k, "key%04d", count);
        snprintf(v, sizeof v, "value-%d", count);
        assert_entry(&e, k, (uint64_t)count + 1, ENTRY_VALUE, v);
        count++;
        assert_int_equal(iter_next(it), LSM_OK);
    }
    assert_int_equal(count, 1000);
    /* A view taken through get stays valid while the iterator's reference
     * does. */
    assert_entry(&held, "key0500", 501, ENTRY_VALUE, "value-500");
    iter_destroy(it); /* frees the memtable */
}

static void test_extreme_sizes(void **state)
{
    (void)state;
    memtable *mt;
    assert_int_equal(memtable_create(5, &mt), LSM_OK);
    uint8_t *big_key = malloc(LSM_MAX_KEY_BYTES);
    uint8_t *big_value = malloc(LSM_MAX_VALUE_BYTES);
    assert_non_null(big_key);
    assert_non_null(big_value);
    uint64_t rng = 5;
    for (size_t i = 0; i < LSM_MAX_KEY_BYTES; i++)
        big_key[i] = (uint8_t)test_rng_next(&rng);
    big_key[0] = 0x80; /* sorts after "\x01" and before "\xff" */
    for (size_t i = 0; i < LSM_MAX_VALUE_BYTES; i++)
        big_value[i] = (uint8_t)(i * 31 + 7);

    const uint8_t small_lo[1] = {0x01}, small_hi[1] = {0xff};
    assert_int_equal(memtable_put(mt, small_hi, 1, 1, ENTRY_VALUE, big_value,
                                  LSM_MAX_VALUE_BYTES),
                     LSM_OK);
    assert_int_equal(memtable_put(mt, big_key, LSM_MAX_KEY_BYTES, 2,
                                  ENTRY_VALUE, (const uint8_t *)"v", 1),
                     LSM_OK);
    assert_int_equal(
        memtable_put(mt, small_lo, 1, 3, ENTRY_VALUE, (const uint8_t *)"", 0),
        LSM_OK);
    assert_int_equal(memtable_size_bytes(mt), (size_t)1 + LSM_MAX_VALUE_BYTES +
                                                  LSM_MAX_KEY_BYTES + 1 + 1);
    assert_int_equal(memtable_num_keys(mt), 3);

    entry e;
    assert_true(memtable_get(mt, small_hi, 1, &e));
    assert_int_equal(e.nvalue, LSM_MAX_VALUE_BYTES);
    assert_memory_equal(e.value, big_value, LSM_MAX_VALUE_BYTES);
    assert_true(memtable_get(mt, big_key, LSM_MAX_KEY_BYTES, &e));
    assert_int_equal(e.nkey, LSM_MAX_KEY_BYTES);
    assert_memory_equal(e.key, big_key, LSM_MAX_KEY_BYTES);
    /* The big key minus its last byte is a different, absent key. */
    assert_false(memtable_get(mt, big_key, LSM_MAX_KEY_BYTES - 1, &e));

    const uint8_t *k;
    size_t n;
    assert_true(memtable_first_key(mt, &k, &n));
    assert_int_equal(n, 1);
    assert_int_equal(k[0], 0x01);
    assert_true(memtable_last_key(mt, &k, &n));
    assert_int_equal(n, 1);
    assert_int_equal(k[0], 0xff);

    iter *it = memtable_iter_new(mt);
    assert_int_equal(iter_seek(it, big_key, LSM_MAX_KEY_BYTES), LSM_OK);
    assert_true(iter_valid(it));
    iter_entry(it, &e);
    assert_int_equal(e.nkey, LSM_MAX_KEY_BYTES);
    assert_int_equal(e.seq, 2);
    iter_destroy(it);
    free(big_key);
    free(big_value);
    memtable_unref(mt);
}

/* --- randomized, against a sorted model ----------------------------------- */

typedef struct model_entry {
    uint8_t key[6];
    size_t nkey;
    uint8_t value[12];
    size_t nvalue;
    uint64_t seq;
    uint8_t type;
} model_entry;

static entry model_view(const model_entry *m)
{
    entry e = {m->key, m->nkey, m->value, m->nvalue, m->seq, m->type};
    return e;
}

static int model_cmp(const void *a, const void *b)
{
    entry x = model_view(a), y = model_view(b);
    return entry_cmp(&x, &y);
}

static void test_randomized_against_model(void **state)
{
    (void)state;
    enum { N = 20000 };
    model_entry *model = calloc(N, sizeof(*model));
    assert_non_null(model);
    memtable *mt;
    assert_int_equal(memtable_create(6, &mt), LSM_OK);
    uint64_t rng = 2024;
    size_t expect_bytes = 0;
    for (size_t i = 0; i < N; i++) {
        model_entry *m = &model[i];
        m->nkey = 1 + (size_t)(test_rng_next(&rng) % sizeof m->key);
        for (size_t j = 0; j < m->nkey; j++)
            m->key[j] = (uint8_t)("xy\0"[test_rng_next(&rng) % 3]);
        m->seq = i + 1;
        m->type = test_rng_next(&rng) % 5 == 0 ? ENTRY_TOMBSTONE : ENTRY_VALUE;
        if (m->type == ENTRY_VALUE) {
            m->nvalue = (size_t)(test_rng_next(&rng) % (sizeof m->value + 1));
            for (size_t j = 0; j < m->nvalue; j++)
                m->value[j] = (uint8_t)test_rng_next(&rng);
        }
        assert_int_equal(memtable_put(mt, m->key, m->nkey, m->seq, m->type,
                                      m->value, m->nvalue),
                         LSM_OK);
        expect_bytes += m->nkey + m->nvalue;
    }
    qsort(model, N, sizeof(*model), model_cmp);
    size_t n_keys = 0;
    for (size_t i = 0; i < N; i++)
        if (i == 0 || user_key_cmp(model[i - 1].key, model[i - 1].nkey,
                                   model[i].key, model[i].nkey) != 0)
            n_keys++;
    assert_int_equal(memtable_num_keys(mt), n_keys);
    assert_int_equal(memtable_size_bytes(mt), expect_bytes);
    assert_int_equal(memtable_max_seq(mt), N);
    assert_true(n_keys < N / 2); /* many versions per key */

    iter *it = memtable_iter_new(mt);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    for (size_t i = 0; i < N; i++) {
        assert_true(iter_valid(it));
        entry got, want = model_view(&model[i]);
        iter_entry(it, &got);
        assert_int_equal(entry_cmp(&got, &want), 0);
        assert_int_equal(got.type, want.type);
        assert_int_equal(got.nvalue, want.nvalue);
        if (got.nvalue)
            assert_memory_equal(got.value, want.value, got.nvalue);
        /* get returns the first (newest) version of each key. */
        if (i == 0 || user_key_cmp(model[i - 1].key, model[i - 1].nkey,
                                   want.key, want.nkey) != 0) {
            entry newest;
            assert_true(memtable_get(mt, want.key, want.nkey, &newest));
            assert_int_equal(newest.seq, want.seq);
            /* Seek lands on the same (newest) version. */
            iter *probe = memtable_iter_new(mt);
            assert_int_equal(iter_seek(probe, want.key, want.nkey), LSM_OK);
            entry at;
            iter_entry(probe, &at);
            assert_int_equal(at.seq, want.seq);
            iter_destroy(probe);
        }
        assert_int_equal(iter_next(it), LSM_OK);
    }
    assert_false(iter_valid(it));
    iter_destroy(it);
    memtable_unref(mt);
    free(model);
}

/* Puts a 16-byte key (its index, zero-padded) with nvalue bytes of value,
 * or a delete of it when nvalue is 0. */
static void put_indexed(memtable *mt, uint64_t i, size_t nvalue)
{
    char key[17];
    uint8_t value[100];
    snprintf(key, sizeof key, "%016llu", (unsigned long long)i);
    memset(value, 'v', sizeof value);
    assert_true(nvalue <= sizeof value);
    assert_int_equal(memtable_put(mt, (const uint8_t *)key, 16, i + 1,
                                  nvalue ? ENTRY_VALUE : ENTRY_TOMBSTONE, value,
                                  nvalue),
                     LSM_OK);
}

/* Deletes cost 16 key bytes each but a node and a version record of arena
 * memory: the memtable is full by memory long before its key bytes reach
 * the limit. A delete costs under 80 bytes and a 116-byte put under 180
 * (the compact node and version layout). */
static void test_full_by_memory(void **state)
{
    (void)state;
    const size_t limit = (size_t)4 << 20;
    memtable *mt;
    assert_int_equal(memtable_create(1, &mt), LSM_OK);
    uint64_t n = 0;
    while (!memtable_is_full(mt, limit))
        put_indexed(mt, n++, 0);
    assert_true(memtable_memory_bytes(mt) >= limit);
    assert_true(memtable_size_bytes(mt) < limit / 3);
    assert_true(memtable_memory_bytes(mt) < n * 80 + 4096);
    memtable_unref(mt);

    assert_int_equal(memtable_create(2, &mt), LSM_OK);
    n = 0;
    while (!memtable_is_full(mt, limit))
        put_indexed(mt, n++, 100);
    assert_true(memtable_memory_bytes(mt) >= limit);
    assert_true(memtable_size_bytes(mt) < limit);
    assert_true(memtable_memory_bytes(mt) < n * 180 + 4096);
    memtable_unref(mt);
}

/* Under MEMTABLE_MIN_MEMORY_LIMIT only key + value bytes count, as in
 * mini-lsm: a 100-byte limit takes entries until they hold 100 bytes. */
static void test_full_by_size_under_memory_floor(void **state)
{
    (void)state;
    memtable *mt;
    assert_int_equal(memtable_create(1, &mt), LSM_OK);
    assert_false(memtable_is_full(mt, 100));
    for (uint64_t i = 0; i < 5; i++) {
        assert_false(memtable_is_full(mt, 100));
        put_indexed(mt, i, 4); /* 20 bytes each */
    }
    assert_int_equal(memtable_size_bytes(mt), 100);
    assert_true(memtable_is_full(mt, 100));
    assert_false(memtable_is_full(mt, 101));
    assert_true(memtable_memory_bytes(mt) < MEMTABLE_MIN_MEMORY_LIMIT);
    memtable_unref(mt);
}

/* The memory of an empty memtable without a filter (the skiplist's head). */
static size_t empty_memory(void)
{
    memtable *mt;
    assert_int_equal(memtable_create(9, &mt), LSM_OK);
    size_t n = memtable_memory_bytes(mt);
    memtable_unref(mt);
    return n;
}

/* Whether the filter may hold key i of put_indexed. */
static bool may_contain_indexed(const memtable *mt, uint64_t i)
{
    char key[21];
    snprintf(key, sizeof key, "%016llu", (unsigned long long)i);
    return memtable_may_contain(mt,
                                memtable_key_hash((const uint8_t *)key, 16));
}

/* Fills a filtered memtable of limit 2 MiB with entries of nvalue-byte
 * values until it is full; returns how many keys it holds. Every key is
 * then in the filter (no false negatives) and keys never written pass it
 * at a rate between lo and hi percent. */
static uint64_t check_filter_when_full(size_t nvalue, double lo, double hi)
{
    const size_t limit = (size_t)2 << 20;
    memtable *mt;
    assert_int_equal(memtable_create_filtered(1, limit, &mt), LSM_OK);
    assert_true(memtable_has_filter(mt));
    /* 2 MiB / 16 bytes per bit = 2^17 bits: 16 KiB, counted at once. */
    assert_int_equal(memtable_memory_bytes(mt), empty_memory() + 16384);
    uint64_t n = 0;
    while (!memtable_is_full(mt, limit)) {
        put_indexed(mt, n, nvalue);
        /* Set before memtable_put returns. */
        assert_true(may_contain_indexed(mt, n));
        n++;
    }
    for (uint64_t i = 0; i < n; i++)
        assert_true(may_contain_indexed(mt, i));
    const uint64_t probes = 200000;
    uint64_t passed = 0;
    for (uint64_t i = 0; i < probes; i++)
        passed += may_contain_indexed(mt, 1000000000 + i) ? 1 : 0;
    double rate = 100.0 * (double)passed / (double)probes;
    if (rate < lo || rate > hi)
        fail_msg("%llu keys of %zu-byte values: %.2f%% false positives, "
                 "expected %.1f to %.1f%%",
                 (unsigned long long)n, nvalue, rate, lo, hi);
    memtable_unref(mt);
    return n;
}

/* A full memtable of 116-byte entries (the benchmark's: about 10.7 bits
 * per key, 1.5% predicted) and one of deletes of 16-byte keys (about 4.2
 * bits per key, 15% predicted). */
static void test_filter_when_full(void **state)
{
    (void)state;
    uint64_t n = check_filter_when_full(100, 0.8, 2.5);
    assert_true(n > 12000 && n < 12500);
    n = check_filter_when_full(0, 10, 20);
    assert_true(n > 30000 && n < 32000);
}

/* The filter's size comes from the freeze limit, never below the memory
 * floor's; a memtable made without one lets every key through, and a
 * filter says absent of keys never written into it. */
static void test_filter_size_and_absence(void **state)
{
    (void)state;
    memtable *mt;
    assert_int_equal(memtable_create_filtered(1, 100, &mt), LSM_OK);
    /* 1 MiB / 16 bytes per bit / 8 bits per byte */
    assert_int_equal(memtable_memory_bytes(mt), empty_memory() + 8192);
    uint64_t passed = 0;
    for (uint64_t i = 0; i < 1000; i++)
        passed += may_contain_indexed(mt, i) ? 1 : 0;
    assert_int_equal(passed, 0); /* empty: every bit clear */
    for (uint64_t i = 0; i < 5; i++)
        put_indexed(mt, i, 4);
    for (uint64_t i = 0; i < 5; i++)
        assert_true(may_contain_indexed(mt, i));
    for (uint64_t i = 5; i < 1005; i++)
        passed += may_contain_indexed(mt, i) ? 1 : 0;
    assert_true(passed < 5); /* 5 keys in 65536 bits */
    /* Overwrites and deletes of a key keep it in. */
    put_indexed(mt, 100, 0);
    assert_true(may_contain_indexed(mt, 100));
    memtable_unref(mt);

    assert_int_equal(memtable_create_filtered(2, (size_t)64 << 20, &mt),
                     LSM_OK);
    assert_int_equal(memtable_memory_bytes(mt), empty_memory() + 512 * 1024);
    memtable_unref(mt);

    assert_int_equal(memtable_create(3, &mt), LSM_OK);
    assert_false(memtable_has_filter(mt));
    for (uint64_t i = 0; i < 100; i++)
        assert_true(may_contain_indexed(mt, i));
    memtable_unref(mt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_memtable),
        cmocka_unit_test(test_put_get_versions_and_counters),
        cmocka_unit_test(test_bad_arguments_change_nothing),
        cmocka_unit_test(test_iter_seek),
        cmocka_unit_test(test_iter_outlives_creator_reference),
        cmocka_unit_test(test_extreme_sizes),
        cmocka_unit_test(test_randomized_against_model),
        cmocka_unit_test(test_full_by_memory),
        cmocka_unit_test(test_full_by_size_under_memory_floor),
        cmocka_unit_test(test_filter_when_full),
        cmocka_unit_test(test_filter_size_and_absence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
