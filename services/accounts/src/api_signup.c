/* POST /api/v1/accounts/signup, /signup/resend and /signup/activate: a
 * customer opens their own account. The answers to /signup and /resend do
 * not depend on what exists (no enumeration); the activation link sets the
 * password and makes the user active. */
#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "events.h"
#include "password.h"
#include "rules.h"
#include "store.h"
#include "citerne/validate.h"

#define MAX_GRANT_EVENTS 32

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    const char *customer_number, *phone, *invoice_number, *name; /* borrowed */
    char email[ACCOUNTS_EMAIL_MAX + 1];
    char token[ACCOUNTS_TOKEN_HEX + 1];
    char hash[ACCOUNTS_TOKEN_HEX + 1];
    char user_id[CT_UUID_STRLEN + 1];
    char customer_id[CT_UUID_STRLEN + 1];
    char *customer_name;
    char *user_name;
    bool matched; /* signup: the customer proved who they are */
    accounts_throttle_t throttle;
    accounts_quota_t quota; /* resend: mails; signup: the invoice proof's budget */
    bool proof_taken;       /* signup: a use of the invoice budget is ours */
    char addr[ACCOUNTS_ADDR_MAX];
    /* activate */
    const char *password;
    size_t password_len;
    accounts_pw_job_t job;
    int ngrants, next_grant; /* activate: UserCreated events to append */
    accounts_user_t users[MAX_GRANT_EVENTS];
    accounts_event_t event;
} signup_ctx_t;

static void link_token(signup_ctx_t *ctx)
{
    accounts_token_new(ctx->token, ctx->hash);
}

static void forget(signup_ctx_t *ctx)
{
    accounts_event_dispose(&ctx->event);
    sodium_memzero(ctx->token, sizeof ctx->token);
    sodium_memzero(ctx->job.hash, sizeof ctx->job.hash);
}

static void reply_sent(ct_http_req_t *req)
{
    ct_http_reply_json(
        req, 202,
        json_pack("{s:s}", "status",
                  "if these details match a customer, an activation link is on its way"));
}

static void step_commit(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

/* ---- the activation link (sign-up and resend) ---- */

static void on_activation_put(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    signup_ctx_t *ctx = udata;
    long long expires = ct_db_get_int(res, 0, "expires_ms", 0);
    accounts_user_ref_t u = {
        .user_id = ctx->user_id,
        .customer_id = ctx->customer_id,
        .email = ctx->email,
        .name = ctx->user_name,
    };
    accounts_link_event_append(tx, ctx->a, &u, "/activate", ctx->token, expires,
                               accounts_event_activation_requested, &ctx->event, step_commit);
}

static void put_activation(ct_db_tx_t *tx, signup_ctx_t *ctx)
{
    link_token(ctx);
    accounts_store_activation_put(tx, ctx->user_id, ctx->hash, (long)ctx->a->activation_ttl_s,
                                  on_activation_put);
}

/* ---- sign-up ---- */

static void on_signup_done(const ct_db_error_t *err, void *udata)
{
    signup_ctx_t *ctx = udata;
    forget(ctx);
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (ctx->matched) {
        /* a proven attempt does not count against the address, nor against
         * the invoice budget */
        accounts_throttle_succeeded(ctx->a->svc->cache, &ctx->a->throttle, &ctx->throttle);
        if (ctx->proof_taken)
            accounts_quota_give_back(ctx->a->svc->cache, &ctx->quota);
        ct_logc_info(ct_http_request_id(ctx->req), "sign-up for customer %s: link sent to user %s",
                     ctx->customer_id, ctx->user_id);
    }
    reply_sent(ctx->req);
}

static void on_granted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    put_activation(tx, udata);
}

static void on_pending_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    signup_ctx_t *ctx = udata;
    accounts_store_signup_grant(tx, ctx->user_id, ctx->customer_id, on_granted);
}

static void on_user(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    signup_ctx_t *ctx = udata;
    if (PQntuples(res) == 0) {
        ct_uuid_v7(ctx->user_id);
        ctx->user_name = ctx->name ? ct_http_strdup(ctx->req, ctx->name) : ctx->customer_name;
        accounts_store_pending_user_insert(tx, ctx->user_id, ctx->email, ctx->user_name,
                                           on_pending_inserted);
        return;
    }
    const char *status = ct_db_get(res, 0, "status");
    if (!status || strcmp(status, "pending") != 0) {
        /* an account exists already: nothing to send (same answer) */
        ct_db_tx_commit(tx);
        return;
    }
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", ct_db_get(res, 0, "id"));
    ctx->user_name = ct_http_strdup(ctx->req, ct_db_get(res, 0, "name"));
    accounts_store_signup_grant(tx, ctx->user_id, ctx->customer_id, on_granted);
}

