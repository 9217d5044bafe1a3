/* JSON-lines logger. Each line is built in memory and written with a single
 * write(2), so lines from several threads never interleave (stdout is a pipe
 * or a terminal; writes up to PIPE_BUF are atomic, longer ones still go out in
 * one call in practice). The logger keeps no mutable state after init. */
#include "citerne/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

ct_log_level_t ct__log_level = CT_LOG_INFO;
static char log_service[64] = "citerne";

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

/* Tests and tools that never call ct_log_init still honour CITERNE_LOG_LEVEL. */
__attribute__((constructor)) static void log_level_from_env(void)
{
    const char *s = getenv("CITERNE_LOG_LEVEL");
    ct_log_level_t l;
    if (s && ct_log_level_parse(s, &l) == 0)
        ct__log_level = l;
}

void ct_log_init(const char *service, ct_log_level_t level)
{
    if (service && *service)
        snprintf(log_service, sizeof log_service, "%s", service);
    if (level >= CT_LOG_DEBUG && level <= CT_LOG_OFF)
        ct__log_level = level;
}

int ct_log_level_parse(const char *s, ct_log_level_t *out)
{
    if (!s || !out)
        return -1;
    for (int i = 0; i <= CT_LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (ct_log_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = CT_LOG_WARN;
        return 0;
    }
    return -1;
}

/* A JSON string of s; bytes that are not valid UTF-8 become '?' rather than
 * losing the whole line (jansson rejects invalid UTF-8). */
static json_t *text(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = strdup(s);
    if (!copy)
        return json_string("(log message lost: out of memory)");
    for (unsigned char *p = (unsigned char *)copy; *p; p++)
        if (*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static void write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere to report a failing stdout */
        }
        buf += n;
        len -= (size_t)n;
    }
}

void ct__log_write(ct_log_level_t level, const char *cid, const char *fmt, ...)
{
    if (level < ct__log_level || level >= CT_LOG_OFF || level < CT_LOG_DEBUG)
        return;
    int saved_errno = errno;

    char stack[512];
    char *msg = stack;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    if (n < 0) {
        snprintf(stack, sizeof stack, "(unformattable log message)");
    } else if ((size_t)n >= sizeof stack) {
        msg = malloc((size_t)n + 1);
        if (msg) {
            va_start(ap, fmt);
            vsnprintf(msg, (size_t)n + 1, fmt, ap);
            va_end(ap);
        } else {
            msg = stack; /* truncated, better than nothing */
        }
    }

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t wl = strftime(when, sizeof when - 6, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wl, sizeof when - wl, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);

    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "time", json_string(when));
        json_object_set_new(o, "level", json_string(level_names[level]));
        json_object_set_new(o, "service", text(log_service));
        json_object_set_new(o, "msg", text(msg));
        if (cid && *cid)
            json_object_set_new(o, "cid", text(cid));
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (line) {
            size_t len = strlen(line);
            char *out = realloc(line, len + 2);
            if (out) {
                out[len] = '\n';
                out[len + 1] = '\0';
                write_all(out, len + 1);
                free(out);
            } else {
                free(line);
            }
        }
    }
    if (msg != stack)
        free(msg);
    errno = saved_errno;
}
