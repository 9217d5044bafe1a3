/* Two-factor authentication: POST /2fa/totp/enrol, /2fa/totp/confirm,
 * /2fa/totp/disable (the caller's own, session + CSRF) and POST /login/totp
 * (the second step of a login). Codes are HMACs: checked on the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "events.h"
#include "mfa.h"
#include "password.h"
#include "rules.h"
#include "store.h"
#include "totp.h"

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    char user_id[CT_UUID_STRLEN + 1];
    const char *code;          /* TOTP code, borrowed from the body */
    const char *recovery_code; /* or a recovery code */
    const char *password;      /* disable: borrowed from the body */
    size_t password_len;
    char *password_hash; /* disable: request memory */
    char *email;         /* enrol: labels the entry in the authenticator app; disable */
    char *name;          /* disable: for TotpDisabled */
    char customer_id[CT_UUID_STRLEN + 1]; /* disable: the user's first customer */
    bool turned_off;
    bool by_operator; /* the back office turned it off (lost phone and codes) */
    accounts_event_t event;
    unsigned char secret[ACCOUNTS_TOTP_SECRET_BYTES];
    char hashes[ACCOUNTS_RECOVERY_CODES * 65];
    char codes[ACCOUNTS_RECOVERY_CODES][ACCOUNTS_RECOVERY_CODE_LEN + 1];
    char mfa_token[ACCOUNTS_MFA_TOKEN_LEN + 1];
    accounts_throttle_t throttle; /* login: the first step's attempt */
    char addr[ACCOUNTS_ADDR_MAX];
    accounts_pw_job_t job;
} totp_ctx_t;

static totp_ctx_t *ctx_new(ct_http_req_t *req, accounts_t *a)
{
    totp_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    return ctx;
}

static void forget_secrets(totp_ctx_t *ctx)
{
    sodium_memzero(ctx->secret, sizeof ctx->secret);
    sodium_memzero(ctx->codes, sizeof ctx->codes);
}

static void reply_bad_code(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 400, "invalid-code", "Invalid code",
                          "the code is wrong, expired or already used");
}

static void reply_no_key(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 503, "totp-unavailable",
                          "Two-factor authentication is not configured",
                          "the service has no CITERNE_ACCOUNTS_SECRET_KEY");
}

/* Opens the sealed secret of a totp_get row; false (logged) when it cannot. */
static bool open_secret(totp_ctx_t *ctx, const PGresult *res)
{
    const char *hex = ct_db_get(res, 0, "box");
    unsigned char box[ACCOUNTS_TOTP_BOX_BYTES];
    size_t len = 0;
    if (!ctx->a->have_secret_key || !hex ||
        sodium_hex2bin(box, sizeof box, hex, strlen(hex), NULL, &len, NULL) != 0 ||
        accounts_totp_open(ctx->a->secret_key, ctx->user_id, box, len, ctx->secret) != 0) {
        ct_logc_error(ct_http_request_id(ctx->req),
                      "the TOTP secret of user %s does not open (key changed?)", ctx->user_id);
        return false;
    }
    return true;
}

static bool is_on(const PGresult *res)
{
    const char *c = ct_db_get(res, 0, "confirmed");
    return c && strcmp(c, "t") == 0;
}

/* {code} or {recovery_code}, exactly one; replies 400 itself otherwise. */
static bool parse_code(totp_ctx_t *ctx, json_t *body)
{
    json_t *code = json_object_get(body, "code");
    json_t *recovery = json_object_get(body, "recovery_code");
    if (json_is_string(code) && !recovery)
        ctx->code = json_string_value(code);
    else if (json_is_string(recovery) && !code)
        ctx->recovery_code = json_string_value(recovery);
    else {
        json_t *errors = json_array();
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "code", "message",
                                                "expected a string: code or recovery_code"));
        ct_http_reply_invalid(ctx->req, errors);
        return false;
    }
    return true;
}

/* ---- enrol ---- */

static void reply_already_on(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 409, "totp-already-on", "Two-factor authentication is already on",
                          "turn it off first to enrol another device");
}

