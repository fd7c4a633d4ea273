/*
 * test_inspect.c: the file inspectors of lsm.h ("Inspecting files") on
 * real files and deliberately damaged copies, through the public API
 * only:
 *   - lsm_manifest_read(_file): the snapshot carries the database's
 *     identity and strategy even for an empty tree; a torn tail and a
 *     damaged record are reported, the records before them kept;
 *   - lsm_wal_read_file: records with their offsets, seqs, puts, deletes
 *     and batches; a torn tail; a damaged record naming file and offset;
 *   - lsm_sst_inspect, lsm_sst_block_entries, lsm_sst_measure_filter:
 *     counts that agree with the file's own footer and with each other, a
 *     damaged block marked while the others are read, a truncated file an
 *     error, the same measurement twice;
 *   - none of them changes a byte of what it reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm.h"
#include "testutil.h"

#include <xxhash.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static lsm_db *open_db(const char *dir, lsm_compaction c)
{
    lsm_options opt;
    lsm_options_init(&opt);
    opt.compaction = c;
    opt.target_sst_size = 4096;
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    return db;
}

/* The whole file at path (malloc'd), its size in *n. */
static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return buf;
}

static void spill(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Asserts the file at path still holds exactly data[0..n). */
static void assert_unchanged(const char *path, const uint8_t *data, size_t n)
{
    size_t m;
    uint8_t *now = slurp(path, &m);
    assert_int_equal(m, n);
    assert_memory_equal(now, data, n);
    free(now);
}

static int is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* A new database's MANIFEST: an empty snapshot that still says whose it
 * is and whether it uses tiers; the file read on its own says the same. */
static void test_manifest_identity_and_strategy(void **state)
{
    const char *dir = *state;
    lsm_compaction kinds[] = {LSM_COMPACTION_LEVELED, LSM_COMPACTION_TIERED};
    for (int k = 0; k < 2; k++) {
        char *sub = test_path(dir, k ? "tiered" : "leveled");
        lsm_db *db = open_db(sub, kinds[k]);
        lsm_manifest_record *recs = NULL;
        size_t n = 0;
        assert_int_equal(lsm_manifest_read(db, &recs, &n), LSM_OK);
        assert_true(n >= 1);
        assert_int_equal(recs[0].kind, LSM_MANIFEST_SNAPSHOT);
        assert_int_equal(recs[0].n_ssts, 0);
        assert_false(is_zero(recs[0].identity, LSM_IDENTITY_BYTES));
        assert_int_equal(recs[0].tiered, k);
        char *path = test_path(sub, "MANIFEST");
        lsm_manifest_record *file = NULL;
        size_t nf = 0;
        lsm_log_extent x;
        assert_int_equal(lsm_manifest_read_file(path, &file, &nf, &x), LSM_OK);
        assert_int_equal(nf, n);
        assert_int_equal(x.valid_bytes, x.file_bytes);
        assert_memory_equal(file[0].identity, recs[0].identity,
                            LSM_IDENTITY_BYTES);
        lsm_manifest_free(file, nf);
        lsm_manifest_free(recs, n);
        assert_int_equal(lsm_close(db), LSM_OK);
        free(path);
        free(sub);
    }
}

/* A MANIFEST cut mid-record has a torn tail; one damaged in a record
 * before the end is LSM_ECORRUPT naming the offset, with the records
 * before it. */
static void test_manifest_file_damage(void **state)
{
    const char *dir = *state;
    lsm_db *db = open_db(dir, LSM_COMPACTION_LEVELED);
    for (int i = 0; i < 3; i++) {
        test_put_str(db, "k", "v");
        assert_int_equal(lsm_flush(db), LSM_OK);
    }
    char *path = test_path(dir, "MANIFEST");
    size_t n;
    uint8_t *data = slurp(path, &n);
    lsm_manifest_record *whole = NULL;
    size_t nw = 0;
    lsm_log_extent x;
    assert_int_equal(lsm_manifest_read_file(path, &whole, &nw, &x), LSM_OK);
    assert_true(nw >= 4);
    uint64_t second = whole[1].offset;
    lsm_manifest_free(whole, nw);

    char *copy = test_path(dir, "copy");
    spill(copy, data, n - 3);
    lsm_manifest_record *recs = NULL;
    size_t nr = 0;
    assert_int_equal(lsm_manifest_read_file(copy, &recs, &nr, &x), LSM_OK);
    assert_int_equal(nr, nw - 1);
    assert_int_equal(x.file_bytes, n - 3);
    assert_true(x.valid_bytes < x.file_bytes);
    lsm_manifest_free(recs, nr);

    data[second + 16] ^= 0xff; /* the second record's first payload byte */
    spill(copy, data, n);
    assert_int_equal(lsm_manifest_read_file(copy, &recs, &nr, &x),
                     LSM_ECORRUPT);
    assert_int_equal(nr, 1);
    assert_int_equal(x.valid_bytes, second);
    assert_non_null(strstr(lsm_errmsg(), copy));
    lsm_manifest_free(recs, nr);
    assert_unchanged(copy, data, n);
    assert_int_equal(lsm_manifest_read_file(NULL, &recs, &nr, &x), LSM_EINVAL);
    free(data);
    free(copy);
    free(path);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* The WAL of the mutable memtable: a put, a delete, a batch of three. */
static void test_wal_records(void **state)
{
    const char *dir = *state;
    lsm_db *db = open_db(dir, LSM_COMPACTION_LEVELED);
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    char name[32];
    snprintf(name, sizeof name, "%llu.wal",
             (unsigned long long)st->memtable.memtable_id);
    lsm_state_free(st);
    assert_int_equal(lsm_put(db, "apple", 5, "red", 3), LSM_OK);
    assert_int_equal(lsm_delete(db, "pear", 4), LSM_OK);
    lsm_batch *b = NULL;
    assert_int_equal(lsm_batch_new(&b), LSM_OK);
    assert_int_equal(lsm_batch_put(b, "a", 1, "1", 1), LSM_OK);
    assert_int_equal(lsm_batch_put(b, "bb", 2, "", 0), LSM_OK);
    assert_int_equal(lsm_batch_delete(b, "c", 1), LSM_OK);
    assert_int_equal(lsm_write(db, b), LSM_OK);
    lsm_batch_free(b);

    char *path = test_path(dir, name);
    size_t n;
    uint8_t *data = slurp(path, &n);
    lsm_wal_record *recs = NULL;
    size_t nr = 0;
    lsm_log_extent x;
    assert_int_equal(lsm_wal_read_file(path, &recs, &nr, &x), LSM_OK);
    assert_int_equal(nr, 3);
    assert_int_equal(x.file_bytes, n);
    assert_int_equal(x.valid_bytes, n);
    assert_int_equal(recs[0].offset, 0);
    assert_int_equal(recs[1].offset, recs[0].bytes);
    assert_int_equal(recs[2].offset + recs[2].bytes, n);
    assert_int_equal(recs[0].n_entries, 1);
    assert_memory_equal(recs[0].entries[0].key, "apple", 5);
    assert_int_equal(recs[0].entries[0].value_bytes, 3);
    assert_false(recs[0].entries[0].tombstone);
    assert_true(recs[1].entries[0].tombstone);
    assert_int_equal(recs[1].entries[0].seq, recs[0].entries[0].seq + 1);
    assert_int_equal(recs[2].n_entries, 3);
    assert_int_equal(recs[2].entries[1].nkey, 2);
    assert_int_equal(recs[2].entries[1].value_bytes, 0);
    assert_false(recs[2].entries[1].tombstone);
    assert_true(recs[2].entries[2].tombstone);
    assert_int_equal(recs[2].entries[2].seq, recs[1].entries[0].seq + 3);
    uint64_t third = recs[2].offset, second = recs[1].offset;
    lsm_wal_free(recs, nr);

    /* A torn tail: the last record cut short. */
    char *copy = test_path(dir, "copy.wal");
    spill(copy, data, n - 2);
    assert_int_equal(lsm_wal_read_file(copy, &recs, &nr, &x), LSM_OK);
    assert_int_equal(nr, 2);
    assert_int_equal(x.valid_bytes, third);
    lsm_wal_free(recs, nr);
    /* Damage before the end: the record before it, and the offset. */
    data[second + 18] ^= 0x40;
    spill(copy, data, n);
    assert_int_equal(lsm_wal_read_file(copy, &recs, &nr, &x), LSM_ECORRUPT);
    assert_int_equal(nr, 1);
    assert_int_equal(x.valid_bytes, second);
    assert_non_null(strstr(lsm_errmsg(), copy));
    lsm_wal_free(recs, nr);
    assert_unchanged(copy, data, n);
    assert_int_equal(lsm_wal_read_file(copy, NULL, &nr, &x), LSM_EINVAL);
    char *missing = test_path(dir, "missing.wal");
    assert_int_equal(lsm_wal_read_file(missing, &recs, &nr, &x), LSM_EIO);
    free(missing);
    free(copy);
    free(path);
    free(data);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* An SST of 600 keys (several blocks): the report agrees with the file's
 * footer, with the database's identity and with its block entries. */
static char *make_sst(const char *dir, lsm_db **dbp, uint8_t *identity)
{
    lsm_db *db = open_db(dir, LSM_COMPACTION_NONE);
    char k[16], v[16];
    for (int i = 0; i < 600; i++) {
        snprintf(k, sizeof k, "key%05d", i);
        snprintf(v, sizeof v, "v%d", i);
        assert_int_equal(lsm_put(db, k, strlen(k), v, strlen(v)), LSM_OK);
    }
    assert_int_equal(lsm_flush(db), LSM_OK);
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_true(st->n_l0 >= 1);
    char name[32];
    snprintf(name, sizeof name, "%llu.sst",
             (unsigned long long)st->l0[st->n_l0 - 1].sst_id);
    lsm_state_free(st);
    lsm_manifest_record *recs = NULL;
    size_t n = 0;
    assert_int_equal(lsm_manifest_read(db, &recs, &n), LSM_OK);
    memcpy(identity, recs[0].identity, LSM_IDENTITY_BYTES);
    lsm_manifest_free(recs, n);
    *dbp = db;
    return test_path(dir, name);
}

static void test_sst_report(void **state)
{
    const char *dir = *state;
    lsm_db *db;
    uint8_t identity[LSM_IDENTITY_BYTES];
    char *path = make_sst(dir, &db, identity);
    size_t n;
    uint8_t *data = slurp(path, &n);
    lsm_sst_report *r = NULL;
    assert_int_equal(lsm_sst_inspect(path, &r), LSM_OK);
    assert_int_equal(r->file_bytes, n);
    assert_memory_equal(r->db_identity, identity, LSM_IDENTITY_BYTES);
    assert_true(r->num_blocks >= 2);
    assert_int_equal(r->damaged_blocks, 0);
    assert_int_equal(r->index_offset + r->index_bytes + 104, n);
    assert_int_equal(r->filter_offset + r->filter_bytes, r->index_offset);
    uint64_t entries = 0;
    for (uint64_t i = 0; i < r->num_blocks; i++) {
        const lsm_sst_block_info *b = &r->blocks[i];
        assert_false(b->damaged);
        assert_int_equal(b->offset,
                         i ? r->blocks[i - 1].offset + r->blocks[i - 1].bytes
                           : 0);
        entries += b->entries;
        lsm_sst_entry *e = NULL;
        size_t ne = 0;
        assert_int_equal(lsm_sst_block_entries(path, i, &e, &ne), LSM_OK);
        assert_int_equal(ne, b->entries);
        uint64_t shared = 0, whole = 0;
        for (size_t j = 0; j < ne; j++) {
            assert_int_equal(e[j].nkey, 8);
            assert_int_equal(e[j].shared_bytes + e[j].unshared_bytes, 8);
            shared += e[j].shared_bytes;
            whole += e[j].shared_bytes == 0;
        }
        assert_int_equal(shared, b->shared_bytes);
        assert_int_equal(whole, b->whole_keys);
        assert_int_equal(b->key_bytes, 8 * ne);
        assert_memory_equal(e[0].key, b->first_key, 8);
        assert_memory_equal(e[ne - 1].key, b->last_key, 8);
        lsm_sst_entries_free(e, ne);
    }
    /* "key00000" .. "key00599": every entry shares at least "key0". */
    assert_int_equal(entries, r->num_entries);
    assert_int_equal(r->distinct_keys, r->num_entries);
    assert_true(r->bits_per_key > 9.0 && r->bits_per_key < 11.0);
    assert_true(r->filter_bits_set > 0 && r->filter_bits_set < r->filter_bits);
    assert_true(r->estimated_fp_rate > 0.0 && r->estimated_fp_rate < 0.05);
    lsm_sst_entry *none = NULL;
    size_t nn = 0;
    assert_int_equal(lsm_sst_block_entries(path, r->num_blocks, &none, &nn),
                     LSM_EINVAL);
    lsm_sst_report_free(r);

    uint64_t probes = 0, fp = 0, probes2 = 0, fp2 = 0;
    assert_int_equal(lsm_sst_measure_filter(path, 5000, &probes, &fp), LSM_OK);
    assert_int_equal(probes, 5000); /* no "lsm-probe-N" is in the file */
    assert_true(fp < 250);          /* about 1% */
    assert_int_equal(lsm_sst_measure_filter(path, 5000, &probes2, &fp2),
                     LSM_OK);
    assert_int_equal(fp2, fp);
    assert_unchanged(path, data, n);
    free(data);
    free(path);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* A flipped byte in the second block: that block marked, the rest read;
 * a file cut short: an error and no report. */
static void test_sst_damage(void **state)
{
    const char *dir = *state;
    lsm_db *db;
    uint8_t identity[LSM_IDENTITY_BYTES];
    char *path = make_sst(dir, &db, identity);
    lsm_sst_report *r = NULL;
    assert_int_equal(lsm_sst_inspect(path, &r), LSM_OK);
    uint64_t at = r->blocks[1].offset + 10, blocks = r->num_blocks;
    lsm_sst_report_free(r);
    size_t n;
    uint8_t *data = slurp(path, &n);
    data[at] ^= 0x01;
    char *copy = test_path(dir, "copy.sst");
    spill(copy, data, n);
    assert_int_equal(lsm_sst_inspect(copy, &r), LSM_ECORRUPT);
    assert_non_null(r);
    assert_non_null(strstr(lsm_errmsg(), copy));
    assert_int_equal(r->num_blocks, blocks);
    assert_int_equal(r->damaged_blocks, 1);
    for (uint64_t i = 0; i < blocks; i++) {
        assert_int_equal(r->blocks[i].damaged, i == 1);
        assert_true(i == 1 || r->blocks[i].entries > 0);
    }
    lsm_sst_report_free(r);
    lsm_sst_entry *e = NULL;
    size_t ne = 0;
    assert_int_equal(lsm_sst_block_entries(copy, 1, &e, &ne), LSM_ECORRUPT);
    assert_int_equal(lsm_sst_block_entries(copy, 0, &e, &ne), LSM_OK);
    lsm_sst_entries_free(e, ne);
    assert_unchanged(copy, data, n);

    spill(copy, data, n - 50); /* the footer cut off */
    r = (lsm_sst_report *)1;
    assert_int_equal(lsm_sst_inspect(copy, &r), LSM_ECORRUPT);
    assert_null(r);
    assert_int_equal(lsm_sst_inspect(copy, NULL), LSM_EINVAL);
    uint64_t probes, fp;
    assert_int_equal(lsm_sst_measure_filter(copy, 10, &probes, &fp),
                     LSM_ECORRUPT);
    free(copy);
    free(data);
    free(path);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Three versions of one key, each in its own block (snapshots keep them
 * through the flush), newest first. Block 1's version made as new as
 * block 0's, its checksum made right: every block reads clean alone, but
 * the order across the boundary is broken, as a scan finds; sst marks
 * block 1 damaged. */
static void test_sst_versions_across_blocks(void **state)
{
    const char *dir = *state;
    lsm_options opt;
    lsm_options_init(&opt);
    opt.compaction = LSM_COMPACTION_NONE;
    opt.block_size = 1;
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, &db), LSM_OK);
    lsm_snapshot *s1 = NULL, *s2 = NULL;
    test_put_str(db, "k", "v1");
    assert_int_equal(lsm_snapshot_take(db, &s1), LSM_OK);
    test_put_str(db, "k", "v2");
    assert_int_equal(lsm_snapshot_take(db, &s2), LSM_OK);
    test_put_str(db, "k", "v3");
    assert_int_equal(lsm_flush(db), LSM_OK);
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    char name[32];
    snprintf(name, sizeof name, "%llu.sst",
             (unsigned long long)st->l0[0].sst_id);
    lsm_state_free(st);
    char *path = test_path(dir, name);
    lsm_sst_report *r = NULL;
    assert_int_equal(lsm_sst_inspect(path, &r), LSM_OK);
    assert_int_equal(r->num_blocks, 3);
    uint64_t at = r->blocks[1].offset, len = r->blocks[1].bytes;
    lsm_sst_report_free(r);
    size_t n;
    uint8_t *data = slurp(path, &n);
    /* Block 1's one entry: shared, unshared, value_len (one byte each),
     * then seq (a one-byte varint: 2, below block 0's 3). */
    uint8_t *blk = data + at;
    assert_int_equal(blk[3], 2);
    blk[3] = 3;
    uint64_t sum = XXH3_64bits(blk, len - 8);
    for (int i = 0; i < 8; i++)
        blk[len - 8 + i] = (uint8_t)(sum >> (8 * i));
    char *copy = test_path(dir, "stale.sst");
    spill(copy, data, n);
    assert_int_equal(lsm_sst_inspect(copy, &r), LSM_ECORRUPT);
    assert_non_null(strstr(lsm_errmsg(), "not older than the previous"));
    assert_non_null(r);
    assert_int_equal(r->damaged_blocks, 1);
    assert_true(r->blocks[1].damaged);
    assert_false(r->blocks[0].damaged || r->blocks[2].damaged);
    lsm_sst_report_free(r);
    lsm_snapshot_release(s1);
    lsm_snapshot_release(s2);
    free(copy);
    free(data);
    free(path);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Sets the u64 at footer offset `at` of the SST file data (n bytes) and
 * makes the footer's checksum right again (FORMAT.md: XXH3-64 of its
 * bytes 0..87, stored at 88), so only the lie is left. */
static void forge_footer(uint8_t *data, size_t n, size_t at, uint64_t v)
{
    uint8_t *footer = data + n - 104;
    for (int i = 0; i < 8; i++)
        footer[at + i] = (uint8_t)(v >> (8 * i));
    uint64_t sum = XXH3_64bits(footer, 88);
    for (int i = 0; i < 8; i++)
        footer[88 + i] = (uint8_t)(sum >> (8 * i));
}

/* A footer whose entry count or newest seq the blocks contradict: every
 * block reads clean, yet the file is LSM_ECORRUPT, saying which. */
static void test_sst_footer_lies(void **state)
{
    const char *dir = *state;
    lsm_db *db;
    uint8_t identity[LSM_IDENTITY_BYTES];
    char *path = make_sst(dir, &db, identity);
    lsm_sst_report *r = NULL;
    assert_int_equal(lsm_sst_inspect(path, &r), LSM_OK);
    uint64_t entries = r->num_entries;
    lsm_sst_report_free(r);
    size_t n;
    uint8_t *data = slurp(path, &n);
    char *copy = test_path(dir, "lie.sst");

    forge_footer(data, n, 32, entries + 1); /* num_entries */
    spill(copy, data, n);
    assert_int_equal(lsm_sst_inspect(copy, &r), LSM_ECORRUPT);
    assert_non_null(r);
    assert_int_equal(r->damaged_blocks, 0);
    assert_non_null(strstr(lsm_errmsg(), "the blocks hold"));
    lsm_sst_report_free(r);

    forge_footer(data, n, 32, entries);
    forge_footer(data, n, 48, 1); /* max_seq */
    spill(copy, data, n);
    assert_int_equal(lsm_sst_inspect(copy, &r), LSM_ECORRUPT);
    assert_non_null(strstr(lsm_errmsg(), "newer than the footer's newest"));
    lsm_sst_report_free(r);
    free(copy);
    free(data);
    free(path);
    assert_int_equal(lsm_close(db), LSM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_manifest_identity_and_strategy,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_manifest_file_damage,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_wal_records, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_sst_report, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_sst_damage, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_sst_footer_lies, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_sst_versions_across_blocks,
                                        test_dir_setup, test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
