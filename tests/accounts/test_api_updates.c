/* The back office's updates through the real HTTP server, against the test
 * stack's Postgres (a fresh database): PATCH /customers/{id},
 * /contracts/{id}, /sites/{id}. Only the fields given change, the result
 * obeys the rules of creation, the row's version grows by one and its
 * *Updated event (with that version) is in ct_outbox, committed with it.
 * PATCH /users/{id}: a user's name and status (disabling ends the
 * sessions; the last active admin of a customer cannot be disabled). */
#define _GNU_SOURCE
#include "api_support.h"

#define BC(x) CITERNE__V1__ACCOUNTS_EVENT__BODY_##x

static void make_site(const made_t *m, int capacity_kg, char id[37])
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"contract_id\":\"%s\",\"capacity_kg\":%d,\"address\":\"12 chemin des Pins, "
             "Albi\",\"threshold_pct\":30,\"certificate_received\":false}",
             m->contract_id, capacity_kg);
    operator_create("/api/v1/accounts/sites", body, "create site", id, NULL);
}

/* A household customer with a contract in mode and a 1000 kg site. */
static void make_household_site(made_t *m, const char *mode)
{
    make_customer(m, "household");
    make_contract(m, mode);
    make_site(m, 1000, m->site_id);
}

/* PATCH /api/v1/accounts/<what>/<id> with the operator key. */
static void patch(const char *what, const char *id, const char *body, test_resp_t *r)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/accounts/%s/%s", what, id);
    call("PATCH", path, OP_AUTH, body, r);
}

static long long jint(const test_resp_t *r, const char *field)
{
    json_t *v = json_object_get(r->json, field);
    if (!json_is_integer(v))
        fail_msg("field %s missing or not an integer in %s", field, r->body ? r->body : "(none)");
    return (long long)json_integer_value(v);
}

/* Everything stored about a customer (its row, contracts and sites) as one
 * text, to compare before and after a refused patch (caller frees). */
