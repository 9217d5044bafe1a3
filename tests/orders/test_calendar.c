/* The delivery calendar: Easter, French public holidays, working days, the
 * Europe/Paris date of an instant. Table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "calendar.h"
#include "delivery.h"

static int32_t day_of(const char *s)
{
    int32_t d = 0;
    if (orders_date_parse(s, &d) != 0)
        fail_msg("bad date in table: %s", s);
    return d;
}

static void assert_day(int32_t got, const char *want, const char *what)
{
    char buf[16];
    orders_date_format(got, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("%s: got %s, want %s", what, buf, want);
}

static void day_numbers_round_trip_through_dates(void **state)
{
    (void)state;
    assert_int_equal(orders_day_from_ymd(1970, 1, 1), 0);
    assert_int_equal(orders_weekday(0), 4); /* Thursday */
    assert_int_equal(orders_weekday(day_of("2026-11-22")), 7);
    assert_int_equal(orders_weekday(day_of("2024-02-29")), 4);
    for (int32_t d = day_of("2023-12-25"); d < day_of("2031-01-10"); d++) {
        int y, m, md;
        orders_ymd_from_day(d, &y, &m, &md);
        assert_int_equal(orders_day_from_ymd(y, m, md), d);
        assert_int_equal(orders_weekday(d + 7), orders_weekday(d));
        assert_int_equal(orders_weekday(d + 1) % 7, (orders_weekday(d) + 1) % 7);
    }
}

static void date_parse_rejects_what_is_not_a_calendar_date(void **state)
{
    (void)state;
    /* clang-format off */
    static const char *const bad[] = {
        "",           "2026-02-29", "2026-13-01", "2026-00-10",  "2026-04-31", "2026-1-01",
        "2026-01-1",  "2026/01/01", "2026-01-01x", " 2026-01-01", "1969-12-31", "abcd-ef-gh",
        "2026-01-01T00:00:00Z",
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t d = -12345;
        if (orders_date_parse(bad[i], &d) != -1)
            fail_msg("\"%s\" parsed as a date", bad[i]);
        assert_int_equal(d, -12345);
    }
    int32_t d;
    assert_int_equal(orders_date_parse("2024-02-29", &d), 0);
    assert_day(d, "2024-02-29", "leap day");
    assert_int_equal(orders_date_parse(NULL, &d), -1);
}

static void easter_falls_on_the_known_dates(void **state)
{
    (void)state;
    static const char *const known[] = {
        "2000-04-23", "2008-03-23", "2011-04-24", "2019-04-21", "2024-03-31", "2025-04-20",
        "2026-04-05", "2027-03-28", "2028-04-16", "2029-04-01", "2030-04-21", "2038-04-25",
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        int year = (known[i][0] - '0') * 1000 + (known[i][1] - '0') * 100 +
                   (known[i][2] - '0') * 10 + (known[i][3] - '0');
        assert_day(orders_easter(year), known[i], "easter");
        assert_int_equal(orders_weekday(orders_easter(year)), 7);
    }
}

static const struct {
    const char *date;
    const char *name;
} holidays[] = {
    /* 2025 */
    {"2025-01-01", "Jour de l'An"},
    {"2025-04-21", "Lundi de Paques"},
    {"2025-05-01", "Fete du Travail"},
    {"2025-05-08", "Victoire 1945"},
    {"2025-05-29", "Ascension"},
    {"2025-06-09", "Lundi de Pentecote"},
    {"2025-07-14", "Fete nationale"},
    {"2025-08-15", "Assomption"},
    {"2025-11-01", "Toussaint"},
    {"2025-11-11", "Armistice 1918"},
    {"2025-12-25", "Noel"},
    /* 2026 */
    {"2026-01-01", "Jour de l'An"},
    {"2026-04-06", "Lundi de Paques"},
    {"2026-05-01", "Fete du Travail"},
    {"2026-05-08", "Victoire 1945"},
    {"2026-05-14", "Ascension"},
    {"2026-05-25", "Lundi de Pentecote"},
    {"2026-07-14", "Fete nationale"},
    {"2026-08-15", "Assomption"},
    {"2026-11-01", "Toussaint"},
    {"2026-11-11", "Armistice 1918"},
    {"2026-12-25", "Noel"},
};

