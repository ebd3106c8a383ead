"""The monthly figures a CFO (DAF) reports: collection effectiveness index and DSO, both standard
and countback, month by month.

Receivables at a day are the open amounts at the start of that day (`receivables.open_invoices`:
after partial payments; written-off invoices have left the books). For the calendar month
[s, e):

- CEI = (opening receivables + credit sales - closing receivables) /
        (opening receivables + credit sales - closing current receivables) x 100,
  where current receivables are those not yet due at e. Write-offs lower the closing receivables
  as cash does (the usual convention): a month of write-offs reads as collected.
- standard DSO at e: receivables / credit sales of the 90 days before e x 90 (the portfolio's
  `dso_days_90`, at each month end);
- countback DSO at e: the receivables are matched against the latest months' sales, month by
  month backwards; each month fully absorbed counts all its days, the last one its share.
"""

from __future__ import annotations

import math
from itertools import pairwise

import pandas as pd

from payrisk.data.loading import Dataset
from payrisk.data.receivables import open_invoices

DSO_PERIOD_DAYS = 90  # as the portfolio's dso_days_90 (`receivables.dso`)
COUNTBACK_MONTHS = 24  # receivables older than two years of sales: the countback stops there
COLUMNS = (
    "month",
    "opening_receivables",
    "credit_sales",
    "closing_receivables",
    "closing_current",
    "cei",
    "dso_days_90",
    "countback_dso_days",
)


def _sales(dataset: Dataset, start: pd.Timestamp, end: pd.Timestamp) -> float:
    issued = dataset.invoices["issue_date"]
    return float(dataset.invoices.loc[(issued >= start) & (issued < end), "amount"].sum())


def countback_dso(dataset: Dataset, as_of: pd.Timestamp, receivables: float | None = None) -> float:
    """Days of the latest months' sales, counted back from `as_of`, that add up to the
    receivables at `as_of` (given, or computed; NaN when two years of sales do not cover
    them)."""
    remaining = (
        float(open_invoices(dataset, as_of)["open_amount"].sum())
        if receivables is None
        else receivables
    )
    days, end = 0.0, as_of
    for _ in range(COUNTBACK_MONTHS):
        if remaining <= 0.005:
            return days
        start = end - pd.DateOffset(months=1)
        sales = _sales(dataset, start, end)
        length = (end - start).days
        if sales >= remaining:
            return days + remaining / sales * length
        remaining -= sales
        days += length
        end = start
    return days if remaining <= 0.005 else float("nan")


def monthly_kpis(dataset: Dataset, as_of: pd.Timestamp, months: int = 12) -> pd.DataFrame:
    """The last `months` complete calendar months before `as_of`, one row each, oldest first."""
    last_end = as_of.normalize().replace(day=1)
    first = dataset.invoices["issue_date"].min()
    ends = [last_end - pd.DateOffset(months=k) for k in range(months, -1, -1)]
    ends = [end for end in ends if end >= first]  # months that began before the data: none
    balances = {}
    for end in ends:
        frame = open_invoices(dataset, end)
        balances[end] = (
            float(frame["open_amount"].sum()),
            float(frame.loc[frame["days_past_due"] <= 0, "open_amount"].sum()),
        )
    rows = []
    for start, end in pairwise(ends):
        opening = balances[start][0]
        closing, current = balances[end]
        sales = _sales(dataset, start, end)
        denominator = opening + sales - current
        cei = (opening + sales - closing) / denominator * 100 if denominator > 0.005 else None
        recent = _sales(dataset, end - pd.Timedelta(days=DSO_PERIOD_DAYS), end)
        standard = closing / recent * DSO_PERIOD_DAYS if recent > 0 else float("nan")
        countback = countback_dso(dataset, end, closing)
        rows.append(
            {
                "month": start.strftime("%Y-%m"),
                "opening_receivables": round(opening, 2),
                "credit_sales": round(sales, 2),
                "closing_receivables": round(closing, 2),
                "closing_current": round(current, 2),
                "cei": None if cei is None else round(cei, 2),
                "dso_days_90": None if math.isnan(standard) else round(standard, 1),
                "countback_dso_days": None if math.isnan(countback) else round(countback, 1),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))
