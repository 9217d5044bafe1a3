/* Shared by the accounts API tests (see api_support.h). */
#define _GNU_SOURCE
#include "api_support.h"

fixture_t F;

/* ---- set-up and tear-down ---- */

static int routes(ct_service_t *svc, void *settings)
{
    int rc = accounts_init(&F.accounts, svc, settings);
    return rc != 0 ? rc : accounts_routes(&F.accounts, svc->http);
}

int group_setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    accounts_settings_t settings = {
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
    assert_int_equal(ct_auth_key_init(&settings.operator_key, OPERATOR_KEY), 0);
    const ct_test_service_opts_t o = {
        .name = "accounts",
        .log_level = CT_LOG_WARN,
        .db_prefix = "accounts_api",
        .db_connections = 2,
        .migrations = accounts_migrations,
        .nmigrations = accounts_migrations_count,
        .redis = true,
        .routes = routes,
        .udata = &settings,
    };
    int rc = ct_test_service_open(&F.svc, &o, &F.pg_url, &F.pg, &F.port);
    if (!F.pg_url)
        return rc; /* each test then fails or skips (ct_test_require_stack) */
    /* the test's own Redis connection, for throttling keys */
    const char *rurl = ct_test_env("CITERNE_REDIS_URL");
    char host[64] = "127.0.0.1";
    int rport = 6379;
    sscanf(rurl, "redis://%63[^:]:%d", host, &rport);
    F.redis = redisConnect(host, rport);
    assert_non_null(F.redis);
    assert_int_equal(F.redis->err, 0);
    return 0;
}

int group_teardown(void **state)
{
    (void)state;
    if (!F.pg_url)
        return 0;
    redisFree(F.redis);
    ct_test_service_close(&F.svc, F.pg, F.pg_url);
    return 0;
}

/* Deletes every key matching pattern (test Redis only). */
void redis_delete(const char *pattern)
{
    if (!F.redis)
        return;
    redisReply *keys = redisCommand(F.redis, "KEYS %s", pattern);
    for (size_t i = 0; keys && keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++)
        freeReplyObject(redisCommand(F.redis, "DEL %s", keys->element[i]->str));
    freeReplyObject(keys);
}

int test_setup(void **state)
{
    (void)state;
    F.seq++;
    /* every test starts with no throttling history: they all sign in from
     * 127.0.0.1 */
    redis_delete("acct:login:*");
    redis_delete("acct:mail:*");
    redis_delete("acct:proof:*");
    redis_delete("acct:sms:*");
    return 0;
}

/* ---- helpers ---- */

void call(const char *method, const char *path, const char *headers, const char *body,
          test_resp_t *r)
{
    test_request(&F.svc.loop, F.port, method, path, headers, body, r);
}

void expect_problem_type(const test_resp_t *r, const char *type)
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
bool names_field(const test_resp_t *r, const char *field)
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

long long sql_count(const char *sql, const char *arg)
{
    return ct_test_sql_number(F.pg, sql, arg);
}

long long outbox_rows(void)
{
    return sql_count("SELECT count(*) FROM ct_outbox", NULL);
}

long long table_rows(void)
{
    return sql_count("SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM contracts)"
                     " + (SELECT count(*) FROM sites) + (SELECT count(*) FROM users)"
                     " + (SELECT count(*) FROM user_customers)",
                     NULL);
}

void operator_create(const char *path, const char *body, const char *what, char id[37],
                     test_resp_t *keep)
{
    test_resp_t r;
    call("POST", path, OP_AUTH, body, &r);
    expect_status(&r, 201, what);
    snprintf(id, 37, "%s", jstr(&r, "id"));
    if (keep)
        *keep = r;
    else
        test_resp_dispose(&r);
}

void make_customer(made_t *m, const char *segment)
{
    memset(m, 0, sizeof *m);
    snprintf(m->number, sizeof m->number, "C%07d", 1000 * F.seq + (int)(random() % 1000));
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_number\":\"%s\",\"name\":\"Famille Martin\",\"segment\":\"%s\"%s}",
             m->number, segment,
             strcmp(segment, "business") == 0 ? ",\"siret\":\"73282932000074\"" : "");
    operator_create("/api/v1/accounts/customers", body, "create customer", m->customer_id, NULL);
}

void make_contract(made_t *m, const char *mode)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"delivery_mode\":\"%s\",\"price_per_tonne_cents\":180000}",
             m->customer_id, mode);
    operator_create("/api/v1/accounts/contracts", body, "create contract", m->contract_id, NULL);
}

void make_user(made_t *m, const char *password)
{
    snprintf(m->email, sizeof m->email, "user%d.%ld@example.test", F.seq, random() % 100000);
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"email\":\"%s\",\"name\":\"Marie\",\"role\":\"admin\","
             "\"password\":\"%s\"}",
             m->customer_id, m->email, password);
    operator_create("/api/v1/accounts/users", body, "create user", m->user_id, NULL);
}

/* The outbox rows keyed by customer_id, decoded, oldest first. */
size_t outbox_events(const char *customer_id, Citerne__V1__AccountsEvent **out, size_t max)
{
    size_t n = 0;
    ProtobufCMessage **evs =
        ct_test_outbox_events(F.pg, &citerne__v1__accounts_event__descriptor, "citerne.accounts.v1",
                              customer_id, "accounts", &n);
    assert_true(n <= max);
    memcpy(out, evs, n * sizeof *out);
    free(evs);
    return n;
}

