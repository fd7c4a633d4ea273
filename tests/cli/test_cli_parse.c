/*
 * test_cli_parse.c: unit tests of lsm-cli's tokenizer (cli/parse.c) and
 * byte escaper (cli/format.c), which decide what a typed line means and
 * how bytes are shown. They need no database.
 *
 * Besides the cases written out, two properties are checked on random
 * input with a fixed seed: every byte string printed in the b"..." form
 * tokenizes back to the same bytes, and arbitrary lines never make the
 * tokenizer read or write out of bounds (run under ASan to see that).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "format.h"
#include "parse.h"

#include "lsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tokenizes a NUL-terminated line, asserting success. */
static void tokenize_ok(const char *line, cli_argv *a)
{
    char err[256];
    int rc = cli_tokenize(line, strlen(line), a, err, sizeof err);

    if (rc != LSM_OK)
        fail_msg("tokenizing [%s] failed: %s", line, err);
}

/* Tokenizes a line that must be rejected; returns the message. */
static void tokenize_bad(const char *line, char *err, size_t n_err)
{
    cli_argv a;
    int rc = cli_tokenize(line, strlen(line), &a, err, n_err);

    assert_int_equal(rc, LSM_EINVAL);
    assert_int_equal(a.n_args, 0);
    assert_null(a.args);
    assert_true(strlen(err) > 0);
    cli_argv_free(&a);
}

static void assert_arg(const cli_argv *a, size_t i, const void *bytes,
                       size_t n_bytes)
{
    assert_true(i < a->n_args);
    assert_int_equal(a->args[i].n_bytes, n_bytes);
    assert_memory_equal(a->args[i].bytes, bytes, n_bytes);
    assert_int_equal(a->args[i].bytes[n_bytes], '\0');
}

static void test_blank_lines_have_no_arguments(void **state)
{
    static const char *const blanks[] = {"", " ", "\t \r\n", "\n"};
    cli_argv a;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof blanks / sizeof blanks[0]; i++) {
        tokenize_ok(blanks[i], &a);
        assert_int_equal(a.n_args, 0);
        cli_argv_free(&a);
    }
}

static void test_blanks_separate_arguments(void **state)
{
    cli_argv a;

    (void)state;
    tokenize_ok("  fill\t1000   3000\r\n", &a);
    assert_int_equal(a.n_args, 3);
    assert_arg(&a, 0, "fill", 4);
    assert_arg(&a, 1, "1000", 4);
    assert_arg(&a, 2, "3000", 4);
    cli_argv_free(&a);
}

static void test_quotes_group_blanks(void **state)
{
    cli_argv a;

    (void)state;
    tokenize_ok("put \"my  key\" \" v \"", &a);
    assert_int_equal(a.n_args, 3);
    assert_arg(&a, 1, "my  key", 7);
    assert_arg(&a, 2, " v ", 3);
    cli_argv_free(&a);
}

static void test_empty_quotes_are_an_empty_argument(void **state)
{
    cli_argv a;

    (void)state;
    tokenize_ok("put k \"\"", &a);
    assert_int_equal(a.n_args, 3);
    assert_arg(&a, 2, "", 0);
    cli_argv_free(&a);

    tokenize_ok("\"\" \"\"", &a);
    assert_int_equal(a.n_args, 2);
    assert_arg(&a, 0, "", 0);
    assert_arg(&a, 1, "", 0);
    cli_argv_free(&a);
}

static void test_every_escape(void **state)
{
    static const char expect[] = {'\n', '\r', '\t',   '\0',   '\\',
                                  '"',  'A',  '\xff', '\xab', '\x00'};
    cli_argv a;

    (void)state;
    tokenize_ok("\"\\n\\r\\t\\0\\\\\\\"\\x41\\xfF\\xAb\\x00\"", &a);
    assert_int_equal(a.n_args, 1);
    assert_arg(&a, 0, expect, sizeof expect);
    cli_argv_free(&a);
}

static void test_parts_join_like_the_shell(void **state)
{
    cli_argv a;

    (void)state;
    tokenize_ok("ab\"c d\"e \"x\"\"y\"", &a);
    assert_int_equal(a.n_args, 2);
    assert_arg(&a, 0, "abc de", 6);
    assert_arg(&a, 1, "xy", 2);
    cli_argv_free(&a);
}

static void test_backslash_outside_quotes_is_literal(void **state)
{
    cli_argv a;

    (void)state;
    tokenize_ok("get a\\nb \\x41", &a);
    assert_int_equal(a.n_args, 3);
    assert_arg(&a, 1, "a\\nb", 4);
    assert_arg(&a, 2, "\\x41", 4);
    cli_argv_free(&a);
}

