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

#include "citerne/db.h"
#include "citerne/error.h"
#include "citerne/http.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/migrate.h"
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

int flow_setup(const char *db_prefix)
{
    if (!ct_test_env("CITERNE_PG_URL"))
        return 0; /* each test fails or skips in ct_test_require_stack */
    ct_log_init("notify", CT_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    memset(&F, 0, sizeof F);
    ct_service_t *svc = &F.svc;
    assert_int_equal(uv_loop_init(&svc->loop), 0);
    snprintf(svc->topic, sizeof svc->topic, "citerne.notify.v1");
    F.pg_url = ct_test_create_db(db_prefix);
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

int flow_teardown(void)
{
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

notify_event_t apply(fx_record_t *r, const char *topic, int *status)
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

char *sql_text(const char *sql, const char *arg)
{
    const char *params[1] = {arg};
    PGresult *res = PQexecParams(F.pg, sql, arg ? 1 : 0, NULL, arg ? params : NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(F.pg));
    char *v = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? strdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    return v;
}

long long sql_count(const char *sql, const char *arg)
{
    char *v = sql_text(sql, arg);
    long long n = v ? atoll(v) : -1;
    free(v);
    return n;
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
