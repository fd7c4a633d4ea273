/*
 * events.h: printing engine event lines in the order they happened.
 *
 * With --background the engine flushes on one thread and compacts on
 * another. The flush thread makes a new SST visible before it reports
 * "flushed N.sst", so the compaction thread can pick N up and report
 * "compaction triggered ..." first: the lines would say that a compaction
 * merged an SST that had not been flushed yet. This module puts them back
 * in causal order: a compaction's lines (and every compaction line after
 * them) wait until each flush that produced one of its inputs has printed
 * its line. A flush that began (LSM_EVENT_FLUSH_BEGIN) always ends, with
 * its line, before or soon after any compaction can see its SST, so
 * nothing waits for long. A thread's trace lines (LSM_EVENT_IO) wait
 * behind its own waiting lines, so a compaction's steps stay after its
 * "compacting" line. Inline mode runs everything on one thread in causal
 * order, and nothing ever waits.
 *
 * Thread safety: every function may be called from any thread; one mutex
 * orders the calls (it is taken before the output lock, never after).
 */
#ifndef CLI_EVENTS_H
#define CLI_EVENTS_H

#include "format.h"

#include "lsm.h"

/* Prints line, the text of ev (possibly empty), now or, for a compaction
 * line that must wait for a flush, later, after that flush's line. */
void cli_events_print(const lsm_event *ev, const cli_buf *line);

/* Prints every line still waiting, in order. For when no flush line will
 * come any more: background work failed, or the database was closed. */
void cli_events_release_all(void);

#endif /* CLI_EVENTS_H */
