/* accounts API: a new phone number is proven by a code sent by SMS before
 * it is used (PATCH /me/profile, POST /me/phone/verify, /me/phone/resend),
 * see api_support.h. The code is read from PhoneVerificationRequested in
 * the outbox, as notify would. */
#define _GNU_SOURCE
#include "api_support.h"

#define PW "correct horse battery"
#define NEW_PHONE "+33611223344"

static void signed_in_user(made_t *m, signed_in_t *si, const char *from)
{
    make_customer(m, "household");
    make_user(m, PW);
    sign_in(si, from, NULL, m->email, PW);
}

static int patch_profile(const signed_in_t *si, const char *body, test_resp_t *keep)
{
    test_resp_t r;
    call("PATCH", "/api/v1/accounts/me/profile", si->with_csrf, body, &r);
    int status = r.status;
    if (keep)
        *keep = r;
    else
        test_resp_dispose(&r);
    return status;
}

static int ask_code(const signed_in_t *si, const char *phone)
{
    char body[64];
    snprintf(body, sizeof body, "{\"phone\":\"%s\"}", phone);
    return patch_profile(si, body, NULL);
}

static int resend(const signed_in_t *si)
{
    test_resp_t r;
    call("POST", "/api/v1/accounts/me/phone/resend", si->with_csrf, NULL, &r);
    int status = r.status;
    test_resp_dispose(&r);
    return status;
}

/* 1 when user_id's phone is phone (NULL: none). */
static long long phone_of_is(const char *user_id, const char *phone)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM users WHERE id = $1 AND phone %s%s%s",
             phone ? "= '" : "IS NULL", phone ? phone : "", phone ? "'" : "");
    return sql_count(sql, user_id);
}

static long long events_of(const char *customer_id, int bc)
{
    Citerne__V1__AccountsEvent *ev[64];
    size_t n = outbox_events(customer_id, ev, 64);
    long long count = 0;
    for (size_t i = 0; i < n; i++) {
        count += (int)ev[i]->body_case == bc;
        citerne__v1__accounts_event__free_unpacked(ev[i], NULL);
    }
    return count;
}

#define PROFILE_UPDATED CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_PROFILE_UPDATED
#define CODE_SENT CITERNE__V1__ACCOUNTS_EVENT__BODY_PHONE_VERIFICATION_REQUESTED

/* The new number is pending, a code goes to it, the phone and the profile
 * event wait; the table holds neither the code nor its plain SHA-256. */
static void a_new_phone_waits_for_its_code(void **state)
{
    REQUIRE_STACK();
    made_t m;
    signed_in_t si;
    signed_in_user(&m, &si, "127.0.7.1");
    test_resp_t r;
    assert_int_equal(patch_profile(&si, "{\"phone\":\"" NEW_PHONE "\"}", &r), 200);
    assert_true(json_is_null(json_object_get(r.json, "phone")));
    assert_string_equal(jstr(&r, "phone_pending"), NEW_PHONE);
    test_resp_dispose(&r);
    call("GET", "/api/v1/accounts/me/profile", si.cookie, NULL, &r);
    expect_status(&r, 200, "profile");
    assert_true(json_is_null(json_object_get(r.json, "phone")));
    assert_string_equal(jstr(&r, "phone_pending"), NEW_PHONE);
    test_resp_dispose(&r);
    assert_int_equal(phone_of_is(m.user_id, NULL), 1);
    assert_int_equal(events_of(m.customer_id, PROFILE_UPDATED), 0);
    assert_int_equal(events_of(m.customer_id, CODE_SENT), 1);
    char code[7];
    last_phone_code(m.customer_id, m.user_id, NEW_PHONE, code);
    /* ten minutes, and the event says when */
    Citerne__V1__AccountsEvent *ev = last_event(m.customer_id, CODE_SENT);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM phone_verifications WHERE user_id = $1 AND tries_left = 5"
             " AND expires_at - created_at = interval '600 s'"
             " AND (extract(epoch FROM expires_at) * 1000)::bigint = %lld",
             (long long)ev->phone_verification_requested->expires_at);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    assert_int_equal(sql_count(sql, m.user_id), 1);
    assert_int_equal(sql_count("SELECT count(*) FROM phone_verifications"
                               " WHERE code_hash = sha256(convert_to($1, 'UTF8'))"
                               " OR position(convert_to($1, 'UTF8') IN code_hash) > 0",
                               code),
                     0);
    assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE subject_id = $1"
                               " AND action = 'phone_verification_requested'",
                               m.user_id),
                     1);
    /* the same number again is a new code (throttled), the old one void */
    assert_int_equal(ask_code(&si, NEW_PHONE), 200);
    char code2[7];
    last_phone_code(m.customer_id, m.user_id, NEW_PHONE, code2);
    if (strcmp(code, code2) != 0)
        assert_int_equal(verify_phone(&si, code, NULL), 400);
}

