"""The OpenAPI spec dunning systems integrate from, and JSON for every refusal BentoML answers.

BentoML builds the spec from the endpoints (`svc.openapi_spec`), but with its own title page,
the version of a Bento tag ("None" when served from source), fixed 200/400/404/500 responses, no
security scheme (its dataclasses cannot hold one), and enums only where a type says so. This
module post-processes that spec once: our description and version, the API-key scheme, every
status the service really answers (400, 401, 405, 409, 413, 415, 422, 429, 503) with its JSON
body, the configured scenario names as an enum, and schema names without BentoML's
"IODescriptor" suffix.
`OpenApiMiddleware` serves it at /docs.json (behind the API key, like the rest) and turns the
plain-text 404 and 405 of the router into JSON. The page at /docs (`payrisk.serving.docs`) fetches
it from SPEC_PATH.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from payrisk import __version__
from payrisk.serving.asgi import Receive, Scope, Send, send_json
from payrisk.serving.auth import EXEMPT_PATHS

SPEC_PATH = "/docs.json"
SCENARIO_SCHEMAS = ("InvoiceScore", "CustomerPlan", "WorklistItem")

DESCRIPTION = """Payment-risk scoring for accounts receivable: for each open invoice the
probability of late payment and of default, the expected payment date with an interval, the
dunning scenario and next action of its customer, and reasons in plain words (French or
English); a customer's payment record; a credit review before granting credit; the collectors'
worklist.

**Authentication.** Every endpoint but the health probes needs an API key, sent as
`X-API-Key: KEY` or `Authorization: Bearer KEY` (`payrisk keygen` makes one). Without it: 401.
Too many wrong keys from one address within a minute: 429 with `Retry-After`.

**Errors** are JSON objects with an `error` message: 400 (one entry per bad field in `detail`,
never the value sent), 401, 404, 405, 413 (body too large), 415 (not JSON), 422 (well formed but
unanswerable: a day before the snapshot, an unknown currency...), 429, 503 (no snapshot loaded).

**Dates** are `YYYY-MM-DD`, "as of" a day means at the start of that day. **Amounts** of an
invoice are in its currency; customer and worklist amounts in the policy's base currency (the
`currency` field of each answer). Every answer names the model version and how old the
customer-history snapshot behind it is (`stale`).

A customer's plan covers all its open invoices known to the snapshot, whichever of them are
sent, so it never depends on the subset in a request; each contact lists its invoice ids.
"""

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "What went wrong, in words."}},
}
VALIDATION_SCHEMA = {
    "title": "ValidationError",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string"},
        "detail": {
            "type": "array",
            "description": "One entry per bad field; the value sent is never echoed.",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                        "description": 'Path of the field, e.g. ["invoices", 0, "amount"].',
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
ERRORS = {
    "400": ("Malformed request: one entry per bad field", "ValidationError"),
    "401": ("No API key, or a wrong one", "Error"),
    "405": ("Method not allowed on this path (the API takes POST)", "Error"),
    "413": ("Request body over the size limit", "Error"),
    "409": (
        "Conflict: a request id reused with another body, or a credit decision on a "
        "recommendation the review no longer gives",
        "Error",
    ),
    "415": ("Body is not application/json", "Error"),
    "422": ("Well formed but cannot be answered (says why)", "Error"),
    "429": ("Too many wrong keys from this address: retry after Retry-After seconds", "Error"),
    "500": ("Internal error", "Error"),
    "503": ("Not ready: no customer-history snapshot or portfolio bundle loaded", "Error"),
}
SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "Bearer": {"type": "http", "scheme": "bearer", "description": "The same API key."},
}


def _renamed(value: Any) -> Any:
    """BentoML's "<Model>IODescriptor" names and $refs without the suffix, recursively."""
    if isinstance(value, dict):
        return {_renamed(k) if isinstance(k, str) else k: _renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    if isinstance(value, str):
        return value.replace("IODescriptor", "")
    return value


def _response(description: str, schema: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def served_spec(raw: dict, scenarios: list[str], version: str = __version__) -> dict:
    """The spec as published: BentoML's `raw` spec (asdict) with our description, version,
    security scheme, error responses and enums."""
    spec = _renamed(json.loads(json.dumps(raw)))  # a deep copy
    spec["info"] = {"title": "payrisk", "version": version, "description": DESCRIPTION}
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("InvalidArgument", "NotFound", "InternalServerError", "TaskStatusResponse"):
        schemas.pop(unused, None)
    schemas["Error"] = ERROR_SCHEMA
    schemas["ValidationError"] = VALIDATION_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    spec["security"] = [{"ApiKey": []}, {"Bearer": []}]
    for name in SCENARIO_SCHEMAS:
        scenario = schemas.get(name, {}).get("properties", {}).get("scenario")
        if scenario is not None:
            scenario["enum"] = list(scenarios)
            scenario["description"] = "Dunning scenario (configs/dunning.yaml): " + ", ".join(
                scenarios
            )
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = {
                code: answer
                for code, answer in operation["responses"].items()
                if code.startswith("2")
            }
            if path in EXEMPT_PATHS:
                operation["security"] = []  # health probes need no key
                responses["500"] = _response(*ERRORS["500"])
            else:
                for code, (description, schema) in ERRORS.items():
                    if code in ("413", "415", "400") and not path.startswith("/v1/"):
                        continue
                    responses[code] = _response(description, schema)
            operation["responses"] = dict(sorted(responses.items()))
    return spec


NOT_FOUND = 404
NOT_ALLOWED = 405


class OpenApiMiddleware:
    """Serves the post-processed spec at /docs.json and answers the router's plain-text 404
    and 405 as JSON `{"error": ...}`, like every other refusal."""

    def __init__(self, app, spec: Callable[[], dict]) -> None:
        """`spec()` gives the spec to serve (built once, on the first request)."""
        self.app = app
        self.spec = spec
        self._cached: dict | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == SPEC_PATH and scope.get("method") in ("GET", "HEAD"):
            if self._cached is None:
                self._cached = self.spec()
            await send_json(send, 200, self._cached)
            return
        replaced: dict[str, Any] = {}

        async def send_or_replace(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                plain = headers.get(b"content-type", b"").startswith(b"text/plain")
                if message["status"] in (NOT_FOUND, NOT_ALLOWED) and plain:
                    replaced["status"] = message["status"]
                    replaced["allow"] = headers.get(b"allow")
                    return
                await send(message)
            elif message["type"] == "http.response.body" and replaced:
                if message.get("more_body"):
                    return
                method = scope.get("method", "")
                error = (
                    f"no such path: {path}"
                    if replaced["status"] == NOT_FOUND
                    else f"{method} is not allowed on {path}"
                    + (f"; use {replaced['allow'].decode()}" if replaced.get("allow") else "")
                )
                extra = [(b"allow", replaced["allow"])] if replaced.get("allow") else []
                await send_json(send, replaced["status"], {"error": error}, extra)
            else:
                await send(message)

        await self.app(scope, receive, send_or_replace)
