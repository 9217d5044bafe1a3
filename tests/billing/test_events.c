/* billing's event decoding: every field is validated, bad records are
 * refused with the field named, kinds billing does not use are ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "events.h"
#include "fixtures.h"

#define CUST "0190c1d2-0000-7000-8000-000000000001"
#define CONTRACT "0190c1d2-0000-7000-8000-000000000002"
#define SITE "0190c1d2-0000-7000-8000-000000000003"
#define ORDER "0190c1d2-0000-7000-8000-000000000004"

static const fx_delivery_t good_delivery = {
    .order_id = ORDER,
    .site_id = SITE,
    .customer_id = CUST,
    .delivery_date = "2026-11-24",
    .speed = "express_48h",
    .mode = "on_demand",
    .delivered_kg = 480,
    .ordered_kg = 500,
    .level_after_pct = 85,
};

static int decode(fx_record_t *r, const char *topic, billing_event_t *ev, const char **why)
{
    memset(ev, 0, sizeof *ev);
    int rc = billing_event_decode(ev, topic, r->data, r->len, why);
    fx_free(r);
    return rc;
}

static void delivery_confirmed_decodes_into_domain_values(void **state)
{
    (void)state;
    fx_record_t r;
    fx_delivery(&r, &good_delivery);
    char event_id[37];
    memcpy(event_id, r.event_id, sizeof event_id);
    billing_event_t ev;
    const char *why;
    assert_int_equal(decode(&r, "citerne.orders.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, BILLING_EV_DELIVERY);
    assert_string_equal(ev.event_id, event_id);
    assert_string_equal(ev.u.delivery.order_id, ORDER);
    assert_string_equal(ev.u.delivery.delivery_date, "2026-11-24");
    assert_int_equal(ev.u.delivery.delivered_kg, 480);
    assert_int_equal(ev.u.delivery.ordered_kg, 500);
    assert_int_equal(ev.u.delivery.speed, BILLING_SPEED_EXPRESS_48H);
    assert_int_equal(ev.u.delivery.mode, BILLING_MODE_ON_DEMAND);
}

static void every_bad_delivery_field_is_refused_by_name(void **state)
{
    (void)state;
    struct {
        const char *field;
        fx_delivery_t d;
    } bad[] = {
        {"order_id", good_delivery},        {"site_id", good_delivery},
        {"customer_id", good_delivery},     {"delivery_date", good_delivery},
        {"delivery_date", good_delivery},   {"delivered_kg", good_delivery},
        {"delivered_kg", good_delivery},    {"ordered_kg", good_delivery},
        {"speed", good_delivery},           {"delivery_mode", good_delivery},
        {"level_after_pct", good_delivery},
    };
    bad[0].d.order_id = "not-a-uuid";
    bad[1].d.site_id = "";
    bad[2].d.customer_id = "0190c1d2-0000-7000-8000-00000000000";
    bad[3].d.delivery_date = "2026-02-30";
    bad[4].d.delivery_date = "24/11/2026";
    bad[5].d.delivered_kg = 0;
    bad[6].d.delivered_kg = 100001;
    bad[7].d.ordered_kg = -5;
    bad[8].d.speed = "express_12h";
    bad[9].d.mode = "sometimes";
    bad[10].d.level_after_pct = 101;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_record_t r;
        fx_delivery(&r, &bad[i].d);
        billing_event_t ev;
        const char *why = NULL;
        int rc = decode(&r, "citerne.orders.v1", &ev, &why);
        if (rc != CT_EINPUT || !why || strcmp(why, bad[i].field) != 0)
            fail_msg("case %zu: rc %d why %s, want CT_EINPUT %s", i, rc, why ? why : "(null)",
                     bad[i].field);
    }
}

static void accounts_events_are_validated(void **state)
{
    (void)state;
    billing_event_t ev;
    const char *why;
    fx_record_t r;
    fx_customer(&r, CUST, "C-0001", "household", 0);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, BILLING_EV_CUSTOMER);
    assert_string_equal(ev.u.customer.segment, "household");
    fx_customer(&r, CUST, "C-0001", "company", 0);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "segment");
    fx_customer(&r, CUST, "", "business", 0);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "customer_number");
    fx_customer(&r, CUST, "C-\x01", "business", 0);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "customer_number");

    fx_contract(&r, CONTRACT, CUST, "on_demand", 120000, "preference");
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, BILLING_EV_CONTRACT);
    assert_int_equal(ev.u.contract.price_per_tonne_cents, 120000);
    fx_contract(&r, CONTRACT, CUST, "on_demand", 0, "preference");
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "price_per_tonne_cents");
    fx_contract(&r, CONTRACT, CUST, "on_demand", 120000, "gold");
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "maintenance_plan");

    fx_site(&r, SITE, CONTRACT, CUST);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, BILLING_EV_SITE);
    fx_site(&r, SITE, "x", CUST);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "contract_id");
}

static void updates_decode_as_their_kind_with_a_version_of_2_or_more(void **state)
{
    (void)state;
    billing_event_t ev;
    const char *why;
    fx_record_t r;
    fx_customer(&r, CUST, "C-0001", "household", 0);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.version, 1);
    fx_customer_updated(&r, CUST, "C-0001", "business", 2000, "SARL Martin", 2);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, BILLING_EV_CUSTOMER);
    assert_int_equal(ev.version, 2);
    assert_string_equal(ev.u.customer.segment, "business");
    assert_string_equal(ev.u.customer.name, "SARL Martin");
    fx_contract_updated(&r, CONTRACT, CUST, "automatic", 135000, "privilege", 7);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, BILLING_EV_CONTRACT);
    assert_int_equal(ev.version, 7);
    assert_int_equal(ev.u.contract.price_per_tonne_cents, 135000);
    assert_string_equal(ev.u.contract.plan, "privilege");
    fx_site_updated(&r, SITE, CONTRACT, CUST, 3);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, BILLING_EV_SITE);
    assert_int_equal(ev.version, 3);
    assert_string_equal(ev.u.site.contract_id, CONTRACT);

    /* a version under 2, and the fields of the *Created, are refused */
    static const int bad_versions[] = {1, 0, -1};
    for (size_t i = 0; i < sizeof bad_versions / sizeof bad_versions[0]; i++) {
        fx_customer_updated(&r, CUST, "C-0001", "business", 2000, "", bad_versions[i]);
        assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
        assert_string_equal(why, "version");
        fx_contract_updated(&r, CONTRACT, CUST, "automatic", 1, "none", bad_versions[i]);
        assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
        assert_string_equal(why, "version");
        fx_site_updated(&r, SITE, CONTRACT, CUST, bad_versions[i]);
        assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
        assert_string_equal(why, "version");
    }
    fx_customer_updated(&r, CUST, "C-0001", "business", 10001, "", 2);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "vat_rate_bp");
    fx_customer_updated(&r, CUST, "C-0001", "business", 2000, "Martin\n", 2);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "name");
    fx_contract_updated(&r, CONTRACT, CUST, "automatic", 10000001, "none", 2);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "price_per_tonne_cents");
    fx_site_updated(&r, SITE, CONTRACT, "nope", 2);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "customer_id");
}

