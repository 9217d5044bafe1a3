/* HTTP: orders as customers (session) and the back office (operator key)
 * see them, and the customer's confirmation of a proposed order. */
#include <stdio.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/outbox.h"
#include "citerne/session.h"
#include "citerne/validate.h"

#include "api.h"
#include "citerne/auth.h"
#include "calendar.h"
#include "delivery.h"
#include "events.h"
#include "quantity.h"
#include "store.h"

#define DEFAULT_LIST_LIMIT 50
#define MAX_LIST_LIMIT 200
/* Largest quantity anyone may type, whatever the tank (kg). */
#define MAX_QUANTITY_KG 100000

/* The caller of a read: the back office, or a session with grants. */
typedef struct {
    ct_http_req_t *req;
    orders_app_t *app;
    bool operator;
    ct_session_t session; /* copied: the lookup's is borrowed */
    const char *id;       /* order or site id, lower case */
    long limit;
    void (*next)(void *ctx); /* what to do once the caller is known */
} read_ctx_t;

static void on_read_session(int status, const ct_session_t *s, void *udata)
{
    read_ctx_t *ctx = udata;
    if (status != 0) {
        ct_http_reply_error(ctx->req, status == CT_EUNAUTH ? CT_EUNAUTH : CT_EUNAVAIL,
                            status == CT_EUNAUTH ? "sign in first" : NULL);
        return;
    }
    ctx->session = *s;
    ctx->next(ctx);
}

/* Finds out who calls: an Authorization header must carry the operator key;
 * otherwise the session cookie decides. Then ctx->next(ctx), or a reply. */
static void identify(read_ctx_t *ctx)
{
    if (ct_http_header(ctx->req, "Authorization")) {
        if (!ct_auth_require(ctx->req, &ctx->app->operator_key, "a valid API key is required"))
            return;
        ctx->operator= true;
        ctx->next(ctx);
        return;
    }
    if (!ctx->app->svc->cache) {
        ct_http_reply_error(ctx->req, CT_EUNAVAIL, "sessions are unavailable");
        return;
    }
    ct_session_lookup(ctx->app->svc->cache, ctx->req, on_read_session, ctx);
}

static bool may_see(const read_ctx_t *ctx, const char *customer_id)
{
    return ctx->operator|| ct_session_role(&ctx->session, customer_id) != CT_ROLE_NONE;
}

/* ---- GET /api/v1/orders/orders/{order_id} ---- */

static void on_order_got(const ct_db_error_t *err, PGresult *res, void *udata)
{
    read_ctx_t *ctx = udata;
    if (err) {
        orders_reply_db_error(ctx->req, err);
        return;
    }
    orders_order_t o;
    if (PQntuples(res) == 1)
        orders_store_order_from_row(res, 0, &o);
    /* another customer's order does not exist, as far as the caller knows */
    if (PQntuples(res) != 1 || !may_see(ctx, o.customer_id)) {
        ct_http_reply_error(ctx->req, CT_ENOTFOUND, "no such order");
        return;
    }
    ct_http_reply_json(ctx->req, 200, orders_order_json(&o));
}

static void fetch_order(void *udata)
{
    read_ctx_t *ctx = udata;
    int rc = orders_store_get_order(ctx->app->svc->db, ctx->id, on_order_got, ctx);
    if (rc != 0)
        ct_http_reply_error(ctx->req, rc == CT_ECLOSED ? CT_ECLOSED : CT_EUNAVAIL, NULL);
}

static void get_order(ct_http_req_t *req, void *udata)
{
    read_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    memset(ctx, 0, sizeof *ctx);
    ctx->req = req;
    ctx->app = udata;
    ctx->next = fetch_order;
    ctx->id = orders_path_uuid(req, "order_id");
    if (!ctx->id) {
        ct_http_reply_error(req, CT_ENOTFOUND, "no such order");
        return;
    }
    identify(ctx);
}

/* ---- GET /api/v1/orders/orders?site_id=X ---- */

