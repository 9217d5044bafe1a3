/* The sweep of expired links and stale pending users (see sweep.h). */
#include "sweep.h"

#include <string.h>

#include "accounts.h"
#include "citerne/error.h"
#include "citerne/log.h"
#include "store.h"

/* ---- one sweep ---- */

static void run_finish(accounts_sweep_run_t *run, int status)
{
    run->cb(status, &run->counts, run->udata);
}

static void on_batch(const ct_db_error_t *err, PGresult *res, void *udata);

/* Sends the next batch of the current kind; moves on to the next kind when
 * the last batch came back short. */
static void run_next(accounts_sweep_run_t *run)
{
    if (run->cancel) {
        run_finish(run, CT_ECLOSED);
        return;
    }
    if (run->what >= ACCOUNTS_SWEEP_KINDS) {
        run_finish(run, 0);
        return;
    }
    int rc = accounts_store_sweep(run->db, (accounts_sweep_what_t)run->what, run->keep_days,
                                  run->batch, on_batch, run);
    if (rc != 0)
        run_finish(run, rc);
}

static void on_batch(const ct_db_error_t *err, PGresult *res, void *udata)
{
    accounts_sweep_run_t *run = udata;
    if (err) {
        /* the first line only: nothing of a row belongs in a log */
        const char *msg = err->message ? err->message : "";
        ct_log_error("sweep: deleting failed (%s): %.*s", err->sqlstate ? err->sqlstate : "",
                     (int)strcspn(msg, "\n"), msg);
        run_finish(run, err->status);
        return;
    }
    long n = ct_db_affected(res);
    run->counts.count[run->what] += n;
    if (n < run->batch)
        run->what++;
    run_next(run);
}

int accounts_sweep_once(accounts_sweep_run_t *run, ct_db_t *db, int keep_days, int batch,
                        accounts_sweep_cb cb, void *udata)
{
    if (!db || batch < 1 || keep_days < 1)
        return CT_EINPUT;
    memset(run, 0, sizeof *run);
    run->db = db;
    run->keep_days = keep_days;
    run->batch = batch;
    run->cb = cb;
    run->udata = udata;
    return accounts_store_sweep(db, ACCOUNTS_SWEEP_RESETS, keep_days, batch, on_batch, run);
}

void accounts_sweep_cancel(accounts_sweep_run_t *run)
{
    run->cancel = true;
}

/* ---- the service's timer ---- */

static void on_timer_closed(uv_handle_t *h)
{
    accounts_sweeper_t *s = h->data;
    s->started = false;
    s->drained(s->svc);
}

static void on_swept(int status, const accounts_sweep_counts_t *c, void *udata)
{
    accounts_sweeper_t *s = udata;
    s->running = false;
    const long long *n = c->count;
    if (n[ACCOUNTS_SWEEP_RESETS] || n[ACCOUNTS_SWEEP_EMAIL_CHANGES] ||
        n[ACCOUNTS_SWEEP_PENDING_USERS] || n[ACCOUNTS_SWEEP_INVITATIONS] ||
        n[ACCOUNTS_SWEEP_PHONE_CODES])
        ct_log_info("sweep: deleted %lld expired reset link(s), %lld expired e-mail change"
                    " request(s), %lld pending user(s) never activated, %lld expired"
                    " invitation(s), %lld pending phone number(s) expired a day ago",
                    n[ACCOUNTS_SWEEP_RESETS], n[ACCOUNTS_SWEEP_EMAIL_CHANGES],
                    n[ACCOUNTS_SWEEP_PENDING_USERS], n[ACCOUNTS_SWEEP_INVITATIONS],
                    n[ACCOUNTS_SWEEP_PHONE_CODES]);
    else if (status == 0)
        ct_log_debug("sweep: nothing to delete");
    if (status != 0 && status != CT_ECLOSED)
        ct_log_warn("sweep: stopped early (%s); the next one carries on", ct_strerror(status));
    if (s->stopping)
        uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

static void on_tick(uv_timer_t *t)
{
    accounts_sweeper_t *s = t->data;
    if (s->running || s->stopping)
        return; /* a slow sweep is still at work: it finishes first */
    int rc =
        accounts_sweep_once(&s->run, s->svc->db, s->keep_days, ACCOUNTS_SWEEP_BATCH, on_swept, s);
    if (rc != 0)
        ct_log_warn("sweep: not started (%s); next in %u s", ct_strerror(rc), s->interval_s);
    else
        s->running = true;
}

int accounts_on_start(ct_service_t *svc)
{
    accounts_t *a = svc->udata;
    accounts_sweeper_t *s = &a->sweeper;
    s->svc = svc;
    s->running = s->stopping = false;
    int rc = uv_timer_init(&svc->loop, &s->timer);
    if (rc != 0) {
        ct_log_error("sweep: %s", uv_strerror(rc));
        return rc;
    }
    s->timer.data = s;
    uint64_t every = (uint64_t)s->interval_s * 1000;
    uv_timer_start(&s->timer, on_tick, every < 60000 ? every : 60000, every);
    s->started = true;
    return 0;
}

void accounts_on_drain(ct_service_t *svc, ct_service_drained_cb done)
{
    accounts_t *a = svc->udata;
    accounts_sweeper_t *s = &a->sweeper;
    if (!s->started) {
        done(svc);
        return;
    }
    s->drained = done;
    s->stopping = true;
    uv_timer_stop(&s->timer);
    if (s->running)
        accounts_sweep_cancel(&s->run); /* on_swept closes the timer */
    else
        uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}
