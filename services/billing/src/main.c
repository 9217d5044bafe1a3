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
    const char *key = ct_config_str(&svc.cfg, "CITERNE_OPERATOR_KEY", "");
    if (billing_app_set_operator_key(&app, key) != 0)
        ct_config_fail(&svc.cfg, "CITERNE_OPERATOR_KEY: expected at least 16 characters");
    else if (!app.operator_enabled)
        ct_log_warn("CITERNE_OPERATOR_KEY is not set: operator access is disabled");
    if (billing_api_register(svc.http, &app) != 0)
        return 2;
    return ct_service_run(&svc);
}
