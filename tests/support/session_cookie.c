/* Test support: a session and its cookie (see session_cookie.h). */
#include "session_cookie.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stack.h"

typedef struct {
    bool done;
    int status;
    char token[65];
    char csrf[65];
} created_t;

static void on_created(int status, const char *token, const ct_session_t *s, void *udata)
{
    created_t *c = udata;
    c->status = status;
    if (status == 0) {
        snprintf(c->token, sizeof c->token, "%s", token);
        snprintf(c->csrf, sizeof c->csrf, "%s", s->csrf);
    }
    c->done = true;
}

void ct_test_session_headers(uv_loop_t *loop, ct_cache_t *cache, const char *customer_id,
                             ct_role_t role, bool csrf, char *out, size_t size)
{
    ct_session_t s;
    memset(&s, 0, sizeof s);
    ct_uuid_v7(s.user_id);
    s.ngrants = 1;
    snprintf(s.grants[0].customer_id, sizeof s.grants[0].customer_id, "%s", customer_id);
    s.grants[0].role = role;
    created_t c = {0};
    assert_int_equal(ct_session_create(cache, &s, 600, on_created, &c), 0);
    assert_true(ct_test_run_until(loop, &c.done, 5000));
    assert_int_equal(c.status, 0);
    assert_true(size >= (csrf ? 256u : 128u));
    snprintf(out, size, "Cookie: " CT_SESSION_COOKIE "=%s\r\n%s%s%s", c.token,
             csrf ? "X-CSRF-Token: " : "", csrf ? c.csrf : "", csrf ? "\r\n" : "");
}

void ct_test_session_cookie(uv_loop_t *loop, ct_cache_t *cache, const char *customer_id,
                            ct_role_t role, char *out, size_t size)
{
    ct_test_session_headers(loop, cache, customer_id, role, false, out, size);
}
