/* Sessions: an opaque 256-bit random token in the cookie
 * "__Host-citerne_session" (HttpOnly; Secure; SameSite=Lax), stored in Redis
 * under the SHA-256 of the token ("ct:session:<hex>"), as JSON:
 * {"user_id", "csrf", "grants": [{"customer_id", "role"}], "created_at"}.
 * Writes need the X-CSRF-Token header equal to the session's csrf (double
 * submit: the portal also gets it in the "citerne_csrf" cookie).
 * Every service authorises the same way through this module.
 *
 * Idle timeout: a session made by accounts also has the hash
 * "acct:session-info:<hex>" (created_at, last_seen, expires_at = the end of
 * its absolute lifetime, idle_ms, touch_ms, device, ...). Every successful
 * ct_session_lookup slides it, in every service: when last_seen is at least
 * touch_ms old (60 s), both keys expire after min(idle_ms, expires_at - now)
 * from now and last_seen is set. A session without that hash (made by
 * ct_session_create alone) keeps its TTL: its life is fixed. */
#ifndef CITERNE_SESSION_H
#define CITERNE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include "citerne/cache.h"
#include "citerne/http.h"
#include "citerne/id.h"

#define CT_SESSION_COOKIE "__Host-citerne_session"
#define CT_SESSION_CSRF_COOKIE "citerne_csrf"
#define CT_SESSION_MAX_GRANTS 32
/* Key prefixes: the record, and the hash that drives the idle timeout. */
#define CT_SESSION_KEY_PREFIX "ct:session:"
#define CT_SESSION_INFO_PREFIX "acct:session-info:"
/* Used for a session-info hash written without idle_ms or touch_ms (before
 * they were recorded): accounts' defaults. */
#define CT_SESSION_IDLE_DEFAULT_MS 1800000UL
#define CT_SESSION_TOUCH_DEFAULT_MS 60000UL

typedef enum { CT_ROLE_NONE = 0, CT_ROLE_VIEWER, CT_ROLE_ORDERER, CT_ROLE_ADMIN } ct_role_t;

typedef struct {
    char customer_id[CT_UUID_STRLEN + 1];
    ct_role_t role;
} ct_session_grant_t;

typedef struct {
    char user_id[CT_UUID_STRLEN + 1];
    char csrf[65];
    size_t ngrants;
    ct_session_grant_t grants[CT_SESSION_MAX_GRANTS];
} ct_session_t;

/* "viewer", "orderer", "admin" (exact) -> role; CT_EINPUT otherwise. */
int ct_role_parse(const char *s, ct_role_t *out);
/* The role's name; "none" for CT_ROLE_NONE or an unknown value. */
const char *ct_role_name(ct_role_t role);

/* Stores s under a fresh token for ttl_s seconds. cb gets the token (hex,
 * 64 chars, to be put in the cookie) or an error. csrf is generated (into
 * s->csrf too); cb's s is a copy, borrowed for the callback. Fails now with
 * CT_EINPUT (user_id or a grant's customer_id not a UUID, unknown role, too
 * many grants, ttl_s 0) or CT_EUNAVAIL (Redis down), never calling cb;
 * otherwise cb gets 0, CT_EUNAVAIL or CT_ECLOSED exactly once. */
typedef void (*ct_session_created_cb)(int status, const char *token, const ct_session_t *s,
                                      void *udata);
int ct_session_create(ct_cache_t *cache, ct_session_t *s, unsigned ttl_s, ct_session_created_cb cb,
                      void *udata);
/* Adds the Set-Cookie headers for token and csrf to the reply. */
void ct_session_set_cookies(ct_http_req_t *req, const char *token, const ct_session_t *s,
                            unsigned ttl_s);

/* Looks the caller's session up. status: 0 with s; CT_EUNAUTH (no cookie,
 * unknown or expired token, missing/wrong CSRF on a write); CT_EUNAVAIL when
 * Redis cannot answer (fail closed). s is borrowed for the callback. Safe
 * methods (GET, HEAD, OPTIONS) need no CSRF token. cb may run before this
 * returns (no cookie, say). req must stay unreplied until cb.
 * On success, the session's idle timeout is slid (see above) by one more
 * Redis command sent before cb runs and not waited for: its outcome never
 * changes the status (a refusal is logged at warn level). Loop thread. */
typedef void (*ct_session_cb)(int status, const ct_session_t *s, void *udata);
void ct_session_lookup(ct_cache_t *cache, ct_http_req_t *req, ct_session_cb cb, void *udata);

/* The caller's role for a customer, CT_ROLE_NONE if none. Handlers answer
 * 404 (not 403) for a customer the caller has no grant on. */
ct_role_t ct_session_role(const ct_session_t *s, const char *customer_id);

#endif
