/* The runtime of one service: wiring and the shutdown sequence. */
#include "citerne/service.h"

#include <signal.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/log.h"

enum {
    STAGE_INIT = 0,
    STAGE_MIGRATING,
    STAGE_RUNNING,
    STAGE_DRAINING, /* listener closed, consumers closing, requests finishing */
    STAGE_CLOSING,  /* relay, producer, then every handle */
    STAGE_DONE
};

#define MIGRATE_ATTEMPTS 30

static void close_everything(ct_service_t *svc);

/* ---- readiness checks ---- */

static bool check_db(void *ud)
{
    ct_service_t *svc = ud;
    return svc->db && ct_db_ready(svc->db);
}

static bool check_cache(void *ud)
{
    ct_service_t *svc = ud;
    return svc->cache && ct_cache_ready(svc->cache);
}

static bool check_bus(void *ud)
{
    ct_service_t *svc = ud;
    return svc->producer && ct_bus_producer_ready(svc->producer);
}

static bool check_migrated(void *ud)
{
    ct_service_t *svc = ud;
    return svc->stage >= STAGE_RUNNING;
}

/* Past the process's open-file limit libuv drops new connections without a
 * word, below the HTTP connection limit that would have answered 503. Raise
 * the soft limit as far as the hard one allows (what nginx's
 * worker_rlimit_nofile does) and say so when the connection limit still does
 * not fit beside the database pool, Redis, Kafka and the loop's own fds. */
static void fd_headroom(unsigned max_connections, unsigned pg_pool)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)max_connections + pg_pool + 64;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rlim_t raised = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        struct rlimit nl = {.rlim_cur = raised, .rlim_max = rl.rlim_max};
        if (raised > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &nl) == 0)
            rl.rlim_cur = raised;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
        ct_log_warn("open-file limit %llu is below CITERNE_HTTP_MAX_CONNECTIONS=%u plus about %u "
                    "other descriptors: connections past it are dropped without a 503; raise "
                    "the hard limit (ulimit -Hn) or lower the setting",
                    (unsigned long long)rl.rlim_cur, max_connections, pg_pool + 64);
}


/* ---- settings ---- */

int ct_service_init(ct_service_t *svc, const ct_service_desc_t *desc)
{
    memset(svc, 0, sizeof *svc);
    svc->desc = desc;
    ct_config_init(&svc->cfg);

    ct_log_level_t level = CT_LOG_INFO;
    const char *lvl = ct_config_str(&svc->cfg, "CITERNE_LOG_LEVEL", "info");
    if (lvl && ct_log_level_parse(lvl, &level) != 0)
        ct_config_fail(&svc->cfg, "CITERNE_LOG_LEVEL=\"%s\": expected debug, info, warn, error or off",
                       lvl);
    ct_log_init(desc->name, level);

    ct_bus_topic(desc->name, svc->topic, sizeof svc->topic);
    ct_config_addr(&svc->cfg, "CITERNE_HTTP_ADDR", desc->default_http_addr, svc->http_addr,
                   sizeof svc->http_addr);
    svc->pg_url = ct_config_str(&svc->cfg, "CITERNE_PG_URL", NULL);
    svc->brokers = ct_config_str(&svc->cfg, "CITERNE_KAFKA_BROKERS", NULL);
    if (desc->use_cache)
        svc->redis_url = ct_config_str(&svc->cfg, "CITERNE_REDIS_URL", NULL);
    svc->shutdown_timeout_ms =
        ct_config_int(&svc->cfg, "CITERNE_SHUTDOWN_TIMEOUT_MS", 10000, 100, 600000);
    svc->pg_pool = ct_config_int(&svc->cfg, "CITERNE_PG_POOL", 4, 1, 64);

    unsigned max_conn =
        (unsigned)ct_config_int(&svc->cfg, "CITERNE_HTTP_MAX_CONNECTIONS", 1024, 1, 1000000);
    fd_headroom(max_conn, (unsigned)svc->pg_pool);

    int rc = uv_loop_init(&svc->loop);
    if (rc != 0) {
        ct_log_error("uv_loop_init: %s", uv_strerror(rc));
        return rc;
    }
    ct_http_opts_t opts = {
        .max_body = (size_t)ct_config_int(&svc->cfg, "CITERNE_MAX_BODY", 1 << 20, 1024, 64 << 20),
        .max_connections = max_conn,
        .handler_timeout_ms = (unsigned)ct_config_int(&svc->cfg, "CITERNE_HTTP_HANDLER_TIMEOUT_MS",
                                                      30000, 100, 600000),
        .service = desc->name,
    };
    rc = ct_http_server_new(&svc->loop, &opts, &svc->http);
    if (rc != 0) {
        ct_log_error("http server: %s", ct_strerror(rc));
        uv_loop_close(&svc->loop);
        return rc;
    }
    return 0;
}

