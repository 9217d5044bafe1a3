/* Packed records for notify's tests. */
#include "fixtures.h"

#include <stdlib.h>
#include <string.h>

#include "citerne/id.h"
#include "citerne/v1/accounts.pb-c.h"
#include "citerne/v1/billing.pb-c.h"
#include "citerne/v1/orders.pb-c.h"

static char other_id[37];

void fx_customer(fx_record_t *r, const char *customer_id, const char *number)
{
    Citerne__V1__CustomerCreated b = CITERNE__V1__CUSTOMER_CREATED__INIT;
    b.customer_id = (char *)customer_id;
    b.customer_number = (char *)number;
    b.segment = "household";
    b.vat_rate_bp = 2000;
    b.name = "Famille Dupont";
    CT_TEST_ACCOUNTS_RECORD(r, 0, customer_created, CUSTOMER_CREATED, &b);
}

void fx_customer_updated(fx_record_t *r, const char *customer_id, const char *number,
                         const char *name, int version)
{
    Citerne__V1__CustomerUpdated b = CITERNE__V1__CUSTOMER_UPDATED__INIT;
    b.customer_id = (char *)customer_id;
    b.customer_number = (char *)number;
    b.segment = "business";
    b.vat_rate_bp = 2000;
    b.name = (char *)name;
    b.version = version;
    CT_TEST_ACCOUNTS_RECORD(r, 0, customer_updated, CUSTOMER_UPDATED, &b);
}

void fx_user(fx_record_t *r, const char *user_id, const char *customer_id, const char *email,
             const char *phone, const char *name)
{
    Citerne__V1__UserCreated b = CITERNE__V1__USER_CREATED__INIT;
    b.user_id = (char *)user_id;
    b.customer_id = (char *)customer_id;
    b.email = (char *)email;
    b.phone = (char *)phone;
    b.role = "admin";
    b.name = (char *)name;
    CT_TEST_ACCOUNTS_RECORD(r, 0, user_created, USER_CREATED, &b);
}

void fx_order_proposed(fx_record_t *r, const char *customer_id, const char *mode, int kg,
                       int64_t occurred_at)
{
    ct_uuid_v7(other_id);
    Citerne__V1__OrderProposed b = CITERNE__V1__ORDER_PROPOSED__INIT;
    b.order_id = other_id;
    b.site_id = other_id;
    b.customer_id = (char *)customer_id;
    b.delivery_mode = (char *)mode;
    b.quantity_kg = kg;
    b.speed = "standard";
    CT_TEST_ORDERS_RECORD(r, occurred_at, order_proposed, ORDER_PROPOSED, &b);
}

void fx_delivery_scheduled(fx_record_t *r, const char *customer_id, const char *date, int kg)
{
    fx_delivery_scheduled_by(r, customer_id, date, kg, "standard", "");
}

void fx_delivery_scheduled_by(fx_record_t *r, const char *customer_id, const char *date, int kg,
                              const char *speed, const char *confirmed_by)
{
    ct_uuid_v7(other_id);
    Citerne__V1__DeliveryScheduled b = CITERNE__V1__DELIVERY_SCHEDULED__INIT;
    b.order_id = other_id;
    b.site_id = other_id;
    b.customer_id = (char *)customer_id;
    b.delivery_date = (char *)date;
    b.quantity_kg = kg;
    b.speed = (char *)speed;
    b.confirmed_by = (char *)confirmed_by;
    CT_TEST_ORDERS_RECORD(r, 0, delivery_scheduled, DELIVERY_SCHEDULED, &b);
}

void fx_delivery_confirmed(fx_record_t *r, const char *customer_id, const char *date, int kg)
{
    ct_uuid_v7(other_id);
    Citerne__V1__DeliveryConfirmed b = CITERNE__V1__DELIVERY_CONFIRMED__INIT;
    b.order_id = other_id;
    b.site_id = other_id;
    b.customer_id = (char *)customer_id;
    b.delivery_date = (char *)date;
    b.delivered_kg = kg;
    b.ordered_kg = kg;
    b.speed = "standard";
    b.delivery_mode = "on_demand";
    b.level_after_pct = 80;
    CT_TEST_ORDERS_RECORD(r, 0, delivery_confirmed, DELIVERY_CONFIRMED, &b);
}

