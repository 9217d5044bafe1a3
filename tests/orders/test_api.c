/* Orders through its event handlers and its HTTP server, against a fresh
 * database and the Redis of the test stack: crossings open orders (both
 * modes), open orders block new ones, orphans are retried then skipped,
 * customers confirm (roles, CSRF, scoping), drivers deliver, and every
 * change leaves its event in the outbox. The clock is pinned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/error.h"
#include "citerne/metrics.h"
#include "citerne/v1/accounts.pb-c.h"
#include "citerne/v1/orders.pb-c.h"
#include "citerne/v1/telemetry.pb-c.h"

#include "events.h"
#include "stack.h"
#include "support.h"

/* ---- tests: crossings ---- */

static void an_automatic_crossing_schedules_at_once_two_working_days_later(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site(&s, "automatic", "automatic", 1000);
    assert_int_equal(crossing(s.site, 25), 0);
    char id[CT_UUID_STRLEN + 1];
    test_resp_t o;
    only_order(s.site, id, &o);
    assert_string_equal(jstr(&o, "status"), "scheduled");
    assert_string_equal(jstr(&o, "delivery_mode"), "automatic");
    assert_string_equal(jstr(&o, "speed"), "standard");
    assert_string_equal(jstr(&o, "customer_id"), s.customer);
    assert_int_equal(json_integer_value(json_object_get(o.json, "quantity_kg")), 600);
    assert_string_equal(jstr(&o, "delivery_date"), "2026-11-24"); /* Friday + 2 */
    assert_true(json_is_null(json_object_get(o.json, "delivered_kg")));
    test_resp_dispose(&o);

    int n;
    Citerne__V1__OrdersEvent **evs = events_of(s.site, &n);
    assert_int_equal(n, 2);
    assert_int_equal(evs[0]->body_case, CITERNE__V1__ORDERS_EVENT__BODY_ORDER_PROPOSED);
    assert_string_equal(evs[0]->order_proposed->order_id, id);
    assert_int_equal(evs[0]->order_proposed->quantity_kg, 600);
    assert_string_equal(evs[0]->order_proposed->delivery_mode, "automatic");
    assert_string_equal(evs[0]->order_proposed->customer_id, s.customer);
    assert_int_equal(evs[1]->body_case, CITERNE__V1__ORDERS_EVENT__BODY_DELIVERY_SCHEDULED);
    assert_string_equal(evs[1]->delivery_scheduled->delivery_date, "2026-11-24");
    assert_int_equal(evs[1]->delivery_scheduled->quantity_kg, 600);
    assert_string_equal(evs[1]->delivery_scheduled->speed, "standard");
    assert_string_equal(evs[1]->delivery_scheduled->confirmed_by, ""); /* nobody: automatic */
    /* one chain: crossing -> proposed -> scheduled */
    assert_string_equal(evs[0]->meta->correlation_id, last_crossing.id);
    assert_string_equal(evs[0]->meta->causation_id, last_crossing.id);
    assert_string_equal(evs[1]->meta->correlation_id, last_crossing.id);
    assert_string_equal(evs[1]->meta->causation_id, evs[0]->meta->event_id);
    events_free(evs, n);
}

static void the_crossing_date_is_the_paris_date(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site(&s, "automatic", NULL, 1000);
    /* Thursday 2026-11-19 23:30 UTC is Friday 00:30 in Paris: Friday + 2
     * working days is Tuesday (the UTC date would give Monday) */
    test_now = FRIDAY_MS - 10 * 60 * MINUTE_MS - 30 * MINUTE_MS;
    assert_int_equal(crossing(s.site, 10), 0);
    char id[CT_UUID_STRLEN + 1];
    test_resp_t o;
    only_order(s.site, id, &o);
    assert_string_equal(jstr(&o, "delivery_date"), "2026-11-24");
    assert_string_equal(jstr(&o, "delivery_mode"), "automatic"); /* from the contract */
    assert_int_equal(json_integer_value(json_object_get(o.json, "quantity_kg")), 750);
    test_resp_dispose(&o);
}