/* ---- start-up ---- */

static void start_consumers(ct_service_t *svc)
{
    const char *const *topics = svc->desc->consumes;
    for (size_t i = 0; topics && topics[i]; i++) {
        if (svc->nconsumers == sizeof svc->consumers / sizeof svc->consumers[0]) {
            ct_log_error("too many consumed topics; %s not consumed", topics[i]);
            break;
        }
        const char *one[1] = {topics[i]};
        ct_bus_consumer_t *c = NULL;
        int rc = ct_bus_consumer_new(&svc->loop, svc->brokers, svc->desc->name, one, 1,
                                     svc->desc->on_message, svc, &c);
        if (rc != 0) {
            ct_log_error("consumer of %s: %s", topics[i], ct_strerror(rc));
            continue;
        }
        svc->consumers[svc->nconsumers++] = c;
    }
}

static void run_migrations(ct_service_t *svc);

static void on_migrate_retry(uv_timer_t *t)
{
    ct_service_t *svc = t->data;
    if (svc->stage == STAGE_MIGRATING)
        run_migrations(svc);
}

static void on_migrated(int status, const char *message, void *ud)
{
    ct_service_t *svc = ud;
    if (svc->stage != STAGE_MIGRATING)
        return; /* a signal arrived meanwhile */
    if (status != 0) {
        /* The database may still be starting: retry a while, then give up so
         * the orchestrator restarts us and the failure is visible. */
        if (++svc->migrate_attempts >= MIGRATE_ATTEMPTS || status == CT_EDB) {
            ct_log_error("migrations failed: %s", message ? message : ct_strerror(status));
            svc->exit_status = 1;
            svc->stage = STAGE_CLOSING;
            close_everything(svc);
            return;
        }
        ct_log_warn("migrations not applied yet (%s), retrying",
                    message ? message : ct_strerror(status));
        uv_timer_start(&svc->drain_timer, on_migrate_retry, 1000, 0);
        return;
    }
    int rc = ct_outbox_relay_new(&svc->loop, svc->pg_url, svc->db, svc->producer, &svc->relay);
    if (rc != 0) {
        ct_log_error("outbox relay: %s", ct_strerror(rc));
        svc->exit_status = 1;
        svc->stage = STAGE_CLOSING;
        close_everything(svc);
        return;
    }
    start_consumers(svc);
    svc->stage = STAGE_RUNNING;
    if (svc->desc->on_start && (rc = svc->desc->on_start(svc)) != 0) {
        ct_log_error("service start-up failed (%d)", rc);
        svc->exit_status = 1;
        svc->stage = STAGE_CLOSING;
        close_everything(svc);
        return;
    }
    svc->started = true;
    ct_log_info("ready on %s (topic %s, %zu consumed topic(s))", svc->http_addr, svc->topic,
                svc->nconsumers);
}

static void run_migrations(ct_service_t *svc)
{
    int rc = ct_migrate_run(svc->db, svc->desc->migrations, svc->desc->nmigrations, on_migrated,
                            svc);
    if (rc != 0)
        on_migrated(rc, "cannot start migrations", svc);
}

/* ---- shutdown ---- */

static void maybe_stop_loop(ct_service_t *svc);

static void on_part_closed(void *ud)
{
    ct_service_t *svc = ud;
    svc->pending_closes--;
    maybe_stop_loop(svc);
}

