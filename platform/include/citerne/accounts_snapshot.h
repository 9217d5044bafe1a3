/* Accounts' *Updated events carry the whole state of their *Created plus a
 * version (proto/citerne/v1/accounts.proto). A consumer that checks a
 * Created with a decoder of its own checks an Updated with the same one,
 * through these views: the strings are the update's, not copies, so the
 * view lives no longer than the message it was taken from. */
#ifndef CITERNE_ACCOUNTS_SNAPSHOT_H
#define CITERNE_ACCOUNTS_SNAPSHOT_H

#include "citerne/v1/accounts.pb-c.h"

static inline Citerne__V1__CustomerCreated
ct_customer_updated_view(const Citerne__V1__CustomerUpdated *m)
{
    Citerne__V1__CustomerCreated c = CITERNE__V1__CUSTOMER_CREATED__INIT;
    c.customer_id = m->customer_id;
    c.customer_number = m->customer_number;
    c.segment = m->segment;
    c.vat_rate_bp = m->vat_rate_bp;
    c.name = m->name;
    return c;
}

static inline Citerne__V1__ContractCreated
ct_contract_updated_view(const Citerne__V1__ContractUpdated *m)
{
    Citerne__V1__ContractCreated c = CITERNE__V1__CONTRACT_CREATED__INIT;
    c.contract_id = m->contract_id;
    c.customer_id = m->customer_id;
    c.delivery_mode = m->delivery_mode;
    c.price_per_tonne_cents = m->price_per_tonne_cents;
    c.maintenance_plan = m->maintenance_plan;
    return c;
}

static inline Citerne__V1__SiteCreated ct_site_updated_view(const Citerne__V1__SiteUpdated *m)
{
    Citerne__V1__SiteCreated c = CITERNE__V1__SITE_CREATED__INIT;
    c.site_id = m->site_id;
    c.contract_id = m->contract_id;
    c.customer_id = m->customer_id;
    c.capacity_kg = m->capacity_kg;
    c.threshold_pct = m->threshold_pct;
    c.address = m->address;
    c.delivery_mode = m->delivery_mode;
    c.certificate_received = m->certificate_received;
    return c;
}

#endif
