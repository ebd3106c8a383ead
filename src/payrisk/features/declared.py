"""Your own features: extra columns of the customers or invoices table, declared in train.yaml.

`features.declared` names a column, its table, whether it is numeric or categorical, and
optionally a date column saying when the value took effect. The values are read here, once per
history, into arrays aligned with the history's customers (attributes rows) or invoices; the
feature itself is computed in `payrisk.features.definitions`, like every other feature, so
training, batch scoring, the service and the reasons all see it the same way.

Point in time: a value with a `known_from` date is known only to queries after that day (and is
dropped from a history built before it); before it the feature is unknown, never the current
value read back. Customer values without `known_from` are known always (like the customer's
country); invoice values without it only with `known_at: issue` (set when the invoice is issued),
from the invoice's issue date: an undated invoice column is refused by the config, and a
contract column (the dispute flag, the paid date) here, so nothing known later is read back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from payrisk.core.config import DeclaredFeature
from payrisk.core.days import day_number, to_days
from payrisk.data.contract import CUSTOMERS, DATE_FORMAT, INVOICES
from payrisk.data.parsing import as_text, parse_dates, parse_numbers

UNKNOWN = "unknown"  # a categorical value that is missing or not yet known
KNOWN_ALWAYS = -(1 << 40)  # known_day of values without a date (before any query)
NOT_KNOWN = 1 << 40  # known_day of values whose date is missing or after the history's as-of


class DeclaredFeatureError(ValueError):
    """A declared feature's column is missing from the data or holds values of the wrong kind."""


@dataclass(frozen=True)
class DeclaredValues:
    """One declared feature's values, aligned with the history's customers or invoices.

    `values` are float64 (numeric) or text (categorical, UNKNOWN where missing); a query at day t
    sees a value only if `known_day < t`.
    """

    table: str  # "customers" or "invoices"
    kind: str  # "numeric" or "categorical"
    values: np.ndarray
    known_day: np.ndarray  # int64

    @property
    def categorical(self) -> bool:
        return self.kind == "categorical"

    def missing(self, n: int) -> np.ndarray:
        """The value of a query that knows none."""
        if self.categorical:
            return np.full(n, UNKNOWN, dtype=object)
        return np.full(n, np.nan)

    def at(self, rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Value of each query (its row, -1 for none) at its day t."""
        if not len(self.values):
            return self.missing(len(rows))
        safe = np.maximum(rows, 0)
        known = (rows >= 0) & (self.known_day[safe] < t)
        return np.where(known, self.values[safe], self.missing(len(rows)))


def _first_bad(frame: pd.DataFrame, bad: np.ndarray, table: str) -> str:
    key = "invoice_id" if table == "invoices" else "customer_id"
    return f"first for {key} {frame[key].iloc[int(np.flatnonzero(bad)[0])]}"


def parse_declared(
    spec: DeclaredFeature, values: pd.Series, where: str, frame: pd.DataFrame
) -> np.ndarray:
    """A declared column's cells as the feature's values; unparseable numbers are refused."""
    if spec.kind == "categorical":
        text = as_text(values.astype("str").where(values.notna()))
        return text.fillna(UNKNOWN).to_numpy(dtype=object)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    text = as_text(values.astype("str").where(values.notna()))
    numbers = parse_numbers(text)
    bad = (text.notna() & numbers.isna()).to_numpy()
    if bad.any():
        raise DeclaredFeatureError(
            f"{where}: {int(bad.sum())} value(s) of {spec.table}.{spec.column} are not numbers "
            f"(numeric features take numbers with a '.' decimal point; "
            f"{_first_bad(frame, bad, spec.table)})"
        )
    return numbers.to_numpy(dtype="float64")


def _known_from(spec: DeclaredFeature, frame: pd.DataFrame, where: str) -> np.ndarray:
    """Day each value took effect: -1 day for 'before t' lookups is applied by the caller."""
    values = frame[spec.known_from]
    if pd.api.types.is_datetime64_any_dtype(values):
        dates = values.dt.normalize()
    else:
        text = as_text(values.astype("str").where(values.notna()))
        dates = parse_dates(text, DATE_FORMAT)
        bad = (text.notna() & dates.isna()).to_numpy()
        if bad.any():
            raise DeclaredFeatureError(
                f"{where}.known_from: {int(bad.sum())} value(s) of "
                f"{spec.table}.{spec.known_from} are not dates YYYY-MM-DD "
                f"({_first_bad(frame, bad, spec.table)})"
            )
    days = to_days(dates)
    return np.where(dates.notna().to_numpy(), days, NOT_KNOWN).astype("int64")


def declared_values(
    specs: tuple[DeclaredFeature, ...],
    invoices: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp,
) -> dict[str, DeclaredValues]:
    """Every declared feature's values as known at `as_of`, aligned with the frames' rows.

    `invoices` and `customers` are the history's (invoices issued before `as_of`, one row per
    customer). Values dated on or after `as_of` are not known yet.
    """
    before = day_number(as_of)
    out: dict[str, DeclaredValues] = {}
    for i, spec in enumerate(specs):
        where = f"features.declared[{i}]"
        frame = invoices if spec.table == "invoices" else customers
        contract = INVOICES if spec.table == "invoices" else CUSTOMERS
        if spec.column in contract.column_names:
            raise DeclaredFeatureError(
                f"{where}: {spec.table}.{spec.column} is a contract column: the built-in "
                "features read it point in time (an undated dispute flag never, it would tell "
                "the future); declare only extra columns"
            )
        for column in (spec.column, spec.known_from):
            if column is not None and column not in frame.columns:
                raise DeclaredFeatureError(
                    f"{where}: the {spec.table} table has no column {column!r} "
                    "(declared in configs/train.yaml, features.declared)"
                )
        values = parse_declared(spec, frame[spec.column], where, frame)
        if spec.known_from is not None:
            # The value is known the day after it took effect ("as of" = start of day).
            known = _known_from(spec, frame, where)
            known = np.where(known < before, known, NOT_KNOWN)
        elif spec.table == "invoices":
            known = to_days(frame["issue_date"]) - 1
        else:
            known = np.full(len(frame), KNOWN_ALWAYS, dtype="int64")
        out[spec.feature_name] = DeclaredValues(spec.table, spec.kind, values, known)
    return out
