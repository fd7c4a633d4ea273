/*
 * fuzz_manifest.c: libFuzzer target for manifest decoding and replay
 * (log_int.h, manifest_int.h).
 *
 * Each input is used three ways:
 *   1. as one record payload, straight into manifest_decode;
 *   2. as a whole manifest, through log_scan, each payload decoded;
 *   3. as the MANIFEST file, through manifest_open; when that succeeds, one
 *      more record is appended (the record of 1 when it decoded and is a
 *      new memtable or next id, so fuzzed ids go through the encoder too;
 *      after a rewrite when the file held no record, since a manifest
 *      starts with a snapshot), and the file reopened.
 * What must hold:
 *   - a decoded record is well formed: a known kind; has_wal 0 or 1; a
 *     compaction's level is 0..LSM_MAX_LEVELS and its id and SST arrays
 *     hold what their counts say; a flush has its SST; a snapshot its tree
 *     (every key readable); the other kinds carry no arrays;
 *   - manifest_open agrees with log_scan + manifest_decode (it fails where
 *     they fail, with the same code; where they succeed it may still find
 *     the records inconsistent: LSM_ECORRUPT; else the same number of
 *     records, torn bytes = size - valid_end), cuts the file to valid_end,
 *     leaves it alone on failure and names it in the message;
 *   - after the cut, an appended record reads back whole, after exactly the
 *     records that were there: a torn tail never turns into corruption;
 *   - nothing crashes, leaks or reads out of bounds (ASan, UBSan).
 * Each input runs twice: as it is, and with every record's length check
 * and checksum made right (fuzz_fix_log_checksums), so that mutations also
 * reach the replay logic behind the checksums.
 *
 * Single-threaded: libFuzzer runs one input at a time.
 */
#include "log/log_int.h"
#include "lsm.h"
#include "log/manifest_int.h"

#include "fuzz_util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Reads every byte of an SST's keys (ASan sees each one). */
static void read_ssts(const manifest_sst *ssts, size_t n)
{
    volatile uint64_t sink = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(ssts[i].nfirst_key >= 1 && ssts[i].nlast_key >= 1);
        sink ^= ssts[i].id ^ ssts[i].file_size;
        for (size_t k = 0; k < ssts[i].nfirst_key; k++)
            sink ^= ssts[i].first_key[k];
        for (size_t k = 0; k < ssts[i].nlast_key; k++)
            sink ^= ssts[i].last_key[k];
    }
    (void)sink;
}

static void check_tree(const manifest_tree *t)
{
    FUZZ_CHECK(t != NULL);
    read_ssts(t->l0.ssts, t->l0.n);
    for (size_t i = 0; i < t->n_runs; i++)
        read_ssts(t->runs[i].ssts, t->runs[i].n);
    for (size_t i = 0; i < t->n_mems; i++)
        FUZZ_CHECK(t->mems[i].has_wal == 0 || t->mems[i].has_wal == 1);
    for (size_t i = 0; i < t->n_mems; i++) /* facts only once frozen */
        FUZZ_CHECK(t->mems[i].frozen ||
                   (t->mems[i].wal_bytes == 0 && t->mems[i].last_seq == 0));
}

