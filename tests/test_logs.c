/*
 * test_logs.c: corruption sweeps of the logs (log_int.h framing, the WAL of
 * wal_int.h, the MANIFEST of manifest_int.h) and of a whole database.
 *
 * The unit sweeps write a log of about twenty records, then for EVERY
 * truncation length and for byte flips at EVERY offset replay the altered
 * copy and check what log_int.h promises:
 *   - a truncated log replays exactly the records wholly inside the prefix
 *     (a batch all or nothing), reports the torn bytes and is cut to the end
 *     of the last whole record, after which it replays cleanly (and, for the
 *     manifest, takes new records);
 *   - a flip in a record's length or length check (rule 2), or anywhere in a
 *     record that is not the last, is LSM_ECORRUPT naming the file and that
 *     record's offset, leaves the file as it was, and replays nothing but
 *     whole records from before it;
 *   - a flip in the payload checksum or payload of the LAST record is a
 *     torn tail (rule 4): every earlier record replays, that one is cut.
 * No replayed entry or record ever differs from what was written.
 *
 * The engine sweep builds a database with L0 and L1 SSTs, a MANIFEST with
 * flushes and a compaction, and a WAL holding unflushed writes, copies its
 * files while it is open, then damages one file of a fresh copy at a time
 * and opens it. lsm_open must return LSM_OK or LSM_ECORRUPT with a message
 * naming the damaged file (or, for manifest damage, a file of the database),
 * never crash; when it opens, every get and scan returns correct data or an
 * error:
 *   - WAL: every truncation recovers exactly the SSTs plus the writes
 *     wholly inside the prefix, with a warning event iff bytes were cut;
 *     flips follow the log rules above;
 *   - SSTs (every live one; a sample of about 60 offsets each, footer
 *     included, to keep the test short under ASan): truncations fail the
 *     open; flips fail the open or a read, and nothing read differs from
 *     what was written;
 *   - MANIFEST, every cut and flips at every offset: flips before the last
 *     record fail the open; the rest open or fail naming a file, and what
 *     they read is real data (every value one its key really held);
 *   - and, separately, the MANIFEST cuts and last-record flips must not
 *     lose acknowledged data silently: the copy's SSTs and WAL still hold
 *     every write, so the open either has all of them or fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log/batch_int.h"
#include "util/coding_int.h"
#include "iter/iter_int.h"
#include "log/log_int.h"
#include "log/manifest_int.h"
#include "log/wal_int.h"

#include "testutil.h"

#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>

/* log_int.h rule 2: a damaged length or length check (the first 8 header
 * bytes) is corruption, even in the last record. */
#define LOG_LENGTH_FIELDS_BYTES 8

/* --- Files and randomness ------------------------------------------------- */

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(len >= 0);
    uint8_t *data = malloc((size_t)len + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return data;
}

static void spit(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot write %s", path);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static uint64_t size_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("cannot stat %s", path);
    return (uint64_t)st.st_size;
}

static uint64_t rng_state;

/* The suite's stream (testutil.h's generator), reseeded per case. */
static uint64_t rng_next(void)
{
    return test_rng_next(&rng_state);
}

static size_t rng_below(size_t n)
{
    return (size_t)(rng_next() % n);
}

/* Every test works in its own directory under /tmp, made by scratch_setup
 * and removed by scratch_teardown even when the test fails. */
static char *scratch;

static int scratch_setup(void **state)
{
    (void)state;
    scratch = test_mkdtemp();
    return 0;
}

static int scratch_teardown(void **state)
{
    (void)state;
    int rc = test_rmtree(scratch);
    free(scratch);
    scratch = NULL;
    return rc;
}

/* Makes the directory <scratch>/<name> (which must not exist) and returns
 * its path, which the caller frees. */
static char *scratch_subdir(const char *name)
{
    char *dir = test_path(scratch, name);
    if (mkdir(dir, 0700) != 0)
        fail_msg("cannot create %s", dir);
    return dir;
}

/* --- Error messages ------------------------------------------------------- */

/* True when msg holds "offset <offset>" with no digit after it. */
static bool names_offset(const char *msg, uint64_t offset)
{
    char want[40];
    int n = snprintf(want, sizeof want, "offset %" PRIu64, offset);
    for (const char *p = strstr(msg, want); p; p = strstr(p + 1, want))
        if (p[n] < '0' || p[n] > '9')
            return true;
    return false;
}

/* rc must be LSM_ECORRUPT with a message naming path and, unless offset is
 * UINT64_MAX, the offset. */
static void assert_corrupt_names(int rc, const char *path, uint64_t offset,
                                 const char *what)
{
    const char *msg = lsm_errmsg();
    if (rc != LSM_ECORRUPT)
        fail_msg("%s: expected LSM_ECORRUPT, got %d (%s): %s", what, rc,
                 lsm_strerror(rc), msg);
    if (!strstr(msg, path))
        fail_msg("%s: the message does not name %s: %s", what, path, msg);
    if (offset != UINT64_MAX && !names_offset(msg, offset))
        fail_msg("%s: the message does not name offset %" PRIu64 ": %s", what,
                 offset, msg);
}

/* --- A generic log sweep -------------------------------------------------- */

/* What one replay of an altered log gave. */
typedef struct replay_result {
    int rc;
    size_t n_records; /* whole records delivered, each as written */
    uint64_t torn;    /* on LSM_OK */
} replay_result;

/* A log on disk and how to replay it. rec_off[i] is where record i starts;
 * rec_off[n_recs] is the size of the intact log. */
typedef struct log_under_test {
    const char *name; /* for failure messages */
    const char *path;
    const uint8_t *orig;
    size_t size;
    const uint64_t *rec_off;
    size_t n_recs;
    /* Replays path and checks every delivered record against the original
     * records; fails the test on a difference or a partial record. */
    void (*replay)(void *ctx, const char *path, replay_result *out);
    /* After a successful replay of a prefix holding k whole records: checks
     * that the cut log takes new records (may be NULL). */
    void (*append_after_cut)(void *ctx, const char *path, size_t k);
    void *ctx;
} log_under_test;

/* Index of the record holding byte off. */
static size_t record_holding(const log_under_test *l, uint64_t off)
{
    size_t i = 0;
    while (i + 1 < l->n_recs && l->rec_off[i + 1] <= off)
        i++;
    return i;
}

/* Replays every prefix of the log, from empty to whole: a crash can cut an
 * append anywhere, and each cut must lose only the record it cut. */
static void sweep_truncations(const log_under_test *l)
{
    size_t k = 0; /* records wholly inside [0, len) */
    for (size_t len = 0; len <= l->size; len++) {
        while (k < l->n_recs && l->rec_off[k + 1] <= len)
            k++;
        spit(l->path, l->orig, len);
        replay_result r;
        l->replay(l->ctx, l->path, &r);
        if (r.rc != LSM_OK)
            fail_msg("%s cut to %zu bytes: %s", l->name, len, lsm_errmsg());
        if (r.n_records != k || r.torn != len - l->rec_off[k])
            fail_msg("%s cut to %zu bytes: %zu records and %" PRIu64
                     " torn bytes, want %zu and %" PRIu64,
                     l->name, len, r.n_records, r.torn, k, len - l->rec_off[k]);
        assert_int_equal(size_of(l->path), l->rec_off[k]);
        /* The cut log replays cleanly. */
        l->replay(l->ctx, l->path, &r);
        assert_int_equal(r.rc, LSM_OK);
        assert_int_equal(r.n_records, k);
        assert_int_equal(r.torn, 0);
        if (l->append_after_cut && k < l->n_recs)
            l->append_after_cut(l->ctx, l->path, k);
    }
}

