#!/usr/bin/env python3
"""Mail and SMS catcher for the local run and the tests (standard library only).

An SMTP server (EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP,
QUIT, and AUTH PLAIN/LOGIN that accepts any credentials) and an HTTP server:
  POST   /sms       JSON body, header Authorization: Bearer <token>  -> 200 {"id": ...}
                    (401 without the token, 400 when the body is not JSON)
  GET    /messages  everything recorded, oldest first, as a JSON array;
                    ?kind=mail|sms and ?to=<address or phone> filter
  DELETE /messages  forgets what was recorded (the file keeps it)
  GET    /healthz   200
Every message is also appended to --out as one JSON line.

A recorded mail:  {"kind": "mail", "id", "received_at", "mail_from", "rcpt_to": [...],
                   "to", "from", "subject", "text", "html", "attachments":
                   [{"filename", "content_type", "size", "content_b64"}]}
A recorded SMS:   {"kind": "sms", "id", "received_at", "to", "text", "body": <the JSON posted>}
("to" of a mail is its To header; "text" of an SMS is the body's text, message
or body field, whichever is present.)

Command line:
  recorder.py --smtp 127.0.0.1:2525 --http 127.0.0.1:8025 --out messages.jsonl
  (the SMS token comes from --token or $CITERNE_SMS_TOKEN; none: no check)

In a test (tests/e2e imports this module; the names are kept stable):
  r = Recorder(sms_token="t").start()      # ports picked by the kernel
  r.smtp_url, r.sms_url, r.messages_url     # smtp://127.0.0.1:p, http://.../sms, ...
  r.wait_for(lambda m: m["kind"] == "mail" and m["to"] == "a@b.test", timeout=10)
  r.messages(kind="sms"); r.clear(); r.stop()
  fetch_messages(url, kind=None, to=None)   # GET /messages of a recorder process
"""

import argparse
import base64
import email
import email.policy
import hmac
import http.server
import json
import os
import signal
import socketserver
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid

MAX_LINE = 64 * 1024
MAX_MESSAGE = 32 * 1024 * 1024
ATTACHMENT_INLINE_MAX = 2 * 1024 * 1024


def _now():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def parse_mail(raw, mail_from="", rcpt_to=()):
    """The recorded form of one message (bytes as received after DATA)."""
    # the wire has CRLF line ends; the parser keeps them in bodies otherwise
    msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    rec = {"kind": "mail", "id": str(uuid.uuid4()), "received_at": _now(),
           "mail_from": mail_from, "rcpt_to": list(rcpt_to),
           "to": str(msg.get("To", "")), "from": str(msg.get("From", "")),
           "subject": str(msg.get("Subject", "")), "text": "", "html": "", "attachments": []}
    try:
        body = msg.get_body(preferencelist=("plain",))
        if body is not None:
            rec["text"] = body.get_content()
        body = msg.get_body(preferencelist=("html",))
        if body is not None:
            rec["html"] = body.get_content()
        for part in msg.iter_attachments():
            data = part.get_payload(decode=True) or b""
            att = {"filename": part.get_filename() or "", "content_type": part.get_content_type(),
                   "size": len(data)}
            if len(data) <= ATTACHMENT_INLINE_MAX:
                att["content_b64"] = base64.b64encode(data).decode()
            rec["attachments"].append(att)
    except (LookupError, ValueError, TypeError, AttributeError) as e:
        rec["parse_error"] = str(e)
    if not rec["text"] and not msg.is_multipart():
        try:
            rec["text"] = msg.get_content() if msg.get_content_maintype() == "text" else ""
        except (LookupError, ValueError, TypeError):
            rec["text"] = raw.decode(errors="replace")
    return rec


