/*
 * env_posix.c: the env over POSIX file descriptors.
 *
 * An env_file owns one descriptor and a copy of its path (for messages).
 * Appends are unbuffered write(2) calls: callers (SST builder, manifest)
 * assemble whole blocks or records before appending, so each append is one
 * system call and nothing sits in a user-space buffer when a process dies.
 *
 * Two kinds of env share the file functions: posix_env resolves paths as
 * they are (relative to the working directory), and a posix_dir_env, made
 * by open_dir, resolves names relative to the directory descriptor it owns
 * (env_int.h, "Bound envs"). Both open through posix_open_at, which opens
 * regular files only.
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
static int posix_open_dir(env *e, const char *path, env **out);

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

/* --- regular files only --------------------------------------------------- */

static const char *file_kind_name(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "of an unknown kind";
}

static int not_regular_error(const char *path, mode_t mode)
{
    return lsm_error(LSM_ECORRUPT,
                     "%s is %s, not a regular file; the engine opens only "
                     "regular files in the database directory",
                     path, file_kind_name(mode));
}

/* LSM_ECORRUPT naming path when the entry name of dir_fd exists and is not
 * a regular file (a symlink is not followed: it is itself the entry);
 * LSM_OK when it is regular or missing (the caller's open says what is
 * wrong then). */
static int refuse_irregular_entry(int dir_fd, const char *name,
                                  const char *path)
{
    struct stat st;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        S_ISREG(st.st_mode))
        return LSM_OK;
    return not_regular_error(path, st.st_mode);
}

/* Checks the opened fd is a regular file and makes its I/O blocking again
 * (it was opened O_NONBLOCK only so that the open itself cannot block). */
static int settle_regular_fd(int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return lsm_io_error(errno, "cannot stat %s", path);
    if (!S_ISREG(st.st_mode))
        return not_regular_error(path, st.st_mode);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
        return lsm_io_error(errno, "cannot set blocking I/O on %s", path);
    return LSM_OK;
}

/* Opens the regular file name of dir_fd (AT_FDCWD: name is a path) with
 * flags; path names it in messages. The entry is checked before opening,
 * so a device is never opened, and the descriptor after, for a swap in
 * between. O_NONBLOCK keeps a FIFO from blocking the open (a FIFO opened
 * for writing with no reader fails with ENXIO, which the check then
 * explains); O_NOFOLLOW refuses a symlink (ELOOP, likewise explained)
 * instead of following it out of the directory; O_NOCTTY keeps a terminal
 * from becoming the process's. */
