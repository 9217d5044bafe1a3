/* GET and PATCH /api/v1/accounts/me/profile: the caller's contact details
 * and notification preferences (kind -> channel), published whole as
 * UserProfileUpdated so notify's read model follows. The e-mail address is
 * not changed here (it is the sign-in name and would need proving). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "citerne/validate.h"
#include "events.h"
#include "rules.h"
#include "store.h"

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    char user_id[CT_UUID_STRLEN + 1];
    const char *name;      /* borrowed from the body; NULL: kept */
    bool remove_phone;     /* "phone": null */
    const char *new_phone; /* a number to prove, or NULL */
    bool pending;          /* new_phone is not the user's phone: a code goes to it */
    char code[ACCOUNTS_PHONE_CODE_LEN + 1];
    char hash[ACCOUNTS_TOKEN_HEX + 1];
    accounts_phone_quota_t quota;
    const char *customer_id; /* the first, "" when none: the code event's key */
    const char *cur_name;    /* the name before this request */
    char *prefs;             /* JSON text of the body's preferences, or NULL */
    json_t *out;             /* the profile as it now is */
    accounts_event_t event, code_event;
} profile_ctx_t;

json_t *accounts_profile_json(const PGresult *res)
{
    json_error_t jerr;
    json_t *stored = json_loads(ct_db_get(res, 0, "prefs"), 0, &jerr);
    json_t *prefs = json_object();
    for (size_t i = 0; accounts_pref_kinds[i]; i++) {
        const char *ch = json_string_value(json_object_get(stored, accounts_pref_kinds[i]));
        json_object_set_new(prefs, accounts_pref_kinds[i], json_string(ch ? ch : "both"));
    }
    json_decref(stored);
    return json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:o}", "user_id", ct_db_get(res, 0, "id"),
                     "email", ct_db_get(res, 0, "email"), "name", ct_db_get(res, 0, "name"),
                     "phone", ct_db_get(res, 0, "phone"), "phone_pending",
                     ct_db_get(res, 0, "phone_pending"), "preferences", prefs);
}

void accounts_profile_publish(ct_db_tx_t *tx, const accounts_t *a, const char *user_id,
                              const PGresult *res, json_t *profile, accounts_event_t *event,
                              ct_db_tx_cb next)
{
    const char *customer = ct_db_get(res, 0, "customer_id");
    accounts_user_ref_t u = {.user_id = user_id,
                             .customer_id = customer ? customer : "",
                             .email = ct_db_get(res, 0, "email"),
                             .name = ct_db_get(res, 0, "name")};
    if (accounts_event_profile_updated(&u, ct_db_get(res, 0, "phone"),
                                       json_object_get(profile, "preferences"), event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, a->svc->topic, customer ? customer : user_id, event->data, event->len,
                     event->event_id, next);
}

/* ---- read ---- */

static void on_profile(const ct_db_error_t *err, PGresult *res, void *udata)
{
    profile_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (PQntuples(res) != 1) {
        ct_http_reply_error(ctx->req, CT_EUNAUTH, "sign in first");
        return;
    }
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    ct_http_reply_json(ctx->req, 200, accounts_profile_json(res));
}

static void on_get_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    profile_ctx_t *ctx = udata;
    int rc = accounts_store_profile_get(ctx->a->svc->db, s->user_id, on_profile, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}

void accounts_api_profile_get(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    profile_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    accounts_auth(a, req, on_get_session, ctx);
}

/* ---- update ---- */

static void forget(profile_ctx_t *ctx)
{
    accounts_event_dispose(&ctx->event);
    accounts_event_dispose(&ctx->code_event);
    sodium_memzero(ctx->code, sizeof ctx->code);
}

/* Whether the profile itself changes (a pending number does not change it). */
static bool profile_changes(const profile_ctx_t *ctx)
{
    return ctx->name || ctx->remove_phone || ctx->prefs;
}

static void on_update_done(const ct_db_error_t *err, void *udata)
{
    profile_ctx_t *ctx = udata;
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
    ct_logc_info(ct_http_request_id(ctx->req), "user %s updated their profile%s", ctx->user_id,
                 ctx->pending ? " (a new phone waits for its code)" : "");
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    ct_http_reply_json(ctx->req, 200, ctx->out);
}

static void step_audit_code(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    profile_ctx_t *ctx = udata;
    if (!ctx->pending) {
        accounts_step_commit(tx, NULL, ctx);
        return;
    }
    accounts_audit_tx(ctx->a, ctx->req, tx, NULL, ctx->user_id, ctx->user_id,
                      "phone_verification_requested", NULL, accounts_step_commit);
}

static void step_audit_profile(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    profile_ctx_t *ctx = udata;
    accounts_audit_tx(ctx->a, ctx->req, tx, NULL, ctx->user_id, ctx->user_id, "profile_updated",
                      NULL, step_audit_code);
}

/* The phone stays what it was (proven) until the code comes back: only
 * the name, a removal or the preferences publish the profile now. */
static void on_reread(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    profile_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "user not active");
        return;
    }
    ctx->out = accounts_profile_json(res);
    if (!profile_changes(ctx)) {
        step_audit_code(tx, NULL, ctx);
        return;
    }
    accounts_profile_publish(tx, ctx->a, ctx->user_id, res, ctx->out, &ctx->event,
                             step_audit_profile);
}

static void reread(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    profile_ctx_t *ctx = udata;
    accounts_store_profile_lock(tx, ctx->user_id, on_reread);
}

