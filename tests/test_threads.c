/*
 * test_threads.c: races in LSM_SCHED_THREADS mode, through lsm.h only.
 *
 * Meant to run under ThreadSanitizer (meson -Db_sanitize=thread, with
 * TSAN_OPTIONS=halt_on_error=1) as well as in plain and ASan builds.
 *
 * One database with tiny memtables, so the background flush thread works
 * all the time, is shared by
 *   - two writer threads, each owning a disjoint key range, putting and
 *     deleting; every write of a key carries a per-key counter c, and whether
 *     write c is a put or a delete, and the exact value bytes, are a pure
 *     function of (writer, key, c);
 *   - two reader threads doing gets and short range scans;
 *   - one maintenance thread calling lsm_flush, lsm_state_get (checking the
 *     snapshot's invariants) and lsm_compact_full.
 * Writers publish "issued" (before the write) and "completed" (after it)
 * counters per key. A reader that loads completed = d before its read and
 * issued = i after it must see the state after some write s in [d, i]: a
 * value that is exactly write s's value, or absence explained by a delete
 * (or by s = 0, never written). Within one reader thread the s it can have
 * seen for a key never goes back (monotonic reads).
 *
 * Every loop is bounded by an operation count; nothing sleeps and nothing
 * depends on timing. Afterwards every key must hold its writer's last write
 * (also after a clean close and reopen), and the event callback, called on
 * the background thread and counting with atomics, must agree with the
 * counters in lsm_state, both right after lsm_flush and once lsm_close has
 * waited for all background work. The callback also calls lsm_state_get
 * now and then (the header allows it), and checks the threads-mode promise
 * that a write never flushes on the writer's thread.
 *
 * A second test checks lsm_close: LSM_EBUSY while an iterator is open (the
 * handle and the iterator keep working), LSM_OK once none is.
 *
 * Thread safety: worker threads never call cmocka; they record the first
 * failure in the shared struct and stop, and the main thread asserts after
 * joining them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_WRITERS 2
#define N_READERS 2
#define KEYS_PER_WRITER 48
#define WRITER_OPS 8000
#define READER_OPS 8000
#define MAINT_MIN_ROUNDS 12
#define MAINT_MAX_ROUNDS 400
#define KEY_LEN 7 /* "w%u/k%03u" */
#define VALUE_CAP 160
#define EV_TYPES 16 /* room for event types beyond those known here */

/* --- helpers ------------------------------------------------------------- */

/* splitmix64 with its increment folded in: a pure hash of z. */
static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int key_cmp(const void *a, size_t na, const void *b, size_t nb)
{
    size_t m = na < nb ? na : nb;
    int c = m ? memcmp(a, b, m) : 0;
    if (c != 0)
        return c;
    return na < nb ? -1 : na > nb ? 1 : 0;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return dflt;
    return strtoull(s, NULL, 0);
}

/* --- the deterministic write schedule ------------------------------------ */

static void make_key(unsigned w, unsigned k, char out[KEY_LEN + 1])
{
    snprintf(out, KEY_LEN + 1, "w%u/k%03u", w, k);
}

