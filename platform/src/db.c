/* Asynchronous Postgres pool: libpq in non-blocking mode, sockets watched by
 * uv_poll. See citerne/db.h for the contract.
 *
 * Shape: a pool owns `size` connections and one FIFO of work (one-shot
 * queries and transactions). A connection is DOWN (waiting for its backoff
 * timer), CONNECTING (PQconnectPoll), or UP (idle or running one work item).
 * A listener is a pool of one whose connection first runs LISTEN and hands
 * the notifications it receives to a callback. */
#define _GNU_SOURCE /* asprintf */
#include "citerne/db.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/log.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

enum {
    BACKOFF_MIN_MS = 100,
    BACKOFF_MAX_MS = 5000,
    CONNECT_TIMEOUT_MS = 10000,
    /* Queued work fails with CT_EUNAVAIL after this long without any live
     * connection, and after QUEUE_MAX_WAIT_MS in any case, so that a request
     * never hangs on a database that is gone. */
    QUEUE_NOCONN_WAIT_MS = 5000,
    QUEUE_MAX_WAIT_MS = 30000,
    TICK_MS = 100,
};

static char app_name[64] = "citerne";

void ct_db_set_application_name(const char *name)
{
    snprintf(app_name, sizeof app_name, "%s", name && *name ? name : "citerne");
}

/* ---- parameters ---- */

void ct_db_params_init(ct_db_params_t *p)
{
    memset(p, 0, sizeof *p);
}

void ct_db_params_dispose(ct_db_params_t *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->values[i]);
    memset(p, 0, sizeof *p);
}

static int params_slot(ct_db_params_t *p)
{
    if (p->n >= CT_DB_MAX_PARAMS) {
        fprintf(stderr, "ct_db_params: more than %d parameters\n", CT_DB_MAX_PARAMS);
        abort();
    }
    return p->n++;
}

static void *xmalloc(size_t n)
{
    void *m = malloc(n ? n : 1);
    if (!m) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    return m;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

void ct_db_params_add(ct_db_params_t *p, const char *value)
{
    int i = params_slot(p);
    p->values[i] = value ? xstrdup(value) : NULL;
    p->lengths[i] = 0;
    p->formats[i] = 0;
}

void ct_db_params_addf(ct_db_params_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    int i = params_slot(p);
    p->values[i] = s;
    p->lengths[i] = 0;
    p->formats[i] = 0;
}

void ct_db_params_add_int(ct_db_params_t *p, long long value)
{
    ct_db_params_addf(p, "%lld", value);
}

void ct_db_params_add_bin(ct_db_params_t *p, const void *data, size_t len)
{
    assert(len <= INT32_MAX);
    int i = params_slot(p);
    p->values[i] = memcpy(xmalloc(len), data ? data : "", len);
    p->lengths[i] = (int)len;
    p->formats[i] = 1;
}

static void params_copy(ct_db_params_t *dst, const ct_db_params_t *src)
{
    ct_db_params_init(dst);
    if (!src)
        return;
    for (int i = 0; i < src->n; i++) {
        if (!src->values[i])
            dst->values[i] = NULL;
        else if (src->formats[i])
            dst->values[i] =
                memcpy(xmalloc((size_t)src->lengths[i]), src->values[i], (size_t)src->lengths[i]);
        else
            dst->values[i] = xstrdup(src->values[i]);
        dst->lengths[i] = src->lengths[i];
        dst->formats[i] = src->formats[i];
    }
    dst->n = src->n;
}

/* ---- result helpers ---- */

const char *ct_db_get(const PGresult *res, int row, const char *column)
{
    if (!res || !column)
        return NULL;
    int col = PQfnumber(res, column);
    if (col < 0 || row < 0 || row >= PQntuples(res) || PQgetisnull(res, row, col))
        return NULL;
    return PQgetvalue(res, row, col);
}

long long ct_db_get_int(const PGresult *res, int row, const char *column, long long def)
{
    const char *v = ct_db_get(res, row, column);
    if (!v || !*v)
        return def;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end)
        return def;
    return n;
}

long ct_db_affected(const PGresult *res)
{
    if (!res)
        return 0;
    const char *s = PQcmdTuples((PGresult *)res);
    return s && *s ? strtol(s, NULL, 10) : 0;
}

/* ---- types ---- */

typedef enum { W_QUERY, W_TX, W_SETUP } work_kind_t;

typedef enum {
    TX_BEGIN,    /* BEGIN sent */
    TX_STEP,     /* waiting for the caller's next step */
    TX_STMT,     /* a statement of the caller is running */
    TX_COMMIT,   /* COMMIT sent */
    TX_ROLLBACK, /* ROLLBACK asked by the caller sent */
    TX_ABORT,    /* ROLLBACK after a failed statement sent */
} tx_stage_t;

