/* What the back office's PATCH handlers share (see patch.h). */
#include "patch.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/outbox.h"
#include "citerne/validate.h"
#include "rules.h"

bool accounts_patch_has(const accounts_patch_t *p, const char *field)
{
    return json_object_get(p->patch, field) != NULL;
}

void accounts_patch_invalid(accounts_patch_t *p, ct_db_tx_t *tx)
{
    (void)p;
    ct_db_tx_rollback(tx, CT_EINPUT, "the patched state breaks a rule");
}

accounts_event_t *accounts_patch_next_event(accounts_patch_t *p)
{
    accounts_event_dispose(&p->event);
    return &p->event;
}

void accounts_patch_emit(accounts_patch_t *p, ct_db_tx_t *tx, const char *key, int rc,
                         ct_db_tx_cb next)
{
    if (rc != 0) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "out of memory");
        return;
    }
    ct_outbox_append(tx, p->a->svc->topic, key, p->event.data, p->event.len, p->event.event_id,
                     next);
}

static void reply_not_found(ct_http_req_t *req, const char *what)
{
    char title[64], detail[96];
    snprintf(title, sizeof title, "No such %s", what);
    snprintf(detail, sizeof detail, "the id does not name a %s", what);
    ct_http_reply_problem(req, 404, "not-found", title, detail);
}

/* The fields of list, comma-separated, for messages. */
static void list_text(const char *const *list, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; list[i] && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "", list[i]);
}

/* What can be told before reading the row: unknown fields, nulls where a
 * value is needed, an empty patch. */
static void check_shape(accounts_patch_t *p)
{
    const accounts_patch_kind_t *k = p->kind;
    char fields[160], msg[224];
    list_text(k->fields, fields, sizeof fields);
    size_t given = 0;
    const char *key;
    json_t *value;
    json_object_foreach(p->patch, key, value)
    {
        char field[64];
        snprintf(field, sizeof field, "%.60s", key);
        if (accounts_in_list(key, k->fields)) {
            given++;
            if (json_is_null(value) && !accounts_in_list(key, k->nullable))
                ct_valid_fail(&p->v, field, "cannot be null: give a value");
        } else if (!accounts_in_list(key, k->fixed)) {
            snprintf(msg, sizeof msg, "cannot be changed here: a patch gives some of %s", fields);
            ct_valid_fail(&p->v, field, msg);
        }
    }
    if (given == 0 && ct_valid_ok(&p->v)) {
        snprintf(msg, sizeof msg, "nothing to change: give one of %s at least", fields);
        for (size_t i = 0; k->fields[i]; i++)
            ct_valid_fail(&p->v, k->fields[i], msg);
    }
}

/* A fixed field given with another value than the stored one. UUIDs and
 * numbers compare without regard to case. */
static bool fixed_changed(json_t *given, json_t *stored)
{
    if (json_is_string(given) && json_is_string(stored))
        return strcasecmp(json_string_value(given), json_string_value(stored)) != 0;
    return !json_equal(given, stored);
}

static void on_locked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    accounts_patch_t *p = udata;
    const char *doc = PQntuples(res) == 1 ? ct_db_get(res, 0, "doc") : NULL;
    if (!doc) {
        ct_db_tx_rollback(tx, CT_ENOTFOUND, "no such row");
        return;
    }
    json_error_t jerr;
    p->stored = json_loads(doc, 0, &jerr);
    p->merged = p->stored ? json_copy(p->stored) : NULL;
    if (!p->merged) {
        ct_db_tx_rollback(tx, CT_EINTERNAL, "stored state does not parse");
        return;
    }
    for (size_t i = 0; p->kind->fixed[i]; i++) {
        const char *f = p->kind->fixed[i];
        json_t *given = json_object_get(p->patch, f);
        if (given && fixed_changed(given, json_object_get(p->stored, f)))
            ct_valid_fail(&p->v, f, "never changes");
    }
    for (size_t i = 0; p->kind->fields[i]; i++) {
        const char *f = p->kind->fields[i];
        json_t *given = json_object_get(p->patch, f);
        if (given)
            json_object_set(p->merged, f, given);
    }
    if (!ct_valid_ok(&p->v)) {
        accounts_patch_invalid(p, tx);
        return;
    }
    p->kind->apply(p, tx, res);
}

static void on_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    accounts_patch_t *p = udata;
    p->kind->lock(tx, p->id, on_locked);
}

void accounts_patch_reply(accounts_patch_t *p)
{
    if (p->version > 0)
        ct_logc_info(ct_http_request_id(p->req), "%s %s updated (version %d)", p->kind->what, p->id,
                     p->version);
    else
        ct_logc_info(ct_http_request_id(p->req), "%s %s updated", p->kind->what, p->id);
    ct_http_reply_json(p->req, 200, p->out);
    p->out = NULL;
}

static void on_done(const ct_db_error_t *err, void *udata)
{
    accounts_patch_t *p = udata;
    accounts_event_dispose(&p->event);
    json_decref(p->stored);
    json_decref(p->merged);
    p->stored = p->merged = NULL;
    bool replied = err && p->kind->refused && p->kind->refused(p, err);
    if (replied)
        (void)0;
    else if (err && err->status == CT_ENOTFOUND)
        reply_not_found(p->req, p->kind->what);
    else if (err && err->status == CT_EINPUT)
        ct_http_reply_invalid(p->req, ct_valid_take_errors(&p->v));
    else if (err)
        accounts_reply_db_error(p->req, err);
    ct_valid_dispose(&p->v);
    if (err) {
        json_decref(p->out);
        p->out = NULL;
    } else if (p->kind->committed) {
        p->kind->committed(p);
    } else {
        accounts_patch_reply(p);
    }
}

void accounts_patch_run(ct_http_req_t *req, accounts_t *a, const accounts_patch_kind_t *kind,
                        size_t state_size)
{
    if (!accounts_require_operator(a, req))
        return;
    const char *id = ct_http_param(req, "id");
    if (!id || !ct_uuid_valid(id)) {
        reply_not_found(req, kind->what);
        return;
    }
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    accounts_patch_t *p = ct_http_alloc(req, sizeof *p);
    memset(p, 0, sizeof *p);
    p->req = req;
    p->a = a;
    p->kind = kind;
    p->patch = body;
    accounts_uuid_lower(p->id, id);
    p->state = ct_http_alloc(req, state_size);
    memset(p->state, 0, state_size);
    ct_valid_init(&p->v);
    check_shape(p);
    if (!ct_valid_ok(&p->v)) {
        ct_http_reply_invalid(req, ct_valid_take_errors(&p->v));
        ct_valid_dispose(&p->v);
        return;
    }
    int rc = ct_db_tx_begin(a->svc->db, on_begun, on_done, p);
    if (rc != 0) {
        ct_valid_dispose(&p->v);
        accounts_reply_failure(req, rc);
    }
}
