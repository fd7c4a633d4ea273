/*
 * draw.c: the draw command's picture of the tree (see draw.h).
 *
 * A picture is rows of cells: a label, a bar area of `width` cells over
 * the key axis, and a note (keys, size or SST count). Each cell carries
 * its character and a colour (0: none), so colour is decided while
 * drawing and written out in one place.
 */
#include "draw.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRAW_LABEL_COLS 9 /* "mem 123  " */
#define DRAW_NOTE_COLS 12 /* "  1000 keys" */
#define DRAW_MAX_COLUMNS 1000

/* The two colours a row's bars alternate between, and the memtables'. */
enum { DRAW_NO_COLOR, DRAW_COLOR_A, DRAW_COLOR_B, DRAW_COLOR_MEM };

static const char *const draw_ansi[] = {"\033[0m", "\033[36m", "\033[34m",
                                        "\033[32m"};

/* One bar: its key range and label. */
typedef struct draw_bar {
    const void *first;
    size_t nfirst;
    const void *last;
    size_t nlast;
    uint64_t id;
} draw_bar;

typedef struct draw_row {
    char ch[DRAW_MAX_COLUMNS];
    unsigned char color[DRAW_MAX_COLUMNS];
} draw_row;

/* --- the key axis ------------------------------------------------------ */

#define DRAW_MAX_DIGITS 18 /* 10^18 and its multiples fit in 64 bits */

/* The value of a decimal key without sign or leading zeros ("0" itself is
 * one) of up to DRAW_MAX_DIGITS digits; false when it is not one. */
