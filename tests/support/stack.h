/* Test support: the addresses of the test stack and fresh databases.
 * Tests are single-threaded and may block (libpq synchronous calls here are
 * fine: this is test code, not a service loop). */
#ifndef CT_TEST_STACK_H
#define CT_TEST_STACK_H

#include <stdbool.h>
#include <uv.h>

/* Value of KEY from the env file named by $CITERNE_TEST_STACK ("KEY=VALUE"
 * lines), falling back to the process environment; NULL when absent. */
const char *ct_test_env(const char *key);
/* Fails the test when CITERNE_TEST_STACK names a file without the stack's
 * addresses (the ctest fixture failed); skips when it is unset (by hand). */
void ct_test_require_stack(void);
/* Creates an empty database named <prefix>_<pid>_<n> on the stack's server
 * (dropping any leftover) and returns its conninfo URI (malloc'ed). */
char *ct_test_create_db(const char *prefix);
/* Drops the database of url (made by ct_test_create_db; no connection to it
 * may be left open): the stack outlives the test. */
void ct_test_drop_db(const char *url);
/* A loopback port nobody listens on now (for a process that wants one, not
 * 0). */
int ct_test_free_port(void);
/* Runs the loop until *flag is true or timeout_ms elapsed; returns *flag. */
bool ct_test_run_until(uv_loop_t *loop, const volatile bool *flag, unsigned timeout_ms);
/* Runs the loop so pending close callbacks finish, then asserts
 * uv_loop_close() == 0: a handle left open fails the test. */
void ct_test_loop_close(uv_loop_t *loop);

/* First line of a stack test whose group set-up did nothing without the
 * stack (ready is then NULL or false): fails under ctest, skips when run by
 * hand (a skip in a cmocka set-up would count as an error). */
#define CT_TEST_REQUIRE_STACK(ready)                                                               \
    do {                                                                                           \
        (void)state;                                                                               \
        if (!(ready))                                                                              \
            ct_test_require_stack();                                                               \
    } while (0)

#endif
