/*
 * block_codec_int.h: compressing SST data blocks (FORMAT.md, "Compressed
 * data blocks").
 *
 * A data block is built as always (block_int.h), then handed to
 * block_compress, which stores it LZ4- or Zstandard-compressed when that
 * saves at least an eighth of its bytes (LevelDB's rule), else as it is.
 * What goes to the file for a compressed block is the compressed bytes of
 * the whole block followed by a u64 checksum of those bytes, so damage is
 * caught before the decompressor sees them; the index record says which
 * kind each block is and how many bytes it decompresses to.
 *
 * A reader checks a record's sizes with block_stored_sizes_ok before it
 * allocates anything: a block never claims more than
 * BLOCK_CODEC_MAX_RATIO times its stored bytes, nor more than any block a
 * writer makes, so a hostile size cannot make a huge allocation.
 * block_decompress then verifies the checksum and decompresses into
 * exactly the recorded size, never writing past it.
 *
 * Thread safety: a block_compressor belongs to one builder (one thread).
 * block_decompress may run on any number of threads at once: each thread
 * keeps its own Zstandard context (freed when the thread exits).
 */
#ifndef LSM_BLOCK_CODEC_INT_H
#define LSM_BLOCK_CODEC_INT_H

#include "table/block_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a data block is stored; the numbers are on disk. */
typedef enum block_kind {
    BLOCK_KIND_RAW = 0,
    BLOCK_KIND_LZ4 = 1,
    BLOCK_KIND_ZSTD = 2
} block_kind;
#define BLOCK_KIND_COUNT 3

/* A compressed block decompresses to at most this many times its stored
 * bytes (checksum included). LZ4 cannot do better than about 255 to 1;
 * a writer stores a block that Zstandard shrinks more than this with LZ4
 * instead (or raw), so every block it writes keeps the bound. */
#define BLOCK_CODEC_MAX_RATIO 256
/* No block a writer makes is larger: the entries region stays below
 * BLOCK_MAX_ENTRIES_BYTES plus one entry, and the restart array is a
 * fraction of it. */
#define BLOCK_CODEC_MAX_RAW_BYTES (2 * BLOCK_MAX_ENTRIES_BYTES)

/* The builder's side: the kind asked for, its level, and scratch space. */
typedef struct block_compressor {
    block_kind kind; /* BLOCK_KIND_RAW: never compress */
    int level;       /* Zstandard's level (0: its default) */
    void *zstd;      /* ZSTD_CCtx, made on first use */
    byte_buf out;    /* the last compressed block and its checksum */
} block_compressor;

void block_compressor_init(block_compressor *c, block_kind kind, int level);
/* Frees the scratch space and context. NULL-safe. */
void block_compressor_free(block_compressor *c);

/* Chooses how to store the finished block raw[0..n): *kind and the bytes
 * to write in *stored / *n_stored (raw itself for BLOCK_KIND_RAW, else
 * owned by c and valid until its next call). LSM_ENOMEM or LSM_EINTERNAL
 * (the library failed) on error. */
int block_compress(block_compressor *c, const uint8_t *raw, size_t n,
                   block_kind *kind, const uint8_t **stored, size_t *n_stored);

/* Whether a block of this kind, stored in n_stored bytes, may decompress
 * to n_raw bytes (raw blocks: n_raw == n_stored). Checked before anything
 * is allocated. */
bool block_stored_sizes_ok(unsigned kind, uint64_t n_stored, uint64_t n_raw);

/* Verifies the checksum of the compressed block stored[0..n_stored) and
 * decompresses it into dst, which has room for exactly n_raw bytes; it
 * must decompress to exactly that many. LSM_ECORRUPT naming path and
 * file_offset otherwise (LSM_ENOMEM if no context can be made). */
int block_decompress(block_kind kind, const uint8_t *stored, size_t n_stored,
                     uint8_t *dst, size_t n_raw, const char *path,
                     uint64_t file_offset);

/* "raw", "lz4" or "zstd"; "unknown" otherwise. */
const char *block_kind_name(unsigned kind);

/* The Zstandard levels block_compress accepts (0 is the library's
 * default). */
int block_codec_min_level(void);
int block_codec_max_level(void);

#endif
