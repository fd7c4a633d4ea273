/*
 * draw_html.c: draw --html, the tree and its history as one HTML page.
 *
 * The page (draw_html.html, built into the shell as draw_html_page.h) is
 * fixed; what changes is the JSON it reads, made here:
 *   - ssts: every SST the MANIFEST names, with its size and key range
 *     (from the records), its entries (from the state for the live ones,
 *     from the shell's notes for the rest) and its place on one key axis
 *     shared by every step (x0 .. x1, 0 to 1: cli_draw_place);
 *   - steps: the tree after each record that changes it (the snapshot the
 *     MANIFEST starts with, then each flush and compaction), as rows of
 *     SST ids, with what the record removed and added and why.
 * The tree is replayed here from the records, the way the engine replays
 * them at open (lsm/log/manifest_tree.c): a flush puts its SST first in
 * L0, or a new tier first; a compaction removes its inputs and adds its
 * outputs to its level in key order, or, tiered, as one tier where the
 * newest tier it merged was.
 *
 * Every number is printed with a fixed format and nothing depends on
 * time or paths, so the same session writes the same bytes.
 */
#include "draw.h"

#include "draw_html_page.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the SSTs the records name ------------------------------------------ */

typedef struct html_sst {
    const lsm_manifest_sst *m; /* borrowed from the records */
    bool has_entries;
    uint64_t entries;
    size_t order; /* its rank by first key (then id): a row's order */
} html_sst;

typedef struct html_catalog {
    html_sst *ssts; /* sorted by id, one per id */
    size_t n;
} html_catalog;

static int html_sst_cmp(const void *a, const void *b)
{
    uint64_t x = ((const html_sst *)a)->m->sst_id;
    uint64_t y = ((const html_sst *)b)->m->sst_id;
    return (x > y) - (x < y);
}

/* user_key order: bytes, then length. */
static int html_key_cmp(const void *a, size_t na, const void *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (na > nb) - (na < nb);
}

static const html_sst *html_find(const html_catalog *c, uint64_t id)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->ssts[mid].m->sst_id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->n && c->ssts[lo].m->sst_id == id ? &c->ssts[lo] : NULL;
}

/* Every SST of every record, once each; false when out of memory. */
static bool html_catalog_build(html_catalog *c, const lsm_manifest_record *r,
                               size_t n_records)
{
    size_t total = 0;
    for (size_t i = 0; i < n_records; i++)
        total += r[i].n_ssts;
    c->ssts = calloc(total ? total : 1, sizeof *c->ssts);
    c->n = 0;
    if (!c->ssts)
        return false;
    for (size_t i = 0; i < n_records; i++)
        for (size_t k = 0; k < r[i].n_ssts; k++)
            c->ssts[c->n++].m = &r[i].ssts[k];
    qsort(c->ssts, c->n, sizeof *c->ssts, html_sst_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < c->n; i++)
        if (kept == 0 || c->ssts[kept - 1].m->sst_id != c->ssts[i].m->sst_id)
            c->ssts[kept++] = c->ssts[i];
    c->n = kept;
    return true;
}

static int html_first_key_cmp(const void *a, const void *b)
{
    const lsm_manifest_sst *x = (*(html_sst *const *)a)->m;
    const lsm_manifest_sst *y = (*(html_sst *const *)b)->m;
    int c =
        html_key_cmp(x->first_key, x->nfirst_key, y->first_key, y->nfirst_key);
    return c ? c : (x->sst_id > y->sst_id) - (x->sst_id < y->sst_id);
}

/* Ranks every SST by first key, so the page can keep a row in key order
 * as the replay does; false when out of memory. */
static bool html_catalog_order(html_catalog *c)
{
    html_sst **by_key = malloc((c->n ? c->n : 1) * sizeof *by_key);
    if (!by_key)
        return false;
    for (size_t i = 0; i < c->n; i++)
        by_key[i] = &c->ssts[i];
    qsort(by_key, c->n, sizeof *by_key, html_first_key_cmp);
    for (size_t i = 0; i < c->n; i++)
        by_key[i]->order = i;
    free(by_key);
    return true;
}

static void html_catalog_entries(html_catalog *c, cli_tree_notes *notes)
{
    for (size_t i = 0; i < c->n; i++)
        c->ssts[i].has_entries = cli_tree_notes_entries(
            notes, c->ssts[i].m->sst_id, &c->ssts[i].entries);
}

