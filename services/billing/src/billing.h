/* The billing service's shared state and its event/HTTP entry points. */
#ifndef BILLING_H
#define BILLING_H

#include <stdbool.h>

#include "citerne/bus.h"
#include "citerne/service.h"

typedef struct {
    ct_service_t *svc;
    bool operator_enabled;               /* CITERNE_OPERATOR_KEY is set */
    unsigned char operator_key_hash[32]; /* BLAKE2b of the key, compared in constant time */
} billing_app_t;

/* Sets the operator key (NULL or "" disables operator access). Returns 0 or
 * -1 when the key is too short (< 16 bytes). */
int billing_app_set_operator_key(billing_app_t *app, const char *key);

/* Registers the /api/v1/billing routes on srv; app must outlive srv. */
int billing_api_register(ct_http_server_t *srv, billing_app_t *app);

/* The ct_bus_msg_cb of the service (udata: the ct_service_t, whose udata is
 * the billing_app_t). Decodes, validates, and hands the event to the inbox;
 * calls ct_bus_msg_done itself on every path. Loop thread. */
void billing_on_message(ct_bus_msg_t *msg, void *udata);

#endif
