/*
 * format.c: byte escaping (Rust's Debug for byte strings) and serialized
 * output for lsm-cli. See format.h for the rules.
 *
 * Thread safety: cli_buf values belong to one thread. The cli_out_* and
 * cli_err_* functions may be called from any thread; out_lock makes each
 * call atomic with respect to the others. Nothing here calls the engine, so
 * the lock is never held across engine work (an engine thread reporting an
 * event can always get it).
 *
 * While the terminal prompt waits for a line (cli_out_prompt_begin to
 * cli_out_prompt_end), output from any other thread is queued instead of
 * written, in order, with the stream it was meant for, and the prompt's
 * thread is woken through a pipe to write it above the line being typed
 * (cli_out_prompt_drain).
 */
#include "format.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/* Output queued by other threads while the prompt waits. */
typedef struct queued_out {
    struct queued_out *next;
    FILE *stream;
    size_t len;
    char data[];
} queued_out;

/* The prompt, guarded by out_lock. */
static struct {
    int active;       /* a prompt is waiting for a line */
    pthread_t owner;  /* the thread at the prompt */
    int wake_fd;      /* written to when something is queued */
    queued_out *head; /* queued output, oldest first */
    queued_out *tail;
} prompt;

void cli_buf_init(cli_buf *b)
{
    memset(b, 0, sizeof *b);
}

void cli_buf_free(cli_buf *b)
{
    if (!b)
        return;
    free(b->data);
    memset(b, 0, sizeof *b);
}

void cli_buf_reset(cli_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data)
        b->data[0] = '\0';
}

int cli_buf_failed(const cli_buf *b)
{
    return b->failed;
}

const char *cli_buf_str(const cli_buf *b)
{
    return b->data ? b->data : "";
}

/* Makes room for n more bytes plus the terminating NUL. Returns 0, or -1
 * (and marks b failed) when memory runs out or the size would overflow. */
static int buf_reserve(cli_buf *b, size_t n)
{
    size_t need, cap;
    char *grown;

    if (b->failed)
        return -1;
    if (n > SIZE_MAX - 1 - b->len)
        goto fail;
    need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    grown = realloc(b->data, cap);
    if (!grown)
        goto fail;
    b->data = grown;
    b->cap = cap;
    return 0;
fail:
    b->failed = 1;
    return -1;
}