typedef struct pconn pconn_t;

typedef struct work {
    struct work *next, *prev;
    work_kind_t kind;
    ct_db_t *db;
    pconn_t *conn;
    uint64_t queued_at;
    void *udata;
    /* query */
    char *sql;
    ct_db_params_t params;
    ct_db_result_cb cb;
    /* outcome of the running command */
    PGresult *last;  /* last successful result */
    PGresult *error; /* first error result */
    /* failure decided by us (connection lost, closing, timeout) */
    int fail_status;
    char fail_msg[256];
} work_t;

struct ct_db_tx {
    work_t w; /* first: a transaction is a work item */
    tx_stage_t stage;
    ct_db_tx_cb first, next;
    ct_db_tx_done_cb done;
    void *done_udata; /* the udata of ct_db_tx_begin, whatever set_udata did */
    /* the error that ends the transaction */
    int err_status;
    char err_sqlstate[6];
    char *err_msg;
    bool detached; /* connection lost while waiting for a step */
};

typedef enum { C_DOWN, C_CONNECTING, C_UP, C_CLOSED } conn_state_t;

struct pconn {
    ct_db_t *db;
    PGconn *pg;
    uv_poll_t *poll; /* heap: replaced when the socket changes */
    int poll_fd;
    int poll_events;
    uv_timer_t timer; /* backoff while DOWN, connect timeout while CONNECTING */
    conn_state_t state;
    unsigned backoff_ms;
    bool ready;    /* UP and set up (LISTEN done) */
    bool flushing; /* PQflush returned 1: output pending */
    work_t *work;
};

struct ct_db {
    uv_loop_t *loop;
    char *conninfo;
    int size;
    pconn_t *conns;
    work_t queue;    /* sentinel of the FIFO of waiting work */
    work_t deferred; /* sentinel: work to complete from the defer handle */
    size_t nqueued, nrunning;
    uv_timer_t tick; /* queue deadlines */
    /* completions that must not run inside a caller's call; an async handle
     * (not a zero timer) so the loop's poll phase wakes up for them */
    uv_async_t defer;
    bool closing, finishing;
    int pending_closes;
    void (*close_cb)(void *);
    void *close_udata;
    uint64_t last_up; /* loop time a connection was last up */
    /* listener */
    char *channel;
    ct_db_notify_cb notify_cb;
    void *notify_udata;
    unsigned long generation;
};

static void conn_start(pconn_t *c);
static void conn_broken(pconn_t *c, const char *why);
static void pool_dispatch(ct_db_t *db);
static void maybe_finish(ct_db_t *db);
static void work_finish(work_t *w);
static void work_defer(work_t *w, int status, const char *msg);

/* ---- lists ---- */

static void list_init(work_t *s)
{
    s->next = s->prev = s;
}

static bool list_empty(const work_t *s)
{
    return s->next == s;
}

static void list_push(work_t *s, work_t *w)
{
    w->prev = s->prev;
    w->next = s;
    s->prev->next = w;
    s->prev = w;
}

static void list_remove(work_t *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->next = w->prev = NULL;
}

/* ---- errors ---- */

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

static void set_fail(work_t *w, int status, const char *msg)
{
    w->fail_status = status;
    snprintf(w->fail_msg, sizeof w->fail_msg, "%s", msg && *msg ? msg : ct_strerror(status));
    trim(w->fail_msg);
}

/* Fills e from w's outcome: our own failure first, then a server error. The
 * strings point into w (or its error result). Returns NULL on success. */