/* The axis over every SST of the history. The numbers ranked reach as
 * far as the most entries one SST held (a whole row's are not known for
 * every step). */
static bool html_axis(cli_draw_axis *ax, const html_catalog *c,
                      const lsm_state *st)
{
    uint64_t most = cli_draw_most_keys_in_a_row(st);
    cli_draw_axis_begin(ax);
    for (size_t i = 0; i < c->n; i++) {
        const lsm_manifest_sst *m = c->ssts[i].m;
        cli_draw_axis_take(ax, m->first_key, m->nfirst_key, m->last_key,
                           m->nlast_key);
        if (c->ssts[i].has_entries && c->ssts[i].entries > most)
            most = c->ssts[i].entries;
    }
    return cli_draw_axis_end(ax, most);
}

/* --- replaying the records ------------------------------------------------ */

/* A level, or a tier; ids in key order. */
typedef struct html_run {
    int level;        /* 1 = L1; 0 for a tier */
    uint64_t tier_id; /* a tier's id */
    uint64_t *ids;
    size_t n, cap;
} html_run;

typedef struct html_tree {
    bool tiered;
    uint64_t *l0; /* newest first */
    size_t n_l0, cap_l0;
    html_run *runs; /* levels L1.., or tiers newest first */
    size_t n_runs, cap_runs;
    bool failed; /* out of memory */
} html_tree;

static bool html_grow(void **arr, size_t *cap, size_t len, size_t size)
{
    if (len < *cap)
        return true;
    size_t ncap = *cap ? 2 * *cap : 8;
    void *grown = realloc(*arr, ncap * size);
    if (!grown)
        return false;
    *arr = grown;
    *cap = ncap;
    return true;
}

/* Inserts id at index at of ids (of *n). */
static bool html_ids_insert(uint64_t **ids, size_t *n, size_t *cap, size_t at,
                            uint64_t id)
{
    if (!html_grow((void **)ids, cap, *n, sizeof **ids))
        return false;
    memmove(*ids + at + 1, *ids + at, (*n - at) * sizeof **ids);
    (*ids)[at] = id;
    (*n)++;
    return true;
}

/* Removes id from ids; true when it was there. */
static bool html_ids_remove(uint64_t *ids, size_t *n, uint64_t id)
{
    for (size_t i = 0; i < *n; i++) {
        if (ids[i] != id)
            continue;
        memmove(ids + i, ids + i + 1, (*n - i - 1) * sizeof *ids);
        (*n)--;
        return true;
    }
    return false;
}

static void html_tree_free(html_tree *t)
{
    for (size_t r = 0; r < t->n_runs; r++)
        free(t->runs[r].ids);
    free(t->runs);
    free(t->l0);
    memset(t, 0, sizeof *t);
}

/* Inserts an empty run at index. */
static html_run *html_run_insert(html_tree *t, size_t index, int level,
                                 uint64_t tier_id)
{
    if (!html_grow((void **)&t->runs, &t->cap_runs, t->n_runs,
                   sizeof *t->runs)) {
        t->failed = true;
        return NULL;
    }
    memmove(t->runs + index + 1, t->runs + index,
            (t->n_runs - index) * sizeof *t->runs);
    t->runs[index] = (html_run){.level = level, .tier_id = tier_id};
    t->n_runs++;
    return &t->runs[index];
}

/* The non-tiered levels L1 .. Ln exist (empty ones too: draw shows them). */
static void html_tree_levels(html_tree *t, int n)
{
    while (!t->tiered && !t->failed && (int)t->n_runs < n)
        html_run_insert(t, t->n_runs, (int)t->n_runs + 1, 0);
}

/* Adds SST m to run in key order (by first key). */
static void html_run_add(html_tree *t, html_run *run, const html_catalog *c,
                         const lsm_manifest_sst *m)
{
    size_t at = 0;
    while (at < run->n) {
        const html_sst *x = html_find(c, run->ids[at]);
        if (x && html_key_cmp(m->first_key, m->nfirst_key, x->m->first_key,
                              x->m->nfirst_key) < 0)
            break;
        at++;
    }
    if (!html_ids_insert(&run->ids, &run->n, &run->cap, at, m->sst_id))
        t->failed = true;
}

/* Removes SST id wherever it is; returns the index of its run, n_runs
 * when it was in L0 or nowhere. */
