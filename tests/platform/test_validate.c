/* Field validation of JSON bodies: each getter's accepted and refused values,
 * and that every failure is listed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "citerne/validate.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        fail_msg("bad fixture %s: %s", text, e.text);
    return j;
}

/* The message recorded for field, or NULL. */
static const char *error_for(const ct_valid_t *v, const char *field)
{
    size_t i;
    json_t *e;
    json_array_foreach(v->errors, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "field")), field) == 0)
            return json_string_value(json_object_get(e, "message"));
    }
    return NULL;
}

static void str_accepts_text_within_byte_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        size_t min, max;
        bool ok;
    } cases[] = {
        {"{\"f\": \"abc\"}", 1, 3, true},
        {"{\"f\": \"abcd\"}", 1, 3, false},
        {"{\"f\": \"\"}", 1, 3, false},
        {"{\"f\": \"\"}", 0, 3, true},
        {"{\"f\": \"\\u00e9t\\u00e9\"}", 1, 5, true}, /* 5 bytes in UTF-8 */
        {"{\"f\": \"\\u00e9t\\u00e9\"}", 1, 4, false},
        {"{\"f\": \"line\\nbreak\"}", 1, 50, false},
        {"{\"f\": \"tab\\there\"}", 1, 50, false},
        {"{\"f\": \"del\\u007f\"}", 1, 50, false},
        {"{\"f\": \"c1\\u0085\"}", 1, 50, false},
        {"{\"f\": \"emoji \\ud83d\\ude00\"}", 1, 50, true},
        {"{\"f\": 12}", 0, 50, false},
        {"{\"f\": [\"a\"]}", 0, 50, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *o = parse(cases[i].json);
        ct_valid_t v;
        ct_valid_init(&v);
        const char *s = ct_valid_str(&v, o, "f", cases[i].min, cases[i].max, true);
        if (ct_valid_ok(&v) != cases[i].ok || (s != NULL) != cases[i].ok)
            fail_msg("case %zu (%s): want %s, got %s", i, cases[i].json,
                     cases[i].ok ? "ok" : "an error",
                     error_for(&v, "f") ? error_for(&v, "f") : "ok");
        ct_valid_dispose(&v);
        json_decref(o);
    }
}

static void str_refuses_invalid_utf8_built_by_code(void **state)
{
    (void)state;
    /* jansson checks what it parses, not what json_stringn_nocheck builds */
    json_t *o = json_object();
    json_object_set_new(o, "overlong", json_stringn_nocheck("\xc0\xaf", 2));
    json_object_set_new(o, "surrogate", json_stringn_nocheck("\xed\xa0\x80", 3));
    json_object_set_new(o, "cut", json_stringn_nocheck("ab\xe2\x82", 4));
    json_object_set_new(o, "nul", json_stringn_nocheck("a\0b", 3));
    json_object_set_new(o, "fine", json_stringn_nocheck("\xe2\x82\xac", 3));
    ct_valid_t v;
    ct_valid_init(&v);
    assert_null(ct_valid_str(&v, o, "overlong", 0, 10, true));
    assert_null(ct_valid_str(&v, o, "surrogate", 0, 10, true));
    assert_null(ct_valid_str(&v, o, "cut", 0, 10, true));
    assert_null(ct_valid_str(&v, o, "nul", 0, 10, true));
    assert_string_equal(ct_valid_str(&v, o, "fine", 0, 10, true), "\xe2\x82\xac");
    assert_string_equal(error_for(&v, "overlong"), "must be valid UTF-8");
    assert_string_equal(error_for(&v, "surrogate"), "must be valid UTF-8");
    assert_string_equal(error_for(&v, "cut"), "must be valid UTF-8");
    assert_string_equal(error_for(&v, "nul"), "must not contain control characters");
    assert_int_equal(json_array_size(v.errors), 4);
    ct_valid_dispose(&v);
    json_decref(o);
}

