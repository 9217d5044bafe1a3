/* POST /api/v1/accounts/contracts and PATCH /api/v1/accounts/contracts/{id}
 * (back office: operator key). */
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
    accounts_contract_t c;
    accounts_event_t event;
} create_ctx_t;

static const char *const delivery_modes[] = {"automatic", "on_demand", NULL};
static const char *const plans[] = {"none", "preference", "privilege", "pacte_maintenance", NULL};

static const char plan_message[] =
    "preference and privilege are for households, pacte_maintenance for businesses";

/* The answer of POST and PATCH: the contract as it now is. */
static json_t *contract_json(const accounts_contract_t *c, int version)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:i}", "id", c->id, "customer_id", c->customer_id,
                     "delivery_mode", c->delivery_mode, "price_per_tonne_cents",
                     (json_int_t)c->price_per_tonne_cents, "maintenance_plan", c->maintenance_plan,
                     "version", version);
}

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
        json_t *errors =
            json_pack("[{s:s, s:s}]", "field", "maintenance_plan", "message", plan_message);
        ct_http_reply_invalid(ctx->req, errors);
        return;
    }
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "contract %s created", ctx->c.id);
    ct_http_reply_json(ctx->req, 201, contract_json(&ctx->c, 1));
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

/* ---- PATCH /api/v1/accounts/contracts/{id} ---- */

/* One of the contract's sites, copied from the statement that bumped it. */
typedef struct {
    accounts_site_t s;
    int version;
} bumped_site_t;

typedef struct {
    accounts_contract_t c;
    bumped_site_t *sites;
    int nsites, next; /* the next site to publish */
} contract_patch_t;

/* SiteUpdated for each site of the contract, one at a time, then commit. */
static void emit_next_site(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    accounts_patch_t *p = udata;
    contract_patch_t *st = p->state;
    if (st->next == st->nsites) {
        ct_db_tx_commit(tx);
        return;
    }
    bumped_site_t *b = &st->sites[st->next++];
    int rc = accounts_event_site_updated(&b->s, b->version, accounts_patch_next_event(p));
    accounts_patch_emit(p, tx, b->s.customer_id, rc, emit_next_site);
}

static void on_sites_bumped(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    accounts_patch_t *p = udata;
    contract_patch_t *st = p->state;
    st->nsites = PQntuples(res);
    st->sites = ct_http_alloc(p->req, sizeof *st->sites * (size_t)(st->nsites ? st->nsites : 1));
    for (int i = 0; i < st->nsites; i++) {
        accounts_site_t *s = &st->sites[i].s;
        memset(s, 0, sizeof *s);
        snprintf(s->id, sizeof s->id, "%s", ct_db_get(res, i, "id"));
        snprintf(s->contract_id, sizeof s->contract_id, "%s", st->c.id);
        snprintf(s->customer_id, sizeof s->customer_id, "%s", ct_db_get(res, i, "customer_id"));
        snprintf(s->delivery_mode, sizeof s->delivery_mode, "%s", st->c.delivery_mode);
        s->capacity_kg = (int)ct_db_get_int(res, i, "capacity_kg", 0);
        s->threshold_pct = (int)ct_db_get_int(res, i, "threshold_pct", 0);
        s->address = ct_http_strdup(p->req, ct_db_get(res, i, "address"));
        s->certificate_received = strcmp(ct_db_get(res, i, "certificate_received"), "t") == 0;
        st->sites[i].version = (int)ct_db_get_int(res, i, "version", 0);
    }
    emit_next_site(tx, NULL, p);
}

/* Sites carry their contract's delivery mode: a new mode is published for
 * each of them too, as a new version of the site. */
static void after_contract_event(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    accounts_patch_t *p = udata;
    contract_patch_t *st = p->state;
    const char *was = json_string_value(json_object_get(p->stored, "delivery_mode"));
    if (was && strcmp(was, st->c.delivery_mode) == 0)
        ct_db_tx_commit(tx);
    else
        accounts_store_contract_sites_bump(tx, st->c.id, on_sites_bumped);
}

static void on_contract_updated(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    accounts_patch_t *p = udata;
    contract_patch_t *st = p->state;
    p->version = (int)ct_db_get_int(res, 0, "version", 0);
    p->out = contract_json(&st->c, p->version);
    int rc = accounts_event_contract_updated(&st->c, p->version, accounts_patch_next_event(p));
    accounts_patch_emit(p, tx, st->c.customer_id, rc, after_contract_event);
}

static void apply_contract(accounts_patch_t *p, ct_db_tx_t *tx, PGresult *res)
{
    contract_patch_t *st = p->state;
    if (parse_contract(&p->v, p->merged, &st->c) &&
        !accounts_plan_allowed(ct_db_get(res, 0, "segment"), st->c.maintenance_plan))
        ct_valid_fail(&p->v, "maintenance_plan", plan_message);
    if (!ct_valid_ok(&p->v)) {
        accounts_patch_invalid(p, tx);
        return;
    }
    snprintf(st->c.id, sizeof st->c.id, "%s", p->id);
    accounts_store_contract_update(tx, &st->c, on_contract_updated);
}

void accounts_api_contract_update(ct_http_req_t *req, void *udata)
{
    static const char *const fields[] = {"delivery_mode", "price_per_tonne_cents",
                                         "maintenance_plan", NULL};
    static const char *const nullable[] = {NULL};
    static const char *const fixed[] = {"id", "customer_id", NULL};
    static const accounts_patch_kind_t kind = {
        .what = "contract",
        .fields = fields,
        .nullable = nullable,
        .fixed = fixed,
        .lock = accounts_store_contract_patch_lock,
        .apply = apply_contract,
    };
    accounts_patch_run(req, udata, &kind, sizeof(contract_patch_t));
}
