/* Asynchronous Redis client on hiredis 0.14 and its libuv adapter.
 *
 * Lifetime rules of hiredis 0.14 that shape this file:
 * - the context is freed by hiredis itself after the connect callback reports
 *   a failure and after the disconnect callback returns; we must not free it
 *   there, only forget it;
 * - redisAsyncFree() inside a reply callback only marks the context, and
 *   hiredis frees it once the callback returns; every reply callback still
 *   pending is then called with a NULL reply, and the disconnect callback runs
 *   if the connection had been established;
 * - so `c` (and every pending record) stays alive until hiredis is done:
 *   `c` is freed from the close callback of our timers, which run in a later
 *   loop phase than any hiredis callback.
 * Whoever frees the context on purpose sets c->ac to NULL first and deals
 * with what follows; on_disconnect only handles drops nobody asked for.
 *
 * The stock adapter ignores poll errors (status != 0): a refused connect or a
 * reset connection would then never reach hiredis and the client would hang.
 * We keep its structure and cleanup but poll with our own callback that lets
 * hiredis see the error (what later hiredis releases do). */
#include "citerne/cache.h"
#include "cache_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>

#include "citerne/error.h"
#include "citerne/log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_MS 3000
/* A reply later than this means Redis (or the path to it) is stuck: drop the
 * connection so callers fail (CT_EUNAVAIL) instead of hanging. */
#define COMMAND_TIMEOUT_MS 10000
#define WATCHDOG_TICK_MS 500

typedef struct pending {
    struct pending *prev, *next;
    ct_cache_t *c;
    ct_cache_reply_cb cb;
    void *udata;
    bool cancelled; /* the caller already got CT_ECLOSED */
    uint64_t sent;  /* uv_now() when sent */
} pending_t;

struct ct_cache {
    uv_loop_t *loop;
    char host[256];
    int port;
    int db;
    char user[128];
    char pass[256];
    redisAsyncContext *ac;
    bool ready;
    int setup_pending; /* AUTH / SELECT replies awaited before ready */
    unsigned backoff_ms;
    uv_timer_t timer;    /* connect timeout, then retry backoff */
    uv_timer_t watchdog; /* replies overdue */
    unsigned command_timeout_ms;
    int handles_open;
    uv_getaddrinfo_t gai;
    bool resolving;
    pending_t pending; /* list head */
    bool closing;
    void (*close_cb)(void *udata);
    void *close_udata;
};

static void start_connect(ct_cache_t *c);

/* ---- adapter with error-aware polling ---- */

static void on_poll(uv_poll_t *handle, int status, int events)
{
    redisLibuvEvents *p = handle->data;
    if (status != 0)
        events = p->events; /* hiredis reads the error from the socket */
    if (p->context != NULL && (events & UV_READABLE))
        redisAsyncHandleRead(p->context);
    if (p->context != NULL && (events & UV_WRITABLE))
        redisAsyncHandleWrite(p->context);
}

static void poll_update(redisLibuvEvents *p)
{
    if (p->events)
        uv_poll_start(&p->handle, p->events, on_poll);
    else
        uv_poll_stop(&p->handle);
}

static void add_read(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events |= UV_READABLE;
    poll_update(p);
}

static void del_read(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events &= ~UV_READABLE;
    poll_update(p);
}

static void add_write(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events |= UV_WRITABLE;
    poll_update(p);
}

static void del_write(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events &= ~UV_WRITABLE;
    poll_update(p);
}

static int attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (redisLibuvAttach(ac, loop) != REDIS_OK)
        return -1;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    return 0;
}

/* ---- URL ---- */

