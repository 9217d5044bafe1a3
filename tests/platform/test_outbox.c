/* The outbox against the test stack's Postgres and librdkafka's in-process
 * mock cluster: rows appended in transactions reach Kafka in id order, once,
 * and are marked sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "citerne/bus.h"
#include "citerne/db.h"
#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/migrate.h"
#include "citerne/outbox.h"
#include "fixture.h"
#include "stack.h"

#define TOPIC "citerne.outboxtest.v1"
#define MAX_SEEN 256

typedef struct {
    uv_loop_t loop;
    char *url;
    ct_db_t *db;
    rd_kafka_t *mock; /* owns the mock cluster */
    const char *brokers;
    ct_bus_producer_t *producer;
    rd_kafka_t *consumer;
    uv_timer_t poll_timer;
    /* what the consumer saw */
    int nseen;
    char seen[MAX_SEEN][32];
    char seen_key[MAX_SEEN][16];
} fx_t;

static void on_flag(void *udata)
{
    *(bool *)udata = true;
}

/* The consumer is polled from a loop timer, with a zero timeout. */
static void on_poll_timer(uv_timer_t *t)
{
    fx_t *f = t->data;
    rd_kafka_message_t *m;
    while ((m = rd_kafka_consumer_poll(f->consumer, 0))) {
        if (!m->err && f->nseen < MAX_SEEN) {
            snprintf(f->seen[f->nseen], sizeof f->seen[0], "%.*s", (int)m->len,
                     (const char *)m->payload);
            snprintf(f->seen_key[f->nseen], sizeof f->seen_key[0], "%.*s", (int)m->key_len,
                     (const char *)m->key);
            f->nseen++;
        }
        rd_kafka_message_destroy(m);
    }
}

static fx_t *fx_open(void)
{
    ct_test_require_stack();
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    uv_loop_init(&f->loop);
    f->db = ct_test_db_migrated(&f->loop, "ct_outbox", NULL, 0, &f->url);

    /* one partition: the whole topic is one ordered log */
    f->mock = ct_test_mock_new(TOPIC, 1, &f->brokers);

    assert_int_equal(ct_bus_producer_new(&f->loop, f->brokers, "outbox-test", &f->producer), 0);

    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", f->brokers, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", "outbox-test-reader", err, sizeof err);
    f->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(f->consumer);
    rd_kafka_poll_set_consumer(f->consumer);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, TOPIC, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(f->consumer, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);

    uv_timer_init(&f->loop, &f->poll_timer);
    f->poll_timer.data = f;
    uv_timer_start(&f->poll_timer, on_poll_timer, 10, 10);
    return f;
}

static void fx_close(fx_t *f)
{
    bool closed = false;
    ct_bus_producer_close(f->producer, 5000, on_flag, &closed);
    assert_true(ct_test_run_until(&f->loop, &closed, 10000));
    closed = false;
    ct_db_close(f->db, on_flag, &closed);
    assert_true(ct_test_run_until(&f->loop, &closed, 10000));
    uv_close((uv_handle_t *)&f->poll_timer, NULL);
    rd_kafka_consumer_close(f->consumer);
    rd_kafka_destroy(f->consumer);
    rd_kafka_destroy(f->mock);
    ct_test_loop_close(&f->loop);
    free(f->url);
    free(f);
}

/* ---- appending ---- */

typedef struct {
    int first, count; /* events ev-<first> .. */
    int i;
    bool done;
    int status;
    long long last_id;
} append_t;

static void append_next(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    append_t *a = udata;
    if (res && a->i > 0)
        a->last_id = ct_db_get_int(res, 0, "id", -1);
    if (a->i == a->count) {
        ct_db_tx_commit(tx);
        return;
    }
    int n = a->first + a->i++;
    char payload[32], key[16], id[CT_UUID_STRLEN + 1];
    snprintf(payload, sizeof payload, "ev-%d", n);
    snprintf(key, sizeof key, "k%d", n % 3);
    ct_uuid_v7(id);
    ct_outbox_append(tx, TOPIC, key, payload, strlen(payload), id, append_next);
}

static void on_append_done(const ct_db_error_t *err, void *udata)
{
    append_t *a = udata;
    a->done = true;
    a->status = err ? err->status : 0;
}