static size_t html_tree_remove(html_tree *t, uint64_t id)
{
    if (html_ids_remove(t->l0, &t->n_l0, id))
        return t->n_runs;
    for (size_t r = 0; r < t->n_runs; r++)
        if (html_ids_remove(t->runs[r].ids, &t->runs[r].n, id))
            return r;
    return t->n_runs;
}

/* Drops empty tiers; returns how many tiers left came before index. */
static size_t html_drop_empty_tiers(html_tree *t, size_t index)
{
    size_t kept = 0, before = 0;
    for (size_t r = 0; r < t->n_runs; r++) {
        if (t->runs[r].n == 0) {
            free(t->runs[r].ids);
            continue;
        }
        before += r < index;
        t->runs[kept++] = t->runs[r];
    }
    t->n_runs = kept;
    return before;
}

/* Whether SST id is in the tree already. */
static bool html_tree_has(const html_tree *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_l0; i++)
        if (t->l0[i] == id)
            return true;
    for (size_t r = 0; r < t->n_runs; r++)
        for (size_t i = 0; i < t->runs[r].n; i++)
            if (t->runs[r].ids[i] == id)
                return true;
    return false;
}

/* A row's label as the pictures write it: "L0 5", "L2", "tier 13". */
static void html_run_label(char *out, size_t n, const html_tree *t,
                           const html_run *run)
{
    if (t->tiered)
        cli_draw_label(out, n, "tier", run->tier_id);
    else
        snprintf(out, n, "L%d", run->level);
}

/* Where a step put the SSTs it added: into a new row (L0's, or a tier)
 * at index `at` of the rows after it, or into an existing level's row.
 * The page rebuilds each step's rows from the snapshot's and these. */
typedef struct html_into {
    bool any; /* the step added SSTs */
    bool new_row;
    size_t at;
    char label[48];
} html_into;

static void html_into_run(html_into *into, const html_tree *t, size_t r,
                          bool new_row)
{
    into->any = true;
    into->new_row = new_row;
    into->at = t->n_l0 + r; /* rows: L0's SSTs first, then the runs */
    html_run_label(into->label, sizeof into->label, t, &t->runs[r]);
}

/* SSTs listed in a place the strategy does not have (a level in a tiered
 * tree, a tier in a levelled one) are left out: open refuses such a
 * MANIFEST, so only hand-made records can hold them. */
static void html_apply_snapshot(html_tree *t, const html_catalog *c,
                                const lsm_manifest_record *rec)
{
    for (size_t i = 0; i < rec->n_ssts && !t->failed; i++) {
        const lsm_manifest_sst *m = &rec->ssts[i];
        if (m->level == 0 && !t->tiered) { /* listed oldest first */
            if (!html_ids_insert(&t->l0, &t->n_l0, &t->cap_l0, 0, m->sst_id))
                t->failed = true;
        } else if (m->level > 0 && !t->tiered) {
            html_tree_levels(t, m->level);
            if (!t->failed)
                html_run_add(t, &t->runs[m->level - 1], c, m);
        } else if (m->level < 0 && t->tiered) {
            /* tiers come newest first: a new tier id goes last */
            html_run *run =
                t->n_runs && t->runs[t->n_runs - 1].tier_id == m->tier_id
                    ? &t->runs[t->n_runs - 1]
                    : html_run_insert(t, t->n_runs, 0, m->tier_id);
            if (run)
                html_run_add(t, run, c, m);
        }
    }
}

/* A flush recorded twice (an append retried after it failed but reached
 * the disk) names an SST the tree has: nothing changes, as the engine's
 * own replay does. */
static void html_apply_flush(html_tree *t, const html_catalog *c,
                             const lsm_manifest_record *rec, html_into *into)
{
    if (rec->n_ssts == 0 || html_tree_has(t, rec->ssts[0].sst_id))
        return;
    const lsm_manifest_sst *m = &rec->ssts[0];
    if (!t->tiered) {
        if (!html_ids_insert(&t->l0, &t->n_l0, &t->cap_l0, 0, m->sst_id)) {
            t->failed = true;
            return;
        }
        *into = (html_into){.any = true, .new_row = true, .at = 0};
        cli_draw_label(into->label, sizeof into->label, "L0", m->sst_id);
        return;
    }
    html_run *run = html_run_insert(t, 0, 0, m->tier_id);
    if (!run)
        return;
    html_run_add(t, run, c, m);
    html_into_run(into, t, 0, true);
}

