/* POST /api/v1/accounts/sites and PATCH /api/v1/accounts/sites/{id} (back
 * office: operator key). */
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
    accounts_site_t s;
    accounts_event_t event;
} create_ctx_t;

/* The answer of POST and PATCH: the site as it now is. */
static json_t *site_json(const accounts_site_t *s, int version)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:b, s:s, s:i}", "id", s->id, "customer_id",
                     s->customer_id, "contract_id", s->contract_id, "capacity_kg", s->capacity_kg,
                     "threshold_pct", s->threshold_pct, "address", s->address,
                     "certificate_received", (int)s->certificate_received, "delivery_mode",
                     s->delivery_mode, "version", version);
}

static bool parse_site(ct_valid_t *v, json_t *body, accounts_site_t *s)
{
    const char *contract_id = ct_valid_uuid(v, body, "contract_id", true);
    if (contract_id)
        accounts_uuid_lower(s->contract_id, contract_id);
    s->capacity_kg = (int)ct_valid_int(v, body, "capacity_kg", 100, 100000, true, 0);
    s->threshold_pct = (int)ct_valid_int(v, body, "threshold_pct", 5, 80, false, 30);
    s->address = ct_valid_str(v, body, "address", 1, 1200, true);
    if (s->address && !accounts_text_ok(s->address, 1, 300))
        ct_valid_fail(v, "address", "expected 1 to 300 characters, not only spaces");
    s->certificate_received = ct_valid_bool(v, body, "certificate_received", false, true);
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
    if (accounts_event_site_created(&ctx->s, &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, ctx->s.customer_id, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, on_appended);
}

static void on_contract(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    create_ctx_t *ctx = udata;
    const char *customer_id = PQntuples(res) == 1 ? ct_db_get(res, 0, "customer_id") : NULL;
    const char *mode = PQntuples(res) == 1 ? ct_db_get(res, 0, "delivery_mode") : NULL;
    if (!customer_id || !mode) {
        ct_db_tx_rollback(tx, CT_ENOTFOUND, "unknown contract");
        return;
    }
    snprintf(ctx->s.customer_id, sizeof ctx->s.customer_id, "%s", customer_id);
    snprintf(ctx->s.delivery_mode, sizeof ctx->s.delivery_mode, "%s", mode);
    accounts_store_site_insert(tx, &ctx->s, on_inserted);
}

static void on_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    create_ctx_t *ctx = udata;
    accounts_store_contract_lock(tx, ctx->s.contract_id, on_contract);
}

static void on_done(const ct_db_error_t *err, void *udata)
{
    create_ctx_t *ctx = udata;
    accounts_event_dispose(&ctx->event);
    if (err && err->status == CT_ENOTFOUND) {
        ct_http_reply_problem(ctx->req, 404, "not-found", "No such contract",
                              "contract_id does not name a contract");
        return;
    }
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "site %s created", ctx->s.id);
    ct_http_reply_json(ctx->req, 201, site_json(&ctx->s, 1));
}

void accounts_api_site_create(ct_http_req_t *req, void *udata)
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
    if (!parse_site(&v, body, &ctx->s)) {
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    ct_valid_dispose(&v);
    ct_uuid_v7(ctx->s.id);
    int rc = ct_db_tx_begin(a->svc->db, on_begun, on_done, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}

/* ---- PATCH /api/v1/accounts/sites/{id} ---- */

static void on_site_updated(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    accounts_patch_t *p = udata;
    accounts_site_t *s = p->state;
    const char *customer_id = PQntuples(res) == 1 ? ct_db_get(res, 0, "customer_id") : NULL;
    const char *mode = PQntuples(res) == 1 ? ct_db_get(res, 0, "delivery_mode") : NULL;
    if (!customer_id || !mode) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "site row vanished under its lock");
        return;
    }
    snprintf(s->customer_id, sizeof s->customer_id, "%s", customer_id);
    snprintf(s->delivery_mode, sizeof s->delivery_mode, "%s", mode);
    p->version = (int)ct_db_get_int(res, 0, "version", 0);
    p->out = site_json(s, p->version);
    int rc = accounts_event_site_updated(s, p->version, accounts_patch_next_event(p));
    accounts_patch_emit(p, tx, s->customer_id, rc, accounts_step_commit);
}

static void apply_site(accounts_patch_t *p, ct_db_tx_t *tx, PGresult *res)
{
    (void)res;
    accounts_site_t *s = p->state;
    if (!parse_site(&p->v, p->merged, s)) {
        accounts_patch_invalid(p, tx);
        return;
    }
    snprintf(s->id, sizeof s->id, "%s", p->id);
    accounts_store_site_update(tx, s, on_site_updated);
}

void accounts_api_site_update(ct_http_req_t *req, void *udata)
{
    static const char *const fields[] = {"capacity_kg", "threshold_pct", "address",
                                         "certificate_received", NULL};
    static const char *const nullable[] = {NULL};
    static const char *const fixed[] = {"id", "contract_id", "customer_id", NULL};
    static const accounts_patch_kind_t kind = {
        .what = "site",
        .fields = fields,
        .nullable = nullable,
        .fixed = fixed,
        .lock = accounts_store_site_patch_lock,
        .apply = apply_site,
    };
    accounts_patch_run(req, udata, &kind, sizeof(accounts_site_t));
}
