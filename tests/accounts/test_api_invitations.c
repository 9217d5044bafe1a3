/* accounts API: invitations of collaborators. An admin who invites an
 * address learns nothing of whether it is an account's; an existing account
 * gets access only by accepting; invitations are declined, revoked, expire
 * and are swept (see api_support.h). */
#define _GNU_SOURCE
#include "api_support.h"

#include "sweep.h"

static void exec_sql(const char *sql)
{
    PGresult *res = PQexec(F.pg, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(F.pg));
    PQclear(res);
}

static int invite(const signed_in_t *admin, const char *customer_id, const char *email,
                  const char *name, test_resp_t *keep)
{
    char body[256];
    if (name)
        snprintf(body, sizeof body, "{\"email\":\"%s\",\"role\":\"viewer\",\"name\":\"%s\"}", email,
                 name);
    else
        snprintf(body, sizeof body, "{\"email\":\"%s\",\"role\":\"viewer\"}", email);
    return collab(admin, "POST", customer_id, NULL, body, keep);
}

/* POST /me/invitations/{id}/<what> as si: the status. */
static int answer(const signed_in_t *si, const char *id, const char *what)
{
    char path[160];
    snprintf(path, sizeof path, "/api/v1/accounts/me/invitations/%s/%s", id, what);
    test_resp_t r;
    call("POST", path, si->with_csrf, NULL, &r);
    int status = r.status;
    test_resp_dispose(&r);
    return status;
}

/* The keys of a JSON object, sorted, joined by ",". */
static void keys_of(json_t *o, char *out, size_t size)
{
    const char *k;
    json_t *v;
    char *list[16];
    size_t n = 0;
    json_object_foreach(o, k, v)
    {
        (void)v;
        if (n < 16)
            list[n++] = (char *)k;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(list[j], list[i]) < 0) {
                char *t = list[i];
                list[i] = list[j];
                list[j] = t;
            }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, list[i], size - strlen(out) - 1);
        strncat(out, ",", size - strlen(out) - 1);
    }
}

/* The collaborators list's entry for email (borrowed from r), or NULL. */
static json_t *entry_of(test_resp_t *r, const char *email)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r->json, "collaborators"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "email")), email) == 0)
            return e;
    }
    return NULL;
}

static long long grants(const char *user_id, const char *customer_id)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM user_customers WHERE user_id = $1::uuid"
             " AND customer_id = '%s'",
             customer_id);
    return sql_count(sql, user_id);
}

/* Customer a with its admin signed in, and c, whose admin (an account)
 * is signed in too, to be invited into a. */
static void admin_and_account(made_t *a, signed_in_t *admin, made_t *c, signed_in_t *invitee)
{
    make_customer(a, "household");
    make_user(a, "correct horse battery");
    make_customer(c, "household");
    make_user(c, "correct horse battery");
    sign_in(admin, "127.0.0.5", NULL, a->email, "correct horse battery");
    sign_in(invitee, "127.0.0.7", NULL, c->email, "correct horse battery");
}

