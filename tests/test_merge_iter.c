/*
 * test_merge_iter.c: merge_iter and two_merge_iter (iter_int.h).
 *
 * Children are "vector iterators" over arrays of entries, defined here. The
 * merges are checked against a model made by sorting every child's entries
 * by (internal key, child index): every entry must come out, in that order,
 * duplicates and tombstones included. Also: exact ties, seeks, num_active as
 * children run dry, empty and NULL children, child errors, ownership.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "iter/iter_int.h"
#include "lsm.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- vector iterator ------------------------------------------------------ */

/* An iterator over a sorted array of entries it does not own. pos == n
 * means exhausted; -1 means not positioned. fail_next_at / fail_seek inject
 * errors: next called while on entry fail_next_at returns LSM_ECORRUPT. */
typedef struct vec_iter {
    iter base;
    const entry *entries;
    size_t n;
    long pos;
    long fail_next_at; /* -1: never */
    bool fail_seek;
} vec_iter;

static int vec_destroyed; /* how many vector iterators were destroyed */

static bool vec_valid(const iter *it)
{
    const vec_iter *v = (const vec_iter *)it;
    return v->pos >= 0 && (size_t)v->pos < v->n;
}

static void vec_current(const iter *it, entry *out)
{
    const vec_iter *v = (const vec_iter *)it;
    assert_true(vec_valid(it));
    *out = v->entries[v->pos];
}

static int vec_next(iter *it)
{
    vec_iter *v = (vec_iter *)it;
    assert_true(vec_valid(it)); /* merges must not advance dead children */
    if (v->pos == v->fail_next_at) {
        v->pos = (long)v->n;
        return LSM_ECORRUPT;
    }
    v->pos++;
    return LSM_OK;
}

static int vec_seek(iter *it, const uint8_t *key, size_t nkey)
{
    vec_iter *v = (vec_iter *)it;
    if (v->fail_seek) {
        v->pos = (long)v->n;
        return LSM_EIO;
    }
    size_t i = 0;
    while (key && i < v->n &&
           user_key_cmp(v->entries[i].key, v->entries[i].nkey, key, nkey) < 0)
        i++;
    v->pos = (long)i;
    return LSM_OK;
}

static size_t vec_num_active(const iter *it)
{
    return vec_valid(it) ? 1 : 0;
}

static void vec_destroy(iter *it)
{
    vec_destroyed++;
    free(it);
}

static const iter_ops vec_ops = {vec_valid, vec_current,    vec_next,
                                 vec_seek,  vec_num_active, vec_destroy};

static iter *vec_new(const entry *entries, size_t n)
{
    vec_iter *v = calloc(1, sizeof(*v));
    assert_non_null(v);
    v->base.ops = &vec_ops;
    v->entries = entries;
    v->n = n;
    v->pos = -1;
    v->fail_next_at = -1;
    return &v->base;
}

static entry mk(const char *key, uint64_t seq, const char *value)
{
    entry e = {(const uint8_t *)key,
               strlen(key),
               (const uint8_t *)value,
               value ? strlen(value) : 0,
               seq,
               value ? ENTRY_VALUE : ENTRY_TOMBSTONE};
    return e;
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Asserts the iterator is on an entry equal to want in every field. */
static void assert_at(const iter *it, const entry *want)
{
    assert_true(iter_valid(it));
    entry got;
    iter_entry(it, &got);
    assert_int_equal(got.nkey, want->nkey);
    assert_memory_equal(got.key, want->key, got.nkey);
    assert_int_equal(got.seq, want->seq);
    assert_int_equal(got.type, want->type);
    assert_int_equal(got.nvalue, want->nvalue);
    if (got.nvalue)
        assert_memory_equal(got.value, want->value, got.nvalue);
}

/* Drains it from its current position, checking each entry against want. */
static void assert_yields(iter *it, const entry *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_at(it, &want[i]);
        assert_int_equal(iter_next(it), LSM_OK);
    }
    assert_false(iter_valid(it));
    assert_int_equal(iter_num_active(it), 0);
}

/* --- random children and their model -------------------------------------- */

