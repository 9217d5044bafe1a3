/* The fixture of telemetry's stack tests: a loop with the test stack's
 * Postgres (a fresh database, migrated), its Redis (sessions) and the
 * telemetry API on a loopback port, and helpers to post readings, make
 * sessions, query the database and read the events left in the outbox. */
#ifndef TELEMETRY_TEST_API_SUPPORT_H
#define TELEMETRY_TEST_API_SUPPORT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "citerne/id.h"
#include "citerne/service.h"
#include "citerne/session.h"
#include "citerne/v1/telemetry.pb-c.h"

#include "app.h"
#include "http_client.h"
#include "stack.h"

#define GATEWAY_KEY "test-gateway-key-0123456789"
#define OPERATOR_KEY "test-operator-key-0123456789"
#define GW "Authorization: Bearer " GATEWAY_KEY "\r\n"
#define OP "Authorization: Bearer " OPERATOR_KEY "\r\n"

typedef struct {
    ct_service_t svc;
    telemetry_app_t app;
    char *pg_url;
    PGconn *pg;        /* the test's own synchronous connection, for checks */
    ct_cache_t *cache; /* the stack's Redis; svc.cache unless a test swaps it */
    int port;
} fixture_t;

extern fixture_t F;

/* cmocka group set-up and teardown; db_prefix names the test's database.
 * api_reset (a test's set-up) puts back what a failed test may have left
 * swapped: the app's Redis and CSV cap.
 * Without the test stack the set-up does nothing and REQUIRE_STACK skips. */
int api_setup(const char *db_prefix);
int api_teardown(void);
int api_reset(void **state);

#define REQUIRE_STACK() CT_TEST_REQUIRE_STACK(F.pg_url)

/* One request to the API; fails the test when nothing answers. */
void call(const char *method, const char *path, const char *headers, const char *body,
          test_resp_t *r);

/* The value of one row of SQL (the test's own connection), malloc'ed;
 * "(null)" for NULL. param may be NULL (no parameter). */
char *sql_value(const char *sql, const char *param);
long sql_long(const char *sql, const char *param);

/* A site of a new customer in the read model, as SiteCreated leaves it. */
void seed_site(char site[CT_UUID_STRLEN + 1], int capacity, int threshold);
/* The customer of a site of the read model (malloc'ed). */
char *customer_of(const char *site);

/* A session in the stack's Redis of a user with `role` on customer_id; the
 * Cookie header line into out (at least 128 bytes). */
void session_for(const char *customer_id, ct_role_t role, char *out, size_t size);

/* One reading: level at `minute` minutes after BASE_MS. */
typedef struct {
    const char *site;
    int level;
    int minute;
} rd_t;

#define BASE_MS INT64_C(1795161600000) /* 2026-11-20T08:00:00Z */

/* The body of a batch of readings (malloc'ed). */
char *batch_json(const rd_t *rd, size_t n);
/* Posts rd as one batch with the gateway key and checks the status (and,
 * for 202, the count accepted). */
void post_batch(const rd_t *rd, size_t n, int want_status);

/* Events of telemetry's topic in the outbox keyed by site; readings of site. */
long events_of(const char *site);
long readings_of(const char *site);
/* The n-th (0-based) TankThresholdCrossed of site, decoded (free with
 * citerne__v1__telemetry_event__free_unpacked). */
Citerne__V1__TelemetryEvent *event_of(const char *site, int n);

#endif