static char *stored_state(const char *customer_id)
{
    const char *params[1] = {customer_id};
    PGresult *res =
        PQexecParams(F.pg,
                     "SELECT (SELECT row_to_json(c)::text FROM customers c WHERE c.id = $1::uuid)"
                     " || COALESCE((SELECT json_agg(k ORDER BY k.id)::text FROM contracts k"
                     "              WHERE k.customer_id = $1::uuid), '')"
                     " || COALESCE((SELECT json_agg(s ORDER BY s.id)::text FROM sites s"
                     "              WHERE s.customer_id = $1::uuid), '')",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("stored state: %s", PQerrorMessage(F.pg));
    char *text = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return text;
}

static void free_events(Citerne__V1__AccountsEvent **ev, size_t n)
{
    for (size_t i = 0; i < n; i++)
        citerne__v1__accounts_event__free_unpacked(ev[i], NULL);
}

static void customer_patch_changes_only_the_given_fields_with_one_event(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    long long events = outbox_rows();

    test_resp_t r;
    patch("customers", m.customer_id, "{\"name\":\"Famille Durand\",\"phone\":\"+33612345678\"}",
          &r);
    expect_status(&r, 200, "patch the customer's name and phone");
    assert_string_equal(jstr(&r, "id"), m.customer_id);
    assert_string_equal(jstr(&r, "name"), "Famille Durand");
    assert_string_equal(jstr(&r, "phone"), "+33612345678");
    assert_string_equal(jstr(&r, "customer_number"), m.number);
    assert_string_equal(jstr(&r, "segment"), "household");
    assert_int_equal(jint(&r, "vat_rate_bp"), 2000);
    assert_true(json_is_null(json_object_get(r.json, "siret")));
    assert_int_equal(jint(&r, "version"), 2);
    test_resp_dispose(&r);

    /* stored as answered, and GET shows the version */
    assert_int_equal(sql_count("SELECT count(*) FROM customers WHERE id = $1::uuid AND"
                               " name = 'Famille Durand' AND phone = '+33612345678' AND"
                               " segment = 'household' AND vat_rate_bp = 2000 AND version = 2",
                               m.customer_id),
                     1);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/accounts/customers/%s", m.customer_id);
    call("GET", path, OP_AUTH, NULL, &r);
    expect_status(&r, 200, "get the customer");
    assert_int_equal(jint(&r, "version"), 2);
    assert_string_equal(jstr(&r, "name"), "Famille Durand");
    test_resp_dispose(&r);

    /* one event: the whole customer at version 2 */
    assert_int_equal(outbox_rows(), events + 1);
    Citerne__V1__AccountsEvent *ev[8];
    size_t n = outbox_events(m.customer_id, ev, 8);
    assert_int_equal(n, 2); /* created, updated */
    assert_int_equal(ev[1]->body_case, BC(CUSTOMER_UPDATED));
    const Citerne__V1__CustomerUpdated *u = ev[1]->customer_updated;
    assert_string_equal(u->customer_id, m.customer_id);
    assert_string_equal(u->customer_number, m.number);
    assert_string_equal(u->name, "Famille Durand");
    assert_string_equal(u->segment, "household");
    assert_int_equal(u->vat_rate_bp, 2000);
    assert_int_equal(u->version, 2);
    free_events(ev, n);

    /* the next patch is version 3; a null phone removes it */
    patch("customers", m.customer_id, "{\"vat_rate_bp\":1000,\"phone\":null}", &r);
    expect_status(&r, 200, "patch the VAT rate, remove the phone");
    assert_int_equal(jint(&r, "version"), 3);
    assert_int_equal(jint(&r, "vat_rate_bp"), 1000);
    assert_true(json_is_null(json_object_get(r.json, "phone")));
    assert_string_equal(jstr(&r, "name"), "Famille Durand");
    test_resp_dispose(&r);
    Citerne__V1__AccountsEvent *last = last_event(m.customer_id, BC(CUSTOMER_UPDATED));
    assert_int_equal(last->customer_updated->version, 3);
    assert_int_equal(last->customer_updated->vat_rate_bp, 1000);
    assert_string_equal(last->customer_updated->name, "Famille Durand");
    citerne__v1__accounts_event__free_unpacked(last, NULL);
    assert_int_equal(outbox_rows(), events + 2);
}

static void contract_patch_changes_only_the_given_fields_with_one_event(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_household_site(&m, "automatic");
    const char *site_id = m.site_id;
    long long events = outbox_rows();

    test_resp_t r;
    patch("contracts", m.contract_id, "{\"price_per_tonne_cents\":192500}", &r);
    expect_status(&r, 200, "patch the contract's price");
    assert_string_equal(jstr(&r, "id"), m.contract_id);
    assert_string_equal(jstr(&r, "customer_id"), m.customer_id);
    assert_int_equal(jint(&r, "price_per_tonne_cents"), 192500);
    assert_string_equal(jstr(&r, "delivery_mode"), "automatic");
    assert_string_equal(jstr(&r, "maintenance_plan"), "none");
    assert_int_equal(jint(&r, "version"), 2);
    test_resp_dispose(&r);

    /* the mode did not change: one ContractUpdated, the site untouched */
    assert_int_equal(outbox_rows(), events + 1);
    Citerne__V1__AccountsEvent *ev = last_event(m.customer_id, BC(CONTRACT_UPDATED));
    const Citerne__V1__ContractUpdated *u = ev->contract_updated;
    assert_string_equal(u->contract_id, m.contract_id);
    assert_string_equal(u->customer_id, m.customer_id);
    assert_string_equal(u->delivery_mode, "automatic");
    assert_int_equal(u->price_per_tonne_cents, 192500);
    assert_string_equal(u->maintenance_plan, "none");
    assert_int_equal(u->version, 2);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    assert_int_equal(sql_count("SELECT version FROM sites WHERE id = $1::uuid", site_id), 1);

    /* a plan of the customer's segment is fine */
    patch("contracts", m.contract_id, "{\"maintenance_plan\":\"preference\"}", &r);
    expect_status(&r, 200, "patch the plan");
    assert_string_equal(jstr(&r, "maintenance_plan"), "preference");
    assert_int_equal(jint(&r, "price_per_tonne_cents"), 192500);
    assert_int_equal(jint(&r, "version"), 3);
    test_resp_dispose(&r);
    assert_int_equal(outbox_rows(), events + 2);
}

static void site_patch_changes_only_the_given_fields_with_one_event(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_household_site(&m, "on_demand");
    const char *site_id = m.site_id;
    long long events = outbox_rows();

    test_resp_t r;
    patch("sites", site_id, "{\"certificate_received\":true,\"threshold_pct\":20}", &r);
    expect_status(&r, 200, "patch the site");
    assert_string_equal(jstr(&r, "id"), site_id);
    assert_string_equal(jstr(&r, "contract_id"), m.contract_id);
    assert_string_equal(jstr(&r, "customer_id"), m.customer_id);
    assert_true(json_is_true(json_object_get(r.json, "certificate_received")));
    assert_int_equal(jint(&r, "threshold_pct"), 20);
    assert_int_equal(jint(&r, "capacity_kg"), 1000);
    assert_string_equal(jstr(&r, "address"), "12 chemin des Pins, Albi");
    assert_string_equal(jstr(&r, "delivery_mode"), "on_demand");
    assert_int_equal(jint(&r, "version"), 2);
    test_resp_dispose(&r);

    assert_int_equal(outbox_rows(), events + 1);
    Citerne__V1__AccountsEvent *ev = last_event(m.customer_id, BC(SITE_UPDATED));
    const Citerne__V1__SiteUpdated *u = ev->site_updated;
    assert_string_equal(u->site_id, site_id);
    assert_string_equal(u->contract_id, m.contract_id);
    assert_string_equal(u->customer_id, m.customer_id);
    assert_int_equal(u->capacity_kg, 1000);
    assert_int_equal(u->threshold_pct, 20);
    assert_string_equal(u->address, "12 chemin des Pins, Albi");
    assert_string_equal(u->delivery_mode, "on_demand");
    assert_true(u->certificate_received);
    assert_int_equal(u->version, 2);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    assert_int_equal(sql_count("SELECT count(*) FROM sites WHERE id = $1::uuid AND"
                               " threshold_pct = 20 AND certificate_received AND"
                               " capacity_kg = 1000 AND version = 2",
                               site_id),
                     1);
}

static void contract_mode_change_emits_one_site_updated_per_site(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "business");
    make_contract(&m, "automatic");
    char site_a[37], site_b[37], other_site[37];
    make_site(&m, 1000, site_a);
    make_site(&m, 3200, site_b);
    made_t other = m; /* a second contract of the same customer */
    make_contract(&other, "automatic");
    make_site(&other, 500, other_site);
    /* site_a is at version 2 before the change */
    test_resp_t r;
    patch("sites", site_a, "{\"capacity_kg\":1750}", &r);
    expect_status(&r, 200, "patch site a");
    test_resp_dispose(&r);
    long long events = outbox_rows();
    Citerne__V1__AccountsEvent *ev[16];
    size_t before = outbox_events(m.customer_id, ev, 16);
    free_events(ev, before);

    patch("contracts", m.contract_id, "{\"delivery_mode\":\"on_demand\"}", &r);
    expect_status(&r, 200, "change the delivery mode");
    assert_string_equal(jstr(&r, "delivery_mode"), "on_demand");
    assert_int_equal(jint(&r, "version"), 2);
    test_resp_dispose(&r);

    /* ContractUpdated, then one SiteUpdated per site of that contract */
    assert_int_equal(outbox_rows(), events + 3);
    size_t n = outbox_events(m.customer_id, ev, 16);
    assert_int_equal(n, before + 3);
    assert_int_equal(ev[before]->body_case, BC(CONTRACT_UPDATED));
    assert_string_equal(ev[before]->contract_updated->delivery_mode, "on_demand");
    bool seen_a = false, seen_b = false;
    for (size_t i = before + 1; i < n; i++) {
        assert_int_equal(ev[i]->body_case, BC(SITE_UPDATED));
        const Citerne__V1__SiteUpdated *s = ev[i]->site_updated;
        assert_string_equal(s->delivery_mode, "on_demand");
        assert_string_equal(s->contract_id, m.contract_id);
        assert_string_equal(s->customer_id, m.customer_id);
        if (strcmp(s->site_id, site_a) == 0) {
            seen_a = true;
            assert_int_equal(s->version, 3);
            assert_int_equal(s->capacity_kg, 1750);
        } else if (strcmp(s->site_id, site_b) == 0) {
            seen_b = true;
            assert_int_equal(s->version, 2);
            assert_int_equal(s->capacity_kg, 3200);
        } else {
            fail_msg("SiteUpdated for %s, not a site of the contract", s->site_id);
        }
    }
    assert_true(seen_a && seen_b);
    free_events(ev, n);
    assert_int_equal(sql_count("SELECT version FROM sites WHERE id = $1::uuid", site_a), 3);
    assert_int_equal(sql_count("SELECT version FROM sites WHERE id = $1::uuid", site_b), 2);
    assert_int_equal(sql_count("SELECT version FROM sites WHERE id = $1::uuid", other_site), 1);

    /* the sites now show the new mode; the same mode again moves no site */
    char path[128];
    snprintf(path, sizeof path, "/api/v1/accounts/customers/%s", m.customer_id);
    call("GET", path, OP_AUTH, NULL, &r);
    expect_status(&r, 200, "get the customer");
    size_t i;
    json_t *site;
    json_array_foreach(json_object_get(r.json, "sites"), i, site)
    {
        const char *id = json_string_value(json_object_get(site, "id"));
        const char *mode = json_string_value(json_object_get(site, "delivery_mode"));
        assert_string_equal(mode, strcmp(id, other_site) == 0 ? "automatic" : "on_demand");
    }
    test_resp_dispose(&r);
    patch("contracts", m.contract_id, "{\"delivery_mode\":\"on_demand\"}", &r);
    expect_status(&r, 200, "the same mode again");
    assert_int_equal(jint(&r, "version"), 3);
    test_resp_dispose(&r);
    assert_int_equal(outbox_rows(), events + 4);
    assert_int_equal(sql_count("SELECT version FROM sites WHERE id = $1::uuid", site_b), 2);
}

