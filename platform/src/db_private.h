/* Internals shared by the files of the Postgres pool, not part of its API:
 *   db.c         the pool: creation, the queue and its dispatch, deadlines,
 *                deferred completions, close; ct_db_query
 *   db_conn.c    connections: connect and reconnect, socket watching,
 *                sending, reading results and notifications
 *   db_work.c    the end of a work item: its error, its callback, and a
 *                transaction's next stage
 *   db_tx.c      the transaction API
 *   db_listen.c  listeners (a pool of one running LISTEN)
 *   db_params.c  query parameters and result helpers
 * The shape of the pool is described in db.c. Loop thread only. */
#ifndef CITERNE_DB_PRIVATE_H
#define CITERNE_DB_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/db.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

enum {
    BACKOFF_MIN_MS = 100,
    BACKOFF_MAX_MS = 5000,
    CONNECT_TIMEOUT_MS = 10000,
};

/* ---- small helpers ---- */

static inline void *xmalloc(size_t n)
{
    void *m = malloc(n ? n : 1);
    if (!m) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    return m;
}

static inline char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static inline void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
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

/* ---- lists ---- */

static inline void list_init(work_t *s)
{
    s->next = s->prev = s;
}

static inline bool list_empty(const work_t *s)
{
    return s->next == s;
}

static inline void list_push(work_t *s, work_t *w)
{
    w->prev = s->prev;
    w->next = s;
    s->prev->next = w;
    s->prev = w;
}

static inline void list_remove(work_t *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->next = w->prev = NULL;
}

/* ---- db.c ---- */

/* A pool of size connections (1 to 1000), all starting to connect; channel,
 * if not NULL, makes it a listener. 0, -EINVAL, -ENOMEM or CT_ECONFIG (bad
 * connection string, logged). */
int ct__db_pool_new(uv_loop_t *loop, const char *conninfo, int size, const char *channel,
                    ct_db_t **out);
/* Starts queued work on every idle ready connection. */
void ct__db_pool_dispatch(ct_db_t *db);
/* Queues w (its kind and arguments set) and dispatches. */
void ct__db_enqueue(ct_db_t *db, work_t *w);
/* Completes w from the loop, not from inside the caller's call; status and
 * msg unless w already failed. */
void ct__db_work_defer(work_t *w, int status, const char *msg);
/* Once the pool is closing and idle: closes its handles, then frees it and
 * calls the close callback. Harmless while the pool is open. */
void ct__db_maybe_finish(ct_db_t *db);

/* ---- db_conn.c ---- */

/* Starts connecting c (PQconnectStartParams); a failure schedules a retry. */
void ct__db_conn_start(pconn_t *c);
/* Closes c's socket watch and its PGconn; c's state is left to the caller. */
void ct__db_conn_teardown(pconn_t *c);
/* Completes the work running on c with CT_EUNAVAIL (from the loop), drops
 * the connection and schedules a reconnect unless the pool is closing. */
void ct__db_conn_broken(pconn_t *c, const char *why);
/* After a PQsend*: flushes, then watches for the result. */
void ct__db_conn_after_send(pconn_t *c);
/* PQsendQueryParams with p (may be NULL); true when sent. */
bool ct__db_send_params(pconn_t *c, const char *sql, const ct_db_params_t *p);

/* ---- db_work.c ---- */

/* Clears w's last and error results. */
void ct__db_work_clear_results(work_t *w);
/* The running command of w (on its connection, or failed by us) is over:
 * calls the callback or moves the transaction on; may free w. */
void ct__db_work_finish(work_t *w);

/* ---- db_params.c ---- */

/* dst becomes a deep copy of src (NULL: no parameters). Aborts on OOM. */
void ct__db_params_copy(ct_db_params_t *dst, const ct_db_params_t *src);

#endif
