/*
 * main.c: lsm-cli's entry point: opening the database, choosing how lines
 * are read, and the exit status. The options are parsed in options.c.
 *
 * Modes: -c CMD and --script FILE are replayed in the order the command
 * line gives them and the shell exits; otherwise stdin is replayed when it is
 * not a terminal, and a terminal gets the interactive prompt. Exit status: 0 on
 * success; 1 if a replayed command failed (or --bail stopped the session), the
 * database could not be opened or closed, or background work failed; 2 for a
 * bad option; 130 if Ctrl-C stopped a replay.
 */
#include "cmd_iter.h"
#include "cmd_txn.h"
#include "commands.h"
#include "events.h"
#include "format.h"
#include "options.h"
#include "repl.h"

#include "lsm.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_INTERRUPTED 130

/* How the database is opened: lsm_open. The shell's fault tests build a
 * copy of this file that opens through a fault-injecting env instead
 * (tests/cli/fault_open.c); the shipped binary has no such hook. */
#ifndef LSM_CLI_OPEN
#define LSM_CLI_OPEN lsm_open
#else
int LSM_CLI_OPEN(const char *dir, const lsm_options *opt, lsm_db **out);
#endif

/* Opens the database with SIGINT blocked, so that any engine thread started
 * now inherits a mask without it and Ctrl-C reaches the main thread, which
 * is the one reading lines and polling the flag. */
static int cli_open_db(const cli_config *cfg, lsm_db **db)
{
    sigset_t block, old;
    int rc;

    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    rc = LSM_CLI_OPEN(cfg->path, &cfg->opt, db);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void cli_banner(const cli_config *cfg)
{
    cli_out_printf("lsm-cli %s: database %s, compaction %s, %s\n"
                   "type help for the commands, quit to leave\n",
                   LSM_VERSION_STRING, cfg->path,
                   lsm_compaction_name(cfg->opt.compaction),
                   cfg->opt.read_only                    ? "read-only"
                   : cfg->opt.sched == LSM_SCHED_THREADS ? "background mode"
                                                         : "inline mode");
}

/* After the open's own lines (N SSTs opened, N WALs recovered), in every
 * mode: what --readonly means for this session. */
static void cli_say_read_only(const cli_config *cfg)
{
    if (cfg->opt.read_only)
        cli_out_printf("opened read-only: nothing on disk will change; "
                       "writes, flush and full_compaction are refused\n");
}

/* "$HOME/.lsm_cli_history", or NULL if HOME is unset or empty. The caller
 * frees the string. */
static char *cli_history_path(void)
{
    const char *home = getenv("HOME");
    const char *name = "/.lsm_cli_history";
    char *path;

    if (!home || !home[0])
        return NULL;
    path = malloc(strlen(home) + strlen(name) + 1);
    if (path) {
        strcpy(path, home);
        strcat(path, name);
    }
    return path;
}

/* Opens every --script file before the database is opened, so a missing
 * one is reported without touching the database. scripts[i] is the stream
 * of cfg->inputs[i] (NULL for a -c command). Returns 0, or 1 (reported). */
static int cli_open_scripts(const cli_config *cfg, FILE **scripts)
{
    size_t i;

    for (i = 0; i < cfg->n_inputs; i++) {
        scripts[i] = NULL;
        if (cfg->inputs[i].kind != CLI_INPUT_SCRIPT)
            continue;
        scripts[i] = fopen(cfg->inputs[i].text, "r");
        if (!scripts[i]) {
            cli_err_printf("error: cannot open script %s: %s\n",
                           cfg->inputs[i].text, strerror(errno));
            return 1;
        }
    }
    return 0;
}

static void cli_close_scripts(FILE **scripts, size_t n)
{
    size_t i;

    for (i = 0; scripts && i < n; i++) {
        if (scripts[i])
            fclose(scripts[i]);
    }
    free(scripts);
}

/* Runs the lines of whichever mode cfg selects. */
static void cli_run(cli_session *s, const cli_config *cfg, FILE **scripts)
{
    char *history_path;
    size_t i;

    if (s->interactive) {
        cli_banner(cfg);
        history_path = cli_history_path();
        cli_run_interactive(s, history_path);
        free(history_path);
        return;
    }
    if (cfg->n_inputs == 0) {
        cli_run_stream(s, stdin, NULL);
        return;
    }
    for (i = 0; i < cfg->n_inputs; i++) {
        if (scripts[i])
            cli_run_stream(s, scripts[i], NULL);
        else
            cli_run_command(s, cfg->inputs[i].text);
    }
}

int main(int argc, char **argv)
{
    cli_config cfg;
    cli_session s;
    int session_started = 0;
    lsm_db *db = NULL;
    FILE **scripts = NULL;
    int rc, status = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    status = cli_options_parse(&cfg, argc, argv);
    if (status != 0) {
        cli_err_printf("error: %s\n", cfg.error);
        goto out;
    }
    if (cfg.show_help || cfg.show_version) {
        if (cfg.show_help)
            cli_usage_print(stdout);
        else
            printf("lsm-cli %s\n", LSM_VERSION_STRING);
        goto out;
    }
    scripts = calloc(cfg.n_inputs + 1, sizeof *scripts);
    if (!scripts) {
        cli_err_printf("error: out of memory\n");
        status = 1;
        goto out;
    }
    if (cli_open_scripts(&cfg, scripts) != 0) {
        status = 1;
        goto out;
    }

    cli_session_init(&s, NULL);
    session_started = 1;
    s.serializable = cfg.serializable;
    s.echo = cfg.echo;
    s.bail = cfg.bail;
    /* Only standard input decides: lsm-cli | tee log is still a person at
     * a terminal, who keeps the prompt, line editing and history (repl.c
     * draws them on stdout, in order with the commands' output). */
    s.interactive = cfg.n_inputs == 0 && isatty(0);
    s.wal_enabled = cfg.opt.enable_wal;
    cfg.opt.event_cb = cli_print_event;
    cfg.opt.event_ctx = &s;
    cli_signals_install();
    rc = cli_open_db(&cfg, &db);
    if (rc != LSM_OK) {
        cli_err_printf("error: cannot open database %s: %s\n", cfg.path,
                       lsm_errmsg()[0] ? lsm_errmsg() : lsm_strerror(rc));
        status = 1;
        goto out;
    }
    cli_say_read_only(&cfg);
    s.db = db;
    s.path = cfg.path;
    cli_tree_notes_set_db(&s.tree_notes, db);
    cli_run(&s, &cfg, scripts);

    /* The input ended with iterators, snapshots or transactions open. */
    cli_iters_close_all(&s);
    cli_reads_end_all(&s);
    cli_tree_notes_set_db(&s.tree_notes, NULL);
    rc = lsm_close(db);
    cli_events_release_all(); /* no engine thread is left to end a flush */
    if (rc != LSM_OK) {
        cli_err_printf("error: close: %s\n", lsm_errmsg());
        status = 1;
    }
    if (s.n_failed > 0 && (!s.interactive || s.stop))
        status = 1;
    if (atomic_load(&s.bg_failed))
        status = 1;
    if (s.interrupted_replay) {
        cli_err_printf("error: interrupted; the rest of the input was not "
                       "run\n");
        status = EXIT_INTERRUPTED;
    }
out:
    if (session_started)
        cli_session_free(&s); /* after lsm_close: no event can come now */
    cli_close_scripts(scripts, cfg.n_inputs);
    cli_options_free(&cfg);
    fflush(stdout);
    return status;
}
