/* /api/v1/accounts/customers/{id}/collaborators[/{user_id}]: a customer's
 * admins list, invite, re-role and remove the people who act for it. The
 * caller's role is read from the database in the same transaction (not from
 * the session, which may be older); a customer the caller does not act for
 * is 404, whatever the id; a non-admin member gets 403. */
#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "citerne/validate.h"
#include "events.h"
#include "rules.h"
#include "sessions.h"
#include "store.h"

#define TOKEN_BYTES 32
#define TOKEN_HEX (2 * TOKEN_BYTES)

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    char caller[CT_UUID_STRLEN + 1];
    char customer_id[CT_UUID_STRLEN + 1];
    char user_id[CT_UUID_STRLEN + 1]; /* the collaborator */
    char email[ACCOUNTS_EMAIL_MAX + 1];
    const char *name, *role; /* borrowed from the body */
    char *user_name;
    char status[16];
    char token[TOKEN_HEX + 1];
    char hash[TOKEN_HEX + 1];
    bool invited;             /* a new or pending user: an activation link goes with it */
    const char *audit_action; /* what the register records (a literal) */
    ct_db_tx_cb on_target;    /* the collaborator's locked grant, once the caller is admin */
    accounts_event_t event;
} collab_ctx_t;

static const char *const roles[] = {"admin", "orderer", "viewer", NULL};

static collab_ctx_t *ctx_new(ct_http_req_t *req, accounts_t *a)
{
    collab_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    return ctx;
}

static void forget(collab_ctx_t *ctx)
{
    accounts_event_dispose(&ctx->event);
    sodium_memzero(ctx->token, sizeof ctx->token);
}

static void reply_not_found(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 404, "not-found", "No such customer or collaborator", NULL);
}

static void reply_forbidden(ct_http_req_t *req)
{
    ct_http_reply_problem(req, 403, "forbidden", "Only the customer's admins may do this", NULL);
}

/* Reads {id} (and {user_id}) into ctx; false (404 replied) when malformed. */
static bool read_ids(collab_ctx_t *ctx, const ct_session_t *s, bool with_user)
{
    snprintf(ctx->caller, sizeof ctx->caller, "%s", s->user_id);
    const char *id = ct_http_param(ctx->req, "id");
    const char *user = with_user ? ct_http_param(ctx->req, "user_id") : NULL;
    if (!ct_uuid_valid(id) || (with_user && !ct_uuid_valid(user))) {
        reply_not_found(ctx->req);
        return false;
    }
    accounts_uuid_lower(ctx->customer_id, id);
    if (with_user)
        accounts_uuid_lower(ctx->user_id, user);
    return true;
}

/* In a transaction step: rolls back with 404/403 unless the row says admin. */
static bool caller_is_admin(ct_db_tx_t *tx, PGresult *res)
{
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_ENOTFOUND, "not a member");
        return false;
    }
    if (strcmp(ct_db_get(res, 0, "role"), "admin") != 0) {
        ct_db_tx_rollback(tx, CT_EFORBIDDEN, "not an admin");
        return false;
    }
    return true;
}

static bool reply_tx_error(collab_ctx_t *ctx, const ct_db_error_t *err)
{
    if (!err)
        return false;
    if (err->status == CT_ENOTFOUND)
        reply_not_found(ctx->req);
    else if (err->status == CT_EFORBIDDEN)
        reply_forbidden(ctx->req);
    else if (err->status == CT_ECONFLICT)
        ct_http_reply_problem(
            ctx->req, 409,
            err->message && strstr(err->message, "admin") ? "last-admin" : "already-collaborator",
            err->message && strstr(err->message, "admin")
                ? "A customer keeps at least one admin"
                : "This person already acts for the customer",
            NULL);
    else
        accounts_reply_db_error(ctx->req, err);
    return true;
}

