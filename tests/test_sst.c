/*
 * test_sst.c: SST files (sst_int.h) end to end through the real env:
 * round trips through sst_iter (seeks everywhere) and sst_get (newest
 * versions, tombstones, absent keys), metadata, counters, a block cache
 * shared by two SSTs, obsolete files deleted on the last unref only, builder
 * argument checks, a huge value, concurrent readers, and the corruption
 * sweep: every truncation and byte flips at every offset must make open,
 * iteration or a get fail with LSM_ECORRUPT, never crash and never return
 * wrong data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "table/block_int.h"
#include "table/sst_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "util/status_int.h"
#include "testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- Temporary directory -------------------------------------------------- */

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    test_tmp_template(tmpdir, sizeof tmpdir, "test_sst");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (!d)
        return -1;
    struct dirent *de;
    char path[512];
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, de->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(tmpdir);
}

static void path_of(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static uint64_t stat_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* --- Model ---------------------------------------------------------------- */

typedef struct model_entry {
    char key[24];
    size_t nkey;
    uint8_t *value;
    size_t nvalue;
    uint64_t seq;
    uint8_t type;
} model_entry;

typedef struct model {
    model_entry *e;
    size_t n;
    size_t n_keys; /* distinct user keys: "key%06d" of 0, 2, 4, ... */
    uint64_t max_seq;
} model;

static uint64_t rng_state;

/* The suite's stream (testutil.h's generator), reseeded per case. */
static uint64_t rng_next(void)
{
    return test_rng_next(&rng_state);
}

static size_t user_key(char *buf, size_t i)
{
    return (size_t)sprintf(buf, "key%06zu", i);
}

/* n_keys even-numbered keys, each with 1 to max_versions versions (newest
 * first), values of 0 to max_value bytes, about one version in six a
 * tombstone. */
static model model_make(size_t n_keys, size_t max_versions, size_t max_value,
                        uint64_t seed)
{
    rng_state = seed;
    model m = {calloc(n_keys * max_versions, sizeof(model_entry)), 0, n_keys,
               0};
    for (size_t k = 0; k < n_keys; k++) {
        size_t versions = 1 + rng_next() % max_versions;
        uint64_t seq = 1000 + rng_next() % 1000000 * 8;
        for (size_t v = 0; v < versions; v++) {
            model_entry *e = &m.e[m.n++];
            e->nkey = user_key(e->key, 2 * k);
            e->seq = seq;
            seq -= 1 + rng_next() % 3;
            e->type = rng_next() % 6 == 0 ? ENTRY_TOMBSTONE : ENTRY_VALUE;
            if (e->type == ENTRY_VALUE && max_value > 0 && rng_next() % 10)
                e->nvalue = rng_next() % (max_value + 1);
            e->value = malloc(e->nvalue + 1);
            for (size_t i = 0; i < e->nvalue; i++)
                e->value[i] = (uint8_t)rng_next();
            if (e->seq > m.max_seq)
                m.max_seq = e->seq;
        }
    }
    return m;
}

static void model_free(model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].value);
    free(m->e);
}

static entry model_view(const model_entry *m)
{
    entry e = {
        (const uint8_t *)m->key, m->nkey, m->value, m->nvalue, m->seq, m->type};
    return e;
}

/* Index of the first entry with user key >= key (m->n if none). */
static size_t model_lower_bound(const model *m, const char *key, size_t nkey)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (user_key_cmp((const uint8_t *)m->e[mid].key, m->e[mid].nkey,
                         (const uint8_t *)key, nkey) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool entry_equals(const entry *got, const model_entry *want)
{
    return got->nkey == want->nkey &&
           memcmp(got->key, want->key, want->nkey) == 0 &&
           got->seq == want->seq && got->type == want->type &&
           got->nvalue == want->nvalue &&
           (want->nvalue == 0 ||
            memcmp(got->value, want->value, want->nvalue) == 0);
}

static void assert_entry_is(const entry *got, const model_entry *want)
{
    if (!entry_equals(got, want))
        fail_msg("entry %.*s@%llu differs from %s@%llu", (int)got->nkey,
                 (const char *)got->key, (unsigned long long)got->seq,
                 want->key, (unsigned long long)want->seq);
}

/* --- Building and opening ------------------------------------------------- */

static void write_sst(const char *path, const model *m, size_t block_size,
                      unsigned bits, sst_summary *summary)
{
    sst_builder_options opt = {.block_size = block_size,
                               .bloom_bits_per_key = bits};
    sst_builder *b;
    assert_int_equal(sst_builder_open(env_posix(), path, &opt, &b), LSM_OK);
    for (size_t i = 0; i < m->n; i++) {
        entry e = model_view(&m->e[i]);
        assert_int_equal(sst_builder_add(b, &e), LSM_OK);
    }
    assert_int_equal(sst_builder_num_entries(b), m->n);
    assert_int_equal(sst_builder_finish(b, summary), LSM_OK);
}

/* Opens path with env_posix, map_file as sst_open takes it. */
static sst *open_sst_with(const char *path, uint64_t id, block_cache *cache,
                          counters *ctrs, bool map_file)
{
    sst *t;
    int rc = sst_open(env_posix(), path, id, cache, ctrs, map_file, &t);
    if (rc != LSM_OK)
        fail_msg("sst_open: %s", lsm_errmsg());
    return t;
}

/* The engine's default: blocks read with pread. */
static sst *open_sst(const char *path, uint64_t id, block_cache *cache,
                     counters *ctrs)
{
    return open_sst_with(path, id, cache, ctrs, false);
}

/* Iterates everything and compares with the model. */
static void assert_iter_all(sst *t, const model *m)
{
    iter *it = sst_iter_new(t);
    assert_non_null(it);
    assert_false(iter_valid(it));
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    for (size_t i = 0; i < m->n; i++) {
        assert_true(iter_valid(it));
        assert_int_equal(iter_num_active(it), 1);
        entry e;
        iter_entry(it, &e);
        assert_entry_is(&e, &m->e[i]);
        assert_int_equal(iter_next(it), LSM_OK);
    }
    assert_false(iter_valid(it));
    assert_int_equal(iter_num_active(it), 0);
    assert_int_equal(iter_next(it), LSM_OK); /* next past the end: no-op */
    iter_destroy(it);
}

/* Seeks to key and checks the position against the model. */
static void assert_seek(iter *it, const model *m, const char *key, size_t nkey)
{
    assert_int_equal(iter_seek(it, (const uint8_t *)key, nkey), LSM_OK);
    size_t want = model_lower_bound(m, key, nkey);
    if (want == m->n) {
        assert_false(iter_valid(it));
        assert_int_equal(iter_num_active(it), 0);
        return;
    }
    assert_true(iter_valid(it));
    entry e;
    iter_entry(it, &e);
    assert_entry_is(&e, &m->e[want]);
    /* And the entry after it. */
    assert_int_equal(iter_next(it), LSM_OK);
    if (want + 1 < m->n) {
        iter_entry(it, &e);
        assert_entry_is(&e, &m->e[want + 1]);
    } else {
        assert_false(iter_valid(it));
    }
}

/* Gets key and checks it against the model's newest version. */
static void assert_get(sst *t, const model *m, const char *key, size_t nkey)
{
    bool found;
    entry e;
    void *owned = (void *)1;
    assert_int_equal(
        sst_get(t, (const uint8_t *)key, nkey, UINT64_MAX, &found, &e, &owned),
        LSM_OK);
    size_t want = model_lower_bound(m, key, nkey);
    bool present = want < m->n && m->e[want].nkey == nkey &&
                   memcmp(m->e[want].key, key, nkey) == 0;
    assert_int_equal(found, present);
    if (!present) {
        assert_null(owned);
        return;
    }
    assert_entry_is(&e, &m->e[want]);
    /* One allocation: the value first, NUL-terminated, then the key. */
    assert_ptr_equal(owned, e.value);
    assert_int_equal(((const char *)e.value)[e.nvalue], '\0');
    free(owned);
}

/* --- Tests ---------------------------------------------------------------- */

static void test_round_trip_many_blocks(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "1.sst");
    model m = model_make(3000, 3, 60, 42);
    sst_summary sum;
    write_sst(path, &m, 256, 10, &sum);
    assert_int_equal(sum.file_size, stat_size(path));
    assert_int_equal(sum.num_entries, m.n);
    assert_int_equal(sum.max_seq, m.max_seq);
    assert_true(sum.num_blocks > 100);

    counters ctrs = {0};
    sst *t = open_sst(path, 1, NULL, &ctrs);
    assert_int_equal(sst_id(t), 1);
    assert_int_equal(sst_file_size(t), sum.file_size);
    assert_int_equal(sst_num_entries(t), m.n);
    assert_int_equal(sst_num_blocks(t), sum.num_blocks);
    assert_int_equal(sst_max_seq(t), m.max_seq);
    size_t n;
    const uint8_t *k = sst_first_key(t, &n);
    assert_int_equal(n, m.e[0].nkey);
    assert_memory_equal(k, m.e[0].key, n);
    k = sst_last_key(t, &n);
    assert_int_equal(n, m.e[m.n - 1].nkey);
    assert_memory_equal(k, m.e[m.n - 1].key, n);

    assert_iter_all(t, &m);

    iter *it = sst_iter_new(t);
    char key[32];
    for (size_t i = 0; i < 2 * m.n_keys + 1; i++) {
        /* Even i: present; odd i: between two keys (or after the last). */
        size_t nk = user_key(key, i);
        assert_seek(it, &m, key, nk);
        assert_get(t, &m, key, nk);
        /* A prefix of the key and the key plus a byte: between keys. */
        assert_seek(it, &m, key, nk - 1);
        key[nk] = '\0';
        assert_seek(it, &m, key, nk + 1);
        assert_get(t, &m, key, nk + 1);
    }
    assert_seek(it, &m, "a", 1);              /* before the first key */
    assert_seek(it, &m, "key", 3);            /* a prefix of the first */
    assert_seek(it, &m, "z", 1);              /* after the last key */
    assert_seek(it, &m, "key999999\xff", 10); /* after the last key */
    assert_get(t, &m, "a", 1);
    assert_get(t, &m, "z", 1);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    assert_true(iter_valid(it));
    iter_destroy(it);

    assert_true(sst_key_in_range(t, (const uint8_t *)"key000000", 9));
    assert_true(sst_key_in_range(t, (const uint8_t *)"key000001", 9));
    assert_false(sst_key_in_range(t, (const uint8_t *)"key", 3));
    assert_false(sst_key_in_range(t, (const uint8_t *)"key999999", 9));
    sst_unref(t);
    model_free(&m);
}

