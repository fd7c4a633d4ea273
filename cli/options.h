/*
 * options.h: lsm-cli's command line: the options, their validation and
 * the --help text.
 *
 * Parsing never prints and never exits: a bad command line comes back as
 * CLI_EXIT_BAD_OPTION with a one-line message in cfg->error, which main
 * prints. The compaction strategy's unsigned knobs (--max-levels and the
 * rest) are one table in options.c, so the parser, the range each accepts
 * and the --help lines (with the engine's defaults) cannot drift apart.
 *
 * Thread safety: none needed; main calls this once, before any engine
 * thread exists.
 */
#ifndef CLI_OPTIONS_H
#define CLI_OPTIONS_H

#include "lsm.h"

#include <stddef.h>
#include <stdio.h>

/* The exit status for a bad command line. */
#define CLI_EXIT_BAD_OPTION 2

/* -c CMD and --script FILE, kept in one list so they run in the order the
 * command line gives them. */
typedef enum cli_input_kind {
    CLI_INPUT_COMMAND = 0, /* -c: text is the command line */
    CLI_INPUT_SCRIPT = 1   /* --script: text is the file name */
} cli_input_kind;

typedef struct cli_input {
    cli_input_kind kind;
    const char *text; /* into argv */
} cli_input;

typedef struct cli_config {
    const char *path; /* points into argv, or the static "lsm.db" */
    lsm_options opt;  /* lsm_options_init's, then what the options set */
    int echo;
    int bail;
    int serializable;  /* mini-lsm-cli's flag: writes as transactions */
    cli_input *inputs; /* -c and --script in order; the array is owned */
    size_t n_inputs;
    int show_help;
    int show_version;
    char error[512]; /* the message of a CLI_EXIT_BAD_OPTION, else "" */
} cli_config;

/* Fills *cfg from argv (which must outlive cfg). Returns 0, or
 * CLI_EXIT_BAD_OPTION with cfg->error set. Either way the caller frees
 * what cfg owns with cli_options_free. */
int cli_options_parse(cli_config *cfg, int argc, char **argv);

/* Frees the inputs array and empties it. NULL-safe. */
void cli_options_free(cli_config *cfg);

/* Writes the --help text, with the engine's defaults, to out. */
void cli_usage_print(FILE *out);

#endif /* CLI_OPTIONS_H */
