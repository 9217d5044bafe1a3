/* accounts: the sweep of expired links and stale pending users (sweep.h),
 * against the test stack's Postgres (see api_support.h). */
#define _GNU_SOURCE
#include "api_support.h"

#include "sweep.h"

/* A user row made directly (id out): status, created days_ago days ago. */
static void user_row(char id[37], const char *status, int days_ago)
{
    char sql[512];
    snprintf(
        sql, sizeof sql,
        "INSERT INTO users (id, email, name, status, password_hash, created_at)"
        " VALUES (gen_random_uuid(), 'swept%d.' || (random() * 1e9)::bigint || '@example.test',"
        " 'Someone', '%s', %s, now() - interval '%d days') RETURNING id",
        F.seq, status, strcmp(status, "active") == 0 ? "'$argon2id$x'" : "NULL", days_ago);
    PGresult *res = PQexec(F.pg, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(F.pg));
    snprintf(id, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
}

static void exec_sql(const char *sql)
{
    PGresult *res = PQexec(F.pg, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(F.pg));
    PQclear(res);
}

/* A link row of table for user id, expiring at now() + when. */
static void link_row(const char *table, const char *id, const char *when)
{
    char sql[512];
    if (strcmp(table, "email_changes") == 0)
        snprintf(sql, sizeof sql,
                 "INSERT INTO email_changes (user_id, token_hash, new_email, expires_at)"
                 " VALUES ('%s', sha256(gen_random_uuid()::text::bytea), 'new@example.test',"
                 " now() + interval '%s')",
                 id, when);
    else
        snprintf(sql, sizeof sql,
                 "INSERT INTO %s (user_id, token_hash, expires_at) VALUES ('%s',"
                 " sha256(gen_random_uuid()::text::bytea), now() + interval '%s')",
                 table, id, when);
    exec_sql(sql);
}

static long long rows_of(const char *table, const char *id)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE %s = $1::uuid", table,
             strcmp(table, "users") == 0 ? "id" : "user_id");
    return sql_count(sql, id);
}

typedef struct {
    bool done;
    int status;
    accounts_sweep_counts_t counts;
} swept_t;

static void on_swept(int status, const accounts_sweep_counts_t *counts, void *udata)
{
    swept_t *s = udata;
    s->status = status;
    s->counts = *counts;
    s->done = true;
}

