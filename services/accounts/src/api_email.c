/* POST /api/v1/accounts/me/email and /me/email/confirm: changing the
 * sign-in e-mail. The signed-in user proves who they are with their
 * password; the new address proves itself by a link (a 256-bit token, only
 * its SHA-256 stored) that notify mails to it. The current address hears of
 * the request and of the change (sensitive activity). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "events.h"
#include "rules.h"
#include "sessions.h"
#include "store.h"

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    char user_id[CT_UUID_STRLEN + 1];
    char new_email[ACCOUNTS_EMAIL_MAX + 1];
    char token[ACCOUNTS_TOKEN_HEX + 1];
    char hash[ACCOUNTS_TOKEN_HEX + 1];
    accounts_user_ref_t u; /* strings in request memory */
    accounts_quota_t quota;
    accounts_event_t event, event2;
} email_ctx_t;

static email_ctx_t *ctx_new(ct_http_req_t *req, accounts_t *a)
{
    email_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    return ctx;
}

static void forget(email_ctx_t *ctx)
{
    accounts_event_dispose(&ctx->event);
    accounts_event_dispose(&ctx->event2);
    sodium_memzero(ctx->token, sizeof ctx->token);
}

static char *dup_or_empty(ct_http_req_t *req, const char *s)
{
    return ct_http_strdup(req, s ? s : "");
}

/* ---- request ---- */

/* The one answer, address free or taken (or past the hourly quota). */
static void reply_sent(ct_http_req_t *req)
{
    ct_http_reply_json(
        req, 202,
        json_pack("{s:s}", "status",
                  "if this address can be used, a confirmation link is on its way to it"));
}

static void on_request_done(const ct_db_error_t *err, void *udata)
{
    email_ctx_t *ctx = udata;
    forget(ctx);
    if (err && err->status == CT_EUNAUTH) {
        ct_http_reply_error(ctx->req, CT_EUNAUTH, "sign in first");
        return;
    }
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s asked to change their e-mail",
                 ctx->user_id);
    reply_sent(ctx->req);
}

static void on_request_appended(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    email_ctx_t *ctx = udata;
    /* no address in the register: the one asked for may be a stranger's */
    accounts_audit_tx(ctx->a, ctx->req, tx, NULL, ctx->user_id, ctx->user_id,
                      "email_change_requested", NULL, accounts_step_commit);
}

static void on_request_put(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    email_ctx_t *ctx = udata;
    long long expires = ct_db_get_int(res, 0, "expires_ms", 0);
    accounts_link_event_append(tx, ctx->a, &ctx->u, "/confirm-email", ctx->token, expires,
                               accounts_event_email_change_requested, &ctx->event,
                               on_request_appended);
}

/* The address is someone's: no link exists, the previous request is void
 * all the same (the newest request is what the user wants), and the current
 * address is told of the request in the same words. */
static void on_request_voided(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    email_ctx_t *ctx = udata;
    if (accounts_event_email_change_requested(&ctx->u, NULL, 0, &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    const char *key = ctx->u.customer_id[0] ? ctx->u.customer_id : ctx->user_id;
    ct_outbox_append(tx, ctx->a->svc->topic, key, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, on_request_appended);
}

static void on_request_user(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    email_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "user not active");
        return;
    }
    ctx->u.email = dup_or_empty(ctx->req, ct_db_get(res, 0, "email"));
    ctx->u.name = dup_or_empty(ctx->req, ct_db_get(res, 0, "name"));
    ctx->u.customer_id = dup_or_empty(ctx->req, ct_db_get(res, 0, "customer_id"));
    const char *taken = ct_db_get(res, 0, "taken");
    if (taken && strcmp(taken, "t") == 0)
        accounts_store_email_change_void(tx, ctx->user_id, on_request_voided);
    else
        accounts_store_email_change_put(tx, ctx->user_id, ctx->hash, ctx->new_email,
                                        (long)ctx->a->email_change_ttl_s, on_request_put);
}