static void bad_patches_are_400_naming_the_field_with_nothing_written(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_household_site(&m, "automatic");
    const char *site_id = m.site_id;
    made_t other;
    make_customer(&other, "household");
    make_contract(&other, "automatic");

    char other_contract[128];
    snprintf(other_contract, sizeof other_contract, "{\"contract_id\":\"%s\",\"capacity_kg\":1200}",
             other.contract_id);
    const struct {
        const char *what, *id, *body, *field;
    } cases[] = {
        {"customers", m.customer_id, "{}", "name"},
        {"customers", m.customer_id, "{\"name\":\"\"}", "name"},
        {"customers", m.customer_id, "{\"name\":\"   \"}", "name"},
        {"customers", m.customer_id, "{\"name\":null}", "name"},
        {"customers", m.customer_id, "{\"vat_rate_bp\":1500}", "vat_rate_bp"},
        {"customers", m.customer_id, "{\"vat_rate_bp\":null}", "vat_rate_bp"},
        {"customers", m.customer_id, "{\"segment\":\"farm\"}", "segment"},
        {"customers", m.customer_id, "{\"segment\":\"business\"}", "siret"},
        {"customers", m.customer_id, "{\"siret\":\"73282932000074\"}", "siret"},
        {"customers", m.customer_id, "{\"phone\":\"0612345678\"}", "phone"},
        {"customers", m.customer_id, "{\"customer_number\":\"C0000001\",\"name\":\"X\"}",
         "customer_number"},
        {"customers", m.customer_id, "{\"name\":\"X\",\"created_at\":\"2020-01-01\"}",
         "created_at"},
        {"contracts", m.contract_id, "{}", "delivery_mode"},
        {"contracts", m.contract_id, "{\"price_per_tonne_cents\":0}", "price_per_tonne_cents"},
        {"contracts", m.contract_id, "{\"price_per_tonne_cents\":\"1\"}", "price_per_tonne_cents"},
        {"contracts", m.contract_id, "{\"delivery_mode\":\"weekly\"}", "delivery_mode"},
        {"contracts", m.contract_id, "{\"maintenance_plan\":\"pacte_maintenance\"}",
         "maintenance_plan"},
        {"contracts", m.contract_id, "{\"maintenance_plan\":null}", "maintenance_plan"},
        {"sites", site_id, "{}", "capacity_kg"},
        {"sites", site_id, "{\"capacity_kg\":99}", "capacity_kg"},
        {"sites", site_id, "{\"threshold_pct\":81}", "threshold_pct"},
        {"sites", site_id, "{\"address\":\"  \"}", "address"},
        {"sites", site_id, "{\"certificate_received\":\"yes\"}", "certificate_received"},
        {"sites", site_id, "{\"threshold_pct\":null}", "threshold_pct"},
        {"sites", site_id, other_contract, "contract_id"},
        {"sites", site_id, "{\"delivery_mode\":\"on_demand\"}", "delivery_mode"},
    };
    char *was = stored_state(m.customer_id);
    long long events = outbox_rows();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_resp_t r;
        patch(cases[i].what, cases[i].id, cases[i].body, &r);
        if (r.status != 400 || !names_field(&r, cases[i].field))
            fail_msg("PATCH %s %s: status %d, want 400 naming %s; body %s", cases[i].what,
                     cases[i].body, r.status, cases[i].field, r.body ? r.body : "(none)");
        expect_problem_type(&r, "invalid-input");
        test_resp_dispose(&r);
        char *now = stored_state(m.customer_id);
        if (strcmp(now, was) != 0)
            fail_msg("PATCH %s %s changed the rows:\n%s\nwas\n%s", cases[i].what, cases[i].body,
                     now, was);
        free(now);
        assert_int_equal(outbox_rows(), events);
    }
    free(was);
}

