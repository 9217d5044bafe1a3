#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "citerne/log.h"

/* Runs fn with stdout redirected to a pipe and returns what it wrote. */
static char *capture(void (*fn)(void))
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fds[1], STDOUT_FILENO) >= 0);
    fn();
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    close(fds[1]);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    ssize_t n;
    while ((n = read(fds[0], buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    close(fds[0]);
    buf[len] = '\0';
    return buf;
}

static void log_tricky(void)
{
    ct_log_init("orders", CT_LOG_INFO);
    ct_logc_warn("0190a1b2-0000-7000-8000-000000000001", "quote \" backslash \\ newline\n tab\t %s",
                 "bell\a é");
}

static void line_is_json_with_escaped_message(void **state)
{
    (void)state;
    char *out = capture(log_tricky);
    size_t len = strlen(out);
    assert_true(len > 0);
    assert_int_equal(out[len - 1], '\n');
    assert_null(memchr(out, '\n', len - 1)); /* exactly one line */
    json_error_t err;
    json_t *o = json_loads(out, 0, &err);
    if (!o)
        fail_msg("not JSON (%s): %s", err.text, out);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(o, "service")), "orders");
    assert_string_equal(json_string_value(json_object_get(o, "cid")),
                        "0190a1b2-0000-7000-8000-000000000001");
    assert_string_equal(json_string_value(json_object_get(o, "msg")),
                        "quote \" backslash \\ newline\n tab\t bell\a é");
    json_decref(o);
    free(out);
}

static void log_time(void)
{
    ct_log_init("billing", CT_LOG_DEBUG);
    ct_log_debug("hello");
}

static void time_is_rfc3339_utc_with_milliseconds(void **state)
{
    (void)state;
    char *out = capture(log_time);
    json_t *o = json_loads(out, 0, NULL);
    assert_non_null(o);
    const char *t = json_string_value(json_object_get(o, "time"));
    assert_non_null(t);
    /* 2026-11-22T06:30:44.123Z */
    assert_int_equal(strlen(t), 24);
    int y, mo, d, h, mi, s, ms;
    char z;
    assert_int_equal(sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &s, &ms, &z),
                     8);
    assert_int_equal(z, 'Z');
    assert_true(y >= 2024 && mo >= 1 && mo <= 12 && ms >= 0 && ms <= 999);
    assert_null(json_object_get(o, "cid")); /* no correlation id given */
    json_decref(o);
    free(out);
}

static int evaluated;
static const char *side_effect(void)
{
    evaluated++;
    return "x";
}

static void log_filtered(void)
{
    ct_log_init("billing", CT_LOG_WARN);
    ct_log_info("%s", side_effect());
    ct_log_debug("%s", side_effect());
}

static void lines_below_the_level_are_not_written_nor_evaluated(void **state)
{
    (void)state;
    evaluated = 0;
    char *out = capture(log_filtered);
    assert_string_equal(out, "");
    assert_int_equal(evaluated, 0);
    free(out);
}

static void log_long(void)
{
    ct_log_init("notify", CT_LOG_INFO);
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ct_log_error("%s", big);
    ct_log_error("bad utf8 \xff\xfe end");
}

static void long_and_invalid_utf8_messages_still_give_json(void **state)
{
    (void)state;
    char *out = capture(log_long);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = '\0';
    json_t *a = json_loads(out, 0, NULL);
    json_t *b = json_loads(nl + 1, 0, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(strlen(json_string_value(json_object_get(a, "msg"))), 4999);
    assert_string_equal(json_string_value(json_object_get(b, "msg")), "bad utf8 ?? end");
    json_decref(a);
    json_decref(b);
    free(out);
}

static void levels_parse_by_name(void **state)
{
    (void)state;
    ct_log_level_t l;
    assert_int_equal(ct_log_level_parse("debug", &l), 0);
    assert_int_equal(l, CT_LOG_DEBUG);
    assert_int_equal(ct_log_level_parse("WARN", &l), 0);
    assert_int_equal(l, CT_LOG_WARN);
    assert_int_equal(ct_log_level_parse("off", &l), 0);
    assert_int_equal(l, CT_LOG_OFF);
    assert_int_equal(ct_log_level_parse("loud", &l), -1);
    assert_int_equal(ct_log_level_parse("", &l), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(line_is_json_with_escaped_message),
        cmocka_unit_test(time_is_rfc3339_utc_with_milliseconds),
        cmocka_unit_test(lines_below_the_level_are_not_written_nor_evaluated),
        cmocka_unit_test(long_and_invalid_utf8_messages_still_give_json),
        cmocka_unit_test(levels_parse_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
