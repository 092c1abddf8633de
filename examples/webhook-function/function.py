#!/usr/bin/env python3
"""A stateless function behind realtime-server (standard library only).

It is what an AWS Lambda behind API Gateway's `$default` route would be: it is
called over HTTP when something happens, holds no connection, and answers
clients by POSTing to the server's HTTP API (API Gateway's `@connections`).

  POST /events  a webhook: verifies X-Realtime-Signature, and for every
                `message.published` on `requests/...` publishes a reply through
                POST /api/v1/publish to the request's Response Topic (or
                `replies/...`), Correlation Data copied (MQTT 5 request/response).
  POST /auth    an authentication webhook: {"allow": true} for the users in
                ALLOW_USERS ("alice:pw,bob:pw2") and the tokens in ALLOW_TOKENS.

Environment: LISTEN (127.0.0.1:9000), REALTIME_API (http://127.0.0.1:8080),
REALTIME_TOKEN (an [api] token), WEBHOOK_SECRET (the [[webhooks]] secret),
ALLOW_USERS, ALLOW_TOKENS. See docs/api/README.md and the [[webhooks]] example
in config/realtime-server.example.toml.
"""

import hashlib
import hmac
import json
import os
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = os.environ.get("REALTIME_API", "http://127.0.0.1:8080")
TOKEN = os.environ.get("REALTIME_TOKEN", "")
SECRET = os.environ.get("WEBHOOK_SECRET", "").encode()
USERS = dict(
    pair.split(":", 1) for pair in os.environ.get("ALLOW_USERS", "").split(",") if ":" in pair
)
TOKENS = {t for t in os.environ.get("ALLOW_TOKENS", "").split(",") if t}
MAX_BODY = 1 << 20


def signature_ok(headers, body):
    """X-Realtime-Signature: sha256=HMAC-SHA256(secret, timestamp "." body), recent."""
    ts = headers.get("X-Realtime-Timestamp", "")
    sig = headers.get("X-Realtime-Signature", "")
    if not SECRET or not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return False
    mac = hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + mac, sig)


def publish(message):
    """POST /api/v1/publish with the bearer token; returns the decoded answer."""
    req = urllib.request.Request(
        API + "/api/v1/publish",
        data=json.dumps(message).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def on_event(event):
    """The function's logic: answer requests/<x> on the response topic."""
    if event.get("event") != "message.published":
        return
    topic = event["topic"]
    if not topic.startswith("requests/"):
        return
    props = event.get("properties", {})
    reply_topic = props.get("response_topic") or "replies/" + topic[len("requests/"):]
    text = event.get("payload")
    reply = {
        "topic": reply_topic,
        "payload": "echo: " + (text if text is not None else "<binary>"),
        "qos": 1,
        "properties": {"content_type": "text/plain", "user_properties": {"handled-by": "function.py"}},
    }
    if "correlation_data" in props:
        reply["properties"]["correlation_data"] = props["correlation_data"]
    publish(reply)


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.answer(413, {"error": "too large"})
        body = self.rfile.read(length)
        if self.path == "/events":
            if not signature_ok(self.headers, body):
                return self.answer(401, {"error": "bad signature"})
            try:
                on_event(json.loads(body))
            except Exception as e:  # a failed call is retried by the server
                print(f"function.py: {e}", file=sys.stderr, flush=True)
                return self.answer(500, {"error": str(e)})
            return self.answer(200, {})
        if self.path == "/auth":
            if SECRET and not signature_ok(self.headers, body):
                return self.answer(401, {"error": "bad signature"})
            req = json.loads(body)
            user, password, token = req.get("username"), req.get("password"), req.get("token")
            allow = (user in USERS and hmac.compare_digest(USERS[user], password or "")) or (
                token in TOKENS
            )
            return self.answer(200, {"allow": bool(allow)})
        return self.answer(404, {"error": "not found"})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    host, port = os.environ.get("LISTEN", "127.0.0.1:9000").rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    print(f"function.py listening on {host}:{port}", flush=True)
    server.serve_forever()
