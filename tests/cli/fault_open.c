/*
 * fault_open.c: the database opener of lsm-cli-fault, a test build of
 * lsm-cli (cli/main.c compiled with LSM_CLI_OPEN=cli_fault_open) that opens
 * through the fault env (tests/fault_env.h), so a shell test can watch a
 * flush, a compaction or an open fail as a real disk would make them fail.
 *
 * LSM_CLI_FAULT in the environment says what fails, from the open on:
 *   full                  the disk is full (fault_env_disk_full)
 *   KIND SUFFIX N         the N-th call of KIND (append, sync, create) on a
 *                         path ending in SUFFIX fails once with LSM_EIO
 * Unset or empty: nothing fails. A spec it cannot read ends the process
 * with status 99, so a typo never passes as "no fault".
 *
 * The env lives until the process exits (lsm-cli closes the database
 * before it returns from main); it is freed by an atexit handler.
 */
#include "db/db_int.h"
#include "fault_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fault_open(const char *dir, const lsm_options *opt, lsm_db **out);

static fault_env *cli_fault_env;

static void cli_fault_env_free(void)
{
    fault_env_free(cli_fault_env);
}

static int cli_fault_kind(const char *name, fault_kind *kind)
{
    for (int k = 0; k < FAULT_N_KINDS; k++) {
        if (strcmp(name, fault_kind_name((fault_kind)k)) == 0) {
            *kind = (fault_kind)k;
            return 0;
        }
    }
    return -1;
}

/* Arms the rule LSM_CLI_FAULT asks for; exits with 99 if it cannot. */
static void cli_fault_arm(fault_env *fe, const char *spec)
{
    char kind_name[16], suffix[64];
    unsigned long long n;
    fault_kind kind;

    if (strcmp(spec, "full") == 0) {
        fault_env_disk_full(fe);
        return;
    }
    if (sscanf(spec, "%15s %63s %llu", kind_name, suffix, &n) != 3 ||
        cli_fault_kind(kind_name, &kind) != 0 || n == 0) {
        fprintf(stderr, "lsm-cli-fault: bad LSM_CLI_FAULT '%s'\n", spec);
        exit(99);
    }
    fault_env_fail_nth_path(fe, kind, n, suffix);
}

int cli_fault_open(const char *dir, const lsm_options *opt, lsm_db **out)
{
    const char *spec = getenv("LSM_CLI_FAULT");

    if (fault_env_new(env_posix(), &cli_fault_env) != LSM_OK)
        return LSM_ENOMEM;
    atexit(cli_fault_env_free);
    if (spec && *spec)
        cli_fault_arm(cli_fault_env, spec);
    return db_open_env(dir, opt, fault_env_env(cli_fault_env), out);
}
