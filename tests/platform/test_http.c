/* HTTP server through real loopback connections: the client is a plain
 * socket driven from the test while the loop turns (poll on the socket and
 * the loop's backend fd), so no thread is needed. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "citerne/http.h"
#include "citerne/id.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/validate.h"
#include "http_internal.h"
#include "stack.h"

/* ---- fixture ---- */

typedef struct {
    uv_loop_t loop;
    ct_http_server_t *srv;
    int port;
    bool closed;
    ct_http_req_t *held; /* a request /hold has not answered */
} fx_t;

static void on_server_closed(void *ud)
{
    ((fx_t *)ud)->closed = true;
}

static void on_flag(void *ud)
{
    *(bool *)ud = true;
}

static void close_server(fx_t *fx)
{
    if (!fx->srv)
        return;
    fx->closed = false;
    ct_http_server_close(fx->srv, on_server_closed, fx);
    fx->srv = NULL;
    assert_true(ct_test_run_until(&fx->loop, &fx->closed, 5000));
}

/* ---- handlers ---- */

static void h_hello(ct_http_req_t *req, void *ud)
{
    (void)ud;
    ct_http_reply(req, 200, "text/plain", "hello", 5);
}

static void h_parts(ct_http_req_t *req, void *ud)
{
    (void)ud;
    ct_http_reply_json(req, 200,
                       json_pack("{s:s, s:s}", "id", ct_http_param(req, "id"), "part",
                                 ct_http_param(req, "part")));
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static void h_search(ct_http_req_t *req, void *ud)
{
    (void)ud;
    json_t *o = json_object();
    json_object_set_new(o, "q", str_or_null(ct_http_query(req, "q")));
    json_object_set_new(o, "empty", str_or_null(ct_http_query(req, "empty")));
    json_object_set_new(o, "flag", str_or_null(ct_http_query(req, "flag")));
    json_object_set_new(o, "missing", str_or_null(ct_http_query(req, "missing")));
    json_object_set_new(o, "path", json_string(ct_http_path(req)));
    ct_http_reply_json(req, 200, o);
}

typedef struct {
    uv_timer_t timer;
    ct_http_req_t *req;
} later_t;

static void on_later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_later(uv_timer_t *t)
{
    later_t *l = t->data;
    char body[64];
    int n = snprintf(body, sizeof body, "later %s", ct_http_param(l->req, "ms"));
    ct_http_reply(l->req, 200, "text/plain", body, (size_t)n);
    uv_close((uv_handle_t *)t, on_later_closed);
}

static void h_later(ct_http_req_t *req, void *ud)
{
    fx_t *fx = ud;
    later_t *l = calloc(1, sizeof *l);
    l->req = req;
    l->timer.data = l;
    uv_timer_init(&fx->loop, &l->timer);
    uv_timer_start(&l->timer, on_later, strtoull(ct_http_param(req, "ms"), NULL, 10), 0);
}

static void h_echo(ct_http_req_t *req, void *ud)
{
    (void)ud;
    json_t *o = ct_http_json_object(req);
    if (!o)
        return;
    ct_http_reply_json(req, 200, json_pack("{s:O}", "got", o));
}

static void h_delete(ct_http_req_t *req, void *ud)
{
    (void)ud;
    ct_http_reply(req, 204, NULL, NULL, 0);
}

static void h_cookies(ct_http_req_t *req, void *ud)
{
    (void)ud;
    ct_http_reply_json(req, 200,
                       json_pack("{s:o, s:o, s:o}", "session",
                                 str_or_null(ct_http_cookie(req, "session")), "theme",
                                 str_or_null(ct_http_cookie(req, "theme")), "none",
                                 str_or_null(ct_http_cookie(req, "none"))));
}

static void h_headers(ct_http_req_t *req, void *ud)
{
    (void)ud;
    ct_http_add_header(req, "X-Good", "yes");
    ct_http_add_header(req, "X-Evil", "a\r\nSet-Cookie: stolen=1");
    ct_http_add_header(req, "Bad Name", "x");
    ct_http_add_header(req, "Content-Length", "999");
    const char *ua = ct_http_header(req, "user-agent");
    ct_http_reply(req, 200, "text/plain", ua ? ua : "", ua ? strlen(ua) : 0);
}

static void h_hold(ct_http_req_t *req, void *ud)
{
    fx_t *fx = ud;
    fx->held = req;
}

static void h_validate(ct_http_req_t *req, void *ud)
{
    (void)ud;
    json_t *o = ct_http_json_object(req);
    if (!o)
        return;
    ct_valid_t v;
    ct_valid_init(&v);
    const char *name = ct_valid_str(&v, o, "name", 1, 20, true);
    int64_t kg = ct_valid_int(&v, o, "kg", 1, 1000, true, 0);
    (void)ct_valid_date(&v, o, "day", false);
    if (!ct_valid_ok(&v)) {
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    ct_valid_dispose(&v);
    ct_http_reply_json(req, 201, json_pack("{s:s, s:I}", "name", name, "kg", (json_int_t)kg));
}

static void h_fail(ct_http_req_t *req, void *ud)
{
    (void)ud;
    ct_http_reply_error(req, UV_ECONNREFUSED, NULL);
}

static void h_badtype(ct_http_req_t *req, void *ud)
{
    (void)ud;
    ct_http_reply(req, 200, "text/plain\r\nX-Injected: 1", "x", 1);
}

enum { BIG = 1536 * 1024 };

static void h_big(ct_http_req_t *req, void *ud)
{
    (void)ud;
    char *body = ct_http_alloc(req, BIG);
    for (size_t i = 0; i < BIG; i++)
        body[i] = (char)('a' + i % 26);
    ct_http_reply(req, 200, "text/plain", body, BIG);
}

static void h_login(ct_http_req_t *req, void *ud)
{
    (void)ud;
    ct_http_add_header(req, "Set-Cookie", "session=s1; HttpOnly; Secure; SameSite=Lax");
    ct_http_add_header(req, "Set-Cookie", "csrf=c1; Secure; SameSite=Lax");
    ct_http_reply(req, 204, NULL, NULL, 0);
}

static void add_routes(fx_t *fx, ct_http_server_t *srv)
{
    assert_int_equal(ct_http_route(srv, "POST", "/login", h_login, fx), 0);
    assert_int_equal(ct_http_route(srv, "GET", "/big", h_big, fx), 0);
    assert_int_equal(ct_http_route(srv, "GET", "/badtype", h_badtype, fx), 0);
    assert_int_equal(ct_http_route(srv, "GET", "/fail", h_fail, fx), 0);
    assert_int_equal(ct_http_route(srv, "GET", "/hello", h_hello, fx), 0);
    assert_int_equal(ct_http_route(srv, "GET", "/items/{id}/parts/{part}", h_parts, fx), 0);
    assert_int_equal(ct_http_route(srv, "DELETE", "/items/{id}", h_delete, fx), 0);
    assert_int_equal(ct_http_route(srv, "GET", "/search", h_search, fx), 0);
    assert_int_equal(ct_http_route(srv, "GET", "/later/{ms}", h_later, fx), 0);
    assert_int_equal(ct_http_route(srv, "POST", "/echo", h_echo, fx), 0);
    assert_int_equal(ct_http_route(srv, "PUT", "/echo", h_echo, fx), 0);
    assert_int_equal(ct_http_route(srv, "GET", "/cookies", h_cookies, fx), 0);
    assert_int_equal(ct_http_route(srv, "GET", "/headers", h_headers, fx), 0);
    assert_int_equal(ct_http_route(srv, "GET", "/hold", h_hold, fx), 0);
    assert_int_equal(ct_http_route(srv, "GET", "/hold/{id}", h_hold, fx), 0);
    assert_int_equal(ct_http_route(srv, "POST", "/validate", h_validate, fx), 0);
}

static int start_server(fx_t *fx, const ct_http_opts_t *opts)
{
    assert_int_equal(ct_http_server_new(&fx->loop, opts, &fx->srv), 0);
    add_routes(fx, fx->srv);
    assert_int_equal(ct_http_listen(fx->srv, "127.0.0.1:0"), 0);
    fx->port = ct_http_port(fx->srv);
    assert_true(fx->port > 0);
    return 0;
}

/* The fixture's server replaced by one with opts. */
static void restart_server(fx_t *fx, const ct_http_opts_t *opts)
{
    close_server(fx);
    start_server(fx, opts);
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    ct_http_opts_t opts = {.max_body = 4096, .max_header = 2048, .service = "test"};
    start_server(fx, &opts);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    close_server(fx);
    ct_test_loop_close(&fx->loop);
    free(fx);
    ct_metrics_reset();
    return 0;
}

/* ---- client ---- */

typedef struct {
    int fd;
    char buf[2 * 1024 * 1024];
    size_t len;
} client_t;

typedef struct {
    int status;
    char head[8192];
    char body[64 * 1024];
    size_t body_len;
} resp_t;

/* One turn of the loop, waiting at most 20 ms for it or for fd. */
static void pump(fx_t *fx, int fd)
{
    struct pollfd p[2] = {{.fd = uv_backend_fd(&fx->loop), .events = POLLIN},
                          {.fd = fd, .events = POLLIN}};
    int t = uv_backend_timeout(&fx->loop);
    poll(p, fd >= 0 ? 2 : 1, t < 0 || t > 20 ? 20 : t);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
}

static client_t *cl_connect_port(int port)
{
    client_t *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    return c;
}

static client_t *cl_connect(fx_t *fx)
{
    return cl_connect_port(fx->port);
}

static void cl_free(client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

static void cl_sendn(fx_t *fx, client_t *c, const char *data, size_t len)
{
    uint64_t deadline = uv_hrtime() + 5000000000ull;
    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return; /* the server closed: the test reads why */
        assert_true(uv_hrtime() < deadline);
        pump(fx, -1);
    }
}

static void cl_send(fx_t *fx, client_t *c, const char *s)
{
    cl_sendn(fx, c, s, strlen(s));
}

/* Receives more bytes; 0 on EOF or reset, -1 on timeout. */
static int cl_fill(fx_t *fx, client_t *c, uint64_t deadline)
{
    while (uv_hrtime() < deadline) {
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, MSG_DONTWAIT);
        if (n > 0) {
            c->len += (size_t)n;
            return 1;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return 0;
        pump(fx, c->fd);
    }
    return -1;
}

static const char *resp_header(const resp_t *r, const char *name)
{
    static char value[512];
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vn = strcspn(v, "\r");
            snprintf(value, sizeof value, "%.*s", (int)vn, v);
            return value;
        }
    }
    return NULL;
}

