#include "events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/consume.h"
#include "citerne/error.h"
#include "citerne/inbox.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/outbox.h"
#include "citerne/v1/accounts.pb-c.h"
#include "citerne/v1/orders.pb-c.h"
#include "citerne/v1/telemetry.pb-c.h"

#include "calendar.h"
#include "delivery.h"
#include "quantity.h"
#include "store.h"

#define TOPIC_ACCOUNTS "citerne.accounts.v1"
#define TOPIC_TELEMETRY "citerne.telemetry.v1"

/* ---- emitted events ---- */

int orders_pack(orders_event_kind_t kind, const orders_order_t *o,
                const Citerne__V1__EventMeta *cause, orders_packed_t *out)
{
    memset(out, 0, sizeof *out);
    ct_event_meta_init(&out->meta, "orders", cause);
    Citerne__V1__OrdersEvent ev = CITERNE__V1__ORDERS_EVENT__INIT;
    Citerne__V1__OrderProposed proposed = CITERNE__V1__ORDER_PROPOSED__INIT;
    Citerne__V1__DeliveryScheduled scheduled = CITERNE__V1__DELIVERY_SCHEDULED__INIT;
    Citerne__V1__DeliveryConfirmed confirmed = CITERNE__V1__DELIVERY_CONFIRMED__INIT;
    ev.meta = &out->meta.meta;
    /* protobuf-c wants char *; the message only lives in this function */
    char *order_id = (char *)o->order_id, *site_id = (char *)o->site_id,
         *customer_id = (char *)o->customer_id, *speed = (char *)o->speed,
         *mode = (char *)o->delivery_mode, *date = (char *)o->delivery_date;
    switch (kind) {
    case ORDERS_EVENT_PROPOSED:
        proposed.order_id = order_id;
        proposed.site_id = site_id;
        proposed.customer_id = customer_id;
        proposed.delivery_mode = mode;
        proposed.quantity_kg = o->quantity_kg;
        proposed.speed = speed;
        ev.body_case = CITERNE__V1__ORDERS_EVENT__BODY_ORDER_PROPOSED;
        ev.order_proposed = &proposed;
        break;
    case ORDERS_EVENT_SCHEDULED:
        scheduled.order_id = order_id;
        scheduled.site_id = site_id;
        scheduled.customer_id = customer_id;
        scheduled.delivery_date = date;
        scheduled.quantity_kg = o->quantity_kg;
        scheduled.speed = speed;
        ev.body_case = CITERNE__V1__ORDERS_EVENT__BODY_DELIVERY_SCHEDULED;
        ev.delivery_scheduled = &scheduled;
        break;
    case ORDERS_EVENT_CONFIRMED:
        confirmed.order_id = order_id;
        confirmed.site_id = site_id;
        confirmed.customer_id = customer_id;
        confirmed.delivery_date = date;
        confirmed.delivered_kg = o->delivered_kg;
        confirmed.ordered_kg = o->quantity_kg;
        confirmed.speed = speed;
        confirmed.delivery_mode = mode;
        confirmed.level_after_pct = o->level_after_pct;
        ev.body_case = CITERNE__V1__ORDERS_EVENT__BODY_DELIVERY_CONFIRMED;
        ev.delivery_confirmed = &confirmed;
        break;
    }
    out->len = citerne__v1__orders_event__get_packed_size(&ev);
    out->payload = malloc(out->len ? out->len : 1);
    if (!out->payload)
        return -ENOMEM;
    citerne__v1__orders_event__pack(&ev, out->payload);
    return 0;
}

void orders_packed_dispose(orders_packed_t *p)
{
    free(p->payload);
    p->payload = NULL;
    p->len = 0;
}

void orders_order_cause(const orders_order_t *o, Citerne__V1__EventMeta *cause)
{
    citerne__v1__event_meta__init(cause);
    cause->event_id = (char *)o->last_event_id;
    cause->correlation_id = (char *)o->correlation_id;
}

/* ---- consumed events ---- */

typedef enum {
    EV_IGNORED,  /* a kind orders does not use: acknowledged, no effect */
    EV_CUSTOMER, /* CustomerCreated */
    EV_CONTRACT, /* ContractCreated */
    EV_SITE,     /* SiteCreated */
    EV_CROSSING, /* TankThresholdCrossed */
} ev_kind_t;

struct orders_event {
    orders_app_t *app;
    const char *topic;
    ev_kind_t kind;
    Citerne__V1__AccountsEvent *accounts;
    Citerne__V1__TelemetryEvent *telemetry;
    const Citerne__V1__EventMeta *meta; /* of whichever is set */
    /* validated fields, lower-case ids */
    char site_id[CT_UUID_STRLEN + 1];
    char customer_id[CT_UUID_STRLEN + 1];
    char contract_id[CT_UUID_STRLEN + 1]; /* "" when none */
    const char *delivery_mode;            /* static string or NULL */
    const char *segment;                  /* static string */
    const char *source;                   /* static string */
    int capacity_kg;
    bool certificate_received;
    int level_pct;
    int threshold_pct;
    int64_t measured_ms;
    /* the order a crossing opens */
    orders_order_t order;
    orders_packed_t packed[2];
    int npacked, nappended;
    const char *outcome; /* of a crossing, for the metrics once committed */
};

