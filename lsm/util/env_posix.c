/*
 * env_posix.c: the env over POSIX file descriptors.
 *
 * An env_file owns one descriptor and a copy of its path (for messages).
 * Appends are unbuffered write(2) calls: callers (SST builder, manifest)
 * assemble whole blocks or records before appending, so each append is one
 * system call and nothing sits in a user-space buffer when a process dies.
 */
#include "util/env_int.h"
#include "util/status_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static env posix_env;

typedef struct posix_file {
    env_file base; /* first: an env_file * points here */
    int fd;
} posix_file;

static int fd_of(env_file *f)
{
    return ((posix_file *)f)->fd;
}

static int posix_wrap_fd(int fd, const char *path, env_file **out)
{
    posix_file *f = malloc(sizeof *f);
    char *copy = strdup(path);
    if (!f || !copy) {
        free(f);
        free(copy);
        close(fd);
        return lsm_error(LSM_ENOMEM, "out of memory opening %s", path);
    }
    f->base.env = &posix_env;
    f->base.path = copy;
    f->fd = fd;
    *out = &f->base;
    return LSM_OK;
}

static int posix_open_flags(const char *path, int flags, env_file **out)
{
    *out = NULL;
    int fd;
    do {
        fd = open(path, flags | O_CLOEXEC, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return lsm_io_error(errno, "cannot open %s", path);
    return posix_wrap_fd(fd, path, out);
}

static int posix_open_read(env *e, const char *path, env_file **out)
{
    (void)e;
    return posix_open_flags(path, O_RDONLY, out);
}

static int posix_open_write(env *e, const char *path, env_file **out)
{
    (void)e;
    return posix_open_flags(path, O_WRONLY | O_CREAT | O_TRUNC, out);
}

static int posix_open_append(env *e, const char *path, env_file **out)
{
    (void)e;
    return posix_open_flags(path, O_WRONLY | O_CREAT | O_APPEND, out);
}

/* A read that met the end of the file: the file is shorter than its
 * reader knows it to be (an SST cut while open, a torn copy). Says how
 * long it is now, so the message points at the cause. */
static int posix_short_read(env_file *f, uint64_t offset, size_t n)
{
    struct stat st;
    if (fstat(fd_of(f), &st) != 0)
        return lsm_corrupt("%s: short read of %zu bytes at offset %llu "
                           "(truncated?)",
                           f->path, n, (unsigned long long)offset);
    return lsm_corrupt("%s: short read of %zu bytes at offset %llu (file is "
                       "%llu bytes: truncated?)",
                       f->path, n, (unsigned long long)offset,
                       (unsigned long long)st.st_size);
}

static int posix_read_at(env_file *f, uint64_t offset, void *buf, size_t n)
{
    unsigned char *p = buf;
    uint64_t start = offset;
    size_t want = n;
    while (n > 0) {
        ssize_t got = pread(fd_of(f), p, n, (off_t)offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return lsm_io_error(errno, "cannot read %s at offset %llu", f->path,
                                (unsigned long long)offset);
        if (got == 0)
            return posix_short_read(f, start, want);
        p += got;
        n -= (size_t)got;
        offset += (uint64_t)got;
    }
    return LSM_OK;
}

static int posix_append(env_file *f, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t put = write(fd_of(f), p, n);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            return lsm_io_error(errno, "cannot write %s", f->path);
        p += put;
        n -= (size_t)put;
    }
    return LSM_OK;
}

static int posix_sync(env_file *f)
{
    if (fdatasync(fd_of(f)) != 0)
        return lsm_io_error(errno, "cannot sync %s", f->path);
    return LSM_OK;
}

static int posix_size(env_file *f, uint64_t *out)
{
    struct stat st;
    if (fstat(fd_of(f), &st) != 0)
        return lsm_io_error(errno, "cannot stat %s", f->path);
    *out = (uint64_t)st.st_size;
    return LSM_OK;
}

static int posix_close(env_file *f)
{
    if (!f)
        return LSM_OK;
    int rc = LSM_OK;
    if (close(fd_of(f)) != 0 && errno != EINTR)
        rc = lsm_io_error(errno, "cannot close %s", f->path);
    free((char *)f->path);
    free(f);
    return rc;
}

static int posix_truncate(env *e, const char *path, uint64_t n)
{
    (void)e;
    if (truncate(path, (off_t)n) != 0)
        return lsm_io_error(errno, "cannot truncate %s", path);
    return LSM_OK;
}

static int posix_unlink(env *e, const char *path)
{
    (void)e;
    if (unlink(path) != 0 && errno != ENOENT)
        return lsm_io_error(errno, "cannot remove %s", path);
    return LSM_OK;
}

static int posix_rename(env *e, const char *from, const char *to)
{
    (void)e;
    if (rename(from, to) != 0)
        return lsm_io_error(errno, "cannot rename %s to %s", from, to);
    return LSM_OK;
}

static int posix_mkdir(env *e, const char *path)
{
    (void)e;
    struct stat st;
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return lsm_error(LSM_EINVAL,
                             "%s exists and is not a directory; give a "
                             "directory path for the database",
                             path);
        return LSM_OK;
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return lsm_io_error(errno, "cannot create directory %s", path);
    return LSM_OK;
}

static int posix_sync_dir(env *e, const char *path)
{
    (void)e;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return lsm_io_error(errno, "cannot open directory %s", path);
    int rc = LSM_OK;
    if (fsync(fd) != 0)
        rc = lsm_io_error(errno, "cannot sync directory %s", path);
    close(fd);
    return rc;
}

static int posix_list_dir(env *e, const char *path,
                          void (*fn)(const char *name, void *ctx), void *ctx)
{
    (void)e;
    DIR *d = opendir(path);
    if (!d)
        return lsm_io_error(errno, "cannot list directory %s", path);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        fn(ent->d_name, ctx);
    }
    closedir(d);
    return LSM_OK;
}

static int posix_lock(env *e, const char *path, env_file **out)
{
    (void)e;
    int rc = posix_open_flags(path, O_RDWR | O_CREAT, out);
    if (rc != LSM_OK)
        return rc;
    if (flock(fd_of(*out), LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        posix_close(*out);
        *out = NULL;
        if (err == EWOULDBLOCK)
            return lsm_error(LSM_EBUSY,
                             "database is in use by another process (%s is "
                             "locked)",
                             path);
        return lsm_io_error(err, "cannot lock %s", path);
    }
    return LSM_OK;
}

static int posix_map(env_file *f, uint64_t n_bytes, const void **out)
{
    *out = NULL;
    if (n_bytes == 0 || n_bytes > SIZE_MAX)
        return lsm_error(LSM_EINVAL, "cannot map %llu bytes of %s",
                         (unsigned long long)n_bytes, f->path);
    void *p = mmap(NULL, (size_t)n_bytes, PROT_READ, MAP_SHARED, fd_of(f), 0);
    if (p == MAP_FAILED)
        return lsm_io_error(errno, "cannot map %s", f->path);
    *out = p;
    return LSM_OK;
}

static void posix_unmap(env *e, const void *p, uint64_t n_bytes)
{
    (void)e;
    munmap((void *)p, (size_t)n_bytes);
}

static env posix_env = {
    .open_read = posix_open_read,
    .open_write = posix_open_write,
    .open_append = posix_open_append,
    .read_at = posix_read_at,
    .append = posix_append,
    .sync = posix_sync,
    .size = posix_size,
    .close = posix_close,
    .truncate = posix_truncate,
    .unlink = posix_unlink,
    .rename = posix_rename,
    .mkdir = posix_mkdir,
    .sync_dir = posix_sync_dir,
    .list_dir = posix_list_dir,
    .lock = posix_lock,
    .map = posix_map,
    .unmap = posix_unmap,
};

env *env_posix(void)
{
    return &posix_env;
}
