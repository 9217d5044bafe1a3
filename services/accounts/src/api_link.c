/* POST /api/v1/accounts/me/customers {customer_number, invoice_number}: a
 * signed-in user links another customer (contract) to their account, proving
 * it with its number and one of its invoice numbers. The caller's session is
 * then replaced by one that holds the new grant (new token, new CSRF). */
#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "citerne/validate.h"
#include "events.h"
#include "rules.h"
#include "sessions.h"
#include "store.h"

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    char user_id[CT_UUID_STRLEN + 1];
    char old_session[ACCOUNTS_SESSION_HASH_LEN + 1];
    const char *customer_number, *invoice_number; /* borrowed from the body */
    char customer_id[CT_UUID_STRLEN + 1];
    char role[16];
    char *email, *name;
    accounts_throttle_t throttle;
    accounts_quota_t proof; /* a use of the invoice proof's budget */
    char addr[ACCOUNTS_ADDR_MAX];
    ct_session_t session;
    accounts_event_t event;
} link_ctx_t;

static void reply_no_match(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 404, "not-found", "No customer matches these details",
                          "check the customer number and the invoice number");
}

static void on_old_revoked(int status, long long count, void *udata)
{
    (void)status;
    (void)count;
    (void)udata; /* the old session ends; if Redis failed, it expires */
}

static void on_new_session(int status, const char *token, void *udata)
{
    link_ctx_t *ctx = udata;
    if (status != 0) {
        /* linked all the same: the new customer shows at the next sign-in */
        accounts_reply_unavailable(ctx->req);
        return;
    }
    if (accounts_session_revoke(ctx->a->svc->cache, ctx->user_id, ctx->old_session, on_old_revoked,
                                NULL) != 0)
        ct_logc_warn(ct_http_request_id(ctx->req), "old session of user %s left to expire",
                     ctx->user_id);
    ct_session_set_cookies(ctx->req, token, &ctx->session, ctx->a->session_ttl_s);
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    json_t *grants = json_array();
    for (size_t i = 0; i < ctx->session.ngrants; i++)
        json_array_append_new(grants, json_pack("{s:s, s:s}", "customer_id",
                                                ctx->session.grants[i].customer_id, "role",
                                                ct_role_name(ctx->session.grants[i].role)));
    ct_http_reply_json(ctx->req, 200,
                       json_pack("{s:s, s:s, s:s, s:s, s:o}", "customer_id", ctx->customer_id,
                                 "role", ctx->role, "user_id", ctx->user_id, "csrf",
                                 ctx->session.csrf, "customers", grants));
}

static void on_grants(const ct_db_error_t *err, PGresult *res, void *udata)
{
    link_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (!accounts_session_fill(&ctx->session, res)) {
        ct_http_reply_error(ctx->req, CT_EUNAUTH, "sign in first");
        return;
    }
    int rc = accounts_session_create(ctx->a->svc->cache, &ctx->a->sessions, &ctx->session,
                                     ct_http_header(ctx->req, "User-Agent"), ctx->addr,
                                     on_new_session, ctx);
    if (rc != 0)
        on_new_session(rc, NULL, ctx);
}

static void on_link_done(const ct_db_error_t *err, void *udata)
{
    link_ctx_t *ctx = udata;
    accounts_event_dispose(&ctx->event);
    if (err && err->status == CT_ENOTFOUND) {
        reply_no_match(ctx->req);
        return;
    }
    if (err && err->status == CT_ECONFLICT) {
        /* proven, though linked already: nothing was guessed */
        accounts_throttle_succeeded(ctx->a->svc->cache, &ctx->a->throttle, &ctx->throttle);
        accounts_quota_give_back(ctx->a->svc->cache, &ctx->proof);
        ct_http_reply_problem(ctx->req, 409, "already-linked",
                              "This customer is already linked to your account", NULL);
        return;
    }
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    accounts_throttle_succeeded(ctx->a->svc->cache, &ctx->a->throttle, &ctx->throttle);
    accounts_quota_give_back(ctx->a->svc->cache, &ctx->proof);
    ct_logc_info(ct_http_request_id(ctx->req), "user %s linked customer %s as %s", ctx->user_id,
                 ctx->customer_id, ctx->role);
    int rc = accounts_store_grants(ctx->a->svc->db, ctx->user_id, on_grants, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void step_commit(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    link_ctx_t *ctx = udata;
    accounts_audit_tx(ctx->a, ctx->req, tx, ctx->customer_id, ctx->user_id, ctx->user_id,
                      "customer_linked", json_pack("{s:s}", "role", ctx->role),
                      accounts_step_commit);
}

static void on_granted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    link_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_ECONFLICT, "already linked");
        return;
    }
    snprintf(ctx->role, sizeof ctx->role, "%s", ct_db_get(res, 0, "role"));
    accounts_user_ref_t u = {.user_id = ctx->user_id,
                             .customer_id = ctx->customer_id,
                             .email = ctx->email,
                             .name = ctx->name};
    if (accounts_event_customer_linked(&u, ctx->role, ct_now_ms(), &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, ctx->customer_id, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, step_commit);
}

