/* Settings from the environment. Errors are collected, not fatal, so one run
 * shows every bad setting. Values are quoted in errors only for typed
 * settings (numbers, booleans, addresses), never for free strings, which may
 * be secrets (URLs with passwords). */
#include "citerne/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "citerne/error.h"
#include "citerne/log.h"

void ct_config_init(ct_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
}

__attribute__((format(printf, 2, 0))) static void vfail(ct_config_t *cfg, const char *fmt,
                                                        va_list ap)
{
    if (cfg->nerrors >= CT_CONFIG_MAX_ERRORS) {
        snprintf(cfg->errors[CT_CONFIG_MAX_ERRORS - 1], sizeof cfg->errors[0],
                 "more than %d configuration errors; fix the ones above first",
                 CT_CONFIG_MAX_ERRORS - 1);
        return;
    }
    vsnprintf(cfg->errors[cfg->nerrors], sizeof cfg->errors[0], fmt, ap);
    cfg->nerrors++;
}

void ct_config_fail(ct_config_t *cfg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(cfg, fmt, ap);
    va_end(ap);
}

/* The set, non-empty value of name, or NULL. */
static const char *lookup(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

const char *ct_config_str(ct_config_t *cfg, const char *name, const char *def)
{
    const char *v = lookup(name);
    if (v)
        return v;
    if (!def)
        ct_config_fail(cfg, "%s is required and not set", name);
    return def;
}

long ct_config_int(ct_config_t *cfg, const char *name, long def, long min, long max)
{
    const char *v = lookup(name);
    if (!v)
        return def;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    /* strtol skips leading blanks; a setting with blanks is junk anyway */
    if (end == v || *end != '\0' || v[0] == ' ' || v[0] == '\t' || errno == ERANGE || n < min ||
        n > max) {
        ct_config_fail(cfg, "%s=\"%.40s\": expected an integer between %ld and %ld", name, v, min,
                       max);
        return def;
    }
    return n;
}

bool ct_config_bool(ct_config_t *cfg, const char *name, bool def)
{
    const char *v = lookup(name);
    if (!v)
        return def;
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return true;
        if (strcasecmp(v, no[i]) == 0)
            return false;
    }
    ct_config_fail(cfg, "%s=\"%.40s\": expected a boolean (1/true/yes/on or 0/false/no/off)", name,
                   v);
    return def;
}

/* host:port, host being a name, an IPv4 address or a bracketed IPv6 one. */
static bool addr_ok(const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v)
        return false;
    if (v[0] == '[') {
        if (colon[-1] != ']' || colon - v < 3)
            return false;
    } else if (memchr(v, ':', (size_t)(colon - v))) {
        return false; /* unbracketed IPv6 is ambiguous */
    }
    for (const char *p = v; p < colon; p++)
        if (*p == ' ' || *p == '/' || *p == '\t')
            return false;
    const char *port = colon + 1;
    if (!*port || strlen(port) > 5)
        return false;
    long n = 0;
    for (const char *p = port; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        n = n * 10 + (*p - '0');
    }
    return n >= 1 && n <= 65535;
}

const char *ct_config_addr(ct_config_t *cfg, const char *name, const char *def, char *out,
                           size_t outlen)
{
    if (outlen > 0)
        out[0] = '\0';
    const char *v = lookup(name);
    if (!v) {
        if (!def) {
            ct_config_fail(cfg, "%s is required and not set (expected host:port)", name);
            return NULL;
        }
        v = def;
    }
    if (!addr_ok(v)) {
        ct_config_fail(cfg, "%s=\"%.60s\": expected host:port with a port between 1 and 65535",
                       name, v);
        return NULL;
    }
    if (strlen(v) >= outlen) {
        ct_config_fail(cfg, "%s=\"%.60s\": address longer than %zu characters", name, v,
                       outlen ? outlen - 1 : 0);
        return NULL;
    }
    memcpy(out, v, strlen(v) + 1);
    return out;
}

int ct_config_check(const ct_config_t *cfg)
{
    int n = cfg->nerrors < CT_CONFIG_MAX_ERRORS ? cfg->nerrors : CT_CONFIG_MAX_ERRORS;
    for (int i = 0; i < n; i++)
        ct_log_error("configuration: %s", cfg->errors[i]);
    return n == 0 ? 0 : CT_ECONFIG;
}
