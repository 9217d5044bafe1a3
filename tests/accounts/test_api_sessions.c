/* accounts API: login throttling, sessions and their timeouts, two-factor
 * authentication, new devices, password changes (see api_support.h). */
#define _GNU_SOURCE
#include "api_support.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
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
        cmocka_unit_test_setup(a_sign_in_from_a_new_device_is_told_to_the_user, test_setup),
        cmocka_unit_test_setup(changing_the_password_ends_every_other_session, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
