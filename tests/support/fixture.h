/* Test support: the database and the bus of stack tests, for the platform's
 * tests and the services' (test code: blocking libpq and librdkafka calls
 * are fine here). */
#ifndef CT_TEST_FIXTURE_H
#define CT_TEST_FIXTURE_H

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <uv.h>

#include "citerne/db.h"
#include "citerne/migrate.h"

/* A pool of 2 on a fresh database <prefix>_... of the stack (its URI in
 * *url, malloc'ed), with the platform's migrations and m[0..n) applied;
 * fails the test otherwise. */
ct_db_t *ct_test_db_migrated(uv_loop_t *loop, const char *prefix, const ct_migration_t *m, size_t n,
                             char **url);

/* The same with a pool of `connections`, the migrations given 30 s. */
ct_db_t *ct_test_db_migrated_pool(uv_loop_t *loop, const char *prefix, const ct_migration_t *m,
                                  size_t n, int connections, char **url);

/* A synchronous connection to url, for a test's own checks; fails the test
 * when it cannot connect. */
PGconn *ct_test_pg_connect(const char *url);
/* Queries on such a connection, with one text parameter (NULL: none); a
 * statement that fails fails the test.
 * ct_test_sql_one: the value of the one row (malloc'ed, "(null)" for NULL);
 *   fails the test unless exactly one row came.
 * ct_test_sql_text: the first column of the first row (malloc'ed), NULL when
 *   no row came or it is NULL.
 * ct_test_sql_number: ct_test_sql_text as a number, -1 for NULL. */
char *ct_test_sql_one(PGconn *pg, const char *sql, const char *param);
char *ct_test_sql_text(PGconn *pg, const char *sql, const char *param);
long long ct_test_sql_number(PGconn *pg, const char *sql, const char *param);

/* The integer in the first row and column of sql's result, run on its own
 * connection to url; fails the test on any error. */
long long ct_test_sql_count(const char *url, const char *sql);

/* A producer handle holding librdkafka's in-process mock cluster (one
 * broker) with topic created (partitions, replication 1); *brokers gets the
 * cluster's bootstrap address, valid until rd_kafka_destroy(mock). */
rd_kafka_t *ct_test_mock_new(const char *topic, int partitions, const char **brokers);
/* Produces payload (copied) to topic under key through the mock's handle;
 * rd_kafka_flush() waits for them. */
void ct_test_mock_produce(rd_kafka_t *mock, const char *topic, const char *key,
                          const char *payload);

#endif
