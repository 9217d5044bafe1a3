/* Proving a customer by invoice, at sign-up and when linking: only a recent
 * invoice proves (README: Proving a customer by invoice), and each customer
 * number has a budget of failed invoice proofs shared by every caller and
 * address, which refuses a right invoice too while it is spent. */
#include "api_support.h"

#define LINK "/api/v1/accounts/me/customers"
#define SIGNUP "/api/v1/accounts/signup"

/* An invoice of m's customer issued `age` ago (an SQL interval), or with no
 * issue date when age is NULL; its number into number. */
static void add_invoice(const made_t *m, const char *age, char number[32])
{
    static int n;
    snprintf(number, 32, "FA2026-%03d%03d", F.seq, ++n);
    char sql[512];
    if (age)
        snprintf(sql, sizeof sql,
                 "INSERT INTO customer_invoices (customer_id, invoice_number, issue_date)"
                 " VALUES ('%s', '%s', (now() AT TIME ZONE 'Europe/Paris')::date - interval '%s')",
                 m->customer_id, number, age);
    else
        snprintf(sql, sizeof sql,
                 "INSERT INTO customer_invoices (customer_id, invoice_number) VALUES ('%s', '%s')",
                 m->customer_id, number);
    PGresult *res = PQexec(F.pg, sql);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
}

/* POST /me/customers from src; the status, the body into body_out (caller frees). */
static int link_from(const char *src, const signed_in_t *si, const char *number,
                     const char *invoice, char **body_out, unsigned *retry)
{
    char body[256];
    snprintf(body, sizeof body, "{\"customer_number\":\"%s\",\"invoice_number\":\"%s\"}", number,
             invoice);
    test_resp_t r;
    test_http_from(&F.svc.loop, F.port, src, "POST", LINK, si->with_csrf, body, &r);
    int status = r.status;
    if (body_out)
        *body_out = strdup(r.body ? r.body : "");
    if (retry)
        *retry = retry_after(&r);
    test_resp_dispose(&r);
    return status;
}

/* POST /signup from src with an invoice (and a phone when not NULL). */
static int signup_from(const char *src, const char *number, const char *invoice, const char *phone,
                       const char *email, char **body_out)
{
    char body[512], extra[64] = "";
    if (phone)
        snprintf(extra, sizeof extra, ",\"phone\":\"%s\"", phone);
    snprintf(body, sizeof body,
             "{\"customer_number\":\"%s\",\"invoice_number\":\"%s\",\"email\":\"%s\"%s}", number,
             invoice, email, extra);
    test_resp_t r;
    test_http_from(&F.svc.loop, F.port, src, "POST", SIGNUP, NULL, body, &r);
    int status = r.status;
    if (body_out)
        *body_out = strdup(r.body ? r.body : "");
    test_resp_dispose(&r);
    return status;
}

static long long users_with_email(const char *email)
{
    return sql_count("SELECT count(*) FROM users WHERE email = $1", email);
}

static void only_an_invoice_of_the_last_24_months_proves_a_customer(void **state)
{
    REQUIRE_STACK();
    made_t a, b;
    make_customer(&a, "household");
    make_user(&a, "correct horse battery");
    make_customer(&b, "household");
    char recent[32], edge[32], old[32], undated[32];
    add_invoice(&b, "1 month", recent);
    add_invoice(&b, "23 months 27 days", edge);
    add_invoice(&b, "24 months 1 day", old);
    add_invoice(&b, NULL, undated);
    signed_in_t si;
    sign_in(&si, "127.0.3.1", NULL, a.email, "correct horse battery");

    /* sign-up: an old or undated invoice is a wrong proof (same answer, nothing made) */
    char email[64], *wrong = NULL, *answer = NULL;
    snprintf(email, sizeof email, "proof%d@example.test", F.seq);
    assert_int_equal(signup_from("127.0.3.2", b.number, "FA2026-999999", NULL, email, &wrong), 202);
    assert_int_equal(signup_from("127.0.3.3", b.number, old, NULL, email, &answer), 202);
    assert_string_equal(answer, wrong);
    free(answer);
    assert_int_equal(signup_from("127.0.3.4", b.number, undated, NULL, email, &answer), 202);
    assert_string_equal(answer, wrong);
    free(answer);
    assert_int_equal(users_with_email(email), 0);
    assert_int_equal(signup_from("127.0.3.5", b.number, edge, NULL, email, &answer), 202);
    assert_string_equal(answer, wrong);
    free(answer);
    assert_int_equal(users_with_email(email), 1); /* 23 months old: proven */
    free(wrong);

    /* linking: the same 404 as a wrong invoice */
    assert_int_equal(link_from("127.0.3.6", &si, b.number, "FA2026-999999", &wrong, NULL), 404);
    assert_int_equal(link_from("127.0.3.7", &si, b.number, old, &answer, NULL), 404);
    assert_string_equal(answer, wrong);
    free(answer);
    assert_int_equal(link_from("127.0.3.8", &si, b.number, undated, &answer, NULL), 404);
    assert_string_equal(answer, wrong);
    free(answer);
    free(wrong);
    assert_int_equal(link_from("127.0.3.9", &si, b.number, recent, NULL, NULL), 200);
}

/* The budget (10 in the tests' settings, the default) is per customer
 * number, whoever asks, from whatever address, through either endpoint; a
 * proven attempt gives its use back; once spent, the right invoice is
 * refused too: 429 when linking, the wrong proof's 202 at sign-up. */