static void on_site_orders(const ct_db_error_t *err, PGresult *res, void *udata)
{
    read_ctx_t *ctx = udata;
    if (err) {
        orders_reply_db_error(ctx->req, err);
        return;
    }
    int n = PQntuples(res);
    if (!ctx->operator&&(n == 0 || !may_see(ctx, ct_db_get(res, 0, "site_customer_id")))) {
        ct_http_reply_error(ctx->req, CT_ENOTFOUND, "no such site");
        return;
    }
    /* the back office may ask before the site reached orders: none yet */
    json_t *list = json_array();
    for (int row = 0; row < n; row++) {
        if (!ct_db_get(res, row, "order_id"))
            continue;
        orders_order_t o;
        orders_store_order_from_row(res, row, &o);
        json_array_append_new(list, orders_order_json(&o));
    }
    ct_http_reply_json(ctx->req, 200, json_pack("{s:o}", "orders", list));
}

static void fetch_site_orders(void *udata)
{
    read_ctx_t *ctx = udata;
    int rc = orders_store_list_site_orders(ctx->app->svc->db, ctx->id, (int)ctx->limit,
                                           on_site_orders, ctx);
    if (rc != 0)
        ct_http_reply_error(ctx->req, rc == CT_ECLOSED ? CT_ECLOSED : CT_EUNAVAIL, NULL);
}

static void list_orders(ct_http_req_t *req, void *udata)
{
    read_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    memset(ctx, 0, sizeof *ctx);
    ctx->req = req;
    ctx->app = udata;
    ctx->next = fetch_site_orders;
    const char *site = ct_http_query(req, "site_id");
    if (!site || !ct_uuid_valid(site) || strlen(site) != CT_UUID_STRLEN) {
        json_t *errors = json_array();
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "site_id", "message",
                                                "is required: the UUID of a site"));
        ct_http_reply_invalid(req, errors);
        return;
    }
    char *lc = ct_http_strdup(req, site);
    for (char *p = lc; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    ctx->id = lc;
    if (!orders_query_int(req, "limit", DEFAULT_LIST_LIMIT, 1, MAX_LIST_LIMIT, &ctx->limit))
        return;
    identify(ctx);
}

/* ---- POST /api/v1/orders/orders/{order_id}/confirm ---- */

typedef struct {
    ct_http_req_t *req;
    orders_app_t *app;
    ct_session_t session;
    const char *order_id;
    int quantity_kg; /* 0: keep the proposed quantity */
    const char *speed;
    orders_order_t order;
    orders_packed_t packed;
    bool packed_set;
    bool must_wait;   /* the site may not have its first delivery yet */
    bool certificate; /* refused: the order already waits for the certificate */
    json_t *errors;   /* field errors found in the transaction */
    const char *detail;
} confirm_ctx_t;

