/*
 * cmd_history.h: lsm-cli's commands that show what the tree did to data
 * over time: history (every stored version of a key, with where its SSTs
 * came from), stats (the counters, with their change since the last
 * stats) and levels (the per-level compaction table). Their help entries
 * are in commands.c's table; their text is show_history.c's and show.c's.
 *
 * Thread safety: main thread only, like every handler.
 */
#ifndef CLI_CMD_HISTORY_H
#define CLI_CMD_HISTORY_H

#include "commands.h"
#include "parse.h"

int cli_cmd_history(cli_session *s, const cli_argv *a);
int cli_cmd_stats(cli_session *s, const cli_argv *a);
int cli_cmd_levels(cli_session *s, const cli_argv *a);

#endif /* CLI_CMD_HISTORY_H */
