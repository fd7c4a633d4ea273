/*
 * lsm_diff.c: lsm-diff, a differential tester of lsm against LevelDB.
 *
 * Both engines receive the same random operations, drawn from a seed: puts,
 * deletes (of present and absent keys), atomic batches, gets, bounded scans,
 * iterators held open across later writes, flushes, full compactions and
 * reopens. Every read is answered by both and the answers must be equal, byte
 * for byte. LevelDB is the reference: it is a different implementation of the
 * same contract (sorted bytewise keys, snapshots for iterators, atomic
 * batches), so any disagreement is a bug in lsm (or, rarely, in the tester).
 *
 * lsm's configuration comes from the seed too: every compaction strategy in
 * both scheduling modes, tiny memtables and SSTs, small blocks, varied caches
 * and filters, and low write-stall limits, so that freezes, flushes,
 * compactions and stalls happen all the time.
 *
 * A watchdog thread fails the run when one operation takes longer than a
 * limit (a writer stuck in a stall, a deadlock) and prints the engine's state.
 * Every run writes a trace (its configuration and every operation, one text
 * line each, flushed per line) that --replay re-runs exactly; README.md in
 * this folder describes the flags and the trace format.
 *
 * Only the public API (lsm.h) is used. Exit status: 0 when every run agreed,
 * 1 on a difference, an unexpected error or a watchdog timeout, 2 on a bad
 * command line or trace.
 *
 * Threads: the operations run on the main thread; the watchdog thread only
 * reads what the main thread publishes under its mutex (and calls
 * lsm_state_get, which the engine allows from any thread). The event callback
 * runs on the engine's threads and touches only atomics and its own mutex.
 */
#include <lsm.h>

#include <leveldb/c.h>

#include <errno.h>
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIFF_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum {
    DIFF_KEY_GEN_MAX = 24,  /* longest key the generator makes */
    DIFF_KEY_MAX = 64,      /* longest key a trace may hold */
    DIFF_VALUE_MAX = 16384, /* longest value a trace may hold */
    DIFF_BATCH_MAX = 16,    /* operations in one batch */
    DIFF_ITERS = 4,         /* iterators held open at once */
    DIFF_STEPS_MAX = 8,     /* iterator steps in one iter_next */
    DIFF_LINE_MAX = 8192,   /* one trace line */
    DIFF_SHOW_BYTES = 40    /* bytes of a key or value shown in a message */
};

#define DIFF_DEFAULT_OPS 3000
#define DIFF_DEFAULT_WATCHDOG 30.0
#define DIFF_TRACE_NAME "trace.txt"

/* --- small helpers -------------------------------------------------------- */

