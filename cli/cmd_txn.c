/*
 * cmd_txn.c: named snapshots and transactions in lsm-cli (see cmd_txn.h for
 * the commands and the naming rules).
 *
 * The session keeps one list of named read points, oldest first: each is
 * a live lsm_snapshot or an open lsm_txn, owned by the list. Reads inside a
 * transaction print exactly what get and scan print (cli_append_get_reply,
 * cli_scan_print), so a transcript can set the two side by side.
 *
 * Invariant: every entry's snapshot is live and every entry's transaction
 * is open; an entry leaves the list only through reads_remove_at, after
 * its handle was released, committed or aborted.
 */
#include "cmd_txn.h"

#include "format.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest NAME, as for iterators. */
#define READ_NAME_MAX 32

typedef struct cli_named_read {
    char *name;         /* NUL-terminated, checked by name_check */
    lsm_snapshot *snap; /* a snapshot: live; else NULL */
    lsm_txn *txn;       /* a transaction: open; else NULL */
    uint64_t n_writes;  /* a transaction: put and del calls it took */
} cli_named_read;

struct cli_reads {
    size_t n, cap;
    cli_named_read *items; /* in order of creation */
};

size_t cli_reads_count(const cli_session *s)
{
    return s->reads ? s->reads->n : 0;
}

void cli_reads_append_names(const cli_session *s, cli_buf *b)
{
    for (size_t i = 0; i < cli_reads_count(s); i++)
        cli_buf_printf(b, "%s%s", i ? ", " : "", s->reads->items[i].name);
}

static uint64_t read_id(const cli_named_read *e)
{
    return e->txn ? lsm_txn_id(e->txn) : lsm_snapshot_id(e->snap);
}

size_t cli_reads_names(const cli_session *s, cli_read_point_name **out)
{
    size_t n = cli_reads_count(s);

    *out = NULL;
    if (n == 0 || !(*out = malloc(n * sizeof **out)))
        return 0;
    for (size_t i = 0; i < n; i++) {
        (*out)[i].id = read_id(&s->reads->items[i]);
        (*out)[i].name = s->reads->items[i].name;
    }
    return n;
}

static int arg_is(const cli_arg *arg, const char *name)
{
    return strlen(name) == arg->n_bytes &&
           memcmp(name, arg->bytes, arg->n_bytes) == 0;
}

/* Index of the entry called arg, or SIZE_MAX. */
static size_t reads_find(const cli_session *s, const cli_arg *arg)
{
    for (size_t i = 0; i < cli_reads_count(s); i++)
        if (arg_is(arg, s->reads->items[i].name))
            return i;
    return SIZE_MAX;
}

int cli_txn_is_open(const cli_session *s, const cli_arg *arg)
{
    size_t i = reads_find(s, arg);

    return i != SIZE_MAX && s->reads->items[i].txn != NULL;
}

/* Adds a snapshot or a transaction under name (copied). LSM_ENOMEM leaves
 * the list as it was (the caller still owns the handle). */
static int reads_add(cli_session *s, const cli_arg *name, lsm_snapshot *snap,
                     lsm_txn *txn)
{
    struct cli_reads *m = s->reads;
    char *copy;

    if (!m && !(m = s->reads = calloc(1, sizeof *m)))
        return LSM_ENOMEM;
    cli_named_read *items =
        cli_array_reserve(m->items, &m->cap, m->n, sizeof *items);
    if (!items)
        return LSM_ENOMEM;
    m->items = items;
    if (!(copy = cli_arg_strdup(name)))
        return LSM_ENOMEM;
    m->items[m->n++] = (cli_named_read){.name = copy, .snap = snap, .txn = txn};
    return LSM_OK;
}

/* Forgets the i-th entry (its handle already ended); returns its name,
 * which the caller frees. */
static char *reads_remove_at(cli_session *s, size_t i)
{
    struct cli_reads *m = s->reads;
    char *name = m->items[i].name;

    memmove(&m->items[i], &m->items[i + 1],
            (m->n - i - 1) * sizeof m->items[0]);
    m->n--;
    return name;
}

void cli_reads_end_all(cli_session *s)
{
    while (cli_reads_count(s) > 0) {
        cli_named_read e = s->reads->items[0];
        int is_txn = e.txn != NULL;
        if (is_txn)
            lsm_txn_abort(e.txn);
        else
            lsm_snapshot_release(e.snap);
        char *name = reads_remove_at(s, 0);
        cli_out_printf(is_txn ? "%s aborted (still open at quit)\n"
                              : "%s released (still live at quit)\n",
                       name);
        free(name);
    }
    if (s->reads)
        free(s->reads->items);
    free(s->reads);
    s->reads = NULL;
}

