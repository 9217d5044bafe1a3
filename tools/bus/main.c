/* citerne-bus: the embedded Kafka bus for development and tests.
 *
 * librdkafka's mock cluster speaks the real Kafka wire protocol on loopback
 * and keeps everything in memory. It runs on librdkafka's own threads; this
 * process only creates it, creates the topics, publishes the bootstrap
 * address and waits for SIGTERM/SIGINT on a libuv loop.
 *
 * The mock cluster (librdkafka 2.0.2) binds each broker to 127.0.0.1 on a
 * port the kernel picks: its API takes no port. Clients therefore find the
 * bus through the address written to --bootstrap-file (and logged). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <uv.h>

#include "citerne/bus.h"
#include "citerne/log.h"

static const char *const services[] = {"accounts", "telemetry", "orders", "billing", "notify"};

typedef struct {
    int brokers;
    int partitions;
    const char *bootstrap_file;
    const char *debug;
} options_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: citerne-bus [--brokers N] [--partitions N] [--bootstrap-file PATH]\n"
            "  --brokers N          mock brokers (default 1)\n"
            "  --partitions N       partitions per topic (default 16)\n"
            "  --bootstrap-file P   write the bootstrap address to P (atomically)\n"
            "  --debug CONTEXTS     librdkafka debug contexts (e.g. mock,cgrp), logged at debug\n");
}

static int parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, options_t *o)
{
    o->brokers = 1;
    o->partitions = 16;
    o->bootstrap_file = NULL;
    o->debug = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--brokers") == 0 && v) {
            if (parse_int(v, 1, 16, &o->brokers) < 0) {
                fprintf(stderr, "citerne-bus: --brokers wants 1..16, got '%s'\n", v);
                return -1;
            }
            i++;
        } else if (strcmp(a, "--partitions") == 0 && v) {
            if (parse_int(v, 1, 1024, &o->partitions) < 0) {
                fprintf(stderr, "citerne-bus: --partitions wants 1..1024, got '%s'\n", v);
                return -1;
            }
            i++;
        } else if (strcmp(a, "--debug") == 0 && v) {
            o->debug = v;
            i++;
        } else if (strcmp(a, "--bootstrap-file") == 0 && v) {
            o->bootstrap_file = v;
            i++;
        } else {
            fprintf(stderr, "citerne-bus: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

/* Written to a temporary file renamed over the target, so a reader polling
 * for the file never sees it half written. */
static int write_bootstrap_file(const char *path, const char *bootstrap)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return -ENOMEM;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int rc = 0;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        rc = -errno;
        goto fail;
    }
    if (fprintf(f, "%s\n", bootstrap) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = -errno;
        fclose(f);
        unlink(tmp);
        goto fail;
    }
    if (fclose(f) != 0) {
        rc = -errno;
        unlink(tmp);
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        rc = -errno;
        unlink(tmp);
        goto fail;
    }
fail:
    free(tmp);
    return rc;
}

/* librdkafka logs from its own threads; ct__log_write is thread-safe. */
static void on_rdkafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* The host handle has no brokers on purpose. */
    if (strcmp(fac, "CONFWARN") == 0)
        return;
    ct_log_level_t l = level <= 3   ? CT_LOG_ERROR
                       : level <= 4 ? CT_LOG_WARN
                       : level <= 6 ? CT_LOG_INFO
                                    : CT_LOG_DEBUG;
    CT_LOG(l, NULL, "rdkafka %s: %s", fac, buf);
}

static void on_signal(uv_signal_t *s, int signum)
{
    ct_log_info("signal %d: stopping the bus", signum);
    uv_stop(s->loop);
}

static ct_log_level_t level_from_env(void)
{
    ct_log_level_t l = CT_LOG_INFO;
    const char *s = getenv("CITERNE_LOG_LEVEL");
    if (s && *s && ct_log_level_parse(s, &l) < 0)
        l = CT_LOG_INFO;
    return l;
}

int main(int argc, char **argv)
{
    options_t o;
    if (parse_args(argc, argv, &o) < 0)
        return 2;
    ct_log_init("bus", level_from_env());

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, on_rdkafka_log);
    /* The handle only hosts the mock cluster: it never connects anywhere. */
    if (rd_kafka_conf_set(conf, "client.id", "citerne-bus", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        (o.debug &&
         rd_kafka_conf_set(conf, "debug", o.debug, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)) {
        ct_log_error("rdkafka conf: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        ct_log_error("rd_kafka_new: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    int status = 1;
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    bool loop_open = false;
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, o.brokers);
    if (!mc) {
        ct_log_error("cannot create the mock cluster (%d brokers)", o.brokers);
        goto done;
    }
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
        char topic[64];
        ct_bus_topic(services[i], topic, sizeof topic);
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mc, topic, o.partitions, o.brokers < 3 ? o.brokers : 3);
        if (err) {
            ct_log_error("cannot create topic %s: %s", topic, rd_kafka_err2str(err));
            goto done;
        }
    }
    /* Signals are ours before anyone can read the address and stop us. */
    if (uv_loop_init(&loop) != 0)
        goto done;
    loop_open = true;
    uv_signal_init(&loop, &sigterm);
    uv_signal_init(&loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);

    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    if (o.bootstrap_file) {
        int rc = write_bootstrap_file(o.bootstrap_file, bootstrap);
        if (rc < 0) {
            ct_log_error("cannot write %s: %s", o.bootstrap_file, strerror(-rc));
            goto done;
        }
    }
    ct_log_info("bus ready: bootstrap=%s brokers=%d partitions=%d", bootstrap, o.brokers,
                o.partitions);
    printf("%s\n", bootstrap);
    fflush(stdout);

    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    status = 0;

done:
    if (loop_open && status != 0) {
        uv_close((uv_handle_t *)&sigterm, NULL);
        uv_close((uv_handle_t *)&sigint, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    if (loop_open && uv_loop_close(&loop) != 0)
        ct_log_warn("loop not closed clean");
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    if (o.bootstrap_file && status == 0)
        unlink(o.bootstrap_file);
    ct_log_info("bus stopped");
    return status;
}
