/*
 * cmd_verify.c: verify, a check of the whole database as it is on disk,
 * as RocksDB's ldb checkconsistency and sst_dump --command=verify do
 * together. It reads every live file and compares what it finds with the
 * tree the engine holds (lsm_state, which the MANIFEST made):
 *   - every live SST exists and reads clean: footer, filter, index and
 *     every data block's checksum and format (lsm_sst_inspect); it was
 *     written as the id it is named by, by this database (the identity
 *     the MANIFEST's snapshot holds), with the size and key range the
 *     tree records (the tree the engine built from the MANIFEST at open
 *     and changed since: the MANIFEST itself is only read for damage);
 *   - every level (or tier) below L0 is in key order with no overlap, and
 *     L0 is newest first;
 *   - the MANIFEST and every memtable's WAL read clean (a torn tail is
 *     reported, not repaired);
 *   - the directory holds nothing else: an SST or WAL no one owns is an
 *     orphan (a crash leaves them; open deletes them), an unknown file is
 *     reported. SSTs an open iterator still reads are fine.
 * It prints one verdict line, then each problem with its file (and offset,
 * where the engine names one), and fails when there is any, so a script
 * exits 1. It reads; it never repairs. It reads while the engine may
 * change files (background compactions; another process's writes under
 * a long read-only session): it is meant for a quiet database.
 *
 * Thread safety: main thread only.
 */
#include "cmd_verify.h"

#include "cmd_inspect.h"
#include "format.h"

#include <dirent.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What verify found. */
typedef struct verify_run {
    cli_session *s;
    const lsm_state *st;
    uint8_t identity[LSM_IDENTITY_BYTES];
    int have_identity;
    cli_buf problems; /* one "  FILE: what" line each */
    size_t n_problems;
    uint64_t n_ssts, n_blocks, n_wals, n_records;
} verify_run;

