/*
 * test_cli_draw_html.c: unit tests of draw --html's history (cli/
 * draw_html.c) on hand-made MANIFEST records: the tree after each step as
 * the engine replays it (a flush first in L0 or a new first tier, a
 * compaction's outputs in key order in their level, or one tier where the
 * newest merged tier was, a trivial move), what each step removed and
 * added, the reasons and entry counts the shell's notes give (and "not
 * known" without them), keys that cannot end the page's script, the same
 * bytes for the same input, and history that does not start from a
 * snapshot. The page in a browser is tests/cli/draw_html.sh's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "draw.h"
#include "format.h"
#include "tree_notes.h"

#include "lsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lsm_manifest_sst msst(uint64_t id, int level, uint64_t tier,
                             const char *first, const char *last)
{
    return (lsm_manifest_sst){.sst_id = id,
                              .level = level,
                              .tier_id = tier,
                              .file_size = 1000 + id,
                              .first_key = first,
                              .nfirst_key = strlen(first),
                              .last_key = last,
                              .nlast_key = strlen(last)};
}

static lsm_manifest_record snapshot(lsm_manifest_sst *ssts, size_t n)
{
    return (lsm_manifest_record){
        .kind = LSM_MANIFEST_SNAPSHOT, .ssts = ssts, .n_ssts = n};
}

static lsm_manifest_record flush(lsm_manifest_sst *sst)
{
    return (lsm_manifest_record){.kind = LSM_MANIFEST_FLUSH,
                                 .id = sst->sst_id,
                                 .ssts = sst,
                                 .n_ssts = 1};
}

static lsm_manifest_record compaction(int level, uint64_t *removed,
                                      size_t n_removed, uint64_t *added,
                                      lsm_manifest_sst *ssts, size_t n_added)
{
    return (lsm_manifest_record){.kind = LSM_MANIFEST_COMPACTION,
                                 .level = level,
                                 .removed = removed,
                                 .n_removed = n_removed,
                                 .added = added,
                                 .n_added = n_added,
                                 .ssts = ssts,
                                 .n_ssts = n_added};
}

/* Sends the notes a flush's end (sst, entries). */
static void note_flush(cli_tree_notes *n, uint64_t sst, uint64_t entries)
{
    lsm_event ev = {
        .type = LSM_EVENT_FLUSH_END, .sst_id = sst, .num_entries = entries};
    cli_tree_notes_event(n, &ev);
}

/* Sends the notes a compaction's end: its inputs, output level (0: a new
 * tier), whether it was a trivial move, and its reason. */
static void note_compaction(cli_tree_notes *n, const uint64_t *inputs,
                            size_t n_inputs, int level, int trivial_move,
                            const char *reason)
{
    lsm_event ev = {.type = LSM_EVENT_COMPACTION_END,
                    .inputs = inputs,
                    .n_inputs = n_inputs,
                    .level = level,
                    .trivial_move = trivial_move,
                    .reason = reason};
    cli_tree_notes_event(n, &ev);
}

/* The page for recs, as a C string (the caller frees it). */
static char *page(const lsm_state *st, const lsm_manifest_record *recs,
                  size_t n, cli_tree_notes *notes)
{
    cli_buf b;
    cli_buf_init(&b);
    assert_int_equal(cli_draw_html(&b, st, recs, n, notes), 0);
    assert_false(cli_buf_failed(&b));
    char *s = malloc(b.len + 1);
    assert_non_null(s);
    memcpy(s, b.data, b.len);
    s[b.len] = '\0';
    cli_buf_free(&b);
    return s;
}

/* The k-th step's JSON (from its "kind" to the next step's). */
static char *step_json(const char *html, int k)
{
    const char *p = strstr(html, "\"steps\": [");
    assert_non_null(p);
    for (int i = 0; i <= k; i++) {
        p = strstr(p + 1, "{\"kind\"");
        assert_non_null(p);
    }
    const char *end = strstr(p + 1, "{\"kind\"");
    if (!end)
        end = strstr(p, "\n]");
    assert_non_null(end);
    char *s = strndup(p, (size_t)(end - p));
    assert_non_null(s);
    return s;
}

/* Step k is of kind, with removed_added and into (its JSON text). */
static void assert_step(const char *html, int k, const char *kind,
                        const char *removed_added, const char *into)
{
    char *s = step_json(html, k);
    char want[512];
    snprintf(want, sizeof want, "{\"kind\": \"%s\"", kind);
    if (strncmp(s, want, strlen(want)) != 0 || !strstr(s, removed_added) ||
        !strstr(s, into))
        fail_msg("step %d is\n%s\nwanted %s, %s and %s", k, s, want,
                 removed_added, into);
    free(s);
}

