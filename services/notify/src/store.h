/* All SQL of notify. Transaction steps issue one statement on tx and go on
 * with next (see citerne/db.h); the sender and the API use one-shot queries. */
#ifndef NOTIFY_STORE_H
#define NOTIFY_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "citerne/db.h"

/* Read model; creation events are facts, the first one wins. */
/* The customer at version (1 for CustomerCreated): inserted, or written
 * over an older version only. One row: old_version (NULL when the customer
 * was not there) and written (1 or 0). */
void notify_store_put_customer(ct_db_tx_t *tx, const char *customer_id, const char *number,
                               const char *name, int version, ct_db_tx_cb next);
void notify_store_add_user(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                           const char *email, const char *phone, const char *name, const char *role,
                           ct_db_tx_cb next);

/* A grant from CustomerLinked or CollaboratorAdded: the (user, customer)
 * row, its role updated when it is there; the phone (and the e-mail when
 * email is "") from the user's other rows. Nothing for a closed user. */
void notify_store_grant(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                        const char *email, const char *name, const char *role, ct_db_tx_cb next);
/* CollaboratorRemoved: the (user, customer) row goes. */
void notify_store_revoke(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                         ct_db_tx_cb next);
/* CollaboratorRoleChanged. */
void notify_store_set_role(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                           const char *role, ct_db_tx_cb next);
/* UserProfileUpdated: the whole profile (preferences a JSON object kind ->
 * channel), unless a newer one (occurred_at, Unix ms) is there or the user
 * closed their account. */
void notify_store_set_profile(ct_db_tx_t *tx, const char *user_id, const char *email,
                              const char *phone, const char *name, const char *preferences,
                              int64_t occurred_at, ct_db_tx_cb next);
/* UserClosed: the user's read-model rows go, a tombstone stays; their
 * pending notifications fail ("account closed") and every notification of
 * theirs loses its recipient, subject and body. */
void notify_store_close_user(ct_db_tx_t *tx, const char *user_id, int64_t closed_at,
                             ct_db_tx_cb next);

/* One row for an account message: customer_number, customer_name (NULL
 * when the customer is unknown), closed ("t" when the user closed their
 * account), user_name (from the read model, NULL if unknown). */
void notify_store_account_context(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                                  ct_db_tx_cb next);

/* Rows (user_id, email, name, customer_number, customer_name) of the
 * customer's admins in the read model other than user_id, with the contact
 * details of their latest profile; none without an address. */
void notify_store_admins(ct_db_tx_t *tx, const char *customer_id, const char *user_id,
                         ct_db_tx_cb next);

/* Rows (user_id, email, name, customer_number, customer_name, orderer) of
 * the customer's admins and of orderer_id (orderer "t" for that user) in the
 * read model, one row per user, contact details from their latest profile;
 * email may be "" (the orderer's row still names them). */
void notify_store_admins_and_user(ct_db_tx_t *tx, const char *customer_id, const char *orderer_id,
                                  ct_db_tx_cb next);

/* Rows (customer_number, user_id, email, phone, name, channel_pref) of the
 * customer's users, contact details from their latest profile, channel_pref
 * their choice for kind ("email", "sms", "both", "none"); one row with a
 * NULL user_id when the customer has none; no row when the customer is
 * unknown. */
void notify_store_recipients(ct_db_tx_t *tx, const char *customer_id, const char *kind,
                             ct_db_tx_cb next);

/* Inserts notifications, rows_json an array of {notification_id, user_id
 * (null: keyed on the address), channel, recipient, subject, body}; a row
 * already there for (cause event, user, channel), or for (cause event,
 * channel, recipient) without a user, is left alone. link_expires_at (Unix
 * ms, 0: none) marks bodies that carry a link. Affected rows = the new ones. */
void notify_store_insert_notifications(ct_db_tx_t *tx, const char *rows_json,
                                       const char *customer_id, const char *kind,
                                       const char *cause_event_id, const char *correlation_id,
                                       int64_t link_expires_at, ct_db_tx_cb next);

/* What a body that carried a link becomes once sent, failed or expired. */
#define NOTIFY_LINK_PLACEHOLDER "(texte retiré : il contenait un lien ou un code à usage unique)"

/* Claims up to limit due notifications of the channels ("{email,sms}") by
 * moving next_attempt_at lease_ms ahead; pending rows whose link has
 * expired fail first ("link expired before it was sent", body replaced). Rows: notification_id,
 * channel, recipient, subject, body, attempts. */
int notify_store_claim(ct_db_t *db, int limit, long lease_ms, const char *channels,
                       ct_db_result_cb cb, void *udata);
/* Marks a claimed notification sent (if still pending), replacing a body
 * that carries a link by NOTIFY_LINK_PLACEHOLDER. One row when it was
 * marked: customer_id, user_id, channel, kind, cause_event_id, correlation_id. */
void notify_store_mark_sent(ct_db_tx_t *tx, const char *notification_id, ct_db_tx_cb next);
/* Records a failed attempt: failed when permanent or at max_attempts (a
 * link in the body then replaced), else pending again in retry_ms. */
int notify_store_mark_failed(ct_db_t *db, const char *notification_id, const char *error,
                             bool permanent, int max_attempts, long retry_ms, ct_db_result_cb cb,
                             void *udata);

/* The API's list: one row, column "doc", the JSON array of the customer's
 * notifications (newest first, at most 1000). */
int notify_store_list(ct_db_t *db, const char *customer_id, ct_db_result_cb cb, void *udata);

/* At most this many notifications in a user's export. */
#define NOTIFY_EXPORT_MAX 10000
/* A user's export: one row, column "doc", the JSON text {user_id, profile
 * (null without one), memberships, notifications (their own rows, newest
 * first, at most NOTIFY_EXPORT_MAX), truncated}. A body that carries or
 * carried a link or code reads NOTIFY_LINK_PLACEHOLDER, even while pending.
 * Rows keyed on an address (no user) are not included. */
int notify_store_export(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata);

#endif
