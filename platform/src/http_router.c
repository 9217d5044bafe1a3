/* HTTP routes: registration, and the choice of a handler for a request
 * (path parameters decoded, 404 or 405 with Allow when none fits). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "http_private.h"

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

void ct__http_route_request(ct_http_req_t *req)
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
        char *value = ct__http_pct_decode(req, segs[i], strlen(segs[i]), false);
        if (!value) {
            ct_http_reply_problem(req, 400, "malformed-request", "the request could not be parsed",
                                  "malformed percent-encoding in the path");
            return;
        }
        ct__http_kvs_add(req, &req->params, ct__http_strndup(req, name + 1, strlen(name) - 2),
                         value);
    }
    if (ct__http_parse_query(req) != 0) {
        ct_http_reply_problem(req, 400, "malformed-request", "the request could not be parsed",
                              "malformed percent-encoding in the query string");
        return;
    }
    req->route = found->text;
    found->cb(req, found->udata);
}

void ct__http_routes_free(ct_http_server_t *srv)
{
    route_t *r = srv->routes;
    while (r) {
        route_t *next = r->next;
        free_route(r);
        r = next;
    }
    srv->routes = srv->routes_tail = NULL;
}
