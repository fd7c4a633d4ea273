/*
 * rangedel.c: range tombstone lists, their SST encoding, and fragments
 * (rangedel_int.h).
 */
#include "iter/rangedel_int.h"

#include "iter/key_int.h"
#include "lsm.h"
#include "util/coding_int.h"
#include "util/status_int.h"

#include <stdlib.h>
#include <string.h>

int range_check(const uint8_t *lo, size_t nlo, const uint8_t *hi, size_t nhi)
{
    int rc = key_check(lo, nlo);
    if (rc == LSM_OK)
        rc = key_check(hi, nhi);
    if (rc == LSM_OK && user_key_cmp(lo, nlo, hi, nhi) >= 0)
        rc = lsm_error(LSM_EINVAL, "a range to delete needs its start below "
                                   "its end (the end is excluded)");
    return rc;
}

int range_tomb_list_add(range_tomb_list *l, const uint8_t *lo, size_t nlo,
                        const uint8_t *hi, size_t nhi, uint64_t seq)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        range_tomb *grown = realloc(l->v, cap * sizeof *grown);
        if (!grown)
            return lsm_error(LSM_ENOMEM, "out of memory for range tombstones");
        l->v = grown;
        l->cap = cap;
    }
    uint8_t *keys = malloc(nlo + nhi);
    if (!keys)
        return lsm_error(LSM_ENOMEM, "out of memory for range tombstones");
    memcpy(keys, lo, nlo);
    memcpy(keys + nlo, hi, nhi);
    l->v[l->n++] = (range_tomb){keys, keys + nlo, nlo, nhi, seq};
    return LSM_OK;
}

int range_tomb_list_add_clipped(range_tomb_list *l, const range_tomb *t,
                                const uint8_t *from, size_t nfrom,
                                const uint8_t *to, size_t nto)
{
    const uint8_t *lo = t->lo, *hi = t->hi;
    size_t nlo = t->nlo, nhi = t->nhi;
    if (from && user_key_cmp(lo, nlo, from, nfrom) < 0) {
        lo = from;
        nlo = nfrom;
    }
    if (to && user_key_cmp(hi, nhi, to, nto) > 0) {
        hi = to;
        nhi = nto;
    }
    if (user_key_cmp(lo, nlo, hi, nhi) >= 0)
        return LSM_OK;
    return range_tomb_list_add(l, lo, nlo, hi, nhi, t->seq);
}

static int range_tomb_order(const void *a, const void *b)
{
    const range_tomb *x = a, *y = b;
    int c = user_key_cmp(x->lo, x->nlo, y->lo, y->nlo);
    if (c != 0)
        return c;
    return x->seq > y->seq ? -1 : x->seq < y->seq ? 1 : 0;
}

void range_tomb_list_sort(range_tomb_list *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, range_tomb_order);
}

void range_tomb_list_free(range_tomb_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((void *)l->v[i].lo); /* lo starts the tombstone's one buffer */
    free(l->v);
    memset(l, 0, sizeof *l);
}

const uint8_t *range_tomb_last_key(const range_tomb *t, size_t *n)
{
    *n = t->nhi;
    if (t->nhi > 1 && t->hi[t->nhi - 1] == 0)
        *n = t->nhi - 1;
    return t->hi;
}

int range_encode(const range_tomb_list *l, uint8_t **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (l->n == 0)
        return LSM_OK;
    size_t cap = VARINT64_MAX_BYTES;
    for (size_t i = 0; i < l->n; i++)
        cap += 3 * VARINT64_MAX_BYTES + l->v[i].nlo + l->v[i].nhi;
    uint8_t *buf = malloc(cap), *p = buf;
    if (!buf)
        return lsm_error(LSM_ENOMEM, "out of memory encoding range tombstones");
    p += put_varint64(p, l->n);
    for (size_t i = 0; i < l->n; i++) {
        const range_tomb *t = &l->v[i];
        p += put_varint64(p, t->nlo);
        memcpy(p, t->lo, t->nlo);
        p += t->nlo;
        p += put_varint64(p, t->nhi);
        memcpy(p, t->hi, t->nhi);
        p += t->nhi;
        p += put_varint64(p, t->seq);
    }
    *out = buf;
    *nout = (size_t)(p - buf);
    return LSM_OK;
}