static void sweep_deletes_exactly_the_expired_links_and_stale_pending_users(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");

    /* reset links: five expired (three batches of two), one live */
    char expired_resets[5][37], live_reset[37];
    for (int i = 0; i < 5; i++) {
        user_row(expired_resets[i], "active", 1);
        link_row("password_resets", expired_resets[i], "-1 minute");
    }
    user_row(live_reset, "active", 1);
    link_row("password_resets", live_reset, "30 minutes");
    /* e-mail change requests: one expired, one live */
    char expired_change[37], live_change[37];
    user_row(expired_change, "active", 1);
    link_row("email_changes", expired_change, "-1 second");
    user_row(live_change, "active", 1);
    link_row("email_changes", live_change, "10 minutes");
    /* pending phone numbers: one expired two days ago, one a minute ago
     * (a resend may still renew it) */
    char old_code[37], recent_code[37];
    user_row(old_code, "active", 3);
    user_row(recent_code, "active", 1);
    char code_sql[512];
    snprintf(code_sql, sizeof code_sql,
             "INSERT INTO phone_verifications (user_id, phone, code_hash, tries_left, expires_at)"
             " VALUES ('%s', '+33611223344', sha256('a'), 5, now() - interval '2 days'),"
             " ('%s', '+33611223355', sha256('b'), 5, now() - interval '1 minute')",
             old_code, recent_code);
    exec_sql(code_sql);
    /* pending users */
    char invited_long_ago[37], expired_recently[37], resent[37], linkless_old[37], linkless_new[37];
    user_row(invited_long_ago, "pending", 40); /* link dead for 31 days, a grant */
    link_row("user_activations", invited_long_ago, "-31 days");
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO user_customers (user_id, customer_id, role) VALUES ('%s', '%s',"
             " 'viewer')",
             invited_long_ago, m.customer_id);
    exec_sql(sql);
    user_row(expired_recently, "pending", 40); /* link dead for 29 days only */
    link_row("user_activations", expired_recently, "-29 days");
    user_row(resent, "pending", 40); /* an old sign-up with a fresh link */
    link_row("user_activations", resent, "1 day");
    user_row(linkless_old, "pending", 31);
    user_row(linkless_new, "pending", 1);
    /* never an active or closed account, however old */
    char active_old[37], closed_old[37];
    user_row(active_old, "active", 400);
    user_row(closed_old, "disabled", 400);

    /* what else the binary's other tests left (nothing expected, but the
     * counts below are exact whatever it is) */
    long long resets =
        sql_count("SELECT count(*) FROM password_resets WHERE expires_at < now()", NULL);
    long long changes =
        sql_count("SELECT count(*) FROM email_changes WHERE expires_at < now()", NULL);
    assert_int_equal(resets, 5);
    assert_int_equal(changes, 1);

    swept_t s = {0};
    accounts_sweep_run_t run;
    assert_int_equal(accounts_sweep_once(&run, F.svc.db, 30, 2, on_swept, &s), 0);
    assert_true(ct_test_run_until(&F.svc.loop, &s.done, 10000));
    assert_int_equal(s.status, 0);
    assert_int_equal(s.counts.count[ACCOUNTS_SWEEP_RESETS], 5);
    assert_int_equal(s.counts.count[ACCOUNTS_SWEEP_EMAIL_CHANGES], 1);
    assert_int_equal(s.counts.count[ACCOUNTS_SWEEP_PENDING_USERS], 2);
    assert_int_equal(s.counts.count[ACCOUNTS_SWEEP_PHONE_CODES], 1);
    assert_int_equal(rows_of("phone_verifications", old_code), 0);
    assert_int_equal(rows_of("users", old_code), 1);
    assert_int_equal(rows_of("phone_verifications", recent_code), 1);

    for (int i = 0; i < 5; i++) {
        assert_int_equal(rows_of("password_resets", expired_resets[i]), 0);
        assert_int_equal(rows_of("users", expired_resets[i]), 1);
    }
    assert_int_equal(rows_of("password_resets", live_reset), 1);
    assert_int_equal(rows_of("email_changes", expired_change), 0);
    assert_int_equal(rows_of("users", expired_change), 1);
    assert_int_equal(rows_of("email_changes", live_change), 1);
    /* the stale pending users went with their link and grant */
    assert_int_equal(rows_of("users", invited_long_ago), 0);
    assert_int_equal(rows_of("user_activations", invited_long_ago), 0);
    assert_int_equal(rows_of("user_customers", invited_long_ago), 0);
    assert_int_equal(rows_of("users", linkless_old), 0);
    /* the others stay, an expired activation link with its user (its expiry
     * is where the days count from) */
    assert_int_equal(rows_of("users", expired_recently), 1);
    assert_int_equal(rows_of("user_activations", expired_recently), 1);
    assert_int_equal(rows_of("users", resent), 1);
    assert_int_equal(rows_of("user_activations", resent), 1);
    assert_int_equal(rows_of("users", linkless_new), 1);
    assert_int_equal(rows_of("users", active_old), 1);
    assert_int_equal(rows_of("users", closed_old), 1);

    /* a second sweep finds nothing */
    s = (swept_t){0};
    assert_int_equal(accounts_sweep_once(&run, F.svc.db, 30, 2, on_swept, &s), 0);
    assert_true(ct_test_run_until(&F.svc.loop, &s.done, 10000));
    assert_int_equal(s.status, 0);
    for (int k = 0; k < ACCOUNTS_SWEEP_KINDS; k++)
        assert_int_equal(s.counts.count[k], 0);
}

static bool drained;

static void on_drained(ct_service_t *svc)
{
    assert_ptr_equal(svc, &F.svc);
    drained = true;
}

/* The service's hooks: the timer sweeps, and the drain closes it whether a
 * sweep is in flight or not (the fixture's tear-down then asserts that the
 * loop closes clean). */
static void sweeper_runs_on_its_timer_and_drains_cleanly(void **state)
{
    REQUIRE_STACK();
    F.svc.udata = &F.accounts;
    F.accounts.sweeper.interval_s = 1;
    char u[37];
    user_row(u, "active", 1);
    link_row("password_resets", u, "-1 minute");

    /* drained while a sweep is in flight */
    assert_int_equal(accounts_on_start(&F.svc), 0);
    assert_true(ct_test_run_until(&F.svc.loop, &F.accounts.sweeper.running, 10000));
    drained = false;
    accounts_on_drain(&F.svc, on_drained);
    assert_true(ct_test_run_until(&F.svc.loop, &drained, 10000));
    assert_false(F.accounts.sweeper.running);

    /* started again: its sweeps run until the expired link is gone; then
     * drained while idle */
    user_row(u, "active", 1);
    link_row("password_resets", u, "-1 minute");
    assert_int_equal(accounts_on_start(&F.svc), 0);
    bool never = false;
    for (int i = 0; i < 100 && rows_of("password_resets", u) > 0; i++)
        ct_test_run_until(&F.svc.loop, &never, 100);
    assert_int_equal(rows_of("password_resets", u), 0);
    for (int i = 0; i < 1000 && F.accounts.sweeper.running; i++)
        uv_run(&F.svc.loop, UV_RUN_ONCE);
    assert_false(F.accounts.sweeper.running);
    drained = false;
    accounts_on_drain(&F.svc, on_drained);
    assert_true(ct_test_run_until(&F.svc.loop, &drained, 10000));

    /* never started: done at once */
    drained = false;
    accounts_on_drain(&F.svc, on_drained);
    assert_true(drained);
    F.svc.udata = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(sweep_deletes_exactly_the_expired_links_and_stale_pending_users,
                               test_setup),
        cmocka_unit_test_setup(sweeper_runs_on_its_timer_and_drains_cleanly, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
