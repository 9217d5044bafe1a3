/* Schema migrations, one transaction per file. Each transaction first takes
 * a transaction-scoped advisory lock, so replicas starting together apply a
 * file one at a time, and the check "already applied?" and the apply happen
 * under that lock. Platform files are recorded as "platform/<name>" so they
 * never collide with a service's own names. */
#define _GNU_SOURCE /* asprintf */
#include "citerne/migrate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/db.h"
#include "citerne/error.h"
#include "citerne/log.h"

/* Fixed advisory lock key of migrations ("ctmigr" in ASCII). */
#define MIGRATE_LOCK_KEY "109454171154034"

typedef struct {
    ct_db_t *db;
    const ct_migration_t *m;
    size_t n;
    size_t i; /* index over platform then service files */
    ct_migrate_cb cb;
    void *udata;
    char name[256]; /* recorded name of the current file */
    const char *sql;
    bool applied; /* the current file was applied (not skipped) */
    int napplied;
} run_t;

static void next_file(run_t *r);

static void finish(run_t *r, int status, const char *message)
{
    ct_migrate_cb cb = r->cb;
    void *udata = r->udata;
    free(r);
    cb(status, message, udata);
}

static void on_recorded(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

static void on_applied(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    run_t *r = udata;
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, r->name);
    ct_db_tx_query(tx, "INSERT INTO ct_schema_migrations(name) VALUES ($1)", &p, on_recorded);
    ct_db_params_dispose(&p);
}

static void on_checked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    run_t *r = udata;
    if (PQntuples(res) > 0) {
        r->applied = false;
        ct_db_tx_rollback(tx, 0, NULL);
        return;
    }
    r->applied = true;
    ct_db_tx_exec(tx, r->sql, on_applied);
}

static void on_table(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    run_t *r = udata;
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, r->name);
    ct_db_tx_query(tx, "SELECT 1 FROM ct_schema_migrations WHERE name = $1", &p, on_checked);
    ct_db_params_dispose(&p);
}

static void on_locked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    /* created under the lock: two first runs would otherwise race on it */
    ct_db_tx_query(tx,
                   "CREATE TABLE IF NOT EXISTS ct_schema_migrations ("
                   "name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                   NULL, on_table);
}

static void on_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_query(tx, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", NULL, on_locked);
}

static void on_file_done(const ct_db_error_t *err, void *udata)
{
    run_t *r = udata;
    if (err) {
        char *msg = NULL;
        if (asprintf(&msg, "migration %s failed: %s%s%s%s", r->name, err->message,
                     *err->sqlstate ? " (SQLSTATE " : "", err->sqlstate,
                     *err->sqlstate ? ")" : "") < 0)
            msg = NULL;
        ct_log_error("%s", msg ? msg : r->name);
        finish(r, err->status, msg ? msg : r->name);
        free(msg);
        return;
    }
    if (r->applied) {
        r->napplied++;
        ct_log_info("migration %s applied", r->name);
    }
    r->i++;
    next_file(r);
}

static void next_file(run_t *r)
{
    size_t total = platform_migrations_count + r->n;
    if (r->i >= total) {
        if (r->napplied)
            ct_log_info("%d migration(s) applied", r->napplied);
        finish(r, 0, NULL);
        return;
    }
    const ct_migration_t *f;
    if (r->i < platform_migrations_count) {
        f = &platform_migrations[r->i];
        snprintf(r->name, sizeof r->name, "platform/%s", f->name);
    } else {
        f = &r->m[r->i - platform_migrations_count];
        snprintf(r->name, sizeof r->name, "%s", f->name);
    }
    r->sql = f->sql;
    r->applied = false;
    int rc = ct_db_tx_begin(r->db, on_begun, on_file_done, r);
    if (rc < 0) {
        char msg[320];
        snprintf(msg, sizeof msg, "migration %s not started: %s", r->name, ct_strerror(rc));
        ct_log_error("%s", msg);
        finish(r, rc, msg);
    }
}

int ct_migrate_run(struct ct_db *db, const ct_migration_t *m, size_t n, ct_migrate_cb cb,
                   void *udata)
{
    if (!db || !cb || (n && !m))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!m[i].name || !*m[i].name || !m[i].sql)
            return CT_EINPUT;
    run_t *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->db = db;
    r->m = m;
    r->n = n;
    r->cb = cb;
    r->udata = udata;
    /* the first file starts from ct_db_tx_begin, so a failure to start it
     * would call cb inside this call: check what can fail first */
    size_t total = platform_migrations_count + n;
    if (total == 0) {
        free(r);
        return -EINVAL;
    }
    const ct_migration_t *f = platform_migrations_count ? &platform_migrations[0] : &m[0];
    if (platform_migrations_count)
        snprintf(r->name, sizeof r->name, "platform/%s", f->name);
    else
        snprintf(r->name, sizeof r->name, "%s", f->name);
    r->sql = f->sql;
    int rc = ct_db_tx_begin(db, on_begun, on_file_done, r);
    if (rc < 0) {
        free(r);
        return rc;
    }
    return 0;
}
