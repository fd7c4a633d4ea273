/*
 * test_cli_options.c: unit tests of lsm-cli's command line (cli/options.c):
 * the compaction strategy's unsigned options (each sets its own field of
 * lsm_options and nothing else, in both "--name N" and "--name=N" forms,
 * takes exactly its documented range, refuses junk with a message naming
 * the option and the value), the older options around them, and the
 * --help text (one line per option under "compaction:", with the engine's
 * defaults, within 80 columns).
 *
 * The ranges below are written out independently of options.c, from
 * lsm.h's documentation, so a change to either shows up here. Random
 * command lines (fixed seed) check that parsing always ends in 0 or 2,
 * with a message exactly when it fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "options.h"

#include "lsm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What each strategy option must accept: min..max, and 0 if zero_ok. */
typedef struct expected_option {
    const char *name;
    size_t offset;
    unsigned min;
    unsigned max;
    int zero_ok;
} expected_option;

#define FIELD(f) offsetof(lsm_options, f)

static const expected_option expected[] = {
    {"--max-levels", FIELD(max_levels), 1, 16, 0},
    {"--level0-file-num-compaction-trigger",
     FIELD(level0_file_num_compaction_trigger), 1, UINT_MAX, 0},
    {"--size-ratio-percent", FIELD(size_ratio_percent), 1, UINT_MAX, 0},
    {"--base-level-size-mb", FIELD(base_level_size_mb), 1, UINT_MAX, 0},
    {"--level-size-multiplier", FIELD(level_size_multiplier), 1, UINT_MAX, 0},
    {"--num-tiers", FIELD(num_tiers), 1, UINT_MAX, 0},
    {"--max-size-amplification-percent", FIELD(max_size_amplification_percent),
     0, UINT_MAX, 1},
    {"--size-ratio", FIELD(size_ratio), 0, UINT_MAX, 1},
    {"--min-merge-width", FIELD(min_merge_width), 2, UINT_MAX, 0},
    {"--max-merge-width", FIELD(max_merge_width), 2, UINT_MAX, 1},
    {"--stall-memtables", FIELD(stall_memtables), 1, UINT_MAX, 1},
    {"--stall-l0-files", FIELD(stall_l0_files), 1, UINT_MAX, 1},
};

#define N_EXPECTED (sizeof expected / sizeof expected[0])

static unsigned *field_of(lsm_options *o, const expected_option *e)
{
    return (unsigned *)(void *)((char *)o + e->offset);
}

/* Parses a NULL-terminated list of arguments (argv[0] is added). */
static int parse_args(cli_config *cfg, const char *const *args)
{
    char *argv[16];
    int argc = 0, status;

    argv[argc++] = "lsm-cli";
    for (; *args; args++) {
        assert_true(argc < 15);
        argv[argc++] = (char *)*args;
    }
    argv[argc] = NULL;
    status = cli_options_parse(cfg, argc, argv);
    return status;
}

/* Parses "NAME VALUE" (or "NAME=VALUE" when joined) and returns the status;
 * cfg keeps the result. */
static int parse_value(cli_config *cfg, const char *name, const char *value,
                       int joined)
{
    char both[128];
    const char *args[3] = {name, value, NULL};

    if (joined) {
        snprintf(both, sizeof both, "%s=%s", name, value);
        args[0] = both;
        args[1] = NULL;
    }
    return parse_args(cfg, args);
}

/* Asserts that NAME VALUE (both forms) sets the field to want and changes
 * nothing else. */
static void assert_sets(const expected_option *e, const char *value,
                        unsigned want)
{
    lsm_options defaults;
    cli_config cfg;
    int joined;

    lsm_options_init(&defaults);
    *field_of(&defaults, e) = want;
    for (joined = 0; joined < 2; joined++) {
        if (parse_value(&cfg, e->name, value, joined) != 0)
            fail_msg("%s %s refused: %s", e->name, value, cfg.error);
        assert_string_equal(cfg.error, "");
        assert_memory_equal(&cfg.opt, &defaults, sizeof defaults);
        cli_options_free(&cfg);
    }
}

