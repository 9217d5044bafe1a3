/* citerne-telemetry: wiring only (see README.md). */
#include <stdlib.h>

#include "citerne/id.h"
#include "citerne/service.h"

#include "app.h"

extern const ct_migration_t telemetry_migrations[];
extern const size_t telemetry_migrations_count;

int main(void)
{
    static const char *const consumes[] = {"citerne.accounts.v1", NULL};
    ct_service_desc_t desc = {
        .name = "telemetry",
        .default_http_addr = "127.0.0.1:8085",
        .use_cache = true,      /* sessions, for the history endpoints */
        .cache_optional = true, /* the gateway's POST needs no Redis: /readyz leaves it out */
        .consumes = consumes,
        .on_message = telemetry_on_message,
        .migrations = telemetry_migrations,
        .nmigrations = telemetry_migrations_count,
    };
    static ct_service_t svc;
    if (ct_service_init(&svc, &desc) != 0)
        return EXIT_FAILURE;
    static telemetry_app_t app;
    app.svc = &svc;
    ct_auth_key_config(&app.gateway_key, &svc.cfg, "CITERNE_GATEWAY_KEY", true);
    ct_auth_key_config(&app.operator_key, &svc.cfg, "CITERNE_OPERATOR_KEY", true);
    app.csv_max_rows = TELEMETRY_CSV_MAX_ROWS;
    app.now_ms = ct_now_ms;
    svc.udata = &app;
    if (telemetry_api_register(svc.http, &app) != 0)
        return EXIT_FAILURE;
    return ct_service_run(&svc);
}
