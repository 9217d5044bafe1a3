#!/usr/bin/env python3
"""Full-chain benchmark: reading -> order -> delivery -> invoice, end to end
through the real processes of an optimised build (build/run by default).

It starts its own stack (PostgreSQL, Redis, bus) in a scratch directory,
the five services and the recorder, creates N automatic-delivery sites, then
posts one reading below the threshold per site (all at once with --rate 0,
or paced at --rate chains per second). A driver thread confirms each
delivery as soon as its DeliveryScheduled event is on the bus; the invoice
counts when its InvoiceIssued event is on the bus. Both topics are followed
with kcat, as an outside consumer would.

Prints: chains per second (N / time from the first reading to the last
invoice), and the p50/p99/max latency from a site's reading to its invoice.

  python3 bench/chain.py --chains 500 --rate 0
  python3 bench/chain.py --chains 300 --rate 20
"""

import argparse
import os
import queue
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import harness  # noqa: E402
import stack  # noqa: E402


def follow(bootstrap, topic, on_record, stop):
    """Streams records of topic to on_record(value, arrival_monotonic)."""
    p = subprocess.Popen(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-q",
                          "-u", "-X", "fetch.wait.max.ms=10", "-f", "%R%s"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def reader():
        f = p.stdout
        while not stop.is_set():
            head = f.read(4)
            if len(head) < 4:
                return
            (n,) = struct.unpack(">i", head)
            value = f.read(n) if n > 0 else b""
            on_record(value, time.monotonic())
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    return p


def field(buf, num):
    for f, wt, v in harness.pb_fields(buf):
        if f == num and wt == 2:
            return v.decode()
    return None


def percentile(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chains", type=int, default=500)
    ap.add_argument("--rate", type=float, default=0, help="chains/s; 0 posts all at once")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "run"))
    ap.add_argument("--dir", default="/tmp/citerne-bench")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--warmup", type=int, default=20,
                    help="chains run first and not measured (consumer groups form, caches warm)")
    a = ap.parse_args()

    d = os.path.abspath(a.dir)
    stack.stop_all(d, quiet=True)
    os.makedirs(d, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "stack.py"), "up", "--dir", d,
                    "--bus", os.path.join(a.build, "tools", "bus", "citerne-bus")], check=True,
                   stdout=subprocess.DEVNULL)
    os.environ["CITERNE_TEST_STACK"] = os.path.join(d, "env")
    system = harness.System("bench", build=a.build, log_level="warn")
    stop = threading.Event()
    kcats = []
    try:
        system.start()
        n = a.chains + a.warmup
        customers = max(1, n // 50)
        sites = []
        for i in range(customers):
            c = system.create_customer("C%07d" % (9000000 + i), capacity=1000,
                                       email="bench%d@example.test" % i, phone="+3360000%04d" % i,
                                       wait=False)
            sites.append(c["site"]["id"])
            while len(sites) < (i + 1) * n // customers:
                r = system.op("accounts", "POST", "/api/v1/accounts/sites",
                              {"contract_id": c["contract"]["id"], "capacity_kg": 1000,
                               "threshold_pct": 30, "address": "bench", "certificate_received":
                               True})
                harness.check(r.status == 201, "site: %r" % r)
                sites.append(r.json["id"])
        # read models catch up before timing (a customer's sites share a partition)
        for k in range(0, n, max(1, n // customers)):
            system.wait_site_known(sites[min(k + n // customers, n) - 1])

        sent = {}
        invoiced = {}
        to_confirm = queue.Queue()
        lock = threading.Lock()

        def on_orders(value, t):
            _, body_field, body = harness.event_id_and_body(value)
            if body_field == 11:  # DeliveryScheduled
                to_confirm.put((field(body, 1), field(body, 2), field(body, 4),
                                [v for f, wt, v in harness.pb_fields(body) if f == 5][0]))

        def on_billing(value, t):
            _, body_field, body = harness.event_id_and_body(value)
            if body_field == 10:
                site = field(body, 5)
                with lock:
                    invoiced.setdefault(site, t)

        def driver():
            while not stop.is_set():
                try:
                    order_id, site, date, kg = to_confirm.get(timeout=0.2)
                except queue.Empty:
                    continue
                r = system.confirm_delivery(order_id, kg, 85, date)
                if r.status != 200:
                    print("bench: confirm %s: %r" % (order_id, r), file=sys.stderr)
        kcats.append(follow(system.bus.url, "citerne.orders.v1", on_orders, stop))
        kcats.append(follow(system.bus.url, "citerne.billing.v1", on_billing, stop))
        drivers = [threading.Thread(target=driver, daemon=True) for _ in range(4)]
        for t in drivers:
            t.start()

        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

        def run(batch_sites, rate):
            t0 = time.monotonic()
            batch = 1 if rate > 0 else 100
            for i in range(0, len(batch_sites), batch):
                chunk = batch_sites[i:i + batch]
                if rate > 0:
                    delay = t0 + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                now = time.monotonic()
                r = system.request("telemetry", "POST", "/api/v1/telemetry/readings",
                                   {"readings": [{"site_id": s, "level_pct": 20,
                                                  "measured_at": stamp} for s in chunk]},
                                   key="CITERNE_GATEWAY_KEY")
                harness.check(r.status == 202, "readings: %r" % r)
                for s in chunk:
                    sent[s] = now
            deadline = time.monotonic() + a.timeout
            while time.monotonic() < deadline:
                with lock:
                    if all(s in invoiced for s in batch_sites):
                        break
                time.sleep(0.05)
            with lock:
                done = {s: invoiced[s] for s in batch_sites if s in invoiced}
            harness.check(len(done) == len(batch_sites), "only %d of %d chains finished" %
                          (len(done), len(batch_sites)))
            return t0, done

        run(sites[:a.warmup], 0)
        measured = sites[a.warmup:]
        t_start, done = run(measured, a.rate)
        lat = [(done[s] - sent[s]) * 1000 for s in measured]
        wall = max(done.values()) - t_start
        m = len(measured)
        print("chains=%d rate=%s wall=%.2fs throughput=%.1f chains/s "
              "latency_ms p50=%.0f p99=%.0f max=%.0f" %
              (m, ("%.0f/s" % a.rate) if a.rate else "burst", wall, m / wall,
               percentile(lat, 50), percentile(lat, 99), max(lat)))
    finally:
        stop.set()
        for p in kcats:
            p.kill()
        try:
            system.stop(check_exit=False)
        finally:
            subprocess.run([sys.executable, os.path.join(ROOT, "tools", "stack.py"), "down",
                            "--dir", d], stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
