"""Why the service refuses a well-formed request, and the HTTP status of each reason: one table.

Malformed requests never get here (the request guard answers 400, 413 or 415 first); these are
requests the engine cannot answer, or cannot answer yet.
"""

from __future__ import annotations


class RefusedRequestError(ValueError):
    """A request that is well formed but cannot be answered (e.g. a day before the snapshot)."""


class NoSnapshotError(RefusedRequestError):
    """No customer history loaded yet: the service is not ready, the request is not at fault."""


class ConflictError(RefusedRequestError):
    """A request id already used for another request body (ids are idempotency keys)."""


class RecordUnavailableError(RefusedRequestError):
    """The credit desk's database cannot be reached (or was not opened): retry later."""


HTTP_STATUS: dict[type[RefusedRequestError], int] = {
    NoSnapshotError: 503,
    RecordUnavailableError: 503,
    ConflictError: 409,
    RefusedRequestError: 422,
}


def http_status(error: RefusedRequestError) -> int:
    """The status of the most specific refusal class `error` is an instance of."""
    for kind in type(error).__mro__:
        if kind in HTTP_STATUS:
            return HTTP_STATUS[kind]
    return 422
