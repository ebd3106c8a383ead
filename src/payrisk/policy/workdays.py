"""Working days: collectors do not call on Sundays, and a letter posted on 14 July waits a day.

Every planned dunning action is moved to the next working day of the calendar in
`configs/dunning.yaml` (`calendar`: which weekdays are worked, a country's public holidays
computed for any year, the company's own closing days). Vectorised with numpy's business-day
functions: one call for a whole portfolio.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIRST_YEAR, LAST_YEAR = 1990, 2100  # the dates the service and the data contract accept


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def french_public_holidays(year: int) -> list[date]:
    """The eleven jours fériés of metropolitan France (Code du travail, L3133-1)."""
    easter = easter_sunday(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    return [date(year, m, d) for m, d in fixed] + [
        easter + timedelta(days=1),  # lundi de Pâques
        easter + timedelta(days=39),  # Ascension
        easter + timedelta(days=50),  # lundi de Pentecôte
    ]


PUBLIC_HOLIDAYS = {"FR": french_public_holidays}


@lru_cache(maxsize=16)
def business_calendar(
    working_days: tuple[str, ...], public_holidays: str | None, holidays: tuple[date, ...]
) -> np.busdaycalendar:
    """numpy's calendar of the worked weekdays, minus public and company holidays."""
    weekmask = [name in working_days for name in WEEKDAYS]
    closed = list(holidays)
    if public_holidays:
        rule = PUBLIC_HOLIDAYS[public_holidays]
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            closed.extend(rule(year))
    return np.busdaycalendar(
        weekmask=weekmask, holidays=np.array(sorted(set(closed)), dtype="datetime64[D]")
    )


def next_working_day(days: np.ndarray, calendar: np.busdaycalendar) -> np.ndarray:
    """Each day number itself if it is a working day, else the next working day."""
    dates = np.asarray(days, dtype="int64").astype("datetime64[D]")
    rolled = np.busday_offset(dates, 0, roll="forward", busdaycal=calendar)
    return rolled.astype("int64")


def working_days_before(days: np.ndarray, count: int, calendar: np.busdaycalendar) -> np.ndarray:
    """The working day `count` working days before each day number (a day off counts from the
    working day before it)."""
    dates = np.asarray(days, dtype="int64").astype("datetime64[D]")
    return np.busday_offset(dates, -count, roll="backward", busdaycal=calendar).astype("int64")


def is_working_day(days: np.ndarray, calendar: np.busdaycalendar) -> np.ndarray:
    dates = np.asarray(days, dtype="int64").astype("datetime64[D]")
    return np.is_busday(dates, busdaycal=calendar)
