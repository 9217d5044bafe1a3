/* Domain values -> AccountsEvent protobuf (see events.h). */
#include "events.h"
#include "rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/event.h"
#include "citerne/error.h"
#include "citerne/validate.h"
#include "citerne/v1/accounts.pb-c.h"
#include "citerne/v1/billing.pb-c.h"

/* protobuf-c's string fields are char *, ours are const: the message only
 * reads them while packing. */
static char *str(const char *s)
{
    return (char *)(s ? s : "");
}

static int pack(Citerne__V1__AccountsEvent *ev, accounts_event_t *out)
{
    ct_event_meta_t meta;
    ct_event_meta_init(&meta, "accounts", NULL);
    ev->meta = &meta.meta;

    memset(out, 0, sizeof *out);
    size_t len = citerne__v1__accounts_event__get_packed_size(ev);
    out->data = malloc(len ? len : 1);
    if (out->data) {
        out->len = citerne__v1__accounts_event__pack(ev, out->data);
        memcpy(out->event_id, meta.event_id, sizeof out->event_id);
    }
    ev->meta = NULL; /* meta dies here: leave the caller no pointer to it */
    return out->data ? 0 : -ENOMEM;
}

/* CustomerCreated and CustomerUpdated (and so for contracts and sites)
 * share their fields, in structs of different types: one macro fills both. */
#define FILL_CUSTOMER(body, c)                                                                     \
    do {                                                                                           \
        (body).customer_id = str((c)->id);                                                         \
        (body).customer_number = str((c)->customer_number);                                        \
        (body).segment = str((c)->segment);                                                        \
        (body).vat_rate_bp = (c)->vat_rate_bp;                                                     \
        (body).name = str((c)->name);                                                              \
    } while (0)
#define FILL_CONTRACT(body, c)                                                                     \
    do {                                                                                           \
        (body).contract_id = str((c)->id);                                                         \
        (body).customer_id = str((c)->customer_id);                                                \
        (body).delivery_mode = str((c)->delivery_mode);                                            \
        (body).price_per_tonne_cents = (c)->price_per_tonne_cents;                                 \
        (body).maintenance_plan = str((c)->maintenance_plan);                                      \
    } while (0)
#define FILL_SITE(body, s)                                                                         \
    do {                                                                                           \
        (body).site_id = str((s)->id);                                                             \
        (body).contract_id = str((s)->contract_id);                                                \
        (body).customer_id = str((s)->customer_id);                                                \
        (body).capacity_kg = (s)->capacity_kg;                                                     \
        (body).threshold_pct = (s)->threshold_pct;                                                 \
        (body).address = str((s)->address);                                                        \
        (body).delivery_mode = str((s)->delivery_mode);                                            \
        (body).certificate_received = (s)->certificate_received;                                   \
    } while (0)

int accounts_event_customer_created(const accounts_customer_t *c, accounts_event_t *out)
{
    Citerne__V1__CustomerCreated body = CITERNE__V1__CUSTOMER_CREATED__INIT;
    FILL_CUSTOMER(body, c);

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_CREATED;
    ev.customer_created = &body;
    return pack(&ev, out);
}

int accounts_event_contract_created(const accounts_contract_t *c, accounts_event_t *out)
{
    Citerne__V1__ContractCreated body = CITERNE__V1__CONTRACT_CREATED__INIT;
    FILL_CONTRACT(body, c);

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CONTRACT_CREATED;
    ev.contract_created = &body;
    return pack(&ev, out);
}

int accounts_event_site_created(const accounts_site_t *s, accounts_event_t *out)
{
    Citerne__V1__SiteCreated body = CITERNE__V1__SITE_CREATED__INIT;
    FILL_SITE(body, s);

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED;
    ev.site_created = &body;
    return pack(&ev, out);
}

int accounts_event_customer_updated(const accounts_customer_t *c, int version,
                                    accounts_event_t *out)
{
    Citerne__V1__CustomerUpdated body = CITERNE__V1__CUSTOMER_UPDATED__INIT;
    FILL_CUSTOMER(body, c);
    body.version = version;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_UPDATED;
    ev.customer_updated = &body;
    return pack(&ev, out);
}

int accounts_event_contract_updated(const accounts_contract_t *c, int version,
                                    accounts_event_t *out)
{
    Citerne__V1__ContractUpdated body = CITERNE__V1__CONTRACT_UPDATED__INIT;
    FILL_CONTRACT(body, c);
    body.version = version;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CONTRACT_UPDATED;
    ev.contract_updated = &body;
    return pack(&ev, out);
}

