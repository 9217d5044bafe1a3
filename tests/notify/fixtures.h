/* Packed records of the topics notify consumes, for tests. Buffers are
 * malloc'ed (fx_free); event ids fresh UUIDv7 unless given. */
#ifndef NOTIFY_TEST_FIXTURES_H
#define NOTIFY_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;
    size_t len;
    char event_id[37];
} fx_record_t;

void fx_customer(fx_record_t *r, const char *customer_id, const char *number);
void fx_user(fx_record_t *r, const char *user_id, const char *customer_id, const char *email,
             const char *phone, const char *name);
/* occurred_at 0: now */
void fx_order_proposed(fx_record_t *r, const char *customer_id, const char *mode, int kg,
                       int64_t occurred_at);
void fx_delivery_scheduled(fx_record_t *r, const char *customer_id, const char *date, int kg);
void fx_delivery_confirmed(fx_record_t *r, const char *customer_id, const char *date, int kg);
void fx_invoice_issued(fx_record_t *r, const char *customer_id, const char *number,
                       int64_t total_incl_cents, const char *issue_date);
void fx_free(fx_record_t *r);

#endif
