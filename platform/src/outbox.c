/* Transactional outbox and its relay.
 *
 * Relay rounds: read up to BATCH unsent rows in id order, produce them all,
 * wait for every delivery report, then mark sent the longest prefix of the
 * batch that the broker acknowledged. Rows after the first failure are read
 * again next round (after a backoff), so a key's events never overtake one
 * another; a row acknowledged after a failed one is produced again later,
 * which at-least-once delivery and the consumers' inbox absorb.
 *
 * Only the holder of a session advisory lock taken on the LISTEN connection
 * relays; when that connection drops, the lock goes with it and the relays of
 * every replica race for it again. */
#define _GNU_SOURCE /* asprintf */
#include "citerne/outbox.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/metrics.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define CHANNEL "ct_outbox"
/* Advisory lock key of the relay ("ctoutb" in ASCII). */
#define RELAY_LOCK_KEY "109454154065250"

enum {
    BATCH = 500,
    SWEEP_MS = 1000,      /* periodic read, even without NOTIFY */
    LOCK_RETRY_TICKS = 3, /* a standby tries the lock every 3 sweeps */
    CLEANUP_TICKS = 60,   /* delete old sent rows every minute */
    BACKOFF_MIN_MS = 100,
    BACKOFF_MAX_MS = 5000,
};

void ct_outbox_append(ct_db_tx_t *tx, const char *topic, const char *key, const void *payload,
                      size_t len, const char *event_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, topic);
    ct_db_params_add(&p, key);
    ct_db_params_add_bin(&p, payload, len);
    ct_db_params_add(&p, event_id);
    /* one statement: the caller's next step gets the new row's id, and the
     * notification is delivered to the relay when the transaction commits */
    ct_db_tx_query(tx,
                   "WITH ins AS (INSERT INTO ct_outbox(topic, key, payload, event_id) "
                   "VALUES ($1, $2, $3, $4::uuid) RETURNING id) "
                   "SELECT id, pg_notify('" CHANNEL "', 'new') FROM ins",
                   &p, next);
    ct_db_params_dispose(&p);
}

typedef struct {
    long long id;
    char *topic;
    char *key; /* NULL: no key */
    unsigned char *payload;
    size_t len;
    int status;
    bool reported;
} row_t;

struct ct_outbox_relay {
    uv_loop_t *loop;
    ct_db_t *db;
    ct_bus_producer_t *producer;
    ct_db_listener_t *listener;
    uv_timer_t sweep;
    uv_timer_t retry; /* backoff after a failed round */
    unsigned ticks;
    unsigned backoff_ms;
    unsigned long lock_session; /* listener session that holds the lock */
    bool locking;
    bool running;   /* a round is in flight */
    bool again;     /* woken during a round: go again right after */
    bool full;      /* the last round read a full batch */
    bool producing; /* inside the produce loop: reports wait for its end */
    int queries;    /* side queries in flight (lock, count, cleanup) */
    long backlog;
    row_t *rows;
    size_t nrows, nproduced, nreported;
    bool closing;
    int pending_closes;
    void (*close_cb)(void *);
    void *close_udata;
    ct_metric_t *m_backlog, *m_published;
};

static void kick(ct_outbox_relay_t *r);
static void maybe_finish(ct_outbox_relay_t *r);

static bool is_holder(const ct_outbox_relay_t *r)
{
    return r->lock_session && r->lock_session == ct_db_listener_session(r->listener);
}

static void set_backlog(ct_outbox_relay_t *r, long n)
{
    r->backlog = n < 0 ? 0 : n;
    ct_metric_set(r->m_backlog, (double)r->backlog);
}

/* ---- the lock ---- */

typedef struct {
    ct_outbox_relay_t *r;
    unsigned long session;
} lock_try_t;

