/*
 * bloom_int.h: the bloom filter of an SST, over its distinct user keys.
 *
 * The byte layout is in FORMAT.md ("Filter section"): the bit array, the
 * probe count k and a checksum. Probes use double hashing of hash64(key):
 * h1 = low 32 bits, h2 = high 32 bits, bit i = (h1 + i * h2) mod m. With
 * bits_per_key bits per key, k = round(bits_per_key * ln 2) clamped to 1..30;
 * 10 bits per key give about 1% false positives. A filter never gives a
 * false negative.
 *
 * An empty filter (bits_per_key 0) says "may contain" for every key.
 *
 * Thread safety: a builder is used by one thread; a decoded filter is
 * immutable and may be probed from any thread.
 */
#ifndef LSM_BLOOM_INT_H
#define LSM_BLOOM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest k a filter may use. */
#define BLOOM_MAX_PROBES 30
/* bits (n_bytes) + k (u8) + checksum (u64): the trailer is 9 bytes. */
#define BLOOM_TRAILER_BYTES 9

/* Collects key hashes until finish; memory grows by 8 bytes per key. */
typedef struct bloom_builder {
    uint64_t *hashes;
    size_t n_hashes;
    size_t cap_hashes;
    unsigned bits_per_key;
} bloom_builder;

/* An empty builder; bits_per_key 0 builds an empty filter. */
void bloom_builder_init(bloom_builder *b, unsigned bits_per_key);
/* Frees the hashes. NULL-safe. */
void bloom_builder_free(bloom_builder *b);
/* Adds one key (the caller adds each distinct key once; a repeat only
 * wastes bits). LSM_ENOMEM leaves b unchanged. */
int bloom_builder_add(bloom_builder *b, const uint8_t *key, size_t nkey);
/* Size of the encoded filter section, in bytes, if finished now. */
size_t bloom_builder_size_bytes(const bloom_builder *b);
/* Encodes the filter section into *out, a malloc'd buffer of *n_bytes bytes
 * that the caller frees. The builder is left as it was. */
int bloom_builder_finish(const bloom_builder *b, uint8_t **out,
                         size_t *n_bytes);

/* The probe count for bits_per_key bits per key (0 for 0). */
unsigned bloom_num_probes(unsigned bits_per_key);

/* A decoded filter: a view into the section bytes, which must outlive it. */
typedef struct bloom {
    const uint8_t *bits;
    size_t n_bytes; /* of bits; 0 for an empty filter */
    unsigned k;     /* 0 for an empty filter */
} bloom;

/* Checks the section (checksum, k, sizes; FORMAT.md) and fills *out.
 * path and file_offset name the section in messages. LSM_ECORRUPT when it
 * is invalid. */
int bloom_decode(const uint8_t *data, size_t n_bytes, const char *path,
                 uint64_t file_offset, bloom *out);
/* true for an empty filter (which never rules a key out). */
bool bloom_is_empty(const bloom *f);
/* false only when key was certainly not added. */
bool bloom_may_contain(const bloom *f, const uint8_t *key, size_t nkey);

#endif
