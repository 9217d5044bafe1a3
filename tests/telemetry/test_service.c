/* The citerne-telemetry binary as deployed, on the test stack (a fresh
 * database, the stack's bus and Redis, or a Redis that is down): /readyz does
 * not depend on Redis, since the gateway never needs it; while Redis is down
 * a session gets 503 and the keys keep working; with Redis up a session of
 * the site's customer reads its readings; SIGTERM drains to exit status 0
 * (the service exits 1 when a handle, Redis's included, is left open, and
 * the sanitizers fail it on a leak); CITERNE_REDIS_URL is required and a
 * malformed one stops the service. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libpq-fe.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "citerne/cache.h"
#include "citerne/id.h"
#include "citerne/session.h"
#include "http_client.h"
#include "session_cookie.h"
#include "stack.h"

#define GATEWAY_KEY "test-gateway-key-0123456789"
#define OPERATOR_KEY "test-operator-key-0123456789"

extern char **environ;

static struct {
    uv_loop_t loop;
    char *pg_url;
    int port;
    pid_t pid;
    char site[CT_UUID_STRLEN + 1], customer[CT_UUID_STRLEN + 1];
} T;

/* Starts the binary with the stack's settings and redis_url (NULL: unset). */
static void start(const char *redis_url)
{
    ct_test_require_stack();
    T.pg_url = ct_test_create_db("telemetry_svc");
    T.port = ct_test_free_port();
    char addr[64], pg[512], brokers[256], redis[256];
    snprintf(addr, sizeof addr, "CITERNE_HTTP_ADDR=127.0.0.1:%d", T.port);
    snprintf(pg, sizeof pg, "CITERNE_PG_URL=%s", T.pg_url);
    snprintf(brokers, sizeof brokers, "CITERNE_KAFKA_BROKERS=%s",
             ct_test_env("CITERNE_KAFKA_BROKERS"));
    snprintf(redis, sizeof redis, "CITERNE_REDIS_URL=%s", redis_url ? redis_url : "");
    char *env[32];
    size_t n = 0;
    env[n++] = addr;
    env[n++] = pg;
    env[n++] = brokers;
    if (redis_url)
        env[n++] = redis;
    env[n++] = "CITERNE_GATEWAY_KEY=" GATEWAY_KEY;
    env[n++] = "CITERNE_OPERATOR_KEY=" OPERATOR_KEY;
    env[n++] = "CITERNE_LOG_LEVEL=warn";
    env[n++] = "CITERNE_KAFKA_CONSUMER_CONF=fetch.wait.max.ms=10";
    /* the sanitizers' settings, PATH and the like */
    for (char **e = environ; *e && n < 31; e++)
        if (strncmp(*e, "CITERNE_", 8) != 0)
            env[n++] = *e;
    env[n] = NULL;
    char *argv[] = {TELEMETRY_BIN, NULL};
    assert_int_equal(posix_spawn(&T.pid, TELEMETRY_BIN, NULL, NULL, argv, env), 0);
}

/* The exit status once the process ends by itself or after SIGTERM. */
static int stop(bool term)
{
    if (term)
        assert_int_equal(kill(T.pid, SIGTERM), 0);
    /* a hang guard, not a measure: the drain takes milliseconds */
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 60000 / 20 && (got = waitpid(T.pid, &status, WNOHANG)) == 0; i++)
        uv_sleep(20);
    if (got != T.pid)
        fail_msg("telemetry still runs 60 s after %s", term ? "SIGTERM" : "start");
    T.pid = 0;
    if (!WIFEXITED(status))
        fail_msg("telemetry did not exit (wait status %d)", status);
    return WEXITSTATUS(status);
}

static void get(const char *path, const char *headers, test_resp_t *r)
{
    test_http(&T.loop, T.port, "GET", path, headers, NULL, r);
}

/* Polls /readyz until it answers 200 or the process dies (no deadline of
 * ours: ctest's timeout ends a hang). */
static void wait_ready(void)
{
    for (;;) {
        int status;
        if (waitpid(T.pid, &status, WNOHANG) == T.pid)
            fail_msg("telemetry exited before ready (wait status %d)", status);
        test_resp_t r;
        get("/readyz", NULL, &r);
        int code = r.status;
        json_t *failing = json_object_get(r.json, "failing");
        size_t i;
        json_t *name;
        json_array_foreach(failing, i, name)
        {
            /* not ready for Redis alone: fail now rather than wait forever */
            if (json_array_size(failing) == 1 && strcmp(json_string_value(name), "redis") == 0)
                fail_msg("/readyz fails on Redis alone: %s", r.body);
        }
        if (code == 200)
            assert_null(json_object_get(json_object_get(r.json, "checks"), "redis"));
        test_resp_dispose(&r);
        if (code == 200)
            return;
        uv_sleep(50);
    }
}