/* Gets key at max_seq (traced when tr) and checks the answer against the
 * model: the newest version of key with seq <= max_seq, or none. */
static void assert_get_at(sst *t, const model *m, const char *key, size_t nkey,
                          uint64_t max_seq, sst_get_trace *tr)
{
    bool found;
    entry e;
    void *owned = (void *)1;
    int rc = tr ? sst_get_traced(t, (const uint8_t *)key, nkey, max_seq, &found,
                                 &e, &owned, tr)
                : sst_get(t, (const uint8_t *)key, nkey, max_seq, &found, &e,
                          &owned);
    assert_int_equal(rc, LSM_OK);
    size_t want = model_lower_bound(m, key, nkey);
    while (want < m->n && m->e[want].nkey == nkey &&
           memcmp(m->e[want].key, key, nkey) == 0 && m->e[want].seq > max_seq)
        want++;
    bool present = want < m->n && m->e[want].nkey == nkey &&
                   memcmp(m->e[want].key, key, nkey) == 0;
    assert_int_equal(found, present);
    if (!present) {
        assert_null(owned);
        return;
    }
    assert_entry_is(&e, &m->e[want]);
    free(owned);
}

static void test_get_finds_newest_and_tombstones(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "2.sst");
    /* Keys with up to 40 versions and tiny blocks: a key's versions span
     * several blocks (FORMAT.md). */
    model m = model_make(50, 40, 30, 7);
    write_sst(path, &m, 64, 10, NULL);
    sst *t = open_sst(path, 2, NULL, NULL);
    assert_true(sst_num_blocks(t) > 2 * m.n_keys);
    size_t n_tombstones = 0;
    char key[32];
    for (size_t k = 0; k < m.n_keys; k++) {
        size_t nk = user_key(key, 2 * k);
        bool found;
        entry e;
        void *owned;
        assert_int_equal(sst_get(t, (const uint8_t *)key, nk, UINT64_MAX,
                                 &found, &e, &owned),
                         LSM_OK);
        assert_true(found);
        size_t want = model_lower_bound(&m, key, nk);
        assert_entry_is(&e, &m.e[want]);
        n_tombstones += e.type == ENTRY_TOMBSTONE;
        free(owned);
    }
    assert_true(n_tombstones > 0);
    assert_iter_all(t, &m);
    sst_unref(t);
    model_free(&m);
}

/* A get at a seq finds the newest version at or below it even when the
 * key's versions span many blocks: at every version's seq, just below it
 * (the next older version, or nothing below the oldest), through the
 * cache or not, traced or not. */
static void test_get_at_seq_across_blocks(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "3.sst");
    model m = model_make(30, 60, 20, 11);
    write_sst(path, &m, 48, 10, NULL);
    block_cache *bc = block_cache_create(1 << 20);
    sst *plain = open_sst(path, 3, NULL, NULL);
    sst *cached = open_sst(path, 3, bc, NULL);
    assert_true(sst_num_blocks(plain) > 3 * m.n_keys);
    size_t n_spanning_reads = 0;
    for (size_t i = 0; i < m.n; i++) {
        const model_entry *v = &m.e[i];
        for (int traced = 0; traced < 2; traced++) {
            sst *t = traced ? cached : plain;
            sst_get_trace tr;
            assert_get_at(t, &m, v->key, v->nkey, v->seq, traced ? &tr : NULL);
            if (traced && tr.block_index > 0)
                n_spanning_reads++;
            assert_get_at(t, &m, v->key, v->nkey, v->seq - 1, NULL);
            assert_get_at(t, &m, v->key, v->nkey, v->seq + 1, NULL);
        }
    }
    assert_true(n_spanning_reads > 0);
    /* Below every version of the file, and absent keys, at any seq. */
    char key[32];
    for (size_t k = 0; k < 2 * m.n_keys + 1; k++) {
        size_t nk = user_key(key, k);
        assert_get_at(plain, &m, key, nk, 0, NULL);
        assert_get_at(plain, &m, key, nk, 999, NULL);
        assert_get_at(cached, &m, key, nk, UINT64_MAX, NULL);
    }
    sst_unref(plain);
    sst_unref(cached);
    block_cache_destroy(bc);
    model_free(&m);
}

/* Where a key's versions continue into the next block, their order across
 * the boundary is checked when the blocks are read: an SST whose second
 * block restarts a key's versions at a newer seq than the first block ended
 * with is reported as corrupt by a get and by a scan. The builder refuses
 * such an order, so the file is made of two SSTs' blocks. */
