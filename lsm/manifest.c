/*
 * manifest.c: encoding, appending and replaying manifest records.
 *
 * Record framing (FORMAT.md): u32 payload length, u64 XXH3-64 of the payload,
 * then the payload: u8 kind followed by varints. One append is one write, so
 * a process crash leaves either the whole record or a prefix of it.
 */
#include "manifest_int.h"
#include "checksum_int.h"
#include "coding_int.h"
#include "status_int.h"

#include <stdlib.h>
#include <string.h>

#define MANIFEST_HEADER_BYTES 12 /* u32 length + u64 checksum */
#define MANIFEST_MAX_PAYLOAD (64u * 1024u * 1024u)

struct manifest {
    env *env;
    env_file *file;
};

/* Bytes needed to encode rec's payload (upper bound). */
static size_t manifest_payload_bound(const manifest_record *rec)
{
    return 1 + 4 * VARINT64_MAX_BYTES +
           (rec->n_removed + rec->n_added) * VARINT64_MAX_BYTES;
}

static size_t manifest_encode_payload(const manifest_record *rec, uint8_t *p)
{
    uint8_t *start = p;
    *p++ = (uint8_t)rec->kind;
    switch (rec->kind) {
    case MANIFEST_NEW_MEMTABLE:
    case MANIFEST_FLUSH:
        p += put_varint64(p, rec->id);
        break;
    case MANIFEST_COMPACTION:
        p += put_varint64(p, rec->level);
        p += put_varint64(p, rec->n_removed);
        for (size_t i = 0; i < rec->n_removed; i++)
            p += put_varint64(p, rec->removed[i]);
        p += put_varint64(p, rec->n_added);
        for (size_t i = 0; i < rec->n_added; i++)
            p += put_varint64(p, rec->added[i]);
        break;
    }
    return (size_t)(p - start);
}

int manifest_append(manifest *m, const manifest_record *rec)
{
    size_t bound = MANIFEST_HEADER_BYTES + manifest_payload_bound(rec);
    uint8_t *buf = malloc(bound);
    if (!buf)
        return lsm_error(LSM_ENOMEM, "out of memory writing the manifest");
    size_t n = manifest_encode_payload(rec, buf + MANIFEST_HEADER_BYTES);
    put_fixed32(buf, (uint32_t)n);
    put_fixed64(buf + 4, checksum64(buf + MANIFEST_HEADER_BYTES, n));
    int rc = file_append(m->file, buf, MANIFEST_HEADER_BYTES + n);
    if (rc == LSM_OK)
        rc = file_sync(m->file);
    free(buf);
    return rc;
}

/* Reads a list of ids: varint count, then that many varints. */
static const uint8_t *decode_ids(const uint8_t *p, const uint8_t *end,
                                 size_t *n, uint64_t **ids)
{
    uint64_t count;
    p = get_varint64(p, end, &count);
    /* Each id takes at least one byte: a count beyond that is corrupt. */
    if (!p || count > (uint64_t)(end - p))
        return NULL;
    *ids = count ? malloc(count * sizeof **ids) : NULL;
    if (count && !*ids)
        return NULL;
    for (uint64_t i = 0; i < count; i++) {
        p = get_varint64(p, end, &(*ids)[i]);
        if (!p) {
            free(*ids);
            *ids = NULL;
            return NULL;
        }
    }
    *n = (size_t)count;
    return p;
}

int manifest_decode(const uint8_t *payload, size_t n, manifest_record *rec,
                    void **owned)
{
    const uint8_t *p = payload, *end = payload + n;
    uint64_t *removed = NULL, *added = NULL;
    memset(rec, 0, sizeof *rec);
    *owned = NULL;
    if (n < 1)
        return lsm_corrupt("manifest record is empty");
    rec->kind = (manifest_kind)*p++;
    switch (rec->kind) {
    case MANIFEST_NEW_MEMTABLE:
    case MANIFEST_FLUSH:
        p = get_varint64(p, end, &rec->id);
        break;
    case MANIFEST_COMPACTION: {
        uint64_t level = 0;
        p = get_varint64(p, end, &level);
        if (p && (level < 1 || level > 64))
            p = NULL;
        rec->level = (uint32_t)level;
        if (p)
            p = decode_ids(p, end, &rec->n_removed, &removed);
        if (p)
            p = decode_ids(p, end, &rec->n_added, &added);
        break;
    }
    default:
        return lsm_corrupt("manifest record has unknown kind %u",
                           (unsigned)rec->kind);
    }
    if (!p || p != end) {
        free(removed);
        free(added);
        return lsm_corrupt("manifest record of kind %u is malformed",
                           (unsigned)rec->kind);
    }
    /* One allocation for the caller to free: added follows removed. */
    if (removed || added) {
        uint64_t *both =
            malloc((rec->n_removed + rec->n_added + 1) * sizeof *both);
        if (!both) {
            free(removed);
            free(added);
            return lsm_error(LSM_ENOMEM, "out of memory reading the manifest");
        }
        if (rec->n_removed)
            memcpy(both, removed, rec->n_removed * sizeof *both);
        if (rec->n_added)
            memcpy(both + rec->n_removed, added, rec->n_added * sizeof *both);
        rec->removed = both;
        rec->added = both + rec->n_removed;
        *owned = both;
    }
    free(removed);
    free(added);
    return LSM_OK;
}

