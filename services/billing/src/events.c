/* billing's consumed events: decode and validate, then (in the inbox
 * transaction) keep the read model and issue an invoice per delivery. */
#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "citerne/consume.h"
#include "citerne/error.h"
#include "citerne/inbox.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/outbox.h"
#include "citerne/accounts_snapshot.h"
#include "citerne/v1/accounts.pb-c.h"
#include "citerne/v1/billing.pb-c.h"
#include "citerne/v1/orders.pb-c.h"
#include "store.h"

#define TOPIC_ACCOUNTS "citerne.accounts.v1"
#define TOPIC_ORDERS "citerne.orders.v1"
#define MAX_KG 100000
#define MAX_PRICE_PER_TONNE_CENTS 10000000

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

/* Copies s (minlen..maxlen bytes of clean text) into dst of size > maxlen. */
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

static bool copy_uuid(char dst[UUID_BUF], const char *s)
{
    if (!s || !ct_uuid_valid(s))
        return false;
    memcpy(dst, s, UUID_BUF);
    return true;
}

#define REQUIRE(cond, what)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            *why = (what);                                                                         \
            return CT_EINPUT;                                                                      \
        }                                                                                          \
    } while (0)

static int decode_customer(billing_event_t *ev, const Citerne__V1__CustomerCreated *m,
                           const char **why)
{
    billing_segment_t seg;
    ev->kind = BILLING_EV_CUSTOMER;
    REQUIRE(copy_uuid(ev->u.customer.customer_id, m->customer_id), "customer_id");
    REQUIRE(
        copy_text(ev->u.customer.number, sizeof ev->u.customer.number, m->customer_number, 1, 32),
        "customer_number");
    REQUIRE(billing_segment_parse(m->segment, &seg) == 0, "segment");
    snprintf(ev->u.customer.segment, sizeof ev->u.customer.segment, "%s", m->segment);
    REQUIRE(m->vat_rate_bp >= 0 && m->vat_rate_bp <= 10000, "vat_rate_bp");
    ev->u.customer.vat_rate_bp = m->vat_rate_bp;
    REQUIRE(copy_text(ev->u.customer.name, sizeof ev->u.customer.name, m->name, 0, 200), "name");
    return 0;
}

static int decode_contract(billing_event_t *ev, const Citerne__V1__ContractCreated *m,
                           const char **why)
{
    billing_mode_t mode;
    billing_plan_t plan;
    ev->kind = BILLING_EV_CONTRACT;
    REQUIRE(copy_uuid(ev->u.contract.contract_id, m->contract_id), "contract_id");
    REQUIRE(copy_uuid(ev->u.contract.customer_id, m->customer_id), "customer_id");
    REQUIRE(billing_mode_parse(m->delivery_mode, &mode) == 0, "delivery_mode");
    snprintf(ev->u.contract.delivery_mode, sizeof ev->u.contract.delivery_mode, "%s",
             m->delivery_mode);
    REQUIRE(m->price_per_tonne_cents >= 1 && m->price_per_tonne_cents <= MAX_PRICE_PER_TONNE_CENTS,
            "price_per_tonne_cents");
    ev->u.contract.price_per_tonne_cents = m->price_per_tonne_cents;
    REQUIRE(billing_plan_parse(m->maintenance_plan, &plan) == 0, "maintenance_plan");
    snprintf(ev->u.contract.plan, sizeof ev->u.contract.plan, "%s", m->maintenance_plan);
    return 0;
}

static int decode_site(billing_event_t *ev, const Citerne__V1__SiteCreated *m, const char **why)
{
    ev->kind = BILLING_EV_SITE;
    REQUIRE(copy_uuid(ev->u.site.site_id, m->site_id), "site_id");
    REQUIRE(copy_uuid(ev->u.site.contract_id, m->contract_id), "contract_id");
    REQUIRE(copy_uuid(ev->u.site.customer_id, m->customer_id), "customer_id");
    return 0;
}

/* An update carries the whole state of its *Created plus a version: it is
 * checked by the same decoder. */
static int decode_customer_updated(billing_event_t *ev, const Citerne__V1__CustomerUpdated *m,
                                   const char **why)
{
    Citerne__V1__CustomerCreated c = ct_customer_updated_view(m);
    ev->version = m->version;
    REQUIRE(m->version >= 2, "version");
    return decode_customer(ev, &c, why);
}