void fx_invoice_issued(fx_record_t *r, const char *customer_id, const char *number,
                       int64_t total_incl_cents, const char *issue_date)
{
    ct_uuid_v7(other_id);
    Citerne__V1__InvoiceIssued b = CITERNE__V1__INVOICE_ISSUED__INIT;
    b.invoice_id = other_id;
    b.invoice_number = (char *)number;
    b.customer_id = (char *)customer_id;
    b.order_id = other_id;
    b.site_id = other_id;
    b.issue_date = (char *)issue_date;
    b.total_incl_cents = total_incl_cents;
    b.customer_number = "C-1";
    CT_TEST_BILLING_RECORD(r, 0, invoice_issued, INVOICE_ISSUED, &b);
}

void fx_reset(fx_record_t *r, const char *user_id, const char *customer_id, const char *email,
              const char *url, int64_t expires_at)
{
    Citerne__V1__PasswordResetRequested b = CITERNE__V1__PASSWORD_RESET_REQUESTED__INIT;
    b.user_id = (char *)user_id;
    b.customer_id = (char *)customer_id;
    b.email = (char *)email;
    b.name = "Marie Dupont";
    b.reset_url = (char *)url;
    b.expires_at = expires_at;
    CT_TEST_ACCOUNTS_RECORD(r, 0, password_reset_requested, PASSWORD_RESET_REQUESTED, &b);
}

void fx_activation(fx_record_t *r, const char *user_id, const char *customer_id, const char *email,
                   const char *url, int64_t expires_at)
{
    Citerne__V1__ActivationRequested b = CITERNE__V1__ACTIVATION_REQUESTED__INIT;
    b.user_id = (char *)user_id;
    b.customer_id = (char *)customer_id;
    b.email = (char *)email;
    b.name = "Marie Dupont";
    b.activation_url = (char *)url;
    b.expires_at = expires_at;
    CT_TEST_ACCOUNTS_RECORD(r, 0, activation_requested, ACTIVATION_REQUESTED, &b);
}

void fx_password_changed(fx_record_t *r, const char *user_id, const char *customer_id,
                         const char *email, const char *via, int64_t at)
{
    Citerne__V1__PasswordChanged b = CITERNE__V1__PASSWORD_CHANGED__INIT;
    b.user_id = (char *)user_id;
    b.customer_id = (char *)customer_id;
    b.email = (char *)email;
    b.name = "Marie Dupont";
    b.via = (char *)via;
    b.changed_at = at;
    CT_TEST_ACCOUNTS_RECORD(r, 0, password_changed, PASSWORD_CHANGED, &b);
}

void fx_email_change_requested(fx_record_t *r, const char *user_id, const char *customer_id,
                               const char *old_email, const char *new_email, const char *url,
                               int64_t expires_at)
{
    Citerne__V1__EmailChangeRequested b = CITERNE__V1__EMAIL_CHANGE_REQUESTED__INIT;
    b.user_id = (char *)user_id;
    b.customer_id = (char *)customer_id;
    b.old_email = (char *)old_email;
    b.new_email = (char *)new_email;
    b.name = "Marie Dupont";
    b.confirm_url = (char *)(url ? url : "");
    b.expires_at = url ? expires_at : 0;
    CT_TEST_ACCOUNTS_RECORD(r, 0, email_change_requested, EMAIL_CHANGE_REQUESTED, &b);
}