static void on_customer(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    signup_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_commit(tx); /* unknown, or not proven: the same answer */
        return;
    }
    ctx->matched = true;
    snprintf(ctx->customer_id, sizeof ctx->customer_id, "%s", ct_db_get(res, 0, "id"));
    ctx->customer_name = ct_http_strdup(ctx->req, ct_db_get(res, 0, "name"));
    accounts_store_user_by_email(tx, ctx->email, on_user);
}

static void on_signup_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    signup_ctx_t *ctx = udata;
    accounts_store_signup_customer(tx, ctx->customer_number, ctx->phone, ctx->invoice_number,
                                   ctx->a->proof_invoice_months, on_customer);
}

static void signup_begin(signup_ctx_t *ctx)
{
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_signup_begun, on_signup_done, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void on_proof_budget(int status, bool allowed, void *udata)
{
    signup_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    ctx->proof_taken = allowed;
    if (!allowed) {
        /* this number's invoices are being guessed at: no invoice proves it
         * now, a right one neither (the same answer as a wrong one); a phone
         * given too is still looked at */
        ctx->invoice_number = NULL;
        if (!ctx->phone) {
            reply_sent(ctx->req);
            return;
        }
    }
    signup_begin(ctx);
}

static void on_signup_throttled(int status, accounts_throttle_verdict_t verdict,
                                unsigned retry_after_s, void *udata)
{
    signup_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    if (verdict == ACCOUNTS_THROTTLE_ADDR_WAIT) {
        accounts_reply_too_many(ctx->req, retry_after_s);
        return;
    }
    if (verdict == ACCOUNTS_THROTTLE_ACCOUNT_FULL) {
        reply_sent(ctx->req); /* this customer number is being guessed at: do nothing */
        return;
    }
    if (!ctx->invoice_number) {
        signup_begin(ctx);
        return;
    }
    accounts_t *a = ctx->a;
    int rc = accounts_quota_take(a->svc->cache, &ctx->quota, ACCOUNTS_PROOF_INVOICE_PREFIX,
                                 ctx->customer_number, a->proof_invoice_failures,
                                 a->proof_invoice_window_s, on_proof_budget, ctx);
    if (rc != 0)
        accounts_reply_unavailable(ctx->req);
}

void accounts_api_signup(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    if (!a->svc->cache || !ct_cache_ready(a->svc->cache)) {
        accounts_reply_unavailable(req);
        return;
    }
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    signup_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    ct_valid_t v;
    ct_valid_init(&v);
    ctx->customer_number = ct_valid_str(&v, body, "customer_number", 1, 64, true);
    ctx->phone = ct_valid_str(&v, body, "phone", 1, 64, false);
    ctx->invoice_number = ct_valid_str(&v, body, "invoice_number", 1, 64, false);
    const char *email = ct_valid_str(&v, body, "email", 1, 1024, true);
    ctx->name = ct_valid_str(&v, body, "name", 1, 800, false);
    if (email && accounts_email_normalise(email, ctx->email) != 0)
        ct_valid_fail(&v, "email", "expected an e-mail address (3 to 254 characters)");
    if (!ctx->phone && !ctx->invoice_number)
        ct_valid_fail(&v, "phone", "give the phone number on file or an invoice number");
    if (ctx->name && !accounts_text_ok(ctx->name, 1, 200))
        ct_valid_fail(&v, "name", "expected 1 to 200 characters, not only spaces");
    if (!ct_valid_ok(&v)) {
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    ct_valid_dispose(&v);
    char account[96];
    snprintf(account, sizeof account, "signup:%s", ctx->customer_number);
    accounts_client_addr_of(a, req, ctx->addr);
    int rc = accounts_throttle_begin(a->svc->cache, &a->throttle, &ctx->throttle, ctx->addr,
                                     account, on_signup_throttled, ctx);
    if (rc != 0)
        accounts_reply_unavailable(req);
}

/* ---- resend ---- */

static void on_pending(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    signup_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_commit(tx);
        return;
    }
    ctx->matched = true;
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", ct_db_get(res, 0, "id"));
    const char *customer = ct_db_get(res, 0, "customer_id");
    snprintf(ctx->customer_id, sizeof ctx->customer_id, "%s", customer ? customer : "");
    ctx->user_name = ct_http_strdup(ctx->req, ct_db_get(res, 0, "name"));
    put_activation(tx, ctx);
}

static void on_resend_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    signup_ctx_t *ctx = udata;
    accounts_store_pending_by_email(tx, ctx->email, on_pending);
}

static void on_resend_done(const ct_db_error_t *err, void *udata)
{
    signup_ctx_t *ctx = udata;
    forget(ctx);
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (ctx->matched)
        ct_logc_info(ct_http_request_id(ctx->req), "activation link sent again to user %s",
                     ctx->user_id);
    reply_sent(ctx->req);
}

