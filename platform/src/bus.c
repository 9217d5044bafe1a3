/* Kafka on the loop (librdkafka), see citerne/bus.h.
 *
 * Every librdkafka queue we read has io events enabled on the write end of a
 * non-blocking pipe whose read end a uv_poll watches. librdkafka writes to
 * the pipe only when a queue goes from empty to non-empty, so each wake-up
 * drains the pipe first and then polls the queues with a zero timeout until
 * they are empty (or, for the consumer, until a message is in hand).
 *
 * Consumer queues: the partitions' fetch queues are forwarded to a message
 * queue of our own (mq) in the rebalance callback, before the partitions are
 * assigned. The consumer (group) queue then carries only rebalances, errors
 * and logs, so it can be served while a message is in hand or waiting for
 * its backoff; that keeps the group member alive (rebalances answered,
 * max.poll.interval.ms respected) while messages stay in librdkafka's
 * bounded prefetch queue until we want the next one. */
#define _GNU_SOURCE /* pipe2 */
#include "citerne/bus.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/metrics.h"

#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 5000u
/* Messages (or errors) taken from a queue in one loop turn before yielding. */
#define SERVE_BATCH 64
/* After a purge at close, how long purged messages get to report. */
#define PURGE_GRACE_MS 1000u
#define CLOSE_TICK_MS 10u
/* librdkafka drops a member that does not poll for max.poll.interval.ms;
 * a quiet topic never wakes the pipe, so the loop polls on this tick. */
#define KEEPALIVE_MS 1000u
/* A handler holding a message this long is probably stuck: say so once. */
#define SLOW_HANDLER_MS 60000u
#define STATS_INTERVAL "5000"

/* ---- shared helpers ---- */

static int pipe_open(int fds[2])
{
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return -errno;
    return 0;
}

static void pipe_drain(int fd)
{
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

static void pipe_close(int fds[2])
{
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    fds[0] = fds[1] = -1;
}

/* Served on the loop: log.queue routes librdkafka's logs to the main queue.
 * Connection failures are logged by librdkafka at LOG_ERR although the
 * client retries them, so syslog 3 maps to warn. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    ct_log_level_t l = level <= 2   ? CT_LOG_ERROR
                       : level <= 4 ? CT_LOG_WARN
                       : level <= 6 ? CT_LOG_INFO
                                    : CT_LOG_DEBUG;
    CT_LOG(l, NULL, "kafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        ct_log_error("kafka config %s=%s: %s", name, value, errstr);
        return CT_ECONFIG;
    }
    return 0;
}

/* Extra librdkafka properties from the environment variable var,
 * "name=value" pairs separated by ';': CITERNE_KAFKA_CONF for every client
 * (TLS or SASL towards a production cluster), CITERNE_KAFKA_PRODUCER_CONF
 * and CITERNE_KAFKA_CONSUMER_CONF for one kind. Applied after ours, so they
 * may override them. */
static int conf_apply_env1(rd_kafka_conf_t *conf, const char *var)
{
    const char *env = getenv(var);
    if (!env || !*env)
        return 0;
    char *copy = strdup(env);
    if (!copy)
        return -ENOMEM;
    int rc = 0;
    char *save = NULL;
    for (char *kv = strtok_r(copy, ";", &save); kv && rc == 0; kv = strtok_r(NULL, ";", &save)) {
        while (*kv == ' ')
            kv++;
        if (!*kv)
            continue;
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            ct_log_error("%s: '%s' is not name=value", var, kv);
            rc = CT_ECONFIG;
            break;
        }
        *eq = '\0';
        rc = conf_set(conf, kv, eq + 1);
    }
    free(copy);
    return rc;
}

static int conf_apply_env(rd_kafka_conf_t *conf, rd_kafka_type_t type)
{
    int rc = conf_apply_env1(conf, "CITERNE_KAFKA_CONF");
    if (rc == 0)
        rc = conf_apply_env1(conf, type == RD_KAFKA_PRODUCER ? "CITERNE_KAFKA_PRODUCER_CONF"
                                                             : "CITERNE_KAFKA_CONSUMER_CONF");
    return rc;
}