/* Asserts that NAME VALUE (both forms) exits 2 with a message that names
 * the option, quotes the value and says what was wrong. */
static void assert_refused(const expected_option *e, const char *value,
                           const char *problem)
{
    char want[256];
    cli_config cfg;
    int joined;

    snprintf(want, sizeof want, "%s: '%s' is %s (expected ", e->name, value,
             problem);
    for (joined = 0; joined < 2; joined++) {
        assert_int_equal(parse_value(&cfg, e->name, value, joined),
                         CLI_EXIT_BAD_OPTION);
        if (strncmp(cfg.error, want, strlen(want)) != 0)
            fail_msg("got [%s], wanted it to start [%s]", cfg.error, want);
        cli_options_free(&cfg);
    }
}

static void test_no_arguments_gives_the_defaults(void **state)
{
    lsm_options defaults;
    cli_config cfg;
    const char *none[] = {NULL};

    (void)state;
    lsm_options_init(&defaults);
    assert_int_equal(parse_args(&cfg, none), 0);
    assert_memory_equal(&cfg.opt, &defaults, sizeof defaults);
    assert_string_equal(cfg.path, "lsm.db");
    assert_int_equal(cfg.n_inputs, 0);
    assert_null(cfg.inputs);
    cli_options_free(&cfg);
}

static void test_each_option_sets_its_own_field(void **state)
{
    char text[32];
    size_t i;

    (void)state;
    for (i = 0; i < N_EXPECTED; i++) {
        const expected_option *e = &expected[i];
        unsigned mid = e->min + (e->max - e->min) / 2;

        snprintf(text, sizeof text, "%u", e->min);
        assert_sets(e, text, e->min);
        snprintf(text, sizeof text, "%u", e->max);
        assert_sets(e, text, e->max);
        snprintf(text, sizeof text, "%u", mid);
        assert_sets(e, text, mid);
        /* leading zeros are still decimal */
        snprintf(text, sizeof text, "00%u", e->min + 1);
        assert_sets(e, text, e->min + 1);
        if (e->zero_ok)
            assert_sets(e, "0", 0);
    }
}

static void test_out_of_range_values_are_refused(void **state)
{
    char text[32];
    size_t i;

    (void)state;
    for (i = 0; i < N_EXPECTED; i++) {
        const expected_option *e = &expected[i];

        if (!e->zero_ok)
            assert_refused(e, "0", "zero");
        if (e->min > 1) {
            snprintf(text, sizeof text, "%u", e->min - 1);
            assert_refused(e, text, "too small");
        }
        snprintf(text, sizeof text, "%llu", (unsigned long long)e->max + 1);
        assert_refused(e, text, "too large");
        assert_refused(e, "99999999999999999999999", "too large");
    }
}

static void test_junk_is_not_a_number(void **state)
{
    static const char *const junk[] = {
        "",    "-1", "+1",  "1x", " 1", "1 ", "0x10",
        "1e3", "2.", "1,0", "x",  "--", "１", "99999999999999999999999x",
    };
    size_t i, j;

    (void)state;
    for (i = 0; i < N_EXPECTED; i++)
        for (j = 0; j < sizeof junk / sizeof junk[0]; j++)
            assert_refused(&expected[i], junk[j], "not a number");
}

/* The message says what would have been accepted, 0 included. */
static void test_messages_give_the_range(void **state)
{
    cli_config cfg;

    (void)state;
    assert_int_equal(parse_value(&cfg, "--max-levels", "17", 0), 2);
    assert_string_equal(cfg.error, "--max-levels: '17' is too large "
                                   "(expected a whole number from 1 to 16)");
    cli_options_free(&cfg);
    assert_int_equal(parse_value(&cfg, "--max-merge-width", "1", 1), 2);
    assert_string_equal(cfg.error,
                        "--max-merge-width: '1' is too small (expected 0 for "
                        "no limit, or a whole number from 2 to 4294967295)");
    cli_options_free(&cfg);
    assert_int_equal(parse_value(&cfg, "--stall-l0-files", "-3", 0), 2);
    assert_string_equal(cfg.error,
                        "--stall-l0-files: '-3' is not a number (expected 0 "
                        "for no stall, or a whole number from 1 to "
                        "4294967295)");
    cli_options_free(&cfg);
    assert_int_equal(parse_value(&cfg, "--size-ratio", "x", 0), 2);
    assert_string_equal(cfg.error, "--size-ratio: 'x' is not a number "
                                   "(expected a whole number from 0 to "
                                   "4294967295)");
    cli_options_free(&cfg);
}

