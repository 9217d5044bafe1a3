/* The telemetry HTTP API through the real server, against a fresh database
 * of the test stack: batches, threshold episodes across batches, late
 * readings, validation, unknown sites, and the events left in the outbox. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "citerne/db.h"
#include "citerne/http.h"
#include "citerne/id.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/migrate.h"
#include "citerne/service.h"
#include "citerne/v1/telemetry.pb-c.h"

#include "app.h"
#include "citerne/error.h"
#include "citerne/v1/accounts.pb-c.h"
#include "events.h"
#include "http_client.h"
#include "rfc3339.h"
#include "stack.h"

extern const ct_migration_t telemetry_migrations[];
extern const size_t telemetry_migrations_count;

#define GATEWAY_KEY "test-gateway-key-0123456789"
#define OPERATOR_KEY "test-operator-key-0123456789"
#define GW "Authorization: Bearer " GATEWAY_KEY "\r\n"
#define OP "Authorization: Bearer " OPERATOR_KEY "\r\n"

typedef struct {
    ct_service_t svc;
    telemetry_app_t app;
    char *pg_url;
    PGconn *pg; /* the test's own synchronous connection, for checks */
    int port;
} fixture_t;

static fixture_t F;

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
    ct_log_init("telemetry", CT_LOG_WARN);
    memset(&F, 0, sizeof F);
    ct_service_t *svc = &F.svc;
    assert_int_equal(uv_loop_init(&svc->loop), 0);
    snprintf(svc->topic, sizeof svc->topic, "citerne.telemetry.v1");
    F.pg_url = ct_test_create_db("telemetry_api");
    assert_int_equal(ct_db_new(&svc->loop, F.pg_url, 3, &svc->db), 0);
    assert_int_equal(ct_migrate_run(svc->db, telemetry_migrations, telemetry_migrations_count,
                                    on_migrated, NULL),
                     0);
    assert_true(ct_test_run_until(&svc->loop, &migrated, 30000));
    assert_int_equal(migrate_status, 0);

    F.app.svc = svc;
    assert_int_equal(ct_auth_key_init(&F.app.gateway_key, GATEWAY_KEY), 0);
    assert_int_equal(ct_auth_key_init(&F.app.operator_key, OPERATOR_KEY), 0);
    F.app.now_ms = ct_now_ms;
    svc->udata = &F.app;
    assert_int_equal(ct_http_server_new(&svc->loop, NULL, &svc->http), 0);
    assert_int_equal(telemetry_api_register(svc->http, &F.app), 0);
    assert_int_equal(ct_http_listen(svc->http, "127.0.0.1:0"), 0);
    F.port = ct_http_port(svc->http);
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
    closes = 2;
    ct_http_server_close(F.svc.http, on_closed, NULL);
    ct_db_close(F.svc.db, on_closed, NULL);
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

#define REQUIRE_STACK()                                                                            \
    do {                                                                                           \
        (void)state;                                                                               \
        if (!F.pg_url)                                                                             \
            ct_test_require_stack();                                                               \
    } while (0)

/* ---- helpers ---- */

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

