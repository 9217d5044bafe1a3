/* Test support: a minimal HTTP/1.1 client for tests, on the test's own loop
 * (the server under test runs on the same loop): one connection per request,
 * "Connection: close", the response read until its Content-Length or EOF;
 * and the checks every service's API tests make of a response. */
#ifndef CT_TEST_HTTP_CLIENT_H
#define CT_TEST_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <uv.h>

typedef struct {
    int status; /* 0 when no response came */
    char *head; /* status line and headers, NUL-terminated */
    char *body; /* NUL-terminated */
    size_t body_len;
    json_t *json; /* the body parsed, or NULL */
} test_resp_t;

/* Sends method path with extra header lines (each ending in "\r\n", or NULL)
 * and body (NULL: none; sent as application/json) to 127.0.0.1:port, runs
 * loop until the response is complete (10 s at most). */
void test_http(uv_loop_t *loop, int port, const char *method, const char *path, const char *headers,
               const char *body, test_resp_t *out);
/* The same in two steps, so that several requests can be in flight at once:
 * test_http_start sends and returns at once; test_http_done says whether the
 * response is complete; test_http_finish runs the loop until it is (10 s at
 * most), fills out and frees the call. */
typedef struct test_call test_call_t;
test_call_t *test_http_start(uv_loop_t *loop, int port, const char *method, const char *path,
                             const char *headers, const char *body);
/* The same from the local address src ("127.0.0.2": any 127/8 address is
 * the loopback on Linux), so that tests can be clients at several addresses;
 * src NULL: the system's choice. */
test_call_t *test_http_start_from(uv_loop_t *loop, int port, const char *src, const char *method,
                                  const char *path, const char *headers, const char *body);
void test_http_from(uv_loop_t *loop, int port, const char *src, const char *method,
                    const char *path, const char *headers, const char *body, test_resp_t *out);
bool test_http_done(const test_call_t *call);
void test_http_finish(test_call_t *call, test_resp_t *out);

/* test_http that fails the test when no response came. */
void test_request(uv_loop_t *loop, int port, const char *method, const char *path,
                  const char *headers, const char *body, test_resp_t *out);
/* Fails the test unless r's status is want (what names the request in the
 * message, with the body). */
void expect_status(const test_resp_t *r, int want, const char *what);
/* The string field of r's JSON object (borrowed from r); fails the test
 * when it is missing or not a string. */
const char *jstr(const test_resp_t *r, const char *field);

/* Value of the first header name (case-insensitive), malloc'ed, or NULL. */
char *test_resp_header(const test_resp_t *r, const char *name);
/* Value of cookie name from the Set-Cookie headers (up to ';'), malloc'ed,
 * or NULL; attrs (if not NULL) gets the whole Set-Cookie line, malloc'ed. */
char *test_resp_cookie(const test_resp_t *r, const char *name, char **attrs);
void test_resp_dispose(test_resp_t *r);

#endif
