/* The Postgres pool against the test stack's server: each test gets a fresh
 * database and a loop, and ends with the loop closed clean. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/db.h"
#include "citerne/error.h"
#include "fixture.h"
#include "stack.h"

typedef struct {
    uv_loop_t loop;
    char *url;
    ct_db_t *db;
    bool closed;
} fixture_t;

static void on_closed(void *udata)
{
    *(bool *)udata = true;
}

static fixture_t *fixture_open(int size)
{
    ct_test_require_stack();
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->url = ct_test_create_db("ct_db");
    assert_int_equal(ct_db_new(&f->loop, f->url, size, &f->db), 0);
    return f;
}

static void fixture_close(fixture_t *f)
{
    ct_db_close(f->db, on_closed, &f->closed);
    assert_true(ct_test_run_until(&f->loop, &f->closed, 10000));
    ct_test_loop_close(&f->loop);
    free(f->url);
    free(f);
}

/* Runs one statement outside the pool (synchronous: test code). */
static void sync_exec(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* ---- one-shot queries ---- */

typedef struct {
    bool called;
    int status;
    char sqlstate[6];
    char message[256];
    int ntuples;
    char v[4][64];
    bool isnull[4];
    long long affected;
} qres_t;

static void on_query(const ct_db_error_t *err, PGresult *res, void *udata)
{
    qres_t *q = udata;
    q->called = true;
    if (err) {
        q->status = err->status;
        snprintf(q->sqlstate, sizeof q->sqlstate, "%s", err->sqlstate);
        snprintf(q->message, sizeof q->message, "%s", err->message);
        assert_null(res);
        return;
    }
    assert_non_null(res);
    q->ntuples = PQntuples(res);
    q->affected = ct_db_affected(res);
    for (int i = 0; i < 4 && i < PQnfields(res) && q->ntuples > 0; i++) {
        q->isnull[i] = PQgetisnull(res, 0, i);
        snprintf(q->v[i], sizeof q->v[i], "%s", PQgetvalue(res, 0, i));
    }
}

static void query_passes_text_params_and_nulls(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(1);
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, "hello");
    ct_db_params_add(&p, NULL);
    ct_db_params_add_int(&p, -42);
    ct_db_params_addf(&p, "%s-%d", "x", 7);
    qres_t q = {0};
    assert_int_equal(ct_db_query(f->db,
                                 "SELECT $1::text AS a, $2::text AS b, $3::bigint * 2 AS c, "
                                 "$4::text AS d",
                                 &p, on_query, &q),
                     0);
    ct_db_params_dispose(&p); /* the pool copied the values */
    assert_true(ct_test_run_until(&f->loop, &q.called, 10000));
    assert_int_equal(q.status, 0);
    assert_int_equal(q.ntuples, 1);
    assert_string_equal(q.v[0], "hello");
    assert_true(q.isnull[1]);
    assert_string_equal(q.v[2], "-84");
    assert_string_equal(q.v[3], "x-7");
    fixture_close(f);
}

typedef struct {
    bool called;
    size_t len;
    unsigned char data[300];
    const char *missing;
    long long n, def;
} binres_t;

static void on_bin(const ct_db_error_t *err, PGresult *res, void *udata)
{
    binres_t *b = udata;
    b->called = true;
    assert_null(err);
    unsigned char *raw = PQunescapeBytea((const unsigned char *)ct_db_get(res, 0, "b"), &b->len);
    assert_non_null(raw);
    assert_true(b->len <= sizeof b->data);
    memcpy(b->data, raw, b->len);
    PQfreemem(raw);
    b->missing = ct_db_get(res, 0, "nope");
    b->n = ct_db_get_int(res, 0, "n", -1);
    b->def = ct_db_get_int(res, 0, "nul", 99);
}

static void binary_param_round_trips_every_byte(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(1);
    unsigned char bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (unsigned char)(255 - i);
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add_bin(&p, bytes, sizeof bytes);
    binres_t b = {0};
    assert_int_equal(
        ct_db_query(f->db, "SELECT $1::bytea AS b, 12 AS n, NULL::int AS nul", &p, on_bin, &b), 0);
    ct_db_params_dispose(&p);
    assert_true(ct_test_run_until(&f->loop, &b.called, 10000));
    assert_int_equal(b.len, sizeof bytes);
    assert_memory_equal(b.data, bytes, sizeof bytes);
    assert_null(b.missing);
    assert_int_equal(b.n, 12);
    assert_int_equal(b.def, 99);
    fixture_close(f);
}

