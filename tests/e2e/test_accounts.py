#!/usr/bin/env python3
"""A customer's account through the real processes, each step checked on
what the person receives (the recorder's mails and SMS):

- the back office makes a customer with a phone on file and a site;
- the person signs up with the customer number, that phone and their
  e-mail; the activation link comes by e-mail, in French; a sign-up that
  proves nothing answers the same and sends nothing;
- the link sets the password once; the account signs in (cookies and CSRF
  kept by hand) and reads /me;
- a password reset by e-mail ends the old session at once and is told by a
  "password changed" e-mail;
- a sign-in from another browser is told by a "new device" e-mail (the
  first browser of an account is not: services/accounts/README.md, Devices);
- a phone given in the profile is only pending until the code notify sent
  it by SMS comes back (a wrong one is refused);
- with invoices set to SMS only in the profile, one automatic delivery
  chain tells the invoice by SMS to the user's phone and not by e-mail (the
  other kinds keep both: services/notify/README.md, Rules);
- no token, cookie or password is in any process's log (at debug level).

Redis (throttles, mail quotas) outlives a run, so every name the services
count by (customer numbers, e-mails, client addresses) is fresh per run.
accounts trusts 127.0.0.1 as a proxy so that each browser of the test has a
client address of its own (X-Forwarded-For), as people behind the Ingress do.
"""

import datetime
import os
import re
import secrets

import harness
from harness import Browser, check, wait_until

VALGRIND = bool(os.environ.get("CITERNE_E2E_VALGRIND"))
WAIT = 900 if VALGRIND else 120  # upper bound of each wait, never a pass/fail timing

RUN = secrets.token_hex(4)
NUMBER = "C%08d" % secrets.randbelow(10 ** 8)
UNKNOWN_NUMBER = "C%010d" % secrets.randbelow(10 ** 10)  # 10 digits: never NUMBER
ON_FILE_PHONE = "+3361%07d" % secrets.randbelow(10 ** 7)
WRONG_PHONE = "+3368%07d" % secrets.randbelow(10 ** 7)
USER_PHONE = "+3367%07d" % secrets.randbelow(10 ** 7)
EMAIL = "camille.martin.%s@example.test" % RUN
STRANGER_EMAIL = "nobody.%s@example.test" % RUN
GUESSER_EMAIL = "guesser.%s@example.test" % RUN
NAME = "Camille Martin"
FIRST_PASSWORD = "lilas-%s-premier" % secrets.token_hex(6)
NEW_PASSWORD = "vignes-%s-second" % secrets.token_hex(6)

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IOS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")

# the subjects notify writes (services/notify/src/templates.c)
ACTIVATION = "Activez votre compte Citerne"
RESET = "Réinitialisation de votre mot de passe Citerne"
CHANGED = "Votre mot de passe Citerne a été changé"
NEW_DEVICE = "Nouvelle connexion à votre compte Citerne"
CHAIN_MAILS = ("Livraison automatique planifiée", "Livraison prévue le", "Livraison effectuée")

TOKEN_LINK = re.compile(r"^(https?://\S+/(activate|reset-password)#token=([0-9a-f]{64}))$", re.M)

# what must be in no log: filled as the run meets them (step 8)
SECRETS = {"first password": FIRST_PASSWORD, "new password": NEW_PASSWORD}
SYSTEM = None


def address(prefix):
    return "%s.%d" % (prefix, 1 + secrets.randbelow(254))


def mails_to(system, to, subject=None):
    return [m for m in system.messages(kind="mail", to=to)
            if subject is None or m["subject"] == subject]


def wait_mail(system, to, subject):
    """Waits for the one e-mail to `to` with that subject; returns it."""
    mails = wait_until(lambda: mails_to(system, to, subject), WAIT,
                       what="the e-mail %r to %s" % (subject, to))
    check(len(mails) == 1, "one e-mail %r to %s, got %d" % (subject, to, len(mails)))
    return mails[0]


def link_token(mail, path):
    """The token of the link on a line of its own in the mail, whose path is
    /activate or /reset-password."""
    links = TOKEN_LINK.findall(mail["text"])
    check(len(links) == 1, "one link in %r: %r" % (mail["subject"], mail["text"]))
    url, kind, token = links[0]
    check(kind == path, "the link opens /%s: %s" % (path, url))
    return token


def is_problem(r, status, kind):
    check(r.status == status and r.headers.get("content-type", "").startswith(
        "application/problem+json") and (r.json or {}).get("type", "").endswith("/" + kind),
        "expected %d %s, got %r" % (status, kind, r))


def check_french_link_mail(mail, what):
    """What a person reads in a link e-mail: greeted by name, in French, a
    single-use link with its expiry."""
    check(EMAIL in mail["to"] and mail["text"].startswith("Bonjour " + NAME),
          "%s greets %s: %r" % (what, NAME, mail["text"][:200]))
    check("Ce lien ne sert qu'une fois et expire le " in mail["text"],
          "%s says the link is single use and when it expires: %r" % (what, mail["text"]))