static void problem(verify_run *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(verify_run *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_buf_printf(&v->problems, "  ");
    cli_buf_vprintf(&v->problems, fmt, ap);
    cli_buf_printf(&v->problems, "\n");
    va_end(ap);
    v->n_problems++;
}

/* The engine's message for rc, as a problem (file names without the
 * database's directory). */
static void engine_problem(verify_run *v, int rc)
{
    char msg[1024];
    cli_inspect_message(v->s, rc, msg, sizeof msg);
    problem(v, "%s", msg);
}

static int key_cmp(const void *a, size_t na, const void *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (na > nb) - (na < nb);
}

static int same_key(const void *a, size_t na, const void *b, size_t nb)
{
    return key_cmp(a, na, b, nb) == 0;
}

static void file_path(const verify_run *v, char *out, size_t n, uint64_t id,
                      const char *ext)
{
    snprintf(out, n, "%s/%" PRIu64 ".%s", v->s->path ? v->s->path : ".", id,
             ext);
}

/* --- the SSTs --------------------------------------------------------------
 */

/* What the report says against what the tree records for the SST. */
static void verify_sst_facts(verify_run *v, const char *name,
                             const lsm_sst_info *want, const lsm_sst_report *r)
{
    if (r->sst_id != want->sst_id)
        problem(v, "%s: written as %" PRIu64 ".sst (copied or renamed?)", name,
                r->sst_id);
    if (v->have_identity &&
        memcmp(r->db_identity, v->identity, LSM_IDENTITY_BYTES) != 0)
        problem(v,
                "%s: written by another database (its identity differs "
                "from the MANIFEST's)",
                name);
    if (r->file_bytes != want->file_size)
        problem(v, "%s: %" PRIu64 " B, the MANIFEST records %" PRIu64 " B",
                name, r->file_bytes, want->file_size);
    if (!same_key(r->first_key, r->nfirst_key, want->first_key,
                  want->nfirst_key) ||
        !same_key(r->last_key, r->nlast_key, want->last_key, want->nlast_key))
        problem(v, "%s: its keys differ from the range the MANIFEST records",
                name);
}

static void verify_sst(verify_run *v, const lsm_sst_info *want)
{
    char path[4096], name[32];
    file_path(v, path, sizeof path, want->sst_id, "sst");
    snprintf(name, sizeof name, "%" PRIu64 ".sst", want->sst_id);
    lsm_sst_report *r = NULL;
    int rc = lsm_sst_inspect(path, &r);
    v->n_ssts++;
    if (rc != LSM_OK)
        engine_problem(v, rc);
    if (!r)
        return;
    v->n_blocks += r->num_blocks;
    if (r->damaged_blocks > 1)
        problem(v, "%s: %" PRIu64 " damaged data blocks in all", name,
                r->damaged_blocks);
    verify_sst_facts(v, name, want, r);
    lsm_sst_report_free(r);
}

/* A run below L0 holds SSTs in key order that never overlap. */
static void verify_run_order(verify_run *v, const char *what,
                             const lsm_level_info *lv)
{
    for (size_t i = 1; i < lv->n_ssts; i++) {
        const lsm_sst_info *a = &lv->ssts[i - 1], *b = &lv->ssts[i];
        if (key_cmp(a->last_key, a->nlast_key, b->first_key, b->nfirst_key) >=
            0)
            problem(v,
                    "%s: %" PRIu64 ".sst and %" PRIu64 ".sst overlap or "
                    "are out of key order",
                    what, a->sst_id, b->sst_id);
    }
}

static void verify_ssts(verify_run *v)
{
    const lsm_state *st = v->st;
    for (size_t i = 0; i < st->n_l0; i++) {
        verify_sst(v, &st->l0[i]);
        if (i > 0 && st->l0[i].sst_id >= st->l0[i - 1].sst_id)
            problem(v,
                    "L0: %" PRIu64 ".sst comes after %" PRIu64
                    ".sst but is not older",
                    st->l0[i].sst_id, st->l0[i - 1].sst_id);
    }
    for (size_t l = 0; l < st->n_levels; l++) {
        const lsm_level_info *lv = &st->levels[l];
        char what[32];
        snprintf(what, sizeof what,
                 st->compaction == LSM_COMPACTION_TIERED ? "tier %d" : "L%d",
                 lv->level);
        for (size_t i = 0; i < lv->n_ssts; i++)
            verify_sst(v, &lv->ssts[i]);
        verify_run_order(v, what, lv);
    }
}

/* --- the logs ------------------------------------------------------------- */

static void verify_manifest(verify_run *v)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/MANIFEST", v->s->path ? v->s->path : ".");
    lsm_manifest_record *recs = NULL;
    size_t n = 0;
    lsm_log_extent x = {0, 0};
    int rc = lsm_manifest_read_file(path, &recs, &n, &x);
    if (rc != LSM_OK)
        engine_problem(v, rc);
    else if (x.valid_bytes < x.file_bytes)
        problem(v, "MANIFEST: torn tail at offset %" PRIu64, x.valid_bytes);
    for (size_t i = 0; i < n; i++) {
        if (recs[i].kind != LSM_MANIFEST_SNAPSHOT)
            continue;
        memcpy(v->identity, recs[i].identity, LSM_IDENTITY_BYTES);
        v->have_identity = 1;
    }
    v->n_records = n;
    lsm_manifest_free(recs, n);
}

static void verify_wal(verify_run *v, const lsm_memtable_info *m)
{
    char path[4096];
    file_path(v, path, sizeof path, m->memtable_id, "wal");
    lsm_wal_record *recs = NULL;
    size_t n = 0;
    lsm_log_extent x = {0, 0};
    int rc = lsm_wal_read_file(path, &recs, &n, &x);
    lsm_wal_free(recs, n);
    /* No WAL is fine for an empty memtable (none yet) and without WALs
     * (--disable-wal); a WAL that exists is checked either way: WALs
     * of an earlier run are replayed even then. */
    if (rc == LSM_EIO && (m->num_keys == 0 || !v->s->wal_enabled))
        return;
    v->n_wals++;
    if (rc != LSM_OK)
        engine_problem(v, rc);
    else if (x.valid_bytes < x.file_bytes)
        problem(v, "%" PRIu64 ".wal: torn tail at offset %" PRIu64,
                m->memtable_id, x.valid_bytes);
}

static void verify_wals(verify_run *v)
{
    verify_wal(v, &v->st->memtable);
    for (size_t i = 0; i < v->st->n_immutables; i++)
        verify_wal(v, &v->st->immutables[i]);
}

