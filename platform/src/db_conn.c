/* The connections of a pool: connect and reconnect with backoff, the socket
 * watched by uv_poll, sending, and reading results and notifications. A
 * listener's connection runs LISTEN before it takes other work. */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "db_private.h"

static char app_name[64] = "citerne";

void ct_db_set_application_name(const char *name)
{
    snprintf(app_name, sizeof app_name, "%s", name && *name ? name : "citerne");
}

/* ---- socket watching ---- */

static void on_poll_closed(uv_handle_t *h)
{
    ct_db_t *db = h->data;
    free(h);
    db->pending_closes--;
    ct__db_maybe_finish(db);
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
        ct__db_conn_start(c);
    else if (c->state == C_CONNECTING)
        ct__db_conn_broken(c, "timeout while connecting");
}

static void conn_schedule(pconn_t *c)
{
    c->state = C_DOWN;
    uv_timer_start(&c->timer, on_conn_timer, c->backoff_ms, 0);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

void ct__db_conn_teardown(pconn_t *c)
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
            ct__db_conn_broken(c, PQerrorMessage(c->pg));
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
                ct__db_conn_broken(c, "out of memory");
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
                ct__db_conn_broken(c, PQerrorMessage(c->pg));
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
        ct__db_pool_dispatch(c->db);
        return;
    case PGRES_POLLING_FAILED:
    default:
        ct__db_conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    if (rc < 0)
        ct__db_conn_broken(c, uv_strerror(rc));
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

void ct__db_conn_start(pconn_t *c)
{
    ct_db_t *db = c->db;
    const char *keys[] = {"fallback_application_name", "dbname", NULL};
    const char *vals[] = {app_name, db->conninfo, NULL};
    c->pg = PQconnectStartParams(keys, vals, 1);
    if (!c->pg) {
        ct__db_conn_broken(c, "out of memory");
        return;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        ct__db_conn_broken(c, PQerrorMessage(c->pg));
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
void ct__db_conn_broken(pconn_t *c, const char *why)
{
    ct_db_t *db = c->db;
    bool was_up = c->state == C_UP;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", why && *why ? why : "connection lost");
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    trim(msg);
    ct__db_conn_teardown(c);
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
            ct__db_work_clear_results(w);
            free(w);
        } else if (w->kind == W_TX && ((ct_db_tx_t *)w)->stage == TX_STEP) {
            ((ct_db_tx_t *)w)->detached = true;
        } else {
            /* completed from the loop: we may be inside a caller's call */
            ct__db_work_defer(w, CT_EUNAVAIL, msg);
        }
    }
    ct__db_maybe_finish(db);
}

/* ---- sending ---- */

void ct__db_conn_after_send(pconn_t *c)
{
    int r = PQflush(c->pg);
    if (r < 0) {
        ct__db_conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    c->flushing = r == 1;
    int rc = conn_watch(c, c->flushing ? UV_READABLE | UV_WRITABLE : UV_READABLE, false);
    if (rc < 0)
        ct__db_conn_broken(c, uv_strerror(rc));
}

bool ct__db_send_params(pconn_t *c, const char *sql, const ct_db_params_t *p)
{
    return PQsendQueryParams(c->pg, sql, p ? p->n : 0, NULL,
                             p ? (const char *const *)p->values : NULL, p ? p->lengths : NULL,
                             p ? p->formats : NULL, 0) == 1;
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
            ct__db_conn_broken(c, PQerrorMessage(c->pg));
            return;
        }
        c->flushing = r == 1;
        if (!c->flushing && conn_watch(c, UV_READABLE, false) < 0) {
            ct__db_conn_broken(c, "cannot watch socket");
            return;
        }
    }
    if (events & UV_READABLE) {
        if (!PQconsumeInput(c->pg)) {
            ct__db_conn_broken(c, PQerrorMessage(c->pg));
            return;
        }
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        ct__db_conn_broken(c, PQerrorMessage(c->pg));
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
            ct__db_work_finish(w);
            return;
        }
        switch (PQresultStatus(r)) {
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
            PQclear(r);
            ct__db_conn_broken(c, "COPY is not supported through ct_db_query");
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
        ct__db_conn_broken(c, PQerrorMessage(c->pg));
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
        ct__db_conn_broken(c, why);
        return;
    }
    if (c->state == C_UP)
        conn_io(c, events);
}