static void an_account_and_a_new_address_are_invited_alike(void **state)
{
    REQUIRE_STACK();
    made_t a, c;
    make_customer(&a, "household");
    make_user(&a, "correct horse battery");
    make_customer(&c, "household");
    make_user(&c, "correct horse battery"); /* an account, of another customer */
    signed_in_t admin;
    sign_in(&admin, "127.0.0.5", NULL, a.email, "correct horse battery");
    char fresh[64];
    snprintf(fresh, sizeof fresh, "fresh%d@example.test", F.seq);

    test_resp_t known, unknown;
    assert_int_equal(invite(&admin, a.customer_id, c.email, NULL, &known), 201);
    assert_int_equal(invite(&admin, a.customer_id, fresh, NULL, &unknown), 201);
    char k1[200], k2[200];
    keys_of(known.json, k1, sizeof k1);
    keys_of(unknown.json, k2, sizeof k2);
    assert_string_equal(k1, k2);
    assert_string_equal(k1, "customer_id,email,invitation_id,role,status,");
    assert_string_equal(jstr(&known, "status"), "invited");
    assert_string_equal(jstr(&unknown, "status"), "invited");
    /* nothing of the account in the answer */
    assert_null(strstr(known.body, c.user_id));
    test_resp_dispose(&known);
    test_resp_dispose(&unknown);
    /* no access without consent */
    assert_int_equal(grants(c.user_id, a.customer_id), 0);

    /* the list: the address typed and its local part, never the account's
     * name or id */
    test_resp_t r;
    assert_int_equal(collab(&admin, "GET", a.customer_id, NULL, NULL, &r), 200);
    json_t *e1 = entry_of(&r, c.email), *e2 = entry_of(&r, fresh);
    assert_non_null(e1);
    assert_non_null(e2);
    keys_of(e1, k1, sizeof k1);
    keys_of(e2, k2, sizeof k2);
    assert_string_equal(k1, k2);
    assert_string_equal(json_string_value(json_object_get(e1, "status")), "invited");
    assert_string_equal(json_string_value(json_object_get(e2, "status")), "invited");
    assert_null(json_object_get(e1, "user_id"));
    char local[64];
    snprintf(local, sizeof local, "%s", c.email);
    *strchr(local, '@') = '\0';
    assert_string_equal(json_string_value(json_object_get(e1, "name")), local);
    assert_null(strstr(r.body, c.user_id));
    test_resp_dispose(&r);

    /* the register: the same row for both, naming no account */
    settle();
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE customer_id = $1::uuid"
             " AND action = 'collaborator_invited' AND subject_id IS NULL");
    assert_int_equal(sql_count(sql, a.customer_id), 2);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE customer_id = $1::uuid"
             " AND detail::text LIKE '%%%s%%'",
             c.user_id);
    assert_int_equal(sql_count(sql, a.customer_id), 0);
}

