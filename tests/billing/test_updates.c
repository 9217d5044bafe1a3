/* The back office's updates as billing consumes them, against the test
 * stack: CustomerUpdated, ContractUpdated and SiteUpdated applied in real
 * transactions (versions, unknown rows), and what they change in the
 * invoices issued after them, never in those issued before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/id.h"
#include "flow_support.h"
#include "stack.h"

#define ACCOUNTS "citerne.accounts.v1"

/* The invoice of order as text: totals, then each line (label, unit price,
 * amount, VAT rate). */
static char *invoice_of(const char *order)
{
    char *doc = sql_text("SELECT concat_ws('|', i.total_excl_cents, i.total_vat_cents,"
                         " i.total_incl_cents, (SELECT string_agg(concat_ws(':', l.label,"
                         " l.unit_price_cents, l.amount_excl_cents, l.vat_rate_bp), ','"
                         " ORDER BY l.position) FROM invoice_lines l"
                         " WHERE l.invoice_id = i.invoice_id))"
                         " FROM invoices i WHERE i.order_id = $1",
                         order);
    if (!doc)
        fail_msg("no invoice for order %s", order);
    return doc;
}

static void expect_invoice(const char *order, const char *want)
{
    char *got = invoice_of(order);
    if (strcmp(got, want) != 0)
        fail_msg("invoice of %s: %s, want %s", order, got, want);
    free(got);
}

static void expect_row(const char *sql, const char *arg, const char *want)
{
    char *got = sql_text(sql, arg);
    if (!got || strcmp(got, want) != 0)
        fail_msg("%s: %s, want %s", sql, got ? got : "(no row)", want);
    free(got);
}

#define CUSTOMER_ROW                                                                               \
    "SELECT concat_ws(' ', customer_number, segment, vat_rate_bp, name, version)"                  \
    " FROM customers WHERE customer_id = $1"
#define CONTRACT_ROW                                                                               \
    "SELECT concat_ws(' ', delivery_mode, price_per_tonne_cents, maintenance_plan, version)"       \
    " FROM contracts WHERE contract_id = $1"
#define SITE_ROW "SELECT concat_ws(' ', contract_id, version) FROM sites WHERE site_id = $1"

/* Applies r and checks the outcome (the record is freed). */
static void expect_applied(fx_record_t *r, billing_outcome_t want, const char *what)
{
    applied_t a = apply(r, ACCOUNTS);
    if (a.status != 0 || a.outcome != want)
        fail_msg("%s: status %d outcome %d, want 0 and %d", what, a.status, (int)a.outcome,
                 (int)want);
}

/* A copy of r (the same event id and bytes), to deliver it again. */
static fx_record_t copy_of(const fx_record_t *r)
{
    fx_record_t c = *r;
    c.data = malloc(r->len + 1);
    memcpy(c.data, r->data, r->len);
    return c;
}

static void a_new_price_bills_later_deliveries_and_leaves_issued_invoices_alone(void **state)
{
    (void)state;
    ct_test_require_stack();
    customer_t c;
    make_customer(&c, "business", "on_demand", 120000, "none");
    char o1[37], o2[37];
    ct_uuid_v7(o1);
    ct_uuid_v7(o2);
    assert_int_equal(deliver(&c, o1, "2026-11-24", 500, "standard", 0, NULL).outcome,
                     BILLING_OUT_INVOICED);
    static const char before[] = "60000|12000|72000|Propane (kg):120000:60000:2000";
    expect_invoice(o1, before);

    fx_record_t r;
    fx_contract_updated(&r, c.contract, c.customer, "on_demand", 150000, "none", 2);
    expect_applied(&r, BILLING_OUT_STORED, "new price");
    expect_row(CONTRACT_ROW, c.contract, "on_demand 150000 none 2");
    expect_invoice(o1, before);
    assert_int_equal(deliver(&c, o2, "2026-11-25", 500, "standard", 0, NULL).outcome,
                     BILLING_OUT_INVOICED);
    expect_invoice(o2, "75000|15000|90000|Propane (kg):150000:75000:2000");
    expect_invoice(o1, before);
}

static void later_invoices_take_the_new_segment_and_plan(void **state)
{
    (void)state;
    ct_test_require_stack();
    customer_t c;
    make_customer(&c, "household", "on_demand", 100000, "none");
    char o1[37], o2[37], o3[37];
    ct_uuid_v7(o1);
    ct_uuid_v7(o2);
    ct_uuid_v7(o3);
    /* a household in winter, 15 days, 300 kg: 25.00 excl. VAT */
    assert_int_equal(deliver(&c, o1, "2026-11-24", 300, "standard", 0, NULL).outcome,
                     BILLING_OUT_INVOICED);
    static const char household[] = "32500|6500|39000|Propane (kg):100000:30000:2000,"
                                    "Frais de livraison sous 15 jours:2500:2500:2000";
    expect_invoice(o1, household);

    /* now a business (free), under a new name and VAT rate */
    fx_record_t r;
    fx_customer_updated(&r, c.customer, c.number, "business", 2000, "SARL Martin", 2);
    expect_applied(&r, BILLING_OUT_STORED, "segment");
    char want[96];
    snprintf(want, sizeof want, "%s business 2000 SARL Martin 2", c.number);
    expect_row(CUSTOMER_ROW, c.customer, want);
    assert_int_equal(deliver(&c, o2, "2026-11-25", 300, "standard", 0, NULL).outcome,
                     BILLING_OUT_INVOICED);
    expect_invoice(o2, "30000|6000|36000|Propane (kg):100000:30000:2000");

    /* a household again, with the Preference plan: free in winter too */
    fx_customer_updated(&r, c.customer, c.number, "household", 1000, "Famille Martin", 3);
    expect_applied(&r, BILLING_OUT_STORED, "household again");
    fx_contract_updated(&r, c.contract, c.customer, "on_demand", 100000, "preference", 2);
    expect_applied(&r, BILLING_OUT_STORED, "plan");
    assert_int_equal(deliver(&c, o3, "2026-11-26", 300, "standard", 0, NULL).outcome,
                     BILLING_OUT_INVOICED);
    expect_invoice(o3, "30000|6000|36000|Propane (kg):100000:30000:2000");
    expect_invoice(o1, household);
}

