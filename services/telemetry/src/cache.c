/* Telemetry's Redis connection, used only to look sessions up (the history
 * endpoints of api_history.c).
 *
 * Why not the platform's use_cache: with it, /readyz fails while Redis is
 * down, and an orchestrator would then take telemetry out of service, gateway
 * included, although the gateway's POST /readings never needs Redis (it
 * holds a key). Telemetry keeps its own connection instead, opened by the
 * on_start hook and closed by on_drain once no request is left, and /readyz
 * checks Postgres, Kafka and the migrations only. While Redis is down a
 * session request gets 503 (ct_session_lookup fails closed) and everything
 * keyed works. */
#include <stdlib.h>

#include "citerne/log.h"

#include "app.h"

/* How often the drain looks whether requests are still in flight. */
#define DRAIN_POLL_MS 20

int telemetry_cache_start(ct_service_t *svc)
{
    telemetry_app_t *app = svc->udata;
    int rc = ct_cache_new(&svc->loop, app->redis_url, &app->cache);
    if (rc != 0) {
        ct_log_error("redis: CITERNE_REDIS_URL cannot be used: not starting");
        app->cache = NULL;
    }
    return rc;
}

static void on_part_closed(telemetry_app_t *app)
{
    if (--app->drain_closes == 0 && app->drained) {
        ct_service_drained_cb done = app->drained;
        app->drained = NULL;
        done(app->svc);
    }
}

static void on_cache_closed(void *udata)
{
    on_part_closed(udata);
}

static void on_timer_closed(uv_handle_t *h)
{
    on_part_closed(h->data);
}

/* Requests still in flight may be waiting for a session: Redis closes after
 * them. The runtime closes the server at its deadline (svc->http NULL), and
 * then nothing is left to wait for. */
static void on_drain_tick(uv_timer_t *t)
{
    telemetry_app_t *app = t->data;
    ct_service_t *svc = app->svc;
    if (svc->http && ct_http_inflight(svc->http) > 0) {
        uv_timer_start(t, on_drain_tick, DRAIN_POLL_MS, 0);
        return;
    }
    app->drain_closes = 1;
    if (app->cache) {
        app->drain_closes++;
        ct_cache_close(app->cache, on_cache_closed, app);
        app->cache = NULL;
    }
    uv_close((uv_handle_t *)t, on_timer_closed);
}

void telemetry_cache_drain(ct_service_t *svc, ct_service_drained_cb done)
{
    telemetry_app_t *app = svc->udata;
    app->drained = done;
    uv_timer_init(&svc->loop, &app->drain_timer);
    app->drain_timer.data = app;
    uv_timer_start(&app->drain_timer, on_drain_tick, 0, 0);
}
