/* Kafka on the loop (librdkafka). No thread of ours blocks on Kafka:
 * librdkafka's queues signal an fd (rd_kafka_queue_io_event_enable) that a
 * uv_poll watches; the loop then polls the queue with a zero timeout.
 *
 * Producer: idempotent (enable.idempotence=true, acks=all). A message counts
 * as published only when its delivery report says so.
 *
 * Consumer: a consumer group member, auto.offset.reset=earliest, offsets
 * stored by us only (enable.auto.offset.store=false) after the handler says
 * it is done; stored offsets are committed by librdkafka in the background
 * and at close. One message is handled at a time per consumer, in order, so
 * a stored offset never skips an unfinished message.
 *
 * Threads: every function here is called on the loop thread, and every
 * callback runs on it. Extra librdkafka properties (TLS, SASL, tuning) come
 * from CITERNE_KAFKA_CONF (all clients), CITERNE_KAFKA_PRODUCER_CONF and
 * CITERNE_KAFKA_CONSUMER_CONF: "name=value;name=value".
 * Metrics: citerne_bus_produced_total, citerne_bus_produce_failed_total,
 * citerne_bus_consumed_total{topic="..."}. */
#ifndef CITERNE_BUS_H
#define CITERNE_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* ---- producer ---- */
typedef struct ct_bus_producer ct_bus_producer_t;
/* status 0 when the broker persisted the message, CT_EBUS otherwise. */
typedef void (*ct_bus_delivery_cb)(int status, void *opaque);

/* Creates an idempotent producer for brokers ("host:port,...") in *out.
 * Returns 0, CT_ECONFIG for a bad setting, CT_EBUS if the client cannot be
 * created, or -errno. Connects in the background: produce at once. */
int ct_bus_producer_new(uv_loop_t *loop, const char *brokers, const char *client_id,
                        ct_bus_producer_t **out);
/* Copies key and payload (key may be NULL with keylen 0). Fails now
 * (CT_EBUS, CT_ECLOSED, -ENOMEM) or calls cb once on the loop, even when
 * the producer is closed before the report (then with CT_EBUS). */
int ct_bus_produce(ct_bus_producer_t *p, const char *topic, const void *key, size_t keylen,
                   const void *payload, size_t len, ct_bus_delivery_cb cb, void *opaque);
/* Messages produced and not yet reported. */
size_t ct_bus_producer_outq(const ct_bus_producer_t *p);
/* The client knows a broker of the cluster (non-blocking check): a broker
 * connection was up at the last statistics (every 5 s), or before the
 * first ones, a broker answered metadata. False after a fatal error. */
bool ct_bus_producer_ready(const ct_bus_producer_t *p);
/* Waits (on the loop) up to timeout_ms for outstanding reports, then
 * destroys the client, frees p and calls cb(udata). Messages still
 * unreported then are purged and reported with CT_EBUS. Produce fails with
 * CT_ECLOSED from this call on. Call once. */
void ct_bus_producer_close(ct_bus_producer_t *p, unsigned timeout_ms, void (*cb)(void *udata),
                           void *udata);

/* ---- consumer ---- */
typedef struct ct_bus_consumer ct_bus_consumer_t;
typedef struct ct_bus_msg ct_bus_msg_t;
/* Called on the loop for each message; the handler must call
 * ct_bus_msg_done exactly once, now or later. */
typedef void (*ct_bus_msg_cb)(ct_bus_msg_t *msg, void *udata);

/* Joins group (also the client id) and subscribes to topics (copied);
 * messages go to cb(msg, udata) on the loop, one at a time. Returns 0,
 * CT_ECONFIG (bad setting, no topic), CT_EBUS or -errno. */
int ct_bus_consumer_new(uv_loop_t *loop, const char *brokers, const char *group,
                        const char *const *topics, size_t ntopics, ct_bus_msg_cb cb, void *udata,
                        ct_bus_consumer_t **out);
/* status 0: the message is handled (or deliberately skipped): its offset is
 * stored and the next message follows. status < 0: a transient failure; the
 * same message is handed again after a backoff (doubling from 100 ms to 5 s),
 * unless the consumer closes or the partition moves to another member
 * meanwhile (then it is dropped unstored: whoever reads the partition next
 * gets it again). */
void ct_bus_msg_done(ct_bus_msg_t *msg, int status);
/* Accessors, valid until ct_bus_msg_done: the bytes are borrowed. */
const void *ct_bus_msg_payload(const ct_bus_msg_t *msg, size_t *len);
const void *ct_bus_msg_key(const ct_bus_msg_t *msg, size_t *len);
const char *ct_bus_msg_topic(const ct_bus_msg_t *msg);
int32_t ct_bus_msg_partition(const ct_bus_msg_t *msg);
int64_t ct_bus_msg_offset(const ct_bus_msg_t *msg);
/* Group membership is up (an assignment was received and not lost). */
bool ct_bus_consumer_ready(const ct_bus_consumer_t *c);
/* Stops fetching, waits for the message in hand, commits stored offsets,
 * leaves the group (rd_kafka_consumer_close_queue, polled on the loop), then
 * frees c and calls cb(udata). A message waiting for its backoff is dropped
 * unstored. Calling it again while the close is under way adds cb to those
 * called at the end (up to 4 in all). */
void ct_bus_consumer_close(ct_bus_consumer_t *c, void (*cb)(void *udata), void *udata);

/* Topic of a service: "citerne.<service>.v1" into out; returns out, or
 * NULL when it does not fit in outlen. */
const char *ct_bus_topic(const char *service, char *out, size_t outlen);

#endif
