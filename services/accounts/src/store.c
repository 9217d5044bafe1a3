/* All SQL of accounts (see store.h). */
#include "store.h"

#include <stdio.h>

static void tx_query(ct_db_tx_t *tx, const char *sql, ct_db_params_t *p, ct_db_tx_cb next)
{
    ct_db_tx_query(tx, sql, p, next);
    ct_db_params_dispose(p);
}

void accounts_store_customer_insert(ct_db_tx_t *tx, const accounts_customer_t *c, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, c->id);
    ct_db_params_add(&p, c->customer_number);
    ct_db_params_add(&p, c->name);
    ct_db_params_add(&p, c->segment);
    ct_db_params_add_int(&p, c->vat_rate_bp);
    ct_db_params_add(&p, c->siret);
    ct_db_params_add(&p, c->phone);
    tx_query(tx,
             "INSERT INTO customers (id, customer_number, name, segment, vat_rate_bp, siret, phone)"
             " VALUES ($1, $2, $3, $4, $5, $6, $7)"
             " ON CONFLICT (customer_number) DO NOTHING RETURNING id",
             &p, next);
}

void accounts_store_customer_lock(ct_db_tx_t *tx, const char *customer_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, customer_id);
    tx_query(tx, "SELECT segment FROM customers WHERE id = $1 FOR KEY SHARE", &p, next);
}

void accounts_store_contract_insert(ct_db_tx_t *tx, const accounts_contract_t *c, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, c->id);
    ct_db_params_add(&p, c->customer_id);
    ct_db_params_add(&p, c->delivery_mode);
    ct_db_params_add_int(&p, c->price_per_tonne_cents);
    ct_db_params_add(&p, c->maintenance_plan);
    tx_query(tx,
             "INSERT INTO contracts (id, customer_id, delivery_mode, price_per_tonne_cents,"
             " maintenance_plan) VALUES ($1, $2, $3, $4, $5)",
             &p, next);
}

void accounts_store_contract_lock(ct_db_tx_t *tx, const char *contract_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, contract_id);
    tx_query(tx, "SELECT customer_id, delivery_mode FROM contracts WHERE id = $1 FOR KEY SHARE", &p,
             next);
}

void accounts_store_site_insert(ct_db_tx_t *tx, const accounts_site_t *s, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, s->id);
    ct_db_params_add(&p, s->contract_id);
    ct_db_params_add(&p, s->customer_id);
    ct_db_params_add_int(&p, s->capacity_kg);
    ct_db_params_add_int(&p, s->threshold_pct);
    ct_db_params_add(&p, s->address);
    ct_db_params_add(&p, s->certificate_received ? "true" : "false");
    tx_query(tx,
             "INSERT INTO sites (id, contract_id, customer_id, capacity_kg, threshold_pct,"
             " address, certificate_received) VALUES ($1, $2, $3, $4, $5, $6, $7)",
             &p, next);
}

void accounts_store_user_insert(ct_db_tx_t *tx, const accounts_user_t *u, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, u->id);
    ct_db_params_add(&p, u->email);
    ct_db_params_add(&p, u->phone);
    ct_db_params_add(&p, u->name);
    ct_db_params_add(&p, u->password_hash);
    tx_query(tx,
             "INSERT INTO users (id, email, phone, name, password_hash, status)"
             " VALUES ($1, $2, $3, $4, $5, 'active')"
             " ON CONFLICT (email) DO NOTHING RETURNING id",
             &p, next);
}

void accounts_store_user_grant(ct_db_tx_t *tx, const accounts_user_t *u, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, u->id);
    ct_db_params_add(&p, u->customer_id);
    ct_db_params_add(&p, u->role);
    tx_query(tx, "INSERT INTO user_customers (user_id, customer_id, role) VALUES ($1, $2, $3)", &p,
             next);
}

static int query1(ct_db_t *db, const char *sql, const char *arg, ct_db_result_cb cb, void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, arg);
    int rc = ct_db_query(db, sql, &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}

