#!/usr/bin/env python3
"""Customers are kept apart, through the real processes, endpoint by
endpoint of every service's openapi.yaml.

Two customers: A (an admin, an orderer and a viewer; an automatic site with
readings and an on-demand site with a proposed order) and B (an admin who
invited a collaborator; an automatic site driven through the whole chain:
reading, order, delivery, invoice, notifications; and an on-demand site with
a proposed order). Then, for every documented operation:

- a session operation answers A's admin, given B's ids (customer, site,
  order, invoice, user, collaborator, session...), what its openapi.yaml
  documents for a resource of another customer: 404, or for a list filtered
  by B's order an empty list (billing); caller-scoped operations (/me...,
  /sessions, 2FA) answer about A's admin only; without a session every one
  answers 401; every write without X-CSRF-Token answers 401 and changes
  nothing (the refused request is A's own, most of them ones that would act
  with the header: a role change, a removal, an invitation, a confirmation
  with a right TOTP code, a password change, an order confirmation);
- a key-only operation (operator, driver, gateway key) answers A's admin
  session 401 whatever B id it names;
- no answer (headers and body, but for a problem's instance that echoes the
  request's own path) holds anything of B's: ids, customer number and name,
  e-mails, phones, addresses, invoice number, session id;
- asking to change A's admin's e-mail to B's admin's answers as for a free
  address and sends B's admin nothing;
- A's viewer may neither confirm A's own proposed order nor invite (403),
  nor read the collaborators or the register (admins only, 403); the
  orderer may not invite (403) but confirms the order (200);
- after all of it B is as it was: its session lives, its collaborators and
  their roles, its proposed order still proposed, no user made for B.

Every documented operation must have its cases here (a new endpoint without
one fails the test), and every status a case expects must be one its
openapi.yaml documents. The table of what was asked is printed; any leak or
mismatch fails the test naming the endpoint.

Redis (throttles, mail quotas) outlives a run, so customer numbers, e-mails
and client addresses are fresh per run; accounts trusts 127.0.0.1 as a proxy
so each browser has a client address of its own (X-Forwarded-For).
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import secrets
import struct
import time
import urllib.parse

import harness
from harness import check, sign_in, wait_until

VALGRIND = bool(os.environ.get("CITERNE_E2E_VALGRIND"))
WAIT = 900 if VALGRIND else 120  # upper bound of each wait, never a pass/fail timing

RUN = secrets.token_hex(4)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")

# the subjects notify writes (services/notify/src/templates.c)
EMAIL_CONFIRM = "Confirmez votre nouvelle adresse e-mail Citerne"
EMAIL_REQUESTED = "Changement d'adresse e-mail demandé sur votre compte Citerne"


def number():
    return "C%08d" % secrets.randbelow(10 ** 8)


def phone():
    return "+3367%07d" % secrets.randbelow(10 ** 7)


def address(prefix):
    return "%s.%d" % (prefix, 1 + secrets.randbelow(254))


def password():
    return "isolation-%s-mdp" % secrets.token_hex(6)


def stamp(ts):
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


class Party:
    """One customer as the test knows it; ids and secrets by name."""

    def __init__(self, name):
        self.name = name
        self.number = number()
        self.phone = phone()
        self.ids = {}


# ------------------------------------------------------------ requests

def send(who, svc, method, path, body=None, raw=None, ctype=None, csrf=True):
    """One request as browser `who` (None: nobody) with its cookies, with or
    without its X-CSRF-Token; the browser's cookie jar is not touched."""
    system = SYSTEM
    h = {}
    if who is not None:
        h["User-Agent"] = who.user_agent
        if who.address:
            h["X-Forwarded-For"] = who.address
        if who.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in who.cookies.items())
        if csrf and who.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = who.csrf
    if ctype:
        h["Content-Type"] = ctype
    return system.request(svc, method, path, body, headers=h, raw=raw)


def fill(template, params, query=None):
    path = template
    for k, v in (params or {}).items():
        path = path.replace("{%s}" % k, urllib.parse.quote(v, safe=""))
    check("{" not in path, "every parameter of %s filled: %r" % (template, params))
    if query:
        path += "?" + urllib.parse.urlencode(query)
    return path


def searchable(r, path):
    """The answer's headers and body as text to look for B's data in, less
    the problem's instance when it is the request's own path (what the
    caller sent, echoed back: services answer every problem with it)."""
    headers = "\n".join("%s: %s" % kv for kv in sorted(r.headers.items()))
    body = r.json
    if isinstance(body, dict) and body.get("instance") == path.split("?", 1)[0]:
        body = {k: v for k, v in body.items() if k != "instance"}
        return headers + "\n" + json.dumps(body, ensure_ascii=False)
    return headers + "\n" + r.body.decode("utf-8", "replace")


