/* accounts events: each domain value packs into an AccountsEvent that decodes
 * back with the same body and a fresh meta. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/id.h"
#include "citerne/error.h"
#include "citerne/event.h"
#include "citerne/v1/accounts.pb-c.h"
#include "citerne/v1/billing.pb-c.h"
#include "events.h"

static Citerne__V1__AccountsEvent *decode(const accounts_event_t *ev)
{
    assert_non_null(ev->data);
    Citerne__V1__AccountsEvent *m = citerne__v1__accounts_event__unpack(NULL, ev->len, ev->data);
    assert_non_null(m);
    assert_non_null(m->meta);
    assert_string_equal(m->meta->event_id, ev->event_id);
    assert_true(ct_uuid_valid(m->meta->event_id));
    assert_string_equal(m->meta->correlation_id, ev->event_id); /* a chain starts here */
    assert_string_equal(m->meta->producer, "accounts");
    assert_true(m->meta->occurred_at > 1700000000000LL);
    return m;
}

static void customer_created_carries_number_segment_and_vat(void **state)
{
    (void)state;
    accounts_customer_t c = {.customer_number = "C1234567",
                             .name = "Dupont SARL",
                             .segment = "business",
                             .vat_rate_bp = 2000,
                             .siret = "73282932000074"};
    ct_uuid_v7(c.id);
    accounts_event_t ev;
    assert_int_equal(accounts_event_customer_created(&c, &ev), 0);
    Citerne__V1__AccountsEvent *m = decode(&ev);
    assert_int_equal(m->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_CREATED);
    assert_string_equal(m->customer_created->customer_id, c.id);
    assert_string_equal(m->customer_created->customer_number, "C1234567");
    assert_string_equal(m->customer_created->segment, "business");
    assert_string_equal(m->customer_created->name, "Dupont SARL");
    assert_int_equal(m->customer_created->vat_rate_bp, 2000);
    citerne__v1__accounts_event__free_unpacked(m, NULL);
    accounts_event_dispose(&ev);
    assert_null(ev.data);
    accounts_event_dispose(&ev); /* twice is harmless */
}

static void contract_created_carries_mode_price_and_plan(void **state)
{
    (void)state;
    accounts_contract_t c = {.delivery_mode = "on_demand",
                             .price_per_tonne_cents = 185000,
                             .maintenance_plan = "preference"};
    ct_uuid_v7(c.id);
    ct_uuid_v7(c.customer_id);
    accounts_event_t ev;
    assert_int_equal(accounts_event_contract_created(&c, &ev), 0);
    Citerne__V1__AccountsEvent *m = decode(&ev);
    assert_int_equal(m->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_CONTRACT_CREATED);
    assert_string_equal(m->contract_created->contract_id, c.id);
    assert_string_equal(m->contract_created->customer_id, c.customer_id);
    assert_string_equal(m->contract_created->delivery_mode, "on_demand");
    assert_int_equal(m->contract_created->price_per_tonne_cents, 185000);
    assert_string_equal(m->contract_created->maintenance_plan, "preference");
    citerne__v1__accounts_event__free_unpacked(m, NULL);
    accounts_event_dispose(&ev);
}

static void site_created_carries_the_contracts_mode_and_customer(void **state)
{
    (void)state;
    accounts_site_t s = {.capacity_kg = 1000,
                         .threshold_pct = 25,
                         .address = "1 rue du Gaz",
                         .certificate_received = false,
                         .delivery_mode = "automatic"};
    ct_uuid_v7(s.id);
    ct_uuid_v7(s.contract_id);
    ct_uuid_v7(s.customer_id);
    accounts_event_t ev;
    assert_int_equal(accounts_event_site_created(&s, &ev), 0);
    Citerne__V1__AccountsEvent *m = decode(&ev);
    assert_int_equal(m->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED);
    assert_string_equal(m->site_created->site_id, s.id);
    assert_string_equal(m->site_created->contract_id, s.contract_id);
    assert_string_equal(m->site_created->customer_id, s.customer_id);
    assert_int_equal(m->site_created->capacity_kg, 1000);
    assert_int_equal(m->site_created->threshold_pct, 25);
    assert_string_equal(m->site_created->address, "1 rue du Gaz");
    assert_string_equal(m->site_created->delivery_mode, "automatic");
    assert_false(m->site_created->certificate_received);
    citerne__v1__accounts_event__free_unpacked(m, NULL);
    accounts_event_dispose(&ev);
}

