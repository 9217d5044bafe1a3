/* notify against the test stack's Postgres: events queue notifications in
 * real transactions; the sender delivers them through libcurl to a fake SMTP
 * server and an SMS endpoint served by the test on the same loop; the API
 * lists them. Emitted events stay in ct_outbox, where the tests decode them. */
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
#include <libpq-fe.h>
#include <sodium.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/log.h"
#include "citerne/v1/notify.pb-c.h"
#include "flow_support.h"
#include "http_client.h"
#include "stack.h"

static int group_setup(void **state)
{
    (void)state;
    return flow_setup("notify_flow");
}

static int group_teardown(void **state)
{
    (void)state;
    return flow_teardown();
}

/* ---- queueing ---- */

static void an_event_queues_one_notification_per_user_and_channel(void **state)
{
    (void)state;
    ct_test_require_stack();
    people_t p;
    make_people(&p, "+33612345678", "paul@example.com");
    fx_record_t r;
    fx_order_proposed(&r, p.customer, "on_demand", 1200, 0);
    notify_event_t ev = apply(&r, "citerne.orders.v1", NULL);
    assert_int_equal(ev.outcome, NOTIFY_OUT_QUEUED);
    assert_int_equal(ev.created, 3); /* u1: e-mail and SMS, u2: e-mail */
    char *rows = sql_text("SELECT string_agg(concat_ws('|', kind, channel, recipient, status,"
                          " attempts, cause_event_id), ';' ORDER BY channel, recipient)"
                          " FROM notifications WHERE customer_id = $1",
                          p.customer);
    char want[1024];
    snprintf(want, sizeof want,
             "order_proposed|email|marie@example.com|pending|0|%s;"
             "order_proposed|email|paul@example.com|pending|0|%s;"
             "order_proposed|sms|+33612345678|pending|0|%s",
             r.event_id, r.event_id, r.event_id);
    assert_string_equal(rows, want);
    free(rows);
    char *subject = sql_text("SELECT subject FROM notifications WHERE customer_id = $1"
                             " AND recipient = 'marie@example.com'",
                             p.customer);
    assert_string_equal(subject, "Commande de propane à confirmer\xc2\xa0: 1\xe2\x80\xaf"
                                 "200\xc2\xa0kg");
    free(subject);
    char *sms = sql_text("SELECT body FROM notifications WHERE customer_id = $1"
                         " AND channel = 'sms'",
                         p.customer);
    assert_string_equal(sms, "Citerne : nous vous proposons une livraison de 1 200 kg de "
                             "propane (sous 15 jours). Pour la recevoir, confirmez dans votre "
                             "espace client.");
    free(sms);

    /* the same event again (redelivered past the inbox): nothing more */
    notify_event_t again = apply(&r, "citerne.orders.v1", NULL);
    assert_int_equal(again.created, 0);
    assert_int_equal(
        sql_count("SELECT count(*) FROM notifications WHERE customer_id = $1", p.customer), 3);
    fx_free(&r);
}

static void every_notifiable_event_is_queued_with_its_kind(void **state)
{
    (void)state;
    ct_test_require_stack();
    people_t p;
    make_people(&p, "", "");
    fx_record_t r;
    fx_delivery_scheduled(&r, p.customer, "2026-11-24", 500);
    assert_int_equal(apply(&r, "citerne.orders.v1", NULL).created, 1);
    fx_free(&r);
    fx_delivery_confirmed(&r, p.customer, "2026-11-24", 480);
    assert_int_equal(apply(&r, "citerne.orders.v1", NULL).created, 1);
    fx_free(&r);
    fx_invoice_issued(&r, p.customer, "FA2026-000007", 123456, "2026-11-25");
    assert_int_equal(apply(&r, "citerne.billing.v1", NULL).created, 1);
    fx_free(&r);
    char *kinds = sql_text("SELECT string_agg(kind || ':' || subject, ';' ORDER BY kind)"
                           " FROM notifications WHERE customer_id = $1",
                           p.customer);
    assert_string_equal(kinds, "delivery_confirmed:Livraison effectuée\xc2\xa0: 480\xc2\xa0kg "
                               "de propane;"
                               "delivery_scheduled:Livraison prévue le mardi 24 novembre 2026;"
                               "invoice_issued:Facture FA2026-000007\xc2\xa0: 1\xe2\x80\xaf"
                               "234,56\xc2\xa0€");
    free(kinds);
}