static int parse_url(ct_cache_t *c, const char *url)
{
    static const char scheme[] = "redis://";
    if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0) {
        ct_log_error("CITERNE_REDIS_URL: expected redis://host:port[/db]");
        return CT_ECONFIG;
    }
    const char *s = url + sizeof scheme - 1;
    const char *end = s + strcspn(s, "/?#");
    const char *at = memchr(s, '@', (size_t)(end - s));
    if (at) {
        const char *colon = memchr(s, ':', (size_t)(at - s));
        const char *pass = colon ? colon + 1 : s;
        size_t ulen = colon ? (size_t)(colon - s) : 0;
        size_t plen = (size_t)(at - pass);
        if (ulen >= sizeof c->user || plen >= sizeof c->pass || plen == 0) {
            ct_log_error("CITERNE_REDIS_URL: bad credentials part");
            return CT_ECONFIG;
        }
        memcpy(c->user, s, ulen);
        c->user[ulen] = '\0';
        memcpy(c->pass, pass, plen);
        c->pass[plen] = '\0';
        s = at + 1;
    }
    const char *hend;
    const char *port = NULL;
    if (*s == '[') {
        const char *rb = memchr(s, ']', (size_t)(end - s));
        if (!rb) {
            ct_log_error("CITERNE_REDIS_URL: unterminated IPv6 address");
            return CT_ECONFIG;
        }
        hend = rb;
        s++;
        if (rb + 1 < end) {
            if (rb[1] != ':') {
                ct_log_error("CITERNE_REDIS_URL: junk after the IPv6 address");
                return CT_ECONFIG;
            }
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(s, ':', (size_t)(end - s));
        hend = colon ? colon : end;
        if (colon)
            port = colon + 1;
    }
    size_t hlen = (size_t)(hend - s);
    if (hlen == 0 || hlen >= sizeof c->host) {
        ct_log_error("CITERNE_REDIS_URL: missing or too long host");
        return CT_ECONFIG;
    }
    memcpy(c->host, s, hlen);
    c->host[hlen] = '\0';

    c->port = 6379;
    if (port) {
        long n = 0;
        const char *q = port;
        for (; q < end && *q >= '0' && *q <= '9' && n <= 65535; q++)
            n = n * 10 + (*q - '0');
        if (q != end || q == port || n < 1 || n > 65535) {
            ct_log_error("CITERNE_REDIS_URL: port must be a number between 1 and 65535");
            return CT_ECONFIG;
        }
        c->port = (int)n;
    }

    c->db = 0;
    if (*end == '/' && end[1]) {
        char *dend;
        errno = 0;
        long n = strtol(end + 1, &dend, 10);
        if (dend == end + 1 || *dend != '\0' || errno || n < 0 || n > 65535) {
            ct_log_error("CITERNE_REDIS_URL: database must be a number (redis://host:port/0)");
            return CT_ECONFIG;
        }
        c->db = (int)n;
    } else if (*end && strcmp(end, "/") != 0) {
        ct_log_error("CITERNE_REDIS_URL: query and fragment are not supported");
        return CT_ECONFIG;
    }
    return 0;
}

/* ---- connection state ---- */

static void maybe_finish(ct_cache_t *c)
{
    if (!c->closing || c->handles_open > 0 || c->resolving || c->ac)
        return;
    void (*cb)(void *) = c->close_cb;
    void *udata = c->close_udata;
    memset(c->pass, 0, sizeof c->pass);
    free(c);
    if (cb)
        cb(udata);
}

static void on_retry(uv_timer_t *t)
{
    ct_cache_t *c = t->data;
    start_connect(c);
}