/* --- names ------------------------------------------------------------- */

/* A NAME is 1 to READ_NAME_MAX letters, digits, '_' or '-', and not a
 * command name. Checked before any lookup, so a NAME in a message is
 * always plain text. */
static int name_check(cli_session *s, const char *cmd, const cli_arg *name)
{
    if (!cli_arg_is_plain_name(name, READ_NAME_MAX))
        return cli_fail(s,
                        "%s: bad name (expected 1 to %d letters, digits, _ "
                        "or -, e.g. s1 or t1)",
                        cmd, READ_NAME_MAX);
    return LSM_OK;
}

/* A new NAME must be well formed, no command's name, and free. */
static int name_check_new(cli_session *s, const char *cmd, const cli_arg *name)
{
    size_t i;

    if (name_check(s, cmd, name) != LSM_OK)
        return LSM_EINVAL;
    if (cli_is_command_name(name))
        return cli_fail(s,
                        "%s: %s is a command name, so it cannot name a "
                        "snapshot or a transaction; choose another (e.g. "
                        "s1 or t1)",
                        cmd, name->bytes);
    if ((i = reads_find(s, name)) != SIZE_MAX)
        return cli_fail(s,
                        "%s: the name %s is in use by an open %s (%s %s "
                        "first, or choose another name)",
                        cmd, name->bytes,
                        s->reads->items[i].txn ? "transaction" : "snapshot",
                        s->reads->items[i].txn ? "commit or abort" : "release",
                        name->bytes);
    return LSM_OK;
}

/* Reports a NAME no entry of the wanted kind has, listing those that are
 * open, or that NAME is of the other kind. */
static int fail_no_such(cli_session *s, const char *cmd, const cli_arg *name,
                        int want_txn)
{
    const char *kind = want_txn ? "open transaction" : "live snapshot";
    size_t i = reads_find(s, name), n = 0;
    cli_buf open;
    int rc;

    if (i != SIZE_MAX && want_txn)
        return cli_fail(s,
                        "%s: %s is a snapshot, not a transaction (release "
                        "%s ends it)",
                        cmd, name->bytes, name->bytes);
    if (i != SIZE_MAX)
        return cli_fail(s,
                        "%s: %s is a transaction, not a snapshot (%s get KEY "
                        "reads in it)",
                        cmd, name->bytes, name->bytes);
    cli_buf_init(&open);
    for (i = 0; i < cli_reads_count(s); i++) {
        const cli_named_read *e = &s->reads->items[i];
        if ((e->txn != NULL) != want_txn)
            continue;
        cli_buf_printf(&open, "%s%s", n++ ? ", " : "", e->name);
    }
    if (n == 0)
        rc = cli_fail(
            s, "%s: no %s is called %s (none is; %s)", cmd, kind, name->bytes,
            want_txn ? "begin NAME starts one" : "snapshot NAME takes one");
    else
        rc = cli_fail(s, "%s: no %s is called %s (%s: %s)", cmd, kind,
                      name->bytes, want_txn ? "open" : "live",
                      cli_buf_str(&open));
    cli_buf_free(&open);
    return rc;
}

/* The entry of the wanted kind called name, or SIZE_MAX (reported). */
static size_t lookup(cli_session *s, const char *cmd, const cli_arg *name,
                     int want_txn)
{
    size_t i;

    if (name_check(s, cmd, name) != LSM_OK)
        return SIZE_MAX;
    i = reads_find(s, name);
    if (i == SIZE_MAX || (s->reads->items[i].txn != NULL) != want_txn) {
        fail_no_such(s, cmd, name, want_txn);
        return SIZE_MAX;
    }
    return i;
}

int cli_arg_is_snapshot(const cli_arg *arg)
{
    return arg->n_bytes > 0 && arg->bytes[0] == '@';
}

int cli_snapshot_arg(cli_session *s, const char *cmd, const cli_arg *arg,
                     const lsm_snapshot **out)
{
    cli_arg name = {arg->bytes + 1, arg->n_bytes - 1};
    size_t i;

    *out = NULL;
    if (!cli_arg_is_snapshot(arg))
        return cli_fail(s,
                        "%s: expected @NAME after the key, NAME a snapshot "
                        "taken with snapshot NAME",
                        cmd);
    if ((i = lookup(s, cmd, &name, 0)) == SIZE_MAX)
        return LSM_EINVAL;
    *out = s->reads->items[i].snap;
    return LSM_OK;
}