static void test_versions_out_of_order_across_blocks(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "4.sst");
    /* "k"@9 .. "k"@5 in one-entry blocks; then the third and fourth
     * blocks swap places on disk. */
    model m = {calloc(5, sizeof(model_entry)), 5, 1, 9};
    for (size_t i = 0; i < 5; i++) {
        strcpy(m.e[i].key, "k");
        m.e[i].nkey = 1;
        m.e[i].seq = 9 - i;
        m.e[i].type = ENTRY_VALUE;
        m.e[i].nvalue = 3;
        m.e[i].value = malloc(3);
        memcpy(m.e[i].value, "val", 3);
    }
    sst_summary sum;
    write_sst(path, &m, 1, 10, &sum);
    assert_int_equal(sum.num_blocks, 5);
    sst *t = open_sst(path, 4, NULL, NULL);
    for (size_t i = 0; i < 5; i++)
        assert_get_at(t, &m, "k", 1, m.e[i].seq, NULL);
    assert_get_at(t, &m, "k", 1, 4, NULL);
    assert_iter_all(t, &m);
    sst_unref(t);

    /* Swap blocks 2 and 3 (same sizes: same key and value lengths) and fix
     * nothing else: each block is intact, the index still matches. */
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    uint8_t *whole = malloc(sum.file_size);
    assert_int_equal(fread(whole, 1, sum.file_size, fp), sum.file_size);
    /* Blocks are contiguous from offset 0 and 25 bytes each (FORMAT.md):
     * a 9-byte entry (shared 0, unshared 1, value_len 3, seq, type, "k",
     * "val"), one restart, n_restarts and the checksum. */
    size_t one = 9 + 4 + 4 + 8;
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(whole[i * one + 3], 9 - i); /* its seq */
        assert_memory_equal(whole + i * one, whole, 3);
    }
    uint8_t *tmp = malloc(one);
    memcpy(tmp, whole + 2 * one, one);
    memcpy(whole + 2 * one, whole + 3 * one, one);
    memcpy(whole + 3 * one, tmp, one);
    rewind(fp);
    assert_int_equal(fwrite(whole, 1, sum.file_size, fp), sum.file_size);
    fclose(fp);
    free(tmp);
    free(whole);

    t = open_sst(path, 4, NULL, NULL);
    bool found;
    entry e;
    void *owned;
    assert_int_equal(sst_get(t, (const uint8_t *)"k", 1, 5, &found, &e, &owned),
                     LSM_ECORRUPT);
    assert_false(found);
    assert_non_null(strstr(lsm_errmsg(), "previous block"));
    iter *it = sst_iter_new(t);
    int rc = iter_seek(it, NULL, 0);
    size_t n = 0;
    while (rc == LSM_OK && iter_valid(it)) {
        n++;
        rc = iter_next(it);
    }
    assert_int_equal(rc, LSM_ECORRUPT);
    assert_int_equal(n, 3); /* 9, 8, 6, then 7 after 6 */
    iter_destroy(it);
    sst_unref(t);
    model_free(&m);
}

static void test_bloom_and_probe_counters(void **state)
{
    (void)state;
    char path[256], path0[256];
    path_of(path, sizeof path, "3.sst");
    path_of(path0, sizeof path0, "4.sst");
    model m = model_make(2000, 1, 20, 3);
    write_sst(path, &m, 512, 10, NULL);
    write_sst(path0, &m, 512, 0, NULL);
    counters c = {0};
    sst *t = open_sst(path, 3, NULL, &c);
    char key[32];
    bool found;
    entry e;
    void *owned;
    /* Absent keys inside the range: the filter turns most away. */
    for (size_t i = 0; i < 1000; i++) {
        size_t nk = user_key(key, 2 * i + 1);
        assert_int_equal(sst_get(t, (const uint8_t *)key, nk, UINT64_MAX,
                                 &found, &e, &owned),
                         LSM_OK);
        assert_false(found);
    }
    assert_int_equal(c.bloom_checks, 1000);
    assert_true(c.bloom_negatives >= 950);
    assert_int_equal(c.sst_probes, 1000 - c.bloom_negatives);
    /* No cache: each probe reads at most one block, none when the key falls
     * between two blocks' ranges. */
    assert_true(c.block_reads <= c.sst_probes);
    assert_true(c.block_reads > 0);
    /* Present keys: checked, never negative, probed. */
    for (size_t i = 0; i < 100; i++) {
        size_t nk = user_key(key, 2 * i);
        assert_int_equal(sst_get(t, (const uint8_t *)key, nk, UINT64_MAX,
                                 &found, &e, &owned),
                         LSM_OK);
        assert_true(found);
        free(owned);
    }
    assert_int_equal(c.bloom_checks, 1100);
    assert_int_equal(c.sst_probes, 1100 - c.bloom_negatives);
    /* Out of range: neither the filter nor a block is consulted. */
    counters before = c;
    assert_int_equal(
        sst_get(t, (const uint8_t *)"zzz", 3, UINT64_MAX, &found, &e, &owned),
        LSM_OK);
    assert_false(found);
    assert_int_equal(c.bloom_checks, before.bloom_checks);
    assert_int_equal(c.sst_probes, before.sst_probes);
    assert_int_equal(c.block_reads, before.block_reads);
    sst_unref(t);

    /* Without a filter: no bloom checks, every in-range get probes. */
    counters c0 = {0};
    t = open_sst(path0, 4, NULL, &c0);
    for (size_t i = 0; i < 100; i++) {
        size_t nk = user_key(key, 2 * i + 1);
        assert_int_equal(sst_get(t, (const uint8_t *)key, nk, UINT64_MAX,
                                 &found, &e, &owned),
                         LSM_OK);
        assert_false(found);
    }
    assert_int_equal(c0.bloom_checks, 0);
    assert_int_equal(c0.bloom_negatives, 0);
    assert_int_equal(c0.sst_probes, 100);
    assert_true(sst_file_size(t) < stat_size(path)); /* no filter bits */
    sst_unref(t);
    model_free(&m);
}

/* Iterates t to the end, returning how many entries it saw. */
static size_t count_all(sst *t)
{
    iter *it = sst_iter_new(t);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    size_t n = 0;
    while (iter_valid(it)) {
        n++;
        assert_int_equal(iter_next(it), LSM_OK);
    }
    iter_destroy(it);
    return n;
}

static void test_cache_shared_by_two_ssts(void **state)
{
    (void)state;
    char p1[256], p2[256];
    path_of(p1, sizeof p1, "10.sst");
    path_of(p2, sizeof p2, "11.sst");
    model m1 = model_make(500, 2, 40, 1), m2 = model_make(700, 2, 40, 2);
    write_sst(p1, &m1, 512, 10, NULL);
    write_sst(p2, &m2, 512, 10, NULL);
    block_cache *bc = block_cache_create(4 << 20);
    counters c = {0};
    sst *t1 = open_sst_with(p1, 10, bc, &c, true);
    sst *t2 = open_sst_with(p2, 11, bc, &c, true);
    uint64_t b1 = sst_num_blocks(t1), b2 = sst_num_blocks(t2);

    assert_int_equal(count_all(t1), m1.n);
    assert_int_equal(c.block_reads, b1);
    assert_int_equal(c.block_cache_hits, 0);
    assert_int_equal(count_all(t1), m1.n);
    assert_int_equal(c.block_reads, b1);
    assert_int_equal(c.block_cache_hits, b1);
    /* Asked to, the POSIX env maps the file: a cached block costs its
     * decoded header only, never a copy of its bytes. */
    size_t used1 = block_cache_bytes_used(bc);
    assert_true(used1 >= b1);
    assert_true(used1 < sst_file_size(t1) / 2);

    /* The second SST's blocks are cached under its own id. */
    assert_iter_all(t2, &m2);
    assert_int_equal(c.block_reads, b1 + b2);
    assert_true(block_cache_bytes_used(bc) > used1);
    assert_iter_all(t1, &m1);
    assert_iter_all(t2, &m2);
    assert_int_equal(c.block_reads, b1 + b2);
    assert_int_equal(c.block_cache_hits, 2 * b1 + b2);

    /* A get on a cached block is a hit, not a read. */
    bool found;
    entry e;
    void *owned;
    assert_int_equal(sst_get(t1, (const uint8_t *)m1.e[0].key, m1.e[0].nkey,
                             UINT64_MAX, &found, &e, &owned),
                     LSM_OK);
    assert_true(found);
    free(owned);
    assert_int_equal(c.block_reads, b1 + b2);
    assert_int_equal(c.block_cache_hits, 2 * b1 + b2 + 1);

    /* A non-obsolete SST closing leaves the file and its cached blocks. */
    sst_unref(t1);
    assert_true(file_exists(p1));
    /* Its cached blocks still point into its mapping, which they keep: a
     * new reader of the same file is served from them. */
    uint64_t hits = c.block_cache_hits;
    t1 = open_sst_with(p1, 10, bc, &c, true);
    assert_iter_all(t1, &m1);
    assert_int_equal(c.block_cache_hits, hits + b1);
    assert_int_equal(c.block_reads, b1 + b2);
    sst_unref(t1);
    sst_unref(t2);
    block_cache_destroy(bc);
    model_free(&m1);
    model_free(&m2);
}