/* The tree after the first n records is rows: the shell's replay of them
 * ends there (last_rows). */
static void assert_rows_after(const lsm_state *st,
                              const lsm_manifest_record *recs, size_t n,
                              cli_tree_notes *notes, const char *rows)
{
    char *html = page(st, recs, n, notes);
    const char *got = strstr(html, "\"last_rows\": ");
    assert_non_null(got);
    if (strncmp(got + strlen("\"last_rows\": "), rows, strlen(rows)) != 0 ||
        got[strlen("\"last_rows\": ") + strlen(rows)] != '}')
        fail_msg("after %zu records:\n%s\nwanted %s", n, got, rows);
    free(html);
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* Leveled: a snapshot of L0 [3, 2] and L1 [0, 1]; flush 4; a compaction
 * of everything into L1 as [6, 5] (added out of key order); a trivial
 * move of 5 to L2. */
static void test_leveled_history(void **state)
{
    (void)state;
    lsm_manifest_sst snap[] = {msst(2, 0, 0, "a", "m"), msst(3, 0, 0, "c", "z"),
                               msst(0, 1, 0, "a", "h"),
                               msst(1, 1, 0, "i", "z")};
    lsm_manifest_sst f4 = msst(4, 0, 0, "b", "d");
    uint64_t removed1[] = {4, 3, 2, 0, 1}, added1[] = {6, 5};
    lsm_manifest_sst out1[] = {msst(6, 1, 0, "n", "z"),
                               msst(5, 1, 0, "a", "m")};
    uint64_t moved[] = {5};
    lsm_manifest_sst out2[] = {msst(5, 2, 0, "a", "m")};
    lsm_manifest_record recs[] = {
        snapshot(snap, 4),
        {.kind = LSM_MANIFEST_NEW_MEMTABLE, .id = 4},
        flush(&f4),
        compaction(1, removed1, 5, added1, out1, 2),
        compaction(2, moved, 1, moved, out2, 1),
        {.kind = LSM_MANIFEST_NEXT_ID, .id = 20},
    };
    recs[4].trivial_move = 1;

    /* The state now: L1 [6], L2 [5], with their entries. */
    lsm_sst_info l1[] = {{.sst_id = 6, .num_entries = 60}};
    lsm_sst_info l2[] = {{.sst_id = 5, .num_entries = 50}};
    lsm_level_info levels[] = {{.level = 1, .ssts = l1, .n_ssts = 1},
                               {.level = 2, .ssts = l2, .n_ssts = 1}};
    lsm_state st = {
        .compaction = LSM_COMPACTION_LEVELED, .levels = levels, .n_levels = 2};
    st.memtable.memtable_id = 7;
    st.memtable.num_keys = 3;

    cli_tree_notes notes;
    cli_tree_notes_init(&notes);
    note_flush(&notes, 4, 40);
    note_compaction(&notes, removed1, 5, 1, 0,
                    "compaction triggered at level 0 because L0 has 3 SSTs "
                    ">= 2");
    note_compaction(&notes, moved, 1, 2, 1, "L1 is too big");

    char *html = page(&st, recs, 6, &notes);
    assert_int_equal(count(html, "{\"kind\""), 4); /* no step for the rest */
    assert_non_null(strstr(html, "\"first_rows\": [{\"label\": \"L0 3\", "
                                 "\"ids\": [3]}, {\"label\": \"L0 2\", "
                                 "\"ids\": [2]}, {\"label\": \"L1\", "
                                 "\"ids\": [0, 1]}, {\"label\": \"L2\", "
                                 "\"ids\": []}]"));
    assert_step(html, 0, "snapshot", "\"removed\": [], \"added\": []",
                "\"into\": null");
    assert_step(html, 1, "flush", "\"removed\": [], \"added\": [4]",
                "\"into\": {\"row\": \"L0 4\", \"at\": 0}");
    assert_step(html, 2, "compaction",
                "\"removed\": [4, 3, 2, 0, 1], \"added\": [6, 5]",
                "\"into\": {\"row\": \"L1\"}");
    assert_step(html, 3, "compaction", "\"removed\": [5], \"added\": [5]",
                "\"into\": {\"row\": \"L2\"}");
    /* The tree after each step, as the shell replays it. */
    assert_rows_after(&st, recs, 3, &notes,
                      "[{\"label\": \"L0 4\", \"ids\": [4]}, "
                      "{\"label\": \"L0 3\", \"ids\": [3]}, "
                      "{\"label\": \"L0 2\", \"ids\": [2]}, "
                      "{\"label\": \"L1\", \"ids\": [0, 1]}, "
                      "{\"label\": \"L2\", \"ids\": []}]");
    assert_rows_after(&st, recs, 4, &notes,
                      "[{\"label\": \"L1\", \"ids\": [5, 6]}, "
                      "{\"label\": \"L2\", \"ids\": []}]");
    assert_rows_after(&st, recs, 6, &notes,
                      "[{\"label\": \"L1\", \"ids\": [6]}, "
                      "{\"label\": \"L2\", \"ids\": [5]}]");
    /* Titles and reasons, from the records and the notes. */
    assert_non_null(strstr(html, "flush of memtable 4 to 4.sst in L0"));
    assert_non_null(strstr(html, "compaction of [4, 3, 2, 0, 1] into L1, "
                                 "making [6, 5]"));
    assert_non_null(strstr(html, "because L0 has 3 SSTs \\u003e= 2"));
    assert_non_null(strstr(html, "trivial move of [5] to L2"));
    assert_non_null(strstr(html, "L1 is too big\\n(A trivial move"));
    /* Entries: the flush's from its event, the live SSTs' from the state,
     * the others not known. */
    assert_non_null(strstr(html, "\"4\": {\"size\": 1004, \"entries\": 40,"));
    assert_non_null(strstr(html, "\"5\": {\"size\": 1005, \"entries\": 50,"));
    assert_non_null(strstr(html, "\"6\": {\"size\": 1006, \"entries\": 60,"));
    assert_non_null(strstr(html, "\"0\": {\"size\": 1000, \"entries\": null,"));
    /* Places on one axis, a .. z by leading bytes. */
    assert_non_null(strstr(html, "\"first\": \"a\", \"last\": \"h\", "
                                 "\"x0\": 0.00000"));
    assert_non_null(strstr(html, "\"last\": \"z\", \"x0\": 0.52000, "
                                 "\"x1\": 1.00000, \"order\": 6}"));
    assert_non_null(strstr(html, "mem 7: 3 keys"));
    assert_non_null(strstr(html, "\"strategy\": \"leveled\""));
    assert_null(strstr(html, "@LSM_HISTORY@"));

    /* The same input, the same bytes. */
    char *again = page(&st, recs, 6, &notes);
    assert_string_equal(html, again);
    free(again);
    free(html);

    /* Without the shell's notes: reasons and entries are not known. */
    cli_tree_notes none;
    cli_tree_notes_init(&none);
    lsm_level_info no_ssts[] = {{.level = 1}, {.level = 2}};
    lsm_state empty = {
        .compaction = LSM_COMPACTION_LEVELED, .levels = no_ssts, .n_levels = 2};
    html = page(&empty, recs, 6, &none);
    assert_int_equal(count(html, "Why it ran is not known"), 2);
    assert_int_equal(count(html, "\"entries\": null"), 7);
    free(html);
    cli_tree_notes_free(&none);
    cli_tree_notes_free(&notes);
}

/* Tiered: tiers 10 [10] and 7 [7, 8]; flush 11 (a new first tier); 11 and
 * 10 merge into tier 12 where 11 was; then tier 7 becomes tier 14 (named, as
 * the engine names it, by the first SST added), after tier 12. */
static void test_tiered_history(void **state)
{
    (void)state;
    lsm_manifest_sst snap[] = {msst(10, -1, 10, "a", "z"),
                               msst(7, -1, 7, "a", "k"),
                               msst(8, -1, 7, "l", "z")};
    lsm_manifest_sst f11 = msst(11, -1, 11, "c", "f");
    uint64_t removed1[] = {11, 10}, added1[] = {12};
    lsm_manifest_sst out1[] = {msst(12, -1, 12, "a", "z")};
    uint64_t removed2[] = {7, 8}, added2[] = {14, 13};
    lsm_manifest_sst out2[] = {msst(14, -1, 14, "n", "z"),
                               msst(13, -1, 14, "a", "m")};
    lsm_manifest_record recs[] = {
        snapshot(snap, 3),
        flush(&f11),
        compaction(0, removed1, 2, added1, out1, 1),
        compaction(0, removed2, 2, added2, out2, 2),
    };
    recs[0].tiered = 1;
    lsm_state st = {.compaction = LSM_COMPACTION_TIERED};
    cli_tree_notes notes;
    cli_tree_notes_init(&notes);

    char *html = page(&st, recs, 4, &notes);
    assert_non_null(strstr(html, "\"first_rows\": [{\"label\": \"tier 10\", "
                                 "\"ids\": [10]}, {\"label\": \"tier 7\", "
                                 "\"ids\": [7, 8]}]"));
    assert_step(html, 0, "snapshot", "\"added\": []", "\"into\": null");
    assert_step(html, 1, "flush", "\"added\": [11]",
                "\"into\": {\"row\": \"tier 11\", \"at\": 0}");
    /* The merged tiers go; the new one takes the newest one's place. */
    assert_step(html, 2, "compaction", "\"removed\": [11, 10]",
                "\"into\": {\"row\": \"tier 12\", \"at\": 0}");
    assert_step(html, 3, "compaction", "\"added\": [14, 13]",
                "\"into\": {\"row\": \"tier 14\", \"at\": 1}");
    assert_rows_after(&st, recs, 2, &notes,
                      "[{\"label\": \"tier 11\", \"ids\": [11]}, "
                      "{\"label\": \"tier 10\", \"ids\": [10]}, "
                      "{\"label\": \"tier 7\", \"ids\": [7, 8]}]");
    assert_rows_after(&st, recs, 3, &notes,
                      "[{\"label\": \"tier 12\", \"ids\": [12]}, "
                      "{\"label\": \"tier 7\", \"ids\": [7, 8]}]");
    assert_rows_after(&st, recs, 4, &notes,
                      "[{\"label\": \"tier 12\", \"ids\": [12]}, "
                      "{\"label\": \"tier 14\", \"ids\": [13, 14]}]");
    assert_non_null(strstr(html, "flush of memtable 11 to a new tier"));
    assert_non_null(strstr(html, "compaction of [11, 10] into a new tier"));
    free(html);
    cli_tree_notes_free(&notes);
}

/* A flush recorded twice names an SST the tree has: no change (as the
 * engine's replay), and a step that says so. */
static void test_flush_recorded_twice(void **state)
{
    (void)state;
    lsm_manifest_sst f5 = msst(5, 0, 0, "a", "b");
    lsm_manifest_record recs[] = {snapshot(NULL, 0), flush(&f5), flush(&f5)};
    lsm_state st = {.compaction = LSM_COMPACTION_NONE};
    cli_tree_notes notes;
    cli_tree_notes_init(&notes);
    char *html = page(&st, recs, 3, &notes);
    assert_step(html, 2, "flush", "\"removed\": [], \"added\": []",
                "\"into\": null");
    assert_non_null(strstr(html, "flush of memtable 5 recorded again"));
    assert_non_null(strstr(html, "\"last_rows\": [{\"label\": \"L0 5\", "
                                 "\"ids\": [5]}]}"));
    free(html);
    cli_tree_notes_free(&notes);
}

/* A trivial move keeps its SSTs' ids: SST 0 moved to L2, then compacted
 * into L2, then moved on to L3 are three compactions with the smallest
 * input 0, each with its own reason. */
static void test_reasons_of_moves_and_compactions(void **state)
{
    (void)state;
    lsm_manifest_sst snap[] = {msst(0, 1, 0, "a", "b")};
    uint64_t moved[] = {0}, removed[] = {0, 3}, added[] = {4};
    lsm_manifest_sst at2[] = {msst(0, 2, 0, "a", "b")};
    lsm_manifest_sst out[] = {msst(4, 2, 0, "a", "z")};
    lsm_manifest_sst at3[] = {msst(4, 3, 0, "a", "z")};
    uint64_t moved4[] = {4};
    lsm_manifest_record recs[] = {snapshot(snap, 1),
                                  compaction(2, moved, 1, moved, at2, 1),
                                  compaction(2, removed, 2, added, out, 1),
                                  compaction(3, moved4, 1, moved4, at3, 1)};
    recs[1].trivial_move = 1;
    recs[3].trivial_move = 1;
    uint64_t in_move[] = {0}, in_compaction[] = {3, 0};
    lsm_event ev = {.type = LSM_EVENT_COMPACTION_BEGIN,
                    .inputs = in_move,
                    .n_inputs = 1,
                    .level = 2,
                    .trivial_move = 1,
                    .reason = "first: a move"};
    cli_tree_notes notes;
    cli_tree_notes_init(&notes);
    cli_tree_notes_event(&notes, &ev);
    ev.reason = "first, again at its END";
    ev.type = LSM_EVENT_COMPACTION_END;
    cli_tree_notes_event(&notes, &ev);
    ev = (lsm_event){.type = LSM_EVENT_COMPACTION_END,
                     .inputs = in_compaction,
                     .n_inputs = 2,
                     .level = 2,
                     .reason = "second: a rewrite"};
    cli_tree_notes_event(&notes, &ev);
    lsm_state st = {.compaction = LSM_COMPACTION_LEVELED};
    char *html = page(&st, recs, 4, &notes);
    char *s = step_json(html, 1);
    assert_non_null(strstr(s, "\"reason\": \"first, again at its END\\n"));
    free(s);
    s = step_json(html, 2);
    assert_non_null(strstr(s, "\"reason\": \"second: a rewrite\""));
    free(s);
    s = step_json(html, 3);
    assert_non_null(strstr(s, "\"reason\": \"Why it ran is not known"));
    assert_non_null(strstr(s, "(A trivial move"));
    free(s);
    free(html);
    cli_tree_notes_free(&notes);
}

/* Records that contradict the strategy (open refuses such a MANIFEST)
 * are left out, never read past the tree's rows. */
static void test_records_against_the_strategy(void **state)
{
    (void)state;
    lsm_manifest_sst snap[] = {msst(1, 3, 0, "a", "b"),
                               msst(2, -1, 2, "c", "d")};
    uint64_t removed[] = {1}, added[] = {5};
    lsm_manifest_sst out[] = {msst(5, 2, 0, "a", "b")};
    lsm_manifest_record recs[] = {snapshot(snap, 2),
                                  compaction(2, removed, 1, added, out, 1)};
    cli_tree_notes notes;
    cli_tree_notes_init(&notes);
    lsm_state tiered = {.compaction = LSM_COMPACTION_TIERED};
    char *html = page(&tiered, recs, 2, &notes);
    assert_non_null(strstr(html, "\"last_rows\": [{\"label\": \"tier 2\", "
                                 "\"ids\": [2]}]}"));
    free(html);
    lsm_state leveled = {.compaction = LSM_COMPACTION_LEVELED};
    html = page(&leveled, recs, 2, &notes);
    assert_non_null(strstr(html, "\"last_rows\": [{\"label\": \"L1\", "
                                 "\"ids\": []}, {\"label\": \"L2\", "
                                 "\"ids\": [5]}, {\"label\": \"L3\", "
                                 "\"ids\": []}]}"));
    free(html);
    cli_tree_notes_free(&notes);
}

/* Keys are data: none can close the script element or break the JSON. */
static void test_keys_cannot_end_the_script(void **state)
{
    (void)state;
    lsm_manifest_sst snap[] = {msst(1, 0, 0, "</script><b>", "\"\\&\x01")};
    lsm_manifest_record recs[] = {snapshot(snap, 1)};
    lsm_state st = {.compaction = LSM_COMPACTION_LEVELED};
    cli_tree_notes notes;
    cli_tree_notes_init(&notes);
    char *html = page(&st, recs, 1, &notes);
    const char *data = strstr(html, "id=\"lsm-history\">");
    assert_non_null(data);
    const char *end = strstr(data, "</script>");
    assert_non_null(end);
    /* The key is inside the JSON, escaped, before the element ends. */
    const char *key = strstr(data, "\\u003c/script\\u003e\\u003cb\\u003e");
    assert_non_null(key);
    assert_true(key < end);
    assert_null(strstr(data, "<b>"));
    /* The shell shows it as b"\"\\&\x01"; JSON escapes that again. */
    assert_non_null(
        strstr(data, "\"last\": \"b\\\"\\\\\\\"\\\\\\\\\\u0026\\\\x01\\\"\""));
    free(html);
    cli_tree_notes_free(&notes);
}

static void test_history_needs_a_snapshot(void **state)
{
    (void)state;
    lsm_manifest_sst f = msst(1, 0, 0, "a", "b");
    lsm_manifest_record recs[] = {flush(&f)};
    lsm_state st = {.compaction = LSM_COMPACTION_LEVELED};
    cli_tree_notes notes;
    cli_tree_notes_init(&notes);
    cli_buf b;
    cli_buf_init(&b);
    assert_int_equal(cli_draw_html(&b, &st, recs, 1, &notes), -1);
    assert_int_equal(b.len, 0);
    assert_int_equal(cli_draw_html(&b, &st, recs, 0, &notes), -1);
    assert_int_equal(b.len, 0);
    cli_buf_free(&b);
    cli_tree_notes_free(&notes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leveled_history),
        cmocka_unit_test(test_tiered_history),
        cmocka_unit_test(test_flush_recorded_twice),
        cmocka_unit_test(test_reasons_of_moves_and_compactions),
        cmocka_unit_test(test_records_against_the_strategy),
        cmocka_unit_test(test_keys_cannot_end_the_script),
        cmocka_unit_test(test_history_needs_a_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