class Store:
    def __init__(self, out=None):
        self._lock = threading.Condition()
        self._items = []
        self._out = out

    def add(self, rec):
        with self._lock:
            self._items.append(rec)
            if self._out:
                with open(self._out, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            self._lock.notify_all()

    def list(self, kind=None, to=None):
        with self._lock:
            items = list(self._items)
        return [m for m in items if _match(m, kind, to)]

    def clear(self):
        with self._lock:
            self._items.clear()

    def wait_for(self, pred, timeout):
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for m in self._items:
                    if pred(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(left)


def _match(m, kind, to):
    if kind and m.get("kind") != kind:
        return False
    if to:
        if m.get("kind") == "mail":
            return to in m.get("to", "") or any(to in r for r in m.get("rcpt_to", []))
        return m.get("to") == to
    return True


# ---------------------------------------------------------------- SMTP

class _SMTPHandler(socketserver.StreamRequestHandler):
    timeout = 120

    def reply(self, s):
        self.wfile.write(s.encode() + b"\r\n")
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(MAX_LINE + 2)
        if not line:
            raise EOFError
        return line

    def handle(self):
        host = self.server.hostname
        try:
            self.reply("220 %s ESMTP citerne recorder" % host)
            mail_from, rcpts = None, []
            while True:
                line = self.readline()
                cmdline = line.decode("utf-8", "replace").rstrip("\r\n")
                verb, _, arg = cmdline.partition(" ")
                verb = verb.upper()
                if verb == "EHLO":
                    mail_from, rcpts = None, []
                    self.reply("250-%s\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE %d\r\n"
                               "250-AUTH PLAIN LOGIN\r\n250 HELP" % (host, MAX_MESSAGE))
                elif verb == "HELO":
                    mail_from, rcpts = None, []
                    self.reply("250 %s" % host)
                elif verb == "AUTH":
                    self.auth(arg)
                elif verb == "MAIL":
                    if not arg.upper().startswith("FROM:"):
                        self.reply("501 syntax: MAIL FROM:<address>")
                        continue
                    mail_from, rcpts = _address(arg[5:]), []
                    self.reply("250 OK")
                elif verb == "RCPT":
                    if mail_from is None:
                        self.reply("503 MAIL first")
                    elif not arg.upper().startswith("TO:"):
                        self.reply("501 syntax: RCPT TO:<address>")
                    else:
                        rcpts.append(_address(arg[3:]))
                        self.reply("250 OK")
                elif verb == "DATA":
                    if not rcpts:
                        self.reply("503 RCPT first")
                        continue
                    self.reply("354 end data with <CR><LF>.<CR><LF>")
                    raw = self.read_data()
                    if raw is None:
                        self.reply("552 message too large")
                    else:
                        rec = parse_mail(raw, mail_from, rcpts)
                        self.server.store.add(rec)
                        self.reply("250 OK queued as %s" % rec["id"])
                    mail_from, rcpts = None, []
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    self.reply("250 OK")
                elif verb == "NOOP":
                    self.reply("250 OK")
                elif verb == "VRFY":
                    self.reply("252 cannot verify, will accept")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                elif verb == "STARTTLS":
                    self.reply("454 TLS not available")
                else:
                    self.reply("502 command not implemented")
        except (EOFError, ConnectionError, TimeoutError, OSError):
            return

    def read_data(self):
        chunks, size = [], 0
        while True:
            line = self.readline()
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]  # dot-unstuffing (RFC 5321 4.5.2)
            size += len(line)
            if size <= MAX_MESSAGE:
                chunks.append(line)
        return b"".join(chunks) if size <= MAX_MESSAGE else None

    def auth(self, arg):
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        if mech == "PLAIN":
            if not initial:
                self.reply("334 ")
                self.readline()
            self.reply("235 authenticated")
        elif mech == "LOGIN":
            if not initial:
                self.reply("334 VXNlcm5hbWU6")
                self.readline()
            self.reply("334 UGFzc3dvcmQ6")
            self.readline()
            self.reply("235 authenticated")
        else:
            self.reply("504 unrecognised authentication type")


def _address(s):
    s = s.strip()
    if s.startswith("<"):
        return s[1:s.find(">")] if ">" in s else s[1:]
    return s.split(" ")[0]


class _SMTPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr, store):
        super().__init__(addr, _SMTPHandler)
        self.store = store
        self.hostname = "recorder.citerne.test"


# ---------------------------------------------------------------- HTTP

