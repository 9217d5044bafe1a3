/* notify's event decoding: what each topic gives, and every bad field
 * refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/error.h"
#include "events.h"
#include "fixtures.h"

#define CUST "0190c1d2-0000-7000-8000-000000000001"
#define USER "0190c1d2-0000-7000-8000-000000000002"

static int decode(fx_record_t *r, const char *topic, notify_event_t *ev, const char **why)
{
    memset(ev, 0, sizeof *ev);
    int rc = notify_event_decode(ev, topic, r->data, r->len, why);
    fx_free(r);
    return rc;
}

static void users_are_decoded_with_their_channels(void **state)
{
    (void)state;
    fx_record_t r;
    notify_event_t ev;
    const char *why;
    fx_user(&r, USER, CUST, "marie@example.com", "+33612345678", "Marie");
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, NOTIFY_EV_USER);
    assert_string_equal(ev.email, "marie@example.com");
    assert_string_equal(ev.phone, "+33612345678");
    assert_string_equal(ev.name, "Marie");
    fx_user(&r, USER, CUST, "", "", "");
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0); /* nobody to tell, fine */
}

static void bad_user_fields_are_refused_by_name(void **state)
{
    (void)state;
    struct {
        const char *email, *phone, *name, *field;
    } bad[] = {
        {"marie@example.com\r\nBcc: all@example.com", "", "Marie", "email"},
        {"not an address", "", "Marie", "email"},
        {"marie@example.com", "06 12 34 56 78", "Marie", "phone"},
        {"marie@example.com", "+33612345678", "Marie\nDupont", "name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_record_t r;
        notify_event_t ev;
        const char *why = NULL;
        fx_user(&r, USER, CUST, bad[i].email, bad[i].phone, bad[i].name);
        int rc = decode(&r, "citerne.accounts.v1", &ev, &why);
        if (rc != CT_EINPUT || !why || strcmp(why, bad[i].field) != 0)
            fail_msg("case %zu: rc %d why %s, want %s", i, rc, why ? why : "(null)", bad[i].field);
    }
}

static void notifiable_events_carry_what_the_texts_need(void **state)
{
    (void)state;
    fx_record_t r;
    notify_event_t ev;
    const char *why;
    fx_order_proposed(&r, CUST, "automatic", 750, 0);
    assert_int_equal(decode(&r, "citerne.orders.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, NOTIFY_EV_NOTIFIABLE);
    assert_int_equal(ev.nkind, NOTIFY_KIND_ORDER_PROPOSED);
    assert_true(ev.automatic);
    assert_int_equal(ev.quantity_kg, 750);
    assert_string_equal(ev.customer_id, CUST);

    fx_delivery_scheduled(&r, CUST, "2026-11-24", 500);
    assert_int_equal(decode(&r, "citerne.orders.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_DELIVERY_SCHEDULED);
    assert_string_equal(ev.delivery_date, "2026-11-24");

    fx_delivery_confirmed(&r, CUST, "2026-11-24", 480);
    assert_int_equal(decode(&r, "citerne.orders.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_DELIVERY_CONFIRMED);
    assert_int_equal(ev.delivered_kg, 480);

    fx_invoice_issued(&r, CUST, "FA2026-000001", 77000, "2026-11-25");
    assert_int_equal(decode(&r, "citerne.billing.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_INVOICE_ISSUED);
    assert_string_equal(ev.invoice_number, "FA2026-000001");
    assert_int_equal(ev.total_incl_cents, 77000);
    assert_string_equal(ev.issue_date, "2026-11-25");
}

static void out_of_range_fields_are_refused(void **state)
{
    (void)state;
    fx_record_t r;
    notify_event_t ev;
    const char *why;
    fx_order_proposed(&r, CUST, "sometimes", 500, 0);
    assert_int_equal(decode(&r, "citerne.orders.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "delivery_mode");
    fx_order_proposed(&r, CUST, "on_demand", 0, 0);
    assert_int_equal(decode(&r, "citerne.orders.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "quantity_kg");
    fx_delivery_scheduled(&r, CUST, "2026-11-31", 500);
    assert_int_equal(decode(&r, "citerne.orders.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "delivery_date");
    fx_invoice_issued(&r, CUST, "FA2026-000001", -1, "2026-11-25");
    assert_int_equal(decode(&r, "citerne.billing.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "total_incl_cents");
    fx_invoice_issued(&r, "nope", "FA2026-000001", 1, "2026-11-25");
    assert_int_equal(decode(&r, "citerne.billing.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "customer_id");
}

static void undecodable_records_are_refused(void **state)
{
    (void)state;
    notify_event_t ev;
    const char *why;
    static const uint8_t junk[] = {0x0a, 0xff, 0x01};
    memset(&ev, 0, sizeof ev);
    assert_int_equal(notify_event_decode(&ev, "citerne.billing.v1", junk, sizeof junk, &why),
                     CT_EDECODE);
    assert_int_equal(notify_event_decode(&ev, "citerne.billing.v1", "", 0, &why), CT_EDECODE);
    assert_int_equal(notify_event_decode(&ev, "citerne.unknown.v1", "", 0, &why), CT_EDECODE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(users_are_decoded_with_their_channels),
        cmocka_unit_test(bad_user_fields_are_refused_by_name),
        cmocka_unit_test(notifiable_events_carry_what_the_texts_need),
        cmocka_unit_test(out_of_range_fields_are_refused),
        cmocka_unit_test(undecodable_records_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