/* Logs an error reported by librdkafka; returns true when it is fatal. */
static bool log_client_error(rd_kafka_t *rk, int err, const char *reason)
{
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
        ct_log_error("kafka %s: fatal error %s: %s", rd_kafka_name(rk), rd_kafka_err2name(orig),
                     buf);
        return true;
    }
    /* librdkafka's own log line (FAIL) already told about the connection. */
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT)
        ct_log_debug("kafka %s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(err), reason);
    else
        ct_log_warn("kafka %s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(err), reason);
    return false;
}

/* Timed, so that a slow join of librdkafka's threads shows in the logs. */
static void destroy_client(rd_kafka_t *rk, int flags)
{
    char name[128];
    snprintf(name, sizeof name, "%s", rd_kafka_name(rk));
    uint64_t t0 = uv_hrtime();
    rd_kafka_destroy_flags(rk, flags);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    if (ms >= 100)
        ct_log_warn("kafka %s: destroy took %.0f ms", name, ms);
    else
        ct_log_debug("kafka %s: destroyed in %.1f ms", name, ms);
}

const char *ct_bus_topic(const char *service, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "citerne.%s.v1", service);
    if (n < 0 || (size_t)n >= outlen)
        return NULL;
    return out;
}

/* ---- producer ---- */

/* One per produced message, the message's opaque until its report. */
typedef struct dr {
    struct dr *prev, *next;
    ct_bus_delivery_cb cb;
    void *opaque;
} dr_t;

struct ct_bus_producer {
    uv_loop_t *loop;
    rd_kafka_t *rk;
    rd_kafka_queue_t *mainq;
    int fds[2];
    uv_poll_t poll;
    uv_timer_t timer; /* close ticks */
    uv_idle_t more;   /* reports left for the next loop turn */
    dr_t pending;     /* list head of unreported messages */
    size_t npending;
    uint64_t failure_logged_at; /* loop time of the last delivery failure logged */
    unsigned failures_unlogged;
    int brokers_up; /* from the last statistics, -1 before the first */
    bool fatal;
    bool closing;
    bool purged;
    uint64_t deadline;
    int nhandles; /* handles still to close */
    void (*close_cb)(void *udata);
    void *close_udata;
    ct_metric_t *m_produced;
    ct_metric_t *m_failed;
};

static void dr_unlink(ct_bus_producer_t *p, dr_t *d)
{
    d->prev->next = d->next;
    d->next->prev = d->prev;
    p->npending--;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    ct_bus_producer_t *p = opaque;
    dr_t *d = m->_private;
    int status = 0;
    if (m->err) {
        status = CT_EBUS;
        ct_metric_inc(p->m_failed);
        /* At most one line a second: an outage fails every message. */
        uint64_t now = uv_now(p->loop);
        if (p->failure_logged_at == 0 || now - p->failure_logged_at >= 1000) {
            ct_log_warn(
                "kafka delivery to %s failed: %s (%u failures unlogged since the last line)",
                rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err), p->failures_unlogged);
            p->failure_logged_at = now;
            p->failures_unlogged = 0;
        } else {
            p->failures_unlogged++;
        }
    } else {
        ct_metric_inc(p->m_produced);
    }
    dr_unlink(p, d);
    d->cb(status, d->opaque);
    free(d);
}

static void on_producer_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    ct_bus_producer_t *p = opaque;
    if (log_client_error(rk, err, reason))
        p->fatal = true;
}

/* Counts the brokers the client is connected to. Only the loop reads it. */
static int on_producer_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    ct_bus_producer_t *p = opaque;
    json_t *root = json_loadb(json, len, 0, NULL);
    json_t *brokers = json_object_get(root, "brokers");
    if (json_is_object(brokers)) {
        int up = 0;
        const char *name;
        json_t *b;
        json_object_foreach(brokers, name, b)
        {
            const char *state = json_string_value(json_object_get(b, "state"));
            json_int_t nodeid = json_integer_value(json_object_get(b, "nodeid"));
            if (nodeid >= 0 && state && strcmp(state, "UP") == 0)
                up++;
        }
        p->brokers_up = up;
    }
    json_decref(root);
    return 0; /* librdkafka frees json */
}

static void on_producer_more(uv_idle_t *h);

/* Each rd_kafka_poll serves what is queued; reports that keep coming under
 * load are served on the next loop turns rather than all in this one. */
static void producer_serve(ct_bus_producer_t *p)
{
    pipe_drain(p->fds[0]);
    for (int i = 0; i < 4; i++)
        if (rd_kafka_poll(p->rk, 0) == 0)
            return;
    if (!p->closing)
        uv_idle_start(&p->more, on_producer_more);
}

static void on_producer_more(uv_idle_t *h)
{
    uv_idle_stop(h);
    producer_serve(h->data);
}

static void on_producer_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    ct_bus_producer_t *p = h->data;
    if (status < 0)
        ct_log_warn("kafka producer poll: %s", uv_strerror(status));
    producer_serve(p);
}

