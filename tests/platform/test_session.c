/* Sessions against the dev Redis. Lookups go through a real HTTP server: the
 * request is written raw into one end of a socketpair whose other end the
 * server adopts, so cookies and headers are parsed as in production. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "../../platform/src/http_internal.h"
#include "citerne/error.h"
#include "citerne/session.h"
#include "stack.h"

#define CUST_A "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
#define CUST_B "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"
#define USER "0190a1b2-c3d4-7e5f-8a9b-00000000beef"

typedef struct {
    uv_loop_t loop;
    ct_cache_t *cache;
    ct_http_server_t *srv;
    /* last lookup */
    bool done;
    int calls;
    int status;
    ct_session_t s;
} fixture_t;

static void noop_tick(uv_timer_t *t)
{
    (void)t;
}

static bool wait_ready(fixture_t *f, unsigned ms)
{
    uv_timer_t tick;
    uv_timer_init(&f->loop, &tick);
    uv_timer_start(&tick, noop_tick, 10, 10);
    uv_update_time(&f->loop);
    uint64_t deadline = uv_now(&f->loop) + ms;
    while (!ct_cache_ready(f->cache) && uv_now(&f->loop) < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return ct_cache_ready(f->cache);
}

/* The handler hands the lookup result to the fixture, then replies. */
typedef struct {
    fixture_t *f;
    ct_http_req_t *req;
} hctx_t;

static void on_lookup(int status, const ct_session_t *s, void *udata)
{
    hctx_t *h = udata;
    h->f->calls++;
    h->f->status = status;
    if (s)
        h->f->s = *s;
    h->f->done = true;
    ct_http_reply(h->req, status == 0 ? 204 : ct_err_http_status(status), NULL, NULL, 0);
}

static void handler(ct_http_req_t *req, void *udata)
{
    hctx_t *h = ct_http_alloc(req, sizeof *h);
    h->f = udata;
    h->req = req;
    ct_session_lookup(h->f->cache, req, on_lookup, h);
}

/* Replies 204 with the cookies of the fixture's last created session. */
static char cookie_token[65];
static ct_session_t cookie_session;

static void cookie_handler(ct_http_req_t *req, void *udata)
{
    (void)udata;
    ct_session_set_cookies(req, cookie_token, &cookie_session, 900);
    ct_http_reply(req, 204, NULL, NULL, 0);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    uv_loop_init(&f->loop);
    const char *url = ct_test_env("CITERNE_REDIS_URL");
    if (url) {
        assert_int_equal(ct_cache_new(&f->loop, url, &f->cache), 0);
        assert_true(wait_ready(f, 3000));
    }
    assert_int_equal(ct_http_server_new(&f->loop, NULL, &f->srv), 0);
    const char *methods[] = {"GET", "POST", "DELETE", "HEAD"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(ct_http_route(f->srv, methods[i], "/t", handler, f), 0);
    assert_int_equal(ct_http_route(f->srv, "POST", "/login", cookie_handler, f), 0);
    *state = f;
    return 0;
}

static void on_closed(void *udata)
{
    (*(int *)udata)++;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    int closed = 0;
    ct_http_server_close(f->srv, on_closed, &closed);
    if (f->cache)
        ct_cache_close(f->cache, on_closed, &closed);
    ct_test_loop_close(&f->loop);
    assert_int_equal(closed, f->cache ? 2 : 1);
    free(f);
    return 0;
}

/* Sends one request; returns the status the session callback got. */
static int lookup(fixture_t *f, const char *method, const char *token, const char *csrf)
{
    char raw[1024];
    int n = snprintf(raw, sizeof raw, "%s /t HTTP/1.1\r\nHost: x\r\n", method);
    if (token)
        n += snprintf(raw + n, sizeof raw - (size_t)n,
                      "Cookie: theme=dark; " CT_SESSION_COOKIE "=%s\r\n", token);
    if (csrf)
        n += snprintf(raw + n, sizeof raw - (size_t)n, "X-CSRF-Token: %s\r\n", csrf);
    n += snprintf(raw + n, sizeof raw - (size_t)n, "Content-Length: 0\r\n\r\n");
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(ct__http_adopt(f->srv, sv[0]), 0);
    assert_int_equal(write(sv[1], raw, (size_t)n), n);
    f->done = false;
    f->calls = 0;
    f->status = 1;
    assert_true(ct_test_run_until(&f->loop, &f->done, 3000));
    uv_run(&f->loop, UV_RUN_NOWAIT);
    close(sv[1]);
    assert_int_equal(f->calls, 1);
    return f->status;
}

typedef struct {
    bool done;
    int status;
    char token[65];
    ct_session_t s;
} created_t;

static void on_created(int status, const char *token, const ct_session_t *s, void *udata)
{
    created_t *c = udata;
    c->done = true;
    c->status = status;
    if (token)
        snprintf(c->token, sizeof c->token, "%s", token);
    if (s)
        c->s = *s;
}

static void create(fixture_t *f, unsigned ttl, created_t *c, ct_session_t *in)
{
    ct_session_t s = {0};
    if (!in) {
        snprintf(s.user_id, sizeof s.user_id, "%s", USER);
        s.ngrants = 2;
        snprintf(s.grants[0].customer_id, sizeof s.grants[0].customer_id, "%s", CUST_A);
        s.grants[0].role = CT_ROLE_ORDERER;
        snprintf(s.grants[1].customer_id, sizeof s.grants[1].customer_id, "%s", CUST_B);
        s.grants[1].role = CT_ROLE_VIEWER;
        in = &s;
    }
    memset(c, 0, sizeof *c);
    assert_int_equal(ct_session_create(f->cache, in, ttl, on_created, c), 0);
    assert_true(ct_test_run_until(&f->loop, &c->done, 3000));
    assert_int_equal(c->status, 0);
    assert_int_equal(strlen(c->token), 64);
    assert_string_equal(c->s.csrf, in->csrf); /* generated into the caller's too */
}

static void key_of(const char *token, char out[128])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const unsigned char *)token, strlen(token));
    strcpy(out, "ct:session:");
    sodium_bin2hex(out + 11, 128 - 11, d, sizeof d);
}

