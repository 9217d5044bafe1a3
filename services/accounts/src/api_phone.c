/* POST /api/v1/accounts/me/phone/verify and /me/phone/resend: proving a
 * new phone number before it is used. PATCH /me/profile with a new number
 * only makes it pending (api_profile.c): a 6-digit code goes to it by SMS
 * (PhoneVerificationRequested, through notify), the database keeps its
 * keyed hash, and the number becomes the user's phone when the code comes
 * back. Otherwise anyone could make Citerne text a stranger, and a typo
 * would send a customer's deliveries to someone else. */
#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "events.h"
#include "store.h"

void accounts_phone_code_new(char code[ACCOUNTS_PHONE_CODE_LEN + 1])
{
    snprintf(code, ACCOUNTS_PHONE_CODE_LEN + 1, "%06u", (unsigned)randombytes_uniform(1000000));
}

/* Keyed, and bound to the user and the number: the table alone does not
 * give the code back (10^6 codes would be tried offline in no time), and a
 * code is good for the number it was sent to only. */
void accounts_phone_code_hash(const accounts_t *a, const char *user_id, const char *phone,
                              const char *code, char hash[ACCOUNTS_TOKEN_HEX + 1])
{
    crypto_generichash_state st;
    unsigned char out[ACCOUNTS_TOKEN_HEX / 2];
    crypto_generichash_init(&st, a->phone_code_key, sizeof a->phone_code_key, sizeof out);
    const char *parts[] = {user_id, phone, code};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        crypto_generichash_update(&st, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
    crypto_generichash_final(&st, out, sizeof out);
    sodium_bin2hex(hash, ACCOUNTS_TOKEN_HEX + 1, out, sizeof out);
}

static void on_number_quota(int status, bool allowed, void *udata)
{
    accounts_phone_quota_t *q = udata;
    if (status == 0 && !allowed)
        accounts_quota_give_back(q->a->svc->cache, &q->user);
    q->cb(status, allowed, q->udata);
}

static void on_user_quota(int status, bool allowed, void *udata)
{
    accounts_phone_quota_t *q = udata;
    if (status != 0 || !allowed) {
        q->number.retry_after_s = q->user.retry_after_s;
        q->cb(status, allowed, q->udata);
        return;
    }
    if (accounts_quota_take(q->a->svc->cache, &q->number, "acct:sms:phone:", q->phone,
                            ACCOUNTS_PHONE_CODES_PER_NUMBER_DAY, 86400, on_number_quota, q) != 0)
        q->cb(CT_EUNAVAIL, false, q->udata);
}

int accounts_phone_quota_take(accounts_t *a, accounts_phone_quota_t *q, const char *user_id,
                              const char *phone, accounts_quota_cb cb, void *udata)
{
    memset(q, 0, sizeof *q);
    q->a = a;
    q->cb = cb;
    q->udata = udata;
    snprintf(q->phone, sizeof q->phone, "%s", phone);
    if (!a->svc->cache)
        return CT_EUNAVAIL;
    return accounts_quota_take(a->svc->cache, &q->user, "acct:sms:user:", user_id,
                               ACCOUNTS_PHONE_CODES_PER_USER_HOUR, 3600, on_user_quota, q);
}

void accounts_phone_code_append(ct_db_tx_t *tx, const accounts_t *a, const accounts_user_ref_t *u,
                                const char *phone, const char *code, int64_t expires_at_ms,
                                accounts_event_t *event, ct_db_tx_cb next)
{
    if (accounts_event_phone_verification_requested(u, phone, code, expires_at_ms, event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    const char *key = u->customer_id && u->customer_id[0] ? u->customer_id : u->user_id;
    ct_outbox_append(tx, a->svc->topic, key, event->data, event->len, event->event_id, next);
}

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    char user_id[CT_UUID_STRLEN + 1];
    char code[ACCOUNTS_PHONE_CODE_LEN + 1];
    char hash[ACCOUNTS_TOKEN_HEX + 1];
    char phone[24];
    bool bad_code; /* verify: the code was wrong, expired or void */
    bool shaped;   /* verify: the code given has the shape of one we send */
    accounts_phone_quota_t quota;
    accounts_user_ref_t u; /* strings in request memory */
    json_t *out;           /* verify: the profile as it now is */
    accounts_event_t event;
} phone_ctx_t;

static void forget(phone_ctx_t *ctx)
{
    accounts_event_dispose(&ctx->event);
    sodium_memzero(ctx->code, sizeof ctx->code);
}

void accounts_reply_bad_code(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 400, "invalid-code", "Invalid code",
                          "the code is wrong, expired or already used");
}

static void reply_none_pending(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 409, "no-phone-pending", "No phone number waits for a code",
                          "give the new number in PATCH /me/profile first");
}

