"""Accounts-receivable arithmetic: open invoices, days past due, aged balance, DSO.

"As of t" means at the start of day t: everything dated before t is known, nothing dated t or later.
The same convention holds in the features, the labels and the scorer.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from payrisk.data.loading import Dataset

AGED_BUCKETS: tuple[str, ...] = ("not_due", "1-30", "31-60", "61-90", "over_90")
AGED_BUCKET_EDGES: tuple[int, ...] = (0, 30, 60, 90)  # upper bounds (days past due) of buckets 1..4


def as_timestamp(value: date | str | pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def default_as_of(dataset: Dataset) -> pd.Timestamp:
    """The day after the latest event in the data: everything in the files counts as known."""
    invoices = dataset.invoices
    candidates = [invoices["issue_date"].max(), invoices["paid_date"].max()]
    candidates.append(invoices["written_off_date"].max())
    if not dataset.payments.empty:
        candidates.append(dataset.payments["payment_date"].max())
    if not dataset.reminders.empty:
        candidates.append(dataset.reminders["sent_date"].max())
    latest = max(c for c in candidates if pd.notna(c))
    return latest + pd.Timedelta(days=1)


def settled_date(invoices: pd.DataFrame) -> pd.Series:
    """Day an invoice left the books: fully paid or written off, whichever came first."""
    return invoices[["paid_date", "written_off_date"]].min(axis=1)


def open_mask(invoices: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Invoices issued before `as_of` and not settled before it."""
    settled = settled_date(invoices)
    return (invoices["issue_date"] < as_of) & ~(settled < as_of)


def days_past_due(due_date: pd.Series, as_of: pd.Timestamp | pd.Series) -> pd.Series:
    """Days since the due date at the start of `as_of` (negative: days left before it is due)."""
    return (as_of - due_date).dt.days


def aged_bucket(days_overdue: pd.Series | np.ndarray) -> pd.Categorical:
    days = np.asarray(days_overdue, dtype="float64")
    codes = np.searchsorted(np.asarray(AGED_BUCKET_EDGES, dtype="float64"), days, side="left")
    return pd.Categorical.from_codes(codes, categories=list(AGED_BUCKETS), ordered=True)


def open_invoices(dataset: Dataset, as_of: pd.Timestamp) -> pd.DataFrame:
    """Invoices open at `as_of` with their open amount (after partial payments) and age."""
    invoices = dataset.invoices
    frame = invoices.loc[open_mask(invoices, as_of)].copy()
    paid_so_far = pd.Series(0.0, index=frame.index)
    if not dataset.payments.empty:
        known = dataset.payments.loc[dataset.payments["payment_date"] < as_of]
        per_invoice = known.groupby("invoice_id", sort=False)["amount"].sum()
        paid_so_far = frame["invoice_id"].map(per_invoice).fillna(0.0).astype("float64")
    frame["open_amount"] = (frame["amount"] - paid_so_far).clip(lower=0.0).round(2)
    frame["disputed"] = disputed_at(frame, as_of)
    frame["days_past_due"] = days_past_due(frame["due_date"], as_of)
    frame["aged_bucket"] = aged_bucket(frame["days_past_due"])
    return frame


