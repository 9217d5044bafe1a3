/* HTTP/1.1 server on libuv and llhttp.
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
#include "citerne/http.h"

#include <ctype.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <llhttp.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "http_internal.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define DEFAULT_MAX_BODY (1u << 20)
#define DEFAULT_MAX_HEADER (16u << 10)
#define DEFAULT_IDLE_MS 60000u
#define DEFAULT_REQUEST_MS 30000u
#define DEFAULT_HANDLER_MS 30000u
#define DEFAULT_MAX_CONNECTIONS 1024u
#define LINGER_MS 2000u
/* Refused connections half-closed and drained at once (each holds a socket
 * for up to LINGER_MS); past it a refused connection is closed outright. */
#define REFUSED_LINGER_MAX 64u
/* At most one log line per this period about refused connections. */
#define REFUSED_LOG_MS 10000u
#define READ_CHUNK 65536u
/* Unparsed bytes buffered while a request is being handled before reading
 * pauses (back-pressure on a client that pipelines too much). */
#define IN_HIGH_WATER (64u << 10)
#define ARENA_CHUNK 4096u
#define REQUEST_ID_MAX 64

/* ---- small helpers ---- */

static _Noreturn void oom(void)
{
    fputs("citerne http: out of memory\n", stderr);
    abort();
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

static void *xrealloc(void *p, size_t n)
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

static void sb_put(sbuf_t *b, const char *s, size_t n)
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

static void sb_puts(sbuf_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

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

static bool is_tchar(unsigned char c)
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

static _Thread_local int last_status; /* for tests: see ct__http_last_status */

static void conn_close(conn_t *conn);
static void process(conn_t *conn);
static void finish(ct_http_req_t *req, int status, const char *ctype, const char *body, size_t len);
static void reply_problem_errors(ct_http_req_t *req, int status, const char *type,
                                 const char *title, const char *detail, json_t *errors);
static char *problem_json(int status, const char *type, const char *title, const char *detail,
                          const char *instance, json_t *errors);

/* ---- per-request arena ---- */

void *ct_http_alloc(ct_http_req_t *req, size_t size)
{
    const size_t align = alignof(max_align_t);
    if (size > SIZE_MAX / 2)
        oom();
    size = (size + align - 1) & ~(align - 1);
    if (size == 0)
        size = align;
    chunk_t *c = req->chunks;
    if (!c || c->cap - c->used < size) {
        if (size > ARENA_CHUNK / 4) {
            /* a large block gets its own chunk, behind the current one */
            chunk_t *big = xmalloc(sizeof *big + size);
            big->cap = big->used = size;
            if (c) {
                big->next = c->next;
                c->next = big;
            } else {
                big->next = NULL;
                req->chunks = big;
            }
            memset(big->data, 0, size);
            return big->data;
        }
        c = xmalloc(sizeof *c + ARENA_CHUNK);
        c->cap = ARENA_CHUNK;
        c->used = 0;
        c->next = req->chunks;
        req->chunks = c;
    }
    void *p = (unsigned char *)c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

static char *req_strndup(ct_http_req_t *req, const char *s, size_t n)
{
    char *p = ct_http_alloc(req, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *ct_http_strdup(ct_http_req_t *req, const char *s)
{
    return s ? req_strndup(req, s, strlen(s)) : NULL;
}

static void kvs_add(ct_http_req_t *req, kvs_t *l, const char *name, const char *value)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        kv_t *v = ct_http_alloc(req, cap * sizeof *v);
        if (l->n)
            memcpy(v, l->v, l->n * sizeof *v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].name = name;
    l->v[l->n].value = value;
    l->n++;
}

static ct_http_req_t *req_new(ct_http_server_t *srv, conn_t *conn)
{
    ct_http_req_t *req = calloc(1, sizeof *req);
    if (!req)
        oom();
    req->srv = srv;
    req->conn = conn;
    req->start_ns = uv_hrtime();
    req->keep_alive = true;
    if (conn)
        snprintf(req->peer, sizeof req->peer, "%s", conn->peer);
    return req;
}

static void req_free(ct_http_req_t *req)
{
    if (!req)
        return;
    json_decref(req->json);
    free(req->body);
    chunk_t *c = req->chunks;
    while (c) {
        chunk_t *next = c->next;
        free(c);
        c = next;
    }
    free(req);
}

static void inflight_link(ct_http_req_t *req)
{
    ct_http_server_t *srv = req->srv;
    req->dispatched = true;
    if (!srv)
        return;
    req->prev = NULL;
    req->next = srv->inflight_list;
    if (srv->inflight_list)
        srv->inflight_list->prev = req;
    srv->inflight_list = req;
    srv->inflight++;
}

static void inflight_unlink(ct_http_req_t *req)
{
    ct_http_server_t *srv = req->srv;
    if (!srv)
        return;
    if (req->prev)
        req->prev->next = req->next;
    else
        srv->inflight_list = req->next;
    if (req->next)
        req->next->prev = req->prev;
    req->prev = req->next = NULL;
    srv->inflight--;
}

/* ---- decoding ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into the arena; '+' is a space when plus_space.
 * NULL for a malformed escape or an encoded NUL (it would cut C strings). */
static char *pct_decode(ct_http_req_t *req, const char *s, size_t n, bool plus_space)
{
    char *out = ct_http_alloc(req, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (n - i < 3)
                return NULL;
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return NULL;
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus_space) {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return out;
}

/* "a=1&b=x+y" into req->query; -1 when an escape is malformed. */
static int parse_query(ct_http_req_t *req)
{
    const char *s = req->query_raw;
    if (!s)
        return 0;
    while (*s) {
        size_t n = strcspn(s, "&");
        if (n > 0) {
            const char *eq = memchr(s, '=', n);
            size_t kn = eq ? (size_t)(eq - s) : n;
            char *k = pct_decode(req, s, kn, true);
            char *v = eq ? pct_decode(req, eq + 1, n - kn - 1, true) : ct_http_strdup(req, "");
            if (!k || !v)
                return -1;
            kvs_add(req, &req->query, k, v);
        }
        s += n;
        if (*s == '&')
            s++;
    }
    return 0;
}

static void parse_cookies(ct_http_req_t *req)
{
    req->cookies_parsed = true;
    for (size_t i = 0; i < req->headers.n; i++) {
        if (strcasecmp(req->headers.v[i].name, "Cookie") != 0)
            continue;
        const char *s = req->headers.v[i].value;
        while (*s) {
            while (*s == ' ' || *s == '\t' || *s == ';')
                s++;
            size_t n = strcspn(s, ";");
            const char *eq = memchr(s, '=', n);
            if (eq && eq > s) {
                size_t kn = (size_t)(eq - s);
                while (kn > 0 && (s[kn - 1] == ' ' || s[kn - 1] == '\t'))
                    kn--;
                const char *v = eq + 1;
                size_t vn = n - (size_t)(v - s);
                while (vn > 0 && (*v == ' ' || *v == '\t'))
                    v++, vn--;
                while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
                    vn--;
                if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"')
                    v++, vn -= 2;
                if (kn > 0)
                    kvs_add(req, &req->cookies, req_strndup(req, s, kn), req_strndup(req, v, vn));
            }
            s += n;
        }
    }
}

/* Splits the request target into path and raw query. Absolute-form targets
 * ("http://host/path") are reduced to their path; '*' and others fail. */
static bool split_target(ct_http_req_t *req)
{
    const char *t = req->target ? req->target : "";
    if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
        t = strchr(t, ':') + 3;
        t += strcspn(t, "/?#");
        if (*t != '/')
            return false;
    }
    if (*t != '/')
        return false;
    size_t end = strcspn(t, "#");
    size_t pn = strcspn(t, "?#");
    req->path = req_strndup(req, t, pn);
    if (t[pn] == '?')
        req->query_raw = req_strndup(req, t + pn + 1, end - pn - 1);
    return true;
}

/* ---- routing ---- */

/* "/a/{id}/b" -> ["a", "{id}", "b"]; "/" -> [""]. Strings in the arena or a
 * malloc'ed copy (routes). */
static size_t count_segs(const char *path)
{
    size_t n = 1;
    for (const char *p = path + 1; *p; p++)
        n += *p == '/';
    return n;
}

static bool seg_is_param(const char *seg)
{
    return seg[0] == '{';
}

static bool route_matches(const route_t *r, char *const *segs, size_t n)
{
    if (r->nsegs != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (seg_is_param(r->segs[i]) ? segs[i][0] == '\0' : strcmp(r->segs[i], segs[i]) != 0)
            return false;
    }
    return true;
}

static void free_route(route_t *r)
{
    if (!r)
        return;
    free(r->method);
    free(r->text);
    free(r->pattern);
    free(r->segs);
    free(r);
}

int ct_http_route(ct_http_server_t *srv, const char *method, const char *pattern,
                  ct_http_handler_cb cb, void *udata)
{
    if (!srv || !method || !*method || !pattern || pattern[0] != '/' || !cb)
        return UV_EINVAL;
    for (const char *m = method; *m; m++)
        if (!is_tchar((unsigned char)*m))
            return UV_EINVAL;
    route_t *r = calloc(1, sizeof *r);
    if (!r)
        return UV_ENOMEM;
    r->nsegs = count_segs(pattern);
    r->segs = calloc(r->nsegs, sizeof *r->segs);
    r->method = strdup(method);
    r->text = strdup(pattern);
    r->pattern = strdup(pattern);
    if (!r->segs || !r->method || !r->text || !r->pattern) {
        free_route(r);
        return UV_ENOMEM;
    }
    char *p = r->pattern + 1;
    for (size_t i = 0; i < r->nsegs; i++) {
        r->segs[i] = p;
        p += strcspn(p, "/");
        if (*p)
            *p++ = '\0';
        const char *s = r->segs[i];
        size_t len = strlen(s);
        bool brace = strchr(s, '{') || strchr(s, '}');
        if (brace &&
            (len < 3 || s[0] != '{' || s[len - 1] != '}' || strcspn(s + 1, "{}") != len - 2)) {
            free_route(r);
            return UV_EINVAL;
        }
    }
    r->cb = cb;
    r->udata = udata;
    if (srv->routes_tail)
        srv->routes_tail->next = r;
    else
        srv->routes = r;
    srv->routes_tail = r;
    return 0;
}

static void route_request(ct_http_req_t *req)
{
    ct_http_server_t *srv = req->srv;
    size_t n = count_segs(req->path);
    char **segs = ct_http_alloc(req, n * sizeof *segs);
    char *p = ct_http_strdup(req, req->path) + 1;
    for (size_t i = 0; i < n; i++) {
        segs[i] = p;
        p += strcspn(p, "/");
        if (*p)
            *p++ = '\0';
    }

    const route_t *found = NULL;
    const char *method = req->method;
    for (const route_t *r = srv->routes; r && !found; r = r->next)
        if (strcmp(r->method, method) == 0 && route_matches(r, segs, n))
            found = r;
    if (!found && req->head)
        for (const route_t *r = srv->routes; r && !found; r = r->next)
            if (strcmp(r->method, "GET") == 0 && route_matches(r, segs, n))
                found = r;

    if (!found) {
        sbuf_t allow = {0};
        bool get = false;
        for (const route_t *r = srv->routes; r; r = r->next) {
            if (!route_matches(r, segs, n))
                continue;
            /* each method once, in registration order */
            bool seen = false;
            for (const route_t *q = srv->routes; q != r && !seen; q = q->next)
                seen = strcmp(q->method, r->method) == 0 && route_matches(q, segs, n);
            if (seen)
                continue;
            if (allow.len)
                sb_put(&allow, ", ", 2);
            sb_puts(&allow, r->method);
            get |= strcmp(r->method, "GET") == 0;
        }
        if (allow.len) {
            if (get)
                sb_puts(&allow, ", HEAD");
            ct_http_add_header(req, "Allow", allow.p);
            free(allow.p);
            ct_http_reply_error(req, CT_EMETHOD, NULL);
        } else {
            ct_http_reply_error(req, CT_ENOTFOUND, NULL);
        }
        return;
    }

    for (size_t i = 0; i < n; i++) {
        if (!seg_is_param(found->segs[i]))
            continue;
        const char *name = found->segs[i];
        char *value = pct_decode(req, segs[i], strlen(segs[i]), false);
        if (!value) {
            ct_http_reply_problem(req, 400, "malformed-request", "the request could not be parsed",
                                  "malformed percent-encoding in the path");
            return;
        }
        kvs_add(req, &req->params, req_strndup(req, name + 1, strlen(name) - 2), value);
    }
    if (parse_query(req) != 0) {
        ct_http_reply_problem(req, 400, "malformed-request", "the request could not be parsed",
                              "malformed percent-encoding in the query string");
        return;
    }
    req->route = found->text;
    found->cb(req, found->udata);
}

/* ---- connection I/O ---- */

static void conn_timer(conn_t *conn, unsigned ms);

/* Frees the server once ct_http_server_close was called and every handle of
 * it is closed, then tells the caller. */
static void server_maybe_free(ct_http_server_t *srv)
{
    if (!srv->closing || srv->nconns > 0 || srv->handles > 0)
        return;
    ct_http_closed_cb cb = srv->closed_cb;
    void *ud = srv->closed_udata;
    route_t *r = srv->routes;
    while (r) {
        route_t *next = r->next;
        free_route(r);
        r = next;
    }
    free(srv);
    if (cb)
        cb(ud);
}

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
    server_maybe_free(srv);
}

static void conn_close(conn_t *conn)
{
    if (conn->closing)
        return;
    conn->closing = true;
    ct_http_req_t *req = conn->req;
    if (req && !req->replied) {
        if (req->dispatched)
            req->conn = NULL; /* the handler still holds it */
        else
            req_free(req);
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

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void reading(conn_t *conn, bool on)
{
    if (conn->closing || on == conn->reading)
        return;
    if (on) {
        if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) != 0) {
            conn_close(conn);
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
            conn_close(conn);
        else if (conn->state == CONN_IDLE || conn->state == CONN_READING)
            process(conn); /* parses what is left, then closes */
        /* handling or writing: the client may still read the reply (it only
         * half-closed); the connection closes after it */
        return;
    }
    if (nread < 0)
        conn_close(conn); /* reset: a dispatched request is detached */
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

    ct_http_req_t *stand = req_new(srv, conn);
    memcpy(stand->request_id, req->request_id, sizeof stand->request_id);
    stand->method = ct_http_strdup(stand, req->method);
    stand->path = ct_http_strdup(stand, req->path);
    stand->start_ns = req->start_ns;
    stand->http_major = req->http_major;
    stand->http_minor = req->http_minor;
    stand->head = req->head;
    stand->keep_alive = req->keep_alive;
    conn->req = stand;
    inflight_link(stand);
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
            req = conn->req = req_new(conn->srv, conn);
        req->keep_alive = false;
        inflight_link(req);
        conn->state = CONN_HANDLING;
        ct_http_reply_problem(req, 408, "request-timeout", "the request took too long to arrive",
                              NULL);
        return;
    }
    /* idle keep-alive, a stalled write, or the end of a lingering close */
    conn_close(conn);
}

static void conn_timer(conn_t *conn, unsigned ms)
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
        conn_close(conn);
        return;
    }
    unsigned idle = conn->srv->opts.idle_timeout_ms;
    conn_timer(conn, idle < LINGER_MS ? idle : LINGER_MS);
    reading(conn, true);
}

static void linger_close(conn_t *conn)
{
    conn->state = CONN_LINGER;
    release_input(conn); /* unparsed pipelined requests will not be answered */
    uv_timer_stop(&conn->timer);
    if (conn->peer_eof || uv_shutdown(&conn->shutdown, (uv_stream_t *)&conn->tcp, on_shutdown) != 0)
        conn_close(conn);
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
    req_free(req);
    if (conn->closing)
        return;
    if (status < 0) {
        conn_close(conn);
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

static int conn_write(conn_t *conn, ct_http_req_t *req, char *buf, size_t len)
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

/* ---- parser callbacks ---- */

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
    char *s = req_strndup(conn->req, conn->scratch ? conn->scratch : "", conn->scratch_len);
    conn->scratch_len = 0;
    return s;
}

static int on_message_begin(llhttp_t *p)
{
    conn_t *conn = p->data;
    conn->req = req_new(conn->srv, conn);
    conn->state = CONN_READING;
    conn->header_bytes = 0;
    conn->scratch_len = 0;
    conn->field = NULL;
    conn_timer(conn, conn->srv->opts.request_timeout_ms);
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
    kvs_add(conn->req, &conn->req->headers, conn->field ? conn->field : "", value);
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
    if (conn_write(conn, NULL, buf, sizeof msg - 1) != 0)
        conn_close(conn);
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

/* ---- request flow ---- */

static void dispatch(conn_t *conn)
{
    ct_http_req_t *req = conn->req;
    conn->state = CONN_HANDLING;
    /* the handler's deadline; a reply made now replaces it by the write's */
    conn_timer(conn, conn->srv->opts.handler_timeout_ms);
    inflight_link(req);
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
    if (!split_target(req)) {
        ct_http_reply_problem(req, 400, "malformed-request", "the request could not be parsed",
                              "the request target must be a path");
        return;
    }
    route_request(req);
}

/* A request the parser refused: reply with a problem, then close. */
static void refuse(conn_t *conn)
{
    ct_http_req_t *req = conn->req;
    if (!req)
        req = conn->req = req_new(conn->srv, conn);
    if (!req->request_id[0])
        ct_uuid_v7(req->request_id);
    req->keep_alive = false;
    conn->state = CONN_HANDLING;
    uv_timer_stop(&conn->timer);
    inflight_link(req);
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
            conn_close(conn);
            return;
        }
        if (conn->state == CONN_IDLE) {
            release_input(conn);
            if (conn->srv->stopping) {
                conn_close(conn);
                return;
            }
            conn_timer(conn, conn->srv->opts.idle_timeout_ms);
        }
        reading(conn, true);
    } else if (conn->state == CONN_HANDLING || conn->state == CONN_WRITING) {
        reading(conn, !conn->peer_eof && conn->in_len - conn->in_off <= IN_HIGH_WATER);
    }
}

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

/* Status line and headers of a reply, then the body unless there is none
 * (HEAD, 204, 304). extra: headers set by the handler, or NULL. */
static void put_response(sbuf_t *b, int status, const char *ctype, const char *body, size_t len,
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
    inflight_unlink(req);
    if (!req->dispatched)
        req->dispatched = true;
    if (req->timed_out) {
        /* answered 503 and counted at the deadline */
        ct_logc_warn(req->request_id, "http: late reply %d of %s %s dropped", status,
                     ct_http_method(req), req->route ? req->route : "-");
        last_status = status;
        req_free(req);
        return;
    }
    record(req, status);

    conn_t *conn = req->conn;
    if (!conn || conn->closing) {
        req_free(req);
        return;
    }
    ct_http_server_t *srv = conn->srv;
    bool last = conn->peer_eof && conn->in_off == conn->in_len;
    bool keep = req->keep_alive && !srv->stopping && !srv->closing && !last;
    conn->close_after_write = !keep;

    sbuf_t b = {0};
    put_response(&b, status, ctype, body, len, req->head, keep, req->request_id,
                 &req->resp_headers);

    conn->state = CONN_WRITING;
    conn_timer(conn, srv->opts.idle_timeout_ms);
    size_t n = b.len;
    if (conn_write(conn, req, b.p, n) != 0) {
        conn->req = NULL;
        req_free(req);
        conn_close(conn);
    }
}

/* ---- server ---- */

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

    llhttp_settings_init(&srv->settings);
    srv->settings.on_message_begin = on_message_begin;
    srv->settings.on_url = on_url;
    srv->settings.on_url_complete = on_url_complete;
    srv->settings.on_header_field = on_header_field;
    srv->settings.on_header_field_complete = on_header_field_complete;
    srv->settings.on_header_value = on_header_value;
    srv->settings.on_header_value_complete = on_header_value_complete;
    srv->settings.on_headers_complete = on_headers_complete;
    srv->settings.on_body = on_body;
    srv->settings.on_message_complete = on_message_complete;
    srv->settings.on_chunk_extension_name = on_chunk_extension;
    srv->settings.on_chunk_extension_value = on_chunk_extension;

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
    conn_timer(conn, srv->opts.idle_timeout_ms);
    reading(conn, true);
}

