/*
 * options.c: lsm-cli's command-line options (see options.h).
 *
 * Every value is checked before the database is opened, so a typo exits
 * with status 2 and a message naming the option, the value and what would
 * have been accepted, instead of reaching lsm_open. Numbers are plain
 * decimals (cli_parse_u64): no sign, no suffix, no hex.
 *
 * The strategy knobs are the table uint_options: each row names an
 * unsigned field of lsm_options by its offset, the values it accepts and
 * its --help line. Ranges follow lsm.h: what it documents as invalid (or
 * what can only mean a typo, like a zero L0 trigger) is refused here;
 * anything merely unusual is left to the engine.
 */
#include "options.h"

#include "parse.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An unsigned field of lsm_options set by "--name N". Accepted: min..max,
 * and also 0 when zero_means says what 0 stands for ("0 for no limit"). */
typedef struct uint_option {
    const char *name;
    size_t offset; /* of the unsigned field in lsm_options */
    unsigned min;
    unsigned max;
    const char *zero_means; /* "0 for ...", or NULL: 0 only if min is 0 */
    const char *help;       /* one --help line; " (default N)" follows */
} uint_option;

#define UOPT(field) offsetof(lsm_options, field)

static const uint_option uint_options[] = {
    {"--max-levels", UOPT(max_levels), 1, 16, NULL,
     "levels of simple and leveled, 1 to 16"},
    {"--level0-file-num-compaction-trigger",
     UOPT(level0_file_num_compaction_trigger), 1, UINT_MAX, NULL,
     "L0 SSTs to compact L0"},
    {"--size-ratio-percent", UOPT(size_ratio_percent), 1, UINT_MAX, NULL,
     "simple: compact when lower/upper < N%"},
    {"--base-level-size-mb", UOPT(base_level_size_mb), 1, UINT_MAX, NULL,
     "leveled: target MiB of the base level"},
    {"--level-size-multiplier", UOPT(level_size_multiplier), 1, UINT_MAX, NULL,
     "leveled: size factor between levels"},
    {"--num-tiers", UOPT(num_tiers), 1, UINT_MAX, NULL,
     "tiered: tiers before anything is merged"},
    {"--max-size-amplification-percent", UOPT(max_size_amplification_percent),
     0, UINT_MAX, NULL, "tiered: merge all at this %"},
    {"--size-ratio", UOPT(size_ratio), 0, UINT_MAX, NULL,
     "tiered: next tier > (100+N)% of newer"},
    {"--min-merge-width", UOPT(min_merge_width), 2, UINT_MAX, NULL,
     "tiered: fewest tiers merged by ratio"},
    {"--max-merge-width", UOPT(max_merge_width), 2, UINT_MAX, "0 for no limit",
     "tiered: most tiers merged, 0 = no limit"},
    {"--stall-memtables", UOPT(stall_memtables), 1, UINT_MAX, "0 for no stall",
     "background: stall writes over N memtables"},
    {"--stall-l0-files", UOPT(stall_l0_files), 1, UINT_MAX, "0 for no stall",
     "background: stall writes over N L0 SSTs"},
};

#define N_UINT_OPTIONS (sizeof uint_options / sizeof uint_options[0])

/* The field a row of uint_options names in *opt, to set or to read. */
static unsigned *uint_option_field(lsm_options *opt, const uint_option *u)
{
    return (unsigned *)(void *)((char *)opt + u->offset);
}

static unsigned uint_option_get(const lsm_options *opt, const uint_option *u)
{
    return *(const unsigned *)(const void *)((const char *)opt + u->offset);
}

/* The "compaction:" group of --help, one line per row of uint_options. */
static void usage_print_compaction(FILE *out, const lsm_options *d)
{
    char name[64];
    size_t i;

    fprintf(out, "compaction (a strategy ignores the others' options; "
                 "0 turns a stall off):\n");
    for (i = 0; i < N_UINT_OPTIONS; i++) {
        const uint_option *u = &uint_options[i];
        snprintf(name, sizeof name, "%s N", u->name);
        fprintf(out, "  %-23s  %s (default %u)\n", name, u->help,
                uint_option_get(d, u));
    }
    fprintf(out,
            "  %-23s  leveled: SST a level pushes down: oldest\n"
            "  %-23s  (the book's) or min-overlap (default %s)\n",
            "--leveled-pick RULE", "", lsm_leveled_pick_name(d->leveled_pick));
    fprintf(out,
            "  %-23s  leveled: dynamic (the book's) or static\n"
            "  %-23s  (LevelDB's) level sizes (default %s)\n",
            "--level-sizes KIND", "", lsm_level_sizes_name(d->level_sizes));
}

