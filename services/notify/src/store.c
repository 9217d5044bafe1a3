/* All SQL of notify. */
#include "store.h"

#include <stdio.h>

void notify_store_put_customer(ct_db_tx_t *tx, const char *customer_id, const char *number,
                               const char *name, int version, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, number);
    ct_db_params_add(&p, name);
    ct_db_params_add_int(&p, version);
    /* old: the row before, for the caller to tell added, written, stale */
    ct_db_tx_query(tx,
                   "WITH old AS (SELECT version FROM customers WHERE customer_id = $1),"
                   " put AS (INSERT INTO customers (customer_id, customer_number, name, version)"
                   " VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id) DO UPDATE"
                   " SET customer_number = EXCLUDED.customer_number, name = EXCLUDED.name,"
                   " version = EXCLUDED.version WHERE customers.version < EXCLUDED.version"
                   " RETURNING 1)"
                   " SELECT (SELECT version FROM old) AS old_version,"
                   " (SELECT count(*) FROM put) AS written",
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
                   " SELECT $1::uuid, $2::uuid, $3, $4, $5, $6 WHERE"
                   " NOT EXISTS (SELECT 1 FROM closed_users WHERE user_id = $1::uuid)"
                   " ON CONFLICT (user_id, customer_id) DO NOTHING",
                   &p, next);
    ct_db_params_dispose(&p);
}

void notify_store_grant(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                        const char *email, const char *name, const char *role, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, email);
    ct_db_params_add(&p, name);
    ct_db_params_add(&p, role);
    ct_db_tx_query(tx,
                   "INSERT INTO users (user_id, customer_id, email, phone, name, role)"
                   " SELECT $1::uuid, $2::uuid, coalesce(nullif($3, ''), (SELECT email FROM users"
                   "  WHERE user_id = $1::uuid AND email <> '' LIMIT 1), ''),"
                   " coalesce((SELECT phone FROM users"
                   "  WHERE user_id = $1::uuid AND phone <> '' LIMIT 1), ''), $4, $5"
                   " WHERE"
                   " NOT EXISTS (SELECT 1 FROM closed_users WHERE user_id = $1::uuid)"
                   " ON CONFLICT (user_id, customer_id) DO UPDATE SET role = EXCLUDED.role",
                   &p, next);
    ct_db_params_dispose(&p);
}

void notify_store_revoke(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                         ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, customer_id);
    ct_db_tx_query(tx, "DELETE FROM users WHERE user_id = $1 AND customer_id = $2", &p, next);
    ct_db_params_dispose(&p);
}

void notify_store_set_role(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                           const char *role, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, role);
    ct_db_tx_query(tx, "UPDATE users SET role = $3 WHERE user_id = $1 AND customer_id = $2", &p,
                   next);
    ct_db_params_dispose(&p);
}

void notify_store_set_profile(ct_db_tx_t *tx, const char *user_id, const char *email,
                              const char *phone, const char *name, const char *preferences,
                              int64_t occurred_at, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, email);
    ct_db_params_add(&p, phone);
    ct_db_params_add(&p, name);
    ct_db_params_add(&p, preferences);
    ct_db_params_add_int(&p, occurred_at);
    ct_db_tx_query(tx,
                   "INSERT INTO user_profiles (user_id, email, phone, name, preferences,"
                   " occurred_at) SELECT $1::uuid, $2, $3, $4, $5::jsonb, $6::bigint"
                   " WHERE"
                   " NOT EXISTS (SELECT 1 FROM closed_users WHERE user_id = $1::uuid)"
                   " ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email,"
                   " phone = EXCLUDED.phone, name = EXCLUDED.name,"
                   " preferences = EXCLUDED.preferences, occurred_at = EXCLUDED.occurred_at"
                   " WHERE user_profiles.occurred_at <= EXCLUDED.occurred_at",
                   &p, next);
    ct_db_params_dispose(&p);
}

void notify_store_close_user(ct_db_tx_t *tx, const char *user_id, int64_t closed_at,
                             ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add_int(&p, closed_at);
    ct_db_tx_query(
        tx,
        "WITH tomb AS (INSERT INTO closed_users (user_id, closed_at)"
        "  VALUES ($1::uuid, to_timestamp($2::bigint / 1000.0))"
        "  ON CONFLICT (user_id) DO NOTHING),"
        " rm AS (DELETE FROM users WHERE user_id = $1::uuid),"
        " rp AS (DELETE FROM user_profiles WHERE user_id = $1::uuid)"
        " UPDATE notifications SET"
        " status = CASE WHEN status = 'pending' THEN 'failed' ELSE status END,"
        " last_error = CASE WHEN status = 'pending' THEN 'account closed' ELSE last_error END,"
        " recipient = '', subject = '', body = ''"
        " WHERE user_id = $1::uuid",
        &p, next);
    ct_db_params_dispose(&p);
}