/* Flips bits of the byte at every offset (one bit, then all eight). */
static void sweep_flips(const log_under_test *l)
{
    uint8_t *copy = malloc(l->size);
    assert_non_null(copy);
    size_t last = l->n_recs - 1;
    for (size_t off = 0; off < l->size; off++) {
        const uint8_t masks[2] = {(uint8_t)(1u << (off % 8)), 0xff};
        size_t i = record_holding(l, off);
        uint64_t pos = off - l->rec_off[i];
        for (size_t m = 0; m < 2; m++) {
            memcpy(copy, l->orig, l->size);
            copy[off] ^= masks[m];
            spit(l->path, copy, l->size);
            replay_result r;
            l->replay(l->ctx, l->path, &r);
            char what[160];
            snprintf(what, sizeof what,
                     "%s, flip 0x%02x at offset %zu (record %zu at %" PRIu64
                     ")",
                     l->name, masks[m], off, i, l->rec_off[i]);
            if (i == last && pos >= LOG_LENGTH_FIELDS_BYTES) {
                /* A torn last record: everything before it survives. */
                if (r.rc != LSM_OK)
                    fail_msg("%s: %s", what, lsm_errmsg());
                if (r.n_records != last || r.torn != l->size - l->rec_off[last])
                    fail_msg("%s: %zu records, %" PRIu64 " torn bytes", what,
                             r.n_records, r.torn);
                assert_int_equal(size_of(l->path), l->rec_off[last]);
            } else {
                assert_corrupt_names(r.rc, l->path, l->rec_off[i], what);
                if (r.n_records > i)
                    fail_msg("%s: %zu records replayed", what, r.n_records);
                assert_int_equal(size_of(l->path), l->size); /* kept */
            }
        }
    }
    free(copy);
}

/* --- The WAL -------------------------------------------------------------- */

typedef struct wal_entry_copy {
    uint64_t seq;
    uint8_t type;
    uint8_t *key;
    size_t nkey;
    uint8_t *value;
    size_t nvalue;
} wal_entry_copy;

#define WAL_RECORDS 20
#define WAL_MAX_ENTRIES (WAL_RECORDS * 6)

typedef struct wal_fixture {
    wal_entry_copy want[WAL_MAX_ENTRIES]; /* every entry written, in order */
    size_t n_want;
    size_t first_entry[WAL_RECORDS + 1]; /* of each record, then n_want */
    uint64_t rec_off[WAL_RECORDS + 1];
    /* What the current replay delivered. */
    wal_entry_copy got[WAL_MAX_ENTRIES];
    size_t n_got;
} wal_fixture;

/* A malloc'd copy of p[0..n) (one spare byte, so n may be 0); the caller
 * frees it. */