/* A value of one row of SQL (the test's own connection), malloc'ed. */
static char *sql_value(const char *sql, const char *param)
{
    const char *params[1] = {param};
    PGresult *res = PQexecParams(F.pg, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
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

/* A site of customer `customer` (NULL: a new one) in the read model, as
 * SiteCreated would leave it. */
static void seed_site(char site[CT_UUID_STRLEN + 1], int capacity, int threshold)
{
    char customer[CT_UUID_STRLEN + 1], sql[400];
    ct_uuid_v7(site);
    ct_uuid_v7(customer);
    snprintf(sql, sizeof sql,
             "INSERT INTO sites (site_id, customer_id, capacity_kg, threshold_pct)"
             " VALUES ('%s', '%s', %d, %d)",
             site, customer, capacity, threshold);
    PGresult *res = PQexec(F.pg, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("seed: %s", PQresultErrorMessage(res));
    PQclear(res);
}

/* Posts one reading per (level, minute) pair, minutes after a fixed base. */
typedef struct {
    const char *site;
    int level;
    int minute;
} rd_t;

#define BASE_MS INT64_C(1795161600000) /* 2026-11-20T08:00:00Z */

static char *batch_json(const rd_t *rd, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char ts[32];
        telemetry_rfc3339_format(BASE_MS + (int64_t)rd[i].minute * 60000, ts, sizeof ts);
        json_array_append_new(list, json_pack("{s:s, s:i, s:s}", "site_id", rd[i].site, "level_pct",
                                              rd[i].level, "measured_at", ts));
    }
    json_t *body = json_pack("{s:o}", "readings", list);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return s;
}

static void post_batch(const rd_t *rd, size_t n, int want_status)
{
    char *body = batch_json(rd, n);
    test_resp_t r;
    call("POST", "/api/v1/telemetry/readings", GW, body, &r);
    expect_status(&r, want_status, "post readings");
    if (want_status == 202)
        assert_int_equal(json_integer_value(json_object_get(r.json, "accepted")), (long)n);
    test_resp_dispose(&r);
    free(body);
}

static long events_of(const char *site)
{
    return sql_long("SELECT count(*) FROM ct_outbox WHERE topic = 'citerne.telemetry.v1'"
                    " AND key = $1",
                    site);
}

static long readings_of(const char *site)
{
    return sql_long("SELECT count(*) FROM readings WHERE site_id = $1", site);
}

/* The n-th (0-based) TankThresholdCrossed of site, decoded. */
static Citerne__V1__TelemetryEvent *event_of(const char *site, int n)
{
    const char *params[1] = {site};
    PGresult *res = PQexecParams(F.pg,
                                 "SELECT payload, event_id::text FROM ct_outbox WHERE key = $1"
                                 " ORDER BY id",
                                 1, NULL, params, NULL, NULL, 1 /* binary */);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) <= n)
        fail_msg("no event %d of %s", n, site);
    Citerne__V1__TelemetryEvent *ev = citerne__v1__telemetry_event__unpack(
        NULL, (size_t)PQgetlength(res, n, 0), (const uint8_t *)PQgetvalue(res, n, 0));
    assert_non_null(ev);
    assert_non_null(ev->meta);
    assert_string_equal(ev->meta->event_id, PQgetvalue(res, n, 1));
    PQclear(res);
    assert_int_equal(ev->body_case, CITERNE__V1__TELEMETRY_EVENT__BODY_THRESHOLD_CROSSED);
    return ev;
}

/* ---- tests ---- */

static void the_first_crossing_of_a_batch_emits_one_event_with_the_crossing_reading(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1];
    seed_site(site, 1000, 30);
    ct_metric_t *readings = ct_metrics_counter("citerne_telemetry_readings_total", "");
    ct_metric_t *crossings = ct_metrics_counter("citerne_telemetry_crossings_total", "");
    double readings0 = ct_metric_value(readings), crossings0 = ct_metric_value(crossings);
    rd_t rd[] = {{site, 45, 0}, {site, 25, 10}, {site, 20, 20}};
    post_batch(rd, 3, 202);
    assert_true(ct_metric_value(readings) == readings0 + 3);
    assert_true(ct_metric_value(crossings) == crossings0 + 1);
    assert_int_equal(readings_of(site), 3);
    assert_int_equal(events_of(site), 1);
    Citerne__V1__TelemetryEvent *ev = event_of(site, 0);
    const Citerne__V1__TankThresholdCrossed *c = ev->threshold_crossed;
    assert_string_equal(c->site_id, site);
    assert_int_equal(c->level_pct, 25);
    assert_int_equal(c->threshold_pct, 30);
    assert_int_equal(c->capacity_kg, 1000);
    assert_int_equal(c->measured_at, BASE_MS + 10 * 60000);
    assert_string_equal(c->source, "sensor");
    assert_string_equal(ev->meta->producer, "telemetry");
    assert_string_equal(ev->meta->correlation_id, ev->meta->event_id);
    char *cust = sql_value("SELECT customer_id::text FROM sites WHERE site_id = $1", site);
    assert_string_equal(c->customer_id, cust);
    free(cust);
    citerne__v1__telemetry_event__free_unpacked(ev, NULL);
    char *armed = sql_value("SELECT armed::text || ' ' || to_char(last_measured_at AT TIME ZONE"
                            " 'UTC', 'HH24:MI') FROM sites WHERE site_id = $1",
                            site);
    assert_string_equal(armed, "false 08:20");
    free(armed);
}

