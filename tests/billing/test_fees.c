/* The delivery fee table (DOMAIN.md): every cell, both seasons, every plan,
 * both segments, both bands, boundary dates and quantities. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fees.h"

typedef struct {
    const char *name;
    billing_fee_input_t in;
    int64_t amount_excl_cents;
    billing_speed_t billed_speed;
    bool downgraded;
} fee_case_t;

/* Expected values are the booklet's, excl. VAT, in cents. */
static const fee_case_t cases[] = {
    {"on_demand_household_none_standard_199kg_0401", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 199, 4, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_199kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 199, 7, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_199kg_0930", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 199, 9, 30}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_200kg_0401", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 4, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_200kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 7, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_200kg_0930", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 9, 30}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_399kg_0401", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 399, 4, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_399kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 399, 7, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_399kg_0930", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 399, 9, 30}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_400kg_0401", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 4, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_400kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 7, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_400kg_0930", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 9, 30}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_1000kg_0401", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 1000, 4, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_1000kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 1000, 7, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_1000kg_0930", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 1000, 9, 30}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_199kg_0401", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 199, 4, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_199kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 199, 7, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_199kg_0930", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 199, 9, 30}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_200kg_0401", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 4, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_200kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 7, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_200kg_0930", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 9, 30}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_399kg_0401", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 399, 4, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_399kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 399, 7, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_399kg_0930", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 399, 9, 30}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_400kg_0401", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 4, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_400kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 7, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_400kg_0930", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 9, 30}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_1000kg_0401", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 1000, 4, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_1000kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 1000, 7, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_1000kg_0930", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 1000, 9, 30}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_199kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 199, 10, 1}, 2500, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_199kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 199, 1, 15}, 2500, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_199kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 199, 3, 31}, 2500, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_200kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 10, 1}, 2500, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_200kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 1, 15}, 2500, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_200kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 3, 31}, 2500, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_399kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 399, 10, 1}, 2500, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_399kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 399, 1, 15}, 2500, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_399kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 399, 3, 31}, 2500, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_400kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 10, 1}, 1250, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_400kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 1, 15}, 1250, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_400kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 3, 31}, 1250, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_1000kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 1000, 10, 1}, 1250, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_1000kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 1000, 1, 15}, 1250, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_standard_1000kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 1000, 3, 31}, 1250, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_preference_standard_200kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PREFERENCE, 200, 10, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_preference_standard_200kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PREFERENCE, 200, 3, 31}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_preference_standard_400kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PREFERENCE, 400, 10, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_preference_standard_400kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PREFERENCE, 400, 3, 31}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_privilege_standard_200kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PRIVILEGE, 200, 10, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_privilege_standard_200kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PRIVILEGE, 200, 3, 31}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_privilege_standard_400kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PRIVILEGE, 400, 10, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_privilege_standard_400kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PRIVILEGE, 400, 3, 31}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_pacte_maintenance_standard_200kg_1201", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PACTE_MAINTENANCE, 200, 12, 1}, 2500, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_pacte_maintenance_standard_400kg_1201", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PACTE_MAINTENANCE, 400, 12, 1}, 1250, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_200kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 10, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_200kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 1, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_200kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 3, 31}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_399kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 399, 10, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_399kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 399, 1, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_399kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 399, 3, 31}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_400kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 10, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_400kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 1, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_none_standard_400kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 3, 31}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_pacte_maintenance_standard_200kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PACTE_MAINTENANCE, 200, 10, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_pacte_maintenance_standard_200kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PACTE_MAINTENANCE, 200, 1, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_pacte_maintenance_standard_200kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PACTE_MAINTENANCE, 200, 3, 31}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_pacte_maintenance_standard_399kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PACTE_MAINTENANCE, 399, 10, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_pacte_maintenance_standard_399kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PACTE_MAINTENANCE, 399, 1, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_pacte_maintenance_standard_399kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PACTE_MAINTENANCE, 399, 3, 31}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_pacte_maintenance_standard_400kg_1001", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PACTE_MAINTENANCE, 400, 10, 1}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_pacte_maintenance_standard_400kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PACTE_MAINTENANCE, 400, 1, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_business_pacte_maintenance_standard_400kg_0331", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PACTE_MAINTENANCE, 400, 3, 31}, 0, BILLING_SPEED_STANDARD, false},
    {"on_demand_household_none_express_8d_199kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 199, 7, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_48h_199kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 199, 7, 15}, 12500, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_household_none_express_8d_199kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 199, 1, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_48h_199kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 199, 1, 15}, 12500, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_household_preference_express_8d_199kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PREFERENCE, 199, 1, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_8d_200kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 7, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_48h_200kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 7, 15}, 12500, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_household_none_express_8d_200kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 1, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_48h_200kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 1, 15}, 12500, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_household_preference_express_8d_200kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PREFERENCE, 200, 1, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_8d_399kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 399, 7, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_48h_399kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 399, 7, 15}, 12500, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_household_none_express_8d_399kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 399, 1, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_48h_399kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 399, 1, 15}, 12500, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_household_preference_express_8d_399kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PREFERENCE, 399, 1, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_8d_400kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 7, 15}, 4167, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_48h_400kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 7, 15}, 8333, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_household_none_express_8d_400kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 1, 15}, 4167, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_48h_400kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 1, 15}, 8333, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_household_preference_express_8d_400kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PREFERENCE, 400, 1, 15}, 4167, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_8d_1000kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 1000, 7, 15}, 4167, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_48h_1000kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 1000, 7, 15}, 8333, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_household_none_express_8d_1000kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 1000, 1, 15}, 4167, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_household_none_express_48h_1000kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 1000, 1, 15}, 8333, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_household_preference_express_8d_1000kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PREFERENCE, 1000, 1, 15}, 4167, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_8d_199kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 199, 7, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_48h_199kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 199, 7, 15}, 12500, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_business_none_express_8d_199kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 199, 1, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_48h_199kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 199, 1, 15}, 12500, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_business_preference_express_8d_199kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PREFERENCE, 199, 1, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_8d_200kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 7, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_48h_200kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 7, 15}, 12500, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_business_none_express_8d_200kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 1, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_48h_200kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 1, 15}, 12500, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_business_preference_express_8d_200kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PREFERENCE, 200, 1, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_8d_399kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 399, 7, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_48h_399kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 399, 7, 15}, 12500, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_business_none_express_8d_399kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 399, 1, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_48h_399kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 399, 1, 15}, 12500, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_business_preference_express_8d_399kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PREFERENCE, 399, 1, 15}, 6250, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_8d_400kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 7, 15}, 4167, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_48h_400kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 7, 15}, 8333, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_business_none_express_8d_400kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 1, 15}, 4167, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_48h_400kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 1, 15}, 8333, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_business_preference_express_8d_400kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PREFERENCE, 400, 1, 15}, 4167, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_8d_1000kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 1000, 7, 15}, 4167, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_48h_1000kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 1000, 7, 15}, 8333, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_business_none_express_8d_1000kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 1000, 1, 15}, 4167, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_48h_1000kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 1000, 1, 15}, 8333, BILLING_SPEED_EXPRESS_48H, false},
    {"on_demand_business_preference_express_8d_1000kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_PREFERENCE, 1000, 1, 15}, 4167, BILLING_SPEED_EXPRESS_8D, false},
    {"on_demand_business_none_express_24h_199kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 199, 7, 15}, 20000, BILLING_SPEED_EXPRESS_24H, false},
    {"on_demand_business_none_express_24h_199kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 199, 1, 15}, 20000, BILLING_SPEED_EXPRESS_24H, false},
    {"on_demand_business_none_express_24h_200kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 7, 15}, 20000, BILLING_SPEED_EXPRESS_24H, false},
    {"on_demand_business_none_express_24h_200kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 1, 15}, 20000, BILLING_SPEED_EXPRESS_24H, false},
    {"on_demand_business_none_express_24h_399kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 399, 7, 15}, 20000, BILLING_SPEED_EXPRESS_24H, false},
    {"on_demand_business_none_express_24h_399kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 399, 1, 15}, 20000, BILLING_SPEED_EXPRESS_24H, false},
    {"on_demand_business_none_express_24h_400kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 7, 15}, 16667, BILLING_SPEED_EXPRESS_24H, false},
    {"on_demand_business_none_express_24h_400kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 1, 15}, 16667, BILLING_SPEED_EXPRESS_24H, false},
    {"on_demand_business_none_express_24h_1000kg_0715", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 1000, 7, 15}, 16667, BILLING_SPEED_EXPRESS_24H, false},
    {"on_demand_business_none_express_24h_1000kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 1000, 1, 15}, 16667, BILLING_SPEED_EXPRESS_24H, false},
    {"on_demand_household_none_express_24h_200kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 1, 15}, 12500, BILLING_SPEED_EXPRESS_48H, true},
    {"on_demand_household_none_express_24h_399kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 399, 1, 15}, 12500, BILLING_SPEED_EXPRESS_48H, true},
    {"on_demand_household_none_express_24h_400kg_0115", {BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 1, 15}, 8333, BILLING_SPEED_EXPRESS_48H, true},
    {"automatic_household_none_standard_200kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 1, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"automatic_household_none_standard_400kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 1, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"automatic_household_none_express_8d_200kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 1, 15}, 0, BILLING_SPEED_EXPRESS_8D, false},
    {"automatic_household_none_express_8d_400kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 1, 15}, 0, BILLING_SPEED_EXPRESS_8D, false},
    {"automatic_household_none_express_48h_200kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 1, 15}, 0, BILLING_SPEED_EXPRESS_48H, false},
    {"automatic_household_none_express_48h_400kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 1, 15}, 0, BILLING_SPEED_EXPRESS_48H, false},
    {"automatic_household_none_express_24h_200kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, 1, 15}, 0, BILLING_SPEED_EXPRESS_24H, false},
    {"automatic_household_none_express_24h_400kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 400, 1, 15}, 0, BILLING_SPEED_EXPRESS_24H, false},
    {"automatic_business_none_standard_200kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 1, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"automatic_business_none_standard_400kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_STANDARD, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 1, 15}, 0, BILLING_SPEED_STANDARD, false},
    {"automatic_business_none_express_8d_200kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 1, 15}, 0, BILLING_SPEED_EXPRESS_8D, false},
    {"automatic_business_none_express_8d_400kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 1, 15}, 0, BILLING_SPEED_EXPRESS_8D, false},
    {"automatic_business_none_express_48h_200kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 1, 15}, 0, BILLING_SPEED_EXPRESS_48H, false},
    {"automatic_business_none_express_48h_400kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 1, 15}, 0, BILLING_SPEED_EXPRESS_48H, false},
    {"automatic_business_none_express_24h_200kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 1, 15}, 0, BILLING_SPEED_EXPRESS_24H, false},
    {"automatic_business_none_express_24h_400kg_0115", {BILLING_MODE_AUTOMATIC, BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 400, 1, 15}, 0, BILLING_SPEED_EXPRESS_24H, false},
};

static void check_case(const fee_case_t *c)
{
    billing_fee_t f = billing_fee(&c->in);
    if (f.amount_excl_cents != c->amount_excl_cents)
        fail_msg("%s: fee %lld, expected %lld", c->name, (long long)f.amount_excl_cents,
                 (long long)c->amount_excl_cents);
    if (f.billed_speed != c->billed_speed)
        fail_msg("%s: billed speed %s, expected %s", c->name, billing_speed_name(f.billed_speed),
                 billing_speed_name(c->billed_speed));
    if (f.downgraded != c->downgraded)
        fail_msg("%s: downgraded %d, expected %d", c->name, f.downgraded, c->downgraded);
    if ((f.label != NULL) != (c->amount_excl_cents > 0))
        fail_msg("%s: a fee line has a label exactly when it is not free", c->name);
}

static void every_cell_of_the_fee_table_matches_the_booklet(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
}

static billing_fee_t fee(billing_mode_t mode, billing_speed_t speed, billing_segment_t seg,
                         billing_plan_t plan, int kg, int month, int day)
{
    billing_fee_input_t in = {mode, speed, seg, plan, kg, month, day};
    return billing_fee(&in);
}

static void fee_is_free_for_15_days_in_summer(void **state)
{
    (void)state;
    for (int m = 4; m <= 9; m++)
        assert_int_equal(fee(BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD,
                             BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 200, m, 15)
                             .amount_excl_cents,
                         0);
}

static void season_changes_on_1_april_and_1_october(void **state)
{
    (void)state;
    struct {
        int month, day;
        int64_t fee;
    } dates[] = {{3, 31, 1250}, {4, 1, 0}, {9, 30, 0}, {10, 1, 1250}, {12, 31, 1250}, {1, 1, 1250}};
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        billing_fee_t f = fee(BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD,
                              BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 500, dates[i].month,
                              dates[i].day);
        assert_int_equal(f.amount_excl_cents, dates[i].fee);
    }
    assert_false(billing_is_winter(4));
    assert_false(billing_is_winter(9));
    assert_true(billing_is_winter(10));
    assert_true(billing_is_winter(3));
}

static void band_changes_at_400_kg(void **state)
{
    (void)state;
    struct {
        int kg;
        int64_t fee;
    } q[] = {{199, 6250}, {200, 6250}, {399, 6250}, {400, 4167}, {401, 4167}};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        assert_int_equal(fee(BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_8D,
                             BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, q[i].kg, 6, 1)
                             .amount_excl_cents,
                         q[i].fee);
}

static void preference_or_privilege_makes_winter_15_days_free_for_households(void **state)
{
    (void)state;
    assert_int_equal(fee(BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD,
                         BILLING_PLAN_PREFERENCE, 250, 1, 10)
                         .amount_excl_cents,
                     0);
    assert_int_equal(fee(BILLING_MODE_ON_DEMAND, BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD,
                         BILLING_PLAN_PRIVILEGE, 250, 1, 10)
                         .amount_excl_cents,
                     0);
    /* the plan does not cover express speeds */
    assert_int_equal(fee(BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_48H,
                         BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_PREFERENCE, 250, 1, 10)
                         .amount_excl_cents,
                     12500);
}

static void household_at_24h_is_billed_as_48h(void **state)
{
    (void)state;
    billing_fee_t f = fee(BILLING_MODE_ON_DEMAND, BILLING_SPEED_EXPRESS_24H,
                          BILLING_SEGMENT_HOUSEHOLD, BILLING_PLAN_NONE, 500, 2, 2);
    assert_int_equal(f.amount_excl_cents, 8333);
    assert_int_equal(f.billed_speed, BILLING_SPEED_EXPRESS_48H);
    assert_true(f.downgraded);
    assert_string_equal(f.label, "Frais de livraison express sous 48 h");
}

static void automatic_delivery_is_free_whatever_the_speed(void **state)
{
    (void)state;
    billing_fee_t f = fee(BILLING_MODE_AUTOMATIC, BILLING_SPEED_EXPRESS_24H,
                          BILLING_SEGMENT_BUSINESS, BILLING_PLAN_NONE, 200, 1, 1);
    assert_int_equal(f.amount_excl_cents, 0);
    assert_null(f.label);
}

static void fee_lines_are_labelled_in_french_by_speed(void **state)
{
    (void)state;
    struct {
        billing_speed_t speed;
        billing_segment_t segment;
        const char *label;
    } l[] = {
        /* the 15-day speed is paid by households in winter only */
        {BILLING_SPEED_STANDARD, BILLING_SEGMENT_HOUSEHOLD, "Frais de livraison sous 15 jours"},
        {BILLING_SPEED_EXPRESS_8D, BILLING_SEGMENT_BUSINESS,
         "Frais de livraison express sous 8 jours"},
        {BILLING_SPEED_EXPRESS_48H, BILLING_SEGMENT_BUSINESS,
         "Frais de livraison express sous 48 h"},
        {BILLING_SPEED_EXPRESS_24H, BILLING_SEGMENT_BUSINESS,
         "Frais de livraison express sous 24 h"},
    };
    for (size_t i = 0; i < sizeof l / sizeof l[0]; i++) {
        billing_fee_t f = fee(BILLING_MODE_ON_DEMAND, l[i].speed, l[i].segment, BILLING_PLAN_NONE,
                              200, 1, 1);
        assert_non_null(f.label);
        assert_string_equal(f.label, l[i].label);
    }
}

static void event_strings_parse_and_unknown_ones_are_refused(void **state)
{
    (void)state;
    billing_speed_t sp;
    billing_segment_t seg;
    billing_mode_t mode;
    billing_plan_t plan;
    assert_int_equal(billing_speed_parse("express_24h", &sp), 0);
    assert_int_equal(sp, BILLING_SPEED_EXPRESS_24H);
    assert_int_equal(billing_speed_parse("standard", &sp), 0);
    assert_int_equal(sp, BILLING_SPEED_STANDARD);
    assert_int_equal(billing_speed_parse("express_12h", &sp), -1);
    assert_int_equal(billing_speed_parse(NULL, &sp), -1);
    assert_int_equal(billing_segment_parse("business", &seg), 0);
    assert_int_equal(seg, BILLING_SEGMENT_BUSINESS);
    assert_int_equal(billing_segment_parse("Business", &seg), -1);
    assert_int_equal(billing_mode_parse("on_demand", &mode), 0);
    assert_int_equal(mode, BILLING_MODE_ON_DEMAND);
    assert_int_equal(billing_mode_parse("", &mode), -1);
    assert_int_equal(billing_plan_parse("privilege", &plan), 0);
    assert_int_equal(plan, BILLING_PLAN_PRIVILEGE);
    assert_int_equal(billing_plan_parse("gold", &plan), -1);
    assert_string_equal(billing_speed_name(BILLING_SPEED_EXPRESS_8D), "express_8d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_cell_of_the_fee_table_matches_the_booklet),
        cmocka_unit_test(fee_is_free_for_15_days_in_summer),
        cmocka_unit_test(season_changes_on_1_april_and_1_october),
        cmocka_unit_test(band_changes_at_400_kg),
        cmocka_unit_test(preference_or_privilege_makes_winter_15_days_free_for_households),
        cmocka_unit_test(household_at_24h_is_billed_as_48h),
        cmocka_unit_test(automatic_delivery_is_free_whatever_the_speed),
        cmocka_unit_test(fee_lines_are_labelled_in_french_by_speed),
        cmocka_unit_test(event_strings_parse_and_unknown_ones_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
