#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/log.h"

#include "api.h"

int64_t orders_now(const orders_app_t *app)
{
    return app && app->now_ms ? app->now_ms() : ct_now_ms();
}

json_t *orders_order_json(const orders_order_t *o)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "id", o->order_id, "site_id",
                          o->site_id, "customer_id", o->customer_id, "status", o->status,
                          "delivery_mode", o->delivery_mode, "quantity_kg", o->quantity_kg, "speed",
                          o->speed, "created_at", o->created_at);
    if (!j)
        return json_object();
    json_object_set_new(j, "delivery_date",
                        o->delivery_date[0] ? json_string(o->delivery_date) : json_null());
    json_object_set_new(j, "delivered_kg",
                        o->delivered_kg > 0 ? json_integer(o->delivered_kg) : json_null());
    json_object_set_new(j, "level_after_pct",
                        o->level_after_pct >= 0 ? json_integer(o->level_after_pct) : json_null());
    return j;
}

void orders_reply_db_error(ct_http_req_t *req, const ct_db_error_t *err)
{
    ct_logc_error(ct_http_request_id(req), "database: %s %s", err->sqlstate ? err->sqlstate : "",
                  err->message ? err->message : "");
    int code = CT_EDB;
    if (err->status == CT_EUNAVAIL || err->status == CT_ECLOSED)
        code = err->status;
    else if (err->sqlstate && strncmp(err->sqlstate, "40", 2) == 0)
        code = CT_EUNAVAIL; /* deadlock, serialization failure: worth a retry */
    ct_http_reply_error(req, code, NULL);
}

void orders_reply_certificate_missing(ct_http_req_t *req, const char *detail)
{
    ct_http_reply_problem(req, 409, "certificate-missing",
                          "The site's certificate of conformity has not been received", detail);
}

bool orders_query_int(ct_http_req_t *req, const char *name, long def, long min, long max, long *out)
{
    const char *q = ct_http_query(req, name);
    *out = def;
    if (!q)
        return true;
    char *end = NULL;
    long v = strtol(q, &end, 10);
    if (*q && !*end && v >= min && v <= max && !isspace((unsigned char)*q)) {
        *out = v;
        return true;
    }
    json_t *errors = json_array();
    json_array_append_new(errors, json_pack("{s:s, s:s}", "field", name, "message",
                                            "must be a whole number in the allowed range"));
    ct_http_reply_invalid(req, errors);
    return false;
}

char *orders_path_uuid(ct_http_req_t *req, const char *name)
{
    const char *v = ct_http_param(req, name);
    if (!v || !ct_uuid_valid(v) || strlen(v) != CT_UUID_STRLEN)
        return NULL;
    char *s = ct_http_strdup(req, v);
    for (char *p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

int orders_api_register(ct_http_server_t *srv, orders_app_t *app)
{
    int rc = orders_api_orders_register(srv, app);
    if (rc == 0)
        rc = orders_api_deliveries_register(srv, app);
    return rc;
}
