/* Packed records of the topics notify consumes, for tests. Buffers are
 * malloc'ed (fx_free); event ids fresh UUIDv7 unless given. */
#ifndef NOTIFY_TEST_FIXTURES_H
#define NOTIFY_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "records.h"

typedef ct_test_record_t fx_record_t;

void fx_customer(fx_record_t *r, const char *customer_id, const char *number);
/* The back office changed the customer: its whole state at version. */
void fx_customer_updated(fx_record_t *r, const char *customer_id, const char *number,
                         const char *name, int version);
void fx_user(fx_record_t *r, const char *user_id, const char *customer_id, const char *email,
             const char *phone, const char *name);
/* occurred_at 0: now */
void fx_order_proposed(fx_record_t *r, const char *customer_id, const char *mode, int kg,
                       int64_t occurred_at);
void fx_delivery_scheduled(fx_record_t *r, const char *customer_id, const char *date, int kg);
/* confirmed by a user (confirmed_by, "" for automatic) at speed */
void fx_delivery_scheduled_by(fx_record_t *r, const char *customer_id, const char *date, int kg,
                              const char *speed, const char *confirmed_by);
void fx_delivery_confirmed(fx_record_t *r, const char *customer_id, const char *date, int kg);
void fx_invoice_issued(fx_record_t *r, const char *customer_id, const char *number,
                       int64_t total_incl_cents, const char *issue_date);
/* accounts: messages to one person (at: the event's time field, Unix ms) */
void fx_reset(fx_record_t *r, const char *user_id, const char *customer_id, const char *email,
              const char *url, int64_t expires_at);
void fx_activation(fx_record_t *r, const char *user_id, const char *customer_id, const char *email,
                   const char *url, int64_t expires_at);
void fx_password_changed(fx_record_t *r, const char *user_id, const char *customer_id,
                         const char *email, const char *via, int64_t at);
void fx_totp_disabled(fx_record_t *r, const char *user_id, const char *customer_id,
                      const char *email, int64_t at);
/* url NULL: the new address was taken (no link) */
void fx_email_change_requested(fx_record_t *r, const char *user_id, const char *customer_id,
                               const char *old_email, const char *new_email, const char *url,
                               int64_t expires_at);
/* PhoneVerificationRequested: code (6 digits) for phone. */
void fx_phone_verification(fx_record_t *r, const char *user_id, const char *customer_id,
                           const char *phone, const char *code, int64_t expires_at);
void fx_email_changed(fx_record_t *r, const char *user_id, const char *customer_id,
                      const char *old_email, const char *new_email, int64_t at);
void fx_new_device(fx_record_t *r, const char *user_id, const char *customer_id, const char *email,
                   const char *address, int64_t at);
void fx_customer_linked(fx_record_t *r, const char *user_id, const char *customer_id,
                        const char *email, const char *role, int64_t at);
/* url "" for an existing account */
/* CollaboratorInvited: an account invited, to accept at url. */
void fx_collaborator_invited(fx_record_t *r, const char *customer_id, const char *user_id,
                             const char *email, const char *role, const char *url,
                             int64_t expires_at);
void fx_collaborator_added(fx_record_t *r, const char *customer_id, const char *user_id,
                           const char *email, const char *role, const char *url,
                           int64_t expires_at);
void fx_collaborator_removed(fx_record_t *r, const char *customer_id, const char *user_id,
                             const char *email, const char *removed_by);
void fx_role_changed(fx_record_t *r, const char *customer_id, const char *user_id,
                     const char *role);
/* prefs: kind, channel, kind, channel, ..., NULL */
void fx_profile(fx_record_t *r, const char *user_id, const char *customer_id, const char *email,
                const char *phone, const char *name, const char *const *prefs);
void fx_user_closed(fx_record_t *r, const char *user_id, const char *customer_id);
void fx_free(fx_record_t *r);
/* orders' OrderHeld (reason "certificate_missing" as orders sends it);
 * held_at 0: the event's time */
void fx_order_held(fx_record_t *r, const char *customer_id, const char *reason, int64_t held_at);

#endif
