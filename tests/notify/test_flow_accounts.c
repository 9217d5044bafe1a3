/* notify and accounts' events against the test stack's Postgres: link
 * e-mails (sent once, never logged, not kept once sent), preferences,
 * sensitive activity, invitations, grants and closed users; e-mails through
 * the fake SMTP server (flow_support.h). */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "citerne/bus.h"
#include "citerne/error.h"
#include "citerne/metrics.h"
#include "citerne/id.h"
#include "citerne/log.h"
#include "citerne/v1/notify.pb-c.h"
#include "fixture.h"
#include "flow_support.h"
#include "http_client.h"
#include "stack.h"

static int group_setup(void **state)
{
    (void)state;
    return flow_setup("notify_flow_accounts");
}

static int group_teardown(void **state)
{
    (void)state;
    return flow_teardown();
}

#define PLACEHOLDER "(texte retiré : il contenait un lien ou un code à usage unique)"

static void a_reset_request_sends_one_email_with_the_link_and_a_replay_none(void **state)
{
    (void)state;
    ct_test_require_stack();
    start_sender(10);
    people_t p;
    make_people(&p, "+33612345678", ""); /* a phone: still no SMS for a link */
    unsigned char raw[32];
    char token[65], url[160];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(token, sizeof token, raw, sizeof raw);
    snprintf(url, sizeof url, "https://portail.example/reset-password#token=%s", token);
    int before_mail = F.smtp.nmessages, before_sms = F.nsms;

    /* every log line of the flow, at debug, goes to a file */
    fflush(stdout);
    char log_path[] = "/tmp/notify_flow_log_XXXXXX";
    int log_fd = mkstemp(log_path);
    assert_true(log_fd >= 0);
    int saved_stdout = dup(STDOUT_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    ct_log_init("notify", CT_LOG_DEBUG);

    fx_record_t r;
    fx_reset(&r, p.u1, p.customer, "marie@example.com", url, ct_now_ms() + 30 * 60 * 1000);
    notify_event_t ev = apply(&r, "citerne.accounts.v1", NULL);
    long created = ev.created;
    notify_sender_kick(sender);
    wait_count("SELECT count(*) FROM notifications WHERE cause_event_id = $1 AND status = 'sent'",
               r.event_id, 1);
    /* the same event again (redelivered past the inbox): nothing more */
    notify_event_t again = apply(&r, "citerne.accounts.v1", NULL);
    notify_sender_kick(sender);
    run_for(200);

    fflush(stdout);
    ct_log_init("notify", CT_LOG_ERROR);
    dup2(saved_stdout, STDOUT_FILENO);
    close(saved_stdout);
    close(log_fd);

    assert_int_equal(created, 1);
    assert_int_equal(again.created, 0);
    assert_int_equal(F.smtp.nmessages, before_mail + 1);
    assert_int_equal(F.nsms, before_sms);
    assert_non_null(strstr(F.smtp.envelope[before_mail], "RCPT TO:<marie@example.com>"));
    char *text = qp_decode(F.smtp.messages[before_mail]);
    if (!strstr(text, url))
        fail_msg("the link is not in the e-mail:\n%s", text);
    /* "Réinitialisation de votre mot de passe Citerne" */
    assert_non_null(strstr(F.smtp.messages[before_mail], "Subject: =?UTF-8?B?"));
    assert_non_null(strstr(text, "Bonjour Marie Dupont,"));
    free(text);
    /* sent: the row no longer holds the link */
    char *row = sql_text("SELECT concat_ws('|', kind, channel, recipient, user_id, body,"
                         " link_expires_at IS NOT NULL) FROM notifications"
                         " WHERE cause_event_id = $1",
                         r.event_id);
    char want[300];
    snprintf(want, sizeof want, "password_reset_requested|email|marie@example.com|%s|%s|t", p.u1,
             PLACEHOLDER);
    assert_string_equal(row, want);
    free(row);
    assert_int_equal(
        sql_count("SELECT count(*) FROM notifications WHERE strpos(body, $1) > 0", token), 0);
    char *logs = read_all(log_path);
    unlink(log_path);
    if (strstr(logs, token))
        fail_msg("the token is in a log line:\n%s", logs);
    /* the capture worked: the event's debug line is there */
    if (!strstr(logs, r.event_id))
        fail_msg("no log line of event %s captured:\n%s", r.event_id, logs);
    free(logs);
    fx_free(&r);
    stop_sender();
}

static void a_link_that_expired_before_it_was_sent_is_dropped(void **state)
{
    (void)state;
    ct_test_require_stack();
    start_sender(10);
    people_t p;
    make_people(&p, "", "");
    int before_mail = F.smtp.nmessages;
    fx_record_t r;
    fx_activation(&r, p.u1, p.customer, "marie@example.com",
                  "https://portail.example/activate#token=ZXhwaXJlZA", ct_now_ms() - 1000);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    notify_sender_kick(sender);
    wait_count("SELECT count(*) FROM notifications WHERE cause_event_id = $1 AND status = 'failed'"
               " AND last_error = 'link expired before it was sent' AND body = '" PLACEHOLDER "'",
               r.event_id, 1);
    assert_int_equal(F.smtp.nmessages, before_mail);
    fx_free(&r);
    stop_sender();
}

static void a_user_who_turned_sms_off_gets_no_sms_for_an_invoice(void **state)
{
    (void)state;
    ct_test_require_stack();
    start_sender(10);
    people_t p;
    make_people(&p, "+33612345678", "");
    static const char *const prefs[] = {"invoice_issued", "email", "delivery_confirmed", "none",
                                        NULL};
    fx_record_t r;
    fx_profile(&r, p.u1, p.customer, "marie@example.com", "+33612345678", "Marie Dupont", prefs);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).outcome, NOTIFY_OUT_STORED);
    fx_free(&r);
    int before_mail = F.smtp.nmessages, before_sms = F.nsms;
    fx_invoice_issued(&r, p.customer, "FA2026-000042", 5000, "2026-11-25");
    assert_int_equal(apply(&r, "citerne.billing.v1", NULL).created, 1);
    notify_sender_kick(sender);
    wait_count("SELECT count(*) FROM notifications WHERE cause_event_id = $1 AND status = 'sent'",
               r.event_id, 1);
    run_for(100);
    assert_int_equal(F.smtp.nmessages, before_mail + 1);
    assert_int_equal(F.nsms, before_sms);
    char *channels = sql_text("SELECT string_agg(channel, ',') FROM notifications"
                              " WHERE cause_event_id = $1",
                              r.event_id);
    assert_string_equal(channels, "email");
    free(channels);
    fx_free(&r);
    stop_sender();

    /* "none" for deliveries done; kinds not listed: both */
    fx_delivery_confirmed(&r, p.customer, "2026-11-24", 480);
    assert_int_equal(apply(&r, "citerne.orders.v1", NULL).created, 0);
    fx_free(&r);
    fx_delivery_scheduled(&r, p.customer, "2026-11-24", 500);
    assert_int_equal(apply(&r, "citerne.orders.v1", NULL).created, 2);
    fx_free(&r);
    /* a new phone and name, SMS only for invoices: the profile wins over UserCreated */
    static const char *const sms_only[] = {"invoice_issued", "sms", NULL};
    fx_profile(&r, p.u1, p.customer, "marie@example.com", "+33698765432", "Marie Martin", sms_only);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).outcome, NOTIFY_OUT_STORED);
    fx_free(&r);
    fx_invoice_issued(&r, p.customer, "FA2026-000043", 5000, "2026-11-25");
    assert_int_equal(apply(&r, "citerne.billing.v1", NULL).created, 1);
    char *row = sql_text("SELECT channel || '|' || recipient FROM notifications"
                         " WHERE cause_event_id = $1",
                         r.event_id);
    assert_string_equal(row, "sms|+33698765432");
    free(row);
    fx_free(&r);
}

