/* Invoice arithmetic and numbering. Pure functions: values in, values out.
 * Money is integer cents; rounding is half up (amounts are never negative
 * here: credit notes are not issued by this service). */
#ifndef BILLING_INVOICE_H
#define BILLING_INVOICE_H

#include <stddef.h>
#include <stdint.h>

#include "fees.h"

#define BILLING_GAS_VAT_BP 2000
#define BILLING_GAS_LABEL "Propane (kg)"
#define BILLING_MAX_LINES 4
/* "FA2026-000001" and its terminating NUL. */
#define BILLING_NUMBER_SIZE 16
/* "YYYY-MM-DD" and its terminating NUL. */
#define BILLING_DATE_SIZE 11

typedef struct {
    char label[64];
    int64_t quantity;         /* kg for gas, 1 for a fee */
    int64_t unit_price_cents; /* per tonne for gas, per unit for a fee, excl. VAT */
    int64_t amount_excl_cents;
    int32_t vat_rate_bp;
} billing_line_t;

typedef struct {
    size_t nlines;
    billing_line_t lines[BILLING_MAX_LINES];
    int64_t total_excl_cents;
    int64_t total_vat_cents;
    int64_t total_incl_cents;
} billing_invoice_t;

/* What a delivery invoice is computed from (all validated by the caller:
 * delivered_kg 1..100000, price 1..10^7 cents per tonne). */
typedef struct {
    int64_t delivered_kg;
    int64_t price_per_tonne_cents;
    billing_fee_t fee;
} billing_delivery_t;

/* round(num / den) with halves rounded up; num >= 0, den > 0. */
int64_t billing_div_round_half_up(int64_t num, int64_t den);
/* Gas amount excl. VAT: kg x price per tonne / 1000, rounded half up. */
int64_t billing_gas_amount(int64_t kg, int64_t price_per_tonne_cents);
/* Appends a line (amount = the caller's) to inv; ignored past BILLING_MAX_LINES
 * (a programming error, asserted). Totals are not updated: see
 * billing_invoice_totals. */
void billing_invoice_add_line(billing_invoice_t *inv, const char *label, int64_t quantity,
                              int64_t unit_price_cents, int64_t amount_excl_cents,
                              int32_t vat_rate_bp);
/* Sets the totals: excl = sum of the lines; VAT = for each rate, the sum of
 * that rate's line amounts x rate / 10000 rounded half up, summed over the
 * rates; incl = excl + VAT. */
void billing_invoice_totals(billing_invoice_t *inv);
/* The invoice of one delivery: the gas line, the fee line when the fee is
 * not free, and the totals. inv is overwritten. */
void billing_invoice_for_delivery(const billing_delivery_t *d, billing_invoice_t *inv);

/* "FA<year>-<seq, 6 digits>" into out (BILLING_NUMBER_SIZE bytes). Returns 0,
 * or -1 when year is not 2000..9999 or seq not 1..999999. */
int billing_invoice_number(int year, int64_t seq, char out[BILLING_NUMBER_SIZE]);

/* Parses a calendar date "YYYY-MM-DD" (year 2000..9999, a real day).
 * Returns 0 or -1. */
int billing_date_parse(const char *s, int *year, int *month, int *day);
/* The issue date of a delivery invoice: the day after the delivery date, as
 * "YYYY-MM-DD" in out, its year in *year. Returns 0 or -1 for a bad date. */
int billing_issue_date(const char *delivery_date, char out[BILLING_DATE_SIZE], int *year);

#endif
