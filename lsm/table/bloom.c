/*
 * bloom.c: building, decoding and probing SST bloom filters (bloom_int.h,
 * FORMAT.md "Filter section").
 *
 * The builder keeps one 64-bit hash per key and sets the bits only at
 * finish, when the number of keys (and so the filter size) is known.
 *
 * Thread safety: see bloom_int.h.
 */
#include "table/bloom_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "util/status_int.h"

#include <stdlib.h>
#include <string.h>

/* A filter of keys gets at least this many bytes, so tiny filters still
 * have a useful false-positive rate. */
#define BLOOM_MIN_BYTES 8

void bloom_builder_init(bloom_builder *b, unsigned bits_per_key)
{
    memset(b, 0, sizeof *b);
    b->bits_per_key = bits_per_key;
}

void bloom_builder_free(bloom_builder *b)
{
    if (!b)
        return;
    free(b->hashes);
    bloom_builder_init(b, b->bits_per_key);
}

int bloom_builder_add(bloom_builder *b, const uint8_t *key, size_t nkey)
{
    if (b->bits_per_key == 0)
        return LSM_OK;
    if (b->n_hashes == b->cap_hashes) {
        size_t cap = b->cap_hashes ? 2 * b->cap_hashes : 1024;
        uint64_t *grown = realloc(b->hashes, cap * sizeof *grown);
        if (!grown)
            return lsm_error(LSM_ENOMEM, "out of memory for %zu filter keys",
                             cap);
        b->hashes = grown;
        b->cap_hashes = cap;
    }
    b->hashes[b->n_hashes++] = hash64(key, nkey);
    return LSM_OK;
}

unsigned bloom_num_probes(unsigned bits_per_key)
{
    if (bits_per_key == 0)
        return 0;
    /* round(bits * ln 2) in integers: ln 2 ~= 0.693147. */
    unsigned long long k =
        ((unsigned long long)bits_per_key * 693147 + 500000) / 1000000;
    if (k < 1)
        k = 1;
    if (k > BLOOM_MAX_PROBES)
        k = BLOOM_MAX_PROBES;
    return (unsigned)k;
}

/* Bytes of bit array for the keys added so far (0 for an empty filter). */
static size_t bloom_builder_bit_bytes(const bloom_builder *b)
{
    if (b->bits_per_key == 0 || b->n_hashes == 0)
        return 0;
    size_t bits = b->n_hashes * (size_t)b->bits_per_key;
    size_t n = (bits + 7) / 8;
    return n < BLOOM_MIN_BYTES ? BLOOM_MIN_BYTES : n;
}

size_t bloom_builder_size_bytes(const bloom_builder *b)
{
    return bloom_builder_bit_bytes(b) + BLOOM_TRAILER_BYTES;
}

/* The bits probed for a key, in order: bit i of hash h in m bits is
 * (h1 + i * h2) % m (FORMAT.md), h1 and h2 the low and high halves of h.
 * Stepping by h2 % m and wrapping once gives the same bits with two
 * divisions per key instead of one per probe (a division costs tens of
 * cycles, and flushes and compactions filter every key they write). The
 * sum never overflows: h1 + i * h2 < 2^32 * (1 + BLOOM_MAX_PROBES). Shared
 * by build and probe so the two can never disagree. */
typedef struct bloom_probe {
    uint64_t bit, step, m;
} bloom_probe;

static inline bloom_probe bloom_probe_start(uint64_t h, uint64_t m)
{
    return (bloom_probe){
        .bit = (h & 0xffffffffu) % m, .step = (h >> 32) % m, .m = m};
}

static inline void bloom_probe_next(bloom_probe *p)
{
    p->bit += p->step; /* both below m: one wrap at most */
    if (p->bit >= p->m)
        p->bit -= p->m;
}

int bloom_builder_finish(const bloom_builder *b, uint8_t **out, size_t *n_bytes)
{
    size_t n_bits_bytes = bloom_builder_bit_bytes(b);
    size_t n = n_bits_bytes + BLOOM_TRAILER_BYTES;
    uint8_t *buf = calloc(1, n);
    if (!buf)
        return lsm_error(LSM_ENOMEM, "out of memory for a %zu-byte filter", n);
    unsigned k = n_bits_bytes ? bloom_num_probes(b->bits_per_key) : 0;
    uint64_t m = (uint64_t)n_bits_bytes * 8;
    for (size_t j = 0; j < b->n_hashes && m; j++) {
        bloom_probe p = bloom_probe_start(b->hashes[j], m);
        for (unsigned i = 0; i < k; i++, bloom_probe_next(&p))
            buf[p.bit / 8] |= (uint8_t)(1u << (p.bit % 8));
    }
    buf[n_bits_bytes] = (uint8_t)k;
    put_fixed64(buf + n_bits_bytes + 1, checksum64(buf, n_bits_bytes + 1));
    *out = buf;
    *n_bytes = n;
    return LSM_OK;
}

int bloom_decode(const uint8_t *data, size_t n_bytes, const char *path,
                 uint64_t file_offset, bloom *out)
{
    unsigned long long off = (unsigned long long)file_offset;
    if (n_bytes < BLOOM_TRAILER_BYTES)
        return lsm_corrupt("%s: filter at offset %llu: %zu bytes is too short",
                           path, off, n_bytes);
    size_t n_bits_bytes = n_bytes - BLOOM_TRAILER_BYTES;
    if (checksum64(data, n_bits_bytes + 1) !=
        get_fixed64(data + n_bits_bytes + 1))
        return lsm_corrupt("%s: filter at offset %llu: checksum mismatch", path,
                           off);
    unsigned k = data[n_bits_bytes];
    if (k > BLOOM_MAX_PROBES || (k == 0) != (n_bits_bytes == 0))
        return lsm_corrupt("%s: filter at offset %llu: %u probes over %zu "
                           "bytes",
                           path, off, k, n_bits_bytes);
    out->bits = data;
    out->n_bytes = n_bits_bytes;
    out->k = k;
    return LSM_OK;
}

bool bloom_is_empty(const bloom *f)
{
    return f->n_bytes == 0;
}

bool bloom_may_contain(const bloom *f, const uint8_t *key, size_t nkey)
{
    if (bloom_is_empty(f))
        return true;
    uint64_t h = hash64(key, nkey);
    uint64_t m = (uint64_t)f->n_bytes * 8;
    bloom_probe p = bloom_probe_start(h, m);
    for (unsigned i = 0; i < f->k; i++, bloom_probe_next(&p))
        if (!(f->bits[p.bit / 8] & (1u << (p.bit % 8))))
            return false;
    return true;
}