static void html_apply_compaction(html_tree *t, const html_catalog *c,
                                  const lsm_manifest_record *rec,
                                  html_into *into)
{
    if ((rec->level == 0) != t->tiered)
        return; /* contradicts the strategy: see html_apply_snapshot */
    size_t newest = t->n_runs;
    for (size_t i = 0; i < rec->n_removed; i++) {
        size_t at = html_tree_remove(t, rec->removed[i]);
        newest = at < newest ? at : newest;
    }
    size_t r = 0;
    bool new_row = false;
    if (t->tiered) { /* a new tier where the newest merged one was */
        r = html_drop_empty_tiers(t, newest);
        if (rec->n_added == 0 || !html_run_insert(t, r, 0, rec->added[0]))
            return;
        new_row = true;
    } else {
        html_tree_levels(t, rec->level);
        r = (size_t)rec->level - 1;
    }
    for (size_t i = 0; i < rec->n_ssts && !t->failed; i++)
        html_run_add(t, &t->runs[r], c, &rec->ssts[i]);
    if (rec->n_ssts > 0 && !t->failed)
        html_into_run(into, t, r, new_row);
}

/* The deepest level any record names, so every level's row is there from
 * step 0 (a row appearing midway would move the rows below it). */
static int html_deepest_level(const lsm_manifest_record *recs, size_t n)
{
    int deepest = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].kind == LSM_MANIFEST_COMPACTION && recs[i].level > deepest)
            deepest = recs[i].level;
        for (size_t k = 0; k < recs[i].n_ssts; k++)
            if (recs[i].ssts[k].level > deepest)
                deepest = recs[i].ssts[k].level;
    }
    return deepest;
}

/* --- JSON ------------------------------------------------------------------
 */

/* A JSON string of the bytes of s. Besides what JSON needs, <, > and &
 * are escaped, so no text can end the <script> element that holds it.
 * Bytes from 0x80 on pass as they are (keys come escaped to ASCII by
 * cli_buf_append_key; other text is UTF-8). */
static void json_string(cli_buf *b, const char *s, size_t n)
{
    cli_buf_printf(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            cli_buf_printf(b, "\\%c", ch);
        else if (ch == '\n')
            cli_buf_printf(b, "\\n");
        else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&' || ch == 0x7f)
            cli_buf_printf(b, "\\u%04x", ch);
        else
            cli_buf_append(b, &s[i], 1);
    }
    cli_buf_printf(b, "\"");
}

static void json_cstring(cli_buf *b, const char *s)
{
    json_string(b, s, strlen(s));
}

/* A key as the shell prints it (b"..." when not plain), as a JSON string. */
static void json_key(cli_buf *b, const void *key, size_t n)
{
    cli_buf k;
    cli_buf_init(&k);
    cli_buf_append_key(&k, key, n);
    if (cli_buf_failed(&k))
        b->failed = 1;
    json_string(b, k.data ? k.data : "", k.len);
    cli_buf_free(&k);
}

static void json_ids(cli_buf *b, const uint64_t *ids, size_t n)
{
    cli_buf_printf(b, "[");
    for (size_t i = 0; i < n; i++)
        cli_buf_printf(b, "%s%llu", i ? ", " : "", (unsigned long long)ids[i]);
    cli_buf_printf(b, "]");
}

static void json_ssts(cli_buf *b, const html_catalog *c,
                      const cli_draw_axis *ax)
{
    cli_buf_printf(b, "\"ssts\": {");
    for (size_t i = 0; i < c->n; i++) {
        const lsm_manifest_sst *m = c->ssts[i].m;
        cli_buf_printf(
            b, "%s\n  \"%llu\": {\"size\": %llu, \"entries\": ", i ? "," : "",
            (unsigned long long)m->sst_id, (unsigned long long)m->file_size);
        if (c->ssts[i].has_entries)
            cli_buf_printf(b, "%llu", (unsigned long long)c->ssts[i].entries);
        else
            cli_buf_printf(b, "null");
        cli_buf_printf(b, ", \"first\": ");
        json_key(b, m->first_key, m->nfirst_key);
        cli_buf_printf(b, ", \"last\": ");
        json_key(b, m->last_key, m->nlast_key);
        cli_buf_printf(b, ", \"x0\": %.5f, \"x1\": %.5f, \"order\": %zu}",
                       cli_draw_place(ax, m->first_key, m->nfirst_key),
                       cli_draw_place(ax, m->last_key, m->nlast_key),
                       c->ssts[i].order);
    }
    cli_buf_printf(b, "\n}");
}

