/* POST /api/v1/accounts/customers, GET and PATCH
 * /api/v1/accounts/customers/{id} (back office: operator key). */
#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "citerne/validate.h"
#include "events.h"
#include "patch.h"
#include "rules.h"
#include "store.h"

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    accounts_customer_t c;
    accounts_event_t event;
} create_ctx_t;

static const char *const segments[] = {"household", "business", NULL};

/* Checks every field and fills c; returns false with the errors in v. */
static bool parse_customer(ct_valid_t *v, json_t *body, accounts_customer_t *c)
{
    c->customer_number = ct_valid_str(v, body, "customer_number", 1, 64, true);
    if (c->customer_number && !accounts_customer_number_valid(c->customer_number))
        ct_valid_fail(v, "customer_number", "expected \"C\" followed by 6 to 10 digits");
    c->name = ct_valid_str(v, body, "name", 1, 800, true);
    if (c->name && !accounts_text_ok(c->name, 1, 200))
        ct_valid_fail(v, "name", "expected 1 to 200 characters, not only spaces");
    c->segment = ct_valid_enum(v, body, "segment", segments, true, NULL);
    json_t *vat = json_object_get(body, "vat_rate_bp");
    c->vat_rate_bp = (int)ct_valid_int(v, body, "vat_rate_bp", 550, 2000, false, 2000);
    /* within the range (else ct_valid_int said so) but not one of the rates */
    if (json_is_integer(vat) && json_integer_value(vat) >= 550 && json_integer_value(vat) <= 2000 &&
        !accounts_vat_rate_valid(json_integer_value(vat)))
        ct_valid_fail(v, "vat_rate_bp", "expected 550, 1000 or 2000 (basis points)");

    json_t *siret = json_object_get(body, "siret");
    bool has_siret = siret && !json_is_null(siret);
    c->siret = NULL;
    if (has_siret) {
        c->siret = ct_valid_str(v, body, "siret", 1, 64, true);
        if (c->siret && !accounts_siret_valid(c->siret))
            ct_valid_fail(v, "siret", "expected 14 digits");
    }
    if (c->segment && strcmp(c->segment, "business") == 0 && !has_siret)
        ct_valid_fail(v, "siret", "required for a business customer");
    if (c->segment && strcmp(c->segment, "household") == 0 && has_siret)
        ct_valid_fail(v, "siret", "not allowed for a household customer");
    json_t *phone = json_object_get(body, "phone");
    c->phone = NULL;
    if (phone && !json_is_null(phone)) {
        c->phone = ct_valid_str(v, body, "phone", 1, 64, true);
        if (c->phone && !accounts_phone_valid(c->phone))
            ct_valid_fail(v, "phone", "expected E.164: \"+\" and 8 to 15 digits");
    }
    return ct_valid_ok(v);
}

/* The answer of POST and PATCH: the customer as it now is. */
static json_t *customer_json(const accounts_customer_t *c, int version)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s?, s:s?, s:i}", "id", c->id, "customer_number",
                     c->customer_number, "name", c->name, "segment", c->segment, "vat_rate_bp",
                     c->vat_rate_bp, "siret", c->siret, "phone", c->phone, "version", version);
}

static void on_appended(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

static void on_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    create_ctx_t *ctx = udata;
    if (PQntuples(res) == 0) {
        ct_db_tx_rollback(tx, CT_ECONFLICT, "customer number taken");
        return;
    }
    if (accounts_event_customer_created(&ctx->c, &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, ctx->c.id, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, on_appended);
}

static void on_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    create_ctx_t *ctx = udata;
    accounts_store_customer_insert(tx, &ctx->c, on_inserted);
}

static void on_done(const ct_db_error_t *err, void *udata)
{
    create_ctx_t *ctx = udata;
    accounts_event_dispose(&ctx->event);
    if (err && err->status == CT_ECONFLICT) {
        ct_http_reply_problem(ctx->req, 409, "customer-number-taken",
                              "Customer number already taken",
                              "another customer has this customer number");
        return;
    }
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "customer %s created", ctx->c.id);
    ct_http_reply_json(ctx->req, 201, customer_json(&ctx->c, 1));
}