/* Aborts on OOM: a listener that cannot accept stops draining its backlog. */
static conn_t *conn_new(ct_http_server_t *srv)
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
    char *body = problem_json(503, "overloaded", "the service has too many connections",
                              "retry in a moment", NULL, NULL);
    kv_t retry = {"Retry-After", "1"};
    const kvs_t extra = {&retry, 1, 1};
    sbuf_t b = {0};
    put_response(&b, 503, "application/problem+json", body, strlen(body), false, false, request_id,
                 &extra);
    free(body);
    uv_buf_t buf = uv_buf_init(b.p, (unsigned)b.len);
    int n = uv_try_write((uv_stream_t *)&conn->tcp, &buf, 1);
    free(b.p);
    if (n == (int)buf.len && srv->nrefused <= REFUSED_LINGER_MAX)
        linger_close(conn);
    else
        conn_close(conn);
}

/* Serves a new connection, or refuses it over the limit. */
static void conn_admit(ct_http_server_t *srv, conn_t *conn)
{
    size_t served = srv->nconns - srv->nrefused - 1; /* without this one */
    if (served >= srv->opts.max_connections)
        conn_refuse(conn);
    else
        conn_start(srv, conn);
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
    conn_t *conn = conn_new(srv);
    if (uv_accept(l, (uv_stream_t *)&conn->tcp) != 0) {
        conn_close(conn);
        return;
    }
    conn_admit(srv, conn);
}

