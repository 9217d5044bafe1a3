/* The telemetry HTTP API through the real server, against a fresh database
 * of the test stack: batches, threshold episodes across batches, late
 * readings, validation, unknown sites, and the events left in the outbox.
 * The consumed accounts events are in test_events.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include "citerne/metrics.h"

#include "api_support.h"
#include "stack.h"

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

static int setup(void **state)
{
    (void)state;
    return api_setup("telemetry_api");
}

static int teardown(void **state)
{
    (void)state;
    return api_teardown();
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
