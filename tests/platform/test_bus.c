/* bus against an in-process librdkafka mock cluster: delivery reports,
 * consumption in order per partition, redelivery after a failure, stored
 * offsets resumed by the next member of the group, asynchronous handlers,
 * and clean closes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "citerne/bus.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "stack.h"

#define MAXMSG 256
#define CONSUMER_CONF "session.timeout.ms=6000;heartbeat.interval.ms=1000"

static rd_kafka_t *mock_host;
static const char *bootstrap;

static void create_topic(const char *topic, int partitions)
{
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mock_host);
    assert_int_equal(rd_kafka_mock_topic_create(mc, topic, partitions, 1), 0);
}

static int setup_cluster(void **state)
{
    (void)state;
    ct_log_level_t level = CT_LOG_WARN;
    const char *l = getenv("CITERNE_LOG_LEVEL");
    if (l)
        ct_log_level_parse(l, &level);
    ct_log_init("test_bus", level);
    /* The mock re-forms a group a member left after session.timeout - 1 s;
     * heartbeats every second keep a loaded machine from missing one. */
    setenv("CITERNE_KAFKA_CONSUMER_CONF", CONSUMER_CONF, 0);
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof errstr)) {
        fprintf(stderr, "mock conf: %s\n", errstr);
        return -1;
    }
    mock_host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!mock_host) {
        fprintf(stderr, "mock host: %s\n", errstr);
        return -1;
    }
    bootstrap = rd_kafka_mock_cluster_bootstraps(rd_kafka_handle_mock_cluster(mock_host));
    return 0;
}

static int teardown_cluster(void **state)
{
    (void)state;
    rd_kafka_destroy(mock_host);
    ct_metrics_reset();
    return 0;
}

/* ---- producing ---- */

typedef struct {
    int reports;
    int ok;
    int failed;
    int want;
    bool all;
} reports_t;

static void on_report(int status, void *opaque)
{
    reports_t *r = opaque;
    r->reports++;
    if (status == 0)
        r->ok++;
    else
        r->failed++;
    if (r->reports == r->want)
        r->all = true;
}

static void on_closed(void *udata)
{
    *(bool *)udata = true;
}

/* Produces n messages "<i>" keyed "k<i % nkeys>" and waits for their reports. */
static void produce_n(uv_loop_t *loop, const char *topic, int n, int nkeys)
{
    ct_bus_producer_t *p;
    assert_int_equal(ct_bus_producer_new(loop, bootstrap, "test-producer", &p), 0);
    reports_t r = {.want = n};
    for (int i = 0; i < n; i++) {
        char key[16], val[16];
        snprintf(key, sizeof key, "k%d", i % nkeys);
        snprintf(val, sizeof val, "%d", i);
        assert_int_equal(
            ct_bus_produce(p, topic, key, strlen(key), val, strlen(val), on_report, &r), 0);
    }
    assert_true(ct_test_run_until(loop, &r.all, 20000));
    assert_int_equal(r.ok, n);
    bool closed = false;
    ct_bus_producer_close(p, 5000, on_closed, &closed);
    assert_true(ct_test_run_until(loop, &closed, 10000));
}

static void producer_reports_every_message_delivered(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    create_topic("t_produce", 4);
    ct_bus_producer_t *p;
    assert_int_equal(ct_bus_producer_new(&loop, bootstrap, "test-producer", &p), 0);
    double before = ct_metric_value(ct_metrics_counter("citerne_bus_produced_total", ""));
    const int n = 5000;
    reports_t r = {.want = n};
    for (int i = 0; i < n; i++) {
        char val[16];
        snprintf(val, sizeof val, "%d", i);
        assert_int_equal(
            ct_bus_produce(p, "t_produce", val, strlen(val), val, strlen(val), on_report, &r), 0);
    }
    assert_int_equal(ct_bus_producer_outq(p), n);
    assert_true(ct_test_run_until(&loop, &r.all, 20000));
    assert_int_equal(r.reports, n);
    assert_int_equal(r.ok, n);
    assert_int_equal(r.failed, 0);
    assert_int_equal(ct_bus_producer_outq(p), 0);
    assert_true(ct_bus_producer_ready(p));
    assert_int_equal(
        (int)(ct_metric_value(ct_metrics_counter("citerne_bus_produced_total", "")) - before), n);

    bool closed = false;
    ct_bus_producer_close(p, 5000, on_closed, &closed);
    assert_true(ct_test_run_until(&loop, &closed, 10000));
    ct_test_loop_close(&loop);
}

