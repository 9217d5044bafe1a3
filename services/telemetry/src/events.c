#include "events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/consume.h"
#include "citerne/error.h"
#include "citerne/event.h"
#include "citerne/inbox.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/outbox.h"
#include "citerne/v1/accounts.pb-c.h"

#include "crossing.h"
#include "store.h"
#include "threshold.h"

struct telemetry_event {
    Citerne__V1__AccountsEvent *ev;
    const char *out_topic; /* telemetry's topic, borrowed */
    bool site;             /* a SiteCreated or SiteUpdated; otherwise ignored */
    char site_id[CT_UUID_STRLEN + 1];
    char customer_id[CT_UUID_STRLEN + 1];
    int capacity_kg;
    int threshold_pct;
    int version; /* 1 for SiteCreated */
    /* a crossing opened by the new threshold, packed, waiting for the outbox */
    bool crossed;
    int crossed_level;
    char crossing_id[CT_UUID_STRLEN + 1];
    uint8_t *payload;
    size_t len;
};

static bool uuid_copy(char *dst, const char *src)
{
    if (!src || !ct_uuid_valid(src) || strlen(src) != CT_UUID_STRLEN)
        return false;
    for (int i = 0; i <= CT_UUID_STRLEN; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] - 'A' + 'a') : src[i];
    return true;
}

/* Checks what telemetry keeps of a site (SiteCreated and SiteUpdated carry
 * the same fields) and copies it into ev. */
static const char *check_site(telemetry_event_t *ev, const char *site_id, const char *customer_id,
                              int capacity_kg, int threshold_pct)
{
    if (!uuid_copy(ev->site_id, site_id))
        return "site_id is not a UUID";
    if (!uuid_copy(ev->customer_id, customer_id))
        return "customer_id is not a UUID";
    if (capacity_kg < 1 || capacity_kg > 1000000)
        return "capacity_kg out of 1..1000000";
    if (threshold_pct < 0 || threshold_pct > 100)
        return "threshold_pct out of 0..100";
    ev->capacity_kg = capacity_kg;
    /* proto3 cannot tell "unset" from 0; a tank never alerting is no choice
     * anyone makes, so 0 means the documented default */
    ev->threshold_pct = threshold_pct ? threshold_pct : TELEMETRY_DEFAULT_THRESHOLD_PCT;
    return NULL;
}

static const char *check_body(telemetry_event_t *ev)
{
    const Citerne__V1__AccountsEvent *m = ev->ev;
    if (m->body_case == CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED) {
        const Citerne__V1__SiteCreated *s = m->site_created;
        ev->site = true;
        ev->version = 1;
        return s ? check_site(ev, s->site_id, s->customer_id, s->capacity_kg, s->threshold_pct)
                 : "site_created is empty";
    }
    if (m->body_case == CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_UPDATED) {
        const Citerne__V1__SiteUpdated *s = m->site_updated;
        ev->site = true;
        if (!s)
            return "site_updated is empty";
        if (s->version < 2)
            return "version is not 2 or more";
        ev->version = s->version;
        return check_site(ev, s->site_id, s->customer_id, s->capacity_kg, s->threshold_pct);
    }
    return NULL;
}

int telemetry_event_decode(const void *data, size_t len, const char *out_topic,
                           telemetry_event_t **out, const char **why)
{
    *out = NULL;
    *why = NULL;
    telemetry_event_t *ev = calloc(1, sizeof *ev);
    if (!ev) {
        *why = "out of memory";
        return -ENOMEM;
    }
    ev->ev = citerne__v1__accounts_event__unpack(NULL, len, data);
    int rc = 0;
    if (!ev->ev) {
        *why = "not an AccountsEvent";
        rc = CT_EDECODE;
    } else if (ct_event_meta_check(ev->ev->meta) != 0) {
        *why = "its meta has no valid event_id or correlation_id";
        rc = CT_EDECODE;
    } else if ((*why = check_body(ev))) {
        rc = CT_EINPUT;
    }
    if (rc != 0) {
        telemetry_event_free(ev);
        return rc;
    }
    ev->out_topic = out_topic;
    *out = ev;
    return 0;
}

const char *telemetry_event_id(const telemetry_event_t *ev)
{
    return ev->ev->meta->event_id;
}

void telemetry_event_free(telemetry_event_t *ev)
{
    if (!ev)
        return;
    if (ev->ev)
        citerne__v1__accounts_event__free_unpacked(ev->ev, NULL);
    free(ev->payload);
    free(ev);
}

