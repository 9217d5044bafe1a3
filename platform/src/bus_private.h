/* Internals shared by the files of the Kafka bus, not part of its API:
 *   bus.c            pipes, librdkafka configuration and logs, client errors
 *                    and destruction, topic names
 *   bus_producer.c   the producer and its delivery reports
 *   bus_consumer.c   the consumer: creation, wake-ups, leaving the group
 *   bus_rebalance.c  assignment and revocation of partitions
 *   bus_msg.c        the message in hand: next, hand, retry, done, accessors
 * How the loop is woken for librdkafka's queues is described in bus.c.
 * Loop thread only. */
#ifndef CITERNE_BUS_PRIVATE_H
#define CITERNE_BUS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "citerne/bus.h"
#include "citerne/metrics.h"

/* Messages (or errors) taken from a queue in one loop turn before yielding. */
#define SERVE_BATCH 64
#define CLOSE_TICK_MS 10u

typedef enum {
    C_RUNNING,
    C_CLOSE_WAIT_MSG, /* close asked, the handler still has the message */
    C_CLOSE_GROUP,    /* leaving the group: serving the close queue */
    C_CLOSE_HANDLES,  /* uv handles closing, then rd_kafka_destroy */
} consumer_state_t;

struct ct_bus_msg {
    ct_bus_consumer_t *c;
    rd_kafka_message_t *rkm;
};

/* Messages taken from the consumer queue while one was in hand (only if a
 * partition's fetch queue was not forwarded to mq): kept in order. */
typedef struct stash {
    struct stash *next;
    rd_kafka_message_t *rkm;
} stash_t;

typedef struct {
    void (*cb)(void *udata);
    void *udata;
} closer_t;

struct ct_bus_consumer {
    uv_loop_t *loop;
    rd_kafka_t *rk;
    rd_kafka_queue_t *cq;     /* consumer group queue: rebalances, errors, logs */
    rd_kafka_queue_t *mq;     /* messages of all assigned partitions */
    rd_kafka_queue_t *closeq; /* rd_kafka_consumer_close_queue's */
    int fds[2];
    uv_poll_t poll;
    uv_idle_t next;     /* next message, on the next loop turn */
    uv_timer_t timer;   /* close ticks */
    uv_timer_t backoff; /* hands the message in hand again */
    uv_timer_t keepalive;
    uint64_t handed_at; /* loop time the message in hand was handed */
    bool slow_logged;
    ct_bus_msg_cb cb;
    void *udata;
    ct_bus_msg_t msg;
    bool in_hand;    /* msg.rkm is ours */
    bool in_handler; /* cb called, ct_bus_msg_done not yet */
    bool revoked;    /* the partition of the message in hand was revoked */
    bool ready;
    unsigned backoff_ms;
    consumer_state_t state;
    stash_t *stash_head, **stash_tail;
    int nhandles;
    /* Whoever asked for the close: a second ask while a close is under way
     * (a shutdown that timed out) waits for the same end. */
    closer_t closers[4];
    int nclosers;
    size_t ntopics;
    char **topics;
    ct_metric_t **m_consumed; /* per topic */
};

/* ---- bus.c ---- */

/* A non-blocking, close-on-exec pipe: 0 or -errno. */
int ct__bus_pipe_open(int fds[2]);
/* Reads whatever is in the pipe, never blocking. */
void ct__bus_pipe_drain(int fd);
/* Closes both ends that are open and sets them to -1. */
void ct__bus_pipe_close(int fds[2]);
/* The log callback of every client: librdkafka's syslog levels to ours. */
void ct__bus_on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
/* Sets one property: 0, or CT_ECONFIG (logged). */
int ct__bus_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value);
/* Applies CITERNE_KAFKA_CONF, then CITERNE_KAFKA_PRODUCER_CONF or
 * CITERNE_KAFKA_CONSUMER_CONF after type: 0, CT_ECONFIG or -ENOMEM. */
int ct__bus_conf_apply_env(rd_kafka_conf_t *conf, rd_kafka_type_t type);
/* Logs an error reported by librdkafka; returns true when it is fatal. */
bool ct__bus_log_client_error(rd_kafka_t *rk, int err, const char *reason);
/* rd_kafka_destroy_flags, logged with the time it took. */
void ct__bus_destroy_client(rd_kafka_t *rk, int flags);

/* ---- bus_consumer.c ---- */

/* Leaves the group (close queue served from the loop), then closes. */
void ct__bus_consumer_close_group(ct_bus_consumer_t *c);

/* ---- bus_rebalance.c ---- */

/* The rebalance callback (opaque: the consumer). */
void ct__bus_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t *parts, void *opaque);

/* ---- bus_msg.c ---- */

/* The oldest stashed message (now the caller's), or NULL. */
rd_kafka_message_t *ct__bus_stash_pop(ct_bus_consumer_t *c);
/* Serves the group queue: true when a full batch left more queued. */
bool ct__bus_consumer_serve_group(ct_bus_consumer_t *c);
/* Takes the next message if none is in hand and hands it to the callback. */
void ct__bus_consumer_next(ct_bus_consumer_t *c);
/* Continues with the next message on the next loop turn. */
void ct__bus_consumer_yield(ct_bus_consumer_t *c);

#endif
