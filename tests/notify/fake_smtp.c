/* A tiny SMTP server for tests (see fake_smtp.h). */
#define _GNU_SOURCE
#include "fake_smtp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

typedef struct {
    uv_tcp_t tcp;
    fake_smtp_t *s;
    char *in;
    size_t len, cap;
    bool data; /* inside DATA */
    char envelope[512];
} conn_t;

typedef struct {
    uv_write_t req;
    char *text;
} wr_t;

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    wr_t *w = (wr_t *)req;
    free(w->text);
    free(w);
}

static void say(conn_t *c, const char *text)
{
    wr_t *w = calloc(1, sizeof *w);
    w->text = strdup(text);
    uv_buf_t b = uv_buf_init(w->text, (unsigned)strlen(w->text));
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(w->text);
        free(w);
    }
}

static void on_conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    c->s->open--;
    free(c->in);
    free(c);
}

static void conn_close(conn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* Handles complete lines (or the whole DATA block) at the start of c->in;
 * returns false when it needs more input. */
static bool step(conn_t *c)
{
    if (c->data) {
        char *end = memmem(c->in, c->len, "\r\n.\r\n", 5);
        if (!end)
            return false;
        size_t n = (size_t)(end - c->in) + 2;
        fake_smtp_t *s = c->s;
        if (s->nmessages < FAKE_SMTP_MAX) {
            s->messages[s->nmessages] = strndup(c->in, n);
            s->envelope[s->nmessages] = strdup(c->envelope);
            s->nmessages++;
        }
        memmove(c->in, end + 5, c->len - n - 3);
        c->len -= n + 3;
        c->data = false;
        c->envelope[0] = '\0';
        say(c, "250 2.0.0 queued\r\n");
        return true;
    }
    char *eol = memmem(c->in, c->len, "\r\n", 2);
    if (!eol)
        return false;
    *eol = '\0';
    char line[512];
    snprintf(line, sizeof line, "%s", c->in);
    size_t n = (size_t)(eol - c->in) + 2;
    memmove(c->in, c->in + n, c->len - n);
    c->len -= n;
    if (strncasecmp(line, "EHLO", 4) == 0) {
        say(c, "250-fake.test\r\n250 8BITMIME\r\n");
    } else if (strncasecmp(line, "HELO", 4) == 0 || strncasecmp(line, "RSET", 4) == 0 ||
               strncasecmp(line, "NOOP", 4) == 0) {
        say(c, "250 ok\r\n");
    } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
        snprintf(c->envelope, sizeof c->envelope, "%s", line);
        say(c, "250 ok\r\n");
    } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
        size_t used = strlen(c->envelope);
        snprintf(c->envelope + used, sizeof c->envelope - used, " %s", line);
        char reply[64];
        int code = c->s->rcpt_reply ? c->s->rcpt_reply : 250;
        if (strstr(line, "refuse"))
            code = 550; /* a mailbox that does not exist */
        if (strstr(line, "mute")) {
            c->s->muted++; /* a server that stops answering */
            return true;
        }
        snprintf(reply, sizeof reply, "%d %s\r\n", code, code < 300 ? "ok" : "refused");
        say(c, reply);
    } else if (strncasecmp(line, "DATA", 4) == 0) {
        c->data = true;
        say(c, "354 go ahead\r\n");
    } else if (strncasecmp(line, "QUIT", 4) == 0) {
        say(c, "221 bye\r\n");
        conn_close(c);
        return false;
    } else {
        say(c, "502 not implemented\r\n");
    }
    return true;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;
    if (c->cap - c->len < suggested) {
        c->cap = c->len + suggested;
        c->in = realloc(c->in, c->cap + 1);
    }
    *buf = uv_buf_init(c->in + c->len, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    conn_t *c = st->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    while (!uv_is_closing((uv_handle_t *)&c->tcp) && step(c))
        ;
}

static void on_connection(uv_stream_t *server, int status)
{
    fake_smtp_t *s = server->data;
    if (status < 0)
        return;
    conn_t *c = calloc(1, sizeof *c);
    c->s = s;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    s->open++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    say(c, "220 fake.test ESMTP\r\n");
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void fake_smtp_start(fake_smtp_t *s, uv_loop_t *loop)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(uv_tcp_init(loop, &s->server), 0);
    s->server.data = s;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    assert_int_equal(uv_tcp_bind(&s->server, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->server, 16, on_connection), 0);
    struct sockaddr_storage name;
    int len = sizeof name;
    uv_tcp_getsockname(&s->server, (struct sockaddr *)&name, &len);
    s->port = ntohs(((struct sockaddr_in *)&name)->sin_port);
}

void fake_smtp_stop(fake_smtp_t *s)
{
    uv_close((uv_handle_t *)&s->server, NULL);
    for (int i = 0; i < s->nmessages; i++) {
        free(s->messages[i]);
        free(s->envelope[i]);
    }
    s->nmessages = 0;
}
