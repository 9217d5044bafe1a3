/* Transactions: the caller's steps, each sent on the transaction's
 * connection, completed through db_work.c. See citerne/db.h. */
#include <assert.h>
#include <errno.h>

#include "citerne/error.h"
#include "db_private.h"

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
    ct__db_enqueue(db, &tx->w);
    return 0;
}

/* The caller issues a step: true when it may be sent on the connection. */
static bool tx_step_ok(ct_db_tx_t *tx)
{
    assert(tx->stage == TX_STEP && "one step per callback");
    if (tx->detached || !tx->w.conn) {
        ct__db_work_defer(&tx->w, CT_EUNAVAIL, "the database connection was lost");
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
        ct__db_conn_broken(c, msg);
        ct__db_work_defer(&tx->w, CT_EUNAVAIL, msg);
        return;
    }
    ct__db_conn_after_send(c);
}

void ct_db_tx_query(ct_db_tx_t *tx, const char *sql, const ct_db_params_t *params, ct_db_tx_cb next)
{
    if (!tx_step_ok(tx))
        return;
    tx->next = next;
    tx->stage = TX_STMT;
    tx_sent(tx, ct__db_send_params(tx->w.conn, sql, params));
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
