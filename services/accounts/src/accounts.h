/* The accounts service: its state, domain values and HTTP handlers.
 *
 * Everything here runs on the loop thread unless said otherwise. */
#ifndef ACCOUNTS_H
#define ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "citerne/auth.h"
#include "citerne/db.h"
#include "citerne/http.h"
#include "citerne/id.h"
#include "citerne/migrate.h"
#include "citerne/service.h"
#include "citerne/session.h"
#include "sessions.h"
#include "sweep.h"
#include "throttle.h"

/* Generated from migrations/ by ct_embed_migrations. */
extern const ct_migration_t accounts_migrations[];
extern const size_t accounts_migrations_count;

/* Settings of accounts beyond the common ones (README: Settings). */
typedef struct {
    ct_auth_key_t operator_key;        /* CITERNE_OPERATOR_KEY, required */
    unsigned session_ttl_s;            /* CITERNE_SESSION_TTL_S, default 8 h */
    unsigned session_idle_s;           /* CITERNE_SESSION_IDLE_S, default 30 min */
    const char *secret_key;            /* CITERNE_ACCOUNTS_SECRET_KEY: 64 hex, or NULL */
    const char *public_url;            /* CITERNE_PUBLIC_URL: the portal, for links */
    unsigned reset_ttl_s;              /* CITERNE_RESET_TTL_S, default 30 min */
    unsigned activation_ttl_s;         /* CITERNE_ACTIVATION_TTL_S, default 1 day */
    unsigned email_change_ttl_s;       /* CITERNE_EMAIL_CHANGE_TTL_S, default 30 min */
    unsigned phone_code_ttl_s;         /* CITERNE_PHONE_CODE_TTL_S, default 10 min */
    unsigned sweep_interval_s;         /* CITERNE_ACCOUNTS_SWEEP_S, default 1 h */
    unsigned pending_keep_days;        /* CITERNE_ACCOUNTS_PENDING_DAYS, default 30 */
    unsigned long long pwhash_ops;     /* CITERNE_PWHASH_OPS */
    size_t pwhash_mem;                 /* CITERNE_PWHASH_MEM, bytes */
    const char *trusted_proxies;       /* CITERNE_TRUSTED_PROXY, "" for none */
    accounts_throttle_opts_t throttle; /* CITERNE_LOGIN_* */
    unsigned proof_invoice_months;     /* CITERNE_PROOF_INVOICE_MONTHS, default 24 */
    unsigned proof_invoice_failures;   /* CITERNE_PROOF_INVOICE_FAILURES, default 10 */
    unsigned proof_invoice_window_s;   /* CITERNE_PROOF_INVOICE_WINDOW_S, default 24 h */
} accounts_settings_t;

/* The service's state, shared by every handler (route udata). The platform
 * handles (db, cache, loop, topic) are read from svc at request time: the
 * runtime connects them after the routes are registered. */
typedef struct {
    ct_service_t *svc;
    unsigned session_ttl_s;
    accounts_session_opts_t sessions; /* ttl, idle, touch interval (60 s) */
    unsigned long long pwhash_ops;
    size_t pwhash_mem;
    /* Peers whose X-Forwarded-For names the client (comma-separated IPs). */
    const char *trusted_proxies;
    accounts_throttle_opts_t throttle;
    unsigned mfa_ttl_s;          /* life of a pending second step (5 min) */
    const char *public_url;      /* the portal's base URL, for e-mailed links */
    unsigned reset_ttl_s;        /* life of a password reset link */
    unsigned activation_ttl_s;   /* life of an activation link */
    unsigned email_change_ttl_s; /* life of an e-mail change link */
    unsigned phone_code_ttl_s;   /* life of a phone verification code */
    /* The invoice proof (README: Proving a customer by invoice): invoices
     * issued within the last proof_invoice_months prove; at most
     * proof_invoice_failures failed proofs per customer number and
     * proof_invoice_window_s. */
    unsigned proof_invoice_months;
    unsigned proof_invoice_failures;
    unsigned proof_invoice_window_s;
    /* Expired links and stale pending users (sweep.h), every interval. */
    accounts_sweeper_t sweeper;
    /* Seals TOTP secrets (CITERNE_ACCOUNTS_SECRET_KEY); without it 2FA
     * cannot be turned on (503). */
    bool have_secret_key;
    unsigned char secret_key[crypto_secretbox_KEYBYTES];
    /* Keys the hashes of phone verification codes: derived from secret_key,
     * or random at start without it (codes then die with the process). */
    unsigned char phone_code_key[crypto_generichash_KEYBYTES];
    /* The back office's key (platform auth: a digest compared in constant
     * time); unset refuses every operator request. */
    ct_auth_key_t operator_key;
    /* argon2id hash of a random password, verified against when the e-mail is
     * unknown so that a login takes as long whether the user exists or not. */
    char dummy_hash[crypto_pwhash_STRBYTES];
} accounts_t;

