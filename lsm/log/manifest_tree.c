/*
 * manifest_tree.c: the tree a MANIFEST describes (manifest_int.h), and how
 * each change record moves it. Replay at open and every append apply the
 * same rules, so the snapshot a rewrite writes is exactly what replaying
 * the old file would give.
 *
 * Invariants: every SST's keys are one allocation the tree owns (first key
 * then last key); an id is live in at most one place; next_id is above
 * every id a record named.
 */
#include "log/manifest_int.h"
#include "util/status_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static void run_free(manifest_run *r)
{
    for (size_t i = 0; i < r->n; i++)
        free((void *)r->ssts[i].first_key); /* the keys' one allocation */
    free(r->ssts);
    memset(r, 0, sizeof *r);
}

void manifest_tree_free(manifest_tree *t)
{
    if (!t)
        return;
    run_free(&t->l0);
    for (size_t i = 0; i < t->n_runs; i++)
        run_free(&t->runs[i]);
    free(t->runs);
    free(t->mems);
    memset(t, 0, sizeof *t);
}

int manifest_run_push(manifest_run *r, const manifest_sst *s)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        manifest_sst *grown = realloc(r->ssts, cap * sizeof *grown);
        if (!grown)
            return lsm_error(LSM_ENOMEM, "out of memory in the manifest");
        r->ssts = grown;
        r->cap = cap;
    }
    uint8_t *keys = malloc(s->nfirst_key + s->nlast_key);
    if (!keys)
        return lsm_error(LSM_ENOMEM, "out of memory in the manifest");
    memcpy(keys, s->first_key, s->nfirst_key);
    memcpy(keys + s->nfirst_key, s->last_key, s->nlast_key);
    manifest_sst *d = &r->ssts[r->n++];
    *d = *s;
    d->first_key = keys;
    d->last_key = keys + s->nfirst_key;
    return LSM_OK;
}

/* Removes id from r; false when it was not there. */
static bool run_remove(manifest_run *r, uint64_t id)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->ssts[i].id != id)
            continue;
        free((void *)r->ssts[i].first_key);
        memmove(r->ssts + i, r->ssts + i + 1, (r->n - i - 1) * sizeof *r->ssts);
        r->n--;
        return true;
    }
    return false;
}

const manifest_sst *manifest_tree_find(const manifest_tree *t, uint64_t id)
{
    for (size_t i = 0; i < t->l0.n; i++)
        if (t->l0.ssts[i].id == id)
            return &t->l0.ssts[i];
    for (size_t r = 0; r < t->n_runs; r++)
        for (size_t i = 0; i < t->runs[r].n; i++)
            if (t->runs[r].ssts[i].id == id)
                return &t->runs[r].ssts[i];
    return NULL;
}

size_t manifest_tree_n_ssts(const manifest_tree *t)
{
    size_t n = t->l0.n;
    for (size_t r = 0; r < t->n_runs; r++)
        n += t->runs[r].n;
    return n;
}

static void note_id(manifest_tree *t, uint64_t id)
{
    if (id >= t->next_id) /* saturating: UINT64_MAX stays */
        t->next_id = id == UINT64_MAX ? id : id + 1;
}

/* Inserts an empty run at index (a tier, or a level up to a new depth). */
static int insert_run(manifest_tree *t, size_t index, uint64_t run_id)
{
    manifest_run *grown = realloc(t->runs, (t->n_runs + 1) * sizeof *grown);
    if (!grown)
        return lsm_error(LSM_ENOMEM, "out of memory in the manifest");
    memmove(grown + index + 1, grown + index,
            (t->n_runs - index) * sizeof *grown);
    grown[index] = (manifest_run){.run_id = run_id};
    t->runs = grown;
    t->n_runs++;
    return LSM_OK;
}

/* Removes a live SST wherever it is. Returns the index of the run it was
 * in, or t->n_runs when it was in L0 or nowhere. */
static size_t remove_sst(manifest_tree *t, uint64_t id)
{
    if (run_remove(&t->l0, id))
        return t->n_runs;
    for (size_t i = 0; i < t->n_runs; i++)
        if (run_remove(&t->runs[i], id))
            return i;
    return t->n_runs;
}

/* Drops empty tiers; returns how many surviving tiers came before index. */
static size_t drop_empty_tiers(manifest_tree *t, size_t index)
{
    size_t kept = 0, before = 0;
    for (size_t i = 0; i < t->n_runs; i++) {
        if (t->runs[i].n == 0) {
            run_free(&t->runs[i]);
            continue;
        }
        before += i < index;
        t->runs[kept++] = t->runs[i];
    }
    t->n_runs = kept;
    return before;
}

static int push_mem(manifest_tree *t, uint64_t id, bool has_wal)
{
    if (t->n_mems == t->mems_cap) {
        size_t cap = t->mems_cap ? 2 * t->mems_cap : 8;
        manifest_mem *grown = realloc(t->mems, cap * sizeof *grown);
        if (!grown)
            return lsm_error(LSM_ENOMEM, "out of memory in the manifest");
        t->mems = grown;
        t->mems_cap = cap;
    }
    t->mems[t->n_mems++] = (manifest_mem){.id = id, .has_wal = has_wal};
    return LSM_OK;
}

