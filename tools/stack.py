#!/usr/bin/env python3
"""Starts and stops the pieces of Citerne on this machine (standard library only).

Commands:
  stack.py run  --dir var --build build/run   the local run, in the foreground
  stack.py stop --dir var                     stops a local run (from another terminal)
  stack.py status --dir var                   exit 0 when a local run is up
  stack.py up   --dir DIR --bus PATH          the test stack: Postgres, Redis, bus; writes DIR/env
  stack.py down --dir DIR                     stops the test stack (never fails)

As a module (tests/e2e imports it; these signatures are kept stable):
  start_postgres(dir, port=None, fresh=False, fsync=True, max_connections=200) -> Proc
  create_databases(pg, names)
  start_redis(dir, port=None) -> Proc
  start_bus(dir, bus, partitions=16, timeout=30) -> Proc
  start_recorder(dir, sms_token, smtp_port=None, http_port=None) -> Proc
  start_service(name, env, dir, binary=None, build="build/run", http_addr=None) -> Proc
  wait_ready(url, timeout=60, proc=None)
  stop(pidfile, timeout=15) -> bool
  stop_all(dir, timeout=15)
  stop_tree(dir, timeout=15)
  free_port(prefer=None) -> int
  tail(path, n=40) -> str                  the last lines of a log
  psql(pg, sql, db="postgres") -> str      runs SQL on the server of start_postgres
  spawn(name, argv, dir, env=None, ...)    any other process, with log and pid file

Every process is started in its own session (start_new_session) with stdin
from /dev/null and its output in DIR/log/<name>.log, and gets a pid file
DIR/run/<name>.pid (pid, stop signal, program), so another process (a later
`down`, `stop`) can stop it. Failures raise StackError with a message a
person can act on.
"""

import argparse
import glob
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> default HTTP port of the local run (DESIGN.md, "ports").
SERVICES = {
    "accounts": 8081,
    "orders": 8082,
    "billing": 8083,
    "notify": 8084,
    "telemetry": 8085,
}
# Start order of the local run; stop goes the other way.
START_ORDER = ["postgres", "redis", "bus", "recorder", "accounts", "telemetry",
               "orders", "billing", "notify", "nginx"]
# name -> random bytes; accounts wants exactly 32 bytes (64 hex digits) to
# seal TOTP secrets
SECRET_KEYS = {"CITERNE_OPERATOR_KEY": 24, "CITERNE_GATEWAY_KEY": 24, "CITERNE_DRIVER_KEY": 24,
               "CITERNE_SMS_TOKEN": 24, "CITERNE_ACCOUNTS_SECRET_KEY": 32}
DATABASES = ["citerne_" + s for s in SERVICES]


class StackError(Exception):
    """A step failed; the message says what and where to look."""


@dataclass
class Proc:
    """A started process. url: what clients use (postgres: the URL of database
    `postgres`; redis: redis://...; bus: the bootstrap broker list; recorder
    and services: http://host:port). extra: smtp_url/sms_url for the recorder,
    data_dir for postgres."""
    name: str
    pid: int
    pidfile: str
    log: str
    port: int = 0
    url: str = ""
    extra: dict = field(default_factory=dict)
    popen: object = None


def say(msg):
    try:
        print("stack: " + msg, flush=True)
    except (BrokenPipeError, OSError):
        pass  # the terminal or pipe is gone (Ctrl-C on `... | tee`): carry on stopping


# ---------------------------------------------------------------- processes

