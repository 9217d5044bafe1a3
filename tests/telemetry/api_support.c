/* The fixture of telemetry's stack tests (see api_support.h). */
#include "api_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/cache.h"
#include "citerne/db.h"
#include "citerne/http.h"
#include "citerne/log.h"
#include "citerne/migrate.h"

#include "fixture.h"
#include "rfc3339.h"
#include "service_fixture.h"
#include "session_cookie.h"
#include "stack.h"

extern const ct_migration_t telemetry_migrations[];
extern const size_t telemetry_migrations_count;

fixture_t F;

static int routes(ct_service_t *svc, void *udata)
{
    return telemetry_api_register(svc->http, udata);
}

int api_setup(const char *db_prefix)
{
    memset(&F, 0, sizeof F);
    F.app.svc = &F.svc;
    assert_int_equal(ct_auth_key_init(&F.app.gateway_key, GATEWAY_KEY), 0);
    assert_int_equal(ct_auth_key_init(&F.app.operator_key, OPERATOR_KEY), 0);
    F.app.now_ms = ct_now_ms;
    F.app.csv_max_rows = TELEMETRY_CSV_MAX_ROWS;
    F.svc.udata = &F.app;
    const ct_test_service_opts_t o = {
        .name = "telemetry",
        .log_level = CT_LOG_WARN,
        .db_prefix = db_prefix,
        .db_connections = 3,
        .migrations = telemetry_migrations,
        .nmigrations = telemetry_migrations_count,
        .redis = true,
        .routes = routes,
        .udata = &F.app,
    };
    int rc = ct_test_service_open(&F.svc, &o, &F.pg_url, &F.pg, &F.port);
    F.cache = F.svc.cache;
    return rc;
}

int api_reset(void **state)
{
    (void)state;
    F.svc.cache = F.cache;
    F.app.csv_max_rows = TELEMETRY_CSV_MAX_ROWS;
    return 0;
}

int api_teardown(void)
{
    F.svc.cache = F.cache; /* the stack's Redis, whatever a failed test swapped in */
    ct_test_service_close(&F.svc, F.pg, F.pg_url);
    return 0;
}

/* ---- helpers ---- */

void call(const char *method, const char *path, const char *headers, const char *body,
          test_resp_t *r)
{
    test_request(&F.svc.loop, F.port, method, path, headers, body, r);
}

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

void seed_site(char site[CT_UUID_STRLEN + 1], int capacity, int threshold)
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

char *customer_of(const char *site)
{
    return sql_value("SELECT customer_id::text FROM sites WHERE site_id = $1", site);
}

void session_for(const char *customer_id, ct_role_t role, char *out, size_t size)
{
    ct_test_session_cookie(&F.svc.loop, F.cache, customer_id, role, out, size);
}

char *batch_json(const rd_t *rd, size_t n)
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

void post_batch(const rd_t *rd, size_t n, int want_status)
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

long events_of(const char *site)
{
    return sql_long("SELECT count(*) FROM ct_outbox WHERE topic = 'citerne.telemetry.v1'"
                    " AND key = $1",
                    site);
}

long readings_of(const char *site)
{
    return sql_long("SELECT count(*) FROM readings WHERE site_id = $1", site);
}

Citerne__V1__TelemetryEvent *event_of(const char *site, int n)
{
    size_t count = 0;
    ProtobufCMessage **evs = ct_test_outbox_events(F.pg, &citerne__v1__telemetry_event__descriptor,
                                                   NULL, site, NULL, &count);
    if (count <= (size_t)n)
        fail_msg("no event %d of %s", n, site);
    Citerne__V1__TelemetryEvent *ev = (Citerne__V1__TelemetryEvent *)evs[n];
    evs[n] = evs[count - 1];
    ct_test_outbox_free(evs, count - 1);
    assert_int_equal(ev->body_case, CITERNE__V1__TELEMETRY_EVENT__BODY_THRESHOLD_CROSSED);
    return ev;
}
