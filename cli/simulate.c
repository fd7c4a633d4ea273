/*
 * simulate.c: mini-lsm's compaction simulator in the shell (see simulate.h
 * for the command and what it prints).
 *
 * The simulator keeps an lsm_shape (lsm.h), the tree as the engine's
 * controllers see it, and a record per SST id: the id of the flushed SST
 * its data came from (the reference's "original id", which dumps show
 * unless --dump-real-id) and its key range. Each compaction writes one
 * output SST per input SST, as the reference's mock storage does, with
 * fresh ids in input order. Simple and tiered compaction look at SST
 * counts only, so their SSTs get the one-key range [id, id]; leveled
 * compaction looks at key ranges and sizes, so flushed SSTs get random
 * ranges and outputs split their inputs' combined range evenly, as the
 * reference does. Keys are 8-byte big-endian numbers, printed in hex.
 *
 * Everything here runs on the main thread; nothing touches the database.
 */
#include "simulate.h"

#include "format.h"
#include "show.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef enum sim_kind {
    SIM_SIMPLE = 1,
    SIM_TIERED = 2,
    SIM_LEVELED = 4
} sim_kind;
#define SIM_ALL (SIM_SIMPLE | SIM_TIERED | SIM_LEVELED)

/* What the command line asked for. */
typedef struct sim_args {
    sim_kind kind;
    const char *kind_name;
    lsm_options opt; /* the strategy's fields */
    unsigned dump_real_id, size_only;
    unsigned min_overlap; /* leveled: LSM_LEVELED_PICK_MIN_OVERLAP */
    uint64_t iterations, sst_size_mb, seed;
} sim_args;

/* One option: a flag (no value, sets *flag) or a number in [min, max]
 * (sets *u64 or *uint). kinds says which simulations take it. */
typedef struct sim_option {
    const char *name;
    unsigned kinds;
    unsigned *flag;
    uint64_t *u64;
    unsigned *uint;
    uint64_t min, max;
} sim_option;

#define SIM_N_OPTIONS 15

/* The options, pointing into *a. */
static void sim_options(sim_args *a, sim_option *o)
{
    lsm_options *p = &a->opt;
    const sim_option all[SIM_N_OPTIONS] = {
        {"--dump-real-id", SIM_ALL, &a->dump_real_id, NULL, NULL, 0, 0},
        {"--size-only", SIM_ALL, &a->size_only, NULL, NULL, 0, 0},
        {"--iterations", SIM_ALL, NULL, &a->iterations, NULL, 0, 1000000},
        {"--level0-file-num-compaction-trigger", SIM_SIMPLE | SIM_LEVELED, NULL,
         NULL, &p->level0_file_num_compaction_trigger, 1, 1000},
        {"--max-levels", SIM_SIMPLE | SIM_LEVELED, NULL, NULL, &p->max_levels,
         1, LSM_MAX_LEVELS},
        {"--size-ratio-percent", SIM_SIMPLE, NULL, NULL, &p->size_ratio_percent,
         1, 1000000},
        {"--num-tiers", SIM_TIERED, NULL, NULL, &p->num_tiers, 1, 1000},
        {"--max-size-amplification-percent", SIM_TIERED, NULL, NULL,
         &p->max_size_amplification_percent, 0, 1000000},
        {"--size-ratio", SIM_TIERED, NULL, NULL, &p->size_ratio, 0, 1000000},
        {"--min-merge-width", SIM_TIERED, NULL, NULL, &p->min_merge_width, 2,
         1000},
        {"--max-merge-width", SIM_TIERED, NULL, NULL, &p->max_merge_width, 2,
         1000},
        {"--level-size-multiplier", SIM_LEVELED, NULL, NULL,
         &p->level_size_multiplier, 1, 1000},
        {"--base-level-size-mb", SIM_LEVELED, NULL, NULL,
         &p->base_level_size_mb, 0, 1000000},
        {"--sst-size-mb", SIM_LEVELED, NULL, &a->sst_size_mb, NULL, 1, 1000000},
        {"--min-overlap", SIM_LEVELED, &a->min_overlap, NULL, NULL, 0, 0},
    };
    memcpy(o, all, sizeof all);
}

