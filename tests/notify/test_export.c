/* GET /api/v1/notify/me/export against the test stack's Postgres and Redis:
 * a signed-in user downloads what notify holds about them (profile, their
 * (user, customer) rows, the notifications sent to them), and nothing of
 * anyone else, not even of a user of the same customer; a link still waiting
 * to be sent is never in it. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "citerne/cache.h"
#include "citerne/id.h"
#include "citerne/session.h"
#include "flow_support.h"
#include "http_client.h"
#include "stack.h"
#include "store.h"

#define EXPORT "/api/v1/notify/me/export"

static int group_setup(void **state)
{
    (void)state;
    return flow_setup("notify_export");
}

static int group_teardown(void **state)
{
    (void)state;
    return flow_teardown();
}

/* ---- sessions of given users (the support's helper makes a new user) ---- */

typedef struct {
    bool done;
    int status;
    char token[65];
} created_t;

static void on_created(int status, const char *token, const ct_session_t *s, void *udata)
{
    (void)s;
    created_t *c = udata;
    c->status = status;
    if (status == 0)
        snprintf(c->token, sizeof c->token, "%s", token);
    c->done = true;
}

/* "Cookie: ..." of a session of user_id, a viewer of customer_id. */
static void session_of(const char *user_id, const char *customer_id, char out[160])
{
    ct_session_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.user_id, sizeof s.user_id, "%s", user_id);
    s.ngrants = 1;
    snprintf(s.grants[0].customer_id, sizeof s.grants[0].customer_id, "%s", customer_id);
    s.grants[0].role = CT_ROLE_VIEWER;
    created_t c = {0};
    assert_int_equal(ct_session_create(F.svc.cache, &s, 600, on_created, &c), 0);
    assert_true(ct_test_run_until(&F.svc.loop, &c.done, 5000));
    assert_int_equal(c.status, 0);
    snprintf(out, 160, "Cookie: " CT_SESSION_COOKIE "=%s\r\n", c.token);
}

static void get(const char *headers, int want, test_resp_t *r)
{
    test_http(&F.svc.loop, F.port, "GET", EXPORT, headers, NULL, r);
    if (r->status != want)
        fail_msg("GET " EXPORT ": %d, want %d: %s", r->status, want, r->body ? r->body : "");
}

static json_t *notifications(const test_resp_t *r)
{
    json_t *list = json_object_get(r->json, "notifications");
    assert_true(json_is_array(list));
    return list;
}

/* Every listed notification is one of user_id's rows, all of them are
 * listed, newest first. */
static void assert_all_and_only_rows_of(const test_resp_t *r, const char *user_id)
{
    json_t *list = notifications(r);
    long long theirs = sql_count("SELECT count(*) FROM notifications WHERE user_id = $1", user_id);
    if ((long long)json_array_size(list) != theirs)
        fail_msg("%zu notifications exported, %lld rows of the user", json_array_size(list),
                 theirs);
    const char *previous = NULL;
    size_t i;
    json_t *n;
    json_array_foreach(list, i, n)
    {
        const char *id = json_string_value(json_object_get(n, "id"));
        assert_non_null(id);
        char *owner = sql_text("SELECT user_id::text FROM notifications WHERE notification_id = "
                               "$1::uuid",
                               id);
        if (!owner || strcmp(owner, user_id) != 0)
            fail_msg("notification %s of %s in %s's export", id, owner ? owner : "nobody", user_id);
        free(owner);
        const char *created = json_string_value(json_object_get(n, "created_at"));
        assert_non_null(created);
        if (previous && strcmp(previous, created) < 0)
            fail_msg("not newest first: %s before %s", previous, created);
        previous = created;
        for (const char *const *f = (const char *const[]){"kind", "channel", "recipient", "subject",
                                                          "body", "status", NULL};
             *f; f++)
            if (!json_is_string(json_object_get(n, *f)))
                fail_msg("notification %s: no string %s", id, *f);
        assert_true(json_object_get(n, "sent_at") != NULL);
    }
}

/* ---- tests ---- */