/* An express delivery someone confirmed: besides the chain's message, each
 * admin and the orderer hear who ordered it, by e-mail only and whatever
 * the preferences (a security notice), each once; a viewer does not, nor
 * does a standard or an automatic delivery. */
static void an_urgent_delivery_tells_the_admins_and_the_orderer(void **state)
{
    (void)state;
    ct_test_require_stack();
    people_t p;
    make_people(&p, "+33612345678", "paul@example.com"); /* u1 and u2: admins */
    char orderer[37], viewer[37];
    ct_uuid_v7(orderer);
    ct_uuid_v7(viewer);
    fx_record_t r;
    fx_collaborator_added(&r, p.customer, orderer, "lea@example.com", "orderer", "", 0);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    fx_free(&r);
    fx_collaborator_added(&r, p.customer, viewer, "jeanne@example.com", "viewer", "", 0);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).created, 1);
    fx_free(&r);
    /* the orderer turned delivery messages off: the notice still goes */
    static const char *const none[] = {"delivery_scheduled", "none", NULL};
    fx_profile(&r, orderer, p.customer, "lea@example.com", "", "Léa Girard", none);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).outcome, NOTIFY_OUT_STORED);
    fx_free(&r);

    fx_delivery_scheduled_by(&r, p.customer, "2026-11-24", 1200, "express_48h", orderer);
    notify_event_t ev = apply(&r, "citerne.orders.v1", NULL);
    assert_int_equal(ev.outcome, NOTIFY_OUT_QUEUED);
    /* delivery_scheduled: u1 e-mail and SMS, u2, the viewer; then 3 notices */
    assert_int_equal(ev.created, 7);
    char *kinds = sql_text("SELECT string_agg(kind || ':' || channel || ':' || recipient, ','"
                           " ORDER BY kind, channel, recipient) FROM notifications"
                           " WHERE cause_event_id = $1",
                           r.event_id);
    assert_string_equal(kinds, "delivery_scheduled:email:jeanne@example.com,"
                               "delivery_scheduled:email:marie@example.com,"
                               "delivery_scheduled:email:paul@example.com,"
                               "delivery_scheduled:sms:+33612345678,"
                               "urgent_delivery_ordered:email:lea@example.com,"
                               "urgent_delivery_ordered:email:marie@example.com,"
                               "urgent_delivery_ordered:email:paul@example.com");
    free(kinds);
    char *to_admin = sql_text("SELECT subject || '|' || body FROM notifications"
                              " WHERE cause_event_id = $1 AND kind = 'urgent_delivery_ordered'"
                              " AND recipient = 'marie@example.com'",
                              r.event_id);
    assert_non_null(strstr(to_admin, "Livraison express commandée pour l'espace client de"
                                     " Famille Dupont (client C-0042)|Bonjour Marie Dupont,"
                                     "\n\nLéa Girard (lea@example.com) a commandé, dans"
                                     " l'espace client de Famille Dupont (client C-0042), une"
                                     " livraison express sous 48 h de"
                                     " 1\xe2\x80\xaf"
                                     "200\xc2\xa0kg de propane pour votre site, prévue le mardi"
                                     " 24 novembre 2026.\n"));
    free(to_admin);
    char *to_orderer = sql_text("SELECT body FROM notifications WHERE cause_event_id = $1"
                                " AND kind = 'urgent_delivery_ordered'"
                                " AND recipient = 'lea@example.com'",
                                r.event_id);
    assert_non_null(strstr(to_orderer, "Bonjour Léa Girard,\n\nVous avez commandé,"));
    free(to_orderer);
    assert_int_equal(apply(&r, "citerne.orders.v1", NULL).created, 0); /* replayed */
    fx_free(&r);

    /* standard speed, or nobody confirmed it: no notice */
    fx_delivery_scheduled_by(&r, p.customer, "2026-11-24", 1200, "standard", orderer);
    assert_int_equal(apply(&r, "citerne.orders.v1", NULL).created, 4);
    fx_free(&r);
    fx_delivery_scheduled_by(&r, p.customer, "2026-11-24", 1200, "express_8d", "");
    assert_int_equal(apply(&r, "citerne.orders.v1", NULL).created, 4);
    fx_free(&r);
    assert_int_equal(sql_count("SELECT count(*) FROM notifications WHERE customer_id = $1"
                               " AND kind = 'urgent_delivery_ordered'",
                               p.customer),
                     3);
}

