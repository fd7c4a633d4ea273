/*
 * version_filter.c: keep or drop each version by the watermark
 * (version_filter_int.h has the rule and the counts).
 */
#include "compact/version_filter_int.h"

#include "util/status_int.h"

#include <stdlib.h>
#include <string.h>

void version_filter_init(version_filter *f, uint64_t watermark,
                         bool drop_tombstones)
{
    memset(f, 0, sizeof *f);
    f->watermark = watermark;
    f->drop_tombstones = drop_tombstones;
}

void version_filter_set_ranges(version_filter *f, const range_frags *ranges)
{
    range_cursor_init(&f->ranges, ranges);
}

void version_filter_free(version_filter *f)
{
    if (!f)
        return;
    free(f->key);
    f->key = NULL;
    f->nkey = f->key_cap = 0;
    f->have_key = false;
}

/* Makes e's user key the current one, with nothing known of its versions. */
static int version_filter_start_key(version_filter *f, const entry *e)
{
    if (e->nkey > f->key_cap) {
        uint8_t *grown = realloc(f->key, e->nkey);
        if (!grown)
            return lsm_error(LSM_ENOMEM, "out of memory filtering versions");
        f->key = grown;
        f->key_cap = e->nkey;
    }
    memcpy(f->key, e->key, e->nkey);
    f->nkey = e->nkey;
    f->have_key = true;
    f->settled = false;
    f->kept_any = false;
    f->covered =
        range_cursor_covering(&f->ranges, e->key, e->nkey, f->watermark);
    return LSM_OK;
}

int version_filter_decide(version_filter *f, const entry *e,
                          version_verdict *out)
{
    bool same_key =
        f->have_key && user_key_cmp(f->key, f->nkey, e->key, e->nkey) == 0;
    if (!same_key) {
        int rc = version_filter_start_key(f, e);
        if (rc != LSM_OK)
            return rc;
    }
    bool shadowed = same_key; /* a newer version of the key came first */
    bool keep;
    if (f->settled) {
        keep = false; /* below the newest version at or below W */
        f->dropped++;
    } else if (e->seq > f->watermark) {
        keep = true;
        if (shadowed)
            f->kept++;
    } else if (e->seq < f->covered) {
        f->settled = true; /* older versions lie below the tombstone too */
        keep = false;
        f->dropped++;
    } else {
        f->settled = true; /* the newest at or below W: everyone's floor */
        keep = !(e->type == ENTRY_TOMBSTONE && f->drop_tombstones);
    }
    out->keep = keep;
    out->first_kept_of_key = keep && !f->kept_any;
    if (keep)
        f->kept_any = true;
    return LSM_OK;
}