static void on_confirm_done(const ct_db_error_t *err, void *udata)
{
    confirm_ctx_t *ctx = udata;
    if (ctx->packed_set)
        orders_packed_dispose(&ctx->packed);
    if (!err) {
        ct_metric_inc(ct_metrics_counter("citerne_orders_confirmed_total",
                                         "Proposed orders confirmed by customers"));
        if (ctx->must_wait)
            orders_count_held();
        ct_logc_info(ct_http_request_id(ctx->req), "order %s confirmed by user %s: %d kg, %s, %s",
                     ctx->order.order_id, ctx->session.user_id, ctx->order.quantity_kg,
                     ctx->order.speed,
                     ctx->must_wait ? "held until the site's certificate of conformity"
                                    : ctx->order.delivery_date);
        ct_http_reply_json(ctx->req, 200, orders_order_json(&ctx->order));
        return;
    }
    if (err->status == CT_EINPUT && ctx->errors) {
        ct_http_reply_invalid(ctx->req, ctx->errors);
        ctx->errors = NULL;
        return;
    }
    json_decref(ctx->errors);
    ctx->errors = NULL;
    if (err->status == CT_ECONFLICT && ctx->certificate) {
        orders_reply_certificate_missing(ctx->req, ctx->detail);
        return;
    }
    if (err->status == CT_ENOTFOUND || err->status == CT_EFORBIDDEN ||
        err->status == CT_ECONFLICT) {
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

static void on_scheduled(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    confirm_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ctx->detail = "the order is no longer proposed";
        ct_db_tx_rollback(tx, CT_ECONFLICT, ctx->detail);
        return;
    }
    orders_store_order_from_row(res, 0, &ctx->order);
    /* DeliveryScheduled, or OrderHeld (DeliveryScheduled comes with the
     * certificate, events.c) */
    ct_outbox_append(tx, ctx->app->svc->topic, ctx->order.site_id, ctx->packed.payload,
                     ctx->packed.len, ctx->packed.meta.event_id, step_commit);
}

static void on_order_locked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    confirm_ctx_t *ctx = udata;
    orders_order_t *o = &ctx->order;
    if (PQntuples(res) != 1) {
        ctx->detail = "no such order";
        ct_db_tx_rollback(tx, CT_ENOTFOUND, ctx->detail);
        return;
    }
    orders_store_order_from_row(res, 0, o);
    ct_role_t role = ct_session_role(&ctx->session, o->customer_id);
    if (role == CT_ROLE_NONE) {
        ctx->detail = "no such order";
        ct_db_tx_rollback(tx, CT_ENOTFOUND, ctx->detail);
        return;
    }
    if (role != CT_ROLE_ORDERER && role != CT_ROLE_ADMIN) {
        ctx->detail = "ordering needs the orderer or admin role";
        ct_db_tx_rollback(tx, CT_EFORBIDDEN, ctx->detail);
        return;
    }
    if (strcmp(o->status, "awaiting_certificate") == 0) {
        ctx->certificate = true;
        ctx->detail = "the order is confirmed and will be scheduled when the site's certificate"
                      " of conformity is received";
        ct_db_tx_rollback(tx, CT_ECONFLICT, ctx->detail);
        return;
    }
    if (strcmp(o->status, "proposed") != 0) {
        ctx->detail = strcmp(o->status, "scheduled") == 0 ? "the order is already scheduled"
                                                          : "the order is already delivered";
        ct_db_tx_rollback(tx, CT_ECONFLICT, ctx->detail);
        return;
    }
    int capacity = (int)ct_db_get_int(res, 0, "capacity_kg", 0);
    int quantity = ctx->quantity_kg ? ctx->quantity_kg : o->quantity_kg;
    if (quantity > capacity) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be at most the tank's capacity, %d kg", capacity);
        ctx->errors = json_array();
        json_array_append_new(ctx->errors,
                              json_pack("{s:s, s:s}", "field", "quantity_kg", "message", msg));
        ct_db_tx_rollback(tx, CT_EINPUT, "quantity above capacity");
        return;
    }
    const char *segment = ct_db_get(res, 0, "segment");
    if (strcmp(ctx->speed, "express_24h") == 0 && segment && strcmp(segment, "household") == 0) {
        ctx->errors = json_array();
        json_array_append_new(ctx->errors, json_pack("{s:s, s:s}", "field", "speed", "message",
                                                     "express_24h is not offered to households"));
        ct_db_tx_rollback(tx, CT_EINPUT, "express 24 h for a household");
        return;
    }
    o->quantity_kg = quantity;
    snprintf(o->speed, sizeof o->speed, "%s", ctx->speed);
    /* kept on the order, so that a held order's later DeliveryScheduled
     * names its orderer too */
    snprintf(o->confirmed_by, sizeof o->confirmed_by, "%s", ctx->session.user_id);
    if (ctx->must_wait) {
        /* accepted as chosen, scheduled from the day the certificate comes;
         * OrderHeld tells the customer what is missing */
        snprintf(o->status, sizeof o->status, "awaiting_certificate");
        o->delivery_date[0] = '\0';
    } else {
        snprintf(o->status, sizeof o->status, "scheduled");
        int32_t today = orders_paris_day(orders_now(ctx->app));
        orders_date_format(orders_delivery_day(today, ctx->speed), o->delivery_date,
                           sizeof o->delivery_date);
    }
    Citerne__V1__EventMeta cause;
    orders_order_cause(o, &cause);
    if (orders_pack(ctx->must_wait ? ORDERS_EVENT_HELD : ORDERS_EVENT_SCHEDULED, o, &cause,
                    &ctx->packed) != 0) {
        ct_db_tx_rollback(tx, CT_EUNAVAIL, "out of memory");
        return;
    }
    ctx->packed_set = true;
    memcpy(o->last_event_id, ctx->packed.meta.event_id, sizeof o->last_event_id);
    orders_store_schedule(tx, o, "proposed", on_scheduled);
}

