/* GET /api/v1/accounts/sessions, DELETE /api/v1/accounts/sessions/{id},
 * POST /api/v1/accounts/sessions/revoke-others: the caller's own sessions.
 * A session's id is the hex SHA-256 of its token (the Redis key's hash), so
 * the list never shows a usable token. */
#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "rules.h"
#include "sessions.h"

typedef struct {
    accounts_t *a;
    ct_http_req_t *req;
    char user_id[CT_UUID_STRLEN + 1];
    char own[ACCOUNTS_SESSION_HASH_LEN + 1]; /* the caller's session id */
} sessions_ctx_t;

static sessions_ctx_t *ctx_new(ct_http_req_t *req, accounts_t *a)
{
    sessions_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->a = a;
    ctx->req = req;
    return ctx;
}

static void remember_caller(sessions_ctx_t *ctx, const ct_session_t *s)
{
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", s->user_id);
    const char *token = ct_http_cookie(ctx->req, CT_SESSION_COOKIE);
    accounts_session_hash(token ? token : "", ctx->own);
}

static json_t *time_json(long long ms)
{
    if (ms <= 0)
        return json_null();
    char text[32];
    accounts_time_text(ms, text);
    return json_string(text);
}

/* ---- list ---- */

static void on_listed(int status, const accounts_session_info_t *infos, size_t n, void *udata)
{
    sessions_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const accounts_session_info_t *s = &infos[i];
        json_array_append_new(
            arr, json_pack("{s:s, s:b, s:s, s:s, s:s, s:o, s:o, s:o}", "id", s->id, "current",
                           strcmp(s->id, ctx->own) == 0, "device", s->device, "user_agent",
                           s->user_agent, "address", s->addr, "created_at",
                           time_json(s->created_at), "last_seen_at", time_json(s->last_seen),
                           "expires_at", time_json(s->expires_at)));
    }
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    ct_http_reply_json(ctx->req, 200, json_pack("{s:o}", "sessions", arr));
}

static void on_list_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    sessions_ctx_t *ctx = udata;
    remember_caller(ctx, s);
    int rc = accounts_sessions_list(ctx->a->svc->cache, s->user_id, on_listed, ctx);
    if (rc != 0)
        accounts_reply_unavailable(req);
}

void accounts_api_sessions_list(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    accounts_auth(a, req, on_list_session, ctx_new(req, a));
}

/* ---- revoke one ---- */

static void on_revoked_one(int status, long long count, void *udata)
{
    sessions_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    if (count == 0) {
        ct_http_reply_problem(ctx->req, 404, "not-found", "No such session",
                              "no session of yours has this id (it may have ended)");
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s revoked a session", ctx->user_id);
    accounts_audit(ctx->a, ctx->req, NULL, ctx->user_id, ctx->user_id, "session_revoked", NULL);
    ct_http_reply(ctx->req, 204, NULL, NULL, 0);
}

static bool is_session_id(const char *s)
{
    if (!s || strlen(s) != ACCOUNTS_SESSION_HASH_LEN)
        return false;
    for (size_t i = 0; i < ACCOUNTS_SESSION_HASH_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void on_revoke_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    sessions_ctx_t *ctx = udata;
    remember_caller(ctx, s);
    const char *id = ct_http_param(req, "id");
    if (!is_session_id(id)) {
        on_revoked_one(0, 0, ctx);
        return;
    }
    int rc = accounts_session_revoke(ctx->a->svc->cache, s->user_id, id, on_revoked_one, ctx);
    if (rc != 0)
        accounts_reply_unavailable(req);
}

void accounts_api_session_revoke(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    accounts_auth(a, req, on_revoke_session, ctx_new(req, a));
}

/* ---- revoke all others ---- */

static void on_revoked_others(int status, long long count, void *udata)
{
    sessions_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s revoked %lld other sessions", ctx->user_id,
                 count);
    accounts_audit(ctx->a, ctx->req, NULL, ctx->user_id, ctx->user_id, "sessions_revoked",
                   json_pack("{s:I}", "count", (json_int_t)count));
    ct_http_reply_json(ctx->req, 200, json_pack("{s:I}", "revoked", (json_int_t)count));
}

static void on_revoke_others_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    sessions_ctx_t *ctx = udata;
    remember_caller(ctx, s);
    int rc = accounts_sessions_revoke_all(ctx->a->svc->cache, s->user_id, ctx->own,
                                          on_revoked_others, ctx);
    if (rc != 0)
        accounts_reply_unavailable(req);
}

void accounts_api_sessions_revoke_others(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    accounts_auth(a, req, on_revoke_others_session, ctx_new(req, a));
}