/* Reads accounts' own settings from cfg (errors recorded in cfg, reported
 * by ct_config_check). Strings are borrowed from the environment. */
void accounts_settings_read(ct_config_t *cfg, accounts_settings_t *out);

/* Fills a for svc from settings; computes the dummy password hash (blocks
 * for one argon2id hash: call at start-up, before the loop runs). Returns 0,
 * or CT_EINTERNAL when libsodium cannot initialise or hash. */
int accounts_init(accounts_t *a, ct_service_t *svc, const accounts_settings_t *settings);

/* Registers every route of the service on srv with a as udata. */
int accounts_routes(accounts_t *a, ct_http_server_t *srv);

/* ---- domain values (strings borrowed from the request's JSON) ---- */
typedef struct {
    char id[CT_UUID_STRLEN + 1];
    const char *customer_number;
    const char *name;
    const char *segment;
    int vat_rate_bp;
    const char *siret; /* NULL for households */
    const char *phone; /* E.164 or NULL: proves the customer at sign-up */
} accounts_customer_t;

typedef struct {
    char id[CT_UUID_STRLEN + 1];
    char customer_id[CT_UUID_STRLEN + 1];
    const char *delivery_mode;
    long long price_per_tonne_cents;
    const char *maintenance_plan;
} accounts_contract_t;

typedef struct {
    char id[CT_UUID_STRLEN + 1];
    char contract_id[CT_UUID_STRLEN + 1];
    char customer_id[CT_UUID_STRLEN + 1]; /* from the contract */
    char delivery_mode[16];               /* from the contract */
    int capacity_kg;
    int threshold_pct;
    const char *address;
    bool certificate_received;
} accounts_site_t;

typedef struct {
    char id[CT_UUID_STRLEN + 1];
    char customer_id[CT_UUID_STRLEN + 1];
    char email[255];   /* normalised */
    const char *phone; /* E.164 or NULL */
    const char *name;
    const char *role;
    const char *password_hash; /* argon2id string */
} accounts_user_t;

/* ---- shared by the handlers (api_common.c) ---- */

/* Checks "Authorization: Bearer <operator key>". On failure replies 401
 * itself and returns false; the handler then just returns. */
bool accounts_require_operator(accounts_t *a, ct_http_req_t *req);

/* Replies the problem for a failed transaction or query: 503 when the
 * database is unavailable or closing, 500 otherwise (logged without
 * parameters). */
void accounts_reply_db_error(ct_http_req_t *req, const ct_db_error_t *err);
/* The same for a call that failed at once with rc (CT_E* or -errno). */
void accounts_reply_failure(ct_http_req_t *req, int rc);

/* The client address of req for throttling and the session list: the peer,
 * or X-Forwarded-For's last entry when the peer is a trusted proxy. */
void accounts_client_addr_of(const accounts_t *a, ct_http_req_t *req, char out[ACCOUNTS_ADDR_MAX]);

/* The caller's session for a handler: looks it up (platform, which also
 * slides its idle timeout), then cb(s, udata) with the session
 * (borrowed for the call). On failure replies itself (401, or 503 when Redis
 * cannot answer: fail closed) and never calls cb. */
