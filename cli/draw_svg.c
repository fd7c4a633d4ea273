/*
 * draw_svg.c: draw --svg, the tree as a standalone SVG for slides.
 *
 * The rows of draw's terminal picture (draw.h), as boxes on a 1200-pixel
 * canvas: x and width from the key range on the shared axis, shade from
 * the SST's bytes (the largest SST darkest), id and size written inside
 * when they fit, SSTs an open iterator pins outlined in dashes, and a
 * legend. Every number is printed with a fixed format, so the same state
 * gives the same bytes.
 *
 * Element classes, for the tests and for anyone styling a slide: "sst"
 * (with "pinned" when pinned) and "memtable" rects carry data-id and
 * data-row (the row's label); rows are "row" groups.
 */
#include "draw.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define SVG_WIDTH 1200
#define SVG_PAD 20
#define SVG_LABEL_W 110 /* the row labels' column */
#define SVG_NOTE_W 130  /* the notes' column */
#define SVG_TOP 70      /* the title */
#define SVG_ROW_H 44
#define SVG_BOX_H 30
#define SVG_LEGEND_H 70
#define SVG_BARS_X (SVG_PAD + SVG_LABEL_W)
#define SVG_BARS_W (SVG_WIDTH - 2 * SVG_PAD - SVG_LABEL_W - SVG_NOTE_W)

#define SVG_MEM_FILL "#16a34a"
#define SVG_SST_FILL_A "#2563eb"
#define SVG_SST_FILL_B "#0891b2"
#define SVG_PIN_STROKE "#dc2626"

/* What a row draws: its label, note and boxes. */
typedef struct svg_box {
    const void *first, *last;
    size_t nfirst, nlast;
    uint64_t id;
    uint64_t bytes; /* 0 for a memtable */
    bool memtable, pinned;
    const char *fill;
} svg_box;

static double svg_x(const cli_draw_axis *ax, const void *key, size_t n)
{
    return SVG_BARS_X + cli_draw_place(ax, key, n) * SVG_BARS_W;
}

/* Whether SST id is pinned by an open iterator (still in the tree). */
static bool svg_pinned(const lsm_state *st, uint64_t id)
{
    for (size_t i = 0; i < st->n_iters; i++)
        for (size_t k = 0; k < st->iters[i].n_ssts; k++)
            if (st->iters[i].ssts[k].sst_id == id)
                return true;
    return false;
}

static uint64_t svg_largest_sst(const lsm_state *st)
{
    uint64_t max = 1;
    for (size_t i = 0; i < st->n_l0; i++)
        max = st->l0[i].file_size > max ? st->l0[i].file_size : max;
    for (size_t l = 0; l < st->n_levels; l++)
        for (size_t i = 0; i < st->levels[l].n_ssts; i++)
            if (st->levels[l].ssts[i].file_size > max)
                max = st->levels[l].ssts[i].file_size;
    return max;
}

/* The text inside a box: "12 · 40.2 KB" when wide enough, "12" when
 * that fits, else nothing. */
static void svg_box_label(cli_buf *b, const svg_box *x, double left,
                          double width, double y)
{
    char size[32], text[64];
    cli_draw_size(size, sizeof size, x->bytes);
    if (x->bytes && width >= 110)
        snprintf(text, sizeof text, "%llu \xc2\xb7 %s",
                 (unsigned long long)x->id, size);
    else if (width >= 26)
        snprintf(text, sizeof text, "%llu", (unsigned long long)x->id);
    else
        return;
    cli_buf_printf(b,
                   "    <text x=\"%.1f\" y=\"%.1f\" font-size=\"15\" "
                   "text-anchor=\"middle\" fill=\"#ffffff\">%s</text>\n",
                   left + width / 2, y + SVG_BOX_H / 2 + 5, text);
}

/* One box, its width cut at limit (the next box's left edge in a level:
 * a level's boxes never overlap). */