/* A held order waits for the customer to send the certificate: told on
 * every channel the user has, even when the profile turned order messages
 * off (accounts offers no preference for it; one listed anyway is not
 * read). */
static void a_held_order_is_told_on_every_channel_whatever_the_preferences(void **state)
{
    (void)state;
    ct_test_require_stack();
    start_sender(10);
    people_t p;
    make_people(&p, "+33612345678", "paul@example.com");
    /* proposals off, and an order_held entry accounts would never send */
    static const char *const none[] = {"order_proposed", "none", "order_held", "none", NULL};
    fx_record_t r;
    fx_profile(&r, p.u1, p.customer, "marie@example.com", "+33612345678", "Marie Dupont", none);
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).outcome, NOTIFY_OUT_STORED);
    fx_free(&r);
    /* the proposal reaches Paul only; the hold reaches both, Marie twice */
    fx_order_proposed(&r, p.customer, "automatic", 600, 0);
    assert_int_equal(apply(&r, "citerne.orders.v1", NULL).created, 1);
    fx_free(&r);
    fx_order_held(&r, p.customer, "certificate_missing", 0);
    notify_event_t ev = apply(&r, "citerne.orders.v1", NULL);
    assert_int_equal(ev.outcome, NOTIFY_OUT_QUEUED);
    assert_int_equal(ev.created, 3);
    char *rows = sql_text("SELECT string_agg(concat_ws('|', kind, channel, recipient, subject),"
                          " ';' ORDER BY channel, recipient)"
                          " FROM notifications WHERE cause_event_id = $1",
                          r.event_id);
    assert_string_equal(rows, "order_held|email|marie@example.com|Livraison en attente de votre "
                              "certificat de conformité;"
                              "order_held|email|paul@example.com|Livraison en attente de votre "
                              "certificat de conformité;"
                              "order_held|sms|+33612345678|");
    free(rows);
    /* sent (the proposal's e-mail to Paul too), and reported with its kind */
    int before_sms = F.nsms;
    notify_sender_kick(sender);
    wait_count("SELECT count(*) FROM notifications WHERE customer_id = $1 AND status = 'sent'",
               p.customer, 4);
    assert_int_equal(F.nsms, before_sms + 1);
    json_t *sms = json_loads(F.sms[before_sms].body, 0, NULL);
    assert_non_null(sms);
    assert_string_equal(json_string_value(json_object_get(sms, "text")),
                        "Citerne : votre livraison de propane attend le certificat de conformité "
                        "de votre installation, obligatoire pour une première livraison. "
                        "Envoyez-le à notre service client : nous planifierons la livraison dès "
                        "sa réception.");
    json_decref(sms);
    PGresult *res = PQexecParams(F.pg, "SELECT payload FROM ct_outbox WHERE key = $1", 1, NULL,
                                 (const char *const[]){p.customer}, NULL, NULL, 1);
    assert_int_equal(PQntuples(res), 4);
    int held = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        Citerne__V1__NotifyEvent *ne = citerne__v1__notify_event__unpack(
            NULL, (size_t)PQgetlength(res, i, 0), (const uint8_t *)PQgetvalue(res, i, 0));
        assert_non_null(ne);
        assert_int_equal(ne->body_case, CITERNE__V1__NOTIFY_EVENT__BODY_NOTIFICATION_SENT);
        if (strcmp(ne->notification_sent->cause_event_id, r.event_id) == 0) {
            assert_string_equal(ne->notification_sent->kind, "order_held");
            held++;
        }
        citerne__v1__notify_event__free_unpacked(ne, NULL);
    }
    PQclear(res);
    assert_int_equal(held, 3);
    fx_free(&r);
    stop_sender();
}

