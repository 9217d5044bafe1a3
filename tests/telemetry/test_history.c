/* A site's history through the real server, against the test stack's
 * Postgres and Redis: who may read it (the operator key, a session with a
 * role on the site's customer; anyone else 404 as for an unknown site, 401
 * without credentials, 503 for a session while Redis is down), the pages of
 * the JSON list and the CSV download. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/cache.h"

#include "api_support.h"
#include "stack.h"

#define CSV_HEADER "site_id,measured_at,level_pct,source,received_at\r\n"

static void path_of(char *out, size_t size, const char *site, const char *suffix)
{
    snprintf(out, size, "/api/v1/telemetry/sites/%s/readings%s", site, suffix);
}

/* A reading written as the POST would, with a fixed received_at. */
static void insert_reading(const char *site, int level, const char *measured_at, const char *source,
                           const char *received_at)
{
    char level_s[8];
    snprintf(level_s, sizeof level_s, "%d", level);
    const char *params[] = {site, level_s, measured_at, source, received_at};
    PGresult *res = PQexecParams(F.pg,
                                 "INSERT INTO readings (site_id, level_pct, measured_at, source,"
                                 " received_at) VALUES ($1, $2, $3, $4, $5)",
                                 5, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("insert reading: %s", PQresultErrorMessage(res));
    PQclear(res);
}

static void get(const char *path, const char *headers, int want, test_resp_t *r)
{
    call("GET", path, headers, NULL, r);
    if (r->status != want)
        fail_msg("GET %s: status %d, want %d; body %s", path, r->status, want,
                 r->body ? r->body : "(none)");
}

static void expect_header(const test_resp_t *r, const char *name, const char *want)
{
    char *v = test_resp_header(r, name);
    if (!v || strcmp(v, want) != 0)
        fail_msg("%s: \"%s\", want \"%s\"", name, v ? v : "(none)", want);
    free(v);
}

static size_t count_readings(const test_resp_t *r)
{
    return json_array_size(json_object_get(r->json, "readings"));
}

/* ---- who may read ---- */

static void the_operator_and_every_role_of_the_sites_customer_read_its_history(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], path[160], csv[160], cookie[160];
    seed_site(site, 1000, 30);
    rd_t rd[] = {{site, 70, 0}, {site, 60, 10}};
    post_batch(rd, 2, 202);
    path_of(path, sizeof path, site, "");
    path_of(csv, sizeof csv, site, ".csv");
    test_resp_t r;
    get(path, OP, 200, &r);
    assert_int_equal(count_readings(&r), 2);
    test_resp_dispose(&r);

    char *customer = customer_of(site);
    static const ct_role_t roles[] = {CT_ROLE_VIEWER, CT_ROLE_ORDERER, CT_ROLE_ADMIN};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        session_for(customer, roles[i], cookie, sizeof cookie);
        get(path, cookie, 200, &r);
        if (count_readings(&r) != 2)
            fail_msg("%s: %zu readings, want 2", ct_role_name(roles[i]), count_readings(&r));
        assert_int_equal(json_integer_value(json_object_get(
                             json_array_get(json_object_get(r.json, "readings"), 0), "level_pct")),
                         60);
        test_resp_dispose(&r);
        get(csv, cookie, 200, &r);
        expect_header(&r, "Content-Type", "text/csv; charset=utf-8; header=present");
        test_resp_dispose(&r);
    }
    free(customer);
}