/* The right code sets the phone once, with UserProfileUpdated and the
 * register in the same transaction; the code is then used up. */
static void the_right_code_sets_the_phone_once(void **state)
{
    REQUIRE_STACK();
    made_t m;
    signed_in_t si;
    signed_in_user(&m, &si, "127.0.7.2");
    assert_int_equal(ask_code(&si, NEW_PHONE), 200);
    char code[7];
    last_phone_code(m.customer_id, m.user_id, NEW_PHONE, code);
    test_resp_t r;
    call("POST", "/api/v1/accounts/me/phone/verify", si.cookie, "{\"code\":\"123456\"}", &r);
    expect_status(&r, 401, "verify without CSRF");
    test_resp_dispose(&r);
    /* without a session the shape of the code is not even looked at */
    call("POST", "/api/v1/accounts/me/phone/verify", NULL, "{\"code\":\"12x\"}", &r);
    expect_status(&r, 401, "a malformed code without a session");
    test_resp_dispose(&r);
    /* a longer code is not cut down to one that fits */
    char longer[32];
    snprintf(longer, sizeof longer, "{\"code\":\"%s0\"}", code);
    call("POST", "/api/v1/accounts/me/phone/verify", si.with_csrf, longer, &r);
    expect_status(&r, 400, "the code with one more digit");
    test_resp_dispose(&r);
    call("POST", "/api/v1/accounts/me/phone/verify", si.with_csrf, "{\"code\":123456}", &r);
    expect_status(&r, 400, "a code that is not a string");
    assert_true(names_field(&r, "code"));
    test_resp_dispose(&r);

    assert_int_equal(verify_phone(&si, code, &r), 200);
    assert_string_equal(jstr(&r, "phone"), NEW_PHONE);
    assert_true(json_is_null(json_object_get(r.json, "phone_pending")));
    test_resp_dispose(&r);
    assert_int_equal(phone_of_is(m.user_id, NEW_PHONE), 1);
    Citerne__V1__AccountsEvent *ev = last_event(m.customer_id, PROFILE_UPDATED);
    assert_string_equal(ev->user_profile_updated->user_id, m.user_id);
    assert_string_equal(ev->user_profile_updated->phone, NEW_PHONE);
    assert_int_equal(ev->user_profile_updated->n_preferences, 4);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    assert_int_equal(events_of(m.customer_id, PROFILE_UPDATED), 1);
    assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE subject_id = $1"
                               " AND action = 'phone_verified'",
                               m.user_id),
                     1);
    /* single use */
    assert_int_equal(verify_phone(&si, code, NULL), 400);
    assert_int_equal(
        sql_count("SELECT count(*) FROM phone_verifications WHERE user_id = $1", m.user_id), 0);
    /* the number already the user's needs no code */
    long long codes = events_of(m.customer_id, CODE_SENT);
    assert_int_equal(patch_profile(&si, "{\"phone\":\"" NEW_PHONE "\",\"name\":\"Marie\"}", &r),
                     200);
    assert_string_equal(jstr(&r, "phone"), NEW_PHONE);
    assert_true(json_is_null(json_object_get(r.json, "phone_pending")));
    test_resp_dispose(&r);
    assert_int_equal(events_of(m.customer_id, CODE_SENT), codes);
}

/* Wrong codes count: the fifth makes the code void, even for the right
 * one; a new code works. A code of another shape is refused alike. */
