/* HTTP: readings in (gateway key). Readings out are in api_history.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/event.h"
#include "citerne/log.h"
#include "citerne/metrics.h"
#include "citerne/outbox.h"
#include "citerne/validate.h"

#include "app.h"
#include "citerne/auth.h"
#include "crossing.h"
#include "rfc3339.h"
#include "store.h"
#include "threshold.h"

/* Past this many errors a bad batch is answered without checking the rest. */
#define MAX_REPORTED_ERRORS 100

static const char *const sources[] = {"sensor", "customer", "driver", NULL};

typedef struct {
    char site_id[CT_UUID_STRLEN + 1]; /* lower case, as Postgres prints uuids */
    int level_pct;
    int64_t measured_ms;
    const char *source; /* one of sources[] */
    size_t index;       /* position in the request, for a stable order */
    size_t site;        /* index into ctx->sites */
} reading_t;

typedef struct {
    char site_id[CT_UUID_STRLEN + 1];
    char customer_id[CT_UUID_STRLEN + 1];
    int capacity_kg;
    int threshold_pct;
    bool known;
    bool changed;
    telemetry_episode_t episode;
} site_t;

typedef struct {
    char site_id[CT_UUID_STRLEN + 1];
    char event_id[CT_UUID_STRLEN + 1];
    uint8_t *payload;
    size_t len;
} pending_event_t;

typedef struct {
    ct_http_req_t *req;
    telemetry_app_t *app;
    reading_t *readings; /* sorted by site, measured_at, request order */
    size_t nreadings;
    site_t *sites; /* sorted by site_id */
    size_t nsites;
    pending_event_t *events;
    size_t nevents, next_event;
    json_t *unknown; /* site ids not in the read model */
} post_ctx_t;

/* ---- validation ---- */

void telemetry_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Moves the errors of one reading into v, their fields prefixed with
 * "readings[i].". */
static void take_errors(ct_valid_t *v, ct_valid_t *one, size_t i)
{
    json_t *errors = ct_valid_take_errors(one);
    size_t k;
    json_t *e;
    json_array_foreach(errors, k, e)
    {
        char field[96];
        const char *f = json_string_value(json_object_get(e, "field"));
        snprintf(field, sizeof field, "readings[%zu].%s", i, f ? f : "");
        const char *msg = json_string_value(json_object_get(e, "message"));
        ct_valid_fail(v, field, msg ? msg : "is invalid");
    }
    json_decref(errors);
}

static bool validate_reading(ct_valid_t *v, json_t *obj, size_t i, int64_t now_ms, reading_t *out)
{
    char field[64];
    if (!json_is_object(obj)) {
        snprintf(field, sizeof field, "readings[%zu]", i);
        ct_valid_fail(v, field, "must be an object");
        return false;
    }
    ct_valid_t one;
    ct_valid_init(&one);
    const char *site_id = ct_valid_uuid(&one, obj, "site_id", true);
    int64_t level = ct_valid_int(&one, obj, "level_pct", 0, 100, true, 0);
    const char *measured = ct_valid_str(&one, obj, "measured_at", 1, 64, true);
    const char *source = ct_valid_enum(&one, obj, "source", sources, false, "sensor");
    int64_t ms = 0;
    if (measured) {
        if (telemetry_rfc3339_parse(measured, &ms) != 0)
            ct_valid_fail(&one, "measured_at",
                          "must be an RFC 3339 time such as 2026-11-20T08:00:00Z");
        else if (ms > now_ms + TELEMETRY_MAX_FUTURE_MS)
            ct_valid_fail(&one, "measured_at", "is in the future");
    }
    bool ok = ct_valid_ok(&one);
    if (ok) {
        snprintf(out->site_id, sizeof out->site_id, "%s", site_id);
        telemetry_lower(out->site_id);
        out->level_pct = (int)level;
        out->measured_ms = ms;
        out->source = sources[0];
        for (size_t k = 0; sources[k]; k++)
            if (source && strcmp(source, sources[k]) == 0)
                out->source = sources[k];
        out->index = i;
    } else {
        take_errors(v, &one, i);
    }
    ct_valid_dispose(&one);
    return ok;
}