static void json_row(cli_buf *b, bool *first, const char *label,
                     const uint64_t *ids, size_t n)
{
    cli_buf_printf(b, "%s{\"label\": ", *first ? "" : ", ");
    json_cstring(b, label);
    cli_buf_printf(b, ", \"ids\": ");
    json_ids(b, ids, n);
    cli_buf_printf(b, "}");
    *first = false;
}

/* "NAME": the rows of the tree, each L0 SST, then each level or tier. */
static void json_rows(cli_buf *b, const char *name, const html_tree *t)
{
    char label[48];
    bool first = true;
    cli_buf_printf(b, "\"%s\": [", name);
    for (size_t i = 0; i < t->n_l0; i++) {
        cli_draw_label(label, sizeof label, "L0", t->l0[i]);
        json_row(b, &first, label, &t->l0[i], 1);
    }
    for (size_t r = 0; r < t->n_runs; r++) {
        html_run_label(label, sizeof label, t, &t->runs[r]);
        json_row(b, &first, label, t->runs[r].ids, t->runs[r].n);
    }
    cli_buf_printf(b, "]");
}

/* Appends text's bytes as a JSON string, and its failure. */
static void json_text(cli_buf *b, const cli_buf *text)
{
    json_string(b, text->data ? text->data : "", text->len);
    if (cli_buf_failed(text))
        b->failed = 1;
}

/* --- the steps ------------------------------------------------------------ */

static uint64_t html_smallest(const uint64_t *ids, size_t n)
{
    uint64_t min = ids[0];
    for (size_t i = 1; i < n; i++)
        min = ids[i] < min ? ids[i] : min;
    return min;
}

/* "compaction of [2, 1, 0] into L1, making [4, 5]" and the like. */
static void html_compaction_title(cli_buf *b, const lsm_manifest_record *rec)
{
    cli_buf removed, added;
    cli_buf_init(&removed);
    cli_buf_init(&added);
    json_ids(&removed, rec->removed, rec->n_removed);
    json_ids(&added, rec->added, rec->n_added);
    if (rec->trivial_move)
        cli_buf_printf(b, "trivial move of %s to L%d", cli_buf_str(&removed),
                       rec->level);
    else if (rec->level == 0)
        cli_buf_printf(b, "compaction of %s into a new tier, making %s",
                       cli_buf_str(&removed), cli_buf_str(&added));
    else
        cli_buf_printf(b, "compaction of %s into L%d, making %s",
                       cli_buf_str(&removed), rec->level, cli_buf_str(&added));
    if (cli_buf_failed(&removed) || cli_buf_failed(&added))
        b->failed = 1;
    cli_buf_free(&removed);
    cli_buf_free(&added);
}

static void html_title(cli_buf *b, const lsm_manifest_record *rec,
                       const html_into *into)
{
    unsigned long long id = (unsigned long long)rec->id;
    if (rec->kind == LSM_MANIFEST_SNAPSHOT)
        cli_buf_printf(b, "the tree as the MANIFEST begins");
    else if (rec->kind == LSM_MANIFEST_FLUSH && !into->any)
        cli_buf_printf(b, "flush of memtable %llu recorded again: no change",
                       id);
    else if (rec->kind == LSM_MANIFEST_FLUSH && rec->ssts[0].level < 0)
        cli_buf_printf(b, "flush of memtable %llu to a new tier, %llu.sst", id,
                       id);
    else if (rec->kind == LSM_MANIFEST_FLUSH)
        cli_buf_printf(b, "flush of memtable %llu to %llu.sst in L0", id, id);
    else
        html_compaction_title(b, rec);
}

static void html_compaction_reason(cli_buf *b, const lsm_manifest_record *rec,
                                   cli_tree_notes *notes)
{
    cli_compaction_key key = {
        rec->n_removed ? html_smallest(rec->removed, rec->n_removed) : 0,
        rec->level, rec->trivial_move != 0};
    if (rec->n_removed == 0 || !cli_tree_notes_reason(notes, &key, b))
        cli_buf_printf(b, "Why it ran is not known: this shell saw no event "
                          "for it.");
    if (rec->trivial_move)
        cli_buf_printf(b,
                       "\n(A trivial move: the SSTs overlap nothing in "
                       "L%d, so they changed level without a rewrite.)",
                       rec->level);
}