int ct_bus_producer_new(uv_loop_t *loop, const char *brokers, const char *client_id,
                        ct_bus_producer_t **out)
{
    *out = NULL;
    if (!brokers || !*brokers) {
        ct_log_error("kafka producer: no brokers configured");
        return CT_ECONFIG;
    }
    if (!client_id || !*client_id)
        client_id = "citerne";
    ct_bus_producer_t *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->loop = loop;
    p->fds[0] = p->fds[1] = -1;
    p->pending.next = p->pending.prev = &p->pending;
    p->brokers_up = -1;
    p->m_produced =
        ct_metrics_counter("citerne_bus_produced_total", "Messages the broker acknowledged");
    p->m_failed = ct_metrics_counter("citerne_bus_produce_failed_total",
                                     "Messages that could not be published");

    int rc = pipe_open(p->fds);
    if (rc < 0)
        goto fail;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if ((rc = conf_set(conf, "bootstrap.servers", brokers)) < 0 ||
        (rc = conf_set(conf, "client.id", client_id)) < 0 ||
        (rc = conf_set(conf, "enable.idempotence", "true")) < 0 ||
        (rc = conf_set(conf, "acks", "all")) < 0 || (rc = conf_set(conf, "linger.ms", "5")) < 0 ||
        (rc = conf_set(conf, "log.queue", "true")) < 0 ||
        (rc = conf_set(conf, "statistics.interval.ms", STATS_INTERVAL)) < 0 ||
        (rc = conf_apply_env(conf, RD_KAFKA_PRODUCER)) < 0) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_producer_error);
    rd_kafka_conf_set_stats_cb(conf, on_producer_stats);
    rd_kafka_conf_set_log_cb(conf, on_log);
    char errstr[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!p->rk) {
        ct_log_error("kafka producer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        rc = CT_EBUS;
        goto fail;
    }
    rd_kafka_set_log_queue(p->rk, NULL); /* logs to the main queue: served on the loop */
    p->mainq = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(p->mainq, p->fds[1], "1", 1);

    if ((rc = uv_poll_init(loop, &p->poll, p->fds[0])) < 0)
        goto fail;
    p->poll.data = p;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    uv_idle_init(loop, &p->more);
    p->more.data = p;
    p->nhandles = 3;
    uv_poll_start(&p->poll, UV_READABLE, on_producer_readable);
    /* Events may have been queued before io events were enabled. */
    producer_serve(p);
    *out = p;
    return 0;

fail:
    /* Before the handles exist: nothing is registered with the loop. */
    if (p->mainq)
        rd_kafka_queue_destroy(p->mainq);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    pipe_close(p->fds);
    free(p);
    return rc;
}

int ct_bus_produce(ct_bus_producer_t *p, const char *topic, const void *key, size_t keylen,
                   const void *payload, size_t len, ct_bus_delivery_cb cb, void *opaque)
{
    if (p->closing)
        return CT_ECLOSED;
    if (p->fatal) {
        ct_metric_inc(p->m_failed);
        return CT_EBUS;
    }
    dr_t *d = malloc(sizeof *d);
    if (!d)
        return -ENOMEM;
    d->cb = cb;
    d->opaque = opaque;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
        RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
    if (err) {
        free(d);
        ct_metric_inc(p->m_failed);
        ct_log_warn("kafka produce to %s: %s", topic, rd_kafka_err2str(err));
        return CT_EBUS;
    }
    d->next = &p->pending;
    d->prev = p->pending.prev;
    p->pending.prev->next = d;
    p->pending.prev = d;
    p->npending++;
    return 0;
}

size_t ct_bus_producer_outq(const ct_bus_producer_t *p)
{
    return p->npending;
}

bool ct_bus_producer_ready(const ct_bus_producer_t *p)
{
    if (p->fatal || p->closing)
        return false;
    if (p->brokers_up >= 0)
        return p->brokers_up > 0;
    /* Before the first statistics: cached metadata names a controller once a
     * broker answered. A zero timeout never blocks. */
    return rd_kafka_controllerid(p->rk, 0) >= 0;
}

static void on_producer_handle_closed(uv_handle_t *h)
{
    ct_bus_producer_t *p = h->data;
    if (--p->nhandles > 0)
        return;
    rd_kafka_queue_destroy(p->mainq);
    /* rd_kafka_destroy joins librdkafka's threads and may block briefly.
     * After a completed flush (or a purge) nothing is in flight, so the
     * join is quick; it is the one short wait we accept on the loop. */
    destroy_client(p->rk, 0);
    pipe_close(p->fds);
    /* Reports librdkafka could not deliver before it went away. */
    while (p->pending.next != &p->pending) {
        dr_t *d = p->pending.next;
        dr_unlink(p, d);
        ct_metric_inc(p->m_failed);
        d->cb(CT_EBUS, d->opaque);
        free(d);
    }
    void (*cb)(void *) = p->close_cb;
    void *udata = p->close_udata;
    free(p);
    if (cb)
        cb(udata);
}

