"""Request guard in front of BentoML: body-size limit and request validation before any handler.

Why here and not in the endpoints: BentoML logs the traceback of a request it cannot parse, and a
pydantic traceback quotes the input, so a debtor's details sent by mistake would land in the server
log. This pure-ASGI middleware reads the body (at most PAYRISK_MAX_BODY_BYTES, else 413), refuses
anything but JSON on the API (415), validates it against the endpoint's request model and answers
400 with one entry per bad field (location, message, type; never the input) before BentoML sees
it. It logs the path and the error count, nothing from the body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import BaseModel, ValidationError

from payrisk.serving.auth import Receive, Scope, Send, send_json

log = logging.getLogger("payrisk.service")

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLargeError(ValueError):
    """The body is over the limit (declared or actually sent)."""


def field_errors(error: ValidationError) -> list[dict]:
    """Pydantic's errors without the input values (they may hold personal data)."""
    return [
        {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
        for item in error.errors(include_url=False, include_context=False, include_input=False)
    ]


class RequestGuardMiddleware:
    """Size limit for every body; JSON and schema check for the API endpoints."""

    def __init__(
        self,
        app,
        request_models: Mapping[str, type[BaseModel]],
        no_input: frozenset[str],
        max_body_bytes: int,
        max_batch: int,
    ) -> None:
        """`request_models`: route -> the model its body must match; `no_input`: routes whose
        body is dropped (the service's route table)."""
        self.app = app
        self.request_models = dict(request_models)
        self.no_input = no_input
        self.max_body_bytes = max_body_bytes
        self.max_batch = max_batch

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope.get("headers", []):
            if name.lower() == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_body_bytes:
                    raise BodyTooLargeError
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        try:
            body = await self._read_body(scope, receive)
        except BodyTooLargeError:
            log.warning("refused %s: body over %d bytes", path, self.max_body_bytes)
            await send_json(
                send,
                413,
                {"error": f"request body over the limit of {self.max_body_bytes} bytes; "
                 f"send at most {self.max_batch} invoices per request"},
            )  # fmt: skip
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
                model.model_validate_json(body)
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

        delivered = False

        async def replay() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
