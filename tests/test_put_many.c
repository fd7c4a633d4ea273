/*
 * test_put_many.c: lsm_put_many through the public API. Its promise is
 * that it writes exactly what n lsm_put calls would, with fewer system
 * calls, so most checks here run the same puts both ways and require the
 * same result: events, state, WAL bytes, contents, sequence numbers. The
 * rest: a crash inside a group recovers a prefix of it (every cut of the
 * log), a refused put stops the call with the puts before it written, and
 * the sync option and threads mode keep their contracts.
 *
 * A "crash" is a forked child that writes and then _exit()s without
 * closing (as in test_wal.c). tests/test_crash.c also writes runs of puts
 * with lsm_put_many and kills the writer at random moments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define PM_N_PUTS 3000
#define PM_KEY_MAX 16
#define PM_VALUE_MAX 200
#define PM_LOG_BYTES (1u << 20)

/* Puts of one run: keys from a small universe (so many overwrites), values
 * of varied length naming the put. */
typedef struct pm_puts {
    size_t n;
    lsm_kv kv[PM_N_PUTS];
    char key[PM_N_PUTS][PM_KEY_MAX];
    char value[PM_N_PUTS][PM_VALUE_MAX];
} pm_puts;

static pm_puts *pm_puts_make(uint64_t seed, size_t n)
{
    pm_puts *p = calloc(1, sizeof *p);
    assert_non_null(p);
    assert_true(n <= PM_N_PUTS);
    uint64_t s = seed;
    p->n = n;
    for (size_t i = 0; i < n; i++) {
        int nk = snprintf(p->key[i], PM_KEY_MAX, "k%04u",
                          (unsigned)test_rng_below(&s, 700));
        size_t nv = (size_t)test_rng_below(&s, 120);
        int hdr = snprintf(p->value[i], PM_VALUE_MAX, "v%zu;", i);
        for (size_t j = (size_t)hdr; j < nv; j++)
            p->value[i][j] = (char)('a' + (i + j) % 26);
        p->kv[i] = (lsm_kv){.key = p->key[i],
                            .nkey = (size_t)nk,
                            .value = p->value[i],
                            .nvalue = nv < (size_t)hdr ? (size_t)hdr : nv};
    }
    return p;
}

/* Everything a run reports, as text, so two runs compare with one strcmp:
 * each event with its ids and sizes, in order. */
typedef struct pm_log {
    char *text;
    size_t len;
} pm_log;

static void pm_log_add(pm_log *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->text + l->len, PM_LOG_BYTES - l->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < PM_LOG_BYTES - l->len);
    l->len += (size_t)n;
}

static void pm_event_cb(void *ctx, const lsm_event *e)
{
    pm_log *l = ctx;
    pm_log_add(l,
               "event %d mem %" PRIu64 " new %" PRIu64 " sst %" PRIu64
               " entries %" PRIu64 " size %" PRIu64 " level %d outputs %zu"
               " deleted %zu\n",
               (int)e->type, e->memtable_id, e->new_memtable_id, e->sst_id,
               e->num_entries, e->size_bytes, e->level, e->n_outputs,
               e->n_deleted);
}

/* The state's shape and write counters into l. */
static void pm_log_state(pm_log *l, lsm_db *db)
{
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    pm_log_add(l, "mem %" PRIu64 " keys %" PRIu64 " bytes %" PRIu64 "\n",
               st->memtable.memtable_id, st->memtable.num_keys,
               st->memtable.size_bytes);
    for (size_t i = 0; i < st->n_immutables; i++)
        pm_log_add(l, "imm %" PRIu64 "\n", st->immutables[i].memtable_id);
    for (size_t i = 0; i < st->n_l0; i++)
        pm_log_add(l, "l0 %" PRIu64 " %" PRIu64 "\n", st->l0[i].sst_id,
                   st->l0[i].file_size);
    for (size_t i = 0; i < st->n_levels; i++)
        for (size_t j = 0; j < st->levels[i].n_ssts; j++)
            pm_log_add(l, "L%d %" PRIu64 " %" PRIu64 "\n", st->levels[i].level,
                       st->levels[i].ssts[j].sst_id,
                       st->levels[i].ssts[j].file_size);
    const lsm_counters *c = &st->counters;
    pm_log_add(
        l,
        "puts %" PRIu64 " user %" PRIu64 " wal %" PRIu64 " frozen %" PRIu64
        " flushes %" PRIu64 " compactions %" PRIu64 " visible %" PRIu64 "\n",
        c->puts, c->user_bytes_written, c->wal_bytes_written,
        c->memtables_frozen, c->flushes, c->compactions, st->visible_seq);
    lsm_state_free(st);
}

