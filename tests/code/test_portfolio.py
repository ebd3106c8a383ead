"""Portfolio figures: cash-in forecast, predicted DSO, payment records."""

from __future__ import annotations

import pandas as pd
import pytest

from payrisk.policy.portfolio import cash_forecast, payment_records, predicted_dso
from tests.helpers import dataset, day

AS_OF = day("2026-03-04")  # a Wednesday


def scored(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in (
        "issue_date",
        "expected_payment_date_low",
        "expected_payment_date",
        "expected_payment_date_high",
    ):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def test_cash_forecast_puts_expected_cash_in_its_week():
    frame = scored(
        [
            {
                "open_amount": 1000.0,
                "default_probability": 0.1,
                "issue_date": "2026-02-01",
                "expected_payment_date_low": "2026-03-03",
                "expected_payment_date": "2026-03-10",
                "expected_payment_date_high": "2026-04-20",
            },
            {
                "open_amount": 500.0,
                "default_probability": 0.0,
                "issue_date": "2026-02-01",
                "expected_payment_date_low": "2026-03-05",
                "expected_payment_date": "2026-03-05",
                "expected_payment_date_high": "2026-09-01",
            },
        ]
    )
    forecast = cash_forecast(frame, AS_OF, weeks=4).set_index("week_start")
    assert forecast.index[0] == day("2026-03-02")  # weeks start on Monday
    assert forecast.loc[day("2026-03-02"), "expected"] == 500.0
    assert forecast.loc[day("2026-03-09"), "expected"] == 900.0
    assert forecast["early"].sum() == 1400.0
    assert forecast["beyond_late"].iloc[-1] == 1400.0  # both late dates beyond four weeks


def test_predicted_dso_is_amount_weighted():
    frame = scored(
        [
            {
                "open_amount": 300.0,
                "issue_date": "2026-01-01",
                "expected_payment_date": "2026-01-31",
                "expected_payment_date_low": "2026-01-31",
                "expected_payment_date_high": "2026-01-31",
            },
            {
                "open_amount": 100.0,
                "issue_date": "2026-01-01",
                "expected_payment_date": "2026-03-02",
                "expected_payment_date_low": "2026-03-02",
                "expected_payment_date_high": "2026-03-02",
            },
        ]
    )
    assert predicted_dso(frame) == pytest.approx((300 * 30 + 100 * 60) / 400)


def test_payment_records_hold_settled_invoices_only():
    data = dataset(
        [
            {
                "invoice_id": "A",
                "customer_id": "C",
                "issue_date": "2026-01-01",
                "due_date": "2026-01-31",
                "paid_date": "2026-02-10",
            },
            {
                "invoice_id": "B",
                "customer_id": "C",
                "issue_date": "2026-01-01",
                "due_date": "2026-01-31",
                "written_off_date": "2026-03-01",
            },
            {
                "invoice_id": "C",
                "customer_id": "C",
                "issue_date": "2026-01-01",
                "due_date": "2026-01-31",
                "paid_date": "2026-03-10",
            },
        ]
    )
    records = payment_records(data, AS_OF).set_index("invoice_id")
    assert list(records.index) == ["A", "B"]
    assert records.loc["A", "days_late"] == 10
    assert bool(records.loc["B", "written_off"]) is True
