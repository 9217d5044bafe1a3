/* Process-wide metrics, rendered as Prometheus text. Metric names carry
 * their labels inline: ct_metrics_counter("citerne_http_requests_total{code=\"2xx\"}", ...).
 * Registration returns the same metric for the same name. Loop thread only. */
#ifndef CITERNE_METRICS_H
#define CITERNE_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ct_metric ct_metric_t;

ct_metric_t *ct_metrics_counter(const char *name, const char *help);
ct_metric_t *ct_metrics_gauge(const char *name, const char *help);
/* Histogram with fixed buckets in seconds (1 ms .. 10 s). */
ct_metric_t *ct_metrics_histogram(const char *name, const char *help);

void ct_metric_inc(ct_metric_t *m);
void ct_metric_add(ct_metric_t *m, double v);
void ct_metric_set(ct_metric_t *m, double v);
void ct_metric_observe(ct_metric_t *m, double seconds);
double ct_metric_value(const ct_metric_t *m);

/* Prometheus text exposition; malloc'ed, caller frees. */
char *ct_metrics_render(size_t *len);
/* Frees every metric (at exit, for leak checkers). */
void ct_metrics_reset(void);

#endif
