/*
 * record_env.h: a test env that wraps another env (normally env_posix())
 * and records, in order, every file operation that changes the disk: files
 * created (open_write, open_append), appends (with their sizes), file
 * fsyncs, directory fsyncs, unlinks, renames and truncations. Everything is
 * passed through to the inner env unchanged; reads are not recorded.
 *
 * It is the independent witness of the write-path trace (test_iotrace.c):
 * what the engine says it did (LSM_EVENT_IO) is compared with what this env
 * saw it do.
 *
 * Thread safety: every call may come from any thread; one mutex orders the
 * records (taken around the record only, not the I/O). Read the records
 * (record_env_ops) when no thread of the engine is writing.
 */
#ifndef LSM_RECORD_ENV_H
#define LSM_RECORD_ENV_H

#include "util/env_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum record_kind {
    RECORD_CREATE = 0, /* open_write or open_append */
    RECORD_APPEND,
    RECORD_SYNC,
    RECORD_SYNC_DIR,
    RECORD_UNLINK,
    RECORD_RENAME, /* name: the file's old name */
    RECORD_TRUNCATE,
    RECORD_N_KINDS
} record_kind;

#define RECORD_NAME_BYTES 64

/* One operation that succeeded. */
typedef struct record_op {
    record_kind kind;
    char name[RECORD_NAME_BYTES]; /* the file's name without its directory;
                                     "" for a directory fsync */
    uint64_t size_bytes;          /* RECORD_APPEND: bytes appended */
} record_op;

typedef struct record_env record_env;

/* A new recording env over inner, recording off, in *out; freed with
 * record_env_free after every database and file using it is closed.
 * Returns LSM_OK or LSM_ENOMEM. */
int record_env_new(env *inner, record_env **out);
void record_env_free(record_env *re); /* NULL-safe */

/* The env to hand to db_open_env; valid until record_env_free. */
env *record_env_env(record_env *re);

/* Starts (on) or stops recording; starting forgets earlier records. */
void record_env_set_recording(record_env *re, bool on);

/* The operations recorded, oldest first (*n of them); valid until the next
 * operation or record_env_set_recording. */
const record_op *record_env_ops(record_env *re, size_t *n);

/* "create", "append", ... */
const char *record_kind_name(record_kind kind);

#endif
