/*
 * key.c: the key check of key_int.h.
 */
#include "iter/key_int.h"

#include "util/status_int.h"

size_t key_prefix_successor(uint8_t *key, size_t n)
{
    while (n > 0 && key[n - 1] == 0xff)
        n--;
    if (n > 0)
        key[n - 1]++;
    return n;
}

int key_check(const void *key, size_t nkey)
{
    if (!key || nkey == 0)
        return lsm_error(LSM_EINVAL, "key is empty; keys are 1 to %u bytes",
                         LSM_MAX_KEY_BYTES);
    if (nkey > LSM_MAX_KEY_BYTES)
        return lsm_error(LSM_EINVAL, "key is %zu bytes; keys are 1 to %u bytes",
                         nkey, LSM_MAX_KEY_BYTES);
    return LSM_OK;
}