int ct__http_adopt(ct_http_server_t *srv, uv_os_sock_t fd)
{
    if (!srv || srv->stopping)
        return UV_EINVAL;
    conn_t *conn = conn_new(srv);
    int rc = uv_tcp_open(&conn->tcp, fd);
    if (rc != 0) {
        /* the handle does not own fd yet: closing it leaves fd to the caller */
        conn_close(conn);
        return rc;
    }
    conn_admit(srv, conn);
    return 0;
}

size_t ct__http_conn_count(const ct_http_server_t *srv)
{
    return srv ? srv->nconns : 0;
}

int ct__http_last_status(void)
{
    return last_status;
}

ct_http_req_t *ct__http_req_fake(const char *method, const char *path, const char *content_type,
                                 const void *body, size_t len)
{
    ct_http_req_t *req = req_new(NULL, NULL);
    req->method = ct_http_strdup(req, method ? method : "GET");
    req->target = ct_http_strdup(req, path ? path : "/");
    if (!split_target(req))
        req->path = req->target;
    req->http_major = 1;
    req->http_minor = 1;
    req->dispatched = true;
    ct_uuid_v7(req->request_id);
    snprintf(req->peer, sizeof req->peer, "test");
    if (content_type)
        kvs_add(req, &req->headers, "Content-Type", ct_http_strdup(req, content_type));
    if (body && len) {
        req->body = xmalloc(len + 1);
        memcpy(req->body, body, len);
        req->body[len] = '\0';
        req->body_len = len;
        req->body_cap = len + 1;
    }
    (void)parse_query(req);
    return req;
}

