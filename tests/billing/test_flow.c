/* billing against the test stack: events applied in real transactions (the
 * inbox's apply step, without Kafka: emitted events stay in ct_outbox where
 * the tests read and decode them), and the API through the real HTTP server
 * with real sessions in Redis. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "citerne/db.h"
#include "citerne/error.h"
#include "citerne/http.h"
#include "citerne/metrics.h"
#include "citerne/session.h"
#include "citerne/v1/billing.pb-c.h"
#include "flow_support.h"
#include "http_client.h"
#include "session_cookie.h"
#include "stack.h"
#include "store.h"

/* ---- issuing ---- */

static void delivery_confirmed_issues_an_invoice_and_emits_invoice_issued(void **state)
{
    (void)state;
    ct_test_require_stack();
    customer_t c;
    make_customer(&c, "household", "on_demand", 120000, "none");
    char order[37], cause[37];
    ct_uuid_v7(order);
    applied_t a = deliver(&c, order, "2026-11-24", 500, "express_8d", 0, cause);
    assert_int_equal(a.status, 0);
    assert_int_equal(a.outcome, BILLING_OUT_INVOICED);

    char *id = sql_text("SELECT invoice_id FROM invoices WHERE order_id = $1", order);
    assert_non_null(id);
    char *row = sql_text("SELECT concat_ws('|', customer_id, customer_number, site_id,"
                         " issue_date, total_excl_cents, total_vat_cents, total_incl_cents)"
                         " FROM invoices WHERE invoice_id = $1",
                         id);
    char want[512];
    snprintf(want, sizeof want, "%s|%s|%s|2026-11-25|64167|12833|77000", c.customer, c.number,
             c.site);
    assert_string_equal(row, want);
    free(row);
    char *lines = sql_text("SELECT string_agg(concat_ws('|', label, quantity, unit_price_cents,"
                           " amount_excl_cents, vat_rate_bp), ';' ORDER BY position)"
                           " FROM invoice_lines WHERE invoice_id = $1",
                           id);
    assert_string_equal(lines, "Propane (kg)|500|120000|60000|2000;"
                               "Frais de livraison express sous 8 jours|1|4167|4167|2000");
    free(lines);

    /* the event, in the outbox of the same transaction, keyed by customer */
    PGresult *res = PQexecParams(F.pg,
                                 "SELECT topic, key, payload FROM ct_outbox"
                                 " WHERE payload IS NOT NULL ORDER BY id DESC LIMIT 1",
                                 0, NULL, NULL, NULL, NULL, 1);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "citerne.billing.v1");
    assert_string_equal(PQgetvalue(res, 0, 1), c.customer);
    Citerne__V1__BillingEvent *ev = citerne__v1__billing_event__unpack(
        NULL, (size_t)PQgetlength(res, 0, 2), (const uint8_t *)PQgetvalue(res, 0, 2));
    PQclear(res);
    assert_non_null(ev);
    assert_int_equal(ev->body_case, CITERNE__V1__BILLING_EVENT__BODY_INVOICE_ISSUED);
    assert_string_equal(ev->meta->producer, "billing");
    assert_string_equal(ev->meta->causation_id, cause);
    assert_string_equal(ev->meta->correlation_id, cause); /* the delivery started the chain */
    Citerne__V1__InvoiceIssued *ii = ev->invoice_issued;
    assert_string_equal(ii->invoice_id, id);
    char *number = number_of(order);
    assert_string_equal(ii->invoice_number, number);
    assert_string_equal(ii->customer_number, c.number);
    assert_string_equal(ii->order_id, order);
    assert_string_equal(ii->issue_date, "2026-11-25");
    assert_int_equal(ii->total_incl_cents, 77000);
    assert_int_equal(ii->n_lines, 2);
    assert_int_equal(ii->lines[1]->amount_excl_cents, 4167);
    citerne__v1__billing_event__free_unpacked(ev, NULL);
    free(number);
    free(id);
}

static void the_same_order_confirmed_twice_is_invoiced_once(void **state)
{
    (void)state;
    ct_test_require_stack();
    customer_t c;
    make_customer(&c, "business", "on_demand", 150000, "none");
    char order[37];
    ct_uuid_v7(order);
    long long outbox = sql_count("SELECT count(*) FROM ct_outbox", NULL);
    assert_int_equal(deliver(&c, order, "2026-07-01", 800, "standard", 0, NULL).outcome,
                     BILLING_OUT_INVOICED);
    /* a second confirmation (another event id: the inbox cannot catch it) */
    applied_t again = deliver(&c, order, "2026-07-02", 810, "standard", 0, NULL);
    assert_int_equal(again.status, 0);
    assert_int_equal(again.outcome, BILLING_OUT_ALREADY_INVOICED);
    assert_int_equal(sql_count("SELECT count(*) FROM invoices WHERE order_id = $1", order), 1);
    assert_int_equal(sql_count("SELECT count(*) FROM ct_outbox", NULL), outbox + 1);
    /* free business delivery in summer: only the gas line */
    assert_int_equal(sql_count("SELECT count(*) FROM invoice_lines l JOIN invoices i USING"
                               " (invoice_id) WHERE i.order_id = $1",
                               order),
                     1);
}