int accounts_store_customer_get(ct_db_t *db, const char *customer_id, ct_db_result_cb cb,
                                void *udata)
{
    static const char sql[] =
        "SELECT json_build_object("
        "  'id', c.id, 'customer_number', c.customer_number, 'name', c.name,"
        "  'segment', c.segment, 'vat_rate_bp', c.vat_rate_bp, 'siret', c.siret,"
        "  'phone', c.phone, 'version', c.version,"
        "  'created_at', c.created_at,"
        "  'contracts', COALESCE((SELECT json_agg(json_build_object("
        "      'id', k.id, 'customer_id', k.customer_id, 'delivery_mode', k.delivery_mode,"
        "      'price_per_tonne_cents', k.price_per_tonne_cents,"
        "      'maintenance_plan', k.maintenance_plan, 'version', k.version,"
        "      'created_at', k.created_at)"
        "    ORDER BY k.id) FROM contracts k WHERE k.customer_id = c.id), '[]'::json),"
        "  'sites', COALESCE((SELECT json_agg(json_build_object("
        "      'id', s.id, 'customer_id', s.customer_id, 'contract_id', s.contract_id,"
        "      'capacity_kg', s.capacity_kg, 'threshold_pct', s.threshold_pct,"
        "      'address', s.address, 'certificate_received', s.certificate_received,"
        "      'delivery_mode', k.delivery_mode, 'version', s.version,"
        "      'created_at', s.created_at)"
        "    ORDER BY s.id) FROM sites s JOIN contracts k ON k.id = s.contract_id"
        "    WHERE s.customer_id = c.id), '[]'::json),"
        "  'users', COALESCE((SELECT json_agg(json_build_object("
        "      'id', u.id, 'customer_id', uc.customer_id, 'email', u.email, 'phone', u.phone,"
        "      'name', u.name,"
        "      'role', uc.role, 'status', u.status)"
        "    ORDER BY u.id) FROM user_customers uc JOIN users u ON u.id = uc.user_id"
        "    WHERE uc.customer_id = c.id), '[]'::json)"
        ")::text AS doc FROM customers c WHERE c.id = $1";
    return query1(db, sql, customer_id, cb, udata);
}

int accounts_store_login_lookup(ct_db_t *db, const char *email, ct_db_result_cb cb, void *udata)
{
    return query1(db,
                  "SELECT u.id, u.email, u.name, u.password_hash, uc.customer_id, uc.role,"
                  " EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = u.id"
                  "         AND t.confirmed_at IS NOT NULL) AS totp FROM users u"
                  " LEFT JOIN user_customers uc ON uc.user_id = u.id"
                  " WHERE u.email = $1 AND u.status = 'active' AND u.password_hash IS NOT NULL"
                  /* 32: CT_SESSION_MAX_GRANTS, what a session can hold */
                  " ORDER BY uc.created_at, uc.customer_id LIMIT 32",
                  email, cb, udata);
}

int accounts_store_user_get(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata)
{
    return query1(db, "SELECT email, name, phone FROM users WHERE id = $1", user_id, cb, udata);
}

int accounts_store_grants(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata)
{
    return query1(db,
                  "SELECT u.id, u.email, u.name, uc.customer_id, uc.role FROM users u"
                  " LEFT JOIN user_customers uc ON uc.user_id = u.id"
                  " WHERE u.id = $1 AND u.status = 'active'"
                  " ORDER BY uc.created_at, uc.customer_id LIMIT 32",
                  user_id, cb, udata);
}

static int query2(ct_db_t *db, const char *sql, const char *a1, const char *a2, ct_db_result_cb cb,
                  void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, a1);
    ct_db_params_add(&p, a2);
    int rc = ct_db_query(db, sql, &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}

int accounts_store_totp_get(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata)
{
    return query1(db,
                  "SELECT u.email, u.name, u.password_hash, encode(t.secret_box, 'hex') AS box,"
                  " (t.confirmed_at IS NOT NULL) AS confirmed, t.last_step,"
                  " (SELECT uc.customer_id FROM user_customers uc WHERE uc.user_id = u.id"
                  "  ORDER BY uc.created_at, uc.customer_id LIMIT 1) AS customer_id"
                  " FROM users u LEFT JOIN user_totp t ON t.user_id = u.id"
                  " WHERE u.id = $1 AND u.status = 'active'",
                  user_id, cb, udata);
}

int accounts_store_totp_put(ct_db_t *db, const char *user_id, const char *box_hex,
                            ct_db_result_cb cb, void *udata)
{
    return query2(db,
                  "INSERT INTO user_totp (user_id, secret_box) VALUES ($1, decode($2, 'hex'))"
                  " ON CONFLICT (user_id) DO UPDATE SET secret_box = EXCLUDED.secret_box,"
                  " last_step = -1, created_at = now() WHERE user_totp.confirmed_at IS NULL"
                  " RETURNING 1",
                  user_id, box_hex, cb, udata);
}

