"""Payment terms beyond the legal maximum: the latest lawful due date worked by hand, validation
warns (or refuses when configured), sector caps read the customer's industry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from payrisk.data.loading import read_tables
from payrisk.data.terms import LegalTerms, latest_due_dates, lawful_terms_days
from payrisk.data.validation import validate_tables
from tests.data.test_validation import customer, data_dir, good_invoices


def latest(day: str, terms: LegalTerms | None = None, industry: str | None = None) -> str:
    industries = None if industry is None else pd.Series([industry])
    found = latest_due_dates(pd.Series([pd.Timestamp(day)]), terms or LegalTerms(), industries)
    return str(found.iloc[0].date())


@pytest.mark.parametrize(
    ("issued", "expected"),
    [
        # 10 Jan: +60 = 10 Mar; end of Jan + 45 = 16 Mar; (10 Jan + 45 = 24 Feb) -> end Feb = 29 Feb
        ("2024-01-10", "2024-03-16"),
        # 31 Jan: +60 = 31 Mar; 31 Jan + 45 = 16 Mar; 16 Mar -> end of month = 31 Mar
        ("2024-01-31", "2024-03-31"),
        # 20 Nov 2023: +60 = 19 Jan; end Nov + 45 = 14 Jan; 4 Jan -> end of month = 31 Jan
        ("2023-11-20", "2024-01-31"),
    ],
)
def test_latest_lawful_due_date_is_the_most_lenient_reading(issued: str, expected: str) -> None:
    assert latest(issued) == expected


def test_without_agreed_terms_thirty_days_and_sector_caps_replace_the_rule() -> None:
    assert latest("2024-01-10", LegalTerms(terms_agreed=False)) == "2024-02-09"
    transport = LegalTerms(industries={"transport": 30})
    assert latest("2024-01-10", transport, "transport") == "2024-02-09"
    assert latest("2024-01-10", transport, "retail") == "2024-03-16"
    assert lawful_terms_days(pd.Timestamp("2024-01-10"), LegalTerms(end_of_month_days=None)) == 60


def long_terms_dir(root: Path) -> Path:
    # INV-2 at 90 days from 10 Jan (due 9 Apr): beyond every reading; INV-3 at 60 days: lawful.
    return data_dir(
        root,
        invoices=good_invoices(
            **{"INV-2": {"due_date": "2024-04-09"}, "INV-3": {"due_date": "2024-03-10"}}
        ),
        customers=[customer("C1", industry="transport")],
    )


def test_validation_warns_on_terms_beyond_the_law_and_accepts_the_data(tmp_path: Path) -> None:
    report = validate_tables(read_tables(long_terms_dir(tmp_path)))
    assert report.success, report.render()
    [warning] = report.warnings
    assert warning.rule == "due_date_within_legal_terms"
    assert warning.examples == [(3, "INV-2")]
    text = report.render()
    assert text.startswith("warning: invoices.csv [invoices] rule due_date_within_legal_terms")
    assert "60 days from the invoice date or 45 days end of month" in text
    assert "L441-10" in text
    assert "1 warning(s), the data is accepted" in text


def test_validation_refuses_when_configured_and_applies_sector_caps(tmp_path: Path) -> None:
    tables = read_tables(long_terms_dir(tmp_path))
    refused = validate_tables(tables, LegalTerms(action="refuse"))
    assert not refused.success
    assert [f.rule for f in refused.failures] == ["due_date_within_legal_terms"]
    # transport capped at 30 days: INV-3 (60 days) is beyond too; INV-1 (30 days) is not
    capped = validate_tables(tables, LegalTerms(industries={"transport": 30}))
    assert [line for line, _ in capped.warnings[0].examples] == [3, 4]
    assert validate_tables(tables, LegalTerms(action="off")).warnings == []
