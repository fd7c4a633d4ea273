/*
 * coding_int.h: fixed-width little-endian integers and LEB128 varints.
 *
 * Every on-disk integer goes through these functions, so the byte order is
 * little-endian on every machine. Decoders take an explicit end pointer and
 * return NULL instead of reading past it: a truncated or altered file can
 * only ever produce an error, never an out-of-bounds read.
 */
#ifndef LSM_CODING_INT_H
#define LSM_CODING_INT_H

#include <stddef.h>
#include <stdint.h>

/* A varint64 takes at most 10 bytes. */
#define VARINT64_MAX_BYTES 10

static inline void put_fixed16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void put_fixed32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_fixed64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t get_fixed16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t get_fixed32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t get_fixed64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Writes v as a varint at p; returns the number of bytes written (1..10). */
static inline size_t put_varint64(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Number of bytes put_varint64 would write for v. */
static inline size_t varint64_length(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Reads a varint from [p, end) into *v. Returns the byte after it, or NULL if
 * the varint is truncated or longer than 64 bits. */
static inline const uint8_t *get_varint64(const uint8_t *p, const uint8_t *end,
                                          uint64_t *v)
{
    /* Most lengths and seqs in a block fit one byte. */
    if (p < end && *p < 0x80) {
        *v = *p;
        return p + 1;
    }
    uint64_t result = 0;
    for (unsigned shift = 0; shift <= 63 && p < end; shift += 7) {
        uint64_t byte = *p++;
        if (shift == 63 && byte > 1)
            return NULL;
        result |= (byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = result;
            return p;
        }
    }
    return NULL;
}

#endif
