/* Accounts' events as telemetry consumes them, against a fresh database of
 * the test stack: SiteCreated and SiteUpdated (versions, unknown sites, a
 * new threshold and the episode), decoded as the consumer does and applied
 * in real transactions, and once through a real consumer and the inbox. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <librdkafka/rdkafka.h>

#include "citerne/error.h"
#include "citerne/metrics.h"
#include "citerne/v1/accounts.pb-c.h"

#include "api_support.h"
#include "events.h"
#include "fixture.h"
#include "stack.h"

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

/* Packs ev with a meta of event id `id` (NULL: a fresh one; correlation =
 * the event id), decodes it as the consumer does and applies it in a
 * transaction; returns the decode error or the outcome. */
static int apply_as(Citerne__V1__AccountsEvent *ev, const char *id)
{
    char fresh[CT_UUID_STRLEN + 1];
    if (!id) {
        ct_uuid_v7(fresh);
        id = fresh;
    }
    Citerne__V1__EventMeta meta = CITERNE__V1__EVENT_META__INIT;
    meta.event_id = (char *)id;
    meta.correlation_id = (char *)id;
    meta.occurred_at = ct_now_ms();
    ev->meta = &meta;
    size_t len = citerne__v1__accounts_event__get_packed_size(ev);
    uint8_t *buf = malloc(len + 1);
    citerne__v1__accounts_event__pack(ev, buf);
    ev->meta = NULL;
    telemetry_event_t *te = NULL;
    const char *why = NULL;
    int rc = telemetry_event_decode(buf, len, F.svc.topic, &te, &why);
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

static int apply_accounts(Citerne__V1__AccountsEvent *ev)
{
    return apply_as(ev, NULL);
}

/* A site's state as SiteCreated (version 1) or SiteUpdated carries it. */
typedef struct {
    const char *site, *customer;
    int capacity, threshold, version;
} site_state_t;

/* An AccountsEvent of s: SiteCreated for version 1, else SiteUpdated; the
 * bodies live in *bodies until the next call. */
typedef struct {
    Citerne__V1__SiteCreated created;
    Citerne__V1__SiteUpdated updated;
    Citerne__V1__AccountsEvent ev;
} site_event_t;

static Citerne__V1__AccountsEvent *site_event(site_event_t *e, const site_state_t *s)
{
    citerne__v1__accounts_event__init(&e->ev);
    if (s->version == 1) {
        citerne__v1__site_created__init(&e->created);
        e->created.site_id = (char *)s->site;
        e->created.customer_id = (char *)s->customer;
        e->created.contract_id = (char *)s->customer;
        e->created.capacity_kg = s->capacity;
        e->created.threshold_pct = s->threshold;
        e->ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED;
        e->ev.site_created = &e->created;
    } else {
        citerne__v1__site_updated__init(&e->updated);
        e->updated.site_id = (char *)s->site;
        e->updated.customer_id = (char *)s->customer;
        e->updated.contract_id = (char *)s->customer;
        e->updated.capacity_kg = s->capacity;
        e->updated.threshold_pct = s->threshold;
        e->updated.version = s->version;
        e->ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_UPDATED;
        e->ev.site_updated = &e->updated;
    }
    return &e->ev;
}

/* Applies the site event of s under event id `id` (NULL: fresh); the
 * transaction must commit. */
static void apply_site(const site_state_t *s, const char *id)
{
    site_event_t e;
    int rc = apply_as(site_event(&e, s), id);
    if (rc != 0)
        fail_msg("site event version %d: status %d", s->version, rc);
}

/* "capacity threshold version armed" of site. */
static void expect_site(const char *site, const char *want)
{
    char *row = sql_value("SELECT capacity_kg || ' ' || threshold_pct || ' ' || version || ' '"
                          " || armed FROM sites WHERE site_id = $1",
                          site);
    if (strcmp(row, want) != 0)
        fail_msg("site %s: %s, want %s", site, row, want);
    free(row);
}

/* A new site (version 1, SiteCreated) of a new customer. */
static void new_site(char site[CT_UUID_STRLEN + 1], char customer[CT_UUID_STRLEN + 1], int capacity,
                     int threshold)
{
    ct_uuid_v7(site);
    ct_uuid_v7(customer);
    site_state_t s = {site, customer, capacity, threshold, 1};
    apply_site(&s, NULL);
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
    assert_int_equal(telemetry_event_decode(junk, sizeof junk, F.svc.topic, &te, &why), CT_EDECODE);
    assert_null(te);
    Citerne__V1__AccountsEvent no_meta = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    uint8_t buf[64];
    size_t len = citerne__v1__accounts_event__pack(&no_meta, buf);
    assert_int_equal(telemetry_event_decode(buf, len, F.svc.topic, &te, &why), CT_EDECODE);

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
    /* a SiteUpdated: the same checks, and a version of 2 or more */
    static const struct {
        int capacity, version;
    } bad_updates[] = {{1000, 0}, {1000, 1}, {1000, -2}, {0, 2}};
    for (size_t i = 0; i < sizeof bad_updates / sizeof bad_updates[0]; i++) {
        Citerne__V1__SiteUpdated su = CITERNE__V1__SITE_UPDATED__INIT;
        su.site_id = site;
        su.customer_id = customer;
        su.capacity_kg = bad_updates[i].capacity;
        su.threshold_pct = 30;
        su.version = bad_updates[i].version;
        Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
        ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_UPDATED;
        ev.site_updated = &su;
        if (apply_accounts(&ev) != CT_EINPUT)
            fail_msg("bad SiteUpdated %zu was not refused", i);
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

static void a_site_update_applies_over_an_older_version_only(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], customer[CT_UUID_STRLEN + 1];
    new_site(site, customer, 1000, 30);
    expect_site(site, "1000 30 1 true");
    site_state_t v3 = {site, customer, 2000, 25, 3};
    apply_site(&v3, NULL);
    expect_site(site, "2000 25 3 true");
    /* older, then equal under another event id, then a late SiteCreated:
     * none of them moves the row */
    site_state_t v2 = {site, customer, 3000, 45, 2}, v3b = {site, customer, 4000, 50, 3},
                 v1 = {site, customer, 5000, 55, 1};
    apply_site(&v2, NULL);
    apply_site(&v3b, NULL);
    apply_site(&v1, NULL);
    expect_site(site, "2000 25 3 true");
    site_state_t v4 = {site, customer, 2500, 0 /* unset: the default */, 4};
    apply_site(&v4, NULL);
    expect_site(site, "2500 30 4 true");
    assert_int_equal(events_of(site), 0);
}

static void an_update_of_an_unknown_site_adds_it_at_its_version(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], customer[CT_UUID_STRLEN + 1];
    ct_uuid_v7(site);
    ct_uuid_v7(customer);
    site_state_t v2 = {site, customer, 1200, 35, 2};
    apply_site(&v2, NULL);
    expect_site(site, "1200 35 2 true");
    /* the SiteCreated that comes after it is older: no effect */
    site_state_t v1 = {site, customer, 900, 20, 1};
    apply_site(&v1, NULL);
    expect_site(site, "1200 35 2 true");
    /* the site takes readings at what the update said */
    rd_t rd = {site, 34, 0};
    post_batch(&rd, 1, 202);
    assert_int_equal(events_of(site), 1);
    Citerne__V1__TelemetryEvent *ev = event_of(site, 0);
    assert_int_equal(ev->threshold_crossed->threshold_pct, 35);
    assert_int_equal(ev->threshold_crossed->capacity_kg, 1200);
    citerne__v1__telemetry_event__free_unpacked(ev, NULL);
}

static void a_raised_threshold_above_the_last_level_opens_the_episode_at_once(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], customer[CT_UUID_STRLEN + 1], id[CT_UUID_STRLEN + 1];
    new_site(site, customer, 1000, 20);
    rd_t rd[] = {{site, 50, 0}, {site, 35, 10}};
    post_batch(rd, 2, 202);
    assert_int_equal(events_of(site), 0);
    /* the customer raises the threshold to 40: the tank, at 35, is below */
    ct_uuid_v7(id);
    site_state_t v2 = {site, customer, 1750, 40, 2};
    apply_site(&v2, id);
    expect_site(site, "1750 40 2 false");
    assert_int_equal(events_of(site), 1);
    Citerne__V1__TelemetryEvent *ev = event_of(site, 0);
    const Citerne__V1__TankThresholdCrossed *c = ev->threshold_crossed;
    assert_string_equal(c->site_id, site);
    assert_string_equal(c->customer_id, customer);
    assert_int_equal(c->level_pct, 35);
    assert_int_equal(c->threshold_pct, 40);
    assert_int_equal(c->capacity_kg, 1750);
    assert_int_equal(c->measured_at, BASE_MS + 10 * 60000);
    assert_string_equal(c->source, "sensor");
    assert_string_equal(ev->meta->causation_id, id);
    assert_string_equal(ev->meta->correlation_id, id);
    citerne__v1__telemetry_event__free_unpacked(ev, NULL);

    /* the same update again, then readings still low: the same episode */
    apply_site(&v2, id);
    rd_t low[] = {{site, 30, 20}, {site, 38, 30}};
    post_batch(low, 2, 202);
    assert_int_equal(events_of(site), 1);
    /* a refill to 50 (40 + 10) re-arms; the next low reading fires */
    rd_t refill[] = {{site, 50, 40}, {site, 39, 50}};
    post_batch(refill, 2, 202);
    assert_int_equal(events_of(site), 2);
}

