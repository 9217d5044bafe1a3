/* libFuzzer target: arbitrary bytes as a record of a topic notify consumes.
 * The first byte picks the topic, the rest is the record. Checked beyond the
 * sanitizers: the decoder answers 0, CT_EDECODE or CT_EINPUT (with the field
 * named); whatever it accepts renders, on both channels (account messages:
 * e-mail only, never SMS), and a user it accepts can be written to (the
 * e-mail composes). Build: CC=clang,
 * -DCITERNE_FUZZ=ON (see tests/notify/CMakeLists.txt); run:
 *   build/fuzz/tests/notify/notify_events_fuzz -max_total_time=60 -max_len=4096 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/log.h"
#include "events.h"
#include "mail.h"
#include "templates.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ct_log_init("fuzz", CT_LOG_OFF);
    return sodium_init() < 0 ? -1 : 0;
}

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static const char *const topics[] = {"citerne.accounts.v1", "citerne.orders.v1",
                                     "citerne.billing.v1", "citerne.notify.v1"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *topic = topics[data[0] % 4];
    notify_event_t ev;
    memset(&ev, 0, sizeof ev);
    const char *why = NULL;
    int rc = notify_event_decode(&ev, topic, data + 1, size - 1, &why);
    check(rc == 0 || rc == CT_EDECODE || rc == CT_EINPUT, "decode status");
    check(rc != CT_EINPUT || (why && *why), "a refused field is named");
    if (rc != 0)
        return 0;
    check(ct_uuid_valid(ev.event_id), "meta id");
    if (ev.kind == NOTIFY_EV_USER && ev.email[0]) {
        notify_mail_t m = {.from = "Citerne <no-reply@citerne.invalid>",
                           .to = ev.email,
                           .subject = ev.name,
                           .body = ev.name,
                           .date_ms = 0,
                           .message_id = ev.user_id};
        size_t len = 0;
        char *msg = notify_mail_build(&m, &len);
        check(msg != NULL, "an accepted address composes");
        /* a header never breaks: the only bare LF-free CRLFs end lines */
        check(strstr(msg, "\r\n\r\n") != NULL, "headers end");
        free(msg);
    }
    if (ev.kind == NOTIFY_EV_ACCOUNT) {
        notify_facts_t a = {
            .kind = ev.nkind,
            .user_name = ev.name,
            .customer_number = "C-1",
            .customer_name = "Famille Dupont",
            .link = ev.link,
            .expires_at = ev.link_expires_at,
            .at = ev.at,
            .via_reset = ev.via_reset,
            .with_recovery_code = ev.with_recovery_code,
            .device = ev.device,
            .address = ev.address,
            .role = ev.role,
            .by_self = ev.by_self,
        };
        notify_message_t am;
        check(notify_render(&a, NOTIFY_CHANNEL_EMAIL, &am) == 0, "accepted account event renders");
        check(notify_render(&a, NOTIFY_CHANNEL_SMS, &am) == -1, "account events are never SMS");
        notify_mail_t m = {.from = "Citerne <no-reply@citerne.invalid>",
                           .to = ev.email,
                           .subject = am.subject,
                           .body = am.body,
                           .date_ms = 0,
                           .message_id = ev.event_id};
        size_t len = 0;
        char *msg = notify_mail_build(&m, &len);
        check(msg != NULL, "an account e-mail composes");
        free(msg);
        return 0;
    }
    if (ev.kind != NOTIFY_EV_NOTIFIABLE)
        return 0;
    notify_facts_t f = {
        .kind = ev.nkind,
        .user_name = "Marie",
        .customer_number = "C-1",
        .automatic = ev.automatic,
        .speed = ev.speed,
        .quantity_kg = ev.quantity_kg,
        .delivery_date = ev.delivery_date,
        .delivered_kg = ev.delivered_kg,
        .invoice_number = ev.invoice_number,
        .total_incl_cents = ev.total_incl_cents,
        .issue_date = ev.issue_date,
    };
    notify_message_t msg;
    check(notify_render(&f, NOTIFY_CHANNEL_EMAIL, &msg) == 0, "accepted event renders (email)");
    check(notify_render(&f, NOTIFY_CHANNEL_SMS, &msg) == 0, "accepted event renders (sms)");
    return 0;
}
