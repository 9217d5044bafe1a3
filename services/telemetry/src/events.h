/* Consumed events of telemetry: accounts' SiteCreated and SiteUpdated feed
 * the sites read model (a new threshold may open an episode at once); every
 * other accounts event is acknowledged with no effect. */
#ifndef TELEMETRY_EVENTS_H
#define TELEMETRY_EVENTS_H

#include <stddef.h>

#include "citerne/db.h"

#include "app.h"

typedef struct telemetry_event telemetry_event_t;

/* Decodes and validates a record of citerne.accounts.v1. out_topic is
 * telemetry's own topic (borrowed, kept by *out): where a crossing the event
 * causes is appended. Returns 0 with *out (release with
 * telemetry_event_free), CT_EDECODE (not an AccountsEvent, or a meta without
 * valid ids), CT_EINPUT (a SiteCreated or SiteUpdated field out of range, a
 * SiteUpdated version under 2) or -ENOMEM; *why then says what, for the log. */
int telemetry_event_decode(const void *data, size_t len, const char *out_topic,
                           telemetry_event_t **out, const char **why);
/* The event id of ev (from its meta). */
const char *telemetry_event_id(const telemetry_event_t *ev);
/* Applies ev in tx and ends tx (commit; rollback with CT_EUNAVAIL when out
 * of memory): a ct_inbox_apply_cb whose udata is the telemetry_event_t. A
 * site event applies only over an older version (a SiteCreated also over
 * version 1), adds an unknown site, and appends TankThresholdCrossed to the
 * outbox when the new threshold opens an episode. */
void telemetry_event_apply(ct_db_tx_t *tx, void *ev);
void telemetry_event_free(telemetry_event_t *ev);

#endif