/* Reads sst p (model m) twice through a cache and checks that the blocks
 * were read once, then served from the cache, which was charged for copies
 * of their bytes. */
static void check_cache_holds_copies(env *e, bool map_file, const char *p,
                                     const model *m)
{
    block_cache *bc = block_cache_create(4 << 20);
    counters c = {0};
    sst *t;
    assert_int_equal(sst_open(e, p, 13, bc, &c, map_file, &t), LSM_OK);
    assert_iter_all(t, m);
    assert_iter_all(t, m);
    assert_int_equal(c.block_reads, sst_num_blocks(t));
    assert_int_equal(c.block_cache_hits, sst_num_blocks(t));
    assert_true(block_cache_bytes_used(bc) >= sst_file_size(t) / 2);
    sst_unref(t);
    block_cache_destroy(bc);
}

/* By default blocks are read with read_at into the cached allocation, and
 * the cache is charged for the copies; so too when a mapping is asked of
 * an env that cannot map files. */
static void test_cache_holds_copies_by_default(void **state)
{
    (void)state;
    char p[256];
    path_of(p, sizeof p, "13.sst");
    model m = model_make(500, 2, 40, 3);
    write_sst(p, &m, 512, 10, NULL);
    check_cache_holds_copies(env_posix(), false, p, &m);
    env no_map = *env_posix();
    no_map.map = NULL;
    no_map.unmap = NULL;
    check_cache_holds_copies(&no_map, true, p, &m);
    model_free(&m);
}

/* A POSIX env whose reads are counted (calls and bytes): its files wrap
 * the POSIX ones, so file_read_at dispatches to it. One test thread. */
static uint64_t counted_reads, counted_read_bytes;

typedef struct counted_file {
    env_file base; /* first; base.env is the counting env */
    env_file *inner;
} counted_file;

static int counting_open_read(env *e, const char *path, env_file **out)
{
    counted_file *cf = calloc(1, sizeof *cf);
    assert_non_null(cf);
    int rc = env_posix()->open_read(env_posix(), path, &cf->inner);
    if (rc != LSM_OK) {
        free(cf);
        return rc;
    }
    cf->base.env = e;
    cf->base.path = cf->inner->path;
    *out = &cf->base;
    return LSM_OK;
}

static int counting_read_at(env_file *f, uint64_t offset, void *buf, size_t n)
{
    counted_reads++;
    counted_read_bytes += n;
    return file_read_at(((counted_file *)f)->inner, offset, buf, n);
}

static int counting_size(env_file *f, uint64_t *out)
{
    return file_size(((counted_file *)f)->inner, out);
}

static int counting_close(env_file *f)
{
    int rc = file_close(((counted_file *)f)->inner);
    free(f);
    return rc;
}

/* The counting env: the POSIX one but for reading files, and no map. */
static env counting_env(void)
{
    env e = *env_posix();
    e.open_read = counting_open_read;
    e.read_at = counting_read_at;
    e.size = counting_size;
    e.close = counting_close;
    e.map = NULL;
    e.unmap = NULL;
    return e;
}

/* An iterator stepping through the file reads ahead after two steps from
 * block to block: one read of up to 64 KiB instead of one per block, with
 * every entry as before, every block counted as read and cached as before
 * (a second pass is all cache hits). A seek followed by a step reads only
 * the blocks it lands in. */
static void test_sequential_iteration_reads_ahead(void **state)
{
    (void)state;
    char p[256];
    path_of(p, sizeof p, "14.sst");
    model m = model_make(3000, 1, 100, 41);
    sst_summary sum;
    write_sst(p, &m, 512, 10, &sum);
    assert_true(sum.num_blocks > 300); /* ~512-byte blocks, 64 KiB spans */
    env counting = counting_env();
    block_cache *bc = block_cache_create(8 << 20);
    counters c = {0};
    sst *t;
    assert_int_equal(sst_open(&counting, p, 14, bc, &c, false, &t), LSM_OK);

    counted_reads = counted_read_bytes = 0;
    assert_iter_all(t, &m);
    uint64_t spans = sum.file_size / (64 << 10) + 1;
    /* Two blocks alone, then spans of 64 KiB (each ends at a block). */
    assert_true(counted_reads >= 3);
    assert_true(counted_reads <= 2 + 2 * spans);
    assert_true(counted_read_bytes < sum.file_size);
    assert_int_equal(c.block_reads, sum.num_blocks);
    assert_int_equal(c.block_cache_hits, 0);

    counted_reads = 0;
    assert_iter_all(t, &m); /* all cached now */
    assert_int_equal(counted_reads, 0);
    assert_int_equal(c.block_cache_hits, sum.num_blocks);
    sst_unref(t);
    block_cache_destroy(bc);

    /* Without a cache: a seek into the middle and one step into the next
     * block read two blocks, no more. */
    assert_int_equal(sst_open(&counting, p, 14, NULL, &c, false, &t), LSM_OK);
    iter *it = sst_iter_new(t);
    const model_entry *mid = &m.e[m.n / 2];
    counted_reads = counted_read_bytes = 0;
    assert_seek(it, &m, mid->key, mid->nkey);
    uint64_t one_block = counted_read_bytes;
    assert_int_equal(counted_reads, 1);
    assert_true(one_block < 2048); /* one ~512-byte block, no span */
    for (size_t i = m.n / 2; counted_reads == 1; i++) {
        assert_true(iter_valid(it));
        assert_int_equal(iter_next(it), LSM_OK);
    }
    assert_int_equal(counted_reads, 2);
    assert_true(counted_read_bytes < 3 * one_block);
    iter_destroy(it);
    sst_unref(t);
    model_free(&m);
}

/* How many entries of m an iterator from the start returns before its
 * first error (*rc), stepping sequentially (so reading ahead). */
static size_t entries_before_error(sst *t, const model *m, int *rc)
{
    iter *it = sst_iter_new(t);
    assert_non_null(it);
    size_t n = 0;
    *rc = iter_seek(it, NULL, 0);
    while (*rc == LSM_OK && iter_valid(it)) {
        entry e;
        iter_entry(it, &e);
        assert_entry_is(&e, &m->e[n]);
        n++;
        *rc = iter_next(it);
    }
    iter_destroy(it);
    return n;
}

/* The same count found without readahead: entry i is readable when a
 * fresh iterator seeking to it (one block read) lands on it. */
static size_t entries_readable_alone(sst *t, const model *m, int *rc)
{
    for (size_t i = 0; i < m->n; i++) {
        iter *it = sst_iter_new(t);
        assert_non_null(it);
        *rc = iter_seek(it, (const uint8_t *)m->e[i].key, m->e[i].nkey);
        bool ok = *rc == LSM_OK && iter_valid(it);
        iter_destroy(it);
        if (!ok)
            return i;
    }
    *rc = LSM_OK;
    return m->n;
}

/* A file cut short while open, in the middle of a readahead span: the
 * span cannot be read, but the blocks before the cut are served one by
 * one, so a scan returns exactly what single reads can, then the error. */
