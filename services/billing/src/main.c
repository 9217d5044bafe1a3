/* citerne-billing: wiring only. */
#include <sodium.h>
#include <stdlib.h>

#include "billing.h"
#include "citerne/log.h"
#include "citerne/migrate.h"
#include "citerne/service.h"

extern const ct_migration_t billing_migrations[];
extern const size_t billing_migrations_count;

static const char *const consumes[] = {"citerne.accounts.v1", "citerne.orders.v1", NULL};

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const ct_service_desc_t desc = {
        .name = "billing",
        .default_http_addr = "127.0.0.1:8083",
        .use_cache = true,
        .consumes = consumes,
        .on_message = billing_on_message,
        .migrations = billing_migrations,
        .nmigrations = billing_migrations_count,
    };
    static ct_service_t svc;
    static billing_app_t app;
    if (ct_service_init(&svc, &desc) != 0)
        return 2;
    app.svc = &svc;
    svc.udata = &app;
    ct_auth_key_config(&app.operator_key, &svc.cfg, "CITERNE_OPERATOR_KEY", false);
    if (billing_api_register(svc.http, &app) != 0)
        return 2;
    return ct_service_run(&svc);
}