static void segment_change_needs_its_siret_and_plans_that_suit_it(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_contract(&m, "automatic");
    test_resp_t r;
    patch("contracts", m.contract_id, "{\"maintenance_plan\":\"preference\"}", &r);
    expect_status(&r, 200, "a household's plan");
    test_resp_dispose(&r);
    char *was = stored_state(m.customer_id);
    long long events = outbox_rows();

    /* a business with a household's plan: refused, naming the segment */
    patch("customers", m.customer_id, "{\"segment\":\"business\",\"siret\":\"73282932000074\"}",
          &r);
    expect_status(&r, 400, "business with a preference plan");
    assert_true(names_field(&r, "segment"));
    assert_non_null(strstr(r.body, m.contract_id)); /* says which contract */
    test_resp_dispose(&r);
    char *now = stored_state(m.customer_id);
    assert_string_equal(now, was);
    free(now);
    free(was);
    assert_int_equal(outbox_rows(), events);

    /* the plan first, then the segment, then a business plan */
    patch("contracts", m.contract_id, "{\"maintenance_plan\":\"none\"}", &r);
    expect_status(&r, 200, "plan none");
    test_resp_dispose(&r);
    patch("customers", m.customer_id, "{\"segment\":\"business\",\"siret\":\"73282932000074\"}",
          &r);
    expect_status(&r, 200, "now a business");
    assert_string_equal(jstr(&r, "segment"), "business");
    assert_string_equal(jstr(&r, "siret"), "73282932000074");
    test_resp_dispose(&r);
    patch("contracts", m.contract_id, "{\"maintenance_plan\":\"pacte_maintenance\"}", &r);
    expect_status(&r, 200, "the business plan");
    test_resp_dispose(&r);
    Citerne__V1__AccountsEvent *ev = last_event(m.customer_id, BC(CUSTOMER_UPDATED));
    assert_string_equal(ev->customer_updated->segment, "business");
    assert_int_equal(ev->customer_updated->version, 2);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);

    /* back to a household: the SIRET must go, and the plan first */
    patch("customers", m.customer_id, "{\"segment\":\"household\"}", &r);
    expect_status(&r, 400, "household keeping a SIRET");
    assert_true(names_field(&r, "siret"));
    test_resp_dispose(&r);
    patch("customers", m.customer_id, "{\"segment\":\"household\",\"siret\":null}", &r);
    expect_status(&r, 400, "household with pacte_maintenance");
    assert_true(names_field(&r, "segment"));
    test_resp_dispose(&r);
    patch("contracts", m.contract_id, "{\"maintenance_plan\":\"none\"}", &r);
    expect_status(&r, 200, "plan none again");
    test_resp_dispose(&r);
    patch("customers", m.customer_id, "{\"segment\":\"household\",\"siret\":null}", &r);
    expect_status(&r, 200, "a household again");
    assert_true(json_is_null(json_object_get(r.json, "siret")));
    assert_int_equal(jint(&r, "version"), 3);
    test_resp_dispose(&r);
}

