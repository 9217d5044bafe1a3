/* Telemetry: the state shared by its HTTP handlers and event handlers. */
#ifndef TELEMETRY_APP_H
#define TELEMETRY_APP_H

#include <stdint.h>

#include <stddef.h>

#include "citerne/auth.h"
#include "citerne/bus.h"
#include "citerne/db.h"
#include "citerne/http.h"
#include "citerne/service.h"

#define TELEMETRY_MAX_BATCH 1000
#define TELEMETRY_DEFAULT_LIMIT 100
#define TELEMETRY_MAX_LIMIT 1000
/* Readings in one CSV download (the newest ones when a site has more; the
 * paged JSON list reaches the rest). About 9 MB of CSV, built by Postgres. */
#define TELEMETRY_CSV_MAX_ROWS 100000
/* Threshold of a site whose SiteCreated carries none (proto3 zero). */
#define TELEMETRY_DEFAULT_THRESHOLD_PCT 30
/* A reading may be at most this far in the future of our clock (sensor
 * clocks drift; further ahead it would freeze the episode state). */
#define TELEMETRY_MAX_FUTURE_MS (15 * 60 * 1000)

typedef struct {
    ct_service_t *svc;          /* db and topic are read at request time */
    ct_auth_key_t gateway_key;  /* CITERNE_GATEWAY_KEY: POST readings */
    ct_auth_key_t operator_key; /* CITERNE_OPERATOR_KEY: GET readings */
    int64_t (*now_ms)(void);    /* the clock (ct_now_ms; tests may pin it) */
    size_t csv_max_rows; /* TELEMETRY_CSV_MAX_ROWS (tests may lower it) */
} telemetry_app_t;

/* Registers the telemetry routes on srv (readings in, and the history of
 * api_history.c); app must outlive the server. */
int telemetry_api_register(ct_http_server_t *srv, telemetry_app_t *app);
/* Registers the GET routes of a site's history. */
int telemetry_history_register(ct_http_server_t *srv, telemetry_app_t *app);

/* The reply for a failed statement: 503 (retry) for what is transient (no
 * connection, closing, a deadlock or serialization failure), 500 otherwise. */
int telemetry_db_error_code(const ct_db_error_t *err);
/* Lower-cases s in place (uuids as Postgres prints them). */
void telemetry_lower(char *s);

/* The service's ct_bus_msg_cb for citerne.accounts.v1: udata is the
 * ct_service_t whose udata is the telemetry_app_t. Acknowledges msg exactly
 * once (through the inbox, or directly for a record it skips). */
void telemetry_on_message(ct_bus_msg_t *msg, void *udata);

#endif