static void server_error_reports_sqlstate_and_message(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(1);
    qres_t q = {0};
    assert_int_equal(ct_db_query(f->db, "SELECT * FROM no_such_table", NULL, on_query, &q), 0);
    assert_true(ct_test_run_until(&f->loop, &q.called, 10000));
    assert_int_equal(q.status, CT_EDB);
    assert_string_equal(q.sqlstate, "42P01");
    assert_non_null(strstr(q.message, "no_such_table"));
    fixture_close(f);
}

/* ---- transactions ---- */

typedef struct {
    bool done;
    int status;
    char sqlstate[6];
    char message[256];
    int steps;
    bool rollback;
    const char *second_sql;
} txres_t;

static void on_tx_done(const ct_db_error_t *err, void *udata)
{
    txres_t *t = udata;
    assert_false(t->done);
    t->done = true;
    if (err) {
        t->status = err->status;
        snprintf(t->sqlstate, sizeof t->sqlstate, "%s", err->sqlstate);
        snprintf(t->message, sizeof t->message, "%s", err->message);
    }
}

static void tx_end(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    txres_t *t = udata;
    t->steps++;
    if (t->rollback)
        ct_db_tx_rollback(tx, 0, NULL);
    else
        ct_db_tx_commit(tx);
}

static void tx_second(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    txres_t *t = udata;
    assert_int_equal(ct_db_affected(res), 1);
    t->steps++;
    ct_db_tx_query(tx, t->second_sql, NULL, tx_end);
}

static void tx_first(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    txres_t *t = udata;
    t->steps++;
    assert_ptr_equal(ct_db_tx_udata(tx), t);
    ct_db_tx_query(tx, "INSERT INTO t(k) VALUES ('a')", NULL, tx_second);
}

static void run_tx(fixture_t *f, txres_t *t)
{
    assert_int_equal(ct_db_tx_begin(f->db, tx_first, on_tx_done, t), 0);
    assert_true(ct_test_run_until(&f->loop, &t->done, 10000));
}

static void committed_tx_is_visible_and_rolled_back_tx_is_not(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(2);
    sync_exec(f->url, "CREATE TABLE t(k text PRIMARY KEY)");

    txres_t t1 = {.second_sql = "INSERT INTO t(k) VALUES ('b')"};
    run_tx(f, &t1);
    assert_int_equal(t1.status, 0);
    assert_int_equal(t1.steps, 3);
    assert_int_equal(ct_test_sql_count(f->url, "SELECT count(*) FROM t"), 2);

    sync_exec(f->url, "DELETE FROM t");
    txres_t t2 = {.second_sql = "INSERT INTO t(k) VALUES ('b')", .rollback = true};
    run_tx(f, &t2);
    assert_int_equal(t2.status, 0);
    assert_int_equal(t2.steps, 3);
    assert_int_equal(ct_test_sql_count(f->url, "SELECT count(*) FROM t"), 0);
    fixture_close(f);
}

static void failing_statement_rolls_back_and_reports_unique_violation(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(1);
    sync_exec(f->url, "CREATE TABLE t(k text PRIMARY KEY)");
    txres_t t = {.second_sql = "INSERT INTO t(k) VALUES ('a')"};
    run_tx(f, &t);
    assert_int_equal(t.status, CT_EDB);
    assert_string_equal(t.sqlstate, "23505");
    assert_int_equal(t.steps, 2); /* tx_end never ran */
    assert_int_equal(ct_test_sql_count(f->url, "SELECT count(*) FROM t"), 0);
    /* the connection is usable again (no aborted transaction left behind) */
    qres_t q = {0};
    assert_int_equal(ct_db_query(f->db, "SELECT 1", NULL, on_query, &q), 0);
    assert_true(ct_test_run_until(&f->loop, &q.called, 10000));
    assert_int_equal(q.status, 0);
    fixture_close(f);
}