/* The reference simulator's defaults for kind. */
static void sim_defaults(sim_args *a, sim_kind kind, const char *name)
{
    memset(a, 0, sizeof *a);
    lsm_options_init(&a->opt);
    a->kind = kind;
    a->kind_name = name;
    a->iterations = 50;
    a->sst_size_mb = 32;
    a->seed = 42;
    lsm_options *o = &a->opt;
    o->level0_file_num_compaction_trigger = 2;
    o->size_ratio_percent = 200;
    o->num_tiers = 8;
    o->max_size_amplification_percent = 200;
    o->size_ratio = 1;
    o->min_merge_width = 2;
    o->max_merge_width = 0; /* the reference's None */
    o->level_size_multiplier = 2;
    o->base_level_size_mb = 128;
    o->max_levels = kind == SIM_LEVELED ? 4 : 3;
    o->compaction = kind == SIM_SIMPLE   ? LSM_COMPACTION_SIMPLE
                    : kind == SIM_TIERED ? LSM_COMPACTION_TIERED
                                         : LSM_COMPACTION_LEVELED;
}

static const sim_option *sim_find_option(const sim_option *o, const char *name,
                                         size_t n_name)
{
    for (size_t i = 0; i < SIM_N_OPTIONS; i++)
        if (strlen(o[i].name) == n_name && memcmp(o[i].name, name, n_name) == 0)
            return &o[i];
    return NULL;
}

/* Stores text (a number) into the option, checking its range. */
static int sim_set_number(cli_session *s, const sim_option *o, const char *text)
{
    uint64_t v;
    if (cli_parse_u64(text, strlen(text), UINT64_MAX, &v) != CLI_NUM_OK ||
        v < o->min || v > o->max)
        return cli_fail(s,
                        "simulate: %s takes a whole number from %" PRIu64
                        " to %" PRIu64 ", not '%s'",
                        o->name, o->min, o->max, text);
    if (o->u64)
        *o->u64 = v;
    else
        *o->uint = (unsigned)v;
    return LSM_OK;
}

/* Parses the arguments after the kind: "--name", "--name N" and
 * "--name=N"; --seed takes any 64-bit number. */
static int sim_parse_options(cli_session *s, const cli_argv *av, sim_args *a)
{
    sim_option opts[SIM_N_OPTIONS];
    sim_options(a, opts);
    for (size_t i = 2; i < av->n_args; i++) {
        const char *arg = av->args[i].bytes;
        const char *eq = strchr(arg, '=');
        size_t n_name = eq ? (size_t)(eq - arg) : strlen(arg);
        if (a->kind == SIM_LEVELED && n_name == 6 &&
            memcmp(arg, "--seed", 6) == 0) {
            const char *v = eq                   ? eq + 1
                            : i + 1 < av->n_args ? av->args[++i].bytes
                                                 : "";
            if (cli_parse_u64(v, strlen(v), UINT64_MAX, &a->seed) != CLI_NUM_OK)
                return cli_fail(s,
                                "simulate: --seed takes a whole number "
                                "from 0 to 18446744073709551615, not '%s'",
                                v);
            continue;
        }
        const sim_option *o = sim_find_option(opts, arg, n_name);
        if (!o || !(o->kinds & a->kind))
            return cli_fail(s,
                            "simulate %s: unknown option '%.*s'; type help "
                            "simulate for the options",
                            a->kind_name, (int)n_name, arg);
        if (o->flag && eq)
            return cli_fail(s, "simulate: %s takes no value", o->name);
        if (o->flag) {
            *o->flag = 1;
            continue;
        }
        if (!eq && i + 1 >= av->n_args)
            return cli_fail(s, "simulate: %s needs a value", o->name);
        int rc = sim_set_number(s, o, eq ? eq + 1 : av->args[++i].bytes);
        if (rc != LSM_OK)
            return rc;
    }
    return LSM_OK;
}