static void an_event_for_an_unknown_customer_is_retried_then_skipped(void **state)
{
    (void)state;
    ct_test_require_stack();
    char customer[37];
    ct_uuid_v7(customer);
    fx_record_t r;
    int status = 0;
    fx_order_proposed(&r, customer, "on_demand", 300, 0);
    notify_event_t ev = apply(&r, "citerne.orders.v1", &status);
    fx_free(&r);
    assert_int_equal(ev.outcome, NOTIFY_OUT_ORPHAN_RETRY);
    assert_int_equal(status, CT_EUNAVAIL);
    fx_order_proposed(&r, customer, "on_demand", 300, ct_now_ms() - 11 * 60 * 1000);
    ev = apply(&r, "citerne.orders.v1", &status);
    fx_free(&r);
    assert_int_equal(ev.outcome, NOTIFY_OUT_ORPHAN_SKIPPED);
    assert_int_equal(status, 0);
    assert_int_equal(
        sql_count("SELECT count(*) FROM notifications WHERE customer_id = $1", customer), 0);
}

/* ---- sending ---- */

static void the_sender_delivers_email_and_sms_and_records_them(void **state)
{
    (void)state;
    ct_test_require_stack();
    start_sender(10);
    people_t p;
    make_people(&p, "+33612345678", "");
    int before_sms = F.nsms, before_mail = F.smtp.nmessages;
    long long outbox = sql_count("SELECT count(*) FROM ct_outbox", NULL);
    fx_record_t r;
    fx_delivery_scheduled(&r, p.customer, "2026-11-24", 500);
    assert_int_equal(apply(&r, "citerne.orders.v1", NULL).created, 2);
    notify_sender_kick(sender);
    wait_count("SELECT count(*) FROM notifications WHERE customer_id = $1 AND status = 'sent'"
               " AND attempts = 1 AND sent_at IS NOT NULL",
               p.customer, 2);
    assert_int_equal(F.smtp.nmessages, before_mail + 1);
    assert_int_equal(F.nsms, before_sms + 1);

    const char *mail = find_message("marie@example.com");
    assert_non_null(mail);
    assert_non_null(strstr(F.smtp.envelope[before_mail], "MAIL FROM:<no-reply@citerne.invalid>"));
    assert_non_null(strstr(F.smtp.envelope[before_mail], "RCPT TO:<marie@example.com>"));
    assert_non_null(strstr(mail, "From: Citerne <no-reply@citerne.invalid>\r\n"));
    assert_non_null(strstr(mail, "To: <marie@example.com>\r\n"));
    /* "Livraison prévue le mardi 24 novembre 2026" as one encoded word */
    assert_non_null(strstr(mail, "Subject: =?UTF-8?B?TGl2cmFpc29uIHByw6l2dWUgbGUgbWFyZGkgMjQgbm92"
                                 "ZW1icmUgMjAyNg==?=\r\n"));
    assert_non_null(strstr(mail, "Content-Type: text/plain; charset=UTF-8\r\n"));
    assert_non_null(strstr(mail, "Content-Transfer-Encoding: quoted-printable\r\n"));
    assert_non_null(strstr(mail, "Message-ID: <"));
    assert_non_null(strstr(mail, "Bonjour Marie Dupont,\r\n"));
    /* quoted-printable, with a soft break at 76 characters */
    assert_non_null(strstr(mail, "\r\nVotre livraison de 500=C2=A0kg de propane est pr=C3=A9vue "
                                 "le mardi 24 novem=\r\nbre 2026.\r\n"));

    json_t *sms = json_loads(F.sms[before_sms].body, 0, NULL);
    assert_non_null(sms);
    assert_string_equal(json_string_value(json_object_get(sms, "to")), "+33612345678");
    assert_string_equal(json_string_value(json_object_get(sms, "text")),
                        "Citerne : livraison de 500 kg de propane prévue le mardi 24 novembre "
                        "2026.");
    char *sms_id = sql_text("SELECT notification_id FROM notifications WHERE customer_id = $1"
                            " AND channel = 'sms'",
                            p.customer);
    assert_string_equal(json_string_value(json_object_get(sms, "reference")), sms_id);
    json_decref(sms);
    assert_string_equal(F.sms[before_sms].auth, "Bearer " SMS_TOKEN);

    /* NotificationSent for each, keyed by customer, caused by the event */
    assert_int_equal(sql_count("SELECT count(*) FROM ct_outbox", NULL), outbox + 2);
    PGresult *res = PQexecParams(F.pg,
                                 "SELECT topic, key, payload FROM ct_outbox ORDER BY id DESC"
                                 " LIMIT 2",
                                 0, NULL, NULL, NULL, NULL, 1);
    assert_int_equal(PQntuples(res), 2);
    int seen_sms = 0;
    for (int i = 0; i < 2; i++) {
        assert_string_equal(PQgetvalue(res, i, 0), "citerne.notify.v1");
        assert_string_equal(PQgetvalue(res, i, 1), p.customer);
        Citerne__V1__NotifyEvent *ev = citerne__v1__notify_event__unpack(
            NULL, (size_t)PQgetlength(res, i, 2), (const uint8_t *)PQgetvalue(res, i, 2));
        assert_non_null(ev);
        assert_int_equal(ev->body_case, CITERNE__V1__NOTIFY_EVENT__BODY_NOTIFICATION_SENT);
        Citerne__V1__NotificationSent *ns = ev->notification_sent;
        assert_string_equal(ns->customer_id, p.customer);
        assert_string_equal(ns->user_id, p.u1);
        assert_string_equal(ns->kind, "delivery_scheduled");
        assert_string_equal(ns->cause_event_id, r.event_id);
        assert_string_equal(ev->meta->causation_id, r.event_id);
        assert_string_equal(ev->meta->correlation_id, r.event_id);
        assert_string_equal(ev->meta->producer, "notify");
        if (strcmp(ns->channel, "sms") == 0) {
            seen_sms++;
            assert_string_equal(ns->notification_id, sms_id);
        }
        citerne__v1__notify_event__free_unpacked(ev, NULL);
    }
    assert_int_equal(seen_sms, 1);
    PQclear(res);
    free(sms_id);
    fx_free(&r);
    stop_sender();
}

