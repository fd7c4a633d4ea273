/*
 * cmd_txn.h: snapshots and transactions in lsm-cli (the book's week 3),
 * named by the user:
 *
 *   snapshot NAME            takes a snapshot: "snapshot s1 at seq 12"
 *   release NAME             releases it, and says where the watermark went
 *   snapshots                lists the live ones
 *   get KEY @NAME            get and scan at a snapshot (commands.c parses
 *   scan [B E] @NAME         the @NAME with cli_snapshot_arg)
 *   begin T [si|serializable]  begins a transaction (default si)
 *   T get K, T put K V, T del K, T scan [B E]
 *                            reads and buffered writes inside T
 *   commit T                 "T committed at seq N", or "T aborted: why"
 *   abort T                  ends T writing nothing
 *   txns                     lists the open ones
 *
 * Names: 1 to 32 letters, digits, _ or -; not a command name or alias (in
 * any case), so that "T get K" can never be read as a command; one name
 * per live snapshot or open transaction (the two share the names), free
 * again once it is released, committed or aborted. The database cannot
 * close while any is live (lsm_close says LSM_EBUSY): quit refuses once,
 * naming them, and a second quit (or the end of the input) releases the
 * snapshots and aborts the transactions, saying so, then closes.
 *
 * --serializable (mini-lsm-cli's flag, s->serializable): put, del and
 * each key of fill run as a one-write serializable transaction, as
 * mini-lsm's put and delete do under that option (cli_write_as_txn).
 *
 * Thread safety: the main thread only, as the session.
 */
#ifndef CLI_CMD_TXN_H
#define CLI_CMD_TXN_H

#include "commands.h"
#include "parse.h"
#include "show_txn.h"

#include <stddef.h>

int cli_cmd_snapshot(cli_session *s, const cli_argv *a);
int cli_cmd_release(cli_session *s, const cli_argv *a);
int cli_cmd_snapshots(cli_session *s, const cli_argv *a);
int cli_cmd_begin(cli_session *s, const cli_argv *a);
int cli_cmd_commit(cli_session *s, const cli_argv *a);
int cli_cmd_abort(cli_session *s, const cli_argv *a);
int cli_cmd_txns(cli_session *s, const cli_argv *a);

/* "T get K", "T put K V", "T del K", "T scan [B E]": a line whose first
 * word names an open transaction (see cli_txn_is_open). */
int cli_cmd_txn_op(cli_session *s, const cli_argv *a);

/* 1 if arg is the name of an open transaction of the session. */
int cli_txn_is_open(const cli_session *s, const cli_arg *arg);

/* 1 if arg has the form @NAME (a snapshot argument of get and scan). */
int cli_arg_is_snapshot(const cli_arg *arg);

/* The live snapshot arg (@NAME) names, in *out; an unknown name, or one
 * of a transaction, is reported as cmd's error (LSM_EINVAL). */
int cli_snapshot_arg(cli_session *s, const char *cmd, const cli_arg *arg,
                     const lsm_snapshot **out);

/* How many snapshots and transactions the session holds. */
size_t cli_reads_count(const cli_session *s);

/* Appends "s1, t1": their names, oldest first. */
void cli_reads_append_names(const cli_session *s, cli_buf *b);

/* Their ids and names, for dump and history, in *out (malloc'd, freed by
 * the caller; names point into the session, valid until the next
 * snapshot or transaction command). Returns how many; 0 with *out NULL
 * when there are none or memory ran out (ids are shown then). */
size_t cli_reads_names(const cli_session *s, cli_read_point_name **out);

/* Aborts every open transaction and releases every snapshot, oldest
 * first, printing "t1 aborted (still open at quit)" or "s1 released
 * (still live at quit)" for each, and frees the session's map. */
void cli_reads_end_all(cli_session *s);

/* Writes one put (is_delete 0) or delete as a one-write serializable
 * transaction: begin, put or delete, commit. Prints nothing; returns
 * lsm_txn_commit's code (or begin's, put's, delete's), with lsm_errmsg()
 * saying why. A conflict (LSM_ECONFLICT: impossible while the shell is
 * the only writer) is returned as is. */
int cli_write_as_txn(lsm_db *db, const void *key, size_t nkey,
                     const void *value, size_t nvalue, int is_delete);

#endif /* CLI_CMD_TXN_H */
