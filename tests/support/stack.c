#include "stack.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <libpq-fe.h>

#define MAX_VARS 32

static char *keys[MAX_VARS];
static char *values[MAX_VARS];
static int nvars = -1;

static void load(void)
{
    nvars = 0;
    const char *path = getenv("CITERNE_TEST_STACK");
    if (!path)
        return;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    while (nvars < MAX_VARS && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#')
            continue;
        *eq = '\0';
        keys[nvars] = strdup(line);
        values[nvars] = strdup(eq + 1);
        nvars++;
    }
    fclose(f);
}

const char *ct_test_env(const char *key)
{
    if (nvars < 0)
        load();
    for (int i = 0; i < nvars; i++)
        if (strcmp(keys[i], key) == 0)
            return values[i];
    return getenv(key);
}

void ct_test_require_stack(void)
{
    if (ct_test_env("CITERNE_PG_URL"))
        return;
    /* Under ctest the fixture always provides the stack: its absence is a
     * failure, never a silent pass. Run by hand without it: skip. */
    if (getenv("CITERNE_TEST_STACK"))
        fail_msg("no test stack: %s is missing or has no CITERNE_PG_URL",
                 getenv("CITERNE_TEST_STACK"));
    fprintf(stderr, "no test stack (CITERNE_TEST_STACK unset): skipped\n");
    skip();
}

/* Replaces the database name (the path after the last '/') of a URI. */
static char *with_dbname(const char *url, const char *dbname)
{
    const char *slash = strrchr(url, '/');
    const char *q = strchr(url, '?');
    size_t head = slash ? (size_t)(slash - url) : strlen(url);
    size_t n = head + 1 + strlen(dbname) + (q ? strlen(q) : 0) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s/%s%s", (int)head, url, dbname, q ? q : "");
    return out;
}

char *ct_test_create_db(const char *prefix)
{
    static int counter;
    const char *admin = ct_test_env("CITERNE_PG_URL");
    assert_non_null(admin);
    char name[96];
    snprintf(name, sizeof name, "%s_%d_%d", prefix, (int)getpid(), counter++);
    PGconn *c = PQconnectdb(admin);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to %s: %s", admin, PQerrorMessage(c));
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return with_dbname(admin, name);
}

void ct_test_drop_db(const char *url)
{
    PGconn *admin = PQconnectdb(ct_test_env("CITERNE_PG_URL"));
    const char *dbname = strrchr(url, '/') + 1;
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %.*s", (int)strcspn(dbname, "?"), dbname);
    PQclear(PQexec(admin, sql));
    PQfinish(admin);
}

int ct_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void on_timeout(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

bool ct_test_run_until(uv_loop_t *loop, const volatile bool *flag, unsigned timeout_ms)
{
    bool timed_out = false;
    uv_timer_t timer;
    uv_timer_init(loop, &timer);
    timer.data = &timed_out;
    uv_timer_start(&timer, on_timeout, timeout_ms, 0);
    while (!*flag && !timed_out)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}

static void on_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    fprintf(stderr, "leaked handle: %s%s\n", uv_handle_type_name(h->type),
            uv_is_closing(h) ? " (closing)" : "");
}

void ct_test_loop_close(uv_loop_t *loop)
{
    /* let close callbacks already requested run; a live handle stays live */
    for (int i = 0; i < 100 && uv_loop_alive(loop); i++)
        uv_run(loop, UV_RUN_NOWAIT);
    int rc = uv_loop_close(loop);
    if (rc != 0)
        uv_walk(loop, on_walk, NULL);
    assert_int_equal(rc, 0);
}
