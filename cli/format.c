/*
 * format.c: byte escaping (Rust's Debug for byte strings) and serialized
 * output for lsm-cli. See format.h for the rules.
 *
 * Thread safety: cli_buf values belong to one thread. The cli_out_* and
 * cli_err_* functions may be called from any thread; out_lock makes each
 * call atomic with respect to the others. Nothing here calls the engine, so
 * the lock is never held across engine work (an engine thread reporting an
 * event can always get it).
 */
#include "format.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

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

int cli_out_buf(const cli_buf *b)
{
    if (b->failed) {
        cli_err_printf("error: out of memory\n");
        return -1;
    }
    pthread_mutex_lock(&out_lock);
    if (b->len > 0)
        fwrite(b->data, 1, b->len, stdout);
    pthread_mutex_unlock(&out_lock);
    return 0;
}

void cli_out_printf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    pthread_mutex_lock(&out_lock);
    vfprintf(stdout, fmt, ap);
    pthread_mutex_unlock(&out_lock);
    va_end(ap);
}

void cli_err_printf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    pthread_mutex_lock(&out_lock);
    fflush(stdout);
    vfprintf(stderr, fmt, ap);
    fflush(stderr);
    pthread_mutex_unlock(&out_lock);
    va_end(ap);
}

void cli_out_flush(void)
{
    pthread_mutex_lock(&out_lock);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}
