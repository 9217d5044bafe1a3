/* cache against the dev Redis, plus a loopback proxy in front of it to
 * simulate a Redis restart (connections dropped, port closed, then back). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "../../platform/src/cache_internal.h"
#include "citerne/cache.h"
#include "citerne/error.h"
#include "citerne/id.h"
#include "stack.h"

typedef struct {
    bool done;
    int calls;
    int status;
    int type;
    long long integer;
    char str[256];
} result_t;

static void on_result(int status, redisReply *reply, void *udata)
{
    result_t *r = udata;
    r->calls++;
    r->done = true;
    r->status = status;
    r->type = reply ? reply->type : -1;
    if (reply && reply->type == REDIS_REPLY_INTEGER)
        r->integer = reply->integer;
    if (reply && reply->str)
        snprintf(r->str, sizeof r->str, "%s", reply->str);
}

static void on_closed(void *udata)
{
    (*(int *)udata)++;
}

static void noop_tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until ct_cache_ready(c) == want or ms elapsed. */
static bool wait_ready(uv_loop_t *loop, ct_cache_t *c, bool want, unsigned ms)
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, noop_tick, 10, 10);
    uv_update_time(loop);
    uint64_t deadline = uv_now(loop) + ms;
    while (ct_cache_ready(c) != want && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ct_cache_ready(c) == want;
}

static void close_cache(uv_loop_t *loop, ct_cache_t *c)
{
    int closed = 0;
    ct_cache_close(c, on_closed, &closed);
    for (int i = 0; i < 100 && !closed; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    assert_int_equal(closed, 1);
}

static void set_get(uv_loop_t *loop, ct_cache_t *c)
{
    char key[64], val[CT_UUID_STRLEN + 1];
    ct_uuid_v7(val);
    snprintf(key, sizeof key, "ct:test:cache:%s", val);
    result_t set = {0}, get = {0}, del = {0};
    assert_int_equal(ct_cache_command(c, on_result, &set, "SET %s %s EX 60", key, val), 0);
    const char *argv[] = {"GET", key};
    assert_int_equal(ct_cache_command_argv(c, on_result, &get, 2, argv, NULL), 0);
    assert_int_equal(ct_cache_command(c, on_result, &del, "DEL %s", key), 0);
    assert_true(ct_test_run_until(loop, &del.done, 3000));
    assert_int_equal(set.status, 0);
    assert_int_equal(set.type, REDIS_REPLY_STATUS);
    assert_string_equal(set.str, "OK");
    assert_int_equal(get.status, 0);
    assert_int_equal(get.type, REDIS_REPLY_STRING);
    assert_string_equal(get.str, val);
    assert_int_equal(del.integer, 1);
    assert_int_equal(set.calls + get.calls + del.calls, 3);
}

static void set_then_get_returns_the_value(void **state)
{
    (void)state;
    ct_test_require_stack();
    uv_loop_t loop;
    uv_loop_init(&loop);
    ct_cache_t *c;
    assert_int_equal(ct_cache_new(&loop, ct_test_env("CITERNE_REDIS_URL"), &c), 0);
    assert_true(wait_ready(&loop, c, true, 3000));
    set_get(&loop, c);
    /* a Redis error reply is a status 0 with an error reply */
    result_t err = {0};
    assert_int_equal(ct_cache_command(c, on_result, &err, "NOSUCHCOMMAND"), 0);
    assert_true(ct_test_run_until(&loop, &err.done, 3000));
    assert_int_equal(err.status, 0);
    assert_int_equal(err.type, REDIS_REPLY_ERROR);
    close_cache(&loop, c);
    ct_test_loop_close(&loop);
}

static void host_names_are_resolved_off_the_loop(void **state)
{
    (void)state;
    ct_test_require_stack();
    const char *url = ct_test_env("CITERNE_REDIS_URL");
    const char *port = strrchr(url, ':');
    assert_non_null(port);
    char named[128];
    snprintf(named, sizeof named, "redis://localhost%s", port); /* keeps /db */
    uv_loop_t loop;
    uv_loop_init(&loop);
    ct_cache_t *c;
    assert_int_equal(ct_cache_new(&loop, named, &c), 0);
    assert_true(wait_ready(&loop, c, true, 3000));
    set_get(&loop, c);
    close_cache(&loop, c);
    ct_test_loop_close(&loop);
}

/* A port with nobody listening: bind one, note it, close it. */
static int closed_port(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t t;
    uv_tcp_init(&loop, &t);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_bind(&t, (const struct sockaddr *)&sa, 0), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&t, (struct sockaddr *)&got, &len);
    uv_close((uv_handle_t *)&t, NULL);
    ct_test_loop_close(&loop);
    return ntohs(got.sin_port);
}

