/*
 * show_history.c: the text of history (a key's versions and where their
 * SSTs came from) and of levels (the per-level stats table); see
 * show_history.h for the formats.
 *
 * Everything here appends to a caller's cli_buf; an allocation failure is
 * sticky in the buffer and found by the caller when it writes it (the
 * provenance replay's own tables report theirs by returning -1).
 */
#include "show_history.h"

#include "show.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_fmt_bytes(uint64_t bytes, char out[CLI_BYTES_CHARS])
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    double x = (double)bytes;
    size_t u = 0;

    if (bytes < 1024) {
        snprintf(out, CLI_BYTES_CHARS, "%" PRIu64 " B", bytes);
        return;
    }
    x /= 1024;
    while (x >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        x /= 1024;
        u++;
    }
    snprintf(out, CLI_BYTES_CHARS, "%.1f %s", x, units[u]);
}

/* --- history ---------------------------------------------------------------
 */

/* "memtable 3", "immutable 2", "L0 5.sst", "tier 13 14.sst". */
static void version_where(const lsm_key_version *v, char *out, size_t n)
{
    switch (v->source) {
    case LSM_SOURCE_MEMTABLE:
        snprintf(out, n, "memtable %" PRIu64, v->id);
        return;
    case LSM_SOURCE_IMMUTABLE:
        snprintf(out, n, "immutable %" PRIu64, v->id);
        return;
    case LSM_SOURCE_SST:
        break;
    }
    if (v->level < 0)
        snprintf(out, n, "tier %" PRIu64 " %" PRIu64 ".sst", v->tier_id, v->id);
    else
        snprintf(out, n, "L%d %" PRIu64 ".sst", v->level, v->id);
}

#define WHERE_CHARS 64

void cli_show_history(cli_buf *b, const void *key, size_t nkey,
                      const lsm_key_version *v, size_t n,
                      const cli_read_view *rv)
{
    static const cli_read_view none;
    char where[WHERE_CHARS], seq[32];
    int seq_w = 0, where_w = 0;
    size_t i;

    cli_buf_append(b, "history of ", 11);
    cli_buf_append_key(b, key, nkey);
    if (n == 0) {
        cli_buf_printf(b, ": no version stored\n");
        return;
    }
    if (!rv)
        rv = &none;
    cli_buf_printf(b, ": %zu version%s, newest first", n, n == 1 ? "" : "s");
    if (rv->has_watermark)
        cli_buf_printf(b, " (watermark seq %" PRIu64 ")", rv->watermark);
    cli_buf_append(b, "\n", 1);
    for (i = 0; i < n; i++) {
        int k = snprintf(seq, sizeof seq, "seq %" PRIu64, v[i].seq);
        version_where(&v[i], where, sizeof where);
        if (k > seq_w)
            seq_w = k;
        if ((int)strlen(where) > where_w)
            where_w = (int)strlen(where);
    }
    for (i = 0; i < n; i++) {
        snprintf(seq, sizeof seq, "seq %" PRIu64, v[i].seq);
        version_where(&v[i], where, sizeof where);
        cli_buf_printf(b, "  %-*s  %-*s  ", seq_w, seq, where_w, where);
        if (v[i].range_delete) {
            cli_buf_printf(b, "range tombstone [");
            cli_buf_append_key(b, v[i].range_lo, v[i].nrange_lo);
            cli_buf_printf(b, ", ");
            cli_buf_append_key(b, v[i].range_hi, v[i].nrange_hi);
            cli_buf_printf(b, ")");
        } else if (v[i].tombstone) {
            cli_buf_printf(b, "tombstone");
        } else {
            cli_buf_append(b, "value ", 6);
            cli_buf_append_bytes(b, v[i].value, v[i].nvalue);
        }
        if (i > 0) {
            cli_buf_printf(b, " (shadowed; ");
            cli_show_version_fate(b, rv, v[i].seq, v[i - 1].seq,
                                  v[i].tombstone);
            cli_buf_printf(b, ")\n");
        } else if (v[i].tombstone)
            cli_buf_printf(b, "  <- get says not found\n");
        else
            cli_buf_printf(b, "  <- get returns this\n");
    }
}

/* --- provenance ------------------------------------------------------------
 */