/* --- SST records -------------------------------------------------------- */

/* What the simulator knows of one SST id; records never move, so the
 * shape can borrow their key bytes. */
typedef struct sim_sst {
    uint64_t origin;  /* the flushed SST its data came from */
    uint8_t first[8]; /* big-endian key range */
    uint8_t last[8];
} sim_sst;

#define SIM_CHUNK_SSTS 1024

typedef struct sim {
    const sim_args *args;
    lsm_shape shape;
    sim_sst **chunks; /* chunk k holds ids k*SIM_CHUNK_SSTS.. */
    size_t n_chunks;
    uint64_t next_id; /* the reference's ids start at 1 */
    uint64_t rng;
    uint64_t live, max_space, total_flushes, total_writes;
} sim;

static void sim_key_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t sim_key_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* The record of id, allocating its chunk on first use; NULL when out of
 * memory. */
static sim_sst *sim_record(sim *m, uint64_t id)
{
    size_t k = (size_t)(id / SIM_CHUNK_SSTS);
    if (k >= m->n_chunks) {
        sim_sst **grown = realloc(m->chunks, (k + 1) * sizeof *grown);
        if (!grown)
            return NULL;
        memset(grown + m->n_chunks, 0, (k + 1 - m->n_chunks) * sizeof *grown);
        m->chunks = grown;
        m->n_chunks = k + 1;
    }
    if (!m->chunks[k] &&
        !(m->chunks[k] = calloc(SIM_CHUNK_SSTS, sizeof **m->chunks)))
        return NULL;
    return &m->chunks[k][id % SIM_CHUNK_SSTS];
}

/* A new SST id with its record filled, described for the shape in *out. */
static int sim_new_sst(sim *m, uint64_t origin, uint64_t first, uint64_t last,
                       lsm_shape_sst *out)
{
    uint64_t id = m->next_id++;
    sim_sst *r = sim_record(m, id);
    if (!r)
        return LSM_ENOMEM;
    r->origin = origin ? origin : id;
    sim_key_put(r->first, first);
    sim_key_put(r->last, last);
    *out = (lsm_shape_sst){.sst_id = id,
                           .size_bytes = m->args->kind == SIM_LEVELED
                                             ? m->args->sst_size_mb << 20
                                             : 1,
                           .first_key = r->first,
                           .nfirst_key = 8,
                           .last_key = r->last,
                           .nlast_key = 8};
    return LSM_OK;
}