/* --- output -------------------------------------------------------------- */

/* Writes out, or fails the command when building it ran out of memory. */
static int print_or_fail(cli_session *s, const char *cmd, cli_buf *out)
{
    if (cli_buf_failed(out) || cli_out_buf(out) != 0) {
        cli_fail(s, "%s: out of memory", cmd);
        return LSM_ENOMEM;
    }
    return LSM_OK;
}

/* "watermark now seq 20 (t1)" or "no watermark: nothing is live", after a
 * release moved it. */
static void append_watermark(cli_session *s, cli_buf *b)
{
    lsm_state *st = NULL;

    if (lsm_state_get(s->db, &st) != LSM_OK) {
        cli_buf_printf(b, "watermark unknown: %s", lsm_errmsg());
        return;
    }
    if (!st->has_watermark) {
        cli_buf_printf(b, "no watermark (no snapshot or transaction is "
                          "live)");
    } else {
        cli_read_point_name *names;
        size_t n = cli_reads_names(s, &names);
        cli_buf_printf(b, "watermark now seq %" PRIu64 " (", st->watermark);
        const char *name = NULL;
        for (size_t i = 0; i < n && !name; i++)
            if (names[i].id == st->read_points[0].id)
                name = names[i].name;
        if (name)
            cli_buf_printf(b, "%s)", name);
        else
            cli_buf_printf(b, "read point %" PRIu64 ")", st->read_points[0].id);
        free(names);
    }
    lsm_state_free(st);
}

/* --- snapshots ----------------------------------------------------------- */

int cli_cmd_snapshot(cli_session *s, const cli_argv *a)
{
    const cli_arg *name = &a->args[1];
    lsm_snapshot *snap = NULL;
    int rc;

    if (name_check_new(s, "snapshot", name) != LSM_OK)
        return LSM_EINVAL;
    rc = lsm_snapshot_take(s->db, &snap);
    if (rc != LSM_OK)
        return cli_fail_engine(s, "snapshot", rc);
    if (reads_add(s, name, snap, NULL) != LSM_OK) {
        lsm_snapshot_release(snap);
        return cli_fail(s, "snapshot: out of memory");
    }
    cli_out_printf("snapshot %s at seq %" PRIu64 "\n", name->bytes,
                   lsm_snapshot_seq(snap));
    return LSM_OK;
}

int cli_cmd_release(cli_session *s, const cli_argv *a)
{
    size_t i = lookup(s, "release", &a->args[1], 0);
    cli_buf out;

    if (i == SIZE_MAX)
        return LSM_EINVAL;
    lsm_snapshot_release(s->reads->items[i].snap);
    char *name = reads_remove_at(s, i);
    cli_buf_init(&out);
    cli_buf_printf(&out, "%s released; ", name);
    free(name);
    append_watermark(s, &out);
    cli_buf_append(&out, "\n", 1);
    int rc = print_or_fail(s, "release", &out);
    cli_buf_free(&out);
    return rc;
}

/* snapshots and txns: one line per live entry of the kind, oldest first. */
static int list_reads(cli_session *s, const char *cmd, int want_txn)
{
    cli_buf out;
    size_t n = 0;
    int rc;

    cli_buf_init(&out);
    for (size_t i = 0; i < cli_reads_count(s); i++) {
        const cli_named_read *e = &s->reads->items[i];
        if ((e->txn != NULL) != want_txn)
            continue;
        n++;
        if (!want_txn) {
            cli_buf_printf(&out, "%s (id %" PRIu64 "): seq %" PRIu64 "\n",
                           e->name, lsm_snapshot_id(e->snap),
                           lsm_snapshot_seq(e->snap));
            continue;
        }
        cli_buf_printf(&out,
                       "%s (id %" PRIu64 "): %s, reads at seq %" PRIu64
                       ", %" PRIu64 " write%s buffered\n",
                       e->name, lsm_txn_id(e->txn),
                       cli_isolation_name(lsm_txn_isolation(e->txn)),
                       lsm_txn_read_seq(e->txn), e->n_writes,
                       e->n_writes == 1 ? "" : "s");
    }
    if (n == 0)
        cli_buf_printf(&out, want_txn ? "no open transactions\n"
                                      : "no live snapshots\n");
    rc = print_or_fail(s, cmd, &out);
    cli_buf_free(&out);
    return rc;
}

int cli_cmd_snapshots(cli_session *s, const cli_argv *a)
{
    (void)a;
    return list_reads(s, "snapshots", 0);
}

int cli_cmd_txns(cli_session *s, const cli_argv *a)
{
    (void)a;
    return list_reads(s, "txns", 1);
}

