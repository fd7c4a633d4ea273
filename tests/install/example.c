/*
 * example.c: a first program using liblsm. It opens a new database in a
 * fresh directory, writes a few keys (one batch, atomically), reads them
 * back, scans them in order, looks at the tree's shape and closes.
 *
 *   cc -o example example.c $(pkg-config --cflags --libs lsm)
 *   ./example
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <lsm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Says which call failed and why, and returns 1, the exit status. */
static int fail(const char *call, int rc)
{
    fprintf(stderr, "example: %s: %s (%s)\n", call, lsm_strerror(rc),
            lsm_errmsg());
    return 1;
}

/* Stores key = value, both C strings (the engine copies them). */
static int put(lsm_db *db, const char *key, const char *value)
{
    return lsm_put(db, key, strlen(key), value, strlen(value));
}

int main(void)
{
    /* Built against one version's header, running another's library? */
    if (strcmp(lsm_version(), LSM_VERSION_STRING) != 0) {
        fprintf(stderr, "example: built with lsm %s, running lsm %s\n",
                LSM_VERSION_STRING, lsm_version());
        return 1;
    }
    printf("lsm %s\n", lsm_version());

    /* A new database in a fresh directory under $TMPDIR (or /tmp). */
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/lsm-example.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("example: mkdtemp");
        return 1;
    }
    fprintf(stderr, "example: database in %s\n", dir);

    /* Options: start from every default, then change fields by name. */
    lsm_options opt;
    lsm_options_init(&opt);
    opt.sync = 1; /* an acknowledged write survives a power loss */
    lsm_db *db;
    int rc = lsm_open(dir, &opt, &db);
    if (rc != LSM_OK)
        return fail("lsm_open", rc);

    /* Single writes, and a delete. */
    if ((rc = put(db, "apple", "red")) != LSM_OK ||
        (rc = put(db, "banana", "yellow")) != LSM_OK ||
        (rc = lsm_delete(db, "banana", 6)) != LSM_OK)
        return fail("lsm_put", rc);

    /* A batch: all of it is written, or none of it. */
    lsm_batch *batch;
    if ((rc = lsm_batch_new(&batch)) != LSM_OK)
        return fail("lsm_batch_new", rc);
    if ((rc = lsm_batch_put(batch, "cherry", 6, "dark red", 8)) != LSM_OK ||
        (rc = lsm_batch_put(batch, "date", 4, "brown", 5)) != LSM_OK ||
        (rc = lsm_write(db, batch)) != LSM_OK)
        return fail("batch", rc);
    lsm_batch_free(batch);

    /* An empty key is refused: errors are return codes, never crashes. */
    rc = put(db, "", "nothing");
    if (rc != LSM_EINVAL) {
        fprintf(stderr, "example: an empty key gave %d\n", rc);
        return 1;
    }
    printf("empty key refused: %s\n", lsm_strerror(rc));

    /* Point reads: the value is a copy the caller frees with lsm_free. */
    void *value;
    size_t nvalue;
    if ((rc = lsm_get(db, "apple", 5, &value, &nvalue)) != LSM_OK)
        return fail("lsm_get apple", rc);
    if (nvalue != 3 || memcmp(value, "red", 3) != 0) {
        fprintf(stderr, "example: apple is not red\n");
        return 1;
    }
    printf("apple = %.*s\n", (int)nvalue, (const char *)value);
    lsm_free(value);
    rc = lsm_get(db, "banana", 6, &value, &nvalue);
    if (rc == LSM_OK) {
        fprintf(stderr, "example: banana was deleted, yet found\n");
        return 1;
    }
    if (rc != LSM_NOTFOUND)
        return fail("lsm_get banana", rc);
    printf("banana: %s\n", lsm_strerror(rc));

    /* Write the memtable to an SST, as a full memtable would be. */
    if ((rc = lsm_flush(db)) != LSM_OK)
        return fail("lsm_flush", rc);

    /* A scan of [b, d): keys in byte order, deleted ones left out. */
    lsm_bound lo = {.kind = LSM_BOUND_INCLUDED, .key = "b", .nkey = 1};
    lsm_bound hi = {.kind = LSM_BOUND_EXCLUDED, .key = "d", .nkey = 1};
    lsm_iter *it;
    if ((rc = lsm_scan(db, &lo, &hi, &it)) != LSM_OK)
        return fail("lsm_scan", rc);
    int n_keys = 0;
    while (lsm_iter_valid(it)) {
        size_t nkey;
        const char *key = lsm_iter_key(it, &nkey);
        const char *val = lsm_iter_value(it, &nvalue);
        printf("scan: %.*s = %.*s\n", (int)nkey, key, (int)nvalue, val);
        n_keys++;
        if ((rc = lsm_iter_next(it)) != LSM_OK)
            return fail("lsm_iter_next", rc);
    }
    lsm_iter_close(it); /* before lsm_close */
    if (n_keys != 1) {
        fprintf(stderr, "example: the scan found %d keys, not 1\n", n_keys);
        return 1;
    }

    /* The tree's shape and counters: an owned copy, freed by the caller. */
    lsm_state *st;
    if ((rc = lsm_state_get(db, &st)) != LSM_OK)
        return fail("lsm_state_get", rc);
    printf("memtable %llu: %llu keys; L0: %zu SST(s), the newest %llu "
           "with %llu entries\n",
           (unsigned long long)st->memtable.memtable_id,
           (unsigned long long)st->memtable.num_keys, st->n_l0,
           st->n_l0 ? (unsigned long long)st->l0[0].sst_id : 0ULL,
           st->n_l0 ? (unsigned long long)st->l0[0].num_entries : 0ULL);
    printf("puts: %llu, deletes: %llu, gets: %llu\n",
           (unsigned long long)st->counters.puts,
           (unsigned long long)st->counters.deletes,
           (unsigned long long)st->counters.gets);
    lsm_state_free(st);

    if ((rc = lsm_close(db)) != LSM_OK)
        return fail("lsm_close", rc);
    printf("closed\n");
    return 0;
}
