/* The quantity proposed when a tank crosses its threshold: pure rule. */
#ifndef ORDERS_QUANTITY_H
#define ORDERS_QUANTITY_H

/* Smallest delivery (the supplier's minimum order), kg. */
#define ORDERS_MIN_QUANTITY_KG 200
/* Tanks are filled to 85% of their capacity (room for the gas to expand). */
#define ORDERS_FILL_PCT 85
/* Proposed quantities are whole multiples of this, kg. */
#define ORDERS_QUANTITY_STEP_KG 10

/* Gas to bring a tank of capacity_kg at level_pct (0..100) up to 85%:
 * capacity * 85% - capacity * level%, rounded down to 10 kg, at least
 * 200 kg (also when the tank is already at or above 85%). capacity_kg > 0. */
int orders_quantity_proposed(int capacity_kg, int level_pct);

#endif