static void produce_after_close_fails_now(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ct_bus_producer_t *p;
    assert_int_equal(ct_bus_producer_new(&loop, bootstrap, "test-producer", &p), 0);
    bool closed = false;
    ct_bus_producer_close(p, 1000, on_closed, &closed);
    reports_t r = {.want = 1};
    assert_int_equal(ct_bus_produce(p, "t_produce", "k", 1, "v", 1, on_report, &r), CT_ECLOSED);
    assert_true(ct_test_run_until(&loop, &closed, 10000));
    assert_int_equal(r.reports, 0);
    ct_test_loop_close(&loop);
}

static void close_reports_unsent_messages_as_failed(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ct_bus_producer_t *p;
    /* Nothing listens on port 1: nothing is ever acknowledged. */
    assert_int_equal(ct_bus_producer_new(&loop, "127.0.0.1:1", "test-nowhere", &p), 0);
    double before = ct_metric_value(ct_metrics_counter("citerne_bus_produce_failed_total", ""));
    reports_t r = {.want = 3};
    for (int i = 0; i < 3; i++)
        assert_int_equal(ct_bus_produce(p, "t_nowhere", "k", 1, "v", 1, on_report, &r), 0);
    bool never = false;
    ct_test_run_until(&loop, &never, 300);
    assert_false(ct_bus_producer_ready(p));
    assert_int_equal(r.reports, 0);
    bool closed = false;
    ct_bus_producer_close(p, 200, on_closed, &closed);
    assert_true(ct_test_run_until(&loop, &closed, 10000));
    assert_int_equal(r.reports, 3);
    assert_int_equal(r.failed, 3);
    assert_int_equal(
        (int)(ct_metric_value(ct_metrics_counter("citerne_bus_produce_failed_total", "")) - before),
        3);
    ct_test_loop_close(&loop);
}

/* Runs the loop until ct_bus_producer_ready(p) == want or ms elapsed. */
static bool wait_producer_ready(uv_loop_t *loop, ct_bus_producer_t *p, bool want, unsigned ms)
{
    uv_update_time(loop);
    uint64_t deadline = uv_now(loop) + ms;
    while (ct_bus_producer_ready(p) != want && uv_now(loop) < deadline) {
        bool never = false;
        ct_test_run_until(loop, &never, 50);
    }
    return ct_bus_producer_ready(p) == want;
}

static void producer_readiness_follows_the_broker(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    /* Statistics (the broker states) every 200 ms instead of 5 s. */
    setenv("CITERNE_KAFKA_PRODUCER_CONF", "statistics.interval.ms=200", 1);
    ct_bus_producer_t *p;
    assert_int_equal(ct_bus_producer_new(&loop, bootstrap, "test-ready", &p), 0);
    unsetenv("CITERNE_KAFKA_PRODUCER_CONF");
    assert_true(wait_producer_ready(&loop, p, true, 5000));
    bool never = false;
    ct_test_run_until(&loop, &never, 600); /* a few statistics later */
    assert_true(ct_bus_producer_ready(p));

    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mock_host);
    assert_int_equal(rd_kafka_mock_broker_set_down(mc, 1), 0);
    assert_true(wait_producer_ready(&loop, p, false, 10000));
    assert_int_equal(rd_kafka_mock_broker_set_up(mc, 1), 0);
    assert_true(wait_producer_ready(&loop, p, true, 15000));

    bool closed = false;
    ct_bus_producer_close(p, 1000, on_closed, &closed);
    assert_true(ct_test_run_until(&loop, &closed, 10000));
    ct_test_loop_close(&loop);
}

/* ---- consuming ---- */

typedef struct {
    int32_t partition;
    int64_t offset;
    int value;
    char key[16];
    unsigned iteration; /* I/O polls before it was handed */
} seen_t;