def _dirs(d):
    d = os.path.abspath(d)
    for sub in ("run", "log"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    return d


def free_port(prefer=None):
    """prefer when it is free on 127.0.0.1, otherwise a port the kernel picks."""
    if prefer and _port_free(prefer):
        return prefer
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def _pid_alive(pid):
    try:
        # our own child: reap it if it exited, so a zombie does not look alive
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _read_pidfile(pidfile):
    """(pid, stop signal, program) or None when absent or unreadable."""
    try:
        with open(pidfile) as f:
            lines = f.read().split("\n")
        pid = int(lines[0])
    except (OSError, ValueError):
        return None
    sig = lines[1] if len(lines) > 1 and lines[1] else "SIGTERM"
    prog = lines[2] if len(lines) > 2 else ""
    return pid, getattr(signal, sig, signal.SIGTERM), prog


def _is_ours(pid, prog):
    """The pid still runs the program we started (pids get reused)."""
    if not prog:
        return True
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True  # cannot tell: trust the pid file
    return os.path.basename(prog) in cmdline


def pidfile_alive(pidfile):
    """pid of the process the pid file names when it still runs, else None."""
    rec = _read_pidfile(pidfile)
    if rec and _pid_alive(rec[0]) and _is_ours(rec[0], rec[2]):
        return rec[0]
    return None


def spawn(name, argv, dir, env=None, user=None, stop_signal="SIGTERM", cwd=None):
    """Starts argv detached (own session, stdin /dev/null, output appended to
    dir/log/<name>.log) and writes dir/run/<name>.pid. env: the full
    environment (None: this process's). user: run as that user (needs root).
    Returns a Proc (popen set: the caller may wait on it)."""
    d = _dirs(dir)
    log = os.path.join(d, "log", name + ".log")
    pidfile = os.path.join(d, "run", name + ".pid")
    kw = {}
    if user:
        pw = pwd.getpwnam(user)
        kw = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        env = dict(env if env is not None else os.environ, HOME=pw.pw_dir, USER=user,
                   LOGNAME=user)
    with open(log, "ab") as out, open(os.devnull, "rb") as devnull:
        out.write(("--- %s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                    " ".join(argv))).encode())
        out.flush()
        try:
            p = subprocess.Popen(argv, stdin=devnull, stdout=out, stderr=subprocess.STDOUT,
                                 env=env, cwd=cwd or d, start_new_session=True, **kw)
        except OSError as e:
            raise StackError("cannot start %s (%s): %s" % (name, argv[0], e))
    tmp = pidfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n%s\n%s\n" % (p.pid, stop_signal, argv[0]))
    os.replace(tmp, pidfile)
    return Proc(name=name, pid=p.pid, pidfile=pidfile, log=log, popen=p)


def stop(pidfile, timeout=15):
    """Stops the process named by pidfile: its stop signal (SIGTERM, SIGINT for
    Postgres), then SIGKILL to its whole process group after timeout seconds.
    Removes the pid file. Returns True when a live process was stopped, False
    when there was nothing to stop (no file, stale pid). Never raises for an
    already stopped process."""
    rec = _read_pidfile(pidfile)
    if rec is None:
        _unlink(pidfile)
        return False
    pid, sig, prog = rec
    if not _pid_alive(pid) or not _is_ours(pid, prog):
        _unlink(pidfile)
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(pid):
        say("%s (pid %d) did not stop within %ds: SIGKILL" %
            (os.path.basename(pidfile)[:-4], pid, timeout))
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    _unlink(pidfile)
    return True


def stop_all(dir, timeout=15, quiet=False):
    """Stops every process with a pid file in dir/run, in the reverse of
    START_ORDER (unknown names first: they are clients of the known ones)."""
    run = os.path.join(os.path.abspath(dir), "run")
    files = glob.glob(os.path.join(run, "*.pid"))

    def rank(p):
        n = os.path.basename(p)[:-4]
        return -START_ORDER.index(n) if n in START_ORDER else -len(START_ORDER)
    for p in sorted(files, key=rank):
        n = os.path.basename(p)[:-4]
        if n == "stack":
            continue
        if stop(p, timeout) and not quiet:
            say("stopped " + n)


def stop_tree(dir, timeout=15, quiet=False):
    """stop_all on dir and on every directory below it that has a run/ with
    pid files (the e2e tests start their own services under the test
    stack's directory), the deepest first."""
    d = os.path.abspath(dir)
    found = []
    for root_, dirs, files in os.walk(d):
        dirs[:] = [x for x in dirs if x not in ("pg", "redis", "bus", "log", "nginx")]
        if os.path.basename(root_) == "run" and any(f.endswith(".pid") for f in files):
            found.append(os.path.dirname(root_))
    for sub in sorted(found, key=lambda x: -x.count(os.sep)):
        stop_all(sub, timeout=timeout, quiet=quiet)


def _unlink(p):
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


def tail(path, n=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 64 * 1024))
            return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
    except OSError as e:
        return "(no log: %s)" % e


def _fail(proc, what):
    raise StackError("%s\n--- last lines of %s:\n%s" % (what, proc.log, tail(proc.log)))


def _wait(proc, check, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        rc = proc.popen.poll() if proc.popen is not None else None
        if rc is not None or (proc.popen is None and not _pid_alive(proc.pid)):
            _fail(proc, "%s exited%s while starting (%s)"
                  % (proc.name, "" if rc is None else " with status %d" % rc, what))
        if time.monotonic() > deadline:
            _fail(proc, "%s not ready after %ds (%s)" % (proc.name, timeout, what))
        time.sleep(0.1)


def wait_ready(url, timeout=60, proc=None):
    """Polls url (GET) until it answers 200. Raises StackError after timeout
    seconds, or at once when proc (a Proc) exits meanwhile; the message holds
    the tail of proc's log."""
    last = ["no answer"]

    def check():
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200
        except urllib.error.HTTPError as e:
            last[0] = "HTTP %d" % e.code
        except (OSError, ValueError) as e:
            last[0] = str(getattr(e, "reason", e))
        return False
    if proc is None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise StackError("%s not ready after %ds: %s" % (url, timeout, last[0]))
            time.sleep(0.2)
        return
    _wait(proc, check, timeout, "waiting for GET %s to answer 200" % url)


def _tcp_ok(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------- postgres

def pg_bindir():
    """Directory of the newest /usr/lib/postgresql/<ver>/bin with a postgres."""
    found = glob.glob("/usr/lib/postgresql/*/bin/postgres")
    if not found:
        p = shutil.which("postgres")
        if p:
            return os.path.dirname(os.path.realpath(p))
        raise StackError("PostgreSQL server not found (/usr/lib/postgresql/*/bin/postgres): "
                         "apt-get install postgresql, or run ./citerne run which installs it")

    def ver(p):
        try:
            return float(p.split("/")[4])
        except (IndexError, ValueError):
            return 0.0
    return os.path.dirname(max(found, key=ver))


def _pg_user():
    """The user the server runs as: postgres when we are root (PostgreSQL
    refuses root), otherwise ourselves (None). spawn() switches user itself
    (Popen user=/group=) rather than through `runuser -u postgres --`:
    runuser stays as the parent, so the pid file would name runuser, not
    the postmaster, and the postmaster's own shutdown signals (SIGINT: fast)
    would go through runuser's signal forwarding."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise StackError("running as root but there is no `postgres` user to run "
                         "PostgreSQL as (apt-get install postgresql creates it)")
    return "postgres"


def _user_can_use(user, path):
    """user can create files in path (and so traverse every parent)."""
    pw = pwd.getpwnam(user)
    r = subprocess.run(["test", "-w", path, "-a", "-x", path], user=pw.pw_uid,
                       group=pw.pw_gid, extra_groups=[], cwd="/")
    return r.returncode == 0


def _pg_datadir(d, user):
    """Where the data directory goes: d/pg, or, when the server's user cannot
    reach d (a repo under /root, say), /tmp/citerne-<uid>/<hash>/pg with a
    symlink d/pg pointing to it."""
    link = os.path.join(d, "pg")
    if os.path.islink(link):
        return os.path.realpath(link)
    if user is None:
        return link
    if _user_can_traverse(user, d):
        return link
    alt = os.path.join("/tmp", "citerne-%d" % os.geteuid(),
                       hashlib.sha1(d.encode()).hexdigest()[:12], "pg")
    if os.path.isdir(link):
        if os.listdir(link):
            raise StackError("user %s cannot reach %s, where a PostgreSQL data directory "
                             "already is: make its parents traversable (chmod o+x) or move "
                             "it away" % (user, link))
        os.rmdir(link)
    top = os.path.dirname(os.path.dirname(alt))
    os.makedirs(os.path.dirname(alt), exist_ok=True)
    if os.lstat(top).st_uid != os.geteuid() or os.path.islink(top):
        raise StackError("%s belongs to another user: remove it" % top)
    os.chmod(top, 0o711)
    os.chmod(os.path.dirname(alt), 0o711)
    os.symlink(alt, link)
    say("user %s cannot reach %s: PostgreSQL data goes to %s (linked from %s)"
        % (user, d, alt, link))
    return alt


def _user_can_traverse(user, path):
    pw = pwd.getpwnam(user)
    r = subprocess.run(["test", "-x", path], user=pw.pw_uid, group=pw.pw_gid,
                       extra_groups=[], cwd="/")
    return r.returncode == 0


def _run_as(user, argv, log):
    kw = {}
    env = dict(os.environ, LC_ALL="C")
    if user:
        pw = pwd.getpwnam(user)
        kw = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        env.update(HOME=pw.pw_dir, USER=user, LOGNAME=user)
    with open(log, "ab") as out:
        r = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           env=env, cwd="/", **kw)
    if r.returncode != 0:
        raise StackError("%s failed (exit %d)\n--- last lines of %s:\n%s"
                         % (" ".join(argv), r.returncode, log, tail(log)))


def start_postgres(dir, port=None, fresh=False, fsync=True, max_connections=200):
    """Starts a PostgreSQL server on 127.0.0.1:<port> (port None: any free
    one) with its data in dir/pg (created by initdb -U citerne --auth=trust
    when absent, or always when fresh). Superuser `citerne`, no password:
    a loopback-only development cluster. As root the server runs as user
    postgres. Waits until it accepts queries. Returns a Proc whose url is
    postgresql://citerne@127.0.0.1:<port>/postgres."""
    d = _dirs(dir)
    user = _pg_user()
    bindir = pg_bindir()
    datadir = _pg_datadir(d, user)
    log = os.path.join(d, "log", "postgres.log")
    if fresh and os.path.exists(datadir):
        shutil.rmtree(datadir)
    if not os.path.exists(os.path.join(datadir, "PG_VERSION")):
        if os.path.isdir(datadir) and os.listdir(datadir):
            raise StackError("%s is neither empty nor a PostgreSQL data directory: "
                             "move it away" % datadir)
        os.makedirs(datadir, mode=0o700, exist_ok=True)
        os.chmod(datadir, 0o700)
        if user:
            pw = pwd.getpwnam(user)
            os.chown(datadir, pw.pw_uid, pw.pw_gid)
        say("initdb %s" % datadir)
        _run_as(user, [os.path.join(bindir, "initdb"), "-D", datadir, "-U", "citerne",
                       "--auth=trust", "-E", "UTF8", "--no-locale", "--no-instructions"], log)
    elif user:
        pw = pwd.getpwnam(user)
        st = os.stat(datadir)
        if st.st_uid != pw.pw_uid:
            for root_, dirs, files in os.walk(datadir):
                for n in dirs + files:
                    os.lchown(os.path.join(root_, n), pw.pw_uid, pw.pw_gid)
            os.chown(datadir, pw.pw_uid, pw.pw_gid)
    # a server left running on this data dir (a crash of the supervisor)
    pm = os.path.join(datadir, "postmaster.pid")
    if os.path.exists(pm):
        try:
            with open(pm) as f:
                old = int(f.readline())
            if _pid_alive(old):
                say("stopping a PostgreSQL left running on %s (pid %d)" % (datadir, old))
                os.kill(old, signal.SIGINT)
                t = time.monotonic() + 30
                while _pid_alive(old) and time.monotonic() < t:
                    time.sleep(0.1)
        except (OSError, ValueError):
            pass
    port = port or free_port()
    if not _port_free(port):
        raise StackError("port %d is in use: choose another (CITERNE_PG_PORT)" % port)
    # the socket lives in the data dir unless the path is too long for a
    # unix socket (108 bytes); clients here use TCP anyway
    sockdir = datadir if len(datadir) + 20 < 100 else ""
    argv = [os.path.join(bindir, "postgres"), "-D", datadir, "-p", str(port),
            "-k", sockdir, "-c", "listen_addresses=127.0.0.1",
            "-c", "max_connections=%d" % max_connections,
            "-c", "log_min_messages=warning", "-c", "log_line_prefix=%m [%p] %q%u@%d "]
    if not fsync:
        argv += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off"]
    env = dict(os.environ, LC_ALL="C")
    proc = spawn("postgres", argv, d, env=env, user=user, stop_signal="SIGINT", cwd="/")
    proc.log, proc.port = log, port
    proc.url = "postgresql://citerne@127.0.0.1:%d/postgres" % port
    proc.extra["data_dir"] = datadir
    psql = os.path.join(bindir, "psql")

    def check():
        r = subprocess.run([psql, "-h", "127.0.0.1", "-p", str(port), "-U", "citerne",
                            "-d", "postgres", "-tAc", "select 1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL, env=dict(os.environ, PGCONNECT_TIMEOUT="2"))
        return r.returncode == 0 and r.stdout.strip() == b"1"
    _wait(proc, check, 60, "psql select 1 on port %d" % port)
    return proc


def psql(pg, sql, db="postgres"):
    """Runs sql with psql on the server of pg (a Proc from start_postgres);
    returns stdout. Raises StackError on failure."""
    r = subprocess.run([os.path.join(pg_bindir(), "psql"), "-h", "127.0.0.1", "-p",
                        str(pg.port), "-U", "citerne", "-d", db, "-v", "ON_ERROR_STOP=1",
                        "-tAq"], input=sql.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise StackError("psql failed: %s" % r.stderr.decode(errors="replace").strip())
    return r.stdout.decode()


def create_databases(pg, names):
    """Creates each database of names on pg's server when it does not exist."""
    sql = "".join(
        "SELECT 'CREATE DATABASE %s' WHERE NOT EXISTS "
        "(SELECT 1 FROM pg_database WHERE datname = '%s')\\gexec\n" % (n, n) for n in names)
    psql(pg, sql)


# ---------------------------------------------------------------- redis

def redis_ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(dir, port=None):
    """Starts redis-server on 127.0.0.1:<port> (None: any free port), without
    persistence (no RDB save, no AOF), working dir dir/redis. Waits for PONG.
    Returns a Proc whose url is redis://127.0.0.1:<port>/0."""
    d = _dirs(dir)
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(exe):
        raise StackError("redis-server not found: apt-get install redis-server")
    wd = os.path.join(d, "redis")
    os.makedirs(wd, exist_ok=True)
    port = port or free_port()
    if not _port_free(port):
        raise StackError("port %d is in use: choose another (CITERNE_REDIS_PORT)" % port)
    argv = [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--dir", wd, "--daemonize", "no", "--protected-mode", "yes",
            "--logfile", "", "--databases", "16"]
    proc = spawn("redis", argv, d)
    proc.port = port
    proc.url = "redis://127.0.0.1:%d/0" % port
    _wait(proc, lambda: redis_ping(port), 30, "PING on port %d" % port)
    return proc


# ---------------------------------------------------------------- bus

def start_bus(dir, bus, partitions=16, timeout=30):
    """Starts citerne-bus (path bus) writing its bootstrap servers to
    dir/bus/bootstrap; waits for the file and for its first broker to accept
    TCP. Returns a Proc whose url is the bootstrap list (host:port,...)."""
    d = _dirs(dir)
    if not os.access(bus, os.X_OK):
        raise StackError("no bus binary at %s: build it first (cmake --build <build> "
                         "--target citerne-bus)" % bus)
    bdir = os.path.join(d, "bus")
    os.makedirs(bdir, exist_ok=True)
    bootstrap = os.path.join(bdir, "bootstrap")
    _unlink(bootstrap)
    proc = spawn("bus", [os.path.abspath(bus), "--bootstrap-file", bootstrap,
                         "--partitions", str(partitions)], d)
    got = {}

    def check():
        try:
            with open(bootstrap) as f:
                s = f.read().strip()
        except OSError:
            return False
        if not s:
            return False
        first = s.split(",")[0]
        host, _, p = first.rpartition(":")
        if not p.isdigit() or not _tcp_ok(int(p), host or "127.0.0.1"):
            return False
        got["b"], got["port"] = s, int(p)
        return True
    _wait(proc, check, timeout, "bootstrap file %s" % bootstrap)
    proc.url, proc.port = got["b"], got["port"]
    proc.extra["bootstrap_file"] = bootstrap
    return proc


# ---------------------------------------------------------------- recorder

def start_recorder(dir, sms_token, smtp_port=None, http_port=None):
    """Starts tools/recorder.py (SMTP catcher + POST /sms + GET /messages),
    recording to dir/recorder/messages.jsonl. Returns a Proc: url is the HTTP
    base (http://127.0.0.1:<port>), extra["smtp_url"] is smtp://127.0.0.1:<p>,
    extra["sms_url"] is <url>/sms, extra["messages_url"] is <url>/messages."""
    d = _dirs(dir)
    smtp_port = smtp_port or free_port()
    http_port = http_port or free_port()
    for p, what in ((smtp_port, "SMTP"), (http_port, "HTTP")):
        if not _port_free(p):
            raise StackError("recorder %s port %d is in use" % (what, p))
    out = os.path.join(d, "recorder", "messages.jsonl")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    env = dict(os.environ, CITERNE_SMS_TOKEN=sms_token, PYTHONUNBUFFERED="1")
    proc = spawn("recorder", [sys.executable, os.path.join(ROOT, "tools", "recorder.py"),
                              "--smtp", "127.0.0.1:%d" % smtp_port,
                              "--http", "127.0.0.1:%d" % http_port, "--out", out], d, env=env)
    proc.port = http_port
    proc.url = "http://127.0.0.1:%d" % http_port
    proc.extra.update(smtp_url="smtp://127.0.0.1:%d" % smtp_port,
                      sms_url=proc.url + "/sms", messages_url=proc.url + "/messages",
                      smtp_port=smtp_port, out=out)
    _wait(proc, lambda: _tcp_ok(smtp_port) and _tcp_ok(http_port), 20,
          "ports %d and %d" % (smtp_port, http_port))
    return proc


# ---------------------------------------------------------------- services

def service_binary(name, build="build/run"):
    b = build if os.path.isabs(build) else os.path.join(ROOT, build)
    return os.path.join(b, "services", name, "citerne-" + name)


def start_service(name, env, dir, binary=None, build="build/run", http_addr=None):
    """Starts services/<name> (binary, default <build>/services/<name>/citerne-<name>)
    with os.environ updated by env (a dict of CITERNE_* settings); http_addr
    sets CITERNE_HTTP_ADDR (default: env's, else 127.0.0.1:<SERVICES port>).
    Does not wait: call wait_ready(proc.url + "/readyz", proc=proc).
    Returns a Proc with url http://<http_addr>."""
    binary = binary or service_binary(name, build)
    if not os.access(binary, os.X_OK):
        raise StackError("no binary for %s at %s: build it first" % (name, binary))
    e = dict(os.environ)
    e.update({k: str(v) for k, v in env.items()})
    addr = http_addr or e.get("CITERNE_HTTP_ADDR") or "127.0.0.1:%d" % SERVICES.get(name, 0)
    e["CITERNE_HTTP_ADDR"] = addr
    host, _, p = addr.rpartition(":")
    if p.isdigit() and not _port_free(int(p)):
        raise StackError("%s: port %s is in use (%s)" % (name, p, _who_listens(int(p))))
    proc = spawn(name, [binary], dir, env=e)
    proc.port = int(p) if p.isdigit() else 0
    proc.url = "http://%s:%s" % ("127.0.0.1" if host in ("", "0.0.0.0") else host, p)
    return proc


def _who_listens(port):
    try:
        r = subprocess.run(["ss", "-Hltnp", "sport = :%d" % port], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=5)
        s = r.stdout.decode().strip()
        return s.split()[-1] if s else "another process"
    except (OSError, subprocess.TimeoutExpired):
        return "another process"


# ---------------------------------------------------------------- test stack

def cmd_up(a):
    d = _dirs(a.dir)
    stop_tree(d, timeout=10, quiet=True)
    _unlink(os.path.join(d, "env"))
    try:
        pg = start_postgres(d, fresh=True, fsync=False, max_connections=400)
        redis = start_redis(d)
        bus = start_bus(d, a.bus, partitions=a.partitions)
    except StackError:
        stop_all(d, timeout=10, quiet=True)
        raise
    lines = ["CITERNE_PG_URL=" + pg.url, "CITERNE_REDIS_URL=" + redis.url,
             "CITERNE_KAFKA_BROKERS=" + bus.url, "CITERNE_TEST_STACK_DIR=" + d]
    tmp = os.path.join(d, "env.tmp")
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, os.path.join(d, "env"))
    say("test stack up in %s:\n  %s" % (d, "\n  ".join(lines)))
    return 0


def cmd_down(a):
    d = os.path.abspath(a.dir)
    if os.path.isdir(d):
        stop_tree(d, timeout=20)
    _unlink(os.path.join(d, "env"))
    say("test stack down")
    return 0


# ---------------------------------------------------------------- local run

def load_settings(d):
    """deploy/local/env.defaults, then dir/local.env, then the environment."""
    s = {}
    for f in (os.path.join(ROOT, "deploy", "local", "env.defaults"), os.path.join(d, "local.env")):
        s.update(_read_env(f))
    for k, v in os.environ.items():
        if k.startswith("CITERNE_"):
            s[k] = v
    return s


def _read_env(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#") or "=" not in line:
                    continue
                k, v = line.split("=", 1)
                out[k.strip()] = v.strip().strip('"').strip("'")
    except FileNotFoundError:
        pass
    return out


def ensure_secrets(d):
    """dir/secrets.env (mode 600), generated once; returns its values."""
    path = os.path.join(d, "secrets.env")
    have = _read_env(path)
    missing = [k for k in SECRET_KEYS if not have.get(k)]
    if missing:
        for k in missing:
            have[k] = secrets.token_hex(SECRET_KEYS[k])
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("# generated by tools/stack.py; keep private\n")
            for k in SECRET_KEYS:
                f.write("%s=%s\n" % (k, have[k]))
        os.replace(path + ".tmp", path)
        say("new secrets in %s: %s" % (path, ", ".join(missing)))
    os.chmod(path, 0o600)
    return {k: have[k] for k in SECRET_KEYS}


def _nginx_conf(d, s, rec, services):
    with open(os.path.join(ROOT, "deploy", "local", "nginx.conf.in")) as f:
        tpl = f.read()
    locs = []
    for name in SERVICES:
        port = services[name]
        locs.append(
            "        location /api/v1/%s/ { proxy_pass http://127.0.0.1:%d; }\n"
            "        location = /status/%s/readyz { proxy_pass http://127.0.0.1:%d/readyz; }"
            % (name, port, name, port))
    nd = os.path.join(d, "nginx")
    user_line = ""
    if os.geteuid() == 0:
        # workers drop to nobody; when nobody cannot read the static files
        # (a repo under /root), they keep root: loopback development only
        www = os.path.join(ROOT, "deploy", "local", "www")
        ok = _user_can_traverse("nobody", www) and _user_can_use("nobody", os.path.join(nd, "tmp"))
        user_line = "user nobody nogroup;" if ok else "user root root;"
    vals = {
        "USER_LINE": user_line,
        "PID": os.path.join(nd, "nginx.pid"),
        "LOG": os.path.join(d, "log"),
        "TMP": os.path.join(nd, "tmp"),
        "LISTEN": s.get("CITERNE_EDGE_ADDR", "127.0.0.1:8080"),
        "WWW": os.path.join(ROOT, "deploy", "local", "www"),
        "DEMO_JSON": os.path.join(d, "demo.json"),
        "RECORDER": "127.0.0.1:%d" % rec.port,
        "SERVICE_LOCATIONS": "\n".join(locs),
    }
    for k, v in vals.items():
        tpl = tpl.replace("@%s@" % k, v)
    path = os.path.join(nd, "nginx.conf")
    with open(path, "w") as f:
        f.write(tpl)
    return path


def start_nginx(d, s, rec, services):
    """Starts nginx in the foreground (daemon off) with the generated
    dir/nginx/nginx.conf; waits until / answers."""
    nd = os.path.join(d, "nginx")
    for t in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(nd, "tmp", t), exist_ok=True)
    if os.geteuid() == 0:
        os.chmod(os.path.join(nd, "tmp"), 0o777)
        for t in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.chmod(os.path.join(nd, "tmp", t), 0o777)
    conf = _nginx_conf(d, s, rec, services)
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(exe):
        raise StackError("nginx not found: apt-get install nginx-light")
    errlog = os.path.join(d, "log", "nginx-error.log")
    t = subprocess.run([exe, "-t", "-q", "-p", nd + "/", "-c", conf, "-e", errlog],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if t.returncode != 0:
        raise StackError("nginx rejects %s:\n%s" % (conf, t.stdout.decode(errors="replace")))
    listen = s.get("CITERNE_EDGE_ADDR", "127.0.0.1:8080")
    host, _, port = listen.rpartition(":")
    if not _port_free(int(port)):
        raise StackError("port %s is in use (%s): set CITERNE_EDGE_ADDR=127.0.0.1:<port> "
                         "in var/local.env or the environment" % (port, _who_listens(int(port))))
    proc = spawn("nginx", [exe, "-p", nd + "/", "-c", conf, "-e", errlog], d, stop_signal="SIGQUIT")
    proc.url = "http://%s:%s" % (host or "127.0.0.1", port)
    proc.port = int(port)
    _wait(proc, lambda: _tcp_ok(int(port), host or "127.0.0.1"), 20, "port %s" % port)
    return proc


def _api(method, url, key, body):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key,
                                          "Content-Type": "application/json",
                                          "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else {})
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"raw": raw.decode(errors="replace")}


DEMO = [
    {"customer": {"customer_number": "C000001", "name": "Famille Martin",
                  "segment": "household", "vat_rate_bp": 2000},
     "contract": {"delivery_mode": "automatic", "price_per_tonne_cents": 180000,
                  "maintenance_plan": "none"},
     "site": {"capacity_kg": 1000, "threshold_pct": 30,
              "address": "12 chemin des Vignes, 33000 Bordeaux", "certificate_received": True},
     "user": {"email": "marie.martin@example.test", "phone": "+33612345678",
              "name": "Marie Martin", "role": "admin", "password": "demo-Martin-2026"}},
    {"customer": {"customer_number": "C000002", "name": "Boulangerie Dupont SARL",
                  "segment": "business", "vat_rate_bp": 2000,
                  "siret": "73282932000074"},
     "contract": {"delivery_mode": "on_demand", "price_per_tonne_cents": 180000,
                  "maintenance_plan": "none"},
     "site": {"capacity_kg": 1000, "threshold_pct": 30,
              "address": "3 rue du Four, 69002 Lyon", "certificate_received": True},
     "user": {"email": "paul.dupont@example.test", "phone": "+33698765432",
              "name": "Paul Dupont", "role": "admin", "password": "demo-Dupont-2026"}},
]


def load_demo(d, accounts_url, key):
    """Creates the demo customers through the accounts API once; writes
    dir/demo.json. Raises StackError when a step is refused."""
    path = os.path.join(d, "demo.json")
    if os.path.exists(path):
        return json.load(open(path))
    base = accounts_url.rstrip("/") + "/api/v1/accounts"
    out = {"customers": []}

    def post(what, body, expect=201):
        st, js = _api("POST", "%s/%s" % (base, what), key, body)
        if st == 409 and what == "customers":
            raise StackError(
                "the demo customer %s already exists in the database but %s is "
                "missing, so its ids are unknown: remove var/ (./citerne stop; rm -rf var) to "
                "start afresh" % (body["customer_number"], path))
        if st != expect or not isinstance(js, dict) or "id" not in js:
            raise StackError("demo data: POST %s/%s answered %d: %s"
                             % (base, what, st, json.dumps(js)[:500]))
        return js
    for c in DEMO:
        cust = post("customers", c["customer"])
        contract = post("contracts", dict(c["contract"], customer_id=cust["id"]))
        site = post("sites", dict(c["site"], contract_id=contract["id"]))
        user = post("users", dict(c["user"], customer_id=cust["id"]))
        out["customers"].append({
            "customer_number": c["customer"]["customer_number"], "name": c["customer"]["name"],
            "segment": c["customer"]["segment"], "delivery_mode": c["contract"]["delivery_mode"],
            "customer_id": cust["id"], "contract_id": contract["id"], "site_id": site["id"],
            "user_id": user["id"], "login": c["user"]["email"],
            "password": c["user"]["password"], "phone": c["user"]["phone"]})
        say("demo customer %s loaded" % c["customer"]["customer_number"])
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=2)
    os.replace(tmp, path)
    return out


def running_supervisor(d):
    return pidfile_alive(os.path.join(d, "run", "stack.pid"))


class _Stop(Exception):
    pass


def cmd_run(a):
    d = _dirs(a.dir)
    other = running_supervisor(d)
    if other:
        s = load_settings(d)
        say("already running (pid %d): open http://%s/ ; stop it with ./citerne stop"
            % (other, s.get("CITERNE_EDGE_ADDR", "127.0.0.1:8080")))
        return 0
    stop_all(d, timeout=10, quiet=True)  # leftovers of a run that was killed
    spid = os.path.join(d, "run", "stack.pid")
    with open(spid, "w") as f:
        f.write("%d\nSIGTERM\n%s\n" % (os.getpid(), sys.executable))

    def on_signal(signum, frame):
        raise _Stop()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        return _run(a, d)
    except _Stop:
        print(flush=True)
        say("stopping")
        return 0
    except StackError as e:
        say("FAILED: %s" % e)
        say("stopping everything")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(d)
        _unlink(spid)
        say("stopped")


def _run(a, d):
    s = load_settings(d)
    keys = ensure_secrets(d)
    build = os.path.abspath(a.build)
    pg = start_postgres(d, port=free_port(int(s.get("CITERNE_PG_PORT", 5433))),
                        max_connections=int(s.get("CITERNE_PG_MAX_CONNECTIONS", 200)))
    say("postgres on 127.0.0.1:%d (data %s)" % (pg.port, pg.extra["data_dir"]))
    create_databases(pg, DATABASES)
    redis = start_redis(d, port=free_port(int(s.get("CITERNE_REDIS_PORT", 6380))))
    say("redis on 127.0.0.1:%d" % redis.port)
    bus = start_bus(d, os.path.join(build, "tools", "bus", "citerne-bus"),
                    partitions=int(s.get("CITERNE_BUS_PARTITIONS", 16)))
    say("bus at %s" % bus.url)
    rec = start_recorder(d, keys["CITERNE_SMS_TOKEN"],
                         smtp_port=free_port(int(s.get("CITERNE_RECORDER_SMTP_PORT", 2525))),
                         http_port=free_port(int(s.get("CITERNE_RECORDER_HTTP_PORT", 8025))))
    say("mail and SMS recorder at %s/messages (SMTP %s)" % (rec.url, rec.extra["smtp_url"]))
    ports = {n: int(s.get("CITERNE_%s_PORT" % n.upper(), p)) for n, p in SERVICES.items()}
    common = {k: v for k, v in s.items() if k.startswith("CITERNE_") and not k.endswith("_PORT")
              and k not in ("CITERNE_EDGE_ADDR",)}
    common.update(keys)
    # links in e-mails point at the edge unless configured otherwise
    common.setdefault("CITERNE_PUBLIC_URL", "http://" + s.get("CITERNE_EDGE_ADDR", "127.0.0.1:8080"))
    common.update(CITERNE_REDIS_URL=redis.url, CITERNE_KAFKA_BROKERS=bus.url,
                  CITERNE_SMTP_URL=rec.extra["smtp_url"], CITERNE_SMS_URL=rec.extra["sms_url"])
    started, missing = [], []
    for name in START_ORDER:
        if name not in SERVICES:
            continue
        binary = service_binary(name, build)
        if not os.access(binary, os.X_OK):
            missing.append(name)
            say("WARNING: %s is not built (%s): skipped" % (name, binary))
            continue
        env = dict(common, CITERNE_PG_URL="postgresql://citerne@127.0.0.1:%d/citerne_%s"
                   % (pg.port, name))
        p = start_service(name, env, d, binary=binary, http_addr="127.0.0.1:%d" % ports[name])
        started.append(p)
    for p in started:
        wait_ready(p.url + "/readyz", timeout=a.timeout, proc=p)
        say("%s ready at %s" % (p.name, p.url))
    edge = start_nginx(d, s, rec, ports)
    demo = None
    if "accounts" in missing:
        say("WARNING: no accounts service: demo data not loaded")
    else:
        demo = load_demo(d, "http://127.0.0.1:%d" % ports["accounts"], keys["CITERNE_OPERATOR_KEY"])
    _banner(d, edge, demo, ports, missing)
    procs = started + [edge]
    dead = set()
    while True:
        time.sleep(1)
        for p in procs:
            if p.name not in dead and p.popen.poll() is not None:
                dead.add(p.name)
                say("WARNING: %s exited with status %s; last lines of %s:\n%s"
                    % (p.name, p.popen.returncode, p.log, tail(p.log, 20)))


def _banner(d, edge, demo, ports, missing):
    rel = os.path.relpath(d) if d.startswith(os.getcwd() + os.sep) else d
    lines = ["", "Citerne is running.",
             "  status page   %s/" % edge.url,
             "  APIs          %s/api/v1/<service>/...  (direct: accounts %d, orders %d, "
             "billing %d, notify %d, telemetry %d)" % (edge.url, ports["accounts"],
                                                       ports["orders"], ports["billing"],
                                                       ports["notify"], ports["telemetry"]),
             "  logs          %s/log/" % rel,
             "  mail and SMS  %s/recorder/messages" % edge.url,
             "  secrets       %s/secrets.env" % rel]
    if missing:
        lines.append("  not built     %s" % ", ".join(missing))
    if demo:
        for c in demo["customers"]:
            lines.append("  demo login    %s / %s  (%s, %s, site %s)" % (
                c["login"], c["password"], c["customer_number"], c["delivery_mode"],
                c["site_id"]))
        site = demo["customers"][0]["site_id"]
        lines += ["", "Post a reading below the threshold (30 %%) of %s's tank:" %
                  demo["customers"][0]["customer_number"],
                  "  curl -i -H \"Authorization: Bearer $(sed -n 's/^CITERNE_GATEWAY_KEY=//p' "
                  "%s/secrets.env)\" -H 'Content-Type: application/json' \\" % rel,
                  "    -d '{\"readings\":[{\"site_id\":\"%s\",\"level_pct\":25,"
                  "\"measured_at\":\"%s\",\"source\":\"sensor\"}]}' \\" %
                  (site, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
                  "    %s/api/v1/telemetry/readings" % edge.url]
    lines += ["", "Ctrl-C here, or ./citerne stop from another terminal, stops everything.", ""]
    print("\n".join(lines), flush=True)


def cmd_stop(a):
    d = os.path.abspath(a.dir)
    sup = running_supervisor(d)
    if sup:
        say("asking the running stack (pid %d) to stop" % sup)
        os.kill(sup, signal.SIGTERM)
        deadline = time.monotonic() + 90
        while _pid_alive(sup) and time.monotonic() < deadline:
            time.sleep(0.2)
    if os.path.isdir(os.path.join(d, "run")):
        stop_all(d)
        _unlink(os.path.join(d, "run", "stack.pid"))
    say("stopped" if sup else "nothing was running")
    return 0


def cmd_status(a):
    d = os.path.abspath(a.dir)
    sup = running_supervisor(d)
    if not a.quiet:
        for p in sorted(glob.glob(os.path.join(d, "run", "*.pid"))):
            pid = pidfile_alive(p)
            print("%-10s %s" % (os.path.basename(p)[:-4], "pid %d" % pid if pid else "stopped"))
    return 0 if sup else 3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="the local run, in the foreground")
    p.add_argument("--dir", default="var")
    p.add_argument("--build", default="build/run")
    p.add_argument("--timeout", type=int, default=60, help="seconds for each /readyz")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("stop", help="stop a local run")
    p.add_argument("--dir", default="var")
    p.set_defaults(fn=cmd_stop)
    p = sub.add_parser("status", help="exit 0 when a local run is up")
    p.add_argument("--dir", default="var")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=cmd_status)
    p = sub.add_parser("up", help="start the test stack (Postgres, Redis, bus)")
    p.add_argument("--dir", required=True)
    p.add_argument("--bus", required=True, help="path to citerne-bus")
    p.add_argument("--partitions", type=int, default=16)
    p.set_defaults(fn=cmd_up)
    p = sub.add_parser("down", help="stop the test stack")
    p.add_argument("--dir", required=True)
    p.set_defaults(fn=cmd_down)
    a = ap.parse_args(argv)
    try:
        return a.fn(a)
    except StackError as e:
        say("FAILED: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
