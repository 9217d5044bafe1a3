/* Accounts' updates and the certificate of conformity, against a fresh
 * database and the Redis of the test stack: an update is applied only over
 * an older version (an unknown entity takes it as its state); no first
 * delivery without a certificate: an order of such a site is held (not
 * scheduled, not deliverable) with exactly one OrderHeld, the SiteUpdated
 * that brings the certificate schedules it exactly once and emits no other
 * OrderHeld (also when the bus hands it twice, through a real consumer and
 * the inbox), and a site that had a delivery is never held. The clock is
 * pinned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "citerne/bus.h"
#include "citerne/error.h"
#include "citerne/metrics.h"
#include "citerne/v1/accounts.pb-c.h"
#include "citerne/v1/orders.pb-c.h"

#include "fixture.h"
#include "stack.h"
#include "support.h"

#define TOPIC_ACCOUNTS "citerne.accounts.v1"

/* A packed AccountsEvent and its event id. */
typedef struct {
    meta_t m;
    uint8_t *data;
    size_t len;
} record_t;

static void record_pack(record_t *r, Citerne__V1__AccountsEvent *ev)
{
    meta_new(&r->m, test_now);
    ev->meta = &r->m.meta;
    r->len = citerne__v1__accounts_event__get_packed_size(ev);
    r->data = malloc(r->len + 1);
    citerne__v1__accounts_event__pack(ev, r->data);
}

static void record_free(record_t *r)
{
    free(r->data);
    r->data = NULL;
}

/* A SiteUpdated of s (contract's mode, the test's address) at version. */
static void site_updated(record_t *r, const site_t *s, int version, int capacity,
                         bool certificate_received)
{
    Citerne__V1__SiteUpdated su = CITERNE__V1__SITE_UPDATED__INIT;
    su.site_id = (char *)s->site;
    su.contract_id = (char *)s->contract;
    su.customer_id = (char *)s->customer;
    su.capacity_kg = capacity;
    su.threshold_pct = 30;
    su.address = "1 rue des Lilas";
    su.delivery_mode = "";
    su.certificate_received = certificate_received;
    su.version = version;
    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_UPDATED;
    ev.site_updated = &su;
    record_pack(r, &ev);
}

/* Applies a SiteUpdated as the inbox's apply step would; returns its
 * outcome. */
static int apply_site_updated(const site_t *s, int version, int capacity, bool certificate)
{
    record_t r;
    site_updated(&r, s, version, capacity, certificate);
    int rc = apply_record(TOPIC_ACCOUNTS, r.data, r.len);
    record_free(&r);
    return rc;
}

static char *site_column(const char *column, const char *site)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT %s::text FROM sites WHERE site_id = $1", column);
    return sql_value(sql, site);
}

static void expect_site(const char *site, const char *column, const char *want)
{
    char *v = site_column(column, site);
    if (strcmp(v, want) != 0)
        fail_msg("site %s: %s is %s, want %s", site, column, v, want);
    free(v);
}

static void expect_problem(const test_resp_t *r, const char *type, const char *what)
{
    expect_status(r, 409, what);
    if (strcmp(jstr(r, "type"), type) != 0)
        fail_msg("%s: type %s, want %s", what, jstr(r, "type"), type);
}

static double held_count(void)
{
    return ct_metric_value(ct_metrics_counter("citerne_orders_held_total", "held"));
}

/* The driver's confirmation of order id, as a request body that is valid. */
static void driver_confirm(const char *id, test_resp_t *r)
{
    char path[160];
    snprintf(path, sizeof path, "/api/v1/orders/deliveries/%s/confirm", id);
    call("POST", path, DRV, "{\"delivered_kg\": 500, \"level_after_pct\": 80}", r);
}

static void customer_confirm(const char *customer, const char *id, const char *body, test_resp_t *r)
{
    char path[160];
    snprintf(path, sizeof path, "/api/v1/orders/orders/%s/confirm", id);
    char *h = session_headers(customer, CT_ROLE_ORDERER, true);
    call("POST", path, h, body, r);
    free(h);
}