static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *c = malloc(n + 1);
    assert_non_null(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

static void entry_copy_free(wal_entry_copy *e)
{
    free(e->key);
    free(e->value);
}

static bool entry_copies_equal(const wal_entry_copy *a, const wal_entry_copy *b)
{
    return a->seq == b->seq && a->type == b->type && a->nkey == b->nkey &&
           memcmp(a->key, b->key, a->nkey) == 0 && a->nvalue == b->nvalue &&
           (a->nvalue == 0 || memcmp(a->value, b->value, a->nvalue) == 0);
}

/* Keeps a copy of every replayed entry (freed by wal_replay_checked). */
static int wal_collect(void *ctx, uint64_t seq, uint8_t type,
                       const uint8_t *key, size_t nkey, const uint8_t *value,
                       size_t nvalue)
{
    wal_fixture *f = ctx;
    if (f->n_got == WAL_MAX_ENTRIES)
        fail_msg("more entries replayed than were written");
    wal_entry_copy *e = &f->got[f->n_got++];
    e->seq = seq;
    e->type = type;
    e->key = dup_bytes(key, nkey);
    e->nkey = nkey;
    e->value = dup_bytes(value, nvalue);
    e->nvalue = nvalue;
    return LSM_OK;
}

/* Replays the WAL; the delivered entries must be exactly the entries of the
 * first k records, for some k. */
static void wal_replay_checked(void *ctx, const char *path, replay_result *out)
{
    wal_fixture *f = ctx;
    f->n_got = 0;
    out->torn = UINT64_MAX;
    out->rc = wal_replay(env_posix(), path, wal_collect, f, &out->torn);
    size_t k = 0;
    while (k < WAL_RECORDS && f->first_entry[k + 1] <= f->n_got)
        k++;
    if (f->first_entry[k] != f->n_got)
        fail_msg("%zu entries replayed: record %zu was split", f->n_got, k);
    for (size_t i = 0; i < f->n_got; i++) {
        if (!entry_copies_equal(&f->got[i], &f->want[i]))
            fail_msg("replayed entry %zu (seq %" PRIu64 ") differs from "
                     "what was written (seq %" PRIu64 ")",
                     i, f->got[i].seq, f->want[i].seq);
        entry_copy_free(&f->got[i]);
    }
    out->n_records = k;
}

/* Adds one entry to the batch and to the list of what was written. */
static void wal_add_entry(wal_fixture *f, lsm_batch *b, uint64_t seq,
                          uint8_t type, const uint8_t *key, size_t nkey,
                          const uint8_t *value, size_t nvalue)
{
    assert_int_equal(batch_add(b, type, key, nkey, value, nvalue), LSM_OK);
    assert_true(f->n_want < WAL_MAX_ENTRIES);
    wal_entry_copy *e = &f->want[f->n_want++];
    e->seq = seq;
    e->type = type;
    e->key = dup_bytes(key, nkey);
    e->nkey = nkey;
    e->value = dup_bytes(value, nvalue);
    e->nvalue = nvalue;
}

/* Writes WAL_RECORDS records to path: single puts and deletes, batches of 2
 * to 5 entries, an empty value, a 300-byte value and a 200-byte key. */
static void wal_build(wal_fixture *f, const char *path)
{
    memset(f, 0, sizeof *f);
    rng_state = 0x5eed0001;
    wal *w;
    assert_int_equal(wal_create(env_posix(), path, &w), LSM_OK);
    uint64_t seq = 1;
    for (size_t r = 0; r < WAL_RECORDS; r++) {
        lsm_batch b;
        batch_init(&b);
        f->first_entry[r] = f->n_want;
        size_t count = r % 4 == 1 ? 2 + rng_below(4) : 1;
        for (size_t i = 0; i < count; i++) {
            uint8_t key[200], value[300];
            size_t nkey = (size_t)snprintf((char *)key, sizeof key, "key%02zu",
                                           rng_below(12));
            if (r == 7 && i == 0) {
                memset(key, 'L', sizeof key);
                nkey = sizeof key;
            }
            uint8_t type = rng_below(6) == 0 ? ENTRY_TOMBSTONE : ENTRY_VALUE;
            size_t nvalue = type == ENTRY_VALUE ? rng_below(24) : 0;
            if (r == 3)
                type = ENTRY_VALUE, nvalue = 0;
            if (r == 11 && i == 0)
                type = ENTRY_VALUE, nvalue = sizeof value;
            for (size_t j = 0; j < nvalue; j++)
                value[j] = (uint8_t)rng_next();
            wal_add_entry(f, &b, seq++, type, key, nkey, value, nvalue);
        }
        batch_set_first_seq(&b, f->want[f->first_entry[r]].seq);
        size_t n;
        const uint8_t *payload = batch_payload(&b, &n);
        assert_ptr_equal(payload, b.rep + LOG_HEADER_BYTES);
        assert_int_equal(b.count, count);
        f->rec_off[r + 1] = f->rec_off[r] + LOG_HEADER_BYTES + n;
        assert_int_equal(wal_append(w, b.rep, n, r % 5 == 0), LSM_OK);
        batch_release(&b);
    }
    f->first_entry[WAL_RECORDS] = f->n_want;
    assert_int_equal(wal_close(w), LSM_OK);
    assert_int_equal(size_of(path), f->rec_off[WAL_RECORDS]);
}

static void wal_fixture_free(wal_fixture *f)
{
    for (size_t i = 0; i < f->n_want; i++)
        entry_copy_free(&f->want[i]);
}

static void test_wal_round_trip(void **state)
{
    (void)state;
    char *path = test_path(scratch, "5.wal");
    wal_fixture *f = malloc(sizeof *f);
    assert_non_null(f);
    wal_build(f, path);
    replay_result r;
    wal_replay_checked(f, path, &r);
    assert_int_equal(r.rc, LSM_OK);
    assert_int_equal(r.n_records, WAL_RECORDS);
    assert_int_equal(r.torn, 0);
    /* A missing log is an I/O error naming it, not an empty log. */
    char *missing = test_path(scratch, "6.wal");
    uint64_t torn;
    assert_int_equal(wal_replay(env_posix(), missing, wal_collect, f, &torn),
                     LSM_EIO);
    assert_non_null(strstr(lsm_errmsg(), missing));
    free(missing);
    wal_fixture_free(f);
    free(f);
    free(path);
}

static void test_wal_sweeps(void **state)
{
    (void)state;
    char *path = test_path(scratch, "5.wal");
    wal_fixture *f = malloc(sizeof *f);
    assert_non_null(f);
    wal_build(f, path);
    size_t size;
    uint8_t *orig = slurp(path, &size);
    print_message("WAL sweep over %zu bytes, %d records\n", size, WAL_RECORDS);
    log_under_test l = {.name = "WAL",
                        .path = path,
                        .orig = orig,
                        .size = size,
                        .rec_off = f->rec_off,
                        .n_recs = WAL_RECORDS,
                        .replay = wal_replay_checked,
                        .ctx = f};
    sweep_truncations(&l);
    sweep_flips(&l);
    free(orig);
    wal_fixture_free(f);
    free(f);
    free(path);
}

/* A record whose payload fails to decode applies nothing, and the replay
 * names the log and the record's offset. */
static void test_wal_bad_payload_applies_nothing(void **state)
{
    (void)state;
    char *path = test_path(scratch, "9.wal");
    wal *w;
    assert_int_equal(wal_create(env_posix(), path, &w), LSM_OK);
    lsm_batch b;
    batch_init(&b);
    assert_int_equal(batch_add(&b, ENTRY_VALUE, "a", 1, "1", 1), LSM_OK);
    batch_set_first_seq(&b, 1);
    size_t n;
    batch_payload(&b, &n);
    assert_int_equal(wal_append(w, b.rep, n, false), LSM_OK);
    batch_release(&b);
    uint64_t second = size_of(path);
    /* Record 2: a well-framed batch claiming 3 entries but holding 2. */
    batch_init(&b);
    assert_int_equal(batch_add(&b, ENTRY_VALUE, "b", 1, "2", 1), LSM_OK);
    assert_int_equal(batch_add(&b, ENTRY_TOMBSTONE, "c", 1, NULL, 0), LSM_OK);
    batch_set_first_seq(&b, 2);
    batch_payload(&b, &n);
    put_fixed32(b.rep + LOG_HEADER_BYTES + 8, 3);
    assert_int_equal(wal_append(w, b.rep, n, false), LSM_OK);
    batch_release(&b);
    assert_int_equal(wal_close(w), LSM_OK);

    wal_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    uint64_t torn;
    int rc = wal_replay(env_posix(), path, wal_collect, f, &torn);
    assert_corrupt_names(rc, path, second, "a short batch");
    assert_int_equal(f->n_got, 1); /* the first record only */
    assert_int_equal(f->got[0].seq, 1);
    for (size_t i = 0; i < f->n_got; i++)
        entry_copy_free(&f->got[i]);
    free(f);
    free(path);
}

/* --- The MANIFEST --------------------------------------------------------- */

#define MANIFEST_RECORDS 20

typedef struct manifest_fixture {
    manifest_record want[MANIFEST_RECORDS];
    uint64_t ids[MANIFEST_RECORDS][12];     /* removed then added, per record */
    manifest_sst ssts[MANIFEST_RECORDS][6]; /* a flush's or added SSTs */
    char keys[MANIFEST_RECORDS][6][2][12];  /* their first and last keys */
    uint64_t rec_off[MANIFEST_RECORDS + 1];
    size_t n_got;
    bool differs;
    size_t differs_at;
} manifest_fixture;

static bool manifest_ssts_equal(const manifest_sst *a, const manifest_sst *b,
                                size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].id != b[i].id || a[i].file_size != b[i].file_size ||
            a[i].nfirst_key != b[i].nfirst_key ||
            a[i].nlast_key != b[i].nlast_key ||
            memcmp(a[i].first_key, b[i].first_key, a[i].nfirst_key) != 0 ||
            memcmp(a[i].last_key, b[i].last_key, a[i].nlast_key) != 0)
            return false;
    return true;
}

static bool manifest_records_equal(const manifest_record *a,
                                   const manifest_record *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == MANIFEST_NEW_MEMTABLE)
        return a->id == b->id && a->has_wal == b->has_wal &&
               a->froze == b->froze &&
               (!a->froze ||
                (a->frozen_id == b->frozen_id && a->wal_bytes == b->wal_bytes &&
                 a->last_seq == b->last_seq));
    if (a->kind == MANIFEST_FLUSH)
        return a->id == b->id && a->to_tier == b->to_tier &&
               a->last_seq == b->last_seq &&
               manifest_ssts_equal(a->ssts, b->ssts, 1);
    if (a->kind == MANIFEST_SNAPSHOT) { /* the tree the fixture built */
        const manifest_tree *t = a->snapshot ? a->snapshot : b->snapshot;
        return a->id == b->id && t && manifest_tree_n_ssts(t) == 3 &&
               t->n_runs == 1 && t->n_mems == 1;
    }
    if (a->kind != MANIFEST_COMPACTION)
        return a->id == b->id;
    return a->level == b->level && a->n_removed == b->n_removed &&
           a->n_added == b->n_added &&
           (a->n_removed == 0 ||
            memcmp(a->removed, b->removed, a->n_removed * 8) == 0) &&
           (a->n_added == 0 ||
            (memcmp(a->added, b->added, a->n_added * 8) == 0 &&
             manifest_ssts_equal(a->ssts, b->ssts, a->n_added)));
}