static void a_session_of_another_customer_gets_404_as_for_an_unknown_site(void **state)
{
    REQUIRE_STACK();
    char site_a[CT_UUID_STRLEN + 1], site_b[CT_UUID_STRLEN + 1], unknown[CT_UUID_STRLEN + 1];
    char cookie_b[160], path[160];
    seed_site(site_a, 1000, 30);
    seed_site(site_b, 1000, 30);
    rd_t rd = {site_a, 50, 0};
    post_batch(&rd, 1, 202);
    char *customer_b = customer_of(site_b);
    session_for(customer_b, CT_ROLE_ADMIN, cookie_b, sizeof cookie_b);
    free(customer_b);
    ct_uuid_v7(unknown);

    static const char *const suffixes[] = {"", ".csv", "?limit=5", "?before=1795161600000000.1"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        test_resp_t theirs, none, own;
        path_of(path, sizeof path, site_a, suffixes[i]);
        get(path, cookie_b, 404, &theirs);
        path_of(path, sizeof path, unknown, suffixes[i]);
        get(path, cookie_b, 404, &none);
        /* the same answer: nothing tells that site A exists */
        static const char *const fields[] = {"type", "title", "detail", "status"};
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
            if (!json_equal(json_object_get(theirs.json, fields[k]),
                            json_object_get(none.json, fields[k])))
                fail_msg("%s: \"%s\" differs: %s / %s", suffixes[i], fields[k], theirs.body,
                         none.body);
        path_of(path, sizeof path, site_b, suffixes[i]);
        get(path, cookie_b, 200, &own);
        test_resp_dispose(&theirs);
        test_resp_dispose(&none);
        test_resp_dispose(&own);
    }
}

static void without_valid_credentials_the_history_is_401(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], path[160], cookie[160], both[320];
    seed_site(site, 1000, 30);
    char *customer = customer_of(site);
    session_for(customer, CT_ROLE_VIEWER, cookie, sizeof cookie);
    free(customer);
    /* a wrong key is refused even beside a good cookie */
    snprintf(both, sizeof both, "Authorization: Bearer " GATEWAY_KEY "\r\n%s", cookie);
    const char *const wrong[] = {
        NULL,
        GW,
        "Authorization: Bearer \r\n",
        "Cookie: " CT_SESSION_COOKIE
        "=0000000000000000000000000000000000000000000000000000000000000000\r\n",
        "Cookie: " CT_SESSION_COOKIE "=not-a-token\r\n",
        both,
    };
    static const char *const suffixes[] = {"", ".csv", "?limit=0"};
    for (size_t s = 0; s < sizeof suffixes / sizeof suffixes[0]; s++) {
        path_of(path, sizeof path, site, suffixes[s]);
        for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
            test_resp_t r;
            call("GET", path, wrong[i], NULL, &r);
            if (r.status != 401)
                fail_msg("%s with credentials %zu: status %d, want 401", path, i, r.status);
            test_resp_dispose(&r);
        }
    }
}

static int closed;

static void on_dead_closed(void *udata)
{
    (void)udata;
    closed = 1;
}

static void while_redis_is_down_sessions_get_503_and_keys_still_work(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], path[160], csv[160], cookie[160];
    seed_site(site, 1000, 30);
    char *customer = customer_of(site);
    session_for(customer, CT_ROLE_VIEWER, cookie, sizeof cookie);
    free(customer);
    path_of(path, sizeof path, site, "");
    path_of(csv, sizeof csv, site, ".csv");

    /* Redis configured but down: nothing listens on port 1 */
    ct_cache_t *dead = NULL;
    assert_int_equal(ct_cache_new(&F.svc.loop, "redis://127.0.0.1:1/0", &dead), 0);
    F.svc.cache = dead;
    test_resp_t r;
    get(path, cookie, 503, &r);
    test_resp_dispose(&r);
    get(csv, cookie, 503, &r);
    test_resp_dispose(&r);
    get(path, NULL, 401, &r); /* no cookie: nothing to look up */
    test_resp_dispose(&r);
    rd_t rd = {site, 40, 0};
    post_batch(&rd, 1, 202);
    get(path, OP, 200, &r);
    assert_int_equal(count_readings(&r), 1);
    test_resp_dispose(&r);
    get(csv, OP, 200, &r);
    test_resp_dispose(&r);

    F.svc.cache = F.cache;
    get(path, cookie, 200, &r);
    assert_int_equal(count_readings(&r), 1);
    test_resp_dispose(&r);
    closed = 0;
    ct_cache_close(dead, on_dead_closed, NULL);
    for (int i = 0; i < 1000 && !closed; i++)
        uv_run(&F.svc.loop, UV_RUN_ONCE);
    assert_true(closed);
}

/* ---- the CSV ---- */

