/*
 * db_trace.c: the trace of the write path (LSM_EVENT_IO, lsm_trace_io).
 *
 * While the trace is on, every step that makes data durable is reported as
 * it happens, on the thread that did it, right after the step succeeded:
 * WAL appends and fsyncs, WAL and SST files created, SSTs written and
 * fsynced, directory fsyncs, manifest records appended and fsynced, WALs
 * deleted. A failed step is not reported: the error that follows says what
 * failed, and the cleanup after it (removing a half-written file) is not
 * traced either. SST deletions are LSM_EVENT_SST_DELETED's, not this
 * trace's.
 *
 * The steps are reported where they happen (db_write.c, db_sync.c,
 * db_flush.c, db_compact.c, db.c, db_open.c), each behind DB_TRACE_IO or
 * an explicit db_tracing_io() test, so with the trace off a step costs one
 * relaxed load and a branch that is never taken. This file builds the
 * events: the file's name, the size and a reason in words (reasons never
 * quote keys, which are binary; a write is named by its sequence numbers).
 *
 * Thread safety: every function may run on any thread; the events go to
 * the callback on the thread that did the step, holding whatever locks that
 * step holds (never state_mu: see lsm_event_fn).
 */
#include "db/db_int.h"

#include "iter/key_int.h"
#include "util/status_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Room for a reason: a compaction's id lists are cut at TRACE_MAX_IDS. */
#define TRACE_REASON_BYTES 512
#define TRACE_MAX_IDS 8

int lsm_trace_io(lsm_db *db, int on)
{
    lsm_error_clear();
    if (!db)
        return lsm_error(LSM_EINVAL, "database handle is NULL");
    atomic_store_explicit(&db->trace_io, on != 0, memory_order_relaxed);
    return LSM_OK;
}

/* The name of a file in the database directory ("4.sst"), or "" for the
 * directory itself (path NULL). */
