/* The quantity proposed at a threshold crossing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "quantity.h"

static void proposal_fills_to_85_pct_rounded_down_to_10_kg_at_least_200(void **state)
{
    (void)state;
    static const struct {
        int capacity, level, want;
        const char *why;
    } cases[] = {
        {1000, 30, 550, "exact multiple of 10"},      {1000, 29, 560, "one point lower"},
        {1750, 30, 960, "962.5 rounds down to 960"},  {1750, 25, 1050, "exact"},
        {2350, 17, 1590, "1598 rounds down to 1590"}, {3200, 0, 2720, "empty tank"},
        {500, 30, 270, "275 rounds down to 270"},     {500, 45, 200, "exactly the minimum"},
        {500, 50, 200, "175 raised to the minimum"},  {1000, 70, 200, "150 raised to the minimum"},
        {1000, 84, 200, "10 raised to the minimum"},  {1000, 85, 200, "already at 85%: minimum"},
        {1000, 100, 200, "full tank: minimum"},       {35000, 10, 26250, "large business tank"},
        {999, 1, 830, "839.16 rounds down to 830"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = orders_quantity_proposed(cases[i].capacity, cases[i].level);
        if (got != cases[i].want)
            fail_msg("%d kg at %d%% (%s): got %d, want %d", cases[i].capacity, cases[i].level,
                     cases[i].why, got, cases[i].want);
        assert_int_equal(got % ORDERS_QUANTITY_STEP_KG, 0);
        assert_true(got >= ORDERS_MIN_QUANTITY_KG);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(proposal_fills_to_85_pct_rounded_down_to_10_kg_at_least_200),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
