/* GET /api/v1/notify/me/export: what notify holds about the signed-in user
 * (their profile, their (user, customer) rows, the notifications sent to
 * them), as a JSON download. The session names the user: nothing in the
 * request can ask for another one's rows. */
#include <string.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/session.h"
#include "notify.h"
#include "store.h"

typedef struct {
    notify_app_t *app;
    ct_http_req_t *req;
} export_ctx_t;

static void on_export(const ct_db_error_t *err, PGresult *res, void *udata)
{
    export_ctx_t *ctx = udata;
    if (err) {
        ct_log_error("notify export failed: %s", err->message ? err->message : "");
        ct_http_reply_error(ctx->req, err->status == CT_EDB ? CT_EDB : CT_EUNAVAIL, NULL);
        return;
    }
    /* the database made the JSON: sent as it is, not parsed again on the loop */
    const char *doc = ct_db_get(res, 0, "doc");
    if (!doc) {
        ct_http_reply_error(ctx->req, CT_EINTERNAL, NULL);
        return;
    }
    ct_http_add_header(ctx->req, "Content-Disposition",
                       "attachment; filename=\"citerne-notify-export.json\"");
    ct_http_add_header(ctx->req, "Cache-Control", "no-store");
    ct_http_reply(ctx->req, 200, "application/json", doc, strlen(doc));
}

static void on_session(int status, const ct_session_t *s, void *udata)
{
    export_ctx_t *ctx = udata;
    if (status != 0) {
        ct_http_reply_error(ctx->req, status, NULL);
        return;
    }
    int rc = notify_store_export(ctx->app->svc->db, s->user_id, on_export, ctx);
    if (rc != 0)
        ct_http_reply_error(ctx->req, rc, NULL);
}

void notify_api_me_export(ct_http_req_t *req, void *udata)
{
    export_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    ctx->app = udata;
    ctx->req = req;
    if (!ctx->app->svc->cache) {
        ct_http_reply_error(req, CT_EUNAVAIL, NULL);
        return;
    }
    ct_session_lookup(ctx->app->svc->cache, req, on_session, ctx);
}
