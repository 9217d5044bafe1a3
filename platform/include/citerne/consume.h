/* Consumed records a service skips on purpose, the same way in every
 * service: a line at warn (or error for an orphan) with the topic,
 * partition and offset or the event id, one labelled counter per reason,
 * and the offset stored so the partition moves on.
 *
 * Metrics (one series per topic):
 *   citerne_events_undecodable_total{topic="..."}  CT_SKIP_UNDECODABLE
 *   citerne_events_invalid_total{topic="..."}      CT_SKIP_INVALID
 *   citerne_events_orphaned_total{topic="..."}     CT_SKIP_ORPHANED
 * Loop thread only (metrics and the bus are). */
#ifndef CITERNE_CONSUME_H
#define CITERNE_CONSUME_H

#include <stdbool.h>
#include <stdint.h>

#include "citerne/bus.h"
#include "citerne/db.h"

typedef enum {
    CT_SKIP_UNDECODABLE, /* the bytes do not decode, or the meta is unusable */
    CT_SKIP_INVALID,     /* decodes, but a field is out of range or inconsistent */
    CT_SKIP_ORPHANED,    /* refers to what the read model never received */
} ct_skip_reason_t;

/* An event whose read model is incomplete (topics are not ordered together)
 * is retried while its occurred_at is younger than this, then skipped. */
#define CT_CONSUME_ORPHAN_WINDOW_MS (10 * 60 * 1000)

/* "undecodable", "invalid" or "orphaned". */
const char *ct_skip_reason_name(ct_skip_reason_t why);

/* Counts one skipped record of topic (NULL counts as "") under the reason's
 * counter. For records skipped inside a transaction (the inbox then records
 * their id); ct_consume_skip and ct_consume_orphan count for themselves. */
void ct_consume_count(ct_skip_reason_t why, const char *topic);

/* Skips msg for good: logs at warn "<reason> record on <topic> [<partition>]
 * at offset <offset> skipped: <detail>" (cid, the correlation id, may be
 * NULL), counts it, then ct_bus_msg_done(msg, 0). msg is gone on return. */
void ct_consume_skip(ct_bus_msg_t *msg, ct_skip_reason_t why, const char *cid, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* True while an event that occurred at occurred_at_ms (Unix ms) is young
 * enough for its missing read model to be worth waiting for (now_ms -
 * occurred_at_ms < CT_CONSUME_ORPHAN_WINDOW_MS; a future occurred_at too). */
bool ct_consume_orphan_retry(int64_t occurred_at_ms, int64_t now_ms);

/* Ends tx of an event (event_id of topic, correlation id cid) whose read
 * model lacks `missing` ("site 0190...", "customer"): while
 * ct_consume_orphan_retry holds, rolls back with CT_EUNAVAIL (the bus hands
 * the message again with backoff) and returns true; after, logs at error,
 * counts it orphaned, commits (the inbox keeps the id: skipped for good)
 * and returns false. */
bool ct_consume_orphan(ct_db_tx_t *tx, const char *topic, const char *cid, const char *event_id,
                       int64_t occurred_at_ms, int64_t now_ms, const char *missing);

#endif