static void user_created_never_carries_the_password(void **state)
{
    (void)state;
    accounts_user_t u = {.email = "marie@example.fr",
                         .phone = NULL,
                         .name = "Marie",
                         .role = "orderer",
                         .password_hash = "$argon2id$v=19$secret-hash"};
    ct_uuid_v7(u.id);
    ct_uuid_v7(u.customer_id);
    accounts_event_t ev;
    assert_int_equal(accounts_event_user_created(&u, &ev), 0);
    Citerne__V1__AccountsEvent *m = decode(&ev);
    assert_int_equal(m->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_CREATED);
    assert_string_equal(m->user_created->user_id, u.id);
    assert_string_equal(m->user_created->customer_id, u.customer_id);
    assert_string_equal(m->user_created->email, "marie@example.fr");
    assert_string_equal(m->user_created->phone, "");
    assert_string_equal(m->user_created->role, "orderer");
    assert_string_equal(m->user_created->name, "Marie");
    assert_null(memmem(ev.data, ev.len, "argon2", 6));
    citerne__v1__accounts_event__free_unpacked(m, NULL);
    accounts_event_dispose(&ev);
}

static void each_event_gets_its_own_id(void **state)
{
    (void)state;
    accounts_customer_t c = {
        .customer_number = "C1234567", .name = "A", .segment = "household", .vat_rate_bp = 1000};
    ct_uuid_v7(c.id);
    accounts_event_t a, b;
    assert_int_equal(accounts_event_customer_created(&c, &a), 0);
    assert_int_equal(accounts_event_customer_created(&c, &b), 0);
    assert_string_not_equal(a.event_id, b.event_id);
    accounts_event_dispose(&a);
    accounts_event_dispose(&b);
}

static void link_events_carry_their_url_and_expiry(void **state)
{
    (void)state;
    accounts_user_ref_t u = {.user_id = "01a2021b-9e77-701b-819a-8d1dacc399c8",
                             .customer_id = "01a2021b-9e77-701b-819a-8d1dacc399c9",
                             .email = "marie@example.fr",
                             .name = "Marie"};
    accounts_event_t ev;
    assert_int_equal(
        accounts_event_password_reset_requested(&u, "https://p/reset-password#token=ab", 1234, &ev),
        0);
    Citerne__V1__AccountsEvent *m = decode(&ev);
    assert_int_equal(m->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_PASSWORD_RESET_REQUESTED);
    assert_string_equal(m->password_reset_requested->reset_url,
                        "https://p/reset-password#token=ab");
    assert_string_equal(m->password_reset_requested->customer_id, u.customer_id);
    assert_int_equal(m->password_reset_requested->expires_at, 1234);
    citerne__v1__accounts_event__free_unpacked(m, NULL);
    accounts_event_dispose(&ev);

    assert_int_equal(
        accounts_event_activation_requested(&u, "https://p/activate#token=cd", 99, &ev), 0);
    m = decode(&ev);
    assert_int_equal(m->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_ACTIVATION_REQUESTED);
    assert_string_equal(m->activation_requested->activation_url, "https://p/activate#token=cd");
    assert_string_equal(m->activation_requested->email, "marie@example.fr");
    citerne__v1__accounts_event__free_unpacked(m, NULL);
    accounts_event_dispose(&ev);

    assert_int_equal(accounts_event_password_changed(&u, "reset", 5, &ev), 0);
    m = decode(&ev);
    assert_int_equal(m->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_PASSWORD_CHANGED);
    assert_string_equal(m->password_changed->via, "reset");
    citerne__v1__accounts_event__free_unpacked(m, NULL);
    accounts_event_dispose(&ev);
}

static size_t pack_billing(Citerne__V1__InvoiceIssued *inv, uint8_t *buf, size_t cap)
{
    ct_event_meta_t meta;
    ct_event_meta_init(&meta, "billing", NULL);
    Citerne__V1__BillingEvent ev = CITERNE__V1__BILLING_EVENT__INIT;
    ev.meta = &meta.meta;
    if (inv) {
        ev.body_case = CITERNE__V1__BILLING_EVENT__BODY_INVOICE_ISSUED;
        ev.invoice_issued = inv;
    }
    assert_true(citerne__v1__billing_event__get_packed_size(&ev) <= cap);
    return citerne__v1__billing_event__pack(&ev, buf);
}

