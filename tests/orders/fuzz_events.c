/* libFuzzer target: arbitrary bytes as a record orders consumes, and as a
 * date typed by a driver. The first byte picks the topic (accounts,
 * telemetry, or one orders does not consume), the rest is the record.
 * Checked beyond the sanitizers: the decoder answers 0, CT_EDECODE or
 * CT_EINPUT (with a reason), an accepted record has a valid event id; a date
 * that parses formats back to the same text. Build: CC=clang,
 * -DCITERNE_FUZZ=ON (see tests/orders/CMakeLists.txt); run:
 *   build/fuzz/tests/orders/orders_events_fuzz -max_total_time=60 -max_len=4096 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/log.h"

#include "calendar.h"
#include "events.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ct_log_init("fuzz", CT_LOG_OFF);
    return 0;
}

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static const char *const topics[] = {"citerne.accounts.v1", "citerne.telemetry.v1",
                                     "citerne.orders.v1"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    orders_app_t app = {0};
    orders_event_t *ev = NULL;
    const char *why = NULL;
    int rc = orders_event_decode(&app, topics[data[0] % 3], data + 1, size - 1, &ev, &why);
    check(rc == 0 || rc == CT_EDECODE || rc == CT_EINPUT, "decode status");
    check(rc == 0 || (why && *why && !ev), "a refusal says why and yields nothing");
    if (rc == 0) {
        check(ev && ct_uuid_valid(orders_event_id(ev)), "accepted records have an event id");
        orders_event_free(ev);
    }

    char text[32];
    size_t n = size - 1 < sizeof text - 1 ? size - 1 : sizeof text - 1;
    memcpy(text, data + 1, n);
    text[n] = '\0';
    int32_t day;
    if (orders_date_parse(text, &day) == 0) {
        char back[16];
        orders_date_format(day, back, sizeof back);
        check(strcmp(back, text) == 0, "a parsed date formats back to itself");
        check(orders_is_working_day(orders_add_working_days(day, data[0] % 12)),
              "adding working days lands on a working day");
    }
    return 0;
}