/* Checks what a successful decode promises and reads every id. */
static void check_record(const manifest_record *rec)
{
    FUZZ_CHECK(rec->kind == MANIFEST_NEW_MEMTABLE ||
               rec->kind == MANIFEST_FLUSH ||
               rec->kind == MANIFEST_COMPACTION ||
               rec->kind == MANIFEST_NEXT_ID || rec->kind == MANIFEST_SNAPSHOT);
    FUZZ_CHECK(rec->has_wal == 0 || rec->has_wal == 1);
    FUZZ_CHECK(rec->froze == 0 || rec->froze == 1);
    FUZZ_CHECK(rec->to_tier == 0 || rec->to_tier == 1);
    if (rec->kind == MANIFEST_SNAPSHOT)
        check_tree(rec->snapshot);
    if (rec->kind == MANIFEST_FLUSH) {
        FUZZ_CHECK(rec->ssts != NULL && rec->ssts->id == rec->id);
        read_ssts(rec->ssts, 1);
    }
    if (rec->kind != MANIFEST_COMPACTION) {
        FUZZ_CHECK(rec->n_removed == 0 && rec->n_added == 0);
        return;
    }
    FUZZ_CHECK(rec->level <= LSM_MAX_LEVELS); /* 0: a new tier (FORMAT.md) */
    FUZZ_CHECK(rec->n_removed == 0 || rec->removed != NULL);
    FUZZ_CHECK(rec->n_added == 0 || (rec->added != NULL && rec->ssts));
    volatile uint64_t sink = 0; /* let ASan see every element */
    for (size_t i = 0; i < rec->n_removed; i++)
        sink ^= rec->removed[i];
    for (size_t i = 0; i < rec->n_added; i++) {
        sink ^= rec->added[i];
        FUZZ_CHECK(rec->ssts[i].id == rec->added[i]);
    }
    read_ssts(rec->ssts, rec->n_added);
    (void)sink;
}

static bool ids_equal(const uint64_t *a, const uint64_t *b, size_t n)
{
    return n == 0 || memcmp(a, b, n * sizeof *a) == 0;
}

/* The records appended after a cut are new memtables and next ids. */
static bool records_equal(const manifest_record *a, const manifest_record *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == MANIFEST_NEW_MEMTABLE)
        return a->id == b->id && a->has_wal == b->has_wal &&
               a->froze == b->froze && a->frozen_id == b->frozen_id &&
               a->wal_bytes == b->wal_bytes && a->last_seq == b->last_seq;
    if (a->kind != MANIFEST_COMPACTION)
        return a->id == b->id;
    return a->level == b->level && a->n_removed == b->n_removed &&
           a->n_added == b->n_added &&
           ids_equal(a->removed, b->removed, a->n_removed) &&
           ids_equal(a->added, b->added, a->n_added);
}

/* A pass of log_scan over the input, decoding each payload. */
typedef struct scan_ctx {
    uint64_t size, next_offset;
    size_t n_records;
} scan_ctx;

static int scan_record(void *ctx, uint64_t offset, const uint8_t *payload,
                       size_t n)
{
    scan_ctx *s = ctx;
    FUZZ_CHECK(offset == s->next_offset);
    FUZZ_CHECK(offset + LOG_HEADER_BYTES + n <= s->size);
    s->next_offset = offset + LOG_HEADER_BYTES + n;
    manifest_record rec;
    int rc = manifest_decode(payload, n, &rec);
    if (rc == LSM_OK) {
        check_record(&rec);
        s->n_records++;
    }
    manifest_record_release(&rec);
    return rc;
}

/* What the replay callback of manifest_open saw: how many records, and the
 * last one compared with `expect_last` when that is set. */
typedef struct replay_ctx {
    size_t n_records;
    const manifest_record *expect_last;
    bool last_matches;
} replay_ctx;

static int replay_record(void *ctx, const manifest_record *rec)
{
    replay_ctx *r = ctx;
    check_record(rec);
    r->n_records++;
    r->last_matches = r->expect_last && records_equal(r->expect_last, rec);
    return LSM_OK;
}