typedef void (*accounts_auth_cb)(ct_http_req_t *req, const ct_session_t *s, void *udata);
void accounts_auth(accounts_t *a, ct_http_req_t *req, accounts_auth_cb cb, void *udata);
/* The signed-in user as accounts_reauth found them (strings in request
 * memory, valid until the reply; customer_id "" when they have none). */
typedef struct {
    const char *user_id;
    const char *email;
    const char *name;
    const char *customer_id; /* the first customer */
} accounts_me_t;
typedef void (*accounts_reauth_cb)(ct_http_req_t *req, const accounts_me_t *me, void *udata);
/* Before a signed-in user's sensitive write (reauth.c): the session
 * (accounts_auth), then the attempt throttled like a login (per client
 * address and per user id: 429), then password (password_len bytes,
 * borrowed until cb) verified against the stored hash on the thread pool,
 * the throttle slot given back when it matches; then cb. On any failure it
 * replies itself (401, 429, 503, 500, or 400 "invalid-credentials" with
 * why as its detail) and never calls cb. */
void accounts_reauth(accounts_t *a, ct_http_req_t *req, const char *password, size_t password_len,
                     const char *why, accounts_reauth_cb cb, void *udata);
/* What is wrong with a new password (a JSON value from a body): NULL when
 * it is a string of 12..128 code points not on the common list, else a
 * message for the "password" field. */
const char *accounts_password_problem(json_t *password);
/* Links sent by e-mail (reset, activation, e-mail change) carry a random
 * 256-bit token as 64 lower-case hex digits; the database holds only its
 * SHA-256, in hex. */
#define ACCOUNTS_TOKEN_HEX 64
/* A fresh token and its hash (the caller wipes the token when done). */
void accounts_token_new(char token[ACCOUNTS_TOKEN_HEX + 1], char hash[ACCOUNTS_TOKEN_HEX + 1]);
/* The hash of a token's text. */
void accounts_token_hash(const char *token, char hash[ACCOUNTS_TOKEN_HEX + 1]);
/* Whether s has a token's shape (NULL has not). */
bool accounts_token_valid(const char *s);
/* Replies 400 "invalid-token": the link was used, replaced, expired or
 * never existed (one answer for all). */
void accounts_reply_bad_token(ct_http_req_t *req);
/* After a committed change of the password or e-mail (what: "password",
 * "e-mail") made through a link: ends every session of user_id once more
 * (one opened while the change was under way ends too), then replies 204.
 * Redis failing then is logged: the change stands. */
void accounts_end_sessions_reply(accounts_t *a, ct_http_req_t *req, const char *user_id,
                                 const char *what);
/* Replies 503 "the session store is unavailable" with Retry-After. */
void accounts_reply_unavailable(ct_http_req_t *req);
/* Replies 429 "too-many-attempts" with Retry-After: retry_after_s. */
void accounts_reply_too_many(ct_http_req_t *req, unsigned retry_after_s);

/* Creates a session for s (user and grants) and replies 200 like a login:
 * cookies, {user_id, csrf, customers}; 503 when Redis cannot answer. The
 * browser's device (cookie "citerne_device") is recorded first; a device
 * new to a user who had others emits NewDeviceSignedIn. email and name
 * (copied) go into that event. */
void accounts_sign_in(accounts_t *a, ct_http_req_t *req, const ct_session_t *s, const char *addr,
                      const char *email, const char *name);
/* Fills s (user_id and grants) from rows (id, customer_id, role) as the
 * login and grants queries return them; false when there is no user row. */
bool accounts_session_fill(ct_session_t *s, const PGresult *res);

/* Appends to the access register (audit.c): action (a string literal) by
 * actor (NULL: nobody signed in) concerning subject, for customer_id or,
 * when NULL, for every customer subject acts for; the client address from
 * req; detail (taken, may be NULL) a JSON object. For actions outside the
 * database (Redis): written after the action, fire and forget, a failure is
 * logged. */
