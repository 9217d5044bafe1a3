/* SQL of e-mail change requests and of the sweep of expired rows (see
 * store.h, "e-mail change" and "sweep"): beside store.c, which would pass
 * the size the house style asks. */
#include "store.h"

#include <stdio.h>

#define FIRST_CUSTOMER_OF_U                                                                        \
    "(SELECT uc.customer_id FROM user_customers uc WHERE uc.user_id = u.id"                        \
    " ORDER BY uc.created_at, uc.customer_id LIMIT 1) AS customer_id"

static void tx_query(ct_db_tx_t *tx, const char *sql, ct_db_params_t *p, ct_db_tx_cb next)
{
    ct_db_tx_query(tx, sql, p, next);
    ct_db_params_dispose(p);
}

/* ---- e-mail change ---- */

void accounts_store_email_change_user(ct_db_tx_t *tx, const char *user_id, const char *new_email,
                                      ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, new_email);
    tx_query(tx,
             "SELECT u.email, u.name, " FIRST_CUSTOMER_OF_U ","
             " EXISTS (SELECT 1 FROM users o WHERE o.email = $2) AS taken"
             " FROM users u WHERE u.id = $1 AND u.status = 'active' FOR UPDATE OF u",
             &p, next);
}

void accounts_store_email_change_put(ct_db_tx_t *tx, const char *user_id, const char *hash_hex,
                                     const char *new_email, long ttl_s, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, hash_hex);
    ct_db_params_add(&p, new_email);
    ct_db_params_add_int(&p, ttl_s);
    tx_query(tx,
             "INSERT INTO email_changes (user_id, token_hash, new_email, expires_at)"
             " VALUES ($1, decode($2, 'hex'), $3, now() + make_interval(secs => $4))"
             " ON CONFLICT (user_id) DO UPDATE SET token_hash = EXCLUDED.token_hash,"
             " new_email = EXCLUDED.new_email, created_at = now(), expires_at = EXCLUDED.expires_at"
             " RETURNING (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms",
             &p, next);
}

void accounts_store_email_change_void(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    tx_query(tx, "DELETE FROM email_changes WHERE user_id = $1", &p, next);
}

int accounts_store_email_change_find(ct_db_t *db, const char *hash_hex, ct_db_result_cb cb,
                                     void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, hash_hex);
    int rc = ct_db_query(db,
                         "SELECT c.user_id, EXISTS (SELECT 1 FROM users o"
                         "   WHERE o.email = c.new_email) AS taken FROM email_changes c"
                         " WHERE c.token_hash = decode($1, 'hex') AND c.expires_at > now()",
                         &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}

void accounts_store_email_change_take(ct_db_tx_t *tx, const char *hash_hex, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, hash_hex);
    tx_query(tx,
             "DELETE FROM email_changes WHERE token_hash = decode($1, 'hex')"
             " AND expires_at > now() RETURNING user_id, new_email",
             &p, next);
}

/* A reset link still in the old mailbox must not outlive the change: whoever
 * reads that mailbox (the reason to move, perhaps) could set the password. */
void accounts_store_email_set(ct_db_tx_t *tx, const char *user_id, const char *new_email,
                              ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, new_email);
    tx_query(tx,
             "WITH old AS (SELECT id, email FROM users WHERE id = $1 AND status = 'active'"
             "   FOR UPDATE),"
             " upd AS (UPDATE users u SET email = $2, updated_at = now() FROM old"
             "   WHERE u.id = old.id AND NOT EXISTS (SELECT 1 FROM users o WHERE o.email = $2)"
             "   RETURNING u.id),"
             " resets AS (DELETE FROM password_resets r USING upd WHERE r.user_id = upd.id)"
             " SELECT old.email AS old_email, EXISTS (SELECT 1 FROM upd) AS changed FROM old",
             &p, next);
}

/* ---- sweep ---- */

/* Each statement deletes at most $1 rows (a short transaction of its own;
 * the caller repeats it while it deletes that many). Pending users are
 * locked with SKIP LOCKED: one that a sign-up, resend or invitation is
 * giving a new link right now is left for the next sweep. */
static const char *const sweep_sql[] = {
    [ACCOUNTS_SWEEP_RESETS] =
        "DELETE FROM password_resets WHERE ctid IN (SELECT ctid FROM password_resets"
        " WHERE expires_at < now() LIMIT $1)",
    [ACCOUNTS_SWEEP_EMAIL_CHANGES] =
        "DELETE FROM email_changes WHERE ctid IN (SELECT ctid FROM email_changes"
        " WHERE expires_at < now() LIMIT $1)",
    [ACCOUNTS_SWEEP_PENDING_USERS] =
        "DELETE FROM users WHERE ctid IN (SELECT u.ctid FROM users u"
        " WHERE u.status = 'pending' AND u.password_hash IS NULL"
        " AND u.created_at < now() - make_interval(days => $2)"
        " AND NOT EXISTS (SELECT 1 FROM user_activations a WHERE a.user_id = u.id"
        "   AND a.expires_at >= now() - make_interval(days => $2))"
        " LIMIT $1 FOR UPDATE OF u SKIP LOCKED)",
    [ACCOUNTS_SWEEP_INVITATIONS] =
        "DELETE FROM collaborator_invitations WHERE ctid IN (SELECT ctid"
        " FROM collaborator_invitations WHERE NOT awaits_activation AND expires_at < now()"
        " LIMIT $1 FOR UPDATE SKIP LOCKED)",
    [ACCOUNTS_SWEEP_PHONE_CODES] =
        "DELETE FROM phone_verifications WHERE ctid IN (SELECT ctid FROM phone_verifications"
        " WHERE expires_at < now() - interval '1 day' LIMIT $1 FOR UPDATE SKIP LOCKED)",
};

int accounts_store_sweep(ct_db_t *db, accounts_sweep_what_t what, int keep_days, int limit,
                         ct_db_result_cb cb, void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add_int(&p, limit);
    if (what == ACCOUNTS_SWEEP_PENDING_USERS)
        ct_db_params_add_int(&p, keep_days);
    int rc = ct_db_query(db, sweep_sql[what], &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}
