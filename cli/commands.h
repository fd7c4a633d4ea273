/*
 * commands.h: the lsm-cli session and its command table.
 *
 * A session owns one open database and the state the mini-lsm commands
 * share: the epoch (0 at start, +1 after every successful command that
 * mini-lsm-cli also has: fill, get, del, scan, dump, flush,
 * full_compaction), whether any command failed, and whether the session
 * should stop (quit, --bail, Ctrl-C while replaying). Lines come from repl.c
 * (a terminal, stdin, -c, --script, source); cli_session_exec runs one of
 * them.
 *
 * Thread safety: a session is used by the main thread only, except that the
 * engine's event callback (possibly on an engine thread, --background) may
 * print and set bg_failed, which is atomic.
 */
#ifndef CLI_COMMANDS_H
#define CLI_COMMANDS_H

#include "format.h"
#include "lsm.h"
#include "parse.h"
#include "tree_notes.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of source / .read, so a file that sources itself stops
 * with an error instead of exhausting the stack or file descriptors. */
#define CLI_MAX_SOURCE_DEPTH 16

/* Set by the SIGINT handler; long commands (fill, scan) poll it and stop. */
extern volatile sig_atomic_t cli_interrupted;

/* Where the line being run came from, for the error prefix:
 * file == NULL and line == 0: nothing ("error: msg", a terminal or -c);
 * file == NULL and line > 0:  "error: line N: msg" (stdin or --script);
 * file != NULL:               "error: FILE:N: msg" (a sourced file). */
typedef struct cli_where {
    const char *file;
    unsigned long line;
} cli_where;

typedef struct cli_session {
    lsm_db *db;
    const char *path; /* the database's directory (--path), or NULL */
    uint64_t epoch;
    int echo;        /* --echo: print "lsm-cli> LINE" before running it */
    int bail;        /* --bail: stop at the first failed command */
    int timer;       /* .timer on: print each command's run time */
    int trace_io;    /* trace on: the write path's steps print */
    int interactive; /* lines come from a person at a terminal */
    int wal_enabled; /* the database keeps WALs (recovery reports them) */
    int n_failed;    /* commands that failed so far */
    int quit;        /* quit / close / exit was run */
    int stop;        /* stop reading lines: bail or interrupted replay */
    int interrupted_replay; /* the stop came from Ctrl-C in a replay */
    int cancel_sources;     /* Ctrl-C at a terminal: leave every sourced file */
    int source_depth;       /* how many source files are being run */
    cli_where where;        /* the line being run */
    atomic_int bg_failed;   /* an engine thread reported an error */
    /* The thread that runs commands (set by cli_session_init): an engine
     * error reported on it broke off work inside the running command
     * (inline mode, or a flush the command itself ran), not background
     * work. */
    pthread_t main_thread;
    const char *running; /* the running command's name, or NULL */
    /* A latched engine error reported on the main thread while running
     * was set (main thread only): printed as the command's error once it
     * returns, unless the command failed and said so itself. */
    char engine_error[512];
    /* The counters at the last stats or stats reset (zero at start): stats
     * shows each counter's change since then (cmd_history.c). */
    lsm_counters stats_base;
    /* Iterators opened by iter open, by the user's name (cmd_iter.c);
     * NULL until the first one. */
    struct cli_iters *iters;
    /* Snapshots and transactions, by the user's name (cmd_txn.c); NULL
     * until the first one. */
    struct cli_reads *reads;
    int quit_armed; /* the last command was a quit refused for them */
    /* --serializable: put, del and fill write through one-write
     * serializable transactions, as mini-lsm's put and delete do. */
    int serializable;
    /* What the events said that the MANIFEST does not keep (entries per
     * SST, why each compaction ran), for draw --html; tree_notes.h. */
    cli_tree_notes tree_notes;
} cli_session;

/* Prepares s for db (which stays owned by the caller). */
void cli_session_init(cli_session *s, lsm_db *db);
/* Frees what s holds, once no engine thread can send it events (after
 * lsm_close). */
