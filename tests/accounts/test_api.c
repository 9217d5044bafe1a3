/* accounts API through the real HTTP server, against the test stack's
 * Postgres (a fresh database) and Redis. The service is assembled in-process
 * from the platform pieces (no Kafka: events stay in ct_outbox, where the
 * tests read and decode them). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "accounts.h"
#include "citerne/cache.h"
#include "citerne/db.h"
#include "citerne/http.h"
#include "citerne/log.h"
#include "citerne/migrate.h"
#include "citerne/v1/accounts.pb-c.h"
#include "http_client.h"
#include "rules.h"
#include "stack.h"
#include "totp.h"

#include <liboath/oath.h>

#define OPERATOR_KEY "test-operator-key-0123456789abcdef"
#define OP_AUTH "Authorization: Bearer " OPERATOR_KEY "\r\n"

typedef struct {
    ct_service_t svc;
    accounts_t accounts;
    char *pg_url;
    PGconn *pg; /* the test's own synchronous connection, for checks */
    redisContext *redis;
    int port;
    int seq; /* makes customer numbers and e-mails unique per test */
} fixture_t;

static fixture_t F;

/* ---- set-up and tear-down ---- */

static bool migrated;
static int migrate_status;

static void on_migrated(int status, const char *message, void *udata)
{
    (void)udata;
    migrate_status = status;
    if (status != 0)
        fprintf(stderr, "migrations: %s\n", message ? message : "?");
    migrated = true;
}

static int group_setup(void **state)
{
    (void)state;
    if (!ct_test_env("CITERNE_PG_URL"))
        return 0; /* each test then fails or skips (ct_test_require_stack) */
    if (!ct_test_env("CITERNE_REDIS_URL")) {
        fprintf(stderr, "the test stack has no CITERNE_REDIS_URL\n");
        return -1;
    }
    ct_log_init("accounts", CT_LOG_WARN);
    memset(&F, 0, sizeof F);
    ct_service_t *svc = &F.svc;
    assert_int_equal(uv_loop_init(&svc->loop), 0);
    snprintf(svc->topic, sizeof svc->topic, "citerne.accounts.v1");
    F.pg_url = ct_test_create_db("accounts_api");
    assert_int_equal(ct_db_new(&svc->loop, F.pg_url, 2, &svc->db), 0);
    assert_int_equal(ct_cache_new(&svc->loop, ct_test_env("CITERNE_REDIS_URL"), &svc->cache), 0);

    assert_int_equal(
        ct_migrate_run(svc->db, accounts_migrations, accounts_migrations_count, on_migrated, NULL),
        0);
    assert_true(ct_test_run_until(&svc->loop, &migrated, 30000));
    assert_int_equal(migrate_status, 0);

    accounts_settings_t settings = {
        .operator_key = OPERATOR_KEY,
        .session_ttl_s = 3600,
        .session_idle_s = 1800,
        .pwhash_ops = crypto_pwhash_OPSLIMIT_MIN, /* fast: tests check flows, not cost */
        .pwhash_mem = crypto_pwhash_MEMLIMIT_MIN,
        .trusted_proxies = "127.0.0.9",
        .secret_key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        .throttle = {.addr_free = 5,
                     .addr_max_delay_s = 900,
                     .addr_memory_s = 3600,
                     .account_limit = 100,
                     .account_window_s = 3600},
    };
    assert_int_equal(accounts_init(&F.accounts, svc, &settings), 0);
    assert_int_equal(ct_http_server_new(&svc->loop, NULL, &svc->http), 0);
    assert_int_equal(accounts_routes(&F.accounts, svc->http), 0);
    assert_int_equal(ct_http_listen(svc->http, "127.0.0.1:0"), 0);
    F.port = ct_http_port(svc->http);
    assert_true(F.port > 0);

    /* wait for Redis */
    for (int i = 0; i < 200 && !ct_cache_ready(svc->cache); i++)
        uv_run(&svc->loop, UV_RUN_NOWAIT), uv_sleep(10);
    assert_true(ct_cache_ready(svc->cache));

    F.pg = PQconnectdb(F.pg_url);
    assert_int_equal(PQstatus(F.pg), CONNECTION_OK);
    const char *rurl = ct_test_env("CITERNE_REDIS_URL");
    char host[64] = "127.0.0.1";
    int rport = 6379;
    sscanf(rurl, "redis://%63[^:]:%d", host, &rport);
    F.redis = redisConnect(host, rport);
    assert_non_null(F.redis);
    assert_int_equal(F.redis->err, 0);
    return 0;
}

static int closes;

static void on_closed(void *udata)
{
    (void)udata;
    closes--;
}

static int group_teardown(void **state)
{
    (void)state;
    if (!F.pg_url)
        return 0;
    ct_service_t *svc = &F.svc;
    closes = 3;
    ct_http_server_close(svc->http, on_closed, NULL);
    ct_db_close(svc->db, on_closed, NULL);
    ct_cache_close(svc->cache, on_closed, NULL);
    for (int i = 0; i < 1000 && closes > 0; i++)
        uv_run(&svc->loop, UV_RUN_ONCE);
    assert_int_equal(closes, 0);
    ct_test_loop_close(&svc->loop);
    PQfinish(F.pg);
    redisFree(F.redis);
    /* drop the test's database: the stack outlives the test */
    PGconn *admin = PQconnectdb(ct_test_env("CITERNE_PG_URL"));
    const char *dbname = strrchr(F.pg_url, '/') + 1;
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %.*s", (int)strcspn(dbname, "?"), dbname);
    PQclear(PQexec(admin, sql));
    PQfinish(admin);
    free(F.pg_url);
    return 0;
}

/* Deletes every key matching pattern (test Redis only). */
static void redis_delete(const char *pattern)
{
    if (!F.redis)
        return;
    redisReply *keys = redisCommand(F.redis, "KEYS %s", pattern);
    for (size_t i = 0; keys && keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++)
        freeReplyObject(redisCommand(F.redis, "DEL %s", keys->element[i]->str));
    freeReplyObject(keys);
}

static int test_setup(void **state)
{
    (void)state;
    F.seq++;
    /* every test starts with no throttling history: they all sign in from
     * 127.0.0.1 */
    redis_delete("acct:login:*");
    redis_delete("acct:mail:*");
    return 0;
}

/* ---- helpers ---- */

static void call(const char *method, const char *path, const char *headers, const char *body,
                 test_resp_t *r)
{
    test_http(&F.svc.loop, F.port, method, path, headers, body, r);
    if (r->status == 0)
        fail_msg("%s %s: no response", method, path);
}

static void expect_status(const test_resp_t *r, int want, const char *what)
{
    if (r->status != want)
        fail_msg("%s: status %d, want %d; body %s", what, r->status, want,
                 r->body ? r->body : "(none)");
}

static const char *jstr(const test_resp_t *r, const char *field)
{
    json_t *v = json_object_get(r->json, field);
    if (!json_is_string(v))
        fail_msg("field %s missing or not a string in %s", field, r->body ? r->body : "(none)");
    return json_string_value(v);
}

static void expect_problem_type(const test_resp_t *r, const char *type)
{
    char *ct = test_resp_header(r, "Content-Type");
    assert_non_null(ct);
    if (!strstr(ct, "application/problem+json"))
        fail_msg("content type %s, want application/problem+json", ct);
    free(ct);
    const char *got = jstr(r, "type");
    size_t n = strlen(got), m = strlen(type);
    if (n < m || strcmp(got + n - m, type) != 0)
        fail_msg("problem type %s, want .../%s", got, type);
}

/* Whether the errors array of a 400 names field. */
static bool names_field(const test_resp_t *r, const char *field)
{
    json_t *errors = json_object_get(r->json, "errors");
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *f = json_string_value(json_object_get(e, "field"));
        if (f && strcmp(f, field) == 0)
            return true;
    }
    return false;
}

static long long sql_count(const char *sql, const char *arg)
{
    const char *params[1] = {arg};
    PGresult *res = PQexecParams(F.pg, sql, arg ? 1 : 0, NULL, arg ? params : NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(F.pg));
    long long n = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

static long long outbox_rows(void)
{
    return sql_count("SELECT count(*) FROM ct_outbox", NULL);
}

static long long table_rows(void)
{
    return sql_count("SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM contracts)"
                     " + (SELECT count(*) FROM sites) + (SELECT count(*) FROM users)"
                     " + (SELECT count(*) FROM user_customers)",
                     NULL);
}

/* Creates a customer (and optionally contract, site, user); ids out. */
typedef struct {
    char customer_id[37], contract_id[37], site_id[37], user_id[37];
    char number[16], email[64];
} made_t;

static void make_customer(made_t *m, const char *segment)
{
    memset(m, 0, sizeof *m);
    snprintf(m->number, sizeof m->number, "C%07d", 1000 * F.seq + (int)(random() % 1000));
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_number\":\"%s\",\"name\":\"Famille Martin\",\"segment\":\"%s\"%s}",
             m->number, segment,
             strcmp(segment, "business") == 0 ? ",\"siret\":\"73282932000074\"" : "");
    test_resp_t r;
    call("POST", "/api/v1/accounts/customers", OP_AUTH, body, &r);
    expect_status(&r, 201, "create customer");
    snprintf(m->customer_id, sizeof m->customer_id, "%s", jstr(&r, "id"));
    test_resp_dispose(&r);
}

static void make_contract(made_t *m, const char *mode)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"delivery_mode\":\"%s\",\"price_per_tonne_cents\":180000}",
             m->customer_id, mode);
    test_resp_t r;
    call("POST", "/api/v1/accounts/contracts", OP_AUTH, body, &r);
    expect_status(&r, 201, "create contract");
    snprintf(m->contract_id, sizeof m->contract_id, "%s", jstr(&r, "id"));
    test_resp_dispose(&r);
}

static void make_user(made_t *m, const char *password)
{
    snprintf(m->email, sizeof m->email, "user%d.%ld@example.test", F.seq, random() % 100000);
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"email\":\"%s\",\"name\":\"Marie\",\"role\":\"admin\","
             "\"password\":\"%s\"}",
             m->customer_id, m->email, password);
    test_resp_t r;
    call("POST", "/api/v1/accounts/users", OP_AUTH, body, &r);
    expect_status(&r, 201, "create user");
    snprintf(m->user_id, sizeof m->user_id, "%s", jstr(&r, "id"));
    test_resp_dispose(&r);
}

/* The outbox rows keyed by customer_id, decoded, oldest first. */
static size_t outbox_events(const char *customer_id, Citerne__V1__AccountsEvent **out, size_t max)
{
    const char *params[1] = {customer_id};
    PGresult *res = PQexecParams(F.pg,
                                 "SELECT topic, key, payload, event_id::text FROM ct_outbox"
                                 " WHERE key = $1 ORDER BY id",
                                 1, NULL, params, NULL, NULL, 1 /* binary */);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    size_t n = (size_t)PQntuples(res);
    assert_true(n <= max);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(PQgetvalue(res, (int)i, 0), "citerne.accounts.v1");
        out[i] = citerne__v1__accounts_event__unpack(NULL, (size_t)PQgetlength(res, (int)i, 2),
                                                     (const uint8_t *)PQgetvalue(res, (int)i, 2));
        if (!out[i])
            fail_msg("outbox row %zu of %s does not decode as AccountsEvent", i, customer_id);
        assert_string_equal(out[i]->meta->event_id, PQgetvalue(res, (int)i, 3));
        assert_string_equal(out[i]->meta->producer, "accounts");
    }
    PQclear(res);
    return n;
}

/* ---- tests ---- */

/* First line of every test: fails under ctest when the fixture gave no
 * stack, skips when run by hand without one (a skip in a cmocka setup
 * would count as an error). */
#define REQUIRE_STACK()                                                                            \
    do {                                                                                           \
        (void)state;                                                                               \
        if (!F.pg_url)                                                                             \
            ct_test_require_stack();                                                               \
    } while (0)

static void back_office_creates_customer_contract_site_and_user_with_one_event_each(void **state)
{
    REQUIRE_STACK();
    long long before = outbox_rows();
    char number[16], body[512];
    snprintf(number, sizeof number, "C9%06d", F.seq);

    test_resp_t r;
    snprintf(body, sizeof body,
             "{\"customer_number\":\"%s\",\"name\":\"Boulangerie Dupont\",\"segment\":\"business\","
             "\"siret\":\"73282932000074\"}",
             number);
    call("POST", "/api/v1/accounts/customers", OP_AUTH, body, &r);
    expect_status(&r, 201, "create customer");
    char customer_id[37];
    snprintf(customer_id, sizeof customer_id, "%s", jstr(&r, "id"));
    assert_true(ct_uuid_valid(customer_id));
    assert_string_equal(jstr(&r, "customer_number"), number);
    assert_string_equal(jstr(&r, "segment"), "business");
    assert_int_equal(json_integer_value(json_object_get(r.json, "vat_rate_bp")), 2000);
    test_resp_dispose(&r);

    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"delivery_mode\":\"on_demand\","
             "\"price_per_tonne_cents\":185000,\"maintenance_plan\":\"pacte_maintenance\"}",
             customer_id);
    call("POST", "/api/v1/accounts/contracts", OP_AUTH, body, &r);
    expect_status(&r, 201, "create contract");
    char contract_id[37];
    snprintf(contract_id, sizeof contract_id, "%s", jstr(&r, "id"));
    assert_string_equal(jstr(&r, "customer_id"), customer_id);
    assert_string_equal(jstr(&r, "maintenance_plan"), "pacte_maintenance");
    test_resp_dispose(&r);

    snprintf(body, sizeof body,
             "{\"contract_id\":\"%s\",\"capacity_kg\":1750,\"address\":\"3 rue du Four, Lyon\","
             "\"certificate_received\":false}",
             contract_id);
    call("POST", "/api/v1/accounts/sites", OP_AUTH, body, &r);
    expect_status(&r, 201, "create site");
    char site_id[37];
    snprintf(site_id, sizeof site_id, "%s", jstr(&r, "id"));
    assert_string_equal(jstr(&r, "customer_id"), customer_id);
    assert_string_equal(jstr(&r, "contract_id"), contract_id);
    assert_int_equal(json_integer_value(json_object_get(r.json, "threshold_pct")), 30);
    assert_true(json_is_false(json_object_get(r.json, "certificate_received")));
    test_resp_dispose(&r);

    char email[64];
    snprintf(email, sizeof email, "Paul.Dupont%d@Example.TEST", F.seq);
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"email\":\"%s\",\"phone\":\"+33698765432\","
             "\"name\":\"Paul Dupont\",\"role\":\"orderer\",\"password\":\"another long pass\"}",
             customer_id, email);
    call("POST", "/api/v1/accounts/users", OP_AUTH, body, &r);
    expect_status(&r, 201, "create user");
    char user_id[37], lower[ACCOUNTS_EMAIL_MAX + 1];
    snprintf(user_id, sizeof user_id, "%s", jstr(&r, "id"));
    assert_int_equal(accounts_email_normalise(email, lower), 0);
    assert_string_equal(jstr(&r, "email"), lower);
    assert_string_equal(jstr(&r, "phone"), "+33698765432");
    assert_null(json_object_get(r.json, "password"));
    assert_null(json_object_get(r.json, "password_hash"));
    assert_null(strstr(r.body, "argon2"));
    test_resp_dispose(&r);

    /* the stored hash is argon2id, never the password */
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE id = $1::uuid AND"
                               " password_hash LIKE '$argon2id$%'",
                               user_id),
                     1);

    /* the back office view holds all of it */
    char path[128];
    snprintf(path, sizeof path, "/api/v1/accounts/customers/%s", customer_id);
    call("GET", path, OP_AUTH, NULL, &r);
    expect_status(&r, 200, "get customer");
    assert_string_equal(jstr(&r, "siret"), "73282932000074");
    assert_int_equal(json_array_size(json_object_get(r.json, "contracts")), 1);
    assert_int_equal(json_array_size(json_object_get(r.json, "sites")), 1);
    assert_int_equal(json_array_size(json_object_get(r.json, "users")), 1);
    json_t *site = json_array_get(json_object_get(r.json, "sites"), 0);
    assert_string_equal(json_string_value(json_object_get(site, "delivery_mode")), "on_demand");
    test_resp_dispose(&r);

    /* one event per entity, keyed by the customer, with the right bodies */
    assert_int_equal(outbox_rows(), before + 4);
    Citerne__V1__AccountsEvent *ev[8];
    size_t n = outbox_events(customer_id, ev, 8);
    assert_int_equal(n, 4);
    assert_int_equal(ev[0]->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_CREATED);
    assert_string_equal(ev[0]->customer_created->customer_id, customer_id);
    assert_string_equal(ev[0]->customer_created->customer_number, number);
    assert_string_equal(ev[0]->customer_created->segment, "business");
    assert_int_equal(ev[0]->customer_created->vat_rate_bp, 2000);
    assert_int_equal(ev[1]->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_CONTRACT_CREATED);
    assert_string_equal(ev[1]->contract_created->contract_id, contract_id);
    assert_string_equal(ev[1]->contract_created->delivery_mode, "on_demand");
    assert_int_equal(ev[1]->contract_created->price_per_tonne_cents, 185000);
    assert_int_equal(ev[2]->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED);
    assert_string_equal(ev[2]->site_created->site_id, site_id);
    assert_string_equal(ev[2]->site_created->customer_id, customer_id);
    assert_string_equal(ev[2]->site_created->delivery_mode, "on_demand");
    assert_int_equal(ev[2]->site_created->capacity_kg, 1750);
    assert_false(ev[2]->site_created->certificate_received);
    assert_int_equal(ev[3]->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_CREATED);
    assert_string_equal(ev[3]->user_created->user_id, user_id);
    assert_string_equal(ev[3]->user_created->email, lower);
    assert_string_equal(ev[3]->user_created->role, "orderer");
    for (size_t i = 0; i < n; i++)
        citerne__v1__accounts_event__free_unpacked(ev[i], NULL);
}

