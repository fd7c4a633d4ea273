/*
 * tree_notes.c: the shell's notes on SSTs and compactions (see
 * tree_notes.h). Both tables are kept sorted by id, so draw --html looks
 * each SST up by binary search; ids mostly grow, so most inserts append.
 */
#include "tree_notes.h"

#include <stdlib.h>
#include <string.h>

void cli_tree_notes_init(cli_tree_notes *n)
{
    memset(n, 0, sizeof *n);
    atomic_init(&n->db, NULL);
    pthread_mutex_init(&n->mu, NULL);
}

void cli_tree_notes_set_db(cli_tree_notes *n, lsm_db *db)
{
    atomic_store(&n->db, db);
}

void cli_tree_notes_free(cli_tree_notes *n)
{
    for (size_t i = 0; i < n->n_reasons; i++)
        free(n->reasons[i].reason);
    free(n->reasons);
    free(n->entries);
    pthread_mutex_destroy(&n->mu);
    memset(n, 0, sizeof *n);
}

/* The index of the first entry whose id is not below id. */
static size_t entries_lower_bound(const cli_tree_notes *n, uint64_t id)
{
    size_t lo = 0, hi = n->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (n->entries[mid].sst_id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int key_cmp(const cli_compaction_key *a, const cli_compaction_key *b)
{
    if (a->first_input != b->first_input)
        return a->first_input < b->first_input ? -1 : 1;
    if (a->level != b->level)
        return a->level < b->level ? -1 : 1;
    return (a->trivial_move > b->trivial_move) -
           (a->trivial_move < b->trivial_move);
}

static size_t reasons_lower_bound(const cli_tree_notes *n,
                                  const cli_compaction_key *key)
{
    size_t lo = 0, hi = n->n_reasons;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(&n->reasons[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Makes room for one more element of size `size` in *arr (of *len, room
 * for *cap); false when out of memory. */
static bool grow(void **arr, size_t *cap, size_t len, size_t size)
{
    if (len < *cap)
        return true;
    size_t ncap = *cap ? 2 * *cap : 64;
    void *grown = realloc(*arr, ncap * size);
    if (!grown)
        return false;
    *arr = grown;
    *cap = ncap;
    return true;
}

/* Records id's entries; the caller holds the mutex. */
static void put_entries(cli_tree_notes *n, uint64_t id, uint64_t entries)
{
    size_t at = entries_lower_bound(n, id);
    if (at < n->n_entries && n->entries[at].sst_id == id) {
        n->entries[at].entries = entries;
        return;
    }
    if (!grow((void **)&n->entries, &n->cap_entries, n->n_entries,
              sizeof *n->entries))
        return;
    memmove(n->entries + at + 1, n->entries + at,
            (n->n_entries - at) * sizeof *n->entries);
    n->entries[at] = (cli_sst_entries){id, entries};
    n->n_entries++;
}

static bool has_entries(const cli_tree_notes *n, uint64_t id)
{
    size_t at = entries_lower_bound(n, id);
    return at < n->n_entries && n->entries[at].sst_id == id;
}

/* Records why the compaction key names ran; a later note for the same
 * compaction (its COMPACTION_END after its BEGIN) replaces the earlier. */
static void put_reason(cli_tree_notes *n, const cli_compaction_key *key,
                       const char *why)
{
    char *copy = strdup(why);
    if (!copy)
        return;
    size_t at = reasons_lower_bound(n, key);
    if (at < n->n_reasons && key_cmp(&n->reasons[at].key, key) == 0) {
        free(n->reasons[at].reason);
        n->reasons[at].reason = copy;
        return;
    }
    if (!grow((void **)&n->reasons, &n->cap_reasons, n->n_reasons,
              sizeof *n->reasons)) {
        free(copy);
        return;
    }
    memmove(n->reasons + at + 1, n->reasons + at,
            (n->n_reasons - at) * sizeof *n->reasons);
    n->reasons[at] = (cli_compaction_reason){*key, copy};
    n->n_reasons++;
}

static void take_ssts(cli_tree_notes *n, const lsm_sst_info *s, size_t count)
{
    for (size_t i = 0; i < count; i++)
        put_entries(n, s[i].sst_id, s[i].num_entries);
}

/* The caller holds the mutex. */
static void take_state_locked(cli_tree_notes *n, const lsm_state *st)
{
    take_ssts(n, st->l0, st->n_l0);
    for (size_t l = 0; l < st->n_levels; l++)
        take_ssts(n, st->levels[l].ssts, st->levels[l].n_ssts);
}

void cli_tree_notes_take_state(cli_tree_notes *n, const lsm_state *st)
{
    pthread_mutex_lock(&n->mu);
    take_state_locked(n, st);
    pthread_mutex_unlock(&n->mu);
}

static bool inputs_all_known(cli_tree_notes *n, const lsm_event *ev)
{
    for (size_t i = 0; i < ev->n_inputs; i++)
        if (!has_entries(n, ev->inputs[i]))
            return false;
    return true;
}

/* A compaction is about to remove its inputs: count what they hold while
 * they are still in the tree, unless every count is known already. The
 * state is taken without the mutex held (lsm_state_get may wait for the
 * engine's state lock; nothing here should wait with the mutex held). */
static void note_inputs(cli_tree_notes *n, const lsm_event *ev)
{
    lsm_db *db = atomic_load(&n->db);
    pthread_mutex_lock(&n->mu);
    bool known = inputs_all_known(n, ev);
    pthread_mutex_unlock(&n->mu);
    lsm_state *st = NULL;
    if (known || !db || lsm_state_get(db, &st) != LSM_OK)
        return;
    cli_tree_notes_take_state(n, st);
    lsm_state_free(st);
}

static cli_compaction_key compaction_key(const lsm_event *ev)
{
    uint64_t min = ev->inputs[0];
    for (size_t i = 1; i < ev->n_inputs; i++)
        min = ev->inputs[i] < min ? ev->inputs[i] : min;
    return (cli_compaction_key){min, ev->level, ev->trivial_move != 0};
}

/* The reason comes with BEGIN too: a page drawn after a compaction's
 * MANIFEST record was written but before its END was sent still says
 * why it ran. */
static void note_reason(cli_tree_notes *n, const lsm_event *ev)
{
    if (ev->n_inputs == 0 || !ev->reason)
        return;
    cli_compaction_key key = compaction_key(ev);
    pthread_mutex_lock(&n->mu);
    put_reason(n, &key, ev->reason);
    pthread_mutex_unlock(&n->mu);
}

void cli_tree_notes_event(cli_tree_notes *n, const lsm_event *ev)
{
    switch (ev->type) {
    case LSM_EVENT_FLUSH_END:
        pthread_mutex_lock(&n->mu);
        put_entries(n, ev->sst_id, ev->num_entries);
        pthread_mutex_unlock(&n->mu);
        break;
    case LSM_EVENT_COMPACTION_BEGIN:
        note_reason(n, ev);
        note_inputs(n, ev);
        break;
    case LSM_EVENT_COMPACTION_END:
        note_reason(n, ev);
        break;
    default:
        break;
    }
}

bool cli_tree_notes_entries(cli_tree_notes *n, uint64_t id, uint64_t *entries)
{
    pthread_mutex_lock(&n->mu);
    size_t at = entries_lower_bound(n, id);
    bool found = at < n->n_entries && n->entries[at].sst_id == id;
    if (found)
        *entries = n->entries[at].entries;
    pthread_mutex_unlock(&n->mu);
    return found;
}

bool cli_tree_notes_reason(cli_tree_notes *n, const cli_compaction_key *key,
                           cli_buf *out)
{
    pthread_mutex_lock(&n->mu);
    size_t at = reasons_lower_bound(n, key);
    bool found = at < n->n_reasons && key_cmp(&n->reasons[at].key, key) == 0;
    if (found)
        cli_buf_printf(out, "%s", n->reasons[at].reason);
    pthread_mutex_unlock(&n->mu);
    return found;
}