static int manifest_collect(void *ctx, const manifest_record *rec)
{
    manifest_fixture *f = ctx;
    if (f->n_got >= MANIFEST_RECORDS ||
        !manifest_records_equal(rec, &f->want[f->n_got])) {
        if (!f->differs)
            f->differs_at = f->n_got;
        f->differs = true;
    }
    f->n_got++;
    return LSM_OK;
}

/* Opens (and closes) the manifest; every record replayed must be the one
 * written at that position. */
static void manifest_replay_checked(void *ctx, const char *path,
                                    replay_result *out)
{
    manifest_fixture *f = ctx;
    f->n_got = 0;
    f->differs = false;
    manifest *m = NULL;
    out->torn = UINT64_MAX;
    out->rc =
        manifest_open(env_posix(), path, manifest_collect, f, &out->torn, &m);
    if (f->differs)
        fail_msg("replayed manifest record %zu differs from what was written",
                 f->differs_at);
    if (out->rc == LSM_OK)
        assert_int_equal(manifest_close(m), LSM_OK);
    else
        assert_null(m);
    out->n_records = f->n_got;
}

static void manifest_build_snapshot(manifest_fixture *f, manifest *m,
                                    const char *path);

/* After a cut to k records, the next original record appends cleanly and
 * reads back after them. */
static void manifest_append_after_cut(void *ctx, const char *path, size_t k)
{
    manifest_fixture *f = ctx;
    manifest *m;
    uint64_t torn;
    f->n_got = 0;
    assert_int_equal(
        manifest_open(env_posix(), path, manifest_collect, f, &torn, &m),
        LSM_OK);
    if (k == 0) /* empty: the first record is always a rewrite's snapshot */
        manifest_build_snapshot(f, m, path);
    else
        assert_int_equal(manifest_append(m, &f->want[k]), LSM_OK);
    assert_int_equal(manifest_close(m), LSM_OK);
    replay_result r;
    manifest_replay_checked(f, path, &r);
    assert_int_equal(r.rc, LSM_OK);
    assert_int_equal(r.n_records, k + 1);
    assert_int_equal(r.torn, 0);
    assert_int_equal(size_of(path), f->rec_off[k + 1]);
}

/* SST j of record r: id, a size, keys "r<r>s<j>a" .. "r<r>s<j>z". */
static const manifest_sst *fixture_sst(manifest_fixture *f, size_t r, size_t j,
                                       uint64_t id)
{
    char *first = f->keys[r][j][0], *last = f->keys[r][j][1];
    snprintf(first, 12, "r%zus%zua", r, j);
    snprintf(last, 12, "r%zus%zuz", r, j);
    f->ssts[r][j] = (manifest_sst){.id = id,
                                   .file_size = 1000 * (r + 1) + j,
                                   .first_key = (const uint8_t *)first,
                                   .nfirst_key = strlen(first),
                                   .last_key = (const uint8_t *)last,
                                   .nlast_key = strlen(last)};
    return &f->ssts[r][j];
}

/* Record 0: the snapshot of a tree with two L0 SSTs, one in L1 and a
 * memtable, written by a rewrite (a manifest's first record is always
 * one). */
static void manifest_build_snapshot(manifest_fixture *f, manifest *m,
                                    const char *path)
{
    manifest_tree *t = manifest_tree_for_open(m);
    assert_int_equal(manifest_run_push(&t->l0, fixture_sst(f, 0, 0, 3)),
                     LSM_OK);
    assert_int_equal(manifest_run_push(&t->l0, fixture_sst(f, 0, 1, 4)),
                     LSM_OK);
    t->runs = calloc(1, sizeof *t->runs);
    assert_non_null(t->runs);
    t->n_runs = 1;
    t->runs[0].run_id = 1;
    assert_int_equal(manifest_run_push(&t->runs[0], fixture_sst(f, 0, 2, 1)),
                     LSM_OK);
    manifest_record mem = {
        .kind = MANIFEST_NEW_MEMTABLE, .id = 5, .has_wal = 1};
    assert_int_equal(manifest_tree_apply(t, &mem), LSM_OK);
    t->next_id = 77;
    assert_int_equal(manifest_rewrite(m, scratch, NULL, NULL), LSM_OK);
    f->want[0] = (manifest_record){.kind = MANIFEST_SNAPSHOT, .id = 77};
    f->rec_off[1] = size_of(path);
}

/* The snapshot, then records of every other kind: ids up to 2^64 - 1
 * (ten-byte varints), new memtables with and without a WAL, flushes and
 * compactions with their SSTs' sizes and keys, compactions with empty and
 * non-empty lists, levels 1 to 16. */
static void manifest_build(manifest_fixture *f, const char *path)
{
    memset(f, 0, sizeof *f);
    rng_state = 0x5eed0002;
    manifest *m;
    uint64_t torn = 1;
    assert_int_equal(
        manifest_open(env_posix(), path, manifest_collect, f, &torn, &m),
        LSM_OK);
    assert_int_equal(f->n_got, 0); /* created empty */
    assert_int_equal(torn, 0);
    manifest_build_snapshot(f, m, path);
    for (size_t r = 1; r < MANIFEST_RECORDS; r++) {
        manifest_record *rec = &f->want[r];
        rec->kind = (manifest_kind)(1 + r % 4);
        rec->id = r == 4 ? UINT64_MAX : rng_below(1000);
        rec->has_wal = rec->kind == MANIFEST_NEW_MEMTABLE && r % 8 != 1;
        /* Half the new memtables freeze the one before, with values of
         * every varint length; every flush names its last sequence. */
        rec->froze = rec->kind == MANIFEST_NEW_MEMTABLE && r % 3 != 0;
        if (rec->froze) {
            rec->frozen_id = rng_below(1000);
            rec->wal_bytes = r == 8 ? UINT64_MAX : rng_below(1u << 20);
            rec->last_seq = r == 16 ? UINT64_MAX : rng_below(1u << 30);
        }
        if (rec->kind == MANIFEST_FLUSH)
            rec->last_seq = r == 9 ? UINT64_MAX : rng_below(1u << 30);
        if (rec->kind == MANIFEST_FLUSH)
            rec->ssts = fixture_sst(f, r, 0, rec->id);
        if (rec->kind == MANIFEST_COMPACTION) {
            rec->id = 0;
            rec->level = r == 7 ? 16 : (uint32_t)(1 + rng_below(6));
            rec->n_removed = r == 3 ? 0 : rng_below(7);
            rec->n_added = r == 11 ? 0 : rng_below(6);
            uint64_t *ids = f->ids[r];
            for (size_t i = 0; i < rec->n_removed + rec->n_added; i++)
                ids[i] = i == 1 ? UINT64_MAX - r : rng_below(100000);
            rec->removed = ids;
            rec->added = ids + rec->n_removed;
            for (size_t i = 0; i < rec->n_added; i++)
                fixture_sst(f, r, i, rec->added[i]);
            rec->ssts = f->ssts[r];
        }
        assert_int_equal(manifest_append(m, rec), LSM_OK);
        f->rec_off[r + 1] = size_of(path);
        assert_true(f->rec_off[r + 1] > f->rec_off[r] + LOG_HEADER_BYTES);
    }
    assert_int_equal(manifest_close(m), LSM_OK);
}