/* The register's row, in the transaction, then commit. */
static void step_commit(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    collab_ctx_t *ctx = udata;
    json_t *detail = strcmp(ctx->audit_action, "collaborator_added") == 0
                         ? json_pack("{s:s, s:s}", "email", ctx->email, "role", ctx->role)
                     : strcmp(ctx->audit_action, "collaborator_removed") == 0
                         ? json_pack("{s:s}", "email", ctx->email)
                         : json_pack("{s:s}", "role", ctx->role);
    accounts_audit_tx(ctx->a, ctx->req, tx, ctx->customer_id, ctx->caller, ctx->user_id,
                      ctx->audit_action, detail, accounts_step_commit);
}

/* Ends every session of the collaborator, so that their new access applies
 * at their next request (they sign in again); nobody else is touched. */
static void end_sessions_then(collab_ctx_t *ctx, accounts_session_revoked_cb cb)
{
    if (accounts_sessions_revoke_all(ctx->a->svc->cache, ctx->user_id, NULL, cb, ctx) != 0)
        cb(CT_EUNAVAIL, 0, ctx);
}

/* ---- list ---- */

static void on_list(const ct_db_error_t *err, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "user_id", ct_db_get(res, i, "id"),
                           "email", ct_db_get(res, i, "email"), "name", ct_db_get(res, i, "name"),
                           "status", ct_db_get(res, i, "status"), "role", ct_db_get(res, i, "role"),
                           "since", ct_db_get(res, i, "since")));
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    ct_http_reply_json(ctx->req, 200, json_pack("{s:o}", "collaborators", arr));
}

static void on_list_role(const ct_db_error_t *err, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (PQntuples(res) != 1) {
        reply_not_found(ctx->req);
        return;
    }
    if (strcmp(ct_db_get(res, 0, "role"), "admin") != 0) {
        reply_forbidden(ctx->req);
        return;
    }
    int rc = accounts_store_collaborators(ctx->a->svc->db, ctx->customer_id, on_list, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void on_list_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (!read_ids(ctx, s, false))
        return;
    int rc =
        accounts_store_role_get(ctx->a->svc->db, ctx->caller, ctx->customer_id, on_list_role, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}

void accounts_api_collaborators_list(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    accounts_auth(a, req, on_list_session, ctx_new(req, a));
}

/* ---- invite ---- */

static void on_invite_done(const ct_db_error_t *err, void *udata)
{
    collab_ctx_t *ctx = udata;
    forget(ctx);
    if (reply_tx_error(ctx, err))
        return;
    ct_logc_info(ct_http_request_id(ctx->req), "user %s added user %s to customer %s as %s",
                 ctx->caller, ctx->user_id, ctx->customer_id, ctx->role);
    ct_http_reply_json(ctx->req, 201,
                       json_pack("{s:s, s:s, s:s, s:s, s:s}", "user_id", ctx->user_id,
                                 "customer_id", ctx->customer_id, "email", ctx->email, "role",
                                 ctx->role, "status", ctx->status));
}

static void append_added(ct_db_tx_t *tx, const char *url, long long expires)
{
    collab_ctx_t *ctx = ct_db_tx_udata(tx);
    accounts_user_ref_t u = {.user_id = ctx->user_id,
                             .customer_id = ctx->customer_id,
                             .email = ctx->email,
                             .name = ctx->user_name};
    ctx->audit_action = "collaborator_added";
    if (accounts_event_collaborator_added(&u, ctx->role, ctx->caller, url, expires, &ctx->event) !=
        0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, ctx->customer_id, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, step_commit);
}

static void on_link(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    char url[512];
    snprintf(url, sizeof url, "%s/activate#token=%s", ctx->a->public_url, ctx->token);
    append_added(tx, url, ct_db_get_int(res, 0, "expires_ms", 0));
    sodium_memzero(url, sizeof url);
}

static void on_granted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_ECONFLICT, "already a collaborator");
        return;
    }
    if (!ctx->invited) {
        append_added(tx, NULL, 0);
        return;
    }
    ct_random_hex(ctx->token, TOKEN_BYTES);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)ctx->token, TOKEN_HEX);
    sodium_bin2hex(ctx->hash, sizeof ctx->hash, digest, sizeof digest);
    accounts_store_activation_put(tx, ctx->user_id, ctx->hash, (long)ctx->a->activation_ttl_s,
                                  on_link);
}

