/*
 * fault_env.c: the fault-injecting, power-cut-simulating env of
 * fault_env.h.
 *
 * Layout: a fault_env embeds its view (an env vtable, first) first, so the
 * env * fault_env_env hands out is the fault_env *; open_dir makes more
 * views, bound to a directory through the inner env, that share it. Files
 * opened for writing are wrapped in a fault_file (env_file first, env pointing
 * at the fault env) around the inner env's file, so every append and sync
 * passes through here. Files opened for reading and the lock file are the inner
 * env's own: nothing about them needs watching.
 *
 * Invariants (under mu):
 *   - files[] holds one record per path created or appended through this
 *     env and not since unlinked (or renamed away) through it;
 *   - a record's durable_bytes never exceeds what was on disk at its last
 *     sync, and creation_durable is set only by a sync_dir of its
 *     directory (or because the file was already there when first seen);
 *   - once cut is set it stays set and no mutating call reaches the disk.
 *
 * Thread safety: mu guards every field but the vtable and inner; it is held
 * across the real I/O of mutating calls. Reads (read_at, size, list_dir,
 * open_read) do not take it.
 */
#include "fault_env.h"

#include "util/status_int.h"

#include "testutil.h" /* test_rng_next: torn cuts reproduce from a seed */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FAULT_SUFFIX_BYTES 64

typedef struct fault_rule {
    bool armed;
    bool sticky;
    uint64_t nth;  /* fail the nth matching call (1-based) */
    uint64_t seen; /* matching calls since the rule was armed */
    char suffix[FAULT_SUFFIX_BYTES]; /* "" matches every path */
    int err; /* 0: an injected LSM_EIO; else this errno's (ENOSPC) */
} fault_rule;

typedef struct fault_cut_rule {
    bool armed;
    fault_kind kind;
    uint64_t at_count; /* cut when counts[kind] reaches this */
    fault_cut_mode mode;
    uint64_t seed;
} fault_cut_rule;

typedef struct tracked_file {
    char *path;
    uint64_t durable_bytes; /* size at the last successful sync */
    bool creation_durable;  /* a sync_dir of its directory followed */
} tracked_file;

/* An env the fault env hands out: its own (fault_env_env; inner is the
 * env it wraps) or one bound to a directory by open_dir (inner is the
 * inner env's bound env). Every view shares its fault env's state. */
typedef struct fault_view {
    env base; /* first: the env * handed out points here */
    struct fault_env *fe;
    env *inner;
} fault_view;

struct fault_env {
    fault_view top; /* first: fault_env_env hands out &top.base */
    env *inner;     /* the wrapped env, as given: the power cut uses it */
    pthread_mutex_t mu;
    uint64_t counts[FAULT_N_KINDS];
    fault_rule rules[FAULT_N_KINDS];
    fault_cut_rule cut_rule;
    uint64_t n_fired;
    bool cut;
    bool trace; /* LSM_FAULT_TRACE was set when the env was made */
    tracked_file *files;
    size_t n_files, cap_files;
};

typedef struct fault_file {
    env_file base;   /* first; base.env is the view that opened it */
    env_file *inner; /* the inner env's file, owned */
} fault_file;

static const char *const kind_names[FAULT_N_KINDS] = {
    "append", "sync", "sync_dir", "create", "rename", "unlink", "truncate"};

const char *fault_kind_name(fault_kind kind)
{
    return kind < FAULT_N_KINDS ? kind_names[kind] : "unknown";
}

static fault_env *fault_env_of(env *e)
{
    return ((fault_view *)e)->fe;
}

/* The env the view e forwards to. */
static env *inner_env(env *e)
{
    return ((fault_view *)e)->inner;
}

static fault_env *fault_env_of_file(env_file *f)
{
    return fault_env_of(f->env);
}

static env_file *inner_file(env_file *f)
{
    return ((fault_file *)f)->inner;
}

/* --- tracked files -------------------------------------------------------- */