enum { MAX_CHILDREN = 6, MAX_PER_CHILD = 400 };

typedef struct tagged {
    entry e;
    size_t child;
} tagged;

typedef struct random_set {
    size_t n_children;
    entry entries[MAX_CHILDREN][MAX_PER_CHILD];
    size_t n[MAX_CHILDREN];
    uint8_t keys[MAX_CHILDREN][MAX_PER_CHILD][4];
    char values[MAX_CHILDREN][MAX_PER_CHILD][16];
    tagged model[MAX_CHILDREN * MAX_PER_CHILD];
    size_t n_model;
} random_set;

static int entry_qsort_cmp(const void *a, const void *b)
{
    return entry_cmp(a, b);
}

static int tagged_cmp(const void *a, const void *b)
{
    const tagged *x = a, *y = b;
    int c = entry_cmp(&x->e, &y->e);
    if (c != 0)
        return c;
    return x->child < y->child ? -1 : x->child > y->child;
}

/* Fills each child with random keys over a small alphabet and seqs from a
 * small range, so that the same key appears in several children and exact
 * (key, seq) ties across children happen. Within a child (key, seq) pairs
 * are unique, as in any real source. Some children may be empty. */
static void random_set_fill(random_set *rs, size_t n_children, uint64_t seed)
{
    uint64_t rng = seed;
    rs->n_children = n_children;
    rs->n_model = 0;
    for (size_t c = 0; c < n_children; c++) {
        size_t want = (size_t)(test_rng_next(&rng) % MAX_PER_CHILD);
        if (c == 1)
            want = 0; /* always one empty child */
        size_t n = 0;
        for (size_t i = 0; i < want; i++) {
            uint8_t *k = rs->keys[c][n];
            size_t nk = 1 + (size_t)(test_rng_next(&rng) % 3);
            for (size_t j = 0; j < nk; j++)
                k[j] = (uint8_t)("pq\0"[test_rng_next(&rng) % 3]);
            uint64_t seq = test_rng_next(&rng) % 8;
            bool dup = false;
            for (size_t j = 0; j < n && !dup; j++)
                dup = rs->entries[c][j].seq == seq &&
                      user_key_cmp(rs->entries[c][j].key,
                                   rs->entries[c][j].nkey, k, nk) == 0;
            if (dup)
                continue;
            char *v = rs->values[c][n];
            snprintf(v, sizeof rs->values[c][n], "c%zu-%zu", c, i);
            bool tomb = test_rng_next(&rng) % 4 == 0;
            entry e = {k,
                       nk,
                       tomb ? NULL : (const uint8_t *)v,
                       tomb ? 0 : strlen(v),
                       seq,
                       tomb ? ENTRY_TOMBSTONE : ENTRY_VALUE};
            rs->entries[c][n++] = e;
        }
        qsort(rs->entries[c], n, sizeof(entry), entry_qsort_cmp);
        rs->n[c] = n;
        for (size_t i = 0; i < n; i++) {
            rs->model[rs->n_model].e = rs->entries[c][i];
            rs->model[rs->n_model].child = c;
            rs->n_model++;
        }
    }
    qsort(rs->model, rs->n_model, sizeof(tagged), tagged_cmp);
}

/* Index of the first model entry whose user key is >= key. */
static size_t model_lower_bound(const random_set *rs, const uint8_t *key,
                                size_t nkey)
{
    size_t i = 0;
    while (i < rs->n_model &&
           user_key_cmp(rs->model[i].e.key, rs->model[i].e.nkey, key, nkey) < 0)
        i++;
    return i;
}

/* Children still holding entries at or after model position from. */
static size_t model_active(const random_set *rs, size_t from)
{
    bool seen[MAX_CHILDREN] = {false};
    size_t n = 0;
    for (size_t i = from; i < rs->n_model; i++) {
        if (!seen[rs->model[i].child]) {
            seen[rs->model[i].child] = true;
            n++;
        }
    }
    return n;
}

/* Drains it from model position from, checking entries (the value names
 * its child, so the tie order is checked too) and num_active. */
