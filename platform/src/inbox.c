/* Idempotent consumption: the event id goes into ct_inbox in the same
 * transaction as the handler's effects. The outcome decides the offset:
 * committed or duplicate -> stored; transient failure -> handed again by
 * the bus after a backoff; permanent failure -> logged, counted and skipped
 * (a poison message must not stall its partition forever). */
#include "citerne/inbox.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/log.h"
#include "citerne/metrics.h"

typedef struct {
    ct_bus_msg_t *msg;
    char event_id[CT_UUID_STRLEN + 1];
    ct_inbox_apply_cb apply;
    ct_inbox_done_cb done;
    void *udata;
    bool duplicate;
} inbox_t;

static ct_metric_t *failed_metric(void)
{
    return ct_metrics_counter("citerne_events_failed_total",
                              "Consumed events skipped after a permanent failure");
}

/* Worth retrying: the database or the connection, not the event. */
static bool is_transient(int status, const char *sqlstate)
{
    if (status == CT_EUNAVAIL || status == CT_ECLOSED || status == CT_ETIMEOUT)
        return true;
    if (status != CT_EDB || !sqlstate)
        return false;
    /* 08 connection, 40 rollback (serialization, deadlock), 53 resources,
     * 57 operator intervention (shutdown, admin terminate) */
    return strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "40", 2) == 0 ||
           strncmp(sqlstate, "53", 2) == 0 || strncmp(sqlstate, "57", 2) == 0 ||
           strcmp(sqlstate, "55P03") == 0; /* lock_not_available */
}

/* Reports the outcome to the caller, then acknowledges (or not) the
 * message, in that order: done frees what udata holds. */
static void settle(ct_bus_msg_t *msg, ct_inbox_done_cb done, void *udata, int status, bool retry)
{
    if (done)
        done(status, udata);
    ct_bus_msg_done(msg, retry ? (status < 0 ? status : CT_EINTERNAL) : 0);
}

static void on_done(const ct_db_error_t *err, void *arg)
{
    inbox_t *ib = arg;
    ct_bus_msg_t *msg = ib->msg;
    ct_inbox_done_cb done = ib->done;
    void *udata = ib->udata;
    char event_id[sizeof ib->event_id];
    memcpy(event_id, ib->event_id, sizeof event_id);
    bool duplicate = ib->duplicate;
    free(ib);

    if (!err) {
        if (duplicate)
            ct_log_debug("event %s already consumed: skipped", event_id);
        settle(msg, done, udata, 0, false);
        return;
    }
    if (is_transient(err->status, err->sqlstate)) {
        ct_log_warn("event %s not applied, will retry: %s%s%s", event_id, err->message,
                    *err->sqlstate ? " SQLSTATE " : "", err->sqlstate);
        settle(msg, done, udata, err->status, true);
        return;
    }
    ct_log_error("event %s failed and is skipped (topic %s, partition %d, offset %lld): %s%s%s",
                 event_id, ct_bus_msg_topic(msg), (int)ct_bus_msg_partition(msg),
                 (long long)ct_bus_msg_offset(msg), err->message,
                 *err->sqlstate ? " SQLSTATE " : "", err->sqlstate);
    ct_metric_inc(failed_metric());
    settle(msg, done, udata, err->status < 0 ? err->status : CT_EINTERNAL, false);
}

static void on_recorded(ct_db_tx_t *tx, PGresult *res, void *arg)
{
    inbox_t *ib = arg;
    if (ct_db_affected(res) == 0) {
        ib->duplicate = true;
        ct_db_tx_rollback(tx, 0, NULL);
        return;
    }
    /* from here on the handler's steps see its own udata; on_done still
     * gets ib (the udata of ct_db_tx_begin) */
    ct_db_tx_set_udata(tx, ib->udata);
    ib->apply(tx, ib->udata);
}

static void on_begun(ct_db_tx_t *tx, PGresult *res, void *arg)
{
    (void)res;
    inbox_t *ib = arg;
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, ib->event_id);
    ct_db_tx_query(tx, "INSERT INTO ct_inbox(event_id) VALUES ($1) ON CONFLICT DO NOTHING", &p,
                   on_recorded);
    ct_db_params_dispose(&p);
}

void ct_inbox_process(ct_db_t *db, ct_bus_msg_t *msg, const char *event_id, ct_inbox_apply_cb apply,
                      ct_inbox_done_cb done, void *udata)
{
    if (!event_id || !ct_uuid_valid(event_id)) {
        ct_log_error(
            "event with invalid id \"%.40s\" skipped (topic %s, partition %d, offset %lld)",
            event_id ? event_id : "(none)", ct_bus_msg_topic(msg), (int)ct_bus_msg_partition(msg),
            (long long)ct_bus_msg_offset(msg));
        ct_metric_inc(failed_metric());
        settle(msg, done, udata, CT_EINPUT, false);
        return;
    }
    inbox_t *ib = calloc(1, sizeof *ib);
    if (!ib) {
        settle(msg, done, udata, -ENOMEM, true);
        return;
    }
    ib->msg = msg;
    memcpy(ib->event_id, event_id, CT_UUID_STRLEN);
    ib->apply = apply;
    ib->done = done;
    ib->udata = udata;
    int rc = ct_db_tx_begin(db, on_begun, on_done, ib);
    if (rc < 0) {
        free(ib);
        ct_log_warn("event %s not applied, will retry: %s", event_id, ct_strerror(rc));
        settle(msg, done, udata, rc, true);
    }
}
