/* accounts API: changing the sign-in e-mail (POST /me/email, then the link
 * mailed to the new address, POST /me/email/confirm), see api_support.h. */
#define _GNU_SOURCE
#include "api_support.h"

#define PW "correct horse battery"

static int ask(const signed_in_t *si, const char *new_email, const char *password,
               test_resp_t *keep)
{
    char body[512];
    snprintf(body, sizeof body, "{\"new_email\":\"%s\",\"password\":\"%s\"}", new_email, password);
    test_resp_t r;
    call("POST", "/api/v1/accounts/me/email", si->with_csrf, body, &r);
    int status = r.status;
    if (keep)
        *keep = r;
    else
        test_resp_dispose(&r);
    return status;
}

static int confirm(const char *token, test_resp_t *keep)
{
    char body[256];
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", token);
    test_resp_t r;
    call("POST", "/api/v1/accounts/me/email/confirm", NULL, body, &r);
    int status = r.status;
    if (status == 400)
        expect_problem_type(&r, "invalid-token");
    if (status == 409)
        expect_problem_type(&r, "email-taken");
    if (keep)
        *keep = r;
    else
        test_resp_dispose(&r);
    return status;
}

/* The newest EmailChangeRequested keyed by customer_id: it is about user_id
 * and old_email, asks for new_email; token out: its link's token, "" when it
 * carries none. */
static void last_request(const made_t *m, const char *old_email, const char *new_email,
                         char token[65])
{
    Citerne__V1__AccountsEvent *ev =
        last_event(m->customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_EMAIL_CHANGE_REQUESTED);
    Citerne__V1__EmailChangeRequested *e = ev->email_change_requested;
    assert_string_equal(e->user_id, m->user_id);
    assert_string_equal(e->customer_id, m->customer_id);
    assert_string_equal(e->old_email, old_email);
    assert_string_equal(e->new_email, new_email);
    assert_string_equal(e->name, "Marie");
    token[0] = '\0';
    if (e->confirm_url[0]) {
        const char *t = strstr(e->confirm_url, "/confirm-email#token=");
        assert_non_null(t);
        assert_true(e->expires_at > ct_now_ms());
        snprintf(token, 65, "%s", t + 21);
        assert_int_equal(strlen(token), 64);
    } else {
        assert_int_equal(e->expires_at, 0);
    }
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
}

static long long requests_of(const char *user_id)
{
    return sql_count("SELECT count(*) FROM email_changes WHERE user_id = $1", user_id);
}

/* A household customer and its user, signed in (from 127.0.0.5). */
static void signed_in_user(made_t *m, signed_in_t *si)
{
    make_customer(m, "household");
    make_user(m, PW);
    sign_in(si, "127.0.0.5", NULL, m->email, PW);
}

/* The signed-in user asks for <prefix><seq>@example.test: addr and the
 * link's token out. */
static void requested(const made_t *m, const signed_in_t *si, const char *prefix, char addr[64],
                      char token[65])
{
    snprintf(addr, 64, "%s%d@example.test", prefix, F.seq);
    assert_int_equal(ask(si, addr, PW, NULL), 202);
    last_request(m, m->email, addr, token);
}

