/* Internals shared by the files of the HTTP server, not part of its API:
 *   http.c          the server: options, listener, accept, stop and close
 *   http_conn.c     connections: reads, writes, timers, lingering close, and
 *                   the request flow (dispatch, refusals, handler deadline)
 *   http_parse.c    llhttp callbacks filling the request being received
 *   http_request.c  requests: memory, lifetime, decoding, accessors
 *   http_router.c   routes and the choice of a handler
 *   http_reply.c    responses and problem+json bodies
 * How requests and connections live and die is described in http.c.
 * Hooks for tests and fuzz targets are in http_internal.h. Loop thread only. */
#ifndef CITERNE_HTTP_PRIVATE_H
#define CITERNE_HTTP_PRIVATE_H

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llhttp.h>

#include "citerne/http.h"

#define READ_CHUNK 65536u
#define REQUEST_ID_MAX 64

/* ---- small helpers ---- */

static inline _Noreturn void oom(void)
{
    fputs("citerne http: out of memory\n", stderr);
    abort();
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

static inline void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        oom();
    return p;
}

typedef struct {
    char *p;
    size_t len, cap;
} sbuf_t;

static inline void sb_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n + 1)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static inline void sb_puts(sbuf_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* A character of an HTTP token (method, header name). */
static inline bool is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* ---- types ---- */

typedef struct {
    const char *name, *value;
} kv_t;

typedef struct {
    kv_t *v;
    size_t n, cap;
} kvs_t;

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    max_align_t data[];
} chunk_t;

typedef struct conn conn_t;

struct ct_http_req {
    ct_http_req_t *prev, *next; /* the server's in-flight list */
    ct_http_server_t *srv;      /* NULL once detached from a closed server */
    conn_t *conn;               /* NULL once detached from a closed connection */
    chunk_t *chunks;
    const char *method;
    char *target, *path, *query_raw;
    kvs_t headers, params, query, cookies, resp_headers;
    char *body;
    size_t body_len, body_cap;
    json_t *json;
    const char *route; /* pattern of the route handling it, for logs */
    uint64_t start_ns;
    char request_id[REQUEST_ID_MAX + 1];
    char peer[64];
    unsigned char http_major, http_minor;
    bool keep_alive, head, dispatched, replied, cookies_parsed;
    bool timed_out; /* the server answered for the handler: its reply is dropped */
};

typedef enum {
    CONN_IDLE,     /* between requests */
    CONN_READING,  /* part of a request received */
    CONN_HANDLING, /* request dispatched, parser paused */
    CONN_WRITING,  /* reply being written */
    CONN_LINGER,   /* half-closed, discarding input until EOF or timeout */
} conn_state_t;

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    ct_http_server_t *srv;
    conn_t *prev, *next;
    llhttp_t parser;
    char *in; /* received bytes; [in_off, in_len) not yet parsed */
    size_t in_off, in_len, in_cap;
    char *scratch; /* URL or header field/value being received */
    size_t scratch_len, scratch_cap;
    char *field; /* last complete header name, in the request arena */
    ct_http_req_t *req;
    size_t header_bytes;
    conn_state_t state;
    int err_status; /* set by a parser callback that refused the request */
    const char *err_detail;
    int handles;
    bool closing, reading, peer_eof, close_after_write, unix_peer;
    bool refused; /* over the connection limit: answered 503 and closing */
    char peer[64];
};

typedef struct route {
    struct route *next;
    char *method;
    char *text;    /* the pattern as registered, for logs */
    char *pattern; /* storage of segs */
    char **segs;
    size_t nsegs;
    ct_http_handler_cb cb;
    void *udata;
} route_t;

struct ct_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t keeper; /* never started: guarantees ct_http_server_close an async callback */
    ct_http_opts_t opts;
    char service[64];
    llhttp_settings_t settings;
    route_t *routes, *routes_tail;
    conn_t *conns;
    size_t nconns;           /* open or closing, refused ones included */
    size_t nrefused;         /* of nconns, refused over the limit */
    uint64_t refused_log_ms; /* loop time of the last log about refusals */
    size_t refused_unlogged;
    bool refused_logged;
    ct_http_req_t *inflight_list;
    size_t inflight;
    int handles;
    bool listening, listener_closed, stopping, closing;
    ct_http_closed_cb closed_cb;
    void *closed_udata;
};

