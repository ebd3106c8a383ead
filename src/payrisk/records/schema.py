"""The record's tables, declared once: the migrations create them, the store reads and writes them.

Amounts are stored as NUMERIC with two decimals (cents exact in SQLite and PostgreSQL alike), times
as timezone-aware UTC. Columns hold ids, amounts, codes and the words a credit manager typed; never
an API key (the author is a key's name or id, see `payrisk.serving.auth.key_id`).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

from payrisk.data.contract import MAX_ID_LENGTH

MAX_ID = MAX_ID_LENGTH  # customer ids, as the data contract takes them
MAX_AUTHOR = 64
MAX_TEXT = 2000  # a note or an override reason
MAX_CONDITIONS = 10
MAX_CONDITION = 200
Money = Numeric(16, 2, asdecimal=False)

metadata = MetaData()

decisions = Table(
    "credit_decisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", String(MAX_ID), nullable=False, index=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("author", String(MAX_AUTHOR), nullable=False),
    # what was asked and what the model recommended (recomputed when the decision is recorded)
    Column("requested_amount", Money, nullable=False),
    Column("terms_days", Integer, nullable=False),
    Column("recommendation", String(32), nullable=False),
    Column("late_probability", Float, nullable=False),
    Column("default_probability", Float, nullable=False),
    Column("exposure", Money, nullable=False),
    Column("max_approvable_amount", Money, nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("snapshot_as_of", Date, nullable=False),
    Column("snapshot_id", String(64), nullable=True),
    # what the credit manager decided
    Column("decision", String(32), nullable=False),
    Column("granted_amount", Money, nullable=True),
    Column("granted_terms_days", Integer, nullable=True),
    Column("credit_limit", Money, nullable=True),
    Column("conditions", Text, nullable=False),  # one condition per line
    Column("override", Boolean, nullable=False),
    Column("override_reason", Text, nullable=True),
)

limits = Table(
    "credit_limits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", String(MAX_ID), nullable=False, index=True),
    Column("set_at", DateTime(timezone=True), nullable=False),
    Column("author", String(MAX_AUTHOR), nullable=False),
    Column("credit_limit", Money, nullable=False),
    Column("previous_limit", Money, nullable=True),
    Column("decision_id", Integer, ForeignKey("credit_decisions.id"), nullable=True),
)

notes = Table(
    "customer_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", String(MAX_ID), nullable=False, index=True),
    Column("written_at", DateTime(timezone=True), nullable=False),
    Column("author", String(MAX_AUTHOR), nullable=False),
    Column("text", Text, nullable=False),
)