static void test_missing_value(void **state)
{
    char want[128];
    cli_config cfg;
    const char *args[2] = {NULL, NULL};
    size_t i;

    (void)state;
    for (i = 0; i < N_EXPECTED; i++) {
        const char *name = expected[i].name;
        /* The message is built before parse_args: GCC's -O3 truncation
         * check otherwise warns that name might be NULL. */
        snprintf(want, sizeof want, "%s needs a value: %s N", name, name);
        args[0] = name;
        assert_int_equal(parse_args(&cfg, args), CLI_EXIT_BAD_OPTION);
        assert_string_equal(cfg.error, want);
        cli_options_free(&cfg);
    }
}

/* --size-ratio is a prefix of --size-ratio-percent: each sets its own
 * field, and a name with more after it is not either one. */
static void test_prefixes_are_not_confused(void **state)
{
    const char *a[] = {"--size-ratio=5", "--size-ratio-percent", "150", NULL};
    const char *b[] = {"--size-ratiox=5", NULL};
    const char *c[] = {"--max-levels3", NULL};
    lsm_options defaults;
    cli_config cfg;

    (void)state;
    lsm_options_init(&defaults);
    assert_int_equal(parse_args(&cfg, a), 0);
    assert_int_equal(cfg.opt.size_ratio, 5);
    assert_int_equal(cfg.opt.size_ratio_percent, 150);
    defaults.size_ratio = 5;
    defaults.size_ratio_percent = 150;
    assert_memory_equal(&cfg.opt, &defaults, sizeof defaults);
    cli_options_free(&cfg);
    assert_int_equal(parse_args(&cfg, b), CLI_EXIT_BAD_OPTION);
    assert_string_equal(
        cfg.error, "unknown option '--size-ratiox=5'; try 'lsm-cli --help'");
    cli_options_free(&cfg);
    assert_int_equal(parse_args(&cfg, c), CLI_EXIT_BAD_OPTION);
    assert_string_equal(cfg.error,
                        "unknown option '--max-levels3'; try 'lsm-cli --help'");
    cli_options_free(&cfg);
}

/* The strategy options mix with the others; the last of a repeated one
 * wins, as for every other option. */
static void test_mixed_with_other_options(void **state)
{
    const char *args[] = {"--compaction",
                          "tiered",
                          "--num-tiers",
                          "3",
                          "--target-sst-size=4096",
                          "--num-tiers=5",
                          "-c",
                          "dump",
                          "--max-merge-width",
                          "0",
                          "--path",
                          "db",
                          NULL};
    cli_config cfg;

    (void)state;
    assert_int_equal(parse_args(&cfg, args), 0);
    assert_int_equal(cfg.opt.compaction, LSM_COMPACTION_TIERED);
    assert_int_equal(cfg.opt.num_tiers, 5);
    assert_int_equal(cfg.opt.max_merge_width, 0);
    assert_int_equal(cfg.opt.target_sst_size, 4096);
    assert_int_equal(cfg.n_inputs, 1);
    assert_int_equal(cfg.inputs[0].kind, CLI_INPUT_COMMAND);
    assert_string_equal(cfg.inputs[0].text, "dump");
    assert_string_equal(cfg.path, "db");
    cli_options_free(&cfg);
    assert_null(cfg.inputs);
    cli_options_free(NULL);
}

