"""End-to-end harness: the whole system as real processes.

A System uses the ctest stack's PostgreSQL and Redis (CITERNE_TEST_STACK),
and starts its own citerne-bus (topics are shared by every client of a bus,
so each system gets a fresh one), its own recorder (SMTP + SMS catcher), five
fresh databases and the five services on free ports. Everything it starts is
stopped by stop(), which also checks that each service exited 0 after
SIGTERM (graceful shutdown).
"""

import json
import os
import secrets
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import stack  # noqa: E402

SERVICES = ["accounts", "telemetry", "orders", "billing", "notify"]


def read_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


class Failure(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        ctype = headers.get("content-type", "")
        self.json = None
        if body and ("json" in ctype):
            self.json = json.loads(body)

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class System:
    """The five services wired to a fresh bus and fresh databases."""

    def __init__(self, name, build=None, log_level="info", partitions=16, env_extra=None):
        self.name = name
        self.build = build or os.environ.get("CITERNE_BUILD_DIR") or os.path.join(ROOT, "build",
                                                                                   "test")
        stack_file = os.environ.get("CITERNE_TEST_STACK")
        if not stack_file or not os.path.exists(stack_file):
            raise Failure("no test stack: CITERNE_TEST_STACK=%r" % stack_file)
        self.stack_env = read_env_file(stack_file)
        base = self.stack_env.get("CITERNE_TEST_STACK_DIR", os.path.dirname(stack_file))
        self.dir = os.path.join(base, "e2e", "%s-%d" % (name, os.getpid()))
        os.makedirs(self.dir, exist_ok=True)
        pg_url = self.stack_env["CITERNE_PG_URL"]
        u = urllib.parse.urlparse(pg_url)
        self.pg_host, self.pg_port, self.pg_user = u.hostname, u.port, u.username
        self.keys = {
            "CITERNE_OPERATOR_KEY": secrets.token_hex(16),
            "CITERNE_GATEWAY_KEY": secrets.token_hex(16),
            "CITERNE_DRIVER_KEY": secrets.token_hex(16),
            "CITERNE_SMS_TOKEN": secrets.token_hex(16),
        }
        self.log_level = log_level
        self.partitions = partitions
        self.env_extra = env_extra or {}
        self.procs = {}
        self.ports = {}
        self.bus = None
        self.recorder = None
        self.kafka_ok = True

    # -------------------------------------------------------- databases

    def dbname(self, svc):
        return "e2e_%s_%s_%d" % (self.name, svc, os.getpid())

    def pg_url(self, svc):
        return "postgresql://%s@%s:%d/%s" % (self.pg_user, self.pg_host, self.pg_port,
                                             self.dbname(svc))

    def sql(self, svc, query):
        """Runs query on svc's database; returns rows as lists of strings."""
        r = subprocess.run(["psql", self.pg_url(svc), "-v", "ON_ERROR_STOP=1", "-tAq", "-F",
                            "\t", "-c", query], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise Failure("psql %s: %s" % (query, r.stderr.decode()))
        out = r.stdout.decode().strip("\n")
        return [line.split("\t") for line in out.split("\n")] if out else []

    def _create_databases(self):
        admin = self.stack_env["CITERNE_PG_URL"]
        for svc in SERVICES:
            db = self.dbname(svc)
            for q in ("DROP DATABASE IF EXISTS %s" % db, "CREATE DATABASE %s" % db):
                subprocess.run(["psql", admin, "-v", "ON_ERROR_STOP=1", "-qc", q], check=True,
                               stdout=subprocess.DEVNULL)

    def _drop_databases(self):
        admin = self.stack_env["CITERNE_PG_URL"]
        for svc in SERVICES:
            subprocess.run(["psql", admin, "-qc",
                            "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.dbname(svc)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # -------------------------------------------------------- processes

    def service_env(self, svc):
        env = {
            "CITERNE_HTTP_ADDR": "127.0.0.1:%d" % self.ports[svc],
            "CITERNE_PG_URL": self.pg_url(svc),
            "CITERNE_REDIS_URL": self.stack_env["CITERNE_REDIS_URL"],
            "CITERNE_KAFKA_BROKERS": self.bus.url,
            "CITERNE_LOG_LEVEL": self.log_level,
            "CITERNE_SMTP_URL": self.recorder.extra["smtp_url"],
            "CITERNE_SMS_URL": self.recorder.extra["sms_url"],
            "CITERNE_PWHASH_OPS": "1",
            "CITERNE_PWHASH_MEM": str(8 * 1024 * 1024),
            # the embedded bus answers an empty fetch only after the whole
            # fetch.wait.max.ms (librdkafka's mock does not cut the wait
            # short when data arrives): wait less so each hop takes ms, not
            # half a second
            "CITERNE_KAFKA_CONSUMER_CONF": "fetch.wait.max.ms=10",
        }
        env.update(self.keys)
        env.update(self.env_extra)
        return env

    def start_service(self, svc, wait=True):
        binary = os.path.join(self.build, "services", svc, "citerne-" + svc)
        if os.environ.get("CITERNE_E2E_VALGRIND"):
            # each service under valgrind: any memory error or definite leak
            # makes its exit status 99, which stop() reports
            wrapper = os.path.join(self.dir, "valgrind-" + svc)
            with open(wrapper, "w") as f:
                f.write("#!/bin/sh\nexec valgrind -q --error-exitcode=99 --leak-check=full "
                        "--errors-for-leak-kinds=definite --show-leak-kinds=definite "
                        "--log-file=%s/log/%s.valgrind.%%p %s\n" % (self.dir, svc, binary))
            os.chmod(wrapper, 0o755)
            binary = wrapper
        proc = stack.start_service(svc, self.service_env(svc), self.dir, binary=binary)
        self.procs[svc] = proc
        if wait:
            stack.wait_ready(proc.url + "/readyz", timeout=60, proc=proc)
        return proc

    def start(self):
        self._create_databases()
        self.bus = stack.start_bus(self.dir, os.path.join(self.build, "tools", "bus",
                                                          "citerne-bus"),
                                   partitions=self.partitions)
        self.recorder = stack.start_recorder(self.dir, self.keys["CITERNE_SMS_TOKEN"])
        for svc in SERVICES:
            self.ports[svc] = stack.free_port()
        for svc in SERVICES:
            self.start_service(svc, wait=False)
        for svc in SERVICES:
            stack.wait_ready(self.procs[svc].url + "/readyz", timeout=60, proc=self.procs[svc])
        return self

    def kill(self, svc, sig=signal.SIGKILL):
        proc = self.procs[svc]
        os.kill(proc.pid, sig)
        proc.popen.wait(timeout=30)
        try:
            os.unlink(proc.pidfile)
        except FileNotFoundError:
            pass

    def stop_service(self, svc, timeout=30):
        """SIGTERM; returns the exit status."""
        proc = self.procs.pop(svc)
        os.kill(proc.pid, signal.SIGTERM)
        try:
            rc = proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.popen.wait()
            rc = "timeout"
        try:
            os.unlink(proc.pidfile)
        except FileNotFoundError:
            pass
        return rc

    def stop(self, check_exit=True):
        statuses = {}
        for svc in list(reversed(SERVICES)):
            if svc in self.procs:
                statuses[svc] = self.stop_service(svc)
        for p in (self.recorder, self.bus):
            if p:
                stack.stop(p.pidfile, timeout=10)
        if check_exit:
            bad = {s: rc for s, rc in statuses.items() if rc != 0}
            if bad:
                raise Failure("services did not stop cleanly on SIGTERM: %r (logs in %s)" %
                              (bad, self.dir))
        self._drop_databases()
        return statuses

    def log_tail(self, svc, n=30):
        return stack.tail(os.path.join(self.dir, "log", svc + ".log"), n)

    # -------------------------------------------------------- HTTP

    def request(self, svc, method, path, body=None, headers=None, key=None, raw=None,
                timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.ports[svc], timeout=timeout)
        h = {}
        if key:
            h["Authorization"] = "Bearer " + self.keys[key]
        if body is not None:
            raw = json.dumps(body).encode()
        if raw is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        conn.request(method, path, body=raw, headers=h)
        r = conn.getresponse()
        resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        resp.cookies = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
        conn.close()
        return resp

    def op(self, svc, method, path, body=None):
        return self.request(svc, method, path, body, key="CITERNE_OPERATOR_KEY")

    def metrics(self, svc):
        r = self.request(svc, "GET", "/metrics")
        check(r.status == 200, "metrics of %s: %r" % (svc, r))
        out = {}
        for line in r.body.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out

    # -------------------------------------------------------- domain helpers

    def create_customer(self, number, segment="household", mode="automatic",
                        price_cents=180000, plan="none", capacity=1000, threshold=30,
                        email=None, phone="+33612345678", password="correct horse battery",
                        role="admin", vat_rate_bp=2000, wait=True, certificate=True):
        body = {"customer_number": number, "name": "Client " + number, "segment": segment,
                "vat_rate_bp": vat_rate_bp}
        if segment == "business":
            body["siret"] = "12345678901234"
        r = self.op("accounts", "POST", "/api/v1/accounts/customers", body)
        check(r.status == 201, "create customer: %r" % r)
        customer = r.json
        r = self.op("accounts", "POST", "/api/v1/accounts/contracts",
                    {"customer_id": customer["id"], "delivery_mode": mode,
                     "price_per_tonne_cents": price_cents, "maintenance_plan": plan})
        check(r.status == 201, "create contract: %r" % r)
        contract = r.json
        r = self.op("accounts", "POST", "/api/v1/accounts/sites",
                    {"contract_id": contract["id"], "capacity_kg": capacity,
                     "threshold_pct": threshold, "address": "1 rue des Lilas, 69001 Lyon",
                     "certificate_received": certificate})
        check(r.status == 201, "create site: %r" % r)
        site = r.json
        user = None
        if email:
            body = {"customer_id": customer["id"], "email": email, "name": "Camille " + number,
                    "role": role, "password": password}
            if phone:
                body["phone"] = phone
            r = self.op("accounts", "POST", "/api/v1/accounts/users", body)
            check(r.status == 201, "create user: %r" % r)
            user = r.json
        if wait:
            self.wait_site_known(site["id"])
        return {"customer": customer, "contract": contract, "site": site, "user": user}

    def wait_site_known(self, site_id, timeout=60):
        """Waits until telemetry's read model has the site (SiteCreated
        consumed): the system is eventually consistent, and telemetry
        refuses readings for a site it does not know (422)."""
        def known():
            r = self.op("telemetry", "GET", "/api/v1/telemetry/sites/%s/readings?limit=1" %
                        site_id)
            check(r.status in (200, 404), "telemetry site lookup: %r" % r)
            return r.status == 200
        wait_until(known, timeout, what="telemetry to know site %s" % site_id)

    def reading(self, site_id, level, measured_at="2026-11-20T08:00:00Z"):
        return self.request("telemetry", "POST", "/api/v1/telemetry/readings",
                            {"readings": [{"site_id": site_id, "level_pct": level,
                                           "measured_at": measured_at, "source": "sensor"}]},
                            key="CITERNE_GATEWAY_KEY")

    def deliveries(self, site_id, status="scheduled"):
        r = self.request("orders", "GET", "/api/v1/orders/deliveries?site_id=%s&status=%s" %
                         (site_id, status), key="CITERNE_DRIVER_KEY")
        check(r.status == 200, "deliveries: %r" % r)
        return r.json["deliveries"]

    def orders_of_site(self, site_id):
        r = self.op("orders", "GET", "/api/v1/orders/orders?site_id=%s" % site_id)
        check(r.status == 200, "orders: %r" % r)
        return r.json["orders"]

    def confirm_delivery(self, order_id, kg, level_after=85, on=None):
        body = {"delivered_kg": kg, "level_after_pct": level_after}
        if on:
            body["delivered_on"] = on
        return self.request("orders", "POST", "/api/v1/orders/deliveries/%s/confirm" % order_id,
                            body, key="CITERNE_DRIVER_KEY")

    def invoices_of_order(self, order_id):
        r = self.op("billing", "GET", "/api/v1/billing/invoices?order_id=%s" % order_id)
        check(r.status == 200, "invoices: %r" % r)
        return r.json["invoices"]

    def messages(self, kind=None, to=None):
        import recorder
        return recorder.fetch_messages(self.recorder.extra["messages_url"], kind=kind, to=to)

    # -------------------------------------------------------- Kafka

    def topic_records(self, service):
        """Every record value of citerne.<service>.v1 (bytes), read with kcat
        from the beginning to the current end."""
        r = subprocess.run(["kcat", "-C", "-b", self.bus.url, "-t", "citerne.%s.v1" % service,
                            "-o", "beginning", "-e", "-q", "-f", "%R%s"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if r.returncode != 0:
            raise Failure("kcat: %s" % r.stderr.decode())
        data, out, i = r.stdout, [], 0
        while i + 4 <= len(data):
            (vlen,) = struct.unpack(">i", data[i:i + 4])
            i += 4
            out.append(data[i:i + max(vlen, 0)])
            i += max(vlen, 0)
        check(i == len(data), "kcat output ends with a whole record")
        return out

    def produce_raw(self, service, key, value):
        subprocess.run(["kcat", "-P", "-b", self.bus.url, "-t", "citerne.%s.v1" % service,
                        "-k", key], input=value, check=True, timeout=30)


def wait_until(fn, timeout=30, interval=0.1, what="condition"):
    """Calls fn until it returns a truthy value; returns it. Raises Failure."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except Failure as e:
            last = e
        if time.monotonic() > deadline:
            raise Failure("timed out after %ss waiting for %s%s" %
                          (timeout, what, (": %s" % last) if last else ""))
        time.sleep(interval)


# ------------------------------------------------------------ protobuf, minimal

def pb_fields(buf):
    """Decodes one protobuf message level into [(field, wiretype, value)]."""
    out, i = [], 0

    def varint():
        nonlocal i
        shift = result = 0
        while True:
            b = buf[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
    while i < len(buf):
        tag = varint()
        field, wt = tag >> 3, tag & 7
        if wt == 0:
            out.append((field, wt, varint()))
        elif wt == 2:
            n = varint()
            out.append((field, wt, buf[i:i + n]))
            i += n
        elif wt == 1:
            out.append((field, wt, buf[i:i + 8]))
            i += 8
        elif wt == 5:
            out.append((field, wt, buf[i:i + 4]))
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
    return out


def event_id_and_body(value):
    """(event_id, body field number, body bytes) of a <Service>Event record."""
    eid, body_field, body = None, None, None
    for f, wt, v in pb_fields(value):
        if f == 1 and wt == 2:
            for mf, mwt, mv in pb_fields(v):
                if mf == 1 and mwt == 2:
                    eid = mv.decode()
        elif wt == 2:
            body_field, body = f, v
    return eid, body_field, body


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_main(test_fn, name, **kw):
    """Runs test_fn(system) with a started System; prints logs on failure."""
    system = System(name, **kw)
    ok = False
    try:
        system.start()
        test_fn(system)
        ok = True
    except BaseException:
        for svc in SERVICES:
            sys.stderr.write("---- %s log (tail)\n%s\n" % (svc, system.log_tail(svc, 25)))
        raise
    finally:
        try:
            system.stop(check_exit=ok)
        except Failure:
            if ok:
                raise
    print("%s: OK" % name)


# ------------------------------------------------------------ people (accounts)

def create_customer_on_file(system, number, phone, mode="automatic", price_cents=180000,
                            capacity=1000, threshold=30):
    """What the back office makes before anyone signs up: a household
    customer with a phone on file (it proves the customer at sign-up), a
    contract and a site, and no user. Waits until telemetry knows the site.
    Returns {"customer", "contract", "site"}."""
    made = {}
    steps = (
        ("customer", "customers", lambda: {
            "customer_number": number, "name": "Client " + number, "segment": "household",
            "phone": phone}),
        ("contract", "contracts", lambda: {
            "customer_id": made["customer"]["id"], "delivery_mode": mode,
            "price_per_tonne_cents": price_cents, "maintenance_plan": "none"}),
        ("site", "sites", lambda: {
            "contract_id": made["contract"]["id"], "capacity_kg": capacity,
            "threshold_pct": threshold, "address": "3 chemin des Vignes, 26000 Valence",
            "certificate_received": True}),
    )
    for what, collection, body in steps:
        r = system.op("accounts", "POST", "/api/v1/accounts/" + collection, body())
        check(r.status == 201, "back office creates the %s: %r" % (what, r))
        made[what] = r.json
    system.wait_site_known(made["site"]["id"])
    return made


class Browser:
    """One browser of a person: its own cookie jar, kept by hand from the
    Set-Cookie headers it is sent (a Max-Age of 0 or less deletes), its
    User-Agent and, when accounts trusts the local proxy
    (CITERNE_TRUSTED_PROXY=127.0.0.1 in the system's env_extra), the client
    address it claims through X-Forwarded-For. Once signed in, its writes
    carry X-CSRF-Token (the csrf of the last sign-in's answer). Every cookie
    value it was ever given is kept in seen_cookies (to look for in logs)."""

    def __init__(self, system, user_agent, address=None):
        self.system = system
        self.user_agent = user_agent
        self.address = address
        self.cookies = {}
        self.csrf = None
        self.seen_cookies = []

    def request(self, svc, method, path, body=None, headers=None):
        h = {"User-Agent": self.user_agent}
        if self.address:
            h["X-Forwarded-For"] = self.address
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if self.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        h.update(headers or {})
        r = self.system.request(svc, method, path, body, headers=h)
        for header in r.cookies:
            self._keep(header)
        return r

    def _keep(self, header):
        first, *attrs = [p.strip() for p in header.split(";")]
        name, _, value = first.partition("=")
        max_age = None
        for a in attrs:
            k, _, v = a.partition("=")
            if k.lower() == "max-age":
                max_age = int(v)
        if max_age is not None and max_age <= 0:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value
            self.seen_cookies.append(value)

    def login(self, email, password):
        """POST /login; on 200 the session's csrf is kept for later writes."""
        r = self.request("accounts", "POST", "/api/v1/accounts/login",
                         {"email": email, "password": password})
        if r.status == 200 and r.json and r.json.get("csrf"):
            self.csrf = r.json["csrf"]
        return r


def log_files(system):
    """Every log file of the system's processes (services, bus, valgrind
    reports) but the recorder's: the recorder is the people's mailbox."""
    d = os.path.join(system.dir, "log")
    return sorted(os.path.join(d, f) for f in os.listdir(d) if not f.startswith("recorder"))


def secrets_in_logs(system, secrets_by_label):
    """["<label> in <file> line <n>", ...] for each secret found in a log
    file of the system (see log_files). A secret must not be empty."""
    check(all(secrets_by_label.values()), "an empty secret matches every line")
    hits = []
    for path in log_files(system):
        with open(path, "rb") as f:
            for n, line in enumerate(f, 1):
                for label, secret in secrets_by_label.items():
                    if secret.encode() in line:
                        hits.append("%s in %s line %d" % (label, os.path.basename(path), n))
    return hits


def notifications(system, customer_id):
    """notify's operator listing of a customer's notifications, newest first."""
    r = system.op("notify", "GET", "/api/v1/notify/notifications?customer_id=" + customer_id)
    check(r.status == 200, "notifications of %s: %r" % (customer_id, r))
    return r.json["notifications"]


# ------------------------------------------------------------ events of a topic

META_FIELDS = {1: "event_id", 2: "occurred_at", 3: "producer", 4: "correlation_id",
               5: "causation_id"}


def _pb_value(wt, v):
    """A field's value: text when it is UTF-8, else its bytes (a nested
    message); varints as ints."""
    if wt != 2:
        return v
    try:
        return v.decode()
    except UnicodeDecodeError:
        return v


def topic_events(system, service, body_field):
    """[(meta, body)] of the records of citerne.<service>.v1 whose body is
    field body_field of the <Service>Event (the oneof's number in the .proto),
    in topic order: meta as {"event_id", "correlation_id", ...}, body as
    {field number: value} (strings and ints; proto3 leaves out zero values)."""
    out = []
    for value in system.topic_records(service):
        meta, body = {}, None
        for f, wt, v in pb_fields(value):
            if f == 1 and wt == 2:
                meta = {META_FIELDS.get(mf, mf): _pb_value(mwt, mv)
                        for mf, mwt, mv in pb_fields(v)}
            elif f == body_field and wt == 2:
                body = {bf: _pb_value(bwt, bv) for bf, bwt, bv in pb_fields(v)}
        if body is not None:
            out.append((meta, body))
    return out


# ------------------------------------------------------------ customers made piece by piece

def add_site(system, customer_id, address, mode="automatic", price_cents=180000, capacity=1000,
             threshold=30, certificate=True, wait=True):
    """A contract of the customer and one site on it, by the back office, at
    an address of the caller's choosing (create_customer's is the same for
    every customer). Waits until telemetry knows the site unless wait is
    false. Returns {"contract", "site"}."""
    r = system.op("accounts", "POST", "/api/v1/accounts/contracts",
                  {"customer_id": customer_id, "delivery_mode": mode,
                   "price_per_tonne_cents": price_cents, "maintenance_plan": "none"})
    check(r.status == 201, "create contract: %r" % r)
    contract = r.json
    r = system.op("accounts", "POST", "/api/v1/accounts/sites",
                  {"contract_id": contract["id"], "capacity_kg": capacity,
                   "threshold_pct": threshold, "address": address,
                   "certificate_received": certificate})
    check(r.status == 201, "create site: %r" % r)
    if wait:
        system.wait_site_known(r.json["id"])
    return {"contract": contract, "site": r.json}


def add_user(system, customer_id, email, role, password, name, phone=None):
    """An active user of the customer with that role, made by the back office."""
    body = {"customer_id": customer_id, "email": email, "name": name, "role": role,
            "password": password}
    if phone:
        body["phone"] = phone
    r = system.op("accounts", "POST", "/api/v1/accounts/users", body)
    check(r.status == 201, "create user %s: %r" % (email, r))
    return r.json


def sign_in(system, email, password, user_agent, address=None):
    """A Browser signed in as email (checked: 200 and a csrf)."""
    b = Browser(system, user_agent, address)
    r = b.login(email, password)
    check(r.status == 200 and b.csrf, "sign-in of %s: %r" % (email, r))
    return b


# ------------------------------------------------------------ the documented endpoints

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def openapi_operations(service):
    """Every operation of services/<service>/openapi.yaml as a dict: service,
    method (upper case), path (the template), schemes (the names of every
    security scheme of any alternative of its security, the document's
    default when it has none of its own) and responses (the documented
    status codes, strings)."""
    import yaml  # python3-yaml, installed by tools/deps.sh
    with open(os.path.join(ROOT, "services", service, "openapi.yaml")) as f:
        doc = yaml.safe_load(f)
    out = []
    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            security = op.get("security", doc.get("security")) or []
            out.append({"service": service, "method": method.upper(), "path": path,
                        "schemes": {name for alt in security for name in alt},
                        "responses": {str(code) for code in (op.get("responses") or {})}})
    return out
