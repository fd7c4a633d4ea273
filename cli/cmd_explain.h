/*
 * cmd_explain.h: explain get KEY and explain scan [BEGIN END], which run a
 * get or a scan through lsm_get_explain / lsm_scan_explain and print, after
 * what get or scan prints, the numbered steps of the read's trace and its
 * totals (README.md, "Explaining a read", has every line's form).
 */
#ifndef CLI_CMD_EXPLAIN_H
#define CLI_CMD_EXPLAIN_H

#include "commands.h"
#include "format.h"
#include "lsm.h"
#include "parse.h"

/* The handler of explain (any number of arguments: it says what is
 * missing). */
int cli_explain(cli_session *s, const cli_argv *a);

/* Appends the trace of a get (scan 0) or a scan (scan 1): one numbered line
 * per step, the get's result line, then the totals line; for a prefix
 * scan (prefix 1), also what its prefix filters did. */
void cli_show_read_trace(cli_buf *out, const lsm_read_trace *t, int scan,
                         int prefix);

#endif /* CLI_CMD_EXPLAIN_H */