static tracked_file *tracked_find(fault_env *fe, const char *path)
{
    for (size_t i = 0; i < fe->n_files; i++)
        if (strcmp(fe->files[i].path, path) == 0)
            return &fe->files[i];
    return NULL;
}

/* Adds a record for path (not yet tracked). The record's path is owned by
 * files[] until tracked_remove or fault_env_free. */
static tracked_file *tracked_add(fault_env *fe, const char *path)
{
    if (fe->n_files == fe->cap_files) {
        size_t cap = fe->cap_files ? 2 * fe->cap_files : 16;
        tracked_file *grown = realloc(fe->files, cap * sizeof *grown);
        if (!grown)
            return NULL;
        fe->files = grown;
        fe->cap_files = cap;
    }
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    tracked_file *t = &fe->files[fe->n_files++];
    *t = (tracked_file){.path = copy};
    return t;
}

static void tracked_remove(fault_env *fe, const char *path)
{
    tracked_file *t = tracked_find(fe, path);
    if (!t)
        return;
    free(t->path);
    *t = fe->files[--fe->n_files];
}

/* True when path names an entry directly inside directory dir (trailing
 * slashes of dir ignored). */
static bool path_in_dir(const char *path, const char *dir)
{
    size_t n_dir = strlen(dir);
    while (n_dir > 1 && dir[n_dir - 1] == '/')
        n_dir--;
    const char *slash = strrchr(path, '/');
    if (!slash)
        return n_dir == 1 && dir[0] == '.';
    size_t n_parent = (size_t)(slash - path);
    return n_parent == n_dir && memcmp(path, dir, n_dir) == 0;
}

static bool path_exists(const char *path, uint64_t *size_bytes)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    if (size_bytes)
        *size_bytes = (uint64_t)st.st_size;
    return true;
}

static bool path_has_suffix(const char *path, const char *suffix)
{
    size_t n_path = strlen(path), n_suffix = strlen(suffix);
    return n_suffix <= n_path &&
           memcmp(path + n_path - n_suffix, suffix, n_suffix) == 0;
}

/* --- the power cut -------------------------------------------------------- */

/* What survives of one tracked file: keep_bytes of it, or nothing. */
static bool cut_decide(const tracked_file *t, uint64_t size_bytes,
                       fault_cut_mode mode, uint64_t *rng, uint64_t *keep_bytes)
{
    uint64_t durable =
        t->durable_bytes < size_bytes ? t->durable_bytes : size_bytes;
    if (mode == FAULT_CUT_DROP_UNSYNCED) {
        *keep_bytes = durable;
        return t->creation_durable;
    }
    *keep_bytes = durable + test_rng_next(rng) % (size_bytes - durable + 1);
    return t->creation_durable || test_rng_next(rng) % 2 == 0;
}

/* Makes the disk look as after a power loss, then refuses all later
 * writes. Caller holds mu. */
static int fault_cut_locked(fault_env *fe, fault_cut_mode mode, uint64_t seed)
{
    int rc = LSM_OK;
    uint64_t rng = seed;
    for (size_t i = 0; i < fe->n_files; i++) {
        tracked_file *t = &fe->files[i];
        uint64_t size_bytes, keep_bytes;
        if (!path_exists(t->path, &size_bytes))
            continue;
        int frc;
        if (!cut_decide(t, size_bytes, mode, &rng, &keep_bytes))
            frc = fe->inner->unlink(fe->inner, t->path);
        else if (keep_bytes < size_bytes)
            frc = fe->inner->truncate(fe->inner, t->path, keep_bytes);
        else
            frc = LSM_OK;
        if (rc == LSM_OK)
            rc = frc;
    }
    fe->cut = true;
    return rc;
}

/* --- the gate every mutating call passes ---------------------------------- */

/* With LSM_FAULT_TRACE=1 in the environment, every gated call is printed to
 * stderr with its outcome: the way to see where a sweep's fault landed. */
