/* POST /api/v1/accounts/password/forgot and /password/reset: the forgotten
 * password. Links carry a 256-bit token; only its SHA-256 is stored. */
#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "events.h"
#include "password.h"
#include "rules.h"
#include "sessions.h"
#include "store.h"

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    char email[ACCOUNTS_EMAIL_MAX + 1];
    char token[ACCOUNTS_TOKEN_HEX + 1];
    char hash[ACCOUNTS_TOKEN_HEX + 1]; /* hex SHA-256 of the token */
    char user_id[CT_UUID_STRLEN + 1];
    const char *password; /* borrowed from the body */
    size_t password_len;
    accounts_pw_job_t job;
    accounts_event_t event;
    bool known;        /* forgot: the e-mail was an active user's */
    char *name;        /* request memory */
    char *customer_id; /* the user's first customer, "" when none */
    accounts_quota_t quota;
} pw_ctx_t;

static pw_ctx_t *ctx_new(ct_http_req_t *req, accounts_t *a)
{
    pw_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    return ctx;
}

static void forget(pw_ctx_t *ctx)
{
    accounts_event_dispose(&ctx->event);
    sodium_memzero(ctx->token, sizeof ctx->token);
    sodium_memzero(ctx->job.hash, sizeof ctx->job.hash);
}

/* ---- forgot ---- */

/* The one answer, known e-mail or not. */
static void reply_sent(ct_http_req_t *req)
{
    ct_http_reply_json(req, 202,
                       json_pack("{s:s}", "status",
                                 "if this address belongs to an account, a link is on its way"));
}

static void on_forgot_done(const ct_db_error_t *err, void *udata)
{
    pw_ctx_t *ctx = udata;
    forget(ctx);
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (ctx->known) {
        ct_logc_info(ct_http_request_id(ctx->req), "user %s asked for a reset link", ctx->user_id);
    }
    reply_sent(ctx->req);
}

static void on_forgot_appended(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    pw_ctx_t *ctx = udata;
    accounts_audit_tx(ctx->a, ctx->req, tx, NULL, NULL, ctx->user_id, "password_reset_requested",
                      NULL, accounts_step_commit);
}

static void on_reset_put(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    pw_ctx_t *ctx = udata;
    long long expires = ct_db_get_int(res, 0, "expires_ms", 0);
    accounts_user_ref_t u = {
        .user_id = ctx->user_id,
        .customer_id = ctx->customer_id,
        .email = ctx->email,
        .name = ctx->name,
    };
    accounts_link_event_append(tx, ctx->a, &u, "/reset-password", ctx->token, expires,
                               accounts_event_password_reset_requested, &ctx->event,
                               on_forgot_appended);
}

static void on_reset_user(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    pw_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_commit(tx); /* nothing to do; answered like a known one */
        return;
    }
    ctx->known = true;
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", ct_db_get(res, 0, "id"));
    const char *name = ct_db_get(res, 0, "name");
    const char *customer = ct_db_get(res, 0, "customer_id");
    ctx->name = ct_http_strdup(ctx->req, name ? name : "");
    ctx->customer_id = ct_http_strdup(ctx->req, customer ? customer : "");
    accounts_store_reset_put(tx, ctx->user_id, ctx->hash, (long)ctx->a->reset_ttl_s, on_reset_put);
}

static void on_forgot_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    pw_ctx_t *ctx = udata;
    accounts_store_reset_user(tx, ctx->email, on_reset_user);
}

static void on_quota(int status, bool allowed, void *udata)
{
    pw_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    if (!allowed) {
        /* enough links to this address for now: the same answer, no mail */
        ct_logc_info(ct_http_request_id(ctx->req), "reset link not sent: hourly limit");
        reply_sent(ctx->req);
        return;
    }
    accounts_token_new(ctx->token, ctx->hash);
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_forgot_begun, on_forgot_done, ctx);
    if (rc != 0) {
        forget(ctx);
        accounts_reply_failure(ctx->req, rc);
    }
}

void accounts_api_password_forgot(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    json_t *email = json_object_get(body, "email");
    if (!json_is_string(email)) {
        json_t *errors = json_array();
        json_array_append_new(
            errors, json_pack("{s:s, s:s}", "field", "email", "message", "expected a string"));
        ct_http_reply_invalid(req, errors);
        return;
    }
    pw_ctx_t *ctx = ctx_new(req, a);
    if (accounts_email_normalise(json_string_value(email), ctx->email) != 0) {
        reply_sent(req); /* no account can have it */
        return;
    }
    int rc = accounts_quota_take(a->svc->cache, &ctx->quota, "acct:mail:reset:", ctx->email,
                                 ACCOUNTS_MAILS_PER_HOUR, 3600, on_quota, ctx);
    if (rc != 0)
        accounts_reply_unavailable(req);
}