int accounts_event_site_updated(const accounts_site_t *s, int version, accounts_event_t *out)
{
    Citerne__V1__SiteUpdated body = CITERNE__V1__SITE_UPDATED__INIT;
    FILL_SITE(body, s);
    body.version = version;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_UPDATED;
    ev.site_updated = &body;
    return pack(&ev, out);
}

int accounts_event_user_created(const accounts_user_t *u, accounts_event_t *out)
{
    Citerne__V1__UserCreated body = CITERNE__V1__USER_CREATED__INIT;
    body.user_id = str(u->id);
    body.customer_id = str(u->customer_id);
    body.email = str(u->email);
    body.phone = str(u->phone);
    body.role = str(u->role);
    body.name = str(u->name);

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_CREATED;
    ev.user_created = &body;
    return pack(&ev, out);
}

int accounts_event_password_reset_requested(const accounts_user_ref_t *u, const char *reset_url,
                                            int64_t expires_at_ms, accounts_event_t *out)
{
    Citerne__V1__PasswordResetRequested body = CITERNE__V1__PASSWORD_RESET_REQUESTED__INIT;
    body.user_id = str(u->user_id);
    body.customer_id = str(u->customer_id);
    body.email = str(u->email);
    body.name = str(u->name);
    body.reset_url = str(reset_url);
    body.expires_at = expires_at_ms;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_PASSWORD_RESET_REQUESTED;
    ev.password_reset_requested = &body;
    return pack(&ev, out);
}

int accounts_event_activation_requested(const accounts_user_ref_t *u, const char *activation_url,
                                        int64_t expires_at_ms, accounts_event_t *out)
{
    Citerne__V1__ActivationRequested body = CITERNE__V1__ACTIVATION_REQUESTED__INIT;
    body.user_id = str(u->user_id);
    body.customer_id = str(u->customer_id);
    body.email = str(u->email);
    body.name = str(u->name);
    body.activation_url = str(activation_url);
    body.expires_at = expires_at_ms;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_ACTIVATION_REQUESTED;
    ev.activation_requested = &body;
    return pack(&ev, out);
}

int accounts_event_collaborator_added(const accounts_user_ref_t *u, const char *role,
                                      const char *added_by, const char *activation_url,
                                      int64_t expires_at_ms, accounts_event_t *out)
{
    Citerne__V1__CollaboratorAdded body = CITERNE__V1__COLLABORATOR_ADDED__INIT;
    body.customer_id = str(u->customer_id);
    body.user_id = str(u->user_id);
    body.email = str(u->email);
    body.name = str(u->name);
    body.role = str(role);
    body.added_by = str(added_by);
    body.activation_url = str(activation_url);
    body.expires_at = activation_url ? expires_at_ms : 0;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_ADDED;
    ev.collaborator_added = &body;
    return pack(&ev, out);
}

int accounts_event_collaborator_invited(const accounts_invited_t *in, accounts_event_t *out)
{
    Citerne__V1__CollaboratorInvited body = CITERNE__V1__COLLABORATOR_INVITED__INIT;
    body.invitation_id = str(in->invitation_id);
    body.customer_id = str(in->customer_id);
    body.user_id = str(in->user_id);
    body.email = str(in->email);
    body.name = str(in->name);
    body.role = str(in->role);
    body.invited_by = str(in->invited_by);
    body.inviter_name = str(in->inviter_name);
    body.invitations_url = str(in->invitations_url);
    body.expires_at = in->expires_at_ms;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_INVITED;
    ev.collaborator_invited = &body;
    return pack(&ev, out);
}

int accounts_event_collaborator_role_changed(const char *customer_id, const char *user_id,
                                             const char *role, const char *changed_by,
                                             accounts_event_t *out)
{
    Citerne__V1__CollaboratorRoleChanged body = CITERNE__V1__COLLABORATOR_ROLE_CHANGED__INIT;
    body.customer_id = str(customer_id);
    body.user_id = str(user_id);
    body.role = str(role);
    body.changed_by = str(changed_by);

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_ROLE_CHANGED;
    ev.collaborator_role_changed = &body;
    return pack(&ev, out);
}

