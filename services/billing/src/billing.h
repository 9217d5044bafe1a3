/* The billing service's shared state and its event/HTTP entry points. */
#ifndef BILLING_H
#define BILLING_H

#include <stdbool.h>

#include "citerne/auth.h"
#include "citerne/bus.h"
#include "citerne/service.h"

typedef struct {
    ct_service_t *svc;
    ct_auth_key_t operator_key; /* CITERNE_OPERATOR_KEY; unset: operator access disabled */
} billing_app_t;

/* Registers the /api/v1/billing routes on srv; app must outlive srv. */
int billing_api_register(ct_http_server_t *srv, billing_app_t *app);

/* The ct_bus_msg_cb of the service (udata: the ct_service_t, whose udata is
 * the billing_app_t). Decodes, validates, and hands the event to the inbox;
 * calls ct_bus_msg_done itself on every path. Loop thread. */
void billing_on_message(ct_bus_msg_t *msg, void *udata);

#endif