static bool draw_decimal(const void *key, size_t n, uint64_t *out)
{
    const unsigned char *p = key;
    if (n == 0 || n > DRAW_MAX_DIGITS || (n > 1 && p[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = v;
    return true;
}

static uint64_t draw_pow10(size_t n)
{
    uint64_t v = 1;
    while (n-- > 0)
        v *= 10;
    return v;
}

static size_t draw_digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* How many numbers of [a, b] are below limit. */
static uint64_t draw_count_below(uint64_t a, uint64_t b, uint64_t limit)
{
    if (limit <= a)
        return 0;
    return (limit > b ? b : limit - 1) - a + 1;
}

/* How many numbers of [lo, hi] are written before the decimal key s (of
 * n digits) in byte order: among the numbers of d digits, those whose
 * first min(d, n) digits are smaller than s's, and, when d > n, none
 * that start with s itself (they come after it), when d < n those equal
 * to s's first d digits too (a proper prefix comes first). */
static uint64_t draw_rank(const unsigned char *s, size_t n, uint64_t lo,
                          uint64_t hi)
{
    uint64_t rank = 0;
    for (size_t d = draw_digits(lo); d <= draw_digits(hi); d++) {
        uint64_t a = d == 1 ? 0 : draw_pow10(d - 1);
        uint64_t b = draw_pow10(d) - 1;
        a = a < lo ? lo : a;
        b = b > hi ? hi : b;
        if (a > b)
            continue;
        size_t k = d < n ? d : n;
        uint64_t head = 0;
        for (size_t i = 0; i < k; i++)
            head = head * 10 + (uint64_t)(s[i] - '0');
        uint64_t limit = d > n ? head * draw_pow10(d - n) : head + (d < n);
        rank += draw_count_below(a, b, limit);
    }
    return rank;
}

/* The 8 bytes of key after `skip`, big-endian, zero-padded. */
static uint64_t draw_bytes_value(const void *key, size_t n, size_t skip)
{
    const unsigned char *p = key;
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | (skip + i < n ? p[skip + i] : 0);
    return v;
}

static uint64_t draw_key_value(const cli_draw_axis *ax, const void *key,
                               size_t n)
{
    if (ax->numeric)
        return draw_rank(key, n, ax->numbers_lo, ax->numbers_hi);
    return draw_bytes_value(key, n, ax->prefix);
}

/* user_key order: bytes, then length. */
static int draw_key_cmp(const void *a, size_t na, const void *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : (na > nb) - (na < nb);
}

/* Takes a key at a bar's end into the numbers ranked; clears numeric
 * when it is not a decimal number. */
static void draw_axis_take_number(cli_draw_axis *ax, const void *key, size_t n)
{
    uint64_t v;
    if (!draw_decimal(key, n, &v)) {
        ax->numeric = false;
        return;
    }
    if (!ax->have_numbers || v < ax->numbers_lo)
        ax->numbers_lo = v;
    if (!ax->have_numbers || v > ax->numbers_hi)
        ax->numbers_hi = v;
    ax->have_numbers = true;
}

void cli_draw_axis_begin(cli_draw_axis *ax)
{
    memset(ax, 0, sizeof *ax);
    ax->numeric = true;
}

void cli_draw_axis_take(cli_draw_axis *ax, const void *first, size_t nfirst,
                        const void *last, size_t nlast)
{
    draw_axis_take_number(ax, first, nfirst);
    draw_axis_take_number(ax, last, nlast);
    if (!ax->first_key ||
        draw_key_cmp(first, nfirst, ax->first_key, ax->nfirst_key) < 0) {
        ax->first_key = first;
        ax->nfirst_key = nfirst;
    }
    if (!ax->last_key ||
        draw_key_cmp(last, nlast, ax->last_key, ax->nlast_key) > 0) {
        ax->last_key = last;
        ax->nlast_key = nlast;
    }
}

static void draw_axis_take_ssts(cli_draw_axis *ax, const lsm_sst_info *s,
                                size_t n)
{
    for (size_t i = 0; i < n; i++)
        cli_draw_axis_take(ax, s[i].first_key, s[i].nfirst_key, s[i].last_key,
                           s[i].nlast_key);
}

static void draw_axis_take_memtable(cli_draw_axis *ax,
                                    const lsm_memtable_info *m)
{
    if (m->first_key)
        cli_draw_axis_take(ax, m->first_key, m->nfirst_key, m->last_key,
                           m->nlast_key);
}

/* Sets where the axis starts and ends (and the prefix, by bytes). */
static void draw_axis_finish(cli_draw_axis *ax)
{
    if (!ax->numeric) {
        const unsigned char *a = ax->first_key, *b = ax->last_key;
        size_t n =
            ax->nfirst_key < ax->nlast_key ? ax->nfirst_key : ax->nlast_key;
        size_t i = 0;
        while (i < n && a[i] == b[i])
            i++;
        ax->prefix = i;
    }
    ax->lo = draw_key_value(ax, ax->first_key, ax->nfirst_key);
    ax->hi = draw_key_value(ax, ax->last_key, ax->nlast_key);
}

/* The most keys one row holds: a memtable's, an L0 SST's, or a level's
 * (or tier's) SSTs' entries together. */
uint64_t cli_draw_most_keys_in_a_row(const lsm_state *st)
{
    uint64_t most = st->memtable.num_keys;
    for (size_t i = 0; i < st->n_immutables; i++)
        if (st->immutables[i].num_keys > most)
            most = st->immutables[i].num_keys;
    for (size_t i = 0; i < st->n_l0; i++)
        if (st->l0[i].num_entries > most)
            most = st->l0[i].num_entries;
    for (size_t l = 0; l < st->n_levels; l++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < st->levels[l].n_ssts; i++)
            sum += st->levels[l].ssts[i].num_entries;
        most = sum > most ? sum : most;
    }
    return most;
}

/* The bars' ends alone can hide the numbers between them: fill 1 3000
 * puts all of 1..3000 in one memtable whose keys run from "1" to "999".
 * A row of N keys from numbers_lo holds numbers up to numbers_lo + N - 1
 * at least when they are consecutive, as fill writes them, so the ranked
 * numbers reach that far (within DRAW_MAX_DIGITS digits). */
static void draw_axis_widen_numbers(cli_draw_axis *ax, uint64_t most)
{
    uint64_t limit = draw_pow10(DRAW_MAX_DIGITS) - 1;
    if (most == 0 || ax->numbers_lo > limit - (most - 1))
        return;
    uint64_t reach = ax->numbers_lo + (most - 1);
    if (reach > ax->numbers_hi)
        ax->numbers_hi = reach;
}

bool cli_draw_axis_end(cli_draw_axis *ax, uint64_t most_keys_in_a_row)
{
    if (!ax->first_key)
        return false;
    if (ax->numeric)
        draw_axis_widen_numbers(ax, most_keys_in_a_row);
    draw_axis_finish(ax);
    return true;
}

/* The axis over every memtable and SST of st; false when there is none. */
bool cli_draw_axis_of(const lsm_state *st, cli_draw_axis *ax)
{
    cli_draw_axis_begin(ax);
    draw_axis_take_memtable(ax, &st->memtable);
    for (size_t i = 0; i < st->n_immutables; i++)
        draw_axis_take_memtable(ax, &st->immutables[i]);
    draw_axis_take_ssts(ax, st->l0, st->n_l0);
    for (size_t l = 0; l < st->n_levels; l++)
        draw_axis_take_ssts(ax, st->levels[l].ssts, st->levels[l].n_ssts);
    return cli_draw_axis_end(ax, cli_draw_most_keys_in_a_row(st));
}

double cli_draw_place(const cli_draw_axis *ax, const void *key, size_t n)
{
    uint64_t v = draw_key_value(ax, key, n);
    if (ax->hi <= ax->lo || v <= ax->lo)
        return 0.0;
    if (v >= ax->hi)
        return 1.0;
    return (double)((long double)(v - ax->lo) / (long double)(ax->hi - ax->lo));
}

/* The column (0 .. width - 1) of a key. */
static unsigned draw_column(const cli_draw_axis *ax, const void *key, size_t n,
                            unsigned width)
{
    return (unsigned)(cli_draw_place(ax, key, n) * (width - 1) + 0.5);
}

/* --- rows ---------------------------------------------------------------- */

static void draw_row_clear(draw_row *r, unsigned width)
{
    memset(r->ch, ' ', width);
    memset(r->color, DRAW_NO_COLOR, width);
}

/* Draws a bar as [==id==] over its columns ('|' when it has one column),
 * the id centred when it fits inside. */
static void draw_row_bar(draw_row *r, const cli_draw_axis *ax, unsigned width,
                         const draw_bar *bar, unsigned char color)
{
    unsigned c0 = draw_column(ax, bar->first, bar->nfirst, width);
    unsigned c1 = draw_column(ax, bar->last, bar->nlast, width);
    for (unsigned c = c0; c <= c1; c++) {
        r->ch[c] = c == c0 ? '[' : c == c1 ? ']' : '=';
        r->color[c] = color;
    }
    if (c0 == c1) {
        r->ch[c0] = '|';
        return;
    }
    char id[24];
    int n = snprintf(id, sizeof id, "%llu", (unsigned long long)bar->id);
    unsigned inside = c1 - c0 - 1;
    if (n > 0 && (unsigned)n <= inside)
        memcpy(r->ch + c0 + 1 + (inside - (unsigned)n) / 2, id, (size_t)n);
}

/* Appends the row's cells, with colour codes where the colour changes. */
static void draw_row_emit(cli_buf *b, const draw_row *r, unsigned width,
                          int color)
{
    unsigned char cur = DRAW_NO_COLOR;
    for (unsigned c = 0; c < width; c++) {
        if (color && r->color[c] != cur) {
            cur = r->color[c];
            cli_buf_printf(b, "%s", draw_ansi[cur]);
        }
        cli_buf_append(b, &r->ch[c], 1);
    }
    if (color && cur != DRAW_NO_COLOR)
        cli_buf_printf(b, "%s", draw_ansi[DRAW_NO_COLOR]);
}

/* "812 B", "23.1 KB", "2.0 MB" (1024-based, as lsm-bench's MB). */
void cli_draw_size(char *out, size_t n, uint64_t bytes)
{
    if (bytes < 1024)
        snprintf(out, n, "%llu B", (unsigned long long)bytes);
    else if (bytes < 1024 * 1024)
        snprintf(out, n, "%.1f KB", (double)bytes / 1024.0);
    else
        snprintf(out, n, "%.1f MB", (double)bytes / 1024.0 / 1024.0);
}

void cli_draw_label(char *out, size_t n, const char *kind, uint64_t id)
{
    snprintf(out, n, "%s %llu", kind, (unsigned long long)id);
}

void cli_draw_run_label(char *out, size_t n, const lsm_state *st,
                        const lsm_level_info *lv)
{
    bool tier = st->compaction == LSM_COMPACTION_TIERED;
    snprintf(out, n, tier ? "tier %d" : "L%d", lv->level);
}

/* Appends one finished line: label, bars, note. */
static void draw_line(cli_buf *b, const char *label, const draw_row *r,
                      unsigned width, const char *note, int color)
{
    cli_buf_printf(b, "%-*s", DRAW_LABEL_COLS, label);
    draw_row_emit(b, r, width, color);
    cli_buf_printf(b, "%*s\n", DRAW_NOTE_COLS, note);
}

static draw_bar draw_bar_of_sst(const lsm_sst_info *s)
{
    return (draw_bar){s->first_key, s->nfirst_key, s->last_key, s->nlast_key,
                      s->sst_id};
}

static void draw_memtable(cli_buf *b, draw_row *r, const cli_draw_axis *ax,
                          unsigned width, const char *kind,
                          const lsm_memtable_info *m, int color)
{
    char label[32], note[32];
    cli_draw_label(label, sizeof label, kind, m->memtable_id);
    snprintf(note, sizeof note, "%llu keys", (unsigned long long)m->num_keys);
    draw_row_clear(r, width);
    if (m->first_key) {
        draw_bar bar = {m->first_key, m->nfirst_key, m->last_key, m->nlast_key,
                        m->memtable_id};
        draw_row_bar(r, ax, width, &bar, DRAW_COLOR_MEM);
    }
    draw_line(b, label, r, width, note, color);
}

static void draw_l0_sst(cli_buf *b, draw_row *r, const cli_draw_axis *ax,
                        unsigned width, const lsm_sst_info *s, int color)
{
    char label[32], note[32];
    cli_draw_label(label, sizeof label, "L0", s->sst_id);
    cli_draw_size(note, sizeof note, s->file_size);
    draw_row_clear(r, width);
    draw_bar bar = draw_bar_of_sst(s);
    draw_row_bar(r, ax, width, &bar, DRAW_COLOR_A);
    draw_line(b, label, r, width, note, color);
}

/* A level's (or tier's) row: its SSTs side by side, in key order, their
 * colours alternating. */
static void draw_run(cli_buf *b, draw_row *r, const cli_draw_axis *ax,
                     unsigned width, const lsm_state *st,
                     const lsm_level_info *lv, int color)
{
    char label[32], note[32];
    cli_draw_run_label(label, sizeof label, st, lv);
    snprintf(note, sizeof note, "%zu SST%s", lv->n_ssts,
             lv->n_ssts == 1 ? "" : "s");
    draw_row_clear(r, width);
    for (size_t i = 0; i < lv->n_ssts; i++) {
        draw_bar bar = draw_bar_of_sst(&lv->ssts[i]);
        draw_row_bar(r, ax, width, &bar, i % 2 ? DRAW_COLOR_B : DRAW_COLOR_A);
    }
    draw_line(b, label, r, width, note, color);
}

void cli_draw_axis_describe(cli_buf *b, const cli_draw_axis *ax)
{
    cli_buf_printf(b, "keys ");
    cli_buf_append_key(b, ax->first_key, ax->nfirst_key);
    cli_buf_printf(b, " .. ");
    cli_buf_append_key(b, ax->last_key, ax->nlast_key);
    if (ax->numeric)
        cli_buf_printf(b, " (numbers %llu to %llu in key order)",
                       (unsigned long long)ax->numbers_lo,
                       (unsigned long long)ax->numbers_hi);
    else
        cli_buf_printf(b, " by leading bytes");
}

/* The axis, and for numbers how many a column holds. */
static void draw_header(cli_buf *b, const cli_draw_axis *ax, unsigned width)
{
    cli_draw_axis_describe(b, ax);
    if (ax->numeric)
        cli_buf_printf(b, ", %.1f numbers a column",
                       (double)(ax->hi - ax->lo + 1) / (double)width);
    cli_buf_printf(b, "\n");
}

void cli_draw_text(cli_buf *b, const lsm_state *st, unsigned columns, int color)
{
    cli_draw_axis ax;
    if (!cli_draw_axis_of(st, &ax)) {
        cli_buf_printf(b, "the tree is empty\n");
        return;
    }
    if (columns < CLI_DRAW_MIN_COLUMNS)
        columns = CLI_DRAW_MIN_COLUMNS;
    unsigned width = columns - DRAW_LABEL_COLS - DRAW_NOTE_COLS;
    if (width > DRAW_MAX_COLUMNS)
        width = DRAW_MAX_COLUMNS;
    draw_row *r = malloc(sizeof *r);
    if (!r) {
        cli_buf_printf(b, "out of memory drawing the tree\n");
        return;
    }
    draw_header(b, &ax, width);
    draw_memtable(b, r, &ax, width, "mem", &st->memtable, color);
    for (size_t i = 0; i < st->n_immutables; i++)
        draw_memtable(b, r, &ax, width, "imm", &st->immutables[i], color);
    for (size_t i = 0; i < st->n_l0; i++)
        draw_l0_sst(b, r, &ax, width, &st->l0[i], color);
    for (size_t l = 0; l < st->n_levels; l++)
        draw_run(b, r, &ax, width, st, &st->levels[l], color);
    free(r);
}