static void append_events(fx_t *f, int first, int count)
{
    append_t a = {.first = first, .count = count};
    assert_int_equal(ct_db_tx_begin(f->db, append_next, on_append_done, &a), 0);
    assert_true(ct_test_run_until(&f->loop, &a.done, 10000));
    assert_int_equal(a.status, 0);
    assert_true(a.last_id > 0);
}

static void wait_seen(fx_t *f, int n, unsigned timeout_ms)
{
    uint64_t until = uv_now(&f->loop) + timeout_ms;
    while (f->nseen < n && uv_now(&f->loop) < until)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static void close_relay(fx_t *f, ct_outbox_relay_t *r)
{
    bool closed = false;
    ct_outbox_relay_close(r, on_flag, &closed);
    assert_true(ct_test_run_until(&f->loop, &closed, 10000));
}

static void relay_publishes_rows_in_id_order_and_marks_them_sent(void **state)
{
    (void)state;
    fx_t *f = fx_open();
    /* rows written before the relay starts: found by its first sweep */
    for (int t = 0; t < 3; t++)
        append_events(f, t * 10, 10);
    ct_outbox_relay_t *relay;
    assert_int_equal(ct_outbox_relay_new(&f->loop, f->url, f->db, f->producer, &relay), 0);
    wait_seen(f, 30, 20000);
    assert_int_equal(f->nseen, 30);
    /* rows written while it runs: woken by NOTIFY */
    append_events(f, 30, 20);
    wait_seen(f, 50, 20000);
    assert_int_equal(f->nseen, 50);
    for (int i = 0; i < 50; i++) {
        char want[32], key[16];
        snprintf(want, sizeof want, "ev-%d", i);
        snprintf(key, sizeof key, "k%d", i % 3);
        assert_string_equal(f->seen[i], want);
        assert_string_equal(f->seen_key[i], key);
    }
    /* marked sent once the reports are in */
    for (int i = 0; i < 200 && ct_test_sql_count(f->url, "SELECT count(*) FROM ct_outbox "
                                                         "WHERE sent_at IS NULL") > 0;
         i++) {
        bool tick = false;
        ct_test_run_until(&f->loop, &tick, 20);
    }
    assert_int_equal(
        ct_test_sql_count(f->url, "SELECT count(*) FROM ct_outbox WHERE sent_at IS NULL"), 0);
    assert_int_equal(ct_outbox_relay_backlog(relay), 0);
    close_relay(f, relay);
    /* nothing published twice */
    bool tick = false;
    ct_test_run_until(&f->loop, &tick, 300);
    assert_int_equal(f->nseen, 50);
    fx_close(f);
}

static void two_relays_on_one_database_publish_each_row_once(void **state)
{
    (void)state;
    fx_t *f = fx_open();
    ct_outbox_relay_t *a, *b;
    /* a publishes first, so it holds the lock when b starts */
    assert_int_equal(ct_outbox_relay_new(&f->loop, f->url, f->db, f->producer, &a), 0);
    append_events(f, 0, 10);
    wait_seen(f, 10, 20000);
    assert_int_equal(f->nseen, 10);
    assert_int_equal(ct_outbox_relay_new(&f->loop, f->url, f->db, f->producer, &b), 0);
    for (int t = 1; t < 4; t++)
        append_events(f, t * 10, 10);
    wait_seen(f, 40, 20000);
    assert_int_equal(f->nseen, 40);
    /* the standby takes over when the active one stops */
    close_relay(f, a);
    append_events(f, 40, 10);
    wait_seen(f, 50, 20000);
    assert_int_equal(f->nseen, 50);
    bool tick = false;
    ct_test_run_until(&f->loop, &tick, 500);
    assert_int_equal(f->nseen, 50);
    for (int i = 0; i < 50; i++) {
        char want[32];
        snprintf(want, sizeof want, "ev-%d", i);
        assert_string_equal(f->seen[i], want);
    }
    close_relay(f, b);
    fx_close(f);
}

static void failed_delivery_is_retried_without_reordering(void **state)
{
    (void)state;
    fx_t *f = fx_open();
    ct_outbox_relay_t *relay;
    assert_int_equal(ct_outbox_relay_new(&f->loop, f->url, f->db, f->producer, &relay), 0);
    append_events(f, 0, 5);
    wait_seen(f, 5, 20000);
    assert_int_equal(f->nseen, 5);
    /* the broker refuses the next produce request (API key 0: Produce) */
    rd_kafka_mock_push_request_errors(rd_kafka_handle_mock_cluster(f->mock), 0, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    append_events(f, 5, 10);
    wait_seen(f, 15, 30000);
    assert_int_equal(f->nseen, 15);
    bool tick = false;
    ct_test_run_until(&f->loop, &tick, 500);
    assert_int_equal(f->nseen, 15);
    for (int i = 0; i < 15; i++) {
        char want[32];
        snprintf(want, sizeof want, "ev-%d", i);
        assert_string_equal(f->seen[i], want);
    }
    for (int i = 0; i < 200 && ct_test_sql_count(f->url, "SELECT count(*) FROM ct_outbox "
                                                         "WHERE sent_at IS NULL") > 0;
         i++) {
        tick = false;
        ct_test_run_until(&f->loop, &tick, 20);
    }
    assert_int_equal(
        ct_test_sql_count(f->url, "SELECT count(*) FROM ct_outbox WHERE sent_at IS NULL"), 0);
    close_relay(f, relay);
    fx_close(f);
}

static void on_relay_closed(void *udata)
{
    *(bool *)udata = true;
}

static void close_finishes_the_batch_in_flight(void **state)
{
    (void)state;
    fx_t *f = fx_open();
    for (int t = 0; t < 4; t++)
        append_events(f, t * 50, 50);
    ct_outbox_relay_t *relay;
    assert_int_equal(ct_outbox_relay_new(&f->loop, f->url, f->db, f->producer, &relay), 0);
    /* close as soon as the relay has rows in flight */
    uint64_t until = uv_now(&f->loop) + 10000;
    while (ct_bus_producer_outq(f->producer) == 0 && uv_now(&f->loop) < until)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(ct_bus_producer_outq(f->producer) > 0);
    bool closed = false;
    ct_outbox_relay_close(relay, on_relay_closed, &closed);
    assert_true(ct_test_run_until(&f->loop, &closed, 20000));
    /* every row of the batch was reported and marked before close returned */
    assert_int_equal(ct_bus_producer_outq(f->producer), 0);
    long long sent =
        ct_test_sql_count(f->url, "SELECT count(*) FROM ct_outbox WHERE sent_at IS NOT NULL");
    assert_true(sent > 0);
    wait_seen(f, (int)sent, 10000);
    bool tick = false;
    ct_test_run_until(&f->loop, &tick, 300);
    assert_int_equal(f->nseen, sent);
    fx_close(f);
}

typedef struct {
    bool done;
    int status;
    char sqlstate[6];
} bad_t;

static void bad_append(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_outbox_append(tx, TOPIC, "k", "x", 1, "not-a-uuid", append_next);
}

static void on_bad_done(const ct_db_error_t *err, void *udata)
{
    bad_t *b = udata;
    b->done = true;
    b->status = err ? err->status : 0;
    snprintf(b->sqlstate, sizeof b->sqlstate, "%s", err ? err->sqlstate : "");
}

static void append_with_invalid_event_id_fails_the_transaction(void **state)
{
    (void)state;
    fx_t *f = fx_open();
    bad_t b = {0};
    assert_int_equal(ct_db_tx_begin(f->db, bad_append, on_bad_done, &b), 0);
    assert_true(ct_test_run_until(&f->loop, &b.done, 10000));
    assert_int_equal(b.status, CT_EDB);
    assert_string_equal(b.sqlstate, "22P02");
    assert_int_equal(ct_test_sql_count(f->url, "SELECT count(*) FROM ct_outbox"), 0);
    fx_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(relay_publishes_rows_in_id_order_and_marks_them_sent),
        cmocka_unit_test(two_relays_on_one_database_publish_each_row_once),
        cmocka_unit_test(failed_delivery_is_retried_without_reordering),
        cmocka_unit_test(close_finishes_the_batch_in_flight),
        cmocka_unit_test(append_with_invalid_event_id_fails_the_transaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
