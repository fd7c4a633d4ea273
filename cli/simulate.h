/*
 * simulate.h: lsm-cli's `simulate` command, mini-lsm's compaction simulator
 * (mini-lsm-starter/src/bin/compaction-simulator.rs at commit c78835c)
 * driven by the engine's own controllers through lsm.h's policy API.
 *
 *   simulate simple  [--dump-real-id] [--size-only] [--iterations N]
 *                    [--level0-file-num-compaction-trigger N]
 *                    [--max-levels N] [--size-ratio-percent N]
 *   simulate tiered  [--dump-real-id] [--size-only] [--iterations N]
 *                    [--num-tiers N] [--max-size-amplification-percent N]
 *                    [--size-ratio N] [--min-merge-width N]
 *                    [--max-merge-width N]
 *   simulate leveled [--dump-real-id] [--size-only] [--iterations N]
 *                    [--level0-file-num-compaction-trigger N]
 *                    [--level-size-multiplier N] [--max-levels N]
 *                    [--base-level-size-mb N] [--sst-size-mb N] [--seed N]
 *
 * The defaults are the reference simulator's. Each iteration flushes one
 * SST, prints the tree, then runs the strategy's tasks until none is due,
 * printing each task and the tree after it, then the statistics; the text
 * is the reference's line for line (its tiered mode prints the "---
 * Compaction Task ---" header twice before the first task; here it is
 * printed once). Leveled key ranges come from this file's own seeded
 * generator: the same seed gives the same run, but not the reference's
 * ranges, which depend on Rust's RNG. The database is never touched.
 */
#ifndef CLI_SIMULATE_H
#define CLI_SIMULATE_H

#include "commands.h"
#include "parse.h"

/* Runs `simulate` with the line's arguments (a->args[0] is "simulate").
 * Returns LSM_OK, or the code of cli_fail for a bad option. */
int cli_simulate(cli_session *s, const cli_argv *a);

#endif
