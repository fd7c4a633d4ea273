/*
 * env_int.h: every file operation of the engine goes through an env, a table
 * of function pointers, so that tests can substitute one that fails the Nth
 * write or fsync, or forgets what was not synced (a simulated power cut).
 *
 * env_posix() is the real one. All functions return LSM_OK or an error code
 * and record a message naming the path (status_int.h).
 *
 * Ownership: an env_file is created by open_* and freed by close, which is
 * NULL-safe and always frees, even when it reports an error.
 *
 * Bound envs. open_dir opens a directory and returns a new env bound to it
 * (for a database: its directory, for the life of the handle). Paths handed
 * to a bound env are spelled as the directory's path exactly as given to
 * open_dir, a slash and a name ("db/MANIFEST" for open_dir("db")), and the
 * path of the directory itself names the directory (sync_dir, list_dir,
 * lock). The posix env resolves the name relative to the directory
 * descriptor it holds (openat, renameat, unlinkat, fstatat), never by path,
 * so the files stay those of the directory it opened even after that
 * directory is renamed or another one is made at its old path; the path
 * spelling only makes messages name the file. Any other path is
 * LSM_EINVAL. A bound env offers no mkdir and no open_dir (NULL); its
 * close_dir frees it and closes the descriptor, after every file opened
 * through it is closed. Wrappers (the fault and record envs of tests/)
 * bind their inner env the same way and forward to the bound inner env; an
 * env that resolves paths as they are may return itself from open_dir
 * with a close_dir that does nothing.
 *
 * Only regular files: open_read, open_write, open_append and truncate
 * refuse anything else at that name (a FIFO, device, socket, directory or
 * symbolic link) with LSM_ECORRUPT naming the path and saying what it is,
 * without blocking (O_NONBLOCK) and without following a symlink
 * (O_NOFOLLOW), so a FIFO cannot hang an open and a symlink cannot lead a
 * creation out of the directory.
 */
#ifndef LSM_ENV_INT_H
#define LSM_ENV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct env env;
typedef struct env_file env_file;

/* The part of every open file that callers may read. An env implementation
 * embeds it as the first member of its own file struct. */
struct env_file {
    env *env;         /* the env that opened it; its functions serve it */
    const char *path; /* owned by the file, for messages */
};

struct env {
    /* Opens an existing file for positional reads. */
    int (*open_read)(env *e, const char *path, env_file **out);
    /* Creates (or truncates) a file for appending. */
    int (*open_write)(env *e, const char *path, env_file **out);
    /* Opens a file for appending, creating it if missing. */
    int (*open_append)(env *e, const char *path, env_file **out);
    /* Reads exactly n bytes at offset; a short file is LSM_ECORRUPT. */
    int (*read_at)(env_file *f, uint64_t offset, void *buf, size_t n);
    int (*append)(env_file *f, const void *data, size_t n);
    /* Flushes the file's data to stable storage (fdatasync). */
    int (*sync)(env_file *f);
    int (*size)(env_file *f, uint64_t *out);
    int (*close)(env_file *f);
    /* Truncates the file at path to n bytes. */
    int (*truncate)(env *e, const char *path, uint64_t n);
    int (*unlink)(env *e, const char *path);
    int (*rename)(env *e, const char *from, const char *to);
    /* Creates the directory if missing; *created tells whether this call
     * made it (the caller then fsyncs the parent). An existing
     * non-directory is an error naming it. */
    int (*mkdir)(env *e, const char *path, bool *created);
    /* Opens the existing directory at path (following a symlink, as the
     * user's path may be one) and returns in *out an env bound to it (see
     * "Bound envs" above), freed by (*out)->close_dir. */
    int (*open_dir)(env *e, const char *path, env **out);
    /* Frees a bound env returned by open_dir and closes its directory
     * descriptor. Every file opened through it must be closed first. */
    void (*close_dir)(env *bound);
    /* fsyncs a directory so that creations and renames in it are durable. */
    int (*sync_dir)(env *e, const char *path);
    /* Calls fn(name, ctx) for every entry of the directory but . and .. */
    int (*list_dir)(env *e, const char *path,
                    void (*fn)(const char *name, void *ctx), void *ctx);
    /* Takes an exclusive lock on the directory at path itself (flock on a
     * descriptor of the directory, not on a file in it: deleting files
     * cannot release it) for the life of *out; LSM_EBUSY when another
     * process, or another handle of this one, holds it. Released by
     * close. */
    int (*lock)(env *e, const char *path, env_file **out);
    /* Optional (NULL: not offered; callers then use read_at). Maps the
     * first n_bytes of a file opened with open_read, read-only, into
     * memory at *out. The mapping outlives the file's close and stays
     * until unmap. Reading a mapped page the file no longer has (it was
     * truncated) or the disk cannot read raises SIGBUS and kills the
     * process: only lsm_options.mmap_reads, opt-in, uses it. */
    int (*map)(env_file *f, uint64_t n_bytes, const void **out);
    void (*unmap)(env *e, const void *p, uint64_t n_bytes);
};

/* The real file system. Static; never freed. */
env *env_posix(void);

/* Shorthands that dispatch through the file's own env. */
static inline int file_read_at(env_file *f, uint64_t off, void *buf, size_t n)
{
    return f->env->read_at(f, off, buf, n);
}
static inline int file_append(env_file *f, const void *data, size_t n)
{
    return f->env->append(f, data, n);
}
static inline int file_sync(env_file *f)
{
    return f->env->sync(f);
}
static inline int file_size(env_file *f, uint64_t *out)
{
    return f->env->size(f, out);
}
/* NULL-safe; always frees f. */
static inline int file_close(env_file *f)
{
    return f ? f->env->close(f) : 0;
}

#endif