/* Parses a key made by make_key; 0 if it is not one. */
static int parse_key(const void *p, size_t n, unsigned *w, unsigned *k)
{
    const char *s = p;
    if (n != KEY_LEN || s[0] != 'w' || s[2] != '/' || s[3] != 'k')
        return 0;
    for (int i = 4; i < 7; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    if (s[1] < '0' || s[1] >= '0' + N_WRITERS)
        return 0;
    *w = (unsigned)(s[1] - '0');
    *k = (unsigned)((s[4] - '0') * 100 + (s[5] - '0') * 10 + (s[6] - '0'));
    return *k < KEYS_PER_WRITER;
}

static uint64_t write_hash(unsigned w, unsigned k, uint64_t c)
{
    return mix64(((uint64_t)w << 56) ^ ((uint64_t)k << 40) ^ c);
}

/* Write number c (from 1) of key (w, k) is a delete about one time in 7;
 * c = 0 stands for "never written", which is also absent. */
static int write_is_absent(unsigned w, unsigned k, uint64_t c)
{
    return c == 0 || write_hash(w, k, c) % 7 == 0;
}

/* The value of write c of (w, k): "w1/k017#42|" and hash-derived filler. */
static size_t make_value(unsigned w, unsigned k, uint64_t c,
                         uint8_t out[VALUE_CAP])
{
    uint64_t h = write_hash(w, k, c);
    int n = snprintf((char *)out, VALUE_CAP, "w%u/k%03u#%" PRIu64 "|", w, k, c);
    size_t len = (size_t)n + (size_t)(h % 100);
    for (size_t i = (size_t)n; i < len; i++) {
        h = mix64(h);
        out[i] = (uint8_t)h;
    }
    return len;
}

/* The counter c a value claims, if it is exactly write c's value for
 * (w, k) and write c was a put; 0 otherwise. */
static uint64_t value_counter(unsigned w, unsigned k, const void *v, size_t nv)
{
    char key[KEY_LEN + 1];
    make_key(w, k, key);
    const char *s = v;
    if (nv < KEY_LEN + 3 || memcmp(s, key, KEY_LEN) != 0 || s[KEY_LEN] != '#')
        return 0;
    uint64_t c = 0;
    size_t i = KEY_LEN + 1;
    for (; i < nv && s[i] >= '0' && s[i] <= '9' && i < KEY_LEN + 20; i++)
        c = c * 10 + (uint64_t)(s[i] - '0');
    if (i >= nv || s[i] != '|' || c == 0 || write_is_absent(w, k, c))
        return 0;
    uint8_t want[VALUE_CAP];
    size_t nwant = make_value(w, k, c, want);
    if (nwant != nv || memcmp(want, v, nv) != 0)
        return 0;
    return c;
}

/* Is there a write s in [lo, hi] after which (w, k) is absent? */
static int absence_explained(unsigned w, unsigned k, uint64_t lo, uint64_t hi)
{
    for (uint64_t s = lo; s <= hi; s++)
        if (write_is_absent(w, k, s))
            return 1;
    return 0;
}

/* --- shared state -------------------------------------------------------- */

/* Which test thread this is; 0 on threads the engine made. */
enum { ROLE_ENGINE = 0, ROLE_MAIN, ROLE_WRITER, ROLE_READER, ROLE_MAINT };
static _Thread_local int tl_role;

typedef struct shared {
    lsm_db *db;
    _Atomic uint64_t issued[N_WRITERS][KEYS_PER_WRITER];
    _Atomic uint64_t completed[N_WRITERS][KEYS_PER_WRITER];
    _Atomic int writers_done;
    _Atomic int failed;
    atomic_flag fail_once;
    char fail_msg[1024];
    uint64_t seed;
    /* Per-thread operation counts, each written by its own thread only and
     * read after the join. */
    uint64_t n_puts[N_WRITERS], n_deletes[N_WRITERS];
    uint64_t n_gets[N_READERS], n_scans[N_READERS];
    uint64_t maint_rounds;
    /* Events, counted on whichever thread the engine calls back on. */
    _Atomic uint64_t ev[EV_TYPES]; /* by type, later types included */
    _Atomic uint64_t ev_bad;
    _Atomic uint64_t ev_flush_end_on_engine; /* FLUSH_END on an engine thread */
    _Atomic uint64_t ev_flush_on_writer;     /* FLUSH_BEGIN inside a write */
    _Atomic uint64_t cb_state_calls;
    _Atomic(lsm_db *) cb_db;
} shared;

/* Records the first failure of any worker thread. */
static void sh_fail(shared *sh, const char *fmt, ...)
{
    if (!atomic_flag_test_and_set(&sh->fail_once)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sh->fail_msg, sizeof(sh->fail_msg), fmt, ap);
        va_end(ap);
    }
    atomic_store(&sh->failed, 1);
}

static int sh_failed(shared *sh)
{
    return atomic_load_explicit(&sh->failed, memory_order_relaxed);
}

/* Runs on the engine's background thread (or the caller's): counts events
 * and, now and then, calls lsm_state_get as the header allows. */
static void threads_event_cb(void *ctx, const lsm_event *e)
{
    shared *sh = ctx;
    /* Types added to lsm.h after this test are counted, not judged. */
    if ((int)e->type < 1 || (int)e->type >= EV_TYPES) {
        atomic_fetch_add(&sh->ev_bad, 1);
        return;
    }
    uint64_t n = atomic_fetch_add(&sh->ev[e->type], 1) + 1;
    if (e->type == LSM_EVENT_FLUSH_END && e->num_entries == 0)
        atomic_fetch_add(&sh->ev_bad, 1);
    if (e->type == LSM_EVENT_FLUSH_END && tl_role == ROLE_ENGINE)
        atomic_fetch_add(&sh->ev_flush_end_on_engine, 1);
    if (e->type == LSM_EVENT_FLUSH_BEGIN && tl_role == ROLE_WRITER)
        atomic_fetch_add(&sh->ev_flush_on_writer, 1);
    lsm_db *db = atomic_load(&sh->cb_db);
    if (e->type == LSM_EVENT_FLUSH_END && db != NULL && n % 8 == 0) {
        lsm_state *st = NULL;
        if (lsm_state_get(db, &st) != LSM_OK || st == NULL)
            atomic_fetch_add(&sh->ev_bad, 1);
        lsm_state_free(st);
        atomic_fetch_add(&sh->cb_state_calls, 1);
    }
}