static void test_readahead_stops_at_the_damaged_block(void **state)
{
    (void)state;
    char p[256];
    path_of(p, sizeof p, "16.sst");
    model m = model_make(8000, 1, 100, 47);
    sst_summary sum;
    write_sst(p, &m, 512, 10, &sum);
    assert_true(sum.file_size > 3 * (64 << 10)); /* the cut is past a span */
    sst *t = open_sst(p, 16, NULL, NULL);
    assert_int_equal(truncate(p, (off_t)(sum.file_size / 2)), 0);
    int rc_scan, rc_alone;
    size_t scanned = entries_before_error(t, &m, &rc_scan);
    size_t alone = entries_readable_alone(t, &m, &rc_alone);
    assert_true(alone > 0 && alone < m.n);
    assert_int_equal(scanned, alone);
    assert_int_not_equal(rc_scan, LSM_OK);
    assert_int_equal(rc_scan, rc_alone);
    sst_unref(t);
    model_free(&m);
}

/* What a compaction reads: an uncached iterator reads every block (ahead,
 * after two steps) and caches none, but uses a block the cache has. */
static void test_uncached_iteration_leaves_cache_alone(void **state)
{
    (void)state;
    char p[256];
    path_of(p, sizeof p, "15.sst");
    model m = model_make(2000, 2, 60, 43);
    sst_summary sum;
    write_sst(p, &m, 512, 10, &sum);
    block_cache *bc = block_cache_create(8 << 20);
    counters c = {0};
    sst *t = open_sst(p, 15, bc, &c);

    iter *it = sst_iter_new_uncached(t);
    assert_non_null(it);
    size_t n = 0;
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    for (; iter_valid(it); n++) {
        entry e;
        iter_entry(it, &e);
        assert_entry_is(&e, &m.e[n]);
        assert_int_equal(iter_next(it), LSM_OK);
    }
    iter_destroy(it);
    assert_int_equal(n, m.n);
    assert_int_equal(c.block_reads, sum.num_blocks);
    assert_int_equal(block_cache_bytes_used(bc), 0);

    /* A get caches its block; the uncached iterator is then served it. */
    assert_get_at(t, &m, m.e[0].key, m.e[0].nkey, UINT64_MAX, NULL);
    assert_int_equal(c.block_reads, sum.num_blocks + 1);
    it = sst_iter_new_uncached(t);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    assert_int_equal(c.block_cache_hits, 1);
    iter_destroy(it);
    sst_unref(t);
    block_cache_destroy(bc);
    model_free(&m);
}

static void test_tiny_cache_evicts_while_iterating(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "12.sst");
    model m = model_make(800, 2, 50, 9);
    write_sst(path, &m, 256, 10, NULL);
    /* Room for about two blocks: the iterator's held block gets evicted
     * under it while the gets below churn the cache. */
    block_cache *bc = block_cache_create(700);
    sst *t = open_sst(path, 12, bc, NULL);
    iter *it = sst_iter_new(t);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    char key[32];
    for (size_t i = 0; i < m.n; i++) {
        assert_true(iter_valid(it));
        entry e;
        iter_entry(it, &e);
        assert_entry_is(&e, &m.e[i]);
        size_t nk = user_key(key, 2 * ((i * 7919) % m.n_keys));
        assert_get(t, &m, key, nk);
        assert_int_equal(iter_next(it), LSM_OK);
    }
    assert_false(iter_valid(it));
    iter_destroy(it);
    assert_true(block_cache_bytes_used(bc) <= 700);
    sst_unref(t);
    block_cache_destroy(bc);
    model_free(&m);
}

static void test_obsolete_deleted_on_last_unref(void **state)
{
    (void)state;
    char path[256], other[256];
    path_of(path, sizeof path, "20.sst");
    path_of(other, sizeof other, "21.sst");
    model m = model_make(300, 1, 30, 5);
    write_sst(path, &m, 256, 10, NULL);
    write_sst(other, &m, 256, 10, NULL);
    block_cache *bc = block_cache_create(1 << 20);
    sst *t = open_sst(path, 20, bc, NULL);
    sst *u = open_sst(other, 21, bc, NULL);
    assert_int_equal(count_all(u), m.n);
    size_t used_by_other = block_cache_bytes_used(bc);

    iter *it = sst_iter_new(t);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    sst_ref(t); /* an extra holder */
    sst_mark_obsolete(t);
    sst_unref(t);
    assert_true(file_exists(path));
    sst_unref(t); /* the opener's reference: the iterator still holds one */
    assert_true(file_exists(path));
    /* The iterator still reads every block (from disk or cache). */
    size_t n = 0;
    while (iter_valid(it)) {
        entry e;
        iter_entry(it, &e);
        assert_entry_is(&e, &m.e[n]);
        n++;
        assert_int_equal(iter_next(it), LSM_OK);
    }
    assert_int_equal(n, m.n);
    assert_true(block_cache_bytes_used(bc) > used_by_other);
    iter_destroy(it); /* last reference */
    assert_false(file_exists(path));
    assert_int_equal(block_cache_bytes_used(bc), used_by_other);
    assert_true(file_exists(other));
    sst_unref(u);
    assert_true(file_exists(other));
    sst_unref(NULL); /* NULL-safe */
    block_cache_destroy(bc);
    model_free(&m);
}

static void test_builder_rejects_bad_entries(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "30.sst");
    sst_builder_options opt = {.block_size = 4096, .bloom_bits_per_key = 10};
    sst_builder *b;
    assert_int_equal(sst_builder_open(env_posix(), path, &opt, &b), LSM_OK);
    entry e = {(const uint8_t *)"m", 1, (const uint8_t *)"v", 1, 10,
               ENTRY_VALUE};
    assert_int_equal(sst_builder_add(b, &e), LSM_OK);
    entry bad = e;
    bad.key = (const uint8_t *)"a"; /* smaller key */
    assert_int_equal(sst_builder_add(b, &bad), LSM_EINVAL);
    bad = e; /* same key, same seq */
    assert_int_equal(sst_builder_add(b, &bad), LSM_EINVAL);
    bad.seq = 11; /* same key, newer version after an older one */
    assert_int_equal(sst_builder_add(b, &bad), LSM_EINVAL);
    bad = e;
    bad.nkey = 0;
    bad.key = (const uint8_t *)"";
    assert_int_equal(sst_builder_add(b, &bad), LSM_EINVAL);
    bad = e;
    bad.key = (const uint8_t *)"z";
    bad.type = 7;
    assert_int_equal(sst_builder_add(b, &bad), LSM_EINVAL);
    uint8_t *big = calloc(1, LSM_MAX_KEY_BYTES + 1);
    big[0] = 'z';
    bad = e;
    bad.key = big;
    bad.nkey = LSM_MAX_KEY_BYTES + 1;
    assert_int_equal(sst_builder_add(b, &bad), LSM_EINVAL);
    bad.nkey = 1;
    bad.value = big;
    bad.nvalue = LSM_MAX_VALUE_BYTES + 1; /* not read: rejected first */
    assert_int_equal(sst_builder_add(b, &bad), LSM_EINVAL);
    free(big);
    /* The builder is still usable: an older version, then a larger key. */
    entry ok = e;
    ok.seq = 9;
    ok.type = ENTRY_TOMBSTONE;
    assert_int_equal(sst_builder_add(b, &ok), LSM_OK);
    ok.key = (const uint8_t *)"n";
    ok.seq = 100;
    ok.type = ENTRY_VALUE;
    assert_int_equal(sst_builder_add(b, &ok), LSM_OK);
    sst_summary sum;
    assert_int_equal(sst_builder_finish(b, &sum), LSM_OK);
    assert_int_equal(sum.num_entries, 3);
    assert_int_equal(sum.max_seq, 100);
    assert_int_equal(sum.num_blocks, 1);

    sst *t = open_sst(path, 30, NULL, NULL);
    bool found;
    entry got;
    void *owned;
    assert_int_equal(
        sst_get(t, (const uint8_t *)"m", 1, UINT64_MAX, &found, &got, &owned),
        LSM_OK);
    assert_true(found);
    assert_int_equal(got.seq, 10);
    assert_int_equal(got.nvalue, 1);
    free(owned);
    sst_unref(t);

    /* No entries: EINVAL and no file left behind. */
    char empty[256];
    path_of(empty, sizeof empty, "31.sst");
    assert_int_equal(sst_builder_open(env_posix(), empty, &opt, &b), LSM_OK);
    assert_true(file_exists(empty));
    assert_int_equal(sst_builder_finish(b, NULL), LSM_EINVAL);
    assert_false(file_exists(empty));
    /* Abandon removes the file. */
    assert_int_equal(sst_builder_open(env_posix(), empty, &opt, &b), LSM_OK);
    assert_int_equal(sst_builder_add(b, &e), LSM_OK);
    sst_builder_abandon(b);
    assert_false(file_exists(empty));
    sst_builder_abandon(NULL);
    /* A zero block size is refused. */
    sst_builder_options zero = {.block_size = 0, .bloom_bits_per_key = 10};
    assert_int_equal(sst_builder_open(env_posix(), empty, &zero, &b),
                     LSM_EINVAL);
    assert_null(b);
    assert_false(file_exists(empty));
}

