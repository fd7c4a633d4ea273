/*
 * trace.h: lsm-cli's `trace` command and the lines of the write-path trace
 * (LSM_EVENT_IO), one per step that makes data durable:
 *
 *   append 25 B to 3.wal (put, seq 7)
 *   fsync 3.wal (memtable 3 frozen)
 *   create 4.wal (new memtable 4)
 *   write 339 B to 2.sst (flush of memtable 2)
 *   fsync 2.sst (flush of memtable 2)
 *   fsync dir (2.sst created)
 *   append 12 B to MANIFEST (flushed memtable 2 is in 2.sst)
 *   fsync MANIFEST (flushed memtable 2 is in 2.sst)
 *   delete 2.wal (memtable 2 was flushed)
 *
 * The reason in parentheses is the engine's (lsm.h, LSM_EVENT_IO). Byte
 * counts are the file's own, so an inline session prints the same lines
 * every time.
 *
 * Thread safety: cli_show_io_event is pure (it runs on whichever thread
 * reported the step); cli_trace runs on the main thread.
 */
#ifndef CLI_TRACE_H
#define CLI_TRACE_H

#include "commands.h"
#include "format.h"
#include "parse.h"

#include "lsm.h"

/* Appends the line of an LSM_EVENT_IO step to b. */
void cli_show_io_event(cli_buf *b, const lsm_event *ev);

/* Runs `trace on`, `trace off` (silent on success, as .timer is) or
 * `trace` (prints "trace is on" or "trace is off"). Returns LSM_OK, or the
 * code of cli_fail for anything else. */
int cli_trace(cli_session *s, const cli_argv *a);

#endif /* CLI_TRACE_H */
