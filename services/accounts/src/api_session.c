/* POST /api/v1/accounts/login, POST /api/v1/accounts/logout and
 * GET /api/v1/accounts/me: the user's session. */
#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/session.h"
#include "citerne/outbox.h"
#include "events.h"
#include "mfa.h"
#include "password.h"
#include "rules.h"
#include "store.h"

/* One answer for every failed login, whatever failed. */
static void reply_invalid_credentials(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 401, "invalid-credentials", "Invalid e-mail or password", NULL);
}

static json_t *grants_json(const ct_session_t *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < s->ngrants; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "customer_id", s->grants[i].customer_id,
                                             "role", ct_role_name(s->grants[i].role)));
    return arr;
}

/* ---- login ---- */

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    char email[ACCOUNTS_EMAIL_MAX + 1];
    const char *password; /* borrowed from the request's JSON */
    size_t password_len;
    char *hash; /* the user's stored hash, request memory; NULL when unknown */
    ct_session_t session;
    accounts_pw_job_t job;
    accounts_throttle_t throttle;
    char addr[ACCOUNTS_ADDR_MAX];
    bool totp;                    /* 2FA on: a code is required after the password */
    char *user_email, *user_name; /* request memory */
} login_ctx_t;

/* ---- signing in (shared with the second step, api_totp.c) ---- */

#define DEVICE_COOKIE "citerne_device"
#define DEVICE_HEX 64

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    ct_session_t session;
    char addr[ACCOUNTS_ADDR_MAX];
    char *email, *name; /* request memory */
    char device[64];    /* "Firefox on Linux" */
    char device_id[DEVICE_HEX + 1];
    char device_hash[DEVICE_HEX + 1];
    accounts_event_t event;
} sign_in_ctx_t;

static void on_session(int status, const char *token, void *udata)
{
    sign_in_ctx_t *ctx = udata;
    if (status != 0) {
        if (status == CT_EUNAVAIL || status == CT_ECLOSED) {
            accounts_reply_unavailable(ctx->req);
        } else {
            ct_logc_error(ct_http_request_id(ctx->req), "session not created: %s",
                          ct_strerror(status));
            ct_http_reply_error(ctx->req, CT_EINTERNAL, NULL);
        }
        return;
    }
    const ct_session_t *s = &ctx->session;
    ct_logc_info(ct_http_request_id(ctx->req), "user %s signed in", s->user_id);
    accounts_audit(ctx->a, ctx->req, NULL, s->user_id, s->user_id, "signed_in",
                   json_pack("{s:s}", "device", ctx->device));
    ct_session_set_cookies(ctx->req, token, s, ctx->a->session_ttl_s);
    char cookie[160];
    snprintf(cookie, sizeof cookie,
             DEVICE_COOKIE "=%s; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=31536000",
             ctx->device_id);
    ct_http_add_header(ctx->req, "Set-Cookie", cookie);
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    json_t *out = json_pack("{s:s, s:s, s:o}", "user_id", s->user_id, "csrf", s->csrf, "customers",
                            grants_json(s));
    ct_http_reply_json(ctx->req, 200, out);
}

static void on_device_done(const ct_db_error_t *err, void *udata)
{
    sign_in_ctx_t *ctx = udata;
    accounts_event_dispose(&ctx->event);
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    int rc =
        accounts_session_create(ctx->a->svc->cache, &ctx->a->sessions, &ctx->session,
                                ct_http_header(ctx->req, "User-Agent"), ctx->addr, on_session, ctx);
    if (rc != 0)
        on_session(rc, NULL, ctx);
}