static void failed_invoice_proofs_of_a_number_are_capped_for_every_caller(void **state)
{
    REQUIRE_STACK();
    made_t a, c, b;
    make_customer(&a, "household");
    make_user(&a, "correct horse battery");
    make_customer(&c, "household");
    make_user(&c, "correct horse battery");
    make_customer_with_phone(&b, "+33612345611");
    char right[32];
    add_invoice(&b, "2 months", right);
    signed_in_t sa, sc;
    sign_in(&sa, "127.0.4.1", NULL, a.email, "correct horse battery");
    sign_in(&sc, "127.0.4.2", NULL, c.email, "correct horse battery");

    char src[32], email[64], guess[32];
    /* 9 failures: two users linking, strangers signing up, each from its own address */
    for (int i = 0; i < 9; i++) {
        snprintf(src, sizeof src, "127.0.5.%d", i + 1);
        snprintf(guess, sizeof guess, "FA2026-%06d", 900000 + i);
        if (i % 3 == 0)
            assert_int_equal(link_from(src, &sa, b.number, guess, NULL, NULL), 404);
        else if (i % 3 == 1)
            assert_int_equal(link_from(src, &sc, b.number, guess, NULL, NULL), 404);
        else {
            snprintf(email, sizeof email, "guess%d.%d@example.test", F.seq, i);
            assert_int_equal(signup_from(src, b.number, guess, NULL, email, NULL), 202);
        }
    }
    /* a proven attempt gives its use back: the 10th failure still gets looked at */
    assert_int_equal(link_from("127.0.5.20", &sa, b.number, right, NULL, NULL), 200);
    assert_int_equal(link_from("127.0.5.21", &sc, b.number, "FA2026-999990", NULL, NULL), 404);

    /* spent: the right invoice is refused, whoever asks */
    unsigned retry = 0;
    char *body = NULL;
    assert_int_equal(link_from("127.0.5.22", &sc, b.number, right, &body, &retry), 429);
    assert_non_null(strstr(body, "too-many-attempts"));
    free(body);
    assert_true(retry > 0 && retry <= 86400);
    assert_int_equal(
        sql_count("SELECT count(*) FROM user_customers WHERE customer_id = $1", b.customer_id),
        1); /* a's grant only */
    char *wrong = NULL, *answer = NULL;
    snprintf(email, sizeof email, "late%d@example.test", F.seq);
    assert_int_equal(signup_from("127.0.5.23", b.number, "FA2026-999991", NULL, email, &wrong),
                     202);
    assert_int_equal(signup_from("127.0.5.24", b.number, right, NULL, email, &answer), 202);
    assert_string_equal(answer, wrong);
    free(answer);
    free(wrong);
    assert_int_equal(users_with_email(email), 0);
    /* the phone is another proof, with its own throttles: it still proves */
    assert_int_equal(signup_from("127.0.5.25", b.number, right, "+33612345611", email, NULL), 202);
    assert_int_equal(users_with_email(email), 1);

    /* the budget is this number's only; its key names no customer number */
    made_t d;
    make_customer(&d, "household");
    char d_invoice[32];
    add_invoice(&d, "3 months", d_invoice);
    assert_int_equal(link_from("127.0.5.26", &sc, d.number, d_invoice, NULL, NULL), 200);
    redisReply *keys = redisCommand(F.redis, "KEYS acct:proof:invoice:*");
    assert_non_null(keys);
    assert_true(keys->elements >= 1);
    for (size_t i = 0; i < keys->elements; i++)
        assert_null(strstr(keys->element[i]->str, b.number));
    freeReplyObject(keys);

    /* the window gone (the keys dropped here), the right invoice proves again */
    redis_delete("acct:proof:*");
    sign_in(&sc, "127.0.4.2", NULL, c.email, "correct horse battery"); /* linking ended it */
    assert_int_equal(link_from("127.0.5.27", &sc, b.number, right, NULL, NULL), 200);
}

/* Redis cannot answer the budget's script (here its key holds a string):
 * 503 and nothing looked at, at sign-up and linking alike (fail closed); a
 * sign-up by phone does not use the budget. */
static void an_unreadable_invoice_budget_fails_closed(void **state)
{
    REQUIRE_STACK();
    made_t a, b;
    make_customer(&a, "household");
    make_user(&a, "correct horse battery");
    make_customer_with_phone(&b, "+33612345612");
    char right[32];
    add_invoice(&b, "1 month", right);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)b.number, strlen(b.number));
    char hex[2 * crypto_hash_sha256_BYTES + 1], key[128];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    snprintf(key, sizeof key, "acct:proof:invoice:%s", hex);
    freeReplyObject(redisCommand(F.redis, "SET %s not-a-sorted-set", key));

    signed_in_t si;
    sign_in(&si, "127.0.6.1", NULL, a.email, "correct horse battery");
    assert_int_equal(link_from("127.0.6.2", &si, b.number, right, NULL, NULL), 503);
    assert_int_equal(
        sql_count("SELECT count(*) FROM user_customers WHERE customer_id = $1", b.customer_id), 0);
    char email[64];
    snprintf(email, sizeof email, "closed%d@example.test", F.seq);
    assert_int_equal(signup_from("127.0.6.3", b.number, right, NULL, email, NULL), 503);
    assert_int_equal(users_with_email(email), 0);
    char body[256];
    snprintf(body, sizeof body,
             "{\"customer_number\":\"%s\",\"phone\":\"+33612345612\",\"email\":\"%s\"}", b.number,
             email);
    test_resp_t r;
    test_http_from(&F.svc.loop, F.port, "127.0.6.4", "POST", SIGNUP, NULL, body, &r);
    expect_status(&r, 202, "sign-up by phone");
    test_resp_dispose(&r);
    assert_int_equal(users_with_email(email), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(only_an_invoice_of_the_last_24_months_proves_a_customer, test_setup),
        cmocka_unit_test_setup(failed_invoice_proofs_of_a_number_are_capped_for_every_caller,
                               test_setup),
        cmocka_unit_test_setup(an_unreadable_invoice_budget_fails_closed, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