typedef struct {
    bool done;
    int type;
    long long integer;
    char str[2048];
} raw_t;

static void on_raw(int status, redisReply *r, void *udata)
{
    raw_t *x = udata;
    assert_int_equal(status, 0);
    x->done = true;
    x->type = r->type;
    x->integer = r->integer;
    if (r->str)
        snprintf(x->str, sizeof x->str, "%s", r->str);
}

static void redis(fixture_t *f, raw_t *x, const char **argv, int argc)
{
    memset(x, 0, sizeof *x);
    assert_int_equal(ct_cache_command_argv(f->cache, on_raw, x, argc, argv, NULL), 0);
    assert_true(ct_test_run_until(&f->loop, &x->done, 3000));
}

static void created_session_is_stored_under_the_token_hash_with_ttl(void **state)
{
    ct_test_require_stack();
    fixture_t *f = *state;
    created_t c;
    create(f, 600, &c, NULL);
    char key[128];
    key_of(c.token, key);
    raw_t x;
    redis(f, &x, (const char *[]){"TTL", key}, 2);
    assert_in_range(x.integer, 590, 600);
    redis(f, &x, (const char *[]){"GET", key}, 2);
    assert_int_equal(x.type, REDIS_REPLY_STRING);
    assert_null(strstr(x.str, c.token)); /* the token itself is not stored */
    json_t *j = json_loads(x.str, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "user_id")), USER);
    assert_string_equal(json_string_value(json_object_get(j, "csrf")), c.s.csrf);
    json_t *g = json_array_get(json_object_get(j, "grants"), 0);
    assert_string_equal(json_string_value(json_object_get(g, "role")), "orderer");
    assert_true(json_is_integer(json_object_get(j, "created_at")));
    json_decref(j);
    redis(f, &x, (const char *[]){"DEL", key}, 2);
}

