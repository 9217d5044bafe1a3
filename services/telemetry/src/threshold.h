/* Threshold episodes of a tank: pure rules, no I/O.
 *
 * A site is "armed" until a reading goes below its threshold: that reading
 * fires TankThresholdCrossed and disarms the site (one event per episode).
 * The site re-arms when a later reading is at or above the threshold plus
 * TELEMETRY_REARM_POINTS (a refill); readings in between, however low or
 * noisy, fire nothing. A reading older than the latest one processed for the
 * site is kept by the caller but changes nothing here. */
#ifndef TELEMETRY_THRESHOLD_H
#define TELEMETRY_THRESHOLD_H

#include <stdbool.h>
#include <stdint.h>

/* Points above the threshold a reading must reach to re-arm an episode. */
#define TELEMETRY_REARM_POINTS 10

/* The episode state of one site, as stored in its row. */
typedef struct {
    bool armed;               /* the next reading below threshold fires */
    bool has_last;            /* a reading was processed already */
    int64_t last_measured_ms; /* measured_at of the latest processed reading */
} telemetry_episode_t;

typedef enum {
    TELEMETRY_STEP_STALE = 0, /* older than the latest processed: no change */
    TELEMETRY_STEP_NONE,      /* processed, episode unchanged */
    TELEMETRY_STEP_CROSSED,   /* went below the threshold: emit the event */
    TELEMETRY_STEP_REARMED,   /* refilled: the next crossing will fire */
} telemetry_step_t;

/* State of a site that has seen no reading yet: armed. */
void telemetry_episode_init(telemetry_episode_t *ep);

/* Level (percent) at or above which a disarmed site re-arms:
 * threshold + TELEMETRY_REARM_POINTS, capped at 100 so a high threshold can
 * still re-arm on a full tank. */
int telemetry_rearm_level(int threshold_pct);

/* Applies one reading (level_pct 0..100 measured at measured_ms) to ep for a
 * site whose threshold is threshold_pct, and says what happened. Readings of
 * one site must be fed in measured_at order for a batch; equal times are
 * processed, strictly older ones are stale. */
telemetry_step_t telemetry_threshold_step(telemetry_episode_t *ep, int threshold_pct, int level_pct,
                                          int64_t measured_ms);

#endif
