/* Typed settings from environment variables. Each getter records a readable
 * error (variable, value, what was expected) instead of failing at once, so a
 * service reports every bad setting in one go through ct_config_check(). */
#ifndef CITERNE_CONFIG_H
#define CITERNE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CT_CONFIG_MAX_ERRORS 16

typedef struct {
    int nerrors;
    char errors[CT_CONFIG_MAX_ERRORS][200];
} ct_config_t;

void ct_config_init(ct_config_t *cfg);
/* The variable's value, or def when unset or empty. def == NULL makes the
 * variable required: an error is recorded and NULL returned when unset.
 * The returned string is borrowed from the environment. */
const char *ct_config_str(ct_config_t *cfg, const char *name, const char *def);
/* Integer in [min, max]; def when unset; records an error for junk or range. */
long ct_config_int(ct_config_t *cfg, const char *name, long def, long min, long max);
/* "1/true/yes/on" or "0/false/no/off" (any case). */
bool ct_config_bool(ct_config_t *cfg, const char *name, bool def);
/* host:port with a port in 1..65535; copied into out (size outlen). */
const char *ct_config_addr(ct_config_t *cfg, const char *name, const char *def, char *out,
                           size_t outlen);
/* Records an error of the caller's own (for cross-field checks). */
void ct_config_fail(ct_config_t *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs every recorded error; returns 0 when there is none, CT_ECONFIG otherwise. */
int ct_config_check(const ct_config_t *cfg);

#endif