static void invoice_numbers_are_gapless_per_year_of_issue(void **state)
{
    (void)state;
    ct_test_require_stack();
    customer_t c;
    make_customer(&c, "household", "on_demand", 100000, "none");
    char orders[5][37];
    for (int i = 0; i < 4; i++) {
        ct_uuid_v7(orders[i]);
        assert_int_equal(deliver(&c, orders[i], "2031-03-03", 300, "standard", 0, NULL).outcome,
                         BILLING_OUT_INVOICED);
    }
    /* delivered on New Year's Eve, issued the next year: that year's first */
    ct_uuid_v7(orders[4]);
    assert_int_equal(deliver(&c, orders[4], "2031-12-31", 300, "standard", 0, NULL).outcome,
                     BILLING_OUT_INVOICED);
    const char *want[] = {"FA2031-000001", "FA2031-000002", "FA2031-000003", "FA2031-000004",
                          "FA2032-000001"};
    for (int i = 0; i < 5; i++) {
        char *n = number_of(orders[i]);
        assert_non_null(n);
        assert_string_equal(n, want[i]);
        free(n);
    }
}

static bool rolled_back;

static void on_seq_then_fail(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)udata;
    assert_int_equal(ct_db_get_int(res, 0, "last", 0), 1);
    ct_db_tx_rollback(tx, CT_EUNAVAIL, "simulated failure after allocating a number");
}

static void on_begin_alloc(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    billing_store_next_seq(tx, 2033, on_seq_then_fail);
}

static void on_rolled_back(const ct_db_error_t *err, void *udata)
{
    (void)udata;
    assert_non_null(err);
    assert_int_equal(err->status, CT_EUNAVAIL);
    rolled_back = true;
}

static void a_rolled_back_transaction_leaves_no_gap(void **state)
{
    (void)state;
    ct_test_require_stack();
    rolled_back = false;
    assert_int_equal(ct_db_tx_begin(F.svc.db, on_begin_alloc, on_rolled_back, NULL), 0);
    assert_true(ct_test_run_until(&F.svc.loop, &rolled_back, 10000));
    customer_t c;
    make_customer(&c, "household", "on_demand", 100000, "none");
    char order[37];
    ct_uuid_v7(order);
    assert_int_equal(deliver(&c, order, "2033-05-02", 300, "standard", 0, NULL).outcome,
                     BILLING_OUT_INVOICED);
    char *n = number_of(order);
    assert_string_equal(n, "FA2033-000001");
    free(n);
}

static void delivery_for_an_unknown_site_is_retried_then_skipped(void **state)
{
    (void)state;
    ct_test_require_stack();
    customer_t c;
    make_customer(&c, "household", "on_demand", 100000, "none");
    ct_uuid_v7(c.site); /* a site billing has not heard of */
    char order[37];
    ct_uuid_v7(order);
    applied_t a = deliver(&c, order, "2035-05-02", 300, "standard", 0, NULL);
    assert_int_equal(a.outcome, BILLING_OUT_ORPHAN_RETRY);
    assert_int_equal(a.status, CT_EUNAVAIL); /* the bus hands it again */
    int64_t eleven_minutes_ago = ct_now_ms() - 11 * 60 * 1000;
    a = deliver(&c, order, "2035-05-02", 300, "standard", eleven_minutes_ago, NULL);
    assert_int_equal(a.outcome, BILLING_OUT_ORPHAN_SKIPPED);
    assert_int_equal(a.status, 0);
    assert_int_equal(sql_count("SELECT count(*) FROM invoices WHERE order_id = $1", order), 0);
    assert_int_equal(sql_count("SELECT count(*) FROM invoice_counters WHERE year = 2035", NULL), 0);
}

static void a_site_of_another_customer_is_not_invoiced(void **state)
{
    (void)state;
    ct_test_require_stack();
    customer_t a, b;
    make_customer(&a, "household", "on_demand", 100000, "none");
    make_customer(&b, "household", "on_demand", 100000, "none");
    memcpy(a.site, b.site, sizeof a.site); /* a's customer id with b's site */
    char order[37];
    ct_uuid_v7(order);
    applied_t r = deliver(&a, order, "2026-05-04", 300, "standard", 0, NULL);
    assert_int_equal(r.outcome, BILLING_OUT_REJECTED);
    assert_int_equal(r.status, 0);
    assert_int_equal(sql_count("SELECT count(*) FROM invoices WHERE order_id = $1", order), 0);
}

