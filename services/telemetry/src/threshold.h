/* Threshold episodes of a tank: pure rules, no I/O.
 *
 * A site is "armed" until a reading goes below its threshold: that reading
 * fires TankThresholdCrossed and disarms the site (one event per episode).
 * The site re-arms when a later reading is at or above the threshold plus
 * TELEMETRY_REARM_POINTS (a refill); readings in between, however low or
 * noisy, fire nothing. A reading older than the latest one processed for the
 * site is kept by the caller but changes nothing here. A new threshold from
 * the back office may open an episode at once (telemetry_threshold_changed)
 * but never closes one. */
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

/* The site's threshold is now threshold_pct; last_level_pct is the level of
 * the latest processed reading (read only when ep->has_last). An armed site
 * whose latest level is below the new threshold crosses now: returns
 * TELEMETRY_STEP_CROSSED and disarms ep (the caller emits the event with
 * that reading), since the tank is low by the customer's new measure and
 * the next reading may be a week away. Otherwise TELEMETRY_STEP_NONE and ep
 * unchanged: a site with no reading waits for one, and an open episode stays
 * open whatever the new threshold (it fired already; only a reading at or
 * above the re-arm level of the threshold then in force ends it). */
telemetry_step_t telemetry_threshold_changed(telemetry_episode_t *ep, int threshold_pct,
                                             int last_level_pct);

#endif
