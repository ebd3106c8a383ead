"""Languages and local formats: what the credit manager reads, in French or English.

The language of a page follows the browser's Accept-Language, else the configured default
(`language` in configs/dunning.yaml); API answers and batch files use the language asked for, else
the configured one. Numbers, amounts and dates are formatted by Babel (CLDR data) the way people of
that language write them: "1 234,50 €" and "12 nov. 2026" in French, "€1,234.50" and "12 Nov 2026"
in English. This module knows formats, not words: each layer keeps its own phrases (the reasons in
`payrisk.policy.reasons`, the pages in `payrisk.web.i18n`), in both languages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import numpy as np
import pandas as pd
from babel import Locale
from babel.dates import format_date
from babel.numbers import (
    format_compact_currency,
    format_compact_decimal,
    format_currency,
    format_decimal,
    format_percent,
)

Language = Literal["en", "fr"]
LANGUAGES: tuple[Language, ...] = ("en", "fr")
DEFAULT_LANGUAGE: Language = "fr"
# The CLDR locale behind each language: European English (day before month, 24-hour clock).
LOCALES: dict[str, Locale] = {"en": Locale.parse("en_GB"), "fr": Locale.parse("fr_FR")}
DASH = "–"


def negotiate(accept_language: str | None, default: Language = DEFAULT_LANGUAGE) -> Language:
    """The first supported language of an Accept-Language header by its q-values, else
    `default` (e.g. "fr-CH, fr;q=0.9, en;q=0.8" -> "fr"; "de, en;q=0.5" -> "en")."""
    if not accept_language:
        return default
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if quality > 0 and primary in LANGUAGES:
            choices.append((-quality, position, primary))
    return sorted(choices)[0][2] if choices else default  # type: ignore[return-value]


def missing(value: object) -> bool:
    """None, NaN, NaT or pandas' NA: shown as a dash."""
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, str):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Formats:
    """Number, amount, percentage and date formats of one language."""

    language: Language = DEFAULT_LANGUAGE
    currency: str = "EUR"

    @property
    def locale(self) -> Locale:
        return LOCALES[self.language]

    def money(self, value: object, currency: str | None = None, cents: bool = True) -> str:
        """An amount with its currency: "1 234,50 €" / "€1,234.50"; never "-0,00"."""
        if missing(value):
            return DASH
        amount = round(float(value), 2 if cents else 0) + 0.0
        if cents:
            return format_currency(amount, currency or self.currency, locale=self.locale)
        whole = self.locale.currency_formats["standard"].pattern.replace(".00", "")
        return format_currency(
            amount, currency or self.currency, locale=self.locale, format=whole,
            currency_digits=False,
        )  # fmt: skip

    def short_money(self, value: float, currency: str | None = None) -> str:
        """Chart ticks: "1,3 M €" / "€1.3M"."""
        if abs(value) < 1000:
            return self.money(value, currency, cents=False)
        return format_compact_currency(
            value, currency or self.currency, locale=self.locale, fraction_digits=1
        )

    def number(self, value: object, digits: int = 0) -> str:
        if missing(value) or (isinstance(value, float) and math.isinf(value)):
            return DASH
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(round(float(value), digits) + 0.0, pattern, locale=self.locale)

    def compact(self, value: float) -> str:
        return format_compact_decimal(value, locale=self.locale, fraction_digits=1)

    def pct(self, value: object, digits: int = 0) -> str:
        """A share as a percentage: "46 %" / "46%"."""
        if missing(value):
            return DASH
        pattern = self.locale.percent_formats[None].pattern  # "#,##0 %" / "#,##0%"
        if digits:
            pattern = pattern.replace("#,##0", "#,##0." + "0" * digits)
        return format_percent(float(value), pattern, locale=self.locale)

    def day(self, value: object, style: str = "medium") -> str:
        """A date as people write it: "12 nov. 2026" / "12 Nov 2026" (style "medium"), or
        without the year ("12 nov.", style "short_month")."""
        if missing(value):
            return DASH
        if isinstance(value, pd.Timestamp | datetime):
            value = value.date()
        elif isinstance(value, np.datetime64):
            value = pd.Timestamp(value).date()
        elif isinstance(value, str):
            try:
                value = date.fromisoformat(value[:10])
            except ValueError:
                return value
        if style == "short_month":
            return format_date(value, "d MMM", locale=self.locale)
        return format_date(value, style, locale=self.locale)

    def days(self, value: float) -> str:
        """ "1 day", "12 days" / "1 jour", "12 jours"."""
        count = round(abs(float(value)))
        text = self.number(abs(float(value)))
        if self.language == "fr":
            return f"{text} jour{'s' if count > 1 else ''}"
        return f"{text} day{'s' if count != 1 else ''}"