class Table:
    """Every request of the test with what it was to answer; failures are
    gathered so the whole table prints, then the test fails naming each."""

    def __init__(self, operations, leak_terms):
        self.ops = {(o["service"], o["method"], o["path"]): o for o in operations}
        self.leak_terms = leak_terms
        self.rows = []
        self.failures = []
        self.covered = {}

    def ask(self, who_name, who, svc, method, template, params=None, query=None, body=None,
            expect=(404,), empty=None, raw=None, ctype=None, csrf=True, why=""):
        """Sends the request; checks the status is one of expect (and is
        documented for the operation), the body names nothing of B's, and,
        with empty="key", that the answer's list is empty. Returns the
        response."""
        key = (svc, method, template)
        op = self.ops.get(key)
        path = fill(template, params, query)
        where = "%s %s (%s) as %s%s" % (method, template, path, who_name,
                                        ": " + why if why else "")
        if op is None:
            self.failures.append("not in services/%s/openapi.yaml: %s" % (svc, where))
        else:
            self.covered.setdefault(key, set()).add(who_name)
            undocumented = [s for s in expect if str(s) not in op["responses"]]
            if undocumented:
                self.failures.append("the test expects %s, not documented in "
                                     "services/%s/openapi.yaml for %s" %
                                     (undocumented, svc, where))
        r = send(who, svc, method, path, body, raw=raw, ctype=ctype, csrf=csrf)
        text = searchable(r, path)
        excerpt = r.body.decode("utf-8", "replace")[:300]
        verdict = "ok"
        if r.status not in expect:
            verdict = "MISMATCH"
            self.failures.append("%s answered %d, expected %s: %s" %
                                 (where, r.status, "/".join(map(str, expect)), excerpt))
        leaks = sorted(label for label, term in self.leak_terms.items() if term in text)
        if leaks:
            verdict = "LEAK"
            self.failures.append("LEAK of B's %s by %s: %s" % (", ".join(leaks), where,
                                                                excerpt))
        if empty and r.status == 200:
            items = (r.json or {}).get(empty)
            if items != []:
                verdict = "LEAK"
                self.failures.append("LEAK: %s lists %r, expected an empty list" %
                                     (where, items))
        self.rows.append((svc, method, template, who_name, r.status, verdict, why))
        return r

    def print(self):
        print("\n%-9s %-6s %-56s %-9s %-4s %s" % ("service", "method", "path", "as", "got",
                                                    "verdict / case"))
        for svc, method, template, who, status, verdict, why in self.rows:
            print("%-9s %-6s %-56s %-9s %-4d %s%s" % (svc, method, template, who, status,
                                                        verdict, " - " + why if why else ""))
        print("%d requests over %d operations\n" % (len(self.rows), len(self.covered)))


# ------------------------------------------------------------ TOTP (RFC 6238), to miss on purpose

