/* Consumed events of telemetry: accounts' SiteCreated feeds the sites read
 * model; every other accounts event is acknowledged with no effect. */
#ifndef TELEMETRY_EVENTS_H
#define TELEMETRY_EVENTS_H

#include <stddef.h>

#include "citerne/db.h"

#include "app.h"

typedef struct telemetry_event telemetry_event_t;

/* Decodes and validates a record of citerne.accounts.v1. Returns 0 with
 * *out (release with telemetry_event_free), CT_EDECODE (not an AccountsEvent,
 * or a meta without valid ids), CT_EINPUT (a SiteCreated field out of range)
 * or -ENOMEM; *why then says what, for the log. */
int telemetry_event_decode(const void *data, size_t len, telemetry_event_t **out, const char **why);
/* The event id of ev (from its meta). */
const char *telemetry_event_id(const telemetry_event_t *ev);
/* Applies ev in tx and commits: a ct_inbox_apply_cb whose udata is the
 * telemetry_event_t. */
void telemetry_event_apply(ct_db_tx_t *tx, void *ev);
void telemetry_event_free(telemetry_event_t *ev);

#endif
