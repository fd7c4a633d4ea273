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
 * A source's range tombstones over the key join its versions, in seq
 * order: a range tombstone hides every older version, in its source and
 * in every older one.
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

/* Adds the range tombstones of t[0..n) over key at or below read_seq. */
static int history_ranges(const range_tomb *t, size_t n,
                          const history_source *src, const uint8_t *key,
                          size_t nkey, uint64_t read_seq, history_list *l)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].seq > read_seq ||
            user_key_cmp(t[i].lo, t[i].nlo, key, nkey) > 0 ||
            user_key_cmp(key, nkey, t[i].hi, t[i].nhi) >= 0)
            continue;
        entry e = {
            .key = key, .nkey = nkey, .seq = t[i].seq, .type = ENTRY_TOMBSTONE};
        int rc = history_push(l, src, &e);
        if (rc != LSM_OK)
            return rc;
        lsm_key_version *v = &l->items[l->n - 1];
        uint8_t *keys = malloc(t[i].nlo + t[i].nhi);
        if (!keys)
            return lsm_error(LSM_ENOMEM, "out of memory listing versions");
        memcpy(keys, t[i].lo, t[i].nlo);
        memcpy(keys + t[i].nlo, t[i].hi, t[i].nhi);
        v->range_delete = 1;
        v->range_lo = keys;
        v->nrange_lo = t[i].nlo;
        v->range_hi = keys + t[i].nlo;
        v->nrange_hi = t[i].nhi;
    }
    return LSM_OK;
}

static int history_seq_desc(const void *a, const void *b)
{
    const lsm_key_version *x = a, *y = b;
    return x->seq > y->seq ? -1 : x->seq < y->seq ? 1 : 0;
}

/* Puts one source's versions, items[from..n), newest first: its range
 * tombstones were added after its point versions. */
static void history_sort_source(history_list *l, size_t from)
{
    if (l->n - from > 1)
        qsort(l->items + from, l->n - from, sizeof *l->items, history_seq_desc);
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
    size_t from = l->n;
    int rc = history_walk(memtable_iter_new(mt), &src, key, nkey, read_seq, l);
    range_tomb_list r = {0};
    if (rc == LSM_OK && memtable_num_ranges(mt))
        rc = memtable_collect_ranges(mt, read_seq, &r);
    if (rc == LSM_OK)
        rc = history_ranges(r.v, r.n, &src, key, nkey, read_seq, l);
    range_tomb_list_free(&r);
    history_sort_source(l, from);
    return rc;
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
    size_t from = l->n, n;
    int rc = history_walk(sst_iter_new(t), &src, key, nkey, read_seq, l);
    const range_tomb *r = sst_range_tombs(t, &n);
    if (rc == LSM_OK)
        rc = history_ranges(r, n, &src, key, nkey, read_seq, l);
    history_sort_source(l, from);
    return rc;
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
    for (size_t i = 0; i < n; i++) {
        free(v[i].value);
        free(v[i].range_lo); /* range_hi lies in the same allocation */
    }
    free(v);
}
