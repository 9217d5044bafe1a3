/* Invoice arithmetic: gas line, VAT by rate rounded half up, totals,
 * numbers and the issue date. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "invoice.h"

static void gas_amount_is_kg_times_price_per_tonne_rounded_half_up(void **state)
{
    (void)state;
    struct {
        int64_t kg, price, amount;
    } t[] = {
        {1000, 123456, 123456}, /* exactly one tonne */
        {1, 500, 1},            /* 0.5 cent: up */
        {1, 499, 0},            /* 0.499 cent: down */
        {3, 1500, 5},           /* 4.5 cents: up */
        {487, 115000, 56005},   /* exact */
        {333, 123455, 41111},   /* 41110.515 */
        {333, 123453, 41110},   /* 41109.849 */
        {100000, 10000000, 1000000000},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t got = billing_gas_amount(t[i].kg, t[i].price);
        if (got != t[i].amount)
            fail_msg("%lld kg at %lld: %lld, expected %lld", (long long)t[i].kg,
                     (long long)t[i].price, (long long)got, (long long)t[i].amount);
    }
}

static void division_rounds_halves_up_and_the_rest_to_nearest(void **state)
{
    (void)state;
    assert_int_equal(billing_div_round_half_up(5, 10), 1);
    assert_int_equal(billing_div_round_half_up(4, 10), 0);
    assert_int_equal(billing_div_round_half_up(15, 10), 2);
    assert_int_equal(billing_div_round_half_up(25, 10), 3);
    assert_int_equal(billing_div_round_half_up(1, 3), 0);
    assert_int_equal(billing_div_round_half_up(2, 3), 1);
    assert_int_equal(billing_div_round_half_up(0, 7), 0);
    assert_int_equal(billing_div_round_half_up(3, 2), 2);
}

static int64_t vat_of(int64_t amount, int32_t rate)
{
    billing_invoice_t inv = {0};
    billing_invoice_add_line(&inv, "x", 1, amount, amount, rate);
    billing_invoice_totals(&inv);
    return inv.total_vat_cents;
}

