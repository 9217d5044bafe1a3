/* An order as the service handles it (a row of `orders`). */
#ifndef ORDERS_ORDER_H
#define ORDERS_ORDER_H

#include <stdbool.h>

#include "citerne/id.h"

typedef struct {
    char order_id[CT_UUID_STRLEN + 1];
    char site_id[CT_UUID_STRLEN + 1];
    char customer_id[CT_UUID_STRLEN + 1];
    char status[24];        /* proposed | awaiting_certificate | scheduled | delivered */
    char delivery_mode[16]; /* automatic | on_demand */
    char speed[16];         /* standard | express_8d | express_48h | express_24h */
    int quantity_kg;        /* proposed, then ordered */
    char delivery_date[11]; /* YYYY-MM-DD, "" while proposed */
    int delivered_kg;       /* 0 until delivered */
    int level_after_pct;    /* -1 until delivered */
    char correlation_id[CT_UUID_STRLEN + 1];
    char last_event_id[CT_UUID_STRLEN + 1];
    char created_at[32];                   /* RFC 3339 UTC */
    char confirmed_by[CT_UUID_STRLEN + 1]; /* user who confirmed it, "" for automatic or not yet */
} orders_order_t;

#endif
