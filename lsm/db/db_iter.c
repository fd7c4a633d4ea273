/*
 * db_iter.c: the read path: point lookups and range scans.
 *
 * Both read one version (version_int.h), referenced under state_mu and then
 * read without locks, so a flush or compaction never blocks a reader and a
 * reader never sees a half-made change.
 *
 * get probes the sources newest first and stops at the first that knows the
 * key (ignoring versions newer than its read sequence number, in memtables
 * and SSTs alike: those keep older versions for snapshots): the
 * mutable memtable, the immutable ones newest first, the L0 SSTs newest first,
 * then each level (at most one SST per level can hold it). A memtable whose
 * filter rules the key out is not searched. An SST whose key
 * range excludes the key is skipped without I/O; sst_get then asks the bloom
 * filter before reading a block.
 *
 * scan merges only the sources whose key range overlaps the scan:
 *   two_merge(two_merge(merge(memtables), merge(L0)), merge(levels))
 * where each level (or tier) is one concat iterator over its SSTs
 * and the user-facing iterator on top shows, for each key, the newest
 * version, hiding tombstones and enforcing the bounds. It also hides every
 * entry with a sequence number above the one current when the scan began:
 * the mutable memtable keeps taking writes, and an iterator must see the
 * database as it was when opened.
 *
 * A prefix scan (lsm_scan_prefix) is a scan of [P, successor of P) that
 * also asks each SST in that range whether its prefix filter rules P out
 * (sst_prefix_may_match; table/prefix_int.h says when it may answer), and
 * leaves out the SSTs it does; memtables have no prefix filter.
 */
#include "db/db_int.h"
#include "db/read_trace_int.h"

#include "util/status_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- get ------------------------------------------------------------------ */

/* Copies a found entry into the caller's result: LSM_NOTFOUND for a
 * tombstone, else a malloc'd, NUL-terminated copy of the value. */
int db_get_result(const entry *e, void **value, size_t *nvalue)
{
    if (e->type == ENTRY_TOMBSTONE)
        return LSM_NOTFOUND;
    char *copy = malloc(e->nvalue + 1);
    if (!copy)
        return lsm_error(LSM_ENOMEM, "out of memory copying a %zu-byte value",
                         e->nvalue);
    if (e->nvalue)
        memcpy(copy, e->value, e->nvalue);
    copy[e->nvalue] = '\0';
    *value = copy;
    *nvalue = e->nvalue;
    return LSM_OK;
}

/* Where a get looks in an SST, for its trace: the run it belongs to. */
typedef struct get_place {
    int level;        /* 0 for L0, n for Ln, -1 in a tier */
    uint64_t tier_id; /* a tier's id, else 0 */
} get_place;

/* Searches one SST whose key range holds key for the newest version
 * visible at read_seq. *decided is set when it knows the key (value or
 * tombstone); rc is then the get's answer. An SST whose versions of key are
 * all newer than read_seq does not decide it, as a memtable does not. With
 * tr, the step is recorded there. */
static int get_from_sst(sst *t, uint64_t read_seq, const uint8_t *key,
                        size_t nkey, bool *decided, void **value,
                        size_t *nvalue, read_trace *tr, get_place at,
                        uint64_t *covered)
{
    bool found = false;
    entry e;
    void *owned = NULL;
    sst_get_trace g;
    uint64_t in_sst = sst_range_covering(t, key, nkey, read_seq);
    if (in_sst > *covered)
        *covered = in_sst;
    int rc = tr ? sst_get_traced(t, key, nkey, read_seq, &found, &e, &owned, &g)
                : sst_get(t, key, nkey, read_seq, &found, &e, &owned);
    if (rc != LSM_OK)
        return rc;
    if (tr)
        read_trace_sst_get(tr, sst_id(t), at.level, at.tier_id, &g, found, &e);
    if (!found || e.seq < *covered) {
        free(owned);
        if (*covered == 0)
            return LSM_OK;
        /* A range tombstone here or in a newer source hides key: every
         * older source holds only older versions of it. */
        *decided = true;
        if (tr)
            read_trace_range_deleted(tr, *covered);
        return LSM_NOTFOUND;
    }
    *decided = true;
    rc = db_get_result(&e, value, nvalue);
    free(owned);
    return rc;
}

/* Index of the SST of a sorted, non-overlapping level whose range may hold
 * key, or n when none does: the first SST whose last key is >= key. */
static size_t level_find(const sorted_run *lv, const uint8_t *key, size_t nkey)
{
    return sst_find_by_last_key(lv->ssts, lv->n_ssts, key, nkey);
}

/* Searches a memtable for the newest version of key visible at read_seq,
 * unless its filter rules key (whose memtable_key_hash is key_hash) out,
 * which *n_filtered counts; with tr, records the search or the skip. */
static bool get_from_memtable(memtable *mt, lsm_read_source source,
                              uint64_t read_seq, const uint8_t *key,
                              size_t nkey, uint64_t key_hash, entry *e,
                              read_trace *tr, uint64_t *n_filtered,
                              uint64_t *covered)
{
    if (memtable_num_ranges(mt)) {
        uint64_t s = memtable_range_covering(mt, key, nkey, read_seq);
        if (s > *covered)
            *covered = s;
    }
    if (!memtable_may_contain(mt, key_hash)) {
        (*n_filtered)++;
        if (tr)
            read_trace_add(tr, source, memtable_id(mt), 0, 0,
                           LSM_READ_SKIPPED_BLOOM)
                ->bloom_checked = 1;
        return false;
    }
    if (!tr)
        return memtable_get_at(mt, key, nkey, read_seq, e);
    uint64_t n_compared = 0;
    bool found = memtable_get_counted(mt, key, nkey, read_seq, e, &n_compared);
    read_trace_memtable_get(tr, source, memtable_id(mt), found, e, n_compared,
                            memtable_has_filter(mt));
    return found;
}

