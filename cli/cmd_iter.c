/*
 * cmd_iter.c: the iter command and the session's named iterators (see
 * cmd_iter.h for the forms and what they print).
 *
 * Bounds and pairs are scan's own code (cli_scan_bounds,
 * cli_scan_print_pairs), so iter next prints exactly what scan would.
 * Keys in the position lines print in the b"..." form, as scan prints
 * them.
 *
 * Invariant: every lsm_iter in the map is open and owned by the map; it
 * leaves the map only through iters_close_at, which closes it.
 */
#include "cmd_iter.h"

#include "format.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The longest NAME: long enough for any label, short enough for a line. */
#define ITER_NAME_MAX 32

typedef struct cli_named_iter {
    char *name; /* NUL-terminated, checked by name_check */
    lsm_iter *it;
    cli_buf range; /* for the listing: all keys, or b"B"..b"E" */
} cli_named_iter;

struct cli_iters {
    size_t n, cap;
    cli_named_iter *items; /* in order of opening */
};

size_t cli_iters_count(const cli_session *s)
{
    return s->iters ? s->iters->n : 0;
}

void cli_iters_append_names(const cli_session *s, cli_buf *b)
{
    for (size_t i = 0; i < cli_iters_count(s); i++)
        cli_buf_printf(b, "%s%s", i ? ", " : "", s->iters->items[i].name);
}

size_t cli_iters_names(const cli_session *s, cli_iter_name **out)
{
    size_t n = cli_iters_count(s);

    *out = NULL;
    if (n == 0 || !(*out = malloc(n * sizeof **out)))
        return 0;
    for (size_t i = 0; i < n; i++) {
        (*out)[i].iter_id = lsm_iter_id(s->iters->items[i].it);
        (*out)[i].name = s->iters->items[i].name;
    }
    return n;
}

/* Index of the open iterator called arg, or SIZE_MAX. */
static size_t iters_find(const cli_session *s, const cli_arg *arg)
{
    for (size_t i = 0; i < cli_iters_count(s); i++) {
        const char *name = s->iters->items[i].name;
        if (strlen(name) == arg->n_bytes &&
            memcmp(name, arg->bytes, arg->n_bytes) == 0)
            return i;
    }
    return SIZE_MAX;
}

/* Adds it under name (copied) with its range text; LSM_ENOMEM leaves the
 * map as it was (the caller still owns it). */
static int iters_add(cli_session *s, const cli_arg *name, lsm_iter *it,
                     const cli_buf *range)
{
    struct cli_iters *m = s->iters;
    char *copy;

    if (!m && !(m = s->iters = calloc(1, sizeof *m)))
        return LSM_ENOMEM;
    cli_named_iter *items =
        cli_array_reserve(m->items, &m->cap, m->n, sizeof *items);
    if (!items)
        return LSM_ENOMEM;
    m->items = items;
    if (!(copy = cli_arg_strdup(name)))
        return LSM_ENOMEM;
    cli_named_iter *e = &m->items[m->n++];
    e->name = copy;
    e->it = it;
    cli_buf_init(&e->range);
    cli_buf_append(&e->range, cli_buf_str(range), range->len);
    return LSM_OK;
}

/* Closes the i-th iterator and forgets it. The engine's lines (files its
 * close deleted) print before the caller's. */
static void iters_close_at(cli_session *s, size_t i)
{
    struct cli_iters *m = s->iters;

    lsm_iter_close(m->items[i].it);
    free(m->items[i].name);
    cli_buf_free(&m->items[i].range);
    memmove(&m->items[i], &m->items[i + 1],
            (m->n - i - 1) * sizeof m->items[0]);
    m->n--;
}

void cli_iters_close_all(cli_session *s)
{
    while (cli_iters_count(s) > 0) {
        char *name = s->iters->items[0].name;
        s->iters->items[0].name = NULL;
        iters_close_at(s, 0);
        cli_out_printf("%s closed (still open at quit)\n", name);
        free(name);
    }
    if (s->iters)
        free(s->iters->items);
    free(s->iters);
    s->iters = NULL;
}

/* --- messages ---------------------------------------------------------- */

/* "NAME: at b"KEY"" or "NAME: end": where next will start. */
static int print_position(cli_session *s, const char *name, lsm_iter *it)
{
    cli_buf out;
    const void *k;
    size_t nk;
    int rc;

    cli_buf_init(&out);
    if (lsm_iter_valid(it)) {
        k = lsm_iter_key(it, &nk);
        cli_buf_printf(&out, "%s: at ", name);
        cli_buf_append_bytes(&out, k, nk);
        cli_buf_append(&out, "\n", 1);
    } else {
        cli_buf_printf(&out, "%s: end\n", name);
    }
    rc = cli_out_buf(&out) == 0 ? LSM_OK : LSM_ENOMEM;
    cli_buf_free(&out);
    if (rc != LSM_OK)
        cli_count_failure(s);
    return rc;
}

/* Reports a NAME no open iterator has, listing those that are open. */
static int fail_no_such(cli_session *s, const char *cmd, const cli_arg *name)
{
    cli_buf names;
    int rc;

    cli_buf_init(&names);
    cli_iters_append_names(s, &names);
    if (cli_iters_count(s) == 0)
        rc = cli_fail(s,
                      "%s: no open iterator is called %s (none is open; "
                      "iter open NAME opens one)",
                      cmd, name->bytes);
    else
        rc = cli_fail(s, "%s: no open iterator is called %s (open: %s)", cmd,
                      name->bytes, cli_buf_str(&names));
    cli_buf_free(&names);
    return rc;
}

/* A NAME is 1 to ITER_NAME_MAX letters, digits, '_' or '-'. Checked
 * before any lookup, so a NAME in a message is always plain text. */
