/* RFC 3339 timestamps <-> Unix milliseconds: pure functions, no time zone
 * database, no global state. */
#ifndef TELEMETRY_RFC3339_H
#define TELEMETRY_RFC3339_H

#include <stddef.h>
#include <stdint.h>

/* Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (a 't' or ' ' for
 * the 'T', 'z' for 'Z' accepted as RFC 3339 allows) into Unix ms (fraction
 * truncated to ms). Years 1970..9999, a date that exists, seconds 0..59.
 * Returns 0, or -1 for anything else. */
int telemetry_rfc3339_parse(const char *s, int64_t *out_ms);

/* Formats Unix ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (at least 25 bytes).
 * Returns out. */
char *telemetry_rfc3339_format(int64_t ms, char *out, size_t outlen);

#endif