static void the_csv_holds_the_whole_history_oldest_first(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], csv[160], cookie[160];
    seed_site(site, 1000, 30);
    path_of(csv, sizeof csv, site, ".csv");
    char *customer = customer_of(site);
    session_for(customer, CT_ROLE_VIEWER, cookie, sizeof cookie);
    free(customer);

    test_resp_t r;
    get(csv, cookie, 200, &r);
    assert_string_equal(r.body, CSV_HEADER); /* no reading yet */
    test_resp_dispose(&r);

    /* stored out of order, two at the same time (id order then), one late */
    insert_reading(site, 55, "2026-11-20T09:00:00Z", "customer", "2026-11-20T09:00:05Z");
    insert_reading(site, 80, "2026-11-19T07:30:00.250+01:00", "driver", "2026-11-19T06:31:00Z");
    insert_reading(site, 54, "2026-11-20T09:00:00Z", "sensor", "2026-11-20T09:00:06Z");
    insert_reading(site, 70, "2026-11-20T01:00:00Z", "sensor", "2026-11-20T10:00:00.001Z");
    char want[1024];
    snprintf(want, sizeof want,
             CSV_HEADER "%s,2026-11-19T06:30:00.250Z,80,driver,2026-11-19T06:31:00.000Z\r\n"
                        "%s,2026-11-20T01:00:00.000Z,70,sensor,2026-11-20T10:00:00.001Z\r\n"
                        "%s,2026-11-20T09:00:00.000Z,55,customer,2026-11-20T09:00:05.000Z\r\n"
                        "%s,2026-11-20T09:00:00.000Z,54,sensor,2026-11-20T09:00:06.000Z\r\n",
             site, site, site, site);
    get(csv, cookie, 200, &r);
    assert_string_equal(r.body, want);
    assert_int_equal(r.body_len, strlen(want));
    expect_header(&r, "Content-Type", "text/csv; charset=utf-8; header=present");
    char disposition[128];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"readings-%s.csv\"", site);
    expect_header(&r, "Content-Disposition", disposition);
    char *truncated = test_resp_header(&r, "X-Citerne-Truncated");
    assert_null(truncated);
    test_resp_dispose(&r);

    /* past the cap: the newest readings, still oldest first, and a header */
    F.app.csv_max_rows = 2;
    get(csv, OP, 200, &r);
    snprintf(want, sizeof want,
             CSV_HEADER "%s,2026-11-20T09:00:00.000Z,55,customer,2026-11-20T09:00:05.000Z\r\n"
                        "%s,2026-11-20T09:00:00.000Z,54,sensor,2026-11-20T09:00:06.000Z\r\n",
             site, site);
    assert_string_equal(r.body, want);
    expect_header(&r, "X-Citerne-Truncated", "2");
    test_resp_dispose(&r);
}

/* ---- pages ---- */

/* Follows next_before from the first page of `limit`; fills levels in the
 * order served; returns the number of pages. */
static int read_all_pages(const char *site, int limit, const char *headers, int *levels, size_t cap,
                          size_t *n)
{
    char path[256], before[64] = "";
    int pages = 0;
    *n = 0;
    for (;;) {
        snprintf(path, sizeof path, "/api/v1/telemetry/sites/%s/readings?limit=%d%s%s", site, limit,
                 before[0] ? "&before=" : "", before);
        test_resp_t r;
        get(path, headers, 200, &r);
        pages++;
        json_t *list = json_object_get(r.json, "readings");
        assert_true(json_array_size(list) <= (size_t)limit);
        size_t i;
        json_t *item;
        json_array_foreach(list, i, item)
        {
            assert_true(*n < cap);
            levels[(*n)++] = (int)json_integer_value(json_object_get(item, "level_pct"));
        }
        json_t *next = json_object_get(r.json, "next_before");
        if (json_is_null(next)) {
            test_resp_dispose(&r);
            return pages;
        }
        assert_true(json_is_string(next));
        assert_int_equal(json_array_size(list), limit);
        snprintf(before, sizeof before, "%s", json_string_value(next));
        test_resp_dispose(&r);
        assert_true(pages < 100);
    }
}