static void on_code_put(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    profile_ctx_t *ctx = udata;
    /* the name as this request leaves it */
    accounts_user_ref_t u = {.user_id = ctx->user_id,
                             .customer_id = ctx->customer_id,
                             .name = ctx->name ? ctx->name : ctx->cur_name};
    accounts_phone_code_append(tx, ctx->a, &u, ctx->new_phone, ctx->code,
                               ct_db_get_int(res, 0, "expires_ms", 0), &ctx->code_event, reread);
}

static void step_code(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    profile_ctx_t *ctx = udata;
    if (!ctx->pending) {
        reread(tx, NULL, ctx);
        return;
    }
    accounts_store_phone_pending_put(tx, ctx->user_id, ctx->new_phone, ctx->hash,
                                     (long)ctx->a->phone_code_ttl_s, on_code_put);
}

static void on_updated(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    profile_ctx_t *ctx = udata;
    if (ctx->prefs)
        accounts_store_preferences_put(tx, ctx->user_id, ctx->prefs, step_code);
    else
        step_code(tx, NULL, ctx);
}

static void on_locked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    profile_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "user not active");
        return;
    }
    const char *phone = ct_db_get(res, 0, "phone");
    if (ctx->pending && phone && strcmp(phone, ctx->new_phone) == 0)
        ctx->pending = false; /* proven meanwhile */
    const char *customer = ct_db_get(res, 0, "customer_id");
    ctx->customer_id = ct_http_strdup(ctx->req, customer ? customer : "");
    ctx->cur_name = ct_http_strdup(ctx->req, ct_db_get(res, 0, "name"));
    accounts_store_profile_update(tx, ctx->user_id, ctx->name, ctx->remove_phone, NULL, on_updated);
}

static void on_update_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    profile_ctx_t *ctx = udata;
    accounts_store_profile_lock(tx, ctx->user_id, on_locked);
}

static void begin_update(profile_ctx_t *ctx)
{
    if (ctx->pending) {
        accounts_phone_code_new(ctx->code);
        accounts_phone_code_hash(ctx->a, ctx->user_id, ctx->new_phone, ctx->code, ctx->hash);
    }
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_update_begun, on_update_done, ctx);
    if (rc != 0) {
        forget(ctx);
        accounts_reply_failure(ctx->req, rc);
    }
}

static void on_code_quota(int status, bool allowed, void *udata)
{
    profile_ctx_t *ctx = udata;
    if (status != 0) {
        accounts_reply_unavailable(ctx->req); /* fail closed: nothing changed */
        return;
    }
    if (!allowed) {
        accounts_reply_too_many(ctx->req, ctx->quota.number.retry_after_s);
        return;
    }
    begin_update(ctx);
}

/* A number already the user's needs no code (a form that sends the whole
 * profile back); any other takes a use of both quotas first. */
static void on_current(const ct_db_error_t *err, PGresult *res, void *udata)
{
    profile_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (PQntuples(res) != 1) {
        ct_http_reply_error(ctx->req, CT_EUNAUTH, "sign in first");
        return;
    }
    const char *phone = ct_db_get(res, 0, "phone");
    ctx->pending = !phone || strcmp(phone, ctx->new_phone) != 0;
    if (!ctx->pending) {
        begin_update(ctx);
        return;
    }
    if (accounts_phone_quota_take(ctx->a, &ctx->quota, ctx->user_id, ctx->new_phone, on_code_quota,
                                  ctx) != 0)
        accounts_reply_unavailable(ctx->req);
}

static void on_update_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    profile_ctx_t *ctx = udata;
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", s->user_id);
    if (!ctx->new_phone) {
        begin_update(ctx);
        return;
    }
    int rc = accounts_store_profile_get(ctx->a->svc->db, ctx->user_id, on_current, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}

void accounts_api_profile_update(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    profile_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    ct_valid_t v;
    ct_valid_init(&v);
    ctx->name = ct_valid_str(&v, body, "name", 1, 800, false);
    if (ctx->name && !accounts_text_ok(ctx->name, 1, 200))
        ct_valid_fail(&v, "name", "expected 1 to 200 characters, not only spaces");
    json_t *phone = json_object_get(body, "phone");
    if (phone && json_is_null(phone))
        ctx->remove_phone = true;
    else if (phone) {
        ctx->new_phone = ct_valid_str(&v, body, "phone", 1, 64, true);
        if (ctx->new_phone && !accounts_phone_valid(ctx->new_phone)) {
            ct_valid_fail(&v, "phone", "expected E.164: \"+\" and 8 to 15 digits, or null");
            ctx->new_phone = NULL;
        }
    }
    json_t *prefs = json_object_get(body, "preferences");
    if (prefs) {
        const char *kind;
        json_t *ch;
        if (!json_is_object(prefs))
            ct_valid_fail(&v, "preferences", "expected an object: kind -> channel");
        else
            json_object_foreach(prefs, kind, ch)
            {
                char field[96];
                snprintf(field, sizeof field, "preferences.%.60s", kind);
                if (!accounts_in_list(kind, accounts_pref_kinds))
                    ct_valid_fail(&v, field, "unknown kind of message");
                else if (!accounts_in_list(json_string_value(ch), accounts_pref_channels))
                    ct_valid_fail(&v, field, "expected email, sms, both or none");
            }
        if (ct_valid_ok(&v)) {
            char *text = json_dumps(prefs, JSON_COMPACT);
            ctx->prefs = text ? ct_http_strdup(req, text) : NULL;
            free(text);
        }
    }
    if (ct_valid_ok(&v) && !ctx->name && !phone && !prefs)
        ct_valid_fail(&v, "name", "nothing to change: give name, phone or preferences");
    if (!ct_valid_ok(&v)) {
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    ct_valid_dispose(&v);
    accounts_auth(a, req, on_update_session, ctx);
}
