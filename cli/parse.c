/*
 * parse.c: the tokenizer and number parser of lsm-cli (see parse.h for the
 * language).
 *
 * Invariant: an argument never holds more bytes than the input it came from,
 * and there are never more arguments than input bytes, so one storage block
 * of 2 * n_line + 1 bytes holds every argument plus its terminating NUL and
 * is allocated once per line; argument pointers into it stay valid while the
 * args array grows.
 */
#include "parse.h"

#include "lsm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int cli_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_fail(char *err, size_t n_err, const char *fmt, ...)
{
    va_list ap;

    if (err && n_err > 0) {
        va_start(ap, fmt);
        vsnprintf(err, n_err, fmt, ap);
        va_end(ap);
    }
    return LSM_EINVAL;
}

/* Decodes the escape whose backslash is at line[*i] (inside quotes), stores
 * the byte in *byte and moves *i past the escape. Escapes are the ones the
 * shell prints, so whatever it shows can be typed back. */
static int parse_escape(const char *line, size_t n_line, size_t *i, char *byte,
                        char *err, size_t n_err)
{
    size_t at = *i;
    char c;
    int hi, lo;

    if (at + 1 >= n_line)
        return parse_fail(err, n_err,
                          "unterminated quote: the line ends after a "
                          "backslash at column %zu",
                          at + 1);
    c = line[at + 1];
    switch (c) {
    case 'n':
        *byte = '\n';
        break;
    case 'r':
        *byte = '\r';
        break;
    case 't':
        *byte = '\t';
        break;
    case '0':
        *byte = '\0';
        break;
    case '\\':
        *byte = '\\';
        break;
    case '"':
        *byte = '"';
        break;
    case 'x':
        hi = at + 2 < n_line ? cli_hex_digit(line[at + 2]) : -1;
        lo = at + 3 < n_line ? cli_hex_digit(line[at + 3]) : -1;
        if (hi < 0 || lo < 0)
            return parse_fail(err, n_err,
                              "bad escape at column %zu: \\x needs two hex "
                              "digits, as in \\x0a",
                              at + 1);
        *byte = (char)(unsigned char)(hi * 16 + lo);
        *i = at + 4;
        return LSM_OK;
    default:
        if ((unsigned char)c >= 0x21 && (unsigned char)c <= 0x7e)
            return parse_fail(err, n_err,
                              "bad escape \\%c at column %zu: inside quotes "
                              "use \\n \\r \\t \\0 \\\\ \\\" or \\xNN",
                              c, at + 1);
        return parse_fail(err, n_err,
                          "bad escape at column %zu: inside quotes use \\n "
                          "\\r \\t \\0 \\\\ \\\" or \\xNN",
                          at + 1);
    }
    *i = at + 2;
    return LSM_OK;
}

/* Copies the quoted part whose opening quote is at line[*i] into dst,
 * adding its length to *n_dst, and moves *i past the closing quote. */
static int parse_quoted(const char *line, size_t n_line, size_t *i, char *dst,
                        size_t *n_dst, char *err, size_t n_err)
{
    size_t open_at = *i;
    size_t at = open_at + 1;
    int rc;

    while (at < n_line && line[at] != '"') {
        if (line[at] == '\\') {
            rc = parse_escape(line, n_line, &at, &dst[*n_dst], err, n_err);
            if (rc != LSM_OK)
                return rc;
        } else {
            dst[*n_dst] = line[at++];
        }
        (*n_dst)++;
    }
    if (at >= n_line)
        return parse_fail(err, n_err,
                          "unterminated quote: the \" at column %zu needs a "
                          "closing \"",
                          open_at + 1);
    *i = at + 1;
    return LSM_OK;
}

/* Copies the single-quoted part whose opening quote is at line[*i] into
 * dst, as the POSIX shell does: every byte up to the closing ' stands for
 * itself, backslashes included, so a Windows path or a regex needs no
 * doubling. */
