/*
 * fuzz_util.h: what the libFuzzer targets share: one scratch file per
 * process (the decoders under test read files by path), FUZZ_CHECK, which
 * turns a broken promise of the code under test into a crash that libFuzzer
 * records as a reproducer, and a pass that makes a mutated log's checksums
 * right again.
 *
 * A target is one process running inputs one after another on one thread, so
 * the scratch state is plain static data. Everything is static inline so each
 * target stays one translation unit.
 */
#ifndef LSM_FUZZ_UTIL_H
#define LSM_FUZZ_UTIL_H

#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "log/log_int.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fails loudly: libFuzzer treats the abort as a crash and saves the input. */
#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* The process's scratch directory and the one file in it. */
static char fuzz_dir[64];
static char fuzz_file[128];

static void fuzz_cleanup(void)
{
    if (fuzz_file[0])
        unlink(fuzz_file);
    if (fuzz_dir[0])
        rmdir(fuzz_dir);
}

/* Returns the path of this process's scratch file, named `name` inside a
 * fresh directory under $TMPDIR (or /tmp), made on the first call and removed
 * at exit. A crash leaves it behind, which is harmless. The string is static:
 * valid for the life of the process. */
static inline const char *fuzz_scratch_path(const char *name)
{
    if (!fuzz_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/lsm-fuzz-XXXXXX",
                 tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
        FUZZ_CHECK(mkdtemp(fuzz_dir) != NULL);
        snprintf(fuzz_file, sizeof fuzz_file, "%s/%s", fuzz_dir, name);
        atexit(fuzz_cleanup);
    }
    return fuzz_file;
}

/* The directory of the scratch file (after fuzz_scratch_path). */
static inline const char *fuzz_scratch_dir(void)
{
    return fuzz_dir;
}

/* Replaces the scratch file's contents with data[0..size). */
static inline void fuzz_write_file(const char *path, const uint8_t *data,
                                   size_t size)
{
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);
}

/* The file's size in bytes. */
static inline uint64_t fuzz_file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    fclose(f);
    FUZZ_CHECK(n >= 0);
    return (uint64_t)n;
}

/* Rewrites the length check and payload checksum of every record of the
 * log in buf[0..size) whose payload fits, so that inputs reach the code
 * behind the checksums (a fuzzer cannot forge a 64-bit hash by mutation).
 * Returns true if any byte changed. */
static inline bool fuzz_fix_log_checksums(uint8_t *buf, size_t size)
{
    bool changed = false;
    size_t off = 0;
    while (size - off >= LOG_HEADER_BYTES) {
        uint8_t *hdr = buf + off;
        uint32_t len = get_fixed32(hdr);
        if (len > size - off - LOG_HEADER_BYTES)
            break;
        uint8_t fixed[12];
        put_fixed32(fixed, (uint32_t)checksum64(hdr, 4));
        put_fixed64(fixed + 4, checksum64(hdr + LOG_HEADER_BYTES, len));
        if (memcmp(hdr + 4, fixed, 12) != 0) {
            memcpy(hdr + 4, fixed, 12);
            changed = true;
        }
        off += LOG_HEADER_BYTES + len;
    }
    return changed;
}

#endif
