#include "crossing.h"

void telemetry_crossing_init(telemetry_crossing_msg_t *m, const telemetry_crossing_t *c,
                             const Citerne__V1__EventMeta *cause)
{
    citerne__v1__tank_threshold_crossed__init(&m->body);
    m->body.site_id = (char *)c->site_id;
    m->body.customer_id = (char *)c->customer_id;
    m->body.level_pct = c->level_pct;
    m->body.threshold_pct = c->threshold_pct;
    m->body.measured_at = c->measured_ms;
    m->body.source = (char *)c->source;
    m->body.capacity_kg = c->capacity_kg;
    ct_event_meta_init(&m->meta, "telemetry", cause);
    citerne__v1__telemetry_event__init(&m->ev);
    m->ev.meta = &m->meta.meta;
    m->ev.body_case = CITERNE__V1__TELEMETRY_EVENT__BODY_THRESHOLD_CROSSED;
    m->ev.threshold_crossed = &m->body;
}