static void schedule_retry(ct_cache_t *c)
{
    c->ready = false;
    if (c->closing)
        return;
    uv_timer_start(&c->timer, on_retry, c->backoff_ms, 0);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* Drops the current context on purpose (not from its connect/disconnect
 * callbacks, where hiredis frees it itself). */
static void drop(ct_cache_t *c)
{
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    c->ready = false;
    if (ac)
        redisAsyncFree(ac); /* deferred by hiredis when inside its callback */
}

static void set_ready(ct_cache_t *c)
{
    uv_timer_stop(&c->timer);
    c->ready = true;
    c->backoff_ms = BACKOFF_MIN_MS;
    ct_log_info("redis %s:%d connected", c->host, c->port);
}

static void on_watchdog(uv_timer_t *t)
{
    ct_cache_t *c = t->data;
    if (!c->ac || c->pending.next == &c->pending)
        return;
    pending_t *oldest = c->pending.next; /* replies come in order */
    if (uv_now(c->loop) - oldest->sent < c->command_timeout_ms)
        return;
    ct_log_warn("redis %s:%d: no reply for %u ms, reconnecting", c->host, c->port,
                c->command_timeout_ms);
    drop(c); /* pending callers get CT_EUNAVAIL */
    c->backoff_ms = BACKOFF_MIN_MS;
    schedule_retry(c);
}

static void on_connect_timeout(uv_timer_t *t)
{
    ct_cache_t *c = t->data;
    ct_log_warn("redis %s:%d: no connection after %d ms", c->host, c->port, CONNECT_TIMEOUT_MS);
    drop(c);
    schedule_retry(c);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    ct_cache_t *c = ac->data;
    if (c->ac != ac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees ac after we return */
        ct_log_warn("redis %s:%d: connect failed: %s", c->host, c->port,
                    ac->errstr ? ac->errstr : "unknown error");
        c->ac = NULL;
        schedule_retry(c);
        return;
    }
    if (c->setup_pending == 0)
        set_ready(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    ct_cache_t *c = ac->data;
    if (c->ac != ac)
        return; /* dropped on purpose; whoever did it handles the rest */
    c->ac = NULL;
    c->ready = false;
    ct_log_warn("redis %s:%d: connection lost%s%s", c->host, c->port,
                status == REDIS_OK ? "" : ": ", status == REDIS_OK ? "" : ac->errstr);
    c->backoff_ms = BACKOFF_MIN_MS;
    schedule_retry(c);
}

static void on_setup_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    ct_cache_t *c = privdata;
    redisReply *reply = r;
    if (!reply || c->ac != ac)
        return; /* the connection is going away; its own path retries */
    if (reply->type == REDIS_REPLY_ERROR) {
        ct_log_error("redis %s:%d: connection setup refused: %s", c->host, c->port, reply->str);
        drop(c);
        schedule_retry(c);
        return;
    }
    if (--c->setup_pending == 0 && (ac->c.flags & REDIS_CONNECTED))
        set_ready(c);
}

static void connect_to(ct_cache_t *c, const char *ip)
{
    redisAsyncContext *ac = redisAsyncConnect(ip, c->port);
    if (!ac) {
        ct_log_warn("redis %s:%d: out of memory", c->host, c->port);
        schedule_retry(c);
        return;
    }
    if (ac->err) {
        ct_log_warn("redis %s:%d: connect failed: %s", c->host, c->port, ac->errstr);
        redisAsyncFree(ac);
        schedule_retry(c);
        return;
    }
    if (attach(ac, c->loop) != 0) {
        ct_log_warn("redis %s:%d: cannot poll the socket", c->host, c->port);
        redisAsyncFree(ac);
        schedule_retry(c);
        return;
    }
    /* a peer that vanished without a FIN is noticed (hiredis: 15 s probes) */
    (void)redisEnableKeepAlive(&ac->c);
    ac->data = c;
    c->ac = ac;
    c->setup_pending = 0;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* queued now, so they are the first commands on the wire */
    if (c->pass[0]) {
        int rc = c->user[0]
                     ? redisAsyncCommand(ac, on_setup_reply, c, "AUTH %s %s", c->user, c->pass)
                     : redisAsyncCommand(ac, on_setup_reply, c, "AUTH %s", c->pass);
        if (rc == REDIS_OK)
            c->setup_pending++;
    }
    if (c->db != 0 && redisAsyncCommand(ac, on_setup_reply, c, "SELECT %d", c->db) == REDIS_OK)
        c->setup_pending++;
    uv_timer_start(&c->timer, on_connect_timeout, CONNECT_TIMEOUT_MS, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    ct_cache_t *c = req->data;
    c->resolving = false;
    if (c->closing) {
        if (res)
            uv_freeaddrinfo(res);
        maybe_finish(c);
        return;
    }
    if (status < 0 || !res) {
        ct_log_warn("redis %s:%d: cannot resolve: %s", c->host, c->port, ct_strerror(status));
        if (res)
            uv_freeaddrinfo(res);
        schedule_retry(c);
        return;
    }
    /* IPv4 first: "localhost" often lists ::1 first while Redis listens on
     * 127.0.0.1 only */
    const struct addrinfo *ai = res;
    for (const struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            ai = a;
            break;
        }
    char ip[64] = "";
    if (ai->ai_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, ip, sizeof ip);
    else
        uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, ip, sizeof ip);
    uv_freeaddrinfo(res);
    connect_to(c, ip);
}

static void start_connect(ct_cache_t *c)
{
    if (c->closing || c->ac || c->resolving)
        return;
    unsigned char buf[16];
    if (uv_inet_pton(AF_INET, c->host, buf) == 0 || uv_inet_pton(AF_INET6, c->host, buf) == 0) {
        connect_to(c, c->host);
        return;
    }
    /* hiredis would resolve with a blocking getaddrinfo(): do it off the loop */
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c->gai.data = c;
    int rc = uv_getaddrinfo(c->loop, &c->gai, on_resolved, c->host, NULL, &hints);
    if (rc < 0) {
        ct_log_warn("redis %s:%d: cannot resolve: %s", c->host, c->port, ct_strerror(rc));
        schedule_retry(c);
        return;
    }
    c->resolving = true;
}

/* ---- public ---- */

int ct_cache_new(uv_loop_t *loop, const char *url, ct_cache_t **out)
{
    if (!loop || !out)
        return CT_EINPUT;
    *out = NULL;
    ct_cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    int rc = parse_url(c, url);
    if (rc < 0) {
        free(c);
        return rc;
    }
    c->loop = loop;
    c->backoff_ms = BACKOFF_MIN_MS;
    c->pending.next = c->pending.prev = &c->pending;
    c->command_timeout_ms = COMMAND_TIMEOUT_MS;
    if ((rc = uv_timer_init(loop, &c->timer)) < 0 || (rc = uv_timer_init(loop, &c->watchdog)) < 0) {
        /* timer init cannot fail on Unix; nothing to close if it did */
        free(c);
        return rc;
    }
    c->timer.data = c;
    c->watchdog.data = c;
    c->handles_open = 2;
    uv_timer_start(&c->watchdog, on_watchdog, WATCHDOG_TICK_MS, WATCHDOG_TICK_MS);
    uv_unref((uv_handle_t *)&c->watchdog); /* it alone never keeps the loop running */
    start_connect(c);
    *out = c;
    return 0;
}

bool ct_cache_ready(const ct_cache_t *c)
{
    return c && c->ready && !c->closing && c->ac != NULL;
}

static void unlink_pending(pending_t *p)
{
    p->prev->next = p->next;
    p->next->prev = p->prev;
    p->next = p->prev = p;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    pending_t *p = privdata;
    if (p->cancelled) {
        free(p);
        return;
    }
    ct_cache_t *c = p->c;
    unlink_pending(p);
    int status = 0;
    if (!r) {
        /* the connection is going down: later commands must fail fast */
        c->ready = false;
        status = c->closing ? CT_ECLOSED : CT_EUNAVAIL;
    }
    if (p->cb)
        p->cb(status, r, p->udata);
    free(p);
}

static pending_t *pending_new(ct_cache_t *c, ct_cache_reply_cb cb, void *udata, int *rc)
{
    if (!c) {
        *rc = CT_EINPUT;
        return NULL;
    }
    if (c->closing) {
        *rc = CT_ECLOSED;
        return NULL;
    }
    if (!ct_cache_ready(c)) {
        *rc = CT_EUNAVAIL;
        return NULL;
    }
    pending_t *p = calloc(1, sizeof *p);
    if (!p) {
        *rc = -ENOMEM;
        return NULL;
    }
    p->c = c;
    p->cb = cb;
    p->udata = udata;
    return p;
}

static void pending_link(ct_cache_t *c, pending_t *p)
{
    p->sent = uv_now(c->loop);
    p->next = &c->pending;
    p->prev = c->pending.prev;
    c->pending.prev->next = p;
    c->pending.prev = p;
}

int ct_cache_command(ct_cache_t *c, ct_cache_reply_cb cb, void *udata, const char *fmt, ...)
{
    int rc;
    pending_t *p = pending_new(c, cb, udata, &rc);
    if (!p)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    rc = redisvAsyncCommand(c->ac, on_reply, p, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        free(p);
        return CT_EUNAVAIL;
    }
    pending_link(c, p);
    return 0;
}

int ct_cache_command_argv(ct_cache_t *c, ct_cache_reply_cb cb, void *udata, int argc,
                          const char **argv, const size_t *argvlen)
{
    if (argc <= 0 || !argv)
        return CT_EINPUT;
    int rc;
    pending_t *p = pending_new(c, cb, udata, &rc);
    if (!p)
        return rc;
    rc = redisAsyncCommandArgv(c->ac, on_reply, p, argc, argv, argvlen);
    if (rc != REDIS_OK) {
        free(p);
        return CT_EUNAVAIL;
    }
    pending_link(c, p);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    ct_cache_t *c = h->data;
    c->handles_open--;
    maybe_finish(c);
}

void ct__cache_set_command_timeout(ct_cache_t *c, unsigned ms)
{
    c->command_timeout_ms = ms;
}

void ct_cache_close(ct_cache_t *c, void (*cb)(void *udata), void *udata)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    c->ready = false;
    c->close_cb = cb;
    c->close_udata = udata;
    /* Callers hear of their commands now; the records stay for hiredis,
     * which calls on_reply once more (NULL reply) and frees them there. */
    while (c->pending.next != &c->pending) {
        pending_t *p = c->pending.next;
        unlink_pending(p);
        p->cancelled = true;
        if (p->cb)
            p->cb(CT_ECLOSED, NULL, p->udata);
    }
    drop(c);
    if (c->resolving)
        uv_cancel((uv_req_t *)&c->gai);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    uv_close((uv_handle_t *)&c->watchdog, on_timer_closed);
}
