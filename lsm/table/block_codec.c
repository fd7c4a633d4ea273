/*
 * block_codec.c: compressing and decompressing SST data blocks
 * (block_codec_int.h, FORMAT.md "Compressed data blocks").
 *
 * LZ4 uses its block format (LZ4_compress_default / LZ4_decompress_safe),
 * Zstandard one frame per block (ZSTD_compress2 / ZSTD_decompressDCtx):
 * both decompress into a buffer of a size given in advance and never write
 * past it, and both report a payload that does not fill it exactly.
 *
 * Ownership: a compressor owns its context and output buffer. Each thread
 * that decompresses Zstandard keeps one ZSTD_DCtx under a pthread key, so
 * a block costs no context allocation; the key's destructor frees it when
 * the thread exits.
 */
#include "table/block_codec_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "util/status_int.h"

#include <lz4.h>
#include <pthread.h>
#include <stdlib.h>
#include <zstd.h>

/* A compressed block must save at least 1/8 of the raw bytes (LevelDB). */
#define BLOCK_CODEC_MIN_SAVING_SHIFT 3

const char *block_kind_name(unsigned kind)
{
    switch (kind) {
    case BLOCK_KIND_RAW:
        return "raw";
    case BLOCK_KIND_LZ4:
        return "lz4";
    case BLOCK_KIND_ZSTD:
        return "zstd";
    default:
        return "unknown";
    }
}

int block_codec_min_level(void)
{
    return ZSTD_minCLevel();
}

int block_codec_max_level(void)
{
    return ZSTD_maxCLevel();
}

void block_compressor_init(block_compressor *c, block_kind kind, int level)
{
    c->kind = kind;
    c->level = level;
    c->zstd = NULL;
    c->out = (byte_buf){0};
}

void block_compressor_free(block_compressor *c)
{
    if (!c)
        return;
    ZSTD_freeCCtx(c->zstd);
    c->zstd = NULL;
    byte_buf_free(&c->out);
}

bool block_stored_sizes_ok(unsigned kind, uint64_t n_stored, uint64_t n_raw)
{
    if (kind == BLOCK_KIND_RAW)
        return n_raw == n_stored;
    /* n_stored is bounded before it is multiplied: no overflow. */
    if (kind >= BLOCK_KIND_COUNT || n_stored <= SST_CHECKSUM_BYTES ||
        n_stored > BLOCK_CODEC_MAX_RAW_BYTES)
        return false;
    return n_raw >= BLOCK_TRAILER_BYTES && n_raw <= BLOCK_CODEC_MAX_RAW_BYTES &&
           n_raw <= n_stored * BLOCK_CODEC_MAX_RATIO;
}

/* Compresses raw into c->out with kind; *n gets the compressed size (0:
 * the codec could not fit it in the room given, i.e. it would not shrink
 * enough). */
static int block_codec_run(block_compressor *c, block_kind kind,
                           const uint8_t *raw, size_t n_raw, size_t room,
                           size_t *n)
{
    *n = 0;
    if (kind == BLOCK_KIND_LZ4) {
        if (n_raw > LZ4_MAX_INPUT_SIZE)
            return LSM_OK; /* LZ4 cannot take it: stored raw */
        int got = LZ4_compress_default((const char *)raw, (char *)c->out.data,
                                       (int)n_raw, (int)room);
        *n = got > 0 ? (size_t)got : 0;
        return LSM_OK;
    }
    if (!c->zstd && !(c->zstd = ZSTD_createCCtx()))
        return lsm_error(LSM_ENOMEM, "out of memory for a zstd context");
    ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_compressionLevel, c->level);
    size_t got = ZSTD_compress2(c->zstd, c->out.data, room, raw, n_raw);
    /* An error here is almost always "destination too small": the block
     * does not shrink enough, and is stored another way. */
    *n = ZSTD_isError(got) ? 0 : got;
    return LSM_OK;
}

/* Tries kind on raw: true in *ok when the result saves an eighth and
 * keeps the ratio bound; c->out then holds it and its checksum.
 * *too_small when it shrank the block past the ratio bound. */
static int block_codec_try(block_compressor *c, block_kind kind,
                           const uint8_t *raw, size_t n_raw, bool *ok,
                           bool *too_small)
{
    *ok = false;
    *too_small = false;
    size_t max_stored = n_raw - (n_raw >> BLOCK_CODEC_MIN_SAVING_SHIFT);
    if (max_stored <= SST_CHECKSUM_BYTES)
        return LSM_OK;
    size_t room = max_stored - SST_CHECKSUM_BYTES;
    c->out.n_bytes = 0;
    int rc = byte_buf_reserve(&c->out, max_stored);
    size_t n = 0;
    if (rc == LSM_OK)
        rc = block_codec_run(c, kind, raw, n_raw, room, &n);
    if (rc != LSM_OK || n == 0)
        return rc;
    if (!block_stored_sizes_ok(kind, n + SST_CHECKSUM_BYTES, n_raw)) {
        *too_small = true;
        return LSM_OK;
    }
    put_fixed64(c->out.data + n, checksum64(c->out.data, n));
    c->out.n_bytes = n + SST_CHECKSUM_BYTES;
    *ok = true;
    return LSM_OK;
}