static void assert_matches_model(iter *it, const random_set *rs, size_t from)
{
    for (size_t i = from; i < rs->n_model; i++) {
        assert_at(it, &rs->model[i].e);
        assert_int_equal(iter_num_active(it), model_active(rs, i));
        assert_int_equal(iter_next(it), LSM_OK);
    }
    assert_false(iter_valid(it));
    assert_int_equal(iter_num_active(it), 0);
}

static iter *random_set_merge(const random_set *rs)
{
    iter *children[MAX_CHILDREN];
    for (size_t c = 0; c < rs->n_children; c++)
        children[c] = vec_new(rs->entries[c], rs->n[c]);
    iter *m = merge_iter_new(children, rs->n_children);
    assert_non_null(m);
    return m;
}

/* --- merge_iter ----------------------------------------------------------- */

static void test_merge_matches_model(void **state)
{
    (void)state;
    static random_set rs;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        random_set_fill(&rs, 3 + seed % 4, seed * 7919);
        int destroyed_before = vec_destroyed;
        iter *m = random_set_merge(&rs);
        assert_false(iter_valid(m)); /* not positioned yet */
        assert_int_equal(iter_seek(m, NULL, 0), LSM_OK);
        assert_matches_model(m, &rs, 0);

        /* Seeks to random keys, present or not, anywhere. */
        uint64_t rng = seed;
        for (int s = 0; s < 20; s++) {
            uint8_t key[3];
            size_t nk = 1 + (size_t)(test_rng_next(&rng) % 3);
            for (size_t j = 0; j < nk; j++)
                key[j] = (uint8_t)("pq\0"[test_rng_next(&rng) % 3]);
            assert_int_equal(iter_seek(m, key, nk), LSM_OK);
            assert_matches_model(m, &rs, model_lower_bound(&rs, key, nk));
        }
        iter_destroy(m);
        assert_int_equal(vec_destroyed - destroyed_before, rs.n_children);
    }
}

static void test_merge_exact_tie_by_child_index(void **state)
{
    (void)state;
    /* Same key, same seq in three children: the lower index comes first,
     * whatever the values are. */
    entry c0[] = {mk("k", 5, "zzz-newest")};
    entry c1[] = {mk("j", 9, "j"), mk("k", 5, "mmm")};
    entry c2[] = {mk("k", 5, "aaa-oldest"), mk("k", 4, "older")};
    iter *children[] = {vec_new(c0, 1), vec_new(c1, 2), vec_new(c2, 2)};
    iter *m = merge_iter_new(children, 3);
    assert_non_null(m);
    assert_int_equal(iter_seek(m, NULL, 0), LSM_OK);
    entry want[] = {c1[0], c0[0], c1[1], c2[0], c2[1]};
    assert_yields(m, want, N_OF(want));
    iter_destroy(m);
}

static void test_merge_tombstones_and_versions_pass_through(void **state)
{
    (void)state;
    entry mem[] = {mk("a", 10, NULL), mk("b", 12, "b12")};
    entry l0[] = {mk("a", 3, "a3"), mk("b", 2, NULL), mk("c", 1, "")};
    iter *children[] = {vec_new(mem, 2), vec_new(l0, 3)};
    iter *m = merge_iter_new(children, 2);
    assert_int_equal(iter_seek(m, NULL, 0), LSM_OK);
    entry want[] = {mem[0], l0[0], mem[1], l0[1], l0[2]};
    assert_yields(m, want, N_OF(want));
    iter_destroy(m);
}

