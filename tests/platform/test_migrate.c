/* Migrations against the test stack's server, each test on a fresh database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "citerne/db.h"
#include "citerne/error.h"
#include "citerne/migrate.h"
#include "fixture.h"
#include "stack.h"

typedef struct {
    bool done;
    int status;
    char message[512];
} mres_t;

static void on_migrated(int status, const char *message, void *udata)
{
    mres_t *r = udata;
    assert_false(r->done);
    r->done = true;
    r->status = status;
    snprintf(r->message, sizeof r->message, "%s", message ? message : "");
}

static void on_closed(void *udata)
{
    *(bool *)udata = true;
}

static void close_db(uv_loop_t *loop, ct_db_t *db)
{
    bool closed = false;
    ct_db_close(db, on_closed, &closed);
    assert_true(ct_test_run_until(loop, &closed, 10000));
}

static const ct_migration_t service_files[] = {
    {"0001_init.sql", "CREATE TABLE site(id uuid PRIMARY KEY, name text NOT NULL);\n"
                      "CREATE TABLE runs(n int);"},
    {"0002_seed.sql", "INSERT INTO runs VALUES (1);"},
};

static void run_migrations(uv_loop_t *loop, ct_db_t *db, const ct_migration_t *m, size_t n,
                           mres_t *r)
{
    assert_int_equal(ct_migrate_run(db, m, n, on_migrated, r), 0);
    assert_true(ct_test_run_until(loop, &r->done, 20000));
}

static void migrations_are_applied_once_and_rerun_is_a_no_op(void **state)
{
    (void)state;
    ct_test_require_stack();
    uv_loop_t loop;
    uv_loop_init(&loop);
    char *url = ct_test_create_db("ct_migrate");
    ct_db_t *db;
    assert_int_equal(ct_db_new(&loop, url, 2, &db), 0);

    mres_t r1 = {0};
    run_migrations(&loop, db, service_files, 2, &r1);
    assert_int_equal(r1.status, 0);
    assert_int_equal(ct_test_sql_count(url, "SELECT count(*) FROM ct_schema_migrations"),
                     (long long)platform_migrations_count + 2);
    assert_int_equal(ct_test_sql_count(url, "SELECT count(*) FROM ct_schema_migrations "
                                            "WHERE name = 'platform/0001_platform.sql'"),
                     1);
    /* the platform's tables are there */
    assert_int_equal(ct_test_sql_count(url, "SELECT count(*) FROM pg_tables "
                                            "WHERE tablename IN ('ct_outbox', 'ct_inbox', 'site')"),
                     3);
    assert_int_equal(ct_test_sql_count(url, "SELECT count(*) FROM runs"), 1);

    mres_t r2 = {0};
    run_migrations(&loop, db, service_files, 2, &r2);
    assert_int_equal(r2.status, 0);
    assert_int_equal(ct_test_sql_count(url, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(ct_test_sql_count(url, "SELECT count(*) FROM ct_schema_migrations"),
                     (long long)platform_migrations_count + 2);

    close_db(&loop, db);
    ct_test_loop_close(&loop);
    free(url);
}

static void concurrent_migrators_do_not_conflict(void **state)
{
    (void)state;
    ct_test_require_stack();
    uv_loop_t loop;
    uv_loop_init(&loop);
    char *url = ct_test_create_db("ct_migrate");
    ct_db_t *a, *b;
    assert_int_equal(ct_db_new(&loop, url, 1, &a), 0);
    assert_int_equal(ct_db_new(&loop, url, 1, &b), 0);
    mres_t ra = {0}, rb = {0};
    assert_int_equal(ct_migrate_run(a, service_files, 2, on_migrated, &ra), 0);
    assert_int_equal(ct_migrate_run(b, service_files, 2, on_migrated, &rb), 0);
    assert_true(ct_test_run_until(&loop, &ra.done, 20000));
    assert_true(ct_test_run_until(&loop, &rb.done, 20000));
    assert_int_equal(ra.status, 0);
    assert_int_equal(rb.status, 0);
    assert_int_equal(ct_test_sql_count(url, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(ct_test_sql_count(url, "SELECT count(*) FROM ct_schema_migrations"),
                     (long long)platform_migrations_count + 2);
    close_db(&loop, a);
    close_db(&loop, b);
    ct_test_loop_close(&loop);
    free(url);
}

static void broken_migration_reports_its_file_and_stops(void **state)
{
    (void)state;
    ct_test_require_stack();
    uv_loop_t loop;
    uv_loop_init(&loop);
    char *url = ct_test_create_db("ct_migrate");
    ct_db_t *db;
    assert_int_equal(ct_db_new(&loop, url, 1, &db), 0);
    const ct_migration_t files[] = {
        {"0001_ok.sql", "CREATE TABLE good(n int);"},
        {"0002_broken.sql", "CREATE TABLE half(n int);\nCREATE TABLE bad(n int,);"},
        {"0003_after.sql", "CREATE TABLE after(n int);"},
    };
    mres_t r = {0};
    run_migrations(&loop, db, files, 3, &r);
    assert_int_equal(r.status, CT_EDB);
    assert_non_null(strstr(r.message, "0002_broken.sql"));
    assert_non_null(strstr(r.message, "syntax error"));
    /* the file before is applied, the broken one left nothing behind, the
     * one after never ran */
    assert_int_equal(ct_test_sql_count(url, "SELECT count(*) FROM ct_schema_migrations"),
                     (long long)platform_migrations_count + 1);
    assert_int_equal(ct_test_sql_count(url, "SELECT count(*) FROM pg_tables "
                                            "WHERE tablename IN ('good', 'half', 'bad', 'after')"),
                     1);
    close_db(&loop, db);
    ct_test_loop_close(&loop);
    free(url);
}

static void invalid_arguments_fail_now(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ct_db_t *db;
    assert_int_equal(ct_db_new(&loop, "postgresql://citerne@127.0.0.1:1/x", 1, &db), 0);
    const ct_migration_t nameless[] = {{NULL, "SELECT 1"}};
    mres_t r = {0};
    assert_int_equal(ct_migrate_run(db, nameless, 1, on_migrated, &r), CT_EINPUT);
    assert_int_not_equal(ct_migrate_run(db, NULL, 1, on_migrated, &r), 0);
    assert_false(r.done);
    close_db(&loop, db);
    ct_test_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrations_are_applied_once_and_rerun_is_a_no_op),
        cmocka_unit_test(concurrent_migrators_do_not_conflict),
        cmocka_unit_test(broken_migration_reports_its_file_and_stops),
        cmocka_unit_test(invalid_arguments_fail_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
