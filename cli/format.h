/*
 * format.h: how lsm-cli shows bytes, and the one place that writes output.
 *
 * Bytes are shown as Rust's Debug shows a byte string (mini-lsm prints keys
 * and values that way): b"...", printable ASCII 0x20..0x7e as is except \ and
 * ", the escapes \n \r \t \\ \" \0, and \xNN in lower-case hex for every
 * other byte. A key echoed in a reply (get, del, put) is shown as typed when
 * it is "plain" (printable ASCII other than space, quote and backslash),
 * otherwise in the b"..." form, so the reply can always be read back.
 *
 * Output: every line the shell prints goes through cli_out_* / cli_err_*,
 * which hold one process-wide mutex, so event lines printed by an engine
 * thread (--background) never interleave with a command's output within a
 * line, and stdout is flushed before anything goes to stderr so that a
 * 2>&1 transcript keeps the order in which things happened.
 */
#ifndef CLI_FORMAT_H
#define CLI_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* A growable byte buffer used to build one line (or a few) before writing
 * it. An allocation failure is sticky: later appends do nothing and
 * cli_buf_failed says so, so callers check once, at the end. */
typedef struct cli_buf {
    char *data; /* NUL-terminated when not NULL */
    size_t len;
    size_t cap;
    int failed;
} cli_buf;

void cli_buf_init(cli_buf *b);
/* Frees the bytes and empties b. NULL-safe. */
void cli_buf_free(cli_buf *b);
/* Empties b but keeps its memory (and clears a failure). */
void cli_buf_reset(cli_buf *b);
int cli_buf_failed(const cli_buf *b);
/* The bytes so far, NUL-terminated; "" when empty. Owned by b, valid until
 * the next append, reset or free. */
const char *cli_buf_str(const cli_buf *b);

void cli_buf_append(cli_buf *b, const void *p, size_t n);
void cli_buf_printf(cli_buf *b, const char *fmt, ...) CLI_PRINTF(2, 3);
void cli_buf_vprintf(cli_buf *b, const char *fmt, va_list ap);
/* Appends p[0..n) in the b"..." form. */
void cli_buf_append_bytes(cli_buf *b, const void *p, size_t n);
/* Appends a key the way a reply shows it: as typed if plain, else b"...". */
void cli_buf_append_key(cli_buf *b, const void *p, size_t n);

/* 1 if p[0..n) is non-empty printable ASCII without space, " or \. */
int cli_key_is_plain(const void *p, size_t n);

/* Writes b's bytes to stdout under the output lock. If b failed to grow,
 * writes "error: out of memory" to stderr instead and returns -1. */
int cli_out_buf(const cli_buf *b);
/* printf to stdout under the output lock. */
void cli_out_printf(const char *fmt, ...) CLI_PRINTF(1, 2);
/* printf to stderr under the output lock, after flushing stdout. */
void cli_err_printf(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Flushes stdout under the output lock. */
void cli_out_flush(void);

/* The terminal prompt (repl.c). Between cli_out_prompt_begin and
 * cli_out_prompt_end the calling thread waits for a line, and output from
 * every other thread (engine events, --background) is queued, so it never
 * lands in the middle of the line being typed; each queued piece writes a
 * byte to wake_fd (a non-blocking pipe) to wake the prompt. The prompt's
 * own output (completion lists) is written as usual. */
void cli_out_prompt_begin(int wake_fd);
/* On the prompt's thread: if anything was queued, calls before(ctx) (to
 * clear the line being typed) and writes the queue, all under the output
 * lock. Returns 1 if it wrote anything (the caller redraws the line). */
int cli_out_prompt_drain(void (*before)(void *ctx), void *ctx);
/* Ends the prompt and writes whatever is still queued. */
void cli_out_prompt_end(void);

#endif /* CLI_FORMAT_H */