/* ---- verify ---- */

static void on_verify_done(const ct_db_error_t *err, void *udata)
{
    phone_ctx_t *ctx = udata;
    forget(ctx);
    if (err && err->status == CT_EUNAUTH) {
        json_decref(ctx->out);
        ct_http_reply_error(ctx->req, CT_EUNAUTH, "sign in first");
        return;
    }
    if (err) {
        json_decref(ctx->out);
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (ctx->bad_code) {
        accounts_reply_bad_code(ctx->req); /* the wrong try is counted */
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s proved their new phone", ctx->user_id);
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    ct_http_reply_json(ctx->req, 200, ctx->out);
}

static void on_verified_appended(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    phone_ctx_t *ctx = udata;
    accounts_audit_tx(ctx->a, ctx->req, tx, NULL, ctx->user_id, ctx->user_id, "phone_verified",
                      NULL, accounts_step_commit);
}

/* The whole profile as it now is, for notify's read model (as PATCH
 * /me/profile publishes it). */
static void on_verified_profile(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    phone_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "user not active");
        return;
    }
    ctx->out = accounts_profile_json(res);
    accounts_profile_publish(tx, ctx->a, ctx->user_id, res, ctx->out, &ctx->event,
                             on_verified_appended);
}

static void on_phone_set(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    phone_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "user not active");
        return;
    }
    accounts_store_profile_lock(tx, ctx->user_id, on_verified_profile);
}

static void on_pending_locked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    phone_ctx_t *ctx = udata;
    const char *live = PQntuples(res) == 1 ? ct_db_get(res, 0, "live") : NULL;
    if (!live || strcmp(live, "t") != 0 || ct_db_get_int(res, 0, "tries_left", 0) <= 0) {
        ctx->bad_code = true; /* none, expired or void: nothing to count */
        accounts_step_commit(tx, NULL, ctx);
        return;
    }
    snprintf(ctx->phone, sizeof ctx->phone, "%s", ct_db_get(res, 0, "phone"));
    accounts_phone_code_hash(ctx->a, ctx->user_id, ctx->phone, ctx->code, ctx->hash);
    const char *stored = ct_db_get(res, 0, "code_hash");
    if (!stored || strlen(stored) != ACCOUNTS_TOKEN_HEX ||
        sodium_memcmp(stored, ctx->hash, ACCOUNTS_TOKEN_HEX) != 0) {
        ctx->bad_code = true;
        accounts_store_phone_pending_tried(tx, ctx->user_id, accounts_step_commit);
        return;
    }
    accounts_store_phone_verified(tx, ctx->user_id, ctx->phone, on_phone_set);
}

static void on_verify_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    phone_ctx_t *ctx = udata;
    accounts_store_phone_pending_lock(tx, ctx->user_id, on_pending_locked);
}

static bool code_shaped(const char *s)
{
    if (!s || strlen(s) != ACCOUNTS_PHONE_CODE_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static void on_verify_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    phone_ctx_t *ctx = udata;
    /* no code of another shape was ever sent: no try to count (looked at
     * after the session, so that a caller without one learns only 401) */
    if (!ctx->shaped) {
        accounts_reply_bad_code(req);
        return;
    }
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", s->user_id);
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_verify_begun, on_verify_done, ctx);
    if (rc != 0) {
        forget(ctx);
        accounts_reply_failure(req, rc);
    }
}

