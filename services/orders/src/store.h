/* All SQL of orders. Each function issues one statement, in the caller's
 * transaction (tx) or on the pool (db), and hands the result to the callback
 * (see citerne/db.h for the callback rules). Rows describing an order carry
 * the columns read by orders_store_order_from_row. */
#ifndef ORDERS_STORE_H
#define ORDERS_STORE_H

#include <stdbool.h>

#include "citerne/db.h"

#include "order.h"

/* The boolean column of res at row (false when NULL). */
bool orders_store_bool(const PGresult *res, int row, const char *column);

/* Fills o from the order columns of res at row. */
void orders_store_order_from_row(const PGresult *res, int row, orders_order_t *o);

/* ---- read models (accounts events) ---- */

/* A site as accounts describes it (SiteCreated, SiteUpdated). */
typedef struct {
    const char *site_id;
    const char *customer_id;
    const char *contract_id;   /* NULL: none */
    const char *delivery_mode; /* NULL: the contract's, else automatic */
    int capacity_kg;
    bool certificate_received;
    int version; /* SiteCreated: 1 */
} orders_site_t;

/* Each put records an entity's whole state at version (its Created event is
 * version 1): it inserts the row, or replaces it when the stored version is
 * older (or both are 1: a Created sent again); an equal or older version
 * changes nothing. Rows: one, column known ("t" when the row existed
 * before), when applied; none when ignored. The row stays locked until the
 * end of tx. */
void orders_store_put_customer(ct_db_tx_t *tx, const char *customer_id, const char *segment,
                               int version, ct_db_tx_cb next);
void orders_store_put_contract(ct_db_tx_t *tx, const char *contract_id, const char *customer_id,
                               const char *delivery_mode, int version, ct_db_tx_cb next);
void orders_store_put_site(ct_db_tx_t *tx, const orders_site_t *s, ct_db_tx_cb next);

/* ---- crossings (telemetry events) ---- */

/* Locks the site FOR UPDATE (serialises the crossings of a site, and them
 * with the site's updates). Rows (none when unknown): site_id, customer_id,
 * delivery_mode, capacity_kg, certificate_received, delivered_before (the
 * site had a delivered order). */
void orders_store_lock_site(ct_db_tx_t *tx, const char *site_id, ct_db_tx_cb next);
/* The open (proposed, awaiting_certificate or scheduled) order of a site: column order_id, no row
 * when none. Issue it after orders_store_lock_site. */
void orders_store_open_order(ct_db_tx_t *tx, const char *site_id, ct_db_tx_cb next);
/* Inserts a new order from o (every field but created_at). */
void orders_store_insert_order(ct_db_tx_t *tx, const orders_order_t *o, ct_db_tx_cb next);
/* Records a crossing event and its outcome ("ordered" or "open_order"). */
void orders_store_record_crossing(ct_db_tx_t *tx, const char *event_id, const char *site_id,
                                  int level_pct, int threshold_pct, long long measured_ms,
                                  const char *source, const char *outcome, const char *order_id,
                                  ct_db_tx_cb next);

/* ---- orders ---- */

/* One order with its site's capacity (column capacity_kg) and its customer's
 * segment (column segment, NULL when not known); no row if none. */
int orders_store_get_order(ct_db_t *db, const char *order_id, ct_db_result_cb cb, void *udata);
/* Same, locking the order FOR UPDATE. */
void orders_store_lock_order(ct_db_tx_t *tx, const char *order_id, ct_db_tx_cb next);
/* Locks FOR SHARE the site of an order, before the order itself (sites are
 * locked before orders everywhere: no deadlock), so that a SiteUpdated
 * waits for a confirmation that read the certificate, or the confirmation
 * for it. Rows (none when no such order): site_id, certificate_received,
 * delivered_before. */
void orders_store_lock_site_of_order(ct_db_tx_t *tx, const char *order_id, ct_db_tx_cb next);
/* The held (awaiting_certificate) orders of a site, locked FOR UPDATE: at
 * most one, an open order being unique per site. Issue it once the site is
 * locked. */
void orders_store_lock_held_order(ct_db_tx_t *tx, const char *site_id, ct_db_tx_cb next);
/* Moves o from from_status to o->status (scheduled or awaiting_certificate)
 * with o's quantity, speed, delivery date ("" for none) and last event;
 * returns the updated order, no row when it was no longer in from_status. */
void orders_store_schedule(ct_db_tx_t *tx, const orders_order_t *o, const char *from_status,
                           ct_db_tx_cb next);
/* scheduled -> delivered; returns the updated order. */
void orders_store_deliver(ct_db_tx_t *tx, const orders_order_t *o, ct_db_tx_cb next);

/* Orders of a site, newest first, at most limit. Rows: site_customer_id then
 * the order columns (NULL order_id when the site has no order); no row at all
 * when the site is unknown. */
int orders_store_list_site_orders(ct_db_t *db, const char *site_id, int limit, ct_db_result_cb cb,
                                  void *udata);
/* Orders in status, optionally of one site and one delivery date (NULL: any),
 * by delivery date then age, at most limit. */
int orders_store_list_deliveries(ct_db_t *db, const char *site_id, const char *status,
                                 const char *delivery_date, int limit, ct_db_result_cb cb,
                                 void *udata);

#endif
