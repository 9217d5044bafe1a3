#include "events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/consume.h"
#include "citerne/error.h"
#include "citerne/event.h"
#include "citerne/inbox.h"
#include "citerne/log.h"
#include "citerne/v1/accounts.pb-c.h"

#include "store.h"

struct telemetry_event {
    Citerne__V1__AccountsEvent *ev;
    bool site; /* a SiteCreated; otherwise ignored */
    char site_id[CT_UUID_STRLEN + 1];
    char customer_id[CT_UUID_STRLEN + 1];
    int capacity_kg;
    int threshold_pct;
};

static bool uuid_copy(char *dst, const char *src)
{
    if (!src || !ct_uuid_valid(src) || strlen(src) != CT_UUID_STRLEN)
        return false;
    for (int i = 0; i <= CT_UUID_STRLEN; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] - 'A' + 'a') : src[i];
    return true;
}

/* Checks a SiteCreated and copies what telemetry keeps into ev. */
static const char *check_site(const Citerne__V1__SiteCreated *s, telemetry_event_t *ev)
{
    if (!s || !uuid_copy(ev->site_id, s->site_id))
        return "site_id is not a UUID";
    if (!uuid_copy(ev->customer_id, s->customer_id))
        return "customer_id is not a UUID";
    if (s->capacity_kg < 1 || s->capacity_kg > 1000000)
        return "capacity_kg out of 1..1000000";
    if (s->threshold_pct < 0 || s->threshold_pct > 100)
        return "threshold_pct out of 0..100";
    ev->capacity_kg = s->capacity_kg;
    /* proto3 cannot tell "unset" from 0; a tank never alerting is no choice
     * anyone makes, so 0 means the documented default */
    ev->threshold_pct = s->threshold_pct ? s->threshold_pct : TELEMETRY_DEFAULT_THRESHOLD_PCT;
    return NULL;
}

int telemetry_event_decode(const void *data, size_t len, telemetry_event_t **out, const char **why)
{
    *out = NULL;
    *why = NULL;
    telemetry_event_t *ev = calloc(1, sizeof *ev);
    if (!ev) {
        *why = "out of memory";
        return -ENOMEM;
    }
    ev->ev = citerne__v1__accounts_event__unpack(NULL, len, data);
    int rc = 0;
    if (!ev->ev) {
        *why = "not an AccountsEvent";
        rc = CT_EDECODE;
    } else if (ct_event_meta_check(ev->ev->meta) != 0) {
        *why = "its meta has no valid event_id or correlation_id";
        rc = CT_EDECODE;
    } else if (ev->ev->body_case == CITERNE__V1__ACCOUNTS_EVENT__BODY_SITE_CREATED) {
        ev->site = true;
        if ((*why = check_site(ev->ev->site_created, ev)))
            rc = CT_EINPUT;
    }
    if (rc != 0) {
        telemetry_event_free(ev);
        return rc;
    }
    *out = ev;
    return 0;
}

const char *telemetry_event_id(const telemetry_event_t *ev)
{
    return ev->ev->meta->event_id;
}

void telemetry_event_free(telemetry_event_t *ev)
{
    if (!ev)
        return;
    if (ev->ev)
        citerne__v1__accounts_event__free_unpacked(ev->ev, NULL);
    free(ev);
}

static void on_applied(ct_db_tx_t *tx, PGresult *res, void *udata)
{
    (void)res;
    (void)udata;
    ct_db_tx_commit(tx);
}

void telemetry_event_apply(ct_db_tx_t *tx, void *udata)
{
    telemetry_event_t *ev = udata;
    if (!ev->site) {
        ct_db_tx_commit(tx);
        return;
    }
    telemetry_store_upsert_site(tx, ev->site_id, ev->customer_id, ev->capacity_kg,
                                ev->threshold_pct, on_applied);
}

static void on_done(int status, void *udata)
{
    telemetry_event_t *ev = udata;
    if (status < 0 && status != CT_EUNAVAIL)
        ct_logc_warn(ev->ev->meta->correlation_id, "event %s: %s", ev->ev->meta->event_id,
                     ct_strerror(status));
    telemetry_event_free(ev);
}

void telemetry_on_message(ct_bus_msg_t *msg, void *udata)
{
    ct_service_t *svc = udata;
    size_t len = 0;
    const void *data = ct_bus_msg_payload(msg, &len);
    telemetry_event_t *ev = NULL;
    const char *why = NULL;
    int rc = telemetry_event_decode(data, len, &ev, &why);
    if (rc == -ENOMEM) {
        ct_bus_msg_done(msg, CT_EUNAVAIL);
        return;
    }
    if (rc != 0) {
        /* counted as undecodable either way (README): a field out of range
         * included */
        ct_consume_skip(msg, CT_SKIP_UNDECODABLE, NULL, "%s%s",
                        rc == CT_EDECODE ? "" : "out of range: ", why ? why : "");
        return;
    }
    ct_inbox_process(svc->db, msg, telemetry_event_id(ev), telemetry_event_apply, on_done, ev);
}
