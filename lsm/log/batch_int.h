/*
 * batch_int.h: the inside of an lsm_batch.
 *
 * A batch IS a WAL record under construction: rep holds LOG_HEADER_BYTES of
 * room for the log header, then the record payload (wal_int.h) with its
 * first_seq still zero. The write path (db_write_locked in db/db_write.c,
 * behind lsm_write, lsm_put and lsm_delete) fills in first_seq and appends
 * rep to the WAL as it is, then applies the same bytes to the memtable, so
 * the log and the memtable can never disagree about what a batch held.
 */
#ifndef LSM_BATCH_INT_H
#define LSM_BATCH_INT_H

#include "log/log_int.h"
#include "lsm.h"

#include <stddef.h>
#include <stdint.h>

/* Bytes before the first entry: log header, u64 first_seq, u32 count. */
#define BATCH_PREFIX_BYTES (LOG_HEADER_BYTES + 8 + 4)

struct lsm_batch {
    uint8_t *rep;
    size_t len, cap;     /* len >= BATCH_PREFIX_BYTES */
    uint32_t count;      /* entries, also stored in rep */
    uint64_t user_bytes; /* key + value bytes, for the counters */
};

/* Initializes an empty batch in caller-owned storage (for lsm_put's
 * one-entry batch). batch_release frees what it allocated. */
void batch_init(lsm_batch *b);
void batch_release(lsm_batch *b);
/* LSM_OK for a value lsm_put accepts (at most LSM_MAX_VALUE_BYTES, not
 * NULL unless empty); else LSM_EINVAL saying why. */
int batch_value_check(const void *value, size_t nvalue);
/* Adds one entry (type ENTRY_VALUE or ENTRY_TOMBSTONE). */
int batch_add(lsm_batch *b, uint8_t type, const void *key, size_t nkey,
              const void *value, size_t nvalue);
/* Stores first_seq into the payload. */
void batch_set_first_seq(lsm_batch *b, uint64_t first_seq);
/* The payload (without the log header room) and its length. */
const uint8_t *batch_payload(const lsm_batch *b, size_t *n);

/* A run of one-entry WAL records, each framed (log_frame) and laid end to
 * end, so that consecutive puts reach the log with one write
 * (wal_append_framed) and are still recovered one by one: each record is
 * byte for byte the one lsm_put would append for the same write. Used by
 * lsm_put_many (db/db_write.c); the db owns one, under write_mu. */
typedef struct record_run {
    uint8_t *buf; /* malloc'd; records from offset 0 */
    size_t len, cap;
} record_run;

/* Where record_run_add put one record's parts (valid until the next add
 * or release: the buffer may move). */
typedef struct record_run_entry {
    const uint8_t *payload; /* the record's payload (after its header) */
    const uint8_t *key, *value;
} record_run_entry;

/* Empties r, keeping its buffer. */
void record_run_clear(record_run *r);
/* Frees r's buffer; r is then an empty run. */
void record_run_release(record_run *r);
/* Appends the record of one write (type ENTRY_VALUE or ENTRY_TOMBSTONE)
 * with sequence number seq; the caller has checked key and value
 * (key_check, batch_value_check). *at (may be NULL) says where it landed.
 * Returns LSM_OK, LSM_ENOMEM, or LSM_EINVAL for a record over
 * LOG_MAX_PAYLOAD. */
int record_run_add(record_run *r, uint64_t seq, uint8_t type, const void *key,
                   size_t nkey, const void *value, size_t nvalue,
                   record_run_entry *at);

#endif