static void a_threshold_change_neither_fires_an_open_episode_again_nor_closes_it(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], customer[CT_UUID_STRLEN + 1];
    new_site(site, customer, 1000, 30);
    rd_t rd = {site, 25, 0};
    post_batch(&rd, 1, 202);
    assert_int_equal(events_of(site), 1);
    /* raised while the episode is open: it fired already */
    site_state_t v2 = {site, customer, 1000, 50, 2};
    apply_site(&v2, NULL);
    expect_site(site, "1000 50 2 false");
    /* lowered under the level: the episode stays open until a refill to
     * the new re-arm level (10 + 10) */
    site_state_t v3 = {site, customer, 1000, 10, 3};
    apply_site(&v3, NULL);
    expect_site(site, "1000 10 3 false");
    rd_t low[] = {{site, 15, 1}, {site, 5, 2}};
    post_batch(low, 2, 202);
    assert_int_equal(events_of(site), 1);
    rd_t refill[] = {{site, 20, 3}, {site, 9, 4}};
    post_batch(refill, 2, 202);
    assert_int_equal(events_of(site), 2);
}

static void a_threshold_change_without_a_reading_below_it_waits_for_a_reading(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], customer[CT_UUID_STRLEN + 1];
    /* no reading yet: nothing to compare with; the first reading decides */
    new_site(site, customer, 1000, 30);
    site_state_t v2 = {site, customer, 1000, 90, 2};
    apply_site(&v2, NULL);
    expect_site(site, "1000 90 2 true");
    assert_int_equal(events_of(site), 0);
    rd_t rd = {site, 60, 0};
    post_batch(&rd, 1, 202);
    assert_int_equal(events_of(site), 1);
    /* lowered, then raised to the last level (equal is not below) */
    char other[CT_UUID_STRLEN + 1], cust2[CT_UUID_STRLEN + 1];
    new_site(other, cust2, 1000, 30);
    rd_t at60 = {other, 60, 0};
    post_batch(&at60, 1, 202);
    site_state_t lower = {other, cust2, 1000, 20, 2}, equal = {other, cust2, 3000, 60, 3};
    apply_site(&lower, NULL);
    apply_site(&equal, NULL);
    expect_site(other, "3000 60 3 true");
    assert_int_equal(events_of(other), 0);
    /* the capacity of the update is in the next crossing */
    rd_t low = {other, 59, 1};
    post_batch(&low, 1, 202);
    assert_int_equal(events_of(other), 1);
    Citerne__V1__TelemetryEvent *ev = event_of(other, 0);
    assert_int_equal(ev->threshold_crossed->capacity_kg, 3000);
    citerne__v1__telemetry_event__free_unpacked(ev, NULL);
}