/* Where a live SST is during the replay: L<level>, or tier <tier_id>. */
typedef struct sst_place {
    uint64_t sst_id;
    int level; /* -1: in a tier */
    uint64_t tier_id;
} sst_place;

/* The replay's state: live SSTs' places, and the SSTs asked about with
 * the line found for each so far. */
typedef struct provenance {
    sst_place *places;
    size_t n_places, cap_places;
    size_t n_wanted;
    uint64_t *wanted; /* distinct ids, in the versions' order */
    cli_buf *lines;   /* lines[i]: what made wanted[i] (empty: unknown) */
    int oom;
} provenance;

static sst_place *place_find(provenance *p, uint64_t id)
{
    for (size_t i = 0; i < p->n_places; i++)
        if (p->places[i].sst_id == id)
            return &p->places[i];
    return NULL;
}

static void place_set(provenance *p, uint64_t id, int level, uint64_t tier_id)
{
    sst_place *at = place_find(p, id);
    if (!at) {
        if (p->n_places == p->cap_places) {
            size_t cap = p->cap_places ? 2 * p->cap_places : 64;
            sst_place *grown = realloc(p->places, cap * sizeof *grown);
            if (!grown) {
                p->oom = 1;
                return;
            }
            p->places = grown;
            p->cap_places = cap;
        }
        at = &p->places[p->n_places++];
    }
    at->sst_id = id;
    at->level = level;
    at->tier_id = tier_id;
}

static void place_remove(provenance *p, uint64_t id)
{
    sst_place *at = place_find(p, id);
    if (at)
        *at = p->places[--p->n_places];
}

/* The line buffer of a wanted id, or NULL. */
static cli_buf *wanted_line(provenance *p, uint64_t id)
{
    for (size_t i = 0; i < p->n_wanted; i++)
        if (p->wanted[i] == id)
            return &p->lines[i];
    return NULL;
}

/* "L0 [5, 4] + L1 [2]": removed ids grouped by consecutive place. */
static void show_removed_by_place(cli_buf *b, provenance *p,
                                  const lsm_manifest_record *r)
{
    size_t i = 0;

    if (r->n_removed == 0)
        cli_buf_printf(b, "nothing");
    while (i < r->n_removed) {
        const sst_place *first = place_find(p, r->removed[i]);
        size_t j = i + 1;
        while (j < r->n_removed) {
            const sst_place *q = place_find(p, r->removed[j]);
            if (!first || !q || q->level != first->level ||
                q->tier_id != first->tier_id)
                break;
            j++;
        }
        if (i > 0)
            cli_buf_append(b, " + ", 3);
        if (!first)
            cli_buf_printf(b, "unknown ");
        else if (first->level < 0)
            cli_buf_printf(b, "tier %" PRIu64 " ", first->tier_id);
        else
            cli_buf_printf(b, "L%d ", first->level);
        cli_show_ids(b, r->removed + i, j - i);
        i = j;
    }
}

static void replay_flush(provenance *p, const lsm_manifest_record *r,
                         int tiered)
{
    cli_buf *line = wanted_line(p, r->id);
    place_set(p, r->id, tiered ? -1 : 0, tiered ? r->id : 0);
    if (line) {
        cli_buf_reset(line);
        cli_buf_printf(line, "flushed from memtable %" PRIu64, r->id);
    }
}

/* A trivial move keeps each SST's story and adds where it went. */
static void replay_move(provenance *p, const lsm_manifest_record *r)
{
    for (size_t i = 0; i < r->n_added; i++) {
        cli_buf *line = wanted_line(p, r->added[i]);
        if (line)
            cli_buf_printf(line, ", moved to L%d", r->level);
        place_set(p, r->added[i], r->level, 0);
    }
}

static void replay_compaction(provenance *p, const lsm_manifest_record *r)
{
    size_t i;

    if (r->trivial_move) {
        replay_move(p, r);
        return;
    }
    for (i = 0; i < r->n_added; i++) {
        cli_buf *line = wanted_line(p, r->added[i]);
        if (!line)
            continue;
        cli_buf_reset(line);
        cli_buf_printf(line, "compacted from ");
        show_removed_by_place(line, p, r);
    }
    for (i = 0; i < r->n_removed; i++)
        place_remove(p, r->removed[i]);
    /* level 0: the outputs form one tier, named by its first SST */
    for (i = 0; i < r->n_added; i++)
        place_set(p, r->added[i], r->level == 0 ? -1 : r->level,
                  r->level == 0 ? r->added[0] : 0);
}