/* Takes one complete response from the client's buffer: 1 if there was
 * one, 0 if more bytes are needed (no body for HEAD). */
static int cl_take(client_t *c, resp_t *r, bool head_only)
{
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t hl = (size_t)(end - c->buf) + 4;
    assert_true(hl < sizeof r->head);
    memcpy(r->head, c->buf, hl);
    r->head[hl] = '\0';
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    const char *cl = resp_header(r, "Content-Length");
    size_t blen = head_only || !cl ? 0 : strtoul(cl, NULL, 10);
    assert_true(blen < sizeof r->body);
    if (c->len < hl + blen)
        return 0;
    memcpy(r->body, c->buf + hl, blen);
    r->body[blen] = '\0';
    r->body_len = blen;
    memmove(c->buf, c->buf + hl + blen, c->len - hl - blen);
    c->len -= hl + blen;
    return 1;
}

/* Reads one response (no body for HEAD). -1 if the connection ended first. */
static int cl_read_head_body(fx_t *fx, client_t *c, resp_t *r, bool head_only)
{
    memset(r, 0, sizeof *r);
    uint64_t deadline = uv_hrtime() + 5000000000ull;
    while (!cl_take(c, r, head_only))
        if (cl_fill(fx, c, deadline) <= 0)
            return -1;
    return 0;
}

