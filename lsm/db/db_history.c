/*
 * db_history.c: lsm_key_history, every version of one key still stored.
 *
 * Like a get it reads one referenced version without locks and leaves out
 * versions newer than visible_seq at the call; unlike a get it does not stop
 * at the first source that knows the key: it walks every source whose key
 * range holds the key, newest source first (the mutable memtable, the
 * immutable ones, L0 newest first, then each level or tier), and in each
 * one seeks to the key and collects every version while the user key
 * matches (a memtable keeps a chain of versions per key; an SST may hold
 * several). The sources' order is the data's age (version_int.h), so the
 * list comes out newest first and its first entry is what lsm_get answers.
 */
#include "db/db_int.h"

#include "util/status_int.h"

#include <stdlib.h>
#include <string.h>

/* The versions collected so far, growing; owned until handed out. */
typedef struct history_list {
    lsm_key_version *items;
    size_t n, cap;
} history_list;

/* Where the versions of the source being walked come from. */
typedef struct history_source {
    lsm_read_source source;
    uint64_t id;
    int level;
    uint64_t tier_id;
} history_source;

static int history_push(history_list *l, const history_source *src,
                        const entry *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        lsm_key_version *grown = realloc(l->items, cap * sizeof *grown);
        if (!grown)
            return lsm_error(LSM_ENOMEM, "out of memory listing versions");
        l->items = grown;
        l->cap = cap;
    }
    lsm_key_version *out = &l->items[l->n];
    memset(out, 0, sizeof *out);
    out->source = src->source;
    out->id = src->id;
    out->level = src->level;
    out->tier_id = src->tier_id;
    out->seq = e->seq;
    out->tombstone = e->type == ENTRY_TOMBSTONE;
    if (!out->tombstone) {
        /* NUL-terminated, as lsm_get's values are; never NULL. */
        char *copy = malloc(e->nvalue + 1);
        if (!copy)
            return lsm_error(LSM_ENOMEM, "out of memory copying a value");
        if (e->nvalue)
            memcpy(copy, e->value, e->nvalue);
        copy[e->nvalue] = '\0';
        out->value = copy;
        out->nvalue = e->nvalue;
    }
    l->n++;
    return LSM_OK;
}

/* Collects the versions of key in one source's iterator (taken over and
 * destroyed), skipping those newer than read_seq. */
static int history_walk(iter *it, const history_source *src, const uint8_t *key,
                        size_t nkey, uint64_t read_seq, history_list *l)
{
    if (!it)
        return lsm_error(LSM_ENOMEM, "out of memory listing versions");
    int rc;
    for (rc = iter_seek(it, key, nkey); rc == LSM_OK && iter_valid(it);
         rc = iter_next(it)) {
        entry e;
        iter_entry(it, &e);
        if (user_key_cmp(e.key, e.nkey, key, nkey) != 0)
            break;
        if (e.seq > read_seq)
            continue;
        rc = history_push(l, src, &e);
        if (rc != LSM_OK)
            break;
    }
    iter_destroy(it);
    return rc;
}

static int history_memtable(memtable *mt, lsm_read_source source,
                            const uint8_t *key, size_t nkey, uint64_t read_seq,
                            history_list *l)
{
    history_source src = {.source = source, .id = memtable_id(mt)};
    return history_walk(memtable_iter_new(mt), &src, key, nkey, read_seq, l);
}

static int history_sst(sst *t, int level, uint64_t tier_id, const uint8_t *key,
                       size_t nkey, uint64_t read_seq, history_list *l)
{
    if (!sst_key_in_range(t, key, nkey))
        return LSM_OK;
    history_source src = {.source = LSM_SOURCE_SST,
                          .id = sst_id(t),
                          .level = level,
                          .tier_id = tier_id};
    return history_walk(sst_iter_new(t), &src, key, nkey, read_seq, l);
}

/* Every source of v, newest first. A level's SSTs are all asked (those
 * whose range excludes the key cost nothing), so the history would show a
 * key split between two SSTs of a run, which the db never makes. */
static int history_from_version(const version *v, const uint8_t *key,
                                size_t nkey, uint64_t read_seq, history_list *l)
{
    int rc =
        history_memtable(v->mem, LSM_SOURCE_MEMTABLE, key, nkey, read_seq, l);
    for (size_t i = 0; i < v->n_imm && rc == LSM_OK; i++)
        rc = history_memtable(v->imm[i], LSM_SOURCE_IMMUTABLE, key, nkey,
                              read_seq, l);
    for (size_t i = 0; i < v->n_l0 && rc == LSM_OK; i++)
        rc = history_sst(v->l0[i], 0, 0, key, nkey, read_seq, l);
    for (size_t r = 0; r < v->n_levels && rc == LSM_OK; r++) {
        const sorted_run *run = &v->levels[r];
        int level = v->tiered ? -1 : (int)run->run_id;
        uint64_t tier_id = v->tiered ? run->run_id : 0;
        for (size_t i = 0; i < run->n_ssts && rc == LSM_OK; i++)
            rc = history_sst(run->ssts[i], level, tier_id, key, nkey, read_seq,
                             l);
    }
    return rc;
}

int lsm_key_history(lsm_db *db, const void *key, size_t nkey,
                    lsm_key_version **out, size_t *n)
{
    lsm_error_clear();
    if (!db || !out || !n)
        return lsm_error(LSM_EINVAL, "lsm_key_history needs a handle and "
                                     "somewhere to put the versions");
    *out = NULL;
    *n = 0;
    int rc = key_check(key, nkey);
    if (rc != LSM_OK)
        return rc;
    /* As a get does: the sequence number first, then the version. */
    uint64_t read_seq =
        atomic_load_explicit(&db->visible_seq, memory_order_acquire);
    version *v = db_ref_current(db);
    history_list l = {0};
    rc = history_from_version(v, key, nkey, read_seq, &l);
    db_pins_release_version(db, v); /* may be a kept SST's last reader */
    if (rc != LSM_OK) {
        lsm_key_history_free(l.items, l.n);
        return rc;
    }
    if (l.n == 0) {
        free(l.items);
        return LSM_OK;
    }
    *out = l.items;
    *n = l.n;
    return LSM_OK;
}

void lsm_key_history_free(lsm_key_version *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i].value);
    free(v);
}
