/*
 * cmd_inspect.c: the sst, wal and manifest --file inspectors (see
 * cmd_inspect.h). The engine reads the files (lsm_sst_inspect,
 * lsm_wal_read_file, lsm_manifest_read_file); this file says what they
 * found, one fact a line.
 */
#include "cmd_inspect.h"

#include "format.h"
#include "show.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- naming the file ------------------------------------------------------ */

/* Whether arg is a file id: 1 to 19 decimal digits. */
static int is_file_id(const cli_arg *arg)
{
    if (arg->n_bytes == 0 || arg->n_bytes > 19)
        return 0;
    for (size_t i = 0; i < arg->n_bytes; i++)
        if (arg->bytes[i] < '0' || arg->bytes[i] > '9')
            return 0;
    return 1;
}

/* A file to inspect: where it is, and what to call it in the output
 * (12.sst for an id: the database's directory differs from run to run,
 * and a transcript must not). */
typedef struct inspect_file {
    char path[4096];
    char name[4096];
} inspect_file;

/* The file arg names: DIR/ID.EXT for an id, else arg itself. Fails (the
 * message printed) on a NUL byte or a path too long. */
static int inspect_path(cli_session *s, const char *cmd, const cli_arg *arg,
                        const char *ext, inspect_file *f)
{
    if (memchr(arg->bytes, '\0', arg->n_bytes))
        return cli_fail(s, "%s: a file name cannot contain a NUL byte", cmd);
    int id = is_file_id(arg);
    int len = id ? snprintf(f->path, sizeof f->path, "%s/%s.%s",
                            s->path ? s->path : ".", arg->bytes, ext)
                 : snprintf(f->path, sizeof f->path, "%s", arg->bytes);
    if (len < 0 || (size_t)len >= sizeof f->path)
        return cli_fail(s, "%s: the file name is too long", cmd);
    if (id)
        snprintf(f->name, sizeof f->name, "%s.%s", arg->bytes, ext);
    else
        snprintf(f->name, sizeof f->name, "%s", arg->bytes);
    return LSM_OK;
}

/* The engine's message, with the database's directory left out of the
 * file names in it ("dir/12.sst: ..." says "12.sst: ..."). */
void cli_inspect_message(const cli_session *s, int rc, char *out, size_t n)
{
    const char *msg = lsm_errmsg()[0] ? lsm_errmsg() : lsm_strerror(rc);
    size_t dir = s->path ? strlen(s->path) : 0;
    const char *at = dir ? strstr(msg, s->path) : NULL;
    if (at && at[dir] == '/')
        snprintf(out, n, "%.*s%s", (int)(at - msg), msg, at + dir + 1);
    else
        snprintf(out, n, "%s", msg);
}

/* Prints what was read so far, then, when rc is an error, fails with the
 * engine's message. */
static int inspect_finish(cli_session *s, const char *cmd, cli_buf *out, int rc)
{
    char msg[1024];
    cli_inspect_message(s, rc, msg, sizeof msg);
    int out_rc = cli_buf_failed(out) ? LSM_ENOMEM : cli_out_buf(out);
    cli_buf_free(out);
    if (rc != LSM_OK)
        return cli_fail(s, "%s: %s", cmd, msg);
    if (out_rc != 0)
        return cli_fail(s, "%s: out of memory", cmd);
    return LSM_OK;
}