def totp_codes(secret_b32, at):
    """The codes that pass at `at`: its 30 s step and one step either side."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    out = set()
    for step in (at // 30 - 1, at // 30, at // 30 + 1):
        digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
        off = digest[-1] & 0x0F
        code = (struct.unpack(">I", digest[off:off + 4])[0] & 0x7FFFFFFF) % 1000000
        out.add("%06d" % code)
    return out


def code_body(a, body):
    """A TOTP body for A's admin's pending secret: "RIGHT CODE" passes now,
    "WRONG CODE" passes at no step near now; other bodies as they are."""
    if body == "RIGHT CODE":
        return {"code": sorted(totp_codes(a.totp_secret, int(time.time())))[0]}
    if body == "WRONG CODE":
        return {"code": wrong_code(a.totp_secret)}
    return body


def wrong_code(secret_b32):
    """A code that passes at no step near now (so no luck turns 2FA on)."""
    now = int(time.time())
    near = totp_codes(secret_b32, now - 60) | totp_codes(secret_b32, now + 60)
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


# ------------------------------------------------------------ set-up

def make_customer(system, party):
    r = system.op("accounts", "POST", "/api/v1/accounts/customers",
                  {"customer_number": party.number, "name": "Client %s %s" % (party.name, RUN),
                   "segment": "household", "phone": party.phone})
    check(r.status == 201, "create customer %s: %r" % (party.name, r))
    party.ids["customer"] = r.json["id"]
    party.customer_name = r.json["name"]


def add_site(system, party, label, mode):
    addr = "%s, %d chemin %s %s, 26000 Valence" % (label, 1 + secrets.randbelow(200),
                                                  party.name, secrets.token_hex(4))
    made = harness.add_site(system, party.ids["customer"], addr, mode=mode)
    party.ids["%s contract" % label] = made["contract"]["id"]
    party.ids["%s site" % label] = made["site"]["id"]
    setattr(party, "%s_address" % label, addr)
    return made["site"]["id"]


def add_person(system, party, role, label=None):
    label = label or role
    email = "%s.%s.%s@example.test" % (label, party.name.lower(), RUN)
    pw = password()
    user = harness.add_user(system, party.ids["customer"], email, role, pw,
                            "%s %s" % (label.capitalize(), party.name), phone=phone())
    party.ids["%s user" % label] = user["id"]
    person = {"email": email, "password": pw, "user": user}
    setattr(party, label, person)
    return person


def low_reading(system, site, level=20):
    r = system.reading(site, level, stamp(now_utc() - datetime.timedelta(minutes=5)))
    check(r.status == 202, "reading: %r" % r)


def set_up_b(system):
    """B: an admin who invited a collaborator; the whole chain on its
    automatic site; a proposed order on its on-demand site."""
    b = Party("B")
    make_customer(system, b)
    auto = add_site(system, b, "auto", "automatic")
    demand = add_site(system, b, "demand", "on_demand")
    add_person(system, b, "admin")
    b.browser = sign_in(system, b.admin["email"], b.admin["password"], FIREFOX,
                        address("198.51.100"))

    low_reading(system, auto)
    order = wait_until(lambda: system.deliveries(auto), WAIT, what="B's delivery")[0]
    r = system.confirm_delivery(order["id"], order["quantity_kg"], 85, order["delivery_date"])
    check(r.status == 200, "B's delivery confirmed: %r" % r)
    b.ids["delivered order"] = order["id"]
    inv = wait_until(lambda: system.invoices_of_order(order["id"]), WAIT,
                     what="B's invoice")[0]
    b.ids["invoice"] = inv["id"]
    b.invoice_number = inv["number"]

    low_reading(system, demand)
    proposed = wait_until(lambda: system.orders_of_site(demand), WAIT,
                          what="B's proposed order")[0]
    check(proposed["status"] == "proposed", "B's on-demand order proposed: %r" % proposed)
    b.ids["proposed order"] = proposed["id"]

    b.invitee_email = "invitee.b.%s@example.test" % RUN
    r = b.browser.request("accounts", "POST",
                          "/api/v1/accounts/customers/%s/collaborators" % b.ids["customer"],
                          {"email": b.invitee_email, "role": "viewer", "name": "Invitee B"})
    check(r.status == 201 and r.json["status"] == "invited", "B invites: %r" % r)
    b.ids["invitation"] = r.json["invitation_id"]
    # the answer names no user (it is the same for an address with an
    # account): the pending user's id, for the attempts below, from the database
    b.ids["collaborator user"] = system.sql(
        "accounts", "SELECT id FROM users WHERE email = '%s'" % b.invitee_email)[0][0]

    r = b.browser.request("accounts", "GET", "/api/v1/accounts/sessions")
    check(r.status == 200, "B's sessions: %r" % r)
    b.ids["session"] = [s["id"] for s in r.json["sessions"] if s["current"]][0]

    def told():
        rows = harness.notifications(system, b.ids["customer"])
        kinds = {n["kind"] for n in rows}
        return rows if "invoice_issued" in kinds and all(n["status"] == "sent"
                                                          for n in rows) else None
    wait_until(told, WAIT, what="B's notifications of the chain sent")
    return b


def set_up_a(system):
    """A: admin, orderer, viewer; readings on its automatic site; a proposed
    order on its on-demand site."""
    a = Party("A")
    make_customer(system, a)
    auto = add_site(system, a, "auto", "automatic")
    demand = add_site(system, a, "demand", "on_demand")
    for role in ("admin", "orderer", "viewer"):
        add_person(system, a, role)
    r = system.reading(auto, 70, stamp(now_utc() - datetime.timedelta(minutes=5)))
    check(r.status == 202, "A's reading: %r" % r)
    low_reading(system, demand)
    proposed = wait_until(lambda: system.orders_of_site(demand), WAIT,
                          what="A's proposed order")[0]
    check(proposed["status"] == "proposed", "A's on-demand order proposed: %r" % proposed)
    a.ids["proposed order"] = proposed["id"]
    a.admin["browser"] = sign_in(system, a.admin["email"], a.admin["password"], FIREFOX,
                                 address("203.0.113"))
    # a second session of A's admin: revoked at the end by revoke-others
    a.admin["browser2"] = sign_in(system, a.admin["email"], a.admin["password"], SAFARI,
                                  address("203.0.113"))
    r = a.admin["browser2"].request("accounts", "GET", "/api/v1/accounts/sessions")
    check(r.status == 200, "A's sessions: %r" % r)
    a.ids["session 2"] = [s["id"] for s in r.json["sessions"] if s["current"]][0]
    r = a.admin["browser"].request("accounts", "POST", ACC + "/2fa/totp/enrol")
    check(r.status == 200 and r.json.get("secret"), "A's admin enrols a TOTP app: %r" % r)
    a.totp_secret = r.json["secret"]
    for role in ("orderer", "viewer"):
        getattr(a, role)["browser"] = sign_in(system, getattr(a, role)["email"],
                                              getattr(a, role)["password"], FIREFOX,
                                              address("192.0.2"))
    return a


def third_customer(system):
    """C: a customer with no invoice, to pair its number with B's invoice."""
    c = Party("C")
    make_customer(system, c)
    return c


