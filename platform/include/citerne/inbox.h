/* Idempotent consumption. ct_inbox_process opens a transaction, records the
 * event id in ct_inbox (unique), and calls apply(tx) only the first time that
 * id is seen; a duplicate is rolled back and acknowledged. apply must end the
 * transaction (ct_db_tx_commit or ct_db_tx_rollback); the message is
 * acknowledged (offset stored) only after COMMIT succeeded, and handed again
 * later when the transaction failed for a transient reason. */
#ifndef CITERNE_INBOX_H
#define CITERNE_INBOX_H

#include "citerne/bus.h"
#include "citerne/db.h"

typedef void (*ct_inbox_apply_cb)(ct_db_tx_t *tx, void *udata);
/* Called once the outcome is known (0 committed or duplicate, < 0 failed),
 * before the message is acknowledged: frees what udata holds. May be NULL. */
typedef void (*ct_inbox_done_cb)(int status, void *udata);

void ct_inbox_process(ct_db_t *db, ct_bus_msg_t *msg, const char *event_id, ct_inbox_apply_cb apply,
                      ct_inbox_done_cb done, void *udata);

#endif