static void sensitive_activity_goes_by_email_whatever_the_preferences(void **state)
{
    (void)state;
    ct_test_require_stack();
    people_t p;
    make_people(&p, "+33612345678", "");
    static const char *const none[] = {"order_proposed",
                                       "none",
                                       "delivery_scheduled",
                                       "none",
                                       "delivery_confirmed",
                                       "none",
                                       "invoice_issued",
                                       "none",
                                       NULL};
    fx_record_t r;
    fx_profile(&r, p.u1, p.customer, "marie@example.com", "+33612345678", "Marie Dupont", none);
    apply(&r, "citerne.accounts.v1", NULL);
    fx_free(&r);
    fx_invoice_issued(&r, p.customer, "FA2026-000044", 5000, "2026-11-25");
    assert_int_equal(apply(&r, "citerne.billing.v1", NULL).created, 0);
    fx_free(&r);
    int64_t now = ct_now_ms();
    fx_password_changed(&r, p.u1, p.customer, "marie@example.com", "change", now);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    fx_free(&r);
    fx_totp_disabled(&r, p.u1, p.customer, "marie@example.com", now);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    fx_free(&r);
    fx_new_device(&r, p.u1, p.customer, "marie@example.com", "203.0.113.7", now);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    fx_free(&r);
    fx_customer_linked(&r, p.u1, p.customer, "marie@example.com", "admin", now);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    fx_free(&r);
    char *kinds = sql_text("SELECT string_agg(kind || ':' || channel || ':' || recipient, ','"
                           " ORDER BY kind) FROM notifications WHERE customer_id = $1",
                           p.customer);
    assert_string_equal(kinds, "customer_linked:email:marie@example.com,"
                               "new_device_signed_in:email:marie@example.com,"
                               "password_changed:email:marie@example.com,"
                               "totp_disabled:email:marie@example.com");
    free(kinds);
    char *subject = sql_text("SELECT subject FROM notifications WHERE customer_id = $1"
                             " AND kind = 'password_changed'",
                             p.customer);
    assert_string_equal(subject, "Votre mot de passe Citerne a été changé");
    free(subject);
}

