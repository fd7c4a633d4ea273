/*
 * fuzz_seed.c: writes the seed corpora of the fuzz targets, made by the
 * engine's own writers, so the seeds always match the current formats.
 *
 *     fuzz_seed OUTDIR
 * creates OUTDIR/sst, OUTDIR/wal and OUTDIR/manifest (and OUTDIR itself) and
 * fills each with a few small valid files plus bare record payloads (the
 * targets also feed their whole input to the record decoders). Existing
 * files of the same names are replaced; other files, such as inputs the
 * fuzzer added to the corpus, are left alone. About 3 KB in all.
 *
 * Exit status 0 on success, 1 with a message on stderr otherwise.
 */
#include "log/batch_int.h"
#include "iter/iter_int.h"
#include "iter/key_int.h"
#include "iter/rangedel_int.h"
#include "log/log_int.h"
#include "lsm.h"
#include "log/manifest_int.h"
#include "table/sst_int.h"
#include "log/wal_int.h"

#include "util/coding_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *out_dir;

/* Reports a failed engine call and exits. */
static void check_rc(int rc, const char *what)
{
    if (rc != LSM_OK) {
        fprintf(stderr, "fuzz_seed: %s: %s (%s)\n", what, lsm_strerror(rc),
                lsm_errmsg());
        exit(1);
    }
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fuzz_seed: cannot create %s: %s\n", path,
                strerror(errno));
        exit(1);
    }
}

/* "<out_dir>/<sub>/<name>" in buf. */
static const char *seed_path(char *buf, size_t n, const char *sub,
                             const char *name)
{
    int len = snprintf(buf, n, "%s/%s/%s", out_dir, sub, name);
    if (len < 0 || (size_t)len >= n) {
        fprintf(stderr, "fuzz_seed: output path too long\n");
        exit(1);
    }
    return buf;
}

static void write_bytes(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n > 0 && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seed: cannot write %s\n", path);
        exit(1);
    }
}

/* Reads the whole file; the caller frees the buffer. */
static uint8_t *read_bytes(const char *path, size_t *n)
{
    uint8_t *data = NULL;
    uint64_t size = 0;
    check_rc(log_read_file(env_posix(), path, &data, &size), path);
    *n = (size_t)size;
    return data;
}

/* --- SSTs ----------------------------------------------------------------- */

/* Writes an SST of n_keys keys "k000", "k001", ..., two versions of every
 * third key, a tombstone in every fifth, values of 0 to 11 bytes; with
 * prefix (not PREFIX_NONE), with its prefix record (SST_META_PREFIX); its
 * blocks compressed as compression says (block_codec_int.h's kinds). */
static void seed_sst(const char *name, size_t n_keys, size_t block_size,
                     unsigned bloom_bits, prefix_extractor prefix,
                     unsigned compression)
{
    char path[4096];
    seed_path(path, sizeof path, "sst", name);
    sst_builder_options opt = {.block_size = block_size,
                               .bloom_bits_per_key = bloom_bits,
                               .prefix = prefix,
                               .compression = compression};
    sst_builder *b;
    check_rc(sst_builder_open(env_posix(), path, &opt, &b), "sst_builder_open");
    uint64_t seq = 1000;
    for (size_t i = 0; i < n_keys; i++) {
        char key[16], value[16];
        int nkey = snprintf(key, sizeof key, "k%03zu", i);
        size_t versions = i % 3 == 0 ? 2 : 1;
        for (size_t v = 0; v < versions; v++) {
            bool tomb = i % 5 == 4 && v == 0;
            size_t nvalue = tomb ? 0 : (i * 7 + v) % 12;
            memset(value, 'a' + (int)(i % 26), sizeof value);
            entry e = {(const uint8_t *)key,
                       (size_t)nkey,
                       (const uint8_t *)value,
                       nvalue,
                       seq - v,
                       tomb ? ENTRY_TOMBSTONE : ENTRY_VALUE};
            check_rc(sst_builder_add(b, &e), "sst_builder_add");
        }
        seq -= 3;
    }
    check_rc(sst_builder_finish(b, NULL), "sst_builder_finish");
}

/* An SST with n_keys entries (none: range tombstones alone) and two
 * overlapping range tombstones, so the fuzzer starts from a range
 * tombstone record (SST_META_RANGE_DELS) to damage. */
