/* The delivery calendar: dates as day numbers, Easter, French public
 * holidays, working days and the Europe/Paris date of an instant. Pure
 * functions: no time zone database, no global state, safe on any thread.
 *
 * A day number is the count of days since 1970-01-01 (day 0, a Thursday),
 * proleptic Gregorian. */
#ifndef ORDERS_CALENDAR_H
#define ORDERS_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Day number of year-month-day (month 1..12, day 1..31; not range-checked). */
int32_t orders_day_from_ymd(int year, int month, int day);
/* Year, month, day of a day number. */
void orders_ymd_from_day(int32_t day, int *year, int *month, int *mday);
/* ISO weekday: 1 Monday .. 7 Sunday. */
int orders_weekday(int32_t day);

/* Parses "YYYY-MM-DD" (a date that exists, years 1970..9999) into *day.
 * Returns 0 or -1. */
int orders_date_parse(const char *s, int32_t *day);
/* Writes "YYYY-MM-DD" into out (at least 11 bytes); returns out. */
char *orders_date_format(int32_t day, char *out, size_t outlen);

/* Easter Sunday of year (Gregorian, anonymous "Meeus/Jones/Butcher"
 * algorithm), as a day number. */
int32_t orders_easter(int year);
/* Name of the French public holiday on day ("Jour de l'An", "Lundi de
 * Paques", ...), or NULL when it is none. The eleven national holidays:
 * 1 Jan, Easter Monday, 1 May, 8 May, Ascension (Easter + 39), Whit Monday
 * (Easter + 50), 14 Jul, 15 Aug, 1 Nov, 11 Nov, 25 Dec. */
const char *orders_holiday_name(int32_t day);
/* Monday to Friday and not a public holiday. */
bool orders_is_working_day(int32_t day);
/* The n-th working day after day (n >= 1: strictly after; n == 0: day
 * itself if it is a working day, else the next working day). */
int32_t orders_add_working_days(int32_t day, int n);

/* Offset of Europe/Paris from UTC at instant unix_ms, in minutes: +120 from
 * the last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC
 * (EU summer time), +60 otherwise. */
int orders_paris_offset_min(int64_t unix_ms);
/* The Europe/Paris calendar date (day number) of instant unix_ms. */
int32_t orders_paris_day(int64_t unix_ms);

#endif
