/* Skipped consumed records: one log line, one counter, the offset stored. */
#include "citerne/consume.h"

#include <stdarg.h>
#include <stdio.h>

#include "citerne/error.h"
#include "citerne/log.h"
#include "citerne/metrics.h"

static const struct {
    const char *name;
    const char *metric;
    const char *help;
} reasons[] = {
    [CT_SKIP_UNDECODABLE] = {"undecodable", "citerne_events_undecodable_total",
                             "Consumed records skipped: they do not decode"},
    [CT_SKIP_INVALID] = {"invalid", "citerne_events_invalid_total",
                         "Consumed events skipped: fields out of range or inconsistent"},
    [CT_SKIP_ORPHANED] = {"orphaned", "citerne_events_orphaned_total",
                          "Consumed events skipped: what they refer to never arrived"},
};

static bool known(ct_skip_reason_t why)
{
    return (unsigned)why < sizeof reasons / sizeof reasons[0];
}

const char *ct_skip_reason_name(ct_skip_reason_t why)
{
    return known(why) ? reasons[why].name : "skipped";
}

void ct_consume_count(ct_skip_reason_t why, const char *topic)
{
    if (!known(why))
        why = CT_SKIP_INVALID;
    char name[200];
    snprintf(name, sizeof name, "%s{topic=\"%s\"}", reasons[why].metric, topic ? topic : "");
    ct_metric_inc(ct_metrics_counter(name, reasons[why].help));
}

void ct_consume_skip(ct_bus_msg_t *msg, ct_skip_reason_t why, const char *cid, const char *fmt, ...)
{
    const char *topic = ct_bus_msg_topic(msg);
    if (CT_LOG_WARN >= ct__log_level) {
        char detail[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        ct_logc_warn(cid, "%s record on %s [%d] at offset %lld skipped: %s",
                     ct_skip_reason_name(why), topic ? topic : "", (int)ct_bus_msg_partition(msg),
                     (long long)ct_bus_msg_offset(msg), detail);
    }
    ct_consume_count(why, topic);
    /* permanent: handing the same bytes again cannot help */
    ct_bus_msg_done(msg, 0);
}

bool ct_consume_orphan_retry(int64_t occurred_at_ms, int64_t now_ms)
{
    return now_ms - occurred_at_ms < CT_CONSUME_ORPHAN_WINDOW_MS;
}

bool ct_consume_orphan(ct_db_tx_t *tx, const char *topic, const char *cid, const char *event_id,
                       int64_t occurred_at_ms, int64_t now_ms, const char *missing)
{
    if (ct_consume_orphan_retry(occurred_at_ms, now_ms)) {
        ct_logc_debug(cid, "event %s of %s: %s not known yet, retrying", event_id,
                      topic ? topic : "?", missing);
        ct_db_tx_rollback(tx, CT_EUNAVAIL, "read model incomplete");
        return true;
    }
    ct_logc_error(cid, "event %s of %s: %s still unknown after %lld s, skipped", event_id,
                  topic ? topic : "?", missing, (long long)((now_ms - occurred_at_ms) / 1000));
    ct_consume_count(CT_SKIP_ORPHANED, topic);
    ct_db_tx_commit(tx);
    return false;
}
