#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void telemetry_pgarray_init(telemetry_pgarray_t *a)
{
    memset(a, 0, sizeof *a);
}

static void reserve(telemetry_pgarray_t *a, size_t more)
{
    if (a->len + more + 2 <= a->cap)
        return;
    size_t cap = a->cap ? a->cap : 256;
    while (cap < a->len + more + 2)
        cap *= 2;
    char *p = realloc(a->buf, cap);
    if (!p)
        abort();
    a->buf = p;
    a->cap = cap;
}

void telemetry_pgarray_add(telemetry_pgarray_t *a, const char *elem)
{
    size_t n = strlen(elem);
    reserve(a, n + 1);
    a->buf[a->len++] = a->n == 0 ? '{' : ',';
    memcpy(a->buf + a->len, elem, n);
    a->len += n;
    a->n++;
}

const char *telemetry_pgarray_str(telemetry_pgarray_t *a)
{
    reserve(a, 2);
    if (a->n == 0) {
        memcpy(a->buf, "{}", 3);
        return a->buf;
    }
    a->buf[a->len] = '}';
    a->buf[a->len + 1] = '\0';
    return a->buf;
}

void telemetry_pgarray_dispose(telemetry_pgarray_t *a)
{
    free(a->buf);
    memset(a, 0, sizeof *a);
}

void telemetry_store_lock_sites(ct_db_tx_t *tx, const char *site_ids, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, site_ids);
    ct_db_tx_query(tx,
                   "SELECT site_id, customer_id, capacity_kg, threshold_pct, armed,"
                   " (extract(epoch FROM last_measured_at) * 1000)::bigint AS last_ms"
                   " FROM sites WHERE site_id = ANY($1::uuid[])"
                   " ORDER BY site_id FOR UPDATE",
                   &p, next);
    ct_db_params_dispose(&p);
}

void telemetry_store_insert_readings(ct_db_tx_t *tx, const char *site_ids, const char *levels,
                                     const char *measured_at, const char *sources, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, site_ids);
    ct_db_params_add(&p, levels);
    ct_db_params_add(&p, measured_at);
    ct_db_params_add(&p, sources);
    ct_db_tx_query(tx,
                   "INSERT INTO readings (site_id, level_pct, measured_at, source)"
                   " SELECT * FROM unnest($1::uuid[], $2::smallint[], $3::timestamptz[],"
                   " $4::text[])",
                   &p, next);
    ct_db_params_dispose(&p);
}

void telemetry_store_save_episodes(ct_db_tx_t *tx, const char *site_ids, const char *armed,
                                   const char *last_measured_at, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, site_ids);
    ct_db_params_add(&p, armed);
    ct_db_params_add(&p, last_measured_at);
    ct_db_tx_query(tx,
                   "UPDATE sites SET armed = e.armed, last_measured_at = e.last_measured_at"
                   " FROM unnest($1::uuid[], $2::bool[], $3::timestamptz[])"
                   " AS e(site_id, armed, last_measured_at)"
                   " WHERE sites.site_id = e.site_id",
                   &p, next);
    ct_db_params_dispose(&p);
}

void telemetry_store_site_for_update(ct_db_tx_t *tx, const char *site_id, ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, site_id);
    /* the latest processed reading is the newest by (measured_at, id):
     * stale ones are older, and a batch inserts in the order it evaluates */
    ct_db_tx_query(tx,
                   "SELECT s.version, s.armed,"
                   " (extract(epoch FROM s.last_measured_at) * 1000)::bigint AS last_ms,"
                   " r.level_pct AS last_level, r.source AS last_source"
                   " FROM sites s LEFT JOIN LATERAL (SELECT level_pct, source FROM readings"
                   " WHERE site_id = s.site_id ORDER BY measured_at DESC, id DESC LIMIT 1) r"
                   " ON true WHERE s.site_id = $1 FOR UPDATE OF s",
                   &p, next);
    ct_db_params_dispose(&p);
}

void telemetry_store_save_site(ct_db_tx_t *tx, const char *site_id, const char *customer_id,
                               int capacity_kg, int threshold_pct, int version, bool armed,
                               ct_db_tx_cb next)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, site_id);
    ct_db_params_add(&p, customer_id);
    ct_db_params_add_int(&p, capacity_kg);
    ct_db_params_add_int(&p, threshold_pct);
    ct_db_params_add_int(&p, version);
    ct_db_params_add(&p, armed ? "t" : "f");
    ct_db_tx_query(tx,
                   "INSERT INTO sites (site_id, customer_id, capacity_kg, threshold_pct, version,"
                   " armed) VALUES ($1, $2, $3, $4, $5, $6)"
                   " ON CONFLICT (site_id) DO UPDATE SET customer_id = EXCLUDED.customer_id,"
                   " capacity_kg = EXCLUDED.capacity_kg, threshold_pct = EXCLUDED.threshold_pct,"
                   " version = EXCLUDED.version, armed = EXCLUDED.armed",
                   &p, next);
    ct_db_params_dispose(&p);
}

