#!/usr/bin/env python3
"""The back office's updates and the e-mail change through the real
processes, each checked on what the processes do (API answers, the topics,
the recorder's mails):

1. a new price per tonne (PATCH /contracts): once billing holds it, the next
   delivery's invoice is billed at it (services/billing/README.md, "Back-office
   changes apply to the invoices issued after them");
2. a raised threshold (PATCH /sites) above the tank's last level crosses at
   once, without a new reading: TankThresholdCrossed caused by the
   SiteUpdated, then an order and its delivery (services/telemetry/README.md,
   "A new threshold applies now");
3. no first delivery without a certificate of conformity: the order of such a
   site is held (awaiting_certificate, no DeliveryScheduled, the driver gets
   409 certificate-missing) until a SiteUpdated brings the certificate; then
   it is scheduled, delivered and invoiced (services/orders/README.md);
4. a user changes their sign-in e-mail (POST /me/email, then the link): the
   link goes to the new address, notices to the old one; the old session
   ends, the new address signs in, the old one does not; later messages go
   to the new address (services/accounts/README.md, "Changing the e-mail");
5. a renamed customer (PATCH /customers) is named anew by notify. The order,
   delivery and invoice messages name the customer by number only
   (services/notify/src/templates.c, email_text), so no chain message can
   show the name; the texts that do name it are the collaborator, invitation
   and linking ones: an invitation sent after the rename names the new name.

Expected dates and amounts come from test_chain's oracle (DOMAIN.md written
again in Python). Redis (throttles, mail quotas) outlives a run, so the
e-mail addresses and client addresses are fresh per run.
"""

import datetime
import os
import re
import secrets

import harness
from harness import Browser, check, wait_until
from test_accounts import is_problem
from test_chain import add_working_days, paris_date, round_half_up, wait_for_messages

VALGRIND = bool(os.environ.get("CITERNE_E2E_VALGRIND"))
WAIT = 900 if VALGRIND else 120  # upper bound of each wait, never a pass/fail timing

RUN = secrets.token_hex(4)
OLD_EMAIL = "alix.old.%s@example.test" % RUN
NEW_EMAIL = "alix.new.%s@example.test" % RUN
INVITEE = "sacha.%s@example.test" % RUN
PASSWORD = "tilleuls-%s-mot" % secrets.token_hex(6)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

# the subjects notify writes (services/notify/src/templates.c)
CONFIRM = "Confirmez votre nouvelle adresse e-mail Citerne"
REQUESTED = "Changement d'adresse e-mail demandé sur votre compte Citerne"
CHANGED = "L'adresse e-mail de votre compte Citerne a été changée"
INVITED = "Invitation à l'espace client "
PLANNED = "Livraison automatique planifiée"

CONFIRM_LINK = re.compile(r"^https?://\S+/confirm-email#token=([0-9a-f]{64})$", re.M)

# body field numbers of the events read on the topics (proto/citerne/v1)
ACCOUNTS_CONTRACT_UPDATED, ACCOUNTS_SITE_UPDATED = 26, 27
TELEMETRY_CROSSED = 10
ORDERS_PROPOSED, ORDERS_SCHEDULED = 10, 11


def number():
    return "C%08d" % secrets.randbelow(10 ** 8)


def stamp(ts):
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def patch(system, what, id_, body):
    """The back office's PATCH; returns the answer's row (its version)."""
    r = system.op("accounts", "PATCH", "/api/v1/accounts/%s/%s" % (what, id_), body)
    check(r.status == 200, "PATCH %s: %r" % (what, r))
    for k, v in body.items():
        check(r.json.get(k) == v, "PATCH %s answers %s=%r: %r" % (what, k, v, r.json))
    return r.json


def events_of(system, service, body_field, key_field, key):
    return [(m, b) for m, b in harness.topic_events(system, service, body_field)
            if b.get(key_field) == key]


def the_delivery(system, site):
    deliveries = wait_until(lambda: system.deliveries(site), WAIT,
                            what="a scheduled delivery for site %s" % site)
    check(len(deliveries) == 1, "one delivery: %r" % deliveries)
    return deliveries[0]


def deliver_and_invoice(system, order, kg):
    r = system.confirm_delivery(order["id"], kg, 85, order["delivery_date"])
    check(r.status == 200 and r.json["status"] == "delivered", "driver confirms: %r" % r)
    invoices = wait_until(lambda: system.invoices_of_order(order["id"]), WAIT,
                          what="the invoice of order %s" % order["id"])
    check(len(invoices) == 1, "one invoice: %r" % invoices)
    return invoices[0]


