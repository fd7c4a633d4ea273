/*
 * draw.h: the draw command's picture of the tree in the terminal.
 *
 * One row per memtable (the mutable one, then the immutable ones newest
 * first), per L0 SST (newest first) and per level or tier; each memtable
 * or SST is a bar over one key axis shared by every row, so SSTs that
 * overlap (L0's, the memtables') sit over each other and a level's
 * disjoint SSTs sit side by side:
 *
 *   keys 1000 .. 3000 (numbers 1000 to 3000 in key order), 34.5 a column
 *   mem 7    [=============7==============]             1000 keys
 *   L0 5                 [==========5=========]           23.1 KB
 *   L1       [==1===][==2===][==3===][==4===]            4 SSTs
 *
 * The axis spans the smallest to the largest key of the tree, in key
 * (byte) order. When every key at a bar's end is a decimal number (as
 * fill writes them), keys are placed by their rank in key order among the
 * numbers between the smallest and largest of those (further when a row
 * holds more keys than that span), so fill 1000 3000 spreads evenly; otherwise
 * by their leading bytes after the prefix the smallest and largest keys share.
 * The picture depends only on the state and the width, so a script draws the
 * same thing each time.
 *
 * Thread safety: a pure function over caller-owned data.
 */
#ifndef CLI_DRAW_H
#define CLI_DRAW_H

#include "format.h"
#include "tree_notes.h"

#include "lsm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where keys go. Keys are in byte order, where "1000" comes before "999",
 * so decimal keys cannot be placed by value: a bar would not cover the
 * keys between its ends. When every key at a bar's end is a decimal
 * number of up to 18 digits, a key goes by its rank in byte order among
 * the numbers from the smallest to the largest of those (numbers_lo ..
 * numbers_hi): byte order kept, and a range of numbers written by fill
 * spread evenly. Otherwise by the 8 bytes after the prefix the smallest
 * and largest key share. */
typedef struct cli_draw_axis {
    bool numeric;
    bool have_numbers;               /* numbers_lo and numbers_hi are set */
    uint64_t numbers_lo, numbers_hi; /* numeric: the numbers ranked */
    size_t prefix;                   /* by bytes: the shared prefix skipped */
    uint64_t lo, hi;                 /* the smallest and largest key's place */
    const void *first_key;           /* the smallest key, for the header */
    size_t nfirst_key;
    const void *last_key; /* the largest key */
    size_t nlast_key;
} cli_draw_axis;

/* The axis over every memtable and SST of st; false when there is none
 * (an empty tree). Its keys are borrowed from st. */
bool cli_draw_axis_of(const lsm_state *st, cli_draw_axis *ax);

/* The same, built from key ranges one at a time: begin, take each range
 * (its keys borrowed until the axis is no longer used), then end, with
 * the most keys any one row holds (see cli_draw_axis: the numbers ranked
 * reach at least that far); end is false when nothing was taken. */
void cli_draw_axis_begin(cli_draw_axis *ax);
void cli_draw_axis_take(cli_draw_axis *ax, const void *first, size_t nfirst,
                        const void *last, size_t nlast);
bool cli_draw_axis_end(cli_draw_axis *ax, uint64_t most_keys_in_a_row);

/* The most keys one row of st holds: a memtable's, an L0 SST's, or a
 * level's (or tier's) SSTs' entries together. */
uint64_t cli_draw_most_keys_in_a_row(const lsm_state *st);

/* Where a key lies on the axis: 0 at its smallest key, 1 at its largest. */
double cli_draw_place(const cli_draw_axis *ax, const void *key, size_t n);

/* Appends "keys 1000 .. 3000 (numbers 1000 to 3000 in key order)" or
 * "keys a .. z by leading bytes". */
void cli_draw_axis_describe(cli_buf *b, const cli_draw_axis *ax);

/* "812 B", "23.1 KB", "2.0 MB" (1024-based). */
void cli_draw_size(char *out, size_t n, uint64_t bytes);

/* Row labels, the same in every picture: "mem 4", "imm 3", "L0 7" (kind
 * and id), and "L1" or, with tiered compaction, "tier 13". */
void cli_draw_label(char *out, size_t n, const char *kind, uint64_t id);
void cli_draw_run_label(char *out, size_t n, const lsm_state *st,
                        const lsm_level_info *lv);

/* The narrowest picture drawn; a smaller width is raised to it. */
#define CLI_DRAW_MIN_COLUMNS 40

/* Appends the picture of st, columns wide (at least CLI_DRAW_MIN_COLUMNS),
 * with ANSI colours when color is non-zero (each SST of a row in turn in
 * one of two, so neighbours stand apart); "the tree is empty" when there
 * is nothing to draw. */
void cli_draw_text(cli_buf *b, const lsm_state *st, unsigned columns,
                   int color);

/* Appends the tree as a standalone SVG document (draw_svg.c); -1, and
 * nothing appended, when the tree is empty. */
int cli_draw_svg(cli_buf *b, const lsm_state *st);

/* Appends draw --html's page (draw_html.c): the tree after each step of
 * the history recs (lsm_manifest_read's records) holds, with st (the state
 * now) for the memtables and the live SSTs' entries, and notes for what
 * the MANIFEST does not say. -1, and nothing appended, when recs do not
 * start from a snapshot. */
int cli_draw_html(cli_buf *b, const lsm_state *st,
                  const lsm_manifest_record *recs, size_t n,
                  cli_tree_notes *notes);

#endif
