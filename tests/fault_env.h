/*
 * fault_env.h: a test env that wraps another env (normally env_posix()) to
 * inject I/O errors and to simulate a power cut.
 *
 * Counting and failing. Every call of a mutating kind (append, sync,
 * sync_dir, create = open_write or open_append, rename, unlink, truncate)
 * is counted. fault_env_fail_nth arms a rule: the n-th call of that kind
 * from now returns LSM_EIO (with an lsm_error message naming the path and
 * the rule) instead of reaching the disk; a "sticky" rule also fails every
 * later call of the kind (a dying disk). A failed append writes the first
 * half of its bytes before failing, as a short write followed by an error
 * would, so the engine must cope with a partial record at the tail.
 *
 * Power cut. The env tracks, per path written through it, the bytes made
 * durable (the file's size at its last successful sync) and whether its
 * creation is durable (a successful sync_dir of its directory after it was
 * created). fault_env_power_cut makes the disk look as after a power loss:
 * every tracked file is truncated to its durable size and files whose
 * creation never became durable are removed. From then on the env is "cut":
 * every mutating call fails with LSM_EIO without touching the disk, so a
 * process (or a background thread) that goes on running changes nothing.
 * Files that existed before the env first saw them count as durable.
 *
 * Simplifications, each the harsher choice for the engine under test:
 *   - unlink, rename and truncate take effect on the durable image at once,
 *     even without a later sync_dir (a deleted file never comes back; the
 *     ordering rule "delete only after the manifest no longer names it" is
 *     what keeps that safe);
 *   - open_write's truncation of an existing file is durable at once;
 *   - directories (mkdir) and the LOCK file are not tracked: they are
 *     treated as durable, and their contents do not matter.
 *
 * Directories. open_dir binds the inner env to the directory, so the
 * engine's files go through the inner env's directory descriptor, and
 * returns a view that shares this env's counts, rules and tracked files.
 * Paths keep their "dir/name" spelling, so suffix rules and tracking work
 * as before; the power cut acts through the wrapped env by those paths
 * (a directory renamed under a fault env is not supported). mkdir reports
 * whether it created the directory; the engine then fsyncs the parent, a
 * counted sync_dir whose path is the parent's.
 *
 * Syncs are not passed to the real disk: durability is what this env says
 * it is, and a real fdatasync per write would only make the tests slow.
 *
 * LSM_FAULT_TRACE=1 in the environment prints every counted call and its
 * outcome to stderr, to see where an injected fault or a cut landed.
 *
 * Thread safety: every call may come from any thread (threads mode flushes
 * in the background). One mutex serializes the mutating calls, including
 * their real I/O, so a power cut sees no operation half done.
 */
#ifndef LSM_FAULT_ENV_H
#define LSM_FAULT_ENV_H

#include "util/env_int.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum fault_kind {
    FAULT_APPEND = 0,
    FAULT_SYNC,
    FAULT_SYNC_DIR,
    FAULT_CREATE, /* open_write and open_append */
    FAULT_RENAME,
    FAULT_UNLINK,
    FAULT_TRUNCATE,
    FAULT_N_KINDS
} fault_kind;

/* What a power cut keeps of the bytes written but never synced. */
typedef enum fault_cut_mode {
    /* Nothing: files keep exactly their durable bytes, and files whose
     * creation was never made durable disappear. */
    FAULT_CUT_DROP_UNSYNCED = 0,
    /* A random prefix of each file's unsynced bytes survives (as a disk
     * that wrote back some pages would leave), and each file whose
     * creation was not durable survives or not at random. Torn records
     * at the ends of logs are the usual result. */
    FAULT_CUT_KEEP_TORN = 1
} fault_cut_mode;

typedef struct fault_env fault_env;

/* A new fault env over inner, with no rule armed, in *out. The caller
 * frees it with fault_env_free after closing every database and file that
 * uses it. Returns LSM_OK or LSM_ENOMEM. */
int fault_env_new(env *inner, fault_env **out);
void fault_env_free(fault_env *fe); /* NULL-safe */

/* The env to hand to db_open_env; valid until fault_env_free. */
env *fault_env_env(fault_env *fe);

/* The n-th (n >= 1) call of kind from now fails once. Replaces any rule
 * armed for kind. */
void fault_env_fail_nth(fault_env *fe, fault_kind kind, uint64_t n);
/* The n-th call of kind from now and every later one fail (sticky). */
void fault_env_fail_from_nth(fault_env *fe, fault_kind kind, uint64_t n);
/* Like fault_env_fail_nth, counting only calls on paths ending in suffix
 * (".sst", ".wal", "MANIFEST"); for sync_dir the directory path. */
void fault_env_fail_nth_path(fault_env *fe, fault_kind kind, uint64_t n,
                             const char *suffix);
/* The disk is full from now on: every append and every creation of a new
 * file fails (sticky; opening a file that exists still works) as a full disk
 * fails them, with ENOSPC's message ("No space left on device (the disk is
 * full)"); an append writes half its bytes first, as a write that ran out of
 * room part-way would. Syncs, renames and unlinks still work.
 * fault_env_clear_faults frees space. */
void fault_env_disk_full(fault_env *fe);
/* Disarms every rule (the counts go on). */
void fault_env_clear_faults(fault_env *fe);

/* The power cut happens at the n-th call of kind from now, in place of
 * that call (which fails with LSM_EIO): as if the power went out just
 * before it. seed drives FAULT_CUT_KEEP_TORN. */
void fault_env_cut_nth(fault_env *fe, fault_kind kind, uint64_t n,
                       fault_cut_mode mode, uint64_t seed);

/* Calls of kind so far, failed ones included. */
uint64_t fault_env_count(fault_env *fe, fault_kind kind);
/* How many calls an armed rule has failed so far. */
uint64_t fault_env_fired(fault_env *fe);
/* True once a power cut happened. */
bool fault_env_is_cut(fault_env *fe);

/* Cuts the power now (FAULT_CUT_DROP_UNSYNCED). Returns LSM_OK, or LSM_EIO
 * if the real disk refused to truncate or remove a file. */
int fault_env_power_cut(fault_env *fe);
/* Cuts the power now in the given mode; seed drives FAULT_CUT_KEEP_TORN. */
int fault_env_power_cut_mode(fault_env *fe, fault_cut_mode mode, uint64_t seed);

/* A short static name ("append", "sync", ...). */
const char *fault_kind_name(fault_kind kind);

#endif