static void device_commit(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

static void on_device_seen(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    sign_in_ctx_t *ctx = udata;
    const char *fresh = ct_db_get(res, 0, "fresh");
    if (!fresh || strcmp(fresh, "t") != 0 || ct_db_get_int(res, 0, "known", 0) == 0) {
        ct_db_tx_commit(tx); /* a known device, or the very first one */
        return;
    }
    const char *customer = ctx->session.ngrants > 0 ? ctx->session.grants[0].customer_id : "";
    accounts_user_ref_t u = {.user_id = ctx->session.user_id,
                             .customer_id = customer,
                             .email = ctx->email,
                             .name = ctx->name};
    if (accounts_event_new_device(&u, ctx->device, ctx->addr, ct_now_ms(), &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, customer[0] ? customer : ctx->session.user_id,
                     ctx->event.data, ctx->event.len, ctx->event.event_id, device_commit);
}

static void on_device_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    sign_in_ctx_t *ctx = udata;
    accounts_store_device_seen(tx, ctx->session.user_id, ctx->device_hash, on_device_seen);
}

static bool is_hex64(const char *s)
{
    if (!s || strlen(s) != DEVICE_HEX)
        return false;
    for (size_t i = 0; i < DEVICE_HEX; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

void accounts_sign_in(accounts_t *a, ct_http_req_t *req, const ct_session_t *s, const char *addr,
                      const char *email, const char *name)
{
    sign_in_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    ctx->session = *s;
    snprintf(ctx->addr, sizeof ctx->addr, "%s", addr);
    ctx->email = ct_http_strdup(req, email ? email : "");
    ctx->name = ct_http_strdup(req, name ? name : "");
    accounts_device_label(ct_http_header(req, "User-Agent"), ctx->device);
    /* the browser's device id: kept when it is one we could have set */
    const char *known = ct_http_cookie(req, DEVICE_COOKIE);
    if (is_hex64(known))
        memcpy(ctx->device_id, known, DEVICE_HEX + 1);
    else
        ct_random_hex(ctx->device_id, DEVICE_HEX / 2);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)ctx->device_id, DEVICE_HEX);
    sodium_bin2hex(ctx->device_hash, sizeof ctx->device_hash, digest, sizeof digest);
    int rc = ct_db_tx_begin(a->svc->db, on_device_begun, on_device_done, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}

bool accounts_session_fill(ct_session_t *s, const PGresult *res)
{
    memset(s, 0, sizeof *s);
    int rows = PQntuples(res);
    const char *user_id = rows > 0 ? ct_db_get(res, 0, "id") : NULL;
    if (!user_id || strlen(user_id) != CT_UUID_STRLEN)
        return false;
    memcpy(s->user_id, user_id, CT_UUID_STRLEN + 1);
    for (int i = 0; i < rows && s->ngrants < CT_SESSION_MAX_GRANTS; i++) {
        const char *customer_id = ct_db_get(res, i, "customer_id");
        ct_role_t role;
        if (!customer_id || strlen(customer_id) != CT_UUID_STRLEN ||
            ct_role_parse(ct_db_get(res, i, "role"), &role) != 0)
            continue;
        ct_session_grant_t *g = &s->grants[s->ngrants++];
        memcpy(g->customer_id, customer_id, CT_UUID_STRLEN + 1);
        g->role = role;
    }
    return true;
}

/* ---- login, first step ---- */

static void on_mfa_token(int status, const char *token, void *udata)
{
    login_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s: password accepted, code required",
                 ctx->session.user_id);
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    ct_http_reply_json(ctx->req, 200,
                       json_pack("{s:b, s:s}", "mfa_required", 1, "mfa_token", token));
}

static void password_accepted(login_ctx_t *ctx);

static void on_rehash_stored(const ct_db_error_t *err, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    if (err)
        ct_log_warn("password rehash not stored: %s", ct_strerror(err->status));
}

static void on_rehashed(int status, const char *hash, void *udata)
{
    login_ctx_t *ctx = udata;
    if (status == UV_ECANCELED) {
        ct_http_reply_error(ctx->req, CT_ECLOSED, NULL);
        return;
    }
    if (status == 0) {
        /* only if the hash is still the one verified (no reset meanwhile) */
        if (accounts_store_password_rehash(ctx->a->svc->db, ctx->session.user_id, ctx->hash, hash,
                                           on_rehash_stored, NULL) == 0)
            ct_logc_info(ct_http_request_id(ctx->req), "user %s: password rehashed",
                         ctx->session.user_id);
    }
    sodium_memzero(ctx->job.hash, sizeof ctx->job.hash);
    password_accepted(ctx);
}

static void on_verified(int status, const char *hash, void *udata)
{
    (void)hash;
    login_ctx_t *ctx = udata;
    if (status == UV_ECANCELED) {
        ct_http_reply_error(ctx->req, CT_ECLOSED, NULL);
        return;
    }
    if (status != 0 || !ctx->hash) {
        ct_logc_info(ct_http_request_id(ctx->req), "login refused");
        if (ctx->hash) /* a known user: their admins see the failed attempt */
            accounts_audit(ctx->a, ctx->req, NULL, NULL, ctx->session.user_id, "sign_in_failed",
                           NULL);
        reply_invalid_credentials(ctx->req);
        return;
    }
    if (crypto_pwhash_str_needs_rehash(ctx->hash, ctx->a->pwhash_ops, ctx->a->pwhash_mem) != 0) {
        /* the hash predates the current parameters: the password is at
         * hand, so store it hashed with them */
        int rc = accounts_pw_hash(&ctx->a->svc->loop, &ctx->job, ctx->password, ctx->password_len,
                                  ctx->a->pwhash_ops, ctx->a->pwhash_mem, on_rehashed, ctx);
        if (rc == 0)
            return;
    }
    password_accepted(ctx);
}

static void password_accepted(login_ctx_t *ctx)
{
    if (ctx->totp) {
        /* the attempt stays counted until the code is right too */
        int rc = accounts_mfa_create(ctx->a->svc->cache, ctx->session.user_id, &ctx->throttle,
                                     ctx->a->mfa_ttl_s, on_mfa_token, ctx);
        if (rc != 0)
            accounts_reply_unavailable(ctx->req);
        return;
    }
    accounts_throttle_succeeded(ctx->a->svc->cache, &ctx->a->throttle, &ctx->throttle);
    accounts_sign_in(ctx->a, ctx->req, &ctx->session, ctx->addr, ctx->user_email, ctx->user_name);
}

static void verify(login_ctx_t *ctx)
{
    /* Unknown user: verify against the dummy hash all the same, so the
     * answer takes as long as for a wrong password. */
    const char *hash = ctx->hash ? ctx->hash : ctx->a->dummy_hash;
    int rc = accounts_pw_verify(&ctx->a->svc->loop, &ctx->job, hash, ctx->password,
                                ctx->password_len, on_verified, ctx);
    if (rc != 0) {
        ct_logc_error(ct_http_request_id(ctx->req), "cannot queue password check: %s",
                      uv_strerror(rc));
        ct_http_reply_error(ctx->req, CT_EINTERNAL, NULL);
    }
}

static void on_user(const ct_db_error_t *err, PGresult *res, void *udata)
{
    login_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    const char *hash = PQntuples(res) > 0 ? ct_db_get(res, 0, "password_hash") : NULL;
    if (hash && accounts_session_fill(&ctx->session, res)) {
        ctx->hash = ct_http_strdup(ctx->req, hash);
        ctx->user_email = ct_http_strdup(ctx->req, ct_db_get(res, 0, "email"));
        ctx->user_name = ct_http_strdup(ctx->req, ct_db_get(res, 0, "name"));
        const char *totp = ct_db_get(res, 0, "totp");
        ctx->totp = totp && strcmp(totp, "t") == 0;
    }
    verify(ctx);
}

static void on_throttled(int status, accounts_throttle_verdict_t verdict, unsigned retry_after_s,
                         void *udata)
{
    login_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req); /* fail closed */
        return;
    }
    if (verdict == ACCOUNTS_THROTTLE_ADDR_WAIT) {
        char secs[16], detail[96];
        snprintf(secs, sizeof secs, "%u", retry_after_s);
        snprintf(detail, sizeof detail, "retry in %u s", retry_after_s);
        ct_logc_info(ct_http_request_id(ctx->req), "login from %s delayed %u s", ctx->addr,
                     retry_after_s);
        ct_http_add_header(ctx->req, "Retry-After", secs);
        ct_http_reply_problem(ctx->req, 429, "too-many-attempts", "Too many sign-in attempts",
                              detail);
        return;
    }
    if (verdict == ACCOUNTS_THROTTLE_ACCOUNT_FULL) {
        ct_logc_warn(ct_http_request_id(ctx->req), "login refused unevaluated: account limit");
        reply_invalid_credentials(ctx->req);
        return;
    }
    if (!ctx->email[0]) {
        verify(ctx); /* no such user can exist: answer like for any unknown one */
        return;
    }
    int rc = accounts_store_login_lookup(ctx->a->svc->db, ctx->email, on_user, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

void accounts_api_login(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    if (!a->svc->cache || !ct_cache_ready(a->svc->cache)) {
        accounts_reply_unavailable(req); /* fail closed, before spending a hash */
        return;
    }
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    json_t *email = json_object_get(body, "email");
    json_t *password = json_object_get(body, "password");
    if (!json_is_string(email) || !json_is_string(password)) {
        json_t *errors = json_array();
        if (!json_is_string(email))
            json_array_append_new(
                errors, json_pack("{s:s, s:s}", "field", "email", "message", "expected a string"));
        if (!json_is_string(password))
            json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "password", "message",
                                                    "expected a string"));
        ct_http_reply_invalid(req, errors);
        return;
    }
    login_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    memset(ctx, 0, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    ctx->password = json_string_value(password);
    ctx->password_len = json_string_length(password);
    bool plausible = accounts_email_normalise(json_string_value(email), ctx->email) == 0;
    accounts_client_addr_of(a, req, ctx->addr);
    int rc = accounts_throttle_begin(a->svc->cache, &a->throttle, &ctx->throttle, ctx->addr,
                                     plausible ? ctx->email : json_string_value(email),
                                     on_throttled, ctx);
    if (rc != 0)
        accounts_reply_unavailable(req);
}

