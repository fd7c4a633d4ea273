/*
 * status_int.h: recording detailed error messages.
 *
 * Functions return an int code (LSM_OK or LSM_E*). When a function creates an
 * error, it records a sentence saying what failed, where, and with which file,
 * through lsm_error(); that sentence is what lsm_errmsg() returns. The message
 * lives in a thread-local buffer, so concurrent callers never see each other's
 * errors. Corruption is recorded with lsm_corrupt(), which also notes the
 * source line that detected it (SQLite's CORRUPT_BKPT habit).
 */
#ifndef LSM_STATUS_INT_H
#define LSM_STATUS_INT_H

#include "lsm.h"

#if defined(__GNUC__)
#define LSM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LSM_PRINTF(a, b)
#endif

/* Records the printf-style message for rc and returns rc. */
int lsm_error(int rc, const char *fmt, ...) LSM_PRINTF(2, 3);

/* Records an LSM_ECORRUPT message with the detecting source line. */
int lsm_corrupt_at(const char *src_file, int src_line, const char *fmt, ...)
    LSM_PRINTF(3, 4);
#define lsm_corrupt(...) lsm_corrupt_at(__FILE__, __LINE__, __VA_ARGS__)

/* Records an LSM_EIO message with strerror(errno_value) appended (and, for
 * ENOSPC and EDQUOT, that the disk is full, which strerror's words leave
 * to the reader). Returns LSM_EIO, or LSM_ENOMEM for ENOMEM. */
int lsm_io_error(int errno_value, const char *fmt, ...) LSM_PRINTF(2, 3);

/* Puts the printf-style context before this thread's message ("CONTEXT:
 * MESSAGE"), to say which operation a lower layer's error broke off, and
 * returns rc. */
int lsm_error_wrap(int rc, const char *fmt, ...) LSM_PRINTF(2, 3);

/* Clears this thread's message (each public entry point calls it). */
void lsm_error_clear(void);

/* Replaces this thread's message with msg verbatim (to re-raise a latched
 * background error on the writer's thread). */
void lsm_error_set_message(const char *msg);

#endif