void accounts_audit(accounts_t *a, ct_http_req_t *req, const char *customer_id, const char *actor,
                    const char *subject, const char *action, json_t *detail);

/* The same inside the action's transaction (so the row commits with the
 * action, or neither does), then next(tx). */
void accounts_audit_tx(accounts_t *a, ct_http_req_t *req, ct_db_tx_t *tx, const char *customer_id,
                       const char *actor, const char *subject, const char *action, json_t *detail,
                       ct_db_tx_cb next);
/* A transaction step that commits. */
void accounts_step_commit(ct_db_tx_t *tx, PGresult *res, void *udata);

/* ---- handlers (api_*.c), registered by accounts_routes ---- */
/* Each takes the accounts_t as udata and replies exactly once, on the loop;
 * openapi.yaml describes bodies and answers. */
/* POST /customers (operator): insert + CustomerCreated in one transaction. */
void accounts_api_customer_create(ct_http_req_t *req, void *udata);
/* GET /customers/{id} (operator): the customer, its contracts, sites, users. */
void accounts_api_customer_get(ct_http_req_t *req, void *udata);
/* POST /contracts (operator): checks the plan against the customer's
 * segment, insert + ContractCreated in one transaction. */
void accounts_api_contract_create(ct_http_req_t *req, void *udata);
/* POST /sites (operator): insert under the contract's customer + SiteCreated. */
void accounts_api_site_create(ct_http_req_t *req, void *udata);
/* PATCH /customers/{id}, /contracts/{id}, /sites/{id} (operator): only
 * the fields given change; the result is checked like a creation (a new
 * segment must suit the contracts' plans); version + 1 and CustomerUpdated,
 * ContractUpdated or SiteUpdated (a contract's new delivery mode: also
 * SiteUpdated for each of its sites) in one transaction; 200 with the whole
 * new state (patch.h). */
void accounts_api_customer_update(ct_http_req_t *req, void *udata);
void accounts_api_contract_update(ct_http_req_t *req, void *udata);
void accounts_api_site_update(ct_http_req_t *req, void *udata);
/* POST /users (operator): argon2id on the thread pool, then user, grant and
 * UserCreated in one transaction. */
void accounts_api_user_create(ct_http_req_t *req, void *udata);
/* PATCH /users/{id} (operator): name and status (active, disabled); a
 * disabling ends every session of the user (api_user_update.c). */
void accounts_api_user_update(ct_http_req_t *req, void *udata);
/* POST /login: verify on the thread pool, create the session in Redis. */
void accounts_api_login(ct_http_req_t *req, void *udata);
/* POST /logout (session + CSRF): deletes the session's Redis key. */
void accounts_api_logout(ct_http_req_t *req, void *udata);
/* GET /me (session): the user and its grants. */
void accounts_api_me(ct_http_req_t *req, void *udata);
/* GET /sessions (session): the caller's live sessions, newest first. */
void accounts_api_sessions_list(ct_http_req_t *req, void *udata);
/* DELETE /sessions/{id} (session + CSRF): revokes one of the caller's. */
void accounts_api_session_revoke(ct_http_req_t *req, void *udata);
/* POST /sessions/revoke-others (session + CSRF): all but the caller's own. */
void accounts_api_sessions_revoke_others(ct_http_req_t *req, void *udata);
/* POST /2fa/totp/enrol (session + CSRF): a new secret (URI, QR code),
 * pending until confirmed; 409 when 2FA is already on. */
void accounts_api_totp_enrol(ct_http_req_t *req, void *udata);
/* POST /2fa/totp/confirm {code} (session + CSRF): turns 2FA on, answers the
 * ten recovery codes (shown once). */
void accounts_api_totp_confirm(ct_http_req_t *req, void *udata);
/* POST /2fa/totp/disable {password, code | recovery_code} (session + CSRF). */
void accounts_api_totp_disable(ct_http_req_t *req, void *udata);
/* POST /users/{id}/2fa/disable (operator): turns a user's 2FA off when
 * they lost both their app and their codes (or after a key change); 404,
 * 409 when off; TotpDisabled and the register as for the user. */
