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
    Citerne__V1__OrderHeld held = CITERNE__V1__ORDER_HELD__INIT;
    ev.meta = &out->meta.meta;
    /* protobuf-c wants char *; the message only lives in this function */
    char *order_id = (char *)o->order_id, *site_id = (char *)o->site_id,
         *customer_id = (char *)o->customer_id, *speed = (char *)o->speed,
         *mode = (char *)o->delivery_mode, *date = (char *)o->delivery_date,
         *confirmed_by = (char *)o->confirmed_by;
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
        scheduled.confirmed_by = confirmed_by;
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
    case ORDERS_EVENT_HELD:
        held.order_id = order_id;
        held.customer_id = customer_id;
        held.site_id = site_id;
        /* the only reason there is: no first delivery without it */
        held.reason = "certificate_missing";
        held.held_at = out->meta.meta.occurred_at;
        ev.body_case = CITERNE__V1__ORDERS_EVENT__BODY_ORDER_HELD;
        ev.order_held = &held;
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

void orders_count_held(void)
{
    ct_metric_inc(ct_metrics_counter("citerne_orders_held_total",
                                     "Orders held until their site's certificate of conformity"));
}

/* ---- consumed events ---- */

typedef enum {
    EV_IGNORED,  /* a kind orders does not use: acknowledged, no effect */
    EV_CUSTOMER, /* CustomerCreated, CustomerUpdated */
    EV_CONTRACT, /* ContractCreated, ContractUpdated */
    EV_SITE,     /* SiteCreated, SiteUpdated */
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
    bool delivered_before; /* of the site, read under its lock */
    int version;           /* of the read model's entity: 1 for a Created */
    bool update;           /* a *Updated event */
    int level_pct;
    int threshold_pct;
    int64_t measured_ms;
    /* the order a crossing opens */
    orders_order_t order;
    orders_packed_t packed[2];
    int npacked, nappended;
    const char *outcome; /* of a crossing, for the metrics once committed */
    bool held;           /* an order was held for the certificate */
    bool released;       /* a held order was scheduled */
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

static const char *check_customer(orders_event_t *ev, const char *customer_id, const char *segment)
{
    ev->kind = EV_CUSTOMER;
    if (!uuid_copy(ev->customer_id, customer_id))
        return "customer_id is not a UUID";
    if (segment && strcmp(segment, "household") == 0)
        ev->segment = "household";
    else if (segment && strcmp(segment, "business") == 0)
        ev->segment = "business";
    else
        return "segment is neither household nor business";
    return NULL;
}

static const char *check_contract(orders_event_t *ev, const char *contract_id,
                                  const char *customer_id, const char *mode)
{
    ev->kind = EV_CONTRACT;
    if (!uuid_copy(ev->contract_id, contract_id))
        return "contract_id is not a UUID";
    if (!uuid_copy(ev->customer_id, customer_id))
        return "customer_id is not a UUID";
    if (!(ev->delivery_mode = mode_of(mode)))
        return "delivery_mode is neither automatic nor on_demand";
    return NULL;
}

/* SiteCreated and SiteUpdated share their first fields. */
static const char *check_site(orders_event_t *ev, const char *site_id, const char *customer_id,
                              const char *contract_id, const char *mode, int capacity_kg,
                              bool certificate_received)
{
    ev->kind = EV_SITE;
    if (!uuid_copy(ev->site_id, site_id))
        return "site_id is not a UUID";
    if (!uuid_copy(ev->customer_id, customer_id))
        return "customer_id is not a UUID";
    if (contract_id && *contract_id && !uuid_copy(ev->contract_id, contract_id))
        return "contract_id is not a UUID";
    /* empty: take the contract's mode (sites only copy it) */
    if (mode && *mode && !(ev->delivery_mode = mode_of(mode)))
        return "delivery_mode is neither automatic nor on_demand";
    if (capacity_kg < 1 || capacity_kg > 1000000)
        return "capacity_kg out of 1..1000000";
    ev->capacity_kg = capacity_kg;
    ev->certificate_received = certificate_received;
    return NULL;
}

/* An update's version: 2, 3, ... (its Created was 1). */
static const char *check_version(orders_event_t *ev, int32_t version)
{
    ev->update = true;
    ev->version = version;
    return version < 2 ? "version of an update out of 2.." : NULL;
}

static const char *check_accounts(orders_event_t *ev)
{
    const Citerne__V1__AccountsEvent *a = ev->accounts;
    const char *bad = NULL;
    ev->version = 1;
    switch (a->body_case) {
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_CREATED: {
        const Citerne__V1__CustomerCreated *c = a->customer_created;
        return c ? check_customer(ev, c->customer_id, c->segment) : "customer_id is not a UUID";
    }
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_UPDATED: {
        const Citerne__V1__CustomerUpdated *c = a->customer_updated;
        if (!c)
            return "customer_id is not a UUID";
        bad = check_customer(ev, c->customer_id, c->segment);
        return bad ? bad : check_version(ev, c->version);
    }
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_CONTRACT_CREATED: {
        const Citerne__V1__ContractCreated *c = a->contract_created;
        return c ? check_contract(ev, c->contract_id, c->customer_id, c->delivery_mode)
                 : "contract_id is not a UUID";
    }
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_CONTRACT_UPDATED: {
        const Citerne__V1__ContractUpdated *c = a->contract_updated;
        if (!c)
            return "contract_id is not a UUID";
        bad = check_contract(ev, c->contract_id, c->customer_id, c->delivery_mode);
        return bad ? bad : check_version(ev, c->version);
    }
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED: {
        const Citerne__V1__SiteCreated *s = a->site_created;
        return s ? check_site(ev, s->site_id, s->customer_id, s->contract_id, s->delivery_mode,
                              s->capacity_kg, s->certificate_received)
                 : "site_id is not a UUID";
    }
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_UPDATED: {
        const Citerne__V1__SiteUpdated *s = a->site_updated;
        if (!s)
            return "site_id is not a UUID";
        bad = check_site(ev, s->site_id, s->customer_id, s->contract_id, s->delivery_mode,
                         s->capacity_kg, s->certificate_received);
        return bad ? bad : check_version(ev, s->version);
    }
    default:
        ev->kind = EV_IGNORED;
        return NULL;
    }
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
    ev->certificate_received = orders_store_bool(res, 0, "certificate_received");
    ev->delivered_before = orders_store_bool(res, 0, "delivered_before");
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
    /* an automatic order is scheduled at once, unless the site may not have
     * its first delivery yet; an on-demand one is proposed either way (the
     * rule applies when the customer confirms it) */
    ev->held =
        automatic && orders_must_wait_certificate(ev->certificate_received, ev->delivered_before);
    if (ev->held) {
        snprintf(o->status, sizeof o->status, "awaiting_certificate");
        ct_logc_info(ev->meta->correlation_id,
                     "order %s held: site %s has no certificate of conformity and no delivery yet",
                     o->order_id, o->site_id);
    } else if (automatic) {
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
        /* the schedule, or the hold that tells the customer what is
         * missing, is caused by the proposal, in the same chain */
        if (orders_pack(ev->held ? ORDERS_EVENT_HELD : ORDERS_EVENT_SCHEDULED, o,
                        &ev->packed[0].meta.meta, &ev->packed[1]) != 0) {
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

/* ---- read models: a site's certificate releases its held order ---- */

static void on_released(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    orders_event_t *ev = udata;
    if (PQntuples(res) != 1) {
        /* cannot happen: the order is locked since on_held */
        ct_db_tx_rollback(tx, CT_EUNAVAIL, "the held order changed under its lock");
        return;
    }
    ev->released = true;
    ct_logc_info(ev->meta->correlation_id,
                 "order %s released by event %s: certificate of site %s received, delivery on %s",
                 ev->order.order_id, ev->meta->event_id, ev->site_id, ev->order.delivery_date);
    append_next(tx, res, ev);
}

static void on_held(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    orders_event_t *ev = udata;
    if (PQntuples(res) == 0) {
        ct_db_tx_commit(tx);
        return;
    }
    orders_order_t *o = &ev->order;
    orders_store_order_from_row(res, 0, o);
    bool automatic = strcmp(o->delivery_mode, "automatic") == 0;
    int32_t day = orders_release_day(automatic, o->speed, orders_paris_day(orders_now(ev->app)));
    if (day < 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "a held order with an unknown speed");
        return;
    }
    snprintf(o->status, sizeof o->status, "scheduled");
    orders_date_format(day, o->delivery_date, sizeof o->delivery_date);
    /* the order's own chain goes on, as when a customer confirms */
    Citerne__V1__EventMeta cause;
    orders_order_cause(o, &cause);
    if (orders_pack(ORDERS_EVENT_SCHEDULED, o, &cause, &ev->packed[0]) != 0) {
        ct_db_tx_rollback(tx, CT_EUNAVAIL, "out of memory");
        return;
    }
    ev->npacked = 1;
    memcpy(o->last_event_id, ev->packed[0].meta.event_id, sizeof o->last_event_id);
    orders_store_schedule(tx, o, "awaiting_certificate", on_released);
}

static const char *const entity_names[] = {
    [EV_CUSTOMER] = "customer",
    [EV_CONTRACT] = "contract",
    [EV_SITE] = "site",
};

static const char *entity_id(const orders_event_t *ev)
{
    if (ev->kind == EV_CUSTOMER)
        return ev->customer_id;
    return ev->kind == EV_CONTRACT ? ev->contract_id : ev->site_id;
}

static void on_put(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    orders_event_t *ev = udata;
    const char *what = entity_names[ev->kind];
    if (PQntuples(res) == 0) {
        ct_logc_debug(ev->meta->correlation_id, "event %s: %s %s version %d is not newer: ignored",
                      ev->meta->event_id, what, entity_id(ev), ev->version);
        ct_db_tx_commit(tx);
        return;
    }
    if (ev->update && !orders_store_bool(res, 0, "known")) {
        /* its Created was skipped or is late: the update carries the whole
         * state, so it is kept as such (the Created, version 1, will then
         * be ignored); said, since it should not happen */
        ct_logc_warn(ev->meta->correlation_id,
                     "event %s: update of %s %s unknown to orders: version %d taken as its state",
                     ev->meta->event_id, what, entity_id(ev), ev->version);
    }
    if (ev->kind == EV_SITE && ev->certificate_received) {
        /* the site's row is locked by the put: a crossing or a
         * confirmation that held an order has committed, and the next ones
         * will read the certificate */
        orders_store_lock_held_order(tx, ev->site_id, on_held);
        return;
    }
    ct_db_tx_commit(tx);
}

void orders_event_apply(ct_db_tx_t *tx, void *udata)
{
    orders_event_t *ev = udata;
    switch (ev->kind) {
    case EV_CUSTOMER:
        orders_store_put_customer(tx, ev->customer_id, ev->segment, ev->version, on_put);
        return;
    case EV_CONTRACT:
        orders_store_put_contract(tx, ev->contract_id, ev->customer_id, ev->delivery_mode,
                                  ev->version, on_put);
        return;
    case EV_SITE: {
        orders_site_t site = {
            .site_id = ev->site_id,
            .customer_id = ev->customer_id,
            .contract_id = ev->contract_id[0] ? ev->contract_id : NULL,
            .delivery_mode = ev->delivery_mode,
            .capacity_kg = ev->capacity_kg,
            .certificate_received = ev->certificate_received,
            .version = ev->version,
        };
        orders_store_put_site(tx, &site, on_put);
        return;
    }
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
    if (status == 0 && ev->held)
        orders_count_held();
    if (status == 0 && ev->released)
        ct_metric_inc(ct_metrics_counter("citerne_orders_released_total",
                                         "Held orders scheduled when the certificate came"));
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
