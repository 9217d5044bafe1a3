#!/usr/bin/env python3
"""The central flow through the real processes, both delivery modes:
reading -> TankThresholdCrossed -> order -> delivery -> invoice -> e-mail + SMS.

Expected dates and amounts are computed here independently of the services
(a French working-day calendar and the fee table written again in Python),
so the test checks the services against a second reading of DOMAIN.md."""

import datetime
import re
import time

import harness
from harness import check, wait_until

HOUSEHOLD_EMAIL = "camille.household@example.test"
HOUSEHOLD_PHONE = "+33611111111"
BUSINESS_EMAIL = "dominique.business@example.test"
BUSINESS_PHONE = "+33622222222"


# ------------------------------------------------------------ oracle

def easter(year):
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return datetime.date(year, month, day + 1)


def holidays(year):
    e = easter(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    days = {datetime.date(year, m, d) for m, d in fixed}
    days |= {e + datetime.timedelta(days=n) for n in (1, 39, 50)}
    return days


def working(d):
    return d.weekday() < 5 and d not in holidays(d.year)


def add_working_days(d, n):
    while n > 0:
        d += datetime.timedelta(days=1)
        if working(d):
            n -= 1
    return d


def paris_date(ts):
    """Date in Europe/Paris of a UTC datetime (EU DST rule)."""
    y = ts.year

    def last_sunday(month):
        d = datetime.datetime(y, month, 31 if month in (3, 10) else 30, 1, 0,
                              tzinfo=datetime.timezone.utc)
        return d - datetime.timedelta(days=(d.weekday() + 1) % 7)
    summer = last_sunday(3) <= ts < last_sunday(10)
    return (ts + datetime.timedelta(hours=2 if summer else 1)).date()


def round_half_up(num, den):
    return (num * 2 + den) // (2 * den)


def euros(cents):
    """A regex matching the French rendering of an amount: 1 296,00 EUR."""
    units, c = divmod(cents, 100)
    groups = []
    s = str(units)
    while len(s) > 3:
        groups.insert(0, s[-3:])
        s = s[:-3]
    groups.insert(0, s)
    return r"[\s\u00a0\u202f]?".join(groups) + ",%02d" % c + r"[\s\u00a0\u202f]*(€|EUR)"


# ------------------------------------------------------------ helpers

def wait_for_messages(system, to, n, kind, timeout=60):
    def got():
        msgs = system.messages(kind=kind, to=to)
        return msgs if len(msgs) >= n else None
    msgs = wait_until(got, timeout, what="%d %s message(s) to %s" % (n, kind, to))
    check(len(msgs) == n, "%s to %s: expected %d, got %d: %r" %
          (kind, to, n, len(msgs), [m.get("subject") or m.get("text") for m in msgs]))
    return msgs


def text_of(m):
    return (m.get("subject") or "") + "\n" + (m.get("text") or "")


def login(system, email, password):
    r = system.request("accounts", "POST", "/api/v1/accounts/login",
                       {"email": email, "password": password})
    check(r.status == 200, "login %s: %r" % (email, r))
    cookie = None
    for c in r.cookies:
        if c.startswith("__Host-citerne_session="):
            cookie = c.split(";", 1)[0]
            check("HttpOnly" in c and "Secure" in c and "SameSite=Lax" in c,
                  "session cookie attributes: %s" % c)
    check(cookie, "no session cookie in %r" % r.cookies)
    return {"Cookie": cookie, "X-CSRF-Token": r.json["csrf"]}


# ------------------------------------------------------------ flows

def automatic_flow(system):
    c = system.create_customer("C000101", segment="household", mode="automatic",
                               price_cents=180000, capacity=1000, threshold=30,
                               email=HOUSEHOLD_EMAIL, phone=HOUSEHOLD_PHONE)
    site = c["site"]["id"]
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    low_at = now - datetime.timedelta(minutes=30)
    stamp = low_at.strftime("%Y-%m-%dT%H:%M:%SZ")

    # above the threshold: nothing happens
    r = system.reading(site, 45, (now - datetime.timedelta(hours=2)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"))
    check(r.status == 202, "reading: %r" % r)
    r = system.reading(site, 25, stamp)
    check(r.status == 202, "reading: %r" % r)

    deliveries = wait_until(lambda: system.deliveries(site), 60,
                            what="a scheduled delivery for the automatic site")
    check(len(deliveries) == 1, "one delivery: %r" % deliveries)
    order = deliveries[0]
    check(order["status"] == "scheduled" and order["delivery_mode"] == "automatic",
          "order: %r" % order)
    check(order["quantity_kg"] == 600, "quantity 1000 kg x (85%% - 25%%) = 600: %r" % order)
    expected = add_working_days(paris_date(low_at), 2)
    check(order["delivery_date"] == expected.isoformat(),
          "delivery date %s, expected %s (2 working days after %s)" %
          (order["delivery_date"], expected, paris_date(low_at)))

    # a second reading below the threshold in the same episode: no second order
    r = system.reading(site, 22, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    check(r.status == 202, "second low reading: %r" % r)

    r = system.confirm_delivery(order["id"], 600, 85, order["delivery_date"])
    check(r.status == 200 and r.json["status"] == "delivered", "confirm delivery: %r" % r)
    r = system.confirm_delivery(order["id"], 600, 85, order["delivery_date"])
    check(r.status == 409, "second confirmation is a conflict: %r" % r)

    invoices = wait_until(lambda: system.invoices_of_order(order["id"]), 60,
                          what="the invoice of the automatic delivery")
    check(len(invoices) == 1, "one invoice: %r" % invoices)
    inv = invoices[0]
    gas = round_half_up(600 * 180000, 1000)
    vat = round_half_up(gas * 2000, 10000)
    check(inv["total_excl_cents"] == gas and inv["total_vat_cents"] == vat and
          inv["total_incl_cents"] == gas + vat, "automatic invoice totals: %r" % inv)
    check(len(inv["lines"]) == 1, "automatic delivery has no fee line: %r" % inv["lines"])
    issue = datetime.date.fromisoformat(order["delivery_date"]) + datetime.timedelta(days=1)
    check(inv["issue_date"] == issue.isoformat(), "issued the day after: %r" % inv)
    check(re.fullmatch(r"FA%d-\d{6}" % issue.year, inv["number"]), "number: %r" % inv["number"])

    # the customer hears of each step once, by e-mail and by SMS
    mails = wait_for_messages(system, HOUSEHOLD_EMAIL, 4, "mail")
    sms = wait_for_messages(system, HOUSEHOLD_PHONE, 4, "sms")
    inv_mail = [m for m in mails if inv["number"] in text_of(m)]
    check(len(inv_mail) == 1, "one invoice e-mail naming %s: %r" %
          (inv["number"], [text_of(m) for m in mails]))
    check(re.search(euros(inv["total_incl_cents"]), text_of(inv_mail[0])),
          "invoice e-mail shows %d cents incl. VAT: %s" %
          (inv["total_incl_cents"], text_of(inv_mail[0])))
    inv_sms = [m for m in sms if inv["number"] in m["text"]]
    check(len(inv_sms) == 1, "one invoice SMS: %r" % [m["text"] for m in sms])
    check(re.search(euros(inv["total_incl_cents"]), inv_sms[0]["text"]),
          "invoice SMS amount: %s" % inv_sms[0]["text"])
    return inv


def on_demand_flow(system, household_inv):
    c = system.create_customer("C000202", segment="business", mode="on_demand",
                               price_cents=150000, capacity=2000, threshold=30,
                               email=BUSINESS_EMAIL, phone=BUSINESS_PHONE,
                               password="another long passphrase")
    site = c["site"]["id"]
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    check(system.reading(site, 20, now.strftime("%Y-%m-%dT%H:%M:%SZ")).status == 202,
          "reading")

    orders = wait_until(lambda: system.orders_of_site(site), 60,
                        what="the proposed on-demand order")
    order = orders[0]
    check(order["status"] == "proposed" and order["delivery_mode"] == "on_demand",
          "proposed order: %r" % order)
    check(system.deliveries(site) == [], "nothing scheduled before the customer confirms")

    # the household customer's user cannot see or confirm it
    other = login(system, HOUSEHOLD_EMAIL, "correct horse battery")
    r = system.request("orders", "POST", "/api/v1/orders/orders/%s/confirm" % order["id"],
                       {"quantity_kg": 500, "speed": "express_48h"}, headers=other)
    check(r.status == 404, "another customer's order is not found: %r" % r)

    auth = login(system, BUSINESS_EMAIL, "another long passphrase")
    r = system.request("orders", "POST", "/api/v1/orders/orders/%s/confirm" % order["id"],
                       {"quantity_kg": 500, "speed": "express_48h"},
                       headers={"Cookie": auth["Cookie"]})
    check(r.status in (401, 403), "a write without the CSRF token is refused: %r" % r)
    r = system.request("orders", "POST", "/api/v1/orders/orders/%s/confirm" % order["id"],
                       {"quantity_kg": 500, "speed": "express_48h"}, headers=auth)
    check(r.status == 200 and r.json["status"] == "scheduled", "customer confirms: %r" % r)
    check(r.json["delivery_date"] is not None, "a date: %r" % r.json)
    check(working(datetime.date.fromisoformat(r.json["delivery_date"])),
          "delivery on a working day: %r" % r.json)

    deliveries = wait_until(lambda: system.deliveries(site), 30, what="scheduled delivery")
    r = system.confirm_delivery(order["id"], 480, 80, deliveries[0]["delivery_date"])
    check(r.status == 200, "driver confirms: %r" % r)

    inv = wait_until(lambda: system.invoices_of_order(order["id"]), 60,
                     what="the on-demand invoice")[0]
    gas = round_half_up(480 * 150000, 1000)
    fee = 8333  # 48 h, >= 400 kg ordered, business: 83.33 excl. VAT
    vat = round_half_up((gas + fee) * 2000, 10000)
    check(inv["total_excl_cents"] == gas + fee, "excl: %r" % inv)
    check(inv["total_vat_cents"] == vat and inv["total_incl_cents"] == gas + fee + vat,
          "vat and incl: %r" % inv)
    fees = [line for line in inv["lines"] if line["amount_excl_cents"] == fee]
    check(len(fees) == 1, "one 48 h fee line: %r" % inv["lines"])
    # invoice numbers follow each other without a gap
    n1 = int(household_inv["number"].split("-")[1])
    n2 = int(inv["number"].split("-")[1])
    if household_inv["number"][:6] == inv["number"][:6]:
        check(n2 == n1 + 1, "numbers %s then %s" % (household_inv["number"], inv["number"]))

    # the four chain mails, and the notice of an express delivery ordered
    # (sensitive activity: the orderer, here the only admin, is told once)
    mails = wait_for_messages(system, BUSINESS_EMAIL, 5, "mail")
    sms = wait_for_messages(system, BUSINESS_PHONE, 4, "sms")
    urgent = [m for m in mails if "express" in (m.get("subject") or "").lower()]
    check(len(urgent) == 1, "one express-delivery notice: %r" % [m.get("subject") for m in mails])
    check(any(inv["number"] in text_of(m) and re.search(euros(inv["total_incl_cents"]),
                                                         text_of(m)) for m in mails),
          "invoice e-mail with number and amount: %r" % [text_of(m) for m in mails])
    check(any(inv["number"] in m["text"] for m in sms), "invoice SMS")

    # the invoice is the customer's, not the other customer's
    r = system.request("billing", "GET", "/api/v1/billing/invoices/%s" % inv["id"],
                       headers=auth)
    check(r.status == 200 and r.json["number"] == inv["number"], "own invoice: %r" % r)
    r = system.request("billing", "GET", "/api/v1/billing/invoices/%s" % inv["id"],
                       headers=other)
    check(r.status == 404, "other customer's invoice: %r" % r)


def events_are_readable(system):
    """Outside consumers read the topics; each record decodes with its event id."""
    for svc, min_count in (("accounts", 8), ("telemetry", 2), ("orders", 6), ("billing", 2)):
        recs = system.topic_records(svc)
        check(len(recs) >= min_count, "%s topic has %d records" % (svc, len(recs)))
        ids = [harness.event_id_and_body(v)[0] for v in recs]
        check(all(ids), "every %s record has an event id" % svc)


def no_duplicates_later(system):
    """Wait a little more: nothing is sent twice."""
    time.sleep(2)
    for to, n in ((HOUSEHOLD_EMAIL, 4), (BUSINESS_EMAIL, 5)):
        check(len(system.messages(kind="mail", to=to)) == n, "still %d mails to %s" % (n, to))
    for to, n in ((HOUSEHOLD_PHONE, 4), (BUSINESS_PHONE, 4)):
        check(len(system.messages(kind="sms", to=to)) == n, "still %d SMS to %s" % (n, to))


def main(system):
    inv = automatic_flow(system)
    on_demand_flow(system, inv)
    events_are_readable(system)
    no_duplicates_later(system)


if __name__ == "__main__":
    harness.run_main(main, "chain")
