/*
 * show.c: the text of lsm-cli's reports on the engine (see show.h for the
 * formats and the rules they keep).
 *
 * Everything here appends to a caller's cli_buf; an allocation failure is
 * sticky in the buffer and found by the caller when it writes it.
 */
#include "show.h"
#include "trace.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

void cli_show_ids(cli_buf *b, const uint64_t *ids, size_t n)
{
    size_t i;

    cli_buf_append(b, "[", 1);
    for (i = 0; i < n; i++)
        cli_buf_printf(b, "%s%" PRIu64, i ? ", " : "", ids[i]);
    cli_buf_append(b, "]", 1);
}

/* "L0 [3, 2] + L1 [1]" or "tier 5 [5] + tier 3 [4, 3]": the inputs by the
 * run they come from (or plain "[3, 2, 1]" from an engine that does not
 * say). */
static void show_compaction_inputs(cli_buf *b, const lsm_event *ev)
{
    if (ev->n_input_runs == 0) {
        cli_show_ids(b, ev->inputs, ev->n_inputs);
        return;
    }
    size_t at = 0;
    for (size_t i = 0; i < ev->n_input_runs; i++) {
        const lsm_input_run *r = &ev->input_runs[i];
        size_t n =
            r->n_ssts <= ev->n_inputs - at ? r->n_ssts : ev->n_inputs - at;
        if (i)
            cli_buf_append(b, " + ", 3);
        if (r->level < 0)
            cli_buf_printf(b, "tier %" PRIu64 " ", r->tier_id);
        else
            cli_buf_printf(b, "L%d ", r->level);
        cli_show_ids(b, ev->inputs + at, n);
        at += n;
    }
}

/* The lines of COMPACTION_BEGIN: why (the reference controller's words),
 * then what goes where. Level 0 is tiered compaction's "the outputs form a
 * new tier". */
static void show_compaction_begin(cli_buf *b, const lsm_event *ev)
{
    cli_buf_printf(b, "%s\n",
                   ev->reason && ev->reason[0] ? ev->reason
                                               : "compaction triggered");
    if (ev->trivial_move) {
        cli_buf_append(b, "moving ", 7);
        show_compaction_inputs(b, ev);
        cli_buf_printf(b, " to L%d (trivial move: no SST rewritten)\n",
                       ev->level);
        return;
    }
    cli_buf_append(b, "compacting ", 11);
    show_compaction_inputs(b, ev);
    if (ev->level == 0)
        cli_buf_printf(b, " into a new tier\n");
    else
        cli_buf_printf(b, " into L%d\n", ev->level);
}

/* "deleted 3.sst, 4.sst (compacted away)" */
static void show_sst_deleted(cli_buf *b, const lsm_event *ev)
{
    size_t i;

    cli_buf_append(b, "deleted ", 8);
    for (i = 0; i < ev->n_deleted; i++)
        cli_buf_printf(b, "%s%" PRIu64 ".sst", i ? ", " : "", ev->deleted[i]);
    cli_buf_printf(b, " (%s)\n",
                   ev->reason && ev->reason[0] ? ev->reason
                                               : "no reason given");
}

