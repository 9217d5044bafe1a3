/* Test support: packed records of the topics a service consumes, built in
 * tests as the producing service would send them (a fresh EventMeta each). */
#ifndef CT_TEST_RECORDS_H
#define CT_TEST_RECORDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "citerne/v1/meta.pb-c.h"

typedef struct {
    uint8_t *data; /* malloc'ed: ct_test_record_free */
    size_t len;
    char event_id[37];
    char correlation_id[37];
} ct_test_record_t;

/* A meta of producer "test" for r: a fresh UUIDv7 event id (into
 * r->event_id) that is also its correlation id, no causation, occurred at
 * occurred_at (Unix ms; 0: now). Its strings are r's. */
Citerne__V1__EventMeta ct_test_record_meta(ct_test_record_t *r, int64_t occurred_at);
void ct_test_record_free(ct_test_record_t *r);

/* Packs into r an event of the envelope Event (AccountsEvent, ACCOUNTS_EVENT,
 * accounts_event) whose oneof `field` (body case BODY) is body, with a meta
 * of ct_test_record_meta(r, occurred_at). */
#define CT_TEST_RECORD(r, occurred_at, Event, EVENT, event, field, BODY, body)                     \
    do {                                                                                           \
        Citerne__V1__EventMeta meta_ = ct_test_record_meta((r), (occurred_at));                    \
        Citerne__V1__##Event ev_ = CITERNE__V1__##EVENT##__INIT;                                   \
        ev_.meta = &meta_;                                                                         \
        ev_.body_case = CITERNE__V1__##EVENT##__BODY_##BODY;                                       \
        ev_.field = (body);                                                                        \
        (r)->len = citerne__v1__##event##__get_packed_size(&ev_);                                  \
        (r)->data = malloc((r)->len + 1);                                                          \
        citerne__v1__##event##__pack(&ev_, (r)->data);                                             \
    } while (0)
#define CT_TEST_ACCOUNTS_RECORD(r, occurred_at, field, BODY, body)                                 \
    CT_TEST_RECORD(r, occurred_at, AccountsEvent, ACCOUNTS_EVENT, accounts_event, field, BODY, body)
#define CT_TEST_ORDERS_RECORD(r, occurred_at, field, BODY, body)                                   \
    CT_TEST_RECORD(r, occurred_at, OrdersEvent, ORDERS_EVENT, orders_event, field, BODY, body)
#define CT_TEST_BILLING_RECORD(r, occurred_at, field, BODY, body)                                  \
    CT_TEST_RECORD(r, occurred_at, BillingEvent, BILLING_EVENT, billing_event, field, BODY, body)

#endif
