/*
 * repl.h: where lsm-cli's lines come from: a terminal (libedit, history,
 * completion), a replayed stream (stdin or --script), or a sourced file.
 *
 * Also owns SIGINT handling: the handler only sets cli_interrupted. While a
 * command runs the handler is installed with SA_RESTART, so the engine's
 * system calls are never interrupted; while the terminal prompt waits for a
 * line it is installed without SA_RESTART, so the read returns and Ctrl-C
 * abandons the line.
 *
 * All functions run on the main thread.
 */
#ifndef CLI_REPL_H
#define CLI_REPL_H

#include "commands.h"

#include <stdio.h>

/* Installs the SIGINT handler and ignores SIGPIPE. Returns 0, or -1 with
 * errno set. */
int cli_signals_install(void);

/* Runs every line of f until its end, quit, --bail or Ctrl-C. Errors are
 * prefixed "line N: " when label is NULL (stdin, --script) and "LABEL:N: "
 * otherwise (label is the file name given to source). Returns LSM_OK, or
 * LSM_EIO if reading failed (already reported, as a failed command). */
int cli_run_stream(cli_session *s, FILE *f, const char *label);

/* Runs one -c command, with no line prefix, unless the session has stopped
 * (quit, --bail, Ctrl-C), as a stream would between lines. */
void cli_run_command(cli_session *s, const char *cmd);

/* The interactive loop: prompt "lsm-cli> ", line editing and history kept in
 * history_path (NULL: no history file), until quit or end of input. */
void cli_run_interactive(cli_session *s, const char *history_path);

#endif /* CLI_REPL_H */