static void every_holiday_of_2025_and_2026_is_named(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof holidays / sizeof holidays[0]; i++) {
        const char *name = orders_holiday_name(day_of(holidays[i].date));
        if (!name || strcmp(name, holidays[i].name) != 0)
            fail_msg("%s: got %s, want %s", holidays[i].date, name ? name : "(none)",
                     holidays[i].name);
        assert_false(orders_is_working_day(day_of(holidays[i].date)));
    }
}

static void there_are_exactly_eleven_holidays_a_year(void **state)
{
    (void)state;
    for (int year = 2024; year <= 2030; year++) {
        int n = 0;
        for (int32_t d = orders_day_from_ymd(year, 1, 1); d < orders_day_from_ymd(year + 1, 1, 1);
             d++)
            n += orders_holiday_name(d) != NULL;
        if (n != 11)
            fail_msg("%d: %d holidays, want 11", year, n);
    }
}

static void ordinary_days_near_holidays_are_not_holidays(void **state)
{
    (void)state;
    static const char *const ordinary[] = {
        "2026-04-03", /* Good Friday: not a national holiday */
        "2026-04-07", "2026-05-02", "2026-05-15", "2026-05-26", "2026-07-13",
        "2026-07-15", "2026-12-24", "2026-12-26", "2026-12-31", "2027-01-02",
        "2025-05-30", "2025-06-10", "2025-12-26",
    };
    for (size_t i = 0; i < sizeof ordinary / sizeof ordinary[0]; i++) {
        const char *name = orders_holiday_name(day_of(ordinary[i]));
        if (name)
            fail_msg("%s named %s", ordinary[i], name);
    }
}