static void an_old_crossing_is_scheduled_from_today(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site(&s, "automatic", "automatic", 1000);
    /* measured on Monday 2026-11-02, handled on Friday 20 */
    assert_int_equal(crossing_at(s.site, 20, FRIDAY_MS - 18 * 24 * 60 * MINUTE_MS, test_now), 0);
    char id[CT_UUID_STRLEN + 1];
    test_resp_t o;
    only_order(s.site, id, &o);
    assert_string_equal(jstr(&o, "delivery_date"), "2026-11-24");
    test_resp_dispose(&o);
}

static void an_on_demand_crossing_only_proposes(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site(&s, "automatic", "on_demand", 2000); /* the site's mode wins */
    assert_int_equal(crossing(s.site, 20), 0);
    char id[CT_UUID_STRLEN + 1];
    test_resp_t o;
    only_order(s.site, id, &o);
    assert_string_equal(jstr(&o, "status"), "proposed");
    assert_string_equal(jstr(&o, "delivery_mode"), "on_demand");
    assert_int_equal(json_integer_value(json_object_get(o.json, "quantity_kg")), 1300);
    assert_true(json_is_null(json_object_get(o.json, "delivery_date")));
    test_resp_dispose(&o);
    int n;
    Citerne__V1__OrdersEvent **evs = events_of(s.site, &n);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0]->body_case, CITERNE__V1__ORDERS_EVENT__BODY_ORDER_PROPOSED);
    assert_string_equal(evs[0]->order_proposed->delivery_mode, "on_demand");
    events_free(evs, n);
    char path[160];
    snprintf(path, sizeof path, "/api/v1/orders/deliveries?site_id=%s", s.site);
    test_resp_t r;
    call("GET", path, DRV, NULL, &r);
    expect_status(&r, 200, "deliveries");
    assert_int_equal(json_array_size(json_object_get(r.json, "deliveries")), 0);
    test_resp_dispose(&r);
}

static void a_crossing_while_an_order_is_open_is_recorded_and_ignored(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site(&s, "on_demand", NULL, 1000);
    assert_int_equal(crossing(s.site, 25), 0);
    assert_int_equal(crossing(s.site, 15), 0);
    assert_int_equal(sql_long("SELECT count(*) FROM orders WHERE site_id = $1", s.site), 1);
    assert_int_equal(count_events(s.site), 1);
    char *outcomes = sql_value("SELECT string_agg(outcome, ',' ORDER BY received_at, level_pct"
                               " DESC) FROM crossings WHERE site_id = $1",
                               s.site);
    assert_string_equal(outcomes, "ordered,open_order");
    free(outcomes);
}

static void a_crossing_for_a_site_not_yet_known_is_retried_then_skipped(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1];
    ct_uuid_v7(site);
    /* young: rolled back to be handed again */
    assert_int_equal(crossing_at(site, 20, test_now - MINUTE_MS, test_now - MINUTE_MS),
                     CT_EUNAVAIL);
    assert_int_equal(crossing_at(site, 20, test_now, test_now - 9 * MINUTE_MS), CT_EUNAVAIL);
    /* older than 10 minutes: committed with no effect, counted */
    double before = ct_metric_value(ct_metrics_counter(
        "citerne_events_orphaned_total{topic=\"citerne.telemetry.v1\"}", "orphans"));
    assert_int_equal(crossing_at(site, 20, test_now, test_now - 11 * MINUTE_MS), 0);
    double after = ct_metric_value(ct_metrics_counter(
        "citerne_events_orphaned_total{topic=\"citerne.telemetry.v1\"}", "orphans"));
    assert_true(after == before + 1);
    assert_int_equal(sql_long("SELECT count(*) FROM orders WHERE site_id = $1", site), 0);
    /* once the site arrives, a crossing is handled */
    site_t s;
    make_site(&s, "automatic", NULL, 1000);
    assert_int_equal(crossing_at(s.site, 20, test_now, test_now - 5 * MINUTE_MS), 0);
    assert_int_equal(count_events(s.site), 2);
}

