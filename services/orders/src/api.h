/* Helpers shared by the HTTP handlers of orders. */
#ifndef ORDERS_API_H
#define ORDERS_API_H

#include <stdbool.h>

#include "citerne/db.h"
#include "citerne/http.h"

#include "app.h"
#include "order.h"

/* The order as the API shows it: {id, site_id, customer_id, status,
 * delivery_mode, quantity_kg, speed, delivery_date|null, delivered_kg|null,
 * level_after_pct|null, created_at}. New reference. */
json_t *orders_order_json(const orders_order_t *o);

/* Replies 503 (no connection, closing) or 500 (the database failed) for a
 * failed statement, logging it with the request id. */
void orders_reply_db_error(ct_http_req_t *req, const ct_db_error_t *err);

/* Replies 409 problem "certificate-missing": the order waits for its site's
 * certificate of conformity (no first delivery without it). */
void orders_reply_certificate_missing(ct_http_req_t *req, const char *detail);

/* Reads the query parameter name as an integer in [min, max] into *out (def
 * when absent). On a bad value replies 400 naming it and returns false. */
bool orders_query_int(ct_http_req_t *req, const char *name, long def, long min, long max,
                      long *out);

/* Path parameter name when it is a canonical UUID, lower-cased into the
 * request's memory; NULL otherwise. */
char *orders_path_uuid(ct_http_req_t *req, const char *name);

/* Registers the customer and operator routes (api_orders.c). */
int orders_api_orders_register(ct_http_server_t *srv, orders_app_t *app);
/* Registers the driver routes (api_deliveries.c). */
int orders_api_deliveries_register(ct_http_server_t *srv, orders_app_t *app);

#endif