/* --- the directory -------------------------------------------------------- */

static int is_live_sst(const lsm_state *st, uint64_t id)
{
    for (size_t i = 0; i < st->n_l0; i++)
        if (st->l0[i].sst_id == id)
            return 1;
    for (size_t l = 0; l < st->n_levels; l++)
        for (size_t i = 0; i < st->levels[l].n_ssts; i++)
            if (st->levels[l].ssts[i].sst_id == id)
                return 1;
    for (size_t i = 0; i < st->n_pinned_only; i++)
        if (st->pinned_only[i] == id)
            return 1; /* an open iterator still reads it */
    return 0;
}

static int is_live_wal(const lsm_state *st, uint64_t id)
{
    if (st->memtable.memtable_id == id)
        return 1;
    for (size_t i = 0; i < st->n_immutables; i++)
        if (st->immutables[i].memtable_id == id)
            return 1;
    return 0;
}

/* "12.sst" -> 12 and "sst"; 0 when the name is not an id and extension. */
static int parse_file_name(const char *name, uint64_t *id, const char **ext)
{
    char *end = NULL;
    if (name[0] < '0' || name[0] > '9')
        return 0;
    unsigned long long v = strtoull(name, &end, 10);
    if (*end != '.')
        return 0;
    *id = v;
    *ext = end + 1;
    return 1;
}

static void verify_entry(verify_run *v, const char *name)
{
    uint64_t id;
    const char *ext;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strcmp(name, "LOCK") == 0 || strcmp(name, "MANIFEST") == 0)
        return;
    if (parse_file_name(name, &id, &ext) && strcmp(ext, "sst") == 0) {
        if (!is_live_sst(v->st, id))
            problem(v,
                    "%s: in no level and read by no iterator (an "
                    "orphan: open deletes it)",
                    name);
    } else if (parse_file_name(name, &id, &ext) && strcmp(ext, "wal") == 0) {
        if (!is_live_wal(v->st, id))
            problem(v, "%s: no memtable's WAL (an orphan: open deletes it)",
                    name);
    } else {
        problem(v, "%s: not a file of the database", name);
    }
}

/* Lists the directory in name order, so the problems come out the same
 * way every time. */
static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void verify_directory(verify_run *v)
{
    const char *dir = v->s->path ? v->s->path : ".";
    DIR *d = opendir(dir);
    if (!d) {
        problem(v, "cannot list the database's directory");
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown)
                break;
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name)))
            break;
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        verify_entry(v, names[i]);
        free(names[i]);
    }
    free(names);
}

int cli_cmd_verify(cli_session *s, const cli_argv *a)
{
    (void)a;
    lsm_state *st = NULL;
    int rc = lsm_state_get(s->db, &st);
    if (rc != LSM_OK)
        return cli_fail_engine(s, "verify", rc);
    verify_run v = {.s = s, .st = st};
    cli_buf_init(&v.problems);
    verify_manifest(&v);
    verify_ssts(&v);
    verify_wals(&v);
    verify_directory(&v);
    lsm_state_free(st);
    cli_buf out;
    cli_buf_init(&out);
    cli_buf_printf(
        &out,
        "verify: %s: %" PRIu64 " SST%s (%" PRIu64 " blocks), %" PRIu64
        " WAL%s, MANIFEST (%" PRIu64 " records)",
        v.n_problems ? "PROBLEMS" : "OK", v.n_ssts, v.n_ssts == 1 ? "" : "s",
        v.n_blocks, v.n_wals, v.n_wals == 1 ? "" : "s", v.n_records);
    if (v.n_problems)
        cli_buf_printf(&out, ", %zu problem%s:\n%s", v.n_problems,
                       v.n_problems == 1 ? "" : "s", cli_buf_str(&v.problems));
    else
        cli_buf_printf(&out, ", every level in key order\n");
    rc = cli_out_buf(&out);
    cli_buf_free(&out);
    cli_buf_free(&v.problems);
    if (v.n_problems)
        return cli_fail(s, "verify: %zu problem%s found", v.n_problems,
                        v.n_problems == 1 ? "" : "s");
    return rc == 0 ? LSM_OK : cli_fail(s, "verify: out of memory");
}
