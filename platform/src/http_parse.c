/* llhttp callbacks: they fill the connection's request as bytes arrive and
 * refuse what breaks a limit (conn->err_status); on_message_complete pauses
 * the parser so the request is handled before the next one is parsed. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "citerne/id.h"
#include "http_private.h"

static int scratch_add(conn_t *conn, const char *at, size_t n)
{
    size_t max = conn->srv->opts.max_header;
    conn->header_bytes += n;
    if (conn->header_bytes > max) {
        conn->err_status = 431;
        return -1;
    }
    if (conn->scratch_cap - conn->scratch_len < n + 1) {
        size_t cap = conn->scratch_cap ? conn->scratch_cap : 256;
        while (cap - conn->scratch_len < n + 1)
            cap *= 2;
        conn->scratch = xrealloc(conn->scratch, cap);
        conn->scratch_cap = cap;
    }
    memcpy(conn->scratch + conn->scratch_len, at, n);
    conn->scratch_len += n;
    conn->scratch[conn->scratch_len] = '\0';
    return 0;
}

static char *scratch_take(conn_t *conn)
{
    char *s = ct__http_strndup(conn->req, conn->scratch ? conn->scratch : "", conn->scratch_len);
    conn->scratch_len = 0;
    return s;
}

static int on_message_begin(llhttp_t *p)
{
    conn_t *conn = p->data;
    conn->req = ct__http_req_new(conn->srv, conn);
    conn->state = CONN_READING;
    conn->header_bytes = 0;
    conn->scratch_len = 0;
    conn->field = NULL;
    ct__http_conn_timer(conn, conn->srv->opts.request_timeout_ms);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    return scratch_add(p->data, at, n);
}

static int on_url_complete(llhttp_t *p)
{
    conn_t *conn = p->data;
    conn->req->target = scratch_take(conn);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    return scratch_add(p->data, at, n);
}

static int on_header_field_complete(llhttp_t *p)
{
    conn_t *conn = p->data;
    conn->field = scratch_take(conn);
    conn->header_bytes += 4; /* ": " and CRLF */
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    return scratch_add(p->data, at, n);
}

static int on_header_value_complete(llhttp_t *p)
{
    conn_t *conn = p->data;
    while (conn->scratch_len > 0 && (conn->scratch[conn->scratch_len - 1] == ' ' ||
                                     conn->scratch[conn->scratch_len - 1] == '\t'))
        conn->scratch_len--;
    char *value = scratch_take(conn);
    ct__http_kvs_add(conn->req, &conn->req->headers, conn->field ? conn->field : "", value);
    conn->field = NULL;
    return 0;
}

static bool sane_request_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= REQUEST_ID_MAX || !(isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return n > 0;
}

static void send_continue(conn_t *conn)
{
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char *buf = xmalloc(sizeof msg - 1);
    memcpy(buf, msg, sizeof msg - 1);
    if (ct__http_conn_write(conn, NULL, buf, sizeof msg - 1) != 0)
        ct__http_conn_close(conn);
}

static int on_headers_complete(llhttp_t *p)
{
    conn_t *conn = p->data;
    ct_http_req_t *req = conn->req;
    req->method = llhttp_method_name((llhttp_method_t)llhttp_get_method(p));
    req->http_major = p->http_major;
    req->http_minor = p->http_minor;
    req->head = llhttp_get_method(p) == HTTP_HEAD;
    const char *rid = ct_http_header(req, "X-Request-Id");
    if (rid && sane_request_id(rid))
        snprintf(req->request_id, sizeof req->request_id, "%s", rid);
    else
        ct_uuid_v7(req->request_id);

    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > conn->srv->opts.max_body) {
        conn->err_status = 413;
        return -1;
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0) {
        /* reserve what is announced, but not more than a read's worth: a
         * client claiming a large body and sending nothing holds little */
        size_t want = (size_t)p->content_length + 1;
        req->body_cap = want < READ_CHUNK ? want : READ_CHUNK;
        req->body = xmalloc(req->body_cap);
    }
    const char *expect = ct_http_header(req, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && p->http_major == 1 &&
        p->http_minor >= 1 && ((p->flags & F_CHUNKED) || p->content_length > 0))
        send_continue(conn);
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    conn_t *conn = p->data;
    ct_http_req_t *req = conn->req;
    if (n > conn->srv->opts.max_body - req->body_len) {
        conn->err_status = 413;
        return -1;
    }
    if (req->body_cap - req->body_len < n + 1) {
        size_t cap = req->body_cap ? req->body_cap : 1024;
        while (cap - req->body_len < n + 1)
            cap *= 2;
        req->body = xrealloc(req->body, cap);
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, at, n);
    req->body_len += n;
    req->body[req->body_len] = '\0';
    return 0;
}

/* Chunk extensions are parsed and dropped, but a client must not stream them
 * forever: they count against the header limit. */
static int on_chunk_extension(llhttp_t *p, const char *at, size_t n)
{
    (void)at;
    conn_t *conn = p->data;
    conn->header_bytes += n;
    if (conn->header_bytes > conn->srv->opts.max_header) {
        conn->err_status = 400;
        conn->err_detail = "chunk extensions too long";
        return -1;
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    conn_t *conn = p->data;
    /* read now: the parser forgets it for the next message */
    conn->req->keep_alive = llhttp_should_keep_alive(p) && !p->upgrade;
    return HPE_PAUSED;
}

void ct__http_parser_settings_init(llhttp_settings_t *settings)
{
    llhttp_settings_init(settings);
    settings->on_message_begin = on_message_begin;
    settings->on_url = on_url;
    settings->on_url_complete = on_url_complete;
    settings->on_header_field = on_header_field;
    settings->on_header_field_complete = on_header_field_complete;
    settings->on_header_value = on_header_value;
    settings->on_header_value_complete = on_header_value_complete;
    settings->on_headers_complete = on_headers_complete;
    settings->on_body = on_body;
    settings->on_message_complete = on_message_complete;
    settings->on_chunk_extension_name = on_chunk_extension;
    settings->on_chunk_extension_value = on_chunk_extension;
}