static void unknown_id_is_404_with_nothing_written(void **state)
{
    REQUIRE_STACK();
    char unknown[37];
    ct_uuid_v7(unknown);
    long long rows = table_rows(), events = outbox_rows();
    static const struct {
        const char *what, *body;
    } cases[] = {
        {"customers", "{\"name\":\"Nobody\"}"},
        {"contracts", "{\"price_per_tonne_cents\":100000}"},
        {"sites", "{\"capacity_kg\":1000}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_resp_t r;
        patch(cases[i].what, unknown, cases[i].body, &r);
        expect_status(&r, 404, cases[i].what);
        expect_problem_type(&r, "not-found");
        test_resp_dispose(&r);
        patch(cases[i].what, "not-a-uuid", cases[i].body, &r);
        expect_status(&r, 404, cases[i].what);
        test_resp_dispose(&r);
    }
    assert_int_equal(table_rows(), rows);
    assert_int_equal(outbox_rows(), events);
}

static void updates_need_the_operator_key(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_household_site(&m, "automatic");
    const char *site_id = m.site_id;
    char *was = stored_state(m.customer_id);
    long long events = outbox_rows();
    const struct {
        const char *what, *id, *body;
    } cases[] = {
        {"customers", m.customer_id, "{\"name\":\"Intrus\"}"},
        {"contracts", m.contract_id, "{\"price_per_tonne_cents\":1}"},
        {"sites", site_id, "{\"capacity_kg\":100}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/api/v1/accounts/%s/%s", cases[i].what, cases[i].id);
        test_resp_t r;
        call("PATCH", path, NULL, cases[i].body, &r);
        expect_status(&r, 401, "no key");
        expect_problem_type(&r, "unauthenticated");
        test_resp_dispose(&r);
        call("PATCH", path, "Authorization: Bearer not-the-operator-key-at-all\r\n", cases[i].body,
             &r);
        expect_status(&r, 401, "wrong key");
        test_resp_dispose(&r);
    }
    char *now = stored_state(m.customer_id);
    assert_string_equal(now, was);
    free(now);
    free(was);
    assert_int_equal(outbox_rows(), events);
}

/* Backends of the test's database waiting for a lock. */
static long long lock_waiters(PGconn *watch)
{
    PGresult *res =
        PQexec(watch, "SELECT count(*) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND wait_event_type = 'Lock'");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("pg_stat_activity: %s", PQerrorMessage(watch));
    long long n = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

/* The test holds the site's row lock while both patches start, so both
 * have read the site (or are waiting to) before either writes: without
 * the handlers' own lock, the second would write the state it read before
 * the first committed and lose the first's change. */
static void two_patches_in_flight_on_one_site_both_land(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_household_site(&m, "automatic");
    const char *site_id = m.site_id;
    long long events = outbox_rows();

    const char *params[1] = {site_id};
    PQclear(PQexec(F.pg, "BEGIN"));
    PGresult *res = PQexecParams(F.pg, "SELECT 1 FROM sites WHERE id = $1::uuid FOR UPDATE", 1,
                                 NULL, params, NULL, NULL, 0);
    assert_int_equal(PQntuples(res), 1);
    PQclear(res);

    char path[128];
    snprintf(path, sizeof path, "/api/v1/accounts/sites/%s", site_id);
    test_call_t *a =
        test_http_start(&F.svc.loop, F.port, "PATCH", path, OP_AUTH, "{\"capacity_kg\":2000}");
    test_call_t *b =
        test_http_start(&F.svc.loop, F.port, "PATCH", path, OP_AUTH, "{\"threshold_pct\":25}");
    PGconn *watch = PQconnectdb(F.pg_url);
    assert_int_equal(PQstatus(watch), CONNECTION_OK);
    /* both requests are inside their transaction, blocked by the test */
    int spins = 0;
    while (lock_waiters(watch) < 2) {
        if (++spins > 5000)
            fail_msg("the two patches never both waited for the site's lock");
        uv_run(&F.svc.loop, UV_RUN_NOWAIT);
        uv_sleep(2);
    }
    PQfinish(watch);
    assert_false(test_http_done(a) || test_http_done(b));
    PQclear(PQexec(F.pg, "COMMIT"));

    test_resp_t ra, rb;
    test_http_finish(a, &ra);
    test_http_finish(b, &rb);
    expect_status(&ra, 200, "patch a");
    expect_status(&rb, 200, "patch b");
    long long va = jint(&ra, "version"), vb = jint(&rb, "version");
    assert_true((va == 2 && vb == 3) || (va == 3 && vb == 2));
    test_resp_dispose(&ra);
    test_resp_dispose(&rb);

    /* both changes are there, at version 3 */
    assert_int_equal(sql_count("SELECT count(*) FROM sites WHERE id = $1::uuid AND"
                               " capacity_kg = 2000 AND threshold_pct = 25 AND version = 3",
                               site_id),
                     1);
    /* two events; the later one holds both changes */
    assert_int_equal(outbox_rows(), events + 2);
    Citerne__V1__AccountsEvent *ev[8];
    size_t n = outbox_events(m.customer_id, ev, 8);
    assert_true(n >= 2);
    assert_int_equal(ev[n - 2]->body_case, BC(SITE_UPDATED));
    assert_int_equal(ev[n - 1]->body_case, BC(SITE_UPDATED));
    assert_int_equal(ev[n - 2]->site_updated->version, 2);
    const Citerne__V1__SiteUpdated *last = ev[n - 1]->site_updated;
    assert_int_equal(last->version, 3);
    assert_int_equal(last->capacity_kg, 2000);
    assert_int_equal(last->threshold_pct, 25);
    free_events(ev, n);
}

/* ---- PATCH /users/{id} ---- */

#define PASSWORD "correct horse battery"

/* The user's row as one text, to compare before and after (caller frees). */
static char *user_state(const char *user_id)
{
    const char *params[1] = {user_id};
    PGresult *res =
        PQexecParams(F.pg, "SELECT row_to_json(u)::text FROM users u WHERE id = $1::uuid", 1, NULL,
                     params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        fail_msg("user state: %s", PQerrorMessage(F.pg));
    char *text = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return text;
}

static void audit_rows_are(const char *user_id, const char *action, long long n)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE subject_id = $1::uuid AND actor_id IS NULL"
             " AND action = '%s'",
             action);
    assert_int_equal(sql_count(sql, user_id), n);
}

/* What a refused patch must leave as it was: the user's row (was, freed),
 * the tables' rows and the outbox. */
static void nothing_written(const char *user_id, char *was, long long rows, long long events)
{
    char *now = user_state(user_id);
    assert_string_equal(now, was);
    free(now);
    free(was);
    assert_int_equal(table_rows(), rows);
    assert_int_equal(outbox_rows(), events);
}

/* The parts of a problem that must not tell one 401 from another. */
static void expect_same_problem(const test_resp_t *a, const test_resp_t *b)
{
    assert_int_equal(a->status, b->status);
    static const char *const parts[] = {"type", "title", "detail"};
    for (size_t i = 0; i < 3; i++) {
        const char *x = json_string_value(json_object_get(a->json, parts[i]));
        const char *y = json_string_value(json_object_get(b->json, parts[i]));
        assert_true((!x && !y) || (x && y && strcmp(x, y) == 0));
    }
}

static void disabling_a_user_ends_their_sessions_and_enabling_restores_sign_in(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, PASSWORD);
    char other_email[64], other_id[37];
    make_user_as(&m, "admin", other_email, other_id); /* m's user is not the last admin */
    signed_in_t s1, s2, other;
    sign_in(&s1, "127.0.0.21", "Firefox", m.email, PASSWORD);
    sign_in(&s2, "127.0.0.22", "Safari", m.email, PASSWORD);
    sign_in(&other, "127.0.0.23", "Firefox", other_email, PASSWORD);
    assert_int_equal(me_status(&s1), 200);

    test_resp_t r;
    patch("users", m.user_id, "{\"status\":\"disabled\"}", &r);
    expect_status(&r, 200, "disable");
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "disabled");
    assert_string_equal(json_string_value(json_object_get(r.json, "email")), m.email);
    test_resp_dispose(&r);
    /* at once: no session of theirs answers, someone else's does */
    assert_int_equal(me_status(&s1), 401);
    assert_int_equal(me_status(&s2), 401);
    assert_int_equal(me_status(&other), 200);
    audit_rows_are(m.user_id, "user_disabled", 1);

    /* sign-in fails with the answer of a wrong password */
    test_resp_t disabled, wrong;
    login_from("127.0.0.24", NULL, m.email, PASSWORD, &disabled);
    login_from("127.0.0.24", NULL, other_email, "not the password at all", &wrong);
    assert_int_equal(disabled.status, 401);
    expect_same_problem(&disabled, &wrong);
    test_resp_dispose(&disabled);
    test_resp_dispose(&wrong);

    patch("users", m.user_id, "{\"status\":\"active\"}", &r);
    expect_status(&r, 200, "enable");
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "active");
    test_resp_dispose(&r);
    audit_rows_are(m.user_id, "user_enabled", 1);
    assert_int_equal(login_status(m.email, PASSWORD), 200);
}

