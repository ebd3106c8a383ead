"""Promises to pay as event streams: which were kept, known on the promised date.

A promise is kept when the payments from the day it was made up to the promised date cover the
promised amount (all that was open when it was made, if no amount is given), or the invoice is
settled by then. Its outcome is an event dated on the promised date, so at t it is known only if
the promised date is before t (point in time, like every other stream). Two streams: each
customer's running counts (resolved, kept), and the portfolio's (every customer as entity 0),
which the calibrated P(promise kept) shrinks a thin record towards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from payrisk.core.days import to_days
from payrisk.features.streams import Lookup, Stream, build_stream, positions

CUSTOMER_PROMISES = "customer_promises"
PORTFOLIO_PROMISES = "portfolio_promises"
DEFAULT_KEEPING_RATE = 0.6  # a portfolio without any resolved promise yet


def promise_outcomes(
    promises: pd.DataFrame, invoices: pd.DataFrame, payments: pd.DataFrame
) -> pd.DataFrame:
    """Each promise with its customer, promised day and whether it was kept (vectorised: one
    merge of promises with their invoices' payments, a handful per invoice)."""
    if promises.empty:
        return pd.DataFrame(
            {
                "invoice_id": [],
                "customer_id": [],
                "promised_day": np.array([], "int64"),
                "amount": np.array([], "float64"),
                "kept": np.array([], bool),
            }
        )
    frame = promises.reset_index(drop=True).copy()
    frame["promise_row"] = np.arange(len(frame))
    info = invoices.set_index("invoice_id")[["customer_id", "amount", "paid_date"]]
    frame = frame.join(info, on="invoice_id", rsuffix="_invoice")
    made, promised = to_days(frame["made_date"]), to_days(frame["promised_date"])
    if len(payments):
        joined = frame[["promise_row", "invoice_id"]].merge(
            payments[["invoice_id", "payment_date", "amount"]], on="invoice_id"
        )
        day = to_days(joined["payment_date"])
        row = joined["promise_row"].to_numpy()
        amount = joined["amount"].to_numpy(dtype="float64")
        before = day < made[row]
        within = ~before & (day <= promised[row])
        paid_before = np.bincount(row[before], weights=amount[before], minlength=len(frame))
        paid_within = np.bincount(row[within], weights=amount[within], minlength=len(frame))
    else:
        paid_before = paid_within = np.zeros(len(frame))
    invoice_amount = frame["amount_invoice"].to_numpy(dtype="float64")
    promised_amount = frame["amount"].to_numpy(dtype="float64", na_value=np.nan)
    owed = np.where(np.isnan(promised_amount), invoice_amount - paid_before, promised_amount)
    settled = to_days(frame["paid_date"]) <= promised
    kept = settled | (paid_within >= owed - 0.005)
    return pd.DataFrame(
        {
            "invoice_id": frame["invoice_id"].astype("str").to_numpy(object),
            "customer_id": frame["customer_id"].astype("str").to_numpy(object),
            "promised_day": promised,
            "amount": promised_amount,
            "kept": kept,
        }
    )


def promise_streams(outcomes: pd.DataFrame, customer_ids: pd.Index) -> dict[str, Stream]:
    """The customers' and the portfolio's running promise counts, dated on promised dates."""
    codes = positions(customer_ids, outcomes["customer_id"].to_numpy(object))
    known = codes >= 0
    day = outcomes["promised_day"].to_numpy("int64")[known]
    kept = outcomes["kept"].to_numpy(bool)[known].astype("float64")
    ones = np.ones(len(day))
    sums = {"resolved": ones, "kept": kept}
    return {
        CUSTOMER_PROMISES: build_stream(codes[known], day, sums),
        PORTFOLIO_PROMISES: build_stream(np.zeros(len(day), dtype="int64"), day, sums),
    }


@dataclass(frozen=True)
class PromiseRecord:
    """Per query: the customer's promises resolved before t and kept; the portfolio's rate."""

    resolved: np.ndarray
    kept: np.ndarray
    portfolio_rate: float


def promise_record(history, customer_ids: np.ndarray, today: int) -> PromiseRecord:
    """The promise record of each customer at `today` (zeros for a history without promises)."""
    n = len(customer_ids)
    streams = history.streams
    if CUSTOMER_PROMISES not in streams:
        return PromiseRecord(np.zeros(n), np.zeros(n), DEFAULT_KEEPING_RATE)
    codes = positions(history.customer_ids, np.asarray(customer_ids, dtype=object))
    own = Lookup(streams[CUSTOMER_PROMISES], codes, np.full(n, today, dtype="int64"))
    resolved, kept = own("resolved"), own("kept")
    whole = Lookup(
        streams[PORTFOLIO_PROMISES], np.zeros(1, dtype="int64"), np.array([today], dtype="int64")
    )
    total, total_kept = whole("resolved")[0], whole("kept")[0]
    rate = total_kept / total if total > 0 else DEFAULT_KEEPING_RATE
    return PromiseRecord(resolved, kept, float(rate))