/* Whether any memtable of v has a filter. Each is made with the options
 * of its open, so all or none do; asking each keeps a get right even if
 * they did not (a filter probed with another key's hash could miss). */
static bool version_memtables_filtered(const version *v)
{
    if (memtable_has_filter(v->mem))
        return true;
    for (size_t i = 0; i < v->n_imm; i++)
        if (memtable_has_filter(v->imm[i]))
            return true;
    return false;
}

/* The mutable memtable, then the immutable ones newest first, until one
 * holds a version of key visible at read_seq (in *e, returning true) or a
 * range tombstone covering key (its seq in *covered; a version below it
 * is hidden).
 * The key is hashed once for every filter (not at all without them). */
static bool get_from_memtables(version *v, uint64_t read_seq,
                               const uint8_t *key, size_t nkey, entry *e,
                               read_trace *tr, uint64_t *n_filtered,
                               uint64_t *covered)
{
    uint64_t h =
        version_memtables_filtered(v) ? memtable_key_hash(key, nkey) : 0;
    bool found = get_from_memtable(v->mem, LSM_SOURCE_MEMTABLE, read_seq, key,
                                   nkey, h, e, tr, n_filtered, covered);
    for (size_t i = 0; i < v->n_imm && !found && *covered == 0; i++)
        found = get_from_memtable(v->imm[i], LSM_SOURCE_IMMUTABLE, read_seq,
                                  key, nkey, h, e, tr, n_filtered, covered);
    return found;
}

/* Searches t if its key range holds key (else, with tr, records the skip). */
static int get_from_candidate(sst *t, uint64_t read_seq, const uint8_t *key,
                              size_t nkey, bool *decided, void **value,
                              size_t *nvalue, read_trace *tr, get_place at,
                              uint64_t *covered)
{
    if (sst_key_in_range(t, key, nkey))
        return get_from_sst(t, read_seq, key, nkey, decided, value, nvalue, tr,
                            at, covered);
    if (tr)
        read_trace_add(tr, LSM_SOURCE_SST, sst_id(t), at.level, at.tier_id,
                       LSM_READ_SKIPPED_RANGE);
    return LSM_OK;
}

/* The get itself; tr (NULL for a plain get) receives every step, and
 * *n_filtered counts the memtables whose filter ruled key out. */
static int get_from_version(version *v, uint64_t read_seq, const uint8_t *key,
                            size_t nkey, void **value, size_t *nvalue,
                            read_trace *tr, uint64_t *n_filtered)
{
    entry e;
    uint64_t covered = 0; /* newest range tombstone over key so far */
    bool found = get_from_memtables(v, read_seq, key, nkey, &e, tr, n_filtered,
                                    &covered);
    if (found && e.seq > covered)
        return db_get_result(&e, value, nvalue);
    if (covered) {
        if (tr)
            read_trace_range_deleted(tr, covered);
        return LSM_NOTFOUND;
    }

    bool decided = false;
    int rc = LSM_OK;
    get_place at = {0, 0};
    for (size_t i = 0; i < v->n_l0 && !decided && rc == LSM_OK; i++)
        rc = get_from_candidate(v->l0[i], read_seq, key, nkey, &decided, value,
                                nvalue, tr, at, &covered);
    for (size_t l = 0; l < v->n_levels && !decided && rc == LSM_OK; l++) {
        const sorted_run *lv = &v->levels[l];
        if (lv->n_ssts == 0)
            continue;
        /* The one SST that may hold key; past them all, the last one is
         * where the search ended, and its range excludes key. */
        size_t i = level_find(lv, key, nkey);
        if (i == lv->n_ssts)
            i--;
        if (tr)
            read_trace_place(v, l, &at.level, &at.tier_id);
        rc = get_from_candidate(lv->ssts[i], read_seq, key, nkey, &decided,
                                value, nvalue, tr, at, &covered);
    }
    if (rc == LSM_OK && !decided)
        rc = LSM_NOTFOUND;
    return rc;
}

/* lsm_get; with trace not NULL (lsm_get_explain), also the trace of the
 * get in *trace on LSM_OK and LSM_NOTFOUND. */
static int db_iter_get(lsm_db *db, const lsm_snapshot *snap, const void *key,
                       size_t nkey, void **value, size_t *nvalue,
                       lsm_read_trace **trace)
{
    lsm_error_clear();
    if (!db || !value || !nvalue)
        return lsm_error(LSM_EINVAL, "lsm_get needs a handle and somewhere "
                                     "to put the value");
    *value = NULL;
    *nvalue = 0;
    int rc = key_check(key, nkey);
    if (rc != LSM_OK)
        return rc;
    /* A batch being applied has entries above visible_seq, so a get sees
     * all of it or none. */
    uint64_t read_seq;
    version *v;
    rc = db_read_begin(db, snap, &read_seq, &v);
    if (rc != LSM_OK)
        return rc;
    COUNTER_ADD(&db->ctrs, gets, 1);
    read_trace *tr = NULL;
    uint64_t n_filtered = 0;
    if (trace && !(tr = read_trace_new(v)))
        rc = lsm_error(LSM_ENOMEM, "out of memory for a read trace");
    else
        rc = get_from_version(v, read_seq, key, nkey, value, nvalue, tr,
                              &n_filtered);
    /* One add per get, however many memtables the filters skipped. */
    if (n_filtered)
        COUNTER_ADD(&db->ctrs, memtable_bloom_negatives, n_filtered);
    db_pins_release_version(db, v);
    if (tr && (rc == LSM_OK || rc == LSM_NOTFOUND))
        *trace = read_trace_finish_get(tr);
    else
        read_trace_free(tr);
    return rc;
}

int lsm_get(lsm_db *db, const void *key, size_t nkey, void **value,
            size_t *nvalue)
{
    return db_iter_get(db, NULL, key, nkey, value, nvalue, NULL);
}

int lsm_get_at(lsm_db *db, const lsm_snapshot *snap, const void *key,
               size_t nkey, void **value, size_t *nvalue)
{
    return db_iter_get(db, snap, key, nkey, value, nvalue, NULL);
}

