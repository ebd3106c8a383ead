"""Point-in-time correctness: nothing dated at or after t changes a feature computed at t."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payrisk.core.config import DeclaredFeature, FeatureSettings, SnapshotSettings, TargetSettings
from payrisk.data.loading import Dataset
from payrisk.features.definitions import FeatureSet, invoice_features
from payrisk.features.history import build_history
from payrisk.models.labels import snapshot_queries

TARGETS = TargetSettings()
# Declared features of each kind: a static customer attribute, a customer value that changes
# (known from its date) and an invoice attribute.
DECLARED = (
    DeclaredFeature(column="sector", table="customers", kind="categorical"),
    DeclaredFeature(column="rating", table="customers", kind="numeric", known_from="rating_date"),
    DeclaredFeature(column="sales_channel", table="invoices", kind="categorical", known_at="issue"),
)
SETTINGS = FeatureSettings(declared=DECLARED)
FEATURES = FeatureSet.of(DECLARED)
CHANNELS = np.array(["web", "phone", "sales rep"])


def _days_after(start: pd.Timestamp, rng: np.random.Generator, n: int, span: int) -> pd.Series:
    return pd.Series(start + pd.to_timedelta(rng.integers(0, span, n), unit="D"))


@pytest.fixture(scope="module")
def ledger(sample_dataset: Dataset) -> Dataset:
    """The sample with the declared columns, as text (as a CSV gives them)."""
    rng = np.random.default_rng(5)
    customers = sample_dataset.customers.copy()
    first = sample_dataset.invoices["issue_date"].min()
    n = len(customers)
    customers["sector"] = rng.choice(["construction", "retail", "services"], n)
    customers["rating"] = rng.uniform(1, 10, n).round(1).astype("str")
    customers["rating_date"] = _days_after(first, rng, n, 1100).dt.strftime("%Y-%m-%d").to_numpy()
    invoices = sample_dataset.invoices.copy()
    invoices["sales_channel"] = rng.choice(CHANNELS, len(invoices))
    return Dataset(
        invoices=invoices,
        payments=sample_dataset.payments,
        customers=customers,
        reminders=sample_dataset.reminders,
    )


def features_at(dataset: Dataset, t: pd.Timestamp, as_of: pd.Timestamp) -> pd.DataFrame:
    """Features of every snapshot dated t or before (each at its own date), from a history at
    as_of: snapshots dated t itself see no event dated t (the future starts there)."""
    queries = snapshot_queries(dataset.invoices, t + pd.Timedelta(days=1), SnapshotSettings())
    history = build_history(dataset, as_of, TARGETS, SETTINGS)
    return invoice_features(history, queries, FEATURES).set_index(
        queries["invoice_id"] + "@" + queries["snapshot_date"].astype("str")
    )


def rewrite_disputes(invoices: pd.DataFrame, t: pd.Timestamp, rng: np.random.Generator) -> None:
    """Move every dispute event dated t or later, raise new disputes after t on invoices open at
    t, and resolve after t the disputes open at t."""
    raised_later = invoices["dispute_date"] >= t
    invoices.loc[raised_later, "dispute_date"] = _days_after(
        t, rng, raised_later.sum(), 100
    ).to_numpy()
    open_at_t = (invoices["issue_date"] < t) & invoices["dispute_date"].isna()
    new = open_at_t & (rng.random(len(invoices)) < 0.2)
    invoices.loc[new, "dispute_date"] = _days_after(t, rng, new.sum(), 100).to_numpy()
    ends_later = (invoices["dispute_date"] < t) & ~(invoices["dispute_resolved_date"] < t)
    invoices.loc[ends_later, "dispute_resolved_date"] = _days_after(
        t, rng, ends_later.sum(), 60
    ).to_numpy()
    after = invoices["dispute_date"] >= t
    invoices.loc[after, "dispute_resolved_date"] = invoices.loc[after, "dispute_date"] + (
        pd.to_timedelta(rng.integers(0, 90, after.sum()), unit="D")
    )
    invoices["disputed"] = invoices["disputed"] | invoices["dispute_date"].notna()


def rewrite_the_future(dataset: Dataset, t: pd.Timestamp, seed: int) -> Dataset:
    """Change every fact dated t or later, and add new ones: other payment dates, write-offs,
    reminders, payments and invoices, all on or after t."""
    rng = np.random.default_rng(seed)
    invoices = dataset.invoices.copy()
    for column in ("paid_date", "written_off_date"):
        later = invoices[column] >= t
        shift = pd.to_timedelta(rng.integers(0, 200, later.sum()), unit="D")
        invoices.loc[later, column] = t + shift
    # Invoices still open at t get settled (or written off) at random later dates.
    open_at_t = invoices["paid_date"].isna() & (invoices["issue_date"] < t)
    invoices.loc[open_at_t, "paid_date"] = t + pd.to_timedelta(
        rng.integers(0, 300, open_at_t.sum()), unit="D"
    )
    # An undated dispute flag is never a feature: flip it for invoices settled on or after t.
    settled_after = invoices[["paid_date", "written_off_date"]].min(axis=1) >= t
    undated = settled_after & invoices["dispute_date"].isna()
    invoices.loc[undated, "disputed"] = rng.random(undated.sum()) < 0.5
    rewrite_disputes(invoices, t, rng)
    new = invoices.sample(200, random_state=seed).copy()
    new["invoice_id"] = "NEW-" + new["invoice_id"]
    offset = pd.to_timedelta(rng.integers(0, 100, len(new)), unit="D")
    new["issue_date"] = t + offset
    new["due_date"] = new["issue_date"] + pd.Timedelta(days=30)
    new["paid_date"] = new["due_date"] + pd.to_timedelta(rng.integers(-10, 60, len(new)), unit="D")
    new["written_off_date"] = pd.NaT
    new["sales_channel"] = rng.choice(CHANNELS, len(new))
    new["dispute_date"] = new["issue_date"] + pd.Timedelta(days=5)
    new["dispute_resolved_date"] = pd.NaT
    invoices = pd.concat([invoices, new], ignore_index=True)

    # Customer values that took effect on or after t change, and so do their dates.
    customers = dataset.customers.copy()
    rated_later = pd.to_datetime(customers["rating_date"]) >= t
    customers.loc[rated_later, "rating"] = (
        rng.uniform(1, 10, rated_later.sum()).round(1).astype("str")
    )
    customers.loc[rated_later, "rating_date"] = (
        _days_after(t, rng, rated_later.sum(), 300).dt.strftime("%Y-%m-%d").to_numpy()
    )

    reminders = dataset.reminders.loc[dataset.reminders["sent_date"] < t]
    extra_reminders = pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"].sample(300, random_state=seed).to_numpy(),
            "sent_date": t + pd.to_timedelta(rng.integers(0, 90, 300), unit="D"),
            "channel": rng.choice(["email", "phone", "formal_notice"], 300),
            "step": pd.array(rng.integers(1, 5, 300), dtype="Int64"),
        }
    )
    payments = dataset.payments.loc[dataset.payments["payment_date"] < t]
    extra_payments = pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"].sample(300, random_state=seed + 1).to_numpy(),
            "payment_date": t + pd.to_timedelta(rng.integers(0, 90, 300), unit="D"),
            "amount": rng.uniform(1, 50, 300).round(2),
        }
    )
    # Promises whose date is t or later: other dates, and new ones.
    promises = dataset.promises.loc[dataset.promises["promised_date"] < t]
    extra_promises = pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"].sample(100, random_state=seed + 2).to_numpy(),
            "made_date": t + pd.to_timedelta(rng.integers(0, 30, 100), unit="D"),
            "promised_date": t + pd.to_timedelta(rng.integers(30, 60, 100), unit="D"),
            "amount": np.nan,
        }
    )
    return Dataset(
        invoices=invoices,
        payments=pd.concat([payments, extra_payments], ignore_index=True),
        customers=customers,
        reminders=pd.concat([reminders, extra_reminders], ignore_index=True),
        promises=pd.concat([promises, extra_promises], ignore_index=True),
    )


@pytest.mark.parametrize("months_before_end", [6, 14, 24])
def test_changing_the_future_leaves_features_at_t_unchanged(ledger, months_before_end):
    end = ledger.invoices["issue_date"].max() + pd.Timedelta(days=1)
    t = end - pd.DateOffset(months=months_before_end)
    changed = rewrite_the_future(ledger, t, seed=months_before_end)
    as_of = end + pd.Timedelta(days=400)  # far past every rewritten event

    before = features_at(ledger, t, end)
    after = features_at(changed, t, as_of)
    assert len(before) > 1000
    # The rewrite reaches the features this test guards: disputes and declared values vary.
    assert before["open_dispute"].sum() > 10 and before["customer_open_disputes"].sum() > 10
    assert before["rating"].notna().any() and before["rating"].isna().any()
    assert before["sales_channel"].nunique() == len(CHANNELS)
    pd.testing.assert_frame_equal(before, after.loc[before.index])


@pytest.mark.parametrize("leak", ["a day late", "disputes dated at issue", "ratings read back"])
def test_the_test_notices_a_leak(ledger, leak):
    """Guard for the test above: the same comparison fails when features may look at t itself,
    when undated dispute knowledge is read back to the issue date, or when a declared value is
    used before the day it took effect."""
    end = ledger.invoices["issue_date"].max() + pd.Timedelta(days=1)
    t = end - pd.DateOffset(months=6)
    original = Dataset(
        invoices=ledger.invoices.copy(),
        payments=ledger.payments,
        customers=ledger.customers.copy(),
        reminders=ledger.reminders,
    )
    changed = rewrite_the_future(original, t, seed=1)
    queries = snapshot_queries(original.invoices, t + pd.Timedelta(days=1), SnapshotSettings())
    if leak == "a day late":  # features of the snapshots dated t computed one day late see t
        queries = queries.loc[queries["snapshot_date"] == t].copy()
        assert len(queries) > 10
        queries["snapshot_date"] += pd.Timedelta(days=1)
    elif leak == "disputes dated at issue":
        for data in (original, changed):
            data.invoices["dispute_date"] = data.invoices["dispute_date"].where(
                data.invoices["dispute_date"].isna(), data.invoices["issue_date"]
            )
    else:
        for data in (original, changed):
            data.customers["rating_date"] = "1990-01-01"
    history_before = build_history(original, end, TARGETS, SETTINGS)
    history_after = build_history(changed, end + pd.Timedelta(days=400), TARGETS, SETTINGS)
    before = invoice_features(history_before, queries, FEATURES)
    after = invoice_features(history_after, queries, FEATURES)
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(before, after)
