/* accounts API: the links sent by e-mail (password reset, sign-up
 * activation) and linking another customer (see api_support.h). */
#define _GNU_SOURCE
#include "api_support.h"

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
             "INSERT INTO customer_invoices (customer_id, invoice_number, issue_date)"
             " VALUES ('%s', 'F2026-%06d', current_date)",
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

static void linking_a_customer_needs_its_number_and_an_invoice(void **state)
{
    REQUIRE_STACK();
    made_t a, b;
    make_customer(&a, "household");
    make_user(&a, "correct horse battery");
    make_customer(&b, "business");
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO customer_invoices (customer_id, invoice_number, issue_date)"
             " VALUES ('%s', 'F2026-9%05d', current_date)",
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

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Median time of n calls of POST path with body (ns), each from its own
 * address (so that the sign-up throttle stays out of the way). */
static uint64_t median_ns(const char *path, const char *const *bodies, int n)
{
    uint64_t t[16];
    for (int i = 0; i < n; i++) {
        test_resp_t r;
        char src[32];
        snprintf(src, sizeof src, "127.0.2.%d", i + 1);
        uint64_t start = uv_hrtime();
        test_http_from(&F.svc.loop, F.port, src, "POST", path, NULL, bodies[i], &r);
        t[i] = uv_hrtime() - start;
        expect_status(&r, 202, path);
        test_resp_dispose(&r);
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_u64);
    return t[n / 2];
}

/* Not a benchmark: a guard that the answer for an existing account does not
 * take visibly longer (say, a mail sent inline). Medians of 9, within 50 ms. */
static void known_and_unknown_get_their_answer_in_similar_time(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer_with_phone(&m, "+33612345670");
    make_user(&m, "correct horse battery");
    char known[9][256], unknown[9][256], su_known[9][256], su_unknown[9][256];
    const char *k[9], *u[9], *sk[9], *su[9];
    for (int i = 0; i < 9; i++) {
        snprintf(known[i], sizeof known[i], "{\"email\":\"%s\"}", m.email);
        snprintf(unknown[i], sizeof unknown[i], "{\"email\":\"nobody%d.%d@example.test\"}", F.seq,
                 i);
        snprintf(su_known[i], sizeof su_known[i],
                 "{\"customer_number\":\"%s\",\"phone\":\"+33612345670\","
                 "\"email\":\"timing%d.%d@example.test\"}",
                 m.number, F.seq, i);
        snprintf(su_unknown[i], sizeof su_unknown[i],
                 "{\"customer_number\":\"C9%06d\",\"phone\":\"+33612345670\","
                 "\"email\":\"timing%d.%d@example.test\"}",
                 F.seq * 10 + i, F.seq, i);
        k[i] = known[i];
        u[i] = unknown[i];
        sk[i] = su_known[i];
        su[i] = su_unknown[i];
    }
    /* the mail quota would cut the known e-mail's work short after 5 */
    redis_delete("acct:mail:*");
    uint64_t a = median_ns("/api/v1/accounts/password/forgot", k, 5);
    uint64_t b = median_ns("/api/v1/accounts/password/forgot", u, 5);
    uint64_t c = median_ns("/api/v1/accounts/signup", sk, 9);
    uint64_t d = median_ns("/api/v1/accounts/signup", su, 9);
    fprintf(stderr, "forgot: known %.1f ms, unknown %.1f ms; signup: proven %.1f ms, not %.1f ms\n",
            a / 1e6, b / 1e6, c / 1e6, d / 1e6);
    const uint64_t limit = 50 * 1000 * 1000;
    if ((a > b ? a - b : b - a) > limit || (c > d ? c - d : d - c) > limit)
        fail_msg("answers differ by more than 50 ms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(forgot_answers_the_same_whether_or_not_the_email_exists, test_setup),
        cmocka_unit_test_setup(reset_link_works_once_voids_older_links_and_ends_every_session,
                               test_setup),
        cmocka_unit_test_setup(reset_link_expires, test_setup),
        cmocka_unit_test_setup(reset_mails_to_one_address_are_capped_per_hour, test_setup),
        cmocka_unit_test_setup(signup_answers_the_same_whether_or_not_the_customer_exists,
                               test_setup),
        cmocka_unit_test_setup(activation_link_sets_a_good_password_once_and_expires, test_setup),
        cmocka_unit_test_setup(linking_a_customer_needs_its_number_and_an_invoice, test_setup),
        cmocka_unit_test_setup(known_and_unknown_get_their_answer_in_similar_time, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