static double percent(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* --- sst ------------------------------------------------------------------ */

/* The open database's identity (its MANIFEST's snapshot holds it);
 * false when it cannot be read. */
static int open_db_identity(cli_session *s, uint8_t out[LSM_IDENTITY_BYTES])
{
    lsm_manifest_record *recs = NULL;
    size_t n = 0;
    int found = 0;
    if (!s->db || lsm_manifest_read(s->db, &recs, &n) != LSM_OK)
        return 0;
    for (size_t i = 0; i < n && !found; i++) {
        if (recs[i].kind != LSM_MANIFEST_SNAPSHOT)
            continue;
        memcpy(out, recs[i].identity, LSM_IDENTITY_BYTES);
        found = 1;
    }
    lsm_manifest_free(recs, n);
    return found;
}

/* Whose the SST is: the open database's, or another's (its identity, a
 * random number each database makes, printed only then, so the output of
 * a script stays the same from run to run). */
static void show_sst_owner(cli_buf *b, cli_session *s, const lsm_sst_report *r)
{
    uint8_t mine[LSM_IDENTITY_BYTES];
    if (open_db_identity(s, mine) &&
        memcmp(mine, r->db_identity, LSM_IDENTITY_BYTES) == 0) {
        cli_buf_printf(b, "  written by this database\n");
        return;
    }
    cli_buf_printf(b, "  written by another database: identity ");
    for (size_t i = 0; i < LSM_IDENTITY_BYTES; i++)
        cli_buf_printf(b, "%02x", r->db_identity[i]);
    cli_buf_printf(b, "\n");
}

static void show_sst_summary(cli_buf *b, const char *path,
                             const lsm_sst_report *r)
{
    cli_buf_printf(b,
                   "%s: %" PRIu64 " B, format %u, written as %" PRIu64
                   ".sst, newest seq %" PRIu64 "\n",
                   path, r->file_bytes, (unsigned)r->format_version, r->sst_id,
                   r->max_seq);
    cli_buf_printf(
        b, "  %" PRIu64 " entries in %" PRIu64 " data block%s, keys ",
        r->num_entries, r->num_blocks, r->num_blocks == 1 ? "" : "s");
    cli_buf_append_key(b, r->first_key, r->nfirst_key);
    cli_buf_printf(b, " .. ");
    cli_buf_append_key(b, r->last_key, r->nlast_key);
    cli_buf_printf(b, "\n");
}

/* Where each section lies: data blocks, filter, index, the meta section
 * when there is one, footer. */
static void show_sst_layout(cli_buf *b, const lsm_sst_report *r)
{
    uint64_t index_end = r->index_offset + r->index_bytes;
    uint64_t footer = index_end + r->meta_bytes;
    cli_buf_printf(
        b,
        "  layout: data 0..%" PRIu64 ", filter %" PRIu64 "..%" PRIu64
        " (%" PRIu64 " B), index %" PRIu64 "..%" PRIu64 " (%" PRIu64 " B), ",
        r->filter_offset, r->filter_offset, r->filter_offset + r->filter_bytes,
        r->filter_bytes, r->index_offset, index_end, r->index_bytes);
    if (r->meta_bytes > 0)
        cli_buf_printf(b, "meta %" PRIu64 "..%" PRIu64 " (%" PRIu64 " B), ",
                       r->meta_offset, footer, r->meta_bytes);
    cli_buf_printf(b, "footer %" PRIu64 "..%" PRIu64 " (%" PRIu64 " B)\n",
                   footer, r->file_bytes, r->file_bytes - footer);
}

static void show_sst_filter(cli_buf *b, const lsm_sst_report *r)
{
    if (r->filter_bits == 0) {
        cli_buf_printf(b, "  filter: none (every key may be present)\n");
        return;
    }
    cli_buf_printf(b,
                   "  filter: %" PRIu64 " bits, %u probes a key, %.1f bits "
                   "a key (%" PRIu64 " keys%s), %.1f%% of bits set, "
                   "estimated false positives %.2f%%\n",
                   r->filter_bits, r->filter_probes, r->bits_per_key,
                   r->distinct_keys,
                   r->damaged_blocks ? " in the undamaged blocks" : "",
                   percent(r->filter_bits_set, r->filter_bits),
                   100.0 * r->estimated_fp_rate);
}

/* "  prefix filter: keys' first 4 bytes, 12 prefixes, 128 bits, 7 probes"
 * (or "up to b"/"", or "no filter bits"), for a file with the record. */
static void show_sst_prefix(cli_buf *b, const lsm_sst_report *r)
{
    if (!r->has_prefix)
        return;
    if (r->prefix_delim >= 0) {
        unsigned char c = (unsigned char)r->prefix_delim;
        cli_buf_printf(b, "  prefix filter: keys up to the first ");
        cli_buf_append_bytes(b, &c, 1);
    } else {
        cli_buf_printf(b, "  prefix filter: keys' first %u bytes",
                       r->prefix_len);
    }
    cli_buf_printf(b, ", %" PRIu64 " prefix%s, ", r->prefix_count,
                   r->prefix_count == 1 ? "" : "es");
    if (r->prefix_filter_bits == 0)
        cli_buf_printf(b, "no filter bits\n");
    else
        cli_buf_printf(b, "%" PRIu64 " bits, %u probes a prefix\n",
                       r->prefix_filter_bits, r->prefix_filter_probes);
}

/* One index line per block: where it is, its keys, what reading found. */
/* The file's range tombstones, when it has some: a file of them alone
 * (0 data blocks) then says what it holds. */
static void show_sst_ranges(cli_buf *b, const lsm_sst_report *r)
{
    if (r->n_range_tombstones == 0)
        return;
    cli_buf_printf(b, "  range tombstones: %zu\n", r->n_range_tombstones);
    cli_show_range_tombstones(b, r->range_tombstones, r->n_range_tombstones);
}

static void show_sst_index(cli_buf *b, const lsm_sst_report *r)
{
    uint64_t keys = 0, shared = 0;
    cli_buf_printf(b, "  index:\n");
    for (uint64_t i = 0; i < r->num_blocks; i++) {
        const lsm_sst_block_info *x = &r->blocks[i];
        cli_buf_printf(
            b, "    block %" PRIu64 ": offset %" PRIu64 ", %" PRIu64 " B", i,
            x->offset, x->bytes);
        if (x->compression != LSM_COMPRESSION_NONE)
            cli_buf_printf(b, " (%s, %" PRIu64 " B raw)",
                           lsm_compression_name(x->compression), x->raw_bytes);
        cli_buf_printf(b, ", keys ");
        cli_buf_append_key(b, x->first_key, x->nfirst_key);
        cli_buf_printf(b, " .. ");
        cli_buf_append_key(b, x->last_key, x->nlast_key);
        if (x->damaged)
            cli_buf_printf(b, ", DAMAGED\n");
        else
            cli_buf_printf(b,
                           ", %" PRIu64 " entries, prefixes saved %" PRIu64
                           " of %" PRIu64 " key bytes\n",
                           x->entries, x->shared_bytes, x->key_bytes);
        keys += x->key_bytes;
        shared += x->shared_bytes;
    }
    cli_buf_printf(b,
                   "  prefix compression: %" PRIu64 " of %" PRIu64
                   " key bytes not stored (%.1f%%)\n",
                   shared, keys, percent(shared, keys));
}

/* --blocks: every entry of block i, as stored. */
static int show_sst_block_entries(cli_buf *b, const char *path, uint64_t i)
{
    lsm_sst_entry *e = NULL;
    size_t n = 0;
    int rc = lsm_sst_block_entries(path, i, &e, &n);
    if (rc != LSM_OK)
        return rc;
    cli_buf_printf(b, "  block %" PRIu64 ":\n", i);
    for (size_t k = 0; k < n; k++) {
        cli_buf_printf(b, "    ");
        cli_buf_append_key(b, e[k].key, e[k].nkey);
        cli_buf_printf(b, " seq %" PRIu64, e[k].seq);
        if (e[k].tombstone)
            cli_buf_printf(b, " delete");
        else
            cli_buf_printf(b, " value %zu B", e[k].value_bytes);
        cli_buf_printf(b, " (shared %zu, own %zu)\n", e[k].shared_bytes,
                       e[k].unshared_bytes);
    }
    lsm_sst_entries_free(e, n);
    return LSM_OK;
}

/* --measure: asks the filter about 10000 keys the file lacks. */
#define SST_MEASURE_PROBES 10000

static int show_sst_measured(cli_buf *b, const char *path)
{
    uint64_t probes = 0, fp = 0;
    int rc = lsm_sst_measure_filter(path, SST_MEASURE_PROBES, &probes, &fp);
    if (rc == LSM_OK)
        cli_buf_printf(b,
                       "  measured: %" PRIu64 " of %" PRIu64 " keys the file "
                       "lacks got through the filter (%.2f%%)\n",
                       fp, probes, percent(fp, probes));
    return rc;
}

int cli_cmd_sst(cli_session *s, const cli_argv *a)
{
    int blocks = 0, measure = 0;
    for (size_t i = 2; i < a->n_args; i++) {
        if (strcmp(a->args[i].bytes, "--blocks") == 0)
            blocks = 1;
        else if (strcmp(a->args[i].bytes, "--measure") == 0)
            measure = 1;
        else
            return cli_fail(s, "sst: unknown option (expected --blocks or "
                               "--measure)");
    }
    inspect_file f;
    if (inspect_path(s, "sst", &a->args[1], "sst", &f) != LSM_OK)
        return LSM_EINVAL;
    const char *path = f.path;
    lsm_sst_report *r = NULL;
    int rc = lsm_sst_inspect(path, &r);
    /* The first damage found is the error; what it left readable is
     * still shown. Its message is kept now: the calls below set their
     * own. */
    int damaged = rc;
    char damage[1024];
    cli_inspect_message(s, rc, damage, sizeof damage);
    cli_buf out;
    cli_buf_init(&out);
    if (r) { /* also when blocks are damaged: show the rest */
        show_sst_summary(&out, f.name, r);
        show_sst_owner(&out, s, r);
        show_sst_layout(&out, r);
        show_sst_filter(&out, r);
        show_sst_prefix(&out, r);
        show_sst_ranges(&out, r);
        show_sst_index(&out, r);
    }
    if (rc == LSM_OK && measure)
        rc = show_sst_measured(&out, path);
    for (uint64_t i = 0;
         r && blocks && i < r->num_blocks && rc != LSM_EIO && rc != LSM_ENOMEM;
         i++)
        if (!r->blocks[i].damaged)
            rc = show_sst_block_entries(&out, path, i);
    lsm_sst_report_free(r);
    if (damaged != LSM_OK) {
        inspect_finish(s, "sst", &out, LSM_OK);
        return cli_fail(s, "sst: %s", damage);
    }
    return inspect_finish(s, "sst", &out, rc);
}

/* --- wal ------------------------------------------------------------------ */

static void show_wal_record(cli_buf *b, const lsm_wal_record *r)
{
    uint64_t first = r->entries[0].seq;
    uint64_t last = r->entries[r->n_entries - 1].seq;
    cli_buf_printf(b, "@%" PRIu64 " seq %" PRIu64, r->offset, first);
    if (last != first)
        cli_buf_printf(b, "..%" PRIu64, last);
    if (r->n_entries > 1)
        cli_buf_printf(b, ": batch of %zu:", r->n_entries);
    else
        cli_buf_printf(b, ":");
    for (size_t i = 0; i < r->n_entries; i++) {
        const lsm_wal_entry *e = &r->entries[i];
        if (e->range_delete) {
            cli_buf_printf(b, "%s delrange [", i ? "," : "");
            cli_buf_append_key(b, e->key, e->nkey);
            cli_buf_printf(b, ", ");
            cli_buf_append_key(b, e->end, e->nend);
            cli_buf_printf(b, ")");
            continue;
        }
        cli_buf_printf(b, "%s %s ", i ? "," : "", e->tombstone ? "del" : "put");
        cli_buf_append_key(b, e->key, e->nkey);
        if (!e->tombstone)
            cli_buf_printf(b, " (%zu B)", e->value_bytes);
    }
    cli_buf_printf(b, "\n");
}

/* The file's size, and where a torn tail starts. */
static void show_log_extent(cli_buf *b, const lsm_log_extent *x, int rc)
{
    if (rc == LSM_OK && x->valid_bytes < x->file_bytes)
        cli_buf_printf(b,
                       "torn tail at offset %" PRIu64 ": %" PRIu64
                       " B after the last whole record (a crash while "
                       "appending; open cuts it off)\n",
                       x->valid_bytes, x->file_bytes - x->valid_bytes);
}

int cli_cmd_wal(cli_session *s, const cli_argv *a)
{
    inspect_file f;
    if (inspect_path(s, "wal", &a->args[1], "wal", &f) != LSM_OK)
        return LSM_EINVAL;
    lsm_wal_record *recs = NULL;
    size_t n = 0;
    lsm_log_extent x = {0, 0};
    int rc = lsm_wal_read_file(f.path, &recs, &n, &x);
    cli_buf out;
    cli_buf_init(&out);
    if (rc == LSM_OK || rc == LSM_ECORRUPT) {
        uint64_t writes = 0;
        for (size_t i = 0; i < n; i++)
            writes += recs[i].n_entries;
        cli_buf_printf(&out,
                       "%s: %" PRIu64 " B, %zu record%s, %" PRIu64 " write%s\n",
                       f.name, x.file_bytes, n, n == 1 ? "" : "s", writes,
                       writes == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++)
            show_wal_record(&out, &recs[i]);
        show_log_extent(&out, &x, rc);
    }
    lsm_wal_free(recs, n);
    return inspect_finish(s, "wal", &out, rc);
}

/* --- manifest --file ------------------------------------------------------ */

/* Whether the records say the database uses tiers: the snapshot's flag. */
static int records_tiered(const lsm_manifest_record *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (recs[i].kind == LSM_MANIFEST_SNAPSHOT)
            return recs[i].tiered;
    return 0;
}

int cli_manifest_file(cli_session *s, const cli_argv *a)
{
    inspect_file f;
    const cli_arg *arg = &a->args[2];
    if (memchr(arg->bytes, '\0', arg->n_bytes))
        return cli_fail(s, "manifest --file: a file name cannot contain a "
                           "NUL byte");
    /* A MANIFEST has no id: the name is a path as typed. */
    snprintf(f.path, sizeof f.path, "%s", arg->bytes);
    snprintf(f.name, sizeof f.name, "%s", arg->bytes);
    const char *path = f.path;
    lsm_manifest_record *recs = NULL;
    size_t n = 0;
    lsm_log_extent x = {0, 0};
    int rc = lsm_manifest_read_file(path, &recs, &n, &x);
    cli_buf out;
    cli_buf_init(&out);
    if (rc == LSM_OK || rc == LSM_ECORRUPT) {
        int tiered = records_tiered(recs, n);
        cli_buf_printf(&out, "%s: %" PRIu64 " B, %zu record%s\n", path,
                       x.file_bytes, n, n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++)
            cli_show_manifest_record(&out, &recs[i], tiered);
        show_log_extent(&out, &x, rc);
    }
    lsm_manifest_free(recs, n);
    return inspect_finish(s, "manifest --file", &out, rc);
}
