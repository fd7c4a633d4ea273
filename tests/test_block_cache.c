/*
 * test_block_cache.c: the LRU block cache (block_cache_int.h): hits and
 * misses, eviction in LRU order by charge, handles that keep evicted or
 * replaced entries alive, erase_sst, capacity 0, entries larger than the
 * cache, table growth, and a multi-threaded run that must free every value
 * exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "table/block_cache_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A value that records its own freeing. */
typedef struct tval {
    int id;
} tval;

static atomic_int n_freed;
static int freed_ids[1024];

static void tval_free(void *v)
{
    tval *t = v;
    int i = atomic_fetch_add(&n_freed, 1);
    if (i < 1024)
        freed_ids[i] = t->id;
    free(t);
}

static tval *tval_new(int id)
{
    tval *t = malloc(sizeof *t);
    t->id = id;
    return t;
}

static int setup(void **state)
{
    (void)state;
    atomic_store(&n_freed, 0);
    memset(freed_ids, 0, sizeof freed_ids);
    return 0;
}

/* Inserts (sst, idx) with a fresh value id and charge, releasing the
 * handle at once. */
static void put(block_cache *bc, uint64_t sst, uint64_t idx, int id,
                size_t charge)
{
    cache_handle *h =
        block_cache_insert(bc, sst, idx, tval_new(id), charge, tval_free);
    assert_non_null(h);
    assert_int_equal(((tval *)cache_handle_value(h))->id, id);
    block_cache_release(bc, h);
}

/* The id cached under (sst, idx), or -1 on a miss. */
static int get(block_cache *bc, uint64_t sst, uint64_t idx)
{
    cache_handle *h = block_cache_lookup(bc, sst, idx);
    if (!h)
        return -1;
    int id = ((tval *)cache_handle_value(h))->id;
    block_cache_release(bc, h);
    return id;
}

static void test_hit_and_miss(void **state)
{
    (void)state;
    block_cache *bc = block_cache_create(1000);
    assert_non_null(bc);
    assert_int_equal(get(bc, 1, 0), -1);
    put(bc, 1, 0, 10, 100);
    put(bc, 1, 1, 11, 100);
    put(bc, 2, 0, 20, 100);
    assert_int_equal(get(bc, 1, 0), 10);
    assert_int_equal(get(bc, 1, 1), 11);
    assert_int_equal(get(bc, 2, 0), 20);
    assert_int_equal(get(bc, 2, 1), -1);
    assert_int_equal(get(bc, 3, 0), -1);
    assert_int_equal(block_cache_bytes_used(bc), 300);
    assert_int_equal(atomic_load(&n_freed), 0);
    block_cache_destroy(bc);
    assert_int_equal(atomic_load(&n_freed), 3);
}

static void test_lru_eviction_by_charge(void **state)
{
    (void)state;
    block_cache *bc = block_cache_create(300);
    put(bc, 1, 0, 0, 100);
    put(bc, 1, 1, 1, 100);
    put(bc, 1, 2, 2, 100);
    assert_int_equal(block_cache_bytes_used(bc), 300);
    /* Touch 0: now 1 is the least recently used. */
    assert_int_equal(get(bc, 1, 0), 0);
    put(bc, 1, 3, 3, 100);
    assert_int_equal(atomic_load(&n_freed), 1);
    assert_int_equal(freed_ids[0], 1);
    assert_int_equal(get(bc, 1, 1), -1);
    /* LRU order now: 2, 0, 3. A 250-byte entry needs 250 bytes free: it
     * evicts 2, then 0, then 3 (oldest first) until usage fits. */
    put(bc, 1, 4, 4, 250);
    assert_int_equal(atomic_load(&n_freed), 4);
    assert_int_equal(freed_ids[1], 2);
    assert_int_equal(freed_ids[2], 0);
    assert_int_equal(freed_ids[3], 3);
    assert_int_equal(get(bc, 1, 4), 4);
    assert_int_equal(block_cache_bytes_used(bc), 250);
    /* A 50-byte entry fits beside it without evicting anything. */
    put(bc, 1, 5, 5, 50);
    assert_int_equal(atomic_load(&n_freed), 4);
    assert_int_equal(block_cache_bytes_used(bc), 300);
    block_cache_destroy(bc);
    assert_int_equal(atomic_load(&n_freed), 6);
}