static void seed_sst_ranges(const char *name, size_t n_keys)
{
    char path[4096];
    seed_path(path, sizeof path, "sst", name);
    sst_builder_options opt = {.block_size = 64, .bloom_bits_per_key = 10};
    sst_builder *b;
    check_rc(sst_builder_open(env_posix(), path, &opt, &b), "sst_builder_open");
    for (size_t i = 0; i < n_keys; i++) {
        char key[16];
        int nkey = snprintf(key, sizeof key, "k%03zu", i);
        entry e = {(const uint8_t *)key,
                   (size_t)nkey,
                   (const uint8_t *)"v",
                   1,
                   100 - i,
                   ENTRY_VALUE};
        check_rc(sst_builder_add(b, &e), "sst_builder_add");
    }
    range_tomb_list l = {0};
    check_rc(range_tomb_list_add(&l, (const uint8_t *)"k002", 4,
                                 (const uint8_t *)"k006", 4, 200),
             "range_tomb_list_add");
    check_rc(range_tomb_list_add(&l, (const uint8_t *)"k004", 4,
                                 (const uint8_t *)"k009\0", 5, 150),
             "range_tomb_list_add");
    range_tomb_list_sort(&l);
    check_rc(sst_builder_set_ranges(b, &l), "sst_builder_set_ranges");
    range_tomb_list_free(&l);
    check_rc(sst_builder_finish(b, NULL), "sst_builder_finish");
}

/* --- WAL ------------------------------------------------------------------ */

/* Appends one record holding n entries to w and, when payload_name is set,
 * also saves the bare payload as a seed. */
static void seed_wal_record(wal *w, uint64_t first_seq, size_t n,
                            size_t value_bytes, const char *payload_name)
{
    lsm_batch b;
    batch_init(&b);
    for (size_t i = 0; i < n; i++) {
        char key[16], value[300];
        int nkey = snprintf(key, sizeof key, "key%zu", first_seq + i);
        memset(value, 'v', sizeof value);
        bool tomb = n > 1 && i == 1;
        check_rc(batch_add(&b, tomb ? ENTRY_TOMBSTONE : ENTRY_VALUE, key,
                           (size_t)nkey, value, tomb ? 0 : value_bytes),
                 "batch_add");
    }
    batch_set_first_seq(&b, first_seq);
    size_t len;
    const uint8_t *payload = batch_payload(&b, &len);
    if (payload != b.rep + LOG_HEADER_BYTES) {
        fprintf(stderr, "fuzz_seed: the batch payload is not where "
                        "batch_int.h says\n");
        exit(1);
    }
    if (payload_name) {
        char path[4096];
        write_bytes(seed_path(path, sizeof path, "wal", payload_name), payload,
                    len);
    }
    check_rc(wal_append(w, b.rep, len, false), "wal_append");
    batch_release(&b);
}

static void seed_wals(void)
{
    char path[4096];
    wal *w;
    seed_path(path, sizeof path, "wal", "records.wal");
    check_rc(wal_create(env_posix(), path, &w), "wal_create");
    seed_wal_record(w, 1, 1, 5, "put.payload");
    seed_wal_record(w, 2, 3, 0, "batch.payload");
    seed_wal_record(w, 5, 1, 200, NULL); /* two-byte value length */
    seed_wal_record(w, 6, 2, 1, NULL);
    check_rc(wal_close(w), "wal_close");

    /* A batch with a range delete (entry type 2). */
    seed_path(path, sizeof path, "wal", "range.wal");
    check_rc(wal_create(env_posix(), path, &w), "wal_create");
    lsm_batch b;
    batch_init(&b);
    check_rc(batch_add(&b, ENTRY_VALUE, "key1", 4, "v", 1), "batch_add");
    check_rc(batch_add(&b, ENTRY_RANGE_DEL, "key0", 4, "key5", 4), "batch_add");
    batch_set_first_seq(&b, 9);
    size_t len;
    const uint8_t *payload = batch_payload(&b, &len);
    write_bytes(seed_path(path, sizeof path, "wal", "range.payload"), payload,
                len);
    check_rc(wal_append(w, b.rep, len, false), "wal_append");
    batch_release(&b);
    check_rc(wal_close(w), "wal_close");

    seed_path(path, sizeof path, "wal", "one.wal");
    check_rc(wal_create(env_posix(), path, &w), "wal_create");
    seed_wal_record(w, 300, 1, 3, NULL); /* two-byte sequence number */
    check_rc(wal_close(w), "wal_close");
}

/* --- MANIFEST ------------------------------------------------------------- */

static int count_records(void *ctx, const manifest_record *rec)
{
    (void)rec;
    ++*(size_t *)ctx;
    return LSM_OK;
}

/* Saves the payload of the last record of the manifest at path. */
static void seed_last_payload(const char *path, const char *name)
{
    size_t n;
    uint8_t *data = read_bytes(path, &n);
    size_t off = 0, last = 0;
    while (off + LOG_HEADER_BYTES <= n) {
        last = off;
        off += LOG_HEADER_BYTES + get_fixed32(data + off);
    }
    char out[4096];
    write_bytes(seed_path(out, sizeof out, "manifest", name),
                data + last + LOG_HEADER_BYTES, n - last - LOG_HEADER_BYTES);
    free(data);
}

