/*
 * test_cli_tty.c: lsm-cli at a terminal, through a pseudo-terminal: what a
 * person typing sees, which pipes cannot show.
 *
 *   test_cli_tty LSM_CLI
 *
 * Each test starts LSM_CLI in a fresh pty (80x24, TERM=xterm, HOME and the
 * database in a fresh directory, no LANG or LC_*: the C locale most
 * containers have), types keystrokes into it and waits for text to appear
 * in what it writes. Checked: typed UTF-8 reaching the engine as its bytes;
 * line editing (Ctrl-A, Ctrl-E, Backspace), history (up arrow, also in the
 * next session, from the history file), Ctrl-C abandoning a line; the
 * prompt and editing kept when stdout is a pipe (lsm-cli | cat); with
 * --background, event lines written above the line being typed, which is
 * then redrawn whole; Tab completing the week 3 commands, a typo of one
 * keeping the session, and the end of the input releasing a live snapshot;
 * and every session ending with exit status 0 (under
 * ASan, no leak).
 *
 * Waiting is for expected text, never a fixed sleep, with a generous
 * deadline (a loaded 2-core machine running ASan builds is slow), so the
 * tests are not flaky; a timeout fails with everything the shell wrote.
 */
/* nftw is X/Open; the project's _DEFAULT_SOURCE stays. */
#define _XOPEN_SOURCE 700

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_MS 60000

static const char *cli_path;           /* argv[1] */
static const char *child_no_color;     /* NO_COLOR for the next tty_start */
static unsigned short child_cols = 80; /* its terminal's width */

/* One lsm-cli in a pty. */
typedef struct tty {
    pid_t pid;
    int master; /* keystrokes go in here; the terminal's output comes out */
    int pipe;   /* stdout when it is a pipe (lsm-cli | cat), else -1 */
    char *seen; /* everything read from stdout so far, NUL-terminated */
    size_t n_seen, cap;
    size_t mark; /* tty_wait_for searches from here */
} tty;

static char dir[64]; /* HOME and the database, per test */