static int parse_single_quoted(const char *line, size_t n_line, size_t *i,
                               char *dst, size_t *n_dst, char *err,
                               size_t n_err)
{
    const char *close = memchr(line + *i + 1, '\'', n_line - *i - 1);
    size_t n;

    if (!close)
        return parse_fail(err, n_err,
                          "unterminated quote: the ' at column %zu needs a "
                          "closing '",
                          *i + 1);
    n = (size_t)(close - (line + *i + 1));
    memcpy(dst + *n_dst, line + *i + 1, n);
    *n_dst += n;
    *i = (size_t)(close - line) + 1;
    return LSM_OK;
}

/* Appends one argument to a, growing the array geometrically. */
static int parse_push(cli_argv *a, size_t *cap, char *bytes, size_t n_bytes)
{
    cli_arg *grown;
    size_t new_cap;

    if (a->n_args == *cap) {
        new_cap = *cap ? *cap * 2 : 8;
        grown = realloc(a->args, new_cap * sizeof *grown);
        if (!grown)
            return LSM_ENOMEM;
        a->args = grown;
        *cap = new_cap;
    }
    a->args[a->n_args].bytes = bytes;
    a->args[a->n_args].n_bytes = n_bytes;
    a->n_args++;
    return LSM_OK;
}

int cli_tokenize(const char *line, size_t n_line, cli_argv *out, char *err,
                 size_t n_err)
{
    cli_argv a = {0};
    size_t cap = 0, used = 0, i = 0, n;
    char *tok;
    int rc = LSM_OK;

    memset(out, 0, sizeof *out);
    if (err && n_err > 0)
        err[0] = '\0';
    if (n_line > (SIZE_MAX - 1) / 2)
        return LSM_ENOMEM;
    a.storage = malloc(2 * n_line + 1);
    if (!a.storage)
        return LSM_ENOMEM;

    for (;;) {
        while (i < n_line && parse_is_blank(line[i]))
            i++;
        if (i == n_line)
            break;
        tok = a.storage + used;
        n = 0;
        /* b"..." is the form the shell prints; the b is only a marker. */
        if (line[i] == 'b' && i + 1 < n_line && line[i + 1] == '"')
            i++;
        while (i < n_line && !parse_is_blank(line[i])) {
            if (line[i] == '"' || line[i] == '\'') {
                rc = line[i] == '"'
                         ? parse_quoted(line, n_line, &i, tok, &n, err, n_err)
                         : parse_single_quoted(line, n_line, &i, tok, &n, err,
                                               n_err);
                if (rc != LSM_OK)
                    goto out;
            } else {
                tok[n++] = line[i++];
            }
        }
        tok[n] = '\0';
        used += n + 1;
        rc = parse_push(&a, &cap, tok, n);
        if (rc != LSM_OK)
            goto out;
    }
    *out = a;
    return LSM_OK;
out:
    cli_argv_free(&a);
    return rc;
}

void cli_argv_free(cli_argv *a)
{
    if (!a)
        return;
    free(a->args);
    free(a->storage);
    memset(a, 0, sizeof *a);
}

cli_num_status cli_parse_u64(const char *s, size_t n, uint64_t max,
                             uint64_t *out)
{
    uint64_t v = 0;
    unsigned digit;
    size_t i;
    int too_large = 0;

    if (n == 0)
        return CLI_NUM_NOT_A_NUMBER;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return CLI_NUM_NOT_A_NUMBER;
        digit = (unsigned)(s[i] - '0');
        /* Keep scanning after an overflow: "99999999999999999999x" is not
         * a number at all, which is the more useful thing to say. */
        if (too_large || digit > max || v > (max - digit) / 10)
            too_large = 1;
        else
            v = v * 10 + digit;
    }
    if (too_large)
        return CLI_NUM_TOO_LARGE;
    *out = v;
    return CLI_NUM_OK;
}