static int cl_read(fx_t *fx, client_t *c, resp_t *r)
{
    return cl_read_head_body(fx, c, r, false);
}

/* True when the server closed the connection (EOF or reset) with nothing
 * more to read. */
static bool cl_closed(fx_t *fx, client_t *c)
{
    uint64_t deadline = uv_hrtime() + 5000000000ull;
    int rc;
    while ((rc = cl_fill(fx, c, deadline)) > 0) {
    }
    return rc == 0 && c->len == 0;
}

static bool run_until_no_conns(fx_t *fx, ct_http_server_t *srv, unsigned ms)
{
    uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000u;
    while (ct__http_conn_count(srv) > 0 && uv_hrtime() < deadline)
        pump(fx, -1);
    return ct__http_conn_count(srv) == 0;
}

static json_t *body_json(const resp_t *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, 0, &e);
    if (!j)
        fail_msg("response body is not JSON: %s (%s)", e.text, r->body);
    return j;
}

static void assert_json_str(json_t *o, const char *key, const char *want)
{
    json_t *v = json_object_get(o, key);
    if (!want) {
        assert_true(json_is_null(v));
        return;
    }
    assert_non_null(json_string_value(v));
    assert_string_equal(json_string_value(v), want);
}

/* A problem body with the given type; returns its detail (or ""). */
static const char *assert_problem(const resp_t *r, int status, const char *type)
{
    static char detail[512];
    assert_int_equal(r->status, status);
    assert_string_equal(resp_header(r, "Content-Type"), "application/problem+json");
    json_t *j = body_json(r);
    assert_string_equal(json_string_value(json_object_get(j, "type")), type);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
    assert_non_null(json_string_value(json_object_get(j, "title")));
    const char *d = json_string_value(json_object_get(j, "detail"));
    snprintf(detail, sizeof detail, "%s", d ? d : "");
    json_decref(j);
    return detail;
}

/* ---- tests ---- */

static void route_params_are_decoded_and_passed_to_the_handler(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "GET /items/a%20b/parts/7 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
    assert_non_null(resp_header(&r, "Date"));
    json_t *j = body_json(&r);
    assert_json_str(j, "id", "a b");
    assert_json_str(j, "part", "7");
    json_decref(j);
    cl_free(c);
}

static void malformed_percent_encoding_in_a_param_gets_400(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "GET /items/a%2/parts/%00 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 400, "/problems/malformed-request");
    cl_free(c);
}

static void query_string_is_percent_decoded_with_plus_as_space(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c,
            "GET /search?q=caf%C3%A9+cr%C3%A8me%2B%26&empty=&flag&&q=second HTTP/1.1\r\n"
            "Host: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    assert_json_str(j, "q", "caf\xc3\xa9 cr\xc3\xa8me+&");
    assert_json_str(j, "empty", "");
    assert_json_str(j, "flag", "");
    assert_json_str(j, "missing", NULL);
    assert_json_str(j, "path", "/search");
    json_decref(j);
    cl_free(c);
}

