/* The producer: idempotent, every message reported once to its callback
 * from the loop; close flushes, then purges what is left. See citerne/bus.h
 * and the pipes in bus.c. */
#include <assert.h>
#include <errno.h>

#include <jansson.h>

#include "bus_private.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/metrics.h"

/* After a purge at close, how long purged messages get to report. */
#define PURGE_GRACE_MS 1000u
#define STATS_INTERVAL "5000"

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
    if (ct__bus_log_client_error(rk, err, reason))
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
    ct__bus_pipe_drain(p->fds[0]);
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

    int rc = ct__bus_pipe_open(p->fds);
    if (rc < 0)
        goto fail;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if ((rc = ct__bus_conf_set(conf, "bootstrap.servers", brokers)) < 0 ||
        (rc = ct__bus_conf_set(conf, "client.id", client_id)) < 0 ||
        (rc = ct__bus_conf_set(conf, "enable.idempotence", "true")) < 0 ||
        (rc = ct__bus_conf_set(conf, "acks", "all")) < 0 ||
        (rc = ct__bus_conf_set(conf, "linger.ms", "5")) < 0 ||
        (rc = ct__bus_conf_set(conf, "log.queue", "true")) < 0 ||
        (rc = ct__bus_conf_set(conf, "statistics.interval.ms", STATS_INTERVAL)) < 0 ||
        (rc = ct__bus_conf_apply_env(conf, RD_KAFKA_PRODUCER)) < 0) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_producer_error);
    rd_kafka_conf_set_stats_cb(conf, on_producer_stats);
    rd_kafka_conf_set_log_cb(conf, ct__bus_on_log);
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
    ct__bus_pipe_close(p->fds);
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
    ct__bus_destroy_client(p->rk, 0);
    ct__bus_pipe_close(p->fds);
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
