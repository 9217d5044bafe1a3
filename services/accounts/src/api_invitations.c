/* /api/v1/accounts/me/invitations[/{id}/accept|decline]: a signed-in user
 * sees the invitations of customers' admins to act for them, and accepts
 * or declines each. Nothing is granted before acceptance: an admin who
 * typed the address of an existing account learns nothing of it (see
 * api_collaborators.c). */
#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "events.h"
#include "rules.h"
#include "store.h"

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    char user_id[CT_UUID_STRLEN + 1];
    char id[CT_UUID_STRLEN + 1]; /* the invitation */
    char customer_id[CT_UUID_STRLEN + 1];
    char role[16];
    accounts_event_t event;
} inv_ctx_t;

static inv_ctx_t *ctx_new(ct_http_req_t *req, accounts_t *a)
{
    inv_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    return ctx;
}

static void reply_not_found(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 404, "not-found", "No such invitation",
                          "it may have expired, been revoked or answered already");
}

/* ---- list ---- */

static void on_list(const ct_db_error_t *err, PGresult *res, void *udata)
{
    inv_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "invitation_id",
                           ct_db_get(res, i, "id"), "customer_id", ct_db_get(res, i, "customer_id"),
                           "customer_number", ct_db_get(res, i, "customer_number"), "customer_name",
                           ct_db_get(res, i, "customer_name"), "role", ct_db_get(res, i, "role"),
                           "invited_by_name", ct_db_get(res, i, "invited_by_name"), "expires_at",
                           (json_int_t)ct_db_get_int(res, i, "expires_ms", 0)));
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    ct_http_reply_json(ctx->req, 200, json_pack("{s:o}", "invitations", arr));
}

static void on_list_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    inv_ctx_t *ctx = udata;
    int rc = accounts_store_my_invitations(ctx->a->svc->db, s->user_id, on_list, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}

void accounts_api_invitations_list(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    accounts_auth(a, req, on_list_session, ctx_new(req, a));
}

/* ---- accept, decline ---- */

static bool reply_tx_error(inv_ctx_t *ctx, const ct_db_error_t *err)
{
    if (!err)
        return false;
    if (err->status == CT_ENOTFOUND)
        reply_not_found(ctx->req);
    else if (err->status == CT_ECONFLICT)
        ct_http_reply_problem(ctx->req, 409, "already-collaborator",
                              "You already act for this customer", NULL);
    else
        accounts_reply_db_error(ctx->req, err);
    return true;
}

/* Reads {id} and the caller; false (404 replied) when malformed. */
static bool read_id(inv_ctx_t *ctx, const ct_session_t *s)
{
    const char *id = ct_http_param(ctx->req, "id");
    if (!ct_uuid_valid(id)) {
        reply_not_found(ctx->req);
        return false;
    }
    accounts_uuid_lower(ctx->id, id);
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", s->user_id);
    return true;
}

static void begin(inv_ctx_t *ctx, const ct_session_t *s, ct_db_tx_cb first, ct_db_tx_done_cb done)
{
    if (!read_id(ctx, s))
        return;
    int rc = ct_db_tx_begin(ctx->a->svc->db, first, done, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void on_accept_done(const ct_db_error_t *err, void *udata)
{
    inv_ctx_t *ctx = udata;
    accounts_event_dispose(&ctx->event);
    if (reply_tx_error(ctx, err))
        return;
    ct_logc_info(ct_http_request_id(ctx->req), "user %s accepted invitation %s to customer %s",
                 ctx->user_id, ctx->id, ctx->customer_id);
    /* the session holds its grants: the customer shows from the next sign-in */
    ct_http_reply_json(ctx->req, 200,
                       json_pack("{s:s, s:s}", "customer_id", ctx->customer_id, "role", ctx->role));
}

static void on_accept_appended(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    inv_ctx_t *ctx = udata;
    accounts_audit_tx(ctx->a, ctx->req, tx, ctx->customer_id, ctx->user_id, ctx->user_id,
                      "invitation_accepted", json_pack("{s:s}", "role", ctx->role),
                      accounts_step_commit);
}

static void on_accept_granted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    inv_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) { /* linked meanwhile: the invitation stays until it expires */
        ct_db_tx_rollback(tx, CT_ECONFLICT, "already a collaborator");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, ctx->customer_id, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, on_accept_appended);
}

static void on_accept_taken(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    inv_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_ENOTFOUND, "no live invitation");
        return;
    }
    snprintf(ctx->customer_id, sizeof ctx->customer_id, "%s", ct_db_get(res, 0, "customer_id"));
    snprintf(ctx->role, sizeof ctx->role, "%s", ct_db_get(res, 0, "role"));
    accounts_user_ref_t u = {.user_id = ctx->user_id,
                             .customer_id = ctx->customer_id,
                             .email = ct_db_get(res, 0, "email"),
                             .name = ct_db_get(res, 0, "name")};
    /* access granted now: CollaboratorAdded, by the admin who invited */
    if (accounts_event_collaborator_added(&u, ctx->role, ct_db_get(res, 0, "invited_by"), NULL, 0,
                                          &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    accounts_store_grant_add(tx, ctx->user_id, ctx->customer_id, ctx->role, on_accept_granted);
}

static void on_accept_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    inv_ctx_t *ctx = udata;
    accounts_store_invitation_accept(tx, ctx->id, ctx->user_id, on_accept_taken);
}

static void on_accept_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    (void)req;
    begin(udata, s, on_accept_begun, on_accept_done);
}

void accounts_api_invitation_accept(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    accounts_auth(a, req, on_accept_session, ctx_new(req, a));
}

static void on_decline_done(const ct_db_error_t *err, void *udata)
{
    inv_ctx_t *ctx = udata;
    if (reply_tx_error(ctx, err))
        return;
    ct_logc_info(ct_http_request_id(ctx->req), "user %s declined invitation %s", ctx->user_id,
                 ctx->id);
    ct_http_reply(ctx->req, 204, NULL, NULL, 0);
}

/* The register of the customer says the invitation of the address the admin
 * typed was declined, without naming the account (no actor, no subject):
 * the admin learns that someone answered, not who they are. */
static void on_declined(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    inv_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_ENOTFOUND, "no invitation");
        return;
    }
    snprintf(ctx->customer_id, sizeof ctx->customer_id, "%s", ct_db_get(res, 0, "customer_id"));
    accounts_audit_tx(ctx->a, ctx->req, tx, ctx->customer_id, NULL, NULL, "invitation_declined",
                      json_pack("{s:s, s:s}", "email", ct_db_get(res, 0, "email"), "role",
                                ct_db_get(res, 0, "role")),
                      accounts_step_commit);
}

static void on_decline_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    inv_ctx_t *ctx = udata;
    accounts_store_invitation_decline(tx, ctx->id, ctx->user_id, on_declined);
}

static void on_decline_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    (void)req;
    begin(udata, s, on_decline_begun, on_decline_done);
}

void accounts_api_invitation_decline(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    accounts_auth(a, req, on_decline_session, ctx_new(req, a));
}