static void on_lock(const ct_db_error_t *err, PGresult *res, void *udata)
{
    lock_try_t *t = udata;
    ct_outbox_relay_t *r = t->r;
    unsigned long session = t->session;
    free(t);
    r->locking = false;
    r->queries--;
    if (r->closing) {
        maybe_finish(r);
        return;
    }
    if (err) {
        ct_log_debug("outbox relay: lock attempt failed: %s", err->message);
        return;
    }
    const char *ok = ct_db_get(res, 0, "ok");
    if (ok && strcmp(ok, "t") == 0) {
        /* held by that connection: void if it dropped meanwhile */
        r->lock_session = session;
        if (is_holder(r)) {
            ct_log_info("outbox relay active");
            kick(r);
        }
    }
}

static void try_lock(ct_outbox_relay_t *r)
{
    unsigned long session = ct_db_listener_session(r->listener);
    if (r->locking || r->closing || !session)
        return;
    lock_try_t *t = malloc(sizeof *t);
    if (!t)
        return;
    t->r = r;
    t->session = session;
    if (ct_db_listener_query(r->listener, "SELECT pg_try_advisory_lock(" RELAY_LOCK_KEY ") AS ok",
                             NULL, on_lock, t) < 0) {
        free(t);
        return;
    }
    r->locking = true;
    r->queries++;
}

/* ---- a round ---- */

static void free_rows(ct_outbox_relay_t *r)
{
    for (size_t i = 0; i < r->nrows; i++) {
        free(r->rows[i].topic);
        free(r->rows[i].key);
        PQfreemem(r->rows[i].payload);
    }
    free(r->rows);
    r->rows = NULL;
    r->nrows = r->nproduced = r->nreported = 0;
}

static void on_retry(uv_timer_t *t)
{
    ct_outbox_relay_t *r = container_of(t, ct_outbox_relay_t, retry);
    kick(r);
}

static void round_end(ct_outbox_relay_t *r, bool failed)
{
    free_rows(r);
    r->running = false;
    if (r->closing) {
        maybe_finish(r);
        return;
    }
    if (failed) {
        r->again = false;
        uv_timer_start(&r->retry, on_retry, r->backoff_ms, 0);
        r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
        return;
    }
    r->backoff_ms = BACKOFF_MIN_MS;
    if (r->again || r->full) {
        r->again = false;
        kick(r);
    }
}

typedef struct {
    ct_outbox_relay_t *r;
    size_t marked;
    bool failed;
} mark_t;

static void on_marked(const ct_db_error_t *err, PGresult *res, void *udata)
{
    (void)res;
    mark_t *m = udata;
    ct_outbox_relay_t *r = m->r;
    size_t marked = m->marked;
    bool failed = m->failed;
    free(m);
    if (err) {
        /* published but not marked: produced again next round (duplicates
         * are absorbed by the consumers' inbox) */
        ct_log_warn("outbox relay: marking %zu rows sent failed: %s", marked, err->message);
        round_end(r, true);
        return;
    }
    ct_metric_add(r->m_published, (double)marked);
    set_backlog(r, r->backlog - (long)marked);
    round_end(r, failed);
}

static void batch_reported(ct_outbox_relay_t *r)
{
    size_t ok = 0;
    while (ok < r->nproduced && r->rows[ok].status == 0)
        ok++;
    bool failed = ok < r->nrows;
    if (failed) {
        int st = ok < r->nproduced ? r->rows[ok].status : CT_EBUS;
        ct_log_warn("outbox relay: row %lld not published (%s); %zu of %zu rows marked, retrying",
                    r->rows[ok].id, ct_strerror(st), ok, r->nrows);
    }
    if (ok == 0) {
        round_end(r, true);
        return;
    }
    /* the ids as a Postgres array literal: "{1,2,3}" */
    size_t cap = ok * 21 + 3;
    char *ids = malloc(cap);
    mark_t *m = malloc(sizeof *m);
    if (!ids || !m) {
        free(ids);
        free(m);
        round_end(r, true);
        return;
    }
    size_t n = 0;
    ids[n++] = '{';
    for (size_t i = 0; i < ok; i++)
        n += (size_t)snprintf(ids + n, cap - n, "%s%lld", i ? "," : "", r->rows[i].id);
    snprintf(ids + n, cap - n, "}");
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, ids);
    free(ids);
    *m = (mark_t){r, ok, failed};
    int rc = ct_db_query(r->db, "UPDATE ct_outbox SET sent_at = now() WHERE id = ANY($1::bigint[])",
                         &p, on_marked, m);
    ct_db_params_dispose(&p);
    if (rc < 0) {
        free(m);
        round_end(r, true);
    }
}

