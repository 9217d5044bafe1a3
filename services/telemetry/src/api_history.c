/* HTTP: a site's history of readings, for the back office (operator key) and
 * for the customer's users (a session with any role on the site's customer):
 * GET .../sites/{site_id}/readings (JSON, newest first, paged) and
 * GET .../sites/{site_id}/readings.csv (the whole history as one download).
 * A caller without a grant on the site's customer gets 404, as if the site
 * did not exist: the statement itself keeps to the caller's customers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/log.h"
#include "citerne/session.h"

#include "app.h"
#include "store.h"

typedef struct history_ctx history_ctx_t;
typedef void (*authorised_fn)(history_ctx_t *ctx);

struct history_ctx {
    ct_http_req_t *req;
    telemetry_app_t *app;
    char site_id[CT_UUID_STRLEN + 1]; /* lower case */
    const char *customers;            /* uuid[] literal; NULL: the operator */
    authorised_fn then;
    long limit; /* of a JSON page */
};

static void reply_no_site(ct_http_req_t *req)
{
    ct_http_reply_error(req, CT_ENOTFOUND, "no such site");
}

static void reply_field(ct_http_req_t *req, const char *field, const char *message)
{
    ct_http_reply_invalid(req, json_pack("[{s:s, s:s}]", "field", field, "message", message));
}

static void reply_db_error(history_ctx_t *ctx, const ct_db_error_t *err, const char *what)
{
    ct_logc_error(ct_http_request_id(ctx->req), "%s failed: %s %s", what,
                  err->sqlstate ? err->sqlstate : "", err->message ? err->message : "");
    ct_http_reply_error(ctx->req, telemetry_db_error_code(err), NULL);
}

static void reply_not_sent(history_ctx_t *ctx, int rc)
{
    ct_http_reply_error(ctx->req, rc == CT_ECLOSED ? CT_ECLOSED : CT_EUNAVAIL, NULL);
}

/* ---- who is asking ---- */

static void on_session(int status, const ct_session_t *s, void *udata)
{
    history_ctx_t *ctx = udata;
    if (status != 0) {
        /* CT_EUNAUTH: 401; CT_EUNAVAIL (Redis down): 503, fail closed */
        ct_http_reply_error(ctx->req, status, NULL);
        return;
    }
    telemetry_pgarray_t ids;
    telemetry_pgarray_init(&ids);
    for (size_t i = 0; i < s->ngrants && i < CT_SESSION_MAX_GRANTS; i++)
        if (s->grants[i].role != CT_ROLE_NONE && ct_uuid_valid(s->grants[i].customer_id))
            telemetry_pgarray_add(&ids, s->grants[i].customer_id);
    ctx->customers = ct_http_strdup(ctx->req, telemetry_pgarray_str(&ids));
    telemetry_pgarray_dispose(&ids);
    ctx->then(ctx);
}

/* The operator key in "Authorization: Bearer <key>", else the session
 * cookie. A wrong key is refused outright (no fallback to the cookie). The
 * query is read once the caller is known: anonymous callers learn nothing
 * but 401. */
static void authorise(ct_http_req_t *req, telemetry_app_t *app, authorised_fn then)
{
    history_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->req = req;
    ctx->app = app;
    ctx->then = then;
    const char *site = ct_http_param(req, "site_id");
    if (site && ct_uuid_valid(site) && strlen(site) == CT_UUID_STRLEN) {
        memcpy(ctx->site_id, site, CT_UUID_STRLEN + 1);
        telemetry_lower(ctx->site_id);
    }
    if (ct_http_header(req, "Authorization")) {
        if (!ct_auth_require(req, &app->operator_key, "a valid API key is required"))
            return;
        then(ctx);
        return;
    }
    /* svc->cache: Redis, for sessions only (cache_optional: /readyz leaves
     * it out; while it is down a session gets 503) */
    ct_session_lookup(app->svc->cache, req, on_session, ctx);
}

/* ---- GET /api/v1/telemetry/sites/{site_id}/readings ---- */

/* Times a cursor may name: years 1 to 9999 (Postgres would refuse a time
 * far outside with an error, which is the client's and not a 500). */
#define CURSOR_MIN_US (-62135596800LL * 1000000)
#define CURSOR_MAX_US (253402300800LL * 1000000)

/* "<measured_at in Unix microseconds>.<id>", as next_before gives it. */
static bool parse_cursor(const char *s, char *us, char *id, size_t size)
{
    const char *dot = strchr(s, '.');
    if (!dot || dot == s || dot[1] == '\0' || (size_t)(dot - s) >= size || strlen(dot + 1) >= size)
        return false;
    char *end;
    errno = 0;
    long long t = strtoll(s, &end, 10);
    if (errno || end != dot || (*s != '-' && (*s < '0' || *s > '9')) || t < CURSOR_MIN_US ||
        t >= CURSOR_MAX_US)
        return false;
    long long n = strtoll(dot + 1, &end, 10);
    if (errno || *end || n < 1 || dot[1] < '0' || dot[1] > '9')
        return false;
    snprintf(us, size, "%lld", t);
    snprintf(id, size, "%lld", n);
    return true;
}