static void a_failed_send_is_retried_then_succeeds(void **state)
{
    (void)state;
    ct_test_require_stack();
    start_sender(10);
    people_t p;
    make_people(&p, "+33600000001", ""); /* the SMS endpoint refuses it once */
    F.flaky_calls = 0;
    fx_record_t r;
    fx_delivery_confirmed(&r, p.customer, "2026-11-24", 480);
    assert_int_equal(apply(&r, "citerne.orders.v1", NULL).created, 2);
    fx_free(&r);
    notify_sender_kick(sender);
    wait_count("SELECT count(*) FROM notifications WHERE customer_id = $1 AND channel = 'sms'"
               " AND status = 'sent' AND attempts = 2 AND last_error IS NULL",
               p.customer, 1);
    assert_int_equal(F.flaky_calls, 2);
    stop_sender();
}

static void a_permanent_refusal_fails_at_once(void **state)
{
    (void)state;
    ct_test_require_stack();
    start_sender(10);
    people_t p;
    make_people(&p, "+33600000400", "refuse@example.com");
    fx_record_t r;
    fx_delivery_confirmed(&r, p.customer, "2026-11-24", 480);
    assert_int_equal(apply(&r, "citerne.orders.v1", NULL).created, 3);
    fx_free(&r);
    notify_sender_kick(sender);
    /* the SMS (HTTP 400) and the refused mailbox (550) fail after one attempt */
    wait_count("SELECT count(*) FROM notifications WHERE customer_id = $1 AND status = 'failed'"
               " AND attempts = 1",
               p.customer, 2);
    wait_count("SELECT count(*) FROM notifications WHERE customer_id = $1 AND status = 'sent'",
               p.customer, 1);
    char *err = sql_text("SELECT last_error FROM notifications WHERE customer_id = $1"
                         " AND channel = 'sms'",
                         p.customer);
    assert_string_equal(err, "sms provider answered HTTP 400");
    free(err);
    err = sql_text("SELECT last_error FROM notifications WHERE customer_id = $1"
                   " AND recipient = 'refuse@example.com'",
                   p.customer);
    assert_non_null(strstr(err, "reply 550"));
    free(err);
    stop_sender();
}