void notify_store_account_context(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                                  ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, customer_id);
    ct_db_tx_query(tx,
                   "SELECT (SELECT customer_number FROM customers WHERE customer_id = $2::uuid)"
                   " AS customer_number,"
                   " (SELECT name FROM customers WHERE customer_id = $2::uuid) AS customer_name,"
                   " EXISTS (SELECT 1 FROM closed_users WHERE user_id = $1::uuid) AS closed,"
                   " (SELECT coalesce(pf.name, u.name) FROM users u"
                   "  LEFT JOIN user_profiles pf ON pf.user_id = u.user_id"
                   "  WHERE u.user_id = $1::uuid LIMIT 1) AS user_name",
                   &p, next);
    ct_db_params_dispose(&p);
}

void notify_store_admins(ct_db_tx_t *tx, const char *customer_id, const char *user_id,
                         ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, user_id);
    ct_db_tx_query(tx,
                   "SELECT u.user_id::text AS user_id, coalesce(pf.email, u.email) AS email,"
                   " coalesce(pf.name, u.name) AS name, c.customer_number,"
                   " c.name AS customer_name"
                   " FROM users u LEFT JOIN user_profiles pf ON pf.user_id = u.user_id"
                   " LEFT JOIN customers c ON c.customer_id = u.customer_id"
                   " WHERE u.customer_id = $1::uuid AND u.role = 'admin'"
                   " AND u.user_id <> $2::uuid AND coalesce(pf.email, u.email) <> ''"
                   " ORDER BY u.user_id",
                   &p, next);
    ct_db_params_dispose(&p);
}

void notify_store_admins_and_user(ct_db_tx_t *tx, const char *customer_id, const char *orderer_id,
                                  ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, orderer_id);
    /* users holds one row per (user, customer): each user once */
    ct_db_tx_query(tx,
                   "SELECT u.user_id::text AS user_id, coalesce(pf.email, u.email) AS email,"
                   " coalesce(pf.name, u.name) AS name, c.customer_number,"
                   " c.name AS customer_name, u.user_id = $2::uuid AS orderer"
                   " FROM users u LEFT JOIN user_profiles pf ON pf.user_id = u.user_id"
                   " LEFT JOIN customers c ON c.customer_id = u.customer_id"
                   " WHERE u.customer_id = $1::uuid AND (u.role = 'admin' OR u.user_id = $2::uuid)"
                   " ORDER BY u.user_id",
                   &p, next);
    ct_db_params_dispose(&p);
}

void notify_store_recipients(ct_db_tx_t *tx, const char *customer_id, const char *kind,
                             ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, kind);
    ct_db_tx_query(tx,
                   "SELECT c.customer_number, u.user_id::text AS user_id,"
                   " coalesce(pf.email, u.email) AS email, coalesce(pf.phone, u.phone) AS phone,"
                   " coalesce(pf.name, u.name) AS name,"
                   " coalesce(pf.preferences ->> $2::text, 'both') AS channel_pref"
                   " FROM customers c LEFT JOIN users u ON u.customer_id = c.customer_id"
                   " LEFT JOIN user_profiles pf ON pf.user_id = u.user_id"
                   " WHERE c.customer_id = $1 ORDER BY u.user_id",
                   &p, next);
    ct_db_params_dispose(&p);
}