/* Reads a key (length varint, bytes) at *p; NULL when malformed. */
static const uint8_t *range_decode_key(const uint8_t *p, const uint8_t *end,
                                       size_t max, const uint8_t **key,
                                       size_t *nkey)
{
    uint64_t n;
    p = get_varint64(p, end, &n);
    if (!p || n < 1 || n > max || n > (uint64_t)(end - p))
        return NULL;
    *key = p;
    *nkey = (size_t)n;
    return p + n;
}

int range_decode(const uint8_t *p, size_t n, const char *what,
                 range_tomb_list *out)
{
    const uint8_t *end = p + n;
    uint64_t count;
    memset(out, 0, sizeof *out);
    p = get_varint64(p, end, &count);
    if (!p || count == 0 || count > n)
        return lsm_corrupt("%s: range tombstone record has a bad count", what);
    for (uint64_t i = 0; i < count; i++) {
        range_tomb t;
        p = range_decode_key(p, end, LSM_MAX_KEY_BYTES, &t.lo, &t.nlo);
        if (p)
            p = range_decode_key(p, end, RANGE_MAX_END_BYTES, &t.hi, &t.nhi);
        if (p)
            p = get_varint64(p, end, &t.seq);
        const char *bad = NULL;
        if (!p)
            bad = "is cut short or has a bad key length";
        else if (user_key_cmp(t.lo, t.nlo, t.hi, t.nhi) >= 0)
            bad = "has its start not below its end";
        else if (t.seq == 0)
            bad = "has sequence number 0";
        else if (out->n && range_tomb_order(&out->v[out->n - 1], &t) >= 0)
            bad = "is out of order";
        if (bad) {
            range_tomb_list_free(out);
            return lsm_corrupt("%s: range tombstone %llu %s", what,
                               (unsigned long long)i, bad);
        }
        int rc = range_tomb_list_add(out, t.lo, t.nlo, t.hi, t.nhi, t.seq);
        if (rc != LSM_OK) {
            range_tomb_list_free(out);
            return rc;
        }
    }
    if (p != end) {
        range_tomb_list_free(out);
        return lsm_corrupt("%s: %zu stray bytes after the range tombstones",
                           what, (size_t)(end - p));
    }
    return LSM_OK;
}

/* --- Fragments ---------------------------------------------------------- */

typedef struct bound_key {
    const uint8_t *key;
    size_t nkey;
} bound_key;

static int bound_key_order(const void *a, const void *b)
{
    const bound_key *x = a, *y = b;
    return user_key_cmp(x->key, x->nkey, y->key, y->nkey);
}

static int seq_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x > y ? -1 : x < y ? 1 : 0;
}

/* Scratch of a build: the kept tombstones sorted by lo, the distinct
 * boundaries, the active set. Freed by frags_scratch_free. */
typedef struct frags_scratch {
    range_tomb *tombs;
    size_t n;
    bound_key *bounds;
    size_t nbounds;
    size_t *active;
    size_t nactive;
    size_t *seq_at; /* per fragment: offset into the seq pool */
    size_t seq_len, seq_cap;
} frags_scratch;

static void frags_scratch_free(frags_scratch *s)
{
    free(s->tombs);
    free(s->bounds);
    free(s->active);
    free(s->seq_at);
}

/* Copies the tombstones at or below max_seq, sorted, and their distinct
 * boundary keys, sorted. */
