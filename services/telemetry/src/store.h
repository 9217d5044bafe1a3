/* All SQL of telemetry. Each function issues one statement, in the caller's
 * transaction (tx) or on the pool (db), and hands the result to the callback
 * (see citerne/db.h for the callback rules). */
#ifndef TELEMETRY_STORE_H
#define TELEMETRY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "citerne/db.h"

/* A Postgres array literal ("{a,b,c}") built element by element, for the
 * unnest() batch statements. Elements must need no quoting (uuids, numbers,
 * timestamps, plain words): the callers only pass values they validated. */
typedef struct {
    char *buf;
    size_t len, cap;
    size_t n;
} telemetry_pgarray_t;

void telemetry_pgarray_init(telemetry_pgarray_t *a);
/* Appends one element; aborts on out of memory. */
void telemetry_pgarray_add(telemetry_pgarray_t *a, const char *elem);
/* The literal, "{...}"; valid until the next add or dispose. */
const char *telemetry_pgarray_str(telemetry_pgarray_t *a);
void telemetry_pgarray_dispose(telemetry_pgarray_t *a);

/* Locks the sites listed in site_ids (a uuid[] literal) FOR UPDATE, in id
 * order. Rows: site_id, customer_id, capacity_kg, threshold_pct, armed ("t" or
 * "f"), last_ms (Unix ms of last_measured_at, NULL when none). */
void telemetry_store_lock_sites(ct_db_tx_t *tx, const char *site_ids, ct_db_tx_cb next);

/* Inserts readings in one statement from parallel array literals: uuid[],
 * int[], timestamptz[] (RFC 3339 UTC), text[]. */
void telemetry_store_insert_readings(ct_db_tx_t *tx, const char *site_ids, const char *levels,
                                     const char *measured_at, const char *sources,
                                     ct_db_tx_cb next);

/* Saves the episode state of sites from parallel array literals: uuid[],
 * bool[], timestamptz[]. */
void telemetry_store_save_episodes(ct_db_tx_t *tx, const char *site_ids, const char *armed,
                                   const char *last_measured_at, ct_db_tx_cb next);

/* Locks the row of site_id FOR UPDATE, with its latest processed reading.
 * No row when the site is unknown; otherwise one: version, armed ("t" or
 * "f"), last_ms (Unix ms of last_measured_at), last_level, last_source (the
 * latest reading; the three NULL when the site has none). */
void telemetry_store_site_for_update(ct_db_tx_t *tx, const char *site_id, ct_db_tx_cb next);

/* Writes what accounts says of a site (customer, capacity, threshold,
 * version) and its armed flag: a new row (armed for a new site) or, over an
 * existing one, these columns; last_measured_at is kept. */
void telemetry_store_save_site(ct_db_tx_t *tx, const char *site_id, const char *customer_id,
                               int capacity_kg, int threshold_pct, int version, bool armed,
                               ct_db_tx_cb next);

/* The sites a caller may read: the operator reads every site (customers
 * NULL); a session the sites of its customers, a uuid[] literal of their
 * ids. A site outside them is answered as if it did not exist. */

/* Newest first (measured_at, then id), at most limit readings of site_id;
 * with a cursor (before_us, before_id: decimal text, both or neither) only
 * those strictly older than the reading it names. No row at all when the
 * site is unknown or not among customers; otherwise rows of: site_id,
 * level_pct, measured_at, source, received_at (times as RFC 3339 UTC text
 * to the millisecond), at_us (measured_at in Unix microseconds) and id, the
 * cursor of that reading; one row with level_pct NULL when no reading is
 * left. */
int telemetry_store_list_readings(ct_db_t *db, const char *site_id, const char *customers,
                                  const char *before_us, const char *before_id, int limit,
                                  ct_db_result_cb cb, void *udata);

/* The newest max_rows readings of site_id as CSV (RFC 4180, CRLF), oldest
 * first, built by Postgres in one statement. No row when the site is unknown
 * or not among customers (see above); otherwise one row: csv (the header
 * line "site_id,measured_at,level_pct,source,received_at" then one line per
 * reading), truncated ("t" when the site has more than max_rows readings). */
int telemetry_store_readings_csv(ct_db_t *db, const char *site_id, const char *customers,
                                 long max_rows, ct_db_result_cb cb, void *udata);

#endif