void accounts_store_totp_confirm(ct_db_tx_t *tx, const char *user_id, long long step,
                                 ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add_int(&p, step);
    tx_query(tx,
             "UPDATE user_totp SET confirmed_at = now(), last_step = $2"
             " WHERE user_id = $1 AND confirmed_at IS NULL AND last_step < $2 RETURNING 1",
             &p, next);
}

void accounts_store_recovery_replace(ct_db_tx_t *tx, const char *user_id, const char *hashes_csv,
                                     ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, hashes_csv);
    tx_query(tx,
             "WITH gone AS (DELETE FROM user_recovery_codes WHERE user_id = $1)"
             " INSERT INTO user_recovery_codes (user_id, code_hash)"
             " SELECT $1, decode(h, 'hex') FROM unnest(string_to_array($2, ',')) AS h",
             &p, next);
}

int accounts_store_totp_accept(ct_db_t *db, const char *user_id, long long step, ct_db_result_cb cb,
                               void *udata)
{
    char text[24];
    snprintf(text, sizeof text, "%lld", step);
    return query2(db,
                  "UPDATE user_totp SET last_step = $2::bigint WHERE user_id = $1"
                  " AND confirmed_at IS NOT NULL AND last_step < $2::bigint RETURNING 1",
                  user_id, text, cb, udata);
}

int accounts_store_recovery_use(ct_db_t *db, const char *user_id, const char *hash_hex,
                                ct_db_result_cb cb, void *udata)
{
    return query2(db,
                  "UPDATE user_recovery_codes r SET used_at = now()"
                  " WHERE r.user_id = $1 AND r.code_hash = decode($2, 'hex') AND r.used_at IS NULL"
                  " AND EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = $1"
                  "             AND t.confirmed_at IS NOT NULL) RETURNING 1",
                  user_id, hash_hex, cb, udata);
}

#define FIRST_CUSTOMER                                                                             \
    "(SELECT uc.customer_id FROM user_customers uc WHERE uc.user_id = u.id"                        \
    " ORDER BY uc.created_at, uc.customer_id LIMIT 1) AS customer_id"

void accounts_store_reset_user(ct_db_tx_t *tx, const char *email, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, email);
    tx_query(tx,
             "SELECT u.id, u.email, u.name, " FIRST_CUSTOMER " FROM users u"
             " WHERE u.email = $1 AND u.status = 'active' FOR UPDATE OF u",
             &p, next);
}

void accounts_store_reset_put(ct_db_tx_t *tx, const char *user_id, const char *hash_hex, long ttl_s,
                              ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, hash_hex);
    ct_db_params_add_int(&p, ttl_s);
    tx_query(tx,
             "INSERT INTO password_resets (user_id, token_hash, expires_at)"
             " VALUES ($1, decode($2, 'hex'), now() + make_interval(secs => $3))"
             " ON CONFLICT (user_id) DO UPDATE SET token_hash = EXCLUDED.token_hash,"
             " created_at = now(), expires_at = EXCLUDED.expires_at"
             " RETURNING (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms",
             &p, next);
}

int accounts_store_reset_find(ct_db_t *db, const char *hash_hex, ct_db_result_cb cb, void *udata)
{
    return query1(db,
                  "SELECT user_id FROM password_resets"
                  " WHERE token_hash = decode($1, 'hex') AND expires_at > now()",
                  hash_hex, cb, udata);
}

void accounts_store_reset_take(ct_db_tx_t *tx, const char *hash_hex, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, hash_hex);
    tx_query(tx,
             "DELETE FROM password_resets WHERE token_hash = decode($1, 'hex')"
             " AND expires_at > now() RETURNING user_id",
             &p, next);
}

void accounts_store_password_set(ct_db_tx_t *tx, const char *user_id, const char *password_hash,
                                 ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, password_hash);
    /* a pending e-mail change goes too: the one who asked may be who the
     * new password shuts out */
    tx_query(tx,
             "WITH ec AS (DELETE FROM email_changes WHERE user_id = $1)"
             " UPDATE users u SET password_hash = $2, updated_at = now()"
             " WHERE u.id = $1 AND u.status = 'active'"
             " RETURNING u.id, u.email, u.name, " FIRST_CUSTOMER,
             &p, next);
}

