/* All SQL of accounts. Transaction steps issue one statement in tx and hand
 * the result to next (see db.h); one-shot reads return 0 (cb called once) or
 * an error (cb never called). */
#ifndef ACCOUNTS_STORE_H
#define ACCOUNTS_STORE_H

#include "accounts.h"
#include "citerne/db.h"

/* INSERT the customer unless its number exists: one row (id) when inserted,
 * none when the number is taken. */
void accounts_store_customer_insert(ct_db_tx_t *tx, const accounts_customer_t *c, ct_db_tx_cb next);
/* In tx: which of numbers (comma-separated customer numbers) are taken:
 * rows (customer_number). */
void accounts_store_customers_taken(ct_db_tx_t *tx, const char *numbers, ct_db_tx_cb next);
/* Locks the customer against deletion for the rest of tx: one row
 * (segment) or none when unknown. */
void accounts_store_customer_lock(ct_db_tx_t *tx, const char *customer_id, ct_db_tx_cb next);
/* INSERT the contract. */
void accounts_store_contract_insert(ct_db_tx_t *tx, const accounts_contract_t *c, ct_db_tx_cb next);
/* Locks the contract: one row (customer_id, delivery_mode) or none. */
void accounts_store_contract_lock(ct_db_tx_t *tx, const char *contract_id, ct_db_tx_cb next);
/* INSERT the site. */
void accounts_store_site_insert(ct_db_tx_t *tx, const accounts_site_t *s, ct_db_tx_cb next);
/* INSERT the user (active, with its password hash) unless the e-mail is
 * taken: one row (id) when inserted, none when taken. */
void accounts_store_user_insert(ct_db_tx_t *tx, const accounts_user_t *u, ct_db_tx_cb next);
/* Grants the user its role on its customer. */
void accounts_store_user_grant(ct_db_tx_t *tx, const accounts_user_t *u, ct_db_tx_cb next);

/* The customer with its contracts, sites and users as one JSON document:
 * one row, column "doc", or no row. */
int accounts_store_customer_get(ct_db_t *db, const char *customer_id, ct_db_result_cb cb,
                                void *udata);
/* An active user by normalised e-mail, one row per grant (columns id,
 * email, name, password_hash, totp ("t" when 2FA is on), customer_id, role; customer_id
 * and role NULL when the user has no grant), grants oldest first; no row
 * when unknown. */
int accounts_store_login_lookup(ct_db_t *db, const char *email, ct_db_result_cb cb, void *udata);
/* A user by id: one row (email, name, phone) or none. */
int accounts_store_user_get(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata);
/* An active user's grants by id: rows (id, email, name, customer_id, role)
 * as above. */
int accounts_store_grants(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata);

/* Replaces a user's password hash old by new (same password, current
 * parameters), only if it is still old: rows affected 0 or 1. */
int accounts_store_password_rehash(ct_db_t *db, const char *user_id, const char *old_hash,
                                   const char *new_hash, ct_db_result_cb cb, void *udata);

/* ---- two-factor authentication ---- */
/* The user with their TOTP state: one row (email, name, customer_id (the
 * first), password_hash, box (hex of
 * the sealed secret, NULL without 2FA), confirmed ("t"/"f"), last_step), or
 * none for an unknown or inactive user. */
int accounts_store_totp_get(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata);
/* Stores a new unconfirmed secret (box_hex), replacing an unconfirmed one:
 * one row when stored, none when 2FA is already on. */
int accounts_store_totp_put(ct_db_t *db, const char *user_id, const char *box_hex,
                            ct_db_result_cb cb, void *udata);
/* In tx: turns 2FA on at step (one row; none when already on or the step is
 * not later than the last), then replaces the recovery codes by hashes
 * (comma-separated hex SHA-256). */
void accounts_store_totp_confirm(ct_db_tx_t *tx, const char *user_id, long long step,
                                 ct_db_tx_cb next);
void accounts_store_recovery_replace(ct_db_tx_t *tx, const char *user_id, const char *hashes_csv,
                                     ct_db_tx_cb next);
