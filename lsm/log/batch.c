/*
 * batch.c: lsm_batch, a WAL record under construction (batch_int.h).
 */
#include "log/batch_int.h"

#include "util/coding_int.h"
#include "iter/key_int.h"
#include "iter/iter_int.h"
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
    size_t need = 1 + 2 * VARINT64_MAX_BYTES + nkey + nvalue;
    size_t entries_bytes = b->rep ? b->len - BATCH_PREFIX_BYTES : 0;
    if (entries_bytes + need > LOG_MAX_PAYLOAD - 12)
        return lsm_error(LSM_EINVAL,
                         "a batch is limited to %u bytes; write it as "
                         "several batches",
                         LOG_MAX_PAYLOAD);
    rc = batch_reserve(b, need);
    if (rc != LSM_OK)
        return rc;
    uint8_t *p = b->rep + b->len;
    *p++ = type;
    p += put_varint64(p, nkey);
    memcpy(p, key, nkey);
    p += nkey;
    p += put_varint64(p, nvalue);
    if (nvalue)
        memcpy(p, value, nvalue);
    p += nvalue;
    b->len = (size_t)(p - b->rep);
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