static void a_user_exports_their_own_rows_only(void **state)
{
    (void)state;
    ct_test_require_stack();
    people_t p;
    make_people(&p, "+33612345678", "paul@example.com");
    const char *prefs[] = {"invoice_issued", "both", NULL};
    fx_record_t r;
    fx_profile(&r, p.u1, p.customer, "marie@example.com", "+33612345678", "Marie Dupont", prefs);
    apply(&r, "citerne.accounts.v1", NULL);
    fx_free(&r);
    fx_invoice_issued(&r, p.customer, "FA2026-000077", 5000, "2026-11-25"); /* both users */
    apply(&r, "citerne.billing.v1", NULL);
    fx_free(&r);
    fx_password_changed(&r, p.u2, p.customer, "paul@example.com", "change", ct_now_ms());
    apply(&r, "citerne.accounts.v1", NULL);
    fx_free(&r);
    /* an invitation to Marie's address is keyed on the address: not hers */
    fx_collaborator_added(&r, p.customer, p.u1, "marie@example.com", "viewer",
                          "https://portail.example/activate#token=aW52aXTDqWU",
                          ct_now_ms() + 86400000);
    apply(&r, "citerne.accounts.v1", NULL);
    fx_free(&r);
    assert_int_equal(sql_count("SELECT count(*) FROM notifications WHERE user_id IS NULL"
                               " AND recipient = 'marie@example.com' AND customer_id = $1",
                               p.customer),
                     1);
    assert_int_equal(sql_count("SELECT count(*) FROM notifications WHERE user_id = $1", p.u1),
                     2); /* the invoice by e-mail and SMS */
    assert_int_equal(sql_count("SELECT count(*) FROM notifications WHERE user_id = $1", p.u2),
                     2); /* the invoice by e-mail, the password */

    char marie[160], paul[160];
    session_of(p.u1, p.customer, marie);
    session_of(p.u2, p.customer, paul);
    test_resp_t resp;
    get(marie, 200, &resp);
    char *disposition = test_resp_header(&resp, "Content-Disposition");
    assert_non_null(disposition);
    assert_string_equal(disposition, "attachment; filename=\"citerne-notify-export.json\"");
    free(disposition);
    assert_string_equal(json_string_value(json_object_get(resp.json, "user_id")), p.u1);
    assert_true(json_is_false(json_object_get(resp.json, "truncated")));
    json_t *profile = json_object_get(resp.json, "profile");
    assert_string_equal(json_string_value(json_object_get(profile, "email")), "marie@example.com");
    assert_string_equal(json_string_value(json_object_get(profile, "phone")), "+33612345678");
    assert_string_equal(json_string_value(json_object_get(json_object_get(profile, "preferences"),
                                                          "invoice_issued")),
                        "both");
    json_t *m = json_array_get(json_object_get(resp.json, "memberships"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "customer_id")), p.customer);
    assert_int_equal(json_array_size(json_object_get(resp.json, "memberships")), 1);
    assert_all_and_only_rows_of(&resp, p.u1);
    if (strstr(resp.body, "paul@example.com") || strstr(resp.body, "aW52aXTDqWU"))
        fail_msg("Paul's address or the invitation in Marie's export: %s", resp.body);
    test_resp_dispose(&resp);

    get(paul, 200, &resp);
    assert_string_equal(json_string_value(json_object_get(resp.json, "user_id")), p.u2);
    assert_true(json_is_null(json_object_get(resp.json, "profile"))); /* none received */
    assert_all_and_only_rows_of(&resp, p.u2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(notifications(&resp), 0), "kind")),
        "password_changed"); /* the newest */
    if (strstr(resp.body, "marie@example.com") || strstr(resp.body, "+33612345678"))
        fail_msg("Marie's contact details in Paul's export: %s", resp.body);
    test_resp_dispose(&resp);
}

static void a_link_waiting_to_be_sent_is_not_in_the_export(void **state)
{
    (void)state;
    ct_test_require_stack();
    people_t p;
    make_people(&p, "", "");
    const char *url = "https://portail.example/reset-password#token=c2VjcmV0LWV4cG9ydA";
    fx_record_t r;
    fx_reset(&r, p.u1, p.customer, "marie@example.com", url, ct_now_ms() + 1800000);
    apply(&r, "citerne.accounts.v1", NULL);
    fx_free(&r);
    fx_invoice_issued(&r, p.customer, "FA2026-000078", 5000, "2026-11-25");
    apply(&r, "citerne.billing.v1", NULL);
    fx_free(&r);
    /* the row holds the link while pending (no sender runs here) */
    assert_int_equal(sql_count("SELECT count(*) FROM notifications WHERE user_id = $1"
                               " AND status = 'pending' AND strpos(body, 'c2VjcmV0LWV4cG9ydA') > 0",
                               p.u1),
                     1);
    char marie[160];
    session_of(p.u1, p.customer, marie);
    test_resp_t resp;
    get(marie, 200, &resp);
    assert_all_and_only_rows_of(&resp, p.u1);
    if (strstr(resp.body, "c2VjcmV0LWV4cG9ydA"))
        fail_msg("the pending link is in the export: %s", resp.body);
    size_t i;
    json_t *n;
    int seen = 0;
    json_array_foreach(notifications(&resp), i, n)
    {
        const char *kind = json_string_value(json_object_get(n, "kind"));
        const char *body = json_string_value(json_object_get(n, "body"));
        assert_string_equal(json_string_value(json_object_get(n, "status")), "pending");
        if (strcmp(kind, "password_reset_requested") == 0) {
            assert_string_equal(body, NOTIFY_LINK_PLACEHOLDER);
            seen |= 1;
        } else {
            /* a notice's text is the user's to read */
            char *stored = sql_text("SELECT body FROM notifications WHERE notification_id ="
                                    " $1::uuid",
                                    json_string_value(json_object_get(n, "id")));
            assert_string_equal(body, stored);
            assert_non_null(strstr(body, "FA2026-000078"));
            free(stored);
            seen |= 2;
        }
    }
    assert_int_equal(seen, 3);
    test_resp_dispose(&resp);
}

