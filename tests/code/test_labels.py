"""Censoring: an outcome is a label only once it is known at the cut-off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payrisk.core.config import SnapshotSettings, TargetSettings
from payrisk.models.labels import TARGETS as LABELS
from payrisk.models.labels import mature_only, outcome_labels, snapshot_queries
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


DUE = day("2024-01-31")  # the due date of labels_at's invoice


def _on(days_after_due: int) -> str:
    return (DUE + pd.Timedelta(days=days_after_due)).date().isoformat()


@pytest.mark.parametrize(
    ("paid_after_due", "late", "default"),
    [
        (0, 0.0, 0.0),  # paid on the due date: on time
        (1, 1.0, 0.0),  # a day after: late
        (90, 1.0, 0.0),  # 90 days late is not yet a default ("more than 90")
        (91, 1.0, 1.0),
    ],
)
def test_a_payment_on_the_threshold_day_is_not_past_it(
    paid_after_due: int, late: float, default: float
) -> None:
    labels = labels_at({"paid_date": _on(paid_after_due)}, "2024-01-01", "2024-12-01")
    assert (labels["late"], labels["default"]) == (late, default)


@pytest.mark.parametrize(
    ("cutoff_after_due", "late", "default"),
    [
        # Watched up to the day before the cut-off. On the due date nothing is decided yet.
        (0, np.nan, np.nan),
        (1, 1.0, np.nan),  # unpaid on the due date: late, default still open
        (90, 1.0, np.nan),  # unpaid 89 days after due: it may still be paid on day 90
        (91, 1.0, 1.0),  # unpaid 90 days after due: any payment comes more than 90 days late
    ],
)
def test_an_open_invoice_is_positive_only_once_the_threshold_has_passed(
    cutoff_after_due: int, late: float, default: float
) -> None:
    labels = labels_at({}, "2024-01-01", _on(cutoff_after_due))
    np.testing.assert_array_equal([labels["late"], labels["default"]], [late, default])


@pytest.mark.parametrize(
    ("snapshot_after_due", "late_known", "default_known"),
    [
        (0, True, True),  # on the due date it may still be paid on time
        (1, False, True),  # open a day after due: late is already certain
        (90, False, True),  # open 90 days after due: it may still be paid on day 90
        (91, False, False),  # open 91 days after due: the default is already certain
    ],
)
def test_a_snapshot_teaches_only_what_was_still_undecided_on_its_day(
    snapshot_after_due: int, late_known: bool, default_known: bool
) -> None:
    labels = labels_at({"paid_date": _on(100)}, _on(snapshot_after_due), "2024-12-01")
    assert (not np.isnan(labels["late"]), not np.isnan(labels["default"])) == (
        late_known,
        default_known,
    )
    assert labels["days_to_payment"] == 100 - snapshot_after_due


def test_mature_only_keeps_a_label_once_its_targets_delay_has_passed_by_the_cutoff() -> None:
    """Late (0 days) is mature the day after the due date; default, default | late and the
    payment date (90 days) only 91 days after it, whatever the outcome."""
    cutoff = day("2024-06-01")
    ages = [0, 1, 50, 90, 91, 200]  # days from the due date to the cut-off
    queries = pd.DataFrame({"due_date": [cutoff - pd.Timedelta(days=a) for a in ages]})
    labels = pd.DataFrame({name: np.ones(len(ages)) for name in LABELS})
    out = mature_only(labels, queries, cutoff, TARGETS)
    np.testing.assert_array_equal(out["late"], [np.nan, 1, 1, 1, 1, 1])
    for target in ("default", "default_given_late", "days_to_payment"):
        np.testing.assert_array_equal(out[target], [np.nan, np.nan, np.nan, np.nan, 1, 1])
    # Another delay moves the boundary with it.
    later = TargetSettings(late_after_days=30, default_after_days=120)
    out = mature_only(labels, queries, cutoff, later)
    np.testing.assert_array_equal(out["late"], [np.nan, np.nan, 1, 1, 1, 1])
    np.testing.assert_array_equal(out["default"], [np.nan] * 5 + [1])


def test_a_mature_label_is_known_whatever_the_outcome() -> None:
    """Whatever happened after the due date (paid any day, or never), a label mature_only keeps
    at a cut-off is known there: maturity never keeps a censored label."""
    cutoff = day("2024-12-01")
    rows = []
    for age in (0, 1, 89, 90, 91, 120):
        due = cutoff - pd.Timedelta(days=age)
        for paid_after in [None, *range(0, age + 2)]:
            paid = {} if paid_after is None else {"paid_date": due + pd.Timedelta(days=paid_after)}
            rows.append(
                {
                    "invoice_id": f"I{len(rows)}",
                    "customer_id": "C1",
                    "issue_date": (due - pd.Timedelta(days=30)).date().isoformat(),
                    "due_date": due.date().isoformat(),
                    **{k: v.date().isoformat() for k, v in paid.items()},
                }
            )
    data = dataset(rows)
    queries = data.invoices[["invoice_id", "due_date"]].assign(
        snapshot_date=data.invoices["issue_date"]
    )
    labels = outcome_labels(queries, data.invoices, cutoff, TARGETS)
    kept = mature_only(labels, queries, cutoff, TARGETS)
    for target in ("late", "default"):
        mature = kept[target].notna()
        assert mature.any() and (~mature).any()
        assert labels.loc[mature, target].notna().all(), target
        assert (kept.loc[mature, target] == labels.loc[mature, target]).all()


def test_a_payment_or_write_off_on_the_cutoff_day_itself_is_not_known() -> None:
    """Known before the cut-off means dated before it: a payment on the cut-off day is not."""
    on_the_day = labels_at({"paid_date": "2024-02-10"}, "2024-01-01", "2024-02-10")
    assert np.isnan(on_the_day["paid_days_past_due"]) and np.isnan(on_the_day["days_to_payment"])
    assert on_the_day["late"] == 1.0  # unpaid through 2024-02-09: late, whatever comes after
    day_before = labels_at({"paid_date": "2024-02-09"}, "2024-01-01", "2024-02-10")
    assert day_before["paid_days_past_due"] == 9.0
    # Written off 1 day before: a default whatever the age.
    earlier = labels_at({"written_off_date": "2024-03-01"}, "2024-01-01", "2024-03-02")
    assert earlier["default"] == 1.0
    same_day = labels_at({"written_off_date": "2024-03-02"}, "2024-01-01", "2024-03-02")
    assert np.isnan(same_day["default"])  # 31 days past due, the write-off not yet known


def test_snapshots_on_a_settlement_day_or_the_cutoff_day() -> None:
    """An invoice paid on a snapshot's day is still open that morning: it has the snapshot. A
    snapshot dated on the cut-off day is not taken (only dates before it). Columns as listed."""
    data = dataset(
        [
            {
                "invoice_id": "A",
                "customer_id": "C",
                "issue_date": "2024-01-01",
                "due_date": "2024-01-31",
                "paid_date": "2024-02-15",  # paid on the day of its 15-days-past-due snapshot
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
        data.invoices, day("2024-03-01"), SnapshotSettings(days_past_due=(0, 15, 30))
    )
    taken = queries.groupby("invoice_id")["snapshot_date"].apply(list).to_dict()
    assert taken["A"] == [day("2024-01-01"), day("2024-01-31"), day("2024-02-15")]
    # B's 30-days-past-due snapshot falls on the cut-off day (2024-03-01): not taken.
    assert taken["B"] == [day("2024-01-01"), day("2024-01-31"), day("2024-02-15")]
    assert list(queries.columns) == [
        "invoice_id",
        "customer_id",
        "issue_date",
        "due_date",
        "amount",
        "snapshot_date",
    ]
    assert list(queries.index) == list(range(len(queries)))