static void invoice_issued_yields_the_customers_invoice_number(void **state)
{
    (void)state;
    Citerne__V1__InvoiceIssued inv = CITERNE__V1__INVOICE_ISSUED__INIT;
    inv.customer_id = "01A2021B-9E77-701B-819A-8D1DACC399C9";
    inv.invoice_number = "F2026-000042";
    inv.issue_date = "2026-11-21";
    uint8_t buf[512];
    size_t len = pack_billing(&inv, buf, sizeof buf);
    accounts_invoice_seen_t seen;
    assert_int_equal(accounts_billing_decode(buf, len, &seen), 0);
    assert_string_equal(seen.customer_id, "01a2021b-9e77-701b-819a-8d1dacc399c9");
    assert_string_equal(seen.invoice_number, "F2026-000042");
    assert_string_equal(seen.issue_date, "2026-11-21");
    assert_true(ct_uuid_valid(seen.event_id));
    /* a date that does not exist is kept as none (such an invoice proves
     * nothing), not refused by the INSERT */
    static const char *const bad[] = {"2026-02-30", "2026-11-2x", "21/11/2026", "2026-11-210"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        inv.issue_date = (char *)bad[i];
        len = pack_billing(&inv, buf, sizeof buf);
        assert_int_equal(accounts_billing_decode(buf, len, &seen), 0);
        assert_string_equal(seen.issue_date, "");
    }
    inv.issue_date = "2024-02-29";
    len = pack_billing(&inv, buf, sizeof buf);
    assert_int_equal(accounts_billing_decode(buf, len, &seen), 0);
    assert_string_equal(seen.issue_date, "2024-02-29");

    len = pack_billing(NULL, buf, sizeof buf); /* another body: skipped */
    assert_int_equal(accounts_billing_decode(buf, len, &seen), 1);
    inv.customer_id = "not a uuid";
    len = pack_billing(&inv, buf, sizeof buf);
    assert_int_equal(accounts_billing_decode(buf, len, &seen), CT_EDECODE);
    assert_int_equal(accounts_billing_decode("\xff\xff\xff", 3, &seen), CT_EDECODE);
}

static void email_change_events_carry_both_addresses(void **state)
{
    (void)state;
    accounts_user_ref_t u = {.user_id = "0190a1b2-0000-7000-8000-000000000001",
                             .customer_id = "0190a1b2-0000-7000-8000-000000000002",
                             .email = "old@example.test",
                             .new_email = "new@example.test",
                             .name = "Marie"};
    accounts_event_t ev;
    /* a link for a free address */
    assert_int_equal(accounts_event_email_change_requested(
                         &u, "https://portal.test/confirm-email#token=ab", 1900000000000LL, &ev),
                     0);
    Citerne__V1__AccountsEvent *m = decode(&ev);
    assert_int_equal(m->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_EMAIL_CHANGE_REQUESTED);
    Citerne__V1__EmailChangeRequested *r = m->email_change_requested;
    assert_string_equal(r->user_id, u.user_id);
    assert_string_equal(r->customer_id, u.customer_id);
    assert_string_equal(r->old_email, "old@example.test");
    assert_string_equal(r->new_email, "new@example.test");
    assert_string_equal(r->name, "Marie");
    assert_string_equal(r->confirm_url, "https://portal.test/confirm-email#token=ab");
    assert_int_equal(r->expires_at, 1900000000000LL);
    citerne__v1__accounts_event__free_unpacked(m, NULL);
    accounts_event_dispose(&ev);
    /* a taken address: no link, no expiry */
    assert_int_equal(accounts_event_email_change_requested(&u, NULL, 1900000000000LL, &ev), 0);
    m = decode(&ev);
    assert_string_equal(m->email_change_requested->confirm_url, "");
    assert_int_equal(m->email_change_requested->expires_at, 0);
    citerne__v1__accounts_event__free_unpacked(m, NULL);
    accounts_event_dispose(&ev);
    /* the change done */
    assert_int_equal(accounts_event_email_changed(&u, 1900000000001LL, &ev), 0);
    m = decode(&ev);
    assert_int_equal(m->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_EMAIL_CHANGED);
    assert_string_equal(m->email_changed->old_email, "old@example.test");
    assert_string_equal(m->email_changed->new_email, "new@example.test");
    assert_string_equal(m->email_changed->name, "Marie");
    assert_int_equal(m->email_changed->changed_at, 1900000000001LL);
    citerne__v1__accounts_event__free_unpacked(m, NULL);
    accounts_event_dispose(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(customer_created_carries_number_segment_and_vat),
        cmocka_unit_test(contract_created_carries_mode_price_and_plan),
        cmocka_unit_test(site_created_carries_the_contracts_mode_and_customer),
        cmocka_unit_test(user_created_never_carries_the_password),
        cmocka_unit_test(each_event_gets_its_own_id),
        cmocka_unit_test(link_events_carry_their_url_and_expiry),
        cmocka_unit_test(email_change_events_carry_both_addresses),
        cmocka_unit_test(invoice_issued_yields_the_customers_invoice_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