int lsm_get_explain(lsm_db *db, const void *key, size_t nkey, void **value,
                    size_t *nvalue, lsm_read_trace **trace)
{
    if (!trace) {
        lsm_error_clear();
        return lsm_error(LSM_EINVAL, "lsm_get_explain needs somewhere to put "
                                     "the trace");
    }
    *trace = NULL;
    return db_iter_get(db, NULL, key, nkey, value, nvalue, trace);
}

/* --- choosing the sources of a scan -------------------------------------- */

/* Whether a range ending at last lies wholly below lo. */
static bool key_range_below(const uint8_t *last, size_t nlast,
                            const lsm_bound *lo)
{
    if (lo->kind == LSM_BOUND_UNBOUNDED)
        return false;
    int c = user_key_cmp(last, nlast, lo->key, lo->nkey);
    return c < 0 || (c == 0 && lo->kind == LSM_BOUND_EXCLUDED);
}

/* Whether a range starting at first lies wholly above hi. */
static bool key_range_above(const uint8_t *first, size_t nfirst,
                            const lsm_bound *hi)
{
    if (hi->kind == LSM_BOUND_UNBOUNDED)
        return false;
    int c = user_key_cmp(first, nfirst, hi->key, hi->nkey);
    return c > 0 || (c == 0 && hi->kind == LSM_BOUND_EXCLUDED);
}

/* Whether [first, last] (a source's key range) can hold keys of [lo, hi]. */
static bool range_overlaps(const uint8_t *first, size_t nfirst,
                           const uint8_t *last, size_t nlast,
                           const lsm_bound *lo, const lsm_bound *hi)
{
    return !key_range_below(last, nlast, lo) &&
           !key_range_above(first, nfirst, hi);
}

static bool db_iter_memtable_overlaps(const memtable *mt, const lsm_bound *lo,
                                      const lsm_bound *hi)
{
    const uint8_t *first, *last;
    size_t nfirst, nlast;
    if (!memtable_first_key(mt, &first, &nfirst) ||
        !memtable_last_key(mt, &last, &nlast))
        return false;
    return range_overlaps(first, nfirst, last, nlast, lo, hi);
}

static bool sst_below(const sst *t, const lsm_bound *lo)
{
    size_t nlast;
    const uint8_t *last = sst_last_key(t, &nlast);
    return key_range_below(last, nlast, lo);
}

static bool sst_above(const sst *t, const lsm_bound *hi)
{
    size_t nfirst;
    const uint8_t *first = sst_first_key(t, &nfirst);
    return key_range_above(first, nfirst, hi);
}

static bool db_iter_sst_overlaps(const sst *t, const lsm_bound *lo,
                                 const lsm_bound *hi)
{
    return !sst_below(t, lo) && !sst_above(t, hi);
}

/* The SSTs of a run (sorted by key, disjoint: a level or one tier) that
 * overlap [lo, hi] are consecutive, [*first, *first + *n): those wholly
 * below lo form a prefix and those wholly above hi a suffix, so two binary
 * searches find them. A seek with no upper bound at 10M keys compared the
 * bounds with every one of 440 SSTs before; this compares about 20. */
static void run_overlapping(const sorted_run *run, const lsm_bound *lo,
                            const lsm_bound *hi, size_t *first, size_t *n)
{
    size_t a = 0, b = run->n_ssts;
    while (a < b) { /* first SST not below lo */
        size_t mid = a + (b - a) / 2;
        if (sst_below(run->ssts[mid], lo))
            a = mid + 1;
        else
            b = mid;
    }
    size_t start = a;
    b = run->n_ssts;
    while (a < b) { /* first SST above hi, at or after start */
        size_t mid = a + (b - a) / 2;
        if (sst_above(run->ssts[mid], hi))
            b = mid;
        else
            a = mid + 1;
    }
    *first = start;
    *n = a - start;
}

/* A growable list of child iterators that owns them until handed over. */
typedef struct child_list {
    iter **items;
    size_t n, cap;
    bool oom;
} child_list;

static void child_list_push(child_list *cl, iter *it)
{
    if (!it) {
        cl->oom = true;
        return;
    }
    if (cl->n == cl->cap) {
        size_t cap = cl->cap ? 2 * cl->cap : 8;
        iter **grown = realloc(cl->items, cap * sizeof *grown);
        if (!grown) {
            iter_destroy(it);
            cl->oom = true;
            return;
        }
        cl->items = grown;
        cl->cap = cap;
    }
    cl->items[cl->n++] = it;
}

/* What a prefix scan (lsm_scan_prefix) adds to the choice of sources: the
 * extractor of the database and the prefix, and what the filters did. */
typedef struct scan_prefix {
    const prefix_extractor *x;
    const uint8_t *p;
    size_t np;
    uint64_t n_checks, n_skips; /* SSTs whose filter was consulted, skipped */
} scan_prefix;

/* Whether SST t, whose range overlaps the scan's, is to be opened: always
 * for a plain scan (pf NULL); for a prefix scan, unless its prefix filter
 * rules the prefix out. *checked says whether the filter was consulted. */
static bool scan_prefix_keeps(scan_prefix *pf, const sst *t, bool *checked)
{
    *checked = false;
    if (!pf)
        return true;
    bool may = sst_prefix_may_match(t, pf->x, pf->p, pf->np, checked);
    pf->n_checks += *checked ? 1 : 0;
    pf->n_skips += may ? 0 : 1;
    return may;
}

/* For an explained scan: records whether a source is merged in or skipped
 * by range, and returns the stats its iterator counts into. */
static iter_stats *scan_trace_source(read_trace *tr, lsm_read_source source,
                                     uint64_t id, int level, uint64_t tier_id,
                                     bool overlaps)
{
    lsm_read_step *s =
        read_trace_add(tr, source, id, level, tier_id,
                       overlaps ? LSM_READ_OPENED : LSM_READ_SKIPPED_RANGE);
    return read_trace_stats(tr, s);
}