void cli_usage_print(FILE *out)
{
    lsm_options d;

    lsm_options_init(&d);
    fprintf(out,
            "usage: lsm-cli [OPTIONS] [< SCRIPT]\n"
            "\n"
            "The shell of the lsm storage engine, compatible with "
            "mini-lsm-cli.\n"
            "At a terminal it prompts for commands (type help); otherwise "
            "it\n"
            "replays its input as a script, one command per line (lines "
            "over\n"
            "1048576 bytes, 1 MiB, are refused).\n"
            "\n"
            "options:\n"
            "  --path DIR               database directory (default "
            "lsm.db)\n"
            "  --compaction STRATEGY    none, simple, tiered or leveled "
            "(default %s)\n"
            "  --background             flush and compact in background "
            "threads (default:\n"
            "                           inline, so every run prints the "
            "same thing)\n"
            "  --enable-wal             log every write (the default): "
            "survives kill -9\n"
            "  --disable-wal            keep no log: a crash loses the "
            "writes in memtables\n"
            "  --sync                   fsync the WAL before each write "
            "returns,\n"
            "                           so writes survive power loss\n"
            "  --readonly               open without the lock, changing "
            "nothing on disk\n"
            "                           (WALs replayed in memory only): "
            "look into a\n"
            "                           database another shell has open; "
            "writes, flush\n"
            "                           and full_compaction are refused\n"
            "  --serializable           put, del and fill write as one-write "
            "serializable\n"
            "                           transactions, as mini-lsm-cli's "
            "flag does\n"
            "  --target-sst-size BYTES  memtable and SST size (default "
            "%zu)\n"
            "  --block-size BYTES       SST block size (default %zu)\n"
            "  --compression KIND       compress new SST blocks: none, lz4 "
            "or zstd\n"
            "                           (default none); old blocks stay "
            "readable\n"
            "  --compression-level N    zstd's level (default 0: zstd's "
            "own, 3)\n"
            "  --num-memtable-limit N   memtables kept in memory (default "
            "%zu)\n"
            "  --manifest-rewrite-bytes BYTES\n"
            "                           rewrite the MANIFEST once this much "
            "follows its\n"
            "                           snapshot (default %" PRIu64 "; 0: "
            "only at open)\n"
            "  --mmap-reads             read SSTs through mmap: faster, but "
            "a file cut\n"
            "                           short under it kills the process "
            "(SIGBUS)\n"
            "  --no-memtable-bloom      no bloom filters in memtables: "
            "every get\n"
            "                           searches every memtable (as in "
            "mini-lsm)\n"
            "  --cache-index-and-filter-blocks\n"
            "                           keep SST indexes and filters in the "
            "block\n"
            "                           cache, charged to it\n"
            "  --prefix-len N           prefix extractor for scan --prefix: "
            "a key's first\n"
            "                           N bytes (SSTs keep a filter of "
            "prefixes)\n"
            "  --prefix-delim C         or a key's bytes up to and including "
            "the first C\n"
            "                           (a character, or \\xNN); at most one "
            "of the two\n"
            "  -c CMD                   run CMD, then exit (repeatable)\n"
            "  --script FILE            replay FILE, then exit (repeatable; "
            "-c and\n"
            "                           --script run in the order given)\n"
            "  --echo                   print each command before its "
            "output\n"
            "  --bail                   stop at the first error (exit status "
            "1)\n"
            "  --help                   show this help\n"
            "  --version                show the version\n"
            "\n",
            lsm_compaction_name(d.compaction), d.target_sst_size, d.block_size,
            d.num_memtable_limit, d.manifest_rewrite_bytes);
    usage_print_compaction(out, &d);
    fprintf(out, "\n"
                 "exit status: 0 on success, 1 if a command failed or the "
                 "database could\n"
                 "not be opened or closed, 2 for a bad option, 130 if Ctrl-C "
                 "stopped a\n"
                 "script.\n");
}

