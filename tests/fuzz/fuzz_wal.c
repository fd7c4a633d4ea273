/*
 * fuzz_wal.c: libFuzzer target for write-ahead log decoding (log_int.h,
 * wal_int.h).
 *
 * Each input is used three ways (four, counting the wal inspector,
 * lsm_wal_read_file, which reads the file of 3. before it is replayed):
 *   1. as one record payload, straight into wal_decode_record (no checksum
 *      stands in the fuzzer's way there);
 *   2. as a whole log, through log_scan, each payload decoded;
 *   3. as a log file on disk, through wal_replay, then replayed again.
 * What must hold:
 *   - every entry handed to the callback is well formed: type 0 or 1, key
 *     1..65535 bytes, value at most 16 MiB, a tombstone's value empty, key and
 *     value inside the payload, sequence numbers first_seq, first_seq + 1, ...;
 *   - a record is all or nothing: a payload that fails to decode delivered no
 *     entry; one that decodes delivered exactly its count of entries;
 *   - a torn tail is only ever at the end: what follows valid_end is shorter
 *     than a header or a record reaching the end of the input;
 *   - wal_replay agrees with log_scan + wal_decode_record (same outcome, same
 *     entries, torn bytes = size - valid_end), cuts the file to valid_end,
 *     leaves it alone on corruption, names the file in its message, and a
 *     second replay of the cut file finds no torn bytes;
 *   - nothing crashes, leaks or reads out of bounds (ASan, UBSan).
 * Each input runs twice: as it is, and with every record's length check
 * and checksum made right (fuzz_fix_log_checksums), so that mutations also
 * reach the replay logic behind the checksums.
 *
 * Single-threaded: libFuzzer runs one input at a time.
 */
#include "util/coding_int.h"
#include "iter/iter_int.h"
#include "log/log_int.h"
#include "lsm.h"
#include "log/wal_int.h"

#include "fuzz_util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* What the entry callback checks against and counts. */
typedef struct decode_ctx {
    const uint8_t *payload; /* bounds of the record being decoded */
    size_t n;
    uint64_t next_seq; /* expected sequence number of the next entry */
    size_t n_entries;  /* in the current record */
} decode_ctx;

static int check_entry(void *ctx, uint64_t seq, uint8_t type,
                       const uint8_t *key, size_t nkey, const uint8_t *value,
                       size_t nvalue)
{
    decode_ctx *d = ctx;
    const uint8_t *end = d->payload + d->n;
    FUZZ_CHECK(type == ENTRY_VALUE || type == ENTRY_TOMBSTONE ||
               type == ENTRY_RANGE_DEL);
    FUZZ_CHECK(nkey >= 1 && nkey <= LSM_MAX_KEY_BYTES);
    FUZZ_CHECK(nvalue <= LSM_MAX_VALUE_BYTES);
    FUZZ_CHECK(type != ENTRY_TOMBSTONE || nvalue == 0);
    /* A range delete's value is its end: a key above its start. */
    FUZZ_CHECK(type != ENTRY_RANGE_DEL ||
               (nvalue >= 1 && nvalue <= LSM_MAX_KEY_BYTES &&
                user_key_cmp(key, nkey, value, nvalue) < 0));
    FUZZ_CHECK(key >= d->payload && nkey <= (size_t)(end - key));
    FUZZ_CHECK(nvalue == 0 ||
               (value >= d->payload && nvalue <= (size_t)(end - value)));
    FUZZ_CHECK(seq == d->next_seq);
    d->next_seq++;
    d->n_entries++;
    return LSM_OK;
}

/* Decodes one payload with every check on; returns wal_decode_record's rc and
 * adds the entries delivered to *n_entries. */
static int decode_checked(const uint8_t *payload, size_t n, size_t *n_entries)
{
    decode_ctx d = {payload, n, 0, 0};
    if (n >= 8)
        d.next_seq = get_fixed64(payload);
    int rc = wal_decode_record(payload, n, check_entry, &d);
    if (rc == LSM_OK) {
        FUZZ_CHECK(n >= 12);
        FUZZ_CHECK(d.n_entries == get_fixed32(payload + 8));
        FUZZ_CHECK(d.n_entries >= 1);
    } else {
        FUZZ_CHECK(rc == LSM_ECORRUPT);
        FUZZ_CHECK(d.n_entries == 0); /* all or nothing */
    }
    *n_entries += d.n_entries;
    return rc;
}

/* State of a log_scan pass over the input. */
typedef struct scan_ctx {
    uint64_t size;
    uint64_t next_min_offset; /* records come in order, without overlap */
    size_t n_records, n_entries;
    int decode_rc; /* first decode failure, LSM_OK if none */
} scan_ctx;

static int scan_record(void *ctx, uint64_t offset, const uint8_t *payload,
                       size_t n)
{
    scan_ctx *s = ctx;
    FUZZ_CHECK(offset == s->next_min_offset);
    FUZZ_CHECK(n <= LOG_MAX_PAYLOAD);
    FUZZ_CHECK(offset + LOG_HEADER_BYTES + n <= s->size);
    s->next_min_offset = offset + LOG_HEADER_BYTES + n;
    s->n_records++;
    int rc = decode_checked(payload, n, &s->n_entries);
    if (rc != LSM_OK)
        s->decode_rc = rc;
    return rc;
}

/* Entries seen by wal_replay: checked per entry; records are not visible
 * here, so sequence numbers are only checked to be non-zero. */
typedef struct replay_ctx {
    size_t n_entries;
} replay_ctx;