void cli_show_event(cli_buf *b, const lsm_event *ev, int wal_enabled)
{
    switch (ev->type) {
    case LSM_EVENT_MEMTABLE_FROZEN:
        cli_buf_printf(b, "froze memtable %" PRIu64 " (%" PRIu64 " keys, ",
                       ev->memtable_id, ev->num_entries);
        /* Range tombstones only when there are some: older transcripts
         * keep their lines. */
        if (ev->num_range_tombstones)
            cli_buf_printf(b, "%" PRIu64 " range tombstone%s, ",
                           ev->num_range_tombstones,
                           ev->num_range_tombstones == 1 ? "" : "s");
        cli_buf_printf(b, "%" PRIu64 " B); new memtable %" PRIu64 "\n",
                       ev->size_bytes, ev->new_memtable_id);
        return;
    case LSM_EVENT_FLUSH_END:
        cli_buf_printf(b, "flushed %" PRIu64 ".sst with size=%" PRIu64 "\n",
                       ev->sst_id, ev->size_bytes);
        return;
    case LSM_EVENT_COMPACTION_BEGIN:
        show_compaction_begin(b, ev);
        return;
    case LSM_EVENT_COMPACTION_END:
        if (ev->trivial_move) {
            cli_buf_printf(b, "move finished: %zu files moved to L%d, output=",
                           ev->n_outputs, ev->level);
            cli_show_ids(b, ev->outputs, ev->n_outputs);
            cli_buf_append(b, "\n", 1);
            return;
        }
        /* mini-lsm's line, "1 files" included */
        cli_buf_printf(b,
                       "compaction finished: %zu files removed, %zu files "
                       "added, output=",
                       ev->n_inputs, ev->n_outputs);
        cli_show_ids(b, ev->outputs, ev->n_outputs);
        cli_buf_append(b, "\n", 1);
        return;
    case LSM_EVENT_RECOVERED:
        /* mini-lsm's lines, plural forms included ("1 SSTs opened") */
        cli_buf_printf(b, "%zu SSTs opened\n", ev->n_ssts_opened);
        if (wal_enabled)
            cli_buf_printf(b, "%zu WALs recovered\n", ev->n_wals_recovered);
        return;
    case LSM_EVENT_IO:
        cli_show_io_event(b, ev);
        return;
    case LSM_EVENT_SST_DELETED:
        show_sst_deleted(b, ev);
        return;
    case LSM_EVENT_FLUSH_BEGIN:
    case LSM_EVENT_BACKGROUND_ERROR:
    case LSM_EVENT_WARNING:
    default:
        return;
    }
}

/* "[3, 2]" from the ids of n memtables. */
static void show_memtable_ids(cli_buf *b, const lsm_memtable_info *m, size_t n)
{
    size_t i;

    cli_buf_append(b, "[", 1);
    for (i = 0; i < n; i++)
        cli_buf_printf(b, "%s%" PRIu64, i ? ", " : "", m[i].memtable_id);
    cli_buf_append(b, "]", 1);
}

/* "[1, 0]" from the ids of n SSTs. */
static void show_sst_ids(cli_buf *b, const lsm_sst_info *t, size_t n)
{
    size_t i;

    cli_buf_append(b, "[", 1);
    for (i = 0; i < n; i++)
        cli_buf_printf(b, "%s%" PRIu64, i ? ", " : "", t[i].sst_id);
    cli_buf_append(b, "]", 1);
}

/* Whether an SST holds compressed blocks: only then do dump -v and stats
 * speak of compression, so a database that never used it looks as it
 * always did. */
static int show_sst_compressed(const lsm_sst_info *t)
{
    return t->lz4_blocks + t->zstd_blocks > 0;
}

/* "raw/stored" as "2.35x", or "n/a" when nothing is stored. */
static void show_compression_ratio(cli_buf *b, uint64_t raw, uint64_t stored)
{
    if (stored == 0)
        cli_buf_printf(b, "n/a");
    else
        cli_buf_printf(b, "%.2fx", (double)raw / (double)stored);
}

/* ", data 1234 B stored of 5678 B raw (4.60x; lz4 3, zstd 0, raw 1
 * blocks)" */
static void show_sst_compression(cli_buf *b, const lsm_sst_info *t)
{
    cli_buf_printf(b, ", data %" PRIu64 " B stored of %" PRIu64 " B raw (",
                   t->data_bytes, t->raw_data_bytes);
    show_compression_ratio(b, t->raw_data_bytes, t->data_bytes);
    cli_buf_printf(
        b, "; lz4 %" PRIu64 ", zstd %" PRIu64 ", raw %" PRIu64 " blocks)",
        t->lz4_blocks, t->zstd_blocks,
        t->num_blocks - t->lz4_blocks - t->zstd_blocks);
}

/* The data-block totals of every SST in st. */
typedef struct show_data_totals {
    uint64_t stored, raw, compressed_ssts;
} show_data_totals;

static void show_add_totals(show_data_totals *tot, const lsm_sst_info *t,
                            size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tot->stored += t[i].data_bytes;
        tot->raw += t[i].raw_data_bytes;
        tot->compressed_ssts += show_sst_compressed(&t[i]) ? 1 : 0;
    }
}

static show_data_totals show_data_totals_of(const lsm_state *st)
{
    show_data_totals tot = {0, 0, 0};
    show_add_totals(&tot, st->l0, st->n_l0);
    for (size_t i = 0; i < st->n_levels; i++)
        show_add_totals(&tot, st->levels[i].ssts, st->levels[i].n_ssts);
    return tot;
}

