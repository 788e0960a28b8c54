#!/usr/bin/env python3
"""Send one CloudEvent with the Python CloudEvents SDK and report what came back.

Usage: ce_client.py URL MODE ATTRIBUTES_JSON DATA_JSON
  MODE is "binary" or "structured"; DATA_JSON is the event's data ("null" for none).
Prints one JSON object: {"status": int, "body": str, "event": {...} | null}, where
"event" is the reply parsed by the SDK's from_http (attributes plus "data").
Exits 3 when the cloudevents package is missing, so callers can skip.
"""
import json
import sys
import urllib.error
import urllib.request

try:  # cloudevents 1.x
    from cloudevents.http import CloudEvent, from_http, to_binary, to_structured
except ImportError:
    try:  # cloudevents 2.x keeps the 1.x API under cloudevents.v1
        from cloudevents.v1.http import CloudEvent, from_http, to_binary, to_structured
    except ImportError:
        print("python package cloudevents is not installed", file=sys.stderr)
        sys.exit(3)


def main():
    url, mode, attributes, data = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
    event = CloudEvent(attributes, data)
    headers, body = (to_binary if mode == "binary" else to_structured)(event)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, reply_headers, reply_body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        status, reply_headers, reply_body = err.code, err.headers, err.read()
    reply = None
    if status == 200 and reply_body:
        parsed = from_http(dict(reply_headers), reply_body)
        reply = dict(parsed.get_attributes())
        reply["data"] = parsed.get_data()
        reply["content-type"] = reply_headers.get("Content-Type")
    print(json.dumps({"status": status, "body": reply_body.decode("utf-8", "replace"), "event": reply}, default=str))


if __name__ == "__main__":
    main()
