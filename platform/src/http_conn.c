/* HTTP connections: reading into the parser, writing replies in order,
 * the one timer of each connection (request, handler deadline, idle, write,
 * linger), the lingering close, the request flow from a parsed message to its
 * handler, and admission under the connection limit. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "http_private.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define LINGER_MS 2000u
/* Refused connections half-closed and drained at once (each holds a socket
 * for up to LINGER_MS); past it a refused connection is closed outright. */
#define REFUSED_LINGER_MAX 64u
/* At most one log line per this period about refused connections. */
#define REFUSED_LOG_MS 10000u
/* Unparsed bytes buffered while a request is being handled before reading
 * pauses (back-pressure on a client that pipelines too much). */
#define IN_HIGH_WATER (64u << 10)

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void process(conn_t *conn);

/* ---- connection I/O ---- */

static void on_conn_closed(uv_handle_t *h)
{
    conn_t *conn = h->data;
    if (--conn->handles > 0)
        return;
    ct_http_server_t *srv = conn->srv;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        srv->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    srv->nconns--;
    if (conn->refused)
        srv->nrefused--;
    free(conn->in);
    free(conn->scratch);
    free(conn);
    ct__http_server_maybe_free(srv);
}

void ct__http_conn_close(conn_t *conn)
{
    if (conn->closing)
        return;
    conn->closing = true;
    ct_http_req_t *req = conn->req;
    if (req && !req->replied) {
        if (req->dispatched)
            req->conn = NULL; /* the handler still holds it */
        else
            ct__http_req_free(req);
        conn->req = NULL;
    }
    /* a replied request belongs to its pending write, whose callback (with
     * UV_ECANCELED) runs before the close callbacks */
    uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&conn->timer, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn_t *conn = h->data;
    if (conn->state == CONN_LINGER) {
        /* what a lingering client sends is dropped unread: no buffer of its own */
        static _Thread_local char discard[16384];
        buf->base = discard;
        buf->len = sizeof discard;
        return;
    }
    if (conn->in_off > 0 && conn->in_off == conn->in_len)
        conn->in_off = conn->in_len = 0;
    if (conn->in_cap - conn->in_len < READ_CHUNK / 4) {
        if (conn->in_off > 0) {
            memmove(conn->in, conn->in + conn->in_off, conn->in_len - conn->in_off);
            conn->in_len -= conn->in_off;
            conn->in_off = 0;
        }
        if (conn->in_cap - conn->in_len < READ_CHUNK / 4) {
            char *p = realloc(conn->in, conn->in_len + READ_CHUNK);
            if (!p) {
                buf->base = NULL;
                buf->len = 0; /* libuv reports UV_ENOBUFS */
                return;
            }
            conn->in = p;
            conn->in_cap = conn->in_len + READ_CHUNK;
        }
    }
    buf->base = conn->in + conn->in_len;
    buf->len = conn->in_cap - conn->in_len;
}

static void reading(conn_t *conn, bool on)
{
    if (conn->closing || on == conn->reading)
        return;
    if (on) {
        if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) != 0) {
            ct__http_conn_close(conn);
            return;
        }
    } else {
        uv_read_stop((uv_stream_t *)&conn->tcp);
    }
    conn->reading = on;
}

static void release_input(conn_t *conn)
{
    /* idle keep-alive connections hold no buffer */
    free(conn->in);
    conn->in = NULL;
    conn->in_off = conn->in_len = conn->in_cap = 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn_t *conn = s->data;
    if (conn->closing)
        return;
    if (nread > 0) {
        if (conn->state == CONN_LINGER)
            return; /* read into the discard buffer (on_alloc) */
        conn->in_len += (size_t)nread;
        switch (conn->state) {
        case CONN_LINGER:
            return;
        case CONN_IDLE:
        case CONN_READING:
            process(conn);
            return;
        case CONN_HANDLING:
        case CONN_WRITING:
            if (conn->close_after_write || !conn->req->keep_alive)
                conn->in_len = conn->in_off; /* never parsed: discard */
            else if (conn->in_len - conn->in_off > IN_HIGH_WATER)
                reading(conn, false);
            return;
        }
        return;
    }
    if (nread == UV_EOF) {
        conn->peer_eof = true;
        reading(conn, false);
        if (conn->state == CONN_LINGER)
            ct__http_conn_close(conn);
        else if (conn->state == CONN_IDLE || conn->state == CONN_READING)
            process(conn); /* parses what is left, then closes */
        /* handling or writing: the client may still read the reply (it only
         * half-closed); the connection closes after it */
        return;
    }
    if (nread < 0)
        ct__http_conn_close(conn); /* reset: a dispatched request is detached */
}