static void fault_trace(const fault_env *fe, fault_kind kind, uint64_t count,
                        const char *path, const char *outcome)
{
    if (fe->trace)
        fprintf(stderr, "fault_env: %s #%" PRIu64 " %s: %s\n", kind_names[kind],
                count, path, outcome);
}

/* Counts a call of kind on path and decides whether it may reach the disk.
 * LSM_OK: go on. LSM_EIO (message recorded): the power is cut, or is cut
 * now by the cut rule, or an armed rule fails this call; *injected is set
 * only in the last case. A disk-full rule (err ENOSPC) fails only calls
 * that need_space: opening a file that exists takes none. Caller holds
 * mu. */
static int fault_gate_space_locked(fault_env *fe, fault_kind kind,
                                   const char *path, bool needs_space,
                                   bool *injected)
{
    *injected = false;
    if (fe->cut) {
        fault_trace(fe, kind, fe->counts[kind], path, "refused (power is cut)");
        return lsm_error(LSM_EIO, "%s: %s refused, the power is cut", path,
                         kind_names[kind]);
    }
    uint64_t count = ++fe->counts[kind];
    fault_cut_rule *c = &fe->cut_rule;
    if (c->armed && c->kind == kind && count == c->at_count) {
        c->armed = false;
        fault_trace(fe, kind, count, path, "POWER CUT instead");
        fault_cut_locked(fe, c->mode, c->seed);
        return lsm_error(LSM_EIO, "%s: power cut at %s call %" PRIu64, path,
                         kind_names[kind], count);
    }
    fault_rule *r = &fe->rules[kind];
    bool fail = false;
    if (r->armed && path_has_suffix(path, r->suffix) &&
        (needs_space || r->err != ENOSPC)) {
        r->seen++;
        fail = r->seen == r->nth || (r->seen > r->nth && r->sticky);
    }
    fault_trace(fe, kind, count, path, fail ? "INJECTED FAILURE" : "ok");
    if (!fail)
        return LSM_OK;
    fe->n_fired++;
    *injected = true;
    if (r->err != 0)
        return lsm_io_error(r->err,
                            "%s: injected %s failure (call %" PRIu64 ")", path,
                            kind_names[kind], count);
    return lsm_error(LSM_EIO, "%s: injected %s failure (call %" PRIu64 ")",
                     path, kind_names[kind], count);
}

/* The gate for calls that always need space (or for which it does not
 * matter). */
static int fault_gate_locked(fault_env *fe, fault_kind kind, const char *path,
                             bool *injected)
{
    return fault_gate_space_locked(fe, kind, path, true, injected);
}

/* --- files ---------------------------------------------------------------- */

/* Wraps an inner file; on failure the inner file is closed. *out is freed
 * by fault_file_close. */
static int fault_file_wrap(env *view, env_file *in, env_file **out)
{
    fault_file *f = malloc(sizeof *f);
    if (!f) {
        int rc = lsm_error(LSM_ENOMEM, "out of memory opening %s", in->path);
        file_close(in);
        return rc;
    }
    f->base.env = view;
    f->base.path = in->path; /* owned by the inner file */
    f->inner = in;
    *out = &f->base;
    return LSM_OK;
}

/* Shared by open_write and open_append: opens through the inner env and
 * records what a power cut would keep of the file. */