static void on_handle_closed(uv_handle_t *h)
{
    on_part_closed(h->data);
}

static void maybe_stop_loop(ct_service_t *svc)
{
    if (svc->pending_closes > 0 || svc->stage == STAGE_DONE)
        return;
    svc->stage = STAGE_DONE;
    if (svc->health) {
        ct_health_free(svc->health);
        svc->health = NULL;
    }
}

static void close_handle(ct_service_t *svc, uv_handle_t *h)
{
    if (uv_is_closing(h))
        return;
    h->data = svc;
    svc->pending_closes++;
    uv_close(h, on_handle_closed);
}

static void on_producer_closed(void *ud)
{
    ct_service_t *svc = ud;
    svc->producer = NULL;
    /* Nothing publishes any more: the pool and Redis can go. */
    if (svc->db) {
        svc->pending_closes++;
        ct_db_close(svc->db, on_part_closed, svc);
        svc->db = NULL;
    }
    if (svc->cache) {
        svc->pending_closes++;
        ct_cache_close(svc->cache, on_part_closed, svc);
        svc->cache = NULL;
    }
    on_part_closed(svc);
}

static void on_relay_closed(void *ud)
{
    ct_service_t *svc = ud;
    svc->relay = NULL;
    if (svc->producer) {
        ct_bus_producer_close(svc->producer, 5000, on_producer_closed, svc);
    } else {
        on_producer_closed(svc);
    }
}

static void close_everything(ct_service_t *svc)
{
    uv_timer_stop(&svc->drain_timer);
    if (svc->http) {
        svc->pending_closes++;
        ct_http_server_close(svc->http, on_part_closed, svc);
        svc->http = NULL;
    }
    for (size_t i = 0; i < svc->nconsumers; i++) {
        if (svc->consumers[i]) {
            /* only reached when draining timed out or start-up failed */
            svc->pending_closes++;
            ct_bus_consumer_close(svc->consumers[i], on_part_closed, svc);
            svc->consumers[i] = NULL;
        }
    }
    /* relay -> producer -> db, cache: each waits for the previous one */
    svc->pending_closes++;
    if (svc->relay)
        ct_outbox_relay_close(svc->relay, on_relay_closed, svc);
    else
        on_relay_closed(svc);
    close_handle(svc, (uv_handle_t *)&svc->sigterm);
    close_handle(svc, (uv_handle_t *)&svc->sigint);
    close_handle(svc, (uv_handle_t *)&svc->drain_timer);
}

static size_t consumers_open(const ct_service_t *svc)
{
    size_t n = 0;
    for (size_t i = 0; i < svc->nconsumers; i++)
        n += svc->consumers[i] != NULL;
    return n;
}

static void on_drain_tick(uv_timer_t *t)
{
    ct_service_t *svc = t->data;
    size_t inflight = svc->http ? ct_http_inflight(svc->http) : 0;
    size_t consumers = consumers_open(svc);
    if (inflight == 0 && consumers == 0 && !svc->hook_draining) {
        svc->stage = STAGE_CLOSING;
        close_everything(svc);
        return;
    }
    if (uv_now(&svc->loop) >= svc->drain_deadline) {
        ct_log_warn("shutdown timeout: %zu request(s) and %zu consumer(s) still busy%s", inflight,
                    consumers, svc->hook_draining ? ", the service's own work not drained" : "");
        svc->exit_status = 1;
        svc->stage = STAGE_CLOSING;
        close_everything(svc);
        return;
    }
    uv_timer_start(&svc->drain_timer, on_drain_tick, 20, 0);
}

static void on_consumer_closed(void *ud)
{
    ct_bus_consumer_t **slot = ud;
    *slot = NULL;
}

/* on_drain's done: the drain tick notices. Late calls (after a timeout) are
 * harmless. */
static void on_hook_drained(ct_service_t *svc)
{
    svc->hook_draining = false;
}