static int frags_collect(frags_scratch *s, const range_tomb *t, size_t n,
                         uint64_t max_seq)
{
    s->tombs = malloc((n ? n : 1) * sizeof *s->tombs);
    s->bounds = malloc((n ? 2 * n : 1) * sizeof *s->bounds);
    s->active = malloc((n ? n : 1) * sizeof *s->active);
    s->seq_at = malloc((n ? 2 * n : 1) * sizeof *s->seq_at);
    if (!s->tombs || !s->bounds || !s->active || !s->seq_at)
        return lsm_error(LSM_ENOMEM, "out of memory for range tombstones");
    for (size_t i = 0; i < n; i++) {
        if (t[i].seq > max_seq)
            continue;
        s->tombs[s->n++] = t[i];
        s->bounds[s->nbounds++] = (bound_key){t[i].lo, t[i].nlo};
        s->bounds[s->nbounds++] = (bound_key){t[i].hi, t[i].nhi};
    }
    if (s->n > 1)
        qsort(s->tombs, s->n, sizeof *s->tombs, range_tomb_order);
    if (s->nbounds > 1)
        qsort(s->bounds, s->nbounds, sizeof *s->bounds, bound_key_order);
    size_t w = 0;
    for (size_t i = 0; i < s->nbounds; i++)
        if (w == 0 || bound_key_order(&s->bounds[w - 1], &s->bounds[i]) != 0)
            s->bounds[w++] = s->bounds[i];
    s->nbounds = w;
    return LSM_OK;
}

/* Copies the distinct boundaries into f's key pool, pointing bounds at
 * the copies (fragments share them). */
static int frags_copy_keys(range_frags *f, frags_scratch *s)
{
    size_t total = 0;
    for (size_t i = 0; i < s->nbounds; i++)
        total += s->bounds[i].nkey;
    f->key_pool = malloc(total ? total : 1);
    if (!f->key_pool)
        return lsm_error(LSM_ENOMEM, "out of memory for range tombstones");
    uint8_t *p = f->key_pool;
    for (size_t i = 0; i < s->nbounds; i++) {
        memcpy(p, s->bounds[i].key, s->bounds[i].nkey);
        s->bounds[i].key = p;
        p += s->bounds[i].nkey;
    }
    return LSM_OK;
}

/* Appends the active set's seqs, newest first, to the seq pool. */
static int frags_push_seqs(range_frags *f, frags_scratch *s)
{
    if (s->seq_len + s->nactive > s->seq_cap) {
        size_t cap = s->seq_cap ? s->seq_cap : 16;
        while (cap < s->seq_len + s->nactive)
            cap *= 2;
        uint64_t *grown = realloc(f->seq_pool, cap * sizeof *grown);
        if (!grown)
            return lsm_error(LSM_ENOMEM, "out of memory for range tombstones");
        f->seq_pool = grown;
        s->seq_cap = cap;
    }
    uint64_t *at = f->seq_pool + s->seq_len;
    for (size_t i = 0; i < s->nactive; i++)
        at[i] = s->tombs[s->active[i]].seq;
    qsort(at, s->nactive, sizeof *at, seq_desc);
    s->seq_len += s->nactive;
    return LSM_OK;
}

/* The sweep: at each boundary, drop the tombstones that end there, add
 * those that start there; the active set covers the whole gap to the next
 * boundary (every end is a boundary), so it makes one fragment. */
