"""The credit desk's record: what credit managers decided, the limits they set, their notes.

`CreditDesk.open(url)` connects (SQLite file by default, PostgreSQL or any SQLAlchemy URL for a
team), brings the schema to the latest Alembic revision and refuses a database whose revision this
version of payrisk does not know (written by a newer one). Every write is validated here, at the
database boundary, with an error naming the field and the problem (never echoing a note's or a
reason's text: it may name people). A decision that departs from the recommendation
(`payrisk.policy.credit.departs`) is refused without its reason; a decision that sets a credit
limit also writes the limit history, in the same transaction.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

from sqlalchemy import Engine, Integer, create_engine, desc, event, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from payrisk.data.contract import CONTROL_CHARACTERS
from payrisk.policy.credit import DECISIONS, DECLINE, RECOMMENDATIONS, departs
from payrisk.records.schema import (
    MAX_AUTHOR,
    MAX_CONDITION,
    MAX_CONDITIONS,
    MAX_ID,
    MAX_TEXT,
    decisions,
    limits,
    notes,
)

log = logging.getLogger("payrisk.records")

MAX_AMOUNT = 1e12
MAX_TERMS_DAYS = 3650
# Ids as the data contract takes them (any script, no control character); texts may hold line
# breaks and tabs, nothing else below space.
CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class RecordError(ValueError):
    """A write the record refuses: the message names the field and the problem."""


class DatabaseUnavailableError(RecordError):
    """The database failed (unreachable, a write that did not commit): nothing was refused, try
    again later. The driver's message is never kept (it may quote the values written)."""


class SchemaVersionError(RuntimeError):
    """The database cannot be used: it cannot be opened, or its schema is not one this version
    of payrisk knows."""


@dataclass(frozen=True)
class DecisionEntry:
    """One credit decision as it is recorded: the review it answers and what was decided."""

    customer_id: str
    author: str
    requested_amount: float
    terms_days: int
    recommendation: str
    late_probability: float
    default_probability: float
    exposure: float
    max_approvable_amount: float
    model_version: str
    snapshot_as_of: date
    snapshot_id: str | None
    decision: str
    granted_amount: float | None = None
    granted_terms_days: int | None = None
    credit_limit: float | None = None  # the customer's new limit, if the decision sets one
    previous_limit: float | None = None  # the limit known before (the data's, if none recorded)
    conditions: tuple[str, ...] = ()
    override_reason: str | None = None


@dataclass(frozen=True)
class CustomerRecord:
    """A customer's record, newest first in each list."""

    decisions: list[dict[str, Any]] = field(default_factory=list)
    limits: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current_limit(self) -> float | None:
        return self.limits[0]["credit_limit"] if self.limits else None


def _encodable(value: str) -> bool:
    """Text a database can store: JSON may carry lone surrogates, UTF-8 cannot."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _id(value: str, name: str = "customer_id") -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_ID
        or CONTROL.search(value)
        or not _encodable(value)
    ):
        raise RecordError(f"{name}: must be 1 to {MAX_ID} characters without control characters")
    return value


def _author(value: str) -> str:
    value = (value or "").strip()
    if not 1 <= len(value) <= MAX_AUTHOR or CONTROL.search(value) or not _encodable(value):
        raise RecordError(f"author: must be 1 to {MAX_AUTHOR} printable characters")
    return value


def _amount(value: float | None, name: str, required: bool = False) -> float | None:
    if value is None:
        if required:
            raise RecordError(f"{name}: required")
        return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise RecordError(f"{name}: must be a finite number")
    if not 0 <= value <= MAX_AMOUNT:
        raise RecordError(f"{name}: must be between 0 and {MAX_AMOUNT:,.0f}")
    return round(float(value), 2)


def _probability(value: float, name: str) -> float:
    if not isinstance(value, int | float) or not 0 <= value <= 1:
        raise RecordError(f"{name}: must be a probability between 0 and 1")
    return float(value)


def _days(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TERMS_DAYS:
        raise RecordError(f"{name}: must be a whole number of days between 0 and {MAX_TERMS_DAYS}")
    return value


def _text(value: str | None, name: str, limit: int = MAX_TEXT) -> str | None:
    """Free text: stripped, bounded, no control character but line breaks and tabs. The error
    never quotes it."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{name}: must be text")
    value = value.replace("\r\n", "\n").strip()
    if len(value) > limit:
        raise RecordError(f"{name}: at most {limit} characters ({len(value)} given)")
    if TEXT_CONTROL.search(value) or not _encodable(value):
        raise RecordError(f"{name}: control characters and lone surrogates are not allowed")
    return value or None


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive times: they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