/* Counts I/O polls: uv_check runs right after each. */
static unsigned iterations;

static void on_check(uv_check_t *h)
{
    (void)h;
    iterations++;
}

typedef struct consumer_ctx {
    uv_loop_t *loop;
    ct_bus_consumer_t *c;
    seen_t seen[MAXMSG];
    int nseen;   /* handed to the callback, redeliveries included */
    int handled; /* done(0) */
    int want;    /* handled count that sets `enough` */
    bool enough;
    int fail_first; /* fail the first delivery of message value == fail_value */
    int fail_value;
    uint64_t failed_at;
    uint64_t redelivered_at;
    bool async; /* complete from a timer */
    int outstanding;
    int max_outstanding;
    uv_timer_t timer;
    ct_bus_msg_t *pending;
    int pending_status;
    int stop_at; /* on the stop_at-th message: close, then fail it */
    bool fail_all;
    bool closed;
} consumer_ctx_t;

static void complete_pending(uv_timer_t *t)
{
    consumer_ctx_t *x = t->data;
    ct_bus_msg_t *m = x->pending;
    x->pending = NULL;
    x->outstanding--;
    if (x->pending_status == 0) {
        x->handled++;
        if (x->handled == x->want)
            x->enough = true;
    }
    ct_bus_msg_done(m, x->pending_status);
}

static void on_message(ct_bus_msg_t *m, void *udata)
{
    consumer_ctx_t *x = udata;
    assert_true(x->nseen < MAXMSG);
    seen_t *s = &x->seen[x->nseen++];
    size_t len, klen;
    const char *v = ct_bus_msg_payload(m, &len);
    const char *k = ct_bus_msg_key(m, &klen);
    char buf[32];
    snprintf(buf, sizeof buf, "%.*s", (int)len, v);
    s->value = atoi(buf);
    snprintf(s->key, sizeof s->key, "%.*s", (int)klen, k);
    s->iteration = iterations;
    s->partition = ct_bus_msg_partition(m);
    s->offset = ct_bus_msg_offset(m);
    x->outstanding++;
    if (x->outstanding > x->max_outstanding)
        x->max_outstanding = x->outstanding;

    int status = x->fail_all ? CT_EUNAVAIL : 0;
    if (x->fail_first && s->value == x->fail_value) {
        if (x->fail_first == 1) {
            x->failed_at = uv_now(x->loop);
            status = CT_EUNAVAIL;
        } else if (x->fail_first == 2) {
            x->redelivered_at = uv_now(x->loop);
        }
        x->fail_first++;
    }
    if (x->stop_at && x->nseen == x->stop_at) {
        /* Close while this message is in hand; it then fails. */
        ct_bus_consumer_close(x->c, on_closed, &x->closed);
        status = CT_EUNAVAIL;
        x->pending = m;
        x->pending_status = status;
        uv_timer_start(&x->timer, complete_pending, 50, 0);
        return;
    }
    if (x->async) {
        x->pending = m;
        x->pending_status = status;
        uv_timer_start(&x->timer, complete_pending, 5, 0);
        return;
    }
    x->outstanding--;
    if (status == 0) {
        x->handled++;
        if (x->handled == x->want)
            x->enough = true;
    }
    ct_bus_msg_done(m, status);
}

static void ctx_init(consumer_ctx_t *x, uv_loop_t *loop, int want)
{
    memset(x, 0, sizeof *x);
    x->loop = loop;
    x->want = want;
    uv_timer_init(loop, &x->timer);
    x->timer.data = x;
}

static void ctx_start(consumer_ctx_t *x, const char *group, const char *topic)
{
    const char *topics[] = {topic};
    assert_int_equal(
        ct_bus_consumer_new(x->loop, bootstrap, group, topics, 1, on_message, x, &x->c), 0);
}

static void ctx_close(consumer_ctx_t *x)
{
    if (!x->closed && x->c) {
        ct_bus_consumer_close(x->c, on_closed, &x->closed);
        assert_true(ct_test_run_until(x->loop, &x->closed, 20000));
    }
    uv_close((uv_handle_t *)&x->timer, NULL);
}