static void seed_site(void)
{
    ct_uuid_v7(T.site);
    ct_uuid_v7(T.customer);
    PGconn *pg = PQconnectdb(T.pg_url);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    const char *params[] = {T.site, T.customer};
    PGresult *res = PQexecParams(pg,
                                 "INSERT INTO sites (site_id, customer_id, capacity_kg,"
                                 " threshold_pct) VALUES ($1, $2, 1000, 30)",
                                 2, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    PQfinish(pg);
}

static int post_reading(void)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"readings\": [{\"site_id\": \"%s\", \"level_pct\": 50,"
             " \"measured_at\": \"2026-11-20T08:00:00Z\"}]}",
             T.site);
    test_resp_t r;
    test_http(&T.loop, T.port, "POST", "/api/v1/telemetry/readings",
              "Authorization: Bearer " GATEWAY_KEY "\r\n", body, &r);
    int status = r.status;
    test_resp_dispose(&r);
    return status;
}

static int get_status(const char *headers)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/telemetry/sites/%s/readings", T.site);
    test_resp_t r;
    get(path, headers, &r);
    int status = r.status;
    test_resp_dispose(&r);
    return status;
}

static bool cache_closed;

static void on_cache_closed(void *udata)
{
    (void)udata;
    cache_closed = true;
}

/* A session of a viewer of the site's customer, made in the stack's Redis. */
static void make_session(char cookie[160])
{
    ct_cache_t *cache = NULL;
    assert_int_equal(ct_cache_new(&T.loop, ct_test_env("CITERNE_REDIS_URL"), &cache), 0);
    for (int i = 0; i < 500 && !ct_cache_ready(cache); i++)
        uv_run(&T.loop, UV_RUN_NOWAIT), uv_sleep(10);
    assert_true(ct_cache_ready(cache));
    ct_test_session_cookie(&T.loop, cache, T.customer, CT_ROLE_VIEWER, cookie, 160);
    cache_closed = false;
    ct_cache_close(cache, on_cache_closed, NULL);
    assert_true(ct_test_run_until(&T.loop, &cache_closed, 5000));
}

/* ---- tests ---- */

static void with_redis_down_it_is_ready_keys_work_and_sessions_get_503(void **state)
{
    (void)state;
    start("redis://127.0.0.1:1/0"); /* nothing listens on port 1 */
    wait_ready();
    seed_site();
    assert_int_equal(post_reading(), 202);
    assert_int_equal(get_status("Authorization: Bearer " OPERATOR_KEY "\r\n"), 200);
    assert_int_equal(get_status("Cookie: " CT_SESSION_COOKIE "=000000000000000000000000000000000"
                                "0000000000000000000000000000000\r\n"),
                     503);
    assert_int_equal(get_status(NULL), 401);
    assert_int_equal(stop(true), 0);
}

static void with_redis_up_a_session_of_the_customer_reads_and_it_drains_clean(void **state)
{
    (void)state;
    start(ct_test_env("CITERNE_REDIS_URL"));
    wait_ready();
    seed_site();
    assert_int_equal(post_reading(), 202);
    char cookie[160];
    make_session(cookie);
    assert_int_equal(get_status(cookie), 200);
    assert_int_equal(stop(true), 0);
}

static void without_a_redis_url_it_refuses_to_start(void **state)
{
    (void)state;
    start(NULL);
    assert_int_equal(stop(false), 2); /* a setting error */
}

static void with_a_malformed_redis_url_it_stops_with_status_1(void **state)
{
    (void)state;
    start("http://127.0.0.1:6379/");
    assert_int_equal(stop(false), 1); /* on_start refused it: nothing left open */
}

static int set_up(void **state)
{
    (void)state;
    memset(&T, 0, sizeof T);
    assert_int_equal(uv_loop_init(&T.loop), 0);
    return 0;
}

static int tear_down(void **state)
{
    (void)state;
    if (T.pid > 0) { /* a failed test: do not leave the process behind */
        kill(T.pid, SIGKILL);
        waitpid(T.pid, NULL, 0);
    }
    ct_test_loop_close(&T.loop);
    if (T.pg_url) {
        PGconn *admin = PQconnectdb(ct_test_env("CITERNE_PG_URL"));
        const char *dbname = strrchr(T.pg_url, '/') + 1;
        char sql[160];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %.*s WITH (FORCE)",
                 (int)strcspn(dbname, "?"), dbname);
        PQclear(PQexec(admin, sql));
        PQfinish(admin);
        free(T.pg_url);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(with_redis_down_it_is_ready_keys_work_and_sessions_get_503,
                                        set_up, tear_down),
        cmocka_unit_test_setup_teardown(
            with_redis_up_a_session_of_the_customer_reads_and_it_drains_clean, set_up, tear_down),
        cmocka_unit_test_setup_teardown(without_a_redis_url_it_refuses_to_start, set_up, tear_down),
        cmocka_unit_test_setup_teardown(with_a_malformed_redis_url_it_stops_with_status_1, set_up,
                                        tear_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