int accounts_event_collaborator_removed(const char *customer_id, const char *user_id,
                                        const char *email, const char *removed_by,
                                        accounts_event_t *out)
{
    Citerne__V1__CollaboratorRemoved body = CITERNE__V1__COLLABORATOR_REMOVED__INIT;
    body.customer_id = str(customer_id);
    body.user_id = str(user_id);
    body.email = str(email);
    body.removed_by = str(removed_by);

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_COLLABORATOR_REMOVED;
    ev.collaborator_removed = &body;
    return pack(&ev, out);
}

int accounts_event_new_device(const accounts_user_ref_t *u, const char *device, const char *address,
                              int64_t at_ms, accounts_event_t *out)
{
    Citerne__V1__NewDeviceSignedIn body = CITERNE__V1__NEW_DEVICE_SIGNED_IN__INIT;
    body.user_id = str(u->user_id);
    body.customer_id = str(u->customer_id);
    body.email = str(u->email);
    body.name = str(u->name);
    body.device = str(device);
    body.address = str(address);
    body.signed_in_at = at_ms;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_NEW_DEVICE_SIGNED_IN;
    ev.new_device_signed_in = &body;
    return pack(&ev, out);
}

int accounts_event_totp_disabled(const accounts_user_ref_t *u, bool with_recovery_code,
                                 int64_t at_ms, accounts_event_t *out)
{
    Citerne__V1__TotpDisabled body = CITERNE__V1__TOTP_DISABLED__INIT;
    body.user_id = str(u->user_id);
    body.customer_id = str(u->customer_id);
    body.email = str(u->email);
    body.name = str(u->name);
    body.with_recovery_code = with_recovery_code;
    body.disabled_at = at_ms;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_TOTP_DISABLED;
    ev.totp_disabled = &body;
    return pack(&ev, out);
}

int accounts_event_customer_linked(const accounts_user_ref_t *u, const char *role, int64_t at_ms,
                                   accounts_event_t *out)
{
    Citerne__V1__CustomerLinked body = CITERNE__V1__CUSTOMER_LINKED__INIT;
    body.user_id = str(u->user_id);
    body.customer_id = str(u->customer_id);
    body.email = str(u->email);
    body.name = str(u->name);
    body.role = str(role);
    body.linked_at = at_ms;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_CUSTOMER_LINKED;
    ev.customer_linked = &body;
    return pack(&ev, out);
}

int accounts_event_profile_updated(const accounts_user_ref_t *u, const char *phone, json_t *prefs,
                                   accounts_event_t *out)
{
    Citerne__V1__NotificationPreference items[8];
    Citerne__V1__NotificationPreference *ptrs[8];
    size_t n = 0;
    for (size_t i = 0; accounts_pref_kinds[i] && n < 8; i++) {
        const char *ch = json_string_value(json_object_get(prefs, accounts_pref_kinds[i]));
        citerne__v1__notification_preference__init(&items[n]);
        items[n].kind = str(accounts_pref_kinds[i]);
        items[n].channel = str(ch ? ch : "both");
        ptrs[n] = &items[n];
        n++;
    }
    Citerne__V1__UserProfileUpdated body = CITERNE__V1__USER_PROFILE_UPDATED__INIT;
    body.user_id = str(u->user_id);
    body.customer_id = str(u->customer_id);
    body.email = str(u->email);
    body.name = str(u->name);
    body.phone = str(phone);
    body.n_preferences = n;
    body.preferences = ptrs;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_PROFILE_UPDATED;
    ev.user_profile_updated = &body;
    return pack(&ev, out);
}

int accounts_event_user_closed(const char *user_id, const char *const *customer_ids, size_t n,
                               int64_t at_ms, accounts_event_t *out)
{
    Citerne__V1__UserClosed body = CITERNE__V1__USER_CLOSED__INIT;
    body.user_id = str(user_id);
    body.customer_ids = (char **)customer_ids;
    body.n_customer_ids = n;
    body.closed_at = at_ms;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_USER_CLOSED;
    ev.user_closed = &body;
    return pack(&ev, out);
}

/* A date YYYY-MM-DD that exists, by the platform's validator: anything else
 * is stored as no date (it would fail the INSERT's cast and stall the
 * partition), and an undated invoice proves nothing (README). */
static bool date_exists(const char *s)
{
    if (!s || strlen(s) != 10)
        return false;
    json_t *obj = json_pack("{s:s}", "d", s);
    if (!obj)
        return false;
    ct_valid_t v;
    ct_valid_init(&v);
    bool ok = ct_valid_date(&v, obj, "d", true) != NULL && ct_valid_ok(&v);
    ct_valid_dispose(&v);
    json_decref(obj);
    return ok;
}

