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
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "bus_private.h"
#include "citerne/error.h"
#include "citerne/log.h"

/* ---- shared helpers ---- */

int ct__bus_pipe_open(int fds[2])
{
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return -errno;
    return 0;
}

void ct__bus_pipe_drain(int fd)
{
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

void ct__bus_pipe_close(int fds[2])
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
void ct__bus_on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    ct_log_level_t l = level <= 2   ? CT_LOG_ERROR
                       : level <= 4 ? CT_LOG_WARN
                       : level <= 6 ? CT_LOG_INFO
                                    : CT_LOG_DEBUG;
    CT_LOG(l, NULL, "kafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

int ct__bus_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
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
        rc = ct__bus_conf_set(conf, kv, eq + 1);
    }
    free(copy);
    return rc;
}

int ct__bus_conf_apply_env(rd_kafka_conf_t *conf, rd_kafka_type_t type)
{
    int rc = conf_apply_env1(conf, "CITERNE_KAFKA_CONF");
    if (rc == 0)
        rc = conf_apply_env1(conf, type == RD_KAFKA_PRODUCER ? "CITERNE_KAFKA_PRODUCER_CONF"
                                                             : "CITERNE_KAFKA_CONSUMER_CONF");
    return rc;
}

/* Logs an error reported by librdkafka; returns true when it is fatal. */
bool ct__bus_log_client_error(rd_kafka_t *rk, int err, const char *reason)
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
void ct__bus_destroy_client(rd_kafka_t *rk, int flags)
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