/* splitmix64: the same stream on every machine, from any seed. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return n ? rng_next(s) % n : 0;
}

/* A number in [lo, hi], both included. */
static uint64_t rng_range(uint64_t *s, uint64_t lo, uint64_t hi)
{
    return lo + rng_below(s, hi - lo + 1);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bytewise order, a shorter key first on a common prefix: the order of both
 * lsm (lsm.h) and LevelDB's default comparator. */
static int bytes_cmp(const void *a, size_t na, const void *b, size_t nb)
{
    size_t m = na < nb ? na : nb;
    int c = m ? memcmp(a, b, m) : 0;
    if (c != 0)
        return c;
    return na < nb ? -1 : na > nb ? 1 : 0;
}

/* A bounded text buffer. Every line the tester writes has a known maximum
 * size, so running out of room is a bug in the tester: it aborts. */
typedef struct strbuf {
    char s[DIFF_LINE_MAX];
    size_t n;
} strbuf;

static void sb_overflow(void)
{
    fprintf(stderr, "lsm-diff: internal error: text line too long\n");
    abort();
}

static void sb_putc(strbuf *sb, char c)
{
    if (sb->n + 1 >= sizeof sb->s)
        sb_overflow();
    sb->s[sb->n++] = c;
    sb->s[sb->n] = '\0';
}

static DIFF_PRINTF(2, 3) void sb_add(strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(sb->s + sb->n, sizeof sb->s - sb->n, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof sb->s - sb->n)
        sb_overflow();
    sb->n += (size_t)len;
}

/* Bytes as a quoted string: printable ASCII as itself except space, '"' and
 * '\', every other byte as \xHH, so a quoted key is one whitespace-free
 * token. At most max bytes are shown; "..." marks the cut. */
static void sb_bytes(strbuf *sb, const void *p, size_t n, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *b = p;
    size_t i;
    sb_putc(sb, '"');
    for (i = 0; i < n && i < max; i++) {
        if (b[i] > 0x20 && b[i] < 0x7f && b[i] != '"' && b[i] != '\\') {
            sb_putc(sb, (char)b[i]);
        } else {
            sb_putc(sb, '\\');
            sb_putc(sb, 'x');
            sb_putc(sb, hex[b[i] >> 4]);
            sb_putc(sb, hex[b[i] & 15]);
        }
    }
    sb_putc(sb, '"');
    if (i < n)
        sb_add(sb, "...");
}

/* --- keys, values and operations ------------------------------------------ */

typedef struct dkey {
    size_t n;
    unsigned char b[DIFF_KEY_MAX];
} dkey;

/* A value is named by its length and a tag; its bytes are generated from
 * both (value_fill), so a trace line stays short even for a 4 KB value. */
typedef struct dval {
    uint32_t len;
    uint32_t tag;
} dval;

typedef struct dbound {
    lsm_bound_kind kind;
    dkey key; /* unused when unbounded */
} dbound;

typedef struct batch_entry {
    bool is_del;
    dkey key;
    dval val;
} batch_entry;

typedef enum op_kind {
    OP_PUT,
    OP_DEL,
    OP_BATCH,
    OP_GET,
    OP_SCAN,
    OP_ITER_OPEN,
    OP_ITER_NEXT,
    OP_ITER_CLOSE,
    OP_FLUSH,
    OP_COMPACT,
    OP_REOPEN,
    OP_DELRANGE
} op_kind;

typedef struct op {
    op_kind kind;
    dkey key;       /* put, del, get; delrange: the start */
    dkey end;       /* delrange: the end (excluded) */
    dval val;       /* put */
    dbound lo, hi;  /* scan, iter_open */
    unsigned slot;  /* iter_* */
    unsigned steps; /* iter_next */
    size_t n_batch; /* batch */
    batch_entry batch[DIFF_BATCH_MAX];
} op;

static const char *const op_names[] = {
    [OP_PUT] = "put",
    [OP_DEL] = "del",
    [OP_BATCH] = "batch",
    [OP_GET] = "get",
    [OP_SCAN] = "scan",
    [OP_ITER_OPEN] = "iter_open",
    [OP_ITER_NEXT] = "iter_next",
    [OP_ITER_CLOSE] = "iter_close",
    [OP_FLUSH] = "flush",
    [OP_COMPACT] = "compact",
    [OP_REOPEN] = "reopen",
    [OP_DELRANGE] = "delrange",
};
#define N_OP_KINDS (sizeof op_names / sizeof op_names[0])

/* The bytes of a value: a splitmix64 stream from its tag and length, so
 * values of different tags differ everywhere and use every byte value. */
static void value_fill(const dval *v, unsigned char *buf)
{
    uint64_t s = ((uint64_t)v->tag << 32) ^ v->len;
    for (size_t i = 0; i < v->len; i += 8) {
        uint64_t x = rng_next(&s);
        size_t m = v->len - i < 8 ? v->len - i : 8;
        memcpy(buf + i, &x, m);
    }
}

static void fmt_key(strbuf *sb, const dkey *k)
{
    sb_bytes(sb, k->b, k->n, DIFF_KEY_MAX);
}

static void fmt_value(strbuf *sb, const dval *v)
{
    sb_add(sb, "%" PRIu32 "/%08" PRIx32, v->len, v->tag);
}

static void fmt_bound(strbuf *sb, const char *name, const dbound *b)
{
    static const char *const kinds[] = {"none", "inc", "exc"};
    sb_add(sb, " %s=%s", name, kinds[b->kind]);
    if (b->kind != LSM_BOUND_UNBOUNDED) {
        sb_putc(sb, ':');
        fmt_key(sb, &b->key);
    }
}

static void fmt_batch(strbuf *sb, const op *o)
{
    for (size_t i = 0; i < o->n_batch; i++) {
        const batch_entry *e = &o->batch[i];
        sb_add(sb, " %s ", e->is_del ? "del" : "put");
        fmt_key(sb, &e->key);
        if (!e->is_del) {
            sb_putc(sb, ' ');
            fmt_value(sb, &e->val);
        }
    }
}

/* One operation as its trace text (without the step number). */
static void fmt_op(strbuf *sb, const op *o)
{
    sb_add(sb, "%s", op_names[o->kind]);
    switch (o->kind) {
    case OP_PUT:
        sb_putc(sb, ' ');
        fmt_key(sb, &o->key);
        sb_putc(sb, ' ');
        fmt_value(sb, &o->val);
        break;
    case OP_DEL:
    case OP_GET:
        sb_putc(sb, ' ');
        fmt_key(sb, &o->key);
        break;
    case OP_BATCH:
        fmt_batch(sb, o);
        break;
    case OP_ITER_OPEN:
        sb_add(sb, " %u", o->slot);
        /* fall through */
    case OP_SCAN:
        fmt_bound(sb, "lo", &o->lo);
        fmt_bound(sb, "hi", &o->hi);
        break;
    case OP_ITER_NEXT:
        sb_add(sb, " %u %u", o->slot, o->steps);
        break;
    case OP_ITER_CLOSE:
        sb_add(sb, " %u", o->slot);
        break;
    case OP_FLUSH:
    case OP_COMPACT:
    case OP_REOPEN:
        break;
    case OP_DELRANGE:
        sb_putc(sb, ' ');
        fmt_key(sb, &o->key);
        sb_putc(sb, ' ');
        fmt_key(sb, &o->end);
        break;
    }
}

/* --- parsing trace lines -------------------------------------------------- */

/* A quoted key as sb_bytes writes it: "..." with \xHH escapes. */
static bool parse_key(const char *tok, dkey *k)
{
    size_t i = 1;
    k->n = 0;
    if (tok[0] != '"')
        return false;
    while (tok[i] != '"') {
        unsigned c;
        if (tok[i] == '\0' || k->n == DIFF_KEY_MAX)
            return false;
        if (tok[i] == '\\') {
            if (tok[i + 1] != 'x' || sscanf(tok + i + 2, "%2x", &c) != 1)
                return false;
            i += 4;
        } else {
            c = (unsigned char)tok[i++];
        }
        k->b[k->n++] = (unsigned char)c;
    }
    return tok[i + 1] == '\0' && k->n > 0;
}

/* LEN/TAG, the tag in hex. */
static bool parse_value(const char *tok, dval *v)
{
    unsigned long len, tag;
    char *end;
    errno = 0;
    len = strtoul(tok, &end, 10);
    if (end == tok || *end != '/' || len > DIFF_VALUE_MAX)
        return false;
    tag = strtoul(end + 1, &end, 16);
    if (*end != '\0' || errno != 0 || tag > UINT32_MAX)
        return false;
    v->len = (uint32_t)len;
    v->tag = (uint32_t)tag;
    return true;
}

/* name=none, name=inc:"key" or name=exc:"key". */
static bool parse_bound(const char *tok, const char *name, dbound *b)
{
    size_t n = strlen(name);
    if (tok == NULL || strncmp(tok, name, n) != 0 || tok[n] != '=')
        return false;
    tok += n + 1;
    if (strcmp(tok, "none") == 0) {
        b->kind = LSM_BOUND_UNBOUNDED;
        b->key.n = 0;
        return true;
    }
    if (strncmp(tok, "inc:", 4) == 0)
        b->kind = LSM_BOUND_INCLUDED;
    else if (strncmp(tok, "exc:", 4) == 0)
        b->kind = LSM_BOUND_EXCLUDED;
    else
        return false;
    return parse_key(tok + 4, &b->key);
}

static bool parse_uint(const char *tok, unsigned max, unsigned *out)
{
    char *end;
    unsigned long v;
    if (tok == NULL || tok[0] < '0' || tok[0] > '9')
        return false;
    errno = 0;
    v = strtoul(tok, &end, 10);
    if (*end != '\0' || errno != 0 || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

/* The tokens of one line, split at spaces (keys never hold a space). */
typedef struct tokens {
    char *v[4 * DIFF_BATCH_MAX + 8];
    size_t n;
} tokens;

static bool tokenize(char *line, tokens *t)
{
    char *save = NULL;
    t->n = 0;
    for (char *tok = strtok_r(line, " \t\r\n", &save); tok != NULL;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (t->n == sizeof t->v / sizeof t->v[0])
            return false;
        t->v[t->n++] = tok;
    }
    return true;
}

/* batch (put KEY VALUE | del KEY)... from token i on. */
static bool parse_batch(const tokens *t, size_t i, op *o)
{
    o->n_batch = 0;
    while (i < t->n) {
        batch_entry *e = &o->batch[o->n_batch];
        if (o->n_batch == DIFF_BATCH_MAX || i + 1 >= t->n)
            return false;
        e->is_del = strcmp(t->v[i], "del") == 0;
        if (!e->is_del && strcmp(t->v[i], "put") != 0)
            return false;
        if (!parse_key(t->v[i + 1], &e->key))
            return false;
        i += 2;
        if (!e->is_del) {
            if (i >= t->n || !parse_value(t->v[i], &e->val))
                return false;
            i++;
        }
        o->n_batch++;
    }
    return true;
}

/* The arguments of o->kind, from tokens[2] on (tokens[0] is the step). */
static bool parse_args(const tokens *t, op *o)
{
    const size_t a = 2;
    const unsigned slot_max = DIFF_ITERS - 1;
    switch (o->kind) {
    case OP_PUT:
        return t->n == a + 2 && parse_key(t->v[a], &o->key) &&
               parse_value(t->v[a + 1], &o->val);
    case OP_DEL:
    case OP_GET:
        return t->n == a + 1 && parse_key(t->v[a], &o->key);
    case OP_BATCH:
        return parse_batch(t, a, o);
    case OP_SCAN:
        return t->n == a + 2 && parse_bound(t->v[a], "lo", &o->lo) &&
               parse_bound(t->v[a + 1], "hi", &o->hi);
    case OP_ITER_OPEN:
        return t->n == a + 3 && parse_uint(t->v[a], slot_max, &o->slot) &&
               parse_bound(t->v[a + 1], "lo", &o->lo) &&
               parse_bound(t->v[a + 2], "hi", &o->hi);
    case OP_ITER_NEXT:
        return t->n == a + 2 && parse_uint(t->v[a], slot_max, &o->slot) &&
               parse_uint(t->v[a + 1], 1000000, &o->steps);
    case OP_ITER_CLOSE:
        return t->n == a + 1 && parse_uint(t->v[a], slot_max, &o->slot);
    case OP_FLUSH:
    case OP_COMPACT:
    case OP_REOPEN:
        return t->n == a;
    case OP_DELRANGE:
        return t->n == a + 2 && parse_key(t->v[a], &o->key) &&
               parse_key(t->v[a + 1], &o->end);
    }
    return false;
}

/* "STEP NAME ARGS...": one operation line of a trace. */
static bool parse_op(char *line, uint64_t *step, op *o)
{
    tokens t;
    char *end;
    memset(o, 0, sizeof *o);
    if (!tokenize(line, &t) || t.n < 2)
        return false;
    errno = 0;
    *step = strtoull(t.v[0], &end, 10);
    if (*end != '\0' || errno != 0)
        return false;
    for (size_t k = 0; k < N_OP_KINDS; k++) {
        if (strcmp(t.v[1], op_names[k]) == 0) {
            o->kind = (op_kind)k;
            return parse_args(&t, o);
        }
    }
    return false;
}

/* --- configuration -------------------------------------------------------- */

typedef struct config {
    uint64_t seed;
    lsm_options opt; /* sched and compaction included */
} config;

typedef enum field_type { F_SIZE, F_UNSIGNED, F_INT } field_type;

typedef struct opt_field {
    const char *name;
    size_t offset;
    field_type type;
} opt_field;

/* clang-format off */
#define OPT_FIELD(f, t) {#f, offsetof(lsm_options, f), t}
/* clang-format on */

/* Every numeric option, in the order the trace's config line lists them. */
static const opt_field opt_fields[] = {
    OPT_FIELD(target_sst_size, F_SIZE),
    OPT_FIELD(block_size, F_SIZE),
    OPT_FIELD(num_memtable_limit, F_SIZE),
    OPT_FIELD(block_cache_bytes, F_SIZE),
    OPT_FIELD(bloom_bits_per_key, F_UNSIGNED),
    OPT_FIELD(max_levels, F_UNSIGNED),
    OPT_FIELD(level0_file_num_compaction_trigger, F_UNSIGNED),
    OPT_FIELD(size_ratio_percent, F_UNSIGNED),
    OPT_FIELD(base_level_size_mb, F_UNSIGNED),
    OPT_FIELD(level_size_multiplier, F_UNSIGNED),
    OPT_FIELD(num_tiers, F_UNSIGNED),
    OPT_FIELD(max_size_amplification_percent, F_UNSIGNED),
    OPT_FIELD(size_ratio, F_UNSIGNED),
    OPT_FIELD(min_merge_width, F_UNSIGNED),
    OPT_FIELD(max_merge_width, F_UNSIGNED),
    OPT_FIELD(stall_memtables, F_UNSIGNED),
    OPT_FIELD(stall_l0_files, F_UNSIGNED),
    OPT_FIELD(enable_wal, F_INT),
};
#define N_OPT_FIELDS (sizeof opt_fields / sizeof opt_fields[0])

static const char *mode_name(lsm_sched s)
{
    return s == LSM_SCHED_THREADS ? "threads" : "inline";
}

static uint64_t field_get(const lsm_options *o, const opt_field *f)
{
    const char *p = (const char *)o + f->offset;
    switch (f->type) {
    case F_SIZE:
        return *(const size_t *)(const void *)p;
    case F_UNSIGNED:
        return *(const unsigned *)(const void *)p;
    case F_INT:
        return (uint64_t)(*(const int *)(const void *)p);
    }
    return 0;
}

static void field_set(lsm_options *o, const opt_field *f, uint64_t v)
{
    char *p = (char *)o + f->offset;
    switch (f->type) {
    case F_SIZE:
        *(size_t *)(void *)p = (size_t)v;
        break;
    case F_UNSIGNED:
        *(unsigned *)(void *)p = (unsigned)v;
        break;
    case F_INT:
        *(int *)(void *)p = (int)v;
        break;
    }
}

/* "config seed=N strategy=S mode=M name=value...": the trace's first line,
 * also printed in every failure report. */
static void fmt_config(strbuf *sb, const config *c)
{
    sb_add(sb, "config seed=%" PRIu64 " strategy=%s mode=%s", c->seed,
           lsm_compaction_name(c->opt.compaction), mode_name(c->opt.sched));
    for (size_t i = 0; i < N_OPT_FIELDS; i++)
        sb_add(sb, " %s=%" PRIu64, opt_fields[i].name,
               field_get(&c->opt, &opt_fields[i]));
}

static bool parse_strategy(const char *s, lsm_compaction *out)
{
    for (int c = LSM_COMPACTION_NONE; c <= LSM_COMPACTION_LEVELED; c++) {
        if (strcmp(s, lsm_compaction_name((lsm_compaction)c)) == 0) {
            *out = (lsm_compaction)c;
            return true;
        }
    }
    return false;
}

static bool parse_mode(const char *s, lsm_sched *out)
{
    if (strcmp(s, "inline") == 0 || strcmp(s, "threads") == 0) {
        *out = s[0] == 'i' ? LSM_SCHED_INLINE : LSM_SCHED_THREADS;
        return true;
    }
    return false;
}

/* One name=value of a config line. */
static bool parse_config_item(config *c, const char *name, const char *value)
{
    char *end;
    uint64_t v;
    if (strcmp(name, "strategy") == 0)
        return parse_strategy(value, &c->opt.compaction);
    if (strcmp(name, "mode") == 0)
        return parse_mode(value, &c->opt.sched);
    errno = 0;
    v = strtoull(value, &end, 10);
    if (end == value || *end != '\0' || errno != 0)
        return false;
    if (strcmp(name, "seed") == 0) {
        c->seed = v;
        return true;
    }
    for (size_t i = 0; i < N_OPT_FIELDS; i++) {
        if (strcmp(name, opt_fields[i].name) == 0) {
            field_set(&c->opt, &opt_fields[i], v);
            return true;
        }
    }
    return false;
}

/* A config line; options it leaves out keep lsm's defaults. */
static bool parse_config(char *line, config *c)
{
    tokens t;
    memset(c, 0, sizeof *c);
    lsm_options_init(&c->opt);
    if (!tokenize(line, &t) || t.n < 1 || strcmp(t.v[0], "config") != 0)
        return false;
    for (size_t i = 1; i < t.n; i++) {
        char *eq = strchr(t.v[i], '=');
        if (eq == NULL)
            return false;
        *eq = '\0';
        if (!parse_config_item(c, t.v[i], eq + 1))
            return false;
    }
    return true;
}

/* The options a seed gives, for one strategy and mode. They do not depend on
 * the strategy or mode, so one seed is the same workload under each. Sizes
 * are tiny so that every mechanism runs often in a few thousand operations;
 * stall limits are low so that writers stall in threads mode. */
static void config_generate(uint64_t seed, lsm_compaction strategy,
                            lsm_sched mode, config *c)
{
    static const size_t caches[] = {0, 4096, 65536, 8u << 20};
    static const unsigned blooms[] = {0, 10, 20};
    uint64_t r = seed ^ 0x6c736d2d64696666ull; /* "lsm-diff" */
    lsm_options *o = &c->opt;
    memset(c, 0, sizeof *c);
    lsm_options_init(o);
    c->seed = seed;
    o->sched = mode;
    o->compaction = strategy;
    o->target_sst_size = rng_range(&r, 512, 4096);
    o->block_size = rng_range(&r, 64, 1024);
    o->num_memtable_limit = rng_range(&r, 1, 4);
    o->block_cache_bytes = caches[rng_below(&r, 4)];
    o->bloom_bits_per_key = blooms[rng_below(&r, 3)];
    o->max_levels = (unsigned)rng_range(&r, 1, 5);
    o->level0_file_num_compaction_trigger = (unsigned)rng_range(&r, 1, 4);
    o->size_ratio_percent = (unsigned)rng_range(&r, 50, 400);
    o->base_level_size_mb = (unsigned)rng_range(&r, 1, 2);
    o->level_size_multiplier = (unsigned)rng_range(&r, 2, 5);
    o->num_tiers = (unsigned)rng_range(&r, 2, 5);
    o->max_size_amplification_percent = (unsigned)rng_range(&r, 50, 400);
    o->size_ratio = (unsigned)rng_range(&r, 0, 10);
    o->min_merge_width = (unsigned)rng_range(&r, 2, 4);
    o->max_merge_width = rng_below(&r, 2) ? 0 : (unsigned)rng_range(&r, 2, 6);
    o->stall_memtables = (unsigned)rng_range(&r, 0, 8);
    o->stall_l0_files = (unsigned)rng_range(&r, 0, 6);
    o->enable_wal = rng_below(&r, 5) != 0;
}

/* The limits lsm.h says a writer stalls at in threads mode (0: none). */
static size_t stall_memtable_limit(const lsm_options *o)
{
    if (o->sched != LSM_SCHED_THREADS || o->stall_memtables == 0)
        return 0;
    return o->stall_memtables > o->num_memtable_limit ? o->stall_memtables
                                                      : o->num_memtable_limit;
}

static unsigned stall_l0_limit(const lsm_options *o)
{
    unsigned trig = o->level0_file_num_compaction_trigger;
    if (o->sched != LSM_SCHED_THREADS || o->stall_l0_files == 0 ||
        (o->compaction != LSM_COMPACTION_SIMPLE &&
         o->compaction != LSM_COMPACTION_LEVELED))
        return 0;
    return o->stall_l0_files > trig ? o->stall_l0_files : trig;
}

/* --- engine events -------------------------------------------------------- */

/* What the engine reported through its event callback during this run. It is
 * called on the engine's background thread in threads mode, hence atomics.
 * The watchdog prints it: a stall whose background work went quiet long ago
 * looks different from one that is merely slow. */
static struct diff_events {
    _Atomic uint64_t frozen, flushes, compactions, bg_errors, warnings;
    _Atomic int last_type;
    _Atomic uint64_t last_ns; /* CLOCK_MONOTONIC of the last event */
    pthread_mutex_t mu;       /* guards bg_msg */
    char bg_msg[512];
} g_ev = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void events_reset(void)
{
    atomic_store(&g_ev.frozen, 0);
    atomic_store(&g_ev.flushes, 0);
    atomic_store(&g_ev.compactions, 0);
    atomic_store(&g_ev.bg_errors, 0);
    atomic_store(&g_ev.warnings, 0);
    atomic_store(&g_ev.last_type, 0);
    atomic_store(&g_ev.last_ns, 0);
    g_ev.bg_msg[0] = '\0';
}

static const char *event_name(int type)
{
    switch (type) {
    case LSM_EVENT_MEMTABLE_FROZEN:
        return "MEMTABLE_FROZEN";
    case LSM_EVENT_FLUSH_BEGIN:
        return "FLUSH_BEGIN";
    case LSM_EVENT_FLUSH_END:
        return "FLUSH_END";
    case LSM_EVENT_COMPACTION_BEGIN:
        return "COMPACTION_BEGIN";
    case LSM_EVENT_COMPACTION_END:
        return "COMPACTION_END";
    case LSM_EVENT_BACKGROUND_ERROR:
        return "BACKGROUND_ERROR";
    case LSM_EVENT_RECOVERED:
        return "RECOVERED";
    case LSM_EVENT_WARNING:
        return "WARNING";
    }
    return "none";
}

static void on_background_error(const lsm_event *e)
{
    pthread_mutex_lock(&g_ev.mu);
    if (g_ev.bg_msg[0] == '\0')
        snprintf(g_ev.bg_msg, sizeof g_ev.bg_msg, "%s: %s", lsm_strerror(e->rc),
                 e->message ? e->message : "(none)");
    pthread_mutex_unlock(&g_ev.mu);
    atomic_fetch_add(&g_ev.bg_errors, 1);
}

static void on_event(void *ctx, const lsm_event *e)
{
    (void)ctx;
    atomic_store(&g_ev.last_type, (int)e->type);
    atomic_store(&g_ev.last_ns, now_ns());
    if (e->type == LSM_EVENT_MEMTABLE_FROZEN)
        atomic_fetch_add(&g_ev.frozen, 1);
    else if (e->type == LSM_EVENT_FLUSH_END)
        atomic_fetch_add(&g_ev.flushes, 1);
    else if (e->type == LSM_EVENT_COMPACTION_END)
        atomic_fetch_add(&g_ev.compactions, 1);
    else if (e->type == LSM_EVENT_WARNING)
        atomic_fetch_add(&g_ev.warnings, 1);
    else if (e->type == LSM_EVENT_BACKGROUND_ERROR)
        on_background_error(e);
}

/* --- the run -------------------------------------------------------------- */

/* A scan's or a held iterator's two sides: lsm's iterator and a LevelDB
 * iterator on a snapshot taken at the same moment. LevelDB has no upper
 * bound, so hi is checked here. */
typedef struct cursor {
    bool open;
    lsm_iter *li;
    leveldb_iterator_t *gi;
    const leveldb_snapshot_t *snap;
    leveldb_readoptions_t *ro;
    dbound hi;
    bool g_end;   /* LevelDB's side is past hi */
    uint64_t pos; /* entries compared so far */
} cursor;

typedef struct run_stats {
    uint64_t ops;
    uint64_t gets, scans, scan_pairs, iter_pairs;
    uint64_t reopens, write_stalls;
} run_stats;

typedef struct run {
    config cfg;
    char dir[PATH_MAX];        /* this run's directory */
    char lsm_dir[PATH_MAX];    /* dir/lsm */
    char ldb_dir[PATH_MAX];    /* dir/leveldb */
    char trace_path[PATH_MAX]; /* dir/trace.txt unless --trace */
    FILE *trace;
    bool verbose;
    lsm_db *lsm;
    leveldb_t *ldb;
    leveldb_options_t *ldb_opt;
    leveldb_readoptions_t *ldb_read;
    leveldb_writeoptions_t *ldb_write;
    cursor held[DIFF_ITERS];
    uint64_t step; /* the step running now */
    strbuf op_text;
    run_stats stats;
    unsigned char *vbuf; /* DIFF_VALUE_MAX bytes for value_fill */
} run;

/* --- the watchdog --------------------------------------------------------- */

/* What the main thread publishes for the watchdog, under mu. */
static struct watchdog {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled to stop the thread */
    pthread_t thread;
    bool started, stop;
    double limit; /* seconds; 0: no watchdog */
    bool busy;    /* an operation is running */
    double began; /* when it began (now_seconds) */
    run *r;       /* the run; r->lsm is read only while mu is held */
} g_wd = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void print_replay_hint(const run *r);

/* lsm_state_get should return at once; if it does not, this says so and
 * ends the process, whose report is already printed. */
static void on_state_alarm(int sig)
{
    static const char msg[] =
        "lsm-diff: lsm_state_get did not return within 10 s either\n";
    (void)sig;
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(1);
}

static void print_events(FILE *f)
{
    uint64_t last = atomic_load(&g_ev.last_ns);
    fprintf(f,
            "  events since the run began: %" PRIu64 " memtables frozen, "
            "%" PRIu64 " flushes, %" PRIu64 " compactions, %" PRIu64
            " background errors\n",
            atomic_load(&g_ev.frozen), atomic_load(&g_ev.flushes),
            atomic_load(&g_ev.compactions), atomic_load(&g_ev.bg_errors));
    if (last != 0)
        fprintf(f, "  last event: %s, %.1f s ago\n",
                event_name(atomic_load(&g_ev.last_type)),
                (double)(now_ns() - last) / 1e9);
}

/* "what (n): [id, id, ...]" of SSTs or memtables. */
static void print_sst_ids(FILE *f, const char *what, const lsm_sst_info *t,
                          size_t n)
{
    fprintf(f, "  %s (%zu): [", what, n);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%" PRIu64, i ? ", " : "", t[i].sst_id);
    fprintf(f, "]\n");
}

static void print_memtable_ids(FILE *f, const char *what,
                               const lsm_memtable_info *m, size_t n)
{
    fprintf(f, "  %s (%zu): [", what, n);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%" PRIu64, i ? ", " : "", m[i].memtable_id);
    fprintf(f, "]\n");
}

static void print_levels(FILE *f, const lsm_state *st)
{
    int tiered = st->compaction == LSM_COMPACTION_TIERED;
    print_sst_ids(f, "L0, newest first", st->l0, st->n_l0);
    fprintf(f, "  %s:", tiered ? "tiers, newest first" : "levels");
    for (size_t i = 0; i < st->n_levels; i++)
        fprintf(f, " %s%d (%zu SSTs)", tiered ? "tier " : "L",
                st->levels[i].level, st->levels[i].n_ssts);
    fprintf(f, "\n");
}

static void print_counters(FILE *f, const lsm_counters *c)
{
    fprintf(f,
            "  counters since open: puts %" PRIu64 ", deletes %" PRIu64
            ", memtables frozen %" PRIu64 ", flushes %" PRIu64
            ", compactions %" PRIu64 ", write stalls %" PRIu64
            " (%.1f s stalled; counted when they end)\n",
            c->puts, c->deletes, c->memtables_frozen, c->flushes,
            c->compactions, c->write_stalls, (double)c->stall_micros / 1e6);
}

/* Why a writer would wait now: lsm.h's stall limits against what is in
 * memory and in L0. A limit that is exceeded while the background events
 * have stopped is a stall that will not end. */
static void print_stall(FILE *f, const lsm_state *st, const lsm_options *o)
{
    size_t mem_limit = stall_memtable_limit(o), n_mem = 1 + st->n_immutables;
    unsigned l0_limit = stall_l0_limit(o);
    fprintf(f, "  stall limits (0 = none): memtables > %zu, L0 > %u\n",
            mem_limit, l0_limit);
    if (mem_limit && n_mem > mem_limit)
        fprintf(f,
                "  a writer waits: %zu memtables > %zu (flushes pending: "
                "%zu)\n",
                n_mem, mem_limit, st->pending_flushes);
    if (l0_limit && st->n_l0 > l0_limit)
        fprintf(f,
                "  a writer waits: L0 has %zu SSTs > %u (compaction "
                "trigger %u)\n",
                st->n_l0, l0_limit, o->level0_file_num_compaction_trigger);
}

/* The engine's shape (as lsm-cli's dump shows it) and its counters. */
static void print_state(FILE *f, const lsm_state *st, const lsm_options *o)
{
    fprintf(f, "  memtable %" PRIu64 ": %" PRIu64 " keys, %" PRIu64 " B\n",
            st->memtable.memtable_id, st->memtable.num_keys,
            st->memtable.size_bytes);
    print_memtable_ids(f, "immutable memtables, newest first", st->immutables,
                       st->n_immutables);
    fprintf(f, "  pending flushes: %zu\n", st->pending_flushes);
    print_levels(f, st);
    fprintf(f, "  open iterators: %zu\n", st->n_iters);
    print_counters(f, &st->counters);
    print_stall(f, st, o);
}

static void watchdog_print_state(run *r)
{
    lsm_state *st = NULL;
    int rc;
    if (r->lsm == NULL) {
        fprintf(stderr, "  engine state: not available (the database is "
                        "being opened or closed)\n");
        return;
    }
    signal(SIGALRM, on_state_alarm);
    alarm(10);
    rc = lsm_state_get(r->lsm, &st);
    alarm(0);
    if (rc != LSM_OK) {
        fprintf(stderr, "  lsm_state_get failed: %s: %s\n", lsm_strerror(rc),
                lsm_errmsg());
        return;
    }
    fprintf(stderr, "  engine state (lsm_state_get):\n");
    print_state(stderr, st, &r->cfg.opt);
    lsm_state_free(st);
}

/* Called with g_wd.mu held, so the main thread cannot close the database
 * under lsm_state_get. Prints everything known before asking the engine,
 * in case that blocks too. */
_Noreturn static void watchdog_fire(double elapsed)
{
    run *r = g_wd.r;
    strbuf cfg = {.n = 0};
    fmt_config(&cfg, &r->cfg);
    fflush(stdout);
    fprintf(stderr,
            "lsm-diff: WATCHDOG at step %" PRIu64 " (seed %" PRIu64
            ", %s, %s): the operation has run for %.1f s (limit %g s)\n"
            "  operation: %s\n  %s\n",
            r->step, r->cfg.seed, lsm_compaction_name(r->cfg.opt.compaction),
            mode_name(r->cfg.opt.sched), elapsed, g_wd.limit, r->op_text.s,
            cfg.s);
    print_events(stderr);
    print_replay_hint(r);
    fflush(stderr);
    watchdog_print_state(r);
    fflush(stderr);
    _exit(1);
}

static void *watchdog_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_wd.mu);
    while (!g_wd.stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 200 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&g_wd.cv, &g_wd.mu, &ts);
        if (g_wd.busy && now_seconds() - g_wd.began > g_wd.limit)
            watchdog_fire(now_seconds() - g_wd.began);
    }
    pthread_mutex_unlock(&g_wd.mu);
    return NULL;
}