static void lookup_finds_the_session_of_the_cookie(void **state)
{
    ct_test_require_stack();
    fixture_t *f = *state;
    created_t c;
    create(f, 600, &c, NULL);
    assert_int_equal(lookup(f, "GET", c.token, NULL), 0);
    assert_string_equal(f->s.user_id, USER);
    assert_string_equal(f->s.csrf, c.s.csrf);
    assert_int_equal(f->s.ngrants, 2);
    assert_int_equal(ct_session_role(&f->s, CUST_A), CT_ROLE_ORDERER);
    assert_int_equal(ct_session_role(&f->s, CUST_B), CT_ROLE_VIEWER);
    assert_int_equal(ct_session_role(&f->s, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f0000"), CT_ROLE_NONE);
    /* a write with the right CSRF token */
    assert_int_equal(lookup(f, "POST", c.token, c.s.csrf), 0);
    assert_int_equal(lookup(f, "DELETE", c.token, c.s.csrf), 0);
}

/* accounts' session-info hash beside the record, as accounts writes it */
static void info_of(const char *token, char out[160])
{
    char key[128];
    key_of(token, key);
    snprintf(out, 160, CT_SESSION_INFO_PREFIX "%s", key + strlen(CT_SESSION_KEY_PREFIX));
}

static long long pttl(fixture_t *f, const char *key)
{
    raw_t x;
    redis(f, &x, (const char *[]){"PTTL", key}, 2);
    return x.integer;
}

static void lookup_slides_the_idle_timeout_of_an_accounts_session(void **state)
{
    ct_test_require_stack();
    fixture_t *f = *state;
    created_t c;
    create(f, 600, &c, NULL);
    char key[128], info[160], exp[24], seen[24];
    key_of(c.token, key);
    info_of(c.token, info);
    long long now = (long long)ct_now_ms();
    snprintf(exp, sizeof exp, "%lld", now + 300000); /* 5 min of lifetime left */
    raw_t x;
    redis(f, &x,
          (const char *[]){"HSET", info, "expires_at", exp, "last_seen", "0", "idle_ms", "120000",
                           "touch_ms", "60000"},
          10);
    redis(f, &x, (const char *[]){"PEXPIRE", key, "5000"}, 3);
    redis(f, &x, (const char *[]){"PEXPIRE", info, "5000"}, 3);

    assert_int_equal(lookup(f, "GET", c.token, NULL), 0);
    /* the slide was sent before the callback: a later command sees it */
    long long t = pttl(f, key);
    if (t < 110000 || t > 120000)
        fail_msg("PTTL of the session %lld after a lookup, want the idle 120000", t);
    t = pttl(f, info);
    if (t < 110000 || t > 120000)
        fail_msg("PTTL of the info %lld after a lookup, want the idle 120000", t);
    redis(f, &x, (const char *[]){"HGET", info, "last_seen"}, 3);
    if (strtoll(x.str, NULL, 10) < now)
        fail_msg("last_seen %s, want at least %lld", x.str, now);

    /* at most once per touch_ms: a second lookup at once leaves it alone */
    redis(f, &x, (const char *[]){"PEXPIRE", key, "5000"}, 3);
    assert_int_equal(lookup(f, "GET", c.token, NULL), 0);
    t = pttl(f, key);
    if (t > 5000)
        fail_msg("PTTL %lld after a second lookup within touch_ms, want at most 5000", t);

    /* never past the absolute lifetime */
    snprintf(exp, sizeof exp, "%lld", (long long)ct_now_ms() + 30000);
    snprintf(seen, sizeof seen, "%lld", (long long)ct_now_ms() - 61000);
    redis(f, &x, (const char *[]){"HSET", info, "expires_at", exp, "last_seen", seen}, 6);
    assert_int_equal(lookup(f, "GET", c.token, NULL), 0);
    t = pttl(f, key);
    if (t < 25000 || t > 30000)
        fail_msg("PTTL %lld with 30 s of lifetime left, want at most 30000", t);

    /* a write slides too */
    redis(f, &x, (const char *[]){"HSET", info, "last_seen", seen}, 4);
    redis(f, &x, (const char *[]){"PEXPIRE", key, "5000"}, 3);
    assert_int_equal(lookup(f, "POST", c.token, c.s.csrf), 0);
    assert_true(pttl(f, key) > 20000);
    redis(f, &x, (const char *[]){"DEL", key, info}, 3);
}

static void lookup_slides_an_older_info_by_the_defaults_and_never_shortens(void **state)
{
    ct_test_require_stack();
    fixture_t *f = *state;
    created_t c;
    create(f, 7200, &c, NULL);
    char key[128], info[160], exp[24];
    key_of(c.token, key);
    info_of(c.token, info);
    snprintf(exp, sizeof exp, "%lld", (long long)ct_now_ms() + 7200000);
    raw_t x;
    /* no idle_ms nor touch_ms: 30 min and 60 s */
    redis(f, &x, (const char *[]){"HSET", info, "expires_at", exp, "last_seen", "0"}, 6);
    redis(f, &x, (const char *[]){"PEXPIRE", key, "5000"}, 3);
    assert_int_equal(lookup(f, "GET", c.token, NULL), 0);
    long long t = pttl(f, key);
    if (t < 1790000 || t > (long long)CT_SESSION_IDLE_DEFAULT_MS)
        fail_msg("PTTL %lld, want the default idle %lu", t, CT_SESSION_IDLE_DEFAULT_MS);

    /* a longer TTL than the default idle is kept */
    redis(f, &x, (const char *[]){"HSET", info, "last_seen", "0"}, 4);
    redis(f, &x, (const char *[]){"PEXPIRE", key, "3600000"}, 3);
    assert_int_equal(lookup(f, "GET", c.token, NULL), 0);
    t = pttl(f, key);
    if (t < 3590000)
        fail_msg("PTTL %lld, was 3600000: the slide shortened it", t);
    redis(f, &x, (const char *[]){"DEL", key, info}, 3);
}

static void a_session_without_info_keeps_its_ttl(void **state)
{
    ct_test_require_stack();
    fixture_t *f = *state;
    created_t c;
    create(f, 600, &c, NULL);
    char key[128];
    key_of(c.token, key);
    raw_t x;
    redis(f, &x, (const char *[]){"PEXPIRE", key, "5000"}, 3);
    assert_int_equal(lookup(f, "GET", c.token, NULL), 0);
    assert_true(pttl(f, key) <= 5000);
    redis(f, &x, (const char *[]){"DEL", key}, 2);
}

static void a_failing_slide_never_fails_the_lookup(void **state)
{
    ct_test_require_stack();
    fixture_t *f = *state;
    created_t c;
    create(f, 600, &c, NULL);
    char key[128], info[160];
    key_of(c.token, key);
    info_of(c.token, info);
    raw_t x;
    /* the wrong type: HMGET fails inside the script */
    redis(f, &x, (const char *[]){"SET", info, "junk", "EX", "60"}, 5);
    assert_int_equal(lookup(f, "GET", c.token, NULL), 0);
    assert_string_equal(f->s.user_id, USER);
    redis(f, &x, (const char *[]){"PTTL", key}, 2); /* the connection still answers */
    assert_true(x.integer > 0);
    redis(f, &x, (const char *[]){"DEL", key, info}, 3);
}

static void writes_need_the_matching_csrf_token(void **state)
{
    ct_test_require_stack();
    fixture_t *f = *state;
    created_t c;
    create(f, 600, &c, NULL);
    char wrong[65];
    memcpy(wrong, c.s.csrf, 65);
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    assert_int_equal(lookup(f, "POST", c.token, NULL), CT_EUNAUTH);
    assert_int_equal(lookup(f, "POST", c.token, wrong), CT_EUNAUTH);
    assert_int_equal(lookup(f, "POST", c.token, "short"), CT_EUNAUTH);
    char prefix[40];
    memcpy(prefix, c.s.csrf, 39);
    prefix[39] = '\0';
    assert_int_equal(lookup(f, "DELETE", c.token, prefix), CT_EUNAUTH);
    assert_int_equal(lookup(f, "HEAD", c.token, NULL), 0); /* safe methods do not */
}

static void set_cookies_sends_session_and_csrf_cookies(void **state)
{
    ct_test_require_stack();
    fixture_t *f = *state;
    created_t c;
    create(f, 900, &c, NULL);
    memcpy(cookie_token, c.token, sizeof cookie_token);
    cookie_session = c.s;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(ct__http_adopt(f->srv, sv[0]), 0);
    const char raw[] = "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                       "Connection: close\r\n\r\n";
    assert_int_equal(write(sv[1], raw, sizeof raw - 1), (ssize_t)(sizeof raw - 1));
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    char buf[4096];
    size_t len = 0;
    for (int i = 0; i < 3000 && !memmem(buf, len, "\r\n\r\n", 4); i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        ssize_t k = read(sv[1], buf + len, sizeof buf - 1 - len);
        if (k > 0)
            len += (size_t)k;
        else
            uv_sleep(1);
    }
    buf[len] = '\0';
    close(sv[1]);
    char want[256];
    snprintf(want, sizeof want,
             "Set-Cookie: __Host-citerne_session=%s; Path=/; HttpOnly; Secure; SameSite=Lax; "
             "Max-Age=900\r\n",
             c.token);
    if (!strstr(buf, want))
        fail_msg("no session cookie in:\n%s", buf);
    snprintf(want, sizeof want,
             "Set-Cookie: citerne_csrf=%s; Path=/; Secure; SameSite=Lax; Max-Age=900\r\n",
             c.s.csrf);
    if (!strstr(buf, want))
        fail_msg("no csrf cookie in:\n%s", buf);
    /* the session cookie is what lookups read back */
    assert_int_equal(lookup(f, "GET", c.token, NULL), 0);
}

static void missing_unknown_or_malformed_cookies_are_unauthenticated(void **state)
{
    ct_test_require_stack();
    fixture_t *f = *state;
    char unknown[65];
    ct_random_hex(unknown, 32);
    assert_int_equal(lookup(f, "GET", NULL, NULL), CT_EUNAUTH);
    assert_int_equal(lookup(f, "GET", unknown, NULL), CT_EUNAUTH);
    assert_int_equal(lookup(f, "GET", "not-hex", NULL), CT_EUNAUTH);
    assert_int_equal(lookup(f, "GET", "", NULL), CT_EUNAUTH);
}

static void expired_session_is_unauthenticated(void **state)
{
    ct_test_require_stack();
    fixture_t *f = *state;
    created_t c;
    create(f, 600, &c, NULL);
    char key[128];
    key_of(c.token, key);
    raw_t x;
    redis(f, &x, (const char *[]){"PEXPIRE", key, "1"}, 3); /* as if 600 s had passed */
    uv_sleep(20);
    assert_int_equal(lookup(f, "GET", c.token, NULL), CT_EUNAUTH);
}

static void garbage_stored_record_is_unauthenticated(void **state)
{
    ct_test_require_stack();
    fixture_t *f = *state;
    char token[65], key[128];
    ct_random_hex(token, 32);
    key_of(token, key);
    const char *bad[] = {
        "{not json",
        "[]",
        "{\"user_id\":\"" USER "\"}",
        "{\"user_id\":\"nope\",\"csrf\":\"00\",\"grants\":[],\"created_at\":1}",
        "{\"user_id\":\"" USER "\",\"csrf\":\"abc\",\"grants\":[],\"created_at\":1}",
        "{\"user_id\":\"" USER "\",\"csrf\":\"" /* 64 hex */
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "\",\"grants\":[{\"customer_id\":\"" CUST_A "\",\"role\":\"god\"}],\"created_at\":1}",
        "{\"user_id\":\"" USER "\",\"csrf\":\""
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "\",\"grants\":{},\"created_at\":1}",
        "{\"user_id\":\"" USER "\",\"user_id\":\"" USER "\",\"csrf\":\""
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "\",\"grants\":[],\"created_at\":1}",
    };
    raw_t x;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        redis(f, &x, (const char *[]){"SET", key, bad[i], "EX", "60"}, 5);
        int st = lookup(f, "GET", token, NULL);
        if (st != CT_EUNAUTH)
            fail_msg("record %zu (%s) gave %d", i, bad[i], st);
    }
    /* and a well-formed one, to show the loop above tested the parser */
    redis(f, &x,
          (const char *[]){"SET", key,
                           "{\"user_id\":\"" USER "\",\"csrf\":\""
                           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                           "\",\"grants\":[{\"customer_id\":\"" CUST_A
                           "\",\"role\":\"admin\"}],\"created_at\":1}",
                           "EX", "60"},
          5);
    assert_int_equal(lookup(f, "GET", token, NULL), 0);
    assert_int_equal(ct_session_role(&f->s, CUST_A), CT_ROLE_ADMIN);
    redis(f, &x, (const char *[]){"DEL", key}, 2);
}

static void redis_down_is_unavailable(void **state)
{
    ct_test_require_stack();
    fixture_t *f = *state;
    created_t c;
    create(f, 600, &c, NULL);
    /* close the cache: from now on it cannot answer */
    int closed = 0;
    ct_cache_close(f->cache, on_closed, &closed);
    for (int i = 0; i < 100 && !closed; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    f->cache = NULL;
    assert_int_equal(lookup(f, "GET", c.token, NULL), CT_EUNAVAIL);

    /* and one pointed at a port nobody listens on */
    assert_int_equal(ct_cache_new(&f->loop, "redis://127.0.0.1:1/0", &f->cache), 0);
    assert_int_equal(lookup(f, "GET", c.token, NULL), CT_EUNAVAIL);
    ct_session_t s = c.s;
    created_t c2 = {0};
    assert_int_equal(ct_session_create(f->cache, &s, 600, on_created, &c2), CT_EUNAVAIL);
    assert_false(c2.done);
}

static void create_rejects_bad_input(void **state)
{
    ct_test_require_stack();
    fixture_t *f = *state;
    created_t c = {0};
    ct_session_t s = {0};
    assert_int_equal(ct_session_create(f->cache, &s, 600, on_created, &c), CT_EINPUT);
    snprintf(s.user_id, sizeof s.user_id, "%s", USER);
    assert_int_equal(ct_session_create(f->cache, &s, 0, on_created, &c), CT_EINPUT);
    s.ngrants = 1;
    snprintf(s.grants[0].customer_id, sizeof s.grants[0].customer_id, "%s", CUST_A);
    s.grants[0].role = CT_ROLE_NONE;
    assert_int_equal(ct_session_create(f->cache, &s, 600, on_created, &c), CT_EINPUT);
    s.ngrants = CT_SESSION_MAX_GRANTS + 1;
    assert_int_equal(ct_session_create(f->cache, &s, 600, on_created, &c), CT_EINPUT);
    assert_false(c.done);
}

static void roles_parse_and_name(void **state)
{
    (void)state;
    const char *names[] = {"viewer", "orderer", "admin"};
    const ct_role_t roles[] = {CT_ROLE_VIEWER, CT_ROLE_ORDERER, CT_ROLE_ADMIN};
    for (size_t i = 0; i < 3; i++) {
        ct_role_t r = CT_ROLE_NONE;
        assert_int_equal(ct_role_parse(names[i], &r), 0);
        assert_int_equal(r, roles[i]);
        assert_string_equal(ct_role_name(roles[i]), names[i]);
    }
    ct_role_t r;
    assert_int_equal(ct_role_parse("Admin", &r), CT_EINPUT);
    assert_int_equal(ct_role_parse("none", &r), CT_EINPUT);
    assert_int_equal(ct_role_parse(NULL, &r), CT_EINPUT);
    assert_string_equal(ct_role_name(CT_ROLE_NONE), "none");
    assert_string_equal(ct_role_name((ct_role_t)42), "none");
    assert_int_equal(ct_session_role(NULL, CUST_A), CT_ROLE_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roles_parse_and_name),
        cmocka_unit_test_setup_teardown(created_session_is_stored_under_the_token_hash_with_ttl,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(lookup_finds_the_session_of_the_cookie, setup, teardown),
        cmocka_unit_test_setup_teardown(lookup_slides_the_idle_timeout_of_an_accounts_session,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            lookup_slides_an_older_info_by_the_defaults_and_never_shortens, setup, teardown),
        cmocka_unit_test_setup_teardown(a_session_without_info_keeps_its_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failing_slide_never_fails_the_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(writes_need_the_matching_csrf_token, setup, teardown),
        cmocka_unit_test_setup_teardown(set_cookies_sends_session_and_csrf_cookies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(missing_unknown_or_malformed_cookies_are_unauthenticated,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(expired_session_is_unauthenticated, setup, teardown),
        cmocka_unit_test_setup_teardown(garbage_stored_record_is_unauthenticated, setup, teardown),
        cmocka_unit_test_setup_teardown(redis_down_is_unavailable, setup, teardown),
        cmocka_unit_test_setup_teardown(create_rejects_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