/* Whether a memtable overlaps the range, recorded in tr when tracing. */
static bool scan_memtable_overlaps(const memtable *mt, lsm_read_source source,
                                   const lsm_bound *lo, const lsm_bound *hi,
                                   read_trace *tr, iter_stats **stats)
{
    bool overlaps = db_iter_memtable_overlaps(mt, lo, hi);
    *stats = tr ? scan_trace_source(tr, source, memtable_id(mt), 0, 0, overlaps)
                : NULL;
    return overlaps;
}

/* An explained scan of run l of v, whose SSTs first..first+n-1 overlap the
 * range: records every SST of the run and adds a concat iterator that
 * counts into the steps of those n. */
static void child_list_push_run_traced(child_list *cl, const version *v,
                                       size_t l, size_t first, size_t n,
                                       read_trace *tr)
{
    const sorted_run *run = &v->levels[l];
    int level;
    uint64_t tier_id;
    read_trace_place(v, l, &level, &tier_id);
    iter_stats **stats = calloc(n + 1, sizeof *stats);
    if (!stats) {
        cl->oom = true;
        return;
    }
    for (size_t i = 0; i < run->n_ssts; i++) {
        bool opened = i >= first && i < first + n;
        iter_stats *st = scan_trace_source(
            tr, LSM_SOURCE_SST, sst_id(run->ssts[i]), level, tier_id, opened);
        if (opened)
            stats[i - first] = st;
    }
    if (n > 0)
        child_list_push(cl,
                        concat_iter_new_counted(run->ssts + first, n, stats));
    free(stats);
}

/* A prefix scan's part of run l of v, whose SSTs first..first+n-1 overlap
 * the range: one concat iterator over those of them its prefix filters do
 * not rule out (still sorted and disjoint), recorded in pins; with tr,
 * every SST of the run is recorded with what happened to it. */
static void child_list_push_run_prefix(child_list *cl, const version *v,
                                       size_t l, size_t first, size_t n,
                                       scan_prefix *pf, read_trace *tr,
                                       iter_pins *pins)
{
    const sorted_run *run = &v->levels[l];
    int level;
    uint64_t tier_id;
    read_trace_place(v, l, &level, &tier_id);
    sst **kept = malloc((n + 1) * sizeof *kept);
    iter_stats **stats = calloc(n + 1, sizeof *stats);
    if (!kept || !stats) {
        free(kept);
        free(stats);
        cl->oom = true;
        return;
    }
    size_t n_kept = 0;
    for (size_t i = tr ? 0 : first; i < (tr ? run->n_ssts : first + n); i++) {
        bool in_range = i >= first && i < first + n, checked = false;
        bool open = in_range && scan_prefix_keeps(pf, run->ssts[i], &checked);
        if (tr) {
            lsm_read_step *st = read_trace_add(
                tr, LSM_SOURCE_SST, sst_id(run->ssts[i]), level, tier_id,
                open       ? LSM_READ_OPENED
                : in_range ? LSM_READ_SKIPPED_PREFIX
                           : LSM_READ_SKIPPED_RANGE);
            st->prefix_checked = checked;
            stats[n_kept] = open ? read_trace_stats(tr, st) : NULL;
        }
        if (open)
            kept[n_kept++] = run->ssts[i];
    }
    if (n_kept > 0)
        child_list_push(cl, tr ? concat_iter_new_counted(kept, n_kept, stats)
                               : concat_iter_new(kept, n_kept));
    for (size_t i = 0; i < n_kept; i++)
        db_pins_add_sst(pins, sst_id(kept[i]),
                        v->tiered ? -1 : (int)run->run_id,
                        v->tiered ? run->run_id : 0);
    free(kept);
    free(stats);
}

/* Adds one concat iterator over the SSTs of a level (or tier) that overlap
 * the range: a level counts once in num_active, as in mini-lsm. Their SSTs
 * never overlap, and the overlapping ones are consecutive. Records them in
 * pins, each with its level (or tier); with tr, an explained scan, every
 * SST is recorded in the trace too. */
static void child_list_push_run(child_list *cl, const version *v, size_t l,
                                const lsm_bound *lo, const lsm_bound *hi,
                                scan_prefix *pf, read_trace *tr,
                                iter_pins *pins)
{
    const sorted_run *run = &v->levels[l];
    size_t first, n;
    run_overlapping(run, lo, hi, &first, &n);
    if (pf) {
        child_list_push_run_prefix(cl, v, l, first, n, pf, tr, pins);
        return;
    }
    if (tr)
        child_list_push_run_traced(cl, v, l, first, n, tr);
    else if (n > 0)
        child_list_push(cl, concat_iter_new(run->ssts + first, n));
    for (size_t i = first; i < first + n; i++)
        db_pins_add_sst(pins, sst_id(run->ssts[i]),
                        v->tiered ? -1 : (int)run->run_id,
                        v->tiered ? run->run_id : 0);
}

/* Merges the list's children (newest first) and frees the list: a lone
 * child is its own merge, and an empty list gives *merged = NULL (no
 * iterator to build, seek and step through). false on OOM, with every
 * child destroyed. */
static bool child_list_merge(child_list *cl, iter **merged)
{
    *merged = NULL;
    if (!cl->oom && cl->n == 1)
        *merged = cl->items[0];
    else if (!cl->oom && cl->n > 1)
        cl->oom = !(*merged = merge_iter_new(cl->items, cl->n));
    else
        for (size_t i = 0; i < cl->n; i++)
            iter_destroy(cl->items[i]);
    free(cl->items);
    return !cl->oom;
}

/* newer over older as one iterator (newer wins ties), either may be NULL
 * (nothing there). Consumes both; NULL when both are NULL (with *oom
 * false) or out of memory (*oom true). */