MONEY_COLUMNS = (
    "requested_amount",
    "exposure",
    "max_approvable_amount",
    "granted_amount",
    "credit_limit",
    "previous_limit",
)


def _row(mapping: Any) -> dict[str, Any]:
    """A row as plain values: UTC times, amounts as floats (SQLite hands whole ones back as int),
    conditions as a list."""
    out = dict(mapping)
    for key in MONEY_COLUMNS:
        if out.get(key) is not None:
            out[key] = float(out[key])
    for key in ("decided_at", "set_at", "written_at"):
        if out.get(key) is not None:
            out[key] = _utc(out[key])
    if "conditions" in out:
        out["conditions"] = [c for c in out["conditions"].split("\n") if c]
    return out


def _sqlite_immediate(engine: Engine) -> None:
    """SQLite transactions that take the write lock at BEGIN: two workers migrating or writing
    at once wait for each other instead of failing half-way (pysqlite otherwise opens
    transactions lazily and runs DDL outside them)."""

    @event.listens_for(engine, "connect")
    def _connect(connection, _record) -> None:
        connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class CreditDesk:
    """Reads and writes the record through one SQLAlchemy engine (thread-safe: one connection
    per transaction from its pool)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def open(cls, url: str, clock: Callable[[], datetime] | None = None) -> CreditDesk:
        """Connect and migrate to the latest schema; SchemaVersionError if the database is
        of a schema this version does not know. The URL is never logged (it may hold a
        password)."""
        try:
            engine = create_engine(url, pool_pre_ping=True)
            if engine.dialect.name == "sqlite":
                _sqlite_immediate(engine)
            migrate(engine)
        except (SQLAlchemyError, ImportError) as error:  # a bad URL, no driver, no database
            raise SchemaVersionError(
                f"credit desk database cannot be opened ({type(error).__name__}): check "
                "PAYRISK_DATABASE_URL"
            ) from None
        log.info("credit desk record ready (%s, schema %s)", engine.dialect.name, head_revision())
        return cls(engine, clock)

    # --- writes ---------------------------------------------------------------------------------
    def record_decision(self, entry: DecisionEntry) -> dict[str, Any]:
        """Store a decision (and the limit it sets); returns the stored row."""
        if entry.recommendation not in RECOMMENDATIONS:
            raise RecordError(f"recommendation: must be one of {', '.join(RECOMMENDATIONS)}")
        if entry.decision not in DECISIONS:
            raise RecordError(f"decision: must be one of {', '.join(DECISIONS)}")
        granted = _amount(entry.granted_amount, "granted_amount")
        if entry.decision == DECLINE and granted:
            raise RecordError("granted_amount: a declined request grants nothing")
        conditions = [_text(c, "conditions", MAX_CONDITION) for c in entry.conditions]
        conditions = [c.replace("\n", " ") for c in conditions if c]
        if len(conditions) > MAX_CONDITIONS:
            raise RecordError(f"conditions: at most {MAX_CONDITIONS}")
        max_approvable = _amount(entry.max_approvable_amount, "max_approvable_amount", True)
        override = departs(entry.recommendation, entry.decision, granted, max_approvable)
        reason = _text(entry.override_reason, "override_reason")
        if override and not reason:
            raise RecordError(
                "override_reason: required when the decision departs from the recommendation "
                f"({entry.recommendation}) or grants more than the most approvable amount"
            )
        limit = _amount(entry.credit_limit, "credit_limit")
        values = {
            "customer_id": _id(entry.customer_id),
            "decided_at": self.clock(),
            "author": _author(entry.author),
            "requested_amount": _amount(entry.requested_amount, "requested_amount", True),
            "terms_days": _days(entry.terms_days, "terms_days"),
            "recommendation": entry.recommendation,
            "late_probability": _probability(entry.late_probability, "late_probability"),
            "default_probability": _probability(entry.default_probability, "default_probability"),
            "exposure": _amount(entry.exposure, "exposure", True),
            "max_approvable_amount": max_approvable,
            "model_version": _id(entry.model_version, "model_version"),
            "snapshot_as_of": entry.snapshot_as_of,
            "snapshot_id": None
            if entry.snapshot_id is None
            else _id(entry.snapshot_id, "snapshot_id"),
            "decision": entry.decision,
            "granted_amount": granted,
            "granted_terms_days": _days(entry.granted_terms_days, "granted_terms_days"),
            "credit_limit": limit,
            "conditions": "\n".join(conditions),
            "override": override,
            "override_reason": reason,
        }
        if values["terms_days"] is None:
            raise RecordError("terms_days: required")
        previous = _amount(entry.previous_limit, "previous_limit")
        with self._transaction() as connection:
            decision_id = connection.execute(
                insert(decisions).returning(decisions.c.id), values
            ).scalar_one()
            if limit is not None:
                known = self._latest_limit(connection, values["customer_id"])
                connection.execute(
                    insert(limits),
                    {
                        "customer_id": values["customer_id"],
                        "set_at": values["decided_at"],
                        "author": values["author"],
                        "credit_limit": limit,
                        "previous_limit": known if known is not None else previous,
                        "decision_id": decision_id,
                    },
                )
        return {"id": decision_id, **values, "conditions": conditions}

    def add_note(self, customer_id: str, author: str, text: str) -> dict[str, Any]:
        body = _text(text, "text")
        if not body:
            raise RecordError("text: a note must say something")
        values = {
            "customer_id": _id(customer_id),
            "written_at": self.clock(),
            "author": _author(author),
            "text": body,
        }
        with self._transaction() as connection:
            note_id = connection.execute(insert(notes).returning(notes.c.id), values).scalar_one()
        return {"id": note_id, **values}

    # --- reads ----------------------------------------------------------------------------------
    def customer(self, customer_id: str, limit: int = 200) -> CustomerRecord:
        """The customer's decisions, limit history and notes, newest first (at most `limit`
        of each)."""
        _id(customer_id)
        with self._read() as connection:

            def rows(table, when):
                query = (
                    select(table)
                    .where(table.c.customer_id == customer_id)
                    .order_by(desc(when), desc(table.c.id))
                    .limit(limit)
                )
                return [_row(r) for r in connection.execute(query).mappings()]

            return CustomerRecord(
                decisions=rows(decisions, decisions.c.decided_at),
                limits=rows(limits, limits.c.set_at),
                notes=rows(notes, notes.c.written_at),
            )

    def all_decisions(self) -> list[dict[str, Any]]:
        """Every decision, oldest first (the export and the overrides report)."""
        with self._read() as connection:
            query = select(decisions).order_by(decisions.c.decided_at, decisions.c.id)
            return [_row(r) for r in connection.execute(query).mappings()]

    def counts(self) -> dict[str, int]:
        """Decisions and overrides on record."""
        with self._read() as connection:
            total, overrides = connection.execute(
                select(func.count(), func.coalesce(func.sum(decisions.c.override.cast(Integer)), 0))
            ).one()
        return {"decisions": int(total), "overrides": int(overrides)}

    # --- plumbing -------------------------------------------------------------------------------
    @staticmethod
    def _latest_limit(connection, customer_id: str) -> float | None:
        query = (
            select(limits.c.credit_limit)
            .where(limits.c.customer_id == customer_id)
            .order_by(desc(limits.c.set_at), desc(limits.c.id))
            .limit(1)
        )
        return connection.execute(query).scalar_one_or_none()

    def _transaction(self):
        return _Guarded(self.engine.begin)

    def _read(self):
        return _Guarded(self.engine.connect)


class _Guarded:
    """A connection context whose database failures become RecordError without the driver's
    message (it may quote the values written)."""

    def __init__(self, opener: Callable) -> None:
        self.opener = opener

    def __enter__(self):
        try:
            self.context = self.opener()
            return self.context.__enter__()
        except SQLAlchemyError as error:
            failed = type(error).__name__
            raise DatabaseUnavailableError(f"database unavailable ({failed})") from None

    def __exit__(self, kind, error, trace) -> bool:
        try:
            self.context.__exit__(kind, error, trace)
        except SQLAlchemyError as failure:
            raise DatabaseUnavailableError(
                f"database write failed ({type(failure).__name__})"
            ) from None
        if isinstance(error, SQLAlchemyError):
            log.error("credit desk database error: %s", type(error).__name__)
            raise DatabaseUnavailableError(f"database error ({type(error).__name__})") from None
        return False


def _alembic_config(connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("payrisk.records") / "migrations")
    )
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest revision (from empty, or from an older payrisk's)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config(None))
    known = {script.revision for script in scripts.walk_revisions()}
    try:
        found = current_revision(engine)
    except SQLAlchemyError as error:
        raise SchemaVersionError(
            f"credit desk database unreachable ({type(error).__name__}): check PAYRISK_DATABASE_URL"
        ) from None
    if found is not None and found not in known:
        raise SchemaVersionError(
            f"the credit desk database is at schema revision {found!r}, unknown to this version "
            f"of payrisk (latest {head_revision()!r}): it was written by a newer payrisk"
        )
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "head")