static void test_handle_keeps_evicted_entry_alive(void **state)
{
    (void)state;
    block_cache *bc = block_cache_create(200);
    cache_handle *held =
        block_cache_insert(bc, 7, 0, tval_new(70), 100, tval_free);
    assert_non_null(held);
    /* A second handle to the same entry. */
    cache_handle *again = block_cache_lookup(bc, 7, 0);
    assert_ptr_equal(again, held);
    put(bc, 7, 1, 71, 100);
    put(bc, 7, 2, 72, 100); /* evicts (7, 0), which is held twice */
    assert_int_equal(get(bc, 7, 0), -1);
    assert_int_equal(block_cache_bytes_used(bc), 200);
    assert_int_equal(atomic_load(&n_freed), 0);
    assert_int_equal(((tval *)cache_handle_value(held))->id, 70);
    block_cache_release(bc, again);
    assert_int_equal(atomic_load(&n_freed), 0);
    block_cache_release(bc, held);
    assert_int_equal(atomic_load(&n_freed), 1);
    assert_int_equal(freed_ids[0], 70);
    block_cache_release(bc, NULL); /* NULL-safe */
    block_cache_destroy(bc);
    assert_int_equal(atomic_load(&n_freed), 3);
}

static void test_insert_replaces(void **state)
{
    (void)state;
    block_cache *bc = block_cache_create(1000);
    cache_handle *old =
        block_cache_insert(bc, 1, 0, tval_new(1), 100, tval_free);
    put(bc, 1, 0, 2, 300);
    assert_int_equal(get(bc, 1, 0), 2);
    assert_int_equal(block_cache_bytes_used(bc), 300);
    assert_int_equal(atomic_load(&n_freed), 0); /* still held */
    assert_int_equal(((tval *)cache_handle_value(old))->id, 1);
    block_cache_release(bc, old);
    assert_int_equal(atomic_load(&n_freed), 1);
    assert_int_equal(freed_ids[0], 1);
    /* Replacing with a value too large to cache removes the old one. */
    put(bc, 1, 0, 3, 5000);
    assert_int_equal(get(bc, 1, 0), -1);
    assert_int_equal(atomic_load(&n_freed), 3);
    assert_int_equal(block_cache_bytes_used(bc), 0);
    block_cache_destroy(bc);
}

static void test_erase_sst(void **state)
{
    (void)state;
    block_cache *bc = block_cache_create(10000);
    for (int i = 0; i < 10; i++) {
        put(bc, 1, (uint64_t)i, 100 + i, 10);
        put(bc, 2, (uint64_t)i, 200 + i, 10);
    }
    cache_handle *held = block_cache_lookup(bc, 1, 3);
    assert_non_null(held);
    block_cache_erase_sst(bc, 1);
    assert_int_equal(block_cache_bytes_used(bc), 100);
    assert_int_equal(atomic_load(&n_freed), 9); /* (1, 3) is held */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(get(bc, 1, (uint64_t)i), -1);
        assert_int_equal(get(bc, 2, (uint64_t)i), 200 + i);
    }
    assert_int_equal(((tval *)cache_handle_value(held))->id, 103);
    block_cache_release(bc, held);
    assert_int_equal(atomic_load(&n_freed), 10);
    block_cache_erase_sst(bc, 42); /* nothing to erase */
    block_cache_erase_sst(NULL, 1);
    assert_int_equal(block_cache_bytes_used(bc), 100);
    block_cache_destroy(bc);
    assert_int_equal(atomic_load(&n_freed), 20);
}

