"""The snapshot: saved and loaded exactly, refreshed without restart, bad files refused."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from payrisk.core.config import FeatureSettings, SnapshotSettings, TargetSettings
from payrisk.features.definitions import invoice_features
from payrisk.features.history import build_history
from payrisk.features.snapshot import SnapshotError, load_history, save_history
from payrisk.models.labels import snapshot_queries
from payrisk.serving.engine import SnapshotHolder


@pytest.fixture(scope="module")
def histories(sample_dataset):
    end = sample_dataset.invoices["issue_date"].max()
    build = lambda when: build_history(  # noqa: E731
        sample_dataset, when, TargetSettings(), FeatureSettings()
    ).compact()
    return build(end - pd.Timedelta(days=30)), build(end)


def test_a_saved_snapshot_gives_the_same_features(sample_dataset, histories, tmp_path):
    history = histories[1]
    save_history(history, tmp_path / "s.npz")
    loaded, header = load_history(tmp_path / "s.npz")
    assert header["as_of"] == history.as_of.date().isoformat()
    queries = snapshot_queries(
        sample_dataset.invoices, history.as_of + pd.Timedelta(days=60), SnapshotSettings()
    )
    queries = queries.loc[queries["snapshot_date"] >= history.as_of]
    assert len(queries) > 100
    pd.testing.assert_frame_equal(
        invoice_features(history, queries), invoice_features(loaded, queries)
    )


def test_a_new_snapshot_is_picked_up_and_a_bad_one_is_refused(histories, tmp_path):
    older, newer = histories
    path = tmp_path / "snapshot.npz"
    save_history(older, path)
    holder = SnapshotHolder(path)
    assert holder.as_of == older.as_of.date() and holder.problem is None

    save_history(newer, path)
    os.utime(path, (1e9, 2e9))  # a new modification time, whatever the clock resolution
    holder.refresh()
    assert holder.as_of == newer.as_of.date()

    path.write_bytes(b"this is not a snapshot")
    holder.refresh()
    assert holder.as_of == newer.as_of.date()  # the last good one stays
    assert "not a readable snapshot" in holder.problem

    with pytest.raises(SnapshotError):
        load_history(tmp_path / "missing.npz")


def test_snapshot_step_writes_the_portfolio_bundle(snapshot_file, trained):
    import json

    bundle = snapshot_file.with_name("portfolio")
    names = {p.name for p in bundle.iterdir()}
    assert names == {
        "invoices.parquet",
        "customers.parquet",
        "payments.parquet",
        "cash_forecast.parquet",
        "kpis.json",
    }
    kpis = json.loads((bundle / "kpis.json").read_text())
    invoices = pd.read_parquet(bundle / "invoices.parquet")
    assert kpis["open_invoices"] == len(invoices)
    assert kpis["model_version"] == trained.report["registry"]["version"]
    assert kpis["predicted_dso_days"] > 0
    assert [row["bucket"] for row in kpis["aged_balance"]] == [
        "not_due",
        "1-30",
        "31-60",
        "61-90",
        "over_90",
    ]
    assert invoices["reason_1"].str.len().gt(0).any()
