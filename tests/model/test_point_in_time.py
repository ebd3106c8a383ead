"""Point-in-time correctness: nothing dated at or after t changes a feature computed at t."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payrisk.core.config import FeatureSettings, SnapshotSettings, TargetSettings
from payrisk.data.loading import Dataset
from payrisk.features.definitions import invoice_features
from payrisk.features.history import build_history
from payrisk.models.labels import snapshot_queries

TARGETS = TargetSettings()
SETTINGS = FeatureSettings()


def features_at(dataset: Dataset, t: pd.Timestamp, as_of: pd.Timestamp) -> pd.DataFrame:
    """Features of every snapshot dated before t (each at its own date), from a history at as_of."""
    queries = snapshot_queries(dataset.invoices, t, SnapshotSettings())
    history = build_history(dataset, as_of, TARGETS, SETTINGS)
    return invoice_features(history, queries).set_index(
        queries["invoice_id"] + "@" + queries["snapshot_date"].astype("str")
    )


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
    # Whether an invoice was disputed is taken as known when it is settled: flip it for invoices
    # settled (paid or written off) on or after t.
    settled_after = invoices[["paid_date", "written_off_date"]].min(axis=1) >= t
    invoices.loc[settled_after, "disputed"] = rng.random(settled_after.sum()) < 0.5
    new = invoices.sample(200, random_state=seed).copy()
    new["invoice_id"] = "NEW-" + new["invoice_id"]
    offset = pd.to_timedelta(rng.integers(0, 100, len(new)), unit="D")
    new["issue_date"] = t + offset
    new["due_date"] = new["issue_date"] + pd.Timedelta(days=30)
    new["paid_date"] = new["due_date"] + pd.to_timedelta(rng.integers(-10, 60, len(new)), unit="D")
    new["written_off_date"] = pd.NaT
    invoices = pd.concat([invoices, new], ignore_index=True)

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
        customers=dataset.customers,
        reminders=pd.concat([reminders, extra_reminders], ignore_index=True),
        promises=pd.concat([promises, extra_promises], ignore_index=True),
    )


@pytest.mark.parametrize("months_before_end", [6, 14, 24])
def test_changing_the_future_leaves_features_at_t_unchanged(sample_dataset, months_before_end):
    end = sample_dataset.invoices["issue_date"].max() + pd.Timedelta(days=1)
    t = end - pd.DateOffset(months=months_before_end)
    changed = rewrite_the_future(sample_dataset, t, seed=months_before_end)
    as_of = end + pd.Timedelta(days=400)  # far past every rewritten event

    before = features_at(sample_dataset, t, end)
    after = features_at(changed, t, as_of)
    assert len(before) > 1000
    pd.testing.assert_frame_equal(before, after.loc[before.index])


def test_the_test_notices_a_leak(sample_dataset):
    """Guard for the test above: the same comparison fails when features may look at t itself."""
    end = sample_dataset.invoices["issue_date"].max() + pd.Timedelta(days=1)
    t = end - pd.DateOffset(months=6)
    changed = rewrite_the_future(sample_dataset, t, seed=1)
    # A feature computed one day late would see events dated t.
    shifted_queries = snapshot_queries(sample_dataset.invoices, t, SnapshotSettings())
    shifted_queries["snapshot_date"] += pd.Timedelta(days=30)
    history_before = build_history(sample_dataset, end, TARGETS, SETTINGS)
    history_after = build_history(changed, end + pd.Timedelta(days=400), TARGETS, SETTINGS)
    late = shifted_queries["snapshot_date"] > t
    before = invoice_features(history_before, shifted_queries.loc[late])
    after = invoice_features(history_after, shifted_queries.loc[late])
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(before, after)