static void missing_and_null_fields_are_required_or_default(void **state)
{
    (void)state;
    json_t *o = parse("{\"n\": null}");
    ct_valid_t v;
    ct_valid_init(&v);
    assert_null(ct_valid_str(&v, o, "s", 0, 5, false));
    assert_int_equal(ct_valid_int(&v, o, "n", 0, 5, false, 3), 3);
    assert_true(ct_valid_bool(&v, o, "b", false, true));
    assert_null(ct_valid_uuid(&v, o, "u", false));
    assert_null(ct_valid_date(&v, o, "d", false));
    static const char *const colours[] = {"red", "blue", NULL};
    assert_string_equal(ct_valid_enum(&v, o, "c", colours, false, "red"), "red");
    assert_true(ct_valid_ok(&v));

    assert_null(ct_valid_str(&v, o, "s", 0, 5, true));
    assert_int_equal(ct_valid_int(&v, o, "n", 0, 5, true, 0), 0);
    assert_null(ct_valid_enum(&v, o, "c", colours, true, "red"));
    assert_false(ct_valid_ok(&v));
    assert_string_equal(error_for(&v, "s"), "is required");
    assert_string_equal(error_for(&v, "n"), "is required");
    assert_string_equal(error_for(&v, "c"), "is required");
    ct_valid_dispose(&v);
    json_decref(o);
}

static void int_must_be_a_json_integer_in_range(void **state)
{
    (void)state;
    json_t *o = parse("{\"a\": 5, \"b\": 5.0, \"c\": \"5\", \"d\": -1, \"e\": 9223372036854775807,"
                      " \"f\": true}");
    ct_valid_t v;
    ct_valid_init(&v);
    assert_int_equal(ct_valid_int(&v, o, "a", 0, 10, true, 0), 5);
    assert_true(ct_valid_ok(&v));
    assert_int_equal(ct_valid_int(&v, o, "b", 0, 10, true, 7), 7);
    assert_int_equal(ct_valid_int(&v, o, "c", 0, 10, true, 7), 7);
    assert_int_equal(ct_valid_int(&v, o, "d", 0, 10, true, 7), 7);
    assert_int_equal(ct_valid_int(&v, o, "e", INT64_MIN, INT64_MAX, true, 7), INT64_MAX);
    assert_int_equal(ct_valid_int(&v, o, "f", 0, 10, true, 7), 7);
    assert_string_equal(error_for(&v, "b"), "must be an integer");
    assert_string_equal(error_for(&v, "c"), "must be an integer");
    assert_string_equal(error_for(&v, "d"), "must be between 0 and 10");
    assert_string_equal(error_for(&v, "f"), "must be an integer");
    assert_null(error_for(&v, "e"));
    ct_valid_dispose(&v);
    json_decref(o);
}

static void bool_and_enum_accept_only_their_values(void **state)
{
    (void)state;
    json_t *o =
        parse("{\"t\": true, \"f\": false, \"s\": \"true\", \"c\": \"blue\", \"x\": \"Blue\"}");
    static const char *const colours[] = {"red", "blue", NULL};
    ct_valid_t v;
    ct_valid_init(&v);
    assert_true(ct_valid_bool(&v, o, "t", true, false));
    assert_false(ct_valid_bool(&v, o, "f", true, true));
    assert_string_equal(ct_valid_enum(&v, o, "c", colours, true, NULL), "blue");
    assert_true(ct_valid_ok(&v));
    (void)ct_valid_bool(&v, o, "s", true, false);
    assert_null(ct_valid_enum(&v, o, "x", colours, true, NULL));
    assert_string_equal(error_for(&v, "s"), "must be true or false");
    assert_string_equal(error_for(&v, "x"), "must be one of: red, blue");
    ct_valid_dispose(&v);
    json_decref(o);
}

