/* Packed records of the topics billing consumes, for tests. Each returns a
 * malloc'ed buffer (caller frees) and its length; event ids are fresh
 * UUIDv7 written to event_id (37 bytes) when not NULL. */
#ifndef BILLING_TEST_FIXTURES_H
#define BILLING_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "records.h"

typedef ct_test_record_t fx_record_t;

/* occurred_at: Unix ms; 0 means now. */
void fx_customer(fx_record_t *r, const char *customer_id, const char *number, const char *segment,
                 int64_t occurred_at);
void fx_contract(fx_record_t *r, const char *contract_id, const char *customer_id, const char *mode,
                 int64_t price_per_tonne_cents, const char *plan);
void fx_site(fx_record_t *r, const char *site_id, const char *contract_id, const char *customer_id);
void fx_user(fx_record_t *r, const char *user_id, const char *customer_id);
/* The *Updated events of the back office: the whole state at version. */
void fx_customer_updated(fx_record_t *r, const char *customer_id, const char *number,
                         const char *segment, int vat_rate_bp, const char *name, int version);
void fx_contract_updated(fx_record_t *r, const char *contract_id, const char *customer_id,
                         const char *mode, int64_t price_per_tonne_cents, const char *plan,
                         int version);
void fx_site_updated(fx_record_t *r, const char *site_id, const char *contract_id,
                     const char *customer_id, int version);

typedef struct {
    const char *order_id, *site_id, *customer_id, *delivery_date, *speed, *mode;
    int delivered_kg, ordered_kg, level_after_pct;
    int64_t occurred_at; /* 0: now */
} fx_delivery_t;
void fx_delivery(fx_record_t *r, const fx_delivery_t *d);
void fx_order_proposed(fx_record_t *r, const char *order_id, const char *site_id,
                       const char *customer_id);
void fx_free(fx_record_t *r);

#endif