static void on_put(const ct_db_error_t *err, PGresult *res, void *udata)
{
    totp_ctx_t *ctx = udata;
    if (err) {
        forget_secrets(ctx);
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (PQntuples(res) == 0) {
        forget_secrets(ctx);
        reply_already_on(ctx->req);
        return;
    }
    char *b32 = NULL;
    char *uri = accounts_totp_uri(ctx->secret, ctx->email, &b32);
    char *svg = uri ? accounts_qr_svg(uri) : NULL;
    forget_secrets(ctx);
    if (!uri || !svg) {
        ct_http_reply_error(ctx->req, CT_EINTERNAL, NULL);
    } else {
        ct_logc_info(ct_http_request_id(ctx->req), "user %s enrols a TOTP device", ctx->user_id);
        ct_http_add_header(ctx->req, "Cache-Control", "no-store");
        ct_http_reply_json(
            ctx->req, 200,
            json_pack("{s:s, s:s, s:s}", "otpauth_uri", uri, "secret", b32, "qr_svg", svg));
    }
    if (uri)
        sodium_memzero(uri, strlen(uri));
    if (b32)
        sodium_memzero(b32, strlen(b32));
    free(uri);
    free(b32);
    free(svg);
}

/* Enrolment and confirmation both need the signed-in user's row with 2FA
 * still off; false when it already answered. */
static bool replied_unless_off(totp_ctx_t *ctx, const ct_db_error_t *err, PGresult *res)
{
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return false;
    }
    if (PQntuples(res) != 1) {
        ct_http_reply_error(ctx->req, CT_EUNAUTH, "sign in first");
        return false;
    }
    if (is_on(res)) {
        reply_already_on(ctx->req);
        return false;
    }
    return true;
}

/* The session's user, then their 2FA row to cb. */
static void get_session_user(totp_ctx_t *ctx, const ct_session_t *s, ct_db_result_cb cb)
{
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", s->user_id);
    int rc = accounts_store_totp_get(ctx->a->svc->db, s->user_id, cb, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void on_enrol_user(const ct_db_error_t *err, PGresult *res, void *udata)
{
    totp_ctx_t *ctx = udata;
    if (!replied_unless_off(ctx, err, res))
        return;
    ctx->email = ct_http_strdup(ctx->req, ct_db_get(res, 0, "email"));
    randombytes_buf(ctx->secret, sizeof ctx->secret);
    unsigned char box[ACCOUNTS_TOTP_BOX_BYTES];
    accounts_totp_seal(ctx->a->secret_key, ctx->user_id, ctx->secret, box);
    char hex[2 * ACCOUNTS_TOTP_BOX_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, box, sizeof box);
    int rc = accounts_store_totp_put(ctx->a->svc->db, ctx->user_id, hex, on_put, ctx);
    if (rc != 0) {
        forget_secrets(ctx);
        accounts_reply_failure(ctx->req, rc);
    }
}

static void on_enrol_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    (void)req;
    get_session_user(udata, s, on_enrol_user);
}

void accounts_api_totp_enrol(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    if (!a->have_secret_key) {
        reply_no_key(req);
        return;
    }
    accounts_auth(a, req, on_enrol_session, ctx_new(req, a));
}

/* ---- confirm ---- */

static void on_confirm_done(const ct_db_error_t *err, void *udata)
{
    totp_ctx_t *ctx = udata;
    if (err && err->status == CT_EUNAUTH) {
        forget_secrets(ctx);
        reply_bad_code(ctx->req);
        return;
    }
    if (err) {
        forget_secrets(ctx);
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s turned 2FA on", ctx->user_id);
    json_t *codes = json_array();
    for (int i = 0; i < ACCOUNTS_RECOVERY_CODES; i++)
        json_array_append_new(codes, json_string(ctx->codes[i]));
    forget_secrets(ctx);
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    ct_http_reply_json(ctx->req, 200,
                       json_pack("{s:b, s:o}", "enabled", 1, "recovery_codes", codes));
}

static void on_codes_stored(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    totp_ctx_t *ctx = udata;
    accounts_audit_tx(ctx->a, ctx->req, tx, NULL, ctx->user_id, ctx->user_id, "totp_enabled", NULL,
                      accounts_step_commit);
}

static void on_confirmed(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    totp_ctx_t *ctx = udata;
    if (PQntuples(res) == 0) { /* turned on meanwhile, or the step was used */
        ct_db_tx_rollback(tx, CT_EUNAUTH, "code not accepted");
        return;
    }
    accounts_store_recovery_replace(tx, ctx->user_id, ctx->hashes, on_codes_stored);
}

static void on_confirm_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    totp_ctx_t *ctx = udata;
    int64_t step = 0;
    int rc = accounts_totp_check(ctx->secret, ct_now_ms() / 1000, ctx->code, &step);
    if (rc != 0) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "wrong code");
        return;
    }
    accounts_store_totp_confirm(tx, ctx->user_id, step, on_confirmed);
}

