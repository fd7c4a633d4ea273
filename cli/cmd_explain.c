/*
 * cmd_explain.c: explain get KEY and explain scan [BEGIN END].
 *
 * Each runs the read through the engine's explain variant (lsm_get_explain,
 * lsm_scan_explain + lsm_iter_trace), prints what get or scan prints, with
 * their own code (commands.h), then the trace: one numbered line per step,
 * in the order the read considered its sources, and a totals line whose
 * counts are the change the read made to the stats counters. Everything
 * printed comes from the trace, so inline mode replays it identically.
 *
 * explain is not a mini-lsm-cli command, so it never moves the epoch.
 */
#include "cmd_explain.h"

#include <inttypes.h>
#include <string.h>

/* "memtable 4", "immutable memtable 3", "L0 2.sst", "L1 7.sst" or, in a
 * tier, "tier 5 7.sst". */
static void show_step_source(cli_buf *out, const lsm_read_step *st)
{
    switch (st->source) {
    case LSM_SOURCE_MEMTABLE:
        cli_buf_printf(out, "memtable %" PRIu64, st->id);
        return;
    case LSM_SOURCE_IMMUTABLE:
        cli_buf_printf(out, "immutable memtable %" PRIu64, st->id);
        return;
    case LSM_SOURCE_SST:
        if (st->level < 0)
            cli_buf_printf(out, "tier %" PRIu64 " %" PRIu64 ".sst", st->tier_id,
                           st->id);
        else
            cli_buf_printf(out, "L%d %" PRIu64 ".sst", st->level, st->id);
        return;
    }
    cli_buf_printf(out, "source %" PRIu64, st->id);
}

/* What a get found in a source it searched: "hit seq 12", "tombstone seq
 * 12" or "miss", a miss behind a bloom filter's "maybe" being a false
 * positive. */
static void show_get_found(cli_buf *out, const lsm_read_step *st)
{
    if (st->outcome == LSM_READ_HIT)
        cli_buf_printf(out, "hit seq %" PRIu64, st->seq);
    else if (st->outcome == LSM_READ_TOMBSTONE)
        cli_buf_printf(out, "tombstone seq %" PRIu64, st->seq);
    else if (st->bloom_checked)
        cli_buf_printf(out, "miss (a bloom filter false positive)");
    else
        cli_buf_printf(out, "miss");
}

/* ", 1 key compared" or ", 3 keys compared". */
static void show_keys_compared(cli_buf *out, uint64_t n)
{
    cli_buf_printf(out, ", %" PRIu64 " key%s compared", n, n == 1 ? "" : "s");
}

/* One step of a get, after "N. SOURCE: ". */
static void show_get_step(cli_buf *out, const lsm_read_step *st)
{
    if (st->outcome == LSM_READ_SKIPPED_RANGE) {
        cli_buf_printf(out, "skipped: key range excludes the key");
        return;
    }
    if (st->outcome == LSM_READ_SKIPPED_BLOOM) {
        cli_buf_printf(out, "skipped: bloom filter says absent");
        return;
    }
    if (st->source != LSM_SOURCE_SST) {
        show_get_found(out, st);
        show_keys_compared(out, st->entries_examined);
        return;
    }
    if (!st->block_searched) {
        cli_buf_printf(out, "no block holds the key: ");
        show_get_found(out, st);
        return;
    }
    cli_buf_printf(out, "block %" PRIu64 " (%s): ", st->block_index,
                   st->block_cached ? "from cache" : "read from file");
    show_get_found(out, st);
    show_keys_compared(out, st->entries_examined);
}

