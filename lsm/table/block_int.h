/*
 * block_int.h: SST data blocks (builder, decoder, cursor, iterator) and the
 * constants of the SST file layout shared by sst_builder.c and sst_reader.c.
 *
 * The byte layout is in FORMAT.md ("Data block"). Entries are prefix
 * compressed against the key of their run's restart entry (one restart every
 * BLOCK_RESTART_INTERVAL entries), so any entry can be decoded and compared
 * from the block bytes alone, and a seek is a binary search over the restart
 * keys followed by a scan of at most one run.
 *
 * Invariants:
 *   1. block_decode accepts a block only after checking its checksum and
 *      EVERY structural rule of FORMAT.md (bounds, restarts, lengths, types,
 *      strict internal-key order). Everything else in this header may
 *      therefore read a decoded block without bounds checks failing.
 *   2. A `block` does not own its bytes: they must outlive it and every
 *      cursor or iterator on it.
 *
 * Thread safety: a decoded block is immutable and may be read by any number
 * of cursors on any threads. A builder or a cursor is used by one thread.
 */
#ifndef LSM_BLOCK_INT_H
#define LSM_BLOCK_INT_H

#include "iter/iter_int.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Entries per restart run (a writer choice; readers do not depend on it). */
#define BLOCK_RESTART_INTERVAL 16
/* n_restarts (u32) + checksum (u64) at the end of every block. */
#define BLOCK_TRAILER_BYTES 12
/* The builder keeps the entries region below this so offsets fit a u32. */
#define BLOCK_MAX_ENTRIES_BYTES ((size_t)256 << 20)

/* --- SST file layout (FORMAT.md, "SST files") ----------------------------- */

#define SST_FOOTER_BYTES 104
/* Written: 3 (a meta section after the index). Read: 2 and 3. */
#define SST_FORMAT_VERSION 3u
#define SST_FORMAT_VERSION_OLDEST 2u
/* The database identity every SST records (manifest_int.h has its origin). */
#define SST_IDENTITY_BYTES 16
/* The ASCII bytes "lsmtable" read as a little-endian u64. */
#define SST_MAGIC 0x656c6261746d736cULL
/* Byte offsets of the footer fields. */
enum {
    SST_FOOTER_FILTER_OFFSET = 0,
    SST_FOOTER_FILTER_SIZE = 8,
    SST_FOOTER_INDEX_OFFSET = 16,
    SST_FOOTER_INDEX_SIZE = 24,
    SST_FOOTER_NUM_ENTRIES = 32,
    SST_FOOTER_NUM_BLOCKS = 40,
    SST_FOOTER_MAX_SEQ = 48,
    SST_FOOTER_SST_ID = 56,
    SST_FOOTER_IDENTITY = 64,
    SST_FOOTER_VERSION = 80,
    SST_FOOTER_META_BYTES = 84, /* format 3; format 2: reserved, 0 */
    SST_FOOTER_CHECKSUM = 88,
    SST_FOOTER_MAGIC = 96
};
/* Every section ends with a u64 checksum of its preceding bytes. */
#define SST_CHECKSUM_BYTES 8

/* The records a format 3 meta section may hold (FORMAT.md, "Meta
 * section"), each at most once, in this order. Each feature defines,
 * parses and checks its own record's bytes. */
enum sst_meta_tag {
    SST_META_COMPRESSION = 1, /* per-SST totals of block compression */
    SST_META_PREFIX = 2,      /* prefix extractor and prefix filter */
    SST_META_RANGE_DELS = 3,  /* range tombstones */
    SST_META_TAG_END          /* one past the last tag */
};

/* --- Growable byte buffer ------------------------------------------------- */

/* A malloc'd byte array that doubles as it grows; owned by its user and
 * freed with byte_buf_free. */
typedef struct byte_buf {
    uint8_t *data;
    size_t n_bytes;
    size_t cap_bytes;
} byte_buf;

/* Makes room for n_more bytes past n_bytes. LSM_ENOMEM leaves buf as it
 * was. */