def leak_terms(b):
    terms = {"id of %s" % k: v for k, v in b.ids.items()}
    terms.update({
        "customer number": b.number, "customer name": b.customer_name,
        "phone on file": b.phone, "admin e-mail": b.admin["email"],
        "admin phone": b.admin["user"]["phone"], "admin name": b.admin["user"]["name"],
        "collaborator e-mail": b.invitee_email, "auto site address": b.auto_address,
        "demand site address": b.demand_address, "invoice number": b.invoice_number,
    })
    for k, v in terms.items():
        check(v, "a leak term is not empty: %s" % k)
    return terms


# ------------------------------------------------------------ the cases

ACC = "/api/v1/accounts"
NOBODYS = "01a2021b-0000-7000-8000-000000000000"  # a UUID that names nothing


def session_cases(a, b, c, free_email):
    """Per session operation: (svc, method, template, own request, [B cases]).
    The own request is A's admin's own, for writes most often one that acts
    with X-CSRF-Token (asked without it, it must be refused and change
    nothing);
    nobody (no cookie) asks the first B case. A B case is (params, query,
    body, expect, empty, why)."""
    A, B = a.ids, b.ids
    pw = a.admin["password"]
    acc = "accounts"
    own_c = {"id": A["customer"]}
    b_c = {"id": B["customer"]}

    def k(params=None, query=None, body=None, expect=(404,), empty=None, why=""):
        return {"params": params, "query": query, "body": body, "expect": expect,
                "empty": empty, "why": why}
    return [
        # two-factor: the caller's own, no id to give; bodies are checked
        (acc, "POST", ACC + "/2fa/totp/enrol", k(expect=(200,)),
         [k(expect=(200,), why="caller's own secret")]),
        (acc, "POST", ACC + "/2fa/totp/confirm", k(body="RIGHT CODE", expect=(200,)),
         [k(body="WRONG CODE", expect=(400,), why="a wrong code")]),
        (acc, "POST", ACC + "/2fa/totp/disable",
         k(body={"password": pw, "code": "000000"}, expect=(409,)),
         [k(body={"password": pw, "code": "000000"}, expect=(409,), why="2FA is off")]),
        # collaborators: B's customer, B's people
        (acc, "GET", ACC + "/customers/{id}/collaborators", k(own_c, expect=(200,)),
         [k(b_c, why="B's customer")]),
        (acc, "POST", ACC + "/customers/{id}/collaborators",
         k(own_c, body={"email": "own-invitee.a.%s@example.test" % RUN, "role": "viewer"},
           expect=(201,)),
         [k(b_c, body={"email": "intruder.%s@example.test" % RUN, "role": "admin"},
            why="invite into B"),
          k(b_c, body={"email": b.invitee_email, "role": "admin"},
            why="B's collaborator into B")]),
        (acc, "PATCH", ACC + "/customers/{id}/collaborators/{user_id}",
         k({"id": A["customer"], "user_id": A["viewer user"]}, body={"role": "orderer"},
           expect=(200,)),
         [k({"id": B["customer"], "user_id": B["collaborator user"]}, body={"role": "admin"},
            why="B's collaborator"),
          k({"id": B["customer"], "user_id": B["admin user"]}, body={"role": "viewer"},
            why="B's admin"),
          k({"id": A["customer"], "user_id": B["admin user"]}, body={"role": "viewer"},
            why="B's admin under A")]),
        (acc, "DELETE", ACC + "/customers/{id}/collaborators/{user_id}",
         k({"id": A["customer"], "user_id": A["viewer user"]}, expect=(204,)),
         [k({"id": B["customer"], "user_id": B["collaborator user"]},
            why="B's collaborator"),
          k({"id": B["customer"], "user_id": B["admin user"]}, why="B's admin"),
          k({"id": A["customer"], "user_id": B["collaborator user"]},
            why="B's collaborator under A")]),
        # linking: B's number without its invoice, B's invoice under another number
        (acc, "POST", ACC + "/me/customers",
         k(body={"customer_number": c.number, "invoice_number": "FA2026-999999"},
           expect=(404,)),
         [k(body={"customer_number": b.number, "invoice_number": "FA2026-999999"},
            why="B's number, a wrong invoice"),
          k(body={"customer_number": c.number, "invoice_number": b.invoice_number},
            why="B's invoice, C's number")]),
        # the caller's own
        (acc, "GET", ACC + "/me/profile", k(expect=(200,)), [k(expect=(200,), why="own")]),
        # notify's part of the export: the caller's own rows (asked before
        # A's /me/email below, whose notice names the address A typed: B's)
        ("notify", "GET", "/api/v1/notify/me/export", k(expect=(200,)),
         [k(expect=(200,), why="own rows only")]),
        (acc, "PATCH", ACC + "/me/profile", k(body={"name": "Admin A renamed"}, expect=(200,)),
         [k(body={"name": "Admin A %s" % RUN}, expect=(200,), why="own")]),
        (acc, "POST", ACC + "/me/password",
         k(body={"current_password": pw, "new_password": password()}, expect=(204,)),
         [k(body={"current_password": "not-" + pw, "new_password": password()},
            expect=(400,), why="a wrong current password")]),
        (acc, "POST", ACC + "/me/email",
         k(body={"new_email": "own-new.a.%s@example.test" % RUN, "password": pw},
           expect=(202,)),
         [k(body={"new_email": free_email, "password": pw}, expect=(202,),
            why="a free address"),
          k(body={"new_email": b.admin["email"], "password": pw}, expect=(202,),
            why="B's admin's address: the same answer")]),
        # a phone waiting for its code: the caller's own (A's admin has none)
        (acc, "POST", ACC + "/me/phone/verify", k(body={"code": "000000"}, expect=(400,)),
         [k(body={"code": "000000"}, expect=(400,), why="no number of the caller pending")]),
        (acc, "POST", ACC + "/me/phone/resend", k(expect=(409,)),
         [k(expect=(409,), why="no number of the caller pending")]),
        (acc, "GET", ACC + "/me/export", k(expect=(200,)), [k(expect=(200,), why="own")]),
        # invitations: the caller's own only; B's (of a new address) is nobody's to answer
        (acc, "GET", ACC + "/me/invitations", k(expect=(200,), empty="invitations"),
         [k(expect=(200,), empty="invitations", why="own")]),
        (acc, "POST", ACC + "/me/invitations/{id}/accept", k({"id": NOBODYS}, expect=(404,)),
         [k({"id": B["invitation"]}, why="B's invitation")]),
        (acc, "POST", ACC + "/me/invitations/{id}/decline", k({"id": NOBODYS}, expect=(404,)),
         [k({"id": B["invitation"]}, why="B's invitation")]),
        (acc, "POST", ACC + "/me/close", k(body={"password": pw}, expect=(409, 204)),
         [k(body={"password": "not-" + pw}, expect=(400,), why="a wrong password")]),
        (acc, "GET", ACC + "/customers/{id}/audit", k(own_c, expect=(200,)),
         [k(b_c, why="B's customer")]),
        (acc, "GET", ACC + "/customers/{id}/audit.csv", k(own_c, expect=(200,)),
         [k(b_c, why="B's customer")]),
        (acc, "GET", ACC + "/me", k(expect=(200,)), [k(expect=(200,), why="own")]),
        (acc, "GET", ACC + "/sessions", k(expect=(200,)), [k(expect=(200,), why="own")]),
        (acc, "DELETE", ACC + "/sessions/{id}", k({"id": A["session 2"]}, expect=(204,)),
         [k({"id": B["session"]}, why="B's session")]),
        # logout and revoke-others end sessions: their A-admin cases run last
        (acc, "POST", ACC + "/logout", k(expect=(204,)), []),
        (acc, "POST", ACC + "/sessions/revoke-others", k(expect=(200,)), []),
        # telemetry
        ("telemetry", "GET", "/api/v1/telemetry/sites/{site_id}/readings",
         k({"site_id": A["auto site"]}, expect=(200,)),
         [k({"site_id": B["auto site"]}, why="B's site"),
          k({"site_id": B["demand site"]}, why="B's other site")]),
        ("telemetry", "GET", "/api/v1/telemetry/sites/{site_id}/readings.csv",
         k({"site_id": A["auto site"]}, expect=(200,)),
         [k({"site_id": B["auto site"]}, why="B's site"),
          k({"site_id": B["demand site"]}, why="B's other site")]),
        # orders
        ("orders", "GET", "/api/v1/orders/orders",
         k(query={"site_id": A["demand site"]}, expect=(200,)),
         [k(query={"site_id": B["auto site"]}, why="B's site"),
          k(query={"site_id": B["demand site"]}, why="B's other site")]),
        ("orders", "GET", "/api/v1/orders/orders/{order_id}",
         k({"order_id": A["proposed order"]}, expect=(200,)),
         [k({"order_id": B["delivered order"]}, why="B's delivered order"),
          k({"order_id": B["proposed order"]}, why="B's proposed order")]),
        ("orders", "POST", "/api/v1/orders/orders/{order_id}/confirm",
         k({"order_id": A["proposed order"]}, body={"speed": "standard"}, expect=(200,)),
         [k({"order_id": B["proposed order"]}, body={"speed": "standard"},
            why="B's proposed order"),
          k({"order_id": B["delivered order"]}, body={"speed": "standard"},
            why="B's delivered order")]),
        # billing
        ("billing", "GET", "/api/v1/billing/invoices/{invoice_id}",
         k({"invoice_id": B["invoice"]}, expect=(404,)),
         [k({"invoice_id": B["invoice"]}, why="B's invoice")]),
        ("billing", "GET", "/api/v1/billing/invoices",
         k(query={"customer_id": A["customer"]}, expect=(200,)),
         [k(query={"customer_id": B["customer"]}, why="B's customer"),
          k(query={"order_id": B["delivered order"]}, expect=(200,), empty="invoices",
            why="B's order: only the caller's invoices"),
          k(query={"customer_id": A["customer"], "order_id": B["delivered order"]},
            expect=(200,), empty="invoices", why="A's customer, B's order"),
          k(query={"customer_id": B["customer"], "order_id": B["delivered order"]},
            why="B's customer and order")]),
    ]


