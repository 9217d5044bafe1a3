/* Event envelope helpers (proto/citerne/v1/meta.proto). */
#ifndef CITERNE_EVENT_H
#define CITERNE_EVENT_H

#include <stdint.h>
#include "citerne/id.h"
#include "citerne/v1/meta.pb-c.h"

/* Storage for the strings of a meta built by ct_event_meta_init. */
typedef struct {
    Citerne__V1__EventMeta meta;
    char event_id[CT_UUID_STRLEN + 1];
    char correlation_id[CT_UUID_STRLEN + 1];
    char causation_id[CT_UUID_STRLEN + 1];
    char producer[32];
} ct_event_meta_t;

/* Fills m with a new UUIDv7 event id, now, producer; when cause is given
 * (the consumed event's meta), copies its correlation id and sets causation
 * to its event id; otherwise the event starts a chain (correlation = own id).
 * m->meta points into m: do not copy m by value. */
void ct_event_meta_init(ct_event_meta_t *m, const char *producer,
                        const Citerne__V1__EventMeta *cause);
/* Validates a consumed meta: event_id and correlation_id are UUIDs. */
int ct_event_meta_check(const Citerne__V1__EventMeta *meta);

#endif
