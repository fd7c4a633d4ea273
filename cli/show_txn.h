/*
 * show_txn.h: the text of lsm-cli's week 3 reports: the live read points
 * (snapshots and open transactions) and the watermark in dump, what
 * compaction may do with each stored version of a key (history), and why
 * a commit was refused.
 *
 * As show.h's functions, each appends finished text to a cli_buf and never
 * prints, calls the engine or keeps state, so the exact words can be
 * tested on hand-made states.
 *
 * The garbage-collection rule the words follow is the engine's (lsm.h,
 * "Snapshots"): the watermark is the oldest live read point; flushes and
 * compactions keep every version above it plus the newest at or below it,
 * and may drop the older ones; with no read point there is no watermark
 * and every shadowed version may be dropped.
 *
 * Thread safety: pure functions over caller-owned data.
 */
#ifndef CLI_SHOW_TXN_H
#define CLI_SHOW_TXN_H

#include "format.h"

#include "lsm.h"

#include <stddef.h>
#include <stdint.h>

/* The shell's name for a snapshot or transaction it holds (snapshot NAME,
 * begin NAME): id is lsm_snapshot_id or lsm_txn_id (one numbering). */
typedef struct cli_read_point_name {
    uint64_t id;
    const char *name;
} cli_read_point_name;

/* What a report needs to know about the read points: the state's
 * (oldest first) and the shell's names for them. */
typedef struct cli_read_view {
    const lsm_read_point *points;
    size_t n_points;
    int has_watermark;
    uint64_t watermark;
    const cli_read_point_name *names; /* may be NULL */
    size_t n_names;
} cli_read_view;

/* Fills *rv from st (and names), borrowing their arrays. */
void cli_read_view_init(cli_read_view *rv, const lsm_state *st,
                        const cli_read_point_name *names, size_t n_names);

/* Appends dump's read-point lines, only when st has live read points:
 *   Read points: 2 (watermark seq 12; newest seq 30)
 *     s1: snapshot at seq 12
 *     t1: transaction (serializable) at seq 20
 * A read point the shell has no name for shows as "snapshot 4" or
 * "transaction 5" (its id). */
void cli_show_read_points(cli_buf *b, const lsm_state *st,
                          const cli_read_point_name *names, size_t n_names);

/* Appends what compaction may do with a shadowed version of seq, whose
 * next newer version has seq newer_seq:
 *   "kept: s1 reads it", "kept: s1, t2 read it"   read points with
 *                       seq <= point < newer_seq read this version
 *   "kept: s1 reads it until a compaction into the bottom level"
 *                       a tombstone at or below the watermark: such a
 *                       compaction drops it with everything older, and
 *                       the readers still find nothing
 *   "kept: above the watermark"   no read point reads it, but it lies
 *                       above the watermark, and compaction keeps those
 *   "may be dropped"              no read point needs it: the next flush
 *                       or compaction that merges it with a newer version
 *                       drops it */
void cli_show_version_fate(cli_buf *b, const cli_read_view *rv, uint64_t seq,
                           uint64_t newer_seq, int tombstone);

/* Appends why a commit was refused, after "T aborted: ":
 *   WRITE  wrote KEY, also written by a transaction committed at seq N
 *          (first committer wins)
 *   READ   read KEY written by a transaction committed at seq N
 *   RANGE  scanned a range where KEY was written by a transaction
 *          committed at seq N (a phantom)
 * KEY as a reply shows keys (as typed if plain, else b"..."). */
void cli_show_conflict(cli_buf *b, const lsm_commit_info *info);

/* "snapshot isolation" or "serializable". */
const char *cli_isolation_name(lsm_isolation iso);

#endif /* CLI_SHOW_TXN_H */
