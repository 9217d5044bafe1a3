/* GET /api/v1/notify/notifications?customer_id=X: the back office's view of
 * what was sent to a customer's users. Operator key only. The routes of the
 * API (the user's export: api_me.c). */
#include <string.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/log.h"
#include "notify.h"
#include "store.h"

static void on_list(const ct_db_error_t *err, PGresult *res, void *udata)
{
    ct_http_req_t *req = udata;
    if (err) {
        ct_log_error("notify read failed: %s", err->message ? err->message : "");
        ct_http_reply_error(req, err->status == CT_EDB ? CT_EDB : CT_EUNAVAIL, NULL);
        return;
    }
    json_t *list = json_loads(ct_db_get(res, 0, "doc"), 0, NULL);
    if (!list) {
        ct_http_reply_error(req, CT_EINTERNAL, NULL);
        return;
    }
    ct_http_reply_json(req, 200, json_pack("{s:o}", "notifications", list));
}

static void list_notifications(ct_http_req_t *req, void *udata)
{
    notify_app_t *app = udata;
    if (!ct_auth_require(req, &app->operator_key, "the operator key is required"))
        return;
    const char *customer_id = ct_http_query(req, "customer_id");
    if (!customer_id || !ct_uuid_valid(customer_id)) {
        ct_http_reply_invalid(req, json_pack("[{s:s, s:s}]", "field", "customer_id", "message",
                                             customer_id ? "must be a UUID" : "is required"));
        return;
    }
    int rc = notify_store_list(app->svc->db, customer_id, on_list, req);
    if (rc != 0)
        ct_http_reply_error(req, rc, NULL);
}

int notify_api_register(ct_http_server_t *srv, notify_app_t *app)
{
    if (ct_http_route(srv, "GET", "/api/v1/notify/notifications", list_notifications, app) != 0)
        return -1;
    return ct_http_route(srv, "GET", "/api/v1/notify/me/export", notify_api_me_export, app);
}
