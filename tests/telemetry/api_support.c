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
#include "citerne/metrics.h"
#include "citerne/migrate.h"

#include "rfc3339.h"
#include "session_cookie.h"
#include "stack.h"

extern const ct_migration_t telemetry_migrations[];
extern const size_t telemetry_migrations_count;

fixture_t F;

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

int api_setup(const char *db_prefix)
{
    if (!ct_test_env("CITERNE_PG_URL"))
        return 0;
    ct_log_init("telemetry", CT_LOG_WARN);
    memset(&F, 0, sizeof F);
    ct_service_t *svc = &F.svc;
    assert_int_equal(uv_loop_init(&svc->loop), 0);
    snprintf(svc->topic, sizeof svc->topic, "citerne.telemetry.v1");
    F.pg_url = ct_test_create_db(db_prefix);
    assert_int_equal(ct_db_new(&svc->loop, F.pg_url, 3, &svc->db), 0);
    const char *redis = ct_test_env("CITERNE_REDIS_URL");
    assert_non_null(redis);
    assert_int_equal(ct_cache_new(&svc->loop, redis, &F.cache), 0);
    svc->cache = F.cache;
    assert_int_equal(ct_migrate_run(svc->db, telemetry_migrations, telemetry_migrations_count,
                                    on_migrated, NULL),
                     0);
    assert_true(ct_test_run_until(&svc->loop, &migrated, 30000));
    assert_int_equal(migrate_status, 0);

    F.app.svc = svc;
    assert_int_equal(ct_auth_key_init(&F.app.gateway_key, GATEWAY_KEY), 0);
    assert_int_equal(ct_auth_key_init(&F.app.operator_key, OPERATOR_KEY), 0);
    F.app.now_ms = ct_now_ms;
    F.app.csv_max_rows = TELEMETRY_CSV_MAX_ROWS;
    svc->udata = &F.app;
    assert_int_equal(ct_http_server_new(&svc->loop, NULL, &svc->http), 0);
    assert_int_equal(telemetry_api_register(svc->http, &F.app), 0);
    assert_int_equal(ct_http_listen(svc->http, "127.0.0.1:0"), 0);
    F.port = ct_http_port(svc->http);
    for (int i = 0; i < 300 && !ct_cache_ready(F.cache); i++)
        uv_run(&svc->loop, UV_RUN_NOWAIT), uv_sleep(10);
    assert_true(ct_cache_ready(F.cache));
    F.pg = PQconnectdb(F.pg_url);
    assert_int_equal(PQstatus(F.pg), CONNECTION_OK);
    return 0;
}

int api_reset(void **state)
{
    (void)state;
    F.svc.cache = F.cache;
    F.app.csv_max_rows = TELEMETRY_CSV_MAX_ROWS;
    return 0;
}

static int closes;

static void on_closed(void *udata)
{
    (void)udata;
    closes--;
}

int api_teardown(void)
{
    if (!F.pg_url)
        return 0;
    closes = 3;
    ct_http_server_close(F.svc.http, on_closed, NULL);
    ct_db_close(F.svc.db, on_closed, NULL);
    ct_cache_close(F.cache, on_closed, NULL);
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

/* ---- helpers ---- */

void call(const char *method, const char *path, const char *headers, const char *body,
          test_resp_t *r)
{
    test_http(&F.svc.loop, F.port, method, path, headers, body, r);
    if (r->status == 0)
        fail_msg("%s %s: no response", method, path);
}

char *sql_value(const char *sql, const char *param)
{
    const char *params[1] = {param};
    PGresult *res = PQexecParams(F.pg, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
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
