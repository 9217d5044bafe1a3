/* What the accounts API tests share: the service assembled in-process on
 * one loop (HTTP server, Postgres pool on a fresh database, Redis), the
 * fixture's set-up and tear-down, and helpers that make customers and users,
 * sign in, call the API and read what it wrote. Each test binary links it;
 * the binaries share the stack's Redis, so ctest runs them one at a time
 * (RESOURCE_LOCK accounts_redis). */
#ifndef ACCOUNTS_TEST_API_SUPPORT_H
#define ACCOUNTS_TEST_API_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <liboath/oath.h>

#include "accounts.h"
#include "citerne/cache.h"
#include "citerne/db.h"
#include "citerne/http.h"
#include "citerne/log.h"
#include "citerne/migrate.h"
#include "citerne/v1/accounts.pb-c.h"
#include "http_client.h"
#include "fixture.h"
#include "rules.h"
#include "service_fixture.h"
#include "stack.h"
#include "totp.h"

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

/* Creates a customer (and optionally contract, site, user); ids out. */
typedef struct {
    char customer_id[37], contract_id[37], site_id[37], user_id[37];
    char number[16], email[64];
} made_t;

/* First line of every test: fails under ctest when the fixture gave no
 * stack, skips when run by hand without one (a skip in a cmocka setup
 * would count as an error). */
#define REQUIRE_STACK() CT_TEST_REQUIRE_STACK(F.pg_url)

/* A signed-in session: cookie header lines, with and without CSRF. */
typedef struct {
    char token[65], csrf[65], id[65];
    char cookie[128];    /* "Cookie: ...\r\n" */
    char with_csrf[256]; /* the same plus X-CSRF-Token */
} signed_in_t;

typedef struct {
    unsigned char secret[ACCOUNTS_TOTP_SECRET_BYTES];
    char recovery[ACCOUNTS_RECOVERY_CODES][ACCOUNTS_RECOVERY_CODE_LEN + 1];
} totp_user_t;

extern fixture_t F;

int group_setup(void **state);
int group_teardown(void **state);
/* Deletes every key matching pattern (test Redis only). */
void redis_delete(const char *pattern);
int test_setup(void **state);
void call(const char *method, const char *path, const char *headers, const char *body,
          test_resp_t *r);
void expect_problem_type(const test_resp_t *r, const char *type);
/* Whether the errors array of a 400 names field. */
bool names_field(const test_resp_t *r, const char *field);
long long sql_count(const char *sql, const char *arg);
long long outbox_rows(void);
long long table_rows(void);
/* POSTs body to path with the operator key and expects 201 (what names the
 * request); the id of what was made into id. keep: not NULL, gets the
 * response (test_resp_dispose), else it is disposed. */
void operator_create(const char *path, const char *body, const char *what, char id[37],
                     test_resp_t *keep);
void make_customer(made_t *m, const char *segment);
void make_contract(made_t *m, const char *mode);
void make_user(made_t *m, const char *password);
/* The outbox rows keyed by customer_id, decoded, oldest first. */
size_t outbox_events(const char *customer_id, Citerne__V1__AccountsEvent **out, size_t max);
void login_from(const char *src, const char *headers, const char *email, const char *password,
                test_resp_t *r);
unsigned retry_after(const test_resp_t *r);
void sign_in(signed_in_t *si, const char *src, const char *ua, const char *email,
             const char *password);
int me_status(const signed_in_t *si);
long long redis_int(const char *fmt, const char *arg);
/* The newest event of a customer's outbox with body case bc (caller frees). */
Citerne__V1__AccountsEvent *last_event(const char *customer_id, int bc);
void code_at(const totp_user_t *t, int offset_s, char out[7]);
/* Enrols the signed-in user and confirms with the previous step's code, so
 * that the current and next steps are left for the test. */
void turn_totp_on(const signed_in_t *si, const char *email, totp_user_t *t);
void forgot(const char *email, test_resp_t *r);
/* The token of the newest PasswordResetRequested for customer_id. */
void last_reset_token(const char *customer_id, const char *user_id, char token[65]);
int reset(const char *token, const char *password);
int login_status(const char *email, const char *password);
int signup(const char *json, char **body_out);
/* The token of the newest ActivationRequested keyed by customer_id, for email. */
void last_activation_token(const char *customer_id, const char *email, char token[65]);
int activate(const char *token, const char *password, test_resp_t *keep);
/* A household customer with a phone on file. */
void make_customer_with_phone(made_t *m, const char *phone);
/* A user with role on m's customer, made by the back office; email out. */
void make_user_as(const made_t *m, const char *role, char email[64], char id[37]);
int collab(const signed_in_t *si, const char *method, const char *customer_id, const char *user_id,
           const char *body, test_resp_t *keep);
/* The code of the newest PhoneVerificationRequested keyed by customer_id,
 * checked to be user_id's, for phone, 6 digits, not expired. */
void last_phone_code(const char *customer_id, const char *user_id, const char *phone,
                     char code[7]);
/* POST /me/phone/verify {code}; a 400 must be "invalid-code". Returns the
 * status; keep as in operator_create. */
int verify_phone(const signed_in_t *si, const char *code, test_resp_t *keep);
/* Lets fire-and-forget writes (the register) land: runs the loop 300 ms. */
void settle(void);

#endif