static bool watchdog_start(double limit)
{
    pthread_condattr_t attr;
    g_wd.limit = limit;
    if (limit <= 0)
        return true;
    if (pthread_condattr_init(&attr) != 0 ||
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&g_wd.cv, &attr) != 0)
        return false;
    pthread_condattr_destroy(&attr);
    if (pthread_create(&g_wd.thread, NULL, watchdog_main, NULL) != 0)
        return false;
    g_wd.started = true;
    return true;
}

static void watchdog_stop(void)
{
    if (!g_wd.started)
        return;
    pthread_mutex_lock(&g_wd.mu);
    g_wd.stop = true;
    pthread_cond_signal(&g_wd.cv);
    pthread_mutex_unlock(&g_wd.mu);
    pthread_join(g_wd.thread, NULL);
    pthread_cond_destroy(&g_wd.cv);
    g_wd.started = false;
}

/* The main thread starts and ends each operation through these. */
static void watchdog_begin(run *r)
{
    pthread_mutex_lock(&g_wd.mu);
    g_wd.r = r;
    g_wd.busy = true;
    g_wd.began = now_seconds();
    pthread_mutex_unlock(&g_wd.mu);
}

static void watchdog_end(void)
{
    pthread_mutex_lock(&g_wd.mu);
    g_wd.busy = false;
    pthread_mutex_unlock(&g_wd.mu);
}

