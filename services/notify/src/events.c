/* notify's consumed events: decode and validate, then (in the inbox
 * transaction) keep the read model and queue one notification per user and
 * channel of the customer. accounts' messages to one person, profiles and
 * closings are in account_events.c. */
#include "events.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/consume.h"
#include "citerne/error.h"
#include "citerne/event.h"
#include "citerne/inbox.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/accounts_snapshot.h"
#include "citerne/v1/accounts.pb-c.h"
#include "citerne/v1/billing.pb-c.h"
#include "citerne/v1/orders.pb-c.h"
#include "events_shared.h"
#include "mail.h"
#include "notify.h"
#include "store.h"

#define TOPIC_ACCOUNTS "citerne.accounts.v1"
#define TOPIC_ORDERS "citerne.orders.v1"
#define TOPIC_BILLING "citerne.billing.v1"
#define MAX_KG 100000
#define MAX_CENTS 1000000000000LL

/* ---- validation helpers (events_shared.h) ---- */

/* Valid UTF-8 without control characters. */
bool notify_field_text_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        int n = *p < 0x80             ? 0
                : (*p & 0xe0) == 0xc0 ? 1
                : (*p & 0xf0) == 0xe0 ? 2
                : (*p & 0xf8) == 0xf0 ? 3
                                      : -1;
        if (n < 0 || (n == 1 && *p < 0xc2) || (n == 3 && *p > 0xf4))
            return false;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xc0) != 0x80)
                return false;
    }
    return true;
}

bool notify_field_text(char *dst, size_t size, const char *s, size_t minlen, size_t maxlen)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    if (n < minlen || n > maxlen || n >= size || !notify_field_text_ok(s))
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

bool notify_field_uuid(const char *s, char *dst)
{
    if (!s || !ct_uuid_valid(s))
        return false;
    if (dst)
        memcpy(dst, s, NOTIFY_UUID_BUF);
    return true;
}

bool notify_field_time_ok(int64_t ms)
{
    return ms >= 946684800000LL && ms <= 253402128000000LL;
}

bool notify_field_one_of(const char *s, const char *const *choices)
{
    for (size_t i = 0; s && choices[i]; i++)
        if (strcmp(s, choices[i]) == 0)
            return true;
    return false;
}

static const char *const speeds[] = {"standard", "express_8d", "express_48h", "express_24h", NULL};
static const char *const modes[] = {"automatic", "on_demand", NULL};
const char *const notify_roles[] = {"admin", "orderer", "viewer", NULL};

static int decode_customer(notify_event_t *ev, const Citerne__V1__CustomerCreated *m,
                           const char **why)
{
    ev->kind = NOTIFY_EV_CUSTOMER;
    NOTIFY_REQUIRE(notify_field_uuid(m->customer_id, ev->customer_id), "customer_id");
    NOTIFY_REQUIRE(notify_field_text(ev->customer_number, sizeof ev->customer_number,
                                     m->customer_number, 1, 32),
                   "customer_number");
    NOTIFY_REQUIRE(notify_field_text(ev->name, sizeof ev->name, m->name, 0, 200), "name");
    return 0;
}

/* The whole customer again, with its version: checked as a CustomerCreated. */
static int decode_customer_updated(notify_event_t *ev, const Citerne__V1__CustomerUpdated *m,
                                   const char **why)
{
    Citerne__V1__CustomerCreated c = ct_customer_updated_view(m);
    ev->version = m->version;
    NOTIFY_REQUIRE(m->version >= 2, "version");
    return decode_customer(ev, &c, why);
}

static int decode_user(notify_event_t *ev, const Citerne__V1__UserCreated *m, const char **why)
{
    ev->kind = NOTIFY_EV_USER;
    NOTIFY_REQUIRE(notify_field_uuid(m->user_id, ev->user_id), "user_id");
    NOTIFY_REQUIRE(notify_field_uuid(m->customer_id, ev->customer_id), "customer_id");
    NOTIFY_REQUIRE(m->email && (!*m->email || notify_email_valid(m->email)), "email");
    snprintf(ev->email, sizeof ev->email, "%s", m->email);
    NOTIFY_REQUIRE(m->phone && (!*m->phone || notify_phone_valid(m->phone)), "phone");
    snprintf(ev->phone, sizeof ev->phone, "%s", m->phone);
    NOTIFY_REQUIRE(notify_field_one_of(m->role, notify_roles), "role");
    snprintf(ev->role, sizeof ev->role, "%s", m->role);
    NOTIFY_REQUIRE(notify_field_text(ev->name, sizeof ev->name, m->name, 0, 200), "name");
    return 0;
}