static void on_listed(const ct_db_error_t *err, PGresult *res, void *udata)
{
    history_ctx_t *ctx = udata;
    if (err) {
        reply_db_error(ctx, err, "listing readings");
        return;
    }
    if (PQntuples(res) == 0) {
        reply_no_site(ctx->req);
        return;
    }
    json_t *list = json_array();
    json_t *next = json_null();
    for (int row = 0; row < PQntuples(res); row++) {
        if (!ct_db_get(res, row, "level_pct"))
            continue; /* the site has no reading (left) */
        if ((long)json_array_size(list) == ctx->limit) {
            /* the statement asked for one reading more than the page */
            const char *prev = ct_db_get(res, row - 1, "at_us");
            const char *prev_id = ct_db_get(res, row - 1, "id");
            json_decref(next);
            next = json_sprintf("%s.%s", prev ? prev : "", prev_id ? prev_id : "");
            break;
        }
        json_array_append_new(list, json_pack("{s:s, s:I, s:s, s:s, s:s}", "site_id",
                                              ct_db_get(res, row, "site_id"), "level_pct",
                                              (json_int_t)ct_db_get_int(res, row, "level_pct", 0),
                                              "measured_at", ct_db_get(res, row, "measured_at"),
                                              "source", ct_db_get(res, row, "source"),
                                              "received_at", ct_db_get(res, row, "received_at")));
    }
    ct_http_reply_json(ctx->req, 200,
                       json_pack("{s:o, s:o}", "readings", list, "next_before", next));
}

static void list_readings(history_ctx_t *ctx)
{
    ct_http_req_t *req = ctx->req;
    if (!ctx->site_id[0]) {
        reply_no_site(req);
        return;
    }
    long limit = TELEMETRY_DEFAULT_LIMIT;
    const char *q = ct_http_query(req, "limit");
    if (q) {
        char *end = NULL;
        errno = 0;
        limit = strtol(q, &end, 10);
        if (!*q || *end || errno || limit < 1 || limit > TELEMETRY_MAX_LIMIT) {
            reply_field(req, "limit", "must be an integer from 1 to 1000");
            return;
        }
    }
    ctx->limit = limit;
    char us[24] = "", id[24] = "";
    const char *before = ct_http_query(req, "before");
    if (before && !parse_cursor(before, us, id, sizeof us)) {
        reply_field(req, "before", "must be the next_before of a previous page");
        return;
    }
    int rc = telemetry_store_list_readings(ctx->app->svc->db, ctx->site_id, ctx->customers,
                                           before ? us : NULL, before ? id : NULL, (int)limit + 1,
                                           on_listed, ctx);
    if (rc != 0)
        reply_not_sent(ctx, rc);
}

static void get_readings(ct_http_req_t *req, void *udata)
{
    authorise(req, udata, list_readings);
}

/* ---- GET /api/v1/telemetry/sites/{site_id}/readings.csv ---- */

static void on_csv(const ct_db_error_t *err, PGresult *res, void *udata)
{
    history_ctx_t *ctx = udata;
    if (err) {
        reply_db_error(ctx, err, "exporting readings");
        return;
    }
    int col = PQfnumber(res, "csv");
    if (PQntuples(res) != 1 || col < 0 || PQgetisnull(res, 0, col)) {
        reply_no_site(ctx->req);
        return;
    }
    char disposition[96];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"readings-%s.csv\"",
             ctx->site_id);
    ct_http_add_header(ctx->req, "Content-Disposition", disposition);
    const char *truncated = ct_db_get(res, 0, "truncated");
    if (truncated && truncated[0] == 't') {
        char cap[24];
        snprintf(cap, sizeof cap, "%zu", ctx->app->csv_max_rows);
        ct_http_add_header(ctx->req, "X-Citerne-Truncated", cap);
    }
    ct_http_reply(ctx->req, 200, "text/csv; charset=utf-8; header=present", PQgetvalue(res, 0, col),
                  (size_t)PQgetlength(res, 0, col));
}

static void export_readings(history_ctx_t *ctx)
{
    if (!ctx->site_id[0]) {
        reply_no_site(ctx->req);
        return;
    }
    int rc = telemetry_store_readings_csv(ctx->app->svc->db, ctx->site_id, ctx->customers,
                                          (long)ctx->app->csv_max_rows, on_csv, ctx);
    if (rc != 0)
        reply_not_sent(ctx, rc);
}

static void get_readings_csv(ct_http_req_t *req, void *udata)
{
    authorise(req, udata, export_readings);
}

int telemetry_history_register(ct_http_server_t *srv, telemetry_app_t *app)
{
    int rc =
        ct_http_route(srv, "GET", "/api/v1/telemetry/sites/{site_id}/readings", get_readings, app);
    if (rc == 0)
        rc = ct_http_route(srv, "GET", "/api/v1/telemetry/sites/{site_id}/readings.csv",
                           get_readings_csv, app);
    return rc;
}
