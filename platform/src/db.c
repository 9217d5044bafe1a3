/* Asynchronous Postgres pool: libpq in non-blocking mode, sockets watched by
 * uv_poll. See citerne/db.h for the contract.
 *
 * Shape: a pool owns `size` connections and one FIFO of work (one-shot
 * queries and transactions). A connection is DOWN (waiting for its backoff
 * timer), CONNECTING (PQconnectPoll), or UP (idle or running one work item).
 * A listener is a pool of one whose connection first runs LISTEN and hands
 * the notifications it receives to a callback. */
#include <assert.h>
#include <errno.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "db_private.h"

enum {
    /* Queued work fails with CT_EUNAVAIL after this long without any live
     * connection, and after QUEUE_MAX_WAIT_MS in any case, so that a request
     * never hangs on a database that is gone. */
    QUEUE_NOCONN_WAIT_MS = 5000,
    QUEUE_MAX_WAIT_MS = 30000,
    TICK_MS = 100,
};

static void set_fail(work_t *w, int status, const char *msg)
{
    w->fail_status = status;
    snprintf(w->fail_msg, sizeof w->fail_msg, "%s", msg && *msg ? msg : ct_strerror(status));
    trim(w->fail_msg);
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
        ok = ct__db_send_params(c, w->sql, &w->params);
    } else {
        ((ct_db_tx_t *)w)->stage = TX_BEGIN;
        ok = PQsendQuery(c->pg, "BEGIN") == 1;
    }
    if (!ok) {
        ct__db_conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    ct__db_conn_after_send(c);
}

void ct__db_pool_dispatch(ct_db_t *db)
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
        ct__db_maybe_finish(db);
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
        ct__db_work_finish(w);
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
        ct__db_work_finish(w);
    }
}

/* Completes w from the loop, not from inside the caller's call. */
void ct__db_work_defer(work_t *w, int status, const char *msg)
{
    if (!w->fail_status)
        set_fail(w, status, msg);
    list_push(&w->db->deferred, w);
    uv_async_send(&w->db->defer);
}

void ct__db_enqueue(ct_db_t *db, work_t *w)
{
    w->db = db;
    w->queued_at = uv_now(db->loop);
    list_push(&db->queue, w);
    db->nqueued++;
    if (!uv_is_active((uv_handle_t *)&db->tick))
        uv_timer_start(&db->tick, on_tick, TICK_MS, TICK_MS);
    ct__db_pool_dispatch(db);
}

/* ---- pool ---- */

int ct__db_pool_new(uv_loop_t *loop, const char *conninfo, int size, const char *channel,
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
        ct__db_conn_start(&db->conns[i]);
    *out = db;
    return 0;
}

int ct_db_new(uv_loop_t *loop, const char *conninfo, int size, ct_db_t **out)
{
    return ct__db_pool_new(loop, conninfo, size, NULL, out);
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
    ct__db_maybe_finish(db);
}

static void close_handle(ct_db_t *db, uv_handle_t *h)
{
    h->data = db;
    db->pending_closes++;
    uv_close(h, on_handle_closed);
}

void ct__db_maybe_finish(ct_db_t *db)
{
    if (!db->closing)
        return;
    if (!db->finishing) {
        if (db->nrunning || db->nqueued || !list_empty(&db->deferred))
            return;
        db->finishing = true;
        for (int i = 0; i < db->size; i++) {
            pconn_t *c = &db->conns[i];
            ct__db_conn_teardown(c);
            if (c->work) { /* W_SETUP of a listener */
                ct__db_work_clear_results(c->work);
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
        ct__db_work_defer(w, CT_ECLOSED, "the database pool is closing");
    }
    uv_timer_stop(&db->tick);
    /* connections still connecting stop now */
    for (int i = 0; i < db->size; i++) {
        pconn_t *c = &db->conns[i];
        if (c->state != C_UP) {
            uv_timer_stop(&c->timer);
            ct__db_conn_teardown(c);
            c->state = C_CLOSED;
        }
    }
    ct__db_maybe_finish(db);
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
    ct__db_params_copy(&w->params, params);
    w->cb = cb;
    w->udata = udata;
    ct__db_enqueue(db, w);
    return 0;
}
