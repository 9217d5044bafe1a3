/* accounts API: what a customer's people do together: collaborators and
 * roles, the access register, profiles, personal data and closing an account
 * (see api_support.h). */
#define _GNU_SOURCE
#include "api_support.h"

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
    assert_string_equal(jstr(&r, "status"), "invited");
    assert_null(json_object_get(r.json, "user_id"));
    test_resp_dispose(&r);
    Citerne__V1__AccountsEvent *ev =
        last_event(a.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_ADDED);
    assert_string_equal(ev->collaborator_added->email, newcomer);
    assert_string_equal(ev->collaborator_added->role, "orderer");
    assert_string_equal(ev->collaborator_added->added_by, a.user_id);
    const char *t = strstr(ev->collaborator_added->activation_url, "/activate#token=");
    assert_non_null(t);
    char token[65], newcomer_id[37];
    snprintf(token, sizeof token, "%s", t + 16);
    snprintf(newcomer_id, sizeof newcomer_id, "%s", ev->collaborator_added->user_id);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    assert_int_equal(activate(token, "a fine long passphrase", NULL), 204);
    signed_in_t invited;
    sign_in(&invited, "127.0.0.7", NULL, newcomer, "a fine long passphrase");

    /* someone with an account already: invited the same way, no access
     * until they accept */
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"role\":\"viewer\"}", c.email);
    assert_int_equal(collab(&admin, "POST", a.customer_id, NULL, body, &r), 201);
    assert_string_equal(jstr(&r, "status"), "invited");
    char invitation[37];
    snprintf(invitation, sizeof invitation, "%s", jstr(&r, "invitation_id"));
    test_resp_dispose(&r);
    assert_int_equal(
        sql_count("SELECT count(*) FROM user_customers WHERE user_id = $1::uuid", c.user_id), 1);
    ev = last_event(a.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_INVITED);
    assert_string_equal(ev->collaborator_invited->user_id, c.user_id);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    assert_int_equal(collab(&admin, "POST", a.customer_id, NULL, body, &r), 409);
    expect_problem_type(&r, "already-collaborator");
    test_resp_dispose(&r);
    char path[160];
    snprintf(path, sizeof path, "/api/v1/accounts/me/invitations/%s/accept", invitation);
    call("POST", path, other.with_csrf, NULL, &r);
    expect_status(&r, 200, "accepting");
    test_resp_dispose(&r);
    ev = last_event(a.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_ADDED);
    assert_string_equal(ev->collaborator_added->user_id, c.user_id);
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
    /* the invitation names no account; the activation does (its subject's
     * address starts with "=": neutralised in the CSV below) */
    Citerne__V1__AccountsEvent *ev =
        last_event(a.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_ADDED);
    char token[65];
    snprintf(token, sizeof token, "%s",
             strstr(ev->collaborator_added->activation_url, "#token=") + 7);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    assert_int_equal(activate(token, "a fine long passphrase", NULL), 204);
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
    assert_true(has_entry(entries, "collaborator_invited", a.user_id, NULL));
    /* B's admin's sign-in is B's business only */
    assert_false(has_entry(entries, "signed_in", b.user_id, NULL));
    json_t *newest = json_array_get(entries, 1); /* before account_activated */
    assert_string_equal(json_string_value(json_object_get(newest, "action")),
                        "collaborator_invited");
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
    assert_non_null(strstr(r.body, "\"collaborator_invited\""));
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
    /* the new number waits for its code (accounts_api_phone tests that) */
    assert_true(json_is_null(json_object_get(r.json, "phone")));
    assert_string_equal(jstr(&r, "phone_pending"), "+33611223344");
    prefs = json_object_get(r.json, "preferences");
    assert_string_equal(json_string_value(json_object_get(prefs, "invoice_issued")), "email");
    assert_string_equal(json_string_value(json_object_get(prefs, "order_proposed")), "none");
    assert_string_equal(json_string_value(json_object_get(prefs, "delivery_scheduled")), "both");
    test_resp_dispose(&r);
    assert_int_equal(outbox_rows(), events + 2); /* the profile and the code */
    Citerne__V1__AccountsEvent *ev =
        last_event(m.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_PROFILE_UPDATED);
    Citerne__V1__UserProfileUpdated *p = ev->user_profile_updated;
    assert_string_equal(p->user_id, m.user_id);
    assert_string_equal(p->name, "Marie Curie");
    assert_string_equal(p->phone, "");
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
    char code[7];
    last_phone_code(m.customer_id, m.user_id, "+33611223344", code);
    assert_int_equal(verify_phone(&si, code, &r), 200);
    assert_string_equal(jstr(&r, "phone"), "+33611223344");
    test_resp_dispose(&r);

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(an_admin_invites_changes_roles_and_removes_touching_nobody_else,
                               test_setup),
        cmocka_unit_test_setup(a_viewer_cannot_invite_and_another_customers_ids_are_404,
                               test_setup),
        cmocka_unit_test_setup(admins_read_the_access_register_and_export_it_as_csv, test_setup),
        cmocka_unit_test_setup(profile_and_preferences_are_published_whole, test_setup),
        cmocka_unit_test_setup(users_export_their_data_and_close_their_account, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
