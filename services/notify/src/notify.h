/* The notify service's shared state and its event/HTTP entry points. */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stdbool.h>

#include "citerne/auth.h"
#include "citerne/bus.h"
#include "citerne/service.h"
#include "sender.h"

typedef struct {
    ct_service_t *svc;
    notify_sender_t *sender;    /* woken after a commit that added notifications */
    ct_auth_key_t operator_key; /* CITERNE_OPERATOR_KEY; unset: operator access disabled */
} notify_app_t;

/* Registers the /api/v1/notify routes on srv; app must outlive srv. */
int notify_api_register(ct_http_server_t *srv, notify_app_t *app);
/* GET /api/v1/notify/me/export (session; udata the notify_app_t): the
 * caller's personal data. 401 without a session, 503 when Redis cannot
 * answer. Loop thread. */
void notify_api_me_export(ct_http_req_t *req, void *udata);

/* The ct_bus_msg_cb of the service (udata: the ct_service_t, whose udata is
 * the notify_app_t). Decodes, validates, hands the event to the inbox; calls
 * ct_bus_msg_done itself on every path. Loop thread. */
void notify_on_message(ct_bus_msg_t *msg, void *udata);

#endif