int accounts_billing_decode(const void *data, size_t len, accounts_invoice_seen_t *out)
{
    memset(out, 0, sizeof *out);
    Citerne__V1__BillingEvent *ev = citerne__v1__billing_event__unpack(NULL, len, data);
    if (!ev)
        return CT_EDECODE;
    int rc = CT_EDECODE;
    if (!ev->meta || ct_event_meta_check(ev->meta) != 0) {
        rc = CT_EDECODE;
    } else if (ev->body_case != CITERNE__V1__BILLING_EVENT__BODY_INVOICE_ISSUED) {
        rc = 1;
    } else {
        const Citerne__V1__InvoiceIssued *i = ev->invoice_issued;
        size_t n = i->invoice_number ? strlen(i->invoice_number) : 0;
        if (i->customer_id && ct_uuid_valid(i->customer_id) && n > 0 &&
            n < sizeof out->invoice_number) {
            snprintf(out->event_id, sizeof out->event_id, "%s", ev->meta->event_id);
            accounts_uuid_lower(out->customer_id, i->customer_id);
            memcpy(out->invoice_number, i->invoice_number, n + 1);
            if (date_exists(i->issue_date))
                memcpy(out->issue_date, i->issue_date, 11);
            rc = 0;
        }
    }
    citerne__v1__billing_event__free_unpacked(ev, NULL);
    return rc;
}

int accounts_event_password_changed(const accounts_user_ref_t *u, const char *via,
                                    int64_t changed_at_ms, accounts_event_t *out)
{
    Citerne__V1__PasswordChanged body = CITERNE__V1__PASSWORD_CHANGED__INIT;
    body.user_id = str(u->user_id);
    body.customer_id = str(u->customer_id);
    body.email = str(u->email);
    body.name = str(u->name);
    body.via = str(via);
    body.changed_at = changed_at_ms;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_PASSWORD_CHANGED;
    ev.password_changed = &body;
    return pack(&ev, out);
}

int accounts_event_email_change_requested(const accounts_user_ref_t *u, const char *confirm_url,
                                          int64_t expires_at_ms, accounts_event_t *out)
{
    Citerne__V1__EmailChangeRequested body = CITERNE__V1__EMAIL_CHANGE_REQUESTED__INIT;
    body.user_id = str(u->user_id);
    body.customer_id = str(u->customer_id);
    body.old_email = str(u->email);
    body.new_email = str(u->new_email);
    body.name = str(u->name);
    body.confirm_url = str(confirm_url);
    body.expires_at = confirm_url ? expires_at_ms : 0;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_EMAIL_CHANGE_REQUESTED;
    ev.email_change_requested = &body;
    return pack(&ev, out);
}

int accounts_event_email_changed(const accounts_user_ref_t *u, int64_t changed_at_ms,
                                 accounts_event_t *out)
{
    Citerne__V1__EmailChanged body = CITERNE__V1__EMAIL_CHANGED__INIT;
    body.user_id = str(u->user_id);
    body.customer_id = str(u->customer_id);
    body.old_email = str(u->email);
    body.new_email = str(u->new_email);
    body.name = str(u->name);
    body.changed_at = changed_at_ms;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_EMAIL_CHANGED;
    ev.email_changed = &body;
    return pack(&ev, out);
}

int accounts_event_phone_verification_requested(const accounts_user_ref_t *u, const char *phone,
                                                const char *code, int64_t expires_at_ms,
                                                accounts_event_t *out)
{
    Citerne__V1__PhoneVerificationRequested body = CITERNE__V1__PHONE_VERIFICATION_REQUESTED__INIT;
    body.user_id = str(u->user_id);
    body.customer_id = str(u->customer_id);
    body.phone = str(phone);
    body.name = str(u->name);
    body.code = str(code);
    body.expires_at = expires_at_ms;

    Citerne__V1__AccountsEvent ev = CITERNE__V1__ACCOUNTS_EVENT__INIT;
    ev.body_case = CITERNE__V1__ACCOUNTS_EVENT__BODY_PHONE_VERIFICATION_REQUESTED;
    ev.phone_verification_requested = &body;
    return pack(&ev, out);
}

void accounts_event_dispose(accounts_event_t *ev)
{
    free(ev->data);
    ev->data = NULL;
    ev->len = 0;
}