def key_only_cases(a, b):
    """Per key-only operation: A's admin session (with its CSRF token) naming
    B's ids is refused, 401. (svc, method, template, params, query, body,
    raw/ctype)."""
    B = b.ids
    acc = "accounts"
    return [
        (acc, "POST", ACC + "/customers", None, None,
         {"customer_number": number(), "name": "Intruder", "segment": "household"}, None),
        (acc, "GET", ACC + "/customers/{id}", {"id": B["customer"]}, None, None, None),
        (acc, "PATCH", ACC + "/customers/{id}", {"id": B["customer"]}, None,
         {"name": "Renamed by A"}, None),
        (acc, "POST", ACC + "/contracts", None, None,
         {"customer_id": B["customer"], "delivery_mode": "automatic",
          "price_per_tonne_cents": 1}, None),
        (acc, "PATCH", ACC + "/contracts/{id}", {"id": B["auto contract"]}, None,
         {"price_per_tonne_cents": 1}, None),
        (acc, "POST", ACC + "/sites", None, None,
         {"contract_id": B["auto contract"], "capacity_kg": 1000,
          "address": "1 rue de l'Intrus, 75001 Paris"}, None),
        (acc, "PATCH", ACC + "/sites/{id}", {"id": B["auto site"]}, None,
         {"threshold_pct": 80}, None),
        (acc, "POST", ACC + "/users", None, None,
         {"customer_id": B["customer"], "email": "intruder.user.%s@example.test" % RUN,
          "name": "Intruder", "role": "admin", "password": password()}, None),
        (acc, "POST", ACC + "/users/{id}/2fa/disable", {"id": B["admin user"]}, None, None,
         None),
        (acc, "PATCH", ACC + "/users/{id}", {"id": B["admin user"]}, None,
         {"status": "disabled"}, None),
        (acc, "POST", ACC + "/import", None, None, None,
         ("customer_number,name,segment,delivery_mode,price_per_tonne_cents,capacity_kg,"
          "address\r\n%s,Intruder,household,automatic,1,1000,1 rue X\r\n" % number(),
          "text/csv")),
        ("telemetry", "POST", "/api/v1/telemetry/readings", None, None,
         {"readings": [{"site_id": B["auto site"], "level_pct": 5,
                        "measured_at": stamp(now_utc()), "source": "sensor"}]}, None),
        ("orders", "GET", "/api/v1/orders/deliveries", None,
         {"site_id": B["auto site"], "status": "delivered"}, None, None),
        ("orders", "POST", "/api/v1/orders/deliveries/{order_id}/confirm",
         {"order_id": B["proposed order"]}, None, {"delivered_kg": 100, "level_after_pct": 90},
         None),
        ("notify", "GET", "/api/v1/notify/notifications", None,
         {"customer_id": B["customer"]}, None, None),
    ]