static void records_that_are_bad_or_unused_are_refused_or_ignored(void **state)
{
    REQUIRE_STACK();
    const char *why = NULL;
    orders_event_t *ev = NULL;
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
    assert_int_equal(
        orders_event_decode(&F.app, "citerne.telemetry.v1", junk, sizeof junk, &ev, &why),
        CT_EDECODE);
    assert_null(ev);
    assert_non_null(why);
    assert_int_equal(orders_event_decode(&F.app, "citerne.billing.v1", junk, 0, &ev, &why),
                     CT_EDECODE);
    /* a meta without an event id */
    Citerne__V1__TelemetryEvent t = CITERNE__V1__TELEMETRY_EVENT__INIT;
    uint8_t buf[512];
    size_t len = citerne__v1__telemetry_event__pack(&t, buf);
    assert_int_equal(orders_event_decode(&F.app, "citerne.telemetry.v1", buf, len, &ev, &why),
                     CT_EDECODE);
    /* out of range fields */
    site_t s;
    make_site(&s, "automatic", NULL, 1000);
    static const int levels[] = {-1, 101};
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(crossing(s.site, levels[i]), CT_EINPUT);
    assert_int_equal(crossing("not-a-uuid", 10), CT_EINPUT);
    Citerne__V1__SiteCreated si = CITERNE__V1__SITE_CREATED__INIT;
    char id[CT_UUID_STRLEN + 1];
    ct_uuid_v7(id);
    si.site_id = id;
    si.customer_id = s.customer;
    si.capacity_kg = 0;
    Citerne__V1__AccountsEvent a = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    a.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED;
    a.site_created = &si;
    assert_int_equal(apply_accounts(&a), CT_EINPUT);
    si.capacity_kg = 1000;
    si.delivery_mode = "sometimes";
    assert_int_equal(apply_accounts(&a), CT_EINPUT);
    Citerne__V1__CustomerCreated cc = CITERNE__V1__CUSTOMER_CREATED__INIT;
    cc.customer_id = s.customer;
    cc.segment = "martian";
    a.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_CREATED;
    a.customer_created = &cc;
    assert_int_equal(apply_accounts(&a), CT_EINPUT);
    /* kinds orders does not use are acknowledged with no effect */
    Citerne__V1__UserCreated uc = CITERNE__V1__USER_CREATED__INIT;
    uc.user_id = s.customer;
    uc.customer_id = s.customer;
    a.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_CREATED;
    a.user_created = &uc;
    assert_int_equal(apply_accounts(&a), 0);
    assert_int_equal(count_events(s.site), 0);
}

typedef struct {
    orders_event_t *ev;
    bool done;
    int status;
} pending_t;

static void on_pending_first(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    pending_t *p = udata;
    ct_db_tx_set_udata(tx, p->ev); /* as the inbox hands its transaction over */
    orders_event_apply(tx, p->ev);
}

static void on_pending_done(const ct_db_error_t *err, void *udata)
{
    pending_t *p = udata;
    p->status = err ? err->status : 0;
    p->done = true;
}

/* A packed TelemetryEvent crossing for site at level, fresh meta. */
static uint8_t *crossing_record(const char *site, int level, size_t *len)
{
    Citerne__V1__TankThresholdCrossed c = CITERNE__V1__TANK_THRESHOLD_CROSSED__INIT;
    c.site_id = (char *)site;
    c.level_pct = level;
    c.threshold_pct = 30;
    c.measured_at = test_now;
    c.source = "sensor";
    meta_t m;
    meta_new(&m, test_now);
    Citerne__V1__TelemetryEvent ev = CITERNE__V1__TELEMETRY_EVENT__INIT;
    ev.meta = &m.meta;
    ev.body_case = CITERNE__V1__TELEMETRY_EVENT__BODY_THRESHOLD_CROSSED;
    ev.threshold_crossed = &c;
    *len = citerne__v1__telemetry_event__get_packed_size(&ev);
    uint8_t *buf = malloc(*len + 1);
    citerne__v1__telemetry_event__pack(&ev, buf);
    return buf;
}