static int decode_order_proposed(notify_event_t *ev, const Citerne__V1__OrderProposed *m,
                                 const char **why)
{
    ev->kind = NOTIFY_EV_NOTIFIABLE;
    ev->nkind = NOTIFY_KIND_ORDER_PROPOSED;
    NOTIFY_REQUIRE(notify_field_uuid(m->order_id, NULL), "order_id");
    NOTIFY_REQUIRE(notify_field_uuid(m->site_id, NULL), "site_id");
    NOTIFY_REQUIRE(notify_field_uuid(m->customer_id, ev->customer_id), "customer_id");
    NOTIFY_REQUIRE(notify_field_one_of(m->delivery_mode, modes), "delivery_mode");
    ev->automatic = strcmp(m->delivery_mode, "automatic") == 0;
    NOTIFY_REQUIRE(m->quantity_kg >= 1 && m->quantity_kg <= MAX_KG, "quantity_kg");
    ev->quantity_kg = m->quantity_kg;
    NOTIFY_REQUIRE(notify_field_one_of(m->speed, speeds), "speed");
    snprintf(ev->speed, sizeof ev->speed, "%s", m->speed);
    return 0;
}

static int decode_delivery_scheduled(notify_event_t *ev, const Citerne__V1__DeliveryScheduled *m,
                                     const char **why)
{
    ev->kind = NOTIFY_EV_NOTIFIABLE;
    ev->nkind = NOTIFY_KIND_DELIVERY_SCHEDULED;
    NOTIFY_REQUIRE(notify_field_uuid(m->order_id, NULL), "order_id");
    NOTIFY_REQUIRE(notify_field_uuid(m->site_id, NULL), "site_id");
    NOTIFY_REQUIRE(notify_field_uuid(m->customer_id, ev->customer_id), "customer_id");
    NOTIFY_REQUIRE(notify_date_valid(m->delivery_date), "delivery_date");
    snprintf(ev->delivery_date, sizeof ev->delivery_date, "%s", m->delivery_date);
    NOTIFY_REQUIRE(m->quantity_kg >= 1 && m->quantity_kg <= MAX_KG, "quantity_kg");
    ev->quantity_kg = m->quantity_kg;
    NOTIFY_REQUIRE(notify_field_one_of(m->speed, speeds), "speed");
    snprintf(ev->speed, sizeof ev->speed, "%s", m->speed);
    /* who confirmed it (user_id), "" for an automatic order */
    NOTIFY_REQUIRE(m->confirmed_by &&
                       (!*m->confirmed_by || notify_field_uuid(m->confirmed_by, ev->user_id)),
                   "confirmed_by");
    return 0;
}

static int decode_delivery_confirmed(notify_event_t *ev, const Citerne__V1__DeliveryConfirmed *m,
                                     const char **why)
{
    ev->kind = NOTIFY_EV_NOTIFIABLE;
    ev->nkind = NOTIFY_KIND_DELIVERY_CONFIRMED;
    NOTIFY_REQUIRE(notify_field_uuid(m->order_id, NULL), "order_id");
    NOTIFY_REQUIRE(notify_field_uuid(m->site_id, NULL), "site_id");
    NOTIFY_REQUIRE(notify_field_uuid(m->customer_id, ev->customer_id), "customer_id");
    NOTIFY_REQUIRE(notify_date_valid(m->delivery_date), "delivery_date");
    snprintf(ev->delivery_date, sizeof ev->delivery_date, "%s", m->delivery_date);
    NOTIFY_REQUIRE(m->delivered_kg >= 1 && m->delivered_kg <= MAX_KG, "delivered_kg");
    ev->delivered_kg = m->delivered_kg;
    return 0;
}

/* The only reason orders holds an order for; another one has no text here:
 * refused (logged and counted), so that a new reason is noticed rather than
 * silently untold. */