static void check_reports(ct_outbox_relay_t *r)
{
    if (r->running && r->rows && !r->producing && r->nreported == r->nproduced)
        batch_reported(r);
}

/* What a delivery report needs: rows live until every report of their
 * round arrived. */
typedef struct {
    ct_outbox_relay_t *r;
    row_t *row;
} dr_t;

static void on_delivery(int status, void *opaque)
{
    dr_t *d = opaque;
    ct_outbox_relay_t *r = d->r;
    d->row->status = status;
    d->row->reported = true;
    free(d);
    r->nreported++;
    check_reports(r);
}

static void on_rows(const ct_db_error_t *err, PGresult *res, void *udata)
{
    ct_outbox_relay_t *r = udata;
    if (err) {
        ct_log_warn("outbox relay: reading the outbox failed: %s", err->message);
        round_end(r, true);
        return;
    }
    int n = PQntuples(res);
    r->full = n >= BATCH;
    if (n == 0) {
        set_backlog(r, 0);
        round_end(r, false);
        return;
    }
    if (!r->full || r->backlog < n)
        set_backlog(r, n);
    if (!is_holder(r) || r->closing) {
        /* lost the lock while reading: another relay takes over */
        round_end(r, false);
        return;
    }
    r->rows = calloc((size_t)n, sizeof *r->rows);
    if (!r->rows) {
        round_end(r, true);
        return;
    }
    r->nrows = (size_t)n;
    int c_id = PQfnumber(res, "id"), c_topic = PQfnumber(res, "topic"),
        c_key = PQfnumber(res, "key"), c_payload = PQfnumber(res, "payload");
    for (int i = 0; i < n; i++) {
        row_t *row = &r->rows[i];
        row->id = strtoll(PQgetvalue(res, i, c_id), NULL, 10);
        row->topic = strdup(PQgetvalue(res, i, c_topic));
        row->key = PQgetisnull(res, i, c_key) ? NULL : strdup(PQgetvalue(res, i, c_key));
        row->payload =
            PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, c_payload), &row->len);
        if (!row->topic || (!PQgetisnull(res, i, c_key) && !row->key) || !row->payload) {
            round_end(r, true);
            return;
        }
    }
    /* produce in order; stop at the first that fails now: later rows would
     * only be produced again next round */
    r->producing = true;
    for (size_t i = 0; i < r->nrows; i++) {
        row_t *row = &r->rows[i];
        dr_t *d = malloc(sizeof *d);
        if (!d)
            break;
        *d = (dr_t){r, row};
        int rc = ct_bus_produce(r->producer, row->topic, row->key, row->key ? strlen(row->key) : 0,
                                row->payload, row->len, on_delivery, d);
        if (rc < 0) {
            free(d);
            row->status = rc;
            break;
        }
        r->nproduced++;
    }
    r->producing = false;
    check_reports(r);
}

static void kick(ct_outbox_relay_t *r)
{
    if (r->closing || !is_holder(r))
        return;
    if (r->running) {
        r->again = true;
        return;
    }
    if (uv_is_active((uv_handle_t *)&r->retry))
        return; /* backing off: the retry timer runs the next round */
    r->running = true;
    r->again = false;
    char *sql = NULL;
    if (asprintf(&sql,
                 "SELECT id, topic, key, payload FROM ct_outbox WHERE sent_at IS NULL "
                 "ORDER BY id LIMIT %d",
                 BATCH) < 0) {
        r->running = false;
        return;
    }
    int rc = ct_db_query(r->db, sql, NULL, on_rows, r);
    free(sql);
    if (rc < 0)
        r->running = false;
}

/* ---- periodic work ---- */

static void on_count(const ct_db_error_t *err, PGresult *res, void *udata)
{
    ct_outbox_relay_t *r = udata;
    r->queries--;
    if (!err)
        set_backlog(r, (long)ct_db_get_int(res, 0, "n", r->backlog));
    maybe_finish(r);
}

