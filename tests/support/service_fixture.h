/* Test support: a service assembled in-process on the test's loop, as the
 * services' stack tests build it (HTTP server on a loopback port, a pool on
 * a fresh migrated database of the stack, Redis when the service uses it),
 * its tear-down, the inbox's apply step run in a real transaction, and the
 * events a service left in its outbox, decoded. Test code: blocking libpq
 * calls on the test's own connection are fine. */
#ifndef CT_TEST_SERVICE_FIXTURE_H
#define CT_TEST_SERVICE_FIXTURE_H

#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "citerne/db.h"
#include "citerne/log.h"
#include "citerne/migrate.h"
#include "citerne/service.h"

typedef struct {
    const char *name; /* "orders": the log's service, topic citerne.<name>.v1 */
    ct_log_level_t log_level;
    const char *db_prefix; /* the database is <db_prefix>_<pid>_<n> */
    int db_connections;
    const ct_migration_t *migrations;
    size_t nmigrations;
    bool redis; /* svc->cache on the stack's Redis, ready before the tests */
    /* Registers the service's routes on svc->http (made, not yet
     * listening); returns 0 or an error. */
    int (*routes)(ct_service_t *svc, void *udata);
    void *udata;
} ct_test_service_opts_t;

/* For a cmocka group set-up: initialises svc's loop and topic, makes the
 * database, its pool (svc->db) and migrations, Redis (svc->cache) when
 * o->redis, the HTTP server (svc->http) with o->routes, listening on
 * 127.0.0.1 (its port in *port), and the test's own connection (*pg). Returns 0 with *pg_url NULL
 * when there is no test stack (run by hand: each test then skips, CT_TEST_REQUIRE_STACK), -1 when
 * Redis is wanted and the stack has none, else 0 with *pg_url (malloc'ed); any other failure fails
 * the test. */
int ct_test_service_open(ct_service_t *svc, const ct_test_service_opts_t *o, char **pg_url,
                         PGconn **pg, int *port);
/* For the group's tear-down: closes what ct_test_service_open made (svc->cache
 * too when it is not NULL), asserts the loop closes clean, finishes pg, drops
 * the database, frees pg_url and resets the metrics. Nothing when pg_url is
 * NULL. */
void ct_test_service_close(ct_service_t *svc, PGconn *pg, char *pg_url);

/* The inbox's apply step: begins a transaction on db and hands it to
 * apply(tx, ev) (the transaction's udata is ev: apply goes on with it and
 * ends it), running loop until it ended (10 s at most, or the test fails).
 * Returns 0 when it committed, else the status it was rolled back with (a
 * database error is printed). ev must live until then. */
int ct_test_tx_apply(uv_loop_t *loop, ct_db_t *db, void (*apply)(ct_db_tx_t *tx, void *ev),
                     void *ev);

/* The rows of ct_outbox keyed by key, oldest first, each decoded as desc
 * (an event with an EventMeta `meta`); fails the test when one does not
 * decode, is not on topic (NULL: any), has another event id than its row's
 * or (producer not NULL) another producer. *n gets the count; free with
 * ct_test_outbox_free. */
ProtobufCMessage **ct_test_outbox_events(PGconn *pg, const ProtobufCMessageDescriptor *desc,
                                         const char *topic, const char *key, const char *producer,
                                         size_t *n);
void ct_test_outbox_free(ProtobufCMessage **evs, size_t n);

#endif
