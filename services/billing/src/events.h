/* Consumed events: protobuf -> domain values (validated), and the inbox
 * apply step that turns them into read-model rows and invoices. */
#ifndef BILLING_EVENTS_H
#define BILLING_EVENTS_H

#include <stdint.h>

#include "citerne/db.h"
#include "citerne/event.h"
#include "citerne/id.h"
#include "fees.h"
#include "invoice.h"

/* An event referring to an unknown customer/contract/site is retried for
 * CT_CONSUME_ORPHAN_WINDOW_MS (citerne/consume.h), then logged, counted and
 * skipped. */

typedef enum {
    BILLING_EV_IGNORED = 0, /* a body kind billing does not use */
    BILLING_EV_CUSTOMER,
    BILLING_EV_CONTRACT,
    BILLING_EV_SITE,
    BILLING_EV_DELIVERY,
} billing_ev_kind_t;

typedef enum {
    BILLING_OUT_NONE = 0,
    BILLING_OUT_STORED,           /* read model row written (added, or over an older version) */
    BILLING_OUT_STALE,            /* the row holds that version or a newer one: no effect */
    BILLING_OUT_INVOICED,         /* invoice issued and InvoiceIssued appended */
    BILLING_OUT_ALREADY_INVOICED, /* the order has its invoice: no effect */
    BILLING_OUT_ORPHAN_RETRY,     /* read model incomplete: rolled back, CT_EUNAVAIL */
    BILLING_OUT_ORPHAN_SKIPPED,   /* still incomplete after the retry window: skipped */
    BILLING_OUT_REJECTED,         /* inconsistent with the read model: skipped */
} billing_outcome_t;

#define UUID_BUF (CT_UUID_STRLEN + 1)

/* One consumed event and the working state of its handling. Strings are
 * copies (validated lengths), so the protobuf message is freed after decode. */
typedef struct {
    const char *topic;     /* consumed topic, borrowed (for logs and metrics) */
    const char *out_topic; /* billing's own topic, borrowed */
    billing_ev_kind_t kind;
    char event_id[UUID_BUF];
    char correlation_id[UUID_BUF];
    int64_t occurred_at;
    int version; /* accounts' version of the customer, contract or site: 1 for a *Created */
    union {
        struct {
            char customer_id[UUID_BUF];
            char number[33];
            char segment[16];
            int vat_rate_bp;
            char name[201];
        } customer;
        struct {
            char contract_id[UUID_BUF];
            char customer_id[UUID_BUF];
            char delivery_mode[16];
            int64_t price_per_tonne_cents;
            char plan[24];
        } contract;
        struct {
            char site_id[UUID_BUF];
            char contract_id[UUID_BUF];
            char customer_id[UUID_BUF];
        } site;
        struct {
            char order_id[UUID_BUF];
            char site_id[UUID_BUF];
            char customer_id[UUID_BUF];
            char delivery_date[BILLING_DATE_SIZE];
            int delivered_kg;
            int ordered_kg;
            billing_speed_t speed;
            billing_mode_t mode;
        } delivery;
    } u;
    /* handling */
    billing_outcome_t outcome;
    char invoice_id[UUID_BUF];
    char number[BILLING_NUMBER_SIZE];
    char customer_number[33];
    char issue_date[BILLING_DATE_SIZE];
    int issue_year;
    billing_invoice_t invoice;
    ct_event_meta_t out_meta;
    uint8_t *payload; /* packed InvoiceIssued, malloc'ed */
    size_t payload_len;
} billing_event_t;

/* Decodes a record of topic (citerne.accounts.v1 or citerne.orders.v1) into
 * ev (zeroed first; topic and out_topic must be set by the caller after, or
 * before: they are kept). CustomerUpdated, ContractUpdated and SiteUpdated
 * decode as their *Created kind with their version (ev->version, 2 or more;
 * 1 for a *Created). Returns 0 (ev->kind says what; BILLING_EV_IGNORED for a
 * kind billing does not use), CT_EDECODE when the record does not decode or
 * its meta is invalid, CT_EINPUT when a field is out of range (*why names
 * it, a static string). */
int billing_event_decode(billing_event_t *ev, const char *topic, const void *data, size_t len,
                         const char **why);

/* The inbox apply step (ct_inbox_apply_cb): udata is the billing_event_t.
 * Ends the transaction: commit, or rollback with CT_EUNAVAIL for an orphan
 * still within its retry window. Sets ev->outcome. A read-model event writes
 * its row only when the row is absent or holds an older version (an update
 * of an unknown row adds it, logged at warn). */
void billing_event_apply(ct_db_tx_t *tx, void *udata);

/* Frees what handling allocated in ev (not ev itself). */
void billing_event_dispose(billing_event_t *ev);

#endif
