"""Request guard in front of BentoML: framing headers, body-size and time limits, and request
validation before any handler.

Why here and not in the endpoints: BentoML logs the traceback of a request it cannot parse, and a
pydantic traceback quotes the input, so a debtor's details sent by mistake would land in the server
log. This pure-ASGI middleware refuses a request that carries a framing header twice (two
Content-Type headers would let the guard and BentoML read different media types), reads the body
(at most PAYRISK_MAX_BODY_BYTES, else 413; all of it within PAYRISK_BODY_TIMEOUT_S seconds, else
408), refuses anything but JSON on the API (415), validates it strictly against the endpoint's
request model (no `true` for a number, no date-time for a date) and answers 400 with one entry per
bad field (location, message, type; never the input) before BentoML sees it. It logs the path and
the error count, nothing from the body.

It sits before the concurrency limit (`payrisk.serving.limits`): a body that trickles in costs a
connection, never one of the slots that scoring requests wait for.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping

import anyio
import anyio.to_thread
from pydantic import BaseModel, ValidationError

from payrisk.serving.asgi import (
    CLOSE,
    BodyTimeoutError,
    BodyTooLargeError,
    Receive,
    Scope,
    Send,
    read_body,
    replay,
    send_json,
)

log = logging.getLogger("payrisk.service")

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Bodies up to this size are validated on the event loop (under a millisecond); larger ones in
# one of VALIDATION_THREADS threads.
VALIDATE_INLINE_BYTES = 16 * 1024
VALIDATION_THREADS = 2
# Headers that say how to read the body: once each, or the request is ambiguous.
FRAMING_HEADERS = (b"content-type", b"content-length", b"transfer-encoding")


def field_errors(error: ValidationError) -> list[dict]:
    """Pydantic's errors without the input values (they may hold personal data)."""
    return [
        {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
        for item in error.errors(include_url=False, include_context=False, include_input=False)
    ]


def repeated_framing_header(scope: Scope) -> str | None:
    """The first framing header the request carries more than once (or Content-Length together
    with Transfer-Encoding), else None."""
    seen: set[bytes] = set()
    for name, _ in scope.get("headers", []):
        name = name.lower()
        if name in FRAMING_HEADERS:
            if name in seen:
                return name.decode()
            seen.add(name)
    if b"content-length" in seen and b"transfer-encoding" in seen:
        return "content-length with transfer-encoding"
    return None


class RequestGuardMiddleware:
    """Framing headers for every request; size and time limits for every body; JSON and schema
    check for the API endpoints."""

    def __init__(
        self,
        app,
        request_models: Mapping[str, type[BaseModel]],
        no_input: frozenset[str],
        max_body_bytes: int,
        max_batch: int,
        body_timeout_s: float,
    ) -> None:
        """`request_models`: route -> the model its body must match; `no_input`: routes whose
        body is dropped (the service's route table)."""
        self.app = app
        self.request_models = dict(request_models)
        self.no_input = no_input
        self.max_body_bytes = max_body_bytes
        self.max_batch = max_batch
        self.body_timeout_s = body_timeout_s
        self._validators = anyio.CapacityLimiter(VALIDATION_THREADS)

    async def _validate(self, model: type[BaseModel], body: bytes) -> None:
        """Validate `body` against `model` (ValidationError if it breaks it): a large body in
        a thread, since 1,000 invoices take some 40 ms that the event loop (the probes, every
        other client) would otherwise wait through; a small one at once (a thread costs more)."""
        if len(body) <= VALIDATE_INLINE_BYTES:
            model.model_validate_json(body, strict=True)
            return
        await anyio.to_thread.run_sync(
            functools.partial(model.model_validate_json, body, strict=True),
            limiter=self._validators,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        repeated = repeated_framing_header(scope)
        if repeated is not None:
            log.warning("refused %s: %s header sent more than once", path, repeated)
            await send_json(
                send, 400, {"error": f"ambiguous request: {repeated} header sent more than once"},
                CLOSE,
            )  # fmt: skip
            return
        if scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(scope, receive, self.max_body_bytes, self.body_timeout_s)
        except BodyTooLargeError:
            log.warning("refused %s: body over %d bytes", path, self.max_body_bytes)
            await send_json(
                send,
                413,
                {"error": f"request body over the limit of {self.max_body_bytes} bytes; "
                 f"send at most {self.max_batch} invoices per request"},
                CLOSE,
            )  # fmt: skip
            return
        except BodyTimeoutError:
            log.warning("refused %s: body not received within %g s", path, self.body_timeout_s)
            await send_json(
                send,
                408,
                {"error": f"request body not received within {self.body_timeout_s:g} s"},
                CLOSE,
            )
            return
        model = self.request_models.get(path)
        if model is not None or path in self.no_input:
            media = b"application/json"
            for name, value in scope.get("headers", []):
                if name.lower() == b"content-type":
                    media = value.split(b";")[0].strip().lower()
            if media != b"application/json":
                await send_json(send, 415, {"error": "send the request as application/json"})
                return
        if model is not None:
            try:
                await self._validate(model, body)
            except ValidationError as error:
                errors = field_errors(error)
                log.info("refused %s: %d invalid field(s)", path, len(errors))
                await send_json(
                    send,
                    400,
                    {"error": f"{len(errors)} validation error(s) for {model.__name__}",
                     "detail": errors},
                )  # fmt: skip
                return
        elif path in self.no_input:
            body = b""  # the endpoint takes no input; nothing else reaches BentoML's parser

        await self.app(scope, replay(body, receive), send)
