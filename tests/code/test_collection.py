"""The DAF's monthly figures on a tiny ledger, worked by hand: CEI, standard and countback DSO."""

from __future__ import annotations

import pandas as pd
import pytest

from payrisk.data.collection import countback_dso, monthly_kpis
from payrisk.data.loading import Dataset

NAT = pd.NaT


def ledger() -> Dataset:
    def days(*values: str) -> list[pd.Timestamp]:
        return [pd.Timestamp(v) for v in values]

    day = pd.Timestamp
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3", "I4"],
            "customer_id": ["A", "A", "B", "B"],
            "issue_date": days("2025-12-15", "2026-01-10", "2026-02-05", "2026-03-10"),
            "due_date": days("2026-01-14", "2026-02-09", "2026-03-07", "2026-04-09"),
            "amount": [1000.0, 2000.0, 3000.0, 1500.0],
            "paid_date": [day("2026-01-20"), day("2026-03-05"), NAT, NAT],
            "written_off_date": [NAT] * 4,
            "disputed": [False] * 4,
        }
    )  # fmt: skip
    payments = pd.DataFrame(
        {"invoice_id": ["I3"], "payment_date": [day("2026-03-15")], "amount": [500.0]}
    )
    return Dataset(invoices=invoices, payments=payments)


def test_cei_and_dso_per_month_as_worked_by_hand() -> None:
    table = monthly_kpis(ledger(), pd.Timestamp("2026-04-01"), months=4).set_index("month")
    assert list(table.index) == ["2026-01", "2026-02", "2026-03"]  # December began before data
    # January: opening 1,000 (I1), sales 2,000 (I2), closing 2,000 all current: 100%
    january = ["opening_receivables", "credit_sales", "closing_receivables", "closing_current"]
    assert table.loc["2026-01", january].tolist() == [1000, 2000, 2000, 2000]
    assert table.loc["2026-01", "cei"] == 100
    # February: I2 not paid: (2,000 + 3,000 - 5,000) / (2,000 + 3,000 - 3,000) = 0%
    assert table.loc["2026-02", "cei"] == 0
    # March: closing 2,500 (I3 after 500 paid) + 1,500 (I4, current):
    # (5,000 + 1,500 - 4,000) / (5,000 + 1,500 - 1,500) = 50%
    assert table.loc["2026-03", ["closing_receivables", "closing_current", "cei"]].tolist() == [
        4000,
        1500,
        50,
    ]
    # countback at 1 April: 4,000 = March's 1,500 (31 days) + 2,500 of February's 3,000 (28 days)
    assert table.loc["2026-03", "countback_dso_days"] == pytest.approx(31 + 2500 / 3000 * 28, 0.01)
    assert table.loc["2026-02", "countback_dso_days"] == 59.0  # 28 days + all of January's 31
    assert table.loc["2026-01", "countback_dso_days"] == 31.0
    # standard at 1 April: 4,000 / 6,500 sales of the 90 days before x 90
    assert table.loc["2026-03", "dso_days_90"] == round(4000 / 6500 * 90, 1)


def test_countback_without_receivables_is_zero_days() -> None:
    assert countback_dso(ledger(), pd.Timestamp("2025-12-01")) == 0.0
