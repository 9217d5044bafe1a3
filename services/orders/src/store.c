#include "store.h"

#include <stdio.h>
#include <string.h>

/* The order columns, in every statement that returns orders. */
#define ORDER_COLUMNS                                                                              \
    " o.order_id, o.site_id, o.customer_id, o.status, o.delivery_mode, o.quantity_kg, o.speed,"    \
    " to_char(o.delivery_date, 'YYYY-MM-DD') AS delivery_date, o.delivered_kg,"                    \
    " o.level_after_pct, o.correlation_id, o.last_event_id, o.confirmed_by,"                       \
    " to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"               \
    " AS created_at "

/* Whether the site (alias s) ever had a delivered order: column
 * delivered_before. */
#define DELIVERED_BEFORE                                                                           \
    " EXISTS (SELECT 1 FROM orders d WHERE d.site_id = s.site_id"                                  \
    " AND d.status = 'delivered') AS delivered_before "

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

bool orders_store_bool(const PGresult *res, int row, const char *column)
{
    const char *v = ct_db_get(res, row, column);
    return v && strcmp(v, "t") == 0;
}

void orders_store_order_from_row(const PGresult *res, int row, orders_order_t *o)
{
    memset(o, 0, sizeof *o);
    copy(o->order_id, sizeof o->order_id, ct_db_get(res, row, "order_id"));
    copy(o->site_id, sizeof o->site_id, ct_db_get(res, row, "site_id"));
    copy(o->customer_id, sizeof o->customer_id, ct_db_get(res, row, "customer_id"));
    copy(o->status, sizeof o->status, ct_db_get(res, row, "status"));
    copy(o->delivery_mode, sizeof o->delivery_mode, ct_db_get(res, row, "delivery_mode"));
    copy(o->speed, sizeof o->speed, ct_db_get(res, row, "speed"));
    o->quantity_kg = (int)ct_db_get_int(res, row, "quantity_kg", 0);
    copy(o->delivery_date, sizeof o->delivery_date, ct_db_get(res, row, "delivery_date"));
    o->delivered_kg = (int)ct_db_get_int(res, row, "delivered_kg", 0);
    o->level_after_pct = (int)ct_db_get_int(res, row, "level_after_pct", -1);
    copy(o->correlation_id, sizeof o->correlation_id, ct_db_get(res, row, "correlation_id"));
    copy(o->last_event_id, sizeof o->last_event_id, ct_db_get(res, row, "last_event_id"));
    copy(o->created_at, sizeof o->created_at, ct_db_get(res, row, "created_at"));
    copy(o->confirmed_by, sizeof o->confirmed_by, ct_db_get(res, row, "confirmed_by"));
}

/* An accounts snapshot replaces the row only when it is newer; a Created
 * (version 1) sent again still replaces a version-1 row, as before versions.
 * `known` says whether the row was there before (read at the statement's
 * start: a concurrent first insert counts as unknown, which only the log
 * sees). */
#define NEWER_THAN(table)                                                                          \
    " WHERE " table ".version < EXCLUDED.version"                                                  \
    " OR (" table ".version = 1 AND EXCLUDED.version = 1)"                                         \
    " RETURNING EXISTS (SELECT 1 FROM prior) AS known"

void orders_store_put_customer(ct_db_tx_t *tx, const char *customer_id, const char *segment,
                               int version, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, segment);
    ct_db_params_add_int(&p, version);
    ct_db_tx_query(tx,
                   "WITH prior AS (SELECT 1 FROM customers WHERE customer_id = $1)"
                   " INSERT INTO customers (customer_id, segment, version) VALUES ($1, $2, $3)"
                   " ON CONFLICT (customer_id) DO UPDATE SET segment = EXCLUDED.segment,"
                   " version = EXCLUDED.version" NEWER_THAN("customers"),
                   &p, next);
    ct_db_params_dispose(&p);
}

void orders_store_put_contract(ct_db_tx_t *tx, const char *contract_id, const char *customer_id,
                               const char *delivery_mode, int version, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, contract_id);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add(&p, delivery_mode);
    ct_db_params_add_int(&p, version);
    ct_db_tx_query(tx,
                   "WITH prior AS (SELECT 1 FROM contracts WHERE contract_id = $1)"
                   " INSERT INTO contracts (contract_id, customer_id, delivery_mode, version)"
                   " VALUES ($1, $2, $3, $4) ON CONFLICT (contract_id) DO UPDATE"
                   " SET customer_id = EXCLUDED.customer_id,"
                   " delivery_mode = EXCLUDED.delivery_mode,"
                   " version = EXCLUDED.version" NEWER_THAN("contracts"),
                   &p, next);
    ct_db_params_dispose(&p);
}