static void concurrent_crossings_of_one_site_open_one_order(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site(&s, "automatic", NULL, 1000);
    enum { N = 3 };
    pending_t p[N];
    memset(p, 0, sizeof p);
    for (int i = 0; i < N; i++) {
        size_t len;
        uint8_t *buf = crossing_record(s.site, 20 + i, &len);
        const char *why;
        assert_int_equal(
            orders_event_decode(&F.app, "citerne.telemetry.v1", buf, len, &p[i].ev, &why), 0);
        free(buf);
    }
    /* all begun before any runs: they meet on the site's row lock */
    for (int i = 0; i < N; i++)
        assert_int_equal(ct_db_tx_begin(F.svc.db, on_pending_first, on_pending_done, &p[i]), 0);
    for (int i = 0; i < N; i++) {
        assert_true(ct_test_run_until(&F.svc.loop, &p[i].done, 10000));
        assert_int_equal(p[i].status, 0);
        orders_event_free(p[i].ev);
    }
    assert_int_equal(sql_long("SELECT count(*) FROM orders WHERE site_id = $1", s.site), 1);
    assert_int_equal(sql_long("SELECT count(*) FROM crossings WHERE site_id = $1", s.site), N);
    assert_int_equal(count_events(s.site), 2);
}

/* ---- tests: customers ---- */

static void a_customer_confirms_a_proposed_order_with_a_speed(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site(&s, "on_demand", NULL, 2000);
    assert_int_equal(crossing(s.site, 20), 0);
    char id[CT_UUID_STRLEN + 1], path[160];
    test_resp_t o, r;
    only_order(s.site, id, &o);
    test_resp_dispose(&o);
    snprintf(path, sizeof path, "/api/v1/orders/orders/%s/confirm", id);
    char *orderer = session_headers(s.customer, CT_ROLE_ORDERER, true);
    call("POST", path, orderer, "{\"quantity_kg\": 500, \"speed\": \"express_48h\"}", &r);
    expect_status(&r, 200, "confirm");
    assert_string_equal(jstr(&r, "status"), "scheduled");
    assert_string_equal(jstr(&r, "speed"), "express_48h");
    assert_string_equal(jstr(&r, "delivery_date"), "2026-11-24");
    assert_int_equal(json_integer_value(json_object_get(r.json, "quantity_kg")), 500);
    test_resp_dispose(&r);
    int n;
    Citerne__V1__OrdersEvent **evs = events_of(s.site, &n);
    assert_int_equal(n, 2);
    assert_int_equal(evs[1]->body_case, CITERNE__V1__ORDERS_EVENT__BODY_DELIVERY_SCHEDULED);
    assert_string_equal(evs[1]->delivery_scheduled->order_id, id);
    assert_string_equal(evs[1]->delivery_scheduled->delivery_date, "2026-11-24");
    assert_int_equal(evs[1]->delivery_scheduled->quantity_kg, 500);
    assert_string_equal(evs[1]->delivery_scheduled->speed, "express_48h");
    /* the session's user (notify tells the admins who ordered it) */
    assert_true(ct_uuid_valid(evs[1]->delivery_scheduled->confirmed_by));
    assert_string_equal(evs[1]->meta->correlation_id, last_crossing.id);
    assert_string_equal(evs[1]->meta->causation_id, evs[0]->meta->event_id);
    events_free(evs, n);
    /* once scheduled, confirming again is a conflict and changes nothing */
    call("POST", path, orderer, "{}", &r);
    expect_status(&r, 409, "second confirm");
    test_resp_dispose(&r);
    assert_int_equal(count_events(s.site), 2);
    free(orderer);
}