typedef struct {
    uv_write_t w;
    conn_t *conn;
    ct_http_req_t *req; /* freed when the write completes; NULL for "100 Continue" */
    char *buf;
} write_t;

/* ---- http.c ---- */

/* Frees the server once ct_http_server_close was called and every handle of
 * it is closed, then tells the caller. */
void ct__http_server_maybe_free(ct_http_server_t *srv);

/* ---- http_conn.c ---- */

/* A connection of srv, its handles initialised, not yet reading. Aborts on
 * OOM: a listener that cannot accept stops draining its backlog. */
conn_t *ct__http_conn_new(ct_http_server_t *srv);
/* Serves a new connection (accepted or adopted), or refuses it over the
 * connection limit. */
void ct__http_conn_admit(ct_http_server_t *srv, conn_t *conn);
/* Closes now; a dispatched request not yet replied is detached, kept by its
 * handler. Idempotent. */
void ct__http_conn_close(conn_t *conn);
/* (Re)starts the connection's one timer; what it ends depends on the state. */
void ct__http_conn_timer(conn_t *conn, unsigned ms);
/* Writes buf (taken: freed once written); req, if any, is freed with it.
 * Non-zero when the write could not start (buf freed, req not). */
int ct__http_conn_write(conn_t *conn, ct_http_req_t *req, char *buf, size_t len);

/* ---- http_parse.c ---- */

/* The llhttp callbacks of every connection. */
void ct__http_parser_settings_init(llhttp_settings_t *settings);

/* ---- http_request.c ---- */

/* A request of conn (both may be NULL: a fake one). Aborts on OOM. */
ct_http_req_t *ct__http_req_new(ct_http_server_t *srv, conn_t *conn);
void ct__http_req_free(ct_http_req_t *req);
/* s[0..n) copied into the request's arena. */
char *ct__http_strndup(ct_http_req_t *req, const char *s, size_t n);
/* Appends name=value (borrowed, arena strings) to a list of the request. */
void ct__http_kvs_add(ct_http_req_t *req, kvs_t *l, const char *name, const char *value);
/* Marks the request dispatched and counts it in flight (server's list). */
void ct__http_inflight_link(ct_http_req_t *req);
void ct__http_inflight_unlink(ct_http_req_t *req);
/* Percent-decodes s[0..n) into the arena; '+' is a space when plus_space.
 * NULL for a malformed escape or an encoded NUL (it would cut C strings). */
char *ct__http_pct_decode(ct_http_req_t *req, const char *s, size_t n, bool plus_space);
/* "a=1&b=x+y" into req->query; -1 when an escape is malformed. */
int ct__http_parse_query(ct_http_req_t *req);
/* Splits the request target into path and raw query. Absolute-form targets
 * ("http://host/path") are reduced to their path; '*' and others fail. */
bool ct__http_split_target(ct_http_req_t *req);

/* ---- http_router.c ---- */

/* Calls the handler of the request's route, or replies 404, 405 or 400. */
void ct__http_route_request(ct_http_req_t *req);
/* Frees the routes of a server being freed. */
void ct__http_routes_free(ct_http_server_t *srv);

/* ---- http_reply.c ---- */

/* Status line and headers of a reply, then the body unless there is none
 * (HEAD, 204, 304). extra: headers set by the handler, or NULL. */
void ct__http_put_response(sbuf_t *b, int status, const char *ctype, const char *body, size_t len,
                           bool head, bool keep, const char *request_id, const kvs_t *extra);
/* An RFC 9457 problem as compact JSON, malloc'ed; takes errors (may be NULL).
 * detail and instance may be NULL. Aborts on OOM. */
char *ct__http_problem_json(int status, const char *type, const char *title, const char *detail,
                            const char *instance, json_t *errors);

#endif