static void on_resend_quota(int status, bool allowed, void *udata)
{
    signup_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    if (!allowed) {
        ct_logc_info(ct_http_request_id(ctx->req), "activation link not sent: hourly limit");
        reply_sent(ctx->req);
        return;
    }
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_resend_begun, on_resend_done, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

void accounts_api_signup_resend(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    signup_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    json_t *email = json_object_get(body, "email");
    if (!json_is_string(email)) {
        json_t *errors = json_array();
        json_array_append_new(
            errors, json_pack("{s:s, s:s}", "field", "email", "message", "expected a string"));
        ct_http_reply_invalid(req, errors);
        return;
    }
    if (accounts_email_normalise(json_string_value(email), ctx->email) != 0) {
        reply_sent(req);
        return;
    }
    int rc = accounts_quota_take(a->svc->cache, &ctx->quota, "acct:mail:activation:", ctx->email,
                                 ACCOUNTS_MAILS_PER_HOUR, 3600, on_resend_quota, ctx);
    if (rc != 0)
        accounts_reply_unavailable(req);
}

/* ---- activate ---- */

static void on_activate_done(const ct_db_error_t *err, void *udata)
{
    signup_ctx_t *ctx = udata;
    forget(ctx);
    if (err && err->status == CT_EUNAUTH) {
        accounts_reply_bad_token(ctx->req);
        return;
    }
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s activated", ctx->user_id);
    ct_http_reply(ctx->req, 204, NULL, NULL, 0);
}

static void append_next_grant(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    signup_ctx_t *ctx = udata;
    accounts_event_dispose(&ctx->event);
    if (ctx->next_grant == ctx->ngrants) {
        accounts_audit_tx(ctx->a, ctx->req, tx, NULL, ctx->user_id, ctx->user_id,
                          "account_activated", NULL, accounts_step_commit);
        return;
    }
    accounts_user_t *u = &ctx->users[ctx->next_grant++];
    if (accounts_event_user_created(u, &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, u->customer_id, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, append_next_grant);
}

static void on_activated(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    signup_ctx_t *ctx = udata;
    int rows = PQntuples(res);
    if (rows == 0) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "user not pending");
        return;
    }
    /* UserCreated, once per customer the user acts for: the read models of
     * other services learn of the user only now */
    for (int i = 0; i < rows && ctx->ngrants < MAX_GRANT_EVENTS; i++) {
        accounts_user_t *u = &ctx->users[ctx->ngrants++];
        snprintf(u->id, sizeof u->id, "%s", ct_db_get(res, i, "id"));
        snprintf(u->customer_id, sizeof u->customer_id, "%s", ct_db_get(res, i, "customer_id"));
        snprintf(u->email, sizeof u->email, "%s", ct_db_get(res, i, "email"));
        const char *phone = ct_db_get(res, i, "phone");
        u->phone = phone ? ct_http_strdup(ctx->req, phone) : NULL;
        u->name = ct_http_strdup(ctx->req, ct_db_get(res, i, "name"));
        u->role = ct_http_strdup(ctx->req, ct_db_get(res, i, "role"));
    }
    append_next_grant(tx, NULL, ctx);
}

static void on_activation_taken(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    signup_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "link not live");
        return;
    }
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", ct_db_get(res, 0, "user_id"));
    accounts_store_activate(tx, ctx->user_id, ctx->job.hash, on_activated);
}

static void on_activate_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    signup_ctx_t *ctx = udata;
    accounts_store_activation_take(tx, ctx->hash, on_activation_taken);
}

static void on_hashed(int status, const char *hash, void *udata)
{
    (void)hash;
    signup_ctx_t *ctx = udata;
    if (status != 0) {
        forget(ctx);
        ct_http_reply_error(ctx->req, status == UV_ECANCELED ? CT_ECLOSED : CT_EINTERNAL, NULL);
        return;
    }
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_activate_begun, on_activate_done, ctx);
    if (rc != 0) {
        forget(ctx);
        accounts_reply_failure(ctx->req, rc);
    }
}

void accounts_api_signup_activate(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    signup_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    json_t *token = json_object_get(body, "token");
    json_t *errors = json_array();
    if (!json_is_string(token))
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "token", "message",
                                                "expected the token of the link"));
    const char *why = accounts_password_problem(json_object_get(body, "password"));
    if (why)
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "password", "message", why));
    if (json_array_size(errors) > 0) {
        ct_http_reply_invalid(req, errors);
        return;
    }
    json_decref(errors);
    if (!accounts_token_valid(json_string_value(token))) {
        accounts_reply_bad_token(req);
        return;
    }
    json_t *password = json_object_get(body, "password");
    ctx->password = json_string_value(password);
    ctx->password_len = json_string_length(password);
    accounts_token_hash(json_string_value(token), ctx->hash);
    int rc = accounts_pw_hash(&a->svc->loop, &ctx->job, ctx->password, ctx->password_len,
                              a->pwhash_ops, a->pwhash_mem, on_hashed, ctx);
    if (rc != 0)
        ct_http_reply_error(req, CT_EINTERNAL, NULL);
}
