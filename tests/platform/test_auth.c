/* Bearer API keys: what a configured key accepts and refuses. Requests are
 * fake (ct__http_req_fake): no server, the reply is dropped and frees them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "citerne/auth.h"
#include "citerne/error.h"
#include "http_internal.h"

#define KEY "0123456789abcdef-key"

/* Whether a request with this Authorization header (NULL: none) passes k. */
static bool passes(const ct_auth_key_t *k, const char *authorization)
{
    ct_http_req_t *req = ct__http_req_fake("GET", "/x", NULL, NULL, 0);
    if (authorization)
        ct__http_req_fake_header(req, "Authorization", authorization);
    bool ok = ct_auth_bearer_ok(req, k);
    ct_http_reply(req, 204, NULL, NULL, 0); /* frees req */
    return ok;
}

static void the_configured_key_passes_with_any_case_scheme_and_spaces(void **state)
{
    (void)state;
    ct_auth_key_t k;
    assert_int_equal(ct_auth_key_init(&k, KEY), 0);
    assert_true(k.set);
    assert_true(passes(&k, "Bearer " KEY));
    assert_true(passes(&k, "bearer " KEY));
    assert_true(passes(&k, "BEARER   " KEY));
    ct_auth_key_dispose(&k);
    assert_false(k.set);
    assert_false(passes(&k, "Bearer " KEY));
}

static void other_keys_and_schemes_are_refused(void **state)
{
    (void)state;
    ct_auth_key_t k;
    assert_int_equal(ct_auth_key_init(&k, KEY), 0);
    static const char *const refused[] = {
        "Bearer " KEY "x",            /* longer */
        "Bearer 0123456789abcdef-ke", /* prefix */
        "Bearer " KEY " ",            /* trailing space is part of the token */
        "Basic " KEY,
        "Bearer" KEY,
        "Bearer ",
        "",
        KEY,
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (passes(&k, refused[i]))
            fail_msg("\"%s\" passed", refused[i]);
    }
    assert_false(passes(&k, NULL));
    ct_auth_key_dispose(&k);
}

static void no_key_configured_refuses_everything(void **state)
{
    (void)state;
    ct_auth_key_t k;
    assert_int_equal(ct_auth_key_init(&k, NULL), 0);
    assert_false(k.set);
    assert_false(passes(&k, "Bearer " KEY));
    assert_int_equal(ct_auth_key_init(&k, ""), 0);
    assert_false(k.set);
    assert_false(passes(&k, "Bearer "));
    assert_false(passes(NULL, "Bearer " KEY));
    ct_auth_key_t zero = {0};
    assert_false(passes(&zero, "Bearer "));
}

static void keys_under_16_characters_are_refused(void **state)
{
    (void)state;
    ct_auth_key_t k;
    assert_int_equal(ct_auth_key_init(&k, "0123456789abcde"), CT_ECONFIG);
    assert_false(k.set);
    assert_false(passes(&k, "Bearer 0123456789abcde"));
    assert_int_equal(ct_auth_key_init(&k, "0123456789abcdef"), 0);
    assert_true(k.set);
    assert_true(passes(&k, "Bearer 0123456789abcdef"));
}

static void config_records_short_and_missing_required_keys(void **state)
{
    (void)state;
    ct_config_t cfg;
    ct_auth_key_t k;

    ct_config_init(&cfg);
    setenv("CT_TEST_AUTH_KEY", "short", 1);
    ct_auth_key_config(&k, &cfg, "CT_TEST_AUTH_KEY", false);
    assert_int_equal(cfg.nerrors, 1);
    assert_string_equal(cfg.errors[0], "CT_TEST_AUTH_KEY: expected at least 16 characters");
    assert_false(k.set);

    ct_config_init(&cfg);
    unsetenv("CT_TEST_AUTH_KEY");
    ct_auth_key_config(&k, &cfg, "CT_TEST_AUTH_KEY", false);
    assert_int_equal(cfg.nerrors, 0);
    assert_false(k.set);
    ct_auth_key_config(&k, &cfg, "CT_TEST_AUTH_KEY", true);
    assert_int_equal(cfg.nerrors, 1);
    assert_false(k.set);

    ct_config_init(&cfg);
    setenv("CT_TEST_AUTH_KEY", KEY, 1);
    ct_auth_key_config(&k, &cfg, "CT_TEST_AUTH_KEY", true);
    assert_int_equal(cfg.nerrors, 0);
    assert_true(passes(&k, "Bearer " KEY));
    unsetenv("CT_TEST_AUTH_KEY");
}

static void unauthorized_replies_401_with_the_bearer_challenge(void **state)
{
    (void)state;
    ct_http_req_t *req = ct__http_req_fake("GET", "/x", NULL, NULL, 0);
    ct_auth_reply_unauthorized(req, "a valid API key is required");
    assert_int_equal(ct__http_last_status(), 401);
}

static void require_replies_401_itself_or_lets_the_handler_go_on(void **state)
{
    (void)state;
    ct_auth_key_t k;
    assert_int_equal(ct_auth_key_init(&k, KEY), 0);
    ct_http_req_t *req = ct__http_req_fake("GET", "/x", NULL, NULL, 0);
    ct__http_req_fake_header(req, "Authorization", "Bearer nope-nope-nope-nope");
    assert_false(ct_auth_require(req, &k, "the operator key is required"));
    assert_int_equal(ct__http_last_status(), 401); /* replied (and freed) */

    req = ct__http_req_fake("GET", "/x", NULL, NULL, 0);
    ct__http_req_fake_header(req, "Authorization", "Bearer " KEY);
    assert_true(ct_auth_require(req, &k, "the operator key is required"));
    ct_http_reply(req, 204, NULL, NULL, 0); /* not replied yet: the handler's turn */
    assert_int_equal(ct__http_last_status(), 204);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_configured_key_passes_with_any_case_scheme_and_spaces),
        cmocka_unit_test(other_keys_and_schemes_are_refused),
        cmocka_unit_test(no_key_configured_refuses_everything),
        cmocka_unit_test(keys_under_16_characters_are_refused),
        cmocka_unit_test(config_records_short_and_missing_required_keys),
        cmocka_unit_test(unauthorized_replies_401_with_the_bearer_challenge),
        cmocka_unit_test(require_replies_401_itself_or_lets_the_handler_go_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