static void on_producer_close_tick(uv_timer_t *t)
{
    ct_bus_producer_t *p = t->data;
    producer_serve(p);
    uint64_t now = uv_now(p->loop);
    if (p->npending > 0 && !p->purged && now >= p->deadline) {
        ct_log_warn("kafka producer close: %zu messages unreported after the timeout, purging",
                    p->npending);
        /* Purged messages report __PURGE_QUEUE/__PURGE_INFLIGHT on the queue. */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                                  RD_KAFKA_PURGE_F_NON_BLOCKING);
        p->purged = true;
        p->deadline = now + PURGE_GRACE_MS;
        return;
    }
    if (p->npending > 0 && now < p->deadline)
        return;
    uv_timer_stop(&p->timer);
    uv_poll_stop(&p->poll);
    uv_idle_stop(&p->more);
    uv_close((uv_handle_t *)&p->poll, on_producer_handle_closed);
    uv_close((uv_handle_t *)&p->timer, on_producer_handle_closed);
    uv_close((uv_handle_t *)&p->more, on_producer_handle_closed);
}

void ct_bus_producer_close(ct_bus_producer_t *p, unsigned timeout_ms, void (*cb)(void *udata),
                           void *udata)
{
    assert(!p->closing);
    p->closing = true;
    p->close_cb = cb;
    p->close_udata = udata;
    p->deadline = uv_now(p->loop) + timeout_ms;
    /* The first tick runs on the next loop turn, never inside the caller. */
    uv_timer_start(&p->timer, on_producer_close_tick, 0, CLOSE_TICK_MS);
}

/* ---- consumer ---- */

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

static void consumer_yield(ct_bus_consumer_t *c);
static void consumer_close_group(ct_bus_consumer_t *c);

static ct_metric_t *consumed_metric(ct_bus_consumer_t *c, const char *topic)
{
    for (size_t i = 0; i < c->ntopics; i++)
        if (strcmp(c->topics[i], topic) == 0)
            return c->m_consumed[i];
    char name[256];
    snprintf(name, sizeof name, "citerne_bus_consumed_total{topic=\"%s\"}", topic);
    return ct_metrics_counter(name, "Messages consumed and handled");
}

static void forward_partitions(ct_bus_consumer_t *c, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_queue_t *q =
            rd_kafka_queue_get_partition(c->rk, parts->elems[i].topic, parts->elems[i].partition);
        if (!q) {
            ct_log_warn("kafka consumer: no queue for %s [%d]", parts->elems[i].topic,
                        (int)parts->elems[i].partition);
            continue;
        }
        rd_kafka_queue_forward(q, c->mq);
        rd_kafka_queue_destroy(q);
    }
}

static bool in_list(const rd_kafka_topic_partition_list_t *parts, const rd_kafka_message_t *m)
{
    return rd_kafka_topic_partition_list_find(parts, rd_kafka_topic_name(m->rkt), m->partition) !=
           NULL;
}

/* A message waiting for its backoff whose partition went elsewhere is
 * dropped: its new owner reads it from the committed offset. A message the
 * handler is working on stays in hand until done. */
static void drop_revoked(ct_bus_consumer_t *c, const rd_kafka_topic_partition_list_t *parts)
{
    if (c->in_hand && (!parts || in_list(parts, c->msg.rkm))) {
        if (c->in_handler) {
            c->revoked = true; /* dropped at ct_bus_msg_done */
        } else {
            uv_timer_stop(&c->backoff);
            rd_kafka_message_destroy(c->msg.rkm);
            c->msg.rkm = NULL;
            c->in_hand = false;
            c->backoff_ms = 0;
            if (c->state == C_RUNNING)
                consumer_yield(c);
        }
    }
    stash_t **pp = &c->stash_head;
    while (*pp) {
        stash_t *s = *pp;
        if (!parts || in_list(parts, s->rkm)) {
            *pp = s->next;
            rd_kafka_message_destroy(s->rkm);
            free(s);
        } else {
            pp = &s->next;
        }
    }
    c->stash_tail = pp;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ct_bus_consumer_t *c = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t aerr = 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        ct_log_debug("kafka consumer %s: assigned %d partitions", rd_kafka_name(rk), parts->cnt);
        /* Before assigning, so that fetching starts on forwarded queues. */
        forward_partitions(c, parts);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
        if (c->state == C_RUNNING)
            c->ready = true;
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        ct_log_debug("kafka consumer %s: revoked %d partitions%s", rd_kafka_name(rk), parts->cnt,
                     rd_kafka_assignment_lost(rk) ? " (lost)" : "");
        if (rd_kafka_assignment_lost(rk))
            c->ready = false;
        drop_revoked(c, cooperative ? parts : NULL);
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, NULL);
    } else {
        ct_log_warn("kafka consumer %s: rebalance error: %s", rd_kafka_name(rk),
                    rd_kafka_err2str(err));
        c->ready = false;
        drop_revoked(c, NULL);
        aerr = rd_kafka_assign(rk, NULL);
    }
    if (error) {
        ct_log_error("kafka consumer %s: incremental (un)assign: %s", rd_kafka_name(rk),
                     rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (aerr) {
        ct_log_error("kafka consumer %s: assign: %s", rd_kafka_name(rk), rd_kafka_err2str(aerr));
    }
}

static void on_consumer_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    ct_bus_consumer_t *c = opaque;
    if (log_client_error(rk, err, reason))
        c->ready = false;
}

