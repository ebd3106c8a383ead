"""What payrisk writes for people: safe to open in a spreadsheet, the same ids as the data."""

from __future__ import annotations

import csv
from dataclasses import replace

import pandas as pd

from payrisk.core.storage import restore_formulas
from payrisk.data.loading import write_dataset
from tests.conftest import project_catalog

HOSTILE = {
    "invoice": ["=1+1", "@SUM(A1:A9)", '=HYPERLINK("http://evil.example/","open me")'],
    "customer": "-2+3+cmd|' /C calc'!A0",
}
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_scored_files_never_hand_a_spreadsheet_a_formula(project_env, sample_dataset, tmp_path):
    """Before: scores.csv and scores.customers.csv wrote `=1+1`, `@SUM(...)` and
    `=HYPERLINK(...)` ids as they were, and spreadsheet software ran them."""
    from pipelines.scoring import customers_path, score

    data = sample_dataset
    still_open = data.invoices["paid_date"].isna() & data.invoices["written_off_date"].isna()
    open_rows = data.invoices.index[still_open]
    renamed = dict(
        zip(data.invoices.loc[open_rows[:3], "invoice_id"], HOSTILE["invoice"], strict=True)
    )
    customer = data.invoices.loc[open_rows[0], "customer_id"]
    invoices = data.invoices.assign(
        invoice_id=data.invoices["invoice_id"].replace(renamed),
        customer_id=data.invoices["customer_id"].replace({customer: HOSTILE["customer"]}),
    )
    hostile = replace(
        data,
        invoices=invoices,
        payments=data.payments.assign(invoice_id=data.payments["invoice_id"].replace(renamed)),
        reminders=data.reminders.assign(invoice_id=data.reminders["invoice_id"].replace(renamed)),
        customers=data.customers.assign(
            customer_id=data.customers["customer_id"].replace({customer: HOSTILE["customer"]})
        ),
    )
    write_dataset(hostile, tmp_path / "data")
    out = tmp_path / "scores.csv"
    score(project_catalog(project_env), tmp_path / "data", out)

    for path in (out, customers_path(out)):
        with open(path, newline="", encoding="utf-8") as handle:
            cells = [cell for row in csv.reader(handle) for cell in row]
        risky = [c for c in cells if c.startswith(TRIGGERS) and not is_number(c)]
        assert not risky, (path.name, risky[:5])
    scored = restore_formulas(pd.read_csv(out, dtype=str, keep_default_na=False))
    assert set(HOSTILE["invoice"]) <= set(scored["invoice_id"])
    assert HOSTILE["customer"] in set(scored["customer_id"])
    plans = restore_formulas(pd.read_csv(customers_path(out), dtype=str, keep_default_na=False))
    assert HOSTILE["customer"] in set(plans["customer_id"])