/* Records why the command line is bad. Returns CLI_EXIT_BAD_OPTION. */
static int options_fail(cli_config *cfg, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int options_fail(cli_config *cfg, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cfg->error, sizeof cfg->error, fmt, ap);
    va_end(ap);
    return CLI_EXIT_BAD_OPTION;
}

/* 1 if a separate argument looks like an option rather than a value: a
 * dash and a letter (-c), or two dashes and more (--echo). "-1", "-" and
 * "--" stay values, so a bad number is still reported as one. */
static int options_looks_like_option(const char *arg)
{
    if (arg[0] != '-')
        return 0;
    if (arg[1] == '-')
        return arg[2] != '\0';
    return (arg[1] >= 'a' && arg[1] <= 'z') || (arg[1] >= 'A' && arg[1] <= 'Z');
}

/* Takes the value of option name from the argument after argv[*i]. A
 * missing value is an error, and so is a next argument that is another
 * option: "--path --echo" most likely forgot the directory, and silently
 * opening a database named "--echo" would hide that. A value starting
 * with a dash can still be given as "--name=VALUE". Returns 0, or -1
 * (recorded). */
static int options_next_value(cli_config *cfg, int argc, char **argv, int *i,
                              const char *name, const char *metavar,
                              const char **value)
{
    if (*i + 1 >= argc) {
        options_fail(cfg, "%s needs a value: %s %s", name, name, metavar);
        return -1;
    }
    if (options_looks_like_option(argv[*i + 1])) {
        /* -c has no =VALUE form, and no command starts with a dash. */
        if (name[1] == '-')
            options_fail(cfg,
                         "%s needs a value: %s %s (got the option '%s'; "
                         "write %s=VALUE for a value starting with -)",
                         name, name, metavar, argv[*i + 1], name);
        else
            options_fail(cfg, "%s needs a value: %s %s (got the option '%s')",
                         name, name, metavar, argv[*i + 1]);
        return -1;
    }
    *value = argv[++*i];
    return 0;
}

/* Matches argv[*i] against option name, taking its value from "--name=V"
 * or from the next argument. Returns 1 and sets *value on a match, 0 if
 * argv[*i] is another option, -1 (recorded) if the value is missing. */
static int options_value(cli_config *cfg, int argc, char **argv, int *i,
                         const char *name, const char *metavar,
                         const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);

    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    return options_next_value(cfg, argc, argv, i, name, metavar, value) == 0
               ? 1
               : -1;
}

/* What a rejected number is, for the message. */
static const char *options_num_problem(cli_num_status st, uint64_t v)
{
    if (st == CLI_NUM_TOO_LARGE)
        return "too large";
    if (st != CLI_NUM_OK)
        return "not a number";
    return v == 0 ? "zero" : "too small";
}

/* Parses a size option: a plain decimal from 1 to SIZE_MAX. */
static int options_size(cli_config *cfg, const char *name, const char *text,
                        size_t *out)
{
    uint64_t v = 0;
    cli_num_status st;

    st = cli_parse_u64(text, strlen(text), SIZE_MAX, &v);
    if (st == CLI_NUM_OK && v > 0) {
        *out = (size_t)v;
        return 0;
    }
    options_fail(cfg, "%s: '%s' is %s (expected a whole number from 1 to %zu)",
                 name, text, options_num_problem(st, v), (size_t)SIZE_MAX);
    return -1;
}

/* Parses --manifest-rewrite-bytes: a byte count, 0 meaning "rewrite at
 * open only" (lsm_options.manifest_rewrite_bytes). */
static int options_rewrite_bytes(cli_config *cfg, const char *name,
                                 const char *text)
{
    uint64_t v = 0;
    cli_num_status st = cli_parse_u64(text, strlen(text), UINT64_MAX, &v);

    if (st == CLI_NUM_OK) {
        cfg->opt.manifest_rewrite_bytes = v;
        return 0;
    }
    options_fail(
        cfg, "%s: '%s' is %s (expected a whole number from 0 to %" PRIu64 ")",
        name, text, options_num_problem(st, v), UINT64_MAX);
    return -1;
}