static void test_merge_num_active_and_seek_middle(void **state)
{
    (void)state;
    entry left[] = {mk("a", 1, "a"), mk("b", 2, "b"), mk("c", 3, "c")};
    entry right[] = {mk("d", 4, "d"), mk("e", 5, "e"), mk("f", 6, "f")};
    iter *children[] = {vec_new(left, 3), vec_new(right, 3)};
    iter *m = merge_iter_new(children, 2);
    assert_int_equal(iter_num_active(m), 0); /* not positioned */

    assert_int_equal(iter_seek(m, (const uint8_t *)"e", 1), LSM_OK);
    assert_int_equal(iter_num_active(m), 1);
    assert_yields(m, &right[1], 2);

    assert_int_equal(iter_seek(m, (const uint8_t *)"bb", 2), LSM_OK);
    assert_at(m, &left[2]);
    assert_int_equal(iter_num_active(m), 2);
    assert_int_equal(iter_next(m), LSM_OK);
    assert_at(m, &right[0]);
    assert_int_equal(iter_num_active(m), 1); /* left ran dry */

    assert_int_equal(iter_seek(m, NULL, 0), LSM_OK);
    assert_int_equal(iter_num_active(m), 2);
    assert_int_equal(iter_seek(m, (const uint8_t *)"g", 1), LSM_OK);
    assert_false(iter_valid(m));
    assert_int_equal(iter_num_active(m), 0);
    assert_int_equal(iter_next(m), LSM_OK); /* harmless past the end */
    iter_destroy(m);
}

static void test_merge_nested_counts_leaves(void **state)
{
    (void)state;
    entry x[] = {mk("a", 1, "x")};
    entry y[] = {mk("b", 1, "y")};
    entry z[] = {mk("c", 1, "z")};
    iter *inner_children[] = {vec_new(x, 1), vec_new(y, 1)};
    iter *inner = merge_iter_new(inner_children, 2);
    iter *outer_children[] = {inner, vec_new(z, 1)};
    iter *outer = merge_iter_new(outer_children, 2);
    assert_int_equal(iter_seek(outer, NULL, 0), LSM_OK);
    assert_int_equal(iter_num_active(outer), 3);
    assert_int_equal(iter_next(outer), LSM_OK);
    assert_int_equal(iter_num_active(outer), 2);
    entry want[] = {y[0], z[0]};
    assert_yields(outer, want, 2);
    int before = vec_destroyed;
    iter_destroy(outer);
    assert_int_equal(vec_destroyed - before, 3);
}

static void test_merge_no_children_and_empty_children(void **state)
{
    (void)state;
    iter *m = merge_iter_new(NULL, 0);
    assert_non_null(m);
    assert_false(iter_valid(m));
    assert_int_equal(iter_seek(m, NULL, 0), LSM_OK);
    assert_false(iter_valid(m));
    assert_int_equal(iter_num_active(m), 0);
    assert_int_equal(iter_next(m), LSM_OK);
    assert_int_equal(iter_seek(m, (const uint8_t *)"a", 1), LSM_OK);
    assert_false(iter_valid(m));
    iter_destroy(m);

    /* Empty children, a NULL child (an empty source), one real one. */
    entry only[] = {mk("m", 1, "v"), mk("n", 2, NULL)};
    iter *children[] = {vec_new(NULL, 0), NULL, vec_new(only, 2),
                        vec_new(NULL, 0)};
    m = merge_iter_new(children, 4);
    assert_non_null(m);
    assert_int_equal(iter_seek(m, NULL, 0), LSM_OK);
    assert_int_equal(iter_num_active(m), 1);
    assert_yields(m, only, 2);

    /* All children empty. */
    iter *empties[] = {vec_new(NULL, 0), vec_new(NULL, 0)};
    iter *m2 = merge_iter_new(empties, 2);
    assert_int_equal(iter_seek(m2, NULL, 0), LSM_OK);
    assert_false(iter_valid(m2));
    assert_int_equal(iter_num_active(m2), 0);
    iter_destroy(m2);
    iter_destroy(m);
    iter_destroy(NULL);
}

