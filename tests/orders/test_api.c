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
#include <libpq-fe.h>

#include "citerne/cache.h"
#include "citerne/db.h"
#include "citerne/error.h"
#include "citerne/event.h"
#include "citerne/http.h"
#include "citerne/id.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/migrate.h"
#include "citerne/service.h"
#include "citerne/session.h"
#include "citerne/v1/accounts.pb-c.h"
#include "citerne/v1/orders.pb-c.h"
#include "citerne/v1/telemetry.pb-c.h"

#include "app.h"
#include "events.h"
#include "http_client.h"
#include "stack.h"

extern const ct_migration_t orders_migrations[];
extern const size_t orders_migrations_count;

#define OPERATOR_KEY "test-operator-key-0123456789"
#define DRIVER_KEY "test-driver-key-0123456789"
#define OP "Authorization: Bearer " OPERATOR_KEY "\r\n"
#define DRV "Authorization: Bearer " DRIVER_KEY "\r\n"

/* Friday 2026-11-20 10:00 UTC (11:00 in Paris) */
#define FRIDAY_MS INT64_C(1795168800000)
#define MINUTE_MS INT64_C(60000)

typedef struct {
    ct_service_t svc;
    orders_app_t app;
    char *pg_url;
    PGconn *pg;
    int port;
} fixture_t;

static fixture_t F;
static int64_t test_now = FRIDAY_MS;

static int64_t pinned_now(void)
{
    return test_now;
}

static bool migrated;
static int migrate_status;

static void on_migrated(int status, const char *message, void *udata)
{
    (void)udata;
    migrate_status = status;
    if (status != 0)
        fprintf(stderr, "migrations: %s\n", message ? message : "?");
    migrated = true;
}

static int group_setup(void **state)
{
    (void)state;
    if (!ct_test_env("CITERNE_PG_URL"))
        return 0;
    if (!ct_test_env("CITERNE_REDIS_URL")) {
        fprintf(stderr, "the test stack has no CITERNE_REDIS_URL\n");
        return -1;
    }
    ct_log_init("orders", CT_LOG_WARN);
    memset(&F, 0, sizeof F);
    ct_service_t *svc = &F.svc;
    assert_int_equal(uv_loop_init(&svc->loop), 0);
    snprintf(svc->topic, sizeof svc->topic, "citerne.orders.v1");
    F.pg_url = ct_test_create_db("orders_api");
    assert_int_equal(ct_db_new(&svc->loop, F.pg_url, 3, &svc->db), 0);
    assert_int_equal(ct_cache_new(&svc->loop, ct_test_env("CITERNE_REDIS_URL"), &svc->cache), 0);
    assert_int_equal(
        ct_migrate_run(svc->db, orders_migrations, orders_migrations_count, on_migrated, NULL), 0);
    assert_true(ct_test_run_until(&svc->loop, &migrated, 30000));
    assert_int_equal(migrate_status, 0);

    F.app.svc = svc;
    assert_int_equal(ct_auth_key_init(&F.app.operator_key, OPERATOR_KEY), 0);
    assert_int_equal(ct_auth_key_init(&F.app.driver_key, DRIVER_KEY), 0);
    F.app.now_ms = pinned_now;
    svc->udata = &F.app;
    assert_int_equal(ct_http_server_new(&svc->loop, NULL, &svc->http), 0);
    assert_int_equal(orders_api_register(svc->http, &F.app), 0);
    assert_int_equal(ct_http_listen(svc->http, "127.0.0.1:0"), 0);
    F.port = ct_http_port(svc->http);
    for (int i = 0; i < 200 && !ct_cache_ready(svc->cache); i++)
        uv_run(&svc->loop, UV_RUN_NOWAIT), uv_sleep(10);
    assert_true(ct_cache_ready(svc->cache));
    F.pg = PQconnectdb(F.pg_url);
    assert_int_equal(PQstatus(F.pg), CONNECTION_OK);
    return 0;
}

static int closes;

static void on_closed(void *udata)
{
    (void)udata;
    closes--;
}