static iter *merge_pair(iter *newer, iter *older, bool *oom)
{
    if (!newer || !older)
        return newer ? newer : older;
    iter *both = two_merge_iter_new(newer, older);
    *oom = !both;
    return both;
}

/* Adds an iterator over memtable mt when it overlaps the range, recording
 * it in pins (and, with tr, whether it was merged or skipped). */
static void child_list_push_memtable(child_list *cl, memtable *mt,
                                     lsm_read_source source,
                                     const lsm_bound *lo, const lsm_bound *hi,
                                     read_trace *tr, iter_pins *pins)
{
    iter_stats *st;
    if (!scan_memtable_overlaps(mt, source, lo, hi, tr, &st))
        return;
    child_list_push(cl, memtable_iter_new_counted(mt, st));
    db_pins_add_memtable(pins, memtable_id(mt));
}

/* Adds an iterator over L0 SST t when it overlaps the range and (for a
 * prefix scan) its prefix filter lets the prefix through, recording it in
 * pins (and, with tr, what happened to it). */
static void child_list_push_l0(child_list *cl, sst *t, const lsm_bound *lo,
                               const lsm_bound *hi, scan_prefix *pf,
                               read_trace *tr, iter_pins *pins)
{
    bool overlaps = db_iter_sst_overlaps(t, lo, hi), checked = false;
    bool open = overlaps && scan_prefix_keeps(pf, t, &checked);
    iter_stats *st = NULL;
    if (tr) {
        lsm_read_step *s = read_trace_add(tr, LSM_SOURCE_SST, sst_id(t), 0, 0,
                                          open       ? LSM_READ_OPENED
                                          : overlaps ? LSM_READ_SKIPPED_PREFIX
                                                     : LSM_READ_SKIPPED_RANGE);
        s->prefix_checked = checked;
        st = read_trace_stats(tr, s);
    }
    if (!open)
        return;
    child_list_push(cl, sst_iter_new_counted(t, st));
    db_pins_add_sst(pins, sst_id(t), 0, 0);
}

/* Builds the merged iterator over every source of v that overlaps the
 * range, recording each in pins (what the iterator keeps alive); with tr
 * (an explained scan) records every source, merged or skipped, in it and
 * has the merged ones count into it. With pf (a prefix scan), SSTs
 * its prefix filters rule out are skipped too. NULL when out of memory. */
static iter *scan_sources(version *v, const lsm_bound *lo, const lsm_bound *hi,
                          scan_prefix *pf, read_trace *tr, iter_pins *pins)
{
    child_list mems = {0}, l0 = {0}, levels = {0};
    child_list_push_memtable(&mems, v->mem, LSM_SOURCE_MEMTABLE, lo, hi, tr,
                             pins);
    for (size_t i = 0; i < v->n_imm; i++)
        child_list_push_memtable(&mems, v->imm[i], LSM_SOURCE_IMMUTABLE, lo, hi,
                                 tr, pins);
    for (size_t i = 0; i < v->n_l0; i++)
        child_list_push_l0(&l0, v->l0[i], lo, hi, pf, tr, pins);
    for (size_t l = 0; l < v->n_levels; l++)
        child_list_push_run(&levels, v, l, lo, hi, pf, tr, pins);
    /* mini-lsm's shape, two_merge(two_merge(memtables, L0), levels), less
     * the parts that are empty or a single source (no merge to step). */
    iter *mem_it, *l0_it, *levels_it;
    bool ok = child_list_merge(&mems, &mem_it);
    ok = child_list_merge(&l0, &l0_it) && ok;
    ok = child_list_merge(&levels, &levels_it) && ok;
    if (!ok) {
        iter_destroy(mem_it);
        iter_destroy(l0_it);
        iter_destroy(levels_it);
        return NULL;
    }
    bool oom = false;
    iter *upper = merge_pair(mem_it, l0_it, &oom);
    if (oom) {
        iter_destroy(levels_it);
        return NULL;
    }
    iter *all = merge_pair(upper, levels_it, &oom);
    if (oom)
        return NULL;
    return all ? all : merge_iter_new(NULL, 0); /* nothing to read */
}

/* --- range tombstones of a scan ------------------------------------------ */

/* Adds the range tombstones of t at or below read_seq. */
static int scan_ranges_of_sst(const sst *t, uint64_t read_seq,
                              range_tomb_list *out)
{
    size_t n;
    const range_tomb *r = sst_range_tombs(t, &n);
    for (size_t i = 0; i < n; i++) {
        if (r[i].seq > read_seq)
            continue;
        int rc = range_tomb_list_add(out, r[i].lo, r[i].nlo, r[i].hi, r[i].nhi,
                                     r[i].seq);
        if (rc != LSM_OK)
            return rc;
    }
    return LSM_OK;
}

/* Gathers the range tombstones a scan of [lo, hi] at read_seq must honour
 * (every memtable's, and those of the SSTs whose key range, which covers
 * their tombstones, overlaps the scan's) and fragments them into *out
 * (NULL when there are none: settle then pays one test per key). */
static int scan_ranges(version *v, const lsm_bound *lo, const lsm_bound *hi,
                       uint64_t read_seq, range_frags **out)
{
    range_tomb_list all = {0};
    int rc = memtable_collect_ranges(v->mem, read_seq, &all);
    for (size_t i = 0; i < v->n_imm && rc == LSM_OK; i++)
        rc = memtable_collect_ranges(v->imm[i], read_seq, &all);
    for (size_t i = 0; i < v->n_l0 && rc == LSM_OK; i++)
        if (db_iter_sst_overlaps(v->l0[i], lo, hi))
            rc = scan_ranges_of_sst(v->l0[i], read_seq, &all);
    for (size_t l = 0; l < v->n_levels && rc == LSM_OK; l++) {
        size_t first, n;
        run_overlapping(&v->levels[l], lo, hi, &first, &n);
        for (size_t i = first; i < first + n && rc == LSM_OK; i++)
            rc = scan_ranges_of_sst(v->levels[l].ssts[i], read_seq, &all);
    }
    *out = NULL;
    if (rc == LSM_OK && all.n)
        rc = range_frags_build(all.v, all.n, read_seq, out);
    range_tomb_list_free(&all);
    return rc;
}

