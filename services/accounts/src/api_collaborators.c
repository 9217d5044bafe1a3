/* /api/v1/accounts/customers/{id}/collaborators[/{user_id}]: a customer's
 * admins list, invite, re-role and remove the people who act for it. The
 * caller's role is read from the database in the same transaction (not from
 * the session, which may be older); a customer the caller does not act for
 * is 404, whatever the id; a non-admin member gets 403.
 *
 * An invitation answers the same whether or not the address is an
 * account's (an id of its own, status "invited"), so that an admin learns
 * nothing of other people's accounts: a new address gets a pending user
 * with the grant and an activation link, as at sign-up; an existing account
 * gets only an invitation to accept (api_invitations.c). */
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
    char *user_name;         /* the invitee's own name (events only) */
    char *shown_name;        /* what the admin's list shows: the name given, else the local part */
    char *inviter_name;      /* the admin's */
    char invitation_id[CT_UUID_STRLEN + 1];
    char token[TOKEN_HEX + 1];
    char hash[TOKEN_HEX + 1];
    bool invited;             /* a new or pending user: an activation link goes with it */
    bool revoked;             /* DELETE named an invitation, not a collaborator */
    const char *audit_action; /* what the register records (a literal) */
    const char *audit_subject;
    json_t *audit_detail;  /* owned until step_commit */
    ct_db_tx_cb on_target; /* the collaborator's locked grant, once the caller is admin */
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
    json_decref(ctx->audit_detail);
    ctx->audit_detail = NULL;
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
                : "This address already acts for the customer or is invited to",
            NULL);
    else
        accounts_reply_db_error(ctx->req, err);
    return true;
}

/* The register's row (ctx->audit_*), in the transaction, then commit. */
static void step_commit(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    collab_ctx_t *ctx = udata;
    json_t *detail = ctx->audit_detail;
    ctx->audit_detail = NULL;
    accounts_audit_tx(ctx->a, ctx->req, tx, ctx->customer_id, ctx->caller, ctx->audit_subject,
                      ctx->audit_action, detail, accounts_step_commit);
}

static void audit_next(collab_ctx_t *ctx, const char *action, const char *subject, json_t *detail)
{
    ctx->audit_action = action;
    ctx->audit_subject = subject;
    json_decref(ctx->audit_detail);
    ctx->audit_detail = detail;
}

/* The address and role of an invitation, for the register: what the admin
 * typed, never anything of the account it may belong to. */
static json_t *invitation_detail(const char *email, const char *role)
{
    return json_pack("{s:s, s:s}", "email", email, "role", role);
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
    for (int i = 0; i < PQntuples(res); i++) {
        bool invitation = strcmp(ct_db_get(res, i, "invitation"), "t") == 0;
        json_array_append_new(
            arr,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", invitation ? "invitation_id" : "user_id",
                      ct_db_get(res, i, "id"), "email", ct_db_get(res, i, "email"), "name",
                      ct_db_get(res, i, "name"), "status", ct_db_get(res, i, "status"), "role",
                      ct_db_get(res, i, "role"), "since", ct_db_get(res, i, "since")));
    }
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
    /* no user id here: the log is read by operators, who may know it */
    ct_logc_info(ct_http_request_id(ctx->req), "user %s invited someone to customer %s as %s (%s)",
                 ctx->caller, ctx->customer_id, ctx->role, ctx->invitation_id);
    /* the same answer whether the address is an account's or not */
    ct_http_reply_json(ctx->req, 201,
                       json_pack("{s:s, s:s, s:s, s:s, s:s}", "invitation_id", ctx->invitation_id,
                                 "customer_id", ctx->customer_id, "email", ctx->email, "role",
                                 ctx->role, "status", "invited"));
}

static void append_event_then_commit(ct_db_tx_t *tx, collab_ctx_t *ctx, int rc)
{
    if (rc != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    audit_next(ctx, "collaborator_invited", NULL, invitation_detail(ctx->email, ctx->role));
    ct_outbox_append(tx, ctx->a->svc->topic, ctx->customer_id, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, step_commit);
}

/* A new address (or a pending user): CollaboratorAdded with the link. */
static void on_link(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    char url[512];
    snprintf(url, sizeof url, "%s/activate#token=%s", ctx->a->public_url, ctx->token);
    accounts_user_ref_t u = {.user_id = ctx->user_id,
                             .customer_id = ctx->customer_id,
                             .email = ctx->email,
                             .name = ctx->user_name};
    int rc = accounts_event_collaborator_added(&u, ctx->role, ctx->caller, url,
                                               ct_db_get_int(res, 0, "expires_ms", 0), &ctx->event);
    sodium_memzero(url, sizeof url);
    append_event_then_commit(tx, ctx, rc);
}

static void on_granted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_ECONFLICT, "already a collaborator");
        return;
    }
    ct_random_hex(ctx->token, TOKEN_BYTES);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)ctx->token, TOKEN_HEX);
    sodium_bin2hex(ctx->hash, sizeof ctx->hash, digest, sizeof digest);
    accounts_store_activation_put(tx, ctx->user_id, ctx->hash, (long)ctx->a->activation_ttl_s,
                                  on_link);
}

