/* The fixture of billing's stack tests: a loop with the test stack's
 * Postgres (a fresh database, migrated) and Redis, the billing API on a
 * loopback port, and helpers to apply events in real transactions (the
 * inbox's apply step, without Kafka: emitted events stay in ct_outbox) and
 * query the database. */
#ifndef BILLING_TEST_FLOW_SUPPORT_H
#define BILLING_TEST_FLOW_SUPPORT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "billing.h"
#include "citerne/service.h"
#include "events.h"
#include "fixtures.h"

#define OPERATOR_KEY "test-operator-key-0123456789abcdef"
#define OP_AUTH "Authorization: Bearer " OPERATOR_KEY "\r\n"

typedef struct {
    ct_service_t svc;
    billing_app_t app;
    char *pg_url;
    PGconn *pg;
    int port;
} fixture_t;

extern fixture_t F;

/* cmocka group set-up and teardown; db_prefix names the test's database.
 * Without the test stack the set-up does nothing (each test then fails or
 * skips in ct_test_require_stack). */
int flow_setup(const char *db_prefix);
int flow_teardown(void);

typedef struct {
    bool done;
    int status;
    billing_outcome_t outcome;
} applied_t;

/* Decodes r (freed) as the consumer would and runs the inbox's apply step in
 * a real transaction (the inbox table itself is left to the platform's
 * tests); a record that does not decode fails the test. */
applied_t apply(fx_record_t *r, const char *topic);

/* The first column of the first row (malloc'ed), or NULL; arg may be NULL. */
char *sql_text(const char *sql, const char *arg);
/* sql_text as a number; -1 for NULL. */
long long sql_count(const char *sql, const char *arg);

typedef struct {
    char customer[37], contract[37], site[37];
    char number[16];
} customer_t;

/* A customer with one contract and one site in the read model (their
 * *Created events applied). */
void make_customer(customer_t *c, const char *segment, const char *mode, int64_t price,
                   const char *plan);
/* Applies DeliveryConfirmed of order_id at c's site (ordered = delivered =
 * kg, on demand); its event id into event_id when not NULL. */
applied_t deliver(const customer_t *c, const char *order_id, const char *date, int kg,
                  const char *speed, int64_t occurred_at, char event_id[37]);
/* The number of the invoice of order_id (malloc'ed), or NULL. */
char *number_of(const char *order_id);

#endif