/* --- transactions -------------------------------------------------------- */

int cli_cmd_begin(cli_session *s, const cli_argv *a)
{
    const cli_arg *name = &a->args[1];
    lsm_isolation iso = LSM_ISOLATION_SNAPSHOT;
    lsm_txn *t = NULL;
    int rc;

    if (a->n_args == 3) {
        if (cli_arg_is_word(&a->args[2], "serializable"))
            iso = LSM_ISOLATION_SERIALIZABLE;
        else if (!cli_arg_is_word(&a->args[2], "si"))
            return cli_fail(s, "begin: unknown isolation level (expected si "
                               "for snapshot isolation, the default, or "
                               "serializable): begin T [si|serializable]");
    }
    if (name_check_new(s, "begin", name) != LSM_OK)
        return LSM_EINVAL;
    rc = lsm_txn_begin(s->db, iso, &t);
    if (rc != LSM_OK)
        return cli_fail_engine(s, "begin", rc);
    if (reads_add(s, name, NULL, t) != LSM_OK) {
        lsm_txn_abort(t);
        return cli_fail(s, "begin: out of memory");
    }
    cli_out_printf("%s began at seq %" PRIu64 " (%s)\n", name->bytes,
                   lsm_txn_read_seq(t), cli_isolation_name(iso));
    return LSM_OK;
}

int cli_cmd_commit(cli_session *s, const cli_argv *a)
{
    size_t i = lookup(s, "commit", &a->args[1], 1);
    lsm_commit_info info;
    cli_buf out;
    int rc;

    if (i == SIZE_MAX)
        return LSM_EINVAL;
    memset(&info, 0, sizeof info);
    lsm_txn *t = s->reads->items[i].txn;
    uint64_t n_writes = s->reads->items[i].n_writes;
    rc = lsm_txn_commit(t, &info); /* frees t, whatever the outcome */
    char *name = reads_remove_at(s, i);
    cli_buf_init(&out);
    if (rc == LSM_OK) {
        cli_buf_printf(&out, "%s committed at seq %" PRIu64 "%s\n", name,
                       info.commit_seq,
                       n_writes ? "" : " (read only: nothing to write)");
    } else if (rc == LSM_ECONFLICT) {
        /* An answer, not a failure of the command: the engine refused the
         * commit as it should, and the script goes on. */
        cli_buf_printf(&out, "%s aborted: ", name);
        cli_show_conflict(&out, &info);
        cli_buf_append(&out, "\n", 1);
    }
    lsm_free(info.key);
    if (rc == LSM_EREADONLY) /* t is gone, and its writes with it */
        cli_fail(s,
                 "commit: the database is open read-only (--readonly); %s "
                 "ended without writing its %" PRIu64 " buffered write%s",
                 name, n_writes, n_writes == 1 ? "" : "s");
    free(name);
    if (rc != LSM_OK && rc != LSM_ECONFLICT) {
        cli_buf_free(&out);
        return rc == LSM_EREADONLY ? rc : cli_fail_engine(s, "commit", rc);
    }
    rc = print_or_fail(s, "commit", &out);
    cli_buf_free(&out);
    return rc;
}

int cli_cmd_abort(cli_session *s, const cli_argv *a)
{
    size_t i = lookup(s, "abort", &a->args[1], 1);

    if (i == SIZE_MAX)
        return LSM_EINVAL;
    lsm_txn_abort(s->reads->items[i].txn);
    char *name = reads_remove_at(s, i);
    cli_out_printf("%s aborted (nothing written)\n", name);
    free(name);
    return LSM_OK;
}

/* "t1 get K": the transaction's own write of K, else K at its snapshot. */
static int txn_get(cli_session *s, cli_named_read *e, const cli_arg *key)
{
    void *value = NULL;
    size_t n_value = 0;
    cli_buf out;
    int rc;

    rc = lsm_txn_get(e->txn, key->bytes, key->n_bytes, &value, &n_value);
    if (rc != LSM_OK && rc != LSM_NOTFOUND) {
        char cmd[READ_NAME_MAX + 8];
        snprintf(cmd, sizeof cmd, "%s get", e->name);
        return cli_fail_engine(s, cmd, rc);
    }
    cli_buf_init(&out);
    cli_append_get_reply(&out, key, rc == LSM_OK, value, n_value);
    lsm_free(value);
    rc = print_or_fail(s, "get", &out);
    cli_buf_free(&out);
    return rc;
}