static void test_manifest_sweeps(void **state)
{
    (void)state;
    char *path = test_path(scratch, "MANIFEST");
    manifest_fixture *f = malloc(sizeof *f);
    assert_non_null(f);
    manifest_build(f, path);
    replay_result r;
    manifest_replay_checked(f, path, &r);
    assert_int_equal(r.rc, LSM_OK);
    assert_int_equal(r.n_records, MANIFEST_RECORDS);
    assert_int_equal(r.torn, 0);
    size_t size;
    uint8_t *orig = slurp(path, &size);
    print_message("MANIFEST sweep over %zu bytes, %d records\n", size,
                  MANIFEST_RECORDS);
    log_under_test l = {.name = "MANIFEST",
                        .path = path,
                        .orig = orig,
                        .size = size,
                        .rec_off = f->rec_off,
                        .n_recs = MANIFEST_RECORDS,
                        .replay = manifest_replay_checked,
                        .append_after_cut = manifest_append_after_cut,
                        .ctx = f};
    sweep_truncations(&l);
    sweep_flips(&l);
    free(orig);
    free(f);
    free(path);
}

/* --- A whole database ----------------------------------------------------- */

#define ENG_KEYS 48
#define ENG_MAX_WRITES 160
#define ENG_MAX_FILES 64
#define ENG_VALUE_BYTES 32

/* One entry of a write; a write is a put, a delete or a batch. */
typedef struct eng_op {
    uint8_t key; /* index into the key space: "user%03u" */
    uint8_t type;
    uint8_t nvalue;
    char value[ENG_VALUE_BYTES];
} eng_op;

typedef struct eng_write {
    size_t n;
    eng_op ops[4];
} eng_write;

/* The database's contents after some number of writes. */
typedef struct kv_state {
    bool present[ENG_KEYS];
    uint8_t nvalue[ENG_KEYS];
    char value[ENG_KEYS][ENG_VALUE_BYTES];
} kv_state;

typedef struct eng_file {
    char name[32];
    uint8_t *data;
    size_t size;
    bool live_sst; /* an SST the tree holds (not an orphan) */
} eng_file;

/* The database built once, copied while open, and what was written. */
typedef struct eng_fixture {
    eng_write w[ENG_MAX_WRITES];
    size_t n_writes;
    size_t n_in_tree; /* writes before the last phase: all in SSTs */
    char wal_name[32];
    uint64_t wal_bounds[ENG_MAX_WRITES]; /* record i: [i], [i + 1] */
    size_t n_wal_records;                /* n_writes - n_in_tree */
    eng_file files[ENG_MAX_FILES];
    size_t n_files;
    lsm_options opt;
} eng_fixture;

static eng_fixture *eng; /* built by the first engine test, freed at exit */

static size_t eng_key(char *buf, unsigned i)
{
    return (size_t)snprintf(buf, 16, "user%03u", i);
}

/* The index of a key "user%03u", or UINT_MAX for anything else. */
static unsigned eng_key_index(const char *k, size_t nk)
{
    if (nk != 7 || memcmp(k, "user", 4) != 0)
        return UINT_MAX;
    unsigned idx = 0;
    for (size_t i = 4; i < 7; i++) {
        if (k[i] < '0' || k[i] > '9')
            return UINT_MAX;
        idx = idx * 10 + (unsigned)(k[i] - '0');
    }
    return idx;
}

static void eng_apply(kv_state *s, const eng_write *w)
{
    for (size_t i = 0; i < w->n; i++) {
        const eng_op *op = &w->ops[i];
        s->present[op->key] = op->type == ENTRY_VALUE;
        s->nvalue[op->key] = op->nvalue;
        memcpy(s->value[op->key], op->value, op->nvalue);
    }
}

/* The state after the first k writes. */
static void eng_state_at(size_t k, kv_state *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < k; i++)
        eng_apply(s, &eng->w[i]);
}

/* Did key ever hold this value (present) or ever lack one (!present)? */
static bool eng_held(unsigned key, bool present, const void *value,
                     size_t nvalue)
{
    if (!present)
        return true; /* every key is absent before its first write */
    for (size_t i = 0; i < eng->n_writes; i++)
        for (size_t j = 0; j < eng->w[i].n; j++) {
            const eng_op *op = &eng->w[i].ops[j];
            if (op->key == key && op->type == ENTRY_VALUE &&
                op->nvalue == nvalue && memcmp(op->value, value, nvalue) == 0)
                return true;
        }
    return false;
}

static void eng_gen_write(eng_write *w, size_t max_value)
{
    w->n = rng_below(5) == 0 ? 2 + rng_below(3) : 1;
    for (size_t i = 0; i < w->n; i++) {
        eng_op *op = &w->ops[i];
        op->key = (uint8_t)rng_below(ENG_KEYS);
        op->type = rng_below(8) == 0 ? ENTRY_TOMBSTONE : ENTRY_VALUE;
        op->nvalue =
            op->type == ENTRY_VALUE ? (uint8_t)rng_below(max_value + 1) : 0;
        for (size_t j = 0; j < op->nvalue; j++)
            op->value[j] = (char)('!' + rng_below(94));
    }
}

static void eng_do_write(lsm_db *db, const eng_write *w)
{
    char key[16];
    if (w->n == 1) {
        const eng_op *op = &w->ops[0];
        size_t nkey = eng_key(key, op->key);
        if (op->type == ENTRY_VALUE)
            assert_int_equal(lsm_put(db, key, nkey, op->value, op->nvalue),
                             LSM_OK);
        else
            assert_int_equal(lsm_delete(db, key, nkey), LSM_OK);
        return;
    }
    lsm_batch *b;
    assert_int_equal(lsm_batch_new(&b), LSM_OK);
    for (size_t i = 0; i < w->n; i++) {
        const eng_op *op = &w->ops[i];
        size_t nkey = eng_key(key, op->key);
        if (op->type == ENTRY_VALUE)
            assert_int_equal(lsm_batch_put(b, key, nkey, op->value, op->nvalue),
                             LSM_OK);
        else
            assert_int_equal(lsm_batch_delete(b, key, nkey), LSM_OK);
    }
    assert_int_equal(lsm_batch_count(b), w->n);
    assert_int_equal(lsm_write(db, b), LSM_OK);
    lsm_batch_free(b);
}

static void eng_write_n(lsm_db *db, size_t n, size_t max_value)
{
    for (size_t i = 0; i < n; i++) {
        assert_true(eng->n_writes < ENG_MAX_WRITES);
        eng_write *w = &eng->w[eng->n_writes++];
        eng_gen_write(w, max_value);
        eng_do_write(db, w);
    }
}

typedef struct name_list {
    char names[ENG_MAX_FILES][32];
    size_t n;
} name_list;

