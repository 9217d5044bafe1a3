/* /healthz (the process is alive and its loop turns), /readyz (each
 * registered dependency check passes: 200 or 503 with the failing names) and
 * /metrics on a service's HTTP server. */
#ifndef CITERNE_HEALTH_H
#define CITERNE_HEALTH_H

#include <stdbool.h>
#include "citerne/http.h"

typedef bool (*ct_health_check_fn)(void *udata);
typedef struct ct_health ct_health_t;

int ct_health_new(ct_http_server_t *srv, ct_health_t **out);
/* name is copied; at most 8 checks. */
int ct_health_add_check(ct_health_t *h, const char *name, ct_health_check_fn fn, void *udata);
/* After this, /readyz answers 503 "draining" (graceful shutdown). */
void ct_health_set_draining(ct_health_t *h);
void ct_health_free(ct_health_t *h);

#endif
