/* Test support: the database and the bus of stack tests (see fixture.h). */
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka_mock.h>
#include <libpq-fe.h>

#include "stack.h"

static void on_migrated(int status, const char *message, void *udata)
{
    if (status)
        fail_msg("migrations: %s", message);
    *(bool *)udata = true;
}

ct_db_t *ct_test_db_migrated_pool(uv_loop_t *loop, const char *prefix, const ct_migration_t *m,
                                  size_t n, int connections, char **url)
{
    ct_test_require_stack();
    *url = ct_test_create_db(prefix);
    ct_db_t *db = NULL;
    assert_int_equal(ct_db_new(loop, *url, connections, &db), 0);
    bool migrated = false;
    assert_int_equal(ct_migrate_run(db, m, n, on_migrated, &migrated), 0);
    assert_true(ct_test_run_until(loop, &migrated, 30000));
    return db;
}

ct_db_t *ct_test_db_migrated(uv_loop_t *loop, const char *prefix, const ct_migration_t *m, size_t n,
                             char **url)
{
    return ct_test_db_migrated_pool(loop, prefix, m, n, 2, url);
}

PGconn *ct_test_pg_connect(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to %s: %s", url, PQerrorMessage(c));
    return c;
}

/* The rows of sql with param; fails the test unless the statement ran. */
static PGresult *rows(PGconn *pg, const char *sql, const char *param)
{
    const char *params[1] = {param};
    PGresult *res =
        PQexecParams(pg, sql, param ? 1 : 0, NULL, param ? params : NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    return res;
}

char *ct_test_sql_one(PGconn *pg, const char *sql, const char *param)
{
    PGresult *res = rows(pg, sql, param);
    if (PQntuples(res) != 1)
        fail_msg("%s: %d rows, want 1", sql, PQntuples(res));
    char *v = strdup(PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

char *ct_test_sql_text(PGconn *pg, const char *sql, const char *param)
{
    PGresult *res = rows(pg, sql, param);
    char *v = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? strdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    return v;
}

long long ct_test_sql_number(PGconn *pg, const char *sql, const char *param)
{
    char *v = ct_test_sql_text(pg, sql, param);
    long long n = v ? atoll(v) : -1;
    free(v);
    return n;
}

long long ct_test_sql_count(const char *url, const char *sql)
{
    PGconn *c = ct_test_pg_connect(url);
    char *v = ct_test_sql_one(c, sql, NULL);
    long long n = atoll(v);
    free(v);
    PQfinish(c);
    return n;
}

rd_kafka_t *ct_test_mock_new(const char *topic, int partitions, const char **brokers)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", err, sizeof err),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *mock = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!mock)
        fail_msg("mock cluster: %s", err);
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mock);
    assert_non_null(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, topic, partitions, 1), 0);
    *brokers = rd_kafka_mock_cluster_bootstraps(mc);
    return mock;
}

void ct_test_mock_produce(rd_kafka_t *mock, const char *topic, const char *key, const char *payload)
{
    assert_int_equal(rd_kafka_producev(mock, RD_KAFKA_V_TOPIC(topic),
                                       RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE((void *)payload, strlen(payload)),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
}