static void email_change_needs_the_password_a_good_address_and_csrf(void **state)
{
    REQUIRE_STACK();
    made_t m;
    signed_in_t si;
    signed_in_user(&m, &si);
    long long events = outbox_rows();
    char fresh[64];
    snprintf(fresh, sizeof fresh, "fresh%d@example.test", F.seq);

    test_resp_t r;
    assert_int_equal(ask(&si, fresh, "not my password", &r), 400);
    expect_problem_type(&r, "invalid-credentials");
    test_resp_dispose(&r);
    assert_int_equal(ask(&si, "not an address", PW, &r), 400);
    assert_true(names_field(&r, "new_email"));
    test_resp_dispose(&r);
    call("POST", "/api/v1/accounts/me/email", si.with_csrf, "{\"new_email\":\"a@b.fr\"}", &r);
    expect_status(&r, 400, "no password");
    assert_true(names_field(&r, "password"));
    test_resp_dispose(&r);
    /* the address they already have (in any case) */
    char upper[64];
    snprintf(upper, sizeof upper, "%s", m.email);
    upper[0] = 'U';
    assert_int_equal(ask(&si, upper, PW, &r), 400);
    assert_true(names_field(&r, "new_email"));
    test_resp_dispose(&r);
    /* a session is needed, with its CSRF token */
    char body[256];
    snprintf(body, sizeof body, "{\"new_email\":\"%s\",\"password\":\"%s\"}", fresh, PW);
    call("POST", "/api/v1/accounts/me/email", si.cookie, body, &r);
    expect_status(&r, 401, "no CSRF");
    test_resp_dispose(&r);
    call("POST", "/api/v1/accounts/me/email", NULL, body, &r);
    expect_status(&r, 401, "no session");
    test_resp_dispose(&r);
    /* nothing written by any refusal */
    assert_int_equal(outbox_rows(), events);
    assert_int_equal(requests_of(m.user_id), 0);
    assert_int_equal(login_status(m.email, PW), 200);
}

static void email_change_answers_the_same_whether_or_not_the_address_is_taken(void **state)
{
    REQUIRE_STACK();
    made_t m, other;
    make_customer(&m, "household");
    make_user(&m, PW);
    make_customer(&other, "household");
    make_user(&other, "another fine passphrase");
    signed_in_t si;
    sign_in(&si, "127.0.0.5", NULL, m.email, PW);
    char fresh[64], token[65];
    snprintf(fresh, sizeof fresh, "Fresh%d@Example.test", F.seq);
    char fresh_norm[64];
    snprintf(fresh_norm, sizeof fresh_norm, "fresh%d@example.test", F.seq);

    long long events = outbox_rows();
    test_resp_t free_r, taken_r;
    assert_int_equal(ask(&si, fresh, PW, &free_r), 202);
    /* a live request for the normalised address, stored as a hash */
    assert_int_equal(outbox_rows(), events + 1);
    last_request(&m, m.email, fresh_norm, token);
    assert_int_equal(sql_count("SELECT count(*) FROM email_changes WHERE token_hash ="
                               " sha256(convert_to($1, 'UTF8'))",
                               token),
                     1);
    assert_int_equal(sql_count("SELECT count(*) FROM email_changes WHERE"
                               " position(convert_to($1, 'UTF8') in token_hash) > 0",
                               token),
                     0);
    assert_int_equal(
        sql_count("SELECT count(*) FROM email_changes WHERE new_email = $1", fresh_norm), 1);

    /* someone's address: the same answer, no link for it, and the earlier
     * request is void too; the current address is told all the same */
    assert_int_equal(ask(&si, other.email, PW, &taken_r), 202);
    assert_string_equal(free_r.body, taken_r.body);
    test_resp_dispose(&free_r);
    test_resp_dispose(&taken_r);
    assert_int_equal(outbox_rows(), events + 2);
    char none[65];
    last_request(&m, m.email, other.email, none);
    assert_string_equal(none, "");
    assert_int_equal(requests_of(m.user_id), 0);
    assert_int_equal(confirm(token, NULL), 400);
    /* nothing reached the other account's customer, nothing changed */
    Citerne__V1__AccountsEvent *ev[16];
    size_t n = outbox_events(other.customer_id, ev, 16);
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(ev[i]->body_case,
                             CITERNE__V1__ACCOUNTS_EVENT__BODY_EMAIL_CHANGE_REQUESTED);
        citerne__v1__accounts_event__free_unpacked(ev[i], NULL);
    }
    assert_int_equal(login_status(m.email, PW), 200);
    assert_int_equal(login_status(other.email, "another fine passphrase"), 200);
    settle();
    assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE subject_id = $1::uuid"
                               " AND action = 'email_change_requested'",
                               m.user_id),
                     2);
}