static void test_block_size_one_and_estimates(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "40.sst");
    model m = model_make(200, 2, 10, 8);
    /* Block size 1: every entry gets a block of its own (a key's versions
     * span blocks). */
    sst_builder_options opt = {.block_size = 1, .bloom_bits_per_key = 10};
    sst_builder *b;
    assert_int_equal(sst_builder_open(env_posix(), path, &opt, &b), LSM_OK);
    uint64_t prev = 0;
    for (size_t i = 0; i < m.n; i++) {
        entry e = model_view(&m.e[i]);
        assert_int_equal(sst_builder_add(b, &e), LSM_OK);
        uint64_t est = sst_builder_estimated_size(b);
        assert_true(est > prev);
        prev = est;
    }
    sst_summary sum;
    assert_int_equal(sst_builder_finish(b, &sum), LSM_OK);
    assert_int_equal(sum.num_blocks, m.n);
    /* The estimate misses only the last block's index record. */
    assert_true(sum.file_size >= prev);
    assert_true(sum.file_size - prev < 64);
    sst *t = open_sst(path, 40, NULL, NULL);
    assert_iter_all(t, &m);
    char key[32];
    for (size_t i = 0; i < 2 * m.n_keys; i++)
        assert_get(t, &m, key, user_key(key, i));
    sst_unref(t);
    model_free(&m);
}

static void test_size_of_10000_entries(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "50.sst");
    sst_builder_options opt = {.block_size = 4096, .bloom_bits_per_key = 10};
    sst_builder *b;
    assert_int_equal(sst_builder_open(env_posix(), path, &opt, &b), LSM_OK);
    uint8_t value[100];
    char key[16];
    for (int i = 0; i < 10000; i++) {
        memset(value, 'a' + i % 26, sizeof value);
        int nk = snprintf(key, sizeof key, "key%05d", i);
        entry e = {(uint8_t *)key, (size_t)nk,      value,
                   sizeof value,   (uint64_t)i + 1, ENTRY_VALUE};
        assert_int_equal(sst_builder_add(b, &e), LSM_OK);
    }
    sst_summary sum;
    assert_int_equal(sst_builder_finish(b, &sum), LSM_OK);
    print_message("10000 entries (key%%05d, 100-byte values, 4 KiB blocks): "
                  "%llu bytes in %llu blocks\n",
                  (unsigned long long)sum.file_size,
                  (unsigned long long)sum.num_blocks);
    /* Uncompressed, each entry would need at least key (8) + value (100) +
     * seq (8) + type (1) = 117 bytes: 1170000. Prefix compression and
     * varints bring an entry to about 110 bytes, all overheads included. */
    assert_true(sum.file_size < 10000 * 112);
    assert_true(sum.file_size > 10000 * 100);
    /* Blocks are full: at most 4096 bytes each, about 37 entries each. */
    assert_true(sum.num_blocks >= 10000 * 108 / 4096);
    assert_true(sum.num_blocks <= 10000 * 108 / 4096 + 12);
    sst *t = open_sst(path, 50, NULL, NULL);
    bool found;
    entry e;
    void *owned;
    assert_int_equal(sst_get(t, (const uint8_t *)"key04321", 8, UINT64_MAX,
                             &found, &e, &owned),
                     LSM_OK);
    assert_true(found);
    assert_int_equal(e.nvalue, 100);
    assert_int_equal(((const uint8_t *)e.value)[0], 'a' + 4321 % 26);
    free(owned);
    sst_unref(t);
}

static void test_huge_value(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "60.sst");
    model m = {calloc(3, sizeof(model_entry)), 3, 0, 3};
    const char *keys[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        strcpy(m.e[i].key, keys[i]);
        m.e[i].nkey = 1;
        m.e[i].seq = (uint64_t)i + 1;
        m.e[i].type = ENTRY_VALUE;
        m.e[i].nvalue = i == 1 ? LSM_MAX_VALUE_BYTES : 10;
        m.e[i].value = malloc(m.e[i].nvalue);
        for (size_t j = 0; j < m.e[i].nvalue; j++)
            m.e[i].value[j] = (uint8_t)(j * 31 + (size_t)i);
    }
    sst_summary sum;
    write_sst(path, &m, 4096, 10, &sum);
    assert_int_equal(sum.num_blocks, 3); /* the big one alone */
    assert_true(sum.file_size > LSM_MAX_VALUE_BYTES);
    block_cache *bc = block_cache_create(1 << 20); /* smaller than it */
    sst *t = open_sst(path, 60, bc, NULL);
    assert_iter_all(t, &m);
    assert_get(t, &m, "b", 1);
    assert_get(t, &m, "c", 1);
    assert_true(block_cache_bytes_used(bc) < (1 << 20));
    sst_unref(t);
    block_cache_destroy(bc);
    model_free(&m);
}

/* --- Failing writes ------------------------------------------------------- */

/* The posix env, but appends fail after appends_left successes and syncs
 * fail when fail_sync is set. Files it opens for writing dispatch through
 * it. */
typedef struct failing_env {
    env base; /* first: an env * points here */
    int appends_left;
    bool fail_sync;
} failing_env;

static int failing_open_write(env *e, const char *path, env_file **out)
{
    int rc = env_posix()->open_write(env_posix(), path, out);
    if (rc == LSM_OK)
        (*out)->env = e;
    return rc;
}

static int failing_append(env_file *f, const void *data, size_t n)
{
    failing_env *fe = (failing_env *)f->env;
    if (fe->appends_left-- <= 0)
        return lsm_error(LSM_EIO, "injected write failure on %s", f->path);
    return env_posix()->append(f, data, n);
}

static int failing_sync(env_file *f)
{
    failing_env *fe = (failing_env *)f->env;
    if (fe->fail_sync)
        return lsm_error(LSM_EIO, "injected sync failure on %s", f->path);
    return env_posix()->sync(f);
}

static void failing_env_init(failing_env *fe, int appends_left, bool fail_sync)
{
    fe->base = *env_posix();
    fe->base.open_write = failing_open_write;
    fe->base.append = failing_append;
    fe->base.sync = failing_sync;
    fe->appends_left = appends_left;
    fe->fail_sync = fail_sync;
}

