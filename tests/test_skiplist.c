/*
 * test_skiplist.c: the arena skiplist (skiplist_int.h).
 *
 * Checked against a sorted, deduplicated array of the same keys: order,
 * membership, seek on present/absent/edge keys, first/last, and that equal
 * inserts build equal structures (node heights). A concurrent test runs one
 * writer and two lock-free readers; it is meant to be run under TSan too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/arena_int.h"
#include "iter/iter_int.h"
#include "lsm.h"
#include "mem/skiplist_int.h"
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEST_KEY 24

typedef struct test_key {
    uint8_t bytes[MAX_TEST_KEY];
    size_t n;
} test_key;

/* Random keys over a tiny alphabet, 1..8 bytes, so that duplicates and
 * prefixes of one another are common. */
static test_key random_key(uint64_t *rng)
{
    test_key k;
    k.n = 1 + (size_t)(test_rng_next(rng) % 8);
    for (size_t i = 0; i < k.n; i++)
        k.bytes[i] = (uint8_t)("ab\0\xff"[test_rng_next(rng) % 4]);
    return k;
}

static int test_key_cmp(const void *a, const void *b)
{
    const test_key *x = a, *y = b;
    return user_key_cmp(x->bytes, x->n, y->bytes, y->n);
}

/* Sorts keys and removes duplicates; returns the new count. */
static size_t sort_unique(test_key *keys, size_t n)
{
    qsort(keys, n, sizeof(*keys), test_key_cmp);
    size_t out = 0;
    for (size_t i = 0; i < n; i++)
        if (out == 0 || test_key_cmp(&keys[out - 1], &keys[i]) != 0)
            keys[out++] = keys[i];
    return out;
}

static void assert_node_key(const skiplist_node *node, const test_key *k)
{
    assert_non_null(node);
    size_t n;
    const uint8_t *key = skiplist_node_key(node, &n);
    assert_int_equal(n, k->n);
    assert_memory_equal(key, k->bytes, n);
}

static void test_empty(void **state)
{
    (void)state;
    arena *a = arena_create();
    skiplist *sl;
    assert_int_equal(skiplist_create(a, &sl), LSM_OK);
    assert_null(skiplist_first(sl));
    assert_null(skiplist_last(sl));
    assert_null(skiplist_seek(sl, (const uint8_t *)"a", 1));
    assert_null(skiplist_find(sl, (const uint8_t *)"a", 1));
    assert_int_equal(skiplist_count(sl), 0);

    skiplist_node *node = (skiplist_node *)1;
    bool inserted = true;
    assert_int_equal(skiplist_find_or_insert(sl, (const uint8_t *)"", 0, NULL,
                                             &node, &inserted),
                     LSM_EINVAL);
    assert_null(node);
    assert_false(inserted);
    assert_int_equal(skiplist_count(sl), 0);
    arena_destroy(a);
}