void ct__http_req_fake_header(ct_http_req_t *req, const char *name, const char *value)
{
    kvs_add(req, &req->headers, ct_http_strdup(req, name), ct_http_strdup(req, value));
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
    server_maybe_free(srv);
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
            conn_close(c);
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
        conn_close(c);
}

/* ---- request accessors ---- */

const char *ct_http_method(const ct_http_req_t *req)
{
    return req->method ? req->method : "";
}

const char *ct_http_path(const ct_http_req_t *req)
{
    return req->path ? req->path : "";
}

static const char *kvs_get(const kvs_t *l, const char *name, bool nocase)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        if ((nocase ? strcasecmp(l->v[i].name, name) : strcmp(l->v[i].name, name)) == 0)
            return l->v[i].value;
    return NULL;
}

const char *ct_http_param(const ct_http_req_t *req, const char *name)
{
    return kvs_get(&req->params, name, false);
}

const char *ct_http_query(const ct_http_req_t *req, const char *name)
{
    return kvs_get(&req->query, name, false);
}

const char *ct_http_header(const ct_http_req_t *req, const char *name)
{
    return kvs_get(&req->headers, name, true);
}

const char *ct_http_cookie(const ct_http_req_t *req, const char *name)
{
    /* parsed on first use; the cast is the lazy cache, not a visible change */
    ct_http_req_t *r = (ct_http_req_t *)req;
    if (!r->cookies_parsed)
        parse_cookies(r);
    return kvs_get(&req->cookies, name, false);
}