/* Every version of every key (with its seq) into l. */
static void pm_log_history(pm_log *l, lsm_db *db)
{
    for (unsigned k = 0; k < 700; k++) {
        char key[PM_KEY_MAX];
        int nk = snprintf(key, sizeof key, "k%04u", k);
        lsm_key_version *v = NULL;
        size_t n = 0;
        assert_int_equal(lsm_key_history(db, key, (size_t)nk, &v, &n), LSM_OK);
        for (size_t i = 0; i < n; i++)
            pm_log_add(l, "%s seq %" PRIu64 " %.*s\n", key, v[i].seq,
                       (int)v[i].nvalue, (const char *)v[i].value);
        lsm_key_history_free(v, n);
    }
}

/* Reads dir/name whole into a malloc'd buffer. */
static uint8_t *pm_read_file(const char *dir, const char *name, size_t *n)
{
    char *path = test_path(dir, name);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    *n = (size_t)sb.st_size;
    uint8_t *buf = malloc(*n + 1);
    assert_non_null(buf);
    assert_int_equal(read(fd, buf, *n), (ssize_t)*n);
    close(fd);
    free(path);
    return buf;
}

/* The WAL files of dir, their names and bytes, into l. */
static void pm_log_wals(pm_log *l, const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char names[64][64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".wal") == 0) {
            assert_true(n < 64);
            snprintf(names[n++], 64, "%s", e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof names[0],
          (int (*)(const void *, const void *))strcmp);
    for (size_t i = 0; i < n; i++) {
        size_t size;
        uint8_t *bytes = pm_read_file(dir, names[i], &size);
        uint64_t h = 1469598103934665603ull; /* FNV-1a: any change shows */
        for (size_t j = 0; j < size; j++)
            h = (h ^ bytes[j]) * 1099511628211ull;
        pm_log_add(l, "%s %zu bytes hash %016" PRIx64 "\n", names[i], size, h);
        free(bytes);
    }
}

/* Options that freeze a memtable every few dozen puts and flush and
 * compact inline all along. */
static void pm_options(lsm_options *o, pm_log *l)
{
    lsm_options_init(o);
    o->target_sst_size = 1024;
    o->num_memtable_limit = 2;
    o->compaction = LSM_COMPACTION_LEVELED;
    o->event_cb = pm_event_cb;
    o->event_ctx = l;
}

/* Runs p into a fresh database under dir/name, with lsm_put (chunks NULL)
 * or lsm_put_many in chunks of the sizes chunks[] gives, in turn; logs
 * events, then the state, WALs and history into l, and closes. */
static void pm_run(const char *dir, const char *name, const pm_puts *p,
                   const size_t *chunks, size_t n_chunks, pm_log *l)
{
    char *path = test_path(dir, name);
    lsm_options o;
    pm_options(&o, l);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(path, &o, &db), LSM_OK);
    if (!chunks) {
        for (size_t i = 0; i < p->n; i++)
            assert_int_equal(lsm_put(db, p->kv[i].key, p->kv[i].nkey,
                                     p->kv[i].value, p->kv[i].nvalue),
                             LSM_OK);
    } else {
        for (size_t i = 0, c = 0; i < p->n; c++) {
            size_t want = chunks[c % n_chunks], written = 12345;
            if (want > p->n - i)
                want = p->n - i;
            assert_int_equal(lsm_put_many(db, p->kv + i, want, &written),
                             LSM_OK);
            assert_int_equal(written, want);
            i += want;
        }
    }
    pm_log_add(l, "-- after the puts\n");
    pm_log_state(l, db);
    pm_log_wals(l, path);
    pm_log_history(l, db);
    assert_int_equal(lsm_close(db), LSM_OK);
    /* Recovery replays what the WALs hold: the same either way. */
    pm_log_add(l, "-- reopened\n");
    assert_int_equal(lsm_open(path, &o, &db), LSM_OK);
    pm_log_state(l, db);
    pm_log_history(l, db);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(path);
}