static int replay_entry(void *ctx, uint64_t seq, uint8_t type,
                        const uint8_t *key, size_t nkey, const uint8_t *value,
                        size_t nvalue)
{
    replay_ctx *r = ctx;
    FUZZ_CHECK(seq != 0);
    FUZZ_CHECK(type == ENTRY_VALUE || type == ENTRY_TOMBSTONE ||
               type == ENTRY_RANGE_DEL);
    FUZZ_CHECK(nkey >= 1 && nkey <= LSM_MAX_KEY_BYTES);
    FUZZ_CHECK(type != ENTRY_TOMBSTONE || nvalue == 0);
    FUZZ_CHECK(type != ENTRY_RANGE_DEL ||
               (nvalue >= 1 && user_key_cmp(key, nkey, value, nvalue) < 0));
    volatile uint8_t sink = 0; /* let ASan see every byte */
    for (size_t i = 0; i < nkey; i++)
        sink ^= key[i];
    for (size_t i = 0; i < nvalue; i++)
        sink ^= value[i];
    (void)sink;
    r->n_entries++;
    return LSM_OK;
}

/* What follows valid_end must look like a torn tail (log_int.h rules 1, 3,
 * 4): a short header, or a record that runs to or past the end. */
static void check_torn_tail(const uint8_t *data, uint64_t size,
                            uint64_t valid_end)
{
    FUZZ_CHECK(valid_end <= size);
    if (valid_end == size || size - valid_end < LOG_HEADER_BYTES)
        return;
    uint64_t len = get_fixed32(data + valid_end);
    FUZZ_CHECK(valid_end + LOG_HEADER_BYTES + len >= size);
}

/* lsm_wal_read_file (the wal inspector) on the file holding the input
 * agrees with the scan s of the same bytes: the same outcome, records
 * and entries (those before the damage, on LSM_ECORRUPT), well-formed
 * entries with consecutive seqs in a record, the same valid end, an error
 * naming the file, and the file left as it was. */
static void check_inspector(const char *path, uint64_t size, const scan_ctx *s,
                            int scan_rc, uint64_t valid_end)
{
    lsm_wal_record *recs = NULL;
    size_t n = 0, entries = 0;
    lsm_log_extent x = {0, 0};
    int rc = lsm_wal_read_file(path, &recs, &n, &x);
    FUZZ_CHECK(rc == scan_rc);
    FUZZ_CHECK(x.file_bytes == size && x.valid_bytes <= size);
    if (rc == LSM_OK)
        FUZZ_CHECK(n == s->n_records && x.valid_bytes == valid_end);
    else
        FUZZ_CHECK(strstr(lsm_errmsg(), path) != NULL && n <= s->n_records);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(recs[i].n_entries >= 1);
        FUZZ_CHECK(recs[i].offset + recs[i].bytes <= x.valid_bytes);
        for (size_t k = 0; k < recs[i].n_entries; k++) {
            const lsm_wal_entry *e = &recs[i].entries[k];
            FUZZ_CHECK(e->nkey >= 1 && e->nkey <= LSM_MAX_KEY_BYTES);
            FUZZ_CHECK(!e->tombstone || e->value_bytes == 0);
            FUZZ_CHECK(e->seq == recs[i].entries[0].seq + k);
        }
        entries += recs[i].n_entries;
    }
    if (rc == LSM_OK)
        FUZZ_CHECK(entries == s->n_entries);
    lsm_wal_free(recs, n);
    FUZZ_CHECK(fuzz_file_size(path) == size); /* it changed nothing */
}

/* Runs every check on one input, using the scratch file at path. */
static void fuzz_one(const char *path, const uint8_t *data, size_t size)
{
    /* 1. The input as one payload. */
    size_t n_direct = 0;
    decode_checked(data, size, &n_direct);

    /* 2. The input as a log, in memory. */
    scan_ctx s = {.size = size};
    uint64_t valid_end = 0;
    int scan_rc = log_scan(path, data, size, scan_record, &s, &valid_end);
    if (scan_rc == LSM_OK) {
        FUZZ_CHECK(valid_end == s.next_min_offset);
        check_torn_tail(data, size, valid_end);
    } else {
        FUZZ_CHECK(scan_rc == LSM_ECORRUPT);
        if (s.decode_rc == LSM_OK) /* the framing itself failed */
            FUZZ_CHECK(strstr(lsm_errmsg(), path) != NULL);
    }

    /* 3. The input as a log file: first as the wal inspector reads it. */
    fuzz_write_file(path, data, size);
    check_inspector(path, size, &s, scan_rc, valid_end);
    replay_ctx r = {0};
    uint64_t torn = 0;
    int rc = wal_replay(env_posix(), path, replay_entry, &r, &torn);
    FUZZ_CHECK(rc == scan_rc);
    if (rc != LSM_OK) {
        FUZZ_CHECK(strstr(lsm_errmsg(), path) != NULL);
        FUZZ_CHECK(fuzz_file_size(path) == size); /* evidence kept */
        return;
    }
    FUZZ_CHECK(r.n_entries == s.n_entries);
    FUZZ_CHECK(torn == size - valid_end);
    FUZZ_CHECK(fuzz_file_size(path) == valid_end);

    /* Replaying the cut file again finds the same entries and no tail. */
    replay_ctx again = {0};
    rc = wal_replay(env_posix(), path, replay_entry, &again, &torn);
    FUZZ_CHECK(rc == LSM_OK);
    FUZZ_CHECK(torn == 0);
    FUZZ_CHECK(again.n_entries == r.n_entries);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_path("1.wal");
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
