/* notify's event decoding: what each topic gives, and every bad field
 * refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/v1/orders.pb-c.h"
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

static void customers_are_decoded_with_their_version(void **state)
{
    (void)state;
    fx_record_t r;
    notify_event_t ev;
    const char *why;
    fx_customer(&r, CUST, "C-0042");
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, NOTIFY_EV_CUSTOMER);
    assert_int_equal(ev.version, 1);
    fx_customer_updated(&r, CUST, "C-0042", "Dupont SARL", 5);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, NOTIFY_EV_CUSTOMER);
    assert_int_equal(ev.version, 5);
    assert_string_equal(ev.customer_number, "C-0042");
    assert_string_equal(ev.name, "Dupont SARL");
    static const struct {
        const char *number, *name;
        int version;
        const char *field;
    } bad[] = {
        {"C-0042", "Dupont", 1, "version"},
        {"C-0042", "Dupont", 0, "version"},
        {"", "Dupont", 2, "customer_number"},
        {"C-0042", "Dupont\r\nSARL", 2, "name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_customer_updated(&r, CUST, bad[i].number, bad[i].name, bad[i].version);
        int rc = decode(&r, "citerne.accounts.v1", &ev, &why);
        if (rc != CT_EINPUT || !why || strcmp(why, bad[i].field) != 0)
            fail_msg("case %zu: rc %d why %s, want %s", i, rc, why ? why : "(null)", bad[i].field);
    }
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
    assert_string_equal(ev.user_id, ""); /* automatic: nobody confirmed it */

    /* confirmed by a user: who, for the urgent delivery notice */
    fx_delivery_scheduled_by(&r, CUST, "2026-11-24", 500, "express_48h",
                             "0190b5a0-0000-7000-8000-0000000000aa");
    assert_int_equal(decode(&r, "citerne.orders.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_DELIVERY_SCHEDULED);
    assert_string_equal(ev.speed, "express_48h");
    assert_string_equal(ev.user_id, "0190b5a0-0000-7000-8000-0000000000aa");

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
    fx_delivery_scheduled_by(&r, CUST, "2026-11-24", 500, "express_24h", "not-a-user");
    assert_int_equal(decode(&r, "citerne.orders.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "confirmed_by");
    fx_invoice_issued(&r, CUST, "FA2026-000001", -1, "2026-11-25");
    assert_int_equal(decode(&r, "citerne.billing.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "total_incl_cents");
    fx_invoice_issued(&r, "nope", "FA2026-000001", 1, "2026-11-25");
    assert_int_equal(decode(&r, "citerne.billing.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "customer_id");
}

#define T 1795512600000LL
#define URL "https://portail.example/reset-password#token=Zm9vYmFy"

static void account_messages_are_decoded_for_one_address(void **state)
{
    (void)state;
    fx_record_t r;
    notify_event_t ev;
    const char *why;
    fx_reset(&r, USER, CUST, "marie@example.com", URL, T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, NOTIFY_EV_ACCOUNT);
    assert_int_equal(ev.nkind, NOTIFY_KIND_PASSWORD_RESET);
    assert_string_equal(ev.user_id, USER);
    assert_string_equal(ev.email, "marie@example.com");
    assert_string_equal(ev.link, URL);
    assert_int_equal(ev.link_expires_at, T);
    notify_event_wipe(&ev);
    assert_string_equal(ev.link, "");

    fx_activation(&r, USER, CUST, "marie@example.com", URL, T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_ACTIVATION);

    fx_password_changed(&r, USER, CUST, "marie@example.com", "reset", T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_PASSWORD_CHANGED);
    assert_true(ev.via_reset);
    assert_int_equal(ev.at, T);

    fx_totp_disabled(&r, USER, CUST, "marie@example.com", T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_TOTP_DISABLED);
    assert_true(ev.with_recovery_code);

    fx_new_device(&r, USER, CUST, "marie@example.com", "2001:db8::1", T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_NEW_DEVICE);
    assert_string_equal(ev.device, "Firefox on Linux");
    assert_string_equal(ev.address, "2001:db8::1");

    fx_new_device(&r, USER, CUST, "marie@example.com", "unknown", T); /* accounts' fallback */
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_string_equal(ev.address, "");

    fx_customer_linked(&r, USER, CUST, "marie@example.com", "viewer", T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_CUSTOMER_LINKED);
    assert_true(ev.grant);

    fx_collaborator_added(&r, CUST, USER, "paul@example.com", "orderer", "", 0);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_COLLABORATOR_ADDED);
    assert_true(ev.grant);
    assert_string_equal(ev.role, "orderer");

    fx_collaborator_added(&r, CUST, USER, "paul@example.com", "orderer", URL, T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_COLLABORATOR_INVITED);
    assert_false(ev.grant); /* a pending user: UserCreated comes at activation */
    assert_string_equal(ev.link, URL);

    /* an account invited: the message, no grant before acceptance */
    fx_collaborator_invited(&r, CUST, USER, "paul@example.com", "viewer",
                            "https://portail.example/invitations", T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_INVITATION);
    assert_false(ev.grant);
    assert_string_equal(ev.inviter_name, "Marie Dupont");
    assert_string_equal(ev.link, "https://portail.example/invitations");
    fx_collaborator_invited(&r, CUST, USER, "paul@example.com", "viewer", "ftp://x", T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "invitations_url");

    fx_collaborator_removed(&r, CUST, USER, "paul@example.com", USER);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_COLLABORATOR_REMOVED);
    assert_true(ev.revoke);
    assert_true(ev.by_self);
    /* no address: nobody to tell, but the grant still ends */
    fx_collaborator_removed(&r, CUST, USER, "", CUST);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_true(ev.revoke);
    assert_false(ev.by_self);
}

static void email_changes_are_decoded_for_both_addresses(void **state)
{
    (void)state;
    fx_record_t r;
    notify_event_t ev;
    const char *why;
    fx_email_change_requested(&r, USER, CUST, "marie@example.com", "marie@example.org", URL, T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, NOTIFY_EV_ACCOUNT);
    assert_int_equal(ev.nkind, NOTIFY_KIND_EMAIL_CHANGE_REQUESTED);
    assert_string_equal(ev.email, "marie@example.com");
    assert_string_equal(ev.new_email, "marie@example.org");
    assert_string_equal(ev.link, URL);
    assert_int_equal(ev.link_expires_at, T);
    assert_int_equal(ev.at, ev.occurred_at); /* the request's time is the event's */
    notify_event_wipe(&ev);
    assert_string_equal(ev.link, "");
    /* the address was taken: no link */
    fx_email_change_requested(&r, USER, CUST, "marie@example.com", "marie@example.org", NULL, 0);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_string_equal(ev.link, "");
    assert_int_equal(ev.link_expires_at, 0);
    fx_email_changed(&r, USER, CUST, "marie@example.com", "marie@example.org", T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.nkind, NOTIFY_KIND_EMAIL_CHANGED);
    assert_string_equal(ev.email, "marie@example.com");
    assert_string_equal(ev.new_email, "marie@example.org");
    assert_int_equal(ev.at, T);
    /* refused by name */
    fx_email_change_requested(&r, USER, CUST, "marie@example.com", "not an address", URL, T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "new_email");
    fx_email_change_requested(&r, USER, CUST, "marie@example.com", "marie@example.org",
                              "ftp://portail.example/x", T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "confirm_url");
    fx_email_changed(&r, USER, CUST, "marie@example.com", "marie@example.org", 0);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "changed_at");
}

static void profiles_roles_and_closings_are_decoded(void **state)
{
    (void)state;
    fx_record_t r;
    notify_event_t ev;
    const char *why;
    static const char *const prefs[] = {
        "invoice_issued", "email", "order_proposed", "none", "threshold_reached", "both", NULL};
    fx_profile(&r, USER, CUST, "marie@example.com", "+33612345678", "Marie", prefs);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, NOTIFY_EV_PROFILE);
    assert_string_equal(ev.phone, "+33612345678");
    assert_string_equal(ev.preferences, "{\"invoice_issued\":\"email\",\"order_proposed\":"
                                        "\"none\",\"threshold_reached\":\"both\"}");
    fx_profile(&r, USER, CUST, "marie@example.com", "", "Marie", NULL);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_string_equal(ev.preferences, "{}");

    fx_role_changed(&r, CUST, USER, "viewer");
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, NOTIFY_EV_ROLE);
    assert_string_equal(ev.role, "viewer");

    fx_user_closed(&r, USER, CUST);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, NOTIFY_EV_CLOSED);
    assert_string_equal(ev.user_id, USER);
    assert_string_equal(ev.customer_id, CUST);
}

static void bad_account_fields_are_refused_by_name(void **state)
{
    (void)state;
    fx_record_t r;
    notify_event_t ev;
    const char *why;
    struct {
        const char *url;
        int64_t expires;
        const char *email, *field;
    } bad[] = {
        {"javascript:alert(1)", T, "marie@example.com", "reset_url"},
        {"https://portail.example/reset password", T, "marie@example.com", "reset_url"},
        {"https://portail.example/\r\nBcc: x@example.com", T, "marie@example.com", "reset_url"},
        {"", T, "marie@example.com", "reset_url"},
        {URL, 0, "marie@example.com", "expires_at"},
        {URL, T, "", "email"},
        {URL, T, "marie@example.com\r\nBcc: x@example.com", "email"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        fx_reset(&r, USER, CUST, bad[i].email, bad[i].url, bad[i].expires);
        int rc = decode(&r, "citerne.accounts.v1", &ev, &why);
        if (rc != CT_EINPUT || !why || strcmp(why, bad[i].field) != 0)
            fail_msg("case %zu: rc %d why %s, want %s", i, rc, why ? why : "(null)", bad[i].field);
    }
    fx_password_changed(&r, USER, CUST, "marie@example.com", "magic", T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "via");
    fx_new_device(&r, USER, CUST, "marie@example.com", "<script>", T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "address");
    fx_customer_linked(&r, USER, CUST, "marie@example.com", "owner", T);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "role");
    static const char *const bad_channel[] = {"invoice_issued", "pigeon", NULL};
    fx_profile(&r, USER, CUST, "marie@example.com", "", "Marie", bad_channel);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "preferences");
    static const char *const bad_kind[] = {"Invoice Issued", "sms", NULL};
    fx_profile(&r, USER, CUST, "marie@example.com", "", "Marie", bad_kind);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "preferences");
    fx_user_closed(&r, "nope", CUST);
    assert_int_equal(decode(&r, "citerne.accounts.v1", &ev, &why), CT_EINPUT);
    assert_string_equal(why, "user_id");
}