static void pm_log_init(pm_log *l)
{
    l->text = calloc(1, PM_LOG_BYTES);
    assert_non_null(l->text);
    l->len = 0;
}

/* N puts through lsm_put and through lsm_put_many (in chunks of 1, of
 * hundreds spanning several freezes, and of everything at once) leave the
 * same events, state, WAL bytes, sequence numbers and contents. */
static void test_put_many_writes_what_single_puts_write(void **state)
{
    const char *dir = *state;
    pm_puts *p = pm_puts_make(42, PM_N_PUTS);
    pm_log single, many;
    pm_log_init(&single);
    pm_run(dir, "single", p, NULL, 0, &single);
    /* Freezes happen: the comparison is not of empty logs. */
    assert_non_null(strstr(single.text, "-- after the puts"));
    assert_non_null(strstr(single.text, "event 1 ")); /* frozen */
    assert_non_null(strstr(single.text, "event 4 ")); /* compaction */

    static const size_t shapes[][4] = {
        {1, 1, 1, 1}, {7, 300, 2, 61}, {PM_N_PUTS, 1, 1, 1}};
    static const size_t n_shapes[] = {1, 4, 1};
    for (size_t s = 0; s < 3; s++) {
        char name[32];
        snprintf(name, sizeof name, "many%zu", s);
        pm_log_init(&many);
        pm_run(dir, name, p, shapes[s], n_shapes[s], &many);
        if (strcmp(single.text, many.text) != 0) {
            size_t i = 0;
            while (single.text[i] == many.text[i])
                i++;
            while (i > 0 && single.text[i - 1] != '\n')
                i--;
            fail_msg("shape %zu differs from single puts at:\n%.300s\n"
                     "-- single puts had:\n%.300s",
                     s, many.text + i, single.text + i);
        }
        free(many.text);
    }
    free(single.text);
    free(p);
}

/* --- a crash inside a group --------------------------------------------- */

#define PM_TORN_PUTS 40

static void pm_write_group(lsm_db *db)
{
    pm_puts *p = pm_puts_make(7, PM_TORN_PUTS);
    /* Distinct keys, so the recovered count says how many landed. */
    for (size_t i = 0; i < p->n; i++)
        p->kv[i].nkey = (size_t)snprintf(p->key[i], PM_KEY_MAX, "t%03zu", i);
    size_t written = 0;
    if (lsm_put_many(db, p->kv, p->n, &written) != LSM_OK || written != p->n)
        _exit(3);
    free(p);
}

/* Copies dir/name to to/name. */
static void pm_copy_file(const char *dir, const char *to, const char *name)
{
    size_t n;
    uint8_t *bytes = pm_read_file(dir, name, &n);
    char *path = test_path(to, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, n), (ssize_t)n);
    close(fd);
    free(path);
    free(bytes);
}

/* Keys in the database. */
static size_t pm_count_keys(lsm_db *db)
{
    lsm_iter *it = NULL;
    assert_int_equal(lsm_scan(db, NULL, NULL, &it), LSM_OK);
    size_t n = 0;
    while (lsm_iter_valid(it)) {
        n++;
        assert_int_equal(lsm_iter_next(it), LSM_OK);
    }
    lsm_iter_close(it);
    return n;
}

/* A group of puts reaches the log with one write; a crash can cut that
 * write anywhere. Every cut recovers exactly the puts whose records are
 * whole before it, in order: a prefix of the group. */
