#!/usr/bin/env python3
"""The newsletter's subscription service: implements specs/subscription-service.json.

Subscriptions live in memory. A subscriber confirms (or declines) with
  POST /subscription/{id}/answer?confirmed=true|false
which sends the `confirm.subscription` CloudEvent the workflow waits for to K_SINK, with
the workflow instance's id in the `kogitoprocrefid` extension (as Kogito's service does).
Standard library only: run it with `python3 subscription_service.py` (PORT, K_SINK).
"""

import json
import os
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SUBSCRIPTIONS = {}  # id -> {"id", "email", "name", "verified"}


def send_confirmation(instance_id, confirmed):
    sink = os.environ.get("K_SINK")
    if not sink:
        return 503, {"error": "K_SINK is not set: nowhere to send the confirmation"}
    request = urllib.request.Request(
        sink,
        data=json.dumps({"confirmed": confirmed}).encode(),
        method="POST",
        headers={
            "content-type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": str(uuid.uuid4()),
            "ce-source": "/subscription-service",
            "ce-type": "confirm.subscription",
            "ce-kogitoprocrefid": instance_id,
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return 202, {"sent": True, "status": response.status}


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("content-length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        return url.path.rstrip("/"), urllib.parse.parse_qs(url.query)

    def do_GET(self):
        path, query = self.route()
        email = query.get("email", [""])[0]
        known = [s for s in SUBSCRIPTIONS.values() if s["email"] == email]
        if path == "/subscription/verify":
            return self.answer(200, {"email": email, "emailExists": any(s["verified"] for s in known)})
        if path == "/subscription":
            return self.answer(200, known[0]) if known else self.answer(404, {"error": "no such subscription"})
        if path == "/healthz":
            return self.answer(200, {})
        self.answer(404, {"error": f"no route for {path}"})

    def do_POST(self):
        path, query = self.route()
        if path == "/subscription":
            subscription = dict(self.body(), verified=False)
            SUBSCRIPTIONS[subscription["id"]] = subscription
            return self.answer(200, subscription)
        parts = path.split("/")
        if len(parts) == 4 and parts[1] == "subscription" and parts[3] == "answer":
            confirmed = query.get("confirmed", ["true"])[0] == "true"
            return self.answer(*send_confirmation(parts[2], confirmed))
        self.answer(404, {"error": f"no route for {path}"})

    def do_PUT(self):
        path, _ = self.route()
        if path == "/subscription/confirm":
            subscription = dict(self.body(), verified=True)
            SUBSCRIPTIONS[subscription["id"]] = subscription
            return self.answer(200, subscription)
        self.answer(404, {"error": f"no route for {path}"})

    def do_DELETE(self):
        path, _ = self.route()
        removed = SUBSCRIPTIONS.pop(path.rsplit("/", 1)[-1], None)
        self.answer(200, removed or {})

    def log_message(self, format, *args):
        print("subscription-service:", format % args, flush=True)


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