/* --- the user-facing iterator -------------------------------------------- */

/* As mini-lsm's LsmIterator, the count passes straight through from the
 * merged sources, even once the upper bound has ended the scan. */
static void db_iter_refresh_active(lsm_iter *it)
{
    size_t n = iter_num_active(it->inner);
    atomic_store_explicit(&it->num_active, n, memory_order_relaxed);
}

/* Whether key is past the upper bound. */
static bool db_iter_past_end(const lsm_iter *it, const uint8_t *key,
                             size_t nkey)
{
    if (it->hi_kind == LSM_BOUND_UNBOUNDED)
        return false;
    int c = user_key_cmp(key, nkey, it->hi_key, it->hi_nkey);
    return c > 0 || (c == 0 && it->hi_kind == LSM_BOUND_EXCLUDED);
}

static int db_iter_remember_key(lsm_iter *it, const entry *e)
{
    if (e->nkey > it->key_cap) {
        uint8_t *grown = realloc(it->key, e->nkey);
        if (!grown)
            return lsm_error(LSM_ENOMEM, "out of memory in a scan");
        it->key = grown;
        it->key_cap = e->nkey;
    }
    memcpy(it->key, e->key, e->nkey);
    it->nkey = e->nkey;
    return LSM_OK;
}

/* Counts one entry the user-facing iterator passed over (or, for
 * entries_returned, stopped at) in an explained scan's totals. */
#define DB_ITER_COUNT(it, field)                                               \
    do {                                                                       \
        if ((it)->trace)                                                       \
            (it)->trace->pub->field++;                                         \
    } while (0)

/* From the inner iterator's position, settles on the next live key: skips
 * older versions of the key just left (skip_current) and tombstoned keys
 * (with all their versions), and stops at the upper bound. */
static int db_iter_settle(lsm_iter *it, bool skip_current)
{
    int rc = LSM_OK;
    bool skipping = skip_current;
    while (rc == LSM_OK && iter_valid(it->inner)) {
        entry e;
        iter_entry(it->inner, &e);
        if (e.seq > it->read_seq) { /* written after the scan began */
            DB_ITER_COUNT(it, newer_skipped);
            rc = iter_next(it->inner);
            continue;
        }
        if (skipping && user_key_cmp(e.key, e.nkey, it->key, it->nkey) == 0) {
            DB_ITER_COUNT(it, versions_skipped);
            rc = iter_next(it->inner);
            continue;
        }
        if (db_iter_past_end(it, e.key, e.nkey))
            break;
        rc = db_iter_remember_key(it, &e);
        if (rc != LSM_OK)
            break;
        /* The key's newest visible version, under a newer range tombstone:
         * the key is deleted, with all its versions. */
        if (it->ranges && e.seq < range_cursor_covering(&it->range_at, e.key,
                                                        e.nkey, it->read_seq)) {
            DB_ITER_COUNT(it, range_deleted_skipped);
            skipping = true;
            rc = iter_next(it->inner);
            continue;
        }
        if (e.type == ENTRY_TOMBSTONE) {
            DB_ITER_COUNT(it, tombstones_skipped);
            skipping = true; /* hide this key's older versions too */
            rc = iter_next(it->inner);
            continue;
        }
        it->value = e.value;
        it->nvalue = e.nvalue;
        it->valid = true;
        DB_ITER_COUNT(it, entries_returned);
        db_iter_refresh_active(it);
        return LSM_OK;
    }
    it->valid = false;
    db_iter_refresh_active(it);
    return rc;
}

/* Positions a new iterator at the first live key >= lo (> lo when lo is
 * excluded). */
static int db_iter_start(lsm_iter *it, const lsm_bound *lo)
{
    if (lo->kind == LSM_BOUND_UNBOUNDED) {
        int rc = iter_seek(it->inner, NULL, 0);
        return rc == LSM_OK ? db_iter_settle(it, false) : rc;
    }
    int rc = iter_seek(it->inner, lo->key, lo->nkey);
    if (rc != LSM_OK)
        return rc;
    range_cursor_seek(&it->range_at, lo->key, lo->nkey);
    if (lo->kind == LSM_BOUND_EXCLUDED) {
        /* Skip every version of lo itself. */
        entry fake = {.key = lo->key, .nkey = lo->nkey};
        rc = db_iter_remember_key(it, &fake);
        if (rc != LSM_OK)
            return rc;
        return db_iter_settle(it, true);
    }
    return db_iter_settle(it, false);
}

static int db_iter_copy_bound(lsm_iter *it, const lsm_bound *hi)
{
    it->hi_kind = hi->kind;
    if (hi->kind == LSM_BOUND_UNBOUNDED)
        return LSM_OK;
    it->hi_key = malloc(hi->nkey ? hi->nkey : 1);
    if (!it->hi_key)
        return lsm_error(LSM_ENOMEM, "out of memory starting a scan");
    memcpy(it->hi_key, hi->key, hi->nkey);
    it->hi_nkey = hi->nkey;
    return LSM_OK;
}

static void db_iter_link(lsm_db *db, lsm_iter *it)
{
    pthread_mutex_lock(&db->state_mu);
    it->iter_id = db->next_iter_id++;
    it->next_open = db->iters;
    if (db->iters)
        db->iters->prev_open = it;
    db->iters = it;
    db->n_iters++;
    pthread_mutex_unlock(&db->state_mu);
}

static void db_iter_unlink(lsm_db *db, lsm_iter *it)
{
    pthread_mutex_lock(&db->state_mu);
    if (it->prev_open)
        it->prev_open->next_open = it->next_open;
    else
        db->iters = it->next_open;
    if (it->next_open)
        it->next_open->prev_open = it->prev_open;
    db->n_iters--;
    pthread_mutex_unlock(&db->state_mu);
}