static uint64_t sim_rand(sim *m)
{
    uint64_t z = (m->rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static uint64_t sim_rand_range(sim *m, uint64_t lo, uint64_t hi)
{
    return lo + sim_rand(m) % (hi - lo);
}

/* --- printing ------------------------------------------------------------ */

static uint64_t sim_shown_id(const sim *m, uint64_t id)
{
    if (m->args->dump_real_id)
        return id;
    return m->chunks[id / SIM_CHUNK_SSTS][id % SIM_CHUNK_SSTS].origin;
}

/* L0, oldest first (the reference simulator appends flushes to L0). */
static void sim_show_l0(cli_buf *b, const lsm_shape *s)
{
    cli_buf_append(b, "[", 1);
    for (size_t i = s->n_l0; i-- > 0;)
        cli_buf_printf(b, "%s%" PRIu64, i + 1 < s->n_l0 ? ", " : "",
                       s->l0[i].sst_id);
    cli_buf_append(b, "]", 1);
}

static void sim_show_run(cli_buf *b, const sim *m, const lsm_shape_run *r)
{
    cli_buf_printf(b, "L%" PRIu64 " (%zu): [", r->run_id, r->n_ssts);
    for (size_t i = 0; i < r->n_ssts; i++)
        cli_buf_printf(b, "%s%" PRIu64, i ? ", " : "",
                       sim_shown_id(m, r->ssts[i].sst_id));
    cli_buf_append(b, "]\n", 2);
}

/* The tree, as the reference's dump_size_only / dump_original_id /
 * dump_real_id print it. */
static void sim_dump(cli_buf *b, const sim *m, int always_show_l0)
{
    const lsm_shape *s = &m->shape;
    if (m->args->size_only) {
        cli_buf_printf(b, "Levels: %zu", s->n_l0);
        for (size_t i = 0; i < s->n_runs; i++)
            cli_buf_printf(b, " %zu", s->runs[i].n_ssts);
        cli_buf_append(b, "\n", 1);
        return;
    }
    if (s->n_l0 > 0 || always_show_l0) {
        cli_buf_printf(b, "L0 (%zu): ", s->n_l0);
        sim_show_l0(b, s);
        cli_buf_append(b, "\n", 1);
    }
    for (size_t i = 0; i < s->n_runs; i++)
        sim_show_run(b, m, &s->runs[i]);
}

/* "[5.sst 1f..=2a, 6.sst 2b..=40]": leveled SSTs with their key ranges. */
static void sim_show_ranged(cli_buf *b, const sim *m, const uint64_t *ids,
                            size_t n)
{
    cli_buf_append(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        const sim_sst *r =
            &m->chunks[ids[i] / SIM_CHUNK_SSTS][ids[i] % SIM_CHUNK_SSTS];
        cli_buf_printf(b, "%s%" PRIu64 ".sst %" PRIx64 "..=%" PRIx64,
                       i ? ", " : "", ids[i], sim_key_get(r->first),
                       sim_key_get(r->last));
    }
    cli_buf_append(b, "]", 1);
}

static void sim_show_list(cli_buf *b, const sim *m, const uint64_t *ids,
                          size_t n)
{
    if (m->args->kind == SIM_LEVELED)
        sim_show_ranged(b, m, ids, n);
    else
        cli_show_ids(b, ids, n); /* as the reference's {:?} of a Vec */
}

/* --- one task --------------------------------------------------------------
 */

/* A task's inputs in the reference's order, grouped as it prints them:
 * levels: the upper run's ids (L0 oldest first), then the lower run's;
 * tiers: each tier's ids, newest tier first. */
typedef struct sim_inputs {
    size_t n_ids;
    uint64_t *ids;
    size_t n_groups;
    size_t *group_end;     /* index past each group's last id */
    uint64_t *group_label; /* tiers: tier ids */
} sim_inputs;

static void sim_inputs_free(sim_inputs *in)
{
    free(in->ids);
    free(in->group_end);
    free(in->group_label);
}

static int sim_inputs_of_levels(const lsm_compaction_task *t, sim_inputs *in)
{
    in->ids = malloc((t->n_upper + t->n_lower + 1) * sizeof *in->ids);
    in->group_end = malloc(2 * sizeof *in->group_end);
    if (!in->ids || !in->group_end)
        return LSM_ENOMEM;
    for (size_t i = 0; i < t->n_upper; i++)
        in->ids[i] =
            t->upper_level == 0 ? t->upper[t->n_upper - 1 - i] : t->upper[i];
    if (t->n_lower > 0) /* lower is NULL for an empty lower level */
        memcpy(in->ids + t->n_upper, t->lower, t->n_lower * sizeof *in->ids);
    in->n_ids = t->n_upper + t->n_lower;
    in->n_groups = 2;
    in->group_end[0] = t->n_upper;
    in->group_end[1] = in->n_ids;
    return LSM_OK;
}

static int sim_inputs_of_tiers(const lsm_compaction_task *t, const lsm_shape *s,
                               sim_inputs *in)
{
    size_t n = lsm_compaction_task_inputs(t, s, &in->ids);
    in->group_label = malloc((t->n_tiers + 1) * sizeof *in->group_label);
    in->group_end = malloc((t->n_tiers + 1) * sizeof *in->group_end);
    if (!in->ids || !in->group_label || !in->group_end)
        return LSM_ENOMEM;
    in->n_ids = n;
    /* lsm_compaction_task_inputs lists each tier's SSTs in tier order. */
    size_t at = 0;
    for (size_t i = 0; i < t->n_tiers; i++) {
        for (size_t r = 0; r < s->n_runs; r++)
            if (s->runs[r].run_id == t->tier_ids[i])
                at += s->runs[r].n_ssts;
        in->group_label[i] = t->tier_ids[i];
        in->group_end[i] = at;
        in->n_groups = i + 1;
    }
    return LSM_OK;
}

/* "Upper L0 [1, 2] Lower L1 [] -> [3, 4]" or "L5 [5] L3 [3, 4] -> [6]". */
static void sim_show_task(cli_buf *b, const sim *m,
                          const lsm_compaction_task *t, const sim_inputs *in,
                          const lsm_shape_sst *outs)
{
    size_t from = 0;
    for (size_t g = 0; g < in->n_groups; g++) {
        if (m->args->kind == SIM_TIERED)
            cli_buf_printf(b, "L%" PRIu64 " ", in->group_label[g]);
        else if (g == 0)
            cli_buf_printf(b, "Upper L%zu ", t->upper_level);
        else
            cli_buf_printf(b, "Lower L%zu ", t->lower_level);
        sim_show_list(b, m, in->ids + from, in->group_end[g] - from);
        cli_buf_append(b, " ", 1);
        from = in->group_end[g];
    }
    uint64_t *ids = malloc((in->n_ids + 1) * sizeof *ids);
    if (!ids) {
        cli_buf_printf(b, "-> (out of memory)\n");
        return;
    }
    for (size_t i = 0; i < in->n_ids; i++)
        ids[i] = outs[i].sst_id;
    cli_buf_append(b, "-> ", 3);
    sim_show_list(b, m, ids, in->n_ids);
    cli_buf_append(b, "\n", 1);
    free(ids);
}

/* The outputs: one per input, in input order, carrying its origin. Simple
 * and tiered: one-key ranges; leveled: the inputs' combined range split
 * evenly (the reference's generate_random_split). */
static int sim_make_outputs(cli_session *s, sim *m, const sim_inputs *in,
                            lsm_shape_sst *outs)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < in->n_ids; i++) {
        const sim_sst *r = &m->chunks[in->ids[i] / SIM_CHUNK_SSTS]
                                     [in->ids[i] % SIM_CHUNK_SSTS];
        uint64_t f = sim_key_get(r->first), l = sim_key_get(r->last);
        lo = f < lo ? f : lo;
        hi = l > hi ? l : hi;
    }
    uint64_t len = hi - lo + 1, split = in->n_ids;
    if (m->args->kind == SIM_LEVELED && len < split)
        return cli_fail(s,
                        "simulate: %" PRIu64 " keys cannot be split into "
                        "%" PRIu64 " SSTs",
                        len, split);
    for (size_t i = 0; i < in->n_ids; i++) {
        uint64_t origin =
            m->chunks[in->ids[i] / SIM_CHUNK_SSTS][in->ids[i] % SIM_CHUNK_SSTS]
                .origin;
        uint64_t first = m->next_id, last = m->next_id;
        if (m->args->kind == SIM_LEVELED) {
            first = lo + len * i / split;
            last = lo + len * (i + 1) / split - 1;
        }
        if (sim_new_sst(m, origin, first, last, &outs[i]) != LSM_OK)
            return cli_fail(s, "simulate: out of memory");
    }
    return LSM_OK;
}

