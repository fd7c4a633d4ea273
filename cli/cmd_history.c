/*
 * cmd_history.c: the handlers of history, stats and levels (see
 * cmd_history.h). Each takes what it shows from the engine (lsm_key_history,
 * lsm_manifest_read, lsm_state_get), renders it with show_history.c or
 * show.c, and prints it in one write; every array it gets is freed before
 * it returns.
 */
#include "cmd_history.h"

#include "cmd_txn.h"
#include "format.h"
#include "show.h"
#include "show_history.h"

#include <stdlib.h>

#include <string.h>

/* "error: CMD: what the engine said". */
static int fail_engine(cli_session *s, const char *cmd, int rc)
{
    const char *msg = lsm_errmsg();

    cli_fail(s, "%s: %s", cmd, msg && msg[0] ? msg : lsm_strerror(rc));
    return rc;
}

/* Writes out, or fails the command when building it ran out of memory. */
static int print_or_fail(cli_session *s, const char *cmd, cli_buf *out)
{
    if (cli_buf_failed(out) || cli_out_buf(out) != 0) {
        cli_fail(s, "%s: out of memory", cmd);
        return LSM_ENOMEM;
    }
    return LSM_OK;
}

int cli_cmd_history(cli_session *s, const cli_argv *a)
{
    const cli_arg *key = &a->args[1];
    lsm_key_version *v = NULL;
    lsm_manifest_record *records = NULL;
    lsm_state *st = NULL;
    cli_read_point_name *names = NULL;
    cli_read_view rv;
    size_t n = 0, n_records = 0, n_names;
    int tiered, rc;
    cli_buf out;

    rc = lsm_key_history(s->db, key->bytes, key->n_bytes, &v, &n);
    if (rc != LSM_OK)
        return fail_engine(s, "history", rc);
    /* The state gives the strategy (flushes made tiers when tiered) and
     * the read points that decide what compaction may drop. */
    rc = lsm_state_get(s->db, &st);
    if (rc == LSM_OK)
        rc = lsm_manifest_read(s->db, &records, &n_records);
    if (rc != LSM_OK) {
        lsm_state_free(st);
        lsm_key_history_free(v, n);
        return fail_engine(s, "history", rc);
    }
    tiered = st->compaction == LSM_COMPACTION_TIERED;
    n_names = cli_reads_names(s, &names);
    cli_read_view_init(&rv, st, names, n_names);
    cli_buf_init(&out);
    cli_show_history(&out, key->bytes, key->n_bytes, v, n, &rv);
    if (cli_show_provenance(&out, v, n, records, n_records, tiered) != 0) {
        cli_fail(s, "history: out of memory");
        rc = LSM_ENOMEM;
    } else {
        rc = print_or_fail(s, "history", &out);
    }
    cli_buf_free(&out);
    free(names);
    lsm_state_free(st);
    lsm_manifest_free(records, n_records);
    lsm_key_history_free(v, n);
    return rc;
}

int cli_cmd_stats(cli_session *s, const cli_argv *a)
{
    lsm_state *st = NULL;
    cli_buf out;
    int rc;

    if (a->n_args == 2 &&
        (a->args[1].n_bytes != 5 || memcmp(a->args[1].bytes, "reset", 5) != 0))
        return cli_fail(s, "stats: unknown argument (expected reset or "
                           "nothing): stats [reset]");
    rc = lsm_state_get(s->db, &st);
    if (rc != LSM_OK)
        return fail_engine(s, "stats", rc);
    cli_buf_init(&out);
    if (a->n_args == 2)
        cli_buf_printf(&out, "stats reset: the next stats counts changes "
                             "from here\n");
    else
        cli_show_stats(&out, st, &s->stats_base);
    rc = print_or_fail(s, "stats", &out);
    if (rc == LSM_OK)
        s->stats_base = st->counters;
    cli_buf_free(&out);
    lsm_state_free(st);
    return rc;
}

int cli_cmd_levels(cli_session *s, const cli_argv *a)
{
    lsm_state *st = NULL;
    cli_buf out;
    int rc;

    (void)a;
    rc = lsm_state_get(s->db, &st);
    if (rc != LSM_OK)
        return fail_engine(s, "levels", rc);
    cli_buf_init(&out);
    if (cli_show_levels(&out, st) != 0) {
        cli_fail(s, "levels: out of memory");
        rc = LSM_ENOMEM;
    } else {
        rc = print_or_fail(s, "levels", &out);
    }
    cli_buf_free(&out);
    lsm_state_free(st);
    return rc;
}