void accounts_api_phone_verify(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    json_t *code = json_object_get(body, "code");
    if (!json_is_string(code)) {
        json_t *errors = json_array();
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "code", "message",
                                                "expected the 6-digit code sent by SMS"));
        ct_http_reply_invalid(req, errors);
        return;
    }
    phone_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    ctx->shaped = code_shaped(json_string_value(code));
    snprintf(ctx->code, sizeof ctx->code, "%s", json_string_value(code));
    accounts_auth(a, req, on_verify_session, ctx);
}

/* ---- resend ---- */

static void on_resend_done(const ct_db_error_t *err, void *udata)
{
    phone_ctx_t *ctx = udata;
    forget(ctx);
    if (err && err->status == CT_EUNAUTH) {
        ct_http_reply_error(ctx->req, CT_EUNAUTH, "sign in first");
        return;
    }
    if (err && err->status == CT_ECONFLICT) {
        reply_none_pending(ctx->req); /* verified or replaced meanwhile */
        return;
    }
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s asked for a new phone code", ctx->user_id);
    ct_http_reply_json(ctx->req, 202, json_pack("{s:s}", "phone_pending", ctx->phone));
}

static void on_resend_appended(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    phone_ctx_t *ctx = udata;
    accounts_audit_tx(ctx->a, ctx->req, tx, NULL, ctx->user_id, ctx->user_id,
                      "phone_verification_requested", NULL, accounts_step_commit);
}

static void on_resend_put(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    phone_ctx_t *ctx = udata;
    accounts_phone_code_append(tx, ctx->a, &ctx->u, ctx->phone, ctx->code,
                               ct_db_get_int(res, 0, "expires_ms", 0), &ctx->event,
                               on_resend_appended);
}

static void on_resend_locked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    phone_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "user not active");
        return;
    }
    const char *pending = ct_db_get(res, 0, "phone_pending");
    if (!pending || strcmp(pending, ctx->phone) != 0) {
        ct_db_tx_rollback(tx, CT_ECONFLICT, "no pending number");
        return;
    }
    const char *customer = ct_db_get(res, 0, "customer_id");
    ctx->u.customer_id = ct_http_strdup(ctx->req, customer ? customer : "");
    ctx->u.name = ct_http_strdup(ctx->req, ct_db_get(res, 0, "name"));
    accounts_store_phone_pending_put(tx, ctx->user_id, ctx->phone, ctx->hash,
                                     (long)ctx->a->phone_code_ttl_s, on_resend_put);
}

static void on_resend_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    phone_ctx_t *ctx = udata;
    accounts_store_profile_lock(tx, ctx->user_id, on_resend_locked);
}

static void on_resend_quota(int status, bool allowed, void *udata)
{
    phone_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req); /* fail closed */
        return;
    }
    if (!allowed) {
        accounts_reply_too_many(ctx->req, ctx->quota.number.retry_after_s);
        return;
    }
    accounts_phone_code_new(ctx->code);
    accounts_phone_code_hash(ctx->a, ctx->user_id, ctx->phone, ctx->code, ctx->hash);
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_resend_begun, on_resend_done, ctx);
    if (rc != 0) {
        forget(ctx);
        accounts_reply_failure(ctx->req, rc);
    }
}

static void on_resend_profile(const ct_db_error_t *err, PGresult *res, void *udata)
{
    phone_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (PQntuples(res) != 1) {
        ct_http_reply_error(ctx->req, CT_EUNAUTH, "sign in first");
        return;
    }
    const char *pending = ct_db_get(res, 0, "phone_pending");
    if (!pending) {
        reply_none_pending(ctx->req);
        return;
    }
    snprintf(ctx->phone, sizeof ctx->phone, "%s", pending);
    if (accounts_phone_quota_take(ctx->a, &ctx->quota, ctx->user_id, ctx->phone, on_resend_quota,
                                  ctx) != 0)
        accounts_reply_unavailable(ctx->req);
}

static void on_resend_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    phone_ctx_t *ctx = udata;
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", s->user_id);
    ctx->u.user_id = ctx->user_id;
    int rc = accounts_store_profile_get(ctx->a->svc->db, ctx->user_id, on_resend_profile, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}

void accounts_api_phone_resend(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    phone_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    accounts_auth(a, req, on_resend_session, ctx);
}