static void speeds_default_and_dates_follow_the_calendar(void **state)
{
    REQUIRE_STACK();
    static const struct {
        const char *body;
        const char *date;
        int quantity;
    } cases[] = {
        {NULL, "2026-12-04", 1300},                          /* no body: standard */
        {"{}", "2026-12-04", 1300},                          /* standard: +10 */
        {"{\"speed\": \"express_8d\"}", "2026-11-27", 1300}, /* +5 */
        {"{\"speed\": \"express_24h\", \"quantity_kg\": 200}", "2026-11-23", 200}, /* +1 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        site_t s;
        make_site(&s, "on_demand", NULL, 2000);
        assert_int_equal(crossing(s.site, 20), 0);
        char id[CT_UUID_STRLEN + 1], path[160];
        test_resp_t o, r;
        only_order(s.site, id, &o);
        test_resp_dispose(&o);
        snprintf(path, sizeof path, "/api/v1/orders/orders/%s/confirm", id);
        char *h = session_headers(s.customer, CT_ROLE_ADMIN, true);
        call("POST", path, h, cases[i].body, &r);
        expect_status(&r, 200, cases[i].body ? cases[i].body : "no body");
        assert_string_equal(jstr(&r, "delivery_date"), cases[i].date);
        assert_int_equal(json_integer_value(json_object_get(r.json, "quantity_kg")),
                         cases[i].quantity);
        test_resp_dispose(&r);
        free(h);
    }
}

static void express_24h_is_not_offered_to_households(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site(&s, "on_demand", NULL, 1000);
    Citerne__V1__CustomerCreated cu = CITERNE__V1__CUSTOMER_CREATED__INIT;
    cu.customer_id = s.customer;
    cu.segment = "household";
    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_CREATED;
    ev.customer_created = &cu;
    assert_int_equal(apply_accounts(&ev), 0);
    assert_int_equal(crossing(s.site, 20), 0);
    char id[CT_UUID_STRLEN + 1], path[160];
    test_resp_t o, r;
    only_order(s.site, id, &o);
    test_resp_dispose(&o);
    snprintf(path, sizeof path, "/api/v1/orders/orders/%s/confirm", id);
    char *h = session_headers(s.customer, CT_ROLE_ADMIN, true);
    call("POST", path, h, "{\"speed\": \"express_24h\"}", &r);
    expect_status(&r, 400, "express 24 h for a household");
    json_t *e = json_array_get(json_object_get(r.json, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "field")), "speed");
    test_resp_dispose(&r);
    assert_int_equal(count_events(s.site), 1);
    call("POST", path, h, "{\"speed\": \"express_48h\"}", &r);
    expect_status(&r, 200, "express 48 h for a household");
    test_resp_dispose(&r);
    free(h);
}

static void confirmation_is_refused_to_whoever_may_not_order(void **state)
{
    REQUIRE_STACK();
    site_t s, other;
    make_site(&s, "on_demand", NULL, 1000);
    make_site(&other, "on_demand", NULL, 1000);
    assert_int_equal(crossing(s.site, 20), 0);
    char id[CT_UUID_STRLEN + 1], path[160];
    test_resp_t o, r;
    only_order(s.site, id, &o);
    test_resp_dispose(&o);
    snprintf(path, sizeof path, "/api/v1/orders/orders/%s/confirm", id);
    static const char *body = "{\"quantity_kg\": 500}";

    char *viewer = session_headers(s.customer, CT_ROLE_VIEWER, true);
    call("POST", path, viewer, body, &r);
    expect_status(&r, 403, "viewer");
    test_resp_dispose(&r);
    char *stranger = session_headers(other.customer, CT_ROLE_ADMIN, true);
    call("POST", path, stranger, body, &r);
    expect_status(&r, 404, "another customer's order");
    test_resp_dispose(&r);
    char *no_csrf = session_headers(s.customer, CT_ROLE_ORDERER, false);
    call("POST", path, no_csrf, body, &r);
    expect_status(&r, 401, "no CSRF token");
    test_resp_dispose(&r);
    call("POST", path, NULL, body, &r);
    expect_status(&r, 401, "no session");
    test_resp_dispose(&r);
    call("POST", path, OP, body, &r);
    expect_status(&r, 401, "the operator key is not a session");
    test_resp_dispose(&r);

    char *orderer = session_headers(s.customer, CT_ROLE_ORDERER, true);
    static const struct {
        const char *body;
        const char *field;
    } bad[] = {
        {"{\"quantity_kg\": 1001}", "quantity_kg"}, /* above the 1000 kg tank */
        {"{\"quantity_kg\": 199}", "quantity_kg"},
        {"{\"quantity_kg\": \"500\"}", "quantity_kg"},
        {"{\"speed\": \"tomorrow\"}", "speed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        call("POST", path, orderer, bad[i].body, &r);
        expect_status(&r, 400, bad[i].body);
        json_t *e = json_array_get(json_object_get(r.json, "errors"), 0);
        assert_string_equal(json_string_value(json_object_get(e, "field")), bad[i].field);
        test_resp_dispose(&r);
    }
    snprintf(path, sizeof path, "/api/v1/orders/orders/%s/confirm",
             "0190a000-0000-7000-8000-0000000000ff");
    call("POST", path, orderer, "{}", &r);
    expect_status(&r, 404, "unknown order");
    test_resp_dispose(&r);
    char *status = sql_value("SELECT status FROM orders WHERE order_id = $1", id);
    assert_string_equal(status, "proposed");
    free(status);
    assert_int_equal(count_events(s.site), 1);
    free(viewer);
    free(stranger);
    free(no_csrf);
    free(orderer);
}

static void reads_show_a_customer_only_its_own_orders(void **state)
{
    REQUIRE_STACK();
    site_t s, other;
    make_site(&s, "on_demand", NULL, 1000);
    make_site(&other, "on_demand", NULL, 1000);
    assert_int_equal(crossing(s.site, 20), 0);
    char id[CT_UUID_STRLEN + 1], path[160];
    test_resp_t o, r;
    only_order(s.site, id, &o);
    test_resp_dispose(&o);
    char *viewer = session_headers(s.customer, CT_ROLE_VIEWER, false);
    char *stranger = session_headers(other.customer, CT_ROLE_ADMIN, false);

    snprintf(path, sizeof path, "/api/v1/orders/orders/%s", id);
    call("GET", path, viewer, NULL, &r);
    expect_status(&r, 200, "own order");
    assert_string_equal(jstr(&r, "id"), id);
    test_resp_dispose(&r);
    call("GET", path, stranger, NULL, &r);
    expect_status(&r, 404, "another customer's order");
    test_resp_dispose(&r);
    call("GET", path, NULL, NULL, &r);
    expect_status(&r, 401, "anonymous");
    test_resp_dispose(&r);
    call("GET", path, DRV, NULL, &r);
    expect_status(&r, 401, "driver key on a customer read");
    test_resp_dispose(&r);
    call("GET", "/api/v1/orders/orders/not-a-uuid", OP, NULL, &r);
    expect_status(&r, 404, "not a uuid");
    test_resp_dispose(&r);

    snprintf(path, sizeof path, "/api/v1/orders/orders?site_id=%s", s.site);
    call("GET", path, viewer, NULL, &r);
    expect_status(&r, 200, "own site");
    assert_int_equal(json_array_size(json_object_get(r.json, "orders")), 1);
    test_resp_dispose(&r);
    call("GET", path, stranger, NULL, &r);
    expect_status(&r, 404, "another customer's site");
    test_resp_dispose(&r);
    snprintf(path, sizeof path, "/api/v1/orders/orders?site_id=%s",
             "0190a000-0000-7000-8000-0000000000ff");
    call("GET", path, OP, NULL, &r);
    expect_status(&r, 200, "operator, site not known yet");
    assert_int_equal(json_array_size(json_object_get(r.json, "orders")), 0);
    test_resp_dispose(&r);
    call("GET", "/api/v1/orders/orders", OP, NULL, &r);
    expect_status(&r, 400, "no site_id");
    test_resp_dispose(&r);
    call("GET", "/api/v1/orders/orders?site_id=x", OP, NULL, &r);
    expect_status(&r, 400, "bad site_id");
    test_resp_dispose(&r);
    free(viewer);
    free(stranger);
}

/* ---- tests: drivers ---- */

static void a_driver_confirms_a_scheduled_delivery_once(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site(&s, "automatic", NULL, 1000);
    assert_int_equal(crossing(s.site, 25), 0);
    char path[160], id[CT_UUID_STRLEN + 1];
    test_resp_t r;
    snprintf(path, sizeof path, "/api/v1/orders/deliveries?site_id=%s&status=scheduled", s.site);
    call("GET", path, DRV, NULL, &r);
    expect_status(&r, 200, "deliveries");
    json_t *list = json_object_get(r.json, "deliveries");
    assert_int_equal(json_array_size(list), 1);
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(json_array_get(list, 0), "id")));
    test_resp_dispose(&r);
    call("GET", "/api/v1/orders/deliveries?date=2026-11-24", DRV, NULL, &r);
    expect_status(&r, 200, "deliveries of a date");
    bool found = false;
    size_t k;
    json_t *d;
    json_array_foreach(json_object_get(r.json, "deliveries"), k, d)
    {
        assert_string_equal(json_string_value(json_object_get(d, "delivery_date")), "2026-11-24");
        found |= strcmp(json_string_value(json_object_get(d, "id")), id) == 0;
    }
    assert_true(found);
    test_resp_dispose(&r);

    snprintf(path, sizeof path, "/api/v1/orders/deliveries/%s/confirm", id);
    call("POST", path, NULL, "{\"delivered_kg\": 590, \"level_after_pct\": 84}", &r);
    expect_status(&r, 401, "no key");
    test_resp_dispose(&r);
    call("POST", path, OP, "{\"delivered_kg\": 590, \"level_after_pct\": 84}", &r);
    expect_status(&r, 401, "operator key");
    test_resp_dispose(&r);
    call("POST", path, DRV, "{\"delivered_kg\": 0, \"level_after_pct\": 101}", &r);
    expect_status(&r, 400, "bad body");
    assert_int_equal(json_array_size(json_object_get(r.json, "errors")), 2);
    test_resp_dispose(&r);
    call("POST", path, DRV,
         "{\"delivered_kg\": 590, \"level_after_pct\": 84,"
         " \"delivered_on\": \"2026-02-30\"}",
         &r);
    expect_status(&r, 400, "bad date");
    test_resp_dispose(&r);

    /* delivered in the evening: 22:30 UTC on Monday is Monday in Paris */
    test_now = FRIDAY_MS + (3 * 24 * 60 + 12 * 60 + 30) * MINUTE_MS;
    call("POST", path, DRV, "{\"delivered_kg\": 590, \"level_after_pct\": 84}", &r);
    expect_status(&r, 200, "confirm");
    assert_string_equal(jstr(&r, "status"), "delivered");
    assert_string_equal(jstr(&r, "delivery_date"), "2026-11-23");
    assert_int_equal(json_integer_value(json_object_get(r.json, "delivered_kg")), 590);
    assert_int_equal(json_integer_value(json_object_get(r.json, "level_after_pct")), 84);
    test_resp_dispose(&r);
    call("POST", path, DRV, "{\"delivered_kg\": 590, \"level_after_pct\": 84}", &r);
    expect_status(&r, 409, "second confirmation");
    test_resp_dispose(&r);

    int n;
    Citerne__V1__OrdersEvent **evs = events_of(s.site, &n);
    assert_int_equal(n, 3);
    assert_int_equal(evs[2]->body_case, CITERNE__V1__ORDERS_EVENT__BODY_DELIVERY_CONFIRMED);
    const Citerne__V1__DeliveryConfirmed *c = evs[2]->delivery_confirmed;
    assert_string_equal(c->order_id, id);
    assert_string_equal(c->customer_id, s.customer);
    assert_string_equal(c->delivery_date, "2026-11-23");
    assert_int_equal(c->delivered_kg, 590);
    assert_int_equal(c->ordered_kg, 600);
    assert_int_equal(c->level_after_pct, 84);
    assert_string_equal(c->speed, "standard");
    assert_string_equal(c->delivery_mode, "automatic");
    assert_string_equal(evs[2]->meta->causation_id, evs[1]->meta->event_id);
    assert_string_equal(evs[2]->meta->correlation_id, last_crossing.id);
    events_free(evs, n);

    /* the site is free again: the next crossing opens a new order */
    assert_int_equal(crossing(s.site, 20), 0);
    assert_int_equal(sql_long("SELECT count(*) FROM orders WHERE site_id = $1", s.site), 2);
}