void accounts_api_customer_create(ct_http_req_t *req, void *udata)
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
    if (!parse_customer(&v, body, &ctx->c)) {
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

/* ---- GET /api/v1/accounts/customers/{id} ---- */

static void on_customer(const ct_db_error_t *err, PGresult *res, void *udata)
{
    ct_http_req_t *req = udata;
    if (err) {
        accounts_reply_db_error(req, err);
        return;
    }
    const char *doc = PQntuples(res) == 1 ? ct_db_get(res, 0, "doc") : NULL;
    if (!doc) {
        ct_http_reply_problem(req, 404, "not-found", "No such customer", NULL);
        return;
    }
    json_error_t jerr;
    json_t *out = json_loads(doc, 0, &jerr);
    if (!out) {
        ct_logc_error(ct_http_request_id(req), "customer document does not parse: %s", jerr.text);
        ct_http_reply_error(req, CT_EINTERNAL, NULL);
        return;
    }
    ct_http_reply_json(req, 200, out);
}

void accounts_api_customer_get(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    if (!accounts_require_operator(a, req))
        return;
    const char *id = ct_http_param(req, "id");
    if (!id || !ct_uuid_valid(id)) {
        ct_http_reply_problem(req, 404, "not-found", "No such customer", NULL);
        return;
    }
    int rc = accounts_store_customer_get(a->svc->db, id, on_customer, req);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}

/* ---- PATCH /api/v1/accounts/customers/{id} ---- */

static void on_customer_updated(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    accounts_patch_t *p = udata;
    accounts_customer_t *c = p->state;
    p->version = (int)ct_db_get_int(res, 0, "version", 0);
    p->out = customer_json(c, p->version);
    int rc = accounts_event_customer_updated(c, p->version, accounts_patch_next_event(p));
    accounts_patch_emit(p, tx, c->id, rc, accounts_step_commit);
}

/* A new segment must suit every contract's maintenance plan: the plan is
 * changed first (PATCH /contracts/{id}), then the segment. */
static void on_plans(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    accounts_patch_t *p = udata;
    accounts_customer_t *c = p->state;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *plan = ct_db_get(res, i, "maintenance_plan");
        if (!accounts_plan_allowed(c->segment, plan)) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "contract %s has the plan %s, which a %s customer cannot take:"
                     " change the plan first",
                     ct_db_get(res, i, "id"), plan, c->segment);
            ct_valid_fail(&p->v, "segment", msg);
        }
    }
    if (!ct_valid_ok(&p->v)) {
        accounts_patch_invalid(p, tx);
        return;
    }
    accounts_store_customer_update(tx, c, on_customer_updated);
}

static void apply_customer(accounts_patch_t *p, ct_db_tx_t *tx, PGresult *res)
{
    (void)res;
    accounts_customer_t *c = p->state;
    if (!parse_customer(&p->v, p->merged, c)) {
        accounts_patch_invalid(p, tx);
        return;
    }
    snprintf(c->id, sizeof c->id, "%s", p->id);
    const char *was = json_string_value(json_object_get(p->stored, "segment"));
    if (!was || strcmp(was, c->segment) != 0)
        accounts_store_customer_plans(tx, c->id, on_plans);
    else
        accounts_store_customer_update(tx, c, on_customer_updated);
}

void accounts_api_customer_update(ct_http_req_t *req, void *udata)
{
    static const char *const fields[] = {"name", "segment", "vat_rate_bp", "siret", "phone", NULL};
    static const char *const nullable[] = {"siret", "phone", NULL};
    static const char *const fixed[] = {"id", "customer_number", NULL};
    static const accounts_patch_kind_t kind = {
        .what = "customer",
        .fields = fields,
        .nullable = nullable,
        .fixed = fixed,
        .lock = accounts_store_customer_patch_lock,
        .apply = apply_customer,
    };
    accounts_patch_run(req, udata, &kind, sizeof(accounts_customer_t));
}