/* A crossing of site at level, and the order it opened, in status want:
 * its id into id. */
static void order_opened(const char *site, int level, const char *want, char id[CT_UUID_STRLEN + 1])
{
    assert_int_equal(crossing(site, level), 0);
    test_resp_t o;
    only_order(site, id, &o);
    if (strcmp(jstr(&o, "status"), want) != 0)
        fail_msg("order %s: status %s, want %s", id, jstr(&o, "status"), want);
    test_resp_dispose(&o);
}

/* ev is the OrderHeld of order id of s, caused by cause in its chain. */
static void expect_held_event(const Citerne__V1__OrdersEvent *ev, const site_t *s, const char *id,
                              const Citerne__V1__OrdersEvent *cause)
{
    if (ev->body_case != CITERNE__V1__ORDERS_EVENT__BODY_ORDER_HELD)
        fail_msg("body %d, want OrderHeld (%d)", (int)ev->body_case,
                 (int)CITERNE__V1__ORDERS_EVENT__BODY_ORDER_HELD);
    const Citerne__V1__OrderHeld *h = ev->order_held;
    assert_string_equal(h->order_id, id);
    assert_string_equal(h->customer_id, s->customer);
    assert_string_equal(h->site_id, s->site);
    assert_string_equal(h->reason, "certificate_missing");
    assert_true(h->held_at > 0);
    assert_true(h->held_at == ev->meta->occurred_at);
    assert_string_equal(ev->meta->producer, "orders");
    assert_string_equal(ev->meta->correlation_id, cause->meta->correlation_id);
    assert_string_equal(ev->meta->causation_id, cause->meta->event_id);
}

/* The number of OrderHeld among the outbox's events of site. */
static int held_events(const char *site)
{
    int n, held = 0;
    Citerne__V1__OrdersEvent **evs = events_of(site, &n);
    for (int i = 0; i < n; i++)
        held += evs[i]->body_case == CITERNE__V1__ORDERS_EVENT__BODY_ORDER_HELD;
    events_free(evs, n);
    return held;
}

/* ---- tests: versions ---- */

static void an_update_is_applied_only_over_an_older_version(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site_cert(&s, "automatic", NULL, 1000, false);
    expect_site(s.site, "version", "1");

    assert_int_equal(apply_site_updated(&s, 3, 2000, true), 0);
    expect_site(s.site, "version", "3");
    expect_site(s.site, "capacity_kg", "2000");
    expect_site(s.site, "certificate_received", "true");
    /* older, then equal: late or repeated, both ignored (and committed) */
    assert_int_equal(apply_site_updated(&s, 2, 1500, false), 0);
    assert_int_equal(apply_site_updated(&s, 3, 1200, false), 0);
    expect_site(s.site, "version", "3");
    expect_site(s.site, "capacity_kg", "2000");
    expect_site(s.site, "certificate_received", "true");
    assert_int_equal(apply_site_updated(&s, 4, 1800, true), 0);
    expect_site(s.site, "capacity_kg", "1800");
    /* an update is version 2 or more */
    assert_int_equal(apply_site_updated(&s, 1, 900, true), CT_EINPUT);
    expect_site(s.site, "version", "4");

    Citerne__V1__CustomerUpdated cu = CITERNE__V1__CUSTOMER_UPDATED__INIT;
    cu.customer_id = s.customer;
    cu.customer_number = "C000001";
    cu.segment = "household";
    cu.vat_rate_bp = 1000;
    cu.version = 2;
    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_UPDATED;
    ev.customer_updated = &cu;
    assert_int_equal(apply_accounts(&ev), 0);
    char *v = sql_value("SELECT segment || ' ' || version FROM customers WHERE customer_id = $1",
                        s.customer);
    assert_string_equal(v, "household 2");
    free(v);
    cu.segment = "business"; /* the same version again: ignored */
    assert_int_equal(apply_accounts(&ev), 0);
    /* a Created sent again after an update changes nothing either */
    Citerne__V1__CustomerCreated cc = CITERNE__V1__CUSTOMER_CREATED__INIT;
    cc.customer_id = s.customer;
    cc.segment = "business";
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_CREATED;
    ev.customer_created = &cc;
    assert_int_equal(apply_accounts(&ev), 0);
    v = sql_value("SELECT segment || ' ' || version FROM customers WHERE customer_id = $1",
                  s.customer);
    assert_string_equal(v, "household 2");
    free(v);

    Citerne__V1__ContractUpdated cu2 = CITERNE__V1__CONTRACT_UPDATED__INIT;
    cu2.contract_id = s.contract;
    cu2.customer_id = s.customer;
    cu2.delivery_mode = "on_demand";
    cu2.maintenance_plan = "none";
    cu2.version = 2;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CONTRACT_UPDATED;
    ev.contract_updated = &cu2;
    assert_int_equal(apply_accounts(&ev), 0);
    cu2.delivery_mode = "automatic";
    cu2.version = 1;
    assert_int_equal(apply_accounts(&ev), CT_EINPUT);
    cu2.version = 2;
    assert_int_equal(apply_accounts(&ev), 0);
    v = sql_value("SELECT delivery_mode || ' ' || version FROM contracts WHERE contract_id = $1",
                  s.contract);
    assert_string_equal(v, "on_demand 2");
    free(v);
    cu2.delivery_mode = "sometimes";
    cu2.version = 3;
    assert_int_equal(apply_accounts(&ev), CT_EINPUT);
}