static void household_at_24h_is_billed_at_48h(void **state)
{
    (void)state;
    ct_test_require_stack();
    customer_t c;
    make_customer(&c, "household", "on_demand", 100000, "preference");
    char order[37];
    ct_uuid_v7(order);
    assert_int_equal(deliver(&c, order, "2026-01-05", 250, "express_24h", 0, NULL).outcome,
                     BILLING_OUT_INVOICED);
    char *fee = sql_text("SELECT concat_ws('|', label, amount_excl_cents) FROM invoice_lines l"
                         " JOIN invoices i USING (invoice_id) WHERE i.order_id = $1"
                         " AND l.position = 2",
                         order);
    assert_string_equal(fee, "Frais de livraison express sous 48 h|12500");
    free(fee);
}

static void issued_invoices_cannot_be_edited(void **state)
{
    (void)state;
    ct_test_require_stack();
    customer_t c;
    make_customer(&c, "household", "on_demand", 100000, "none");
    char order[37];
    ct_uuid_v7(order);
    assert_int_equal(deliver(&c, order, "2026-06-01", 300, "standard", 0, NULL).outcome,
                     BILLING_OUT_INVOICED);
    const char *params[1] = {order};
    PGresult *res =
        PQexecParams(F.pg, "UPDATE invoices SET total_incl_cents = 0 WHERE order_id = $1", 1, NULL,
                     params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    PQclear(res);
    res = PQexecParams(F.pg,
                       "DELETE FROM invoice_lines WHERE invoice_id ="
                       " (SELECT invoice_id FROM invoices WHERE order_id = $1)",
                       1, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    PQclear(res);
}

/* ---- the API ---- */

/* A session with a viewer grant on customer_id; the Cookie header into out. */
static void session_for(const char *customer_id, char *out, size_t size)
{
    ct_test_session_cookie(&F.svc.loop, F.svc.cache, customer_id, CT_ROLE_VIEWER, out, size);
}

static void get(const char *path, const char *headers, int want, test_resp_t *r)
{
    test_http(&F.svc.loop, F.port, "GET", path, headers, NULL, r);
    if (r->status != want)
        fail_msg("GET %s: %d, want %d: %s", path, r->status, want, r->body ? r->body : "");
}

static void invoices_are_shown_to_the_operator_and_to_granted_users_only(void **state)
{
    (void)state;
    ct_test_require_stack();
    customer_t c, other;
    make_customer(&c, "household", "on_demand", 120000, "none");
    make_customer(&other, "household", "on_demand", 120000, "none");
    char order[37];
    ct_uuid_v7(order);
    assert_int_equal(deliver(&c, order, "2026-11-24", 500, "express_8d", 0, NULL).outcome,
                     BILLING_OUT_INVOICED);
    char *id = sql_text("SELECT invoice_id FROM invoices WHERE order_id = $1", order);
    char *number = number_of(order);
    char path[160];
    snprintf(path, sizeof path, "/api/v1/billing/invoices/%s", id);

    test_resp_t r;
    get(path, OP_AUTH, 200, &r);
    assert_string_equal(json_string_value(json_object_get(r.json, "id")), id);
    assert_string_equal(json_string_value(json_object_get(r.json, "number")), number);
    assert_string_equal(json_string_value(json_object_get(r.json, "customer_id")), c.customer);
    assert_string_equal(json_string_value(json_object_get(r.json, "customer_number")), c.number);
    assert_string_equal(json_string_value(json_object_get(r.json, "order_id")), order);
    assert_string_equal(json_string_value(json_object_get(r.json, "site_id")), c.site);
    assert_string_equal(json_string_value(json_object_get(r.json, "issue_date")), "2026-11-25");
    assert_int_equal(json_integer_value(json_object_get(r.json, "total_excl_cents")), 64167);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total_vat_cents")), 12833);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total_incl_cents")), 77000);
    json_t *lines = json_object_get(r.json, "lines");
    assert_int_equal(json_array_size(lines), 2);
    json_t *gas = json_array_get(lines, 0);
    assert_string_equal(json_string_value(json_object_get(gas, "label")), "Propane (kg)");
    assert_int_equal(json_integer_value(json_object_get(gas, "quantity")), 500);
    assert_int_equal(json_integer_value(json_object_get(gas, "unit_price_cents")), 120000);
    assert_int_equal(json_integer_value(json_object_get(gas, "amount_excl_cents")), 60000);
    assert_int_equal(json_integer_value(json_object_get(gas, "vat_rate_bp")), 2000);
    test_resp_dispose(&r);

    char mine[160], theirs[160];
    session_for(c.customer, mine, sizeof mine);
    session_for(other.customer, theirs, sizeof theirs);
    get(path, mine, 200, &r);
    test_resp_dispose(&r);
    get(path, theirs, 404, &r); /* as if it did not exist */
    test_resp_dispose(&r);
    get(path, NULL, 401, &r);
    test_resp_dispose(&r);
    get(path, "Authorization: Bearer wrong-key-wrong-key-wrong\r\n", 401, &r);
    test_resp_dispose(&r);
    get("/api/v1/billing/invoices/not-a-uuid", OP_AUTH, 404, &r);
    test_resp_dispose(&r);
    char unknown[37], upath[160];
    ct_uuid_v7(unknown);
    snprintf(upath, sizeof upath, "/api/v1/billing/invoices/%s", unknown);
    get(upath, OP_AUTH, 404, &r);
    test_resp_dispose(&r);

    /* lists */
    snprintf(path, sizeof path, "/api/v1/billing/invoices?customer_id=%s", c.customer);
    get(path, mine, 200, &r);
    assert_int_equal(json_array_size(json_object_get(r.json, "invoices")), 1);
    test_resp_dispose(&r);
    get(path, theirs, 404, &r);
    test_resp_dispose(&r);
    get(path, OP_AUTH, 200, &r);
    assert_int_equal(json_array_size(json_object_get(r.json, "invoices")), 1);
    test_resp_dispose(&r);
    snprintf(path, sizeof path, "/api/v1/billing/invoices?order_id=%s", order);
    get(path, OP_AUTH, 200, &r);
    json_t *one = json_array_get(json_object_get(r.json, "invoices"), 0);
    assert_string_equal(json_string_value(json_object_get(one, "id")), id);
    test_resp_dispose(&r);
    get(path, theirs, 200, &r); /* filtered to the caller's customers: nothing */
    assert_int_equal(json_array_size(json_object_get(r.json, "invoices")), 0);
    test_resp_dispose(&r);
    get("/api/v1/billing/invoices", OP_AUTH, 400, &r);
    test_resp_dispose(&r);
    get("/api/v1/billing/invoices", NULL, 401, &r); /* anonymous: 401 before anything */
    test_resp_dispose(&r);
    get("/api/v1/billing/invoices?customer_id=12", OP_AUTH, 400, &r);
    assert_non_null(strstr(r.body, "customer_id"));
    test_resp_dispose(&r);
    free(id);
    free(number);
}

