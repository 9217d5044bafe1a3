/* HTTP replies: the response head and body written once per request
 * (finish), metrics and the access log, header checks, JSON and
 * problem+json bodies (RFC 9457). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "http_internal.h"
#include "http_private.h"

static void sb_header(sbuf_t *b, const char *name, const char *value)
{
    sb_puts(b, name);
    sb_put(b, ": ", 2);
    sb_puts(b, value);
    sb_put(b, "\r\n", 2);
}

/* A JSON string of s, bytes that are not UTF-8 replaced by '?' (jansson
 * refuses invalid UTF-8, and paths and parser messages come from clients). */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = strdup(s);
    if (!copy)
        oom();
    for (unsigned char *p = (unsigned char *)copy; *p; p++)
        if (*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static _Thread_local int last_status; /* for tests: see ct__http_last_status */

static const char *reason(int status)
{
    static const struct {
        int status;
        const char *text;
    } reasons[] = {
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
    };
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == status)
            return reasons[i].text;
    return status < 300   ? "OK"
           : status < 400 ? "Redirect"
           : status < 500 ? "Client Error"
                          : "Server Error";
}

static const char *http_date(void)
{
    static _Thread_local char buf[32];
    static _Thread_local time_t cached = -1;
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if (now != cached) {
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        cached = now;
    }
    return buf;
}

static void record(const ct_http_req_t *req, int status)
{
    double secs = (double)(uv_hrtime() - req->start_ns) / 1e9;
    char name[64];
    snprintf(name, sizeof name, "citerne_http_requests_total{code=\"%dxx\"}", status / 100);
    ct_metric_inc(ct_metrics_counter(name, "HTTP requests by status class"));
    ct_metric_observe(ct_metrics_histogram("citerne_http_request_duration_seconds",
                                           "HTTP request duration, first byte to reply"),
                      secs);
    ct_logc_debug(req->request_id, "http %s %s %d %.1f ms%s", req->method ? req->method : "-",
                  req->path ? req->path : (req->target ? req->target : "-"), status, secs * 1e3,
                  req->conn ? "" : " (client gone, reply dropped)");
    last_status = status;
}

void ct__http_put_response(sbuf_t *b, int status, const char *ctype, const char *body, size_t len,
                           bool head, bool keep, const char *request_id, const kvs_t *extra)
{
    bool no_body = status == 204 || status == 304;
    char line[64];
    snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, reason(status));
    sb_puts(b, line);
    sb_header(b, "Date", http_date());
    if (ctype && !no_body)
        sb_header(b, "Content-Type", ctype);
    if (!no_body) {
        snprintf(line, sizeof line, "%zu", len);
        sb_header(b, "Content-Length", line);
    }
    sb_header(b, "Connection", keep ? "keep-alive" : "close");
    sb_header(b, "X-Request-Id", request_id);
    for (size_t i = 0; extra && i < extra->n; i++)
        sb_header(b, extra->v[i].name, extra->v[i].value);
    sb_put(b, "\r\n", 2);
    if (!no_body && !head && len > 0)
        sb_put(b, body, len);
}

/* Every reply ends here, exactly once per request. */
static void finish(ct_http_req_t *req, int status, const char *ctype, const char *body, size_t len)
{
    if (req->replied) {
        ct_logc_error(req->request_id, "http: second reply to %s %s ignored",
                      req->method ? req->method : "-", req->path ? req->path : "-");
        return;
    }
    req->replied = true;
    ct__http_inflight_unlink(req);
    if (!req->dispatched)
        req->dispatched = true;
    if (req->timed_out) {
        /* answered 503 and counted at the deadline */
        ct_logc_warn(req->request_id, "http: late reply %d of %s %s dropped", status,
                     ct_http_method(req), req->route ? req->route : "-");
        last_status = status;
        ct__http_req_free(req);
        return;
    }
    record(req, status);

    conn_t *conn = req->conn;
    if (!conn || conn->closing) {
        ct__http_req_free(req);
        return;
    }
    ct_http_server_t *srv = conn->srv;
    bool last = conn->peer_eof && conn->in_off == conn->in_len;
    bool keep = req->keep_alive && !srv->stopping && !srv->closing && !last;
    conn->close_after_write = !keep;

    sbuf_t b = {0};
    ct__http_put_response(&b, status, ctype, body, len, req->head, keep, req->request_id,
                          &req->resp_headers);

    conn->state = CONN_WRITING;
    ct__http_conn_timer(conn, srv->opts.idle_timeout_ms);
    size_t n = b.len;
    if (ct__http_conn_write(conn, req, b.p, n) != 0) {
        conn->req = NULL;
        ct__http_req_free(req);
        ct__http_conn_close(conn);
    }
}

