/*
 * checksum.c: XXH3-64 through libxxhash.
 */
#include "util/checksum_int.h"

#include <xxhash.h>

uint64_t checksum64(const void *data, size_t n)
{
    return (uint64_t)XXH3_64bits(data, n);
}

uint64_t hash64(const void *data, size_t n)
{
    return (uint64_t)XXH3_64bits(data, n);
}
