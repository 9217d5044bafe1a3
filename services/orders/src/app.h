/* Orders: the state shared by its HTTP handlers and event handlers. */
#ifndef ORDERS_APP_H
#define ORDERS_APP_H

#include <stdint.h>

#include "citerne/auth.h"
#include "citerne/bus.h"
#include "citerne/http.h"
#include "citerne/service.h"

typedef struct {
  ct_service_t *svc;          /* db, cache and topic are read at request time */
  ct_auth_key_t operator_key; /* CITERNE_OPERATOR_KEY: back-office reads */
  ct_auth_key_t driver_key;   /* CITERNE_DRIVER_KEY: deliveries */
  int64_t (*now_ms)(void);    /* the clock (ct_now_ms; tests may pin it) */
} orders_app_t;

/* The app's clock. */
int64_t orders_now(const orders_app_t *app);

/* Registers every orders route on srv; app must outlive the server. */
int orders_api_register(ct_http_server_t *srv, orders_app_t *app);

/* The service's ct_bus_msg_cb (citerne.accounts.v1 and
 * citerne.telemetry.v1): udata is the ct_service_t whose udata is the
 * orders_app_t. Acknowledges msg exactly once, through the inbox or
 * directly for a record it skips. */
void orders_on_message(ct_bus_msg_t *msg, void *udata);

#endif
