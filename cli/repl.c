/*
 * repl.c: feeding lines to a cli_session: from a terminal through libedit
 * (prompt, line editing, history file, tab completion of command names),
 * from a stream (stdin, --script, source FILE) or from -c arguments.
 *
 * Ctrl-C: the SIGINT handler only sets cli_interrupted. Long commands poll
 * it and stop; the loops here poll it between lines and then stop a replay
 * (stdin, --script, -c: the session ends, see main.c) or, at a terminal,
 * leave any sourced file and return to the prompt. At the prompt itself the
 * handler is installed without SA_RESTART so the terminal read returns and
 * the line being typed is abandoned.
 *
 * Everything here runs on the main thread.
 */
#include "repl.h"

#include "format.h"

#include <ctype.h>
#include <errno.h>
#include <histedit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <wchar.h>

#define REPL_HISTORY_SIZE 1000

static void repl_on_sigint(int sig)
{
    (void)sig;
    cli_interrupted = 1;
}

/* (Re)installs the SIGINT handler, restarting interrupted system calls or
 * not (see the file comment). */
static int repl_sigint_set(int restart)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = repl_on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = restart ? SA_RESTART : 0;
    return sigaction(SIGINT, &sa, NULL);
}

int cli_signals_install(void)
{
    /* A reader that goes away (lsm-cli < x | head) must not kill the shell
     * before it closes the database: the script's writes do not depend on
     * whether anyone reads the output. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        return -1;
    return repl_sigint_set(1);
}

/* Called between lines: 1 if the loop feeding lines must stop. A pending
 * Ctrl-C ends a replay, or at a terminal, every sourced file. */
static int repl_should_stop(cli_session *s)
{
    if (cli_interrupted) {
        if (s->interactive) {
            s->cancel_sources = 1;
        } else {
            s->stop = 1;
            s->interrupted_replay = 1;
        }
    }
    return s->stop || s->quit || (s->interactive && s->cancel_sources);
}

int cli_run_stream(cli_session *s, FILE *f, const char *label)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    cli_where where = {label, 0};
    int rc = LSM_OK;

    while (!repl_should_stop(s)) {
        errno = 0;
        n = getline(&line, &cap, f);
        if (n < 0) {
            if (ferror(f)) {
                /* Reported with the prefix of the line that opened f (a
                 * source line), or none for stdin and --script. */
                if (label)
                    cli_fail(s, "source: '%s': cannot read: %s", label,
                             errno ? strerror(errno) : "read error");
                else
                    cli_fail(s, "cannot read the input: %s",
                             errno ? strerror(errno) : "read error");
                rc = LSM_EIO;
            }
            break;
        }
        where.line++;
        cli_session_exec(s, line, (size_t)n, &where);
    }
    free(line);
    return rc;
}

void cli_run_commands(cli_session *s, char **cmds, size_t n_cmds)
{
    static const cli_where nowhere = {NULL, 0};
    size_t i;

    for (i = 0; i < n_cmds && !repl_should_stop(s); i++)
        cli_session_exec(s, cmds[i], strlen(cmds[i]), &nowhere);
}

/* --- The terminal ---------------------------------------------------------
 */

static char *repl_prompt(EditLine *el)
{
    static char prompt[] = "lsm-cli> ";

    (void)el;
    return prompt;
}

/* 1 if the word ending at word_start is where a command name goes: the
 * first word of the line, or the argument of help. */
static int repl_completes_command(const char *buf, const char *word_start)
{
    const char *p = buf, *first;

    while (p < word_start && isspace((unsigned char)*p))
        p++;
    if (p == word_start)
        return 1;
    first = p;
    while (p < word_start && !isspace((unsigned char)*p))
        p++;
    if (p - first != 4 || memcmp(first, "help", 4) != 0)
        return 0;
    while (p < word_start && isspace((unsigned char)*p))
        p++;
    return p == word_start;
}

/* Tab: completes the command name before the cursor. One match is
 * completed with a space after it; several are completed to their common
 * prefix, or listed when that adds nothing. */