/* Runs and prints one task; *ran is false when none was due. */
static int sim_compact_once(cli_session *s, sim *m, cli_buf *b, bool *ran)
{
    lsm_compaction_task t;
    int found = 0;
    *ran = false;
    int rc = lsm_compaction_pick(&m->args->opt, &m->shape, &t, &found);
    if (rc != LSM_OK)
        return cli_fail(s, "simulate: %s", lsm_errmsg());
    if (!found)
        return LSM_OK;
    cli_buf_printf(b, "%s\n", t.reason);
    sim_inputs in = {0};
    rc = t.n_tiers ? sim_inputs_of_tiers(&t, &m->shape, &in)
                   : sim_inputs_of_levels(&t, &in);
    lsm_shape_sst *outs =
        rc == LSM_OK ? calloc(in.n_ids + 1, sizeof *outs) : NULL;
    if (!outs)
        rc = cli_fail(s, "simulate: out of memory");
    if (rc == LSM_OK)
        rc = sim_make_outputs(s, m, &in, outs);
    if (rc == LSM_OK) {
        m->total_writes += in.n_ids;
        if (m->live + in.n_ids > m->max_space)
            m->max_space = m->live + in.n_ids;
        sim_show_task(b, m, &t, &in, outs);
        if (lsm_shape_apply(&m->shape, &t, outs, in.n_ids) != LSM_OK)
            rc = cli_fail(s, "simulate: %s", lsm_errmsg());
    }
    /* As many outputs as inputs: the live SST count stays. */
    *ran = rc == LSM_OK;
    free(outs);
    sim_inputs_free(&in);
    lsm_compaction_task_free(&t);
    return rc;
}