void accounts_store_signup_customer(ct_db_tx_t *tx, const char *number, const char *phone,
                                    const char *invoice_number, unsigned invoice_months,
                                    ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, number);
    ct_db_params_add(&p, phone);
    ct_db_params_add(&p, invoice_number);
    ct_db_params_add_int(&p, invoice_months);
    tx_query(tx,
             "SELECT c.id, c.name FROM customers c WHERE c.customer_number = $1 AND ("
             " ($2::text IS NOT NULL AND (c.phone = $2 OR EXISTS (SELECT 1 FROM user_customers uc"
             "   JOIN users u ON u.id = uc.user_id WHERE uc.customer_id = c.id AND u.phone = $2)))"
             " OR ($3::text IS NOT NULL AND EXISTS (SELECT 1 FROM customer_invoices i"
             "   WHERE i.customer_id = c.id AND i.invoice_number = $3"
             /* a recent invoice (DOMAIN.md); NULL issue_date never passes */
             "   AND i.issue_date >= (now() AT TIME ZONE 'Europe/Paris')::date"
             "       - make_interval(months => $4::int))))"
             " FOR KEY SHARE OF c",
             &p, next);
}

void accounts_store_user_by_email(ct_db_tx_t *tx, const char *email, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, email);
    tx_query(tx, "SELECT id, status, name FROM users WHERE email = $1 FOR UPDATE", &p, next);
}

void accounts_store_pending_user_insert(ct_db_tx_t *tx, const char *id, const char *email,
                                        const char *name, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, id);
    ct_db_params_add(&p, email);
    ct_db_params_add(&p, name);
    tx_query(tx,
             "INSERT INTO users (id, email, name, status) VALUES ($1, $2, $3, 'pending')"
             " RETURNING id",
             &p, next);
}

void accounts_store_signup_grant(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                                 ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, customer_id);
    tx_query(tx,
             "INSERT INTO user_customers (user_id, customer_id, role)"
             " SELECT $1, $2, CASE WHEN EXISTS (SELECT 1 FROM user_customers"
             "   WHERE customer_id = $2 AND role = 'admin') THEN 'viewer' ELSE 'admin' END"
             " ON CONFLICT (user_id, customer_id) DO NOTHING RETURNING role",
             &p, next);
}

void accounts_store_activation_put(ct_db_tx_t *tx, const char *user_id, const char *hash_hex,
                                   long ttl_s, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, hash_hex);
    ct_db_params_add_int(&p, ttl_s);
    tx_query(tx,
             "INSERT INTO user_activations (user_id, token_hash, expires_at)"
             " VALUES ($1, decode($2, 'hex'), now() + make_interval(secs => $3))"
             " ON CONFLICT (user_id) DO UPDATE SET token_hash = EXCLUDED.token_hash,"
             " created_at = now(), expires_at = EXCLUDED.expires_at"
             " RETURNING (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms",
             &p, next);
}

void accounts_store_pending_by_email(ct_db_tx_t *tx, const char *email, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, email);
    tx_query(tx,
             "SELECT u.id, u.email, u.name, " FIRST_CUSTOMER " FROM users u"
             " WHERE u.email = $1 AND u.status = 'pending' FOR UPDATE OF u",
             &p, next);
}

void accounts_store_activation_take(ct_db_tx_t *tx, const char *hash_hex, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, hash_hex);
    tx_query(tx,
             "DELETE FROM user_activations WHERE token_hash = decode($1, 'hex')"
             " AND expires_at > now() RETURNING user_id",
             &p, next);
}

void accounts_store_activate(ct_db_tx_t *tx, const char *user_id, const char *password_hash,
                             ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, password_hash);
    tx_query(tx,
             "WITH u AS (UPDATE users SET password_hash = $2, status = 'active', updated_at = now()"
             "   WHERE id = $1 AND status = 'pending' RETURNING id, email, name, phone),"
             /* the invitations that stood for its grants in the lists */
             " i AS (DELETE FROM collaborator_invitations c USING u WHERE c.user_id = u.id"
             "   AND c.awaits_activation)"
             " SELECT u.id, u.email, u.name, u.phone, uc.customer_id, uc.role FROM u"
             " JOIN user_customers uc ON uc.user_id = u.id ORDER BY uc.created_at, uc.customer_id",
             &p, next);
}