static void confirmed_link_changes_the_email_once_and_ends_every_session(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, PW);
    signed_in_t a, b;
    sign_in(&a, "127.0.0.5", NULL, m.email, PW);
    sign_in(&b, "127.0.0.6", NULL, m.email, PW);
    char first_addr[64], second_addr[64], first[65], second[65], reset_token[65];
    snprintf(first_addr, sizeof first_addr, "first%d@example.test", F.seq);
    snprintf(second_addr, sizeof second_addr, "second%d@example.test", F.seq);

    /* a reset link sent to the old address must not outlive the change */
    test_resp_t r;
    forgot(m.email, &r);
    test_resp_dispose(&r);
    last_reset_token(m.customer_id, m.user_id, reset_token);

    assert_int_equal(ask(&a, first_addr, PW, NULL), 202);
    last_request(&m, m.email, first_addr, first);
    assert_int_equal(ask(&a, second_addr, PW, NULL), 202);
    last_request(&m, m.email, second_addr, second);
    assert_string_not_equal(first, second);
    assert_int_equal(requests_of(m.user_id), 1);
    /* nothing changes until the link is used */
    assert_int_equal(me_status(&a), 200);
    assert_int_equal(login_status(m.email, PW), 200);

    /* the older link is void, a malformed or unknown one too */
    assert_int_equal(confirm(first, NULL), 400);
    assert_int_equal(confirm("zz", NULL), 400);
    call("POST", "/api/v1/accounts/me/email/confirm", NULL, "{}", &r);
    expect_status(&r, 400, "no token");
    assert_true(names_field(&r, "token"));
    test_resp_dispose(&r);
    assert_int_equal(me_status(&a), 200);

    long long events = outbox_rows();
    assert_int_equal(confirm(second, NULL), 204);
    /* UserProfileUpdated (the read models) and EmailChanged (the old
     * address is told), in the transaction of the change */
    assert_int_equal(outbox_rows(), events + 2);
    /* every session ended at once; the new address signs in, the old not */
    assert_int_equal(me_status(&a), 401);
    assert_int_equal(me_status(&b), 401);
    assert_int_equal(login_status(second_addr, PW), 200);
    assert_int_equal(login_status(m.email, PW), 401);
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE email = $1", second_addr), 1);
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE email = $1", m.email), 0);
    /* single use; the reset link of the old address is gone */
    assert_int_equal(confirm(second, NULL), 400);
    assert_int_equal(requests_of(m.user_id), 0);
    assert_int_equal(reset(reset_token, "brand new password"), 400);
    assert_int_equal(login_status(second_addr, PW), 200);

    Citerne__V1__AccountsEvent *ev =
        last_event(m.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_PROFILE_UPDATED);
    assert_string_equal(ev->user_profile_updated->user_id, m.user_id);
    assert_string_equal(ev->user_profile_updated->email, second_addr);
    assert_string_equal(ev->user_profile_updated->name, "Marie");
    assert_int_equal(ev->user_profile_updated->n_preferences, 4);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    ev = last_event(m.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_EMAIL_CHANGED);
    assert_string_equal(ev->email_changed->user_id, m.user_id);
    assert_string_equal(ev->email_changed->customer_id, m.customer_id);
    assert_string_equal(ev->email_changed->old_email, m.email);
    assert_string_equal(ev->email_changed->new_email, second_addr);
    assert_string_equal(ev->email_changed->name, "Marie");
    assert_true(ev->email_changed->changed_at > 0);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    /* the register of the user's customer */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE customer_id = $1::uuid AND subject_id = '%s'"
             " AND action = 'email_changed' AND detail->>'new_email' = '%s'",
             m.user_id, second_addr);
    assert_int_equal(sql_count(sql, m.customer_id), 1);
}

static void email_change_link_expires(void **state)
{
    REQUIRE_STACK();
    made_t m;
    signed_in_t si;
    signed_in_user(&m, &si);
    char addr[64], token[65];
    snprintf(addr, sizeof addr, "later%d@example.test", F.seq);
    unsigned saved = F.accounts.email_change_ttl_s;
    F.accounts.email_change_ttl_s = 1;
    assert_int_equal(ask(&si, addr, PW, NULL), 202);
    F.accounts.email_change_ttl_s = saved;
    last_request(&m, m.email, addr, token);
    uv_sleep(1100);
    assert_int_equal(confirm(token, NULL), 400);
    assert_int_equal(me_status(&si), 200);
    assert_int_equal(login_status(m.email, PW), 200);
    assert_int_equal(login_status(addr, PW), 401);
}