static void an_episode_fires_once_and_rearms_only_after_a_refill_across_batches(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1];
    seed_site(site, 2000, 30);
    static const struct {
        int level;
        long events_after;
    } steps[] = {
        {50, 0}, {28, 1}, {22, 1}, {35, 1}, {39, 1}, /* below the hysteresis: still one */
        {29, 1}, {40, 1},                            /* refilled to 40: re-armed */
        {38, 1}, {29, 2},                            /* the next episode fires */
        {10, 2},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        rd_t rd = {site, steps[i].level, (int)i};
        post_batch(&rd, 1, 202);
        if (events_of(site) != steps[i].events_after)
            fail_msg("after reading %zu (%d%%): %ld events, want %ld", i, steps[i].level,
                     events_of(site), steps[i].events_after);
    }
    Citerne__V1__TelemetryEvent *ev = event_of(site, 1);
    assert_int_equal(ev->threshold_crossed->level_pct, 29);
    citerne__v1__telemetry_event__free_unpacked(ev, NULL);
}

static void a_batch_is_evaluated_in_measured_at_order_per_site(void **state)
{
    REQUIRE_STACK();
    char a[CT_UUID_STRLEN + 1], b[CT_UUID_STRLEN + 1];
    seed_site(a, 1000, 30);
    seed_site(b, 1000, 20);
    /* out of order in the request. For a, by time: 10 (minute 0) crosses,
     * 35 (minute 1) is below the re-arm level, 29 (minute 2) is in the same
     * episode: one event, for 10; in request order 29 would have crossed.
     * For b, the refill at minute 3 comes after the crossing at minute 2. */
    rd_t rd[] = {{a, 29, 2}, {b, 90, 3}, {a, 35, 1}, {b, 15, 2}, {a, 10, 0}};
    post_batch(rd, 5, 202);
    assert_int_equal(events_of(a), 1);
    assert_int_equal(events_of(b), 1);
    Citerne__V1__TelemetryEvent *ev = event_of(a, 0);
    assert_int_equal(ev->threshold_crossed->level_pct, 10);
    citerne__v1__telemetry_event__free_unpacked(ev, NULL);
    ev = event_of(b, 0);
    assert_int_equal(ev->threshold_crossed->level_pct, 15);
    citerne__v1__telemetry_event__free_unpacked(ev, NULL);
    char *st = sql_value("SELECT armed::text FROM sites WHERE site_id = $1", b);
    assert_string_equal(st, "true"); /* re-armed by the refill at minute 3 */
    free(st);
}

static void a_late_reading_is_stored_but_changes_no_episode(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1];
    seed_site(site, 1000, 30);
    rd_t now[] = {{site, 60, 100}};
    post_batch(now, 1, 202);
    rd_t late[] = {{site, 5, 50}};
    post_batch(late, 1, 202);
    assert_int_equal(readings_of(site), 2);
    assert_int_equal(events_of(site), 0);
    char *last = sql_value("SELECT to_char(last_measured_at AT TIME ZONE 'UTC', 'HH24:MI')"
                           " FROM sites WHERE site_id = $1",
                           site);
    assert_string_equal(last, "09:40");
    free(last);
    /* a crossing after it still fires */
    rd_t low[] = {{site, 25, 101}};
    post_batch(low, 1, 202);
    assert_int_equal(events_of(site), 1);
}

static void a_bad_reading_rejects_the_whole_batch_naming_each_field(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1];
    seed_site(site, 1000, 30);
    char body[1024];
    snprintf(body, sizeof body,
             "{\"readings\": [{\"site_id\": \"%s\", \"level_pct\": 10,"
             " \"measured_at\": \"2026-11-20T08:00:00Z\"},"
             " {\"site_id\": \"%s\", \"level_pct\": 101, \"measured_at\": \"2026-11-20\","
             " \"source\": \"guess\"},"
             " {\"site_id\": \"not-a-uuid\", \"level_pct\": \"10\","
             " \"measured_at\": \"2026-11-20T08:00:00Z\"}, 7]}",
             site, site);
    test_resp_t r;
    call("POST", "/api/v1/telemetry/readings", GW, body, &r);
    expect_status(&r, 400, "bad batch");
    static const char *const fields[] = {"readings[1].level_pct", "readings[1].measured_at",
                                         "readings[1].source",    "readings[2].site_id",
                                         "readings[2].level_pct", "readings[3]"};
    json_t *errors = json_object_get(r.json, "errors");
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        bool found = false;
        size_t k;
        json_t *e;
        json_array_foreach(errors, k, e)
        {
            found |= strcmp(json_string_value(json_object_get(e, "field")), fields[i]) == 0;
        }
        if (!found)
            fail_msg("no error for %s in %s", fields[i], r.body);
    }
    assert_int_equal(json_array_size(errors), sizeof fields / sizeof fields[0]);
    test_resp_dispose(&r);
    assert_int_equal(readings_of(site), 0);
    assert_int_equal(events_of(site), 0);

    static const char *const bad_bodies[] = {
        "{\"readings\": []}",
        "{\"readings\": {}}",
        "{}",
        "{\"readings\": null}",
        "{\"readings\": [{\"site_id\": \"0190a000-0000-7000-8000-000000000001\","
        " \"level_pct\": 10, \"measured_at\": \"2999-01-01T00:00:00Z\"}]}",
    };
    for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
        call("POST", "/api/v1/telemetry/readings", GW, bad_bodies[i], &r);
        if (r.status != 400)
            fail_msg("%s: status %d, want 400", bad_bodies[i], r.status);
        test_resp_dispose(&r);
    }
    call("POST", "/api/v1/telemetry/readings", GW, "[1, 2", &r);
    assert_int_equal(r.status, 400);
    test_resp_dispose(&r);
}

