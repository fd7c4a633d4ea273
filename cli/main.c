/*
 * main.c: lsm-cli's entry point: command-line options, opening the
 * database, choosing how lines are read, and the exit status.
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
#include "parse.h"
#include "repl.h"

#include "lsm.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_BAD_OPTION 2
#define EXIT_INTERRUPTED 130

typedef struct cli_config {
    const char *path;
    lsm_options opt; /* --enable-wal, --disable-wal, --sync set it too */
    int echo;
    int bail;
    char **cmds; /* -c arguments, in order; the array is owned (free) */
    size_t n_cmds;
    const char *script;
    int show_help;
    int show_version;
} cli_config;

static const char *compaction_name(lsm_compaction c)
{
    switch (c) {
    case LSM_COMPACTION_NONE:
        return "none";
    case LSM_COMPACTION_SIMPLE:
        return "simple";
    case LSM_COMPACTION_TIERED:
        return "tiered";
    case LSM_COMPACTION_LEVELED:
        return "leveled";
    }
    return "unknown";
}

static void usage_print(FILE *out)
{
    lsm_options d;

    lsm_options_init(&d);
    fprintf(out,
            "usage: lsm-cli [OPTIONS] [< SCRIPT]\n"
            "\n"
            "The shell of the lsm storage engine, compatible with "
            "mini-lsm-cli.\n"
            "At a terminal it prompts for commands (type help); otherwise "
            "it\n"
            "replays its input as a script, one command per line.\n"
            "\n"
            "options:\n"
            "  --path DIR               database directory (default "
            "lsm.db)\n"
            "  --compaction STRATEGY    none, simple, tiered or leveled "
            "(default %s)\n"
            "  --background             flush in a background thread "
            "(default: inline,\n"
            "                           so every run prints the same "
            "thing)\n"
            "  --enable-wal             log every write (the default): "
            "survives kill -9\n"
            "  --disable-wal            keep no log: a crash loses the "
            "writes in memtables\n"
            "  --sync                   fsync the WAL before each write "
            "returns,\n"
            "                           so writes survive power loss\n"
            "  --target-sst-size BYTES  memtable and SST size (default "
            "%zu)\n"
            "  --block-size BYTES       SST block size (default %zu)\n"
            "  --num-memtable-limit N   memtables kept in memory (default "
            "%zu)\n"
            "  -c CMD                   run CMD, then exit (repeatable)\n"
            "  --script FILE            replay FILE, then exit\n"
            "  --echo                   print each command before its "
            "output\n"
            "  --bail                   stop at the first error (exit status "
            "1)\n"
            "  --help                   show this help\n"
            "  --version                show the version\n"
            "\n"
            "exit status: 0 on success, 1 if a command failed or the "
            "database could\n"
            "not be opened or closed, 2 for a bad option, 130 if Ctrl-C "
            "stopped a\n"
            "script.\n",
            compaction_name(d.compaction), d.target_sst_size, d.block_size,
            d.num_memtable_limit);
}

/* Reports a bad command line. Returns EXIT_BAD_OPTION. */
static int options_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static int options_fail(const char *fmt, ...)
{
    va_list ap;
    cli_buf msg;

    cli_buf_init(&msg);
    va_start(ap, fmt);
    cli_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    cli_err_printf("error: %s\n", cli_buf_str(&msg));
    cli_buf_free(&msg);
    return EXIT_BAD_OPTION;
}

/* Matches argv[*i] against option name, taking its value from "--name=V"
 * or from the next argument. Returns 1 and sets *value on a match, 0 if
 * argv[*i] is another option, -1 (reported) if the value is missing. */
static int options_value(int argc, char **argv, int *i, const char *name,
                         const char *metavar, const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);

    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        options_fail("%s needs a value: %s %s", name, name, metavar);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

/* Parses a size option: a plain decimal from 1 to SIZE_MAX. */
static int options_size(const char *name, const char *text, size_t *out)
{
    uint64_t v = 0;
    cli_num_status st;

    st = cli_parse_u64(text, strlen(text), SIZE_MAX, &v);
    if (st == CLI_NUM_OK && v > 0) {
        *out = (size_t)v;
        return 0;
    }
    options_fail("%s: '%s' is %s (expected a whole number from 1 to %zu)", name,
                 text,
                 st == CLI_NUM_TOO_LARGE ? "too large"
                 : st == CLI_NUM_OK      ? "zero"
                                         : "not a number",
                 (size_t)SIZE_MAX);
    return -1;
}