int byte_buf_reserve(byte_buf *buf, size_t n_more);
/* Appends n bytes (LSM_ENOMEM leaves buf unchanged). */
int byte_buf_append(byte_buf *buf, const void *data, size_t n);
void byte_buf_free(byte_buf *buf);

/* --- Builder -------------------------------------------------------------- */

typedef struct block_builder {
    byte_buf buf;      /* the entries region, then the trailer at finish */
    byte_buf restarts; /* u32 LE restart offsets */
    size_t n_entries;
    size_t n_in_run;        /* entries since the last restart */
    size_t restart_key_off; /* where the current restart key lies in buf */
    size_t n_restart_key;
    size_t first_key_off; /* where entry 0's (whole) key lies in buf */
    size_t n_first_key;
    bool finished;
} block_builder;

/* An empty builder; it allocates on first use. */
void block_builder_init(block_builder *b);
/* Frees the buffers. NULL-safe. */
void block_builder_free(block_builder *b);
/* Empties the builder, keeping its buffers for the next block. */
void block_builder_reset(block_builder *b);

/* Bytes the block would take (trailer included) if finished now. */
size_t block_builder_size_bytes(const block_builder *b);
/* Bytes that adding e would add to block_builder_size_bytes. */
size_t block_builder_entry_bytes(const block_builder *b, const entry *e);
/* Appends e. The CALLER guarantees that e is in strictly increasing
 * internal-key order after the previous entry, that its key is 1..65535
 * bytes, its value at most 16 MiB (empty for a tombstone: the value of a
 * tombstone is not stored) and its type valid; sst_builder_add checks all
 * of that. Copies the key and value. LSM_ENOMEM leaves b unchanged. */
int block_builder_add(block_builder *b, const entry *e);
/* The user key of the block's first entry; only when n_entries > 0. Points
 * into b, valid until the next add/reset/free. */
const uint8_t *block_builder_first_key(const block_builder *b, size_t *nkey);
/* Appends the trailer and hands out the encoded block, owned by b and valid
 * until the next reset/free. Only when n_entries > 0. LSM_ENOMEM possible;
 * afterwards b accepts no more entries until reset. */
int block_builder_finish(block_builder *b, const uint8_t **data,
                         size_t *n_bytes);

/* --- Decoded block -------------------------------------------------------- */

typedef struct block {
    const uint8_t *data;      /* the whole encoded block (not owned) */
    size_t n_bytes;           /* its size, trailer included */
    size_t n_entries_bytes;   /* size of the entries region */
    const uint8_t *restarts;  /* u32 LE offsets, inside data */
    size_t n_restarts;        /* >= 1 */
    size_t n_entries;         /* >= 1 */
    size_t last_entry_offset; /* offset of the last entry */
    size_t max_key_bytes;     /* longest key in the block */
} block;

/* Verifies the checksum and every rule of FORMAT.md, then fills *out, which
 * points into data (data must outlive it). path and file_offset only name
 * the block in error messages. LSM_ECORRUPT on any violation. */
int block_decode(const uint8_t *data, size_t n_bytes, const char *path,
                 uint64_t file_offset, block *out);

/* --- Remembering verified blocks ------------------------------------------ */

/* What block_decode learned about one block's bytes, so that decoding the
 * same bytes again (the same checksum) skips the walk over every entry: a
 * block read with pread is decoded anew on every cache miss, and the walk
 * is most of that cost (FORMAT.md's rules checked entry by entry). A
 * reader keeps one per block of a file, zeroed (nothing known).
 *
 * Write-once: the first block_memo_record wins and the memo never changes
 * afterwards, so a reader that sees the checksum also sees the shape
 * recorded with it (see block.c). Any number of threads may decode with
 * and record into the same memo at once. */
typedef struct block_memo {
    _Atomic uint64_t checksum; /* of the verified bytes; 0: none yet */
    _Atomic uint64_t shape;    /* what the walk found, packed; 0: none */
} block_memo;

/* As block_decode, but when memo holds the checksum of these very bytes
 * (they passed block_decode and the caller's own checks before), checks
 * only the trailer (checksum, restart array) and takes the rest from the
 * memo; *known tells which happened. A block whose checksum matches its
 * trailer but not the memo (other bytes) is walked in full. */