/* Each message seen once, offsets increasing per partition, values
 * increasing per key (the key decides the partition). */
static void assert_in_order(const consumer_ctx_t *x, int n)
{
    int64_t last_offset[64];
    int last_value[64];
    for (int i = 0; i < 64; i++) {
        last_offset[i] = -1;
        last_value[i] = -1;
    }
    bool got[MAXMSG] = {0};
    for (int i = 0; i < x->nseen; i++) {
        const seen_t *s = &x->seen[i];
        assert_in_range(s->partition, 0, 63);
        assert_true(s->offset > last_offset[s->partition]);
        last_offset[s->partition] = s->offset;
        int key = atoi(s->key + 1);
        assert_in_range(key, 0, 63);
        assert_true(s->value > last_value[key]);
        last_value[key] = s->value;
        assert_in_range(s->value, 0, n - 1);
        assert_false(got[s->value]);
        got[s->value] = true;
    }
    assert_int_equal(x->nseen, n);
}

static void consumer_receives_messages_in_order_per_partition(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    create_topic("t_order", 4);
    const int n = 120;
    produce_n(&loop, "t_order", n, 8);

    consumer_ctx_t x;
    ctx_init(&x, &loop, n);
    uv_check_t check;
    uv_check_init(&loop, &check);
    uv_check_start(&check, on_check);
    ctx_start(&x, "g_order", "t_order");
    assert_true(ct_test_run_until(&loop, &x.enough, 30000));
    assert_true(ct_bus_consumer_ready(x.c));
    assert_in_order(&x, n);
    assert_int_equal(x.max_outstanding, 1);
    /* The handler completes at once, yet the loop polls I/O (and would
     * serve HTTP) between two messages. A message handed from the idle
     * phase and the next from the poll phase (the queue's fd became
     * readable) share an iteration number, with the poll between them; a
     * third in the same iteration would mean a backlog drained without I/O. */
    for (int i = 2; i < x.nseen; i++)
        assert_true(x.seen[i].iteration > x.seen[i - 2].iteration);
    uv_close((uv_handle_t *)&check, NULL);
    assert_int_equal((int)ct_metric_value(
                         ct_metrics_counter("citerne_bus_consumed_total{topic=\"t_order\"}", "")),
                     n);
    ctx_close(&x);
    ct_test_loop_close(&loop);
}

static void failed_message_is_handed_again_after_backoff(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    create_topic("t_retry", 1);
    const int n = 5;
    produce_n(&loop, "t_retry", n, 1);

    consumer_ctx_t x;
    ctx_init(&x, &loop, n);
    x.fail_first = 1;
    x.fail_value = 2;
    ctx_start(&x, "g_retry", "t_retry");
    assert_true(ct_test_run_until(&loop, &x.enough, 30000));
    /* 0, 1, 2 (fails), 2 again, 3, 4: the same message, nothing skipped. */
    assert_int_equal(x.nseen, n + 1);
    int expect[] = {0, 1, 2, 2, 3, 4};
    for (int i = 0; i < n + 1; i++)
        assert_int_equal(x.seen[i].value, expect[i]);
    assert_int_equal(x.seen[2].offset, x.seen[3].offset);
    assert_true(x.redelivered_at - x.failed_at >= 90); /* the 100 ms backoff, timer slack */
    ctx_close(&x);
    ct_test_loop_close(&loop);
}

static void next_member_resumes_after_the_stored_offsets(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    create_topic("t_resume", 1);
    const int n = 10;
    produce_n(&loop, "t_resume", n, 1);

    /* The first member handles 0..3, is closed while it holds 4, which
     * then fails: 4 was never stored. */
    consumer_ctx_t a;
    ctx_init(&a, &loop, n);
    a.stop_at = 5;
    ctx_start(&a, "g_resume", "t_resume");
    assert_true(ct_test_run_until(&loop, &a.closed, 30000));
    assert_int_equal(a.nseen, 5);
    assert_int_equal(a.handled, 4);
    assert_int_equal(a.seen[4].value, 4);
    ctx_close(&a);

    consumer_ctx_t b;
    ctx_init(&b, &loop, n - 4);
    ctx_start(&b, "g_resume", "t_resume");
    assert_true(ct_test_run_until(&loop, &b.enough, 30000));
    assert_int_equal(b.nseen, n - 4);
    for (int i = 0; i < b.nseen; i++) {
        assert_int_equal(b.seen[i].value, 4 + i);
        assert_int_equal(b.seen[i].offset, 4 + i);
    }
    ctx_close(&b);
    ct_test_loop_close(&loop);
}

