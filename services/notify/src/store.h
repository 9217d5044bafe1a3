/* All SQL of notify. Transaction steps issue one statement on tx and go on
 * with next (see citerne/db.h); the sender and the API use one-shot queries. */
#ifndef NOTIFY_STORE_H
#define NOTIFY_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "citerne/db.h"

/* Read model; creation events are facts, the first one wins. */
void notify_store_add_customer(ct_db_tx_t *tx, const char *customer_id, const char *number,
                               const char *name, ct_db_tx_cb next);
void notify_store_add_user(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                           const char *email, const char *phone, const char *name, const char *role,
                           ct_db_tx_cb next);

/* Rows (customer_number, user_id, email, phone, name) of the customer's
 * users; one row with a NULL user_id when the customer has none; no row
 * when the customer is unknown. */
void notify_store_recipients(ct_db_tx_t *tx, const char *customer_id, ct_db_tx_cb next);

/* Inserts notifications, rows_json an array of {notification_id, user_id,
 * channel, recipient, subject, body}; a row already there for (cause event,
 * user, channel) is left alone. Affected rows = the new ones. */
void notify_store_insert_notifications(ct_db_tx_t *tx, const char *rows_json,
                                       const char *customer_id, const char *kind,
                                       const char *cause_event_id, const char *correlation_id,
                                       ct_db_tx_cb next);

/* Claims up to limit due notifications of the channels ("{email,sms}") by
 * moving next_attempt_at lease_ms ahead. Rows: notification_id, channel,
 * recipient, subject, body, attempts. */
int notify_store_claim(ct_db_t *db, int limit, long lease_ms, const char *channels,
                       ct_db_result_cb cb, void *udata);
/* Marks a claimed notification sent (if still pending). One row when it was
 * marked: customer_id, user_id, channel, kind, cause_event_id, correlation_id. */
void notify_store_mark_sent(ct_db_tx_t *tx, const char *notification_id, ct_db_tx_cb next);
/* Records a failed attempt: failed when permanent or at max_attempts, else
 * pending again in retry_ms. */
int notify_store_mark_failed(ct_db_t *db, const char *notification_id, const char *error,
                             bool permanent, int max_attempts, long retry_ms, ct_db_result_cb cb,
                             void *udata);

/* The API's list: one row, column "doc", the JSON array of the customer's
 * notifications (newest first, at most 1000). */
int notify_store_list(ct_db_t *db, const char *customer_id, ct_db_result_cb cb, void *udata);

#endif