/* Parses the value of a row of uint_options into cfg->opt. */
static int options_uint(cli_config *cfg, const uint_option *u, const char *text)
{
    uint64_t v = 0;
    cli_num_status st;
    char zero[64] = "";

    st = cli_parse_u64(text, strlen(text), u->max, &v);
    if (st == CLI_NUM_OK &&
        (v >= u->min || (v == 0 && u->zero_means != NULL))) {
        *uint_option_field(&cfg->opt, u) = (unsigned)v;
        return 0;
    }
    if (u->zero_means)
        snprintf(zero, sizeof zero, "%s, or ", u->zero_means);
    options_fail(
        cfg, "%s: '%s' is %s (expected %sa whole number from %u to %u)",
        u->name, text, options_num_problem(st, v), zero, u->min, u->max);
    return -1;
}

/* Finds text among names (an option's values, index i meaning the enum
 * value i) and stores its index in *out; else records an error naming
 * the option, the kind of value and every accepted one ("expected none,
 * simple, tiered or leveled"). Returns 0 or -1. */
static int options_choose(cli_config *cfg, const char *option, const char *what,
                          const char *text, const char *const *names, size_t n,
                          int *out)
{
    char expected[128] = "";
    size_t at = 0;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
        at += (size_t)snprintf(expected + at, sizeof expected - at, "%s%s",
                               i == 0      ? ""
                               : i + 1 < n ? ", "
                                           : " or ",
                               names[i]);
        if (at >= sizeof expected)
            at = sizeof expected - 1;
    }
    options_fail(cfg, "%s: unknown %s '%s' (expected %s)", option, what, text,
                 expected);
    return -1;
}

static int options_compaction(cli_config *cfg, const char *text)
{
    const char *const names[] = {lsm_compaction_name(LSM_COMPACTION_NONE),
                                 lsm_compaction_name(LSM_COMPACTION_SIMPLE),
                                 lsm_compaction_name(LSM_COMPACTION_TIERED),
                                 lsm_compaction_name(LSM_COMPACTION_LEVELED)};
    int i;

    if (options_choose(cfg, "--compaction", "strategy", text, names, 4, &i))
        return -1;
    cfg->opt.compaction = (lsm_compaction)i;
    return 0;
}

static int options_leveled_pick(cli_config *cfg, const char *text)
{
    const char *const names[] = {
        lsm_leveled_pick_name(LSM_LEVELED_PICK_OLDEST),
        lsm_leveled_pick_name(LSM_LEVELED_PICK_MIN_OVERLAP)};
    int i;

    if (options_choose(cfg, "--leveled-pick", "rule", text, names, 2, &i))
        return -1;
    cfg->opt.leveled_pick = (lsm_leveled_pick)i;
    return 0;
}

static int options_level_sizes(cli_config *cfg, const char *text)
{
    const char *const names[] = {lsm_level_sizes_name(LSM_LEVEL_SIZES_DYNAMIC),
                                 lsm_level_sizes_name(LSM_LEVEL_SIZES_STATIC)};
    int i;

    if (options_choose(cfg, "--level-sizes", "kind", text, names, 2, &i))
        return -1;
    cfg->opt.level_sizes = (lsm_level_sizes)i;
    return 0;
}

/* Parses --prefix-len N: 1 to LSM_MAX_KEY_BYTES. */
static int options_prefix_len(cli_config *cfg, const char *text)
{
    uint64_t v = 0;
    cli_num_status st =
        cli_parse_u64(text, strlen(text), LSM_MAX_KEY_BYTES, &v);

    if (st == CLI_NUM_OK && v > 0) {
        cfg->opt.prefix_len = (unsigned)v;
        return 0;
    }
    options_fail(cfg,
                 "--prefix-len: '%s' is %s (expected a whole number from 1 "
                 "to %u)",
                 text, options_num_problem(st, v), LSM_MAX_KEY_BYTES);
    return -1;
}

/* Parses --prefix-delim C: one byte, written as itself or as \xNN. */
static int options_prefix_delim(cli_config *cfg, const char *text)
{
    if (text[0] != '\\' && text[0] != '\0' && text[1] == '\0') {
        cfg->opt.prefix_delim = (unsigned char)text[0];
        return 0;
    }
    if (text[0] == '\\' && text[1] == 'x' && cli_hex_digit(text[2]) >= 0 &&
        cli_hex_digit(text[3]) >= 0 && text[4] == '\0') {
        cfg->opt.prefix_delim =
            cli_hex_digit(text[2]) * 16 + cli_hex_digit(text[3]);
        return 0;
    }
    options_fail(cfg,
                 "--prefix-delim: '%s' is not one byte (expected one "
                 "character, e.g. /, or \\xNN for any byte)",
                 text);
    return -1;
}