static void an_invited_account_accepts_or_declines(void **state)
{
    REQUIRE_STACK();
    made_t a, b, c;
    make_customer(&a, "household");
    make_user(&a, "correct horse battery");
    make_customer(&b, "household");
    make_user(&b, "correct horse battery");
    make_customer(&c, "household");
    make_user(&c, "correct horse battery");
    signed_in_t a_admin, b_admin, invitee;
    sign_in(&a_admin, "127.0.0.5", NULL, a.email, "correct horse battery");
    sign_in(&b_admin, "127.0.0.6", NULL, b.email, "correct horse battery");
    sign_in(&invitee, "127.0.0.7", NULL, c.email, "correct horse battery");

    test_resp_t r;
    char from_a[37], from_b[37];
    assert_int_equal(invite(&a_admin, a.customer_id, c.email, "Paul", &r), 201);
    snprintf(from_a, sizeof from_a, "%s", jstr(&r, "invitation_id"));
    test_resp_dispose(&r);
    assert_int_equal(invite(&b_admin, b.customer_id, c.email, NULL, &r), 201);
    snprintf(from_b, sizeof from_b, "%s", jstr(&r, "invitation_id"));
    test_resp_dispose(&r);
    Citerne__V1__AccountsEvent *ev =
        last_event(a.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_INVITED);
    assert_string_equal(ev->collaborator_invited->invitation_id, from_a);
    assert_string_equal(ev->collaborator_invited->email, c.email);
    assert_string_equal(ev->collaborator_invited->invited_by, a.user_id);
    assert_non_null(strstr(ev->collaborator_invited->invitations_url, "/invitations"));
    assert_true(ev->collaborator_invited->expires_at > 0);
    citerne__v1__accounts_event__free_unpacked(ev, NULL);

    /* the invitee sees both */
    call("GET", "/api/v1/accounts/me/invitations", invitee.cookie, NULL, &r);
    expect_status(&r, 200, "my invitations");
    assert_int_equal(json_array_size(json_object_get(r.json, "invitations")), 2);
    test_resp_dispose(&r);
    /* nobody else answers them, and an id not of an invitation is 404 */
    assert_int_equal(answer(&b_admin, from_a, "accept"), 404);
    assert_int_equal(answer(&a_admin, from_a, "decline"), 404);
    assert_int_equal(answer(&invitee, "not-a-uuid", "accept"), 404);
    assert_int_equal(grants(b.user_id, a.customer_id), 0);

    /* decline: gone, recorded without naming the account */
    long long events = outbox_rows();
    assert_int_equal(answer(&invitee, from_b, "decline"), 204);
    assert_int_equal(outbox_rows(), events);
    assert_int_equal(answer(&invitee, from_b, "accept"), 404);
    assert_int_equal(grants(c.user_id, b.customer_id), 0);
    assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE customer_id = $1::uuid"
                               " AND action = 'invitation_declined' AND actor_id IS NULL"
                               " AND subject_id IS NULL",
                               b.customer_id),
                     1);
    assert_int_equal(collab(&b_admin, "GET", b.customer_id, NULL, NULL, &r), 200);
    assert_null(entry_of(&r, c.email));
    test_resp_dispose(&r);

    /* accept: the grant, CollaboratorAdded, the register; once */
    assert_int_equal(answer(&invitee, from_a, "accept"), 200);
    assert_int_equal(grants(c.user_id, a.customer_id), 1);
    assert_int_equal(sql_count("SELECT count(*) FROM user_customers WHERE user_id = $1::uuid"
                               " AND role = 'viewer'",
                               c.user_id),
                     1);
    ev = last_event(a.customer_id, CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_ADDED);
    assert_string_equal(ev->collaborator_added->user_id, c.user_id);
    assert_string_equal(ev->collaborator_added->added_by, a.user_id);
    assert_string_equal(ev->collaborator_added->activation_url, "");
    citerne__v1__accounts_event__free_unpacked(ev, NULL);
    assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE customer_id = $1::uuid"
                               " AND action = 'invitation_accepted' AND actor_id IS NOT NULL",
                               a.customer_id),
                     1);
    assert_int_equal(answer(&invitee, from_a, "accept"), 404);
    /* the admin now sees the member, as an active collaborator */
    assert_int_equal(collab(&a_admin, "GET", a.customer_id, NULL, NULL, &r), 200);
    json_t *e = entry_of(&r, c.email);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "status")), "active");
    assert_string_equal(json_string_value(json_object_get(e, "user_id")), c.user_id);
    test_resp_dispose(&r);
    /* and the next sign-in holds it */
    login_from("127.0.0.7", NULL, c.email, "correct horse battery", &r);
    expect_status(&r, 200, "sign in after accepting");
    assert_int_equal(json_array_size(json_object_get(r.json, "customers")), 2);
    test_resp_dispose(&r);
}

typedef struct {
    bool done;
    int status;
    accounts_sweep_counts_t counts;
} swept_t;

static void on_swept(int status, const accounts_sweep_counts_t *c, void *udata)
{
    swept_t *s = udata;
    s->status = status;
    s->counts = *c;
    s->done = true;
}

