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
 * The terminal: the session is interactive when standard input is a
 * terminal, whatever standard output is. libedit reads keys through
 * repl_getc, which decodes them in the locale's encoding (a UTF-8 one, see
 * repl_locale_init) and also wakes up when an engine thread has output for
 * the screen: that output waits in format.c while the prompt is up and is
 * written above it, and the line being typed is drawn again below.
 *
 * Everything here runs on the main thread.
 */
/* wcwidth is X/Open; the rest of the project's _DEFAULT_SOURCE stays. */
#define _XOPEN_SOURCE 700

#include "repl.h"

#include "format.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <histedit.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>
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

/* One line of a stream, as repl_read_line_bounded leaves it. */
typedef enum repl_line_status {
    REPL_LINE_OK,       /* a line (its newline kept, if it had one) */
    REPL_LINE_TOO_LONG, /* a line over CLI_MAX_LINE_BYTES, skipped */
    REPL_LINE_END,      /* no more lines */
    REPL_LINE_ERROR     /* reading failed: errno says why */
} repl_line_status;

/* A line being read: its first bytes (at most CLI_MAX_LINE_BYTES and the
 * newline) in buf, and how long it really is. */
typedef struct repl_line {
    char *buf;
    size_t cap;
    size_t len;       /* bytes in buf */
    uint64_t n_bytes; /* the line's length without its newline */
} repl_line;

/* Appends c to l->buf, growing it (never past the limit and a newline).
 * Returns 0, or -1 with errno ENOMEM. */
static int repl_line_push(repl_line *l, char c)
{
    size_t cap;
    char *grown;

    if (l->len == l->cap) {
        cap = l->cap ? 2 * l->cap : 256;
        if (cap > (size_t)CLI_MAX_LINE_BYTES + 1)
            cap = (size_t)CLI_MAX_LINE_BYTES + 1;
        grown = realloc(l->buf, cap);
        if (!grown) {
            errno = ENOMEM;
            return -1;
        }
        l->buf = grown;
        l->cap = cap;
    }
    l->buf[l->len++] = c;
    return 0;
}

/* Reads the next line of f. A line longer than CLI_MAX_LINE_BYTES is read
 * to its end without being kept (memory stays bounded whatever the input
 * holds), so the next call starts at the next line. getline is not used:
 * it reports running out of memory for a huge line as end of input. */
static repl_line_status repl_read_line_bounded(FILE *f, repl_line *l)
{
    int c;

    l->len = 0;
    l->n_bytes = 0;
    errno = 0;
    while ((c = getc_unlocked(f)) != EOF) {
        if (c == '\n') {
            if (l->n_bytes <= CLI_MAX_LINE_BYTES && repl_line_push(l, '\n'))
                return REPL_LINE_ERROR;
            break;
        }
        l->n_bytes++;
        if (l->n_bytes <= CLI_MAX_LINE_BYTES && repl_line_push(l, (char)c))
            return REPL_LINE_ERROR;
    }
    if (c == EOF && ferror(f)) {
        if (errno == 0)
            errno = EIO;
        return REPL_LINE_ERROR;
    }
    if (c == EOF && l->n_bytes == 0)
        return REPL_LINE_END;
    return l->n_bytes > CLI_MAX_LINE_BYTES ? REPL_LINE_TOO_LONG : REPL_LINE_OK;
}

/* Reports a failed read of f: with the prefix of the line that opened it (a
 * source line) when label is set, or none for stdin and --script. */
static void repl_report_read_error(cli_session *s, const char *label, int err)
{
    if (label)
        cli_fail(s, "source: '%s': cannot read: %s", label, strerror(err));
    else
        cli_fail(s, "cannot read the input: %s", strerror(err));
}

/* Reports a line over the limit, as that line's error; the session goes on
 * with the next line. */
static void repl_report_too_long(cli_session *s, const cli_where *where,
                                 uint64_t n_bytes)
{
    cli_where saved = s->where;

    s->where = *where;
    cli_fail(s, "line is %" PRIu64 " bytes, longer than the %lu-byte limit",
             n_bytes, (unsigned long)CLI_MAX_LINE_BYTES);
    s->where = saved;
}