static int options_compression(cli_config *cfg, const char *text)
{
    const char *const names[] = {lsm_compression_name(LSM_COMPRESSION_NONE),
                                 lsm_compression_name(LSM_COMPRESSION_LZ4),
                                 lsm_compression_name(LSM_COMPRESSION_ZSTD)};
    int i;

    if (options_choose(cfg, "--compression", "kind", text, names, 3, &i))
        return -1;
    cfg->opt.compression = (lsm_compression)i;
    return 0;
}

/* Parses --compression-level: a whole number, negative allowed (zstd's
 * fast levels). Its range is libzstd's, which lsm_open checks. */
static int options_compression_level(cli_config *cfg, const char *name,
                                     const char *text)
{
    int negative = text[0] == '-';
    const char *digits = text + negative;
    uint64_t v = 0;
    cli_num_status st =
        cli_parse_u64(digits, strlen(digits), (uint64_t)INT_MAX, &v);

    if (st == CLI_NUM_OK) {
        cfg->opt.compression_level = negative ? -(int)v : (int)v;
        return 0;
    }
    options_fail(cfg, "%s: '%s' is %s (expected a whole number, e.g. 1 to 19)",
                 name, text,
                 st == CLI_NUM_TOO_LARGE ? "too large"
                                         : "not a "
                                           "number");
    return -1;
}

/* Appends a -c command or a --script file to cfg's inputs. */
static int options_add_input(cli_config *cfg, cli_input_kind kind,
                             const char *text)
{
    cli_input *grown =
        realloc(cfg->inputs, (cfg->n_inputs + 1) * sizeof *grown);

    if (!grown) {
        options_fail(cfg, "out of memory");
        return -1;
    }
    cfg->inputs = grown;
    cfg->inputs[cfg->n_inputs].kind = kind;
    cfg->inputs[cfg->n_inputs].text = text;
    cfg->n_inputs++;
    return 0;
}

/* Applies the value of a valued option other than the strategy knobs.
 * Returns 0, or -1 (recorded). */
static int options_apply(cli_config *cfg, const char *name, const char *v)
{
    if (strcmp(name, "--path") == 0) {
        if (v[0] == '\0') {
            options_fail(cfg, "--path: the directory name is empty");
            return -1;
        }
        cfg->path = v;
        return 0;
    }
    if (strcmp(name, "--compaction") == 0)
        return options_compaction(cfg, v);
    if (strcmp(name, "--leveled-pick") == 0)
        return options_leveled_pick(cfg, v);
    if (strcmp(name, "--level-sizes") == 0)
        return options_level_sizes(cfg, v);
    if (strcmp(name, "--compression") == 0)
        return options_compression(cfg, v);
    if (strcmp(name, "--compression-level") == 0)
        return options_compression_level(cfg, name, v);
    if (strcmp(name, "--target-sst-size") == 0)
        return options_size(cfg, name, v, &cfg->opt.target_sst_size);
    if (strcmp(name, "--block-size") == 0)
        return options_size(cfg, name, v, &cfg->opt.block_size);
    if (strcmp(name, "--num-memtable-limit") == 0)
        return options_size(cfg, name, v, &cfg->opt.num_memtable_limit);
    if (strcmp(name, "--manifest-rewrite-bytes") == 0)
        return options_rewrite_bytes(cfg, name, v);
    if (strcmp(name, "--prefix-len") == 0)
        return options_prefix_len(cfg, v);
    if (strcmp(name, "--prefix-delim") == 0)
        return options_prefix_delim(cfg, v);
    return options_add_input(cfg, CLI_INPUT_SCRIPT, v); /* --script */
}

/* Handles a strategy knob. Same returns as options_parse_valued. */
static int options_parse_uint(cli_config *cfg, int argc, char **argv, int *i)
{
    const char *v = NULL;
    size_t k;
    int m;

    for (k = 0; k < N_UINT_OPTIONS; k++) {
        m = options_value(cfg, argc, argv, i, uint_options[k].name, "N", &v);
        if (m == 0)
            continue;
        if (m < 0 || options_uint(cfg, &uint_options[k], v) != 0)
            return -1;
        return 1;
    }
    return 0;
}