static void duplicate_customer_number_is_409_and_writes_nothing(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    long long rows = table_rows(), events = outbox_rows();
    char body[256];
    snprintf(body, sizeof body,
             "{\"customer_number\":\"%s\",\"name\":\"Autre\",\"segment\":\"household\"}", m.number);
    test_resp_t r;
    call("POST", "/api/v1/accounts/customers", OP_AUTH, body, &r);
    expect_status(&r, 409, "duplicate number");
    expect_problem_type(&r, "customer-number-taken");
    test_resp_dispose(&r);
    assert_int_equal(table_rows(), rows);
    assert_int_equal(outbox_rows(), events);
}

static void bad_json_and_wrong_types_are_400_naming_the_fields(void **state)
{
    REQUIRE_STACK();
    long long rows = table_rows(), events = outbox_rows();
    test_resp_t r;
    call("POST", "/api/v1/accounts/customers", OP_AUTH, "{\"customer_number\": ", &r);
    expect_status(&r, 400, "truncated JSON");
    test_resp_dispose(&r);

    call("POST", "/api/v1/accounts/customers", OP_AUTH, "[1, 2]", &r);
    expect_status(&r, 400, "JSON array body");
    test_resp_dispose(&r);

    call("POST", "/api/v1/accounts/customers", OP_AUTH,
         "{\"customer_number\": 1234567, \"name\": \"\", \"segment\": \"farm\","
         " \"vat_rate_bp\": \"2000\"}",
         &r);
    expect_status(&r, 400, "wrong types");
    expect_problem_type(&r, "invalid-input");
    assert_true(names_field(&r, "customer_number"));
    assert_true(names_field(&r, "name"));
    assert_true(names_field(&r, "segment"));
    assert_true(names_field(&r, "vat_rate_bp"));
    test_resp_dispose(&r);

    static const struct {
        const char *path, *body, *field;
    } cases[] = {
        {"/api/v1/accounts/customers",
         "{\"customer_number\":\"C12345\",\"name\":\"A\",\"segment\":\"household\"}",
         "customer_number"},
        {"/api/v1/accounts/customers",
         "{\"customer_number\":\"C1234567\",\"name\":\"A\",\"segment\":\"household\","
         "\"vat_rate_bp\":1900}",
         "vat_rate_bp"},
        {"/api/v1/accounts/customers",
         "{\"customer_number\":\"C1234567\",\"name\":\"A\",\"segment\":\"business\"}", "siret"},
        {"/api/v1/accounts/customers",
         "{\"customer_number\":\"C1234567\",\"name\":\"A\",\"segment\":\"household\","
         "\"siret\":\"73282932000074\"}",
         "siret"},
        {"/api/v1/accounts/contracts",
         "{\"customer_id\":\"nope\",\"delivery_mode\":\"automatic\",\"price_per_tonne_cents\":1}",
         "customer_id"},
        {"/api/v1/accounts/contracts",
         "{\"customer_id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\",\"delivery_mode\":\"weekly\","
         "\"price_per_tonne_cents\":1}",
         "delivery_mode"},
        {"/api/v1/accounts/contracts",
         "{\"customer_id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\",\"delivery_mode\":"
         "\"automatic\","
         "\"price_per_tonne_cents\":10000001}",
         "price_per_tonne_cents"},
        {"/api/v1/accounts/sites",
         "{\"contract_id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\",\"capacity_kg\":99,"
         "\"address\":\"x\"}",
         "capacity_kg"},
        {"/api/v1/accounts/sites",
         "{\"contract_id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\",\"capacity_kg\":1000,"
         "\"threshold_pct\":81,\"address\":\"x\"}",
         "threshold_pct"},
        {"/api/v1/accounts/sites",
         "{\"contract_id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\",\"capacity_kg\":1000,"
         "\"address\":\"x\",\"certificate_received\":\"yes\"}",
         "certificate_received"},
        {"/api/v1/accounts/users",
         "{\"customer_id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\",\"email\":\"not an email\","
         "\"name\":\"A\",\"role\":\"admin\",\"password\":\"correct horse battery\"}",
         "email"},
        {"/api/v1/accounts/users",
         "{\"customer_id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\",\"email\":\"a@b.fr\","
         "\"phone\":\"0612345678\",\"name\":\"A\",\"role\":\"admin\","
         "\"password\":\"correct horse battery\"}",
         "phone"},
        {"/api/v1/accounts/users",
         "{\"customer_id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\",\"email\":\"a@b.fr\","
         "\"name\":\"A\",\"role\":\"owner\",\"password\":\"correct horse battery\"}",
         "role"},
        {"/api/v1/accounts/users",
         "{\"customer_id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\",\"email\":\"a@b.fr\","
         "\"name\":\"A\",\"role\":\"admin\",\"password\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
         "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}",
         "password"},
        {"/api/v1/accounts/users",
         "{\"customer_id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\",\"email\":\"a@b.fr\","
         "\"name\":\"A\",\"role\":\"admin\",\"password\":123456789012}",
         "password"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        call("POST", cases[i].path, OP_AUTH, cases[i].body, &r);
        if (r.status != 400 || !names_field(&r, cases[i].field))
            fail_msg("case %zu (%s): status %d, body %s; want 400 naming %s", i, cases[i].path,
                     r.status, r.body, cases[i].field);
        test_resp_dispose(&r);
    }
    assert_int_equal(table_rows(), rows);
    assert_int_equal(outbox_rows(), events);
}

static void maintenance_plan_must_suit_the_segment(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    long long rows = table_rows(), events = outbox_rows();
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"delivery_mode\":\"automatic\","
             "\"price_per_tonne_cents\":180000,\"maintenance_plan\":\"pacte_maintenance\"}",
             m.customer_id);
    test_resp_t r;
    call("POST", "/api/v1/accounts/contracts", OP_AUTH, body, &r);
    expect_status(&r, 400, "pacte_maintenance for a household");
    assert_true(names_field(&r, "maintenance_plan"));
    test_resp_dispose(&r);
    assert_int_equal(table_rows(), rows);
    assert_int_equal(outbox_rows(), events);
    /* the same customer without a plan is fine */
    make_contract(&m, "automatic");
    assert_int_equal(table_rows(), rows + 1);
    assert_int_equal(outbox_rows(), events + 1);
}

static void unknown_customer_or_contract_is_404_with_nothing_written(void **state)
{
    REQUIRE_STACK();
    long long rows = table_rows(), events = outbox_rows();
    char unknown[37];
    ct_uuid_v7(unknown);
    char body[512];
    test_resp_t r;

    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"delivery_mode\":\"automatic\",\"price_per_tonne_cents\":1}",
             unknown);
    call("POST", "/api/v1/accounts/contracts", OP_AUTH, body, &r);
    expect_status(&r, 404, "contract of an unknown customer");
    expect_problem_type(&r, "not-found");
    test_resp_dispose(&r);

    snprintf(body, sizeof body,
             "{\"contract_id\":\"%s\",\"capacity_kg\":1000,\"address\":\"1 rue X\"}", unknown);
    call("POST", "/api/v1/accounts/sites", OP_AUTH, body, &r);
    expect_status(&r, 404, "site of an unknown contract");
    test_resp_dispose(&r);

    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"email\":\"ghost%d@example.test\",\"name\":\"G\","
             "\"role\":\"viewer\",\"password\":\"correct horse battery\"}",
             unknown, F.seq);
    call("POST", "/api/v1/accounts/users", OP_AUTH, body, &r);
    expect_status(&r, 404, "user of an unknown customer");
    test_resp_dispose(&r);

    char path[128];
    snprintf(path, sizeof path, "/api/v1/accounts/customers/%s", unknown);
    call("GET", path, OP_AUTH, NULL, &r);
    expect_status(&r, 404, "get an unknown customer");
    test_resp_dispose(&r);
    call("GET", "/api/v1/accounts/customers/not-a-uuid", OP_AUTH, NULL, &r);
    expect_status(&r, 404, "get with a malformed id");
    test_resp_dispose(&r);

    assert_int_equal(table_rows(), rows);
    assert_int_equal(outbox_rows(), events);
}

static void back_office_needs_the_operator_key(void **state)
{
    REQUIRE_STACK();
    long long rows = table_rows();
    static const char *const auths[] = {
        NULL,
        "Authorization: Bearer wrong-key\r\n",
        "Authorization: Bearer " OPERATOR_KEY "x\r\n",
        "Authorization: Basic " OPERATOR_KEY "\r\n",
    };
    for (size_t i = 0; i < sizeof auths / sizeof auths[0]; i++) {
        test_resp_t r;
        call("POST", "/api/v1/accounts/customers", auths[i],
             "{\"customer_number\":\"C7654321\",\"name\":\"A\",\"segment\":\"household\"}", &r);
        if (r.status != 401)
            fail_msg("auth case %zu: status %d, want 401", i, r.status);
        test_resp_dispose(&r);
        call("GET", "/api/v1/accounts/customers/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", auths[i],
             NULL, &r);
        if (r.status != 401)
            fail_msg("auth case %zu (GET): status %d, want 401", i, r.status);
        test_resp_dispose(&r);
    }
    assert_int_equal(table_rows(), rows);
}

static void duplicate_email_is_409_whatever_its_case(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    long long rows = table_rows(), events = outbox_rows();
    char upper[64];
    snprintf(upper, sizeof upper, "%s", m.email);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"email\":\" %s \",\"name\":\"Bis\",\"role\":\"viewer\","
             "\"password\":\"another long passphrase\"}",
             m.customer_id, upper);
    test_resp_t r;
    call("POST", "/api/v1/accounts/users", OP_AUTH, body, &r);
    expect_status(&r, 409, "duplicate e-mail");
    expect_problem_type(&r, "email-taken");
    test_resp_dispose(&r);
    assert_int_equal(table_rows(), rows);
    assert_int_equal(outbox_rows(), events);
}

static void login_sets_the_cookie_and_stores_the_session(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"correct horse battery\"}",
             m.email);
    test_resp_t r;
    call("POST", "/api/v1/accounts/login", NULL, body, &r);
    expect_status(&r, 200, "login");
    assert_string_equal(jstr(&r, "user_id"), m.user_id);
    const char *csrf = jstr(&r, "csrf");
    assert_int_equal(strlen(csrf), 64);
    json_t *customers = json_object_get(r.json, "customers");
    assert_int_equal(json_array_size(customers), 1);
    json_t *g = json_array_get(customers, 0);
    assert_string_equal(json_string_value(json_object_get(g, "customer_id")), m.customer_id);
    assert_string_equal(json_string_value(json_object_get(g, "role")), "admin");

    char *attrs = NULL;
    char *token = test_resp_cookie(&r, "__Host-citerne_session", &attrs);
    assert_non_null(token);
    assert_int_equal(strlen(token), 64);
    assert_non_null(strstr(attrs, "HttpOnly"));
    assert_non_null(strstr(attrs, "Secure"));
    assert_non_null(strstr(attrs, "SameSite=Lax"));
    char *csrf_cookie = test_resp_cookie(&r, "citerne_csrf", NULL);
    assert_non_null(csrf_cookie);
    assert_string_equal(csrf_cookie, csrf);

    char key[ACCOUNTS_SESSION_KEY_MAX];
    accounts_session_key(token, key);
    redisReply *rep = redisCommand(F.redis, "TTL %s", key);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    if (rep->integer <= 0 || rep->integer > 3600)
        fail_msg("session TTL %lld, want 1..3600", rep->integer);
    freeReplyObject(rep);
    rep = redisCommand(F.redis, "GET %s", key);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_non_null(strstr(rep->str, m.user_id));
    assert_null(strstr(rep->str, "correct horse"));
    freeReplyObject(rep);
    free(attrs);
    free(token);
    free(csrf_cookie);
    test_resp_dispose(&r);
}

static void failed_logins_all_get_the_same_401(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    char bodies[4][256];
    snprintf(bodies[0], sizeof bodies[0], "{\"email\":\"%s\",\"password\":\"wrong horse battery\"}",
             m.email);
    snprintf(bodies[1], sizeof bodies[1],
             "{\"email\":\"nobody%d@example.test\",\"password\":\"correct horse battery\"}", F.seq);
    snprintf(bodies[2], sizeof bodies[2],
             "{\"email\":\"not an address\",\"password\":\"correct horse battery\"}");
    snprintf(bodies[3], sizeof bodies[3], "{\"email\":\"%s\",\"password\":\"\"}", m.email);
    char *first = NULL;
    for (int i = 0; i < 4; i++) {
        test_resp_t r;
        call("POST", "/api/v1/accounts/login", NULL, bodies[i], &r);
        expect_status(&r, 401, bodies[i]);
        expect_problem_type(&r, "invalid-credentials");
        assert_string_equal(jstr(&r, "title"), "Invalid e-mail or password");
        assert_null(test_resp_cookie(&r, "__Host-citerne_session", NULL));
        if (!first)
            first = strdup(r.body);
        else if (strcmp(first, r.body) != 0)
            fail_msg("login failure %d answered %s, the first answered %s", i, r.body, first);
        test_resp_dispose(&r);
    }
    /* a disabled user with the right password gets the very same answer */
    assert_int_equal(sql_count("WITH u AS (UPDATE users SET status = 'disabled' WHERE id = $1"
                               " RETURNING 1) SELECT count(*) FROM u",
                               m.user_id),
                     1);
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"correct horse battery\"}",
             m.email);
    test_resp_t r;
    call("POST", "/api/v1/accounts/login", NULL, body, &r);
    expect_status(&r, 401, "disabled user");
    assert_string_equal(r.body, first);
    test_resp_dispose(&r);
    free(first);
}

