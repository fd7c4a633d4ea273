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
 */
#ifndef LSM_ENV_INT_H
#define LSM_ENV_INT_H

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
    /* Creates the directory if missing; an existing non-directory is an
     * error naming it. */
    int (*mkdir)(env *e, const char *path);
    /* fsyncs a directory so that creations and renames in it are durable. */
    int (*sync_dir)(env *e, const char *path);
    /* Calls fn(name, ctx) for every entry of the directory but . and .. */
    int (*list_dir)(env *e, const char *path,
                    void (*fn)(const char *name, void *ctx), void *ctx);
    /* Takes an exclusive lock on path (created if missing) for the life of
     * *out; LSM_EBUSY when another process holds it. Released by close. */
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
