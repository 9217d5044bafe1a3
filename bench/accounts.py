#!/usr/bin/env python3
"""Accounts benchmark: sessions, logins and the loop under hashing, each
against a reference measured in the same run on the same machine.

It starts its own stack (PostgreSQL, Redis, bus) in a scratch directory and
citerne-accounts from an optimised build (build/run by default) with the
service's own argon2id defaults (no CITERNE_PWHASH_* set), plus an nginx
serving a static file. Then, with wrk (Debian package `wrk`) as the load
generator:

  (a) GET /api/v1/accounts/me with a session cookie (session lookup in Redis,
      the idle slide, the user row from PostgreSQL) against nginx serving a
      static file with the same bytes as that answer: requests/s and ratio;
      and GET /healthz (no session, no database) to split the gap;
  (b) POST /api/v1/accounts/login by --login-conns clients at once (each
      login is an argon2id verify on the thread pool, a new session, a
      register row): logins/s against argon2id hashes/s of libsodium itself
      with the same parameters, in as many threads as libuv's pool (4);
  (c) GET /healthz latency, paced at --probe-rate, with no load and then
      while --login-conns logins hash at once: p50/p99/max and p99 ratio.

  python3 bench/accounts.py
  python3 bench/accounts.py --duration 15 --conns 32 --login-conns 16

Every load run is bounded by --duration seconds.
"""

import argparse
import ctypes
import http.client
import json
import os
import re
import shutil
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

PASSWORD = "correct horse battery staple"

LOGIN_LUA = r"""
-- One login per request, cycling through the users; each request comes
-- "through a proxy" from its own address (X-Forwarded-For, the service trusts
-- 127.0.0.1 here) so the per-address throttle sees distinct clients, as it
-- would in production. Each user sends the device cookie of an earlier login.
local users = {}
for line in io.lines(os.getenv("BENCH_USERS")) do
  local email, device = line:match("^(%S+) (%S+)$")
  users[#users + 1] = {email = email, device = device}
end
local n = 0
request = function()
  n = n + 1
  local u = users[(n % #users) + 1]
  local body = string.format('{"email":"%s","password":"%s"}', u.email, os.getenv("BENCH_PASSWORD"))
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = string.format("10.%d.%d.%d", (n / 65536) % 256, (n / 256) % 256, n % 256),
    ["Cookie"] = "citerne_device=" .. u.device,
  }
  return wrk.format("POST", "/api/v1/accounts/login", headers, body)
end
"""

NGINX_CONF = """daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    server_tokens off;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
        default_type application/json;
    }}
}}
"""


def wrk(url, duration, conns, headers=(), script=None, env=None):
    """Runs wrk (1 thread: the other core is the server's); returns
    {rps, non2xx, p50, p99 (ms), requests}."""
    argv = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, "--latency",
            "--timeout", "10s"]
    for h in headers:
        argv += ["-H", h]
    if script:
        argv += ["-s", script]
    argv.append(url)
    e = dict(os.environ)
    e.update(env or {})
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e,
                         timeout=duration + 30).stdout.decode()

    def num(pattern, default=None):
        m = re.search(pattern, out)
        return m.group(1) if m else default

    def ms(v):
        m = re.match(r"([\d.]+)(us|ms|s)", v or "")
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]

    rps = num(r"Requests/sec:\s+([\d.]+)")
    harness.check(rps is not None, "wrk gave no figures:\n%s" % out)
    return {"rps": float(rps), "non2xx": int(num(r"Non-2xx or 3xx responses: (\d+)", "0")),
            "errors": num(r"(Socket errors:.*)", ""),
            "requests": int(num(r"(\d+) requests in", "0")),
            "p50": ms(num(r"50%\s+(\S+)")), "p99": ms(num(r"99%\s+(\S+)")), "raw": out}