/* "SST data: 1234 B stored of 5678 B raw (4.60x), 3 of 5 SSTs
 * compressed", when any SST is. */
static void show_compression_total(cli_buf *b, const lsm_state *st)
{
    show_data_totals tot = show_data_totals_of(st);
    size_t n_ssts = st->n_l0;
    if (tot.compressed_ssts == 0)
        return;
    for (size_t i = 0; i < st->n_levels; i++)
        n_ssts += st->levels[i].n_ssts;
    cli_buf_printf(b, "SST data: %" PRIu64 " B stored of %" PRIu64 " B raw (",
                   tot.stored, tot.raw);
    show_compression_ratio(b, tot.raw, tot.stored);
    cli_buf_printf(b, "), %" PRIu64 " of %zu SSTs compressed\n",
                   tot.compressed_ssts, n_ssts);
}

/* dump -v: one line per range tombstone, under its memtable or SST. */
void cli_show_range_tombstones(cli_buf *b, const lsm_range_tombstone *r,
                               size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cli_buf_printf(b, "    range tombstone [");
        cli_buf_append_bytes(b, r[i].lo, r[i].nlo);
        cli_buf_append(b, ", ", 2);
        cli_buf_append_bytes(b, r[i].hi, r[i].nhi);
        cli_buf_printf(b, ") seq %" PRIu64 "\n", r[i].seq);
    }
}

/* dump -v: one indented line per SST. */
static void show_sst_details(cli_buf *b, const lsm_sst_info *t, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        cli_buf_printf(b,
                       "  %" PRIu64 ".sst: %" PRIu64 " B, %" PRIu64
                       " entries, %" PRIu64 " blocks, keys ",
                       t[i].sst_id, t[i].file_size, t[i].num_entries,
                       t[i].num_blocks);
        cli_buf_append_bytes(b, t[i].first_key, t[i].nfirst_key);
        cli_buf_append(b, "..", 2);
        cli_buf_append_bytes(b, t[i].last_key, t[i].nlast_key);
        cli_buf_printf(b, ", newest seq %" PRIu64, t[i].max_seq);
        if (show_sst_compressed(&t[i]))
            show_sst_compression(b, &t[i]);
        cli_buf_append(b, "\n", 1);
        cli_show_range_tombstones(b, t[i].range_tombstones,
                                  t[i].n_range_tombstones);
    }
}

/* One "L<n> (count): [ids]" line (and -v details) per level or tier: for
 * a tier, n is its id, as mini-lsm's dump_structure prints it. */
static void show_runs(cli_buf *b, const lsm_state *st, int verbose)
{
    size_t i;

    for (i = 0; i < st->n_levels; i++) {
        const lsm_level_info *lv = &st->levels[i];
        cli_buf_printf(b, "L%d (%zu): ", lv->level, lv->n_ssts);
        show_sst_ids(b, lv->ssts, lv->n_ssts);
        cli_buf_append(b, "\n", 1);
        if (verbose)
            show_sst_details(b, lv->ssts, lv->n_ssts);
    }
}

/* ", L0 [7, 6]" or ", L12 [12, 13]" (a tier, named as dump names it):
 * the pins from i on that share a run; returns the index after them. */
static size_t show_pinned_run(cli_buf *b, const lsm_pinned_sst *p, size_t n,
                              size_t i)
{
    size_t j;

    if (p[i].level >= 0)
        cli_buf_printf(b, "L%d [", p[i].level);
    else
        cli_buf_printf(b, "L%" PRIu64 " [", p[i].tier_id);
    for (j = i;
         j < n && p[j].level == p[i].level && p[j].tier_id == p[i].tier_id; j++)
        cli_buf_printf(b, "%s%" PRIu64, j > i ? ", " : "", p[j].sst_id);
    cli_buf_append(b, "]", 1);
    return j;
}