void accounts_api_totp_operator_disable(ct_http_req_t *req, void *udata);
/* POST /login/totp {mfa_token, code | recovery_code}: the second step. */
void accounts_api_login_totp(ct_http_req_t *req, void *udata);
/* POST /password/forgot {email}: 202 whatever the e-mail; for an active
 * user, a new link (the previous one void) and PasswordResetRequested. */
void accounts_api_password_forgot(ct_http_req_t *req, void *udata);
/* POST /password/reset {token, password}: sets the password once per link,
 * ends every session of the user, PasswordChanged. */
void accounts_api_password_reset(ct_http_req_t *req, void *udata);
/* POST /signup {customer_number, phone | invoice_number, email, name?}: 202
 * whatever exists; when the customer is proven, a pending user (admin of
 * the customer when it has none, viewer otherwise) and ActivationRequested. */
void accounts_api_signup(ct_http_req_t *req, void *udata);
/* POST /signup/resend {email}: 202; a new link for a pending user. */
void accounts_api_signup_resend(ct_http_req_t *req, void *udata);
/* POST /signup/activate {token, password}: the user becomes active,
 * UserCreated per customer. */
void accounts_api_signup_activate(ct_http_req_t *req, void *udata);

/* /customers/{id}/collaborators (session, CSRF on writes; the caller must
 * be an admin of the customer: 404 when not a member, 403 otherwise):
 * GET lists; POST {email, role, name?} invites (a pending user with an
 * activation link when new; 409 when already there); PATCH /{user_id}
 * {role}; DELETE /{user_id}. A customer keeps one admin at least (409). The
 * collaborator's sessions end on a change, nobody else's. */
void accounts_api_collaborators_list(ct_http_req_t *req, void *udata);
void accounts_api_collaborator_invite(ct_http_req_t *req, void *udata);
void accounts_api_collaborator_update(ct_http_req_t *req, void *udata);
void accounts_api_collaborator_remove(ct_http_req_t *req, void *udata);
/* /me/invitations (session; CSRF on writes): the caller's live invitations,
 * accept (the grant, CollaboratorAdded, the register) or decline (deleted,
 * the register); 404 for an id that is not a live invitation of theirs. */
void accounts_api_invitations_list(ct_http_req_t *req, void *udata);
void accounts_api_invitation_accept(ct_http_req_t *req, void *udata);
void accounts_api_invitation_decline(ct_http_req_t *req, void *udata);

/* GET /customers/{id}/audit[?before=N] and /customers/{id}/audit.csv
 * (session, admin of the customer): the access register, newest first
 * (200 entries a page; the CSV holds the newest 10,000). */
void accounts_api_audit_list(ct_http_req_t *req, void *udata);
void accounts_api_audit_csv(ct_http_req_t *req, void *udata);

/* POST /me/customers {customer_number, invoice_number} (session + CSRF):
 * links another customer to the caller (admin when it has none, viewer
 * otherwise), CustomerLinked; the caller's session is replaced by one with
 * the new grant (200 like a login, plus customer_id and role); 404 when
 * nothing matches, 409 when already linked, 429 when throttled. */
void accounts_api_customer_link(ct_http_req_t *req, void *udata);

/* GET /me/profile (session): {user_id, email, name, phone, phone_pending,
 * preferences}. PATCH /me/profile {name?, phone? (null removes), preferences?
 * {kind: channel}} (session + CSRF): UserProfileUpdated when name, removal or
 * preferences changed; a new number is only made pending (a code sent,
 * PhoneVerificationRequested, throttled: 429); the profile answered. */
void accounts_api_profile_get(ct_http_req_t *req, void *udata);
void accounts_api_profile_update(ct_http_req_t *req, void *udata);

