/*
 * batch.c: lsm_batch, a WAL record under construction (batch_int.h).
 */
#include "log/batch_int.h"

#include "util/coding_int.h"
#include "iter/key_int.h"
#include "iter/iter_int.h"
#include "iter/rangedel_int.h"
#include "util/status_int.h"

#include <stdlib.h>
#include <string.h>

void batch_init(lsm_batch *b)
{
    memset(b, 0, sizeof *b);
}

void batch_release(lsm_batch *b)
{
    free(b->rep);
    memset(b, 0, sizeof *b);
}

/* Makes room for n more bytes, creating the prefix on first use. */
static int batch_reserve(lsm_batch *b, size_t n)
{
    if (!b->rep) {
        size_t cap = BATCH_PREFIX_BYTES + 256;
        b->rep = calloc(1, cap);
        if (!b->rep)
            return lsm_error(LSM_ENOMEM, "out of memory building a batch");
        b->cap = cap;
        b->len = BATCH_PREFIX_BYTES;
    }
    if (n <= b->cap - b->len)
        return LSM_OK;
    size_t cap = b->cap;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2)
            return lsm_error(LSM_ENOMEM, "batch too large");
        cap *= 2;
    }
    uint8_t *grown = realloc(b->rep, cap);
    if (!grown)
        return lsm_error(LSM_ENOMEM, "out of memory building a batch");
    b->rep = grown;
    b->cap = cap;
    return LSM_OK;
}

/* Writes one entry (wal_int.h: type, varint key length, key, varint value
 * length, value) at p, which has room for entry_bound_bytes; returns its
 * length. at (may be NULL) receives where the key and the value landed. */
static size_t batch_encode_entry(uint8_t *p, uint8_t type, const void *key,
                                 size_t nkey, const void *value, size_t nvalue,
                                 record_run_entry *at)
{
    uint8_t *start = p;
    *p++ = type;
    p += put_varint64(p, nkey);
    memcpy(p, key, nkey);
    if (at)
        at->key = p;
    p += nkey;
    p += put_varint64(p, nvalue);
    if (nvalue)
        memcpy(p, value, nvalue);
    if (at)
        at->value = p;
    p += nvalue;
    return (size_t)(p - start);
}

/* The most bytes batch_encode_entry writes for these lengths. */
static size_t entry_bound_bytes(size_t nkey, size_t nvalue)
{
    return 1 + 2 * VARINT64_MAX_BYTES + nkey + nvalue;
}

int batch_value_check(const void *value, size_t nvalue)
{
    if (nvalue > LSM_MAX_VALUE_BYTES)
        return lsm_error(LSM_EINVAL,
                         "value is %zu bytes; values are 0 to %u bytes", nvalue,
                         LSM_MAX_VALUE_BYTES);
    if (nvalue > 0 && !value)
        return lsm_error(LSM_EINVAL, "value is NULL but %zu bytes long",
                         nvalue);
    return LSM_OK;
}

int batch_add(lsm_batch *b, uint8_t type, const void *key, size_t nkey,
              const void *value, size_t nvalue)
{
    int rc = key_check(key, nkey);
    if (rc != LSM_OK)
        return rc;
    rc = batch_value_check(value, nvalue);
    if (rc != LSM_OK)
        return rc;
    if (b->count == UINT32_MAX)
        return lsm_error(LSM_EINVAL, "a batch holds at most %u operations",
                         UINT32_MAX);
    size_t need = entry_bound_bytes(nkey, nvalue);
    size_t entries_bytes = b->rep ? b->len - BATCH_PREFIX_BYTES : 0;
    if (entries_bytes + need > LOG_MAX_PAYLOAD - 12)
        return lsm_error(LSM_EINVAL,
                         "a batch is limited to %u bytes; write it as "
                         "several batches",
                         LOG_MAX_PAYLOAD);
    rc = batch_reserve(b, need);
    if (rc != LSM_OK)
        return rc;
    b->len += batch_encode_entry(b->rep + b->len, type, key, nkey, value,
                                 nvalue, NULL);
    b->count++;
    b->user_bytes += nkey + nvalue;
    put_fixed32(b->rep + LOG_HEADER_BYTES + 8, b->count);
    return LSM_OK;
}