void accounts_store_invoice_seen(ct_db_tx_t *tx, const char *customer_id,
                                 const char *invoice_number, const char *issue_date,
                                 ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, invoice_number);
    ct_db_params_add(&p, issue_date && issue_date[0] ? issue_date : NULL);
    tx_query(tx,
             "INSERT INTO customer_invoices (customer_id, invoice_number, issue_date)"
             " VALUES ($1, $2, $3::date) ON CONFLICT DO NOTHING",
             &p, next);
}

void accounts_store_my_role(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                            ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, customer_id);
    tx_query(tx,
             "SELECT role FROM user_customers WHERE user_id = $1 AND customer_id = $2"
             " FOR SHARE",
             &p, next);
}

int accounts_store_role_get(ct_db_t *db, const char *user_id, const char *customer_id,
                            ct_db_result_cb cb, void *udata)
{
    return query2(db, "SELECT role FROM user_customers WHERE user_id = $1 AND customer_id = $2",
                  user_id, customer_id, cb, udata);
}

int accounts_store_collaborators(ct_db_t *db, const char *customer_id, ct_db_result_cb cb,
                                 void *udata)
{
    return query1(db,
                  "SELECT u.id, u.email, u.name, u.status, uc.role, uc.created_at AS since,"
                  " false AS invitation"
                  " FROM user_customers uc JOIN users u ON u.id = uc.user_id"
                  " WHERE uc.customer_id = $1 AND NOT EXISTS (SELECT 1"
                  "   FROM collaborator_invitations i WHERE i.customer_id = uc.customer_id"
                  "   AND i.user_id = uc.user_id)"
                  " UNION ALL SELECT i.id, i.email, i.name, 'invited', i.role, i.created_at, true"
                  " FROM collaborator_invitations i WHERE i.customer_id = $1"
                  " AND (i.awaits_activation OR i.expires_at > now())"
                  " ORDER BY since, id",
                  customer_id, cb, udata);
}

void accounts_store_grant_add(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                              const char *role, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, role);
    tx_query(tx,
             "INSERT INTO user_customers (user_id, customer_id, role) VALUES ($1, $2, $3)"
             " ON CONFLICT (user_id, customer_id) DO NOTHING RETURNING 1",
             &p, next);
}

void accounts_store_grant_lock(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                               ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, customer_id);
    /* every admin row is locked too, so two admins cannot demote each other
     * at once and leave the customer without one */
    tx_query(tx,
             "WITH admins AS (SELECT user_id FROM user_customers WHERE customer_id = $2"
             "   AND role = 'admin' FOR UPDATE)"
             " SELECT uc.role, u.email, (SELECT count(*) FROM admins) AS admins"
             " FROM user_customers uc JOIN users u ON u.id = uc.user_id"
             " WHERE uc.user_id = $1 AND uc.customer_id = $2 FOR UPDATE OF uc",
             &p, next);
}

void accounts_store_grant_set(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                              const char *role, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, role);
    tx_query(tx, "UPDATE user_customers SET role = $3 WHERE user_id = $1 AND customer_id = $2", &p,
             next);
}

void accounts_store_grant_delete(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                                 ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, customer_id);
    tx_query(tx, "DELETE FROM user_customers WHERE user_id = $1 AND customer_id = $2", &p, next);
}

#define AUDIT_INSERT                                                                               \
    "INSERT INTO audit_log (customer_id, actor_id, subject_id, action, address, detail)"           \
    " SELECT c, $2::uuid, $3::uuid, $4, $5, $6::jsonb FROM ("                                      \
    "   SELECT $1::uuid AS c WHERE $1::uuid IS NOT NULL"                                           \
    "   UNION SELECT customer_id FROM user_customers"                                              \
    "   WHERE $1::uuid IS NULL AND user_id = $3::uuid) AS t"

static void audit_params(ct_db_params_t *p, const char *customer_id, const char *actor,
                         const char *subject, const char *action, const char *address,
                         const char *detail_json)
{
    ct_db_params_init(p);
    ct_db_params_add(p, customer_id);
    ct_db_params_add(p, actor);
    ct_db_params_add(p, subject);
    ct_db_params_add(p, action);
    ct_db_params_add(p, address);
    ct_db_params_add(p, detail_json ? detail_json : "{}");
}

