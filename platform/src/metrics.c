/* Metrics registry. Series are kept in registration order; rendering groups
 * the series of one base name (the name before '{') under a single
 * # HELP / # TYPE pair, as the exposition format requires. */
#include "citerne/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/log.h"

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } kind_t;

static const double bucket_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                       0.25,  0.5,    1,     2.5,  5,     10};
#define NBUCKETS (sizeof bucket_bounds / sizeof bucket_bounds[0])

struct ct_metric {
    ct_metric_t *next;
    kind_t kind;
    char *name;   /* full: base{labels} */
    char *base;   /* before '{' */
    char *labels; /* inside the braces, "" when none */
    char *help;
    double value; /* counter, gauge; histogram: sum */
    uint64_t count;
    uint64_t buckets[NBUCKETS]; /* non-cumulative; summed at render */
};

static ct_metric_t *head, *tail;

static bool name_char(char ch, bool first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':' ||
           (!first && ch >= '0' && ch <= '9');
}

/* Splits "base{labels}"; false when the name is not a valid metric name. */
static bool split(const char *name, size_t *baselen, const char **labels, size_t *labelslen)
{
    size_t i = 0;
    while (name[i] && name[i] != '{') {
        if (!name_char(name[i], i == 0))
            return false;
        i++;
    }
    if (i == 0)
        return false;
    *baselen = i;
    if (!name[i]) {
        *labels = "";
        *labelslen = 0;
        return true;
    }
    size_t n = strlen(name);
    if (name[n - 1] != '}' || n - i < 2)
        return false;
    *labels = name + i + 1;
    *labelslen = n - i - 2;
    return true;
}

static ct_metric_t *registry_get(const char *name, const char *help, kind_t kind)
{
    if (!name) {
        ct_log_error("metrics: NULL metric name");
        return NULL;
    }
    size_t baselen, labelslen;
    const char *labels;
    if (!split(name, &baselen, &labels, &labelslen)) {
        ct_log_error("metrics: invalid metric name \"%s\"", name);
        return NULL;
    }
    for (ct_metric_t *m = head; m; m = m->next) {
        if (strlen(m->base) == baselen && strncmp(m->base, name, baselen) == 0 && m->kind != kind) {
            ct_log_error("metrics: \"%s\" registered with two different types", name);
            return NULL;
        }
        if (strcmp(m->name, name) == 0)
            return m;
    }
    ct_metric_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->kind = kind;
    m->name = strdup(name);
    m->base = strndup(name, baselen);
    m->labels = strndup(labels, labelslen);
    m->help = strdup(help ? help : "");
    if (!m->name || !m->base || !m->labels || !m->help) {
        free(m->name);
        free(m->base);
        free(m->labels);
        free(m->help);
        free(m);
        return NULL;
    }
    if (tail)
        tail->next = m;
    else
        head = m;
    tail = m;
    return m;
}

ct_metric_t *ct_metrics_counter(const char *name, const char *help)
{
    return registry_get(name, help, KIND_COUNTER);
}

ct_metric_t *ct_metrics_gauge(const char *name, const char *help)
{
    return registry_get(name, help, KIND_GAUGE);
}

ct_metric_t *ct_metrics_histogram(const char *name, const char *help)
{
    return registry_get(name, help, KIND_HISTOGRAM);
}

void ct_metric_inc(ct_metric_t *m)
{
    ct_metric_add(m, 1);
}

void ct_metric_add(ct_metric_t *m, double v)
{
    if (!m || m->kind == KIND_HISTOGRAM)
        return;
    if (m->kind == KIND_COUNTER && !(v >= 0))
        return; /* a counter never goes down */
    m->value += v;
}

void ct_metric_set(ct_metric_t *m, double v)
{
    if (!m || m->kind != KIND_GAUGE)
        return;
    m->value = v;
}

void ct_metric_observe(ct_metric_t *m, double seconds)
{
    if (!m || m->kind != KIND_HISTOGRAM || isnan(seconds))
        return;
    for (size_t i = 0; i < NBUCKETS; i++) {
        if (seconds <= bucket_bounds[i]) {
            m->buckets[i]++;
            break;
        }
    }
    m->count++;
    m->value += seconds;
}

