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
 * numbers between the smallest and largest of those, so fill 1000 3000
 * spreads evenly; otherwise by their leading bytes after the prefix the
 * smallest and largest keys share. The picture depends only
 * on the state and the width, so a script draws the same thing each time.
 *
 * Thread safety: a pure function over caller-owned data.
 */
#ifndef CLI_DRAW_H
#define CLI_DRAW_H

#include "format.h"

#include "lsm.h"

/* The narrowest picture drawn; a smaller width is raised to it. */
#define CLI_DRAW_MIN_COLUMNS 40

/* Appends the picture of st, columns wide (at least CLI_DRAW_MIN_COLUMNS),
 * with ANSI colours when color is non-zero (each SST of a row in turn in
 * one of two, so neighbours stand apart); "the tree is empty" when there
 * is nothing to draw. */
void cli_draw_text(cli_buf *b, const lsm_state *st, unsigned columns,
                   int color);

#endif