/* --- worker threads ------------------------------------------------------ */

typedef struct worker {
    shared *sh;
    unsigned id;
    /* Reader only: the highest write counter this thread knows it has
     * observed per key (monotonic reads). */
    uint64_t seen[N_WRITERS][KEYS_PER_WRITER];
} worker;

static void *writer_main(void *arg)
{
    worker *wk = arg;
    shared *sh = wk->sh;
    unsigned w = wk->id;
    tl_role = ROLE_WRITER;
    uint64_t rng = sh->seed ^ (0x1000u + w);
    uint64_t local[KEYS_PER_WRITER] = {0};
    for (int i = 0; i < WRITER_OPS && !sh_failed(sh); i++) {
        unsigned k = (unsigned)(test_rng_next(&rng) % KEYS_PER_WRITER);
        uint64_t c = ++local[k];
        char key[KEY_LEN + 1];
        make_key(w, k, key);
        atomic_store_explicit(&sh->issued[w][k], c, memory_order_release);
        int rc;
        if (write_is_absent(w, k, c)) {
            rc = lsm_delete(sh->db, key, KEY_LEN);
            sh->n_deletes[w]++;
        } else {
            uint8_t v[VALUE_CAP];
            size_t nv = make_value(w, k, c, v);
            rc = lsm_put(sh->db, key, KEY_LEN, v, nv);
            sh->n_puts[w]++;
        }
        if (rc != LSM_OK)
            sh_fail(sh, "writer %u: write %" PRIu64 " of %s: rc=%d (%s) %s", w,
                    c, key, rc, lsm_strerror(rc), lsm_errmsg());
        atomic_store_explicit(&sh->completed[w][k], c, memory_order_release);
    }
    atomic_fetch_add(&sh->writers_done, 1);
    return NULL;
}

/* Checks what a reader saw of (w, k): value counter c (0 = absent) against
 * the window [completed before, issued after] and this thread's history. */
static void reader_judge(worker *rd, const char *how, unsigned w, unsigned k,
                         uint64_t c, uint64_t done_before,
                         uint64_t issued_after)
{
    shared *sh = rd->sh;
    uint64_t lo = done_before > rd->seen[w][k] ? done_before : rd->seen[w][k];
    if (c > 0) {
        if (c < lo || c > issued_after)
            sh_fail(sh,
                    "reader %u %s w%u/k%03u: saw write %" PRIu64
                    ", but writes up to %" PRIu64 " had completed before "
                    "the read, this thread had already seen %" PRIu64
                    ", and only %" PRIu64 " were issued by its end",
                    rd->id, how, w, k, c, done_before, rd->seen[w][k],
                    issued_after);
        else
            rd->seen[w][k] = c;
    } else if (!absence_explained(w, k, lo, issued_after)) {
        sh_fail(sh,
                "reader %u %s w%u/k%03u: absent, but no write in [%" PRIu64
                ", %" PRIu64 "] leaves it absent (completed before %" PRIu64
                ", seen before %" PRIu64 ")",
                rd->id, how, w, k, lo, issued_after, done_before,
                rd->seen[w][k]);
    }
}