static void on_cleanup(const ct_db_error_t *err, PGresult *res, void *udata)
{
    ct_outbox_relay_t *r = udata;
    r->queries--;
    if (err)
        ct_log_warn("outbox relay: cleanup failed: %s", err->message);
    else if (ct_db_affected(res) > 0)
        ct_log_debug("outbox relay: %ld sent rows deleted", ct_db_affected(res));
    maybe_finish(r);
}

static void side_query(ct_outbox_relay_t *r, const char *sql, ct_db_result_cb cb)
{
    if (ct_db_query(r->db, sql, NULL, cb, r) == 0)
        r->queries++;
}

static void on_sweep(uv_timer_t *t)
{
    ct_outbox_relay_t *r = container_of(t, ct_outbox_relay_t, sweep);
    r->ticks++;
    if (!is_holder(r)) {
        if (r->ticks % LOCK_RETRY_TICKS == 0)
            try_lock(r);
        return;
    }
    kick(r);
    if (r->full)
        side_query(r, "SELECT count(*) AS n FROM ct_outbox WHERE sent_at IS NULL", on_count);
    if (r->ticks % CLEANUP_TICKS == 0)
        side_query(r,
                   "DELETE FROM ct_outbox WHERE sent_at IS NOT NULL "
                   "AND sent_at < now() - interval '1 hour'",
                   on_cleanup);
}

static void on_notify(const char *payload, void *udata)
{
    (void)payload;
    ct_outbox_relay_t *r = udata;
    /* "" after a (re)connect: a new session holds no lock yet */
    if (!is_holder(r))
        try_lock(r);
    else
        kick(r);
}

/* ---- lifecycle ---- */

int ct_outbox_relay_new(uv_loop_t *loop, const char *conninfo, ct_db_t *db,
                        ct_bus_producer_t *producer, ct_outbox_relay_t **out)
{
    if (!loop || !conninfo || !db || !producer || !out)
        return -EINVAL;
    ct_outbox_relay_t *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->loop = loop;
    r->db = db;
    r->producer = producer;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->m_backlog = ct_metrics_gauge("citerne_outbox_backlog", "Outbox rows not yet published");
    r->m_published =
        ct_metrics_counter("citerne_outbox_published_total", "Outbox rows published and marked");
    int rc = ct_db_listen(loop, conninfo, CHANNEL, on_notify, r, &r->listener);
    if (rc < 0) {
        free(r);
        return rc;
    }
    uv_timer_init(loop, &r->sweep);
    uv_timer_init(loop, &r->retry);
    uv_timer_start(&r->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    *out = r;
    return 0;
}

long ct_outbox_relay_backlog(const ct_outbox_relay_t *r)
{
    return r->backlog;
}

static void on_part_closed(void *udata)
{
    ct_outbox_relay_t *r = udata;
    if (--r->pending_closes > 0)
        return;
    void (*cb)(void *) = r->close_cb;
    void *cb_udata = r->close_udata;
    free(r);
    if (cb)
        cb(cb_udata);
}

static void on_timer_closed(uv_handle_t *h)
{
    on_part_closed(h->data);
}

static void maybe_finish(ct_outbox_relay_t *r)
{
    if (!r->closing || r->running || r->queries || r->pending_closes)
        return;
    r->pending_closes = 3;
    r->sweep.data = r;
    r->retry.data = r;
    uv_close((uv_handle_t *)&r->sweep, on_timer_closed);
    uv_close((uv_handle_t *)&r->retry, on_timer_closed);
    /* closing the LISTEN connection releases the lock for another relay */
    ct_db_listener_close(r->listener, on_part_closed, r);
}

void ct_outbox_relay_close(ct_outbox_relay_t *r, void (*cb)(void *udata), void *udata)
{
    r->closing = true;
    r->close_cb = cb;
    r->close_udata = udata;
    uv_timer_stop(&r->sweep);
    uv_timer_stop(&r->retry);
    maybe_finish(r);
}