int accounts_store_audit(ct_db_t *db, const char *customer_id, const char *actor,
                         const char *subject, const char *action, const char *address,
                         const char *detail_json, ct_db_result_cb cb, void *udata)
{
    ct_db_params_t p;
    audit_params(&p, customer_id, actor, subject, action, address, detail_json);
    int rc = ct_db_query(db, AUDIT_INSERT, &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}

void accounts_store_audit_tx(ct_db_tx_t *tx, const char *customer_id, const char *actor,
                             const char *subject, const char *action, const char *address,
                             const char *detail_json, ct_db_tx_cb next)
{
    ct_db_params_t p;
    audit_params(&p, customer_id, actor, subject, action, address, detail_json);
    tx_query(tx, AUDIT_INSERT, &p, next);
}

int accounts_store_audit_list(ct_db_t *db, const char *customer_id, long long before, int limit,
                              ct_db_result_cb cb, void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add_int(&p, before);
    ct_db_params_add_int(&p, limit);
    int rc = ct_db_query(
        db,
        "SELECT a.id, to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS at,"
        " a.actor_id, ua.email AS actor_email, a.subject_id, us.email AS subject_email,"
        " a.action, a.address, a.detail::text AS detail"
        " FROM audit_log a LEFT JOIN users ua ON ua.id = a.actor_id"
        " LEFT JOIN users us ON us.id = a.subject_id"
        " WHERE a.customer_id = $1 AND ($2 = 0 OR a.id < $2) ORDER BY a.id DESC LIMIT $3",
        &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}

void accounts_store_device_seen(ct_db_tx_t *tx, const char *user_id, const char *device_hex,
                                ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, device_hex);
    tx_query(tx,
             "WITH known AS (SELECT count(*) AS n FROM user_devices WHERE user_id = $1),"
             " ins AS (INSERT INTO user_devices (user_id, device)"
             "   VALUES ($1, decode($2, 'hex')) ON CONFLICT DO NOTHING RETURNING 1)"
             " SELECT EXISTS (SELECT 1 FROM ins) AS fresh, (SELECT n FROM known) AS known",
             &p, next);
}

void accounts_store_totp_delete_tx(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    tx_query(tx,
             "WITH codes AS (DELETE FROM user_recovery_codes WHERE user_id = $1)"
             " DELETE FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL"
             " RETURNING 1",
             &p, next);
}

void accounts_store_user_lock(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    tx_query(tx, "SELECT email, name FROM users WHERE id = $1 AND status = 'active' FOR UPDATE", &p,
             next);
}

#define PROFILE_SELECT                                                                             \
    "SELECT u.id, u.email, u.name, u.phone, " FIRST_CUSTOMER ","                                   \
    " (SELECT v.phone FROM phone_verifications v WHERE v.user_id = u.id) AS phone_pending,"        \
    " COALESCE((SELECT json_object_agg(p.kind, p.channel ORDER BY p.kind)"                         \
    "           FROM user_preferences p WHERE p.user_id = u.id), '{}')::text AS prefs"             \
    " FROM users u WHERE u.id = $1 AND u.status = 'active'"

int accounts_store_profile_get(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata)
{
    return query1(db, PROFILE_SELECT, user_id, cb, udata);
}

void accounts_store_profile_lock(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    tx_query(tx, PROFILE_SELECT " FOR UPDATE OF u", &p, next);
}

void accounts_store_profile_update(ct_db_tx_t *tx, const char *user_id, const char *name,
                                   bool set_phone, const char *phone, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, name);
    ct_db_params_add(&p, set_phone ? "true" : "false");
    ct_db_params_add(&p, phone);
    /* a number removed takes its pending replacement with it */
    tx_query(tx,
             "WITH v AS (DELETE FROM phone_verifications"
             "           WHERE user_id = $1 AND $3::boolean AND $4::text IS NULL)"
             " UPDATE users SET name = COALESCE($2, name),"
             " phone = CASE WHEN $3::boolean THEN $4 ELSE phone END, updated_at = now()"
             " WHERE id = $1 AND status = 'active'",
             &p, next);
}

void accounts_store_preferences_put(ct_db_tx_t *tx, const char *user_id, const char *prefs_json,
                                    ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, prefs_json);
    tx_query(tx,
             "INSERT INTO user_preferences (user_id, kind, channel)"
             " SELECT $1, key, value FROM json_each_text($2::json)"
             " ON CONFLICT (user_id, kind) DO UPDATE SET channel = EXCLUDED.channel",
             &p, next);
}