static void commands_fail_fast_when_redis_is_unreachable(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", closed_port());
    ct_cache_t *c;
    assert_int_equal(ct_cache_new(&loop, url, &c), 0);
    assert_false(wait_ready(&loop, c, true, 400)); /* a few refused attempts */
    result_t r = {0};
    assert_int_equal(ct_cache_command(c, on_result, &r, "PING"), CT_EUNAVAIL);
    const char *argv[] = {"PING"};
    assert_int_equal(ct_cache_command_argv(c, on_result, &r, 1, argv, NULL), CT_EUNAVAIL);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.calls, 0); /* failed now: never called */
    close_cache(&loop, c);
    assert_int_equal(ct_cache_command(NULL, on_result, &r, "PING"), CT_EINPUT);
    ct_test_loop_close(&loop);
}

static void close_with_pending_commands_reports_closed_once(void **state)
{
    (void)state;
    ct_test_require_stack();
    uv_loop_t loop;
    uv_loop_init(&loop);
    ct_cache_t *c;
    assert_int_equal(ct_cache_new(&loop, ct_test_env("CITERNE_REDIS_URL"), &c), 0);
    assert_true(wait_ready(&loop, c, true, 3000));
    char key[64], id[CT_UUID_STRLEN + 1];
    ct_uuid_v7(id);
    snprintf(key, sizeof key, "ct:test:cache:empty:%s", id);
    result_t blocked = {0}, queued = {0};
    assert_int_equal(ct_cache_command(c, on_result, &blocked, "BLPOP %s 5", key), 0);
    assert_int_equal(ct_cache_command(c, on_result, &queued, "PING"), 0);
    uv_run(&loop, UV_RUN_NOWAIT); /* both written; BLPOP blocks the PING behind it */
    int closed = 0;
    ct_cache_close(c, on_closed, &closed);
    assert_int_equal(blocked.calls, 1);
    assert_int_equal(blocked.status, CT_ECLOSED);
    assert_int_equal(queued.calls, 1);
    assert_int_equal(queued.status, CT_ECLOSED);
    ct_test_loop_close(&loop);
    assert_int_equal(closed, 1);
    assert_int_equal(blocked.calls, 1);
    assert_int_equal(queued.calls, 1);
}

typedef struct {
    ct_cache_t *c;
    int closed;
    result_t first;
} close_in_cb_t;

static void close_from_reply(int status, redisReply *reply, void *udata)
{
    close_in_cb_t *x = udata;
    on_result(status, reply, &x->first);
    ct_cache_close(x->c, on_closed, &x->closed);
}

static void close_inside_a_reply_callback_is_safe(void **state)
{
    (void)state;
    ct_test_require_stack();
    uv_loop_t loop;
    uv_loop_init(&loop);
    close_in_cb_t x = {0};
    assert_int_equal(ct_cache_new(&loop, ct_test_env("CITERNE_REDIS_URL"), &x.c), 0);
    assert_true(wait_ready(&loop, x.c, true, 3000));
    result_t later = {0};
    assert_int_equal(ct_cache_command(x.c, close_from_reply, &x, "PING"), 0);
    assert_int_equal(ct_cache_command(x.c, on_result, &later, "BLPOP ct:test:cache:none 5"), 0);
    assert_true(ct_test_run_until(&loop, &x.first.done, 3000));
    assert_int_equal(x.first.status, 0);
    assert_string_equal(x.first.str, "PONG");
    assert_int_equal(later.calls, 1);
    assert_int_equal(later.status, CT_ECLOSED);
    ct_test_loop_close(&loop);
    assert_int_equal(x.closed, 1);
    assert_int_equal(later.calls, 1);
}

static void a_reply_that_never_comes_fails_and_reconnects(void **state)
{
    (void)state;
    ct_test_require_stack();
    uv_loop_t loop;
    uv_loop_init(&loop);
    ct_cache_t *c;
    assert_int_equal(ct_cache_new(&loop, ct_test_env("CITERNE_REDIS_URL"), &c), 0);
    ct__cache_set_command_timeout(c, 300);
    assert_true(wait_ready(&loop, c, true, 3000));
    char key[80], id[CT_UUID_STRLEN + 1];
    ct_uuid_v7(id);
    snprintf(key, sizeof key, "ct:test:cache:never:%s", id);
    result_t stuck = {0}, behind = {0};
    /* BLPOP with no timeout on an empty list: Redis never answers */
    assert_int_equal(ct_cache_command(c, on_result, &stuck, "BLPOP %s 0", key), 0);
    assert_int_equal(ct_cache_command(c, on_result, &behind, "PING"), 0);
    assert_true(ct_test_run_until(&loop, &behind.done, 3000));
    assert_int_equal(stuck.calls, 1);
    assert_int_equal(stuck.status, CT_EUNAVAIL);
    assert_int_equal(behind.calls, 1);
    assert_int_equal(behind.status, CT_EUNAVAIL);
    assert_true(wait_ready(&loop, c, true, 3000));
    set_get(&loop, c);
    close_cache(&loop, c);
    ct_test_loop_close(&loop);
    assert_int_equal(stuck.calls, 1);
}

