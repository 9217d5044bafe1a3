/* The consumer's life: creation and subscription, the loop's wake-ups
 * (pipe, keepalive), leaving the group and closing. Messages are taken and
 * handed in bus_msg.c, rebalances served in bus_rebalance.c. */
#include <errno.h>

#include "bus_private.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/metrics.h"

/* librdkafka drops a member that does not poll for max.poll.interval.ms;
 * a quiet topic never wakes the pipe, so the loop polls on this tick. */
#define KEEPALIVE_MS 1000u
/* A handler holding a message this long is probably stuck: say so once. */
#define SLOW_HANDLER_MS 60000u

static void on_consumer_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    ct_bus_consumer_t *c = opaque;
    if (ct__bus_log_client_error(rk, err, reason))
        c->ready = false;
}

static void consumer_serve_close(ct_bus_consumer_t *c);

static void on_consumer_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    ct_bus_consumer_t *c = h->data;
    if (status < 0)
        ct_log_warn("kafka consumer poll: %s", uv_strerror(status));
    ct__bus_pipe_drain(c->fds[0]);
    if (c->state == C_CLOSE_GROUP) {
        consumer_serve_close(c);
        return;
    }
    if (c->state == C_CLOSE_HANDLES)
        return;
    bool more = ct__bus_consumer_serve_group(c);
    ct__bus_consumer_next(c);
    /* A full batch may have left ops queued: the pipe is written again only
     * on the queue's next empty-to-non-empty transition, so come back. */
    if (more && c->state == C_RUNNING)
        ct__bus_consumer_yield(c);
}

static void on_consumer_close_tick(uv_timer_t *t)
{
    ct_bus_consumer_t *c = t->data;
    if (c->state == C_CLOSE_GROUP)
        consumer_serve_close(c);
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
    if (ct__bus_consumer_serve_group(c) && c->state == C_RUNNING)
        ct__bus_consumer_yield(c);
    ct__bus_consumer_next(c);
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
    if ((rc = ct__bus_pipe_open(c->fds)) < 0)
        goto fail;

    conf = rd_kafka_conf_new();
    if ((rc = ct__bus_conf_set(conf, "bootstrap.servers", brokers)) < 0 ||
        (rc = ct__bus_conf_set(conf, "group.id", group)) < 0 ||
        (rc = ct__bus_conf_set(conf, "client.id", group)) < 0 ||
        (rc = ct__bus_conf_set(conf, "enable.auto.offset.store", "false")) < 0 ||
        (rc = ct__bus_conf_set(conf, "enable.auto.commit", "true")) < 0 ||
        (rc = ct__bus_conf_set(conf, "auto.commit.interval.ms", "1000")) < 0 ||
        (rc = ct__bus_conf_set(conf, "auto.offset.reset", "earliest")) < 0 ||
        /* A member that dies is replaced after 10 s rather than librdkafka's
         * 45 s; a member that closes leaves at once. (citerne-bus, the mock
         * cluster, also waits about this long before re-forming a group
         * that a member left.) Heartbeats come from librdkafka's threads,
         * so a busy loop does not make us miss them. */
        (rc = ct__bus_conf_set(conf, "session.timeout.ms", "10000")) < 0 ||
        (rc = ct__bus_conf_set(conf, "log.queue", "true")) < 0 ||
        (rc = ct__bus_conf_apply_env(conf, RD_KAFKA_CONSUMER)) < 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, ct__bus_on_rebalance);
    rd_kafka_conf_set_error_cb(conf, on_consumer_error);
    rd_kafka_conf_set_log_cb(conf, ct__bus_on_log);
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
    ct__bus_pipe_close(c->fds);
    consumer_free(c);
    return rc;
}

static void on_consumer_handle_closed(uv_handle_t *h)
{
    ct_bus_consumer_t *c = h->data;
    if (--c->nhandles > 0)
        return;
    while (c->stash_head)
        rd_kafka_message_destroy(ct__bus_stash_pop(c));
    if (c->closeq)
        rd_kafka_queue_destroy(c->closeq);
    rd_kafka_queue_destroy(c->mq);
    rd_kafka_queue_destroy(c->cq);
    /* The group was left (or could not be): no second close. Joining
     * librdkafka's threads after that is quick, see the producer. */
    ct__bus_destroy_client(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    ct__bus_pipe_close(c->fds);
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

void ct__bus_consumer_close_group(ct_bus_consumer_t *c)
{
    c->state = C_CLOSE_GROUP;
    c->ready = false;
    while (c->stash_head)
        rd_kafka_message_destroy(ct__bus_stash_pop(c));
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
    ct__bus_consumer_close_group(c);
}