int ct__http_last_status(void)
{
    return last_status;
}

/* ---- replies ---- */

static bool managed_header(const char *name)
{
    static const char *const names[] = {"Content-Length", "Transfer-Encoding", "Connection",
                                        "Date",           "X-Request-Id",      "Content-Type"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

/* No CR, LF or other control character: nothing can end the header line. */
static bool header_value_ok(const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p < 0x20 ? *p != '\t' : *p == 0x7f)
            return false;
    return true;
}

void ct_http_add_header(ct_http_req_t *req, const char *name, const char *value)
{
    if (req->replied)
        return;
    bool ok = name && *name && value;
    for (const char *p = name; ok && *p; p++)
        ok = is_tchar((unsigned char)*p);
    ok = ok && header_value_ok(value);
    if (!ok || managed_header(name)) {
        ct_logc_warn(req->request_id, "http: response header %s dropped (%s)", name ? name : "?",
                     ok ? "set by the server" : "invalid name or value");
        return;
    }
    ct__http_kvs_add(req, &req->resp_headers, ct_http_strdup(req, name),
                     ct_http_strdup(req, value));
}

void ct_http_reply(ct_http_req_t *req, int status, const char *content_type, const void *body,
                   size_t len)
{
    if (status < 200 || status > 599) {
        ct_logc_error(req->request_id, "http: invalid status %d replaced by 500", status);
        status = 500;
        content_type = NULL;
        body = NULL;
        len = 0;
    }
    if (content_type && !header_value_ok(content_type)) {
        ct_logc_error(req->request_id, "http: invalid Content-Type dropped");
        content_type = NULL;
    }
    finish(req, status, content_type, body, body ? len : 0);
}

void ct_http_reply_json(ct_http_req_t *req, int status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!s) {
        ct_logc_error(req->request_id, "http: reply body could not be encoded as JSON");
        ct_http_reply_error(req, CT_EINTERNAL, NULL);
        return;
    }
    ct_http_reply(req, status, "application/json", s, strlen(s));
    free(s);
}

char *ct__http_problem_json(int status, const char *type, const char *title, const char *detail,
                            const char *instance, json_t *errors)
{
    json_t *o = json_object();
    if (!o)
        oom();
    char t[128];
    snprintf(t, sizeof t, "/problems/%s", type ? type : "internal");
    json_object_set_new(o, "type", jstr(t));
    json_object_set_new(o, "title", jstr(title ? title : reason(status)));
    json_object_set_new(o, "status", json_integer(status));
    if (detail)
        json_object_set_new(o, "detail", jstr(detail));
    if (instance)
        json_object_set_new(o, "instance", jstr(instance));
    if (errors)
        json_object_set_new(o, "errors", errors);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        oom();
    return s;
}

static void reply_problem_errors(ct_http_req_t *req, int status, const char *type,
                                 const char *title, const char *detail, json_t *errors)
{
    char *s = ct__http_problem_json(status, type, title, detail, req->path, errors);
    if (status < 200 || status > 599)
        status = 500;
    finish(req, status, "application/problem+json", s, strlen(s));
    free(s);
}

void ct_http_reply_problem(ct_http_req_t *req, int status, const char *type, const char *title,
                           const char *detail)
{
    reply_problem_errors(req, status, type, title, detail, NULL);
}

void ct_http_reply_error(ct_http_req_t *req, int err, const char *detail)
{
    const char *type = ct_err_problem_type(err);
    if (strcmp(type, "internal") == 0 && err != CT_EINTERNAL) {
        /* a system error (-errno, UV_*) is ours to log, not the client's to read */
        ct_logc_error(req->request_id, "http %s %s: %s", ct_http_method(req), ct_http_path(req),
                      ct_strerror(err));
        err = CT_EINTERNAL;
    }
    reply_problem_errors(req, ct_err_http_status(err), ct_err_problem_type(err), ct_strerror(err),
                         detail, NULL);
}

void ct_http_reply_invalid(ct_http_req_t *req, json_t *errors)
{
    reply_problem_errors(req, 400, ct_err_problem_type(CT_EINPUT), ct_strerror(CT_EINPUT), NULL,
                         errors);
}