static void attempts_stop_at_the_maximum(void **state)
{
    (void)state;
    ct_test_require_stack();
    start_sender(3);
    people_t p;
    make_people(&p, "+33600000503", ""); /* always 503 */
    fx_record_t r;
    fx_delivery_confirmed(&r, p.customer, "2026-11-24", 480);
    apply(&r, "citerne.orders.v1", NULL);
    fx_free(&r);
    notify_sender_kick(sender);
    wait_count("SELECT count(*) FROM notifications WHERE customer_id = $1 AND channel = 'sms'"
               " AND status = 'failed' AND attempts = 3",
               p.customer, 1);
    /* backoff grows: it took at least 20 + 40 ms between the attempts */
    stop_sender();
}

static void closing_the_sender_mid_send_leaves_the_row_for_later(void **state)
{
    (void)state;
    ct_test_require_stack();
    start_sender(10);
    people_t p;
    make_people(&p, "+33600000999", ""); /* the endpoint holds the request */
    F.held = NULL;
    fx_record_t r;
    fx_delivery_confirmed(&r, p.customer, "2026-11-24", 480);
    apply(&r, "citerne.orders.v1", NULL);
    fx_free(&r);
    notify_sender_kick(sender);
    for (int i = 0; i < 5000 && !F.held; i++)
        uv_run(&F.svc.loop, UV_RUN_ONCE);
    assert_non_null(F.held);
    assert_true(notify_sender_inflight(sender) >= 1);
    stop_sender(); /* aborts the transfer, closes every handle */
    ct_http_reply(F.held, 200, "application/json", "{}", 2);
    F.held = NULL;
    /* still pending, leased: another sender takes it when the lease ends */
    assert_int_equal(sql_count("SELECT count(*) FROM notifications WHERE customer_id = $1"
                               " AND channel = 'sms' AND status = 'pending' AND attempts = 0"
                               " AND next_attempt_at > now()",
                               p.customer),
                     1);
}

static void closing_the_sender_aborts_an_email_the_server_does_not_answer(void **state)
{
    (void)state;
    ct_test_require_stack();
    start_sender(10);
    people_t p;
    make_people(&p, "", "mute@example.com");
    int muted = F.smtp.muted;
    fx_record_t r;
    fx_delivery_confirmed(&r, p.customer, "2026-11-24", 480);
    apply(&r, "citerne.orders.v1", NULL);
    fx_free(&r);
    notify_sender_kick(sender);
    for (int i = 0; i < 5000 && F.smtp.muted == muted; i++) {
        uv_run(&F.svc.loop, UV_RUN_NOWAIT);
        uv_sleep(2);
    }
    assert_int_equal(F.smtp.muted, muted + 1);
    assert_true(notify_sender_inflight(sender) >= 1);
    /* the send blocks in a pool thread; closing aborts it (progress callback) */
    uint64_t t0 = uv_hrtime();
    stop_sender();
    assert_true(uv_hrtime() - t0 < 5000000000ULL);
    assert_int_equal(sql_count("SELECT count(*) FROM notifications WHERE customer_id = $1"
                               " AND recipient = 'mute@example.com' AND status = 'pending'"
                               " AND attempts = 0",
                               p.customer),
                     1);
}