static void test_b_prefix_reads_printed_bytes(void **state)
{
    cli_argv a;

    (void)state;
    tokenize_ok("get b\"k\\x00\" b bx\"y\" ab\"c\" b\"\"", &a);
    assert_int_equal(a.n_args, 6);
    assert_arg(&a, 1, "k\0", 2);
    assert_arg(&a, 2, "b", 1);   /* a lone b is just b */
    assert_arg(&a, 3, "bxy", 3); /* only b" is the marker */
    assert_arg(&a, 4, "abc", 3); /* only at the start of an argument */
    assert_arg(&a, 5, "", 0);
    cli_argv_free(&a);
}

/* '...' quotes like "..." but takes every byte as it is, as the POSIX
 * shell and sqlite3 do: no escapes, and no b prefix. */
static void test_single_quotes_have_no_escapes(void **state)
{
    cli_argv a;

    (void)state;
    tokenize_ok("put 'my key' 'a\\nb\\x41\\' '' it'\"'s b'x' 'caf\xc3\xa9'",
                &a);
    assert_int_equal(a.n_args, 7);
    assert_arg(&a, 1, "my key", 6);
    assert_arg(&a, 2, "a\\nb\\x41\\", 9);
    assert_arg(&a, 3, "", 0);
    assert_arg(&a, 4, "it\"s", 4); /* a " inside ' is just a byte */
    assert_arg(&a, 5, "bx", 2);    /* b' is not the b" marker */
    assert_arg(&a, 6, "caf\xc3\xa9", 5);
    cli_argv_free(&a);
    tokenize_ok("'it'\"'\"'s'", &a); /* the shell's way to quote a ' */
    assert_int_equal(a.n_args, 1);
    assert_arg(&a, 0, "it's", 4);
    cli_argv_free(&a);
}

static void test_unterminated_quote(void **state)
{
    char err[256];

    (void)state;
    tokenize_bad("put \"abc", err, sizeof err);
    assert_non_null(strstr(err, "unterminated quote"));
    assert_non_null(strstr(err, "column 5"));
    tokenize_bad("\"", err, sizeof err);
    assert_non_null(strstr(err, "unterminated quote"));
    tokenize_bad("\"abc\\\"", err, sizeof err); /* the quote is escaped */
    assert_non_null(strstr(err, "unterminated quote"));
    tokenize_bad("\"abc\\", err, sizeof err);
    assert_non_null(strstr(err, "unterminated quote"));
    /* \ does not escape ': 'it\' is it\, and the last ' opens a quote */
    tokenize_bad("put 'it\\'s'", err, sizeof err);
    assert_string_equal(err, "unterminated quote: the ' at column 11 needs a "
                             "closing '");
}

static void test_bad_hex_escapes(void **state)
{
    static const char *const bad[] = {
        "\"\\xZZ\"", "\"\\x4\"", "\"\\x\"", "\"\\xg0\"", "\"\\x0", "\"\\x",
    };
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tokenize_bad(bad[i], err, sizeof err);
        assert_non_null(strstr(err, "two hex digits"));
        assert_non_null(strstr(err, "column 2"));
    }
}

static void test_unknown_escape(void **state)
{
    char err[256];

    (void)state;
    tokenize_bad("get \"a\\qb\"", err, sizeof err);
    assert_non_null(strstr(err, "bad escape \\q"));
    assert_non_null(strstr(err, "column 7"));
    /* A control byte after the backslash is not echoed into the message. */
    tokenize_bad("\"\\\x01\"", err, sizeof err);
    assert_null(strchr(err, '\x01'));
}

static void test_error_buffer_is_optional(void **state)
{
    char tiny[4];
    cli_argv a;

    (void)state;
    assert_int_equal(cli_tokenize("\"x", 2, &a, NULL, 0), LSM_EINVAL);
    assert_int_equal(cli_tokenize("\"x", 2, &a, tiny, sizeof tiny), LSM_EINVAL);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    cli_argv_free(&a);
    cli_argv_free(NULL);
}

static void test_embedded_nul_in_line(void **state)
{
    static const char line[] = {'p', 'u', 't', ' ', 'a', '\0', 'b', ' ', 'v'};
    char err[64];
    cli_argv a;

    (void)state;
    assert_int_equal(cli_tokenize(line, sizeof line, &a, err, sizeof err),
                     LSM_OK);
    assert_int_equal(a.n_args, 3);
    assert_arg(&a, 1, "a\0b", 3);
    cli_argv_free(&a);
}

