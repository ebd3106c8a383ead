"""Provisions for doubtful receivables worked by hand on a tiny portfolio: doubtful from 90 days
past due, net of VAT, the larger of the matrix's rate and the model's expected loss rate; per
customer and bucket sums of the rounded invoice figures."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from payrisk.policy.provisions import (
    ProvisionRules,
    by_bucket,
    by_customer,
    invoice_provisions,
    total,
)

AS_OF = pd.Timestamp("2026-10-01")


def portfolio() -> pd.DataFrame:
    rows = [
        # id, customer, days past due, open amount (VAT incl.), P(default)
        ("I1", "A", 30, 1200.00, 0.90),  # not doubtful yet: no provision whatever the model says
        ("I2", "A", 95, 1200.00, 0.10),  # matrix 25% > model 10% x 0.6: 1000 x 25% = 250
        ("I3", "B", 200, 600.00, 0.95),  # model 95% x 0.6 = 57% > matrix 50%: 500 x 57% = 285
        ("I4", "B", 375, 120.00, 0.20),  # matrix 100%: 100
        ("I5", "C", 90, 100.01, 0.00),  # exactly the cut: 83.34... x 25% = 20.84
    ]
    return pd.DataFrame(
        {
            "invoice_id": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "due_date": [AS_OF - pd.Timedelta(days=r[2]) for r in rows],
            "snapshot_date": [AS_OF] * len(rows),
            "open_amount": [r[3] for r in rows],
            "default_probability": [r[4] for r in rows],
        }
    )


def test_each_doubtful_invoice_is_provisioned_as_worked_by_hand() -> None:
    rules = ProvisionRules()
    table = invoice_provisions(portfolio(), rules, recovery_rate=0.4).set_index("invoice_id")
    assert "I1" not in table.index
    assert table.loc["I2", "provision"] == 250.00
    assert table.loc["I2", "bucket"] == "90-179"
    assert table.loc["I3", "rate"] == pytest.approx(0.57)
    assert table.loc["I3", "provision"] == 285.00
    assert table.loc["I4", ["bucket", "provision"]].tolist() == ["365+", 100.00]
    assert table.loc["I5", "net_amount"] == 83.34
    assert table.loc["I5", "provision"] == 20.84
    assert total(table) == 655.84


def test_customer_and_bucket_sums_add_up_to_the_total_to_the_cent() -> None:
    rules = ProvisionRules()
    table = invoice_provisions(portfolio(), rules, recovery_rate=0.4)
    customers = by_customer(table).set_index("customer_id")
    assert customers["provision"].to_dict() == {"B": 385.00, "A": 250.00, "C": 20.84}
    buckets = by_bucket(table, rules).set_index("bucket")
    assert buckets["provision"].to_dict() == {"90-179": 270.84, "180-364": 285.0, "365+": 100.0}
    assert buckets["invoices"].tolist() == [2, 1, 1]
    assert round(customers["provision"].sum(), 2) == round(buckets["provision"].sum(), 2)
    assert round(customers["provision"].sum(), 2) == total(table)


def test_net_amounts_follow_the_vat_rate_and_the_cut_is_configurable() -> None:
    net = ProvisionRules(vat_rate=0.0, doubtful_after_days=30, matrix={30: 0.1, 90: 0.25})
    table = invoice_provisions(portfolio(), net, recovery_rate=0.0).set_index("invoice_id")
    assert table.loc["I1", "provision"] == 1080.00  # 30 days: model 90% beats matrix 10%
    assert table.loc["I5", "net_amount"] == 100.01


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ({120: 0.5}, "first bucket"),
        ({90: 0.5, 180: 0.25}, "must not fall"),
        ({90: 1.5}, "between 0 and 1"),
    ],
)
def test_a_matrix_that_makes_no_sense_is_refused(matrix: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ProvisionRules(matrix=matrix)
