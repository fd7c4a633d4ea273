/*
 * test_rangedel_api.c: range deletes through the public API (lsm.h only).
 *
 * lsm_delete_range and lsm_batch_delete_range: argument checks; gets,
 * scans and iterators in the memtable, after a flush (an SST holding only
 * range tombstones), with the tombstone in a newer source than the data;
 * snapshots older than the tombstone; writes after it; recovery from the
 * WAL and from SSTs; every compaction strategy in both modes, where a full
 * compaction drops the covered versions and, with no snapshot, the
 * tombstones themselves, but keeps both while a snapshot needs them;
 * compaction outputs split across a tombstone stay disjoint and each
 * covers its part; the instruments (explain, history, the WAL inspector,
 * the state); transactions conflict with a range delete of a key they
 * wrote or read or a range they scanned.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lsm_db *open_db(const char *dir, lsm_compaction comp, lsm_sched sched,
                       size_t target)
{
    lsm_options o;
    lsm_options_init(&o);
    o.compaction = comp;
    o.sched = sched;
    o.target_sst_size = target;
    o.block_size = 256;
    o.level0_file_num_compaction_trigger = 2;
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &o, &db), LSM_OK);
    return db;
}

static int del_range(lsm_db *db, const char *lo, const char *hi)
{
    return lsm_delete_range(db, lo, strlen(lo), hi, strlen(hi));
}

/* The keys a full scan returns, joined by spaces, into out. */
static void scan_keys(lsm_db *db, const lsm_snapshot *snap, char *out,
                      size_t cap)
{
    lsm_iter *it = NULL;
    assert_int_equal(snap ? lsm_scan_at(db, snap, NULL, NULL, &it)
                          : lsm_scan(db, NULL, NULL, &it),
                     LSM_OK);
    size_t at = 0;
    out[0] = '\0';
    while (lsm_iter_valid(it)) {
        size_t n;
        const char *k = lsm_iter_key(it, &n);
        at += (size_t)snprintf(out + at, cap - at, "%s%.*s", at ? " " : "",
                               (int)n, k);
        assert_int_equal(lsm_iter_next(it), LSM_OK);
    }
    lsm_iter_close(it);
}