# ------------------------------------------------------------ phases

def nobody_and_no_csrf(table, a, sessions):
    """Without a session every session operation answers 401 (asked with B's
    first id); a write without X-CSRF-Token answers 401, asked as A's admin
    with a request that succeeds with the header."""
    admin = a.admin["browser"]
    for svc, method, template, own, b_cases in sessions:
        probe = b_cases[0] if b_cases else own
        table.ask("nobody", None, svc, method, template, probe["params"], probe["query"],
                  code_body(a, probe["body"]), expect=(401,), why="no session")
        if method != "GET":
            table.ask("A admin", admin, svc, method, template, own["params"], own["query"],
                      code_body(a, own["body"]), expect=(401,), csrf=False,
                      why="no X-CSRF-Token")


def nothing_changed_without_csrf(system, a):
    """What the refused writes would have changed is as it was."""
    admin = a.admin["browser"]
    r = admin.request("accounts", "GET", ACC + "/me")
    check(r.status == 200, "A's admin still signed in (no logout, close, revocation): %r" % r)
    check(r.json["name"] == a.admin["user"]["name"], "A's admin's name unchanged: %r" % r.json)
    check(a.admin["browser2"].request("accounts", "GET", ACC + "/me").status == 200,
          "A's admin's second session still lives (no DELETE /sessions, no revoke-others)")
    r = admin.request("accounts", "GET", ACC + "/customers/%s/collaborators" % a.ids["customer"])
    check(r.status == 200, "A's collaborators: %r" % r)
    roles = {x["email"]: x["role"] for x in r.json["collaborators"]}
    check(roles == {a.admin["email"]: "admin", a.orderer["email"]: "orderer",
                    a.viewer["email"]: "viewer"},
          "A's collaborators as made (no invitation, role change or removal): %r" % roles)
    r = system.op("orders", "GET", "/api/v1/orders/orders/" + a.ids["proposed order"])
    check(r.status == 200 and r.json["status"] == "proposed", "A's order still proposed: %r" % r)
    r = admin.request("accounts", "GET", ACC + "/me/export")
    check(r.status == 200 and r.json["two_factor"]["enabled"] is False,
          "2FA still off (the confirmation with a right code was refused): %r" % r)
    check(sign_in(system, a.admin["email"], a.admin["password"], FIREFOX,
                  a.admin["browser"].address), "the password is unchanged")
    check(system.sql("accounts", "SELECT 1 FROM users WHERE email LIKE 'own-%%.a.%s@%%'" % RUN)
          == [], "no user made by the refused invitation")