int accounts_store_personal_data(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata)
{
    static const char sql[] =
        "SELECT json_build_object("
        "  'user', json_build_object('id', u.id, 'email', u.email, 'name', u.name,"
        "    'phone', u.phone, 'status', u.status, 'created_at', u.created_at,"
        "    'updated_at', u.updated_at),"
        "  'customers', COALESCE((SELECT json_agg(json_build_object('customer_id', c.id,"
        "      'customer_number', c.customer_number, 'name', c.name, 'role', uc.role,"
        "      'since', uc.created_at) ORDER BY uc.created_at)"
        "    FROM user_customers uc JOIN customers c ON c.id = uc.customer_id"
        "    WHERE uc.user_id = u.id), '[]'::json),"
        "  'preferences', COALESCE((SELECT json_object_agg(p.kind, p.channel)"
        "    FROM user_preferences p WHERE p.user_id = u.id), '{}'::json),"
        "  'two_factor', (SELECT json_build_object('enabled', t.confirmed_at IS NOT NULL,"
        "      'since', t.confirmed_at, 'recovery_codes_left', (SELECT count(*)"
        "        FROM user_recovery_codes r WHERE r.user_id = u.id AND r.used_at IS NULL))"
        "    FROM user_totp t WHERE t.user_id = u.id),"
        "  'devices', COALESCE((SELECT json_agg(json_build_object('first_seen', d.first_seen)"
        "      ORDER BY d.first_seen) FROM user_devices d WHERE d.user_id = u.id), '[]'::json),"
        "  'register', COALESCE((SELECT json_agg(e ORDER BY e.id DESC) FROM ("
        "      SELECT a.id, a.at, a.customer_id, a.action, a.address, a.detail,"
        "        a.actor_id = u.id AS by_you FROM audit_log a"
        "      WHERE a.actor_id = u.id OR a.subject_id = u.id ORDER BY a.id DESC LIMIT 5000)"
        "    AS e), '[]'::json)"
        ")::text AS doc FROM users u WHERE u.id = $1 AND u.status = 'active'";
    return query1(db, sql, user_id, cb, udata);
}

void accounts_store_close_check(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    tx_query(tx,
             "SELECT uc.customer_id, uc.role, (SELECT count(*) FROM user_customers o"
             "   WHERE o.customer_id = uc.customer_id AND o.role = 'admin'"
             "   AND o.user_id <> uc.user_id) AS other_admins"
             " FROM user_customers uc WHERE uc.user_id = $1"
             " ORDER BY uc.created_at, uc.customer_id FOR UPDATE",
             &p, next);
}

void accounts_store_close(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    tx_query(tx,
             "WITH g AS (DELETE FROM user_customers WHERE user_id = $1),"
             " t AS (DELETE FROM user_totp WHERE user_id = $1),"
             " r AS (DELETE FROM user_recovery_codes WHERE user_id = $1),"
             " d AS (DELETE FROM user_devices WHERE user_id = $1),"
             " p AS (DELETE FROM user_preferences WHERE user_id = $1),"
             " pr AS (DELETE FROM password_resets WHERE user_id = $1),"
             " ua AS (DELETE FROM user_activations WHERE user_id = $1),"
             " ec AS (DELETE FROM email_changes WHERE user_id = $1),"
             " pv AS (DELETE FROM phone_verifications WHERE user_id = $1)"
             " UPDATE users SET status = 'disabled', password_hash = NULL, phone = NULL,"
             " name = 'Closed account', email = 'closed-' || id || '@invalid', updated_at = now()"
             " WHERE id = $1 AND status = 'active' RETURNING id",
             &p, next);
}

void accounts_store_customers_taken(ct_db_tx_t *tx, const char *numbers, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, numbers);
    tx_query(tx,
             "SELECT customer_number FROM customers"
             " WHERE customer_number = ANY (string_to_array($1, ','))",
             &p, next);
}

int accounts_store_password_rehash(ct_db_t *db, const char *user_id, const char *old_hash,
                                   const char *new_hash, ct_db_result_cb cb, void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, user_id);
    ct_db_params_add(&p, old_hash);
    ct_db_params_add(&p, new_hash);
    int rc = ct_db_query(db,
                         "UPDATE users SET password_hash = $3, updated_at = now()"
                         " WHERE id = $1 AND password_hash = $2 AND status = 'active'",
                         &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}