/* "t1 put K V" and "t1 del K": buffered until commit. */
static int txn_write(cli_session *s, cli_named_read *e, const cli_argv *a,
                     int is_delete)
{
    const cli_arg *key = &a->args[2];
    cli_buf out;
    int rc;

    if (is_delete)
        rc = lsm_txn_delete(e->txn, key->bytes, key->n_bytes);
    else
        rc = lsm_txn_put(e->txn, key->bytes, key->n_bytes, a->args[3].bytes,
                         a->args[3].n_bytes);
    if (rc != LSM_OK) {
        char cmd[READ_NAME_MAX + 8];
        snprintf(cmd, sizeof cmd, "%s %s", e->name, is_delete ? "del" : "put");
        return cli_fail_engine(s, cmd, rc);
    }
    e->n_writes++;
    cli_buf_init(&out);
    cli_buf_append_key(&out, key->bytes, key->n_bytes);
    cli_buf_printf(&out, " %s in %s\n", is_delete ? "deleted" : "stored",
                   e->name);
    rc = print_or_fail(s, is_delete ? "del" : "put", &out);
    cli_buf_free(&out);
    return rc;
}

/* "t1 scan [B E]" or "t1 scan --prefix P": its snapshot merged with its
 * own writes. */
static int txn_scan(cli_session *s, cli_named_read *e, const cli_argv *a)
{
    char cmd[READ_NAME_MAX + 8];
    lsm_bound lo, hi;
    lsm_iter *it = NULL;
    int rc;

    snprintf(cmd, sizeof cmd, "%s scan", e->name);
    if (a->n_args == 4 && cli_arg_is_word(&a->args[2], "--prefix"))
        rc = lsm_txn_scan_prefix(e->txn, a->args[3].bytes, a->args[3].n_bytes,
                                 &it);
    else if (cli_scan_bounds(s, cmd, a->n_args == 4 ? &a->args[2] : NULL, &lo,
                             &hi) != LSM_OK)
        return LSM_EINVAL;
    else
        rc = lsm_txn_scan(e->txn, &lo, &hi, &it);
    if (rc != LSM_OK)
        return cli_fail_engine(s, cmd, rc);
    rc = cli_scan_print(s, cmd, it);
    lsm_iter_close(it);
    return rc;
}

/* Reports a transaction command that is unknown or has the wrong
 * number of arguments, with every form. */
static int fail_txn_usage(cli_session *s, const char *name)
{
    return cli_fail(s,
                    "%s: expected %s get KEY, %s put KEY VALUE, %s del KEY "
                    "or %s scan [BEGIN END] (then commit %s or abort %s)",
                    name, name, name, name, name, name, name);
}

int cli_cmd_txn_op(cli_session *s, const cli_argv *a)
{
    size_t i = reads_find(s, &a->args[0]);
    const cli_arg *op;

    if (i == SIZE_MAX || !s->reads->items[i].txn) /* the dispatcher checked */
        return cli_fail(s, "no open transaction is called %s",
                        a->args[0].bytes);
    cli_named_read *e = &s->reads->items[i];
    if (a->n_args < 2)
        return fail_txn_usage(s, e->name);
    op = &a->args[1];
    if (cli_arg_is_word(op, "get") && a->n_args == 3)
        return txn_get(s, e, &a->args[2]);
    if (cli_arg_is_word(op, "put") && a->n_args == 4)
        return txn_write(s, e, a, 0);
    if ((cli_arg_is_word(op, "del") || cli_arg_is_word(op, "delete")) &&
        a->n_args == 3)
        return txn_write(s, e, a, 1);
    if (cli_arg_is_word(op, "scan") && (a->n_args == 2 || a->n_args == 4))
        return txn_scan(s, e, a);
    return fail_txn_usage(s, e->name);
}

/* --- --serializable ------------------------------------------------------ */

int cli_write_as_txn(lsm_db *db, const void *key, size_t nkey,
                     const void *value, size_t nvalue, int is_delete)
{
    lsm_commit_info info;
    lsm_txn *t = NULL;
    int rc;

    rc = lsm_txn_begin(db, LSM_ISOLATION_SERIALIZABLE, &t);
    if (rc != LSM_OK)
        return rc;
    rc = is_delete ? lsm_txn_delete(t, key, nkey)
                   : lsm_txn_put(t, key, nkey, value, nvalue);
    if (rc != LSM_OK) {
        lsm_txn_abort(t); /* leaves lsm_errmsg() as the write set it */
        return rc;
    }
    memset(&info, 0, sizeof info);
    rc = lsm_txn_commit(t, &info);
    lsm_free(info.key);
    return rc;
}
