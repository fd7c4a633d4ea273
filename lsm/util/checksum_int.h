/*
 * checksum_int.h: the one checksum and the one hash of the engine.
 *
 * Both are XXH3-64 (libxxhash): fast, well distributed and stable across
 * versions and machines, which on-disk checksums and bloom filters need.
 * checksum64 protects bytes on disk; hash64 feeds bloom filters. They are the
 * same function today; two names keep the two purposes apart.
 */
#ifndef LSM_CHECKSUM_INT_H
#define LSM_CHECKSUM_INT_H

#include <stddef.h>
#include <stdint.h>

uint64_t checksum64(const void *data, size_t n);
uint64_t hash64(const void *data, size_t n);

#endif
