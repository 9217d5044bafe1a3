/* The fixture of billing's stack tests (see flow_support.h). */
#include "flow_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "citerne/cache.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/migrate.h"
#include "stack.h"

extern const ct_migration_t billing_migrations[];
extern const size_t billing_migrations_count;

fixture_t F;

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
    if (!ct_test_env("CITERNE_PG_URL") || !ct_test_env("CITERNE_REDIS_URL"))
        return 0; /* each test fails or skips in ct_test_require_stack */
    ct_log_init("billing", CT_LOG_ERROR);
    memset(&F, 0, sizeof F);
    ct_service_t *svc = &F.svc;
    assert_int_equal(uv_loop_init(&svc->loop), 0);
    snprintf(svc->topic, sizeof svc->topic, "citerne.billing.v1");
    F.pg_url = ct_test_create_db(db_prefix);
    assert_int_equal(ct_db_new(&svc->loop, F.pg_url, 2, &svc->db), 0);
    assert_int_equal(ct_cache_new(&svc->loop, ct_test_env("CITERNE_REDIS_URL"), &svc->cache), 0);
    assert_int_equal(
        ct_migrate_run(svc->db, billing_migrations, billing_migrations_count, on_migrated, NULL),
        0);
    assert_true(ct_test_run_until(&svc->loop, &migrated, 30000));
    assert_int_equal(migrate_status, 0);

    F.app.svc = svc;
    svc->udata = &F.app;
    assert_int_equal(ct_auth_key_init(&F.app.operator_key, OPERATOR_KEY), 0);
    assert_int_equal(ct_http_server_new(&svc->loop, NULL, &svc->http), 0);
    assert_int_equal(billing_api_register(svc->http, &F.app), 0);
    assert_int_equal(ct_http_listen(svc->http, "127.0.0.1:0"), 0);
    F.port = ct_http_port(svc->http);
    for (int i = 0; i < 300 && !ct_cache_ready(svc->cache); i++)
        uv_run(&svc->loop, UV_RUN_NOWAIT), uv_sleep(10);
    assert_true(ct_cache_ready(svc->cache));
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
    closes = 3;
    ct_http_server_close(svc->http, on_closed, NULL);
    ct_db_close(svc->db, on_closed, NULL);
    ct_cache_close(svc->cache, on_closed, NULL);
    for (int i = 0; i < 1000 && closes > 0; i++)
        uv_run(&svc->loop, UV_RUN_ONCE);
    assert_int_equal(closes, 0);
    ct_test_loop_close(&svc->loop);
    PQfinish(F.pg);
    free(F.pg_url);
    ct_metrics_reset();
    return 0;
}

/* ---- helpers ---- */

typedef struct {
    billing_event_t ev;
    applied_t *out;
} run_t;

static void on_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    billing_event_apply(tx, udata);
}

static void on_tx_done(const ct_db_error_t *err, void *udata)
{
    run_t *run = udata;
    run->out->status = err ? err->status : 0;
    if (err && err->status == CT_EDB)
        fprintf(stderr, "transaction failed: %s (%s)\n", err->message, err->sqlstate);
    run->out->outcome = run->ev.outcome;
    run->out->done = true;
    billing_event_dispose(&run->ev);
    free(run);
}

applied_t apply(fx_record_t *r, const char *topic)
{
    applied_t out = {0};
    run_t *run = calloc(1, sizeof *run);
    run->out = &out;
    run->ev.topic = topic;
    run->ev.out_topic = F.svc.topic;
    const char *why = NULL;
    int rc = billing_event_decode(&run->ev, topic, r->data, r->len, &why);
    fx_free(r);
    if (rc != 0)
        fail_msg("decode: %d (%s)", rc, why ? why : "");
    assert_int_equal(ct_db_tx_begin(F.svc.db, on_begun, on_tx_done, run), 0);
    assert_true(ct_test_run_until(&F.svc.loop, &out.done, 10000));
    return out;
}

char *sql_text(const char *sql, const char *arg)
{
    const char *params[1] = {arg};
    PGresult *res = PQexecParams(F.pg, sql, arg ? 1 : 0, NULL, arg ? params : NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
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

void make_customer(customer_t *c, const char *segment, const char *mode, int64_t price,
                   const char *plan)
{
    ct_uuid_v7(c->customer);
    ct_uuid_v7(c->contract);
    ct_uuid_v7(c->site);
    snprintf(c->number, sizeof c->number, "C%06u", (unsigned)(randombytes_random() % 1000000));
    fx_record_t r;
    fx_customer(&r, c->customer, c->number, segment, 0);
    assert_int_equal(apply(&r, "citerne.accounts.v1").outcome, BILLING_OUT_STORED);
    fx_contract(&r, c->contract, c->customer, mode, price, plan);
    assert_int_equal(apply(&r, "citerne.accounts.v1").outcome, BILLING_OUT_STORED);
    fx_site(&r, c->site, c->contract, c->customer);
    assert_int_equal(apply(&r, "citerne.accounts.v1").outcome, BILLING_OUT_STORED);
}

applied_t deliver(const customer_t *c, const char *order_id, const char *date, int kg,
                  const char *speed, int64_t occurred_at, char event_id[37])
{
    fx_delivery_t d = {
        .order_id = order_id,
        .site_id = c->site,
        .customer_id = c->customer,
        .delivery_date = date,
        .speed = speed,
        .mode = "on_demand",
        .delivered_kg = kg,
        .ordered_kg = kg,
        .level_after_pct = 85,
        .occurred_at = occurred_at,
    };
    fx_record_t r;
    fx_delivery(&r, &d);
    if (event_id)
        memcpy(event_id, r.event_id, 37);
    return apply(&r, "citerne.orders.v1");
}

char *number_of(const char *order_id)
{
    return sql_text("SELECT number FROM invoices WHERE order_id = $1", order_id);
}
