/* TankThresholdCrossed, the event telemetry emits, built from domain values
 * for the outbox (by a batch of readings or by a site's new threshold). */
#ifndef TELEMETRY_CROSSING_H
#define TELEMETRY_CROSSING_H

#include <stdint.h>

#include "citerne/event.h"
#include "citerne/v1/telemetry.pb-c.h"

/* What a crossing says; strings are borrowed. */
typedef struct {
    const char *site_id;
    const char *customer_id;
    int capacity_kg;
    int threshold_pct;
    int level_pct;       /* the reading that is below the threshold */
    int64_t measured_ms; /* its measured_at */
    const char *source;  /* its source */
} telemetry_crossing_t;

/* The message, ready for citerne__v1__telemetry_event__get_packed_size and
 * __pack on &ev; its event id is meta.event_id. It points into itself and
 * into the crossing's strings: do not copy it by value, and keep the
 * crossing's strings until it is packed. */
typedef struct {
    ct_event_meta_t meta;
    Citerne__V1__TankThresholdCrossed body;
    Citerne__V1__TelemetryEvent ev;
} telemetry_crossing_msg_t;

/* Fills m from c. cause is the consumed event that caused the crossing (its
 * correlation id is kept, it is the causation), or NULL for a reading: the
 * crossing then starts a chain of its own. */
void telemetry_crossing_init(telemetry_crossing_msg_t *m, const telemetry_crossing_t *c,
                             const Citerne__V1__EventMeta *cause);

#endif
