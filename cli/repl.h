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

/* The longest line lsm-cli reads from a stream (stdin, --script, source),
 * without its newline. A longer line is refused with its line number and
 * the session goes on with the next one. 1 MiB holds any key the engine
 * takes (64 KiB, 256 KiB even written all as \xNN) with a value of 768 KiB
 * or more, and stops a runaway input (a binary file, a missing newline)
 * before it uses much memory; values up to the engine's 16 MiB are for the
 * library (64 MiB as \xNN text is no line to type). */
#define CLI_MAX_LINE_BYTES 1048576 /* 1 MiB, a plain number for help */

/* Installs the SIGINT handler and ignores SIGPIPE. Returns 0, or -1 with
 * errno set. */
int cli_signals_install(void);

/* Runs every line of f until its end, quit, --bail or Ctrl-C. Errors are
 * prefixed "line N: " when label is NULL (stdin, --script) and "LABEL:N: "
 * otherwise (label is the file name given to source). A line over
 * CLI_MAX_LINE_BYTES is reported as a failed line and skipped. Returns
 * LSM_OK, or LSM_EIO if reading failed (already reported, as a failed
 * command; the stream is not read further). */
int cli_run_stream(cli_session *s, FILE *f, const char *label);

/* Runs one -c command, with no line prefix, unless the session has stopped
 * (quit, --bail, Ctrl-C), as a stream would between lines. */
void cli_run_command(cli_session *s, const char *cmd);

/* The interactive loop: prompt "lsm-cli> ", line editing and history kept in
 * history_path (NULL: no history file), until quit or end of input. */
void cli_run_interactive(cli_session *s, const char *history_path);

#endif /* CLI_REPL_H */