static void me_needs_a_session_and_logout_ends_it(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");

    test_resp_t r;
    call("GET", "/api/v1/accounts/me", NULL, NULL, &r);
    expect_status(&r, 401, "me without a session");
    test_resp_dispose(&r);
    call("GET", "/api/v1/accounts/me",
         "Cookie: __Host-citerne_session="
         "0000000000000000000000000000000000000000000000000000000000000000\r\n",
         NULL, &r);
    expect_status(&r, 401, "me with an unknown token");
    test_resp_dispose(&r);

    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"correct horse battery\"}",
             m.email);
    call("POST", "/api/v1/accounts/login", NULL, body, &r);
    expect_status(&r, 200, "login");
    char *token = test_resp_cookie(&r, "__Host-citerne_session", NULL);
    char csrf[65];
    snprintf(csrf, sizeof csrf, "%s", jstr(&r, "csrf"));
    test_resp_dispose(&r);

    char cookie[256], with_csrf[384];
    snprintf(cookie, sizeof cookie, "Cookie: __Host-citerne_session=%s\r\n", token);
    snprintf(with_csrf, sizeof with_csrf, "%sX-CSRF-Token: %s\r\n", cookie, csrf);
    call("GET", "/api/v1/accounts/me", cookie, NULL, &r);
    expect_status(&r, 200, "me");
    assert_string_equal(jstr(&r, "user_id"), m.user_id);
    assert_string_equal(jstr(&r, "email"), m.email);
    assert_string_equal(jstr(&r, "name"), "Marie");
    json_t *g = json_array_get(json_object_get(r.json, "customers"), 0);
    assert_string_equal(json_string_value(json_object_get(g, "customer_id")), m.customer_id);
    test_resp_dispose(&r);

    /* a write without the CSRF token is refused and ends nothing */
    call("POST", "/api/v1/accounts/logout", cookie, NULL, &r);
    expect_status(&r, 401, "logout without CSRF");
    test_resp_dispose(&r);
    char key[ACCOUNTS_SESSION_KEY_MAX];
    accounts_session_key(token, key);
    redisReply *rep = redisCommand(F.redis, "EXISTS %s", key);
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);

    call("POST", "/api/v1/accounts/logout", with_csrf, NULL, &r);
    expect_status(&r, 204, "logout");
    char *cleared = NULL;
    char *v = test_resp_cookie(&r, "__Host-citerne_session", &cleared);
    assert_non_null(v);
    assert_string_equal(v, "");
    assert_non_null(strstr(cleared, "Max-Age=0"));
    free(v);
    free(cleared);
    test_resp_dispose(&r);
    rep = redisCommand(F.redis, "EXISTS %s", key);
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);

    call("GET", "/api/v1/accounts/me", cookie, NULL, &r);
    expect_status(&r, 401, "me after logout");
    test_resp_dispose(&r);
    free(token);
}

static void login_from(const char *src, const char *headers, const char *email,
                       const char *password, test_resp_t *r)
{
    char body[512];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    test_http_from(&F.svc.loop, F.port, src, "POST", "/api/v1/accounts/login", headers, body, r);
    if (r->status == 0)
        fail_msg("login from %s: no response", src ? src : "default");
}

static unsigned retry_after(const test_resp_t *r)
{
    char *v = test_resp_header(r, "Retry-After");
    if (!v)
        fail_msg("429 without Retry-After: %s", r->head);
    unsigned n = (unsigned)strtoul(v, NULL, 10);
    free(v);
    return n;
}

static void a_burst_from_one_address_is_delayed_while_the_owner_signs_in_elsewhere(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    int evaluated = 0, delayed = 0;
    for (int i = 0; i < 100; i++) {
        test_resp_t r;
        login_from("127.0.0.2", NULL, m.email, "wrong horse battery", &r);
        if (r.status == 401) {
            expect_problem_type(&r, "invalid-credentials");
            evaluated++;
        } else if (r.status == 429) {
            expect_problem_type(&r, "too-many-attempts");
            if (retry_after(&r) < 1)
                fail_msg("Retry-After below 1 s");
            delayed++;
        } else {
            fail_msg("attempt %d: status %d, body %s", i, r.status, r.body);
        }
        if (i < 5 && r.status != 401)
            fail_msg("attempt %d was not evaluated (%d) though the first five are", i, r.status);
        test_resp_dispose(&r);
    }
    /* five evaluated, then delays of 1, 2, 4 ... s: on a slow machine a
     * delay may lapse during the burst and let one more through */
    if (evaluated < 5 || evaluated > 8 || delayed != 100 - evaluated)
        fail_msg("%d evaluated and %d delayed of 100", evaluated, delayed);

    /* the owner, elsewhere, is not held up */
    test_resp_t r;
    login_from("127.0.0.3", NULL, m.email, "correct horse battery", &r);
    expect_status(&r, 200, "owner from another address");
    test_resp_dispose(&r);
    /* while the attacking address still waits, even with the right password */
    login_from("127.0.0.2", NULL, m.email, "correct horse battery", &r);
    expect_status(&r, 429, "attacker with the right password");
    test_resp_dispose(&r);
    /* and the wait grows: after it lapses, one more failure doubles it */
    redisReply *rep = redisCommand(F.redis, "GET acct:login:addr:127.0.0.2");
    long long count = rep && rep->type == REDIS_REPLY_STRING ? atoll(rep->str) : -1;
    freeReplyObject(rep);
    assert_int_equal(count, evaluated);
    redis_delete("acct:login:addr-wait:127.0.0.2"); /* as if the wait had lapsed */
    login_from("127.0.0.2", NULL, m.email, "wrong horse battery", &r);
    expect_status(&r, 401, "attempt after the wait");
    test_resp_dispose(&r);
    login_from("127.0.0.2", NULL, m.email, "wrong horse battery", &r);
    expect_status(&r, 429, "attempt right after");
    unsigned want = 1u << (evaluated + 1 - 5);
    if (retry_after(&r) != want)
        fail_msg("Retry-After %u after %d failures, want %u", retry_after(&r), evaluated + 1, want);
    test_resp_dispose(&r);
}

static void the_account_limit_refuses_unevaluated_and_lapses_with_time(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    accounts_throttle_opts_t saved = F.accounts.throttle;
    F.accounts.throttle.account_limit = 10;
    F.accounts.throttle.account_window_s = 2;
    /* a spread attack: one failure from each of ten addresses */
    for (int i = 0; i < 10; i++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.1.%d", i + 1);
        test_resp_t r;
        login_from(src, NULL, m.email, "wrong horse battery", &r);
        expect_status(&r, 401, "spread failure");
        test_resp_dispose(&r);
    }
    test_resp_t r;
    login_from("127.0.0.3", NULL, m.email, "wrong horse battery", &r);
    expect_status(&r, 401, "failure past the limit");
    char *refused_body = strdup(r.body);
    test_resp_dispose(&r);
    /* past the limit even the right password is not evaluated: same 401 */
    login_from("127.0.0.3", NULL, m.email, "correct horse battery", &r);
    expect_status(&r, 401, "owner past the account limit");
    assert_string_equal(r.body, refused_body);
    test_resp_dispose(&r);
    free(refused_body);
    /* the window slides: the owner gets in once it has passed */
    uv_sleep(2100);
    login_from("127.0.0.3", NULL, m.email, "correct horse battery", &r);
    expect_status(&r, 200, "owner after the window");
    test_resp_dispose(&r);
    F.accounts.throttle = saved;
}

static void forwarded_for_counts_only_from_a_trusted_proxy(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    test_resp_t r;
    /* through the trusted proxy (127.0.0.9), each client has its own count */
    for (int i = 0; i < 5; i++) {
        login_from("127.0.0.9", "X-Forwarded-For: 198.51.100.1\r\n", m.email, "wrong password!!",
                   &r);
        expect_status(&r, 401, "failure through the proxy");
        test_resp_dispose(&r);
    }
    login_from("127.0.0.9", "X-Forwarded-For: 198.51.100.1\r\n", m.email, "correct horse battery",
               &r);
    expect_status(&r, 429, "the delayed client through the proxy");
    test_resp_dispose(&r);
    login_from("127.0.0.9", "X-Forwarded-For: 10.9.9.9, 198.51.100.2\r\n", m.email,
               "correct horse battery", &r);
    expect_status(&r, 200, "another client through the proxy");
    test_resp_dispose(&r);
    /* from anyone else the header is ignored: changing it does not help */
    for (int i = 0; i < 5; i++) {
        char xff[64];
        snprintf(xff, sizeof xff, "X-Forwarded-For: 198.51.100.%d\r\n", 10 + i);
        login_from("127.0.0.4", xff, m.email, "wrong password!!", &r);
        expect_status(&r, 401, "failure from an untrusted peer");
        test_resp_dispose(&r);
    }
    login_from("127.0.0.4", "X-Forwarded-For: 198.51.100.99\r\n", m.email, "correct horse battery",
               &r);
    expect_status(&r, 429, "untrusted peer with a fresh X-Forwarded-For");
    test_resp_dispose(&r);
}

/* A signed-in session: cookie header lines, with and without CSRF. */
typedef struct {
    char token[65], csrf[65], id[65];
    char cookie[128];    /* "Cookie: ...\r\n" */
    char with_csrf[256]; /* the same plus X-CSRF-Token */
} signed_in_t;

static void sign_in(signed_in_t *si, const char *src, const char *ua, const char *email,
                    const char *password)
{
    char headers[256] = "";
    if (ua)
        snprintf(headers, sizeof headers, "User-Agent: %s\r\n", ua);
    test_resp_t r;
    login_from(src, headers, email, password, &r);
    expect_status(&r, 200, "sign in");
    char *token = test_resp_cookie(&r, "__Host-citerne_session", NULL);
    assert_non_null(token);
    snprintf(si->token, sizeof si->token, "%s", token);
    snprintf(si->csrf, sizeof si->csrf, "%s", jstr(&r, "csrf"));
    free(token);
    test_resp_dispose(&r);
    char key[ACCOUNTS_SESSION_KEY_MAX];
    accounts_session_key(si->token, key);
    snprintf(si->id, sizeof si->id, "%s", key + 11);
    snprintf(si->cookie, sizeof si->cookie, "Cookie: __Host-citerne_session=%s\r\n", si->token);
    snprintf(si->with_csrf, sizeof si->with_csrf, "%sX-CSRF-Token: %s\r\n", si->cookie, si->csrf);
}

static int me_status(const signed_in_t *si)
{
    test_resp_t r;
    call("GET", "/api/v1/accounts/me", si->cookie, NULL, &r);
    int status = r.status;
    test_resp_dispose(&r);
    return status;
}

static long long redis_int(const char *fmt, const char *arg)
{
    redisReply *rep = redisCommand(F.redis, fmt, arg);
    assert_non_null(rep);
    long long v = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -999;
    freeReplyObject(rep);
    return v;
}

/* The session of the list whose id is id, or NULL. */
static json_t *listed(const test_resp_t *r, const char *id)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(r->json, "sessions"), i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "id")), id) == 0)
            return s;
    }
    return NULL;
}

static void every_login_gets_a_new_session_listed_with_its_device_and_address(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    signed_in_t a, b;
    sign_in(&a, "127.0.0.5",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", m.email,
            "correct horse battery");
    sign_in(&b, "127.0.0.6",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
            " (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            m.email, "correct horse battery");
    assert_string_not_equal(a.token, b.token);

    test_resp_t r;
    call("GET", "/api/v1/accounts/sessions", a.cookie, NULL, &r);
    expect_status(&r, 200, "list sessions");
    assert_int_equal(json_array_size(json_object_get(r.json, "sessions")), 2);
    json_t *sa = listed(&r, a.id), *sb = listed(&r, b.id);
    assert_non_null(sa);
    assert_non_null(sb);
    assert_true(json_is_true(json_object_get(sa, "current")));
    assert_true(json_is_false(json_object_get(sb, "current")));
    assert_string_equal(json_string_value(json_object_get(sa, "device")), "Firefox on Linux");
    assert_string_equal(json_string_value(json_object_get(sb, "device")), "Safari on iOS");
    assert_string_equal(json_string_value(json_object_get(sa, "address")), "127.0.0.5");
    assert_string_equal(json_string_value(json_object_get(sb, "address")), "127.0.0.6");
    const char *created = json_string_value(json_object_get(sa, "created_at"));
    assert_non_null(created);
    assert_int_equal(strlen(created), 24); /* 2026-11-22T07:05:29.790Z */
    assert_non_null(json_string_value(json_object_get(sa, "last_seen_at")));
    assert_non_null(json_string_value(json_object_get(sa, "expires_at")));
    /* newest first */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r.json, "sessions"), 0), "id")),
                        b.id);
    /* the list shows no token */
    assert_null(strstr(r.body, a.token));
    assert_null(strstr(r.body, b.token));
    test_resp_dispose(&r);

    /* the idle timeout slides at most once a minute: a request a second later
     * leaves the expiry alone */
    char key[ACCOUNTS_SESSION_KEY_MAX];
    accounts_session_key(a.token, key);
    long long before = redis_int("PTTL %s", key);
    if (before <= 0 || before > 1800 * 1000)
        fail_msg("a fresh session's PTTL %lld, want the idle timeout (30 min)", before);
    uv_sleep(1100);
    assert_int_equal(me_status(&a), 200);
    long long after = redis_int("PTTL %s", key);
    if (after > before - 1000)
        fail_msg("PTTL %lld after a request 1.1 s later, was %lld: refreshed too soon", after,
                 before);
}

static void a_revoked_session_gets_401_at_once(void **state)
{
    REQUIRE_STACK();
    made_t m, other;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    make_customer(&other, "household");
    make_user(&other, "correct horse battery");
    signed_in_t a, b, c, o;
    sign_in(&a, "127.0.0.5", "curl/8.5", m.email, "correct horse battery");
    sign_in(&b, "127.0.0.6", NULL, m.email, "correct horse battery");
    sign_in(&c, "127.0.0.7", NULL, m.email, "correct horse battery");
    sign_in(&o, "127.0.0.8", NULL, other.email, "correct horse battery");
    char path[160];
    test_resp_t r;

    /* a write needs the CSRF token */
    snprintf(path, sizeof path, "/api/v1/accounts/sessions/%s", b.id);
    call("DELETE", path, a.cookie, NULL, &r);
    expect_status(&r, 401, "revoke without CSRF");
    test_resp_dispose(&r);
    assert_int_equal(me_status(&b), 200);

    call("DELETE", path, a.with_csrf, NULL, &r);
    expect_status(&r, 204, "revoke one");
    test_resp_dispose(&r);
    assert_int_equal(me_status(&b), 401);
    assert_int_equal(me_status(&a), 200);
    call("DELETE", path, a.with_csrf, NULL, &r);
    expect_status(&r, 404, "revoke it again");
    test_resp_dispose(&r);

    /* another user's session is not ours to end, nor is junk */
    snprintf(path, sizeof path, "/api/v1/accounts/sessions/%s", o.id);
    call("DELETE", path, a.with_csrf, NULL, &r);
    expect_status(&r, 404, "revoke another user's session");
    test_resp_dispose(&r);
    assert_int_equal(me_status(&o), 200);
    call("DELETE", "/api/v1/accounts/sessions/..%2F*", a.with_csrf, NULL, &r);
    expect_status(&r, 404, "revoke junk");
    test_resp_dispose(&r);

    /* all others: c ends, a and the other user's stay */
    call("POST", "/api/v1/accounts/sessions/revoke-others", a.with_csrf, NULL, &r);
    expect_status(&r, 200, "revoke others");
    assert_int_equal(json_integer_value(json_object_get(r.json, "revoked")), 1);
    test_resp_dispose(&r);
    assert_int_equal(me_status(&c), 401);
    assert_int_equal(me_status(&a), 200);
    assert_int_equal(me_status(&o), 200);
    call("GET", "/api/v1/accounts/sessions", a.cookie, NULL, &r);
    expect_status(&r, 200, "list after revoking");
    assert_int_equal(json_array_size(json_object_get(r.json, "sessions")), 1);
    test_resp_dispose(&r);

    /* logout removes the session from the user's set too */
    call("POST", "/api/v1/accounts/logout", a.with_csrf, NULL, &r);
    expect_status(&r, 204, "logout");
    test_resp_dispose(&r);
    char set[80];
    snprintf(set, sizeof set, "acct:user-sessions:%s", m.user_id);
    assert_int_equal(redis_int("SCARD %s", set), 0);
}

