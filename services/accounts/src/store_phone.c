/* SQL of phone verification (see store.h, "phone verification"): beside
 * store.c, which would pass the size the house style asks. */
#include "store.h"

static void tx_query(ct_db_tx_t *tx, const char *sql, ct_db_params_t *p, ct_db_tx_cb next)
{
    ct_db_tx_query(tx, sql, p, next);
    ct_db_params_dispose(p);
}

static void tx_query1(ct_db_tx_t *tx, const char *sql, const char *user_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    tx_query(tx, sql, &p, next);
}

void accounts_store_phone_pending_put(ct_db_tx_t *tx, const char *user_id, const char *phone,
                                      const char *hash_hex, long ttl_s, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, phone);
    ct_db_params_add(&p, hash_hex);
    ct_db_params_add_int(&p, ttl_s);
    tx_query(tx,
             "INSERT INTO phone_verifications (user_id, phone, code_hash, tries_left, expires_at)"
             " VALUES ($1, $2, decode($3, 'hex'), 5, now() + make_interval(secs => $4))"
             " ON CONFLICT (user_id) DO UPDATE SET phone = EXCLUDED.phone,"
             " code_hash = EXCLUDED.code_hash, tries_left = EXCLUDED.tries_left,"
             " created_at = now(), expires_at = EXCLUDED.expires_at"
             " RETURNING (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms",
             &p, next);
}

void accounts_store_phone_pending_lock(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next)
{
    tx_query1(tx,
              "SELECT phone, encode(code_hash, 'hex') AS code_hash, tries_left,"
              " expires_at > now() AS live FROM phone_verifications WHERE user_id = $1"
              " FOR UPDATE",
              user_id, next);
}

void accounts_store_phone_pending_tried(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next)
{
    tx_query1(tx,
              "UPDATE phone_verifications SET tries_left = tries_left - 1"
              " WHERE user_id = $1 AND tries_left > 0",
              user_id, next);
}

void accounts_store_phone_verified(ct_db_tx_t *tx, const char *user_id, const char *phone,
                                   ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, phone);
    tx_query(tx,
             "WITH v AS (DELETE FROM phone_verifications WHERE user_id = $1)"
             " UPDATE users SET phone = $2, updated_at = now()"
             " WHERE id = $1 AND status = 'active' RETURNING id",
             &p, next);
}