const char *ct_http_body(const ct_http_req_t *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body ? req->body : "";
}

const char *ct_http_request_id(const ct_http_req_t *req)
{
    return req->request_id;
}

const char *ct_http_peer(const ct_http_req_t *req)
{
    return req->peer;
}

/* "application/json", any case, optionally followed by parameters. */
static bool is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    ct += sizeof want - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

json_t *ct_http_json_object(ct_http_req_t *req)
{
    if (req->json)
        return req->json;
    const char *ct = ct_http_header(req, "Content-Type");
    if (!ct || !is_json_type(ct)) {
        ct_http_reply_error(req, CT_EMEDIA,
                            ct ? "Content-Type must be application/json"
                               : "the request has no Content-Type; send application/json");
        return NULL;
    }
    if (req->body_len == 0) {
        ct_http_reply_problem(req, 400, "invalid-json", "the body is not valid JSON",
                              "the body is empty; send a JSON object");
        return NULL;
    }
    json_error_t err;
    json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        char detail[JSON_ERROR_TEXT_LENGTH + 64];
        snprintf(detail, sizeof detail, "line %d, column %d: %s", err.line, err.column, err.text);
        ct_http_reply_problem(req, 400, "invalid-json", "the body is not valid JSON", detail);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        ct_http_reply_problem(req, 400, "invalid-json", "the body is not valid JSON",
                              "the body must be a JSON object");
        return NULL;
    }
    req->json = j;
    return j;
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
    kvs_add(req, &req->resp_headers, ct_http_strdup(req, name), ct_http_strdup(req, value));
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

/* An RFC 9457 problem as compact JSON, malloc'ed; takes errors (may be NULL).
 * detail and instance may be NULL. Aborts on OOM. */
static char *problem_json(int status, const char *type, const char *title, const char *detail,
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
    char *s = problem_json(status, type, title, detail, req->path, errors);
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
