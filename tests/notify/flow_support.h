/* The fixture of notify's flow tests: a loop with the test stack's
 * Postgres (a fresh database, migrated) and Redis (svc.cache), the notify API and an SMS endpoint
 * on one HTTP server, a fake SMTP server, and helpers to apply events in real
 * transactions, query, and run the sender against them. */
#ifndef NOTIFY_TEST_FLOW_SUPPORT_H
#define NOTIFY_TEST_FLOW_SUPPORT_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "citerne/service.h"
#include "events.h"
#include "fake_smtp.h"
#include "fixtures.h"
#include "notify.h"
#include "sender.h"

#define OPERATOR_KEY "test-operator-key-0123456789abcdef"
#define OP_AUTH "Authorization: Bearer " OPERATOR_KEY "\r\n"
#define SMS_TOKEN "sms-token-for-tests"

/* What the SMS endpoint received. */
#define MAX_SMS 32
typedef struct {
    char *body;
    char *auth;
} sms_t;

typedef struct {
    ct_service_t svc;
    notify_app_t app;
    char *pg_url;
    PGconn *pg;
    int port;
    fake_smtp_t smtp;
    int nsms;
    sms_t sms[MAX_SMS];
    int flaky_calls;
    ct_http_req_t *held; /* an SMS request left unanswered */
} fixture_t;

extern fixture_t F;
extern notify_sender_t *sender; /* started by start_sender */

/* cmocka group set-up and teardown; db_prefix names the test's database. */
int flow_setup(const char *db_prefix);
int flow_teardown(void);

/* Decodes r as the consumer would and runs the inbox's apply step in a real
 * transaction; returns the handled event (outcome, created). status NULL:
 * the transaction must commit. */
notify_event_t apply(fx_record_t *r, const char *topic, int *status);
/* The first column of the first row (malloc'ed), or NULL; arg may be NULL. */
char *sql_text(const char *sql, const char *arg);
long long sql_count(const char *sql, const char *arg);
/* Runs the loop until the query's count reaches want (10 s at most). */
void wait_count(const char *sql, const char *arg, long long want);
/* Runs the loop for about ms. */
void run_for(int ms);

typedef struct {
    char customer[37], u1[37], u2[37];
} people_t;

/* A customer C-0042 "Famille Dupont" with two users: u1 marie@example.com
 * "Marie Dupont" with phone, u2 "Paul" with email2 only. */
void make_people(people_t *p, const char *phone, const char *email2);

/* A sender on the fake SMTP server and SMS endpoint (earlier pending rows
 * fail first, so they do not take this test's replies); stop_sender closes
 * it. */
void start_sender(int max_attempts);
void stop_sender(void);

/* The first message received for address to, or NULL. */
const char *find_message(const char *to);
/* The text of a quoted-printable message (soft breaks joined, =XX
 * decoded); malloc'ed. */
char *qp_decode(const char *in);
/* A whole file (at most 1 MiB), malloc'ed. */
char *read_all(const char *path);

#endif