static void test_torn_group_recovers_a_prefix(void **state)
{
    const char *dir = *state;
    char *src = test_path(dir, "src");
    lsm_options o;
    lsm_options_init(&o);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        lsm_db *db;
        if (lsm_open(src, &o, &db) != LSM_OK)
            _exit(2);
        pm_write_group(db);
        _exit(0); /* the crash: no close */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* The log holds the group's records end to end; their ends are where
     * a cut starts to keep one more put. */
    size_t wal_size;
    uint8_t *wal = pm_read_file(src, "0.wal", &wal_size);
    size_t ends[PM_TORN_PUTS + 1], n_ends = 0, off = 0;
    while (off + 16 <= wal_size) {
        uint32_t len = (uint32_t)wal[off] | (uint32_t)wal[off + 1] << 8 |
                       (uint32_t)wal[off + 2] << 16 |
                       (uint32_t)wal[off + 3] << 24;
        off += 16 + len;
        assert_true(n_ends < PM_TORN_PUTS);
        ends[n_ends++] = off;
    }
    assert_int_equal(n_ends, PM_TORN_PUTS); /* one record per put */
    assert_int_equal(off, wal_size);
    free(wal);

    for (size_t cut = 0; cut <= wal_size; cut++) {
        size_t whole = 0;
        while (whole < n_ends && ends[whole] <= cut)
            whole++;
        /* Every byte of the first two records and around every record's
         * end; a sample elsewhere, to keep the test quick. */
        bool near_end = false;
        for (size_t i = 0; i < n_ends; i++)
            near_end |= cut + 2 >= ends[i] && cut <= ends[i] + 2;
        if (cut > ends[1] && !near_end && cut % 13 != 0)
            continue;
        char name[32];
        snprintf(name, sizeof name, "cut%zu", cut);
        char *to = test_path(dir, name);
        assert_int_equal(mkdir(to, 0755), 0);
        pm_copy_file(src, to, "MANIFEST");
        pm_copy_file(src, to, "0.wal");
        char *wal_path = test_path(to, "0.wal");
        assert_int_equal(truncate(wal_path, (off_t)cut), 0);
        lsm_db *db = NULL;
        assert_int_equal(lsm_open(to, &o, &db), LSM_OK);
        assert_int_equal(pm_count_keys(db), whole);
        for (size_t i = 0; i < PM_TORN_PUTS; i++) {
            char key[PM_KEY_MAX];
            snprintf(key, sizeof key, "t%03zu", i);
            void *v = NULL;
            size_t nv = 0;
            assert_int_equal(lsm_get(db, key, strlen(key), &v, &nv),
                             i < whole ? LSM_OK : LSM_NOTFOUND);
            free(v);
        }
        assert_int_equal(lsm_close(db), LSM_OK);
        assert_int_equal(test_rmtree(to), 0);
        free(wal_path);
        free(to);
    }
    free(src);
}

/* --- errors, sync, threads ------------------------------------------------ */

/* A put lsm_put would refuse stops the call there: the puts before it are
 * written (and acknowledged), it and the ones after are not. */
static void test_refused_put_stops_the_call(void **state)
{
    const char *dir = *state;
    lsm_options o;
    lsm_options_init(&o);
    o.target_sst_size = 256; /* a freeze before the bad put, too */
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &o, &db), LSM_OK);
    pm_puts *p = pm_puts_make(9, 40);
    for (size_t i = 0; i < p->n; i++)
        p->kv[i].nkey = (size_t)snprintf(p->key[i], PM_KEY_MAX, "e%03zu", i);
    p->kv[25].nkey = 0; /* an empty key */
    size_t written = 99;
    assert_int_equal(lsm_put_many(db, p->kv, p->n, &written), LSM_EINVAL);
    assert_int_equal(written, 25);
    assert_non_null(strstr(lsm_errmsg(), "key"));
    assert_int_equal(pm_count_keys(db), 25);
    test_expect_get(db, "e024", p->value[24]);
    /* Nothing is latched: the rest can still be written. */
    assert_int_equal(lsm_put_many(db, p->kv + 26, p->n - 26, &written), LSM_OK);
    assert_int_equal(written, p->n - 26);
    assert_int_equal(pm_count_keys(db), 39);
    /* And the arguments themselves. */
    assert_int_equal(lsm_put_many(NULL, p->kv, 1, &written), LSM_EINVAL);
    assert_int_equal(written, 0);
    assert_int_equal(lsm_put_many(db, NULL, 1, NULL), LSM_EINVAL);
    assert_int_equal(lsm_put_many(db, NULL, 0, &written), LSM_OK);
    assert_int_equal(written, 0);
    assert_int_equal(lsm_close(db), LSM_OK);
    free(p);
}

/* A put of a large value (its record alone past the group's byte limit,
 * and a buffer the handle then lets go) and small puts after it. */