static void keep_alive_serves_two_requests_on_one_connection(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
    assert_string_equal(r.body, "hello");
    cl_send(fx, c, "GET /items/x/parts/y HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(ct__http_conn_count(fx->srv), 1);
    cl_free(c);
}

static void pipelined_requests_are_answered_in_order(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    /* the first is answered last by its timer, the third sooner: order holds */
    cl_send(fx, c,
            "GET /later/60 HTTP/1.1\r\nHost: t\r\n\r\n"
            "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            "Content-Length: 8\r\n\r\n{\"n\": 3}"
            "GET /later/1 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_string_equal(r.body, "later 60");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_string_equal(r.body, "hello");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_string_equal(r.body, "{\"got\":{\"n\":3}}");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_string_equal(r.body, "later 1");
    assert_int_equal(ct_http_inflight(fx->srv), 0);
    cl_free(c);
}

static void deep_pipeline_is_read_with_back_pressure_and_answered_in_order(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    /* far more than the server buffers while the first request waits */
    enum { N = 6000 };
    static const char one[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
    size_t len = strlen("GET /later/40 HTTP/1.1\r\n\r\n") + N * (sizeof one - 1);
    char *all = malloc(len + 1);
    char *p = all + sprintf(all, "GET /later/40 HTTP/1.1\r\n\r\n");
    for (int i = 0; i < N; i++)
        p += sprintf(p, "%s", one);
    size_t off = 0;
    int got = 0;
    resp_t *r = malloc(sizeof *r);
    uint64_t deadline = uv_hrtime() + 20000000000ull;
    while (got < N + 1) {
        assert_true(uv_hrtime() < deadline);
        if (off < len) {
            ssize_t n = send(c->fd, all + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
        }
        while (cl_take(c, r, false)) {
            assert_int_equal(r->status, 200);
            assert_string_equal(r->body, got == 0 ? "later 40" : "hello");
            got++;
        }
        if (got < N + 1)
            assert_true(cl_fill(fx, c, uv_hrtime() + 20000000ull) != 0);
    }
    assert_int_equal(c->len, 0);
    free(r);
    free(all);
    cl_free(c);
}

static void body_of_exactly_the_limit_is_accepted(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    /* max_body is 4096: {"s":"<4088 x>"} is 4096 bytes */
    char *body = malloc(4097);
    memcpy(body, "{\"s\":\"", 6);
    memset(body + 6, 'x', 4088);
    memcpy(body + 4094, "\"}", 3);
    assert_int_equal(strlen(body), 4096);
    char head[256];
    snprintf(head, sizeof head,
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n",
             strlen(body));
    cl_send(fx, c, head);
    cl_send(fx, c, body);
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    body[4095] = ' '; /* 4097 bytes with the closing brace */
    snprintf(head, sizeof head,
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
             "Content-Length: 4097\r\n\r\n");
    cl_send(fx, c, head);
    cl_send(fx, c, body);
    cl_send(fx, c, "}");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 413, "/problems/body-too-large");
    free(body);
    cl_free(c);
}

static void large_reply_is_written_whole_before_the_next(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    cl_send(fx, c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    uint64_t deadline = uv_hrtime() + 10000000000ull;
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        assert_int_equal(cl_fill(fx, c, deadline), 1);
    size_t hl = (size_t)(end - c->buf) + 4;
    assert_non_null(strstr(c->buf, "Content-Length: 1572864\r\n"));
    while (c->len < hl + BIG)
        assert_int_equal(cl_fill(fx, c, deadline), 1);
    for (size_t i = 0; i < BIG; i += 4099)
        assert_int_equal(c->buf[hl + i], 'a' + i % 26);
    memmove(c->buf, c->buf + hl + BIG, c->len - hl - BIG);
    c->len -= hl + BIG;
    resp_t r;
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_string_equal(r.body, "hello");
    cl_free(c);
}

static void handler_replies_later_from_a_timer(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "GET /later/30 HTTP/1.1\r\nHost: t\r\n\r\n");
    /* received, not yet answered */
    uint64_t until = uv_hrtime() + 10000000ull;
    while (uv_hrtime() < until)
        pump(fx, -1);
    assert_int_equal(ct_http_inflight(fx->srv), 1);
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "later 30");
    assert_int_equal(ct_http_inflight(fx->srv), 0);
    cl_free(c);
}

static void unknown_path_gets_404_problem(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "GET /nope/x HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 404, "/problems/not-found");
    json_t *j = body_json(&r);
    assert_json_str(j, "instance", "/nope/x");
    json_decref(j);
    /* a handler-level error keeps the connection */
    cl_send(fx, c, "GET /items/ HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 404, "/problems/not-found");
    cl_free(c);
}

static void other_method_gets_405_with_allow(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 405, "/problems/method-not-allowed");
    assert_string_equal(resp_header(&r, "Allow"), "GET, HEAD");
    cl_send(fx, c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 405, "/problems/method-not-allowed");
    assert_string_equal(resp_header(&r, "Allow"), "POST, PUT");
    cl_free(c);
}

static void head_on_a_get_route_has_length_but_no_body(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read_head_body(fx, c, &r, true), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Content-Length"), "5");
    /* the next response follows right after the head: no body was sent */
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_string_equal(r.body, "hello");
    cl_free(c);
}

static void no_content_reply_has_no_length_nor_body(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "DELETE /items/9 HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 204);
    assert_null(resp_header(&r, "Content-Length"));
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_string_equal(r.body, "hello");
    cl_free(c);
}

static void oversized_body_gets_413_and_close_then_server_serves_next(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    /* declared too large: refused before the body is read */
    cl_send(fx, c,
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            "Content-Length: 100000\r\n\r\n");
    char chunk[8192];
    memset(chunk, 'x', sizeof chunk);
    cl_sendn(fx, c, chunk, sizeof chunk);
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 413, "/problems/body-too-large");
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_true(cl_closed(fx, c));
    cl_free(c);

    /* chunked: refused once the received body passes the limit */
    c = cl_connect(fx);
    cl_send(fx, c,
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n2000\r\n");
    cl_sendn(fx, c, chunk, sizeof chunk);
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 413, "/problems/body-too-large");
    assert_true(cl_closed(fx, c));
    cl_free(c);

    c = cl_connect(fx);
    cl_send(fx, c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    cl_free(c);
}

static void body_within_limit_is_accepted_in_chunks(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c,
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n");
    for (int i = 0; i < 20; i++)
        pump(fx, -1);
    cl_send(fx, c, "3\r\n:1}\r\n0\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"got\":{\"a\":1}}");
    cl_free(c);
}

static void oversized_headers_get_431_and_close(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cl_send(fx, c, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ");
    cl_send(fx, c, big);
    cl_send(fx, c, "\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 431, "/problems/headers-too-large");
    assert_true(cl_closed(fx, c));
    cl_free(c);
}

static void endless_chunk_extensions_get_400(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c,
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n2;ext=");
    char ext[3000];
    memset(ext, 'e', sizeof ext);
    cl_sendn(fx, c, ext, sizeof ext);
    assert_int_equal(cl_read(fx, c, &r), 0);
    const char *detail = assert_problem(&r, 400, "/problems/malformed-request");
    assert_string_equal(detail, "chunk extensions too long");
    assert_true(cl_closed(fx, c));
    cl_free(c);
}

static void system_error_replies_500_without_its_message(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "GET /fail HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 500, "/problems/internal");
    assert_null(strstr(r.body, "refused"));
    cl_free(c);
}

static void garbage_gets_400_and_close(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "\x01\x02 hello there\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    const char *detail = assert_problem(&r, 400, "/problems/malformed-request");
    assert_true(strlen(detail) > 0);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_true(cl_closed(fx, c));
    cl_free(c);
}

static void truncated_request_line_gets_400(void **state)
{
    fx_t *fx = *state;
    const char *bad[] = {
        "GET /hello\r\n\r\n",                    /* no version */
        "GET /hello HTT\r\n\r\n",                /* cut version */
        "GET\r\n\r\n",                           /* no target */
        "GET hello HTTP/1.1\r\nHost: t\r\n\r\n", /* not a path */
        "GET /hello HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "POST /echo HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        client_t *c = cl_connect(fx);
        resp_t r;
        cl_send(fx, c, bad[i]);
        assert_int_equal(cl_read(fx, c, &r), 0);
        assert_problem(&r, 400, "/problems/malformed-request");
        assert_true(cl_closed(fx, c));
        cl_free(c);
    }
}

static void upgrade_request_gets_a_plain_reply_then_close(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c,
            "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
            "\x81\x85not http at all");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_true(cl_closed(fx, c));
    cl_free(c);

    c = cl_connect(fx);
    cl_send(fx, c, "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 400, "/problems/malformed-request");
    assert_true(cl_closed(fx, c));
    cl_free(c);
}

static void client_leaving_mid_request_is_closed_quietly(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    cl_send(fx, c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    shutdown(c->fd, SHUT_WR);
    assert_true(cl_closed(fx, c)); /* EOF with no reply */
    assert_true(run_until_no_conns(fx, fx->srv, 2000));
    assert_int_equal(ct_http_inflight(fx->srv), 0);
    cl_free(c);
}

static void non_json_content_type_gets_415(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c,
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
            "Content-Length: 2\r\n\r\n{}");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 415, "/problems/unsupported-media-type");
    cl_send(fx, c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 415, "/problems/unsupported-media-type");
    /* parameters and case are fine */
    cl_send(fx, c,
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: Application/JSON; charset=utf-8\r\n"
            "Content-Length: 2\r\n\r\n{}");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    cl_free(c);
}

static void json_parse_errors_get_400_with_position(void **state)
{
    fx_t *fx = *state;
    static const struct {
        const char *body;
        const char *detail_has;
    } cases[] = {
        {"{\"a\": 1,\n \"b\": }", "line 2, column"},
        {"[1, 2]", "must be a JSON object"},
        {"{\"a\": 1, \"a\": 2}", "duplicate"},
        {"{\"a\": 1} x", "line 1"},
        {"\"just a string\"", "line 1"},
        {"{\"s\": \"\\u0000\"}", "line 1"},
        {"", "empty"},
    };
    client_t *c = cl_connect(fx);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[512];
        snprintf(req, sizeof req,
                 "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 strlen(cases[i].body), cases[i].body);
        cl_send(fx, c, req);
        resp_t r;
        assert_int_equal(cl_read(fx, c, &r), 0);
        const char *detail = assert_problem(&r, 400, "/problems/invalid-json");
        if (!strstr(detail, cases[i].detail_has))
            fail_msg("case %zu: detail \"%s\" lacks \"%s\"", i, detail, cases[i].detail_has);
    }
    cl_free(c);
}

static void invalid_fields_are_all_listed(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    const char *body = "{\"name\": \"\", \"kg\": 1.5, \"day\": \"2023-02-29\"}";
    char req[512];
    snprintf(req, sizeof req,
             "POST /validate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    cl_send(fx, c, req);
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 400, "/problems/invalid-input");
    json_t *j = body_json(&r);
    json_t *errs = json_object_get(j, "errors");
    assert_int_equal(json_array_size(errs), 3);
    assert_json_str(json_array_get(errs, 0), "field", "name");
    assert_json_str(json_array_get(errs, 1), "field", "kg");
    assert_json_str(json_array_get(errs, 2), "field", "day");
    json_decref(j);

    body = "{\"name\": \"Ana\", \"kg\": 13, \"day\": \"2024-02-29\"}";
    snprintf(req, sizeof req,
             "POST /validate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    cl_send(fx, c, req);
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 201);
    cl_free(c);
}

static void expect_continue_gets_100_before_the_body(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c,
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    uint64_t deadline = uv_hrtime() + 5000000000ull;
    while (c->len < 25)
        assert_int_equal(cl_fill(fx, c, deadline), 1);
    assert_memory_equal(c->buf, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    memmove(c->buf, c->buf + 25, c->len - 25);
    c->len -= 25;
    cl_send(fx, c, "{}");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    cl_free(c);
}

static void client_reset_before_async_reply_drops_the_reply(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    cl_send(fx, c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    while (!fx->held)
        pump(fx, -1);
    ct_http_req_t *req = fx->held;
    assert_int_equal(ct_http_inflight(fx->srv), 1);
    /* reset, not FIN: the server notices at once */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c->fd);
    c->fd = -1;
    assert_true(run_until_no_conns(fx, fx->srv, 2000));
    /* the request outlives its connection until the handler replies */
    assert_int_equal(ct_http_inflight(fx->srv), 1);
    assert_string_equal(ct_http_path(req), "/hold");
    assert_non_null(ct_http_alloc(req, 100));
    ct_http_reply(req, 200, "text/plain", "too late", 8);
    assert_int_equal(ct__http_last_status(), 200);
    assert_int_equal(ct_http_inflight(fx->srv), 0);
    cl_free(c);
}

static void client_closing_before_async_reply_is_harmless(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    cl_send(fx, c, "GET /later/30 HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < 5; i++)
        pump(fx, -1);
    close(c->fd);
    c->fd = -1;
    assert_true(run_until_no_conns(fx, fx->srv, 3000));
    assert_int_equal(ct_http_inflight(fx->srv), 0);
    cl_free(c);
}

static void request_id_is_echoed_when_sane_and_generated_otherwise(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Request-Id: abc-123_x.y\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_string_equal(resp_header(&r, "X-Request-Id"), "abc-123_x.y");
    cl_send(fx, c, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Request-Id: no way<script>\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_true(ct_uuid_valid(resp_header(&r, "X-Request-Id")));
    char req[256];
    snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nX-Request-Id: %065d\r\n\r\n", 1);
    cl_send(fx, c, req);
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_true(ct_uuid_valid(resp_header(&r, "X-Request-Id")));
    cl_free(c);
}

static void cookies_are_parsed_by_name(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c,
            "GET /cookies HTTP/1.1\r\nHost: t\r\n"
            "Cookie: theme=\"dark\"; session=abc=123;junk; =nameless\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    json_t *j = body_json(&r);
    assert_json_str(j, "session", "abc=123");
    assert_json_str(j, "theme", "dark");
    assert_json_str(j, "none", NULL);
    json_decref(j);
    cl_free(c);
}

static void response_headers_are_checked_before_sending(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "GET /headers HTTP/1.1\r\nHost: t\r\nUser-Agent: tester/1.0\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "tester/1.0");
    assert_string_equal(resp_header(&r, "X-Good"), "yes");
    assert_null(resp_header(&r, "X-Evil"));
    assert_null(resp_header(&r, "Set-Cookie"));
    assert_string_equal(resp_header(&r, "Content-Length"), "10");
    cl_send(fx, c, "GET /badtype HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_null(resp_header(&r, "X-Injected"));
    assert_null(resp_header(&r, "Content-Type"));
    assert_string_equal(r.body, "x");
    cl_free(c);
}

static void repeated_response_headers_are_all_sent(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "POST /login HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 204);
    assert_non_null(
        strstr(r.head, "\r\nSet-Cookie: session=s1; HttpOnly; Secure; SameSite=Lax\r\n"));
    assert_non_null(strstr(r.head, "\r\nSet-Cookie: csrf=c1; Secure; SameSite=Lax\r\n"));
    cl_free(c);
}

static void malformed_query_gets_400_and_head_errors_have_no_body(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "GET /search?q=%zz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 400, "/problems/malformed-request");
    cl_send(fx, c, "HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    assert_int_equal(cl_read_head_body(fx, c, &r, true), 0);
    assert_int_equal(r.status, 404);
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_string_equal(r.body, "hello");
    cl_free(c);
}

static void slow_body_gets_408(void **state)
{
    fx_t *fx = *state;
    ct_http_opts_t opts = {.request_timeout_ms = 100};
    restart_server(fx, &opts);
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c,
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            "Content-Length: 10\r\n\r\n{\"a\"");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 408, "/problems/request-timeout");
    assert_true(cl_closed(fx, c));
    cl_free(c);
}

static void stop_accepting_lets_a_partly_received_request_finish(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "GET /hello HTTP/1.1\r\nHo");
    for (int i = 0; i < 5; i++)
        pump(fx, -1);
    ct_http_stop_accepting(fx->srv);
    for (int i = 0; i < 5; i++)
        pump(fx, -1);
    cl_send(fx, c, "st: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_true(cl_closed(fx, c));
    cl_free(c);
}

static void http10_request_is_answered_then_closed(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "GET /hello HTTP/1.0\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_true(cl_closed(fx, c));
    cl_free(c);

    c = cl_connect(fx);
    cl_send(fx, c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
    cl_send(fx, c, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_true(cl_closed(fx, c));
    cl_free(c);
}

static void idle_and_request_timeouts_close_the_connection(void **state)
{
    fx_t *fx = *state;
    ct_http_opts_t opts = {.idle_timeout_ms = 100, .request_timeout_ms = 150};
    restart_server(fx, &opts);

    client_t *idle = cl_connect(fx);
    client_t *slow = cl_connect(fx);
    resp_t r;
    cl_send(fx, idle, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, idle, &r), 0);
    cl_send(fx, slow, "GET /hello HTTP/1.1\r\nHo");
    uint64_t t0 = uv_hrtime();
    assert_true(cl_closed(fx, idle));
    assert_true(uv_hrtime() - t0 >= 50000000ull);
    /* the slow one gets a 408 */
    assert_int_equal(cl_read(fx, slow, &r), 0);
    assert_problem(&r, 408, "/problems/request-timeout");
    assert_true(cl_closed(fx, slow));
    cl_free(idle);
    cl_free(slow);
}

static void stop_accepting_closes_idle_and_lets_busy_finish(void **state)
{
    fx_t *fx = *state;
    client_t *idle = cl_connect(fx);
    client_t *busy = cl_connect(fx);
    resp_t r;
    cl_send(fx, idle, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, idle, &r), 0);
    cl_send(fx, busy, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    while (!fx->held)
        pump(fx, -1);

    ct_http_stop_accepting(fx->srv);
    assert_true(cl_closed(fx, idle));
    assert_int_equal(ct_http_inflight(fx->srv), 1);
    /* no new connections */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 5; i++)
        pump(fx, -1);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), -1);
    close(fd);

    ct_http_reply(fx->held, 200, "text/plain", "done", 4);
    fx->held = NULL;
    assert_int_equal(cl_read(fx, busy, &r), 0);
    assert_string_equal(r.body, "done");
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_true(cl_closed(fx, busy));
    assert_int_equal(ct_http_inflight(fx->srv), 0);
    assert_true(run_until_no_conns(fx, fx->srv, 3000));
    cl_free(idle);
    cl_free(busy);
}

static void server_close_with_a_pending_request_frees_everything(void **state)
{
    fx_t *fx = *state;
    client_t *c = cl_connect(fx);
    client_t *partial = cl_connect(fx);
    cl_send(fx, c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    cl_send(fx, partial, "GET /hel");
    while (!fx->held)
        pump(fx, -1);
    close_server(fx);
    assert_true(cl_closed(fx, c));
    assert_true(cl_closed(fx, partial));
    /* the handler still owns its request; its reply goes nowhere */
    assert_string_equal(ct_http_method(fx->held), "GET");
    ct_http_reply_problem(fx->held, 503, "closed", "the service is shutting down", NULL);
    fx->held = NULL;
    assert_int_equal(ct__http_last_status(), 503);
    cl_free(c);
    cl_free(partial);
}

static void listen_parses_addresses_and_ipv6_works(void **state)
{
    fx_t *fx = *state;
    ct_http_server_t *s;
    assert_int_equal(ct_http_server_new(&fx->loop, NULL, &s), 0);
    const char *bad[] = {"nonsense",     "1.2.3.4:99999",   "[::1", "[::1]8080", "127.0.0.1:",
                         "127.0.0.1:8a", "host.example:80", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(ct_http_listen(s, bad[i]), UV_EINVAL);
    assert_true(ct_http_port(s) < 0);
    assert_int_equal(ct_http_route(s, "GET", "no-slash", h_hello, NULL), UV_EINVAL);
    assert_int_equal(ct_http_route(s, "GET", "/a/{", h_hello, NULL), UV_EINVAL);
    assert_int_equal(ct_http_route(s, "GET", "/a/x{y}", h_hello, NULL), UV_EINVAL);
    assert_int_equal(ct_http_route(s, "GE T", "/a", h_hello, NULL), UV_EINVAL);
    assert_int_equal(ct_http_route(s, "GET", "/a", NULL, NULL), UV_EINVAL);
    assert_int_equal(ct_http_route(s, "GET", "/hello", h_hello, NULL), 0);

    int rc = ct_http_listen(s, "[::1]:0");
    if (rc == 0) {
        int port = ct_http_port(s);
        assert_true(port > 0);
        int fd = socket(AF_INET6, SOCK_STREAM, 0);
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
        a.sin6_addr = in6addr_loopback;
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
        client_t *c = calloc(1, sizeof *c);
        c->fd = fd;
        cl_send(fx, c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        resp_t r;
        assert_int_equal(cl_read(fx, c, &r), 0);
        assert_int_equal(r.status, 200);
        cl_free(c);
    } else {
        print_message("no IPv6 loopback here (%s); IPv6 part skipped\n", uv_strerror(rc));
    }
    bool closed = false;
    ct_http_server_close(s, on_flag, &closed);
    assert_true(ct_test_run_until(&fx->loop, &closed, 5000));
}

static void requests_are_counted_by_status_class(void **state)
{
    fx_t *fx = *state;
    ct_metrics_reset();
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c,
            "GET /hello HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n"
            "GET /hello HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 3; i++)
        assert_int_equal(cl_read(fx, c, &r), 0);
    assert_true(ct_metric_value(
                    ct_metrics_counter("citerne_http_requests_total{code=\"2xx\"}", "")) == 2.0);
    assert_true(ct_metric_value(
                    ct_metrics_counter("citerne_http_requests_total{code=\"4xx\"}", "")) == 1.0);
    cl_free(c);
}

static void fake_request_supports_json_and_accessors(void **state)
{
    (void)state;
    ct_http_req_t *req =
        ct__http_req_fake("POST", "/x/y?a=1+2", "application/json", "{\"k\":1}", 7);
    assert_string_equal(ct_http_path(req), "/x/y");
    assert_string_equal(ct_http_query(req, "a"), "1 2");
    json_t *o = ct_http_json_object(req);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "k")), 1);
    assert_ptr_equal(ct_http_json_object(req), o);
    char *big = ct_http_alloc(req, 100000);
    memset(big, 1, 100000);
    ct_http_reply_json(req, 200, json_incref(o));
    assert_int_equal(ct__http_last_status(), 200);

    req = ct__http_req_fake("POST", "/x", "application/json", "[]", 2);
    assert_null(ct_http_json_object(req)); /* replied 400 and freed */
    assert_int_equal(ct__http_last_status(), 400);
}

static double counter(const char *name)
{
    return ct_metric_value(ct_metrics_counter(name, ""));
}

static void connection_limit_refuses_with_503_and_accepts_again_once_one_closes(void **state)
{
    fx_t *fx = *state;
    ct_http_opts_t opts = {.max_connections = 2};
    restart_server(fx, &opts);
    ct_metrics_reset();
    client_t *a = cl_connect(fx), *b = cl_connect(fx);
    resp_t r;
    cl_send(fx, a, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, a, &r), 0);
    assert_int_equal(r.status, 200);
    cl_send(fx, b, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, b, &r), 0);
    assert_int_equal(r.status, 200);

    /* the third is accepted only to be told, its request never read */
    client_t *c = cl_connect(fx);
    cl_send(fx, c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 503, "/problems/overloaded");
    assert_string_equal(resp_header(&r, "Retry-After"), "1");
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_true(cl_closed(fx, c));
    cl_free(c);
    assert_true(counter("citerne_http_connections_refused_total") == 1.0);
    assert_true(counter("citerne_http_requests_total{code=\"5xx\"}") == 0.0);

    /* the ones served are untouched */
    cl_send(fx, b, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, b, &r), 0);
    assert_int_equal(r.status, 200);

    /* a burst past the limit: each is accepted and answered, none waits in
     * the backlog (more than the refused connections that may linger) */
    enum { BURST = 80 };
    client_t *burst[BURST];
    for (int i = 0; i < BURST; i++)
        burst[i] = cl_connect(fx);
    for (int i = 0; i < BURST; i++) {
        assert_int_equal(cl_read(fx, burst[i], &r), 0);
        assert_int_equal(r.status, 503);
        assert_true(cl_closed(fx, burst[i]));
        cl_free(burst[i]);
    }
    assert_true(counter("citerne_http_connections_refused_total") == 1.0 + BURST);

    /* once one closes, a new connection is served */
    cl_free(a);
    uint64_t deadline = uv_hrtime() + 5000000000ull;
    while (ct__http_conn_count(fx->srv) > 1 && uv_hrtime() < deadline)
        pump(fx, -1);
    assert_int_equal(ct__http_conn_count(fx->srv), 1);
    client_t *d = cl_connect(fx);
    cl_send(fx, d, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, d, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    assert_true(counter("citerne_http_connections_refused_total") == 1.0 + BURST);
    cl_free(b);
    cl_free(d);
}

/* Redirects stdout (the log) to a pipe that never blocks the writer. */
static int log_capture_start(int *saved)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    fflush(stdout);
    *saved = dup(STDOUT_FILENO);
    assert_true(*saved >= 0);
    assert_true(dup2(fds[1], STDOUT_FILENO) >= 0);
    close(fds[1]);
    return fds[0];
}

/* Restores stdout and returns what was logged meanwhile (malloc'ed). */
static char *log_capture_end(int fd, int saved)
{
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    return buf;
}

static void handler_that_never_replies_gets_503_after_the_deadline(void **state)
{
    fx_t *fx = *state;
    enum { DEADLINE_MS = 100 };
    ct_http_opts_t opts = {.handler_timeout_ms = DEADLINE_MS};
    restart_server(fx, &opts);
    ct_metrics_reset();
    ct_log_level_t level = ct__log_level;
    ct__log_level = CT_LOG_WARN;
    int saved;
    int logfd = log_capture_start(&saved);

    client_t *c = cl_connect(fx);
    resp_t r;
    uint64_t t0 = uv_hrtime();
    cl_send(fx, c,
            "GET /hold/42?token=s3cr3t HTTP/1.1\r\nHost: t\r\nX-Request-Id: stuck-1\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    uint64_t waited_ms = (uv_hrtime() - t0) / 1000000u;
    char *log = log_capture_end(logfd, saved);
    ct__log_level = level;

    assert_problem(&r, 503, "/problems/handler-timeout");
    assert_string_equal(resp_header(&r, "X-Request-Id"), "stuck-1");
    assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
    /* not before the deadline (less the loop clock's 1 ms granularity) */
    assert_in_range(waited_ms, DEADLINE_MS - 1, UINT32_MAX);
    assert_true(counter("citerne_http_handler_timeouts_total") == 1.0);
    assert_true(counter("citerne_http_requests_total{code=\"5xx\"}") == 1.0);
    /* the error names the method and route, not the path's id nor the query */
    if (!strstr(log, "GET /hold/{id}") || !strstr(log, "\"error\"") || strstr(log, "s3cr3t") ||
        strstr(log, "/hold/42"))
        fail_msg("unexpected log: %s", log);
    free(log);

    /* the handler still holds its request */
    assert_non_null(fx->held);
    assert_int_equal(ct_http_inflight(fx->srv), 1);
    assert_string_equal(ct_http_param(fx->held, "id"), "42");

    /* the connection goes on */
    cl_send(fx, c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_string_equal(r.body, "hello");

    /* the late reply is dropped: the next response on the connection is the
     * next request's */
    ct_http_add_header(fx->held, "X-Late", "yes");
    ct_http_reply(fx->held, 200, "text/plain", "late", 4);
    fx->held = NULL;
    assert_int_equal(ct__http_last_status(), 200);
    assert_int_equal(ct_http_inflight(fx->srv), 0);
    cl_send(fx, c, "GET /items/x/parts/y HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_null(resp_header(&r, "X-Late"));
    assert_int_equal(c->len, 0);
    assert_true(counter("citerne_http_requests_total{code=\"2xx\"}") == 2.0);
    assert_true(counter("citerne_http_handler_timeouts_total") == 1.0);
    cl_free(c);
}

static void reply_after_the_deadline_and_the_server_is_gone_is_dropped(void **state)
{
    fx_t *fx = *state;
    ct_http_opts_t opts = {.handler_timeout_ms = 50};
    restart_server(fx, &opts);
    client_t *c = cl_connect(fx);
    resp_t r;
    cl_send(fx, c, "GET /hold/7 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_int_equal(cl_read(fx, c, &r), 0);
    assert_problem(&r, 503, "/problems/handler-timeout");
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_true(cl_closed(fx, c));
    cl_free(c);
    assert_true(run_until_no_conns(fx, fx->srv, 3000));
    /* connection and server freed; the handler answers at last */
    close_server(fx);
    ct_http_req_t *req = fx->held;
    fx->held = NULL;
    assert_string_equal(ct_http_path(req), "/hold/7");
    assert_non_null(ct_http_alloc(req, 100));
    ct_http_reply_json(req, 200, json_pack("{s:s}", "id", ct_http_param(req, "id")));
    assert_int_equal(ct__http_last_status(), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(route_params_are_decoded_and_passed_to_the_handler),
        T(malformed_percent_encoding_in_a_param_gets_400),
        T(query_string_is_percent_decoded_with_plus_as_space),
        T(keep_alive_serves_two_requests_on_one_connection),
        T(pipelined_requests_are_answered_in_order),
        T(deep_pipeline_is_read_with_back_pressure_and_answered_in_order),
        T(body_of_exactly_the_limit_is_accepted),
        T(large_reply_is_written_whole_before_the_next),
        T(handler_replies_later_from_a_timer),
        T(unknown_path_gets_404_problem),
        T(other_method_gets_405_with_allow),
        T(head_on_a_get_route_has_length_but_no_body),
        T(no_content_reply_has_no_length_nor_body),
        T(oversized_body_gets_413_and_close_then_server_serves_next),
        T(body_within_limit_is_accepted_in_chunks),
        T(oversized_headers_get_431_and_close),
        T(endless_chunk_extensions_get_400),
        T(system_error_replies_500_without_its_message),
        T(garbage_gets_400_and_close),
        T(truncated_request_line_gets_400),
        T(upgrade_request_gets_a_plain_reply_then_close),
        T(client_leaving_mid_request_is_closed_quietly),
        T(non_json_content_type_gets_415),
        T(json_parse_errors_get_400_with_position),
        T(invalid_fields_are_all_listed),
        T(expect_continue_gets_100_before_the_body),
        T(client_reset_before_async_reply_drops_the_reply),
        T(client_closing_before_async_reply_is_harmless),
        T(request_id_is_echoed_when_sane_and_generated_otherwise),
        T(cookies_are_parsed_by_name),
        T(response_headers_are_checked_before_sending),
        T(repeated_response_headers_are_all_sent),
        T(malformed_query_gets_400_and_head_errors_have_no_body),
        T(slow_body_gets_408),
        T(stop_accepting_lets_a_partly_received_request_finish),
        T(http10_request_is_answered_then_closed),
        T(idle_and_request_timeouts_close_the_connection),
        T(stop_accepting_closes_idle_and_lets_busy_finish),
        T(server_close_with_a_pending_request_frees_everything),
        T(listen_parses_addresses_and_ipv6_works),
        T(requests_are_counted_by_status_class),
        T(fake_request_supports_json_and_accessors),
        T(connection_limit_refuses_with_503_and_accepts_again_once_one_closes),
        T(handler_that_never_replies_gets_503_after_the_deadline),
        T(reply_after_the_deadline_and_the_server_is_gone_is_dropped),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
