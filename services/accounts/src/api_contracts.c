/* POST /api/v1/accounts/contracts (back office: operator key). */
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "citerne/validate.h"
#include "events.h"
#include "rules.h"
#include "store.h"

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    accounts_contract_t c;
    accounts_event_t event;
} create_ctx_t;

static const char *const delivery_modes[] = {"automatic", "on_demand", NULL};
static const char *const plans[] = {"none", "preference", "privilege", "pacte_maintenance", NULL};

static bool parse_contract(ct_valid_t *v, json_t *body, accounts_contract_t *c)
{
    const char *customer_id = ct_valid_uuid(v, body, "customer_id", true);
    if (customer_id)
        accounts_uuid_lower(c->customer_id, customer_id);
    c->delivery_mode = ct_valid_enum(v, body, "delivery_mode", delivery_modes, true, NULL);
    c->price_per_tonne_cents = ct_valid_int(v, body, "price_per_tonne_cents", 1, 10000000, true, 0);
    c->maintenance_plan = ct_valid_enum(v, body, "maintenance_plan", plans, false, "none");
    return ct_valid_ok(v);
}

static void on_appended(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

static void on_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    create_ctx_t *ctx = udata;
    if (accounts_event_contract_created(&ctx->c, &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, ctx->c.customer_id, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, on_appended);
}

static void on_customer(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    create_ctx_t *ctx = udata;
    if (PQntuples(res) == 0) {
        ct_db_tx_rollback(tx, CT_ENOTFOUND, "unknown customer");
        return;
    }
    if (!accounts_plan_allowed(ct_db_get(res, 0, "segment"), ctx->c.maintenance_plan)) {
        ct_db_tx_rollback(tx, CT_EINPUT, "plan not for this segment");
        return;
    }
    accounts_store_contract_insert(tx, &ctx->c, on_inserted);
}

static void on_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    create_ctx_t *ctx = udata;
    accounts_store_customer_lock(tx, ctx->c.customer_id, on_customer);
}

static void on_done(const ct_db_error_t *err, void *udata)
{
    create_ctx_t *ctx = udata;
    accounts_event_dispose(&ctx->event);
    if (err && err->status == CT_ENOTFOUND) {
        ct_http_reply_problem(ctx->req, 404, "not-found", "No such customer",
                              "customer_id does not name a customer");
        return;
    }
    if (err && err->status == CT_EINPUT) {
        json_t *errors = json_pack("[{s:s, s:s}]", "field", "maintenance_plan", "message",
                                   "preference and privilege are for households,"
                                   " pacte_maintenance for businesses");
        ct_http_reply_invalid(ctx->req, errors);
        return;
    }
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "contract %s created", ctx->c.id);
    json_t *out = json_pack("{s:s, s:s, s:s, s:I, s:s}", "id", ctx->c.id, "customer_id",
                            ctx->c.customer_id, "delivery_mode", ctx->c.delivery_mode,
                            "price_per_tonne_cents", (json_int_t)ctx->c.price_per_tonne_cents,
                            "maintenance_plan", ctx->c.maintenance_plan);
    ct_http_reply_json(ctx->req, 201, out);
}

void accounts_api_contract_create(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    if (!accounts_require_operator(a, req))
        return;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    create_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    memset(ctx, 0, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;

    ct_valid_t v;
    ct_valid_init(&v);
    if (!parse_contract(&v, body, &ctx->c)) {
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    ct_valid_dispose(&v);
    ct_uuid_v7(ctx->c.id);
    int rc = ct_db_tx_begin(a->svc->db, on_begun, on_done, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}