static int cmp_reading(const void *a, const void *b)
{
    const reading_t *x = a, *y = b;
    int c = strcmp(x->site_id, y->site_id);
    if (c)
        return c;
    if (x->measured_ms != y->measured_ms)
        return x->measured_ms < y->measured_ms ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_site(const void *key, const void *elem)
{
    return strcmp(key, ((const site_t *)elem)->site_id);
}

int telemetry_db_error_code(const ct_db_error_t *err)
{
    if (err->status == CT_EUNAVAIL || err->status == CT_ECLOSED)
        return err->status;
    if (err->sqlstate && strncmp(err->sqlstate, "40", 2) == 0)
        return CT_EUNAVAIL;
    return CT_EDB;
}

/* ---- the transaction ---- */

static void on_committed(const ct_db_error_t *err, void *udata);
static void append_next_event(ct_db_tx_t *tx, PGresult *res, void *udata);

static void reply_unknown_sites(post_ctx_t *ctx)
{
    json_t *body = json_pack("{s:s, s:s, s:i, s:s, s:s, s:O}", "type", "/problems/unknown-site",
                             "title", "unknown site", "status", 422, "detail",
                             "no site with these ids is known to telemetry; nothing was stored",
                             "instance", ct_http_path(ctx->req), "site_ids", ctx->unknown);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        ct_http_reply_error(ctx->req, CT_EINTERNAL, NULL);
        return;
    }
    ct_http_reply(ctx->req, 422, "application/problem+json", text, strlen(text));
    free(text);
}

static void on_committed(const ct_db_error_t *err, void *udata)
{
    post_ctx_t *ctx = udata;
    if (!err) {
        if (ctx->nevents)
            ct_logc_debug(ct_http_request_id(ctx->req), "%zu reading(s), %zu crossing(s)",
                          ctx->nreadings, ctx->nevents);
        ct_metric_add(ct_metrics_counter("citerne_telemetry_readings_total", "Readings stored"),
                      (double)ctx->nreadings);
        ct_metric_add(ct_metrics_counter("citerne_telemetry_crossings_total",
                                         "Threshold crossings published (one per episode)"),
                      (double)ctx->nevents);
        ct_http_reply_json(ctx->req, 202,
                           json_pack("{s:I}", "accepted", (json_int_t)ctx->nreadings));
    } else if (err->status == CT_ENOTFOUND && ctx->unknown) {
        reply_unknown_sites(ctx);
    } else {
        ct_logc_error(ct_http_request_id(ctx->req), "storing readings failed: %s %s",
                      err->sqlstate ? err->sqlstate : "", err->message ? err->message : "");
        ct_http_reply_error(ctx->req, telemetry_db_error_code(err), NULL);
    }
    json_decref(ctx->unknown);
    ctx->unknown = NULL;
}

static void append_next_event(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    post_ctx_t *ctx = udata;
    if (ctx->next_event == ctx->nevents) {
        ct_db_tx_commit(tx);
        return;
    }
    pending_event_t *e = &ctx->events[ctx->next_event++];
    ct_outbox_append(tx, ctx->app->svc->topic, e->site_id, e->payload, e->len, e->event_id,
                     append_next_event);
}

static void add_crossing(post_ctx_t *ctx, const site_t *s, const reading_t *r)
{
    telemetry_crossing_t c = {
        .site_id = s->site_id,
        .customer_id = s->customer_id,
        .capacity_kg = s->capacity_kg,
        .threshold_pct = s->threshold_pct,
        .level_pct = r->level_pct,
        .measured_ms = r->measured_ms,
        .source = r->source,
    };
    telemetry_crossing_msg_t m;
    telemetry_crossing_init(&m, &c, NULL);
    pending_event_t *e = &ctx->events[ctx->nevents++];
    memcpy(e->site_id, s->site_id, sizeof e->site_id);
    memcpy(e->event_id, m.meta.event_id, sizeof e->event_id);
    e->len = citerne__v1__telemetry_event__get_packed_size(&m.ev);
    e->payload = ct_http_alloc(ctx->req, e->len ? e->len : 1);
    citerne__v1__telemetry_event__pack(&m.ev, e->payload);
}