static void make_dir(void)
{
    const char *base = getenv("TMPDIR"); /* a tmpfs under scripts/test */
    if (!base || !*base ||
        (size_t)snprintf(dir, sizeof dir, "%s/lsm-cli-tty.XXXXXX", base) >=
            sizeof dir)
        snprintf(dir, sizeof dir, "/tmp/lsm-cli-tty.XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_dir(void)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The child: the environment of a fresh login without a locale, then
 * lsm-cli. (The test is single-threaded, so setenv after fork is safe.) */
static void tty_exec(const char *const *args, int pipe_w)
{
    char db[128], *argv[16];
    int argc = 0;

    if (pipe_w >= 0 && dup2(pipe_w, STDOUT_FILENO) < 0)
        _exit(127);
    unsetenv("LANG");
    unsetenv("LC_ALL");
    unsetenv("LC_CTYPE");
    unsetenv("LANGUAGE");
    setenv("TERM", "xterm", 1);
    setenv("HOME", dir, 1);
    unsetenv("COLUMNS");
    if (child_no_color)
        setenv("NO_COLOR", child_no_color, 1);
    else
        unsetenv("NO_COLOR");
    snprintf(db, sizeof db, "%s/db", dir);
    argv[argc++] = (char *)cli_path;
    argv[argc++] = "--path";
    argv[argc++] = db;
    while (*args && argc < 15)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    execv(cli_path, argv);
    _exit(127);
}

/* Starts lsm-cli with extra args; its stdout is the pty, or a pipe if
 * to_pipe is set (its stdin and stderr stay the pty). */
static void tty_start(tty *t, const char *const *args, int to_pipe)
{
    struct winsize ws = {.ws_row = 24, .ws_col = child_cols};
    int fds[2] = {-1, -1};

    memset(t, 0, sizeof *t);
    t->pipe = -1;
    if (to_pipe)
        assert_int_equal(pipe(fds), 0);
    t->pid = forkpty(&t->master, NULL, NULL, &ws);
    assert_true(t->pid >= 0);
    if (t->pid == 0) {
        if (fds[0] >= 0)
            close(fds[0]);
        tty_exec(args, fds[1]);
    }
    if (to_pipe) {
        close(fds[1]);
        t->pipe = fds[0];
    }
    t->cap = 4096;
    t->seen = malloc(t->cap);
    assert_non_null(t->seen);
    t->seen[0] = '\0';
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void tty_append(tty *t, const char *p, size_t n)
{
    while (t->n_seen + n + 1 > t->cap) {
        t->cap *= 2;
        t->seen = realloc(t->seen, t->cap);
        assert_non_null(t->seen);
    }
    memcpy(t->seen + t->n_seen, p, n);
    t->n_seen += n;
    t->seen[t->n_seen] = '\0';
}

/* Prints what the shell wrote, control bytes escaped, for a failure. */
static void tty_dump(const tty *t)
{
    size_t i;

    fprintf(stderr, "--- lsm-cli wrote (%zu bytes, mark at %zu):\n", t->n_seen,
            t->mark);
    for (i = 0; i < t->n_seen; i++) {
        unsigned char c = (unsigned char)t->seen[i];
        if (c == '\n')
            fputs("\\n\n", stderr);
        else if (c >= 0x20 && c < 0x7f)
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputs("\n---\n", stderr);
}

/* Reads whatever comes within ms milliseconds. Returns 0 at end of output
 * (the shell exited), else 1. The pty's own output is drained but not kept
 * when stdout is a pipe (it holds only the terminal's echo before libedit
 * takes over). */
static int tty_read(tty *t, int ms)
{
    struct pollfd fds[2] = {{.fd = t->master, .events = POLLIN},
                            {.fd = t->pipe, .events = POLLIN}};
    int out = t->pipe >= 0 ? 1 : 0;
    char buf[4096];
    ssize_t n;
    int i;

    if (poll(fds, t->pipe >= 0 ? 2 : 1, ms) <= 0)
        return 1;
    for (i = 0; i < (t->pipe >= 0 ? 2 : 1); i++) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        n = read(fds[i].fd, buf, sizeof buf);
        if (n > 0 && i == out)
            tty_append(t, buf, (size_t)n);
        if (n <= 0 && i == out)
            return 0; /* EOF, or EIO: the pty's other end is closed */
    }
    return 1;
}

/* Finds text at or after the mark, reading until it comes or within_ms
 * passes. On success moves the mark past it and returns where it began. */
static const char *tty_find(tty *t, const char *text, long within_ms)
{
    long deadline = now_ms() + within_ms;
    const char *at;
    size_t pos;

    for (;;) {
        at = strstr(t->seen + t->mark, text);
        if (at) {
            pos = (size_t)(at - t->seen);
            t->mark = pos + strlen(text);
            return t->seen + pos;
        }
        if (now_ms() >= deadline || !tty_read(t, 100))
            return NULL;
    }
}

/* Waits for text; fails the test, showing the output, if it never comes. */
static size_t tty_wait_for(tty *t, const char *text)
{
    const char *at = tty_find(t, text, DEADLINE_MS);

    if (!at) {
        tty_dump(t);
        fail_msg("lsm-cli never wrote [%s]", text);
    }
    return (size_t)(at - t->seen);
}

static void tty_type(tty *t, const char *keys)
{
    size_t n = strlen(keys);
    ssize_t w;

    while (n > 0) {
        w = write(t->master, keys, n);
        if (w < 0 && errno == EINTR)
            continue;
        assert_true(w > 0);
        keys += w;
        n -= (size_t)w;
    }
}

/* Waits until lsm-cli reads keystrokes one by one: libedit writes the
 * prompt before it puts the terminal in raw mode, and a key typed in
 * between would go through the terminal's line discipline instead (echoed
 * by it, and Ctrl-D taken as end of file). On Linux the master end reports
 * the terminal's modes. */
static void tty_wait_raw(tty *t)
{
    long deadline = now_ms() + DEADLINE_MS;
    struct termios tio;

    while (tcgetattr(t->master, &tio) == 0 && (tio.c_lflag & ICANON)) {
        if (now_ms() >= deadline) {
            tty_dump(t);
            fail_msg("lsm-cli never put the terminal in raw mode");
        }
        tty_read(t, 10);
    }
}

/* Waits for the next prompt, and for lsm-cli to read keys at it. */
static void tty_wait_prompt(tty *t)
{
    tty_wait_for(t, "lsm-cli> ");
    tty_wait_raw(t);
}

/* Types a line at the next prompt and waits for the reply. */
static void tty_run(tty *t, const char *keys, const char *reply)
{
    tty_wait_prompt(t);
    tty_type(t, keys);
    tty_wait_for(t, reply);
}

/* Ctrl-D at the prompt; waits for the shell to close the database and
 * exit, and checks it exited 0. */
static void tty_quit(tty *t)
{
    long deadline = now_ms() + DEADLINE_MS;
    int status = 0;
    pid_t r;

    tty_wait_prompt(t);
    tty_type(t, "\x04");
    while ((r = waitpid(t->pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
        if (!tty_read(t, 100)) /* keep the output flowing */
            usleep(10000);     /* it closed its end: exiting */
    if (r != t->pid) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, &status, 0);
        tty_dump(t);
        fail_msg("lsm-cli did not exit after Ctrl-D");
    }
    /* What it wrote just before exiting may still wait in the pty: read it
     * all (to the end-of-file of the closed side), so checks of the last
     * lines never depend on how fast the loop above saw the exit. */
    while (now_ms() < deadline && tty_read(t, 50))
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        tty_dump(t);
        fail_msg("lsm-cli exited with status %d", status);
    }
    t->pid = 0;
}

static void tty_end(tty *t)
{
    int status;

    if (t->pid > 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, &status, 0);
    }
    close(t->master);
    if (t->pipe >= 0)
        close(t->pipe);
    free(t->seen);
}

static int setup(void **state)
{
    (void)state;
    make_dir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove_dir();
    return 0;
}

/* Typed non-ASCII text reaches the engine as its UTF-8 bytes, even though
 * the environment names no locale. */
static void test_utf8_is_typed_as_bytes(void **state)
{
    static const char *const none[] = {NULL};
    tty t;

    (void)state;
    tty_start(&t, none, 0);
    tty_run(&t, "put café naïve\r", "b\"caf\\xc3\\xa9\" stored");
    tty_run(&t, "get café\r", "b\"caf\\xc3\\xa9\"=b\"na\\xc3\\xafve\"");
    /* Bytes no terminal types are still reachable through \xNN. */
    tty_run(&t, "get \"caf\\xc3\\xa9\"\r", "=b\"na\\xc3\\xafve\"");
    tty_quit(&t);
    tty_end(&t);
}

/* Ctrl-A, Ctrl-E and Backspace edit the line; the up arrow recalls the
 * last one, in this session and, from the history file, in the next;
 * Ctrl-C abandons a line and the session goes on. */
static void test_editing_and_history(void **state)
{
    static const char *const none[] = {NULL};
    tty t;

    (void)state;
    tty_start(&t, none, 0);
    tty_run(&t, "put h hist\r", "h stored");
    /* "et h", to the start, "g", to the end, "x", erase it */
    tty_run(&t, "et h\x01g\x05x\x7f\r", "h=b\"hist\"");
    tty_run(&t, "\033[A\r", "h=b\"hist\"");
    tty_run(&t, "get nothing-yet\x03", "^C");
    tty_run(&t, "get h\r", "h=b\"hist\"");
    tty_quit(&t);
    tty_end(&t);

    tty_start(&t, none, 0);
    tty_run(&t, "\033[A\r", "h=b\"hist\"");
    tty_quit(&t);
    tty_end(&t);
}

/* lsm-cli | cat: standard input is the terminal, so the session is still
 * interactive, and the prompt and the editing reach stdout, in order with
 * the replies. */
static void test_stdout_pipe_keeps_the_prompt(void **state)
{
    static const char *const none[] = {NULL};
    tty t;

    (void)state;
    tty_start(&t, none, 1);
    tty_wait_for(&t, "type help for the commands");
    tty_wait_for(&t, "lsm-cli> ");
    tty_wait_raw(&t);
    tty_type(&t, "put a 1\r");
    tty_wait_for(&t, "put a 1"); /* drawn by libedit, after the prompt */
    tty_wait_for(&t, "a stored");
    tty_run(&t, "et a\x01g\r", "a=b\"1\"");
    tty_quit(&t);
    tty_end(&t);
}

/* --background: engine threads report flushes and compactions while the
 * prompt waits. Each batch of their lines is written after erasing the
 * prompt's line (ESC [ J), and the prompt and the half-typed line are drawn
 * again below them; Enter then runs the line as typed. When the events
 * come is up to the threads: if none comes while the line is half typed
 * (the machine was fast), only the reply is checked. */
static void test_background_events_above_the_prompt(void **state)
{
    static const char *const args[] = {"--background", "--compaction",
                                       "simple",       "--target-sst-size",
                                       "1024",         NULL};
    const char *event;
    size_t typed, at;
    tty t;

    (void)state;
    tty_start(&t, args, 0);
    tty_run(&t, "fill 1 6000\r", "6000 values filled with epoch 0");
    tty_wait_prompt(&t);
    tty_type(&t, "get 12");
    typed = tty_wait_for(&t, "get 12");
    event = tty_find(&t, "compaction finished", 20000);
    if (event) {
        at = (size_t)(event - t.seen);
        t.seen[at] = '\0'; /* search only between the line and the event */
        if (!strstr(t.seen + typed, "\033[J")) {
            t.seen[at] = 'c';
            tty_dump(&t);
            fail_msg("an event line was written without erasing the prompt");
        }
        t.seen[at] = 'c';
        tty_wait_for(&t, "lsm-cli> get 12"); /* drawn again below */
    }
    tty_type(&t, "\r");
    tty_wait_for(&t, "12=b\"value12@0\"");
    tty_quit(&t);
    tty_end(&t);
}

static void test_week3_names_complete(void **state)
{
    static const char *const none[] = {NULL};
    tty t;

    (void)state;
    tty_start(&t, none, 0);
    /* snapshot and snapshots share "snapshot": Tab completes that much */
    tty_run(&t, "snapsh\t s1\r", "snapshot s1 at seq 0");
    tty_run(&t, "put k v\r", "k stored");
    tty_run(&t, "get k @s1\r", "k not exist");
    /* a typo of a new name is suggested, and the session goes on */
    tty_run(&t, "snapshto s2\r", "did you mean 'snapshot'?");
    tty_run(&t, "snapshots\r", "s1 (id 1): seq 0");
    tty_run(&t, "tx\t\r", "no open transactions");
    tty_run(&t, "rel\ts9\r", "no live snapshot is called s9 (live: s1)");
    /* the end of the input releases what is still live, and exits 0 */
    tty_quit(&t);
    assert_non_null(strstr(t.seen, "s1 released (still live at quit)"));
    tty_end(&t);
}

/* The colours draw gives its bars (memtables green, SSTs cyan and blue). */
static bool has_draw_colours(const char *text)
{
    return strstr(text, "\033[32m[") || strstr(text, "\033[36m[");
}

/* Fills, flushes, fills again and draws: what the shell wrote from the
 * draw command on, once its last row (L4's) is there. */
static const char *tty_draw(tty *t)
{
    tty_run(t, "fill 1000 1999\r", "1000 values filled");
    tty_run(t, "flush\r", "flush success");
    tty_run(t, "fill 1500 2500\r", "1001 values filled");
    size_t from = t->n_seen;
    tty_run(t, "draw\r", "L4");
    tty_wait_for(t, " SST");
    return t->seen + from;
}

/* draw is in colour at a terminal, and plain with NO_COLOR set or when
 * its output is a pipe. */
static void test_draw_colours_only_at_a_terminal(void **state)
{
    static const char *const none[] = {NULL};
    tty t;

    (void)state;
    tty_start(&t, none, 0);
    assert_true(has_draw_colours(tty_draw(&t)));
    assert_non_null(strstr(t.seen, "\033[0m"));
    tty_quit(&t);
    tty_end(&t);

    child_no_color = "1";
    tty_start(&t, none, 0);
    const char *plain = tty_draw(&t);
    assert_false(has_draw_colours(plain));
    assert_non_null(strstr(plain, "[============"));
    tty_quit(&t);
    tty_end(&t);
    child_no_color = NULL;

    tty_start(&t, none, 1);
    assert_false(has_draw_colours(tty_draw(&t)));
    tty_quit(&t);
    tty_end(&t);
}

/* Without COLUMNS, draw is as wide as the terminal: a row of a 120-column
 * terminal ends at its 120th column. */
static void test_draw_fills_the_terminal(void **state)
{
    static const char *const none[] = {NULL};
    tty t;

    (void)state;
    child_no_color = "1";
    child_cols = 120;
    tty_start(&t, none, 0);
    const char *out = tty_draw(&t);
    const char *row = strstr(out, "\nL1 ");
    assert_non_null(row);
    row++;
    assert_int_equal(strcspn(row, "\r\n"), 120);
    tty_quit(&t);
    tty_end(&t);
    child_cols = 80;
    child_no_color = NULL;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_utf8_is_typed_as_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_week3_names_complete, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_draw_colours_only_at_a_terminal,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_draw_fills_the_terminal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_editing_and_history, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stdout_pipe_keeps_the_prompt,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_events_above_the_prompt,
                                        setup, teardown),
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s LSM_CLI\n", argv[0]);
        return 2;
    }
    cli_path = argv[1];
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