/* --- iterations ------------------------------------------------------------
 */

/* One flushed SST: a one-key range, or for leveled a random range as the
 * reference draws it ([0, 2^31) plus a length in [2^10, 2^31)). */
static int sim_flush(cli_session *s, sim *m)
{
    uint64_t first = m->next_id, last = m->next_id;
    if (m->args->kind == SIM_LEVELED) {
        first = sim_rand_range(m, 0, (uint64_t)1 << 31);
        last = first + sim_rand_range(m, (uint64_t)1 << 10, (uint64_t)1 << 31);
    }
    lsm_shape_sst sst;
    if (sim_new_sst(m, 0, first, last, &sst) != LSM_OK)
        return cli_fail(s, "simulate: out of memory");
    if (lsm_shape_add_flush(&m->shape, &sst) != LSM_OK)
        return cli_fail(s, "simulate: %s", lsm_errmsg());
    m->live++;
    m->total_flushes++;
    m->total_writes++;
    return LSM_OK;
}

/* The reference's bound on tasks per iteration, past which it gives up:
 * a strategy that does not converge. */
static uint64_t sim_task_limit(const sim_args *a)
{
    const lsm_options *o = &a->opt;
    if (a->kind == SIM_SIMPLE)
        return (uint64_t)o->max_levels * 2;
    if (a->kind == SIM_TIERED)
        return (uint64_t)o->num_tiers * 3;
    return (uint64_t)o->level0_file_num_compaction_trigger * o->max_levels * 2;
}

static void sim_statistics(cli_buf *b, const sim *m)
{
    const lsm_shape *s = &m->shape;
    size_t read_amp = s->n_l0;
    for (size_t i = 0; i < s->n_runs; i++)
        read_amp += s->runs[i].n_ssts > 0;
    double flushes = (double)m->total_flushes;
    cli_buf_printf(b, "--- Statistics ---\n");
    cli_buf_printf(b, "Write Amplification: %" PRIu64 "/%" PRIu64 "=%.3fx\n",
                   m->total_writes, m->total_flushes,
                   (double)m->total_writes / flushes);
    cli_buf_printf(b, "Maximum Space Usage: %" PRIu64 "/%" PRIu64 "=%.3fx\n",
                   m->max_space, m->total_flushes,
                   (double)m->max_space / flushes);
    cli_buf_printf(b, "Read Amplification: %zux\n\n", read_amp);
}

/* One iteration: a flush, then tasks until none is due, then the
 * statistics. Leveled dumps show L0 after a compaction even when empty,
 * simple ones always, tiered ones never (the reference's choices). */