static void idle_timeout_slides_and_absolute_timeout_ends_the_session(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    accounts_session_opts_t saved = F.accounts.sessions;
    F.accounts.sessions.ttl_s = 3;
    F.accounts.sessions.idle_s = 2;
    F.accounts.sessions.touch_interval_ms = 0;

    signed_in_t a, b;
    sign_in(&a, "127.0.0.5", NULL, m.email, "correct horse battery");
    uv_sleep(1200);
    assert_int_equal(me_status(&a), 200);
    uv_sleep(1200);
    /* 2.4 s after sign-in, past the idle timeout: alive because it was used */
    assert_int_equal(me_status(&a), 200);
    uv_sleep(900);
    /* 3.3 s: past the absolute lifetime, however busy */
    assert_int_equal(me_status(&a), 401);

    sign_in(&b, "127.0.0.5", NULL, m.email, "correct horse battery");
    uv_sleep(2200);
    assert_int_equal(me_status(&b), 401); /* idle */
    F.accounts.sessions = saved;
}

/* The newest event of a customer's outbox with body case bc (caller frees). */
static Citerne__V1__AccountsEvent *last_event(const char *customer_id, int bc)
{
    Citerne__V1__AccountsEvent *ev[64], *found = NULL;
    size_t n = outbox_events(customer_id, ev, 64);
    for (size_t i = 0; i < n; i++) {
        if ((int)ev[i]->body_case == bc) {
            if (found)
                citerne__v1__accounts_event__free_unpacked(found, NULL);
            found = ev[i];
        } else {
            citerne__v1__accounts_event__free_unpacked(ev[i], NULL);
        }
    }
    if (!found)
        fail_msg("no event %d for customer %s", bc, customer_id);
    return found;
}

/* ---- two-factor authentication ---- */

typedef struct {
    unsigned char secret[ACCOUNTS_TOTP_SECRET_BYTES];
    char recovery[ACCOUNTS_RECOVERY_CODES][ACCOUNTS_RECOVERY_CODE_LEN + 1];
} totp_user_t;

static void code_at(const totp_user_t *t, int offset_s, char out[7])
{
    accounts_totp_code(t->secret, ct_now_ms() / 1000 + offset_s, out);
}

/* Enrols the signed-in user and confirms with the previous step's code, so
 * that the current and next steps are left for the test. */
static void turn_totp_on(const signed_in_t *si, const char *email, totp_user_t *t)
{
    test_resp_t r;
    call("POST", "/api/v1/accounts/2fa/totp/enrol", si->with_csrf, NULL, &r);
    expect_status(&r, 200, "enrol");
    const char *uri = jstr(&r, "otpauth_uri");
    const char *b32 = jstr(&r, "secret");
    char *bin = NULL;
    size_t len = 0;
    assert_int_equal(oath_base32_decode(b32, strlen(b32), &bin, &len), OATH_OK);
    assert_int_equal(len, ACCOUNTS_TOTP_SECRET_BYTES);
    memcpy(t->secret, bin, len);
    free(bin);
    assert_true(strncmp(uri, "otpauth://totp/Citerne:", 23) == 0);
    char want[128];
    snprintf(want, sizeof want, "secret=%s&issuer=Citerne", b32);
    assert_non_null(strstr(uri, want));
    char *at = strchr(email, '@');
    char label[128];
    snprintf(label, sizeof label, "Citerne:%.*s%%40%s?", (int)(at - email), email, at + 1);
    assert_non_null(strstr(uri, label));
    const char *svg = jstr(&r, "qr_svg");
    assert_true(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    assert_non_null(strstr(svg, "<path"));
    test_resp_dispose(&r);

    char code[7], body[64];
    code_at(t, -30, code);
    snprintf(body, sizeof body, "{\"code\":\"%s\"}", code);
    call("POST", "/api/v1/accounts/2fa/totp/confirm", si->with_csrf, body, &r);
    expect_status(&r, 200, "confirm");
    json_t *codes = json_object_get(r.json, "recovery_codes");
    assert_int_equal(json_array_size(codes), ACCOUNTS_RECOVERY_CODES);
    for (size_t i = 0; i < ACCOUNTS_RECOVERY_CODES; i++) {
        const char *c = json_string_value(json_array_get(codes, i));
        assert_int_equal(strlen(c), ACCOUNTS_RECOVERY_CODE_LEN);
        snprintf(t->recovery[i], sizeof t->recovery[i], "%s", c);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(t->recovery[i], t->recovery[j]);
    }
    test_resp_dispose(&r);
}

static void mfa_login(const char *email, const char *password, char token[65])
{
    test_resp_t r;
    login_from("127.0.0.5", NULL, email, password, &r);
    expect_status(&r, 200, "first step");
    assert_true(json_is_true(json_object_get(r.json, "mfa_required")));
    assert_null(json_object_get(r.json, "csrf"));
    assert_null(test_resp_cookie(&r, "__Host-citerne_session", NULL));
    snprintf(token, 65, "%s", jstr(&r, "mfa_token"));
    test_resp_dispose(&r);
}

static int second_step(const char *token, const char *field, const char *code)
{
    char body[256];
    snprintf(body, sizeof body, "{\"mfa_token\":\"%s\",\"%s\":\"%s\"}", token, field, code);
    test_resp_t r;
    test_http_from(&F.svc.loop, F.port, "127.0.0.5", "POST", "/api/v1/accounts/login/totp", NULL,
                   body, &r);
    int status = r.status;
    if (status == 200) {
        char *cookie = test_resp_cookie(&r, "__Host-citerne_session", NULL);
        assert_non_null(cookie);
        free(cookie);
        assert_int_equal(strlen(jstr(&r, "csrf")), 64);
    } else if (status == 401) {
        expect_problem_type(&r, "invalid-code");
    }
    test_resp_dispose(&r);
    return status;
}

static void totp_enrolment_shows_a_uri_and_qr_and_needs_a_first_code(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    signed_in_t si;
    sign_in(&si, "127.0.0.5", NULL, m.email, "correct horse battery");

    test_resp_t r;
    call("POST", "/api/v1/accounts/2fa/totp/enrol", si.cookie, NULL, &r);
    expect_status(&r, 401, "enrol without CSRF");
    test_resp_dispose(&r);
    call("POST", "/api/v1/accounts/2fa/totp/enrol", si.with_csrf, NULL, &r);
    expect_status(&r, 200, "enrol");
    const char *b32 = jstr(&r, "secret");
    char *bin = NULL;
    size_t len = 0;
    assert_int_equal(oath_base32_decode(b32, strlen(b32), &bin, &len), OATH_OK);
    totp_user_t t;
    memcpy(t.secret, bin, sizeof t.secret);
    free(bin);
    test_resp_dispose(&r);

    /* sealed at rest: the stored box holds neither the secret nor its base32 */
    const char *params[1] = {m.user_id};
    PGresult *res = PQexecParams(F.pg,
                                 "SELECT secret_box, confirmed_at IS NULL FROM user_totp"
                                 " WHERE user_id = $1",
                                 1, NULL, params, NULL, NULL, 1);
    assert_int_equal(PQntuples(res), 1);
    assert_int_equal(PQgetlength(res, 0, 0), ACCOUNTS_TOTP_BOX_BYTES);
    assert_null(
        memmem(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), t.secret, sizeof t.secret));
    assert_int_equal(PQgetvalue(res, 0, 1)[0], 1); /* binary true: not confirmed */
    PQclear(res);

    /* not on before the first code: the password alone still signs in */
    signed_in_t other;
    sign_in(&other, "127.0.0.6", NULL, m.email, "correct horse battery");

    char code[7], body[64];
    code_at(&t, 3600, code); /* an hour away: wrong now */
    snprintf(body, sizeof body, "{\"code\":\"%s\"}", code);
    call("POST", "/api/v1/accounts/2fa/totp/confirm", si.with_csrf, body, &r);
    expect_status(&r, 400, "confirm with a wrong code");
    expect_problem_type(&r, "invalid-code");
    test_resp_dispose(&r);
    code_at(&t, 0, code);
    snprintf(body, sizeof body, "{\"code\":\"%s\"}", code);
    call("POST", "/api/v1/accounts/2fa/totp/confirm", si.with_csrf, body, &r);
    expect_status(&r, 200, "confirm");
    assert_int_equal(json_array_size(json_object_get(r.json, "recovery_codes")), 10);
    const char *first =
        json_string_value(json_array_get(json_object_get(r.json, "recovery_codes"), 0));
    /* hashed: the codes themselves are nowhere in the database */
    assert_int_equal(sql_count("SELECT count(*) FROM user_recovery_codes WHERE user_id = $1"
                               " AND used_at IS NULL",
                               m.user_id),
                     10);
    char like[64];
    snprintf(like, sizeof like, "%%%s%%", first);
    const char *p2[1] = {like};
    res = PQexecParams(F.pg,
                       "SELECT count(*) FROM user_recovery_codes WHERE encode(code_hash, 'escape')"
                       " LIKE $1 OR encode(code_hash, 'hex') LIKE $1",
                       1, NULL, p2, NULL, NULL, 0);
    assert_string_equal(PQgetvalue(res, 0, 0), "0");
    PQclear(res);
    test_resp_dispose(&r);

    call("POST", "/api/v1/accounts/2fa/totp/enrol", si.with_csrf, NULL, &r);
    expect_status(&r, 409, "enrol again");
    expect_problem_type(&r, "totp-already-on");
    test_resp_dispose(&r);
}

static void login_with_totp_takes_a_second_step_and_refuses_replays(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    signed_in_t si;
    sign_in(&si, "127.0.0.5", NULL, m.email, "correct horse battery");
    totp_user_t t;
    turn_totp_on(&si, m.email, &t);

    char token[65], code[7];
    mfa_login(m.email, "correct horse battery", token);
    code_at(&t, 3600, code);
    assert_int_equal(second_step(token, "code", code), 401);
    code_at(&t, 0, code);
    assert_int_equal(second_step(token, "code", code), 200);
    /* the token is spent */
    code_at(&t, 30, code);
    assert_int_equal(second_step(token, "code", code), 401);

    /* the same code again, with a fresh token: refused */
    mfa_login(m.email, "correct horse battery", token);
    code_at(&t, 0, code);
    assert_int_equal(second_step(token, "code", code), 401);
    /* one step of drift ahead is accepted */
    code_at(&t, 30, code);
    assert_int_equal(second_step(token, "code", code), 200);

    /* three tries per token, then it is gone */
    mfa_login(m.email, "correct horse battery", token);
    assert_int_equal(second_step(token, "code", "000000x"), 401);
    assert_int_equal(second_step(token, "code", "abcdef"), 401);
    assert_int_equal(second_step(token, "recovery_code", "0000-0000-0000-0000"), 401);
    assert_int_equal(second_step(token, "recovery_code", t.recovery[0]), 401);

    /* a recovery code works once */
    mfa_login(m.email, "correct horse battery", token);
    assert_int_equal(second_step(token, "recovery_code", t.recovery[0]), 200);
    mfa_login(m.email, "correct horse battery", token);
    assert_int_equal(second_step(token, "recovery_code", t.recovery[0]), 401);
    /* typed loosely (upper case, no dashes) */
    char loose[32];
    size_t n = 0;
    for (const char *c = t.recovery[1]; *c; c++)
        if (*c != '-')
            loose[n++] = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
    loose[n] = '\0';
    assert_int_equal(second_step(token, "recovery_code", loose), 200);

    /* a wrong password never reaches the second step */
    test_resp_t r;
    login_from("127.0.0.6", NULL, m.email, "wrong horse battery", &r);
    expect_status(&r, 401, "wrong password with 2FA");
    expect_problem_type(&r, "invalid-credentials");
    test_resp_dispose(&r);

    /* the token expires */
    unsigned saved = F.accounts.mfa_ttl_s;
    F.accounts.mfa_ttl_s = 1;
    mfa_login(m.email, "correct horse battery", token);
    F.accounts.mfa_ttl_s = saved;
    uv_sleep(1100);
    assert_int_equal(second_step(token, "recovery_code", t.recovery[2]), 401);
    assert_int_equal(second_step("not-a-token", "code", "123456"), 401);
}

static void turning_totp_off_needs_the_password_and_a_code(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    signed_in_t si;
    sign_in(&si, "127.0.0.5", NULL, m.email, "correct horse battery");
    totp_user_t t;
    turn_totp_on(&si, m.email, &t);

    char code[7], body[160];
    test_resp_t r;
    code_at(&t, 0, code);
    snprintf(body, sizeof body, "{\"password\":\"wrong horse battery\",\"code\":\"%s\"}", code);
    call("POST", "/api/v1/accounts/2fa/totp/disable", si.with_csrf, body, &r);
    expect_status(&r, 400, "disable with a wrong password");
    expect_problem_type(&r, "invalid-code");
    test_resp_dispose(&r);
    code_at(&t, 3600, code);
    snprintf(body, sizeof body, "{\"password\":\"correct horse battery\",\"code\":\"%s\"}", code);
    call("POST", "/api/v1/accounts/2fa/totp/disable", si.with_csrf, body, &r);
    expect_status(&r, 400, "disable with a wrong code");
    test_resp_dispose(&r);
    call("POST", "/api/v1/accounts/2fa/totp/disable", si.with_csrf,
         "{\"password\":\"correct horse battery\"}", &r);
    expect_status(&r, 400, "disable without a code");
    test_resp_dispose(&r);
    assert_int_equal(sql_count("SELECT count(*) FROM user_totp WHERE user_id = $1", m.user_id), 1);

    code_at(&t, 0, code);
    snprintf(body, sizeof body, "{\"password\":\"correct horse battery\",\"code\":\"%s\"}", code);
    call("POST", "/api/v1/accounts/2fa/totp/disable", si.with_csrf, body, &r);
    expect_status(&r, 204, "disable");
    test_resp_dispose(&r);
    assert_int_equal(sql_count("SELECT count(*) FROM user_totp WHERE user_id = $1", m.user_id), 0);
    assert_int_equal(
        sql_count("SELECT count(*) FROM user_recovery_codes WHERE user_id = $1", m.user_id), 0);
    /* told to the user through notify */
    Citerne__V1__AccountsEvent *ev =
        last_event(m.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_TOTP_DISABLED);
    assert_string_equal(ev->totp_disabled->user_id, m.user_id);
    assert_string_equal(ev->totp_disabled->email, m.email);
    assert_false(ev->totp_disabled->with_recovery_code);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    /* the back office can turn it off too (a lost phone and lost codes) */
    totp_user_t t2;
    turn_totp_on(&si, m.email, &t2);
    char op_path[128];
    snprintf(op_path, sizeof op_path, "/api/v1/accounts/users/%s/2fa/disable", m.user_id);
    call("POST", op_path, NULL, NULL, &r);
    expect_status(&r, 401, "operator disable without the key");
    test_resp_dispose(&r);
    call("POST", op_path, OP_AUTH, NULL, &r);
    expect_status(&r, 204, "operator disable");
    test_resp_dispose(&r);
    call("POST", op_path, OP_AUTH, NULL, &r);
    expect_status(&r, 409, "operator disable when off");
    test_resp_dispose(&r);
    call("POST", "/api/v1/accounts/users/01a2021b-0000-7000-8000-000000000000/2fa/disable", OP_AUTH,
         NULL, &r);
    expect_status(&r, 404, "operator disable for nobody");
    test_resp_dispose(&r);
    /* the password alone signs in again */
    signed_in_t again;
    sign_in(&again, "127.0.0.6", NULL, m.email, "correct horse battery");
    call("POST", "/api/v1/accounts/2fa/totp/disable", si.with_csrf, body, &r);
    expect_status(&r, 409, "disable when off");
    test_resp_dispose(&r);
}

