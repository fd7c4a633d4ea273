/*
 * record_env.c: the recording env of record_env.h.
 *
 * Layout: a record_env embeds its view (an env vtable, first) first, so
 * the env * record_env_env hands out is the record_env *; open_dir makes
 * more views, bound to a directory, that record into the same record_env. Files
 * opened for writing are wrapped in a record_file (env_file first, env pointing
 * at the record env) around the inner env's file, so every append and sync
 * passes through here. Files opened for reading and the lock file are the inner
 * env's own. Like the fault env, it offers no map: SSTs are read with read_at.
 *
 * Invariants (under mu): ops[0..n_ops) are the operations that succeeded
 * since recording last started, in the order they returned.
 */
#include "record_env.h"

#include "util/status_int.h"

#include "lsm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An env the record env hands out: its own (record_env_env; inner is the
 * env it wraps) or one bound to a directory by open_dir (inner is the
 * inner env's bound env). Every view records into its record env. */
typedef struct record_view {
    env base; /* first: the env * handed out points here */
    struct record_env *re;
    env *inner;
} record_view;

struct record_env {
    record_view top; /* first: record_env_env hands out &top.base */
    pthread_mutex_t mu;
    bool recording; /* [mu] */
    record_op *ops; /* [mu] */
    size_t n_ops, cap_ops;
    bool out_of_memory; /* [mu] a record was lost: the test must fail */
};

typedef struct record_file {
    env_file base;   /* first; base.env is the record env */
    env_file *inner; /* the inner env's file, owned */
} record_file;

static const char *const kind_names[RECORD_N_KINDS] = {
    "create", "append", "sync", "sync_dir", "unlink", "rename", "truncate"};

const char *record_kind_name(record_kind kind)
{
    return (unsigned)kind < RECORD_N_KINDS ? kind_names[kind] : "?";
}

static record_env *record_env_of(env *e)
{
    return ((record_view *)e)->re;
}

/* The env the view e forwards to. */
static env *inner_env(env *e)
{
    return ((record_view *)e)->inner;
}

static env_file *inner_file(env_file *f)
{
    return ((record_file *)f)->inner;
}

/* Records one operation that succeeded (rc == LSM_OK) on path (NULL: a
 * directory) and returns rc. */
static int record(record_env *re, int rc, record_kind kind, const char *path,
                  uint64_t size_bytes)
{
    if (rc != LSM_OK)
        return rc;
    pthread_mutex_lock(&re->mu);
    if (re->recording && re->n_ops == re->cap_ops) {
        size_t cap = re->cap_ops ? 2 * re->cap_ops : 256;
        record_op *grown = realloc(re->ops, cap * sizeof *grown);
        if (grown) {
            re->ops = grown;
            re->cap_ops = cap;
        } else {
            re->out_of_memory = true;
        }
    }
    if (re->recording && re->n_ops < re->cap_ops) {
        record_op *op = &re->ops[re->n_ops++];
        const char *slash = path ? strrchr(path, '/') : NULL;
        op->kind = kind;
        snprintf(op->name, sizeof op->name, "%s",
                 !path   ? ""
                 : slash ? slash + 1
                         : path);
        op->size_bytes = size_bytes;
    }
    pthread_mutex_unlock(&re->mu);
    return rc;
}

static int record_open_for_write(env *e, const char *path, bool truncating,
                                 env_file **out)
{
    record_env *re = record_env_of(e);
    env_file *in = NULL;
    *out = NULL;
    record_file *f = calloc(1, sizeof *f);
    if (!f)
        return lsm_error(LSM_ENOMEM, "out of memory opening %s", path);
    int rc = truncating ? inner_env(e)->open_write(inner_env(e), path, &in)
                        : inner_env(e)->open_append(inner_env(e), path, &in);
    if (rc != LSM_OK) {
        free(f);
        return rc;
    }
    f->base.env = e;
    f->base.path = in->path; /* owned by the inner file */
    f->inner = in;
    *out = &f->base;
    return record(re, rc, RECORD_CREATE, path, 0);
}

static int record_open_write(env *e, const char *path, env_file **out)
{
    return record_open_for_write(e, path, true, out);
}

static int record_open_append(env *e, const char *path, env_file **out)
{
    return record_open_for_write(e, path, false, out);
}

static int record_open_read(env *e, const char *path, env_file **out)
{
    return inner_env(e)->open_read(inner_env(e), path, out);
}

static int record_read_at(env_file *f, uint64_t offset, void *buf, size_t n)
{
    return file_read_at(inner_file(f), offset, buf, n);
}

static int record_append(env_file *f, const void *data, size_t n)
{
    int rc = file_append(inner_file(f), data, n);
    return record(record_env_of(f->env), rc, RECORD_APPEND, f->path, n);
}

static int record_sync(env_file *f)
{
    int rc = file_sync(inner_file(f));
    return record(record_env_of(f->env), rc, RECORD_SYNC, f->path, 0);
}

static int record_size(env_file *f, uint64_t *out)
{
    return file_size(inner_file(f), out);
}

static int record_file_close(env_file *f)
{
    int rc = file_close(inner_file(f));
    free(f);
    return rc;
}

static int record_truncate(env *e, const char *path, uint64_t n)
{
    record_env *re = record_env_of(e);
    int rc = inner_env(e)->truncate(inner_env(e), path, n);
    return record(re, rc, RECORD_TRUNCATE, path, n);
}

static int record_unlink(env *e, const char *path)
{
    record_env *re = record_env_of(e);
    int rc = inner_env(e)->unlink(inner_env(e), path);
    return record(re, rc, RECORD_UNLINK, path, 0);
}

static int record_rename(env *e, const char *from, const char *to)
{
    record_env *re = record_env_of(e);
    int rc = inner_env(e)->rename(inner_env(e), from, to);
    return record(re, rc, RECORD_RENAME, from, 0); /* the old name */
}

static int record_mkdir(env *e, const char *path, bool *created)
{
    return inner_env(e)->mkdir(inner_env(e), path, created);
}

static int record_sync_dir(env *e, const char *path)
{
    record_env *re = record_env_of(e);
    int rc = inner_env(e)->sync_dir(inner_env(e), path);
    return record(re, rc, RECORD_SYNC_DIR, NULL, 0);
}

static int record_list_dir(env *e, const char *path,
                           void (*fn)(const char *name, void *ctx), void *ctx)
{
    return inner_env(e)->list_dir(inner_env(e), path, fn, ctx);
}

static int record_lock(env *e, const char *path, env_file **out)
{
    return inner_env(e)->lock(inner_env(e), path, out);
}

static const env record_vtable;

/* A view bound to the directory: the inner env binds itself and the view
 * forwards to that; paths keep their spelling. */
static int record_open_dir(env *e, const char *path, env **out)
{
    *out = NULL;
    record_view *v = calloc(1, sizeof *v);
    if (!v)
        return lsm_error(LSM_ENOMEM, "out of memory opening %s", path);
    int rc = inner_env(e)->open_dir(inner_env(e), path, &v->inner);
    if (rc != LSM_OK) {
        free(v);
        return rc;
    }
    v->base = record_vtable;
    v->re = record_env_of(e);
    *out = &v->base;
    return LSM_OK;
}

static void record_close_dir(env *bound)
{
    record_view *v = (record_view *)bound;
    v->inner->close_dir(v->inner);
    free(v);
}

static const env record_vtable = {
    .open_read = record_open_read,
    .open_write = record_open_write,
    .open_append = record_open_append,
    .read_at = record_read_at,
    .append = record_append,
    .sync = record_sync,
    .size = record_size,
    .close = record_file_close,
    .truncate = record_truncate,
    .unlink = record_unlink,
    .rename = record_rename,
    .mkdir = record_mkdir,
    .open_dir = record_open_dir,
    .close_dir = record_close_dir,
    .sync_dir = record_sync_dir,
    .list_dir = record_list_dir,
    .lock = record_lock,
};

int record_env_new(env *inner, record_env **out)
{
    record_env *re = calloc(1, sizeof *re);
    *out = NULL;
    if (!re)
        return lsm_error(LSM_ENOMEM, "out of memory for a record env");
    re->top = (record_view){.base = record_vtable, .re = re, .inner = inner};
    pthread_mutex_init(&re->mu, NULL);
    *out = re;
    return LSM_OK;
}

void record_env_free(record_env *re)
{
    if (!re)
        return;
    free(re->ops);
    pthread_mutex_destroy(&re->mu);
    free(re);
}

env *record_env_env(record_env *re)
{
    return &re->top.base;
}

void record_env_set_recording(record_env *re, bool on)
{
    pthread_mutex_lock(&re->mu);
    re->recording = on;
    if (on) {
        re->n_ops = 0;
        re->out_of_memory = false;
    }
    pthread_mutex_unlock(&re->mu);
}

const record_op *record_env_ops(record_env *re, size_t *n)
{
    pthread_mutex_lock(&re->mu);
    /* A lost record would make any comparison meaningless: report none,
     * which no test that did I/O accepts. */
    *n = re->out_of_memory ? 0 : re->n_ops;
    const record_op *ops = re->ops;
    pthread_mutex_unlock(&re->mu);
    return ops;
}
