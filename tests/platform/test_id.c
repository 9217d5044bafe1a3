#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/id.h"

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static void uuid_v7_has_canonical_form_version_and_variant(void **state)
{
    (void)state;
    char id[CT_UUID_STRLEN + 1];
    ct_uuid_v7(id);
    assert_int_equal(strlen(id), 36);
    assert_true(ct_uuid_valid(id));
    for (size_t i = 0; i < 36; i++)
        if (id[i] != '-')
            assert_true((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'));
    assert_int_equal(id[14], '7');               /* version */
    assert_int_equal(hexval(id[19]) & 0xc, 0x8); /* variant 10xx */
}

static void uuid_v7_carries_the_current_unix_milliseconds(void **state)
{
    (void)state;
    int64_t before = ct_now_ms();
    char id[CT_UUID_STRLEN + 1];
    ct_uuid_v7(id);
    int64_t after = ct_now_ms();
    int64_t ts = 0;
    for (int i = 0; i < 13; i++)
        if (id[i] != '-')
            ts = ts * 16 + hexval(id[i]);
    assert_in_range(ts, before, after + 1);
}

#define N 10000

static void ten_thousand_ids_are_strictly_increasing(void **state)
{
    (void)state;
    char(*ids)[CT_UUID_STRLEN + 1] = malloc(N * sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < N; i++)
        ct_uuid_v7(ids[i]);
    for (int i = 1; i < N; i++) {
        if (strcmp(ids[i - 1], ids[i]) >= 0)
            fail_msg("id %d not after id %d: %s <= %s", i, i - 1, ids[i], ids[i - 1]);
        assert_true(ct_uuid_valid(ids[i]));
        assert_int_equal(ids[i][14], '7');
        assert_int_equal(hexval(ids[i][19]) & 0xc, 0x8);
    }
    free(ids);
}

static void *make_ids(void *arg)
{
    char(*ids)[CT_UUID_STRLEN + 1] = arg;
    for (int i = 0; i < 1000; i++)
        ct_uuid_v7(ids[i]);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void ids_from_several_threads_are_unique(void **state)
{
    (void)state;
    char(*ids)[CT_UUID_STRLEN + 1] = malloc(4000 * sizeof *ids);
    assert_non_null(ids);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, make_ids, ids + 1000 * i), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    qsort(ids, 4000, sizeof *ids, cmp);
    for (int i = 1; i < 4000; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}

static void uuid_valid_accepts_only_the_canonical_form(void **state)
{
    (void)state;
    assert_true(ct_uuid_valid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
    assert_true(ct_uuid_valid("0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"));
    assert_false(ct_uuid_valid(NULL));
    assert_false(ct_uuid_valid(""));
    assert_false(ct_uuid_valid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5"));   /* short */
    assert_false(ct_uuid_valid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b0")); /* long */
    assert_false(ct_uuid_valid("0190a1b2c3d4-7e5f-8a9b-0c1d2e3f4a5b-"));  /* dash moved */
    assert_false(ct_uuid_valid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g"));  /* not hex */
    assert_false(ct_uuid_valid("{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a}"));
}

static void random_hex_has_twice_the_bytes_and_differs(void **state)
{
    (void)state;
    char a[65], b[65], big[301];
    ct_random_hex(a, 32);
    ct_random_hex(b, 32);
    assert_int_equal(strlen(a), 64);
    assert_string_not_equal(a, b);
    for (int i = 0; i < 64; i++)
        assert_non_null(strchr("0123456789abcdef", a[i]));
    ct_random_hex(big, 150); /* more than one internal chunk */
    assert_int_equal(strlen(big), 300);
    char empty[1] = {'x'};
    ct_random_hex(empty, 0);
    assert_int_equal(empty[0], '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uuid_v7_has_canonical_form_version_and_variant),
        cmocka_unit_test(uuid_v7_carries_the_current_unix_milliseconds),
        cmocka_unit_test(ten_thousand_ids_are_strictly_increasing),
        cmocka_unit_test(ids_from_several_threads_are_unique),
        cmocka_unit_test(uuid_valid_accepts_only_the_canonical_form),
        cmocka_unit_test(random_hex_has_twice_the_bytes_and_differs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