static void a_name_change_publishes_the_profile(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, PASSWORD);
    long long events = outbox_rows();
    test_resp_t r;
    patch("users", m.user_id, "{\"name\":\"Marie Curie\"}", &r);
    expect_status(&r, 200, "rename");
    assert_string_equal(json_string_value(json_object_get(r.json, "name")), "Marie Curie");
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "active");
    test_resp_dispose(&r);
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE id = $1::uuid"
                               " AND name = 'Marie Curie'",
                               m.user_id),
                     1);
    assert_int_equal(outbox_rows(), events + 1);
    Citerne__V1__AccountsEvent *ev = last_event(m.customer_id, BC(USER_PROFILE_UPDATED));
    assert_non_null(ev);
    assert_string_equal(ev->user_profile_updated->user_id, m.user_id);
    assert_string_equal(ev->user_profile_updated->name, "Marie Curie");
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
}

static void the_last_active_admin_cannot_be_disabled(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, PASSWORD);
    char other_email[64], other_id[37];
    make_user_as(&m, "admin", other_email, other_id);
    test_resp_t r;
    /* the other admin disabled: m's user is the last active one */
    patch("users", other_id, "{\"status\":\"disabled\"}", &r);
    expect_status(&r, 200, "disable the other admin");
    test_resp_dispose(&r);
    signed_in_t si;
    sign_in(&si, "127.0.0.25", "Firefox", m.email, PASSWORD);
    char *was = user_state(m.user_id);
    long long rows = table_rows(), events = outbox_rows();

    patch("users", m.user_id, "{\"status\":\"disabled\",\"name\":\"Partie\"}", &r);
    expect_status(&r, 409, "last admin");
    expect_problem_type(&r, "last-admin");
    test_resp_dispose(&r);
    nothing_written(m.user_id, was, rows, events);
    audit_rows_are(m.user_id, "user_disabled", 0);
    assert_int_equal(me_status(&si), 200);
}

