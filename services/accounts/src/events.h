/* Domain values -> AccountsEvent (topic citerne.accounts.v1, key: customer id). */
#ifndef ACCOUNTS_EVENTS_H
#define ACCOUNTS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accounts.h"

/* A packed event ready for ct_outbox_append. */
typedef struct {
    uint8_t *data; /* malloc'ed: accounts_event_dispose frees it */
    size_t len;
    char event_id[CT_UUID_STRLEN + 1];
} accounts_event_t;

/* Each builds a new AccountsEvent (fresh meta: producer "accounts", a new
 * event id, the chain starts here) and packs it into out. Returns 0 or
 * -ENOMEM (out then holds nothing). Any thread. */
int accounts_event_customer_created(const accounts_customer_t *c, accounts_event_t *out);
int accounts_event_contract_created(const accounts_contract_t *c, accounts_event_t *out);
int accounts_event_site_created(const accounts_site_t *s, accounts_event_t *out);
int accounts_event_user_created(const accounts_user_t *u, accounts_event_t *out);
/* The back office changed a customer, contract or site: its whole state as
 * it now is, with the row's new version (2, 3, ...). A site's delivery_mode
 * is its contract's. */
int accounts_event_customer_updated(const accounts_customer_t *c, int version,
                                    accounts_event_t *out);
int accounts_event_contract_updated(const accounts_contract_t *c, int version,
                                    accounts_event_t *out);
int accounts_event_site_updated(const accounts_site_t *s, int version, accounts_event_t *out);

/* Whom a user event is about (strings borrowed). */
typedef struct {
    const char *user_id;
    const char *customer_id; /* the user's first customer: the record key */
    const char *email;
    const char *name;
    const char *new_email; /* EmailChangeRequested, EmailChanged: the address asked for */
} accounts_user_ref_t;

/* PasswordResetRequested: reset_url carries the token (see README). */
int accounts_event_password_reset_requested(const accounts_user_ref_t *u, const char *reset_url,
                                            int64_t expires_at_ms, accounts_event_t *out);
/* ActivationRequested: activation_url carries the token. */
int accounts_event_activation_requested(const accounts_user_ref_t *u, const char *activation_url,
                                        int64_t expires_at_ms, accounts_event_t *out);
/* What sends a link by e-mail (reset, activation): builds the link
 * public_url + page + "#token=" + token (in the fragment: browsers send it to
 * no server, no access log, no Referer), the event of it with build, wipes
 * the link, and appends the event to the outbox in tx, keyed by the user's
 * customer (the user when none), then next(tx). Out of memory rolls tx back.
 * Implemented in api_common.c. */
typedef int (*accounts_link_event_fn)(const accounts_user_ref_t *u, const char *url,
                                      int64_t expires_at_ms, accounts_event_t *out);
void accounts_link_event_append(ct_db_tx_t *tx, const accounts_t *a, const accounts_user_ref_t *u,
                                const char *page, const char *token, int64_t expires_at_ms,
                                accounts_link_event_fn build, accounts_event_t *event,
                                ct_db_tx_cb next);
/* PasswordChanged, via "reset" or "change". */
int accounts_event_password_changed(const accounts_user_ref_t *u, const char *via,
                                    int64_t changed_at_ms, accounts_event_t *out);

/* EmailChangeRequested: u->email is the current address, u->new_email the
 * one asked for; confirm_url carries the token, NULL when new_email is
 * taken (then no link, expires_at 0). Its signature fits
 * accounts_link_event_append. */
int accounts_event_email_change_requested(const accounts_user_ref_t *u, const char *confirm_url,
                                          int64_t expires_at_ms, accounts_event_t *out);
/* EmailChanged: u->email is the former address, u->new_email the new one. */
int accounts_event_email_changed(const accounts_user_ref_t *u, int64_t changed_at_ms,
                                 accounts_event_t *out);