static const char *const hold_reasons[] = {"certificate_missing", NULL};

static int decode_order_held(notify_event_t *ev, const Citerne__V1__OrderHeld *m, const char **why)
{
    ev->kind = NOTIFY_EV_NOTIFIABLE;
    ev->nkind = NOTIFY_KIND_ORDER_HELD;
    NOTIFY_REQUIRE(notify_field_uuid(m->order_id, NULL), "order_id");
    NOTIFY_REQUIRE(notify_field_uuid(m->customer_id, ev->customer_id), "customer_id");
    NOTIFY_REQUIRE(notify_field_uuid(m->site_id, NULL), "site_id");
    NOTIFY_REQUIRE(notify_field_one_of(m->reason, hold_reasons), "reason");
    NOTIFY_REQUIRE(notify_field_time_ok(m->held_at), "held_at");
    ev->at = m->held_at;
    return 0;
}

static int decode_invoice_issued(notify_event_t *ev, const Citerne__V1__InvoiceIssued *m,
                                 const char **why)
{
    ev->kind = NOTIFY_EV_NOTIFIABLE;
    ev->nkind = NOTIFY_KIND_INVOICE_ISSUED;
    NOTIFY_REQUIRE(notify_field_uuid(m->invoice_id, NULL), "invoice_id");
    NOTIFY_REQUIRE(notify_field_uuid(m->customer_id, ev->customer_id), "customer_id");
    NOTIFY_REQUIRE(
        notify_field_text(ev->invoice_number, sizeof ev->invoice_number, m->invoice_number, 1, 32),
        "invoice_number");
    NOTIFY_REQUIRE(notify_date_valid(m->issue_date), "issue_date");
    snprintf(ev->issue_date, sizeof ev->issue_date, "%s", m->issue_date);
    NOTIFY_REQUIRE(m->total_incl_cents >= 0 && m->total_incl_cents <= MAX_CENTS,
                   "total_incl_cents");
    ev->total_incl_cents = m->total_incl_cents;
    return 0;
}

static int decode_meta(notify_event_t *ev, const Citerne__V1__EventMeta *meta)
{
    if (!meta || ct_event_meta_check(meta) != 0)
        return CT_EDECODE;
    memcpy(ev->event_id, meta->event_id, NOTIFY_UUID_BUF);
    memcpy(ev->correlation_id, meta->correlation_id, NOTIFY_UUID_BUF);
    ev->occurred_at = meta->occurred_at;
    return 0;
}