static int posix_open_at(int dir_fd, const char *name, const char *path,
                         int flags, env_file **out)
{
    *out = NULL;
    int rc = refuse_irregular_entry(dir_fd, name, path);
    if (rc != LSM_OK)
        return rc;
    int fd;
    do {
        fd = openat(dir_fd, name,
                    flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
                    0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int err = errno;
        rc = refuse_irregular_entry(dir_fd, name, path);
        return rc != LSM_OK ? rc : lsm_io_error(err, "cannot open %s", path);
    }
    rc = settle_regular_fd(fd, path);
    if (rc != LSM_OK) {
        close(fd);
        return rc;
    }
    return posix_wrap_fd(fd, path, out);
}

#define OPEN_READ_FLAGS O_RDONLY
#define OPEN_WRITE_FLAGS (O_WRONLY | O_CREAT | O_TRUNC)
#define OPEN_APPEND_FLAGS (O_WRONLY | O_CREAT | O_APPEND)

static int posix_open_read(env *e, const char *path, env_file **out)
{
    (void)e;
    return posix_open_at(AT_FDCWD, path, path, OPEN_READ_FLAGS, out);
}

static int posix_open_write(env *e, const char *path, env_file **out)
{
    (void)e;
    return posix_open_at(AT_FDCWD, path, path, OPEN_WRITE_FLAGS, out);
}

static int posix_open_append(env *e, const char *path, env_file **out)
{
    (void)e;
    return posix_open_at(AT_FDCWD, path, path, OPEN_APPEND_FLAGS, out);
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

/* The at-functions below serve both kinds of env: dir_fd is AT_FDCWD and
 * name the path for posix_env, or the bound directory and a name in it. */

/* Opened like a file (regular only, no symlink, no blocking) and cut with
 * ftruncate, so truncating never follows a link out of the directory. */
static int truncate_at(int dir_fd, const char *name, const char *path,
                       uint64_t n)
{
    env_file *f = NULL;
    int rc = posix_open_at(dir_fd, name, path, O_WRONLY, &f);
    if (rc == LSM_OK && ftruncate(fd_of(f), (off_t)n) != 0)
        rc = lsm_io_error(errno, "cannot truncate %s", path);
    int crc = posix_close(f);
    return rc != LSM_OK ? rc : crc;
}

static int unlink_at(int dir_fd, const char *name, const char *path)
{
    if (unlinkat(dir_fd, name, 0) != 0 && errno != ENOENT)
        return lsm_io_error(errno, "cannot remove %s", path);
    return LSM_OK;
}

static int rename_at(int dir_fd, const char *from_name, const char *to_name,
                     const char *from, const char *to)
{
    if (renameat(dir_fd, from_name, dir_fd, to_name) != 0)
        return lsm_io_error(errno, "cannot rename %s to %s", from, to);
    return LSM_OK;
}

/* A new descriptor of the directory name of dir_fd ("." : dir_fd's own
 * directory), or -1 with errno set. */
static int open_dir_fd_at(int dir_fd, const char *name)
{
    int fd;
    do {
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

static int sync_dir_at(int dir_fd, const char *name, const char *path)
{
    int fd = open_dir_fd_at(dir_fd, name);
    if (fd < 0)
        return lsm_io_error(errno, "cannot open directory %s", path);
    int rc = LSM_OK;
    if (fsync(fd) != 0)
        rc = lsm_io_error(errno, "cannot sync directory %s", path);
    close(fd);
    return rc;
}

static int list_dir_at(int dir_fd, const char *name, const char *path,
                       void (*fn)(const char *name, void *ctx), void *ctx)
{
    int fd = open_dir_fd_at(dir_fd, name);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL; /* owns fd from here */
    if (!d) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return lsm_io_error(err, "cannot list directory %s", path);
    }
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        fn(ent->d_name, ctx);
    }
    closedir(d);
    return LSM_OK;
}

/* flock on a descriptor of the directory itself, an open file description
 * of its own, so that it conflicts with every other opener's, in this
 * process too. Linux's flock(2) locks directories like any file (the
 * descriptor need not be writable); nothing in the directory can be
 * deleted to release it, and it goes with the last descriptor of the
 * description, at close or when the process dies. (Over NFS, where flock
 * is emulated with byte-range locks, locking a read-only descriptor may
 * fail: that is reported as an I/O error.) */
static int lock_dir_at(int dir_fd, const char *name, const char *path,
                       env_file **out)
{
    *out = NULL;
    int fd = open_dir_fd_at(dir_fd, name);
    if (fd < 0)
        return lsm_io_error(errno, "cannot open directory %s to lock it", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(fd);
        if (err == EWOULDBLOCK)
            return lsm_error(LSM_EBUSY,
                             "database is in use by another process (%s is "
                             "locked)",
                             path);
        return lsm_io_error(err, "cannot lock %s", path);
    }
    return posix_wrap_fd(fd, path, out);
}

static int posix_truncate(env *e, const char *path, uint64_t n)
{
    (void)e;
    return truncate_at(AT_FDCWD, path, path, n);
}

static int posix_unlink(env *e, const char *path)
{
    (void)e;
    return unlink_at(AT_FDCWD, path, path);
}

static int posix_rename(env *e, const char *from, const char *to)
{
    (void)e;
    return rename_at(AT_FDCWD, from, to, from, to);
}

static int posix_mkdir(env *e, const char *path, bool *created)
{
    (void)e;
    struct stat st;
    *created = false;
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return lsm_error(LSM_EINVAL,
                             "%s exists and is not a directory; give a "
                             "directory path for the database",
                             path);
        return LSM_OK;
    }
    if (mkdir(path, 0755) == 0)
        *created = true;
    else if (errno != EEXIST)
        return lsm_io_error(errno, "cannot create directory %s", path);
    return LSM_OK;
}

static int posix_sync_dir(env *e, const char *path)
{
    (void)e;
    return sync_dir_at(AT_FDCWD, path, path);
}

static int posix_list_dir(env *e, const char *path,
                          void (*fn)(const char *name, void *ctx), void *ctx)
{
    (void)e;
    return list_dir_at(AT_FDCWD, path, path, fn, ctx);
}

static int posix_lock(env *e, const char *path, env_file **out)
{
    (void)e;
    return lock_dir_at(AT_FDCWD, path, path, out);
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
    .open_dir = posix_open_dir,
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

/* --- envs bound to a directory ------------------------------------------ */

/* An env bound to one directory (env_int.h, "Bound envs"). Immutable once
 * made, so any thread may use it; owned by whoever called open_dir. */
typedef struct posix_dir_env {
    env base;   /* first: the env * handed out points here */
    int dir_fd; /* owned; closed by close_dir */
    char *dir;  /* the path given to open_dir, owned: for messages and for
                   taking names out of the paths handed in */
} posix_dir_env;

static posix_dir_env *dir_env_of(env *e)
{
    return (posix_dir_env *)e;
}

/* Length of dir without trailing slashes (at least 1 for "/"). */
static size_t dir_len_trimmed(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return n;
}

/* Sets *name to the entry path names in the bound directory: "." when path
 * is the directory itself, else the one component after the directory's
 * path and its slashes. Anything else (another directory, a nested path,
 * "." or "..") is LSM_EINVAL: a bound env never reaches outside. */
static int bound_name(const posix_dir_env *d, const char *path,
                      const char **name)
{
    size_t n = dir_len_trimmed(d->dir);
    const char *rest = path + n;
    if (strncmp(path, d->dir, n) == 0 &&
        (*rest == '/' || *rest == '\0' || d->dir[n - 1] == '/')) {
        while (*rest == '/')
            rest++;
        if (*rest == '\0') {
            *name = ".";
            return LSM_OK;
        }
        if (!strchr(rest, '/') && strcmp(rest, ".") != 0 &&
            strcmp(rest, "..") != 0) {
            *name = rest;
            return LSM_OK;
        }
    }
    return lsm_error(LSM_EINVAL, "%s is not a file of the directory %s", path,
                     d->dir);
}

/* bound_name, refusing the directory itself (the file operations). */
static int bound_file_name(const posix_dir_env *d, const char *path,
                           const char **name)
{
    int rc = bound_name(d, path, name);
    if (rc == LSM_OK && strcmp(*name, ".") == 0)
        return lsm_error(LSM_EINVAL, "%s is the directory, not a file of it",
                         path);
    return rc;
}

static int bound_open(env *e, const char *path, int flags, env_file **out)
{
    posix_dir_env *d = dir_env_of(e);
    const char *name;
    *out = NULL;
    int rc = bound_file_name(d, path, &name);
    return rc != LSM_OK ? rc : posix_open_at(d->dir_fd, name, path, flags, out);
}

static int bound_open_read(env *e, const char *path, env_file **out)
{
    return bound_open(e, path, OPEN_READ_FLAGS, out);
}

static int bound_open_write(env *e, const char *path, env_file **out)
{
    return bound_open(e, path, OPEN_WRITE_FLAGS, out);
}

static int bound_open_append(env *e, const char *path, env_file **out)
{
    return bound_open(e, path, OPEN_APPEND_FLAGS, out);
}

static int bound_truncate(env *e, const char *path, uint64_t n)
{
    posix_dir_env *d = dir_env_of(e);
    const char *name;
    int rc = bound_file_name(d, path, &name);
    return rc != LSM_OK ? rc : truncate_at(d->dir_fd, name, path, n);
}

static int bound_unlink(env *e, const char *path)
{
    posix_dir_env *d = dir_env_of(e);
    const char *name;
    int rc = bound_file_name(d, path, &name);
    return rc != LSM_OK ? rc : unlink_at(d->dir_fd, name, path);
}

/* Both names are in the bound directory: renameat(fd, from, fd, to), which
 * replaces to atomically. */
static int bound_rename(env *e, const char *from, const char *to)
{
    posix_dir_env *d = dir_env_of(e);
    const char *from_name, *to_name;
    int rc = bound_file_name(d, from, &from_name);
    if (rc == LSM_OK)
        rc = bound_file_name(d, to, &to_name);
    return rc != LSM_OK ? rc
                        : rename_at(d->dir_fd, from_name, to_name, from, to);
}

/* The directory itself only: fsync of its own descriptor. */
static int bound_sync_dir(env *e, const char *path)
{
    posix_dir_env *d = dir_env_of(e);
    const char *name;
    int rc = bound_name(d, path, &name);
    if (rc == LSM_OK && strcmp(name, ".") != 0)
        rc = lsm_error(LSM_EINVAL, "%s is not the directory %s", path, d->dir);
    if (rc == LSM_OK && fsync(d->dir_fd) != 0)
        rc = lsm_io_error(errno, "cannot sync directory %s", path);
    return rc;
}

static int bound_list_dir(env *e, const char *path,
                          void (*fn)(const char *name, void *ctx), void *ctx)
{
    posix_dir_env *d = dir_env_of(e);
    const char *name;
    int rc = bound_name(d, path, &name);
    return rc != LSM_OK ? rc : list_dir_at(d->dir_fd, name, path, fn, ctx);
}

static int bound_lock(env *e, const char *path, env_file **out)
{
    posix_dir_env *d = dir_env_of(e);
    const char *name;
    *out = NULL;
    int rc = bound_name(d, path, &name);
    return rc != LSM_OK ? rc : lock_dir_at(d->dir_fd, name, path, out);
}

static void bound_close_dir(env *bound)
{
    posix_dir_env *d = dir_env_of(bound);
    if (!d)
        return;
    close(d->dir_fd);
    free(d->dir);
    free(d);
}

static int posix_open_dir(env *e, const char *path, env **out)
{
    (void)e;
    *out = NULL;
    posix_dir_env *d = calloc(1, sizeof *d);
    char *copy = strdup(path);
    if (!d || !copy) {
        free(d);
        free(copy);
        return lsm_error(LSM_ENOMEM, "out of memory opening %s", path);
    }
    int fd = open_dir_fd_at(AT_FDCWD, path);
    if (fd < 0) {
        int err = errno;
        free(d);
        free(copy);
        return lsm_io_error(err, "cannot open directory %s", path);
    }
    /* The file functions (read_at ... map, unmap) are posix_env's; the
     * ones that take a path resolve it in the directory. */
    d->base = posix_env;
    d->base.open_read = bound_open_read;
    d->base.open_write = bound_open_write;
    d->base.open_append = bound_open_append;
    d->base.truncate = bound_truncate;
    d->base.unlink = bound_unlink;
    d->base.rename = bound_rename;
    d->base.mkdir = NULL;
    d->base.open_dir = NULL;
    d->base.close_dir = bound_close_dir;
    d->base.sync_dir = bound_sync_dir;
    d->base.list_dir = bound_list_dir;
    d->base.lock = bound_lock;
    d->dir_fd = fd;
    d->dir = copy;
    *out = &d->base;
    return LSM_OK;
}
