#include "calendar.h"

#include <stdio.h>

/* H. Hinnant's days_from_civil / civil_from_days: exact for any Gregorian
 * date, no tables, no time zone. */
int32_t orders_day_from_ymd(int year, int month, int day)
{
    int y = year - (month <= 2);
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

void orders_ymd_from_day(int32_t day, int *year, int *month, int *mday)
{
    int64_t z = (int64_t)day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (*month <= 2));
}

int orders_weekday(int32_t day)
{
    /* day 0 was a Thursday (ISO 4) */
    int64_t w = ((int64_t)day + 3) % 7;
    if (w < 0)
        w += 7;
    return (int)w + 1;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

int orders_date_parse(const char *s, int32_t *day)
{
    if (!s)
        return -1;
    int v[3] = {0, 0, 0};
    static const int width[3] = {4, 2, 2};
    const char *p = s;
    for (int f = 0; f < 3; f++) {
        for (int i = 0; i < width[f]; i++, p++) {
            if (*p < '0' || *p > '9')
                return -1;
            v[f] = v[f] * 10 + (*p - '0');
        }
        if (f < 2 && *p++ != '-')
            return -1;
    }
    if (*p != '\0')
        return -1;
    if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > days_in_month(v[0], v[1]))
        return -1;
    *day = orders_day_from_ymd(v[0], v[1], v[2]);
    return 0;
}

char *orders_date_format(int32_t day, char *out, size_t outlen)
{
    int y, m, d;
    orders_ymd_from_day(day, &y, &m, &d);
    snprintf(out, outlen, "%04d-%02d-%02d", y, m, d);
    return out;
}

int32_t orders_easter(int year)
{
    int a = year % 19;
    int b = year / 100;
    int c = year % 100;
    int d = b / 4;
    int e = b % 4;
    int f = (b + 8) / 25;
    int g = (b - f + 1) / 3;
    int h = (19 * a + b - d - g + 15) % 30;
    int i = c / 4;
    int k = c % 4;
    int l = (32 + 2 * e + 2 * i - h - k) % 7;
    int m = (a + 11 * h + 22 * l) / 451;
    int month = (h + l - 7 * m + 114) / 31;
    int mday = (h + l - 7 * m + 114) % 31 + 1;
    return orders_day_from_ymd(year, month, mday);
}

const char *orders_holiday_name(int32_t day)
{
    int y, m, d;
    orders_ymd_from_day(day, &y, &m, &d);
    static const struct {
        int m, d;
        const char *name;
    } fixed[] = {
        {1, 1, "Jour de l'An"},     {5, 1, "Fete du Travail"}, {5, 8, "Victoire 1945"},
        {7, 14, "Fete nationale"},  {8, 15, "Assomption"},     {11, 1, "Toussaint"},
        {11, 11, "Armistice 1918"}, {12, 25, "Noel"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (fixed[i].m == m && fixed[i].d == d)
            return fixed[i].name;
    int32_t easter = orders_easter(y);
    if (day == easter + 1)
        return "Lundi de Paques";
    if (day == easter + 39)
        return "Ascension";
    if (day == easter + 50)
        return "Lundi de Pentecote";
    return NULL;
}

bool orders_is_working_day(int32_t day)
{
    return orders_weekday(day) <= 5 && orders_holiday_name(day) == NULL;
}

int32_t orders_add_working_days(int32_t day, int n)
{
    if (n <= 0) {
        while (!orders_is_working_day(day))
            day++;
        return day;
    }
    while (n > 0) {
        day++;
        if (orders_is_working_day(day))
            n--;
    }
    return day;
}

/* Unix ms of 01:00 UTC on the last Sunday of month (March or October) of year. */
static int64_t last_sunday_0100_utc(int year, int month)
{
    int32_t last = orders_day_from_ymd(year, month, 31); /* both months have 31 days */
    last -= orders_weekday(last) % 7;                    /* back to Sunday (ISO 7) */
    return ((int64_t)last * 86400 + 3600) * 1000;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int orders_paris_offset_min(int64_t unix_ms)
{
    int y, m, d;
    orders_ymd_from_day((int32_t)floor_div(unix_ms, 86400000), &y, &m, &d);
    if (unix_ms >= last_sunday_0100_utc(y, 3) && unix_ms < last_sunday_0100_utc(y, 10))
        return 120;
    return 60;
}

int32_t orders_paris_day(int64_t unix_ms)
{
    int64_t local = unix_ms + (int64_t)orders_paris_offset_min(unix_ms) * 60000;
    return (int32_t)floor_div(local, 86400000);
}