static int decode_contract_updated(billing_event_t *ev, const Citerne__V1__ContractUpdated *m,
                                   const char **why)
{
    Citerne__V1__ContractCreated c = ct_contract_updated_view(m);
    ev->version = m->version;
    REQUIRE(m->version >= 2, "version");
    return decode_contract(ev, &c, why);
}

static int decode_site_updated(billing_event_t *ev, const Citerne__V1__SiteUpdated *m,
                               const char **why)
{
    Citerne__V1__SiteCreated c = ct_site_updated_view(m);
    ev->version = m->version;
    REQUIRE(m->version >= 2, "version");
    return decode_site(ev, &c, why);
}

static int decode_delivery(billing_event_t *ev, const Citerne__V1__DeliveryConfirmed *m,
                           const char **why)
{
    int y, mo, d;
    ev->kind = BILLING_EV_DELIVERY;
    REQUIRE(copy_uuid(ev->u.delivery.order_id, m->order_id), "order_id");
    REQUIRE(copy_uuid(ev->u.delivery.site_id, m->site_id), "site_id");
    REQUIRE(copy_uuid(ev->u.delivery.customer_id, m->customer_id), "customer_id");
    REQUIRE(m->delivery_date && billing_date_parse(m->delivery_date, &y, &mo, &d) == 0,
            "delivery_date");
    memcpy(ev->u.delivery.delivery_date, m->delivery_date, BILLING_DATE_SIZE);
    REQUIRE(m->delivered_kg >= 1 && m->delivered_kg <= MAX_KG, "delivered_kg");
    ev->u.delivery.delivered_kg = m->delivered_kg;
    REQUIRE(m->ordered_kg >= 1 && m->ordered_kg <= MAX_KG, "ordered_kg");
    ev->u.delivery.ordered_kg = m->ordered_kg;
    REQUIRE(billing_speed_parse(m->speed, &ev->u.delivery.speed) == 0, "speed");
    REQUIRE(billing_mode_parse(m->delivery_mode, &ev->u.delivery.mode) == 0, "delivery_mode");
    REQUIRE(m->level_after_pct >= 0 && m->level_after_pct <= 100, "level_after_pct");
    return 0;
}

static int decode_meta(billing_event_t *ev, const Citerne__V1__EventMeta *meta)
{
    if (!meta || ct_event_meta_check(meta) != 0)
        return CT_EDECODE;
    memcpy(ev->event_id, meta->event_id, UUID_BUF);
    memcpy(ev->correlation_id, meta->correlation_id, UUID_BUF);
    ev->occurred_at = meta->occurred_at;
    return 0;
}

