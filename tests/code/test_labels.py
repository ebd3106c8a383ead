"""Censoring: an outcome is a label only once it is known at the cut-off."""

from __future__ import annotations

import numpy as np

from payrisk.core.config import SnapshotSettings, TargetSettings
from payrisk.models.labels import TARGETS as LABELS
from payrisk.models.labels import outcome_labels, snapshot_queries
from tests.helpers import dataset, day

TARGETS = TargetSettings(late_after_days=0, default_after_days=90)


def labels_at(invoice: dict, snapshot: str, cutoff: str) -> dict:
    data = dataset(
        [
            {
                "invoice_id": "I1",
                "customer_id": "C1",
                "issue_date": "2024-01-01",
                "due_date": "2024-01-31",
                **invoice,
            }
        ]
    )
    queries = data.invoices[["invoice_id", "customer_id", "issue_date", "due_date", "amount"]]
    queries = queries.assign(snapshot_date=day(snapshot))
    return outcome_labels(queries, data.invoices, day(cutoff), TARGETS).iloc[0].to_dict()


def test_paid_invoice_has_every_label():
    labels = labels_at({"paid_date": "2024-02-05"}, "2024-01-01", "2024-06-01")
    assert labels == {
        "late": 1.0,
        "default": 0.0,
        "default_given_late": 0.0,  # late, so it teaches P(default | late)
        "days_to_payment": 35.0,
        "paid_days_past_due": 5.0,
        "observed_days_past_due": 121.0,  # watched until the day before the cut-off
    }


def test_an_invoice_paid_on_time_teaches_nothing_about_default_given_late():
    labels = labels_at({"paid_date": "2024-01-31"}, "2024-01-01", "2024-06-01")
    assert labels["default"] == 0.0 and np.isnan(labels["default_given_late"])


def test_default_given_late_is_known_even_when_lateness_was_already_decided():
    labels = labels_at({}, "2024-02-15", "2024-06-01")  # 15 days past due, open 120 days later
    assert np.isnan(labels["late"])  # decided at the snapshot
    assert labels["default"] == 1.0 and labels["default_given_late"] == 1.0
    assert np.isnan(labels["paid_days_past_due"])  # still unpaid: censored, not "never"


def test_paid_on_time():
    labels = labels_at({"paid_date": "2024-01-31"}, "2024-01-01", "2024-06-01")
    assert (labels["late"], labels["default"]) == (0.0, 0.0)


def test_open_10_days_past_due_is_late_with_default_unknown():
    labels = labels_at({}, "2024-01-01", "2024-02-10")
    assert labels["late"] == 1.0
    assert np.isnan(labels["default"]) and np.isnan(labels["days_to_payment"])


def test_open_100_days_past_due_is_late_and_default():
    labels = labels_at({}, "2024-01-01", "2024-05-10")
    assert (labels["late"], labels["default"]) == (1.0, 1.0)


def test_open_and_not_yet_due_has_no_label_never_on_time():
    labels = labels_at({}, "2024-01-01", "2024-01-20")
    assert all(np.isnan(labels[name]) for name in LABELS)
    assert labels["observed_days_past_due"] == -12.0  # watched until 2024-01-19


def test_a_payment_after_the_cutoff_is_not_known():
    labels = labels_at({"paid_date": "2024-01-25"}, "2024-01-01", "2024-01-20")
    assert all(np.isnan(labels[name]) for name in LABELS)
    assert np.isnan(labels["paid_days_past_due"])


def test_written_off_is_a_default():
    labels = labels_at({"written_off_date": "2024-03-15"}, "2024-01-01", "2024-04-01")
    assert (labels["late"], labels["default"]) == (1.0, 1.0)


def test_outcomes_already_decided_at_the_snapshot_teach_nothing():
    labels = labels_at({"paid_date": "2024-04-01"}, "2024-03-01", "2024-06-01")
    assert np.isnan(labels["late"])  # 30 days past due at the snapshot: late is certain
    assert labels["default"] == 0.0  # but default is still open
    assert labels["days_to_payment"] == 31.0


def test_snapshots_are_taken_while_open_and_before_the_cutoff():
    data = dataset(
        [
            {
                "invoice_id": "A",
                "customer_id": "C",
                "issue_date": "2024-01-01",
                "due_date": "2024-01-31",
                "paid_date": "2024-02-20",
            },
            {
                "invoice_id": "B",
                "customer_id": "C",
                "issue_date": "2024-01-01",
                "due_date": "2024-01-31",
            },
        ]
    )
    queries = snapshot_queries(
        data.invoices, day("2024-03-05"), SnapshotSettings(days_past_due=(0, 15, 30, 60))
    )
    taken = queries.groupby("invoice_id")["snapshot_date"].apply(list).to_dict()
    assert taken["A"] == [day("2024-01-01"), day("2024-01-31"), day("2024-02-15")]
    assert taken["B"] == [
        day("2024-01-01"),
        day("2024-01-31"),
        day("2024-02-15"),
        day("2024-03-01"),
    ]
    assert queries["snapshot_date"].is_monotonic_increasing
