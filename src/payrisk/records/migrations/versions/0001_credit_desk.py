"""The credit desk: decisions, limit history, notes.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MONEY = sa.Numeric(16, 2, asdecimal=False)


def upgrade() -> None:
    op.create_table(
        "credit_decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("requested_amount", MONEY, nullable=False),
        sa.Column("terms_days", sa.Integer, nullable=False),
        sa.Column("recommendation", sa.String(32), nullable=False),
        sa.Column("late_probability", sa.Float, nullable=False),
        sa.Column("default_probability", sa.Float, nullable=False),
        sa.Column("exposure", MONEY, nullable=False),
        sa.Column("max_approvable_amount", MONEY, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("snapshot_as_of", sa.Date, nullable=False),
        sa.Column("snapshot_id", sa.String(64), nullable=True),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("granted_amount", MONEY, nullable=True),
        sa.Column("granted_terms_days", sa.Integer, nullable=True),
        sa.Column("credit_limit", MONEY, nullable=True),
        sa.Column("conditions", sa.Text, nullable=False),
        sa.Column("override", sa.Boolean, nullable=False),
        sa.Column("override_reason", sa.Text, nullable=True),
    )
    op.create_table(
        "credit_limits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("credit_limit", MONEY, nullable=False),
        sa.Column("previous_limit", MONEY, nullable=True),
        sa.Column("decision_id", sa.Integer, sa.ForeignKey("credit_decisions.id"), nullable=True),
    )
    op.create_table(
        "customer_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("customer_notes")
    op.drop_table("credit_limits")
    op.drop_table("credit_decisions")
