/*
 * db_dir.c: the database directory: creating it durably, binding the
 * engine's env to it and locking it.
 *
 * Creating: when open makes the directory, it fsyncs the parent directory
 * right away, so that the new directory's entry, and so every file synced
 * in it later, survives a power cut (without that fsync the first synced
 * writes could vanish with the directory).
 *
 * Binding: open opens the directory once and from then on the handle's env
 * (db->env) is bound to that descriptor (env_int.h, "Bound envs"): every
 * file is created, opened, renamed, deleted and listed relative to it, and
 * the directory's own fsync is that of the descriptor. A database whose
 * directory is renamed while open keeps working where it now is, and a new
 * database made at the old path is never touched by this handle.
 *
 * Locking: an exclusive flock on the directory itself (a descriptor of its
 * own), held for the life of the handle. No file holds the lock, so
 * deleting a file cannot let a second process in.
 *
 * Read only (lsm_options.read_only): the directory must exist (it is
 * neither created nor fsynced) and no lock is taken, so the handle can
 * look into a database another process holds.
 *
 * Ownership: db->dir_env and db->lock_file are owned by the handle, set
 * here during open and freed by db_dir_close from db_free, after every
 * file of the database is closed; the bound env is immutable, so threads
 * share it without a lock.
 */
#include "db/db_int.h"

#include "util/status_int.h"

#include <stdlib.h>
#include <string.h>

/* The parent directory of dir in a malloc'd string: "." for a bare name,
 * "/" for a child of the root. NULL when out of memory. */
static char *parent_of(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') /* "a/b/" is "a/b" */
        n--;
    while (n > 0 && dir[n - 1] != '/')
        n--;
    while (n > 1 && dir[n - 1] == '/') /* "a//b": the parent is "a" */
        n--;
    if (n == 0)
        return strdup(".");
    char *parent = malloc(n + 1);
    if (parent) {
        memcpy(parent, dir, n);
        parent[n] = '\0';
    }
    return parent;
}

/* Creates the directory if missing, fsyncing its parent when it did. */
static int db_create_dir(env *e, const char *dir)
{
    bool created = false;
    int rc = e->mkdir(e, dir, &created);
    if (rc != LSM_OK || !created)
        return rc;
    char *parent = parent_of(dir);
    if (!parent)
        return lsm_error(LSM_ENOMEM, "out of memory opening %s", dir);
    rc = e->sync_dir(e, parent);
    free(parent);
    return rc;
}

int db_dir_open(lsm_db *db)
{
    env *e = db->env;
    bool read_only = db->opt.read_only != 0;
    int rc = read_only ? LSM_OK : db_create_dir(e, db->dir);
    if (rc == LSM_OK)
        rc = e->open_dir(e, db->dir, &db->dir_env);
    if (rc != LSM_OK && read_only)
        return lsm_error_wrap(rc, "read-only open (which creates nothing)");
    if (rc != LSM_OK)
        return rc;
    db->env = db->dir_env;
    if (read_only)
        return LSM_OK;
    return db->env->lock(db->env, db->dir, &db->lock_file);
}

void db_dir_close(lsm_db *db)
{
    file_close(db->lock_file);
    db->lock_file = NULL;
    if (db->dir_env)
        db->dir_env->close_dir(db->dir_env);
    db->dir_env = NULL;
}