static void rb_step(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_rollback(tx, CT_ECONFLICT, "order already confirmed");
}

static void rollback_with_status_reaches_done(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(1);
    txres_t t = {0};
    assert_int_equal(ct_db_tx_begin(f->db, rb_step, on_tx_done, &t), 0);
    assert_true(ct_test_run_until(&f->loop, &t.done, 10000));
    assert_int_equal(t.status, CT_ECONFLICT);
    assert_string_equal(t.sqlstate, "");
    assert_string_equal(t.message, "order already confirmed");
    fixture_close(f);
}

static void exec_step(ct_db_tx_t *tx, PGresult *res, void *udata);

static void exec_end(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    txres_t *t = udata;
    t->steps++;
    /* the last statement's result */
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "3");
    ct_db_tx_commit(tx);
}

static void exec_step(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_exec(tx,
                  "CREATE TABLE m(k int); INSERT INTO m VALUES (1), (2); "
                  "INSERT INTO m VALUES (3); SELECT count(*) FROM m",
                  exec_end);
}

static void exec_runs_every_statement_of_a_script(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(1);
    txres_t t = {0};
    assert_int_equal(ct_db_tx_begin(f->db, exec_step, on_tx_done, &t), 0);
    assert_true(ct_test_run_until(&f->loop, &t.done, 10000));
    assert_int_equal(t.status, 0);
    assert_int_equal(t.steps, 1);
    assert_int_equal(ct_test_sql_count(f->url, "SELECT sum(k) FROM m"), 6);
    fixture_close(f);
}

static void exec_bad_step(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_exec(tx, "CREATE TABLE m(k int); INSERT INTO m VALUES ('x')", exec_end);
}

static void exec_failure_rolls_back_the_whole_script(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(1);
    txres_t t = {0};
    assert_int_equal(ct_db_tx_begin(f->db, exec_bad_step, on_tx_done, &t), 0);
    assert_true(ct_test_run_until(&f->loop, &t.done, 10000));
    assert_int_equal(t.status, CT_EDB);
    assert_string_equal(t.sqlstate, "22P02");
    assert_int_equal(t.steps, 0);
    assert_int_equal(
        ct_test_sql_count(f->url, "SELECT count(*) FROM pg_tables WHERE tablename = 'm'"), 0);
    fixture_close(f);
}

static int other_udata;

static void udata_second(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    assert_ptr_equal(udata, &other_udata);
    assert_ptr_equal(ct_db_tx_udata(tx), &other_udata);
    ct_db_tx_commit(tx);
}

static void udata_first(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_set_udata(tx, &other_udata);
    ct_db_tx_query(tx, "SELECT 1", NULL, udata_second);
}

static void set_udata_changes_steps_but_done_keeps_begin_udata(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(1);
    txres_t t = {0};
    assert_int_equal(ct_db_tx_begin(f->db, udata_first, on_tx_done, &t), 0);
    assert_true(ct_test_run_until(&f->loop, &t.done, 10000));
    assert_int_equal(t.status, 0);
    fixture_close(f);
}

/* ---- pool behaviour ---- */

typedef struct {
    int done;
    int failed;
    int order[20];
    size_t max_pending;
    ct_db_t *db;
} many_t;

typedef struct {
    many_t *m;
    int i;
} one_t;

static void on_many(const ct_db_error_t *err, PGresult *res, void *udata)
{
    one_t *o = udata;
    if (err) {
        o->m->failed++;
    } else {
        assert_int_equal(ct_db_get_int(res, 0, "i", -1), o->i);
    }
    o->m->order[o->m->done++] = o->i;
}

