"""Payment terms the law allows: the latest due date an invoice may carry.

French default (Code de commerce, art. L441-10): agreed terms at most 60 days from the invoice
date, or 45 days end of month; 30 days when no terms were agreed; some sectors have their own
caps (configured per `industry`). "45 days end of month" is read both ways the administration
accepts (end of the month after 45 days, or 45 days after the end of the month): an invoice is
flagged only when its due date is beyond every reading, so a warning is never a matter of method.
Validation warns (or refuses) such invoices; the credit review never approves such terms as asked.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from payrisk.core.config import StrictModel

WARN, REFUSE, OFF = "warn", "refuse", "off"


class LegalTerms(StrictModel):
    """The legal maximum payment terms and what to do with invoices beyond them."""

    action: Literal["warn", "refuse", "off"] = Field(
        WARN,
        description="warn: validation reports the invoices and goes on; refuse: validation "
        "fails; off: no check (another jurisdiction without a cap).",
    )
    max_days: int = Field(60, ge=0, le=3650, description="Agreed terms: days from invoice date.")
    end_of_month_days: int | None = Field(
        45, ge=0, le=3650, description="Or this many days end of month; null: no such option."
    )
    default_days: int = Field(30, ge=0, le=3650, description="Terms when none were agreed.")
    terms_agreed: bool = Field(
        True,
        description="false: the ledger's terms were not agreed in writing, every invoice must "
        "meet default_days.",
    )
    industries: dict[str, int] = Field(
        default_factory=dict,
        description="Sector caps in days from the invoice date, by the customers' `industry` "
        "(e.g. transport: 30); they replace the general rule for those customers.",
    )
    reference: str = Field(
        "Code de commerce, art. L441-10", max_length=200, description="The rule's words."
    )

    @property
    def enabled(self) -> bool:
        return self.action != OFF

    def describe(self, language: str = "en") -> str:
        """The rule in words, as grounds and messages quote it."""
        if not self.terms_agreed:
            days = f"{self.default_days} jours" if language == "fr" else f"{self.default_days} days"
            return f"{days}; {self.reference}"
        if language == "fr":
            text = f"{self.max_days} jours date de facture"
            if self.end_of_month_days is not None:
                text += f" ou {self.end_of_month_days} jours fin de mois"
        else:
            text = f"{self.max_days} days from the invoice date"
            if self.end_of_month_days is not None:
                text += f" or {self.end_of_month_days} days end of month"
        return f"{text}; {self.reference}"


def _month_end(days: pd.Series) -> pd.Series:
    return days + pd.offsets.MonthEnd(0)


def latest_due_dates(
    issue_dates: pd.Series, terms: LegalTerms, industries: pd.Series | None = None
) -> pd.Series:
    """The latest lawful due date of each invoice issued on `issue_dates` (datetimes), under
    `terms`; `industries` (aligned, text) applies the sector caps. Missing issue dates give NaT."""
    issued = pd.to_datetime(issue_dates)
    if not terms.terms_agreed:
        latest = issued + pd.Timedelta(days=terms.default_days)
    else:
        latest = issued + pd.Timedelta(days=terms.max_days)
        if terms.end_of_month_days is not None:
            span = pd.Timedelta(days=terms.end_of_month_days)
            after_month_end = _month_end(issued) + span
            month_end_after = _month_end(issued + span)
            latest = latest.where(latest >= after_month_end, after_month_end)
            latest = latest.where(latest >= month_end_after, month_end_after)
    if terms.industries and industries is not None:
        caps = industries.map(terms.industries).astype("float64").to_numpy()
        capped = ~np.isnan(caps)
        if capped.any():
            sector = issued + pd.to_timedelta(np.where(capped, caps, 0), unit="D")
            latest = latest.where(~capped, sector)
    return latest


def lawful_terms_days(
    issue_date: pd.Timestamp, terms: LegalTerms, industry: str | None = None
) -> int:
    """The longest terms in days from `issue_date` the law allows for an invoice issued that
    day (the credit review asks for terms in days)."""
    latest = latest_due_dates(
        pd.Series([pd.Timestamp(issue_date)]),
        terms,
        None if industry is None else pd.Series([industry]),
    )
    return int((latest.iloc[0] - pd.Timestamp(issue_date)).days)