static int fault_open_for_write(env *e, const char *path, bool truncating,
                                env_file **out)
{
    fault_env *fe = fault_env_of(e);
    env *inner = inner_env(e);
    env_file *in = NULL;
    bool injected;
    *out = NULL;
    pthread_mutex_lock(&fe->mu);
    uint64_t size_bytes = 0;
    bool existed = path_exists(path, &size_bytes);
    int rc =
        fault_gate_space_locked(fe, FAULT_CREATE, path, !existed, &injected);
    if (rc != LSM_OK)
        goto out;
    rc = truncating ? inner->open_write(inner, path, &in)
                    : inner->open_append(inner, path, &in);
    if (rc != LSM_OK)
        goto out;
    tracked_file *t = tracked_find(fe, path);
    if (!t) {
        /* First sight: a file already on disk was made by an earlier
         * process and is taken as durable as it is. */
        t = tracked_add(fe, path);
        if (!t) {
            file_close(in);
            rc = lsm_error(LSM_ENOMEM, "out of memory tracking %s", path);
            goto out;
        }
        t->creation_durable = existed;
        t->durable_bytes = existed ? size_bytes : 0;
    } else if (!existed) {
        t->creation_durable = false;
    }
    if (truncating)
        t->durable_bytes = 0;
    rc = fault_file_wrap(e, in, out);
out:
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int fault_open_write(env *e, const char *path, env_file **out)
{
    return fault_open_for_write(e, path, true, out);
}

static int fault_open_append(env *e, const char *path, env_file **out)
{
    return fault_open_for_write(e, path, false, out);
}

static int fault_open_read(env *e, const char *path, env_file **out)
{
    return inner_env(e)->open_read(inner_env(e), path, out);
}

static int fault_read_at(env_file *f, uint64_t offset, void *buf, size_t n)
{
    return file_read_at(inner_file(f), offset, buf, n);
}

/* An injected failure writes half the bytes first, like a short write
 * followed by an error, leaving a partial record for the engine to handle. */
static int fault_append(env_file *f, const void *data, size_t n)
{
    fault_env *fe = fault_env_of_file(f);
    bool injected;
    pthread_mutex_lock(&fe->mu);
    int rc = fault_gate_locked(fe, FAULT_APPEND, f->path, &injected);
    if (rc == LSM_OK)
        rc = file_append(inner_file(f), data, n);
    else if (injected && n / 2 > 0)
        file_append(inner_file(f), data, n / 2);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

/* Records the file's current size as durable; the real fdatasync is
 * skipped (see fault_env.h). */
static int fault_sync(env_file *f)
{
    fault_env *fe = fault_env_of_file(f);
    bool injected;
    uint64_t size_bytes = 0;
    pthread_mutex_lock(&fe->mu);
    int rc = fault_gate_locked(fe, FAULT_SYNC, f->path, &injected);
    if (rc == LSM_OK)
        rc = file_size(inner_file(f), &size_bytes);
    if (rc == LSM_OK) {
        tracked_file *t = tracked_find(fe, f->path);
        if (t)
            t->durable_bytes = size_bytes;
    }
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int fault_size(env_file *f, uint64_t *out)
{
    return file_size(inner_file(f), out);
}

/* Frees the wrapper and closes the inner file, even after a power cut
 * (closing changes nothing on disk). NULL-safe. */
static int fault_file_close(env_file *f)
{
    if (!f)
        return LSM_OK;
    int rc = file_close(inner_file(f));
    free(f);
    return rc;
}

/* --- whole-path operations ------------------------------------------------ */

static int fault_truncate(env *e, const char *path, uint64_t n)
{
    fault_env *fe = fault_env_of(e);
    bool injected;
    pthread_mutex_lock(&fe->mu);
    int rc = fault_gate_locked(fe, FAULT_TRUNCATE, path, &injected);
    if (rc == LSM_OK)
        rc = inner_env(e)->truncate(inner_env(e), path, n);
    if (rc == LSM_OK) {
        tracked_file *t = tracked_find(fe, path);
        if (t && t->durable_bytes > n)
            t->durable_bytes = n;
    }
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int fault_unlink(env *e, const char *path)
{
    fault_env *fe = fault_env_of(e);
    bool injected;
    pthread_mutex_lock(&fe->mu);
    int rc = fault_gate_locked(fe, FAULT_UNLINK, path, &injected);
    if (rc == LSM_OK)
        rc = inner_env(e)->unlink(inner_env(e), path);
    if (rc == LSM_OK)
        tracked_remove(fe, path);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

/* The record (if any) follows the file to its new name; whatever was
 * tracked at the target is gone. */
static int fault_rename(env *e, const char *from, const char *to)
{
    fault_env *fe = fault_env_of(e);
    bool injected;
    pthread_mutex_lock(&fe->mu);
    int rc = fault_gate_locked(fe, FAULT_RENAME, from, &injected);
    if (rc == LSM_OK)
        rc = inner_env(e)->rename(inner_env(e), from, to);
    if (rc == LSM_OK) {
        tracked_remove(fe, to);
        tracked_file *t = tracked_find(fe, from);
        char *copy = t ? strdup(to) : NULL;
        if (t && copy) {
            free(t->path);
            t->path = copy;
        } else if (t) {
            rc = lsm_error(LSM_ENOMEM, "out of memory renaming %s", from);
        }
    }
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int fault_mkdir(env *e, const char *path, bool *created)
{
    fault_env *fe = fault_env_of(e);
    pthread_mutex_lock(&fe->mu);
    bool cut = fe->cut;
    pthread_mutex_unlock(&fe->mu);
    if (cut)
        return lsm_error(LSM_EIO, "%s: mkdir refused, the power is cut", path);
    return inner_env(e)->mkdir(inner_env(e), path, created);
}

/* Makes the creation of every tracked file in the directory durable; the
 * real directory fsync is skipped (see fault_env.h). */
static int fault_sync_dir(env *e, const char *path)
{
    fault_env *fe = fault_env_of(e);
    bool injected;
    pthread_mutex_lock(&fe->mu);
    int rc = fault_gate_locked(fe, FAULT_SYNC_DIR, path, &injected);
    if (rc == LSM_OK) {
        for (size_t i = 0; i < fe->n_files; i++)
            if (path_in_dir(fe->files[i].path, path))
                fe->files[i].creation_durable = true;
    }
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int fault_list_dir(env *e, const char *path,
                          void (*fn)(const char *name, void *ctx), void *ctx)
{
    return inner_env(e)->list_dir(inner_env(e), path, fn, ctx);
}

static int fault_lock(env *e, const char *path, env_file **out)
{
    return inner_env(e)->lock(inner_env(e), path, out);
}

static const env fault_vtable;

/* A view bound to the directory: the inner env binds itself, and this
 * view forwards to that, so the engine's files go through the inner env's
 * directory descriptor and through this env's counting and tracking
 * alike. Paths keep their spelling ("dir/name"), so rules and the records
 * of tracked files are unchanged. */
static int fault_open_dir(env *e, const char *path, env **out)
{
    *out = NULL;
    fault_view *v = calloc(1, sizeof *v);
    if (!v)
        return lsm_error(LSM_ENOMEM, "out of memory opening %s", path);
    int rc = inner_env(e)->open_dir(inner_env(e), path, &v->inner);
    if (rc != LSM_OK) {
        free(v);
        return rc;
    }
    v->base = fault_vtable;
    v->fe = fault_env_of(e);
    *out = &v->base;
    return LSM_OK;
}

static void fault_close_dir(env *bound)
{
    fault_view *v = (fault_view *)bound;
    v->inner->close_dir(v->inner);
    free(v);
}

static const env fault_vtable = {
    .open_read = fault_open_read,
    .open_write = fault_open_write,
    .open_append = fault_open_append,
    .read_at = fault_read_at,
    .append = fault_append,
    .sync = fault_sync,
    .size = fault_size,
    .close = fault_file_close,
    .truncate = fault_truncate,
    .unlink = fault_unlink,
    .rename = fault_rename,
    .mkdir = fault_mkdir,
    .open_dir = fault_open_dir,
    .close_dir = fault_close_dir,
    .sync_dir = fault_sync_dir,
    .list_dir = fault_list_dir,
    .lock = fault_lock,
};

/* --- the test-facing API -------------------------------------------------- */

int fault_env_new(env *inner, fault_env **out)
{
    fault_env *fe = calloc(1, sizeof *fe);
    *out = NULL;
    if (!fe)
        return lsm_error(LSM_ENOMEM, "out of memory for a fault env");
    fe->top = (fault_view){.base = fault_vtable, .fe = fe, .inner = inner};
    fe->inner = inner;
    const char *trace = getenv("LSM_FAULT_TRACE");
    fe->trace = trace && *trace && strcmp(trace, "0") != 0;
    pthread_mutex_init(&fe->mu, NULL);
    *out = fe;
    return LSM_OK;
}

void fault_env_free(fault_env *fe)
{
    if (!fe)
        return;
    for (size_t i = 0; i < fe->n_files; i++)
        free(fe->files[i].path);
    free(fe->files);
    pthread_mutex_destroy(&fe->mu);
    free(fe);
}

env *fault_env_env(fault_env *fe)
{
    return &fe->top.base;
}

static void fault_arm(fault_env *fe, fault_kind kind, uint64_t n, bool sticky,
                      const char *suffix)
{
    pthread_mutex_lock(&fe->mu);
    fault_rule *r = &fe->rules[kind];
    *r = (fault_rule){.armed = n > 0, .sticky = sticky, .nth = n};
    snprintf(r->suffix, sizeof r->suffix, "%s", suffix ? suffix : "");
    pthread_mutex_unlock(&fe->mu);
}

void fault_env_disk_full(fault_env *fe)
{
    fault_arm(fe, FAULT_APPEND, 1, true, NULL);
    fault_arm(fe, FAULT_CREATE, 1, true, NULL);
    pthread_mutex_lock(&fe->mu);
    fe->rules[FAULT_APPEND].err = ENOSPC;
    fe->rules[FAULT_CREATE].err = ENOSPC;
    pthread_mutex_unlock(&fe->mu);
}

void fault_env_fail_nth(fault_env *fe, fault_kind kind, uint64_t n)
{
    fault_arm(fe, kind, n, false, NULL);
}

void fault_env_fail_from_nth(fault_env *fe, fault_kind kind, uint64_t n)
{
    fault_arm(fe, kind, n, true, NULL);
}

void fault_env_fail_nth_path(fault_env *fe, fault_kind kind, uint64_t n,
                             const char *suffix)
{
    fault_arm(fe, kind, n, false, suffix);
}

void fault_env_clear_faults(fault_env *fe)
{
    pthread_mutex_lock(&fe->mu);
    memset(fe->rules, 0, sizeof fe->rules);
    fe->cut_rule.armed = false;
    pthread_mutex_unlock(&fe->mu);
}

void fault_env_cut_nth(fault_env *fe, fault_kind kind, uint64_t n,
                       fault_cut_mode mode, uint64_t seed)
{
    pthread_mutex_lock(&fe->mu);
    fe->cut_rule = (fault_cut_rule){.armed = n > 0,
                                    .kind = kind,
                                    .at_count = fe->counts[kind] + n,
                                    .mode = mode,
                                    .seed = seed};
    pthread_mutex_unlock(&fe->mu);
}

uint64_t fault_env_count(fault_env *fe, fault_kind kind)
{
    pthread_mutex_lock(&fe->mu);
    uint64_t n = fe->counts[kind];
    pthread_mutex_unlock(&fe->mu);
    return n;
}

uint64_t fault_env_fired(fault_env *fe)
{
    pthread_mutex_lock(&fe->mu);
    uint64_t n = fe->n_fired;
    pthread_mutex_unlock(&fe->mu);
    return n;
}

bool fault_env_is_cut(fault_env *fe)
{
    pthread_mutex_lock(&fe->mu);
    bool cut = fe->cut;
    pthread_mutex_unlock(&fe->mu);
    return cut;
}

int fault_env_power_cut_mode(fault_env *fe, fault_cut_mode mode, uint64_t seed)
{
    pthread_mutex_lock(&fe->mu);
    int rc = fault_cut_locked(fe, mode, seed);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

int fault_env_power_cut(fault_env *fe)
{
    return fault_env_power_cut_mode(fe, FAULT_CUT_DROP_UNSYNCED, 0);
}