int notify_event_decode(notify_event_t *ev, const char *topic, const void *data, size_t len,
                        const char **why)
{
    const char *keep_topic = ev->topic;
    void *keep_app = ev->app;
    memset(ev, 0, sizeof *ev);
    ev->topic = keep_topic;
    ev->app = keep_app;
    *why = NULL;
    int rc = CT_EDECODE;
    if (!topic)
        return CT_EDECODE;
    if (strcmp(topic, TOPIC_ACCOUNTS) == 0) {
        Citerne__V1__AccountsEvent *m = citerne__v1__accounts_event__unpack(NULL, len, data);
        if (!m)
            return CT_EDECODE;
        if ((rc = decode_meta(ev, m->meta)) == 0) {
            switch (m->body_case) {
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_CREATED:
                ev->version = 1;
                rc = decode_customer(ev, m->customer_created, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_UPDATED:
                rc = decode_customer_updated(ev, m->customer_updated, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_CREATED:
                rc = decode_user(ev, m->user_created, why);
                break;
            default: /* messages to one person, profiles, closings */
                rc = notify_account_decode(ev, m, why);
                break;
            }
        }
        citerne__v1__accounts_event__free_unpacked(m, NULL);
    } else if (strcmp(topic, TOPIC_ORDERS) == 0) {
        Citerne__V1__OrdersEvent *m = citerne__v1__orders_event__unpack(NULL, len, data);
        if (!m)
            return CT_EDECODE;
        if ((rc = decode_meta(ev, m->meta)) == 0) {
            switch (m->body_case) {
            case CITERNE__V1__ORDERS_EVENT__BODY_ORDER_PROPOSED:
                rc = decode_order_proposed(ev, m->order_proposed, why);
                break;
            case CITERNE__V1__ORDERS_EVENT__BODY_DELIVERY_SCHEDULED:
                rc = decode_delivery_scheduled(ev, m->delivery_scheduled, why);
                break;
            case CITERNE__V1__ORDERS_EVENT__BODY_DELIVERY_CONFIRMED:
                rc = decode_delivery_confirmed(ev, m->delivery_confirmed, why);
                break;
            case CITERNE__V1__ORDERS_EVENT__BODY_ORDER_HELD:
                rc = decode_order_held(ev, m->order_held, why);
                break;
            default:
                ev->kind = NOTIFY_EV_IGNORED;
                break;
            }
        }
        citerne__v1__orders_event__free_unpacked(m, NULL);
    } else if (strcmp(topic, TOPIC_BILLING) == 0) {
        Citerne__V1__BillingEvent *m = citerne__v1__billing_event__unpack(NULL, len, data);
        if (!m)
            return CT_EDECODE;
        if ((rc = decode_meta(ev, m->meta)) == 0) {
            if (m->body_case == CITERNE__V1__BILLING_EVENT__BODY_INVOICE_ISSUED)
                rc = decode_invoice_issued(ev, m->invoice_issued, why);
            else
                ev->kind = NOTIFY_EV_IGNORED;
        }
        citerne__v1__billing_event__free_unpacked(m, NULL);
    }
    return rc;
}

/* ---- apply ---- */

void notify_event_stored(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    notify_event_t *ev = udata;
    ev->outcome = NOTIFY_OUT_STORED;
    ct_db_tx_commit(tx);
}

static void on_customer_put(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    notify_event_t *ev = udata;
    const char *old = ct_db_get(res, 0, "old_version");
    if (ct_db_get_int(res, 0, "written", 0) == 0) {
        /* a CustomerCreated again, or an update a newer one overtook */
        ev->outcome = NOTIFY_OUT_STALE;
        if (ev->version > 1)
            ct_logc_info(ev->correlation_id,
                         "event %s: customer %s at version %s already, version %d ignored",
                         ev->event_id, ev->customer_id, old ? old : "?", ev->version);
    } else {
        ev->outcome = NOTIFY_OUT_STORED;
        /* its CustomerCreated was skipped as invalid, or never consumed: the
         * update holds the whole customer, so it makes the row */
        if (!old && ev->version > 1)
            ct_logc_warn(ev->correlation_id,
                         "event %s: update of unknown customer %s: added at version %d",
                         ev->event_id, ev->customer_id, ev->version);
    }
    ct_db_tx_commit(tx);
}

static void on_urgent_recipients(ct_db_tx_t *tx, PGresult *res, void *udata);

static void on_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    notify_event_t *ev = udata;
    ev->created += res ? ct_db_affected(res) : 0;
    ev->outcome = NOTIFY_OUT_QUEUED;
    ct_logc_debug(ev->correlation_id, "event %s: %ld %s notification(s) queued", ev->event_id,
                  ev->created, notify_kind_name(ev->nkind));
    /* an express delivery someone ordered: besides the chain's message, a
     * security notice to the admins and the orderer (README, Rules) */
    if (ev->nkind == NOTIFY_KIND_DELIVERY_SCHEDULED && ev->user_id[0] &&
        strncmp(ev->speed, "express_", 8) == 0) {
        notify_store_admins_and_user(tx, ev->customer_id, ev->user_id, on_urgent_recipients);
        return;
    }
    ct_db_tx_commit(tx);
}

/* urgent_delivery_ordered: by e-mail to each admin and to the orderer (one
 * row per user: the read model holds a user once per customer), whatever
 * their preferences, naming the orderer when notify knows them. */
static void on_urgent_recipients(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    notify_event_t *ev = udata;
    ev->nkind = NOTIFY_KIND_URGENT_DELIVERY;
    notify_facts_t f = {.kind = ev->nkind,
                        .speed = ev->speed,
                        .quantity_kg = ev->quantity_kg,
                        .delivery_date = ev->delivery_date,
                        .orderer_name = "",
                        .orderer_email = ""};
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        if (strcmp(ct_db_get(res, i, "orderer"), "t") == 0) {
            const char *name = ct_db_get(res, i, "name"), *email = ct_db_get(res, i, "email");
            f.orderer_name = name ? name : "";
            f.orderer_email = email ? email : "";
        }
    }
    json_t *rows = json_array();
    notify_message_t *msg = malloc(sizeof *msg);
    if (!rows || !msg) {
        json_decref(rows);
        free(msg);
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *email = ct_db_get(res, i, "email");
        if (!email || !*email)
            continue; /* nowhere to tell them */
        const char *name = ct_db_get(res, i, "name");
        const char *number = ct_db_get(res, i, "customer_number");
        const char *customer = ct_db_get(res, i, "customer_name");
        f.user_name = name ? name : "";
        f.customer_number = number ? number : "";
        f.customer_name = customer ? customer : "";
        f.by_self = strcmp(ct_db_get(res, i, "orderer"), "t") == 0;
        if (notify_render(&f, NOTIFY_CHANNEL_EMAIL, msg) == 0)
            notify_rows_add(rows, ct_db_get(res, i, "user_id"), NOTIFY_CHANNEL_EMAIL, email, msg);
        else
            ct_logc_error(ev->correlation_id, "event %s: e-mail text not rendered", ev->event_id);
    }
    free(msg);
    notify_rows_insert(tx, ev, rows, on_inserted);
}