def roles(table, a):
    """A's viewer and orderer on A's own customer (services/orders/openapi.yaml
    confirm 403; services/accounts/openapi.yaml Forbidden: admins only)."""
    viewer, orderer = a.viewer["browser"], a.orderer["browser"]
    cust = {"id": a.ids["customer"]}
    order = {"order_id": a.ids["proposed order"]}
    invite = {"email": "by-role.a.%s@example.test" % RUN, "role": "viewer"}
    confirm = "/api/v1/orders/orders/{order_id}/confirm"
    table.ask("A viewer", viewer, "orders", "GET", "/api/v1/orders/orders/{order_id}", order,
              expect=(200,), why="a viewer reads its order")
    table.ask("A viewer", viewer, "orders", "POST", confirm, order, body={"speed": "standard"},
              expect=(403,), why="a viewer cannot confirm")
    for who_name, who in (("A viewer", viewer), ("A orderer", orderer)):
        table.ask(who_name, who, "accounts", "POST", ACC + "/customers/{id}/collaborators",
                  cust, body=invite, expect=(403,), why="only admins invite")
        table.ask(who_name, who, "accounts", "GET", ACC + "/customers/{id}/collaborators",
                  cust, expect=(403,), why="only admins list")
        table.ask(who_name, who, "accounts", "GET", ACC + "/customers/{id}/audit", cust,
                  expect=(403,), why="only admins read the register")
    check(SYSTEM.sql("accounts", "SELECT 1 FROM users WHERE email = '%s'" % invite["email"])
          == [], "no user made by a refused invitation")
    r = SYSTEM.op("orders", "GET", "/api/v1/orders/orders/" + a.ids["proposed order"])
    check(r.status == 200 and r.json["status"] == "proposed",
          "the viewer's refused confirmation left the order proposed: %r" % r)
    r = table.ask("A orderer", orderer, "orders", "POST", confirm, order,
                  body={"speed": "standard"}, expect=(200,), why="an orderer confirms")
    check(r.status != 200 or r.json["status"] in ("scheduled", "awaiting_certificate"),
          "the orderer's confirmation schedules the order: %r" % r)


def isolation(table, a, b, sessions):
    """A's admin, B's ids, every session operation."""
    admin = a.admin["browser"]
    for svc, method, template, own, b_cases in sessions:
        for case in b_cases:
            r = table.ask("A admin", admin, svc, method, template, case["params"],
                          case["query"], code_body(a, case["body"]), expect=case["expect"],
                          empty=case["empty"],
                          why=case["why"])
            if template.endswith("/totp/enrol") and r.status == 200:
                a.totp_secret = r.json["secret"]
            if template.endswith("/me/email"):
                a.email_answers = getattr(a, "email_answers", []) + [r.body]
    # A's own, as positive controls: the same operations do answer A
    for svc, method, template, own, b_cases in sessions:
        if method == "GET" and own is not None and own["expect"] == (200,) and own["params"]:
            table.ask("A admin", admin, svc, method, template, own["params"], own["query"],
                      expect=(200,), why="A's own")
    r = admin.request("orders", "GET", "/api/v1/orders/orders?site_id=" + a.ids["demand site"])
    check(r.status == 200 and [o["id"] for o in r.json["orders"]] == [a.ids["proposed order"]],
          "A's admin lists A's order: %r" % r)


def key_only(table, a, b):
    admin = a.admin["browser"]
    for svc, method, template, params, query, body, raw in key_only_cases(a, b):
        table.ask("A admin", admin, svc, method, template, params, query, body,
                  expect=(401,), raw=raw[0] if raw else None, ctype=raw[1] if raw else None,
                  why="a session is not a key")


def session_enders(table, a, b):
    """Last: A's admin revokes its other sessions, then signs out; B's
    session outlives both."""
    admin, other = a.admin["browser"], a.admin["browser2"]
    r = table.ask("A admin", admin, "accounts", "POST", ACC + "/sessions/revoke-others",
                  expect=(200,), why="A's other sessions only")
    check(r.status != 200 or r.json["revoked"] >= 1, "A's second session revoked: %r" % r)
    check(other.request("accounts", "GET", ACC + "/me").status == 401,
          "A's second session ended by revoke-others")
    check(b.browser.request("accounts", "GET", ACC + "/me").status == 200,
          "B's session outlives A's revoke-others")
    table.ask("A admin", admin, "accounts", "POST", ACC + "/logout", expect=(204,),
              why="A's own session")
    check(send(admin, "accounts", "GET", ACC + "/me").status == 401, "A's admin signed out")
    check(b.browser.request("accounts", "GET", ACC + "/me").status == 200,
          "B's session outlives A's logout")