static void reconnects_after_its_connection_is_killed(void **state)
{
    (void)state;
    ct_test_require_stack();
    uv_loop_t loop;
    uv_loop_init(&loop);
    ct_cache_t *c;
    assert_int_equal(ct_cache_new(&loop, ct_test_env("CITERNE_REDIS_URL"), &c), 0);
    assert_true(wait_ready(&loop, c, true, 3000));
    result_t id = {0};
    assert_int_equal(ct_cache_command(c, on_result, &id, "CLIENT ID"), 0);
    assert_true(ct_test_run_until(&loop, &id.done, 3000));
    assert_int_equal(id.type, REDIS_REPLY_INTEGER);

    /* Only our own connection: other tests share this Redis. */
    const char *url = ct_test_env("CITERNE_REDIS_URL");
    int port = 0;
    assert_int_equal(sscanf(strrchr(url, ':') + 1, "%d", &port), 1);
    redisContext *admin = redisConnect("127.0.0.1", port);
    assert_non_null(admin);
    assert_int_equal(admin->err, 0);
    redisReply *r = redisCommand(admin, "CLIENT KILL ID %lld", id.integer);
    assert_non_null(r);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    redisFree(admin);

    assert_true(wait_ready(&loop, c, false, 3000));
    assert_true(wait_ready(&loop, c, true, 3000));
    set_get(&loop, c);
    close_cache(&loop, c);
    ct_test_loop_close(&loop);
}

/* ---- a loopback TCP proxy to the dev Redis, which we can "restart" ---- */

typedef struct proxy proxy_t;
typedef struct {
    uv_tcp_t down, up;
    proxy_t *px;
    int open; /* handles not yet closed */
    bool dead;
} link_t;

struct proxy {
    uv_loop_t *loop;
    uv_tcp_t server;
    bool listening;
    int port;
    struct sockaddr_in upstream;
    link_t *links[64];
};

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(size);
    buf->len = buf->base ? size : 0;
}

static void link_handle_closed(uv_handle_t *h)
{
    link_t *l = h->data;
    if (--l->open == 0)
        free(l);
}

static void link_kill(link_t *l)
{
    if (l->dead)
        return;
    l->dead = true;
    for (size_t i = 0; i < 64; i++)
        if (l->px->links[i] == l)
            l->px->links[i] = NULL;
    uv_close((uv_handle_t *)&l->down, link_handle_closed);
    uv_close((uv_handle_t *)&l->up, link_handle_closed);
}