/* One place for the text of a time, so that the JSON and the CSV agree. */
#define UTC_MS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* The site when the caller may read it: $1 the site, $2 the customers. */
#define VISIBLE_SITE "s.site_id = $1 AND ($2::uuid[] IS NULL OR s.customer_id = ANY($2::uuid[]))"

int telemetry_store_list_readings(ct_db_t *db, const char *site_id, const char *customers,
                                  const char *before_us, const char *before_id, int limit,
                                  ct_db_result_cb cb, void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, site_id);
    ct_db_params_add(&p, customers);
    ct_db_params_add_int(&p, limit);
    ct_db_params_add(&p, before_us);
    ct_db_params_add(&p, before_id);
    /* the cursor as a row comparison on the index's own order (site_id,
     * measured_at DESC, id DESC); the microseconds go back to a timestamptz
     * by integer arithmetic, exactly */
    int rc = ct_db_query(
        db,
        "SELECT s.site_id, r.level_pct, " UTC_MS(
            "r.measured_at") " AS measured_at, r.source, " UTC_MS("r.received_at") " AS "
                                                                                   "received_at,"
                                                                                   " (extract("
                                                                                   "epoch FROM "
                                                                                   "r.measured_at) "
                                                                                   "* "
                                                                                   "1000000)::"
                                                                                   "bigint AS "
                                                                                   "at_us, r.id"
                                                                                   " FROM sites s "
                                                                                   "LEFT JOIN "
                                                                                   "LATERAL "
                                                                                   "(SELECT id, "
                                                                                   "level_pct, "
                                                                                   "measured_at, "
                                                                                   "source, "
                                                                                   "received_at"
                                                                                   " FROM readings "
                                                                                   "WHERE site_id "
                                                                                   "= s.site_id "
                                                                                   "AND "
                                                                                   "($4::bigint IS "
                                                                                   "NULL OR "
                                                                                   "(measured_at, "
                                                                                   "id) <"
                                                                                   " (timestamptz "
                                                                                   "'epoch' + "
                                                                                   "$4::bigint * "
                                                                                   "interval '1 "
                                                                                   "microsecond',"
                                                                                   " $5::bigint))"
                                                                                   " ORDER BY "
                                                                                   "measured_at "
                                                                                   "DESC, id DESC "
                                                                                   "LIMIT $3) r ON "
                                                                                   "true"
                                                                                   " WHERE"
                                                                                   " " VISIBLE_SITE
                                                                                   " ORDER BY "
                                                                                   "r.measured_at "
                                                                                   "DESC, r.id "
                                                                                   "DESC",
        &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}

int telemetry_store_readings_csv(ct_db_t *db, const char *site_id, const char *customers,
                                 long max_rows, ct_db_result_cb cb, void *udata)
{
    ct_db_params_t p;
    ct_db_params_init(&p);
    ct_db_params_add(&p, site_id);
    ct_db_params_add(&p, customers);
    ct_db_params_add_int(&p, max_rows);
    /* one more row than the cap tells a truncated history; no field needs
     * quoting (uuids, integers, times, the source words) */
    int rc = ct_db_query(
        db,
        "WITH r AS (SELECT r.id, r.level_pct, r.measured_at, r.source, r.received_at,"
        " row_number() OVER (ORDER BY r.measured_at DESC, r.id DESC) AS n"
        " FROM sites s JOIN readings r ON r.site_id = s.site_id WHERE " VISIBLE_SITE
        " ORDER BY r.measured_at DESC, r.id DESC LIMIT $3::bigint + 1)"
        " SELECT E'site_id,measured_at,level_pct,source,received_at\\r\\n' || coalesce("
        "string_agg(s.site_id::text || ',' || " UTC_MS(
            "r.measured_at") " || ',' || r.level_pct"
                             " || ',' || r.source || ',' || " UTC_MS(
                                 "r.received_at") " || E'\\r\\n', ''"
                                                  " ORDER BY r.measured_at, r.id) FILTER (WHERE "
                                                  "r.n <= $3::bigint), '') AS csv,"
                                                  " count(r.id) > $3::bigint AS truncated"
                                                  " FROM sites s LEFT JOIN r ON true "
                                                  "WHERE " VISIBLE_SITE " GROUP BY s.site_id",
        &p, cb, udata);
    ct_db_params_dispose(&p);
    return rc;
}
