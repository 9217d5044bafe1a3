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
    const char *name;  /* borrowed from the body; NULL: kept */
    bool set_phone;    /* the body has "phone" */
    const char *phone; /* NULL: removed */
    char *prefs;       /* JSON text of the body's preferences, or NULL */
    json_t *out;       /* the profile as it now is */
    accounts_event_t event;
} profile_ctx_t;

/* The profile row as the API shows it (every kind, "both" by default). */
static json_t *profile_json(const PGresult *res)
{
    json_error_t jerr;
    json_t *stored = json_loads(ct_db_get(res, 0, "prefs"), 0, &jerr);
    json_t *prefs = json_object();
    for (size_t i = 0; accounts_pref_kinds[i]; i++) {
        const char *ch = json_string_value(json_object_get(stored, accounts_pref_kinds[i]));
        json_object_set_new(prefs, accounts_pref_kinds[i], json_string(ch ? ch : "both"));
    }
    json_decref(stored);
    return json_pack("{s:s, s:s, s:s, s:s?, s:o}", "user_id", ct_db_get(res, 0, "id"), "email",
                     ct_db_get(res, 0, "email"), "name", ct_db_get(res, 0, "name"), "phone",
                     ct_db_get(res, 0, "phone"), "preferences", prefs);
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
    ct_http_reply_json(ctx->req, 200, profile_json(res));
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

static void on_update_done(const ct_db_error_t *err, void *udata)
{
    profile_ctx_t *ctx = udata;
    accounts_event_dispose(&ctx->event);
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
    ct_logc_info(ct_http_request_id(ctx->req), "user %s updated their profile", ctx->user_id);
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    ct_http_reply_json(ctx->req, 200, ctx->out);
}

static void step_commit(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    profile_ctx_t *ctx = udata;
    accounts_audit_tx(ctx->a, ctx->req, tx, NULL, ctx->user_id, ctx->user_id, "profile_updated",
                      NULL, accounts_step_commit);
}

static void on_reread(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    profile_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "user not active");
        return;
    }
    ctx->out = profile_json(res);
    const char *customer = ct_db_get(res, 0, "customer_id");
    accounts_user_ref_t u = {.user_id = ctx->user_id,
                             .customer_id = customer ? customer : "",
                             .email = ct_db_get(res, 0, "email"),
                             .name = ct_db_get(res, 0, "name")};
    if (accounts_event_profile_updated(&u, ct_db_get(res, 0, "phone"),
                                       json_object_get(ctx->out, "preferences"),
                                       &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, customer ? customer : ctx->user_id, ctx->event.data,
                     ctx->event.len, ctx->event.event_id, step_commit);
}

static void reread(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    profile_ctx_t *ctx = udata;
    accounts_store_profile_lock(tx, ctx->user_id, on_reread);
}

static void on_updated(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    profile_ctx_t *ctx = udata;
    if (ctx->prefs)
        accounts_store_preferences_put(tx, ctx->user_id, ctx->prefs, reread);
    else
        reread(tx, NULL, ctx);
}

static void on_locked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    profile_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "user not active");
        return;
    }
    accounts_store_profile_update(tx, ctx->user_id, ctx->name, ctx->set_phone, ctx->phone,
                                  on_updated);
}

static void on_update_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    profile_ctx_t *ctx = udata;
    accounts_store_profile_lock(tx, ctx->user_id, on_locked);
}

static void on_update_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    profile_ctx_t *ctx = udata;
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", s->user_id);
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_update_begun, on_update_done, ctx);
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
    if (phone) {
        ctx->set_phone = true;
        if (!json_is_null(phone)) {
            ctx->phone = ct_valid_str(&v, body, "phone", 1, 64, true);
            if (ctx->phone && !accounts_phone_valid(ctx->phone))
                ct_valid_fail(&v, "phone", "expected E.164: \"+\" and 8 to 15 digits, or null");
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
    if (ct_valid_ok(&v) && !ctx->name && !ctx->set_phone && !prefs)
        ct_valid_fail(&v, "name", "nothing to change: give name, phone or preferences");
    if (!ct_valid_ok(&v)) {
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    ct_valid_dispose(&v);
    accounts_auth(a, req, on_update_session, ctx);
}