static void more_than_1000_readings_are_refused(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1];
    seed_site(site, 1000, 30);
    rd_t *rd = calloc(1001, sizeof *rd);
    for (int i = 0; i < 1001; i++)
        rd[i] = (rd_t){site, 50 + i % 40, i};
    post_batch(rd, 1001, 400);
    assert_int_equal(readings_of(site), 0);
    post_batch(rd, 1000, 202);
    assert_int_equal(readings_of(site), 1000);
    assert_int_equal(events_of(site), 0);
    free(rd);
}

static void an_unknown_site_rejects_the_batch_with_422_naming_it(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], unknown[CT_UUID_STRLEN + 1];
    seed_site(site, 1000, 30);
    ct_uuid_v7(unknown);
    rd_t rd[] = {{site, 10, 0}, {unknown, 10, 0}};
    char *body = batch_json(rd, 2);
    test_resp_t r;
    call("POST", "/api/v1/telemetry/readings", GW, body, &r);
    free(body);
    expect_status(&r, 422, "unknown site");
    assert_string_equal(json_string_value(json_object_get(r.json, "type")),
                        "/problems/unknown-site");
    json_t *ids = json_object_get(r.json, "site_ids");
    assert_int_equal(json_array_size(ids), 1);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), unknown);
    char *ct = test_resp_header(&r, "Content-Type");
    assert_non_null(strstr(ct, "application/problem+json"));
    free(ct);
    test_resp_dispose(&r);
    assert_int_equal(readings_of(site), 0);
    assert_int_equal(events_of(site), 0);
    char *armed = sql_value("SELECT armed::text FROM sites WHERE site_id = $1", site);
    assert_string_equal(armed, "true");
    free(armed);
}

static void each_endpoint_needs_its_own_key(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], path[128];
    seed_site(site, 1000, 30);
    rd_t rd = {site, 10, 0};
    char *body = batch_json(&rd, 1);
    snprintf(path, sizeof path, "/api/v1/telemetry/sites/%s/readings", site);
    static const char *const wrong[] = {NULL, OP, "Authorization: Bearer \r\n",
                                        "Authorization: Basic " GATEWAY_KEY "\r\n",
                                        "Authorization: Bearer " GATEWAY_KEY "x\r\n"};
    test_resp_t r;
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        call("POST", "/api/v1/telemetry/readings", wrong[i], body, &r);
        expect_status(&r, 401, "post without the gateway key");
        test_resp_dispose(&r);
    }
    call("GET", path, GW, NULL, &r);
    expect_status(&r, 401, "list with the gateway key");
    test_resp_dispose(&r);
    free(body);
    assert_int_equal(readings_of(site), 0);
}