/* Accepts a code's step for a user with 2FA on: one row when step is later
 * than the last accepted (and records it), none otherwise (replay). */
int accounts_store_totp_accept(ct_db_t *db, const char *user_id, long long step, ct_db_result_cb cb,
                               void *udata);
/* Uses an unused recovery code (hex SHA-256) of a user with 2FA on: one row
 * when it was unused (now used), none otherwise. */
int accounts_store_recovery_use(ct_db_t *db, const char *user_id, const char *hash_hex,
                                ct_db_result_cb cb, void *udata);

/* ---- password reset ---- */
/* In tx: an active user by normalised e-mail, locked: one row (id, email,
 * name, customer_id: the first customer or NULL) or none. */
void accounts_store_reset_user(ct_db_tx_t *tx, const char *email, ct_db_tx_cb next);
/* In tx: the user's one live link becomes hash_hex for ttl_s (replacing
 * any earlier one): one row (expires_ms). */
void accounts_store_reset_put(ct_db_tx_t *tx, const char *user_id, const char *hash_hex, long ttl_s,
                              ct_db_tx_cb next);
/* The user of a live link: one row (user_id) or none. */
int accounts_store_reset_find(ct_db_t *db, const char *hash_hex, ct_db_result_cb cb, void *udata);
/* In tx: uses the link up: one row (user_id) when it was live, none otherwise. */
void accounts_store_reset_take(ct_db_tx_t *tx, const char *hash_hex, ct_db_tx_cb next);
/* In tx: sets an active user's password hash, and voids their e-mail
 * change request if any: one row (id, email, name, customer_id) or none. */
void accounts_store_password_set(ct_db_tx_t *tx, const char *user_id, const char *password_hash,
                                 ct_db_tx_cb next);

/* ---- sign-up ---- */
/* In tx: the customer of number proven by phone (the customer's, or one of
 * its users') or invoice_number (either may be NULL), locked: one row (id,
 * name) or none. An invoice proves only if issued within the last
 * invoice_months (Paris calendar); one without an issue date never does. */
void accounts_store_signup_customer(ct_db_tx_t *tx, const char *number, const char *phone,
                                    const char *invoice_number, unsigned invoice_months,
                                    ct_db_tx_cb next);
/* In tx: a user by e-mail, locked: one row (id, status, name) or none. */
void accounts_store_user_by_email(ct_db_tx_t *tx, const char *email, ct_db_tx_cb next);
/* In tx: an active user by id, locked: one row (email, name) or none. */
void accounts_store_user_lock(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next);
/* In tx: a pending user (no password). */
void accounts_store_pending_user_insert(ct_db_tx_t *tx, const char *id, const char *email,
                                        const char *name, ct_db_tx_cb next);
/* In tx: grants user the customer, as admin when it has no admin yet,
 * viewer otherwise: one row (role), or none when already granted. */
void accounts_store_signup_grant(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                                 ct_db_tx_cb next);
/* In tx: the user's one live activation link becomes hash_hex for ttl_s:
 * one row (expires_ms). */
void accounts_store_activation_put(ct_db_tx_t *tx, const char *user_id, const char *hash_hex,
                                   long ttl_s, ct_db_tx_cb next);
/* In tx: a pending user by e-mail, locked: one row (id, email, name,
 * customer_id) or none. */
void accounts_store_pending_by_email(ct_db_tx_t *tx, const char *email, ct_db_tx_cb next);
/* In tx: uses a live activation link up: one row (user_id) or none. */
void accounts_store_activation_take(ct_db_tx_t *tx, const char *hash_hex, ct_db_tx_cb next);
/* In tx: a pending user becomes active with password_hash: rows (id, email,
 * name, phone, customer_id, role), one per grant; none when not pending. */
void accounts_store_activate(ct_db_tx_t *tx, const char *user_id, const char *password_hash,
                             ct_db_tx_cb next);
/* In tx: records an invoice number of a customer (billing's InvoiceIssued). */
void accounts_store_invoice_seen(ct_db_tx_t *tx, const char *customer_id,
                                 const char *invoice_number, const char *issue_date,
                                 ct_db_tx_cb next);

