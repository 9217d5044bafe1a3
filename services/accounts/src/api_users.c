/* POST /api/v1/accounts/users (back office: operator key). The password is
 * hashed on the thread pool before the transaction opens, so no connection
 * is held while argon2 runs. */
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "citerne/validate.h"
#include "events.h"
#include "password.h"
#include "rules.h"
#include "store.h"

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    accounts_user_t u;
    const char *password; /* borrowed from the request's JSON */
    size_t password_len;
    accounts_pw_job_t job;
    accounts_event_t event;
} create_ctx_t;

static const char *const roles[] = {"admin", "orderer", "viewer", NULL};

static bool parse_user(ct_valid_t *v, json_t *body, create_ctx_t *ctx)
{
    accounts_user_t *u = &ctx->u;
    const char *customer_id = ct_valid_uuid(v, body, "customer_id", true);
    if (customer_id)
        accounts_uuid_lower(u->customer_id, customer_id);

    const char *email = ct_valid_str(v, body, "email", 1, 1024, true);
    if (email && accounts_email_normalise(email, u->email) != 0)
        ct_valid_fail(v, "email", "expected an e-mail address (3 to 254 characters)");

    json_t *phone = json_object_get(body, "phone");
    u->phone = NULL;
    if (phone && !json_is_null(phone)) {
        u->phone = ct_valid_str(v, body, "phone", 1, 64, true);
        if (u->phone && !accounts_phone_valid(u->phone))
            ct_valid_fail(v, "phone", "expected E.164: \"+\" and 8 to 15 digits");
    }

    u->name = ct_valid_str(v, body, "name", 1, 800, true);
    if (u->name && !accounts_text_ok(u->name, 1, 200))
        ct_valid_fail(v, "name", "expected 1 to 200 characters, not only spaces");
    u->role = ct_valid_enum(v, body, "role", roles, true, NULL);

    json_t *password = json_object_get(body, "password");
    if (!json_is_string(password)) {
        ct_valid_fail(v, "password", password ? "expected a string" : "required");
    } else {
        ctx->password = json_string_value(password);
        ctx->password_len = json_string_length(password);
        if (!accounts_password_length_ok(ctx->password, ctx->password_len))
            ct_valid_fail(v, "password", "expected 12 to 128 characters");
    }
    return ct_valid_ok(v);
}

static void on_appended(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

static void on_granted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    create_ctx_t *ctx = udata;
    if (accounts_event_user_created(&ctx->u, &ctx->event) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, ctx->a->svc->topic, ctx->u.customer_id, ctx->event.data, ctx->event.len,
                     ctx->event.event_id, on_appended);
}

static void on_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    create_ctx_t *ctx = udata;
    if (PQntuples(res) == 0) {
        ct_db_tx_rollback(tx, CT_ECONFLICT, "e-mail taken");
        return;
    }
    accounts_store_user_grant(tx, &ctx->u, on_granted);
}

static void on_customer(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    create_ctx_t *ctx = udata;
    if (PQntuples(res) == 0) {
        ct_db_tx_rollback(tx, CT_ENOTFOUND, "unknown customer");
        return;
    }
    accounts_store_user_insert(tx, &ctx->u, on_inserted);
}

static void on_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    create_ctx_t *ctx = udata;
    accounts_store_customer_lock(tx, ctx->u.customer_id, on_customer);
}

static void on_done(const ct_db_error_t *err, void *udata)
{
    create_ctx_t *ctx = udata;
    accounts_event_dispose(&ctx->event);
    sodium_memzero(ctx->job.hash, sizeof ctx->job.hash);
    if (err && err->status == CT_ENOTFOUND) {
        ct_http_reply_problem(ctx->req, 404, "not-found", "No such customer",
                              "customer_id does not name a customer");
        return;
    }
    if (err && err->status == CT_ECONFLICT) {
        ct_http_reply_problem(ctx->req, 409, "email-taken", "E-mail address already in use",
                              "another user signs in with this e-mail address");
        return;
    }
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    ct_logc_info(ct_http_request_id(ctx->req), "user %s created", ctx->u.id);
    json_t *out = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s}", "id", ctx->u.id, "customer_id",
                            ctx->u.customer_id, "email", ctx->u.email, "phone", ctx->u.phone,
                            "name", ctx->u.name, "role", ctx->u.role);
    ct_http_reply_json(ctx->req, 201, out);
}

static void on_hashed(int status, const char *hash, void *udata)
{
    create_ctx_t *ctx = udata;
    if (status != 0) {
        ct_logc_error(ct_http_request_id(ctx->req), "password hashing failed: %s",
                      ct_strerror(status));
        ct_http_reply_error(ctx->req, status == UV_ECANCELED ? CT_ECLOSED : CT_EINTERNAL, NULL);
        return;
    }
    ctx->u.password_hash = hash;
    int rc = ct_db_tx_begin(ctx->a->svc->db, on_begun, on_done, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

void accounts_api_user_create(ct_http_req_t *req, void *udata)
{
    accounts_t *a = udata;
    if (!accounts_require_operator(a, req))
        return;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    create_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    memset(ctx, 0, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;

    ct_valid_t v;
    ct_valid_init(&v);
    if (!parse_user(&v, body, ctx)) {
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    ct_valid_dispose(&v);
    ct_uuid_v7(ctx->u.id);
    int rc = accounts_pw_hash(&a->svc->loop, &ctx->job, ctx->password, ctx->password_len,
                              a->pwhash_ops, a->pwhash_mem, on_hashed, ctx);
    if (rc != 0) {
        ct_logc_error(ct_http_request_id(req), "cannot queue password hashing: %s",
                      uv_strerror(rc));
        ct_http_reply_error(req, CT_EINTERNAL, NULL);
    }
}