static int options_compaction(const char *text, lsm_compaction *out)
{
    static const lsm_compaction all[] = {
        LSM_COMPACTION_NONE, LSM_COMPACTION_SIMPLE, LSM_COMPACTION_TIERED,
        LSM_COMPACTION_LEVELED};
    size_t i;

    for (i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(text, compaction_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    options_fail("--compaction: unknown strategy '%s' (expected none, "
                 "simple, tiered or leveled)",
                 text);
    return -1;
}

/* Adds one -c command to cfg. */
static int options_add_command(cli_config *cfg, char *cmd)
{
    char **grown = realloc(cfg->cmds, (cfg->n_cmds + 1) * sizeof *grown);

    if (!grown) {
        options_fail("out of memory");
        return -1;
    }
    cfg->cmds = grown;
    cfg->cmds[cfg->n_cmds++] = cmd;
    return 0;
}

/* Applies the value of a valued option. Returns 0, or -1 (reported). */
static int options_apply(cli_config *cfg, const char *name, const char *v)
{
    if (strcmp(name, "--path") == 0) {
        if (v[0] == '\0') {
            options_fail("--path: the directory name is empty");
            return -1;
        }
        cfg->path = v;
        return 0;
    }
    if (strcmp(name, "--compaction") == 0)
        return options_compaction(v, &cfg->opt.compaction);
    if (strcmp(name, "--target-sst-size") == 0)
        return options_size(name, v, &cfg->opt.target_sst_size);
    if (strcmp(name, "--block-size") == 0)
        return options_size(name, v, &cfg->opt.block_size);
    if (strcmp(name, "--num-memtable-limit") == 0)
        return options_size(name, v, &cfg->opt.num_memtable_limit);
    cfg->script = v; /* --script */
    return 0;
}

/* Handles an option that takes a value. Returns 1 if argv[*i] was one
 * (and was valid), 0 if it is not such an option, -1 on a reported error. */
static int options_parse_valued(cli_config *cfg, int argc, char **argv, int *i)
{
    static const char *const valued[][2] = {
        {"--path", "DIR"},
        {"--compaction", "STRATEGY"},
        {"--target-sst-size", "BYTES"},
        {"--block-size", "BYTES"},
        {"--num-memtable-limit", "N"},
        {"--script", "FILE"},
    };
    const char *v = NULL;
    size_t k;
    int m;

    if (strcmp(argv[*i], "-c") == 0) {
        if (*i + 1 >= argc) {
            options_fail("-c needs a value: -c CMD");
            return -1;
        }
        ++*i;
        return options_add_command(cfg, argv[*i]) == 0 ? 1 : -1;
    }
    for (k = 0; k < sizeof valued / sizeof valued[0]; k++) {
        m = options_value(argc, argv, i, valued[k][0], valued[k][1], &v);
        if (m == 0)
            continue;
        if (m < 0 || options_apply(cfg, valued[k][0], v) != 0)
            return -1;
        return 1;
    }
    return 0;
}

/* Fills cfg from argv. Returns 0, or EXIT_BAD_OPTION after reporting. */
static int options_parse(cli_config *cfg, int argc, char **argv)
{
    int i, m;

    memset(cfg, 0, sizeof *cfg);
    cfg->path = "lsm.db";
    lsm_options_init(&cfg->opt);
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        m = options_parse_valued(cfg, argc, argv, &i);
        if (m < 0)
            return EXIT_BAD_OPTION;
        if (m > 0)
            continue;
        if (strcmp(arg, "--enable-wal") == 0)
            cfg->opt.enable_wal = 1;
        else if (strcmp(arg, "--disable-wal") == 0)
            cfg->opt.enable_wal = 0;
        else if (strcmp(arg, "--sync") == 0)
            cfg->opt.sync = 1;
        else if (strcmp(arg, "--background") == 0)
            cfg->opt.sched = LSM_SCHED_THREADS;
        else if (strcmp(arg, "--echo") == 0)
            cfg->echo = 1;
        else if (strcmp(arg, "--bail") == 0)
            cfg->bail = 1;
        else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            cfg->show_help = 1;
        else if (strcmp(arg, "--version") == 0)
            cfg->show_version = 1;
        else if (arg[0] == '-')
            return options_fail("unknown option '%s'; try 'lsm-cli --help'",
                                arg);
        else
            return options_fail("unexpected argument '%s' (commands go in "
                                "-c CMD or on stdin); try 'lsm-cli --help'",
                                arg);
    }
    return 0;
}

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
        LSM_VERSION_STRING, cfg->path, compaction_name(cfg->opt.compaction),
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
    status = options_parse(&cfg, argc, argv);
    if (status != 0)
        goto out;
    if (cfg.show_help || cfg.show_version) {
        if (cfg.show_help)
            usage_print(stdout);
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
    free(cfg.cmds);
    fflush(stdout);
    return status;
}
