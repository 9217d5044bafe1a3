/* Packed records for notify's tests. */
#include "fixtures.h"

#include <stdlib.h>
#include <string.h>

#include "citerne/id.h"
#include "citerne/v1/accounts.pb-c.h"
#include "citerne/v1/billing.pb-c.h"
#include "citerne/v1/orders.pb-c.h"

static char other_id[37];

static Citerne__V1__EventMeta meta_for(fx_record_t *r, int64_t occurred_at)
{
    Citerne__V1__EventMeta m = CITERNE__V1__EVENT_META__INIT;
    ct_uuid_v7(r->event_id);
    m.event_id = r->event_id;
    m.correlation_id = r->event_id;
    m.causation_id = "";
    m.producer = "test";
    m.occurred_at = occurred_at ? occurred_at : ct_now_ms();
    return m;
}

#define PACK(kind, r, ev)                                                                          \
    do {                                                                                           \
        (r)->len = citerne__v1__##kind##__get_packed_size(ev);                                     \
        (r)->data = malloc((r)->len + 1);                                                          \
        citerne__v1__##kind##__pack((ev), (r)->data);                                              \
    } while (0)

void fx_customer(fx_record_t *r, const char *customer_id, const char *number)
{
    Citerne__V1__EventMeta meta = meta_for(r, 0);
    Citerne__V1__CustomerCreated b = CITERNE__V1__CUSTOMER_CREATED__INIT;
    b.customer_id = (char *)customer_id;
    b.customer_number = (char *)number;
    b.segment = "household";
    b.vat_rate_bp = 2000;
    b.name = "Famille Dupont";
    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.meta = &meta;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_CREATED;
    ev.customer_created = &b;
    PACK(accounts_event, r, &ev);
}

void fx_user(fx_record_t *r, const char *user_id, const char *customer_id, const char *email,
             const char *phone, const char *name)
{
    Citerne__V1__EventMeta meta = meta_for(r, 0);
    Citerne__V1__UserCreated b = CITERNE__V1__USER_CREATED__INIT;
    b.user_id = (char *)user_id;
    b.customer_id = (char *)customer_id;
    b.email = (char *)email;
    b.phone = (char *)phone;
    b.role = "admin";
    b.name = (char *)name;
    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.meta = &meta;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_CREATED;
    ev.user_created = &b;
    PACK(accounts_event, r, &ev);
}

void fx_order_proposed(fx_record_t *r, const char *customer_id, const char *mode, int kg,
                       int64_t occurred_at)
{
    Citerne__V1__EventMeta meta = meta_for(r, occurred_at);
    ct_uuid_v7(other_id);
    Citerne__V1__OrderProposed b = CITERNE__V1__ORDER_PROPOSED__INIT;
    b.order_id = other_id;
    b.site_id = other_id;
    b.customer_id = (char *)customer_id;
    b.delivery_mode = (char *)mode;
    b.quantity_kg = kg;
    b.speed = "standard";
    Citerne__V1__OrdersEvent ev = CITERNE__V1__ORDERS_EVENT__INIT;
    ev.meta = &meta;
    ev.body_case = CITERNE__V1__ORDERS_EVENT__BODY_ORDER_PROPOSED;
    ev.order_proposed = &b;
    PACK(orders_event, r, &ev);
}

void fx_delivery_scheduled(fx_record_t *r, const char *customer_id, const char *date, int kg)
{
    Citerne__V1__EventMeta meta = meta_for(r, 0);
    ct_uuid_v7(other_id);
    Citerne__V1__DeliveryScheduled b = CITERNE__V1__DELIVERY_SCHEDULED__INIT;
    b.order_id = other_id;
    b.site_id = other_id;
    b.customer_id = (char *)customer_id;
    b.delivery_date = (char *)date;
    b.quantity_kg = kg;
    b.speed = "standard";
    Citerne__V1__OrdersEvent ev = CITERNE__V1__ORDERS_EVENT__INIT;
    ev.meta = &meta;
    ev.body_case = CITERNE__V1__ORDERS_EVENT__BODY_DELIVERY_SCHEDULED;
    ev.delivery_scheduled = &b;
    PACK(orders_event, r, &ev);
}

void fx_delivery_confirmed(fx_record_t *r, const char *customer_id, const char *date, int kg)
{
    Citerne__V1__EventMeta meta = meta_for(r, 0);
    ct_uuid_v7(other_id);
    Citerne__V1__DeliveryConfirmed b = CITERNE__V1__DELIVERY_CONFIRMED__INIT;
    b.order_id = other_id;
    b.site_id = other_id;
    b.customer_id = (char *)customer_id;
    b.delivery_date = (char *)date;
    b.delivered_kg = kg;
    b.ordered_kg = kg;
    b.speed = "standard";
    b.delivery_mode = "on_demand";
    b.level_after_pct = 80;
    Citerne__V1__OrdersEvent ev = CITERNE__V1__ORDERS_EVENT__INIT;
    ev.meta = &meta;
    ev.body_case = CITERNE__V1__ORDERS_EVENT__BODY_DELIVERY_CONFIRMED;
    ev.delivery_confirmed = &b;
    PACK(orders_event, r, &ev);
}

void fx_invoice_issued(fx_record_t *r, const char *customer_id, const char *number,
                       int64_t total_incl_cents, const char *issue_date)
{
    Citerne__V1__EventMeta meta = meta_for(r, 0);
    ct_uuid_v7(other_id);
    Citerne__V1__InvoiceIssued b = CITERNE__V1__INVOICE_ISSUED__INIT;
    b.invoice_id = other_id;
    b.invoice_number = (char *)number;
    b.customer_id = (char *)customer_id;
    b.order_id = other_id;
    b.site_id = other_id;
    b.issue_date = (char *)issue_date;
    b.total_incl_cents = total_incl_cents;
    b.customer_number = "C-1";
    Citerne__V1__BillingEvent ev = CITERNE__V1__BILLING_EVENT__INIT;
    ev.meta = &meta;
    ev.body_case = CITERNE__V1__BILLING_EVENT__BODY_INVOICE_ISSUED;
    ev.invoice_issued = &b;
    PACK(billing_event, r, &ev);
}

void fx_free(fx_record_t *r)
{
    free(r->data);
    r->data = NULL;
}
