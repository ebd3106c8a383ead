"""Portfolio figures: cash-in forecast, predicted DSO, payment records."""

from __future__ import annotations

import numpy as np
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


def invoice(amount: float, default: float, low: str, mid: str, high: str) -> dict:
    return {
        "open_amount": amount,
        "default_probability": default,
        "issue_date": "2026-02-01",
        "expected_payment_date_low": low,
        "expected_payment_date": mid,
        "expected_payment_date_high": high,
    }


def test_cash_forecast_spreads_each_invoice_over_its_interval():
    """Replaces the old test of the early/expected/late columns: those summed each invoice into
    the week of one date each, so the "band" was three unrelated series (low 0, high = central)
    and an invoice's whole amount piled up in its central week."""
    frame = scored(
        [
            invoice(700.0, 0.0, "2026-03-10", "2026-03-10", "2026-03-10"),  # one day, for sure
            invoice(1000.0, 0.1, "2026-03-03", "2026-03-17", "2026-04-20"),  # weeks wide
        ]
    )
    forecast = cash_forecast(frame, AS_OF, weeks=4).set_index("week_start")
    assert forecast.index[0] == day("2026-03-02")  # weeks start on Monday
    # The certain one is all in its week; the wide one adds to every week of its interval.
    wide = cash_forecast(frame.iloc[[1]], AS_OF, weeks=4)["expected"]
    assert (wide > 0).sum() == 4 and wide.max() < 0.5 * 900
    assert forecast.loc[day("2026-03-09"), "expected"] == pytest.approx(700 + wide.iloc[1], 0.01)
    # Nothing lost: every expected euro is in a week or beyond the horizon.
    total = forecast["expected"].sum() + forecast["beyond_expected"].iloc[-1]
    assert total == pytest.approx(700 + 1000 * 0.9, abs=0.05)
    assert forecast.loc[day("2026-03-09"), "invoices"] == 1  # central dates per week


def test_the_cash_forecast_range_always_holds_the_expectation():
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(300):
        low = AS_OF + pd.Timedelta(days=int(rng.integers(-20, 40)))
        mid = low + pd.Timedelta(days=int(rng.integers(0, 30)))
        high = mid + pd.Timedelta(days=int(rng.integers(0, 60)))
        rows.append(invoice(float(rng.lognormal(8, 1.5)), float(rng.uniform(0, 0.6)),
                            str(low.date()), str(mid.date()), str(high.date())))  # fmt: skip
    forecast = cash_forecast(scored(rows), AS_OF, weeks=13)
    assert (forecast["low"] <= forecast["expected"]).all()
    assert (forecast["expected"] <= forecast["high"]).all()
    busy = forecast["expected"] > 1000
    assert (forecast.loc[busy, "high"] > forecast.loc[busy, "low"]).all()  # a real range
    expected = sum(r["open_amount"] * (1 - r["default_probability"]) for r in rows)
    assert forecast["expected"].sum() + forecast["beyond_expected"].iloc[-1] == pytest.approx(
        expected, rel=1e-6
    )


def test_an_invoice_past_its_whole_predicted_interval_is_expected_in_the_first_week():
    late = scored([invoice(400.0, 0.5, "2026-02-01", "2026-02-10", "2026-02-20")])
    forecast = cash_forecast(late, AS_OF, weeks=4)
    assert forecast["expected"].iloc[0] == pytest.approx(200.0)
    assert forecast["expected"].iloc[1:].sum() == 0


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
