/* The fixture of orders' stack tests: a loop with a fresh, migrated database
 * of the test stack's Postgres, its Redis for sessions and the orders HTTP
 * server on a free port; helpers to apply consumed events in real
 * transactions (as the inbox's apply step), to read the outbox, and to call
 * the API. The clock is pinned (test_now). Test code: blocking libpq calls
 * on the test's own connection are fine. */
#ifndef ORDERS_TEST_SUPPORT_H
#define ORDERS_TEST_SUPPORT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "citerne/id.h"
#include "citerne/service.h"
#include "citerne/session.h"
#include "citerne/v1/accounts.pb-c.h"
#include "citerne/v1/orders.pb-c.h"

#include "app.h"
#include "http_client.h"
#include "stack.h"

#define OPERATOR_KEY "test-operator-key-0123456789"
#define DRIVER_KEY "test-driver-key-0123456789"
#define OP "Authorization: Bearer " OPERATOR_KEY "\r\n"
#define DRV "Authorization: Bearer " DRIVER_KEY "\r\n"

/* Friday 2026-11-20 10:00 UTC (11:00 in Paris) */
#define FRIDAY_MS INT64_C(1795168800000)
#define MINUTE_MS INT64_C(60000)

typedef struct {
    ct_service_t svc;
    orders_app_t app;
    char *pg_url;
    PGconn *pg;
    int port;
} fixture_t;

extern fixture_t F;
/* The service's clock; test_setup sets it to FRIDAY_MS. */
extern int64_t test_now;

/* cmocka group set-up (a database named db_prefix_...) and teardown; without
 * the stack (run by hand) they do nothing and REQUIRE_STACK skips. */
int orders_fixture_setup(const char *db_prefix);
int orders_fixture_teardown(void);
/* cmocka per-test set-up: pins the clock to FRIDAY_MS. */
int test_setup(void **state);

#define REQUIRE_STACK() CT_TEST_REQUIRE_STACK(F.pg_url)

/* ---- SQL (the test's own connection) ---- */

/* The single value of sql with one optional parameter (malloc'ed; "(null)"
 * for NULL); fails the test unless exactly one row. */
char *sql_value(const char *sql, const char *param);
long sql_long(const char *sql, const char *param);
/* Every OrdersEvent in the outbox for site, in order; *n gets the count. */
Citerne__V1__OrdersEvent **events_of(const char *site, int *n);
void events_free(Citerne__V1__OrdersEvent **evs, int n);
int count_events(const char *site);

/* ---- consumed events ---- */

typedef struct {
    char id[CT_UUID_STRLEN + 1];
    Citerne__V1__EventMeta meta;
} meta_t;

/* A fresh meta (new event id, its own chain) that occurred at occurred. */
void meta_new(meta_t *m, int64_t occurred);
/* Decodes and applies one record of topic in a real transaction; returns the
 * decode error, or the transaction's outcome (0 committed, CT_EUNAVAIL to be
 * retried). */
int apply_record(const char *topic, const void *data, size_t len);
/* Packs ev (its meta set to a fresh one) and applies it. */
int apply_accounts(Citerne__V1__AccountsEvent *ev);

typedef struct {
    char customer[CT_UUID_STRLEN + 1];
    char contract[CT_UUID_STRLEN + 1];
    char site[CT_UUID_STRLEN + 1];
} site_t;

/* CustomerCreated (business), ContractCreated then SiteCreated with the
 * certificate received (the site names no mode when site_mode is NULL: it
 * takes the contract's). */
void make_site(site_t *s, const char *contract_mode, const char *site_mode, int capacity);
/* The same, the certificate received or not. */
void make_site_cert(site_t *s, const char *contract_mode, const char *site_mode, int capacity,
                    bool certificate_received);

/* The meta of the last crossing applied. */
extern meta_t last_crossing;
/* A TankThresholdCrossed of site (capacity 1000 kg, threshold 30%) at
 * level, measured and occurred at the given instants; applied. */
int crossing_at(const char *site, int level, int64_t measured, int64_t occurred);
/* The same, measured and occurring now. */
int crossing(const char *site, int level);

/* ---- HTTP ---- */

void call(const char *method, const char *path, const char *headers, const char *body,
          test_resp_t *r);
/* The only order of a site, as the operator sees it; its id into id. */
void only_order(const char *site, char id[CT_UUID_STRLEN + 1], test_resp_t *order);
/* Headers of a session with role on customer: cookie and (csrf) the token
 * (malloc'ed). */
char *session_headers(const char *customer, ct_role_t role, bool csrf);

#endif