/* A consumer error or EOF delivered as a message: logged, never handed on. */
static void consumer_event(ct_bus_consumer_t *c, rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        ct_log_debug("kafka consumer %s: end of %s [%d] at %lld", rd_kafka_name(c->rk),
                     m->rkt ? rd_kafka_topic_name(m->rkt) : "?", (int)m->partition,
                     (long long)m->offset);
    else
        ct_log_warn("kafka consumer %s: %s%s%s", rd_kafka_name(c->rk),
                    m->rkt ? rd_kafka_topic_name(m->rkt) : "", m->rkt ? ": " : "",
                    rd_kafka_message_errstr(m));
    rd_kafka_message_destroy(m);
}

static void stash_push(ct_bus_consumer_t *c, rd_kafka_message_t *m)
{
    ct_log_debug("kafka consumer %s: %s [%d] @%lld came on the group queue", rd_kafka_name(c->rk),
                 rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
    stash_t *s = malloc(sizeof *s);
    if (!s) {
        /* Out of memory: the message is lost for this member only; it is
         * not stored, so it comes back after the next rebalance. */
        ct_log_error("kafka consumer %s: out of memory, dropping %s [%d] @%lld",
                     rd_kafka_name(c->rk), rd_kafka_topic_name(m->rkt), (int)m->partition,
                     (long long)m->offset);
        rd_kafka_message_destroy(m);
        return;
    }
    s->rkm = m;
    s->next = NULL;
    *c->stash_tail = s;
    c->stash_tail = &s->next;
}

static rd_kafka_message_t *stash_pop(ct_bus_consumer_t *c)
{
    stash_t *s = c->stash_head;
    if (!s)
        return NULL;
    c->stash_head = s->next;
    if (!c->stash_head)
        c->stash_tail = &c->stash_head;
    rd_kafka_message_t *m = s->rkm;
    free(s);
    return m;
}

/* Serves the group queue: rebalance, error and log callbacks run inside
 * rd_kafka_consumer_poll. It also tells librdkafka the application is
 * alive (max.poll.interval.ms). */
static bool consumer_serve_group(ct_bus_consumer_t *c)
{
    for (int i = 0; i < SERVE_BATCH; i++) {
        if (c->state != C_RUNNING && c->state != C_CLOSE_WAIT_MSG)
            return false;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 0);
        if (!m)
            return false;
        if (m->err)
            consumer_event(c, m);
        else
            stash_push(c, m);
    }
    return true; /* more may be queued: the pipe will not say so again */
}

static void consumer_hand(ct_bus_consumer_t *c)
{
    c->in_handler = true;
    c->handed_at = uv_now(c->loop);
    c->slow_logged = false;
    c->cb(&c->msg, c->udata);
}

/* Takes the next message if none is in hand and hands it to the callback. */
static void consumer_next(ct_bus_consumer_t *c)
{
    for (int i = 0; i < SERVE_BATCH; i++) {
        if (c->state != C_RUNNING || c->in_hand)
            return;
        rd_kafka_message_t *m = stash_pop(c);
        if (!m)
            m = rd_kafka_consume_queue(c->mq, 0);
        if (!m)
            return;
        if (m->err) {
            consumer_event(c, m);
            continue;
        }
        c->msg.rkm = m;
        c->in_hand = true;
        consumer_hand(c);
        return;
    }
    /* More errors than a batch: let the loop breathe, then continue. */
    consumer_yield(c);
}

static void consumer_serve_close(ct_bus_consumer_t *c);

static void on_consumer_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    ct_bus_consumer_t *c = h->data;
    if (status < 0)
        ct_log_warn("kafka consumer poll: %s", uv_strerror(status));
    pipe_drain(c->fds[0]);
    if (c->state == C_CLOSE_GROUP) {
        consumer_serve_close(c);
        return;
    }
    if (c->state == C_CLOSE_HANDLES)
        return;
    bool more = consumer_serve_group(c);
    consumer_next(c);
    /* A full batch may have left ops queued: the pipe is written again only
     * on the queue's next empty-to-non-empty transition, so come back. */
    if (more && c->state == C_RUNNING)
        consumer_yield(c);
}

