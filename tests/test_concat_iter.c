/*
 * test_concat_iter.c: concat_iter (iter_int.h) over real SST files.
 *
 * The fixture writes five SSTs of disjoint, consecutive key ranges (of
 * different sizes, one holding a single key) with tiny data blocks into a
 * mkdtemp directory. Keys are "key%06zu" of even numbers, so every odd
 * number names a key between two entries, or between two SSTs. Each key has
 * one to three versions (newest first), some tombstones, values of 0 to 24
 * random bytes (fixed seed). The model is the sorted list of all entries,
 * which is exactly the concatenation of the five SSTs.
 *
 * Checked: full iteration against the model and against the SSTs' own
 * iterators read one after the other; seeks to every key, between keys,
 * between SSTs, before the first and after the last, in random order;
 * num_active; that only one SST iterator is ever positioned (block reads
 * through a capacity-0 cache, entry by entry); corruption in the third SST
 * (first or last data block) reported by next and seek, then recovered from
 * by a seek elsewhere; n == 0; a single SST; the SSTs outliving their
 * creator's references; a key whose versions straddle two SSTs; two levels
 * under a merge_iter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "table/block_int.h"
#include "util/coding_int.h"
#include "iter/iter_int.h"
#include "table/sst_int.h"
#include "util/status_int.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_SSTS 5
#define BLOCK_BYTES 64
#define MAX_VALUE_BYTES 24
#define KEY_BUF 32 /* room for "key" and any size_t */

/* Keys per SST: the third is the one corrupted (it needs several blocks),
 * the fourth holds a single key. */
static const size_t keys_per_sst[N_SSTS] = {9, 40, 35, 1, 25};

/* --- Model ---------------------------------------------------------------- */