static void kinds_billing_does_not_use_are_ignored(void **state)
{
    (void)state;
    billing_event_t ev;
    const char *why;
    fx_record_t r;
    fx_user(&r, ORDER, CUST);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, BILLING_EV_IGNORED);
    assert_true(ct_uuid_valid(ev.event_id)); /* still goes through the inbox */
    fx_order_proposed(&r, ORDER, SITE, CUST);
    assert_int_equal(decode(&r, "citerne.orders.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, BILLING_EV_IGNORED);
}

static void records_that_do_not_decode_are_refused(void **state)
{
    (void)state;
    billing_event_t ev;
    const char *why;
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    memset(&ev, 0, sizeof ev);
    assert_int_equal(billing_event_decode(&ev, "citerne.orders.v1", junk, sizeof junk, &why),
                     CT_EDECODE);
    /* a record of the wrong topic, or an unknown topic */
    fx_record_t r;
    fx_delivery(&r, &good_delivery);
    assert_int_equal(billing_event_decode(&ev, "citerne.telemetry.v1", r.data, r.len, &why),
                     CT_EDECODE);
    fx_free(&r);
    /* no meta: an empty record decodes as an event without meta */
    assert_int_equal(billing_event_decode(&ev, "citerne.orders.v1", "", 0, &why), CT_EDECODE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delivery_confirmed_decodes_into_domain_values),
        cmocka_unit_test(every_bad_delivery_field_is_refused_by_name),
        cmocka_unit_test(accounts_events_are_validated),
        cmocka_unit_test(updates_decode_as_their_kind_with_a_version_of_2_or_more),
        cmocka_unit_test(kinds_billing_does_not_use_are_ignored),
        cmocka_unit_test(records_that_do_not_decode_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
