/* Event envelope helpers. */
#include "citerne/event.h"

#include <stdio.h>
#include <string.h>

#include "citerne/error.h"

void ct_event_meta_init(ct_event_meta_t *m, const char *producer,
                        const Citerne__V1__EventMeta *cause)
{
    memset(m, 0, sizeof *m);
    citerne__v1__event_meta__init(&m->meta);
    ct_uuid_v7(m->event_id);
    snprintf(m->producer, sizeof m->producer, "%s", producer ? producer : "");
    if (cause && ct_uuid_valid(cause->event_id)) {
        /* a cause without a valid correlation id still links the chain */
        const char *corr =
            ct_uuid_valid(cause->correlation_id) ? cause->correlation_id : cause->event_id;
        memcpy(m->correlation_id, corr, CT_UUID_STRLEN + 1);
        memcpy(m->causation_id, cause->event_id, CT_UUID_STRLEN + 1);
    } else {
        memcpy(m->correlation_id, m->event_id, CT_UUID_STRLEN + 1);
        m->causation_id[0] = '\0';
    }
    m->meta.event_id = m->event_id;
    m->meta.occurred_at = ct_now_ms();
    m->meta.producer = m->producer;
    m->meta.correlation_id = m->correlation_id;
    m->meta.causation_id = m->causation_id;
}

int ct_event_meta_check(const Citerne__V1__EventMeta *meta)
{
    if (!meta)
        return CT_EDECODE;
    if (!ct_uuid_valid(meta->event_id) || !ct_uuid_valid(meta->correlation_id))
        return CT_EDECODE;
    return 0;
}
