/*
 * cmd_iter.h: live iterators in lsm-cli: the iter command and the
 * session's iterators, named by the user.
 *
 *   iter open NAME [BEGIN END]   opens an iterator (bounds as scan takes
 *                                them) and keeps it across commands
 *   iter next NAME [N]           prints the next N pairs (default 1) as
 *                                scan prints them, then "NAME: at KEY" or
 *                                "NAME: end"
 *   iter close NAME              closes it
 *   iter                         lists the open ones
 *
 * The session maps each NAME to its lsm_iter; a name is taken while its
 * iterator is open and free again once it is closed. dump names the
 * iterators by these names (cli_iters_names). The database cannot close
 * while any is open (lsm_close says LSM_EBUSY), so quit with iterators
 * open refuses once, naming them, and a second quit in a row closes them
 * and leaves; the end of the input closes them and leaves (main.c).
 *
 * Thread safety: the main thread only, as the session.
 */
#ifndef CLI_CMD_ITER_H
#define CLI_CMD_ITER_H

#include "commands.h"
#include "parse.h"
#include "show.h"

#include <stddef.h>

/* The iter command's handler (every form above). */
int cli_cmd_iter(cli_session *s, const cli_argv *a);

/* How many iterators the session holds open. */
size_t cli_iters_count(const cli_session *s);

/* Appends "it1, it2": the open iterators' names, oldest first. */
void cli_iters_append_names(const cli_session *s, cli_buf *b);

/* The open iterators' engine ids and names, for dump, in *out (malloc'd,
 * freed by the caller with free; names point into the session, valid
 * until the next iter command). Returns how many; 0 with *out NULL when
 * there are none or memory ran out (dump then shows engine ids). */
size_t cli_iters_names(const cli_session *s, cli_iter_name **out);

/* Closes every open iterator, oldest first, printing "NAME closed (still
 * open at quit)" for each (after the engine's lines it causes), and
 * frees the session's map. */
void cli_iters_close_all(cli_session *s);

#endif /* CLI_CMD_ITER_H */
