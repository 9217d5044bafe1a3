/* Probes and metrics on the service's own HTTP server. Checks are plain
 * functions answering from state the service already keeps (connection up,
 * consumer assigned): a probe never waits on I/O. */
#include "citerne/health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/metrics.h"

#define MAX_CHECKS 8

typedef struct {
    char name[32];
    ct_health_check_fn fn;
    void *udata;
} check_t;

struct ct_health {
    ct_http_server_t *srv;
    check_t checks[MAX_CHECKS];
    size_t nchecks;
    bool draining;
};

/* The body is copied into the request's memory, so it lives as long as the
 * reply needs it whatever the server does with the pointer. */
static void reply_text(ct_http_req_t *req, int status, const char *type, const char *body,
                       size_t len)
{
    char *copy = ct_http_alloc(req, len + 1);
    memcpy(copy, body, len);
    copy[len] = '\0';
    ct_http_add_header(req, "Cache-Control", "no-store");
    ct_http_reply(req, status, type, copy, len);
}

static void reply_json(ct_http_req_t *req, int status, const char *type, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (!s) {
        ct_http_reply_error(req, CT_EINTERNAL, NULL);
        return;
    }
    reply_text(req, status, type, s, strlen(s));
    free(s);
}

static void on_healthz(ct_http_req_t *req, void *udata)
{
    (void)udata;
    reply_json(req, 200, "application/json", json_pack("{s:s}", "status", "ok"));
}

static void on_readyz(ct_http_req_t *req, void *udata)
{
    ct_health_t *h = udata;
    if (h->draining) {
        reply_json(req, 503, "application/problem+json",
                   json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", "/problems/closed", "title",
                             "not ready", "status", 503, "detail", "draining", "state",
                             "draining"));
        return;
    }
    json_t *checks = json_object();
    json_t *failing = json_array();
    for (size_t i = 0; i < h->nchecks; i++) {
        bool ok = h->checks[i].fn(h->checks[i].udata);
        json_object_set_new(checks, h->checks[i].name, json_string(ok ? "ok" : "fail"));
        if (!ok)
            json_array_append_new(failing, json_string(h->checks[i].name));
    }
    if (json_array_size(failing) == 0) {
        json_decref(failing);
        reply_json(req, 200, "application/json",
                   json_pack("{s:s, s:o}", "status", "ready", "checks", checks));
        return;
    }
    char detail[400] = "failing checks:";
    size_t i;
    json_t *name;
    json_array_foreach(failing, i, name)
    {
        size_t len = strlen(detail);
        snprintf(detail + len, sizeof detail - len, "%s %s", i ? "," : "", json_string_value(name));
    }
    reply_json(req, 503, "application/problem+json",
               json_pack("{s:s, s:s, s:i, s:s, s:s, s:o, s:o}", "type", "/problems/unavailable",
                         "title", "not ready", "status", 503, "detail", detail, "state",
                         "not-ready", "checks", checks, "failing", failing));
}

static void on_metrics(ct_http_req_t *req, void *udata)
{
    (void)udata;
    size_t len = 0;
    char *text = ct_metrics_render(&len);
    if (!text) {
        ct_http_reply_error(req, CT_EINTERNAL, "cannot render metrics");
        return;
    }
    reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

int ct_health_new(ct_http_server_t *srv, ct_health_t **out)
{
    if (!srv || !out)
        return CT_EINPUT;
    *out = NULL;
    ct_health_t *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->srv = srv;
    int rc = ct_http_route(srv, "GET", "/healthz", on_healthz, h);
    if (rc < 0) {
        ct_log_error("health: cannot register the probes: %s", ct_strerror(rc));
        free(h);
        return rc;
    }
    if ((rc = ct_http_route(srv, "GET", "/readyz", on_readyz, h)) < 0 ||
        (rc = ct_http_route(srv, "GET", "/metrics", on_metrics, h)) < 0) {
        /* routes already added point at h: keep it rather than dangle them */
        ct_log_error("health: cannot register the probes: %s", ct_strerror(rc));
        return rc;
    }
    *out = h;
    return 0;
}

int ct_health_add_check(ct_health_t *h, const char *name, ct_health_check_fn fn, void *udata)
{
    if (!h || !name || !*name || !fn)
        return CT_EINPUT;
    if (h->nchecks >= MAX_CHECKS)
        return CT_EINPUT;
    if (strlen(name) >= sizeof h->checks[0].name)
        return CT_EINPUT;
    check_t *c = &h->checks[h->nchecks++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->fn = fn;
    c->udata = udata;
    return 0;
}

void ct_health_set_draining(ct_health_t *h)
{
    if (h)
        h->draining = true;
}

void ct_health_free(ct_health_t *h)
{
    free(h);
}