void fx_phone_verification(fx_record_t *r, const char *user_id, const char *customer_id,
                           const char *phone, const char *code, int64_t expires_at)
{
    Citerne__V1__PhoneVerificationRequested b = CITERNE__V1__PHONE_VERIFICATION_REQUESTED__INIT;
    b.user_id = (char *)user_id;
    b.customer_id = (char *)customer_id;
    b.phone = (char *)phone;
    b.name = "Marie Dupont";
    b.code = (char *)code;
    b.expires_at = expires_at;
    CT_TEST_ACCOUNTS_RECORD(r, 0, phone_verification_requested, PHONE_VERIFICATION_REQUESTED, &b);
}

void fx_email_changed(fx_record_t *r, const char *user_id, const char *customer_id,
                      const char *old_email, const char *new_email, int64_t at)
{
    Citerne__V1__EmailChanged b = CITERNE__V1__EMAIL_CHANGED__INIT;
    b.user_id = (char *)user_id;
    b.customer_id = (char *)customer_id;
    b.old_email = (char *)old_email;
    b.new_email = (char *)new_email;
    b.name = "Marie Dupont";
    b.changed_at = at;
    CT_TEST_ACCOUNTS_RECORD(r, 0, email_changed, EMAIL_CHANGED, &b);
}

void fx_totp_disabled(fx_record_t *r, const char *user_id, const char *customer_id,
                      const char *email, int64_t at)
{
    Citerne__V1__TotpDisabled b = CITERNE__V1__TOTP_DISABLED__INIT;
    b.user_id = (char *)user_id;
    b.customer_id = (char *)customer_id;
    b.email = (char *)email;
    b.name = "Marie Dupont";
    b.with_recovery_code = true;
    b.disabled_at = at;
    CT_TEST_ACCOUNTS_RECORD(r, 0, totp_disabled, TOTP_DISABLED, &b);
}

void fx_new_device(fx_record_t *r, const char *user_id, const char *customer_id, const char *email,
                   const char *address, int64_t at)
{
    Citerne__V1__NewDeviceSignedIn b = CITERNE__V1__NEW_DEVICE_SIGNED_IN__INIT;
    b.user_id = (char *)user_id;
    b.customer_id = (char *)customer_id;
    b.email = (char *)email;
    b.name = "Marie Dupont";
    b.device = "Firefox on Linux";
    b.address = (char *)address;
    b.signed_in_at = at;
    CT_TEST_ACCOUNTS_RECORD(r, 0, new_device_signed_in, NEW_DEVICE_SIGNED_IN, &b);
}

void fx_customer_linked(fx_record_t *r, const char *user_id, const char *customer_id,
                        const char *email, const char *role, int64_t at)
{
    Citerne__V1__CustomerLinked b = CITERNE__V1__CUSTOMER_LINKED__INIT;
    b.user_id = (char *)user_id;
    b.customer_id = (char *)customer_id;
    b.email = (char *)email;
    b.name = "Marie Dupont";
    b.role = (char *)role;
    b.linked_at = at;
    CT_TEST_ACCOUNTS_RECORD(r, 0, customer_linked, CUSTOMER_LINKED, &b);
}

void fx_collaborator_added(fx_record_t *r, const char *customer_id, const char *user_id,
                           const char *email, const char *role, const char *url, int64_t expires_at)
{
    Citerne__V1__CollaboratorAdded b = CITERNE__V1__COLLABORATOR_ADDED__INIT;
    b.customer_id = (char *)customer_id;
    b.user_id = (char *)user_id;
    b.email = (char *)email;
    b.name = "Paul Martin";
    b.role = (char *)role;
    b.added_by = (char *)customer_id; /* any UUID */
    b.activation_url = (char *)url;
    b.expires_at = expires_at;
    CT_TEST_ACCOUNTS_RECORD(r, 0, collaborator_added, COLLABORATOR_ADDED, &b);
}