/* user_id NULL: an invitation, keyed on the address. */
void notify_rows_add(json_t *rows, const char *user_id, notify_channel_t channel,
                     const char *recipient, const notify_message_t *msg)
{
    char id[NOTIFY_UUID_BUF];
    ct_uuid_v7(id);
    json_array_append_new(rows, json_pack("{s:s, s:s?, s:s, s:s, s:s, s:s}", "notification_id", id,
                                          "user_id", user_id, "channel",
                                          notify_channel_name(channel), "recipient", recipient,
                                          "subject", msg->subject, "body", msg->body));
}

/* Inserts rows (consumed) for ev, then goes on with next; nothing to insert
 * goes on at once (with an empty result). */
void notify_rows_insert(ct_db_tx_t *tx, notify_event_t *ev, json_t *rows, ct_db_tx_cb next)
{
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        next(tx, NULL, ev);
        return;
    }
    char *text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    if (!text) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    notify_store_insert_notifications(
        tx, text, ev->customer_id, notify_kind_name(ev->nkind), ev->event_id, ev->correlation_id,
        notify_kind_has_link(ev->nkind) ? ev->link_expires_at : 0, next);
    sodium_memzero(text, strlen(text)); /* it may hold a link */
    free(text);
}

static void on_recipients(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    notify_event_t *ev = udata;
    if (PQntuples(res) == 0) {
        int64_t now = ct_now_ms();
        char missing[64];
        snprintf(missing, sizeof missing, "customer %s", ev->customer_id);
        ev->outcome = ct_consume_orphan_retry(ev->occurred_at, now) ? NOTIFY_OUT_ORPHAN_RETRY
                                                                    : NOTIFY_OUT_ORPHAN_SKIPPED;
        ct_consume_orphan(tx, ev->topic, ev->correlation_id, ev->event_id, ev->occurred_at, now,
                          missing);
        return;
    }
    notify_facts_t f = {
        .kind = ev->nkind,
        .customer_number = ct_db_get(res, 0, "customer_number"),
        .automatic = ev->automatic,
        .speed = ev->speed,
        .quantity_kg = ev->quantity_kg,
        .delivery_date = ev->delivery_date,
        .delivered_kg = ev->delivered_kg,
        .invoice_number = ev->invoice_number,
        .total_incl_cents = ev->total_incl_cents,
        .issue_date = ev->issue_date,
    };
    json_t *rows = json_array();
    notify_message_t *msg = malloc(sizeof *msg);
    for (int i = 0; msg && i < PQntuples(res); i++) {
        const char *user_id = ct_db_get(res, i, "user_id");
        if (!user_id)
            continue; /* a customer without users: nobody to tell */
        const char *email = ct_db_get(res, i, "email");
        const char *phone = ct_db_get(res, i, "phone");
        const char *pref = ct_db_get(res, i, "channel_pref"); /* email, sms, both, none */
        /* a held order waits for the customer: told on every channel, like
         * a kind the profile does not list */
        if (!pref || !notify_kind_has_preference(ev->nkind))
            pref = "both";
        if (strcmp(pref, "email") != 0 && strcmp(pref, "both") != 0)
            email = NULL;
        if (strcmp(pref, "sms") != 0 && strcmp(pref, "both") != 0)
            phone = NULL;
        f.user_name = ct_db_get(res, i, "name");
        if (!f.user_name)
            f.user_name = "";
        if (email && *email) {
            if (notify_render(&f, NOTIFY_CHANNEL_EMAIL, msg) == 0)
                notify_rows_add(rows, user_id, NOTIFY_CHANNEL_EMAIL, email, msg);
            else
                ct_logc_error(ev->correlation_id, "event %s: e-mail text not rendered",
                              ev->event_id);
        }
        if (phone && *phone) {
            if (notify_render(&f, NOTIFY_CHANNEL_SMS, msg) == 0)
                notify_rows_add(rows, user_id, NOTIFY_CHANNEL_SMS, phone, msg);
            else
                ct_logc_error(ev->correlation_id, "event %s: SMS text not rendered", ev->event_id);
        }
    }
    free(msg);
    notify_rows_insert(tx, ev, rows, on_inserted);
}