/* ---- password reset ---- */

static void forgot(const char *email, test_resp_t *r)
{
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
    call("POST", "/api/v1/accounts/password/forgot", NULL, body, r);
}

/* The token of the newest PasswordResetRequested for customer_id. */
static void last_reset_token(const char *customer_id, const char *user_id, char token[65])
{
    Citerne__V1__AccountsEvent *ev[32];
    size_t n = outbox_events(customer_id, ev, 32);
    token[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (ev[i]->body_case == CITERNE__V1__ACCOUNTS_EVENT__BODY_PASSWORD_RESET_REQUESTED) {
            Citerne__V1__PasswordResetRequested *p = ev[i]->password_reset_requested;
            assert_string_equal(p->user_id, user_id);
            assert_string_equal(p->customer_id, customer_id);
            assert_true(p->expires_at > ct_now_ms());
            const char *t = strstr(p->reset_url, "/reset-password#token=");
            assert_non_null(t);
            snprintf(token, 65, "%s", t + 22);
        }
        citerne__v1__accounts_event__free_unpacked(ev[i], NULL);
    }
    assert_int_equal(strlen(token), 64);
}

static int reset(const char *token, const char *password)
{
    char body[256];
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", token, password);
    test_resp_t r;
    call("POST", "/api/v1/accounts/password/reset", NULL, body, &r);
    int status = r.status;
    if (status == 400 && !names_field(&r, "password"))
        expect_problem_type(&r, "invalid-token");
    test_resp_dispose(&r);
    return status;
}

static int login_status(const char *email, const char *password)
{
    test_resp_t r;
    login_from("127.0.0.5", NULL, email, password, &r);
    int status = r.status;
    test_resp_dispose(&r);
    return status;
}

static void forgot_answers_the_same_whether_or_not_the_email_exists(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    long long events = outbox_rows();
    test_resp_t known, unknown, junk;
    forgot(m.email, &known);
    char nobody[64];
    snprintf(nobody, sizeof nobody, "nobody%d@example.test", F.seq);
    forgot(nobody, &unknown);
    forgot("not an address", &junk);
    expect_status(&known, 202, "forgot, known");
    expect_status(&unknown, 202, "forgot, unknown");
    expect_status(&junk, 202, "forgot, junk");
    assert_string_equal(known.body, unknown.body);
    assert_string_equal(known.body, junk.body);
    test_resp_dispose(&known);
    test_resp_dispose(&unknown);
    test_resp_dispose(&junk);
    /* one event, for the known user only; the database holds a hash */
    assert_int_equal(outbox_rows(), events + 1);
    char token[65];
    last_reset_token(m.customer_id, m.user_id, token);
    assert_int_equal(
        sql_count("SELECT count(*) FROM password_resets WHERE token_hash = sha256(convert_to($1,"
                  " 'UTF8'))",
                  token),
        1);
    assert_int_equal(sql_count("SELECT count(*) FROM password_resets WHERE"
                               " position(convert_to($1, 'UTF8') in token_hash) > 0",
                               token),
                     0);
    /* nothing changes until the link is used */
    assert_int_equal(login_status(m.email, "correct horse battery"), 200);
}

static void reset_link_works_once_voids_older_links_and_ends_every_session(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    signed_in_t a, b;
    sign_in(&a, "127.0.0.5", NULL, m.email, "correct horse battery");
    sign_in(&b, "127.0.0.6", NULL, m.email, "correct horse battery");

    test_resp_t r;
    char first[65], second[65];
    forgot(m.email, &r);
    test_resp_dispose(&r);
    last_reset_token(m.customer_id, m.user_id, first);
    forgot(m.email, &r);
    test_resp_dispose(&r);
    last_reset_token(m.customer_id, m.user_id, second);
    assert_string_not_equal(first, second);

    /* the older link is void; a short password is refused before anything */
    assert_int_equal(reset(first, "brand new password"), 400);
    assert_int_equal(reset(second, "too short"), 400);
    assert_int_equal(me_status(&a), 200);
    assert_int_equal(reset("zz", "brand new password"), 400);

    long long events = outbox_rows();
    assert_int_equal(reset(second, "brand new password"), 204);
    assert_int_equal(outbox_rows(), events + 1);
    /* every session ended at once, the old password is gone */
    assert_int_equal(me_status(&a), 401);
    assert_int_equal(me_status(&b), 401);
    assert_int_equal(login_status(m.email, "correct horse battery"), 401);
    assert_int_equal(login_status(m.email, "brand new password"), 200);
    /* single use */
    assert_int_equal(reset(second, "another new password"), 400);
    assert_int_equal(login_status(m.email, "brand new password"), 200);
    /* PasswordChanged for notify */
    Citerne__V1__AccountsEvent *ev =
        last_event(m.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_PASSWORD_CHANGED);
    assert_string_equal(ev->password_changed->user_id, m.user_id);
    assert_string_equal(ev->password_changed->email, m.email);
    assert_string_equal(ev->password_changed->via, "reset");
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
}

static void reset_mails_to_one_address_are_capped_per_hour(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    long long events = outbox_rows();
    char *first = NULL;
    for (int i = 0; i < 7; i++) {
        test_resp_t r;
        forgot(m.email, &r);
        expect_status(&r, 202, "forgot again and again");
        if (!first)
            first = strdup(r.body);
        else
            assert_string_equal(r.body, first);
        test_resp_dispose(&r);
    }
    free(first);
    assert_int_equal(outbox_rows(), events + 5);
}

static void reset_link_expires(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    unsigned saved = F.accounts.reset_ttl_s;
    F.accounts.reset_ttl_s = 1;
    test_resp_t r;
    forgot(m.email, &r);
    test_resp_dispose(&r);
    F.accounts.reset_ttl_s = saved;
    char token[65];
    last_reset_token(m.customer_id, m.user_id, token);
    uv_sleep(1100);
    assert_int_equal(reset(token, "brand new password"), 400);
    assert_int_equal(login_status(m.email, "correct horse battery"), 200);
}

/* ---- sign-up ---- */

static int signup(const char *json, char **body_out)
{
    test_resp_t r;
    call("POST", "/api/v1/accounts/signup", NULL, json, &r);
    int status = r.status;
    if (body_out)
        *body_out = strdup(r.body ? r.body : "");
    test_resp_dispose(&r);
    return status;
}

/* The token of the newest ActivationRequested keyed by customer_id, for email. */
static void last_activation_token(const char *customer_id, const char *email, char token[65])
{
    Citerne__V1__AccountsEvent *ev[64];
    size_t n = outbox_events(customer_id, ev, 64);
    token[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (ev[i]->body_case == CITERNE__V1__ACCOUNTS_EVENT__BODY_ACTIVATION_REQUESTED &&
            strcmp(ev[i]->activation_requested->email, email) == 0) {
            const char *t = strstr(ev[i]->activation_requested->activation_url, "/activate#token=");
            assert_non_null(t);
            assert_true(ev[i]->activation_requested->expires_at > ct_now_ms());
            snprintf(token, 65, "%s", t + 16);
        }
        citerne__v1__accounts_event__free_unpacked(ev[i], NULL);
    }
    assert_int_equal(strlen(token), 64);
}

static int activate(const char *token, const char *password, test_resp_t *keep)
{
    char body[256];
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", token, password);
    test_resp_t r;
    call("POST", "/api/v1/accounts/signup/activate", NULL, body, &r);
    int status = r.status;
    if (keep)
        *keep = r;
    else
        test_resp_dispose(&r);
    return status;
}

/* A household customer with a phone on file. */
static void make_customer_with_phone(made_t *m, const char *phone)
{
    memset(m, 0, sizeof *m);
    snprintf(m->number, sizeof m->number, "C%07d", 1000 * F.seq + (int)(random() % 1000));
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_number\":\"%s\",\"name\":\"Famille Petit\",\"segment\":\"household\","
             "\"phone\":\"%s\"}",
             m->number, phone);
    test_resp_t r;
    call("POST", "/api/v1/accounts/customers", OP_AUTH, body, &r);
    expect_status(&r, 201, "create customer with a phone");
    snprintf(m->customer_id, sizeof m->customer_id, "%s", jstr(&r, "id"));
    assert_string_equal(jstr(&r, "phone"), phone);
    test_resp_dispose(&r);
}

static void signup_answers_the_same_whether_or_not_the_customer_exists(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer_with_phone(&m, "+33612345678");
    char email[64], body[512];
    snprintf(email, sizeof email, "signup%d@example.test", F.seq);
    long long events = outbox_rows();

    char *answers[4];
    snprintf(body, sizeof body,
             "{\"customer_number\":\"C0000001\",\"phone\":\"+33612345678\",\"email\":\"%s\"}",
             email);
    assert_int_equal(signup(body, &answers[0]), 202); /* no such customer */
    snprintf(body, sizeof body,
             "{\"customer_number\":\"%s\",\"phone\":\"+33600000000\",\"email\":\"%s\"}", m.number,
             email);
    assert_int_equal(signup(body, &answers[1]), 202); /* wrong phone */
    snprintf(body, sizeof body,
             "{\"customer_number\":\"%s\",\"invoice_number\":\"F2026-000001\",\"email\":\"%s\"}",
             m.number, email);
    assert_int_equal(signup(body, &answers[2]), 202); /* no such invoice */
    assert_int_equal(outbox_rows(), events);
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE email = $1", email), 0);
    snprintf(body, sizeof body,
             "{\"customer_number\":\"%s\",\"phone\":\"+33612345678\",\"email\":\"%s\"}", m.number,
             email);
    assert_int_equal(signup(body, &answers[3]), 202); /* proven */
    for (int i = 1; i < 4; i++)
        assert_string_equal(answers[i], answers[0]);
    for (int i = 0; i < 4; i++)
        free(answers[i]);
    assert_int_equal(outbox_rows(), events + 1);
    /* a pending user, admin of the customer, with a hashed link */
    assert_int_equal(sql_count("SELECT count(*) FROM users u JOIN user_customers uc ON"
                               " uc.user_id = u.id WHERE u.email = $1 AND u.status = 'pending'"
                               " AND u.password_hash IS NULL AND uc.role = 'admin'",
                               email),
                     1);
    char token[65];
    last_activation_token(m.customer_id, email, token);
    assert_int_equal(sql_count("SELECT count(*) FROM user_activations WHERE token_hash ="
                               " sha256(convert_to($1, 'UTF8'))",
                               token),
                     1);
    /* pending: no sign-in yet */
    assert_int_equal(login_status(email, "a fine long passphrase"), 401);
    assert_int_equal(signup("{\"customer_number\":\"C1234567\",\"email\":\"a@b.fr\"}", NULL),
                     400); /* neither phone nor invoice */
}

static void activation_link_sets_a_good_password_once_and_expires(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer_with_phone(&m, "+33612345679");
    /* an invoice billing announced proves the customer too */
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO customer_invoices (customer_id, invoice_number) VALUES ('%s',"
             " 'F2026-%06d')",
             m.customer_id, F.seq);
    PQclear(PQexec(F.pg, sql));
    char email[64], body[512], first[65], second[65];
    snprintf(email, sizeof email, "activate%d@example.test", F.seq);
    snprintf(body, sizeof body,
             "{\"customer_number\":\"%s\",\"invoice_number\":\"F2026-%06d\",\"email\":\"%s\","
             "\"name\":\"Jeanne Petit\"}",
             m.number, F.seq, email);
    assert_int_equal(signup(body, NULL), 202);
    last_activation_token(m.customer_id, email, first);
    /* re-sent: a new link, the old one void */
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
    test_resp_t r;
    call("POST", "/api/v1/accounts/signup/resend", NULL, body, &r);
    expect_status(&r, 202, "resend");
    test_resp_dispose(&r);
    call("POST", "/api/v1/accounts/signup/resend", NULL, "{\"email\":\"nobody@example.test\"}", &r);
    expect_status(&r, 202, "resend for nobody");
    test_resp_dispose(&r);
    last_activation_token(m.customer_id, email, second);
    assert_string_not_equal(first, second);
    assert_int_equal(activate(first, "a fine long passphrase", NULL), 400);

    /* the password: long enough and not a common one */
    assert_int_equal(activate(second, "too short", &r), 400);
    assert_true(names_field(&r, "password"));
    test_resp_dispose(&r);
    assert_int_equal(activate(second, "123QWEasdzxc", &r), 400);
    assert_true(names_field(&r, "password"));
    assert_non_null(strstr(r.body, "too common"));
    test_resp_dispose(&r);

    long long events = outbox_rows();
    assert_int_equal(activate(second, "a fine long passphrase", NULL), 204);
    assert_int_equal(activate(second, "another fine passphrase", &r), 400);
    expect_problem_type(&r, "invalid-token");
    test_resp_dispose(&r);
    assert_int_equal(login_status(email, "a fine long passphrase"), 200);
    /* UserCreated now, for the read models */
    assert_int_equal(outbox_rows(), events + 1);
    Citerne__V1__AccountsEvent *ev[64];
    size_t n = outbox_events(m.customer_id, ev, 64);
    assert_int_equal(ev[n - 1]->body_case, CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_CREATED);
    assert_string_equal(ev[n - 1]->user_created->email, email);
    assert_string_equal(ev[n - 1]->user_created->role, "admin");
    assert_string_equal(ev[n - 1]->user_created->name, "Jeanne Petit");
    for (size_t i = 0; i < n; i++)
        citerne__v1__accounts_event__free_unpacked(ev[i], NULL);

    /* a second person proving the same customer is a viewer (an admin
     * exists); their link expires */
    unsigned saved = F.accounts.activation_ttl_s;
    F.accounts.activation_ttl_s = 1;
    snprintf(email, sizeof email, "second%d@example.test", F.seq);
    snprintf(body, sizeof body,
             "{\"customer_number\":\"%s\",\"phone\":\"+33612345679\",\"email\":\"%s\"}", m.number,
             email);
    assert_int_equal(signup(body, NULL), 202);
    F.accounts.activation_ttl_s = saved;
    assert_int_equal(sql_count("SELECT count(*) FROM users u JOIN user_customers uc ON"
                               " uc.user_id = u.id WHERE u.email = $1 AND uc.role = 'viewer'",
                               email),
                     1);
    char third[65];
    last_activation_token(m.customer_id, email, third);
    uv_sleep(1100);
    assert_int_equal(activate(third, "a fine long passphrase", NULL), 400);
}

/* ---- collaborators ---- */

/* A user with role on m's customer, made by the back office; email out. */
static void make_user_as(const made_t *m, const char *role, char email[64], char id[37])
{
    snprintf(email, 64, "%s%d.%ld@example.test", role, F.seq, random() % 100000);
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"email\":\"%s\",\"name\":\"Paul\",\"role\":\"%s\","
             "\"password\":\"correct horse battery\"}",
             m->customer_id, email, role);
    test_resp_t r;
    call("POST", "/api/v1/accounts/users", OP_AUTH, body, &r);
    expect_status(&r, 201, "create user with a role");
    snprintf(id, 37, "%s", jstr(&r, "id"));
    test_resp_dispose(&r);
}

static int collab(const signed_in_t *si, const char *method, const char *customer_id,
                  const char *user_id, const char *body, test_resp_t *keep)
{
    char path[200];
    if (user_id)
        snprintf(path, sizeof path, "/api/v1/accounts/customers/%s/collaborators/%s", customer_id,
                 user_id);
    else
        snprintf(path, sizeof path, "/api/v1/accounts/customers/%s/collaborators", customer_id);
    test_resp_t r;
    call(method, path, si->with_csrf, body, &r);
    int status = r.status;
    if (keep)
        *keep = r;
    else
        test_resp_dispose(&r);
    return status;
}

