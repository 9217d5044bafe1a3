/* citerne-notify: wiring only. */
#include <curl/curl.h>
#include <sodium.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/migrate.h"
#include "citerne/service.h"
#include "mail.h"
#include "notify.h"

extern const ct_migration_t notify_migrations[];
extern const size_t notify_migrations_count;

static const char *const consumes[] = {"citerne.accounts.v1", "citerne.orders.v1",
                                       "citerne.billing.v1", NULL};

static ct_service_t svc;
static notify_app_t app;
static notify_sender_opts_t sender_opts;
static ct_service_drained_cb sender_drained;

/* The sender starts once the pool is up and the tables migrated. */
static int on_start(ct_service_t *s)
{
    int rc = notify_sender_new(&s->loop, &s->db, &sender_opts, &app.sender);
    if (rc != 0)
        ct_log_error("notify sender: %s", ct_strerror(rc));
    return rc;
}

static void on_sender_closed(void *udata)
{
    sender_drained(udata);
}

/* Sends in flight are aborted (their rows come back when the lease ends);
 * the pool stays open until the sender's database updates are done. */
static void on_drain(ct_service_t *s, ct_service_drained_cb done)
{
    notify_sender_t *sender = app.sender;
    app.sender = NULL; /* consumers finishing a message no longer kick it */
    if (!sender) {
        done(s);
        return;
    }
    sender_drained = done;
    notify_sender_close(sender, on_sender_closed, s);
}

int main(void)
{
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    const ct_service_desc_t desc = {
        .name = "notify",
        .default_http_addr = "127.0.0.1:8084",
        .use_cache = true,      /* sessions, for the user's export */
        .cache_optional = true, /* the consumers and the sender need no Redis */
        .consumes = consumes,
        .on_message = notify_on_message,
        .migrations = notify_migrations,
        .nmigrations = notify_migrations_count,
        .on_start = on_start,
        .on_drain = on_drain,
    };
    if (ct_service_init(&svc, &desc) != 0)
        return 2;
    app.svc = &svc;
    svc.udata = &app;
    ct_config_t *cfg = &svc.cfg;
    ct_auth_key_config(&app.operator_key, cfg, "CITERNE_OPERATOR_KEY", false);
    sender_opts = (notify_sender_opts_t){
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
    if (!*sender_opts.smtp_url)
        ct_log_warn("CITERNE_SMTP_URL is not set: e-mails stay pending");
    if (!*sender_opts.sms_url)
        ct_log_warn("CITERNE_SMS_URL is not set: SMS stay pending");
    else if (!*sender_opts.sms_token)
        ct_log_warn("CITERNE_SMS_TOKEN is not set: SMS are sent without a bearer token");
    /* checked now, so a bad sender setting stops the service like any other
     * (the sender itself starts in on_start) */
    char from[256]; /* as the sender's envelope address */
    if (*sender_opts.smtp_url && notify_mail_address(sender_opts.smtp_from, from, sizeof from) != 0)
        ct_config_fail(cfg, "CITERNE_SMTP_FROM: expected \"Name <address>\" or an address");
    if (notify_api_register(svc.http, &app) != 0)
        return 2;
    int status = ct_service_run(&svc);
    curl_global_cleanup();
    return status;
}