static int sim_iteration(cli_session *s, sim *m, uint64_t i, cli_buf *b)
{
    const sim_args *a = m->args;
    cli_buf_printf(b, "=== Iteration %" PRIu64 " ===\n", i);
    int rc = sim_flush(s, m);
    if (rc != LSM_OK)
        return rc;
    cli_buf_printf(b, "--- After Flush ---\n");
    sim_dump(b, m, a->kind == SIM_SIMPLE);
    uint64_t n_tasks = 0;
    for (;;) {
        if (!a->size_only)
            cli_buf_printf(b, "--- Compaction Task ---\n");
        bool ran;
        rc = sim_compact_once(s, m, b, &ran);
        if (rc != LSM_OK || !ran)
            break;
        cli_buf_printf(b, "--- After Compaction ---\n");
        sim_dump(b, m, a->kind != SIM_TIERED);
        if (++n_tasks >= sim_task_limit(a)) {
            cli_out_buf(b);
            cli_buf_reset(b);
            return cli_fail(s,
                            "simulate: compaction does not converge? (%" PRIu64
                            " tasks in iteration %" PRIu64 ")",
                            n_tasks, i);
        }
    }
    if (rc != LSM_OK)
        return rc;
    if (n_tasks == 0)
        cli_buf_printf(b, "no compaction triggered\n");
    else
        cli_buf_printf(
            b, "%" PRIu64 " compaction triggered in this iteration\n", n_tasks);
    if (m->live > m->max_space)
        m->max_space = m->live;
    sim_statistics(b, m);
    return LSM_OK;
}

static void sim_free(sim *m)
{
    lsm_shape_free(&m->shape);
    for (size_t k = 0; k < m->n_chunks; k++)
        free(m->chunks[k]);
    free(m->chunks);
}

/* Runs every iteration, printing each as it ends; Ctrl-C stops between
 * iterations. */
static int sim_run(cli_session *s, const sim_args *a)
{
    sim m = {.args = a, .next_id = 1, .rng = a->seed};
    if (lsm_shape_init(&m.shape, &a->opt) != LSM_OK)
        return cli_fail(s, "simulate: %s", lsm_errmsg());
    cli_buf b;
    cli_buf_init(&b);
    if (a->kind == SIM_LEVELED)
        cli_buf_printf(&b, "Seed: %" PRIu64 "\n", a->seed);
    int rc = LSM_OK;
    for (uint64_t i = 0; i < a->iterations && rc == LSM_OK; i++) {
        if (cli_interrupted) {
            cli_out_printf("interrupted: %" PRIu64 " iterations simulated\n",
                           i);
            break;
        }
        rc = sim_iteration(s, &m, i, &b);
        if (cli_out_buf(&b) != 0 && rc == LSM_OK)
            rc = cli_fail(s, "simulate: cannot write the output");
        cli_buf_reset(&b);
    }
    cli_buf_free(&b);
    sim_free(&m);
    return rc;
}

int cli_simulate(cli_session *s, const cli_argv *a)
{
    static const struct {
        const char *name;
        sim_kind kind;
    } kinds[] = {{"simple", SIM_SIMPLE},
                 {"tiered", SIM_TIERED},
                 {"leveled", SIM_LEVELED}};
    if (a->n_args < 2)
        return cli_fail(s, "simulate needs a strategy: simulate "
                           "simple|tiered|leveled [OPTIONS]");
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        if (strcmp(a->args[1].bytes, kinds[i].name) != 0)
            continue;
        sim_args args;
        sim_defaults(&args, kinds[i].kind, kinds[i].name);
        int rc = sim_parse_options(s, a, &args);
        if (args.min_overlap)
            args.opt.leveled_pick = LSM_LEVELED_PICK_MIN_OVERLAP;
        return rc != LSM_OK ? rc : sim_run(s, &args);
    }
    return cli_fail(s,
                    "simulate: unknown strategy '%s'; use simple, tiered or "
                    "leveled",
                    a->args[1].bytes);
}