static void a_sites_readings_are_listed_newest_first(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], path[160];
    seed_site(site, 1000, 30);
    snprintf(path, sizeof path, "/api/v1/telemetry/sites/%s/readings", site);
    test_resp_t r;
    call("GET", path, OP, NULL, &r);
    expect_status(&r, 200, "no reading yet");
    assert_int_equal(json_array_size(json_object_get(r.json, "readings")), 0);
    test_resp_dispose(&r);

    rd_t rd[] = {{site, 70, 5}, {site, 60, 30}, {site, 65, 10}};
    post_batch(rd, 3, 202);
    snprintf(path, sizeof path, "/api/v1/telemetry/sites/%s/readings?limit=2", site);
    call("GET", path, OP, NULL, &r);
    expect_status(&r, 200, "list");
    json_t *list = json_object_get(r.json, "readings");
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "level_pct")), 60);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "measured_at")),
                        "2026-11-20T08:30:00.000Z");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 1), "level_pct")), 65);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "source")),
                        "sensor");
    test_resp_dispose(&r);

    static const char *const bad_limits[] = {"0", "1001", "x", "", "-1", "10x"};
    for (size_t i = 0; i < sizeof bad_limits / sizeof bad_limits[0]; i++) {
        snprintf(path, sizeof path, "/api/v1/telemetry/sites/%s/readings?limit=%s", site,
                 bad_limits[i]);
        call("GET", path, OP, NULL, &r);
        if (r.status != 400)
            fail_msg("limit=%s: status %d, want 400", bad_limits[i], r.status);
        test_resp_dispose(&r);
    }
    char unknown[CT_UUID_STRLEN + 1];
    ct_uuid_v7(unknown);
    snprintf(path, sizeof path, "/api/v1/telemetry/sites/%s/readings", unknown);
    call("GET", path, OP, NULL, &r);
    expect_status(&r, 404, "unknown site");
    test_resp_dispose(&r);
    call("GET", "/api/v1/telemetry/sites/not-a-uuid/readings", OP, NULL, &r);
    expect_status(&r, 404, "not a uuid");
    test_resp_dispose(&r);
}

static void concurrent_batches_for_one_site_fire_one_event(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1];
    seed_site(site, 1000, 30);
    enum { N = 6 };
    char *bodies[N];
    test_call_t *calls[N];
    for (int i = 0; i < N; i++) {
        rd_t rd = {site, 10 + i, i};
        bodies[i] = batch_json(&rd, 1);
        calls[i] = test_http_start(&F.svc.loop, F.port, "POST", "/api/v1/telemetry/readings", GW,
                                   bodies[i]);
    }
    for (int i = 0; i < N; i++) {
        test_resp_t r;
        test_http_finish(calls[i], &r);
        expect_status(&r, 202, "concurrent batch");
        test_resp_dispose(&r);
        free(bodies[i]);
    }
    assert_int_equal(readings_of(site), N);
    assert_int_equal(events_of(site), 1);
}

/* ---- consumed events ---- */

static bool tx_done;
static int tx_status;

static void on_tx_done(const ct_db_error_t *err, void *udata)
{
    (void)udata;
    tx_status = err ? err->status : 0;
    tx_done = true;
}

static void on_tx_first(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    telemetry_event_apply(tx, udata);
}

/* Packs ev with a fresh meta, decodes it as the consumer does and applies
 * it in a transaction; returns the decode error or the outcome. */
static int apply_accounts(Citerne__V1__AccountsEvent *ev)
{
    char id[CT_UUID_STRLEN + 1];
    ct_uuid_v7(id);
    Citerne__V1__EventMeta meta = CITERNE__V1__EVENT_META__INIT;
    meta.event_id = id;
    meta.correlation_id = id;
    meta.occurred_at = ct_now_ms();
    ev->meta = &meta;
    size_t len = citerne__v1__accounts_event__get_packed_size(ev);
    uint8_t *buf = malloc(len + 1);
    citerne__v1__accounts_event__pack(ev, buf);
    telemetry_event_t *te = NULL;
    const char *why = NULL;
    int rc = telemetry_event_decode(buf, len, &te, &why);
    free(buf);
    if (rc != 0) {
        assert_null(te);
        assert_non_null(why);
        return rc;
    }
    assert_string_equal(telemetry_event_id(te), id);
    tx_done = false;
    assert_int_equal(ct_db_tx_begin(F.svc.db, on_tx_first, on_tx_done, te), 0);
    assert_true(ct_test_run_until(&F.svc.loop, &tx_done, 10000));
    telemetry_event_free(te);
    return tx_status;
}

