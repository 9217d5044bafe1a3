/* Events of orders: protobuf <-> domain, and the handlers of consumed events.
 *
 * Consumed: citerne.accounts.v1 (CustomerCreated/Updated, ContractCreated/
 * Updated, SiteCreated/Updated feed the read models, an update only over an
 * older version; a site's certificate releases its held order; other kinds
 * are acknowledged with no effect) and citerne.telemetry.v1
 * (TankThresholdCrossed opens an order).
 * Emitted on citerne.orders.v1, keyed by site id: OrderProposed,
 * DeliveryScheduled, DeliveryConfirmed, OrderHeld. */
#ifndef ORDERS_EVENTS_H
#define ORDERS_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "citerne/db.h"
#include "citerne/event.h"

#include "app.h"
#include "order.h"

typedef enum {
    ORDERS_EVENT_PROPOSED,  /* OrderProposed */
    ORDERS_EVENT_SCHEDULED, /* DeliveryScheduled */
    ORDERS_EVENT_CONFIRMED, /* DeliveryConfirmed */
    ORDERS_EVENT_HELD,      /* OrderHeld: waits for the site's certificate of conformity */
} orders_event_kind_t;

/* An emitted event, packed. meta points into itself: never copy by value. */
typedef struct {
    ct_event_meta_t meta;
    uint8_t *payload; /* malloc'ed */
    size_t len;
} orders_packed_t;

/* Packs the event `kind` about o into out, with a new meta caused by cause
 * (NULL: a new chain). Returns 0, or -ENOMEM (out then holds nothing).
 * Release with orders_packed_dispose. */
int orders_pack(orders_event_kind_t kind, const orders_order_t *o,
                const Citerne__V1__EventMeta *cause, orders_packed_t *out);
void orders_packed_dispose(orders_packed_t *p);

/* A meta naming o's last event and chain, to cause the next event of o. Its
 * strings point into o. */
void orders_order_cause(const orders_order_t *o, Citerne__V1__EventMeta *cause);

/* Counts one order held for its site's certificate of conformity
 * (citerne_orders_held_total), once its transaction committed. */
void orders_count_held(void);

/* ---- consumed events ---- */

typedef struct orders_event orders_event_t;

/* Decodes and validates a record of topic. Returns 0 with *out (release with
 * orders_event_free), CT_EDECODE (not a protobuf of the topic, bad meta, or
 * an unknown topic) or CT_EINPUT (a field out of range); *why then says
 * what, for the log. */
int orders_event_decode(orders_app_t *app, const char *topic, const void *data, size_t len,
                        orders_event_t **out, const char **why);
/* The event id of ev (from its meta). */
const char *orders_event_id(const orders_event_t *ev);
/* The correlation id of ev, for logs. */
const char *orders_event_cid(const orders_event_t *ev);
/* Applies ev in tx and ends tx (commit, or rollback with CT_EUNAVAIL to be
 * handed again later): a ct_inbox_apply_cb whose udata is the
 * orders_event_t. */
void orders_event_apply(ct_db_tx_t *tx, void *ev);
void orders_event_free(orders_event_t *ev);

#endif