void cli_session_free(cli_session *s);

/* The lsm_options.event_cb of the shell: prints one line per event (see
 * DESIGN.md 4); ctx is the cli_session. */
void cli_print_event(void *ctx, const lsm_event *ev);

/* Runs one line: blank lines and lines whose first non-blank byte is # are
 * skipped; otherwise the line is echoed (--echo), split into arguments and
 * dispatched. Errors are printed to stderr with where's prefix; they count
 * in s->n_failed and set s->stop under --bail. Returns LSM_OK if the line
 * succeeded or was skipped, LSM_EINVAL (or the engine's code) if it failed. */
int cli_session_exec(cli_session *s, const char *line, size_t n_line,
                     const cli_where *where);

/* Prints "error: " + the current line's prefix + the message to stderr and
 * counts a failure (setting s->stop under --bail). Returns LSM_EINVAL. */
int cli_fail(cli_session *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* --- For handlers in other files (cmd_*.c), so no command's parsing or
 * printing is written twice. --- */

/* Reports an engine error of cmd ("error: cmd: lsm_errmsg()") as cli_fail
 * does, and returns rc. */
int cli_fail_engine(cli_session *s, const char *cmd, int rc);

/* Counts a failure whose message was already printed (or cannot be). */
void cli_count_failure(cli_session *s);

/* Appends get's reply to out: KEY=b"VALUE" when found, else KEY not exist
 * (KEY as typed when plain). */
void cli_append_get_reply(cli_buf *out, const cli_arg *key, int found,
                          const void *value, size_t n_value);

/* The bounds of scan [BEGIN END]: range is NULL (everything) or the two
 * arguments BEGIN and END, both included. A BEGIN sorting after END is
 * reported as cmd's error: LSM_EINVAL. The bounds point into range. */
int cli_scan_bounds(cli_session *s, const char *cmd, const cli_arg *range,
                    lsm_bound *lo, lsm_bound *hi);

/* Prints up to max pairs of it as scan prints them (b"KEY"=b"VALUE"),
 * moving it on past each; *n_printed says how many. Ctrl-C stops it
 * ("interrupted: N keys scanned"). Returns LSM_OK, or the code of an
 * error it reported as cmd's. */
int cli_scan_print_pairs(cli_session *s, const char *cmd, lsm_iter *it,
                         uint64_t max, uint64_t *n_printed);

/* Prints every pair of an open iterator as scan does (one b"K"=b"V" line
 * each, an empty line, N keys scanned); the caller closes it. LSM_OK, or
 * the error already reported as cmd's (Ctrl-C, a failed read). */
int cli_scan_print(cli_session *s, const char *cmd, lsm_iter *it);

/* 1 if arg is a command's name or alias (in any case). */
int cli_is_command_name(const cli_arg *arg);

/* Room for one more item in a growable array of *cap items of size bytes
 * holding n: returns the array (moved, *cap grown, when it was full), or
 * NULL when out of memory (items and *cap are then unchanged). */
void *cli_array_reserve(void *items, size_t *cap, size_t n, size_t size);
/* A malloc'd, NUL-terminated copy of arg's bytes (a name); NULL when out
 * of memory. */
char *cli_arg_strdup(const cli_arg *arg);
/* Whether arg is word, ASCII letters in any case (as command names
 * match). */
int cli_arg_is_word(const cli_arg *arg, const char *word);
/* Whether arg is a plain name: 1 to max_bytes letters, digits, '_' or
 * '-' (iterators, snapshots and transactions are named so, which keeps a
 * name in a message plain text). */
int cli_arg_is_plain_name(const cli_arg *arg, size_t max_bytes);

/* Command names and aliases, for tab completion: the i-th name, or NULL
 * past the last. The strings are static. */
const char *cli_command_name(size_t i);

/* Prints the command list (help with no argument). */
void cli_print_help_list(void);

#endif /* CLI_COMMANDS_H */
