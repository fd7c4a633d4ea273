/*
 * sst_meta.c: framing the meta section of a format 3 SST (sst_meta_int.h,
 * FORMAT.md "Meta section").
 *
 * A record is `tag varint, length varint, bytes`; the section is the
 * records in ascending tag order followed by an XXH3-64 checksum of them.
 * Tags are checked strictly (an unknown one is corruption, not something
 * to skip): a reader that skipped a record it did not know could return
 * keys a range tombstone hides.
 */
#include "table/sst_meta_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "util/status_int.h"

#include <string.h>

static bool sst_meta_tag_known(uint64_t tag)
{
    return tag >= SST_META_COMPRESSION && tag < SST_META_TAG_END;
}

void sst_meta_records_free(sst_meta_records *m)
{
    if (!m)
        return;
    for (unsigned tag = 0; tag < SST_META_TAG_END; tag++)
        byte_buf_free(&m->records[tag]);
    memset(m, 0, sizeof *m);
}

int sst_meta_records_set(sst_meta_records *m, unsigned tag, const void *bytes,
                         size_t n)
{
    if (!sst_meta_tag_known(tag))
        return lsm_error(LSM_EINVAL, "SST meta record tag %u is not known",
                         tag);
    if (n > 0 && !bytes)
        return lsm_error(LSM_EINVAL, "SST meta record %u: no bytes", tag);
    byte_buf copy = {0};
    if (n > 0 && byte_buf_append(&copy, bytes, n) != LSM_OK)
        return lsm_error(LSM_ENOMEM, "out of memory for SST meta record %u",
                         tag);
    byte_buf_free(&m->records[tag]);
    m->records[tag] = copy;
    m->present[tag] = true;
    return LSM_OK;
}

bool sst_meta_records_any(const sst_meta_records *m)
{
    for (unsigned tag = 0; tag < SST_META_TAG_END; tag++)
        if (m->present[tag])
            return true;
    return false;
}

size_t sst_meta_records_encoded_bytes(const sst_meta_records *m)
{
    size_t n = SST_CHECKSUM_BYTES;
    for (unsigned tag = 0; tag < SST_META_TAG_END; tag++) {
        if (!m->present[tag])
            continue;
        size_t len = m->records[tag].n_bytes;
        n += varint64_length(tag) + varint64_length(len) + len;
    }
    return n;
}

/* Appends one record's framing and bytes. */
static int sst_meta_append_record(byte_buf *out, unsigned tag,
                                  const byte_buf *rec)
{
    uint8_t head[2 * VARINT64_MAX_BYTES];
    size_t n = put_varint64(head, tag);
    n += put_varint64(head + n, rec->n_bytes);
    int rc = byte_buf_append(out, head, n);
    if (rc == LSM_OK && rec->n_bytes > 0)
        rc = byte_buf_append(out, rec->data, rec->n_bytes);
    return rc;
}

int sst_meta_records_encode(const sst_meta_records *m, byte_buf *out)
{
    size_t start = out->n_bytes;
    int rc = byte_buf_reserve(out, sst_meta_records_encoded_bytes(m));
    for (unsigned tag = 0; rc == LSM_OK && tag < SST_META_TAG_END; tag++)
        if (m->present[tag])
            rc = sst_meta_append_record(out, tag, &m->records[tag]);
    if (rc != LSM_OK)
        return lsm_error(LSM_ENOMEM, "out of memory encoding SST meta section");
    uint8_t sum[SST_CHECKSUM_BYTES];
    put_fixed64(sum, checksum64(out->data + start, out->n_bytes - start));
    return byte_buf_append(out, sum, sizeof sum);
}

int sst_meta_section_decode(const uint8_t *data, size_t n, const char *path,
                            uint64_t offset, sst_meta_section *out)
{
    memset(out, 0, sizeof *out);
    unsigned long long off = (unsigned long long)offset;
    if (n < SST_CHECKSUM_BYTES)
        return lsm_corrupt("%s: meta section at offset %llu: %zu bytes, "
                           "shorter than its checksum",
                           path, off, n);
    size_t body = n - SST_CHECKSUM_BYTES;
    if (checksum64(data, body) != get_fixed64(data + body))
        return lsm_corrupt("%s: meta section at offset %llu: checksum mismatch",
                           path, off);
    const uint8_t *p = data, *end = data + body;
    uint64_t prev_tag = 0;
    while (p < end) {
        uint64_t tag, len;
        size_t at = (size_t)(p - data);
        if (!(p = get_varint64(p, end, &tag)) ||
            !(p = get_varint64(p, end, &len)) || len > (uint64_t)(end - p))
            return lsm_corrupt("%s: meta section at offset %llu: record at "
                               "byte %zu runs past the section",
                               path, off, at);
        if (!sst_meta_tag_known(tag) || tag <= prev_tag)
            return lsm_corrupt("%s: meta section at offset %llu: record at "
                               "byte %zu has tag %llu (known tags are 1..%d, "
                               "each once, in order)",
                               path, off, at, (unsigned long long)tag,
                               SST_META_TAG_END - 1);
        out->record[tag] = p;
        out->n_record[tag] = (size_t)len;
        prev_tag = tag;
        p += len;
    }
    return LSM_OK;
}