static void handler_may_complete_later_from_a_timer(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    create_topic("t_async", 2);
    const int n = 30;
    produce_n(&loop, "t_async", n, 4);

    consumer_ctx_t x;
    ctx_init(&x, &loop, n);
    x.async = true;
    ctx_start(&x, "g_async", "t_async");
    assert_true(ct_test_run_until(&loop, &x.enough, 30000));
    assert_in_order(&x, n);
    assert_int_equal(x.max_outstanding, 1); /* one message at a time */
    ctx_close(&x);
    ct_test_loop_close(&loop);
}

/* Runs the loop for ms, whatever happens. */
static void run_for(uv_loop_t *loop, unsigned ms)
{
    bool never = false;
    ct_test_run_until(loop, &never, ms);
}

/* Runs the loop until a.handled + b.handled >= n or ms elapsed. */
static void run_until_handled(uv_loop_t *loop, consumer_ctx_t *a, consumer_ctx_t *b, int n,
                              unsigned ms)
{
    uv_update_time(loop);
    uint64_t deadline = uv_now(loop) + ms;
    while (a->handled + b->handled < n && uv_now(loop) < deadline)
        run_for(loop, 50);
}

/* cooperative-sticky: a second member takes partitions over from the first
 * one (incremental revoke and assign), which keeps the rest. */
static void cooperative_member_takes_over_partitions(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    create_topic("t_coop", 4);
    setenv("CITERNE_KAFKA_CONSUMER_CONF",
           CONSUMER_CONF ";partition.assignment.strategy=cooperative-sticky", 1);
    consumer_ctx_t a, b;
    ctx_init(&a, &loop, 0);
    ctx_init(&b, &loop, 0);
    ctx_start(&a, "g_coop", "t_coop");
    const int n = 40;
    produce_n(&loop, "t_coop", n / 2, 8);
    run_until_handled(&loop, &a, &b, n / 2, 30000);
    assert_int_equal(a.handled, n / 2);

    ctx_start(&b, "g_coop", "t_coop");
    setenv("CITERNE_KAFKA_CONSUMER_CONF", CONSUMER_CONF, 1);
    uv_update_time(&loop);
    uint64_t deadline = uv_now(&loop) + 40000;
    while (!ct_bus_consumer_ready(b.c) && uv_now(&loop) < deadline)
        run_for(&loop, 50);
    assert_true(ct_bus_consumer_ready(b.c));
    assert_true(ct_bus_consumer_ready(a.c));

    /* Values n/2 .. n-1 go to both members; none is lost. */
    ct_bus_producer_t *p;
    assert_int_equal(ct_bus_producer_new(&loop, bootstrap, "test-producer", &p), 0);
    reports_t r = {.want = n / 2};
    for (int i = n / 2; i < n; i++) {
        char key[16], val[16];
        snprintf(key, sizeof key, "k%d", i % 8);
        snprintf(val, sizeof val, "%d", i);
        assert_int_equal(
            ct_bus_produce(p, "t_coop", key, strlen(key), val, strlen(val), on_report, &r), 0);
    }
    assert_true(ct_test_run_until(&loop, &r.all, 20000));
    bool pclosed = false;
    ct_bus_producer_close(p, 1000, on_closed, &pclosed);
    assert_true(ct_test_run_until(&loop, &pclosed, 5000));
    run_until_handled(&loop, &a, &b, n, 30000);
    bool got[64] = {0};
    for (int i = 0; i < a.nseen; i++)
        got[a.seen[i].value] = true;
    for (int i = 0; i < b.nseen; i++)
        got[b.seen[i].value] = true;
    for (int v = 0; v < n; v++)
        assert_true(got[v]);
    assert_true(b.handled > 0);
    int a_second = 0;
    for (int i = 0; i < a.nseen; i++)
        a_second += a.seen[i].value >= n / 2;
    assert_true(a_second > 0); /* a kept some partitions */
    ctx_close(&b);
    ctx_close(&a);
    ct_test_loop_close(&loop);
}

