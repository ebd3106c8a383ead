"""Small hand-made histories for tests: few invoices, every feature workable by hand."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from payrisk.data.contract import TABLES
from payrisk.data.loading import Dataset, empty_table, finalize
from payrisk.data.parsing import parse_table


def table(name: str, rows: list[dict]) -> pd.DataFrame:
    """A contract table in contract types from rows of text (as a CSV would give them)."""
    spec = TABLES[name]
    if not rows:
        return empty_table(spec)
    raw = pd.DataFrame(rows, dtype="str")
    return finalize(spec, parse_table(raw, spec, f"{name}.csv").frame)


def dataset(
    invoices: list[dict],
    payments: list[dict] | None = None,
    customers: list[dict] | None = None,
    reminders: list[dict] | None = None,
) -> Dataset:
    defaults = {"currency": "EUR", "amount": "100"}
    return Dataset(
        invoices=table("invoices", [{**defaults, **row} for row in invoices]),
        payments=table("payments", payments or []),
        customers=table("customers", customers or []),
        reminders=table("reminders", reminders or []),
    )


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def invoice_payload(frame: pd.DataFrame) -> list[dict]:
    """Open invoices of a frame as /v1/score's `invoices` (ids, dates, amounts, EUR)."""
    return [
        {
            "invoice_id": row.invoice_id,
            "customer_id": row.customer_id,
            "issue_date": row.issue_date.date().isoformat(),
            "due_date": row.due_date.date().isoformat(),
            "amount": float(row.amount),
            "currency": "EUR",
            "open_amount": float(row.open_amount),
            "disputed": bool(row.disputed),
        }
        for row in frame.itertuples()
    ]


def interest_by_hand(amount: str, rate: str, due: date, on: date) -> Decimal:
    """Late-payment interest summed day by day in decimals: each day after `due` up to `on`
    counts 1/365 of the rate, or 1/366 in a leap year; rounded half up to the cent."""
    total = Decimal(0)
    for number in range(due.toordinal() + 1, on.toordinal() + 1):
        year = date.fromordinal(number).year
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        total += Decimal(amount) * Decimal(rate) / Decimal(366 if leap else 365)
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