/* ---- tests ---- */

void login_from(const char *src, const char *headers, const char *email, const char *password,
                test_resp_t *r)
{
    char body[512];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    test_http_from(&F.svc.loop, F.port, src, "POST", "/api/v1/accounts/login", headers, body, r);
    if (r->status == 0)
        fail_msg("login from %s: no response", src ? src : "default");
}

unsigned retry_after(const test_resp_t *r)
{
    char *v = test_resp_header(r, "Retry-After");
    if (!v)
        fail_msg("429 without Retry-After: %s", r->head);
    unsigned n = (unsigned)strtoul(v, NULL, 10);
    free(v);
    return n;
}

void sign_in(signed_in_t *si, const char *src, const char *ua, const char *email,
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

int me_status(const signed_in_t *si)
{
    test_resp_t r;
    call("GET", "/api/v1/accounts/me", si->cookie, NULL, &r);
    int status = r.status;
    test_resp_dispose(&r);
    return status;
}

long long redis_int(const char *fmt, const char *arg)
{
    redisReply *rep = redisCommand(F.redis, fmt, arg);
    assert_non_null(rep);
    long long v = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -999;
    freeReplyObject(rep);
    return v;
}

/* The newest event of a customer's outbox with body case bc (caller frees). */
Citerne__V1__AccountsEvent *last_event(const char *customer_id, int bc)
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

void last_phone_code(const char *customer_id, const char *user_id, const char *phone, char code[7])
{
    Citerne__V1__AccountsEvent *ev =
        last_event(customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_PHONE_VERIFICATION_REQUESTED);
    Citerne__V1__PhoneVerificationRequested *p = ev->phone_verification_requested;
    assert_string_equal(p->user_id, user_id);
    assert_string_equal(p->customer_id, customer_id);
    assert_string_equal(p->phone, phone);
    assert_int_equal(strlen(p->code), 6);
    assert_int_equal(strspn(p->code, "0123456789"), 6);
    assert_true(p->expires_at > ct_now_ms());
    snprintf(code, 7, "%s", p->code);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
}

int verify_phone(const signed_in_t *si, const char *code, test_resp_t *keep)
{
    char body[64];
    snprintf(body, sizeof body, "{\"code\":\"%s\"}", code);
    test_resp_t r;
    call("POST", "/api/v1/accounts/me/phone/verify", si->with_csrf, body, &r);
    int status = r.status;
    if (status == 400)
        expect_problem_type(&r, "invalid-code");
    if (keep)
        *keep = r;
    else
        test_resp_dispose(&r);
    return status;
}

/* ---- two-factor authentication ---- */

void code_at(const totp_user_t *t, int offset_s, char out[7])
{
    accounts_totp_code(t->secret, ct_now_ms() / 1000 + offset_s, out);
}

/* Enrols the signed-in user and confirms with the previous step's code, so
 * that the current and next steps are left for the test. */
void turn_totp_on(const signed_in_t *si, const char *email, totp_user_t *t)
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

void forgot(const char *email, test_resp_t *r)
{
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
    call("POST", "/api/v1/accounts/password/forgot", NULL, body, r);
}

/* The token of the newest PasswordResetRequested for customer_id. */
void last_reset_token(const char *customer_id, const char *user_id, char token[65])
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

int reset(const char *token, const char *password)
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

int login_status(const char *email, const char *password)
{
    test_resp_t r;
    login_from("127.0.0.5", NULL, email, password, &r);
    int status = r.status;
    test_resp_dispose(&r);
    return status;
}

int signup(const char *json, char **body_out)
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
void last_activation_token(const char *customer_id, const char *email, char token[65])
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

int activate(const char *token, const char *password, test_resp_t *keep)
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
void make_customer_with_phone(made_t *m, const char *phone)
{
    memset(m, 0, sizeof *m);
    snprintf(m->number, sizeof m->number, "C%07d", 1000 * F.seq + (int)(random() % 1000));
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_number\":\"%s\",\"name\":\"Famille Petit\",\"segment\":\"household\","
             "\"phone\":\"%s\"}",
             m->number, phone);
    test_resp_t r;
    operator_create("/api/v1/accounts/customers", body, "create customer with a phone",
                    m->customer_id, &r);
    assert_string_equal(jstr(&r, "phone"), phone);
    test_resp_dispose(&r);
}

/* A user with role on m's customer, made by the back office; email out. */
void make_user_as(const made_t *m, const char *role, char email[64], char id[37])
{
    snprintf(email, 64, "%s%d.%ld@example.test", role, F.seq, random() % 100000);
    char body[512];
    snprintf(body, sizeof body,
             "{\"customer_id\":\"%s\",\"email\":\"%s\",\"name\":\"Paul\",\"role\":\"%s\","
             "\"password\":\"correct horse battery\"}",
             m->customer_id, email, role);
    operator_create("/api/v1/accounts/users", body, "create user with a role", id, NULL);
}

int collab(const signed_in_t *si, const char *method, const char *customer_id, const char *user_id,
           const char *body, test_resp_t *keep)
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

/* Lets fire-and-forget writes (the register) land: runs the loop 300 ms. */
void settle(void)
{
    bool never = false;
    ct_test_run_until(&F.svc.loop, &never, 300);
}
