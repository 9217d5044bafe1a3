/* accounts API through the real HTTP server, against the test stack's
 * Postgres (a fresh database) and Redis: the back office, sign-in basics,
 * the loop kept free while passwords hash, random bodies, the CSV import.
 * The service is assembled in-process from the platform pieces (no Kafka:
 * events stay in ct_outbox, where the tests read and decode them). */
#define _GNU_SOURCE
#include "api_support.h"

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
        /* the wording a client sees, and the challenge */
        assert_string_equal(json_string_value(json_object_get(r.json, "title")),
                            "Operator key required");
        assert_string_equal(json_string_value(json_object_get(r.json, "detail")),
                            "send Authorization: Bearer <operator key>");
        if (!strstr(r.head, "WWW-Authenticate: Bearer"))
            fail_msg("auth case %zu: no WWW-Authenticate: Bearer in\n%s", i, r.head);
        test_resp_dispose(&r);
        call("GET", "/api/v1/accounts/customers/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", auths[i],
             NULL, &r);
        if (r.status != 401)
            fail_msg("auth case %zu (GET): status %d, want 401", i, r.status);
        test_resp_dispose(&r);
    }
    /* RFC 6750: the scheme in any case, one or more spaces before the key */
    static const char *const good[] = {
        "Authorization: Bearer " OPERATOR_KEY "\r\n",
        "Authorization: bearer " OPERATOR_KEY "\r\n",
        "Authorization: Bearer   " OPERATOR_KEY "\r\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        test_resp_t r;
        call("GET", "/api/v1/accounts/customers/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", good[i],
             NULL, &r);
        if (r.status != 404)
            fail_msg("good key case %zu: status %d, want 404 (unknown customer)", i, r.status);
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

/* accounts_api is linked with -Wl,--wrap=crypto_pwhash_str: once armed, the
 * next hash notes whether it runs on the loop's thread and, if not, waits
 * for the test's go-ahead. The test can then prove, without a clock, that
 * the service answers another request while a password is being hashed. */
int __real_crypto_pwhash_str(char *out, const char *passwd, unsigned long long passwdlen,
                             unsigned long long opslimit, size_t memlimit);
int __wrap_crypto_pwhash_str(char *out, const char *passwd, unsigned long long passwdlen,
                             unsigned long long opslimit, size_t memlimit);

static struct {
    uv_mutex_t lock;
    uv_cond_t cond;
    uv_thread_t loop_thread;
    bool armed;   /* the next hash is held */
    bool holding; /* a hash is waiting for the go-ahead */
    bool on_loop; /* the held hash was called on the loop's thread */
    bool go;
} gate;
static uv_once_t gate_once = UV_ONCE_INIT;

static void gate_init(void)
{
    if (uv_mutex_init(&gate.lock) != 0 || uv_cond_init(&gate.cond) != 0)
        abort();
}

int __wrap_crypto_pwhash_str(char *out, const char *passwd, unsigned long long passwdlen,
                             unsigned long long opslimit, size_t memlimit)
{
    uv_thread_t self = uv_thread_self();
    uv_once(&gate_once, gate_init);
    uv_mutex_lock(&gate.lock);
    if (gate.armed) {
        gate.armed = false;
        gate.on_loop = uv_thread_equal(&self, &gate.loop_thread) != 0;
        /* on the loop, waiting would hang the test: note it and go on */
        if (!gate.on_loop) {
            gate.holding = true;
            uv_cond_broadcast(&gate.cond);
            while (!gate.go)
                uv_cond_wait(&gate.cond, &gate.lock);
            gate.holding = false;
        }
    }
    uv_mutex_unlock(&gate.lock);
    return __real_crypto_pwhash_str(out, passwd, passwdlen, opslimit, memlimit);
}

static void password_hashing_leaves_the_loop_free(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    char body[512], path[128];
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"email\":\"slow%d@example.test\",\"name\":\"S\","
             "\"role\":\"viewer\",\"password\":\"correct horse battery\"}",
             m.customer_id, F.seq);
    snprintf(path, sizeof path, "/api/v1/accounts/customers/%s", m.customer_id);

    uv_once(&gate_once, gate_init);
    uv_mutex_lock(&gate.lock);
    gate.loop_thread = uv_thread_self();
    gate.armed = true;
    gate.holding = gate.on_loop = gate.go = false;
    uv_mutex_unlock(&gate.lock);

    test_call_t *slow =
        test_http_start(&F.svc.loop, F.port, "POST", "/api/v1/accounts/users", OP_AUTH, body);
    /* turn the loop until the hash has started somewhere (or ran on the loop
     * itself, which returns at once) */
    bool started = false;
    for (int i = 0; i < 5000 && !started; i++) {
        uv_run(&F.svc.loop, UV_RUN_NOWAIT);
        uv_mutex_lock(&gate.lock);
        started = gate.holding || (!gate.armed && gate.on_loop);
        uv_mutex_unlock(&gate.lock);
        if (!started)
            uv_sleep(1);
    }
    assert_true(started);
    if (gate.on_loop)
        fail_msg("the password was hashed on the loop's thread");

    /* the hash is held on a worker thread: the service still answers */
    test_resp_t r;
    call("GET", path, OP_AUTH, NULL, &r);
    expect_status(&r, 200, "a read while a password is hashed");
    test_resp_dispose(&r);
    uv_mutex_lock(&gate.lock);
    assert_true(gate.holding);
    gate.go = true;
    uv_cond_broadcast(&gate.cond);
    uv_mutex_unlock(&gate.lock);

    test_http_finish(slow, &r);
    expect_status(&r, 201, "the user whose password was hashed meanwhile");
    test_resp_dispose(&r);
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
        cmocka_unit_test_setup(import_reports_bad_rows_by_line_and_imports_the_good_ones_whole,
                               test_setup),
        cmocka_unit_test_setup(a_hash_made_with_older_parameters_is_renewed_at_login, test_setup),
        cmocka_unit_test_setup(password_hashing_leaves_the_loop_free, test_setup),
        cmocka_unit_test_setup(random_bodies_never_crash_nor_half_write, test_setup),
    };
    srandom((unsigned)getpid());
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
