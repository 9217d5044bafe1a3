/* /healthz (the process is alive and its loop turns), /readyz (each
 * registered dependency check passes: 200 or 503 with the failing names) and
 * /metrics on a service's HTTP server. */
#ifndef CITERNE_HEALTH_H
#define CITERNE_HEALTH_H

#include <stdbool.h>
#include "citerne/http.h"

typedef bool (*ct_health_check_fn)(void *udata);
typedef struct ct_health ct_health_t;

/* Registers GET /healthz (200 {"status":"ok"}), GET /readyz (200
 * {"status":"ready","checks":{name:"ok"}}, or 503 application/problem+json with
 * "checks", "failing" and "detail"; "detail":"draining" once draining) and
 * GET /metrics (ct_metrics_render, text/plain; version=0.0.4) on srv.
 * Returns 0, CT_EINPUT or the router's error. Loop thread. */
int ct_health_new(ct_http_server_t *srv, ct_health_t **out);
/* Adds a readiness check: fn(udata) runs on the loop thread at each /readyz
 * and must answer at once from state already known (no I/O). name is copied
 * (under 32 bytes); at most 8 checks; CT_EINPUT otherwise. */
int ct_health_add_check(ct_health_t *h, const char *name, ct_health_check_fn fn, void *udata);
/* After this, /readyz answers 503 "draining" (graceful shutdown). */
void ct_health_set_draining(ct_health_t *h);
/* Frees h. The routes still point at it: call after the server is closed. */
void ct_health_free(ct_health_t *h);

#endif