void notify_store_insert_notifications(ct_db_tx_t *tx, const char *rows_json,
                                       const char *customer_id, const char *kind,
                                       const char *cause_event_id, const char *correlation_id,
                                       int64_t link_expires_at, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, rows_json);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, kind);
    ct_db_params_add(&p, cause_event_id);
    ct_db_params_add(&p, correlation_id);
    ct_db_params_add_int(&p, link_expires_at);
    /* no conflict target: (cause, user, channel), or (cause, channel,
     * recipient) for rows keyed on the address */
    ct_db_tx_query(tx,
                   "INSERT INTO notifications (notification_id, customer_id, user_id, kind,"
                   " channel, recipient, subject, body, cause_event_id, correlation_id,"
                   " link_expires_at)"
                   " SELECT n.notification_id, $2::uuid, n.user_id, $3, n.channel, n.recipient,"
                   " n.subject, n.body, $4::uuid, $5::uuid,"
                   " CASE WHEN $6::bigint > 0 THEN to_timestamp($6::bigint / 1000.0) END"
                   " FROM jsonb_to_recordset($1::jsonb) AS n(notification_id uuid, user_id uuid,"
                   " channel text, recipient text, subject text, body text)"
                   " ON CONFLICT DO NOTHING",
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
    ct_db_params_add(&p, NOTIFY_LINK_PLACEHOLDER);
    /* a link that expired before it could be sent is useless: fail the row
     * (not one a sender holds) and drop the link */
    int rc = ct_db_query(
        db,
        "WITH expired AS (UPDATE notifications SET status = 'failed', body = $4,"
        "  last_error = 'link expired before it was sent'"
        "  WHERE status = 'pending' AND link_expires_at <= now() AND next_attempt_at <= now()"
        "  RETURNING 1)"
        " UPDATE notifications n SET next_attempt_at = now() + $2 * interval '1 millisecond'"
        " FROM (SELECT notification_id FROM notifications"
        "  WHERE status = 'pending' AND next_attempt_at <= now()"
        "  AND (link_expires_at IS NULL OR link_expires_at > now())"
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
    ct_db_params_add(&p, NOTIFY_LINK_PLACEHOLDER);
    ct_db_tx_query(tx,
                   "UPDATE notifications SET status = 'sent', attempts = attempts + 1,"
                   " sent_at = now(), last_error = NULL,"
                   " body = CASE WHEN link_expires_at IS NULL THEN body ELSE $2 END"
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
    ct_db_params_add(&p, NOTIFY_LINK_PLACEHOLDER);
    int rc = ct_db_query(db,
                         "UPDATE notifications SET attempts = attempts + 1, last_error = $2,"
                         " status = CASE WHEN $3::boolean OR attempts + 1 >= $4"
                         "  THEN 'failed' ELSE 'pending' END,"
                         " body = CASE WHEN link_expires_at IS NOT NULL"
                         "  AND ($3::boolean OR attempts + 1 >= $4) THEN $6 ELSE body END,"
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

int notify_store_export(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata)
{
    char max[16];
    snprintf(max, sizeof max, "%d", NOTIFY_EXPORT_MAX);
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, NOTIFY_LINK_PLACEHOLDER);
    ct_db_params_add(&p, max);
    /* one row past the cap tells whether the list was cut; a pending row's
     * live link is never shown, not even to the user it is for */
    int rc = ct_db_query(
        db,
        "WITH n AS (SELECT * FROM notifications WHERE user_id = $1"
        "  ORDER BY created_at DESC, notification_id DESC LIMIT $3::int + 1)"
        " SELECT json_build_object('user_id', $1::uuid,"
        " 'profile', (SELECT json_build_object('email', email, 'phone', phone, 'name', name,"
        "  'preferences', preferences) FROM user_profiles WHERE user_id = $1),"
        " 'memberships', coalesce((SELECT json_agg(json_build_object("
        "  'customer_id', u.customer_id, 'customer_number', c.customer_number, 'role', u.role,"
        "  'email', u.email, 'phone', u.phone, 'name', u.name)"
        "  ORDER BY u.created_at, u.customer_id)"
        "  FROM users u LEFT JOIN customers c USING (customer_id) WHERE u.user_id = $1),"
        "  '[]'::json),"
        " 'notifications', coalesce((SELECT json_agg(json_build_object('id', x.notification_id,"
        "  'kind', x.kind, 'channel', x.channel, 'recipient', x.recipient, 'subject', x.subject,"
        "  'body', CASE WHEN x.link_expires_at IS NULL THEN x.body ELSE $2 END,"
        "  'status', x.status,"
        "  'created_at', to_char(x.created_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        "  'sent_at', to_char(x.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
        "  ORDER BY x.created_at DESC, x.notification_id DESC)"
        "  FROM (SELECT * FROM n ORDER BY created_at DESC, notification_id DESC LIMIT $3::int) x),"
        "  '[]'::json),"
        " 'truncated', (SELECT count(*) FROM n) > $3::int)::text AS doc",
        &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}