static void an_invitation_to_an_address_without_a_user_is_keyed_on_the_address(void **state)
{
    (void)state;
    ct_test_require_stack();
    start_sender(10);
    people_t p;
    make_people(&p, "", "");
    char invitee[37];
    ct_uuid_v7(invitee);
    int before_mail = F.smtp.nmessages;
    long long outbox = sql_count("SELECT count(*) FROM ct_outbox", NULL);
    const char *url = "https://portail.example/activate#token=aW52aXRhdGlvbg";
    fx_record_t r;
    fx_collaborator_added(&r, p.customer, invitee, "nouveau@example.com", "viewer", url,
                          ct_now_ms() + 86400000);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 0); /* replayed */
    char *row = sql_text("SELECT concat_ws('|', kind, recipient, user_id IS NULL) FROM"
                         " notifications WHERE cause_event_id = $1",
                         r.event_id);
    assert_string_equal(row, "collaborator_invited|nouveau@example.com|t");
    free(row);
    /* a pending user is not in the read model: no grant until UserCreated */
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE user_id = $1", invitee), 0);
    notify_sender_kick(sender);
    wait_count("SELECT count(*) FROM notifications WHERE cause_event_id = $1 AND status = 'sent'"
               " AND body = '" PLACEHOLDER "'",
               r.event_id, 1);
    assert_int_equal(F.smtp.nmessages, before_mail + 1);
    char *text = qp_decode(F.smtp.messages[before_mail]);
    assert_non_null(strstr(text, url));
    assert_non_null(strstr(text, "Vous avez reçu une invitation à l'espace client Citerne de "
                                 "Famille Dupont (client C-0042)"));
    free(text);
    /* NotificationSent without a user */
    assert_int_equal(sql_count("SELECT count(*) FROM ct_outbox", NULL), outbox + 1);
    PGresult *res = PQexecParams(F.pg, "SELECT payload FROM ct_outbox ORDER BY id DESC LIMIT 1", 0,
                                 NULL, NULL, NULL, NULL, 1);
    Citerne__V1__NotifyEvent *ev = citerne__v1__notify_event__unpack(
        NULL, (size_t)PQgetlength(res, 0, 0), (const uint8_t *)PQgetvalue(res, 0, 0));
    assert_non_null(ev);
    assert_string_equal(ev->notification_sent->user_id, "");
    assert_string_equal(ev->notification_sent->kind, "collaborator_invited");
    citerne__v1__notify_event__free_unpacked(ev, NULL);
    PQclear(res);
    fx_free(&r);
    stop_sender();
}

