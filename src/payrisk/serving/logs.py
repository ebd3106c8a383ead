"""Log lines nobody can forge, and no customer id in the access log.

A request path is decoded before it is logged: `GET /x%0a2026-12-07T17:40:00+0000 [WARNING] ...`
wrote a line of the attacker's choosing into the server log, and `/ui/customers/<id>` put a
customer's id into every access line. `install` puts `SafeLogFilter` on every handler of the
worker's loggers: each record's message has its control characters escaped (so one record is
one line), and the access log's page paths drop the customer id.
"""

from __future__ import annotations

import logging
import numbers
import re

ACCESS_LOGGER = "bentoml.access"
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: anything a terminal
# or a log reader could take for the end of a line or a command.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The review pages' paths that carry an id (`/ui/customers/<id>`): logged without it. The id
# ends where BentoML's access line goes on (`,type=`, `,length=`) or at the end.
ID_PATHS = re.compile(r"(path=/ui/customers/)(.*?)(?=,type=|,length=|$)", re.DOTALL)
REDACTED_ID = "<id>"
_DONE = "_payrisk_safe"


def escaped(text: str) -> str:
    """`text` on one line: each control character as a visible escape (\\x0a, \\u2028)."""
    return CONTROL.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


def without_ids(request: str) -> str:
    """An access line's request part with the id of a customer page replaced."""
    return ID_PATHS.sub(lambda m: m.group(1) + REDACTED_ID, request)


class SafeLogFilter(logging.Filter):
    """Escapes control characters in a record's message (a traceback, formatted apart, keeps
    its lines) and drops ids from the access log's paths; each record once."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _DONE, False):
            return True
        if record.name == ACCESS_LOGGER and isinstance(record.args, tuple):
            record.args = tuple(
                without_ids(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.args, tuple):
            # Each argument escaped in place, so that formatters that read the arguments
            # (uvicorn's access formatter unpacks them) still find them; numbers as they are.
            record.args = tuple(_safe_argument(arg) for arg in record.args)
            record.msg = escaped(str(record.msg))
        else:  # a mapping, or nothing: the message whole
            try:
                message = record.getMessage()
            except Exception:  # a malformed record: let logging report it as it does
                return True
            record.msg, record.args = escaped(message), None
        setattr(record, _DONE, True)
        return True


def _safe_argument(value: object) -> object:
    if value is None or isinstance(value, numbers.Number):  # numpy's too (for %d, %.3f)
        return value
    return escaped(value if isinstance(value, str) else str(value))


def install() -> None:
    """Put the filter on every handler this process has (the root's, uvicorn's, BentoML's):
    a handler filter sees every record it writes, propagated ones included."""
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    access = logging.getLogger(ACCESS_LOGGER)
    if _shared not in access.filters:  # even if its handlers come later
        access.addFilter(_shared)
    for logger in loggers:
        for handler in logger.handlers:
            if _shared not in handler.filters:
                handler.addFilter(_shared)


_shared = SafeLogFilter()
