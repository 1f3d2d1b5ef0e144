"""Request bodies over ``POVREG_MAX_BODY_BYTES`` are refused (413) before they are read.

An ASGI middleware, outside authentication: a body that declares its length is
refused on that alone; one sent in chunks is counted as it arrives, and refused
once it passes the limit — nothing past the limit is ever held in memory.
FastAPI turns any failure to read a body into a 400, so the middleware does not
raise through the application: it ends the body it hands on and answers the
413 itself, dropping whatever the application would have answered.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem


def too_large(limit: int, path: str) -> Any:
    return problem(
        413,
        "Payload too large",
        f"请求体超过 {limit} 字节的上限",
        "payload_too_large",
        instance=path,
        limit=limit,
    )


class BodyLimit:
    """Refuse request bodies longer than ``limit`` bytes with a 413 problem."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await too_large(self.limit, path)(scope, receive, send)
            return
        seen = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the application's answer to a body it never got whole
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await too_large(self.limit, path)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