/* Proving a new phone number (api_phone.c; README: Profile). A pending
 * number has a 6-digit code (randombytes_uniform) sent by SMS through
 * PhoneVerificationRequested; the database holds only its keyed hash. */
#define ACCOUNTS_PHONE_CODE_LEN 6
#define ACCOUNTS_PHONE_CODE_TRIES 5
/* Codes sent per user and sliding hour, and per number and sliding day
 * (PATCH with a new number and resends alike); past either, 429. */
#define ACCOUNTS_PHONE_CODES_PER_USER_HOUR 3
#define ACCOUNTS_PHONE_CODES_PER_NUMBER_DAY 10
/* A fresh code. */
void accounts_phone_code_new(char code[ACCOUNTS_PHONE_CODE_LEN + 1]);
/* hex of the keyed BLAKE2b of (user_id, phone, code) under a's key. */
void accounts_phone_code_hash(const accounts_t *a, const char *user_id, const char *phone,
                              const char *code, char hash[ACCOUNTS_TOKEN_HEX + 1]);
/* The two quotas of sending a code to phone for user_id (per user, then per
 * number; the first given back when the second refuses); then cb(status,
 * allowed) as accounts_quota_take, q2->retry_after_s or q1's set when
 * refused. Returns 0 or CT_EUNAVAIL (cb never called). */
typedef struct {
    accounts_t *a;
    accounts_quota_t user, number;
    char phone[24];
    accounts_quota_cb cb;
    void *udata;
} accounts_phone_quota_t;
int accounts_phone_quota_take(accounts_t *a, accounts_phone_quota_t *q, const char *user_id,
                              const char *phone, accounts_quota_cb cb, void *udata);
/* POST /me/phone/verify {code} (session + CSRF): the pending number becomes
 * the user's phone, UserProfileUpdated; 400 invalid-code (a wrong try
 * counts). POST /me/phone/resend (session + CSRF): a new code for the
 * pending number (the previous one void), throttled; 409 when none. */
/* Replies 400 "invalid-code": wrong, expired, void or never sent. */
void accounts_reply_bad_code(ct_http_req_t *req);
/* The profile row (store.h) as the API shows it: every kind of message
 * ("both" by default), phone_pending null when none. New reference. */
json_t *accounts_profile_json(const PGresult *res);
void accounts_api_phone_verify(ct_http_req_t *req, void *udata);
void accounts_api_phone_resend(ct_http_req_t *req, void *udata);

/* GET /me/export (session): everything accounts holds about the caller
 * (JSON download). POST /me/close {password} (session + CSRF): closes the
 * account (access ended, personal data erased, UserClosed, every session
 * ended); 409 when the caller is the only admin of a customer. */
void accounts_api_me_export(ct_http_req_t *req, void *udata);
void accounts_api_me_close(ct_http_req_t *req, void *udata);

/* POST /import (operator), text/csv: customers with their contract and
 * site, one a row; 200 {imported, refused, errors [{line, field,
 * message}]}; good rows in one transaction with their events. */
void accounts_api_import(ct_http_req_t *req, void *udata);

/* POST /me/password {current_password, new_password} (session + CSRF):
 * PasswordChanged (via "change"), every other session of the user ends. */
void accounts_api_password_change(ct_http_req_t *req, void *udata);

/* POST /me/email {new_email, password} (session + CSRF): 202 whether or
 * not the address is taken; when free, a change request (the previous one
 * void) whose link goes to the new address; in every case
 * EmailChangeRequested, so the current address hears of it.
 * POST /me/email/confirm {token} (the link's, no session): the e-mail
 * changes once per link if the address is still free (409 otherwise),
 * every session of the user ends, UserProfileUpdated and EmailChanged. */
void accounts_api_email_change(ct_http_req_t *req, void *udata);
void accounts_api_email_confirm(ct_http_req_t *req, void *udata);

/* Consumer of citerne.billing.v1 (service udata: the ct_service_t): keeps
 * the invoice numbers of each customer, through the inbox. */
void accounts_on_message(ct_bus_msg_t *msg, void *udata);

#endif
