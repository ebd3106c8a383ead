"""The dunning state as contract tables: promises, payment plans, holds and direct debit are
validated, imported through a mapping, generated in realistic shares, and read as of a day."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from payrisk.core.days import day_number
from payrisk.data.contract import TABLES
from payrisk.data.generator import generate_history
from payrisk.data.importer import import_export
from payrisk.data.loading import Dataset, load_dataset, read_tables, validate_dataset_dir
from payrisk.data.validation import validate_tables
from payrisk.features.promises import promise_outcomes, promise_record, promise_streams
from payrisk.policy.config import load_dunning_config
from payrisk.policy.state import NO_DAY, promise_kept_probability, state_of_dataset
from tests.helpers import table


def ledger(**tables: list[dict]) -> Dataset:
    invoices = [
        {"invoice_id": "A", "customer_id": "C1", "issue_date": "2026-01-05",
         "due_date": "2026-02-04", "amount": "900", "currency": "EUR"},
        {"invoice_id": "B", "customer_id": "C1", "issue_date": "2026-02-01",
         "due_date": "2026-03-03", "amount": "300", "currency": "EUR"},
        {"invoice_id": "C", "customer_id": "C2", "issue_date": "2026-02-01",
         "due_date": "2026-03-03", "amount": "300", "currency": "EUR"},
    ]  # fmt: skip
    return Dataset(
        invoices=table("invoices", invoices),
        payments=table("payments", tables.get("payments", [])),
        customers=table("customers", tables.get("customers", [])),
        reminders=table("reminders", tables.get("reminders", [])),
        promises=table("promises", tables.get("promises", [])),
        payment_plans=table("payment_plans", tables.get("payment_plans", [])),
        holds=table("holds", tables.get("holds", [])),
    )


def open_frame(data: Dataset, as_of: str) -> pd.DataFrame:
    from payrisk.policy.planning import open_invoice_queries

    return open_invoice_queries(data, pd.Timestamp(as_of))


def test_promises_are_kept_when_paid_by_the_date_and_known_only_after_it():
    data = ledger(
        payments=[
            {"invoice_id": "A", "payment_date": "2026-02-20", "amount": "900"},
            {"invoice_id": "B", "payment_date": "2026-03-20", "amount": "100"},
        ],
        promises=[
            {"invoice_id": "A", "made_date": "2026-02-10", "promised_date": "2026-02-25"},
            {"invoice_id": "B", "made_date": "2026-03-10", "promised_date": "2026-03-15"},
            {
                "invoice_id": "B",
                "made_date": "2026-03-16",
                "promised_date": "2026-03-25",
                "amount": "100",
            },
        ],
    )
    outcomes = promise_outcomes(data.promises, data.invoices, data.payments)
    assert outcomes["kept"].tolist() == [True, False, True]  # 900 by 25/2; nothing; 100 of 100
    streams = promise_streams(outcomes, pd.Index(["C1", "C2"]))

    class History:  # what promise_record reads of a history
        customer_ids = pd.Index(["C1", "C2"])

    History.streams = streams
    ids = np.array(["C1", "C2"], dtype=object)
    on_date = promise_record(History, ids, day_number("2026-02-25"))
    assert on_date.resolved.tolist() == [0, 0]  # the promised day itself is not over yet
    after = promise_record(History, ids, day_number("2026-03-26"))
    assert after.resolved.tolist() == [3, 0] and after.kept.tolist() == [2, 0]
    assert after.portfolio_rate == pytest.approx(2 / 3)
    probability = promise_kept_probability(after.kept, after.resolved, after.portfolio_rate,
                                           load_dunning_config())  # fmt: skip
    # Shrunk to the portfolio's 2/3 with a prior of 4 promises: C2 gets the portfolio's rate.
    assert probability == pytest.approx([(2 + 4 * 2 / 3) / 7, 2 / 3])


def test_the_batch_state_of_each_open_invoice_as_of_a_day():
    data = ledger(
        payments=[{"invoice_id": "A", "payment_date": "2026-03-05", "amount": "300"}],
        customers=[{"customer_id": "C1", "direct_debit": "false"},
                   {"customer_id": "C2", "direct_debit": "true"}],
        reminders=[{"invoice_id": "A", "sent_date": "2026-03-10", "channel": "email"}],
        promises=[{"invoice_id": "B", "made_date": "2026-03-05", "promised_date": "2026-03-20"}],
        payment_plans=[
            {"invoice_id": "A", "agreed_date": "2026-02-20", "due_date": "2026-03-05",
             "amount": "300"},
            {"invoice_id": "A", "agreed_date": "2026-02-20", "due_date": "2026-04-05",
             "amount": "300"},
            {"invoice_id": "A", "agreed_date": "2026-02-20", "due_date": "2026-05-05",
             "amount": "300"},
        ],
        holds=[
            {"customer_id": "C1", "start_date": "2026-03-01", "until_date": "2026-03-12",
             "reason": "vacances"},
            {"customer_id": "C1", "invoice_id": "B", "start_date": "2026-03-01",
             "until_date": "2026-03-20"},
            {"customer_id": "C2", "start_date": "2026-04-01", "until_date": "2026-04-20"},
        ],
    )  # fmt: skip
    queries = open_frame(data, "2026-03-11")
    assert "vacances" not in queries.to_csv()  # a hold's reason never reaches scored files
    state = state_of_dataset(data, queries, pd.Timestamp("2026-03-11"))
    at = {invoice: k for k, invoice in enumerate(queries["invoice_id"])}
    a, b, c = at["A"], at["B"], at["C"]
    # A: 300 paid of a 900 plan: the second instalment, 300, one reminder since the first's date.
    assert state.plan_due_day[a] == day_number("2026-04-05")
    assert state.plan_amount[a] == 300.0 and state.plan_reminders[a] == 1
    assert state.plan_since_day[a] == day_number("2026-03-05")
    # B: its promise, its own hold (longer than its customer's); A: the customer's hold.
    assert state.promise_day[b] == day_number("2026-03-20")
    assert state.hold_until_day[b] == day_number("2026-03-20")
    assert state.hold_until_day[a] == day_number("2026-03-12")
    # C: direct debit, and a hold that has not started yet.
    assert state.direct_debit[c] == 1.0 and state.direct_debit[a] == 0.0
    assert state.hold_until_day[c] == NO_DAY
    # A promise is over once kept: B paid in full before its date drops it.
    paid = ledger(
        payments=[{"invoice_id": "B", "payment_date": "2026-03-08", "amount": "200"}],
        promises=[{"invoice_id": "B", "made_date": "2026-03-05", "promised_date": "2026-03-20",
                   "amount": "200"}],
    )  # fmt: skip
    queries = open_frame(paid, "2026-03-11")
    state = state_of_dataset(paid, queries, pd.Timestamp("2026-03-11"))
    assert (state.promise_day == NO_DAY).all()


def test_bad_dunning_tables_are_refused_naming_the_rule(tmp_path: Path):
    from payrisk.data.loading import write_dataset

    data = ledger(
        promises=[{"invoice_id": "Z", "made_date": "2026-03-05", "promised_date": "2026-03-01"}],
        payment_plans=[{"invoice_id": "A", "agreed_date": "2026-03-01", "due_date": "2026-02-01",
                        "amount": "-5"}],
        holds=[{"customer_id": "C1", "start_date": "2026-03-01", "until_date": "2026-02-01"}],
    )  # fmt: skip
    write_dataset(data, tmp_path)
    report = validate_dataset_dir(tmp_path)
    failed = {(f.table, f.rule) for f in report.failures}
    assert ("promises", "invoice_known") in failed
    assert ("promises", "promised_date_not_before_made_date") in failed
    assert ("payment_plans", "due_date_not_before_agreed_date") in failed
    assert ("payment_plans", "amount_positive") in failed
    assert ("holds", "until_date_not_before_start_date") in failed
    assert "vacances" not in report.render()


def test_dunning_tables_import_through_a_mapping(tmp_path: Path):
    export = tmp_path / "promesses.csv"
    export.write_text(
        "Facture;Date promesse;Date promise;Montant\n"
        "FA-1;02/03/2026;16/03/2026;1 200,50\n"
        "FA-2;03/03/2026;20/03/2026;\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        yaml.safe_dump(
            {
                "table": "promises",
                "columns": {
                    "invoice_id": "Facture",
                    "made_date": "Date promesse",
                    "promised_date": "Date promise",
                    "amount": "Montant",
                },
                "csv": {"separator": ";", "decimal": ",", "thousands": " "},
                "date_format": "%d/%m/%Y",
            }
        ),
        encoding="utf-8",
    )
    written = import_export(export, mapping, tmp_path / "data")
    assert written.name == "promises.csv"
    frame = pd.read_csv(written, dtype=str)
    assert frame["promised_date"].tolist() == ["2026-03-16", "2026-03-20"]
    assert float(frame["amount"].iloc[0]) == 1200.5 and pd.isna(frame["amount"].iloc[1])


def test_the_generator_draws_the_dunning_state_in_realistic_shares(tmp_path: Path):
    from payrisk.data.loading import write_dataset

    data = generate_history(400, 3.0, seed=5)
    outcomes = promise_outcomes(data.promises, data.invoices, data.payments)
    assert len(outcomes) > 100
    assert 0.45 < outcomes["kept"].mean() < 0.8  # kept and broken promises both common
    debit = data.customers["direct_debit"].mean()
    assert 0.03 < debit < 0.3
    planned = data.payment_plans["invoice_id"].nunique() / len(data.invoices)
    assert 0.005 < planned < 0.1
    held = data.holds["customer_id"].nunique() / data.customers["customer_id"].nunique()
    assert 0.01 < held < 0.1
    end = data.invoices["issue_date"].max()
    assert (data.holds["until_date"] >= end).any()  # some holds still running at the end
    assert (data.payment_plans["due_date"] > end).any()  # and plans with instalments to come
    write_dataset(data, tmp_path)
    assert validate_tables(read_tables(tmp_path)).success
    assert set(TABLES) <= {p.stem for p in tmp_path.iterdir()}
    assert len(load_dataset(tmp_path).promises) == len(data.promises)