/* Changes r->lsm where the watchdog may be reading it. */
static void watchdog_set_db(run *r, lsm_db *db)
{
    pthread_mutex_lock(&g_wd.mu);
    r->lsm = db;
    pthread_mutex_unlock(&g_wd.mu);
}

/* --- failure reports ------------------------------------------------------ */

/* How this program was started, for the replay command a report gives. */
static const char *g_prog = "lsm-diff";

static void print_replay_hint(const run *r)
{
    fprintf(stderr, "  kept: %s\n  replay: %s --replay %s\n", r->dir, g_prog,
            r->trace_path);
}

/* Reports the first difference or unexpected error and ends the process:
 * what the engines hold is evidence, so nothing is closed or removed. */
_Noreturn static DIFF_PRINTF(3, 4) void run_fail(run *r, const char *kind,
                                                 const char *fmt, ...)
{
    strbuf cfg = {.n = 0};
    va_list ap;
    fmt_config(&cfg, &r->cfg);
    fflush(stdout);
    pthread_mutex_lock(&g_wd.mu); /* no watchdog report in the middle */
    fprintf(stderr,
            "lsm-diff: %s at step %" PRIu64 " (seed %" PRIu64
            ", %s, %s)\n  operation: %s\n  ",
            kind, r->step, r->cfg.seed,
            lsm_compaction_name(r->cfg.opt.compaction),
            mode_name(r->cfg.opt.sched), r->op_text.s);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  %s\n", cfg.s);
    print_replay_hint(r);
    fflush(stderr);
    _exit(1);
}

/* An lsm call must have returned LSM_OK. */
static void check_lsm(run *r, int rc, const char *call)
{
    if (rc != LSM_OK)
        run_fail(r, "ERROR", "%s returned %d (%s): %s", call, rc,
                 lsm_strerror(rc), lsm_errmsg());
}

/* A LevelDB call must have left no error message. */
static void check_ldb(run *r, char *err, const char *call)
{
    if (err != NULL)
        run_fail(r, "ERROR",
                 "LevelDB's %s failed: %s (the reference "
                 "engine failed; this is not a difference)",
                 call, err);
}

/* The engine reports failed background work through its callback. */
static void check_background(run *r)
{
    if (atomic_load(&g_ev.bg_errors) == 0)
        return;
    pthread_mutex_lock(&g_ev.mu);
    strbuf msg = {.n = 0};
    sb_add(&msg, "%s", g_ev.bg_msg);
    pthread_mutex_unlock(&g_ev.mu);
    run_fail(r, "ERROR", "lsm reported a background error: %s", msg.s);
}

/* One side's entry (or its absence) for a message. */
static void fmt_entry(strbuf *sb, bool valid, const void *k, size_t nk,
                      const void *v, size_t nv)
{
    if (!valid) {
        sb_add(sb, "end of range");
        return;
    }
    sb_bytes(sb, k, nk, DIFF_SHOW_BYTES);
    sb_add(sb, " = ");
    sb_bytes(sb, v, nv, DIFF_SHOW_BYTES);
    sb_add(sb, " (%zu bytes)", nv);
}

/* --- the two engines ------------------------------------------------------ */

static void ldb_open(run *r)
{
    char *err = NULL;
    r->ldb_opt = leveldb_options_create();
    leveldb_options_set_create_if_missing(r->ldb_opt, 1);
    r->ldb_read = leveldb_readoptions_create();
    r->ldb_write = leveldb_writeoptions_create();
    r->ldb = leveldb_open(r->ldb_opt, r->ldb_dir, &err);
    check_ldb(r, err, "leveldb_open");
}