static void test_merge_propagates_child_errors(void **state)
{
    (void)state;
    entry good[] = {mk("a", 1, "a"), mk("c", 1, "c"), mk("e", 1, "e")};
    entry bad[] = {mk("b", 1, "b"), mk("d", 1, "d")};
    iter *children[] = {vec_new(good, 3), vec_new(bad, 2)};
    vec_iter *failing = (vec_iter *)children[1];
    failing->fail_next_at = 0; /* next while on "b" fails */
    iter *m = merge_iter_new(children, 2);
    assert_int_equal(iter_seek(m, NULL, 0), LSM_OK);
    assert_at(m, &good[0]);
    assert_int_equal(iter_next(m), LSM_OK);
    assert_at(m, &bad[0]);
    assert_int_equal(iter_next(m), LSM_ECORRUPT);
    assert_false(iter_valid(m));
    assert_int_equal(iter_num_active(m), 0);
    assert_int_equal(iter_next(m), LSM_ECORRUPT); /* the error is latched */

    /* A fresh seek recovers once the child does. */
    failing->fail_next_at = -1;
    assert_int_equal(iter_seek(m, (const uint8_t *)"c", 1), LSM_OK);
    entry want[] = {good[1], bad[1], good[2]};
    assert_yields(m, want, 3);

    failing->fail_seek = true;
    assert_int_equal(iter_seek(m, NULL, 0), LSM_EIO);
    assert_false(iter_valid(m));
    assert_int_equal(iter_num_active(m), 0);
    iter_destroy(m);
}

/* --- two_merge_iter ------------------------------------------------------- */

static void test_two_merge_matches_model(void **state)
{
    (void)state;
    static random_set rs;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        /* Child 1 is always empty in random_set_fill; use 3 children and
         * merge 0 with 2 so both sides usually have entries. */
        random_set_fill(&rs, 3, seed * 104729);
        rs.n_model = 0;
        for (size_t c = 0; c < 3; c += 2)
            for (size_t i = 0; i < rs.n[c]; i++) {
                rs.model[rs.n_model].e = rs.entries[c][i];
                rs.model[rs.n_model].child = c;
                rs.n_model++;
            }
        qsort(rs.model, rs.n_model, sizeof(tagged), tagged_cmp);

        iter *t = two_merge_iter_new(vec_new(rs.entries[0], rs.n[0]),
                                     vec_new(rs.entries[2], rs.n[2]));
        assert_non_null(t);
        assert_false(iter_valid(t));
        assert_int_equal(iter_num_active(t), 0);
        assert_int_equal(iter_seek(t, NULL, 0), LSM_OK);
        assert_matches_model(t, &rs, 0);
        uint64_t rng = seed;
        for (int s = 0; s < 20; s++) {
            uint8_t key[3];
            size_t nk = 1 + (size_t)(test_rng_next(&rng) % 3);
            for (size_t j = 0; j < nk; j++)
                key[j] = (uint8_t)("pq\0"[test_rng_next(&rng) % 3]);
            assert_int_equal(iter_seek(t, key, nk), LSM_OK);
            assert_matches_model(t, &rs, model_lower_bound(&rs, key, nk));
        }
        int before = vec_destroyed;
        iter_destroy(t);
        assert_int_equal(vec_destroyed - before, 2);
    }
}

static void test_two_merge_tie_null_and_num_active(void **state)
{
    (void)state;
    entry a[] = {mk("k", 5, "from-a"), mk("x", 1, NULL)};
    entry b[] = {mk("a", 1, "a"), mk("k", 5, "from-b"), mk("k", 3, "old")};
    iter *t = two_merge_iter_new(vec_new(a, 2), vec_new(b, 3));
    assert_int_equal(iter_seek(t, NULL, 0), LSM_OK);
    assert_int_equal(iter_num_active(t), 2);
    entry want[] = {b[0], a[0], b[1], b[2], a[1]};
    for (size_t i = 0; i < 4; i++) {
        assert_at(t, &want[i]);
        assert_int_equal(iter_num_active(t), 2);
        assert_int_equal(iter_next(t), LSM_OK);
    }
    assert_int_equal(iter_num_active(t), 1); /* b ran dry */
    assert_yields(t, &want[4], 1);

    /* Seek to the middle: "x" is only in a. */
    assert_int_equal(iter_seek(t, (const uint8_t *)"l", 1), LSM_OK);
    assert_int_equal(iter_num_active(t), 1);
    assert_yields(t, &a[1], 1);
    iter_destroy(t);

    /* The same with b first: b's entry now wins the tie. */
    t = two_merge_iter_new(vec_new(b, 3), vec_new(a, 2));
    assert_int_equal(iter_seek(t, NULL, 0), LSM_OK);
    entry want_swapped[] = {b[0], b[1], a[0], b[2], a[1]};
    assert_yields(t, want_swapped, 5);
    iter_destroy(t);

    /* NULL children are empty sources. */
    t = two_merge_iter_new(NULL, vec_new(b, 3));
    assert_int_equal(iter_seek(t, NULL, 0), LSM_OK);
    assert_int_equal(iter_num_active(t), 1);
    assert_yields(t, b, 3);
    iter_destroy(t);
    t = two_merge_iter_new(vec_new(a, 2), NULL);
    assert_int_equal(iter_seek(t, (const uint8_t *)"k", 1), LSM_OK);
    assert_yields(t, a, 2);
    iter_destroy(t);
    t = two_merge_iter_new(NULL, NULL);
    assert_non_null(t);
    assert_int_equal(iter_seek(t, NULL, 0), LSM_OK);
    assert_false(iter_valid(t));
    assert_int_equal(iter_num_active(t), 0);
    assert_int_equal(iter_next(t), LSM_OK);
    iter_destroy(t);
}