void batch_set_first_seq(lsm_batch *b, uint64_t first_seq)
{
    put_fixed64(b->rep + LOG_HEADER_BYTES, first_seq);
}

const uint8_t *batch_payload(const lsm_batch *b, size_t *n)
{
    *n = b->len - LOG_HEADER_BYTES;
    return b->rep + LOG_HEADER_BYTES;
}

int lsm_batch_new(lsm_batch **out)
{
    lsm_error_clear();
    if (!out)
        return lsm_error(LSM_EINVAL, "lsm_batch_new needs somewhere to put "
                                     "the batch");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return lsm_error(LSM_ENOMEM, "out of memory creating a batch");
    return LSM_OK;
}

void lsm_batch_free(lsm_batch *b)
{
    if (!b)
        return;
    batch_release(b);
    free(b);
}

int lsm_batch_put(lsm_batch *b, const void *key, size_t nkey, const void *value,
                  size_t nvalue)
{
    lsm_error_clear();
    if (!b)
        return lsm_error(LSM_EINVAL, "batch is NULL");
    return batch_add(b, ENTRY_VALUE, key, nkey, value, nvalue);
}

int lsm_batch_delete(lsm_batch *b, const void *key, size_t nkey)
{
    lsm_error_clear();
    if (!b)
        return lsm_error(LSM_EINVAL, "batch is NULL");
    return batch_add(b, ENTRY_TOMBSTONE, key, nkey, NULL, 0);
}

int lsm_batch_delete_range(lsm_batch *b, const void *lo, size_t nlo,
                           const void *hi, size_t nhi)
{
    lsm_error_clear();
    if (!b)
        return lsm_error(LSM_EINVAL, "batch is NULL");
    int rc = range_check(lo, nlo, hi, nhi);
    return rc == LSM_OK ? batch_add(b, ENTRY_RANGE_DEL, lo, nlo, hi, nhi) : rc;
}

size_t lsm_batch_count(const lsm_batch *b)
{
    return b ? b->count : 0;
}

void lsm_batch_clear(lsm_batch *b)
{
    if (!b || !b->rep)
        return;
    b->len = BATCH_PREFIX_BYTES;
    b->count = 0;
    b->user_bytes = 0;
    put_fixed32(b->rep + LOG_HEADER_BYTES + 8, 0);
}

/* --- record runs ----------------------------------------------------------
 */

void record_run_clear(record_run *r)
{
    r->len = 0;
}

void record_run_release(record_run *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* Makes room for n more bytes. */
static int record_run_reserve(record_run *r, size_t n)
{
    if (n <= r->cap - r->len)
        return LSM_OK;
    size_t cap = r->cap ? r->cap : 4096;
    while (cap - r->len < n) {
        if (cap > SIZE_MAX / 2)
            return lsm_error(LSM_ENOMEM, "WAL records too large");
        cap *= 2;
    }
    uint8_t *grown = realloc(r->buf, cap);
    if (!grown)
        return lsm_error(LSM_ENOMEM, "out of memory building WAL records");
    r->buf = grown;
    r->cap = cap;
    return LSM_OK;
}

int record_run_add(record_run *r, uint64_t seq, uint8_t type, const void *key,
                   size_t nkey, const void *value, size_t nvalue,
                   record_run_entry *at)
{
    size_t need = BATCH_PREFIX_BYTES + entry_bound_bytes(nkey, nvalue);
    if (need - LOG_HEADER_BYTES > LOG_MAX_PAYLOAD)
        return lsm_error(LSM_EINVAL,
                         "a write is limited to %u bytes; key and value "
                         "are %zu",
                         LOG_MAX_PAYLOAD, nkey + nvalue);
    int rc = record_run_reserve(r, need);
    if (rc != LSM_OK)
        return rc;
    uint8_t *rec = r->buf + r->len;
    uint8_t *payload = rec + LOG_HEADER_BYTES;
    put_fixed64(payload, seq);
    put_fixed32(payload + 8, 1);
    size_t n = 12 + batch_encode_entry(payload + 12, type, key, nkey, value,
                                       nvalue, at);
    log_frame(rec, n);
    if (at)
        at->payload = payload;
    r->len += LOG_HEADER_BYTES + n;
    return LSM_OK;
}
