/* notify against the test stack's Postgres: events queue notifications in
 * real transactions; the sender delivers them through libcurl to a fake SMTP
 * server and an SMS endpoint served by the test on the same loop; the API
 * lists them. Emitted events stay in ct_outbox, where the tests decode them. */
#define _GNU_SOURCE
#include <ctype.h>
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
#include <libpq-fe.h>
#include <sodium.h>

#include "citerne/db.h"
#include "citerne/error.h"
#include "citerne/http.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/migrate.h"
#include "citerne/v1/notify.pb-c.h"
#include "events.h"
#include "fake_smtp.h"
#include "fixtures.h"
#include "http_client.h"
#include "notify.h"
#include "sender.h"
#include "stack.h"

extern const ct_migration_t notify_migrations[];
extern const size_t notify_migrations_count;

#define OPERATOR_KEY "test-operator-key-0123456789abcdef"
#define OP_AUTH "Authorization: Bearer " OPERATOR_KEY "\r\n"
#define SMS_TOKEN "sms-token-for-tests"

/* What the SMS endpoint received. */
#define MAX_SMS 32
typedef struct {
    char *body;
    char *auth;
} sms_t;

typedef struct {
    ct_service_t svc;
    notify_app_t app;
    char *pg_url;
    PGconn *pg;
    int port;
    fake_smtp_t smtp;
    int nsms;
    sms_t sms[MAX_SMS];
    int flaky_calls;
    ct_http_req_t *held; /* an SMS request left unanswered */
} fixture_t;

static fixture_t F;

/* ---- the SMS endpoint: the reply depends on the number ---- */

static void on_sms(ct_http_req_t *req, void *udata)
{
    (void)udata;
    size_t len = 0;
    const char *body = ct_http_body(req, &len);
    const char *auth = ct_http_header(req, "Authorization");
    if (F.nsms < MAX_SMS) {
        F.sms[F.nsms].body = strndup(body ? body : "", len);
        F.sms[F.nsms].auth = strdup(auth ? auth : "");
        F.nsms++;
    }
    int status = 200;
    if (body && memmem(body, len, "+33600000503", 12))
        status = 503;
    else if (body && memmem(body, len, "+33600000400", 12))
        status = 400;
    else if (body && memmem(body, len, "+33600000001", 12) && F.flaky_calls++ == 0)
        status = 503; /* fails once, then accepts */
    else if (body && memmem(body, len, "+33600000999", 12)) {
        F.held = req; /* never answers while the test looks */
        return;
    }
    ct_http_reply(req, status, "application/json", "{}", 2);
}

/* ---- set-up ---- */

static bool migrated;
static int migrate_status;

static void on_migrated(int status, const char *message, void *udata)
{
    (void)udata;
    migrate_status = status;
    if (status != 0)
        fprintf(stderr, "migrations: %s\n", message ? message : "?");
    migrated = true;
}