static void on_customer(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    link_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_ENOTFOUND, "not proven");
        return;
    }
    snprintf(ctx->customer_id, sizeof ctx->customer_id, "%s", ct_db_get(res, 0, "id"));
    accounts_store_signup_grant(tx, ctx->user_id, ctx->customer_id, on_granted);
}

static void on_user(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    link_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_ENOTFOUND, "no user");
        return;
    }
    ctx->email = ct_http_strdup(ctx->req, ct_db_get(res, 0, "email"));
    ctx->name = ct_http_strdup(ctx->req, ct_db_get(res, 0, "name"));
    accounts_store_signup_customer(tx, ctx->customer_number, NULL, ctx->invoice_number,
                                   ctx->a->proof_invoice_months, on_customer);
}

static void on_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    link_ctx_t *ctx = udata;
    accounts_store_user_lock(tx, ctx->user_id, on_user);
}

static void on_proof_budget(int status, bool allowed, void *udata)
{
    link_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    if (!allowed) {
        /* the number's invoice budget is spent: even a right invoice waits.
         * The caller is signed in, so they may know why (429): it says that
         * this number was guessed at, not whether it or the invoice exists */
        accounts_reply_too_many(ctx->req, ctx->proof.retry_after_s);
        return;
    }
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_begun, on_link_done, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void on_throttled(int status, accounts_throttle_verdict_t verdict, unsigned retry_after_s,
                         void *udata)
{
    link_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    if (verdict == ACCOUNTS_THROTTLE_ADDR_WAIT) {
        accounts_reply_too_many(ctx->req, retry_after_s);
        return;
    }
    if (verdict == ACCOUNTS_THROTTLE_ACCOUNT_FULL) {
        reply_no_match(ctx->req); /* being guessed at: not even looked at */
        return;
    }
    accounts_t *a = ctx->a;
    int rc = accounts_quota_take(a->svc->cache, &ctx->proof, ACCOUNTS_PROOF_INVOICE_PREFIX,
                                 ctx->customer_number, a->proof_invoice_failures,
                                 a->proof_invoice_window_s, on_proof_budget, ctx);
    if (rc != 0)
        accounts_reply_unavailable(ctx->req);
}

static void on_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    link_ctx_t *ctx = udata;
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", s->user_id);
    const char *token = ct_http_cookie(req, CT_SESSION_COOKIE);
    accounts_session_hash(token ? token : "", ctx->old_session);
    char account[96];
    snprintf(account, sizeof account, "link:%s", ctx->customer_number);
    accounts_client_addr_of(ctx->a, req, ctx->addr);
    int rc = accounts_throttle_begin(ctx->a->svc->cache, &ctx->a->throttle, &ctx->throttle,
                                     ctx->addr, account, on_throttled, ctx);
    if (rc != 0)
        accounts_reply_unavailable(req);
}

void accounts_api_customer_link(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    link_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    ct_valid_t v;
    ct_valid_init(&v);
    ctx->customer_number = ct_valid_str(&v, body, "customer_number", 1, 64, true);
    ctx->invoice_number = ct_valid_str(&v, body, "invoice_number", 1, 64, true);
    if (!ct_valid_ok(&v)) {
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    ct_valid_dispose(&v);
    accounts_auth(a, req, on_session, ctx);
}
