/*
 * tree_notes.h: what the shell saw of the tree's history that the
 * MANIFEST does not keep, for draw --html.
 *
 * The MANIFEST records each flush and compaction (which SSTs went, which
 * came, their sizes and key ranges) but neither how many entries an SST
 * held nor why a compaction ran. The engine says both in its events, so
 * the shell writes them down as they happen:
 *   - entries: from each flush's FLUSH_END, and, at each COMPACTION_BEGIN
 *     whose inputs it has no count for (compaction outputs, and SSTs
 *     older than this session), from a state snapshot taken then, while
 *     the inputs are still in the tree;
 *   - reasons: each compaction's reason (from COMPACTION_BEGIN, and again
 *     from COMPACTION_END, which wins), keyed by its smallest input id,
 *     its output level (0: a new tier) and whether it was a trivial move.
 *     No two compactions share all three: an SST is rewritten at most once,
 *     and moved to each level at most once (a trivial move keeps its ids,
 *     so the id alone would not do: 0 moved to L4 and later compacted
 *     into L4 share it).
 * What happened before this shell opened the database is not known here;
 * the page says so.
 *
 * Memory: a few dozen bytes per flush and compaction of the session.
 *
 * Thread safety: the event callback records from engine threads
 * (--background) while the main thread looks things up; one mutex guards
 * everything.
 */
#ifndef CLI_TREE_NOTES_H
#define CLI_TREE_NOTES_H

#include "format.h"

#include "lsm.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cli_sst_entries {
    uint64_t sst_id;
    uint64_t entries;
} cli_sst_entries;

/* Which compaction a reason is for (see above). */
typedef struct cli_compaction_key {
    uint64_t first_input; /* the smallest input id */
    int level;            /* the output level; 0 for a new tier */
    int trivial_move;
} cli_compaction_key;

typedef struct cli_compaction_reason {
    cli_compaction_key key;
    char *reason; /* owned */
} cli_compaction_reason;

typedef struct cli_tree_notes {
    /* The database states are taken from: set once lsm_open returned and
     * cleared before lsm_close (a state is never taken of a database
     * being opened or closed). Atomic: the main thread sets it while
     * engine threads may already send events. */
    _Atomic(lsm_db *) db;
    pthread_mutex_t mu;
    cli_sst_entries *entries;
    size_t n_entries, cap_entries;
    cli_compaction_reason *reasons;
    size_t n_reasons, cap_reasons;
} cli_tree_notes;

void cli_tree_notes_init(cli_tree_notes *n);
void cli_tree_notes_free(cli_tree_notes *n);

/* Sets (or, with NULL, clears) the database states are taken from. */
void cli_tree_notes_set_db(cli_tree_notes *n, lsm_db *db);

/* Records what ev says (called from the event callback, on whichever
 * thread sent it). While no database is set, no state is taken. Out of
 * memory loses the note, never the event. */
void cli_tree_notes_event(cli_tree_notes *n, const lsm_event *ev);

/* Records the entries of every SST of st (the live ones, at draw time). */
void cli_tree_notes_take_state(cli_tree_notes *n, const lsm_state *st);

/* How many entries SST id held, when known. */
bool cli_tree_notes_entries(cli_tree_notes *n, uint64_t id, uint64_t *entries);

/* Appends why the compaction key names ran; false, nothing appended,
 * when it was not seen. */
bool cli_tree_notes_reason(cli_tree_notes *n, const cli_compaction_key *key,
                           cli_buf *out);

#endif