static void begin_shutdown(ct_service_t *svc, const char *why)
{
    if (svc->stage >= STAGE_DRAINING)
        return;
    ct_log_info("%s: draining", why);
    svc->stage = STAGE_DRAINING;
    if (svc->health)
        ct_health_set_draining(svc->health);
    if (svc->http)
        ct_http_stop_accepting(svc->http);
    if (svc->started && svc->desc->on_drain) {
        svc->hook_draining = true;
        svc->desc->on_drain(svc, on_hook_drained);
    }
    for (size_t i = 0; i < svc->nconsumers; i++)
        if (svc->consumers[i])
            ct_bus_consumer_close(svc->consumers[i], on_consumer_closed, &svc->consumers[i]);
    svc->drain_deadline = uv_now(&svc->loop) + (uint64_t)svc->shutdown_timeout_ms;
    uv_timer_stop(&svc->drain_timer);
    svc->drain_timer.data = svc;
    uv_timer_start(&svc->drain_timer, on_drain_tick, 0, 0);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    ct_service_t *svc = sig->data;
    if (svc->stage >= STAGE_DRAINING) {
        ct_log_warn("second %s: shutdown already under way", strsignal(signum));
        return;
    }
    begin_shutdown(svc, strsignal(signum));
}

/* ---- run ---- */

int ct_service_run(ct_service_t *svc)
{
    const ct_service_desc_t *desc = svc->desc;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    uv_timer_init(&svc->loop, &svc->drain_timer);
    svc->drain_timer.data = svc;
    uv_signal_init(&svc->loop, &svc->sigterm);
    uv_signal_init(&svc->loop, &svc->sigint);
    svc->sigterm.data = svc;
    svc->sigint.data = svc;

    if (ct_config_check(&svc->cfg) != 0) {
        svc->exit_status = 2;
        goto fail;
    }
    if ((rc = ct_health_new(svc->http, &svc->health)) != 0 ||
        (rc = ct_http_listen(svc->http, svc->http_addr)) != 0) {
        ct_log_error("cannot serve HTTP on %s: %s", svc->http_addr, ct_strerror(rc));
        svc->exit_status = 1;
        goto fail;
    }
    ct_db_set_application_name(desc->name);
    if ((rc = ct_db_new(&svc->loop, svc->pg_url, (int)svc->pg_pool,
                        &svc->db)) != 0) {
        ct_log_error("postgres pool: %s", ct_strerror(rc));
        svc->exit_status = 1;
        goto fail;
    }
    if (desc->use_cache && (rc = ct_cache_new(&svc->loop, svc->redis_url, &svc->cache)) != 0) {
        ct_log_error("redis: %s", ct_strerror(rc));
        svc->exit_status = 1;
        goto fail;
    }
    if ((rc = ct_bus_producer_new(&svc->loop, svc->brokers, desc->name, &svc->producer)) != 0) {
        ct_log_error("kafka producer: %s", ct_strerror(rc));
        svc->exit_status = 1;
        goto fail;
    }
    ct_health_add_check(svc->health, "postgres", check_db, svc);
    if (desc->use_cache && !desc->cache_optional)
        ct_health_add_check(svc->health, "redis", check_cache, svc);
    ct_health_add_check(svc->health, "kafka", check_bus, svc);
    ct_health_add_check(svc->health, "migrations", check_migrated, svc);

    uv_signal_start(&svc->sigterm, on_signal, SIGTERM);
    uv_signal_start(&svc->sigint, on_signal, SIGINT);

    ct_log_info("starting: http %s, kafka %s", svc->http_addr, svc->brokers);
    svc->stage = STAGE_MIGRATING;
    run_migrations(svc);
    uv_run(&svc->loop, UV_RUN_DEFAULT);
    goto done;

fail:
    svc->stage = STAGE_CLOSING;
    close_everything(svc);
    uv_run(&svc->loop, UV_RUN_DEFAULT);
done:
    rc = uv_loop_close(&svc->loop);
    if (rc != 0) {
        ct_log_error("loop closed with live handles: %s", uv_strerror(rc));
        return svc->exit_status ? svc->exit_status : 1;
    }
    ct_log_info("stopped (exit status %d)", svc->exit_status);
    return svc->exit_status;
}