/* Runs every check on one input, using the scratch file at path. */
static void fuzz_one(const char *path, const uint8_t *data, size_t size)
{
    /* 1. The input as one payload. */
    manifest_record direct;
    int direct_rc = manifest_decode(data, size, &direct);
    if (direct_rc == LSM_OK)
        check_record(&direct);
    else
        FUZZ_CHECK(direct_rc == LSM_ECORRUPT || direct_rc == LSM_ENOMEM);

    /* 2. The input as a manifest, in memory. */
    scan_ctx s = {.size = size};
    uint64_t valid_end = 0;
    int scan_rc = log_scan(path, data, size, scan_record, &s, &valid_end);
    if (scan_rc == LSM_OK)
        FUZZ_CHECK(valid_end == s.next_offset && valid_end <= size);

    /* 3. The input as the MANIFEST file: first as the manifest --file
     * inspector reads it (the same records as the scan, up to any damage,
     * and the file unchanged). */
    fuzz_write_file(path, data, size);
    lsm_manifest_record *recs = NULL;
    size_t n_recs = 0;
    lsm_log_extent x = {0, 0};
    int irc = lsm_manifest_read_file(path, &recs, &n_recs, &x);
    FUZZ_CHECK(irc == scan_rc || (scan_rc == LSM_OK && irc == LSM_ENOMEM));
    FUZZ_CHECK(x.file_bytes == size && x.valid_bytes <= size);
    if (irc == LSM_OK)
        FUZZ_CHECK(n_recs == s.n_records && x.valid_bytes == valid_end);
    else
        FUZZ_CHECK(n_recs <= s.n_records);
    lsm_manifest_free(recs, n_recs);
    FUZZ_CHECK(fuzz_file_size(path) == size);
    replay_ctx r = {0};
    uint64_t torn = 0;
    manifest *m = NULL;
    int rc = manifest_open(env_posix(), path, replay_record, &r, &torn, &m);
    FUZZ_CHECK(rc == scan_rc ||
               (scan_rc == LSM_OK && (rc == LSM_ECORRUPT || rc == LSM_ENOMEM)));
    if (rc != LSM_OK) {
        FUZZ_CHECK(m == NULL);
        FUZZ_CHECK(strstr(lsm_errmsg(), path) != NULL);
        FUZZ_CHECK(fuzz_file_size(path) == size); /* evidence kept */
        goto out;
    }
    FUZZ_CHECK(r.n_records == s.n_records);
    FUZZ_CHECK(torn == size - valid_end);
    FUZZ_CHECK(fuzz_file_size(path) == valid_end);

    /* Append after the cut and read everything back: a record any tree
     * takes, after the snapshot a rewrite writes into an empty file. */
    manifest_record plain = {.kind = MANIFEST_NEW_MEMTABLE, .id = 4242};
    bool direct_fits =
        direct_rc == LSM_OK && (direct.kind == MANIFEST_NEW_MEMTABLE ||
                                direct.kind == MANIFEST_NEXT_ID);
    const manifest_record *extra = direct_fits ? &direct : &plain;
    if (r.n_records == 0) {
        FUZZ_CHECK(manifest_rewrite(m, fuzz_scratch_dir(), NULL, NULL) ==
                   LSM_OK);
        r.n_records = 1;
    }
    FUZZ_CHECK(manifest_append(m, extra) == LSM_OK);
    FUZZ_CHECK(manifest_close(m) == LSM_OK);
    replay_ctx again = {.expect_last = extra};
    m = NULL;
    rc = manifest_open(env_posix(), path, replay_record, &again, &torn, &m);
    FUZZ_CHECK(rc == LSM_OK);
    FUZZ_CHECK(torn == 0);
    FUZZ_CHECK(again.n_records == r.n_records + 1);
    FUZZ_CHECK(again.last_matches);
    FUZZ_CHECK(manifest_close(m) == LSM_OK);
out:
    manifest_record_release(&direct);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_path("MANIFEST");
    fuzz_one(path, data, size);
    /* Again with every record's checksums made right, to reach the code
     * behind them. */
    uint8_t *fixed = malloc(size + 1);
    FUZZ_CHECK(fixed != NULL);
    if (size)
        memcpy(fixed, data, size);
    if (fuzz_fix_log_checksums(fixed, size))
        fuzz_one(path, fixed, size);
    free(fixed);
    return 0;
}
