#include "quantity.h"

int orders_quantity_proposed(int capacity_kg, int level_pct)
{
    if (level_pct >= ORDERS_FILL_PCT)
        return ORDERS_MIN_QUANTITY_KG;
    /* integer arithmetic: capacity * (85 - level) / 100 is exact before the
     * floor, so 1000 kg at 30% gives 550, not 549.99... */
    long long kg = (long long)capacity_kg * (ORDERS_FILL_PCT - level_pct) / 100;
    kg -= kg % ORDERS_QUANTITY_STEP_KG;
    return kg < ORDERS_MIN_QUANTITY_KG ? ORDERS_MIN_QUANTITY_KG : (int)kg;
}
