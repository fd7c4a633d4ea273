/*
 * wal_int.h: write-ahead logs, one per memtable (<memtable id>.wal).
 *
 * Every write (a put, a delete, or a whole batch) is one log record
 * (log_int.h) appended before the write reaches the memtable. Replaying a
 * memtable's log rebuilds it after a crash. The record payload is the same
 * encoding as an lsm_batch (batch_int.h):
 *     u64 first_seq | u32 count | count x entry
 *     entry: u8 type | varint key length | key | varint value length | value
 * entry i has sequence number first_seq + i. FORMAT.md has the details.
 *
 * Thread safety: the db's write_mu serializes appends. With the sync
 * option, group commit (db/db_sync.c) runs wal_sync without write_mu, so an
 * fsync may overlap an append (the OS allows it; the fsync covers at least
 * what was appended before it began); the log is closed only when no fsync
 * is in flight (db_retire_wal).
 */
#ifndef LSM_WAL_INT_H
#define LSM_WAL_INT_H

#include "util/env_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wal wal;

/* Creates (truncating) the log at path. The caller fsyncs the directory so
 * the new file survives a power loss. *out is freed by wal_close. */
int wal_create(env *e, const char *path, wal **out);

/* Appends one record: buf holds LOG_HEADER_BYTES of room, then the payload.
 * With sync, fsyncs before returning. */
int wal_append(wal *w, uint8_t *buf, size_t payload_len, bool sync);

/* Appends n bytes of whole records, each framed by log_frame and laid end
 * to end (a record_run, batch_int.h), with one write and no fsync. A crash
 * during it leaves a prefix of them, the last perhaps torn; replay keeps
 * the whole ones. */
int wal_append_framed(wal *w, const uint8_t *records, size_t n);

/* fsyncs the log. */
int wal_sync(wal *w);

/* Bytes appended so far: the length of the log (it was created empty). */
uint64_t wal_size(const wal *w);

/* The path the log was created at; owned by w, valid until wal_close. */
const char *wal_path(const wal *w);

/* Closes the file (it stays on disk) and frees w. NULL-safe. */
int wal_close(wal *w);

/* Called for every entry of every record, in log order. */
typedef int (*wal_entry_fn)(void *ctx, uint64_t seq, uint8_t type,
                            const uint8_t *key, size_t nkey,
                            const uint8_t *value, size_t nvalue);

/* Checks one record payload completely, then calls fn for each entry. A
 * malformed payload is LSM_ECORRUPT and fn is never called for it, so a
 * batch is applied whole or not at all. */
int wal_decode_record(const uint8_t *payload, size_t n, wal_entry_fn fn,
                      void *ctx);

/* Replays the first `limit` bytes of the log at path (UINT64_MAX: all of
 * it) through fn, changing nothing on disk: *size is the file's length,
 * *valid_end the end of the last whole record (less than the bytes read
 * when they end in a torn tail). Corruption before the tail is
 * LSM_ECORRUPT naming the file and offset; a missing file is LSM_EIO.
 * Recovery uses it to check a log against the manifest before it cuts or
 * keeps anything. */
int wal_read(env *e, const char *path, uint64_t limit, wal_entry_fn fn,
             void *ctx, uint64_t *size, uint64_t *valid_end);

/* wal_read of the whole log, then a torn tail is cut off the file and
 * its size reported in *torn_bytes (for tools and tests, which need no
 * manifest to read a log). */
int wal_replay(env *e, const char *path, wal_entry_fn fn, void *ctx,
               uint64_t *torn_bytes);

#endif