static void working_days_are_weekdays_that_are_not_holidays(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct {
        const char *date;
        bool working;
    } cases[] = {
        {"2026-11-23", true},  /* Monday */
        {"2026-11-27", true},  /* Friday */
        {"2026-11-28", false}, /* Saturday */
        {"2026-11-29", false}, /* Sunday */
        {"2026-11-11", false}, /* Wednesday, Armistice */
        {"2026-05-14", false}, /* Thursday, Ascension */
        {"2026-05-15", true},  /* the bridge Friday is still worked */
        {"2024-12-25", false},                        /* Christmas */
        {"2027-03-29", false},                        /* Easter Monday 2027 */
        {"2028-06-05", false},                        /* Whit Monday 2028 */
        {"2029-05-10", false},                        /* Ascension 2029 */
        {"2030-04-22", false},                        /* Easter Monday 2030 */
        {"2030-04-23", true},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (orders_is_working_day(day_of(cases[i].date)) != cases[i].working)
            fail_msg("%s: working %d, want %d", cases[i].date, !cases[i].working, cases[i].working);
}

static void adding_working_days_skips_weekends_and_holidays(void **state)
{
    (void)state;
    static const struct {
        const char *from;
        int n;
        const char *want;
        const char *why;
    } cases[] = {
        {"2026-11-23", 1, "2026-11-24", "Monday + 1"},
        {"2026-11-20", 1, "2026-11-23", "Friday + 1 skips the weekend"},
        {"2026-11-21", 2, "2026-11-24", "from a Saturday"},
        {"2026-11-22", 0, "2026-11-23", "n = 0 on a Sunday is the next working day"},
        {"2026-11-23", 0, "2026-11-23", "n = 0 on a working day is that day"},
        {"2026-07-10", 1, "2026-07-13", "before 14 July"},
        {"2026-07-10", 2, "2026-07-15", "over 14 July (Tuesday)"},
        {"2025-07-11", 1, "2025-07-15", "14 July 2025 is a Monday"},
        {"2025-08-14", 1, "2025-08-18", "15 August 2025 is a Friday"},
        {"2026-08-14", 1, "2026-08-17", "15 August 2026 is a Saturday"},
        {"2026-12-24", 1, "2026-12-28", "Christmas on a Friday"},
        {"2025-12-24", 2, "2025-12-29", "Christmas on a Thursday"},
        {"2025-12-31", 1, "2026-01-02", "New Year on a Thursday"},
        {"2026-12-31", 1, "2027-01-04", "New Year on a Friday, into the next year"},
        {"2024-12-24", 1, "2024-12-26", "2024"},
        {"2024-12-31", 2, "2025-01-03", "2024 into 2025"},
        {"2026-05-13", 1, "2026-05-15", "over Ascension to the bridge Friday"},
        {"2026-05-07", 1, "2026-05-11", "8 May on a Friday"},
        {"2026-04-30", 2, "2026-05-05", "1 May on a Friday"},
        {"2027-03-26", 1, "2027-03-30", "Easter Monday 2027"},
        {"2028-04-14", 1, "2028-04-18", "Easter Monday 2028"},
        {"2029-05-09", 1, "2029-05-11", "Ascension 2029"},
        {"2030-04-19", 1, "2030-04-23", "Easter Monday 2030"},
        {"2026-11-23", 10, "2026-12-07", "standard speed"},
        {"2026-11-05", 10, "2026-11-20", "standard speed over 11 November"},
        {"2026-12-18", 10, "2027-01-05", "standard speed over Christmas and New Year"},
        {"2026-12-21", 5, "2026-12-29", "express 8 days over Christmas"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t got = orders_add_working_days(day_of(cases[i].from), cases[i].n);
        assert_day(got, cases[i].want, cases[i].why);
        assert_true(orders_is_working_day(got));
    }
}

static void speeds_map_to_working_days(void **state)
{
    (void)state;
    static const struct {
        const char *speed;
        int days;
        const char *from, *want;
    } cases[] = {
        {"standard", 10, "2026-11-23", "2026-12-07"},
        {"express_8d", 5, "2026-11-23", "2026-11-30"},
        {"express_48h", 2, "2026-11-27", "2026-12-01"},
        {"express_24h", 1, "2026-11-27", "2026-11-30"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(orders_speed_working_days(cases[i].speed), cases[i].days);
        assert_day(orders_delivery_day(day_of(cases[i].from), cases[i].speed), cases[i].want,
                   cases[i].speed);
    }
    assert_int_equal(orders_speed_working_days("express_1h"), -1);
    assert_int_equal(orders_speed_working_days(NULL), -1);
    assert_int_equal(orders_delivery_day(day_of("2026-11-23"), "tomorrow"), -1);
}

static void
automatic_delivery_is_two_working_days_after_the_crossing_never_in_the_past(void **state)
{
    (void)state;
    assert_day(orders_automatic_delivery_day(day_of("2026-11-23"), day_of("2026-11-23")),
               "2026-11-25", "Monday crossing");
    assert_day(orders_automatic_delivery_day(day_of("2026-11-20"), day_of("2026-11-20")),
               "2026-11-24", "Friday crossing");
    assert_day(orders_automatic_delivery_day(day_of("2026-11-01"), day_of("2026-11-23")),
               "2026-11-25", "an old crossing is scheduled from today");
    assert_day(orders_automatic_delivery_day(day_of("2026-07-13"), day_of("2026-07-13")),
               "2026-07-16", "over 14 July");
    assert_day(orders_automatic_delivery_day(day_of("2026-11-22"), day_of("2026-11-23")),
               "2026-11-24", "a Sunday crossing handled on Monday keeps its date");
    assert_day(orders_automatic_delivery_day(day_of("2026-11-19"), day_of("2026-11-23")),
               "2026-11-25", "Thursday + 2 is Monday, today: counted from today");
}

static void only_a_first_delivery_waits_for_the_certificate(void **state)
{
    (void)state;
    static const struct {
        bool certificate, delivered_before, wait;
    } cases[] = {
        {false, false, true},
        {true, false, false},
        {false, true, false}, /* not a first delivery */
        {true, true, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (orders_must_wait_certificate(cases[i].certificate, cases[i].delivered_before) !=
            cases[i].wait)
            fail_msg("certificate %d, delivered before %d: want wait %d", cases[i].certificate,
                     cases[i].delivered_before, cases[i].wait);
}

static void a_held_order_is_scheduled_from_the_day_of_the_certificate(void **state)
{
    (void)state;
    assert_day(orders_release_day(true, "standard", day_of("2026-11-23")), "2026-11-25",
               "automatic: 2 working days");
    assert_day(orders_release_day(true, "standard", day_of("2026-11-20")), "2026-11-24",
               "automatic, on a Friday");
    assert_day(orders_release_day(false, "standard", day_of("2026-11-23")), "2026-12-07",
               "on demand, standard: 10 working days");
    assert_day(orders_release_day(false, "express_48h", day_of("2026-11-23")), "2026-11-25",
               "on demand, 48 h");
    assert_day(orders_release_day(false, "express_24h", day_of("2026-07-13")), "2026-07-15",
               "on demand, 24 h over 14 July");
    assert_int_equal(orders_release_day(false, "tomorrow", day_of("2026-11-23")), -1);
}

/* Unix ms of a UTC time (test helper; the table is in UTC). */
static int64_t utc_ms(const char *date, int h, int m, int s)
{
    return ((int64_t)day_of(date) * 86400 + h * 3600 + m * 60 + s) * 1000;
}

static void paris_dates_follow_the_eu_summer_time_rule(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct {
        const char *utc_date;
        int h, m, s;
        int offset;
        const char *paris_date;
    } cases[] = {
        {"2026-11-20", 22, 59, 59, 60, "2026-11-20"},
        {"2026-11-20", 23, 0, 0, 60, "2026-11-21"},
        {"2026-07-14", 21, 59, 59, 120, "2026-07-14"},
        {"2026-07-14", 22, 0, 0, 120, "2026-07-15"},
        {"2026-03-29", 0, 59, 59, 60, "2026-03-29"},
        {"2026-03-29", 1, 0, 0, 120, "2026-03-29"},
        {"2026-10-25", 0, 59, 59, 120, "2026-10-25"},
        {"2026-10-25", 1, 0, 0, 60, "2026-10-25"},
        {"2024-03-31", 1, 0, 0, 120, "2024-03-31"},
        {"2024-10-27", 0, 59, 59, 120, "2024-10-27"},
        {"2025-03-30", 0, 59, 59, 60, "2025-03-30"},
        {"2025-10-26", 1, 0, 0, 60, "2025-10-26"},
        {"2030-03-31", 1, 0, 0, 120, "2030-03-31"},
        {"2029-10-28", 0, 59, 0, 120, "2029-10-28"},
        {"2025-12-31", 23, 0, 0, 60, "2026-01-01"},
        {"2026-06-30", 22, 30, 0, 120, "2026-07-01"},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = utc_ms(cases[i].utc_date, cases[i].h, cases[i].m, cases[i].s);
        if (orders_paris_offset_min(ms) != cases[i].offset)
            fail_msg("%s %02d:%02d:%02dZ: offset %d, want %d", cases[i].utc_date, cases[i].h,
                     cases[i].m, cases[i].s, orders_paris_offset_min(ms), cases[i].offset);
        assert_day(orders_paris_day(ms), cases[i].paris_date, cases[i].utc_date);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(day_numbers_round_trip_through_dates),
        cmocka_unit_test(date_parse_rejects_what_is_not_a_calendar_date),
        cmocka_unit_test(easter_falls_on_the_known_dates),
        cmocka_unit_test(every_holiday_of_2025_and_2026_is_named),
        cmocka_unit_test(there_are_exactly_eleven_holidays_a_year),
        cmocka_unit_test(ordinary_days_near_holidays_are_not_holidays),
        cmocka_unit_test(working_days_are_weekdays_that_are_not_holidays),
        cmocka_unit_test(adding_working_days_skips_weekends_and_holidays),
        cmocka_unit_test(speeds_map_to_working_days),
        cmocka_unit_test(
            automatic_delivery_is_two_working_days_after_the_crossing_never_in_the_past),
        cmocka_unit_test(only_a_first_delivery_waits_for_the_certificate),
        cmocka_unit_test(a_held_order_is_scheduled_from_the_day_of_the_certificate),
        cmocka_unit_test(paris_dates_follow_the_eu_summer_time_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
