"""Late-payment penalties, computed to the cent (France: Code de commerce L441-10).

Interest runs on the open amount (what is still unpaid after partial payments) from the day after
the due date up to and including the day of the action, at an annual rate; each day counts 1/365
of the rate, or 1/366 in a leap year (the exact-day convention). The fixed recovery indemnity is
owed once per invoice as soon as it is late. Vectorised: a batch of invoices in one pass.
"""

from __future__ import annotations

import numpy as np

from payrisk.policy.config import PenaltyRules

_FIRST_YEAR, _LAST_YEAR = 1900, 2300
_YEAR_STARTS = (
    np.arange(f"{_FIRST_YEAR}", f"{_LAST_YEAR + 1}", dtype="datetime64[Y]")
    .astype("datetime64[D]")
    .astype("int64")
)
_YEARS = np.arange(_FIRST_YEAR, _LAST_YEAR + 1)
_LEAP = (_YEARS % 4 == 0) & ((_YEARS % 100 != 0) | (_YEARS % 400 == 0))
# Days of leap years before the start of each year (running count), to count a span's leap days.
_LEAP_DAYS_BEFORE = np.concatenate([[0], np.cumsum(np.where(_LEAP, 366, 0))[:-1]])


def _leap_days_before(day: np.ndarray) -> np.ndarray:
    """How many days before `day` (a day number) fall in leap years, since 1900-01-01."""
    year = np.clip(np.searchsorted(_YEAR_STARTS, day, side="right") - 1, 0, len(_YEARS) - 1)
    into_year = day - _YEAR_STARTS[year]
    return _LEAP_DAYS_BEFORE[year] + np.where(_LEAP[year], into_year, 0)


def year_fractions(due_day: np.ndarray, on_day: np.ndarray) -> np.ndarray:
    """Sum over the days after `due_day` up to `on_day` of 1/365 (1/366 in a leap year)."""
    due = np.asarray(due_day, dtype="int64")
    on = np.maximum(np.asarray(on_day, dtype="int64"), due)
    days = on - due
    # Days due+1..on are those before on+1 and not before due+1.
    leap = _leap_days_before(on + 1) - _leap_days_before(due + 1)
    return leap / 366.0 + (days - leap) / 365.0


def round_cents(values: np.ndarray) -> np.ndarray:
    """Round half away from zero to the cent (how an invoice rounds, unlike numpy's half-even);
    the tiny bias absorbs binary noise such as 12.345 stored as 12.3449999..."""
    values = np.asarray(values, dtype="float64")
    return np.sign(values) * np.floor(np.abs(values) * 100.0 + 0.5 + 1e-7) / 100.0 + 0.0


def penalty_arrays(
    open_amount: np.ndarray,
    due_day: np.ndarray,
    on_day: np.ndarray,
    rules: PenaltyRules,
    indemnity: np.ndarray | float | None = None,
) -> dict[str, np.ndarray]:
    """Interest and indemnity owed on `on_day` per invoice, each rounded to the cent.

    `indemnity` is the fixed indemnity in each invoice's currency (default: the configured amount,
    for invoices in its currency); nothing is owed on or before the due date.
    """
    open_amount = np.asarray(open_amount, dtype="float64")
    due = np.asarray(due_day, dtype="int64")
    on = np.asarray(on_day, dtype="int64")
    late = on > due
    interest = round_cents(open_amount * rules.annual_rate * year_fractions(due, on))
    fixed = rules.indemnity if indemnity is None else indemnity
    fixed = np.broadcast_to(np.asarray(fixed, dtype="float64"), open_amount.shape)
    indemnity_owed = np.where(late, round_cents(fixed), 0.0)
    return {
        "penalty_days": np.where(late, on - due, 0).astype("int64"),
        "penalty_interest": np.where(late, interest, 0.0),
        "penalty_indemnity": indemnity_owed,
        "penalty_total": round_cents(np.where(late, interest, 0.0) + indemnity_owed),
    }