static void vat_rounds_half_up(void **state)
{
    (void)state;
    struct {
        int64_t base;
        int32_t rate;
        int64_t vat;
    } t[] = {
        {12345, 1000, 1235}, /* 1234.5 */
        {12335, 1000, 1234}, /* 1233.5 */
        {12344, 1000, 1234}, /* 1234.4 */
        {300, 550, 17},      /* 16.5 */
        {5, 1000, 1},        /* 0.5 */
        {4, 1000, 0},        /* 0.4 */
        {4167, 2000, 833},   /* 833.4 */
        {4168, 2000, 834},   /* 833.6 */
        {1250, 2000, 250},   {0, 2000, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t got = vat_of(t[i].base, t[i].rate);
        if (got != t[i].vat)
            fail_msg("VAT of %lld at %d bp: %lld, expected %lld", (long long)t[i].base, t[i].rate,
                     (long long)got, (long long)t[i].vat);
    }
}

static void vat_is_rounded_once_per_rate_not_per_line(void **state)
{
    (void)state;
    billing_invoice_t inv = {0};
    billing_invoice_add_line(&inv, "a", 1, 4167, 4167, 2000); /* 833.4 */
    billing_invoice_add_line(&inv, "b", 1, 4167, 4167, 2000); /* 833.4 */
    billing_invoice_totals(&inv);
    assert_int_equal(inv.total_excl_cents, 8334);
    assert_int_equal(inv.total_vat_cents, 1667); /* 1666.8, not 833 + 833 */
    assert_int_equal(inv.total_incl_cents, 10001);
}

static void vat_of_several_rates_is_the_sum_of_each_rate_rounded(void **state)
{
    (void)state;
    billing_invoice_t inv = {0};
    billing_invoice_add_line(&inv, "a", 1, 12345, 12345, 1000); /* 1234.5 -> 1235 */
    billing_invoice_add_line(&inv, "b", 1, 1001, 1001, 2000);   /* 200.2 -> 200 */
    billing_invoice_add_line(&inv, "c", 1, 5, 5, 1000);         /* with a: 1235.0 */
    billing_invoice_totals(&inv);
    assert_int_equal(inv.total_excl_cents, 13351);
    assert_int_equal(inv.total_vat_cents, 1235 + 200);
    assert_int_equal(inv.total_incl_cents, 13351 + 1435);
}

static void delivery_invoice_has_gas_and_fee_lines_at_20_percent(void **state)
{
    (void)state;
    billing_delivery_t d = {
        .delivered_kg = 500,
        .price_per_tonne_cents = 120000,
        .fee = {.amount_excl_cents = 4167, .label = "Frais de livraison express sous 8 jours"},
    };
    billing_invoice_t inv;
    billing_invoice_for_delivery(&d, &inv);
    assert_int_equal(inv.nlines, 2);
    assert_string_equal(inv.lines[0].label, "Propane (kg)");
    assert_int_equal(inv.lines[0].quantity, 500);
    assert_int_equal(inv.lines[0].unit_price_cents, 120000);
    assert_int_equal(inv.lines[0].amount_excl_cents, 60000);
    assert_int_equal(inv.lines[0].vat_rate_bp, 2000);
    assert_string_equal(inv.lines[1].label, "Frais de livraison express sous 8 jours");
    assert_int_equal(inv.lines[1].quantity, 1);
    assert_int_equal(inv.lines[1].unit_price_cents, 4167);
    assert_int_equal(inv.lines[1].amount_excl_cents, 4167);
    assert_int_equal(inv.lines[1].vat_rate_bp, 2000);
    assert_int_equal(inv.total_excl_cents, 64167);
    assert_int_equal(inv.total_vat_cents, 12833);  /* 12833.4 */
    assert_int_equal(inv.total_incl_cents, 77000); /* 720.00 gas + 50.00 fee incl. VAT */
}

static void free_delivery_adds_no_fee_line(void **state)
{
    (void)state;
    billing_delivery_t d = {.delivered_kg = 1234, .price_per_tonne_cents = 99999};
    billing_invoice_t inv;
    billing_invoice_for_delivery(&d, &inv);
    assert_int_equal(inv.nlines, 1);
    assert_int_equal(inv.lines[0].amount_excl_cents, 123399); /* 123398.766 */
    assert_int_equal(inv.total_vat_cents, 24680);             /* 24679.8 */
    assert_int_equal(inv.total_incl_cents, 123399 + 24680);
}

static void invoice_number_is_fa_year_dash_six_digits(void **state)
{
    (void)state;
    char n[BILLING_NUMBER_SIZE];
    assert_int_equal(billing_invoice_number(2026, 1, n), 0);
    assert_string_equal(n, "FA2026-000001");
    assert_int_equal(billing_invoice_number(2027, 42, n), 0);
    assert_string_equal(n, "FA2027-000042");
    assert_int_equal(billing_invoice_number(2026, 999999, n), 0);
    assert_string_equal(n, "FA2026-999999");
    assert_int_equal(billing_invoice_number(2026, 0, n), -1);
    assert_int_equal(billing_invoice_number(2026, 1000000, n), -1);
    assert_int_equal(billing_invoice_number(1999, 1, n), -1);
}

static void issue_date_is_the_day_after_delivery(void **state)
{
    (void)state;
    struct {
        const char *delivery, *issue;
        int year;
    } t[] = {
        {"2026-11-24", "2026-11-25", 2026}, {"2026-12-31", "2027-01-01", 2027},
        {"2028-02-28", "2028-02-29", 2028}, {"2027-02-28", "2027-03-01", 2027},
        {"2026-04-30", "2026-05-01", 2026}, {"2000-02-29", "2000-03-01", 2000},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[BILLING_DATE_SIZE];
        int year = 0;
        assert_int_equal(billing_issue_date(t[i].delivery, out, &year), 0);
        assert_string_equal(out, t[i].issue);
        assert_int_equal(year, t[i].year);
    }
}

static void dates_that_do_not_exist_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"2026-02-29", "2026-13-01", "2026-00-10", "2026-04-31",
                         "26-01-01",   "2026-1-01",  "",           "2026-01-01x",
                         "2026/01/01", "1999-12-31", "2100-02-29", "abcd-ef-gh"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[BILLING_DATE_SIZE];
        int year;
        if (billing_issue_date(bad[i], out, &year) != -1)
            fail_msg("\"%s\" accepted", bad[i]);
    }
    int y, m, d;
    assert_int_equal(billing_date_parse(NULL, &y, &m, &d), -1);
    assert_int_equal(billing_date_parse("2024-02-29", &y, &m, &d), 0);
    assert_int_equal(y * 10000 + m * 100 + d, 20240229);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gas_amount_is_kg_times_price_per_tonne_rounded_half_up),
        cmocka_unit_test(division_rounds_halves_up_and_the_rest_to_nearest),
        cmocka_unit_test(vat_rounds_half_up),
        cmocka_unit_test(vat_is_rounded_once_per_rate_not_per_line),
        cmocka_unit_test(vat_of_several_rates_is_the_sum_of_each_rate_rounded),
        cmocka_unit_test(delivery_invoice_has_gas_and_fee_lines_at_20_percent),
        cmocka_unit_test(free_delivery_adds_no_fee_line),
        cmocka_unit_test(invoice_number_is_fa_year_dash_six_digits),
        cmocka_unit_test(issue_date_is_the_day_after_delivery),
        cmocka_unit_test(dates_that_do_not_exist_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
