/* What accounts consumes: billing's InvoiceIssued, for the invoice numbers
 * that prove a customer at sign-up (customer_invoices), through the inbox. */
#include <stdlib.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/inbox.h"
#include "citerne/log.h"
#include "events.h"
#include "store.h"

static void step_commit(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

static void apply(ct_db_tx_t *tx, void *udata)
{
    accounts_invoice_seen_t *seen = udata;
    accounts_store_invoice_seen(tx, seen->customer_id, seen->invoice_number, seen->issue_date,
                                step_commit);
}

static void on_done(int status, void *udata)
{
    accounts_invoice_seen_t *seen = udata;
    if (status < 0 && status != CT_EUNAVAIL)
        ct_log_warn("billing event %s: %s", seen->event_id, ct_strerror(status));
    free(seen);
}

void accounts_on_message(ct_bus_msg_t *msg, void *udata)
{
    ct_service_t *svc = udata;
    size_t len = 0;
    const void *data = ct_bus_msg_payload(msg, &len);
    accounts_invoice_seen_t *seen = malloc(sizeof *seen);
    if (!seen) {
        ct_bus_msg_done(msg, CT_EUNAVAIL); /* try again later */
        return;
    }
    int rc = accounts_billing_decode(data, len, seen);
    if (rc != 0) {
        if (rc < 0)
            ct_log_warn("undecodable record on %s [%d] at offset %lld skipped",
                        ct_bus_msg_topic(msg), (int)ct_bus_msg_partition(msg),
                        (long long)ct_bus_msg_offset(msg));
        free(seen);
        ct_bus_msg_done(msg, 0);
        return;
    }
    ct_inbox_process(svc->db, msg, seen->event_id, apply, on_done, seen);
}
