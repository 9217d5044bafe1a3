/* Rebalances of the consumer group: assigned partitions are forwarded to
 * the consumer's message queue before they are assigned; revoked ones drop
 * the messages of theirs that wait. */
#include <string.h>

#include "bus_private.h"
#include "citerne/log.h"

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
                ct__bus_consumer_yield(c);
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

void ct__bus_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
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