static void two_members_of_a_group_share_the_partitions(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    create_topic("t_share", 4);

    consumer_ctx_t a, b;
    ctx_init(&a, &loop, 0);
    ctx_init(&b, &loop, 0);
    ctx_start(&a, "g_share", "t_share");
    ctx_start(&b, "g_share", "t_share");
    /* Both joined one generation: both have an assignment. */
    uv_update_time(&loop);
    uint64_t deadline = uv_now(&loop) + 30000;
    while (!(ct_bus_consumer_ready(a.c) && ct_bus_consumer_ready(b.c)) &&
           uv_now(&loop) < deadline) {
        bool never = false;
        ct_test_run_until(&loop, &never, 100);
    }
    assert_true(ct_bus_consumer_ready(a.c));
    assert_true(ct_bus_consumer_ready(b.c));

    const int n = 40;
    produce_n(&loop, "t_share", n, 8);
    deadline = uv_now(&loop) + 30000;
    while (a.handled + b.handled < n && uv_now(&loop) < deadline) {
        bool never = false;
        ct_test_run_until(&loop, &never, 100);
    }
    assert_int_equal(a.handled + b.handled, n);
    assert_true(a.handled > 0);
    assert_true(b.handled > 0);
    /* No partition went to both. */
    for (int i = 0; i < a.nseen; i++)
        for (int j = 0; j < b.nseen; j++)
            assert_int_not_equal(a.seen[i].partition, b.seen[j].partition);
    ctx_close(&a);
    ctx_close(&b);
    ct_test_loop_close(&loop);
}

static void idle_member_stays_in_the_group(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    create_topic("t_idle_member", 1);
    /* librdkafka drops a member that does not poll for max.poll.interval.ms
     * (it must be >= session.timeout.ms); nothing arrives here for longer. */
    setenv("CITERNE_KAFKA_CONSUMER_CONF",
           "session.timeout.ms=6000;max.poll.interval.ms=6000;heartbeat.interval.ms=1000", 1);
    consumer_ctx_t x;
    ctx_init(&x, &loop, 1);
    ctx_start(&x, "g_idle_member", "t_idle_member");
    setenv("CITERNE_KAFKA_CONSUMER_CONF", CONSUMER_CONF, 1);
    uv_update_time(&loop);
    uint64_t deadline = uv_now(&loop) + 20000;
    while (!ct_bus_consumer_ready(x.c) && uv_now(&loop) < deadline)
        run_for(&loop, 100);
    assert_true(ct_bus_consumer_ready(x.c));
    run_for(&loop, 8000);
    assert_true(ct_bus_consumer_ready(x.c));
    produce_n(&loop, "t_idle_member", 1, 1);
    assert_true(ct_test_run_until(&loop, &x.enough, 2000));
    ctx_close(&x);
    ct_test_loop_close(&loop);
}

static void close_drops_a_message_waiting_for_its_backoff(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    create_topic("t_backoff_close", 1);
    produce_n(&loop, "t_backoff_close", 2, 1);
    consumer_ctx_t x;
    ctx_init(&x, &loop, 1);
    x.fail_all = true;
    ctx_start(&x, "g_backoff_close", "t_backoff_close");
    uv_update_time(&loop);
    uint64_t deadline = uv_now(&loop) + 20000;
    while (x.nseen < 2 && uv_now(&loop) < deadline)
        run_for(&loop, 20);
    /* Failed twice: now waiting 200 ms before the third try. */
    assert_int_equal(x.nseen, 2);
    assert_int_equal(x.seen[0].offset, x.seen[1].offset);
    bool closed = false, closed_again = false;
    ct_bus_consumer_close(x.c, on_closed, &closed);
    /* A second close (a shutdown that timed out) waits for the same end. */
    ct_bus_consumer_close(x.c, on_closed, &closed_again);
    x.closed = true;
    assert_true(ct_test_run_until(&loop, &closed, 10000));
    assert_true(closed_again);
    assert_int_equal(x.nseen, 2); /* not handed again while closing */
    ctx_close(&x);
    ct_test_loop_close(&loop);
}