/* ---- collaborators ---- */
/* In tx: the caller's role on the customer, locked: one row (role) or none. */
void accounts_store_my_role(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                            ct_db_tx_cb next);
/* One-shot: the same (one row, role, or none). */
int accounts_store_role_get(ct_db_t *db, const char *user_id, const char *customer_id,
                            ct_db_result_cb cb, void *udata);
/* The customer's collaborators: rows (id, email, name, status, role,
 * since, invitation: "t" for an invitation, whose id is the invitation's
 * and status "invited"), oldest first. A grant that an invitation stands
 * for (a pending user's) is not listed. */
int accounts_store_collaborators(ct_db_t *db, const char *customer_id, ct_db_result_cb cb,
                                 void *udata);
/* In tx: grants role (nothing when already granted): one row when granted. */
void accounts_store_grant_add(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                              const char *role, ct_db_tx_cb next);
/* In tx: a collaborator's grant and user, locked: one row (role, email,
 * admins: the customer's number of admins) or none. */
void accounts_store_grant_lock(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                               ct_db_tx_cb next);
/* In tx: sets / deletes a grant. */
void accounts_store_grant_set(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                              const char *role, ct_db_tx_cb next);
void accounts_store_grant_delete(ct_db_tx_t *tx, const char *user_id, const char *customer_id,
                                 ct_db_tx_cb next);

/* ---- invitations (store_invitations.c) ---- */
/* An invitation of a collaborator (see migrations/0011_invitations.sql). */
typedef struct {
    const char *id, *customer_id, *user_id; /* the invitee */
    const char *email, *name;               /* as the admin typed them */
    const char *role, *invited_by;
    bool awaits_activation; /* a pending user, granted already */
    long ttl_s;
} accounts_invitation_t;
/* In tx: records inv unless the invitee acts for the customer or is
 * invited to it already: one row (expires_ms), or none. */
void accounts_store_invitation_put(ct_db_tx_t *tx, const accounts_invitation_t *inv,
                                   ct_db_tx_cb next);
/* In tx: deletes the customer's invitation id (and, awaiting activation,
 * the pending user's grant): one row (email, role) or none. */
void accounts_store_invitation_revoke(ct_db_tx_t *tx, const char *id, const char *customer_id,
                                      ct_db_tx_cb next);
/* In tx: takes user_id's live invitation id: one row (customer_id,
 * invited_email, role, invited_by, email, name: the user's) or none. */
void accounts_store_invitation_accept(ct_db_tx_t *tx, const char *id, const char *user_id,
                                      ct_db_tx_cb next);
/* In tx: deletes user_id's invitation id, expired or not: one row
 * (customer_id, email, role) or none. */
void accounts_store_invitation_decline(ct_db_tx_t *tx, const char *id, const char *user_id,
                                       ct_db_tx_cb next);
/* One-shot: user_id's live invitations: rows (id, customer_id,
 * customer_number, customer_name, role, invited_by_name, expires_ms). */
int accounts_store_my_invitations(ct_db_t *db, const char *user_id, ct_db_result_cb cb,
                                  void *udata);
/* In tx: a user's name: one row (name) or none. */
void accounts_store_user_name(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next);

/* ---- audit log ---- */
/* Appends action (detail: a JSON object text) for customer_id, or, when it
 * is NULL, for every customer subject acts for: one-shot; rows affected. */
int accounts_store_audit(ct_db_t *db, const char *customer_id, const char *actor,
                         const char *subject, const char *action, const char *address,
                         const char *detail_json, ct_db_result_cb cb, void *udata);
/* In tx: the same, inside the action's transaction. */
void accounts_store_audit_tx(ct_db_tx_t *tx, const char *customer_id, const char *actor,
                             const char *subject, const char *action, const char *address,
                             const char *detail_json, ct_db_tx_cb next);
/* The customer's register, newest first: rows (id, at, actor_id,
 * actor_email, subject_id, subject_email, action, address, detail), at most
 * limit, ids below before (0: from the newest). */