static void a_customers_invoices_are_listed_by_number(void **state)
{
    (void)state;
    ct_test_require_stack();
    customer_t c;
    make_customer(&c, "business", "on_demand", 100000, "none");
    const char *dates[] = {"2037-03-02", "2037-01-05", "2036-12-01"};
    for (int i = 0; i < 3; i++) {
        char order[37];
        ct_uuid_v7(order);
        assert_int_equal(deliver(&c, order, dates[i], 300, "standard", 0, NULL).outcome,
                         BILLING_OUT_INVOICED);
    }
    char path[160];
    snprintf(path, sizeof path, "/api/v1/billing/invoices?customer_id=%s", c.customer);
    test_resp_t r;
    get(path, OP_AUTH, 200, &r);
    json_t *list = json_object_get(r.json, "invoices");
    assert_int_equal(json_array_size(list), 3);
    const char *want[] = {"FA2036-000001", "FA2037-000001", "FA2037-000002"};
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(list, i), "number")),
                            want[i]);
    test_resp_dispose(&r);
}

static int setup(void **state)
{
    (void)state;
    return flow_setup("billing_flow");
}

static int teardown(void **state)
{
    (void)state;
    return flow_teardown();
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delivery_confirmed_issues_an_invoice_and_emits_invoice_issued),
        cmocka_unit_test(the_same_order_confirmed_twice_is_invoiced_once),
        cmocka_unit_test(invoice_numbers_are_gapless_per_year_of_issue),
        cmocka_unit_test(a_rolled_back_transaction_leaves_no_gap),
        cmocka_unit_test(delivery_for_an_unknown_site_is_retried_then_skipped),
        cmocka_unit_test(a_site_of_another_customer_is_not_invoiced),
        cmocka_unit_test(household_at_24h_is_billed_at_48h),
        cmocka_unit_test(issued_invoices_cannot_be_edited),
        cmocka_unit_test(invoices_are_shown_to_the_operator_and_to_granted_users_only),
        cmocka_unit_test(a_customers_invoices_are_listed_by_number),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