static void a_driver_cannot_deliver_what_is_not_scheduled(void **state)
{
    REQUIRE_STACK();
    site_t s;
    make_site(&s, "on_demand", NULL, 1000);
    assert_int_equal(crossing(s.site, 25), 0);
    char path[160], id[CT_UUID_STRLEN + 1];
    test_resp_t o, r;
    only_order(s.site, id, &o);
    test_resp_dispose(&o);
    snprintf(path, sizeof path, "/api/v1/orders/deliveries/%s/confirm", id);
    call("POST", path, DRV,
         "{\"delivered_kg\": 500, \"level_after_pct\": 80,"
         " \"delivered_on\": \"2026-11-20\"}",
         &r);
    expect_status(&r, 409, "proposed order");
    test_resp_dispose(&r);
    snprintf(path, sizeof path, "/api/v1/orders/deliveries/%s/confirm",
             "0190a000-0000-7000-8000-0000000000ff");
    call("POST", path, DRV, "{\"delivered_kg\": 500, \"level_after_pct\": 80}", &r);
    expect_status(&r, 404, "unknown order");
    test_resp_dispose(&r);
    static const char *const bad_queries[] = {"status=proposed", "site_id=nope", "date=2026-13-01",
                                              "limit=0"};
    for (size_t i = 0; i < sizeof bad_queries / sizeof bad_queries[0]; i++) {
        snprintf(path, sizeof path, "/api/v1/orders/deliveries?%s", bad_queries[i]);
        call("GET", path, DRV, NULL, &r);
        if (r.status != 400)
            fail_msg("%s: status %d, want 400", bad_queries[i], r.status);
        test_resp_dispose(&r);
    }
    assert_int_equal(count_events(s.site), 1);
}