int accounts_store_audit_list(ct_db_t *db, const char *customer_id, long long before, int limit,
                              ct_db_result_cb cb, void *udata);
/* Records the device (hex SHA-256 of its cookie id) of a sign-in in tx: one row (fresh, "t" when
 * the device is new, and known: how many devices the user had before). */
void accounts_store_device_seen(ct_db_tx_t *tx, const char *user_id, const char *device_hex,
                                ct_db_tx_cb next);

/* In tx: turns 2FA off: one row when it was on. */
void accounts_store_totp_delete_tx(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next);

/* ---- profile ---- */
/* An active user's profile: one row (id, email, name, phone, customer_id
 * (the first), phone_pending: the number waiting for its code or NULL,
 * prefs: a JSON object text kind -> channel) or none. */
int accounts_store_profile_get(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata);
/* In tx: the same, locked. */
void accounts_store_profile_lock(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next);
/* In tx: name (NULL: kept) and phone (set_phone false: kept; phone NULL:
 * removed, and the pending number with it). */
void accounts_store_profile_update(ct_db_tx_t *tx, const char *user_id, const char *name,
                                   bool set_phone, const char *phone, ct_db_tx_cb next);
/* ---- phone verification (store_phone.c) ---- */
/* In tx: the user's one pending number becomes phone with the code hash
 * hash_hex (hex of 32 bytes), all its tries, for ttl_s (replacing any
 * earlier one): one row (expires_ms). */
void accounts_store_phone_pending_put(ct_db_tx_t *tx, const char *user_id, const char *phone,
                                      const char *hash_hex, long ttl_s, ct_db_tx_cb next);
/* In tx: the user's pending number, locked: one row (phone, code_hash in
 * hex, tries_left, live "t"/"f": not expired) or none. */
void accounts_store_phone_pending_lock(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next);
/* In tx: one wrong try of the pending code counted. */
void accounts_store_phone_pending_tried(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next);
/* In tx: the pending number is proven: it becomes the active user's phone
 * and the pending row goes: one row (id) or none when not active. */
void accounts_store_phone_verified(ct_db_tx_t *tx, const char *user_id, const char *phone,
                                   ct_db_tx_cb next);

/* In tx: upserts preferences from a JSON object text kind -> channel
 * (checked by the caller). */
void accounts_store_preferences_put(ct_db_tx_t *tx, const char *user_id, const char *prefs_json,
                                    ct_db_tx_cb next);

/* ---- personal data ---- */
/* Everything accounts holds about a user as one JSON document (column doc)
 * or no row: user, customers, preferences, two_factor, devices, register
 * entries they did or were concerned by (the newest 5000). No secret, hash
 * or token. */
int accounts_store_personal_data(ct_db_t *db, const char *user_id, ct_db_result_cb cb, void *udata);
/* In tx: the user's grants with, for each, whether another admin remains:
 * rows (customer_id, role, other_admins), locked. */
void accounts_store_close_check(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next);
/* In tx: ends every access of the user and erases their personal data
 * (status disabled, e-mail closed-<id>@invalid, no name, phone, password,
 * 2FA, devices, preferences, links). */
void accounts_store_close(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next);

/* ---- e-mail change (store_links.c) ---- */
/* In tx: the active user, locked, and whether new_email is anyone's
 * sign-in address (theirs included): one row (email, name, customer_id:
 * the first customer or NULL, taken "t"/"f") or none. */
void accounts_store_email_change_user(ct_db_tx_t *tx, const char *user_id, const char *new_email,
                                      ct_db_tx_cb next);
/* In tx: the user's one live change request becomes hash_hex for new_email
 * for ttl_s (replacing any earlier one): one row (expires_ms). */
void accounts_store_email_change_put(ct_db_tx_t *tx, const char *user_id, const char *hash_hex,
                                     const char *new_email, long ttl_s, ct_db_tx_cb next);
/* In tx: deletes the user's change request, if any. */
void accounts_store_email_change_void(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next);
/* A live request by the hash of its token: one row (user_id, taken: whether
 * its new address is someone's now, "t"/"f") or none. */