static void pool_of_two_queues_twenty_queries_in_order(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(2);
    many_t m = {0};
    one_t ones[20];
    for (int i = 0; i < 20; i++) {
        ones[i] = (one_t){&m, i};
        ct_db_params_t p;
        ct_db_params_init(&p);
        ct_db_params_add_int(&p, i);
        assert_int_equal(
            ct_db_query(f->db, "SELECT $1::int AS i, pg_sleep(0.01)", &p, on_many, &ones[i]), 0);
        ct_db_params_dispose(&p);
    }
    assert_int_equal(ct_db_pending(f->db), 20);
    for (int i = 0; i < 10000 && m.done < 20; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(m.done, 20);
    assert_int_equal(m.failed, 0);
    assert_int_equal(ct_db_pending(f->db), 0);
    /* with two connections, a query never finishes before one queued two
     * places earlier started: the queue is FIFO */
    for (int i = 0; i < 20; i++)
        assert_in_range(m.order[i], i > 1 ? i - 1 : 0, i + 1);
    fixture_close(f);
}

static void pid_of(const ct_db_error_t *err, PGresult *res, void *udata)
{
    assert_null(err);
    *(long long *)udata = ct_db_get_int(res, 0, "pid", 0);
}

static void pool_recovers_after_its_connection_is_terminated(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(1);
    long long pid = 0;
    assert_int_equal(ct_db_query(f->db, "SELECT pg_backend_pid() AS pid", NULL, pid_of, &pid), 0);
    for (int i = 0; i < 1000 && !pid; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(pid != 0);

    /* a query running when the backend dies fails with CT_EUNAVAIL */
    qres_t running = {0};
    assert_int_equal(ct_db_query(f->db, "SELECT pg_sleep(5)", NULL, on_query, &running), 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)", pid);
    sync_exec(f->url, sql);
    assert_true(ct_test_run_until(&f->loop, &running.called, 10000));
    assert_int_equal(running.status, CT_EUNAVAIL);

    /* the next query waits for the reconnect and succeeds on a new backend */
    long long pid2 = 0;
    assert_int_equal(ct_db_query(f->db, "SELECT pg_backend_pid() AS pid", NULL, pid_of, &pid2), 0);
    for (int i = 0; i < 1000 && !pid2; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(pid2 != 0);
    assert_true(pid2 != pid);
    assert_true(ct_db_ready(f->db));

    /* an idle connection killed is noticed and replaced too */
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)", pid2);
    sync_exec(f->url, sql);
    long long pid3 = 0;
    for (int tries = 0; tries < 50 && !pid3; tries++) {
        qres_t q = {0};
        assert_int_equal(ct_db_query(f->db, "SELECT pg_backend_pid()", NULL, on_query, &q), 0);
        assert_true(ct_test_run_until(&f->loop, &q.called, 10000));
        if (q.status == 0)
            pid3 = atoll(q.v[0]);
    }
    assert_true(pid3 != 0 && pid3 != pid2);
    fixture_close(f);
}

typedef struct {
    txres_t t;
    long long pid;
    ct_db_tx_t *tx;
} held_t;

static void held_first(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    held_t *h = udata;
    h->pid = atoll(PQgetvalue(res, 0, 0));
    h->tx = tx; /* the next step comes later, from the test */
}

static void held_begin(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_query(tx, "SELECT pg_backend_pid()", NULL, held_first);
}

static void tx_whose_connection_dies_between_steps_fails_unavailable(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(1);
    sync_exec(f->url, "CREATE TABLE t(k text PRIMARY KEY)");
    held_t h = {0};
    assert_int_equal(ct_db_tx_begin(f->db, held_begin, on_tx_done, &h.t), 0);
    for (int i = 0; i < 1000 && !h.tx; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_non_null(h.tx);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)", h.pid);
    sync_exec(f->url, sql);
    /* let the pool notice (or not: either way the step must fail) */
    bool tick = false;
    ct_test_run_until(&f->loop, &tick, 200);
    ct_db_tx_query(h.tx, "INSERT INTO t(k) VALUES ('lost')", NULL, tx_end);
    assert_false(h.t.done); /* not from inside the step */
    assert_true(ct_test_run_until(&f->loop, &h.t.done, 10000));
    assert_int_equal(h.t.status, CT_EUNAVAIL);
    assert_int_equal(ct_test_sql_count(f->url, "SELECT count(*) FROM t"), 0);
    /* the pool carries on with a new connection */
    qres_t q = {0};
    assert_int_equal(ct_db_query(f->db, "SELECT 1", NULL, on_query, &q), 0);
    assert_true(ct_test_run_until(&f->loop, &q.called, 10000));
    assert_int_equal(q.status, 0);
    fixture_close(f);
}

static void on_tick(uv_timer_t *t)
{
    (*(int *)t->data)++;
}

static void slow_query_does_not_block_the_loop(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(1);
    uv_timer_t timer;
    int ticks = 0;
    uv_timer_init(&f->loop, &timer);
    timer.data = &ticks;
    uv_timer_start(&timer, on_tick, 20, 20);
    qres_t q = {0};
    assert_int_equal(ct_db_query(f->db, "SELECT pg_sleep(0.5)", NULL, on_query, &q), 0);
    assert_true(ct_test_run_until(&f->loop, &q.called, 10000));
    assert_int_equal(q.status, 0);
    /* 500 ms at one tick per 20 ms: a loop blocked by the query would tick
     * once or twice */
    assert_true(ticks >= 10);
    uv_close((uv_handle_t *)&timer, NULL);
    fixture_close(f);
}

static void queued_work_fails_unavailable_when_server_is_unreachable(void **state)
{
    (void)state;
    ct_test_require_stack();
    uv_loop_t loop;
    uv_loop_init(&loop);
    ct_db_t *db;
    /* nothing listens on port 1 */
    assert_int_equal(ct_db_new(&loop, "postgresql://citerne@127.0.0.1:1/x", 1, &db), 0);
    qres_t q = {0};
    assert_int_equal(ct_db_query(db, "SELECT 1", NULL, on_query, &q), 0);
    assert_true(ct_test_run_until(&loop, &q.called, 15000));
    assert_int_equal(q.status, CT_EUNAVAIL);
    assert_false(ct_db_ready(db));
    bool closed = false;
    ct_db_close(db, on_closed, &closed);
    assert_true(ct_test_run_until(&loop, &closed, 5000));
    ct_test_loop_close(&loop);
}

static void bad_conninfo_is_refused(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ct_db_t *db = NULL;
    assert_int_equal(ct_db_new(&loop, "host=localhost bogus_option=1", 1, &db), CT_ECONFIG);
    assert_int_equal(ct_db_new(&loop, "postgresql://x", 0, &db), -EINVAL);
    assert_null(db);
    ct_test_loop_close(&loop);
}

static void close_fails_queued_work_with_closed(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(1);
    qres_t a = {0}, b = {0};
    assert_int_equal(ct_db_query(f->db, "SELECT pg_sleep(0.2)", NULL, on_query, &a), 0);
    assert_int_equal(ct_db_query(f->db, "SELECT 1", NULL, on_query, &b), 0);
    /* let the first one start */
    while (!ct_db_ready(f->db))
        uv_run(&f->loop, UV_RUN_ONCE);
    ct_db_close(f->db, on_closed, &f->closed);
    assert_int_equal(ct_db_query(f->db, "SELECT 1", NULL, on_query, &b), CT_ECLOSED);
    assert_false(b.called); /* not inside ct_db_close */
    assert_true(ct_test_run_until(&f->loop, &f->closed, 10000));
    assert_true(a.called);
    assert_int_equal(a.status, 0); /* running work finished */
    assert_true(b.called);
    assert_int_equal(b.status, CT_ECLOSED);
    ct_test_loop_close(&f->loop);
    free(f->url);
    free(f);
}

static void application_name_is_reported_to_the_server(void **state)
{
    (void)state;
    ct_db_set_application_name("ct-test-app");
    fixture_t *f = fixture_open(1);
    qres_t q = {0};
    assert_int_equal(
        ct_db_query(f->db, "SELECT current_setting('application_name')", NULL, on_query, &q), 0);
    assert_true(ct_test_run_until(&f->loop, &q.called, 10000));
    assert_int_equal(q.status, 0);
    assert_string_equal(q.v[0], "ct-test-app");
    ct_db_set_application_name(NULL);
    fixture_close(f);
}

static void url_options_reach_the_server_and_win_over_defaults(void **state)
{
    (void)state;
    ct_test_require_stack();
    uv_loop_t loop;
    uv_loop_init(&loop);
    char *base = ct_test_create_db("ct_db");
    char url[512];
    snprintf(url, sizeof url,
             "%s%sapplication_name=from-url&options=-c%%20statement_timeout%%3D1234", base,
             strchr(base, '?') ? "&" : "?");
    ct_db_t *db;
    assert_int_equal(ct_db_new(&loop, url, 1, &db), 0);
    qres_t q = {0};
    assert_int_equal(ct_db_query(db,
                                 "SELECT current_setting('application_name'), "
                                 "current_setting('statement_timeout')",
                                 NULL, on_query, &q),
                     0);
    assert_true(ct_test_run_until(&loop, &q.called, 10000));
    assert_int_equal(q.status, 0);
    assert_string_equal(q.v[0], "from-url");
    assert_string_equal(q.v[1], "1234ms");
    bool closed = false;
    ct_db_close(db, on_closed, &closed);
    assert_true(ct_test_run_until(&loop, &closed, 5000));
    ct_test_loop_close(&loop);
    free(base);
}

/* ---- LISTEN ---- */

typedef struct {
    int connects;
    int notes;
    char last[64];
} listen_t;

static void on_notify(const char *payload, void *udata)
{
    listen_t *l = udata;
    if (!*payload) {
        l->connects++;
        return;
    }
    l->notes++;
    snprintf(l->last, sizeof l->last, "%s", payload);
}

static void listener_receives_notify_and_reports_reconnects(void **state)
{
    (void)state;
    fixture_t *f = fixture_open(1);
    ct_db_listener_t *l;
    listen_t got = {0};
    assert_int_equal(ct_db_listen(&f->loop, f->url, "ct test", on_notify, &got, &l), 0);
    for (int i = 0; i < 1000 && !got.connects; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(got.connects, 1);
    unsigned long s1 = ct_db_listener_session(l);
    assert_true(s1 != 0);

    qres_t q = {0};
    assert_int_equal(ct_db_query(f->db, "SELECT pg_notify('ct test', 'hello')", NULL, on_query, &q),
                     0);
    for (int i = 0; i < 1000 && !got.notes; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(got.notes, 1);
    assert_string_equal(got.last, "hello");

    /* kill the listener's backend: it reconnects and says so */
    sync_exec(f->url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE query LIKE 'LISTEN%' AND datname = current_database()");
    for (int i = 0; i < 2000 && got.connects < 2; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(got.connects, 2);
    assert_true(ct_db_listener_session(l) != 0);
    assert_true(ct_db_listener_session(l) != s1);

    bool lclosed = false;
    ct_db_listener_close(l, on_closed, &lclosed);
    assert_true(ct_test_run_until(&f->loop, &lclosed, 5000));
    fixture_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(query_passes_text_params_and_nulls),
        cmocka_unit_test(binary_param_round_trips_every_byte),
        cmocka_unit_test(server_error_reports_sqlstate_and_message),
        cmocka_unit_test(committed_tx_is_visible_and_rolled_back_tx_is_not),
        cmocka_unit_test(failing_statement_rolls_back_and_reports_unique_violation),
        cmocka_unit_test(rollback_with_status_reaches_done),
        cmocka_unit_test(exec_runs_every_statement_of_a_script),
        cmocka_unit_test(set_udata_changes_steps_but_done_keeps_begin_udata),
        cmocka_unit_test(exec_failure_rolls_back_the_whole_script),
        cmocka_unit_test(pool_of_two_queues_twenty_queries_in_order),
        cmocka_unit_test(pool_recovers_after_its_connection_is_terminated),
        cmocka_unit_test(tx_whose_connection_dies_between_steps_fails_unavailable),
        cmocka_unit_test(slow_query_does_not_block_the_loop),
        cmocka_unit_test(queued_work_fails_unavailable_when_server_is_unreachable),
        cmocka_unit_test(bad_conninfo_is_refused),
        cmocka_unit_test(close_fails_queued_work_with_closed),
        cmocka_unit_test(application_name_is_reported_to_the_server),
        cmocka_unit_test(url_options_reach_the_server_and_win_over_defaults),
        cmocka_unit_test(listener_receives_notify_and_reports_reconnects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