# ------------------------------------------------------------ steps

def back_office(system):
    return harness.create_customer_on_file(system, NUMBER, ON_FILE_PHONE)


def sign_up(system, browser):
    """Step 2: the proven sign-up sends the link; the others answer alike and
    write nothing."""
    stranger = Browser(system, FIREFOX_LINUX, address("198.51.100"))
    r_unknown = stranger.request("accounts", "POST", "/api/v1/accounts/signup",
                                 {"customer_number": UNKNOWN_NUMBER, "phone": ON_FILE_PHONE,
                                  "email": STRANGER_EMAIL})
    r_wrong = stranger.request("accounts", "POST", "/api/v1/accounts/signup",
                               {"customer_number": NUMBER, "phone": WRONG_PHONE,
                                "email": GUESSER_EMAIL})
    r = browser.request("accounts", "POST", "/api/v1/accounts/signup",
                        {"customer_number": NUMBER, "phone": ON_FILE_PHONE, "email": EMAIL,
                         "name": NAME})
    check(r.status == 202 and r.json and r.json.get("status"), "sign-up: %r" % r)
    for other, what in ((r_unknown, "an unknown customer"), (r_wrong, "a wrong phone")):
        check(other.status == r.status and other.body == r.body,
              "sign-up for %s answers what a proven one does: %r vs %r" % (what, other, r))
    for email in (STRANGER_EMAIL, GUESSER_EMAIL):
        check(system.sql("accounts", "SELECT id FROM users WHERE email = '%s'" % email) == [],
              "no user written for %s" % email)

    mail = wait_mail(system, EMAIL, ACTIVATION)
    check_french_link_mail(mail, "the activation e-mail")
    check("Pour activer votre compte Citerne et choisir votre mot de passe" in mail["text"],
          "the activation e-mail says what the link does: %r" % mail["text"])
    token = link_token(mail, "activate")
    SECRETS["activation token"] = token

    # not signed in before the link is used: a pending user has no password
    r = browser.login(EMAIL, FIRST_PASSWORD)
    is_problem(r, 401, "invalid-credentials")
    return token