static void a_held_order_is_decoded_for_the_customer(void **state)
{
    (void)state;
    fx_record_t r;
    notify_event_t ev;
    const char *why = NULL;
    fx_order_held(&r, CUST, "certificate_missing", T);
    assert_int_equal(decode(&r, "citerne.orders.v1", &ev, &why), 0);
    assert_int_equal(ev.kind, NOTIFY_EV_NOTIFIABLE);
    assert_int_equal(ev.nkind, NOTIFY_KIND_ORDER_HELD);
    assert_string_equal(ev.customer_id, CUST);
    assert_true(ev.at == T);
    static const struct {
        const char *customer, *reason;
        int64_t held_at;
        const char *field;
    } bad[] = {
        {CUST, "", T, "reason"},
        /* a reason notify has no words for: refused and counted, not untold
         * in silence */
        {CUST, "payment_missing", T, "reason"},
        {"nope", "certificate_missing", T, "customer_id"},
        {CUST, "certificate_missing", 1000, "held_at"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_order_held(&r, bad[i].customer, bad[i].reason, bad[i].held_at);
        int rc = decode(&r, "citerne.orders.v1", &ev, &why);
        if (rc != CT_EINPUT || !why || strcmp(why, bad[i].field) != 0)
            fail_msg("case %zu: rc %d why %s, want %s", i, rc, why ? why : "(null)", bad[i].field);
    }
}

/* A body orders may add later (a oneof number notify was not built with)
 * decodes, and is acknowledged with no effect. */
static void an_orders_body_notify_does_not_know_is_ignored(void **state)
{
    (void)state;
    char id[CT_UUID_STRLEN + 1];
    ct_uuid_v7(id);
    Citerne__V1__EventMeta meta = CITERNE__V1__EVENT_META__INIT;
    meta.event_id = id;
    meta.correlation_id = id;
    meta.producer = "orders";
    meta.occurred_at = T;
    Citerne__V1__OrdersEvent oe = CITERNE__V1__ORDERS_EVENT__INIT;
    oe.meta = &meta;
    /* field 99, length-delimited: a message with a string "x" */
    static const uint8_t later[] = {0x9a, 0x06, 0x03, 0x0a, 0x01, 'x'};
    uint8_t buf[256];
    size_t len = citerne__v1__orders_event__get_packed_size(&oe);
    assert_true(len + sizeof later <= sizeof buf);
    citerne__v1__orders_event__pack(&oe, buf);
    memcpy(buf + len, later, sizeof later);
    len += sizeof later;
    notify_event_t ev;
    memset(&ev, 0, sizeof ev);
    const char *why = NULL;
    assert_int_equal(notify_event_decode(&ev, "citerne.orders.v1", buf, len, &why), 0);
    assert_int_equal(ev.kind, NOTIFY_EV_IGNORED);
    assert_string_equal(ev.event_id, id);
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
        cmocka_unit_test(customers_are_decoded_with_their_version),
        cmocka_unit_test(bad_user_fields_are_refused_by_name),
        cmocka_unit_test(notifiable_events_carry_what_the_texts_need),
        cmocka_unit_test(out_of_range_fields_are_refused),
        cmocka_unit_test(undecodable_records_are_refused),
        cmocka_unit_test(a_held_order_is_decoded_for_the_customer),
        cmocka_unit_test(an_orders_body_notify_does_not_know_is_ignored),
        cmocka_unit_test(account_messages_are_decoded_for_one_address),
        cmocka_unit_test(email_changes_are_decoded_for_both_addresses),
        cmocka_unit_test(profiles_roles_and_closings_are_decoded),
        cmocka_unit_test(bad_account_fields_are_refused_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
