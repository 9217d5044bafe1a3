/* notify's consumed events: decode and validate, then (in the inbox
 * transaction) keep the read model and queue one notification per user and
 * channel of the customer. */
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
#include "citerne/v1/accounts.pb-c.h"
#include "citerne/v1/billing.pb-c.h"
#include "citerne/v1/orders.pb-c.h"
#include "mail.h"
#include "notify.h"
#include "store.h"

#define TOPIC_ACCOUNTS "citerne.accounts.v1"
#define TOPIC_ORDERS "citerne.orders.v1"
#define TOPIC_BILLING "citerne.billing.v1"
#define MAX_KG 100000
#define MAX_CENTS 1000000000000LL

/* ---- validation helpers ---- */

/* Valid UTF-8 without control characters. */
static bool text_ok(const char *s)
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

static bool copy_text(char *dst, size_t size, const char *s, size_t minlen, size_t maxlen)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    if (n < minlen || n > maxlen || n >= size || !text_ok(s))
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

static bool check_uuid(const char *s, char *dst)
{
    if (!s || !ct_uuid_valid(s))
        return false;
    if (dst)
        memcpy(dst, s, NOTIFY_UUID_BUF);
    return true;
}

static bool one_of(const char *s, const char *const *choices)
{
    for (size_t i = 0; s && choices[i]; i++)
        if (strcmp(s, choices[i]) == 0)
            return true;
    return false;
}

static const char *const speeds[] = {"standard", "express_8d", "express_48h", "express_24h", NULL};
static const char *const modes[] = {"automatic", "on_demand", NULL};
static const char *const roles[] = {"admin", "orderer", "viewer", NULL};

#define REQUIRE(cond, what)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            *why = (what);                                                                         \
            return CT_EINPUT;                                                                      \
        }                                                                                          \
    } while (0)

static int decode_customer(notify_event_t *ev, const Citerne__V1__CustomerCreated *m,
                           const char **why)
{
    ev->kind = NOTIFY_EV_CUSTOMER;
    REQUIRE(check_uuid(m->customer_id, ev->customer_id), "customer_id");
    REQUIRE(copy_text(ev->customer_number, sizeof ev->customer_number, m->customer_number, 1, 32),
            "customer_number");
    REQUIRE(copy_text(ev->name, sizeof ev->name, m->name, 0, 200), "name");
    return 0;
}

static int decode_user(notify_event_t *ev, const Citerne__V1__UserCreated *m, const char **why)
{
    ev->kind = NOTIFY_EV_USER;
    REQUIRE(check_uuid(m->user_id, ev->user_id), "user_id");
    REQUIRE(check_uuid(m->customer_id, ev->customer_id), "customer_id");
    REQUIRE(m->email && (!*m->email || notify_email_valid(m->email)), "email");
    snprintf(ev->email, sizeof ev->email, "%s", m->email);
    REQUIRE(m->phone && (!*m->phone || notify_phone_valid(m->phone)), "phone");
    snprintf(ev->phone, sizeof ev->phone, "%s", m->phone);
    REQUIRE(one_of(m->role, roles), "role");
    snprintf(ev->role, sizeof ev->role, "%s", m->role);
    REQUIRE(copy_text(ev->name, sizeof ev->name, m->name, 0, 200), "name");
    return 0;
}

/* ---- accounts: messages to one person ---- */

/* 2000-01-01 .. 9999-12-30, as notify_format_time takes. */
static bool time_ok(int64_t ms)
{
    return ms >= 946684800000LL && ms <= 253402128000000LL;
}

/* An http(s) URL of printable ASCII without spaces (it goes into an
 * e-mail line as is). */