static void make_recovery_codes(totp_ctx_t *ctx)
{
    size_t n = 0;
    for (int i = 0; i < ACCOUNTS_RECOVERY_CODES; i++) {
        accounts_recovery_code_new(ctx->codes[i]);
        unsigned char h[crypto_hash_sha256_BYTES];
        accounts_recovery_code_hash(ctx->codes[i], h);
        if (i > 0)
            ctx->hashes[n++] = ',';
        sodium_bin2hex(ctx->hashes + n, sizeof ctx->hashes - n, h, sizeof h);
        n += 2 * sizeof h;
    }
}

static void on_confirm_user(const ct_db_error_t *err, PGresult *res, void *udata)
{
    totp_ctx_t *ctx = udata;
    if (!replied_unless_off(ctx, err, res))
        return;
    if (!ct_db_get(res, 0, "box")) {
        ct_http_reply_problem(ctx->req, 409, "totp-not-enrolled", "No enrolment to confirm",
                              "enrol first (POST /api/v1/accounts/2fa/totp/enrol)");
        return;
    }
    if (!open_secret(ctx, res)) {
        ct_http_reply_error(ctx->req, CT_EINTERNAL, NULL);
        return;
    }
    make_recovery_codes(ctx);
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_confirm_begun, on_confirm_done, ctx);
    if (rc != 0) {
        forget_secrets(ctx);
        accounts_reply_failure(ctx->req, rc);
    }
}

static void on_confirm_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    (void)req;
    get_session_user(udata, s, on_confirm_user);
}

void accounts_api_totp_confirm(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    if (!a->have_secret_key) {
        reply_no_key(req);
        return;
    }
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    totp_ctx_t *ctx = ctx_new(req, a);
    json_t *code = json_object_get(body, "code");
    if (!json_is_string(code)) {
        json_t *errors = json_array();
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "code", "message",
                                                "expected the 6 digits the app shows"));
        ct_http_reply_invalid(req, errors);
        return;
    }
    ctx->code = json_string_value(code);
    accounts_auth(a, req, on_confirm_session, ctx);
}

/* ---- checking a code of a user with 2FA on (disable, login) ---- */

typedef void (*code_checked_fn)(totp_ctx_t *ctx, bool ok);

/* The TOTP code (accepted once per step) or the recovery code (once). */
typedef struct {
    totp_ctx_t *ctx;
    code_checked_fn next;
} check_t;

static void on_code_recorded(const ct_db_error_t *err, PGresult *res, void *udata)
{
    check_t *c = udata;
    if (err) {
        forget_secrets(c->ctx);
        accounts_reply_db_error(c->ctx->req, err);
        return;
    }
    c->next(c->ctx, PQntuples(res) == 1);
}

/* res: the user's totp_get row. Replies itself on a database failure. */
static void check_code(totp_ctx_t *ctx, const PGresult *res, code_checked_fn next)
{
    check_t *c = ct_http_alloc(ctx->req, sizeof *c);
    c->ctx = ctx;
    c->next = next;
    int rc;
    if (ctx->recovery_code) {
        unsigned char h[crypto_hash_sha256_BYTES];
        char hex[2 * sizeof h + 1];
        if (!accounts_recovery_code_hash(ctx->recovery_code, h)) {
            next(ctx, false);
            return;
        }
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        rc = accounts_store_recovery_use(ctx->a->svc->db, ctx->user_id, hex, on_code_recorded, c);
    } else {
        int64_t step = 0;
        if (!open_secret(ctx, res)) {
            ct_http_reply_error(ctx->req, CT_EINTERNAL, NULL);
            return;
        }
        bool ok = accounts_totp_check(ctx->secret, ct_now_ms() / 1000, ctx->code, &step) == 0;
        forget_secrets(ctx);
        if (!ok) {
            next(ctx, false);
            return;
        }
        rc = accounts_store_totp_accept(ctx->a->svc->db, ctx->user_id, step, on_code_recorded, c);
    }
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

/* ---- disable ---- */

static void on_disable_done(const ct_db_error_t *err, void *udata)
{
    totp_ctx_t *ctx = udata;
    accounts_event_dispose(&ctx->event);
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (ctx->turned_off) {
        ct_logc_info(ct_http_request_id(ctx->req), "user %s turned 2FA off", ctx->user_id);
    }
    ct_http_reply(ctx->req, 204, NULL, NULL, 0);
}

static void disable_commit(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    totp_ctx_t *ctx = udata;
    accounts_audit_tx(ctx->a, ctx->req, tx, NULL, ctx->by_operator ? NULL : ctx->user_id,
                      ctx->user_id, "totp_disabled",
                      json_pack("{s:b, s:b}", "with_recovery_code", ctx->recovery_code != NULL,
                                "by_operator", ctx->by_operator),
                      accounts_step_commit);
}

static void on_deleted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    totp_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_commit(tx); /* turned off meanwhile */
        return;
    }
    ctx->turned_off = true;
    accounts_user_ref_t u = {.user_id = ctx->user_id,
                             .customer_id = ctx->customer_id,
                             .email = ctx->email,
                             .name = ctx->name};
    if (accounts_event_totp_disabled(&u, ctx->recovery_code != NULL, ct_now_ms(), &ctx->event) !=
        0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, ctx->customer_id[0] ? ctx->customer_id : ctx->user_id,
                     ctx->event.data, ctx->event.len, ctx->event.event_id, disable_commit);
}

