"""The appender's job (data.message += MESSAGE, reply with the event) with the Python
CloudEvents SDK on Starlette + uvicorn: a peer for hack/bench. Our code."""

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

try:  # cloudevents 2.x keeps the 1.x API here
    from cloudevents.v1.http import CloudEvent, from_http, to_binary
except ImportError:  # cloudevents 1.x
    from cloudevents.http import CloudEvent, from_http, to_binary

MESSAGE = os.environ.get("MESSAGE", " - handled")


async def handle(request: Request) -> Response:
    event = from_http(dict(request.headers), await request.body())
    data = event.data or {}
    attributes = dict(event.get_attributes())
    reply = CloudEvent(attributes, {"id": data.get("id", 0), "message": data.get("message", "") + MESSAGE})
    headers, body = to_binary(reply)
    return Response(body, headers=headers)


app = Starlette(routes=[Route("/", handle, methods=["POST"])])