static int group_setup(void **state)
{
    (void)state;
    if (!ct_test_env("CITERNE_PG_URL"))
        return 0; /* each test fails or skips in ct_test_require_stack */
    ct_log_init("notify", CT_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    memset(&F, 0, sizeof F);
    ct_service_t *svc = &F.svc;
    assert_int_equal(uv_loop_init(&svc->loop), 0);
    snprintf(svc->topic, sizeof svc->topic, "citerne.notify.v1");
    F.pg_url = ct_test_create_db("notify_flow");
    assert_int_equal(ct_db_new(&svc->loop, F.pg_url, 3, &svc->db), 0);
    assert_int_equal(
        ct_migrate_run(svc->db, notify_migrations, notify_migrations_count, on_migrated, NULL), 0);
    assert_true(ct_test_run_until(&svc->loop, &migrated, 30000));
    assert_int_equal(migrate_status, 0);
    F.app.svc = svc;
    svc->udata = &F.app;
    assert_int_equal(ct_auth_key_init(&F.app.operator_key, OPERATOR_KEY), 0);
    assert_int_equal(ct_http_server_new(&svc->loop, NULL, &svc->http), 0);
    assert_int_equal(notify_api_register(svc->http, &F.app), 0);
    assert_int_equal(ct_http_route(svc->http, "POST", "/sms", on_sms, NULL), 0);
    assert_int_equal(ct_http_listen(svc->http, "127.0.0.1:0"), 0);
    F.port = ct_http_port(svc->http);
    fake_smtp_start(&F.smtp, &svc->loop);
    F.pg = PQconnectdb(F.pg_url);
    assert_int_equal(PQstatus(F.pg), CONNECTION_OK);
    return 0;
}

static int closes;

static void on_closed(void *udata)
{
    (void)udata;
    closes--;
}

static int group_teardown(void **state)
{
    (void)state;
    if (!F.pg_url)
        return 0;
    ct_service_t *svc = &F.svc;
    fake_smtp_stop(&F.smtp);
    closes = 2;
    ct_http_server_close(svc->http, on_closed, NULL);
    ct_db_close(svc->db, on_closed, NULL);
    for (int i = 0; i < 1000 && closes > 0; i++)
        uv_run(&svc->loop, UV_RUN_ONCE);
    assert_int_equal(closes, 0);
    ct_test_loop_close(&svc->loop);
    PQfinish(F.pg);
    free(F.pg_url);
    for (int i = 0; i < F.nsms; i++) {
        free(F.sms[i].body);
        free(F.sms[i].auth);
    }
    ct_metrics_reset();
    curl_global_cleanup();
    return 0;
}

/* ---- helpers ---- */

typedef struct {
    notify_event_t ev;
    bool done;
    int status;
} run_t;

static void on_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    notify_event_apply(tx, udata);
}

static void on_tx_done(const ct_db_error_t *err, void *udata)
{
    run_t *run = udata;
    run->status = err ? err->status : 0;
    if (err && err->status == CT_EDB)
        fprintf(stderr, "transaction failed: %s (%s)\n", err->message, err->sqlstate);
    run->done = true;
}

/* Decodes r as the consumer would and runs the inbox's apply step in a real
 * transaction; returns the handled event (outcome, created). */
static notify_event_t apply(fx_record_t *r, const char *topic, int *status)
{
    run_t run;
    memset(&run, 0, sizeof run);
    run.ev.topic = topic;
    const char *why = NULL;
    int rc = notify_event_decode(&run.ev, topic, r->data, r->len, &why);
    if (rc != 0)
        fail_msg("decode: %d (%s)", rc, why ? why : "");
    assert_int_equal(ct_db_tx_begin(F.svc.db, on_begun, on_tx_done, &run), 0);
    assert_true(ct_test_run_until(&F.svc.loop, &run.done, 10000));
    if (status)
        *status = run.status;
    else
        assert_int_equal(run.status, 0);
    return run.ev;
}

static char *sql_text(const char *sql, const char *arg)
{
    const char *params[1] = {arg};
    PGresult *res = PQexecParams(F.pg, sql, arg ? 1 : 0, NULL, arg ? params : NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(F.pg));
    char *v = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? strdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    return v;
}

static long long sql_count(const char *sql, const char *arg)
{
    char *v = sql_text(sql, arg);
    long long n = v ? atoll(v) : -1;
    free(v);
    return n;
}

/* Runs the loop until the query's count reaches want (10 s at most). */
static void wait_count(const char *sql, const char *arg, long long want)
{
    for (int i = 0; i < 5000; i++) {
        uv_run(&F.svc.loop, UV_RUN_NOWAIT);
        if (i % 5 == 0 && sql_count(sql, arg) == want)
            return;
        uv_sleep(2);
    }
    fail_msg("%s: %lld, want %lld", sql, sql_count(sql, arg), want);
}

typedef struct {
    char customer[37], u1[37], u2[37];
} people_t;

/* A customer with two users: u1 with e-mail and phone, u2 e-mail only. */
static void make_people(people_t *p, const char *phone, const char *email2)
{
    ct_uuid_v7(p->customer);
    ct_uuid_v7(p->u1);
    ct_uuid_v7(p->u2);
    fx_record_t r;
    fx_customer(&r, p->customer, "C-0042");
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).outcome, NOTIFY_OUT_STORED);
    fx_free(&r);
    fx_user(&r, p->u1, p->customer, "marie@example.com", phone, "Marie Dupont");
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).outcome, NOTIFY_OUT_STORED);
    fx_free(&r);
    fx_user(&r, p->u2, p->customer, email2, "", "Paul");
    assert_int_equal(apply(&r, "citerne.accounts.v1", NULL).outcome, NOTIFY_OUT_STORED);
    fx_free(&r);
}