typedef struct model_entry {
    char key[KEY_BUF];
    size_t nkey;
    uint8_t value[MAX_VALUE_BYTES];
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

/* The user key numbered i (entries use even i). */
static size_t key_of(char *buf, size_t i)
{
    return (size_t)sprintf(buf, "key%06zu", i);
}

typedef struct fixture {
    char *dir;
    char *paths[N_SSTS];
    model_entry *m; /* every entry, in internal-key order */
    size_t n;
    size_t start[N_SSTS + 1]; /* index in m of each SST's first entry */
    size_t first_key_no;      /* number of the smallest key */
    size_t last_key_no;       /* number of the largest key */
} fixture;

/* Index of the first model entry with user key >= key (f->n if none). */
static size_t model_lower_bound(const fixture *f, const uint8_t *key,
                                size_t nkey)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (user_key_cmp((const uint8_t *)f->m[mid].key, f->m[mid].nkey, key,
                         nkey) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Which SST holds model entry i. */
static size_t sst_of_entry(const fixture *f, size_t i)
{
    size_t j = 0;
    while (i >= f->start[j + 1])
        j++;
    return j;
}

static void assert_entry_is(const entry *got, const model_entry *want)
{
    bool same = got->nkey == want->nkey &&
                memcmp(got->key, want->key, want->nkey) == 0 &&
                got->seq == want->seq && got->type == want->type &&
                got->nvalue == want->nvalue &&
                (want->nvalue == 0 ||
                 memcmp(got->value, want->value, want->nvalue) == 0);
    if (!same)
        fail_msg("got %.*s@%llu, want %s@%llu", (int)got->nkey,
                 (const char *)got->key, (unsigned long long)got->seq,
                 want->key, (unsigned long long)want->seq);
}

/* Asserts it is valid, active and on model entry i. */
static void assert_at(const iter *it, const fixture *f, size_t i)
{
    assert_true(iter_valid(it));
    assert_int_equal(iter_num_active(it), 1);
    entry e;
    iter_entry(it, &e);
    assert_entry_is(&e, &f->m[i]);
}

static void assert_exhausted(iter *it)
{
    assert_false(iter_valid(it));
    assert_int_equal(iter_num_active(it), 0);
}

/* Seeks and checks the position against the model; returns it. */
static size_t assert_seek(iter *it, const fixture *f, const char *key,
                          size_t nkey)
{
    assert_int_equal(iter_seek(it, (const uint8_t *)key, nkey), LSM_OK);
    size_t want = model_lower_bound(f, (const uint8_t *)key, nkey);
    if (want == f->n)
        assert_exhausted(it);
    else
        assert_at(it, f, want);
    return want;
}

/* From model entry `from` (the current one), checks every entry to the end
 * and that the iterator is then exhausted for good. */
static void assert_drains_from(iter *it, const fixture *f, size_t from)
{
    for (size_t i = from; i < f->n; i++) {
        assert_at(it, f, i);
        assert_int_equal(iter_next(it), LSM_OK);
    }
    assert_exhausted(it);
    assert_int_equal(iter_next(it), LSM_OK); /* next past the end: no-op */
    assert_exhausted(it);
}

/* --- SSTs ----------------------------------------------------------------- */

/* Fills f->m: keys numbered 10, 12, ... with one to three versions each;
 * start[] marks where each SST's keys begin. */
static void model_make(fixture *f, uint64_t seed)
{
    rng_state = seed;
    size_t n_keys = 0;
    for (size_t j = 0; j < N_SSTS; j++)
        n_keys += keys_per_sst[j];
    f->m = calloc(3 * n_keys, sizeof *f->m);
    assert_non_null(f->m);
    f->first_key_no = 10;
    size_t key_no = f->first_key_no;
    for (size_t j = 0; j < N_SSTS; j++) {
        f->start[j] = f->n;
        for (size_t k = 0; k < keys_per_sst[j]; k++, key_no += 2) {
            size_t versions = 1 + rng_next() % 3;
            uint64_t seq = 100000 + rng_next() % 100000;
            for (size_t v = 0; v < versions; v++) {
                model_entry *e = &f->m[f->n++];
                e->nkey = key_of(e->key, key_no);
                e->seq = seq;
                seq -= 1 + rng_next() % 5;
                e->type = rng_next() % 6 ? ENTRY_VALUE : ENTRY_TOMBSTONE;
                if (e->type == ENTRY_VALUE)
                    e->nvalue = rng_next() % (MAX_VALUE_BYTES + 1);
                for (size_t b = 0; b < e->nvalue; b++)
                    e->value[b] = (uint8_t)rng_next();
            }
        }
    }
    f->start[N_SSTS] = f->n;
    f->last_key_no = key_no - 2;
}

static void write_sst(const char *path, const model_entry *m, size_t n)
{
    sst_builder_options opt = {.block_size = BLOCK_BYTES,
                               .bloom_bits_per_key = 10};
    sst_builder *b;
    assert_int_equal(sst_builder_open(env_posix(), path, &opt, &b), LSM_OK);
    for (size_t i = 0; i < n; i++) {
        entry e = {(const uint8_t *)m[i].key,
                   m[i].nkey,
                   m[i].value,
                   m[i].nvalue,
                   m[i].seq,
                   m[i].type};
        assert_int_equal(sst_builder_add(b, &e), LSM_OK);
    }
    assert_int_equal(sst_builder_finish(b, NULL), LSM_OK);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = test_mkdtemp();
    model_make(f, 0x5eed2024);
    for (size_t j = 0; j < N_SSTS; j++) {
        char name[32];
        snprintf(name, sizeof name, "%zu.sst", j + 1);
        f->paths[j] = test_path(f->dir, name);
        write_sst(f->paths[j], &f->m[f->start[j]],
                  f->start[j + 1] - f->start[j]);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = test_rmtree(f->dir);
    for (size_t j = 0; j < N_SSTS; j++)
        free(f->paths[j]);
    free(f->dir);
    free(f->m);
    free(f);
    return rc;
}

/* Opens every SST of the fixture (ids 1..5). */
static void open_all(const fixture *f, block_cache *bc, counters *ctrs,
                     sst **out)
{
    for (size_t j = 0; j < N_SSTS; j++) {
        int rc =
            sst_open(env_posix(), f->paths[j], j + 1, bc, ctrs, false, &out[j]);
        if (rc != LSM_OK)
            fail_msg("sst_open: %s", lsm_errmsg());
    }
}

static void unref_all(sst **ssts)
{
    for (size_t j = 0; j < N_SSTS; j++)
        sst_unref(ssts[j]);
}

/* --- Iteration ------------------------------------------------------------ */

static void test_full_iteration_is_the_concatenation(void **state)
{
    fixture *f = *state;
    sst *ssts[N_SSTS];
    open_all(f, NULL, NULL, ssts);
    iter *it = concat_iter_new(ssts, N_SSTS);
    assert_non_null(it);

    /* Not positioned before the first seek; next there is harmless. */
    assert_exhausted(it);
    assert_int_equal(iter_next(it), LSM_OK);
    assert_exhausted(it);

    /* Against the SSTs' own iterators, read one after the other. */
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    size_t n = 0;
    for (size_t j = 0; j < N_SSTS; j++) {
        iter *one = sst_iter_new(ssts[j]);
        assert_non_null(one);
        assert_int_equal(iter_seek(one, NULL, 0), LSM_OK);
        for (; iter_valid(one); n++) {
            entry want, got;
            iter_entry(one, &want);
            assert_true(iter_valid(it));
            iter_entry(it, &got);
            assert_int_equal(entry_cmp(&got, &want), 0);
            assert_int_equal(got.nvalue, want.nvalue);
            assert_int_equal(got.type, want.type);
            if (got.nvalue)
                assert_memory_equal(got.value, want.value, got.nvalue);
            assert_int_equal(iter_next(one), LSM_OK);
            assert_int_equal(iter_next(it), LSM_OK);
        }
        iter_destroy(one);
    }
    assert_int_equal(n, f->n);
    assert_exhausted(it);

    /* Against the model, twice: a seek after exhaustion starts over. */
    for (int round = 0; round < 2; round++) {
        assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
        assert_drains_from(it, f, 0);
    }
    iter_destroy(it);
    unref_all(ssts);
}

static void test_num_active(void **state)
{
    fixture *f = *state;
    sst *ssts[N_SSTS];
    open_all(f, NULL, NULL, ssts);
    iter *it = concat_iter_new(ssts, N_SSTS);
    assert_int_equal(iter_num_active(it), 0); /* not positioned */
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    size_t steps = 0;
    while (iter_valid(it)) {
        assert_int_equal(iter_num_active(it), 1); /* five SSTs count one */
        assert_int_equal(iter_next(it), LSM_OK);
        steps++;
    }
    assert_int_equal(steps, f->n);
    assert_int_equal(iter_num_active(it), 0);
    char key[KEY_BUF];
    size_t nk = key_of(key, f->last_key_no + 1);
    assert_int_equal(iter_seek(it, (const uint8_t *)key, nk), LSM_OK);
    assert_int_equal(iter_num_active(it), 0); /* past the end */
    nk = key_of(key, f->last_key_no);
    assert_int_equal(iter_seek(it, (const uint8_t *)key, nk), LSM_OK);
    assert_int_equal(iter_num_active(it), 1);
    iter_destroy(it);
    unref_all(ssts);
}

/* --- Seeks ---------------------------------------------------------------- */

/* Every key number from before the first to past the last (even: present,
 * odd: between entries), in a shuffled order, so that seeks go forwards,
 * backwards, within one SST and across SSTs; after each, a few nexts. */
static void test_seek_to_every_key(void **state)
{
    fixture *f = *state;
    sst *ssts[N_SSTS];
    open_all(f, NULL, NULL, ssts);
    iter *it = concat_iter_new(ssts, N_SSTS);
    size_t n_targets = f->last_key_no + 3;
    size_t *order = malloc(n_targets * sizeof *order);
    assert_non_null(order);
    for (size_t i = 0; i < n_targets; i++)
        order[i] = i;
    rng_state = 77;
    for (size_t i = n_targets - 1; i > 0; i--) {
        size_t j = rng_next() % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t r = 0; r < 2; r++) { /* sorted, then shuffled */
        for (size_t i = 0; i < n_targets; i++) {
            char key[KEY_BUF];
            size_t nk = key_of(key, r ? order[i] : i);
            size_t at = assert_seek(it, f, key, nk);
            for (size_t step = 1; step <= 4 && at + step <= f->n; step++) {
                assert_int_equal(iter_next(it), LSM_OK);
                if (at + step == f->n)
                    assert_exhausted(it);
                else
                    assert_at(it, f, at + step);
            }
        }
    }
    /* From every SST's first key, the rest of the level drains intact. */
    for (size_t j = 0; j < N_SSTS; j++) {
        const model_entry *e = &f->m[f->start[j]];
        assert_int_equal(assert_seek(it, f, e->key, e->nkey), f->start[j]);
        assert_drains_from(it, f, f->start[j]);
    }
    free(order);
    iter_destroy(it);
    unref_all(ssts);
}

/* The edges named one by one: before the first key, between two SSTs,
 * a prefix of a key, past the last key. */
static void test_seek_between_and_outside(void **state)
{
    fixture *f = *state;
    sst *ssts[N_SSTS];
    open_all(f, NULL, NULL, ssts);
    iter *it = concat_iter_new(ssts, N_SSTS);
    char key[KEY_BUF];

    /* Before the first key: the empty key, "a", "key", a smaller number. */
    static const char *const before[] = {"", "a", "key", "key000000"};
    for (size_t i = 0; i < sizeof before / sizeof before[0]; i++) {
        assert_int_equal(assert_seek(it, f, before[i], strlen(before[i])), 0);
        assert_drains_from(it, f, 0);
    }
    /* Between SST j and j+1 (one past SST j's last key): SST j+1's first
     * entry, then on to the end. */
    for (size_t j = 0; j + 1 < N_SSTS; j++) {
        const model_entry *last = &f->m[f->start[j + 1] - 1];
        memcpy(key, last->key, last->nkey);
        key[last->nkey] = '\0';
        size_t nk = key_of(key, (size_t)atoi(key + 3) + 1);
        assert_int_equal(assert_seek(it, f, key, nk), f->start[j + 1]);
        /* Also just after the last key as bytes: last key + "\0". */
        memcpy(key, last->key, last->nkey);
        key[last->nkey] = '\0';
        assert_int_equal(assert_seek(it, f, key, last->nkey + 1),
                         f->start[j + 1]);
        assert_drains_from(it, f, f->start[j + 1]);
    }
    /* A prefix of a key ("key00001" < "key000010") lands on that key. */
    assert_int_equal(assert_seek(it, f, "key00001", 8), 0);
    /* Past the last key. */
    static const char *const after[] = {"key999999", "z", "\xff"};
    for (size_t i = 0; i < sizeof after / sizeof after[0]; i++) {
        assert_int_equal(assert_seek(it, f, after[i], strlen(after[i])), f->n);
        assert_int_equal(iter_next(it), LSM_OK);
        assert_exhausted(it);
    }
    size_t nk = key_of(key, f->last_key_no + 1);
    assert_int_equal(assert_seek(it, f, key, nk), f->n);
    /* And back to the very first entry. */
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    assert_at(it, f, 0);
    iter_destroy(it);
    unref_all(ssts);
}

/* Random seeks and nexts against the model (fixed seed). */
static void test_random_seeks_and_nexts(void **state)
{
    fixture *f = *state;
    sst *ssts[N_SSTS];
    open_all(f, NULL, NULL, ssts);
    iter *it = concat_iter_new(ssts, N_SSTS);
    rng_state = 4242;
    size_t at = f->n; /* model position; f->n = invalid */
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    at = 0;
    for (int op = 0; op < 5000; op++) {
        if (rng_next() % 4 == 0) {
            char key[KEY_BUF];
            size_t nk = key_of(key, rng_next() % (f->last_key_no + 8));
            at = assert_seek(it, f, key, nk);
        } else if (at < f->n) {
            assert_int_equal(iter_next(it), LSM_OK);
            at++;
            if (at == f->n)
                assert_exhausted(it);
            else
                assert_at(it, f, at);
        } else {
            assert_int_equal(iter_next(it), LSM_OK);
            assert_exhausted(it);
        }
    }
    iter_destroy(it);
    unref_all(ssts);
}

/* --- One SST iterator at a time ------------------------------------------ */

/* A capacity-0 cache caches nothing, so every data block an SST iterator
 * positions on is read from its file and counted in block_reads (and no
 * hit is ever counted). Reading the SSTs one after the other with their own
 * iterators gives, for each entry, how many blocks a lone reader has read
 * by then. The concat iterator must match that exactly, entry by entry: an
 * iterator that opened and positioned the next SST ahead of need (at seek,
 * or before the current SST was done), or kept several SST iterators
 * positioned, or re-read an SST, would read a block earlier or more often.
 * Seeks must read one block of the one SST that can hold the key, none past
 * the end. (Unpositioned SST iterators read nothing and are invisible here;
 * the implementation destroys the old one before creating the next.) */
static void test_one_sst_iterator_at_a_time(void **state)
{
    fixture *f = *state;

    /* The lone readers' profile: reads[i] after reaching model entry i. */
    uint64_t *reads = calloc(f->n, sizeof *reads);
    uint64_t blocks_before[N_SSTS + 1] = {0};
    assert_non_null(reads);
    for (size_t j = 0; j < N_SSTS; j++) {
        counters c = {0};
        sst *t;
        assert_int_equal(
            sst_open(env_posix(), f->paths[j], j + 1, NULL, &c, false, &t),
            LSM_OK);
        iter *one = sst_iter_new(t);
        assert_int_equal(iter_seek(one, NULL, 0), LSM_OK);
        for (size_t i = f->start[j]; i < f->start[j + 1]; i++) {
            assert_true(iter_valid(one));
            reads[i] = blocks_before[j] + c.block_reads;
            assert_int_equal(iter_next(one), LSM_OK);
        }
        assert_false(iter_valid(one));
        assert_int_equal(c.block_reads, sst_num_blocks(t));
        blocks_before[j + 1] = blocks_before[j] + sst_num_blocks(t);
        iter_destroy(one);
        sst_unref(t);
    }
    /* The test means something only if SSTs span several blocks. */
    assert_true(blocks_before[2] - blocks_before[1] >= 4);

    block_cache *bc = block_cache_create(0);
    counters c = {0};
    sst *ssts[N_SSTS];
    open_all(f, bc, &c, ssts);
    iter *it = concat_iter_new(ssts, N_SSTS);
    assert_int_equal(c.block_reads, 0); /* nothing opened before a seek */
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    for (size_t i = 0; i < f->n; i++) {
        assert_at(it, f, i);
        if (c.block_reads != reads[i])
            fail_msg("at entry %zu (SST %zu): %llu blocks read, a lone reader "
                     "has read %llu",
                     i, sst_of_entry(f, i), (unsigned long long)c.block_reads,
                     (unsigned long long)reads[i]);
        assert_int_equal(iter_next(it), LSM_OK);
    }
    assert_exhausted(it);
    assert_int_equal(c.block_reads, blocks_before[N_SSTS]);

    /* Seeks: one block of the right SST, whichever SST was open before. */
    char key[KEY_BUF];
    for (size_t no = 0; no <= f->last_key_no + 2; no++) {
        size_t nk = key_of(key, no);
        uint64_t before = c.block_reads;
        size_t at = assert_seek(it, f, key, nk);
        assert_int_equal(c.block_reads - before, at < f->n ? 1 : 0);
    }
    assert_int_equal(c.block_cache_hits, 0);
    iter_destroy(it);
    unref_all(ssts);
    block_cache_destroy(bc);
    free(reads);
}

/* --- Corruption ----------------------------------------------------------- */

/* Flips one byte of the third SST: in its first data block (offset 10),
 * or in its last one (the last byte before the filter, which the footer
 * locates: that block's checksum). */
static void corrupt_third_sst(const fixture *f, bool last_block)
{
    size_t n;
    uint8_t *data = test_read_whole(f->paths[2], &n);
    assert_true(n > SST_FOOTER_BYTES);
    uint64_t filter_offset =
        get_fixed64(data + n - SST_FOOTER_BYTES + SST_FOOTER_FILTER_OFFSET);
    assert_true(filter_offset > BLOCK_BYTES && filter_offset < n);
    data[last_block ? filter_offset - 1 : 10] ^= 0x20;
    test_write_whole(f->paths[2], data, n);
    free(data);
}

static void assert_corrupt(iter *it, int rc, const fixture *f)
{
    assert_int_equal(rc, LSM_ECORRUPT);
    if (!strstr(lsm_errmsg(), f->paths[2]) || !strstr(lsm_errmsg(), "offset"))
        fail_msg("the message does not name the SST: %s", lsm_errmsg());
    assert_exhausted(it);
}

/* Seeks to key and reads every version of it, checking each against the
 * model: a key's versions may continue into the next block, so the bad
 * block may hold only older versions of a key found in the block before.
 * Returns the first failure, else LSM_OK. */
static int seek_and_read_versions(iter *it, const fixture *f, const char *key,
                                  size_t nkey)
{
    int rc = iter_seek(it, (const uint8_t *)key, nkey);
    size_t i = model_lower_bound(f, (const uint8_t *)key, nkey);
    if (rc != LSM_OK || i == f->n)
        return rc;
    assert_at(it, f, i);
    while (i + 1 < f->n && f->m[i + 1].nkey == f->m[i].nkey &&
           memcmp(f->m[i + 1].key, f->m[i].key, f->m[i].nkey) == 0) {
        rc = iter_next(it);
        if (rc != LSM_OK)
            return rc;
        assert_at(it, f, ++i);
    }
    return LSM_OK;
}

static void check_corrupt_third_sst(const fixture *f, bool last_block)
{
    corrupt_third_sst(f, last_block);
    sst *ssts[N_SSTS];
    open_all(f, NULL, NULL, ssts); /* index and filter are intact */
    iter *it = concat_iter_new(ssts, N_SSTS);

    /* A full scan yields correct entries, then fails inside the third SST:
     * at its first entry when block 0 is bad, before its end otherwise. */
    int rc = iter_seek(it, NULL, 0);
    size_t i = 0;
    while (rc == LSM_OK && iter_valid(it)) {
        assert_at(it, f, i);
        i++;
        rc = iter_next(it);
    }
    assert_corrupt(it, rc, f);
    if (last_block)
        assert_true(i > f->start[2] && i < f->start[3]);
    else
        assert_int_equal(i, f->start[2]);
    /* The error stays latched for next until a seek. */
    assert_int_equal(iter_next(it), LSM_ECORRUPT);
    assert_exhausted(it);

    /* Seeks to every key of the third SST, and to the gap before it: the
     * keys with versions in the bad block fail, the others are found with
     * all their versions. */
    char key[KEY_BUF];
    const model_entry *bad = &f->m[last_block ? f->start[3] - 1 : f->start[2]];
    const model_entry *prev_last = &f->m[f->start[2] - 1];
    size_t lo = (size_t)atoi(prev_last->key + 3) + 1;
    size_t hi = (size_t)atoi(f->m[f->start[3] - 1].key + 3);
    size_t n_failed = 0;
    for (size_t no = lo; no <= hi; no++) {
        size_t nk = key_of(key, no);
        rc = seek_and_read_versions(it, f, key, nk);
        if (rc != LSM_OK) {
            assert_corrupt(it, rc, f);
            n_failed++;
        }
    }
    assert_true(n_failed > 0);
    assert_corrupt(it, seek_and_read_versions(it, f, bad->key, bad->nkey), f);

    /* A seek into the fourth SST recovers, and the rest reads intact. */
    const model_entry *e = &f->m[f->start[3]];
    assert_int_equal(assert_seek(it, f, e->key, e->nkey), f->start[3]);
    assert_drains_from(it, f, f->start[3]);
    /* So does a seek into the intact second SST, until the
     * scan reaches the bad block again. */
    e = &f->m[f->start[1]];
    assert_int_equal(assert_seek(it, f, e->key, e->nkey), f->start[1]);
    for (rc = LSM_OK, i = f->start[1]; rc == LSM_OK && iter_valid(it); i++) {
        assert_at(it, f, i);
        rc = iter_next(it);
    }
    assert_corrupt(it, rc, f);
    iter_destroy(it);
    unref_all(ssts);
}

static void test_corrupt_first_block_of_third_sst(void **state)
{
    check_corrupt_third_sst(*state, false);
}

static void test_corrupt_last_block_of_third_sst(void **state)
{
    check_corrupt_third_sst(*state, true);
}

/* --- Shapes and ownership ------------------------------------------------- */

static void test_no_ssts(void **state)
{
    (void)state;
    iter *it = concat_iter_new(NULL, 0);
    assert_non_null(it);
    assert_exhausted(it);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    assert_exhausted(it);
    assert_int_equal(iter_seek(it, (const uint8_t *)"k", 1), LSM_OK);
    assert_exhausted(it);
    assert_int_equal(iter_seek(it, (const uint8_t *)"", 0), LSM_OK);
    assert_exhausted(it);
    assert_int_equal(iter_next(it), LSM_OK);
    assert_exhausted(it);
    iter_destroy(it);
}

/* One SST alone (several blocks; then the single-key one), compared with
 * the part of the model it holds. */
static void test_single_sst(void **state)
{
    fixture *f = *state;
    static const size_t which[] = {1, 3};
    for (size_t w = 0; w < 2; w++) {
        size_t j = which[w];
        sst *t;
        assert_int_equal(
            sst_open(env_posix(), f->paths[j], j + 1, NULL, NULL, false, &t),
            LSM_OK);
        fixture sub = *f; /* a view of the model with just this SST */
        sub.m = &f->m[f->start[j]];
        sub.n = f->start[j + 1] - f->start[j];
        iter *it = concat_iter_new(&t, 1);
        sst_unref(t); /* the iterator's reference is enough */
        assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
        assert_drains_from(it, &sub, 0);
        char key[KEY_BUF];
        for (size_t no = 0; no <= f->last_key_no + 1; no++) {
            size_t nk = key_of(key, no);
            size_t at = assert_seek(it, &sub, key, nk);
            if (at < sub.n && no % 7 == 0)
                assert_drains_from(it, &sub, at);
        }
        iter_destroy(it);
    }
}

/* The creator marks every SST obsolete and drops its references right
 * after making the iterator: the files must stay until the iterator is
 * destroyed (its references), and ASan checks that nothing is read from
 * freed memory meanwhile. Then the last references go and the files with
 * them. */
static void test_outlives_creator_references(void **state)
{
    fixture *f = *state;
    block_cache *bc = block_cache_create(1 << 16);
    sst *ssts[N_SSTS];
    open_all(f, bc, NULL, ssts);
    iter *it = concat_iter_new(ssts, N_SSTS);
    assert_non_null(it);
    for (size_t j = 0; j < N_SSTS; j++) {
        sst_mark_obsolete(ssts[j]);
        sst_unref(ssts[j]);
        ssts[j] = NULL;
    }
    for (size_t j = 0; j < N_SSTS; j++)
        assert_int_equal(access(f->paths[j], F_OK), 0);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    assert_drains_from(it, f, 0);
    const model_entry *e = &f->m[f->start[3]];
    assert_int_equal(assert_seek(it, f, e->key, e->nkey), f->start[3]);
    assert_int_equal(iter_next(it), LSM_OK);
    assert_at(it, f, f->start[3] + 1); /* open on the fifth SST */
    iter_destroy(it);
    for (size_t j = 0; j < N_SSTS; j++)
        assert_int_equal(access(f->paths[j], F_OK), -1);
    assert_int_equal(block_cache_bytes_used(bc), 0); /* blocks erased too */
    block_cache_destroy(bc);
}

/* A compaction that splits its output inside one key's versions leaves
 * adjacent SSTs sharing a boundary user key ("b"@9 "b"@8 | "b"@7 "c"@5):
 * the concatenation is still in internal-key order, and a seek to "b"
 * starts at its newest version in the first SST. */
static void test_key_versions_straddle_two_ssts(void **state)
{
    fixture *f = *state;
    model_entry m[6] = {0};
    static const char *const keys[] = {"a", "b", "b", "b", "c", "d"};
    static const uint64_t seqs[] = {3, 9, 8, 7, 5, 1};
    for (size_t i = 0; i < 6; i++) {
        m[i].nkey = strlen(keys[i]);
        memcpy(m[i].key, keys[i], m[i].nkey);
        m[i].seq = seqs[i];
        m[i].type = ENTRY_VALUE;
        m[i].nvalue = 1;
        m[i].value[0] = (uint8_t)('0' + i);
    }
    char *p1 = test_path(f->dir, "straddle1.sst");
    char *p2 = test_path(f->dir, "straddle2.sst");
    write_sst(p1, m, 3);
    write_sst(p2, m + 3, 3);
    sst *ssts[2];
    assert_int_equal(
        sst_open(env_posix(), p1, 101, NULL, NULL, false, &ssts[0]), LSM_OK);
    assert_int_equal(
        sst_open(env_posix(), p2, 102, NULL, NULL, false, &ssts[1]), LSM_OK);
    fixture sub = *f;
    sub.m = m;
    sub.n = 6;
    iter *it = concat_iter_new(ssts, 2);
    assert_int_equal(iter_seek(it, NULL, 0), LSM_OK);
    assert_drains_from(it, &sub, 0);
    assert_int_equal(assert_seek(it, &sub, "b", 1), 1);
    assert_drains_from(it, &sub, 1);
    assert_int_equal(assert_seek(it, &sub, "bb", 2), 4);
    assert_int_equal(assert_seek(it, &sub, "c", 1), 4);
    iter_destroy(it);
    sst_unref(ssts[0]);
    sst_unref(ssts[1]);
    free(p1);
    free(p2);
}

/* Two levels under a merge: SSTs 1, 3, 5 in one concat iterator and 2, 4 in
 * the other. The merge yields the model, and num_active counts one per
 * level that still has entries, whatever the number of its SSTs. */
static void test_two_levels_under_a_merge(void **state)
{
    fixture *f = *state;
    sst *ssts[N_SSTS];
    open_all(f, NULL, NULL, ssts);
    sst *odd[3] = {ssts[0], ssts[2], ssts[4]};
    sst *even[2] = {ssts[1], ssts[3]};
    iter *children[2] = {concat_iter_new(odd, 3), concat_iter_new(even, 2)};
    unref_all(ssts);
    iter *m = merge_iter_new(children, 2);
    assert_non_null(m);
    assert_int_equal(iter_seek(m, NULL, 0), LSM_OK);
    for (size_t i = 0; i < f->n; i++) {
        assert_true(iter_valid(m));
        entry e;
        iter_entry(m, &e);
        assert_entry_is(&e, &f->m[i]);
        /* Level "even" runs dry after SST 4 (index 3). */
        size_t want = i < f->start[4] ? 2 : 1;
        assert_int_equal(iter_num_active(m), want);
        assert_int_equal(iter_next(m), LSM_OK);
    }
    assert_false(iter_valid(m));
    assert_int_equal(iter_num_active(m), 0);
    iter_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_full_iteration_is_the_concatenation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_num_active, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seek_to_every_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_seek_between_and_outside, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_random_seeks_and_nexts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_one_sst_iterator_at_a_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_first_block_of_third_sst,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_last_block_of_third_sst,
                                        setup, teardown),
        cmocka_unit_test(test_no_ssts),
        cmocka_unit_test_setup_teardown(test_single_sst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outlives_creator_references, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_key_versions_straddle_two_ssts,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_levels_under_a_merge, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
