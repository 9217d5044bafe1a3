/* Process-wide metrics, rendered as Prometheus text. Metric names carry
 * their labels inline: ct_metrics_counter("citerne_http_requests_total{code=\"2xx\"}", ...).
 * Registration returns the same metric for the same name. Loop thread only. */
#ifndef CITERNE_METRICS_H
#define CITERNE_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ct_metric ct_metric_t;

/* Get or create the series `name` ("base" or "base{k=\"v\",...}"); help is
 * copied once per series and printed once per base name. Returns NULL (and
 * logs) for an invalid name or a base name already used with another type;
 * every ct_metric_* function accepts NULL and does nothing. The registry
 * owns the metric until ct_metrics_reset(). */
ct_metric_t *ct_metrics_counter(const char *name, const char *help);
ct_metric_t *ct_metrics_gauge(const char *name, const char *help);
/* Histogram with fixed buckets in seconds (1 ms .. 10 s). */
ct_metric_t *ct_metrics_histogram(const char *name, const char *help);

/* Counter or gauge += 1 / += v (a counter ignores negative v). */
void ct_metric_inc(ct_metric_t *m);
void ct_metric_add(ct_metric_t *m, double v);
/* Gauge only. */
void ct_metric_set(ct_metric_t *m, double v);
/* Histogram only: buckets 0.001 .. 10 s, then +Inf; _sum and _count. */
void ct_metric_observe(ct_metric_t *m, double seconds);
/* Counter or gauge value; a histogram's number of observations. */
double ct_metric_value(const ct_metric_t *m);

/* Prometheus text exposition; malloc'ed, caller frees. */
char *ct_metrics_render(size_t *len);
/* Frees every metric (at exit, for leak checkers). */
void ct_metrics_reset(void);

#endif