/* "it1: 3 active; pins memtable 4, L0 [7, 6], L1 [3, 4]" */
static void show_iter(cli_buf *b, const lsm_iter_info *it,
                      const cli_iter_name *names, size_t n_names)
{
    const char *name = NULL;
    size_t i;

    for (i = 0; i < n_names && !name; i++)
        if (names[i].iter_id == it->iter_id)
            name = names[i].name;
    if (name)
        cli_buf_printf(b, "%s: ", name);
    else
        cli_buf_printf(b, "iterator %" PRIu64 ": ", it->iter_id);
    cli_buf_printf(b, "%zu active; pins", it->num_active);
    if (it->n_memtables == 0 && it->n_ssts == 0)
        cli_buf_printf(b, " nothing");
    if (it->n_memtables > 0)
        cli_buf_printf(b, " memtable%s", it->n_memtables > 1 ? "s" : "");
    for (i = 0; i < it->n_memtables; i++)
        cli_buf_printf(b, "%s %" PRIu64, i ? "," : "", it->memtable_ids[i]);
    for (i = 0; i < it->n_ssts;) {
        cli_buf_append(b, i > 0 || it->n_memtables > 0 ? ", " : " ",
                       i > 0 || it->n_memtables > 0 ? 2 : 1);
        i = show_pinned_run(b, it->ssts, it->n_ssts, i);
    }
    cli_buf_append(b, "\n", 1);
}

void cli_show_dump(cli_buf *b, const lsm_state *st, int verbose,
                   const cli_iter_name *names, size_t n_names)
{
    size_t i;

    cli_buf_printf(
        b, "Memtable (id %" PRIu64 "): %" PRIu64 " keys, %" PRIu64 " B\n",
        st->memtable.memtable_id, st->memtable.num_keys,
        st->memtable.size_bytes);
    if (verbose)
        cli_show_range_tombstones(b, st->memtable.range_tombstones,
                                  st->memtable.n_range_tombstones);
    cli_buf_printf(b, "Immutable memtables (%zu): ", st->n_immutables);
    show_memtable_ids(b, st->immutables, st->n_immutables);
    cli_buf_append(b, "\n", 1);
    for (i = 0; verbose && i < st->n_immutables; i++) {
        cli_buf_printf(
            b, "  memtable %" PRIu64 ": %" PRIu64 " keys, %" PRIu64 " B\n",
            st->immutables[i].memtable_id, st->immutables[i].num_keys,
            st->immutables[i].size_bytes);
        cli_show_range_tombstones(b, st->immutables[i].range_tombstones,
                                  st->immutables[i].n_range_tombstones);
    }
    /* Tiered trees keep L0 empty, so this prints for them only if the
     * engine broke that promise, which is worth seeing. */
    if (st->n_l0 > 0) {
        cli_buf_printf(b, "L0 (%zu): ", st->n_l0);
        show_sst_ids(b, st->l0, st->n_l0);
        cli_buf_append(b, "\n", 1);
        if (verbose)
            show_sst_details(b, st->l0, st->n_l0);
    }
    show_runs(b, st, verbose);
    if (verbose)
        show_compression_total(b, st);
    cli_buf_printf(b, "Open iterators: %zu\n", st->n_iters);
    for (i = 0; i < st->n_iters; i++)
        show_iter(b, &st->iters[i], names, n_names);
    if (st->n_pinned_only > 0) {
        cli_buf_printf(b, "Pinned by iterators, no longer in the tree: ");
        cli_show_ids(b, st->pinned_only, st->n_pinned_only);
        cli_buf_append(b, "\n", 1);
    }
}

/* "name: 2.35\n", or "name: n/a\n" for a ratio that has no value: its
 * denominator is zero (the engine then reports 0, which would read as a
 * perfect score) or the engine gave something not finite. */
static void show_ratio(cli_buf *b, const char *name, double x,
                       uint64_t denominator)
{
    if (denominator > 0 && isfinite(x))
        cli_buf_printf(b, "%s: %.2f\n", name, x);
    else
        cli_buf_printf(b, "%s: n/a\n", name);
}

/* "name: 46 (+20)": a counter's total and its change since base. */
static void show_counter(cli_buf *b, const char *name, uint64_t total,
                         uint64_t base, const char *unit)
{
    if (total >= base)
        cli_buf_printf(b, "%s: %" PRIu64 "%s (+%" PRIu64 "%s)\n", name, total,
                       unit, total - base, unit);
    else /* counters only grow; say so plainly if one did not */
        cli_buf_printf(b, "%s: %" PRIu64 "%s (-%" PRIu64 "%s)\n", name, total,
                       unit, base - total, unit);
}

