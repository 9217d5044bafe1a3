#!/usr/bin/env python3
"""Crash test: 1,000 deliveries are confirmed while the billing process is
killed with SIGKILL and restarted twice. Afterwards there are exactly 1,000
invoices whose numbers run without gap or duplicate, 1,000 distinct
InvoiceIssued events on citerne.billing.v1, and each invoice e-mail was sent
once.

The relay publishes at least once: a kill between the broker's
acknowledgement and the row being marked sent re-publishes that event with
the same event id, which consumers drop through their inbox. The test
therefore counts distinct event ids (and prints the raw record count)."""

import collections
import os
import re
import signal
import sys
import time

import harness
from harness import check, wait_until

N = int(os.environ.get("CITERNE_CRASH_DELIVERIES", "1000"))
CUSTOMERS = 10
KILL_AT = (N * 3 // 10, N * 6 // 10)


def setup(system):
    sites = []
    customers = []
    per = (N + CUSTOMERS - 1) // CUSTOMERS
    for i in range(CUSTOMERS):
        c = system.create_customer("C%06d" % (500 + i), mode="automatic", capacity=1000,
                                   email="crash%d@example.test" % i, phone=None, wait=False)
        customers.append(c)
        sites.append(c["site"]["id"])
        for _ in range(per - 1):
            if len(sites) >= N:
                break
            r = system.op("accounts", "POST", "/api/v1/accounts/sites",
                          {"contract_id": c["contract"]["id"], "capacity_kg": 1000,
                           "threshold_pct": 30, "address": "Zone artisanale, lot %d" % len(sites),
                           "certificate_received": True})
            check(r.status == 201, "site: %r" % r)
            sites.append(r.json["id"])
    sites = sites[:N]
    # a customer's sites share a partition (key: customer id), in order: once
    # telemetry knows the last one, it knows them all
    for k in range(0, N, per):
        system.wait_site_known(sites[min(k + per, N) - 1])
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for i in range(0, N, 500):
        batch = [{"site_id": s, "level_pct": 20, "measured_at": stamp}
                 for s in sites[i:i + 500]]
        r = system.request("telemetry", "POST", "/api/v1/telemetry/readings",
                           {"readings": batch}, key="CITERNE_GATEWAY_KEY")
        check(r.status == 202, "readings: %r" % r)
    return customers, sites


def scheduled_orders(system, sites):
    orders = {}

    def all_scheduled():
        for s in sites:
            if s in orders:
                continue
            d = system.deliveries(s)
            if d:
                orders[s] = d[0]
        return len(orders) == len(sites)
    wait_until(all_scheduled, 300, interval=1, what="%d scheduled deliveries" % len(sites))
    return [orders[s] for s in sites]


def main(system):
    customers, sites = setup(system)
    orders = scheduled_orders(system, sites)
    print("crash: %d deliveries scheduled" % len(orders), flush=True)

    kills = 0
    for i, o in enumerate(orders):
        if i in KILL_AT:
            system.kill("billing", signal.SIGKILL)
            kills += 1
            print("crash: billing killed after %d confirmations" % i, flush=True)
            time.sleep(0.5)  # confirmations go on while billing is down
        if i == KILL_AT[0] + 50 or i == KILL_AT[1] + 50:
            system.start_service("billing")
            print("crash: billing restarted", flush=True)
        r = system.confirm_delivery(o["id"], o["quantity_kg"], 85, o["delivery_date"])
        check(r.status == 200, "confirm %s: %r" % (o["id"], r))
    check(kills == 2, "billing was killed twice")

    def invoices():
        out = []
        for c in customers:
            r = system.op("billing", "GET", "/api/v1/billing/invoices?customer_id=%s" %
                          c["customer"]["id"])
            check(r.status == 200, "invoices: %r" % r)
            out.extend(r.json["invoices"])
        return out if len(out) >= N else None
    invs = wait_until(invoices, 600, interval=2, what="%d invoices" % N)
    check(len(invs) == N, "exactly %d invoices, got %d" % (N, len(invs)))
    check(len({i["order_id"] for i in invs}) == N, "one invoice per order")
    by_year = collections.defaultdict(list)
    for i in invs:
        m = re.fullmatch(r"FA(\d{4})-(\d{6})", i["number"])
        check(m, "number format: %r" % i["number"])
        by_year[m.group(1)].append(int(m.group(2)))
    for year, nums in by_year.items():
        nums.sort()
        check(nums == list(range(1, len(nums) + 1)),
              "numbers of %s run 1..%d without gap or duplicate (first problem near %r)" %
              (year, len(nums), [n for k, n in enumerate(nums) if n != k + 1][:5]))

    recs = wait_until(lambda: (lambda r: r if len({harness.event_id_and_body(v)[0]
                                                   for v in r}) >= N else None)(
        system.topic_records("billing")), 120, interval=2, what="%d InvoiceIssued events" % N)
    ids = [harness.event_id_and_body(v)[0] for v in recs]
    distinct = set(ids)
    check(len(distinct) == N, "%d distinct InvoiceIssued events, got %d" % (N, len(distinct)))
    print("crash: %d InvoiceIssued records on the topic, %d distinct events "
          "(%d re-published after a kill)" % (len(recs), len(distinct), len(recs) - len(distinct)),
          flush=True)

    numbers = {i["number"] for i in invs}

    def invoice_mails():
        seen = collections.Counter()
        for m in system.messages(kind="mail"):
            for num in set(re.findall(r"FA\d{4}-\d{6}", (m.get("subject") or "") +
                                      (m.get("text") or ""))):
                seen[num] += 1
        return seen if len(seen) >= N else None
    seen = wait_until(invoice_mails, 600, interval=2, what="%d invoice e-mails" % N)
    check(set(seen) == numbers, "an e-mail for each invoice")
    dup = [n for n, k in seen.items() if k > 1]
    check(not dup, "no duplicate e-mail: %r" % dup[:10])
    print("crash: %d invoices, numbers without gap, %d e-mails, none twice" % (N, len(seen)))


if __name__ == "__main__":
    harness.run_main(main, "crash", log_level="warn")
    sys.exit(0)