static int group_setup(void **state)
{
    (void)state;
    return orders_fixture_setup("orders_api");
}

static int group_teardown(void **state)
{
    (void)state;
    return orders_fixture_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(an_automatic_crossing_schedules_at_once_two_working_days_later,
                               test_setup),
        cmocka_unit_test_setup(the_crossing_date_is_the_paris_date, test_setup),
        cmocka_unit_test_setup(an_old_crossing_is_scheduled_from_today, test_setup),
        cmocka_unit_test_setup(an_on_demand_crossing_only_proposes, test_setup),
        cmocka_unit_test_setup(a_crossing_while_an_order_is_open_is_recorded_and_ignored,
                               test_setup),
        cmocka_unit_test_setup(a_crossing_for_a_site_not_yet_known_is_retried_then_skipped,
                               test_setup),
        cmocka_unit_test_setup(records_that_are_bad_or_unused_are_refused_or_ignored, test_setup),
        cmocka_unit_test_setup(concurrent_crossings_of_one_site_open_one_order, test_setup),
        cmocka_unit_test_setup(a_customer_confirms_a_proposed_order_with_a_speed, test_setup),
        cmocka_unit_test_setup(speeds_default_and_dates_follow_the_calendar, test_setup),
        cmocka_unit_test_setup(express_24h_is_not_offered_to_households, test_setup),
        cmocka_unit_test_setup(confirmation_is_refused_to_whoever_may_not_order, test_setup),
        cmocka_unit_test_setup(reads_show_a_customer_only_its_own_orders, test_setup),
        cmocka_unit_test_setup(a_driver_confirms_a_scheduled_delivery_once, test_setup),
        cmocka_unit_test_setup(a_driver_cannot_deliver_what_is_not_scheduled, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
