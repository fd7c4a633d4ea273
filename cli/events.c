/*
 * events.c: engine event lines in causal order (see events.h).
 *
 * State: the ids of the flushes that began and have not printed their line
 * yet, and a FIFO of compaction lines waiting for some of them. A waiting
 * line names its blockers (its inputs that were still being flushed when it
 * arrived); the head of the FIFO prints as soon as none of its blockers is
 * still flushing, and the lines behind it follow in order, so compaction
 * lines never overtake each other.
 *
 * Trace lines (LSM_EVENT_IO) keep their thread's order: a step reported
 * by a thread that has lines waiting (a compaction's steps after its
 * waiting "compacting" line) waits behind them; any other step prints at
 * once, a flush's among them, as its "flushed" line does.
 */
#include "events.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Flushes in flight at once: the engine runs one at a time, so this is
 * plenty; past it a flush is not tracked and its compaction lines print as
 * they come, as they did before this module existed. */
#define EVENTS_MAX_FLUSHING 64

typedef struct waiting_line {
    struct waiting_line *next;
    cli_buf text;
    pthread_t thread; /* the thread that reported it */
    size_t n_blockers;
    uint64_t blockers[]; /* SST ids whose flush line must print first */
} waiting_line;

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t flushing[EVENTS_MAX_FLUSHING];
static size_t n_flushing;
static waiting_line *wait_head, *wait_tail;

static int is_flushing(uint64_t id)
{
    size_t i;

    for (i = 0; i < n_flushing; i++) {
        if (flushing[i] == id)
            return 1;
    }
    return 0;
}

static void flushing_add(uint64_t id)
{
    if (n_flushing < EVENTS_MAX_FLUSHING && !is_flushing(id))
        flushing[n_flushing++] = id;
}

static void flushing_remove(uint64_t id)
{
    size_t i;

    for (i = 0; i < n_flushing; i++) {
        if (flushing[i] == id) {
            flushing[i] = flushing[--n_flushing];
            return;
        }
    }
}

static int line_is_blocked(const waiting_line *w)
{
    size_t i;

    for (i = 0; i < w->n_blockers; i++) {
        if (is_flushing(w->blockers[i]))
            return 1;
    }
    return 0;
}

/* Prints waiting lines from the head while they may go (all of them if
 * all is set). */
static void release(int all)
{
    waiting_line *w;

    while (wait_head && (all || !line_is_blocked(wait_head))) {
        w = wait_head;
        wait_head = w->next;
        if (!wait_head)
            wait_tail = NULL;
        cli_out_buf(&w->text);
        cli_buf_free(&w->text);
        free(w);
    }
}

/* Whether the calling thread has lines waiting. */
static int this_thread_waits(void)
{
    const waiting_line *w;
    pthread_t self = pthread_self();

    for (w = wait_head; w; w = w->next) {
        if (pthread_equal(w->thread, self))
            return 1;
    }
    return 0;
}

/* The inputs of a compaction that are still being flushed. */
static size_t count_blockers(const lsm_event *ev)
{
    size_t i, n = 0;

    if (ev->type != LSM_EVENT_COMPACTION_BEGIN)
        return 0;
    for (i = 0; i < ev->n_inputs; i++)
        n += (size_t)is_flushing(ev->inputs[i]);
    return n;
}

/* Queues a compaction line behind the others, blocked by its inputs that
 * are still being flushed. If memory runs out the line prints now: out of
 * order is better than lost. */
static void enqueue(const lsm_event *ev, const cli_buf *line, size_t n_blockers)
{
    waiting_line *w = malloc(sizeof *w + n_blockers * sizeof(uint64_t));
    size_t i;

    if (!w) {
        cli_out_buf(line);
        return;
    }
    w->next = NULL;
    w->thread = pthread_self();
    w->n_blockers = 0;
    for (i = 0; n_blockers > 0 && i < ev->n_inputs; i++) {
        if (is_flushing(ev->inputs[i]))
            w->blockers[w->n_blockers++] = ev->inputs[i];
    }
    cli_buf_init(&w->text);
    cli_buf_append(&w->text, line->data, line->len);
    if (wait_tail)
        wait_tail->next = w;
    else
        wait_head = w;
    wait_tail = w;
}

void cli_events_print(const lsm_event *ev, const cli_buf *line)
{
    size_t n_blockers;

    pthread_mutex_lock(&events_lock);
    switch (ev->type) {
    case LSM_EVENT_FLUSH_BEGIN:
        flushing_add(ev->memtable_id);
        break;
    case LSM_EVENT_FLUSH_END:
        cli_out_buf(line);
        flushing_remove(ev->sst_id);
        release(0);
        break;
    case LSM_EVENT_COMPACTION_BEGIN:
    case LSM_EVENT_COMPACTION_END:
    case LSM_EVENT_SST_DELETED: /* never before its compaction's lines */
        n_blockers = count_blockers(ev);
        if (wait_head || n_blockers > 0)
            enqueue(ev, line, n_blockers);
        else
            cli_out_buf(line);
        break;
    case LSM_EVENT_IO:
        if (this_thread_waits())
            enqueue(ev, line, 0);
        else
            cli_out_buf(line);
        break;
    default:
        if (line->len > 0)
            cli_out_buf(line);
        break;
    }
    pthread_mutex_unlock(&events_lock);
}

void cli_events_release_all(void)
{
    pthread_mutex_lock(&events_lock);
    n_flushing = 0;
    release(1);
    pthread_mutex_unlock(&events_lock);
}
