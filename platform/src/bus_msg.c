/* The consumer's messages: taking the next one (from the stash or the
 * message queue), handing it to the callback, retrying after a failure,
 * storing its offset when done, and the accessors of citerne/bus.h. */
#include <assert.h>
#include <errno.h>

#include "bus_private.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/metrics.h"

#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 5000u

static ct_metric_t *consumed_metric(ct_bus_consumer_t *c, const char *topic)
{
    for (size_t i = 0; i < c->ntopics; i++)
        if (strcmp(c->topics[i], topic) == 0)
            return c->m_consumed[i];
    char name[256];
    snprintf(name, sizeof name, "citerne_bus_consumed_total{topic=\"%s\"}", topic);
    return ct_metrics_counter(name, "Messages consumed and handled");
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

rd_kafka_message_t *ct__bus_stash_pop(ct_bus_consumer_t *c)
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
bool ct__bus_consumer_serve_group(ct_bus_consumer_t *c)
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
void ct__bus_consumer_next(ct_bus_consumer_t *c)
{
    for (int i = 0; i < SERVE_BATCH; i++) {
        if (c->state != C_RUNNING || c->in_hand)
            return;
        rd_kafka_message_t *m = ct__bus_stash_pop(c);
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
    ct__bus_consumer_yield(c);
}

static void on_consumer_next(uv_idle_t *h)
{
    ct_bus_consumer_t *c = h->data;
    uv_idle_stop(h);
    if (c->state != C_RUNNING)
        return;
    if (ct__bus_consumer_serve_group(c))
        ct__bus_consumer_yield(c);
    ct__bus_consumer_next(c);
}

/* Continues on the next loop turn, after I/O was polled. An idle handle,
 * not a 0 ms timer: libuv 1.44 runs a 0 ms timer started from a timer
 * callback in the same turn, which would chain every queued message
 * without letting HTTP in. */
void ct__bus_consumer_yield(ct_bus_consumer_t *c)
{
    uv_idle_start(&c->next, on_consumer_next);
}

static void on_consumer_backoff(uv_timer_t *t)
{
    ct_bus_consumer_t *c = t->data;
    if (c->state != C_RUNNING || !c->in_hand || c->in_handler)
        return;
    /* Keeps the member alive during a long run of failures. */
    ct__bus_consumer_serve_group(c);
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
            ct__bus_consumer_close_group(c);
        else
            ct__bus_consumer_yield(c); /* yield to the loop between messages */
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
