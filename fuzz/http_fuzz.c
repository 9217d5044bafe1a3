/* Fuzz target: arbitrary bytes sent by a client to the HTTP server.
 *
 * Each input goes through the real server path: a socketpair end is adopted
 * as a connection (ct__http_adopt), the input is written in pieces (the first
 * byte picks the piece size, so requests split at every place), then the
 * client half-closes and the loop runs until the server has closed the
 * connection. The last byte sometimes stops or closes the server while the
 * connection is busy. Checked beyond the sanitizers: the connection always ends, no
 * request stays in flight, and whatever the server sends starts with a
 * status line. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>

#include "citerne/http.h"
#include "citerne/log.h"
#include "citerne/validate.h"
#include "http_internal.h"

static uv_loop_t loop;
static ct_http_server_t *srv;

static void h_item(ct_http_req_t *req, void *ud)
{
    (void)ud;
    json_t *o = json_object();
    const char *vals[] = {ct_http_param(req, "id"),       ct_http_query(req, "q"),
                          ct_http_cookie(req, "session"), ct_http_header(req, "user-agent"),
                          ct_http_request_id(req),        ct_http_peer(req)};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        if (vals[i])
            json_object_set_new(o, "v", json_stringn_nocheck(vals[i], strlen(vals[i])));
    ct_http_add_header(req, "X-Echo", ct_http_query(req, "h") ? ct_http_query(req, "h") : "x");
    ct_http_reply_json(req, 200, o);
}

static void h_json(ct_http_req_t *req, void *ud)
{
    (void)ud;
    json_t *o = ct_http_json_object(req);
    if (!o)
        return;
    static const char *const kinds[] = {"tank", "bottle", NULL};
    ct_valid_t v;
    ct_valid_init(&v);
    (void)ct_valid_str(&v, o, "name", 1, 50, true);
    (void)ct_valid_enum(&v, o, "kind", kinds, false, "tank");
    (void)ct_valid_int(&v, o, "kg", 0, 5000, false, 0);
    (void)ct_valid_bool(&v, o, "urgent", false, false);
    (void)ct_valid_uuid(&v, o, "site", false);
    (void)ct_valid_date(&v, o, "day", false);
    if (!ct_valid_ok(&v))
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
    else
        ct_http_reply_json(req, 201, json_incref(o));
    ct_valid_dispose(&v);
}

typedef struct {
    uv_timer_t t;
    ct_http_req_t *req;
} later_t;

static void on_later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_later(uv_timer_t *t)
{
    later_t *l = t->data;
    ct_http_reply(l->req, 202, "text/plain", "later", 5);
    uv_close((uv_handle_t *)t, on_later_closed);
}

static void h_later(ct_http_req_t *req, void *ud)
{
    (void)ud;
    later_t *l = calloc(1, sizeof *l);
    if (!l)
        abort();
    l->req = req;
    l->t.data = l;
    uv_timer_init(&loop, &l->t);
    uv_timer_start(&l->t, on_later, 0, 0);
}

static void h_nothing(ct_http_req_t *req, void *ud)
{
    (void)ud;
    ct_http_reply(req, 204, NULL, NULL, 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void make_server(void)
{
    ct_http_opts_t opts = {.max_body = 4096,
                           .max_header = 2048,
                           .idle_timeout_ms = 1000,
                           .request_timeout_ms = 1000,
                           .service = "fuzz"};
    if (ct_http_server_new(&loop, &opts, &srv) != 0 ||
        ct_http_route(srv, "GET", "/items/{id}", h_item, NULL) != 0 ||
        ct_http_route(srv, "POST", "/items/{id}/parts/{part}", h_json, NULL) != 0 ||
        ct_http_route(srv, "POST", "/json", h_json, NULL) != 0 ||
        ct_http_route(srv, "GET", "/later", h_later, NULL) != 0 ||
        ct_http_route(srv, "DELETE", "/items/{id}", h_nothing, NULL) != 0)
        abort();
}

static void on_closed(void *ud)
{
    *(volatile bool *)ud = true;
}

/* Closes the server while the connection may be mid-request or mid-reply
 * (a /later reply then lands on a detached request), and makes a new one. */
static void restart_server(void)
{
    volatile bool closed = false;
    ct_http_server_close(srv, on_closed, (void *)&closed);
    for (long i = 0; !closed; i++) {
        if (i > 200000) {
            fprintf(stderr, "server never closed\n");
            __builtin_trap();
        }
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    srv = NULL;
    /* let pending /later timers reply into the void */
    for (int i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    make_server();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ct_log_init("fuzz", CT_LOG_OFF);
    if (uv_loop_init(&loop) != 0)
        abort();
    make_server();
    return 0;
}

static size_t drain(int fd, size_t seen, char first[9])
{
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n && seen < 9; i++)
            first[seen++] = buf[i];
    }
    return seen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        abort();
    if (ct__http_adopt(srv, sv[0]) != 0)
        abort();
    fcntl(sv[1], F_SETFL, O_NONBLOCK);

    size_t piece = size ? 1 + (size_t)data[0] * 8 : 1;
    size_t off = 0, seen = 0;
    char first[9] = {0};
    while (off < size) {
        size_t n = size - off < piece ? size - off : piece;
        ssize_t w = write(sv[1], data + off, n);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno != EAGAIN)
            break; /* the server closed: the rest is not needed */
        for (int i = 0; i < 3; i++)
            uv_run(&loop, UV_RUN_NOWAIT);
        seen = drain(sv[1], seen, first);
    }
    /* the last byte picks, now and then, a shutdown while busy */
    int mode = size > 1 ? data[size - 1] % 32 : 0;
    if (mode == 31) {
        restart_server();
        seen = drain(sv[1], seen, first);
    } else if (mode == 30) {
        ct_http_stop_accepting(srv);
    }
    shutdown(sv[1], SHUT_WR);
    for (long i = 0; ct__http_conn_count(srv) > 0; i++) {
        if (i > 200000) {
            fprintf(stderr, "connection never closed\n");
            __builtin_trap();
        }
        uv_run(&loop, UV_RUN_NOWAIT);
        seen = drain(sv[1], seen, first);
    }
    seen = drain(sv[1], seen, first);
    close(sv[1]);
    if (mode == 30)
        restart_server(); /* a stopped server accepts nothing more */
    if (ct_http_inflight(srv) != 0) {
        fprintf(stderr, "request left in flight\n");
        __builtin_trap();
    }
    if (seen > 0 && memcmp(first, "HTTP/1.1 ", seen < 9 ? seen : 9) != 0) {
        fprintf(stderr, "reply does not start with a status line\n");
        __builtin_trap();
    }
    return 0;
}