static void five_wrong_codes_void_the_code(void **state)
{
    REQUIRE_STACK();
    made_t m;
    signed_in_t si;
    signed_in_user(&m, &si, "127.0.7.3");
    assert_int_equal(ask_code(&si, NEW_PHONE), 200);
    char code[7], wrong[12];
    last_phone_code(m.customer_id, m.user_id, NEW_PHONE, code);
    snprintf(wrong, sizeof wrong, "%06d", (atoi(code) + 1) % 1000000);
    assert_int_equal(verify_phone(&si, "12ab56", NULL), 400);
    assert_int_equal(verify_phone(&si, "1234567", NULL), 400);
    for (int i = 0; i < 4; i++)
        assert_int_equal(verify_phone(&si, wrong, NULL), 400);
    assert_int_equal(
        sql_count("SELECT tries_left FROM phone_verifications WHERE user_id = $1", m.user_id), 1);
    assert_int_equal(verify_phone(&si, wrong, NULL), 400);
    assert_int_equal(verify_phone(&si, code, NULL), 400);
    assert_int_equal(phone_of_is(m.user_id, NULL), 1);
    assert_int_equal(events_of(m.customer_id, PROFILE_UPDATED), 0);

    assert_int_equal(resend(&si), 202);
    last_phone_code(m.customer_id, m.user_id, NEW_PHONE, code);
    assert_int_equal(verify_phone(&si, code, NULL), 200);
    assert_int_equal(phone_of_is(m.user_id, NEW_PHONE), 1);
}

static void the_code_expires(void **state)
{
    REQUIRE_STACK();
    made_t m;
    signed_in_t si;
    signed_in_user(&m, &si, "127.0.7.4");
    unsigned saved = F.accounts.phone_code_ttl_s;
    F.accounts.phone_code_ttl_s = 1;
    assert_int_equal(ask_code(&si, NEW_PHONE), 200);
    F.accounts.phone_code_ttl_s = saved;
    char code[7];
    last_phone_code(m.customer_id, m.user_id, NEW_PHONE, code);
    uv_sleep(1100);
    assert_int_equal(verify_phone(&si, code, NULL), 400);
    assert_int_equal(phone_of_is(m.user_id, NULL), 1);
    /* an expired code can be replaced: the number is still pending */
    assert_int_equal(resend(&si), 202);
    last_phone_code(m.customer_id, m.user_id, NEW_PHONE, code);
    assert_int_equal(verify_phone(&si, code, NULL), 200);
}

/* A resend replaces the code: the old one is void, the new one works. */
static void a_resent_code_voids_the_old_one(void **state)
{
    REQUIRE_STACK();
    made_t m;
    signed_in_t si;
    signed_in_user(&m, &si, "127.0.7.5");
    assert_int_equal(resend(&si), 409); /* nothing pending */
    assert_int_equal(ask_code(&si, NEW_PHONE), 200);
    char old[7], code[7];
    last_phone_code(m.customer_id, m.user_id, NEW_PHONE, old);
    /* until the two codes differ (one chance in a million they do not) */
    do {
        assert_int_equal(resend(&si), 202);
        last_phone_code(m.customer_id, m.user_id, NEW_PHONE, code);
        redis_delete("acct:sms:*");
    } while (strcmp(old, code) == 0);
    assert_int_equal(verify_phone(&si, old, NULL), 400);
    assert_int_equal(verify_phone(&si, code, NULL), 200);
    assert_int_equal(resend(&si), 409); /* proven: nothing pending any more */
}

/* Three codes per user and hour; ten per number and day, whoever asks;
 * past them 429 and nothing sent; Redis unable to answer: 503. */
