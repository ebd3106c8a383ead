"""Pure-ASGI plumbing shared by the service's middlewares: types, JSON answers, bounded body reads.

Every body payrisk reads (API requests, the sign-in form, the credit-review form) goes through
`read_body`: at most `limit` bytes, and all of it within `timeout_s` seconds, so that a client
trickling a body one byte at a time holds nothing for longer than that.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLargeError(ValueError):
    """The body is over the limit (declared or actually sent)."""


class BodyTimeoutError(TimeoutError):
    """The client did not send the whole body in time."""


def declared_length(scope: Scope) -> int | None:
    """The Content-Length the client announced (-1 if unreadable), None if it announced none."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


async def read_body(scope: Scope, receive: Receive, limit: int, timeout_s: float) -> bytes:
    """The whole request body; BodyTooLargeError over `limit` bytes, BodyTimeoutError if it
    takes longer than `timeout_s` seconds in all."""
    declared = declared_length(scope)
    if declared is not None and declared > limit:
        raise BodyTooLargeError
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    break
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLargeError
                chunks.append(chunk)
                if not message.get("more_body"):
                    break
    except TimeoutError:
        raise BodyTimeoutError from None
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body to the next app, then the client's events."""
    delivered = False

    async def receive_again() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


async def send_json(send: Send, status: int, payload: dict, extra: list | None = None) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


# An answer sent before the body was read in full: the connection cannot be reused.
CLOSE = [(b"connection", b"close")]