static void on_consumer_close_tick(uv_timer_t *t)
{
    ct_bus_consumer_t *c = t->data;
    if (c->state == C_CLOSE_GROUP)
        consumer_serve_close(c);
}

static void on_consumer_next(uv_idle_t *h)
{
    ct_bus_consumer_t *c = h->data;
    uv_idle_stop(h);
    if (c->state != C_RUNNING)
        return;
    if (consumer_serve_group(c))
        consumer_yield(c);
    consumer_next(c);
}

/* Continues on the next loop turn, after I/O was polled. An idle handle,
 * not a 0 ms timer: libuv 1.44 runs a 0 ms timer started from a timer
 * callback in the same turn, which would chain every queued message
 * without letting HTTP in. */
static void consumer_yield(ct_bus_consumer_t *c)
{
    uv_idle_start(&c->next, on_consumer_next);
}

static void on_consumer_keepalive(uv_timer_t *t)
{
    ct_bus_consumer_t *c = t->data;
    if (c->state != C_RUNNING && c->state != C_CLOSE_WAIT_MSG)
        return;
    if (c->in_handler && !c->slow_logged && uv_now(c->loop) - c->handed_at >= SLOW_HANDLER_MS) {
        c->slow_logged = true;
        ct_log_warn("kafka consumer %s: the handler holds %s [%d] @%lld for %llu s",
                    rd_kafka_name(c->rk), rd_kafka_topic_name(c->msg.rkm->rkt),
                    (int)c->msg.rkm->partition, (long long)c->msg.rkm->offset,
                    (unsigned long long)(uv_now(c->loop) - c->handed_at) / 1000);
    }
    if (consumer_serve_group(c) && c->state == C_RUNNING)
        consumer_yield(c);
    consumer_next(c);
}

static void on_consumer_backoff(uv_timer_t *t)
{
    ct_bus_consumer_t *c = t->data;
    if (c->state != C_RUNNING || !c->in_hand || c->in_handler)
        return;
    /* Keeps the member alive during a long run of failures. */
    consumer_serve_group(c);
    if (c->state == C_RUNNING && c->in_hand && !c->in_handler)
        consumer_hand(c);
}

static int store_offset(ct_bus_consumer_t *c, const rd_kafka_message_t *m)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    if (!l)
        return -ENOMEM;
    rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)->offset =
        m->offset + 1;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, l);
    if (!err)
        err = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        /* Typically the partition was revoked meanwhile (__STATE): its new
         * owner handles the message again, and the inbox skips it. */
        ct_log_warn("kafka consumer %s: cannot store offset of %s [%d] @%lld: %s",
                    rd_kafka_name(c->rk), rd_kafka_topic_name(m->rkt), (int)m->partition,
                    (long long)m->offset, rd_kafka_err2str(err));
        return CT_EBUS;
    }
    return 0;
}

void ct_bus_msg_done(ct_bus_msg_t *msg, int status)
{
    ct_bus_consumer_t *c = msg->c;
    assert(c->in_hand && c->in_handler);
    c->in_handler = false;
    rd_kafka_message_t *m = msg->rkm;
    if (status >= 0 || c->state != C_RUNNING || c->revoked) {
        if (c->revoked)
            ct_log_debug("kafka consumer %s: %s [%d] @%lld done after its partition was revoked",
                         rd_kafka_name(c->rk), rd_kafka_topic_name(m->rkt), (int)m->partition,
                         (long long)m->offset);
        else if (status >= 0)
            store_offset(c, m);
        if (status >= 0) {
            ct_metric_inc(consumed_metric(c, rd_kafka_topic_name(m->rkt)));
        }
        rd_kafka_message_destroy(m);
        msg->rkm = NULL;
        c->in_hand = false;
        c->revoked = false;
        c->backoff_ms = 0;
        if (c->state == C_CLOSE_WAIT_MSG)
            consumer_close_group(c);
        else
            consumer_yield(c); /* yield to the loop between messages */
        return;
    }
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    ct_log_warn("kafka consumer %s: %s [%d] @%lld failed (%s), again in %u ms",
                rd_kafka_name(c->rk), rd_kafka_topic_name(m->rkt), (int)m->partition,
                (long long)m->offset, ct_strerror(status), c->backoff_ms);
    uv_timer_start(&c->backoff, on_consumer_backoff, c->backoff_ms, 0);
}

const void *ct_bus_msg_payload(const ct_bus_msg_t *msg, size_t *len)
{
    if (len)
        *len = msg->rkm->len;
    return msg->rkm->payload;
}

const void *ct_bus_msg_key(const ct_bus_msg_t *msg, size_t *len)
{
    if (len)
        *len = msg->rkm->key_len;
    return msg->rkm->key;
}

