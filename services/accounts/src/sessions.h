/* The users' sessions in Redis, beyond what platform/session.h reads.
 *
 * Keys (README: Sessions):
 *   ct:session:<h>          the platform's record (JSON, session.h's format),
 *                           h = hex SHA-256 of the cookie token;
 *   acct:session-info:<h>   hash: created_at, last_seen, expires_at (Unix ms),
 *                           idle_ms, touch_ms, device, user_agent, addr;
 *   acct:user-sessions:<u>  set of the h of user u's sessions.
 * Both per-session keys expire together after min(idle, what is left of the
 * absolute lifetime); the info records idle_ms and touch_ms, by which the
 * platform's ct_session_lookup slides them (at most once per touch_ms), in
 * accounts as in every other service. Each
 * operation is one Lua script, so the three keys never disagree for long
 * (a set member whose session expired is dropped when listed).
 *
 * Loop thread only. Each function fails now (CT_EUNAVAIL, cb never called)
 * or calls cb once, later, with 0 or CT_EUNAVAIL. */
#ifndef ACCOUNTS_SESSIONS_H
#define ACCOUNTS_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "citerne/cache.h"
#include "citerne/session.h"
#include "rules.h"

#define ACCOUNTS_SESSION_HASH_LEN 64

typedef struct {
    unsigned ttl_s;                  /* absolute lifetime */
    unsigned idle_s;                 /* idle timeout */
    unsigned long touch_interval_ms; /* slide at most this often (60 s), recorded per session */
} accounts_session_opts_t;

/* What the session list shows of a session (strings owned by the caller's
 * copy, see accounts_sessions_list). */
typedef struct {
    char id[ACCOUNTS_SESSION_HASH_LEN + 1]; /* h: the key's hash, not the token */
    int64_t created_at, last_seen, expires_at;
    char device[64];
    char user_agent[201];
    char addr[ACCOUNTS_ADDR_MAX];
} accounts_session_info_t;

/* The hash part of a token's key (hex SHA-256 of the token text). */
void accounts_session_hash(const char *token, char out[ACCOUNTS_SESSION_HASH_LEN + 1]);

/* Creates a session for s (user_id and grants set; csrf is generated into
 * s->csrf) with a fresh 256-bit token, recorded in the user's set with its
 * device (from user_agent, may be NULL) and address. cb gets the token (64 hex)
 * to put in the cookie. */
typedef void (*accounts_session_created_cb)(int status, const char *token, void *udata);
int accounts_session_create(ct_cache_t *cache, const accounts_session_opts_t *o, ct_session_t *s,
                            const char *user_agent, const char *addr,
                            accounts_session_created_cb cb, void *udata);

/* The live sessions of user_id, newest first: cb gets n infos (borrowed for
 * the call). */
typedef void (*accounts_session_list_cb)(int status, const accounts_session_info_t *infos, size_t n,
                                         void *udata);
int accounts_sessions_list(ct_cache_t *cache, const char *user_id, accounts_session_list_cb cb,
                           void *udata);

/* Revokes: the session id of user_id (count 0 when it is not theirs), or
 * every session of user_id but keep_id (NULL: all of them). cb gets the
 * number revoked. */
typedef void (*accounts_session_revoked_cb)(int status, long long count, void *udata);
int accounts_session_revoke(ct_cache_t *cache, const char *user_id, const char *id,
                            accounts_session_revoked_cb cb, void *udata);
int accounts_sessions_revoke_all(ct_cache_t *cache, const char *user_id, const char *keep_id,
                                 accounts_session_revoked_cb cb, void *udata);

#endif