static void test_write_failures_remove_the_file(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "95.sst");
    /* About 600 KB of entries: several write batches. */
    model m = model_make(3000, 1, 400, 12);
    sst_builder_options opt = {.block_size = 4096, .bloom_bits_per_key = 10};

    /* A failing sync: finish reports it and removes the file. */
    failing_env fe;
    failing_env_init(&fe, 1 << 30, true);
    sst_builder *b;
    assert_int_equal(sst_builder_open(&fe.base, path, &opt, &b), LSM_OK);
    for (size_t i = 0; i < m.n; i++) {
        entry e = model_view(&m.e[i]);
        assert_int_equal(sst_builder_add(b, &e), LSM_OK);
    }
    assert_int_equal(sst_builder_finish(b, NULL), LSM_EIO);
    assert_non_null(strstr(lsm_errmsg(), "injected sync failure"));
    assert_false(file_exists(path));

    /* A failing write in the middle: the add that hits it reports it, every
     * later call repeats it, and finish removes the file. */
    failing_env_init(&fe, 3, false);
    assert_int_equal(sst_builder_open(&fe.base, path, &opt, &b), LSM_OK);
    size_t failed_at = m.n;
    for (size_t i = 0; i < m.n; i++) {
        entry e = model_view(&m.e[i]);
        int rc = sst_builder_add(b, &e);
        if (failed_at == m.n && rc != LSM_OK)
            failed_at = i;
        if (i >= failed_at)
            assert_int_equal(rc, LSM_EIO);
    }
    assert_true(failed_at < m.n);
    assert_int_equal(sst_builder_finish(b, NULL), LSM_EIO);
    assert_false(file_exists(path));
    model_free(&m);
}

/* --- Concurrent readers --------------------------------------------------- */

typedef struct reader_arg {
    sst *t;
    const model *m;
    int seed;
    int errors;
} reader_arg;

static void *reader_run(void *p)
{
    reader_arg *a = p;
    char key[32];
    unsigned s = (unsigned)a->seed;
    for (int i = 0; i < 3000; i++) {
        s = s * 1103515245u + 12345u;
        size_t k = (s >> 8) % (2 * a->m->n_keys);
        size_t nk = user_key(key, k);
        bool found;
        entry e;
        void *owned;
        if (sst_get(a->t, (const uint8_t *)key, nk, UINT64_MAX, &found, &e,
                    &owned) != LSM_OK) {
            a->errors++;
            continue;
        }
        size_t want = model_lower_bound(a->m, key, nk);
        bool present = k % 2 == 0;
        if (found != present || (found && !entry_equals(&e, &a->m->e[want])))
            a->errors++;
        free(owned);
    }
    iter *it = sst_iter_new(a->t);
    size_t n = 0;
    if (iter_seek(it, NULL, 0) != LSM_OK)
        a->errors++;
    while (iter_valid(it)) {
        entry e;
        iter_entry(it, &e);
        if (!entry_equals(&e, &a->m->e[n++]))
            a->errors++;
        if (iter_next(it) != LSM_OK)
            a->errors++;
    }
    if (n != a->m->n)
        a->errors++;
    iter_destroy(it);
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "70.sst");
    model m = model_make(1000, 2, 40, 77);
    write_sst(path, &m, 512, 10, NULL);
    block_cache *bc = block_cache_create(16 << 10);
    counters c = {0};
    sst *t = open_sst(path, 70, bc, &c);
    pthread_t th[4];
    reader_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (reader_arg){t, &m, i + 1, 0};
        sst_ref(t);
        assert_int_equal(pthread_create(&th[i], NULL, reader_run, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].errors, 0);
        sst_unref(t);
    }
    assert_true(c.block_cache_hits > 0);
    sst_mark_obsolete(t);
    sst_unref(t);
    assert_false(file_exists(path));
    block_cache_destroy(bc);
    model_free(&m);
}

/* --- Corruption ----------------------------------------------------------- */

/* The message of a corruption error must name the file and an offset. */
static void assert_corrupt_message(int rc, const char *path)
{
    assert_int_equal(rc, LSM_ECORRUPT);
    if (!strstr(lsm_errmsg(), path) || !strstr(lsm_errmsg(), "offset"))
        fail_msg("vague corruption message: %s", lsm_errmsg());
}

/* Opens an altered copy of the model's SST and uses all of it. Returns true
 * when some operation reported corruption; fails the test if any operation
 * returned data that differs from the model. */
static bool exercise_altered(const char *path, uint64_t id, block_cache *bc,
                             const model *m)
{
    sst *t;
    int rc = sst_open(env_posix(), path, id, bc, NULL, false, &t);
    if (rc != LSM_OK) {
        assert_corrupt_message(rc, path);
        return true;
    }
    bool failed = false;
    iter *it = sst_iter_new(t);
    size_t n = 0;
    rc = iter_seek(it, NULL, 0);
    while (rc == LSM_OK && iter_valid(it)) {
        entry e;
        iter_entry(it, &e);
        assert_true(n < m->n);
        assert_entry_is(&e, &m->e[n]);
        n++;
        rc = iter_next(it);
    }
    if (rc != LSM_OK) {
        assert_corrupt_message(rc, path);
        assert_false(iter_valid(it));
        assert_int_equal(iter_num_active(it), 0);
        failed = true;
    } else {
        assert_int_equal(n, m->n);
    }
    iter_destroy(it);
    char key[32];
    for (size_t i = 0; i < 2 * m->n_keys + 1; i++) {
        size_t nk = user_key(key, i);
        bool found;
        entry e;
        void *owned;
        rc = sst_get(t, (const uint8_t *)key, nk, UINT64_MAX, &found, &e,
                     &owned);
        if (rc != LSM_OK) {
            assert_corrupt_message(rc, path);
            assert_null(owned);
            failed = true;
            continue;
        }
        size_t want = model_lower_bound(m, key, nk);
        assert_int_equal(found, i % 2 == 0 && want < m->n);
        if (found)
            assert_entry_is(&e, &m->e[want]);
        free(owned);
    }
    sst_unref(t);
    return failed;
}

static void test_corruption_sweep(void **state)
{
    (void)state;
    char path[256], bad[256];
    path_of(path, sizeof path, "80.sst");
    path_of(bad, sizeof bad, "81.sst");
    model m = model_make(40, 2, 12, 123);
    write_sst(path, &m, 128, 10, NULL);
    size_t n;
    uint8_t *orig = test_read_whole(path, &n);
    uint8_t *copy = malloc(n);
    print_message("corruption sweep over a %zu-byte SST\n", n);

    /* Every truncation: the footer is gone or misplaced; open fails. */
    for (size_t len = 0; len < n; len++) {
        test_write_whole(bad, orig, len);
        sst *t;
        int rc = sst_open(env_posix(), bad, 81, NULL, NULL, false, &t);
        assert_corrupt_message(rc, bad);
    }

    /* Byte flips at every offset, without and with a (tiny, shared) cache:
     * each must be noticed by open, iteration or a get. */
    block_cache *bc = block_cache_create(600);
    static const uint8_t flips[] = {0x01, 0x80, 0x5a};
    uint64_t id = 1000;
    for (size_t off = 0; off < n; off++) {
        for (size_t f = 0; f < sizeof flips; f++) {
            memcpy(copy, orig, n);
            copy[off] ^= flips[f];
            test_write_whole(bad, copy, n);
            if (!exercise_altered(bad, id, f == 1 ? bc : NULL, &m))
                fail_msg("flip 0x%02x at offset %zu went unnoticed", flips[f],
                         off);
            id++; /* a fresh id: cached blocks of an earlier copy differ */
        }
    }
    block_cache_destroy(bc);

    /* The original still reads back in full. */
    test_write_whole(bad, orig, n);
    assert_false(exercise_altered(bad, 1, NULL, &m));
    free(copy);
    free(orig);
    model_free(&m);
}

static void test_corrupt_block_fails_then_recovers(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "90.sst");
    model m = model_make(300, 1, 40, 31);
    write_sst(path, &m, 256, 10, NULL);
    size_t n;
    uint8_t *data = test_read_whole(path, &n);
    data[10] ^= 0x04; /* inside block 0 */
    test_write_whole(path, data, n);
    counters c = {0};
    sst *t = open_sst(path, 90, NULL, &c);
    iter *it = sst_iter_new(t);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_ECORRUPT);
    assert_non_null(strstr(lsm_errmsg(), "offset 0"));
    assert_false(iter_valid(it));
    assert_int_equal(iter_num_active(it), 0);
    /* A seek into a later, intact block works. */
    char key[32];
    size_t nk = user_key(key, 400);
    assert_int_equal(iter_seek(it, (const uint8_t *)key, nk), LSM_OK);
    assert_true(iter_valid(it));
    entry e;
    iter_entry(it, &e);
    assert_entry_is(&e, &m.e[model_lower_bound(&m, key, nk)]);
    iter_destroy(it);
    bool found;
    void *owned;
    assert_int_equal(sst_get(t, (const uint8_t *)m.e[0].key, m.e[0].nkey,
                             UINT64_MAX, &found, &e, &owned),
                     LSM_ECORRUPT);
    assert_false(found);
    assert_int_equal(c.block_reads, 1); /* only the intact block counted */
    sst_unref(t);
    free(data);
    model_free(&m);
}