static void on_disable_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    totp_ctx_t *ctx = udata;
    accounts_store_totp_delete_tx(tx, ctx->user_id, on_deleted);
}

static void on_disable_code(totp_ctx_t *ctx, bool ok)
{
    if (!ok) {
        ct_http_reply_problem(ctx->req, 400, "invalid-code", "Wrong password or code",
                              "turning 2FA off needs your password and a current code");
        return;
    }
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_disable_begun, on_disable_done, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void on_disable_user2(const ct_db_error_t *err, PGresult *res, void *udata);

static void on_disable_password(int status, const char *hash, void *udata)
{
    (void)hash;
    totp_ctx_t *ctx = udata;
    if (status == UV_ECANCELED) {
        ct_http_reply_error(ctx->req, CT_ECLOSED, NULL);
        return;
    }
    if (status != 0) {
        on_disable_code(ctx, false);
        return;
    }
    accounts_throttle_succeeded(ctx->a->svc->cache, &ctx->a->throttle, &ctx->throttle);
    /* read again: the row is needed to check the code */
    int rc = accounts_store_totp_get(ctx->a->svc->db, ctx->user_id, on_disable_user2, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void on_disable_user2(const ct_db_error_t *err, PGresult *res, void *udata)
{
    totp_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (PQntuples(res) != 1 || !is_on(res)) {
        ct_http_reply_problem(ctx->req, 409, "totp-not-on", "Two-factor authentication is off",
                              NULL);
        return;
    }
    const char *customer = ct_db_get(res, 0, "customer_id");
    ctx->email = ct_http_strdup(ctx->req, ct_db_get(res, 0, "email"));
    ctx->name = ct_http_strdup(ctx->req, ct_db_get(res, 0, "name"));
    snprintf(ctx->customer_id, sizeof ctx->customer_id, "%s", customer ? customer : "");
    check_code(ctx, res, on_disable_code);
}

static void on_disable_user(const ct_db_error_t *err, PGresult *res, void *udata)
{
    totp_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (PQntuples(res) != 1 || !is_on(res) || !ct_db_get(res, 0, "password_hash")) {
        ct_http_reply_problem(ctx->req, 409, "totp-not-on", "Two-factor authentication is off",
                              NULL);
        return;
    }
    ctx->password_hash = ct_http_strdup(ctx->req, ct_db_get(res, 0, "password_hash"));
    int rc = accounts_pw_verify(&ctx->a->svc->loop, &ctx->job, ctx->password_hash, ctx->password,
                                ctx->password_len, on_disable_password, ctx);
    if (rc != 0)
        ct_http_reply_error(ctx->req, CT_EINTERNAL, NULL);
}

static void on_disable_throttled(int status, accounts_throttle_verdict_t verdict,
                                 unsigned retry_after_s, void *udata)
{
    totp_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    if (verdict != ACCOUNTS_THROTTLE_GO) {
        accounts_reply_too_many(ctx->req, retry_after_s ? retry_after_s : 60);
        return;
    }
    int rc = accounts_store_totp_get(ctx->a->svc->db, ctx->user_id, on_disable_user, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void on_disable_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    totp_ctx_t *ctx = udata;
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", s->user_id);
    /* the password is checked here too: throttled like a login, by user id */
    accounts_client_addr_of(ctx->a, req, ctx->addr);
    int rc = accounts_throttle_begin(ctx->a->svc->cache, &ctx->a->throttle, &ctx->throttle,
                                     ctx->addr, s->user_id, on_disable_throttled, ctx);
    if (rc != 0)
        accounts_reply_unavailable(req);
}

void accounts_api_totp_disable(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    totp_ctx_t *ctx = ctx_new(req, a);
    json_t *password = json_object_get(body, "password");
    if (!json_is_string(password)) {
        json_t *errors = json_array();
        json_array_append_new(
            errors, json_pack("{s:s, s:s}", "field", "password", "message", "expected a string"));
        ct_http_reply_invalid(req, errors);
        return;
    }
    ctx->password = json_string_value(password);
    ctx->password_len = json_string_length(password);
    if (!parse_code(ctx, body))
        return;
    accounts_auth(a, req, on_disable_session, ctx);
}

/* ---- login, second step ---- */

static void reply_login_code_refused(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 401, "invalid-code", "Invalid or expired code",
                          "sign in again if the code keeps failing");
}

static void on_login_grants(const ct_db_error_t *err, PGresult *res, void *udata)
{
    totp_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_session_t s;
    if (!accounts_session_fill(&s, res)) {
        reply_login_code_refused(ctx->req); /* disabled meanwhile */
        return;
    }
    accounts_mfa_end(ctx->a->svc->cache, ctx->mfa_token);
    accounts_throttle_succeeded(ctx->a->svc->cache, &ctx->a->throttle, &ctx->throttle);
    accounts_sign_in(ctx->a, ctx->req, &s, ctx->addr, ct_db_get(res, 0, "email"),
                     ct_db_get(res, 0, "name"));
}

static void on_login_code(totp_ctx_t *ctx, bool ok)
{
    if (!ok) {
        ct_logc_info(ct_http_request_id(ctx->req), "user %s: code refused", ctx->user_id);
        reply_login_code_refused(ctx->req);
        return;
    }
    int rc = accounts_store_grants(ctx->a->svc->db, ctx->user_id, on_login_grants, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void on_login_user(const ct_db_error_t *err, PGresult *res, void *udata)
{
    totp_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (PQntuples(res) != 1 || !is_on(res)) {
        reply_login_code_refused(ctx->req);
        return;
    }
    check_code(ctx, res, on_login_code);
}

static void on_mfa_taken(int status, bool found, const char *user_id, const accounts_throttle_t *t,
                         void *udata)
{
    totp_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    if (!found) {
        reply_login_code_refused(ctx->req);
        return;
    }
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", user_id);
    ctx->throttle = *t;
    int rc = accounts_store_totp_get(ctx->a->svc->db, ctx->user_id, on_login_user, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

void accounts_api_login_totp(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    if (!a->svc->cache || !ct_cache_ready(a->svc->cache)) {
        accounts_reply_unavailable(req);
        return;
    }
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    totp_ctx_t *ctx = ctx_new(req, a);
    json_t *token = json_object_get(body, "mfa_token");
    if (!json_is_string(token)) {
        json_t *errors = json_array();
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "mfa_token", "message",
                                                "expected the token of the first step"));
        ct_http_reply_invalid(req, errors);
        return;
    }
    if (!parse_code(ctx, body))
        return;
    if (json_string_length(token) != ACCOUNTS_MFA_TOKEN_LEN) {
        reply_login_code_refused(req);
        return;
    }
    snprintf(ctx->mfa_token, sizeof ctx->mfa_token, "%s", json_string_value(token));
    accounts_client_addr_of(a, req, ctx->addr);
    int rc = accounts_mfa_take(a->svc->cache, ctx->mfa_token, on_mfa_taken, ctx);
    if (rc != 0)
        accounts_reply_unavailable(req);
}

/* ---- the back office turns 2FA off (lost phone and codes, changed key) ---- */

static void on_operator_user(const ct_db_error_t *err, PGresult *res, void *udata)
{
    totp_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (PQntuples(res) != 1) {
        ct_http_reply_problem(ctx->req, 404, "not-found", "No such active user", NULL);
        return;
    }
    if (!is_on(res)) {
        ct_http_reply_problem(ctx->req, 409, "totp-not-on", "Two-factor authentication is off",
                              NULL);
        return;
    }
    const char *customer = ct_db_get(res, 0, "customer_id");
    ctx->email = ct_http_strdup(ctx->req, ct_db_get(res, 0, "email"));
    ctx->name = ct_http_strdup(ctx->req, ct_db_get(res, 0, "name"));
    snprintf(ctx->customer_id, sizeof ctx->customer_id, "%s", customer ? customer : "");
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_disable_begun, on_disable_done, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

void accounts_api_totp_operator_disable(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    if (!accounts_require_operator(a, req))
        return;
    const char *id = ct_http_param(req, "id");
    if (!ct_uuid_valid(id)) {
        ct_http_reply_problem(req, 404, "not-found", "No such active user", NULL);
        return;
    }
    totp_ctx_t *ctx = ctx_new(req, a);
    ctx->by_operator = true;
    accounts_uuid_lower(ctx->user_id, id);
    int rc = accounts_store_totp_get(a->svc->db, ctx->user_id, on_operator_user, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}