static void test_arguments(void **state)
{
    lsm_db *db = open_db(*state, LSM_COMPACTION_NONE, LSM_SCHED_INLINE, 4096);
    assert_int_equal(del_range(db, "b", "a"), LSM_EINVAL);
    assert_int_equal(del_range(db, "b", "b"), LSM_EINVAL);
    assert_non_null(strstr(lsm_errmsg(), "start below its end"));
    assert_int_equal(lsm_delete_range(db, "", 0, "b", 1), LSM_EINVAL);
    assert_int_equal(lsm_delete_range(db, "a", 1, NULL, 3), LSM_EINVAL);
    assert_int_equal(lsm_delete_range(NULL, "a", 1, "b", 1), LSM_EINVAL);
    lsm_batch *b = NULL;
    assert_int_equal(lsm_batch_new(&b), LSM_OK);
    assert_int_equal(lsm_batch_delete_range(b, "z", 1, "a", 1), LSM_EINVAL);
    assert_int_equal(lsm_batch_count(b), 0);
    assert_int_equal(lsm_batch_delete_range(NULL, "a", 1, "z", 1), LSM_EINVAL);
    lsm_batch_free(b);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* a..h, one version each. */
static void put_letters(lsm_db *db, const char *value)
{
    for (char c = 'a'; c <= 'h'; c++) {
        char k[2] = {c, 0};
        test_put_str(db, k, value);
    }
}

static void test_memtable_reads(void **state)
{
    lsm_db *db =
        open_db(*state, LSM_COMPACTION_NONE, LSM_SCHED_INLINE, 1 << 20);
    char keys[64];
    put_letters(db, "v1");
    lsm_snapshot *before = NULL;
    assert_int_equal(lsm_snapshot_take(db, &before), LSM_OK);
    assert_int_equal(del_range(db, "c", "f"), LSM_OK);
    test_expect_get(db, "b", "v1");
    test_expect_get(db, "c", NULL);
    test_expect_get(db, "e", NULL);
    test_expect_get(db, "f", "v1"); /* the end is excluded */
    scan_keys(db, NULL, keys, sizeof keys);
    assert_string_equal(keys, "a b f g h");
    /* The snapshot predates the tombstone. */
    scan_keys(db, before, keys, sizeof keys);
    assert_string_equal(keys, "a b c d e f g h");
    /* A write after the tombstone shows. */
    test_put_str(db, "d", "v2");
    test_expect_get(db, "d", "v2");
    scan_keys(db, NULL, keys, sizeof keys);
    assert_string_equal(keys, "a b d f g h");
    /* A batch: the range hides the put before it, not the one after. */
    lsm_batch *b = NULL;
    assert_int_equal(lsm_batch_new(&b), LSM_OK);
    assert_int_equal(lsm_batch_put(b, "g", 1, "v3", 2), LSM_OK);
    assert_int_equal(lsm_batch_delete_range(b, "a", 1, "h", 1), LSM_OK);
    assert_int_equal(lsm_batch_put(b, "b", 1, "v3", 2), LSM_OK);
    assert_int_equal(lsm_write(db, b), LSM_OK);
    lsm_batch_free(b);
    scan_keys(db, NULL, keys, sizeof keys);
    assert_string_equal(keys, "b h");
    test_expect_get(db, "g", NULL);
    lsm_snapshot_release(before);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Data in an older SST, the tombstone in a newer one holding nothing
 * else: gets and scans read through it, and so does a reopen. */
static void test_tombstone_in_newer_sst(void **state)
{
    lsm_db *db =
        open_db(*state, LSM_COMPACTION_NONE, LSM_SCHED_INLINE, 1 << 20);
    char keys[64];
    put_letters(db, "v1");
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(del_range(db, "b", "e"), LSM_OK);
    assert_int_equal(lsm_flush(db), LSM_OK);
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_l0, 2);
    const lsm_sst_info *newest = &st->l0[0];
    assert_int_equal(newest->num_entries, 0);
    assert_int_equal(newest->n_range_tombstones, 1);
    assert_memory_equal(newest->first_key, "b", 1);
    /* The inspector reads the file of tombstones alone: no block, and the
     * tombstone as stored. */
    char sst_name[32];
    snprintf(sst_name, sizeof sst_name, "%llu.sst",
             (unsigned long long)newest->sst_id);
    char *sst_path = test_path(*state, sst_name);
    lsm_sst_report *r = NULL;
    assert_int_equal(lsm_sst_inspect(sst_path, &r), LSM_OK);
    assert_int_equal(r->num_blocks, 0);
    assert_int_equal(r->num_entries, 0);
    assert_int_equal(r->n_range_tombstones, 1);
    assert_int_equal(r->range_tombstones[0].nlo, 1);
    assert_memory_equal(r->range_tombstones[0].lo, "b", 1);
    assert_int_equal(r->range_tombstones[0].nhi, 1);
    assert_memory_equal(r->range_tombstones[0].hi, "e", 1);
    assert_int_equal(r->range_tombstones[0].seq, newest->max_seq);
    lsm_sst_report_free(r);
    free(sst_path);
    lsm_state_free(st);
    test_expect_get(db, "a", "v1");
    test_expect_get(db, "b", NULL);
    test_expect_get(db, "d", NULL);
    test_expect_get(db, "e", "v1");
    scan_keys(db, NULL, keys, sizeof keys);
    assert_string_equal(keys, "a e f g h");
    assert_int_equal(lsm_close(db), LSM_OK);
    db = open_db(*state, LSM_COMPACTION_NONE, LSM_SCHED_INLINE, 1 << 20);
    scan_keys(db, NULL, keys, sizeof keys);
    assert_string_equal(keys, "a e f g h");
    test_expect_get(db, "c", NULL);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* A crash (no close) keeps the tombstone in the WAL; reopening replays
 * it. The WAL inspector shows it. */
static void test_recovery_from_wal(void **state)
{
    lsm_options o;
    lsm_options_init(&o);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(*state, &o, &db), LSM_OK);
    put_letters(db, "v1");
    assert_int_equal(del_range(db, "c", "e"), LSM_OK);
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->memtable.n_range_tombstones, 1);
    assert_int_equal(st->memtable.range_tombstones[0].seq, 9);
    char wal[64];
    snprintf(wal, sizeof wal, "%" PRIu64 ".wal", st->memtable.memtable_id);
    lsm_state_free(st);
    char *path = test_path(*state, wal);
    lsm_wal_record *recs = NULL;
    size_t n = 0;
    assert_int_equal(lsm_wal_read_file(path, &recs, &n, NULL), LSM_OK);
    assert_int_equal(n, 9);
    const lsm_wal_entry *e = &recs[8].entries[0];
    assert_true(e->range_delete && !e->tombstone);
    assert_int_equal(e->nkey, 1);
    assert_memory_equal(e->key, "c", 1);
    assert_int_equal(e->nend, 1);
    assert_memory_equal(e->end, "e", 1);
    lsm_wal_free(recs, n);
    free(path);
    /* Leave without closing: the child of a fork would be cleaner; the
     * handle is simply abandoned, as a crash leaves the files. */
    char keys[64];
    lsm_db *again = NULL;
    lsm_options ro = o;
    ro.read_only = 1;
    assert_int_equal(lsm_open(*state, &ro, &again), LSM_OK);
    scan_keys(again, NULL, keys, sizeof keys);
    assert_string_equal(keys, "a b e f g h");
    assert_int_equal(lsm_close(again), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Fills k0000..k0199, flushes, deletes [k0050, k0150), flushes, compacts
 * fully: the covered keys are gone from the files, and so is the
 * tombstone (nothing lies below the bottom, no snapshot). */
static void compaction_drops(const char *dir, lsm_compaction comp,
                             lsm_sched sched)
{
    lsm_db *db = open_db(dir, comp, sched, 2048);
    test_put_range(db, "k", 0, 200, "value-of-some-length");
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_delete_range(db, "k0050", 5, "k0150", 5), LSM_OK);
    test_expect_range(db, "k", 40, 50, "value-of-some-length");
    test_expect_range(db, "k", 50, 60, NULL);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    test_expect_range(db, "k", 0, 50, "value-of-some-length");
    test_expect_range(db, "k", 50, 150, NULL);
    test_expect_range(db, "k", 150, 200, "value-of-some-length");
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    uint64_t entries = 0, tombs = 0;
    for (size_t i = 0; i < st->n_l0; i++)
        entries += st->l0[i].num_entries, tombs += st->l0[i].n_range_tombstones;
    for (size_t l = 0; l < st->n_levels; l++)
        for (size_t i = 0; i < st->levels[l].n_ssts; i++) {
            entries += st->levels[l].ssts[i].num_entries;
            tombs += st->levels[l].ssts[i].n_range_tombstones;
        }
    lsm_state_free(st);
    assert_int_equal(entries, 100);
    assert_int_equal(tombs, 0);
    assert_int_equal(lsm_close(db), LSM_OK);
    db = open_db(dir, comp, sched, 2048);
    test_expect_range(db, "k", 50, 150, NULL);
    test_expect_range(db, "k", 150, 200, "value-of-some-length");
    assert_int_equal(lsm_close(db), LSM_OK);
}

static void test_compaction_every_strategy(void **state)
{
    static const lsm_compaction comps[] = {
        LSM_COMPACTION_NONE, LSM_COMPACTION_SIMPLE, LSM_COMPACTION_TIERED,
        LSM_COMPACTION_LEVELED};
    for (size_t c = 0; c < 4; c++)
        for (int m = 0; m < 2; m++) {
            char sub[64];
            snprintf(sub, sizeof sub, "c%zu-m%d", c, m);
            char *dir = test_path(*state, sub);
            compaction_drops(dir, comps[c],
                             m ? LSM_SCHED_THREADS : LSM_SCHED_INLINE);
            free(dir);
        }
}

/* A snapshot older than the tombstone keeps both the covered versions and
 * the tombstone through a full compaction. */
static void test_snapshot_keeps_covered(void **state)
{
    lsm_db *db =
        open_db(*state, LSM_COMPACTION_LEVELED, LSM_SCHED_INLINE, 2048);
    test_put_range(db, "k", 0, 100, "old");
    lsm_snapshot *snap = NULL;
    assert_int_equal(lsm_snapshot_take(db, &snap), LSM_OK);
    assert_int_equal(lsm_delete_range(db, "k0010", 5, "k0090", 5), LSM_OK);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    test_expect_range(db, "k", 10, 90, NULL);
    void *v = NULL;
    size_t n = 0;
    assert_int_equal(lsm_get_at(db, snap, "k0050", 5, &v, &n), LSM_OK);
    assert_int_equal(n, 3);
    lsm_free(v);
    lsm_snapshot_release(snap);
    /* No read point left: the next full compaction drops them. */
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    test_expect_range(db, "k", 0, 10, "old");
    test_expect_range(db, "k", 10, 90, NULL);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Outputs cut inside a tombstone: every output SST's range covers its
 * part, the level stays disjoint, and reads agree after a reopen. */
static void test_split_outputs(void **state)
{
    lsm_db *db =
        open_db(*state, LSM_COMPACTION_LEVELED, LSM_SCHED_INLINE, 1024);
    test_put_range(db, "k", 0, 400, "0123456789");
    assert_int_equal(lsm_flush(db), LSM_OK);
    lsm_snapshot *snap = NULL; /* keeps the tombstone in the bottom level */
    assert_int_equal(lsm_snapshot_take(db, &snap), LSM_OK);
    assert_int_equal(lsm_delete_range(db, "k0100", 5, "k0300", 5), LSM_OK);
    test_put_str(db, "k0200", "new");
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    size_t with_tombs = 0;
    for (size_t l = 0; l < st->n_levels; l++) {
        const lsm_level_info *lv = &st->levels[l];
        for (size_t i = 0; i < lv->n_ssts; i++) {
            const lsm_sst_info *s = &lv->ssts[i];
            with_tombs += s->n_range_tombstones > 0;
            for (size_t t = 0; t < s->n_range_tombstones; t++) {
                const lsm_range_tombstone *r = &s->range_tombstones[t];
                assert_true(memcmp(s->first_key, r->lo,
                                   s->nfirst_key < r->nlo ? s->nfirst_key
                                                          : r->nlo) <= 0);
            }
            if (i > 0) {
                const lsm_sst_info *p = &lv->ssts[i - 1];
                size_t m =
                    p->nlast_key < s->nfirst_key ? p->nlast_key : s->nfirst_key;
                int c = memcmp(p->last_key, s->first_key, m);
                assert_true(c < 0 || (c == 0 && p->nlast_key < s->nfirst_key));
            }
        }
    }
    lsm_state_free(st);
    assert_true(with_tombs >= 2); /* the tombstone was cut */
    test_expect_range(db, "k", 100, 200, NULL);
    test_expect_get(db, "k0200", "new");
    test_expect_range(db, "k", 201, 300, NULL);
    test_expect_range(db, "k", 300, 400, "0123456789");
    void *v = NULL;
    size_t n = 0;
    assert_int_equal(lsm_get_at(db, snap, "k0150", 5, &v, &n), LSM_OK);
    lsm_free(v);
    lsm_snapshot_release(snap);
    assert_int_equal(lsm_close(db), LSM_OK);
    db = open_db(*state, LSM_COMPACTION_LEVELED, LSM_SCHED_INLINE, 1024);
    test_expect_range(db, "k", 250, 300, NULL);
    test_expect_range(db, "k", 0, 100, "0123456789");
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* A compaction that cuts its outputs just after a key of the largest
 * size: the tombstones of the next output cannot start at that key plus a
 * zero byte (one byte longer than any key, so no SST may hold it as a
 * start), yet the compaction must succeed and the tombstone keep hiding
 * both keys. */
static void test_split_after_longest_key(void **state)
{
    lsm_db *db =
        open_db(*state, LSM_COMPACTION_LEVELED, LSM_SCHED_INLINE, 1024);
    size_t nlong = LSM_MAX_KEY_BYTES;
    char *longest = malloc(nlong);
    assert_non_null(longest);
    memset(longest, 'x', nlong);
    longest[0] = 'a';
    assert_int_equal(lsm_put(db, longest, nlong, "old", 3), LSM_OK);
    test_put_str(db, "b", "old");
    assert_int_equal(lsm_flush(db), LSM_OK);
    lsm_snapshot *snap = NULL; /* keeps the tombstone through compaction */
    assert_int_equal(lsm_snapshot_take(db, &snap), LSM_OK);
    assert_int_equal(del_range(db, "a", "c"), LSM_OK);
    assert_int_equal(lsm_flush(db), LSM_OK);
    /* The output that holds the longest key is full (its key alone is
     * above target_sst_size), so "b" starts a second one. */
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    /* Two outputs, each with its part of the tombstone, disjoint: the
     * first ends at the longest key, the second's part starts above it
     * (no key lies between them), ... */
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    const lsm_level_info *bottom = &st->levels[st->n_levels - 1];
    assert_int_equal(bottom->n_ssts, 2);
    const lsm_sst_info *first = &bottom->ssts[0], *second = &bottom->ssts[1];
    assert_int_equal(first->n_range_tombstones, 1);
    assert_int_equal(second->n_range_tombstones, 1);
    assert_int_equal(first->nlast_key, nlong);
    assert_memory_equal(first->last_key, longest, nlong);
    /* ... at the longest key's successor: its last byte raised. */
    longest[nlong - 1]++;
    assert_int_equal(second->range_tombstones[0].nlo, nlong);
    assert_memory_equal(second->range_tombstones[0].lo, longest, nlong);
    longest[nlong - 1]--;
    lsm_state_free(st);
    void *v = NULL;
    size_t n = 0;
    assert_int_equal(lsm_get(db, longest, nlong, &v, &n), LSM_NOTFOUND);
    assert_int_equal(lsm_get(db, "b", 1, &v, &n), LSM_NOTFOUND);
    assert_int_equal(lsm_get_at(db, snap, "b", 1, &v, &n), LSM_OK);
    assert_int_equal(n, 3);
    lsm_free(v);
    lsm_snapshot_release(snap);
    assert_int_equal(lsm_close(db), LSM_OK);
    db = open_db(*state, LSM_COMPACTION_LEVELED, LSM_SCHED_INLINE, 1024);
    assert_int_equal(lsm_get(db, longest, nlong, &v, &n), LSM_NOTFOUND);
    assert_int_equal(lsm_get(db, "b", 1, &v, &n), LSM_NOTFOUND);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(longest);
}

static void test_instruments(void **state)
{
    lsm_db *db =
        open_db(*state, LSM_COMPACTION_NONE, LSM_SCHED_INLINE, 1 << 20);
    test_put_str(db, "m", "v");
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(del_range(db, "a", "z"), LSM_OK); /* seq 2 */
    void *v = NULL;
    size_t n = 0;
    lsm_read_trace *t = NULL;
    assert_int_equal(lsm_get_explain(db, "m", 1, &v, &n, &t), LSM_NOTFOUND);
    assert_int_equal(t->range_tombstone_seq, 2);
    lsm_read_trace_free(t);
    assert_int_equal(lsm_get_explain(db, "zz", 2, &v, &n, &t), LSM_NOTFOUND);
    assert_int_equal(t->range_tombstone_seq, 0);
    lsm_read_trace_free(t);
    lsm_key_version *h = NULL;
    assert_int_equal(lsm_key_history(db, "m", 1, &h, &n), LSM_OK);
    assert_int_equal(n, 2);
    assert_true(h[0].range_delete && h[0].tombstone);
    assert_int_equal(h[0].seq, 2);
    assert_memory_equal(h[0].range_lo, "a", 1);
    assert_memory_equal(h[0].range_hi, "z", 1);
    assert_false(h[1].range_delete);
    assert_int_equal(h[1].seq, 1);
    lsm_key_history_free(h, n);
    lsm_iter *it = NULL;
    assert_int_equal(lsm_scan_explain(db, NULL, NULL, &it), LSM_OK);
    assert_false(lsm_iter_valid(it));
    assert_int_equal(lsm_iter_trace(it, &t), LSM_OK);
    assert_int_equal(t->range_deleted_skipped, 1);
    lsm_read_trace_free(t);
    lsm_iter_close(it);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* A commit conflicts with a range delete committed after it began over a
 * key it wrote (both levels) or read, or a range it scanned
 * (serializable). */
static void test_transactions(void **state)
{
    lsm_db *db =
        open_db(*state, LSM_COMPACTION_NONE, LSM_SCHED_INLINE, 1 << 20);
    put_letters(db, "v1");
    lsm_txn *w = NULL, *r = NULL, *s = NULL, *ok = NULL;
    assert_int_equal(lsm_txn_begin(db, LSM_ISOLATION_SNAPSHOT, &w), LSM_OK);
    assert_int_equal(lsm_txn_put(w, "c", 1, "x", 1), LSM_OK);
    assert_int_equal(lsm_txn_begin(db, LSM_ISOLATION_SERIALIZABLE, &r), LSM_OK);
    void *v = NULL;
    size_t n = 0;
    assert_int_equal(lsm_txn_get(r, "d", 1, &v, &n), LSM_OK);
    lsm_free(v);
    assert_int_equal(lsm_txn_put(r, "zz", 2, "x", 1), LSM_OK);
    assert_int_equal(lsm_txn_begin(db, LSM_ISOLATION_SERIALIZABLE, &s), LSM_OK);
    lsm_bound lo = {LSM_BOUND_INCLUDED, "cc", 2};
    lsm_bound hi = {LSM_BOUND_INCLUDED, "cz", 2};
    lsm_iter *it = NULL;
    assert_int_equal(lsm_txn_scan(s, &lo, &hi, &it), LSM_OK);
    assert_false(lsm_iter_valid(it)); /* nothing there */
    lsm_iter_close(it);
    assert_int_equal(lsm_txn_put(s, "zz", 2, "y", 1), LSM_OK);
    assert_int_equal(lsm_txn_begin(db, LSM_ISOLATION_SERIALIZABLE, &ok),
                     LSM_OK);
    assert_int_equal(lsm_txn_put(ok, "a", 1, "y", 1), LSM_OK);
    assert_int_equal(del_range(db, "c", "e"), LSM_OK); /* seq 9 */
    lsm_commit_info info;
    assert_int_equal(lsm_txn_commit(w, &info), LSM_ECONFLICT);
    assert_int_equal(info.conflict, LSM_CONFLICT_WRITE);
    assert_int_equal(info.conflict_seq, 9);
    lsm_free(info.key);
    assert_int_equal(lsm_txn_commit(r, &info), LSM_ECONFLICT);
    assert_int_equal(info.conflict, LSM_CONFLICT_READ);
    assert_memory_equal(info.key, "d", 1);
    lsm_free(info.key);
    assert_int_equal(lsm_txn_commit(s, &info), LSM_ECONFLICT);
    assert_int_equal(info.conflict, LSM_CONFLICT_RANGE);
    assert_int_equal(info.nkey, 2);
    assert_memory_equal(info.key, "cc", 2); /* the first key they share */
    assert_int_equal(info.conflict_seq, 9);
    lsm_free(info.key);
    assert_int_equal(lsm_txn_commit(ok, &info), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_arguments, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_memtable_reads, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_in_newer_sst,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_from_wal, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_compaction_every_strategy,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_keeps_covered,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_split_outputs, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_split_after_longest_key,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_instruments, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_transactions, test_dir_setup,
                                        test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
