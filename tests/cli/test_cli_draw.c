/*
 * test_cli_draw.c: unit tests of draw's picture (cli/draw.c) on hand-made
 * states: where bars land on the key axis for decimal keys (ranked in key
 * order) and for other keys (leading bytes), that a level's disjoint SSTs
 * never share a bar, narrow and wide pictures, colour codes only when
 * asked, and an empty tree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "draw.h"
#include "format.h"

#include "lsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lsm_sst_info sst_make(uint64_t id, const char *first, const char *last)
{
    lsm_sst_info t;
    memset(&t, 0, sizeof t);
    t.sst_id = id;
    t.file_size = 2048 * id;
    t.first_key = (void *)first;
    t.nfirst_key = strlen(first);
    t.last_key = (void *)last;
    t.nlast_key = strlen(last);
    return t;
}

/* A state of one memtable (empty when first is NULL), L0 and one level. */
static void state_make(lsm_state *st, lsm_level_info *level, const char *first,
                       const char *last, lsm_sst_info *l0, size_t n_l0,
                       lsm_sst_info *ssts, size_t n)
{
    memset(st, 0, sizeof *st);
    memset(level, 0, sizeof *level);
    st->memtable.memtable_id = 9;
    st->memtable.num_keys = first ? 3 : 0;
    st->memtable.first_key = (void *)first;
    st->memtable.nfirst_key = first ? strlen(first) : 0;
    st->memtable.last_key = (void *)last;
    st->memtable.nlast_key = last ? strlen(last) : 0;
    st->l0 = l0;
    st->n_l0 = n_l0;
    level->level = 1;
    level->ssts = ssts;
    level->n_ssts = n;
    st->levels = level;
    st->n_levels = 1;
    st->compaction = LSM_COMPACTION_LEVELED;
}

static char *draw(const lsm_state *st, unsigned columns, int color)
{
    cli_buf b;
    cli_buf_init(&b);
    cli_draw_text(&b, st, columns, color);
    char *s = malloc(b.len + 1);
    assert_non_null(s);
    memcpy(s, b.data, b.len);
    s[b.len] = '\0';
    cli_buf_free(&b);
    return s;
}

/* The line starting with label (followed by a space). */
static const char *line_of(const char *text, const char *label)
{
    size_t n = strlen(label);
    for (const char *p = text; p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncmp(p, label, n) == 0 && p[n] == ' ')
            return p;
    }
    fail_msg("no line for %s in:\n%s", label, text);
    return NULL;
}

/* Where column c of the bar area is in a line (labels take 9 columns). */
static char cell(const char *line, unsigned c)
{
    return line[9 + c];
}

static void test_decimal_keys_rank_in_key_order(void **state)
{
    (void)state;
    lsm_sst_info l1[] = {sst_make(1, "1000", "1499"),
                         sst_make(2, "1500", "1999")};
    lsm_sst_info l0[] = {sst_make(3, "1500", "1999")};
    lsm_level_info level;
    lsm_state st;
    state_make(&st, &level, "1000", "1999", l0, 1, l1, 2);
    /* 61 columns: a bar area of 40 for the numbers 1000 to 1999 */
    char *text = draw(&st, 61, 0);
    assert_non_null(strstr(text, "keys 1000 .. 1999 (numbers 1000 to 1999 "
                                 "in key order), 25.0 numbers a column\n"));
    const char *mem = line_of(text, "mem 9");
    assert_int_equal(cell(mem, 0), '[');
    assert_int_equal(cell(mem, 39), ']');
    const char *l0_3 = line_of(text, "L0 3");
    assert_int_equal(cell(l0_3, 19), ' '); /* 1499's rank: 499 of 999 */
    assert_int_equal(cell(l0_3, 20), '['); /* 1500 */
    assert_int_equal(cell(l0_3, 39), ']');
    assert_non_null(strstr(l0_3, "6.0 KB\n"));
    const char *l1_line = line_of(text, "L1");
    assert_int_equal(cell(l1_line, 0), '[');
    assert_int_equal(cell(l1_line, 19), ']');
    assert_int_equal(cell(l1_line, 20), '[');
    assert_non_null(strstr(l1_line, "2 SSTs\n"));
    free(text);
}

/* Decimal keys of different lengths: "1000" sorts before "999", and the
 * bars of a level follow key order, never crossing. */
static void test_decimal_keys_of_any_length(void **state)
{
    (void)state;
    lsm_sst_info l1[] = {sst_make(1, "1", "1999"), sst_make(2, "2", "2999"),
                         sst_make(3, "3", "999")};
    lsm_level_info level;
    lsm_state st;
    state_make(&st, &level, NULL, NULL, NULL, 0, l1, 3);
    char *text = draw(&st, 80, 0);
    assert_non_null(strstr(text, "keys 1 .. 999 (numbers 1 to 2999 in key "
                                 "order)"));
    const char *row = line_of(text, "L1");
    unsigned starts[3], n = 0;
    for (unsigned c = 0; c < 59 && n < 3; c++)
        if (cell(row, c) == '[')
            starts[n++] = c;
    assert_int_equal(n, 3);
    assert_int_equal(starts[0], 0);
    assert_true(starts[1] > starts[0] + 10);
    assert_true(starts[2] > starts[1] + 10); /* 2's keys: 2, 20.., 2000.. */
    /* each bar carries its id inside it */
    assert_non_null(memchr(row + 9 + starts[0], '1', starts[1] - starts[0]));
    assert_non_null(memchr(row + 9 + starts[1], '2', starts[2] - starts[1]));
    free(text);
}

