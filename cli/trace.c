/*
 * trace.c: the `trace` command and the trace's lines (see trace.h).
 */
#include "trace.h"

#include <inttypes.h>
#include <string.h>

void cli_show_io_event(cli_buf *b, const lsm_event *ev)
{
    const char *file = ev->file ? ev->file : "";
    const char *why = ev->reason ? ev->reason : "";

    switch (ev->io_op) {
    case LSM_IO_WAL_APPEND:
    case LSM_IO_MANIFEST_APPEND:
        cli_buf_printf(b, "append %" PRIu64 " B to %s (%s)\n", ev->size_bytes,
                       file, why);
        return;
    case LSM_IO_SST_WRITE:
        cli_buf_printf(b, "write %" PRIu64 " B to %s (%s)\n", ev->size_bytes,
                       file, why);
        return;
    case LSM_IO_WAL_SYNC:
    case LSM_IO_SST_SYNC:
    case LSM_IO_MANIFEST_SYNC:
        cli_buf_printf(b, "fsync %s (%s)\n", file, why);
        return;
    case LSM_IO_DIR_SYNC:
        cli_buf_printf(b, "fsync dir (%s)\n", why);
        return;
    case LSM_IO_FILE_CREATE:
        cli_buf_printf(b, "create %s (%s)\n", file, why);
        return;
    case LSM_IO_FILE_DELETE:
        cli_buf_printf(b, "delete %s (%s)\n", file, why);
        return;
    case LSM_IO_FILE_RENAME:
        cli_buf_printf(b, "rename %s (%s)\n", file, why);
        return;
    }
    /* A step this shell does not know yet: still shown. */
    cli_buf_printf(b, "step %d on %s (%s)\n", (int)ev->io_op, file, why);
}

/* Whether arg is word (lowercase letters), in any case, as command names
 * match. */
static int arg_is(const cli_arg *arg, const char *word)
{
    size_t i, n = strlen(word);

    if (arg->n_bytes != n)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)arg->bytes[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)word[i])
            return 0;
    }
    return 1;
}

/* Turns the engine's trace on or off and remembers it for `trace`. */
static int trace_set(cli_session *s, int on)
{
    int rc = lsm_trace_io(s->db, on);

    if (rc != LSM_OK)
        return cli_fail(s, "trace: %s", lsm_errmsg());
    s->trace_io = on;
    return LSM_OK;
}

int cli_trace(cli_session *s, const cli_argv *a)
{
    cli_buf msg;

    if (a->n_args == 1) {
        cli_out_printf("trace is %s\n", s->trace_io ? "on" : "off");
        return LSM_OK;
    }
    if (arg_is(&a->args[1], "on"))
        return trace_set(s, 1);
    if (arg_is(&a->args[1], "off"))
        return trace_set(s, 0);
    cli_buf_init(&msg);
    if (cli_key_is_plain(a->args[1].bytes, a->args[1].n_bytes))
        cli_buf_printf(&msg, "'%.*s'", (int)a->args[1].n_bytes,
                       a->args[1].bytes);
    else
        cli_buf_append_bytes(&msg, a->args[1].bytes, a->args[1].n_bytes);
    cli_fail(s, "trace: %s is not on or off: trace [on|off]",
             cli_buf_str(&msg));
    cli_buf_free(&msg);
    return LSM_EINVAL;
}