static void an_update_of_a_site_not_known_yet_is_taken_as_its_state(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site(&s, "on_demand", NULL, 1000);
    /* a second site of the contract whose SiteCreated never came */
    site_t late = s;
    ct_uuid_v7(late.site);
    assert_int_equal(apply_site_updated(&late, 2, 3000, true), 0);
    expect_site(late.site, "version", "2");
    expect_site(late.site, "capacity_kg", "3000");
    expect_site(late.site, "delivery_mode", "on_demand"); /* the contract's */
    /* its Created, if it comes at last, is older */
    Citerne__V1__SiteCreated si = CITERNE__V1__SITE_CREATED__INIT;
    si.site_id = late.site;
    si.contract_id = late.contract;
    si.customer_id = late.customer;
    si.capacity_kg = 1000;
    si.delivery_mode = "";
    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED;
    ev.site_created = &si;
    assert_int_equal(apply_accounts(&ev), 0);
    expect_site(late.site, "capacity_kg", "3000");
    expect_site(late.site, "certificate_received", "true");
    /* and the site orders as any other */
    char id[CT_UUID_STRLEN + 1];
    order_opened(late.site, 20, "proposed", id);
}

/* ---- tests: the certificate of conformity ---- */

static void an_order_of_a_site_without_certificate_is_held(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site_cert(&s, "automatic", NULL, 1000, false);
    assert_int_equal(crossing(s.site, 25), 0);
    char id[CT_UUID_STRLEN + 1];
    test_resp_t o, r;
    only_order(s.site, id, &o);
    assert_string_equal(jstr(&o, "status"), "awaiting_certificate");
    assert_string_equal(jstr(&o, "delivery_mode"), "automatic");
    assert_true(json_is_null(json_object_get(o.json, "delivery_date")));
    assert_int_equal(json_integer_value(json_object_get(o.json, "quantity_kg")), 600);
    test_resp_dispose(&o);
    /* the customer hears of it, and of what it waits for; no delivery is
     * scheduled */
    int n;
    Citerne__V1__OrdersEvent **evs = events_of(s.site, &n);
    assert_int_equal(n, 2);
    assert_int_equal(evs[0]->body_case, CITERNE__V1__ORDERS_EVENT__BODY_ORDER_PROPOSED);
    assert_string_equal(evs[0]->order_proposed->order_id, id);
    expect_held_event(evs[1], &s, id, evs[0]);
    events_free(evs, n);
    char path[160];
    snprintf(path, sizeof path, "/api/v1/orders/deliveries?site_id=%s", s.site);
    call("GET", path, DRV, NULL, &r);
    expect_status(&r, 200, "deliveries");
    assert_int_equal(json_array_size(json_object_get(r.json, "deliveries")), 0);
    test_resp_dispose(&r);

    driver_confirm(id, &r);
    expect_problem(&r, "/problems/certificate-missing", "driver confirms a held order");
    test_resp_dispose(&r);
    customer_confirm(s.customer, id, "{}", &r);
    expect_problem(&r, "/problems/certificate-missing", "customer confirms a held order");
    test_resp_dispose(&r);
    /* it is open: a new crossing is ignored */
    assert_int_equal(crossing(s.site, 15), 0);
    assert_int_equal(sql_long("SELECT count(*) FROM orders WHERE site_id = $1", s.site), 1);
    /* an update that brings no certificate keeps it held */
    assert_int_equal(apply_site_updated(&s, 2, 1000, false), 0);
    char *status = sql_value("SELECT status FROM orders WHERE order_id = $1", id);
    assert_string_equal(status, "awaiting_certificate");
    free(status);
    /* refused confirmations, the ignored crossing and that update told
     * nothing more: one OrderHeld per hold */
    assert_int_equal(count_events(s.site), 2);
    assert_int_equal(held_events(s.site), 1);
}