static void ldb_close(run *r)
{
    leveldb_close(r->ldb);
    leveldb_writeoptions_destroy(r->ldb_write);
    leveldb_readoptions_destroy(r->ldb_read);
    leveldb_options_destroy(r->ldb_opt);
    r->ldb = NULL;
    r->ldb_write = NULL;
    r->ldb_read = NULL;
    r->ldb_opt = NULL;
}

static void engines_open(run *r)
{
    lsm_options o = r->cfg.opt;
    lsm_db *db = NULL;
    o.event_cb = on_event;
    o.event_ctx = NULL;
    check_lsm(r, lsm_open(r->lsm_dir, &o, &db), "lsm_open");
    watchdog_set_db(r, db);
    ldb_open(r);
}

/* Adds this open's write stalls to the run's total (counters restart at
 * every open). */
static void collect_stalls(run *r)
{
    lsm_state *st = NULL;
    check_lsm(r, lsm_state_get(r->lsm, &st), "lsm_state_get");
    r->stats.write_stalls += st->counters.write_stalls;
    lsm_state_free(st);
}

static void cursor_close(cursor *c, run *r);

/* lsm requires every iterator closed before lsm_close. */
static void engines_close(run *r)
{
    lsm_db *db = r->lsm;
    for (size_t i = 0; i < DIFF_ITERS; i++)
        cursor_close(&r->held[i], r);
    collect_stalls(r);
    watchdog_set_db(r, NULL);
    check_lsm(r, lsm_close(db), "lsm_close");
    ldb_close(r);
}

/* --- cursors: scans and held iterators ------------------------------------ */

static void to_lsm_bound(const dbound *b, lsm_bound *out)
{
    out->kind = b->kind;
    out->key = b->key.b;
    out->nkey = b->key.n;
}

/* After LevelDB's iterator moved: an error ends the run; a key past hi
 * ends the range. */
static void cursor_settle(run *r, cursor *c)
{
    const char *k;
    size_t nk;
    int cmp;
    if (!leveldb_iter_valid(c->gi)) {
        char *err = NULL;
        leveldb_iter_get_error(c->gi, &err);
        check_ldb(r, err, "iterator (seek or next)");
        c->g_end = true;
        return;
    }
    if (c->hi.kind == LSM_BOUND_UNBOUNDED)
        return;
    k = leveldb_iter_key(c->gi, &nk);
    cmp = bytes_cmp(k, nk, c->hi.key.b, c->hi.key.n);
    if (cmp > 0 || (cmp == 0 && c->hi.kind == LSM_BOUND_EXCLUDED))
        c->g_end = true;
}

/* LevelDB's iterator on the first key at or after lo. */
static void cursor_seek_ldb(run *r, cursor *c, const dbound *lo)
{
    if (lo->kind == LSM_BOUND_UNBOUNDED) {
        leveldb_iter_seek_to_first(c->gi);
    } else {
        leveldb_iter_seek(c->gi, (const char *)lo->key.b, lo->key.n);
        if (lo->kind == LSM_BOUND_EXCLUDED && leveldb_iter_valid(c->gi)) {
            size_t nk;
            const char *k = leveldb_iter_key(c->gi, &nk);
            if (bytes_cmp(k, nk, lo->key.b, lo->key.n) == 0)
                leveldb_iter_next(c->gi);
        }
    }
    cursor_settle(r, c);
}

/* Both iterators at the same moment: nothing runs between the two. */
static void cursor_open(run *r, cursor *c, const dbound *lo, const dbound *hi)
{
    lsm_bound l, h;
    memset(c, 0, sizeof *c);
    to_lsm_bound(lo, &l);
    to_lsm_bound(hi, &h);
    check_lsm(r, lsm_scan(r->lsm, &l, &h, &c->li), "lsm_scan");
    c->snap = leveldb_create_snapshot(r->ldb);
    c->ro = leveldb_readoptions_create();
    leveldb_readoptions_set_snapshot(c->ro, c->snap);
    c->gi = leveldb_create_iterator(r->ldb, c->ro);
    c->hi = *hi;
    c->open = true;
    cursor_seek_ldb(r, c, lo);
}

static void cursor_close(cursor *c, run *r)
{
    if (!c->open)
        return;
    lsm_iter_close(c->li);
    leveldb_iter_destroy(c->gi);
    leveldb_readoptions_destroy(c->ro);
    leveldb_release_snapshot(r->ldb, c->snap);
    memset(c, 0, sizeof *c);
}

_Noreturn static void cursor_mismatch(run *r, const cursor *c, bool lv, bool gv)
{
    strbuf a = {.n = 0}, b = {.n = 0};
    size_t nk = 0, nv = 0;
    const void *k = lv ? lsm_iter_key(c->li, &nk) : NULL;
    const void *v = lv ? lsm_iter_value(c->li, &nv) : NULL;
    fmt_entry(&a, lv, k, nk, v, nv);
    k = gv ? leveldb_iter_key(c->gi, &nk) : NULL;
    v = gv ? leveldb_iter_value(c->gi, &nv) : NULL;
    fmt_entry(&b, gv, k, nk, v, nv);
    run_fail(r, "DIFFERENCE",
             "entry %" PRIu64 " of the range (0 = first):\n"
             "    lsm:     %s\n    leveldb: %s",
             c->pos, a.s, b.s);
}

/* Compares the current entries; returns whether there is one (both sides
 * agree on that, or the run fails). */
static bool cursor_compare(run *r, const cursor *c)
{
    bool lv = lsm_iter_valid(c->li) != 0;
    bool gv = !c->g_end;
    size_t nk, nv, gnk, gnv;
    if (lv != gv)
        cursor_mismatch(r, c, lv, gv);
    if (!lv)
        return false;
    const void *k = lsm_iter_key(c->li, &nk);
    const void *v = lsm_iter_value(c->li, &nv);
    const char *gk = leveldb_iter_key(c->gi, &gnk);
    const char *gval = leveldb_iter_value(c->gi, &gnv);
    if (bytes_cmp(k, nk, gk, gnk) != 0 || bytes_cmp(v, nv, gval, gnv) != 0)
        cursor_mismatch(r, c, lv, gv);
    return true;
}

/* Moves both past an entry they agreed on. */
static void cursor_next(run *r, cursor *c)
{
    check_lsm(r, lsm_iter_next(c->li), "lsm_iter_next");
    leveldb_iter_next(c->gi);
    cursor_settle(r, c);
    c->pos++;
}

/* --- executing operations ------------------------------------------------- */

static void exec_put(run *r, const op *o)
{
    char *err = NULL;
    value_fill(&o->val, r->vbuf);
    check_lsm(r, lsm_put(r->lsm, o->key.b, o->key.n, r->vbuf, o->val.len),
              "lsm_put");
    leveldb_put(r->ldb, r->ldb_write, (const char *)o->key.b, o->key.n,
                (const char *)r->vbuf, o->val.len, &err);
    check_ldb(r, err, "leveldb_put");
}

static void exec_del(run *r, const op *o)
{
    char *err = NULL;
    check_lsm(r, lsm_delete(r->lsm, o->key.b, o->key.n), "lsm_delete");
    leveldb_delete(r->ldb, r->ldb_write, (const char *)o->key.b, o->key.n,
                   &err);
    check_ldb(r, err, "leveldb_delete");
}

/* lsm_delete_range; LevelDB has none: its keys in [key, end) are read
 * and deleted in one batch, which is what a range delete must amount to
 * for every later read. */
static void exec_delrange(run *r, const op *o)
{
    char *err = NULL;
    check_lsm(r,
              lsm_delete_range(r->lsm, o->key.b, o->key.n, o->end.b, o->end.n),
              "lsm_delete_range");
    leveldb_writebatch_t *gb = leveldb_writebatch_create();
    leveldb_iterator_t *it = leveldb_create_iterator(r->ldb, r->ldb_read);
    for (leveldb_iter_seek(it, (const char *)o->key.b, o->key.n);
         leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t nk;
        const char *k = leveldb_iter_key(it, &nk);
        size_t n = nk < o->end.n ? nk : o->end.n;
        int c = n ? memcmp(k, o->end.b, n) : 0;
        if (c > 0 || (c == 0 && nk >= o->end.n))
            break;
        leveldb_writebatch_delete(gb, k, nk);
    }
    leveldb_iter_get_error(it, &err);
    check_ldb(r, err, "leveldb iterator (delrange)");
    leveldb_iter_destroy(it);
    leveldb_write(r->ldb, r->ldb_write, gb, &err);
    check_ldb(r, err, "leveldb_write (delrange)");
    leveldb_writebatch_destroy(gb);
}

/* Adds one entry to both batches. */
static void batch_add(run *r, lsm_batch *lb, leveldb_writebatch_t *gb,
                      const batch_entry *e)
{
    const char *k = (const char *)e->key.b;
    if (e->is_del) {
        check_lsm(r, lsm_batch_delete(lb, e->key.b, e->key.n),
                  "lsm_batch_delete");
        leveldb_writebatch_delete(gb, k, e->key.n);
        return;
    }
    value_fill(&e->val, r->vbuf);
    check_lsm(r, lsm_batch_put(lb, e->key.b, e->key.n, r->vbuf, e->val.len),
              "lsm_batch_put");
    leveldb_writebatch_put(gb, k, e->key.n, (const char *)r->vbuf, e->val.len);
}

static void exec_batch(run *r, const op *o)
{
    lsm_batch *lb = NULL;
    leveldb_writebatch_t *gb = leveldb_writebatch_create();
    char *err = NULL;
    check_lsm(r, lsm_batch_new(&lb), "lsm_batch_new");
    for (size_t i = 0; i < o->n_batch; i++)
        batch_add(r, lb, gb, &o->batch[i]);
    if (lsm_batch_count(lb) != o->n_batch)
        run_fail(r, "DIFFERENCE", "lsm_batch_count is %zu after %zu adds",
                 lsm_batch_count(lb), o->n_batch);
    check_lsm(r, lsm_write(r->lsm, lb), "lsm_write");
    leveldb_write(r->ldb, r->ldb_write, gb, &err);
    check_ldb(r, err, "leveldb_write");
    lsm_batch_free(lb);
    leveldb_writebatch_destroy(gb);
}

