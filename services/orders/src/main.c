/* citerne-orders: wiring only (see README.md). */
#include <stdlib.h>

#include "citerne/id.h"
#include "citerne/service.h"

#include "app.h"

extern const ct_migration_t orders_migrations[];
extern const size_t orders_migrations_count;

int main(void)
{
    static const char *const consumes[] = {"citerne.accounts.v1", "citerne.telemetry.v1", NULL};
    ct_service_desc_t desc = {
        .name = "orders",
        .default_http_addr = "127.0.0.1:8082",
        .use_cache = true,
        .consumes = consumes,
        .on_message = orders_on_message,
        .migrations = orders_migrations,
        .nmigrations = orders_migrations_count,
    };
    static ct_service_t svc;
    if (ct_service_init(&svc, &desc) != 0)
        return EXIT_FAILURE;
    static orders_app_t app;
    app.svc = &svc;
    ct_auth_key_config(&app.operator_key, &svc.cfg, "CITERNE_OPERATOR_KEY", true);
    ct_auth_key_config(&app.driver_key, &svc.cfg, "CITERNE_DRIVER_KEY", true);
    app.now_ms = ct_now_ms;
    svc.udata = &app;
    if (orders_api_register(svc.http, &app) != 0)
        return EXIT_FAILURE;
    return ct_service_run(&svc);
}