static int name_check(cli_session *s, const char *cmd, const cli_arg *name)
{
    if (cli_arg_is_plain_name(name, ITER_NAME_MAX))
        return LSM_OK;
    return cli_fail(s,
                    "%s: bad iterator name (expected 1 to %d letters, "
                    "digits, _ or -, e.g. it1)",
                    cmd, ITER_NAME_MAX);
}

/* --- the forms ----------------------------------------------------------- */

/* iter open NAME [BEGIN END] */
static int iter_open(cli_session *s, const cli_argv *a)
{
    const cli_arg *name;
    const int bounded = a->n_args == 5;
    lsm_bound lo, hi;
    lsm_iter *it = NULL;
    cli_buf range;
    int rc;

    if (a->n_args != 3 && a->n_args != 5)
        return cli_fail(s, "iter open: expected iter open NAME [BEGIN END]");
    name = &a->args[2];
    if (name_check(s, "iter open", name) != LSM_OK)
        return LSM_EINVAL;
    if (iters_find(s, name) != SIZE_MAX)
        return cli_fail(s,
                        "iter open: %s is already open (iter close %s "
                        "first, or choose another name)",
                        name->bytes, name->bytes);
    rc =
        cli_scan_bounds(s, "iter open", bounded ? &a->args[3] : NULL, &lo, &hi);
    if (rc != LSM_OK)
        return rc;
    rc = lsm_scan(s->db, &lo, &hi, &it);
    if (rc != LSM_OK)
        return cli_fail_engine(s, "iter open", rc);
    cli_buf_init(&range);
    if (bounded) {
        cli_buf_append_bytes(&range, lo.key, lo.nkey);
        cli_buf_append(&range, "..", 2);
        cli_buf_append_bytes(&range, hi.key, hi.nkey);
    } else {
        cli_buf_printf(&range, "all keys");
    }
    rc = cli_buf_failed(&range) ? LSM_ENOMEM : iters_add(s, name, it, &range);
    cli_buf_free(&range);
    if (rc != LSM_OK) {
        lsm_iter_close(it);
        return cli_fail(s, "iter open: out of memory");
    }
    return print_position(s, s->iters->items[s->iters->n - 1].name, it);
}

/* iter next NAME [N] */
static int iter_next(cli_session *s, const cli_argv *a)
{
    const cli_arg *name;
    uint64_t n = 1, n_printed;
    size_t i;
    int rc;

    if (a->n_args != 3 && a->n_args != 4)
        return cli_fail(s, "iter next: expected iter next NAME [N]");
    name = &a->args[2];
    if (name_check(s, "iter next", name) != LSM_OK)
        return LSM_EINVAL;
    if ((i = iters_find(s, name)) == SIZE_MAX)
        return fail_no_such(s, "iter next", name);
    if (a->n_args == 4 && cli_parse_u64(a->args[3].bytes, a->args[3].n_bytes,
                                        UINT64_MAX, &n) != CLI_NUM_OK)
        return cli_fail(
            s, "iter next: N must be a number of pairs (0 to %" PRIu64 ")",
            UINT64_MAX);
    cli_named_iter *e = &s->iters->items[i];
    rc = cli_scan_print_pairs(s, "iter next", e->it, n, &n_printed);
    if (rc != LSM_OK)
        return rc;
    return print_position(s, e->name, e->it);
}

/* iter close NAME */
static int iter_close(cli_session *s, const cli_argv *a)
{
    const cli_arg *name;
    size_t i;

    if (a->n_args != 3)
        return cli_fail(s, "iter close: expected iter close NAME");
    name = &a->args[2];
    if (name_check(s, "iter close", name) != LSM_OK)
        return LSM_EINVAL;
    if ((i = iters_find(s, name)) == SIZE_MAX)
        return fail_no_such(s, "iter close", name);
    iters_close_at(s, i);
    cli_out_printf("%s closed\n", name->bytes);
    return LSM_OK;
}

/* iter: one line per open iterator, oldest first. */
static int iter_list(cli_session *s)
{
    cli_buf out;
    int rc;

    if (cli_iters_count(s) == 0) {
        cli_out_printf("no open iterators\n");
        return LSM_OK;
    }
    cli_buf_init(&out);
    for (size_t i = 0; i < s->iters->n; i++) {
        const cli_named_iter *e = &s->iters->items[i];
        cli_buf_printf(&out, "%s (id %" PRIu64 ", %s): ", e->name,
                       lsm_iter_id(e->it), cli_buf_str(&e->range));
        if (lsm_iter_valid(e->it)) {
            size_t nk;
            const void *k = lsm_iter_key(e->it, &nk);
            cli_buf_append(&out, "at ", 3);
            cli_buf_append_bytes(&out, k, nk);
            cli_buf_append(&out, "\n", 1);
        } else {
            cli_buf_printf(&out, "end\n");
        }
    }
    rc = cli_out_buf(&out) == 0 ? LSM_OK : LSM_ENOMEM;
    cli_buf_free(&out);
    if (rc != LSM_OK)
        cli_count_failure(s);
    return rc;
}

int cli_cmd_iter(cli_session *s, const cli_argv *a)
{
    if (a->n_args == 1)
        return iter_list(s);
    if (cli_arg_is_word(&a->args[1], "open"))
        return iter_open(s, a);
    if (cli_arg_is_word(&a->args[1], "next"))
        return iter_next(s, a);
    if (cli_arg_is_word(&a->args[1], "close"))
        return iter_close(s, a);
    return cli_fail(s, "iter: unknown form (expected iter, iter open NAME "
                       "[BEGIN END], iter next NAME [N] or iter close NAME)");
}