/* Gets the newest version of every key of m from t and checks it. */
static void assert_get_all(sst *t, const model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        if (i > 0 && strcmp(m->e[i].key, m->e[i - 1].key) == 0)
            continue; /* an older version */
        bool found;
        entry e;
        void *owned;
        assert_int_equal(sst_get(t, (const uint8_t *)m->e[i].key, m->e[i].nkey,
                                 UINT64_MAX, &found, &e, &owned),
                         LSM_OK);
        assert_true(found);
        assert_entry_is(&e, &m->e[i]);
        free(owned);
    }
}

/* With cache_meta, an SST's filter and index live in the block cache,
 * charged to it from the open on: evicted, they are read and verified
 * again by the next get or iterator, which still find everything; damaged
 * on disk meanwhile, that read is LSM_ECORRUPT, never trusted. */
static void test_cached_index_and_filter(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "96.sst");
    model m = model_make(400, 2, 40, 96);
    write_sst(path, &m, 256, 10, NULL);
    block_cache *bc = block_cache_create(4 << 20);
    counters c = {0};
    sst_open_options o = {.map_file = false, .cache_meta = true};
    sst *t;
    assert_int_equal(sst_open_with(env_posix(), path, 96, bc, &c, &o, &t),
                     LSM_OK);
    size_t meta_bytes = block_cache_bytes_used(bc);
    assert_true(meta_bytes > sst_num_blocks(t) * 12); /* index and filter */
    assert_get_all(t, &m);
    assert_iter_all(t, &m);
    assert_int_equal(c.meta_reads, 0);

    /* Evicted (erased here, as a full cache would), it is read again once
     * and cached again; so is every block. */
    block_cache_erase_sst(bc, 96);
    assert_int_equal(block_cache_bytes_used(bc), 0);
    assert_get_all(t, &m);
    assert_iter_all(t, &m);
    assert_int_equal(c.meta_reads, 1);
    assert_true(block_cache_bytes_used(bc) > meta_bytes);

    /* The same SST without cache_meta charges the cache nothing at open. */
    block_cache *bc2 = block_cache_create(4 << 20);
    sst *t2 = open_sst(path, 97, bc2, NULL);
    assert_int_equal(block_cache_bytes_used(bc2), 0);
    sst_unref(t2);
    block_cache_destroy(bc2);

    /* A byte of the index flipped on disk after the open: the next read of
     * the index fails its checksum, for a get and for an iterator. */
    size_t n;
    uint8_t *data = test_read_whole(path, &n);
    data[n - SST_FOOTER_BYTES - SST_CHECKSUM_BYTES - 1] ^= 0x20;
    test_write_whole(path, data, n);
    block_cache_erase_sst(bc, 96);
    bool found;
    entry e;
    void *owned;
    assert_int_equal(sst_get(t, (const uint8_t *)m.e[0].key, m.e[0].nkey,
                             UINT64_MAX, &found, &e, &owned),
                     LSM_ECORRUPT);
    assert_non_null(strstr(lsm_errmsg(), "index"));
    assert_false(found);
    assert_null(owned);
    iter *it = sst_iter_new(t);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_ECORRUPT);
    assert_false(iter_valid(it));
    iter_destroy(it);
    sst_unref(t);
    block_cache_destroy(bc);
    free(data);
    model_free(&m);
}

/* Block 0 of an SST written with block_size 1 (one entry per block): its
 * size and where its entry's type byte lies, found by parsing the entry
 * header (FORMAT.md, "Data block"). */
static size_t first_block_bytes(const uint8_t *data, size_t n,
                                size_t *type_offset)
{
    uint64_t v[4] = {0}; /* shared, unshared, value length, seq */
    const uint8_t *p = data, *end = data + n;
    for (int i = 0; i < 4; i++)
        assert_non_null(p = get_varint64(p, end, &v[i]));
    *type_offset = (size_t)(p - data);
    size_t entry_end = *type_offset + 1 + v[1] + v[2];
    return entry_end + 4 + BLOCK_TRAILER_BYTES; /* one restart, trailer */
}

/* The reader remembers a verified block by its checksum and skips the walk
 * over its entries when it reads the same bytes again (no cache here, so
 * every get reads the file). Other bytes behind a valid checksum, written
 * while the SST is open, are walked in full: a bad entry type is
 * LSM_ECORRUPT, not trusted. Putting the original back reads again. */
static void test_remembered_block_not_trusted_when_changed(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, "95.sst");
    model m = model_make(20, 1, 8, 77);
    write_sst(path, &m, 1, 10, NULL);
    size_t n;
    uint8_t *orig = test_read_whole(path, &n);
    counters c = {0};
    sst *t = open_sst(path, 95, NULL, &c);
    for (int round = 0; round < 3; round++)
        assert_get_at(t, &m, m.e[0].key, m.e[0].nkey, UINT64_MAX, NULL);
    assert_int_equal(c.block_reads, 3);

    uint8_t *bad = malloc(n);
    memcpy(bad, orig, n);
    size_t type_offset;
    size_t nb = first_block_bytes(bad, n, &type_offset);
    bad[type_offset] = 7; /* no such entry type */
    put_fixed64(bad + nb - 8, checksum64(bad, nb - 8));
    test_write_whole(path, bad, n);

    bool found;
    entry e;
    void *owned;
    assert_int_equal(sst_get(t, (const uint8_t *)m.e[0].key, m.e[0].nkey,
                             UINT64_MAX, &found, &e, &owned),
                     LSM_ECORRUPT);
    assert_false(found);
    assert_non_null(strstr(lsm_errmsg(), "bad type 7"));

    test_write_whole(path, orig, n);
    assert_get_at(t, &m, m.e[0].key, m.e[0].nkey, UINT64_MAX, NULL);
    sst_unref(t);
    free(bad);
    free(orig);
    model_free(&m);
}

static void test_open_errors(void **state)
{
    (void)state;
    char path[256];
    sst *t = (sst *)1;
    path_of(path, sizeof path, "missing.sst");
    assert_int_equal(sst_open(env_posix(), path, 1, NULL, NULL, false, &t),
                     LSM_EIO);
    assert_null(t);
    path_of(path, sizeof path, "empty.sst");
    test_write_whole(path, (const uint8_t *)"", 0);
    assert_corrupt_message(
        sst_open(env_posix(), path, 1, NULL, NULL, false, &t), path);
    /* 80 bytes of zeros: a footer-sized file with no magic. */
    uint8_t zeros[SST_FOOTER_BYTES] = {0};
    test_write_whole(path, zeros, sizeof zeros);
    assert_corrupt_message(
        sst_open(env_posix(), path, 1, NULL, NULL, false, &t), path);
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_many_blocks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_get_finds_newest_and_tombstones,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_at_seq_across_blocks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_versions_out_of_order_across_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bloom_and_probe_counters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_shared_by_two_ssts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_holds_copies_by_default,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequential_iteration_reads_ahead,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_uncached_iteration_leaves_cache_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_readahead_stops_at_the_damaged_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tiny_cache_evicts_while_iterating,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_obsolete_deleted_on_last_unref,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_builder_rejects_bad_entries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_block_size_one_and_estimates,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_of_10000_entries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_huge_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failures_remove_the_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_readers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corruption_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_block_fails_then_recovers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_remembered_block_not_trusted_when_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cached_index_and_filter, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
