/* Test support: packed records (see records.h). */
#include "records.h"

#include <string.h>

#include "citerne/id.h"

Citerne__V1__EventMeta ct_test_record_meta(ct_test_record_t *r, int64_t occurred_at)
{
    Citerne__V1__EventMeta m = CITERNE__V1__EVENT_META__INIT;
    ct_uuid_v7(r->event_id);
    memcpy(r->correlation_id, r->event_id, sizeof r->correlation_id);
    m.event_id = r->event_id;
    m.correlation_id = r->correlation_id;
    m.causation_id = "";
    m.producer = "test";
    m.occurred_at = occurred_at ? occurred_at : ct_now_ms();
    return m;
}

void ct_test_record_free(ct_test_record_t *r)
{
    free(r->data);
    r->data = NULL;
}