/* CollaboratorAdded: u is the collaborator (customer_id the customer);
 * activation_url NULL when they already had an account (they accepted an
 * invitation: added_by is the admin who invited them). */
int accounts_event_collaborator_added(const accounts_user_ref_t *u, const char *role,
                                      const char *added_by, const char *activation_url,
                                      int64_t expires_at_ms, accounts_event_t *out);
/* CollaboratorInvited: an existing account invited (no grant yet). */
typedef struct {
    const char *invitation_id, *customer_id, *user_id, *email, *name, *role;
    const char *invited_by, *inviter_name, *invitations_url;
    int64_t expires_at_ms;
} accounts_invited_t;
int accounts_event_collaborator_invited(const accounts_invited_t *in, accounts_event_t *out);
int accounts_event_collaborator_role_changed(const char *customer_id, const char *user_id,
                                             const char *role, const char *changed_by,
                                             accounts_event_t *out);
int accounts_event_collaborator_removed(const char *customer_id, const char *user_id,
                                        const char *email, const char *removed_by,
                                        accounts_event_t *out);

int accounts_event_new_device(const accounts_user_ref_t *u, const char *device, const char *address,
                              int64_t at_ms, accounts_event_t *out);
int accounts_event_totp_disabled(const accounts_user_ref_t *u, bool with_recovery_code,
                                 int64_t at_ms, accounts_event_t *out);

int accounts_event_customer_linked(const accounts_user_ref_t *u, const char *role, int64_t at_ms,
                                   accounts_event_t *out);

/* UserProfileUpdated: prefs maps kind -> channel (kinds absent: "both");
 * phone NULL for none. */
int accounts_event_profile_updated(const accounts_user_ref_t *u, const char *phone, json_t *prefs,
                                   accounts_event_t *out);

/* PhoneVerificationRequested: code (a secret) for phone, u->email unused. */
int accounts_event_phone_verification_requested(const accounts_user_ref_t *u, const char *phone,
                                                const char *code, int64_t expires_at_ms,
                                                accounts_event_t *out);

/* Appends PhoneVerificationRequested (code for phone) to the outbox in tx,
 * keyed by u's customer (the user when none), then next(tx); event keeps
 * the packed bytes until the caller disposes of it. Out of memory rolls tx
 * back. Implemented in api_phone.c. */
void accounts_phone_code_append(ct_db_tx_t *tx, const accounts_t *a, const accounts_user_ref_t *u,
                                const char *phone, const char *code, int64_t expires_at_ms,
                                accounts_event_t *event, ct_db_tx_cb next);

/* Appends UserProfileUpdated for user_id to the outbox in tx, from res (a
 * profile row, store.h) and profile (its JSON, accounts_profile_json:
 * borrowed), keyed by the user's first customer (the user when none), then
 * next(tx). Out of memory rolls tx back. Implemented in api_profile.c. */
void accounts_profile_publish(ct_db_tx_t *tx, const accounts_t *a, const char *user_id,
                              const PGresult *res, json_t *profile, accounts_event_t *event,
                              ct_db_tx_cb next);

/* UserClosed: customer_ids (n of them) the user acted for. */
int accounts_event_user_closed(const char *user_id, const char *const *customer_ids, size_t n,
                               int64_t at_ms, accounts_event_t *out);

/* The invoice number a consumed billing record makes known: InvoiceIssued
 * with a customer UUID and a number fills out (strings copied, bounded);
 * 1 when the record is something else (skip it); CT_EDECODE when it does not
 * decode or lacks those fields. */
typedef struct {
    char event_id[CT_UUID_STRLEN + 1];
    char customer_id[CT_UUID_STRLEN + 1];
    char invoice_number[64];
    char issue_date[11];
} accounts_invoice_seen_t;
int accounts_billing_decode(const void *data, size_t len, accounts_invoice_seen_t *out);

/* Frees out->data; safe on a zeroed or already disposed event. */
void accounts_event_dispose(accounts_event_t *ev);

#endif
