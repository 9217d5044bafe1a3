/* HTTP requests: their arena, lifetime and in-flight list, the decoding of
 * targets, queries and cookies, the accessors handlers use, and the fake
 * requests of tests. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "http_internal.h"
#include "http_private.h"

#define ARENA_CHUNK 4096u

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

char *ct__http_strndup(ct_http_req_t *req, const char *s, size_t n)
{
    char *p = ct_http_alloc(req, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *ct_http_strdup(ct_http_req_t *req, const char *s)
{
    return s ? ct__http_strndup(req, s, strlen(s)) : NULL;
}

void ct__http_kvs_add(ct_http_req_t *req, kvs_t *l, const char *name, const char *value)
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

ct_http_req_t *ct__http_req_new(ct_http_server_t *srv, conn_t *conn)
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

void ct__http_req_free(ct_http_req_t *req)
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

void ct__http_inflight_link(ct_http_req_t *req)
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

void ct__http_inflight_unlink(ct_http_req_t *req)
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

char *ct__http_pct_decode(ct_http_req_t *req, const char *s, size_t n, bool plus_space)
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

int ct__http_parse_query(ct_http_req_t *req)
{
    const char *s = req->query_raw;
    if (!s)
        return 0;
    while (*s) {
        size_t n = strcspn(s, "&");
        if (n > 0) {
            const char *eq = memchr(s, '=', n);
            size_t kn = eq ? (size_t)(eq - s) : n;
            char *k = ct__http_pct_decode(req, s, kn, true);
            char *v =
                eq ? ct__http_pct_decode(req, eq + 1, n - kn - 1, true) : ct_http_strdup(req, "");
            if (!k || !v)
                return -1;
            ct__http_kvs_add(req, &req->query, k, v);
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
                    ct__http_kvs_add(req, &req->cookies, ct__http_strndup(req, s, kn),
                                     ct__http_strndup(req, v, vn));
            }
            s += n;
        }
    }
}

bool ct__http_split_target(ct_http_req_t *req)
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
    req->path = ct__http_strndup(req, t, pn);
    if (t[pn] == '?')
        req->query_raw = ct__http_strndup(req, t + pn + 1, end - pn - 1);
    return true;
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

ct_http_req_t *ct__http_req_fake(const char *method, const char *path, const char *content_type,
                                 const void *body, size_t len)
{
    ct_http_req_t *req = ct__http_req_new(NULL, NULL);
    req->method = ct_http_strdup(req, method ? method : "GET");
    req->target = ct_http_strdup(req, path ? path : "/");
    if (!ct__http_split_target(req))
        req->path = req->target;
    req->http_major = 1;
    req->http_minor = 1;
    req->dispatched = true;
    ct_uuid_v7(req->request_id);
    snprintf(req->peer, sizeof req->peer, "test");
    if (content_type)
        ct__http_kvs_add(req, &req->headers, "Content-Type", ct_http_strdup(req, content_type));
    if (body && len) {
        req->body = xmalloc(len + 1);
        memcpy(req->body, body, len);
        req->body[len] = '\0';
        req->body_len = len;
        req->body_cap = len + 1;
    }
    (void)ct__http_parse_query(req);
    return req;
}

void ct__http_req_fake_header(ct_http_req_t *req, const char *name, const char *value)
{
    ct__http_kvs_add(req, &req->headers, ct_http_strdup(req, name), ct_http_strdup(req, value));
}
