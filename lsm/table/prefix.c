/*
 * prefix.c: prefix extractors and the SST_META_PREFIX record (prefix_int.h,
 * FORMAT.md "Meta section").
 *
 * Thread safety: see prefix_int.h.
 */
#include "table/prefix_int.h"
#include "util/coding_int.h"
#include "util/status_int.h"

#include "lsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

prefix_extractor prefix_extractor_from(unsigned prefix_len, int prefix_delim)
{
    prefix_extractor x = {.kind = PREFIX_NONE};
    if (prefix_len > 0) {
        x.kind = PREFIX_FIXED;
        x.len = prefix_len;
    } else if (prefix_delim >= 0 && prefix_delim <= 255) {
        x.kind = PREFIX_DELIM;
        x.delim = (uint8_t)prefix_delim;
    }
    return x;
}

bool prefix_extract(const prefix_extractor *x, const uint8_t *key, size_t nkey,
                    size_t *nprefix)
{
    if (x->kind == PREFIX_FIXED) {
        if (nkey < x->len)
            return false;
        *nprefix = x->len;
        return true;
    }
    if (x->kind == PREFIX_DELIM) {
        const uint8_t *d = nkey ? memchr(key, x->delim, nkey) : NULL;
        if (!d)
            return false;
        *nprefix = (size_t)(d - key) + 1;
        return true;
    }
    return false;
}

bool prefix_extractor_equal(const prefix_extractor *a,
                            const prefix_extractor *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == PREFIX_FIXED)
        return a->len == b->len;
    if (a->kind == PREFIX_DELIM)
        return a->delim == b->delim;
    return true;
}

void prefix_extractor_describe(const prefix_extractor *x, char *buf, size_t n)
{
    if (x->kind == PREFIX_FIXED)
        snprintf(buf, n, "fixed:%u", (unsigned)x->len);
    else if (x->kind == PREFIX_DELIM && x->delim > 0x20 && x->delim < 0x7f &&
             x->delim != '\'' && x->delim != '\\')
        snprintf(buf, n, "delim:'%c'", x->delim);
    else if (x->kind == PREFIX_DELIM)
        snprintf(buf, n, "delim:'\\x%02x'", (unsigned)x->delim);
    else
        snprintf(buf, n, "none");
}

/* The record's parameter: the length, or the delimiter byte. */
static uint32_t prefix_param(const prefix_extractor *x)
{
    return x->kind == PREFIX_FIXED ? x->len : x->delim;
}

size_t prefix_record_bytes(const prefix_extractor *x, uint64_t n_prefixes,
                           size_t nfilter)
{
    return 1 + varint64_length(prefix_param(x)) + varint64_length(n_prefixes) +
           nfilter;
}

int prefix_record_encode(const prefix_extractor *x, uint64_t n_prefixes,
                         const uint8_t *filter, size_t nfilter, uint8_t **out,
                         size_t *n)
{
    uint8_t head[1 + 2 * VARINT64_MAX_BYTES];
    size_t nhead = 0;
    head[nhead++] = (uint8_t)x->kind;
    nhead += put_varint64(head + nhead, prefix_param(x));
    nhead += put_varint64(head + nhead, n_prefixes);
    uint8_t *buf = malloc(nhead + nfilter);
    if (!buf)
        return lsm_error(LSM_ENOMEM,
                         "out of memory for a %zu-byte prefix "
                         "record",
                         nhead + nfilter);
    memcpy(buf, head, nhead);
    memcpy(buf + nhead, filter, nfilter);
    *out = buf;
    *n = nhead + nfilter;
    return LSM_OK;
}

/* Decodes the kind and its parameter at *p, advancing it. */
static int prefix_record_decode_extractor(const uint8_t **p, const uint8_t *end,
                                          const char *path, prefix_extractor *x)
{
    if (*p == end)
        return lsm_corrupt("%s: prefix record: empty", path);
    unsigned kind = *(*p)++;
    uint64_t param;
    *p = get_varint64(*p, end, &param);
    if (!*p)
        return lsm_corrupt("%s: prefix record: truncated extractor", path);
    if (kind == PREFIX_FIXED && param >= 1 && param <= LSM_MAX_KEY_BYTES) {
        *x = (prefix_extractor){.kind = PREFIX_FIXED, .len = (uint32_t)param};
        return LSM_OK;
    }
    if (kind == PREFIX_DELIM && param <= 255) {
        *x = (prefix_extractor){.kind = PREFIX_DELIM, .delim = (uint8_t)param};
        return LSM_OK;
    }
    if (kind != PREFIX_FIXED && kind != PREFIX_DELIM)
        return lsm_corrupt("%s: prefix record: unknown extractor kind %u", path,
                           kind);
    return lsm_corrupt("%s: prefix record: %s %llu out of range", path,
                       kind == PREFIX_FIXED ? "length" : "delimiter",
                       (unsigned long long)param);
}

int prefix_record_decode(const uint8_t *data, size_t n, const char *path,
                         prefix_record *out)
{
    const uint8_t *p = data, *end = data + n;
    int rc = prefix_record_decode_extractor(&p, end, path, &out->extractor);
    if (rc != LSM_OK)
        return rc;
    p = get_varint64(p, end, &out->n_prefixes);
    if (!p)
        return lsm_corrupt("%s: prefix record: truncated prefix count", path);
    /* bloom_decode's message names the filter's offset in the record. */
    rc = bloom_decode(p, (size_t)(end - p), "prefix record",
                      (uint64_t)(p - data), &out->filter);
    if (rc != LSM_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", lsm_errmsg());
        return lsm_corrupt("%s: %s", path, why);
    }
    if (out->n_prefixes == 0 && !bloom_is_empty(&out->filter))
        return lsm_corrupt("%s: prefix record: a filter of %zu bytes over no "
                           "prefixes",
                           path, out->filter.n_bytes);
    return LSM_OK;
}

bool prefix_record_may_match(const prefix_record *r, const prefix_extractor *x,
                             const uint8_t *p, size_t np, bool *usable)
{
    size_t nprefix;
    *usable = prefix_extractor_equal(&r->extractor, x) &&
              prefix_extract(x, p, np, &nprefix);
    if (!*usable)
        return true;
    if (r->n_prefixes == 0) /* no key of the SST is in the domain */
        return false;
    return bloom_may_contain(&r->filter, p, nprefix);
}
