/* citerne-notify: wiring only. */
#include <curl/curl.h>
#include <signal.h>
#include <sodium.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/migrate.h"
#include "citerne/service.h"
#include "notify.h"

extern const ct_migration_t notify_migrations[];
extern const size_t notify_migrations_count;

static const char *const consumes[] = {"citerne.accounts.v1", "citerne.orders.v1",
                                       "citerne.billing.v1", NULL};

static ct_service_t svc;
static notify_app_t app;
/* The service's shutdown knows nothing of the sender: these watchers stop it
 * on the same signals (libuv calls every watcher of a signal). */
static uv_signal_t stop_term, stop_int;

static void on_stop(uv_signal_t *sig, int signum)
{
    (void)sig;
    (void)signum;
    if (app.sender) {
        notify_sender_close(app.sender, NULL, NULL);
        app.sender = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&stop_term))
        uv_close((uv_handle_t *)&stop_term, NULL);
    if (!uv_is_closing((uv_handle_t *)&stop_int))
        uv_close((uv_handle_t *)&stop_int, NULL);
}

int main(void)
{
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    const ct_service_desc_t desc = {
        .name = "notify",
        .default_http_addr = "127.0.0.1:8084",
        .use_cache = false,
        .consumes = consumes,
        .on_message = notify_on_message,
        .migrations = notify_migrations,
        .nmigrations = notify_migrations_count,
    };
    if (ct_service_init(&svc, &desc) != 0)
        return 2;
    app.svc = &svc;
    svc.udata = &app;
    ct_config_t *cfg = &svc.cfg;
    ct_auth_key_config(&app.operator_key, cfg, "CITERNE_OPERATOR_KEY", false);
    notify_sender_opts_t opts = {
        .smtp_url = ct_config_str(cfg, "CITERNE_SMTP_URL", ""),
        .smtp_from = ct_config_str(cfg, "CITERNE_SMTP_FROM", "Citerne <no-reply@citerne.invalid>"),
        .sms_url = ct_config_str(cfg, "CITERNE_SMS_URL", ""),
        .sms_token = ct_config_str(cfg, "CITERNE_SMS_TOKEN", ""),
        .topic = svc.topic,
        .max_inflight = (int)ct_config_int(cfg, "CITERNE_NOTIFY_MAX_INFLIGHT", 8, 1, 256),
        .poll_ms = (unsigned)ct_config_int(cfg, "CITERNE_NOTIFY_POLL_MS", 5000, 10, 600000),
        .retry_base_ms =
            (unsigned)ct_config_int(cfg, "CITERNE_NOTIFY_RETRY_BASE_MS", 30000, 10, 3600000),
        .max_attempts = (int)ct_config_int(cfg, "CITERNE_NOTIFY_MAX_ATTEMPTS", 10, 1, 100),
        .timeout_ms = ct_config_int(cfg, "CITERNE_NOTIFY_TIMEOUT_MS", 30000, 100, 600000),
    };
    if (!*opts.smtp_url)
        ct_log_warn("CITERNE_SMTP_URL is not set: e-mails stay pending");
    if (!*opts.sms_url)
        ct_log_warn("CITERNE_SMS_URL is not set: SMS stay pending");
    else if (!*opts.sms_token)
        ct_log_warn("CITERNE_SMS_TOKEN is not set: SMS are sent without a bearer token");
    /* with bad settings the service will not start: no sender to wind down */
    int rc = cfg->nerrors > 0 ? 0 : notify_sender_new(&svc.loop, &svc.db, &opts, &app.sender);
    if (rc == CT_ECONFIG) {
        ct_config_fail(cfg, "CITERNE_SMTP_FROM: expected \"Name <address>\" or an address");
    } else if (rc != 0) {
        ct_config_fail(cfg, "notify sender: %s", ct_strerror(rc));
    } else if (app.sender) {
        uv_signal_init(&svc.loop, &stop_term);
        uv_signal_init(&svc.loop, &stop_int);
        uv_signal_start(&stop_term, on_stop, SIGTERM);
        uv_signal_start(&stop_int, on_stop, SIGINT);
        uv_unref((uv_handle_t *)&stop_term);
        uv_unref((uv_handle_t *)&stop_int);
    }
    if (notify_api_register(svc.http, &app) != 0)
        return 2;
    int status = ct_service_run(&svc);
    if (app.sender) {
        /* the service stopped without a signal (start-up failed): the sender
         * still holds handles on the loop; close them and the loop */
        on_stop(NULL, 0);
        uv_run(&svc.loop, UV_RUN_DEFAULT);
        uv_loop_close(&svc.loop);
    }
    curl_global_cleanup();
    return status;
}