/* Many one-byte arguments: the worst case of the storage bound. */
static void test_many_short_arguments(void **state)
{
    size_t n = 10001, i;
    char *line = malloc(n * 2);
    cli_argv a;

    (void)state;
    assert_non_null(line);
    for (i = 0; i < n; i++) {
        line[2 * i] = (char)('a' + i % 26);
        line[2 * i + 1] = ' ';
    }
    line[2 * n - 1] = '\0';
    tokenize_ok(line, &a);
    assert_int_equal(a.n_args, n);
    for (i = 0; i < n; i++)
        assert_int_equal(a.args[i].bytes[0], 'a' + i % 26);
    cli_argv_free(&a);
    free(line);
}

/* The escaping table, byte by byte, against an independent statement of
 * Rust's byte-string Debug rules. */
static void test_escape_table(void **state)
{
    char expect[8];
    unsigned char c;
    cli_buf b;
    int i;

    (void)state;
    cli_buf_init(&b);
    for (i = 0; i < 256; i++) {
        c = (unsigned char)i;
        if (c == '\n')
            strcpy(expect, "b\"\\n\"");
        else if (c == '\r')
            strcpy(expect, "b\"\\r\"");
        else if (c == '\t')
            strcpy(expect, "b\"\\t\"");
        else if (c == '\0')
            strcpy(expect, "b\"\\0\"");
        else if (c == '\\' || c == '"')
            snprintf(expect, sizeof expect, "b\"\\%c\"", c);
        else if (c >= 0x20 && c < 0x7f)
            snprintf(expect, sizeof expect, "b\"%c\"", c);
        else
            snprintf(expect, sizeof expect, "b\"\\x%02x\"", c);
        cli_buf_reset(&b);
        cli_buf_append_bytes(&b, &c, 1);
        assert_string_equal(cli_buf_str(&b), expect);
    }
    cli_buf_free(&b);
}

static void test_escape_strings(void **state)
{
    cli_buf b;

    (void)state;
    cli_buf_init(&b);
    assert_string_equal(cli_buf_str(&b), "");
    cli_buf_append_bytes(&b, "", 0);
    assert_string_equal(cli_buf_str(&b), "b\"\"");
    cli_buf_reset(&b);
    cli_buf_append_bytes(&b, "value2333@0", 11);
    assert_string_equal(cli_buf_str(&b), "b\"value2333@0\"");
    cli_buf_reset(&b);
    cli_buf_append_bytes(&b, "a \"q\"\x7f\x80\xff", 8);
    assert_string_equal(cli_buf_str(&b), "b\"a \\\"q\\\"\\x7f\\x80\\xff\"");
    cli_buf_free(&b);
}

static void test_key_display(void **state)
{
    cli_buf b;

    (void)state;
    assert_true(cli_key_is_plain("2333", 4));
    assert_true(cli_key_is_plain("a~!#", 4));
    assert_false(cli_key_is_plain("", 0));
    assert_false(cli_key_is_plain("a b", 3));
    assert_false(cli_key_is_plain("a\"", 2));
    assert_false(cli_key_is_plain("a\\", 2));
    assert_false(cli_key_is_plain("a\x7f", 2));
    assert_false(cli_key_is_plain("a\0", 2));

    cli_buf_init(&b);
    cli_buf_append_key(&b, "2333", 4);
    assert_string_equal(cli_buf_str(&b), "2333");
    cli_buf_reset(&b);
    cli_buf_append_key(&b, "my key", 6);
    assert_string_equal(cli_buf_str(&b), "b\"my key\"");
    cli_buf_free(&b);
}

static void test_buf_printf_grows(void **state)
{
    cli_buf b;
    size_t i;

    (void)state;
    cli_buf_init(&b);
    for (i = 0; i < 1000; i++)
        cli_buf_printf(&b, "%05zu,", i);
    assert_false(cli_buf_failed(&b));
    assert_int_equal(b.len, 6000);
    assert_memory_equal(b.data + 5994, "00999,", 6);
    cli_buf_free(&b);
}

/* Whatever bytes a value holds, its printed form reads back as the same
 * bytes, so anything the shell shows can be typed. */
static void test_printed_form_reads_back(void **state)
{
    unsigned char bytes[64];
    char err[256];
    cli_argv a;
    cli_buf b;
    size_t n, i;
    int round;

    (void)state;
    srand(20240601);
    cli_buf_init(&b);
    for (round = 0; round < 2000; round++) {
        n = (size_t)rand() % sizeof bytes;
        for (i = 0; i < n; i++)
            bytes[i] = (unsigned char)rand();
        cli_buf_reset(&b);
        cli_buf_append(&b, "get ", 4);
        cli_buf_append_bytes(&b, bytes, n);
        assert_int_equal(cli_tokenize(b.data, b.len, &a, err, sizeof err),
                         LSM_OK);
        assert_int_equal(a.n_args, 2);
        assert_arg(&a, 1, bytes, n);
        cli_argv_free(&a);
    }
    cli_buf_free(&b);
}

/* Random lines made of the bytes that matter to the tokenizer: it either
 * succeeds with arguments no longer than the line or fails cleanly. */