static void svg_box_emit(cli_buf *b, const cli_draw_axis *ax, const svg_box *x,
                         const char *row, double y, double limit,
                         uint64_t largest)
{
    double left = svg_x(ax, x->first, x->nfirst);
    double right = svg_x(ax, x->last, x->nlast);
    double width = right - left < 2 ? 2 : right - left;
    if (left + width > limit)
        width = limit > left ? limit - left : 0;
    double shade =
        x->memtable ? 0.85 : 0.35 + 0.65 * (double)x->bytes / (double)largest;
    cli_buf_printf(b,
                   "    <rect class=\"%s%s\" data-id=\"%llu\" data-row=\"%s\" "
                   "x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" "
                   "rx=\"3\" fill=\"%s\" fill-opacity=\"%.2f\"",
                   x->memtable ? "memtable" : "sst", x->pinned ? " pinned" : "",
                   (unsigned long long)x->id, row, left, y, width, SVG_BOX_H,
                   x->fill, shade);
    if (x->pinned)
        cli_buf_printf(b,
                       " stroke=\"%s\" stroke-width=\"3\" "
                       "stroke-dasharray=\"6 3\"",
                       SVG_PIN_STROKE);
    cli_buf_printf(b, "/>\n");
    svg_box_label(b, x, left, width, y);
}

static void svg_row_begin(cli_buf *b, const char *label, double y)
{
    cli_buf_printf(b,
                   "  <g class=\"row\" data-row=\"%s\">\n"
                   "    <text x=\"%d\" y=\"%.1f\" font-size=\"18\" "
                   "font-weight=\"bold\">%s</text>\n",
                   label, SVG_PAD, y + SVG_BOX_H / 2 + 6, label);
}

static void svg_row_end(cli_buf *b, const char *note, double y)
{
    cli_buf_printf(b,
                   "    <text x=\"%d\" y=\"%.1f\" font-size=\"16\" "
                   "text-anchor=\"end\" fill=\"#374151\">%s</text>\n"
                   "  </g>\n",
                   SVG_WIDTH - SVG_PAD, y + SVG_BOX_H / 2 + 6, note);
}

static void svg_memtable(cli_buf *b, const cli_draw_axis *ax, const char *kind,
                         const lsm_memtable_info *m, double y)
{
    char label[32], note[32];
    cli_draw_label(label, sizeof label, kind, m->memtable_id);
    snprintf(note, sizeof note, "%llu keys", (unsigned long long)m->num_keys);
    svg_row_begin(b, label, y);
    if (m->first_key) {
        svg_box x = {m->first_key, m->last_key,    m->nfirst_key,
                     m->nlast_key, m->memtable_id, 0,
                     true,         false,          SVG_MEM_FILL};
        svg_box_emit(b, ax, &x, label, y, SVG_BARS_X + SVG_BARS_W, 1);
    }
    svg_row_end(b, note, y);
}

static svg_box svg_sst_box(const lsm_state *st, const lsm_sst_info *s,
                           const char *fill)
{
    return (svg_box){
        s->first_key, s->last_key,  s->nfirst_key, s->nlast_key,
        s->sst_id,    s->file_size, false,         svg_pinned(st, s->sst_id),
        fill};
}

static void svg_l0_sst(cli_buf *b, const lsm_state *st, const cli_draw_axis *ax,
                       const lsm_sst_info *s, double y, uint64_t largest)
{
    char label[32], note[32];
    cli_draw_label(label, sizeof label, "L0", s->sst_id);
    cli_draw_size(note, sizeof note, s->file_size);
    svg_row_begin(b, label, y);
    svg_box x = svg_sst_box(st, s, SVG_SST_FILL_A);
    svg_box_emit(b, ax, &x, label, y, SVG_BARS_X + SVG_BARS_W, largest);
    svg_row_end(b, note, y);
}

static void svg_run(cli_buf *b, const lsm_state *st, const cli_draw_axis *ax,
                    const lsm_level_info *lv, double y, uint64_t largest)
{
    char label[32], note[48], size[32];
    uint64_t bytes = 0;
    for (size_t i = 0; i < lv->n_ssts; i++)
        bytes += lv->ssts[i].file_size;
    cli_draw_size(size, sizeof size, bytes);
    cli_draw_run_label(label, sizeof label, st, lv);
    snprintf(note, sizeof note, "%zu SST%s, %s", lv->n_ssts,
             lv->n_ssts == 1 ? "" : "s", size);
    svg_row_begin(b, label, y);
    for (size_t i = 0; i < lv->n_ssts; i++) {
        double limit = i + 1 < lv->n_ssts ? svg_x(ax, lv->ssts[i + 1].first_key,
                                                  lv->ssts[i + 1].nfirst_key)
                                          : SVG_BARS_X + SVG_BARS_W;
        svg_box x = svg_sst_box(st, &lv->ssts[i],
                                i % 2 ? SVG_SST_FILL_B : SVG_SST_FILL_A);
        svg_box_emit(b, ax, &x, label, y, limit, largest);
    }
    svg_row_end(b, note, y);
}