def activate_and_sign_in(system, made, browser, token):
    """Step 3 and 4: the link sets the password, once."""
    r = browser.request("accounts", "POST", "/api/v1/accounts/signup/activate",
                        {"token": token, "password": FIRST_PASSWORD})
    check(r.status == 204, "activation: %r" % r)

    r = browser.login(EMAIL, FIRST_PASSWORD)
    check(r.status == 200, "sign-in after activation: %r" % r)
    set_cookies = {c.split("=", 1)[0]: c for c in r.cookies}
    session = set_cookies.get("__Host-citerne_session", "")
    check(all(a in session for a in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/")),
          "session cookie attributes: %r" % r.cookies)
    check(set_cookies.get("citerne_csrf", "").startswith("citerne_csrf=" + r.json["csrf"]),
          "the CSRF cookie holds the csrf of the answer: %r" % r.cookies)
    check("HttpOnly" in set_cookies.get("citerne_device", ""),
          "a device cookie is set: %r" % r.cookies)
    check([g["customer_id"] for g in r.json["customers"]] == [made["customer"]["id"]],
          "signed in for the customer: %r" % r.json)

    r = browser.request("accounts", "GET", "/api/v1/accounts/me")
    check(r.status == 200 and r.json["email"] == EMAIL and r.json["name"] == NAME,
          "GET /me: %r" % r)
    grants = {g["customer_id"]: g["role"] for g in r.json["customers"]}
    check(grants == {made["customer"]["id"]: "admin"},
          "the first user of a customer is its admin: %r" % r.json)

    # step 4: the link works once
    r = Browser(system, FIREFOX_LINUX).request(
        "accounts", "POST", "/api/v1/accounts/signup/activate",
        {"token": token, "password": "another-%s-try" % RUN})
    is_problem(r, 400, "invalid-token")
    check(browser.login(EMAIL, FIRST_PASSWORD).status == 200,
          "the second use of the link changed nothing: the password still signs in")


def reset_password(system, browser):
    """Step 5: a reset ends the old session at once; the change is told."""
    old_cookies = dict(browser.cookies)
    r = browser.request("accounts", "GET", "/api/v1/accounts/me")
    check(r.status == 200, "signed in before the reset: %r" % r)

    r = Browser(system, FIREFOX_LINUX).request("accounts", "POST",
                                               "/api/v1/accounts/password/forgot",
                                               {"email": EMAIL})
    check(r.status == 202, "forgot password: %r" % r)
    mail = wait_mail(system, EMAIL, RESET)
    check_french_link_mail(mail, "the reset e-mail")
    token = link_token(mail, "reset-password")
    SECRETS["reset token"] = token

    r = Browser(system, FIREFOX_LINUX).request("accounts", "POST",
                                               "/api/v1/accounts/password/reset",
                                               {"token": token, "password": NEW_PASSWORD})
    check(r.status == 204, "reset: %r" % r)
    r = browser.request("accounts", "GET", "/api/v1/accounts/me")
    check(r.status == 401, "the session opened before the reset ends with it: %r" % r)
    check(browser.cookies == old_cookies, "the browser still sent its old session")

    r = Browser(system, FIREFOX_LINUX).request("accounts", "POST",
                                               "/api/v1/accounts/password/reset",
                                               {"token": token, "password": "x" + NEW_PASSWORD})
    is_problem(r, 400, "invalid-token")

    mail = wait_mail(system, EMAIL, CHANGED)
    check(mail["text"].startswith("Bonjour " + NAME) and
          "à l'aide d'un lien de réinitialisation" in mail["text"] and
          "Toutes vos sessions ont été fermées." in mail["text"],
          "the password-changed e-mail says how and what ended: %r" % mail["text"])

    is_problem(browser.login(EMAIL, FIRST_PASSWORD), 401, "invalid-credentials")
    r = browser.login(EMAIL, NEW_PASSWORD)
    check(r.status == 200, "the new password signs in (the known browser): %r" % r)
    check(browser.request("accounts", "GET", "/api/v1/accounts/me").status == 200, "GET /me")


def second_device(system, browser_address):
    """Step 6: a browser new to the user, who had used another, is told."""
    phone = Browser(system, SAFARI_IOS, browser_address)
    r = phone.login(EMAIL, NEW_PASSWORD)
    check(r.status == 200, "sign-in from the phone: %r" % r)
    check("citerne_device" in phone.cookies, "the phone gets a device cookie of its own")
    mail = wait_mail(system, EMAIL, NEW_DEVICE)
    text = mail["text"]
    check("Safari on iOS" in text and browser_address in text,
          "the new-device e-mail names the device and the address %s: %r" %
          (browser_address, text))
    check("Si c'est vous, vous n'avez rien à faire." in text, "in French: %r" % text)
    return phone


def invoices_by_sms(system, made, browser):
    """Step 7: the invoice by SMS only, the other kinds by both."""
    change = {"phone": USER_PHONE, "preferences": {"invoice_issued": "sms"}}
    r = browser.request("accounts", "PATCH", "/api/v1/accounts/me/profile", change,
                        headers={"X-CSRF-Token": "0" * 64})
    check(r.status in (401, 403), "a write with another CSRF token is refused: %r" % r)
    r = browser.request("accounts", "GET", "/api/v1/accounts/me/profile")
    check(r.status == 200 and r.json["phone"] is None and
          r.json["preferences"]["invoice_issued"] == "both",
          "nothing changed by the refused write: %r" % r)
    r = browser.request("accounts", "PATCH", "/api/v1/accounts/me/profile", change)
    check(r.status == 200, "profile: %r" % r)
    check(r.json["phone"] is None and r.json["phone_pending"] == USER_PHONE and
          r.json["preferences"] == {
              "order_proposed": "both", "delivery_scheduled": "both", "delivery_confirmed": "both",
              "invoice_issued": "sms"}, "the profile as changed, the phone pending: %r" % r.json)
    user_id = r.json["user_id"]

    # the new number is proven by the code notify sent it by SMS
    code_sms = wait_until(lambda: [m for m in system.messages(kind="sms", to=USER_PHONE)
                                   if "est votre code" in m["text"]], WAIT,
                          what="the SMS with the code to %s" % USER_PHONE)
    check(len(code_sms) == 1, "one code SMS: %r" % [m["text"] for m in code_sms])
    code = re.search(r"\b(\d{6}) est votre code", code_sms[0]["text"])
    check(code is not None, "a 6-digit code in the SMS: %r" % code_sms[0]["text"])
    wrong = "%06d" % ((int(code.group(1)) + 1) % 1000000)
    r = browser.request("accounts", "POST", "/api/v1/accounts/me/phone/verify", {"code": wrong})
    check(r.status == 400 and r.json["type"].endswith("invalid-code"), "a wrong code: %r" % r)
    r = browser.request("accounts", "POST", "/api/v1/accounts/me/phone/verify",
                        {"code": code.group(1)})
    check(r.status == 200 and r.json["phone"] == USER_PHONE and r.json["phone_pending"] is None,
          "the phone proven: %r" % r)

    # notify reads the profile from the accounts topic and the invoice from
    # billing's: the chain starts once notify has the profile (its read model)
    def profile_known():
        rows = system.sql("notify", "SELECT phone, preferences ->> 'invoice_issued'"
                                    " FROM user_profiles WHERE user_id = '%s'" % user_id)
        return rows == [[USER_PHONE, "sms"]]
    wait_until(profile_known, WAIT, what="notify to read the new profile")

    site = made["site"]["id"]
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    r = system.reading(site, 20, (now - datetime.timedelta(minutes=5)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"))
    check(r.status == 202, "reading below the threshold: %r" % r)
    order = wait_until(lambda: system.deliveries(site), WAIT, what="the automatic delivery")[0]
    r = system.confirm_delivery(order["id"], order["quantity_kg"], 85, order["delivery_date"])
    check(r.status == 200, "delivery confirmed: %r" % r)
    inv = wait_until(lambda: system.invoices_of_order(order["id"]), WAIT,
                     what="the invoice")[0]

    invoice_sms = wait_until(lambda: [m for m in system.messages(kind="sms", to=USER_PHONE)
                                      if inv["number"] in m["text"]], WAIT,
                             what="the invoice SMS to %s" % USER_PHONE)
    check(len(invoice_sms) == 1 and invoice_sms[0]["text"].startswith("Citerne : facture " +
                                                                       inv["number"]),
          "one invoice SMS: %r" % invoice_sms)

    # every notification of the customer sent: what the recorder holds is final
    def all_sent():
        rows = harness.notifications(system, made["customer"]["id"])
        return rows if rows and all(n["status"] == "sent" for n in rows) else None
    rows = wait_until(all_sent, WAIT, what="every notification of the customer sent")
    mails = system.messages(kind="mail", to=EMAIL)
    check(not [m for m in mails if inv["number"] in m["subject"] + m["text"]],
          "no invoice e-mail to the user: %r" % [m["subject"] for m in mails])
    invoice_rows = [(n["channel"], n["recipient"]) for n in rows if n["kind"] == "invoice_issued"]
    check(invoice_rows == [("sms", USER_PHONE)],
          "notify's register agrees: the invoice told by SMS only: %r" % invoice_rows)
    for prefix in CHAIN_MAILS:
        check(len([m for m in mails if m["subject"].startswith(prefix)]) == 1,
              "the other kinds of the chain still come by e-mail (%r): %r" %
              (prefix, [m["subject"] for m in mails]))
    sms = [m for m in system.messages(kind="sms", to=USER_PHONE)
           if "est votre code" not in m["text"]]
    check(len(sms) == 4, "four SMS of the chain to the user's phone (order, schedule, delivery, "
          "invoice): %r" % [m["text"] for m in sms])
    return mails


def nothing_else_told(system, mails):
    """What the person received, all told: the account e-mails once each,
    nothing by SMS to the phone on file, nothing to the addresses that
    proved nothing."""
    subjects = sorted(m["subject"] for m in mails if not m["subject"].startswith(CHAIN_MAILS))
    check(subjects == sorted([ACTIVATION, RESET, CHANGED, NEW_DEVICE]),
          "the account e-mails, once each (no new-device e-mail for the first browser): %r" %
          subjects)
    check(system.messages(to=ON_FILE_PHONE) == [],
          "the customer's phone on file proves the sign-up; it is not a recipient")
    for email in (STRANGER_EMAIL, GUESSER_EMAIL):
        check(system.messages(to=email) == [], "nothing sent to %s" % email)


def main(system):
    global SYSTEM
    SYSTEM = system  # its logs are read once run_main has stopped it
    made = back_office(system)
    laptop = Browser(system, FIREFOX_LINUX, address("203.0.113"))
    token = sign_up(system, laptop)
    activate_and_sign_in(system, made, laptop, token)
    reset_password(system, laptop)
    phone = second_device(system, address("192.0.2"))
    mails = invoices_by_sms(system, made, phone)
    nothing_else_told(system, mails)
    # sessions, CSRF tokens (citerne_csrf) and device ids
    for i, value in enumerate(laptop.seen_cookies + phone.seen_cookies):
        SECRETS["cookie %d" % i] = value
    for key in ("CITERNE_OPERATOR_KEY", "CITERNE_GATEWAY_KEY", "CITERNE_DRIVER_KEY",
                "CITERNE_SMS_TOKEN"):
        SECRETS[key] = system.keys[key]


def no_secret_logged(system):
    """Step 8, once every process has stopped (their logs are whole)."""
    hits = harness.secrets_in_logs(system, SECRETS)
    check(not hits, "secrets in the logs of %s: %s" % (system.dir, "; ".join(hits)))


if __name__ == "__main__":
    harness.run_main(main, "accounts", log_level="debug",
                     env_extra={"CITERNE_TRUSTED_PROXY": "127.0.0.1"})
    no_secret_logged(SYSTEM)
    print("accounts: no secret in %d log files" % len(harness.log_files(SYSTEM)))
