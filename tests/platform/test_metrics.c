#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/metrics.h"

/* The rendered text, parsed back: samples by full series name, and how many
 * times each base name got a # HELP and a # TYPE line. */
#define MAXS 128
typedef struct {
    int n;
    char name[MAXS][160];
    double value[MAXS];
    int nmeta;
    char meta[MAXS][300]; /* "HELP base" / "TYPE base kind" */
} parsed_t;

static void parse(const char *text, parsed_t *p)
{
    memset(p, 0, sizeof *p);
    char *copy = strdup(text);
    assert_non_null(copy);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            char kind[8], base[128], rest[128] = "";
            assert_true(sscanf(line, "# %7s %127s %127[^\n]", kind, base, rest) >= 2);
            assert_true(strcmp(kind, "HELP") == 0 || strcmp(kind, "TYPE") == 0);
            if (strcmp(kind, "TYPE") == 0)
                snprintf(p->meta[p->nmeta++], sizeof p->meta[0], "TYPE %s %s", base, rest);
            else
                snprintf(p->meta[p->nmeta++], sizeof p->meta[0], "HELP %s", base);
            continue;
        }
        char *sp = strrchr(line, ' ');
        assert_non_null(sp);
        *sp = '\0';
        char *end;
        p->value[p->n] = strtod(sp + 1, &end);
        assert_int_equal(*end, '\0');
        snprintf(p->name[p->n++], 160, "%s", line);
    }
    free(copy);
}

static double sample(const parsed_t *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->name[i], name) == 0)
            return p->value[i];
    fail_msg("no sample %s", name);
    return -1;
}

static int count_meta(const parsed_t *p, const char *line)
{
    int k = 0;
    for (int i = 0; i < p->nmeta; i++)
        k += strcmp(p->meta[i], line) == 0;
    return k;
}

static int reset(void **state)
{
    (void)state;
    ct_metrics_reset();
    return 0;
}