/* ---- logout ---- */

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    char user_id[CT_UUID_STRLEN + 1];
    ct_session_t session; /* /me: a copy of the caller's session */
} session_ctx_t;

static void clear_cookies(ct_http_req_t *req)
{
    ct_http_add_header(req, "Set-Cookie",
                       CT_SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
    ct_http_add_header(req, "Set-Cookie",
                       CT_SESSION_CSRF_COOKIE "=; Path=/; Max-Age=0; Secure; SameSite=Lax");
}

static void on_deleted(int status, long long count, void *udata)
{
    (void)count; /* 0 when it expired meanwhile: signed out all the same */
    session_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s signed out", ctx->user_id);
    accounts_audit(ctx->a, ctx->req, NULL, ctx->user_id, ctx->user_id, "signed_out", NULL);
    clear_cookies(ctx->req);
    ct_http_reply(ctx->req, 204, NULL, NULL, 0);
}

static void on_logout_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    session_ctx_t *ctx = udata;
    /* The lookup found the session of this very cookie, so it is there. */
    const char *token = ct_http_cookie(req, CT_SESSION_COOKIE);
    char h[ACCOUNTS_SESSION_HASH_LEN + 1];
    accounts_session_hash(token ? token : "", h);
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", s->user_id);
    int rc = accounts_session_revoke(ctx->a->svc->cache, s->user_id, h, on_deleted, ctx);
    if (rc != 0)
        accounts_reply_unavailable(req);
}

void accounts_api_logout(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    session_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    accounts_auth(a, req, on_logout_session, ctx);
}

/* ---- me ---- */

static void on_me_user(const ct_db_error_t *err, PGresult *res, void *udata)
{
    session_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (PQntuples(res) != 1) {
        /* the session outlived its user */
        ct_http_reply_error(ctx->req, CT_EUNAUTH, "sign in first");
        return;
    }
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    json_t *out = json_pack("{s:s, s:s, s:s, s:s?, s:o}", "user_id", ctx->session.user_id, "email",
                            ct_db_get(res, 0, "email"), "name", ct_db_get(res, 0, "name"), "phone",
                            ct_db_get(res, 0, "phone"), "customers", grants_json(&ctx->session));
    ct_http_reply_json(ctx->req, 200, out);
}

static void on_me_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    session_ctx_t *ctx = udata;
    ctx->session = *s;
    int rc = accounts_store_user_get(ctx->a->svc->db, s->user_id, on_me_user, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}

void accounts_api_me(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    session_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    accounts_auth(a, req, on_me_session, ctx);
}