static void site_created_adds_an_armed_site_and_a_replay_keeps_its_episode(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], customer[CT_UUID_STRLEN + 1];
    ct_uuid_v7(site);
    ct_uuid_v7(customer);
    Citerne__V1__SiteCreated sc = CITERNE__V1__SITE_CREATED__INIT;
    sc.site_id = site;
    sc.customer_id = customer;
    sc.contract_id = customer;
    sc.capacity_kg = 1750;
    sc.threshold_pct = 0; /* unset: the default, 30 */
    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED;
    ev.site_created = &sc;
    assert_int_equal(apply_accounts(&ev), 0);
    char *row = sql_value("SELECT customer_id || ' ' || capacity_kg || ' ' || threshold_pct"
                          " || ' ' || armed FROM sites WHERE site_id = $1",
                          site);
    char want[128];
    snprintf(want, sizeof want, "%s 1750 30 true", customer);
    assert_string_equal(row, want);
    free(row);

    /* the site now takes readings; its crossing disarms it */
    rd_t rd = {site, 12, 0};
    post_batch(&rd, 1, 202);
    assert_int_equal(events_of(site), 1);
    /* a replay with a new threshold keeps the episode (still disarmed) */
    sc.threshold_pct = 20;
    assert_int_equal(apply_accounts(&ev), 0);
    row = sql_value("SELECT threshold_pct || ' ' || armed FROM sites WHERE site_id = $1", site);
    assert_string_equal(row, "20 false");
    free(row);
}

static void bad_or_unused_accounts_records_are_refused_or_ignored(void **state)
{
    REQUIRE_STACK();
    const char *why = NULL;
    telemetry_event_t *te = NULL;
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01};
    assert_int_equal(telemetry_event_decode(junk, sizeof junk, &te, &why), CT_EDECODE);
    assert_null(te);
    Citerne__V1__AccountsEvent no_meta = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    uint8_t buf[64];
    size_t len = citerne__v1__accounts_event__pack(&no_meta, buf);
    assert_int_equal(telemetry_event_decode(buf, len, &te, &why), CT_EDECODE);

    char site[CT_UUID_STRLEN + 1], customer[CT_UUID_STRLEN + 1];
    ct_uuid_v7(site);
    ct_uuid_v7(customer);
    static const struct {
        const char *site, *customer;
        int capacity, threshold;
    } bad[] = {
        {"nope", NULL, 1000, 30},  {NULL, "", 1000, 30},   {NULL, NULL, 0, 30},
        {NULL, NULL, 1000001, 30}, {NULL, NULL, 1000, -1}, {NULL, NULL, 1000, 101},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Citerne__V1__SiteCreated sc = CITERNE__V1__SITE_CREATED__INIT;
        sc.site_id = (char *)(bad[i].site ? bad[i].site : site);
        sc.customer_id = (char *)(bad[i].customer ? bad[i].customer : customer);
        sc.capacity_kg = bad[i].capacity;
        sc.threshold_pct = bad[i].threshold;
        Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
        ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED;
        ev.site_created = &sc;
        if (apply_accounts(&ev) != CT_EINPUT)
            fail_msg("bad SiteCreated %zu was not refused", i);
    }
    assert_int_equal(sql_long("SELECT count(*) FROM sites WHERE site_id = $1", site), 0);
    /* other kinds: committed with no effect */
    Citerne__V1__CustomerCreated cc = CITERNE__V1__CUSTOMER_CREATED__INIT;
    cc.customer_id = customer;
    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_CREATED;
    ev.customer_created = &cc;
    long sites = sql_long("SELECT count(*) FROM sites", NULL);
    assert_int_equal(apply_accounts(&ev), 0);
    assert_int_equal(sql_long("SELECT count(*) FROM sites", NULL), sites);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_first_crossing_of_a_batch_emits_one_event_with_the_crossing_reading),
        cmocka_unit_test(an_episode_fires_once_and_rearms_only_after_a_refill_across_batches),
        cmocka_unit_test(a_batch_is_evaluated_in_measured_at_order_per_site),
        cmocka_unit_test(a_late_reading_is_stored_but_changes_no_episode),
        cmocka_unit_test(a_bad_reading_rejects_the_whole_batch_naming_each_field),
        cmocka_unit_test(more_than_1000_readings_are_refused),
        cmocka_unit_test(an_unknown_site_rejects_the_batch_with_422_naming_it),
        cmocka_unit_test(each_endpoint_needs_its_own_key),
        cmocka_unit_test(a_sites_readings_are_listed_newest_first),
        cmocka_unit_test(concurrent_batches_for_one_site_fire_one_event),
        cmocka_unit_test(site_created_adds_an_armed_site_and_a_replay_keeps_its_episode),
        cmocka_unit_test(bad_or_unused_accounts_records_are_refused_or_ignored),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