static const ct_db_error_t *work_error(work_t *w, ct_db_error_t *e)
{
    if (w->fail_status) {
        e->status = w->fail_status;
        e->sqlstate = "";
        e->message = w->fail_msg;
        return e;
    }
    if (w->error) {
        const char *st = PQresultErrorField(w->error, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorField(w->error, PG_DIAG_MESSAGE_PRIMARY);
        if (!msg || !*msg) {
            snprintf(w->fail_msg, sizeof w->fail_msg, "%s", PQresultErrorMessage(w->error));
            trim(w->fail_msg);
            msg = w->fail_msg;
        }
        e->status = CT_EDB;
        e->sqlstate = st ? st : "";
        e->message = *msg ? msg : "database error";
        /* the server's own "connection lost" errors are unavailability */
        if (w->conn && w->conn->pg && PQstatus(w->conn->pg) == CONNECTION_BAD)
            e->status = CT_EUNAVAIL;
        return e;
    }
    return NULL;
}

static void work_clear_results(work_t *w)
{
    PQclear(w->last);
    PQclear(w->error);
    w->last = w->error = NULL;
}

/* ---- socket watching ---- */

static void on_poll_closed(uv_handle_t *h)
{
    ct_db_t *db = h->data;
    free(h);
    db->pending_closes--;
    maybe_finish(db);
}

static void conn_unwatch(pconn_t *c)
{
    if (!c->poll)
        return;
    c->poll->data = c->db;
    c->db->pending_closes++;
    uv_close((uv_handle_t *)c->poll, on_poll_closed);
    c->poll = NULL;
    c->poll_fd = -1;
    c->poll_events = 0;
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Watches the connection's current socket for events. force re-registers
 * even when nothing changed: during connection setup libpq may close its
 * socket and open another that reuses the same descriptor number. */
static int conn_watch(pconn_t *c, int events, bool force)
{
    int fd = PQsocket(c->pg);
    if (fd < 0)
        return -EBADF;
    if (c->poll && c->poll_fd != fd)
        conn_unwatch(c);
    if (!c->poll) {
        c->poll = xmalloc(sizeof *c->poll);
        int rc = uv_poll_init_socket(c->db->loop, c->poll, fd);
        if (rc < 0) {
            free(c->poll);
            c->poll = NULL;
            return rc;
        }
        c->poll->data = c;
        c->poll_fd = fd;
        c->poll_events = 0;
    } else if (force) {
        uv_poll_stop(c->poll);
        c->poll_events = 0;
    }
    if (events != c->poll_events) {
        int rc = uv_poll_start(c->poll, events, on_poll);
        if (rc < 0)
            return rc;
        c->poll_events = events;
    }
    return 0;
}

/* ---- connection lifecycle ---- */

static void on_conn_timer(uv_timer_t *t)
{
    pconn_t *c = container_of(t, pconn_t, timer);
    if (c->state == C_DOWN)
        conn_start(c);
    else if (c->state == C_CONNECTING)
        conn_broken(c, "timeout while connecting");
}

static void conn_schedule(pconn_t *c)
{
    c->state = C_DOWN;
    uv_timer_start(&c->timer, on_conn_timer, c->backoff_ms, 0);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static void conn_teardown(pconn_t *c)
{
    conn_unwatch(c);
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
    c->ready = false;
    c->flushing = false;
}

static void conn_step_connect(pconn_t *c, PostgresPollingStatusType ps)
{
    int rc = 0;
    /* between two attempts (next host, SSL fallback) libpq may have no
     * socket: poll again so it opens the next one or reports the failure */
    for (int i = 0;
         i < 8 && PQsocket(c->pg) < 0 && ps != PGRES_POLLING_FAILED && ps != PGRES_POLLING_OK; i++)
        ps = PQconnectPoll(c->pg);
    switch (ps) {
    case PGRES_POLLING_READING:
        rc = conn_watch(c, UV_READABLE, true);
        break;
    case PGRES_POLLING_WRITING:
        rc = conn_watch(c, UV_WRITABLE, true);
        break;
    case PGRES_POLLING_OK:
        uv_timer_stop(&c->timer);
        if (PQsetnonblocking(c->pg, 1) != 0) {
            conn_broken(c, PQerrorMessage(c->pg));
            return;
        }
        c->state = C_UP;
        c->backoff_ms = BACKOFF_MIN_MS;
        c->db->last_up = uv_now(c->db->loop);
        rc = conn_watch(c, UV_READABLE, true);
        if (rc < 0)
            break;
        if (c->db->channel) {
            /* the listener's LISTEN runs before any other work */
            work_t *w = calloc(1, sizeof *w);
            if (!w) {
                conn_broken(c, "out of memory");
                return;
            }
            char *id = PQescapeIdentifier(c->pg, c->db->channel, strlen(c->db->channel));
            char *sql = NULL;
            if (!id || asprintf(&sql, "LISTEN %s", id) < 0)
                sql = NULL;
            PQfreemem(id);
            if (!sql || !PQsendQuery(c->pg, sql)) {
                free(sql);
                free(w);
                conn_broken(c, PQerrorMessage(c->pg));
                return;
            }
            free(sql);
            w->kind = W_SETUP;
            w->db = c->db;
            w->conn = c;
            c->work = w;
            if (PQflush(c->pg) == 1) {
                c->flushing = true;
                conn_watch(c, UV_READABLE | UV_WRITABLE, false);
            }
            return;
        }
        c->ready = true;
        pool_dispatch(c->db);
        return;
    case PGRES_POLLING_FAILED:
    default:
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    if (rc < 0)
        conn_broken(c, uv_strerror(rc));
}

/* Server notices go to the log, not to libpq's default (stderr). */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    int n = (int)strlen(message);
    while (n > 0 && message[n - 1] == '\n')
        n--;
    ct_log_debug("postgres: %.*s", n, message);
}

static void conn_start(pconn_t *c)
{
    ct_db_t *db = c->db;
    const char *keys[] = {"fallback_application_name", "dbname", NULL};
    const char *vals[] = {app_name, db->conninfo, NULL};
    c->pg = PQconnectStartParams(keys, vals, 1);
    if (!c->pg) {
        conn_broken(c, "out of memory");
        return;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    PQsetNoticeProcessor(c->pg, on_notice, NULL);
    c->state = C_CONNECTING;
    uv_timer_start(&c->timer, on_conn_timer, CONNECT_TIMEOUT_MS, 0);
    /* libpq: start as if PQconnectPoll had returned PGRES_POLLING_WRITING */
    conn_step_connect(c, PGRES_POLLING_WRITING);
}

/* Completes the work running on c with CT_EUNAVAIL, drops the connection
 * and schedules a reconnect. A transaction waiting for its caller's next
 * step stays alive, detached: its next step fails. */
static void conn_broken(pconn_t *c, const char *why)
{
    ct_db_t *db = c->db;
    bool was_up = c->state == C_UP;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", why && *why ? why : "connection lost");
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    trim(msg);
    conn_teardown(c);
    uv_timer_stop(&c->timer);
    work_t *w = c->work;
    c->work = NULL;
    if (db->closing) {
        c->state = C_CLOSED;
    } else {
        if (was_up)
            ct_log_warn("postgres connection lost: %s", msg);
        else if (c->backoff_ms >= BACKOFF_MAX_MS || c->backoff_ms == BACKOFF_MIN_MS)
            ct_log_warn("postgres connection failed: %s", msg);
        conn_schedule(c);
    }
    if (w) {
        w->conn = NULL;
        if (w->kind == W_SETUP) {
            work_clear_results(w);
            free(w);
        } else if (w->kind == W_TX && ((ct_db_tx_t *)w)->stage == TX_STEP) {
            ((ct_db_tx_t *)w)->detached = true;
        } else {
            /* completed from the loop: we may be inside a caller's call */
            work_defer(w, CT_EUNAVAIL, msg);
        }
    }
    maybe_finish(db);
}

/* ---- sending ---- */

static void conn_after_send(pconn_t *c)
{
    int r = PQflush(c->pg);
    if (r < 0) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    c->flushing = r == 1;
    int rc = conn_watch(c, c->flushing ? UV_READABLE | UV_WRITABLE : UV_READABLE, false);
    if (rc < 0)
        conn_broken(c, uv_strerror(rc));
}

static bool send_params(pconn_t *c, const char *sql, const ct_db_params_t *p)
{
    return PQsendQueryParams(c->pg, sql, p ? p->n : 0, NULL,
                             p ? (const char *const *)p->values : NULL, p ? p->lengths : NULL,
                             p ? p->formats : NULL, 0) == 1;
}

/* ---- completing work ---- */

static void work_free(work_t *w)
{
    work_clear_results(w);
    if (w->kind == W_TX) {
        ct_db_tx_t *tx = (ct_db_tx_t *)w;
        free(tx->err_msg);
    }
    free(w->sql);
    ct_db_params_dispose(&w->params);
    free(w);
}

static void tx_done(ct_db_tx_t *tx, const ct_db_error_t *err)
{
    ct_db_t *db = tx->w.db;
    db->nrunning--;
    tx->done(err, tx->done_udata);
    work_free(&tx->w);
    maybe_finish(db);
}

static void tx_save_error(ct_db_tx_t *tx, const ct_db_error_t *e)
{
    tx->err_status = e->status;
    snprintf(tx->err_sqlstate, sizeof tx->err_sqlstate, "%s", e->sqlstate);
    free(tx->err_msg);
    tx->err_msg = xstrdup(e->message);
}

static void tx_done_saved(ct_db_tx_t *tx)
{
    if (!tx->err_status) {
        tx_done(tx, NULL);
        return;
    }
    ct_db_error_t e = {tx->err_status, tx->err_sqlstate, tx->err_msg ? tx->err_msg : ""};
    tx_done(tx, &e);
}

/* The running command of w (on its connection, or failed by us) is over. */
static void work_finish(work_t *w)
{
    ct_db_t *db = w->db;
    pconn_t *c = w->conn;
    ct_db_error_t ebuf;
    const ct_db_error_t *err = work_error(w, &ebuf);

    if (w->kind == W_SETUP) {
        if (err) {
            char msg[300]; /* "LISTEN failed: " + an error message of up to 255 */
            snprintf(msg, sizeof msg, "LISTEN failed: %.255s", err->message);
            work_clear_results(w);
            c->work = NULL;
            free(w);
            conn_broken(c, msg);
            return;
        }
        work_clear_results(w);
        free(w);
        c->work = NULL;
        c->ready = true;
        db->generation++;
        if (db->notify_cb && !db->closing)
            db->notify_cb("", db->notify_udata);
        pool_dispatch(db);
        maybe_finish(db);
        return;
    }

    if (w->kind == W_QUERY) {
        if (c)
            c->work = NULL;
        db->nrunning--;
        /* the connection is free for the queue before the callback runs, so
         * work the callback submits goes behind what already waits */
        w->cb(err, err ? NULL : w->last, w->udata);
        work_free(w);
        if (c && c->state == C_UP && !c->work)
            pool_dispatch(db);
        maybe_finish(db);
        return;
    }

    ct_db_tx_t *tx = (ct_db_tx_t *)w;
    if (!c) {
        /* connection lost or pool closed: the server rolls back by itself */
        /* after a rollback was asked, losing the connection changes nothing:
         * keep the caller's status or the failed statement's error */
        if (err && tx->stage != TX_ROLLBACK && tx->stage != TX_ABORT)
            tx_save_error(tx, err);
        tx_done_saved(tx);
        return;
    }
    PGresult *res = w->last;
    switch (tx->stage) {
    case TX_BEGIN:
    case TX_STMT: {
        if (err) {
            if (tx->stage == TX_BEGIN) {
                tx_save_error(tx, err);
                work_clear_results(w);
                c->work = NULL;
                tx_done_saved(tx);
                if (c->state == C_UP && !c->work)
                    pool_dispatch(db);
                return;
            }
            tx_save_error(tx, err);
            work_clear_results(w);
            tx->stage = TX_ABORT;
            if (!PQsendQuery(c->pg, "ROLLBACK")) {
                conn_broken(c, PQerrorMessage(c->pg));
                return;
            }
            conn_after_send(c);
            return;
        }
        ct_db_tx_cb step = tx->stage == TX_BEGIN ? tx->first : tx->next;
        w->last = NULL;
        tx->stage = TX_STEP;
        step(tx, res, w->udata);
        PQclear(res);
        return;
    }
    case TX_COMMIT:
        if (err)
            tx_save_error(tx, err);
        break;
    case TX_ROLLBACK:
        if (err && !tx->err_status)
            tx_save_error(tx, err);
        break;
    case TX_ABORT:
        break;
    case TX_STEP:
        assert(!"result while waiting for a step");
        break;
    }
    work_clear_results(w);
    c->work = NULL;
    w->conn = NULL;
    tx_done_saved(tx);
    if (c->state == C_UP && !c->work)
        pool_dispatch(db);
}

/* ---- I/O ---- */

static void conn_drain_notifies(pconn_t *c)
{
    ct_db_t *db = c->db;
    PGnotify *n;
    while (c->pg && (n = PQnotifies(c->pg))) {
        if (db->notify_cb && !db->closing && strcmp(n->relname, db->channel) == 0)
            db->notify_cb(n->extra ? n->extra : "", db->notify_udata);
        PQfreemem(n);
    }
}

static void conn_io(pconn_t *c, int events)
{
    if (c->flushing && (events & (UV_WRITABLE | UV_READABLE))) {
        int r = PQflush(c->pg);
        if (r < 0) {
            conn_broken(c, PQerrorMessage(c->pg));
            return;
        }
        c->flushing = r == 1;
        if (!c->flushing && conn_watch(c, UV_READABLE, false) < 0) {
            conn_broken(c, "cannot watch socket");
            return;
        }
    }
    if (events & UV_READABLE) {
        if (!PQconsumeInput(c->pg)) {
            conn_broken(c, PQerrorMessage(c->pg));
            return;
        }
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    /* notifications may arrive on an idle connection; a callback may close
     * the pool, which only takes effect later, so c stays valid */
    conn_drain_notifies(c);
    if (!c->pg)
        return;
    work_t *w = c->work;
    if (!w || (w->kind == W_TX && ((ct_db_tx_t *)w)->stage == TX_STEP))
        return;
    while (!c->flushing && !PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            work_finish(w);
            return;
        }
        switch (PQresultStatus(r)) {
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
            PQclear(r);
            conn_broken(c, "COPY is not supported through ct_db_query");
            return;
        case PGRES_FATAL_ERROR:
        case PGRES_BAD_RESPONSE:
            /* after an error the rest of a multi-statement string is skipped;
             * the first error is the one to report */
            if (!w->error)
                w->error = r;
            else
                PQclear(r);
            break;
        default:
            PQclear(w->last);
            w->last = r;
            break;
        }
    }
    if (PQstatus(c->pg) == CONNECTION_BAD)
        conn_broken(c, PQerrorMessage(c->pg));
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    pconn_t *c = h->data;
    if (c->state == C_CONNECTING) {
        /* a refused connect shows as POLLERR (UV_EBADF): libpq reads the
         * socket error itself and says what happened */
        conn_step_connect(c, PQconnectPoll(c->pg));
        return;
    }
    if (status < 0) {
        /* POLLERR (UV_EBADF): a reset socket; libpq may say more */
        const char *why = "connection reset";
        if (c->pg && (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) &&
            *PQerrorMessage(c->pg))
            why = PQerrorMessage(c->pg);
        conn_broken(c, why);
        return;
    }
    if (c->state == C_UP)
        conn_io(c, events);
}

/* ---- dispatching ---- */

static void work_start(pconn_t *c, work_t *w)
{
    ct_db_t *db = c->db;
    c->work = w;
    w->conn = c;
    db->nrunning++;
    bool ok;
    if (w->kind == W_QUERY) {
        ok = send_params(c, w->sql, &w->params);
    } else {
        ((ct_db_tx_t *)w)->stage = TX_BEGIN;
        ok = PQsendQuery(c->pg, "BEGIN") == 1;
    }
    if (!ok) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    conn_after_send(c);
}

static void pool_dispatch(ct_db_t *db)
{
    for (int i = 0; i < db->size && !list_empty(&db->queue); i++) {
        pconn_t *c = &db->conns[i];
        if (c->state != C_UP || !c->ready || c->work)
            continue;
        work_t *w = db->queue.next;
        list_remove(w);
        db->nqueued--;
        work_start(c, w);
    }
    if (list_empty(&db->queue))
        uv_timer_stop(&db->tick);
    if (db->closing)
        maybe_finish(db);
}

static bool pool_has_live_conn(const ct_db_t *db)
{
    for (int i = 0; i < db->size; i++)
        if (db->conns[i].state == C_UP)
            return true;
    return false;
}

static void on_tick(uv_timer_t *t)
{
    ct_db_t *db = container_of(t, ct_db_t, tick);
    uint64_t now = uv_now(db->loop);
    bool live = pool_has_live_conn(db);
    uint64_t since_up = now - db->last_up;
    while (!list_empty(&db->queue)) {
        work_t *w = db->queue.next;
        uint64_t waited = now - w->queued_at;
        bool expired = waited >= QUEUE_MAX_WAIT_MS || (!live && waited >= QUEUE_NOCONN_WAIT_MS &&
                                                       since_up >= QUEUE_NOCONN_WAIT_MS);
        if (!expired)
            break;
        list_remove(w);
        db->nqueued--;
        db->nrunning++;
        set_fail(w, CT_EUNAVAIL,
                 live ? "timed out waiting for a database connection" : "no database connection");
        work_finish(w);
    }
    if (list_empty(&db->queue))
        uv_timer_stop(&db->tick);
}

static void on_defer(uv_async_t *a)
{
    ct_db_t *db = container_of(a, ct_db_t, defer);
    while (!list_empty(&db->deferred)) {
        work_t *w = db->deferred.next;
        list_remove(w);
        work_finish(w);
    }
}

/* Completes w from the loop, not from inside the caller's call. */
static void work_defer(work_t *w, int status, const char *msg)
{
    if (!w->fail_status)
        set_fail(w, status, msg);
    list_push(&w->db->deferred, w);
    uv_async_send(&w->db->defer);
}

static void enqueue(ct_db_t *db, work_t *w)
{
    w->db = db;
    w->queued_at = uv_now(db->loop);
    list_push(&db->queue, w);
    db->nqueued++;
    if (!uv_is_active((uv_handle_t *)&db->tick))
        uv_timer_start(&db->tick, on_tick, TICK_MS, TICK_MS);
    pool_dispatch(db);
}

/* ---- pool ---- */

static int pool_new(uv_loop_t *loop, const char *conninfo, int size, const char *channel,
                    ct_db_t **out)
{
    if (!loop || !conninfo || size < 1 || size > 1000 || !out)
        return -EINVAL;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        if (perr)
            trim(perr);
        ct_log_error("invalid postgres connection string: %s", perr ? perr : "out of memory");
        PQfreemem(perr);
        return CT_ECONFIG;
    }
    PQconninfoFree(opts);

    ct_db_t *db = calloc(1, sizeof *db);
    if (!db)
        return -ENOMEM;
    db->conns = calloc((size_t)size, sizeof *db->conns);
    db->conninfo = strdup(conninfo);
    db->channel = channel ? strdup(channel) : NULL;
    if (!db->conns || !db->conninfo || (channel && !db->channel)) {
        free(db->conns);
        free(db->conninfo);
        free(db->channel);
        free(db);
        return -ENOMEM;
    }
    db->loop = loop;
    db->size = size;
    list_init(&db->queue);
    list_init(&db->deferred);
    uv_timer_init(loop, &db->tick);
    uv_async_init(loop, &db->defer, on_defer);
    db->last_up = uv_now(loop);
    for (int i = 0; i < size; i++) {
        pconn_t *c = &db->conns[i];
        c->db = db;
        c->poll_fd = -1;
        c->backoff_ms = BACKOFF_MIN_MS;
        uv_timer_init(loop, &c->timer);
    }
    for (int i = 0; i < size; i++)
        conn_start(&db->conns[i]);
    *out = db;
    return 0;
}

int ct_db_new(uv_loop_t *loop, const char *conninfo, int size, ct_db_t **out)
{
    return pool_new(loop, conninfo, size, NULL, out);
}

bool ct_db_ready(const ct_db_t *db)
{
    for (int i = 0; i < db->size; i++)
        if (db->conns[i].ready)
            return true;
    return false;
}

size_t ct_db_pending(const ct_db_t *db)
{
    return db->nqueued + db->nrunning;
}

static void on_handle_closed(uv_handle_t *h)
{
    ct_db_t *db = h->data;
    db->pending_closes--;
    maybe_finish(db);
}

static void close_handle(ct_db_t *db, uv_handle_t *h)
{
    h->data = db;
    db->pending_closes++;
    uv_close(h, on_handle_closed);
}

static void maybe_finish(ct_db_t *db)
{
    if (!db->closing)
        return;
    if (!db->finishing) {
        if (db->nrunning || db->nqueued || !list_empty(&db->deferred))
            return;
        db->finishing = true;
        for (int i = 0; i < db->size; i++) {
            pconn_t *c = &db->conns[i];
            conn_teardown(c);
            if (c->work) { /* W_SETUP of a listener */
                work_clear_results(c->work);
                free(c->work);
                c->work = NULL;
            }
            c->state = C_CLOSED;
            close_handle(db, (uv_handle_t *)&c->timer);
        }
        close_handle(db, (uv_handle_t *)&db->tick);
        close_handle(db, (uv_handle_t *)&db->defer);
        return;
    }
    if (db->pending_closes)
        return;
    void (*cb)(void *) = db->close_cb;
    void *udata = db->close_udata;
    free(db->conns);
    free(db->conninfo);
    free(db->channel);
    free(db);
    if (cb)
        cb(udata);
}

void ct_db_close(ct_db_t *db, void (*cb)(void *udata), void *udata)
{
    assert(!db->closing);
    db->closing = true;
    db->close_cb = cb;
    db->close_udata = udata;
    /* queued work fails from the loop, not inside this call */
    while (!list_empty(&db->queue)) {
        work_t *w = db->queue.next;
        list_remove(w);
        db->nqueued--;
        db->nrunning++;
        work_defer(w, CT_ECLOSED, "the database pool is closing");
    }
    uv_timer_stop(&db->tick);
    /* connections still connecting stop now */
    for (int i = 0; i < db->size; i++) {
        pconn_t *c = &db->conns[i];
        if (c->state != C_UP) {
            uv_timer_stop(&c->timer);
            conn_teardown(c);
            c->state = C_CLOSED;
        }
    }
    maybe_finish(db);
}

/* ---- queries ---- */

int ct_db_query(ct_db_t *db, const char *sql, const ct_db_params_t *params, ct_db_result_cb cb,
                void *udata)
{
    if (!db || !sql || !cb)
        return -EINVAL;
    if (db->closing)
        return CT_ECLOSED;
    work_t *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->kind = W_QUERY;
    w->sql = strdup(sql);
    if (!w->sql) {
        free(w);
        return -ENOMEM;
    }
    params_copy(&w->params, params);
    w->cb = cb;
    w->udata = udata;
    enqueue(db, w);
    return 0;
}

/* ---- transactions ---- */

int ct_db_tx_begin(ct_db_t *db, ct_db_tx_cb first, ct_db_tx_done_cb done, void *udata)
{
    if (!db || !first || !done)
        return -EINVAL;
    if (db->closing)
        return CT_ECLOSED;
    ct_db_tx_t *tx = calloc(1, sizeof *tx);
    if (!tx)
        return -ENOMEM;
    tx->w.kind = W_TX;
    tx->w.udata = udata;
    tx->done_udata = udata;
    tx->first = first;
    tx->done = done;
    enqueue(db, &tx->w);
    return 0;
}

/* The caller issues a step: true when it may be sent on the connection. */
static bool tx_step_ok(ct_db_tx_t *tx)
{
    assert(tx->stage == TX_STEP && "one step per callback");
    if (tx->detached || !tx->w.conn) {
        work_defer(&tx->w, CT_EUNAVAIL, "the database connection was lost");
        return false;
    }
    return true;
}

static void tx_sent(ct_db_tx_t *tx, bool ok)
{
    pconn_t *c = tx->w.conn;
    if (!ok) {
        /* the connection is unusable: finish from the loop, not inside the
         * caller's step */
        char msg[256];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c->pg));
        c->work = NULL;
        tx->w.conn = NULL;
        conn_broken(c, msg);
        work_defer(&tx->w, CT_EUNAVAIL, msg);
        return;
    }
    conn_after_send(c);
}

void ct_db_tx_query(ct_db_tx_t *tx, const char *sql, const ct_db_params_t *params, ct_db_tx_cb next)
{
    if (!tx_step_ok(tx))
        return;
    tx->next = next;
    tx->stage = TX_STMT;
    tx_sent(tx, send_params(tx->w.conn, sql, params));
}

void ct_db_tx_exec(ct_db_tx_t *tx, const char *sql, ct_db_tx_cb next)
{
    if (!tx_step_ok(tx))
        return;
    tx->next = next;
    tx->stage = TX_STMT;
    tx_sent(tx, PQsendQuery(tx->w.conn->pg, sql) == 1);
}

void ct_db_tx_commit(ct_db_tx_t *tx)
{
    if (!tx_step_ok(tx))
        return;
    tx->stage = TX_COMMIT;
    tx_sent(tx, PQsendQuery(tx->w.conn->pg, "COMMIT") == 1);
}

void ct_db_tx_rollback(ct_db_tx_t *tx, int status, const char *message)
{
    assert(tx->stage == TX_STEP && "one step per callback");
    if (status) {
        tx->err_status = status;
        tx->err_sqlstate[0] = '\0';
        free(tx->err_msg);
        tx->err_msg = xstrdup(message && *message ? message : ct_strerror(status));
    }
    tx->stage = TX_ROLLBACK;
    if (tx->detached || !tx->w.conn) {
        /* the server already rolled back when the connection dropped */
        list_push(&tx->w.db->deferred, &tx->w);
        uv_async_send(&tx->w.db->defer);
        return;
    }
    tx_sent(tx, PQsendQuery(tx->w.conn->pg, "ROLLBACK") == 1);
}

void *ct_db_tx_udata(const ct_db_tx_t *tx)
{
    return tx->w.udata;
}

void ct_db_tx_set_udata(ct_db_tx_t *tx, void *udata)
{
    tx->w.udata = udata;
}

/* ---- LISTEN ---- */

struct ct_db_listener {
    ct_db_t *db;
    void (*close_cb)(void *);
    void *close_udata;
};

int ct_db_listen(uv_loop_t *loop, const char *conninfo, const char *channel, ct_db_notify_cb cb,
                 void *udata, ct_db_listener_t **out)
{
    if (!channel || !*channel || !cb || !out)
        return -EINVAL;
    ct_db_listener_t *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    int rc = pool_new(loop, conninfo, 1, channel, &l->db);
    if (rc < 0) {
        free(l);
        return rc;
    }
    l->db->notify_cb = cb;
    l->db->notify_udata = udata;
    *out = l;
    return 0;
}

int ct_db_listener_query(ct_db_listener_t *l, const char *sql, const ct_db_params_t *params,
                         ct_db_result_cb cb, void *udata)
{
    if (!l)
        return -EINVAL;
    if (!l->db->conns[0].ready)
        return CT_EUNAVAIL;
    return ct_db_query(l->db, sql, params, cb, udata);
}

unsigned long ct_db_listener_session(const ct_db_listener_t *l)
{
    return l->db->conns[0].ready ? l->db->generation : 0;
}

static void on_listener_closed(void *arg)
{
    ct_db_listener_t *l = arg;
    void (*cb)(void *) = l->close_cb;
    void *udata = l->close_udata;
    free(l);
    if (cb)
        cb(udata);
}

void ct_db_listener_close(ct_db_listener_t *l, void (*cb)(void *udata), void *udata)
{
    l->close_cb = cb;
    l->close_udata = udata;
    ct_db_close(l->db, on_listener_closed, l);
}
