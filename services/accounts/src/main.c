/* citerne-accounts: customers, contracts, sites, users and their sessions.
 * Wiring only: settings, routes, run. */
#include "accounts.h"
#include "citerne/service.h"

int main(void)
{
    /* billing: the invoice numbers that prove a customer at sign-up */
    static const char *const consumes[] = {"citerne.billing.v1", NULL};
    const ct_service_desc_t desc = {
        .name = "accounts",
        .default_http_addr = "127.0.0.1:8081",
        .use_cache = true,
        .consumes = consumes,
        .on_message = accounts_on_message,
        .migrations = accounts_migrations,
        .nmigrations = accounts_migrations_count,
        /* the sweep of expired links and stale pending users (sweep.h) */
        .on_start = accounts_on_start,
        .on_drain = accounts_on_drain,
    };
    static ct_service_t svc;
    static accounts_t accounts;

    if (ct_service_init(&svc, &desc) != 0)
        return 2;
    accounts_settings_t settings;
    accounts_settings_read(&svc.cfg, &settings);
    if (ct_config_check(&svc.cfg) != 0)
        return 2;
    if (accounts_init(&accounts, &svc, &settings) != 0 || accounts_routes(&accounts, svc.http) != 0)
        return 1;
    svc.udata = &accounts;
    return ct_service_run(&svc);
}