def disputed_at(invoices: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Whether each invoice is in dispute at the start of `as_of`: a dated dispute from the day
    it was raised until the day it was resolved; an undated `disputed` flag (no dispute_date)
    is taken as the current state."""
    flag = invoices["disputed"].fillna(False).astype("bool")
    if "dispute_date" not in invoices:
        return flag
    raised = invoices["dispute_date"]
    resolved = invoices.get("dispute_resolved_date", pd.Series(pd.NaT, index=invoices.index))
    dated_open = (raised < as_of) & ~(resolved < as_of)
    return (flag & raised.isna()) | dated_open


def aged_balance(open_frame: pd.DataFrame) -> pd.DataFrame:
    """Open amount and invoice count per aged bucket (balance âgée)."""
    grouped = open_frame.groupby("aged_bucket", observed=False)
    table = pd.DataFrame(
        {"open_amount": grouped["open_amount"].sum().round(2), "invoices": grouped.size()}
    )
    table.index.name = "bucket"
    total = table["open_amount"].sum()
    table["share"] = (table["open_amount"] / total).fillna(0.0) if total else 0.0
    return table


def recovered_share_of_defaults(
    dataset: Dataset, as_of: pd.Timestamp, default_after_days: int = 90
) -> float | None:
    """Of the amount of invoices that defaulted (written off, or still unpaid `default_after_days`
    after the due date) and were due long enough ago to know it, the share paid before `as_of`:
    the recovery rate that turns an amount at risk into an expected loss. None without defaults.
    """
    invoices = dataset.invoices
    limit = invoices["due_date"] + pd.Timedelta(days=default_after_days)
    known = (invoices["issue_date"] < as_of) & (limit < as_of)
    paid = invoices["paid_date"].where(invoices["paid_date"] < as_of)
    written_off = invoices["written_off_date"] < as_of
    defaulted = known & (written_off | ~(paid <= limit))
    if not defaulted.any():
        return None
    amount = invoices.loc[defaulted, "amount"]
    recovered = amount.where(paid[defaulted].notna(), 0.0)
    if not dataset.payments.empty:
        in_time = dataset.payments.loc[dataset.payments["payment_date"] < as_of]
        part = in_time.groupby("invoice_id", sort=False)["amount"].sum()
        partial = invoices.loc[defaulted, "invoice_id"].map(part).fillna(0.0)
        recovered = recovered.where(paid[defaulted].notna(), partial.clip(upper=amount))
    return float(recovered.sum() / amount.sum()) if amount.sum() > 0 else None


def dso(dataset: Dataset, as_of: pd.Timestamp, period_days: int = 90) -> float:
    """Days sales outstanding: receivables / credit sales of the last period x days in it."""
    invoices = dataset.invoices
    receivables = open_invoices(dataset, as_of)["open_amount"].sum()
    in_period = (invoices["issue_date"] < as_of) & (
        invoices["issue_date"] >= as_of - pd.Timedelta(days=period_days)
    )
    sales = invoices.loc[in_period, "amount"].sum()
    return float(receivables / sales * period_days) if sales > 0 else float("nan")


def portfolio_summary(dataset: Dataset, as_of: pd.Timestamp) -> dict:
    """The figures a credit manager reads first, as of a day."""
    invoices = dataset.invoices
    known = invoices.loc[invoices["issue_date"] < as_of]
    paid = known.loc[known["paid_date"] < as_of]
    paid_days_late = (paid["paid_date"] - paid["due_date"]).dt.days
    open_frame = open_invoices(dataset, as_of)
    written_off = known["written_off_date"] < as_of
    long_overdue = open_frame["days_past_due"] > 90
    return {
        "as_of": as_of.date().isoformat(),
        "customers": int(known["customer_id"].nunique()),
        "invoices": len(known),
        "paid_invoices": len(paid),
        "open_invoices": len(open_frame),
        "open_amount": round(float(open_frame["open_amount"].sum()), 2),
        "overdue_amount": round(
            float(open_frame.loc[open_frame["days_past_due"] > 0, "open_amount"].sum()), 2
        ),
        "late_share_of_paid": float((paid_days_late > 0).mean()) if len(paid) else float("nan"),
        "mean_days_late_of_paid": float(paid_days_late.mean()) if len(paid) else float("nan"),
        "default_share": float((written_off.sum() + long_overdue.sum()) / max(len(known), 1)),
        "dispute_share": float(known["disputed"].mean()) if len(known) else float("nan"),
        "dso_days_90": dso(dataset, as_of),
        "aged_balance": aged_balance(open_frame),
    }