static void on_invitation_put(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        ct_db_tx_rollback(tx, CT_ECONFLICT, "already a collaborator or invited");
        return;
    }
    if (ctx->invited) {
        accounts_store_grant_add(tx, ctx->user_id, ctx->customer_id, ctx->role, on_granted);
        return;
    }
    /* an account: nothing granted until they accept */
    char url[512];
    snprintf(url, sizeof url, "%s/invitations", ctx->a->public_url);
    accounts_invited_t in = {.invitation_id = ctx->invitation_id,
                             .customer_id = ctx->customer_id,
                             .user_id = ctx->user_id,
                             .email = ctx->email,
                             .name = ctx->user_name,
                             .role = ctx->role,
                             .invited_by = ctx->caller,
                             .inviter_name = ctx->inviter_name,
                             .invitations_url = url,
                             .expires_at_ms = ct_db_get_int(res, 0, "expires_ms", 0)};
    append_event_then_commit(tx, ctx, accounts_event_collaborator_invited(&in, &ctx->event));
}

static void put_invitation(ct_db_tx_t *tx, collab_ctx_t *ctx)
{
    ct_uuid_v7(ctx->invitation_id);
    /* one delay for both kinds: the activation link's */
    accounts_invitation_t inv = {.id = ctx->invitation_id,
                                 .customer_id = ctx->customer_id,
                                 .user_id = ctx->user_id,
                                 .email = ctx->email,
                                 .name = ctx->shown_name,
                                 .role = ctx->role,
                                 .invited_by = ctx->caller,
                                 .awaits_activation = ctx->invited,
                                 .ttl_s = (long)ctx->a->activation_ttl_s};
    accounts_store_invitation_put(tx, &inv, on_invitation_put);
}

static void on_user_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    put_invitation(tx, udata);
}

static void on_invitee(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (ctx->name) {
        ctx->shown_name = ct_http_strdup(ctx->req, ctx->name);
    } else {
        /* the local part of the address until they say otherwise */
        ctx->shown_name = ct_http_strdup(ctx->req, ctx->email);
        *strchr(ctx->shown_name, '@') = '\0';
    }
    if (PQntuples(res) == 0) {
        ct_uuid_v7(ctx->user_id);
        ctx->invited = true;
        ctx->user_name = ctx->shown_name;
        accounts_store_pending_user_insert(tx, ctx->user_id, ctx->email, ctx->user_name,
                                           on_user_inserted);
        return;
    }
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", ct_db_get(res, 0, "id"));
    ctx->user_name = ct_http_strdup(ctx->req, ct_db_get(res, 0, "name"));
    ctx->invited = strcmp(ct_db_get(res, 0, "status"), "pending") == 0;
    put_invitation(tx, ctx);
}

static void on_inviter(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    ctx->inviter_name =
        ct_http_strdup(ctx->req, PQntuples(res) == 1 ? ct_db_get(res, 0, "name") : "");
    accounts_store_user_by_email(tx, ctx->email, on_invitee);
}

static void on_invite_role(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (caller_is_admin(tx, res))
        accounts_store_user_name(tx, ctx->caller, on_inviter);
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

static void on_remove_target(ct_db_tx_t *tx, PGresult *res, void *udata);
static void on_revoke_tried(ct_db_tx_t *tx, PGresult *res, void *udata);

/* Changing a role and removing a collaborator both run, in one transaction:
 * the caller must be an admin of the customer, then the collaborator's grant
 * is locked and handed to on_target. */
static void on_collaborator_caller(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (!caller_is_admin(tx, res))
        return;
    if (ctx->on_target == on_remove_target) /* an invitation's id, perhaps */
        accounts_store_invitation_revoke(tx, ctx->user_id, ctx->customer_id, on_revoke_tried);
    else
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
    audit_next(ctx, "collaborator_role_changed", ctx->user_id,
               json_pack("{s:s}", "role", ctx->role));
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
    if (ctx->revoked) {
        ct_logc_info(ct_http_request_id(ctx->req), "user %s revoked invitation %s of customer %s",
                     ctx->caller, ctx->user_id, ctx->customer_id);
        ct_http_reply(ctx->req, 204, NULL, NULL, 0);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s removed user %s from customer %s",
                 ctx->caller, ctx->user_id, ctx->customer_id);
    end_sessions_then(ctx, on_removed_sessions_ended);
}

static void on_grant_deleted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    collab_ctx_t *ctx = udata;
    audit_next(ctx, "collaborator_removed", ctx->user_id, json_pack("{s:s}", "email", ctx->email));
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

/* A removal's id may be an invitation's (the list shows invitations by
 * their own id): revoked then (nobody had access through it: no event);
 * otherwise it is a collaborator's. */
static void on_revoke_tried(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    collab_ctx_t *ctx = udata;
    if (PQntuples(res) != 1) {
        accounts_store_grant_lock(tx, ctx->user_id, ctx->customer_id, on_remove_target);
        return;
    }
    ctx->revoked = true;
    audit_next(ctx, "invitation_revoked", NULL,
               invitation_detail(ct_db_get(res, 0, "email"), ct_db_get(res, 0, "role")));
    step_commit(tx, NULL, ctx);
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
