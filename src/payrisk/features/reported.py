"""Reminders a dunning system reports that the snapshot does not hold yet, folded into the
point-in-time features as the history would have them (online = batch): the invoice's own
dunning (count, last step, last channel, days since) and what its customer received (count, hard
ones, days since the last contact).

Only reminders the snapshot cannot know are added: for an invoice of the snapshot, those sent on
or after its as-of date; for an invoice it does not hold, all of them. Vectorised over invoices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from payrisk.core.days import NEVER
from payrisk.features.history import HARD_CHANNELS


@dataclass(frozen=True)
class ReportedReminders:
    """Per planned invoice: the reported reminders the snapshot lacks."""

    count: np.ndarray  # float
    hard: np.ndarray  # float: formal notices and agency referrals among them
    last_day: np.ndarray  # int64 (NEVER: none)
    last_channel: np.ndarray  # object (None: none)
    top_step: np.ndarray  # float (NaN: none given)

    @classmethod
    def empty(cls, n: int) -> ReportedReminders:
        return cls(
            count=np.zeros(n),
            hard=np.zeros(n),
            last_day=np.full(n, NEVER, dtype="int64"),
            last_channel=np.full(n, None, dtype=object),
            top_step=np.full(n, np.nan),
        )

    @classmethod
    def of_events(
        cls,
        n: int,
        invoice: np.ndarray,
        day: np.ndarray,
        channel: np.ndarray,
        step: np.ndarray,
    ) -> ReportedReminders:
        """From the reminders the snapshot lacks, one row each: the invoice's position (of
        `n`), its day, channel (names) and step (NaN: not given). Vectorised."""
        out = cls.empty(n)
        invoice = np.asarray(invoice, dtype="int64")
        if not len(invoice):
            return out
        day = np.asarray(day, dtype="int64")
        channel = np.asarray(channel, dtype=object)
        out.count[:] = np.bincount(invoice, minlength=n)
        out.hard[:] = np.bincount(invoice, weights=np.isin(channel, HARD_CHANNELS), minlength=n)
        order = np.lexsort((day, invoice))
        last = order[np.r_[invoice[order][1:] != invoice[order][:-1], True]]
        out.last_day[invoice[last]] = day[last]
        out.last_channel[invoice[last]] = channel[last]
        np.fmax.at(out.top_step, invoice, np.asarray(step, dtype="float64"))
        return out

    def any(self) -> bool:
        return bool(self.count.any())


def with_reported(
    features: dict[str, np.ndarray],
    reported: ReportedReminders,
    customer_codes: np.ndarray,
    today: int,
) -> dict[str, np.ndarray]:
    """`features` (at `today`) with the reported reminders in, as the history would count them."""
    if not reported.any():
        return features
    out = dict(features)
    has = reported.count > 0
    if "reminders_sent" in out:
        out["reminders_sent"] = np.asarray(out["reminders_sent"], dtype="float64") + reported.count
    if "last_reminder_step" in out:
        step = np.asarray(out["last_reminder_step"], dtype="float64")
        out["last_reminder_step"] = np.where(has, np.fmax(step, reported.top_step), step)
    if "days_since_last_reminder" in out:
        own = np.asarray(out["days_since_last_reminder"], dtype="float64")
        newer = today - reported.last_day.astype("float64")
        out["days_since_last_reminder"] = np.where(has, np.fmin(own, newer), own)
    if "last_reminder_channel" in out:
        out["last_reminder_channel"] = np.where(
            has, reported.last_channel, np.asarray(out["last_reminder_channel"], dtype=object)
        )
    size = int(customer_codes.max()) + 1 if len(customer_codes) else 0
    for name, added in (
        ("reminders_received", reported.count),
        ("hard_reminders_received", reported.hard),
    ):
        if name in out:
            total = np.bincount(customer_codes, weights=added, minlength=size)[customer_codes]
            out[name] = np.asarray(out[name], dtype="float64") + total
    if "days_since_customer_contact" in out:
        latest = np.full(size, np.iinfo(np.int64).min)
        np.maximum.at(latest, customer_codes[has], reported.last_day[has])
        last = latest[customer_codes]
        since = np.where(last > np.iinfo(np.int64).min, today - last.astype("float64"), np.nan)
        own = np.asarray(out["days_since_customer_contact"], dtype="float64")
        out["days_since_customer_contact"] = np.fmin(own, since)
    return out