void manifest_tree_freeze_memtable(manifest_tree *t, uint64_t id,
                                   uint64_t wal_bytes, uint64_t last_seq)
{
    for (size_t i = 0; i < t->n_mems; i++) {
        if (t->mems[i].id != id)
            continue;
        t->mems[i].frozen = true;
        t->mems[i].wal_bytes = wal_bytes;
        t->mems[i].last_seq = last_seq;
        return;
    }
}

void manifest_tree_drop_memtable(manifest_tree *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_mems; i++) {
        if (t->mems[i].id != id)
            continue;
        memmove(t->mems + i, t->mems + i + 1,
                (t->n_mems - i - 1) * sizeof *t->mems);
        t->n_mems--;
        return;
    }
}

static int strategy_contradiction(const manifest_tree *t, const char *what)
{
    return lsm_corrupt("a %s record contradicts the snapshot, which says "
                       "the database uses %s",
                       what, t->tiered ? "tiers" : "L0 and levels");
}

/* A flush: the memtable leaves; its SST becomes the newest in L0, or a new
 * tier in front of the others. A flush recorded twice (retried after an
 * append that failed but reached the disk) names one SST. */
static int apply_flush(manifest_tree *t, const manifest_record *rec)
{
    note_id(t, rec->id);
    manifest_tree_drop_memtable(t, rec->id);
    if (rec->last_seq > t->flushed_seq)
        t->flushed_seq = rec->last_seq;
    if (manifest_tree_find(t, rec->id))
        return LSM_OK;
    if ((rec->to_tier != 0) != t->tiered)
        return strategy_contradiction(t, "flush");
    if (!t->tiered)
        return manifest_run_push(&t->l0, rec->ssts);
    int rc = insert_run(t, 0, rec->id);
    return rc == LSM_OK ? manifest_run_push(&t->runs[0], rec->ssts) : rc;
}

/* A compaction: its inputs leave; its outputs join level `level`, or
 * (level 0, tiered) become one tier where the newest merged tier was. */
static int apply_compaction(manifest_tree *t, const manifest_record *rec)
{
    if ((rec->level == 0) != t->tiered)
        return strategy_contradiction(t, "compaction");
    size_t newest = t->n_runs;
    for (size_t i = 0; i < rec->n_removed; i++) {
        size_t at = remove_sst(t, rec->removed[i]);
        if (at < newest)
            newest = at;
    }
    for (size_t i = 0; i < rec->n_added; i++)
        note_id(t, rec->added[i]);
    int rc = LSM_OK;
    size_t index = rec->level - 1;
    if (t->tiered) {
        index = drop_empty_tiers(t, newest);
        if (rec->n_added > 0)
            rc = insert_run(t, index, rec->added[0]);
    } else {
        while (rc == LSM_OK && t->n_runs < rec->level)
            rc = insert_run(t, t->n_runs, t->n_runs + 1);
    }
    for (size_t i = 0; i < rec->n_added && rc == LSM_OK; i++)
        rc = manifest_run_push(&t->runs[index], &rec->ssts[i]);
    return rc;
}

bool manifest_record_is_move(const manifest_record *rec)
{
    if (rec->kind != MANIFEST_COMPACTION || rec->n_added == 0 ||
        rec->n_added != rec->n_removed)
        return false;
    for (size_t i = 0; i < rec->n_added; i++) {
        size_t k = 0;
        while (k < rec->n_removed && rec->removed[k] != rec->added[i])
            k++;
        if (k == rec->n_removed)
            return false;
    }
    return true;
}

int manifest_tree_apply(manifest_tree *t, const manifest_record *rec)
{
    switch (rec->kind) {
    case MANIFEST_NEW_MEMTABLE:
        note_id(t, rec->id);
        if (rec->froze)
            manifest_tree_freeze_memtable(t, rec->frozen_id, rec->wal_bytes,
                                          rec->last_seq);
        return push_mem(t, rec->id, rec->has_wal != 0);
    case MANIFEST_NEXT_ID:
        if (rec->id > t->next_id)
            t->next_id = rec->id;
        return LSM_OK;
    case MANIFEST_FLUSH:
        return apply_flush(t, rec);
    case MANIFEST_COMPACTION:
        return apply_compaction(t, rec);
    case MANIFEST_SNAPSHOT:
        break;
    }
    return lsm_corrupt("a snapshot record after the first record");
}

/* Reads n bytes of /dev/urandom, for kernels without getrandom(2). */
static int urandom_read(uint8_t *buf, size_t n)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lsm_error(LSM_EIO, "/dev/urandom: %s", strerror(errno));
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(fd);
            return lsm_error(LSM_EIO, "/dev/urandom: short read");
        }
        got += (size_t)r;
    }
    close(fd);
    return LSM_OK;
}

int manifest_new_identity(uint8_t id[MANIFEST_IDENTITY_BYTES])
{
    size_t got = 0;
    while (got < MANIFEST_IDENTITY_BYTES) {
        ssize_t r = getrandom(id + got, MANIFEST_IDENTITY_BYTES - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return urandom_read(id, MANIFEST_IDENTITY_BYTES);
        got += (size_t)r;
    }
    return LSM_OK;
}
