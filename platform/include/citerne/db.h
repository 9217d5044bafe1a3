/* Asynchronous PostgreSQL pool on libuv (libpq in non-blocking mode: the
 * sockets are watched with uv_poll, nothing waits on the loop).
 *
 * A pool keeps `size` connections, reconnects broken ones with backoff, and
 * queues work while all are busy. Work is either a one-shot query or a
 * transaction that holds one connection from BEGIN to COMMIT/ROLLBACK.
 *
 * Every callback runs on the loop thread and is called exactly once when the
 * call that registered it returned 0. A PGresult handed to a callback is
 * borrowed: it is cleared when the callback returns. */
#ifndef CITERNE_DB_H
#define CITERNE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>
#include <uv.h>

typedef struct ct_db ct_db_t;
typedef struct ct_db_tx ct_db_tx_t;

#define CT_DB_MAX_PARAMS 32

/* Query parameters, text or binary; values are copied when added. */
typedef struct {
    int n;
    char *values[CT_DB_MAX_PARAMS];
    int lengths[CT_DB_MAX_PARAMS];
    int formats[CT_DB_MAX_PARAMS]; /* 0 text, 1 binary */
} ct_db_params_t;

void ct_db_params_init(ct_db_params_t *p);
void ct_db_params_dispose(ct_db_params_t *p);
/* NULL value is SQL NULL. Aborts past CT_DB_MAX_PARAMS (a programming error). */
void ct_db_params_add(ct_db_params_t *p, const char *value);
void ct_db_params_addf(ct_db_params_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ct_db_params_add_int(ct_db_params_t *p, long long value);
void ct_db_params_add_bin(ct_db_params_t *p, const void *data, size_t len);

/* What failed: status is CT_EDB (server error: sqlstate set), CT_EUNAVAIL
 * (no connection), or CT_ECLOSED (pool closing). Strings borrowed for the
 * callback's duration. */
typedef struct {
    int status;
    const char *sqlstate; /* "23505" ..., "" when not from the server */
    const char *message;
} ct_db_error_t;

/* Sets the application_name that connections opened afterwards report to the
 * server (pg_stat_activity), unless conninfo sets its own. Default
 * "citerne"; a service sets its name at start. Loop thread only. */
void ct_db_set_application_name(const char *name);

/* Connects size connections to conninfo (a libpq URI or key=value string).
 * Returns 0 (connections come up in the background, broken ones reconnect
 * with backoff from 100 ms to 5 s), -EINVAL for bad arguments, or
 * CT_ECONFIG when conninfo cannot be parsed (logged). Work queued while no
 * connection is up fails with CT_EUNAVAIL after about 5 s. */
int ct_db_new(uv_loop_t *loop, const char *conninfo, int size, ct_db_t **out);
/* At least one connection is up. */
bool ct_db_ready(const ct_db_t *db);
/* Queued + running work items. */
size_t ct_db_pending(const ct_db_t *db);
/* Fails queued work with CT_ECLOSED, waits for running work, closes every
 * connection, then calls cb(udata) and frees db. */
void ct_db_close(ct_db_t *db, void (*cb)(void *udata), void *udata);

/* One-shot query: err is NULL on success (res then holds the rows). */
typedef void (*ct_db_result_cb)(const ct_db_error_t *err, PGresult *res, void *udata);
int ct_db_query(ct_db_t *db, const char *sql, const ct_db_params_t *params, ct_db_result_cb cb,
                void *udata);

/* ---- transactions ----
 * ct_db_tx_begin acquires a connection, sends BEGIN and calls `first` with the
 * transaction. Each step then issues exactly one of: ct_db_tx_query,
 * ct_db_tx_exec, ct_db_tx_commit, ct_db_tx_rollback. If a statement fails,
 * the transaction is rolled back and `done` gets the error; the step
 * callbacks are not called again. `done` is called exactly once, after
 * COMMIT or ROLLBACK completed, with NULL on a successful commit. */
typedef void (*ct_db_tx_cb)(ct_db_tx_t *tx, PGresult *res, void *udata);
typedef void (*ct_db_tx_done_cb)(const ct_db_error_t *err, void *udata);

int ct_db_tx_begin(ct_db_t *db, ct_db_tx_cb first, ct_db_tx_done_cb done, void *udata);
void ct_db_tx_query(ct_db_tx_t *tx, const char *sql, const ct_db_params_t *params,
                    ct_db_tx_cb next);
/* Several statements without parameters (simple query protocol). */
void ct_db_tx_exec(ct_db_tx_t *tx, const char *sql, ct_db_tx_cb next);
void ct_db_tx_commit(ct_db_tx_t *tx);
/* Rolls back; done gets {status, "", message} or NULL when status is 0. */
void ct_db_tx_rollback(ct_db_tx_t *tx, int status, const char *message);
/* The udata later step callbacks receive. set_udata lets a wrapper (inbox)
 * hand the transaction to code with its own udata; `done` always receives
 * the udata given to ct_db_tx_begin. */
void *ct_db_tx_udata(const ct_db_tx_t *tx);
void ct_db_tx_set_udata(ct_db_tx_t *tx, void *udata);

/* ---- LISTEN ----
 * A dedicated connection that LISTENs on channel and calls cb on each
 * notification (payload "" when the NOTIFY had none) and with payload ""
 * after every (re)connect (so the caller re-checks what it may have missed). */
typedef struct ct_db_listener ct_db_listener_t;
typedef void (*ct_db_notify_cb)(const char *payload, void *udata);
int ct_db_listen(uv_loop_t *loop, const char *conninfo, const char *channel, ct_db_notify_cb cb,
                 void *udata, ct_db_listener_t **out);
void ct_db_listener_close(ct_db_listener_t *l, void (*cb)(void *udata), void *udata);
/* Runs a query on the listener's own connection (session state such as an
 * advisory lock then lives as long as that connection). Fails now with
 * CT_EUNAVAIL while the connection is down. */
int ct_db_listener_query(ct_db_listener_t *l, const char *sql, const ct_db_params_t *params,
                         ct_db_result_cb cb, void *udata);
/* Identifies the current connection of the listener: 0 while down, another
 * value after each reconnect (session state of an older one is gone). */
unsigned long ct_db_listener_session(const ct_db_listener_t *l);

/* ---- result helpers ---- */
/* Value of row, column name; NULL for SQL NULL or unknown column. */
const char *ct_db_get(const PGresult *res, int row, const char *column);
long long ct_db_get_int(const PGresult *res, int row, const char *column, long long def);
/* Rows affected by the command (PQcmdTuples as a number). */
long ct_db_affected(const PGresult *res);

#endif
