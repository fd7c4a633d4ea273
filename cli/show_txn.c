/*
 * show_txn.c: the text of read points, the watermark, version fates and
 * commit conflicts (see show_txn.h for the formats).
 *
 * Everything here appends to a caller's cli_buf; an allocation failure is
 * sticky in the buffer and found by the caller when it writes it.
 */
#include "show_txn.h"

#include <inttypes.h>

void cli_read_view_init(cli_read_view *rv, const lsm_state *st,
                        const cli_read_point_name *names, size_t n_names)
{
    rv->points = st->read_points;
    rv->n_points = st->n_read_points;
    rv->has_watermark = st->has_watermark;
    rv->watermark = st->watermark;
    rv->names = names;
    rv->n_names = n_names;
}

const char *cli_isolation_name(lsm_isolation iso)
{
    return iso == LSM_ISOLATION_SERIALIZABLE ? "serializable"
                                             : "snapshot isolation";
}

static const char *name_of(const cli_read_point_name *names, size_t n,
                           uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (names[i].id == id)
            return names[i].name;
    return NULL;
}

/* "s1", or "snapshot 4" / "transaction 5" for one the shell did not name. */
static void append_point_name(cli_buf *b, const lsm_read_point *p,
                              const cli_read_point_name *names, size_t n)
{
    const char *name = name_of(names, n, p->id);

    if (name)
        cli_buf_printf(b, "%s", name);
    else
        cli_buf_printf(b, "%s %" PRIu64, p->is_txn ? "transaction" : "snapshot",
                       p->id);
}

void cli_show_read_points(cli_buf *b, const lsm_state *st,
                          const cli_read_point_name *names, size_t n_names)
{
    if (st->n_read_points == 0)
        return;
    cli_buf_printf(b,
                   "Read points: %zu (watermark seq %" PRIu64
                   "; newest seq %" PRIu64 ")\n",
                   st->n_read_points, st->watermark, st->visible_seq);
    for (size_t i = 0; i < st->n_read_points; i++) {
        const lsm_read_point *p = &st->read_points[i];
        cli_buf_append(b, "  ", 2);
        append_point_name(b, p, names, n_names);
        if (p->is_txn)
            cli_buf_printf(b, ": transaction (%s) at seq %" PRIu64 "\n",
                           cli_isolation_name(p->isolation), p->seq);
        else
            cli_buf_printf(b, ": snapshot at seq %" PRIu64 "\n", p->seq);
    }
}

void cli_show_version_fate(cli_buf *b, const cli_read_view *rv, uint64_t seq,
                           uint64_t newer_seq, int tombstone)
{
    size_t n_readers = 0;

    /* A read point at r sees the newest version with seq <= r: this one
     * exactly when seq <= r < newer_seq. */
    for (size_t i = 0; i < rv->n_points; i++) {
        const lsm_read_point *p = &rv->points[i];
        if (p->seq < seq || p->seq >= newer_seq)
            continue;
        cli_buf_append(b, n_readers ? ", " : "kept: ", n_readers ? 2 : 6);
        append_point_name(b, p, rv->names, rv->n_names);
        n_readers++;
    }
    if (n_readers > 0) {
        cli_buf_printf(b, " read%s it", n_readers == 1 ? "s" : "");
        /* A tombstone at or below the watermark hides nothing a reader
         * needs once everything older is gone: a compaction into the
         * bottom level drops it, and its readers still find no value. */
        if (tombstone && rv->has_watermark && seq <= rv->watermark)
            cli_buf_printf(b, " until a compaction into the bottom level");
    } else if (rv->has_watermark && seq > rv->watermark) {
        cli_buf_printf(b, "kept: above the watermark");
    } else {
        cli_buf_printf(b, "may be dropped");
    }
}

void cli_show_conflict(cli_buf *b, const lsm_commit_info *info)
{
    switch (info->conflict) {
    case LSM_CONFLICT_WRITE:
        cli_buf_printf(b, "wrote ");
        cli_buf_append_key(b, info->key, info->nkey);
        cli_buf_printf(b,
                       ", also written by a transaction committed at seq "
                       "%" PRIu64 " (first committer wins)",
                       info->conflict_seq);
        return;
    case LSM_CONFLICT_READ:
        cli_buf_printf(b, "read ");
        cli_buf_append_key(b, info->key, info->nkey);
        cli_buf_printf(b, " written by a transaction committed at seq %" PRIu64,
                       info->conflict_seq);
        return;
    case LSM_CONFLICT_RANGE:
        cli_buf_printf(b, "scanned a range where ");
        cli_buf_append_key(b, info->key, info->nkey);
        cli_buf_printf(b,
                       " was written by a transaction committed at seq "
                       "%" PRIu64 " (a phantom)",
                       info->conflict_seq);
        return;
    case LSM_CONFLICT_NONE:
    default:
        cli_buf_printf(b, "a conflict the engine did not name");
        return;
    }
}