static void reader_get(worker *rd, uint64_t *rng)
{
    shared *sh = rd->sh;
    unsigned w = (unsigned)(test_rng_next(rng) % N_WRITERS);
    unsigned k = (unsigned)(test_rng_next(rng) % KEYS_PER_WRITER);
    char key[KEY_LEN + 1];
    make_key(w, k, key);
    uint64_t before =
        atomic_load_explicit(&sh->completed[w][k], memory_order_acquire);
    void *v = NULL;
    size_t nv = 0;
    int rc = lsm_get(sh->db, key, KEY_LEN, &v, &nv);
    uint64_t after =
        atomic_load_explicit(&sh->issued[w][k], memory_order_acquire);
    sh->n_gets[rd->id]++;
    if (rc == LSM_OK) {
        uint64_t c = value_counter(w, k, v, nv);
        if (c == 0)
            sh_fail(sh,
                    "reader %u get %s: %zu-byte value no writer wrote "
                    "for this key: %.*s",
                    rd->id, key, nv, (int)(nv < 40 ? nv : 40), (const char *)v);
        else
            reader_judge(rd, "get", w, k, c, before, after);
        lsm_free(v);
    } else if (rc == LSM_NOTFOUND) {
        reader_judge(rd, "get", w, k, 0, before, after);
    } else {
        sh_fail(sh, "reader %u get %s: rc=%d (%s) %s", rd->id, key, rc,
                lsm_strerror(rc), lsm_errmsg());
    }
}

/* A scan over keys [ka, kb] of writer w, each end given as included or as
 * an excluded neighbour. Every key in the range is judged like a get: the
 * scan's snapshot was taken inside lsm_scan. */
static void reader_scan(worker *rd, uint64_t *rng)
{
    shared *sh = rd->sh;
    unsigned w = (unsigned)(test_rng_next(rng) % N_WRITERS);
    unsigned ka = (unsigned)(test_rng_next(rng) % KEYS_PER_WRITER);
    unsigned span =
        (unsigned)(test_rng_next(rng) % 4 == 0 ? KEYS_PER_WRITER : 12);
    unsigned kb = ka + (unsigned)(test_rng_next(rng) % span);
    if (kb >= KEYS_PER_WRITER)
        kb = KEYS_PER_WRITER - 1;
    char klo[KEY_LEN + 1], khi[KEY_LEN + 1];
    lsm_bound lo = {LSM_BOUND_INCLUDED, klo, KEY_LEN};
    lsm_bound hi = {LSM_BOUND_INCLUDED, khi, KEY_LEN};
    make_key(w, ka, klo);
    make_key(w, kb, khi);
    if (ka > 0 && test_rng_next(rng) % 2) {
        make_key(w, ka - 1, klo);
        lo.kind = LSM_BOUND_EXCLUDED;
    }
    if (kb + 1 < KEYS_PER_WRITER && test_rng_next(rng) % 2) {
        make_key(w, kb + 1, khi);
        hi.kind = LSM_BOUND_EXCLUDED;
    }
    uint64_t before[KEYS_PER_WRITER], after[KEYS_PER_WRITER];
    for (unsigned k = ka; k <= kb; k++)
        before[k] =
            atomic_load_explicit(&sh->completed[w][k], memory_order_acquire);
    lsm_iter *it = NULL;
    int rc = lsm_scan(sh->db, &lo, &hi, &it);
    for (unsigned k = ka; k <= kb; k++)
        after[k] =
            atomic_load_explicit(&sh->issued[w][k], memory_order_acquire);
    sh->n_scans[rd->id]++;
    if (rc != LSM_OK) {
        sh_fail(sh, "reader %u scan w%u [%u, %u]: rc=%d (%s) %s", rd->id, w, ka,
                kb, rc, lsm_strerror(rc), lsm_errmsg());
        return;
    }
    unsigned next = ka; /* first key not yet judged */
    while (lsm_iter_valid(it) && !sh_failed(sh)) {
        size_t nk = 0, nv = 0;
        const void *kp = lsm_iter_key(it, &nk);
        const void *vp = lsm_iter_value(it, &nv);
        unsigned kw, kk;
        if (!parse_key(kp, nk, &kw, &kk) || kw != w || kk < next || kk > kb) {
            sh_fail(sh,
                    "reader %u scan w%u [%u, %u]: unexpected key %.*s "
                    "(next expected at or after k%03u)",
                    rd->id, w, ka, kb, (int)(nk < 40 ? nk : 40),
                    (const char *)kp, next);
            break;
        }
        for (; next < kk; next++)
            reader_judge(rd, "scan", w, next, 0, before[next], after[next]);
        uint64_t c = value_counter(w, kk, vp, nv);
        if (c == 0)
            sh_fail(sh,
                    "reader %u scan: w%u/k%03u has a %zu-byte value no "
                    "writer wrote",
                    rd->id, w, kk, nv);
        else
            reader_judge(rd, "scan", w, kk, c, before[kk], after[kk]);
        next = kk + 1;
        rc = lsm_iter_next(it);
        if (rc != LSM_OK) {
            sh_fail(sh, "reader %u scan: lsm_iter_next rc=%d (%s) %s", rd->id,
                    rc, lsm_strerror(rc), lsm_errmsg());
            break;
        }
    }
    for (; next <= kb && !sh_failed(sh); next++)
        reader_judge(rd, "scan", w, next, 0, before[next], after[next]);
    lsm_iter_close(it);
}