static void pages_reach_every_reading_once_newest_first(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], cookie[160];
    seed_site(site, 1000, 30);
    char *customer = customer_of(site);
    session_for(customer, CT_ROLE_VIEWER, cookie, sizeof cookie);
    free(customer);
    /* 23 readings with distinct levels; three groups share a time, so a
     * cursor on the time alone would skip or repeat; one is stored late */
    enum { N = 23 };
    rd_t rd[N];
    for (int i = 0; i < N; i++)
        rd[i] = (rd_t){site, 10 + i, i < 6 ? 0 : i < 10 ? 7 : i < 14 ? 20 : i + 30};
    post_batch(rd, N, 202);
    rd_t late = {site, 99, 5};
    post_batch(&late, 1, 202);

    /* the order the database gives: newest first, ties by id */
    int want[N + 1];
    PGresult *res = PQexecParams(F.pg,
                                 "SELECT level_pct FROM readings WHERE site_id = $1"
                                 " ORDER BY measured_at DESC, id DESC",
                                 1, NULL, (const char *[]){site}, NULL, NULL, 0);
    assert_int_equal(PQntuples(res), N + 1);
    for (int i = 0; i <= N; i++)
        want[i] = atoi(PQgetvalue(res, i, 0));
    PQclear(res);

    static const int limits[] = {1, 4, 6, 24, 1000};
    for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
        int got[N + 1];
        size_t n;
        int pages = read_all_pages(site, limits[k], k % 2 ? cookie : OP, got, N + 1, &n);
        if (n != N + 1)
            fail_msg("limit %d: %zu readings, want %d", limits[k], n, N + 1);
        for (int i = 0; i <= N; i++)
            if (got[i] != want[i])
                fail_msg("limit %d: reading %d is %d%%, want %d%%", limits[k], i, got[i], want[i]);
        int want_pages = (N + 1 + limits[k] - 1) / limits[k];
        if (pages != want_pages)
            fail_msg("limit %d: %d pages, want %d", limits[k], pages, want_pages);
    }
}

static void a_bad_cursor_is_400_naming_before(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], path[200];
    seed_site(site, 1000, 30);
    static const char *const bad[] = {"",
                                      "x",
                                      "12",
                                      ".5",
                                      "5.",
                                      "5.0",
                                      "5.-1",
                                      "+5.1",
                                      "5.1x",
                                      "5.1.2",
                                      " 5.1",
                                      "99999999999999999999.1",
                                      "999999999999999999.1",
                                      "-99999999999999999.1",
                                      "1.99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char enc[96];
        size_t o = 0;
        for (const char *c = bad[i]; *c && o + 4 < sizeof enc; c++)
            o += (size_t)snprintf(enc + o, sizeof enc - o, *c == ' ' || *c == '+' ? "%%%02X" : "%c",
                                  (unsigned char)*c);
        enc[o] = '\0';
        snprintf(path, sizeof path, "/api/v1/telemetry/sites/%s/readings?before=%s", site, enc);
        test_resp_t r;
        call("GET", path, OP, NULL, &r);
        if (r.status != 400)
            fail_msg("before=\"%s\": status %d, want 400", bad[i], r.status);
        json_t *e = json_array_get(json_object_get(r.json, "errors"), 0);
        assert_string_equal(json_string_value(json_object_get(e, "field")), "before");
        test_resp_dispose(&r);
    }
}

static int setup(void **state)
{
    (void)state;
    return api_setup("telemetry_history");
}

static int teardown(void **state)
{
    (void)state;
    return api_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(the_operator_and_every_role_of_the_sites_customer_read_its_history,
                               api_reset),
        cmocka_unit_test_setup(a_session_of_another_customer_gets_404_as_for_an_unknown_site,
                               api_reset),
        cmocka_unit_test_setup(without_valid_credentials_the_history_is_401, api_reset),
        cmocka_unit_test_setup(while_redis_is_down_sessions_get_503_and_keys_still_work, api_reset),
        cmocka_unit_test_setup(the_csv_holds_the_whole_history_oldest_first, api_reset),
        cmocka_unit_test_setup(pages_reach_every_reading_once_newest_first, api_reset),
        cmocka_unit_test_setup(a_bad_cursor_is_400_naming_before, api_reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