int billing_event_decode(billing_event_t *ev, const char *topic, const void *data, size_t len,
                         const char **why)
{
    const char *keep_topic = ev->topic, *keep_out = ev->out_topic;
    memset(ev, 0, sizeof *ev);
    ev->topic = keep_topic;
    ev->out_topic = keep_out;
    *why = NULL;
    int rc = CT_EDECODE;
    if (topic && strcmp(topic, TOPIC_ACCOUNTS) == 0) {
        Citerne__V1__AccountsEvent *m = citerne__v1__accounts_event__unpack(NULL, len, data);
        if (!m)
            return CT_EDECODE;
        rc = decode_meta(ev, m->meta);
        if (rc == 0) {
            ev->version = 1;
            switch (m->body_case) {
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_CREATED:
                rc = decode_customer(ev, m->customer_created, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_CONTRACT_CREATED:
                rc = decode_contract(ev, m->contract_created, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED:
                rc = decode_site(ev, m->site_created, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_UPDATED:
                rc = decode_customer_updated(ev, m->customer_updated, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_CONTRACT_UPDATED:
                rc = decode_contract_updated(ev, m->contract_updated, why);
                break;
            case CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_UPDATED:
                rc = decode_site_updated(ev, m->site_updated, why);
                break;
            default:
                ev->kind = BILLING_EV_IGNORED;
                break;
            }
        }
        citerne__v1__accounts_event__free_unpacked(m, NULL);
    } else if (topic && strcmp(topic, TOPIC_ORDERS) == 0) {
        Citerne__V1__OrdersEvent *m = citerne__v1__orders_event__unpack(NULL, len, data);
        if (!m)
            return CT_EDECODE;
        rc = decode_meta(ev, m->meta);
        if (rc == 0) {
            if (m->body_case == CITERNE__V1__ORDERS_EVENT__BODY_DELIVERY_CONFIRMED)
                rc = decode_delivery(ev, m->delivery_confirmed, why);
            else
                ev->kind = BILLING_EV_IGNORED;
        }
        citerne__v1__orders_event__free_unpacked(m, NULL);
    }
    return rc;
}

/* ---- apply ---- */

/* What a read-model event is about, for the logs. */
static const char *row_name(const billing_event_t *ev, const char **id)
{
    switch (ev->kind) {
    case BILLING_EV_CUSTOMER:
        *id = ev->u.customer.customer_id;
        return "customer";
    case BILLING_EV_CONTRACT:
        *id = ev->u.contract.contract_id;
        return "contract";
    default:
        *id = ev->u.site.site_id;
        return "site";
    }
}

static void on_stored(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    billing_event_t *ev = udata;
    const char *id = NULL, *what = row_name(ev, &id);
    const char *old = ct_db_get(res, 0, "old_version");
    if (ct_db_get_int(res, 0, "written", 0) == 0) {
        /* a *Created again, or an update that a newer one overtook */
        ev->outcome = BILLING_OUT_STALE;
        if (ev->version > 1)
            ct_logc_info(ev->correlation_id,
                         "event %s: %s %s at version %s already, version %d"
                         " ignored",
                         ev->event_id, what, id, old ? old : "?", ev->version);
    } else {
        ev->outcome = BILLING_OUT_STORED;
        /* its *Created was skipped as invalid, or never consumed: the
         * update holds the whole state, so it makes the row */
        if (!old && ev->version > 1)
            ct_logc_warn(ev->correlation_id,
                         "event %s: update of unknown %s %s: added at"
                         " version %d",
                         ev->event_id, what, id, ev->version);
    }
    ct_db_tx_commit(tx);
}

static void on_appended(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    billing_event_t *ev = udata;
    ev->outcome = BILLING_OUT_INVOICED;
    ct_db_tx_commit(tx);
}

/* InvoiceIssued with every line and total, keyed by customer id. */
static int pack_invoice_issued(billing_event_t *ev)
{
    Citerne__V1__EventMeta cause = CITERNE__V1__EVENT_META__INIT;
    cause.event_id = ev->event_id;
    cause.correlation_id = ev->correlation_id;
    ct_event_meta_init(&ev->out_meta, "billing", &cause);

    Citerne__V1__InvoiceLine lines[BILLING_MAX_LINES];
    Citerne__V1__InvoiceLine *line_ptrs[BILLING_MAX_LINES];
    for (size_t i = 0; i < ev->invoice.nlines; i++) {
        const billing_line_t *l = &ev->invoice.lines[i];
        citerne__v1__invoice_line__init(&lines[i]);
        lines[i].label = (char *)l->label;
        lines[i].quantity = l->quantity;
        lines[i].unit_price_cents = l->unit_price_cents;
        lines[i].amount_excl_cents = l->amount_excl_cents;
        lines[i].vat_rate_bp = l->vat_rate_bp;
        line_ptrs[i] = &lines[i];
    }
    Citerne__V1__InvoiceIssued body = CITERNE__V1__INVOICE_ISSUED__INIT;
    body.invoice_id = ev->invoice_id;
    body.invoice_number = ev->number;
    body.customer_id = ev->u.delivery.customer_id;
    body.order_id = ev->u.delivery.order_id;
    body.site_id = ev->u.delivery.site_id;
    body.issue_date = ev->issue_date;
    body.total_excl_cents = ev->invoice.total_excl_cents;
    body.total_vat_cents = ev->invoice.total_vat_cents;
    body.total_incl_cents = ev->invoice.total_incl_cents;
    body.n_lines = ev->invoice.nlines;
    body.lines = line_ptrs;
    body.customer_number = ev->customer_number;

    Citerne__V1__BillingEvent out = CITERNE__V1__BILLING_EVENT__INIT;
    out.meta = &ev->out_meta.meta;
    out.body_case = CITERNE__V1__BILLING_EVENT__BODY_INVOICE_ISSUED;
    out.invoice_issued = &body;
    ev->payload_len = citerne__v1__billing_event__get_packed_size(&out);
    ev->payload = malloc(ev->payload_len ? ev->payload_len : 1);
    if (!ev->payload)
        return CT_EINTERNAL;
    citerne__v1__billing_event__pack(&out, ev->payload);
    return 0;
}

static void on_invoice_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    billing_event_t *ev = udata;
    if (pack_invoice_issued(ev) != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_logc_debug(ev->correlation_id, "invoice %s issued for order %s: %lld cents incl. VAT",
                  ev->number, ev->u.delivery.order_id, (long long)ev->invoice.total_incl_cents);
    ct_outbox_append(tx, ev->out_topic, ev->u.delivery.customer_id, ev->payload, ev->payload_len,
                     ev->out_meta.event_id, on_appended);
}

static void on_seq(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    billing_event_t *ev = udata;
    long long seq = ct_db_get_int(res, 0, "last", 0);
    if (billing_invoice_number(ev->issue_year, seq, ev->number) != 0) {
        ct_logc_error(ev->correlation_id, "invoice sequence of %d exhausted (%lld)", ev->issue_year,
                      seq);
        ct_db_tx_rollback(tx, CT_EINTERNAL, "invoice sequence exhausted");
        return;
    }
    billing_issue_t is = {
        .invoice_id = ev->invoice_id,
        .number = ev->number,
        .year = ev->issue_year,
        .seq = seq,
        .customer_id = ev->u.delivery.customer_id,
        .customer_number = ev->customer_number,
        .order_id = ev->u.delivery.order_id,
        .site_id = ev->u.delivery.site_id,
        .delivery_date = ev->u.delivery.delivery_date,
        .issue_date = ev->issue_date,
        .cause_event_id = ev->event_id,
        .inv = &ev->invoice,
    };
    billing_store_insert_invoice(tx, &is, on_invoice_inserted);
}

static bool is_true(const char *v)
{
    return v && v[0] == 't';
}

/* The read model does not know everything the event refers to yet: retry
 * (the other topic may not have been consumed that far), or give up once the
 * event is older than the retry window. */
static void orphan(ct_db_tx_t *tx, billing_event_t *ev, const char *missing)
{
    int64_t now = ct_now_ms();
    /* set before tx ends: the inbox's done callback reads it, then frees ev */
    ev->outcome = ct_consume_orphan_retry(ev->occurred_at, now) ? BILLING_OUT_ORPHAN_RETRY
                                                                : BILLING_OUT_ORPHAN_SKIPPED;
    ct_consume_orphan(tx, ev->topic, ev->correlation_id, ev->event_id, ev->occurred_at, now,
                      missing);
}

static void on_delivery_context(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    billing_event_t *ev = udata;
    if (ct_db_get(res, 0, "existing_invoice")) {
        ct_logc_info(ev->correlation_id, "order %s already invoiced", ev->u.delivery.order_id);
        ev->outcome = BILLING_OUT_ALREADY_INVOICED;
        ct_db_tx_commit(tx);
        return;
    }
    if (!is_true(ct_db_get(res, 0, "has_customer"))) {
        orphan(tx, ev, "customer");
        return;
    }
    if (!is_true(ct_db_get(res, 0, "has_site"))) {
        orphan(tx, ev, "site");
        return;
    }
    if (!is_true(ct_db_get(res, 0, "has_contract"))) {
        orphan(tx, ev, "contract");
        return;
    }
    const char *site_customer = ct_db_get(res, 0, "site_customer_id");
    if (!site_customer || strcmp(site_customer, ev->u.delivery.customer_id) != 0) {
        ct_logc_error(ev->correlation_id,
                      "event %s: site %s belongs to customer %s, not %s; no invoice", ev->event_id,
                      ev->u.delivery.site_id, site_customer ? site_customer : "?",
                      ev->u.delivery.customer_id);
        ct_consume_count(CT_SKIP_INVALID, ev->topic);
        ev->outcome = BILLING_OUT_REJECTED;
        ct_db_tx_commit(tx);
        return;
    }

    billing_fee_input_t fin = {
        .mode = ev->u.delivery.mode,
        .speed = ev->u.delivery.speed,
        .ordered_kg = ev->u.delivery.ordered_kg,
    };
    int year;
    /* read-model values passed the table's CHECK constraints */
    billing_segment_parse(ct_db_get(res, 0, "segment"), &fin.segment);
    billing_plan_parse(ct_db_get(res, 0, "maintenance_plan"), &fin.plan);
    billing_date_parse(ev->u.delivery.delivery_date, &year, &fin.month, &fin.day);
    billing_fee_t fee = billing_fee(&fin);
    if (fee.downgraded)
        ct_logc_warn(ev->correlation_id,
                     "order %s: express_24h is not available to households, billed as "
                     "express_48h",
                     ev->u.delivery.order_id);
    billing_delivery_t d = {
        .delivered_kg = ev->u.delivery.delivered_kg,
        .price_per_tonne_cents = ct_db_get_int(res, 0, "price_per_tonne_cents", 0),
        .fee = fee,
    };
    billing_invoice_for_delivery(&d, &ev->invoice);
    snprintf(ev->customer_number, sizeof ev->customer_number, "%s",
             ct_db_get(res, 0, "customer_number"));
    billing_issue_date(ev->u.delivery.delivery_date, ev->issue_date, &ev->issue_year);
    ct_uuid_v7(ev->invoice_id);
    billing_store_next_seq(tx, ev->issue_year, on_seq);
}

void billing_event_apply(ct_db_tx_t *tx, void *udata)
{
    billing_event_t *ev = udata;
    switch (ev->kind) {
    case BILLING_EV_CUSTOMER:
        billing_store_put_customer(tx, ev->u.customer.customer_id, ev->u.customer.number,
                                   ev->u.customer.segment, ev->u.customer.vat_rate_bp,
                                   ev->u.customer.name, ev->version, on_stored);
        break;
    case BILLING_EV_CONTRACT:
        billing_store_put_contract(tx, ev->u.contract.contract_id, ev->u.contract.customer_id,
                                   ev->u.contract.delivery_mode,
                                   ev->u.contract.price_per_tonne_cents, ev->u.contract.plan,
                                   ev->version, on_stored);
        break;
    case BILLING_EV_SITE:
        billing_store_put_site(tx, ev->u.site.site_id, ev->u.site.contract_id,
                               ev->u.site.customer_id, ev->version, on_stored);
        break;
    case BILLING_EV_DELIVERY:
        billing_store_delivery_context(tx, ev->u.delivery.order_id, ev->u.delivery.site_id,
                                       ev->u.delivery.customer_id, on_delivery_context);
        break;
    case BILLING_EV_IGNORED:
    default:
        ct_db_tx_commit(tx);
        break;
    }
}

void billing_event_dispose(billing_event_t *ev)
{
    free(ev->payload);
    ev->payload = NULL;
}

/* ---- the consumer ---- */

static void on_processed(int status, void *udata)
{
    billing_event_t *ev = udata;
    if (status != 0 && ev->outcome != BILLING_OUT_ORPHAN_RETRY)
        ct_logc_warn(ev->correlation_id, "event %s of %s not applied: %s", ev->event_id, ev->topic,
                     ct_strerror(status));
    billing_event_dispose(ev);
    free(ev);
}

void billing_on_message(ct_bus_msg_t *msg, void *udata)
{
    ct_service_t *svc = udata;
    size_t len = 0;
    const void *data = ct_bus_msg_payload(msg, &len);
    const char *topic = ct_bus_msg_topic(msg);
    billing_event_t *ev = calloc(1, sizeof *ev);
    if (!ev) {
        ct_bus_msg_done(msg, CT_EINTERNAL);
        return;
    }
    ev->topic = topic;
    ev->out_topic = svc->topic;
    const char *why = NULL;
    int rc = billing_event_decode(ev, topic, data, len, &why);
    if (rc == CT_EDECODE) {
        ct_consume_skip(msg, CT_SKIP_UNDECODABLE, NULL, "%s", why ? why : "does not decode");
        free(ev);
        return;
    }
    if (rc != 0) {
        ct_consume_skip(msg, CT_SKIP_INVALID, ev->correlation_id, "event %s: invalid %s",
                        ev->event_id, why ? why : "field");
        free(ev);
        return;
    }
    ct_inbox_process(svc->db, msg, ev->event_id, billing_event_apply, on_processed, ev);
}