static int check_bound(const lsm_bound *b, const char *which)
{
    if (b->kind == LSM_BOUND_UNBOUNDED)
        return LSM_OK;
    if (b->kind != LSM_BOUND_INCLUDED && b->kind != LSM_BOUND_EXCLUDED)
        return lsm_error(LSM_EINVAL, "%s bound has unknown kind %d", which,
                         (int)b->kind);
    int rc = key_check(b->key, b->nkey);
    if (rc != LSM_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", lsm_errmsg());
        return lsm_error(rc, "%s bound: %s", which, why);
    }
    return LSM_OK;
}

/* Puts newest (NULL: none) in front of a scan's sources, preferred on a
 * tie: a transaction's own writes carry the read seq itself. Takes both;
 * NULL when sources is (out of memory). */
static iter *merge_newest(iter *newest, iter *sources)
{
    if (!newest)
        return sources;
    if (!sources) {
        iter_destroy(newest);
        return NULL;
    }
    return two_merge_iter_new(newest, sources);
}

/* Counts what a prefix scan's filters did, in the database's counters
 * and (explained) in its trace's totals. */
static void scan_prefix_count(lsm_db *db, const scan_prefix *pf, read_trace *tr)
{
    if (!pf)
        return;
    if (pf->n_checks)
        COUNTER_ADD(&db->ctrs, prefix_checks, pf->n_checks);
    if (pf->n_skips)
        COUNTER_ADD(&db->ctrs, prefix_skips, pf->n_skips);
    if (tr) {
        tr->pub->prefix_checks = pf->n_checks;
        tr->pub->prefix_skips = pf->n_skips;
    }
}

/* lsm_scan, and with explain lsm_scan_explain (the iterator keeps a
 * trace). newest, when not NULL, is merged in as the newest source (a
 * transaction's own writes: db_iter_scan_with); it is taken over. pf, when
 * not NULL, makes it a prefix scan: [lo, hi) are then the prefix's bounds
 * and SSTs are also skipped by their prefix filters. */
static int db_iter_scan(lsm_db *db, const lsm_snapshot *snap,
                        const lsm_bound *lo, const lsm_bound *hi, bool explain,
                        iter *newest, scan_prefix *pf, lsm_iter **out)
{
    static const lsm_bound unbounded = {.kind = LSM_BOUND_UNBOUNDED};
    lsm_error_clear();
    if (!db || !out) {
        iter_destroy(newest);
        return lsm_error(LSM_EINVAL, "lsm_scan needs a handle and somewhere "
                                     "to put the iterator");
    }
    *out = NULL;
    lo = lo ? lo : &unbounded;
    hi = hi ? hi : &unbounded;
    int rc = check_bound(lo, "lower");
    if (rc == LSM_OK)
        rc = check_bound(hi, "upper");
    uint64_t read_seq = 0;
    version *v = NULL;
    if (rc == LSM_OK)
        rc = db_read_begin(db, snap, &read_seq, &v);
    lsm_iter *it = rc == LSM_OK ? calloc(1, sizeof *it) : NULL;
    if (!it) {
        iter_destroy(newest);
        if (rc != LSM_OK)
            return rc;
        db_pins_release_version(db, v);
        return lsm_error(LSM_ENOMEM, "out of memory starting a scan");
    }
    it->db = db;
    it->read_seq = read_seq;
    /* The sources take their own references: the iterator keeps only
     * them alive, not the whole version (db_pins.c). */
    if (explain && !(it->trace = read_trace_new(v)))
        rc = lsm_error(LSM_ENOMEM, "out of memory for a read trace");
    if (rc != LSM_OK)
        iter_destroy(newest);
    if (rc == LSM_OK) {
        it->inner = scan_sources(v, lo, hi, pf, it->trace, &it->pins);
        scan_prefix_count(db, pf, it->trace);
        it->inner = merge_newest(newest, it->inner);
        if (!it->inner || it->pins.oom)
            rc = lsm_error(LSM_ENOMEM, "out of memory starting a scan");
    }
    if (rc == LSM_OK)
        rc = scan_ranges(v, lo, hi, read_seq, &it->ranges);
    range_cursor_init(&it->range_at, it->ranges);
    db_pins_release_version(db, v);
    if (rc == LSM_OK)
        rc = db_iter_copy_bound(it, hi);
    if (rc == LSM_OK)
        rc = db_iter_start(it, lo);
    if (rc != LSM_OK) {
        iter_destroy(it->inner);
        db_pins_free(&it->pins);
        read_trace_free(it->trace);
        range_frags_free(it->ranges);
        free(it->hi_key);
        free(it->key);
        free(it);
        return rc;
    }
    COUNTER_ADD(&db->ctrs, scans, 1);
    db_iter_link(db, it);
    *out = it;
    return LSM_OK;
}

int lsm_scan(lsm_db *db, const lsm_bound *lo, const lsm_bound *hi,
             lsm_iter **out)
{
    return db_iter_scan(db, NULL, lo, hi, false, NULL, NULL, out);
}

int db_iter_scan_with(lsm_db *db, const lsm_snapshot *snap, const lsm_bound *lo,
                      const lsm_bound *hi, iter *newest, lsm_iter **out)
{
    return db_iter_scan(db, snap, lo, hi, false, newest, NULL, out);
}

int lsm_scan_at(lsm_db *db, const lsm_snapshot *snap, const lsm_bound *lo,
                const lsm_bound *hi, lsm_iter **out)
{
    return db_iter_scan(db, snap, lo, hi, false, NULL, NULL, out);
}

int lsm_scan_explain(lsm_db *db, const lsm_bound *lo, const lsm_bound *hi,
                     lsm_iter **out)
{
    return db_iter_scan(db, NULL, lo, hi, true, NULL, NULL, out);
}

/* --- prefix scans --------------------------------------------------------- */