/* The handler has not replied in time. Its request is detached from the
 * connection as when the client leaves (the handler still holds it, and its
 * late reply is dropped), and a stand-in request carrying what the reply
 * needs answers 503 through the usual path, so the connection goes on. */
static void handler_timeout(conn_t *conn)
{
    ct_http_server_t *srv = conn->srv;
    ct_http_req_t *req = conn->req;
    /* the method and the route pattern only: the path may carry ids, the
     * query string and body personal data */
    ct_logc_error(req->request_id,
                  "http: handler of %s %s did not reply within %u ms; answered 503, its reply "
                  "will be dropped",
                  ct_http_method(req), req->route ? req->route : "-", srv->opts.handler_timeout_ms);
    ct_metric_inc(ct_metrics_counter("citerne_http_handler_timeouts_total",
                                     "HTTP requests answered 503 because the handler did not "
                                     "reply in time"));
    /* the route dies with the server; the request may outlive it */
    req->route = ct_http_strdup(req, req->route);
    req->timed_out = true;
    req->conn = NULL;

    ct_http_req_t *stand = ct__http_req_new(srv, conn);
    memcpy(stand->request_id, req->request_id, sizeof stand->request_id);
    stand->method = ct_http_strdup(stand, req->method);
    stand->path = ct_http_strdup(stand, req->path);
    stand->start_ns = req->start_ns;
    stand->http_major = req->http_major;
    stand->http_minor = req->http_minor;
    stand->head = req->head;
    stand->keep_alive = req->keep_alive;
    conn->req = stand;
    ct__http_inflight_link(stand);
    ct_http_reply_problem(stand, 503, "handler-timeout", "the service did not answer in time",
                          NULL);
}

static void on_timer(uv_timer_t *t)
{
    conn_t *conn = t->data;
    if (conn->closing)
        return;
    if (conn->state == CONN_HANDLING) {
        /* only a dispatched request waiting for its handler has this timer */
        handler_timeout(conn);
        return;
    }
    if (conn->state == CONN_READING) {
        conn->err_status = 408;
        ct_http_req_t *req = conn->req;
        if (!req)
            req = conn->req = ct__http_req_new(conn->srv, conn);
        req->keep_alive = false;
        ct__http_inflight_link(req);
        conn->state = CONN_HANDLING;
        ct_http_reply_problem(req, 408, "request-timeout", "the request took too long to arrive",
                              NULL);
        return;
    }
    /* idle keep-alive, a stalled write, or the end of a lingering close */
    ct__http_conn_close(conn);
}

void ct__http_conn_timer(conn_t *conn, unsigned ms)
{
    if (!conn->closing)
        uv_timer_start(&conn->timer, on_timer, ms, 0);
}

static void on_shutdown(uv_shutdown_t *sh, int status)
{
    conn_t *conn = container_of(sh, conn_t, shutdown);
    if (conn->closing)
        return;
    if (status < 0 || conn->peer_eof) {
        ct__http_conn_close(conn);
        return;
    }
    unsigned idle = conn->srv->opts.idle_timeout_ms;
    ct__http_conn_timer(conn, idle < LINGER_MS ? idle : LINGER_MS);
    reading(conn, true);
}

static void linger_close(conn_t *conn)
{
    conn->state = CONN_LINGER;
    release_input(conn); /* unparsed pipelined requests will not be answered */
    uv_timer_stop(&conn->timer);
    if (conn->peer_eof || uv_shutdown(&conn->shutdown, (uv_stream_t *)&conn->tcp, on_shutdown) != 0)
        ct__http_conn_close(conn);
}