int block_compress(block_compressor *c, const uint8_t *raw, size_t n,
                   block_kind *kind, const uint8_t **stored, size_t *n_stored)
{
    *kind = BLOCK_KIND_RAW;
    *stored = raw;
    *n_stored = n;
    if (c->kind == BLOCK_KIND_RAW)
        return LSM_OK;
    bool ok = false, too_small = false;
    block_kind tried = c->kind;
    int rc = block_codec_try(c, tried, raw, n, &ok, &too_small);
    /* Zstandard may shrink a block past the ratio bound (long runs of one
     * byte); LZ4 never does, so such a block is stored LZ4 instead. */
    if (rc == LSM_OK && too_small && tried == BLOCK_KIND_ZSTD) {
        tried = BLOCK_KIND_LZ4;
        rc = block_codec_try(c, tried, raw, n, &ok, &too_small);
    }
    if (rc == LSM_OK && ok)
        *kind = tried;
    if (rc == LSM_OK && *kind != BLOCK_KIND_RAW) {
        *stored = c->out.data;
        *n_stored = c->out.n_bytes;
    }
    return rc;
}

/* --- Decompression -------------------------------------------------------- */

static pthread_key_t block_codec_dctx_key;
static pthread_once_t block_codec_dctx_once = PTHREAD_ONCE_INIT;
static int block_codec_dctx_key_rc = -1;

static void block_codec_dctx_free(void *dctx)
{
    ZSTD_freeDCtx(dctx);
}

static void block_codec_dctx_key_make(void)
{
    block_codec_dctx_key_rc =
        pthread_key_create(&block_codec_dctx_key, block_codec_dctx_free);
}

/* This thread's Zstandard context, made on first use; NULL when out of
 * memory. */
static ZSTD_DCtx *block_codec_dctx(void)
{
    pthread_once(&block_codec_dctx_once, block_codec_dctx_key_make);
    if (block_codec_dctx_key_rc != 0)
        return NULL;
    ZSTD_DCtx *d = pthread_getspecific(block_codec_dctx_key);
    if (d)
        return d;
    d = ZSTD_createDCtx();
    if (d && pthread_setspecific(block_codec_dctx_key, d) != 0) {
        ZSTD_freeDCtx(d);
        d = NULL;
    }
    return d;
}

/* Decompresses src into dst (exactly n_raw bytes); false if the payload is
 * malformed or does not fill dst exactly. *no_memory when no context. */
static bool block_codec_inflate(block_kind kind, const uint8_t *src,
                                size_t n_src, uint8_t *dst, size_t n_raw,
                                bool *no_memory)
{
    *no_memory = false;
    if (kind == BLOCK_KIND_LZ4) {
        if (n_src > LZ4_MAX_INPUT_SIZE || n_raw > LZ4_MAX_INPUT_SIZE)
            return false;
        int got = LZ4_decompress_safe((const char *)src, (char *)dst,
                                      (int)n_src, (int)n_raw);
        return got >= 0 && (size_t)got == n_raw;
    }
    ZSTD_DCtx *d = block_codec_dctx();
    if (!d) {
        *no_memory = true;
        return false;
    }
    size_t got = ZSTD_decompressDCtx(d, dst, n_raw, src, n_src);
    return !ZSTD_isError(got) && got == n_raw;
}

int block_decompress(block_kind kind, const uint8_t *stored, size_t n_stored,
                     uint8_t *dst, size_t n_raw, const char *path,
                     uint64_t file_offset)
{
    unsigned long long off = (unsigned long long)file_offset;
    if (!block_stored_sizes_ok(kind, n_stored, n_raw) || kind == BLOCK_KIND_RAW)
        return lsm_corrupt("%s: data block at offset %llu: %s block of %zu "
                           "bytes cannot hold %zu bytes",
                           path, off, block_kind_name(kind), n_stored, n_raw);
    size_t n = n_stored - SST_CHECKSUM_BYTES;
    if (checksum64(stored, n) != get_fixed64(stored + n))
        return lsm_corrupt("%s: data block at offset %llu: checksum mismatch "
                           "(%s-compressed bytes)",
                           path, off, block_kind_name(kind));
    bool no_memory = false;
    if (block_codec_inflate(kind, stored, n, dst, n_raw, &no_memory))
        return LSM_OK;
    if (no_memory)
        return lsm_error(LSM_ENOMEM, "%s: out of memory for a zstd context",
                         path);
    return lsm_corrupt("%s: data block at offset %llu: %s payload does not "
                       "decompress to the %zu bytes its index record says",
                       path, off, block_kind_name(kind), n_raw);
}
