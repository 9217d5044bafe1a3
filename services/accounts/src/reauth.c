/* The password asked again before a signed-in user's sensitive write
 * (accounts_reauth, see accounts.h): session, throttle, verification on the
 * thread pool. One path for /me/password, /me/email and /me/close, so they
 * refuse and throttle alike. */
#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "password.h"
#include "store.h"

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    const char *password; /* borrowed from the caller (the body) */
    size_t password_len;
    const char *why; /* the 400's detail */
    char user_id[CT_UUID_STRLEN + 1];
    char *stored; /* the stored hash, request memory */
    accounts_me_t me;
    accounts_pw_job_t job;
    accounts_throttle_t throttle;
    char addr[ACCOUNTS_ADDR_MAX];
    accounts_reauth_cb cb;
    void *udata;
} reauth_ctx_t;

static void on_verified(int status, const char *hash, void *udata)
{
    (void)hash;
    reauth_ctx_t *ctx = udata;
    if (status == UV_ECANCELED) {
        ct_http_reply_error(ctx->req, CT_ECLOSED, NULL);
        return;
    }
    if (status != 0) {
        ct_http_reply_problem(ctx->req, 400, "invalid-credentials", "Wrong password", ctx->why);
        return;
    }
    accounts_throttle_succeeded(ctx->a->svc->cache, &ctx->a->throttle, &ctx->throttle);
    ctx->cb(ctx->req, &ctx->me, ctx->udata);
}

static char *copy(ct_http_req_t *req, const PGresult *res, const char *column)
{
    const char *v = ct_db_get(res, 0, column);
    return ct_http_strdup(req, v ? v : "");
}

static void on_user(const ct_db_error_t *err, PGresult *res, void *udata)
{
    reauth_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    const char *stored = PQntuples(res) == 1 ? ct_db_get(res, 0, "password_hash") : NULL;
    if (!stored) {
        ct_http_reply_error(ctx->req, CT_EUNAUTH, "sign in first");
        return;
    }
    ctx->stored = ct_http_strdup(ctx->req, stored);
    ctx->me.email = copy(ctx->req, res, "email");
    ctx->me.name = copy(ctx->req, res, "name");
    ctx->me.customer_id = copy(ctx->req, res, "customer_id");
    int rc = accounts_pw_verify(&ctx->a->svc->loop, &ctx->job, ctx->stored, ctx->password,
                                ctx->password_len, on_verified, ctx);
    if (rc != 0)
        ct_http_reply_error(ctx->req, CT_EINTERNAL, NULL);
}

static void on_throttled(int status, accounts_throttle_verdict_t verdict, unsigned retry_after_s,
                         void *udata)
{
    reauth_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    if (verdict != ACCOUNTS_THROTTLE_GO) {
        accounts_reply_too_many(ctx->req, retry_after_s ? retry_after_s : 60);
        return;
    }
    int rc = accounts_store_totp_get(ctx->a->svc->db, ctx->user_id, on_user, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void on_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    reauth_ctx_t *ctx = udata;
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", s->user_id);
    ctx->me.user_id = ctx->user_id;
    accounts_client_addr_of(ctx->a, req, ctx->addr);
    int rc = accounts_throttle_begin(ctx->a->svc->cache, &ctx->a->throttle, &ctx->throttle,
                                     ctx->addr, s->user_id, on_throttled, ctx);
    if (rc != 0)
        accounts_reply_unavailable(req);
}

void accounts_reauth(accounts_t *a, ct_http_req_t *req, const char *password, size_t password_len,
                     const char *why, accounts_reauth_cb cb, void *udata)
{
    reauth_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    ctx->password = password;
    ctx->password_len = password_len;
    ctx->why = why;
    ctx->cb = cb;
    ctx->udata = udata;
    accounts_auth(a, req, on_session, ctx);
}