static bool copy_url(char *dst, size_t size, const char *s)
{
    if (!s || (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
        return false;
    size_t n = strlen(s);
    if (n < 10 || n >= size)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    memcpy(dst, s, n + 1);
    return true;
}

/* An IPv4 or IPv6 address as text, or "" (accounts' "unknown" too: the
 * text then says the address is unknown). */
static bool copy_address(char *dst, size_t size, const char *s)
{
    if (!s || strlen(s) >= size)
        return false;
    if (strcmp(s, "unknown") == 0) {
        dst[0] = '\0';
        return true;
    }
    for (const char *c = s; *c; c++)
        if (!strchr("0123456789abcdefABCDEF.:", *c))
            return false;
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

/* The person an account message goes to: user id, customer id (the
 * partition key: the user's first customer, or the user id), an address
 * (required for a link; otherwise "" means nobody to tell, the read model
 * still follows), a name. */
static int decode_person(notify_event_t *ev, notify_kind_t kind, const char *user_id,
                         const char *customer_id, const char *email, const char *name,
                         const char **why)
{
    ev->kind = NOTIFY_EV_ACCOUNT;
    ev->nkind = kind;
    REQUIRE(check_uuid(user_id, ev->user_id), "user_id");
    REQUIRE(check_uuid(customer_id, ev->customer_id), "customer_id");
    REQUIRE(email && ((!*email && !notify_kind_has_link(kind)) || notify_email_valid(email)),
            "email");
    snprintf(ev->email, sizeof ev->email, "%s", email);
    REQUIRE(copy_text(ev->name, sizeof ev->name, name ? name : "", 0, 200), "name");
    return 0;
}

static int decode_reset(notify_event_t *ev, const Citerne__V1__PasswordResetRequested *m,
                        const char **why)
{
    int rc = decode_person(ev, NOTIFY_KIND_PASSWORD_RESET, m->user_id, m->customer_id, m->email,
                           m->name, why);
    if (rc != 0)
        return rc;
    REQUIRE(copy_url(ev->link, sizeof ev->link, m->reset_url), "reset_url");
    REQUIRE(time_ok(m->expires_at), "expires_at");
    ev->link_expires_at = m->expires_at;
    return 0;
}

static int decode_activation(notify_event_t *ev, const Citerne__V1__ActivationRequested *m,
                             const char **why)
{
    int rc = decode_person(ev, NOTIFY_KIND_ACTIVATION, m->user_id, m->customer_id, m->email,
                           m->name, why);
    if (rc != 0)
        return rc;
    REQUIRE(copy_url(ev->link, sizeof ev->link, m->activation_url), "activation_url");
    REQUIRE(time_ok(m->expires_at), "expires_at");
    ev->link_expires_at = m->expires_at;
    return 0;
}

static int decode_password_changed(notify_event_t *ev, const Citerne__V1__PasswordChanged *m,
                                   const char **why)
{
    static const char *const vias[] = {"reset", "change", NULL};
    int rc = decode_person(ev, NOTIFY_KIND_PASSWORD_CHANGED, m->user_id, m->customer_id, m->email,
                           m->name, why);
    if (rc != 0)
        return rc;
    REQUIRE(one_of(m->via, vias), "via");
    ev->via_reset = strcmp(m->via, "reset") == 0;
    REQUIRE(time_ok(m->changed_at), "changed_at");
    ev->at = m->changed_at;
    return 0;
}

static int decode_totp_disabled(notify_event_t *ev, const Citerne__V1__TotpDisabled *m,
                                const char **why)
{
    int rc = decode_person(ev, NOTIFY_KIND_TOTP_DISABLED, m->user_id, m->customer_id, m->email,
                           m->name, why);
    if (rc != 0)
        return rc;
    ev->with_recovery_code = m->with_recovery_code;
    REQUIRE(time_ok(m->disabled_at), "disabled_at");
    ev->at = m->disabled_at;
    return 0;
}

static int decode_new_device(notify_event_t *ev, const Citerne__V1__NewDeviceSignedIn *m,
                             const char **why)
{
    int rc = decode_person(ev, NOTIFY_KIND_NEW_DEVICE, m->user_id, m->customer_id, m->email,
                           m->name, why);
    if (rc != 0)
        return rc;
    REQUIRE(copy_text(ev->device, sizeof ev->device, m->device ? m->device : "", 0, 200), "device");
    if (strcmp(ev->device, "Unknown device") == 0) /* accounts' label: the text says "inconnu" */
        ev->device[0] = '\0';
    REQUIRE(copy_address(ev->address, sizeof ev->address, m->address), "address");
    REQUIRE(time_ok(m->signed_in_at), "signed_in_at");
    ev->at = m->signed_in_at;
    return 0;
}

static int decode_customer_linked(notify_event_t *ev, const Citerne__V1__CustomerLinked *m,
                                  const char **why)
{
    int rc = decode_person(ev, NOTIFY_KIND_CUSTOMER_LINKED, m->user_id, m->customer_id, m->email,
                           m->name, why);
    if (rc != 0)
        return rc;
    REQUIRE(one_of(m->role, roles), "role");
    snprintf(ev->role, sizeof ev->role, "%s", m->role);
    REQUIRE(time_ok(m->linked_at), "linked_at");
    ev->at = m->linked_at;
    ev->grant = true;
    return 0;
}

static int decode_collaborator_added(notify_event_t *ev, const Citerne__V1__CollaboratorAdded *m,
                                     const char **why)
{
    bool invited = m->activation_url && *m->activation_url;
    int rc = decode_person(
        ev, invited ? NOTIFY_KIND_COLLABORATOR_INVITED : NOTIFY_KIND_COLLABORATOR_ADDED, m->user_id,
        m->customer_id, m->email, m->name, why);
    if (rc != 0)
        return rc;
    REQUIRE(one_of(m->role, roles), "role");
    snprintf(ev->role, sizeof ev->role, "%s", m->role);
    REQUIRE(!m->added_by || !*m->added_by || check_uuid(m->added_by, NULL), "added_by");
    if (invited) {
        REQUIRE(copy_url(ev->link, sizeof ev->link, m->activation_url), "activation_url");
        REQUIRE(time_ok(m->expires_at), "expires_at");
        ev->link_expires_at = m->expires_at;
    } else {
        ev->grant = true; /* an account: it acts for the customer from now on */
    }
    return 0;
}

static int decode_collaborator_removed(notify_event_t *ev,
                                       const Citerne__V1__CollaboratorRemoved *m, const char **why)
{
    int rc = decode_person(ev, NOTIFY_KIND_COLLABORATOR_REMOVED, m->user_id, m->customer_id,
                           m->email, "", why);
    if (rc != 0)
        return rc;
    REQUIRE(!m->removed_by || !*m->removed_by || check_uuid(m->removed_by, NULL), "removed_by");
    ev->by_self = m->removed_by && strcmp(m->removed_by, ev->user_id) == 0;
    ev->revoke = true;
    return 0;
}

static int decode_role_changed(notify_event_t *ev, const Citerne__V1__CollaboratorRoleChanged *m,
                               const char **why)
{
    ev->kind = NOTIFY_EV_ROLE;
    REQUIRE(check_uuid(m->customer_id, ev->customer_id), "customer_id");
    REQUIRE(check_uuid(m->user_id, ev->user_id), "user_id");
    REQUIRE(one_of(m->role, roles), "role");
    snprintf(ev->role, sizeof ev->role, "%s", m->role);
    return 0;
}

/* A kind of message as accounts names it: a-z and "_". Kinds notify does
 * not know yet are kept, for when it does. */
static bool pref_kind_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
            return false;
    return true;
}

static int decode_profile(notify_event_t *ev, const Citerne__V1__UserProfileUpdated *m,
                          const char **why)
{
    static const char *const channels[] = {"email", "sms", "both", "none", NULL};
    ev->kind = NOTIFY_EV_PROFILE;
    REQUIRE(check_uuid(m->user_id, ev->user_id), "user_id");
    REQUIRE(check_uuid(m->customer_id, ev->customer_id), "customer_id");
    REQUIRE(m->email && (!*m->email || notify_email_valid(m->email)), "email");
    snprintf(ev->email, sizeof ev->email, "%s", m->email);
    REQUIRE(m->phone && (!*m->phone || notify_phone_valid(m->phone)), "phone");
    snprintf(ev->phone, sizeof ev->phone, "%s", m->phone);
    REQUIRE(copy_text(ev->name, sizeof ev->name, m->name ? m->name : "", 0, 200), "name");
    REQUIRE(m->n_preferences <= 32, "preferences");
    json_t *prefs = json_object();
    bool ok = prefs != NULL;
    for (size_t i = 0; ok && i < m->n_preferences; i++) {
        const Citerne__V1__NotificationPreference *p = m->preferences[i];
        ok = p && pref_kind_ok(p->kind) && one_of(p->channel, channels) &&
             json_object_set_new(prefs, p->kind, json_string(p->channel)) == 0;
    }
    size_t n = ok ? json_dumpb(prefs, ev->preferences, sizeof ev->preferences - 1,
                               JSON_COMPACT | JSON_SORT_KEYS)
                  : 0;
    json_decref(prefs);
    REQUIRE(ok && n > 0 && n < sizeof ev->preferences, "preferences");
    ev->preferences[n] = '\0';
    return 0;
}

static int decode_closed(notify_event_t *ev, const Citerne__V1__UserClosed *m, const char **why)
{
    ev->kind = NOTIFY_EV_CLOSED;
    REQUIRE(check_uuid(m->user_id, ev->user_id), "user_id");
    for (size_t i = 0; i < m->n_customer_ids; i++)
        REQUIRE(check_uuid(m->customer_ids[i], NULL), "customer_ids");
    /* the key: the first customer, or the user id */
    memcpy(ev->customer_id, m->n_customer_ids ? m->customer_ids[0] : ev->user_id, NOTIFY_UUID_BUF);
    REQUIRE(m->closed_at >= 0, "closed_at");
    ev->at = m->closed_at ? m->closed_at : ev->occurred_at;
    return 0;
}

static int decode_order_proposed(notify_event_t *ev, const Citerne__V1__OrderProposed *m,
                                 const char **why)
{
    ev->kind = NOTIFY_EV_NOTIFIABLE;
    ev->nkind = NOTIFY_KIND_ORDER_PROPOSED;
    REQUIRE(check_uuid(m->order_id, NULL), "order_id");
    REQUIRE(check_uuid(m->site_id, NULL), "site_id");
    REQUIRE(check_uuid(m->customer_id, ev->customer_id), "customer_id");
    REQUIRE(one_of(m->delivery_mode, modes), "delivery_mode");
    ev->automatic = strcmp(m->delivery_mode, "automatic") == 0;
    REQUIRE(m->quantity_kg >= 1 && m->quantity_kg <= MAX_KG, "quantity_kg");
    ev->quantity_kg = m->quantity_kg;
    REQUIRE(one_of(m->speed, speeds), "speed");
    snprintf(ev->speed, sizeof ev->speed, "%s", m->speed);
    return 0;
}

static int decode_delivery_scheduled(notify_event_t *ev, const Citerne__V1__DeliveryScheduled *m,
                                     const char **why)
{
    ev->kind = NOTIFY_EV_NOTIFIABLE;
    ev->nkind = NOTIFY_KIND_DELIVERY_SCHEDULED;
    REQUIRE(check_uuid(m->order_id, NULL), "order_id");
    REQUIRE(check_uuid(m->site_id, NULL), "site_id");
    REQUIRE(check_uuid(m->customer_id, ev->customer_id), "customer_id");
    REQUIRE(notify_date_valid(m->delivery_date), "delivery_date");
    snprintf(ev->delivery_date, sizeof ev->delivery_date, "%s", m->delivery_date);
    REQUIRE(m->quantity_kg >= 1 && m->quantity_kg <= MAX_KG, "quantity_kg");
    ev->quantity_kg = m->quantity_kg;
    REQUIRE(one_of(m->speed, speeds), "speed");
    snprintf(ev->speed, sizeof ev->speed, "%s", m->speed);
    return 0;
}

static int decode_delivery_confirmed(notify_event_t *ev, const Citerne__V1__DeliveryConfirmed *m,
                                     const char **why)
{
    ev->kind = NOTIFY_EV_NOTIFIABLE;
    ev->nkind = NOTIFY_KIND_DELIVERY_CONFIRMED;
    REQUIRE(check_uuid(m->order_id, NULL), "order_id");
    REQUIRE(check_uuid(m->site_id, NULL), "site_id");
    REQUIRE(check_uuid(m->customer_id, ev->customer_id), "customer_id");
    REQUIRE(notify_date_valid(m->delivery_date), "delivery_date");
    snprintf(ev->delivery_date, sizeof ev->delivery_date, "%s", m->delivery_date);
    REQUIRE(m->delivered_kg >= 1 && m->delivered_kg <= MAX_KG, "delivered_kg");
    ev->delivered_kg = m->delivered_kg;
    return 0;
}

static int decode_invoice_issued(notify_event_t *ev, const Citerne__V1__InvoiceIssued *m,
                                 const char **why)
{
    ev->kind = NOTIFY_EV_NOTIFIABLE;
    ev->nkind = NOTIFY_KIND_INVOICE_ISSUED;
    REQUIRE(check_uuid(m->invoice_id, NULL), "invoice_id");
    REQUIRE(check_uuid(m->customer_id, ev->customer_id), "customer_id");
    REQUIRE(copy_text(ev->invoice_number, sizeof ev->invoice_number, m->invoice_number, 1, 32),
            "invoice_number");
    REQUIRE(notify_date_valid(m->issue_date), "issue_date");
    snprintf(ev->issue_date, sizeof ev->issue_date, "%s", m->issue_date);
    REQUIRE(m->total_incl_cents >= 0 && m->total_incl_cents <= MAX_CENTS, "total_incl_cents");
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
                rc = decode_customer(ev, m->customer_created, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_CREATED:
                rc = decode_user(ev, m->user_created, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_PASSWORD_RESET_REQUESTED:
                rc = decode_reset(ev, m->password_reset_requested, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_ACTIVATION_REQUESTED:
                rc = decode_activation(ev, m->activation_requested, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_PASSWORD_CHANGED:
                rc = decode_password_changed(ev, m->password_changed, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_TOTP_DISABLED:
                rc = decode_totp_disabled(ev, m->totp_disabled, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_NEW_DEVICE_SIGNED_IN:
                rc = decode_new_device(ev, m->new_device_signed_in, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_LINKED:
                rc = decode_customer_linked(ev, m->customer_linked, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_ADDED:
                rc = decode_collaborator_added(ev, m->collaborator_added, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_REMOVED:
                rc = decode_collaborator_removed(ev, m->collaborator_removed, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_ROLE_CHANGED:
                rc = decode_role_changed(ev, m->collaborator_role_changed, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_PROFILE_UPDATED:
                rc = decode_profile(ev, m->user_profile_updated, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_CLOSED:
                rc = decode_closed(ev, m->user_closed, why);
                break;
            default:
                ev->kind = NOTIFY_EV_IGNORED;
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

static void on_stored(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    notify_event_t *ev = udata;
    ev->outcome = NOTIFY_OUT_STORED;
    ct_db_tx_commit(tx);
}

static void on_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    notify_event_t *ev = udata;
    ev->created = res ? ct_db_affected(res) : 0;
    ev->outcome = NOTIFY_OUT_QUEUED;
    ct_logc_debug(ev->correlation_id, "event %s: %ld %s notification(s) queued", ev->event_id,
                  ev->created, notify_kind_name(ev->nkind));
    ct_db_tx_commit(tx);
}

/* user_id NULL: an invitation, keyed on the address. */
static void add_row(json_t *rows, const char *user_id, notify_channel_t channel,
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
static void insert_rows(ct_db_tx_t *tx, notify_event_t *ev, json_t *rows, ct_db_tx_cb next)
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
        if (!pref)
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
                add_row(rows, user_id, NOTIFY_CHANNEL_EMAIL, email, msg);
            else
                ct_logc_error(ev->correlation_id, "event %s: e-mail text not rendered",
                              ev->event_id);
        }
        if (phone && *phone) {
            if (notify_render(&f, NOTIFY_CHANNEL_SMS, msg) == 0)
                add_row(rows, user_id, NOTIFY_CHANNEL_SMS, phone, msg);
            else
                ct_logc_error(ev->correlation_id, "event %s: SMS text not rendered", ev->event_id);
        }
    }
    free(msg);
    insert_rows(tx, ev, rows, on_inserted);
}

/* ---- apply: accounts ---- */

static void on_grant_done(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

/* After the message: the read model's grant, given or ended. */
static void on_account_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    notify_event_t *ev = udata;
    ev->created = res ? ct_db_affected(res) : 0;
    ev->outcome = NOTIFY_OUT_QUEUED;
    ct_logc_debug(ev->correlation_id, "event %s: %ld %s notification(s) queued", ev->event_id,
                  ev->created, notify_kind_name(ev->nkind));
    if (ev->grant)
        notify_store_grant(tx, ev->user_id, ev->customer_id, ev->email, ev->name, ev->role,
                           on_grant_done);
    else if (ev->revoke)
        notify_store_revoke(tx, ev->user_id, ev->customer_id, on_grant_done);
    else
        ct_db_tx_commit(tx);
}

static void on_account_context(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    notify_event_t *ev = udata;
    json_t *rows = json_array();
    const char *closed = ct_db_get(res, 0, "closed");
    if (closed && strcmp(closed, "t") == 0) {
        /* the user closed their account: nothing more to them */
        ct_logc_debug(ev->correlation_id, "event %s: user %s closed, not told", ev->event_id,
                      ev->user_id);
        ev->grant = ev->revoke = false;
        insert_rows(tx, ev, rows, on_account_inserted);
        return;
    }
    const char *known_name = ct_db_get(res, 0, "user_name");
    notify_facts_t f = {
        .kind = ev->nkind,
        .user_name = ev->name[0]  ? ev->name
                     : known_name ? known_name
                                  : "",
        .customer_number = ct_db_get(res, 0, "customer_number"),
        .customer_name = ct_db_get(res, 0, "customer_name"),
        .link = ev->link,
        .expires_at = ev->link_expires_at,
        .at = ev->at,
        .via_reset = ev->via_reset,
        .with_recovery_code = ev->with_recovery_code,
        .device = ev->device,
        .address = ev->address,
        .role = ev->role,
        .by_self = ev->by_self,
    };
    notify_message_t *msg = malloc(sizeof *msg);
    if (!msg || !rows) {
        free(msg);
        json_decref(rows);
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    /* e-mail only, whatever the preferences: these are about the account's
     * safety, or carry the link the person asked for */
    if (ev->email[0]) { /* no address: nobody to tell */
        if (notify_render(&f, NOTIFY_CHANNEL_EMAIL, msg) == 0)
            add_row(rows, ev->nkind == NOTIFY_KIND_COLLABORATOR_INVITED ? NULL : ev->user_id,
                    NOTIFY_CHANNEL_EMAIL, ev->email, msg);
        else
            ct_logc_error(ev->correlation_id, "event %s: e-mail text not rendered", ev->event_id);
    }
    sodium_memzero(msg, sizeof *msg);
    free(msg);
    insert_rows(tx, ev, rows, on_account_inserted);
}

void notify_event_apply(ct_db_tx_t *tx, void *udata)
{
    notify_event_t *ev = udata;
    switch (ev->kind) {
    case NOTIFY_EV_CUSTOMER:
        notify_store_add_customer(tx, ev->customer_id, ev->customer_number, ev->name, on_stored);
        break;
    case NOTIFY_EV_USER:
        notify_store_add_user(tx, ev->user_id, ev->customer_id, ev->email, ev->phone, ev->name,
                              ev->role, on_stored);
        break;
    case NOTIFY_EV_NOTIFIABLE:
        notify_store_recipients(tx, ev->customer_id, notify_kind_name(ev->nkind), on_recipients);
        break;
    case NOTIFY_EV_ACCOUNT:
        notify_store_account_context(tx, ev->user_id, ev->customer_id, on_account_context);
        break;
    case NOTIFY_EV_ROLE:
        notify_store_set_role(tx, ev->user_id, ev->customer_id, ev->role, on_stored);
        break;
    case NOTIFY_EV_PROFILE:
        notify_store_set_profile(tx, ev->user_id, ev->email, ev->phone, ev->name, ev->preferences,
                                 ev->occurred_at, on_stored);
        break;
    case NOTIFY_EV_CLOSED:
        notify_store_close_user(tx, ev->user_id, ev->at, on_stored);
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
