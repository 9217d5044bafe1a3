/* The end of a work item: its outcome (our failure or the server's error),
 * the caller's callback, and a transaction's next stage. */
#include <assert.h>

#include "citerne/error.h"
#include "db_private.h"

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

void ct__db_work_clear_results(work_t *w)
{
    PQclear(w->last);
    PQclear(w->error);
    w->last = w->error = NULL;
}

/* ---- completing work ---- */

static void work_free(work_t *w)
{
    ct__db_work_clear_results(w);
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
    ct__db_maybe_finish(db);
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
void ct__db_work_finish(work_t *w)
{
    ct_db_t *db = w->db;
    pconn_t *c = w->conn;
    ct_db_error_t ebuf;
    const ct_db_error_t *err = work_error(w, &ebuf);

    if (w->kind == W_SETUP) {
        if (err) {
            char msg[300]; /* "LISTEN failed: " + an error message of up to 255 */
            snprintf(msg, sizeof msg, "LISTEN failed: %.255s", err->message);
            ct__db_work_clear_results(w);
            c->work = NULL;
            free(w);
            ct__db_conn_broken(c, msg);
            return;
        }
        ct__db_work_clear_results(w);
        free(w);
        c->work = NULL;
        c->ready = true;
        db->generation++;
        if (db->notify_cb && !db->closing)
            db->notify_cb("", db->notify_udata);
        ct__db_pool_dispatch(db);
        ct__db_maybe_finish(db);
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
            ct__db_pool_dispatch(db);
        ct__db_maybe_finish(db);
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
                ct__db_work_clear_results(w);
                c->work = NULL;
                tx_done_saved(tx);
                if (c->state == C_UP && !c->work)
                    ct__db_pool_dispatch(db);
                return;
            }
            tx_save_error(tx, err);
            ct__db_work_clear_results(w);
            tx->stage = TX_ABORT;
            if (!PQsendQuery(c->pg, "ROLLBACK")) {
                ct__db_conn_broken(c, PQerrorMessage(c->pg));
                return;
            }
            ct__db_conn_after_send(c);
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
    ct__db_work_clear_results(w);
    c->work = NULL;
    w->conn = NULL;
    tx_done_saved(tx);
    if (c->state == C_UP && !c->work)
        ct__db_pool_dispatch(db);
}