static void *reader_main(void *arg)
{
    worker *rd = arg;
    uint64_t rng = rd->sh->seed ^ (0x2000u + rd->id);
    tl_role = ROLE_READER;
    for (int i = 0; i < READER_OPS && !sh_failed(rd->sh); i++) {
        if (test_rng_next(&rng) % 10 < 7)
            reader_get(rd, &rng);
        else
            reader_scan(rd, &rng);
    }
    return NULL;
}

/* Checks the snapshot invariants that hold at any instant, whatever the
 * other threads do. Returns 0 and records a failure if one breaks. */
static int check_state_shape(shared *sh, const lsm_state *st, const char *who)
{
    for (size_t i = 0; i < st->n_l0; i++) {
        const lsm_sst_info *s = &st->l0[i];
        if (i > 0 && st->l0[i - 1].sst_id <= s->sst_id) {
            sh_fail(sh, "%s: L0 not newest first: %" PRIu64 " before %" PRIu64,
                    who, st->l0[i - 1].sst_id, s->sst_id);
            return 0;
        }
        if (s->num_entries == 0 || key_cmp(s->first_key, s->nfirst_key,
                                           s->last_key, s->nlast_key) > 0) {
            sh_fail(sh, "%s: L0 SST %" PRIu64 " empty or first > last", who,
                    s->sst_id);
            return 0;
        }
    }
    for (size_t k = 0; k < st->n_levels; k++) {
        const lsm_level_info *lv = &st->levels[k];
        for (size_t i = 0; i < lv->n_ssts; i++) {
            const lsm_sst_info *s = &lv->ssts[i];
            if (s->num_entries == 0 || key_cmp(s->first_key, s->nfirst_key,
                                               s->last_key, s->nlast_key) > 0) {
                sh_fail(sh, "%s: L%d SST %" PRIu64 " empty or first > last",
                        who, lv->level, s->sst_id);
                return 0;
            }
            if (i > 0 &&
                key_cmp(lv->ssts[i - 1].last_key, lv->ssts[i - 1].nlast_key,
                        s->first_key, s->nfirst_key) >= 0) {
                sh_fail(sh,
                        "%s: L%d SSTs %" PRIu64 " and %" PRIu64
                        " overlap or are unsorted",
                        who, lv->level, lv->ssts[i - 1].sst_id, s->sst_id);
                return 0;
            }
        }
    }
    if (st->n_iters > N_READERS) {
        sh_fail(sh, "%s: %zu iterators open, readers hold at most %d", who,
                st->n_iters, N_READERS);
        return 0;
    }
    return 1;
}

/* Flushes, inspects and compacts until the writers are done (at least
 * MAINT_MIN_ROUNDS, at most MAINT_MAX_ROUNDS rounds). */
static void *maint_main(void *arg)
{
    shared *sh = arg;
    uint64_t round = 0;
    tl_role = ROLE_MAINT;
    for (; round < MAINT_MAX_ROUNDS && !sh_failed(sh); round++) {
        if (round >= MAINT_MIN_ROUNDS &&
            atomic_load(&sh->writers_done) == N_WRITERS)
            break;
        int rc = lsm_flush(sh->db);
        if (rc != LSM_OK) {
            sh_fail(sh, "maint: lsm_flush rc=%d (%s) %s", rc, lsm_strerror(rc),
                    lsm_errmsg());
            break;
        }
        lsm_state *st = NULL;
        rc = lsm_state_get(sh->db, &st);
        if (rc != LSM_OK || st == NULL) {
            sh_fail(sh, "maint: lsm_state_get rc=%d", rc);
            break;
        }
        int ok = check_state_shape(sh, st, "maint");
        lsm_state_free(st);
        if (!ok)
            break;
        if (round % 3 == 2) {
            rc = lsm_compact_full(sh->db);
            if (rc != LSM_OK) {
                sh_fail(sh, "maint: lsm_compact_full rc=%d (%s) %s", rc,
                        lsm_strerror(rc), lsm_errmsg());
                break;
            }
        }
    }
    sh->maint_rounds = round;
    return NULL;
}

