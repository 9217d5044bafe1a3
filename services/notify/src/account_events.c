/* accounts' events other than CustomerCreated and UserCreated: the e-mails
 * to one person (reset, activation and invitation links, sensitive account
 * activity), and the read model's grants, roles, profiles and closings. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "events.h"
#include "events_shared.h"
#include "mail.h"
#include "store.h"

/* ---- decoding ---- */

/* An http(s) URL of printable ASCII without spaces (it goes into an
 * e-mail line as is). */
static bool copy_url(char *dst, size_t size, const char *s)
{
    if (!s || (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
        return false;
    size_t n = strlen(s);
    if (n < 10 || n >= size)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    memcpy(dst, s, n + 1);
    return true;
}

/* An IPv4 or IPv6 address as text, or "" (accounts' "unknown" too: the
 * text then says the address is unknown). */
static bool copy_address(char *dst, size_t size, const char *s)
{
    if (!s || strlen(s) >= size)
        return false;
    if (strcmp(s, "unknown") == 0) {
        dst[0] = '\0';
        return true;
    }
    for (const char *c = s; *c; c++)
        if (!strchr("0123456789abcdefABCDEF.:", *c))
            return false;
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

/* The person an account message goes to: user id, customer id (the
 * partition key: the user's first customer, or the user id), an address
 * (required for a link; otherwise "" means nobody to tell, the read model
 * still follows), a name. */
static int decode_person(notify_event_t *ev, notify_kind_t kind, const char *user_id,
                         const char *customer_id, const char *email, const char *name,
                         const char **why)
{
    ev->kind = NOTIFY_EV_ACCOUNT;
    ev->nkind = kind;
    NOTIFY_REQUIRE(notify_field_uuid(user_id, ev->user_id), "user_id");
    NOTIFY_REQUIRE(notify_field_uuid(customer_id, ev->customer_id), "customer_id");
    NOTIFY_REQUIRE(email && ((!*email && !notify_kind_has_link(kind)) || notify_email_valid(email)),
                   "email");
    snprintf(ev->email, sizeof ev->email, "%s", email);
    NOTIFY_REQUIRE(notify_field_text(ev->name, sizeof ev->name, name ? name : "", 0, 200), "name");
    return 0;
}

static int decode_reset(notify_event_t *ev, const Citerne__V1__PasswordResetRequested *m,
                        const char **why)
{
    int rc = decode_person(ev, NOTIFY_KIND_PASSWORD_RESET, m->user_id, m->customer_id, m->email,
                           m->name, why);
    if (rc != 0)
        return rc;
    NOTIFY_REQUIRE(copy_url(ev->link, sizeof ev->link, m->reset_url), "reset_url");
    NOTIFY_REQUIRE(notify_field_time_ok(m->expires_at), "expires_at");
    ev->link_expires_at = m->expires_at;
    return 0;
}

static int decode_activation(notify_event_t *ev, const Citerne__V1__ActivationRequested *m,
                             const char **why)
{
    int rc = decode_person(ev, NOTIFY_KIND_ACTIVATION, m->user_id, m->customer_id, m->email,
                           m->name, why);
    if (rc != 0)
        return rc;
    NOTIFY_REQUIRE(copy_url(ev->link, sizeof ev->link, m->activation_url), "activation_url");
    NOTIFY_REQUIRE(notify_field_time_ok(m->expires_at), "expires_at");
    ev->link_expires_at = m->expires_at;
    return 0;
}

static int decode_password_changed(notify_event_t *ev, const Citerne__V1__PasswordChanged *m,
                                   const char **why)
{
    static const char *const vias[] = {"reset", "change", NULL};
    int rc = decode_person(ev, NOTIFY_KIND_PASSWORD_CHANGED, m->user_id, m->customer_id, m->email,
                           m->name, why);
    if (rc != 0)
        return rc;
    NOTIFY_REQUIRE(notify_field_one_of(m->via, vias), "via");
    ev->via_reset = strcmp(m->via, "reset") == 0;
    NOTIFY_REQUIRE(notify_field_time_ok(m->changed_at), "changed_at");
    ev->at = m->changed_at;
    return 0;
}

/* An e-mail change: the notice goes to old_email (ev->email), the link, if
 * any, to new_email. */
static int decode_email_person(notify_event_t *ev, notify_kind_t kind, const char *user_id,
                               const char *customer_id, const char *old_email,
                               const char *new_email, const char *name, const char **why)
{
    int rc = decode_person(ev, kind, user_id, customer_id, old_email, name, why);
    if (rc != 0)
        return rc;
    NOTIFY_REQUIRE(new_email && notify_email_valid(new_email), "new_email");
    snprintf(ev->new_email, sizeof ev->new_email, "%s", new_email);
    return 0;
}

/* The request has no time of its own: the event's. */
static int decode_email_change_requested(notify_event_t *ev,
                                         const Citerne__V1__EmailChangeRequested *m,
                                         const char **why)
{
    int rc = decode_email_person(ev, NOTIFY_KIND_EMAIL_CHANGE_REQUESTED, m->user_id, m->customer_id,
                                 m->old_email, m->new_email, m->name, why);
    if (rc != 0)
        return rc;
    if (m->confirm_url && *m->confirm_url) {
        NOTIFY_REQUIRE(copy_url(ev->link, sizeof ev->link, m->confirm_url), "confirm_url");
        NOTIFY_REQUIRE(notify_field_time_ok(m->expires_at), "expires_at");
        ev->link_expires_at = m->expires_at;
    }
    ev->at = ev->occurred_at;
    return 0;
}

static int decode_email_changed(notify_event_t *ev, const Citerne__V1__EmailChanged *m,
                                const char **why)
{
    int rc = decode_email_person(ev, NOTIFY_KIND_EMAIL_CHANGED, m->user_id, m->customer_id,
                                 m->old_email, m->new_email, m->name, why);
    if (rc != 0)
        return rc;
    NOTIFY_REQUIRE(notify_field_time_ok(m->changed_at), "changed_at");
    ev->at = m->changed_at;
    return 0;
}

static int decode_totp_disabled(notify_event_t *ev, const Citerne__V1__TotpDisabled *m,
                                const char **why)
{
    int rc = decode_person(ev, NOTIFY_KIND_TOTP_DISABLED, m->user_id, m->customer_id, m->email,
                           m->name, why);
    if (rc != 0)
        return rc;
    ev->with_recovery_code = m->with_recovery_code;
    NOTIFY_REQUIRE(notify_field_time_ok(m->disabled_at), "disabled_at");
    ev->at = m->disabled_at;
    return 0;
}

static int decode_new_device(notify_event_t *ev, const Citerne__V1__NewDeviceSignedIn *m,
                             const char **why)
{
    int rc = decode_person(ev, NOTIFY_KIND_NEW_DEVICE, m->user_id, m->customer_id, m->email,
                           m->name, why);
    if (rc != 0)
        return rc;
    NOTIFY_REQUIRE(
        notify_field_text(ev->device, sizeof ev->device, m->device ? m->device : "", 0, 200),
        "device");
    if (strcmp(ev->device, "Unknown device") == 0) /* accounts' label: the text says "inconnu" */
        ev->device[0] = '\0';
    NOTIFY_REQUIRE(copy_address(ev->address, sizeof ev->address, m->address), "address");
    NOTIFY_REQUIRE(notify_field_time_ok(m->signed_in_at), "signed_in_at");
    ev->at = m->signed_in_at;
    return 0;
}

static int decode_customer_linked(notify_event_t *ev, const Citerne__V1__CustomerLinked *m,
                                  const char **why)
{
    int rc = decode_person(ev, NOTIFY_KIND_CUSTOMER_LINKED, m->user_id, m->customer_id, m->email,
                           m->name, why);
    if (rc != 0)
        return rc;
    NOTIFY_REQUIRE(notify_field_one_of(m->role, notify_roles), "role");
    snprintf(ev->role, sizeof ev->role, "%s", m->role);
    NOTIFY_REQUIRE(notify_field_time_ok(m->linked_at), "linked_at");
    ev->at = m->linked_at;
    ev->grant = true;
    return 0;
}

static int decode_collaborator_added(notify_event_t *ev, const Citerne__V1__CollaboratorAdded *m,
                                     const char **why)
{
    bool invited = m->activation_url && *m->activation_url;
    int rc = decode_person(
        ev, invited ? NOTIFY_KIND_COLLABORATOR_INVITED : NOTIFY_KIND_COLLABORATOR_ADDED, m->user_id,
        m->customer_id, m->email, m->name, why);
    if (rc != 0)
        return rc;
    NOTIFY_REQUIRE(notify_field_one_of(m->role, notify_roles), "role");
    snprintf(ev->role, sizeof ev->role, "%s", m->role);
    NOTIFY_REQUIRE(!m->added_by || !*m->added_by || notify_field_uuid(m->added_by, NULL),
                   "added_by");
    if (invited) {
        NOTIFY_REQUIRE(copy_url(ev->link, sizeof ev->link, m->activation_url), "activation_url");
        NOTIFY_REQUIRE(notify_field_time_ok(m->expires_at), "expires_at");
        ev->link_expires_at = m->expires_at;
    } else {
        ev->grant = true; /* an account: it acts for the customer from now on */
    }
    return 0;
}

/* An existing account invited: the message only; the (user, customer)
 * row comes with CollaboratorAdded, at acceptance. */
static int decode_collaborator_invited(notify_event_t *ev,
                                       const Citerne__V1__CollaboratorInvited *m, const char **why)
{
    int rc = decode_person(ev, NOTIFY_KIND_INVITATION, m->user_id, m->customer_id, m->email,
                           m->name, why);
    if (rc != 0)
        return rc;
    NOTIFY_REQUIRE(notify_field_uuid(m->invitation_id, NULL), "invitation_id");
    NOTIFY_REQUIRE(notify_field_one_of(m->role, notify_roles), "role");
    snprintf(ev->role, sizeof ev->role, "%s", m->role);
    NOTIFY_REQUIRE(!m->invited_by || !*m->invited_by || notify_field_uuid(m->invited_by, NULL),
                   "invited_by");
    NOTIFY_REQUIRE(notify_field_text(ev->inviter_name, sizeof ev->inviter_name,
                                     m->inviter_name ? m->inviter_name : "", 0, 200),
                   "inviter_name");
    NOTIFY_REQUIRE(copy_url(ev->link, sizeof ev->link, m->invitations_url), "invitations_url");
    NOTIFY_REQUIRE(notify_field_time_ok(m->expires_at), "expires_at");
    ev->link_expires_at = m->expires_at;
    return 0;
}

static int decode_collaborator_removed(notify_event_t *ev,
                                       const Citerne__V1__CollaboratorRemoved *m, const char **why)
{
    int rc = decode_person(ev, NOTIFY_KIND_COLLABORATOR_REMOVED, m->user_id, m->customer_id,
                           m->email, "", why);
    if (rc != 0)
        return rc;
    NOTIFY_REQUIRE(!m->removed_by || !*m->removed_by || notify_field_uuid(m->removed_by, NULL),
                   "removed_by");
    ev->by_self = m->removed_by && strcmp(m->removed_by, ev->user_id) == 0;
    ev->revoke = true;
    return 0;
}

static int decode_role_changed(notify_event_t *ev, const Citerne__V1__CollaboratorRoleChanged *m,
                               const char **why)
{
    ev->kind = NOTIFY_EV_ROLE;
    NOTIFY_REQUIRE(notify_field_uuid(m->customer_id, ev->customer_id), "customer_id");
    NOTIFY_REQUIRE(notify_field_uuid(m->user_id, ev->user_id), "user_id");
    NOTIFY_REQUIRE(notify_field_one_of(m->role, notify_roles), "role");
    snprintf(ev->role, sizeof ev->role, "%s", m->role);
    return 0;
}

/* A kind of message as accounts names it: a-z and "_". Kinds notify does
 * not know yet are kept, for when it does. */
static bool pref_kind_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
            return false;
    return true;
}

static int decode_profile(notify_event_t *ev, const Citerne__V1__UserProfileUpdated *m,
                          const char **why)
{
    static const char *const channels[] = {"email", "sms", "both", "none", NULL};
    ev->kind = NOTIFY_EV_PROFILE;
    NOTIFY_REQUIRE(notify_field_uuid(m->user_id, ev->user_id), "user_id");
    NOTIFY_REQUIRE(notify_field_uuid(m->customer_id, ev->customer_id), "customer_id");
    NOTIFY_REQUIRE(m->email && (!*m->email || notify_email_valid(m->email)), "email");
    snprintf(ev->email, sizeof ev->email, "%s", m->email);
    NOTIFY_REQUIRE(m->phone && (!*m->phone || notify_phone_valid(m->phone)), "phone");
    snprintf(ev->phone, sizeof ev->phone, "%s", m->phone);
    NOTIFY_REQUIRE(notify_field_text(ev->name, sizeof ev->name, m->name ? m->name : "", 0, 200),
                   "name");
    NOTIFY_REQUIRE(m->n_preferences <= 32, "preferences");
    json_t *prefs = json_object();
    bool ok = prefs != NULL;
    for (size_t i = 0; ok && i < m->n_preferences; i++) {
        const Citerne__V1__NotificationPreference *p = m->preferences[i];
        ok = p && pref_kind_ok(p->kind) && notify_field_one_of(p->channel, channels) &&
             json_object_set_new(prefs, p->kind, json_string(p->channel)) == 0;
    }
    size_t n = ok ? json_dumpb(prefs, ev->preferences, sizeof ev->preferences - 1,
                               JSON_COMPACT | JSON_SORT_KEYS)
                  : 0;
    json_decref(prefs);
    NOTIFY_REQUIRE(ok && n > 0 && n < sizeof ev->preferences, "preferences");
    ev->preferences[n] = '\0';
    return 0;
}

static int decode_closed(notify_event_t *ev, const Citerne__V1__UserClosed *m, const char **why)
{
    ev->kind = NOTIFY_EV_CLOSED;
    NOTIFY_REQUIRE(notify_field_uuid(m->user_id, ev->user_id), "user_id");
    for (size_t i = 0; i < m->n_customer_ids; i++)
        NOTIFY_REQUIRE(notify_field_uuid(m->customer_ids[i], NULL), "customer_ids");
    /* the key: the first customer, or the user id */
    memcpy(ev->customer_id, m->n_customer_ids ? m->customer_ids[0] : ev->user_id, NOTIFY_UUID_BUF);
    NOTIFY_REQUIRE(m->closed_at >= 0, "closed_at");
    ev->at = m->closed_at ? m->closed_at : ev->occurred_at;
    return 0;
}

/* A code to prove a new number: the SMS goes to phone, not to the user's
 * phone on file (which it is not yet); the code rides in link, a secret
 * wiped and purged like one. */
static int decode_phone_verification(notify_event_t *ev,
                                     const Citerne__V1__PhoneVerificationRequested *m,
                                     const char **why)
{
    ev->kind = NOTIFY_EV_ACCOUNT;
    ev->nkind = NOTIFY_KIND_PHONE_VERIFICATION;
    NOTIFY_REQUIRE(notify_field_uuid(m->user_id, ev->user_id), "user_id");
    NOTIFY_REQUIRE(notify_field_uuid(m->customer_id, ev->customer_id), "customer_id");
    NOTIFY_REQUIRE(m->phone && notify_phone_valid(m->phone), "phone");
    snprintf(ev->phone, sizeof ev->phone, "%s", m->phone);
    NOTIFY_REQUIRE(notify_field_text(ev->name, sizeof ev->name, m->name ? m->name : "", 0, 200),
                   "name");
    NOTIFY_REQUIRE(m->code && strlen(m->code) == 6 && strspn(m->code, "0123456789") == 6, "code");
    snprintf(ev->link, sizeof ev->link, "%s", m->code);
    NOTIFY_REQUIRE(notify_field_time_ok(m->expires_at), "expires_at");
    ev->link_expires_at = m->expires_at;
    return 0;
}

int notify_account_decode(notify_event_t *ev, const Citerne__V1__AccountsEvent *m, const char **why)
{
    switch (m->body_case) {
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_PASSWORD_RESET_REQUESTED:
        return decode_reset(ev, m->password_reset_requested, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_ACTIVATION_REQUESTED:
        return decode_activation(ev, m->activation_requested, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_PASSWORD_CHANGED:
        return decode_password_changed(ev, m->password_changed, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_TOTP_DISABLED:
        return decode_totp_disabled(ev, m->totp_disabled, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_EMAIL_CHANGE_REQUESTED:
        return decode_email_change_requested(ev, m->email_change_requested, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_EMAIL_CHANGED:
        return decode_email_changed(ev, m->email_changed, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_PHONE_VERIFICATION_REQUESTED:
        return decode_phone_verification(ev, m->phone_verification_requested, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_NEW_DEVICE_SIGNED_IN:
        return decode_new_device(ev, m->new_device_signed_in, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_LINKED:
        return decode_customer_linked(ev, m->customer_linked, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_ADDED:
        return decode_collaborator_added(ev, m->collaborator_added, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_INVITED:
        return decode_collaborator_invited(ev, m->collaborator_invited, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_REMOVED:
        return decode_collaborator_removed(ev, m->collaborator_removed, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_ROLE_CHANGED:
        return decode_role_changed(ev, m->collaborator_role_changed, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_PROFILE_UPDATED:
        return decode_profile(ev, m->user_profile_updated, why);
    case CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_CLOSED:
        return decode_closed(ev, m->user_closed, why);
    default:
        ev->kind = NOTIFY_EV_IGNORED;
        return 0;
    }
}

/* ---- apply ---- */

/* The rows to insert and a message to render them with; on failure the
 * transaction is rolled back and NULL returned. */
static notify_message_t *message_new(ct_db_tx_t *tx, json_t **rows)
{
    *rows = json_array();
    notify_message_t *msg = malloc(sizeof *msg);
    if (!msg || !*rows) {
        free(msg);
        json_decref(*rows);
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return NULL;
    }
    return msg;
}

/* Wiped: it may hold a link. */
static void message_free(notify_message_t *msg)
{
    sodium_memzero(msg, sizeof *msg);
    free(msg);
}

/* The e-mail of f to `to` as a row of rows (user_id NULL: keyed on the
 * address); a text that does not render is logged, not sent. */
static void add_email(const notify_event_t *ev, json_t *rows, const char *user_id, const char *to,
                      const notify_facts_t *f, notify_message_t *msg)
{
    if (notify_render(f, NOTIFY_CHANNEL_EMAIL, msg) == 0)
        notify_rows_add(rows, user_id, NOTIFY_CHANNEL_EMAIL, to, msg);
    else
        ct_logc_error(ev->correlation_id, "event %s: e-mail text not rendered", ev->event_id);
}

static void on_grant_done(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

static void on_account_inserted(ct_db_tx_t *tx, PGresult *res, void *udata);

/* A customer linked: each of its admins (but the user) hears who now acts
 * for it, under a kind of its own (one row per admin and cause event). */
static void on_admins(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    notify_event_t *ev = udata;
    ev->nkind = NOTIFY_KIND_CUSTOMER_LINKED_ADMIN;
    json_t *rows;
    notify_message_t *msg = message_new(tx, &rows);
    if (!msg)
        return;
    for (int i = 0; i < PQntuples(res); i++) {
        notify_facts_t f = {.kind = ev->nkind,
                            .user_name = ct_db_get(res, i, "name"),
                            .customer_number = ct_db_get(res, i, "customer_number"),
                            .customer_name = ct_db_get(res, i, "customer_name"),
                            .at = ev->at,
                            .role = ev->role,
                            .linked_name = ev->name,
                            .linked_email = ev->email};
        add_email(ev, rows, ct_db_get(res, i, "user_id"), ct_db_get(res, i, "email"), &f, msg);
    }
    message_free(msg);
    notify_rows_insert(tx, ev, rows, on_account_inserted);
}

/* After the message: the admins told of a link, then the read model's
 * grant, given or ended. */
static void on_account_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    notify_event_t *ev = udata;
    ev->created += res ? ct_db_affected(res) : 0;
    ev->outcome = NOTIFY_OUT_QUEUED;
    ct_logc_debug(ev->correlation_id, "event %s: %ld %s notification(s) queued", ev->event_id,
                  ev->created, notify_kind_name(ev->nkind));
    if (ev->nkind == NOTIFY_KIND_CUSTOMER_LINKED && ev->grant && ev->email[0]) {
        notify_store_admins(tx, ev->customer_id, ev->user_id, on_admins);
        return;
    }
    if (ev->grant)
        notify_store_grant(tx, ev->user_id, ev->customer_id, ev->email, ev->name, ev->role,
                           on_grant_done);
    else if (ev->revoke)
        notify_store_revoke(tx, ev->user_id, ev->customer_id, on_grant_done);
    else
        ct_db_tx_commit(tx);
}

/* An e-mail change request: after the notice to the current address, the
 * link to the new one, keyed on that address (the notice holds the user's
 * row of this event) and with its own kind, so that its body is purged like
 * every link's. */
static void on_notice_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    notify_event_t *ev = udata;
    ev->created += res ? ct_db_affected(res) : 0;
    ev->nkind = NOTIFY_KIND_EMAIL_CONFIRM;
    notify_facts_t f = {.kind = ev->nkind,
                        .user_name = ev->name,
                        .link = ev->link,
                        .expires_at = ev->link_expires_at,
                        .new_email = ev->new_email};
    json_t *rows;
    notify_message_t *msg = message_new(tx, &rows);
    if (!msg)
        return;
    add_email(ev, rows, NULL, ev->new_email, &f, msg);
    message_free(msg);
    notify_rows_insert(tx, ev, rows, on_account_inserted);
}

static void on_account_context(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    notify_event_t *ev = udata;
    const char *closed = ct_db_get(res, 0, "closed");
    if (closed && strcmp(closed, "t") == 0) {
        /* the user closed their account: nothing more to them */
        ct_logc_debug(ev->correlation_id, "event %s: user %s closed, not told", ev->event_id,
                      ev->user_id);
        ev->grant = ev->revoke = false;
        notify_rows_insert(tx, ev, json_array(), on_account_inserted);
        return;
    }
    const char *known_name = ct_db_get(res, 0, "user_name");
    notify_facts_t f = {
        .kind = ev->nkind,
        .user_name = ev->name[0]  ? ev->name
                     : known_name ? known_name
                                  : "",
        .customer_number = ct_db_get(res, 0, "customer_number"),
        .customer_name = ct_db_get(res, 0, "customer_name"),
        .link = ev->link,
        .expires_at = ev->link_expires_at,
        .at = ev->at,
        .via_reset = ev->via_reset,
        .with_recovery_code = ev->with_recovery_code,
        .device = ev->device,
        .address = ev->address,
        .role = ev->role,
        .by_self = ev->by_self,
        .new_email = ev->new_email,
        .inviter_name = ev->inviter_name,
    };
    /* the link's e-mail, next, greets by the same name */
    if (!ev->name[0] && known_name)
        snprintf(ev->name, sizeof ev->name, "%s", known_name);
    json_t *rows;
    notify_message_t *msg = message_new(tx, &rows);
    if (!msg)
        return;
    /* e-mail only, whatever the preferences: these are about the account's
     * safety, or carry the link the person asked for; but a phone's code,
     * by SMS only, to the number it proves */
    if (ev->nkind == NOTIFY_KIND_PHONE_VERIFICATION) {
        if (notify_render(&f, NOTIFY_CHANNEL_SMS, msg) == 0)
            notify_rows_add(rows, ev->user_id, NOTIFY_CHANNEL_SMS, ev->phone, msg);
        else
            ct_logc_error(ev->correlation_id, "event %s: SMS text not rendered", ev->event_id);
    } else if (ev->email[0]) /* no address: nobody to tell */
        add_email(ev, rows, ev->nkind == NOTIFY_KIND_COLLABORATOR_INVITED ? NULL : ev->user_id,
                  ev->email, &f, msg);
    message_free(msg);
    bool link_next = ev->nkind == NOTIFY_KIND_EMAIL_CHANGE_REQUESTED && ev->link[0];
    notify_rows_insert(tx, ev, rows, link_next ? on_notice_inserted : on_account_inserted);
}

void notify_account_apply(ct_db_tx_t *tx, notify_event_t *ev)
{
    switch (ev->kind) {
    case NOTIFY_EV_ACCOUNT:
        notify_store_account_context(tx, ev->user_id, ev->customer_id, on_account_context);
        break;
    case NOTIFY_EV_ROLE:
        notify_store_set_role(tx, ev->user_id, ev->customer_id, ev->role, notify_event_stored);
        break;
    case NOTIFY_EV_PROFILE:
        notify_store_set_profile(tx, ev->user_id, ev->email, ev->phone, ev->name, ev->preferences,
                                 ev->occurred_at, notify_event_stored);
        break;
    case NOTIFY_EV_CLOSED:
        notify_store_close_user(tx, ev->user_id, ev->at, notify_event_stored);
        break;
    default:
        ct_db_tx_commit(tx);
        break;
    }
}