static void test_large_value(void **state)
{
    const char *dir = *state;
    lsm_options o;
    lsm_options_init(&o);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &o, &db), LSM_OK);
    size_t big = 3u << 20;
    char *value = malloc(big);
    assert_non_null(value);
    for (size_t i = 0; i < big; i++)
        value[i] = (char)('a' + i % 23);
    lsm_kv kv[3] = {{"a", 1, "1", 1}, {"big", 3, value, big}, {"c", 1, "3", 1}};
    size_t written = 0;
    assert_int_equal(lsm_put_many(db, kv, 3, &written), LSM_OK);
    assert_int_equal(written, 3);
    assert_int_equal(lsm_put_many(db, kv, 1, &written), LSM_OK);
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_int_equal(lsm_open(dir, &o, &db), LSM_OK);
    void *got = NULL;
    size_t n = 0;
    assert_int_equal(lsm_get(db, "big", 3, &got, &n), LSM_OK);
    assert_int_equal(n, big);
    assert_memory_equal(got, value, big);
    free(got);
    test_expect_get(db, "c", "3");
    assert_int_equal(lsm_close(db), LSM_OK);
    free(value);
}

static lsm_counters pm_counters(lsm_db *db)
{
    lsm_state *st = NULL;
    assert_int_equal(lsm_state_get(db, &st), LSM_OK);
    lsm_counters c = st->counters;
    lsm_state_free(st);
    return c;
}

/* With the sync option a call's puts share one fsync (besides the one each
 * freeze makes), and are durable when it returns: a crash right after
 * keeps them all. */
static void pm_sync_group(lsm_db *db)
{
    pm_puts *p = pm_puts_make(11, 500);
    for (size_t i = 0; i < p->n; i++)
        p->kv[i].nkey = (size_t)snprintf(p->key[i], PM_KEY_MAX, "s%03zu", i);
    lsm_counters before = pm_counters(db);
    size_t written = 0;
    if (lsm_put_many(db, p->kv, p->n, &written) != LSM_OK || written != p->n)
        _exit(3);
    lsm_counters after = pm_counters(db);
    /* One group commit, plus one fsync per freeze. */
    if (after.wal_syncs - before.wal_syncs !=
        1 + after.memtables_frozen - before.memtables_frozen)
        _exit(4);
    if (after.memtables_frozen == before.memtables_frozen)
        _exit(5); /* the test meant a freeze inside the call */
    free(p);
}

static void test_sync_option_one_fsync_per_call(void **state)
{
    const char *dir = *state;
    lsm_options o;
    lsm_options_init(&o);
    o.sync = 1;
    o.target_sst_size = 8192;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        lsm_db *db;
        if (lsm_open(dir, &o, &db) != LSM_OK)
            _exit(2);
        pm_sync_group(db);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &o, &db), LSM_OK);
    assert_int_equal(pm_count_keys(db), 500);
    assert_int_equal(lsm_close(db), LSM_OK);
}

/* Threads mode: the flush and compaction threads work while calls freeze
 * memtables; everything is there, before and after a reopen. */
static void test_threads_mode(void **state)
{
    const char *dir = *state;
    lsm_options o;
    lsm_options_init(&o);
    o.sched = LSM_SCHED_THREADS;
    o.target_sst_size = 2048;
    o.num_memtable_limit = 2;
    pm_puts *p = pm_puts_make(13, PM_N_PUTS);
    for (size_t i = 0; i < p->n; i++)
        p->kv[i].nkey = (size_t)snprintf(p->key[i], PM_KEY_MAX, "h%04zu", i);
    lsm_db *db = NULL;
    assert_int_equal(lsm_open(dir, &o, &db), LSM_OK);
    for (size_t i = 0; i < p->n; i += 250) {
        size_t written = 0;
        assert_int_equal(lsm_put_many(db, p->kv + i, 250, &written), LSM_OK);
        assert_int_equal(written, 250);
    }
    assert_int_equal(pm_count_keys(db), PM_N_PUTS);
    assert_true(pm_counters(db).memtables_frozen > 10);
    assert_int_equal(lsm_close(db), LSM_OK);
    assert_int_equal(lsm_open(dir, &o, &db), LSM_OK);
    assert_int_equal(pm_count_keys(db), PM_N_PUTS);
    for (size_t i = 0; i < p->n; i += 97) {
        char v[PM_VALUE_MAX + 1];
        memcpy(v, p->value[i], p->kv[i].nvalue);
        v[p->kv[i].nvalue] = '\0';
        test_expect_get(db, p->key[i], v);
    }
    assert_int_equal(lsm_close(db), LSM_OK);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_put_many_writes_what_single_puts_write, test_dir_setup,
            test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_torn_group_recovers_a_prefix,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_refused_put_stops_the_call,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_large_value, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_sync_option_one_fsync_per_call,
                                        test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_threads_mode, test_dir_setup,
                                        test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