int cli_run_stream(cli_session *s, FILE *f, const char *label)
{
    repl_line line = {0};
    repl_line_status st;
    cli_where where = {label, 0};
    int rc = LSM_OK;

    while (!repl_should_stop(s)) {
        st = repl_read_line_bounded(f, &line);
        if (st == REPL_LINE_ERROR) {
            repl_report_read_error(s, label, errno);
            rc = LSM_EIO;
        }
        if (st == REPL_LINE_END || st == REPL_LINE_ERROR)
            break;
        where.line++;
        if (st == REPL_LINE_TOO_LONG)
            repl_report_too_long(s, &where, line.n_bytes);
        else
            cli_session_exec(s, line.buf, line.len, &where);
    }
    free(line.buf);
    return rc;
}

void cli_run_command(cli_session *s, const char *cmd)
{
    static const cli_where nowhere = {NULL, 0};

    if (!repl_should_stop(s))
        cli_session_exec(s, cmd, strlen(cmd), &nowhere);
}

/* --- The terminal ---------------------------------------------------------
 */

#define REPL_PROMPT "lsm-cli> "

/* One interactive session's terminal. libedit draws on stdout, like
 * everything else, so one ordered stream reaches the screen even through
 * lsm-cli | tee log. */
typedef struct repl_term {
    EditLine *el;
    History *hist;
    /* A pipe whose write end format.c pokes when another thread's output
     * is queued while the prompt waits; -1 if it could not be made (then
     * nothing is queued). */
    int wake[2];
} repl_term;

static char *repl_prompt(EditLine *el)
{
    static char prompt[] = REPL_PROMPT;

    (void)el;
    return prompt;
}

static repl_term *repl_term_of(EditLine *el)
{
    void *t = NULL;

    el_get(el, EL_CLIENTDATA, &t);
    return t;
}

/* Writes text on the prompt's line, at once. */
static void repl_term_puts(const char *text)
{
    cli_out_printf("%s", text);
    cli_out_flush();
}

/* Lets libedit decode what the terminal sends. libedit reads through
 * mbrtowc, so in the C locale every byte above 0x7f is dropped: "put café"
 * would store "caf". Only LC_CTYPE is set, so numbers still print with a
 * '.' and messages stay as they are. The environment's locale wins, with
 * one exception: C or POSIX (no LANG or LC_* set, as in most containers
 * and many ssh sessions) says nothing about the terminal, and terminals
 * today send UTF-8, so C.UTF-8 is used when the system has it. A terminal
 * that sends something else is then no worse off than in C: its non-UTF-8
 * bytes are dropped, and \xNN inside quotes still types any byte. */