static void on_flag(void *udata)
{
    *(bool *)udata = true;
}

/* Runs the loop until the inbox holds event_id (10 s at most). */
static void wait_inbox(const char *event_id)
{
    for (int i = 0; i < 5000; i++) {
        uv_run(&F.svc.loop, UV_RUN_NOWAIT);
        if (i % 5 == 0 &&
            sql_long("SELECT count(*) FROM ct_inbox WHERE event_id = $1::uuid", event_id) == 1)
            return;
        uv_sleep(2);
    }
    fail_msg("event %s never reached the inbox", event_id);
}

static void the_certificate_schedules_a_held_order_exactly_once(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site_cert(&s, "automatic", NULL, 1000, false);
    /* measured on Thursday, held until Monday's certificate */
    test_now = FRIDAY_MS - 24 * 60 * MINUTE_MS;
    char id[CT_UUID_STRLEN + 1];
    order_opened(s.site, 25, "awaiting_certificate", id);
    test_resp_t r;
    test_now = FRIDAY_MS + 3 * 24 * 60 * MINUTE_MS; /* Monday 2026-11-23 */

    /* the bus hands the certificate twice, then another event, through a
     * real consumer and the inbox; one message at a time per consumer, so
     * once the last one is in the inbox the duplicate has been handled */
    const char *brokers = NULL;
    rd_kafka_t *mock = ct_test_mock_new(TOPIC_ACCOUNTS, 1, &brokers);
    record_t cert, marker;
    site_updated(&cert, &s, 2, 1000, true);
    site_updated(&marker, &s, 3, 1100, true);
    record_t *records[] = {&cert, &cert, &marker};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(rd_kafka_producev(mock, RD_KAFKA_V_TOPIC(TOPIC_ACCOUNTS),
                                           RD_KAFKA_V_KEY(s.customer, strlen(s.customer)),
                                           RD_KAFKA_V_VALUE(records[i]->data, records[i]->len),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_flush(mock, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
    double released = ct_metric_value(ct_metrics_counter("citerne_orders_released_total", ""));
    const char *topics[] = {TOPIC_ACCOUNTS};
    ct_bus_consumer_t *consumer = NULL;
    assert_int_equal(ct_bus_consumer_new(&F.svc.loop, brokers, "orders-certificate-test", topics, 1,
                                         orders_on_message, &F.svc, &consumer),
                     0);
    wait_inbox(marker.m.id);
    bool closed = false;
    ct_bus_consumer_close(consumer, on_flag, &closed);
    assert_true(ct_test_run_until(&F.svc.loop, &closed, 20000));
    rd_kafka_destroy(mock);
    assert_true(ct_metric_value(ct_metrics_counter("citerne_orders_released_total", "")) ==
                released + 1);

    char path[160];
    snprintf(path, sizeof path, "/api/v1/orders/orders/%s", id);
    call("GET", path, OP, NULL, &r);
    expect_status(&r, 200, "the order");
    assert_string_equal(jstr(&r, "status"), "scheduled");
    /* counted from the day the certificate came: Monday + 2 working days */
    assert_string_equal(jstr(&r, "delivery_date"), "2026-11-25");
    test_resp_dispose(&r);
    /* OrderProposed, OrderHeld, then the release's DeliveryScheduled only
     * (no second OrderHeld, none for the duplicate) */
    int n;
    Citerne__V1__OrdersEvent **evs = events_of(s.site, &n);
    assert_int_equal(n, 3);
    expect_held_event(evs[1], &s, id, evs[0]);
    assert_int_equal(evs[2]->body_case, CITERNE__V1__ORDERS_EVENT__BODY_DELIVERY_SCHEDULED);
    const Citerne__V1__DeliveryScheduled *d = evs[2]->delivery_scheduled;
    assert_string_equal(d->order_id, id);
    assert_string_equal(d->delivery_date, "2026-11-25");
    assert_int_equal(d->quantity_kg, 600);
    assert_string_equal(d->speed, "standard");
    assert_string_equal(d->confirmed_by, ""); /* automatic: nobody confirmed it */
    /* the order's chain goes on, from its hold */
    assert_string_equal(evs[2]->meta->correlation_id, evs[0]->meta->correlation_id);
    assert_string_equal(evs[2]->meta->causation_id, evs[1]->meta->event_id);
    events_free(evs, n);
    expect_site(s.site, "version", "3");

    /* a newer certificate past the inbox (another event id) finds nothing
     * held any more */
    assert_int_equal(apply_site_updated(&s, 4, 1100, true), 0);
    assert_int_equal(count_events(s.site), 3);
    /* the driver may now deliver it */
    driver_confirm(id, &r);
    expect_status(&r, 200, "driver confirms the released order");
    assert_string_equal(jstr(&r, "status"), "delivered");
    test_resp_dispose(&r);
    record_free(&cert);
    record_free(&marker);
}

static void an_on_demand_confirmation_waits_for_the_certificate(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site_cert(&s, "on_demand", NULL, 2000, false);
    char id[CT_UUID_STRLEN + 1];
    order_opened(s.site, 20, "proposed", id);
    test_resp_t r;
    double held = held_count();
    customer_confirm(s.customer, id, "{\"quantity_kg\": 500, \"speed\": \"express_48h\"}", &r);
    expect_status(&r, 200, "confirm");
    assert_string_equal(jstr(&r, "status"), "awaiting_certificate");
    assert_string_equal(jstr(&r, "speed"), "express_48h");
    assert_int_equal(json_integer_value(json_object_get(r.json, "quantity_kg")), 500);
    assert_true(json_is_null(json_object_get(r.json, "delivery_date")));
    test_resp_dispose(&r);
    assert_true(held_count() == held + 1);
    /* OrderProposed, then the confirmation's OrderHeld */
    int n;
    Citerne__V1__OrdersEvent **evs = events_of(s.site, &n);
    assert_int_equal(n, 2);
    assert_int_equal(evs[0]->body_case, CITERNE__V1__ORDERS_EVENT__BODY_ORDER_PROPOSED);
    expect_held_event(evs[1], &s, id, evs[0]);
    events_free(evs, n);
    customer_confirm(s.customer, id, "{}", &r);
    expect_problem(&r, "/problems/certificate-missing", "second confirm");
    test_resp_dispose(&r);
    driver_confirm(id, &r);
    expect_problem(&r, "/problems/certificate-missing", "driver");
    test_resp_dispose(&r);
    assert_int_equal(count_events(s.site), 2); /* the refusals told nothing */

    test_now = FRIDAY_MS + 3 * 24 * 60 * MINUTE_MS; /* Monday 2026-11-23 */
    assert_int_equal(apply_site_updated(&s, 2, 2000, true), 0);
    evs = events_of(s.site, &n);
    assert_int_equal(n, 3); /* the release: DeliveryScheduled, no OrderHeld */
    assert_int_equal(evs[2]->body_case, CITERNE__V1__ORDERS_EVENT__BODY_DELIVERY_SCHEDULED);
    const Citerne__V1__DeliveryScheduled *d = evs[2]->delivery_scheduled;
    assert_string_equal(d->delivery_date, "2026-11-25"); /* the chosen speed, from Monday */
    assert_string_equal(d->speed, "express_48h");
    assert_int_equal(d->quantity_kg, 500);
    /* the confirmation's user, kept on the order until its release */
    assert_true(ct_uuid_valid(d->confirmed_by));
    assert_string_equal(evs[2]->meta->causation_id, evs[1]->meta->event_id);
    events_free(evs, n);
    assert_int_equal(held_events(s.site), 1);
    char *status = sql_value("SELECT status FROM orders WHERE order_id = $1", id);
    assert_string_equal(status, "scheduled");
    free(status);
}

static void a_site_that_had_a_delivery_is_never_held(void **state)
{
    REQUIRE_STACK();
    site_t s, od;
    make_site(&s, "automatic", NULL, 1000);
    make_site(&od, "on_demand", NULL, 1000);
    const site_t *sites[] = {&s, &od};
    char ids[2][CT_UUID_STRLEN + 1];
    order_opened(s.site, 25, "scheduled", ids[0]);
    order_opened(od.site, 25, "proposed", ids[1]);
    test_resp_t r;
    customer_confirm(od.customer, ids[1], "{}", &r);
    expect_status(&r, 200, "on-demand confirm");
    test_resp_dispose(&r);
    for (int i = 0; i < 2; i++) {
        driver_confirm(ids[i], &r);
        expect_status(&r, 200, "first delivery");
        test_resp_dispose(&r);
        /* the back office then records the certificate as missing */
        assert_int_equal(apply_site_updated(sites[i], 2, 1000, false), 0);
        expect_site(sites[i]->site, "certificate_received", "false");
    }
    double held = held_count();
    assert_int_equal(crossing(s.site, 20), 0);
    assert_int_equal(
        sql_long("SELECT count(*) FROM orders WHERE site_id = $1 AND status = 'scheduled'", s.site),
        1);
    assert_int_equal(count_events(s.site), 5); /* + OrderProposed, DeliveryScheduled */
    assert_int_equal(crossing(od.site, 20), 0);
    char *next = sql_value("SELECT order_id FROM orders WHERE site_id = $1 AND status = 'proposed'",
                           od.site);
    customer_confirm(od.customer, next, "{}", &r);
    expect_status(&r, 200, "on-demand confirm after a delivery");
    assert_string_equal(jstr(&r, "status"), "scheduled");
    test_resp_dispose(&r);
    free(next);
    assert_true(held_count() == held);
    assert_int_equal(held_events(s.site), 0);
    assert_int_equal(held_events(od.site), 0);
}

static int group_setup(void **state)
{
    (void)state;
    return orders_fixture_setup("orders_cert");
}

static int group_teardown(void **state)
{
    (void)state;
    return orders_fixture_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(an_update_is_applied_only_over_an_older_version, test_setup),
        cmocka_unit_test_setup(an_update_of_a_site_not_known_yet_is_taken_as_its_state, test_setup),
        cmocka_unit_test_setup(an_order_of_a_site_without_certificate_is_held, test_setup),
        cmocka_unit_test_setup(the_certificate_schedules_a_held_order_exactly_once, test_setup),
        cmocka_unit_test_setup(an_on_demand_confirmation_waits_for_the_certificate, test_setup),
        cmocka_unit_test_setup(a_site_that_had_a_delivery_is_never_held, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
