/* The fixture of orders' stack tests: see support.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "citerne/cache.h"
#include "citerne/db.h"
#include "citerne/error.h"
#include "citerne/event.h"
#include "citerne/http.h"
#include "citerne/id.h"
#include "citerne/log.h"
#include "citerne/migrate.h"
#include "citerne/v1/telemetry.pb-c.h"

#include "events.h"
#include "fixture.h"
#include "service_fixture.h"
#include "session_cookie.h"
#include "stack.h"
#include "support.h"

extern const ct_migration_t orders_migrations[];
extern const size_t orders_migrations_count;

fixture_t F;
int64_t test_now = FRIDAY_MS;

static int64_t pinned_now(void)
{
    return test_now;
}

static int routes(ct_service_t *svc, void *udata)
{
    return orders_api_register(svc->http, udata);
}

int orders_fixture_setup(const char *db_prefix)
{
    memset(&F, 0, sizeof F);
    F.app.svc = &F.svc;
    assert_int_equal(ct_auth_key_init(&F.app.operator_key, OPERATOR_KEY), 0);
    assert_int_equal(ct_auth_key_init(&F.app.driver_key, DRIVER_KEY), 0);
    F.app.now_ms = pinned_now;
    F.svc.udata = &F.app;
    const ct_test_service_opts_t o = {
        .name = "orders",
        .log_level = CT_LOG_WARN,
        .db_prefix = db_prefix,
        .db_connections = 3,
        .migrations = orders_migrations,
        .nmigrations = orders_migrations_count,
        .redis = true,
        .routes = routes,
        .udata = &F.app,
    };
    return ct_test_service_open(&F.svc, &o, &F.pg_url, &F.pg, &F.port);
}

int orders_fixture_teardown(void)
{
    ct_test_service_close(&F.svc, F.pg, F.pg_url);
    return 0;
}

int test_setup(void **state)
{
    (void)state;
    test_now = FRIDAY_MS;
    return 0;
}

/* ---- SQL helpers (the test's own connection) ---- */

char *sql_value(const char *sql, const char *param)
{
    return ct_test_sql_one(F.pg, sql, param);
}

long sql_long(const char *sql, const char *param)
{
    char *v = sql_value(sql, param);
    long n = strtol(v, NULL, 10);
    free(v);
    return n;
}

/* Every OrdersEvent in the outbox for site, in order; *n gets the count. */
Citerne__V1__OrdersEvent **events_of(const char *site, int *n)
{
    size_t count = 0;
    ProtobufCMessage **evs = ct_test_outbox_events(F.pg, &citerne__v1__orders_event__descriptor,
                                                   "citerne.orders.v1", site, "orders", &count);
    *n = (int)count;
    return (Citerne__V1__OrdersEvent **)evs;
}

void events_free(Citerne__V1__OrdersEvent **evs, int n)
{
    ct_test_outbox_free((ProtobufCMessage **)evs, (size_t)n);
}

int count_events(const char *site)
{
    int n = 0;
    Citerne__V1__OrdersEvent **evs = events_of(site, &n);
    events_free(evs, n);
    return n;
}

/* ---- consumed events, applied as the inbox would ---- */

/* Decodes and applies one record of topic; returns the decode error, or
 * the transaction's outcome (0 committed, CT_EUNAVAIL to be retried). */
int apply_record(const char *topic, const void *data, size_t len)
{
    orders_event_t *ev = NULL;
    const char *why = NULL;
    int rc = orders_event_decode(&F.app, topic, data, len, &ev, &why);
    if (rc != 0)
        return rc;
    int status = ct_test_tx_apply(&F.svc.loop, F.svc.db, orders_event_apply, ev);
    orders_event_free(ev);
    return status;
}

void meta_new(meta_t *m, int64_t occurred)
{
    citerne__v1__event_meta__init(&m->meta);
    ct_uuid_v7(m->id);
    m->meta.event_id = m->id;
    m->meta.correlation_id = m->id;
    m->meta.occurred_at = occurred;
    m->meta.producer = "test";
}

int apply_accounts(Citerne__V1__AccountsEvent *ev)
{
    meta_t m;
    meta_new(&m, test_now);
    ev->meta = &m.meta;
    size_t len = citerne__v1__accounts_event__get_packed_size(ev);
    uint8_t *buf = malloc(len + 1);
    citerne__v1__accounts_event__pack(ev, buf);
    int rc = apply_record("citerne.accounts.v1", buf, len);
    free(buf);
    return rc;
}