static void an_update_applies_over_an_older_version_only(void **state)
{
    (void)state;
    ct_test_require_stack();
    customer_t c;
    make_customer(&c, "household", "on_demand", 100000, "none");
    fx_record_t v2, r;
    fx_contract_updated(&v2, c.contract, c.customer, "on_demand", 110000, "none", 2);
    fx_record_t v2_again = copy_of(&v2);
    expect_applied(&v2, BILLING_OUT_STORED, "v2");
    fx_contract_updated(&r, c.contract, c.customer, "automatic", 130000, "preference", 3);
    expect_applied(&r, BILLING_OUT_STORED, "v3");
    expect_row(CONTRACT_ROW, c.contract, "automatic 130000 preference 3");
    /* v2 again (the same event), v3 under another event id, the
     * ContractCreated again: none moves the row */
    expect_applied(&v2_again, BILLING_OUT_STALE, "v2 replayed");
    fx_contract_updated(&r, c.contract, c.customer, "on_demand", 140000, "none", 3);
    expect_applied(&r, BILLING_OUT_STALE, "v3 again");
    fx_contract(&r, c.contract, c.customer, "on_demand", 90000, "none");
    expect_applied(&r, BILLING_OUT_STALE, "ContractCreated again");
    expect_row(CONTRACT_ROW, c.contract, "automatic 130000 preference 3");

    char want[96];
    fx_customer_updated(&r, c.customer, c.number, "business", 2000, "SARL B", 4);
    expect_applied(&r, BILLING_OUT_STORED, "customer v4");
    fx_customer_updated(&r, c.customer, c.number, "household", 1000, "Famille B", 2);
    expect_applied(&r, BILLING_OUT_STALE, "customer v2 after v4");
    fx_customer(&r, c.customer, c.number, "household", 0);
    expect_applied(&r, BILLING_OUT_STALE, "CustomerCreated again");
    snprintf(want, sizeof want, "%s business 2000 SARL B 4", c.number);
    expect_row(CUSTOMER_ROW, c.customer, want);

    fx_site_updated(&r, c.site, c.contract, c.customer, 2);
    expect_applied(&r, BILLING_OUT_STORED, "site v2");
    fx_site_updated(&r, c.site, c.contract, c.customer, 2);
    expect_applied(&r, BILLING_OUT_STALE, "site v2 again");
    snprintf(want, sizeof want, "%s 2", c.contract);
    expect_row(SITE_ROW, c.site, want);
}

static void an_update_of_an_unknown_row_adds_it_and_its_created_then_changes_nothing(void **state)
{
    (void)state;
    ct_test_require_stack();
    customer_t c;
    ct_uuid_v7(c.customer);
    ct_uuid_v7(c.contract);
    ct_uuid_v7(c.site);
    snprintf(c.number, sizeof c.number, "C-U%.6s", c.customer + 30);
    fx_record_t r;
    fx_customer_updated(&r, c.customer, c.number, "business", 2000, "SARL Inconnue", 2);
    expect_applied(&r, BILLING_OUT_STORED, "unknown customer");
    fx_contract_updated(&r, c.contract, c.customer, "on_demand", 125000, "none", 4);
    expect_applied(&r, BILLING_OUT_STORED, "unknown contract");
    fx_site_updated(&r, c.site, c.contract, c.customer, 3);
    expect_applied(&r, BILLING_OUT_STORED, "unknown site");
    char want[96];
    snprintf(want, sizeof want, "%s business 2000 SARL Inconnue 2", c.number);
    expect_row(CUSTOMER_ROW, c.customer, want);
    expect_row(CONTRACT_ROW, c.contract, "on_demand 125000 none 4");

    /* the *Created that come late are older */
    fx_customer(&r, c.customer, c.number, "household", 0);
    expect_applied(&r, BILLING_OUT_STALE, "late CustomerCreated");
    fx_contract(&r, c.contract, c.customer, "automatic", 99000, "preference");
    expect_applied(&r, BILLING_OUT_STALE, "late ContractCreated");
    fx_site(&r, c.site, c.contract, c.customer);
    expect_applied(&r, BILLING_OUT_STALE, "late SiteCreated");
    expect_row(CUSTOMER_ROW, c.customer, want);
    expect_row(CONTRACT_ROW, c.contract, "on_demand 125000 none 4");

    /* a delivery there is invoiced at what the updates said */
    char order[37];
    ct_uuid_v7(order);
    assert_int_equal(deliver(&c, order, "2026-11-24", 400, "standard", 0, NULL).outcome,
                     BILLING_OUT_INVOICED);
    expect_invoice(order, "50000|10000|60000|Propane (kg):125000:50000:2000");
    expect_row("SELECT customer_number FROM invoices WHERE order_id = $1", order, c.number);
}

static int setup(void **state)
{
    (void)state;
    return flow_setup("billing_updates");
}

static int teardown(void **state)
{
    (void)state;
    return flow_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_new_price_bills_later_deliveries_and_leaves_issued_invoices_alone),
        cmocka_unit_test(later_invoices_take_the_new_segment_and_plan),
        cmocka_unit_test(an_update_applies_over_an_older_version_only),
        cmocka_unit_test(an_update_of_an_unknown_row_adds_it_and_its_created_then_changes_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
