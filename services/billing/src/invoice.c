/* Invoice arithmetic, numbering and the issue date. */
#include "invoice.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

int64_t billing_div_round_half_up(int64_t num, int64_t den)
{
    assert(num >= 0 && den > 0);
    int64_t q = num / den, r = num % den;
    /* r >= den - r, written so that it cannot overflow */
    return r >= den - r ? q + 1 : q;
}

int64_t billing_gas_amount(int64_t kg, int64_t price_per_tonne_cents)
{
    return billing_div_round_half_up(kg * price_per_tonne_cents, 1000);
}

void billing_invoice_add_line(billing_invoice_t *inv, const char *label, int64_t quantity,
                              int64_t unit_price_cents, int64_t amount_excl_cents,
                              int32_t vat_rate_bp)
{
    assert(inv->nlines < BILLING_MAX_LINES);
    if (inv->nlines >= BILLING_MAX_LINES)
        return;
    billing_line_t *l = &inv->lines[inv->nlines++];
    snprintf(l->label, sizeof l->label, "%s", label);
    l->quantity = quantity;
    l->unit_price_cents = unit_price_cents;
    l->amount_excl_cents = amount_excl_cents;
    l->vat_rate_bp = vat_rate_bp;
}

void billing_invoice_totals(billing_invoice_t *inv)
{
    int64_t excl = 0, vat = 0;
    bool done[BILLING_MAX_LINES] = {false};
    for (size_t i = 0; i < inv->nlines; i++) {
        excl += inv->lines[i].amount_excl_cents;
        if (done[i])
            continue;
        /* VAT is computed once per rate, on the sum of that rate's lines */
        int32_t rate = inv->lines[i].vat_rate_bp;
        int64_t base = 0;
        for (size_t j = i; j < inv->nlines; j++) {
            if (inv->lines[j].vat_rate_bp == rate) {
                base += inv->lines[j].amount_excl_cents;
                done[j] = true;
            }
        }
        vat += billing_div_round_half_up(base * rate, 10000);
    }
    inv->total_excl_cents = excl;
    inv->total_vat_cents = vat;
    inv->total_incl_cents = excl + vat;
}

void billing_invoice_for_delivery(const billing_delivery_t *d, billing_invoice_t *inv)
{
    memset(inv, 0, sizeof *inv);
    billing_invoice_add_line(inv, BILLING_GAS_LABEL, d->delivered_kg, d->price_per_tonne_cents,
                             billing_gas_amount(d->delivered_kg, d->price_per_tonne_cents),
                             BILLING_GAS_VAT_BP);
    if (d->fee.amount_excl_cents > 0 && d->fee.label)
        billing_invoice_add_line(inv, d->fee.label, 1, d->fee.amount_excl_cents,
                                 d->fee.amount_excl_cents, BILLING_FEE_VAT_BP);
    billing_invoice_totals(inv);
}

int billing_invoice_number(int year, int64_t seq, char out[BILLING_NUMBER_SIZE])
{
    if (year < 2000 || year > 9999 || seq < 1 || seq > 999999)
        return -1;
    snprintf(out, BILLING_NUMBER_SIZE, "FA%04d-%06lld", year, (long long)seq);
    return 0;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int billing_date_parse(const char *s, int *year, int *month, int *day)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 2000 || y > 9999 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    *year = y;
    *month = m;
    *day = d;
    return 0;
}

int billing_issue_date(const char *delivery_date, char out[BILLING_DATE_SIZE], int *year)
{
    int y, m, d;
    if (billing_date_parse(delivery_date, &y, &m, &d) != 0)
        return -1;
    if (++d > days_in_month(y, m)) {
        d = 1;
        if (++m > 12) {
            m = 1;
            y++;
        }
    }
    if (y > 9999)
        return -1;
    /* y, m and d are in range here; the casts let -O2 see they fit */
    snprintf(out, BILLING_DATE_SIZE, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u);
    *year = y;
    return 0;
}
