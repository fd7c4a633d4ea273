/*
 * cmd_inspect.h: the inspectors, which look inside one file as it is on
 * disk (lsm.h, "Inspecting files"), as RocksDB's sst_dump and ldb and
 * LevelDB's leveldbutil dump do:
 *   sst ID|FILE [--blocks] [--measure]   an SST's footer, layout, index,
 *                                        filter, and with --blocks every
 *                                        entry with its shared prefix
 *   wal ID|FILE                          every record of a WAL, and where
 *                                        a torn tail starts
 *   manifest --file FILE                 any MANIFEST's records
 * A number names a file of the open database (12 is DIR/12.sst or
 * DIR/12.wal); anything else is a path (./12 for a file called 12).
 * Damage is reported, with what could be read before it: an error on
 * stderr (the command fails) after the part that was readable.
 *
 * Thread safety: main thread only, as every command.
 */
#ifndef CLI_CMD_INSPECT_H
#define CLI_CMD_INSPECT_H

#include "commands.h"
#include "parse.h"

int cli_cmd_sst(cli_session *s, const cli_argv *a);
int cli_cmd_wal(cli_session *s, const cli_argv *a);
/* manifest --file FILE (a->args[2] is FILE). */
int cli_manifest_file(cli_session *s, const cli_argv *a);

/* The engine's last message (or rc's name), with the database's directory
 * left out of file names, into out: output that does not depend on where
 * the database is. */
void cli_inspect_message(const cli_session *s, int rc, char *out, size_t n);

#endif