double ct_metric_value(const ct_metric_t *m)
{
    if (!m)
        return 0;
    return m->kind == KIND_HISTOGRAM ? (double)m->count : m->value;
}

/* ---- rendering ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} sbuf_t;

static void sb_printf(sbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf_t *sb, const char *fmt, ...)
{
    if (sb->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            sb->oom = true;
            return;
        }
        if ((size_t)n < sb->cap - sb->len) {
            sb->len += (size_t)n;
            return;
        }
        size_t cap = sb->cap * 2 + (size_t)n;
        char *b = realloc(sb->buf, cap);
        if (!b) {
            sb->oom = true;
            return;
        }
        sb->buf = b;
        sb->cap = cap;
    }
}

static void fmt_value(char *out, size_t n, double v)
{
    if (isnan(v)) {
        snprintf(out, n, "NaN");
    } else if (isinf(v)) {
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(out, n, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, n, "%.17g", v);
    }
}

static void render_help(sbuf_t *sb, const ct_metric_t *m)
{
    static const char *const kinds[] = {"counter", "gauge", "histogram"};
    sb_printf(sb, "# HELP %s ", m->base);
    for (const char *p = m->help; *p; p++) {
        if (*p == '\\')
            sb_printf(sb, "\\\\");
        else if (*p == '\n')
            sb_printf(sb, "\\n");
        else
            sb_printf(sb, "%c", *p);
    }
    sb_printf(sb, "\n# TYPE %s %s\n", m->base, kinds[m->kind]);
}

static void render_series(sbuf_t *sb, const ct_metric_t *m)
{
    char v[40];
    if (m->kind != KIND_HISTOGRAM) {
        fmt_value(v, sizeof v, m->value);
        sb_printf(sb, "%s %s\n", m->name, v);
        return;
    }
    const char *sep = m->labels[0] ? "," : "";
    uint64_t cum = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        cum += m->buckets[i];
        char le[40];
        fmt_value(le, sizeof le, bucket_bounds[i]);
        sb_printf(sb, "%s_bucket{%s%sle=\"%s\"} %llu\n", m->base, m->labels, sep, le,
                  (unsigned long long)cum);
    }
    sb_printf(sb, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", m->base, m->labels, sep,
              (unsigned long long)m->count);
    fmt_value(v, sizeof v, m->value);
    if (m->labels[0]) {
        sb_printf(sb, "%s_sum{%s} %s\n", m->base, m->labels, v);
        sb_printf(sb, "%s_count{%s} %llu\n", m->base, m->labels, (unsigned long long)m->count);
    } else {
        sb_printf(sb, "%s_sum %s\n", m->base, v);
        sb_printf(sb, "%s_count %llu\n", m->base, (unsigned long long)m->count);
    }
}

char *ct_metrics_render(size_t *len)
{
    sbuf_t sb = {malloc(4096), 0, 4096, false};
    if (!sb.buf)
        return NULL;
    sb.buf[0] = '\0';
    for (ct_metric_t *m = head; m; m = m->next) {
        /* a base name already rendered with an earlier series */
        bool seen = false;
        for (ct_metric_t *p = head; p != m; p = p->next)
            if (strcmp(p->base, m->base) == 0) {
                seen = true;
                break;
            }
        if (seen)
            continue;
        render_help(&sb, m);
        for (ct_metric_t *s = m; s; s = s->next)
            if (strcmp(s->base, m->base) == 0)
                render_series(&sb, s);
    }
    if (sb.oom) {
        free(sb.buf);
        return NULL;
    }
    if (len)
        *len = sb.len;
    return sb.buf;
}

void ct_metrics_reset(void)
{
    ct_metric_t *m = head;
    while (m) {
        ct_metric_t *next = m->next;
        free(m->name);
        free(m->base);
        free(m->labels);
        free(m->help);
        free(m);
        m = next;
    }
    head = tail = NULL;
}