static void test_random_inserts_match_sorted_model(void **state)
{
    (void)state;
    enum { N = 20000 };
    test_key *keys = calloc(N, sizeof(*keys));
    assert_non_null(keys);
    arena *a = arena_create();
    skiplist *sl;
    assert_int_equal(skiplist_create(a, &sl), LSM_OK);

    uint64_t rng = 12345;
    size_t n_new = 0;
    for (size_t i = 0; i < N; i++) {
        keys[i] = random_key(&rng);
        bool existed = skiplist_find(sl, keys[i].bytes, keys[i].n) != NULL;
        skiplist_node *node;
        bool inserted;
        void *payload = (void *)(uintptr_t)(i + 1);
        assert_int_equal(skiplist_find_or_insert(sl, keys[i].bytes, keys[i].n,
                                                 payload, &node, &inserted),
                         LSM_OK);
        assert_node_key(node, &keys[i]);
        assert_int_equal(inserted, !existed);
        if (inserted) {
            n_new++;
            assert_ptr_equal(skiplist_node_payload(node), payload);
        } else {
            /* An existing node keeps its payload. */
            assert_ptr_not_equal(skiplist_node_payload(node), payload);
        }
    }
    size_t n = sort_unique(keys, N);
    assert_int_equal(n, n_new);
    assert_int_equal(skiplist_count(sl), n);
    /* Duplicates were frequent, otherwise this test proves little. */
    assert_true(n < N);

    const skiplist_node *node = skiplist_first(sl);
    for (size_t i = 0; i < n; i++) {
        assert_node_key(node, &keys[i]);
        int h = skiplist_node_height(node);
        assert_true(h >= 1 && h <= SKIPLIST_MAX_HEIGHT);
        assert_ptr_equal(skiplist_find(sl, keys[i].bytes, keys[i].n), node);
        assert_ptr_equal(skiplist_seek(sl, keys[i].bytes, keys[i].n), node);
        node = skiplist_next(node);
    }
    assert_null(node);
    assert_node_key(skiplist_last(sl), &keys[n - 1]);
    assert_true(skiplist_check(sl));

    /* Seeks on random probes, mostly absent: the model's lower bound. */
    for (int i = 0; i < 5000; i++) {
        test_key probe = random_key(&rng);
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (test_key_cmp(&keys[mid], &probe) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        const skiplist_node *got = skiplist_seek(sl, probe.bytes, probe.n);
        if (lo == n)
            assert_null(got);
        else
            assert_node_key(got, &keys[lo]);
        bool present = lo < n && test_key_cmp(&keys[lo], &probe) == 0;
        assert_int_equal(skiplist_find(sl, probe.bytes, probe.n) != NULL,
                         present);
    }
    free(keys);
    arena_destroy(a);
}

static skiplist_node *insert_str(skiplist *sl, const char *s)
{
    skiplist_node *node;
    bool inserted;
    assert_int_equal(skiplist_find_or_insert(sl, (const uint8_t *)s, strlen(s),
                                             NULL, &node, &inserted),
                     LSM_OK);
    return node;
}

static void test_seek(void **state)
{
    (void)state;
    arena *a = arena_create();
    skiplist *sl;
    assert_int_equal(skiplist_create(a, &sl), LSM_OK);
    /* Inserted out of order on purpose. */
    skiplist_node *abd = insert_str(sl, "abd");
    skiplist_node *b = insert_str(sl, "b");
    skiplist_node *ab = insert_str(sl, "ab");
    skiplist_node *abc = insert_str(sl, "abc");
    skiplist_node *d = insert_str(sl, "d");

    const uint8_t *k = (const uint8_t *)"";
    assert_ptr_equal(skiplist_first(sl), ab);
    assert_ptr_equal(skiplist_last(sl), d);
    /* An empty key sorts before everything. */
    assert_ptr_equal(skiplist_seek(sl, k, 0), ab);
    /* Present keys. */
    assert_ptr_equal(skiplist_seek(sl, (const uint8_t *)"ab", 2), ab);
    assert_ptr_equal(skiplist_seek(sl, (const uint8_t *)"abc", 3), abc);
    assert_ptr_equal(skiplist_seek(sl, (const uint8_t *)"d", 1), d);
    /* Absent keys land on the next larger one; a prefix sorts first. */
    assert_ptr_equal(skiplist_seek(sl, (const uint8_t *)"a", 1), ab);
    assert_ptr_equal(skiplist_seek(sl, (const uint8_t *)"abca", 4), abd);
    assert_ptr_equal(skiplist_seek(sl, (const uint8_t *)"abz", 3), b);
    assert_ptr_equal(skiplist_seek(sl, (const uint8_t *)"b\0", 2), d);
    assert_null(skiplist_seek(sl, (const uint8_t *)"d\0", 2));
    assert_null(skiplist_seek(sl, (const uint8_t *)"e", 1));
    assert_null(skiplist_find(sl, (const uint8_t *)"a", 1));
    assert_null(skiplist_find(sl, (const uint8_t *)"abca", 4));
    /* Order by next pointers. */
    assert_ptr_equal(skiplist_next(ab), abc);
    assert_ptr_equal(skiplist_next(abc), abd);
    assert_ptr_equal(skiplist_next(abd), b);
    assert_ptr_equal(skiplist_next(b), d);
    assert_null(skiplist_next(d));

    /* Payloads can be replaced and read back. */
    int x = 5;
    skiplist_node_set_payload(b, &x);
    assert_ptr_equal(skiplist_node_payload(b), &x);
    assert_ptr_equal(insert_str(sl, "b"), b);
    assert_ptr_equal(skiplist_node_payload(b), &x);
    assert_int_equal(skiplist_count(sl), 5);
    arena_destroy(a);
}

/* Builds a list from keys (duplicates included) and records the heights in
 * key order into heights[]; returns the number of nodes. */
static size_t build_heights(const test_key *keys, size_t n, int *heights)
{
    arena *a = arena_create();
    skiplist *sl;
    assert_int_equal(skiplist_create(a, &sl), LSM_OK);
    for (size_t i = 0; i < n; i++) {
        skiplist_node *node;
        bool inserted;
        assert_int_equal(skiplist_find_or_insert(sl, keys[i].bytes, keys[i].n,
                                                 NULL, &node, &inserted),
                         LSM_OK);
    }
    size_t count = 0;
    for (const skiplist_node *node = skiplist_first(sl); node;
         node = skiplist_next(node))
        heights[count++] = skiplist_node_height(node);
    arena_destroy(a);
    return count;
}

/* Inserts of keys above every key in the list link after the last node of
 * each level without a search. Runs of ascending keys, broken by keys
 * landing in the middle, an equal key and a key just below the last, must
 * leave every level searchable: each key is found by find and seek (which
 * walk the upper levels) and level 0 is in order. */
static void test_ascending_runs_take_the_tail(void **state)
{
    (void)state;
    enum { N = 6000 };
    arena *a = arena_create();
    skiplist *sl;
    assert_int_equal(skiplist_create(a, &sl), LSM_OK);
    bool *present = calloc(3 * N, sizeof *present);
    assert_non_null(present);
    uint64_t rng = 99;
    char key[16];
    for (size_t i = 0; i < N; i++) {
        size_t v = 3 * i; /* ascending, with gaps below to land in */
        if (i % 7 == 3)
            v = test_rng_next(&rng) % (3 * i + 1); /* somewhere below */
        else if (i % 11 == 5 && i > 0)
            v = 3 * i - 1; /* just below the next ascending key */
        snprintf(key, sizeof key, "k%08zu", v);
        skiplist_node *node;
        bool inserted;
        assert_int_equal(skiplist_find_or_insert(sl, (const uint8_t *)key,
                                                 strlen(key), NULL, &node,
                                                 &inserted),
                         LSM_OK);
        assert_int_equal(inserted, !present[v]);
        present[v] = true;
        assert_non_null(skiplist_find(sl, (const uint8_t *)key, strlen(key)));
    }
    size_t n = 0;
    const skiplist_node *prev = NULL;
    for (size_t v = 0; v < 3 * N; v++) {
        snprintf(key, sizeof key, "k%08zu", v);
        const skiplist_node *got =
            skiplist_find(sl, (const uint8_t *)key, strlen(key));
        assert_int_equal(got != NULL, present[v]);
        if (!present[v])
            continue;
        n++;
        assert_ptr_equal(skiplist_seek(sl, (const uint8_t *)key, strlen(key)),
                         got);
        assert_ptr_equal(prev ? skiplist_next(prev) : skiplist_first(sl), got);
        prev = got;
    }
    assert_null(skiplist_next(prev));
    assert_ptr_equal(skiplist_last(sl), prev);
    assert_int_equal(skiplist_count(sl), n);
    assert_true(skiplist_check(sl)); /* the upper levels too */
    free(present);
    arena_destroy(a);
}

static void test_deterministic_heights(void **state)
{
    (void)state;
    enum { N = 10000 };
    test_key *keys = calloc(N, sizeof(*keys));
    int *h1 = calloc(N, sizeof(int));
    int *h2 = calloc(N, sizeof(int));
    assert_non_null(keys);
    assert_non_null(h1);
    assert_non_null(h2);
    uint64_t rng = 777;
    for (size_t i = 0; i < N; i++) {
        /* Longer keys: mostly distinct, some repeats. */
        keys[i] = random_key(&rng);
        keys[i].n = 4 + keys[i].n;
        for (size_t j = 0; j < keys[i].n; j++)
            keys[i].bytes[j] = (uint8_t)test_rng_next(&rng);
        if (i % 10 == 9)
            keys[i] = keys[i / 2];
    }
    size_t n1 = build_heights(keys, N, h1);
    size_t n2 = build_heights(keys, N, h2);
    assert_int_equal(n1, n2);
    assert_memory_equal(h1, h2, n1 * sizeof(int));

    /* Branching 1/4: about a quarter of the nodes reach height 2, a
     * sixteenth height 3; the bounds are loose, the point is "not flat". */
    size_t tall2 = 0, tall3 = 0;
    for (size_t i = 0; i < n1; i++) {
        tall2 += h1[i] >= 2;
        tall3 += h1[i] >= 3;
    }
    assert_true(tall2 > n1 / 8 && tall2 < n1 / 2);
    assert_true(tall3 > n1 / 40 && tall3 < n1 / 8);
    free(keys);
    free(h1);
    free(h2);
}

/* --- one writer, two readers ---------------------------------------------- */

enum { CONCURRENT_KEYS = 100000 };

typedef struct concurrent_ctx {
    skiplist *sl;
    atomic_bool done;
    size_t reader_passes[2];
} concurrent_ctx;

/* Distinct 8-byte big-endian keys in a scrambled order: multiplication by
 * an odd constant is a bijection on 64-bit integers. */
static void concurrent_key(size_t i, uint8_t out[8])
{
    uint64_t v = (uint64_t)i * UINT64_C(0x9E3779B97F4A7C15);
    for (int b = 0; b < 8; b++)
        out[b] = (uint8_t)(v >> (56 - 8 * b));
}

static void *concurrent_writer(void *arg)
{
    concurrent_ctx *ctx = arg;
    for (size_t i = 0; i < CONCURRENT_KEYS; i++) {
        uint8_t key[8];
        concurrent_key(i, key);
        skiplist_node *node;
        bool inserted;
        int rc = skiplist_find_or_insert(ctx->sl, key, sizeof key,
                                         (void *)(uintptr_t)(i + 1), &node,
                                         &inserted);
        if (rc != LSM_OK || !inserted)
            break;
    }
    atomic_store(&ctx->done, true);
    return NULL;
}

typedef struct reader_result {
    concurrent_ctx *ctx;
    int id;
    bool ok;
} reader_result;

/* Walks the whole list again and again: each pass must be strictly sorted,
 * see at least as many nodes as were counted before it started, and never
 * fewer than the previous pass. Runs one more pass after the writer ends. */
static void *concurrent_reader(void *arg)
{
    reader_result *res = arg;
    concurrent_ctx *ctx = res->ctx;
    size_t previous = 0, passes = 0;
    res->ok = true;
    for (;;) {
        bool last = atomic_load(&ctx->done);
        size_t counted = skiplist_count(ctx->sl);
        size_t seen = 0;
        const uint8_t *prev_key = NULL;
        size_t prev_n = 0;
        for (const skiplist_node *node = skiplist_first(ctx->sl); node;
             node = skiplist_next(node)) {
            size_t n;
            const uint8_t *key = skiplist_node_key(node, &n);
            if (skiplist_node_payload(node) == NULL)
                res->ok = false;
            if (prev_key && user_key_cmp(prev_key, prev_n, key, n) >= 0)
                res->ok = false;
            prev_key = key;
            prev_n = n;
            seen++;
        }
        if (seen < counted || seen < previous)
            res->ok = false;
        previous = seen;
        passes++;
        if (!res->ok || last)
            break;
    }
    if (previous != CONCURRENT_KEYS)
        res->ok = false;
    ctx->reader_passes[res->id] = passes;
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    arena *a = arena_create();
    concurrent_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    atomic_init(&ctx.done, false);
    assert_int_equal(skiplist_create(a, &ctx.sl), LSM_OK);

    pthread_t writer, readers[2];
    reader_result results[2];
    for (int i = 0; i < 2; i++) {
        results[i].ctx = &ctx;
        results[i].id = i;
        results[i].ok = false;
        assert_int_equal(
            pthread_create(&readers[i], NULL, concurrent_reader, &results[i]),
            0);
    }
    assert_int_equal(pthread_create(&writer, NULL, concurrent_writer, &ctx), 0);
    assert_int_equal(pthread_join(writer, NULL), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(readers[i], NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_true(results[i].ok);
        assert_true(ctx.reader_passes[i] >= 1);
    }
    assert_int_equal(skiplist_count(ctx.sl), CONCURRENT_KEYS);

    /* After the writer: every key is there with the payload it was given. */
    for (size_t i = 0; i < CONCURRENT_KEYS; i += 97) {
        uint8_t key[8];
        concurrent_key(i, key);
        const skiplist_node *node = skiplist_find(ctx.sl, key, sizeof key);
        assert_non_null(node);
        assert_ptr_equal(skiplist_node_payload(node),
                         (void *)(uintptr_t)(i + 1));
    }
    arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_random_inserts_match_sorted_model),
        cmocka_unit_test(test_seek),
        cmocka_unit_test(test_ascending_runs_take_the_tail),
        cmocka_unit_test(test_deterministic_heights),
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