static void uuid_must_be_canonical(void **state)
{
    (void)state;
    json_t *o = parse("{\"a\": \"0190f5b2-8c4e-7a1b-9c3d-4e5f6a7b8c9d\","
                      " \"b\": \"0190F5B2-8C4E-7A1B-9C3D-4E5F6A7B8C9D\","
                      " \"c\": \"0190f5b28c4e7a1b9c3d4e5f6a7b8c9d\","
                      " \"d\": \"0190f5b2-8c4e-7a1b-9c3d-4e5f6a7b8c9\","
                      " \"e\": 42}");
    ct_valid_t v;
    ct_valid_init(&v);
    assert_non_null(ct_valid_uuid(&v, o, "a", true));
    assert_non_null(ct_valid_uuid(&v, o, "b", true));
    assert_true(ct_valid_ok(&v));
    assert_null(ct_valid_uuid(&v, o, "c", true));
    assert_null(ct_valid_uuid(&v, o, "d", true));
    assert_null(ct_valid_uuid(&v, o, "e", true));
    assert_int_equal(json_array_size(v.errors), 3);
    ct_valid_dispose(&v);
    json_decref(o);
}

static void date_must_exist_in_the_calendar(void **state)
{
    (void)state;
    static const struct {
        const char *date;
        bool ok;
    } cases[] = {
        {"2024-02-29", true},  {"2023-02-29", false},    {"2000-02-29", true},
        {"1900-02-29", false}, {"2024-04-30", true},     {"2024-04-31", false},
        {"2024-12-31", true},  {"2024-13-01", false},    {"2024-00-10", false},
        {"2024-01-00", false}, {"0000-01-01", false},    {"2024-1-01", false},
        {"2024/01/01", false}, {"2024-01-01T00", false}, {"", false},
        {"20a4-01-01", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *o = json_pack("{s:s}", "d", cases[i].date);
        ct_valid_t v;
        ct_valid_init(&v);
        const char *s = ct_valid_date(&v, o, "d", true);
        if ((s != NULL) != cases[i].ok || ct_valid_ok(&v) != cases[i].ok)
            fail_msg("%s: want %s", cases[i].date, cases[i].ok ? "valid" : "refused");
        ct_valid_dispose(&v);
        json_decref(o);
    }
}

static void take_errors_hands_over_and_resets(void **state)
{
    (void)state;
    ct_valid_t v;
    ct_valid_init(&v);
    ct_valid_fail(&v, "a", "is wrong");
    ct_valid_fail(&v, "b", "is wrong too");
    json_t *errs = ct_valid_take_errors(&v);
    assert_int_equal(json_array_size(errs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errs, 1), "field")), "b");
    assert_true(ct_valid_ok(&v));
    json_decref(errs);
    ct_valid_dispose(&v);
    assert_null(v.errors);
}

static void non_object_input_counts_as_absent_fields(void **state)
{
    (void)state;
    json_t *arr = parse("[1, 2]");
    ct_valid_t v;
    ct_valid_init(&v);
    assert_null(ct_valid_str(&v, arr, "a", 0, 5, false));
    assert_true(ct_valid_ok(&v));
    assert_null(ct_valid_str(&v, NULL, "a", 0, 5, true));
    assert_string_equal(error_for(&v, "a"), "is required");
    ct_valid_dispose(&v);
    json_decref(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(str_accepts_text_within_byte_bounds),
        cmocka_unit_test(str_refuses_invalid_utf8_built_by_code),
        cmocka_unit_test(missing_and_null_fields_are_required_or_default),
        cmocka_unit_test(int_must_be_a_json_integer_in_range),
        cmocka_unit_test(bool_and_enum_accept_only_their_values),
        cmocka_unit_test(uuid_must_be_canonical),
        cmocka_unit_test(date_must_exist_in_the_calendar),
        cmocka_unit_test(take_errors_hands_over_and_resets),
        cmocka_unit_test(non_object_input_counts_as_absent_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
