/* POST /api/v1/accounts/me/password {current_password, new_password}: the
 * signed-in user changes their password. Every other session of the user
 * ends; the one that made the change goes on. */
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
    char user_id[CT_UUID_STRLEN + 1];
    char own[ACCOUNTS_SESSION_HASH_LEN + 1];
    const char *next; /* borrowed from the body */
    size_t next_len;
    accounts_pw_job_t job;
    accounts_event_t event;
} change_ctx_t;

static void on_others_ended(int status, long long count, void *udata)
{
    change_ctx_t *ctx = udata;
    if (status != 0)
        ct_logc_error(ct_http_request_id(ctx->req),
                      "password of user %s changed; other sessions could not be ended now",
                      ctx->user_id);
    else if (count > 0)
        ct_logc_info(ct_http_request_id(ctx->req), "user %s: %lld other session(s) ended",
                     ctx->user_id, count);
    ct_http_reply(ctx->req, 204, NULL, NULL, 0);
}

static void on_done(const ct_db_error_t *err, void *udata)
{
    change_ctx_t *ctx = udata;
    accounts_event_dispose(&ctx->event);
    sodium_memzero(ctx->job.hash, sizeof ctx->job.hash);
    if (err && err->status == CT_EUNAUTH) {
        ct_http_reply_error(ctx->req, CT_EUNAUTH, "sign in first");
        return;
    }
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s changed their password", ctx->user_id);
    if (accounts_sessions_revoke_all(ctx->a->svc->cache, ctx->user_id, ctx->own, on_others_ended,
                                     ctx) != 0)
        on_others_ended(CT_EUNAVAIL, 0, ctx);
}

static void step_commit(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    change_ctx_t *ctx = udata;
    accounts_audit_tx(ctx->a, ctx->req, tx, NULL, ctx->user_id, ctx->user_id, "password_changed",
                      json_pack("{s:s}", "via", "change"), accounts_step_commit);
}

static void on_set(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    change_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "user not active");
        return;
    }
    const char *customer = ct_db_get(res, 0, "customer_id");
    accounts_user_ref_t u = {.user_id = ctx->user_id,
                             .customer_id = customer ? customer : "",
                             .email = ct_db_get(res, 0, "email"),
                             .name = ct_db_get(res, 0, "name")};
    if (accounts_event_password_changed(&u, "change", ct_now_ms(), &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, customer ? customer : ctx->user_id, ctx->event.data,
                     ctx->event.len, ctx->event.event_id, step_commit);
}

static void on_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    change_ctx_t *ctx = udata;
    accounts_store_password_set(tx, ctx->user_id, ctx->job.hash, on_set);
}

static void on_hashed(int status, const char *hash, void *udata)
{
    (void)hash;
    change_ctx_t *ctx = udata;
    if (status != 0) {
        ct_http_reply_error(ctx->req, status == UV_ECANCELED ? CT_ECLOSED : CT_EINTERNAL, NULL);
        return;
    }
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_begun, on_done, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

/* The current password was right: hash the new one. */
static void on_reauth(ct_http_req_t *req, const accounts_me_t *me, void *udata)
{
    change_ctx_t *ctx = udata;
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", me->user_id);
    const char *token = ct_http_cookie(req, CT_SESSION_COOKIE);
    accounts_session_hash(token ? token : "", ctx->own);
    int rc = accounts_pw_hash(&ctx->a->svc->loop, &ctx->job, ctx->next, ctx->next_len,
                              ctx->a->pwhash_ops, ctx->a->pwhash_mem, on_hashed, ctx);
    if (rc != 0)
        ct_http_reply_error(req, CT_EINTERNAL, NULL);
}

void accounts_api_password_change(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    json_t *current = json_object_get(body, "current_password");
    json_t *next = json_object_get(body, "new_password");
    json_t *errors = json_array();
    if (!json_is_string(current))
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "current_password",
                                                "message", "expected a string"));
    const char *why = accounts_password_problem(next);
    if (why)
        json_array_append_new(errors,
                              json_pack("{s:s, s:s}", "field", "new_password", "message", why));
    if (json_array_size(errors) > 0) {
        ct_http_reply_invalid(req, errors);
        return;
    }
    json_decref(errors);
    change_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    ctx->next = json_string_value(next);
    ctx->next_len = json_string_length(next);
    accounts_reauth(a, req, json_string_value(current), json_string_length(current),
                    "give your current password", on_reauth, ctx);
}