static bool uuid_copy(char *dst, const char *src)
{
    if (!src || !ct_uuid_valid(src) || strlen(src) != CT_UUID_STRLEN)
        return false;
    for (int i = 0; i <= CT_UUID_STRLEN; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] - 'A' + 'a') : src[i];
    return true;
}

/* "automatic" / "on_demand" as a static string; NULL for anything else. */
static const char *mode_of(const char *s)
{
    if (s && strcmp(s, "automatic") == 0)
        return "automatic";
    if (s && strcmp(s, "on_demand") == 0)
        return "on_demand";
    return NULL;
}

static const char *check_accounts(orders_event_t *ev)
{
    const Citerne__V1__AccountsEvent *a = ev->accounts;
    if (a->body_case == CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_CREATED) {
        const Citerne__V1__CustomerCreated *c = a->customer_created;
        ev->kind = EV_CUSTOMER;
        if (!c || !uuid_copy(ev->customer_id, c->customer_id))
            return "customer_id is not a UUID";
        if (c->segment && strcmp(c->segment, "household") == 0)
            ev->segment = "household";
        else if (c->segment && strcmp(c->segment, "business") == 0)
            ev->segment = "business";
        else
            return "segment is neither household nor business";
        return NULL;
    }
    if (a->body_case == CITERNE__V1__ACCOUNTS_EVENT__BODY_CONTRACT_CREATED) {
        const Citerne__V1__ContractCreated *c = a->contract_created;
        ev->kind = EV_CONTRACT;
        if (!c || !uuid_copy(ev->contract_id, c->contract_id))
            return "contract_id is not a UUID";
        if (!uuid_copy(ev->customer_id, c->customer_id))
            return "customer_id is not a UUID";
        if (!(ev->delivery_mode = mode_of(c->delivery_mode)))
            return "delivery_mode is neither automatic nor on_demand";
        return NULL;
    }
    if (a->body_case == CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED) {
        const Citerne__V1__SiteCreated *s = a->site_created;
        ev->kind = EV_SITE;
        if (!s || !uuid_copy(ev->site_id, s->site_id))
            return "site_id is not a UUID";
        if (!uuid_copy(ev->customer_id, s->customer_id))
            return "customer_id is not a UUID";
        if (s->contract_id && *s->contract_id && !uuid_copy(ev->contract_id, s->contract_id))
            return "contract_id is not a UUID";
        /* empty: take the contract's mode (SiteCreated only copies it) */
        if (s->delivery_mode && *s->delivery_mode &&
            !(ev->delivery_mode = mode_of(s->delivery_mode)))
            return "delivery_mode is neither automatic nor on_demand";
        if (s->capacity_kg < 1 || s->capacity_kg > 1000000)
            return "capacity_kg out of 1..1000000";
        ev->capacity_kg = s->capacity_kg;
        ev->certificate_received = s->certificate_received;
        return NULL;
    }
    ev->kind = EV_IGNORED;
    return NULL;
}

static const char *check_telemetry(orders_event_t *ev)
{
    const Citerne__V1__TelemetryEvent *t = ev->telemetry;
    if (t->body_case != CITERNE__V1__TELEMETRY_EVENT__BODY_THRESHOLD_CROSSED) {
        ev->kind = EV_IGNORED;
        return NULL;
    }
    const Citerne__V1__TankThresholdCrossed *c = t->threshold_crossed;
    ev->kind = EV_CROSSING;
    if (!c || !uuid_copy(ev->site_id, c->site_id))
        return "site_id is not a UUID";
    if (c->level_pct < 0 || c->level_pct > 100)
        return "level_pct out of 0..100";
    if (c->threshold_pct < 0 || c->threshold_pct > 100)
        return "threshold_pct out of 0..100";
    if (c->measured_at <= 0)
        return "measured_at is not a time";
    static const char *const sources[] = {"sensor", "customer", "driver"};
    ev->source = NULL;
    for (size_t i = 0; i < 3; i++)
        if (c->source && strcmp(c->source, sources[i]) == 0)
            ev->source = sources[i];
    if (!c->source || !*c->source)
        ev->source = sources[0];
    if (!ev->source)
        return "source is not sensor, customer or driver";
    ev->level_pct = c->level_pct;
    ev->threshold_pct = c->threshold_pct;
    ev->measured_ms = c->measured_at;
    return NULL;
}

