/* Minimal HTTP client for tests (see http_client.h). */
#define _GNU_SOURCE
#include "http_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "stack.h"

struct test_call {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    char *request;
    char *buf;
    size_t len, cap;
    bool done;   /* the response is complete or the connection ended */
    bool closed; /* the handle is closed */
};
typedef struct test_call conn_t;

static void on_close(uv_handle_t *h)
{
    conn_t *c = h->data;
    c->closed = true;
}

static void finish(conn_t *c)
{
    c->done = true;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* Complete when the headers are in and Content-Length bytes follow them. */
static bool complete(const conn_t *c)
{
    const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end)
        return false;
    size_t head = (size_t)(end - c->buf) + 4;
    const char *cl = NULL;
    for (const char *p = c->buf; p < end; p++) {
        if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
            cl = p + 15;
            break;
        }
    }
    if (!cl)
        return false; /* read until EOF */
    return c->len >= head + strtoul(cl, NULL, 10);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;
    if (c->cap - c->len < suggested + 1) {
        c->cap = c->len + suggested + 1;
        c->buf = realloc(c->buf, c->cap);
        assert_non_null(c->buf);
    }
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len - 1));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    conn_t *c = s->data;
    if (n < 0) {
        finish(c);
        return;
    }
    c->len += (size_t)n;
    if (complete(c))
        finish(c);
}

static void on_written(uv_write_t *w, int status)
{
    conn_t *c = w->data;
    if (status != 0)
        finish(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    if (status != 0) {
        finish(c);
        return;
    }
    uv_buf_t b = uv_buf_init(c->request, (unsigned)strlen(c->request));
    c->write.data = c;
    uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

test_call_t *test_http_start(uv_loop_t *loop, int port, const char *method, const char *path,
                             const char *headers, const char *body)
{
    return test_http_start_from(loop, port, NULL, method, path, headers, body);
}

test_call_t *test_http_start_from(uv_loop_t *loop, int port, const char *src, const char *method,
                                  const char *path, const char *headers, const char *body)
{
    conn_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->loop = loop;
    size_t blen = body ? strlen(body) : 0;
    int n = asprintf(&c->request,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, headers ? headers : "",
                     body ? "Content-Type: application/json\r\n" : "", blen, body ? body : "");
    assert_true(n > 0);
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->connect.data = c;
    if (src) {
        struct sockaddr_in local;
        assert_int_equal(uv_ip4_addr(src, 0, &local), 0);
        assert_int_equal(uv_tcp_bind(&c->tcp, (struct sockaddr *)&local, 0), 0);
    }
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    assert_int_equal(uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&addr, on_connect), 0);
    return c;
}

bool test_http_done(const test_call_t *c)
{
    return c->done;
}

void test_http_finish(test_call_t *c, test_resp_t *out)
{
    memset(out, 0, sizeof *out);
    ct_test_run_until(c->loop, &c->done, 10000);
    if (!c->done)
        finish(c);
    ct_test_run_until(c->loop, &c->closed, 1000);

    if (c->buf) {
        c->buf[c->len] = '\0';
        const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (end && sscanf(c->buf, "HTTP/1.%*d %d", &out->status) == 1) {
            size_t head = (size_t)(end - c->buf);
            out->head = strndup(c->buf, head + 2);
            out->body_len = c->len - head - 4;
            out->body = strndup(end + 4, out->body_len);
            out->json = json_loadb(out->body, out->body_len, 0, NULL);
        }
    }
    free(c->buf);
    free(c->request);
    free(c);
}

void test_http(uv_loop_t *loop, int port, const char *method, const char *path, const char *headers,
               const char *body, test_resp_t *out)
{
    test_http_finish(test_http_start(loop, port, method, path, headers, body), out);
}

void test_http_from(uv_loop_t *loop, int port, const char *src, const char *method,
                    const char *path, const char *headers, const char *body, test_resp_t *out)
{
    test_http_finish(test_http_start_from(loop, port, src, method, path, headers, body), out);
}

void test_request(uv_loop_t *loop, int port, const char *method, const char *path,
                  const char *headers, const char *body, test_resp_t *out)
{
    test_http(loop, port, method, path, headers, body, out);
    if (out->status == 0)
        fail_msg("%s %s: no response", method, path);
}

void expect_status(const test_resp_t *r, int want, const char *what)
{
    if (r->status != want)
        fail_msg("%s: status %d, want %d; body %s", what, r->status, want,
                 r->body ? r->body : "(none)");
}

const char *jstr(const test_resp_t *r, const char *field)
{
    json_t *v = json_object_get(r->json, field);
    if (!json_is_string(v))
        fail_msg("field %s missing or not a string in %s", field, r->body ? r->body : "(none)");
    return json_string_value(v);
}

char *test_resp_header(const test_resp_t *r, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = r->head; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            return strndup(v, strcspn(v, "\r\n"));
        }
    }
    return NULL;
}

char *test_resp_cookie(const test_resp_t *r, const char *name, char **attrs)
{
    size_t n = strlen(name);
    for (const char *p = r->head; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncasecmp(p, "set-cookie:", 11) != 0)
            continue;
        const char *v = p + 11;
        while (*v == ' ')
            v++;
        if (strncmp(v, name, n) == 0 && v[n] == '=') {
            if (attrs)
                *attrs = strndup(v, strcspn(v, "\r\n"));
            return strndup(v + n + 1, strcspn(v + n + 1, ";\r\n"));
        }
    }
    return NULL;
}

void test_resp_dispose(test_resp_t *r)
{
    free(r->head);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}
