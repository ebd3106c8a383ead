"""Calendar days as int64 day numbers since 1970-01-01: the one date representation on hot paths.

Features, labels, the dunning rules, the generator and the service all count in day numbers: plain
integer arithmetic, no timezone, no pandas object per value. This module is the only place that
converts between them and dates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

NEVER = np.iinfo(np.int64).max // 4  # a day that never comes (unpaid, not written off); no overflow
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
DATE_DTYPE = "datetime64[ns]"


def to_days(dates: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    """Day numbers of dates (datetime64 values, Series or Index); missing dates become NEVER."""
    values = np.asarray(dates, dtype="datetime64[D]")
    days = values.astype("int64")
    days[np.isnat(values)] = NEVER
    return days


def day_number(value: date | str | pd.Timestamp | np.datetime64) -> int:
    """The day number of one date (the start of that day)."""
    return int(np.datetime64(pd.Timestamp(value).date(), "D").astype("int64"))


def ordinal_days(values: Iterable[date]) -> np.ndarray:
    """Day numbers of `datetime.date` objects (a request's fields), without numpy's date parsing."""
    return np.fromiter((v.toordinal() for v in values), dtype="int64") - EPOCH_ORDINAL


def to_dates(days: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """datetime64[ns] of day numbers; NaT where not `known` (default: where the day is NEVER)."""
    days = np.asarray(days, dtype="int64")
    if known is None:
        known = days < NEVER
    values = np.where(known, days, 0).astype("datetime64[D]").astype(DATE_DTYPE)
    values[~np.asarray(known, dtype=bool)] = np.datetime64("NaT")
    return values


def weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 ... Sunday = 6 (1970-01-01 was a Thursday)."""
    return (np.asarray(days, dtype="int64") + 3) % 7


def month_start(days: np.ndarray) -> np.ndarray:
    """datetime64[M] of each day number."""
    return np.asarray(days, dtype="int64").astype("datetime64[D]").astype("datetime64[M]")


def month_end(days: np.ndarray) -> np.ndarray:
    """Day number of the last day of each day's month."""
    return (month_start(days) + 1).astype("datetime64[D]").astype("int64") - 1


def next_business_day(days: np.ndarray) -> np.ndarray:
    """Saturday and Sunday move to Monday: money and mail move on weekdays (the generator's world,
    the learned policy's decision moments; planned actions also skip the policy's holidays)."""
    day = weekday(days)
    return np.asarray(days, dtype="int64") + np.where(day == 5, 2, np.where(day == 6, 1, 0))


def previous_business_day(days: np.ndarray) -> np.ndarray:
    """Saturday and Sunday move back to Friday."""
    day = weekday(days)
    return np.asarray(days, dtype="int64") - np.where(day == 5, 1, np.where(day == 6, 2, 0))