/* A phone's code goes by SMS only, to the number it proves (not the one on
 * file); its body is purged once sent. */
static void a_phone_code_goes_by_sms_to_the_new_number_only(void **state)
{
    (void)state;
    ct_test_require_stack();
    start_sender(10);
    people_t p;
    make_people(&p, "+33612345678", "");
    int before_mail = F.smtp.nmessages, before_sms = F.nsms;
    fx_record_t r;
    fx_phone_verification(&r, p.u1, p.customer, "+33699887766", "042917", ct_now_ms() + 600000);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 0); /* replayed */
    char *row = sql_text("SELECT concat_ws('|', kind, channel, recipient, user_id,"
                         " link_expires_at IS NOT NULL) FROM notifications"
                         " WHERE cause_event_id = $1",
                         r.event_id);
    char want[200];
    snprintf(want, sizeof want, "phone_verification|sms|+33699887766|%s|t", p.u1);
    assert_string_equal(row, want);
    free(row);
    notify_sender_kick(sender);
    wait_count("SELECT count(*) FROM notifications WHERE cause_event_id = $1 AND status = 'sent'",
               r.event_id, 1);
    assert_int_equal(F.smtp.nmessages, before_mail);
    assert_int_equal(F.nsms, before_sms + 1);
    assert_non_null(strstr(F.sms[before_sms].body, "+33699887766"));
    assert_non_null(strstr(F.sms[before_sms].body, "042917 est votre code"));
    assert_int_equal(sql_count("SELECT count(*) FROM notifications WHERE cause_event_id = $1"
                               " AND body = '" PLACEHOLDER "'",
                               r.event_id),
                     1);
    assert_int_equal(
        sql_count("SELECT count(*) FROM notifications WHERE strpos(body, $1) > 0", "042917"), 0);
    fx_free(&r);
    stop_sender();
}

/* The new address gets the link (keyed on it, purged once sent); the
 * current one a notice, whether the new address was free (link) or taken
 * (none); after the change, a notice to the former address. */
