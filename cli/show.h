/*
 * show.h: how lsm-cli renders what the engine reports: event lines, the
 * dump of an lsm_state, the stats block and the manifest's records.
 *
 * Each function appends finished lines (each ending in '\n') to a cli_buf
 * and never prints, calls the engine or keeps state, so the exact text of
 * every report can be tested on hand-made states and events, and the
 * caller decides when to write it (under the output lock, see format.h).
 *
 * The mini-lsm lines are kept byte for byte: the level lines of dump
 * ("L0 (2): [1, 0]", only when L0 is not empty, then "L1 (0): []" for
 * every level), and "compaction finished: ..." after a compaction. With
 * tiered compaction the state's levels are tiers, newest first, and each
 * prints as mini-lsm's dump_structure prints a tier: "L<tier id> (n): [..]".
 *
 * Thread safety: pure functions over caller-owned data; the event one runs
 * on whichever thread reported the event.
 */
#ifndef CLI_SHOW_H
#define CLI_SHOW_H

#include "format.h"

#include "lsm.h"

#include <stdint.h>

/* Appends "[1, 0, 2]": n ids in the order given. */
void cli_show_ids(cli_buf *b, const uint64_t *ids, size_t n);

/* One indented line per range tombstone: "    range tombstone [lo, hi)
 * seq N" (dump -v under a memtable or SST, and sst FILE). */
void cli_show_range_tombstones(cli_buf *b, const lsm_range_tombstone *r,
                               size_t n);

/* Appends the stdout lines of an event:
 *   MEMTABLE_FROZEN   froze memtable 0 (100 keys, 1084 B); new memtable 1
 *   FLUSH_END         flushed 0.sst with size=1816
 *   COMPACTION_BEGIN  compaction triggered: <reason>
 *                     compacting [1, 0] into L1   (or: into a new tier)
 *   COMPACTION_END    compaction finished: 2 files removed, 1 files
 *                     added, output=[3]
 *   RECOVERED         N SSTs opened, then (wal_enabled) N WALs recovered
 *   IO                one step of the write-path trace (trace.h)
 *   SST_DELETED       deleted 3.sst, 4.sst (compacted away)
 * Appends nothing for the others: FLUSH_BEGIN says nothing FLUSH_END does
 * not, warnings and background errors go to stderr (the caller's job),
 * and an unknown type is skipped. */
void cli_show_event(cli_buf *b, const lsm_event *ev, int wal_enabled);

/* The shell's name for an iterator it opened (iter open NAME). */
typedef struct cli_iter_name {
    uint64_t iter_id; /* lsm_iter_id */
    const char *name;
} cli_iter_name;

/* Appends dump's lines (without "dump success"): the memtables, L0 when
 * not empty, every level or tier, the open iterators; with verbose, each
 * memtable's and SST's details under its line. Each open iterator gets a
 * line with its active count and what it pins,
 *   it1: 3 active; pins memtable 4, L0 [7, 6], L1 [3, 4]
 * named by names (n_names of them; may be NULL) or else "iterator <id>";
 * then, when compaction removed SSTs iterators still read,
 *   Pinned by iterators, no longer in the tree: [3, 4] */
void cli_show_dump(cli_buf *b, const lsm_state *st, int verbose,
                   const cli_iter_name *names, size_t n_names);

/* Appends stats' lines: the counters, the write stalls, the transaction
 * and version counters (txn commits, txn aborts, txn conflicts write /
 * read / range, versions dropped, versions kept), then the
 * amplification figures: ratios with two decimals, or "n/a" when there is
 * none to give (write: nothing written by users yet; space: no SST).
 * Each counter's line is "name: TOTAL (+CHANGE)", CHANGE being TOTAL
 * minus base's value of it (the counters at the previous stats or stats
 * reset; NULL: zero, so CHANGE is TOTAL); stall time's both end in " us".
 * The amplification figures describe the tree now: they have no change. */
void cli_show_stats(cli_buf *b, const lsm_state *st, const lsm_counters *base);

/* Appends one manifest record's line (see the manifest command's help).
 * tiered: the database uses tiered compaction, so a flush made a new tier
 * and a compaction at level 0 made one (the record has no flag of its own
 * for that; a manifest opens only with the strategy that wrote it). */
void cli_show_manifest_record(cli_buf *b, const lsm_manifest_record *r,
                              int tiered);

#endif /* CLI_SHOW_H */
