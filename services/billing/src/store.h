/* All SQL of billing. Transaction steps issue one statement on tx and go on
 * with next (see citerne/db.h); reads for the API are one-shot queries. */
#ifndef BILLING_STORE_H
#define BILLING_STORE_H

#include <stdint.h>

#include "citerne/db.h"
#include "invoice.h"

/* Read-model writes of accounts' state at version (1 for a *Created): the
 * row is inserted, or written over an older version only, so a *Created
 * over a known row and an update not newer than the row change nothing.
 * One row: old_version (the row's version before, NULL when it was not
 * there) and written (1 or 0). */
void billing_store_put_customer(ct_db_tx_t *tx, const char *customer_id, const char *number,
                                const char *segment, int vat_rate_bp, const char *name, int version,
                                ct_db_tx_cb next);
void billing_store_put_contract(ct_db_tx_t *tx, const char *contract_id, const char *customer_id,
                                const char *delivery_mode, int64_t price_per_tonne_cents,
                                const char *maintenance_plan, int version, ct_db_tx_cb next);
void billing_store_put_site(ct_db_tx_t *tx, const char *site_id, const char *contract_id,
                            const char *customer_id, int version, ct_db_tx_cb next);

/* One row: existing_invoice (the invoice already issued for the order, or
 * NULL), has_site, has_contract, has_customer ("t"/"f"), site_customer_id,
 * customer_number, segment, price_per_tonne_cents, maintenance_plan. */
void billing_store_delivery_context(ct_db_tx_t *tx, const char *order_id, const char *site_id,
                                    const char *customer_id, ct_db_tx_cb next);
/* Allocates the next number of year (one row, column "last"); the counter
 * row stays locked until the transaction ends. */
void billing_store_next_seq(ct_db_tx_t *tx, int year, ct_db_tx_cb next);

typedef struct {
    const char *invoice_id;
    const char *number;
    int year;
    int64_t seq;
    const char *customer_id;
    const char *customer_number;
    const char *order_id;
    const char *site_id;
    const char *delivery_date;
    const char *issue_date;
    const char *cause_event_id;
    const billing_invoice_t *inv;
} billing_issue_t;

/* Inserts the invoice and its lines in one statement. */
void billing_store_insert_invoice(ct_db_tx_t *tx, const billing_issue_t *is, ct_db_tx_cb next);

/* Invoices as the API shows them: rows of (customer_id, doc), doc the JSON
 * text of one invoice with its lines. invoice_id must be a valid UUID. */
int billing_store_get_invoice(ct_db_t *db, const char *invoice_id, ct_db_result_cb cb, void *udata);
/* By number; customer_id and order_id are optional filters (NULL: any), at
 * most 1000 rows. */
int billing_store_list_invoices(ct_db_t *db, const char *customer_id, const char *order_id,
                                ct_db_result_cb cb, void *udata);

#endif