static void an_email_change_links_the_new_address_and_tells_the_old_one(void **state)
{
    (void)state;
    ct_test_require_stack();
    start_sender(10);
    people_t p;
    make_people(&p, "+33612345678", ""); /* a phone: still e-mail only */
    int before_mail = F.smtp.nmessages, before_sms = F.nsms;
    const char *url = "https://portail.example/confirm-email#token=Y2hhbmdlbWVudA";
    fx_record_t r;
    fx_email_change_requested(&r, p.u1, p.customer, "marie@example.com", "marie@nouveau.example",
                              url, ct_now_ms() + 1800000);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 2);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 0); /* replayed */
    char *rows = sql_text("SELECT string_agg(concat_ws('|', kind, recipient, user_id IS NULL,"
                          " link_expires_at IS NOT NULL), ',' ORDER BY kind) FROM notifications"
                          " WHERE cause_event_id = $1",
                          r.event_id);
    assert_string_equal(rows, "email_change_confirm|marie@nouveau.example|t|t,"
                              "email_change_requested|marie@example.com|f|f");
    free(rows);
    notify_sender_kick(sender);
    wait_count("SELECT count(*) FROM notifications WHERE cause_event_id = $1 AND status = 'sent'",
               r.event_id, 2);
    /* sent: the link's row no longer holds it, the notice keeps its text */
    assert_int_equal(sql_count("SELECT count(*) FROM notifications WHERE cause_event_id = $1"
                               " AND kind = 'email_change_confirm' AND body = '" PLACEHOLDER "'",
                               r.event_id),
                     1);
    assert_int_equal(sql_count("SELECT count(*) FROM notifications WHERE strpos(body, $1) > 0",
                               "Y2hhbmdlbWVudA"),
                     0);
    assert_int_equal(F.smtp.nmessages, before_mail + 2);
    assert_int_equal(F.nsms, before_sms);
    int to_new = -1, to_old = -1;
    for (int i = before_mail; i < F.smtp.nmessages; i++) {
        if (strstr(F.smtp.envelope[i], "RCPT TO:<marie@nouveau.example>"))
            to_new = i;
        if (strstr(F.smtp.envelope[i], "RCPT TO:<marie@example.com>"))
            to_old = i;
    }
    assert_true(to_new >= 0 && to_old >= 0);
    char *text = qp_decode(F.smtp.messages[to_new]);
    assert_non_null(strstr(text, url));
    assert_non_null(strstr(text, "Bonjour Marie Dupont,"));
    free(text);
    text = qp_decode(F.smtp.messages[to_old]);
    assert_null(strstr(text, "Y2hhbmdlbWVudA"));
    assert_non_null(strstr(text, "utilise désormais l'adresse marie@nouveau.example"));
    free(text);
    fx_free(&r);

    /* the new address was someone's: the notice only, nothing to it */
    fx_email_change_requested(&r, p.u1, p.customer, "marie@example.com", "paul@example.com", NULL,
                              0);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    rows = sql_text("SELECT concat_ws('|', kind, recipient, link_expires_at IS NOT NULL) FROM"
                    " notifications WHERE cause_event_id = $1",
                    r.event_id);
    assert_string_equal(rows, "email_change_requested|marie@example.com|f");
    free(rows);
    fx_free(&r);

    /* done: the former address is told */
    fx_email_changed(&r, p.u1, p.customer, "marie@example.com", "marie@nouveau.example",
                     ct_now_ms());
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    rows = sql_text("SELECT concat_ws('|', kind, recipient, user_id, subject) FROM notifications"
                    " WHERE cause_event_id = $1",
                    r.event_id);
    char want[300];
    snprintf(want, sizeof want,
             "email_changed|marie@example.com|%s|L'adresse e-mail de votre compte Citerne a été"
             " changée",
             p.u1);
    assert_string_equal(rows, want);
    free(rows);
    fx_free(&r);
    stop_sender();
}

static void grants_follow_collaborators_and_a_closed_user_hears_nothing_more(void **state)
{
    (void)state;
    ct_test_require_stack();
    people_t p;
    make_people(&p, "+33612345678", "paul@example.com"); /* u1: e-mail + SMS, u2: e-mail */
    char u3[37];
    ct_uuid_v7(u3);
    fx_record_t r;
    /* an existing account joins: told, and in the read model from now on */
    fx_collaborator_added(&r, p.customer, u3, "jeanne@example.com", "viewer", "", 0);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    fx_free(&r);
    fx_invoice_issued(&r, p.customer, "FA2026-000050", 5000, "2026-11-25");
    assert_int_equal(apply(&r, "citerne.billing.v1", NULL).created, 4);
    fx_free(&r);
    fx_role_changed(&r, p.customer, u3, "orderer");
    apply(&r, "citerne.accounts.v1", NULL);
    fx_free(&r);
    assert_int_equal(
        sql_count("SELECT count(*) FROM users WHERE user_id = $1 AND role = 'orderer'", u3), 1);
    /* removed: told, and no more notifications of this customer */
    fx_collaborator_removed(&r, p.customer, u3, "jeanne@example.com", p.u1);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    fx_free(&r);
    char *body = sql_text("SELECT body FROM notifications WHERE customer_id = $1"
                          " AND kind = 'collaborator_removed'",
                          p.customer);
    assert_non_null(strstr(body, "Bonjour Paul Martin,")); /* the read model's name */
    free(body);
    fx_invoice_issued(&r, p.customer, "FA2026-000051", 5000, "2026-11-25");
    assert_int_equal(apply(&r, "citerne.billing.v1", NULL).created, 3);
    fx_free(&r);
    /* an event without an address tells nobody, and its grant still moves */
    fx_customer_linked(&r, u3, p.customer, "", "viewer", ct_now_ms());
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 0);
    fx_free(&r);
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE user_id = $1", u3), 1);
    fx_collaborator_removed(&r, p.customer, u3, "", p.u1);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 0);
    fx_free(&r);
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE user_id = $1", u3), 0);

    /* u1 closes their account: pending rows fail and lose their text */
    fx_user_closed(&r, p.u1, p.customer);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).outcome, NOTIFY_OUT_STORED);
    fx_free(&r);
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE user_id = $1", p.u1), 0);
    assert_int_equal(sql_count("SELECT count(*) FROM notifications WHERE user_id = $1"
                               " AND (status = 'pending' OR recipient <> '' OR body <> '')",
                               p.u1),
                     0);
    assert_int_equal(sql_count("SELECT count(*) FROM notifications WHERE user_id = $1"
                               " AND last_error = 'account closed'",
                               p.u1),
                     4); /* two invoices, e-mail and SMS */
    fx_invoice_issued(&r, p.customer, "FA2026-000052", 5000, "2026-11-25");
    assert_int_equal(apply(&r, "citerne.billing.v1", NULL).created, 1); /* u2 only */
    fx_free(&r);
    fx_password_changed(&r, p.u1, p.customer, "marie@example.com", "change", ct_now_ms());
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 0);
    fx_free(&r);
    /* late events from other partitions do not bring the user back */
    fx_user(&r, p.u1, p.customer, "marie@example.com", "+33612345678", "Marie Dupont");
    apply(&r, "citerne.accounts.v1", NULL);
    fx_free(&r);
    fx_profile(&r, p.u1, p.customer, "marie@example.com", "", "Marie", NULL);
    apply(&r, "citerne.accounts.v1", NULL);
    fx_free(&r);
    fx_customer_linked(&r, p.u1, p.customer, "marie@example.com", "admin", ct_now_ms());
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 0);
    fx_free(&r);
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE user_id = $1", p.u1), 0);
    assert_int_equal(sql_count("SELECT count(*) FROM user_profiles WHERE user_id = $1", p.u1), 0);
}

