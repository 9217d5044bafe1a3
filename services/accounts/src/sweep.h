/* The sweep of rows nobody can use any more (README: Rules, Sweep):
 * expired reset links and e-mail change requests, and pending users whose
 * activation link expired more than CITERNE_ACCOUNTS_PENDING_DAYS ago (with
 * their grants and link). A timer on the loop runs it every
 * CITERNE_ACCOUNTS_SWEEP_S; every statement is an asynchronous query of the
 * pool that deletes one batch, repeated until a batch comes back short.
 * Loop thread only. */
#ifndef ACCOUNTS_SWEEP_H
#define ACCOUNTS_SWEEP_H

#include <stdbool.h>

#include "citerne/db.h"
#include "citerne/service.h"

/* What a sweep deletes, in this order. */
typedef enum {
    ACCOUNTS_SWEEP_RESETS,        /* expired password reset links */
    ACCOUNTS_SWEEP_EMAIL_CHANGES, /* expired e-mail change requests */
    /* pending users (never activated) whose activation link expired more
     * than keep_days ago (or who have none and were made that long ago),
     * with their grants and their link (ON DELETE CASCADE) */
    ACCOUNTS_SWEEP_PENDING_USERS,
    /* expired invitations of existing accounts (never accepted) */
    ACCOUNTS_SWEEP_INVITATIONS,
    /* pending phone numbers whose code expired more than a day ago (until
     * then a resend may still give a new code for the number) */
    ACCOUNTS_SWEEP_PHONE_CODES,
    ACCOUNTS_SWEEP_KINDS
} accounts_sweep_what_t;

/* Rows a batch deletes at most. */
#define ACCOUNTS_SWEEP_BATCH 1000

/* Rows deleted, per kind (store.h's accounts_sweep_what_t). */
typedef struct {
    long long count[ACCOUNTS_SWEEP_KINDS];
} accounts_sweep_counts_t;

/* status 0, CT_ECLOSED when stopped (accounts_sweep_cancel), or the error of
 * the statement that failed; counts holds what was deleted before, which
 * stays deleted (borrowed for the call). */
typedef void (*accounts_sweep_cb)(int status, const accounts_sweep_counts_t *counts, void *udata);

/* One sweep in progress: embedded by the caller, kept until its callback. */
typedef struct {
    ct_db_t *db;
    int keep_days;
    int batch;
    int what; /* the kind being swept */
    bool cancel;
    accounts_sweep_counts_t counts;
    accounts_sweep_cb cb;
    void *udata;
} accounts_sweep_run_t;

/* Sweeps every kind in turn, in batches of batch rows, pending users after
 * keep_days. Returns 0 (cb called once, later) or the pool's error (cb
 * never called). Exposed for tests; the service runs it from its timer. */
int accounts_sweep_once(accounts_sweep_run_t *run, ct_db_t *db, int keep_days, int batch,
                        accounts_sweep_cb cb, void *udata);
/* Asks a sweep in progress to stop after its current statement (its cb then
 * gets CT_ECLOSED). */
void accounts_sweep_cancel(accounts_sweep_run_t *run);

/* The periodic sweep of a service: embedded in accounts_t. */
typedef struct {
    uv_timer_t timer;
    accounts_sweep_run_t run;
    unsigned interval_s;
    int keep_days;
    bool started, running, stopping;
    ct_service_t *svc;
    ct_service_drained_cb drained;
} accounts_sweeper_t;

/* The service's hooks (ct_service_desc_t's on_start and on_drain; svc->udata
 * is the accounts_t). on_start starts the timer: the first sweep a minute
 * after start (or after the interval, if shorter), then every interval.
 * on_drain stops it, lets a sweep in flight finish its statement, closes
 * the timer and then calls done. */
int accounts_on_start(ct_service_t *svc);
void accounts_on_drain(ct_service_t *svc, ct_service_drained_cb done);

#endif