/* "found "..." (N bytes)" or "not found", for a get's report. */
static void fmt_found(strbuf *sb, bool found, const void *v, size_t n)
{
    if (!found) {
        sb_add(sb, "not found");
        return;
    }
    sb_add(sb, "found ");
    sb_bytes(sb, v, n, DIFF_SHOW_BYTES);
    sb_add(sb, " (%zu bytes)", n);
}

/* lsm's answer and LevelDB's to one get. */
static void get_compare(run *r, int rc, const void *lv, size_t ln,
                        const char *gv, size_t gn)
{
    strbuf a = {.n = 0}, b = {.n = 0};
    bool lfound = rc == LSM_OK, gfound = gv != NULL;
    if (lfound && ((const char *)lv)[ln] != '\0')
        run_fail(r, "DIFFERENCE",
                 "lsm_get's value lacks its terminating "
                 "NUL byte (lsm.h promises one)");
    if (lfound == gfound && (!lfound || bytes_cmp(lv, ln, gv, gn) == 0))
        return;
    fmt_found(&a, lfound, lv, ln);
    fmt_found(&b, gfound, gv, gn);
    run_fail(r, "DIFFERENCE",
             "get answers differ:\n    lsm:     %s\n    leveldb: %s", a.s, b.s);
}

static void exec_get(run *r, const op *o)
{
    void *lv = NULL;
    size_t ln = 0, gn = 0;
    char *err = NULL;
    int rc = lsm_get(r->lsm, o->key.b, o->key.n, &lv, &ln);
    if (rc != LSM_NOTFOUND)
        check_lsm(r, rc, "lsm_get");
    char *gv = leveldb_get(r->ldb, r->ldb_read, (const char *)o->key.b,
                           o->key.n, &gn, &err);
    check_ldb(r, err, "leveldb_get");
    get_compare(r, rc, lv, ln, gv, gn);
    lsm_free(lv);
    leveldb_free(gv);
    r->stats.gets++;
}

/* A scan: every entry of the range, compared in order, then closed. */
static void exec_scan(run *r, const op *o)
{
    cursor c;
    cursor_open(r, &c, &o->lo, &o->hi);
    while (cursor_compare(r, &c))
        cursor_next(r, &c);
    r->stats.scan_pairs += c.pos;
    r->stats.scans++;
    cursor_close(&c, r);
}

/* Opening a busy slot replaces its iterator, and iter_next or iter_close of
 * an empty slot does nothing: any subset of a trace's lines is a valid trace,
 * which makes cutting a failing trace down easy. */
static void exec_iter_open(run *r, const op *o)
{
    cursor *c = &r->held[o->slot];
    cursor_close(c, r);
    cursor_open(r, c, &o->lo, &o->hi);
    cursor_compare(r, c);
    r->stats.iter_pairs++;
}

static void exec_iter_next(run *r, const op *o)
{
    cursor *c = &r->held[o->slot];
    if (!c->open)
        return;
    /* The current entry again: writes, flushes and compactions since the
     * last step must not have changed (or freed) it. */
    if (!cursor_compare(r, c))
        return;
    for (unsigned i = 0; i < o->steps; i++) {
        cursor_next(r, c);
        r->stats.iter_pairs++;
        if (!cursor_compare(r, c))
            break;
    }
}

static void exec_compact(run *r)
{
    check_lsm(r, lsm_compact_full(r->lsm), "lsm_compact_full");
    leveldb_compact_range(r->ldb, NULL, 0, NULL, 0);
}

static void exec_reopen(run *r)
{
    engines_close(r);
    engines_open(r);
    r->stats.reopens++;
}

static void exec_op(run *r, const op *o)
{
    switch (o->kind) {
    case OP_PUT:
        exec_put(r, o);
        break;
    case OP_DEL:
        exec_del(r, o);
        break;
    case OP_BATCH:
        exec_batch(r, o);
        break;
    case OP_GET:
        exec_get(r, o);
        break;
    case OP_SCAN:
        exec_scan(r, o);
        break;
    case OP_ITER_OPEN:
        exec_iter_open(r, o);
        break;
    case OP_ITER_NEXT:
        exec_iter_next(r, o);
        break;
    case OP_ITER_CLOSE:
        cursor_close(&r->held[o->slot], r);
        break;
    case OP_FLUSH: /* LevelDB has no flush; its answers cannot change */
        check_lsm(r, lsm_flush(r->lsm), "lsm_flush");
        break;
    case OP_COMPACT:
        exec_compact(r);
        break;
    case OP_REOPEN:
        exec_reopen(r);
        break;
    case OP_DELRANGE:
        exec_delrange(r, o);
        break;
    }
}

/* --- generating operations ------------------------------------------------ */

/* Where operations come from: the generator or a trace being replayed.
 * Returns 1 with *o and its step filled, 0 at the end. */
typedef int (*op_source_fn)(void *ctx, uint64_t *step, op *o);

typedef struct gen {
    uint64_t rng;
    uint64_t ops, step;
    dkey *keys; /* the key space */
    size_t n_keys;
    size_t n_hot; /* keys[0..n_hot) get half of the picks */
    bool held[DIFF_ITERS];
} gen;

/* Letters and digits mostly, so traces stay readable, and the extreme bytes
 * 0x00 and 0xff often, since they are where order bugs hide. */
static unsigned char key_byte(uint64_t *rng)
{
    uint64_t x = rng_below(rng, 100);
    if (x < 45)
        return (unsigned char)('a' + rng_below(rng, 26));
    if (x < 65)
        return (unsigned char)('0' + rng_below(rng, 10));
    if (x < 77)
        return 0x00;
    if (x < 89)
        return 0xff;
    return (unsigned char)rng_next(rng);
}

static void key_random(uint64_t *rng, dkey *k)
{
    uint64_t x = rng_below(rng, 100);
    k->n = x < 50   ? rng_range(rng, 1, 6)
           : x < 85 ? rng_range(rng, 7, 16)
                    : rng_range(rng, 17, DIFF_KEY_GEN_MAX);
    for (size_t i = 0; i < k->n; i++)
        k->b[i] = key_byte(rng);
}

/* A fifth of the keys are a prefix or a one-byte extension of an earlier
 * key, so "shorter first on a common prefix" is exercised. */
static void key_space_fill(gen *g)
{
    for (size_t i = 0; i < g->n_keys; i++) {
        dkey *k = &g->keys[i];
        if (i == 0 || rng_below(&g->rng, 5) != 0) {
            key_random(&g->rng, k);
            continue;
        }
        *k = g->keys[rng_below(&g->rng, i)];
        if (k->n < DIFF_KEY_GEN_MAX && rng_below(&g->rng, 2))
            k->b[k->n++] = key_byte(&g->rng);
        else if (k->n > 1)
            k->n = rng_range(&g->rng, 1, k->n - 1);
    }
}

static bool gen_init(gen *g, uint64_t seed, uint64_t ops)
{
    memset(g, 0, sizeof *g);
    g->rng = seed;
    g->ops = ops;
    g->n_keys = rng_range(&g->rng, 200, 3000);
    g->n_hot = g->n_keys / 10 + 1;
    g->keys = calloc(g->n_keys, sizeof *g->keys);
    if (g->keys == NULL)
        return false;
    key_space_fill(g);
    return true;
}

static void gen_free(gen *g)
{
    free(g->keys);
    g->keys = NULL;
}

/* Mostly keys of the key space (hot ones half the time, so overwrites and
 * deletes hit), sometimes a fresh key that is almost surely absent. */
static void gen_key(gen *g, dkey *k)
{
    uint64_t x = rng_below(&g->rng, 100);
    if (x < 8)
        key_random(&g->rng, k);
    else if (x < 54)
        *k = g->keys[rng_below(&g->rng, g->n_hot)];
    else
        *k = g->keys[rng_below(&g->rng, g->n_keys)];
}

/* Empty values often (a real value, not a delete), a few KB rarely. */
static void gen_value(gen *g, dval *v)
{
    uint64_t x = rng_below(&g->rng, 100);
    v->len = x < 10   ? 0
             : x < 65 ? (uint32_t)rng_range(&g->rng, 1, 32)
             : x < 95 ? (uint32_t)rng_range(&g->rng, 33, 300)
                      : (uint32_t)rng_range(&g->rng, 1000, 4096);
    v->tag = (uint32_t)rng_next(&g->rng);
}

static void gen_bound(gen *g, dbound *b)
{
    uint64_t x = rng_below(&g->rng, 10);
    b->kind = x < 2   ? LSM_BOUND_UNBOUNDED
              : x < 6 ? LSM_BOUND_INCLUDED
                      : LSM_BOUND_EXCLUDED;
    if (b->kind == LSM_BOUND_UNBOUNDED)
        b->key.n = 0;
    else
        gen_key(g, &b->key);
}

/* A range, usually in order; sometimes lo > hi (an empty range), and
 * sometimes lo == hi. */
static void gen_range(gen *g, op *o)
{
    gen_bound(g, &o->lo);
    gen_bound(g, &o->hi);
    if (o->lo.kind != LSM_BOUND_UNBOUNDED &&
        o->hi.kind != LSM_BOUND_UNBOUNDED) {
        uint64_t x = rng_below(&g->rng, 100);
        if (x < 10)
            o->hi.key = o->lo.key;
        else if (x < 88 && bytes_cmp(o->lo.key.b, o->lo.key.n, o->hi.key.b,
                                     o->hi.key.n) > 0) {
            dkey t = o->lo.key;
            o->lo.key = o->hi.key;
            o->hi.key = t;
        }
    }
}

static void gen_batch(gen *g, op *o)
{
    o->n_batch = rng_range(&g->rng, 1, DIFF_BATCH_MAX);
    for (size_t i = 0; i < o->n_batch; i++) {
        batch_entry *e = &o->batch[i];
        e->is_del = rng_below(&g->rng, 3) == 0;
        gen_key(g, &e->key);
        if (!e->is_del)
            gen_value(g, &e->val);
    }
}