/* "number name version" of the customer in the read model. */
static void expect_customer(const char *customer, const char *want)
{
    char *row = sql_text("SELECT concat_ws(' ', customer_number, name, version) FROM customers"
                         " WHERE customer_id = $1",
                         customer);
    if (!row || strcmp(row, want) != 0)
        fail_msg("customer %s: %s, want %s", customer, row ? row : "(no row)", want);
    free(row);
}

static notify_outcome_t apply_customer_updated(const char *customer, const char *name, int version)
{
    fx_record_t r;
    fx_customer_updated(&r, customer, "C-0042", name, version);
    notify_outcome_t out = apply(&r, "citerne.accounts.v1", NULL).outcome;
    fx_free(&r);
    return out;
}

/* The body of the customer_linked message of cause event `cause`. */
static char *linked_body(const char *cause)
{
    return sql_text("SELECT body FROM notifications WHERE cause_event_id = $1", cause);
}

/* The back office renames the customer: messages queued after it name the
 * customer anew, those queued before keep their text; an older or equal
 * version, or the CustomerCreated again, changes nothing. */
static void a_renamed_customer_is_named_anew_in_later_messages_only(void **state)
{
    (void)state;
    ct_test_require_stack();
    people_t p;
    make_people(&p, "", "");
    fx_record_t r;
    char before[37], after[37];
    fx_customer_linked(&r, p.u1, p.customer, "marie@example.com", "admin", ct_now_ms());
    memcpy(before, r.event_id, sizeof before);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    fx_free(&r);

    assert_int_equal(apply_customer_updated(p.customer, "Dupont SARL", 2), NOTIFY_OUT_STORED);
    expect_customer(p.customer, "C-0042 Dupont SARL 2");
    assert_int_equal(apply_customer_updated(p.customer, "Durand SARL", 2), NOTIFY_OUT_STALE);
    fx_customer(&r, p.customer, "C-0042");
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).outcome, NOTIFY_OUT_STALE);
    fx_free(&r);
    assert_int_equal(apply_customer_updated(p.customer, "Dupont et fils", 4), NOTIFY_OUT_STORED);
    assert_int_equal(apply_customer_updated(p.customer, "Dupont SA", 3), NOTIFY_OUT_STALE);
    expect_customer(p.customer, "C-0042 Dupont et fils 4");

    fx_customer_linked(&r, p.u1, p.customer, "marie@example.com", "viewer", ct_now_ms());
    memcpy(after, r.event_id, sizeof after);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    fx_free(&r);
    char *body = linked_body(after);
    assert_non_null(strstr(body, "de Dupont et fils (client C-0042)"));
    free(body);
    body = linked_body(before);
    assert_non_null(strstr(body, "de Famille Dupont (client C-0042)"));
    free(body);
}