def check_gas_invoice(inv, kg, price_cents):
    """An automatic delivery: one gas line (kg x price / 1000, half up), 20 %
    VAT, no fee (billing README: Gas line, Delivery fee line, VAT)."""
    gas = round_half_up(kg * price_cents, 1000)
    vat = round_half_up(gas * 2000, 10000)
    check(len(inv["lines"]) == 1 and inv["lines"][0]["amount_excl_cents"] == gas,
          "one gas line of %d cents (%d kg at %d cents a tonne): %r" %
          (gas, kg, price_cents, inv["lines"]))
    check(inv["total_excl_cents"] == gas and inv["total_vat_cents"] == vat and
          inv["total_incl_cents"] == gas + vat,
          "totals %d + %d at %d cents a tonne: %r" % (gas, vat, price_cents, inv))


# ------------------------------------------------------------ 1. price

def price_change(system):
    old_price, new_price = 180000, 213457  # a price whose amount rounds
    c = system.create_customer(number(), price_cents=old_price, capacity=1000, threshold=30)
    contract, site = c["contract"]["id"], c["site"]["id"]

    row = patch(system, "contracts", contract, {"price_per_tonne_cents": new_price})
    check(row["version"] == 2, "the contract's first update is version 2: %r" % row)
    updates = events_of(system, "accounts", ACCOUNTS_CONTRACT_UPDATED, 1, contract)
    check(len(updates) == 1 and updates[0][1].get(4) == new_price and
          updates[0][1].get(6) == 2,
          "one ContractUpdated with the new price at version 2: %r" % updates)

    # billing applies it to what it issues after consuming it: wait for that
    # (the version only: the invoice tells whether the price came with it)
    def billing_has_it():
        return system.sql("billing", "SELECT version FROM contracts WHERE contract_id = '%s'" %
                          contract) == [["2"]]
    wait_until(billing_has_it, WAIT, what="billing to consume the ContractUpdated")

    check(system.reading(site, 25, stamp(now_utc() - datetime.timedelta(minutes=5))).status ==
          202, "reading below the threshold")
    order = the_delivery(system, site)
    check(order["quantity_kg"] == 600, "1000 kg x (85%% - 25%%): %r" % order)
    inv = deliver_and_invoice(system, order, 600)
    check_gas_invoice(inv, 600, new_price)


# ------------------------------------------------------------ 2. threshold

def threshold_raise(system):
    c = system.create_customer(number(), capacity=1000, threshold=30)
    site = c["site"]["id"]
    measured = now_utc() - datetime.timedelta(minutes=5)
    check(system.reading(site, 40, stamp(measured)).status == 202, "reading at 40 %")

    # the reading is stored and left the site armed: 40 is not below 30
    def stored():
        return system.sql("telemetry", "SELECT armed FROM sites WHERE site_id = '%s'"
                                       " AND last_measured_at IS NOT NULL" % site)
    armed = wait_until(stored, WAIT, what="telemetry to store the reading")
    check(armed == [["t"]], "a reading above the threshold leaves the site armed: %r" % armed)
    check(system.orders_of_site(site) == [], "no order for a tank above its threshold")

    row = patch(system, "sites", site, {"threshold_pct": 50})
    check(row["version"] == 2, "the site's first update is version 2: %r" % row)

    order = the_delivery(system, site)
    check(order["delivery_mode"] == "automatic" and order["quantity_kg"] == 450,
          "1000 kg x (85%% - 40%%) scheduled: %r" % order)
    expected = add_working_days(paris_date(measured), 2)
    check(order["delivery_date"] == expected.isoformat(),
          "delivery 2 working days after the reading's day: %r, expected %s" % (order, expected))

    # the crossing on the bus is the update's doing, and the only one
    site_updates = events_of(system, "accounts", ACCOUNTS_SITE_UPDATED, 1, site)
    check(len(site_updates) == 1 and site_updates[0][1].get(5) == 50 and
          site_updates[0][1].get(9) == 2, "one SiteUpdated, threshold 50, v2: %r" % site_updates)
    update_meta = site_updates[0][0]
    crossings = events_of(system, "telemetry", TELEMETRY_CROSSED, 1, site)
    check(len(crossings) == 1, "one TankThresholdCrossed for the site: %r" % crossings)
    meta, body = crossings[0]
    check(body.get(3) == 40 and body.get(4) == 50 and body.get(7) == 1000 and
          body.get(5) == int(measured.timestamp() * 1000),
          "the crossing names the last reading (40 %%) and the new threshold: %r" % body)
    check(meta.get("causation_id") == update_meta["event_id"] and
          meta.get("correlation_id") == update_meta["correlation_id"],
          "the crossing is caused by the SiteUpdated, in its chain: %r vs %r" %
          (meta, update_meta))
    scheduled = events_of(system, "orders", ORDERS_SCHEDULED, 1, order["id"])
    check(len(scheduled) == 1, "one DeliveryScheduled: %r" % scheduled)


