/*
 * log.c: checksummed record framing for the WAL and the manifest (see
 * log_int.h for the layout and the torn-tail rule).
 */
#include "log/log_int.h"

#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "util/status_int.h"

#include <stdlib.h>

/* The check stored beside a record's length. */
static uint32_t log_length_check(const uint8_t *len_bytes)
{
    return (uint32_t)checksum64(len_bytes, 4);
}

void log_frame(uint8_t *buf, size_t payload_len)
{
    put_fixed32(buf, (uint32_t)payload_len);
    put_fixed32(buf + 4, log_length_check(buf));
    put_fixed64(buf + 8, checksum64(buf + LOG_HEADER_BYTES, payload_len));
}

int log_append_framed(env_file *f, uint8_t *buf, size_t payload_len)
{
    if (payload_len > LOG_MAX_PAYLOAD)
        return lsm_error(LSM_EINVAL,
                         "%s: a record of %zu bytes is over the %u-byte limit",
                         f->path, payload_len, LOG_MAX_PAYLOAD);
    log_frame(buf, payload_len);
    return file_append(f, buf, LOG_HEADER_BYTES + payload_len);
}

int log_scan(const char *path, const uint8_t *data, uint64_t size,
             log_record_fn fn, void *ctx, uint64_t *valid_end)
{
    uint64_t off = 0;
    *valid_end = 0;
    while (off < size) {
        if (size - off < LOG_HEADER_BYTES)
            break; /* rule 1: torn header */
        const uint8_t *hdr = data + off;
        uint32_t len = get_fixed32(hdr);
        *valid_end = off; /* so far: where a damaged record starts */
        if (get_fixed32(hdr + 4) != log_length_check(hdr) ||
            len > LOG_MAX_PAYLOAD)
            return lsm_corrupt("%s: damaged record header at offset %llu", path,
                               (unsigned long long)off);
        uint64_t body = off + LOG_HEADER_BYTES;
        if (size - body < len)
            break; /* rule 3: torn payload */
        if (checksum64(data + body, len) != get_fixed64(hdr + 8)) {
            if (body + len == size)
                break; /* rule 4: the last record, torn by a power loss */
            return lsm_corrupt("%s: checksum mismatch in record at offset "
                               "%llu",
                               path, (unsigned long long)off);
        }
        int rc = fn(ctx, off, data + body, len);
        if (rc != LSM_OK)
            return rc;
        off = body + len;
    }
    *valid_end = off;
    return LSM_OK;
}

int log_read_file(env *e, const char *path, uint8_t **data, uint64_t *size)
{
    env_file *f = NULL;
    *data = NULL;
    *size = 0;
    int rc = e->open_read(e, path, &f);
    if (rc == LSM_OK)
        rc = file_size(f, size);
    if (rc == LSM_OK && *size > 0) {
        *data = malloc(*size);
        if (!*data)
            rc = lsm_error(LSM_ENOMEM, "out of memory reading %s", path);
        else
            rc = file_read_at(f, 0, *data, *size);
    }
    int crc = file_close(f);
    if (rc == LSM_OK)
        rc = crc;
    if (rc != LSM_OK) {
        free(*data);
        *data = NULL;
    }
    return rc;
}