static void html_reason(cli_buf *b, const lsm_manifest_record *rec,
                        const html_into *into, cli_tree_notes *notes)
{
    if (rec->kind == LSM_MANIFEST_SNAPSHOT)
        cli_buf_printf(b, "The MANIFEST starts with the whole tree, written "
                          "when the database was opened (and whenever the "
                          "MANIFEST is rewritten); each flush and "
                          "compaction since is a step.");
    else if (rec->kind == LSM_MANIFEST_FLUSH && !into->any)
        cli_buf_printf(b, "The MANIFEST holds this flush twice (an append "
                          "retried after it failed but reached the disk); "
                          "the tree already has its SST.");
    else if (rec->kind == LSM_MANIFEST_FLUSH)
        cli_buf_printf(b,
                       "Memtable %llu was frozen (it was full, or flush "
                       "asked) and written out as one sorted SST, the "
                       "newest %s.",
                       (unsigned long long)rec->id,
                       rec->ssts[0].level < 0 ? "tier, in front of the others"
                                              : "in L0: L0's SSTs may overlap");
    else
        html_compaction_reason(b, rec, notes);
}

static const char *html_kind(lsm_manifest_kind kind)
{
    return kind == LSM_MANIFEST_SNAPSHOT ? "snapshot"
           : kind == LSM_MANIFEST_FLUSH  ? "flush"
                                         : "compaction";
}

/* "into": where the added SSTs went (html_into); null when nothing was
 * added. */
static void json_into(cli_buf *b, const html_into *into)
{
    if (!into->any) {
        cli_buf_printf(b, "\"into\": null");
        return;
    }
    cli_buf_printf(b, "\"into\": {\"row\": ");
    json_cstring(b, into->label);
    if (into->new_row)
        cli_buf_printf(b, ", \"at\": %zu", into->at);
    cli_buf_printf(b, "}");
}

/* One step: what the record did, why, and where its SSTs went. The rows
 * themselves are not repeated at every step (the page would grow with
 * steps times SSTs): the page replays them from first_rows. */
static void json_step(cli_buf *b, const lsm_manifest_record *rec,
                      const html_into *into, cli_tree_notes *notes, bool first)
{
    cli_buf text;
    cli_buf_init(&text);
    cli_buf_printf(b, "%s\n  {\"kind\": \"%s\", \"title\": ", first ? "" : ",",
                   html_kind(rec->kind));
    html_title(&text, rec, into);
    json_text(b, &text);
    cli_buf_free(&text);
    cli_buf_init(&text);
    html_reason(&text, rec, into, notes);
    cli_buf_printf(b, ", \"reason\": ");
    json_text(b, &text);
    cli_buf_free(&text);
    cli_buf_printf(b, ", \"removed\": ");
    json_ids(b, rec->removed, rec->n_removed);
    cli_buf_printf(b, ", \"added\": ");
    if (rec->kind == LSM_MANIFEST_FLUSH)
        json_ids(b, &rec->id, into->any ? 1 : 0);
    else
        json_ids(b, rec->added, into->any ? rec->n_added : 0);
    cli_buf_printf(b, ", ");
    json_into(b, into);
    cli_buf_printf(b, "}");
}

static size_t html_last_snapshot(const lsm_manifest_record *recs, size_t n)
{
    size_t last = 0;
    for (size_t i = 0; i < n; i++)
        if (recs[i].kind == LSM_MANIFEST_SNAPSHOT)
            last = i;
    return last;
}

/* Replays the records from the last snapshot (the engine writes one, first
 * in the file): "first_rows", the tree the snapshot holds; "steps", the
 * snapshot and each record that changes the tree (new-memtable and
 * next-id records do not); "last_rows", the tree after the last step
 * (the page checks its own replay against it). Non-tiered trees have a
 * row for every level of st and of the records, empty ones too, as draw
 * shows them. */
