/* The back office's updates (PATCH /customers/{id}, /contracts/{id},
 * /sites/{id}): what the three share. A patch names some fields; the row is
 * locked, the stored state read as a JSON object, the patch laid over it, and
 * the result checked by the same function that checks a creation's body, so
 * an update can store nothing a creation could not. Each kind then writes
 * the row (its version + 1) and emits its events in the same transaction.
 *
 * Answers: 401 without the operator key; 404 for an id that is not a UUID or
 * names no row; 400 invalid-input for an empty patch, a field that cannot be
 * changed, a null where a value is needed, or a result the rules refuse;
 * 200 with the whole new state. Nothing is written unless 200. Loop thread. */
#ifndef ACCOUNTS_PATCH_H
#define ACCOUNTS_PATCH_H

#include "accounts.h"
#include "citerne/validate.h"
#include "events.h"

typedef struct accounts_patch accounts_patch_t;

typedef struct {
    const char *what;            /* "customer": in messages and logs */
    const char *const *fields;   /* what a patch may change, NULL-terminated */
    const char *const *nullable; /* of those, the ones null removes */
    /* Fields that never change: a patch may repeat their stored value (a
     * form sent back whole), not give another. */
    const char *const *fixed;
    /* In tx: locks the row of id; one row whose column doc is the stored
     * state as a JSON object (every field of fields and fixed), or none. */
    void (*lock)(ct_db_tx_t *tx, const char *id, ct_db_tx_cb next);
    /* In tx, with the row locked and p->merged ready (res: the lock's row,
     * for extra columns): checks p->merged into p->v, then writes, emits and
     * commits, or calls accounts_patch_invalid. Before commit, sets
     * p->out (the answer) and p->version. */
    void (*apply)(accounts_patch_t *p, ct_db_tx_t *tx, PGresult *res);
    /* Optional. refused: replies to an error apply raised (a 409) and
     * returns true, or returns false for the usual answer. committed: runs
     * after the commit instead of the 200, and calls accounts_patch_reply
     * once (so what lives outside the database follows first). */
    bool (*refused)(accounts_patch_t *p, const ct_db_error_t *err);
    void (*committed)(accounts_patch_t *p);
} accounts_patch_kind_t;

struct accounts_patch {
    ct_http_req_t *req;
    accounts_t *a;
    const accounts_patch_kind_t *kind;
    char id[CT_UUID_STRLEN + 1]; /* lower-case */
    json_t *patch;               /* the body (the request's) */
    json_t *stored;              /* the row as it was (owned) */
    json_t *merged;              /* stored with the patch over it (owned) */
    ct_valid_t v;                /* what is wrong with merged */
    json_t *out;                 /* the answer (owned until replied) */
    int version;                 /* the row's new version */
    accounts_event_t event;      /* the event being appended */
    void *state;                 /* the kind's own, state_size zeroed bytes */
};

/* Runs the PATCH of req for kind (a handler's whole body). state_size: the
 * bytes the kind wants in p->state (from the request's pool). */
void accounts_patch_run(ct_http_req_t *req, accounts_t *a, const accounts_patch_kind_t *kind,
                        size_t state_size);

/* Replies 200 with p->out (see committed). */
void accounts_patch_reply(accounts_patch_t *p);

/* Whether the patch gives field (null included). */
bool accounts_patch_has(const accounts_patch_t *p, const char *field);

/* Ends tx with the 400 naming p->v's fields: nothing is written. */
void accounts_patch_invalid(accounts_patch_t *p, ct_db_tx_t *tx);

/* The event to build next: the previous one (appended by now) is freed. */
accounts_event_t *accounts_patch_next_event(accounts_patch_t *p);

/* Appends the event just built (rc: its builder's result; out of memory
 * rolls tx back) keyed by key, then next(tx). */
void accounts_patch_emit(accounts_patch_t *p, ct_db_tx_t *tx, const char *key, int rc,
                         ct_db_tx_cb next);

#endif
