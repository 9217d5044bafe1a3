/* The access register: appending (accounts_audit) and reading it
 * (GET /customers/{id}/audit, /customers/{id}/audit.csv, admins only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "rules.h"
#include "store.h"

static void on_appended(const ct_db_error_t *err, PGresult *res, void *udata)
{
    (void)res;
    const char *action = udata; /* a string literal */
    if (err)
        ct_log_error("audit: cannot record %s: %s", action, ct_strerror(err->status));
}

void accounts_audit(accounts_t *a, ct_http_req_t *req, const char *customer_id, const char *actor,
                    const char *subject, const char *action, json_t *detail)
{
    char addr[ACCOUNTS_ADDR_MAX];
    accounts_client_addr_of(a, req, addr);
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    json_decref(detail);
    int rc = accounts_store_audit(a->svc->db, customer_id, actor, subject, action, addr,
                                  text ? text : "{}", on_appended, (void *)action);
    free(text);
    if (rc != 0)
        ct_logc_error(ct_http_request_id(req), "audit: cannot record %s: %s", action,
                      ct_strerror(rc));
}

void accounts_audit_tx(accounts_t *a, ct_http_req_t *req, ct_db_tx_t *tx, const char *customer_id,
                       const char *actor, const char *subject, const char *action, json_t *detail,
                       ct_db_tx_cb next)
{
    char addr[ACCOUNTS_ADDR_MAX];
    accounts_client_addr_of(a, req, addr);
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    json_decref(detail);
    accounts_store_audit_tx(tx, customer_id, actor, subject, action, addr, text ? text : "{}",
                            next);
    free(text);
}

void accounts_step_commit(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

/* ---- reading ---- */

#define PAGE 200
#define CSV_MAX 10000

typedef struct {
    ct_http_req_t *req;
    accounts_t *a;
    char caller[CT_UUID_STRLEN + 1];
    char customer_id[CT_UUID_STRLEN + 1];
    long long before;
    bool csv;
} audit_ctx_t;

/* A CSV cell: quoted, quotes doubled; a leading = + - @ (a formula to a
 * spreadsheet) is neutralised with a quote mark. */
static void csv_cell(char **buf, size_t *len, size_t *cap, const char *v, bool last)
{
    v = v ? v : "";
    size_t need = *len + 2 * strlen(v) + 8;
    if (need > *cap) {
        *cap = need * 2;
        *buf = realloc(*buf, *cap);
        if (!*buf)
            abort();
    }
    char *o = *buf + *len;
    *o++ = '"';
    if (*v == '=' || *v == '+' || *v == '-' || *v == '@')
        *o++ = '\'';
    for (; *v; v++) {
        if (*v == '"')
            *o++ = '"';
        *o++ = *v;
    }
    *o++ = '"';
    if (last) {
        *o++ = '\r';
        *o++ = '\n';
    } else {
        *o++ = ',';
    }
    *len = (size_t)(o - *buf);
}

static void reply_csv(audit_ctx_t *ctx, PGresult *res)
{
    static const char *const cols[] = {"id",          "at",         "actor_id",
                                       "actor_email", "subject_id", "subject_email",
                                       "action",      "address",    "detail"};
    size_t ncols = sizeof cols / sizeof cols[0];
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    for (size_t c = 0; c < ncols; c++)
        csv_cell(&buf, &len, &cap, cols[c], c + 1 == ncols);
    for (int i = 0; i < PQntuples(res); i++)
        for (size_t c = 0; c < ncols; c++)
            csv_cell(&buf, &len, &cap, ct_db_get(res, i, cols[c]), c + 1 == ncols);
    char disposition[96];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"audit-%s.csv\"",
             ctx->customer_id);
    ct_http_add_header(ctx->req, "Content-Disposition", disposition);
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    ct_http_reply(ctx->req, 200, "text/csv; charset=utf-8", buf, len);
    free(buf);
}

static void on_rows(const ct_db_error_t *err, PGresult *res, void *udata)
{
    audit_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (ctx->csv) {
        reply_csv(ctx, res);
        return;
    }
    json_t *arr = json_array();
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        json_error_t jerr;
        json_t *detail = json_loads(ct_db_get(res, i, "detail"), 0, &jerr);
        json_array_append_new(
            arr, json_pack("{s:I, s:s, s:s?, s:s?, s:s?, s:s?, s:s, s:s?, s:o}", "id",
                           (json_int_t)ct_db_get_int(res, i, "id", 0), "at",
                           ct_db_get(res, i, "at"), "actor_id", ct_db_get(res, i, "actor_id"),
                           "actor_email", ct_db_get(res, i, "actor_email"), "subject_id",
                           ct_db_get(res, i, "subject_id"), "subject_email",
                           ct_db_get(res, i, "subject_email"), "action",
                           ct_db_get(res, i, "action"), "address", ct_db_get(res, i, "address"),
                           "detail", detail ? detail : json_object()));
    }
    json_t *out = json_pack("{s:o}", "entries", arr);
    if (n == PAGE)
        json_object_set_new(out, "next_before", json_integer(ct_db_get_int(res, n - 1, "id", 0)));
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    ct_http_reply_json(ctx->req, 200, out);
}

static void on_role(const ct_db_error_t *err, PGresult *res, void *udata)
{
    audit_ctx_t *ctx = udata;
    if (err) {
        accounts_reply_db_error(ctx->req, err);
        return;
    }
    if (PQntuples(res) != 1) {
        ct_http_reply_problem(ctx->req, 404, "not-found", "No such customer", NULL);
        return;
    }
    if (strcmp(ct_db_get(res, 0, "role"), "admin") != 0) {
        ct_http_reply_problem(ctx->req, 403, "forbidden",
                              "Only the customer's admins may read its register", NULL);
        return;
    }
    int rc = accounts_store_audit_list(ctx->a->svc->db, ctx->customer_id, ctx->before,
                                       ctx->csv ? CSV_MAX : PAGE, on_rows, ctx);
    if (rc != 0)
        accounts_reply_failure(ctx->req, rc);
}

static void on_session(ct_http_req_t *req, const ct_session_t *s, void *udata)
{
    audit_ctx_t *ctx = udata;
    const char *id = ct_http_param(req, "id");
    if (!ct_uuid_valid(id)) {
        ct_http_reply_problem(req, 404, "not-found", "No such customer", NULL);
        return;
    }
    accounts_uuid_lower(ctx->customer_id, id);
    snprintf(ctx->caller, sizeof ctx->caller, "%s", s->user_id);
    int rc = accounts_store_role_get(ctx->a->svc->db, ctx->caller, ctx->customer_id, on_role, ctx);
    if (rc != 0)
        accounts_reply_failure(req, rc);
}

static void start(ct_http_req_t *req, accounts_t *a, bool csv)
{
    audit_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->a = a;
    ctx->csv = csv;
    const char *before = ct_http_query(req, "before");
    if (before) {
        char *end = NULL;
        ctx->before = strtoll(before, &end, 10);
        if (!*before || *end || ctx->before < 0) {
            json_t *errors = json_array();
            json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "before", "message",
                                                    "expected an entry id"));
            ct_http_reply_invalid(req, errors);
            return;
        }
    }
    accounts_auth(a, req, on_session, ctx);
}

void accounts_api_audit_list(ct_http_req_t *req, void *udata)
{
    start(req, udata, false);
}

void accounts_api_audit_csv(ct_http_req_t *req, void *udata)
{
    start(req, udata, true);
}
