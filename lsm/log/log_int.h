/*
 * log_int.h: checksummed record framing, shared by the WAL and the manifest.
 *
 * A log file is a sequence of records, each
 *     u32 payload length | u32 length check | u64 payload checksum | payload
 * (length check = low 32 bits of XXH3-64 of the 4 length bytes; payload
 * checksum = XXH3-64 of the payload), appended with ONE write, so a process
 * crash leaves every record either whole or cut short at the very end of
 * the file (a "torn tail"). The rules, in order, for the record at offset o:
 *   1. fewer than 16 bytes left: torn tail;
 *   2. length check fails: corruption (a damaged length must never be
 *      mistaken for a record that runs past the end);
 *   3. the payload runs past the end of the file: torn tail;
 *   4. payload checksum fails: torn tail if the record ends exactly at the
 *      end of the file (a power loss mid-append), corruption otherwise.
 * Reading stops quietly at a torn tail and reports where the whole records
 * end; corruption is LSM_ECORRUPT naming the file and offset.
 *
 * To append without copying, a caller builds its payload at offset
 * LOG_HEADER_BYTES of its own buffer and lets log_append_framed fill in the
 * header in front of it.
 */
#ifndef LSM_LOG_INT_H
#define LSM_LOG_INT_H

#include "util/env_int.h"

#include <stddef.h>
#include <stdint.h>

#define LOG_HEADER_BYTES 16
#define LOG_MAX_PAYLOAD (64u * 1024u * 1024u)

/* buf holds LOG_HEADER_BYTES of room, then payload_len payload bytes. Fills
 * in the header and appends the record with one write (no fsync). */
int log_append_framed(env_file *f, uint8_t *buf, size_t payload_len);

/* Fills in the header at buf for the payload_len (at most LOG_MAX_PAYLOAD)
 * payload bytes after it, without writing: records framed this way can be
 * laid end to end and appended together (wal_append_framed), each still
 * whole or torn on its own. */
void log_frame(uint8_t *buf, size_t payload_len);

/* Called for each whole record; payload is valid only during the call. A
 * non-OK return stops the scan and is returned. */
typedef int (*log_record_fn)(void *ctx, uint64_t offset, const uint8_t *payload,
                             size_t n);

/* Scans data[0..size) (the contents of the log at path, named in messages).
 * *valid_end is set to the end of the last whole record: size when the log
 * is intact, less when it has a torn tail. Corruption before the tail is
 * LSM_ECORRUPT naming path and offset; *valid_end is then where the
 * damaged record starts (as it is when fn fails). */
int log_scan(const char *path, const uint8_t *data, uint64_t size,
             log_record_fn fn, void *ctx, uint64_t *valid_end);

/* Reads the whole file at path into a malloc'd buffer the caller frees; a
 * missing file is LSM_EIO. */
int log_read_file(env *e, const char *path, uint8_t **data, uint64_t *size);

#endif