/* One step of a scan, after "N. SOURCE: ". */
static void show_scan_step(cli_buf *out, const lsm_read_step *st)
{
    if (st->outcome == LSM_READ_SKIPPED_RANGE) {
        cli_buf_printf(out, "skipped: key range outside the scan");
        return;
    }
    if (st->outcome == LSM_READ_SKIPPED_PREFIX) {
        cli_buf_printf(out, "skipped: prefix filter says no key has the "
                            "prefix");
        return;
    }
    if (st->source != LSM_SOURCE_SST) {
        cli_buf_printf(out, "opened: %" PRIu64 " entr%s read",
                       st->entries_examined,
                       st->entries_examined == 1 ? "y" : "ies");
        return;
    }
    if (st->prefix_checked)
        cli_buf_printf(out, "prefix filter says maybe, ");
    /* A level opens its SSTs one at a time, as the scan gets to them. */
    if (st->entries_examined == 0 && st->blocks_read == 0 &&
        st->cache_hits == 0) {
        cli_buf_printf(out, "in range, not reached");
        return;
    }
    cli_buf_printf(out,
                   "opened: %" PRIu64 " entr%s read, %" PRIu64
                   " block%s read, %" PRIu64 " from cache",
                   st->entries_examined,
                   st->entries_examined == 1 ? "y" : "ies", st->blocks_read,
                   st->blocks_read == 1 ? "" : "s", st->cache_hits);
}

/* The get's result: the step that decided it, or none. */
static void show_get_result(cli_buf *out, const lsm_read_trace *t)
{
    const lsm_read_step *last = t->n_steps ? &t->steps[t->n_steps - 1] : NULL;

    if (t->range_tombstone_seq) {
        /* The step searched last holds the tombstone, or a newer source
         * did: either way the versions found are older than it. */
        cli_buf_printf(out,
                       "result: not found, deleted by range tombstone seq "
                       "%" PRIu64,
                       t->range_tombstone_seq);
    } else if (last && last->outcome == LSM_READ_HIT) {
        cli_buf_printf(out, "result: seq %" PRIu64 " from ", last->seq);
        show_step_source(out, last);
    } else if (last && last->outcome == LSM_READ_TOMBSTONE) {
        cli_buf_printf(out, "result: not found, deleted by seq %" PRIu64 " in ",
                       last->seq);
        show_step_source(out, last);
    } else {
        cli_buf_printf(out, "result: not found in any source");
    }
    cli_buf_append(out, "\n", 1);
}

void cli_show_read_trace(cli_buf *out, const lsm_read_trace *t, int scan,
                         int prefix)
{
    size_t i;

    for (i = 0; i < t->n_steps; i++) {
        cli_buf_printf(out, "%zu. ", i + 1);
        show_step_source(out, &t->steps[i]);
        cli_buf_append(out, ": ", 2);
        if (scan)
            show_scan_step(out, &t->steps[i]);
        else
            show_get_step(out, &t->steps[i]);
        cli_buf_append(out, "\n", 1);
    }
    if (!scan) {
        show_get_result(out, t);
        cli_buf_printf(out,
                       "totals: %" PRIu64 " structures visited, %" PRIu64
                       " bloom checks, %" PRIu64 " bloom negatives, %" PRIu64
                       " memtable bloom negatives, %" PRIu64
                       " sst probes, %" PRIu64 " block reads, %" PRIu64
                       " block cache hits\n",
                       t->structures_visited, t->bloom_checks,
                       t->bloom_negatives, t->memtable_bloom_negatives,
                       t->sst_probes, t->block_reads, t->block_cache_hits);
        return;
    }
    cli_buf_printf(out,
                   "totals: %" PRIu64 " structures visited, %" PRIu64
                   " keys returned, %" PRIu64 " older versions skipped, "
                   "%" PRIu64 " tombstones skipped, %" PRIu64
                   " newer versions skipped, %" PRIu64 " block reads, "
                   "%" PRIu64 " block cache hits\n",
                   t->structures_visited, t->entries_returned,
                   t->versions_skipped, t->tombstones_skipped, t->newer_skipped,
                   t->block_reads, t->block_cache_hits);
    /* Only when a range delete hid something: older transcripts keep
     * their lines. */
    if (t->range_deleted_skipped)
        cli_buf_printf(out,
                       "range tombstones hid %" PRIu64 " key%s (their "
                       "versions below them skipped)\n",
                       t->range_deleted_skipped,
                       t->range_deleted_skipped == 1 ? "" : "s");
    if (prefix)
        cli_buf_printf(
            out, "prefix filters: %" PRIu64 " checked, %" PRIu64 " skipped\n",
            t->prefix_checks, t->prefix_skips);
}

/* Prints out (built by a handler) in one piece, so engine event lines
 * never split it; counts a failure if it could not be built. */