static size_t svg_rows(const lsm_state *st)
{
    return 1 + st->n_immutables + st->n_l0 + st->n_levels;
}

/* The title: what the axis spans. Keys are escaped as b"..." would be,
 * and &, < and > as XML needs. */
static void svg_title(cli_buf *b, const cli_draw_axis *ax)
{
    cli_buf axis;
    cli_buf_init(&axis);
    cli_draw_axis_describe(&axis, ax);
    cli_buf_printf(b, "  <text x=\"%d\" y=\"40\" font-size=\"20\">", SVG_PAD);
    const char *p = cli_buf_str(&axis);
    for (; *p; p++) {
        if (*p == '&')
            cli_buf_printf(b, "&amp;");
        else if (*p == '<')
            cli_buf_printf(b, "&lt;");
        else if (*p == '>')
            cli_buf_printf(b, "&gt;");
        else
            cli_buf_append(b, p, 1);
    }
    cli_buf_printf(b, "</text>\n");
    if (cli_buf_failed(&axis))
        b->failed = 1; /* a title cut short fails the whole picture */
    cli_buf_free(&axis);
}

static void svg_legend_item(cli_buf *b, int x, double y, const char *fill,
                            const char *extra, const char *text)
{
    cli_buf_printf(b,
                   "  <rect x=\"%d\" y=\"%.1f\" width=\"28\" height=\"18\" "
                   "rx=\"3\" fill=\"%s\"%s/>\n"
                   "  <text x=\"%d\" y=\"%.1f\" font-size=\"15\">%s</text>\n",
                   x, y, fill, extra, x + 36, y + 14, text);
}

static void svg_legend(cli_buf *b, double y)
{
    svg_legend_item(b, SVG_PAD, y, SVG_MEM_FILL, "", "memtable");
    svg_legend_item(b, SVG_PAD + 150, y, SVG_SST_FILL_A, "",
                    "SST (darker: more bytes)");
    svg_legend_item(b, SVG_PAD + 430, y, SVG_SST_FILL_B, "",
                    "its neighbour in a level");
    svg_legend_item(b, SVG_PAD + 700, y, "#ffffff",
                    " stroke=\"" SVG_PIN_STROKE "\" stroke-width=\"3\" "
                    "stroke-dasharray=\"6 3\"",
                    "pinned by an open iterator");
}

int cli_draw_svg(cli_buf *b, const lsm_state *st)
{
    cli_draw_axis ax;
    if (!cli_draw_axis_of(st, &ax))
        return -1;
    int height = SVG_TOP + (int)svg_rows(st) * SVG_ROW_H + SVG_LEGEND_H;
    uint64_t largest = svg_largest_sst(st);
    cli_buf_printf(b,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                   "height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "font-family=\"sans-serif\">\n"
                   "  <rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
                   SVG_WIDTH, height, SVG_WIDTH, height, SVG_WIDTH, height);
    svg_title(b, &ax);
    double y = SVG_TOP;
    svg_memtable(b, &ax, "mem", &st->memtable, y);
    for (size_t i = 0; i < st->n_immutables; i++)
        svg_memtable(b, &ax, "imm", &st->immutables[i], y += SVG_ROW_H);
    for (size_t i = 0; i < st->n_l0; i++)
        svg_l0_sst(b, st, &ax, &st->l0[i], y += SVG_ROW_H, largest);
    for (size_t l = 0; l < st->n_levels; l++)
        svg_run(b, st, &ax, &st->levels[l], y += SVG_ROW_H, largest);
    svg_legend(b, y + SVG_ROW_H + 20);
    cli_buf_printf(b, "</svg>\n");
    return 0;
}
