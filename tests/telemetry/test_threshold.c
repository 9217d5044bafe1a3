/* Threshold episodes: one event per episode, re-armed by a refill, late
 * readings ignored, a new threshold crossing at once. Each case feeds a
 * sequence of readings to a fresh site and checks the step of each one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "threshold.h"

#define C TELEMETRY_STEP_CROSSED
#define N TELEMETRY_STEP_NONE
#define R TELEMETRY_STEP_REARMED
#define S TELEMETRY_STEP_STALE

typedef struct {
    int level;
    int64_t at; /* minutes, any origin */
    telemetry_step_t want;
} reading_t;

typedef struct {
    const char *name;
    int threshold;
    reading_t readings[10];
    size_t n;
    bool armed_after;
} episode_case_t;

static const episode_case_t cases[] = {
    {"first crossing fires", 30, {{45, 1, N}, {29, 2, C}}, 2, false},
    {"a first reading already below fires", 30, {{12, 1, C}}, 1, false},
    {"level equal to the threshold does not fire", 30, {{30, 1, N}, {30, 2, N}}, 2, true},
    {"further lows in the episode do not fire",
     30,
     {{40, 1, N}, {28, 2, C}, {25, 3, N}, {20, 4, N}, {5, 5, N}},
     5,
     false},
    {"a small rise below the hysteresis does not re-arm",
     30,
     {{29, 1, C}, {33, 2, N}, {39, 3, N}, {28, 4, N}, {31, 5, N}, {27, 6, N}},
     6,
     false},
    {"noise around the threshold fires once",
     30,
     {{31, 1, N}, {29, 2, C}, {31, 3, N}, {29, 4, N}, {30, 5, N}, {29, 6, N}},
     6,
     false},
    {"a refill to threshold + 10 re-arms and the next crossing fires",
     30,
     {{29, 1, C}, {40, 2, R}, {35, 3, N}, {29, 4, C}},
     4,
     false},
    {"a refill to 80% re-arms", 30, {{20, 1, C}, {80, 2, R}, {60, 3, N}}, 3, true},
    {"a re-armed site stays armed above the threshold",
     30,
     {{20, 1, C}, {85, 2, R}, {50, 3, N}, {30, 4, N}},
     4,
     true},
    {"an out-of-order low reading does not fire again",
     30,
     {{29, 10, C}, {85, 20, R}, {10, 15, S}, {70, 30, N}},
     4,
     true},
    {"an out-of-order refill does not re-arm",
     30,
     {{50, 10, N}, {25, 20, C}, {90, 15, S}, {24, 30, N}},
     4,
     false},
    {"an out-of-order low reading before the first crossing does not fire",
     30,
     {{60, 10, N}, {10, 5, S}, {55, 11, N}},
     3,
     true},
    {"a reading at the same time as the latest is processed",
     30,
     {{50, 10, N}, {20, 10, C}},
     2,
     false},
    {"a high threshold re-arms at 100%",
     95,
     {{94, 1, C}, {99, 2, N}, {100, 3, R}, {90, 4, C}},
     4,
     false},
    {"threshold 10: re-arm at 20", 10, {{9, 1, C}, {19, 2, N}, {20, 3, R}}, 3, true},
};

static void episodes_fire_once_and_rearm_after_a_refill(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const episode_case_t *c = &cases[i];
        telemetry_episode_t ep;
        telemetry_episode_init(&ep);
        for (size_t j = 0; j < c->n; j++) {
            const reading_t *r = &c->readings[j];
            telemetry_step_t got =
                telemetry_threshold_step(&ep, c->threshold, r->level, r->at * 60000);
            if (got != r->want)
                fail_msg("%s: reading %zu (%d%% at %lld): step %d, want %d", c->name, j, r->level,
                         (long long)r->at, (int)got, (int)r->want);
        }
        if (ep.armed != c->armed_after)
            fail_msg("%s: armed %d after the readings, want %d", c->name, ep.armed, c->armed_after);
    }
}

static void a_stale_reading_leaves_the_state_untouched(void **state)
{
    (void)state;
    telemetry_episode_t ep;
    telemetry_episode_init(&ep);
    assert_int_equal(telemetry_threshold_step(&ep, 30, 20, 5000), C);
    telemetry_episode_t before = ep;
    assert_int_equal(telemetry_threshold_step(&ep, 30, 90, 4999), S);
    assert_memory_equal(&ep, &before, sizeof ep);
    assert_int_equal(ep.last_measured_ms, 5000);
}

static void a_new_site_is_armed_with_no_reading(void **state)
{
    (void)state;
    telemetry_episode_t ep;
    memset(&ep, 0xff, sizeof ep);
    telemetry_episode_init(&ep);
    assert_true(ep.armed);
    assert_false(ep.has_last);
    assert_int_equal(telemetry_rearm_level(30), 40);
    assert_int_equal(telemetry_rearm_level(95), 100);
}

/* A new threshold from the back office: only an armed site whose latest
 * level is below it crosses, at once; nothing re-arms. */
static void a_new_threshold_opens_an_episode_only_over_an_armed_site_already_below(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        bool armed, has_last;
        int last_level, threshold;
        telemetry_step_t want;
    } changes[] = {
        {"raised above the last level", true, true, 35, 40, C},
        {"raised to the last level (equal is not below)", true, true, 40, 40, N},
        {"raised but still under the last level", true, true, 60, 50, N},
        {"lowered", true, true, 35, 20, N},
        {"no reading yet", true, false, 0, 90, N},
        {"an open episode does not fire again", false, true, 25, 50, N},
        {"an open episode is not closed by a lower threshold", false, true, 25, 10, N},
    };
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        telemetry_episode_t ep = {changes[i].armed, changes[i].has_last, 600000};
        telemetry_episode_t before = ep;
        telemetry_step_t got =
            telemetry_threshold_changed(&ep, changes[i].threshold, changes[i].last_level);
        if (got != changes[i].want)
            fail_msg("%s: step %d, want %d", changes[i].name, (int)got, (int)changes[i].want);
        if (ep.armed != (got == C ? false : before.armed) || ep.has_last != before.has_last ||
            ep.last_measured_ms != before.last_measured_ms)
            fail_msg("%s: episode armed %d has_last %d last %lld after", changes[i].name, ep.armed,
                     ep.has_last, (long long)ep.last_measured_ms);
    }
    /* after a crossing by threshold, low readings stay in the episode */
    telemetry_episode_t ep = {true, true, 0};
    assert_int_equal(telemetry_threshold_changed(&ep, 40, 35), C);
    assert_int_equal(telemetry_threshold_step(&ep, 40, 30, 60000), N);
    assert_int_equal(telemetry_threshold_step(&ep, 40, 50, 120000), R);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(episodes_fire_once_and_rearm_after_a_refill),
        cmocka_unit_test(a_stale_reading_leaves_the_state_untouched),
        cmocka_unit_test(a_new_site_is_armed_with_no_reading),
        cmocka_unit_test(a_new_threshold_opens_an_episode_only_over_an_armed_site_already_below),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