static void on_site_of_order_locked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    confirm_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ctx->detail = "no such order";
        ct_db_tx_rollback(tx, CT_ENOTFOUND, ctx->detail);
        return;
    }
    ctx->must_wait = orders_must_wait_certificate(orders_store_bool(res, 0, "certificate_received"),
                                                  orders_store_bool(res, 0, "delivered_before"));
    orders_store_lock_order(tx, ctx->order_id, on_order_locked);
}

static void on_confirm_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    confirm_ctx_t *ctx = udata;
    /* the site first, then the order: the order in which SiteUpdated locks */
    orders_store_lock_site_of_order(tx, ctx->order_id, on_site_of_order_locked);
}

static void on_confirm_session(int status, const ct_session_t *s, void *udata)
{
    confirm_ctx_t *ctx = udata;
    if (status != 0) {
        ct_http_reply_error(ctx->req, status == CT_EUNAUTH ? CT_EUNAUTH : CT_EUNAVAIL,
                            status == CT_EUNAUTH ? "sign in, and send the X-CSRF-Token header"
                                                 : NULL);
        return;
    }
    ctx->session = *s;
    if (!ctx->order_id) {
        ct_http_reply_error(ctx->req, CT_ENOTFOUND, "no such order");
        return;
    }
    /* every field is optional: no body at all means the proposal as is */
    size_t len = 0;
    ct_http_body(ctx->req, &len);
    json_t *empty = len == 0 ? json_object() : NULL;
    json_t *body = empty ? empty : ct_http_json_object(ctx->req);
    if (!body)
        return;
    ct_valid_t v;
    ct_valid_init(&v);
    ctx->quantity_kg = (int)ct_valid_int(&v, body, "quantity_kg", ORDERS_MIN_QUANTITY_KG,
                                         MAX_QUANTITY_KG, false, 0);
    ctx->speed = ct_valid_enum(&v, body, "speed", orders_speeds, false, "standard");
    json_decref(empty); /* speed is then the static default */
    if (!ct_valid_ok(&v)) {
        ct_http_reply_invalid(ctx->req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    ct_valid_dispose(&v);
    int rc = ct_db_tx_begin(ctx->app->svc->db, on_confirm_begun, on_confirm_done, ctx);
    if (rc != 0)
        ct_http_reply_error(ctx->req, rc == CT_ECLOSED ? CT_ECLOSED : CT_EUNAVAIL, NULL);
}

static void confirm_order(ct_http_req_t *req, void *udata)
{
    confirm_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    memset(ctx, 0, sizeof *ctx);
    ctx->req = req;
    ctx->app = udata;
    if (!ctx->app->svc->cache) {
        ct_http_reply_error(req, CT_EUNAVAIL, "sessions are unavailable");
        return;
    }
    ctx->order_id = orders_path_uuid(req, "order_id");
    /* the session first: an anonymous caller learns nothing, not even 404 */
    ct_session_lookup(ctx->app->svc->cache, req, on_confirm_session, ctx);
}

int orders_api_orders_register(ct_http_server_t *srv, orders_app_t *app)
{
    int rc = ct_http_route(srv, "GET", "/api/v1/orders/orders", list_orders, app);
    if (rc == 0)
        rc = ct_http_route(srv, "GET", "/api/v1/orders/orders/{order_id}", get_order, app);
    if (rc == 0)
        rc = ct_http_route(srv, "POST", "/api/v1/orders/orders/{order_id}/confirm", confirm_order,
                           app);
    return rc;
}