/* --- main-thread checks -------------------------------------------------- */

/* Every key holds its writer's last write, by get and by one full scan. */
static void check_final_content(shared *sh)
{
    for (unsigned w = 0; w < N_WRITERS; w++) {
        for (unsigned k = 0; k < KEYS_PER_WRITER; k++) {
            char key[KEY_LEN + 1];
            make_key(w, k, key);
            uint64_t c = atomic_load(&sh->completed[w][k]);
            void *v = NULL;
            size_t nv = 0;
            int rc = lsm_get(sh->db, key, KEY_LEN, &v, &nv);
            if (write_is_absent(w, k, c)) {
                if (rc != LSM_NOTFOUND)
                    fprintf(stderr,
                            "%s: last write %" PRIu64
                            " was a delete, get rc=%d\n",
                            key, c, rc);
                assert_int_equal(rc, LSM_NOTFOUND);
            } else {
                if (rc != LSM_OK || value_counter(w, k, v, nv) != c)
                    fprintf(stderr,
                            "%s: last write %" PRIu64
                            ", get rc=%d value counter %" PRIu64 "\n",
                            key, c, rc,
                            rc == LSM_OK ? value_counter(w, k, v, nv) : 0);
                assert_int_equal(rc, LSM_OK);
                assert_int_equal(value_counter(w, k, v, nv), c);
                lsm_free(v);
            }
        }
    }
    lsm_iter *it = NULL;
    assert_int_equal(lsm_scan(sh->db, NULL, NULL, &it), LSM_OK);
    for (unsigned w = 0; w < N_WRITERS; w++) {
        for (unsigned k = 0; k < KEYS_PER_WRITER; k++) {
            uint64_t c = atomic_load(&sh->completed[w][k]);
            if (write_is_absent(w, k, c))
                continue;
            assert_true(lsm_iter_valid(it));
            size_t nk = 0, nv = 0;
            const void *kp = lsm_iter_key(it, &nk);
            const void *vp = lsm_iter_value(it, &nv);
            unsigned kw = 99, kk = 999;
            assert_true(parse_key(kp, nk, &kw, &kk));
            assert_int_equal(kw, w);
            assert_int_equal(kk, k);
            assert_int_equal(value_counter(w, k, vp, nv), c);
            assert_int_equal(lsm_iter_next(it), LSM_OK);
        }
    }
    assert_false(lsm_iter_valid(it));
    lsm_iter_close(it);
}

static void open_threads_db(const char *dir, shared *sh, lsm_db **db)
{
    lsm_options opt;
    lsm_options_init(&opt);
    opt.sched = LSM_SCHED_THREADS;
    opt.compaction = LSM_COMPACTION_LEVELED;
    opt.target_sst_size = 1024;
    opt.block_size = 128;
    opt.num_memtable_limit = 2;
    opt.block_cache_bytes = 16384;
    /* SST indexes and filters in that tiny cache too: evicted and read
     * again while readers, flushes and compactions race. */
    opt.cache_index_and_filter_blocks = 1;
    opt.event_cb = threads_event_cb;
    opt.event_ctx = sh;
    for (int i = 0; i < EV_TYPES; i++)
        atomic_store(&sh->ev[i], 0);
    atomic_store(&sh->ev_bad, 0);
    *db = NULL;
    assert_int_equal(lsm_open(dir, &opt, db), LSM_OK);
    assert_non_null(*db);
    atomic_store(&sh->cb_db, *db);
}

/* Closes the shared db and checks, now that no background work can be left,
 * that every flush was reported: flushes_before is the counter read after
 * the last write, and close had nothing left to flush. */
static void close_and_check_events(shared *sh, uint64_t flushes_before)
{
    atomic_store(&sh->cb_db, NULL);
    assert_int_equal(lsm_close(sh->db), LSM_OK);
    sh->db = NULL;
    assert_int_equal(atomic_load(&sh->ev[LSM_EVENT_FLUSH_END]), flushes_before);
    assert_int_equal(atomic_load(&sh->ev[LSM_EVENT_FLUSH_BEGIN]),
                     flushes_before);
    assert_int_equal(atomic_load(&sh->ev[LSM_EVENT_BACKGROUND_ERROR]), 0);
    assert_int_equal(atomic_load(&sh->ev_bad), 0);
}

