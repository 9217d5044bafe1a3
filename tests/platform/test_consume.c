/* Skipped records: the orphan window as a plain rule, the counters, and
 * ct_consume_skip / ct_consume_orphan through a real consumer (librdkafka's
 * in-process mock cluster) and the test stack's Postgres: a skipped record
 * is counted once and the partition moves on; a young orphan is handed
 * again, an old one is recorded in the inbox and skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "citerne/bus.h"
#include "citerne/consume.h"
#include "citerne/db.h"
#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/inbox.h"
#include "citerne/metrics.h"
#include "citerne/migrate.h"
#include "fixture.h"
#include "stack.h"

#define TOPIC "citerne.consumetest.v1"
#define MINUTE (60 * 1000)

static double counter(const char *base, const char *topic)
{
    char name[200];
    snprintf(name, sizeof name, "%s{topic=\"%s\"}", base, topic);
    return ct_metric_value(ct_metrics_counter(name, ""));
}

/* ---- the rule ---- */

static void orphans_are_retried_for_ten_minutes_after_they_occurred(void **state)
{
    (void)state;
    const int64_t t = 1767225600000; /* 2026-01-01T00:00:00Z */
    static const struct {
        int64_t age_ms;
        bool retry;
    } rows[] = {
        {-5 * MINUTE, true}, /* occurred "in the future": clocks differ, wait */
        {0, true},
        {10 * MINUTE - 1, true},
        {10 * MINUTE, false},
        {24 * 60 * MINUTE, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bool got = ct_consume_orphan_retry(t - rows[i].age_ms, t);
        if (got != rows[i].retry)
            fail_msg("age %lld ms: retry %d, expected %d", (long long)rows[i].age_ms, got,
                     rows[i].retry);
    }
    assert_int_equal(CT_CONSUME_ORPHAN_WINDOW_MS, 10 * MINUTE);
}

static void each_reason_counts_in_its_own_labelled_series(void **state)
{
    (void)state;
    assert_string_equal(ct_skip_reason_name(CT_SKIP_UNDECODABLE), "undecodable");
    assert_string_equal(ct_skip_reason_name(CT_SKIP_INVALID), "invalid");
    assert_string_equal(ct_skip_reason_name(CT_SKIP_ORPHANED), "orphaned");
    ct_consume_count(CT_SKIP_UNDECODABLE, "citerne.a.v1");
    ct_consume_count(CT_SKIP_UNDECODABLE, "citerne.a.v1");
    ct_consume_count(CT_SKIP_INVALID, "citerne.a.v1");
    ct_consume_count(CT_SKIP_ORPHANED, "citerne.b.v1");
    assert_int_equal((int)counter("citerne_events_undecodable_total", "citerne.a.v1"), 2);
    assert_int_equal((int)counter("citerne_events_invalid_total", "citerne.a.v1"), 1);
    assert_int_equal((int)counter("citerne_events_orphaned_total", "citerne.a.v1"), 0);
    assert_int_equal((int)counter("citerne_events_orphaned_total", "citerne.b.v1"), 1);
    size_t len = 0;
    char *text = ct_metrics_render(&len);
    assert_non_null(strstr(text, "citerne_events_invalid_total{topic=\"citerne.a.v1\"} 1"));
    free(text);
}

/* ---- through a consumer ---- */

#define MAX_SEEN 16

typedef struct {
    uv_loop_t loop;
    char *url;
    ct_db_t *db;
    rd_kafka_t *mock;
    ct_bus_consumer_t *consumer;
    int nseen;
    char seen[MAX_SEEN][48]; /* "<action>:<outcome>" in handling order */
} fx_t;

typedef struct {
    fx_t *f;
    char action[16];
    char id[40];
    bool retry;
} ctx_t;

static void on_flag(void *udata)
{
    *(bool *)udata = true;
}

static void see(fx_t *f, const char *action, const char *outcome)
{
    if (f->nseen < MAX_SEEN)
        snprintf(f->seen[f->nseen++], sizeof f->seen[0], "%s:%s", action, outcome);
}

static int young_tries;

static void apply_orphan(ct_db_tx_t *tx, void *udata)
{
    ctx_t *c = udata;
    int64_t now = ct_now_ms();
    /* "young" occurred just now the first time it is handed, and the clock
     * has moved 11 minutes on the second time */
    int64_t occurred = strcmp(c->action, "old") == 0 ? now - 11 * MINUTE
                       : young_tries++ == 0          ? now
                                                     : now - 11 * MINUTE;
    c->retry = ct_consume_orphan(tx, TOPIC, NULL, c->id, occurred, now, "site 42");
}

static void on_orphan_done(int status, void *udata)
{
    ctx_t *c = udata;
    char outcome[32];
    snprintf(outcome, sizeof outcome, "%s/%d", c->retry ? "retry" : "skip", status);
    see(c->f, c->action, outcome);
    free(c);
}

/* Payload "<action> <event id>". */
static void on_message(ct_bus_msg_t *msg, void *udata)
{
    fx_t *f = udata;
    size_t len;
    const char *payload = ct_bus_msg_payload(msg, &len);
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)len, payload);
    ctx_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->f = f;
    assert_int_equal(sscanf(buf, "%15s %39s", c->action, c->id), 2);
    if (strcmp(c->action, "undecodable") == 0) {
        ct_consume_skip(msg, CT_SKIP_UNDECODABLE, NULL, "test bytes %zu", len);
        see(f, c->action, "skipped");
        free(c);
    } else if (strcmp(c->action, "invalid") == 0) {
        ct_consume_skip(msg, CT_SKIP_INVALID, c->id, "event %s: invalid %s", c->id, "level");
        see(f, c->action, "skipped");
        free(c);
    } else if (strcmp(c->action, "old") == 0 || strcmp(c->action, "young") == 0) {
        ct_inbox_process(f->db, msg, c->id, apply_orphan, on_orphan_done, c);
    } else {
        see(f, c->action, "handled");
        free(c);
        ct_bus_msg_done(msg, 0);
    }
}

