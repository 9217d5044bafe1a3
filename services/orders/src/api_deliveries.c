/* HTTP: the drivers' view of deliveries and their confirmation (driver
 * key; the operator key may read the list too). */
#include <stdio.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/outbox.h"
#include "citerne/validate.h"

#include "api.h"
#include "citerne/auth.h"
#include "calendar.h"
#include "events.h"
#include "store.h"

#define DEFAULT_LIMIT 100
#define MAX_LIMIT 500
#define MAX_DELIVERED_KG 100000
/* A delivery date more than this many days from today is a typing error. */
#define MAX_DATE_DISTANCE_DAYS 366

static void bad_field(ct_http_req_t *req, const char *field, const char *message)
{
    json_t *errors = json_array();
    json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "message", message));
    ct_http_reply_invalid(req, errors);
}

/* ---- GET /api/v1/orders/deliveries?site_id=X&status=scheduled&date=D ---- */

static void on_deliveries(const ct_db_error_t *err, PGresult *res, void *udata)
{
    ct_http_req_t *req = udata;
    if (err) {
        orders_reply_db_error(req, err);
        return;
    }
    json_t *list = json_array();
    for (int row = 0; row < PQntuples(res); row++) {
        orders_order_t o;
        orders_store_order_from_row(res, row, &o);
        json_array_append_new(list, orders_order_json(&o));
    }
    ct_http_reply_json(req, 200, json_pack("{s:o}", "deliveries", list));
}

static void list_deliveries(ct_http_req_t *req, void *udata)
{
    orders_app_t *app = udata;
    if (!ct_auth_bearer_ok(req, &app->driver_key) && !ct_auth_bearer_ok(req, &app->operator_key)) {
        ct_auth_reply_unauthorized(req, "a valid API key is required");
        return;
    }
    const char *site = ct_http_query(req, "site_id");
    char *site_lc = NULL;
    if (site) {
        if (!ct_uuid_valid(site) || strlen(site) != CT_UUID_STRLEN) {
            bad_field(req, "site_id", "must be the UUID of a site");
            return;
        }
        site_lc = ct_http_strdup(req, site);
        for (char *p = site_lc; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    }
    const char *status = ct_http_query(req, "status");
    if (!status)
        status = "scheduled";
    if (strcmp(status, "scheduled") != 0 && strcmp(status, "delivered") != 0) {
        bad_field(req, "status", "must be scheduled or delivered");
        return;
    }
    const char *date = ct_http_query(req, "date");
    int32_t day;
    if (date && orders_date_parse(date, &day) != 0) {
        bad_field(req, "date", "must be a date YYYY-MM-DD");
        return;
    }
    long limit;
    if (!orders_query_int(req, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, &limit))
        return;
    int rc = orders_store_list_deliveries(app->svc->db, site_lc, status, date, (int)limit,
                                          on_deliveries, req);
    if (rc != 0)
        ct_http_reply_error(req, rc == CT_ECLOSED ? CT_ECLOSED : CT_EUNAVAIL, NULL);
}

/* ---- POST /api/v1/orders/deliveries/{order_id}/confirm ---- */

typedef struct {
    ct_http_req_t *req;
    orders_app_t *app;
    const char *order_id;
    int delivered_kg;
    int level_after_pct;
    char delivered_on[11];
    orders_order_t order;
    orders_packed_t packed;
    bool packed_set;
    bool certificate; /* refused: the order waits for the certificate */
    const char *detail;
} deliver_ctx_t;

static void on_deliver_done(const ct_db_error_t *err, void *udata)
{
    deliver_ctx_t *ctx = udata;
    if (ctx->packed_set)
        orders_packed_dispose(&ctx->packed);
    if (!err) {
        ct_metric_inc(ct_metrics_counter("citerne_orders_delivered_total",
                                         "Deliveries confirmed by drivers"));
        ct_logc_info(ct_http_request_id(ctx->req), "order %s delivered: %d kg on %s",
                     ctx->order.order_id, ctx->order.delivered_kg, ctx->order.delivery_date);
        ct_http_reply_json(ctx->req, 200, orders_order_json(&ctx->order));
        return;
    }
    if (err->status == CT_ECONFLICT && ctx->certificate) {
        orders_reply_certificate_missing(ctx->req, ctx->detail);
        return;
    }
    if (err->status == CT_ENOTFOUND || err->status == CT_ECONFLICT) {
        ct_http_reply_error(ctx->req, err->status, ctx->detail);
        return;
    }
    orders_reply_db_error(ctx->req, err);
}

static void step_commit(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

static void on_delivered(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    deliver_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ctx->detail = "the order is no longer scheduled";
        ct_db_tx_rollback(tx, CT_ECONFLICT, ctx->detail);
        return;
    }
    orders_store_order_from_row(res, 0, &ctx->order);
    ct_outbox_append(tx, ctx->app->svc->topic, ctx->order.site_id, ctx->packed.payload,
                     ctx->packed.len, ctx->packed.meta.event_id, step_commit);
}

static void on_deliver_locked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    deliver_ctx_t *ctx = udata;
    orders_order_t *o = &ctx->order;
    if (PQntuples(res) != 1) {
        ctx->detail = "no such order";
        ct_db_tx_rollback(tx, CT_ENOTFOUND, ctx->detail);
        return;
    }
    orders_store_order_from_row(res, 0, o);
    if (strcmp(o->status, "awaiting_certificate") == 0) {
        ctx->certificate = true;
        ctx->detail = "no first delivery without a certificate of conformity: the order waits"
                      " for the site's";
        ct_db_tx_rollback(tx, CT_ECONFLICT, ctx->detail);
        return;
    }
    if (strcmp(o->status, "scheduled") != 0) {
        ctx->detail = strcmp(o->status, "delivered") == 0
                          ? "the order is already delivered"
                          : "the order is not scheduled yet (the customer has not confirmed it)";
        ct_db_tx_rollback(tx, CT_ECONFLICT, ctx->detail);
        return;
    }
    o->delivered_kg = ctx->delivered_kg;
    o->level_after_pct = ctx->level_after_pct;
    memcpy(o->delivery_date, ctx->delivered_on, sizeof o->delivery_date);
    Citerne__V1__EventMeta cause;
    orders_order_cause(o, &cause);
    if (orders_pack(ORDERS_EVENT_CONFIRMED, o, &cause, &ctx->packed) != 0) {
        ct_db_tx_rollback(tx, CT_EUNAVAIL, "out of memory");
        return;
    }
    ctx->packed_set = true;
    memcpy(o->last_event_id, ctx->packed.meta.event_id, sizeof o->last_event_id);
    orders_store_deliver(tx, o, on_delivered);
}

