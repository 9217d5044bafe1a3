/* SQL of the back office's updates (see store.h, "back-office updates"):
 * beside store.c, which would pass the size the house style asks. */
#include "store.h"

static void tx_query1(ct_db_tx_t *tx, const char *sql, const char *arg, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, arg);
    ct_db_tx_query(tx, sql, &p, next);
    ct_db_params_dispose(&p);
}

/* FOR UPDATE, not FOR NO KEY UPDATE: creating a contract under the customer
 * takes FOR KEY SHARE on it to read its segment, so a segment change and a
 * new contract's plan check wait for each other instead of crossing. */
void accounts_store_customer_patch_lock(ct_db_tx_t *tx, const char *customer_id, ct_db_tx_cb next)
{
    tx_query1(tx,
              "SELECT json_build_object('id', id, 'customer_number', customer_number, 'name', name,"
              " 'segment', segment, 'vat_rate_bp', vat_rate_bp, 'siret', siret,"
              " 'phone', phone)::text AS doc FROM customers WHERE id = $1 FOR UPDATE",
              customer_id, next);
}

void accounts_store_customer_plans(ct_db_tx_t *tx, const char *customer_id, ct_db_tx_cb next)
{
    tx_query1(tx, "SELECT id, maintenance_plan FROM contracts WHERE customer_id = $1 ORDER BY id",
              customer_id, next);
}

void accounts_store_customer_update(ct_db_tx_t *tx, const accounts_customer_t *c, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, c->id);
    ct_db_params_add(&p, c->name);
    ct_db_params_add(&p, c->segment);
    ct_db_params_add_int(&p, c->vat_rate_bp);
    ct_db_params_add(&p, c->siret);
    ct_db_params_add(&p, c->phone);
    ct_db_tx_query(tx,
                   "UPDATE customers SET name = $2, segment = $3, vat_rate_bp = $4, siret = $5,"
                   " phone = $6, version = version + 1 WHERE id = $1 RETURNING version",
                   &p, next);
    ct_db_params_dispose(&p);
}

/* The contract FOR UPDATE (a new site reads its delivery mode under FOR KEY
 * SHARE, so it is made either before the change, and updated with the
 * others, or after it, with the new mode); its customer FOR KEY SHARE, as
 * a new contract does, so the segment cannot change under the plan check. */
void accounts_store_contract_patch_lock(ct_db_tx_t *tx, const char *contract_id, ct_db_tx_cb next)
{
    tx_query1(tx,
              "SELECT json_build_object('id', k.id, 'customer_id', k.customer_id,"
              " 'delivery_mode', k.delivery_mode,"
              " 'price_per_tonne_cents', k.price_per_tonne_cents,"
              " 'maintenance_plan', k.maintenance_plan)::text AS doc, c.segment"
              " FROM contracts k JOIN customers c ON c.id = k.customer_id WHERE k.id = $1"
              " FOR UPDATE OF k FOR KEY SHARE OF c",
              contract_id, next);
}

void accounts_store_contract_update(ct_db_tx_t *tx, const accounts_contract_t *c, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, c->id);
    ct_db_params_add(&p, c->delivery_mode);
    ct_db_params_add_int(&p, c->price_per_tonne_cents);
    ct_db_params_add(&p, c->maintenance_plan);
    ct_db_tx_query(tx,
                   "UPDATE contracts SET delivery_mode = $2, price_per_tonne_cents = $3,"
                   " maintenance_plan = $4, version = version + 1 WHERE id = $1 RETURNING version",
                   &p, next);
    ct_db_params_dispose(&p);
}

/* Each row is locked by the UPDATE and read as it is once locked, so a
 * site patched meanwhile is published with its patch. */
void accounts_store_contract_sites_bump(ct_db_tx_t *tx, const char *contract_id, ct_db_tx_cb next)
{
    tx_query1(tx,
              "WITH s AS (UPDATE sites SET version = version + 1 WHERE contract_id = $1"
              " RETURNING id, customer_id, capacity_kg, threshold_pct, address,"
              " certificate_received, version)"
              " SELECT * FROM s ORDER BY id",
              contract_id, next);
}

void accounts_store_site_patch_lock(ct_db_tx_t *tx, const char *site_id, ct_db_tx_cb next)
{
    tx_query1(
        tx,
        "SELECT json_build_object('id', id, 'contract_id', contract_id, 'customer_id', customer_id,"
        " 'capacity_kg', capacity_kg, 'threshold_pct', threshold_pct, 'address', address,"
        " 'certificate_received', certificate_received)::text AS doc"
        " FROM sites WHERE id = $1 FOR UPDATE",
        site_id, next);
}

/* The contract's delivery mode is read by this statement, after the site's
 * lock: a mode change committed by then is seen; one still in flight must
 * update this site after us, and publishes the later version. */
void accounts_store_site_update(ct_db_tx_t *tx, const accounts_site_t *s, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, s->id);
    ct_db_params_add_int(&p, s->capacity_kg);
    ct_db_params_add_int(&p, s->threshold_pct);
    ct_db_params_add(&p, s->address);
    ct_db_params_add(&p, s->certificate_received ? "true" : "false");
    ct_db_tx_query(tx,
                   "UPDATE sites s SET capacity_kg = $2, threshold_pct = $3, address = $4,"
                   " certificate_received = $5, version = s.version + 1 FROM contracts k"
                   " WHERE s.id = $1 AND k.id = s.contract_id"
                   " RETURNING s.version, s.customer_id, k.delivery_mode",
                   &p, next);
    ct_db_params_dispose(&p);
}

void accounts_store_user_patch_lock(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next)
{
    tx_query1(tx,
              "SELECT json_build_object('id', id, 'name', name, 'status', status)::text AS doc,"
              " password_hash IS NOT NULL AS has_password FROM users WHERE id = $1 FOR UPDATE",
              user_id, next);
}

void accounts_store_user_admins_lock(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next)
{
    tx_query1(tx,
              "SELECT 1 FROM user_customers WHERE role = 'admin' AND customer_id IN"
              " (SELECT customer_id FROM user_customers WHERE user_id = $1)"
              " ORDER BY customer_id, user_id FOR UPDATE",
              user_id, next);
}

void accounts_store_user_last_admin(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next)
{
    tx_query1(tx,
              "SELECT uc.customer_id FROM user_customers uc WHERE uc.user_id = $1"
              " AND uc.role = 'admin' AND NOT EXISTS (SELECT 1 FROM user_customers o"
              "   JOIN users ou ON ou.id = o.user_id WHERE o.customer_id = uc.customer_id"
              "   AND o.role = 'admin' AND o.user_id <> uc.user_id AND ou.status = 'active')"
              " ORDER BY uc.customer_id",
              user_id, next);
}

void accounts_store_user_update(ct_db_tx_t *tx, const char *user_id, const char *name,
                                const char *status, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, name);
    ct_db_params_add(&p, status);
    ct_db_tx_query(tx,
                   "UPDATE users SET name = $2, status = $3, updated_at = now() WHERE id = $1"
                   " RETURNING id, email, phone, name, status",
                   &p, next);
    ct_db_params_dispose(&p);
}