/* ---- reset ---- */

static void on_reset_done(const ct_db_error_t *err, void *udata)
{
    pw_ctx_t *ctx = udata;
    forget(ctx);
    if (err && err->status == CT_EUNAUTH) {
        accounts_reply_bad_token(ctx->req);
        return;
    }
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s reset their password", ctx->user_id);
    /* again after the change: a session opened with the old password while
     * the new one was being hashed ends too */
    accounts_end_sessions_reply(ctx->a, ctx->req, ctx->user_id, "password");
}

static void on_changed_appended(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    pw_ctx_t *ctx = udata;
    accounts_audit_tx(ctx->a, ctx->req, tx, NULL, ctx->user_id, ctx->user_id, "password_changed",
                      json_pack("{s:s}", "via", "reset"), accounts_step_commit);
}

static void on_password_set(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    pw_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "user no longer active");
        return;
    }
    const char *customer = ct_db_get(res, 0, "customer_id");
    accounts_user_ref_t u = {
        .user_id = ctx->user_id,
        .customer_id = customer ? customer : "",
        .email = ct_db_get(res, 0, "email"),
        .name = ct_db_get(res, 0, "name"),
    };
    if (accounts_event_password_changed(&u, "reset", ct_now_ms(), &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, customer ? customer : ctx->user_id, ctx->event.data,
                     ctx->event.len, ctx->event.event_id, on_changed_appended);
}

static void on_token_taken(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    pw_ctx_t *ctx = udata;
    const char *user_id = PQntuples(res) == 1 ? ct_db_get(res, 0, "user_id") : NULL;
    if (!user_id || strcmp(user_id, ctx->user_id) != 0) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "link used meanwhile");
        return;
    }
    accounts_store_password_set(tx, ctx->user_id, ctx->job.hash, on_password_set);
}

static void on_reset_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    pw_ctx_t *ctx = udata;
    accounts_store_reset_take(tx, ctx->hash, on_token_taken);
}

static void on_new_hash(int status, const char *hash, void *udata)
{
    (void)hash;
    pw_ctx_t *ctx = udata;
    if (status != 0) {
        forget(ctx);
        ct_http_reply_error(ctx->req, status == UV_ECANCELED ? CT_ECLOSED : CT_EINTERNAL, NULL);
        return;
    }
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_reset_begun, on_reset_done, ctx);
    if (rc != 0) {
        forget(ctx);
        accounts_reply_failure(ctx->req, rc);
    }
}

static void on_revoked_before(int status, long long count, void *udata)
{
    (void)count;
    pw_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req); /* nothing changed yet */
        return;
    }
    int rc = accounts_pw_hash(&ctx->a->svc->loop, &ctx->job, ctx->password, ctx->password_len,
                              ctx->a->pwhash_ops, ctx->a->pwhash_mem, on_new_hash, ctx);
    if (rc != 0)
        ct_http_reply_error(ctx->req, CT_EINTERNAL, NULL);
}

static void on_link_found(const ct_db_error_t *err, PGresult *res, void *udata)
{
    pw_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (PQntuples(res) != 1) {
        accounts_reply_bad_token(ctx->req);
        return;
    }
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", ct_db_get(res, 0, "user_id"));
    /* end every session first: if Redis cannot, nothing changes (503) */
    if (accounts_sessions_revoke_all(ctx->a->svc->cache, ctx->user_id, NULL, on_revoked_before,
                                     ctx) != 0)
        accounts_reply_unavailable(ctx->req);
}

void accounts_api_password_reset(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    if (!a->svc->cache || !ct_cache_ready(a->svc->cache)) {
        accounts_reply_unavailable(req);
        return;
    }
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    pw_ctx_t *ctx = ctx_new(req, a);
    json_t *token = json_object_get(body, "token");
    json_t *password = json_object_get(body, "password");
    json_t *errors = json_array();
    if (!json_is_string(token))
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "token", "message",
                                                "expected the token of the link"));
    const char *why = accounts_password_problem(password);
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
    ctx->password = json_string_value(password);
    ctx->password_len = json_string_length(password);
    accounts_token_hash(json_string_value(token), ctx->hash);
    int rc = accounts_store_reset_find(a->svc->db, ctx->hash, on_link_found, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}