/* Replays the records of data[0..size) through fn. *valid_end is the offset
 * after the last whole record. A record cut short at the end (header or
 * payload incomplete, or the last record failing its checksum) ends replay
 * without error; anything wrong before that is LSM_ECORRUPT. */
static int manifest_replay(const char *path, const uint8_t *data, uint64_t size,
                           manifest_replay_fn fn, void *ctx,
                           uint64_t *valid_end)
{
    uint64_t off = 0;
    int rc = LSM_OK;
    while (off < size) {
        if (size - off < MANIFEST_HEADER_BYTES)
            break; /* torn header */
        uint32_t len = get_fixed32(data + off);
        uint64_t sum = get_fixed64(data + off + 4);
        uint64_t body = off + MANIFEST_HEADER_BYTES;
        if (len > MANIFEST_MAX_PAYLOAD)
            return lsm_corrupt("%s: record at offset %llu claims %u bytes",
                               path, (unsigned long long)off, len);
        if (size - body < len)
            break; /* torn payload */
        if (checksum64(data + body, len) != sum) {
            if (body + len == size)
                break; /* the last record was torn mid-write */
            return lsm_corrupt("%s: checksum mismatch in record at offset "
                               "%llu",
                               path, (unsigned long long)off);
        }
        manifest_record rec;
        void *owned;
        rc = manifest_decode(data + body, len, &rec, &owned);
        if (rc == LSM_ECORRUPT)
            return lsm_corrupt("%s: bad record at offset %llu: %s", path,
                               (unsigned long long)off, lsm_errmsg());
        if (rc == LSM_OK)
            rc = fn(ctx, &rec);
        free(owned);
        if (rc != LSM_OK)
            return rc;
        off = body + len;
    }
    *valid_end = off;
    return LSM_OK;
}

/* Reads the whole file at path into a malloc'd buffer (*data, *size). A
 * missing file reads as empty. */
static int manifest_read_all(env *e, const char *path, uint8_t **data,
                             uint64_t *size)
{
    env_file *f = NULL;
    *data = NULL;
    *size = 0;
    int rc = e->open_append(e, path, &f); /* creates it when missing */
    if (rc != LSM_OK)
        return rc;
    rc = file_close(f);
    if (rc == LSM_OK)
        rc = e->open_read(e, path, &f);
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
    return rc != LSM_OK ? rc : crc;
}

int manifest_open(env *e, const char *path, manifest_replay_fn fn, void *ctx,
                  uint64_t *torn_bytes, manifest **out)
{
    uint8_t *data = NULL;
    uint64_t size = 0, valid_end = 0;
    manifest *m = NULL;
    *out = NULL;
    int rc = manifest_read_all(e, path, &data, &size);
    if (rc == LSM_OK)
        rc = manifest_replay(path, data, size, fn, ctx, &valid_end);
    if (rc == LSM_OK && valid_end < size)
        rc = e->truncate(e, path, valid_end);
    if (rc != LSM_OK)
        goto out;
    if (torn_bytes)
        *torn_bytes = size - valid_end;
    m = calloc(1, sizeof *m);
    if (!m) {
        rc = lsm_error(LSM_ENOMEM, "out of memory opening %s", path);
        goto out;
    }
    m->env = e;
    rc = e->open_append(e, path, &m->file);
    if (rc != LSM_OK) {
        free(m);
        goto out;
    }
    *out = m;
out:
    free(data);
    return rc;
}

int manifest_close(manifest *m)
{
    if (!m)
        return LSM_OK;
    int rc = file_close(m->file);
    free(m);
    return rc;
}