/* ---- the API ---- */

static void get(const char *path, const char *headers, int want, test_resp_t *r)
{
    test_http(&F.svc.loop, F.port, "GET", path, headers, NULL, r);
    if (r->status != want)
        fail_msg("GET %s: %d, want %d: %s", path, r->status, want, r->body ? r->body : "");
}

static void the_operator_lists_a_customers_notifications(void **state)
{
    (void)state;
    ct_test_require_stack();
    people_t p;
    make_people(&p, "+33612345678", "");
    fx_record_t r;
    fx_invoice_issued(&r, p.customer, "FA2026-000009", 5000, "2026-11-25");
    apply(&r, "citerne.billing.v1", NULL);
    char path[160];
    snprintf(path, sizeof path, "/api/v1/notify/notifications?customer_id=%s", p.customer);
    test_resp_t resp;
    get(path, OP_AUTH, 200, &resp);
    json_t *list = json_object_get(resp.json, "notifications");
    assert_int_equal(json_array_size(list), 2);
    size_t i;
    json_t *n;
    json_array_foreach(list, i, n)
    {
        assert_true(ct_uuid_valid(json_string_value(json_object_get(n, "id"))));
        assert_string_equal(json_string_value(json_object_get(n, "kind")), "invoice_issued");
        assert_string_equal(json_string_value(json_object_get(n, "status")), "pending");
        assert_int_equal(json_integer_value(json_object_get(n, "attempts")), 0);
        assert_string_equal(json_string_value(json_object_get(n, "cause_event_id")), r.event_id);
        assert_non_null(json_string_value(json_object_get(n, "created_at")));
        assert_true(json_is_null(json_object_get(n, "sent_at")));
        const char *channel = json_string_value(json_object_get(n, "channel"));
        const char *recipient = json_string_value(json_object_get(n, "recipient"));
        assert_string_equal(recipient,
                            strcmp(channel, "sms") == 0 ? "+33612345678" : "marie@example.com");
    }
    test_resp_dispose(&resp);
    fx_free(&r);
    get(path, NULL, 401, &resp);
    test_resp_dispose(&resp);
    get(path, "Authorization: Bearer not-the-operator-key\r\n", 401, &resp);
    test_resp_dispose(&resp);
    get("/api/v1/notify/notifications", OP_AUTH, 400, &resp);
    test_resp_dispose(&resp);
    get("/api/v1/notify/notifications?customer_id=x", OP_AUTH, 400, &resp);
    test_resp_dispose(&resp);
    char unknown[37];
    ct_uuid_v7(unknown);
    snprintf(path, sizeof path, "/api/v1/notify/notifications?customer_id=%s", unknown);
    get(path, OP_AUTH, 200, &resp);
    assert_int_equal(json_array_size(json_object_get(resp.json, "notifications")), 0);
    test_resp_dispose(&resp);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_event_queues_one_notification_per_user_and_channel),
        cmocka_unit_test(every_notifiable_event_is_queued_with_its_kind),
        cmocka_unit_test(an_urgent_delivery_tells_the_admins_and_the_orderer),
        cmocka_unit_test(an_event_for_an_unknown_customer_is_retried_then_skipped),
        cmocka_unit_test(the_sender_delivers_email_and_sms_and_records_them),
        cmocka_unit_test(a_failed_send_is_retried_then_succeeds),
        cmocka_unit_test(a_permanent_refusal_fails_at_once),
        cmocka_unit_test(attempts_stop_at_the_maximum),
        cmocka_unit_test(closing_the_sender_mid_send_leaves_the_row_for_later),
        cmocka_unit_test(closing_the_sender_aborts_an_email_the_server_does_not_answer),
        cmocka_unit_test(the_operator_lists_a_customers_notifications),
        /* after the sender's tests: they read the first message to Marie */
        cmocka_unit_test(a_held_order_is_told_on_every_channel_whatever_the_preferences),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
