/* libFuzzer target: arbitrary bytes as a record of a topic billing consumes.
 * The first byte picks the topic, the rest is the record. Checked beyond the
 * sanitizers: the decoder answers 0, CT_EDECODE or CT_EINPUT (with the field
 * named); an accepted delivery has values the rules take, and the invoice
 * computed from it is consistent (incl = excl + VAT, nothing negative, the
 * number and issue date format). Build: CC=clang, -DCITERNE_FUZZ=ON (see
 * tests/billing/CMakeLists.txt); run:
 *   build/fuzz/tests/billing/billing_events_fuzz -max_total_time=60 -max_len=4096 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "citerne/error.h"
#include "citerne/id.h"
#include "citerne/log.h"
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

static const char *const topics[] = {"citerne.accounts.v1", "citerne.orders.v1",
                                     "citerne.telemetry.v1", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *topic = topics[data[0] % 4];
    billing_event_t ev;
    memset(&ev, 0, sizeof ev);
    const char *why = NULL;
    int rc = billing_event_decode(&ev, topic, data + 1, size - 1, &why);
    check(rc == 0 || rc == CT_EDECODE || rc == CT_EINPUT, "decode status");
    check(rc != CT_EINPUT || (why && *why), "a refused field is named");
    if (rc != 0)
        return 0;
    check(ct_uuid_valid(ev.event_id) && ct_uuid_valid(ev.correlation_id), "meta ids");
    if (ev.kind == BILLING_EV_CUSTOMER || ev.kind == BILLING_EV_CONTRACT ||
        ev.kind == BILLING_EV_SITE)
        check(ev.version >= 1, "a read-model event has a version");
    if (ev.kind != BILLING_EV_DELIVERY)
        return 0;
    int y, m, d;
    check(billing_date_parse(ev.u.delivery.delivery_date, &y, &m, &d) == 0, "delivery date");
    check(ev.u.delivery.delivered_kg >= 1 && ev.u.delivery.delivered_kg <= 100000, "kg");

    /* the rules on what the decoder let through, at the dearest price */
    billing_fee_input_t fin = {ev.u.delivery.mode,
                               ev.u.delivery.speed,
                               (billing_segment_t)(data[0] / 4 % 2),
                               (billing_plan_t)(data[0] / 8 % 4),
                               ev.u.delivery.ordered_kg,
                               m,
                               d};
    billing_delivery_t dl = {ev.u.delivery.delivered_kg, 10000000, billing_fee(&fin)};
    billing_invoice_t inv;
    billing_invoice_for_delivery(&dl, &inv);
    check(inv.nlines >= 1 && inv.nlines <= 2, "lines");
    check(inv.total_excl_cents > 0 && inv.total_vat_cents >= 0, "totals positive");
    check(inv.total_incl_cents == inv.total_excl_cents + inv.total_vat_cents, "incl");
    char issue[BILLING_DATE_SIZE];
    int year;
    check(billing_issue_date(ev.u.delivery.delivery_date, issue, &year) == 0 ||
              strcmp(ev.u.delivery.delivery_date, "9999-12-31") == 0,
          "issue date");
    return 0;
}