def probe(port, seconds, rate, stop=None):
    """GET /healthz every 1/rate s on one keep-alive connection; returns the
    latencies in ms. Paced (not closed-loop), so a stalled loop shows."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    lat = []
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < seconds and not (stop and stop.is_set()):
        due = t0 + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        s = time.perf_counter()
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        r.read()
        lat.append((time.perf_counter() - s) * 1000)
        harness.check(r.status == 200, "healthz: %d" % r.status)
        i += 1
    conn.close()
    return lat


def pct(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def argon2_reference(ops, mem, threads, seconds):
    """argon2id hashes/s of libsodium (crypto_pwhash_str, the parameters of
    the service) in `threads` threads for `seconds` (ctypes drops the GIL)."""
    lib = ctypes.CDLL("libsodium.so.23")
    harness.check(lib.sodium_init() >= 0, "sodium_init")
    lib.crypto_pwhash_str.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong,
                                      ctypes.c_ulonglong, ctypes.c_size_t]
    counts = [0] * threads
    end = time.monotonic() + seconds

    def work(k):
        out = ctypes.create_string_buffer(128)
        pw = PASSWORD.encode()
        while time.monotonic() < end:
            harness.check(lib.crypto_pwhash_str(out, pw, len(pw), ops, mem) == 0, "pwhash")
            counts[k] += 1
    t0 = time.monotonic()
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / (time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "run"))
    ap.add_argument("--dir", default="/tmp/citerne-bench-accounts")
    ap.add_argument("--duration", type=int, default=10, help="seconds of each load run")
    ap.add_argument("--conns", type=int, default=32, help="connections of the /me and nginx runs")
    ap.add_argument("--login-conns", type=int, default=16, help="logins at once")
    ap.add_argument("--users", type=int, default=32)
    ap.add_argument("--probe-rate", type=float, default=200, help="/healthz probes per second")
    ap.add_argument("--only", default="abc", help="which figures: any of a, b, c")
    ap.add_argument("--binary", help="citerne-accounts to run (default: the build's)")
    a = ap.parse_args()
    harness.check(shutil.which("wrk"), "wrk not found: apt-get install wrk (tools/deps.sh)")
    nginx_exe = shutil.which("nginx") or "/usr/sbin/nginx"

    d = os.path.abspath(a.dir)
    stack.stop_all(d, quiet=True)
    os.makedirs(d, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "stack.py"), "up", "--dir", d,
                    "--bus", os.path.join(a.build, "tools", "bus", "citerne-bus")], check=True,
                   stdout=subprocess.DEVNULL)
    os.environ["CITERNE_TEST_STACK"] = os.path.join(d, "env")
    system = harness.System("benchacct", build=a.build, log_level="warn")
    nginx = None
    try:
        system._create_databases()
        port = stack.free_port()
        system.ports["accounts"] = port
        env = {  # the service's defaults otherwise: no CITERNE_PWHASH_*
            "CITERNE_HTTP_ADDR": "127.0.0.1:%d" % port,
            "CITERNE_PG_URL": system.pg_url("accounts"),
            "CITERNE_REDIS_URL": system.stack_env["CITERNE_REDIS_URL"],
            "CITERNE_KAFKA_BROKERS": system.stack_env["CITERNE_KAFKA_BROKERS"],
            "CITERNE_KAFKA_CONSUMER_CONF": "fetch.wait.max.ms=10",
            "CITERNE_LOG_LEVEL": "warn",
            "CITERNE_OPERATOR_KEY": system.keys["CITERNE_OPERATOR_KEY"],
            "CITERNE_TRUSTED_PROXY": "127.0.0.1",
        }
        for k in [k for k in os.environ if k.startswith("CITERNE_PWHASH")]:
            del os.environ[k]
        proc = stack.start_service("accounts", env, system.dir,
                                   binary=a.binary or os.path.join(a.build, "services",
                                                                   "accounts", "citerne-accounts"))
        system.procs["accounts"] = proc
        stack.wait_ready(proc.url + "/readyz", timeout=60, proc=proc)

        # users, each signed in once (device cookie kept for the login run)
        emails = []
        for i in range(a.users):
            if i % 8 == 0:
                c = system.create_customer("C%07d" % (8000000 + i), wait=False)
            email = "bench%d@example.test" % i
            r = system.op("accounts", "POST", "/api/v1/accounts/users",
                          {"customer_id": c["customer"]["id"],
                           "email": email, "name": "Bench %d" % i, "role": "admin",
                           "password": PASSWORD})
            harness.check(r.status == 201, "user: %r" % r)
            emails.append(email)
        hash_row = system.sql("accounts", "SELECT password_hash FROM users LIMIT 1")[0][0]
        params = re.search(r"\$argon2id\$v=\d+\$(m=\d+,t=\d+,p=\d+)\$", hash_row).group(1)
        m_kib, t_ops = [int(x) for x in re.findall(r"[mt]=(\d+)", params)]

        def login(email, device=None):
            h = {"X-Forwarded-For": "10.255.0.1"}
            if device:
                h["Cookie"] = "citerne_device=" + device
            r = system.request("accounts", "POST", "/api/v1/accounts/login",
                               {"email": email, "password": PASSWORD}, headers=h)
            harness.check(r.status == 200, "login: %r" % r)
            jar = dict(c.split(";")[0].split("=", 1) for c in r.cookies)
            return jar
        users_file = os.path.join(d, "users.txt")
        with open(users_file, "w") as f:
            for e in emails:
                f.write("%s %s\n" % (e, login(e)["citerne_device"]))
        jar = login(emails[0])
        cookie = "Cookie: __Host-citerne_session=%s" % jar["__Host-citerne_session"]
        me = system.request("accounts", "GET", "/api/v1/accounts/me",
                            headers={"Cookie": cookie.split(": ", 1)[1]})
        harness.check(me.status == 200, "me: %r" % me)

        # nginx: one worker (accounts has one loop), a file with /me's bytes
        nd = os.path.join(d, "nginx")
        os.makedirs(os.path.join(nd, "www"), exist_ok=True)
        os.makedirs(os.path.join(nd, "tmp"), exist_ok=True)
        with open(os.path.join(nd, "www", "me.json"), "wb") as f:
            f.write(me.body)
        nport = stack.free_port()
        user = ""
        if os.geteuid() == 0:
            os.chmod(nd, 0o755)
            os.chmod(os.path.join(nd, "tmp"), 0o777)
            user = "user root root;"  # loopback only, files in a scratch directory
        conf = os.path.join(nd, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=nd, port=nport, user=user))
        nginx = stack.spawn("nginx-bench", [nginx_exe, "-p", nd + "/", "-c", conf, "-e",
                                            os.path.join(nd, "error.log")], d,
                            stop_signal="SIGQUIT")
        deadline = time.monotonic() + 10
        while not stack._tcp_ok(nport) and time.monotonic() < deadline:
            time.sleep(0.05)
        harness.check(stack._tcp_ok(nport), "nginx did not start (see %s)" % nd)

        base = "http://127.0.0.1:%d" % port
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print("accounts bench %s: argon2id %s (%d MiB, %d passes), wrk -t1, %ds per run" %
              (stamp, params, m_kib // 1024, t_ops, a.duration))

        lua = os.path.join(d, "login.lua")
        with open(lua, "w") as f:
            f.write(LOGIN_LUA)
        lenv = {"BENCH_USERS": users_file, "BENCH_PASSWORD": PASSWORD}
        figures = {"date": stamp, "argon2id": params}
        # (a) sessions vs nginx; warm both first
        if "a" in a.only:
            wrk("http://127.0.0.1:%d/me.json" % nport, 2, a.conns)
            wrk(base + "/api/v1/accounts/me", 2, a.conns, headers=[cookie])
            ng = wrk("http://127.0.0.1:%d/me.json" % nport, a.duration, a.conns)
            ses = wrk(base + "/api/v1/accounts/me", a.duration, a.conns, headers=[cookie])
            harness.check(ses["non2xx"] == 0, "/me answered non-2xx: %s" % ses["raw"])
            # the HTTP layer alone (no session, no database), to split the gap
            hz = wrk(base + "/healthz", a.duration, a.conns)
            print("(a) GET /me with a session, %d conns: %.0f req/s (p50 %.2f ms, p99 %.2f ms); "
                  "nginx static %d bytes: %.0f req/s (p50 %.2f ms, p99 %.2f ms); ratio %.3f" %
                  (a.conns, ses["rps"], ses["p50"], ses["p99"], len(me.body), ng["rps"], ng["p50"],
                   ng["p99"], ses["rps"] / ng["rps"]))
            print("    GET /healthz (no session, no database), %d conns: %.0f req/s "
                  "(p50 %.2f ms, p99 %.2f ms); ratio to nginx %.3f" %
                  (a.conns, hz["rps"], hz["p50"], hz["p99"], hz["rps"] / ng["rps"]))
            figures.update(me_rps=ses["rps"], nginx_rps=ng["rps"], healthz_rps=hz["rps"])

        # (b) logins/s vs libsodium's own hash rate at the same parameters
        if "b" in a.only:
            ref = argon2_reference(t_ops, m_kib * 1024, 4, a.duration)
            lg = wrk(base + "/api/v1/accounts/login", a.duration, a.login_conns, script=lua, env=lenv)
            harness.check(lg["non2xx"] == 0, "logins answered non-2xx: %s" % lg["raw"])
            print("(b) POST /login, %d at once: %.1f logins/s (p50 %.0f ms, p99 %.0f ms); "
                  "libsodium argon2id alone, 4 threads: %.1f hashes/s; ratio %.3f" %
                  (a.login_conns, lg["rps"], lg["p50"], lg["p99"], ref, lg["rps"] / ref))
            figures.update(logins_per_s=lg["rps"], argon2_ref_per_s=ref)

        # (c) /healthz p99, idle then while logins hash
        if "c" in a.only:
            quiet = probe(port, a.duration, a.probe_rate)
            box = {}

            def load():
                box["w"] = wrk(base + "/api/v1/accounts/login", a.duration + 2, a.login_conns,
                               script=lua, env=lenv)
            t = threading.Thread(target=load)
            t.start()
            time.sleep(1)  # the hashes are under way
            busy = probe(port, a.duration, a.probe_rate)
            t.join()
            harness.check(box["w"]["non2xx"] == 0, "logins answered non-2xx: %s" % box["w"]["raw"])
            print("(c) GET /healthz at %.0f/s: idle p50 %.2f p99 %.2f max %.2f ms (%d probes); "
                  "while %d logins hash (%.1f logins/s): p50 %.2f p99 %.2f max %.2f ms (%d probes); "
                  "p99 ratio %.2f" %
                  (a.probe_rate, pct(quiet, 50), pct(quiet, 99), max(quiet), len(quiet),
                   a.login_conns, box["w"]["rps"], pct(busy, 50), pct(busy, 99), max(busy),
                   len(busy), pct(busy, 99) / pct(quiet, 99)))
            figures.update(healthz_idle_p99_ms=pct(quiet, 99), healthz_busy_p99_ms=pct(busy, 99))
        print(json.dumps(figures))
    finally:
        if nginx:
            stack.stop(nginx.pidfile, timeout=10)
        try:
            system.stop(check_exit=False)
        finally:
            subprocess.run([sys.executable, os.path.join(ROOT, "tools", "stack.py"), "down",
                            "--dir", d], stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
