/* TOTP, sealed secrets, QR codes and recovery codes as plain functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/error.h"
#include "totp.h"

/* RFC 6238 appendix B's SHA-1 secret, "12345678901234567890". */
static const unsigned char rfc_secret[ACCOUNTS_TOTP_SECRET_BYTES] = "12345678901234567890";

static void codes_match_rfc6238_with_one_step_of_drift(void **state)
{
    (void)state;
    char code[7];
    accounts_totp_code(rfc_secret, 59, code);
    assert_string_equal(code, "287082"); /* 94287082, last 6 digits */
    accounts_totp_code(rfc_secret, 1111111109, code);
    assert_string_equal(code, "081804"); /* 07081804 */
    int64_t step = -1;
    assert_int_equal(accounts_totp_check(rfc_secret, 59, "287082", &step), 0);
    assert_int_equal(step, 1);
    /* the code of step 1 still passes during step 2 (and during step 0) */
    assert_int_equal(accounts_totp_check(rfc_secret, 89, "287082", &step), 0);
    assert_int_equal(step, 1);
    assert_int_equal(accounts_totp_check(rfc_secret, 29, "287082", &step), 0);
    /* but not two steps later */
    assert_int_equal(accounts_totp_check(rfc_secret, 119, "287082", &step), CT_EUNAUTH);
    /* nor anything but 6 digits */
    static const char *const junk[] = {"", "28708", "2870820", "28708a", " 287082", NULL};
    for (size_t i = 0; junk[i]; i++)
        assert_int_equal(accounts_totp_check(rfc_secret, 59, junk[i], &step), CT_EUNAUTH);
    assert_int_equal(accounts_totp_check(rfc_secret, 59, NULL, &step), CT_EUNAUTH);
}

static void sealed_secret_opens_only_for_its_user_and_key(void **state)
{
    (void)state;
    unsigned char key[ACCOUNTS_SECRET_KEY_BYTES], other[ACCOUNTS_SECRET_KEY_BYTES];
    assert_int_equal(accounts_secret_key_parse(
                         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", key),
                     0);
    assert_int_equal(accounts_secret_key_parse("0001", other), CT_ECONFIG);
    assert_int_equal(accounts_secret_key_parse(
                         "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", other),
                     CT_ECONFIG);
    memcpy(other, key, sizeof key);
    other[0] ^= 1;
    const char *user = "01a2021b-9e77-701b-819a-8d1dacc399c8";
    const char *someone = "01a2021b-9e77-701b-819a-8d1dacc399c9";
    unsigned char box[ACCOUNTS_TOTP_BOX_BYTES], again[ACCOUNTS_TOTP_BOX_BYTES];
    accounts_totp_seal(key, user, rfc_secret, box);
    accounts_totp_seal(key, user, rfc_secret, again);
    assert_memory_not_equal(box, again, sizeof box); /* fresh nonce each time */
    unsigned char out[ACCOUNTS_TOTP_SECRET_BYTES];
    assert_int_equal(accounts_totp_open(key, user, box, sizeof box, out), 0);
    assert_memory_equal(out, rfc_secret, sizeof out);
    assert_int_equal(accounts_totp_open(key, someone, box, sizeof box, out), CT_EINTERNAL);
    assert_int_equal(accounts_totp_open(other, user, box, sizeof box, out), CT_EINTERNAL);
    assert_int_equal(accounts_totp_open(key, user, box, sizeof box - 1, out), CT_EINTERNAL);
    box[sizeof box - 1] ^= 0x80;
    assert_int_equal(accounts_totp_open(key, user, box, sizeof box, out), CT_EINTERNAL);
}

static void uri_labels_the_email_and_qr_is_svg(void **state)
{
    (void)state;
    char *b32 = NULL;
    char *uri = accounts_totp_uri(rfc_secret, "marie+tank@example.fr", &b32);
    assert_non_null(uri);
    assert_string_equal(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_string_equal(uri, "otpauth://totp/Citerne:marie%2Btank%40example.fr?secret="
                             "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Citerne&algorithm=SHA1"
                             "&digits=6&period=30");
    char *svg = accounts_qr_svg(uri);
    assert_non_null(svg);
    assert_non_null(strstr(svg, "viewBox=\"0 0 "));
    assert_non_null(strstr(svg, "</svg>"));
    free(svg);
    free(uri);
    free(b32);
}

static void recovery_codes_are_fresh_and_hash_as_typed_loosely(void **state)
{
    (void)state;
    char a[ACCOUNTS_RECOVERY_CODE_LEN + 1], b[ACCOUNTS_RECOVERY_CODE_LEN + 1];
    accounts_recovery_code_new(a);
    accounts_recovery_code_new(b);
    assert_int_equal(strlen(a), ACCOUNTS_RECOVERY_CODE_LEN);
    assert_true(a[4] == '-' && a[9] == '-' && a[14] == '-');
    assert_string_not_equal(a, b);
    unsigned char h1[32], h2[32];
    assert_true(accounts_recovery_code_hash("abcd-efgh-jkmn-pqrs", h1));
    assert_true(accounts_recovery_code_hash(" ABCD EFGH jkmn-PQRS", h2));
    assert_memory_equal(h1, h2, 32);
    assert_false(accounts_recovery_code_hash("abcd-efgh-jkmn-pqr", h1));   /* short */
    assert_false(accounts_recovery_code_hash("abcd-efgh-jkmn-pqrst", h1)); /* long */
    assert_false(accounts_recovery_code_hash("abcd-efgh-jkmn-pqri", h1));  /* not Crockford */
    assert_false(accounts_recovery_code_hash(NULL, h1));
}

int main(void)
{
    assert_int_equal(accounts_totp_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codes_match_rfc6238_with_one_step_of_drift),
        cmocka_unit_test(sealed_secret_opens_only_for_its_user_and_key),
        cmocka_unit_test(uri_labels_the_email_and_qr_is_svg),
        cmocka_unit_test(recovery_codes_are_fresh_and_hash_as_typed_loosely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