static void labelled_series_share_one_help_and_type(void **state)
{
    (void)state;
    ct_metric_t *ok = ct_metrics_counter("ct_req_total{code=\"2xx\"}", "Requests.");
    ct_metric_t *bad = ct_metrics_counter("ct_req_total{code=\"5xx\"}", "Requests.");
    ct_metric_t *g = ct_metrics_gauge("ct_inflight", "In flight.");
    assert_non_null(ok);
    assert_non_null(bad);
    assert_ptr_equal(ct_metrics_counter("ct_req_total{code=\"2xx\"}", "Requests."), ok);
    ct_metric_inc(ok);
    ct_metric_inc(ok);
    ct_metric_add(bad, 3);
    ct_metric_set(g, 7.5);
    ct_metric_add(g, -1);
    size_t len = 0;
    char *text = ct_metrics_render(&len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    parsed_t p;
    parse(text, &p);
    assert_int_equal(count_meta(&p, "HELP ct_req_total"), 1);
    assert_int_equal(count_meta(&p, "TYPE ct_req_total counter"), 1);
    assert_int_equal(count_meta(&p, "TYPE ct_inflight gauge"), 1);
    assert_int_equal(p.nmeta, 4);
    assert_true(sample(&p, "ct_req_total{code=\"2xx\"}") == 2);
    assert_true(sample(&p, "ct_req_total{code=\"5xx\"}") == 3);
    assert_true(sample(&p, "ct_inflight") == 6.5);
    /* the series of a base name follow its TYPE line */
    char *type = strstr(text, "# TYPE ct_req_total counter\n");
    assert_non_null(type);
    assert_true(strstr(text, "ct_req_total{code=\"5xx\"} 3") > type);
    assert_true(strstr(text, "# TYPE ct_inflight") > strstr(text, "ct_req_total{code=\"5xx\"}"));
    free(text);
}

static void histogram_has_cumulative_buckets_sum_and_count(void **state)
{
    (void)state;
    ct_metric_t *h = ct_metrics_histogram("ct_latency_seconds{route=\"/x\"}", "Latency.");
    assert_non_null(h);
    ct_metric_observe(h, 0.0005); /* first bucket */
    ct_metric_observe(h, 0.02);
    ct_metric_observe(h, 3);
    ct_metric_observe(h, 60); /* only +Inf */
    assert_true(ct_metric_value(h) == 4);
    char *text = ct_metrics_render(NULL);
    assert_non_null(text);
    parsed_t p;
    parse(text, &p);
    assert_int_equal(count_meta(&p, "TYPE ct_latency_seconds histogram"), 1);
    assert_true(sample(&p, "ct_latency_seconds_bucket{route=\"/x\",le=\"0.001\"}") == 1);
    assert_true(sample(&p, "ct_latency_seconds_bucket{route=\"/x\",le=\"0.01\"}") == 1);
    assert_true(sample(&p, "ct_latency_seconds_bucket{route=\"/x\",le=\"0.025\"}") == 2);
    assert_true(sample(&p, "ct_latency_seconds_bucket{route=\"/x\",le=\"5\"}") == 3);
    assert_true(sample(&p, "ct_latency_seconds_bucket{route=\"/x\",le=\"10\"}") == 3);
    assert_true(sample(&p, "ct_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"}") == 4);
    assert_true(sample(&p, "ct_latency_seconds_count{route=\"/x\"}") == 4);
    double sum = sample(&p, "ct_latency_seconds_sum{route=\"/x\"}");
    assert_true(sum > 63.0204 && sum < 63.0206);
    /* buckets never decrease */
    double last = -1;
    int nb = 0;
    for (int i = 0; i < p.n; i++)
        if (strstr(p.name[i], "_bucket{")) {
            assert_true(p.value[i] >= last);
            last = p.value[i];
            nb++;
        }
    assert_int_equal(nb, 14); /* 13 bounds + Inf */
    free(text);
}

static void unlabelled_histogram_has_plain_sum_and_count(void **state)
{
    (void)state;
    ct_metric_t *h = ct_metrics_histogram("ct_relay_seconds", "Relay.");
    ct_metric_observe(h, 0.1);
    char *text = ct_metrics_render(NULL);
    parsed_t p;
    parse(text, &p);
    assert_true(sample(&p, "ct_relay_seconds_bucket{le=\"0.1\"}") == 1);
    assert_true(sample(&p, "ct_relay_seconds_count") == 1);
    assert_true(sample(&p, "ct_relay_seconds_sum") == 0.1);
    free(text);
}

static void bad_names_and_type_clashes_give_null_and_are_harmless(void **state)
{
    (void)state;
    assert_null(ct_metrics_counter("9starts_with_digit", "x"));
    assert_null(ct_metrics_counter("has space", "x"));
    assert_null(ct_metrics_counter("open{label=\"x\"", "x"));
    assert_null(ct_metrics_counter(NULL, "x"));
    assert_non_null(ct_metrics_counter("ct_clash{a=\"1\"}", "x"));
    assert_null(ct_metrics_gauge("ct_clash{a=\"2\"}", "x"));
    ct_metric_inc(NULL); /* no-ops */
    ct_metric_observe(NULL, 1);
    assert_true(ct_metric_value(NULL) == 0);
}

static void help_text_is_escaped(void **state)
{
    (void)state;
    ct_metrics_counter("ct_esc_total", "line one\nback\\slash");
    char *text = ct_metrics_render(NULL);
    assert_non_null(strstr(text, "# HELP ct_esc_total line one\\nback\\\\slash\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(labelled_series_share_one_help_and_type, reset),
        cmocka_unit_test_teardown(histogram_has_cumulative_buckets_sum_and_count, reset),
        cmocka_unit_test_teardown(unlabelled_histogram_has_plain_sum_and_count, reset),
        cmocka_unit_test_teardown(bad_names_and_type_clashes_give_null_and_are_harmless, reset),
        cmocka_unit_test_teardown(help_text_is_escaped, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
