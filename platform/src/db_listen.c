/* Listeners: a pool of one connection that runs LISTEN and hands on the
 * notifications it receives. See citerne/db.h. */
#include <errno.h>

#include "citerne/error.h"
#include "db_private.h"

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
    int rc = ct__db_pool_new(loop, conninfo, 1, channel, &l->db);
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