/* Handles an option that takes a value. Returns 1 if argv[*i] was one
 * (and was valid), 0 if it is not such an option, -1 on a recorded error. */
static int options_parse_valued(cli_config *cfg, int argc, char **argv, int *i)
{
    static const char *const valued[][2] = {
        {"--path", "DIR"},
        {"--compaction", "STRATEGY"},
        {"--leveled-pick", "RULE"},
        {"--level-sizes", "KIND"},
        {"--compression", "KIND"},
        {"--compression-level", "N"},
        {"--target-sst-size", "BYTES"},
        {"--block-size", "BYTES"},
        {"--num-memtable-limit", "N"},
        {"--manifest-rewrite-bytes", "BYTES"},
        {"--prefix-len", "N"},
        {"--prefix-delim", "C"},
        {"--script", "FILE"},
    };
    const char *v = NULL;
    size_t k;
    int m;

    if (strcmp(argv[*i], "-c") == 0) {
        if (options_next_value(cfg, argc, argv, i, "-c", "CMD", &v) != 0)
            return -1;
        return options_add_input(cfg, CLI_INPUT_COMMAND, v) == 0 ? 1 : -1;
    }
    for (k = 0; k < sizeof valued / sizeof valued[0]; k++) {
        m = options_value(cfg, argc, argv, i, valued[k][0], valued[k][1], &v);
        if (m == 0)
            continue;
        if (m < 0 || options_apply(cfg, valued[k][0], v) != 0)
            return -1;
        return 1;
    }
    return options_parse_uint(cfg, argc, argv, i);
}

/* Handles a flag (an option without a value). Returns 1 if argv[i] was
 * one, 0 if not. */
static int options_parse_flag(cli_config *cfg, const char *arg)
{
    if (strcmp(arg, "--enable-wal") == 0)
        cfg->opt.enable_wal = 1;
    else if (strcmp(arg, "--disable-wal") == 0)
        cfg->opt.enable_wal = 0;
    else if (strcmp(arg, "--sync") == 0)
        cfg->opt.sync = 1;
    else if (strcmp(arg, "--readonly") == 0)
        cfg->opt.read_only = 1;
    else if (strcmp(arg, "--background") == 0)
        cfg->opt.sched = LSM_SCHED_THREADS;
    else if (strcmp(arg, "--mmap-reads") == 0)
        cfg->opt.mmap_reads = 1;
    else if (strcmp(arg, "--no-memtable-bloom") == 0)
        cfg->opt.memtable_bloom = 0;
    else if (strcmp(arg, "--cache-index-and-filter-blocks") == 0)
        cfg->opt.cache_index_and_filter_blocks = 1;
    else if (strcmp(arg, "--echo") == 0)
        cfg->echo = 1;
    else if (strcmp(arg, "--bail") == 0)
        cfg->bail = 1;
    else if (strcmp(arg, "--serializable") == 0)
        cfg->serializable = 1;
    else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
        cfg->show_help = 1;
    else if (strcmp(arg, "--version") == 0)
        cfg->show_version = 1;
    else
        return 0;
    return 1;
}

int cli_options_parse(cli_config *cfg, int argc, char **argv)
{
    int i, m;

    memset(cfg, 0, sizeof *cfg);
    cfg->path = "lsm.db";
    lsm_options_init(&cfg->opt);
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        m = options_parse_valued(cfg, argc, argv, &i);
        if (m < 0)
            return CLI_EXIT_BAD_OPTION;
        if (m > 0 || options_parse_flag(cfg, arg))
            continue;
        if (arg[0] == '-')
            return options_fail(
                cfg, "unknown option '%s'; try 'lsm-cli --help'", arg);
        return options_fail(cfg,
                            "unexpected argument '%s' (commands go in -c CMD "
                            "or on stdin); try 'lsm-cli --help'",
                            arg);
    }
    if (cfg->opt.prefix_len > 0 && cfg->opt.prefix_delim >= 0)
        return options_fail(cfg, "--prefix-len and --prefix-delim are two "
                                 "prefix extractors: give at most one");
    return 0;
}

void cli_options_free(cli_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->inputs);
    cfg->inputs = NULL;
    cfg->n_inputs = 0;
}