static void on_applied(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

static void append_crossing(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    telemetry_event_t *ev = udata;
    ct_outbox_append(tx, ev->out_topic, ev->site_id, ev->payload, ev->len, ev->crossing_id,
                     on_applied);
}

/* The site's latest reading is below its new threshold and its episode was
 * armed: pack the crossing (that reading, the site as it now is), caused by
 * the accounts event. */
static int pack_crossing(telemetry_event_t *ev, int level_pct, int64_t measured_ms,
                         const char *source)
{
    telemetry_crossing_t c = {
        .site_id = ev->site_id,
        .customer_id = ev->customer_id,
        .capacity_kg = ev->capacity_kg,
        .threshold_pct = ev->threshold_pct,
        .level_pct = level_pct,
        .measured_ms = measured_ms,
        .source = source,
    };
    telemetry_crossing_msg_t m;
    telemetry_crossing_init(&m, &c, ev->ev->meta);
    ev->len = citerne__v1__telemetry_event__get_packed_size(&m.ev);
    ev->payload = malloc(ev->len ? ev->len : 1);
    if (!ev->payload)
        return -ENOMEM;
    citerne__v1__telemetry_event__pack(&m.ev, ev->payload);
    memcpy(ev->crossing_id, m.meta.event_id, sizeof ev->crossing_id);
    ev->crossed = true;
    ev->crossed_level = level_pct;
    return 0;
}

static void on_site_locked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    telemetry_event_t *ev = udata;
    const char *cid = ev->ev->meta->correlation_id;
    if (PQntuples(res) == 0) {
        /* SiteCreated was missed (skipped as invalid, or before telemetry
         * kept sites): the update holds the whole site, so it is the row */
        if (ev->version > 1)
            ct_logc_warn(cid, "event %s: SiteUpdated of unknown site %s: added at version %d",
                         ev->ev->meta->event_id, ev->site_id, ev->version);
        telemetry_store_save_site(tx, ev->site_id, ev->customer_id, ev->capacity_kg,
                                  ev->threshold_pct, ev->version, true, on_applied);
        return;
    }
    int stored = (int)ct_db_get_int(res, 0, "version", 1);
    /* a SiteCreated again over a site no update changed is applied, as it
     * was before versions; an update applies only over an older version */
    if (ev->version < stored || (ev->version == stored && ev->version > 1)) {
        ct_logc_info(cid, "event %s: site %s at version %d already, version %d ignored",
                     ev->ev->meta->event_id, ev->site_id, stored, ev->version);
        ct_db_tx_commit(tx);
        return;
    }
    const char *armed = ct_db_get(res, 0, "armed");
    telemetry_episode_t ep = {
        .armed = armed && armed[0] == 't',
        .has_last = ct_db_get(res, 0, "last_level") != NULL,
        .last_measured_ms = ct_db_get_int(res, 0, "last_ms", 0),
    };
    int last_level = (int)ct_db_get_int(res, 0, "last_level", 0);
    ct_db_tx_cb next = on_applied;
    if (telemetry_threshold_changed(&ep, ev->threshold_pct, last_level) == TELEMETRY_STEP_CROSSED) {
        const char *source = ct_db_get(res, 0, "last_source");
        if (pack_crossing(ev, last_level, ep.last_measured_ms, source ? source : "sensor") != 0) {
            ct_db_tx_rollback(tx, CT_EUNAVAIL, "out of memory");
            return;
        }
        next = append_crossing;
    }
    telemetry_store_save_site(tx, ev->site_id, ev->customer_id, ev->capacity_kg, ev->threshold_pct,
                              ev->version, ep.armed, next);
}

void telemetry_event_apply(ct_db_tx_t *tx, void *udata)
{
    telemetry_event_t *ev = udata;
    if (!ev->site) {
        ct_db_tx_commit(tx);
        return;
    }
    telemetry_store_site_for_update(tx, ev->site_id, on_site_locked);
}

static void on_done(int status, void *udata)
{
    telemetry_event_t *ev = udata;
    if (status == 0 && ev->crossed) {
        ct_logc_info(ev->ev->meta->correlation_id,
                     "site %s: new threshold %d%% is above its last level %d%%: crossing %s",
                     ev->site_id, ev->threshold_pct, ev->crossed_level, ev->crossing_id);
        ct_metric_add(ct_metrics_counter("citerne_telemetry_crossings_total",
                                         "Threshold crossings published (one per episode)"),
                      1);
    }
    if (status < 0 && status != CT_EUNAVAIL)
        ct_logc_warn(ev->ev->meta->correlation_id, "event %s: %s", ev->ev->meta->event_id,
                     ct_strerror(status));
    telemetry_event_free(ev);
}

void telemetry_on_message(ct_bus_msg_t *msg, void *udata)
{
    ct_service_t *svc = udata;
    size_t len = 0;
    const void *data = ct_bus_msg_payload(msg, &len);
    telemetry_event_t *ev = NULL;
    const char *why = NULL;
    int rc = telemetry_event_decode(data, len, svc->topic, &ev, &why);
    if (rc == -ENOMEM) {
        ct_bus_msg_done(msg, CT_EUNAVAIL);
        return;
    }
    if (rc != 0) {
        /* counted as undecodable either way (README): a field out of range
         * included */
        ct_consume_skip(msg, CT_SKIP_UNDECODABLE, NULL, "%s%s",
                        rc == CT_EDECODE ? "" : "out of range: ", why ? why : "");
        return;
    }
    ct_inbox_process(svc->db, msg, telemetry_event_id(ev), telemetry_event_apply, on_done, ev);
}