static void on_readings_inserted(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    post_ctx_t *ctx = udata;
    /* Readings are sorted by site then time: one pass runs each site's
     * episode over its readings in measured_at order. */
    for (size_t i = 0; i < ctx->nreadings; i++) {
        reading_t *r = &ctx->readings[i];
        site_t *s = &ctx->sites[r->site];
        telemetry_step_t step =
            telemetry_threshold_step(&s->episode, s->threshold_pct, r->level_pct, r->measured_ms);
        if (step == TELEMETRY_STEP_STALE)
            continue;
        s->changed = true;
        if (step == TELEMETRY_STEP_CROSSED)
            add_crossing(ctx, s, r);
    }
    telemetry_pgarray_t ids, armed, last;
    telemetry_pgarray_init(&ids);
    telemetry_pgarray_init(&armed);
    telemetry_pgarray_init(&last);
    for (size_t i = 0; i < ctx->nsites; i++) {
        site_t *s = &ctx->sites[i];
        if (!s->changed)
            continue;
        char ts[32];
        telemetry_pgarray_add(&ids, s->site_id);
        telemetry_pgarray_add(&armed, s->episode.armed ? "t" : "f");
        telemetry_pgarray_add(&last,
                              telemetry_rfc3339_format(s->episode.last_measured_ms, ts, sizeof ts));
    }
    if (ids.n > 0)
        telemetry_store_save_episodes(tx, telemetry_pgarray_str(&ids),
                                      telemetry_pgarray_str(&armed), telemetry_pgarray_str(&last),
                                      append_next_event);
    else
        append_next_event(tx, NULL, ctx);
    telemetry_pgarray_dispose(&ids);
    telemetry_pgarray_dispose(&armed);
    telemetry_pgarray_dispose(&last);
}

static void on_sites_locked(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    post_ctx_t *ctx = udata;
    for (int row = 0; row < PQntuples(res); row++) {
        const char *id = ct_db_get(res, row, "site_id");
        site_t *s = id ? bsearch(id, ctx->sites, ctx->nsites, sizeof *s, cmp_site) : NULL;
        if (!s)
            continue;
        const char *customer = ct_db_get(res, row, "customer_id");
        snprintf(s->customer_id, sizeof s->customer_id, "%s", customer ? customer : "");
        s->capacity_kg = (int)ct_db_get_int(res, row, "capacity_kg", 0);
        s->threshold_pct = (int)ct_db_get_int(res, row, "threshold_pct", 0);
        const char *armed = ct_db_get(res, row, "armed");
        s->episode.armed = armed && armed[0] == 't';
        s->episode.has_last = ct_db_get(res, row, "last_ms") != NULL;
        s->episode.last_measured_ms = ct_db_get_int(res, row, "last_ms", 0);
        s->known = true;
    }
    for (size_t i = 0; i < ctx->nsites; i++) {
        if (ctx->sites[i].known)
            continue;
        if (!ctx->unknown)
            ctx->unknown = json_array();
        json_array_append_new(ctx->unknown, json_string(ctx->sites[i].site_id));
    }
    if (ctx->unknown) {
        ct_db_tx_rollback(tx, CT_ENOTFOUND, "unknown site");
        return;
    }
    telemetry_pgarray_t ids, levels, times, srcs;
    telemetry_pgarray_init(&ids);
    telemetry_pgarray_init(&levels);
    telemetry_pgarray_init(&times);
    telemetry_pgarray_init(&srcs);
    for (size_t i = 0; i < ctx->nreadings; i++) {
        const reading_t *r = &ctx->readings[i];
        char num[16], ts[32];
        snprintf(num, sizeof num, "%d", r->level_pct);
        telemetry_pgarray_add(&ids, r->site_id);
        telemetry_pgarray_add(&levels, num);
        telemetry_pgarray_add(&times, telemetry_rfc3339_format(r->measured_ms, ts, sizeof ts));
        telemetry_pgarray_add(&srcs, r->source);
    }
    telemetry_store_insert_readings(tx, telemetry_pgarray_str(&ids), telemetry_pgarray_str(&levels),
                                    telemetry_pgarray_str(&times), telemetry_pgarray_str(&srcs),
                                    on_readings_inserted);
    telemetry_pgarray_dispose(&ids);
    telemetry_pgarray_dispose(&levels);
    telemetry_pgarray_dispose(&times);
    telemetry_pgarray_dispose(&srcs);
}

