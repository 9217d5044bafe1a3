#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/config.h"
#include "citerne/error.h"

static int clear_env(void **state)
{
    (void)state;
    const char *vars[] = {"CT_T_STR", "CT_T_INT", "CT_T_BOOL", "CT_T_ADDR", "CT_T_REQ"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    return 0;
}

static void good_values_are_parsed(void **state)
{
    (void)state;
    ct_config_t cfg;
    ct_config_init(&cfg);
    setenv("CT_T_STR", "postgresql://x", 1);
    setenv("CT_T_INT", "32", 1);
    setenv("CT_T_BOOL", "Yes", 1);
    setenv("CT_T_ADDR", "[::1]:8081", 1);
    char addr[64];
    assert_string_equal(ct_config_str(&cfg, "CT_T_STR", NULL), "postgresql://x");
    assert_int_equal(ct_config_int(&cfg, "CT_T_INT", 8, 1, 64), 32);
    assert_true(ct_config_bool(&cfg, "CT_T_BOOL", false));
    assert_string_equal(ct_config_addr(&cfg, "CT_T_ADDR", NULL, addr, sizeof addr), "[::1]:8081");
    setenv("CT_T_BOOL", "off", 1);
    assert_false(ct_config_bool(&cfg, "CT_T_BOOL", true));
    setenv("CT_T_INT", "-5", 1);
    assert_int_equal(ct_config_int(&cfg, "CT_T_INT", 0, -10, 10), -5);
    assert_int_equal(cfg.nerrors, 0);
    assert_int_equal(ct_config_check(&cfg), 0);
}

static void unset_or_empty_values_take_the_default(void **state)
{
    (void)state;
    ct_config_t cfg;
    ct_config_init(&cfg);
    setenv("CT_T_INT", "", 1);
    char addr[64];
    assert_string_equal(ct_config_str(&cfg, "CT_T_STR", "dflt"), "dflt");
    assert_int_equal(ct_config_int(&cfg, "CT_T_INT", 8, 1, 64), 8);
    assert_true(ct_config_bool(&cfg, "CT_T_BOOL", true));
    assert_string_equal(ct_config_addr(&cfg, "CT_T_ADDR", "127.0.0.1:8082", addr, sizeof addr),
                        "127.0.0.1:8082");
    assert_int_equal(ct_config_check(&cfg), 0);
}

static void junk_integer_gives_a_readable_error(void **state)
{
    (void)state;
    ct_config_t cfg;
    ct_config_init(&cfg);
    setenv("CITERNE_PG_POOL", "abc", 1);
    assert_int_equal(ct_config_int(&cfg, "CITERNE_PG_POOL", 8, 1, 64), 8);
    assert_int_equal(cfg.nerrors, 1);
    assert_string_equal(cfg.errors[0],
                        "CITERNE_PG_POOL=\"abc\": expected an integer between 1 and 64");
    assert_int_equal(ct_config_check(&cfg), CT_ECONFIG);
    unsetenv("CITERNE_PG_POOL");
}

static void out_of_range_and_trailing_junk_are_rejected(void **state)
{
    (void)state;
    ct_config_t cfg;
    ct_config_init(&cfg);
    const char *bad[] = {"65", "0", "12x", " 5", "99999999999999999999999", "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("CT_T_INT", bad[i], 1);
        assert_int_equal(ct_config_int(&cfg, "CT_T_INT", 8, 1, 64), 8);
    }
    assert_int_equal(cfg.nerrors, 6);
    assert_non_null(strstr(cfg.errors[0], "CT_T_INT=\"65\""));
}

static void required_missing_is_reported(void **state)
{
    (void)state;
    ct_config_t cfg;
    ct_config_init(&cfg);
    char addr[64];
    assert_null(ct_config_str(&cfg, "CT_T_REQ", NULL));
    assert_null(ct_config_addr(&cfg, "CT_T_ADDR", NULL, addr, sizeof addr));
    assert_int_equal(cfg.nerrors, 2);
    assert_string_equal(cfg.errors[0], "CT_T_REQ is required and not set");
    assert_non_null(strstr(cfg.errors[1], "CT_T_ADDR is required"));
}

static void bad_bool_and_addresses_are_reported(void **state)
{
    (void)state;
    ct_config_t cfg;
    ct_config_init(&cfg);
    char addr[16];
    setenv("CT_T_BOOL", "maybe", 1);
    assert_false(ct_config_bool(&cfg, "CT_T_BOOL", false));
    const char *bad[] = {"localhost", "host:0", "host:65536", ":80", "::1:80", "host:8o", "h:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("CT_T_ADDR", bad[i], 1);
        assert_null(ct_config_addr(&cfg, "CT_T_ADDR", NULL, addr, sizeof addr));
    }
    setenv("CT_T_ADDR", "a-rather-long-hostname:80", 1); /* does not fit in 16 */
    assert_null(ct_config_addr(&cfg, "CT_T_ADDR", NULL, addr, sizeof addr));
    assert_int_equal(cfg.nerrors, 9);
    assert_non_null(strstr(cfg.errors[0], "CT_T_BOOL=\"maybe\": expected a boolean"));
    assert_non_null(strstr(cfg.errors[2], "CT_T_ADDR=\"host:0\": expected host:port"));
}

static void every_error_is_kept_until_the_limit(void **state)
{
    (void)state;
    ct_config_t cfg;
    ct_config_init(&cfg);
    for (int i = 0; i < CT_CONFIG_MAX_ERRORS + 5; i++)
        ct_config_fail(&cfg, "problem %d", i);
    assert_int_equal(cfg.nerrors, CT_CONFIG_MAX_ERRORS);
    assert_string_equal(cfg.errors[0], "problem 0");
    assert_string_equal(cfg.errors[CT_CONFIG_MAX_ERRORS - 2], "problem 14");
    assert_non_null(strstr(cfg.errors[CT_CONFIG_MAX_ERRORS - 1], "more than"));
    assert_int_equal(ct_config_check(&cfg), CT_ECONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(good_values_are_parsed, clear_env),
        cmocka_unit_test_setup(unset_or_empty_values_take_the_default, clear_env),
        cmocka_unit_test_setup(junk_integer_gives_a_readable_error, clear_env),
        cmocka_unit_test_setup(out_of_range_and_trailing_junk_are_rejected, clear_env),
        cmocka_unit_test_setup(required_missing_is_reported, clear_env),
        cmocka_unit_test_setup(bad_bool_and_addresses_are_reported, clear_env),
        cmocka_unit_test_setup(every_error_is_kept_until_the_limit, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