void make_site(site_t *s, const char *contract_mode, const char *site_mode, int capacity)
{
    make_site_cert(s, contract_mode, site_mode, capacity, true);
}

void make_site_cert(site_t *s, const char *contract_mode, const char *site_mode, int capacity,
                    bool certificate_received)
{
    ct_uuid_v7(s->customer);
    ct_uuid_v7(s->contract);
    ct_uuid_v7(s->site);
    Citerne__V1__CustomerCreated cu = CITERNE__V1__CUSTOMER_CREATED__INIT;
    cu.customer_id = s->customer;
    cu.customer_number = "C000001";
    cu.segment = "business";
    cu.vat_rate_bp = 2000;
    Citerne__V1__AccountsEvent cev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    cev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_CREATED;
    cev.customer_created = &cu;
    assert_int_equal(apply_accounts(&cev), 0);
    Citerne__V1__ContractCreated c = CITERNE__V1__CONTRACT_CREATED__INIT;
    c.contract_id = s->contract;
    c.customer_id = s->customer;
    c.delivery_mode = (char *)contract_mode;
    c.price_per_tonne_cents = 180000;
    c.maintenance_plan = "none";
    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CONTRACT_CREATED;
    ev.contract_created = &c;
    assert_int_equal(apply_accounts(&ev), 0);
    Citerne__V1__SiteCreated si = CITERNE__V1__SITE_CREATED__INIT;
    si.site_id = s->site;
    si.contract_id = s->contract;
    si.customer_id = s->customer;
    si.capacity_kg = capacity;
    si.threshold_pct = 30;
    si.address = "1 rue des Lilas";
    si.delivery_mode = (char *)(site_mode ? site_mode : "");
    si.certificate_received = certificate_received;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED;
    ev.site_created = &si;
    assert_int_equal(apply_accounts(&ev), 0);
}

meta_t last_crossing;

int crossing_at(const char *site, int level, int64_t measured, int64_t occurred)
{
    Citerne__V1__TankThresholdCrossed c = CITERNE__V1__TANK_THRESHOLD_CROSSED__INIT;
    c.site_id = (char *)site;
    c.customer_id = "0190a000-0000-7000-8000-000000000000";
    c.level_pct = level;
    c.threshold_pct = 30;
    c.measured_at = measured;
    c.source = "sensor";
    c.capacity_kg = 1000;
    meta_new(&last_crossing, occurred);
    Citerne__V1__TelemetryEvent ev = CITERNE__V1__TELEMETRY_EVENT__INIT;
    ev.meta = &last_crossing.meta;
    ev.body_case = CITERNE__V1__TELEMETRY_EVENT__BODY_THRESHOLD_CROSSED;
    ev.threshold_crossed = &c;
    size_t len = citerne__v1__telemetry_event__get_packed_size(&ev);
    uint8_t *buf = malloc(len + 1);
    citerne__v1__telemetry_event__pack(&ev, buf);
    int rc = apply_record("citerne.telemetry.v1", buf, len);
    free(buf);
    return rc;
}

int crossing(const char *site, int level)
{
    return crossing_at(site, level, test_now, test_now);
}

/* ---- HTTP helpers ---- */

void call(const char *method, const char *path, const char *headers, const char *body,
          test_resp_t *r)
{
    test_request(&F.svc.loop, F.port, method, path, headers, body, r);
}

/* The only order of a site, as the operator sees it; its id into id. */
void only_order(const char *site, char id[CT_UUID_STRLEN + 1], test_resp_t *order)
{
    char path[160];
    snprintf(path, sizeof path, "/api/v1/orders/orders?site_id=%s", site);
    test_resp_t r;
    call("GET", path, OP, NULL, &r);
    expect_status(&r, 200, "orders of the site");
    json_t *list = json_object_get(r.json, "orders");
    if (json_array_size(list) != 1)
        fail_msg("want one order: %s", r.body);
    snprintf(id, CT_UUID_STRLEN + 1, "%s",
             json_string_value(json_object_get(json_array_get(list, 0), "id")));
    test_resp_dispose(&r);
    snprintf(path, sizeof path, "/api/v1/orders/orders/%s", id);
    call("GET", path, OP, NULL, order);
    expect_status(order, 200, "the order");
}

/* Headers of a session with role on customer: cookie and (csrf) the token. */
char *session_headers(const char *customer, ct_role_t role, bool csrf)
{
    char *h = malloc(512);
    assert_non_null(h);
    ct_test_session_headers(&F.svc.loop, F.svc.cache, customer, role, csrf, h, 512);
    return h;
}