static void user_patches_refuse_email_phone_and_what_cannot_be(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, PASSWORD);
    char *was = user_state(m.user_id);
    long long rows = table_rows(), events = outbox_rows();
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{\"email\":\"someone.else@example.test\"}", "email"},
        {"{\"name\":\"Marie Curie\",\"phone\":\"+33612345678\"}", "phone"},
        {"{\"status\":\"pending\"}", "status"},
        {"{\"status\":null}", "status"},
        {"{\"name\":\"   \"}", "name"},
        {"{}", "name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_resp_t r;
        patch("users", m.user_id, cases[i].body, &r);
        expect_status(&r, 400, cases[i].body);
        if (!names_field(&r, cases[i].field))
            fail_msg("%s: %s not named in %s", cases[i].body, cases[i].field, r.body);
        test_resp_dispose(&r);
    }
    nothing_written(m.user_id, was, rows, events);

    /* a pending user activates through their link, not the back office */
    const char *params[1] = {m.user_id};
    PQclear(PQexecParams(F.pg, "UPDATE users SET status = 'pending' WHERE id = $1::uuid", 1, NULL,
                         params, NULL, NULL, 0));
    test_resp_t r;
    patch("users", m.user_id, "{\"status\":\"active\"}", &r);
    expect_status(&r, 409, "pending");
    expect_problem_type(&r, "cannot-activate");
    test_resp_dispose(&r);
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE id = $1::uuid"
                               " AND status = 'pending'",
                               m.user_id),
                     1);
}