static void expired_invitations_are_refused_hidden_and_swept(void **state)
{
    REQUIRE_STACK();
    made_t a, c;
    signed_in_t admin, invitee;
    admin_and_account(&a, &admin, &c, &invitee);
    test_resp_t r;
    char id[37];
    assert_int_equal(invite(&admin, a.customer_id, c.email, NULL, &r), 201);
    snprintf(id, sizeof id, "%s", jstr(&r, "invitation_id"));
    test_resp_dispose(&r);
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE collaborator_invitations SET expires_at = now() - interval '1 second'"
             " WHERE id = '%s'",
             id);
    exec_sql(sql);

    assert_int_equal(answer(&invitee, id, "accept"), 404);
    assert_int_equal(grants(c.user_id, a.customer_id), 0);
    call("GET", "/api/v1/accounts/me/invitations", invitee.cookie, NULL, &r);
    assert_int_equal(json_array_size(json_object_get(r.json, "invitations")), 0);
    test_resp_dispose(&r);
    assert_int_equal(collab(&admin, "GET", a.customer_id, NULL, NULL, &r), 200);
    assert_null(entry_of(&r, c.email));
    test_resp_dispose(&r);

    long long expired = sql_count("SELECT count(*) FROM collaborator_invitations"
                                  " WHERE NOT awaits_activation AND expires_at < now()",
                                  NULL);
    assert_true(expired >= 1);
    swept_t s = {0};
    accounts_sweep_run_t run;
    assert_int_equal(accounts_sweep_once(&run, F.svc.db, 30, 1000, on_swept, &s), 0);
    assert_true(ct_test_run_until(&F.svc.loop, &s.done, 10000));
    assert_int_equal(s.status, 0);
    assert_int_equal(s.counts.count[ACCOUNTS_SWEEP_INVITATIONS], expired);
    assert_int_equal(
        sql_count("SELECT count(*) FROM collaborator_invitations WHERE id = $1::uuid", id), 0);
    /* expired, it no longer blocks a new invitation */
    assert_int_equal(invite(&admin, a.customer_id, c.email, NULL, NULL), 201);
}

static void an_admin_revokes_pending_invitations_of_both_kinds(void **state)
{
    REQUIRE_STACK();
    made_t a, c;
    signed_in_t admin, invitee;
    admin_and_account(&a, &admin, &c, &invitee);
    char fresh[64], known_id[37], fresh_id[37];
    snprintf(fresh, sizeof fresh, "revoked%d@example.test", F.seq);
    test_resp_t r;
    assert_int_equal(invite(&admin, a.customer_id, c.email, NULL, &r), 201);
    snprintf(known_id, sizeof known_id, "%s", jstr(&r, "invitation_id"));
    test_resp_dispose(&r);
    assert_int_equal(invite(&admin, a.customer_id, fresh, "Jeanne", &r), 201);
    snprintf(fresh_id, sizeof fresh_id, "%s", jstr(&r, "invitation_id"));
    test_resp_dispose(&r);
    assert_int_equal(sql_count("SELECT count(*) FROM user_customers uc JOIN users u"
                               " ON u.id = uc.user_id WHERE u.email = $1",
                               fresh),
                     1);

    /* a role cannot be changed on an invitation: revoke and invite again */
    assert_int_equal(collab(&admin, "PATCH", a.customer_id, known_id, "{\"role\":\"admin\"}", NULL),
                     404);
    long long events = outbox_rows();
    assert_int_equal(collab(&admin, "DELETE", a.customer_id, known_id, NULL, NULL), 204);
    assert_int_equal(collab(&admin, "DELETE", a.customer_id, fresh_id, NULL, NULL), 204);
    assert_int_equal(outbox_rows(), events); /* nobody had access: no event */
    assert_int_equal(answer(&invitee, known_id, "accept"), 404);
    assert_int_equal(grants(c.user_id, a.customer_id), 0);
    /* the pending user's grant went with it */
    assert_int_equal(sql_count("SELECT count(*) FROM user_customers uc JOIN users u"
                               " ON u.id = uc.user_id WHERE u.email = $1",
                               fresh),
                     0);
    assert_int_equal(collab(&admin, "DELETE", a.customer_id, known_id, NULL, NULL), 404);
    assert_int_equal(collab(&admin, "GET", a.customer_id, NULL, NULL, &r), 200);
    assert_null(entry_of(&r, c.email));
    assert_null(entry_of(&r, fresh));
    test_resp_dispose(&r);
    assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE customer_id = $1::uuid"
                               " AND action = 'invitation_revoked' AND subject_id IS NULL",
                               a.customer_id),
                     2);
    assert_int_equal(me_status(&invitee), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(an_account_and_a_new_address_are_invited_alike, test_setup),
        cmocka_unit_test_setup(an_invited_account_accepts_or_declines, test_setup),
        cmocka_unit_test_setup(expired_invitations_are_refused_hidden_and_swept, test_setup),
        cmocka_unit_test_setup(an_admin_revokes_pending_invitations_of_both_kinds, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