static void codes_are_throttled_per_user_and_per_number(void **state)
{
    REQUIRE_STACK();
    made_t m[4];
    signed_in_t si[4];
    for (int i = 0; i < 4; i++) {
        char from[32];
        snprintf(from, sizeof from, "127.0.7.%d", 10 + i);
        signed_in_user(&m[i], &si[i], from);
    }
    assert_int_equal(ask_code(&si[0], NEW_PHONE), 200);
    assert_int_equal(resend(&si[0]), 202);
    assert_int_equal(resend(&si[0]), 202);
    test_resp_t r;
    call("POST", "/api/v1/accounts/me/phone/resend", si[0].with_csrf, NULL, &r);
    expect_status(&r, 429, "a fourth code in the hour");
    expect_problem_type(&r, "too-many-attempts");
    char *after = test_resp_header(&r, "Retry-After");
    assert_non_null(after);
    assert_true(atoi(after) > 0 && atoi(after) <= 3600);
    free(after);
    test_resp_dispose(&r);
    assert_int_equal(ask_code(&si[0], "+33699887766"), 429);
    assert_int_equal(events_of(m[0].customer_id, CODE_SENT), 3);

    /* the number: ten in all, from three more users */
    int sent = 3;
    for (int i = 1; i < 4; i++)
        for (int k = 0; k < 3; k++)
            if (ask_code(&si[i], NEW_PHONE) == 200)
                sent++;
    assert_int_equal(sent, 10);
    assert_int_equal(ask_code(&si[3], NEW_PHONE), 429);
    assert_int_equal(events_of(m[3].customer_id, CODE_SENT), 1);

    /* fail closed */
    redis_delete("acct:sms:*");
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)m[1].user_id, strlen(m[1].user_id));
    char hex[2 * crypto_hash_sha256_BYTES + 1], key[128];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    snprintf(key, sizeof key, "acct:sms:user:%s", hex);
    freeReplyObject(redisCommand(F.redis, "SET %s not-a-sorted-set", key));
    long long codes = events_of(m[1].customer_id, CODE_SENT);
    assert_int_equal(ask_code(&si[1], "+33699887766"), 503);
    assert_int_equal(resend(&si[1]), 503);
    assert_int_equal(events_of(m[1].customer_id, CODE_SENT), codes);
    redis_delete("acct:sms:*");
}

/* null removes the phone at once (no code), and a pending number with it. */
static void removing_the_phone_needs_no_code(void **state)
{
    REQUIRE_STACK();
    made_t m;
    signed_in_t si;
    signed_in_user(&m, &si, "127.0.7.6");
    assert_int_equal(ask_code(&si, NEW_PHONE), 200);
    char code[7];
    last_phone_code(m.customer_id, m.user_id, NEW_PHONE, code);
    assert_int_equal(verify_phone(&si, code, NULL), 200);
    assert_int_equal(ask_code(&si, "+33699887766"), 200);
    long long codes = events_of(m.customer_id, CODE_SENT);
    test_resp_t r;
    /* until the new number is proven, the old one stays */
    call("GET", "/api/v1/accounts/me/profile", si.cookie, NULL, &r);
    assert_string_equal(jstr(&r, "phone"), NEW_PHONE);
    assert_string_equal(jstr(&r, "phone_pending"), "+33699887766");
    test_resp_dispose(&r);

    assert_int_equal(patch_profile(&si, "{\"phone\":null}", &r), 200);
    assert_true(json_is_null(json_object_get(r.json, "phone")));
    assert_true(json_is_null(json_object_get(r.json, "phone_pending")));
    test_resp_dispose(&r);
    assert_int_equal(phone_of_is(m.user_id, NULL), 1);
    assert_int_equal(events_of(m.customer_id, CODE_SENT), codes);
    Citerne__V1__AccountsEvent *ev = last_event(m.customer_id, PROFILE_UPDATED);
    assert_string_equal(ev->user_profile_updated->phone, "");
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    assert_int_equal(events_of(m.customer_id, PROFILE_UPDATED), 2);
    assert_int_equal(resend(&si), 409);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(a_new_phone_waits_for_its_code, test_setup),
        cmocka_unit_test_setup(the_right_code_sets_the_phone_once, test_setup),
        cmocka_unit_test_setup(five_wrong_codes_void_the_code, test_setup),
        cmocka_unit_test_setup(the_code_expires, test_setup),
        cmocka_unit_test_setup(a_resent_code_voids_the_old_one, test_setup),
        cmocka_unit_test_setup(codes_are_throttled_per_user_and_per_number, test_setup),
        cmocka_unit_test_setup(removing_the_phone_needs_no_code, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
