/* libFuzzer target: arbitrary bytes as an accounts record telemetry
 * consumes, and as the measured_at text of a reading. Checked beyond the
 * sanitizers: the decoder answers 0, CT_EDECODE or CT_EINPUT (with a
 * reason); a time that parses survives a format/parse round trip. Build:
 * CC=clang, -DCITERNE_FUZZ=ON (see tests/telemetry/CMakeLists.txt); run:
 *   build/fuzz/tests/telemetry/telemetry_events_fuzz -max_total_time=60 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/log.h"

#include "events.h"
#include "rfc3339.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    telemetry_event_t *ev = NULL;
    const char *why = NULL;
    int rc = telemetry_event_decode(data, size, "citerne.telemetry.v1", &ev, &why);
    check(rc == 0 || rc == CT_EDECODE || rc == CT_EINPUT, "decode status");
    check(rc == 0 || (why && *why && !ev), "a refusal says why and yields nothing");
    if (rc == 0) {
        check(ev && ct_uuid_valid(telemetry_event_id(ev)), "accepted records have an event id");
        telemetry_event_free(ev);
    }

    char text[48];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    int64_t ms;
    if (telemetry_rfc3339_parse(text, &ms) == 0) {
        check(ms >= 0, "times are after 1970");
        char back[40];
        int64_t again;
        telemetry_rfc3339_format(ms, back, sizeof back);
        check(telemetry_rfc3339_parse(back, &again) == 0 && again == ms, "round trip");
    }
    return 0;
}