static void test_threads_race(void **state)
{
    (void)state;
    char tmp[160], dir[192];
    test_tmp_template(tmp, sizeof tmp, "lsm-threads");
    assert_non_null(mkdtemp(tmp));
    snprintf(dir, sizeof(dir), "%s/db", tmp);
    shared *sh = calloc(1, sizeof(shared));
    assert_non_null(sh);
    tl_role = ROLE_MAIN;
    atomic_flag_clear(&sh->fail_once);
    sh->seed = env_u64("LSM_TEST_SEED", 20240607);
    open_threads_db(dir, sh, &sh->db);

    worker writers[N_WRITERS], readers[N_READERS];
    pthread_t tw[N_WRITERS], tr[N_READERS], tm;
    for (unsigned i = 0; i < N_WRITERS; i++) {
        memset(&writers[i], 0, sizeof(worker));
        writers[i].sh = sh;
        writers[i].id = i;
        assert_int_equal(pthread_create(&tw[i], NULL, writer_main, &writers[i]),
                         0);
    }
    for (unsigned i = 0; i < N_READERS; i++) {
        memset(&readers[i], 0, sizeof(worker));
        readers[i].sh = sh;
        readers[i].id = i;
        assert_int_equal(pthread_create(&tr[i], NULL, reader_main, &readers[i]),
                         0);
    }
    assert_int_equal(pthread_create(&tm, NULL, maint_main, sh), 0);
    for (int i = 0; i < N_WRITERS; i++)
        pthread_join(tw[i], NULL);
    for (int i = 0; i < N_READERS; i++)
        pthread_join(tr[i], NULL);
    pthread_join(tm, NULL);
    if (atomic_load(&sh->failed))
        fprintf(stderr, "seed %" PRIu64 " (LSM_TEST_SEED): %s\n", sh->seed,
                sh->fail_msg);
    assert_int_equal(atomic_load(&sh->failed), 0);

    /* Quiet now: flush, and the snapshot must agree with the events and
     * with the calls the threads made. */
    assert_int_equal(lsm_flush(sh->db), LSM_OK);
    check_final_content(sh);
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(sh->db, &st), LSM_OK);
    assert_true(check_state_shape(sh, st, "after the run"));
    assert_int_equal(st->n_immutables, 0);
    assert_int_equal(st->pending_flushes, 0);
    assert_int_equal(st->memtable.num_keys, 0);
    assert_int_equal(st->n_iters, 0);
    uint64_t puts = 0, deletes = 0, gets = N_WRITERS * KEYS_PER_WRITER,
             scans = 1;
    for (int i = 0; i < N_WRITERS; i++)
        puts += sh->n_puts[i], deletes += sh->n_deletes[i];
    for (int i = 0; i < N_READERS; i++)
        gets += sh->n_gets[i], scans += sh->n_scans[i];
    assert_int_equal(st->counters.puts, puts);
    assert_int_equal(st->counters.deletes, deletes);
    assert_int_equal(st->counters.gets, gets);
    assert_int_equal(st->counters.scans, scans);
    assert_true(st->counters.flushes > 0);
    assert_int_equal(atomic_load(&sh->ev[LSM_EVENT_FLUSH_END]),
                     st->counters.flushes);
    assert_int_equal(atomic_load(&sh->ev[LSM_EVENT_MEMTABLE_FROZEN]),
                     st->counters.memtables_frozen);
    assert_int_equal(atomic_load(&sh->ev[LSM_EVENT_COMPACTION_END]),
                     st->counters.compactions);
    /* Threads mode: the background thread flushes; a write only freezes
     * and signals it. */
    assert_true(atomic_load(&sh->ev_flush_end_on_engine) > 0);
    assert_int_equal(atomic_load(&sh->ev_flush_on_writer), 0);
    uint64_t flushes = st->counters.flushes;
    if (env_u64("LSM_TEST_VERBOSE", 0))
        fprintf(stderr,
                "puts=%" PRIu64 " deletes=%" PRIu64 " gets=%" PRIu64
                " scans=%" PRIu64 " frozen=%" PRIu64 " flushes=%" PRIu64
                " compactions=%" PRIu64 " maint_rounds=%" PRIu64
                " cb_state_calls=%" PRIu64 " flush_end_on_engine=%" PRIu64
                " l0=%zu l1=%zu\n",
                puts, deletes, gets, scans, st->counters.memtables_frozen,
                flushes, st->counters.compactions, sh->maint_rounds,
                atomic_load(&sh->cb_state_calls),
                atomic_load(&sh->ev_flush_end_on_engine), st->n_l0,
                st->n_levels ? st->levels[0].n_ssts : 0);
    lsm_state_free(st);
    close_and_check_events(sh, flushes);

    /* Everything survives a clean close. */
    open_threads_db(dir, sh, &sh->db);
    check_final_content(sh);
    assert_int_equal(lsm_close(sh->db), LSM_OK);
    assert_int_equal(test_rmtree(tmp), 0);
    free(sh);
}

