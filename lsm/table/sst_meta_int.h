/*
 * sst_meta_int.h: the meta section of a format 3 SST (FORMAT.md, "Meta
 * section"): tagged records between the index and the footer, for what a
 * feature keeps per SST (block compression totals, the prefix extractor
 * and its filter, range tombstones). This file frames the records and
 * checks the frame; each feature defines, parses and checks the bytes of
 * its own record (enum sst_meta_tag, block_int.h).
 *
 * Thread safety: pure functions over the caller's buffers.
 */
#ifndef LSM_SST_META_INT_H
#define LSM_SST_META_INT_H

#include "table/block_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The records a builder collects before finish: records[tag] holds tag's
 * bytes when present[tag]. Indexes 0 and past the last tag are unused. */
typedef struct sst_meta_records {
    byte_buf records[SST_META_TAG_END];
    bool present[SST_META_TAG_END];
} sst_meta_records;

/* Frees the records' buffers. NULL-safe. */
void sst_meta_records_free(sst_meta_records *m);
/* Sets tag's record to n bytes (copied), replacing an earlier one.
 * LSM_EINVAL for a tag that is not one of enum sst_meta_tag; LSM_ENOMEM
 * leaves the record as it was. */
int sst_meta_records_set(sst_meta_records *m, unsigned tag, const void *bytes,
                         size_t n);
/* Bytes the encoded section will take (records, framing and checksum). */
size_t sst_meta_records_encoded_bytes(const sst_meta_records *m);
/* Appends the encoded section to out: the present records in tag order,
 * then the checksum. */
int sst_meta_records_encode(const sst_meta_records *m, byte_buf *out);
/* Whether any record is present. */
bool sst_meta_records_any(const sst_meta_records *m);

/* A verified section: where each present record's bytes lie, in the
 * buffer it was decoded from (not copied). */
typedef struct sst_meta_section {
    const uint8_t *record[SST_META_TAG_END]; /* NULL: absent */
    size_t n_record[SST_META_TAG_END];
} sst_meta_section;

/* Verifies data[0..n) as a meta section and fills *out with pointers into
 * data: the checksum matches, every tag is known and larger than the one
 * before, and every record lies inside. LSM_ECORRUPT otherwise, naming
 * path and the section's offset in the file. */
int sst_meta_section_decode(const uint8_t *data, size_t n, const char *path,
                            uint64_t offset, sst_meta_section *out);

#endif
