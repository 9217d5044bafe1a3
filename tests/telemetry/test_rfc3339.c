/* RFC 3339 timestamps of readings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rfc3339.h"

static void timestamps_parse_to_unix_ms(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-11-20T08:00:00Z", 1795161600000},
        {"2026-11-20T08:00:00.5Z", 1795161600500},
        {"2026-11-20T08:00:00.123456Z", 1795161600123},
        {"2026-11-20t08:00:00z", 1795161600000},
        {"2026-11-20T09:00:00+01:00", 1795161600000},
        {"2026-11-20T06:30:00-01:30", 1795161600000},
        {"2024-02-29T23:59:59Z", 1709251199000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        if (telemetry_rfc3339_parse(cases[i].text, &ms) != 0)
            fail_msg("%s did not parse", cases[i].text);
        if (ms != cases[i].ms)
            fail_msg("%s: %lld, want %lld", cases[i].text, (long long)ms, (long long)cases[i].ms);
    }
}

static void malformed_timestamps_are_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2026-11-20",
        "2026-11-20T08:00:00",
        "2026-11-20T08:00Z",
        "2026-11-20T24:00:00Z",
        "2026-11-20T08:60:00Z",
        "2026-11-20T08:00:60Z",
        "2026-02-29T08:00:00Z",
        "2026-11-31T08:00:00Z",
        "2026-11-20T08:00:00.Z",
        "2026-11-20T08:00:00Zjunk",
        "2026-11-20T08:00:00+0100",
        "2026-11-20T08:00:00 Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:30:00+01:00",
        "20261120T080000Z",
        "2026-11-20X08:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        if (telemetry_rfc3339_parse(bad[i], &ms) != -1)
            fail_msg("\"%s\" parsed", bad[i]);
        assert_int_equal(ms, 42);
    }
    int64_t ms;
    assert_int_equal(telemetry_rfc3339_parse(NULL, &ms), -1);
}

static void formatting_gives_utc_with_milliseconds(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(telemetry_rfc3339_format(1795161600123, buf, sizeof buf),
                        "2026-11-20T08:00:00.123Z");
    assert_string_equal(telemetry_rfc3339_format(0, buf, sizeof buf), "1970-01-01T00:00:00.000Z");
    int64_t back;
    assert_int_equal(
        telemetry_rfc3339_parse(telemetry_rfc3339_format(1709251199999, buf, sizeof buf), &back),
        0);
    assert_int_equal(back, 1709251199999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timestamps_parse_to_unix_ms),
        cmocka_unit_test(malformed_timestamps_are_rejected),
        cmocka_unit_test(formatting_gives_utc_with_milliseconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
