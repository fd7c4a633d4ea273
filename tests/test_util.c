/*
 * test_util.c: the util layer (arena, coding, checksum, the bound env).
 *
 * The arena must hand out ARENA_ALIGN-aligned, non-overlapping memory for
 * any mix of sizes, and count what it handed out exactly; the coders must
 * round-trip every boundary value and reject truncated or overlong input
 * without reading past the end they are given; the checksum must notice a
 * single flipped bit.
 *
 * The env bound to a directory (env_int.h, "Bound envs") must resolve
 * "dir/name" in the directory it opened, even after that directory moved,
 * rename within it (how the manifest switch replaces MANIFEST), and refuse
 * any path that is not one of its files; its lock must exclude a second
 * locker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/arena_int.h"
#include "util/checksum_int.h"
#include "util/coding_int.h"
#include "util/env_int.h"

#include "lsm.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* Deterministic generator for the randomized parts. */
static uint64_t test_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* --- arena ---------------------------------------------------------------- */

static void test_arena_alignment_and_growth(void **state)
{
    (void)state;
    arena *a = arena_create();
    assert_non_null(a);
    assert_int_equal(arena_bytes_used(a), 0);
    assert_int_equal(arena_bytes_allocated(a), 0);

    enum { N = 5000 };
    unsigned char **ptrs = calloc(N, sizeof(*ptrs));
    size_t *sizes = calloc(N, sizeof(*sizes));
    assert_non_null(ptrs);
    assert_non_null(sizes);
    uint64_t rng = 42;
    size_t last_used = 0;
    for (int i = 0; i < N; i++) {
        /* Mostly small, with a huge one (bigger than a block) now and then. */
        size_t n = (i % 500 == 499) ? (size_t)(1 << 20) + (size_t)i
                                    : (size_t)(test_rand(&rng) % 200);
        ptrs[i] = arena_alloc(a, n);
        sizes[i] = n;
        assert_non_null(ptrs[i]);
        assert_int_equal((uintptr_t)ptrs[i] % ARENA_ALIGN, 0);
        memset(ptrs[i], (int)(i & 0xff), n);
        size_t used = arena_bytes_used(a);
        assert_true(used >= last_used);
        last_used = used;
    }
    /* Nothing overlapped: every allocation still holds its own pattern. */
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal(ptrs[i][j], i & 0xff);

    size_t huge_total = 0, rounded_total = 0;
    for (int i = 0; i < N; i++) {
        if (sizes[i] >= (1 << 20))
            huge_total += sizes[i];
        rounded_total +=
            (sizes[i] + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    }
    assert_true(arena_bytes_used(a) >= huge_total);
    /* Handed out: every request rounded up, nothing for block tails. */
    assert_int_equal(arena_bytes_allocated(a), rounded_total);
    assert_true(arena_bytes_used(a) >= rounded_total);
    free(ptrs);
    free(sizes);
    arena_destroy(a);
}

static void test_arena_zero_and_overflow(void **state)
{
    (void)state;
    arena *a = arena_create();
    assert_non_null(a);
    void *p = arena_alloc(a, 0);
    void *q = arena_alloc(a, 1);
    assert_non_null(q);
    assert_int_equal((uintptr_t)q % ARENA_ALIGN, 0);
    (void)p;
    /* A request whose rounding overflows must fail cleanly. */
    assert_null(arena_alloc(a, SIZE_MAX));
    assert_null(arena_alloc(a, SIZE_MAX - 3));
    arena_destroy(a);
    arena_destroy(NULL);
}

/* --- coding --------------------------------------------------------------- */

static void test_fixed_round_trips(void **state)
{
    (void)state;
    uint8_t buf[8];
    const uint16_t v16[] = {0, 1, 0x7f, 0x80, 0xff, 0x100, 0x1234, 0xffff};
    for (size_t i = 0; i < sizeof v16 / sizeof v16[0]; i++) {
        put_fixed16(buf, v16[i]);
        assert_int_equal(get_fixed16(buf), v16[i]);
    }
    const uint32_t v32[] = {0,      1,       0xff,       0x100,
                            0xffff, 0x10000, 0x12345678, UINT32_MAX};
    for (size_t i = 0; i < sizeof v32 / sizeof v32[0]; i++) {
        put_fixed32(buf, v32[i]);
        assert_int_equal(get_fixed32(buf), v32[i]);
    }
    const uint64_t v64[] = {0,
                            1,
                            UINT32_MAX,
                            (uint64_t)UINT32_MAX + 1,
                            UINT64_C(0x0123456789abcdef),
                            UINT64_MAX};
    for (size_t i = 0; i < sizeof v64 / sizeof v64[0]; i++) {
        put_fixed64(buf, v64[i]);
        assert_int_equal(get_fixed64(buf), v64[i]);
    }
    /* Little-endian on every machine. */
    put_fixed32(buf, 0x04030201u);
    assert_int_equal(buf[0], 1);
    assert_int_equal(buf[3], 4);
    put_fixed64(buf, UINT64_C(0x0807060504030201));
    for (int i = 0; i < 8; i++)
        assert_int_equal(buf[i], i + 1);
}

static void check_varint(uint64_t v)
{
    uint8_t buf[VARINT64_MAX_BYTES + 4];
    memset(buf, 0xAA, sizeof buf);
    size_t n = put_varint64(buf, v);
    assert_true(n >= 1 && n <= VARINT64_MAX_BYTES);
    assert_int_equal(n, varint64_length(v));
    uint64_t got = ~v;
    const uint8_t *end = get_varint64(buf, buf + n, &got);
    assert_ptr_equal(end, buf + n);
    assert_int_equal(got, v);
    /* Every truncation is rejected. */
    for (size_t cut = 0; cut < n; cut++)
        assert_null(get_varint64(buf, buf + cut, &got));
}

static void test_varint_boundaries(void **state)
{
    (void)state;
    const uint64_t values[] = {0,
                               1,
                               127,
                               128,
                               16383,
                               16384,
                               UINT32_MAX,
                               (uint64_t)1 << 32,
                               ((uint64_t)1 << 63) - 1,
                               (uint64_t)1 << 63,
                               UINT64_MAX - 1,
                               UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        check_varint(values[i]);
    assert_int_equal(varint64_length(0), 1);
    assert_int_equal(varint64_length(127), 1);
    assert_int_equal(varint64_length(128), 2);
    assert_int_equal(varint64_length(UINT64_MAX), 10);

    uint64_t rng = 7;
    for (int i = 0; i < 10000; i++) {
        uint64_t v = test_rand(&rng) >> (test_rand(&rng) % 64);
        check_varint(v);
    }
}

static void test_varint_rejects_overlong(void **state)
{
    (void)state;
    uint64_t v = 0;
    /* Eleven bytes: ten continuation bytes then a terminator. */
    uint8_t eleven[11];
    memset(eleven, 0x80, 10);
    eleven[10] = 0x01;
    assert_null(get_varint64(eleven, eleven + sizeof eleven, &v));
    /* Ten bytes whose last one carries bits beyond 64. */
    uint8_t wide[10];
    memset(wide, 0xff, 9);
    wide[9] = 0x02;
    assert_null(get_varint64(wide, wide + sizeof wide, &v));
    /* Ten continuation bytes: never terminates within the limit. */
    uint8_t endless[10];
    memset(endless, 0xff, sizeof endless);
    assert_null(get_varint64(endless, endless + sizeof endless, &v));
    /* Empty input. */
    assert_null(get_varint64(eleven, eleven, &v));
    /* Two varints back to back decode in turn. */
    uint8_t two[2 * VARINT64_MAX_BYTES];
    size_t n1 = put_varint64(two, 300);
    size_t n2 = put_varint64(two + n1, UINT64_MAX);
    const uint8_t *p = get_varint64(two, two + n1 + n2, &v);
    assert_non_null(p);
    assert_int_equal(v, 300);
    p = get_varint64(p, two + n1 + n2, &v);
    assert_ptr_equal(p, two + n1 + n2);
    assert_int_equal(v, UINT64_MAX);
}

/* --- checksum ------------------------------------------------------------- */

static void test_checksum_bit_flips(void **state)
{
    (void)state;
    uint8_t data[256];
    uint64_t rng = 99;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)test_rand(&rng);
    uint64_t base = checksum64(data, sizeof data);
    assert_int_equal(base, checksum64(data, sizeof data));
    assert_int_equal(hash64(data, sizeof data), hash64(data, sizeof data));
    for (size_t byte = 0; byte < sizeof data; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            data[byte] ^= (uint8_t)(1u << bit);
            assert_true(checksum64(data, sizeof data) != base);
            data[byte] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(checksum64(data, sizeof data), base);
    /* Length matters too. */
    assert_true(checksum64(data, sizeof data - 1) != base);
    (void)checksum64(NULL, 0);
}

/* Writes "hello" to path through e. */
static void write_hello(env *e, const char *path)
{
    env_file *f = NULL;
    assert_int_equal(e->open_write(e, path, &f), LSM_OK);
    assert_int_equal(file_append(f, "hello", 5), LSM_OK);
    assert_int_equal(file_close(f), LSM_OK);
}

static void test_bound_env_follows_its_directory(void **state)
{
    char *root = *state;
    char *dir = test_path(root, "db");
    char *moved = test_path(root, "moved");
    char *a = test_path(dir, "a.tmp"), *b = test_path(dir, "MANIFEST");
    char *moved_b = test_path(moved, "MANIFEST");
    assert_int_equal(mkdir(dir, 0755), 0);
    env *posix = env_posix(), *d = NULL;
    assert_int_equal(posix->open_dir(posix, dir, &d), LSM_OK);
    assert_null(d->mkdir);
    assert_null(d->open_dir);

    /* The directory moves; a new one takes its old path. */
    assert_int_equal(rename(dir, moved), 0);
    assert_int_equal(mkdir(dir, 0755), 0);
    write_hello(d, a);
    assert_int_equal(d->rename(d, a, b), LSM_OK);
    assert_int_equal(d->sync_dir(d, dir), LSM_OK);
    struct stat st;
    assert_int_equal(stat(moved_b, &st), 0);
    assert_int_equal(st.st_size, 5);
    assert_int_equal(stat(b, &st), -1); /* the new directory is untouched */
    env_file *f = NULL;
    char buf[5];
    assert_int_equal(d->open_read(d, b, &f), LSM_OK);
    assert_int_equal(file_read_at(f, 0, buf, 5), LSM_OK);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(file_close(f), LSM_OK);

    /* Only files of the directory: no other directory, no nesting, no
     * "..", not the directory itself as a file. */
    const char *bad[] = {"/tmp/x", "dbx/MANIFEST", "db/sub/x", "db/..",
                         "MANIFEST"};
    char *bad_paths[5];
    for (size_t i = 0; i < 5; i++) {
        bad_paths[i] = i == 0 ? strdup(bad[i]) : test_path(root, bad[i]);
        assert_int_equal(d->open_read(d, bad_paths[i], &f), LSM_EINVAL);
        assert_int_equal(d->unlink(d, bad_paths[i]), LSM_EINVAL);
        free(bad_paths[i]);
    }
    assert_int_equal(d->open_write(d, dir, &f), LSM_EINVAL);
    assert_int_equal(d->sync_dir(d, root), LSM_EINVAL);

    /* The lock is the directory's: a second locker is refused until the
     * first lets go. */
    env_file *lock1 = NULL, *lock2 = NULL;
    assert_int_equal(d->lock(d, dir, &lock1), LSM_OK);
    assert_int_equal(posix->lock(posix, moved, &lock2), LSM_EBUSY);
    assert_null(lock2);
    assert_int_equal(posix->lock(posix, dir, &lock2), LSM_OK); /* another */
    assert_int_equal(file_close(lock2), LSM_OK);
    assert_int_equal(file_close(lock1), LSM_OK);
    assert_int_equal(posix->lock(posix, moved, &lock2), LSM_OK);
    assert_int_equal(file_close(lock2), LSM_OK);

    assert_int_equal(d->unlink(d, b), LSM_OK);
    assert_int_equal(stat(moved_b, &st), -1);
    d->close_dir(d);
    free(moved_b);
    free(a);
    free(b);
    free(moved);
    free(dir);
}

/* Every return code lsm.h defines has a name of its own. */
static void test_every_code_has_a_name(void **state)
{
    (void)state;
    const int codes[] = {LSM_OK,    LSM_NOTFOUND,  LSM_EINVAL,
                         LSM_EIO,   LSM_ECORRUPT,  LSM_ENOMEM,
                         LSM_EBUSY, LSM_EINTERNAL, LSM_ECONFLICT};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_string_not_equal(lsm_strerror(codes[i]), "unknown error");
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(lsm_strerror(codes[i]),
                                    lsm_strerror(codes[k]));
    }
    assert_string_equal(lsm_strerror(-1), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_a_name),
        cmocka_unit_test(test_arena_alignment_and_growth),
        cmocka_unit_test(test_arena_zero_and_overflow),
        cmocka_unit_test(test_fixed_round_trips),
        cmocka_unit_test(test_varint_boundaries),
        cmocka_unit_test(test_varint_rejects_overlong),
        cmocka_unit_test(test_checksum_bit_flips),
        cmocka_unit_test_setup_teardown(test_bound_env_follows_its_directory,
                                        test_dir_setup, test_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
