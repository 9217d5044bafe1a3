/* What every accounts handler shares: operator authentication (platform
 * auth.h, with accounts' own 401 wording), database error replies. */
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

bool accounts_require_operator(accounts_t *a, ct_http_req_t *req)
{
    if (ct_auth_bearer_ok(req, &a->operator_key))
        return true;
    ct_http_add_header(req, "WWW-Authenticate", "Bearer");
    ct_http_reply_problem(req, 401, "unauthenticated", "Operator key required",
                          "send Authorization: Bearer <operator key>");
    return false;
}

void accounts_reply_db_error(ct_http_req_t *req, const ct_db_error_t *err)
{
    if (err->status == CT_EUNAVAIL || err->status == CT_ECLOSED || err->status == CT_ETIMEOUT) {
        ct_http_add_header(req, "Retry-After", "1");
        ct_http_reply_error(req, err->status, NULL);
        return;
    }
    /* Only the first line: a DETAIL line may quote the row (an e-mail, a
     * password hash), which has no place in a log. */
    const char *msg = err->message ? err->message : "";
    ct_logc_error(ct_http_request_id(req), "database error %s: %.*s",
                  err->sqlstate ? err->sqlstate : "", (int)strcspn(msg, "\n"), msg);
    ct_http_reply_error(req, err->status == CT_EDB ? CT_EDB : CT_EINTERNAL, NULL);
}

void accounts_reply_failure(ct_http_req_t *req, int rc)
{
    ct_db_error_t err = {.status = rc, .sqlstate = "", .message = ct_strerror(rc)};
    accounts_reply_db_error(req, &err);
}

void accounts_client_addr_of(const accounts_t *a, ct_http_req_t *req, char out[ACCOUNTS_ADDR_MAX])
{
    const char *xff = a->trusted_proxies[0] ? ct_http_header(req, "X-Forwarded-For") : NULL;
    accounts_client_addr(ct_http_peer(req), xff, a->trusted_proxies, out);
}

void accounts_reply_unavailable(ct_http_req_t *req)
{
    ct_http_add_header(req, "Retry-After", "1");
    ct_http_reply_error(req, CT_EUNAVAIL, "the session store is unavailable");
}

void accounts_reply_too_many(ct_http_req_t *req, unsigned retry_after_s)
{
    char secs[16];
    snprintf(secs, sizeof secs, "%u", retry_after_s);
    ct_http_add_header(req, "Retry-After", secs);
    ct_http_reply_problem(req, 429, "too-many-attempts", "Too many attempts", NULL);
}

typedef struct {
    accounts_t *a;
    ct_http_req_t *req;
    accounts_auth_cb cb;
    void *udata;
} auth_ctx_t;

static void on_auth_session(int status, const ct_session_t *s, void *udata)
{
    auth_ctx_t *ctx = udata;
    if (status == CT_EUNAUTH) {
        ct_http_reply_error(ctx->req, CT_EUNAUTH,
                            "sign in first (and send X-CSRF-Token on writes)");
        return;
    }
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    ctx->cb(ctx->req, s, ctx->udata);
}

void accounts_auth(accounts_t *a, ct_http_req_t *req, accounts_auth_cb cb, void *udata)
{
    if (!a->svc->cache) {
        accounts_reply_unavailable(req);
        return;
    }
    auth_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->a = a;
    ctx->req = req;
    ctx->cb = cb;
    ctx->udata = udata;
    ct_session_lookup(a->svc->cache, req, on_auth_session, ctx);
}

const char *accounts_password_problem(json_t *password)
{
    if (!json_is_string(password))
        return "expected a string";
    const char *pw = json_string_value(password);
    size_t len = json_string_length(password);
    if (!accounts_password_length_ok(pw, len))
        return "expected 12 to 128 characters";
    if (accounts_password_is_common(pw, len))
        return "this password is too common: choose another";
    return NULL;
}

void accounts_token_hash(const char *token, char hash[ACCOUNTS_TOKEN_HEX + 1])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(hash, ACCOUNTS_TOKEN_HEX + 1, digest, sizeof digest);
}

void accounts_token_new(char token[ACCOUNTS_TOKEN_HEX + 1], char hash[ACCOUNTS_TOKEN_HEX + 1])
{
    ct_random_hex(token, ACCOUNTS_TOKEN_HEX / 2);
    accounts_token_hash(token, hash);
}

bool accounts_token_valid(const char *s)
{
    if (!s || strlen(s) != ACCOUNTS_TOKEN_HEX)
        return false;
    for (size_t i = 0; i < ACCOUNTS_TOKEN_HEX; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

void accounts_reply_bad_token(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 400, "invalid-token", "This link is not valid",
                          "it was used, replaced by a newer one or has expired: ask for a new one");
}

typedef struct {
    ct_http_req_t *req;
    char user_id[CT_UUID_STRLEN + 1];
    const char *what;
} ended_ctx_t;

static void on_sessions_ended(int status, long long count, void *udata)
{
    ended_ctx_t *ctx = udata;
    if (status != 0)
        ct_logc_error(ct_http_request_id(ctx->req),
                      "%s of user %s changed but its sessions could not be ended now", ctx->what,
                      ctx->user_id);
    else if (count > 0)
        ct_logc_warn(ct_http_request_id(ctx->req),
                     "user %s: %lld session(s) opened during the %s change ended", ctx->user_id,
                     count, ctx->what);
    ct_http_reply(ctx->req, 204, NULL, NULL, 0);
}

void accounts_end_sessions_reply(accounts_t *a, ct_http_req_t *req, const char *user_id,
                                 const char *what)
{
    ended_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", user_id);
    ctx->what = what;
    if (accounts_sessions_revoke_all(a->svc->cache, ctx->user_id, NULL, on_sessions_ended, ctx) !=
        0)
        on_sessions_ended(CT_EUNAVAIL, 0, ctx);
}

void accounts_link_event_append(ct_db_tx_t *tx, const accounts_t *a, const accounts_user_ref_t *u,
                                const char *page, const char *token, int64_t expires_at_ms,
                                accounts_link_event_fn build, accounts_event_t *event,
                                ct_db_tx_cb next)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s#token=%s", a->public_url, page, token);
    int rc = build(u, url, expires_at_ms, event);
    sodium_memzero(url, sizeof url);
    if (rc != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    const char *key = u->customer_id[0] ? u->customer_id : u->user_id;
    ct_outbox_append(tx, a->svc->topic, key, event->data, event->len, event->event_id, next);
}
