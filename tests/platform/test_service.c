/* The service runtime's hooks for a service's own loop handles: on_start
 * once the service runs, on_drain at the start of the drain, whose done the
 * runtime awaits before it closes the relay, the producer and the pool. A
 * whole service runs on the test stack's Postgres and librdkafka's mock
 * cluster and stops on SIGTERM; ct_service_run fails when a handle is left
 * open, so a clean exit status also says the loop closed clean. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "citerne/error.h"
#include "citerne/metrics.h"
#include "citerne/service.h"
#include "fixture.h"
#include "stack.h"

static const ct_migration_t migrations[] = {{"0001_nothing.sql", "SELECT 1;"}};

static struct {
    ct_service_t svc;
    uv_timer_t own;  /* the service's own handle */
    uv_timer_t late; /* the drain takes a while */
    ct_service_drained_cb done;
    int started, drained, done_called, ticks;
    bool listener_closed_at_drain, open_at_drain, open_at_done;
    bool fail_start;
} T;

static bool pool_relay_producer_open(void)
{
    return T.svc.db && T.svc.relay && T.svc.producer;
}

static void on_own_tick(uv_timer_t *t)
{
    (void)t;
    if (T.ticks++ == 0)
        raise(SIGTERM);
}

static int on_start(ct_service_t *svc)
{
    assert_ptr_equal(svc, &T.svc);
    T.started++;
    if (T.fail_start)
        return CT_EINTERNAL; /* opened nothing */
    assert_true(pool_relay_producer_open());
    uv_timer_init(&svc->loop, &T.own);
    uv_timer_start(&T.own, on_own_tick, 20, 20);
    return 0;
}

static void on_late_closed(uv_handle_t *h)
{
    (void)h;
    T.open_at_done = pool_relay_producer_open();
    T.done_called++;
    T.done(&T.svc);
}

static void on_late(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, on_late_closed);
}

static void on_own_closed(uv_handle_t *h)
{
    (void)h;
    /* some more work before done: the runtime must wait for it */
    uv_timer_init(&T.svc.loop, &T.late);
    uv_timer_start(&T.late, on_late, 300, 0);
}

static void on_drain(ct_service_t *svc, ct_service_drained_cb done)
{
    assert_ptr_equal(svc, &T.svc);
    T.drained++;
    T.listener_closed_at_drain = ct_http_port(svc->http) < 0;
    T.open_at_drain = pool_relay_producer_open();
    T.done = done;
    uv_close((uv_handle_t *)&T.own, on_own_closed);
}

/* Runs a service with the hooks; returns its exit status. */
static int run_service(void)
{
    ct_test_require_stack();
    char *url = ct_test_create_db("ct_service");
    const char *brokers = NULL;
    rd_kafka_t *mock = ct_test_mock_new("citerne.servicetest.v1", 1, &brokers);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ct_test_free_port());
    setenv("CITERNE_PG_URL", url, 1);
    setenv("CITERNE_KAFKA_BROKERS", brokers, 1);
    setenv("CITERNE_HTTP_ADDR", addr, 1);
    setenv("CITERNE_LOG_LEVEL", "warn", 1);

    static const ct_service_desc_t desc = {
        .name = "servicetest",
        .default_http_addr = "127.0.0.1:1",
        .migrations = migrations,
        .nmigrations = 1,
        .on_start = on_start,
        .on_drain = on_drain,
    };
    assert_int_equal(ct_service_init(&T.svc, &desc), 0);
    int status = ct_service_run(&T.svc);
    rd_kafka_destroy(mock);
    free(url);
    return status;
}

static void hooks_start_with_the_service_and_the_pool_waits_for_the_drain(void **state)
{
    (void)state;
    int status = run_service();
    assert_int_equal(status, 0);
    assert_int_equal(T.started, 1);
    assert_int_equal(T.drained, 1);
    assert_int_equal(T.done_called, 1);
    assert_true(T.listener_closed_at_drain);
    assert_true(T.open_at_drain);
    assert_true(T.open_at_done);
}

static void a_failing_on_start_stops_the_service_with_status_1_and_no_drain(void **state)
{
    (void)state;
    T.fail_start = true;
    int status = run_service();
    assert_int_equal(status, 1);
    assert_int_equal(T.started, 1);
    assert_int_equal(T.drained, 0);
}

static int reset(void **state)
{
    (void)state;
    memset(&T, 0, sizeof T);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(hooks_start_with_the_service_and_the_pool_waits_for_the_drain,
                               reset),
        cmocka_unit_test_setup(a_failing_on_start_stops_the_service_with_status_1_and_no_drain,
                               reset),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ct_metrics_reset();
    return rc;
}