static void test_random_lines_never_break(void **state)
{
    static const char alphabet[] = "ab \t\"'\\x0fZ\n";
    char line[48], err[128];
    size_t n, i, k, total;
    cli_argv a;
    int round, rc;

    (void)state;
    srand(7);
    for (round = 0; round < 20000; round++) {
        n = (size_t)rand() % sizeof line;
        for (i = 0; i < n; i++)
            line[i] = alphabet[(size_t)rand() % (sizeof alphabet - 1)];
        rc = cli_tokenize(line, n, &a, err, sizeof err);
        if (rc != LSM_OK) {
            assert_int_equal(rc, LSM_EINVAL);
            assert_int_equal(a.n_args, 0);
            continue;
        }
        total = 0;
        for (k = 0; k < a.n_args; k++)
            total += a.args[k].n_bytes;
        assert_true(total <= n);
        cli_argv_free(&a);
    }
}

static void test_parse_u64(void **state)
{
    uint64_t v = 42;

    (void)state;
    assert_int_equal(cli_parse_u64("0", 1, UINT64_MAX, &v), CLI_NUM_OK);
    assert_int_equal(v, 0);
    assert_int_equal(cli_parse_u64("007", 3, UINT64_MAX, &v), CLI_NUM_OK);
    assert_int_equal(v, 7);
    assert_int_equal(cli_parse_u64("18446744073709551615", 20, UINT64_MAX, &v),
                     CLI_NUM_OK);
    assert_true(v == UINT64_MAX);
    assert_int_equal(cli_parse_u64("18446744073709551616", 20, UINT64_MAX, &v),
                     CLI_NUM_TOO_LARGE);
    assert_int_equal(
        cli_parse_u64("99999999999999999999999", 23, UINT64_MAX, &v),
        CLI_NUM_TOO_LARGE);
    assert_int_equal(cli_parse_u64("99999999999999999999x", 21, UINT64_MAX, &v),
                     CLI_NUM_NOT_A_NUMBER);
    assert_int_equal(cli_parse_u64("10", 2, 10, &v), CLI_NUM_OK);
    assert_int_equal(v, 10);
    assert_int_equal(cli_parse_u64("11", 2, 10, &v), CLI_NUM_TOO_LARGE);
    assert_int_equal(cli_parse_u64("7", 1, 5, &v), CLI_NUM_TOO_LARGE);
    v = 42;
    assert_int_equal(cli_parse_u64("", 0, UINT64_MAX, &v),
                     CLI_NUM_NOT_A_NUMBER);
    assert_int_equal(cli_parse_u64("1x", 2, UINT64_MAX, &v),
                     CLI_NUM_NOT_A_NUMBER);
    assert_int_equal(cli_parse_u64("-1", 2, UINT64_MAX, &v),
                     CLI_NUM_NOT_A_NUMBER);
    assert_int_equal(cli_parse_u64("+1", 2, UINT64_MAX, &v),
                     CLI_NUM_NOT_A_NUMBER);
    assert_int_equal(cli_parse_u64(" 1", 2, UINT64_MAX, &v),
                     CLI_NUM_NOT_A_NUMBER);
    assert_int_equal(cli_parse_u64("0x10", 4, UINT64_MAX, &v),
                     CLI_NUM_NOT_A_NUMBER);
    assert_int_equal(cli_parse_u64("1\0", 2, UINT64_MAX, &v),
                     CLI_NUM_NOT_A_NUMBER);
    assert_int_equal(v, 42); /* failures leave *out alone */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blank_lines_have_no_arguments),
        cmocka_unit_test(test_blanks_separate_arguments),
        cmocka_unit_test(test_quotes_group_blanks),
        cmocka_unit_test(test_empty_quotes_are_an_empty_argument),
        cmocka_unit_test(test_every_escape),
        cmocka_unit_test(test_parts_join_like_the_shell),
        cmocka_unit_test(test_backslash_outside_quotes_is_literal),
        cmocka_unit_test(test_b_prefix_reads_printed_bytes),
        cmocka_unit_test(test_single_quotes_have_no_escapes),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_bad_hex_escapes),
        cmocka_unit_test(test_unknown_escape),
        cmocka_unit_test(test_error_buffer_is_optional),
        cmocka_unit_test(test_embedded_nul_in_line),
        cmocka_unit_test(test_many_short_arguments),
        cmocka_unit_test(test_escape_table),
        cmocka_unit_test(test_escape_strings),
        cmocka_unit_test(test_key_display),
        cmocka_unit_test(test_buf_printf_grows),
        cmocka_unit_test(test_printed_form_reads_back),
        cmocka_unit_test(test_random_lines_never_break),
        cmocka_unit_test(test_parse_u64),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