void orders_store_put_site(ct_db_tx_t *tx, const orders_site_t *s, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, s->site_id);
    ct_db_params_add(&p, s->customer_id);
    ct_db_params_add(&p, s->contract_id);
    ct_db_params_add(&p, s->delivery_mode);
    ct_db_params_add_int(&p, s->capacity_kg);
    ct_db_params_add(&p, s->certificate_received ? "t" : "f");
    ct_db_params_add_int(&p, s->version);
    ct_db_tx_query(
        tx,
        "WITH prior AS (SELECT 1 FROM sites WHERE site_id = $1)"
        " INSERT INTO sites (site_id, customer_id, contract_id, delivery_mode, capacity_kg,"
        " certificate_received, version)"
        " VALUES ($1, $2, $3::uuid, COALESCE($4::text, (SELECT delivery_mode FROM contracts"
        " WHERE contract_id = $3::uuid), 'automatic'), $5, $6, $7)"
        " ON CONFLICT (site_id) DO UPDATE SET customer_id = EXCLUDED.customer_id,"
        " contract_id = EXCLUDED.contract_id, delivery_mode = EXCLUDED.delivery_mode,"
        " capacity_kg = EXCLUDED.capacity_kg,"
        " certificate_received = EXCLUDED.certificate_received,"
        " version = EXCLUDED.version" NEWER_THAN("sites"),
        &p, next);
    ct_db_params_dispose(&p);
}

void orders_store_lock_site(ct_db_tx_t *tx, const char *site_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, site_id);
    ct_db_tx_query(tx,
                   "SELECT site_id, customer_id, delivery_mode, capacity_kg,"
                   " certificate_received," DELIVERED_BEFORE
                   " FROM sites s WHERE site_id = $1 FOR UPDATE",
                   &p, next);
    ct_db_params_dispose(&p);
}

void orders_store_open_order(ct_db_tx_t *tx, const char *site_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, site_id);
    ct_db_tx_query(tx,
                   "SELECT order_id FROM orders WHERE site_id = $1"
                   " AND status IN ('proposed', 'awaiting_certificate', 'scheduled') LIMIT 1",
                   &p, next);
    ct_db_params_dispose(&p);
}

void orders_store_insert_order(ct_db_tx_t *tx, const orders_order_t *o, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, o->order_id);
    ct_db_params_add(&p, o->site_id);
    ct_db_params_add(&p, o->customer_id);
    ct_db_params_add(&p, o->status);
    ct_db_params_add(&p, o->delivery_mode);
    ct_db_params_add_int(&p, o->quantity_kg);
    ct_db_params_add(&p, o->speed);
    ct_db_params_add(&p, o->delivery_date[0] ? o->delivery_date : NULL);
    ct_db_params_add(&p, o->correlation_id);
    ct_db_params_add(&p, o->last_event_id);
    ct_db_tx_query(tx,
                   "INSERT INTO orders (order_id, site_id, customer_id, status, delivery_mode,"
                   " quantity_kg, speed, delivery_date, correlation_id, last_event_id)"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::date, $9, $10)",
                   &p, next);
    ct_db_params_dispose(&p);
}

void orders_store_record_crossing(ct_db_tx_t *tx, const char *event_id, const char *site_id,
                                  int level_pct, int threshold_pct, long long measured_ms,
                                  const char *source, const char *outcome, const char *order_id,
                                  ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, event_id);
    ct_db_params_add(&p, site_id);
    ct_db_params_add_int(&p, level_pct);
    ct_db_params_add_int(&p, threshold_pct);
    ct_db_params_add_int(&p, measured_ms);
    ct_db_params_add(&p, source);
    ct_db_params_add(&p, outcome);
    ct_db_params_add(&p, order_id);
    ct_db_tx_query(tx,
                   "INSERT INTO crossings (event_id, site_id, level_pct, threshold_pct,"
                   " measured_at, source, outcome, order_id)"
                   " VALUES ($1, $2, $3, $4, to_timestamp($5::bigint / 1000.0), $6, $7,"
                   " $8::uuid) ON CONFLICT (event_id) DO NOTHING",
                   &p, next);
    ct_db_params_dispose(&p);
}

int orders_store_get_order(ct_db_t *db, const char *order_id, ct_db_result_cb cb, void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, order_id);
    int rc = ct_db_query(db,
                         "SELECT" ORDER_COLUMNS ", s.capacity_kg, c.segment"
                         " FROM orders o JOIN sites s ON s.site_id = o.site_id"
                         " LEFT JOIN customers c ON c.customer_id = o.customer_id"
                         " WHERE o.order_id = $1",
                         &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}