static void json_steps(cli_buf *b, const lsm_manifest_record *recs, size_t n,
                       const html_catalog *c, const lsm_state *st,
                       cli_tree_notes *notes)
{
    /* As for the manifest command: the strategy the database is open
     * with says whether runs are tiers. */
    html_tree t = {.tiered = st->compaction == LSM_COMPACTION_TIERED};
    size_t from = html_last_snapshot(recs, n);
    int deepest = html_deepest_level(recs + from, n - from);
    html_apply_snapshot(&t, c, &recs[from]);
    html_tree_levels(&t,
                     deepest > (int)st->n_levels ? deepest : (int)st->n_levels);
    json_rows(b, "first_rows", &t);
    cli_buf_printf(b, ",\n\"steps\": [");
    for (size_t i = from; i < n && !t.failed; i++) {
        const lsm_manifest_record *rec = &recs[i];
        html_into into = {0};
        if (rec->kind == LSM_MANIFEST_FLUSH)
            html_apply_flush(&t, c, rec, &into);
        else if (rec->kind == LSM_MANIFEST_COMPACTION)
            html_apply_compaction(&t, c, rec, &into);
        else if (rec->kind != LSM_MANIFEST_SNAPSHOT)
            continue;
        json_step(b, rec, &into, notes, i == from);
    }
    cli_buf_printf(b, "\n],\n");
    json_rows(b, "last_rows", &t);
    if (t.failed)
        b->failed = 1;
    html_tree_free(&t);
}

/* "mem 8: 12 keys, imm 7: 274 keys": the memtables now, which the
 * MANIFEST's history does not show. */
static void html_memtables(cli_buf *b, const lsm_state *st)
{
    cli_buf_printf(b, "mem %llu: %llu keys",
                   (unsigned long long)st->memtable.memtable_id,
                   (unsigned long long)st->memtable.num_keys);
    for (size_t i = 0; i < st->n_immutables; i++)
        cli_buf_printf(b, ", imm %llu: %llu keys",
                       (unsigned long long)st->immutables[i].memtable_id,
                       (unsigned long long)st->immutables[i].num_keys);
}

static void json_text_field(cli_buf *b, const char *name,
                            void (*fill)(cli_buf *, const void *),
                            const void *arg)
{
    cli_buf text;
    cli_buf_init(&text);
    fill(&text, arg);
    cli_buf_printf(b, "\"%s\": ", name);
    json_text(b, &text);
    cli_buf_printf(b, ",\n");
    cli_buf_free(&text);
}

static void fill_axis(cli_buf *b, const void *ax)
{
    cli_draw_axis_describe(b, ax);
}

static void fill_memtables(cli_buf *b, const void *st)
{
    html_memtables(b, st);
}

static void json_history(cli_buf *b, const lsm_state *st,
                         const lsm_manifest_record *recs, size_t n,
                         const html_catalog *c, const cli_draw_axis *ax,
                         bool have_axis, cli_tree_notes *notes)
{
    cli_buf_printf(b, "{\"strategy\": \"%s\",\n",
                   lsm_compaction_name(st->compaction));
    if (have_axis)
        json_text_field(b, "axis", fill_axis, ax);
    else
        cli_buf_printf(b, "\"axis\": \"no SST yet\",\n");
    json_text_field(b, "memtables", fill_memtables, st);
    json_ssts(b, c, ax);
    cli_buf_printf(b, ",\n");
    json_steps(b, recs, n, c, st, notes);
    cli_buf_printf(b, "}\n");
}

/* The marker in the page where the JSON goes. */
#define HTML_DATA_MARKER "@LSM_HISTORY@"

int cli_draw_html(cli_buf *b, const lsm_state *st,
                  const lsm_manifest_record *recs, size_t n,
                  cli_tree_notes *notes)
{
    const char *page = (const char *)cli_draw_html_page;
    size_t page_len = CLI_DRAW_HTML_PAGE_LEN;
    const char *mark = strstr(page, HTML_DATA_MARKER);
    if (!mark || html_last_snapshot(recs, n) >= n ||
        recs[html_last_snapshot(recs, n)].kind != LSM_MANIFEST_SNAPSHOT)
        return -1;
    cli_tree_notes_take_state(notes, st);
    html_catalog c;
    if (!html_catalog_build(&c, recs, n) || !html_catalog_order(&c)) {
        free(c.ssts);
        b->failed = 1;
        return 0;
    }
    html_catalog_entries(&c, notes);
    cli_draw_axis ax;
    bool have_axis = html_axis(&ax, &c, st);
    cli_buf_append(b, page, (size_t)(mark - page));
    json_history(b, st, recs, n, &c, &ax, have_axis, notes);
    const char *rest = mark + strlen(HTML_DATA_MARKER);
    cli_buf_append(b, rest, page_len - (size_t)(rest - page));
    free(c.ssts);
    return 0;
}