static void on_user_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    collab_ctx_t *ctx = udata;
    accounts_store_grant_add(tx, ctx->user_id, ctx->customer_id, ctx->role, on_granted);
}

static void on_invitee(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (PQntuples(res) == 0) {
        ct_uuid_v7(ctx->user_id);
        ctx->invited = true;
        snprintf(ctx->status, sizeof ctx->status, "pending");
        if (!ctx->name) {
            /* the local part of the address until they say otherwise */
            ctx->user_name = ct_http_strdup(ctx->req, ctx->email);
            *strchr(ctx->user_name, '@') = '\0';
        } else {
            ctx->user_name = ct_http_strdup(ctx->req, ctx->name);
        }
        accounts_store_pending_user_insert(tx, ctx->user_id, ctx->email, ctx->user_name,
                                           on_user_inserted);
        return;
    }
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", ct_db_get(res, 0, "id"));
    snprintf(ctx->status, sizeof ctx->status, "%s", ct_db_get(res, 0, "status"));
    ctx->user_name = ct_http_strdup(ctx->req, ct_db_get(res, 0, "name"));
    ctx->invited = strcmp(ctx->status, "pending") == 0;
    accounts_store_grant_add(tx, ctx->user_id, ctx->customer_id, ctx->role, on_granted);
}

static void on_invite_role(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (caller_is_admin(tx, res))
        accounts_store_user_by_email(tx, ctx->email, on_invitee);
}

static void on_invite_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    collab_ctx_t *ctx = udata;
    accounts_store_my_role(tx, ctx->caller, ctx->customer_id, on_invite_role);
}

static void on_invite_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (!read_ids(ctx, s, false))
        return;
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_invite_begun, on_invite_done, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}

void accounts_api_collaborator_invite(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    collab_ctx_t *ctx = ctx_new(req, a);
    ct_valid_t v;
    ct_valid_init(&v);
    const char *email = ct_valid_str(&v, body, "email", 1, 1024, true);
    if (email && accounts_email_normalise(email, ctx->email) != 0)
        ct_valid_fail(&v, "email", "expected an e-mail address (3 to 254 characters)");
    ctx->role = ct_valid_enum(&v, body, "role", roles, true, NULL);
    ctx->name = ct_valid_str(&v, body, "name", 1, 800, false);
    if (ctx->name && !accounts_text_ok(ctx->name, 1, 200))
        ct_valid_fail(&v, "name", "expected 1 to 200 characters, not only spaces");
    if (!ct_valid_ok(&v)) {
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    ct_valid_dispose(&v);
    accounts_auth(a, req, on_invite_session, ctx);
}

/* ---- change a role ---- */

/* Changing a role and removing a collaborator both run, in one transaction:
 * the caller must be an admin of the customer, then the collaborator's grant
 * is locked and handed to on_target. */
static void on_collaborator_caller(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (caller_is_admin(tx, res))
        accounts_store_grant_lock(tx, ctx->user_id, ctx->customer_id, ctx->on_target);
}

static void on_collaborator_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    collab_ctx_t *ctx = udata;
    accounts_store_my_role(tx, ctx->caller, ctx->customer_id, on_collaborator_caller);
}