static void an_admin_invites_changes_roles_and_removes_touching_nobody_else(void **state)
{
    REQUIRE_STACK();
    made_t a, c;
    make_customer(&a, "household");
    make_user(&a, "correct horse battery"); /* admin of A */
    make_customer(&c, "household");
    make_user(&c, "correct horse battery"); /* admin of C, invited to A below */
    signed_in_t admin, other;
    sign_in(&admin, "127.0.0.5", NULL, a.email, "correct horse battery");
    sign_in(&other, "127.0.0.6", NULL, c.email, "correct horse battery");

    /* a newcomer: pending, with an activation link in the event */
    char newcomer[64], body[256];
    snprintf(newcomer, sizeof newcomer, "newcomer%d@example.test", F.seq);
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"role\":\"orderer\"}", newcomer);
    test_resp_t r;
    assert_int_equal(collab(&admin, "POST", a.customer_id, NULL, body, &r), 201);
    assert_string_equal(jstr(&r, "status"), "pending");
    char newcomer_id[37];
    snprintf(newcomer_id, sizeof newcomer_id, "%s", jstr(&r, "user_id"));
    test_resp_dispose(&r);
    Citerne__V1__AccountsEvent *ev =
        last_event(a.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_ADDED);
    assert_string_equal(ev->collaborator_added->email, newcomer);
    assert_string_equal(ev->collaborator_added->role, "orderer");
    assert_string_equal(ev->collaborator_added->added_by, a.user_id);
    const char *t = strstr(ev->collaborator_added->activation_url, "/activate#token=");
    assert_non_null(t);
    char token[65];
    snprintf(token, sizeof token, "%s", t + 16);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    assert_int_equal(activate(token, "a fine long passphrase", NULL), 204);
    signed_in_t invited;
    sign_in(&invited, "127.0.0.7", NULL, newcomer, "a fine long passphrase");

    /* someone with an account already: no link */
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"role\":\"viewer\"}", c.email);
    assert_int_equal(collab(&admin, "POST", a.customer_id, NULL, body, &r), 201);
    assert_string_equal(jstr(&r, "status"), "active");
    test_resp_dispose(&r);
    ev = last_event(a.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_ADDED);
    assert_string_equal(ev->collaborator_added->activation_url, "");
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    assert_int_equal(collab(&admin, "POST", a.customer_id, NULL, body, &r), 409);
    expect_problem_type(&r, "already-collaborator");
    test_resp_dispose(&r);

    assert_int_equal(collab(&admin, "GET", a.customer_id, NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "collaborators")), 3);
    test_resp_dispose(&r);

    /* a new role: the collaborator's sessions end, nobody else's */
    assert_int_equal(
        collab(&admin, "PATCH", a.customer_id, newcomer_id, "{\"role\":\"viewer\"}", &r), 200);
    assert_string_equal(jstr(&r, "role"), "viewer");
    test_resp_dispose(&r);
    assert_int_equal(me_status(&invited), 401);
    assert_int_equal(me_status(&admin), 200);
    assert_int_equal(me_status(&other), 200);
    ev = last_event(a.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_ROLE_CHANGED);
    assert_string_equal(ev->collaborator_role_changed->role, "viewer");
    citerne__v1__accounts_event__free_unpacked(ev, NULL);

    /* removed from A: C's admin keeps C */
    assert_int_equal(collab(&admin, "DELETE", a.customer_id, c.user_id, NULL, NULL), 204);
    assert_int_equal(me_status(&other), 401);
    assert_int_equal(me_status(&admin), 200);
    login_from("127.0.0.6", NULL, c.email, "correct horse battery", &r);
    expect_status(&r, 200, "removed user signs in again");
    json_t *grants = json_object_get(r.json, "customers");
    assert_int_equal(json_array_size(grants), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(grants, 0), "customer_id")),
        c.customer_id);
    test_resp_dispose(&r);
    ev = last_event(a.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_REMOVED);
    assert_string_equal(ev->collaborator_removed->user_id, c.user_id);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    assert_int_equal(collab(&admin, "DELETE", a.customer_id, c.user_id, NULL, NULL), 404);

    /* the last admin stays */
    assert_int_equal(collab(&admin, "PATCH", a.customer_id, a.user_id, "{\"role\":\"viewer\"}", &r),
                     409);
    expect_problem_type(&r, "last-admin");
    test_resp_dispose(&r);
    assert_int_equal(collab(&admin, "DELETE", a.customer_id, a.user_id, NULL, NULL), 409);
    assert_int_equal(
        collab(&admin, "PATCH", a.customer_id, a.user_id, "{\"role\":\"owner\"}", NULL), 400);
}

static void a_viewer_cannot_invite_and_another_customers_ids_are_404(void **state)
{
    REQUIRE_STACK();
    made_t a, b;
    make_customer(&a, "household");
    make_user(&a, "correct horse battery");
    make_customer(&b, "household");
    make_user(&b, "correct horse battery");
    char viewer_email[64], viewer_id[37], orderer_email[64], orderer_id[37];
    make_user_as(&a, "viewer", viewer_email, viewer_id);
    make_user_as(&a, "orderer", orderer_email, orderer_id);
    signed_in_t admin, viewer, orderer, b_admin;
    sign_in(&admin, "127.0.0.5", NULL, a.email, "correct horse battery");
    sign_in(&viewer, "127.0.0.5", NULL, viewer_email, "correct horse battery");
    sign_in(&orderer, "127.0.0.5", NULL, orderer_email, "correct horse battery");
    sign_in(&b_admin, "127.0.0.6", NULL, b.email, "correct horse battery");
    long long events = outbox_rows();

    const char *invite = "{\"email\":\"someone@example.test\",\"role\":\"admin\"}";
    const signed_in_t *members[] = {&viewer, &orderer};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(collab(members[i], "POST", a.customer_id, NULL, invite, NULL), 403);
        assert_int_equal(collab(members[i], "GET", a.customer_id, NULL, NULL, NULL), 403);
        assert_int_equal(
            collab(members[i], "PATCH", a.customer_id, a.user_id, "{\"role\":\"viewer\"}", NULL),
            403);
        assert_int_equal(collab(members[i], "DELETE", a.customer_id, a.user_id, NULL, NULL), 403);
    }
    assert_int_equal(me_status(&admin), 200);

    /* every id of customer B is 404 to A's admin, on every endpoint */
    static const struct {
        const char *method;
        int which; /* 0: B's customer, 1: B's customer and user, 2: A's customer, B's user */
        const char *body;
    } table[] = {
        {"GET", 0, NULL},
        {"POST", 0, "{\"email\":\"someone@example.test\",\"role\":\"viewer\"}"},
        {"PATCH", 1, "{\"role\":\"viewer\"}"},
        {"DELETE", 1, NULL},
        {"PATCH", 2, "{\"role\":\"viewer\"}"},
        {"DELETE", 2, NULL},
        {"GET", 3, NULL}, /* a customer id that is nobody's */
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const char *customer = table[i].which == 2   ? a.customer_id
                               : table[i].which == 3 ? "01a2021b-0000-7000-8000-000000000000"
                                                     : b.customer_id;
        const char *user = table[i].which == 1 || table[i].which == 2 ? b.user_id : NULL;
        test_resp_t r;
        int status = collab(&admin, table[i].method, customer, user, table[i].body, &r);
        if (status != 404)
            fail_msg("%s on %s (case %zu): %d, want 404; %s", table[i].method, customer, i, status,
                     r.body);
        test_resp_dispose(&r);
    }
    char path[160];
    snprintf(path, sizeof path, "/api/v1/accounts/sessions/%s", b_admin.id);
    test_resp_t r;
    call("DELETE", path, admin.with_csrf, NULL, &r);
    expect_status(&r, 404, "B's session from A");
    test_resp_dispose(&r);
    assert_int_equal(collab(&admin, "GET", "not-a-uuid", NULL, NULL, NULL), 404);
    static const char *const reads[] = {"audit", "audit.csv"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/api/v1/accounts/customers/%s/%s", b.customer_id, reads[i]);
        call("GET", path, admin.cookie, NULL, &r);
        expect_status(&r, 404, path);
        test_resp_dispose(&r);
    }
    /* nothing was written, B's admin is untouched */
    assert_int_equal(outbox_rows(), events);
    assert_int_equal(me_status(&b_admin), 200);
}

/* ---- audit log ---- */

/* Lets fire-and-forget writes (the register) land: runs the loop 300 ms. */
static void settle(void)
{
    bool never = false;
    ct_test_run_until(&F.svc.loop, &never, 300);
}

static bool has_entry(json_t *entries, const char *action, const char *actor, const char *subject)
{
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        const char *a = json_string_value(json_object_get(e, "action"));
        const char *who = json_string_value(json_object_get(e, "actor_id"));
        const char *whom = json_string_value(json_object_get(e, "subject_id"));
        if (strcmp(a, action) == 0 && (!actor || (who && strcmp(who, actor) == 0)) &&
            (!subject || (whom && strcmp(whom, subject) == 0)))
            return true;
    }
    return false;
}

static void admins_read_the_access_register_and_export_it_as_csv(void **state)
{
    REQUIRE_STACK();
    made_t a, b;
    make_customer(&a, "household");
    make_user(&a, "correct horse battery");
    make_customer(&b, "household");
    make_user(&b, "correct horse battery");
    char viewer_email[64], viewer_id[37];
    make_user_as(&a, "viewer", viewer_email, viewer_id);
    signed_in_t admin, viewer, b_admin;
    sign_in(&admin, "127.0.0.5", "curl/8.5", a.email, "correct horse battery");
    sign_in(&viewer, "127.0.0.6", NULL, viewer_email, "correct horse battery");
    sign_in(&b_admin, "127.0.0.7", NULL, b.email, "correct horse battery");
    assert_int_equal(login_status(viewer_email, "wrong horse battery"), 401);
    char body[160];
    snprintf(body, sizeof body, "{\"email\":\"=cmd%d@example.test\",\"role\":\"viewer\"}", F.seq);
    assert_int_equal(collab(&admin, "POST", a.customer_id, NULL, body, NULL), 201);
    settle();

    char path[160];
    snprintf(path, sizeof path, "/api/v1/accounts/customers/%s/audit", a.customer_id);
    test_resp_t r;
    call("GET", path, admin.cookie, NULL, &r);
    expect_status(&r, 200, "read the register");
    json_t *entries = json_object_get(r.json, "entries");
    assert_true(has_entry(entries, "signed_in", a.user_id, a.user_id));
    assert_true(has_entry(entries, "signed_in", viewer_id, viewer_id));
    assert_true(has_entry(entries, "sign_in_failed", NULL, viewer_id));
    assert_true(has_entry(entries, "collaborator_added", a.user_id, NULL));
    /* B's admin's sign-in is B's business only */
    assert_false(has_entry(entries, "signed_in", b.user_id, NULL));
    json_t *newest = json_array_get(entries, 0);
    assert_string_equal(json_string_value(json_object_get(newest, "action")), "collaborator_added");
    /* collab() calls from 127.0.0.1 */
    assert_string_equal(json_string_value(json_object_get(newest, "address")), "127.0.0.1");
    assert_string_equal(json_string_value(json_object_get(newest, "actor_email")), a.email);
    assert_int_equal(strlen(json_string_value(json_object_get(newest, "at"))), 24);
    json_t *first = json_array_get(entries, json_array_size(entries) - 1);
    assert_true(json_integer_value(json_object_get(first, "id")) <
                json_integer_value(json_object_get(newest, "id")));
    test_resp_dispose(&r);

    /* only the customer's admins */
    call("GET", path, viewer.cookie, NULL, &r);
    expect_status(&r, 403, "a viewer reads the register");
    test_resp_dispose(&r);
    call("GET", path, b_admin.cookie, NULL, &r);
    expect_status(&r, 404, "another customer's admin reads the register");
    test_resp_dispose(&r);

    /* CSV, with formulas neutralised */
    snprintf(path, sizeof path, "/api/v1/accounts/customers/%s/audit.csv", a.customer_id);
    call("GET", path, admin.cookie, NULL, &r);
    expect_status(&r, 200, "CSV export");
    char *ct = test_resp_header(&r, "Content-Type");
    assert_non_null(strstr(ct, "text/csv"));
    free(ct);
    assert_true(strncmp(r.body, "\"id\",\"at\",\"actor_id\"", 20) == 0);
    assert_non_null(strstr(r.body, "\"collaborator_added\""));
    assert_non_null(strstr(r.body, "\"signed_in\""));
    assert_null(strstr(r.body, ",\"=cmd"));
    char want[64];
    snprintf(want, sizeof want, "\"'=cmd%d@example.test\"", F.seq);
    assert_non_null(strstr(r.body, want));
    test_resp_dispose(&r);
    call("GET", path, b_admin.cookie, NULL, &r);
    expect_status(&r, 404, "another customer's CSV");
    test_resp_dispose(&r);

    /* append-only, for the service's own role too */
    PGresult *res = PQexec(F.pg, "UPDATE audit_log SET action = 'nothing'");
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    PQclear(res);
    res = PQexec(F.pg, "DELETE FROM audit_log");
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    PQclear(res);
    res = PQexec(F.pg, "TRUNCATE audit_log");
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    PQclear(res);
}

/* ---- new devices ---- */

static int count_events(const char *customer_id, int bc)
{
    Citerne__V1__AccountsEvent *ev[64];
    size_t n = outbox_events(customer_id, ev, 64);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        found += (int)ev[i]->body_case == bc;
        citerne__v1__accounts_event__free_unpacked(ev[i], NULL);
    }
    return found;
}

static void a_sign_in_from_a_new_device_is_told_to_the_user(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    const int bc = CITERNE__V1__ACCOUNTS_EVENT__BODY_NEW_DEVICE_SIGNED_IN;
    /* the first device: nothing to tell */
    test_resp_t r;
    login_from("127.0.0.5", "User-Agent: curl/8.5\r\n", m.email, "correct horse battery", &r);
    expect_status(&r, 200, "first sign-in");
    char *attrs = NULL;
    char *device = test_resp_cookie(&r, "citerne_device", &attrs);
    assert_non_null(device);
    assert_int_equal(strlen(device), 64);
    assert_non_null(strstr(attrs, "HttpOnly"));
    assert_non_null(strstr(attrs, "Max-Age=31536000"));
    free(attrs);
    test_resp_dispose(&r);
    assert_int_equal(count_events(m.customer_id, bc), 0);
    /* the same browser again: still nothing */
    char headers[160];
    snprintf(headers, sizeof headers, "Cookie: citerne_device=%s\r\n", device);
    login_from("127.0.0.6", headers, m.email, "correct horse battery", &r);
    expect_status(&r, 200, "same device");
    char *again = test_resp_cookie(&r, "citerne_device", NULL);
    assert_string_equal(again, device);
    free(again);
    test_resp_dispose(&r);
    assert_int_equal(count_events(m.customer_id, bc), 0);
    /* another browser */
    login_from("127.0.0.7",
               "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101"
               " Firefox/128.0\r\n",
               m.email, "correct horse battery", &r);
    expect_status(&r, 200, "new device");
    test_resp_dispose(&r);
    assert_int_equal(count_events(m.customer_id, bc), 1);
    Citerne__V1__AccountsEvent *ev = last_event(m.customer_id, bc);
    assert_string_equal(ev->new_device_signed_in->user_id, m.user_id);
    assert_string_equal(ev->new_device_signed_in->email, m.email);
    assert_string_equal(ev->new_device_signed_in->device, "Firefox on Windows");
    assert_string_equal(ev->new_device_signed_in->address, "127.0.0.7");
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    free(device);
}

/* ---- linking another customer ---- */