/* fill 1 3000 in one memtable: its keys run from "1" to "999", and its
 * 3000 keys say the numbers reach 3000, so those are ranked. */
static void test_numbers_reach_as_far_as_a_row_counts(void **state)
{
    (void)state;
    lsm_level_info level;
    lsm_state st;
    state_make(&st, &level, "1", "999", NULL, 0, NULL, 0);
    st.memtable.num_keys = 3000;
    char *text = draw(&st, 80, 0);
    assert_non_null(strstr(text, "keys 1 .. 999 (numbers 1 to 3000 in key "
                                 "order)"));
    free(text);
    st.memtable.num_keys = 3; /* fewer keys than the ends span: as is */
    text = draw(&st, 80, 0);
    assert_non_null(strstr(text, "(numbers 1 to 999 in key order)"));
    free(text);
}

static void test_byte_keys_by_leading_bytes(void **state)
{
    (void)state;
    lsm_sst_info l1[] = {sst_make(1, "key-a", "key-m"),
                         sst_make(2, "key-n", "key-z")};
    lsm_level_info level;
    lsm_state st;
    state_make(&st, &level, "key-x", "key-x", NULL, 0, l1, 2);
    char *text = draw(&st, 80, 0);
    assert_non_null(strstr(text, "keys key-a .. key-z by leading bytes\n"));
    const char *mem = line_of(text, "mem 9");
    assert_non_null(strstr(mem, "|")); /* one key: one column */
    const char *row = line_of(text, "L1");
    assert_int_equal(cell(row, 0), '[');
    assert_int_equal(cell(row, 58), ']');
    free(text);
}

static void test_widths_and_colour(void **state)
{
    (void)state;
    lsm_sst_info l1[] = {sst_make(1, "a", "b"), sst_make(2, "c", "d")};
    lsm_level_info level;
    lsm_state st;
    state_make(&st, &level, NULL, NULL, NULL, 0, l1, 2);
    char *narrow = draw(&st, 10, 0); /* raised to 40 */
    const char *row = line_of(narrow, "L1");
    assert_int_equal(strchr(row, '\n') - row, CLI_DRAW_MIN_COLUMNS);
    free(narrow);
    char *wide = draw(&st, 200, 0);
    row = line_of(wide, "L1");
    assert_int_equal(strchr(row, '\n') - row, 200);
    assert_null(strchr(wide, '\033'));
    free(wide);
    char *colour = draw(&st, 80, 1); /* neighbours in two colours */
    assert_non_null(strstr(colour, "\033[36m["));
    assert_non_null(strstr(colour, "\033[34m["));
    assert_non_null(strstr(colour, "\033[0m"));
    free(colour);
}

static void test_empty_tree(void **state)
{
    (void)state;
    lsm_level_info level;
    lsm_state st;
    state_make(&st, &level, NULL, NULL, NULL, 0, NULL, 0);
    char *text = draw(&st, 80, 0);
    assert_string_equal(text, "the tree is empty\n");
    free(text);
}

static char *draw_svg(const lsm_state *st)
{
    cli_buf b;
    cli_buf_init(&b);
    assert_int_equal(cli_draw_svg(&b, st), 0);
    char *s = strdup(cli_buf_str(&b));
    assert_non_null(s);
    cli_buf_free(&b);
    return s;
}

/* The SVG: the title escaped for XML, one rect per SST with its id, the
 * pinned one outlined, and nothing at all for an empty tree. */
static void test_svg(void **state)
{
    (void)state;
    lsm_sst_info l1[] = {sst_make(1, "<a&b>", "m"), sst_make(2, "n", "z")};
    lsm_level_info level;
    lsm_state st;
    state_make(&st, &level, NULL, NULL, NULL, 0, l1, 2);
    lsm_pinned_sst pins[] = {{.sst_id = 2, .level = 1, .in_tree = 1}};
    lsm_iter_info it = {.iter_id = 1, .n_ssts = 1, .ssts = pins};
    st.iters = &it;
    st.n_iters = 1;
    char *svg = draw_svg(&st);
    assert_non_null(strstr(svg, "keys &lt;a&amp;b&gt; .. z by leading bytes"));
    assert_null(strstr(svg, "<a&b>"));
    assert_non_null(strstr(svg, "<rect class=\"sst\" data-id=\"1\""));
    assert_non_null(strstr(
        svg, "<rect class=\"sst pinned\" data-id=\"2\" data-row=\"L1\""));
    assert_non_null(strstr(svg, "stroke-dasharray=\"6 3\"/>"));
    assert_non_null(strstr(svg, "</svg>\n"));
    char *again = draw_svg(&st); /* the same state, the same bytes */
    assert_string_equal(svg, again);
    free(again);
    free(svg);

    lsm_state empty;
    state_make(&empty, &level, NULL, NULL, NULL, 0, NULL, 0);
    cli_buf b;
    cli_buf_init(&b);
    assert_int_equal(cli_draw_svg(&b, &empty), -1);
    assert_int_equal(b.len, 0);
    cli_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal_keys_rank_in_key_order),
        cmocka_unit_test(test_decimal_keys_of_any_length),
        cmocka_unit_test(test_numbers_reach_as_far_as_a_row_counts),
        cmocka_unit_test(test_byte_keys_by_leading_bytes),
        cmocka_unit_test(test_widths_and_colour),
        cmocka_unit_test(test_empty_tree),
        cmocka_unit_test(test_svg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