static void begin_on_collaborator(collab_ctx_t *ctx, const ct_session_t *s, ct_db_tx_cb on_target,
                                  ct_db_tx_done_cb on_done)
{
    if (!read_ids(ctx, s, true))
        return;
    ctx->on_target = on_target;
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_collaborator_begun, on_done, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void on_role_sessions_ended(int status, long long count, void *udata)
{
    (void)count;
    collab_ctx_t *ctx = udata;
    if (status != 0)
        ct_logc_error(ct_http_request_id(ctx->req),
                      "role of user %s changed; their sessions could not be ended now",
                      ctx->user_id);
    ct_http_reply_json(ctx->req, 200,
                       json_pack("{s:s, s:s, s:s}", "user_id", ctx->user_id, "customer_id",
                                 ctx->customer_id, "role", ctx->role));
}

static void on_role_done(const ct_db_error_t *err, void *udata)
{
    collab_ctx_t *ctx = udata;
    forget(ctx);
    if (reply_tx_error(ctx, err))
        return;
    ct_logc_info(ct_http_request_id(ctx->req), "user %s made user %s %s of customer %s",
                 ctx->caller, ctx->user_id, ctx->role, ctx->customer_id);
    end_sessions_then(ctx, on_role_sessions_ended);
}

static void on_role_set(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    collab_ctx_t *ctx = udata;
    ctx->audit_action = "collaborator_role_changed";
    if (accounts_event_collaborator_role_changed(ctx->customer_id, ctx->user_id, ctx->role,
                                                 ctx->caller, &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, ctx->customer_id, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, step_commit);
}

static void on_role_target(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_ENOTFOUND, "not a collaborator");
        return;
    }
    bool was_admin = strcmp(ct_db_get(res, 0, "role"), "admin") == 0;
    if (was_admin && strcmp(ctx->role, "admin") != 0 && ct_db_get_int(res, 0, "admins", 0) <= 1) {
        ct_db_tx_rollback(tx, CT_ECONFLICT, "last admin");
        return;
    }
    accounts_store_grant_set(tx, ctx->user_id, ctx->customer_id, ctx->role, on_role_set);
}

static void on_role_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    (void)req;
    begin_on_collaborator(udata, s, on_role_target, on_role_done);
}

void accounts_api_collaborator_update(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    collab_ctx_t *ctx = ctx_new(req, a);
    ct_valid_t v;
    ct_valid_init(&v);
    ctx->role = ct_valid_enum(&v, body, "role", roles, true, NULL);
    if (!ct_valid_ok(&v)) {
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    ct_valid_dispose(&v);
    accounts_auth(a, req, on_role_session, ctx);
}

/* ---- remove ---- */

static void on_removed_sessions_ended(int status, long long count, void *udata)
{
    (void)count;
    collab_ctx_t *ctx = udata;
    if (status != 0)
        ct_logc_error(ct_http_request_id(ctx->req),
                      "user %s removed; their sessions could not be ended now", ctx->user_id);
    ct_http_reply(ctx->req, 204, NULL, NULL, 0);
}

static void on_remove_done(const ct_db_error_t *err, void *udata)
{
    collab_ctx_t *ctx = udata;
    forget(ctx);
    if (reply_tx_error(ctx, err))
        return;
    ct_logc_info(ct_http_request_id(ctx->req), "user %s removed user %s from customer %s",
                 ctx->caller, ctx->user_id, ctx->customer_id);
    end_sessions_then(ctx, on_removed_sessions_ended);
}

static void on_grant_deleted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    collab_ctx_t *ctx = udata;
    ctx->audit_action = "collaborator_removed";
    if (accounts_event_collaborator_removed(ctx->customer_id, ctx->user_id, ctx->email, ctx->caller,
                                            &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, ctx->customer_id, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, step_commit);
}

static void on_remove_target(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_ENOTFOUND, "not a collaborator");
        return;
    }
    if (strcmp(ct_db_get(res, 0, "role"), "admin") == 0 &&
        ct_db_get_int(res, 0, "admins", 0) <= 1) {
        ct_db_tx_rollback(tx, CT_ECONFLICT, "last admin");
        return;
    }
    snprintf(ctx->email, sizeof ctx->email, "%s", ct_db_get(res, 0, "email"));
    accounts_store_grant_delete(tx, ctx->user_id, ctx->customer_id, on_grant_deleted);
}

static void on_remove_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    (void)req;
    begin_on_collaborator(udata, s, on_remove_target, on_remove_done);
}

void accounts_api_collaborator_remove(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    accounts_auth(a, req, on_remove_session, ctx_new(req, a));
}