static void address_taken_before_the_link_is_used_is_refused(void **state)
{
    REQUIRE_STACK();
    made_t m;
    signed_in_t si;
    signed_in_user(&m, &si);
    char addr[64], token[65];
    requested(&m, &si, "contested", addr, token);
    /* someone else gets the address first */
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"email\":\"%s\",\"name\":\"Paul\",\"role\":\"viewer\","
             "\"password\":\"another fine passphrase\"}",
             m.customer_id, addr);
    test_resp_t r;
    call("POST", "/api/v1/accounts/users", OP_AUTH, body, &r);
    expect_status(&r, 201, "the address taken meanwhile");
    test_resp_dispose(&r);

    long long events = outbox_rows();
    assert_int_equal(confirm(token, NULL), 409);
    /* nothing changed: the sessions, the address, the events */
    assert_int_equal(outbox_rows(), events);
    assert_int_equal(me_status(&si), 200);
    assert_int_equal(login_status(m.email, PW), 200);
    assert_int_equal(login_status(addr, "another fine passphrase"), 200);
}

static void email_change_links_to_one_address_are_capped_per_hour(void **state)
{
    REQUIRE_STACK();
    made_t m;
    signed_in_t si;
    signed_in_user(&m, &si);
    char addr[64];
    snprintf(addr, sizeof addr, "flooded%d@example.test", F.seq);
    long long events = outbox_rows();
    for (int i = 0; i < 7; i++)
        assert_int_equal(ask(&si, addr, PW, NULL), 202);
    assert_int_equal(outbox_rows(), events + 5);
}

static void closing_the_account_voids_a_change_request(void **state)
{
    REQUIRE_STACK();
    made_t m;
    make_customer(&m, "household");
    make_user(&m, PW);
    make_user_as(&m, "admin", (char[64]){0}, (char[37]){0}); /* m's user is not the last admin */
    signed_in_t si;
    sign_in(&si, "127.0.0.5", NULL, m.email, PW);
    char addr[64], token[65];
    requested(&m, &si, "leaving", addr, token);
    test_resp_t r;
    call("POST", "/api/v1/accounts/me/close", si.with_csrf, "{\"password\":\"" PW "\"}", &r);
    expect_status(&r, 204, "close");
    test_resp_dispose(&r);
    assert_int_equal(requests_of(m.user_id), 0);
    assert_int_equal(confirm(token, NULL), 400);
    assert_int_equal(sql_count("SELECT count(*) FROM users WHERE email = $1", addr), 0);
}

static void a_new_password_voids_a_change_request(void **state)
{
    REQUIRE_STACK();
    made_t m;
    signed_in_t si;
    signed_in_user(&m, &si);
    char addr[64], token[65];
    requested(&m, &si, "hijack", addr, token);
    /* the owner, told of the request, changes the password */
    test_resp_t r;
    call("POST", "/api/v1/accounts/me/password", si.with_csrf,
         "{\"current_password\":\"" PW "\",\"new_password\":\"brand new password\"}", &r);
    expect_status(&r, 204, "password change");
    test_resp_dispose(&r);
    assert_int_equal(requests_of(m.user_id), 0);
    assert_int_equal(confirm(token, NULL), 400);
    assert_int_equal(login_status(m.email, "brand new password"), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(email_change_needs_the_password_a_good_address_and_csrf, test_setup),
        cmocka_unit_test_setup(email_change_answers_the_same_whether_or_not_the_address_is_taken,
                               test_setup),
        cmocka_unit_test_setup(confirmed_link_changes_the_email_once_and_ends_every_session,
                               test_setup),
        cmocka_unit_test_setup(email_change_link_expires, test_setup),
        cmocka_unit_test_setup(address_taken_before_the_link_is_used_is_refused, test_setup),
        cmocka_unit_test_setup(email_change_links_to_one_address_are_capped_per_hour, test_setup),
        cmocka_unit_test_setup(closing_the_account_voids_a_change_request, test_setup),
        cmocka_unit_test_setup(a_new_password_voids_a_change_request, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
