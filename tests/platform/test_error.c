#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "citerne/error.h"

typedef struct {
    int code;
    const char *name;
    int status;
    const char *type;
} row_t;

static void project_codes_map_to_name_status_and_type(void **state)
{
    (void)state;
    static const row_t rows[] = {
        {CT_EINPUT, "EINPUT", 400, "invalid-input"},
        {CT_EUNAUTH, "EUNAUTH", 401, "unauthenticated"},
        {CT_EFORBIDDEN, "EFORBIDDEN", 403, "forbidden"},
        {CT_ENOTFOUND, "ENOTFOUND", 404, "not-found"},
        {CT_ECONFLICT, "ECONFLICT", 409, "conflict"},
        {CT_ETOOBIG, "ETOOBIG", 413, "body-too-large"},
        {CT_EUNAVAIL, "EUNAVAIL", 503, "unavailable"},
        {CT_EDB, "EDB", 500, "database-error"},
        {CT_EBUS, "EBUS", 503, "bus-error"},
        {CT_EDECODE, "EDECODE", 400, "undecodable"},
        {CT_EINTERNAL, "EINTERNAL", 500, "internal"},
        {CT_ECONFIG, "ECONFIG", 500, "config"},
        {CT_ECLOSED, "ECLOSED", 503, "closed"},
        {CT_ETIMEOUT, "ETIMEOUT", 504, "timeout"},
        {CT_EMEDIA, "EMEDIA", 415, "unsupported-media-type"},
        {CT_EMETHOD, "EMETHOD", 405, "method-not-allowed"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_string_equal(ct_err_name(rows[i].code), rows[i].name);
        assert_int_equal(ct_err_http_status(rows[i].code), rows[i].status);
        assert_string_equal(ct_err_problem_type(rows[i].code), rows[i].type);
        assert_true(strlen(ct_strerror(rows[i].code)) > 0);
    }
    assert_string_equal(ct_strerror(CT_ENOTFOUND), "no such resource");
}

static void errno_values_get_system_names_and_messages(void **state)
{
    (void)state;
    assert_string_equal(ct_err_name(-ENOENT), "ENOENT");
    assert_string_equal(ct_strerror(-ENOENT), "no such file or directory");
    assert_string_equal(ct_err_name(-ECONNREFUSED), "ECONNREFUSED");
    assert_string_equal(ct_err_name(UV_EOF), "EOF");
    assert_string_equal(ct_err_name(UV_EAI_NONAME), "EAI_NONAME");
    /* an errno libuv does not map still gets the C library's name */
    assert_string_equal(ct_err_name(-EDQUOT), "EDQUOT");
    assert_int_equal(ct_err_http_status(-ENOENT), 500);
    assert_string_equal(ct_err_problem_type(-ENOENT), "internal");
}

static void unknown_codes_never_yield_null(void **state)
{
    (void)state;
    const int codes[] = {1, 12345, -9999, -10000, -10017, -99999, -2147483647 - 1};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_non_null(ct_strerror(codes[i]));
        assert_non_null(ct_err_name(codes[i]));
        assert_int_equal(ct_err_http_status(codes[i]), 500);
        assert_string_equal(ct_err_problem_type(codes[i]), "internal");
    }
    assert_string_equal(ct_err_name(0), "OK");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(project_codes_map_to_name_status_and_type),
        cmocka_unit_test(errno_values_get_system_names_and_messages),
        cmocka_unit_test(unknown_codes_never_yield_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