void orders_store_lock_order(ct_db_tx_t *tx, const char *order_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, order_id);
    ct_db_tx_query(tx,
                   "SELECT" ORDER_COLUMNS ", s.capacity_kg, c.segment"
                   " FROM orders o JOIN sites s ON s.site_id = o.site_id"
                   " LEFT JOIN customers c ON c.customer_id = o.customer_id"
                   " WHERE o.order_id = $1 FOR UPDATE OF o",
                   &p, next);
    ct_db_params_dispose(&p);
}

void orders_store_lock_site_of_order(ct_db_tx_t *tx, const char *order_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, order_id);
    ct_db_tx_query(tx,
                   "SELECT s.site_id, s.certificate_received," DELIVERED_BEFORE " FROM sites s"
                   " WHERE s.site_id = (SELECT site_id FROM orders WHERE order_id = $1)"
                   " FOR SHARE OF s",
                   &p, next);
    ct_db_params_dispose(&p);
}

void orders_store_lock_held_order(ct_db_tx_t *tx, const char *site_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, site_id);
    ct_db_tx_query(tx,
                   "SELECT" ORDER_COLUMNS " FROM orders o"
                   " WHERE o.site_id = $1 AND o.status = 'awaiting_certificate'"
                   " FOR UPDATE OF o",
                   &p, next);
    ct_db_params_dispose(&p);
}

void orders_store_schedule(ct_db_tx_t *tx, const orders_order_t *o, const char *from_status,
                           ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, o->order_id);
    ct_db_params_add(&p, o->status);
    ct_db_params_add_int(&p, o->quantity_kg);
    ct_db_params_add(&p, o->speed);
    ct_db_params_add(&p, o->delivery_date[0] ? o->delivery_date : NULL);
    ct_db_params_add(&p, o->last_event_id);
    ct_db_params_add(&p, from_status);
    ct_db_params_add(&p, o->confirmed_by[0] ? o->confirmed_by : NULL);
    ct_db_tx_query(tx,
                   "UPDATE orders o SET status = $2, quantity_kg = $3, speed = $4,"
                   " delivery_date = $5::date, last_event_id = $6, confirmed_by = $8::uuid,"
                   " updated_at = now()"
                   " WHERE o.order_id = $1 AND o.status = $7"
                   " RETURNING" ORDER_COLUMNS,
                   &p, next);
    ct_db_params_dispose(&p);
}

void orders_store_deliver(ct_db_tx_t *tx, const orders_order_t *o, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, o->order_id);
    ct_db_params_add_int(&p, o->delivered_kg);
    ct_db_params_add_int(&p, o->level_after_pct);
    ct_db_params_add(&p, o->delivery_date);
    ct_db_params_add(&p, o->last_event_id);
    ct_db_tx_query(tx,
                   "UPDATE orders o SET status = 'delivered', delivered_kg = $2,"
                   " level_after_pct = $3, delivery_date = $4::date, last_event_id = $5,"
                   " updated_at = now()"
                   " WHERE o.order_id = $1 AND o.status = 'scheduled'"
                   " RETURNING" ORDER_COLUMNS,
                   &p, next);
    ct_db_params_dispose(&p);
}

int orders_store_list_site_orders(ct_db_t *db, const char *site_id, int limit, ct_db_result_cb cb,
                                  void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, site_id);
    ct_db_params_add_int(&p, limit);
    int rc = ct_db_query(db,
                         "SELECT s.customer_id AS site_customer_id," ORDER_COLUMNS
                         " FROM sites s LEFT JOIN LATERAL (SELECT * FROM orders"
                         " WHERE site_id = s.site_id"
                         " ORDER BY created_at DESC, order_id DESC LIMIT $2) o ON true"
                         " WHERE s.site_id = $1"
                         " ORDER BY o.created_at DESC, o.order_id DESC",
                         &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}

int orders_store_list_deliveries(ct_db_t *db, const char *site_id, const char *status,
                                 const char *delivery_date, int limit, ct_db_result_cb cb,
                                 void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, site_id);
    ct_db_params_add(&p, status);
    ct_db_params_add(&p, delivery_date);
    ct_db_params_add_int(&p, limit);
    int rc = ct_db_query(db,
                         "SELECT" ORDER_COLUMNS " FROM orders o"
                         " WHERE ($1::uuid IS NULL OR o.site_id = $1::uuid)"
                         " AND o.status = $2"
                         " AND ($3::date IS NULL OR o.delivery_date = $3::date)"
                         " ORDER BY o.delivery_date, o.created_at, o.order_id LIMIT $4",
                         &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}