void notify_event_apply(ct_db_tx_t *tx, void *udata)
{
    notify_event_t *ev = udata;
    switch (ev->kind) {
    case NOTIFY_EV_CUSTOMER:
        notify_store_put_customer(tx, ev->customer_id, ev->customer_number, ev->name, ev->version,
                                  on_customer_put);
        break;
    case NOTIFY_EV_USER:
        notify_store_add_user(tx, ev->user_id, ev->customer_id, ev->email, ev->phone, ev->name,
                              ev->role, notify_event_stored);
        break;
    case NOTIFY_EV_NOTIFIABLE:
        notify_store_recipients(tx, ev->customer_id, notify_kind_name(ev->nkind), on_recipients);
        break;
    case NOTIFY_EV_ACCOUNT:
    case NOTIFY_EV_ROLE:
    case NOTIFY_EV_PROFILE:
    case NOTIFY_EV_CLOSED:
        notify_account_apply(tx, ev);
        break;
    case NOTIFY_EV_IGNORED:
    default:
        ct_db_tx_commit(tx);
        break;
    }
}

/* ---- the consumer ---- */

static void on_processed(int status, void *udata)
{
    notify_event_t *ev = udata;
    notify_app_t *app = ev->app;
    if (status != 0 && ev->outcome != NOTIFY_OUT_ORPHAN_RETRY)
        ct_logc_warn(ev->correlation_id, "event %s of %s not applied: %s", ev->event_id, ev->topic,
                     ct_strerror(status));
    if (status == 0 && ev->created > 0 && app && app->sender)
        notify_sender_kick(app->sender);
    notify_event_wipe(ev);
    free(ev);
}

void notify_event_wipe(notify_event_t *ev)
{
    sodium_memzero(ev->link, sizeof ev->link);
}

void notify_on_message(ct_bus_msg_t *msg, void *udata)
{
    ct_service_t *svc = udata;
    size_t len = 0;
    const void *data = ct_bus_msg_payload(msg, &len);
    const char *topic = ct_bus_msg_topic(msg);
    notify_event_t *ev = calloc(1, sizeof *ev);
    if (!ev) {
        ct_bus_msg_done(msg, CT_EINTERNAL);
        return;
    }
    ev->topic = topic;
    ev->app = svc->udata;
    const char *why = NULL;
    int rc = notify_event_decode(ev, topic, data, len, &why);
    if (rc == CT_EDECODE) {
        ct_consume_skip(msg, CT_SKIP_UNDECODABLE, NULL, "%s", why ? why : "does not decode");
        notify_event_wipe(ev);
        free(ev);
        return;
    }
    if (rc != 0) {
        ct_consume_skip(msg, CT_SKIP_INVALID, ev->correlation_id, "event %s: invalid %s",
                        ev->event_id, why ? why : "field");
        notify_event_wipe(ev);
        free(ev);
        return;
    }
    ct_inbox_process(svc->db, msg, ev->event_id, notify_event_apply, on_processed, ev);
}