static void linking_a_customer_needs_its_number_and_an_invoice(void **state)
{
    REQUIRE_STACK();
    made_t a, b;
    make_customer(&a, "household");
    make_user(&a, "correct horse battery");
    make_customer(&b, "business");
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO customer_invoices (customer_id, invoice_number) VALUES ('%s',"
             " 'F2026-9%05d')",
             b.customer_id, F.seq);
    PQclear(PQexec(F.pg, sql));
    signed_in_t si;
    sign_in(&si, "127.0.0.5", NULL, a.email, "correct horse battery");

    char body[256];
    test_resp_t r;
    /* a wrong invoice, an unknown number: one answer */
    snprintf(body, sizeof body, "{\"customer_number\":\"%s\",\"invoice_number\":\"F2026-000000\"}",
             b.number);
    call("POST", "/api/v1/accounts/me/customers", si.with_csrf, body, &r);
    expect_status(&r, 404, "wrong invoice");
    char *first = strdup(r.body);
    test_resp_dispose(&r);
    call("POST", "/api/v1/accounts/me/customers", si.with_csrf,
         "{\"customer_number\":\"C0000002\",\"invoice_number\":\"F2026-000000\"}", &r);
    expect_status(&r, 404, "unknown customer");
    assert_string_equal(r.body, first);
    free(first);
    test_resp_dispose(&r);

    long long events = outbox_rows();
    snprintf(body, sizeof body, "{\"customer_number\":\"%s\",\"invoice_number\":\"F2026-9%05d\"}",
             b.number, F.seq);
    call("POST", "/api/v1/accounts/me/customers", si.cookie, body, &r);
    expect_status(&r, 401, "link without CSRF");
    test_resp_dispose(&r);
    call("POST", "/api/v1/accounts/me/customers", si.with_csrf, body, &r);
    expect_status(&r, 200, "link");
    assert_string_equal(jstr(&r, "customer_id"), b.customer_id);
    assert_string_equal(jstr(&r, "role"), "admin"); /* B had no admin */
    assert_int_equal(json_array_size(json_object_get(r.json, "customers")), 2);
    /* a fresh session with both customers replaces the old one */
    char *token = test_resp_cookie(&r, "__Host-citerne_session", NULL);
    assert_non_null(token);
    assert_string_not_equal(token, si.token);
    signed_in_t now;
    snprintf(now.token, sizeof now.token, "%s", token);
    snprintf(now.cookie, sizeof now.cookie, "Cookie: __Host-citerne_session=%s\r\n", token);
    free(token);
    test_resp_dispose(&r);
    assert_int_equal(me_status(&si), 401);
    call("GET", "/api/v1/accounts/me", now.cookie, NULL, &r);
    expect_status(&r, 200, "me with the new session");
    assert_int_equal(json_array_size(json_object_get(r.json, "customers")), 2);
    test_resp_dispose(&r);
    assert_int_equal(outbox_rows(), events + 1);
    Citerne__V1__AccountsEvent *ev =
        last_event(b.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_LINKED);
    assert_string_equal(ev->customer_linked->user_id, a.user_id);
    assert_string_equal(ev->customer_linked->email, a.email);
    assert_string_equal(ev->customer_linked->role, "admin");
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
}

/* ---- profile ---- */

static void profile_and_preferences_are_published_whole(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    signed_in_t si;
    sign_in(&si, "127.0.0.5", NULL, m.email, "correct horse battery");
    test_resp_t r;
    call("GET", "/api/v1/accounts/me/profile", si.cookie, NULL, &r);
    expect_status(&r, 200, "profile");
    assert_string_equal(jstr(&r, "email"), m.email);
    json_t *prefs = json_object_get(r.json, "preferences");
    assert_string_equal(json_string_value(json_object_get(prefs, "invoice_issued")), "both");
    test_resp_dispose(&r);

    /* bad input: nothing changes */
    long long events = outbox_rows();
    call("PATCH", "/api/v1/accounts/me/profile", si.with_csrf,
         "{\"phone\":\"0612345678\",\"preferences\":{\"invoice_issued\":\"pigeon\","
         "\"spam\":\"email\"}}",
         &r);
    expect_status(&r, 400, "bad profile");
    assert_true(names_field(&r, "phone"));
    assert_true(names_field(&r, "preferences.invoice_issued"));
    assert_true(names_field(&r, "preferences.spam"));
    test_resp_dispose(&r);
    call("PATCH", "/api/v1/accounts/me/profile", si.with_csrf, "{}", &r);
    expect_status(&r, 400, "empty change");
    test_resp_dispose(&r);
    call("PATCH", "/api/v1/accounts/me/profile", si.cookie, "{\"name\":\"Marie Curie\"}", &r);
    expect_status(&r, 401, "profile without CSRF");
    test_resp_dispose(&r);
    assert_int_equal(outbox_rows(), events);

    call("PATCH", "/api/v1/accounts/me/profile", si.with_csrf,
         "{\"name\":\"Marie Curie\",\"phone\":\"+33611223344\",\"preferences\":"
         "{\"invoice_issued\":\"email\",\"order_proposed\":\"none\"}}",
         &r);
    expect_status(&r, 200, "update profile");
    assert_string_equal(jstr(&r, "name"), "Marie Curie");
    assert_string_equal(jstr(&r, "phone"), "+33611223344");
    prefs = json_object_get(r.json, "preferences");
    assert_string_equal(json_string_value(json_object_get(prefs, "invoice_issued")), "email");
    assert_string_equal(json_string_value(json_object_get(prefs, "order_proposed")), "none");
    assert_string_equal(json_string_value(json_object_get(prefs, "delivery_scheduled")), "both");
    test_resp_dispose(&r);
    assert_int_equal(outbox_rows(), events + 1);
    Citerne__V1__AccountsEvent *ev =
        last_event(m.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_PROFILE_UPDATED);
    Citerne__V1__UserProfileUpdated *p = ev->user_profile_updated;
    assert_string_equal(p->user_id, m.user_id);
    assert_string_equal(p->name, "Marie Curie");
    assert_string_equal(p->phone, "+33611223344");
    assert_int_equal(p->n_preferences, 4);
    int seen = 0;
    for (size_t i = 0; i < p->n_preferences; i++) {
        if (strcmp(p->preferences[i]->kind, "invoice_issued") == 0) {
            assert_string_equal(p->preferences[i]->channel, "email");
            seen++;
        }
        if (strcmp(p->preferences[i]->kind, "delivery_confirmed") == 0) {
            assert_string_equal(p->preferences[i]->channel, "both");
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);

    /* the phone removed, the rest kept */
    call("PATCH", "/api/v1/accounts/me/profile", si.with_csrf, "{\"phone\":null}", &r);
    expect_status(&r, 200, "remove the phone");
    assert_true(json_is_null(json_object_get(r.json, "phone")));
    assert_string_equal(jstr(&r, "name"), "Marie Curie");
    prefs = json_object_get(r.json, "preferences");
    assert_string_equal(json_string_value(json_object_get(prefs, "invoice_issued")), "email");
    test_resp_dispose(&r);
}

/* ---- personal data and closing ---- */

static void users_export_their_data_and_close_their_account(void **state)
{
    REQUIRE_STACK();
    made_t a;
    make_customer(&a, "household");
    make_user(&a, "correct horse battery");
    char viewer_email[64], viewer_id[37];
    make_user_as(&a, "viewer", viewer_email, viewer_id);
    signed_in_t admin, viewer, viewer2;
    sign_in(&admin, "127.0.0.5", NULL, a.email, "correct horse battery");
    sign_in(&viewer, "127.0.0.6", "curl/8.5", viewer_email, "correct horse battery");
    sign_in(&viewer2, "127.0.0.7", NULL, viewer_email, "correct horse battery");
    settle();

    test_resp_t r;
    call("GET", "/api/v1/accounts/me/export", viewer.cookie, NULL, &r);
    expect_status(&r, 200, "export");
    char *cd = test_resp_header(&r, "Content-Disposition");
    assert_non_null(cd);
    assert_non_null(strstr(cd, "attachment"));
    free(cd);
    json_t *user = json_object_get(r.json, "user");
    assert_string_equal(json_string_value(json_object_get(user, "email")), viewer_email);
    json_t *customers = json_object_get(r.json, "customers");
    assert_int_equal(json_array_size(customers), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(customers, 0), "customer_number")),
        a.number);
    assert_int_equal(json_array_size(json_object_get(r.json, "sessions")), 2);
    assert_true(json_array_size(json_object_get(r.json, "register")) >= 2);
    assert_null(strstr(r.body, "argon2"));
    assert_null(strstr(r.body, viewer.token));
    assert_null(strstr(r.body, "password_hash"));
    test_resp_dispose(&r);

    /* the only admin cannot leave the customer without one */
    call("POST", "/api/v1/accounts/me/close", admin.with_csrf,
         "{\"password\":\"correct horse battery\"}", &r);
    expect_status(&r, 409, "close as the only admin");
    expect_problem_type(&r, "last-admin");
    test_resp_dispose(&r);
    assert_int_equal(me_status(&admin), 200);

    call("POST", "/api/v1/accounts/me/close", viewer.with_csrf,
         "{\"password\":\"wrong horse battery\"}", &r);
    expect_status(&r, 400, "close with a wrong password");
    test_resp_dispose(&r);
    assert_int_equal(me_status(&viewer), 200);

    long long events = outbox_rows();
    call("POST", "/api/v1/accounts/me/close", viewer.with_csrf,
         "{\"password\":\"correct horse battery\"}", &r);
    expect_status(&r, 204, "close");
    test_resp_dispose(&r);
    assert_int_equal(me_status(&viewer), 401);
    assert_int_equal(me_status(&viewer2), 401);
    assert_int_equal(me_status(&admin), 200);
    assert_int_equal(login_status(viewer_email, "correct horse battery"), 401);
    /* erased: no e-mail, name, phone or password left, no access */
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE id = $1 AND status = 'disabled'"
                               " AND password_hash IS NULL AND phone IS NULL"
                               " AND email LIKE 'closed-%@invalid'",
                               viewer_id),
                     1);
    assert_int_equal(sql_count("SELECT count(*) FROM user_customers WHERE user_id = $1", viewer_id),
                     0);
    assert_int_equal(outbox_rows(), events + 1);
    Citerne__V1__AccountsEvent *ev =
        last_event(a.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_CLOSED);
    assert_string_equal(ev->user_closed->user_id, viewer_id);
    assert_int_equal(ev->user_closed->n_customer_ids, 1);
    assert_string_equal(ev->user_closed->customer_ids[0], a.customer_id);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    /* the customer's register keeps the fact */
    settle();
    char path[160];
    snprintf(path, sizeof path, "/api/v1/accounts/customers/%s/audit", a.customer_id);
    call("GET", path, admin.cookie, NULL, &r);
    expect_status(&r, 200, "register after closing");
    assert_true(
        has_entry(json_object_get(r.json, "entries"), "account_closed", viewer_id, viewer_id));
    test_resp_dispose(&r);
}

/* ---- back-office import ---- */

static void import_csv(const char *csv, test_resp_t *r)
{
    char *req = NULL;
    /* the client sends bodies as JSON; the server reads the bytes */
    test_http(&F.svc.loop, F.port, "POST", "/api/v1/accounts/import", OP_AUTH "X-Note: csv\r\n",
              csv, r);
    free(req);
}

static bool reports(const test_resp_t *r, long long line, const char *field)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r->json, "errors"), i, e)
    {
        if (json_integer_value(json_object_get(e, "line")) == line &&
            strcmp(json_string_value(json_object_get(e, "field")), field) == 0)
            return true;
    }
    return false;
}

static void import_reports_bad_rows_by_line_and_imports_the_good_ones_whole(void **state)
{
    REQUIRE_STACK();
    made_t existing;
    make_customer(&existing, "household");
    char csv[4096];
    int base = 700000 + F.seq * 100;
    snprintf(csv, sizeof csv,
             "customer_number,name,segment,siret,phone,delivery_mode,price_per_tonne_cents,"
             "maintenance_plan,capacity_kg,threshold_pct,address,certificate_received\r\n"
             "C%d,Famille Roux,household,,+33612000001,automatic,185000,preference,1000,,"
             "\"3 rue des Lilas, Lyon\",oui\r\n"
             "C%d,\"Boulangerie \"\"Au Pain\"\"\",business,73282932000074,,on_demand,190000,"
             "pacte_maintenance,1750,25,1 place du Four,false\r\n"
             "C%d,Sans adresse,household,,,automatic,185000,,1000,,,\r\n"
             "C%d,Doublon,household,,,automatic,185000,,1000,,2 rue X,\r\n"
             "%s,Existant,household,,,automatic,185000,,1000,,2 rue Y,\r\n"
             "C12,Mauvais,farm,,0612,weekly,0,privilege,50,99,4 rue Z,peut-etre\r\n",
             base + 1, base + 2, base + 3, base + 1, existing.number);
    long long events = outbox_rows(), rows = table_rows();
    test_resp_t r;
    import_csv(csv, &r);
    expect_status(&r, 200, "import");
    assert_int_equal(json_integer_value(json_object_get(r.json, "imported")), 2);
    assert_int_equal(json_integer_value(json_object_get(r.json, "refused")), 4);
    assert_true(reports(&r, 4, "address"));
    assert_true(reports(&r, 5, "customer_number")); /* twice in the file */
    assert_true(reports(&r, 6, "customer_number")); /* already a customer */
    static const char *const bad[] = {
        "customer_number",       "segment",     "phone",         "delivery_mode",
        "price_per_tonne_cents", "capacity_kg", "threshold_pct", "certificate_received"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!reports(&r, 7, bad[i]))
            fail_msg("line 7: %s not reported in %s", bad[i], r.body);
    test_resp_dispose(&r);
    /* two whole rows: customer, contract, site and three events each */
    assert_int_equal(table_rows(), rows + 6);
    assert_int_equal(outbox_rows(), events + 6);
    char number[16];
    snprintf(number, sizeof number, "C%d", base + 2);
    assert_int_equal(
        sql_count("SELECT count(*) FROM customers c JOIN contracts k ON"
                  " k.customer_id = c.id JOIN sites s ON s.contract_id = k.id"
                  " WHERE c.customer_number = $1 AND c.name = 'Boulangerie \"Au Pain\"'"
                  " AND k.maintenance_plan = 'pacte_maintenance'"
                  " AND s.threshold_pct = 25 AND NOT s.certificate_received",
                  number),
        1);
    snprintf(number, sizeof number, "C%d", base + 1);
    assert_int_equal(sql_count("SELECT count(*) FROM customers WHERE customer_number = $1"
                               " AND phone = '+33612000001'",
                               number),
                     1);

    /* a file without the needed columns, or broken CSV: 400, nothing written */
    import_csv("customer_number,name\nC1234567,X\n", &r);
    expect_status(&r, 400, "missing columns");
    assert_true(names_field(&r, "segment"));
    test_resp_dispose(&r);
    import_csv("customer_number,name,segment,delivery_mode,price_per_tonne_cents,capacity_kg,"
               "address\n\"C1234567,X\n",
               &r);
    expect_status(&r, 400, "unclosed quote");
    test_resp_dispose(&r);
    call("POST", "/api/v1/accounts/import", NULL, "x", &r);
    expect_status(&r, 401, "import without the operator key");
    test_resp_dispose(&r);
    assert_int_equal(table_rows(), rows + 6);
}