def b_as_it_was(system, a, b, free_email):
    """B after all of it: its collaborators and roles, its proposed order,
    its name, no user made for it; no link e-mail to B's admin's address."""
    r = b.browser.request("accounts", "GET",
                          ACC + "/customers/%s/collaborators" % b.ids["customer"])
    check(r.status == 200, "B's collaborators: %r" % r)
    roles = {x["email"]: x["role"] for x in r.json["collaborators"]}
    check(roles == {b.admin["email"]: "admin", b.invitee_email: "viewer"},
          "B's collaborators and roles as B made them: %r" % roles)
    r = system.op("orders", "GET", "/api/v1/orders/orders/" + b.ids["proposed order"])
    check(r.status == 200 and r.json["status"] == "proposed", "B's order still proposed: %r" % r)
    r = system.op("accounts", "GET", ACC + "/customers/" + b.ids["customer"])
    check(r.status == 200 and r.json["name"] == b.customer_name and
          r.json["version"] == 1, "B's customer untouched: %r" % r)
    check(system.sql("accounts", "SELECT email FROM users WHERE email LIKE 'intruder%%.%s@%%'" %
                     RUN) == [], "no user made by A's attempts")
    answers = getattr(a, "email_answers", [])
    check(len(answers) == 2 and answers[0] == answers[1],
          "POST /me/email answers alike for a free and a taken address: %r" % answers)

    # every notification of A sent (the e-mail change notices are A's): then
    # the recorder holds whatever a link to B's address would have been
    def settled():
        rows = harness.notifications(system, a.ids["customer"])
        asked = [n for n in rows if n["kind"] == "email_change_requested"]
        return rows if len(asked) >= 2 and all(n["status"] == "sent" for n in rows) else None
    wait_until(settled, WAIT, what="A's e-mail change notices sent")
    check(len([m for m in system.messages(kind="mail", to=free_email)
               if m["subject"] == EMAIL_CONFIRM]) == 1, "the free address got its link")
    to_b = [m["subject"] for m in system.messages(kind="mail", to=b.admin["email"])]
    check(EMAIL_CONFIRM not in to_b and EMAIL_REQUESTED not in to_b,
          "nothing of A's e-mail change went to B's admin: %r" % to_b)


def coverage(table, operations):
    """Every documented operation has its cases: a session operation was
    asked by nobody and by A's admin; a key-only one by A's admin; public
    ones (no credentials) are listed."""
    missing = []
    public = []
    for o in operations:
        key = (o["service"], o["method"], o["path"])
        askers = table.covered.get(key, set())
        if not o["schemes"]:
            public.append("%s %s" % (o["method"], o["path"]))
        elif "session" in o["schemes"]:
            if not {"nobody", "A admin"} <= askers:
                missing.append("%s %s %s (session; asked by %s)" %
                               (o["service"], o["method"], o["path"], sorted(askers) or "none"))
        elif "A admin" not in askers:
            missing.append("%s %s %s (%s only)" % (o["service"], o["method"], o["path"],
                                                   "/".join(sorted(o["schemes"]))))
    print("public operations (no credentials, nothing of a customer's to isolate): %s" %
          ", ".join(sorted(set(public))))
    for m in missing:
        table.failures.append("no isolation case for the documented operation %s: add one to "
                              "tests/e2e/test_isolation.py" % m)


SYSTEM = None


def main(system):
    global SYSTEM
    SYSTEM = system
    operations = [o for svc in harness.SERVICES for o in harness.openapi_operations(svc)]
    check(any("session" in o["schemes"] for o in operations), "the openapi files were read")
    b = set_up_b(system)
    a = set_up_a(system)
    c = third_customer(system)
    free_email = "free.a.%s@example.test" % RUN
    sessions = session_cases(a, b, c, free_email)
    table = Table(operations, leak_terms(b))
    # each phase's own checks stop that phase only: every phase runs, the
    # table prints, then the test fails naming everything that went wrong
    phases = (
        ("without a session or a CSRF token", lambda: nobody_and_no_csrf(table, a, sessions)),
        ("nothing changed by the refused writes", lambda: nothing_changed_without_csrf(system,
                                                                                       a)),
        ("roles within A", lambda: roles(table, a)),
        ("A's admin with B's ids", lambda: isolation(table, a, b, sessions)),
        ("key-only operations", lambda: key_only(table, a, b)),
        ("sessions ended", lambda: session_enders(table, a, b)),
        ("B as it was", lambda: b_as_it_was(system, a, b, free_email)),
        ("coverage of the openapi files", lambda: coverage(table, operations)),
    )
    try:
        for name, phase in phases:
            try:
                phase()
            except (harness.Failure, KeyError, TypeError) as e:
                table.failures.append("%s: %s: %s" % (name, type(e).__name__, e))
    finally:
        table.print()
    check(not table.failures, "%d isolation failure(s):\n  %s" %
          (len(table.failures), "\n  ".join(table.failures)))


if __name__ == "__main__":
    harness.run_main(main, "isolation",
                     env_extra={"CITERNE_TRUSTED_PROXY": "127.0.0.1",
                                "CITERNE_ACCOUNTS_SECRET_KEY": secrets.token_hex(32)})