static void collect_name(name_list *l, const char *name)
{
    if (strcmp(name, "LOCK") != 0 && strlen(name) < 32 && l->n < ENG_MAX_FILES)
        strcpy(l->names[l->n++], name);
}

static void list_files(const char *dir, name_list *l)
{
    l->n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            collect_name(l, e->d_name);
    closedir(d);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The one WAL in dir (the fixture keeps exactly one alive at the end). */
static void the_wal(const char *dir, char *name)
{
    name_list l;
    list_files(dir, &l);
    size_t n = 0;
    for (size_t i = 0; i < l.n; i++)
        if (has_suffix(l.names[i], ".wal")) {
            strcpy(name, l.names[i]);
            n++;
        }
    if (n != 1)
        fail_msg("expected one .wal file in %s, found %zu", dir, n);
}

static bool id_in(uint64_t id, const lsm_sst_info *ssts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ssts[i].sst_id == id)
            return true;
    return false;
}

/* Marks the snapshot's SSTs that the tree holds. */
static void eng_mark_live(lsm_db *db)
{
    lsm_state *st;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_true(st->n_l0 >= 1);
    assert_true(st->n_levels >= 1 && st->levels[0].n_ssts >= 1);
    assert_int_equal(st->n_immutables, 0);
    for (size_t i = 0; i < eng->n_files; i++) {
        eng_file *f = &eng->files[i];
        uint64_t id;
        char rest[8];
        if (sscanf(f->name, "%" SCNu64 "%7s", &id, rest) != 2 ||
            strcmp(rest, ".sst") != 0)
            continue;
        f->live_sst = id_in(id, st->l0, st->n_l0);
        for (size_t l = 0; l < st->n_levels; l++)
            f->live_sst |= id_in(id, st->levels[l].ssts, st->levels[l].n_ssts);
    }
    lsm_state_free(st);
}

/* Builds the database: writes flushed to L0 and compacted into L1, more
 * writes flushed to L0, then writes that stay in the memtable and its WAL.
 * The files are copied while the database is open, as a crash would leave
 * them. */
static void eng_build(void)
{
    eng = calloc(1, sizeof *eng);
    assert_non_null(eng);
    rng_state = 0x5eed0003;
    lsm_options *opt = &eng->opt;
    lsm_options_init(opt);
    opt->target_sst_size = 512;
    opt->block_size = 128;
    opt->num_memtable_limit = 2;
    opt->block_cache_bytes = 4096;
    opt->compaction = LSM_COMPACTION_NONE; /* keeps SSTs in L0 and L1 */
    opt->enable_wal = 1;
    opt->sync = 0;
    char *dir = scratch_subdir("build");
    lsm_db *db;
    assert_int_equal(lsm_open(dir, opt, &db), LSM_OK);
    eng_write_n(db, 80, ENG_VALUE_BYTES - 1);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    eng_write_n(db, 30, ENG_VALUE_BYTES - 1);
    assert_int_equal(lsm_flush(db), LSM_OK);
    eng->n_in_tree = eng->n_writes;
    /* Small writes that stay in one memtable: at most 12 x 4 entries of
     * 7 + 3 bytes, under the 512 that would freeze it. */
    eng->wal_bounds[0] = 0;
    for (size_t i = 0; i < 12; i++) {
        eng_write_n(db, 1, 3);
        the_wal(dir, eng->wal_name);
        char *wal_path = test_path(dir, eng->wal_name);
        eng->wal_bounds[i + 1] = size_of(wal_path);
        assert_true(eng->wal_bounds[i + 1] > eng->wal_bounds[i]);
        free(wal_path);
    }
    eng->n_wal_records = eng->n_writes - eng->n_in_tree;

    name_list l;
    list_files(dir, &l);
    assert_true(l.n <= ENG_MAX_FILES);
    for (size_t i = 0; i < l.n; i++) {
        eng_file *f = &eng->files[eng->n_files++];
        strcpy(f->name, l.names[i]);
        char *p = test_path(dir, f->name);
        f->data = slurp(p, &f->size);
        free(p);
    }
    eng_mark_live(db);
    assert_int_equal(lsm_close(db), LSM_OK);
    test_rmtree(dir);
    free(dir);
}

static eng_fixture *eng_get(void)
{
    if (!eng)
        eng_build();
    return eng;
}

static eng_file *eng_find(const char *name)
{
    for (size_t i = 0; i < eng->n_files; i++)
        if (strcmp(eng->files[i].name, name) == 0)
            return &eng->files[i];
    fail_msg("no %s in the snapshot", name);
    return NULL;
}

typedef struct event_counts {
    size_t warnings, recovered;
} event_counts;

static void count_events(void *ctx, const lsm_event *e)
{
    event_counts *c = ctx;
    c->warnings += e->type == LSM_EVENT_WARNING;
    c->recovered += e->type == LSM_EVENT_RECOVERED;
}

/* One opening of a damaged copy. */
typedef struct eng_case {
    char *dir;
    char *damaged_path; /* full path of the damaged file */
    lsm_db *db;
    int rc;
    event_counts ev;
    char what[160];
} eng_case;

/* Writes the snapshot into a fresh directory with `name` replaced by
 * data[0..n), and opens it. */
static void eng_open_damaged(eng_case *c, const char *name, const uint8_t *data,
                             size_t n)
{
    memset(&c->ev, 0, sizeof c->ev);
    c->dir = scratch_subdir("case");
    c->damaged_path = test_path(c->dir, name);
    for (size_t i = 0; i < eng->n_files; i++) {
        const eng_file *f = &eng->files[i];
        char *p = test_path(c->dir, f->name);
        if (strcmp(f->name, name) == 0)
            spit(p, data, n);
        else
            spit(p, f->data, f->size);
        free(p);
    }
    lsm_options opt = eng->opt;
    opt.event_cb = count_events;
    opt.event_ctx = &c->ev;
    c->db = NULL;
    c->rc = lsm_open(c->dir, &opt, &c->db);
}

static void eng_case_end(eng_case *c)
{
    if (c->db) {
        int rc = lsm_close(c->db);
        if (rc != LSM_OK)
            fail_msg("%s: close: %s", c->what, lsm_errmsg());
    }
    test_rmtree(c->dir);
    free(c->dir);
    free(c->damaged_path);
}

/* A read error is acceptable only as LSM_ECORRUPT naming the damaged file
 * (any file of the database when any_file). */
static void eng_read_error(eng_case *c, int rc, bool any_file, bool *noticed)
{
    assert_corrupt_names(rc, any_file ? c->dir : c->damaged_path, UINT64_MAX,
                         c->what);
    *noticed = true;
}

/* Checks every get and a full and a bounded scan. With want set, data must
 * be exactly want; without, every value must be one its key once held.
 * Errors are allowed only when `errors_allowed`, and set *noticed. */