int orders_event_decode(orders_app_t *app, const char *topic, const void *data, size_t len,
                        orders_event_t **out, const char **why)
{
    *out = NULL;
    *why = NULL;
    orders_event_t *ev = calloc(1, sizeof *ev);
    if (!ev) {
        *why = "out of memory";
        return -ENOMEM;
    }
    ev->app = app;
    const char *bad = NULL;
    int rc = 0;
    if (topic && strcmp(topic, TOPIC_ACCOUNTS) == 0) {
        ev->topic = TOPIC_ACCOUNTS;
        ev->accounts = citerne__v1__accounts_event__unpack(NULL, len, data);
        if (!ev->accounts) {
            bad = "not an AccountsEvent";
            rc = CT_EDECODE;
        } else {
            ev->meta = ev->accounts->meta;
        }
    } else if (topic && strcmp(topic, TOPIC_TELEMETRY) == 0) {
        ev->topic = TOPIC_TELEMETRY;
        ev->telemetry = citerne__v1__telemetry_event__unpack(NULL, len, data);
        if (!ev->telemetry) {
            bad = "not a TelemetryEvent";
            rc = CT_EDECODE;
        } else {
            ev->meta = ev->telemetry->meta;
        }
    } else {
        bad = "a topic orders does not consume";
        rc = CT_EDECODE;
    }
    if (rc == 0 && ct_event_meta_check(ev->meta) != 0) {
        bad = "its meta has no valid event_id or correlation_id";
        rc = CT_EDECODE;
    }
    if (rc == 0) {
        bad = ev->accounts ? check_accounts(ev) : check_telemetry(ev);
        if (bad)
            rc = CT_EINPUT;
    }
    if (rc != 0) {
        *why = bad;
        orders_event_free(ev);
        return rc;
    }
    *out = ev;
    return 0;
}

const char *orders_event_id(const orders_event_t *ev)
{
    return ev->meta->event_id;
}

const char *orders_event_cid(const orders_event_t *ev)
{
    return ev->meta->correlation_id;
}

void orders_event_free(orders_event_t *ev)
{
    if (!ev)
        return;
    for (int i = 0; i < ev->npacked; i++)
        orders_packed_dispose(&ev->packed[i]);
    if (ev->accounts)
        citerne__v1__accounts_event__free_unpacked(ev->accounts, NULL);
    if (ev->telemetry)
        citerne__v1__telemetry_event__free_unpacked(ev->telemetry, NULL);
    free(ev);
}

static void step_commit(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

static void append_next(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    orders_event_t *ev = udata;
    if (ev->nappended == ev->npacked) {
        ct_db_tx_commit(tx);
        return;
    }
    orders_packed_t *p = &ev->packed[ev->nappended++];
    ct_outbox_append(tx, ev->app->svc->topic, ev->order.site_id, p->payload, p->len,
                     p->meta.event_id, append_next);
}

static void on_order_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    orders_event_t *ev = udata;
    orders_store_record_crossing(tx, ev->meta->event_id, ev->site_id, ev->level_pct,
                                 ev->threshold_pct, (long long)ev->measured_ms, ev->source,
                                 "ordered", ev->order.order_id, append_next);
}

static void on_open_order(ct_db_tx_t *tx, PGresult *res, void *udata);

static void on_site_locked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    orders_event_t *ev = udata;
    if (PQntuples(res) == 0) {
        /* SiteCreated comes on another topic and may not be here yet */
        char missing[64];
        snprintf(missing, sizeof missing, "site %s", ev->site_id);
        ct_consume_orphan(tx, ev->topic, ev->meta->correlation_id, ev->meta->event_id,
                          ev->meta->occurred_at, orders_now(ev->app), missing);
        return;
    }
    /* kept for the next step: res is gone once this callback returns */
    snprintf(ev->customer_id, sizeof ev->customer_id, "%s", ct_db_get(res, 0, "customer_id"));
    ev->delivery_mode = mode_of(ct_db_get(res, 0, "delivery_mode"));
    ev->capacity_kg = (int)ct_db_get_int(res, 0, "capacity_kg", 0);
    /* a statement of its own, after the lock: under READ COMMITTED it sees
     * an order committed by a crossing that held the lock before us */
    orders_store_open_order(tx, ev->site_id, on_open_order);
}

