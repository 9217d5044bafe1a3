/* Test support: a service assembled in-process (see service_fixture.h). */
#include "service_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/cache.h"
#include "citerne/error.h"
#include "citerne/http.h"
#include "citerne/metrics.h"
#include "citerne/v1/meta.pb-c.h"
#include "fixture.h"
#include "stack.h"

int ct_test_service_open(ct_service_t *svc, const ct_test_service_opts_t *o, char **pg_url,
                         PGconn **pg, int *port)
{
    *pg_url = NULL;
    *pg = NULL;
    *port = 0;
    if (!ct_test_env("CITERNE_PG_URL"))
        return 0;
    const char *redis = ct_test_env("CITERNE_REDIS_URL");
    if (o->redis && !redis) {
        fprintf(stderr, "the test stack has no CITERNE_REDIS_URL\n");
        return -1;
    }
    ct_log_init(o->name, o->log_level);
    assert_int_equal(uv_loop_init(&svc->loop), 0);
    snprintf(svc->topic, sizeof svc->topic, "citerne.%s.v1", o->name);
    svc->db = ct_test_db_migrated_pool(&svc->loop, o->db_prefix, o->migrations, o->nmigrations,
                                       o->db_connections, pg_url);
    if (o->redis)
        assert_int_equal(ct_cache_new(&svc->loop, redis, &svc->cache), 0);
    assert_int_equal(ct_http_server_new(&svc->loop, NULL, &svc->http), 0);
    assert_int_equal(o->routes(svc, o->udata), 0);
    assert_int_equal(ct_http_listen(svc->http, "127.0.0.1:0"), 0);
    *port = ct_http_port(svc->http);
    assert_true(*port > 0);
    for (int i = 0; o->redis && i < 300 && !ct_cache_ready(svc->cache); i++)
        uv_run(&svc->loop, UV_RUN_NOWAIT), uv_sleep(10);
    if (o->redis)
        assert_true(ct_cache_ready(svc->cache));
    *pg = ct_test_pg_connect(*pg_url);
    return 0;
}

static void on_closed(void *udata)
{
    (*(int *)udata)--;
}

void ct_test_service_close(ct_service_t *svc, PGconn *pg, char *pg_url)
{
    if (!pg_url)
        return;
    int left = svc->cache ? 3 : 2;
    ct_http_server_close(svc->http, on_closed, &left);
    ct_db_close(svc->db, on_closed, &left);
    if (svc->cache)
        ct_cache_close(svc->cache, on_closed, &left);
    for (int i = 0; i < 1000 && left > 0; i++)
        uv_run(&svc->loop, UV_RUN_ONCE);
    assert_int_equal(left, 0);
    ct_test_loop_close(&svc->loop);
    PQfinish(pg);
    ct_test_drop_db(pg_url);
    free(pg_url);
    ct_metrics_reset();
}

/* ---- the inbox's apply step ---- */

typedef struct {
    void (*apply)(ct_db_tx_t *tx, void *ev);
    void *ev;
    bool done;
    int status;
} tx_run_t;

static void on_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    tx_run_t *run = udata;
    ct_db_tx_set_udata(tx, run->ev);
    run->apply(tx, run->ev);
}

static void on_tx_done(const ct_db_error_t *err, void *udata)
{
    tx_run_t *run = udata;
    run->status = err ? err->status : 0;
    if (err && err->status == CT_EDB)
        fprintf(stderr, "transaction failed: %s (%s)\n", err->message, err->sqlstate);
    run->done = true;
}

int ct_test_tx_apply(uv_loop_t *loop, ct_db_t *db, void (*apply)(ct_db_tx_t *tx, void *ev),
                     void *ev)
{
    /* on the heap: a transaction that outlives a failed test still has it */
    tx_run_t *run = calloc(1, sizeof *run);
    assert_non_null(run);
    run->apply = apply;
    run->ev = ev;
    assert_int_equal(ct_db_tx_begin(db, on_begun, on_tx_done, run), 0);
    assert_true(ct_test_run_until(loop, &run->done, 10000));
    int status = run->status;
    free(run);
    return status;
}

/* ---- the outbox ---- */

ProtobufCMessage **ct_test_outbox_events(PGconn *pg, const ProtobufCMessageDescriptor *desc,
                                         const char *topic, const char *key, const char *producer,
                                         size_t *n)
{
    const ProtobufCFieldDescriptor *meta_field =
        protobuf_c_message_descriptor_get_field_by_name(desc, "meta");
    assert_non_null(meta_field);
    const char *params[1] = {key};
    PGresult *res = PQexecParams(pg,
                                 "SELECT topic, payload, event_id::text FROM ct_outbox"
                                 " WHERE key = $1 ORDER BY id",
                                 1, NULL, params, NULL, NULL, 1 /* binary */);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("outbox of %s: %s", key, PQresultErrorMessage(res));
    *n = (size_t)PQntuples(res);
    ProtobufCMessage **evs = calloc(*n + 1, sizeof *evs);
    assert_non_null(evs);
    for (int i = 0; i < (int)*n; i++) {
        if (topic)
            assert_string_equal(PQgetvalue(res, i, 0), topic);
        evs[i] = protobuf_c_message_unpack(desc, NULL, (size_t)PQgetlength(res, i, 1),
                                           (const uint8_t *)PQgetvalue(res, i, 1));
        if (!evs[i])
            fail_msg("outbox row %d of %s does not decode as %s", i, key, desc->name);
        const Citerne__V1__EventMeta *meta =
            *(Citerne__V1__EventMeta *const *)((const char *)evs[i] + meta_field->offset);
        assert_non_null(meta);
        assert_string_equal(meta->event_id, PQgetvalue(res, i, 2));
        if (producer)
            assert_string_equal(meta->producer, producer);
    }
    PQclear(res);
    return evs;
}

void ct_test_outbox_free(ProtobufCMessage **evs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(evs[i], NULL);
    free(evs);
}