static void on_flag(void *udata)
{
    *(bool *)udata = true;
}

/* Through a real consumer (librdkafka's mock cluster) and the inbox, as the
 * service runs: an update that opens an episode, delivered twice, emits one
 * crossing; an older one after it changes nothing. */
static void a_site_update_delivered_twice_by_the_bus_opens_one_episode(void **state)
{
    REQUIRE_STACK();
    char site[CT_UUID_STRLEN + 1], customer[CT_UUID_STRLEN + 1];
    new_site(site, customer, 1000, 20);
    rd_t rd = {site, 30, 0};
    post_batch(&rd, 1, 202);
    const char *brokers = NULL;
    rd_kafka_t *mock = ct_test_mock_new("citerne.accounts.v1", 1, &brokers);
    site_state_t states[] = {{site, customer, 1000, 40, 3},
                             {site, customer, 1000, 40, 3},
                             {site, customer, 1000, 10, 2},
                             {site, customer, 1500, 40, 4}};
    char ids[4][CT_UUID_STRLEN + 1];
    for (size_t i = 0; i < 4; i++) {
        if (i != 1)
            ct_uuid_v7(ids[i]);
        else
            memcpy(ids[i], ids[0], sizeof ids[i]); /* the replay */
        site_event_t e;
        Citerne__V1__AccountsEvent *ev = site_event(&e, &states[i]);
        Citerne__V1__EventMeta meta = CITERNE__V1__EVENT_META__INIT;
        meta.event_id = meta.correlation_id = ids[i];
        meta.occurred_at = ct_now_ms();
        ev->meta = &meta;
        uint8_t buf[256];
        size_t len = citerne__v1__accounts_event__pack(ev, buf);
        assert_int_equal(rd_kafka_producev(
                             mock, RD_KAFKA_V_TOPIC("citerne.accounts.v1"),
                             RD_KAFKA_V_KEY(customer, strlen(customer)), RD_KAFKA_V_VALUE(buf, len),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(mock, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
    ct_metric_t *crossings = ct_metrics_counter("citerne_telemetry_crossings_total", "");
    double crossings0 = ct_metric_value(crossings);

    const char *topics[] = {"citerne.accounts.v1"};
    ct_bus_consumer_t *consumer = NULL;
    assert_int_equal(ct_bus_consumer_new(&F.svc.loop, brokers, "telemetry-events-test", topics, 1,
                                         telemetry_on_message, &F.svc, &consumer),
                     0);
    /* one partition: once the last event is in the inbox, all were handled */
    for (int i = 0;
         i < 10000 && sql_long("SELECT count(*) FROM ct_inbox WHERE event_id = $1", ids[3]) == 0;
         i++) {
        uv_run(&F.svc.loop, UV_RUN_NOWAIT);
        uv_sleep(2);
    }
    bool closed = false;
    ct_bus_consumer_close(consumer, on_flag, &closed);
    assert_true(ct_test_run_until(&F.svc.loop, &closed, 20000));
    rd_kafka_destroy(mock);
    expect_site(site, "1500 40 4 false");
    assert_int_equal(events_of(site), 1);
    assert_true(ct_metric_value(crossings) == crossings0 + 1);
    Citerne__V1__TelemetryEvent *ev = event_of(site, 0);
    assert_int_equal(ev->threshold_crossed->level_pct, 30);
    assert_string_equal(ev->meta->causation_id, ids[0]);
    citerne__v1__telemetry_event__free_unpacked(ev, NULL);
}

static int setup(void **state)
{
    (void)state;
    return api_setup("telemetry_events");
}

static int teardown(void **state)
{
    (void)state;
    return api_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(site_created_adds_an_armed_site_and_a_replay_keeps_its_episode),
        cmocka_unit_test(bad_or_unused_accounts_records_are_refused_or_ignored),
        cmocka_unit_test(a_site_update_applies_over_an_older_version_only),
        cmocka_unit_test(an_update_of_an_unknown_site_adds_it_at_its_version),
        cmocka_unit_test(a_raised_threshold_above_the_last_level_opens_the_episode_at_once),
        cmocka_unit_test(a_threshold_change_neither_fires_an_open_episode_again_nor_closes_it),
        cmocka_unit_test(a_threshold_change_without_a_reading_below_it_waits_for_a_reading),
        cmocka_unit_test(a_site_update_delivered_twice_by_the_bus_opens_one_episode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