static void write_done(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void forward(uv_stream_t *from, ssize_t n, const uv_buf_t *buf)
{
    link_t *l = from->data;
    if (n < 0) {
        free(buf->base);
        link_kill(l);
        return;
    }
    if (n == 0 || l->dead) {
        free(buf->base);
        return;
    }
    uv_stream_t *to =
        from == (uv_stream_t *)&l->down ? (uv_stream_t *)&l->up : (uv_stream_t *)&l->down;
    uv_write_t *w = malloc(sizeof *w);
    w->data = buf->base;
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
    if (uv_write(w, to, &b, 1, write_done) < 0) {
        free(buf->base);
        free(w);
        link_kill(l);
    }
}

static void on_upstream(uv_connect_t *req, int status)
{
    link_t *l = req->data;
    free(req);
    if (l->dead)
        return;
    if (status < 0) {
        link_kill(l);
        return;
    }
    uv_read_start((uv_stream_t *)&l->down, alloc_cb, forward);
    uv_read_start((uv_stream_t *)&l->up, alloc_cb, forward);
}

static void on_accept(uv_stream_t *server, int status)
{
    proxy_t *px = server->data;
    if (status < 0)
        return;
    link_t *l = calloc(1, sizeof *l);
    l->px = px;
    l->open = 2;
    uv_tcp_init(px->loop, &l->down);
    uv_tcp_init(px->loop, &l->up);
    l->down.data = l->up.data = l;
    if (uv_accept(server, (uv_stream_t *)&l->down) < 0) {
        link_kill(l);
        return;
    }
    for (size_t i = 0; i < 64; i++)
        if (!px->links[i]) {
            px->links[i] = l;
            break;
        }
    uv_connect_t *req = malloc(sizeof *req);
    req->data = l;
    if (uv_tcp_connect(req, &l->up, (const struct sockaddr *)&px->upstream, on_upstream) < 0) {
        free(req);
        link_kill(l);
    }
}

static void proxy_listen(proxy_t *px)
{
    uv_tcp_init(px->loop, &px->server);
    px->server.data = px;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", px->port, &sa);
    assert_int_equal(uv_tcp_bind(&px->server, (const struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&px->server, 16, on_accept), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&px->server, (struct sockaddr *)&got, &len);
    px->port = ntohs(got.sin_port);
    px->listening = true;
}

/* Like a Redis restart: every connection drops and the port refuses. */
static void proxy_stop(proxy_t *px)
{
    for (size_t i = 0; i < 64; i++)
        if (px->links[i])
            link_kill(px->links[i]);
    if (px->listening)
        uv_close((uv_handle_t *)&px->server, NULL);
    px->listening = false;
}

static void reconnects_after_a_restart_with_backoff(void **state)
{
    (void)state;
    ct_test_require_stack();
    const char *url = ct_test_env("CITERNE_REDIS_URL");
    int port = 0;
    assert_int_equal(sscanf(strrchr(url, ':') + 1, "%d", &port), 1);
    uv_loop_t loop;
    uv_loop_init(&loop);
    proxy_t px = {.loop = &loop};
    uv_ip4_addr("127.0.0.1", port, &px.upstream);
    proxy_listen(&px);
    char purl[64];
    snprintf(purl, sizeof purl, "redis://127.0.0.1:%d/1", px.port);
    ct_cache_t *c;
    assert_int_equal(ct_cache_new(&loop, purl, &c), 0);
    assert_true(wait_ready(&loop, c, true, 3000));
    set_get(&loop, c);
    result_t db = {0};
    assert_int_equal(ct_cache_command(c, on_result, &db, "CLIENT INFO"), 0);
    assert_true(ct_test_run_until(&loop, &db.done, 3000));
    if (db.type == REDIS_REPLY_STRING) /* Redis >= 6.2: the SELECT took effect */
        assert_non_null(strstr(db.str, " db=1 "));

    result_t inflight = {0};
    assert_int_equal(ct_cache_command(c, on_result, &inflight, "BLPOP ct:test:cache:none 5"), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    proxy_stop(&px);
    assert_true(ct_test_run_until(&loop, &inflight.done, 3000));
    assert_int_equal(inflight.status, CT_EUNAVAIL); /* told once, not left hanging */
    assert_int_equal(inflight.calls, 1);
    assert_false(wait_ready(&loop, c, true, 700)); /* refused attempts meanwhile */
    result_t r = {0};
    assert_int_equal(ct_cache_command(c, on_result, &r, "PING"), CT_EUNAVAIL);

    proxy_listen(&px); /* same port: Redis is back */
    assert_true(wait_ready(&loop, c, true, 6000));
    set_get(&loop, c);
    close_cache(&loop, c);
    proxy_stop(&px);
    ct_test_loop_close(&loop);
    assert_int_equal(inflight.calls, 1);
}

static void bad_urls_are_config_errors(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *bad[] = {NULL,
                         "",
                         "http://127.0.0.1:6379",
                         "rediss://127.0.0.1:6379",
                         "redis://",
                         "redis://:6379",
                         "redis://h:0",
                         "redis://h:99999",
                         "redis://h:63x9",
                         "redis://h:6379/x",
                         "redis://h:6379/-1",
                         "redis://[::1:6379",
                         "redis://h:6379?db=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ct_cache_t *c = (ct_cache_t *)1;
        int rc = ct_cache_new(&loop, bad[i], &c);
        if (rc != CT_ECONFIG)
            fail_msg("%s: got %d", bad[i] ? bad[i] : "(null)", rc);
        assert_null(c);
    }
    ct_test_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_then_get_returns_the_value),
        cmocka_unit_test(host_names_are_resolved_off_the_loop),
        cmocka_unit_test(commands_fail_fast_when_redis_is_unreachable),
        cmocka_unit_test(close_with_pending_commands_reports_closed_once),
        cmocka_unit_test(close_inside_a_reply_callback_is_safe),
        cmocka_unit_test(a_reply_that_never_comes_fails_and_reconnects),
        cmocka_unit_test(reconnects_after_its_connection_is_killed),
        cmocka_unit_test(reconnects_after_a_restart_with_backoff),
        cmocka_unit_test(bad_urls_are_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
