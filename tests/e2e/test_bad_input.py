#!/usr/bin/env python3
"""Bad input from outside never crashes a service nor half-writes:
malformed JSON, wrong types, unknown site, oversized body, truncated or
garbage HTTP get a 4xx problem+json (or a closed connection) and the service
keeps serving; a record on a topic that does not decode is logged, counted in
/metrics and skipped without stopping the consumer."""

import socket
import time

import harness
from harness import check, wait_until


def is_problem(r, status):
    check(r.status == status, "expected %d, got %r" % (status, r))
    check(r.headers.get("content-type", "").startswith("application/problem+json"),
          "problem+json content type: %r" % r.headers)
    check(isinstance(r.json, dict) and r.json.get("type") and r.json.get("title"),
          "problem body with type and title: %r" % r)
    return r.json


def raw(system, svc, data, read=True, timeout=5):
    """Sends bytes on a fresh connection; returns what came back (b'' if closed)."""
    s = socket.create_connection(("127.0.0.1", system.ports[svc]), timeout=timeout)
    try:
        s.sendall(data)
        if not read:
            return b""
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        s.close()


def alive(system):
    for svc in harness.SERVICES:
        r = system.request(svc, "GET", "/healthz")
        check(r.status == 200, "%s still alive: %r" % (svc, r))


def http_bad_input(system):
    c = system.create_customer("C000301", email="bad.input@example.test")
    site = c["site"]["id"]
    url = "/api/v1/telemetry/readings"
    gw = "CITERNE_GATEWAY_KEY"

    # malformed JSON
    p = is_problem(system.request("telemetry", "POST", url, raw=b'{"readings": [', key=gw), 400)
    check("detail" in p, "the parse error is explained: %r" % p)
    # not JSON at all
    r = system.request("telemetry", "POST", url, raw=b"level=12", key=gw,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    check(r.status in (400, 415), "form body refused: %r" % r)
    # wrong types: every offending field is named
    p = is_problem(system.request("telemetry", "POST", url, {"readings": [
        {"site_id": site, "level_pct": "high", "measured_at": "2026-11-20T08:00:00Z"},
        {"site_id": 12, "level_pct": 40, "measured_at": "yesterday"}]}, key=gw), 400)
    fields = {e.get("field") for e in p.get("errors", [])}
    check({"readings[0].level_pct", "readings[1].site_id", "readings[1].measured_at"} <= fields,
          "offending fields named: %r" % p)
    # out of range
    is_problem(system.request("telemetry", "POST", url, {"readings": [
        {"site_id": site, "level_pct": 140, "measured_at": "2026-11-20T08:00:00Z"}]},
        key=gw), 400)
    # unknown site, and the good reading of the same batch is not stored
    unknown = "01890000-0000-7000-8000-000000000000"
    p = is_problem(system.request("telemetry", "POST", url, {"readings": [
        {"site_id": site, "level_pct": 10, "measured_at": "2026-11-20T08:00:00Z"},
        {"site_id": unknown, "level_pct": 50, "measured_at": "2026-11-20T08:00:00Z"}]},
        key=gw), 422)
    check(unknown in str(p), "the unknown id is named: %r" % p)
    r = system.op("telemetry", "GET", "/api/v1/telemetry/sites/%s/readings" % site)
    check(r.status == 200 and r.json["readings"] == [],
          "nothing half-written from the refused batch: %r" % r)
    check(system.orders_of_site(site) == [], "no order from a refused batch")
    # no key, wrong key
    is_problem(system.request("telemetry", "POST", url, {"readings": []}), 401)
    r = system.request("telemetry", "POST", url, {"readings": []},
                       headers={"Authorization": "Bearer nope"})
    check(r.status == 401, "wrong key: %r" % r)
    # oversized body: 413, and the service keeps serving
    big = b'{"readings": [' + b" " * (2 * 1024 * 1024) + b"]}"
    try:
        r = system.request("telemetry", "POST", url, raw=big, key=gw)
        is_problem(r, 413)
    except (ConnectionError, BrokenPipeError):
        pass  # the server may close before reading everything; it must still be up
    alive(system)

    # accounts: wrong types and an unknown customer; nothing written
    p = is_problem(system.op("accounts", "POST", "/api/v1/accounts/customers",
                             {"customer_number": 12, "segment": "martian"}), 400)
    fields = {e.get("field") for e in p.get("errors", [])}
    check({"customer_number", "segment"} <= fields, "fields named: %r" % p)
    is_problem(system.op("accounts", "POST", "/api/v1/accounts/contracts",
                         {"customer_id": unknown, "delivery_mode": "automatic",
                          "price_per_tonne_cents": 100000}), 404)
    # orders: bad ids and bodies
    is_problem(system.request("orders", "POST", "/api/v1/orders/deliveries/not-a-uuid/confirm",
                              {"delivered_kg": 10, "level_after_pct": 80},
                              key="CITERNE_DRIVER_KEY"), 404)
    is_problem(system.request("orders", "POST", "/api/v1/orders/deliveries/%s/confirm" % unknown,
                              {"delivered_kg": "ten"}, key="CITERNE_DRIVER_KEY"), 400)
    is_problem(system.op("billing", "GET", "/api/v1/billing/invoices/%s" % unknown), 404)
    is_problem(system.request("billing", "GET", "/api/v1/nowhere"), 404)

    # HTTP that does not parse, or stops half-way
    for svc in harness.SERVICES:
        out = raw(system, svc, b"GARBAGE \x00\x01 NOT HTTP\r\n\r\n")
        check(out.startswith(b"HTTP/1.1 400"), "%s: garbage gets 400: %r" % (svc, out[:80]))
        raw(system, svc, b"POST /api/v1/telemetry/readings HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 100\r\n\r\n{\"readings\"", read=False)
        raw(system, svc, b"GET /healthz HT", read=False)
        out = raw(system, svc, b"POST /x HTTP/1.1\r\nContent-Length: -5\r\n\r\n")
        check(out.startswith(b"HTTP/1.1 400"), "%s: bad length gets 400: %r" % (svc, out[:80]))
    alive(system)
    return c


def undecodable_records(system, c):
    before = {svc: sum(v for k, v in system.metrics(svc).items()
                       if k.startswith("citerne_events_undecodable_total"))
              for svc in ("billing", "notify")}
    # garbage on the orders topic, read by billing and notify
    system.produce_raw("orders", "junk", b"\xff\xff\xff this is not protobuf")
    system.produce_raw("orders", "junk", b"")

    def counted():
        for svc in ("billing", "notify"):
            now = sum(v for k, v in system.metrics(svc).items()
                      if k.startswith("citerne_events_undecodable_total"))
            if now < before[svc] + 1:
                return False
        return True
    wait_until(counted, 30, what="undecodable records counted by billing and notify")

    # the consumers go on: a full chain still ends in an invoice
    site = c["site"]["id"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    check(system.reading(site, 20, now).status == 202, "reading")
    order = wait_until(lambda: system.deliveries(site), 60, what="delivery")[0]
    check(system.confirm_delivery(order["id"], order["quantity_kg"], 85,
                                  order["delivery_date"]).status == 200, "confirm")
    wait_until(lambda: system.invoices_of_order(order["id"]), 60,
               what="an invoice after the undecodable records")
    alive(system)


def main(system):
    c = http_bad_input(system)
    undecodable_records(system, c)


if __name__ == "__main__":
    harness.run_main(main, "badinput")
