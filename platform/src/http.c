/* HTTP/1.1 server on libuv and llhttp: the server itself (options, listener,
 * accept, stop, close); the other parts are listed in http_private.h.
 *
 * A connection owns one parser and at most one request at a time. When the
 * parser completes a message, on_message_complete pauses it (HPE_PAUSED): the
 * bytes after the message (pipelined requests) stay in the input buffer until
 * the reply is written, then the parser resumes on them. So replies go out in
 * request order without a response queue.
 *
 * A request is handed to its handler ("dispatched") and lives until the
 * handler replies, whatever happens to the connection meanwhile: closing a
 * connection detaches its dispatched request (req->conn = NULL) and closing the
 * server detaches it from the server (req->srv = NULL). A reply on a detached
 * request is counted, logged and dropped, and the request freed. A handler
 * that misses its deadline (handler_timeout_ms) has its request detached from
 * the connection the same way and marked timed_out; a stand-in request answers
 * 503 in its place, and the handler's late reply is logged and dropped.
 *
 * Over max_connections a new connection is still accepted (so the listen
 * backlog drains), answered 503 only if the socket takes the reply at once,
 * and closed.
 *
 * A connection that must close after a reply (errors, Connection: close,
 * shutdown) first half-closes and discards what the client still sends for a
 * moment ("lingering close"), so the client reads the reply instead of a
 * reset caused by its unread request bytes. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "http_internal.h"
#include "http_private.h"

#define DEFAULT_MAX_BODY (1u << 20)
#define DEFAULT_MAX_HEADER (16u << 10)
#define DEFAULT_IDLE_MS 60000u
#define DEFAULT_REQUEST_MS 30000u
#define DEFAULT_HANDLER_MS 30000u
#define DEFAULT_MAX_CONNECTIONS 1024u

void ct__http_server_maybe_free(ct_http_server_t *srv)
{
    if (!srv->closing || srv->nconns > 0 || srv->handles > 0)
        return;
    ct_http_closed_cb cb = srv->closed_cb;
    void *ud = srv->closed_udata;
    ct__http_routes_free(srv);
    free(srv);
    if (cb)
        cb(ud);
}

int ct_http_server_new(uv_loop_t *loop, const ct_http_opts_t *opts, ct_http_server_t **out)
{
    if (!loop || !out)
        return UV_EINVAL;
    ct_http_server_t *srv = calloc(1, sizeof *srv);
    if (!srv)
        return UV_ENOMEM;
    srv->loop = loop;
    if (opts)
        srv->opts = *opts;
    if (!srv->opts.max_body)
        srv->opts.max_body = DEFAULT_MAX_BODY;
    if (!srv->opts.max_header)
        srv->opts.max_header = DEFAULT_MAX_HEADER;
    if (!srv->opts.idle_timeout_ms)
        srv->opts.idle_timeout_ms = DEFAULT_IDLE_MS;
    if (!srv->opts.request_timeout_ms)
        srv->opts.request_timeout_ms = DEFAULT_REQUEST_MS;
    if (!srv->opts.handler_timeout_ms)
        srv->opts.handler_timeout_ms = DEFAULT_HANDLER_MS;
    if (!srv->opts.max_connections)
        srv->opts.max_connections = DEFAULT_MAX_CONNECTIONS;
    snprintf(srv->service, sizeof srv->service, "%s",
             srv->opts.service ? srv->opts.service : "citerne");
    srv->opts.service = srv->service;

    ct__http_parser_settings_init(&srv->settings);

    int rc = uv_tcp_init(loop, &srv->listener);
    if (rc != 0) {
        free(srv);
        return rc;
    }
    uv_timer_init(loop, &srv->keeper);
    srv->listener.data = srv;
    srv->keeper.data = srv;
    srv->handles = 2;
    *out = srv;
    return 0;
}

static void on_connection(uv_stream_t *l, int status)
{
    ct_http_server_t *srv = l->data;
    if (status < 0) {
        ct_log_warn("http: accept failed: %s", ct_strerror(status));
        return;
    }
    if (srv->stopping)
        return;
    /* accept even over the limit: libuv stops watching a listener whose
     * pending connection was not taken, and the backlog would stall */
    conn_t *conn = ct__http_conn_new(srv);
    if (uv_accept(l, (uv_stream_t *)&conn->tcp) != 0) {
        ct__http_conn_close(conn);
        return;
    }
    ct__http_conn_admit(srv, conn);
}