static void eng_verify(eng_case *c, const kv_state *want, bool errors_allowed,
                       bool *noticed)
{
    char key[16];
    for (unsigned k = 0; k < ENG_KEYS; k++) {
        size_t nkey = eng_key(key, k);
        void *v = NULL;
        size_t nv = 0;
        int rc = lsm_get(c->db, key, nkey, &v, &nv);
        if (rc == LSM_OK || rc == LSM_NOTFOUND) {
            bool present = rc == LSM_OK;
            bool ok =
                want ? present == want->present[k] &&
                           (!present || (nv == want->nvalue[k] &&
                                         memcmp(v, want->value[k], nv) == 0))
                     : eng_held(k, present, v, nv);
            if (!ok)
                fail_msg("%s: get %s returned %s%.*s", c->what, key,
                         present ? "" : "not found", present ? (int)nv : 0,
                         present ? (const char *)v : "");
        } else if (errors_allowed) {
            eng_read_error(c, rc, want == NULL, noticed);
        } else {
            fail_msg("%s: get %s: %s", c->what, key, lsm_errmsg());
        }
        lsm_free(v);
    }
    /* Scans: everything, then [user010, user030). */
    for (int pass = 0; pass < 2; pass++) {
        char lo_key[16], hi_key[16];
        lsm_bound lo = {LSM_BOUND_INCLUDED, lo_key, eng_key(lo_key, 10)};
        lsm_bound hi = {LSM_BOUND_EXCLUDED, hi_key, eng_key(hi_key, 30)};
        unsigned first = pass ? 10 : 0, end = pass ? 30 : ENG_KEYS;
        lsm_iter *it = NULL;
        int rc = lsm_scan(c->db, pass ? &lo : NULL, pass ? &hi : NULL, &it);
        unsigned next = first; /* keys below next were checked */
        while (rc == LSM_OK && lsm_iter_valid(it)) {
            size_t nk, nv;
            const char *k = lsm_iter_key(it, &nk);
            const void *v = lsm_iter_value(it, &nv);
            unsigned idx = eng_key_index(k, nk);
            if (idx < next || idx >= end)
                fail_msg("%s: scan returned key %.*s out of order", c->what,
                         (int)nk, k);
            if (want) {
                for (; next < idx; next++)
                    if (want->present[next])
                        fail_msg("%s: scan skipped user%03u", c->what, next);
                if (!want->present[idx] || nv != want->nvalue[idx] ||
                    memcmp(v, want->value[idx], nv) != 0)
                    fail_msg("%s: scan returned a wrong value for %.*s",
                             c->what, (int)nk, k);
            } else if (!eng_held(idx, true, v, nv)) {
                fail_msg("%s: scan returned a value %.*s never held", c->what,
                         (int)nk, k);
            }
            next = idx + 1;
            rc = lsm_iter_next(it);
        }
        if (rc != LSM_OK) {
            if (!errors_allowed)
                fail_msg("%s: scan: %s", c->what, lsm_errmsg());
            eng_read_error(c, rc, want == NULL, noticed);
        } else if (want) {
            for (; next < end; next++)
                if (want->present[next])
                    fail_msg("%s: scan ended before user%03u", c->what, next);
        }
        lsm_iter_close(it);
    }
}

/* The intact snapshot opens with every write, and no warning. */
static void test_engine_intact_copy(void **state)
{
    (void)state;
    eng_get();
    const eng_file *log = eng_find(eng->wal_name);
    eng_case c;
    snprintf(c.what, sizeof c.what, "intact copy");
    eng_open_damaged(&c, log->name, log->data, log->size);
    if (c.rc != LSM_OK)
        fail_msg("intact copy: %s", lsm_errmsg());
    assert_int_equal(c.ev.warnings, 0);
    assert_int_equal(c.ev.recovered, 1);
    kv_state want;
    eng_state_at(eng->n_writes, &want);
    bool noticed = false;
    eng_verify(&c, &want, false, &noticed);
    eng_case_end(&c);
}

/* WAL: every truncation recovers the SSTs plus exactly the writes wholly
 * inside the prefix; flips follow the log rules. */
static void test_engine_wal_damage(void **state)
{
    (void)state;
    eng_get();
    const eng_file *log = eng_find(eng->wal_name);
    const uint64_t *b = eng->wal_bounds;
    size_t n_rec = eng->n_wal_records;
    assert_int_equal(log->size, b[n_rec]);
    print_message("engine WAL sweep: %zu bytes, %zu records\n", log->size,
                  n_rec);
    size_t k = 0;
    for (size_t len = 0; len <= log->size; len++) {
        while (k < n_rec && b[k + 1] <= len)
            k++;
        eng_case c;
        snprintf(c.what, sizeof c.what, "%s cut to %zu bytes", log->name, len);
        eng_open_damaged(&c, log->name, log->data, len);
        if (c.rc != LSM_OK)
            fail_msg("%s: %s", c.what, lsm_errmsg());
        if ((c.ev.warnings > 0) != (len != b[k]))
            fail_msg("%s: %zu warning events", c.what, c.ev.warnings);
        assert_int_equal(c.ev.recovered, 1);
        kv_state want;
        eng_state_at(eng->n_in_tree + k, &want);
        bool noticed = false;
        eng_verify(&c, &want, false, &noticed);
        eng_case_end(&c);
    }
    uint8_t *copy = malloc(log->size);
    assert_non_null(copy);
    size_t i = 0;
    for (size_t off = 0; off < log->size; off++) {
        while (i + 1 < n_rec && b[i + 1] <= off)
            i++;
        memcpy(copy, log->data, log->size);
        copy[off] ^= (uint8_t)(1u << (off % 8));
        eng_case c;
        snprintf(c.what, sizeof c.what, "%s, bit flip at offset %zu", log->name,
                 off);
        eng_open_damaged(&c, log->name, copy, log->size);
        if (i == n_rec - 1 && off - b[i] >= LOG_LENGTH_FIELDS_BYTES) {
            if (c.rc != LSM_OK)
                fail_msg("%s: %s", c.what, lsm_errmsg());
            assert_true(c.ev.warnings > 0);
            kv_state want;
            eng_state_at(eng->n_writes - 1, &want);
            bool noticed = false;
            eng_verify(&c, &want, false, &noticed);
        } else {
            assert_corrupt_names(c.rc, c.damaged_path, UINT64_MAX, c.what);
            assert_null(c.db);
        }
        eng_case_end(&c);
    }
    free(copy);
}

/* Where the snapshot's manifest records start; off[n] is its size. */
typedef struct offsets {
    uint64_t off[1024];
    size_t n;
} offsets;

static int note_offset(void *ctx, uint64_t offset, const uint8_t *payload,
                       size_t n)
{
    (void)payload;
    (void)n;
    offsets *o = ctx;
    assert_true(o->n < 1023);
    o->off[o->n++] = offset;
    return LSM_OK;
}

static const eng_file *eng_manifest(offsets *o)
{
    const eng_file *mf = eng_find("MANIFEST");
    uint64_t valid_end;
    o->n = 0;
    assert_int_equal(
        log_scan("MANIFEST", mf->data, mf->size, note_offset, o, &valid_end),
        LSM_OK);
    assert_int_equal(valid_end, mf->size);
    assert_true(o->n >= 5);
    o->off[o->n] = mf->size;
    return mf;
}

/* Opening the copy with a damaged manifest: LSM_OK, or LSM_ECORRUPT naming
 * a file of the database (the manifest, or an SST it names that is gone).
 * When it opens, a cut of torn bytes was warned about and every value read
 * is one its key really held. */