const char *ct_bus_msg_topic(const ct_bus_msg_t *msg)
{
    return rd_kafka_topic_name(msg->rkm->rkt);
}

int32_t ct_bus_msg_partition(const ct_bus_msg_t *msg)
{
    return msg->rkm->partition;
}

int64_t ct_bus_msg_offset(const ct_bus_msg_t *msg)
{
    return msg->rkm->offset;
}

bool ct_bus_consumer_ready(const ct_bus_consumer_t *c)
{
    return c->ready && c->state == C_RUNNING;
}

static void consumer_free(ct_bus_consumer_t *c)
{
    for (size_t i = 0; i < c->ntopics; i++)
        free(c->topics[i]);
    free(c->topics);
    free(c->m_consumed);
    free(c);
}

int ct_bus_consumer_new(uv_loop_t *loop, const char *brokers, const char *group,
                        const char *const *topics, size_t ntopics, ct_bus_msg_cb cb, void *udata,
                        ct_bus_consumer_t **out)
{
    *out = NULL;
    if (!brokers || !*brokers || !group || !*group || ntopics == 0 || !cb) {
        ct_log_error("kafka consumer: brokers, group, a topic and a handler are required");
        return CT_ECONFIG;
    }
    ct_bus_consumer_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->loop = loop;
    c->cb = cb;
    c->udata = udata;
    c->msg.c = c;
    c->fds[0] = c->fds[1] = -1;
    c->stash_tail = &c->stash_head;
    c->state = C_RUNNING;
    int rc = -ENOMEM;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *subs = NULL;
    c->topics = calloc(ntopics, sizeof *c->topics);
    c->m_consumed = calloc(ntopics, sizeof *c->m_consumed);
    if (!c->topics || !c->m_consumed)
        goto fail;
    for (size_t i = 0; i < ntopics; i++) {
        if (!(c->topics[i] = strdup(topics[i])))
            goto fail;
        c->ntopics++;
        char name[256];
        snprintf(name, sizeof name, "citerne_bus_consumed_total{topic=\"%s\"}", topics[i]);
        c->m_consumed[i] = ct_metrics_counter(name, "Messages consumed and handled");
    }
    if ((rc = pipe_open(c->fds)) < 0)
        goto fail;

    conf = rd_kafka_conf_new();
    if ((rc = conf_set(conf, "bootstrap.servers", brokers)) < 0 ||
        (rc = conf_set(conf, "group.id", group)) < 0 ||
        (rc = conf_set(conf, "client.id", group)) < 0 ||
        (rc = conf_set(conf, "enable.auto.offset.store", "false")) < 0 ||
        (rc = conf_set(conf, "enable.auto.commit", "true")) < 0 ||
        (rc = conf_set(conf, "auto.commit.interval.ms", "1000")) < 0 ||
        (rc = conf_set(conf, "auto.offset.reset", "earliest")) < 0 ||
        /* A member that dies is replaced after 10 s rather than librdkafka's
         * 45 s; a member that closes leaves at once. (citerne-bus, the mock
         * cluster, also waits about this long before re-forming a group
         * that a member left.) Heartbeats come from librdkafka's threads,
         * so a busy loop does not make us miss them. */
        (rc = conf_set(conf, "session.timeout.ms", "10000")) < 0 ||
        (rc = conf_set(conf, "log.queue", "true")) < 0 ||
        (rc = conf_apply_env(conf, RD_KAFKA_CONSUMER)) < 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_error_cb(conf, on_consumer_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    char errstr[512];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!c->rk) {
        ct_log_error("kafka consumer: %s", errstr);
        rc = CT_EBUS;
        goto fail;
    }
    conf = NULL; /* owned by rk now */
    rd_kafka_set_log_queue(c->rk, NULL);
    rd_kafka_poll_set_consumer(c->rk); /* main queue (logs, errors) into the group queue */
    c->cq = rd_kafka_queue_get_consumer(c->rk);
    c->mq = rd_kafka_queue_new(c->rk);
    rd_kafka_queue_io_event_enable(c->cq, c->fds[1], "1", 1);
    rd_kafka_queue_io_event_enable(c->mq, c->fds[1], "1", 1);

    subs = rd_kafka_topic_partition_list_new((int)ntopics);
    for (size_t i = 0; i < ntopics; i++)
        rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (err) {
        ct_log_error("kafka consumer %s: subscribe: %s", group, rd_kafka_err2str(err));
        rc = CT_EBUS;
        goto fail;
    }

    if ((rc = uv_poll_init(loop, &c->poll, c->fds[0])) < 0)
        goto fail;
    c->poll.data = c;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_idle_init(loop, &c->next);
    c->next.data = c;
    uv_timer_init(loop, &c->backoff);
    c->backoff.data = c;
    uv_timer_init(loop, &c->keepalive);
    c->keepalive.data = c;
    c->nhandles = 5;
    uv_poll_start(&c->poll, UV_READABLE, on_consumer_readable);
    uv_timer_start(&c->keepalive, on_consumer_keepalive, KEEPALIVE_MS, KEEPALIVE_MS);
    *out = c;
    return 0;

fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (c->mq)
        rd_kafka_queue_destroy(c->mq);
    if (c->cq)
        rd_kafka_queue_destroy(c->cq);
    if (c->rk) /* never joined: no group to leave */
        rd_kafka_destroy_flags(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    pipe_close(c->fds);
    consumer_free(c);
    return rc;
}

static void on_consumer_handle_closed(uv_handle_t *h)
{
    ct_bus_consumer_t *c = h->data;
    if (--c->nhandles > 0)
        return;
    while (c->stash_head)
        rd_kafka_message_destroy(stash_pop(c));
    if (c->closeq)
        rd_kafka_queue_destroy(c->closeq);
    rd_kafka_queue_destroy(c->mq);
    rd_kafka_queue_destroy(c->cq);
    /* The group was left (or could not be): no second close. Joining
     * librdkafka's threads after that is quick, see the producer. */
    destroy_client(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    pipe_close(c->fds);
    int n = c->nclosers;
    closer_t closers[sizeof c->closers / sizeof c->closers[0]];
    memcpy(closers, c->closers, sizeof closers);
    consumer_free(c);
    for (int i = 0; i < n; i++)
        if (closers[i].cb)
            closers[i].cb(closers[i].udata);
}

static void consumer_close_handles(ct_bus_consumer_t *c)
{
    c->state = C_CLOSE_HANDLES;
    uv_timer_stop(&c->timer);
    uv_idle_stop(&c->next);
    uv_timer_stop(&c->backoff);
    uv_timer_stop(&c->keepalive);
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->next, on_consumer_handle_closed);
    uv_close((uv_handle_t *)&c->keepalive, on_consumer_handle_closed);
    uv_close((uv_handle_t *)&c->poll, on_consumer_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_consumer_handle_closed);
    uv_close((uv_handle_t *)&c->backoff, on_consumer_handle_closed);
}

/* Rebalance callbacks (the final revoke) run here, from
 * rd_kafka_consume_queue; prefetched messages are dropped unstored. */
static void consumer_serve_close(ct_bus_consumer_t *c)
{
    rd_kafka_message_t *m;
    for (int i = 0; i < SERVE_BATCH && (m = rd_kafka_consume_queue(c->closeq, 0)); i++)
        rd_kafka_message_destroy(m);
    if (rd_kafka_consumer_closed(c->rk))
        consumer_close_handles(c);
}

static void consumer_close_group(ct_bus_consumer_t *c)
{
    c->state = C_CLOSE_GROUP;
    c->ready = false;
    while (c->stash_head)
        rd_kafka_message_destroy(stash_pop(c));
    c->closeq = rd_kafka_queue_new(c->rk);
    rd_kafka_queue_io_event_enable(c->closeq, c->fds[1], "1", 1);
    rd_kafka_error_t *error = rd_kafka_consumer_close_queue(c->rk, c->closeq);
    if (error) {
        ct_log_warn("kafka consumer %s: close: %s", rd_kafka_name(c->rk),
                    rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        consumer_close_handles(c);
        return;
    }
    /* The TERMINATE reply wakes the pipe; the tick is a safety net. */
    uv_timer_start(&c->timer, on_consumer_close_tick, CLOSE_TICK_MS, CLOSE_TICK_MS * 10);
}

void ct_bus_consumer_close(ct_bus_consumer_t *c, void (*cb)(void *udata), void *udata)
{
    size_t max = sizeof c->closers / sizeof c->closers[0];
    if (c->nclosers == (int)max) {
        ct_log_error("kafka consumer %s: closed %zu times, this close is ignored",
                     rd_kafka_name(c->rk), max + 1);
        return;
    }
    c->closers[c->nclosers].cb = cb;
    c->closers[c->nclosers].udata = udata;
    if (c->nclosers++ > 0)
        return; /* already closing */
    c->ready = false;
    uv_idle_stop(&c->next);
    uv_timer_stop(&c->backoff);
    if (c->in_hand && c->in_handler) {
        c->state = C_CLOSE_WAIT_MSG; /* ct_bus_msg_done continues */
        return;
    }
    if (c->in_hand) { /* waiting for a backoff: left for the next owner */
        rd_kafka_message_destroy(c->msg.rkm);
        c->msg.rkm = NULL;
        c->in_hand = false;
    }
    consumer_close_group(c);
}
