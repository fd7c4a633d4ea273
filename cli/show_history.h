/*
 * show_history.h: the text of lsm-cli's history and levels commands: the
 * versions of one key with the provenance of their SSTs (from the
 * manifest's records), and the per-level stats table.
 *
 * As show.h's functions, each appends finished lines to a cli_buf and
 * never prints, calls the engine or keeps state; output depends only on
 * its arguments, so transcripts replay identically.
 *
 * Thread safety: pure functions over caller-owned data.
 */
#ifndef CLI_SHOW_HISTORY_H
#define CLI_SHOW_HISTORY_H

#include "format.h"
#include "show_txn.h"

#include "lsm.h"

#include <stddef.h>
#include <stdint.h>

/* Appends history's lines for key (n versions, newest first, as
 * lsm_key_history gives them), with the read points and watermark of rv
 * (NULL: none live):
 *   history of 7: 3 versions, newest first (watermark seq 12)
 *     seq 45  memtable 3  value b"value7@2"  <- get returns this
 *     seq 30  L0 2.sst    tombstone (shadowed; kept: above the watermark)
 *     seq 7   L1 5.sst    value b"value7@0" (shadowed; kept: s1 reads it)
 * or "history of 7: no version stored". The first version is what get
 * answers: its value ("<- get returns this"), or, for a tombstone, "<- get
 * says not found"; every later one is shadowed, and says what compaction
 * may do with it (cli_show_version_fate). The header names the watermark
 * only when there is one. Columns are aligned. */
void cli_show_history(cli_buf *b, const void *key, size_t nkey,
                      const lsm_key_version *v, size_t n,
                      const cli_read_view *rv);

/* Appends one line per distinct SST among the versions, in their order:
 *   2.sst: flushed from memtable 2
 *   5.sst: compacted from L0 [2, 1] + L1 [3]
 *   13.sst: compacted from tier 11 [11] + tier 7 [7, 8]
 * found by replaying the manifest's records: a flush made an L0 SST (a new
 * tier when tiered, the database's strategy: the records do not say, and a
 * manifest opens only with the strategy that wrote it); a compaction's
 * removed SSTs are grouped by where each was just before it (L0, a level,
 * or a tier, named by its first SST as dump names it). An SST no record
 * made prints "N.sst: not in the manifest". Returns 0, or -1 when out of
 * memory (nothing appended). */
int cli_show_provenance(cli_buf *b, const lsm_key_version *v, size_t n,
                        const lsm_manifest_record *records, size_t n_records,
                        int tiered);

/* Appends the levels table: a header row, then one row per level (L0
 * first, except with tiered compaction) or tier (newest first):
 *   level  files     bytes   target  score  comp    read up  read low
 *   written  w-amp
 * bytes in B, KiB, MiB or GiB (one decimal above B); target and score for
 * leveled compaction only ("-" otherwise, and for a target of 0);
 * w-amp "-" with nothing to divide by. Then, for each level or tier a
 * compaction wrote into, "L3 last compaction: REASON" (continuation
 * lines of the reason indented by 4). Returns 0, or -1 when out of
 * memory (nothing appended). */
int cli_show_levels(cli_buf *b, const lsm_state *st);

/* "41 B", "40.2 KiB", "1.5 MiB", "2.0 GiB" into out. */
#define CLI_BYTES_CHARS 32
void cli_fmt_bytes(uint64_t bytes, char out[CLI_BYTES_CHARS]);

#endif /* CLI_SHOW_HISTORY_H */
