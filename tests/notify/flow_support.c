/* The fixture of notify's flow tests (see flow_support.h). */
#define _GNU_SOURCE
#include "flow_support.h"

#include <ctype.h>
#include <curl/curl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/http.h"
#include "citerne/log.h"
#include "citerne/migrate.h"
#include "fixture.h"
#include "service_fixture.h"
#include "stack.h"

extern const ct_migration_t notify_migrations[];
extern const size_t notify_migrations_count;

fixture_t F;
notify_sender_t *sender;

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

static int routes(ct_service_t *svc, void *udata)
{
    if (notify_api_register(svc->http, udata) != 0)
        return -1;
    return ct_http_route(svc->http, "POST", "/sms", on_sms, NULL);
}

int flow_setup(const char *db_prefix)
{
    memset(&F, 0, sizeof F);
    F.app.svc = &F.svc;
    F.svc.udata = &F.app;
    assert_int_equal(ct_auth_key_init(&F.app.operator_key, OPERATOR_KEY), 0);
    const ct_test_service_opts_t o = {
        .name = "notify",
        .log_level = CT_LOG_ERROR,
        .db_prefix = db_prefix,
        .db_connections = 3,
        .migrations = notify_migrations,
        .nmigrations = notify_migrations_count,
        .redis = true, /* sessions, for the user's export */
        .routes = routes,
        .udata = &F.app,
    };
    int rc = ct_test_service_open(&F.svc, &o, &F.pg_url, &F.pg, &F.port);
    if (!F.pg_url)
        return rc; /* each test fails or skips in ct_test_require_stack */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fake_smtp_start(&F.smtp, &F.svc.loop);
    return 0;
}

int flow_teardown(void)
{
    if (!F.pg_url)
        return 0;
    fake_smtp_stop(&F.smtp);
    ct_test_service_close(&F.svc, F.pg, F.pg_url);
    for (int i = 0; i < F.nsms; i++) {
        free(F.sms[i].body);
        free(F.sms[i].auth);
    }
    curl_global_cleanup();
    return 0;
}

/* ---- helpers ---- */

notify_event_t apply(fx_record_t *r, const char *topic, int *status)
{
    notify_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.topic = topic;
    const char *why = NULL;
    int rc = notify_event_decode(&ev, topic, r->data, r->len, &why);
    if (rc != 0)
        fail_msg("decode: %d (%s)", rc, why ? why : "");
    int st = ct_test_tx_apply(&F.svc.loop, F.svc.db, notify_event_apply, &ev);
    if (status)
        *status = st;
    else
        assert_int_equal(st, 0);
    return ev;
}

char *sql_text(const char *sql, const char *arg)
{
    return ct_test_sql_text(F.pg, sql, arg);
}

long long sql_count(const char *sql, const char *arg)
{
    return ct_test_sql_number(F.pg, sql, arg);
}

void wait_count(const char *sql, const char *arg, long long want)
{
    for (int i = 0; i < 5000; i++) {
        uv_run(&F.svc.loop, UV_RUN_NOWAIT);
        if (i % 5 == 0 && sql_count(sql, arg) == want)
            return;
        uv_sleep(2);
    }
    fail_msg("%s: %lld, want %lld", sql, sql_count(sql, arg), want);
}

void make_people(people_t *p, const char *phone, const char *email2)
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

static bool sender_closed;

static void on_sender_closed(void *udata)
{
    (void)udata;
    sender_closed = true;
}

void start_sender(int max_attempts)
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

void stop_sender(void)
{
    sender_closed = false;
    notify_sender_close(sender, on_sender_closed, NULL);
    assert_true(ct_test_run_until(&F.svc.loop, &sender_closed, 10000));
    sender = NULL;
    F.app.sender = NULL;
}

const char *find_message(const char *to)
{
    for (int i = 0; i < F.smtp.nmessages; i++)
        if (strstr(F.smtp.envelope[i], to))
            return F.smtp.messages[i];
    return NULL;
}

char *qp_decode(const char *in)
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

char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

void run_for(int ms)
{
    for (int i = 0; i < ms / 2; i++) {
        uv_run(&F.svc.loop, UV_RUN_NOWAIT);
        uv_sleep(2);
    }
}