void cli_buf_append(cli_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cli_buf_vprintf(cli_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    int n;

    va_copy(again, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != 0) {
        b->failed = 1;
        va_end(again);
        return;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    va_end(again);
    b->len += (size_t)n;
}

void cli_buf_printf(cli_buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cli_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void cli_buf_append_bytes(cli_buf *b, const void *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = p;
    char esc[4];
    size_t i;

    cli_buf_append(b, "b\"", 2);
    for (i = 0; i < n; i++) {
        unsigned char c = s[i];
        switch (c) {
        case '\n':
            cli_buf_append(b, "\\n", 2);
            break;
        case '\r':
            cli_buf_append(b, "\\r", 2);
            break;
        case '\t':
            cli_buf_append(b, "\\t", 2);
            break;
        case '\\':
            cli_buf_append(b, "\\\\", 2);
            break;
        case '"':
            cli_buf_append(b, "\\\"", 2);
            break;
        case '\0':
            cli_buf_append(b, "\\0", 2);
            break;
        default:
            if (c >= 0x20 && c <= 0x7e) {
                cli_buf_append(b, &s[i], 1);
            } else {
                esc[0] = '\\';
                esc[1] = 'x';
                esc[2] = hex[c >> 4];
                esc[3] = hex[c & 0xf];
                cli_buf_append(b, esc, 4);
            }
        }
    }
    cli_buf_append(b, "\"", 1);
}

int cli_key_is_plain(const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
            return 0;
    }
    return 1;
}

void cli_buf_append_key(cli_buf *b, const void *p, size_t n)
{
    if (cli_key_is_plain(p, n))
        cli_buf_append(b, p, n);
    else
        cli_buf_append_bytes(b, p, n);
}

/* Writes to stream under out_lock. stderr is unbuffered in spirit: stdout
 * is flushed first and stderr after, so 2>&1 keeps the order. */
static void out_write_locked(FILE *stream, const char *p, size_t n)
{
    if (stream == stderr)
        fflush(stdout);
    if (n > 0)
        fwrite(p, 1, n, stream);
    if (stream == stderr)
        fflush(stderr);
}

/* Queues output of a thread other than the prompt's, and wakes the prompt.
 * Returns 0, or -1 if memory ran out (the caller then writes it now). */
static int out_queue_locked(FILE *stream, const char *p, size_t n)
{
    queued_out *q = malloc(sizeof *q + n);
    char byte = 1;

    if (!q)
        return -1;
    q->next = NULL;
    q->stream = stream;
    q->len = n;
    memcpy(q->data, p, n);
    if (prompt.tail)
        prompt.tail->next = q;
    else
        prompt.head = q;
    prompt.tail = q;
    /* The pipe is non-blocking: if it is full, a wakeup is pending anyway. */
    if (write(prompt.wake_fd, &byte, 1) < 0 && errno != EAGAIN)
        return 0;
    return 0;
}

/* Writes p[0..n) to stream, or queues it while another thread's prompt
 * waits for a line. */
static void out_emit(FILE *stream, const char *p, size_t n)
{
    pthread_mutex_lock(&out_lock);
    if (!prompt.active || pthread_equal(pthread_self(), prompt.owner) ||
        out_queue_locked(stream, p, n) != 0)
        out_write_locked(stream, p, n);
    pthread_mutex_unlock(&out_lock);
}

/* Formats into a cli_buf and emits it. */
static void out_vprintf(FILE *stream, const char *fmt, va_list ap)
{
    cli_buf b;

    cli_buf_init(&b);
    cli_buf_vprintf(&b, fmt, ap);
    if (b.failed)
        out_emit(stderr, "error: out of memory\n", 21);
    else
        out_emit(stream, cli_buf_str(&b), b.len);
    cli_buf_free(&b);
}

int cli_out_buf(const cli_buf *b)
{
    if (b->failed) {
        cli_err_printf("error: out of memory\n");
        return -1;
    }
    out_emit(stdout, b->data ? b->data : "", b->len);
    return 0;
}

void cli_out_printf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    out_vprintf(stdout, fmt, ap);
    va_end(ap);
}

void cli_err_printf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    out_vprintf(stderr, fmt, ap);
    va_end(ap);
}

/* Writes and frees everything queued, oldest first. */
static void out_write_queue_locked(void)
{
    queued_out *q;

    while ((q = prompt.head) != NULL) {
        prompt.head = q->next;
        out_write_locked(q->stream, q->data, q->len);
        free(q);
    }
    prompt.tail = NULL;
    fflush(stdout);
}

void cli_out_prompt_begin(int wake_fd)
{
    pthread_mutex_lock(&out_lock);
    prompt.active = 1;
    prompt.owner = pthread_self();
    prompt.wake_fd = wake_fd;
    pthread_mutex_unlock(&out_lock);
}

int cli_out_prompt_drain(void (*before)(void *ctx), void *ctx)
{
    int any;

    pthread_mutex_lock(&out_lock);
    any = prompt.head != NULL;
    if (any) {
        before(ctx);
        out_write_queue_locked();
    }
    pthread_mutex_unlock(&out_lock);
    return any;
}

void cli_out_prompt_end(void)
{
    pthread_mutex_lock(&out_lock);
    prompt.active = 0;
    out_write_queue_locked();
    pthread_mutex_unlock(&out_lock);
}

void cli_out_flush(void)
{
    pthread_mutex_lock(&out_lock);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}