static void consumer_of_an_unreachable_cluster_closes(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    consumer_ctx_t x;
    ctx_init(&x, &loop, 1);
    const char *topics[] = {"t_nowhere"};
    assert_int_equal(
        ct_bus_consumer_new(&loop, "127.0.0.1:1", "g_nowhere", topics, 1, on_message, &x, &x.c), 0);
    run_for(&loop, 300);
    assert_false(ct_bus_consumer_ready(x.c));
    ctx_close(&x);
    assert_int_equal(x.nseen, 0);
    ct_test_loop_close(&loop);
}

static void close_with_nothing_pending_leaves_the_loop_clean(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    create_topic("t_idle", 1);
    ct_bus_producer_t *p;
    assert_int_equal(ct_bus_producer_new(&loop, bootstrap, "test-idle", &p), 0);
    consumer_ctx_t x;
    ctx_init(&x, &loop, 1);
    ctx_start(&x, "g_idle", "t_idle");
    bool pclosed = false;
    ct_bus_producer_close(p, 1000, on_closed, &pclosed);
    ctx_close(&x); /* before any assignment */
    assert_true(ct_test_run_until(&loop, &pclosed, 5000));
    assert_int_equal(x.nseen, 0);
    ct_test_loop_close(&loop);
}

static void bad_settings_fail_now(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ct_bus_producer_t *p = (ct_bus_producer_t *)&loop;
    assert_int_equal(ct_bus_producer_new(&loop, "", "x", &p), CT_ECONFIG);
    assert_null(p);
    setenv("CITERNE_KAFKA_PRODUCER_CONF", "linger.ms", 1);
    assert_int_equal(ct_bus_producer_new(&loop, bootstrap, "x", &p), CT_ECONFIG);
    setenv("CITERNE_KAFKA_PRODUCER_CONF", "no.such.property=1", 1);
    assert_int_equal(ct_bus_producer_new(&loop, bootstrap, "x", &p), CT_ECONFIG);
    unsetenv("CITERNE_KAFKA_PRODUCER_CONF");
    ct_bus_consumer_t *c = (ct_bus_consumer_t *)&loop;
    const char *topics[] = {"t"};
    assert_int_equal(ct_bus_consumer_new(&loop, bootstrap, "g", topics, 0, on_message, NULL, &c),
                     CT_ECONFIG);
    assert_null(c);
    ct_test_loop_close(&loop);
}

static void topic_of_a_service(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(ct_bus_topic("orders", buf, sizeof buf), "citerne.orders.v1");
    char small[8];
    assert_null(ct_bus_topic("orders", small, sizeof small));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(topic_of_a_service),
        cmocka_unit_test(bad_settings_fail_now),
        cmocka_unit_test(producer_reports_every_message_delivered),
        cmocka_unit_test(produce_after_close_fails_now),
        cmocka_unit_test(close_reports_unsent_messages_as_failed),
        cmocka_unit_test(producer_readiness_follows_the_broker),
        cmocka_unit_test(consumer_receives_messages_in_order_per_partition),
        cmocka_unit_test(failed_message_is_handed_again_after_backoff),
        cmocka_unit_test(next_member_resumes_after_the_stored_offsets),
        cmocka_unit_test(handler_may_complete_later_from_a_timer),
        cmocka_unit_test(two_members_of_a_group_share_the_partitions),
        cmocka_unit_test(cooperative_member_takes_over_partitions),
        cmocka_unit_test(idle_member_stays_in_the_group),
        cmocka_unit_test(close_drops_a_message_waiting_for_its_backoff),
        cmocka_unit_test(consumer_of_an_unreachable_cluster_closes),
        cmocka_unit_test(close_with_nothing_pending_leaves_the_loop_clean),
    };
    return cmocka_run_group_tests(tests, setup_cluster, teardown_cluster);
}