static void user_patch_of_an_unknown_id_or_without_the_key(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, PASSWORD);
    signed_in_t si; /* an admin's session is not the operator's key */
    sign_in(&si, "127.0.0.26", "Firefox", m.email, PASSWORD);
    char unknown[37];
    ct_uuid_v7(unknown);
    char *was = user_state(m.user_id);
    long long rows = table_rows(), events = outbox_rows();
    test_resp_t r;
    patch("users", unknown, "{\"status\":\"disabled\"}", &r);
    expect_status(&r, 404, "unknown user");
    expect_problem_type(&r, "not-found");
    test_resp_dispose(&r);
    patch("users", "not-a-uuid", "{\"name\":\"X\"}", &r);
    expect_status(&r, 404, "not a uuid");
    test_resp_dispose(&r);

    char path[128];
    snprintf(path, sizeof path, "/api/v1/accounts/users/%s", m.user_id);
    const char *const headers[] = {NULL, "Authorization: Bearer not-the-operator-key-at-all\r\n",
                                   si.with_csrf};
    for (size_t i = 0; i < 3; i++) {
        call("PATCH", path, headers[i], "{\"status\":\"disabled\"}", &r);
        expect_status(&r, 401, "no key");
        expect_problem_type(&r, "unauthenticated");
        test_resp_dispose(&r);
    }
    nothing_written(m.user_id, was, rows, events);
    assert_int_equal(me_status(&si), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(customer_patch_changes_only_the_given_fields_with_one_event,
                               test_setup),
        cmocka_unit_test_setup(contract_patch_changes_only_the_given_fields_with_one_event,
                               test_setup),
        cmocka_unit_test_setup(site_patch_changes_only_the_given_fields_with_one_event, test_setup),
        cmocka_unit_test_setup(contract_mode_change_emits_one_site_updated_per_site, test_setup),
        cmocka_unit_test_setup(bad_patches_are_400_naming_the_field_with_nothing_written,
                               test_setup),
        cmocka_unit_test_setup(segment_change_needs_its_siret_and_plans_that_suit_it, test_setup),
        cmocka_unit_test_setup(unknown_id_is_404_with_nothing_written, test_setup),
        cmocka_unit_test_setup(updates_need_the_operator_key, test_setup),
        cmocka_unit_test_setup(two_patches_in_flight_on_one_site_both_land, test_setup),
        cmocka_unit_test_setup(disabling_a_user_ends_their_sessions_and_enabling_restores_sign_in,
                               test_setup),
        cmocka_unit_test_setup(a_name_change_publishes_the_profile, test_setup),
        cmocka_unit_test_setup(the_last_active_admin_cannot_be_disabled, test_setup),
        cmocka_unit_test_setup(user_patches_refuse_email_phone_and_what_cannot_be, test_setup),
        cmocka_unit_test_setup(user_patch_of_an_unknown_id_or_without_the_key, test_setup),
    };
    srandom((unsigned)getpid());
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