void cli_show_stats(cli_buf *b, const lsm_state *st, const lsm_counters *base)
{
    static const lsm_counters zero;
    const lsm_counters *c = &st->counters;
    const lsm_amplification *a = &st->amplification;

    if (!base)
        base = &zero;
#define COUNTER(name, field) show_counter(b, name, c->field, base->field, "")
    COUNTER("puts", puts);
    COUNTER("deletes", deletes);
    COUNTER("gets", gets);
    COUNTER("scans", scans);
    COUNTER("user bytes written", user_bytes_written);
    COUNTER("wal bytes written", wal_bytes_written);
    COUNTER("wal syncs", wal_syncs);
    COUNTER("flush bytes written", flush_bytes_written);
    COUNTER("compaction bytes written", compaction_bytes_written);
    COUNTER("memtables frozen", memtables_frozen);
    COUNTER("flushes", flushes);
    COUNTER("compactions", compactions);
    COUNTER("block reads", block_reads);
    COUNTER("block cache hits", block_cache_hits);
    COUNTER("bloom checks", bloom_checks);
    COUNTER("bloom negatives", bloom_negatives);
    COUNTER("memtable bloom negatives", memtable_bloom_negatives);
    COUNTER("sst probes", sst_probes);
    COUNTER("write stalls", write_stalls);
#undef COUNTER
    show_counter(b, "stall time", c->stall_micros, base->stall_micros, " us");
#define COUNTER(name, field) show_counter(b, name, c->field, base->field, "")
    COUNTER("txn commits", txn_commits);
    COUNTER("txn aborts", txn_aborts);
    COUNTER("txn conflicts write", txn_conflicts_write);
    COUNTER("txn conflicts read", txn_conflicts_read);
    COUNTER("txn conflicts range", txn_conflicts_range);
    COUNTER("versions dropped", versions_dropped);
    COUNTER("versions kept", versions_kept);
    /* Only once a prefix scan consulted a filter, so sessions without
     * prefix scans print what they always did. */
    if (c->prefix_checks > 0) {
        COUNTER("prefix checks", prefix_checks);
        COUNTER("prefix skips", prefix_skips);
    }
#undef COUNTER
    show_ratio(b, "write amplification", a->write, c->user_bytes_written);
    show_ratio(b, "space amplification", a->space, a->bottom_sst_bytes);
    cli_buf_printf(b,
                   "read amplification: %" PRIu64 "\n"
                   "live SST bytes: %" PRIu64 "\n"
                   "bottom run bytes: %" PRIu64 "\n",
                   a->read, a->live_sst_bytes, a->bottom_sst_bytes);
    show_compression_total(b, st);
}

/* "1234 B, a..z": an SST's size and key range as the manifest records
 * them. */
static void show_sst_meta(cli_buf *b, const lsm_manifest_sst *m)
{
    cli_buf_printf(b, "%" PRIu64 " B, ", m->file_size);
    cli_buf_append_key(b, m->first_key, m->nfirst_key);
    cli_buf_append(b, "..", 2);
    cli_buf_append_key(b, m->last_key, m->nlast_key);
}

/* Where a snapshot's SST is: "L0", "L2" or "tier 7". */
static void show_sst_place(cli_buf *b, const lsm_manifest_sst *m)
{
    if (m->level < 0)
        cli_buf_printf(b, "tier %" PRIu64, m->tier_id);
    else
        cli_buf_printf(b, "L%d", m->level);
}

static int same_place(const lsm_manifest_sst *a, const lsm_manifest_sst *b)
{
    return a->level == b->level && a->tier_id == b->tier_id;
}

/* The order a snapshot's SSTs are shown in: L0 newest first (the record
 * has it oldest first), then every level or tier as recorded. i-th shown
 * is ssts[shown_index(r, i)]. */
static size_t shown_index(const lsm_manifest_record *r, size_t i)
{
    size_t n_l0 = 0;
    while (n_l0 < r->n_ssts && r->ssts[n_l0].level == 0)
        n_l0++;
    return i < n_l0 ? n_l0 - 1 - i : i;
}

