/* The inbox through a real consumer (librdkafka's in-process mock cluster)
 * and the test stack's Postgres: duplicates are skipped, transient failures
 * are handed again, permanent ones are skipped. */
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
#include "citerne/inbox.h"
#include "citerne/metrics.h"
#include "citerne/migrate.h"
#include "fixture.h"
#include "stack.h"

#define TOPIC "citerne.inboxtest.v1"
#define MAX_OUTCOMES 32

typedef struct {
    uv_loop_t loop;
    char *url;
    ct_db_t *db;
    rd_kafka_t *mock;
    ct_bus_consumer_t *consumer;
    int transient_left; /* "transient" events fail this many times first */
    int napplied;
    int noutcomes;
    int outcome[MAX_OUTCOMES];
    char outcome_id[MAX_OUTCOMES][40];
} fx_t;

typedef struct {
    fx_t *f;
    char id[40];
    char action[16];
} ctx_t;

static void on_flag(void *udata)
{
    *(bool *)udata = true;
}

static void on_done(int status, void *udata)
{
    ctx_t *c = udata;
    fx_t *f = c->f;
    if (f->noutcomes < MAX_OUTCOMES) {
        f->outcome[f->noutcomes] = status;
        snprintf(f->outcome_id[f->noutcomes], sizeof f->outcome_id[0], "%s", c->id);
        f->noutcomes++;
    }
    free(c);
}

static void commit_step(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

static void apply(ct_db_tx_t *tx, void *udata)
{
    ctx_t *c = udata;
    fx_t *f = c->f;
    f->napplied++;
    assert_ptr_equal(ct_db_tx_udata(tx), c);
    if (strcmp(c->action, "permanent") == 0) {
        ct_db_tx_rollback(tx, CT_EINPUT, "the event makes no sense");
        return;
    }
    if (strcmp(c->action, "sqlfail") == 0) {
        ct_db_tx_query(tx, "SELECT 1 / 0", NULL, commit_step);
        return;
    }
    if (strcmp(c->action, "transient") == 0 && f->transient_left > 0) {
        f->transient_left--;
        ct_db_tx_rollback(tx, CT_EUNAVAIL, "read model not there yet");
        return;
    }
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, c->id);
    ct_db_tx_query(tx, "INSERT INTO applied(event_id) VALUES ($1::uuid)", &p, commit_step);
    ct_db_params_dispose(&p);
}

/* Payload "<event id> <action>". */
static void on_message(ct_bus_msg_t *msg, void *udata)
{
    fx_t *f = udata;
    size_t len;
    const char *payload = ct_bus_msg_payload(msg, &len);
    ctx_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->f = f;
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)len, payload);
    assert_int_equal(sscanf(buf, "%39s %15s", c->id, c->action), 2);
    ct_inbox_process(f->db, msg, c->id, apply, on_done, c);
}

static void produce(fx_t *f, const char *id, const char *action)
{
    char payload[64];
    snprintf(payload, sizeof payload, "%s %s", id, action);
    ct_test_mock_produce(f->mock, TOPIC, "k", payload);
}

static void events_are_applied_once_retried_when_transient_skipped_when_permanent(void **state)
{
    (void)state;
    ct_test_require_stack();
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    uv_loop_init(&f->loop);
    const ct_migration_t files[] = {{"0001_applied.sql", "CREATE TABLE applied(event_id uuid);"}};
    f->db = ct_test_db_migrated(&f->loop, "ct_inbox", files, 1, &f->url);

    const char *brokers = NULL;
    f->mock = ct_test_mock_new(TOPIC, 1, &brokers);

    char a[CT_UUID_STRLEN + 1], b[CT_UUID_STRLEN + 1], c[CT_UUID_STRLEN + 1], d[CT_UUID_STRLEN + 1],
        e[CT_UUID_STRLEN + 1];
    ct_uuid_v7(a);
    ct_uuid_v7(b);
    ct_uuid_v7(c);
    ct_uuid_v7(d);
    ct_uuid_v7(e);
    produce(f, a, "ok");
    produce(f, a, "ok"); /* a duplicate delivery */
    produce(f, "not-a-uuid", "ok");
    produce(f, b, "permanent");
    produce(f, c, "sqlfail");
    produce(f, d, "transient");
    produce(f, e, "ok");
    assert_int_equal(rd_kafka_flush(f->mock, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
    f->transient_left = 1;

    double failed_before = ct_metric_value(ct_metrics_counter("citerne_events_failed_total", ""));
    const char *topics[] = {TOPIC};
    assert_int_equal(ct_bus_consumer_new(&f->loop, brokers, "inbox-test", topics, 1, on_message, f,
                                         &f->consumer),
                     0);
    uint64_t until = uv_now(&f->loop) + 30000;
    while (f->noutcomes < 8 && uv_now(&f->loop) < until) {
        bool tick = false;
        ct_test_run_until(&f->loop, &tick, 50);
    }
    assert_int_equal(f->noutcomes, 8);
    const struct {
        const char *id;
        int status;
    } want[] = {
        {a, 0}, {a, 0}, {"not-a-uuid", CT_EINPUT}, {b, CT_EINPUT}, {c, CT_EDB}, {d, CT_EUNAVAIL},
        {d, 0}, {e, 0},
    };
    for (int i = 0; i < 8; i++) {
        assert_string_equal(f->outcome_id[i], want[i].id);
        assert_int_equal(f->outcome[i], want[i].status);
    }
    /* apply ran for a once (not for its duplicate), b, c, d twice, e */
    assert_int_equal(f->napplied, 6);
    assert_int_equal(ct_test_sql_count(f->url, "SELECT count(*) FROM applied"), 3);
    assert_int_equal(ct_test_sql_count(f->url, "SELECT count(DISTINCT event_id) FROM applied"), 3);
    assert_int_equal(ct_test_sql_count(f->url, "SELECT count(*) FROM ct_inbox"), 3);
    assert_true(ct_metric_value(ct_metrics_counter("citerne_events_failed_total", "")) -
                    failed_before ==
                3);

    bool closed = false;
    ct_bus_consumer_close(f->consumer, on_flag, &closed);
    assert_true(ct_test_run_until(&f->loop, &closed, 20000));
    closed = false;
    ct_db_close(f->db, on_flag, &closed);
    assert_true(ct_test_run_until(&f->loop, &closed, 10000));
    rd_kafka_destroy(f->mock);
    ct_test_loop_close(&f->loop);
    free(f->url);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(events_are_applied_once_retried_when_transient_skipped_when_permanent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
