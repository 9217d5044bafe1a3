/* The runtime of one service: reads the common settings, opens the loop, the
 * Postgres pool, Redis (optional), the Kafka producer and outbox relay, the
 * consumer (when the service consumes), the HTTP server with /healthz,
 * /readyz and /metrics, applies migrations, then runs until SIGTERM/SIGINT.
 *
 * Start-up: settings, HTTP listener, Postgres pool, Redis, producer, then
 * migrations; once they applied: the outbox relay, the consumers, the
 * service's on_start hook (if any), and the service is running.
 *
 * Shutdown (SIGTERM): /readyz says draining, the listener closes, the
 * service's on_drain hook (if any) starts closing the service's own work,
 * the consumer stops fetching and finishes the message in hand, in-flight HTTP
 * requests finish (up to CITERNE_SHUTDOWN_TIMEOUT_MS), the consumer commits
 * and leaves, on_drain's done is awaited (same timeout), the relay finishes
 * its batch, the producer flushes, every handle closes, uv_loop_close() == 0,
 * exit status 0.
 *
 * Common settings: CITERNE_HTTP_ADDR, CITERNE_PG_URL, CITERNE_PG_POOL,
 * CITERNE_REDIS_URL, CITERNE_KAFKA_BROKERS, CITERNE_LOG_LEVEL,
 * CITERNE_SHUTDOWN_TIMEOUT_MS, CITERNE_MAX_BODY (bytes, default 1 MiB),
 * CITERNE_HTTP_MAX_CONNECTIONS (connections served at once, default 1024,
 * 1 .. 1000000; one more is answered 503 "/problems/overloaded" and closed;
 * at start the open-file soft limit is raised toward the hard one to fit it,
 * with a warning when it cannot) and
 * CITERNE_HTTP_HANDLER_TIMEOUT_MS (time a handler has to reply, default
 * 30000, 100 .. 600000; past it the client gets 503
 * "/problems/handler-timeout"). See citerne/http.h. */
#ifndef CITERNE_SERVICE_H
#define CITERNE_SERVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "citerne/bus.h"
#include "citerne/cache.h"
#include "citerne/config.h"
#include "citerne/db.h"
#include "citerne/health.h"
#include "citerne/http.h"
#include "citerne/migrate.h"
#include "citerne/outbox.h"

typedef struct ct_service ct_service_t;

/* Given to on_drain: call it once the service's own work is over and its
 * own handles are closed (their close callbacks have run). */
typedef void (*ct_service_drained_cb)(ct_service_t *svc);

typedef struct {
    const char *name;             /* "orders": topic, group, database, log field */
    const char *default_http_addr; /* "127.0.0.1:8082" */
    bool use_cache;               /* connect Redis (sessions) */
    /* With use_cache: Redis serves only some requests (sessions), and the
     * service does useful work without it (telemetry's gateway). /readyz
     * then leaves Redis out, so an outage does not take the whole service
     * out of rotation; session requests still fail closed (503). */
    bool cache_optional;
    /* Topics consumed, NULL-terminated; NULL: no consumer. Each topic gets its
     * own consumer (same group, <name>), so a message waiting for a read model
     * fed by another topic never stalls that other topic. */
    const char *const *consumes;
    ct_bus_msg_cb on_message;     /* handler for consumed messages */
    const ct_migration_t *migrations;
    size_t nmigrations;
    /* Hooks for the service's own loop handles (timers, pollers, senders).
     * Both NULL: unused. Loop thread.
     *
     * on_start: called once the service is running: migrations applied, the
     * relay and the consumers up (svc->db, svc->producer usable). Starts the
     * service's own handles on &svc->loop. Returns 0, or non-zero when it
     * cannot start: it then leaves nothing open, the service stops with exit
     * status 1 and on_drain is never called. Not called when start-up failed
     * earlier or a signal came first.
     *
     * on_drain: called once, at the start of the drain, after the listener
     * closed, when the service got running (on_start, if any, returned 0). Stops the service's own work and
     * closes its handles, then calls done(svc) exactly once, now or later.
     * The pool, Redis, the relay and the producer stay open until done (up
     * to CITERNE_SHUTDOWN_TIMEOUT_MS; after that the service closes them
     * anyway and exits 1, and done is still to be called once its handles
     * are closed). Consumers may still be finishing a message meanwhile. */
    int (*on_start)(ct_service_t *svc);
    void (*on_drain)(ct_service_t *svc, ct_service_drained_cb done);
} ct_service_desc_t;

struct ct_service {
    const ct_service_desc_t *desc;
    uv_loop_t loop;
    ct_config_t cfg;
    char topic[64];            /* the service's own topic, citerne.<name>.v1 */
    const char *pg_url;
    const char *redis_url;
    const char *brokers;
    char http_addr[128];
    ct_http_server_t *http;
    ct_health_t *health;
    ct_db_t *db;
    ct_cache_t *cache;
    ct_bus_producer_t *producer;
    ct_bus_consumer_t *consumers[8]; /* one per consumed topic */
    size_t nconsumers;
    ct_outbox_relay_t *relay;
    void *udata;               /* the service's own state */
    /* internal */
    uv_signal_t sigterm, sigint;
    uv_timer_t drain_timer;
    int stage;
    int exit_status;
    long shutdown_timeout_ms;
    long pg_pool;
    int pending_closes;
    int migrate_attempts;
    uint64_t drain_deadline;
    bool started;       /* running: on_start (if any) returned 0 */
    bool hook_draining; /* on_drain called, done not yet */
};

/* Reads settings (errors are logged) and creates the HTTP server, so the
 * caller can register routes and read its own settings from svc->cfg.
 * Returns 0 or CT_ECONFIG / an error. */
int ct_service_init(ct_service_t *svc, const ct_service_desc_t *desc);
/* Checks svc->cfg, connects everything, migrates, listens, consumes, runs the
 * loop until a graceful stop; returns the process exit status. */
int ct_service_run(ct_service_t *svc);

#endif
