/* API keys of machines and of the back office, sent as
 * "Authorization: Bearer <key>" (RFC 6750: one or more spaces after the
 * scheme, which is matched in any case).
 *
 * A configured key is kept only as its BLAKE2b-256 digest; a presented key is
 * hashed the same way and the digests compared with sodium_memcmp, so neither
 * the content nor the length of the key leaks through timing, and the key
 * itself is not kept in the process's memory by us. Loop thread or any
 * thread: nothing here touches the loop. */
#ifndef CITERNE_AUTH_H
#define CITERNE_AUTH_H

#include <stdbool.h>

#include "citerne/config.h"
#include "citerne/http.h"

/* Shortest key accepted: a shorter one is a setting error. */
#define CT_AUTH_KEY_MIN 16

/* A configured key, embedded by its owner. Zero-filled: no key (every
 * request is refused). */
typedef struct {
    bool set;               /* a key is configured */
    unsigned char hash[32]; /* BLAKE2b-256 of the key */
} ct_auth_key_t;

/* Sets k from key. NULL or "" leaves k unset (returns 0); a key shorter than
 * CT_AUTH_KEY_MIN bytes leaves k unset and returns CT_ECONFIG. key is not
 * kept. */
int ct_auth_key_init(ct_auth_key_t *k, const char *key);
/* Forgets the key (the digest is wiped). */
void ct_auth_key_dispose(ct_auth_key_t *k);
/* Reads k from the setting `name` of cfg. required: unset is a setting error
 * (ct_config_str with no default); otherwise unset leaves k unset and logs a
 * warning. A key that is too short is recorded as a setting error
 * ("<name>: expected at least 16 characters"). */
void ct_auth_key_config(ct_auth_key_t *k, ct_config_t *cfg, const char *name, bool required);

/* True when req carries "Authorization: Bearer <key>" with exactly k's key.
 * False when k is unset or NULL, the header is missing or of another scheme. */
bool ct_auth_bearer_ok(const ct_http_req_t *req, const ct_auth_key_t *k);

/* Replies 401 problem (CT_EUNAUTH) with "WWW-Authenticate: Bearer" and
 * detail (may be NULL). */
void ct_auth_reply_unauthorized(ct_http_req_t *req, const char *detail);

/* A handler's guard: true when req carries k (ct_auth_bearer_ok); otherwise
 * replies 401 with detail (ct_auth_reply_unauthorized) and returns false,
 * and the handler just returns. */
bool ct_auth_require(ct_http_req_t *req, const ct_auth_key_t *k, const char *detail);

#endif