static void on_deliver_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    deliver_ctx_t *ctx = udata;
    orders_store_lock_order(tx, ctx->order_id, on_deliver_locked);
}

static void confirm_delivery(ct_http_req_t *req, void *udata)
{
    orders_app_t *app = udata;
    if (!ct_auth_require(req, &app->driver_key, "a valid API key is required"))
        return;
    deliver_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    memset(ctx, 0, sizeof *ctx);
    ctx->req = req;
    ctx->app = app;
    ctx->order_id = orders_path_uuid(req, "order_id");
    if (!ctx->order_id) {
        ct_http_reply_error(req, CT_ENOTFOUND, "no such order");
        return;
    }
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    ct_valid_t v;
    ct_valid_init(&v);
    ctx->delivered_kg = (int)ct_valid_int(&v, body, "delivered_kg", 1, MAX_DELIVERED_KG, true, 0);
    ctx->level_after_pct = (int)ct_valid_int(&v, body, "level_after_pct", 0, 100, true, 0);
    const char *on = ct_valid_date(&v, body, "delivered_on", false);
    int32_t today = orders_paris_day(orders_now(app));
    int32_t day = today;
    if (on) {
        if (orders_date_parse(on, &day) != 0)
            ct_valid_fail(&v, "delivered_on", "must be a date YYYY-MM-DD");
        else if (day > today + MAX_DATE_DISTANCE_DAYS || day < today - MAX_DATE_DISTANCE_DAYS)
            ct_valid_fail(&v, "delivered_on", "must be within a year of today");
    }
    if (!ct_valid_ok(&v)) {
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    ct_valid_dispose(&v);
    orders_date_format(day, ctx->delivered_on, sizeof ctx->delivered_on);
    int rc = ct_db_tx_begin(app->svc->db, on_deliver_begun, on_deliver_done, ctx);
    if (rc != 0)
        ct_http_reply_error(req, rc == CT_ECLOSED ? CT_ECLOSED : CT_EUNAVAIL, NULL);
}

int orders_api_deliveries_register(ct_http_server_t *srv, orders_app_t *app)
{
    int rc = ct_http_route(srv, "GET", "/api/v1/orders/deliveries", list_deliveries, app);
    if (rc == 0)
        rc = ct_http_route(srv, "POST", "/api/v1/orders/deliveries/{order_id}/confirm",
                           confirm_delivery, app);
    return rc;
}