static const char *trace_file_name(const char *path)
{
    if (!path)
        return "";
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Fills in ev's LSM_EVENT_IO fields and sends it. */
static void trace_emit(lsm_db *db, lsm_event *ev, lsm_io_op op,
                       const char *path, uint64_t size_bytes,
                       const char *reason)
{
    ev->type = LSM_EVENT_IO;
    ev->io_op = op;
    ev->file = trace_file_name(path);
    ev->size_bytes = size_bytes;
    ev->reason = reason;
    db_emit(db, ev);
}

void db_trace_io(lsm_db *db, lsm_io_op op, const char *path,
                 uint64_t size_bytes, const char *fmt, ...)
{
    char reason[TRACE_REASON_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    lsm_event ev = {0};
    trace_emit(db, &ev, op, path, size_bytes, reason);
}

void db_trace_wal_append(lsm_db *db, const char *path, uint64_t bytes,
                         const uint8_t *payload, uint32_t count,
                         uint64_t first_seq)
{
    char reason[TRACE_REASON_BYTES];
    /* The first entry's type byte follows first_seq and count
     * (wal_int.h); a one-entry record is a put or a delete. */
    if (count == 1)
        snprintf(reason, sizeof reason, "%s, seq %" PRIu64,
                 payload[12] == ENTRY_TOMBSTONE   ? "delete"
                 : payload[12] == ENTRY_RANGE_DEL ? "range delete"
                                                  : "put",
                 first_seq);
    else
        snprintf(reason, sizeof reason,
                 "batch of %" PRIu32 ", seq %" PRIu64 "..%" PRIu64, count,
                 first_seq, first_seq + count - 1);
    lsm_event ev = {.num_entries = count};
    trace_emit(db, &ev, LSM_IO_WAL_APPEND, path, bytes, reason);
}

/* A reason under construction: appends past the end are cut off. */
typedef struct trace_reason {
    char text[TRACE_REASON_BYTES];
    size_t used; /* < TRACE_REASON_BYTES; text is always terminated */
} trace_reason;

static void trace_reason_printf(trace_reason *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void trace_reason_printf(trace_reason *r, const char *fmt, ...)
{
    size_t room = sizeof r->text - r->used;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(r->text + r->used, room, fmt, ap);
    va_end(ap);
    if (k > 0)
        r->used += (size_t)k < room ? (size_t)k : room - 1;
}

/* Appends n ids as "[2, 1, 0]", or "[1, 2, ..., 8, and 5 more]" past
 * TRACE_MAX_IDS. */
static void trace_reason_ids(trace_reason *r, const uint64_t *ids, size_t n)
{
    size_t shown = n < TRACE_MAX_IDS ? n : TRACE_MAX_IDS;
    trace_reason_printf(r, "[");
    for (size_t i = 0; i < shown; i++)
        trace_reason_printf(r, "%s%" PRIu64, i ? ", " : "", ids[i]);
    if (n > shown)
        trace_reason_printf(r, ", and %zu more", n - shown);
    trace_reason_printf(r, "]");
}

/* What a manifest record says, in words into r, and in the event's
 * fields. */
static void trace_describe_record(const manifest_record *rec, trace_reason *r,
                                  lsm_event *ev)
{
    switch (rec->kind) {
    case MANIFEST_NEW_MEMTABLE:
        ev->new_memtable_id = rec->id;
        trace_reason_printf(r, "new memtable %" PRIu64 "%s", rec->id,
                            rec->has_wal ? "" : " without a WAL");
        return;
    case MANIFEST_FLUSH:
        ev->memtable_id = rec->id;
        ev->sst_id = rec->id;
        trace_reason_printf(
            r, "flushed memtable %" PRIu64 " is in %" PRIu64 ".sst%s", rec->id,
            rec->id, rec->to_tier ? ", a new tier" : "");
        return;
    case MANIFEST_COMPACTION:
        ev->level = (int)rec->level;
        ev->n_inputs = rec->n_removed;
        ev->inputs = rec->removed;
        ev->n_outputs = rec->n_added;
        ev->outputs = rec->added;
        if (manifest_record_is_move(rec)) {
            trace_reason_printf(r, "move to L%" PRIu32 ": ", rec->level);
            trace_reason_ids(r, rec->added, rec->n_added);
            return;
        }
        if (rec->level == 0)
            trace_reason_printf(r, "compaction into a new tier: removed ");
        else
            trace_reason_printf(r, "compaction into L%" PRIu32 ": removed ",
                                rec->level);
        trace_reason_ids(r, rec->removed, rec->n_removed);
        trace_reason_printf(r, " added ");
        trace_reason_ids(r, rec->added, rec->n_added);
        return;
    case MANIFEST_NEXT_ID:
        trace_reason_printf(r, "ids below %" PRIu64 " reserved for new SSTs",
                            rec->id);
        return;
    case MANIFEST_SNAPSHOT: /* written by a rewrite, traced there (db.c) */
        trace_reason_printf(r, "snapshot, next id %" PRIu64, rec->id);
        return;
    }
    trace_reason_printf(r, "record of kind %d", (int)rec->kind);
}

void db_trace_manifest(lsm_db *db, const manifest_record *rec, uint64_t bytes)
{
    trace_reason r = {.used = 0};
    char path[DB_PATH_BYTES];
    lsm_event ev = {0};
    trace_describe_record(rec, &r, &ev);
    if (db_path(db, "MANIFEST", path) != LSM_OK)
        snprintf(path, sizeof path, "MANIFEST");
    trace_emit(db, &ev, LSM_IO_MANIFEST_APPEND, path, bytes, r.text);
    trace_emit(db, &ev, LSM_IO_MANIFEST_SYNC, path, 0, r.text);
}

void db_trace_ssts_named(lsm_db *db, const uint64_t *ids, size_t n)
{
    trace_reason r = {.used = 0};
    size_t shown = n < TRACE_MAX_IDS ? n : TRACE_MAX_IDS;
    for (size_t i = 0; i < shown; i++)
        trace_reason_printf(&r, "%s%" PRIu64 ".sst", i ? ", " : "", ids[i]);
    if (n > shown)
        trace_reason_printf(&r, " and %zu more", n - shown);
    trace_reason_printf(&r, " created");
    lsm_event ev = {0};
    trace_emit(db, &ev, LSM_IO_DIR_SYNC, NULL, 0, r.text);
}