/* The snapshot a MANIFEST starts with (every open rewrites the file to
 * one) names where each SST was, not where it came from: that history was
 * in the records the rewrite replaced. */
static void replay_snapshot(provenance *p, const lsm_manifest_record *r)
{
    for (size_t i = 0; i < r->n_ssts; i++) {
        const lsm_manifest_sst *m = &r->ssts[i];
        cli_buf *line = wanted_line(p, m->sst_id);
        place_set(p, m->sst_id, m->level, m->tier_id);
        if (!line)
            continue;
        cli_buf_reset(line);
        if (m->level < 0)
            cli_buf_printf(line, "already in tier %" PRIu64, m->tier_id);
        else
            cli_buf_printf(line, "already in L%d", m->level);
        cli_buf_printf(line, " when the manifest was last rewritten");
    }
}

/* Collects the distinct SST ids of the versions. 0 when out of memory. */
static int provenance_init(provenance *p, const lsm_key_version *v, size_t n)
{
    memset(p, 0, sizeof *p);
    p->wanted = calloc(n ? n : 1, sizeof *p->wanted);
    p->lines = calloc(n ? n : 1, sizeof *p->lines);
    if (!p->wanted || !p->lines)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].source != LSM_SOURCE_SST || wanted_line(p, v[i].id))
            continue;
        cli_buf_init(&p->lines[p->n_wanted]);
        p->wanted[p->n_wanted++] = v[i].id;
    }
    return 1;
}

static void provenance_free(provenance *p)
{
    for (size_t i = 0; i < p->n_wanted; i++)
        cli_buf_free(&p->lines[i]);
    free(p->lines);
    free(p->wanted);
    free(p->places);
}

int cli_show_provenance(cli_buf *b, const lsm_key_version *v, size_t n,
                        const lsm_manifest_record *records, size_t n_records,
                        int tiered)
{
    provenance p;
    size_t i;
    int ok = provenance_init(&p, v, n);

    for (i = 0; ok && i < n_records && !p.oom; i++) {
        if (records[i].kind == LSM_MANIFEST_SNAPSHOT)
            replay_snapshot(&p, &records[i]);
        else if (records[i].kind == LSM_MANIFEST_FLUSH)
            replay_flush(&p, &records[i], tiered);
        else if (records[i].kind == LSM_MANIFEST_COMPACTION)
            replay_compaction(&p, &records[i]);
    }
    for (i = 0; ok && i < p.n_wanted; i++)
        ok = !cli_buf_failed(&p.lines[i]);
    ok = ok && !p.oom;
    for (i = 0; ok && i < p.n_wanted; i++)
        cli_buf_printf(b, "  %" PRIu64 ".sst: %s\n", p.wanted[i],
                       p.lines[i].len ? cli_buf_str(&p.lines[i])
                                      : "not in the manifest");
    provenance_free(&p);
    return ok ? 0 : -1;
}

/* --- levels ----------------------------------------------------------------
 */

enum {
    COL_LEVEL,
    COL_FILES,
    COL_BYTES,
    COL_TARGET,
    COL_SCORE,
    COL_COMP,
    COL_READ_UP,
    COL_READ_LOW,
    COL_WRITTEN,
    COL_WAMP,
    N_COLS
};

#define CELL_CHARS 40

typedef struct level_row {
    char cell[N_COLS][CELL_CHARS];
    const char *reason; /* borrowed from the state; "" when none */
} level_row;

static const char *const level_headers[N_COLS] = {
    "level", "files",   "bytes",    "target",  "score",
    "comp",  "read up", "read low", "written", "w-amp"};

/* score with two decimals, "inf" for a level holding data with target 0. */
static void fmt_ratio(double x, char out[CELL_CHARS])
{
    if (isinf(x))
        snprintf(out, CELL_CHARS, "inf");
    else
        snprintf(out, CELL_CHARS, "%.2f", x);
}

/* Fills one row. amp_from: what write amplification divides by ("-" when
 * 0). leveled: the target and score columns have values. */