static void on_begun(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    post_ctx_t *ctx = udata;
    telemetry_pgarray_t ids;
    telemetry_pgarray_init(&ids);
    for (size_t i = 0; i < ctx->nsites; i++)
        telemetry_pgarray_add(&ids, ctx->sites[i].site_id);
    telemetry_store_lock_sites(tx, telemetry_pgarray_str(&ids), on_sites_locked);
    telemetry_pgarray_dispose(&ids);
}

/* POST /api/v1/telemetry/readings */
static void post_readings(ct_http_req_t *req, void *udata)
{
    telemetry_app_t *app = udata;
    if (!ct_auth_require(req, &app->gateway_key, "a valid API key is required"))
        return;
    json_t *body = ct_http_json_object(req);
    if (!body)
        return;
    ct_valid_t v;
    ct_valid_init(&v);
    json_t *list = json_object_get(body, "readings");
    size_t n = json_array_size(list);
    if (!json_is_array(list)) {
        ct_valid_fail(&v, "readings", "is required: an array of readings");
    } else if (n < 1 || n > TELEMETRY_MAX_BATCH) {
        ct_valid_fail(&v, "readings", "must hold 1 to 1000 readings");
    }
    if (!ct_valid_ok(&v)) {
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    post_ctx_t *ctx = ct_http_alloc(req, sizeof *ctx);
    memset(ctx, 0, sizeof *ctx);
    ctx->req = req;
    ctx->app = app;
    ctx->readings = ct_http_alloc(req, n * sizeof *ctx->readings);
    int64_t now = app->now_ms ? app->now_ms() : ct_now_ms();
    for (size_t i = 0; i < n && json_array_size(v.errors) < MAX_REPORTED_ERRORS; i++)
        if (validate_reading(&v, json_array_get(list, i), i, now, &ctx->readings[ctx->nreadings]))
            ctx->nreadings++;
    if (!ct_valid_ok(&v)) {
        /* all or nothing: one bad reading rejects the batch */
        ct_http_reply_invalid(req, ct_valid_take_errors(&v));
        ct_valid_dispose(&v);
        return;
    }
    ct_valid_dispose(&v);

    qsort(ctx->readings, ctx->nreadings, sizeof *ctx->readings, cmp_reading);
    ctx->sites = ct_http_alloc(req, ctx->nreadings * sizeof *ctx->sites);
    for (size_t i = 0; i < ctx->nreadings; i++) {
        reading_t *r = &ctx->readings[i];
        if (ctx->nsites == 0 || strcmp(ctx->sites[ctx->nsites - 1].site_id, r->site_id) != 0) {
            site_t *s = &ctx->sites[ctx->nsites++];
            memset(s, 0, sizeof *s);
            memcpy(s->site_id, r->site_id, sizeof s->site_id);
        }
        r->site = ctx->nsites - 1;
    }
    /* at most one crossing per reading */
    ctx->events = ct_http_alloc(req, ctx->nreadings * sizeof *ctx->events);

    int rc = ct_db_tx_begin(app->svc->db, on_begun, on_committed, ctx);
    if (rc != 0)
        ct_http_reply_error(req, rc == CT_ECLOSED ? CT_ECLOSED : CT_EUNAVAIL, NULL);
}

int telemetry_api_register(ct_http_server_t *srv, telemetry_app_t *app)
{
    int rc = ct_http_route(srv, "POST", "/api/v1/telemetry/readings", post_readings, app);
    if (rc == 0)
        rc = telemetry_history_register(srv, app);
    return rc;
}