# ------------------------------------------------------------ 3. certificate

def orders_outbox_drained(system):
    return system.sql("orders", "SELECT count(*) FROM ct_outbox WHERE sent_at IS NULL") == [
        ["0"]]


def certificate(system):
    price = 175000
    c = system.create_customer(number(), price_cents=price, capacity=1000, threshold=30,
                               certificate=False)
    check(c["site"]["certificate_received"] is False, "site without certificate: %r" % c["site"])
    site = c["site"]["id"]
    check(system.reading(site, 20, stamp(now_utc() - datetime.timedelta(minutes=5))).status ==
          202, "reading below the threshold")

    orders = wait_until(lambda: system.orders_of_site(site), WAIT, what="the held order")
    check(len(orders) == 1, "one order: %r" % orders)
    order = orders[0]
    check(order["status"] == "awaiting_certificate" and order["delivery_date"] is None and
          order["quantity_kg"] == 650, "held, no date, 650 kg: %r" % order)

    # everything orders committed is on the bus: the proposal, no schedule
    wait_until(lambda: orders_outbox_drained(system), WAIT, what="orders' outbox to drain")
    check(len(events_of(system, "orders", ORDERS_PROPOSED, 1, order["id"])) == 1,
          "the held order was proposed")
    check(events_of(system, "orders", ORDERS_SCHEDULED, 1, order["id"]) == [],
          "no DeliveryScheduled for a held order")
    check(system.deliveries(site) == [], "drivers do not see a held order")
    r = system.confirm_delivery(order["id"], 650, 85)
    is_problem(r, 409, "certificate-missing")

    before = paris_date(now_utc())
    row = patch(system, "sites", site, {"certificate_received": True})
    check(row["version"] == 2, "version 2: %r" % row)

    delivery = the_delivery(system, site)
    after = paris_date(now_utc())
    check(delivery["id"] == order["id"] and delivery["quantity_kg"] == 650,
          "the held order is the one scheduled: %r" % delivery)
    dates = {add_working_days(d, 2).isoformat() for d in (before, after)}
    check(delivery["delivery_date"] in dates,
          "scheduled 2 working days after its release: %r, expected one of %s" %
          (delivery, sorted(dates)))
    scheduled = wait_until(lambda: events_of(system, "orders", ORDERS_SCHEDULED, 1, order["id"]),
                           WAIT, what="the DeliveryScheduled of the released order")
    check(len(scheduled) == 1 and scheduled[0][1].get(4) == delivery["delivery_date"],
          "one DeliveryScheduled with the date: %r" % scheduled)

    inv = deliver_and_invoice(system, delivery, 640)
    check_gas_invoice(inv, 640, price)


# ------------------------------------------------------------ 4 and 5. e-mail, name

def mails_to(system, to, subject_prefix=None):
    return [m for m in system.messages(kind="mail", to=to)
            if subject_prefix is None or m["subject"].startswith(subject_prefix)]


def wait_mail(system, to, subject_prefix):
    mails = wait_until(lambda: mails_to(system, to, subject_prefix), WAIT,
                       what="the e-mail %r to %s" % (subject_prefix, to))
    check(len(mails) == 1, "one e-mail %r to %s: %r" % (subject_prefix, to, mails))
    return mails[0]


def address():
    return "198.51.100.%d" % (1 + secrets.randbelow(254))