/* --readonly sets lsm_options.read_only and nothing else. */
static void test_readonly_flag(void **state)
{
    const char *args[] = {"--readonly", "-c", "dump", NULL};
    lsm_options want;
    cli_config cfg;

    (void)state;
    lsm_options_init(&want);
    want.read_only = 1;
    assert_int_equal(parse_args(&cfg, args), 0);
    assert_memory_equal(&cfg.opt, &want, sizeof want);
    assert_int_equal(cfg.n_inputs, 1);
    cli_options_free(&cfg);
}

/* -c and --script keep the order of the command line, whatever it is. */
static void test_inputs_keep_their_order(void **state)
{
    const char *args[] = {"--script", "a.lsm",          "-c",
                          "get 1",    "--echo",         "-c",
                          "dump",     "--script=b.lsm", NULL};
    static const cli_input_kind kinds[] = {CLI_INPUT_SCRIPT, CLI_INPUT_COMMAND,
                                           CLI_INPUT_COMMAND, CLI_INPUT_SCRIPT};
    static const char *const texts[] = {"a.lsm", "get 1", "dump", "b.lsm"};
    cli_config cfg;
    size_t i;

    (void)state;
    assert_int_equal(parse_args(&cfg, args), 0);
    assert_int_equal(cfg.n_inputs, 4);
    for (i = 0; i < 4; i++) {
        assert_int_equal(cfg.inputs[i].kind, kinds[i]);
        assert_string_equal(cfg.inputs[i].text, texts[i]);
    }
    assert_true(cfg.echo);
    cli_options_free(&cfg);
}

/* An option where a value should be is a missing value, not the value:
 * "--path --echo" must not open a database named --echo. "-1" is still a
 * value (a bad number, reported as such), and --name=VALUE takes any
 * value. */
static void test_option_is_not_a_value(void **state)
{
    static const struct {
        const char *args[4];
        const char *error;
    } cases[] = {
        {{"--path", "--echo", NULL},
         "--path needs a value: --path DIR (got the option '--echo'; write "
         "--path=VALUE for a value starting with -)"},
        {{"--script", "-c", "dump", NULL},
         "--script needs a value: --script FILE (got the option '-c'; write "
         "--script=VALUE for a value starting with -)"},
        {{"-c", "--bail", NULL},
         "-c needs a value: -c CMD (got the option '--bail')"},
        {{"--max-levels", "--echo", NULL},
         "--max-levels needs a value: --max-levels N (got the option "
         "'--echo'; write --max-levels=VALUE for a value starting with -)"},
        {{"--block-size", "-1", NULL},
         "--block-size: '-1' is not a number (expected a whole number from 1 "
         "to 18446744073709551615)"},
    };
    const char *ok[] = {"--path=--odd", NULL};
    cli_config cfg;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse_args(&cfg, cases[i].args), CLI_EXIT_BAD_OPTION);
        assert_string_equal(cfg.error, cases[i].error);
        cli_options_free(&cfg);
    }
    assert_int_equal(parse_args(&cfg, ok), 0);
    assert_string_equal(cfg.path, "--odd");
    cli_options_free(&cfg);
}

/* Renders --help into *text (malloc'd; the caller frees it). The caller
 * owns the pointer that open_memstream updates. */
static void usage_text(char **text)
{
    size_t n = 0;
    FILE *f;

    *text = NULL;
    f = open_memstream(text, &n);
    assert_non_null(f);
    cli_usage_print(f);
    assert_int_equal(fclose(f), 0);
    assert_non_null(*text);
}

/* Every line fits 80 columns; each strategy option has one line, after
 * the "compaction" heading, ending in the engine's default. */