static void on_write(uv_write_t *w, int status)
{
    write_t *wr = container_of(w, write_t, w);
    conn_t *conn = wr->conn;
    ct_http_req_t *req = wr->req;
    free(wr->buf);
    free(wr);
    if (!req)
        return; /* interim "100 Continue" */
    if (conn->req == req)
        conn->req = NULL;
    ct__http_req_free(req);
    if (conn->closing)
        return;
    if (status < 0) {
        ct__http_conn_close(conn);
        return;
    }
    if (conn->close_after_write || conn->srv->stopping) {
        linger_close(conn);
        return;
    }
    conn->state = CONN_IDLE;
    conn->field = NULL;
    llhttp_resume(&conn->parser);
    process(conn);
}

int ct__http_conn_write(conn_t *conn, ct_http_req_t *req, char *buf, size_t len)
{
    write_t *wr = xmalloc(sizeof *wr);
    wr->conn = conn;
    wr->req = req;
    wr->buf = buf;
    uv_buf_t b = uv_buf_init(buf, (unsigned)len);
    int rc = uv_write(&wr->w, (uv_stream_t *)&conn->tcp, &b, 1, on_write);
    if (rc != 0) {
        free(wr);
        free(buf);
    }
    return rc;
}

/* ---- request flow ---- */

static void dispatch(conn_t *conn)
{
    ct_http_req_t *req = conn->req;
    conn->state = CONN_HANDLING;
    /* the handler's deadline; a reply made now replaces it by the write's */
    ct__http_conn_timer(conn, conn->srv->opts.handler_timeout_ms);
    ct__http_inflight_link(req);
    if (req->http_major != 1) {
        req->keep_alive = false;
        if (req->http_major == 0)
            ct_http_reply_problem(req, 400, "malformed-request", "the request could not be parsed",
                                  "the request line has no HTTP version");
        else
            ct_http_reply_problem(req, 505, "http-version-not-supported",
                                  "only HTTP/1.x is supported", NULL);
        return;
    }
    if (!ct__http_split_target(req)) {
        ct_http_reply_problem(req, 400, "malformed-request", "the request could not be parsed",
                              "the request target must be a path");
        return;
    }
    ct__http_route_request(req);
}

/* A request the parser refused: reply with a problem, then close. */
static void refuse(conn_t *conn)
{
    ct_http_req_t *req = conn->req;
    if (!req)
        req = conn->req = ct__http_req_new(conn->srv, conn);
    if (!req->request_id[0])
        ct_uuid_v7(req->request_id);
    req->keep_alive = false;
    conn->state = CONN_HANDLING;
    uv_timer_stop(&conn->timer);
    ct__http_inflight_link(req);
    switch (conn->err_status) {
    case 413:
        ct_http_reply_error(req, CT_ETOOBIG, NULL);
        return;
    case 431:
        ct_http_reply_problem(req, 431, "headers-too-large", "the request headers are too large",
                              NULL);
        return;
    default:
        ct_http_reply_problem(req, 400, "malformed-request", "the request could not be parsed",
                              conn->err_detail ? conn->err_detail
                                               : llhttp_get_error_reason(&conn->parser));
        return;
    }
}

static void process(conn_t *conn)
{
    while (!conn->closing && (conn->state == CONN_IDLE || conn->state == CONN_READING) &&
           conn->in_off < conn->in_len) {
        const char *data = conn->in + conn->in_off;
        llhttp_errno_t e = llhttp_execute(&conn->parser, data, conn->in_len - conn->in_off);
        if (e == HPE_OK) {
            conn->in_off = conn->in_len;
        } else if (e == HPE_PAUSED) {
            conn->in_off = (size_t)(llhttp_get_error_pos(&conn->parser) - conn->in);
            dispatch(conn);
        } else if (e == HPE_PAUSED_UPGRADE) {
            conn->in_off = conn->in_len; /* never reached: upgrades close first */
        } else {
            conn->in_off = conn->in_len;
            if (conn->req && conn->req->dispatched)
                break; /* cannot happen: the parser is paused while handling */
            refuse(conn);
        }
    }
    if (conn->closing)
        return;
    if (conn->state == CONN_IDLE || conn->state == CONN_READING) {
        if (conn->peer_eof) {
            /* a client that leaves mid-request gets no answer */
            ct__http_conn_close(conn);
            return;
        }
        if (conn->state == CONN_IDLE) {
            release_input(conn);
            if (conn->srv->stopping) {
                ct__http_conn_close(conn);
                return;
            }
            ct__http_conn_timer(conn, conn->srv->opts.idle_timeout_ms);
        }
        reading(conn, true);
    } else if (conn->state == CONN_HANDLING || conn->state == CONN_WRITING) {
        reading(conn, !conn->peer_eof && conn->in_len - conn->in_off <= IN_HIGH_WATER);
    }
}

