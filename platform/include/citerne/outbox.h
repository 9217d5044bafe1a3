/* Transactional outbox. ct_outbox_append inserts an event into ct_outbox in
 * the caller's transaction and NOTIFYs the relay (delivered at commit). The
 * relay, woken by LISTEN/NOTIFY (and a periodic sweep), reads unsent rows in id
 * order, produces them with their key, and marks a row sent only when its
 * delivery report says the broker persisted it; failed rows are retried with
 * backoff, in order. One relay per database is active at a time (advisory
 * lock held by its LISTEN connection), so order per key holds across replicas. */
#ifndef CITERNE_OUTBOX_H
#define CITERNE_OUTBOX_H

#include <stddef.h>
#include <uv.h>
#include "citerne/bus.h"
#include "citerne/db.h"

/* Appends (topic, key, payload) inside tx, then calls next(tx, res, udata). */
void ct_outbox_append(ct_db_tx_t *tx, const char *topic, const char *key, const void *payload,
                      size_t len, const char *event_id, ct_db_tx_cb next);

typedef struct ct_outbox_relay ct_outbox_relay_t;
int ct_outbox_relay_new(uv_loop_t *loop, const char *conninfo, ct_db_t *db,
                        ct_bus_producer_t *producer, ct_outbox_relay_t **out);
/* Rows not yet sent as last seen by the relay (for /metrics and tests). */
long ct_outbox_relay_backlog(const ct_outbox_relay_t *r);
/* Stops after the batch in flight is reported and marked; then cb(udata). */
void ct_outbox_relay_close(ct_outbox_relay_t *r, void (*cb)(void *udata), void *udata);

#endif
