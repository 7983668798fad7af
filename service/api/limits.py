"""The request body size limit: a pure ASGI middleware, ahead of any parsing.

A body larger than ``max_bytes`` is answered ``413`` with a short JSON body, and never
parsed. A declared ``Content-Length`` over the limit is refused before a byte of the body is
read; a body without one (``Transfer-Encoding: chunked``) is read and counted, and refused
as soon as the count passes the limit: at most ``max_bytes`` plus one chunk is ever held.
A body within the limit is read whole (the JSON decoder needs all of it anyway) and
handed to the application as one message.

The server drains what the client still sends of a refused body, so the client reads its
413 and the connection serves on. A request without a body (neither ``Content-Length`` nor
``Transfer-Encoding``: a GET) passes untouched.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked = _framing(scope)
        if declared is None and not chunked:
            await self.app(scope, receive, send)
            return
        if declared is not None and declared > self.max_bytes:
            await self._too_large(send)
            return
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect: the client is gone
                return
            part: bytes = message.get("body", b"")
            size += len(part)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            parts.append(part)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(parts), receive), send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps(
            {"detail": f"request body too large: at most {self.max_bytes} bytes"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared Content-Length (None when absent or unreadable) and whether the body
    comes chunked."""
    declared: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:  # the server refuses these before the app sees them
                declared = None
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the whole body once, then waits on the real one (for the
    client's disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
