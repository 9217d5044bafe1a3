/* Delivery speeds and dates: pure rules on top of the calendar. */
#ifndef ORDERS_DELIVERY_H
#define ORDERS_DELIVERY_H

#include <stdbool.h>
#include <stdint.h>

/* The speeds a customer can choose, as on the wire ("standard", ...),
 * NULL-terminated (for ct_valid_enum). */
extern const char *const orders_speeds[];

/* Working days between the day of the order and the delivery for a speed:
 * standard 10, express_8d 5, express_48h 2, express_24h 1; -1 for an unknown
 * speed. */
int orders_speed_working_days(const char *speed);

/* Working days after the crossing date of an automatic order. */
#define ORDERS_AUTOMATIC_WORKING_DAYS 2

/* Delivery day of an order placed on day `ordered_on` at `speed`: the n-th
 * working day after it (see orders_speed_working_days). -1 for an unknown
 * speed. */
int32_t orders_delivery_day(int32_t ordered_on, const char *speed);

/* Delivery day of an automatic order for a crossing on `crossing_day` handled
 * on `today`: the first working day at least 2 working days after the
 * crossing day; when that day is today or already past (a crossing handled
 * late), 2 working days after today instead. */
int32_t orders_automatic_delivery_day(int32_t crossing_day, int32_t today);

/* No first delivery without a certificate of conformity: an order of a site
 * is held (status awaiting_certificate) instead of scheduled when the site's
 * certificate is not received and the site never had a delivered order. */
bool orders_must_wait_certificate(bool certificate_received, bool delivered_before);

/* Delivery day of a held order released on `today` (the certificate came):
 * counted from today as if the order were placed then: an automatic order
 * 2 working days after today, an on-demand one by its speed
 * (orders_delivery_day). -1 for an unknown speed of an on-demand order. */
int32_t orders_release_day(bool automatic, const char *speed, int32_t today);

#endif
