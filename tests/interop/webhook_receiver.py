#!/usr/bin/env python3
"""A webhook receiver for tests/interop/test_webhooks.sh: verifies each delivery as
docs/security.md tells a receiver to, and appends one JSON line per request to OUT:
{"path", "delivery", "event", "id", "verified", "age", "body"}.

While the file SLOW exists, it waits that many seconds (its content) before answering, after
recording the request: a receiver too slow for hs-control's timeout."""
import argparse
import hashlib
import hmac
import json
import os
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret: bytes, headers, body: bytes, max_age: int = 300) -> bool:
    """The check docs/security.md documents: HMAC-SHA256 over "<timestamp>.<body>", compared
    in constant time, and a timestamp no older than max_age seconds."""
    ts = headers.get("X-Hs-Timestamp", "")
    sig = headers.get("X-Hs-Signature", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > max_age:
        return False
    want = "sha256=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--slow", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    secret = open(a.secret_file, "rb").read().rstrip()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                event = json.loads(body)
            except ValueError:
                event = {}
            rec = {
                "path": self.path,
                "delivery": self.headers.get("X-Hs-Delivery", ""),
                "event": self.headers.get("X-Hs-Event", ""),
                "id": event.get("id"),
                "verified": verify(secret, self.headers, body),
                "body": event,
            }
            with open(a.out, "a") as f:
                f.write(json.dumps(rec) + "\n")
            try:
                time.sleep(float(open(a.slow).read().strip() or 0))
            except OSError:
                pass
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