static void the_export_stops_at_the_cap_and_says_so(void **state)
{
    (void)state;
    ct_test_require_stack();
    char user[37], customer[37], cookie[160], sql[640];
    ct_uuid_v7(user);
    ct_uuid_v7(customer);
    /* one more row than the cap, the oldest the 1st */
    snprintf(sql, sizeof sql,
             "INSERT INTO notifications (notification_id, customer_id, user_id, kind, channel,"
             " recipient, body, cause_event_id, correlation_id, created_at)"
             " SELECT gen_random_uuid(), '%s', '%s', 'invoice_issued', 'email',"
             " 'cap@example.com', 'n' || i, gen_random_uuid(), gen_random_uuid(),"
             " now() - make_interval(secs => %d - i) FROM generate_series(1, %d) i",
             customer, user, NOTIFY_EXPORT_MAX + 1, NOTIFY_EXPORT_MAX + 1);
    PGresult *res = PQexec(F.pg, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("%s", PQresultErrorMessage(res));
    PQclear(res);
    session_of(user, customer, cookie);
    test_resp_t resp;
    get(cookie, 200, &resp);
    json_t *list = notifications(&resp);
    assert_int_equal(json_array_size(list), NOTIFY_EXPORT_MAX);
    assert_true(json_is_true(json_object_get(resp.json, "truncated")));
    char newest[16];
    snprintf(newest, sizeof newest, "n%d", NOTIFY_EXPORT_MAX + 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "body")),
                        newest);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(list, NOTIFY_EXPORT_MAX - 1), "body")),
        "n2"); /* the oldest left out */
    test_resp_dispose(&resp);
}

static bool dead_closed;

static void on_dead_closed(void *udata)
{
    (void)udata;
    dead_closed = true;
}

static void without_a_session_401_and_with_redis_down_503(void **state)
{
    (void)state;
    ct_test_require_stack();
    test_resp_t resp;
    get(NULL, 401, &resp);
    test_resp_dispose(&resp);
    get("Cookie: " CT_SESSION_COOKIE "=0000000000000000000000000000000000000000000000000000000000"
        "000000\r\n",
        401, &resp);
    test_resp_dispose(&resp);
    get(OP_AUTH, 401, &resp); /* the operator key is not a session */
    test_resp_dispose(&resp);

    char user[37], customer[37], cookie[160];
    ct_uuid_v7(user);
    ct_uuid_v7(customer);
    session_of(user, customer, cookie);
    get(cookie, 200, &resp); /* a user notify knows nothing of */
    assert_true(json_is_null(json_object_get(resp.json, "profile")));
    assert_int_equal(json_array_size(notifications(&resp)), 0);
    test_resp_dispose(&resp);

    /* Redis configured but down: nothing listens on port 1 */
    ct_cache_t *live = F.svc.cache, *dead = NULL;
    assert_int_equal(ct_cache_new(&F.svc.loop, "redis://127.0.0.1:1/0", &dead), 0);
    F.svc.cache = dead;
    get(cookie, 503, &resp);
    test_resp_dispose(&resp);
    F.svc.cache = live;
    dead_closed = false;
    ct_cache_close(dead, on_dead_closed, NULL);
    assert_true(ct_test_run_until(&F.svc.loop, &dead_closed, 5000));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_user_exports_their_own_rows_only),
        cmocka_unit_test(a_link_waiting_to_be_sent_is_not_in_the_export),
        cmocka_unit_test(the_export_stops_at_the_cap_and_says_so),
        cmocka_unit_test(without_a_session_401_and_with_redis_down_503),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
