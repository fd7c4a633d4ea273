/*
 * wal.c: appending to and replaying write-ahead logs (wal_int.h).
 */
#include "log/wal_int.h"

#include "util/coding_int.h"
#include "iter/iter_int.h"
#include "iter/key_int.h"
#include "log/log_int.h"
#include "lsm.h"
#include "util/status_int.h"

#include <stdio.h>
#include <stdlib.h>

struct wal {
    env_file *file;
    uint64_t size; /* bytes appended (the file was created empty) */
};

int wal_create(env *e, const char *path, wal **out)
{
    *out = NULL;
    wal *w = calloc(1, sizeof *w);
    if (!w)
        return lsm_error(LSM_ENOMEM, "out of memory creating %s", path);
    int rc = e->open_write(e, path, &w->file);
    if (rc != LSM_OK) {
        free(w);
        return rc;
    }
    *out = w;
    return LSM_OK;
}

int wal_append(wal *w, uint8_t *buf, size_t payload_len, bool sync)
{
    int rc = log_append_framed(w->file, buf, payload_len);
    if (rc == LSM_OK)
        w->size += LOG_HEADER_BYTES + payload_len;
    if (rc == LSM_OK && sync)
        rc = file_sync(w->file);
    return rc;
}

int wal_append_framed(wal *w, const uint8_t *records, size_t n)
{
    int rc = file_append(w->file, records, n);
    if (rc == LSM_OK)
        w->size += n;
    return rc;
}

int wal_sync(wal *w)
{
    return file_sync(w->file);
}

uint64_t wal_size(const wal *w)
{
    return w->size;
}

const char *wal_path(const wal *w)
{
    return w->file->path;
}

int wal_close(wal *w)
{
    if (!w)
        return LSM_OK;
    int rc = file_close(w->file);
    free(w);
    return rc;
}

/* One decoded entry of a record. */
typedef struct wal_entry {
    uint8_t type;
    const uint8_t *key, *value;
    size_t nkey, nvalue;
} wal_entry;

/* Decodes the entry at *p (before end) into *e and advances *p; NULL-free
 * failure: returns false for anything malformed. */
static bool wal_next_entry(const uint8_t **p, const uint8_t *end, wal_entry *e)
{
    uint64_t nkey, nvalue;
    const uint8_t *q = *p;
    if (q >= end)
        return false;
    e->type = *q++;
    if (e->type != ENTRY_VALUE && e->type != ENTRY_TOMBSTONE &&
        e->type != ENTRY_RANGE_DEL)
        return false;
    q = get_varint64(q, end, &nkey);
    if (!q || nkey < 1 || nkey > LSM_MAX_KEY_BYTES ||
        nkey > (uint64_t)(end - q))
        return false;
    e->key = q;
    e->nkey = (size_t)nkey;
    q += nkey;
    q = get_varint64(q, end, &nvalue);
    if (!q || nvalue > LSM_MAX_VALUE_BYTES || nvalue > (uint64_t)(end - q))
        return false;
    if (e->type == ENTRY_TOMBSTONE && nvalue != 0)
        return false;
    /* A range delete's value is its end: a key above its start. */
    if (e->type == ENTRY_RANGE_DEL &&
        (nvalue < 1 || nvalue > LSM_MAX_KEY_BYTES ||
         user_key_cmp(e->key, e->nkey, q, (size_t)nvalue) >= 0))
        return false;
    e->value = q;
    e->nvalue = (size_t)nvalue;
    *p = q + nvalue;
    return true;
}

int wal_decode_record(const uint8_t *payload, size_t n, wal_entry_fn fn,
                      void *ctx)
{
    if (n < 12)
        return lsm_corrupt("WAL record of %zu bytes is shorter than its "
                           "12-byte header",
                           n);
    uint64_t first_seq = get_fixed64(payload);
    uint32_t count = get_fixed32(payload + 8);
    const uint8_t *end = payload + n;
    if (count == 0 || first_seq == 0 || first_seq + count < first_seq)
        return lsm_corrupt("WAL record has %u entries from sequence %llu",
                           count, (unsigned long long)first_seq);
    /* First check every entry, so that a bad record applies nothing. */
    const uint8_t *p = payload + 12;
    wal_entry e;
    for (uint32_t i = 0; i < count; i++)
        if (!wal_next_entry(&p, end, &e))
            return lsm_corrupt("WAL record entry %u of %u is malformed", i,
                               count);
    if (p != end)
        return lsm_corrupt("WAL record has %zu bytes after its last entry",
                           (size_t)(end - p));
    p = payload + 12;
    for (uint32_t i = 0; i < count; i++) {
        wal_next_entry(&p, end, &e);
        int rc =
            fn(ctx, first_seq + i, e.type, e.key, e.nkey, e.value, e.nvalue);
        if (rc != LSM_OK)
            return rc;
    }
    return LSM_OK;
}

typedef struct wal_replay_ctx {
    const char *path;
    wal_entry_fn fn;
    void *ctx;
} wal_replay_ctx;

static int wal_replay_record(void *ctx, uint64_t offset, const uint8_t *payload,
                             size_t n)
{
    wal_replay_ctx *r = ctx;
    int rc = wal_decode_record(payload, n, r->fn, r->ctx);
    if (rc == LSM_ECORRUPT) {
        char why[256];
        snprintf(why, sizeof why, "%s", lsm_errmsg());
        return lsm_error(LSM_ECORRUPT, "%s: bad record at offset %llu: %s",
                         r->path, (unsigned long long)offset, why);
    }
    return rc;
}

int wal_read(env *e, const char *path, uint64_t limit, wal_entry_fn fn,
             void *ctx, uint64_t *size, uint64_t *valid_end)
{
    uint8_t *data = NULL;
    *size = *valid_end = 0;
    int rc = log_read_file(e, path, &data, size);
    if (rc != LSM_OK)
        return rc;
    wal_replay_ctx r = {.path = path, .fn = fn, .ctx = ctx};
    uint64_t scanned = *size < limit ? *size : limit;
    rc = log_scan(path, data, scanned, wal_replay_record, &r, valid_end);
    free(data);
    return rc;
}

int wal_replay(env *e, const char *path, wal_entry_fn fn, void *ctx,
               uint64_t *torn_bytes)
{
    uint64_t size = 0, valid_end = 0;
    *torn_bytes = 0;
    int rc = wal_read(e, path, UINT64_MAX, fn, ctx, &size, &valid_end);
    if (rc == LSM_OK && valid_end < size) {
        *torn_bytes = size - valid_end;
        rc = e->truncate(e, path, valid_end);
    }
    return rc;
}