/* The index of the n-th slot (0 = first) whose held flag is want. */
static unsigned nth_slot(const bool *held, bool want, unsigned n)
{
    for (unsigned i = 0; i < DIFF_ITERS; i++)
        if (held[i] == want && n-- == 0)
            return i;
    return 0; /* not reached: callers pick n below the count */
}

/* Opens an iterator in a free slot, or advances or closes a held one. */
static void gen_iter(gen *g, op *o)
{
    unsigned n_held = 0;
    for (unsigned i = 0; i < DIFF_ITERS; i++)
        n_held += g->held[i];
    if (n_held < DIFF_ITERS && (n_held == 0 || rng_below(&g->rng, 4) == 0)) {
        o->kind = OP_ITER_OPEN;
        o->slot = nth_slot(g->held, false,
                           (unsigned)rng_below(&g->rng, DIFF_ITERS - n_held));
        gen_range(g, o);
        g->held[o->slot] = true;
        return;
    }
    o->slot = nth_slot(g->held, true, (unsigned)rng_below(&g->rng, n_held));
    if (rng_below(&g->rng, 6) == 0) {
        o->kind = OP_ITER_CLOSE;
        g->held[o->slot] = false;
    } else {
        o->kind = OP_ITER_NEXT;
        o->steps = (unsigned)rng_range(&g->rng, 1, DIFF_STEPS_MAX);
    }
}

/* A range delete between two generated keys (a delete when they are
 * equal: a range needs its start below its end). */
static void gen_delrange(gen *g, op *o)
{
    dkey a, b;
    gen_key(g, &a);
    gen_key(g, &b);
    size_t n = a.n < b.n ? a.n : b.n;
    int c = n ? memcmp(a.b, b.b, n) : 0;
    if (c == 0)
        c = a.n < b.n ? -1 : a.n > b.n;
    o->kind = c == 0 ? OP_DEL : OP_DELRANGE;
    o->key = c <= 0 ? a : b;
    o->end = c <= 0 ? b : a;
}

/* The mix, in thousandths. */
static void gen_op(gen *g, op *o)
{
    uint64_t x = rng_below(&g->rng, 1000);
    memset(o, 0, sizeof *o);
    if (x < 320) {
        o->kind = OP_PUT;
        gen_key(g, &o->key);
        gen_value(g, &o->val);
    } else if (x < 405) {
        o->kind = OP_DEL;
        gen_key(g, &o->key);
    } else if (x < 420) {
        gen_delrange(g, o);
    } else if (x < 490) {
        o->kind = OP_BATCH;
        gen_batch(g, o);
    } else if (x < 740) {
        o->kind = OP_GET;
        gen_key(g, &o->key);
    } else if (x < 800) {
        o->kind = OP_SCAN;
        gen_range(g, o);
    } else if (x < 960) {
        gen_iter(g, o);
    } else if (x < 985) {
        o->kind = OP_FLUSH;
    } else if (x < 995) {
        o->kind = OP_COMPACT;
    } else {
        o->kind = OP_REOPEN;
        memset(g->held, 0, sizeof g->held); /* reopen closes them */
    }
}

/* The last operation is a scan of everything: whatever the run did, the
 * whole contents must agree at the end. */
static int gen_next(void *ctx, uint64_t *step, op *o)
{
    gen *g = ctx;
    if (g->step >= g->ops)
        return 0;
    *step = ++g->step;
    if (g->step < g->ops) {
        gen_op(g, o);
    } else {
        memset(o, 0, sizeof *o);
        o->kind = OP_SCAN;
    }
    return 1;
}

/* --- replaying a trace ---------------------------------------------------- */

typedef struct replay {
    FILE *f;
    const char *path;
    char *line;
    size_t cap;
    uint64_t lineno;
} replay;

_Noreturn static void replay_bad(const replay *rp, const char *what)
{
    fflush(stdout);
    fprintf(stderr, "lsm-diff: %s:%" PRIu64 ": %s\n", rp->path, rp->lineno,
            what);
    _exit(2);
}

/* The next line that is not blank or a # comment; false at the end. */
static bool replay_line(replay *rp)
{
    while (getline(&rp->line, &rp->cap, rp->f) >= 0) {
        const char *p = rp->line;
        rp->lineno++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '#' && *p != '\n' && *p != '\r' && *p != '\0')
            return true;
    }
    if (ferror(rp->f))
        replay_bad(rp, strerror(errno));
    return false;
}

static int replay_next(void *ctx, uint64_t *step, op *o)
{
    replay *rp = ctx;
    if (!replay_line(rp))
        return 0;
    if (!parse_op(rp->line, step, o))
        replay_bad(rp, "not an operation line (tests/diff/README.md "
                       "describes the format)");
    return 1;
}

static void replay_open(replay *rp, const char *path, config *cfg)
{
    memset(rp, 0, sizeof *rp);
    rp->path = path;
    rp->f = fopen(path, "r");
    if (rp->f == NULL)
        replay_bad(rp, strerror(errno));
    if (!replay_line(rp) || !parse_config(rp->line, cfg))
        replay_bad(rp, "expected the config line");
}

static void replay_close(replay *rp)
{
    free(rp->line);
    if (rp->f != NULL)
        fclose(rp->f);
}

/* --- running -------------------------------------------------------------- */

/* The trace: a line per operation, flushed at once, so a hang or a crash
 * leaves every operation up to the one that failed. */
static void trace_line(run *r, const char *fmt, ...) DIFF_PRINTF(2, 3);

static void trace_line(run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfprintf(r->trace, fmt, ap);
    va_end(ap);
    if (rc < 0 || fputc('\n', r->trace) == EOF || fflush(r->trace) != 0)
        run_fail(r, "ERROR", "cannot write the trace %s: %s", r->trace_path,
                 strerror(errno));
}

static bool path_join(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    return n > 0 && n < PATH_MAX;
}

/* Removes path and, if it is a directory, everything under it (symlinks
 * are removed, never followed). */
static bool rm_tree(const char *path)
{
    struct stat sb;
    DIR *d;
    struct dirent *e;
    bool ok = true;
    if (lstat(path, &sb) != 0)
        return false;
    if (!S_ISDIR(sb.st_mode))
        return unlink(path) == 0;
    if ((d = opendir(path)) == NULL)
        return false;
    while ((e = readdir(d)) != NULL) {
        char child[PATH_MAX];
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (!path_join(child, path, e->d_name) || !rm_tree(child))
            ok = false;
    }
    closedir(d);
    return rmdir(path) == 0 && ok;
}

/* The run's own directory under base, which must not exist yet: a stale
 * database would make the engines start from different contents. */
static bool run_make_dirs(run *r, const char *base, const char *name)
{
    if (!path_join(r->dir, base, name) ||
        !path_join(r->lsm_dir, r->dir, "lsm") ||
        !path_join(r->ldb_dir, r->dir, "leveldb"))
        return false;
    if (mkdir(r->dir, 0777) != 0) {
        fprintf(stderr, "lsm-diff: cannot create %s: %s\n", r->dir,
                strerror(errno));
        return false;
    }
    return true;
}

static bool run_open_trace(run *r, const char *trace_path)
{
    if (trace_path == NULL) {
        if (!path_join(r->trace_path, r->dir, DIFF_TRACE_NAME))
            return false;
    } else if (snprintf(r->trace_path, PATH_MAX, "%s", trace_path) >=
               PATH_MAX) {
        return false;
    }
    r->trace = fopen(r->trace_path, "w");
    if (r->trace == NULL) {
        fprintf(stderr, "lsm-diff: cannot write %s: %s\n", r->trace_path,
                strerror(errno));
        return false;
    }
    return true;
}

/* One operation: traced first (so a hang leaves it in the trace), then run
 * on both engines under the watchdog. */
static void run_step(run *r, uint64_t step, const op *o)
{
    r->step = step;
    r->op_text.n = 0;
    fmt_op(&r->op_text, o);
    trace_line(r, "%" PRIu64 " %s", step, r->op_text.s);
    watchdog_begin(r);
    exec_op(r, o);
    watchdog_end();
    check_background(r);
    r->stats.ops++;
}

static void run_ops(run *r, op_source_fn next, void *ctx)
{
    op *o = malloc(sizeof *o);
    uint64_t step;
    if (o == NULL)
        run_fail(r, "ERROR", "out of memory");
    while (next(ctx, &step, o))
        run_step(r, step, o);
    free(o);
}

/* Closing is watched too: in threads mode it waits for background work. */
static void run_finish(run *r)
{
    if (r->verbose) {
        lsm_state *st = NULL;
        check_lsm(r, lsm_state_get(r->lsm, &st), "lsm_state_get");
        printf("lsm-diff: engine state at the end of the run:\n");
        print_state(stdout, st, &r->cfg.opt);
        lsm_state_free(st);
    }
    r->step++;
    r->op_text.n = 0;
    sb_add(&r->op_text, "(close at the end of the run)");
    watchdog_begin(r);
    engines_close(r);
    watchdog_end();
    check_background(r);
    trace_line(r, "# end: %" PRIu64 " operations, all agree", r->stats.ops);
}

static uint64_t run_reads(const run_stats *s)
{
    return s->gets + s->scan_pairs + s->iter_pairs;
}

static void run_summary(const run *r, double seconds)
{
    const run_stats *s = &r->stats;
    printf(
        "lsm-diff: seed %" PRIu64 " %s %s: %" PRIu64 " ops, %" PRIu64
        " reads compared (%" PRIu64 " gets, %" PRIu64 " scans with %" PRIu64
        " entries, %" PRIu64 " iterator entries); %" PRIu64 " flushes, %" PRIu64
        " compactions, %" PRIu64 " reopens, %" PRIu64 " write stalls; %.1f s\n",
        r->cfg.seed, lsm_compaction_name(r->cfg.opt.compaction),
        mode_name(r->cfg.opt.sched), s->ops, run_reads(s), s->gets, s->scans,
        s->scan_pairs, s->iter_pairs, atomic_load(&g_ev.flushes),
        atomic_load(&g_ev.compactions), s->reopens, s->write_stalls, seconds);
    fflush(stdout);
}

