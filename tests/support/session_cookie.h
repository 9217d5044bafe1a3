/* Test support: a real session in the stack's Redis (ct_session_create), as
 * accounts makes one at sign-in, and the Cookie header that carries it. For
 * the stack tests of any service that authorises sessions. */
#ifndef CT_TEST_SESSION_COOKIE_H
#define CT_TEST_SESSION_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "citerne/cache.h"
#include "citerne/session.h"

/* A session of a new user with `role` on customer_id, living 10 minutes,
 * made through cache (connected, on loop; the loop is run until Redis
 * answered). Writes "Cookie: __Host-citerne_session=<token>\r\n" into out
 * (at least 128 bytes). Fails the test when Redis refuses. */
void ct_test_session_cookie(uv_loop_t *loop, ct_cache_t *cache, const char *customer_id,
                            ct_role_t role, char *out, size_t size);
/* The same, followed (csrf true) by the session's "X-CSRF-Token: ...\r\n"
 * line, which writes through a session need; out at least 256 bytes then. */
void ct_test_session_headers(uv_loop_t *loop, ct_cache_t *cache, const char *customer_id,
                             ct_role_t role, bool csrf, char *out, size_t size);

#endif