static void produce(fx_t *f, const char *action, const char *id)
{
    char payload[64];
    snprintf(payload, sizeof payload, "%s %s", action, id);
    ct_test_mock_produce(f->mock, TOPIC, "k", payload);
}

static void skipped_records_are_counted_and_the_partition_moves_on(void **state)
{
    (void)state;
    ct_test_require_stack();
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    uv_loop_init(&f->loop);
    f->db = ct_test_db_migrated(&f->loop, "ct_consume", NULL, 0, &f->url);

    const char *brokers = NULL;
    f->mock = ct_test_mock_new(TOPIC, 1, &brokers);

    char old[CT_UUID_STRLEN + 1], young[CT_UUID_STRLEN + 1];
    ct_uuid_v7(old);
    ct_uuid_v7(young);
    produce(f, "undecodable", "-");
    produce(f, "invalid", "cid-1");
    produce(f, "old", old);
    produce(f, "young", young);
    produce(f, "last", "-");
    assert_int_equal(rd_kafka_flush(f->mock, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);

    double undecodable = counter("citerne_events_undecodable_total", TOPIC);
    double invalid = counter("citerne_events_invalid_total", TOPIC);
    double orphaned = counter("citerne_events_orphaned_total", TOPIC);
    const char *topics[] = {TOPIC};
    assert_int_equal(ct_bus_consumer_new(&f->loop, brokers, "consume-test", topics, 1, on_message,
                                         f, &f->consumer),
                     0);
    uint64_t until = uv_now(&f->loop) + 30000;
    while (f->nseen < 6 && uv_now(&f->loop) < until) {
        bool tick = false;
        ct_test_run_until(&f->loop, &tick, 50);
    }
    char young_retry[48]; /* rolled back with CT_EUNAVAIL: handed again */
    snprintf(young_retry, sizeof young_retry, "young:retry/%d", CT_EUNAVAIL);
    const char *const want[] = {
        "undecodable:skipped", "invalid:skipped", "old:skip/0",
        young_retry,           "young:skip/0",    "last:handled",
    };
    assert_int_equal(f->nseen, 6);
    for (int i = 0; i < 6; i++) {
        if (strcmp(f->seen[i], want[i]) != 0)
            fail_msg("handled #%d: \"%s\", expected \"%s\"", i, f->seen[i], want[i]);
    }
    assert_int_equal(counter("citerne_events_undecodable_total", TOPIC) - undecodable, 1);
    assert_int_equal(counter("citerne_events_invalid_total", TOPIC) - invalid, 1);
    assert_int_equal(counter("citerne_events_orphaned_total", TOPIC) - orphaned, 2);
    /* the orphans skipped for good are in the inbox: a redelivery is a duplicate */
    assert_int_equal(ct_test_sql_count(f->url, "SELECT count(*) FROM ct_inbox"), 2);

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
        cmocka_unit_test(orphans_are_retried_for_ten_minutes_after_they_occurred),
        cmocka_unit_test(each_reason_counts_in_its_own_labelled_series),
        cmocka_unit_test(skipped_records_are_counted_and_the_partition_moves_on),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ct_metrics_reset();
    return rc;
}