static void eng_check_manifest_case(eng_case *c, bool torn)
{
    if (c->rc != LSM_OK) {
        assert_corrupt_names(c->rc, c->dir, UINT64_MAX, c->what);
        return;
    }
    if (torn && c->ev.warnings == 0)
        fail_msg("%s: torn bytes cut without a warning", c->what);
    bool noticed = false;
    eng_verify(c, NULL, true, &noticed);
}

/* MANIFEST: every cut, and bit flips at every offset. Flips in a record
 * before the last, or in any record's length fields, fail the open naming
 * the MANIFEST; the rest open, or fail naming a file, and read only real
 * data. */
static void test_engine_manifest_damage(void **state)
{
    (void)state;
    eng_get();
    offsets o;
    const eng_file *mf = eng_manifest(&o);
    print_message("engine MANIFEST sweep: %zu bytes, %zu records\n", mf->size,
                  o.n);
    size_t r = 0;
    for (size_t len = 0; len < mf->size; len++) {
        while (r < o.n && o.off[r] < len)
            r++;
        eng_case c;
        snprintf(c.what, sizeof c.what, "MANIFEST cut to %zu bytes", len);
        eng_open_damaged(&c, "MANIFEST", mf->data, len);
        eng_check_manifest_case(&c, o.off[r] != len);
        eng_case_end(&c);
    }
    uint8_t *copy = malloc(mf->size);
    assert_non_null(copy);
    r = 0;
    for (size_t off = 0; off < mf->size; off++) {
        while (r + 1 < o.n && o.off[r + 1] <= off)
            r++;
        memcpy(copy, mf->data, mf->size);
        copy[off] ^= (uint8_t)(1u << (off % 8));
        eng_case c;
        snprintf(c.what, sizeof c.what,
                 "MANIFEST, bit flip at offset %zu (record %zu)", off, r);
        eng_open_damaged(&c, "MANIFEST", copy, mf->size);
        if (r + 1 < o.n || off - o.off[r] < LOG_LENGTH_FIELDS_BYTES)
            assert_corrupt_names(c.rc, c.damaged_path, UINT64_MAX, c.what);
        else
            eng_check_manifest_case(&c, true);
        eng_case_end(&c);
    }
    free(copy);
}

/* Opens a copy with the MANIFEST replaced by data[0..n): it must open
 * with every write, or fail with LSM_ECORRUPT naming a file. */
static void eng_expect_all_or_corrupt(const char *what, const uint8_t *data,
                                      size_t n)
{
    kv_state want;
    eng_state_at(eng->n_writes, &want);
    eng_case c;
    snprintf(c.what, sizeof c.what, "%s", what);
    eng_open_damaged(&c, "MANIFEST", data, n);
    if (c.rc == LSM_OK) {
        bool noticed = false;
        eng_verify(&c, &want, false, &noticed);
    } else {
        assert_corrupt_names(c.rc, c.dir, UINT64_MAX, c.what);
    }
    eng_case_end(&c);
}

/* A MANIFEST that lost its last records, whole or in part (cut, or a last
 * record that fails its checksum), must not make lsm_open drop
 * acknowledged data silently: the files of the intact copy hold every write
 * (SSTs, and the WAL of the mutable memtable), so it opens with all of them,
 * or fails with LSM_ECORRUPT naming a file of the database. */
static void test_engine_manifest_cut_loses_nothing_silently(void **state)
{
    (void)state;
    eng_get();
    offsets o;
    const eng_file *mf = eng_manifest(&o);
    char what[96];
    for (size_t len = 0; len <= mf->size; len++) {
        snprintf(what, sizeof what, "MANIFEST cut to %zu bytes", len);
        eng_expect_all_or_corrupt(what, mf->data, len);
    }
    uint8_t *copy = malloc(mf->size);
    assert_non_null(copy);
    uint64_t last = o.off[o.n - 1];
    for (size_t off = last + LOG_LENGTH_FIELDS_BYTES; off < mf->size; off++) {
        memcpy(copy, mf->data, mf->size);
        copy[off] ^= (uint8_t)(1u << (off % 8));
        snprintf(what, sizeof what, "MANIFEST, bit flip at offset %zu", off);
        eng_expect_all_or_corrupt(what, copy, mf->size);
    }
    free(copy);
}

/* Offsets to damage in an SST of size n: a stride through the file and
 * every fourth byte of the footer. */
static bool sst_sampled(size_t off, size_t n)
{
    size_t stride = n / 40 > 0 ? n / 40 : 1;
    return off % stride == 0 || (off + 80 >= n && off % 4 == 0);
}

/* SSTs: cuts fail the open; flips fail the open or a read and nothing read
 * differs from what was written. */
static void test_engine_sst_damage(void **state)
{
    (void)state;
    eng_get();
    kv_state want;
    eng_state_at(eng->n_writes, &want);
    size_t n_ssts = 0, n_cases = 0;
    for (size_t fi = 0; fi < eng->n_files; fi++) {
        const eng_file *f = &eng->files[fi];
        if (!f->live_sst)
            continue;
        n_ssts++;
        const size_t cuts[] = {
            0, 1, 79, 80, f->size / 2, f->size - 81, f->size - 80, f->size - 1};
        for (size_t j = 0; j < sizeof cuts / sizeof cuts[0]; j++) {
            eng_case c;
            snprintf(c.what, sizeof c.what, "%s cut to %zu bytes", f->name,
                     cuts[j]);
            eng_open_damaged(&c, f->name, f->data, cuts[j]);
            assert_corrupt_names(c.rc, c.damaged_path, UINT64_MAX, c.what);
            eng_case_end(&c);
            n_cases++;
        }
        uint8_t *copy = malloc(f->size);
        assert_non_null(copy);
        for (size_t off = 0; off < f->size; off++) {
            if (!sst_sampled(off, f->size))
                continue;
            memcpy(copy, f->data, f->size);
            copy[off] ^= (uint8_t)(1u << (off % 8));
            eng_case c;
            snprintf(c.what, sizeof c.what, "%s, bit flip at offset %zu",
                     f->name, off);
            eng_open_damaged(&c, f->name, copy, f->size);
            bool noticed = false;
            if (c.rc != LSM_OK)
                eng_read_error(&c, c.rc, false, &noticed);
            else
                eng_verify(&c, &want, true, &noticed);
            if (!noticed)
                fail_msg("%s went unnoticed", c.what);
            eng_case_end(&c);
            n_cases++;
        }
        free(copy);
    }
    assert_true(n_ssts >= 2);
    print_message("engine SST sweep: %zu SSTs, %zu cases\n", n_ssts, n_cases);
}

static int group_teardown(void **state)
{
    (void)state;
    if (eng) {
        for (size_t i = 0; i < eng->n_files; i++)
            free(eng->files[i].data);
        free(eng);
        eng = NULL;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wal_round_trip, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_wal_sweeps, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_wal_bad_payload_applies_nothing,
                                        scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_manifest_sweeps, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_engine_intact_copy, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_engine_wal_damage, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_engine_manifest_damage,
                                        scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(
            test_engine_manifest_cut_loses_nothing_silently, scratch_setup,
            scratch_teardown),
        cmocka_unit_test_setup_teardown(test_engine_sst_damage, scratch_setup,
                                        scratch_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
