/* All SQL of notify. */
#include "store.h"

void notify_store_add_customer(ct_db_tx_t *tx, const char *customer_id, const char *number,
                               const char *name, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, number);
    ct_db_params_add(&p, name);
    ct_db_tx_query(tx,
                   "INSERT INTO customers (customer_id, customer_number, name)"
                   " VALUES ($1, $2, $3) ON CONFLICT (customer_id) DO NOTHING",
                   &p, next);
    ct_db_params_dispose(&p);
}

void notify_store_add_user(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                           const char *email, const char *phone, const char *name, const char *role,
                           ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, email);
    ct_db_params_add(&p, phone);
    ct_db_params_add(&p, name);
    ct_db_params_add(&p, role);
    ct_db_tx_query(tx,
                   "INSERT INTO users (user_id, customer_id, email, phone, name, role)"
                   " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, customer_id) DO NOTHING",
                   &p, next);
    ct_db_params_dispose(&p);
}

void notify_store_recipients(ct_db_tx_t *tx, const char *customer_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, customer_id);
    ct_db_tx_query(tx,
                   "SELECT c.customer_number, u.user_id::text AS user_id, u.email, u.phone, u.name"
                   " FROM customers c LEFT JOIN users u ON u.customer_id = c.customer_id"
                   " WHERE c.customer_id = $1 ORDER BY u.user_id",
                   &p, next);
    ct_db_params_dispose(&p);
}

void notify_store_insert_notifications(ct_db_tx_t *tx, const char *rows_json,
                                       const char *customer_id, const char *kind,
                                       const char *cause_event_id, const char *correlation_id,
                                       ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, rows_json);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, kind);
    ct_db_params_add(&p, cause_event_id);
    ct_db_params_add(&p, correlation_id);
    ct_db_tx_query(tx,
                   "INSERT INTO notifications (notification_id, customer_id, user_id, kind,"
                   " channel, recipient, subject, body, cause_event_id, correlation_id)"
                   " SELECT n.notification_id, $2::uuid, n.user_id, $3, n.channel, n.recipient,"
                   " n.subject, n.body, $4::uuid, $5::uuid"
                   " FROM jsonb_to_recordset($1::jsonb) AS n(notification_id uuid, user_id uuid,"
                   " channel text, recipient text, subject text, body text)"
                   " ON CONFLICT (cause_event_id, user_id, channel) DO NOTHING",
                   &p, next);
    ct_db_params_dispose(&p);
}

int notify_store_claim(ct_db_t *db, int limit, long lease_ms, const char *channels,
                       ct_db_result_cb cb, void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add_int(&p, limit);
    ct_db_params_add_int(&p, lease_ms);
    ct_db_params_add(&p, channels);
    int rc = ct_db_query(
        db,
        "UPDATE notifications n SET next_attempt_at = now() + $2 * interval '1 millisecond'"
        " FROM (SELECT notification_id FROM notifications"
        "  WHERE status = 'pending' AND next_attempt_at <= now()"
        "  AND channel = ANY($3::text[])"
        "  ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due"
        " WHERE n.notification_id = due.notification_id"
        " RETURNING n.notification_id::text AS notification_id, n.channel, n.recipient,"
        " n.subject, n.body, n.attempts",
        &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}

void notify_store_mark_sent(ct_db_tx_t *tx, const char *notification_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, notification_id);
    ct_db_tx_query(tx,
                   "UPDATE notifications SET status = 'sent', attempts = attempts + 1,"
                   " sent_at = now(), last_error = NULL"
                   " WHERE notification_id = $1 AND status = 'pending'"
                   " RETURNING customer_id::text AS customer_id, user_id::text AS user_id,"
                   " channel, kind, cause_event_id::text AS cause_event_id,"
                   " correlation_id::text AS correlation_id",
                   &p, next);
    ct_db_params_dispose(&p);
}

int notify_store_mark_failed(ct_db_t *db, const char *notification_id, const char *error,
                             bool permanent, int max_attempts, long retry_ms, ct_db_result_cb cb,
                             void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, notification_id);
    ct_db_params_add(&p, error);
    ct_db_params_add(&p, permanent ? "true" : "false");
    ct_db_params_add_int(&p, max_attempts);
    ct_db_params_add_int(&p, retry_ms);
    int rc = ct_db_query(db,
                         "UPDATE notifications SET attempts = attempts + 1, last_error = $2,"
                         " status = CASE WHEN $3::boolean OR attempts + 1 >= $4"
                         "  THEN 'failed' ELSE 'pending' END,"
                         " next_attempt_at = now() + $5 * interval '1 millisecond'"
                         " WHERE notification_id = $1 AND status = 'pending'",
                         &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}

int notify_store_list(ct_db_t *db, const char *customer_id, ct_db_result_cb cb, void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, customer_id);
    int rc = ct_db_query(
        db,
        "SELECT coalesce(json_agg(json_build_object('id', n.notification_id, 'kind', n.kind,"
        " 'channel', n.channel, 'recipient', n.recipient, 'status', n.status,"
        " 'attempts', n.attempts, 'cause_event_id', n.cause_event_id,"
        " 'created_at', to_char(n.created_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " 'sent_at', to_char(n.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
        " ORDER BY n.created_at DESC, n.notification_id), '[]'::json)::text AS doc"
        " FROM (SELECT * FROM notifications WHERE customer_id = $1"
        "  ORDER BY created_at DESC, notification_id LIMIT 1000) n",
        &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}