def email_change(system):
    c = system.create_customer(number(), capacity=1000, threshold=30, email=OLD_EMAIL,
                               password=PASSWORD, role="admin")
    browser = Browser(system, FIREFOX, address())
    check(browser.login(OLD_EMAIL, PASSWORD).status == 200, "sign-in with the old address")

    r = browser.request("accounts", "POST", "/api/v1/accounts/me/email",
                        {"new_email": NEW_EMAIL, "password": PASSWORD})
    check(r.status == 202, "change asked: %r" % r)

    mail = wait_mail(system, NEW_EMAIL, CONFIRM)
    check(NEW_EMAIL in mail["text"], "the confirmation names the new address: %r" % mail["text"])
    tokens = CONFIRM_LINK.findall(mail["text"])
    check(len(tokens) == 1, "one confirmation link on a line of its own: %r" % mail["text"])
    notice = wait_mail(system, OLD_EMAIL, REQUESTED)
    check(NEW_EMAIL in notice["text"] and not CONFIRM_LINK.search(notice["text"]),
          "the old address hears of the request, without the link: %r" % notice["text"])

    r = Browser(system, FIREFOX, address()).request(
        "accounts", "POST", "/api/v1/accounts/me/email/confirm", {"token": tokens[0]})
    check(r.status == 204, "confirmed with the link: %r" % r)
    r = browser.request("accounts", "GET", "/api/v1/accounts/me")
    check(r.status == 401, "the session opened before the change ends with it: %r" % r)
    is_problem(browser.login(OLD_EMAIL, PASSWORD), 401, "invalid-credentials")
    check(browser.login(NEW_EMAIL, PASSWORD).status == 200, "sign-in with the new address")
    r = browser.request("accounts", "GET", "/api/v1/accounts/me")
    check(r.status == 200 and r.json["email"] == NEW_EMAIL, "GET /me: %r" % r)
    changed = wait_mail(system, OLD_EMAIL, CHANGED)
    check(NEW_EMAIL in changed["text"], "the old address is told the new: %r" % changed["text"])
    return c, browser


def renamed_customer(system, c, browser):
    customer = c["customer"]
    old_name, new_name = customer["name"], "Famille Renard %s" % RUN
    row = patch(system, "customers", customer["id"], {"name": new_name})
    check(row["version"] == 2, "version 2: %r" % row)

    # the version only: the invitation tells whether the name came with it
    def notify_has_it():
        return system.sql("notify", "SELECT version FROM customers WHERE customer_id = '%s'" %
                          customer["id"]) == [["2"]]
    wait_until(notify_has_it, WAIT, what="notify to consume the CustomerUpdated")

    r = browser.request("accounts", "POST",
                        "/api/v1/accounts/customers/%s/collaborators" % customer["id"],
                        {"email": INVITEE, "role": "viewer"})
    check(r.status == 201, "the admin invites a collaborator: %r" % r)
    mail = wait_mail(system, INVITEE, INVITED)
    named = "de %s (client %s)" % (new_name, customer["customer_number"])
    check(named in mail["subject"] and named in mail["text"] and
          old_name not in mail["subject"] + mail["text"],
          "the invitation names the customer by its new name: %r" % mail)


def later_messages_to_new_address(system, c):
    """A chain after the change: notify's profile has the new address."""
    user_id = c["user"]["id"]

    def profile_known():
        return system.sql("notify", "SELECT email FROM user_profiles WHERE user_id = '%s'" %
                          user_id) == [[NEW_EMAIL]]
    wait_until(profile_known, WAIT, what="notify to read the new address")
    site = c["site"]["id"]
    check(system.reading(site, 20, stamp(now_utc() - datetime.timedelta(minutes=5))).status ==
          202, "reading below the threshold")
    wait_mail(system, NEW_EMAIL, PLANNED)

    def all_sent():
        rows = harness.notifications(system, c["customer"]["id"])
        kinds = {n["kind"] for n in rows}
        return rows if {"order_proposed", "delivery_scheduled"} <= kinds and all(
            n["status"] == "sent" for n in rows) else None
    wait_until(all_sent, WAIT, what="the chain's notifications sent")
    subjects = sorted(m["subject"] for m in mails_to(system, OLD_EMAIL))
    check(subjects == sorted([REQUESTED, CHANGED]),
          "the old address got the two notices and nothing of the chain: %r" % subjects)
    wait_for_messages(system, NEW_EMAIL, 3, "mail")  # the link, the order, its date


def main(system):
    price_change(system)
    threshold_raise(system)
    certificate(system)
    c, browser = email_change(system)
    renamed_customer(system, c, browser)
    later_messages_to_new_address(system, c)


if __name__ == "__main__":
    harness.run_main(main, "updates", env_extra={"CITERNE_TRUSTED_PROXY": "127.0.0.1"})
