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
#include "citerne/metrics.h"
#include "citerne/migrate.h"
#include "citerne/v1/telemetry.pb-c.h"

#include "events.h"
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

int orders_fixture_setup(const char *db_prefix)
{
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
    F.pg_url = ct_test_create_db(db_prefix);
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

int orders_fixture_teardown(void)
{
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

int test_setup(void **state)
{
    (void)state;
    test_now = FRIDAY_MS;
    return 0;
}

/* ---- SQL helpers (the test's own connection) ---- */

char *sql_value(const char *sql, const char *param)
{
    const char *params[1] = {param};
    PGresult *res = PQexecParams(F.pg, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        fail_msg("%s: %s (%d rows)", sql, PQresultErrorMessage(res), PQntuples(res));
    char *v = strdup(PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
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

void events_free(Citerne__V1__OrdersEvent **evs, int n)
{
    for (int i = 0; i < n; i++)
        citerne__v1__orders_event__free_unpacked(evs[i], NULL);
    free(evs);
}

int count_events(const char *site)
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
int apply_record(const char *topic, const void *data, size_t len)
{
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
    test_http(&F.svc.loop, F.port, method, path, headers, body, r);
    if (r->status == 0)
        fail_msg("%s %s: no response", method, path);
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
char *session_headers(const char *customer, ct_role_t role, bool csrf)
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