int accounts_store_email_change_find(ct_db_t *db, const char *hash_hex, ct_db_result_cb cb,
                                     void *udata);
/* In tx: uses a live request up: one row (user_id, new_email) or none. */
void accounts_store_email_change_take(ct_db_tx_t *tx, const char *hash_hex, ct_db_tx_cb next);
/* In tx: an active user's sign-in address becomes new_email unless someone
 * has it, and their reset link (sent to the old address) is deleted: one
 * row (old_email, changed "t"/"f": "f" when taken) or none when the user is
 * not active. A concurrent transaction taking the address makes this fail
 * with SQLSTATE 23505. */
void accounts_store_email_set(ct_db_tx_t *tx, const char *user_id, const char *new_email,
                              ct_db_tx_cb next);

/* ---- sweep (store_links.c; the kinds in sweep.h) ---- */
/* Deletes at most limit rows of what, one statement of its own: rows
 * affected (ct_db_affected). */
int accounts_store_sweep(ct_db_t *db, accounts_sweep_what_t what, int keep_days, int limit,
                         ct_db_result_cb cb, void *udata);

/* ---- back-office updates (store_update.c) ---- */
/* In tx: locks the customer for an update: one row (doc: a JSON object of
 * id, customer_number, name, segment, vat_rate_bp, siret, phone) or none. */
void accounts_store_customer_patch_lock(ct_db_tx_t *tx, const char *customer_id, ct_db_tx_cb next);
/* In tx: the customer's contracts: rows (id, maintenance_plan). */
void accounts_store_customer_plans(ct_db_tx_t *tx, const char *customer_id, ct_db_tx_cb next);
/* In tx: writes c (all but its number), version + 1: one row (version). */
void accounts_store_customer_update(ct_db_tx_t *tx, const accounts_customer_t *c, ct_db_tx_cb next);
/* In tx: locks the contract for an update: one row (doc: a JSON object of
 * id, customer_id, delivery_mode, price_per_tonne_cents, maintenance_plan;
 * segment: the customer's) or none. */
void accounts_store_contract_patch_lock(ct_db_tx_t *tx, const char *contract_id, ct_db_tx_cb next);
/* In tx: writes c (all but its customer), version + 1: one row (version). */
void accounts_store_contract_update(ct_db_tx_t *tx, const accounts_contract_t *c, ct_db_tx_cb next);
/* In tx: version + 1 for every site of the contract (its mode changed):
 * rows (id, customer_id, capacity_kg, threshold_pct, address,
 * certificate_received, version) by id. */
void accounts_store_contract_sites_bump(ct_db_tx_t *tx, const char *contract_id, ct_db_tx_cb next);
/* In tx: locks the site for an update: one row (doc: a JSON object of
 * id, contract_id, customer_id, capacity_kg, threshold_pct, address,
 * certificate_received) or none. */
void accounts_store_site_patch_lock(ct_db_tx_t *tx, const char *site_id, ct_db_tx_cb next);
/* In tx: writes s (all but its contract), version + 1: one row (version,
 * customer_id, delivery_mode: the contract's). */
void accounts_store_site_update(ct_db_tx_t *tx, const accounts_site_t *s, ct_db_tx_cb next);
/* The user row FOR UPDATE: one row (doc: {id, name, status}, has_password)
 * or none. */
void accounts_store_user_patch_lock(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next);
/* Locks the admins' grants of every customer the user acts for (in one
 * order), so two disablings, or a disabling and a demotion, of the admins of
 * one customer wait for each other; the next statement counts afresh. */
void accounts_store_user_admins_lock(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next);
/* The customers the user is the last active admin of: rows (customer_id). */
void accounts_store_user_last_admin(ct_db_tx_t *tx, const char *user_id, ct_db_tx_cb next);
/* Writes name and status: one row (id, email, phone, name, status). */
void accounts_store_user_update(ct_db_tx_t *tx, const char *user_id, const char *name,
                                const char *status, ct_db_tx_cb next);

#endif