static void changing_the_password_ends_every_other_session(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    signed_in_t here, elsewhere;
    sign_in(&here, "127.0.0.5", NULL, m.email, "correct horse battery");
    sign_in(&elsewhere, "127.0.0.6", NULL, m.email, "correct horse battery");
    test_resp_t r;
    call("POST", "/api/v1/accounts/me/password", here.with_csrf,
         "{\"current_password\":\"wrong horse battery\",\"new_password\":\"a fine long "
         "passphrase\"}",
         &r);
    expect_status(&r, 400, "wrong current password");
    expect_problem_type(&r, "invalid-credentials");
    test_resp_dispose(&r);
    call("POST", "/api/v1/accounts/me/password", here.with_csrf,
         "{\"current_password\":\"correct horse battery\",\"new_password\":\"qwerty123456\"}", &r);
    expect_status(&r, 400, "a common new password");
    assert_true(names_field(&r, "new_password"));
    test_resp_dispose(&r);
    assert_int_equal(me_status(&elsewhere), 200);

    long long events = outbox_rows();
    call("POST", "/api/v1/accounts/me/password", here.with_csrf,
         "{\"current_password\":\"correct horse battery\",\"new_password\":\"a fine long "
         "passphrase\"}",
         &r);
    expect_status(&r, 204, "change");
    test_resp_dispose(&r);
    assert_int_equal(me_status(&here), 200);
    assert_int_equal(me_status(&elsewhere), 401);
    assert_int_equal(outbox_rows(), events + 1);
    Citerne__V1__AccountsEvent *ev =
        last_event(m.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_PASSWORD_CHANGED);
    assert_string_equal(ev->password_changed->via, "change");
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    assert_int_equal(login_status(m.email, "correct horse battery"), 401);
    assert_int_equal(login_status(m.email, "a fine long passphrase"), 200);
}

static void a_hash_made_with_older_parameters_is_renewed_at_login(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery"); /* t=1 (OPSLIMIT_MIN) */
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE id = $1"
                               " AND password_hash LIKE '%,t=1,%'",
                               m.user_id),
                     1);
    unsigned long long saved = F.accounts.pwhash_ops;
    F.accounts.pwhash_ops = crypto_pwhash_OPSLIMIT_MIN + 1;
    assert_int_equal(login_status(m.email, "correct horse battery"), 200);
    settle();
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE id = $1"
                               " AND password_hash LIKE '%,t=2,%'",
                               m.user_id),
                     1);
    assert_int_equal(login_status(m.email, "correct horse battery"), 200);
    assert_int_equal(login_status(m.email, "wrong horse battery"), 401);
    F.accounts.pwhash_ops = saved;
}

static bool cache_closed;

static void on_cache_closed(void *udata)
{
    (void)udata;
    cache_closed = true;
}

static void login_fails_closed_when_redis_is_down(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, "correct horse battery");
    ct_cache_t *real = F.svc.cache;
    ct_cache_t *down = NULL;
    assert_int_equal(ct_cache_new(&F.svc.loop, "redis://127.0.0.1:1/0", &down), 0);
    F.svc.cache = down;

    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"correct horse battery\"}",
             m.email);
    test_resp_t r;
    call("POST", "/api/v1/accounts/login", NULL, body, &r);
    expect_status(&r, 503, "login with Redis down");
    assert_null(test_resp_cookie(&r, "__Host-citerne_session", NULL));
    test_resp_dispose(&r);
    call("GET", "/api/v1/accounts/me",
         "Cookie: __Host-citerne_session="
         "0000000000000000000000000000000000000000000000000000000000000000\r\n",
         NULL, &r);
    expect_status(&r, 503, "me with Redis down");
    test_resp_dispose(&r);

    F.svc.cache = real;
    cache_closed = false;
    ct_cache_close(down, on_cache_closed, NULL);
    assert_true(ct_test_run_until(&F.svc.loop, &cache_closed, 5000));
}

/* The longest gap between two ticks of a 1 ms timer: how long the loop was
 * kept from turning. */
static uint64_t last_tick_ns, max_gap_ns;

static void on_tick(uv_timer_t *t)
{
    (void)t;
    uint64_t now = uv_hrtime();
    if (last_tick_ns && now - last_tick_ns > max_gap_ns)
        max_gap_ns = now - last_tick_ns;
    last_tick_ns = now;
}

static void on_tick_closed(uv_handle_t *h)
{
    *(bool *)h->data = true;
}

static void password_hashing_leaves_the_loop_free(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    /* a hash that takes a while (4 times the default passes, so that a stall
     * of the loop by the scheduler on a busy machine stays well below it),
     * measured here */
    F.accounts.pwhash_ops = 4 * crypto_pwhash_OPSLIMIT_INTERACTIVE;
    F.accounts.pwhash_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    char hash[crypto_pwhash_STRBYTES];
    uint64_t t0 = uv_hrtime();
    assert_int_equal(crypto_pwhash_str(hash, "correct horse battery", 21, F.accounts.pwhash_ops,
                                       F.accounts.pwhash_mem),
                     0);
    uint64_t hash_ns = uv_hrtime() - t0;

    char body[512], path[128];
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"email\":\"slow%d@example.test\",\"name\":\"S\","
             "\"role\":\"viewer\",\"password\":\"correct horse battery\"}",
             m.customer_id, F.seq);
    snprintf(path, sizeof path, "/api/v1/accounts/customers/%s", m.customer_id);

    uv_timer_t tick;
    uv_timer_init(&F.svc.loop, &tick);
    last_tick_ns = max_gap_ns = 0;
    uv_timer_start(&tick, on_tick, 1, 1);
    test_call_t *slow =
        test_http_start(&F.svc.loop, F.port, "POST", "/api/v1/accounts/users", OP_AUTH, body);
    /* meanwhile the service still answers */
    test_resp_t r;
    call("GET", path, OP_AUTH, NULL, &r);
    expect_status(&r, 200, "a read while a password is hashed");
    test_resp_dispose(&r);
    test_http_finish(slow, &r);
    bool tick_closed = false;
    tick.data = &tick_closed;
    uv_close((uv_handle_t *)&tick, on_tick_closed);
    assert_true(ct_test_run_until(&F.svc.loop, &tick_closed, 1000)); /* tick is on the stack */
    F.accounts.pwhash_ops = crypto_pwhash_OPSLIMIT_MIN;
    F.accounts.pwhash_mem = crypto_pwhash_MEMLIMIT_MIN;
    expect_status(&r, 201, "the user whose password was hashed meanwhile");
    test_resp_dispose(&r);
    if (max_gap_ns >= hash_ns / 2)
        fail_msg("the loop stalled %.1f ms while a %.1f ms hash ran: it ran on the loop",
                 (double)max_gap_ns / 1e6, (double)hash_ns / 1e6);
}

/* ---- random bodies ---- */

static uint32_t rng = 88172645u;

static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Mostly-good values per field, so that some bodies pass. */
static json_t *plausible_value(const char *field, const char *const *ids)
{
    uint32_t r = next_rand() >> 8;
    char buf[64];
    if (strcmp(field, "customer_number") == 0) {
        snprintf(buf, sizeof buf, "C%08u", r % 100000000u);
        return json_string(buf);
    }
    if (strcmp(field, "email") == 0) {
        snprintf(buf, sizeof buf, "%sFuzz%u@Example.test", r & 1 ? " " : "", r % 100000u);
        return json_string(buf);
    }
    if (strcmp(field, "customer_id") == 0)
        return json_string(ids[0]);
    if (strcmp(field, "contract_id") == 0)
        return json_string(ids[1]);
    static const struct {
        const char *field;
        const char *json; /* choices, as a JSON array */
    } table[] = {
        {"name", "[\"Famille Martin\", \"\u00c9lodie\", \"x\"]"},
        {"segment", "[\"household\"]"},
        {"vat_rate_bp", "[550, 1000, 2000]"},
        {"siret", "[null]"},
        {"delivery_mode", "[\"automatic\", \"on_demand\"]"},
        {"price_per_tonne_cents", "[1, 180000, 10000000]"},
        {"maintenance_plan", "[\"none\", \"preference\", \"privilege\"]"},
        {"capacity_kg", "[100, 1000, 100000]"},
        {"threshold_pct", "[5, 30, 80]"},
        {"address", "[\"1 rue des Lilas\", \"\u00e9\"]"},
        {"certificate_received", "[true, false]"},
        {"phone", "[\"+33612345678\", null]"},
        {"role", "[\"admin\", \"orderer\", \"viewer\"]"},
        {"password",
         "[\"correct horse battery\", "
         "\"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\"]"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(table[i].field, field) != 0)
            continue;
        json_t *choices = json_loads(table[i].json, 0, NULL);
        assert_non_null(choices);
        json_t *v = json_incref(json_array_get(choices, r % json_array_size(choices)));
        json_decref(choices);
        return v;
    }
    fail_msg("no plausible value for %s", field);
    return NULL;
}

/* A junk value: wrong type, out of range, malformed. */
static json_t *junk_value(void)
{
    static const char *const strings[] = {
        "",
        " ",
        "C12345",
        "C12345678901",
        "farm",
        "c1234567",
        "a@",
        "+0612",
        "7328293200007",
        "not-a-uuid",
        "short",
        "\xf0\x9f\x94\xa5",
        "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "pacte_maintenance",
    };
    static const long long ints[] = {0,      -1,       99,   81,           4,
                                     100001, 10000001, 1999, 2147483648LL, 9007199254740993LL};
    uint32_t r = next_rand();
    switch (r % 6) {
    case 0:
    case 1:
        return json_string(strings[(r >> 8) % (sizeof strings / sizeof strings[0])]);
    case 2:
        return json_integer(ints[(r >> 8) % (sizeof ints / sizeof ints[0])]);
    case 3:
        return json_real(0.5);
    case 4:
        return json_null();
    default:
        return (r >> 8) & 1 ? json_pack("[i, s]", 1, "a") : json_pack("{s:b}", "a", 1);
    }
}

static void random_bodies_never_crash_nor_half_write(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_contract(&m, "on_demand");
    long long rows = table_rows(), events = outbox_rows();

    static const char *const customer_fields[] = {"customer_number", "name", "segment",
                                                  "vat_rate_bp", "siret"};
    static const char *const contract_fields[] = {"customer_id", "delivery_mode",
                                                  "price_per_tonne_cents", "maintenance_plan"};
    static const char *const site_fields[] = {"contract_id", "capacity_kg", "threshold_pct",
                                              "address", "certificate_received"};
    static const char *const user_fields[] = {"customer_id", "email", "phone",
                                              "name",        "role",  "password"};
    static const struct {
        const char *path;
        const char *const *fields;
        size_t nfields;
        long long rows_per_success; /* rows a 201 adds */
    } endpoints[] = {
        {"/api/v1/accounts/customers", customer_fields, 5, 1},
        {"/api/v1/accounts/contracts", contract_fields, 4, 1},
        {"/api/v1/accounts/sites", site_fields, 5, 1},
        {"/api/v1/accounts/users", user_fields, 6, 2},
    };
    const char *ids[] = {m.customer_id, m.contract_id};
    long long created = 0, added_rows = 0;
    int counts[600] = {0};
    for (int i = 0; i < 400; i++) {
        size_t e = next_rand() % 4;
        json_t *body = json_object();
        for (size_t f = 0; f < endpoints[e].nfields; f++) {
            uint32_t dice = next_rand() % 40;
            if (dice == 0)
                continue; /* leave the field out */
            const char *name = endpoints[e].fields[f];
            json_object_set_new(body, name, dice < 3 ? junk_value() : plausible_value(name, ids));
        }
        if (next_rand() % 10 == 0)
            json_object_set_new(body, "unexpected", json_string("field"));
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        test_resp_t r;
        call("POST", endpoints[e].path, OP_AUTH, text, &r);
        if (r.status != 201 && r.status != 400 && r.status != 404 && r.status != 409)
            fail_msg("POST %s %s: status %d, body %s", endpoints[e].path, text, r.status, r.body);
        if (r.status != 201 && !strstr(r.head, "application/problem+json"))
            fail_msg("POST %s %s: %d without a problem body", endpoints[e].path, text, r.status);
        counts[r.status]++;
        if (r.status == 201) {
            created++;
            added_rows += endpoints[e].rows_per_success;
        }
        test_resp_dispose(&r);
        free(text);
    }
    fprintf(stderr, "random bodies: %d created, %d invalid, %d not found, %d conflicts\n",
            counts[201], counts[400], counts[404], counts[409]);
    assert_true(counts[201] > 0 && counts[400] > 0); /* both paths were exercised */
    assert_int_equal(table_rows(), rows + added_rows);
    assert_int_equal(outbox_rows(), events + created);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(
            back_office_creates_customer_contract_site_and_user_with_one_event_each, test_setup),
        cmocka_unit_test_setup(duplicate_customer_number_is_409_and_writes_nothing, test_setup),
        cmocka_unit_test_setup(bad_json_and_wrong_types_are_400_naming_the_fields, test_setup),
        cmocka_unit_test_setup(maintenance_plan_must_suit_the_segment, test_setup),
        cmocka_unit_test_setup(unknown_customer_or_contract_is_404_with_nothing_written,
                               test_setup),
        cmocka_unit_test_setup(back_office_needs_the_operator_key, test_setup),
        cmocka_unit_test_setup(duplicate_email_is_409_whatever_its_case, test_setup),
        cmocka_unit_test_setup(login_sets_the_cookie_and_stores_the_session, test_setup),
        cmocka_unit_test_setup(failed_logins_all_get_the_same_401, test_setup),
        cmocka_unit_test_setup(me_needs_a_session_and_logout_ends_it, test_setup),
        cmocka_unit_test_setup(login_fails_closed_when_redis_is_down, test_setup),
        cmocka_unit_test_setup(
            a_burst_from_one_address_is_delayed_while_the_owner_signs_in_elsewhere, test_setup),
        cmocka_unit_test_setup(the_account_limit_refuses_unevaluated_and_lapses_with_time,
                               test_setup),
        cmocka_unit_test_setup(forwarded_for_counts_only_from_a_trusted_proxy, test_setup),
        cmocka_unit_test_setup(every_login_gets_a_new_session_listed_with_its_device_and_address,
                               test_setup),
        cmocka_unit_test_setup(a_revoked_session_gets_401_at_once, test_setup),
        cmocka_unit_test_setup(idle_timeout_slides_and_absolute_timeout_ends_the_session,
                               test_setup),
        cmocka_unit_test_setup(totp_enrolment_shows_a_uri_and_qr_and_needs_a_first_code,
                               test_setup),
        cmocka_unit_test_setup(login_with_totp_takes_a_second_step_and_refuses_replays, test_setup),
        cmocka_unit_test_setup(turning_totp_off_needs_the_password_and_a_code, test_setup),
        cmocka_unit_test_setup(forgot_answers_the_same_whether_or_not_the_email_exists, test_setup),
        cmocka_unit_test_setup(reset_link_works_once_voids_older_links_and_ends_every_session,
                               test_setup),
        cmocka_unit_test_setup(reset_link_expires, test_setup),
        cmocka_unit_test_setup(reset_mails_to_one_address_are_capped_per_hour, test_setup),
        cmocka_unit_test_setup(signup_answers_the_same_whether_or_not_the_customer_exists,
                               test_setup),
        cmocka_unit_test_setup(activation_link_sets_a_good_password_once_and_expires, test_setup),
        cmocka_unit_test_setup(an_admin_invites_changes_roles_and_removes_touching_nobody_else,
                               test_setup),
        cmocka_unit_test_setup(a_viewer_cannot_invite_and_another_customers_ids_are_404,
                               test_setup),
        cmocka_unit_test_setup(admins_read_the_access_register_and_export_it_as_csv, test_setup),
        cmocka_unit_test_setup(a_sign_in_from_a_new_device_is_told_to_the_user, test_setup),
        cmocka_unit_test_setup(linking_a_customer_needs_its_number_and_an_invoice, test_setup),
        cmocka_unit_test_setup(profile_and_preferences_are_published_whole, test_setup),
        cmocka_unit_test_setup(users_export_their_data_and_close_their_account, test_setup),
        cmocka_unit_test_setup(import_reports_bad_rows_by_line_and_imports_the_good_ones_whole,
                               test_setup),
        cmocka_unit_test_setup(changing_the_password_ends_every_other_session, test_setup),
        cmocka_unit_test_setup(a_hash_made_with_older_parameters_is_renewed_at_login, test_setup),
        cmocka_unit_test_setup(password_hashing_leaves_the_loop_free, test_setup),
        cmocka_unit_test_setup(random_bodies_never_crash_nor_half_write, test_setup),
    };
    srandom((unsigned)getpid());
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