void fx_collaborator_invited(fx_record_t *r, const char *customer_id, const char *user_id,
                             const char *email, const char *role, const char *url,
                             int64_t expires_at)
{
    Citerne__V1__CollaboratorInvited b = CITERNE__V1__COLLABORATOR_INVITED__INIT;
    b.invitation_id = (char *)user_id; /* any UUID */
    b.customer_id = (char *)customer_id;
    b.user_id = (char *)user_id;
    b.email = (char *)email;
    b.name = "Paul Martin";
    b.role = (char *)role;
    b.invited_by = (char *)customer_id; /* any UUID */
    b.inviter_name = "Marie Dupont";
    b.invitations_url = (char *)url;
    b.expires_at = expires_at;
    CT_TEST_ACCOUNTS_RECORD(r, 0, collaborator_invited, COLLABORATOR_INVITED, &b);
}

void fx_collaborator_removed(fx_record_t *r, const char *customer_id, const char *user_id,
                             const char *email, const char *removed_by)
{
    Citerne__V1__CollaboratorRemoved b = CITERNE__V1__COLLABORATOR_REMOVED__INIT;
    b.customer_id = (char *)customer_id;
    b.user_id = (char *)user_id;
    b.email = (char *)email;
    b.removed_by = (char *)removed_by;
    CT_TEST_ACCOUNTS_RECORD(r, 0, collaborator_removed, COLLABORATOR_REMOVED, &b);
}

void fx_role_changed(fx_record_t *r, const char *customer_id, const char *user_id, const char *role)
{
    Citerne__V1__CollaboratorRoleChanged b = CITERNE__V1__COLLABORATOR_ROLE_CHANGED__INIT;
    b.customer_id = (char *)customer_id;
    b.user_id = (char *)user_id;
    b.role = (char *)role;
    b.changed_by = (char *)customer_id;
    CT_TEST_ACCOUNTS_RECORD(r, 0, collaborator_role_changed, COLLABORATOR_ROLE_CHANGED, &b);
}

void fx_profile(fx_record_t *r, const char *user_id, const char *customer_id, const char *email,
                const char *phone, const char *name, const char *const *prefs)
{
    Citerne__V1__NotificationPreference p[16];
    Citerne__V1__NotificationPreference *pp[16];
    size_t n = 0;
    for (; prefs && prefs[2 * n] && n < 16; n++) {
        citerne__v1__notification_preference__init(&p[n]);
        p[n].kind = (char *)prefs[2 * n];
        p[n].channel = (char *)prefs[2 * n + 1];
        pp[n] = &p[n];
    }
    Citerne__V1__UserProfileUpdated b = CITERNE__V1__USER_PROFILE_UPDATED__INIT;
    b.user_id = (char *)user_id;
    b.customer_id = (char *)customer_id;
    b.email = (char *)email;
    b.phone = (char *)phone;
    b.name = (char *)name;
    b.n_preferences = n;
    b.preferences = pp;
    CT_TEST_ACCOUNTS_RECORD(r, 0, user_profile_updated, USER_PROFILE_UPDATED, &b);
}

void fx_user_closed(fx_record_t *r, const char *user_id, const char *customer_id)
{
    char *ids[1] = {(char *)customer_id};
    Citerne__V1__UserClosed b = CITERNE__V1__USER_CLOSED__INIT;
    b.user_id = (char *)user_id;
    b.n_customer_ids = 1;
    b.customer_ids = ids;
    b.closed_at = ct_now_ms();
    CT_TEST_ACCOUNTS_RECORD(r, 0, user_closed, USER_CLOSED, &b);
}

void fx_free(fx_record_t *r)
{
    ct_test_record_free(r);
}

void fx_order_held(fx_record_t *r, const char *customer_id, const char *reason, int64_t held_at)
{
    int64_t now = ct_now_ms();
    ct_uuid_v7(other_id);
    Citerne__V1__OrderHeld b = CITERNE__V1__ORDER_HELD__INIT;
    b.order_id = other_id;
    b.customer_id = (char *)customer_id;
    b.site_id = other_id;
    b.reason = (char *)reason;
    b.held_at = held_at ? held_at : now; /* the event's time */
    CT_TEST_ORDERS_RECORD(r, now, order_held, ORDER_HELD, &b);
}
