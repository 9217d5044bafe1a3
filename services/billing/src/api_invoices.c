/* GET /api/v1/billing/invoices/{invoice_id} and GET /api/v1/billing/invoices:
 * thin handlers: authorise (operator key or session grant), read, reply.
 * A caller without a grant on the invoice's customer gets 404, as if the
 * invoice did not exist. */
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/session.h"
#include "store.h"

typedef struct req_ctx req_ctx_t;
typedef void (*authorised_fn)(req_ctx_t *ctx);

struct req_ctx {
    billing_app_t *app;
    ct_http_req_t *req;
    bool operator;
    ct_session_t session; /* when !operator */
    const char *invoice_id;
    const char *customer_id;
    const char *order_id;
    authorised_fn then;
};

static void on_session(int status, const ct_session_t *s, void *udata)
{
    req_ctx_t *ctx = udata;
    if (status != 0) {
        ct_http_reply_error(ctx->req, status, NULL);
        return;
    }
    ctx->session = *s;
    ctx->then(ctx);
}

/* The operator key in "Authorization: Bearer <key>", else the session. A
 * wrong key is refused outright (no fallback to the cookie). */
static void authorise(req_ctx_t *ctx, authorised_fn then)
{
    ctx->then = then;
    if (ct_http_header(ctx->req, "Authorization")) {
        if (!ct_auth_require(ctx->req, &ctx->app->operator_key, "invalid credentials"))
            return;
        ctx->operator= true;
        then(ctx);
        return;
    }
    if (!ctx->app->svc->cache) {
        ct_http_reply_error(ctx->req, CT_EUNAVAIL, NULL);
        return;
    }
    ct_session_lookup(ctx->app->svc->cache, ctx->req, on_session, ctx);
}

static bool may_see(const req_ctx_t *ctx, const char *customer_id)
{
    return ctx->operator||(customer_id &&
                           ct_session_role(&ctx->session, customer_id) != CT_ROLE_NONE);
}

static void reply_not_found(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 404, "not-found", "No such invoice", NULL);
}

static void reply_db_error(req_ctx_t *ctx, const ct_db_error_t *err)
{
    ct_log_error("billing read failed: %s", err->message ? err->message : "");
    ct_http_reply_error(ctx->req, err->status == CT_EDB ? CT_EDB : CT_EUNAVAIL, NULL);
}

/* ---- one invoice ---- */

static void on_invoice(const ct_db_error_t *err, PGresult *res, void *udata)
{
    req_ctx_t *ctx = udata;
    if (err) {
        reply_db_error(ctx, err);
        return;
    }
    if (PQntuples(res) != 1 || !may_see(ctx, ct_db_get(res, 0, "customer_id"))) {
        reply_not_found(ctx->req);
        return;
    }
    json_t *doc = json_loads(ct_db_get(res, 0, "doc"), 0, NULL);
    if (!doc) {
        ct_http_reply_error(ctx->req, CT_EINTERNAL, NULL);
        return;
    }
    ct_http_reply_json(ctx->req, 200, doc);
}

static void fetch_invoice(req_ctx_t *ctx)
{
    int rc = billing_store_get_invoice(ctx->app->svc->db, ctx->invoice_id, on_invoice, ctx);
    if (rc != 0)
        ct_http_reply_error(ctx->req, rc, NULL);
}

static void get_invoice(ct_http_req_t *req, void *udata)
{
    req_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    memset(ctx, 0, sizeof *ctx);
    ctx->app = udata;
    ctx->req = req;
    ctx->invoice_id = ct_http_param(req, "invoice_id");
    if (!ctx->invoice_id || !ct_uuid_valid(ctx->invoice_id)) {
        reply_not_found(req);
        return;
    }
    authorise(ctx, fetch_invoice);
}

/* ---- a list ---- */

static void on_invoices(const ct_db_error_t *err, PGresult *res, void *udata)
{
    req_ctx_t *ctx = udata;
    if (err) {
        reply_db_error(ctx, err);
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        /* a session sees only its customers' invoices (order_id filter) */
        if (!may_see(ctx, ct_db_get(res, i, "customer_id")))
            continue;
        json_t *doc = json_loads(ct_db_get(res, i, "doc"), 0, NULL);
        if (doc)
            json_array_append_new(list, doc);
    }
    ct_http_reply_json(ctx->req, 200, json_pack("{s:o}", "invoices", list));
}

static void fetch_invoices(req_ctx_t *ctx)
{
    /* the query is checked once the caller is known: anonymous callers learn
     * nothing of the API but 401 */
    json_t *errors = json_array();
    if (ctx->customer_id && !ct_uuid_valid(ctx->customer_id))
        json_array_append_new(
            errors, json_pack("{s:s, s:s}", "field", "customer_id", "message", "must be a UUID"));
    if (ctx->order_id && !ct_uuid_valid(ctx->order_id))
        json_array_append_new(
            errors, json_pack("{s:s, s:s}", "field", "order_id", "message", "must be a UUID"));
    if (!ctx->customer_id && !ctx->order_id)
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "customer_id", "message",
                                                "customer_id or order_id is required"));
    if (json_array_size(errors) > 0) {
        ct_http_reply_invalid(ctx->req, errors);
        return;
    }
    json_decref(errors);
    if (ctx->customer_id && !may_see(ctx, ctx->customer_id)) {
        ct_http_reply_problem(ctx->req, 404, "not-found", "No such customer", NULL);
        return;
    }
    int rc = billing_store_list_invoices(ctx->app->svc->db, ctx->customer_id, ctx->order_id,
                                         on_invoices, ctx);
    if (rc != 0)
        ct_http_reply_error(ctx->req, rc, NULL);
}

static void list_invoices(ct_http_req_t *req, void *udata)
{
    req_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    memset(ctx, 0, sizeof *ctx);
    ctx->app = udata;
    ctx->req = req;
    ctx->customer_id = ct_http_query(req, "customer_id");
    ctx->order_id = ct_http_query(req, "order_id");
    authorise(ctx, fetch_invoices);
}

int billing_api_register(ct_http_server_t *srv, billing_app_t *app)
{
    int rc = ct_http_route(srv, "GET", "/api/v1/billing/invoices/{invoice_id}", get_invoice, app);
    if (rc == 0)
        rc = ct_http_route(srv, "GET", "/api/v1/billing/invoices", list_invoices, app);
    return rc;
}
