#!/usr/bin/env python3
"""The order saga's services: inventory, payment and shipping in one small server.

POST /reserve, /release, /charge, /refund, /ship with a JSON body; each logs what it did.
An order fails on request: `"fail": "charge"` declines the card (402, not retried);
`"fail": "ship"` makes the carrier answer 503 every time (retried, then compensated).
Standard library only: `python3 order_services.py` (PORT).
"""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        step, order = self.path.strip("/"), body.get("order")
        print(f"order-services: {step} order {order}", flush=True)
        if step == "charge" and body.get("fail") == "charge":
            return self.answer(402, {"error": "card declined"})
        if step == "ship" and body.get("fail") == "ship":
            return self.answer(503, {"error": "no courier available"})
        replies = {
            "reserve": {"reserved": body.get("items", [])},
            "charge": {"payment": {"id": f"pay-{order}", "amount": body.get("amount")}},
            "ship": {"tracking": f"track-{order}"},
        }
        self.answer(200, replies.get(step, {"done": step}))

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
