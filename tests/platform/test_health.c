/* Probes through a real HTTP server: requests are written raw into one end of
 * a socketpair whose other end the server adopts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../platform/src/http_internal.h"
#include "citerne/error.h"
#include "citerne/health.h"
#include "citerne/metrics.h"
#include "stack.h"

typedef struct {
    uv_loop_t loop;
    ct_http_server_t *srv;
    ct_health_t *health;
    bool db_ok, redis_ok;
} fixture_t;

typedef struct {
    int status;
    char headers[2048];
    char body[8192];
} response_t;

static bool check_flag(void *udata)
{
    return *(bool *)udata;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    uv_loop_init(&f->loop);
    assert_int_equal(ct_http_server_new(&f->loop, NULL, &f->srv), 0);
    assert_int_equal(ct_health_new(f->srv, &f->health), 0);
    f->db_ok = f->redis_ok = true;
    assert_int_equal(ct_health_add_check(f->health, "postgres", check_flag, &f->db_ok), 0);
    assert_int_equal(ct_health_add_check(f->health, "redis", check_flag, &f->redis_ok), 0);
    *state = f;
    return 0;
}

static void on_closed(void *udata)
{
    (*(int *)udata)++;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    int closed = 0;
    ct_http_server_close(f->srv, on_closed, &closed);
    ct_test_loop_close(&f->loop);
    assert_int_equal(closed, 1);
    ct_health_free(f->health);
    ct_metrics_reset();
    free(f);
    return 0;
}

/* GET path; parses status line, headers and a Content-Length body. */
static void get(fixture_t *f, const char *path, response_t *r)
{
    memset(r, 0, sizeof *r);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(ct__http_adopt(f->srv, sv[0]), 0);
    char req[256];
    int n =
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    assert_int_equal(write(sv[1], req, (size_t)n), n);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    static char buf[16384];
    size_t len = 0;
    bool complete = false;
    for (int i = 0; i < 3000 && !complete; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        ssize_t k = read(sv[1], buf + len, sizeof buf - 1 - len);
        if (k > 0)
            len += (size_t)k;
        else if (k < 0 && errno == EAGAIN)
            uv_sleep(1);
        else
            break;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            char *cl = strcasestr(buf, "\r\nContent-Length:");
            size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
            complete = len - (size_t)(end + 4 - buf) >= want;
        }
    }
    close(sv[1]);
    assert_true(complete);
    char *end = strstr(buf, "\r\n\r\n");
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &r->status), 1);
    snprintf(r->headers, sizeof r->headers, "%.*s", (int)(end - buf), buf);
    snprintf(r->body, sizeof r->body, "%s", end + 4);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

static const char *content_type(const response_t *r)
{
    static char ct[128];
    const char *h = strcasestr(r->headers, "\r\nContent-Type:");
    assert_non_null(h);
    h += 15;
    while (*h == ' ')
        h++;
    snprintf(ct, sizeof ct, "%.*s", (int)strcspn(h, "\r"), h);
    return ct;
}

static void healthz_says_ok(void **state)
{
    fixture_t *f = *state;
    response_t r;
    get(f, "/healthz", &r);
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
}

static void readyz_is_ready_when_every_check_passes(void **state)
{
    fixture_t *f = *state;
    response_t r;
    get(f, "/readyz", &r);
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ready");
    json_t *checks = json_object_get(j, "checks");
    assert_string_equal(json_string_value(json_object_get(checks, "postgres")), "ok");
    assert_string_equal(json_string_value(json_object_get(checks, "redis")), "ok");
    json_decref(j);
}

static void readyz_lists_failing_checks_with_503(void **state)
{
    fixture_t *f = *state;
    f->redis_ok = false;
    response_t r;
    get(f, "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(content_type(&r), "application/problem+json");
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 503);
    json_t *failing = json_object_get(j, "failing");
    assert_int_equal(json_array_size(failing), 1);
    assert_string_equal(json_string_value(json_array_get(failing, 0)), "redis");
    json_t *checks = json_object_get(j, "checks");
    assert_string_equal(json_string_value(json_object_get(checks, "postgres")), "ok");
    assert_string_equal(json_string_value(json_object_get(checks, "redis")), "fail");
    assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "redis"));
    json_decref(j);
    f->redis_ok = true;
    get(f, "/readyz", &r);
    assert_int_equal(r.status, 200);
}

static void readyz_says_draining_after_shutdown_starts(void **state)
{
    fixture_t *f = *state;
    ct_health_set_draining(f->health);
    response_t r;
    get(f, "/readyz", &r);
    assert_int_equal(r.status, 503);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "detail")), "draining");
    json_decref(j);
    get(f, "/healthz", &r); /* still alive while draining */
    assert_int_equal(r.status, 200);
}

static void metrics_serves_prometheus_text(void **state)
{
    fixture_t *f = *state;
    ct_metric_inc(ct_metrics_counter("ct_test_probe_total{kind=\"a\"}", "Probe test."));
    response_t r;
    get(f, "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(content_type(&r), "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r.body, "# TYPE ct_test_probe_total counter\n"));
    assert_non_null(strstr(r.body, "ct_test_probe_total{kind=\"a\"} 1\n"));
}

static void checks_are_bounded_and_validated(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(ct_health_add_check(f->health, NULL, check_flag, &f->db_ok), CT_EINPUT);
    assert_int_equal(ct_health_add_check(f->health, "x", NULL, NULL), CT_EINPUT);
    for (int i = 2; i < 8; i++)
        assert_int_equal(ct_health_add_check(f->health, "more", check_flag, &f->db_ok), 0);
    assert_int_equal(ct_health_add_check(f->health, "ninth", check_flag, &f->db_ok), CT_EINPUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(healthz_says_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(readyz_is_ready_when_every_check_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(readyz_lists_failing_checks_with_503, setup, teardown),
        cmocka_unit_test_setup_teardown(readyz_says_draining_after_shutdown_starts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(metrics_serves_prometheus_text, setup, teardown),
        cmocka_unit_test_setup_teardown(checks_are_bounded_and_validated, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