static void on_open_order(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    orders_event_t *ev = udata;
    int64_t now = orders_now(ev->app);
    const char *open = PQntuples(res) > 0 ? ct_db_get(res, 0, "order_id") : NULL;
    if (open) {
        ev->outcome = "ignored";
        ct_logc_debug(ev->meta->correlation_id, "crossing %s: site %s has open order %s: ignored",
                      ev->meta->event_id, ev->site_id, open);
        orders_store_record_crossing(tx, ev->meta->event_id, ev->site_id, ev->level_pct,
                                     ev->threshold_pct, (long long)ev->measured_ms, ev->source,
                                     "open_order", open, step_commit);
        return;
    }

    orders_order_t *o = &ev->order;
    memset(o, 0, sizeof *o);
    ct_uuid_v7(o->order_id);
    memcpy(o->site_id, ev->site_id, sizeof o->site_id);
    memcpy(o->customer_id, ev->customer_id, sizeof o->customer_id);
    bool automatic = ev->delivery_mode && strcmp(ev->delivery_mode, "automatic") == 0;
    snprintf(o->delivery_mode, sizeof o->delivery_mode, "%s",
             automatic ? "automatic" : "on_demand");
    o->quantity_kg = orders_quantity_proposed(ev->capacity_kg, ev->level_pct);
    snprintf(o->speed, sizeof o->speed, "standard");
    o->level_after_pct = -1;
    if (automatic) {
        snprintf(o->status, sizeof o->status, "scheduled");
        int32_t day =
            orders_automatic_delivery_day(orders_paris_day(ev->measured_ms), orders_paris_day(now));
        orders_date_format(day, o->delivery_date, sizeof o->delivery_date);
    } else {
        snprintf(o->status, sizeof o->status, "proposed");
    }
    if (orders_pack(ORDERS_EVENT_PROPOSED, o, ev->meta, &ev->packed[0]) != 0) {
        ct_db_tx_rollback(tx, CT_EUNAVAIL, "out of memory");
        return;
    }
    ev->npacked = 1;
    if (automatic) {
        /* the schedule is caused by the proposal, in the same chain */
        if (orders_pack(ORDERS_EVENT_SCHEDULED, o, &ev->packed[0].meta.meta, &ev->packed[1]) != 0) {
            ct_db_tx_rollback(tx, CT_EUNAVAIL, "out of memory");
            return;
        }
        ev->npacked = 2;
    }
    memcpy(o->correlation_id, ev->packed[0].meta.correlation_id, sizeof o->correlation_id);
    memcpy(o->last_event_id, ev->packed[ev->npacked - 1].meta.event_id, sizeof o->last_event_id);
    ev->outcome = automatic ? "automatic" : "on_demand";
    ct_logc_debug(ev->meta->correlation_id, "crossing %s: order %s of %d kg, %s",
                  ev->meta->event_id, o->order_id, o->quantity_kg, o->status);
    orders_store_insert_order(tx, o, on_order_inserted);
}

void orders_event_apply(ct_db_tx_t *tx, void *udata)
{
    orders_event_t *ev = udata;
    switch (ev->kind) {
    case EV_CUSTOMER:
        orders_store_upsert_customer(tx, ev->customer_id, ev->segment, step_commit);
        return;
    case EV_CONTRACT:
        orders_store_upsert_contract(tx, ev->contract_id, ev->customer_id, ev->delivery_mode,
                                     step_commit);
        return;
    case EV_SITE:
        orders_store_upsert_site(tx, ev->site_id, ev->customer_id,
                                 ev->contract_id[0] ? ev->contract_id : NULL, ev->delivery_mode,
                                 ev->capacity_kg, ev->certificate_received, step_commit);
        return;
    case EV_CROSSING:
        orders_store_lock_site(tx, ev->site_id, on_site_locked);
        return;
    case EV_IGNORED:
        break;
    }
    ct_db_tx_commit(tx);
}

static void on_inbox_done(int status, void *udata)
{
    orders_event_t *ev = udata;
    if (status == 0 && ev->outcome) {
        if (strcmp(ev->outcome, "ignored") == 0) {
            ct_metric_inc(ct_metrics_counter("citerne_orders_crossings_ignored_total",
                                             "Crossings ignored: the site had an open order"));
        } else {
            char name[96];
            snprintf(name, sizeof name, "citerne_orders_opened_total{mode=\"%s\"}", ev->outcome);
            ct_metric_inc(ct_metrics_counter(name, "Orders opened by a threshold crossing"));
        }
    }
    if (status < 0 && status != CT_EUNAVAIL)
        ct_logc_warn(ev->meta->correlation_id, "event %s: %s", ev->meta->event_id,
                     ct_strerror(status));
    orders_event_free(ev);
}

void orders_on_message(ct_bus_msg_t *msg, void *udata)
{
    ct_service_t *svc = udata;
    orders_app_t *app = svc->udata;
    const char *topic = ct_bus_msg_topic(msg);
    size_t len = 0;
    const void *data = ct_bus_msg_payload(msg, &len);
    orders_event_t *ev = NULL;
    const char *why = NULL;
    int rc = orders_event_decode(app, topic, data, len, &ev, &why);
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
    ct_inbox_process(svc->db, msg, orders_event_id(ev), orders_event_apply, on_inbox_done, ev);
}
