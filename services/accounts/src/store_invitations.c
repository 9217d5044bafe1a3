/* SQL of collaborator invitations (see store.h, "invitations"): beside
 * store.c, which would pass the size the house style asks. */
#include "store.h"

static void tx_query(ct_db_tx_t *tx, const char *sql, ct_db_params_t *p, ct_db_tx_cb next)
{
    ct_db_tx_query(tx, sql, p, next);
    ct_db_params_dispose(p);
}

void accounts_store_invitation_put(ct_db_tx_t *tx, const accounts_invitation_t *inv,
                                   ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, inv->id);
    ct_db_params_add(&p, inv->customer_id);
    ct_db_params_add(&p, inv->user_id);
    ct_db_params_add(&p, inv->email);
    ct_db_params_add(&p, inv->name);
    ct_db_params_add(&p, inv->role);
    ct_db_params_add(&p, inv->invited_by);
    ct_db_params_add(&p, inv->awaits_activation ? "true" : "false");
    ct_db_params_add_int(&p, inv->ttl_s);
    /* a member already, or invited already: nothing (no row back) */
    tx_query(tx,
             "INSERT INTO collaborator_invitations (id, customer_id, user_id, email, name, role,"
             " invited_by, awaits_activation, expires_at)"
             " SELECT $1, $2, $3, $4, $5, $6, $7, $8::boolean, now() + make_interval(secs => $9)"
             " WHERE NOT EXISTS (SELECT 1 FROM user_customers WHERE user_id = $3"
             "   AND customer_id = $2)"
             " ON CONFLICT (customer_id, user_id) DO NOTHING"
             " RETURNING (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms",
             &p, next);
}

void accounts_store_invitation_revoke(ct_db_tx_t *tx, const char *id, const char *customer_id,
                                      ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, id);
    ct_db_params_add(&p, customer_id);
    tx_query(tx,
             "WITH i AS (DELETE FROM collaborator_invitations WHERE id = $1 AND customer_id = $2"
             "   RETURNING user_id, email, role, awaits_activation),"
             " g AS (DELETE FROM user_customers uc USING i WHERE i.awaits_activation"
             "   AND uc.user_id = i.user_id AND uc.customer_id = $2)"
             " SELECT email, role FROM i",
             &p, next);
}

void accounts_store_invitation_accept(ct_db_tx_t *tx, const char *id, const char *user_id,
                                      ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, id);
    ct_db_params_add(&p, user_id);
    tx_query(tx,
             "WITH i AS (DELETE FROM collaborator_invitations WHERE id = $1 AND user_id = $2"
             "   AND NOT awaits_activation AND expires_at > now()"
             "   RETURNING customer_id, email AS invited_email, role, invited_by)"
             " SELECT i.customer_id, i.invited_email, i.role, i.invited_by, u.email, u.name"
             " FROM i JOIN users u ON u.id = $2 AND u.status = 'active'",
             &p, next);
}

void accounts_store_invitation_decline(ct_db_tx_t *tx, const char *id, const char *user_id,
                                       ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, id);
    ct_db_params_add(&p, user_id);
    tx_query(tx,
             "DELETE FROM collaborator_invitations WHERE id = $1 AND user_id = $2"
             " AND NOT awaits_activation RETURNING customer_id, email, role",
             &p, next);
}

int accounts_store_my_invitations(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    int rc = ct_db_query(
        db,
        "SELECT i.id, i.customer_id, c.customer_number, c.name AS customer_name, i.role,"
        " coalesce(b.name, '') AS invited_by_name,"
        " (extract(epoch FROM i.expires_at) * 1000)::bigint AS expires_ms"
        " FROM collaborator_invitations i JOIN customers c ON c.id = i.customer_id"
        " LEFT JOIN users b ON b.id = i.invited_by"
        " WHERE i.user_id = $1 AND NOT i.awaits_activation AND i.expires_at > now()"
        " ORDER BY i.created_at, i.id",
        &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}

void accounts_store_user_name(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    tx_query(tx, "SELECT name FROM users WHERE id = $1", &p, next);
}