static void repl_locale_init(void)
{
    static const char *const utf8[] = {"C.UTF-8", "C.utf8", "en_US.UTF-8"};
    const char *name = setlocale(LC_CTYPE, "");
    size_t i;

    if (name && strcmp(name, "C") != 0 && strcmp(name, "POSIX") != 0)
        return;
    for (i = 0; i < sizeof utf8 / sizeof utf8[0]; i++) {
        if (setlocale(LC_CTYPE, utf8[i]))
            return;
    }
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
    if (p - first != 4 || strncasecmp(first, "help", 4) != 0)
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
    if (!cli_buf_failed(&list))
        repl_term_puts(cli_buf_str(&list));
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

/* --- Output from engine threads while the prompt waits --------------------
 *
 * An event line printed in the middle of the line being typed would leave
 * both unreadable. Instead format.c queues it and pokes t->wake; the read
 * function below, which libedit calls for every character, waits on the
 * terminal and on that pipe, and when woken clears the prompt's lines,
 * writes the queued lines, and has libedit redraw the prompt and the line
 * being typed, cursor included, below them.
 */

/* How many terminal rows the cursor is below the prompt's first row: the
 * display width of the prompt and of the line up to the cursor, over the
 * terminal's width (as libedit wraps). */
static int repl_cursor_row(EditLine *el)
{
    const LineInfoW *li = el_wline(el);
    const wchar_t *p;
    int cols = 0, col = (int)strlen(REPL_PROMPT), w;

    if (el_get(el, EL_GETTC, "co", &cols) != 0 || cols <= 0)
        return 0;
    for (p = li->buffer; p < li->cursor; p++) {
        w = wcwidth(*p);
        col += w < 0 ? 2 : w; /* libedit shows a control byte as ^X */
    }
    return col / cols;
}

/* Called by cli_out_prompt_drain, under the output lock, before the queued
 * lines are written: moves to the prompt's first row and erases from there
 * down (ANSI sequences, which every terminal libedit runs on today
 * understands), so the lines take the prompt's place. */
static void repl_clear_prompt(void *ctx)
{
    repl_term *t = ctx;
    int rows = repl_cursor_row(t->el);

    fputc('\r', stdout);
    if (rows > 0)
        fprintf(stdout, "\033[%dA", rows);
    fputs("\033[J", stdout);
}

/* Writes what other threads queued above the prompt and redraws it. */
static void repl_show_queued(repl_term *t)
{
    char sink[64];

    while (read(t->wake[0], sink, sizeof sink) > 0)
        ;
    /* EL_REFRESH redraws from the cursor's row as if the screen there were
     * blank, which it is: the queued lines ended with a newline. */
    if (cli_out_prompt_drain(repl_clear_prompt, t))
        el_wset(t->el, EL_REFRESH);
}

/* Waits until the terminal has a byte to read, showing queued output
 * meanwhile. Returns 1, or -1 with errno EINTR for Ctrl-C (libedit then
 * returns no line, and the prompt loop starts over). */
static int repl_wait_for_input(repl_term *t)
{
    struct pollfd fds[2];
    int n;

    fds[0].fd = STDIN_FILENO;
    fds[0].events = POLLIN;
    fds[1].fd = t->wake[0];
    fds[1].events = POLLIN;
    for (;;) {
        fds[0].revents = fds[1].revents = 0;
        n = poll(fds, t->wake[0] >= 0 ? 2 : 1, -1);
        if (n < 0 && errno == EINTR && cli_interrupted)
            return -1;
        if (n < 0 && errno != EINTR)
            return 1; /* let read() report the problem */
        if (n > 0 && fds[1].revents)
            repl_show_queued(t);
        if (n > 0 && fds[0].revents)
            return 1;
    }
}

/* Reads one byte of the terminal. Returns 1, 0 at end of input, or -1
 * (errno EINTR for Ctrl-C). */
static int repl_read_byte(char *c)
{
    ssize_t n;

    for (;;) {
        n = read(STDIN_FILENO, c, 1);
        if (n >= 0)
            return (int)n;
        if (errno != EINTR || cli_interrupted)
            return -1;
    }
}

/* libedit's read function (EL_GETCFN): one character, decoded from the
 * terminal's bytes in the locale's encoding as libedit's own does, but
 * waiting on the wake pipe too. A byte that cannot start or continue a
 * character is dropped. */
static int repl_getc(EditLine *el, wchar_t *wc)
{
    repl_term *t = repl_term_of(el);
    char buf[MB_LEN_MAX];
    size_t n = 0, r;
    mbstate_t st;
    int rc;

    for (;;) {
        if (n == 0 && repl_wait_for_input(t) < 0)
            return -1;
        rc = repl_read_byte(&buf[n]);
        if (rc <= 0) {
            *wc = L'\0';
            return rc;
        }
        n++;
        memset(&st, 0, sizeof st);
        r = mbrtowc(wc, buf, n, &st);
        if (r == (size_t)-2 && n < MB_LEN_MAX)
            continue; /* the rest of the character is coming */
        if (r != (size_t)-1 && r != (size_t)-2)
            return 1;
        /* Invalid: drop it, but its last byte may begin a character. */
        buf[0] = buf[n - 1];
        n = 0;
        memset(&st, 0, sizeof st);
        r = mbrtowc(wc, buf, 1, &st);
        if (r != (size_t)-1 && r != (size_t)-2)
            return 1;
        if (r == (size_t)-2)
            n = 1;
    }
}

/* --- Setting up and running the prompt ------------------------------------
 */

/* The wake pipe, non-blocking at both ends, close-on-exec. */
static void repl_wake_open(repl_term *t)
{
    int i;

    t->wake[0] = t->wake[1] = -1;
    if (pipe(t->wake) != 0)
        return;
    for (i = 0; i < 2; i++) {
        fcntl(t->wake[i], F_SETFL, fcntl(t->wake[i], F_GETFL) | O_NONBLOCK);
        fcntl(t->wake[i], F_SETFD, FD_CLOEXEC);
    }
}

/* Sets up libedit for the prompt. Returns 0, or -1 if it cannot (no usable
 * terminal); the caller then falls back to reading plain lines. */
static int repl_term_open(repl_term *t, const char *history_path)
{
    HistEvent ev;

    memset(t, 0, sizeof *t);
    /* Standard input being a terminal is what makes the session
     * interactive, not standard output: with lsm-cli | tee log the prompt
     * and the editing still go to stdout, in order with the commands'
     * output, as sqlite3's do. libedit refuses to edit unless its output
     * descriptor is a terminal (it sets the terminal's modes through the
     * input one), so it is given standard input's, which is. */
    t->el = el_init_fd("lsm-cli", stdin, stdout, stderr, STDIN_FILENO,
                       isatty(STDOUT_FILENO) ? STDOUT_FILENO : STDIN_FILENO,
                       STDERR_FILENO);
    if (!t->el)
        return -1;
    repl_wake_open(t);
    t->hist = history_init();
    if (t->hist) {
        history(t->hist, &ev, H_SETSIZE, REPL_HISTORY_SIZE);
        history(t->hist, &ev, H_SETUNIQUE, 1);
        if (history_path)
            history(t->hist, &ev, H_LOAD, history_path);
        el_set(t->el, EL_HIST, history, t->hist);
    }
    el_set(t->el, EL_CLIENTDATA, t);
    el_wset(t->el, EL_GETCFN, repl_getc);
    el_set(t->el, EL_EDITOR, "emacs");
    el_set(t->el, EL_PROMPT, repl_prompt);
    /* el_wset, not el_set: libedit's narrow EL_ADDFN copies the name and
     * help strings and never frees them (a known leak); the wide call keeps
     * these static strings as they are. */
    el_wset(t->el, EL_ADDFN, L"lsm-complete", L"complete a command name",
            repl_complete);
    el_set(t->el, EL_BIND, "^I", "lsm-complete", NULL);
    el_source(t->el, NULL); /* the user's ~/.editrc, if any */
    return 0;
}

static void repl_term_close(repl_term *t, const char *history_path)
{
    HistEvent ev;
    int i;

    if (t->hist) {
        if (history_path)
            history(t->hist, &ev, H_SAVE, history_path);
        history_end(t->hist);
    }
    el_end(t->el);
    for (i = 0; i < 2; i++) {
        if (t->wake[i] >= 0)
            close(t->wake[i]);
    }
}

/* Reads one line at the prompt, with other threads' output held back (and
 * shown above the prompt) while it waits. Returns NULL at end of input or
 * on Ctrl-C, after ending the prompt's line. */
static const char *repl_read_line(repl_term *t, int *count)
{
    const char *line;

    if (t->wake[0] >= 0)
        cli_out_prompt_begin(t->wake[1]);
    el_resize(t->el);
    repl_sigint_set(0);
    line = el_gets(t->el, count);
    repl_sigint_set(1);
    /* On Enter libedit has moved to a new line; on Ctrl-C or Ctrl-D the
     * cursor is still on the prompt's line, so end it before anything
     * held back is written. */
    if (!line || *count <= 0)
        repl_term_puts(!line && cli_interrupted ? "^C\n" : "\n");
    if (t->wake[0] >= 0)
        cli_out_prompt_end();
    return line && *count > 0 ? line : NULL;
}

void cli_run_interactive(cli_session *s, const char *history_path)
{
    static const cli_where nowhere = {NULL, 0};
    repl_term t;
    HistEvent ev;
    const char *line;
    int count;

    repl_locale_init();
    if (repl_term_open(&t, history_path) != 0) {
        cli_run_stream(s, stdin, NULL);
        return;
    }
    while (!s->quit && !s->stop) {
        cli_interrupted = 0;
        s->cancel_sources = 0;
        line = repl_read_line(&t, &count);
        if (!line && cli_interrupted)
            continue; /* Ctrl-C abandons the line: prompt again */
        if (!line)
            break;
        if (!repl_is_blank(line) && t.hist)
            history(t.hist, &ev, H_ENTER, line);
        cli_session_exec(s, line, (size_t)count, &nowhere);
    }
    repl_term_close(&t, history_path);
}