int db_prefix_bounds(const void *prefix, size_t nprefix, lsm_bound *lo,
                     lsm_bound *hi, uint8_t **owned)
{
    *owned = NULL;
    if (!prefix || nprefix == 0 || nprefix > LSM_MAX_KEY_BYTES)
        return lsm_error(LSM_EINVAL, "a scan prefix is 1 to %u bytes (got %zu)",
                         LSM_MAX_KEY_BYTES, prefix ? nprefix : 0);
    *lo = (lsm_bound){LSM_BOUND_INCLUDED, prefix, nprefix};
    /* A prefix of 0xff bytes alone has no successor: every key from it
     * on starts with it. */
    uint8_t *succ = malloc(nprefix);
    if (!succ)
        return lsm_error(LSM_ENOMEM, "out of memory starting a scan");
    memcpy(succ, prefix, nprefix);
    size_t n = key_prefix_successor(succ, nprefix);
    if (n == 0) {
        free(succ);
        *hi = (lsm_bound){.kind = LSM_BOUND_UNBOUNDED};
        return LSM_OK;
    }
    *hi = (lsm_bound){LSM_BOUND_EXCLUDED, succ, n};
    *owned = succ;
    return LSM_OK;
}

/* lsm_scan_prefix and its variants: db_iter_scan over the prefix's bounds,
 * with the database's extractor for the filters. */
static int db_iter_scan_prefix(lsm_db *db, const lsm_snapshot *snap,
                               const void *prefix, size_t nprefix, bool explain,
                               iter *newest, lsm_iter **out)
{
    lsm_error_clear();
    if (!db || !out) {
        iter_destroy(newest);
        return lsm_error(LSM_EINVAL, "lsm_scan_prefix needs a handle and "
                                     "somewhere to put the iterator");
    }
    *out = NULL;
    lsm_bound lo, hi;
    uint8_t *owned;
    int rc = db_prefix_bounds(prefix, nprefix, &lo, &hi, &owned);
    if (rc != LSM_OK) {
        iter_destroy(newest);
        return rc;
    }
    scan_prefix pf = {.x = &db->prefix, .p = prefix, .np = nprefix};
    rc = db_iter_scan(db, snap, &lo, &hi, explain, newest, &pf, out);
    free(owned); /* the iterator copied the upper bound */
    return rc;
}

int lsm_scan_prefix(lsm_db *db, const void *prefix, size_t nprefix,
                    lsm_iter **out)
{
    return db_iter_scan_prefix(db, NULL, prefix, nprefix, false, NULL, out);
}

int lsm_scan_prefix_at(lsm_db *db, const lsm_snapshot *snap, const void *prefix,
                       size_t nprefix, lsm_iter **out)
{
    return db_iter_scan_prefix(db, snap, prefix, nprefix, false, NULL, out);
}

int lsm_scan_prefix_explain(lsm_db *db, const void *prefix, size_t nprefix,
                            lsm_iter **out)
{
    return db_iter_scan_prefix(db, NULL, prefix, nprefix, true, NULL, out);
}

int db_iter_scan_prefix_with(lsm_db *db, const lsm_snapshot *snap,
                             const void *prefix, size_t nprefix, iter *newest,
                             lsm_iter **out)
{
    return db_iter_scan_prefix(db, snap, prefix, nprefix, false, newest, out);
}

int lsm_iter_trace(const lsm_iter *it, lsm_read_trace **out)
{
    lsm_error_clear();
    if (out)
        *out = NULL;
    if (!it || !out)
        return lsm_error(LSM_EINVAL, "lsm_iter_trace needs an iterator and "
                                     "somewhere to put the trace");
    if (!it->trace)
        return lsm_error(LSM_EINVAL,
                         "iterator %llu was opened by lsm_scan, "
                         "not lsm_scan_explain: it keeps no trace",
                         (unsigned long long)it->iter_id);
    int rc = read_trace_export_scan(it->trace, out);
    if (rc != LSM_OK)
        return lsm_error(rc, "out of memory copying a read trace");
    return LSM_OK;
}

int lsm_iter_valid(const lsm_iter *it)
{
    return it && it->valid;
}

int lsm_iter_next(lsm_iter *it)
{
    lsm_error_clear();
    if (!it)
        return lsm_error(LSM_EINVAL, "iterator is NULL");
    if (!it->valid)
        return LSM_OK;
    int rc = iter_next(it->inner);
    if (rc == LSM_OK)
        rc = db_iter_settle(it, true);
    if (rc != LSM_OK) {
        it->valid = false;
        db_iter_refresh_active(it);
    }
    return rc;
}

const void *lsm_iter_key(const lsm_iter *it, size_t *nkey)
{
    if (!it || !it->valid) {
        *nkey = 0;
        return NULL;
    }
    *nkey = it->nkey;
    return it->key;
}

const void *lsm_iter_value(const lsm_iter *it, size_t *nvalue)
{
    if (!it || !it->valid) {
        *nvalue = 0;
        return NULL;
    }
    *nvalue = it->nvalue;
    return it->nvalue ? it->value : (const void *)"";
}

size_t lsm_iter_num_active(const lsm_iter *it)
{
    return it ? atomic_load_explicit(&it->num_active, memory_order_relaxed) : 0;
}

uint64_t lsm_iter_id(const lsm_iter *it)
{
    /* Set under state_mu when linked, before lsm_scan returned it. */
    return it ? it->iter_id : 0;
}

void lsm_iter_close(lsm_iter *it)
{
    if (!it)
        return;
    lsm_db *db = it->db;
    db_iter_unlink(db, it);
    iter_destroy(it->inner); /* the sources drop their references */
    db_pins_free(&it->pins);
    read_trace_free(it->trace);
    range_frags_free(it->ranges);
    free(it->hi_key);
    free(it->key);
    free(it);
    /* This iterator may have been the last reader of SSTs a compaction
     * removed: their files go now. */
    db_pins_sweep(db);
}
