/* PATCH /api/v1/accounts/users/{id} (back office: operator key): the
 * user's name and status, through patch.h. E-mail and phone are not here:
 * changing them needs the user's proof (a link, a code).
 *
 * Disabling (active -> disabled) is refused with 409 last-admin when the
 * user is the last active admin of one of their customers; it is audited
 * for every customer the user acts for, and every session of the user ends
 * once the change is committed. Enabling (disabled -> active) needs a
 * password: a pending user activates through their link and a closed
 * account has none, both 409 cannot-activate. A name change of a user who
 * is active afterwards, or an enabling, publishes UserProfileUpdated (the
 * other services' read models skip a user who is not active). */
#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/validate.h"
#include "events.h"
#include "patch.h"
#include "rules.h"
#include "sessions.h"
#include "store.h"

typedef struct {
    const char *name, *status; /* the new ones (borrowed from merged) */
    bool disabling, enabling;  /* the status changes so */
    bool renamed;
    bool cannot_activate;             /* the 409 to give */
    char blocked[CT_UUID_STRLEN + 1]; /* the customer left without an admin */
} user_state_t;

static const char *const fields[] = {"name", "status", NULL};
static const char *const none[] = {NULL};
static const char *const statuses[] = {"active", "disabled", NULL};

static void step_publish(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    accounts_patch_t *p = udata;
    if (PQntuples(res) != 1) { /* not active: nobody reads their profile */
        ct_db_tx_commit(tx);
        return;
    }
    json_t *profile = accounts_profile_json(res);
    accounts_profile_publish(tx, p->a, p->id, res, profile, accounts_patch_next_event(p),
                             accounts_step_commit);
    json_decref(profile);
}

static void step_profile(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    accounts_patch_t *p = udata;
    user_state_t *st = p->state;
    if (!st->renamed && !st->enabling) {
        ct_db_tx_commit(tx);
        return;
    }
    accounts_store_profile_lock(tx, p->id, step_publish);
}

static void on_updated(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    accounts_patch_t *p = udata;
    user_state_t *st = p->state;
    p->out = json_pack("{s:s, s:s, s:s?, s:s, s:s}", "id", ct_db_get(res, 0, "id"), "email",
                       ct_db_get(res, 0, "email"), "phone", ct_db_get(res, 0, "phone"), "name",
                       ct_db_get(res, 0, "name"), "status", ct_db_get(res, 0, "status"));
    if (!st->disabling && !st->enabling) {
        step_profile(tx, NULL, p);
        return;
    }
    /* by the back office: no actor; one row per customer the user acts for */
    accounts_audit_tx(p->a, p->req, tx, NULL, NULL, p->id,
                      st->disabling ? "user_disabled" : "user_enabled",
                      json_pack("{s:b}", "by_operator", true), step_profile);
}

static void update_now(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    accounts_patch_t *p = udata;
    user_state_t *st = p->state;
    accounts_store_user_update(tx, p->id, st->name, st->status, on_updated);
}

static void on_last_admin(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    accounts_patch_t *p = udata;
    user_state_t *st = p->state;
    if (PQntuples(res) > 0) {
        snprintf(st->blocked, sizeof st->blocked, "%s", ct_db_get(res, 0, "customer_id"));
        ct_db_tx_rollback(tx, CT_ECONFLICT, "last admin");
        return;
    }
    update_now(tx, NULL, p);
}

static void on_admins_locked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    accounts_patch_t *p = udata;
    accounts_store_user_last_admin(tx, p->id, on_last_admin);
}

static void apply_user(accounts_patch_t *p, ct_db_tx_t *tx, PGresult *res)
{
    user_state_t *st = p->state;
    ct_valid_t *v = &p->v;
    st->name = ct_valid_str(v, p->merged, "name", 1, 800, true);
    if (st->name && !accounts_text_ok(st->name, 1, 200))
        ct_valid_fail(v, "name", "expected 1 to 200 characters, not only spaces");
    const char *was = json_string_value(json_object_get(p->stored, "status"));
    st->status = was;
    if (accounts_patch_has(p, "status"))
        st->status = ct_valid_enum(v, p->merged, "status", statuses, true, NULL);
    if (!ct_valid_ok(v) || !was) {
        accounts_patch_invalid(p, tx);
        return;
    }
    const char *old_name = json_string_value(json_object_get(p->stored, "name"));
    st->renamed = !old_name || strcmp(old_name, st->name) != 0;
    st->disabling = strcmp(was, "active") == 0 && strcmp(st->status, "disabled") == 0;
    st->enabling = strcmp(was, "active") != 0 && strcmp(st->status, "active") == 0;
    if (st->enabling) {
        const char *has_password = ct_db_get(res, 0, "has_password");
        if (strcmp(was, "pending") == 0 || !has_password || strcmp(has_password, "t") != 0) {
            st->cannot_activate = true;
            ct_db_tx_rollback(tx, CT_ECONFLICT, "cannot activate");
            return;
        }
    }
    if (st->disabling)
        accounts_store_user_admins_lock(tx, p->id, on_admins_locked);
    else
        update_now(tx, NULL, p);
}

static bool refused(accounts_patch_t *p, const ct_db_error_t *err)
{
    user_state_t *st = p->state;
    if (err->status != CT_ECONFLICT || (!st->cannot_activate && !st->blocked[0]))
        return false; /* not ours: the usual answer */
    if (st->cannot_activate) {
        ct_http_reply_problem(p->req, 409, "cannot-activate", "The user cannot be made active",
                              "a pending user activates through their link; a closed account "
                              "has no password");
        return true;
    }
    char detail[160];
    snprintf(detail, sizeof detail,
             "the user is the only active admin of customer %s: make someone else admin first",
             st->blocked);
    ct_http_reply_problem(p->req, 409, "last-admin", "A customer keeps at least one admin", detail);
    return true;
}

static void on_sessions_ended(int status, long long count, void *udata)
{
    accounts_patch_t *p = udata;
    if (status != 0)
        ct_logc_error(ct_http_request_id(p->req),
                      "user %s disabled; their sessions could not be ended now", p->id);
    else if (count > 0)
        ct_logc_info(ct_http_request_id(p->req), "user %s disabled: %lld session(s) ended", p->id,
                     count);
    accounts_patch_reply(p);
}

static void committed(accounts_patch_t *p)
{
    user_state_t *st = p->state;
    if (!st->disabling) {
        accounts_patch_reply(p);
        return;
    }
    if (accounts_sessions_revoke_all(p->a->svc->cache, p->id, NULL, on_sessions_ended, p) != 0)
        on_sessions_ended(CT_EUNAVAIL, 0, p);
}

void accounts_api_user_update(ct_http_req_t *req, void *udata)
{
    static const accounts_patch_kind_t kind = {
        .what = "user",
        .fields = fields,
        .nullable = none,
        .fixed = none,
        .lock = accounts_store_user_patch_lock,
        .apply = apply_user,
        .refused = refused,
        .committed = committed,
    };
    accounts_patch_run(req, udata, &kind, sizeof(user_state_t));
}