static void on_request_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    email_ctx_t *ctx = udata;
    accounts_store_email_change_user(tx, ctx->user_id, ctx->new_email, on_request_user);
}

static void on_quota(int status, bool allowed, void *udata)
{
    email_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req);
        return;
    }
    if (!allowed) {
        /* enough links to that address for now: the same answer, no mail */
        ct_logc_info(ct_http_request_id(ctx->req), "e-mail change link not sent: hourly limit");
        reply_sent(ctx->req);
        return;
    }
    accounts_token_new(ctx->token, ctx->hash);
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_request_begun, on_request_done, ctx);
    if (rc != 0) {
        forget(ctx);
        accounts_reply_failure(ctx->req, rc);
    }
}

/* The password was right. */
static void on_reauth(ct_http_req_t *req, const accounts_me_t *me, void *udata)
{
    email_ctx_t *ctx = udata;
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", me->user_id);
    ctx->u.user_id = ctx->user_id;
    ctx->u.new_email = ctx->new_email;
    if (strcmp(me->email, ctx->new_email) == 0) {
        json_t *errors = json_array();
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "new_email", "message",
                                                "this is already your sign-in address"));
        ct_http_reply_invalid(req, errors);
        return;
    }
    /* a quota per address asked for, free or not, so that nobody floods a
     * mailbox by asking for it again and again, from one account or many */
    int rc =
        accounts_quota_take(ctx->a->svc->cache, &ctx->quota, "acct:mail:email:", ctx->new_email,
                            ACCOUNTS_MAILS_PER_HOUR, 3600, on_quota, ctx);
    if (rc != 0)
        accounts_reply_unavailable(req);
}

void accounts_api_email_change(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    email_ctx_t *ctx = ctx_new(req, a);
    json_t *new_email = json_object_get(body, "new_email");
    json_t *password = json_object_get(body, "password");
    json_t *errors = json_array();
    if (!json_is_string(new_email) ||
        accounts_email_normalise(json_string_value(new_email), ctx->new_email) != 0)
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "new_email", "message",
                                                "expected an e-mail address"));
    if (!json_is_string(password))
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "password", "message",
                                                "expected your current password"));
    if (json_array_size(errors) > 0) {
        ct_http_reply_invalid(req, errors);
        return;
    }
    json_decref(errors);
    accounts_reauth(a, req, json_string_value(password), json_string_length(password),
                    "give your current password", on_reauth, ctx);
}

/* ---- confirm ---- */

static void reply_taken(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 409, "email-taken", "This address already belongs to an account",
                          "nothing changed: ask for a change to another address");
}

static void on_confirm_done(const ct_db_error_t *err, void *udata)
{
    email_ctx_t *ctx = udata;
    forget(ctx);
    if (err && err->status == CT_EUNAUTH) {
        accounts_reply_bad_token(ctx->req);
        return;
    }
    /* taken at the check, or by a transaction that committed while ours
     * waited on the unique index */
    if (err && (err->status == CT_ECONFLICT ||
                (err->status == CT_EDB && err->sqlstate && strcmp(err->sqlstate, "23505") == 0))) {
        reply_taken(ctx->req);
        return;
    }
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s changed their e-mail", ctx->user_id);
    /* again after the change: a session opened meanwhile ends too */
    accounts_end_sessions_reply(ctx->a, ctx->req, ctx->user_id, "e-mail");
}

static void on_changed_appended(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    email_ctx_t *ctx = udata;
    accounts_audit_tx(
        ctx->a, ctx->req, tx, NULL, ctx->user_id, ctx->user_id, "email_changed",
        json_pack("{s:s, s:s}", "old_email", ctx->u.email, "new_email", ctx->u.new_email),
        accounts_step_commit);
}