int ct__http_adopt(ct_http_server_t *srv, uv_os_sock_t fd)
{
    if (!srv || srv->stopping)
        return UV_EINVAL;
    conn_t *conn = ct__http_conn_new(srv);
    int rc = uv_tcp_open(&conn->tcp, fd);
    if (rc != 0) {
        /* the handle does not own fd yet: closing it leaves fd to the caller */
        ct__http_conn_close(conn);
        return rc;
    }
    ct__http_conn_admit(srv, conn);
    return 0;
}

size_t ct__http_conn_count(const ct_http_server_t *srv)
{
    return srv ? srv->nconns : 0;
}

/* "host:port", "[v6]:port", ":port" (all IPv4 interfaces), "localhost:port". */
static int parse_addr(const char *addr, struct sockaddr_storage *ss)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port;
    if (!addr)
        return UV_EINVAL;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':' || (size_t)(end - addr - 1) >= sizeof host)
            return UV_EINVAL;
        memcpy(host, addr + 1, (size_t)(end - addr - 1));
        host[end - addr - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon || (size_t)(colon - addr) >= sizeof host)
            return UV_EINVAL;
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        port = colon + 1;
    }
    size_t pn = strlen(port);
    if (pn == 0 || pn > 5 || strspn(port, "0123456789") != pn)
        return UV_EINVAL;
    int p = atoi(port);
    if (p > 65535)
        return UV_EINVAL;
    if (host[0] == '\0' || strcmp(host, "*") == 0)
        snprintf(host, sizeof host, "0.0.0.0");
    else if (strcasecmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (uv_ip4_addr(host, p, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, p, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return UV_EINVAL;
}

int ct_http_listen(ct_http_server_t *srv, const char *addr)
{
    if (!srv || srv->listening || srv->listener_closed)
        return UV_EINVAL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int rc = parse_addr(addr, &ss);
    if (rc != 0)
        return rc;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
    if (rc != 0)
        return rc;
    srv->listening = true;
    return 0;
}

int ct_http_port(const ct_http_server_t *srv)
{
    if (!srv || !srv->listening || srv->listener_closed)
        return UV_EINVAL;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    int rc = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len);
    if (rc != 0)
        return rc;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void on_server_handle_closed(uv_handle_t *h)
{
    ct_http_server_t *srv = h->data;
    srv->handles--;
    ct__http_server_maybe_free(srv);
}

static void close_listener(ct_http_server_t *srv)
{
    if (srv->listener_closed)
        return;
    srv->listener_closed = true;
    uv_close((uv_handle_t *)&srv->listener, on_server_handle_closed);
}

void ct_http_stop_accepting(ct_http_server_t *srv)
{
    if (!srv || srv->stopping)
        return;
    srv->stopping = true;
    close_listener(srv);
    conn_t *c = srv->conns;
    while (c) {
        conn_t *next = c->next;
        if (c->state == CONN_IDLE)
            ct__http_conn_close(c);
        c = next;
    }
}

size_t ct_http_inflight(const ct_http_server_t *srv)
{
    return srv ? srv->inflight : 0;
}

void ct_http_server_close(ct_http_server_t *srv, ct_http_closed_cb cb, void *udata)
{
    if (!srv || srv->closing)
        return;
    srv->closing = true;
    srv->stopping = true;
    srv->closed_cb = cb;
    srv->closed_udata = udata;
    /* handlers still holding requests reply later, into the void */
    ct_http_req_t *req = srv->inflight_list;
    while (req) {
        ct_http_req_t *next = req->next;
        req->srv = NULL;
        req->prev = req->next = NULL;
        req = next;
    }
    srv->inflight_list = NULL;
    srv->inflight = 0;
    close_listener(srv);
    uv_close((uv_handle_t *)&srv->keeper, on_server_handle_closed);
    for (conn_t *c = srv->conns; c; c = c->next)
        ct__http_conn_close(c);
}