static void row_fill(level_row *r, const char *name, const lsm_sst_info *ssts,
                     size_t n_ssts, const lsm_level_stats *ls,
                     uint64_t amp_from, int leveled, int is_l0)
{
    uint64_t bytes = 0;

    for (size_t i = 0; i < n_ssts; i++)
        bytes += ssts[i].file_size;
    snprintf(r->cell[COL_LEVEL], CELL_CHARS, "%s", name);
    snprintf(r->cell[COL_FILES], CELL_CHARS, "%zu", n_ssts);
    cli_fmt_bytes(bytes, r->cell[COL_BYTES]);
    if (leveled && !is_l0 && ls->target_bytes > 0)
        cli_fmt_bytes(ls->target_bytes, r->cell[COL_TARGET]);
    else
        snprintf(r->cell[COL_TARGET], CELL_CHARS, "-");
    if (leveled)
        fmt_ratio(ls->score, r->cell[COL_SCORE]);
    else
        snprintf(r->cell[COL_SCORE], CELL_CHARS, "-");
    snprintf(r->cell[COL_COMP], CELL_CHARS, "%" PRIu64, ls->compactions);
    cli_fmt_bytes(ls->bytes_read_upper, r->cell[COL_READ_UP]);
    cli_fmt_bytes(ls->bytes_read_lower, r->cell[COL_READ_LOW]);
    cli_fmt_bytes(ls->bytes_written, r->cell[COL_WRITTEN]);
    if (amp_from > 0)
        fmt_ratio(ls->write_amplification, r->cell[COL_WAMP]);
    else
        snprintf(r->cell[COL_WAMP], CELL_CHARS, "-");
    r->reason = ls->last_reason ? ls->last_reason : "";
}

/* The header and rows, each column as wide as its widest cell: the level
 * name left-aligned, numbers right-aligned. */
static void show_level_table(cli_buf *b, const level_row *rows, size_t n)
{
    int width[N_COLS];
    size_t r;
    int c;

    for (c = 0; c < N_COLS; c++) {
        width[c] = (int)strlen(level_headers[c]);
        for (r = 0; r < n; r++)
            if ((int)strlen(rows[r].cell[c]) > width[c])
                width[c] = (int)strlen(rows[r].cell[c]);
    }
    cli_buf_printf(b, "%-*s", width[0], level_headers[0]);
    for (c = 1; c < N_COLS; c++)
        cli_buf_printf(b, "  %*s", width[c], level_headers[c]);
    cli_buf_append(b, "\n", 1);
    for (r = 0; r < n; r++) {
        cli_buf_printf(b, "%-*s", width[0], rows[r].cell[0]);
        for (c = 1; c < N_COLS; c++)
            cli_buf_printf(b, "  %*s", width[c], rows[r].cell[c]);
        cli_buf_append(b, "\n", 1);
    }
}

/* "L3 last compaction: REASON", continuation lines indented by 4. */
static void show_level_reasons(cli_buf *b, const level_row *rows, size_t n)
{
    for (size_t r = 0; r < n; r++) {
        const char *p = rows[r].reason;
        if (!p[0])
            continue;
        cli_buf_printf(b, "%s last compaction: ", rows[r].cell[COL_LEVEL]);
        for (const char *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
            cli_buf_append(b, p, (size_t)(nl - p));
            cli_buf_append(b, "\n    ", 5);
        }
        cli_buf_printf(b, "%s\n", p);
    }
}

int cli_show_levels(cli_buf *b, const lsm_state *st)
{
    int tiered = st->compaction == LSM_COMPACTION_TIERED;
    int leveled = st->compaction == LSM_COMPACTION_LEVELED;
    size_t n = 0, i;
    char name[CELL_CHARS];
    level_row *rows = calloc(st->n_levels + 1, sizeof *rows);

    if (!rows)
        return -1;
    if (!tiered)
        row_fill(&rows[n++], "L0", st->l0, st->n_l0, &st->l0_stats,
                 st->counters.user_bytes_written, leveled, 1);
    for (i = 0; i < st->n_levels; i++) {
        const lsm_level_info *lv = &st->levels[i];
        snprintf(name, sizeof name, "%s%d", tiered ? "tier " : "L", lv->level);
        row_fill(&rows[n++], name, lv->ssts, lv->n_ssts, &lv->stats,
                 lv->stats.bytes_read_upper, leveled, 0);
    }
    show_level_table(b, rows, n);
    show_level_reasons(b, rows, n);
    free(rows);
    return 0;
}