static notify_sender_t *sender;
static bool sender_closed;

static void on_sender_closed(void *udata)
{
    (void)udata;
    sender_closed = true;
}

static void start_sender(int max_attempts)
{
    /* earlier tests' rows must not take this test's replies */
    PQclear(PQexec(F.pg, "UPDATE notifications SET status = 'failed' WHERE status = 'pending'"));
    char smtp_url[64], sms_url[64];
    snprintf(smtp_url, sizeof smtp_url, "smtp://127.0.0.1:%d", F.smtp.port);
    snprintf(sms_url, sizeof sms_url, "http://127.0.0.1:%d/sms", F.port);
    notify_sender_opts_t o = {
        .smtp_url = smtp_url,
        .smtp_from = "Citerne <no-reply@citerne.invalid>",
        .sms_url = sms_url,
        .sms_token = SMS_TOKEN,
        .topic = "citerne.notify.v1",
        .max_inflight = 4,
        .poll_ms = 20,
        .retry_base_ms = 20,
        .max_attempts = max_attempts,
        .timeout_ms = 5000,
    };
    assert_int_equal(notify_sender_new(&F.svc.loop, &F.svc.db, &o, &sender), 0);
    F.app.sender = sender;
}

static void stop_sender(void)
{
    sender_closed = false;
    notify_sender_close(sender, on_sender_closed, NULL);
    assert_true(ct_test_run_until(&F.svc.loop, &sender_closed, 10000));
    sender = NULL;
    F.app.sender = NULL;
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

static const char *find_message(const char *to)
{
    for (int i = 0; i < F.smtp.nmessages; i++)
        if (strstr(F.smtp.envelope[i], to))
            return F.smtp.messages[i];
    return NULL;
}

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

/* ---- accounts ---- */

#define PLACEHOLDER "(texte retiré : il contenait un lien à usage unique)"

/* The text of a quoted-printable body (soft breaks joined, =XX decoded). */
static char *qp_decode(const char *in)
{
    char *out = malloc(strlen(in) + 1), *o = out;
    while (*in) {
        if (in[0] == '=' && in[1] == '\r' && in[2] == '\n') {
            in += 3;
        } else if (in[0] == '=' && isxdigit((unsigned char)in[1]) &&
                   isxdigit((unsigned char)in[2])) {
            char hex[3] = {in[1], in[2], '\0'};
            *o++ = (char)strtol(hex, NULL, 16);
            in += 3;
        } else {
            *o++ = *in++;
        }
    }
    *o = '\0';
    return out;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Runs the loop for about ms. */
static void run_for(int ms)
{
    for (int i = 0; i < ms / 2; i++) {
        uv_run(&F.svc.loop, UV_RUN_NOWAIT);
        uv_sleep(2);
    }
}

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
        cmocka_unit_test(an_event_for_an_unknown_customer_is_retried_then_skipped),
        cmocka_unit_test(the_sender_delivers_email_and_sms_and_records_them),
        cmocka_unit_test(a_failed_send_is_retried_then_succeeds),
        cmocka_unit_test(a_permanent_refusal_fails_at_once),
        cmocka_unit_test(attempts_stop_at_the_maximum),
        cmocka_unit_test(closing_the_sender_mid_send_leaves_the_row_for_later),
        cmocka_unit_test(closing_the_sender_aborts_an_email_the_server_does_not_answer),
        cmocka_unit_test(the_operator_lists_a_customers_notifications),
        cmocka_unit_test(a_reset_request_sends_one_email_with_the_link_and_a_replay_none),
        cmocka_unit_test(a_link_that_expired_before_it_was_sent_is_dropped),
        cmocka_unit_test(a_user_who_turned_sms_off_gets_no_sms_for_an_invoice),
        cmocka_unit_test(sensitive_activity_goes_by_email_whatever_the_preferences),
        cmocka_unit_test(an_invitation_to_an_address_without_a_user_is_keyed_on_the_address),
        cmocka_unit_test(grants_follow_collaborators_and_a_closed_user_hears_nothing_more),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