static void test_capacity_zero_caches_nothing(void **state)
{
    (void)state;
    block_cache *bc = block_cache_create(0);
    assert_non_null(bc);
    cache_handle *h = block_cache_insert(bc, 1, 0, tval_new(5), 100, tval_free);
    assert_non_null(h);
    assert_int_equal(((tval *)cache_handle_value(h))->id, 5);
    assert_null(block_cache_lookup(bc, 1, 0));
    assert_int_equal(block_cache_bytes_used(bc), 0);
    assert_int_equal(atomic_load(&n_freed), 0);
    block_cache_release(bc, h);
    assert_int_equal(atomic_load(&n_freed), 1);
    /* Not even an entry of charge 0 is kept. */
    put(bc, 1, 1, 6, 0);
    assert_int_equal(get(bc, 1, 1), -1);
    assert_int_equal(atomic_load(&n_freed), 2);
    block_cache_destroy(bc);
    assert_int_equal(atomic_load(&n_freed), 2);
}

static void test_oversized_entry_not_cached(void **state)
{
    (void)state;
    block_cache *bc = block_cache_create(100);
    put(bc, 1, 0, 1, 60);
    cache_handle *h = block_cache_insert(bc, 1, 1, tval_new(2), 101, tval_free);
    assert_non_null(h);
    /* The small entry survived: a too-large block does not flush the
     * cache. */
    assert_int_equal(get(bc, 1, 0), 1);
    assert_int_equal(get(bc, 1, 1), -1);
    block_cache_release(bc, h);
    assert_int_equal(atomic_load(&n_freed), 1);
    block_cache_destroy(bc);
    assert_int_equal(atomic_load(&n_freed), 2);
}

static void test_many_entries(void **state)
{
    (void)state;
    /* Enough entries to grow the hash table several times. */
    block_cache *bc = block_cache_create(1 << 20);
    for (int i = 0; i < 5000; i++)
        put(bc, (uint64_t)(i % 7), (uint64_t)i, i, 1);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(get(bc, (uint64_t)(i % 7), (uint64_t)i), i);
    assert_int_equal(get(bc, 0, 5000), -1);
    assert_int_equal(block_cache_bytes_used(bc), 5000);
    block_cache_destroy(bc);
    assert_int_equal(atomic_load(&n_freed), 5000);
}

#define N_THREADS 4
#define N_OPS 20000

typedef struct worker {
    block_cache *bc;
    int seed;
    int inserted;
} worker;

static void *worker_run(void *arg)
{
    worker *w = arg;
    unsigned s = (unsigned)w->seed;
    for (int i = 0; i < N_OPS; i++) {
        s = s * 1103515245u + 12345u;
        uint64_t sst = (s >> 8) % 3, idx = (s >> 12) % 64;
        cache_handle *h = block_cache_lookup(w->bc, sst, idx);
        if (!h) {
            h = block_cache_insert(w->bc, sst, idx, tval_new(i), 16 + s % 64,
                                   tval_free);
            w->inserted++;
        }
        if (i % 1000 == 0)
            block_cache_erase_sst(w->bc, sst);
        block_cache_release(w->bc, h);
    }
    return NULL;
}

static void test_threads_free_each_value_once(void **state)
{
    (void)state;
    block_cache *bc = block_cache_create(2000);
    pthread_t th[N_THREADS];
    worker w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker){bc, i + 1, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    int inserted = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        inserted += w[i].inserted;
    }
    assert_true(block_cache_bytes_used(bc) <= 2000);
    block_cache_destroy(bc);
    assert_int_equal(atomic_load(&n_freed), inserted);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_hit_and_miss, setup),
        cmocka_unit_test_setup(test_lru_eviction_by_charge, setup),
        cmocka_unit_test_setup(test_handle_keeps_evicted_entry_alive, setup),
        cmocka_unit_test_setup(test_insert_replaces, setup),
        cmocka_unit_test_setup(test_erase_sst, setup),
        cmocka_unit_test_setup(test_capacity_zero_caches_nothing, setup),
        cmocka_unit_test_setup(test_oversized_entry_not_cached, setup),
        cmocka_unit_test_setup(test_many_entries, setup),
        cmocka_unit_test_setup(test_threads_free_each_value_once, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