static void on_profile_appended(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    email_ctx_t *ctx = udata;
    if (accounts_event_email_changed(&ctx->u, ct_now_ms(), &ctx->event2) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    const char *key = ctx->u.customer_id[0] ? ctx->u.customer_id : ctx->user_id;
    ct_outbox_append(tx, ctx->a->svc->topic, key, ctx->event2.data, ctx->event2.len,
                     ctx->event2.event_id, on_changed_appended);
}

/* The whole profile as it now is, for notify's read model (as PATCH
 * /me/profile publishes it). */
static void on_profile(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    email_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "user not active");
        return;
    }
    ctx->u.name = dup_or_empty(ctx->req, ct_db_get(res, 0, "name"));
    ctx->u.customer_id = dup_or_empty(ctx->req, ct_db_get(res, 0, "customer_id"));
    accounts_user_ref_t now = ctx->u;
    now.email = ctx->u.new_email;
    json_error_t jerr;
    json_t *prefs = json_loads(ct_db_get(res, 0, "prefs"), 0, &jerr);
    int rc = accounts_event_profile_updated(&now, ct_db_get(res, 0, "phone"), prefs, &ctx->event);
    json_decref(prefs);
    if (rc != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    const char *key = ctx->u.customer_id[0] ? ctx->u.customer_id : ctx->user_id;
    ct_outbox_append(tx, ctx->a->svc->topic, key, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, on_profile_appended);
}

static void on_email_set(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    email_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "user no longer active");
        return;
    }
    const char *changed = ct_db_get(res, 0, "changed");
    if (!changed || strcmp(changed, "t") != 0) {
        ct_db_tx_rollback(tx, CT_ECONFLICT, "address taken");
        return;
    }
    ctx->u.email = dup_or_empty(ctx->req, ct_db_get(res, 0, "old_email"));
    accounts_store_profile_lock(tx, ctx->user_id, on_profile);
}

static void on_link_taken(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    email_ctx_t *ctx = udata;
    const char *user_id = PQntuples(res) == 1 ? ct_db_get(res, 0, "user_id") : NULL;
    if (!user_id || strcmp(user_id, ctx->user_id) != 0) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "link used meanwhile");
        return;
    }
    snprintf(ctx->new_email, sizeof ctx->new_email, "%s", ct_db_get(res, 0, "new_email"));
    accounts_store_email_set(tx, ctx->user_id, ctx->new_email, on_email_set);
}

static void on_confirm_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    email_ctx_t *ctx = udata;
    accounts_store_email_change_take(tx, ctx->hash, on_link_taken);
}

static void on_revoked_before(int status, long long count, void *udata)
{
    (void)count;
    email_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req); /* nothing changed yet */
        return;
    }
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_confirm_begun, on_confirm_done, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void on_link_found(const ct_db_error_t *err, PGresult *res, void *udata)
{
    email_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (PQntuples(res) != 1) {
        accounts_reply_bad_token(ctx->req);
        return;
    }
    const char *taken = ct_db_get(res, 0, "taken");
    if (taken && strcmp(taken, "t") == 0) {
        reply_taken(ctx->req); /* the link stays: nothing changed */
        return;
    }
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", ct_db_get(res, 0, "user_id"));
    ctx->u.user_id = ctx->user_id;
    ctx->u.new_email = ctx->new_email;
    /* end every session first: if Redis cannot, nothing changes (503) */
    if (accounts_sessions_revoke_all(ctx->a->svc->cache, ctx->user_id, NULL, on_revoked_before,
                                     ctx) != 0)
        accounts_reply_unavailable(ctx->req);
}

void accounts_api_email_confirm(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    if (!a->svc->cache || !ct_cache_ready(a->svc->cache)) {
        accounts_reply_unavailable(req);
        return;
    }
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    json_t *token = json_object_get(body, "token");
    if (!json_is_string(token)) {
        json_t *errors = json_array();
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "token", "message",
                                                "expected the token of the link"));
        ct_http_reply_invalid(req, errors);
        return;
    }
    if (!accounts_token_valid(json_string_value(token))) {
        accounts_reply_bad_token(req);
        return;
    }
    email_ctx_t *ctx = ctx_new(req, a);
    accounts_token_hash(json_string_value(token), ctx->hash);
    int rc = accounts_store_email_change_find(a->svc->db, ctx->hash, on_link_found, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}