static int explain_print(cli_session *s, cli_buf *out)
{
    if (cli_out_buf(out) == 0)
        return LSM_OK;
    return cli_fail(s, "explain: out of memory");
}

static int explain_get(cli_session *s, const cli_arg *key)
{
    lsm_read_trace *t = NULL;
    void *value = NULL;
    size_t n_value = 0;
    cli_buf out;
    int rc;

    rc = lsm_get_explain(s->db, key->bytes, key->n_bytes, &value, &n_value, &t);
    if (rc != LSM_OK && rc != LSM_NOTFOUND)
        return cli_fail_engine(s, "explain get", rc);
    cli_buf_init(&out);
    cli_append_get_reply(&out, key, rc == LSM_OK, value, n_value);
    cli_show_read_trace(&out, t, 0, 0);
    lsm_free(value);
    lsm_read_trace_free(t);
    rc = explain_print(s, &out);
    cli_buf_free(&out);
    return rc;
}

/* explain scan [BEGIN END] (range: NULL or the two), or explain scan
 * --prefix P (prefix not NULL). */
static int explain_scan(cli_session *s, const cli_arg *range,
                        const cli_arg *prefix)
{
    lsm_read_trace *t = NULL;
    lsm_bound lo, hi;
    lsm_iter *it = NULL;
    cli_buf out;
    int rc;

    if (prefix)
        rc =
            lsm_scan_prefix_explain(s->db, prefix->bytes, prefix->n_bytes, &it);
    else if (cli_scan_bounds(s, "explain scan", range, &lo, &hi) != LSM_OK)
        return LSM_EINVAL;
    else
        rc = lsm_scan_explain(s->db, &lo, &hi, &it);
    if (rc != LSM_OK)
        return cli_fail_engine(s, "explain scan", rc);
    rc = cli_scan_print(s, "explain scan", it);
    if (rc == LSM_OK) {
        rc = lsm_iter_trace(it, &t);
        if (rc != LSM_OK)
            cli_fail_engine(s, "explain scan", rc);
    }
    lsm_iter_close(it);
    if (rc != LSM_OK)
        return rc;
    cli_buf_init(&out);
    cli_show_read_trace(&out, t, 1, prefix != NULL);
    lsm_read_trace_free(t);
    rc = explain_print(s, &out);
    cli_buf_free(&out);
    return rc;
}

/* "explain: foo is neither get nor scan: ..." (foo in b"..." form unless
 * plain, so no control byte reaches the terminal). */
static int explain_fail_what(cli_session *s, const cli_arg *what)
{
    cli_buf name;
    int rc;

    cli_buf_init(&name);
    cli_buf_append_key(&name, what->bytes, what->n_bytes);
    rc = cli_fail(s,
                  "explain: %s is neither get nor scan: explain get KEY or "
                  "explain scan [BEGIN END]",
                  cli_buf_failed(&name) ? "?" : cli_buf_str(&name));
    cli_buf_free(&name);
    return rc;
}

int cli_explain(cli_session *s, const cli_argv *a)
{
    size_t n_rest = a->n_args > 2 ? a->n_args - 2 : 0;

    if (a->n_args >= 2 && cli_arg_is_word(&a->args[1], "get")) {
        if (n_rest != 1)
            return cli_fail(s,
                            "explain get needs 1 argument: explain get KEY "
                            "(got %zu)",
                            n_rest);
        return explain_get(s, &a->args[2]);
    }
    if (a->n_args >= 2 && cli_arg_is_word(&a->args[1], "scan")) {
        if (n_rest == 2 && cli_arg_is_word(&a->args[2], "--prefix"))
            return explain_scan(s, NULL, &a->args[3]);
        if (n_rest != 0 && n_rest != 2)
            return cli_fail(s,
                            "explain scan needs 0 or 2 arguments: explain "
                            "scan [BEGIN END] (got %zu)",
                            n_rest);
        return explain_scan(s, n_rest == 2 ? &a->args[2] : NULL, NULL);
    }
    if (a->n_args < 2)
        return cli_fail(s, "explain needs what to explain: explain get KEY "
                           "or explain scan [BEGIN END]");
    return explain_fail_what(s, &a->args[1]);
}
