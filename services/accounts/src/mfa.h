/* The pending second step of a login with 2FA: a short-lived token in Redis
 * ("acct:mfa:<hex SHA-256 of the token>", a hash: user_id, the login's
 * throttle keys, tries left), handed to the client after a good password
 * and exchanged with a TOTP or recovery code for a session. Each token
 * allows ACCOUNTS_MFA_TRIES codes, then it is gone. Loop thread only. */
#ifndef ACCOUNTS_MFA_H
#define ACCOUNTS_MFA_H

#include "citerne/cache.h"
#include "citerne/id.h"
#include "throttle.h"

#define ACCOUNTS_MFA_TRIES 3
#define ACCOUNTS_MFA_TOKEN_LEN 64

/* status 0 with the token (64 hex), or CT_EUNAVAIL. */
typedef void (*accounts_mfa_created_cb)(int status, const char *token, void *udata);
/* Stores a pending step for user_id (and the throttle attempt t, given back
 * when the second step succeeds) for ttl_s. Fails now with CT_EUNAVAIL. */
int accounts_mfa_create(ct_cache_t *cache, const char *user_id, const accounts_throttle_t *t,
                        unsigned ttl_s, accounts_mfa_created_cb cb, void *udata);

/* status 0 and found: user_id and t (keys only) of a live token, one of its
 * tries spent; status 0 and !found: unknown, expired or out of tries;
 * CT_EUNAVAIL. Strings borrowed for the call. */
typedef void (*accounts_mfa_taken_cb)(int status, bool found, const char *user_id,
                                      const accounts_throttle_t *t, void *udata);
int accounts_mfa_take(ct_cache_t *cache, const char *token, accounts_mfa_taken_cb cb, void *udata);
/* Ends a token (fire and forget), after its second step succeeded. */
void accounts_mfa_end(ct_cache_t *cache, const char *token);

#endif