/* "L0 [5, 4], L1 [2, 3]" (runs that hold SSTs), then one line per SST. */
static void show_snapshot(cli_buf *b, const lsm_manifest_record *r)
{
    size_t i = 0;

    cli_buf_printf(b, "snapshot: next id %" PRIu64 ", flushed to seq %" PRIu64,
                   r->id, r->last_seq);
    while (i < r->n_ssts) {
        const lsm_manifest_sst *first = &r->ssts[shown_index(r, i)];
        size_t start = i; /* the run's first SST */
        cli_buf_append(b, ", ", 2);
        show_sst_place(b, first);
        cli_buf_append(b, " [", 2);
        for (size_t j = start; j < r->n_ssts; j++) {
            const lsm_manifest_sst *m = &r->ssts[shown_index(r, j)];
            if (!same_place(m, first))
                break;
            cli_buf_printf(b, "%s%" PRIu64, j > start ? ", " : "", m->sst_id);
            i = j + 1;
        }
        cli_buf_append(b, "]", 1);
    }
    cli_buf_append(b, ", memtables [", 13);
    for (i = 0; i < r->n_memtables; i++) {
        const lsm_manifest_memtable *m = &r->memtables[i];
        cli_buf_printf(b, "%s%" PRIu64 "%s", i ? ", " : "", m->memtable_id,
                       m->has_wal ? "" : " (no WAL)");
        if (m->frozen)
            cli_buf_printf(b, " (frozen at seq %" PRIu64 ", %" PRIu64 " B)",
                           m->last_seq, m->wal_bytes);
    }
    cli_buf_append(b, "]\n", 2);
    for (i = 0; i < r->n_ssts; i++) {
        const lsm_manifest_sst *m = &r->ssts[shown_index(r, i)];
        cli_buf_printf(b, "    %" PRIu64 ".sst in ", m->sst_id);
        show_sst_place(b, m);
        cli_buf_append(b, ": ", 2);
        show_sst_meta(b, m);
        cli_buf_append(b, "\n", 1);
    }
}

/* "compaction L4: removed [1, 0] added [2]", or a trivial move's
 * "move to L4: [0, 1]". */
static void show_compaction_record_head(cli_buf *b,
                                        const lsm_manifest_record *r)
{
    if (r->trivial_move) {
        cli_buf_printf(b, "move to L%d: ", r->level);
        cli_show_ids(b, r->added, r->n_added);
        cli_buf_append(b, "\n", 1);
        return;
    }
    if (r->level == 0)
        cli_buf_printf(b, "compaction into a new tier: removed ");
    else
        cli_buf_printf(b, "compaction L%d: removed ", r->level);
    cli_show_ids(b, r->removed, r->n_removed);
    cli_buf_append(b, " added ", 7);
    cli_show_ids(b, r->added, r->n_added);
    cli_buf_append(b, "\n", 1);
}

void cli_show_manifest_record(cli_buf *b, const lsm_manifest_record *r,
                              int tiered)
{
    cli_buf_printf(b, "@%" PRIu64 " ", r->offset);
    switch (r->kind) {
    case LSM_MANIFEST_SNAPSHOT:
        show_snapshot(b, r);
        return;
    case LSM_MANIFEST_NEW_MEMTABLE:
        cli_buf_printf(b, "new memtable %" PRIu64 "%s", r->id,
                       r->has_wal ? "" : " (no WAL)");
        if (r->froze)
            cli_buf_printf(b,
                           "; %" PRIu64 " frozen at seq %" PRIu64 " (%" PRIu64
                           " B of WAL)",
                           r->frozen_id, r->last_seq, r->wal_bytes);
        cli_buf_append(b, "\n", 1);
        return;
    case LSM_MANIFEST_NEXT_ID:
        cli_buf_printf(b, "next id %" PRIu64 "\n", r->id);
        return;
    case LSM_MANIFEST_FLUSH:
        if (tiered)
            cli_buf_printf(b, "flush %" PRIu64 " -> new tier %" PRIu64 ".sst",
                           r->id, r->id);
        else
            cli_buf_printf(b, "flush %" PRIu64 " -> L0 %" PRIu64 ".sst", r->id,
                           r->id);
        if (r->n_ssts == 1) {
            cli_buf_append(b, " (", 2);
            show_sst_meta(b, &r->ssts[0]);
            cli_buf_append(b, ")", 1);
        }
        cli_buf_printf(b, ", up to seq %" PRIu64 "\n", r->last_seq);
        return;
    case LSM_MANIFEST_COMPACTION:
        show_compaction_record_head(b, r);
        for (size_t i = 0; i < r->n_ssts; i++) {
            cli_buf_printf(b, "    %" PRIu64 ".sst: ", r->ssts[i].sst_id);
            show_sst_meta(b, &r->ssts[i]);
            cli_buf_append(b, "\n", 1);
        }
        return;
    }
    /* a kind this shell does not know yet: say so rather than hide it */
    cli_buf_printf(b, "record of unknown kind %d\n", (int)r->kind);
}