/* ---- new connections ---- */

static void conn_start(ct_http_server_t *srv, conn_t *conn)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "";
    snprintf(conn->peer, sizeof conn->peer, "unknown");
    if (uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
            uv_ip4_name(a, ip, sizeof ip);
            snprintf(conn->peer, sizeof conn->peer, "%s:%d", ip, ntohs(a->sin_port));
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, ip, sizeof ip);
            snprintf(conn->peer, sizeof conn->peer, "[%s]:%d", ip, ntohs(a->sin6_port));
        } else {
            snprintf(conn->peer, sizeof conn->peer, "local");
        }
        if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
            uv_tcp_nodelay(&conn->tcp, 1);
    }
    llhttp_init(&conn->parser, HTTP_REQUEST, &srv->settings);
    conn->parser.data = conn;
    conn->state = CONN_IDLE;
    ct__http_conn_timer(conn, srv->opts.idle_timeout_ms);
    reading(conn, true);
}

conn_t *ct__http_conn_new(ct_http_server_t *srv)
{
    conn_t *conn = xmalloc(sizeof *conn);
    memset(conn, 0, sizeof *conn);
    conn->srv = srv;
    uv_tcp_init(srv->loop, &conn->tcp);
    uv_timer_init(srv->loop, &conn->timer);
    conn->tcp.data = conn;
    conn->timer.data = conn;
    conn->handles = 2;
    conn->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = conn;
    srv->conns = conn;
    srv->nconns++;
    return conn;
}

/* A connection over the limit: answered 503 at once if the socket takes the
 * whole reply now (a new socket's buffer is empty), else just closed; nothing
 * is queued for it. Then a lingering close, so the client reads the answer
 * rather than a reset, while few refused connections linger. */
static void conn_refuse(conn_t *conn)
{
    ct_http_server_t *srv = conn->srv;
    conn->refused = true;
    srv->nrefused++;
    ct_metric_inc(ct_metrics_counter("citerne_http_connections_refused_total",
                                     "HTTP connections refused over the connection limit"));
    srv->refused_unlogged++;
    uint64_t now = uv_now(srv->loop);
    if (!srv->refused_logged || now - srv->refused_log_ms >= REFUSED_LOG_MS) {
        ct_log_warn("http: connection limit (%u) reached: %zu new connection(s) refused since "
                    "the last report",
                    srv->opts.max_connections, srv->refused_unlogged);
        srv->refused_logged = true;
        srv->refused_log_ms = now;
        srv->refused_unlogged = 0;
    }

    char request_id[REQUEST_ID_MAX + 1];
    ct_uuid_v7(request_id);
    char *body = ct__http_problem_json(503, "overloaded", "the service has too many connections",
                                       "retry in a moment", NULL, NULL);
    kv_t retry = {"Retry-After", "1"};
    const kvs_t extra = {&retry, 1, 1};
    sbuf_t b = {0};
    ct__http_put_response(&b, 503, "application/problem+json", body, strlen(body), false, false,
                          request_id, &extra);
    free(body);
    uv_buf_t buf = uv_buf_init(b.p, (unsigned)b.len);
    int n = uv_try_write((uv_stream_t *)&conn->tcp, &buf, 1);
    free(b.p);
    if (n == (int)buf.len && srv->nrefused <= REFUSED_LINGER_MAX)
        linger_close(conn);
    else
        ct__http_conn_close(conn);
}

void ct__http_conn_admit(ct_http_server_t *srv, conn_t *conn)
{
    size_t served = srv->nconns - srv->nrefused - 1; /* without this one */
    if (served >= srv->opts.max_connections)
        conn_refuse(conn);
    else
        conn_start(srv, conn);
}
