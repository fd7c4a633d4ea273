/*
 * main.c: lsm-cli's entry point: opening the database, choosing how lines
 * are read, and the exit status. The options are parsed in options.c.
 *
 * Modes: -c CMD (each in turn) and/or --script FILE are replayed and the
 * shell exits; otherwise stdin is replayed when it is not a terminal, and
 * a terminal gets the interactive prompt. Exit status: 0 on success; 1 if a
 * replayed command failed (or --bail stopped the session), the database
 * could not be opened or closed, or background work failed; 2 for a bad
 * option; 130 if Ctrl-C stopped a replay.
 */
#include "commands.h"
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
    rc = lsm_open(cfg->path, &cfg->opt, db);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void cli_banner(const cli_config *cfg)
{
    cli_out_printf(
        "lsm-cli %s: database %s, compaction %s, %s mode\n"
        "type help for the commands, quit to leave\n",
        LSM_VERSION_STRING, cfg->path, lsm_compaction_name(cfg->opt.compaction),
        cfg->opt.sched == LSM_SCHED_THREADS ? "background" : "inline");
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

/* Runs the lines of whichever mode cfg selects. */
static void cli_run(cli_session *s, const cli_config *cfg, FILE *script)
{
    char *history_path;

    if (s->interactive) {
        cli_banner(cfg);
        history_path = cli_history_path();
        cli_run_interactive(s, history_path);
        free(history_path);
        return;
    }
    if (cfg->n_cmds > 0)
        cli_run_commands(s, cfg->cmds, cfg->n_cmds);
    if (script && !s->stop && !s->quit)
        cli_run_stream(s, script, NULL);
    if (cfg->n_cmds == 0 && !script)
        cli_run_stream(s, stdin, NULL);
}

int main(int argc, char **argv)
{
    cli_config cfg;
    cli_session s;
    lsm_db *db = NULL;
    FILE *script = NULL;
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
    if (cfg.script && !(script = fopen(cfg.script, "r"))) {
        cli_err_printf("error: cannot open script %s: %s\n", cfg.script,
                       strerror(errno));
        status = 1;
        goto out;
    }

    cli_session_init(&s, NULL);
    s.echo = cfg.echo;
    s.bail = cfg.bail;
    s.interactive = cfg.n_cmds == 0 && !cfg.script && isatty(0);
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
    s.db = db;
    cli_run(&s, &cfg, script);

    rc = lsm_close(db);
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
    if (script)
        fclose(script);
    cli_options_free(&cfg);
    fflush(stdout);
    return status;
}
