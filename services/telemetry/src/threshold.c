#include "threshold.h"

void telemetry_episode_init(telemetry_episode_t *ep)
{
    ep->armed = true;
    ep->has_last = false;
    ep->last_measured_ms = 0;
}

int telemetry_rearm_level(int threshold_pct)
{
    int level = threshold_pct + TELEMETRY_REARM_POINTS;
    return level > 100 ? 100 : level;
}

telemetry_step_t telemetry_threshold_step(telemetry_episode_t *ep, int threshold_pct, int level_pct,
                                          int64_t measured_ms)
{
    /* A late reading (gateway backlog, customer typing an old gauge value)
     * must not re-open or close an episode that newer readings decided. */
    if (ep->has_last && measured_ms < ep->last_measured_ms)
        return TELEMETRY_STEP_STALE;
    ep->has_last = true;
    ep->last_measured_ms = measured_ms;

    if (ep->armed) {
        if (level_pct < threshold_pct) {
            ep->armed = false;
            return TELEMETRY_STEP_CROSSED;
        }
        return TELEMETRY_STEP_NONE;
    }
    if (level_pct >= telemetry_rearm_level(threshold_pct)) {
        ep->armed = true;
        return TELEMETRY_STEP_REARMED;
    }
    return TELEMETRY_STEP_NONE;
}

telemetry_step_t telemetry_threshold_changed(telemetry_episode_t *ep, int threshold_pct,
                                             int last_level_pct)
{
    /* Re-arming here instead would fire a second episode on the next low
     * reading while the first one's delivery is still on its way. */
    if (!ep->armed || !ep->has_last || last_level_pct >= threshold_pct)
        return TELEMETRY_STEP_NONE;
    ep->armed = false;
    return TELEMETRY_STEP_CROSSED;
}