static unsigned char repl_complete(EditLine *el, int ch)
{
    const LineInfo *li = el_line(el);
    const char *start = li->cursor, *name, *first = NULL;
    size_t n_prefix, n_common = 0, n_matches = 0, i, k;
    char insert[64];
    cli_buf list;

    (void)ch;
    while (start > li->buffer && !isspace((unsigned char)start[-1]))
        start--;
    if (!repl_completes_command(li->buffer, start))
        return CC_ERROR;
    n_prefix = (size_t)(li->cursor - start);
    for (i = 0; (name = cli_command_name(i)) != NULL; i++) {
        if (strncmp(name, start, n_prefix) != 0)
            continue;
        if (n_matches++ == 0) {
            first = name;
            n_common = strlen(name);
        } else {
            for (k = 0; k < n_common && name[k] == first[k]; k++)
                ;
            n_common = k;
        }
    }
    if (n_matches == 0)
        return CC_ERROR;
    if (n_common > n_prefix || n_matches == 1) {
        snprintf(insert, sizeof insert, "%.*s%s", (int)(n_common - n_prefix),
                 first + n_prefix, n_matches == 1 ? " " : "");
        return el_insertstr(el, insert) == 0 ? CC_REFRESH : CC_ERROR;
    }
    cli_buf_init(&list);
    cli_buf_append(&list, "\n", 1);
    for (i = 0; (name = cli_command_name(i)) != NULL; i++) {
        if (strncmp(name, start, n_prefix) == 0)
            cli_buf_printf(&list, "%s  ", name);
    }
    cli_buf_append(&list, "\n", 1);
    cli_out_buf(&list);
    cli_out_flush();
    cli_buf_free(&list);
    return CC_REDISPLAY;
}

/* 1 if line holds only blanks (not worth a history entry). */
static int repl_is_blank(const char *line)
{
    while (*line && isspace((unsigned char)*line))
        line++;
    return *line == '\0';
}

/* Sets up libedit for the prompt. Returns NULL if it cannot (no usable
 * terminal); the caller then falls back to reading plain lines. Both
 * handles are freed by repl_editor_end. */
static EditLine *repl_editor_new(History **hist, const char *history_path)
{
    HistEvent ev;
    EditLine *el;

    el = el_init("lsm-cli", stdin, stdout, stderr);
    if (!el)
        return NULL;
    *hist = history_init();
    if (*hist) {
        history(*hist, &ev, H_SETSIZE, REPL_HISTORY_SIZE);
        history(*hist, &ev, H_SETUNIQUE, 1);
        if (history_path)
            history(*hist, &ev, H_LOAD, history_path);
        el_set(el, EL_HIST, history, *hist);
    }
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_PROMPT, repl_prompt);
    /* el_wset, not el_set: libedit's narrow EL_ADDFN copies the name and
     * help strings and never frees them (a known leak); the wide call keeps
     * these static strings as they are. */
    el_wset(el, EL_ADDFN, L"lsm-complete", L"complete a command name",
            repl_complete);
    el_set(el, EL_BIND, "^I", "lsm-complete", NULL);
    el_source(el, NULL); /* the user's ~/.editrc, if any */
    return el;
}

static void repl_editor_end(EditLine *el, History *hist,
                            const char *history_path)
{
    HistEvent ev;

    if (hist) {
        if (history_path)
            history(hist, &ev, H_SAVE, history_path);
        history_end(hist);
    }
    el_end(el);
}

void cli_run_interactive(cli_session *s, const char *history_path)
{
    static const cli_where nowhere = {NULL, 0};
    History *hist = NULL;
    HistEvent ev;
    EditLine *el;
    const char *line;
    int count;

    el = repl_editor_new(&hist, history_path);
    if (!el) {
        cli_run_stream(s, stdin, NULL);
        return;
    }
    while (!s->quit && !s->stop) {
        cli_interrupted = 0;
        s->cancel_sources = 0;
        el_resize(el);
        repl_sigint_set(0);
        line = el_gets(el, &count);
        repl_sigint_set(1);
        if (!line && cli_interrupted) {
            cli_out_printf("^C\n"); /* abandon the line, prompt again */
            continue;
        }
        if (!line || count <= 0) {
            cli_out_printf("\n"); /* end of input: leave the prompt line */
            break;
        }
        if (!repl_is_blank(line) && hist)
            history(hist, &ev, H_ENTER, line);
        cli_session_exec(s, line, (size_t)count, &nowhere);
    }
    repl_editor_end(el, hist, history_path);
}
