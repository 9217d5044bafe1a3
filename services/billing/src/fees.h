/* Delivery fees: the booklet's table (DOMAIN.md, "Orders and deliveries").
 * Pure functions: values in, values out, no I/O. */
#ifndef BILLING_FEES_H
#define BILLING_FEES_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { BILLING_SEGMENT_HOUSEHOLD = 0, BILLING_SEGMENT_BUSINESS } billing_segment_t;
typedef enum { BILLING_MODE_AUTOMATIC = 0, BILLING_MODE_ON_DEMAND } billing_mode_t;
typedef enum {
    BILLING_SPEED_STANDARD = 0, /* "15 days" */
    BILLING_SPEED_EXPRESS_8D,
    BILLING_SPEED_EXPRESS_48H,
    BILLING_SPEED_EXPRESS_24H
} billing_speed_t;
typedef enum {
    BILLING_PLAN_NONE = 0,
    BILLING_PLAN_PREFERENCE,
    BILLING_PLAN_PRIVILEGE,
    BILLING_PLAN_PACTE_MAINTENANCE
} billing_plan_t;

/* VAT rate of every fee, basis points. */
#define BILLING_FEE_VAT_BP 2000
/* The quantity from which the cheaper band applies. */
#define BILLING_FEE_LARGE_KG 400

typedef struct {
    billing_mode_t mode;
    billing_speed_t speed;
    billing_segment_t segment;
    billing_plan_t plan;
    int ordered_kg; /* the band is chosen on the ordered quantity */
    int month;      /* delivery date, 1..12 */
    int day;        /* 1..31 */
} billing_fee_input_t;

typedef struct {
    int64_t amount_excl_cents;    /* 0: free, no fee line on the invoice */
    billing_speed_t billed_speed; /* the speed billed (see downgraded) */
    bool downgraded;              /* a household ordered at 24 h (not available): billed at 48 h */
    const char *label;            /* French line label, static; NULL when free */
} billing_fee_t;

/* The delivery fee of one delivery. Automatic mode is free. On demand: by
 * speed, band (ordered_kg >= 400, else the 200-399 band, which also takes
 * the rare order under the 200 kg minimum), segment, and for the 15-day
 * speed the season of the delivery date (1 Oct - 31 Mar: households pay
 * unless on the Preference or Privilege plan). A household at 24 h is billed
 * at 48 h with downgraded set (the caller logs it). Never fails. */
billing_fee_t billing_fee(const billing_fee_input_t *in);

/* True when a date of this month (1..12) falls in the winter season,
 * 1 Oct - 31 Mar (the seasons change on the first of a month). */
bool billing_is_winter(int month);

/* Parsers of the event strings; return 0, or -1 for an unknown value. */
int billing_segment_parse(const char *s, billing_segment_t *out);
int billing_mode_parse(const char *s, billing_mode_t *out);
int billing_speed_parse(const char *s, billing_speed_t *out);
int billing_plan_parse(const char *s, billing_plan_t *out);
/* The event string of a value ("express_48h"); never NULL. */
const char *billing_speed_name(billing_speed_t speed);

#endif
