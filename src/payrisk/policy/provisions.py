"""Provisions for doubtful receivables at the snapshot's closing date: one figure per invoice,
summed per customer and for the portfolio from the same rounded figures, so that the page, the
API and the CSV agree to the cent.

An open invoice is doubtful from `doubtful_after_days` past due (the common operational cut,
90 days). Its provision is its open amount net of VAT (French tax practice provisions the amount
excluding VAT; `vat_rate: 0` when the ledger's amounts are net) times the larger of two rates:
the provision matrix's rate for its age bucket (configured, e.g. from the history's loss rates)
and the model's expected loss rate, P(default) x (1 - recovery rate). The larger, because a
matrix alone ignores what the model knows of a customer, and the model alone can read a very old
invoice as merely slow.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from payrisk.core.config import StrictModel

COLUMNS = (
    "invoice_id",
    "customer_id",
    "days_past_due",
    "bucket",
    "open_amount",
    "net_amount",
    "matrix_rate",
    "model_rate",
    "rate",
    "provision",
)


class ProvisionRules(StrictModel):
    """Which invoices are doubtful and how much of each to provision."""

    doubtful_after_days: int = Field(90, ge=1, le=3650, description="Days past due: doubtful.")
    vat_rate: float = Field(
        0.2, ge=0, lt=1, description="VAT in the ledger's amounts (provisions are net of it)."
    )
    matrix: dict[int, float] = Field(
        default_factory=lambda: {90: 0.25, 180: 0.5, 365: 1.0},
        description="Provision rate from each number of days past due on (the age buckets).",
    )

    @model_validator(mode="after")
    def _matrix(self) -> ProvisionRules:
        if not self.matrix:
            raise ValueError("provisions.matrix: at least one bucket")
        days = sorted(self.matrix)
        if days[0] > self.doubtful_after_days:
            raise ValueError(
                f"provisions.matrix: its first bucket ({days[0]} days) must start at or before "
                f"doubtful_after_days ({self.doubtful_after_days})"
            )
        rates = [self.matrix[d] for d in days]
        if any(not 0 <= r <= 1 for r in rates):
            raise ValueError("provisions.matrix: rates between 0 and 1")
        if any(b < a for a, b in pairwise(rates)):
            raise ValueError("provisions.matrix: rates must not fall as invoices age")
        return self

    def bucket_labels(self) -> list[str]:
        days = sorted(self.matrix)
        return [
            f"{a}-{b - 1}" if b is not None else f"{a}+"
            for a, b in zip(days, [*days[1:], None], strict=True)
        ]


def invoice_provisions(
    invoices: pd.DataFrame, rules: ProvisionRules, recovery_rate: float
) -> pd.DataFrame:
    """The doubtful invoices of a portfolio bundle's `invoices` (open_amount in the base currency,
    default_probability, due_date, snapshot_date) with their provision, largest first."""
    days_past_due = (invoices["snapshot_date"] - invoices["due_date"]).dt.days
    doubtful = invoices.loc[days_past_due >= rules.doubtful_after_days].copy()
    dpd = days_past_due.loc[doubtful.index].to_numpy("int64")
    starts = np.array(sorted(rules.matrix), dtype="int64")
    position = np.searchsorted(starts, dpd, side="right") - 1
    matrix_rate = np.array([rules.matrix[int(d)] for d in starts])[np.maximum(position, 0)]
    matrix_rate = np.where(position >= 0, matrix_rate, 0.0)
    model_rate = doubtful["default_probability"].to_numpy("float64") * (1 - recovery_rate)
    net = doubtful["open_amount"].to_numpy("float64") / (1 + rules.vat_rate)
    rate = np.maximum(matrix_rate, model_rate)
    labels = np.array(rules.bucket_labels(), dtype=object)
    out = pd.DataFrame(
        {
            "invoice_id": doubtful["invoice_id"].astype(str).to_numpy(),
            "customer_id": doubtful["customer_id"].astype(str).to_numpy(),
            "days_past_due": dpd,
            "bucket": labels[np.maximum(position, 0)],
            "open_amount": doubtful["open_amount"].round(2).to_numpy(),
            "net_amount": np.round(net, 2),
            "matrix_rate": matrix_rate,
            "model_rate": np.round(model_rate, 6),
            "rate": np.round(rate, 6),
            "provision": np.round(net * rate, 2),
        },
        columns=list(COLUMNS),
    )
    return out.sort_values(["provision", "invoice_id"], ascending=[False, True]).reset_index(
        drop=True
    )


def by_customer(provisions: pd.DataFrame) -> pd.DataFrame:
    """Provision per customer: the sum of its invoices' rounded provisions."""
    grouped = provisions.groupby("customer_id", sort=False).agg(
        invoices=("invoice_id", "size"),
        open_amount=("open_amount", "sum"),
        provision=("provision", "sum"),
    )
    grouped[["open_amount", "provision"]] = grouped[["open_amount", "provision"]].round(2)
    return grouped.sort_values("provision", ascending=False).reset_index()


def by_bucket(provisions: pd.DataFrame, rules: ProvisionRules) -> pd.DataFrame:
    """Provision per age bucket, every bucket listed (the matrix as a table)."""
    labels = rules.bucket_labels()
    grouped = provisions.groupby("bucket").agg(
        invoices=("invoice_id", "size"),
        net_amount=("net_amount", "sum"),
        provision=("provision", "sum"),
    )
    grouped = grouped.reindex(labels).fillna(0)
    grouped["invoices"] = grouped["invoices"].astype("int64")
    grouped["matrix_rate"] = [rules.matrix[d] for d in sorted(rules.matrix)]
    grouped[["net_amount", "provision"]] = grouped[["net_amount", "provision"]].round(2)
    return grouped.reset_index(names="bucket")


def total(provisions: pd.DataFrame) -> float:
    return round(float(provisions["provision"].sum()), 2)


def recovery_of(kpis: dict) -> float:
    """The recovery rate the bundle's expected loss used (0 when it had none): the one rate the
    page, the API and the exports read."""
    rate = kpis.get("recovery_rate")
    return float(rate) if isinstance(rate, int | float) and 0 <= rate < 1 else 0.0
