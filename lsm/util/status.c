/*
 * status.c: error names and the per-thread detailed message.
 */
#include "util/status_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERRMSG_BYTES 512

static _Thread_local char errmsg[ERRMSG_BYTES];

const char *lsm_strerror(int rc)
{
    switch (rc) {
    case LSM_OK:
        return "ok";
    case LSM_NOTFOUND:
        return "key not found";
    case LSM_EINVAL:
        return "invalid argument";
    case LSM_EIO:
        return "I/O error";
    case LSM_ECORRUPT:
        return "database file is corrupt";
    case LSM_ENOMEM:
        return "out of memory";
    case LSM_EBUSY:
        return "database is in use";
    case LSM_EINTERNAL:
        return "internal error";
    case LSM_ECONFLICT:
        return "transaction conflict";
    case LSM_EREADONLY:
        return "database is open read-only";
    default:
        return "unknown error";
    }
}

const char *lsm_errmsg(void)
{
    return errmsg[0] ? errmsg : "no error";
}

void lsm_error_clear(void)
{
    errmsg[0] = '\0';
}

void lsm_error_set_message(const char *msg)
{
    snprintf(errmsg, sizeof errmsg, "%s", msg);
}

int lsm_error(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

int lsm_corrupt_at(const char *src_file, int src_line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof errmsg) {
        const char *base = strrchr(src_file, '/');
        snprintf(errmsg + n, sizeof errmsg - (size_t)n, " (detected at %s:%d)",
                 base ? base + 1 : src_file, src_line);
    }
    return LSM_ECORRUPT;
}

/* What strerror leaves unsaid: "No space left on device" is the disk
 * being full, which is what a user has to act on. */
static const char *io_error_hint(int errno_value)
{
    switch (errno_value) {
    case ENOSPC:
        return " (the disk is full)";
#ifdef EDQUOT
    case EDQUOT:
        return " (the disk quota is used up)";
#endif
    default:
        return "";
    }
}

int lsm_io_error(int errno_value, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof errmsg)
        snprintf(errmsg + n, sizeof errmsg - (size_t)n, ": %s%s",
                 strerror(errno_value), io_error_hint(errno_value));
    return errno_value == ENOMEM ? LSM_ENOMEM : LSM_EIO;
}

int lsm_error_wrap(int rc, const char *fmt, ...)
{
    char context[ERRMSG_BYTES], cause[ERRMSG_BYTES];
    snprintf(cause, sizeof cause, "%s", errmsg);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);
    /* Both parts fit in joined; errmsg keeps as much as it holds. */
    char joined[2 * ERRMSG_BYTES + 2];
    snprintf(joined, sizeof joined, "%s: %s", context,
             cause[0] ? cause : lsm_strerror(rc));
    lsm_error_set_message(joined);
    return rc;
}