/* An update of a customer notify never saw adds it: an event waiting for
 * the customer goes through, and its CustomerCreated after it changes
 * nothing. */
static void an_update_of_an_unknown_customer_adds_it(void **state)
{
    (void)state;
    ct_test_require_stack();
    char customer[37];
    ct_uuid_v7(customer);
    fx_record_t r;
    int status = 0;
    fx_invoice_issued(&r, customer, "FA2026-000051", 5000, "2026-11-25");
    assert_int_equal(apply(&r, "citerne.billing.v1", &status).outcome, NOTIFY_OUT_ORPHAN_RETRY);
    fx_free(&r);
    assert_int_equal(apply_customer_updated(customer, "Dupont SARL", 3), NOTIFY_OUT_STORED);
    expect_customer(customer, "C-0042 Dupont SARL 3");
    fx_invoice_issued(&r, customer, "FA2026-000051", 5000, "2026-11-25");
    notify_event_t ev = apply(&r, "citerne.billing.v1", NULL);
    fx_free(&r);
    assert_int_equal(ev.outcome, NOTIFY_OUT_QUEUED); /* known, without users: nobody to tell */
    assert_int_equal(ev.created, 0);
    fx_customer(&r, customer, "C-0042");
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).outcome, NOTIFY_OUT_STALE);
    fx_free(&r);
    expect_customer(customer, "C-0042 Dupont SARL 3");
}

static void on_flag(void *udata)
{
    *(bool *)udata = true;
}

/* Through a real consumer (librdkafka's mock cluster) and the inbox, as the
 * service runs: a reset delivered twice is told once, an invalid one is
 * skipped and counted. */
