/* GET /api/v1/accounts/me/export: everything accounts holds about the
 * caller, as one JSON download. POST /api/v1/accounts/me/close {password}:
 * the caller closes their account (access ended, personal data erased). */
#include <stdio.h>
#include <stdlib.h>
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

#define MAX_CUSTOMERS 64

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    char user_id[CT_UUID_STRLEN + 1];
    char own_session[ACCOUNTS_SESSION_HASH_LEN + 1];
    json_t *doc; /* export: the document being filled */
    /* close */
    char customers[MAX_CUSTOMERS][CT_UUID_STRLEN + 1];
    const char *customer_ptrs[MAX_CUSTOMERS];
    size_t ncustomers;
    char blocked[CT_UUID_STRLEN + 1]; /* a customer left without an admin */
    accounts_event_t event;
} me_ctx_t;

static me_ctx_t *ctx_new(ct_http_req_t *req, accounts_t *a)
{
    me_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    return ctx;
}

/* ---- export ---- */

static void on_sessions(int status, const accounts_session_info_t *infos, size_t n, void *udata)
{
    me_ctx_t *ctx = udata;
    if (status != 0) {
        json_decref(ctx->doc);
        accounts_reply_unavailable(ctx->req);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char created[32], seen[32];
        accounts_time_text(infos[i].created_at, created);
        accounts_time_text(infos[i].last_seen, seen);
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:s, s:s, s:s}", "device", infos[i].device,
                                        "user_agent", infos[i].user_agent, "address", infos[i].addr,
                                        "created_at", created, "last_seen_at", seen));
    }
    json_object_set_new(ctx->doc, "sessions", arr);
    json_object_set_new(ctx->doc, "not_included",
                        json_string("held by other services, each with its own download: "
                                    "messages sent to you at /api/v1/notify/me/export, "
                                    "invoices at /api/v1/billing/invoices?customer_id=, "
                                    "tank readings at /api/v1/telemetry/sites/{site_id}/readings.csv, "
                                    "orders and deliveries at /api/v1/orders/orders?site_id="));
    char disposition[96];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"citerne-%s.json\"",
             ctx->user_id);
    ct_http_add_header(ctx->req, "Content-Disposition", disposition);
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    accounts_audit(ctx->a, ctx->req, NULL, ctx->user_id, ctx->user_id, "personal_data_exported",
                   NULL);
    ct_http_reply_json(ctx->req, 200, ctx->doc);
}

static void on_data(const ct_db_error_t *err, PGresult *res, void *udata)
{
    me_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    json_error_t jerr;
    ctx->doc = PQntuples(res) == 1 ? json_loads(ct_db_get(res, 0, "doc"), 0, &jerr) : NULL;
    if (!ctx->doc) {
        ct_http_reply_error(ctx->req, CT_EUNAUTH, "sign in first");
        return;
    }
    int rc = accounts_sessions_list(ctx->a->svc->cache, ctx->user_id, on_sessions, ctx);
    if (rc != 0) {
        json_decref(ctx->doc);
        accounts_reply_unavailable(ctx->req);
    }
}

static void on_export_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    me_ctx_t *ctx = udata;
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", s->user_id);
    int rc = accounts_store_personal_data(ctx->a->svc->db, s->user_id, on_data, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}

void accounts_api_me_export(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    accounts_auth(a, req, on_export_session, ctx_new(req, a));
}

/* ---- close ---- */

static void on_all_ended(int status, long long count, void *udata)
{
    (void)count;
    me_ctx_t *ctx = udata;
    if (status != 0)
        ct_logc_error(ct_http_request_id(ctx->req),
                      "account %s closed; its sessions could not be ended now", ctx->user_id);
    ct_http_add_header(ctx->req, "Set-Cookie",
                       CT_SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
    ct_http_add_header(ctx->req, "Set-Cookie",
                       CT_SESSION_CSRF_COOKIE "=; Path=/; Max-Age=0; Secure; SameSite=Lax");
    ct_http_reply(ctx->req, 204, NULL, NULL, 0);
}

static void on_close_done(const ct_db_error_t *err, void *udata)
{
    me_ctx_t *ctx = udata;
    accounts_event_dispose(&ctx->event);
    if (err && err->status == CT_ECONFLICT) {
        char detail[160];
        snprintf(detail, sizeof detail,
                 "you are the only admin of customer %s: make someone else admin first",
                 ctx->blocked);
        ct_http_reply_problem(ctx->req, 409, "last-admin", "A customer keeps at least one admin",
                              detail);
        return;
    }
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s closed their account", ctx->user_id);
    if (accounts_sessions_revoke_all(ctx->a->svc->cache, ctx->user_id, NULL, on_all_ended, ctx) !=
        0)
        on_all_ended(CT_EUNAVAIL, 0, ctx);
}

static void on_closed(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    me_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_EUNAUTH, "not active");
        return;
    }
    if (accounts_event_user_closed(ctx->user_id, ctx->customer_ptrs, ctx->ncustomers, ct_now_ms(),
                                   &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    const char *key = ctx->ncustomers > 0 ? ctx->customers[0] : ctx->user_id;
    ct_outbox_append(tx, ctx->a->svc->topic, key, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, accounts_step_commit);
}

static void close_now(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    me_ctx_t *ctx = udata;
    accounts_store_close(tx, ctx->user_id, on_closed);
}

static void on_checked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    me_ctx_t *ctx = udata;
    for (int i = 0; i < PQntuples(res) && ctx->ncustomers < MAX_CUSTOMERS; i++) {
        const char *customer = ct_db_get(res, i, "customer_id");
        if (strcmp(ct_db_get(res, i, "role"), "admin") == 0 &&
            ct_db_get_int(res, i, "other_admins", 0) == 0) {
            snprintf(ctx->blocked, sizeof ctx->blocked, "%s", customer);
            ct_db_tx_rollback(tx, CT_ECONFLICT, "last admin");
            return;
        }
        snprintf(ctx->customers[ctx->ncustomers], CT_UUID_STRLEN + 1, "%s", customer);
        ctx->customer_ptrs[ctx->ncustomers] = ctx->customers[ctx->ncustomers];
        ctx->ncustomers++;
    }
    /* written before the grants go, for every customer they still name */
    accounts_audit_tx(ctx->a, ctx->req, tx, NULL, ctx->user_id, ctx->user_id, "account_closed",
                      NULL, close_now);
}

static void on_close_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    me_ctx_t *ctx = udata;
    accounts_store_close_check(tx, ctx->user_id, on_checked);
}

/* The password was right. */
static void on_reauth(ct_http_req_t *req, const accounts_me_t *me, void *udata)
{
    me_ctx_t *ctx = udata;
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", me->user_id);
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_close_begun, on_close_done, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}

void accounts_api_me_close(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    json_t *password = json_object_get(body, "password");
    if (!json_is_string(password)) {
        json_t *errors = json_array();
        json_array_append_new(
            errors, json_pack("{s:s, s:s}", "field", "password", "message", "expected a string"));
        ct_http_reply_invalid(req, errors);
        return;
    }
    me_ctx_t *ctx = ctx_new(req, a);
    accounts_reauth(a, req, json_string_value(password), json_string_length(password),
                    "closing the account needs your password", on_reauth, ctx);
}