static int group_teardown(void **state)
{
    (void)state;
    if (!F.pg_url)
        return 0;
    closes = 3;
    ct_http_server_close(F.svc.http, on_closed, NULL);
    ct_db_close(F.svc.db, on_closed, NULL);
    ct_cache_close(F.svc.cache, on_closed, NULL);
    for (int i = 0; i < 1000 && closes > 0; i++)
        uv_run(&F.svc.loop, UV_RUN_ONCE);
    assert_int_equal(closes, 0);
    ct_test_loop_close(&F.svc.loop);
    PQfinish(F.pg);
    PGconn *admin = PQconnectdb(ct_test_env("CITERNE_PG_URL"));
    const char *dbname = strrchr(F.pg_url, '/') + 1;
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %.*s", (int)strcspn(dbname, "?"), dbname);
    PQclear(PQexec(admin, sql));
    PQfinish(admin);
    free(F.pg_url);
    ct_metrics_reset();
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    test_now = FRIDAY_MS;
    return 0;
}

#define REQUIRE_STACK()                                                                            \
    do {                                                                                           \
        (void)state;                                                                               \
        if (!F.pg_url)                                                                             \
            ct_test_require_stack();                                                               \
    } while (0)

/* ---- SQL helpers (the test's own connection) ---- */

static char *sql_value(const char *sql, const char *param)
{
    const char *params[1] = {param};
    PGresult *res = PQexecParams(F.pg, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        fail_msg("%s: %s (%d rows)", sql, PQresultErrorMessage(res), PQntuples(res));
    char *v = strdup(PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

static long sql_long(const char *sql, const char *param)
{
    char *v = sql_value(sql, param);
    long n = strtol(v, NULL, 10);
    free(v);
    return n;
}

/* Every OrdersEvent in the outbox for site, in order; *n gets the count. */
static Citerne__V1__OrdersEvent **events_of(const char *site, int *n)
{
    const char *params[1] = {site};
    PGresult *res = PQexecParams(F.pg,
                                 "SELECT payload, event_id::text FROM ct_outbox"
                                 " WHERE topic = 'citerne.orders.v1' AND key = $1 ORDER BY id",
                                 1, NULL, params, NULL, NULL, 1);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    *n = PQntuples(res);
    Citerne__V1__OrdersEvent **evs = calloc((size_t)*n + 1, sizeof *evs);
    for (int i = 0; i < *n; i++) {
        evs[i] = citerne__v1__orders_event__unpack(NULL, (size_t)PQgetlength(res, i, 0),
                                                   (const uint8_t *)PQgetvalue(res, i, 0));
        assert_non_null(evs[i]);
        assert_string_equal(evs[i]->meta->event_id, PQgetvalue(res, i, 1));
        assert_string_equal(evs[i]->meta->producer, "orders");
    }
    PQclear(res);
    return evs;
}

static void events_free(Citerne__V1__OrdersEvent **evs, int n)
{
    for (int i = 0; i < n; i++)
        citerne__v1__orders_event__free_unpacked(evs[i], NULL);
    free(evs);
}

static int count_events(const char *site)
{
    int n = 0;
    Citerne__V1__OrdersEvent **evs = events_of(site, &n);
    events_free(evs, n);
    return n;
}

/* ---- consumed events, applied as the inbox would ---- */

typedef struct {
    bool done;
    int status;
} applied_t;

static void on_applied(const ct_db_error_t *err, void *udata)
{
    (void)udata;
    (void)err;
}

static applied_t *current;

static void on_tx_done(const ct_db_error_t *err, void *udata)
{
    (void)udata;
    current->status = err ? err->status : 0;
    current->done = true;
}

static void on_tx_first(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    orders_event_apply(tx, udata);
}

/* Decodes and applies one record of topic; returns the decode error, or
 * the transaction's outcome (0 committed, CT_EUNAVAIL to be retried). */
static int apply_record(const char *topic, const void *data, size_t len)
{
    (void)on_applied;
    orders_event_t *ev = NULL;
    const char *why = NULL;
    int rc = orders_event_decode(&F.app, topic, data, len, &ev, &why);
    if (rc != 0)
        return rc;
    applied_t a = {0};
    current = &a;
    assert_int_equal(ct_db_tx_begin(F.svc.db, on_tx_first, on_tx_done, ev), 0);
    assert_true(ct_test_run_until(&F.svc.loop, &a.done, 10000));
    orders_event_free(ev);
    return a.status;
}

typedef struct {
    char id[CT_UUID_STRLEN + 1];
    Citerne__V1__EventMeta meta;
} meta_t;

static void meta_new(meta_t *m, int64_t occurred)
{
    citerne__v1__event_meta__init(&m->meta);
    ct_uuid_v7(m->id);
    m->meta.event_id = m->id;
    m->meta.correlation_id = m->id;
    m->meta.occurred_at = occurred;
    m->meta.producer = "test";
}

static int apply_accounts(Citerne__V1__AccountsEvent *ev)
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

typedef struct {
    char customer[CT_UUID_STRLEN + 1];
    char contract[CT_UUID_STRLEN + 1];
    char site[CT_UUID_STRLEN + 1];
} site_t;

/* ContractCreated then SiteCreated (the site names no mode when
 * site_mode is NULL: it takes the contract's). */
static void make_site(site_t *s, const char *contract_mode, const char *site_mode, int capacity)
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
    si.certificate_received = true;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED;
    ev.site_created = &si;
    assert_int_equal(apply_accounts(&ev), 0);
}

static meta_t last_crossing;

static int crossing_at(const char *site, int level, int64_t measured, int64_t occurred)
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

static int crossing(const char *site, int level)
{
    return crossing_at(site, level, test_now, test_now);
}

/* ---- HTTP helpers ---- */

static void call(const char *method, const char *path, const char *headers, const char *body,
                 test_resp_t *r)
{
    test_http(&F.svc.loop, F.port, method, path, headers, body, r);
    if (r->status == 0)
        fail_msg("%s %s: no response", method, path);
}

static void expect_status(const test_resp_t *r, int want, const char *what)
{
    if (r->status != want)
        fail_msg("%s: status %d, want %d; body %s", what, r->status, want,
                 r->body ? r->body : "(none)");
}

static const char *jstr(const test_resp_t *r, const char *field)
{
    json_t *v = json_object_get(r->json, field);
    if (!json_is_string(v))
        fail_msg("%s is not a string in %s", field, r->body ? r->body : "(none)");
    return json_string_value(v);
}

/* The only order of a site, as the operator sees it; its id into id. */
static void only_order(const char *site, char id[CT_UUID_STRLEN + 1], test_resp_t *order)
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

typedef struct {
    bool done;
    int status;
    char token[65];
    char csrf[65];
} created_t;

static void on_session_created(int status, const char *token, const ct_session_t *s, void *udata)
{
    created_t *c = udata;
    c->status = status;
    if (status == 0) {
        snprintf(c->token, sizeof c->token, "%s", token);
        snprintf(c->csrf, sizeof c->csrf, "%s", s->csrf);
    }
    c->done = true;
}

/* Headers of a session with role on customer: cookie and (csrf) the token. */
static char *session_headers(const char *customer, ct_role_t role, bool csrf)
{
    ct_session_t s;
    memset(&s, 0, sizeof s);
    ct_uuid_v7(s.user_id);
    s.ngrants = 1;
    snprintf(s.grants[0].customer_id, sizeof s.grants[0].customer_id, "%s", customer);
    s.grants[0].role = role;
    created_t c = {0};
    assert_int_equal(ct_session_create(F.svc.cache, &s, 600, on_session_created, &c), 0);
    assert_true(ct_test_run_until(&F.svc.loop, &c.done, 5000));
    assert_int_equal(c.status, 0);
    char *h = malloc(512);
    snprintf(h, 512, "Cookie: " CT_SESSION_COOKIE "=%s\r\n%s%s%s", c.token,
             csrf ? "X-CSRF-Token: " : "", csrf ? c.csrf : "", csrf ? "\r\n" : "");
    return h;
}

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
