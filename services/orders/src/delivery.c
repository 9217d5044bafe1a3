#include "delivery.h"

#include <stddef.h>
#include <string.h>

#include "calendar.h"

const char *const orders_speeds[] = {"standard", "express_8d", "express_48h", "express_24h", NULL};

int orders_speed_working_days(const char *speed)
{
    static const int days[] = {10, 5, 2, 1};
    for (size_t i = 0; speed && orders_speeds[i]; i++)
        if (strcmp(speed, orders_speeds[i]) == 0)
            return days[i];
    return -1;
}

int32_t orders_delivery_day(int32_t ordered_on, const char *speed)
{
    int n = orders_speed_working_days(speed);
    if (n < 0)
        return -1;
    return orders_add_working_days(ordered_on, n);
}

int32_t orders_automatic_delivery_day(int32_t crossing_day, int32_t today)
{
    int32_t day = orders_add_working_days(crossing_day, ORDERS_AUTOMATIC_WORKING_DAYS);
    /* a crossing handled late (backlog, gateway offline for days) must not
     * be scheduled today or in the past: count from today instead */
    if (day <= today)
        day = orders_add_working_days(today, ORDERS_AUTOMATIC_WORKING_DAYS);
    return day;
}

bool orders_must_wait_certificate(bool certificate_received, bool delivered_before)
{
    return !certificate_received && !delivered_before;
}

int32_t orders_release_day(bool automatic, const char *speed, int32_t today)
{
    return automatic ? orders_automatic_delivery_day(today, today)
                     : orders_delivery_day(today, speed);
}