static void a_reset_delivered_twice_by_the_bus_is_told_once(void **state)
{
    (void)state;
    ct_test_require_stack();
    people_t p;
    make_people(&p, "", "");
    const char *brokers = NULL;
    rd_kafka_t *mock = ct_test_mock_new("citerne.accounts.v1", 1, &brokers);
    fx_record_t r, bad;
    fx_reset(&r, p.u1, p.customer, "marie@example.com",
             "https://portail.example/reset-password#token=dHdpY2U", ct_now_ms() + 1800000);
    fx_reset(&bad, p.u1, p.customer, "marie@example.com", "ftp://portail.example/x",
             ct_now_ms() + 1800000);
    fx_record_t *records[] = {&r, &r, &bad};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(rd_kafka_producev(mock, RD_KAFKA_V_TOPIC("citerne.accounts.v1"),
                                           RD_KAFKA_V_KEY(p.customer, strlen(p.customer)),
                                           RD_KAFKA_V_VALUE(records[i]->data, records[i]->len),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_flush(mock, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
    ct_metric_t *invalid =
        ct_metrics_counter("citerne_events_invalid_total{topic=\"citerne.accounts.v1\"}", "");
    double invalid_before = ct_metric_value(invalid);

    const char *topics[] = {"citerne.accounts.v1"};
    ct_bus_consumer_t *consumer = NULL;
    assert_int_equal(ct_bus_consumer_new(&F.svc.loop, brokers, "notify-flow-test", topics, 1,
                                         notify_on_message, &F.svc, &consumer),
                     0);
    wait_count("SELECT count(*) FROM ct_inbox WHERE event_id = $1::uuid", r.event_id, 1);
    for (int i = 0; i < 5000 && ct_metric_value(invalid) == invalid_before; i++) {
        uv_run(&F.svc.loop, UV_RUN_NOWAIT);
        uv_sleep(2);
    }
    run_for(200); /* the duplicate has had its turn */
    assert_true(ct_metric_value(invalid) == invalid_before + 1);
    assert_int_equal(
        sql_count("SELECT count(*) FROM notifications WHERE cause_event_id = $1", r.event_id), 1);
    assert_int_equal(
        sql_count("SELECT count(*) FROM notifications WHERE cause_event_id = $1", bad.event_id), 0);

    bool closed = false;
    ct_bus_consumer_close(consumer, on_flag, &closed);
    assert_true(ct_test_run_until(&F.svc.loop, &closed, 20000));
    rd_kafka_destroy(mock);
    fx_free(&r);
    fx_free(&bad);
}

/* Someone links a customer that has admins: the user hears of it, and so
 * does each admin (at their profile's address), but no other collaborator;
 * the same event again queues nothing more. */
static void a_linked_customer_tells_each_of_its_admins(void **state)
{
    (void)state;
    ct_test_require_stack();
    people_t p;
    make_people(&p, "", "paul@example.com"); /* u1 and u2: admins */
    fx_record_t r;
    fx_profile(&r, p.u2, p.customer, "paul.martin@example.com", "", "Paul Martin", NULL);
    apply(&r, "citerne.accounts.v1", NULL);
    fx_free(&r);
    char viewer[37], newcomer[37];
    ct_uuid_v7(viewer);
    ct_uuid_v7(newcomer);
    fx_collaborator_added(&r, p.customer, viewer, "jeanne@example.com", "viewer", "", 0);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    fx_free(&r);

    fx_customer_linked(&r, newcomer, p.customer, "lea@example.com", "viewer", ct_now_ms());
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 3);
    char *kinds =
        sql_text("SELECT string_agg(kind || ':' || recipient, ',' ORDER BY kind, recipient)"
                 " FROM notifications WHERE cause_event_id = $1",
                 r.event_id);
    assert_string_equal(kinds, "customer_linked:lea@example.com,"
                               "customer_linked_admin:marie@example.com,"
                               "customer_linked_admin:paul.martin@example.com");
    free(kinds);
    char *body = sql_text("SELECT body FROM notifications WHERE cause_event_id = $1"
                          " AND recipient = 'paul.martin@example.com'",
                          r.event_id);
    assert_non_null(strstr(body, "Bonjour Paul Martin,\n\nUn nouvel utilisateur, Marie Dupont"
                                 " (lea@example.com), a désormais accès à l'espace client de"
                                 " Famille Dupont (client C-0042)"));
    free(body);
    assert_int_equal(sql_count("SELECT count(*) FROM notifications WHERE kind ="
                               " 'customer_linked_admin' AND user_id = $1",
                               p.u2),
                     1);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 0); /* replayed */
    fx_free(&r);
    /* the newcomer is a viewer in the read model, not told as an admin later */
    assert_int_equal(
        sql_count("SELECT count(*) FROM users WHERE user_id = $1 AND role = 'viewer'", newcomer),
        1);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_reset_request_sends_one_email_with_the_link_and_a_replay_none),
        cmocka_unit_test(a_link_that_expired_before_it_was_sent_is_dropped),
        cmocka_unit_test(a_user_who_turned_sms_off_gets_no_sms_for_an_invoice),
        cmocka_unit_test(sensitive_activity_goes_by_email_whatever_the_preferences),
        cmocka_unit_test(an_invitation_to_an_address_without_a_user_is_keyed_on_the_address),
        cmocka_unit_test(grants_follow_collaborators_and_a_closed_user_hears_nothing_more),
        cmocka_unit_test(a_reset_delivered_twice_by_the_bus_is_told_once),
        cmocka_unit_test(an_email_change_links_the_new_address_and_tells_the_old_one),
        cmocka_unit_test(a_phone_code_goes_by_sms_to_the_new_number_only),
        cmocka_unit_test(a_renamed_customer_is_named_anew_in_later_messages_only),
        cmocka_unit_test(an_update_of_an_unknown_customer_adds_it),
        cmocka_unit_test(a_linked_customer_tells_each_of_its_admins),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
