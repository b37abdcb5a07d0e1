#!/usr/bin/env python3
"""A minimal receiver for simhook webhooks, standard library only.

Run:  SIMHOOK_SECRET=... python3 receiver.py [PORT]   (PORT also from $PORT, default 8080)

Every request is checked twice: the legacy RaspiSMS field webhook_signature
(HMAC-SHA256 of webhook_random_id) and the Standard Webhooks header
webhook-signature (HMAC-SHA256 over id.timestamp.raw-body, 5 minutes of clock
tolerance). A webhook-id handled before is acknowledged with 200 but not
handled again. An id counts as handled only once handle_event returned: a
retry that arrives while the first attempt is still being handled gets 503
with Retry-After (the first attempt may yet fail), and when handle_event
raises, the id is released and the answer is 500, so the gateway's next retry
is handled. One line per request goes to stdout:

    VERDICT accept <type> <id>
    VERDICT duplicate <type> <id>
    VERDICT busy <type> <id>
    VERDICT error <type> <id>
    VERDICT reject <reason> <id or ->
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

output_lock = threading.Lock()

SECRET = os.environ.get("SIMHOOK_SECRET", "")
TOLERANCE_SECONDS = 5 * 60
MAX_BODY_BYTES = 1 << 20

seen_ids = set()  # handled; grows forever: use a store with expiry in production
in_flight = set()  # being handled right now
seen_lock = threading.Lock()


class Rejected(Exception):
    """A request that must not be handled: reason for the log, HTTP status for the sender."""

    def __init__(self, reason, status=401):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def standard_key(secret):
    # Standard Webhooks secrets "whsec_<base64>" carry their key base64-encoded.
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def check_standard(headers, signed_bytes):
    """Checks the webhook-* headers against the exact bytes sent; returns webhook-id."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        raise Rejected("no-standard-headers")
    try:
        sent_at = int(stamp)
    except ValueError:
        raise Rejected("malformed", 400) from None
    if abs(time.time() - sent_at) > TOLERANCE_SECONDS:
        raise Rejected("timestamp")
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + signed_bytes
    digest = hmac.new(standard_key(SECRET), signed, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    # During a secret rotation the header holds several space-separated signatures.
    if not any(hmac.compare_digest(expected, s) for s in signatures.split(" ")):
        raise Rejected("standard-signature")
    return msg_id


def read_fields(method, content_type, query, raw):
    """Returns the five webhook_* fields, with body decoded to a dict."""
    try:
        if method == "GET":
            fields = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
            body = json.loads(fields.get("body", ""))
        elif content_type.startswith("application/json"):
            fields = json.loads(raw)
            body = fields.get("body")
        else:
            text = raw.decode("utf-8")
            fields = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
            body = json.loads(fields.get("body", ""))
    except (ValueError, UnicodeDecodeError, AttributeError):
        raise Rejected("malformed", 400) from None
    if not isinstance(body, dict) or not fields.get("webhook_random_id") or not fields.get("webhook_type"):
        raise Rejected("malformed", 400)
    fields["body"] = body
    return fields


def check_legacy(fields):
    expected = hmac.new(SECRET.encode(), fields["webhook_random_id"].encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(fields.get("webhook_signature", ""))):
        raise Rejected("legacy-signature")


def handle_event(event_type, body):
    """Put your own code here: store the SMS, page someone, ..."""


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.receive()

    def do_GET(self):
        self.receive()

    def receive(self):
        msg_id = self.headers.get("webhook-id") or "-"
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                raise Rejected("too-large", 413)
            raw = self.rfile.read(length)
            query = urlsplit(self.path).query
            # What was signed: the raw body, or for GET the raw query string.
            signed = query.encode() if self.command == "GET" else raw
            fields = read_fields(self.command, self.headers.get("Content-Type", ""), query, raw)
            msg_id = check_standard(self.headers, signed)
            check_legacy(fields)
            if fields["webhook_random_id"] != msg_id:
                raise Rejected("id-mismatch", 400)
            event_type = fields["webhook_type"]
            with seen_lock:
                busy = msg_id in in_flight
                duplicate = not busy and msg_id in seen_ids
                if not busy and not duplicate:
                    in_flight.add(msg_id)
            if busy:
                # A retry overtook the first attempt, which may still fail.
                self.answer(503, "busy " + event_type, msg_id, {"Retry-After": "1"})
                return
            if duplicate:
                self.answer(200, "duplicate " + event_type, msg_id)
                return
            handled = False
            try:
                handle_event(event_type, fields["body"])
                handled = True
            except Exception:
                traceback.print_exc()
            finally:
                # Seen only once handled; otherwise the gateway's retry is handled.
                with seen_lock:
                    if handled:
                        seen_ids.add(msg_id)
                    in_flight.discard(msg_id)
            if handled:
                self.answer(200, "accept " + event_type, msg_id)
            else:
                self.answer(500, "error " + event_type, msg_id)
        except Rejected as r:
            self.answer(r.status, "reject " + r.reason, msg_id)

    def answer(self, status, verdict, msg_id, headers=None):
        # One write per line, under a lock: requests are served by threads.
        with output_lock:
            sys.stdout.write("VERDICT %s %s\n" % (verdict, msg_id))
            sys.stdout.flush()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(verdict.encode() + b"\n")

    def log_message(self, format, *args):
        pass  # the VERDICT lines are the log


def main():
    if not SECRET:
        sys.exit("SIMHOOK_SECRET is not set")
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8080"))
    host = os.environ.get("HOST", "127.0.0.1")
    server = ThreadingHTTPServer((host, port), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
