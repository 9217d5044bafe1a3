/* Consumed events: accounts' SiteCreated feeds the sites read model. Every
 * other accounts event is acknowledged through the inbox with no effect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/event.h"
#include "citerne/inbox.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/v1/accounts.pb-c.h"

#include "app.h"
#include "store.h"

typedef struct {
    telemetry_app_t *app;
    Citerne__V1__AccountsEvent *ev; /* owned: freed in on_done */
    char site_id[CT_UUID_STRLEN + 1];
    char customer_id[CT_UUID_STRLEN + 1];
    int capacity_kg;
    int threshold_pct;
} event_ctx_t;

static void count_skipped(const char *topic)
{
    char name[160];
    snprintf(name, sizeof name, "citerne_events_undecodable_total{topic=\"%s\"}",
             topic ? topic : "");
    ct_metric_inc(ct_metrics_counter(name, "Consumed records skipped: undecodable or invalid"));
}

static void lower_copy(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] - 'A' + 'a') : src[i];
    dst[i] = '\0';
}

static void on_done(int status, void *udata)
{
    event_ctx_t *ctx = udata;
    if (status < 0)
        ct_logc_warn(ctx->ev->meta->correlation_id, "event %s not applied (%s), retried later",
                     ctx->ev->meta->event_id, ct_strerror(status));
    citerne__v1__accounts_event__free_unpacked(ctx->ev, NULL);
    free(ctx);
}

static void on_applied(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

static void apply_site_created(ct_db_tx_t *tx, void *udata)
{
    event_ctx_t *ctx = udata;
    /* one statement, whose callback needs no context: the transaction's
     * udata stays the inbox's own */
    telemetry_store_upsert_site(tx, ctx->site_id, ctx->customer_id, ctx->capacity_kg,
                                ctx->threshold_pct, on_applied);
}

static void apply_nothing(ct_db_tx_t *tx, void *udata)
{
    (void)udata;
    ct_db_tx_commit(tx);
}

/* Checks a SiteCreated and copies what telemetry keeps into ctx. */
static const char *check_site(const Citerne__V1__SiteCreated *s, event_ctx_t *ctx)
{
    if (!s || !ct_uuid_valid(s->site_id) || strlen(s->site_id) != CT_UUID_STRLEN)
        return "site_id is not a UUID";
    if (!ct_uuid_valid(s->customer_id) || strlen(s->customer_id) != CT_UUID_STRLEN)
        return "customer_id is not a UUID";
    if (s->capacity_kg < 1 || s->capacity_kg > 1000000)
        return "capacity_kg out of 1..1000000";
    if (s->threshold_pct < 0 || s->threshold_pct > 100)
        return "threshold_pct out of 0..100";
    lower_copy(ctx->site_id, sizeof ctx->site_id, s->site_id);
    lower_copy(ctx->customer_id, sizeof ctx->customer_id, s->customer_id);
    ctx->capacity_kg = s->capacity_kg;
    /* proto3 cannot tell "unset" from 0; a tank never alerting is no choice
     * anyone makes, so 0 means the documented default */
    ctx->threshold_pct = s->threshold_pct ? s->threshold_pct : TELEMETRY_DEFAULT_THRESHOLD_PCT;
    return NULL;
}

void telemetry_on_message(ct_bus_msg_t *msg, void *udata)
{
    ct_service_t *svc = udata;
    telemetry_app_t *app = svc->udata;
    const char *topic = ct_bus_msg_topic(msg);
    size_t len = 0;
    const uint8_t *data = ct_bus_msg_payload(msg, &len);
    Citerne__V1__AccountsEvent *ev = citerne__v1__accounts_event__unpack(NULL, len, data);
    if (!ev || ct_event_meta_check(ev->meta) != 0) {
        ct_log_warn("undecodable record on %s [%d] at offset %lld: skipped", topic,
                    (int)ct_bus_msg_partition(msg), (long long)ct_bus_msg_offset(msg));
        count_skipped(topic);
        if (ev)
            citerne__v1__accounts_event__free_unpacked(ev, NULL);
        ct_bus_msg_done(msg, 0);
        return;
    }
    event_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        citerne__v1__accounts_event__free_unpacked(ev, NULL);
        ct_bus_msg_done(msg, CT_EINTERNAL);
        return;
    }
    ctx->app = app;
    ctx->ev = ev;
    if (ev->body_case == CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED) {
        const char *why = check_site(ev->site_created, ctx);
        if (why) {
            ct_logc_warn(ev->meta->correlation_id, "invalid SiteCreated %s: %s; skipped",
                         ev->meta->event_id, why);
            count_skipped(topic);
            on_done(0, ctx);
            ct_bus_msg_done(msg, 0);
            return;
        }
        ct_inbox_process(svc->db, msg, ev->meta->event_id, apply_site_created, on_done, ctx);
        return;
    }
    ct_inbox_process(svc->db, msg, ev->meta->event_id, apply_nothing, on_done, ctx);
}
