/*
 * parse.h: turning one command line into arguments, and arguments into
 * numbers.
 *
 * The command language is deliberately small:
 *   - Arguments are separated by unquoted blanks (space, tab, CR, LF).
 *   - "..." groups bytes, blanks included, into one argument. Inside quotes
 *     the escapes \n \r \t \0 \\ \" and \xNN (two hex digits, either case)
 *     stand for one byte each, so every byte string can be typed. These are
 *     exactly the escapes the shell prints in its b"..." form, and a leading b
 *     before the opening quote is accepted and ignored, so a key copied from
 *     scan output (b"k\x00") can be pasted back as an argument.
 *   - '...' groups bytes like "..." but without escapes: every byte up to
 *     the next ' stands for itself (as in the POSIX shell and sqlite3), so
 *     'a\b' is the three bytes a, \, b. A ' cannot appear inside; use
 *     "'" or \x27 in double quotes.
 *   - Outside quotes every byte stands for itself, backslashes included.
 *     Quoted and unquoted parts next to each other join into one argument,
 *     as in the POSIX shell: ab"c d" is the single argument "abc d", and
 *     'it'"'"'s' is it's.
 *
 * Nothing here touches the engine or prints; errors come back as a message in
 * a caller-supplied buffer. The functions keep no state and are safe to call
 * from any thread.
 */
#ifndef CLI_PARSE_H
#define CLI_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* One argument. bytes is NUL-terminated for convenience, but may also hold
 * NUL bytes of its own (typed as \0 or \x00): n_bytes is the real length. */
typedef struct cli_arg {
    char *bytes;
    size_t n_bytes;
} cli_arg;

/* The arguments of one line. The first one, if any, is the command name. */
typedef struct cli_argv {
    size_t n_args;
    cli_arg *args;
    char *storage; /* one block holding every argument's bytes */
} cli_argv;

/* Splits line[0..n_line) into *out. Returns LSM_OK, LSM_EINVAL with a
 * one-line message in err (unterminated quote, bad escape), or LSM_ENOMEM.
 * On success the caller frees *out with cli_argv_free; on failure *out is
 * left empty and needs no freeing (freeing it is harmless). A blank line
 * gives zero arguments. */
int cli_tokenize(const char *line, size_t n_line, cli_argv *out, char *err,
                 size_t n_err);

/* Frees what cli_tokenize allocated and empties *a. NULL-safe. */
void cli_argv_free(cli_argv *a);

/* Outcome of cli_parse_u64. */
typedef enum cli_num_status {
    CLI_NUM_OK = 0,
    CLI_NUM_NOT_A_NUMBER = 1, /* empty, or anything but decimal digits */
    CLI_NUM_TOO_LARGE = 2     /* digits only, but above the maximum */
} cli_num_status;

/* Parses s[0..n) as an unsigned decimal integer no greater than max. Only the
 * digits 0-9 are accepted: no sign, no blanks, no hex, no suffix, so that a
 * typo like "1x" or "-1" is reported rather than silently read as a number. */
cli_num_status cli_parse_u64(const char *s, size_t n, uint64_t max,
                             uint64_t *out);

/* The value of the hex digit c (either case), or -1: for \xNN escapes in
 * arguments and in --prefix-delim. */
int cli_hex_digit(char c);

#endif /* CLI_PARSE_H */