/* lsm_close with an open iterator is LSM_EBUSY and changes nothing: the
 * handle still reads and writes, the iterator still returns its snapshot.
 * With no iterator open, close succeeds. */
static void test_close_busy(void **state)
{
    (void)state;
    char tmp[160], dir[192];
    test_tmp_template(tmp, sizeof tmp, "lsm-threads");
    assert_non_null(mkdtemp(tmp));
    snprintf(dir, sizeof(dir), "%s/db", tmp);
    shared *sh = calloc(1, sizeof(shared));
    assert_non_null(sh);
    lsm_db *db = NULL;
    open_threads_db(dir, sh, &db);

    /* Nothing written, nothing open: close is clean. */
    atomic_store(&sh->cb_db, NULL);
    assert_int_equal(lsm_close(db), LSM_OK);
    open_threads_db(dir, sh, &db);

    enum { N = 200 };
    uint8_t v[VALUE_CAP];
    for (unsigned k = 0; k < N; k++) {
        char key[16];
        snprintf(key, sizeof(key), "c%05u", k);
        size_t nv = make_value(0, k % KEYS_PER_WRITER, k + 1, v);
        assert_int_equal(lsm_put(db, key, strlen(key), v, nv), LSM_OK);
    }
    lsm_iter *a = NULL, *b = NULL;
    assert_int_equal(lsm_scan(db, NULL, NULL, &a), LSM_OK);
    assert_int_equal(lsm_scan(db, NULL, NULL, &b), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_EBUSY);

    /* Still usable: writes after the refused close, which the iterators
     * must not see. */
    for (unsigned k = 0; k < N; k += 2) {
        char key[16];
        snprintf(key, sizeof(key), "c%05u", k);
        assert_int_equal(lsm_delete(db, key, strlen(key)), LSM_OK);
    }
    assert_int_equal(lsm_put(db, "c99999", 6, "late", 4), LSM_OK);
    assert_int_equal(lsm_flush(db), LSM_OK);
    assert_int_equal(lsm_compact_full(db), LSM_OK);
    void *got = NULL;
    size_t ngot = 0;
    assert_int_equal(lsm_get(db, "c99999", 6, &got, &ngot), LSM_OK);
    assert_int_equal(ngot, 4);
    lsm_free(got);
    assert_int_equal(lsm_get(db, "c00000", 6, &got, &ngot), LSM_NOTFOUND);

    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_iters, 2);
    assert_true(st->iters[0].iter_id != st->iters[1].iter_id);
    lsm_state_free(st);

    for (unsigned k = 0; k < N; k++) {
        char key[16];
        snprintf(key, sizeof(key), "c%05u", k);
        size_t nv = make_value(0, k % KEYS_PER_WRITER, k + 1, v);
        assert_true(lsm_iter_valid(a));
        size_t nk = 0, nav = 0;
        const void *kp = lsm_iter_key(a, &nk);
        assert_int_equal(nk, strlen(key));
        assert_memory_equal(kp, key, nk);
        const void *vp = lsm_iter_value(a, &nav);
        assert_int_equal(nav, nv);
        assert_memory_equal(vp, v, nv);
        assert_int_equal(lsm_iter_next(a), LSM_OK);
    }
    assert_false(lsm_iter_valid(a));
    lsm_iter_close(a);
    /* One iterator is still open. */
    assert_int_equal(lsm_close(db), LSM_EBUSY);
    size_t n_b = 0;
    for (; lsm_iter_valid(b); n_b++)
        assert_int_equal(lsm_iter_next(b), LSM_OK);
    assert_int_equal(n_b, N);
    lsm_iter_close(b);

    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    assert_int_equal(st->n_iters, 0);
    lsm_state_free(st);
    atomic_store(&sh->cb_db, NULL);
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_int_equal(atomic_load(&sh->ev[LSM_EVENT_BACKGROUND_ERROR]), 0);
    assert_int_equal(test_rmtree(tmp), 0);
    free(sh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_busy),
        cmocka_unit_test(test_threads_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