static int frags_sweep(range_frags *f, frags_scratch *s)
{
    size_t next = 0;
    for (size_t b = 0; b + 1 < s->nbounds; b++) {
        const bound_key *at = &s->bounds[b];
        size_t w = 0;
        for (size_t i = 0; i < s->nactive; i++) {
            const range_tomb *t = &s->tombs[s->active[i]];
            if (user_key_cmp(t->hi, t->nhi, at->key, at->nkey) > 0)
                s->active[w++] = s->active[i];
        }
        s->nactive = w;
        while (next < s->n &&
               user_key_cmp(s->tombs[next].lo, s->tombs[next].nlo, at->key,
                            at->nkey) <= 0)
            s->active[s->nactive++] = next++;
        if (s->nactive == 0)
            continue;
        s->seq_at[f->n] = s->seq_len;
        int rc = frags_push_seqs(f, s);
        if (rc != LSM_OK)
            return rc;
        f->frags[f->n++] = (range_frag){at->key,    at[1].key, at->nkey,
                                        at[1].nkey, NULL,      s->nactive};
    }
    for (size_t i = 0; i < f->n; i++)
        f->frags[i].seqs = f->seq_pool + s->seq_at[i];
    return LSM_OK;
}

int range_frags_build(const range_tomb *t, size_t n, uint64_t max_seq,
                      range_frags **out)
{
    *out = NULL;
    frags_scratch s = {0};
    range_frags *f = calloc(1, sizeof *f);
    int rc = f ? LSM_OK
               : lsm_error(LSM_ENOMEM, "out of memory for range tombstones");
    if (rc == LSM_OK)
        rc = frags_collect(&s, t, n, max_seq);
    if (rc == LSM_OK) {
        f->n_tombs = s.n;
        f->frags = malloc((s.nbounds ? s.nbounds : 1) * sizeof *f->frags);
        if (!f->frags)
            rc = lsm_error(LSM_ENOMEM, "out of memory for range tombstones");
    }
    if (rc == LSM_OK)
        rc = frags_copy_keys(f, &s);
    if (rc == LSM_OK)
        rc = frags_sweep(f, &s);
    frags_scratch_free(&s);
    if (rc != LSM_OK) {
        range_frags_free(f);
        return rc;
    }
    *out = f;
    return LSM_OK;
}

void range_frags_free(range_frags *f)
{
    if (!f)
        return;
    free(f->frags);
    free(f->seq_pool);
    free(f->key_pool);
    free(f);
}

size_t range_frags_find(const range_frags *f, const uint8_t *key, size_t nkey)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const range_frag *fr = &f->frags[mid];
        if (user_key_cmp(fr->hi, fr->nhi, key, nkey) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint64_t range_frag_seq_at(const range_frag *fr, uint64_t read_seq)
{
    for (size_t i = 0; i < fr->nseqs; i++)
        if (fr->seqs[i] <= read_seq)
            return fr->seqs[i];
    return 0;
}

/* The seq fragment i gives key (0 when it does not contain key). */
static uint64_t range_frags_seq_in(const range_frags *f, size_t i,
                                   const uint8_t *key, size_t nkey,
                                   uint64_t read_seq)
{
    if (i >= f->n)
        return 0;
    const range_frag *fr = &f->frags[i];
    if (user_key_cmp(fr->lo, fr->nlo, key, nkey) > 0)
        return 0;
    return range_frag_seq_at(fr, read_seq);
}

uint64_t range_frags_covering(const range_frags *f, const uint8_t *key,
                              size_t nkey, uint64_t read_seq)
{
    if (!f || f->n == 0)
        return 0;
    return range_frags_seq_in(f, range_frags_find(f, key, nkey), key, nkey,
                              read_seq);
}

void range_cursor_init(range_cursor *c, const range_frags *f)
{
    c->f = f;
    c->i = 0;
}

void range_cursor_seek(range_cursor *c, const uint8_t *key, size_t nkey)
{
    if (c->f)
        c->i = range_frags_find(c->f, key, nkey);
}

uint64_t range_cursor_covering(range_cursor *c, const uint8_t *key, size_t nkey,
                               uint64_t read_seq)
{
    const range_frags *f = c->f;
    if (!f)
        return 0;
    while (c->i < f->n &&
           user_key_cmp(f->frags[c->i].hi, f->frags[c->i].nhi, key, nkey) <= 0)
        c->i++;
    return range_frags_seq_in(f, c->i, key, nkey, read_seq);
}
