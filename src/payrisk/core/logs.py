"""One log format for every command: time, level, command and step on each line, text or JSON.

The entry point calls `install` once; modules log with `logging.getLogger("payrisk...")`
as before and never configure anything. The command and the step come from context variables
(`command_context`, and `payrisk.core.progress.step`, which names the step), so that a line
written deep in the models says which command and which step it belongs to without being told.
Messages carry ids, counts and file names only (tests/data/test_personal_data.py).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
PAYRISK_LOGGER = "payrisk"

_command: ContextVar[str] = ContextVar("payrisk_command", default="-")
_steps: ContextVar[tuple[str, ...]] = ContextVar("payrisk_steps", default=())


def current_command() -> str:
    return _command.get()


def current_step() -> str:
    """The steps in progress, outermost first ("retrain/fit"), or "-" outside any step."""
    return "/".join(_steps.get()) or "-"


@contextmanager
def command_context(name: str) -> Iterator[None]:
    token = _command.set(name)
    try:
        yield
    finally:
        _command.reset(token)


@contextmanager
def step_context(name: str) -> Iterator[None]:
    token = _steps.set((*_steps.get(), name))
    try:
        yield
    finally:
        _steps.reset(token)


class OwnOrWarning(logging.Filter):
    """payrisk's records at the handler's level; other libraries' (Great Expectations, MLflow,
    Dask) from WARNING only, so that an operator reads payrisk's steps, not their chatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name == PAYRISK_LOGGER or record.name.startswith(PAYRISK_LOGGER + ".")
        return own or record.levelno >= logging.WARNING


class ContextFilter(logging.Filter):
    """Stamps each record with the command and step in progress (unless a caller set them:
    a progress thread logs for the step it watches)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "command"):
            record.command = current_command()
        if not hasattr(record, "step"):
            record.step = current_step()
        return True


def _utc(record: logging.LogRecord) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{stamp}.{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """`2026-12-07T23:01:02.345Z INFO daily [daily/validate] payrisk.daily: message` (UTC; the
    step in brackets, as steps' names have spaces)."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{_utc(record)} {record.levelname} {getattr(record, 'command', '-')} "
            f"[{getattr(record, 'step', '-')}] {record.name}: {record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, command, step, logger, message (and the
    exception with its traceback as one string, when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _utc(record),
            "level": record.levelname,
            "command": getattr(record, "command", "-"),
            "step": getattr(record, "step", "-"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            entry["exception"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            entry["traceback"] = self.formatException(record.exc_info)  # one JSON string
        return json.dumps(entry, ensure_ascii=False, default=str)


# Libraries that may install a console handler of their own on import.
SELF_CONFIGURED = ("mlflow",)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes (a progress display or a test
    runner may have replaced it since the handler was made)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def install(
    level: str, log_format: LogFormat, filters: tuple[logging.Filter, ...] = ()
) -> Callable[[], None]:
    """Put one stderr handler on the root logger and set payrisk's loggers to `level`; returns
    what undoes both (the entry point calls it when the command ends). Other handlers (a
    test's) stay."""
    handler = StderrHandler()
    handler.setLevel(level)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(OwnOrWarning())
    handler.addFilter(ContextFilter())
    for extra in filters:
        handler.addFilter(extra)
    root, own = logging.getLogger(), logging.getLogger(PAYRISK_LOGGER)
    previous = own.level
    root.addHandler(handler)
    own.setLevel(level)
    # A library that set up its own console handler when first imported (MLflow, unless
    # MLFLOW_CONFIGURE_LOGGING=false came first) writes through this one for the command.
    taken = {name: logging.getLogger(name) for name in SELF_CONFIGURED}
    kept = {name: (log.handlers[:], log.propagate) for name, log in taken.items()}
    for log in taken.values():
        log.handlers.clear()
        log.propagate = True

    def uninstall() -> None:
        root.removeHandler(handler)
        own.setLevel(previous)
        for name, log in taken.items():
            log.handlers[:], log.propagate = kept[name]

    return uninstall