/* An SST as a record names it: keys "a" .. "z". */
static manifest_sst seed_sst_meta(uint64_t id)
{
    return (manifest_sst){.id = id,
                          .file_size = 4096 + id,
                          .first_key = (const uint8_t *)"a",
                          .nfirst_key = 1,
                          .last_key = (const uint8_t *)"z",
                          .nlast_key = 1};
}

/* A manifest starts with a snapshot (written by a rewrite: here of a tree
 * with an L0 SST, an L1 SST and a memtable), then records of every kind. */
static void seed_manifest(void)
{
    char path[4096];
    seed_path(path, sizeof path, "manifest", "MANIFEST");
    remove(path); /* manifest_open appends to an existing file */
    size_t n = 0;
    manifest *m;
    check_rc(manifest_open(env_posix(), path, count_records, &n, NULL, &m),
             "manifest_open");
    manifest_tree *t = manifest_tree_for_open(m);
    manifest_sst l0 = seed_sst_meta(8), l1 = seed_sst_meta(9);
    check_rc(manifest_run_push(&t->l0, &l0), "manifest_run_push");
    manifest_record mem = {
        .kind = MANIFEST_NEW_MEMTABLE, .id = 10, .has_wal = 1};
    check_rc(manifest_tree_apply(t, &mem), "manifest_tree_apply");
    manifest_record into_l1 = {.kind = MANIFEST_COMPACTION,
                               .level = 1,
                               .n_added = 1,
                               .added = &l1.id,
                               .ssts = &l1};
    check_rc(manifest_tree_apply(t, &into_l1), "manifest_tree_apply");
    char dir[4096];
    check_rc(manifest_rewrite(m, seed_path(dir, sizeof dir, "manifest", ""),
                              NULL, NULL),
             "manifest_rewrite");
    seed_last_payload(path, "snapshot.payload");
    const uint64_t removed[] = {0, 1, 2}, added[] = {3, 300, 70000};
    manifest_sst flushed0 = seed_sst_meta(0), flushed1 = seed_sst_meta(1);
    manifest_sst outputs[] = {seed_sst_meta(3), seed_sst_meta(300),
                              seed_sst_meta(70000)};
    manifest_record recs[] = {
        {.kind = MANIFEST_NEW_MEMTABLE, .id = 0, .has_wal = 1},
        {.kind = MANIFEST_NEW_MEMTABLE, .id = 1},
        {.kind = MANIFEST_NEXT_ID, .id = 7},
        {.kind = MANIFEST_FLUSH, .id = 0, .ssts = &flushed0},
        {.kind = MANIFEST_NEW_MEMTABLE, .id = 2, .has_wal = 1},
        {.kind = MANIFEST_FLUSH, .id = 1, .ssts = &flushed1},
        {.kind = MANIFEST_COMPACTION,
         .level = 1,
         .n_removed = 2,
         .removed = removed,
         .n_added = 1,
         .added = added,
         .ssts = outputs},
        {.kind = MANIFEST_COMPACTION,
         .level = 3,
         .n_removed = 3,
         .removed = removed,
         .n_added = 3,
         .added = added,
         .ssts = outputs},
    };
    for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
        check_rc(manifest_append(m, &recs[i]), "manifest_append");
        if (i == 0)
            seed_last_payload(path, "new_memtable.payload");
        if (i == 3)
            seed_last_payload(path, "flush.payload");
    }
    check_rc(manifest_close(m), "manifest_close");
    seed_last_payload(path, "compaction.payload");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seed OUTDIR\n");
        return 1;
    }
    out_dir = argv[1];
    char path[4096];
    make_dir(out_dir);
    make_dir(seed_path(path, sizeof path, "sst", ""));
    make_dir(seed_path(path, sizeof path, "wal", ""));
    make_dir(seed_path(path, sizeof path, "manifest", ""));
    seed_sst_ranges("ranges.sst", 12);
    seed_sst_ranges("ranges_alone.sst", 0);
    const prefix_extractor none = {.kind = PREFIX_NONE};
    seed_sst("one_block.sst", 6, 4096, 10, none, 0);
    seed_sst("blocks.sst", 24, 64, 0, none, 0);
    /* "k0" and "k1" ("k000".."k019"), and a delimiter '1' that some keys
     * lack: the prefix record's parser and filter. */
    seed_sst("prefix_fixed.sst", 20, 128, 10,
             (prefix_extractor){.kind = PREFIX_FIXED, .len = 2}, 0);
    seed_sst("prefix_delim.sst", 12, 4096, 10,
             (prefix_extractor){.kind = PREFIX_DELIM, .delim = '1'}, 0);
    /* Blocks big enough to shrink: lz4 (kind 1) and zstd (kind 2), one
     * with a prefix record too. */
    seed_sst("lz4.sst", 90, 300, 10, none, 1);
    seed_sst("zstd.sst", 90, 300, 0,
             (prefix_extractor){.kind = PREFIX_FIXED, .len = 2}, 2);
    seed_wals();
    seed_manifest();
    return 0;
}