/* What every run needs from the command line. */
typedef struct settings {
    const char *base;  /* where run directories go */
    const char *trace; /* --trace, or NULL for DIR/trace.txt */
    bool verbose;
} settings;

/* One run: config, then every operation of the source, then close. On a
 * difference it never returns; on success its directory is removed.
 * Returns the reads compared, or -1 when it could not start. */
static int64_t run_one(const settings *st, const config *cfg, const char *name,
                       op_source_fn next, void *ctx)
{
    static run r; /* large; one at a time */
    strbuf line = {.n = 0};
    double t0 = now_seconds();
    memset(&r, 0, sizeof r);
    r.cfg = *cfg;
    r.verbose = st->verbose;
    r.vbuf = malloc(DIFF_VALUE_MAX);
    events_reset();
    if (r.vbuf == NULL || !run_make_dirs(&r, st->base, name) ||
        !run_open_trace(&r, st->trace)) {
        free(r.vbuf);
        return -1;
    }
    fmt_config(&line, cfg);
    trace_line(&r, "# lsm-diff trace (tests/diff/README.md); replay: "
                   "lsm-diff --replay FILE");
    trace_line(&r, "%s", line.s);
    if (st->verbose)
        printf("lsm-diff: %s\n", line.s);
    r.op_text.n = 0;
    sb_add(&r.op_text, "(open)");
    watchdog_begin(&r);
    engines_open(&r);
    watchdog_end();
    run_ops(&r, next, ctx);
    run_finish(&r);
    if (fclose(r.trace) != 0)
        run_fail(&r, "ERROR", "cannot write the trace: %s", strerror(errno));
    free(r.vbuf);
    if (!rm_tree(r.dir))
        fprintf(stderr, "lsm-diff: warning: cannot remove %s: %s\n", r.dir,
                strerror(errno));
    run_summary(&r, now_seconds() - t0);
    return (int64_t)run_reads(&r.stats);
}

/* --- the command line ----------------------------------------------------- */

typedef struct cli {
    uint64_t seed_lo, seed_hi, ops;
    bool strategies[4]; /* by lsm_compaction */
    bool modes[2];      /* by lsm_sched */
    bool seed_given, pin_given, ops_given;
    const char *dir, *trace, *replay;
    double watchdog;
    bool verbose;
} cli;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lsm-diff [--seed N | --seeds A-B] [--ops N]\n"
            "                [--strategy none|simple|tiered|leveled|all]\n"
            "                [--mode inline|threads|both] [--dir DIR]\n"
            "                [--watchdog SECONDS] [--trace FILE] [--verbose]\n"
            "       lsm-diff --replay FILE [--dir DIR] [--watchdog SECONDS]\n"
            "                [--trace FILE] [--verbose]\n"
            "Runs the same random operations on lsm and LevelDB and fails on "
            "the first\ndifference (tests/diff/README.md). Defaults: --seed 1 "
            "--ops %d --strategy all\n--mode both --watchdog %.0f (0: off), "
            "--dir a fresh directory under /tmp.\n",
            DIFF_DEFAULT_OPS, DIFF_DEFAULT_WATCHDOG);
}

_Noreturn static DIFF_PRINTF(1, 2) void usage_fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "lsm-diff: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    usage(stderr);
    exit(2);
}

static uint64_t parse_u64(const char *s, const char *flag)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0)
        usage_fail("%s needs a number", flag);
    return (uint64_t)v;
}

static void parse_seeds(cli *c, const char *s)
{
    char *end;
    errno = 0;
    c->seed_lo = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '-' || errno != 0)
        usage_fail("--seeds needs A-B, not %s", s);
    c->seed_hi = parse_u64(end + 1, "--seeds");
    if (c->seed_hi < c->seed_lo)
        usage_fail("--seeds %s is an empty range", s);
}

static void parse_strategy_flag(cli *c, const char *s)
{
    lsm_compaction k;
    memset(c->strategies, 0, sizeof c->strategies);
    if (strcmp(s, "all") == 0)
        memset(c->strategies, 1, sizeof c->strategies);
    else if (parse_strategy(s, &k))
        c->strategies[k] = true;
    else
        usage_fail("unknown --strategy %s", s);
}

static void parse_mode_flag(cli *c, const char *s)
{
    lsm_sched m;
    memset(c->modes, 0, sizeof c->modes);
    if (strcmp(s, "both") == 0)
        memset(c->modes, 1, sizeof c->modes);
    else if (parse_mode(s, &m))
        c->modes[m] = true;
    else
        usage_fail("unknown --mode %s", s);
}

static void parse_watchdog(cli *c, const char *s)
{
    char *end;
    c->watchdog = strtod(s, &end);
    if (end == s || *end != '\0' || c->watchdog < 0)
        usage_fail("--watchdog needs seconds, not %s", s);
}

/* One flag with its value; false when the flag is unknown. */
static bool parse_flag(cli *c, const char *flag, const char *v)
{
    if (strcmp(flag, "--seed") == 0) {
        c->seed_lo = c->seed_hi = parse_u64(v, flag);
        c->seed_given = true;
    } else if (strcmp(flag, "--seeds") == 0) {
        parse_seeds(c, v);
        c->seed_given = true;
    } else if (strcmp(flag, "--ops") == 0) {
        c->ops = parse_u64(v, flag);
        c->ops_given = true;
    } else if (strcmp(flag, "--strategy") == 0) {
        parse_strategy_flag(c, v);
        c->pin_given = true;
    } else if (strcmp(flag, "--mode") == 0) {
        parse_mode_flag(c, v);
        c->pin_given = true;
    } else if (strcmp(flag, "--dir") == 0) {
        c->dir = v;
    } else if (strcmp(flag, "--trace") == 0) {
        c->trace = v;
    } else if (strcmp(flag, "--replay") == 0) {
        c->replay = v;
    } else if (strcmp(flag, "--watchdog") == 0) {
        parse_watchdog(c, v);
    } else {
        return false;
    }
    return true;
}

static void parse_cli(int argc, char **argv, cli *c)
{
    memset(c, 0, sizeof *c);
    c->seed_lo = c->seed_hi = 1;
    c->ops = DIFF_DEFAULT_OPS;
    c->watchdog = DIFF_DEFAULT_WATCHDOG;
    memset(c->strategies, 1, sizeof c->strategies);
    memset(c->modes, 1, sizeof c->modes);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(argv[i], "--verbose") == 0) {
            c->verbose = true;
            continue;
        }
        if (i + 1 >= argc || !parse_flag(c, argv[i], argv[i + 1]))
            usage_fail("bad argument %s", argv[i]);
        i++;
    }
    if (c->replay != NULL && (c->seed_given || c->pin_given || c->ops_given))
        usage_fail("%s takes seed, strategy, mode and operations from the "
                   "trace",
                   "--replay");
    if (c->ops == 0)
        usage_fail("%s must be at least 1", "--ops");
    if (c->replay != NULL && c->trace != NULL &&
        strcmp(c->replay, c->trace) == 0)
        usage_fail("--trace %s would overwrite the trace being replayed",
                   c->trace);
}

/* Every selected strategy and mode for each seed; the first difference
 * ends the process. Returns 0 when all agreed. */
static int run_all(const cli *c, const settings *st, uint64_t *runs,
                   uint64_t *reads)
{
    for (uint64_t seed = c->seed_lo;; seed++) {
        for (int k = 0; k < 4; k++) {
            for (int m = 0; m < 2; m++) {
                config cfg;
                gen g;
                char name[96];
                if (!c->strategies[k] || !c->modes[m])
                    continue;
                config_generate(seed, (lsm_compaction)k, (lsm_sched)m, &cfg);
                snprintf(name, sizeof name, "s%" PRIu64 "-%s-%s", seed,
                         lsm_compaction_name((lsm_compaction)k),
                         mode_name((lsm_sched)m));
                if (!gen_init(&g, seed, c->ops))
                    return 1;
                int64_t n = run_one(st, &cfg, name, gen_next, &g);
                gen_free(&g);
                if (n < 0)
                    return 1;
                (*runs)++;
                *reads += (uint64_t)n;
            }
        }
        if (seed == c->seed_hi)
            return 0;
    }
}

static int replay_all(const cli *c, const settings *st, uint64_t *runs,
                      uint64_t *reads)
{
    replay rp;
    config cfg;
    replay_open(&rp, c->replay, &cfg);
    int64_t n = run_one(st, &cfg, "replay", replay_next, &rp);
    replay_close(&rp);
    if (n < 0)
        return 1;
    (*runs)++;
    *reads += (uint64_t)n;
    return 0;
}

int main(int argc, char **argv)
{
    cli c;
    settings st;
    char tmp[256];
    const char *tmpdir = getenv("TMPDIR");
    /* scripts/test points TMPDIR at a tmpfs: every run fsyncs. */
    if (!tmpdir || !*tmpdir ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/lsm-diff-XXXXXX", tmpdir) >=
            sizeof tmp)
        snprintf(tmp, sizeof tmp, "/tmp/lsm-diff-XXXXXX");
    uint64_t runs = 0, reads = 0;
    int rc;
    if (argc > 0)
        g_prog = argv[0];
    parse_cli(argc, argv, &c);
    st.base = c.dir;
    st.trace = c.trace;
    st.verbose = c.verbose;
    if (st.base == NULL && (st.base = mkdtemp(tmp)) == NULL) {
        fprintf(stderr, "lsm-diff: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    if (mkdir(st.base, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "lsm-diff: cannot create %s: %s\n", st.base,
                strerror(errno));
        return 1;
    }
    if (!watchdog_start(c.watchdog)) {
        fprintf(stderr, "lsm-diff: cannot start the watchdog thread\n");
        return 1;
    }
    rc = c.replay ? replay_all(&c, &st, &runs, &reads)
                  : run_all(&c, &st, &runs, &reads);
    watchdog_stop();
    if (rc != 0)
        return rc;
    if (c.dir == NULL && rmdir(st.base) != 0)
        fprintf(stderr, "lsm-diff: warning: cannot remove %s: %s\n", st.base,
                strerror(errno));
    printf("lsm-diff: %" PRIu64 " runs, %" PRIu64
           " reads compared, all agree\n",
           runs, reads);
    return 0;
}
