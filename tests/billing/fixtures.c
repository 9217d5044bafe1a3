/* Packed records for billing's tests. */
#include "fixtures.h"

#include <stdlib.h>
#include <string.h>

#include "citerne/id.h"
#include "citerne/v1/accounts.pb-c.h"
#include "citerne/v1/orders.pb-c.h"

void fx_customer(fx_record_t *r, const char *customer_id, const char *number, const char *segment,
                 int64_t occurred_at)
{
    Citerne__V1__CustomerCreated b = CITERNE__V1__CUSTOMER_CREATED__INIT;
    b.customer_id = (char *)customer_id;
    b.customer_number = (char *)number;
    b.segment = (char *)segment;
    b.vat_rate_bp = 2000;
    b.name = "Famille Martin";
    CT_TEST_ACCOUNTS_RECORD(r, occurred_at, customer_created, CUSTOMER_CREATED, &b);
}

void fx_contract(fx_record_t *r, const char *contract_id, const char *customer_id, const char *mode,
                 int64_t price_per_tonne_cents, const char *plan)
{
    Citerne__V1__ContractCreated b = CITERNE__V1__CONTRACT_CREATED__INIT;
    b.contract_id = (char *)contract_id;
    b.customer_id = (char *)customer_id;
    b.delivery_mode = (char *)mode;
    b.price_per_tonne_cents = price_per_tonne_cents;
    b.maintenance_plan = (char *)plan;
    CT_TEST_ACCOUNTS_RECORD(r, 0, contract_created, CONTRACT_CREATED, &b);
}

void fx_site(fx_record_t *r, const char *site_id, const char *contract_id, const char *customer_id)
{
    Citerne__V1__SiteCreated b = CITERNE__V1__SITE_CREATED__INIT;
    b.site_id = (char *)site_id;
    b.contract_id = (char *)contract_id;
    b.customer_id = (char *)customer_id;
    b.capacity_kg = 1000;
    b.threshold_pct = 30;
    b.address = "1 rue de la Paix, 75002 Paris";
    b.delivery_mode = "on_demand";
    b.certificate_received = 1;
    CT_TEST_ACCOUNTS_RECORD(r, 0, site_created, SITE_CREATED, &b);
}

void fx_user(fx_record_t *r, const char *user_id, const char *customer_id)
{
    Citerne__V1__UserCreated b = CITERNE__V1__USER_CREATED__INIT;
    b.user_id = (char *)user_id;
    b.customer_id = (char *)customer_id;
    b.email = "marie@example.com";
    b.phone = "";
    b.role = "admin";
    b.name = "Marie";
    CT_TEST_ACCOUNTS_RECORD(r, 0, user_created, USER_CREATED, &b);
}

void fx_customer_updated(fx_record_t *r, const char *customer_id, const char *number,
                         const char *segment, int vat_rate_bp, const char *name, int version)
{
    Citerne__V1__CustomerUpdated b = CITERNE__V1__CUSTOMER_UPDATED__INIT;
    b.customer_id = (char *)customer_id;
    b.customer_number = (char *)number;
    b.segment = (char *)segment;
    b.vat_rate_bp = vat_rate_bp;
    b.name = (char *)name;
    b.version = version;
    CT_TEST_ACCOUNTS_RECORD(r, 0, customer_updated, CUSTOMER_UPDATED, &b);
}

void fx_contract_updated(fx_record_t *r, const char *contract_id, const char *customer_id,
                         const char *mode, int64_t price_per_tonne_cents, const char *plan,
                         int version)
{
    Citerne__V1__ContractUpdated b = CITERNE__V1__CONTRACT_UPDATED__INIT;
    b.contract_id = (char *)contract_id;
    b.customer_id = (char *)customer_id;
    b.delivery_mode = (char *)mode;
    b.price_per_tonne_cents = price_per_tonne_cents;
    b.maintenance_plan = (char *)plan;
    b.version = version;
    CT_TEST_ACCOUNTS_RECORD(r, 0, contract_updated, CONTRACT_UPDATED, &b);
}

void fx_site_updated(fx_record_t *r, const char *site_id, const char *contract_id,
                     const char *customer_id, int version)
{
    Citerne__V1__SiteUpdated b = CITERNE__V1__SITE_UPDATED__INIT;
    b.site_id = (char *)site_id;
    b.contract_id = (char *)contract_id;
    b.customer_id = (char *)customer_id;
    b.capacity_kg = 1000;
    b.threshold_pct = 40;
    b.address = "2 rue de la Paix, 75002 Paris";
    b.delivery_mode = "on_demand";
    b.certificate_received = 1;
    b.version = version;
    CT_TEST_ACCOUNTS_RECORD(r, 0, site_updated, SITE_UPDATED, &b);
}

void fx_delivery(fx_record_t *r, const fx_delivery_t *d)
{
    Citerne__V1__DeliveryConfirmed b = CITERNE__V1__DELIVERY_CONFIRMED__INIT;
    b.order_id = (char *)d->order_id;
    b.site_id = (char *)d->site_id;
    b.customer_id = (char *)d->customer_id;
    b.delivery_date = (char *)d->delivery_date;
    b.delivered_kg = d->delivered_kg;
    b.ordered_kg = d->ordered_kg;
    b.speed = (char *)d->speed;
    b.delivery_mode = (char *)d->mode;
    b.level_after_pct = d->level_after_pct;
    CT_TEST_ORDERS_RECORD(r, d->occurred_at, delivery_confirmed, DELIVERY_CONFIRMED, &b);
}

void fx_order_proposed(fx_record_t *r, const char *order_id, const char *site_id,
                       const char *customer_id)
{
    Citerne__V1__OrderProposed b = CITERNE__V1__ORDER_PROPOSED__INIT;
    b.order_id = (char *)order_id;
    b.site_id = (char *)site_id;
    b.customer_id = (char *)customer_id;
    b.delivery_mode = "on_demand";
    b.quantity_kg = 500;
    b.speed = "standard";
    CT_TEST_ORDERS_RECORD(r, 0, order_proposed, ORDER_PROPOSED, &b);
}

void fx_free(fx_record_t *r)
{
    ct_test_record_free(r);
}