static void test_two_merge_over_merges_and_errors(void **state)
{
    (void)state;
    /* The engine's shape: two_merge(merge(memtables), merge(ssts)). */
    entry m0[] = {mk("b", 9, "mem-b")};
    entry m1[] = {mk("a", 8, NULL)};
    entry s0[] = {mk("a", 2, "sst-a"), mk("c", 1, "sst-c")};
    entry s1[] = {mk("d", 1, "sst-d")};
    iter *mems[] = {vec_new(m0, 1), vec_new(m1, 1)};
    iter *ssts[] = {vec_new(s0, 2), vec_new(s1, 1)};
    iter *t =
        two_merge_iter_new(merge_iter_new(mems, 2), merge_iter_new(ssts, 2));
    assert_int_equal(iter_seek(t, NULL, 0), LSM_OK);
    assert_int_equal(iter_num_active(t), 4);
    assert_int_equal(iter_seek(t, (const uint8_t *)"c", 1), LSM_OK);
    assert_int_equal(iter_num_active(t), 2);
    entry want[] = {s0[1], s1[0]};
    assert_yields(t, want, 2);
    int before = vec_destroyed;
    iter_destroy(t);
    assert_int_equal(vec_destroyed - before, 4);

    /* A child error surfaces from next and from seek, and is latched. */
    entry a[] = {mk("a", 1, "a"), mk("b", 1, "b")};
    entry b[] = {mk("c", 1, "c")};
    iter *va = vec_new(a, 2), *vb = vec_new(b, 1);
    ((vec_iter *)va)->fail_next_at = 1;
    t = two_merge_iter_new(va, vb);
    assert_int_equal(iter_seek(t, NULL, 0), LSM_OK);
    assert_int_equal(iter_next(t), LSM_OK);
    assert_at(t, &a[1]);
    assert_int_equal(iter_next(t), LSM_ECORRUPT);
    assert_false(iter_valid(t));
    assert_int_equal(iter_num_active(t), 0);
    assert_int_equal(iter_next(t), LSM_ECORRUPT);
    ((vec_iter *)vb)->fail_seek = true;
    assert_int_equal(iter_seek(t, NULL, 0), LSM_EIO);
    assert_false(iter_valid(t));
    ((vec_iter *)vb)->fail_seek = false;
    ((vec_iter *)va)->fail_next_at = -1;
    assert_int_equal(iter_seek(t, (const uint8_t *)"b", 1), LSM_OK);
    entry rest[] = {a[1], b[0]};
    assert_yields(t, rest, 2);
    iter_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_matches_model),
        cmocka_unit_test(test_merge_exact_tie_by_child_index),
        cmocka_unit_test(test_merge_tombstones_and_versions_pass_through),
        cmocka_unit_test(test_merge_num_active_and_seek_middle),
        cmocka_unit_test(test_merge_nested_counts_leaves),
        cmocka_unit_test(test_merge_no_children_and_empty_children),
        cmocka_unit_test(test_merge_propagates_child_errors),
        cmocka_unit_test(test_two_merge_matches_model),
        cmocka_unit_test(test_two_merge_tie_null_and_num_active),
        cmocka_unit_test(test_two_merge_over_merges_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