class _HTTPHandler(http.server.BaseHTTPRequestHandler):
    server_version = "citerne-recorder"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("recorder: %s\n" % (fmt % args))

    def send_json(self, status, obj):
        body = json.dumps(obj, indent=None).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/messages":
            self.send_json(200, self.server.store.list(q.get("kind", [None])[0],
                                                       q.get("to", [None])[0]))
        elif u.path == "/healthz":
            self.send_json(200, {"status": "ok"})
        else:
            self.send_json(404, {"title": "not found"})

    def do_DELETE(self):
        if urllib.parse.urlsplit(self.path).path == "/messages":
            self.server.store.clear()
            self.send_json(200, {"status": "cleared"})
        else:
            self.send_json(404, {"title": "not found"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if 0 < n <= MAX_MESSAGE else b""
        if urllib.parse.urlsplit(self.path).path != "/sms":
            self.send_json(404, {"title": "not found"})
            return
        token = self.server.sms_token
        if token:
            got = self.headers.get("Authorization", "")
            if not hmac.compare_digest(got.encode(), ("Bearer " + token).encode()):
                self.send_json(401, {"title": "missing or wrong bearer token"})
                return
        try:
            body = json.loads(raw)
        except ValueError:
            self.send_json(400, {"title": "body is not JSON"})
            return
        text = None
        to = None
        if isinstance(body, dict):
            to = body.get("to")
            for k in ("text", "message", "body"):
                if isinstance(body.get(k), str):
                    text = body[k]
                    break
        rec = {"kind": "sms", "id": str(uuid.uuid4()), "received_at": _now(), "to": to,
               "text": text, "body": body}
        self.server.store.add(rec)
        self.send_json(200, {"id": rec["id"], "status": "queued"})


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


# ---------------------------------------------------------------- API

class Recorder:
    """Both servers in background threads of this process."""

    def __init__(self, smtp_addr=("127.0.0.1", 0), http_addr=("127.0.0.1", 0), sms_token=None,
                 out=None, verbose=False):
        self.store = Store(out)
        self._smtp = _SMTPServer(smtp_addr, self.store)
        self._http = _HTTPServer(http_addr, _HTTPHandler)
        self._http.store = self.store
        self._http.sms_token = sms_token
        self._http.verbose = verbose
        self._threads = []

    @property
    def smtp_port(self):
        return self._smtp.server_address[1]

    @property
    def http_port(self):
        return self._http.server_address[1]

    @property
    def smtp_url(self):
        return "smtp://127.0.0.1:%d" % self.smtp_port

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.http_port

    @property
    def sms_url(self):
        return self.url + "/sms"

    @property
    def messages_url(self):
        return self.url + "/messages"

    def start(self):
        for srv in (self._smtp, self._http):
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                                 daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        for srv in (self._smtp, self._http):
            srv.shutdown()
            srv.server_close()
        for t in self._threads:
            t.join(5)

    def messages(self, kind=None, to=None):
        return self.store.list(kind, to)

    def clear(self):
        self.store.clear()

    def wait_for(self, pred, timeout=10):
        """The first recorded message for which pred(message) is true, waiting
        up to timeout seconds; None when none came."""
        return self.store.wait_for(pred, timeout)


def fetch_messages(url, kind=None, to=None, timeout=5):
    """GET <url> (a recorder's /messages URL) with the filters; the list."""
    q = {k: v for k, v in (("kind", kind), ("to", to)) if v}
    if q:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(q)
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def _addr(s):
    host, _, port = s.rpartition(":")
    return (host or "127.0.0.1", int(port))


def main(argv=None):
    ap = argparse.ArgumentParser(description="SMTP and SMS catcher")
    ap.add_argument("--smtp", default="127.0.0.1:2525", help="SMTP listen address")
    ap.add_argument("--http", default="127.0.0.1:8025", help="HTTP listen address")
    ap.add_argument("--out", help="append each message as a JSON line to this file")
    ap.add_argument("--token", default=os.environ.get("CITERNE_SMS_TOKEN"),
                    help="bearer token POST /sms requires (default $CITERNE_SMS_TOKEN)")
    ap.add_argument("--verbose", action="store_true", help="log each HTTP request")
    a = ap.parse_args(argv)
    r = Recorder(_addr(a.smtp), _addr(a.http), a.token, a.out, a.verbose).start()
    print("recorder: SMTP on %s, HTTP on %s (POST /sms, GET /messages)%s"
          % (r.smtp_url, r.url, "" if a.token else "; no SMS token: any caller accepted"),
          flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    r.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
