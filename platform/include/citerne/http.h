/* HTTP/1.1 server on libuv, parsed by llhttp.
 *
 * Keep-alive and pipelining (one request handled at a time per connection, in
 * order), a body limit (413), a header limit (431), idle and request timeouts,
 * a connection limit (503 "overloaded"), a deadline for handlers (503
 * "handler-timeout"), a router with path parameters
 * ("/api/v1/orders/orders/{id}/confirm"), JSON replies and
 * application/problem+json errors (RFC 9457).
 *
 * Every handler runs on the loop thread. A handler replies exactly once, now or
 * later (after a database callback, say). If the client goes away first, the
 * request stays valid until the reply, which is then dropped. If the handler
 * has not replied within handler_timeout_ms, the server answers 503 in its
 * place; the request still stays valid until the handler's own reply, which
 * is then dropped. Requests that do not parse get a 400 problem and the
 * connection is closed.
 *
 * Metrics: citerne_http_requests_total{code}, citerne_http_request_duration_seconds,
 * citerne_http_connections_refused_total, citerne_http_handler_timeouts_total. */
#ifndef CITERNE_HTTP_H
#define CITERNE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include <jansson.h>

typedef struct ct_http_server ct_http_server_t;
typedef struct ct_http_req ct_http_req_t;
typedef void (*ct_http_handler_cb)(ct_http_req_t *req, void *udata);
typedef void (*ct_http_closed_cb)(void *udata);

typedef struct {
    size_t max_body;             /* bytes, default 1 MiB */
    size_t max_header;           /* bytes of all headers, default 16 KiB */
    unsigned idle_timeout_ms;    /* keep-alive idle, default 60 s */
    unsigned request_timeout_ms; /* from first byte to full request, default 30 s */
    /* From the handler's call to its reply, default 30 s. Past it the client
     * gets 503 "/problems/handler-timeout", an error is logged with the method
     * and route pattern, and the handler's late reply is dropped. */
    unsigned handler_timeout_ms;
    /* Connections served at once, default 1024. One more is accepted, answered
     * 503 "/problems/overloaded" with Retry-After: 1 (when the answer fits in
     * the socket buffer without waiting) and closed. */
    unsigned max_connections;
    const char *service; /* for metrics labels and logs */
} ct_http_opts_t;

/* Creates a server on loop; opts may be NULL, and zero fields take the
 * defaults. Returns 0 or a negative UV_E* code. Loop thread only. */
int ct_http_server_new(uv_loop_t *loop, const ct_http_opts_t *opts, ct_http_server_t **out);
/* Registers a route. method is "GET", "POST", ...; pattern segments "{name}"
 * match one non-empty path segment. Routes are tried in registration order.
 * An unknown path gets 404, a known path with another method 405. */
int ct_http_route(ct_http_server_t *srv, const char *method, const char *pattern,
                  ct_http_handler_cb cb, void *udata);
/* Binds and listens on "host:port" (port 0 picks one, see ct_http_port).
 * host is an IPv4 or IPv6 literal ("[::1]:8080"), "localhost", or empty or
 * "*" for every IPv4 interface. UV_EINVAL for a malformed address. */
int ct_http_listen(ct_http_server_t *srv, const char *addr);
/* The port listened on, or a negative code when not listening. */
int ct_http_port(const ct_http_server_t *srv);
/* Graceful stop, step 1: close the listener; idle keep-alive connections are
 * closed, busy ones after their current reply. */
void ct_http_stop_accepting(ct_http_server_t *srv);
/* Requests received and not yet replied by their handler (one answered 503
 * at the handler deadline counts until the handler's own reply). */
size_t ct_http_inflight(const ct_http_server_t *srv);
/* Closes every connection and the server; cb(udata) once all handles are
 * closed, after which srv is freed. Pending requests are dropped. */
void ct_http_server_close(ct_http_server_t *srv, ct_http_closed_cb cb, void *udata);

/* ---- request accessors: strings borrowed until the reply ---- */
const char *ct_http_method(const ct_http_req_t *req);
const char *ct_http_path(const ct_http_req_t *req);      /* without the query */
const char *ct_http_param(const ct_http_req_t *req, const char *name); /* NULL if none */
const char *ct_http_query(const ct_http_req_t *req, const char *name); /* decoded, NULL if none */
const char *ct_http_header(const ct_http_req_t *req, const char *name); /* case-insensitive */
const char *ct_http_cookie(const ct_http_req_t *req, const char *name);
const char *ct_http_body(const ct_http_req_t *req, size_t *len); /* never NULL, NUL-terminated */
const char *ct_http_request_id(const ct_http_req_t *req); /* X-Request-Id or generated */
const char *ct_http_peer(const ct_http_req_t *req);       /* client address text */
/* Zero-filled memory freed with the request. Never NULL (aborts on OOM). */
void *ct_http_alloc(ct_http_req_t *req, size_t size);
char *ct_http_strdup(ct_http_req_t *req, const char *s);

/* Parses the body as a JSON object. On failure replies 415/400 problem+json
 * itself and returns NULL; the handler then just returns. The object is
 * owned by the request (freed with it). */
json_t *ct_http_json_object(ct_http_req_t *req);

/* ---- replies: exactly one per request ---- */
/* Adds a response header (before the reply); strings are copied. */
void ct_http_add_header(ct_http_req_t *req, const char *name, const char *value);
void ct_http_reply(ct_http_req_t *req, int status, const char *content_type, const void *body,
                   size_t len);
/* Takes ownership of body (a json_t reference), even on failure. */
void ct_http_reply_json(ct_http_req_t *req, int status, json_t *body);
/* problem+json with type "/problems/<type>", a title and an optional detail. */
void ct_http_reply_problem(ct_http_req_t *req, int status, const char *type, const char *title,
                           const char *detail);
/* Problem from a CT_E* code (status, type and title from the error table). */
void ct_http_reply_error(ct_http_req_t *req, int err, const char *detail);
/* 400 problem "invalid-input" with "errors": [{"field", "message"}]; takes errors. */
void ct_http_reply_invalid(ct_http_req_t *req, json_t *errors);

#endif