static void test_usage_lists_every_option(void **state)
{
    char *text = NULL;
    char *heading, *line, *end, want[96];
    lsm_options defaults;
    size_t i;

    (void)state;
    usage_text(&text);
    lsm_options_init(&defaults);
    for (line = text; *line; line = end + 1) {
        end = strchr(line, '\n');
        assert_non_null(end);
        if (end - line > 80)
            fail_msg("help line over 80 columns: %.*s", (int)(end - line),
                     line);
    }
    heading = strstr(text, "\ncompaction (");
    assert_non_null(heading);
    for (i = 0; i < N_EXPECTED; i++) {
        snprintf(want, sizeof want, "\n  %s N ", expected[i].name);
        line = strstr(text, want);
        if (!line)
            fail_msg("no help line for %s", expected[i].name);
        assert_true(line > heading);
        assert_null(strstr(line + 1, want)); /* exactly one */
        end = strchr(line + 1, '\n');
        snprintf(want, sizeof want, "(default %u)",
                 *field_of(&defaults, &expected[i]));
        assert_true((size_t)(end - line) > strlen(want));
        assert_memory_equal(end - strlen(want), want, strlen(want));
    }
    free(text);
}

static void test_compaction_names(void **state)
{
    (void)state;
    assert_string_equal(lsm_compaction_name(LSM_COMPACTION_NONE), "none");
    assert_string_equal(lsm_compaction_name(LSM_COMPACTION_SIMPLE), "simple");
    assert_string_equal(lsm_compaction_name(LSM_COMPACTION_TIERED), "tiered");
    assert_string_equal(lsm_compaction_name(LSM_COMPACTION_LEVELED), "leveled");
    assert_string_equal(lsm_compaction_name((lsm_compaction)9), "unknown");
}

/* Random command lines from pieces of real options and values: parsing
 * ends in 0 with no message or 2 with one, and a success sets every
 * strategy field within its range. */
static void test_random_command_lines(void **state)
{
    static const char *const pieces[] = {
        "--max-levels",
        "--num-tiers",
        "--size-ratio",
        "--size-ratio-percent",
        "--max-merge-width=",
        "--stall-l0-files=",
        "--min-merge-width",
        "--level0-file-num-compaction-trigger",
        "--compaction",
        "tiered",
        "-c",
        "0",
        "1",
        "2",
        "16",
        "17",
        "4294967295",
        "4294967296",
        "x",
        "-",
        "=",
        "--echo",
        "--max-size-amplification-percent",
        "--base-level-size-mb",
        "--level-size-multiplier",
        "--stall-memtables",
    };
    char storage[15][64];
    const char *args[15];
    cli_config cfg;
    size_t round, i, n, n_pieces = sizeof pieces / sizeof pieces[0];
    int status;

    (void)state;
    srand(7031);
    for (round = 0; round < 5000; round++) {
        n = (size_t)rand() % 14;
        for (i = 0; i < n; i++) {
            const char *p = pieces[(size_t)rand() % n_pieces];
            /* sometimes glue a value onto an option ending in '=' */
            snprintf(storage[i], sizeof storage[i], "%s%s", p,
                     p[strlen(p) - 1] == '=' ? pieces[rand() % 7 + 11] : "");
            args[i] = storage[i];
        }
        args[n] = NULL;
        status = parse_args(&cfg, args);
        assert_true(status == 0 || status == CLI_EXIT_BAD_OPTION);
        assert_int_equal(cfg.error[0] != '\0', status != 0);
        if (status == 0) {
            for (i = 0; i < N_EXPECTED; i++) {
                unsigned v = *field_of(&cfg.opt, &expected[i]);
                assert_true(v >= expected[i].min ||
                            (v == 0 && expected[i].zero_ok));
                assert_true(v <= expected[i].max);
            }
        }
        cli_options_free(&cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_arguments_gives_the_defaults),
        cmocka_unit_test(test_each_option_sets_its_own_field),
        cmocka_unit_test(test_out_of_range_values_are_refused),
        cmocka_unit_test(test_junk_is_not_a_number),
        cmocka_unit_test(test_messages_give_the_range),
        cmocka_unit_test(test_missing_value),
        cmocka_unit_test(test_prefixes_are_not_confused),
        cmocka_unit_test(test_mixed_with_other_options),
        cmocka_unit_test(test_readonly_flag),
        cmocka_unit_test(test_inputs_keep_their_order),
        cmocka_unit_test(test_option_is_not_a_value),
        cmocka_unit_test(test_usage_lists_every_option),
        cmocka_unit_test(test_compaction_names),
        cmocka_unit_test(test_random_command_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
