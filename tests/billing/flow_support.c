/* The fixture of billing's stack tests (see flow_support.h). */
#include "flow_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "citerne/log.h"
#include "citerne/migrate.h"
#include "fixture.h"
#include "service_fixture.h"
#include "stack.h"

extern const ct_migration_t billing_migrations[];
extern const size_t billing_migrations_count;

fixture_t F;

/* ---- set-up ---- */

static int routes(ct_service_t *svc, void *udata)
{
    return billing_api_register(svc->http, udata);
}

int flow_setup(const char *db_prefix)
{
    memset(&F, 0, sizeof F);
    F.app.svc = &F.svc;
    F.svc.udata = &F.app;
    assert_int_equal(ct_auth_key_init(&F.app.operator_key, OPERATOR_KEY), 0);
    const ct_test_service_opts_t o = {
        .name = "billing",
        .log_level = CT_LOG_ERROR,
        .db_prefix = db_prefix,
        .db_connections = 2,
        .migrations = billing_migrations,
        .nmigrations = billing_migrations_count,
        .redis = true,
        .routes = routes,
        .udata = &F.app,
    };
    return ct_test_service_open(&F.svc, &o, &F.pg_url, &F.pg, &F.port);
}

int flow_teardown(void)
{
    ct_test_service_close(&F.svc, F.pg, F.pg_url);
    return 0;
}

/* ---- helpers ---- */

applied_t apply(fx_record_t *r, const char *topic)
{
    applied_t out = {0};
    /* on the heap: a transaction that outlives a failed test still has it */
    billing_event_t *ev = calloc(1, sizeof *ev);
    assert_non_null(ev);
    ev->topic = topic;
    ev->out_topic = F.svc.topic;
    const char *why = NULL;
    int rc = billing_event_decode(ev, topic, r->data, r->len, &why);
    fx_free(r);
    if (rc != 0)
        fail_msg("decode: %d (%s)", rc, why ? why : "");
    out.status = ct_test_tx_apply(&F.svc.loop, F.svc.db, billing_event_apply, ev);
    out.outcome = ev->outcome;
    out.done = true;
    billing_event_dispose(ev);
    free(ev);
    return out;
}

char *sql_text(const char *sql, const char *arg)
{
    return ct_test_sql_text(F.pg, sql, arg);
}

long long sql_count(const char *sql, const char *arg)
{
    return ct_test_sql_number(F.pg, sql, arg);
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
