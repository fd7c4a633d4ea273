/*
 * prefix_int.h: the prefix extractor, and the SST_META_PREFIX record that
 * records it in an SST beside a bloom filter of its keys' prefixes
 * (FORMAT.md, "Meta section"; lsm_options.prefix_len / prefix_delim).
 *
 * An extractor maps a key to its prefix, or says the key is not in its
 * domain:
 *   fixed length N: the first N bytes; a key shorter than N has none.
 *   delimiter C:    the bytes up to and including the first C; a key
 *                   without C has none.
 * Keys out of the domain are never added to a prefix filter.
 *
 * Why a prefix scan may trust a filter (prefix_scan_probe): when the scan's
 * prefix P is itself in the domain, every key that starts with P has the
 * extractor prefix of P (fixed N: its first N bytes are P's; delimiter C:
 * its first C is P's first C), so an SST whose filter rules out extract(P)
 * holds no key starting with P. A key out of the domain never starts with
 * an in-domain P (it is shorter than N, or lacks C, and P is not), so
 * leaving such keys out of the filter loses nothing. When P is not in the
 * domain (shorter than N, or without C), keys starting with P may have many
 * prefixes and the filter cannot answer: the scan falls back on key ranges.
 *
 * Thread safety: everything here is pure; an extractor is a plain value.
 */
#ifndef LSM_PREFIX_INT_H
#define LSM_PREFIX_INT_H

#include "table/bloom_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kinds, as the record's first byte stores them. */
typedef enum prefix_kind {
    PREFIX_NONE = 0,  /* no extractor: no record, no filter */
    PREFIX_FIXED = 1, /* the first len bytes */
    PREFIX_DELIM = 2  /* up to and including the first delim byte */
} prefix_kind;

typedef struct prefix_extractor {
    prefix_kind kind;
    uint32_t len;  /* PREFIX_FIXED: 1 to LSM_MAX_KEY_BYTES */
    uint8_t delim; /* PREFIX_DELIM */
} prefix_extractor;

/* The extractor lsm_options' prefix_len and prefix_delim describe (already
 * validated: at most one of them set). */
prefix_extractor prefix_extractor_from(unsigned prefix_len, int prefix_delim);

/* Whether key is in x's domain; if so, *nprefix is the length of its
 * prefix (the prefix is key[0, *nprefix)). false for PREFIX_NONE. */
bool prefix_extract(const prefix_extractor *x, const uint8_t *key, size_t nkey,
                    size_t *nprefix);

/* Whether two extractors map every key alike. */
bool prefix_extractor_equal(const prefix_extractor *a,
                            const prefix_extractor *b);

/* Writes "fixed:N", "delim:'C'" (C escaped as \xNN unless printable) or
 * "none" into buf (always NUL-terminated). */
void prefix_extractor_describe(const prefix_extractor *x, char *buf, size_t n);

/* A decoded SST_META_PREFIX record: a view into its bytes, which must
 * outlive it. */
typedef struct prefix_record {
    prefix_extractor extractor;
    uint64_t n_prefixes; /* distinct prefixes added to the filter */
    bloom filter;        /* over those prefixes */
} prefix_record;

/* Encodes the record (FORMAT.md) into a malloc'd buffer *out of *n bytes
 * that the caller frees: x (not PREFIX_NONE), the count, and filter, a
 * filter section as bloom_builder_finish makes it. LSM_ENOMEM. */
int prefix_record_encode(const prefix_extractor *x, uint64_t n_prefixes,
                         const uint8_t *filter, size_t nfilter, uint8_t **out,
                         size_t *n);

/* The size prefix_record_encode gives the record. */
size_t prefix_record_bytes(const prefix_extractor *x, uint64_t n_prefixes,
                           size_t nfilter);

/* Checks the record's bytes and fills *out. path names the file in
 * messages. LSM_ECORRUPT, naming the file and what is wrong. */
int prefix_record_decode(const uint8_t *data, size_t n, const char *path,
                         prefix_record *out);

/* Whether the record rules out every key that starts with p, for a scan
 * made with extractor x. *usable is false (and the answer "maybe") when
 * the record cannot say: x differs from the one that wrote the SST, or p
 * is not in x's domain (see the top of this file). */
bool prefix_record_may_match(const prefix_record *r, const prefix_extractor *x,
                             const uint8_t *p, size_t np, bool *usable);

#endif