int block_decode_memo(const uint8_t *data, size_t n_bytes, const char *path,
                      uint64_t file_offset, const block_memo *memo, block *out,
                      bool *known);
/* Records in memo that b (from block_decode) passed every check, unless the
 * memo already holds a block or b's shape does not fit the memo (more than
 * 32767 entries: such a block is always walked). */
void block_memo_record(block_memo *memo, const block *b);

/* One entry as stored: its key is prefix ++ suffix, both pointing into the
 * block. */
typedef struct block_entry {
    const uint8_t *prefix; /* the shared bytes of the run's restart key */
    size_t n_prefix;
    const uint8_t *suffix;
    size_t n_suffix;
    const uint8_t *value;
    size_t nvalue;
    uint64_t seq;
    uint8_t type;
    size_t offset;      /* of this entry in the block */
    size_t next_offset; /* of the entry after it (n_entries_bytes at end) */
} block_entry;

static inline size_t block_entry_nkey(const block_entry *e)
{
    return e->n_prefix + e->n_suffix;
}
/* Writes the entry's key (block_entry_nkey bytes) to dst. */
void block_entry_copy_key(const block_entry *e, uint8_t *dst);
/* Compares the entry's user key with key (user_key_cmp order). */
int block_entry_key_cmp(const block_entry *e, const uint8_t *key, size_t nkey);

/* The first / last entry of a decoded block. */
void block_first_entry(const block *b, block_entry *out);
void block_last_entry(const block *b, block_entry *out);
/* Finds the first entry at or after (key, max_seq) in internal-key order:
 * the newest version of key with seq <= max_seq when the block holds one,
 * else the first entry of a larger user key (UINT64_MAX: the newest version
 * of key). false when every entry of the block comes before it. */
bool block_seek(const block *b, const uint8_t *key, size_t nkey,
                uint64_t max_seq, block_entry *out);
/* As block_seek, adding to *n_compared (may be NULL) the entries whose key
 * it compared with key: restart keys in the binary search, then entries of
 * the run (the run's first entry may be counted twice), then the versions
 * of key newer than max_seq it stepped over. An explained get reports
 * them. */
bool block_seek_counted(const block *b, const uint8_t *key, size_t nkey,
                        uint64_t max_seq, block_entry *out,
                        uint64_t *n_compared);

/* --- Cursor: a position in a block, embedded by iterators ----------------- */

typedef struct block_cursor {
    const block *blk;           /* NULL when detached */
    bool valid;                 /* positioned on an entry */
    size_t run;                 /* restart run of raw */
    const uint8_t *restart_key; /* that run's restart key, in the block */
    size_t n_restart_key;
    block_entry raw;     /* the current entry as stored */
    entry cur;           /* raw as an entry view (key contiguous) */
    uint8_t *keybuf;     /* holds cur.key when it is not stored whole */
    size_t keybuf_bytes; /* capacity of keybuf */
} block_cursor;

/* A detached, unpositioned cursor; allocates nothing. */
void block_cursor_init(block_cursor *c);
/* Frees the key buffer. NULL-safe. */
void block_cursor_free(block_cursor *c);
/* Points the cursor at b (unpositioned), growing its key buffer to b's
 * longest key: the only allocation, so moving within b never fails.
 * LSM_ENOMEM leaves the cursor detached. b must outlive the attachment. */
int block_cursor_attach(block_cursor *c, const block *b);
/* Forgets the block (the cursor keeps its key buffer for the next one). */
void block_cursor_detach(block_cursor *c);
void block_cursor_seek_first(block_cursor *c);
/* First entry whose user key >= key; invalid when there is none. */
void block_cursor_seek(block_cursor *c, const uint8_t *key, size_t nkey);
/* Only when valid. */
void block_cursor_next(block_cursor *c);

/* --- Iterator ------------------------------------------------------------- */

/* An iter over a decoded block (see iter_int.h). The block and its bytes are
 * NOT owned: the caller keeps them alive until iter_destroy. NULL when out
 * of memory. */
iter *block_iter_new(const block *b);

#endif
